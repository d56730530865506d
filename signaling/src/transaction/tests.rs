//! Transactions on a virtual clock: every timer of RFC 3261 §17 fires when it should, and
//! retransmissions are absorbed or answered.

// One arbitrary origin; after it, time moves only by what each test adds.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use super::*;
use crate::sip::Message;

const UDP_PEER: &str = "192.0.2.10:5062";

fn peer(transport: Transport) -> Peer {
    Peer {
        transport,
        addr: UDP_PEER.parse().unwrap(),
    }
}

fn request(method: &str, branch: &str, cseq: u32, via_extra: &str) -> Message {
    let text = format!(
        "{method} sip:12345678.1177958860@gw.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5062;branch={branch}{via_extra}\r\n\
         Max-Forwards: 70\r\n\
         From: \"Room\" <sip:room@192.0.2.10>;tag=abc\r\n\
         To: <sip:12345678.1177958860@gw.example.com>\r\n\
         Call-ID: call-1@192.0.2.10\r\n\
         CSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.as_bytes()).unwrap()
}

fn drain(layer: &mut TransactionLayer) -> Vec<Output> {
    std::iter::from_fn(|| layer.poll_output()).collect()
}

fn sent_codes(outputs: &[Output]) -> Vec<u16> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Transmit { message, .. } => message.status(),
            Output::Event(_) => None,
        })
        .collect()
}

fn only_request_key(outputs: &[Output]) -> TxnKey {
    outputs
        .iter()
        .find_map(|o| match o {
            Output::Event(Event::Request { key, .. }) => Some(key.clone()),
            _ => None,
        })
        .expect("a Request event")
}

/// Runs the layer's timers up to `until`, one deadline at a time, collecting outputs.
fn run_until(layer: &mut TransactionLayer, until: Instant) -> Vec<(Instant, Output)> {
    let mut seen = Vec::new();
    while let Some(at) = layer.poll_timeout() {
        if at > until {
            break;
        }
        layer.handle_timeout(at);
        seen.extend(drain(layer).into_iter().map(|o| (at, o)));
    }
    seen
}

#[test]
fn invite_gets_100_trying_and_one_request_event() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    layer.handle_message(
        t0,
        request("INVITE", "z9hG4bK1", 1, ""),
        peer(Transport::Udp),
    );
    let out = drain(&mut layer);
    assert_eq!(sent_codes(&out), [100]);
    let key = only_request_key(&out);
    assert_eq!(key.method, Method::Invite);
    // A retransmitted INVITE gets the 100 again, and no new event.
    layer.handle_message(
        t0,
        request("INVITE", "z9hG4bK1", 1, ""),
        peer(Transport::Udp),
    );
    let out = drain(&mut layer);
    assert_eq!(sent_codes(&out), [100]);
    assert!(out.iter().all(|o| matches!(o, Output::Transmit { .. })));
}

#[test]
fn rport_request_is_answered_at_its_source_port() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let from = Peer {
        transport: Transport::Udp,
        addr: "198.51.100.7:40000".parse().unwrap(),
    };
    layer.handle_message(t0, request("OPTIONS", "z9hG4bK9", 1, ";rport"), from);
    let out = drain(&mut layer);
    let Output::Event(Event::Request {
        request: req, key, ..
    }) = &out[0]
    else {
        panic!("{out:?}");
    };
    let via = req.top_via().unwrap();
    assert_eq!(via.params.value("rport").as_deref(), Some("40000"));
    assert_eq!(via.received(), Some("198.51.100.7"));
    layer
        .respond(t0, key, Message::response_to(req, 200, Some("t")))
        .unwrap();
    let out = drain(&mut layer);
    let Output::Transmit { to, .. } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(to.addr, "198.51.100.7:40000".parse().unwrap());

    // Without rport: the received address, at the Via's port.
    let mut layer = TransactionLayer::default();
    layer.handle_message(t0, request("OPTIONS", "z9hG4bK8", 1, ""), from);
    let out = drain(&mut layer);
    let Output::Event(Event::Request {
        request: req, key, ..
    }) = &out[0]
    else {
        panic!("{out:?}");
    };
    layer
        .respond(t0, key, Message::response_to(req, 200, Some("t")))
        .unwrap();
    let Some(Output::Transmit { to, .. }) = layer.poll_output() else {
        panic!()
    };
    assert_eq!(to.addr, "198.51.100.7:5062".parse().unwrap());
}

