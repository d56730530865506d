//! Cluster-wide licences against a real PostgreSQL 15 (a throwaway server in a temporary
//! directory, a fresh database per test): several [`LeaseStore`]s, one per node as separate
//! gateways would hold them, each with its own connection pool.
//!
//! - admissions racing on three nodes for a tenant with 5 endpoint licences: exactly 5 are
//!   admitted cluster-wide, the rest are told the tenant is full;
//! - a node that stops renewing (killed) loses its leases within the lease time, while a node that
//!   keeps renewing keeps its own;
//! - releasing a call's lease, and a node restarting under its id, free licences at once;
//! - nodes starting together migrate the schema once.
//!
//!
//! And end to end, three `tessera serve --cluster-db postgres://...` nodes (each its own SQLite
//! directory with the tenant licensed for 5 endpoints) on loopback ports, called by SIPp
//! (`loadtests/sipp/short_call.xml`):
//! - 15 calls racing, 5 to each node: exactly 5 answered and 10 refused for the licence,
//!   counted from the nodes' metrics;
//! - `kill -9` of a node holding all 5 licences: a call to another node is admitted within the
//!   lease time (`--lease-secs 3`).
//!
//! And H.323 calls and dial-outs under the same leases, on two nodes with one endpoint and one
//! cascade licence: an H.323 call (the project's H.323 test caller) on one node holds the
//! endpoint licence, so a SIP call on the other gets 486, and the other way round an H.323 call
//! is released as over licence; a dial-out on one node holds the cascade licence, so one on the
//! other gets the API's 409 until the first is hung up.
//!
//! And meeting homes: the first node with a caller in a meeting is its home, the nodes whose
//! callers join later link to it (the home lists the other nodes' callers under their links,
//! each edge the home's and, passed on by the home, the other edge's), and when the home is killed one of the others becomes the home within
//! the lease time and the last one links to it, while the calls carry on.
//!
//! And a home that drains (SIGTERM) keeps the meeting whole: a caller who arrives at another
//! node meanwhile is linked in with the draining node's caller, and once that caller hangs up
//! the drained node exits 0 and the other node becomes the home.
//!
//! Needs PostgreSQL 15 (Debian `postgresql`) and SIPp (`sip-tester`); `.ci/install-deps.sh`
//! installs both.

// Leases lapse on the database's wall clock: the expiry test waits for it, polling.
#![allow(clippy::disallowed_methods)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::h323_caller::{H323Call, H323State};
use common::postgres::{meeting_home, shared};
use common::serve_node::ServeNode;
use common::short_call::ShortCall;
use common::{eventually, free_media_ports};
use gateway::calls::CallKind;
use gateway::cluster::{spawn_renewal, Admission, LeaseError, LeaseStore};
use gateway::directory::{pg_latest_version, DbLocation};
use h323::call::LocalMedia;
use h323::h225::ReleaseCompleteReason;
use h323::q931::cause;
use signaling::TenantKey;

fn tenant() -> TenantKey {
    TenantKey::new("1000").unwrap()
}

fn node(db: &DbLocation, id: &str, lease: Duration) -> LeaseStore {
    LeaseStore::connect(db, id, &format!("{id}.test:5060"), lease, 8).unwrap()
}

fn fresh() -> DbLocation {
    shared().fresh_database().parse().unwrap()
}

#[test]
fn admissions_racing_on_three_nodes_admit_exactly_the_licences() {
    let db = fresh();
    let lease = Duration::from_secs(15);
    let nodes: Vec<LeaseStore> = ["a", "b", "c"]
        .iter()
        .map(|id| node(&db, id, lease))
        .collect();
    let start = Arc::new(Barrier::new(15));
    let racers: Vec<_> = (0..15)
        .map(|i| {
            let store = nodes[i % 3].clone();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                store
                    .acquire(&tenant(), CallKind::Endpoint, &format!("call-{i}"), 5)
                    .unwrap()
            })
        })
        .collect();
    let outcomes: Vec<Admission> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let admitted = outcomes
        .iter()
        .filter(|o| **o == Admission::Admitted)
        .count();
    assert_eq!(admitted, 5, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Admission::Admitted | Admission::Full { held: 5 })),
        "{outcomes:?}"
    );
    assert_eq!(nodes[0].held(&tenant(), CallKind::Endpoint).unwrap(), 5);
    // Cascade licences are counted apart from endpoint licences.
    assert_eq!(
        nodes[1]
            .acquire(&tenant(), CallKind::Cascade, "link-1", 1)
            .unwrap(),
        Admission::Admitted
    );
    assert_eq!(
        nodes[2]
            .acquire(&tenant(), CallKind::Cascade, "link-2", 1)
            .unwrap(),
        Admission::Full { held: 1 }
    );
}

