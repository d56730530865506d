//! What the end-to-end test binaries (`sipp`, `console`, `media_e2e`) share: a `tessera serve`
//! launched from the built binary on a temporary database and free loopback ports, waiting for its
//! `/healthz`, a minimal HTTP/1.1 client, child process handling and log tails. The multi-node
//! binaries (`cluster`, `cluster_licences`, `directory_backends`) start theirs as
//! [`serve_node::ServeNode`]s.
//!
//! Each test binary compiles this module on its own; helpers one of them does not use carry an
//! item-level `#[allow(dead_code)]`.

#[allow(dead_code)] // only the binaries that place H.323 calls that stay up
pub mod h323_caller;
#[allow(dead_code)] // only the `cluster` binary runs Kamailio
pub mod kamailio;
#[allow(dead_code)] // only the binaries that need PostgreSQL start it
pub mod postgres;
#[allow(dead_code)] // only the multi-node binaries start their nodes with it
pub mod serve_node;
#[allow(dead_code)] // only the multi-node binaries place their SIPp calls with it
pub mod short_call;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Starting a server

/// A server process under test, as far as starting it is concerned; dropping it stops it.
pub trait Launched {
    /// Whether the process is still alive.
    fn is_running(&mut self) -> bool;
    /// Whether `GET /healthz` answers 200.
    fn is_healthy(&self) -> bool;
    /// Its log, for the failure message.
    fn start_log(&self) -> String;
}

/// Polls `condition` every 100 ms until it holds (true) or `patience` runs out (false): the
/// multi-node tests wait on real processes this way.
#[allow(dead_code)] // only the multi-node binaries wait on other processes' state
pub fn eventually(patience: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        sleep(Duration::from_millis(100));
    }
}

/// Whether a meeting's view (`GET /api/v1/meetings/{tenant}/{conference}`) has a cluster link
/// from node `from` (a cascade participant of that name) with every one of `callers` listed
/// under it among the far side's participants.
#[allow(dead_code)] // only the binaries that run a cluster
pub fn linked_from(view: &serde_json::Value, from: &str, callers: &[&str]) -> bool {
    let Some(link) = view["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["kind"] == "cascade" && p["display_name"] == from)
    else {
        return false;
    };
    callers.iter().all(|caller| {
        view["remote"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["via"] == link["id"] && r["display_name"] == *caller)
    })
}

/// Calls `try_start` up to three times (a port may be taken between picking and binding), and
/// panics with the last log when none came up.
pub fn start_with_retries<S>(mut try_start: impl FnMut() -> Result<S, String>) -> S {
    let mut last_log = String::new();
    for _ in 0..3 {
        match try_start() {
            Ok(server) => return server,
            Err(log) => last_log = log,
        }
    }
    panic!("tessera serve did not start; its log:\n{last_log}");
}

/// Polls every 100 ms until `/healthz` answers 200 (then the server), the process exits (its log)
/// or `patience` runs out (the server is dropped, which stops it; a message with its log).
pub fn wait_until_healthy<S: Launched>(mut server: S, patience: Duration) -> Result<S, String> {
    let deadline = Instant::now() + patience;
    loop {
        if !server.is_running() {
            return Err(server.start_log());
        }
        if server.is_healthy() {
            return Ok(server);
        }
        if Instant::now() > deadline {
            let log = server.start_log();
            drop(server);
            return Err(format!("/healthz not 200 within {patience:?}\n{log}"));
        }
        sleep(Duration::from_millis(100));
    }
}

/// A fresh temporary directory with `tessera.db` in it, initialised with the demo tenant and
/// meeting (`init --demo`) and then given each of `setup` as a CLI command.
#[allow(dead_code)] // not in `directory_backends`, whose database may be PostgreSQL
pub fn prepare_db(setup: &[&[&str]]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tessera.db");
    cli(&db, &["init", "--demo"]);
    for args in setup {
        cli(&db, args);
    }
    (dir, db)
}

/// The `tessera` CLI arguments adding a meeting of `tenant` that everyone enters at once (no
/// lobby) and anyone may start.
#[allow(dead_code)] // only in the binaries whose callers need such a meeting
pub fn open_meeting<'a>(tenant: &'a str, conference: &'a str) -> [&'a str; 9] {
    [
        "meeting",
        "add",
        "--tenant",
        tenant,
        "--conference-id",
        conference,
        "--who-can-bypass",
        "everyone",
        "--anonymous-can-start=on",
    ]
}

