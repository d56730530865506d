//! Tessera links on the virtual clock: two call cores (node A dialling node B's meeting) exchange
//! SIP bytes through the test; both SDPs carry `a=tessera-cascade:1`, each side's roster reaches
//! the other in an INFO and is listed under the link, nobody comes back over the link they came
//! from, a foreign bridge (no marker) gets neither marker nor roster, and an inbound link stays
//! marked in its re-INVITE answers and loses its far roster with its BYE.

use super::cascade::{cascades_in_use, one_cascade_licence};
use super::*;
use crate::calls::tessera::roster::{RemoteKind, Roster, CONTENT_TYPE};

/// Node A's SIP address (the harness default); node B's below.
pub(super) const NODE_A: &str = "203.0.113.1:5060";
pub(super) const NODE_B: &str = "198.51.100.2:5060";

/// Node B: A's network is a cascade rule, and B has one cascade licence.
fn node_b() -> Harness {
    Harness::with(
        |dir| {
            let rule = TrustedDeviceRule::cidr("203.0.113.0/24").unwrap();
            dir.add_device_rule(&key(), &rule, true).unwrap();
            one_cascade_licence(dir);
        },
        |config| {
            config.sip_addr = NODE_B.parse().unwrap();
            config.media_ip = "198.51.100.2".parse().unwrap();
        },
    )
}

pub(super) fn udp(addr: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: addr.parse().unwrap(),
    }
}

/// Carries every message each node sent to the other until both are quiet; returns the INFO
/// requests that crossed (A's first, then B's).
pub(super) fn shuttle(a: &mut Harness, b: &mut Harness) -> (Vec<Message>, Vec<Message>) {
    let (mut from_a, mut from_b) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        let (to_b, to_a) = (a.take_sent(), b.take_sent());
        if to_b.is_empty() && to_a.is_empty() {
            break;
        }
        for m in to_b {
            if m.method() == Some(&Method::Info) {
                from_a.push(m.clone());
            }
            b.core.handle_datagram(b.now, &m.to_bytes(), udp(NODE_A));
            b.collect();
        }
        for m in to_a {
            if m.method() == Some(&Method::Info) {
                from_b.push(m.clone());
            }
            a.core.handle_datagram(a.now, &m.to_bytes(), udp(NODE_B));
            a.collect();
        }
    }
    (from_a, from_b)
}

/// Moves both clocks on by `by` in 100 ms steps, carrying messages at each.
pub(super) fn run(a: &mut Harness, b: &mut Harness, by: Duration) -> (Vec<Message>, Vec<Message>) {
    let (mut from_a, mut from_b) = (Vec::new(), Vec::new());
    let step = Duration::from_millis(100);
    let mut gone = Duration::ZERO;
    while gone < by {
        a.advance(step);
        b.advance(step);
        let (x, y) = shuttle(a, b);
        from_a.extend(x);
        from_b.extend(y);
        gone += step;
    }
    (from_a, from_b)
}

pub(super) fn links(h: &mut Harness) -> Vec<CascadeLinkView> {
    match h
        .core
        .handle_admin(
            h.now,
            AdminCommand::ListCascades {
                tenant: demo::DEMO_TENANT.into(),
                conference: demo::DEMO_CONFERENCE.into(),
            },
        )
        .unwrap()
    {
        AdminReply::Cascades(links) => links,
        other => panic!("expected links, got {other:?}"),
    }
}

/// Node A (one participant, "Ada Lovelace") dials node B's demo meeting (two participants).
fn linked() -> (Harness, Harness) {
    let mut a = Harness::with(one_cascade_licence, |_| {});
    a.core
        .add_synthetic(a.now, &key(), &conf(), "Ada Lovelace")
        .unwrap();
    let mut b = node_b();
    for name in ["Grace Hopper", "Alan Turing"] {
        b.core.add_synthetic(b.now, &key(), &conf(), name).unwrap();
    }
    a.collect();
    b.collect();
    let reply = a.core.handle_admin(
        a.now,
        AdminCommand::DialCascade {
            tenant: demo::DEMO_TENANT.into(),
            conference: demo::DEMO_CONFERENCE.into(),
            request: DialRequest {
                uri: format!("sip:12345678.1177958860@{NODE_B}"),
                display_name: "Node A".into(),
                credentials: None,
            },
        },
    );
    assert!(
        matches!(reply, Ok(AdminReply::CascadeDialled(_))),
        "{reply:?}"
    );
    a.collect();
    let invite = a
        .sent
        .iter()
        .find(|m| m.method() == Some(&Method::Invite))
        .expect("A dials B")
        .clone();
    let offer = String::from_utf8_lossy(invite.body()).into_owned();
    assert!(offer.contains("a=tessera-cascade:1\r\n"), "{offer}");
    (a, b)
}

