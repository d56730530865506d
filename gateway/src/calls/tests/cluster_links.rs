//! Cluster links on the virtual clock: an edge node with a caller in a meeting homed on another
//! node dials the home (challenged, then admitted with the cluster's secret), the link holds no
//! licence at either end, moves when the home moves, and goes when the edge's last caller
//! leaves; a wrong secret is refused. A draining home keeps taking links while callers of its
//! own are in the meeting, then drops them, gives the home up and ends up with no calls.

use super::cascade::cascades_in_use;
use super::tessera::{links, run, NODE_A, NODE_B};
use super::*;
use crate::cluster::Home;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn identity(node: &str, secret: &str) -> ClusterIdentity {
    ClusterIdentity {
        node: node.into(),
        secret: secret.into(),
    }
}

/// The meeting's home: node B's address, no cascade rule and no cascade licence.
fn home(secret: &str) -> Harness {
    home_with(secret, |_| {})
}

/// [`home`] with `tune` applied to its configuration after.
fn home_with(secret: &str, tune: impl FnOnce(&mut CoreConfig)) -> Harness {
    Harness::with(
        |_| {},
        |config| {
            config.sip_addr = NODE_B.parse().unwrap();
            config.media_ip = "198.51.100.2".parse().unwrap();
            config.cluster = Some(identity("home", secret));
            tune(config);
        },
    )
}

/// An edge node (node A's address), `tune` applied to its configuration.
fn edge_with(tune: impl FnOnce(&mut CoreConfig)) -> Harness {
    Harness::with(
        |_| {},
        |config| {
            config.cluster = Some(identity("edge", SECRET));
            tune(config);
        },
    )
}

/// A room system (Call-ID `call_id`) calls the demo meeting on `node` and is answered; its 200.
fn room_system_joins(node: &mut Harness, call_id: &str) -> Message {
    node.send(&invite("sip:12345678.1177958860@gw", call_id));
    node.advance(Duration::from_secs(5));
    let ok = node.final_response();
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    node.send(&ack(&ok, ""));
    ok
}

/// An edge node with one room system in the demo meeting.
fn edge_with_caller() -> (Harness, Message) {
    let mut edge = edge_with(|_| {});
    let ok = room_system_joins(&mut edge, "vtc-1");
    (edge, ok)
}

fn meeting() -> MeetingKey {
    (key(), conf())
}

/// The edge finds the meeting homed at node B and links to it there (5 s on both clocks).
fn link_to_home(edge: &mut Harness, home: &mut Harness) {
    edge.core.home_work(edge.now);
    edge.core
        .apply_home(edge.now, meeting(), home_at("home", NODE_B));
    edge.collect();
    run(edge, home, Duration::from_secs(5));
}

/// The edge's (one) link is down, last refused with `code`.
fn assert_link_refused(edge: &mut Harness, code: &str) {
    let on_edge = links(edge);
    assert_ne!(on_edge[0].state, "up", "{on_edge:?}");
    assert!(
        on_edge[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with(code)),
        "{on_edge:?}"
    );
}

fn home_at(node: &str, address: &str) -> Home {
    Home {
        node: node.into(),
        address: address.into(),
    }
}

