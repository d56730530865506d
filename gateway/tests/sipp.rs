//! `tessera serve` end to end: a real server on loopback (temporary SQLite file, `--demo`, a fixed
//! admin token, free ports), real SIPp calls from the scenarios in `loadtests/sipp/`, and the admin
//! API over plain HTTP/1.1. Each test asserts SIPp's exit status (0: every expected response came)
//! and, where the behaviour lives in the gateway's state, what the API shows while the call is up.
//!
//! The call tests share one server (started by the first test that needs it, SIGTERMed when the
//! last one using it finishes, and required to exit 0: the drain). Two tests start their own: the
//! CANCEL test needs `--ring-time-ms`, and the garbage test measures the server's memory.
//!
//! SIPp (Debian package `sip-tester`) must be on PATH; `bash .ci/test.sh` installs it. Without it
//! these tests fail, they never pass silently. Timeouts are generous and nothing asserts speed:
//! the tests must hold on a loaded two-core machine.

// Real processes on the wall clock: this file waits and polls, which the sans-IO crates may not.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{free_media_ports, free_sip_port, tail, Chunked, Launched};
use serde_json::Value;

/// The admin token every test server runs with.
const TOKEN: &str = "sipp-test-token-0123456789";
/// The demo tenant and meeting (`tessera serve --demo`).
const TENANT: &str = "12345678";
const DEMO_MEETING: &str = "1177958860";
/// Meetings the shared server's database gets before it starts (who can bypass: trusted-orgs, so
/// an untrusted room system waits in the lobby). One per lobby test, so they can run in parallel.
const LOBBY_ADMIT_MEETING: &str = "2000000";
const LOBBY_DENY_MEETING: &str = "2000001";

/// How long anything may take before a test gives up: generous, for a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);
/// SIPp's own bound on one run (`-timeout`), and how long we wait for it beyond that.
const SIPP_TIMEOUT: &str = "30s";
const SIPP_WAIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The server

/// A running `tessera serve` with its temporary directory (database, token, log).
struct Server {
    child: Mutex<Option<Child>>,
    pid: u32,
    sip: SocketAddr,
    http: SocketAddr,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server with the demo, the lobby meetings and `extra` flags, and waits (bounded)
    /// until `/healthz` answers 200. Retries with new ports if one was taken in the meantime.
    fn start(extra: &[&str]) -> Server {
        common::start_with_retries(|| Server::try_start(extra))
    }

    fn try_start(extra: &[&str]) -> Result<Server, String> {
        let lobby_meeting = |conference| {
            [
                "meeting",
                "add",
                "--tenant",
                TENANT,
                "--conference-id",
                conference,
                "--who-can-bypass",
                "trusted-orgs",
            ]
        };
        let (dir, db) = common::prepare_db(&[
            &lobby_meeting(LOBBY_ADMIT_MEETING),
            &lobby_meeting(LOBBY_DENY_MEETING),
        ]);
        let sip = SocketAddr::from(([127, 0, 0, 1], free_sip_port()));
        let http = SocketAddr::from(([127, 0, 0, 1], common::free_tcp_port()));
        let rtp = common::rtp_ports(40_000, 100);
        let mut command = common::serve_command(&db, TOKEN, sip, http, &rtp);
        command
            .args(["--demo", "--drain-grace-secs", "2"])
            .args(extra);
        let child = common::spawn_logged(&mut command, dir.path());
        let server = Server {
            pid: child.id(),
            child: Mutex::new(Some(child)),
            sip,
            http,
            dir,
        };
        common::wait_until_healthy(server, PATIENCE)
    }

    fn child(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_running(&self) -> bool {
        common::child_running(self.child().as_mut())
    }

    /// The server's log so far.
    fn log(&self) -> String {
        common::read_log(self.dir.path())
    }

    /// Its last lines, for failure messages.
    fn log_tail(&self) -> String {
        tail(&self.log(), 60)
    }

    /// Sends SIGTERM and returns the exit status (bounded wait; SIGKILL and panic beyond it).
    fn terminate(&self) -> ExitStatus {
        let Some(child) = self.child().take() else {
            panic!("the server was already stopped");
        };
        common::terminate(child, PATIENCE, || self.log_tail())
    }

    /// SIGTERM, and the drain must end in exit status 0.
    fn stop_and_expect_clean_exit(&self) {
        let status = self.terminate();
        assert!(
            status.success(),
            "after SIGTERM the server exited with {status}, not 0; log:\n{}",
            self.log_tail()
        );
    }

    fn kill(&self) {
        common::kill_child(self.child().take());
    }

    /// The server's resident memory, in KiB (`VmRSS` of /proc/<pid>/status).
    fn rss_kib(&self) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("no VmRSS in /proc/<pid>/status")
    }

