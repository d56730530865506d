//! One `tessera serve` for the multi-node tests (`cluster`, `cluster_licences`,
//! `directory_backends`): started from the built binary on free loopback ports (SIP, HTTP,
//! H.323) with its log in a temporary directory, waited for until `/healthz` answers (retried
//! when a port was taken meanwhile), read through its admin API and metrics, signalled, and
//! killed when dropped.
//!
//! Owns the node's process and temporary directories; what a node is started with (directory,
//! licences, cluster flags) is the test's.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::{Chunked, Launched};

/// How long a node may take to answer `/healthz`.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// A running `tessera serve`.
pub struct ServeNode {
    child: Option<Child>,
    /// Its SIP address (UDP and TCP).
    pub sip: SocketAddr,
    /// Its admin API.
    pub http: SocketAddr,
    /// Its H.323 call-signalling port.
    pub h323: SocketAddr,
    token: String,
    /// Its log (and its SQLite directory, when it has one of its own).
    dir: tempfile::TempDir,
}

impl ServeNode {
    /// `tessera --db <db> serve` (a SQLite path or a `postgres://` URL) with the admin `token`,
    /// a block of RTP ports from `rtp_first` up and the `extra` flags.
    pub fn start(db: &str, token: &str, rtp_first: u16, extra: &[&str]) -> ServeNode {
        super::start_with_retries(|| {
            ServeNode::try_start(
                db.into(),
                tempfile::tempdir().unwrap(),
                token,
                rtp_first,
                extra,
            )
        })
    }

    /// [`start`](Self::start) on a SQLite directory of its own, prepared with `setup`
    /// ([`super::prepare_db`]: the demo tenant and meeting, then each CLI command).
    pub fn on_sqlite(setup: &[&[&str]], token: &str, rtp_first: u16, extra: &[&str]) -> ServeNode {
        super::start_with_retries(|| {
            let (dir, db) = super::prepare_db(setup);
            ServeNode::try_start(db.into(), dir, token, rtp_first, extra)
        })
    }

    fn try_start(
        db: OsString,
        dir: tempfile::TempDir,
        token: &str,
        rtp_first: u16,
        extra: &[&str],
    ) -> Result<ServeNode, String> {
        let sip = SocketAddr::from(([127, 0, 0, 1], super::free_sip_port()));
        let http = SocketAddr::from(([127, 0, 0, 1], super::free_tcp_port()));
        let h323 = SocketAddr::from(([127, 0, 0, 1], super::free_tcp_port()));
        let rtp = super::rtp_ports(rtp_first, 40);
        let mut command = super::serve_command_with_h323(&db, token, sip, http, &rtp, h323);
        // Nothing of the node's lands in the test's working directory.
        command.current_dir(dir.path()).args(extra);
        let child = super::spawn_logged(&mut command, dir.path());
        let node = ServeNode {
            child: Some(child),
            sip,
            http,
            h323,
            token: token.to_owned(),
            dir,
        };
        super::wait_until_healthy(node, START_PATIENCE)
    }

    /// The body of an admin API `GET` answered 200.
    pub fn get(&self, path: &str) -> Option<String> {
        match super::http_request(self.http, "GET", path, Some(&self.token), Chunked::Decode) {
            Ok((200, body)) => Some(body),
            _ => None,
        }
    }

    /// An admin API request with a JSON body (none when empty): status and body.
    pub fn send(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        super::http_request_with_body(
            self.http,
            method,
            path,
            Some(&self.token),
            body,
            Chunked::Decode,
        )
        .unwrap()
    }

    /// The value of a `/metrics` sample (name, labels and a space), 0 when absent.
    pub fn metric(&self, sample: &str) -> u64 {
        super::metric_value(&self.get("/metrics").unwrap_or_default(), sample)
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        super::child_running(self.child.as_mut())
    }

    /// Sends the process `signal` (`-TERM`, `-KILL`).
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("node already stopped").id();
        let sent = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("cannot run kill");
        assert!(sent.success(), "kill {signal} {pid} failed");
    }

    /// Waits (bounded) for the process to exit and returns its status; beyond `patience` it
    /// is killed and the test panics with its log.
    pub fn wait_exit(&mut self, patience: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("node already stopped");
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                super::kill_child(Some(child));
                panic!(
                    "node {} did not exit within {patience:?}; log:\n{}",
                    self.sip,
                    self.log_tail()
                );
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// Whether it still has its process (not yet waited for after it exited).
    pub fn has_process(&self) -> bool {
        self.child.is_some()
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        super::read_log(self.dir.path())
    }

    /// The last 40 lines of its log.
    pub fn log_tail(&self) -> String {
        super::tail(&self.log(), 40)
    }
}

impl Launched for ServeNode {
    fn is_running(&mut self) -> bool {
        ServeNode::is_running(self)
    }

    fn is_healthy(&self) -> bool {
        matches!(
            super::http_request(self.http, "GET", "/healthz", None, Chunked::Decode),
            Ok((200, _))
        )
    }

    fn start_log(&self) -> String {
        self.log_tail()
    }
}

impl Drop for ServeNode {
    fn drop(&mut self) {
        super::kill_child(self.child.take());
    }
}
