//! The SIP user agent on a virtual clock: two agents (or an agent and a scripted far end) call
//! each other through a link that loses datagrams. Call set-up survives lost INVITEs, 200s and
//! ACKs; digest challenges are answered (MD5 and SHA-256) and a wrong password is refused;
//! CANCEL, re-INVITE, INFO and BYE work both ways; Timer B/F expiry and a missing ACK end calls
//! with the reason; arbitrary bytes never panic the agent.

mod ua_net;

use std::time::Duration;

use proptest::prelude::*;
use signaling::digest::{ha1, Algorithm, DigestResponse};
use signaling::sip::{HeaderName, Message, Method};
use signaling::ua::{CallFailure, CallHandle, Credentials, EndReason, UaError, UaEvent};
use ua_net::{addr, agent, agent_with, drop_first, random_loss, Net, Node};

const OFFER: &str = "v=0\r\no=a 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
                     m=audio 4000 RTP/AVP 0\r\n";
const ANSWER: &str = "v=0\r\no=b 1 1 IN IP4 192.0.2.11\r\ns=-\r\nc=IN IP4 192.0.2.11\r\nt=0 0\r\n\
                      m=audio 5000 RTP/AVP 0\r\n";
const LONG: Duration = Duration::from_secs(40);
const URI: &str = "sip:12345678.1177958860@192.0.2.11:5060";

fn incoming(e: &UaEvent) -> Option<CallHandle> {
    match e {
        UaEvent::Incoming { call, .. } => Some(*call),
        _ => None,
    }
}

/// Two agents on a perfect link: node 0 `room`, node 1 `bridge`.
fn two() -> Net {
    Net::pair(agent(0, "room"), agent(1, "bridge"))
}

/// Node 0 calls node 1 and waits until node 1 sees the call. Returns (caller's handle, callee's
/// handle).
fn call_in(net: &mut Net) -> (CallHandle, CallHandle) {
    let now = net.now;
    let a = net.ua(0).invite(now, addr(1), URI, OFFER).unwrap();
    let b = incoming(&net.run_until(1, LONG, |e| incoming(e).is_some())).unwrap();
    (a, b)
}

/// Node 0 calls node 1, which answers at once. Returns (caller's handle, callee's handle).
fn established(net: &mut Net) -> (CallHandle, CallHandle) {
    let (a, b) = call_in(net);
    let now = net.now;
    net.ua(1).answer(now, b, ANSWER).unwrap();
    net.run_until(0, LONG, |e| matches!(e, UaEvent::Answered { .. }));
    net.run_until(1, LONG, |e| matches!(e, UaEvent::Confirmed { .. }));
    (a, b)
}

fn count(events: &[UaEvent], pred: impl Fn(&UaEvent) -> bool) -> usize {
    events.iter().filter(|e| pred(e)).count()
}

#[test]
fn call_set_up_survives_a_lost_invite_200_and_ack() {
    let mut net = two();
    net.set_filter(drop_first(&["INVITE ", "SIP/2.0 200", "ACK "]));
    let (a, _) = established(&mut net);
    assert_eq!(net.dropped, 3);
    assert!(
        net.count_sent("INVITE ") >= 2,
        "the INVITE was retransmitted"
    );
    assert!(
        net.count_sent("SIP/2.0 200") >= 2,
        "the 200 was retransmitted"
    );
    assert!(
        net.count_sent("ACK ") >= 2,
        "the retransmitted 200 was ACKed again"
    );
    let answered = net.events[0]
        .iter()
        .find(|e| matches!(e, UaEvent::Answered { .. }))
        .cloned();
    assert_eq!(
        answered,
        Some(UaEvent::Answered {
            call: a,
            answer: ANSWER.to_owned()
        })
    );
    assert_eq!(
        count(&net.events[0], |e| matches!(e, UaEvent::Answered { .. })),
        1
    );
    assert_eq!(
        count(&net.events[1], |e| matches!(e, UaEvent::Incoming { .. })),
        1
    );
    assert_eq!(
        count(&net.events[1], |e| matches!(e, UaEvent::Confirmed { .. })),
        1
    );
}

