//! Several gateways behind Kamailio, end to end: three `tessera serve` nodes (each its own
//! temporary SQLite directory with the demo tenant and the same meetings, free loopback ports)
//! and Kamailio running the shipped `deploy/kamailio/kamailio.cfg` in front of them, probing
//! them with OPTIONS every second. SIPp calls go to Kamailio; where they land is read from each
//! node's admin API (`/api/v1/meetings`, `/metrics`) and the dispatcher's view from `kamcmd`.
//!
//! - calls to different meetings spread over the nodes by the Request-URI user, both dial orders
//!   of one meeting land on the same node, and every call is answered;
//! - SIGTERM of a node: its OPTIONS answer turns 503, Kamailio takes it out of rotation and sends
//!   its meetings' new calls elsewhere (it refuses none), while its own call finishes and the
//!   node then exits 0;
//! - `kill -9` of a node: calls on the other nodes carry on to their BYE, Kamailio marks it
//!   inactive, and new calls for its meetings are answered by the live nodes.
//!
//! Not here (issue 14, other branches): one meeting spread over nodes with Tessera-to-Tessera
//! cascade links, and licences counted cluster-wide in PostgreSQL.
//!
//! Needs Kamailio (Debian `kamailio`, with `kamcmd`) and SIPp (`sip-tester`); `bash .ci/test.sh`
//! installs both. Timeouts are generous and nothing asserts speed.

// Real processes on the wall clock: this file waits and polls, which the sans-IO crates may not.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::kamailio::{Kamailio, NodeState};
use common::{free_media_ports, free_sip_port, tail, Chunked};
use serde_json::Value;

const TOKEN: &str = "cluster-test-token-0123456789";
const TENANT: &str = "12345678";
/// Meetings every node's directory holds (everyone bypasses the lobby, anyone may start).
const MEETINGS: [&str; 9] = [
    "3000001", "3000002", "3000003", "3000004", "3000005", "3000006", "3000007", "3000008",
    "3000009",
];
/// Seconds between Kamailio's OPTIONS probes.
const PING_INTERVAL_SECS: u32 = 1;
const PATIENCE: Duration = Duration::from_secs(30);
/// How long Kamailio may take to act on what its probes see (ten probe intervals: the machine
/// may be loaded), well below the draining node's call of 20 s.
const PROBE_PATIENCE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Nodes

/// One `tessera serve` of the cluster.
struct Node {
    child: Option<Child>,
    sip: SocketAddr,
    http: SocketAddr,
    dir: tempfile::TempDir,
}

impl Node {
    /// A node with its own database; calls from Kamailio's loopback address are exempt from the
    /// per-source limits (every call arrives from it).
    fn start(drain_grace_secs: u32) -> Node {
        common::start_with_retries(|| Node::try_start(drain_grace_secs))
    }

    fn try_start(drain_grace_secs: u32) -> Result<Node, String> {
        let licences = [
            "tenant",
            "set",
            "--key",
            TENANT,
            "--endpoint-licenses",
            "100",
        ];
        let meetings: Vec<[&str; 9]> = MEETINGS
            .iter()
            .map(|conference| {
                [
                    "meeting",
                    "add",
                    "--tenant",
                    TENANT,
                    "--conference-id",
                    conference,
                    "--who-can-bypass",
                    "everyone",
                    "--anonymous-can-start=on",
                ]
            })
            .collect();
        let mut setup: Vec<&[&str]> = vec![&licences];
        setup.extend(meetings.iter().map(|m| &m[..]));
        let (dir, db) = common::prepare_db(&setup);
        let sip = SocketAddr::from(([127, 0, 0, 1], free_sip_port()));
        let http = SocketAddr::from(([127, 0, 0, 1], common::free_tcp_port()));
        let rtp = common::rtp_ports(46_000, 40);
        let mut command = common::serve_command(&db, TOKEN, sip, http, &rtp);
        command
            .args(["--drain-grace-secs", &drain_grace_secs.to_string()])
            .args(["--sip-limits-exempt", "127.0.0.0/8"]);
        let child = common::spawn_logged(&mut command, dir.path());
        let node = Node {
            child: Some(child),
            sip,
            http,
            dir,
        };
        common::wait_until_healthy(node, PATIENCE)
    }

