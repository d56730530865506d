//! Several gateways behind Kamailio, end to end: three `tessera serve` nodes sharing one
//! directory in PostgreSQL (a fresh database on the throwaway server, its tenant and meetings
//! made once with the CLI) and counting licences and meeting homes there (`--cluster-db`), as a
//! real cluster runs, on free loopback ports, and Kamailio running the shipped
//! `deploy/kamailio/kamailio.cfg` in front of them, probing them with OPTIONS every second. SIPp
//! calls go to Kamailio; where they land is read from each node's admin API (`/api/v1/meetings`,
//! `/metrics`, its log) and the dispatcher's view from `kamcmd`.
//!
//! - calls to different meetings spread over the nodes by the Request-URI user, both dial orders
//!   of one meeting land on the same node, and every call is answered;
//! - SIGTERM of a node: its OPTIONS answer turns 503, Kamailio takes it out of rotation and sends
//!   its meetings' new calls elsewhere (it refuses none), while its own call finishes and the
//!   node then exits 0;
//! - `kill -9` of a node: calls on the other nodes carry on to their BYE, Kamailio marks it
//!   inactive, and new calls for its meetings are answered by the live nodes.
//!
//! One meeting spread over nodes (cluster links to its home) and the licences counted
//! cluster-wide are `tests/cluster_licences.rs`'s.
//!
//! Needs Kamailio (Debian `kamailio`, with `kamcmd`), SIPp (`sip-tester`) and PostgreSQL 15;
//! `bash .ci/test.sh` installs them. Timeouts are generous and nothing asserts speed.

// Real processes on the wall clock: this file waits and polls, which the sans-IO crates may not.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::kamailio::{Kamailio, NodeState};
use common::serve_node::ServeNode;
use common::short_call::ShortCall;
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
struct Node(ServeNode);

impl std::ops::Deref for Node {
    type Target = ServeNode;

    fn deref(&self) -> &ServeNode {
        &self.0
    }
}

impl std::ops::DerefMut for Node {
    fn deref_mut(&mut self) -> &mut ServeNode {
        &mut self.0
    }
}

impl Node {
    /// Node `id` on the cluster's directory and licences in PostgreSQL at `url`; calls from
    /// Kamailio's loopback address are exempt from the per-source limits (every call arrives
    /// from it).
    fn start(url: &str, id: &str, drain_grace_secs: u32) -> Node {
        let grace = drain_grace_secs.to_string();
        let flags = [
            "--cluster-db",
            url,
            "--node-id",
            id,
            "--drain-grace-secs",
            &grace,
            "--sip-limits-exempt",
            "127.0.0.0/8",
        ];
        Node(ServeNode::start(url, TOKEN, 46_000, &flags))
    }

    /// SIP calls this node has answered so far (`tessera_calls_total`, direct dial).
    fn calls_answered(&self) -> u64 {
        self.metric(&format!(
            "tessera_calls_total{{protocol=\"sip\",route=\"direct\",tenant=\"{TENANT}\"}} "
        ))
    }

    /// INVITEs from `from` (Kamailio) this node refused, read from its log: the metric would
    /// also count the cluster links other nodes dial to a draining home.
    fn refused_from(&self, from: SocketAddr) -> usize {
        self.log()
            .lines()
            .filter(|l| {
                l.contains("call refused")
                    && (l.contains(&format!("from=udp:{from} "))
                        || l.contains(&format!("from=tcp:{from} ")))
            })
            .count()
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
        // One directory for the whole cluster, made once with the CLI.
        let url = common::postgres::shared().fresh_database();
        common::cli(&url, &["init", "--demo"]);
        let licences = [
            "tenant",
            "set",
            "--key",
            TENANT,
            "--endpoint-licenses",
            "100",
        ];
        common::cli(&url, &licences);
        for conference in MEETINGS {
            common::cli(&url, &common::open_meeting(TENANT, conference));
        }
        let nodes: Vec<Node> = ["n1", "n2", "n3"]
            .iter()
            .map(|id| Node::start(&url, id, drain_grace_secs))
            .collect();
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
                    self.nodes[i].has_process()
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

/// One SIPp call through Kamailio.
struct Call(ShortCall);

impl Call {
    fn place(to: SocketAddr, dial: &str, hold_ms: u32) -> Call {
        Call(ShortCall::place(to, dial, hold_ms, "cluster"))
    }

    fn succeeded(&mut self) -> bool {
        self.0.succeeded()
    }

    fn errors(&self) -> String {
        self.0.errors()
    }

    /// Asserts the call succeeded.
    fn expect_success(mut self, cluster: &Cluster) {
        if !self.succeeded() {
            panic!("{}\n{}", self.errors(), cluster.logs());
        }
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
        cluster.nodes[draining].refused_from(front),
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