#[test]
fn call_and_hang_up_complete_through_a_link_losing_a_quarter_of_datagrams() {
    let (mut lost, mut sent) = (0, 0);
    for seed in 1..=20 {
        let mut net = two();
        net.set_filter(random_loss(seed, 250));
        let (a, b) = established(&mut net);
        let now = net.now;
        net.ua(0).bye(now, a).unwrap();
        let ended = net.run_until(1, LONG, |e| matches!(e, UaEvent::Ended { .. }));
        assert_eq!(
            ended,
            UaEvent::Ended {
                call: b,
                reason: EndReason::RemoteBye
            },
            "seed {seed}"
        );
        net.run_until(0, LONG, |e| matches!(e, UaEvent::Ended { .. }));
        assert_eq!(net.ua(0).call_count(), 0, "seed {seed}");
        assert_eq!(net.ua(1).call_count(), 0, "seed {seed}");
        lost += net.dropped;
        sent += net.sent.len();
    }
    assert!(
        lost * 10 > sent,
        "the link lost {lost} of {sent} datagrams: too few to test anything"
    );
}

#[test]
fn one_agent_carries_two_calls_and_ends_one_without_touching_the_other() {
    let mut net = two();
    let (a1, b1) = established(&mut net);
    let (a2, b2) = established(&mut net);
    assert_ne!(a1, a2);
    assert_ne!(b1, b2);
    assert_eq!((net.ua(0).call_count(), net.ua(1).call_count()), (2, 2));
    let now = net.now;
    net.ua(0).bye(now, a1).unwrap();
    net.run_until(0, LONG, |e| matches!(e, UaEvent::Ended { .. }));
    assert!(net.events[1].contains(&UaEvent::Ended {
        call: b1,
        reason: EndReason::RemoteBye
    }));
    let now = net.now;
    net.ua(0).info(now, a2, "application/dtmf", b"7").unwrap();
    let info = net.run_until(1, LONG, |e| matches!(e, UaEvent::Info { .. }));
    assert!(matches!(info, UaEvent::Info { call, .. } if call == b2));
    assert_eq!((net.ua(0).call_count(), net.ua(1).call_count()), (1, 1));
}

#[test]
fn callee_rings_then_caller_sees_progress() {
    let mut net = two();
    let (a, b) = call_in(&mut net);
    let now = net.now;
    net.ua(1).ringing(now, b).unwrap();
    let progress = net.run_until(0, LONG, |e| matches!(e, UaEvent::Progress { .. }));
    assert_eq!(
        progress,
        UaEvent::Progress {
            call: a,
            status: 180,
            sdp: None
        }
    );
}

#[test]
fn rejected_call_fails_with_the_status_and_reason() {
    let mut net = two();
    let (a, b) = call_in(&mut net);
    let now = net.now;
    assert_eq!(net.ua(1).reject(now, b, 200), Err(UaError::BadStatus(200)));
    net.ua(1).reject(now, b, 486).unwrap();
    let failed = net.run_until(0, LONG, |e| matches!(e, UaEvent::Failed { .. }));
    assert_eq!(
        failed,
        UaEvent::Failed {
            call: a,
            failure: CallFailure::Rejected {
                status: 486,
                reason: "Busy Here".into()
            }
        }
    );
    assert_eq!(net.ua(1).call_count(), 0);
}

#[test]
fn cancel_before_answer_ends_both_sides_with_487() {
    let mut net = two();
    let now = net.now;
    let a = net.ua(0).invite(now, addr(1), URI, OFFER).unwrap();
    // Asked before any provisional response: the CANCEL waits for the 100 Trying.
    net.ua(0).cancel(now, a).unwrap();
    let ended = net.run_until(1, LONG, |e| matches!(e, UaEvent::Ended { .. }));
    assert!(matches!(
        ended,
        UaEvent::Ended {
            reason: EndReason::RemoteCancel,
            ..
        }
    ));
    let failed = net.run_until(0, LONG, |e| matches!(e, UaEvent::Failed { .. }));
    assert_eq!(
        failed,
        UaEvent::Failed {
            call: a,
            failure: CallFailure::Cancelled
        }
    );
    assert_eq!(net.count_sent("CANCEL "), 1);
    assert_eq!(net.count_sent("SIP/2.0 487"), 1);
    assert_eq!(net.count_sent("ACK "), 1, "the 487 is ACKed");
    let now = net.now;
    assert_eq!(net.ua(0).cancel(now, a), Err(UaError::UnknownCall(a)));
}

