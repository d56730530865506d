//! One SIPp call of `loadtests/sipp/short_call.xml` for the multi-node tests (`cluster`,
//! `cluster_licences`, `directory_backends`): INVITE (audio and video), ACK, a hold, BYE. SIPp
//! runs in the background in a temporary directory of its own (screen and error logs kept for
//! the failure message) and is killed when the call is dropped.
//!
//! Owns the SIPp process; where it calls and what the test makes of the outcome are the test's.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long SIPp may take, hold included, before the call is given up.
const PATIENCE: Duration = Duration::from_secs(90);

/// A SIPp call in progress.
pub struct ShortCall {
    child: Option<Child>,
    dir: tempfile::TempDir,
    service: String,
}

impl ShortCall {
    /// Calls `service` (the Request-URI user) at `to`, held `hold_ms` once answered, with
    /// `caller` as the From display name (the roster's name for it).
    pub fn place(to: SocketAddr, service: &str, hold_ms: u32, caller: &str) -> ShortCall {
        let dir = tempfile::tempdir().unwrap();
        let scenario =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../loadtests/sipp/short_call.xml");
        let screen = fs::File::create(dir.path().join("screen.log")).unwrap();
        let to = to.to_string();
        let child = Command::new("sipp")
            .current_dir(dir.path())
            .arg(&to)
            .arg("-sf")
            .arg(scenario)
            .args(["-s", service, "-m", "1", "-d", &hold_ms.to_string()])
            .args(["-key", "dial_host", &to, "-key", "caller", caller])
            .args(["-i", "127.0.0.1", "-p", &super::free_sip_port().to_string()])
            .args(["-mp", &super::free_media_ports().to_string()])
            .args([
                "-timeout",
                "60s",
                "-timeout_error",
                "-nostdin",
                "-trace_err",
            ])
            .arg("-error_file")
            .arg(dir.path().join("errors.log"))
            .stdin(Stdio::null())
            .stdout(screen.try_clone().unwrap())
            .stderr(screen)
            .spawn()
            .expect("cannot run sipp (Debian package sip-tester)");
        ShortCall {
            child: Some(child),
            dir,
            service: service.to_owned(),
        }
    }

    /// Waits (bounded) for SIPp; true when the call went as the scenario expects (answered,
    /// held, BYE answered).
    pub fn succeeded(&mut self) -> bool {
        let mut child = self.child.take().expect("already waited");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            if Instant::now() > deadline {
                super::kill_child(Some(child));
                return false;
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// SIPp's error and screen log tails.
    pub fn errors(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "sipp dialling {}:\n{}\n{}",
            self.service,
            super::tail(&read("errors.log"), 20),
            super::tail(&read("screen.log"), 20)
        )
    }
}

impl Drop for ShortCall {
    fn drop(&mut self) {
        super::kill_child(self.child.take());
    }
}
