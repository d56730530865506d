//! H.323 against a real `tessera serve`: the project's H.323 test caller (`h323::caller`, on the
//! same ASN.1 types) connects to `--h323-listen` over loopback TCP and places calls; garbage on
//! the port ends only its own connection; refusals end with Release Complete and the Q.850 cause
//! that says why. Gatekeeper registration against a minimal gatekeeper written here on the
//! crate's RAS types, with what the gateway sent dissected by tshark.

// A real server on the wall clock: deadlines bound the waits for its answers.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Chunked, Launched};
use h323::call::LocalMedia;
use h323::caller::{Caller, CallerConfig, CallerEvent};
use h323::h225::{
    decode_ras, encode_ras, AliasAddress, EndpointIdentifier, RasMessage, RegistrationConfirm,
    RegistrationRequest, ReleaseCompleteReason, UnregistrationConfirm,
};
use h323::q931::cause;
use h323::testing::{assert_dissection, tshark, Transport};

const TOKEN: &str = "h323-test-admin-token";
const PATIENCE: Duration = Duration::from_secs(60);
/// The time to live the test gatekeeper grants: short, so a keep-alive comes within the test.
const GATEKEEPER_TTL: u32 = 4;
/// A second tenant with no endpoint licences: any call to it is over licence.
const NO_LICENCE_TENANT: &str = "87654321";

struct Server {
    child: Mutex<Option<Child>>,
    http: SocketAddr,
    h323: SocketAddr,
    dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        Server::start_with(&[])
    }

    /// A server with these extra `serve` arguments.
    fn start_with(extra: &[String]) -> Server {
        common::start_with_retries(|| Server::try_start(extra))
    }

    fn try_start(extra: &[String]) -> Result<Server, String> {
        let (dir, db) = common::prepare_db(&[&[
            "tenant",
            "add",
            "--key",
            NO_LICENCE_TENANT,
            "--name",
            "No licences",
            "--endpoint-licenses",
            "0",
        ]]);
        let sip = SocketAddr::from(([127, 0, 0, 1], common::free_sip_port()));
        let http = SocketAddr::from(([127, 0, 0, 1], common::free_tcp_port()));
        let h323 = SocketAddr::from(([127, 0, 0, 1], common::free_tcp_port()));
        let rtp = common::rtp_ports(44_000, 20);
        let mut command = common::serve_command_with_h323(&db, TOKEN, sip, http, &rtp, h323);
        command.arg("--demo").args(extra);
        let child = common::spawn_logged(&mut command, dir.path());
        let server = Server {
            child: Mutex::new(Some(child)),
            http,
            h323,
            dir,
        };
        common::wait_until_healthy(server, PATIENCE)
    }

    fn log_tail(&self) -> String {
        common::tail(&common::read_log(self.dir.path()), 40)
    }

    /// SIGTERM, and the exit status after the drain (bounded wait; SIGKILL and panic beyond).
    fn terminate(&self) -> ExitStatus {
        let child = self.child.lock().unwrap().take().expect("server running");
        common::terminate(child, PATIENCE, || self.log_tail())
    }

    fn metrics(&self) -> String {
        common::http_request(self.http, "GET", "/metrics", Some(TOKEN), Chunked::Decode)
            .unwrap()
            .1
    }
}

impl Launched for Server {
    fn is_running(&mut self) -> bool {
        common::child_running(self.child.lock().unwrap().as_mut())
    }

    fn is_healthy(&self) -> bool {
        matches!(
            common::http_request(self.http, "GET", "/healthz", None, Chunked::Decode),
            Ok((200, _))
        )
    }

    fn start_log(&self) -> String {
        common::read_log(self.dir.path())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        common::kill_child(self.child.lock().unwrap().take());
    }
}