#[test]
fn answer_crossing_cancel_is_acked_and_hung_up() {
    let mut net = two();
    let (a, b) = call_in(&mut net);
    // The callee answers as the caller gives up: the 200 crosses the CANCEL.
    let now = net.now;
    net.ua(0).cancel(now, a).unwrap();
    net.ua(1).answer(now, b, ANSWER).unwrap();
    let ended = net.run_until(0, LONG, |e| matches!(e, UaEvent::Ended { .. }));
    assert_eq!(
        ended,
        UaEvent::Ended {
            call: a,
            reason: EndReason::LocalBye { status: Some(200) }
        }
    );
    assert_eq!(
        count(&net.events[0], |e| matches!(e, UaEvent::Answered { .. })),
        0,
        "a cancelled call is never reported answered"
    );
    // The callee saw the BYE before the caller saw its 200.
    assert!(net.events[1].contains(&UaEvent::Ended {
        call: b,
        reason: EndReason::RemoteBye,
    }));
    assert_eq!(net.count_sent("CANCEL "), 1);
    assert_eq!(
        net.count_sent("SIP/2.0 481"),
        1,
        "the CANCEL found nothing to cancel"
    );
}

#[test]
fn reinvite_from_caller_is_answered_and_acked() {
    let mut net = two();
    let (a, b) = established(&mut net);
    let now = net.now;
    net.ua(0).reinvite(now, a, "v=0\r\nnew offer\r\n").unwrap();
    let offered = net.run_until(1, LONG, |e| matches!(e, UaEvent::Reinvited { .. }));
    assert_eq!(
        offered,
        UaEvent::Reinvited {
            call: b,
            offer: "v=0\r\nnew offer\r\n".into()
        }
    );
    let now = net.now;
    net.ua(1)
        .accept_reinvite(now, b, "v=0\r\nnew answer\r\n")
        .unwrap();
    let answered = net.run_until(0, LONG, |e| matches!(e, UaEvent::ReinviteAnswered { .. }));
    assert_eq!(
        answered,
        UaEvent::ReinviteAnswered {
            call: a,
            answer: "v=0\r\nnew answer\r\n".into()
        }
    );
    net.run_until(1, LONG, |e| matches!(e, UaEvent::Confirmed { .. }));
    let reinvite = net
        .sent
        .iter()
        .filter_map(|d| Message::parse(&d.bytes).ok())
        .find(|m| m.method() == Some(&Method::Invite) && m.to().unwrap().tag().is_some())
        .unwrap();
    assert_eq!(reinvite.cseq().unwrap().seq, 2, "next CSeq in the dialog");
    assert_eq!(reinvite.request_uri(), Some("sip:bridge@192.0.2.11:5060"));
}

#[test]
fn reinvite_from_callee_can_be_refused_and_the_call_goes_on() {
    let mut net = two();
    let (a, b) = established(&mut net);
    let now = net.now;
    net.ua(1).reinvite(now, b, OFFER).unwrap();
    net.run_until(0, LONG, |e| matches!(e, UaEvent::Reinvited { .. }));
    let now = net.now;
    net.ua(0).refuse_reinvite(now, a, 488).unwrap();
    let refused = net.run_until(1, LONG, |e| matches!(e, UaEvent::ReinviteRefused { .. }));
    assert_eq!(
        refused,
        UaEvent::ReinviteRefused {
            call: b,
            status: Some(488)
        }
    );
    let now = net.now;
    net.ua(1).bye(now, b).unwrap();
    net.run_until(0, LONG, |e| {
        *e == UaEvent::Ended {
            call: a,
            reason: EndReason::RemoteBye,
        }
    });
    let ended = net.run_until(1, LONG, |e| matches!(e, UaEvent::Ended { .. }));
    assert_eq!(
        ended,
        UaEvent::Ended {
            call: b,
            reason: EndReason::LocalBye { status: Some(200) }
        }
    );
}

#[test]
fn info_carries_a_dtmf_digit_and_its_answer_comes_back() {
    let mut net = two();
    let (a, b) = established(&mut net);
    let now = net.now;
    net.ua(0)
        .info(
            now,
            a,
            "application/dtmf-relay",
            b"Signal=5\r\nDuration=160\r\n",
        )
        .unwrap();
    let info = net.run_until(1, LONG, |e| matches!(e, UaEvent::Info { .. }));
    assert_eq!(
        info,
        UaEvent::Info {
            call: b,
            content_type: Some("application/dtmf-relay".into()),
            body: b"Signal=5\r\nDuration=160\r\n".to_vec()
        }
    );
    let answered = net.run_until(0, LONG, |e| matches!(e, UaEvent::InfoAnswered { .. }));
    assert_eq!(
        answered,
        UaEvent::InfoAnswered {
            call: a,
            status: Some(200)
        }
    );
}