#[test]
fn final_non_2xx_is_retransmitted_on_timer_g_until_ack_then_timer_i_ends_it() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let invite = request("INVITE", "z9hG4bK2", 1, "");
    layer.handle_message(t0, invite.clone(), peer(Transport::Udp));
    let key = only_request_key(&drain(&mut layer));
    layer
        .respond(t0, &key, Message::response_to(&invite, 486, Some("x")))
        .unwrap();
    assert_eq!(sent_codes(&drain(&mut layer)), [486]);

    let ms = |n| t0 + Duration::from_millis(n);
    let fired = run_until(&mut layer, ms(4000));
    let times: Vec<_> = fired
        .iter()
        .map(|(at, _)| at.duration_since(t0).as_millis())
        .collect();
    assert_eq!(times, [500, 1500, 3500], "G doubles: 500, 1000, 2000 ms");

    let mut ack = request("ACK", "z9hG4bK2", 1, "");
    ack.headers.set(
        HeaderName::TO,
        "<sip:12345678.1177958860@gw.example.com>;tag=x",
    );
    layer.handle_message(ms(3600), ack.clone(), peer(Transport::Udp));
    assert!(drain(&mut layer).is_empty(), "ACK to a non-2xx is absorbed");
    layer.handle_message(ms(3700), ack, peer(Transport::Udp));
    assert!(drain(&mut layer).is_empty());
    // Timer I (T4 = 5 s) then ends the transaction, with no event.
    assert_eq!(layer.poll_timeout(), Some(ms(8600)));
    assert!(run_until(&mut layer, ms(9000)).is_empty());
    assert!(layer.is_empty());
}

#[test]
fn missing_ack_fires_timer_h() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let invite = request("INVITE", "z9hG4bK3", 1, "");
    layer.handle_message(t0, invite.clone(), peer(Transport::Udp));
    let key = only_request_key(&drain(&mut layer));
    layer
        .respond(t0, &key, Message::response_to(&invite, 404, Some("x")))
        .unwrap();
    drain(&mut layer);
    let fired = run_until(&mut layer, t0 + Duration::from_secs(40));
    let (at, last) = fired.last().unwrap();
    assert_eq!(*at, t0 + Duration::from_secs(32), "H = 64*T1");
    assert_eq!(
        *last,
        Output::Event(Event::Timeout {
            key,
            timer: Timer::H
        })
    );
    // Retransmissions stop at T2 intervals: 0.5, 1.5, 3.5, 7.5, 11.5, ... 31.5 s.
    let retransmits = fired.len() - 1;
    assert_eq!(retransmits, 10);
    assert!(layer.is_empty());
}

#[test]
fn two_hundred_is_retransmitted_until_the_ack_arrives() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let invite = request("INVITE", "z9hG4bK4", 1, "");
    layer.handle_message(t0, invite.clone(), peer(Transport::Udp));
    let key = only_request_key(&drain(&mut layer));
    layer
        .respond(t0, &key, Message::response_to(&invite, 200, Some("gw1")))
        .unwrap();
    drain(&mut layer);
    let fired = run_until(&mut layer, t0 + Duration::from_millis(1600));
    assert_eq!(
        sent_codes(&fired.into_iter().map(|(_, o)| o).collect::<Vec<_>>()),
        [200, 200]
    );

    // Retransmitted INVITE in Accepted is absorbed.
    layer.handle_message(
        t0 + Duration::from_millis(1700),
        invite,
        peer(Transport::Udp),
    );
    assert!(drain(&mut layer).is_empty());

    // The ACK has a branch of its own; it is matched by Call-ID and CSeq.
    layer.handle_message(
        t0 + Duration::from_millis(1800),
        request("ACK", "z9hG4bKack", 1, ""),
        peer(Transport::Udp),
    );
    let out = drain(&mut layer);
    assert!(matches!(&out[..], [Output::Event(Event::Ack { key: Some(k), .. })] if *k == key));
    // No more 200s, and Timer L ends it quietly.
    assert!(run_until(&mut layer, t0 + Duration::from_secs(40)).is_empty());
    assert!(layer.is_empty());
}