#[test]
fn an_edge_links_its_callers_to_the_home_without_licences_and_unlinks_when_they_leave() {
    let (mut edge, ok) = edge_with_caller();
    let mut home = home(SECRET);
    let now = edge.now;
    assert_eq!(edge.core.home_work(now), [HomeTask::Claim(meeting())]);
    edge.core
        .apply_home(now, meeting(), home_at("home", NODE_B));
    edge.collect();
    let invite = edge
        .sent
        .iter()
        .find(|m| m.method() == Some(&Method::Invite) && m.call_id().ok() != ok.call_id().ok())
        .expect("the edge dials the home")
        .clone();
    assert_eq!(
        invite.request_uri(),
        Some("sip:12345678.1177958860@198.51.100.2:5060")
    );
    assert!(invite
        .from()
        .unwrap()
        .uri
        .starts_with("sip:tessera-cluster@"));

    // Challenged for the cluster's secret, answered, admitted: a Tessera link at both ends.
    run(&mut edge, &mut home, Duration::from_secs(5));
    // The home's own driver round finds the meeting homed there.
    assert_eq!(home.core.home_work(home.now), [HomeTask::Claim(meeting())]);
    home.core
        .apply_home(home.now, meeting(), home_at("home", NODE_B));
    let on_edge = links(&mut edge);
    assert_eq!(on_edge.len(), 1);
    assert_eq!(on_edge[0].state, "up", "{on_edge:?}");
    assert!(on_edge[0].tessera);
    let home_view = home.view();
    let link = home_view
        .participants
        .iter()
        .find(|p| p.kind == "cascade")
        .expect("the edge's link is a participant at the home");
    assert_eq!(link.display_name, "edge");
    assert!(
        home_view
            .remote
            .iter()
            .any(|r| r.display_name == "Board Room"),
        "the home lists the edge's caller under the link: {:?}",
        home_view.remote
    );
    // Neither end counts the link against the tenant's licences (it has no cascade licence).
    assert_eq!(cascades_in_use(&edge), 0);
    assert_eq!(cascades_in_use(&home), 0);
    // The home keeps claiming the meeting while a link is in it, though nobody of its own is,
    // and dials nobody.
    assert_eq!(home.core.home_work(home.now), [HomeTask::Claim(meeting())]);
    assert!(links(&mut home).is_empty());
    // The same home again changes nothing.
    edge.core
        .apply_home(edge.now, meeting(), home_at("home", NODE_B));
    edge.collect();
    assert!(edge.sent.iter().all(|m| m.method() != Some(&Method::Bye)));

    // The caller leaves: the edge hangs the link up and gives the meeting's home up.
    edge.send(&in_dialog("BYE", &ok, 2, "", ""));
    assert_eq!(edge.core.home_work(edge.now), [HomeTask::Leave(meeting())]);
    run(&mut edge, &mut home, Duration::from_secs(2));
    assert!(links(&mut edge).is_empty());
    assert!(home.view().participants.iter().all(|p| p.kind != "cascade"));
    // Nothing of the meeting is left at the home either: it gives its claim up.
    assert_eq!(home.core.home_work(home.now), [HomeTask::Leave(meeting())]);
}

#[test]
fn a_home_that_moves_takes_the_link_with_it_and_a_home_of_our_own_needs_none() {
    let (mut edge, _ok) = edge_with_caller();
    let now = edge.now;
    edge.core.home_work(now);
    edge.core
        .apply_home(now, meeting(), home_at("home", NODE_B));
    edge.collect();
    edge.take_sent();
    // The home died and another node took the meeting over: the link moves there.
    edge.core
        .apply_home(now, meeting(), home_at("other", "192.0.2.99:5070"));
    edge.collect();
    let invites: Vec<_> = edge
        .take_sent()
        .into_iter()
        .filter(|m| m.method() == Some(&Method::Invite))
        .collect();
    assert_eq!(invites.len(), 1, "{invites:?}");
    assert_eq!(
        invites[0].request_uri(),
        Some("sip:12345678.1177958860@192.0.2.99:5070")
    );
    // The old one is being cancelled (it goes when its CANCEL is answered or times out).
    let live = |edge: &mut Harness| -> Vec<String> {
        links(edge)
            .into_iter()
            .filter(|l| l.state != "hanging-up")
            .map(|l| l.uri)
            .collect()
    };
    assert_eq!(live(&mut edge), ["sip:12345678.1177958860@192.0.2.99:5070"]);
    // Then we became the home ourselves: no link at all.
    edge.core
        .apply_home(now, meeting(), home_at("edge", NODE_A));
    edge.collect();
    assert!(live(&mut edge).is_empty());
}