#[test]
fn info_to_a_far_end_that_lost_the_dialog_ends_the_call() {
    let mut net = two();
    let (a, b) = established(&mut net);
    // The callee hangs up but its BYE never arrives: it forgets the call after Timer F.
    net.set_filter(Box::new(|d| d.start_line().starts_with("BYE ")));
    let now = net.now;
    net.ua(1).bye(now, b).unwrap();
    net.run_until(1, LONG, |e| matches!(e, UaEvent::Ended { .. }));
    net.set_filter(Box::new(|_| false));
    let now = net.now;
    net.ua(0).info(now, a, "application/dtmf", b"1").unwrap();
    let ended = net.run_until(0, LONG, |e| matches!(e, UaEvent::Ended { .. }));
    assert_eq!(
        ended,
        UaEvent::Ended {
            call: a,
            reason: EndReason::DialogGone { status: Some(481) }
        }
    );
    assert!(net.events[0].contains(&UaEvent::InfoAnswered {
        call: a,
        status: Some(481)
    }));
    assert_eq!(net.ua(0).call_count(), 0);
}

#[test]
fn info_without_any_answer_ends_the_call_with_bye() {
    let mut net = two();
    let (a, _) = established(&mut net);
    net.set_filter(Box::new(|_| true));
    let now = net.now;
    net.ua(0).info(now, a, "application/dtmf", b"1").unwrap();
    let ended = net.run_until(0, LONG, |e| matches!(e, UaEvent::Ended { .. }));
    assert_eq!(
        ended,
        UaEvent::Ended {
            call: a,
            reason: EndReason::DialogGone { status: None }
        }
    );
    net.flush();
    assert_eq!(net.count_sent("BYE "), 1);
}

#[test]
fn commands_out_of_state_are_refused() {
    let mut net = two();
    let now = net.now;
    let a = net.ua(0).invite(now, addr(1), URI, OFFER).unwrap();
    assert!(matches!(
        net.ua(0).bye(now, a),
        Err(UaError::WrongState { .. })
    ));
    assert!(matches!(
        net.ua(0).info(now, a, "text/plain", b"x"),
        Err(UaError::WrongState { .. })
    ));
    assert!(matches!(
        net.ua(0).answer(now, a, ANSWER),
        Err(UaError::WrongState { .. })
    ));
    assert_eq!(
        net.ua(0).invite(now, addr(1), "not a uri", OFFER),
        Err(UaError::BadUri("not a uri".into()))
    );
}

#[test]
fn timer_b_expiry_fails_the_call() {
    let mut net = two();
    net.set_filter(Box::new(|_| true));
    let now = net.now;
    let a = net.ua(0).invite(now, addr(1), URI, OFFER).unwrap();
    let failed = net.run_until(0, LONG, |e| matches!(e, UaEvent::Failed { .. }));
    assert_eq!(
        failed,
        UaEvent::Failed {
            call: a,
            failure: CallFailure::Timeout
        }
    );
    // 64 * T1 after the INVITE, not a moment earlier.
    assert_eq!(net.now - net.t0, Duration::from_secs(32));
    assert_eq!(
        net.count_sent("INVITE "),
        7,
        "sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s"
    );
}

#[test]
fn timer_f_expiry_on_bye_still_ends_the_call() {
    let mut net = two();
    let (a, _) = established(&mut net);
    net.set_filter(Box::new(|_| true));
    let now = net.now;
    net.ua(0).bye(now, a).unwrap();
    let ended = net.run_until(0, LONG, |e| matches!(e, UaEvent::Ended { .. }));
    assert_eq!(
        ended,
        UaEvent::Ended {
            call: a,
            reason: EndReason::LocalBye { status: None }
        }
    );
}

