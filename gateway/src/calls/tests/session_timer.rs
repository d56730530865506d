//! RFC 4028 session timers through the whole core on the virtual clock: 422, the refresher each
//! side gets, our refreshes at half the interval (UPDATE or re-INVITE), the peer's refreshes, and
//! BYE with a Reason (licence freed) when a refresh is missed.

use super::*;

const DEMO_URI: &str = "sip:12345678.1177958860@gw.example.com";

/// The demo meeting dialled with extra INVITE headers; returns the final response.
fn dial(h: &mut Harness, extra: &str) -> Message {
    h.send(&invite_with(
        DEMO_URI,
        "st1",
        1,
        "z9hG4bK-st1",
        "board",
        extra,
        PCMU_OFFER,
    ));
    h.final_response()
}

fn header_of<'a>(m: &'a Message, name: &str) -> Option<&'a str> {
    m.headers.get(&HeaderName::new(name).unwrap())
}

/// Dials and ACKs; the 200.
fn established(h: &mut Harness, extra: &str) -> Message {
    let ok = dial(h, extra);
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    h.send(&ack(&ok, ""));
    assert!(h.take_sent().is_empty());
    ok
}

/// Requests the core sent (not responses).
fn requests(sent: &[Message]) -> Vec<&Message> {
    sent.iter().filter(|m| m.is_request()).collect()
}

/// The VTC's 200 to a request of ours, with extra headers.
fn ok_to(request: &Message, extra: &[(&str, &str)]) -> String {
    let mut response = Message::response_to(request, 200, None);
    for (name, value) in extra {
        response = response.with_header(HeaderName::new(name).unwrap(), *value);
    }
    String::from_utf8(response.to_bytes()).unwrap()
}

#[test]
fn session_interval_below_min_se_gets_422_with_our_min_se_and_no_call() {
    let mut h = Harness::demo();
    let r = dial(&mut h, "Supported: timer\r\nSession-Expires: 30\r\n");
    assert_eq!(r.status(), Some(422));
    assert_eq!(r.reason(), Some("Session Interval Too Small"));
    assert_eq!(header_of(&r, "Min-SE"), Some("90"));
    assert_eq!(h.core.active_calls(), 0);
    assert_eq!(licences_in_use(&h), 0);
    // The caller retries with our minimum and gets in.
    h.send(&invite_with(
        DEMO_URI,
        "st1",
        2,
        "z9hG4bK-st1b",
        "board",
        "Supported: timer\r\nSession-Expires: 90\r\nMin-SE: 90\r\n",
        PCMU_OFFER,
    ));
    assert_eq!(h.final_response().status(), Some(200));
}

#[test]
fn malformed_session_expires_gets_400_with_the_reason() {
    let mut h = Harness::demo();
    let r = dial(&mut h, "Session-Expires: soon\r\n");
    assert_eq!(r.status(), Some(400));
    assert_eq!(r.reason(), Some("Bad Request - Bad Session-Expires: soon"));
}

#[test]
fn options_and_200_advertise_only_session_timers() {
    let mut h = Harness::demo();
    h.send(
        "OPTIONS sip:gw.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKo\r\n\
         Max-Forwards: 70\r\nFrom: <sip:board@192.0.2.10>;tag=1\r\nTo: <sip:gw.example.com>\r\n\
         Call-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(
        header_of(&h.final_response(), "Supported"),
        Some("timer"),
        "no Replaces (RFC 3891 is not implemented)"
    );
    let ok = dial(&mut h, "");
    assert_eq!(header_of(&ok, "Supported"), Some("timer"));
    // A caller that asks for no timer gets none.
    assert_eq!(header_of(&ok, "Session-Expires"), None);
    assert_eq!(header_of(&ok, "Require"), None);
}

#[test]
fn require_timer_is_accepted_and_other_extensions_get_420() {
    let mut h = Harness::demo();
    let ok = dial(&mut h, "Require: timer\r\nSession-Expires: 600\r\n");
    assert_eq!(ok.status(), Some(200));
    let mut h = Harness::demo();
    let r = dial(&mut h, "Require: timer, 100rel\r\n");
    assert_eq!(r.status(), Some(420));
    assert_eq!(header_of(&r, "Unsupported"), Some("100rel"));
}

#[test]
fn caller_that_supports_timers_is_the_refresher_and_its_refreshes_keep_the_call() {
    let mut h = Harness::demo();
    let ok = established(
        &mut h,
        "Supported: timer\r\nSession-Expires: 600\r\nAllow: INVITE, ACK, BYE, UPDATE\r\n",
    );
    assert_eq!(header_of(&ok, "Session-Expires"), Some("600;refresher=uac"));
    assert_eq!(header_of(&ok, "Require"), Some("timer"));
    // The caller refreshes with UPDATE (no SDP) every 300 s: the call outlives several intervals,
    // and the gateway never sends a refresh of its own.
    for (n, cseq) in (2..6).enumerate() {
        h.advance(Duration::from_secs(300));
        assert!(requests(&h.take_sent()).is_empty(), "refresh {n}");
        h.send(&in_dialog(
            "UPDATE",
            &ok,
            cseq,
            "Supported: timer\r\nSession-Expires: 600;refresher=uac\r\n",
            "",
        ));
        let r = h.final_response();
        assert_eq!(r.status(), Some(200));
        assert_eq!(header_of(&r, "Session-Expires"), Some("600;refresher=uac"));
        assert_eq!(header_of(&r, "Require"), Some("timer"));
    }
    assert_eq!(h.core.active_calls(), 1);
    assert_eq!(h.callers().len(), 1);
}