#[test]
fn unacknowledged_200_times_out_with_timer_l() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let invite = request("INVITE", "z9hG4bK5", 1, "");
    layer.handle_message(t0, invite.clone(), peer(Transport::Udp));
    let key = only_request_key(&drain(&mut layer));
    layer
        .respond(t0, &key, Message::response_to(&invite, 200, Some("gw1")))
        .unwrap();
    drain(&mut layer);
    let fired = run_until(&mut layer, t0 + Duration::from_secs(40));
    assert_eq!(
        fired.last().unwrap().1,
        Output::Event(Event::Timeout {
            key,
            timer: Timer::L
        })
    );
}

#[test]
fn an_ack_after_timer_l_matches_no_transaction() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let invite = request("INVITE", "z9hG4bK6", 1, "");
    layer.handle_message(t0, invite.clone(), peer(Transport::Udp));
    let key = only_request_key(&drain(&mut layer));
    layer
        .respond(t0, &key, Message::response_to(&invite, 200, Some("gw1")))
        .unwrap();
    drain(&mut layer);
    run_until(&mut layer, t0 + Duration::from_secs(40));
    assert!(layer.is_empty());
    layer.handle_message(
        t0 + Duration::from_secs(41),
        request("ACK", "z9hG4bKlate", 1, ""),
        peer(Transport::Udp),
    );
    let out = drain(&mut layer);
    assert!(
        matches!(&out[..], [Output::Event(Event::Ack { key: None, .. })]),
        "the ended transaction must have left the ACK index: {out:?}"
    );
}

#[test]
fn a_refused_second_final_response_does_not_wait_for_an_ack() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let invite = request("INVITE", "z9hG4bK7", 1, "");
    layer.handle_message(t0, invite.clone(), peer(Transport::Udp));
    let key = only_request_key(&drain(&mut layer));
    layer
        .respond(t0, &key, Message::response_to(&invite, 486, Some("gw1")))
        .unwrap();
    let late_ok = layer.respond(t0, &key, Message::response_to(&invite, 200, Some("gw1")));
    assert_eq!(late_ok, Err(TransactionError::AlreadyFinal(key.clone())));
    drain(&mut layer);
    // An ACK on a new branch (a 2xx ACK's shape) must not stop the 486's retransmissions.
    layer.handle_message(
        t0 + Duration::from_millis(100),
        request("ACK", "z9hG4bKother", 1, ""),
        peer(Transport::Udp),
    );
    assert!(matches!(
        &drain(&mut layer)[..],
        [Output::Event(Event::Ack { key: None, .. })]
    ));
    let fired = run_until(&mut layer, t0 + Duration::from_millis(600));
    assert_eq!(
        sent_codes(&fired.into_iter().map(|(_, o)| o).collect::<Vec<_>>()),
        [486]
    );
}

#[test]
fn thousands_of_transactions_fire_in_deadline_order_and_all_end() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    // Non-INVITE requests answered at staggered times: each lingers 64*T1 (Timer J) after its
    // answer, so they must end in the order they were answered.
    for i in 0..2000u32 {
        let at = t0 + Duration::from_millis(u64::from(i));
        let options = request("OPTIONS", &format!("z9hG4bKo{i}"), i + 1, "");
        layer.handle_message(at, options.clone(), peer(Transport::Udp));
        let key = only_request_key(&drain(&mut layer));
        layer
            .respond(at, &key, Message::response_to(&options, 200, None))
            .unwrap();
        drain(&mut layer);
    }
    assert_eq!(layer.len(), (2000, 0));
    let first = layer.poll_timeout().unwrap();
    assert_eq!(first, t0 + 64 * Duration::from_millis(500));
    // Half way through the expiries, exactly the first half has ended.
    layer.handle_timeout(first + Duration::from_millis(999));
    assert_eq!(layer.len(), (1000, 0));
    assert_eq!(
        layer.poll_timeout(),
        Some(first + Duration::from_millis(1000))
    );
    run_until(&mut layer, first + Duration::from_secs(5));
    assert!(layer.is_empty());
    assert_eq!(layer.poll_timeout(), None);
}