#[test]
fn two_nodes_marking_their_sdp_exchange_rosters_and_list_the_far_side_under_the_link() {
    let (mut a, mut b) = linked();
    // B rings the call for its ring time, then answers; the link comes up on both sides.
    let (from_a, from_b) = run(&mut a, &mut b, Duration::from_secs(5));
    assert_eq!(links(&mut a)[0].state, "up");
    assert!(links(&mut a)[0].tessera, "both SDPs carry the marker");
    assert_eq!(cascades_in_use(&a), 1);
    assert_eq!(cascades_in_use(&b), 1);

    for info in from_a.iter().chain(&from_b) {
        assert_eq!(info.content_type(), Some(CONTENT_TYPE));
    }
    assert_eq!(from_a.len(), 1, "A's roster once: it did not change");
    assert_eq!(from_b.len(), 1, "B's roster once");

    // B lists A's participant under the link (the link's participant id on B).
    let b_view = b.view();
    let link_on_b = b_view
        .participants
        .iter()
        .find(|p| p.kind == "cascade")
        .expect("the link is a cascade participant on B");
    let remote_on_b: Vec<_> = b_view
        .remote
        .iter()
        .map(|r| r.display_name.as_str())
        .collect();
    assert_eq!(remote_on_b, ["Ada Lovelace"]);
    assert!(b_view.remote.iter().all(|r| r.via == link_on_b.id));
    assert_eq!(b_view.remote[0].kind, RemoteKind::Synthetic);
    assert_eq!(b_view.remote[0].node, "203.0.113.1");

    // A lists B's two, and neither roster holds the link itself or anyone sent back (no echo).
    let a_view = a.view();
    let mut remote_on_a: Vec<_> = a_view
        .remote
        .iter()
        .map(|r| r.display_name.clone())
        .collect();
    remote_on_a.sort();
    assert_eq!(remote_on_a, ["Alan Turing", "Grace Hopper"]);
    assert!(!remote_on_a.contains(&"Ada Lovelace".to_owned()), "no echo");

    // A change on B reaches A within a second; an idle link sends nothing more.
    b.core
        .add_synthetic(b.now, &key(), &conf(), "Barbara Liskov")
        .unwrap();
    b.collect();
    let (from_a, from_b) = run(&mut a, &mut b, Duration::from_millis(1500));
    assert!(from_a.is_empty(), "A's side did not change");
    assert_eq!(from_b.len(), 1, "B's new roster");
    assert_eq!(a.view().remote.len(), 3);
    let (from_a, from_b) = run(&mut a, &mut b, Duration::from_secs(5));
    assert!(from_a.is_empty() && from_b.is_empty(), "idle: no INFO");
}

#[test]
fn a_bad_roster_is_refused_with_400_and_the_last_good_one_stays() {
    let (mut a, mut b) = linked();
    let (from_a, _) = run(&mut a, &mut b, Duration::from_secs(5));
    let good = from_a.first().expect("A's roster").clone();
    assert_eq!(b.view().remote.len(), 1);

    // The same INFO, replayed with a later CSeq and a body naming an unknown speaker.
    let body = br#"{"version":1,"node":"x","participants":[],"speakers":["p9"]}"#.to_vec();
    let mut bad = good.clone();
    bad.headers.set(HeaderName::CSEQ, "900 INFO");
    let via = good
        .headers
        .get(&HeaderName::VIA)
        .unwrap()
        .replace("z9hG4bK", "z9hG4bKbad");
    bad.headers.set(HeaderName::VIA, via);
    let bad = bad.with_body(CONTENT_TYPE, body);
    b.core.handle_datagram(b.now, &bad.to_bytes(), udp(NODE_A));
    b.collect();
    let answer = b.final_response();
    assert_eq!(answer.status(), Some(400));
    assert!(
        answer
            .reason()
            .is_some_and(|r| r.contains("unknown participant")),
        "{answer:?}"
    );
    assert_eq!(b.view().remote.len(), 1, "the last good roster stays");
}