    fn try_get(&self, path: &str, token: Option<&str>) -> std::io::Result<(u16, String)> {
        common::http_request(self.http, "GET", path, token, Chunked::Decode)
    }

    /// An admin API request with the bearer token; panics on I/O errors.
    fn api(&self, method: &str, path: &str) -> (u16, String) {
        common::http_request(self.http, method, path, Some(TOKEN), Chunked::Decode).unwrap_or_else(
            |e| {
                panic!(
                    "{method} {path} failed: {e}; server log:\n{}",
                    self.log_tail()
                )
            },
        )
    }

    /// GET /api/v1/meetings/{tenant}/{conference}, which must answer 200.
    fn meeting(&self, conference: &str) -> Value {
        let (status, body) = self.api("GET", &format!("/api/v1/meetings/{TENANT}/{conference}"));
        assert_eq!(status, 200, "meeting view: {body}");
        serde_json::from_str(&body).unwrap()
    }

    fn assert_healthy(&self) {
        assert!(
            self.is_running(),
            "the server died; log:\n{}",
            self.log_tail()
        );
        let health = self.try_get("/healthz", None);
        assert!(
            matches!(health, Ok((200, _))),
            "/healthz: {health:?}; log:\n{}",
            self.log_tail()
        );
    }
}

impl Launched for Server {
    fn is_running(&mut self) -> bool {
        Server::is_running(self)
    }

    fn is_healthy(&self) -> bool {
        matches!(self.try_get("/healthz", None), Ok((200, _)))
    }

    fn start_log(&self) -> String {
        self.log()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A test that panicked must not leave its server behind.
        self.kill();
    }
}

/// The server the call tests share: started on first use, SIGTERMed (and checked for exit 0)
/// when the last test using it finishes.
struct Shared {
    server: Option<Arc<Server>>,
    users: usize,
}

static SHARED: Mutex<Shared> = Mutex::new(Shared {
    server: None,
    users: 0,
});

fn shared_state() -> MutexGuard<'static, Shared> {
    SHARED.lock().unwrap_or_else(|e| e.into_inner())
}

/// A test's use of the shared server.
struct Lease {
    server: Arc<Server>,
    finished: bool,
}

impl Lease {
    fn acquire() -> Lease {
        require_sipp();
        let mut shared = shared_state();
        let server = shared
            .server
            .get_or_insert_with(|| Arc::new(Server::start(&[])))
            .clone();
        shared.users += 1;
        Lease {
            server,
            finished: false,
        }
    }

    /// Ends this test's use; the last user stops the server and requires a clean exit.
    fn finish(mut self) {
        self.finished = true;
        if let Some(server) = release() {
            server.stop_and_expect_clean_exit();
        }
    }
}

/// Drops one user; returns the server when that was the last one.
fn release() -> Option<Arc<Server>> {
    let mut shared = shared_state();
    shared.users -= 1;
    if shared.users == 0 {
        shared.server.take()
    } else {
        None
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.finished {
            // The test failed: stop the server if nobody else needs it, without judging its exit.
            if let Some(server) = release() {
                server.kill();
            }
        }
    }
}

impl std::ops::Deref for Lease {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

// ---------------------------------------------------------------------------------------------
// SIPp

/// Fails (never skips) when SIPp is missing.
fn require_sipp() {
    let found = Command::new("sipp")
        .arg("-v")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "`sipp` is not on PATH. These end-to-end tests need SIPp (Debian package sip-tester): \
         run the README's test command, `bash .ci/test.sh`, which installs it \
         (or `sudo apt-get install sip-tester`)."
    );
}

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../loadtests/sipp")
}

/// One SIPp run of a scenario against a server.
struct Sipp {
    scenario: &'static str,
    service: String,
    dial_host: Option<String>,
    caller: String,
    tcp: bool,
    /// `(calls, calls per second, hold in ms)` for a batch (`-m`, `-r`, `-d`); one call if unset.
    batch: Option<(u32, u32, u32)>,
}

impl Sipp {
    /// `scenario` (a file in loadtests/sipp) dialling `service`; `caller` is the From display
    /// name, which the roster shows.
    fn new(scenario: &'static str, service: &str, caller: &str) -> Sipp {
        Sipp {
            scenario,
            service: service.to_owned(),
            dial_host: None,
            caller: caller.to_owned(),
            tcp: false,
            batch: None,
        }
    }

    /// `calls` calls at `rate` per second, each up for `hold_ms` (scenarios with a bare
    /// `<pause/>`, like `short_call.xml`).
    fn batch(mut self, calls: u32, rate: u32, hold_ms: u32) -> Sipp {
        self.batch = Some((calls, rate, hold_ms));
        self
    }

