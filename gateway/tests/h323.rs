//! H.323 against a real `tessera serve`: the project's H.323 test caller (`h323::caller`, on the
//! same ASN.1 types) connects to `--h323-listen` over loopback TCP and places calls; garbage on
//! the port ends only its own connection; refusals end with Release Complete and the Q.850 cause
//! that says why.

// A real server on the wall clock: deadlines bound the waits for its answers.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Child;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Chunked, Launched};
use h323::call::LocalMedia;
use h323::caller::{Caller, CallerConfig, CallerEvent};
use h323::h225::{AliasAddress, ReleaseCompleteReason};
use h323::q931::cause;

const TOKEN: &str = "h323-test-admin-token";
const PATIENCE: Duration = Duration::from_secs(60);
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
        common::start_with_retries(Server::try_start)
    }

    fn try_start() -> Result<Server, String> {
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
        command.arg("--demo");
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