#[test]
fn a_released_lease_frees_its_licence_and_asking_again_for_a_held_call_admits_it() {
    let db = fresh();
    let a = node(&db, "a", Duration::from_secs(15));
    let b = node(&db, "b", Duration::from_secs(15));
    assert_eq!(
        a.acquire(&tenant(), CallKind::Endpoint, "x", 1).unwrap(),
        Admission::Admitted
    );
    // The same call asking again (a retransmitted INVITE) is not a second licence.
    assert_eq!(
        a.acquire(&tenant(), CallKind::Endpoint, "x", 1).unwrap(),
        Admission::Admitted
    );
    // The same call id on another node is another call.
    assert_eq!(
        b.acquire(&tenant(), CallKind::Endpoint, "x", 1).unwrap(),
        Admission::Full { held: 1 }
    );
    assert!(!b.release("x").unwrap(), "b held nothing");
    assert!(a.release("x").unwrap());
    assert_eq!(
        b.acquire(&tenant(), CallKind::Endpoint, "x", 1).unwrap(),
        Admission::Admitted
    );
}

#[test]
fn a_killed_nodes_leases_lapse_within_the_lease_time_and_a_live_nodes_do_not() {
    let db = fresh();
    let lease = Duration::from_secs(2);
    let live = node(&db, "live", lease);
    let killed = node(&db, "killed", lease);
    let other = node(&db, "other", lease);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // `live` and `other` renew as running nodes do; `killed` never does.
    let renewals =
        runtime.block_on(async { [spawn_renewal(live.clone()), spawn_renewal(other.clone())] });
    for i in 0..3 {
        assert_eq!(
            live.acquire(&tenant(), CallKind::Endpoint, &format!("live-{i}"), 5)
                .unwrap(),
            Admission::Admitted
        );
    }
    for i in 0..2 {
        assert_eq!(
            killed
                .acquire(&tenant(), CallKind::Endpoint, &format!("killed-{i}"), 5)
                .unwrap(),
            Admission::Admitted
        );
    }
    // `killed` stops here: it never renews nor releases, as after kill -9.
    let died = Instant::now();
    assert_eq!(
        other
            .acquire(&tenant(), CallKind::Endpoint, "new-0", 5)
            .unwrap(),
        Admission::Full { held: 5 }
    );
    let mut admitted = 0;
    while admitted < 2 {
        assert!(
            died.elapsed() < lease + Duration::from_secs(2),
            "the killed node's licences were not free within the lease time ({admitted} of 2)"
        );
        match other
            .acquire(&tenant(), CallKind::Endpoint, &format!("new-{admitted}"), 5)
            .unwrap()
        {
            Admission::Admitted => admitted += 1,
            Admission::Full { .. } => thread::sleep(Duration::from_millis(100)),
        }
    }
    // Not freed before the lease time (less the time the admissions above took).
    assert!(
        died.elapsed() >= lease - Duration::from_millis(500),
        "{:?}",
        died.elapsed()
    );
    // Well past one lease time, the renewing nodes still hold their three and two.
    thread::sleep(lease);
    assert_eq!(
        other
            .acquire(&tenant(), CallKind::Endpoint, "new-2", 5)
            .unwrap(),
        Admission::Full { held: 5 }
    );
    assert_eq!(live.held(&tenant(), CallKind::Endpoint).unwrap(), 5);
    for renewal in renewals {
        renewal.abort();
    }
}