#[test]
fn callee_without_ack_hangs_up_with_bye() {
    let mut net = two();
    net.set_filter(Box::new(|d| d.start_line().starts_with("ACK ")));
    let (_, b) = call_in(&mut net);
    let now = net.now;
    net.ua(1).answer(now, b, ANSWER).unwrap();
    let ended = net.run_until(1, LONG, |e| matches!(e, UaEvent::Ended { .. }));
    assert_eq!(
        ended,
        UaEvent::Ended {
            call: b,
            reason: EndReason::NoAck
        }
    );
    assert!(net.count_sent("BYE ") >= 1);
    net.run_until(0, LONG, |e| {
        matches!(
            e,
            UaEvent::Ended {
                reason: EndReason::RemoteBye,
                ..
            }
        )
    });
}

#[test]
fn requests_for_unknown_dialogs_get_481() {
    let mut net = two();
    let (a, _) = established(&mut net);
    let now = net.now;
    net.ua(0).bye(now, a).unwrap();
    net.run_until(0, LONG, |e| matches!(e, UaEvent::Ended { .. }));
    // Replay the BYE after both sides forgot the call and its transactions are gone.
    net.run_for(LONG);
    let bye = net
        .sent
        .iter()
        .find(|d| d.start_line().starts_with("BYE "))
        .unwrap()
        .bytes
        .clone();
    let mut bye = Message::parse(&bye).unwrap();
    bye.headers.set(
        HeaderName::VIA,
        "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKreplay;rport",
    );
    let now = net.now;
    net.ua(1)
        .handle_datagram(now, addr(0), &bye.to_bytes())
        .unwrap();
    let reply = net.ua(1).poll_transmit().unwrap();
    assert!(String::from_utf8_lossy(&reply.bytes).starts_with("SIP/2.0 481"));
}

/// A far end that challenges every INVITE without credentials (401, `algorithm`), accepts the
/// right answer for `room`/`password` with 200, answers a wrong one with a new 401 for the same
/// nonce (as a registrar does), and answers BYE 200.
fn challenger(algorithm: Algorithm, password: &'static str) -> Node {
    Node::Script(Box::new(move |m: &Message| {
        let realm = "12345678.tessera";
        let Some(method) = m.method() else {
            return Vec::new();
        };
        match method {
            Method::Invite => {
                let answer = m
                    .headers
                    .get(&HeaderName::AUTHORIZATION)
                    .and_then(DigestResponse::parse);
                let ha1_md5 = ha1(Algorithm::Md5, "room", realm, password);
                let ha1_sha = ha1(Algorithm::Sha256, "room", realm, password);
                match answer {
                    Some(a) if a.verify("INVITE", &ha1_md5, &ha1_sha) => {
                        assert_eq!(a.qop.as_deref(), Some("auth"));
                        assert_eq!(a.nc.as_deref(), Some("00000001"));
                        assert_eq!(a.algorithm.as_deref(), Some(algorithm.as_str()));
                        vec![Message::response_to(m, 200, Some("far"))
                            .with_header(HeaderName::CONTACT, "<sip:far@192.0.2.11:5060>")
                            .with_body("application/sdp", ANSWER.as_bytes().to_vec())]
                    }
                    _ => vec![Message::response_to(m, 401, Some("far")).with_header(
                        HeaderName::WWW_AUTHENTICATE,
                        format!(
                            "Digest realm=\"{realm}\", nonce=\"n0nce\", algorithm={}, qop=\"auth\"",
                            algorithm.as_str()
                        ),
                    )],
                }
            }
            Method::Bye => vec![Message::response_to(m, 200, None)],
            _ => Vec::new(),
        }
    }))
}

fn with_password(password: &str) -> Credentials {
    Credentials {
        username: "room".into(),
        password: password.into(),
    }
}