#[test]
fn a_node_without_the_clusters_secret_is_refused() {
    let (mut edge, _ok) = edge_with_caller();
    let mut home = home("another cluster's secret");
    edge.core.home_work(edge.now);
    edge.core
        .apply_home(edge.now, meeting(), home_at("home", NODE_B));
    edge.collect();
    run(&mut edge, &mut home, Duration::from_secs(3));
    assert!(home.view().participants.iter().all(|p| p.kind != "cascade"));
    let on_edge = links(&mut edge);
    assert_ne!(on_edge[0].state, "up", "{on_edge:?}");
    assert!(
        on_edge[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("403")),
        "{on_edge:?}"
    );
}

#[test]
fn with_cluster_licences_a_cluster_link_asks_for_no_lease_at_either_end() {
    use super::cluster_licences::leases_asked;
    use crate::calls::LeaseAnswer;
    let mut edge = edge_with(|config| config.cluster_licences = true);
    edge.send(&invite("sip:12345678.1177958860@gw", "vtc-1"));
    let (ticket, ..) = leases_asked(&mut edge, CallKind::Endpoint)[0].clone();
    edge.core
        .handle_lease(edge.now, ticket, LeaseAnswer::Admitted);
    edge.advance(Duration::from_secs(5));
    let ok = edge.final_response();
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    edge.send(&ack(&ok, ""));
    let mut home = home_with(SECRET, |config| config.cluster_licences = true);
    edge.core
        .apply_home(edge.now, meeting(), home_at("home", NODE_B));
    edge.collect();
    run(&mut edge, &mut home, Duration::from_secs(5));
    assert_eq!(links(&mut edge)[0].state, "up");
    for node in [&edge, &home] {
        assert!(
            !node
                .media
                .iter()
                .any(|out| matches!(out, CoreOutput::LeaseRequest { .. })),
            "a cluster link asked for a lease"
        );
    }
}

#[test]
fn a_full_home_still_takes_cluster_links_and_links_count_against_max_calls_at_neither_end() {
    use super::options::probe;
    // The home: one call allowed, taken by a room system of its own.
    let mut home = home_with(SECRET, |config| config.max_calls = Some(1));
    let home_ok = room_system_joins(&mut home, "home-vtc");
    home.send(&probe(1));
    assert_eq!(
        home.final_response().status(),
        Some(503),
        "the home is full"
    );
    // The edge: two calls allowed, one room system of its own.
    let mut edge = edge_with(|config| config.max_calls = Some(2));
    room_system_joins(&mut edge, "vtc-1");

    // The edge links its caller in: the full home admits the link all the same.
    link_to_home(&mut edge, &mut home);
    let on_edge = links(&mut edge);
    assert_eq!(on_edge.len(), 1);
    assert_eq!(on_edge[0].state, "up", "{on_edge:?}");
    assert!(
        home.view().participants.iter().any(|p| p.kind == "cascade"),
        "the full home took the edge's link"
    );
    // The edge, with its caller and its link, still has room for a second caller.
    edge.send(&probe(2));
    assert_eq!(edge.final_response().status(), Some(200));
    // The home's own caller leaves: with only the link in, the home takes calls again.
    home.send(&in_dialog("BYE", &home_ok, 2, "", ""));
    home.send(&probe(3));
    assert_eq!(home.final_response().status(), Some(200));
    assert!(home.view().participants.iter().any(|p| p.kind == "cascade"));
}

/// A home (node B) with a room system of its own in the meeting, claimed there, that drains
/// with a grace long enough for the test's callers to leave by themselves.
fn draining_home_with_caller() -> (Harness, Message) {
    let mut home = home_with(SECRET, |config| {
        config.drain_grace = Duration::from_secs(3600)
    });
    let ok = room_system_joins(&mut home, "home-vtc");
    assert_eq!(home.core.home_work(home.now), [HomeTask::Claim(meeting())]);
    home.core
        .apply_home(home.now, meeting(), home_at("home", NODE_B));
    home.core.begin_drain(home.now);
    home.collect();
    (home, ok)
}