#[test]
fn peer_refresh_below_min_se_gets_422_and_leaves_the_session_as_it_was() {
    let mut h = Harness::demo();
    let ok = established(&mut h, "Supported: timer\r\nSession-Expires: 600\r\n");
    h.send(&in_dialog(
        "UPDATE",
        &ok,
        2,
        "Supported: timer\r\nSession-Expires: 10\r\n",
        "",
    ));
    let r = h.final_response();
    assert_eq!(r.status(), Some(422));
    assert_eq!(header_of(&r, "Min-SE"), Some("90"));
    assert_eq!(h.core.active_calls(), 1);
}

#[test]
fn gateway_refresher_sends_update_with_the_same_sdp_at_half_the_interval() {
    let mut h = Harness::demo();
    let ok = established(
        &mut h,
        "Supported: timer\r\nSession-Expires: 120;refresher=uas\r\n\
         Allow: INVITE, ACK, CANCEL, BYE, UPDATE\r\n",
    );
    assert_eq!(header_of(&ok, "Session-Expires"), Some("120;refresher=uas"));
    h.advance(Duration::from_secs(59));
    assert!(requests(&h.take_sent()).is_empty());
    h.advance(Duration::from_secs(1));
    let sent = h.take_sent();
    let update = match requests(&sent)[..] {
        [update] => update.clone(),
        ref other => panic!("{other:?}"),
    };
    assert_eq!(update.method(), Some(&Method::Update));
    assert_eq!(update.request_uri(), Some("sip:board@192.0.2.10:5060"));
    assert_eq!(update.to().unwrap().tag(), Some("vtc1"));
    assert_eq!(
        header_of(&update, "Session-Expires"),
        Some("120;refresher=uac")
    );
    assert_eq!(header_of(&update, "Supported"), Some("timer"));
    assert_eq!(update.body(), ok.body(), "the SDP of the 200, unchanged");
    // Answered: the next one comes half an interval after the answer, and the call goes on.
    h.send(&ok_to(&update, &[("Session-Expires", "120;refresher=uac")]));
    h.advance(Duration::from_secs(59));
    assert!(requests(&h.take_sent()).is_empty());
    h.advance(Duration::from_secs(1));
    let sent = h.take_sent();
    let again = requests(&sent);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].method(), Some(&Method::Update));
    assert!(again[0].cseq().unwrap().seq > update.cseq().unwrap().seq);
    assert_eq!(h.core.active_calls(), 1);
}

#[test]
fn gateway_refresh_repeats_the_sdp_of_the_last_answer_so_a_held_call_stays_held() {
    let mut h = Harness::demo();
    let ok = established(
        &mut h,
        "Supported: timer\r\nSession-Expires: 600;refresher=uas\r\nAllow: INVITE, ACK, BYE, UPDATE\r\n",
    );
    // The room system puts the call on hold with a re-INVITE (no Allow this time: UPDATE stays
    // allowed), refreshing the session.
    let hold = PCMU_OFFER.replace("a=fmtp:101 0-15\r\n", "a=fmtp:101 0-15\r\na=sendonly\r\n");
    h.advance(Duration::from_secs(100));
    h.send(&in_dialog(
        "INVITE",
        &ok,
        2,
        "Supported: timer\r\nSession-Expires: 600;refresher=uas\r\n\
         Contact: <sip:board@192.0.2.10:5060>\r\nContent-Type: application/sdp\r\n",
        &hold,
    ));
    let held = h.final_response();
    assert_eq!(held.status(), Some(200));
    assert!(std::str::from_utf8(held.body())
        .unwrap()
        .contains("a=recvonly"));
    assert_eq!(
        header_of(&held, "Session-Expires"),
        Some("600;refresher=uas")
    );
    h.send(&ack(&held, ""));
    h.advance(Duration::from_secs(299));
    assert!(
        requests(&h.take_sent()).is_empty(),
        "300 s after the refresh, not the INVITE"
    );
    h.advance(Duration::from_secs(1));
    let sent = h.take_sent();
    let update = requests(&sent)[0].clone();
    assert_eq!(update.method(), Some(&Method::Update));
    assert_eq!(
        update.body(),
        held.body(),
        "the hold answer, not the first 200's SDP"
    );
}