#[test]
fn tcp_needs_no_retransmissions_and_ends_at_once() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let bye = request("BYE", "z9hG4bK6", 2, "");
    layer.handle_message(t0, bye.clone(), peer(Transport::Tcp));
    let key = only_request_key(&drain(&mut layer));
    layer
        .respond(t0, &key, Message::response_to(&bye, 200, None))
        .unwrap();
    assert_eq!(sent_codes(&drain(&mut layer)), [200]);
    assert_eq!(layer.poll_timeout(), Some(t0), "Timer J is zero on TCP");
    layer.handle_timeout(t0);
    assert!(layer.is_empty());
}

#[test]
fn non_invite_server_resends_final_on_retransmission_until_timer_j() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let options = request("OPTIONS", "z9hG4bK7", 1, "");
    layer.handle_message(t0, options.clone(), peer(Transport::Udp));
    let key = only_request_key(&drain(&mut layer));
    assert!(layer.is_pending(&key));
    layer
        .respond(t0, &key, Message::response_to(&options, 200, Some("t")))
        .unwrap();
    assert!(!layer.is_pending(&key));
    assert_eq!(
        layer.respond(t0, &key, Message::response_to(&options, 500, None)),
        Err(TransactionError::AlreadyFinal(key.clone()))
    );
    drain(&mut layer);
    layer.handle_message(t0 + Duration::from_secs(1), options, peer(Transport::Udp));
    assert_eq!(sent_codes(&drain(&mut layer)), [200]);
    assert_eq!(layer.poll_timeout(), Some(t0 + Duration::from_secs(32)));
}

#[test]
fn cancel_is_its_own_transaction_and_names_its_invite() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    layer.handle_message(
        t0,
        request("INVITE", "z9hG4bKc", 1, ""),
        peer(Transport::Udp),
    );
    let invite_key = only_request_key(&drain(&mut layer));
    layer.handle_message(
        t0,
        request("CANCEL", "z9hG4bKc", 1, ""),
        peer(Transport::Udp),
    );
    let cancel_key = only_request_key(&drain(&mut layer));
    assert_eq!(cancel_key.method, Method::Cancel);
    assert_eq!(cancel_key.cancelled_invite(), invite_key);
    assert!(layer.is_pending(&invite_key));
}

fn our_request(method: &str, branch: &str) -> Message {
    let text = format!(
        "{method} sip:room@192.0.2.10:5062 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 203.0.113.1:5060;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:12345678.1177958860@gw.example.com>;tag=gw1\r\n\
         To: \"Room\" <sip:room@192.0.2.10>;tag=abc\r\n\
         Call-ID: call-1@192.0.2.10\r\n\
         CSeq: 7 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.as_bytes()).unwrap()
}

#[test]
fn client_non_invite_retransmits_on_timer_e_and_times_out_on_f() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let key = layer
        .send_request(t0, our_request("BYE", "z9hG4bKbye"), peer(Transport::Udp))
        .unwrap();
    assert_eq!(drain(&mut layer).len(), 1);
    let fired = run_until(&mut layer, t0 + Duration::from_secs(40));
    let times: Vec<_> = fired
        .iter()
        .map(|(at, _)| at.duration_since(t0).as_millis())
        .collect();
    assert_eq!(
        times,
        [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500, 32000]
    );
    assert_eq!(
        fired.last().unwrap().1,
        Output::Event(Event::Timeout {
            key,
            timer: Timer::F
        })
    );
    assert!(layer.is_empty());
}