#[test]
fn a_lease_store_whose_last_handle_goes_on_a_tokio_worker_closes_without_aborting() {
    // The drained gateway's last lease release dropped the store on a worker thread, where
    // closing a pooled `postgres` connection panicked ("a runtime within a runtime") and the
    // process aborted on its way out.
    let store = node(&fresh(), "closing", Duration::from_secs(60));
    store
        .acquire(&tenant(), CallKind::Endpoint, "c1", 1)
        .unwrap(); // a connection, idle in the pool now
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dropped = runtime.block_on(async { tokio::spawn(async move { drop(store) }).await });
    assert!(dropped.is_ok(), "dropping the store panicked: {dropped:?}");
}

#[test]
fn a_node_restarting_or_shutting_down_drops_its_own_leases_at_once() {
    let db = fresh();
    let first = node(&db, "a", Duration::from_secs(60));
    for i in 0..2 {
        first
            .acquire(&tenant(), CallKind::Endpoint, &format!("c{i}"), 2)
            .unwrap();
    }
    assert_eq!(first.held(&tenant(), CallKind::Endpoint).unwrap(), 2);
    let again = node(&db, "a", Duration::from_secs(60));
    assert_eq!(again.held(&tenant(), CallKind::Endpoint).unwrap(), 0);
    // A node shutting down gives up its leases at once, and only its own.
    let other = node(&db, "b", Duration::from_secs(60));
    again
        .acquire(&tenant(), CallKind::Endpoint, "c0", 2)
        .unwrap();
    other
        .acquire(&tenant(), CallKind::Endpoint, "c1", 2)
        .unwrap();
    assert_eq!(again.release_all().unwrap(), 1);
    assert_eq!(other.held(&tenant(), CallKind::Endpoint).unwrap(), 1);
}

