//! Per-source SIP limits through the core: floods and bad messages ban their source (dropped
//! unread, metrics counted) while other sources go on; bans end; the per-source caps on calls
//! and on unanswered transactions answer 503; exempt networks are not limited.

use super::*;

fn limited(configure: impl FnOnce(&mut signaling::limits::LimitConfig)) -> Harness {
    Harness::with(
        |_| {},
        |c| {
            c.source_limits.max_messages = 20;
            c.source_limits.max_bad_messages = 3;
            configure(&mut c.source_limits);
        },
    )
}

fn options(n: u32) -> String {
    format!(
        "OPTIONS sip:12345678.1177958860@gw SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-o{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:board@192.0.2.10>;tag=o\r\n\
         To: <sip:12345678.1177958860@gw>\r\n\
         Call-ID: options-{n}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn other_source() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: "192.0.2.20:5060".parse().unwrap(),
    }
}

#[test]
fn a_flood_bans_its_source_and_another_source_still_gets_in() {
    let mut h = limited(|_| {});
    for n in 0..20 {
        h.send(&options(n));
    }
    assert_eq!(
        h.codes().len(),
        20,
        "every message inside the limit is answered"
    );
    h.send(&options(20));
    h.send(&invite("sip:12345678.1177958860@gw", "flooded"));
    assert!(h.take_sent().is_empty(), "a banned source is not answered");
    assert_eq!(
        h.metrics
            .sip_banned_total
            .with_label_values(&["flood"])
            .get(),
        1
    );
    assert_eq!(h.metrics.sip_banned_sources.get(), 1);
    assert_eq!(h.metrics.sip_dropped_total.get(), 2);

    let other = invite("sip:12345678.1177958860@gw", "other").replace("192.0.2.10", "192.0.2.20");
    h.core
        .handle_datagram(h.now, other.as_bytes(), other_source());
    h.collect();
    assert_eq!(h.final_response().status(), Some(200));

    // The ban ends after its time.
    h.advance(signaling::limits::LimitConfig::default().ban);
    assert_eq!(h.metrics.sip_banned_sources.get(), 0);
    h.take_sent();
    h.send(&options(21));
    assert_eq!(h.codes(), vec![200]);
}

#[test]
fn repeated_bad_messages_ban_their_source() {
    let mut h = limited(|_| {});
    for _ in 0..4 {
        h.send("INVITE nonsense\r\n\r\n");
    }
    assert_eq!(
        h.metrics
            .sip_banned_total
            .with_label_values(&["bad-messages"])
            .get(),
        1
    );
    h.take_sent();
    h.send(&options(0));
    assert!(h.take_sent().is_empty());
}

#[test]
fn calls_beyond_the_per_source_dialog_cap_get_503() {
    let mut h = limited(|l| l.max_dialogs = 2);
    let uri = "sip:12345678.1177958860@gw";
    h.send(&invite(uri, "c1"));
    h.send(&invite(uri, "c2"));
    assert_eq!(h.core.active_calls(), 2);
    h.take_sent();
    h.send(&invite(uri, "c3"));
    let refused = h.final_response();
    assert_eq!(refused.status(), Some(503));
    assert!(refused
        .reason()
        .unwrap_or_default()
        .contains("too many calls from this source"));
    assert_eq!(
        h.metrics
            .sip_source_limited_total
            .with_label_values(&["dialogs"])
            .get(),
        1
    );
    let other = invite(uri, "c4").replace("192.0.2.10", "192.0.2.20");
    h.core
        .handle_datagram(h.now, other.as_bytes(), other_source());
    h.collect();
    assert_eq!(h.final_response().status(), Some(200));
}

#[test]
fn requests_beyond_the_per_source_cap_on_unanswered_transactions_get_503() {
    let mut h = Harness::with(
        |_| {},
        |c| {
            c.source_limits.max_transactions = 2;
            c.ring_time = Duration::from_secs(10);
        },
    );
    let uri = "sip:12345678.1177958860@gw";
    // Two calls ringing: their INVITE transactions wait for the final response.
    h.send(&invite(uri, "c1"));
    h.send(&invite(uri, "c2"));
    assert!(h.codes().iter().all(|c| *c < 200));
    h.send(&invite(uri, "c3"));
    h.send(&options(0));
    let finals: Vec<u16> = h.codes().into_iter().filter(|c| *c >= 200).collect();
    assert_eq!(
        finals,
        vec![503, 503],
        "(the INVITE's 100 Trying comes first)"
    );
    assert_eq!(
        h.metrics
            .sip_source_limited_total
            .with_label_values(&["transactions"])
            .get(),
        2
    );
    // Answered, they no longer count (however long they linger for retransmissions).
    h.advance(Duration::from_secs(10));
    h.take_sent();
    h.send(&options(1));
    assert_eq!(h.codes(), vec![200]);
}

#[test]
fn exempt_networks_are_not_limited() {
    let mut h = Harness::with(
        |_| {},
        |c| {
            c.source_limits.max_messages = 5;
            c.source_limits_exempt = vec!["192.0.2.0/28".parse().unwrap()];
        },
    );
    for n in 0..50 {
        h.send(&options(n));
    }
    assert_eq!(h.codes().len(), 50);
    assert_eq!(h.metrics.sip_banned_sources.get(), 0);
}