/// Places one call to `alias` with Fast Start and tunnelling and returns how it was released
/// (bounded wait).
fn call(server: &Server, alias: AliasAddress) -> (Option<ReleaseCompleteReason>, Option<u8>) {
    let local = LocalMedia {
        audio: ([127, 0, 0, 1], 40_000).into(),
        video: ([127, 0, 0, 1], 40_002).into(),
    };
    let mut caller = Caller::new(CallerConfig {
        destination: vec![alias],
        local,
        fast_start: true,
        tunnelling: true,
    })
    .unwrap();
    let mut stream = TcpStream::connect(server.h323).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    loop {
        while let Some(bytes) = caller.poll_transmit() {
            stream.write_all(&bytes).unwrap();
        }
        while let Some(event) = caller.poll_event() {
            if let CallerEvent::Released(reason, cause) = event {
                return (reason, cause);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no Release Complete within 20 s; log:\n{}",
            server.log_tail()
        );
        match stream.read(&mut buf) {
            Ok(0) => panic!(
                "the gateway closed the connection without Release Complete; log:\n{}",
                server.log_tail()
            ),
            Ok(n) => caller.handle_input(&buf[..n]).unwrap(),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("reading from the gateway: {e}"),
        }
    }
}

/// Whether the gateway closes `stream` within 10 s (reads until end of stream or a reset).
fn closed_by_gateway(mut stream: TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn garbage_on_the_h323_port_ends_only_its_connection_and_the_next_call_is_answered() {
    let server = Server::start();
    // Not TPKT at all (an HTTP request on the wrong port), then a TPKT header with a length
    // shorter than the header itself.
    for garbage in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &[3, 0, 0, 2, 0xff, 0xff][..],
    ] {
        let mut stream = TcpStream::connect(server.h323).unwrap();
        stream.write_all(garbage).unwrap();
        assert!(
            closed_by_gateway(stream),
            "the gateway kept a connection that sent {garbage:?}"
        );
    }
    let (reason, q850) = call(
        &server,
        AliasAddress::h323_id("12345678.999999999").unwrap(),
    );
    assert_eq!(q850, Some(cause::UNALLOCATED_NUMBER));
    assert_eq!(
        reason,
        Some(ReleaseCompleteReason::UnreachableDestination(()))
    );
}

#[test]
fn an_unknown_meeting_and_an_over_licence_call_end_with_release_complete_and_their_cause() {
    let server = Server::start();
    let (reason, q850) = call(
        &server,
        AliasAddress::dialled_digits("12345678999999999").unwrap(),
    );
    assert_eq!(
        (reason, q850),
        (
            Some(ReleaseCompleteReason::UnreachableDestination(())),
            Some(cause::UNALLOCATED_NUMBER)
        ),
        "unknown meeting"
    );
    let (reason, q850) = call(&server, AliasAddress::h323_id(NO_LICENCE_TENANT).unwrap());
    assert_eq!(
        (reason, q850),
        (
            Some(ReleaseCompleteReason::InConf(())),
            Some(cause::USER_BUSY)
        ),
        "over licence"
    );
    let metrics = server.metrics();
    for sample in [
        "tessera_calls_refused_total{reason=\"not-found\",tenant=\"-\"} 1",
        "tessera_calls_refused_total{reason=\"licence\",tenant=\"87654321\"} 1",
    ] {
        assert!(metrics.contains(sample), "no {sample} in\n{metrics}");
    }
}

/// One RAS datagram the test gatekeeper received.
struct Received {
    at: Instant,
    message: RasMessage,
    octets: Vec<u8>,
}

/// A minimal gatekeeper on the crate's RAS types: RCF (time to live [`GATEKEEPER_TTL`]) to
/// every RRQ, UCF to every URQ, and a record of what arrived. Runs until `stop` is set.
fn run_gatekeeper(socket: &UdpSocket, stop: &AtomicBool, received: &Mutex<Vec<Received>>) {
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let octets = buf[..n].to_vec();
        let message = decode_ras(&octets)
            .unwrap_or_else(|e| panic!("the gateway sent an undecodable RAS datagram: {e}"));
        let answer = match &message {
            RasMessage::RegistrationRequest(rrq) => Some(RasMessage::RegistrationConfirm(
                Box::new(RegistrationConfirm::new(
                    rrq.request_seq_num,
                    rrq.call_signal_address.clone(),
                    EndpointIdentifier::new("tessera-ep-1").unwrap(),
                    Some(GATEKEEPER_TTL),
                )),
            )),
            RasMessage::UnregistrationRequest(urq) => Some(RasMessage::UnregistrationConfirm(
                UnregistrationConfirm::new(urq.request_seq_num),
            )),
            _ => None,
        };
        if let Some(answer) = answer {
            socket.send_to(&encode_ras(&answer).unwrap(), from).unwrap();
        }
        received.lock().unwrap().push(Received {
            at: Instant::now(),
            message,
            octets,
        });
    }
}

fn rrqs(received: &[Received]) -> Vec<(Instant, &RegistrationRequest)> {
    received
        .iter()
        .filter_map(|r| match &r.message {
            RasMessage::RegistrationRequest(q) => Some((r.at, &**q)),
            _ => None,
        })
        .collect()
}