    /// The Request-URI host (default: the server's address).
    fn dial_host(mut self, host: &str) -> Sipp {
        self.dial_host = Some(host.to_owned());
        self
    }

    /// Over one TCP connection (`-t t1`) instead of UDP.
    fn tcp(mut self) -> Sipp {
        self.tcp = true;
        self
    }

    /// Starts SIPp (logs into a temporary directory, not the repository).
    fn spawn(self, server: &Server) -> Running {
        require_sipp();
        let dir = tempfile::tempdir().unwrap();
        let scenario = scenario_dir().join(self.scenario);
        assert!(
            scenario.is_file(),
            "missing scenario {}",
            scenario.display()
        );
        let sip_port = free_sip_port();
        let media_port = free_media_ports();
        let dial_host = self.dial_host.unwrap_or_else(|| server.sip.to_string());
        let screen = fs::File::create(dir.path().join("screen.log")).unwrap();
        let mut cmd = Command::new("sipp");
        cmd.current_dir(dir.path())
            .arg("-sf")
            .arg(&scenario)
            .args(["-s", &self.service])
            .args(["-key", "dial_host", &dial_host])
            .args(["-key", "caller", &self.caller])
            .arg(server.sip.to_string())
            .args(["-i", "127.0.0.1"])
            .args(["-p", &sip_port.to_string()])
            .args(["-mp", &media_port.to_string()])
            .args(["-timeout", SIPP_TIMEOUT, "-timeout_error"])
            .arg("-trace_err")
            .arg("-error_file")
            .arg(dir.path().join("errors.log"))
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(dir.path().join("messages.log"))
            .arg("-nostdin");
        if self.tcp {
            cmd.args(["-t", "t1"]);
        }
        match self.batch {
            Some((calls, rate, hold_ms)) => cmd
                .args(["-m", &calls.to_string(), "-r", &rate.to_string()])
                .args(["-d", &hold_ms.to_string()]),
            None => cmd.args(["-m", "1"]),
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(screen.try_clone().unwrap())
            .stderr(screen)
            .spawn()
            .expect("cannot run sipp");
        Running {
            child: Some(child),
            dir,
            what: format!("{} dialling {}", self.scenario, self.service),
            started: Instant::now(),
        }
    }

    /// Runs to the end and asserts SIPp's exit status 0.
    fn run(self, server: &Server) -> Duration {
        self.spawn(server).expect_success(server)
    }
}

/// A SIPp run in progress.
struct Running {
    child: Option<Child>,
    dir: tempfile::TempDir,
    what: String,
    started: Instant,
}

impl Running {
    fn is_running(&mut self) -> bool {
        common::child_running(self.child.as_mut())
    }

    /// Waits (bounded) and asserts exit status 0, printing SIPp's logs and the server's if not.
    fn expect_success(mut self, server: &Server) -> Duration {
        let mut child = self.child.take().unwrap();
        let deadline = self.started + SIPP_WAIT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            sleep(Duration::from_millis(50));
        };
        let took = self.started.elapsed();
        if status.is_some_and(|s| s.success()) {
            eprintln!("sipp {}: passed in {took:.1?}", self.what);
            return took;
        }
        panic!(
            "sipp {} {}\n--- SIPp errors ---\n{}\n--- SIPp messages (tail) ---\n{}\n\
             --- SIPp screen (tail) ---\n{}\n--- server log (tail) ---\n{}",
            self.what,
            match status {
                Some(s) => format!("exited with {s}"),
                None => format!("still running after {SIPP_WAIT:?}; killed"),
            },
            self.read("errors.log"),
            tail(&self.read("messages.log"), 80),
            tail(&self.read("screen.log"), 30),
            server.log_tail(),
        );
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.dir.path().join(name)).unwrap_or_else(|_| "(none)".into())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        common::kill_child(self.child.take());
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers: polling

/// Polls `check` every 100 ms until it returns something, while `sipp` is still running.
fn poll_while_running<T>(
    sipp: &mut Running,
    server: &Server,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(
            sipp.is_running(),
            "{what}: SIPp ended before it happened; SIPp errors:\n{}\nserver log:\n{}",
            sipp.read("errors.log"),
            server.log_tail()
        );
        assert!(
            Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}; server log:\n{}",
            server.log_tail()
        );
        sleep(Duration::from_millis(100));
    }
}

/// The entry of `list` ("participants" or "lobby") whose display name is `name`.
fn entry<'a>(view: &'a Value, list: &str, name: &str) -> Option<&'a Value> {
    view[list]
        .as_array()?
        .iter()
        .find(|e| e["display_name"] == name)
}

// ---------------------------------------------------------------------------------------------
// Calls