#[test]
fn gateway_refreshes_a_peer_without_update_by_reinvite_and_acks_the_200() {
    let mut h = Harness::demo();
    // No Supported: timer, but a Session-Expires (a proxy's): we must refresh, by re-INVITE as
    // the INVITE's Allow does not list UPDATE.
    let ok = established(
        &mut h,
        "Session-Expires: 90\r\nAllow: INVITE, ACK, CANCEL, BYE\r\n",
    );
    assert_eq!(header_of(&ok, "Session-Expires"), Some("90;refresher=uas"));
    assert_eq!(header_of(&ok, "Require"), None);
    h.advance(Duration::from_secs(45));
    let sent = h.take_sent();
    let reinvite = match requests(&sent)[..] {
        [r] => r.clone(),
        ref other => panic!("{other:?}"),
    };
    assert_eq!(reinvite.method(), Some(&Method::Invite));
    assert_eq!(reinvite.body(), ok.body());
    // The peer (no timer support) answers without Session-Expires: we keep refreshing.
    let reply = ok_to(&reinvite, &[]);
    h.send(&reply);
    let sent = h.take_sent();
    let acks: Vec<_> = sent
        .iter()
        .filter(|m| m.method() == Some(&Method::Ack))
        .collect();
    assert_eq!(acks.len(), 1, "{sent:?}");
    assert_eq!(
        acks[0].cseq().unwrap().seq,
        reinvite.cseq().unwrap().seq,
        "the ACK carries the re-INVITE's CSeq number"
    );
    assert_eq!(acks[0].call_id().unwrap(), "st1");
    assert!(acks[0].body().is_empty());
    // A retransmitted 200 is ACKed again.
    h.send(&reply);
    assert_eq!(
        h.take_sent()
            .iter()
            .filter(|m| m.method() == Some(&Method::Ack))
            .count(),
        1
    );
    h.advance(Duration::from_secs(45));
    assert_eq!(
        requests(&h.take_sent())
            .iter()
            .filter(|m| m.method() == Some(&Method::Invite))
            .count(),
        1
    );
    assert_eq!(h.core.active_calls(), 1);
}

#[test]
fn missed_refresh_ends_the_call_with_bye_and_a_reason_and_frees_the_licence() {
    let mut h = Harness::demo();
    established(&mut h, "Supported: timer\r\nSession-Expires: 90\r\n");
    assert_eq!(licences_in_use(&h), 1);
    // The caller is the refresher and never refreshes: BYE at 90 s less a third (60 s).
    h.advance(Duration::from_secs(59));
    assert!(requests(&h.take_sent()).is_empty());
    h.advance(Duration::from_secs(1));
    let sent = h.take_sent();
    let bye = match requests(&sent)[..] {
        [bye] => bye.clone(),
        ref other => panic!("{other:?}"),
    };
    assert_eq!(
        bye_reason(&bye),
        "SIP;cause=408;text=\"Session timer expired without a refresh\""
    );
    assert!(matches!(h.media.last(), Some(CoreOutput::MediaStop { .. })));
    assert_eq!(h.core.active_calls(), 0);
    assert_eq!(licences_in_use(&h), 0);
    assert!(h.callers().is_empty());
}

#[test]
fn unanswered_gateway_refresh_ends_a_vanished_peers_call() {
    let mut h = Harness::demo();
    established(
        &mut h,
        "Supported: timer\r\nSession-Expires: 120;refresh=x;refresher=uas\r\n\
         Allow: INVITE, ACK, BYE, UPDATE\r\n",
    );
    h.advance(Duration::from_secs(60));
    let sent = h.take_sent();
    assert_eq!(requests(&sent).len(), 1);
    // Nothing comes back (the peer is gone): the UPDATE is retransmitted, then the session
    // expires at 120 - 32 s and the call is hung up.
    h.advance(Duration::from_secs(27));
    assert!(requests(&h.take_sent())
        .iter()
        .all(|m| m.method() == Some(&Method::Update)));
    assert_eq!(h.core.active_calls(), 1);
    h.advance(Duration::from_secs(1));
    let sent = h.take_sent();
    let byes: Vec<_> = sent
        .iter()
        .filter(|m| m.method() == Some(&Method::Bye))
        .collect();
    assert_eq!(byes.len(), 1, "{sent:?}");
    assert!(bye_reason(byes[0]).contains("Session timer expired"));
    assert_eq!(h.core.active_calls(), 0);
    assert_eq!(licences_in_use(&h), 0);
}

#[test]
fn refresh_answered_481_ends_the_call_at_once() {
    let mut h = Harness::demo();
    established(
        &mut h,
        "Supported: timer\r\nSession-Expires: 600;refresher=uas\r\nAllow: UPDATE\r\n",
    );
    h.advance(Duration::from_secs(300));
    let sent = h.take_sent();
    let update = requests(&sent)[0].clone();
    let gone = Message::response_to(&update, 481, None);
    h.send(&String::from_utf8(gone.to_bytes()).unwrap());
    let sent = h.take_sent();
    assert!(
        sent.iter().any(|m| m.method() == Some(&Method::Bye)),
        "{sent:?}"
    );
    assert_eq!(h.core.active_calls(), 0);
}
