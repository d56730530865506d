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
        common::start_with_retries(|| Server::try_start(demo, setup, extra))
    }

    fn try_start(demo: bool, setup: &[&[&str]], extra: &[&str]) -> Result<Server, String> {
        let (dir, db) = common::prepare_db(setup);
        let sip = SocketAddr::from(([127, 0, 0, 1], common::free_sip_port()));
        let http = SocketAddr::from(([127, 0, 0, 1], common::free_tcp_port()));
        // Away from the SIPp tests' 40000-59999 and from the relay's ephemeral ports.
        let rtp = common::rtp_ports(20_000, 40);
        let h323 = SocketAddr::from(([127, 0, 0, 1], common::free_tcp_port()));
        let mut command = common::serve_command_with_h323(&db, TOKEN, sip, http, &rtp, h323);
        command.args(["--drain-grace-secs", "2"]).args(extra);
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
