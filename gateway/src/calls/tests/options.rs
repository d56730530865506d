//! OPTIONS as a dispatcher's health probe (Kamailio in front of several gateways): 200 while the
//! gateway takes calls, 503 + Retry-After while it drains or is full, and 200 again once it has
//! room, so the dispatcher takes it out of rotation and back. An OPTIONS within a call is a
//! keep-alive and stays 200.

use super::*;

/// An out-of-dialog OPTIONS as Kamailio's dispatcher sends it; `n` keeps each probe its own
/// transaction.
pub(super) fn probe(n: u32) -> String {
    format!(
        "OPTIONS sip:gw.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-probe{n}\r\nMax-Forwards: 70\r\n\
         From: <sip:dispatcher@192.0.2.1>;tag=p{n}\r\nTo: <sip:gw.example.com>\r\n\
         Call-ID: probe-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

fn retry_after(r: &Message) -> Option<&str> {
    r.headers.get(&HeaderName::new("Retry-After").unwrap())
}

#[test]
fn options_is_200_while_calls_are_taken() {
    let mut h = Harness::new();
    h.send(&probe(1));
    let r = h.final_response();
    assert_eq!(r.status(), Some(200));
    assert_eq!(retry_after(&r), None);
}

#[test]
fn options_is_503_with_retry_after_while_draining_even_with_calls_still_up() {
    let mut h = Harness::with(|_| {}, |c| c.drain_grace = Duration::from_secs(10));
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let ok = h.final_response();
    h.send(&ack(&ok, ""));
    h.core.begin_drain(h.now);
    h.send(&probe(1));
    let r = h.final_response();
    assert_eq!(r.status(), Some(503));
    assert_eq!(retry_after(&r), Some("30"));
    assert_eq!(
        r.reason(),
        Some("Service Unavailable - gateway shutting down")
    );
    assert_eq!(h.core.active_calls(), 1, "the established call carries on");
    // A probe is not a call: it is not counted as a refused one.
    assert_eq!(
        h.metrics
            .calls_refused_total
            .with_label_values(&["-", "draining"])
            .get(),
        0
    );
}

#[test]
fn options_within_a_call_stays_200_while_draining() {
    let mut h = Harness::with(|_| {}, |c| c.drain_grace = Duration::from_secs(10));
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let ok = h.final_response();
    h.send(&ack(&ok, ""));
    h.core.begin_drain(h.now);
    // A room system's in-dialog keep-alive: the call goes on until the drain grace ends.
    h.send(&in_dialog("OPTIONS", &ok, 2, "", ""));
    assert_eq!(h.final_response().status(), Some(200));
    h.send(&probe(1));
    assert_eq!(h.final_response().status(), Some(503));
}

#[test]
fn options_is_503_when_max_calls_are_up_and_200_once_one_ends() {
    let mut h = Harness::with(|_| {}, |c| c.max_calls = Some(1));
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let ok = h.final_response();
    h.send(&ack(&ok, ""));
    h.send(&probe(1));
    let r = h.final_response();
    assert_eq!(r.status(), Some(503));
    assert_eq!(retry_after(&r), Some("5"));
    assert_eq!(
        r.reason(),
        Some("Service Unavailable - gateway at capacity")
    );
    h.send(&in_dialog("BYE", &ok, 2, "", ""));
    assert_eq!(h.final_response().status(), Some(200));
    h.send(&probe(2));
    assert_eq!(h.final_response().status(), Some(200));
}

#[test]
fn options_follows_the_measured_encoder_load() {
    let mut h = Harness::new();
    h.core.set_overloaded(true);
    h.send(&probe(1));
    assert_eq!(h.final_response().status(), Some(503));
    h.core.set_overloaded(false);
    h.send(&probe(2));
    assert_eq!(h.final_response().status(), Some(200));
}