    fn get(&self, path: &str) -> Option<String> {
        match common::http_request(self.http, "GET", path, Some(TOKEN), Chunked::Decode) {
            Ok((200, body)) => Some(body),
            _ => None,
        }
    }

    /// SIP calls this node has answered so far (`tessera_calls_total`, direct dial).
    fn calls_answered(&self) -> u64 {
        let metrics = self.get("/metrics").unwrap_or_default();
        common::metric_value(
            &metrics,
            &format!(
                "tessera_calls_total{{protocol=\"sip\",route=\"direct\",tenant=\"{TENANT}\"}} "
            ),
        )
    }

    /// INVITEs this node refused while draining.
    fn refused_draining(&self) -> u64 {
        let metrics = self.get("/metrics").unwrap_or_default();
        common::metric_value(
            &metrics,
            "tessera_calls_refused_total{reason=\"draining\",tenant=\"-\"} ",
        )
    }

    /// The live meetings here: conference ID and how many are in it or wait.
    fn live_meetings(&self) -> BTreeMap<String, u64> {
        let Some(body) = self.get("/api/v1/meetings") else {
            return BTreeMap::new();
        };
        let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let list = value
            .as_array()
            .or_else(|| value["meetings"].as_array())
            .cloned()
            .unwrap_or_default();
        list.iter()
            .filter_map(|m| {
                let conference = m["conference_id"].as_str()?.to_owned();
                let count = m["participants"].as_u64()? + m["lobby"].as_u64().unwrap_or(0);
                Some((conference, count))
            })
            .collect()
    }

    fn is_running(&mut self) -> bool {
        common::child_running(self.child.as_mut())
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("node already stopped").id();
        let sent = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("cannot run kill");
        assert!(sent.success(), "kill {signal} {pid} failed");
    }

    /// Waits (bounded) for the process to exit and returns its status.
    fn wait_exit(&mut self, patience: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("node already stopped");
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                common::kill_child(Some(child));
                panic!(
                    "node {} did not exit within {patience:?}; log:\n{}",
                    self.sip,
                    self.log_tail()
                );
            }
            sleep(Duration::from_millis(50));
        }
    }

    fn log_tail(&self) -> String {
        tail(&common::read_log(self.dir.path()), 40)
    }
}

impl common::Launched for Node {
    fn is_running(&mut self) -> bool {
        Node::is_running(self)
    }

    fn is_healthy(&self) -> bool {
        matches!(
            common::http_request(self.http, "GET", "/healthz", None, Chunked::Keep),
            Ok((200, _))
        )
    }

    fn start_log(&self) -> String {
        self.log_tail()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        common::kill_child(self.child.take());
    }
}

/// Three nodes and Kamailio in front of them.
struct Cluster {
    nodes: Vec<Node>,
    kamailio: Kamailio,
}

impl Cluster {
    fn start(drain_grace_secs: u32) -> Cluster {
        require("kamailio", "kamailio");
        require("sipp", "sip-tester");
        let nodes: Vec<Node> = (0..3).map(|_| Node::start(drain_grace_secs)).collect();
        let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.sip).collect();
        let kamailio = Kamailio::start(&addrs, PING_INTERVAL_SECS);
        Cluster { nodes, kamailio }
    }

    /// The index of the node where `conference` is live, polling until it shows (bounded).
    fn node_of(&self, conference: &str) -> usize {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let found: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| {
                    self.nodes[i].child.is_some()
                        && self.nodes[i].live_meetings().contains_key(conference)
                })
                .collect();
            match found[..] {
                [one] => return one,
                [] if Instant::now() < deadline => sleep(Duration::from_millis(100)),
                _ => panic!(
                    "meeting {conference} live on nodes {found:?}\n{}",
                    self.logs()
                ),
            }
        }
    }

    /// Every node's and Kamailio's log tail, for failure messages.
    fn logs(&self) -> String {
        let mut text = String::new();
        for (i, node) in self.nodes.iter().enumerate() {
            text.push_str(&format!(
                "--- node {i} ({}) ---\n{}\n",
                node.sip,
                node.log_tail()
            ));
        }
        text.push_str(&format!("--- kamailio ---\n{}\n", self.kamailio.log()));
        text
    }
}

