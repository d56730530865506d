//! Kamailio (Debian's `kamailio` 5.6) in front of test gateways: the shipped
//! `deploy/kamailio/kamailio.cfg` run in the foreground on a free loopback port, with a
//! dispatcher list of the given nodes written to a temporary directory, its control socket there
//! too, and the node states read back with `kamcmd dispatcher.list`.
//!
//! Owns the Kamailio process (killed when dropped) and its directory; it must not start or stop
//! gateways (the test does).

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::{free_sip_port, tail};

/// A node's state as the dispatcher holds it (the first letter of `kamcmd`'s `FLAGS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// `A`: in rotation.
    Active,
    /// `T`: a probe failed; still selectable, on its way out.
    Trying,
    /// `I`: out of rotation until a probe gets 200.
    Inactive,
    /// `D`: disabled by the operator.
    Disabled,
}

/// A running Kamailio with the shipped configuration.
pub struct Kamailio {
    child: Option<Child>,
    /// Where it takes calls (UDP and TCP).
    pub sip: SocketAddr,
    ctl: String,
    dir: tempfile::TempDir,
}

fn shipped_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kamailio/kamailio.cfg")
}

impl Kamailio {
    /// Starts Kamailio dispatching to `nodes` (probed every `ping_interval_secs`) and waits until
    /// its control socket answers and every node is active. Panics with its log otherwise.
    pub fn start(nodes: &[SocketAddr], ping_interval_secs: u32) -> Kamailio {
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(nodes, ping_interval_secs) {
                Ok(kamailio) => return kamailio,
                Err(log) => last = log,
            }
        }
        panic!("kamailio did not start; its log:\n{last}");
    }

    fn try_start(nodes: &[SocketAddr], ping_interval_secs: u32) -> Result<Kamailio, String> {
        let dir = tempfile::Builder::new()
            .prefix("kamailio-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let list = dir.path().join("dispatcher.list");
        let mut text = String::new();
        for node in nodes {
            text.push_str(&format!("1 sip:{node} 8\n"));
        }
        fs::write(&list, text).map_err(|e| e.to_string())?;
        let sip = SocketAddr::from(([127, 0, 0, 1], free_sip_port()));
        let ctl = format!("unix:{}", dir.path().join("ctl").display());
        let log = fs::File::create(dir.path().join("kamailio.log")).map_err(|e| e.to_string())?;
        let child = Command::new("kamailio")
            .arg("-f")
            .arg(shipped_config())
            // Foreground, log to stderr, runtime files in our directory.
            .args(["-DD", "-E", "-m", "32", "-M", "8"])
            .arg("-Y")
            .arg(dir.path())
            .arg("-P")
            .arg(dir.path().join("kamailio.pid"))
            .args(["-A", "SIP_ADDR=127.0.0.1"])
            .args(["-A", &format!("SIP_PORT={}", sip.port())])
            .args(["-A", &format!("DISPATCHER_LIST=\"{}\"", list.display())])
            .args(["-A", &format!("CTL_SOCKET=\"{ctl}\"")])
            .args(["-A", &format!("PING_INTERVAL={ping_interval_secs}")])
            .args(["-A", "WORKERS=2"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run kamailio (Debian package kamailio): {e}"))?;
        let mut kamailio = Kamailio {
            child: Some(child),
            sip,
            ctl,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if !kamailio.is_running() {
                return Err(kamailio.log());
            }
            if let Ok(states) = kamailio.node_states() {
                if states.len() == nodes.len()
                    && states.iter().all(|(_, s)| *s == NodeState::Active)
                {
                    return Ok(kamailio);
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "nodes not all active within 30 s: {:?}\n{}",
                    kamailio.node_states(),
                    kamailio.log()
                ));
            }
            sleep(Duration::from_millis(100));
        }
    }

    /// Whether the process is alive.
    pub fn is_running(&mut self) -> bool {
        super::child_running(self.child.as_mut())
    }

    /// Its log so far (the last 80 lines).
    pub fn log(&self) -> String {
        tail(
            &fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default(),
            80,
        )
    }

    /// Each dispatcher destination with its state, from `kamcmd dispatcher.list`.
    pub fn node_states(&self) -> Result<Vec<(SocketAddr, NodeState)>, String> {
        let out = Command::new("kamcmd")
            .args(["-s", &self.ctl, "dispatcher.list"])
            .output()
            .map_err(|e| format!("cannot run kamcmd: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        parse_dispatcher_list(&String::from_utf8_lossy(&out.stdout))
    }

    /// The state of `node`.
    pub fn state_of(&self, node: SocketAddr) -> Option<NodeState> {
        self.node_states()
            .ok()?
            .into_iter()
            .find_map(|(addr, state)| (addr == node).then_some(state))
    }

    /// Polls until `node` is in `state` (true) or `patience` runs out (false).
    pub fn wait_for_state(&self, node: SocketAddr, state: NodeState, patience: Duration) -> bool {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if self.state_of(node) == Some(state) {
                return true;
            }
            sleep(Duration::from_millis(100));
        }
        false
    }
}

/// The `URI:` and `FLAGS:` pairs of `kamcmd dispatcher.list` output (Kamailio 5.6):
///
/// ```text
/// DEST: {
///     URI: sip:127.0.0.1:40001
///     FLAGS: AP
///     PRIORITY: 0
/// }
/// ```
fn parse_dispatcher_list(text: &str) -> Result<Vec<(SocketAddr, NodeState)>, String> {
    let mut nodes = Vec::new();
    let mut uri: Option<SocketAddr> = None;
    for line in text.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("URI:") {
            let addr = value.trim().trim_start_matches("sip:");
            uri = Some(
                addr.parse()
                    .map_err(|e| format!("dispatcher URI {value:?}: {e}"))?,
            );
        } else if let Some(flags) = line.strip_prefix("FLAGS:") {
            let state = match flags.trim().chars().next() {
                Some('A') => NodeState::Active,
                Some('T') => NodeState::Trying,
                Some('I') => NodeState::Inactive,
                Some('D') => NodeState::Disabled,
                other => return Err(format!("unknown dispatcher flags {other:?}")),
            };
            let addr = uri.take().ok_or("FLAGS before URI")?;
            nodes.push((addr, state));
        }
    }
    Ok(nodes)
}

impl Drop for Kamailio {
    /// SIGTERM first: Kamailio's main process then stops its worker processes, which a SIGKILL
    /// of the main process alone would leave behind holding the port.
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            sleep(Duration::from_millis(50));
        }
        super::kill_child(Some(child));
    }
}
