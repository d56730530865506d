//! The dialog after the INVITE: CANCEL, ringing, offerless INVITEs, re-INVITE hold, unknown
//! dialogs and methods, a missing ACK, a silent peer, and the drain.

use super::*;

#[test]
fn cancel_while_ringing_gets_487() {
    let mut h = Harness::with(|_| {}, |c| c.ring_time = Duration::from_secs(2));
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(h.codes(), [100, 180]);
    h.send(
        "CANCEL sip:12345678.1177958860@gw SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-c1;rport\r\nMax-Forwards: 70\r\n\
         From: \"Board Room\" <sip:board@192.0.2.10>;tag=vtc1\r\nTo: <sip:12345678.1177958860@gw>\r\n\
         Call-ID: c1\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(h.codes(), [200, 487]);
    assert_eq!(h.core.active_calls(), 0);
    h.advance(Duration::from_secs(3));
    assert!(h.view().participants.is_empty(), "never answered");
}

#[test]
fn ringing_call_is_answered_after_the_ring_time() {
    let mut h = Harness::with(|_| {}, |c| c.ring_time = Duration::from_millis(500));
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(h.codes(), [100, 180]);
    h.advance(Duration::from_millis(500));
    assert_eq!(h.final_response().status(), Some(200));
}

#[test]
fn offerless_invite_gets_our_offer_and_the_answer_comes_in_the_ack() {
    let mut h = Harness::demo();
    h.send(&invite_with(
        "sip:12345678.1177958860@gw",
        "c1",
        1,
        "z9hG4bK1",
        "board",
        "",
        "",
    ));
    let ok = h.final_response();
    let offer = std::str::from_utf8(ok.body()).unwrap().to_owned();
    assert!(offer.contains("PCMU/8000"), "{offer}");
    assert_eq!(h.media_starts(), 0, "media waits for the answer");
    let answer = "v=0\r\no=room 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
                  m=audio 49170 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
                  m=video 0 RTP/AVP 96\r\n";
    h.send(&ack(&ok, answer));
    assert_eq!(h.media_starts(), 1, "{:?}", h.media);
}

#[test]
fn reinvite_for_hold_is_answered_recvonly() {
    let mut h = Harness::new();
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let ok = h.final_response();
    h.send(&ack(&ok, ""));
    let hold = PCMU_OFFER
        .replace("o=room 1 1", "o=room 1 2")
        .replace("a=fmtp:101 0-15\r\n", "a=fmtp:101 0-15\r\na=sendonly\r\n");
    h.send(&in_dialog(
        "INVITE",
        &ok,
        2,
        "Contact: <sip:board@192.0.2.10:5060>\r\nContent-Type: application/sdp\r\n",
        &hold,
    ));
    let r = h.final_response();
    assert_eq!(r.status(), Some(200));
    assert!(std::str::from_utf8(r.body())
        .unwrap()
        .contains("a=recvonly"));
    // An older CSeq in the dialog is refused.
    h.send(&in_dialog("INFO", &ok, 1, "", ""));
    assert_eq!(h.final_response().status(), Some(500));
}

#[test]
fn requests_for_unknown_dialogs_get_481_and_unknown_methods_405() {
    let mut h = Harness::new();
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let mut ok = h.final_response();
    ok.headers.set(HeaderName::CALL_ID, "nope");
    h.send(&in_dialog("BYE", &ok, 2, "", ""));
    assert_eq!(h.final_response().status(), Some(481));
    h.send(
        "SUBSCRIBE sip:gw SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKs\r\n\
         Max-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:gw>\r\nCall-ID: s1\r\nCSeq: 1 SUBSCRIBE\r\n\
         Content-Length: 0\r\n\r\n",
    );
    assert_eq!(h.final_response().status(), Some(405));
    h.send(&invite_with(
        "sip:12345678.1177958860@gw",
        "c9",
        1,
        "z9hG4bK9",
        "board",
        "Require: 100rel\r\n",
        PCMU_OFFER,
    ));
    assert_eq!(h.final_response().status(), Some(420));
}

#[test]
fn missing_ack_ends_the_call() {
    let mut h = Harness::new();
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    h.take_sent();
    h.advance(Duration::from_secs(33));
    let sent = h.take_sent();
    assert!(
        sent.iter().filter(|m| m.status() == Some(200)).count() >= 5,
        "2xx retransmitted"
    );
    assert!(sent.iter().any(|m| m.method() == Some(&Method::Bye)));
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn drain_refuses_new_calls_and_byes_established_ones_after_grace() {
    let mut h = Harness::with(|_| {}, |c| c.drain_grace = Duration::from_secs(5));
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let ok = h.final_response();
    h.send(&ack(&ok, ""));
    h.core.begin_drain(h.now);
    h.send(&invite("sip:12345678.1177958860@gw", "c2"));
    let r = h.final_response();
    assert_eq!(r.status(), Some(503));
    assert_eq!(
        r.headers.get(&HeaderName::new("Retry-After").unwrap()),
        Some("30")
    );
    assert!(!h.core.is_drained());
    h.advance(Duration::from_secs(5));
    let bye = h
        .take_sent()
        .into_iter()
        .find(|m| m.method() == Some(&Method::Bye))
        .unwrap();
    assert!(bye_reason(&bye).contains("cause=503"));
    assert!(!h.core.is_drained(), "the BYE is still in flight");
    let peer = h.peer();
    h.core.handle_datagram(
        h.now,
        &Message::response_to(&bye, 200, None).to_bytes(),
        peer,
    );
    h.advance(Duration::from_secs(10));
    assert!(h.core.is_drained());
}

#[test]
fn a_peer_that_goes_silent_is_hung_up_and_frees_its_licence() {
    let mut h = Harness::demo();
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let ok = h.final_response();
    h.send(&ack(&ok, ""));
    assert_eq!(licences_in_use(&h), 1);
    let CoreOutput::MediaStart { call, .. } = h.media[0].clone() else {
        panic!("{:?}", h.media)
    };
    h.core.handle_media_event(h.now, call, MediaEvent::Inactive);
    h.collect();
    let bye = h.take_sent().pop().unwrap();
    assert!(
        bye_reason(&bye).contains("cause=408"),
        "{}",
        bye_reason(&bye)
    );
    assert_eq!(licences_in_use(&h), 0, "a crashed peer frees its licence");
    assert!(h.callers().is_empty());
}