#[test]
fn direct_dial_both_orders_over_udp() {
    let server = Lease::acquire();
    Sipp::new("direct_call.xml", "12345678.1177958860", "direct-key-first").run(&server);
    Sipp::new("direct_call.xml", "1177958860.12345678", "direct-id-first").run(&server);
    server.finish();
}

#[test]
fn tenant_hostname_in_the_request_uri_reaches_the_meeting() {
    let server = Lease::acquire();
    // Request-URI sip:1177958860@video.acme.example, sent to the gateway's address.
    Sipp::new("direct_call.xml", DEMO_MEETING, "domain-dial")
        .dial_host("video.acme.example")
        .run(&server);
    server.finish();
}

#[test]
fn dial_prefix_reaches_the_meeting() {
    let server = Lease::acquire();
    Sipp::new("direct_call.xml", "61177958860", "prefix-dial").run(&server);
    server.finish();
}

#[test]
fn unknown_conference_is_refused_with_404_and_a_reason() {
    let server = Lease::acquire();
    Sipp::new(
        "unknown_conference.xml",
        "12345678.5555555555",
        "unknown-meeting",
    )
    .run(&server);
    server.finish();
}

#[test]
fn offer_without_a_common_codec_is_refused_with_488() {
    let server = Lease::acquire();
    Sipp::new("no_common_codec.xml", "12345678.1177958860", "g729-only").run(&server);
    server.finish();
}

#[test]
fn calls_over_tcp() {
    let server = Lease::acquire();
    Sipp::new("direct_call.xml", "12345678.1177958860", "tcp-caller")
        .tcp()
        .run(&server);
    Sipp::new(
        "unknown_conference.xml",
        "12345678.5555555555",
        "tcp-unknown",
    )
    .tcp()
    .run(&server);
    server.finish();
}

#[test]
fn entry_queue_collects_id_by_sip_info() {
    let server = Lease::acquire();
    let caller = "entry-queue-info";
    let mut sipp = Sipp::new("entry_queue_info.xml", TENANT, caller).spawn(&server);
    let joined = poll_while_running(&mut sipp, &server, "caller in meeting 1177958860", || {
        entry(&server.meeting(DEMO_MEETING), "participants", caller).cloned()
    });
    assert_eq!(joined["protocol"], "sip", "{joined}");
    assert_eq!(joined["class"], "untrusted-vtc", "{joined}");
    sipp.expect_success(&server);
    server.finish();
}

#[test]
fn lobby_caller_is_admitted_through_the_api() {
    let server = Lease::acquire();
    let caller = "lobby-admitted";
    let mut sipp = Sipp::new(
        "lobby_wait.xml",
        &format!("{TENANT}.{LOBBY_ADMIT_MEETING}"),
        caller,
    )
    .spawn(&server);
    let waiting = poll_while_running(&mut sipp, &server, "caller in the lobby", || {
        entry(&server.meeting(LOBBY_ADMIT_MEETING), "lobby", caller).cloned()
    });
    assert!(
        entry(&server.meeting(LOBBY_ADMIT_MEETING), "participants", caller).is_none(),
        "a caller in the lobby must not be a participant yet"
    );
    let id = waiting["id"].as_str().unwrap();
    let (status, body) = server.api(
        "POST",
        &format!("/api/v1/meetings/{TENANT}/{LOBBY_ADMIT_MEETING}/lobby/{id}/admit"),
    );
    assert_eq!(status, 204, "admit: {body}");
    let view = server.meeting(LOBBY_ADMIT_MEETING);
    let admitted = entry(&view, "participants", caller)
        .unwrap_or_else(|| panic!("not a participant after admit: {view}"));
    assert_eq!(admitted["id"], id);
    assert_eq!(admitted["protocol"], "sip");
    assert!(entry(&view, "lobby", caller).is_none(), "{view}");
    // The call stays up (the scenario hangs up itself, with BYE answered 200).
    sipp.expect_success(&server);
    server.finish();
}

#[test]
fn lobby_caller_denied_through_the_api_gets_bye_with_reason_403() {
    let server = Lease::acquire();
    let caller = "lobby-denied";
    // The scenario expects a BYE whose Reason header carries cause=403, and answers it.
    let mut sipp = Sipp::new(
        "lobby_denied.xml",
        &format!("{TENANT}.{LOBBY_DENY_MEETING}"),
        caller,
    )
    .spawn(&server);
    let waiting = poll_while_running(&mut sipp, &server, "caller in the lobby", || {
        entry(&server.meeting(LOBBY_DENY_MEETING), "lobby", caller).cloned()
    });
    let id = waiting["id"].as_str().unwrap();
    let (status, body) = server.api(
        "POST",
        &format!("/api/v1/meetings/{TENANT}/{LOBBY_DENY_MEETING}/lobby/{id}/deny"),
    );
    assert_eq!(status, 204, "deny: {body}");
    sipp.expect_success(&server);
    let view = server.meeting(LOBBY_DENY_MEETING);
    assert!(
        entry(&view, "lobby", caller).is_none() && entry(&view, "participants", caller).is_none(),
        "a denied caller is gone: {view}"
    );
    server.finish();
}