/// Waits (bounded) until `done` holds for what the gatekeeper received.
fn wait_for_gatekeeper(
    server: &Server,
    received: &Mutex<Vec<Received>>,
    what: &str,
    done: impl Fn(&[Received]) -> bool,
) {
    let deadline = Instant::now() + PATIENCE;
    while !done(&received.lock().unwrap()) {
        assert!(
            Instant::now() < deadline,
            "the gatekeeper never saw {what}; log:\n{}",
            server.log_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_gateway_registers_with_a_gatekeeper_keeps_it_alive_and_unregisters_on_sigterm() {
    let socket = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
    let gatekeeper = socket.local_addr().unwrap();
    let stop = AtomicBool::new(false);
    let received = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        scope.spawn(|| run_gatekeeper(&socket, &stop, &received));
        let server = Server::start_with(
            &[
                "--h323-gatekeeper",
                &gatekeeper.to_string(),
                "--h323-gatekeeper-alias",
                "tessera-test",
                "--h323-gatekeeper-alias",
                "6100",
                "--h323-gatekeeper-prefix",
                "61",
                "--h323-gatekeeper-ttl-secs",
                "60",
            ]
            .map(str::to_owned),
        );
        wait_for_gatekeeper(&server, &received, "a full RRQ and a keep-alive", |r| {
            rrqs(r).iter().any(|(_, q)| q.keep_alive == Some(true))
        });
        {
            let received = received.lock().unwrap();
            let rrqs = rrqs(&received);
            let (registered_at, full) = rrqs[0];
            assert_eq!(full.keep_alive, Some(false));
            assert_eq!(full.time_to_live, Some(60), "the time to live asked for");
            assert_eq!(
                full.terminal_alias,
                Some(vec![
                    AliasAddress::h323_id("tessera-test").unwrap(),
                    AliasAddress::dialled_digits("6100").unwrap()
                ])
            );
            assert_eq!(full.call_signal_address[0].to_socket(), Some(server.h323));
            let (kept_alive_at, keep_alive) = rrqs
                .iter()
                .find(|(_, q)| q.keep_alive == Some(true))
                .unwrap();
            assert_eq!(
                keep_alive.endpoint_identifier.as_ref().map(|e| e.text()),
                Some("tessera-ep-1".into())
            );
            assert_eq!(
                keep_alive.time_to_live,
                Some(GATEKEEPER_TTL),
                "the granted TTL"
            );
            assert_eq!(keep_alive.terminal_alias, None, "a lightweight RRQ");
            let gap = kept_alive_at.duration_since(registered_at);
            assert!(
                gap < Duration::from_secs(GATEKEEPER_TTL.into()) && gap >= Duration::from_secs(1),
                "keep-alive {gap:?} after registering, with a {GATEKEEPER_TTL} s time to live"
            );
        }
        let metrics = server.metrics();
        assert!(
            metrics.contains("tessera_h323_gatekeeper_registered 1"),
            "{metrics}"
        );

        let status = server.terminate();
        assert!(
            status.success(),
            "exit {status}; log:\n{}",
            server.log_tail()
        );
        stop.store(true, Ordering::SeqCst);
    });
    let received = received.into_inner().unwrap();
    let urq = received
        .iter()
        .find_map(|r| match &r.message {
            RasMessage::UnregistrationRequest(urq) => Some(urq),
            _ => None,
        })
        .expect("no URQ on SIGTERM");
    assert_eq!(
        urq.endpoint_identifier.as_ref().map(|e| e.text()),
        Some("tessera-ep-1".into())
    );

    // What the gateway sent, through Wireshark's H.225.0 RAS dissector (UDP port 1719).
    let datagrams: Vec<Vec<u8>> = received.iter().map(|r| r.octets.clone()).collect();
    let text = tshark(&datagrams, Transport::Udp(1719), &[]);
    assert_dissection(
        "RAS",
        &text,
        &[
            "RasMessage: registrationRequest",
            "RasMessage: unregistrationRequest",
            "h323-ID: tessera-test",
            "dialledDigits: 6100",
            "dialledDigits: 61",
            "keepAlive: False",
            "keepAlive: True",
            "timeToLive: 60",
            &format!("timeToLive: {GATEKEEPER_TTL}"),
            "endpointIdentifier: tessera-ep-1",
            &format!("port: {}", server_port_of(&received)),
        ],
    );
    assert_eq!(
        text.matches("RasMessage:").count(),
        datagrams.len(),
        "{text}"
    );
    eprintln!(
        "tshark dissected {} RAS datagrams from the gateway cleanly",
        datagrams.len()
    );
}

/// The call signalling port the gateway registered.
fn server_port_of(received: &[Received]) -> u16 {
    rrqs(received)[0].1.call_signal_address[0]
        .to_socket()
        .unwrap()
        .port()
}