#[test]
fn client_non_invite_completes_on_response_and_absorbs_retransmissions() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let bye = our_request("BYE", "z9hG4bKbye2");
    let key = layer
        .send_request(t0, bye.clone(), peer(Transport::Udp))
        .unwrap();
    drain(&mut layer);
    let ok = Message::response_to(&bye, 200, None);
    layer.handle_message(
        t0 + Duration::from_millis(50),
        ok.clone(),
        peer(Transport::Udp),
    );
    let out = drain(&mut layer);
    assert!(matches!(&out[..], [Output::Event(Event::Response { key: k, .. })] if *k == key));
    layer.handle_message(t0 + Duration::from_millis(60), ok, peer(Transport::Udp));
    assert!(drain(&mut layer).is_empty(), "retransmitted final absorbed");
    // Timer K (T4) ends it without any retransmission of the BYE.
    assert!(run_until(&mut layer, t0 + Duration::from_secs(10)).is_empty());
    assert!(layer.is_empty());
}

#[test]
fn client_invite_acks_a_failure_itself() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let invite = our_request("INVITE", "z9hG4bKinv");
    layer
        .send_request(t0, invite.clone(), peer(Transport::Udp))
        .unwrap();
    drain(&mut layer);
    // Timer A retransmits until a provisional arrives.
    let fired = run_until(&mut layer, t0 + Duration::from_millis(1600));
    assert_eq!(fired.len(), 2);
    layer.handle_message(
        t0 + Duration::from_millis(1700),
        Message::response_to(&invite, 180, Some("r")),
        peer(Transport::Udp),
    );
    drain(&mut layer);
    assert!(
        run_until(&mut layer, t0 + Duration::from_secs(20)).is_empty(),
        "A stopped"
    );
    let busy = Message::response_to(&invite, 486, Some("r"));
    layer.handle_message(
        t0 + Duration::from_secs(20),
        busy.clone(),
        peer(Transport::Udp),
    );
    let out = drain(&mut layer);
    let Output::Transmit { message: ack, .. } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.cseq().unwrap().seq, 7);
    assert_eq!(
        ack.to().unwrap(),
        busy.to().unwrap(),
        "To comes from the response"
    );
    assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bKinv"));
    assert!(matches!(out[1], Output::Event(Event::Response { .. })));
    // A retransmitted 486 is ACKed again, not passed up.
    layer.handle_message(t0 + Duration::from_secs(21), busy, peer(Transport::Udp));
    let out = drain(&mut layer);
    assert!(matches!(&out[..], [Output::Transmit { .. }]));
}

#[test]
fn client_invite_without_answer_times_out_on_timer_b() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let key = layer
        .send_request(t0, our_request("INVITE", "z9hG4bKb"), peer(Transport::Udp))
        .unwrap();
    drain(&mut layer);
    let fired = run_until(&mut layer, t0 + Duration::from_secs(40));
    let retransmits = fired.len() - 1;
    assert_eq!(retransmits, 6, "A: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s");
    assert_eq!(
        fired.last().unwrap().1,
        Output::Event(Event::Timeout {
            key,
            timer: Timer::B
        })
    );
}

#[test]
fn requests_without_branch_or_with_ack_are_refused() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    let mut no_branch = our_request("BYE", "x");
    no_branch
        .headers
        .set(HeaderName::VIA, "SIP/2.0/UDP 203.0.113.1:5060;branch=old");
    assert_eq!(
        layer.send_request(t0, no_branch, peer(Transport::Udp)),
        Err(TransactionError::NoBranch)
    );
    assert_eq!(
        layer.send_request(t0, our_request("ACK", "z9hG4bKa"), peer(Transport::Udp)),
        Err(TransactionError::AckNotTransaction)
    );
}

#[test]
fn rfc2543_requests_without_cookie_still_match_retransmissions() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::default();
    layer.handle_message(t0, request("INVITE", "old1", 1, ""), peer(Transport::Udp));
    drain(&mut layer);
    layer.handle_message(t0, request("INVITE", "old1", 1, ""), peer(Transport::Udp));
    let out = drain(&mut layer);
    assert_eq!(sent_codes(&out), [100]);
    assert_eq!(out.len(), 1, "no second Request event");
}