#[test]
fn unsupported_uri_scheme_is_refused_with_416() {
    let server = Lease::acquire();
    Sipp::new(
        "unsupported_scheme.xml",
        "12345678.1177958860",
        "xmpp-caller",
    )
    .run(&server);
    server.finish();
}

#[test]
fn session_timer_is_negotiated_refreshed_both_ways_and_a_missed_refresh_hangs_up() {
    require_sipp();
    // Its own server, whose Min-SE allows the scenario's 4 s interval (RFC 4028 wants at least
    // 90 s on the wire; the gateway takes less for tests), so the refreshes come in seconds.
    let server = Server::start(&["--min-se-secs", "2"]);
    let took = Sipp::new("session_timer.xml", "12345678.1177958860", "session-timer").run(&server);
    // Refresh at 2 s, ours 1 s later, then BYE 4 s less a third after it: about 5.7 s in all.
    assert!(
        took >= Duration::from_secs(5),
        "the gateway hung up after {took:?}, before the session could expire"
    );
    assert!(
        server.log().contains("session timer expired"),
        "{}",
        server.log_tail()
    );
    server.stop_and_expect_clean_exit();
}

/// A BYE whose request line is `line`, with headers a 400 can be built from.
fn broken_bye(line: &str, transport: &str, call_id: &str) -> Vec<u8> {
    format!(
        "{line}\r\nVia: SIP/2.0/{transport} 127.0.0.1:9;branch=z9hG4bK{call_id};rport\r\n\
         From: <sip:broken@127.0.0.1>;tag=b1\r\nTo: <sip:12345678.1177958860@127.0.0.1>;tag=b2\r\n\
         Call-ID: {call_id}\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn broken_request_lines_get_400_with_the_reason_over_udp_and_tcp() {
    let server = Lease::acquire();
    let expected = "SIP/2.0 400 Bad Request - Bad Request-URI\r\n";
    // UDP: the answer goes back to the source port (rport).
    let reply = udp_exchange(&server, &broken_bye("BYE  SIP/2.0", "UDP", "broken-udp"));
    assert!(
        reply
            .as_ref()
            .is_ok_and(|r| r.starts_with(expected) && r.contains("Call-ID: broken-udp")),
        "UDP: {reply:?}; server log:\n{}",
        server.log_tail()
    );
    // TCP: on the same connection, which stays usable.
    let mut tcp = TcpStream::connect(server.sip).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    for call_id in ["broken-tcp-1", "broken-tcp-2"] {
        tcp.write_all(&broken_bye("BYE  SIP/2.0", "TCP", call_id))
            .unwrap();
        let mut reply = Vec::new();
        while !reply.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            match tcp.read(&mut byte) {
                Ok(1) => reply.push(byte[0]),
                other => panic!(
                    "TCP: {other:?} after {:?}; server log:\n{}",
                    String::from_utf8_lossy(&reply),
                    server.log_tail()
                ),
            }
        }
        let reply = String::from_utf8_lossy(&reply);
        assert!(
            reply.starts_with(expected) && reply.contains(&format!("Call-ID: {call_id}")),
            "TCP: {reply}"
        );
    }
    server.finish();
}

#[test]
fn cancel_before_answer_gets_487() {
    require_sipp();
    // Its own server, which rings for 2 s before answering, so there is time to CANCEL.
    let server = Server::start(&["--ring-time-ms", "2000"]);
    Sipp::new("cancel.xml", "12345678.1177958860", "cancelling-caller").run(&server);
    // The cancelled call left nothing behind: a normal call still goes through (it rings first).
    Sipp::new("direct_call.xml", "12345678.1177958860", "after-cancel").run(&server);
    server.stop_and_expect_clean_exit();
}