#[test]
fn a_foreign_bridge_gets_no_marker_and_no_roster() {
    // Node B answering a bridge whose offer has no marker: a plain cascade link.
    let mut b = node_b();
    b.core
        .add_synthetic(b.now, &key(), &conf(), "Grace Hopper")
        .unwrap();
    b.collect();
    let text = invite_with(
        "sip:12345678.1177958860@gw",
        "rmx-1",
        1,
        "z9hG4bK-rmx-1",
        "rmx",
        "",
        PCMU_OFFER,
    )
    .replace("192.0.2.10", "203.0.113.9");
    b.core
        .handle_datagram(b.now, text.as_bytes(), udp("203.0.113.9:5060"));
    b.collect();
    b.advance(Duration::from_secs(5));
    let ok = b.final_response();
    assert_eq!(ok.status(), Some(200));
    let answer = String::from_utf8_lossy(ok.body()).into_owned();
    assert!(!answer.contains("tessera-cascade"), "{answer}");
    assert_eq!(cascades_in_use(&b), 1, "still a cascade link");
    b.send(&ack(&ok, "").replace("192.0.2.10", "203.0.113.9"));
    b.advance(Duration::from_secs(5));
    assert!(
        b.take_sent()
            .iter()
            .all(|m| m.method() != Some(&Method::Info)),
        "no roster to a foreign bridge"
    );
    assert!(b.view().remote.is_empty());
}

#[test]
fn a_marked_offer_from_a_caller_outside_the_cascade_rules_is_a_plain_call() {
    // The harness's room system (192.0.2.10) matches no cascade rule on node B.
    let mut b = node_b();
    let marked = PCMU_OFFER.replace("t=0 0\r\n", "t=0 0\r\na=tessera-cascade:1\r\n");
    b.send(&invite_with(
        "sip:12345678.1177958860@gw",
        "vtc-1",
        1,
        "z9hG4bK-vtc-1",
        "room",
        "",
        &marked,
    ));
    b.advance(Duration::from_secs(5));
    let ok = b.final_response();
    assert_eq!(ok.status(), Some(200));
    let answer = String::from_utf8_lossy(ok.body()).into_owned();
    assert!(!answer.contains("tessera-cascade"), "{answer}");
    assert_eq!(cascades_in_use(&b), 0, "an endpoint, not a link");
}

#[test]
fn an_inbound_tessera_link_stays_marked_on_reinvite_and_its_roster_goes_with_its_bye() {
    // The harness's caller (192.0.2.10) is a bridge here, offering the marker.
    let mut h = Harness::with(
        |dir| {
            let rule = TrustedDeviceRule::cidr("192.0.2.0/24").unwrap();
            dir.add_device_rule(&key(), &rule, true).unwrap();
            one_cascade_licence(dir);
        },
        |_| {},
    );
    let marked = PCMU_OFFER.replace("t=0 0\r\n", "t=0 0\r\na=tessera-cascade:1\r\n");
    h.send(&invite_with(
        "sip:12345678.1177958860@gw",
        "node-c",
        1,
        "z9hG4bK-node-c",
        "tessera",
        "",
        &marked,
    ));
    h.advance(Duration::from_secs(5));
    let ok = h.final_response();
    assert_eq!(ok.status(), Some(200));
    assert!(String::from_utf8_lossy(ok.body()).contains("a=tessera-cascade:1\r\n"));
    h.send(&ack(&ok, ""));

    let roster = r#"{"version":1,"node":"192.0.2.10","participants":[{"id":"p1","name":"Lin","kind":"browser"}]}"#;
    h.send(&in_dialog(
        "INFO",
        &ok,
        2,
        &format!("Content-Type: {CONTENT_TYPE}\r\n"),
        roster,
    ));
    assert_eq!(h.final_response().status(), Some(200));
    let view = h.view();
    assert_eq!(view.remote.len(), 1);
    assert_eq!(view.remote[0].display_name, "Lin");
    assert_eq!(view.remote[0].kind, RemoteKind::Browser);

    let refresh = marked.replace("o=room 1 1", "o=room 1 2");
    h.send(&in_dialog(
        "INVITE",
        &ok,
        3,
        "Contact: <sip:tessera@192.0.2.10:5060>\r\nContent-Type: application/sdp\r\n",
        &refresh,
    ));
    let answer = h.final_response();
    assert_eq!(answer.status(), Some(200));
    assert!(
        String::from_utf8_lossy(answer.body()).contains("a=tessera-cascade:1\r\n"),
        "a re-INVITE answer stays marked"
    );

    h.send(&in_dialog("BYE", &ok, 4, "", ""));
    assert!(h.view().remote.is_empty(), "the link's roster goes with it");
    assert_eq!(cascades_in_use(&h), 0);
}

