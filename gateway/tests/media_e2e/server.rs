//! A real `tessera serve` on loopback for the media tests: temporary SQLite file, a fixed admin
//! token, free SIP/HTTP ports and its own RTP port range; killed when dropped.

use std::net::SocketAddr;
use std::process::Child;
use std::time::Duration;

use crate::common::{self, Chunked, Launched};

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
    /// The H.323 call-signalling listener.
    pub h323: SocketAddr,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server (`--demo` when `demo`), after running each of `setup` as a CLI command on
    /// its fresh database (the database is always initialised with the demo tenant and meeting).
    /// Waits (bounded) until `/healthz` answers 200; retries with new ports if one was taken.
    pub fn start(demo: bool, setup: &[&[&str]]) -> Server {
        Server::start_with(demo, setup, &[])
    }

    /// [`Server::start`] with `extra` flags for `tessera serve` (e.g. a cluster's).
    pub fn start_with(demo: bool, setup: &[&[&str]], extra: &[&str]) -> Server {
        common::start_with_retries(|| {
            let (dir, db) = common::prepare_db(setup);
            Server::try_start(dir, db.as_os_str(), demo, extra)
        })
    }

    /// A server on a directory the test prepared itself (`db`: a SQLite path or a
    /// `postgres://` URL, e.g. one PostgreSQL directory the nodes of a cluster share), with
    /// `extra` flags; not `--demo`.
    #[allow(dead_code)] // media_e2e's cluster tests, not the browser tests
    pub fn start_on(db: &str, extra: &[&str]) -> Server {
        common::start_with_retries(|| {
            let dir = tempfile::tempdir().unwrap();
            Server::try_start(dir, db.as_ref(), false, extra)
        })
    }

    fn try_start(
        dir: tempfile::TempDir,
        db: &std::ffi::OsStr,
        demo: bool,
        extra: &[&str],
    ) -> Result<Server, String> {
        let sip = SocketAddr::from(([127, 0, 0, 1], common::free_sip_port()));
        let http = SocketAddr::from(([127, 0, 0, 1], common::free_tcp_port()));
        // Away from the SIPp tests' 40000-59999 and from the relay's ephemeral ports.
        let rtp = common::rtp_ports(20_000, 40);
        let h323 = SocketAddr::from(([127, 0, 0, 1], common::free_tcp_port()));
        let mut command = common::serve_command_with_h323(db, TOKEN, sip, http, &rtp, h323);
        if !extra.contains(&"--drain-grace-secs") {
            command.args(["--drain-grace-secs", "2"]);
        }
        command.args(extra);
        // More of the servers' log when a test is being looked into (e.g. `gateway::media=debug`).
        if let Ok(filter) = std::env::var("MEDIA_E2E_TESSERA_LOG") {
            command.env("TESSERA_LOG", filter);
        }
        if demo {
            command.arg("--demo");
        }
        let child = common::spawn_logged(&mut command, dir.path());
        let server = Server {
            child: Some(child),
            sip,
            http,
            h323,
            dir,
        };
        common::wait_until_healthy(server, START_PATIENCE)
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        common::child_running(self.child.as_mut())
    }

    /// The status of `GET /healthz`, or `None` when the request failed.
    pub fn healthz(&self) -> Option<u16> {
        common::http_request(self.http, "GET", "/healthz", None, Chunked::Keep)
            .ok()
            .map(|(status, _)| status)
    }

    /// An admin API GET with the bearer token.
    pub fn api_get(&self, path: &str) -> std::io::Result<(u16, String)> {
        common::http_request(self.http, "GET", path, Some(TOKEN), Chunked::Keep)
    }

    /// An admin API POST (no body) with the bearer token.
    pub fn api_post(&self, path: &str) -> std::io::Result<(u16, String)> {
        common::http_request(self.http, "POST", path, Some(TOKEN), Chunked::Keep)
    }

    /// An admin API request with a JSON body (or none) and the bearer token.
    #[allow(dead_code)] // used by media_e2e, not the browser tests
    pub fn api_send(&self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        common::http_request_with_body(self.http, method, path, Some(TOKEN), body, Chunked::Keep)
    }

    /// Its database file (for the CLI to change while it runs, as an operator would).
    #[allow(dead_code)] // used by the browser tests, not media_e2e
    pub fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("tessera.db")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        common::read_log(self.dir.path())
    }

    /// Its last lines, for failure messages.
    pub fn log_tail(&self) -> String {
        common::tail(&self.log(), 80)
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

    /// The process id (for signals).
    #[allow(dead_code)] // media_e2e's cluster tests, not the browser tests
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `kill -9`: the process dies without a word (no BYE, no lease given back), and is reaped.
    #[allow(dead_code)] // media_e2e's cluster tests, not the browser tests
    pub fn kill_9(&mut self) {
        self.kill();
    }

    /// SIGTERM: the server drains (see `--drain-grace-secs`); [`Server::wait_exit`] waits for it.
    #[allow(dead_code)] // media_e2e's cluster tests, not the browser tests
    pub fn sigterm(&self) {
        let pid = self.pid().expect("the server was already stopped");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("cannot run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
    }

    /// Waits (bounded) for the process to exit; its status. Panics with the log beyond
    /// `patience` (the process is then killed).
    #[allow(dead_code)] // media_e2e's cluster tests, not the browser tests
    pub fn wait_exit(&mut self, patience: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + patience;
        loop {
            let child = self.child.as_mut().expect("the server was already stopped");
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            if std::time::Instant::now() > deadline {
                self.kill();
                panic!(
                    "the server did not exit within {patience:?}; log:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        common::kill_child(self.child.take());
    }
}

impl Launched for Server {
    fn is_running(&mut self) -> bool {
        Server::is_running(self)
    }

    fn is_healthy(&self) -> bool {
        self.healthz() == Some(200)
    }

    fn start_log(&self) -> String {
        self.log()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