#[test]
fn two_hundred_short_calls_all_complete_and_leave_no_call_behind() {
    require_sipp();
    // Its own server: the demo tenant's ten licences must not be shared with other tests' calls
    // (20 calls per second held 200 ms keep a handful up at once).
    let server = Server::start(&[]);
    Sipp::new("short_call.xml", "12345678.1177958860", "short-call")
        .batch(200, 20, 200)
        .run(&server);
    let active = |server: &Server| -> Option<i64> {
        let (status, body) = server.api("GET", "/metrics");
        assert_eq!(status, 200, "{body}");
        body.lines()
            .filter(|l| l.starts_with("tessera_calls_active{"))
            .map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<i64>().ok()))
            .sum()
    };
    let deadline = Instant::now() + PATIENCE;
    while active(&server) != Some(0) {
        assert!(
            Instant::now() < deadline,
            "calls still active {PATIENCE:?} after SIPp hung up all 200: {:?}; log:\n{}",
            active(&server),
            server.log_tail()
        );
        sleep(Duration::from_millis(100));
    }
    let (_, metrics) = server.api("GET", "/metrics");
    assert!(
        metrics.contains(
            "tessera_calls_total{protocol=\"sip\",route=\"direct\",tenant=\"12345678\"} 200"
        ),
        "all 200 calls accepted:\n{metrics}"
    );
    server.stop_and_expect_clean_exit();
}

// ---------------------------------------------------------------------------------------------
// Garbage

/// A tiny deterministic generator (xorshift64*), so a failure replays the same bytes.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// A well-formed INVITE to the demo meeting, the seed of the mutated datagrams.
fn invite(branch: &str, content_length: usize, body: &str) -> Vec<u8> {
    format!(
        "INVITE sip:12345678.1177958860@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{branch};rport\r\n\
         From: <sip:garbage@127.0.0.1>;tag={branch}\r\n\
         To: <sip:12345678.1177958860@127.0.0.1>\r\n\
         Call-ID: {branch}@garbage\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:garbage@127.0.0.1:9>\r\n\
         Max-Forwards: 70\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {content_length}\r\n\r\n{body}"
    )
    .into_bytes()
}

/// The `i`-th garbage datagram: random bytes, mutated or truncated INVITEs, stray responses,
/// lying Content-Lengths, header floods, and now and then the largest datagram UDP carries.
fn garbage(noise: &mut Noise, i: usize) -> Vec<u8> {
    let seed = invite(&format!("g{i}"), 4, "v=0\r");
    match i % 8 {
        0 => {
            let len = 1 + noise.below(1400);
            noise.bytes(len)
        }
        1 => {
            let mut bytes = seed;
            for _ in 0..1 + noise.below(8) {
                let at = noise.below(bytes.len());
                bytes[at] = noise.next() as u8;
            }
            bytes
        }
        2 => {
            let cut = 1 + noise.below(seed.len() - 1);
            seed[..cut].to_vec()
        }
        3 => invite(&format!("g{i}"), 4000, "v=0\r\n"),
        4 => format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKstray{i}\r\n\
             From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: stray{i}\r\n\
             CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes(),
        5 => {
            let mut bytes = b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n".to_vec();
            for h in 0..200 {
                bytes.extend_from_slice(format!("X-Flood-{h}: {}\r\n", "y".repeat(20)).as_bytes());
            }
            bytes.extend_from_slice(b"\r\n");
            bytes
        }
        6 => {
            let mut bytes = seed;
            bytes.extend(std::iter::repeat_n(0u8, noise.below(64)));
            bytes.insert(noise.below(bytes.len()), 0);
            bytes
        }
        _ if i % 1000 == 7 => vec![b'A'; 65_507],
        _ => format!(
            "BYE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{i}\r\n\
             Call-ID: {i}\r\nCSeq: banana BYE\r\nContent-Length: -5\r\n\r\n"
        )
        .into_bytes(),
    }
}