#[test]
fn a_draining_home_keeps_taking_links_while_its_callers_stay_then_hands_the_meeting_on() {
    use super::options::probe;
    let (mut home, home_ok) = draining_home_with_caller();
    // Out of rotation: a dispatcher sends it no new callers.
    home.send(&probe(1));
    assert_eq!(home.final_response().status(), Some(503));
    // A new caller of the meeting lands on the edge, which finds the draining node its home.
    let (mut edge, _ok) = edge_with_caller();
    link_to_home(&mut edge, &mut home);
    // The meeting stays whole: the link is up and the home lists both nodes' callers.
    let on_edge = links(&mut edge);
    assert_eq!(on_edge.len(), 1);
    assert_eq!(on_edge[0].state, "up", "{on_edge:?}");
    let view = home.view();
    assert!(view.participants.iter().any(|p| p.kind == "cascade"));
    assert!(
        view.remote.iter().any(|r| r.display_name == "Board Room"),
        "the home lists the edge's caller: {:?}",
        view.remote
    );
    assert_eq!(view.participants.len(), 2, "{:?}", view.participants);
    // It keeps its home while its own caller is there.
    assert_eq!(home.core.home_work(home.now), [HomeTask::Claim(meeting())]);
    assert!(!home.core.is_drained());

    // Its caller leaves: the home hangs the link up and gives the meeting up for a live node.
    home.send(&in_dialog("BYE", &home_ok, 2, "", ""));
    assert_eq!(home.core.home_work(home.now), [HomeTask::Leave(meeting())]);
    run(&mut edge, &mut home, Duration::from_secs(10));
    assert!(home.core.is_drained(), "the drained node has no calls left");
    // The edge dials again and is refused by the drained node ...
    assert_link_refused(&mut edge, "503");
    assert!(home.core.is_drained());
    // ... until its next claim finds the meeting homed on itself: no link any more.
    edge.core
        .apply_home(edge.now, meeting(), home_at("edge", NODE_A));
    edge.collect();
    assert!(links(&mut edge).is_empty());
}

#[test]
fn a_draining_node_refuses_links_into_meetings_it_has_no_callers_in_and_drops_those_it_had() {
    let (mut home, home_ok) = draining_home_with_caller();
    // Its caller leaves before anyone links in: nothing holds the drain up.
    home.send(&in_dialog("BYE", &home_ok, 2, "", ""));
    home.advance(Duration::from_secs(1));
    assert!(home.core.is_drained());
    // The edge, still finding it the home (its claim not given up yet), is refused.
    let (mut edge, _ok) = edge_with_caller();
    edge.core.home_work(edge.now);
    edge.core
        .apply_home(edge.now, meeting(), home_at("home", NODE_B));
    edge.collect();
    run(&mut edge, &mut home, Duration::from_secs(3));
    assert_link_refused(&mut edge, "503");
    assert!(home.view().participants.is_empty());
    assert!(home.core.is_drained());
    assert_eq!(home.core.home_work(home.now), [HomeTask::Leave(meeting())]);
}

#[test]
fn a_home_that_starts_draining_with_only_links_in_a_meeting_drops_them_and_gives_it_up() {
    let (mut edge, _ok) = edge_with_caller();
    let mut home = home(SECRET);
    link_to_home(&mut edge, &mut home);
    assert_eq!(home.core.home_work(home.now), [HomeTask::Claim(meeting())]);
    home.core
        .apply_home(home.now, meeting(), home_at("home", NODE_B));
    assert_eq!(links(&mut edge)[0].state, "up");
    home.core.begin_drain(home.now);
    assert_eq!(home.core.home_work(home.now), [HomeTask::Leave(meeting())]);
    // (The BYE's client transaction lingers a few seconds for retransmissions.)
    run(&mut edge, &mut home, Duration::from_secs(8));
    assert!(home.core.is_drained());
    assert_ne!(links(&mut edge)[0].state, "up");
}