/// Fails (never skips) when a tool the test needs is missing.
fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{tool}` is not on PATH: run `bash .ci/test.sh`, which installs Debian's {package}"
    );
}

// ---------------------------------------------------------------------------------------------
// Calls

/// One SIPp call (`loadtests/sipp/short_call.xml`) through `to`, up for `hold_ms`.
struct Call {
    child: Option<Child>,
    dir: tempfile::TempDir,
    dial: String,
}

impl Call {
    fn place(to: SocketAddr, dial: &str, hold_ms: u32) -> Call {
        let dir = tempfile::tempdir().unwrap();
        let scenario =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../loadtests/sipp/short_call.xml");
        let screen = fs::File::create(dir.path().join("screen.log")).unwrap();
        let child = Command::new("sipp")
            .current_dir(dir.path())
            .arg(to.to_string())
            .arg("-sf")
            .arg(scenario)
            .args(["-s", dial, "-m", "1", "-d", &hold_ms.to_string()])
            .args([
                "-key",
                "dial_host",
                &to.to_string(),
                "-key",
                "caller",
                "cluster",
            ])
            .args(["-i", "127.0.0.1", "-p", &free_sip_port().to_string()])
            .args(["-mp", &free_media_ports().to_string()])
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
            .expect("cannot run sipp");
        Call {
            child: Some(child),
            dir,
            dial: dial.to_owned(),
        }
    }

    /// Waits (bounded) for SIPp; true when the call went as the scenario expects (answered,
    /// held, BYE answered).
    fn succeeded(&mut self) -> bool {
        let mut child = self.child.take().expect("already waited");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            if Instant::now() > deadline {
                common::kill_child(Some(child));
                return false;
            }
            sleep(Duration::from_millis(50));
        }
    }

    fn errors(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "sipp dialling {}:\n{}\n{}",
            self.dial,
            tail(&read("errors.log"), 20),
            tail(&read("screen.log"), 20)
        )
    }

    /// Asserts the call succeeded.
    fn expect_success(mut self, cluster: &Cluster) {
        if !self.succeeded() {
            panic!("{}\n{}", self.errors(), cluster.logs());
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        common::kill_child(self.child.take());
    }
}

fn dial(conference: &str) -> String {
    format!("{TENANT}.{conference}")
}

/// The other dial order (conference ID first), which resolves to the same meeting.
fn dial_reversed(conference: &str) -> String {
    format!("{conference}.{TENANT}")
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn shipped_config_passes_kamailios_own_check_with_its_defaults() {
    require("kamailio", "kamailio");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kamailio/kamailio.cfg");
    let list = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kamailio/dispatcher.list");
    // Only the list's path changes (the default is /etc/kamailio's, absent here); `-c` parses
    // the file, loads the modules and checks the routes, binding nothing.
    let out = Command::new("kamailio")
        .arg("-c")
        .arg("-f")
        .arg(&config)
        .args(["-A", &format!("DISPATCHER_LIST=\"{}\"", list.display())])
        .output()
        .expect("cannot run kamailio");
    assert!(
        out.status.success(),
        "kamailio -c refused deploy/kamailio/kamailio.cfg:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn calls_spread_over_the_nodes_by_dial_string_and_a_meeting_stays_on_one_node() {
    let cluster = Cluster::start(2);
    let front = cluster.kamailio.sip;
    // Both dial orders of every meeting, all up at once, and up long enough (20 s) for the
    // nodes' meeting views to be read while they are: on a loaded machine (CI, three nodes per
    // test, four tests at once) those reads took longer than a 6 s call lasted.
    let mut calls = Vec::new();
    for conference in MEETINGS {
        calls.push(Call::place(front, &dial(conference), 20_000));
        calls.push(Call::place(front, &dial_reversed(conference), 20_000));
    }
    let deadline = Instant::now() + PATIENCE;
    let placement = loop {
        let live: Vec<BTreeMap<String, u64>> =
            cluster.nodes.iter().map(Node::live_meetings).collect();
        let in_calls: u64 = live.iter().flat_map(|m| m.values()).sum();
        if in_calls == 2 * MEETINGS.len() as u64 {
            break live;
        }
        assert!(
            Instant::now() < deadline,
            "not every call arrived: {live:?}\n{}",
            cluster.logs()
        );
        sleep(Duration::from_millis(100));
    };
    for conference in MEETINGS {
        let holders: Vec<(usize, u64)> = placement
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.get(conference).map(|&n| (i, n)))
            .collect();
        assert_eq!(
            holders.len(),
            1,
            "meeting {conference}'s two callers (both dial orders) on one node: {placement:?}"
        );
        assert_eq!(holders[0].1, 2, "{placement:?}");
    }
    let used = placement.iter().filter(|m| !m.is_empty()).count();
    assert_eq!(
        used, 3,
        "nine meetings hash onto all three nodes: {placement:?}"
    );
    for call in calls {
        call.expect_success(&cluster);
    }
    let answered: u64 = cluster.nodes.iter().map(Node::calls_answered).sum();
    assert_eq!(answered, 2 * MEETINGS.len() as u64);
}

#[test]
fn a_draining_node_leaves_the_rotation_while_its_calls_finish() {
    let mut cluster = Cluster::start(60);
    let front = cluster.kamailio.sip;
    let conference = MEETINGS[0];
    let long = Call::place(front, &dial(conference), 20_000);
    let draining = cluster.node_of(conference);
    let node = cluster.nodes[draining].sip;

    cluster.nodes[draining].signal("-TERM");
    // Within a few probes, and long before the call ends (a node that exits is taken out too).
    assert!(
        cluster
            .kamailio
            .wait_for_state(node, NodeState::Inactive, PROBE_PATIENCE),
        "Kamailio kept the draining node {node} in rotation: {:?}\n{}",
        cluster.kamailio.node_states(),
        cluster.logs()
    );
    // The same meeting's next caller lands on a node that takes calls.
    let before: Vec<u64> = cluster.nodes.iter().map(Node::calls_answered).collect();
    Call::place(front, &dial(conference), 1_000).expect_success(&cluster);
    let after: Vec<u64> = cluster.nodes.iter().map(Node::calls_answered).collect();
    assert_eq!(after[draining], before[draining], "{before:?} -> {after:?}");
    assert_eq!(
        after.iter().sum::<u64>(),
        before.iter().sum::<u64>() + 1,
        "{before:?} -> {after:?}"
    );
    assert_eq!(
        cluster.nodes[draining].refused_draining(),
        0,
        "Kamailio sent the draining node an INVITE\n{}",
        cluster.logs()
    );
    assert!(
        cluster.nodes[draining].is_running(),
        "the draining node exited with its call still up\n{}",
        cluster.logs()
    );

    long.expect_success(&cluster);
    let status = cluster.nodes[draining].wait_exit(PATIENCE);
    assert!(
        status.success(),
        "drained node exited {status}\n{}",
        cluster.logs()
    );
}

#[test]
fn a_killed_node_leaves_the_others_calls_up_and_its_meetings_move_to_live_nodes() {
    let mut cluster = Cluster::start(2);
    let front = cluster.kamailio.sip;
    let mut calls: Vec<(String, Call)> = MEETINGS
        .iter()
        .map(|c| (c.to_string(), Call::place(front, &dial(c), 10_000)))
        .collect();
    let homes: BTreeMap<String, usize> = MEETINGS
        .iter()
        .map(|c| (c.to_string(), cluster.node_of(c)))
        .collect();
    let victim = homes[MEETINGS[0]];
    let victim_addr = cluster.nodes[victim].sip;

    cluster.nodes[victim].signal("-KILL");
    let _ = cluster.nodes[victim].wait_exit(PATIENCE);

    // Right away (before or after the probe notices): a new call for the dead node's meeting is
    // answered by a live node, Kamailio failing over when the dead one does not answer.
    let before: u64 = cluster.nodes.iter().map(Node::calls_answered).sum();
    Call::place(front, &dial(MEETINGS[0]), 1_000).expect_success(&cluster);
    let after: u64 = cluster.nodes.iter().map(Node::calls_answered).sum();
    assert_eq!(after, before + 1, "answered by a live node");
    assert!(
        cluster
            .kamailio
            .wait_for_state(victim_addr, NodeState::Inactive, PATIENCE),
        "Kamailio kept the dead node {victim_addr} in rotation: {:?}",
        cluster.kamailio.node_states()
    );

    // The calls on the other nodes carry on to their own end.
    for (conference, call) in &mut calls {
        if homes[conference.as_str()] == victim {
            continue;
        }
        if !call.succeeded() {
            panic!("{}\n{}", call.errors(), cluster.logs());
        }
    }
    assert!(
        homes.values().any(|&home| home != victim),
        "some calls were on the surviving nodes: {homes:?}"
    );
}