#[test]
fn md5_and_sha256_challenges_are_answered() {
    for algorithm in [Algorithm::Md5, Algorithm::Sha256] {
        let ua = agent_with(0, "room", |c| {
            c.credentials = Some(with_password("correct horse"))
        });
        let mut net = Net::new(
            Node::Ua(Box::new(ua)),
            challenger(algorithm, "correct horse"),
        );
        let now = net.now;
        let a = net.ua(0).invite(now, addr(1), URI, OFFER).unwrap();
        let answered = net.run_until(0, LONG, |e| matches!(e, UaEvent::Answered { .. }));
        assert_eq!(
            answered,
            UaEvent::Answered {
                call: a,
                answer: ANSWER.into()
            },
            "{algorithm:?}"
        );
        let invites: Vec<Message> = net
            .sent
            .iter()
            .filter(|d| d.start_line().starts_with("INVITE "))
            .map(|d| Message::parse(&d.bytes).unwrap())
            .collect();
        assert_eq!(invites.len(), 2);
        assert_eq!(
            invites[1].cseq().unwrap().seq,
            2,
            "the retry takes a new CSeq"
        );
        assert_ne!(
            invites[0].top_via().unwrap().branch(),
            invites[1].top_via().unwrap().branch(),
            "and a new transaction"
        );
        // Later requests of the call carry the next nonce count.
        let now = net.now;
        net.ua(0).bye(now, a).unwrap();
        net.run_until(0, LONG, |e| matches!(e, UaEvent::Ended { .. }));
        let bye = net
            .sent
            .iter()
            .find(|d| d.start_line().starts_with("BYE "))
            .map(|d| Message::parse(&d.bytes).unwrap())
            .unwrap();
        let credentials = bye.headers.get(&HeaderName::AUTHORIZATION).unwrap();
        assert_eq!(
            DigestResponse::parse(credentials).unwrap().nc.as_deref(),
            Some("00000002")
        );
    }
}

#[test]
fn wrong_password_is_refused_after_one_answer() {
    let ua = agent_with(0, "room", |c| c.credentials = Some(with_password("wrong")));
    let mut net = Net::new(Node::Ua(Box::new(ua)), challenger(Algorithm::Md5, "right"));
    let now = net.now;
    let a = net.ua(0).invite(now, addr(1), URI, OFFER).unwrap();
    let failed = net.run_until(0, LONG, |e| matches!(e, UaEvent::Failed { .. }));
    assert_eq!(
        failed,
        UaEvent::Failed {
            call: a,
            failure: CallFailure::Unauthorized { status: 401 }
        }
    );
    assert_eq!(net.count_sent("INVITE "), 2);
}

#[test]
fn challenge_without_credentials_fails_the_call() {
    let mut net = Net::new(
        Node::Ua(Box::new(agent(0, "room"))),
        challenger(Algorithm::Md5, "right"),
    );
    let now = net.now;
    net.ua(0).invite(now, addr(1), URI, OFFER).unwrap();
    let failed = net.run_until(0, LONG, |e| matches!(e, UaEvent::Failed { .. }));
    assert!(matches!(
        failed,
        UaEvent::Failed {
            failure: CallFailure::Unauthorized { status: 401 },
            ..
        }
    ));
    assert_eq!(net.count_sent("INVITE "), 1);
}

proptest! {
    #[test]
    fn arbitrary_datagrams_never_panic_the_agent(
        datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..400), 1..8)
    ) {
        let mut net = two();
        let (_, _) = established(&mut net);
        let now = net.now;
        for bytes in &datagrams {
            let _ = net.ua(1).handle_datagram(now, addr(0), bytes);
            net.flush();
        }
        net.run_for(Duration::from_secs(1));
    }

    #[test]
    fn mutated_requests_never_panic_the_agent(
        cut in 0usize..600, byte in any::<u8>(), at in 0usize..600
    ) {
        let mut net = two();
        let now = net.now;
        net.ua(0).invite(now, addr(1), URI, OFFER).unwrap();
        net.flush();
        let invite = net.sent[0].bytes.clone();
        let mut mutated = invite[..cut.min(invite.len())].to_vec();
        if !mutated.is_empty() {
            let i = at % mutated.len();
            mutated[i] = byte;
        }
        let _ = net.ua(1).handle_datagram(now, addr(0), &mutated);
        net.run_for(Duration::from_secs(1));
    }
}

#[test]
fn an_agent_owns_the_messages_of_its_calls_only() {
    let mut net = two();
    established(&mut net);
    let parsed: Vec<Message> = net
        .sent
        .iter()
        .map(|d| Message::parse(&d.bytes).unwrap())
        .collect();
    assert!(!parsed.is_empty());
    for message in &parsed {
        assert!(
            net.ua(0).owns(message),
            "the caller owns its call's {message:?}"
        );
    }
    let mut stranger = parsed[0].clone();
    stranger
        .headers
        .set(HeaderName::CALL_ID, "someone-else@192.0.2.99");
    assert!(!net.ua(0).owns(&stranger), "another Call-ID is not its");
}
