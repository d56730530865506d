//! A real `tessera serve` on loopback for the media tests: temporary SQLite file, a fixed admin
//! token, free SIP/HTTP ports and its own RTP port range; killed when dropped.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The admin token every test server runs with.
pub const TOKEN: &str = "media-e2e-test-token-0123456789";
/// The demo tenant.
pub const TENANT: &str = "12345678";

/// How long the server may take to answer `/healthz` after start.
const START_PATIENCE: Duration = Duration::from_secs(60);

/// A running `tessera serve` with its temporary directory (database, log).
pub struct Server {
    child: Option<Child>,
    pub sip: SocketAddr,
    pub http: SocketAddr,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server (`--demo` when `demo`), after running each of `setup` as a CLI command on
    /// its fresh database (the database is always initialised with the demo tenant and meeting).
    /// Waits (bounded) until `/healthz` answers 200; retries with new ports if one was taken.
    pub fn start(demo: bool, setup: &[&[&str]]) -> Server {
        let mut last_log = String::new();
        for _ in 0..3 {
            match Server::try_start(demo, setup) {
                Ok(server) => return server,
                Err(log) => last_log = log,
            }
        }
        panic!("tessera serve did not start; its log:\n{last_log}");
    }

    fn try_start(demo: bool, setup: &[&[&str]]) -> Result<Server, String> {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("tessera.db");
        cli(&db, &["init", "--demo"]);
        for args in setup {
            cli(&db, args);
        }
        let sip = SocketAddr::from(([127, 0, 0, 1], free_sip_port()));
        let http = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        // Away from the SIPp tests' 40000-59999 and from the relay's ephemeral ports.
        let rtp_base = 20_000 + 200 * (rand::random::<u16>() % 40);
        let rtp = format!("{}-{}", rtp_base, rtp_base + 199);
        let log = fs::File::create(dir.path().join("server.log")).unwrap();
        let (sip_arg, http_arg) = (sip.to_string(), http.to_string());
        let mut args = vec![
            "serve",
            "--admin-token",
            TOKEN,
            "--sip-listen",
            &sip_arg,
            "--http-listen",
            &http_arg,
            "--public-address",
            "127.0.0.1",
            "--rtp-ports",
            &rtp,
            "--drain-grace-secs",
            "2",
        ];
        if demo {
            args.push("--demo");
        }
        let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .arg("--db")
            .arg(&db)
            .args(&args)
            .env_remove("TESSERA_DB")
            .env_remove("TESSERA_ADMIN_TOKEN")
            .env("TESSERA_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot run the tessera binary");
        let mut server = Server {
            child: Some(child),
            sip,
            http,
            dir,
        };
        let deadline = Instant::now() + START_PATIENCE;
        loop {
            if !server.is_running() {
                return Err(server.log());
            }
            if server.healthz() == Some(200) {
                return Ok(server);
            }
            if Instant::now() > deadline {
                let log = server.log();
                server.kill();
                return Err(format!("/healthz not 200 within {START_PATIENCE:?}\n{log}"));
            }
            sleep(Duration::from_millis(100));
        }
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The status of `GET /healthz`, or `None` when the request failed.
    pub fn healthz(&self) -> Option<u16> {
        http_request(self.http, "GET", "/healthz", None)
            .ok()
            .map(|(status, _)| status)
    }

    /// An admin API GET with the bearer token.
    pub fn api_get(&self, path: &str) -> std::io::Result<(u16, String)> {
        http_request(self.http, "GET", path, Some(TOKEN))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Its last lines, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(80)..].join("\n")
    }

    /// Panics (with the log) unless the process runs and `/healthz` answers 200.
    pub fn assert_healthy(&mut self, when: &str) {
        let running = self.is_running();
        let health = self.healthz();
        assert!(
            running && health == Some(200),
            "{when}: the server is not healthy (running: {running}, /healthz: {health:?}); log:\n{}",
            self.log_tail()
        );
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs the `tessera` CLI on a database and expects success.
fn cli(db: &Path, args: &[&str]) {
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

/// A port free on both UDP and TCP (SIP listens on both).
fn free_sip_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A minimal HTTP/1.1 request (`Connection: close`); returns status and body (not de-chunked:
/// callers look for substrings or parse unchunked JSON).
fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
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
    Ok((status, body.to_owned()))
}