/// Sends an OPTIONS and waits for its 200: every datagram sent before it has been read and
/// handled by then (one socket, one core task, in order).
fn sync_with(server: &Server, socket: &UdpSocket, n: usize) {
    let local = socket.local_addr().unwrap();
    let call_id = format!("sync-{n}-{}", rand::random::<u32>());
    let options = format!(
        "OPTIONS sip:{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{call_id}\r\n\
         From: <sip:sync@{local}>;tag=s{n}\r\nTo: <sip:{sip}>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        sip = server.sip
    );
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < deadline {
        socket.send_to(options.as_bytes(), server.sip).unwrap();
        let resend = Instant::now() + Duration::from_secs(1);
        while Instant::now() < resend {
            match socket.recv_from(&mut buf) {
                Ok((len, _)) => {
                    let reply = String::from_utf8_lossy(&buf[..len]);
                    if reply.starts_with("SIP/2.0 200") && reply.contains(&call_id) {
                        return;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("sync socket: {e}"),
            }
        }
    }
    panic!(
        "no 200 to OPTIONS within {PATIENCE:?} (server running: {}); log:\n{}",
        server.is_running(),
        server.log_tail()
    );
}

/// Sends `count` garbage datagrams, waiting for the server to catch up every 200.
fn spray(server: &Server, noise: &mut Noise, from: usize, count: usize) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sync = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in from..from + count {
        // A full socket buffer on either side is no failure of ours; the server must survive it.
        let _ = socket.send_to(&garbage(noise, i), server.sip);
        if (i + 1) % 200 == 0 {
            sync_with(server, &sync, i);
        }
    }
    sync_with(server, &sync, from + count);
}

/// Writes `bytes` over TCP (stopping quietly if the server has closed), then waits (bounded) for
/// the server to close the connection. Returns whether it did.
fn tcp_send(server: &Server, chunks: impl IntoIterator<Item = Vec<u8>>, half_close: bool) -> bool {
    let mut stream = TcpStream::connect(server.sip).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for chunk in chunks {
        match stream.write_all(&chunk) {
            Ok(()) => {}
            // Stuck: the server neither reads nor closes.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            // Reset or broken pipe: the server closed it.
            Err(_) => return true,
        }
    }
    if half_close {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Sends one datagram from a fresh socket and waits (bounded) for the one reply.
fn udp_exchange(server: &Server, datagram: &[u8]) -> std::io::Result<String> {
    let udp = UdpSocket::bind("127.0.0.1:0")?;
    udp.set_read_timeout(Some(Duration::from_secs(10)))?;
    udp.send_to(datagram, server.sip)?;
    let mut buf = vec![0u8; 65_536];
    let (len, _) = udp.recv_from(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..len]).into_owned())
}

#[test]
fn udp_request_with_content_length_beyond_the_datagram_gets_400() {
    let server = Server::start(&[]);
    let reply = udp_exchange(&server, &invite("short", 4000, "v=0\r\n"));
    assert!(
        reply
            .as_ref()
            .is_ok_and(|r| r.starts_with("SIP/2.0 400") && r.contains("short@garbage")),
        "expected 400 for an INVITE whose body is shorter than its Content-Length, got {reply:?}"
    );
    server.stop_and_expect_clean_exit();
}

#[test]
fn garbage_never_crashes_the_server() {
    require_sipp();
    // Its own server: the memory check must not count other tests' calls. Loopback is exempt
    // from the per-source SIP limits here: this test is about the parser under garbage, and the
    // limits would (rightly) ban a source sending thousands of bad messages a second and drop
    // the rest unread (the flood test in `limits.rs` covers that).
    let server = Server::start(&["--sip-limits-exempt", "127.0.0.0/8"]);
    let mut noise = Noise(0x5eed_1234_abcd_0001);

    // UDP: one of each kind, the largest datagram loopback carries (also as an INVITE whose
    // body fills it), and an INVITE whose Content-Length promises more than the datagram holds.
    spray(&server, &mut noise, 0, 16);
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let _ = udp.send_to(&vec![b'Z'; 65_507], server.sip);
    let mut huge = invite("huge", 65_000, "");
    huge.resize(65_507, b'x');
    let _ = udp.send_to(&huge, server.sip);
    let _ = udp.send_to(&invite("short", 4000, "v=0\r\n"), server.sip);
    sync_with(&server, &udp, 16);
    server.assert_healthy();

    // TCP: a frame cut short by the peer closing; a header section beyond 64 KiB; a header line
    // that never ends. The last two must make the server close the connection.
    let cut = invite("cut", 500, "v=0\r\no=");
    tcp_send(&server, [cut], true);
    let mut oversized = b"INVITE sip:12345678.1177958860@127.0.0.1 SIP/2.0\r\n".to_vec();
    for h in 0..100 {
        oversized.extend_from_slice(format!("X-Big-{h}: {}\r\n", "b".repeat(1000)).as_bytes());
    }
    oversized.extend_from_slice(b"\r\n");
    assert!(
        tcp_send(&server, [oversized], false),
        "the server closes a connection whose header section exceeds 64 KiB"
    );
    let endless = std::iter::once(b"INVITE sip:x@127.0.0.1 SIP/2.0\r\nX-Endless: ".to_vec())
        .chain((0..64).map(|_| vec![b'e'; 16 * 1024]));
    assert!(
        tcp_send(&server, endless, false),
        "the server closes a connection whose header line never ends"
    );
    server.assert_healthy();

    // Memory: warm up, then 20,000 more must not grow the server by more than a generous bound.
    spray(&server, &mut noise, 16, 2_000);
    let before = server.rss_kib();
    spray(&server, &mut noise, 2_016, 20_000);
    let after = server.rss_kib();
    eprintln!("server VmRSS before {before} KiB, after 20,000 garbage datagrams {after} KiB");
    assert!(
        after < before + 50 * 1024,
        "VmRSS grew from {before} KiB to {after} KiB over 20,000 garbage datagrams"
    );

    // And it still takes calls, over both transports.
    server.assert_healthy();
    Sipp::new(
        "direct_call.xml",
        "12345678.1177958860",
        "after-garbage-udp",
    )
    .run(&server);
    Sipp::new(
        "direct_call.xml",
        "12345678.1177958860",
        "after-garbage-tcp",
    )
    .tcp()
    .run(&server);
    server.assert_healthy();
    server.stop_and_expect_clean_exit();
}

/// The flooder's `i`-th INVITE: a fresh transaction and call each time (a real flood, not
/// retransmissions), no SDP, to the demo meeting.
fn flood_invite(server: &Server, i: u64) -> Vec<u8> {
    format!(
        "INVITE sip:12345678.1177958860@{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.2:5999;branch=z9hG4bK-flood-{i}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:flood@127.0.0.2>;tag=f{i}\r\n\
         To: <sip:12345678.1177958860@{sip}>\r\n\
         Call-ID: flood-{i}@127.0.0.2\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:flood@127.0.0.2:5999>\r\n\
         Content-Length: 0\r\n\r\n",
        sip = server.sip
    )
    .into_bytes()
}

/// The value of one sample line of the server's `/metrics` (0 when absent).
fn metric(server: &Server, sample: &str) -> u64 {
    let (status, body) = server.api("GET", "/metrics");
    assert_eq!(status, 200, "{body}");
    common::metric_value(&body, sample)
}

#[test]
fn an_invite_flood_is_banned_while_another_source_completes_its_calls() {
    require_sipp();
    // Its own server: the ban and the memory are this test's. Two calls per source, so the
    // flood's first INVITEs (before the ban) cannot hold the demo tenant's ten licences.
    let server = Server::start(&["--sip-max-dialogs-per-source", "2"]);
    Sipp::new("direct_call.xml", "12345678.1177958860", "warm-up").run(&server);
    let before = server.rss_kib();

    // 20,000 INVITEs per second from 127.0.0.2 for 10 s, in 2 ms bursts of 40, on a thread of
    // its own while SIPp places ten calls from 127.0.0.1.
    const RATE: u64 = 20_000;
    const SECONDS: u64 = 10;
    let flooder = UdpSocket::bind("127.0.0.2:0").expect("bind 127.0.0.2 (loopback /8)");
    let target = server.sip;
    let datagrams: Vec<Vec<u8>> = (0..RATE * SECONDS)
        .map(|i| flood_invite(&server, i))
        .collect();
    let flood = std::thread::spawn(move || {
        let start = Instant::now();
        let mut sent = 0u64;
        for (i, datagram) in datagrams.iter().enumerate() {
            let due = start + Duration::from_micros(i as u64 * 1_000_000 / RATE);
            if i % 40 == 0 {
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    sleep(wait);
                }
            }
            if flooder.send_to(datagram, target).is_ok() {
                sent += 1;
            }
        }
        (sent, start.elapsed())
    });
    sleep(Duration::from_millis(500));
    Sipp::new("short_call.xml", "12345678.1177958860", "during-flood")
        .batch(10, 1, 1000)
        .run(&server);
    let (sent, took) = flood.join().expect("flood thread");
    eprintln!("flood: {sent} INVITEs sent from 127.0.0.2 in {took:.1?}");
    assert!(
        sent >= RATE * SECONDS * 9 / 10,
        "the flood sent only {sent} INVITEs"
    );

    assert_eq!(
        metric(&server, "tessera_sip_banned_total{reason=\"flood\"} "),
        1,
        "banned once, for the whole flood"
    );
    let dropped = metric(&server, "tessera_sip_dropped_total ");
    eprintln!("dropped unread while banned: {dropped}");
    assert!(
        dropped >= sent / 2,
        "only {dropped} of {sent} dropped unread"
    );
    assert!(
        server
            .log()
            .lines()
            .any(|l| l.contains("SIP source banned") && l.contains("127.0.0.2")),
        "a log line names the flooder"
    );
    // Memory: before the ban (its first 400 messages) the flood makes at most 400 transactions
    // and two calls, well under a MiB; everything after is dropped unread and allocates nothing.
    // Without the ban, 200,000 INVITE transactions (each keeps its request and response for
    // Timer H/L, 32 s: over 1 KiB apiece) would be hundreds of MiB. The bound, 48 MiB, leaves
    // room for what the ten normal calls do meanwhile: each joins the demo meeting, whose
    // layout encoders (720p buffers) come and go with its viewers.
    let after = server.rss_kib();
    eprintln!("server VmRSS before {before} KiB, after the flood {after} KiB");
    assert!(
        after < before + 48 * 1024,
        "VmRSS grew from {before} KiB to {after} KiB over the flood"
    );
    // Not a drain: the flooder's two answered calls were never acknowledged, and the BYEs
    // the drain sends them wait out Timer F (32 s) at an address nobody listens on.
    server.kill();
}