#[test]
fn nodes_starting_together_migrate_the_schema_once() {
    let db = fresh();
    let starts: Vec<_> = (0..3)
        .map(|i| {
            let db = db.clone();
            thread::spawn(move || node(&db, &format!("n{i}"), Duration::from_secs(15)))
        })
        .collect();
    for s in starts {
        s.join().unwrap();
    }
    let DbLocation::Postgres(url) = &db else {
        unreachable!()
    };
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let version: i64 = client
        .query_one("SELECT version FROM tessera_schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, pg_latest_version());
    let nodes: i64 = client
        .query_one("SELECT count(*) FROM nodes", &[])
        .unwrap()
        .get(0);
    assert_eq!(nodes, 3);
    // The schema's own checks hold in PostgreSQL as in SQLite.
    let bad_key = client.execute(
        "INSERT INTO tenants (key, name, endpoint_licenses, cascade_licenses, who_can_bypass, \
         callers_bypass, anonymous_can_start, legacy_trusted_vtc_bypass) \
         VALUES ('12ab', 'x', 1, 1, 'everyone', false, false, false)",
        &[],
    );
    assert!(bad_key.is_err());
}

#[test]
fn leases_are_refused_on_sqlite_and_for_bad_settings() {
    let sqlite: DbLocation = "/tmp/x.db".parse().unwrap();
    assert!(matches!(
        LeaseStore::connect(&sqlite, "a", "a:5060", Duration::from_secs(15), 1),
        Err(LeaseError::NotPostgres(_))
    ));
    let db = fresh();
    assert!(matches!(
        LeaseStore::connect(&db, "", "a:5060", Duration::from_secs(15), 1),
        Err(LeaseError::EmptyNodeId)
    ));
    assert!(matches!(
        LeaseStore::connect(&db, "a", "a:5060", Duration::from_millis(10), 1),
        Err(LeaseError::LeaseTime(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Three `tessera serve` nodes

const TOKEN: &str = "cluster-licences-test-token-0123";
const TENANT: &str = "12345678";
const CONFERENCE: &str = "2000001";
const PATIENCE: Duration = Duration::from_secs(30);

/// One `tessera serve` with cluster licences in `cluster_db` (its own SQLite directory).
struct Node(ServeNode);

impl std::ops::Deref for Node {
    type Target = ServeNode;

    fn deref(&self) -> &ServeNode {
        &self.0
    }
}

impl Node {
    /// A node whose tenant has 5 endpoint licences.
    fn start(cluster_db: &str, id: &str, lease_secs: u32) -> Node {
        Node::licensed(cluster_db, id, lease_secs, &["--endpoint-licenses", "5"])
    }

    /// A node whose tenant has the `licences` flags of `tessera tenant set`.
    fn licensed(cluster_db: &str, id: &str, lease_secs: u32, licences: &[&str]) -> Node {
        let tenant: Vec<&str> = ["tenant", "set", "--key", TENANT]
            .into_iter()
            .chain(licences.iter().copied())
            .collect();
        let meeting = common::open_meeting(TENANT, CONFERENCE);
        let lease = lease_secs.to_string();
        let flags = [
            "--cluster-db",
            cluster_db,
            "--node-id",
            id,
            "--lease-secs",
            &lease,
            "--sip-limits-exempt",
            "127.0.0.0/8",
            // A SIGTERMed node's calls end on their own, not at the grace.
            "--drain-grace-secs",
            "120",
        ];
        Node(ServeNode::on_sqlite(
            &[&tenant, &meeting],
            TOKEN,
            44_000,
            &flags,
        ))
    }

    /// Calls this node admitted so far.
    fn admitted(&self) -> u64 {
        self.metric(&format!(
            "tessera_calls_total{{protocol=\"sip\",route=\"direct\",tenant=\"{TENANT}\"}} "
        ))
    }

    /// Calls this node refused for the licence so far.
    fn refused_for_licence(&self) -> u64 {
        self.metric(&format!(
            "tessera_calls_refused_total{{reason=\"licence\",tenant=\"{TENANT}\"}} "
        ))
    }
}

/// A SIPp call to the meeting at `node`.
struct SippCall(ShortCall);

impl SippCall {
    fn place(node: &Node, hold_ms: u32) -> SippCall {
        SippCall::place_as(node, hold_ms, "racer")
    }

    /// A call whose From display name (the roster's name for it) is `caller`.
    fn place_as(node: &Node, hold_ms: u32, caller: &str) -> SippCall {
        let service = format!("{TENANT}.{CONFERENCE}");
        SippCall(ShortCall::place(node.sip, &service, hold_ms, caller))
    }

    /// Waits (bounded) for SIPp to finish, however the call went.
    fn finish(mut self) {
        let _ = self.0.succeeded();
    }
}

fn logs(nodes: &[Node]) -> String {
    nodes
        .iter()
        .map(|n| format!("--- node {}:\n{}", n.sip, n.log_tail()))
        .collect()
}

#[test]
fn calls_racing_on_three_nodes_admit_exactly_the_tenants_licences_and_a_killed_nodes_come_back() {
    let url = shared().fresh_database();
    let lease_secs = 3;
    let mut nodes: Vec<Node> = ["n1", "n2", "n3"]
        .iter()
        .map(|id| Node::start(&url, id, lease_secs))
        .collect();

    // 15 calls at once, 5 to each node, each held long enough that all overlap even when
    // starting 15 SIPp processes takes seconds on a loaded machine (an admitted call that ended
    // before the last one started would free its licence for it).
    let racing: Vec<SippCall> = (0..15)
        .map(|i| SippCall::place(&nodes[i % 3], 20_000))
        .collect();
    let settled = eventually(Duration::from_secs(30), || {
        let (admitted, refused): (u64, u64) = nodes
            .iter()
            .map(|n| (n.admitted(), n.refused_for_licence()))
            .fold((0, 0), |(a, r), (na, nr)| (a + na, r + nr));
        admitted + refused >= 15
    });
    let admitted: u64 = nodes.iter().map(Node::admitted).sum();
    let refused: u64 = nodes.iter().map(Node::refused_for_licence).sum();
    assert!(settled, "not all 15 calls decided\n{}", logs(&nodes));
    assert_eq!((admitted, refused), (5, 10), "{}", logs(&nodes));
    for call in racing {
        call.finish();
    }

    // Node 1 takes all 5 licences, then dies without a word.
    let before = nodes[0].admitted();
    let held: Vec<SippCall> = (0..5).map(|_| SippCall::place(&nodes[0], 60_000)).collect();
    assert!(
        eventually(Duration::from_secs(30), || nodes[0].admitted()
            == before + 5),
        "node 1 did not take the 5 licences\n{}",
        logs(&nodes)
    );
    let refused_before = nodes[1].refused_for_licence();
    SippCall::place(&nodes[1], 500).finish();
    assert_eq!(
        nodes[1].refused_for_licence(),
        refused_before + 1,
        "a sixth call while node 1 holds all 5 is refused\n{}",
        logs(&nodes)
    );
    let killed = nodes.remove(0);
    killed.signal("-KILL");
    let died = Instant::now();
    drop(held);

    let admitted_before = nodes[0].admitted();
    // The lease time plus room for a few SIPp calls' start-up on a loaded machine.
    let patience = Duration::from_secs(u64::from(lease_secs) + 10);
    let came_back = eventually(patience, || {
        SippCall::place(&nodes[0], 500).finish();
        nodes[0].admitted() > admitted_before
    });
    assert!(
        came_back,
        "no call admitted within the lease time after kill -9\n{}",
        logs(&nodes)
    );
    assert!(died.elapsed() <= patience, "{:?}", died.elapsed());
    drop(killed);
}

// ---------------------------------------------------------------------------------------------
// H.323 calls and dial-out cascade links under the same leases

/// The live leases of the test tenant in the cluster's database, as (node, lease name, kind),
/// ordered.
fn leases_in(url: &str) -> Vec<(String, String, String)> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .query(
            "SELECT node, call_id, kind FROM licence_leases \
             WHERE tenant_key = $1 AND expires > now() ORDER BY node, call_id",
            &[&TENANT],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

/// Asks `node` to dial a bridge at `bridge` into the meeting: the status and body.
fn dial_out(node: &Node, bridge: SocketAddr) -> (u16, String) {
    let body = format!(r#"{{"uri": "sip:meeting@{bridge}", "display_name": "rmx"}}"#);
    node.send(
        "POST",
        &format!("/api/v1/meetings/{TENANT}/{CONFERENCE}/cascades"),
        &body,
    )
}

/// Where the test H.323 caller says it receives media (nobody reads them).
fn h323_media() -> LocalMedia {
    let base = free_media_ports();
    LocalMedia {
        audio: ([127, 0, 0, 1], base).into(),
        video: ([127, 0, 0, 1], base + 2).into(),
    }
}

#[test]
fn h323_calls_and_dial_outs_take_the_clusters_endpoint_and_cascade_licences_with_sip_calls() {
    let url = shared().fresh_database();
    let licences = ["--endpoint-licenses", "1", "--cascade-licenses", "1"];
    let nodes = [
        Node::licensed(&url, "a", 3, &licences),
        Node::licensed(&url, "b", 3, &licences),
    ];
    let [a, b] = &nodes;
    let alias = format!("{TENANT}.{CONFERENCE}");

    // An H.323 call on a holds the tenant's one endpoint licence: a SIP call on b gets 486.
    let h323 = H323Call::place(a.h323, &alias, h323_media());
    assert_eq!(
        h323.settled(PATIENCE),
        H323State::Connected,
        "{}",
        logs(&nodes)
    );
    SippCall::place(b, 500).finish();
    assert_eq!(b.refused_for_licence(), 1, "{}", logs(&nodes));
    assert_eq!(b.admitted(), 0);

    // A dial-out on a holds the one cascade licence (from the dial on, the bridge never
    // answering): one on b is refused with the API's licence error.
    let bridge = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (status, dialled) = dial_out(a, bridge.local_addr().unwrap());
    assert_eq!(status, 201, "{dialled}\n{}", logs(&nodes));
    let (status, refused) = dial_out(b, bridge.local_addr().unwrap());
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused.contains("cascade licence limit of 1 reached"),
        "{refused}"
    );
    let held: Vec<(String, String)> = leases_in(&url)
        .into_iter()
        .map(|(node, name, kind)| (node, format!("{kind} {name}")))
        .collect();
    assert_eq!(held.len(), 2, "{held:?}");
    assert!(
        held.iter().all(|(node, _)| node == "a")
            && held.iter().any(|(_, l)| l.starts_with("endpoint h323:"))
            && held.iter().any(|(_, l)| l.starts_with("cascade dial-out:")),
        "{held:?}"
    );

    // The H.323 caller hangs up: its lease goes, and a SIP call on b takes the licence...
    drop(h323);
    assert!(
        eventually(PATIENCE, || leases_in(&url).len() == 1),
        "the H.323 call's lease stayed: {:?}",
        leases_in(&url)
    );
    let _sip = SippCall::place(b, 60_000);
    assert!(
        eventually(PATIENCE, || b.admitted() == 1),
        "{}",
        logs(&nodes)
    );
    // ... so an H.323 call on a is released as over licence (SIP's 486).
    let refused = H323Call::place(a.h323, &alias, h323_media());
    assert_eq!(
        refused.settled(PATIENCE),
        H323State::Released(
            Some(ReleaseCompleteReason::InConf(())),
            Some(cause::USER_BUSY)
        ),
        "{}",
        logs(&nodes)
    );
    assert_eq!(
        a.metric(&format!(
            "tessera_calls_refused_total{{reason=\"licence\",tenant=\"{TENANT}\"}} "
        )),
        1
    );

    // Hanging the dial-out on a up frees the cascade licence for b.
    let id = serde_json::from_str::<serde_json::Value>(&dialled).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/meetings/{TENANT}/{CONFERENCE}/cascades/{id}");
    let (status, body) = a.send("DELETE", &path, "");
    assert_eq!(status, 204, "{body}");
    assert!(
        eventually(PATIENCE, || dial_out(b, bridge.local_addr().unwrap()).0
            == 201),
        "b could not dial out after a hung up: {:?}\n{}",
        leases_in(&url),
        logs(&nodes)
    );
}

// ---------------------------------------------------------------------------------------------
// Meeting homes

/// The meeting's view on `node` (`GET /api/v1/meetings/...`), or `Null` when it cannot be read.
fn meeting_view(node: &Node) -> serde_json::Value {
    match node.get(&format!("/api/v1/meetings/{TENANT}/{CONFERENCE}")) {
        Some(body) => serde_json::from_str(&body).unwrap_or_default(),
        None => serde_json::Value::Null,
    }
}

/// Whether `node`'s view of the meeting has a cluster link from node `from` (a cascade
/// participant of that name) with `callers` listed under it.
fn links_in(node: &Node, from: &str, callers: &[&str]) -> bool {
    common::linked_from(&meeting_view(node), from, callers)
}

/// Whether `node` sees `callers` under its (one) link to the meeting's home.
fn sees_home(node: &Node, callers: &[&str]) -> bool {
    let view = meeting_view(node);
    callers.iter().all(|caller| {
        view["remote"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["display_name"] == *caller)
    })
}

/// The meeting's home node as the cluster's database has it.
fn home_in(url: &str) -> Option<String> {
    meeting_home(url, TENANT, CONFERENCE)
}

#[test]
fn a_meeting_is_homed_where_it_starts_the_other_nodes_link_to_it_and_a_killed_home_is_replaced() {
    let url = shared().fresh_database();
    let lease_secs = 3;
    let ids = ["h1", "h2", "h3"];
    let mut nodes: Vec<Node> = ids
        .iter()
        .map(|id| Node::start(&url, id, lease_secs))
        .collect();

    // The first caller's node claims the meeting.
    let _first = SippCall::place_as(&nodes[0], 90_000, "caller-1");
    assert!(
        eventually(PATIENCE, || home_in(&url).as_deref() == Some("h1")),
        "h1 did not become the home ({:?})\n{}",
        home_in(&url),
        logs(&nodes)
    );
    // Callers landing on the other nodes: each node links to the home.
    let _second = SippCall::place_as(&nodes[1], 90_000, "caller-2");
    let _third = SippCall::place_as(&nodes[2], 90_000, "caller-3");
    assert!(
        eventually(PATIENCE, || links_in(&nodes[0], "h2", &["caller-2"])
            && links_in(&nodes[0], "h3", &["caller-3"])),
        "the home does not list both links with their callers: {}\n{}",
        meeting_view(&nodes[0]),
        logs(&nodes)
    );
    assert!(
        eventually(PATIENCE, || sees_home(&nodes[1], &["caller-1", "caller-3"])
            && sees_home(&nodes[2], &["caller-1", "caller-2"])),
        "an edge does not see the whole meeting (the home's caller, and the other edge's the \
         home passes on): {} / {}\n{}",
        meeting_view(&nodes[1]),
        meeting_view(&nodes[2]),
        logs(&nodes)
    );
    assert_eq!(home_in(&url).as_deref(), Some("h1"), "the home stays put");

    // The home dies without a word: within the lease time one of the others takes the meeting
    // over and the last one links to it.
    let killed = nodes.remove(0);
    killed.signal("-KILL");
    let moved = eventually(
        Duration::from_secs(u64::from(lease_secs) + 20),
        || match home_in(&url).as_deref() {
            Some("h2") => {
                links_in(&nodes[0], "h3", &["caller-3"]) && sees_home(&nodes[1], &["caller-2"])
            }
            Some("h3") => {
                links_in(&nodes[1], "h2", &["caller-2"]) && sees_home(&nodes[0], &["caller-3"])
            }
            _ => false,
        },
    );
    assert!(
        moved,
        "no new home linked to after kill -9 (home {:?}): {} / {}\n{}",
        home_in(&url),
        meeting_view(&nodes[0]),
        meeting_view(&nodes[1]),
        logs(&nodes)
    );
    // The callers on the surviving nodes are still in the meeting.
    for (node, caller) in nodes.iter().zip(["caller-2", "caller-3"]) {
        let view = meeting_view(node);
        assert!(
            view["participants"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["display_name"] == caller),
            "{caller} left with the home: {view}"
        );
    }
    drop(killed);
}

#[test]
fn a_draining_home_keeps_its_meeting_whole_until_its_callers_leave_then_exits() {
    let url = shared().fresh_database();
    let mut nodes: Vec<Node> = ["d1", "d2"]
        .iter()
        .map(|id| Node::start(&url, id, 3))
        .collect();
    // The home's caller stays long enough for the checks below, then hangs up by itself.
    let first = SippCall::place_as(&nodes[0], 30_000, "caller-1");
    assert!(
        eventually(PATIENCE, || home_in(&url).as_deref() == Some("d1")),
        "d1 did not become the home ({:?})\n{}",
        home_in(&url),
        logs(&nodes)
    );
    nodes[0].signal("-TERM");
    assert!(
        eventually(PATIENCE, || nodes[0].log().contains("draining")),
        "d1 did not start draining\n{}",
        logs(&nodes)
    );
    // A caller arriving at the other node meanwhile joins the draining home's meeting.
    let second = SippCall::place_as(&nodes[1], 60_000, "caller-2");
    assert!(
        eventually(PATIENCE, || links_in(&nodes[0], "d2", &["caller-2"])
            && sees_home(&nodes[1], &["caller-1"])),
        "the meeting split while its home drains: {} / {}\n{}",
        meeting_view(&nodes[0]),
        meeting_view(&nodes[1]),
        logs(&nodes)
    );
    // The home's caller leaves: the drained node exits cleanly, the other node takes the
    // meeting over with its caller still in it.
    first.finish();
    let status = nodes[0].0.wait_exit(PATIENCE);
    assert!(status.success(), "{status:?}\n{}", logs(&nodes));
    assert!(
        eventually(PATIENCE, || home_in(&url).as_deref() == Some("d2")),
        "d2 did not take the meeting over ({:?})\n{}",
        home_in(&url),
        logs(&nodes)
    );
    let view = meeting_view(&nodes[1]);
    assert!(
        view["participants"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["display_name"] == "caller-2"),
        "caller-2 left with the drained home: {view}"
    );
    drop(second);
}