/// Runs the `tessera` CLI on a database (a SQLite path or a `postgres://` URL) and expects
/// success.
pub fn cli(db: impl AsRef<std::ffi::OsStr>, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("TESSERA_DB")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tessera {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `tessera --db <db> serve` with the admin token, both listen addresses, public address
/// 127.0.0.1 and the RTP port range; no `TESSERA_DB` or `TESSERA_ADMIN_TOKEN` from the
/// environment, `TESSERA_LOG=info`. Callers add their own flags. H.323 listens on a port the
/// system picks (the default, 1720, would be shared by every test's server).
#[allow(dead_code)] // not in `baresip`, whose gateway advertises a veth address
pub fn serve_command(
    db: impl AsRef<std::ffi::OsStr>,
    token: &str,
    sip: SocketAddr,
    http: SocketAddr,
    rtp: &str,
) -> Command {
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    serve_command_with_h323(db, token, sip, http, rtp, any_port)
}

/// [`serve_command`] with H.323 listening on `h323`.
#[allow(dead_code)] // not in `baresip`
pub fn serve_command_with_h323(
    db: impl AsRef<std::ffi::OsStr>,
    token: &str,
    sip: SocketAddr,
    http: SocketAddr,
    rtp: &str,
    h323: SocketAddr,
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .arg("--db")
        .arg(db)
        .args(["serve", "--admin-token", token])
        .args(["--sip-listen", &sip.to_string()])
        .args(["--http-listen", &http.to_string()])
        .args(["--h323-listen", &h323.to_string()])
        .args(["--public-address", "127.0.0.1", "--rtp-ports", rtp])
        .env_remove("TESSERA_DB")
        .env_remove("TESSERA_ADMIN_TOKEN")
        .env("TESSERA_LOG", "info");
    command
}

/// An RTP port range of 200 ports: `first + 200 * k` for `k` below `blocks`, random for the
/// first server of this process and the next block for each one after (a cluster's nodes run
/// at once: random blocks alone collided now and then).
pub fn rtp_ports(first: u16, blocks: u16) -> String {
    static NEXT: AtomicU16 = AtomicU16::new(u16::MAX);
    let _ = NEXT.compare_exchange(
        u16::MAX,
        rand::random::<u16>() % 1000,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    let base = first + 200 * (NEXT.fetch_add(1, Ordering::Relaxed) % blocks);
    format!("{}-{}", base, base + 199)
}

/// Spawns the server with stdout and stderr into `dir/server.log`.
#[allow(dead_code)] // not in `console`, which runs it as one of its processes
pub fn spawn_logged(command: &mut Command, dir: &Path) -> Child {
    let log = fs::File::create(dir.join("server.log")).unwrap();
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("cannot run the tessera binary")
}

/// The server's log so far (`dir/server.log`).
#[allow(dead_code)] // not in `console`
pub fn read_log(dir: &Path) -> String {
    fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Child processes

/// Whether the child (if any) is still alive.
#[allow(dead_code)] // not in `console`
pub fn child_running(child: Option<&mut Child>) -> bool {
    match child {
        Some(child) => matches!(child.try_wait(), Ok(None)),
        None => false,
    }
}

/// Kills the child (if any) and reaps it.
#[allow(dead_code)] // not in `console`
pub fn kill_child(child: Option<Child>) {
    if let Some(mut child) = child {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Sends the child SIGTERM and returns its exit status after the drain; beyond `patience` it is
/// killed and the test panics with `log_tail()`.
#[allow(dead_code)] // only in the tests that check the drain
pub fn terminate(
    mut child: Child,
    patience: Duration,
    log_tail: impl Fn() -> String,
) -> std::process::ExitStatus {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("cannot run kill");
    assert!(sent.success(), "kill -TERM failed");
    let deadline = Instant::now() + patience;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server did not exit within {patience:?} of SIGTERM; log:\n{}",
                log_tail()
            );
        }
        sleep(Duration::from_millis(50));
    }
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// Ports

/// Ports this process has handed out (SIP ports and media blocks). A port is free when checked
/// but taken only once SIPp (or a server) binds it: calls placed together could each find the
/// same port free before either bound it (random media blocks met about once in 2000 per pair),
/// and one SIPp then failed to bind and never called. So one process never hands a port out
/// twice.
#[allow(dead_code)] // not in `baresip`
fn handed_out() -> std::sync::MutexGuard<'static, std::collections::HashSet<u16>> {
    static PORTS: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<u16>>> =
        std::sync::OnceLock::new();
    PORTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A loopback port free on both UDP and TCP (SIP listens on both, SIPp may use either), never
/// handed out before by this process.
#[allow(dead_code)] // not in `baresip`, whose gateway listens on its own veth address
pub fn free_sip_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() && handed_out().insert(port) {
            return port;
        }
    }
}

/// A loopback TCP port free at the moment.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A base port with base..base+3 free on UDP (SIPp's audio and video media ports, and RTCP):
/// the next free block of 4 from 30000 on, starting at a random block for this process (as
/// [`rtp_ports`] does), and none of them handed out before by this process.
#[allow(dead_code)] // not in `media_e2e`
pub fn free_media_ports() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(u16::MAX);
    let _ = NEXT.compare_exchange(
        u16::MAX,
        rand::random::<u16>() % 2_000,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    loop {
        let base = 30_000 + 4 * (NEXT.fetch_add(1, Ordering::Relaxed) % 2_000);
        let free = (base..base + 4).all(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok());
        let mut handed = handed_out();
        if free && (base..base + 4).all(|p| !handed.contains(&p)) {
            handed.extend(base..base + 4);
            return base;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// What [`http_request`] does with a `Transfer-Encoding: chunked` body.
#[allow(dead_code)] // each variant is used by one binary only
#[derive(Clone, Copy)]
pub enum Chunked {
    /// Decodes it.
    Decode,
    /// Returns it as it came (callers look for substrings or parse unchunked JSON).
    Keep,
}

/// A minimal HTTP/1.1 request without a body (`Connection: close`); returns status and body.
#[allow(dead_code)] // not in `console`, whose client also talks to ChromeDriver
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    chunked: Chunked,
) -> std::io::Result<(u16, String)> {
    http_request_with_body(addr, method, path, token, "", chunked)
}

/// [`http_request`] with a JSON body (none when `body` is empty).
#[allow(dead_code)] // not in `console`, whose client also talks to ChromeDriver
pub fn http_request_with_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
    chunked: Chunked,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{content_type}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP header end in {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let is_chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = match chunked {
        Chunked::Decode if is_chunked => dechunk(body),
        _ => body.to_owned(),
    };
    Ok((status, body))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// The value of the sample line starting with `sample` (name, labels and a space) in a
/// Prometheus text body, 0 when absent.
#[allow(dead_code)] // only in `sipp` and `media_e2e`
pub fn metric_value(body: &str, sample: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(sample))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}