#[test]
fn a_tessera_links_media_go_stream_by_stream_on_the_ssrcs_its_roster_names() {
    let (mut a, mut b) = linked();
    let (_, from_b) = run(&mut a, &mut b, Duration::from_secs(5));
    let roster = Roster::parse(from_b[0].body()).unwrap();
    let ssrcs: Vec<u32> = roster
        .participants
        .iter()
        .map(|p| p.ssrc.expect("every participant names its stream's SSRC"))
        .collect();
    assert_eq!(ssrcs.len(), 2);
    assert_ne!(ssrcs[0], ssrcs[1], "one SSRC per participant");

    // A's link is told to go stream by stream (not the bridge's bare picture) and who B's
    // SSRCs are, by the names of B's roster.
    let link_controls: Vec<&MediaControl> = a
        .media
        .iter()
        .filter_map(|m| match m {
            CoreOutput::MediaControl { control, .. } => Some(control),
            _ => None,
        })
        .collect();
    assert!(
        link_controls
            .iter()
            .any(|c| matches!(c, MediaControl::Streams { .. })),
        "{link_controls:?}"
    );
    assert!(
        !link_controls
            .iter()
            .any(|c| matches!(c, MediaControl::Layout(_))),
        "{link_controls:?}"
    );
    let streams = latest_streams(&a);
    let mut named: Vec<(u32, String)> = streams.into_iter().map(|s| (s.ssrc, s.name)).collect();
    named.sort_by(|x, y| x.1.cmp(&y.1));
    let mut expected: Vec<(u32, String)> = roster
        .participants
        .iter()
        .map(|p| (p.ssrc.unwrap(), p.name.clone()))
        .collect();
    expected.sort_by(|x, y| x.1.cmp(&y.1));
    assert_eq!(named, expected);
}

/// The far streams `h`'s core last passed to a link's media.
fn latest_streams(h: &Harness) -> Vec<rtp_session::call::RemoteStream> {
    h.media
        .iter()
        .rev()
        .find_map(|m| match m {
            CoreOutput::RemoteStreams { streams, .. } => Some(streams.clone()),
            _ => None,
        })
        .expect("the far streams passed to the link's media")
}

/// The id (`p7`) and number of `name` in `roster`.
fn entry_of(roster: &Roster, name: &str) -> (String, u64) {
    let id = roster
        .participants
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} not in {roster:?}"))
        .id
        .clone();
    let number = id.trim_start_matches('p').parse().unwrap();
    (id, number)
}

/// B's link tells B's core its engine's current speaker; the roster B sends next.
fn speaker_on_b(a: &mut Harness, b: &mut Harness, number: u64) -> Roster {
    let link = super::cascade::link_call(b);
    b.core
        .handle_media_event(b.now, link, MediaEvent::LinkSpeaker(Some(number)));
    b.collect();
    let (_, from_b) = run(a, b, Duration::from_millis(1500));
    Roster::parse(from_b[0].body()).unwrap()
}

#[test]
fn the_speaker_b_s_engine_names_leads_b_s_roster_and_marks_its_stream_speaking_at_a() {
    let (mut a, mut b) = linked();
    let (_, from_b) = run(&mut a, &mut b, Duration::from_secs(5));
    let first = Roster::parse(from_b[0].body()).unwrap();
    assert!(first.speakers.is_empty(), "nobody has talked yet");
    let (alan, alan_number) = entry_of(&first, "Alan Turing");
    let (grace, grace_number) = entry_of(&first, "Grace Hopper");
    // B's link's media task passes on what B's engine says: Alan talks, then Grace.
    let roster = speaker_on_b(&mut a, &mut b, alan_number);
    assert_eq!(roster.speakers, std::slice::from_ref(&alan));
    let streams = latest_streams(&a);
    let speaking: Vec<&str> = streams
        .iter()
        .filter(|s| s.speaking)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(speaking, ["Alan Turing"]);

    let roster = speaker_on_b(&mut a, &mut b, grace_number);
    assert_eq!(roster.speakers, [grace, alan], "most recent first");
}
