//! The registration machine on a virtual clock, against a gatekeeper played by the test with
//! the crate's own RAS types; and round trips of every RAS message modelled.
// `Instant::now()` only picks the virtual clock's origin; every later time is derived from it.
#![allow(clippy::disallowed_methods)]

use super::*;

const GK: ([u8; 4], u16) = ([192, 0, 2, 7], 1719);

fn config() -> RegistrationConfig {
    RegistrationConfig {
        gatekeeper: GK.into(),
        ras_address: ([192, 0, 2, 1], 40719).into(),
        call_signal_address: ([192, 0, 2, 1], 1720).into(),
        aliases: vec![
            AliasAddress::h323_id("tessera").unwrap(),
            AliasAddress::dialled_digits("6100").unwrap(),
        ],
        prefixes: vec![AliasAddress::dialled_digits("61").unwrap()],
        time_to_live: Some(60),
    }
}

fn gk() -> SocketAddr {
    GK.into()
}

/// The one datagram the machine has to send, decoded (and no second one).
fn sent(r: &mut Registration) -> (SocketAddr, RasMessage, Vec<u8>) {
    let t = r.poll_transmit().expect("a datagram to send");
    assert!(r.poll_transmit().is_none(), "one datagram at a time");
    let m = decode_ras(&t.payload).unwrap();
    (t.destination, m, t.payload)
}

fn rrq(m: RasMessage) -> RegistrationRequest {
    match m {
        RasMessage::RegistrationRequest(r) => *r,
        other => panic!("expected RRQ, got {other:?}"),
    }
}

fn answer(r: &mut Registration, now: Instant, m: RasMessage) {
    r.handle_datagram(now, gk(), &encode_ras(&m).unwrap())
        .unwrap();
}

fn rcf(seq: u16, ttl: Option<u32>) -> RasMessage {
    RasMessage::RegistrationConfirm(Box::new(RegistrationConfirm::new(
        seq,
        vec![TransportAddress::from_socket(config().call_signal_address)],
        EndpointIdentifier::new("ep-1").unwrap(),
        ttl,
    )))
}

fn rrj(seq: u16, reason: RegistrationRejectReason) -> RasMessage {
    RasMessage::RegistrationReject(Box::new(RegistrationReject::new(seq, reason)))
}

/// A machine registered with time to live `ttl`, at `t0`.
fn registered(t0: Instant, ttl: u32) -> Registration {
    let mut r = Registration::new(config(), t0).unwrap();
    let seq = rrq(sent(&mut r).1).request_seq_num;
    answer(&mut r, t0, rcf(seq, Some(ttl)));
    assert!(r.is_registered());
    r
}

#[test]
fn full_rrq_carries_aliases_prefixes_addresses_and_the_time_to_live_asked_for() {
    let t0 = Instant::now();
    let mut r = Registration::new(config(), t0).unwrap();
    let (to, m, _) = sent(&mut r);
    assert_eq!(to, gk());
    let q = rrq(m);
    assert_eq!(q.keep_alive, Some(false));
    assert!(!q.discovery_complete);
    assert_eq!(q.terminal_alias, Some(config().aliases));
    assert_eq!(q.time_to_live, Some(60));
    assert_eq!(q.endpoint_identifier, None);
    assert_eq!(
        q.call_signal_address[0].to_socket(),
        Some(config().call_signal_address)
    );
    assert_eq!(q.ras_address[0].to_socket(), Some(config().ras_address));
    let Some(SupportedProtocols::H323(caps)) = q
        .terminal_type
        .gateway
        .and_then(|g| g.protocol)
        .and_then(|p| p.into_iter().next())
    else {
        panic!("no H.323 gateway protocol entry");
    };
    let prefixes = caps.supported_prefixes.unwrap();
    assert_eq!(
        prefixes[0].prefix,
        AliasAddress::dialled_digits("61").unwrap()
    );
    assert_eq!(r.state(), State::Registering);
    assert_eq!(r.poll_timeout(), Some(t0 + RETRY_INTERVAL));
}

#[test]
fn rcf_registers_and_a_keep_alive_refreshes_before_the_time_to_live_runs_out() {
    let t0 = Instant::now();
    let mut r = Registration::new(config(), t0).unwrap();
    let seq = rrq(sent(&mut r).1).request_seq_num;
    answer(&mut r, t0, rcf(seq, Some(60)));
    assert_eq!(
        r.poll_event(),
        Some(Event::Registered {
            endpoint_identifier: "ep-1".into(),
            time_to_live: Some(Duration::from_secs(60)),
        })
    );
    assert_eq!(r.state(), State::Registered);
    // Keep-alive 10 s before expiry: room for its three sends 3 s apart.
    let due = t0 + Duration::from_secs(50);
    assert_eq!(r.poll_timeout(), Some(due));
    r.handle_timeout(due - Duration::from_millis(1)).unwrap();
    assert!(r.poll_transmit().is_none());
    r.handle_timeout(due).unwrap();
    let ka = rrq(sent(&mut r).1);
    assert_eq!(ka.keep_alive, Some(true));
    assert_ne!(ka.request_seq_num, seq);
    assert_eq!(
        ka.endpoint_identifier.map(|e| e.text()),
        Some("ep-1".into())
    );
    assert_eq!(ka.time_to_live, Some(60));
    assert_eq!(ka.terminal_alias, None);
    assert!(
        r.is_registered(),
        "still registered while the keep-alive is in flight"
    );
    answer(&mut r, due, rcf(ka.request_seq_num, Some(60)));
    assert_eq!(r.poll_event(), Some(Event::Refreshed));
    assert_eq!(r.poll_timeout(), Some(due + Duration::from_secs(50)));
}

#[test]
fn a_short_time_to_live_is_refreshed_at_half_time() {
    let t0 = Instant::now();
    let r = registered(t0, 4);
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(2)));
}

#[test]
fn unanswered_rrq_is_sent_three_times_3_s_apart_then_backs_off_doubling() {
    let t0 = Instant::now();
    let mut r = Registration::new(config(), t0).unwrap();
    let (_, _, first) = sent(&mut r);
    for i in 1..ATTEMPTS {
        let now = r.poll_timeout().unwrap();
        assert_eq!(now, t0 + RETRY_INTERVAL * i);
        r.handle_timeout(now).unwrap();
        assert_eq!(
            sent(&mut r).2,
            first,
            "a retransmission is the same datagram"
        );
    }
    let mut now = r.poll_timeout().unwrap();
    assert_eq!(now, t0 + RETRY_INTERVAL * ATTEMPTS);
    r.handle_timeout(now).unwrap();
    assert!(r.poll_transmit().is_none());
    assert_eq!(
        r.poll_event(),
        Some(Event::NoAnswer {
            request: "RRQ",
            retry_in: BACKOFF_MIN
        })
    );
    assert_eq!(r.state(), State::BackingOff);
    assert_eq!(r.poll_timeout(), Some(now + BACKOFF_MIN));
    now += BACKOFF_MIN;
    r.handle_timeout(now).unwrap();
    let again = rrq(sent(&mut r).1);
    assert_eq!(again.keep_alive, Some(false));
    for _ in 0..ATTEMPTS {
        now = r.poll_timeout().unwrap();
        r.handle_timeout(now).unwrap();
        while r.poll_transmit().is_some() {}
    }
    assert_eq!(
        r.poll_event(),
        Some(Event::NoAnswer {
            request: "RRQ",
            retry_in: BACKOFF_MIN * 2
        })
    );
}

#[test]
fn rrj_backs_off_with_the_reason_and_stale_answers_are_ignored() {
    let t0 = Instant::now();
    let mut r = Registration::new(config(), t0).unwrap();
    let seq = rrq(sent(&mut r).1).request_seq_num;
    // An answer to some other request changes nothing.
    answer(&mut r, t0, rcf(seq.wrapping_add(7), Some(60)));
    assert!(!r.is_registered());
    answer(
        &mut r,
        t0,
        rrj(
            seq,
            RegistrationRejectReason::DuplicateAlias(vec![
                AliasAddress::h323_id("tessera").unwrap()
            ]),
        ),
    );
    assert_eq!(
        r.poll_event(),
        Some(Event::Rejected {
            reason: "RRJ duplicateAlias".into(),
            retry_in: BACKOFF_MIN
        })
    );
    assert_eq!(r.state(), State::BackingOff);
    // Once the retry succeeds the back-off starts from the minimum again.
    r.handle_timeout(t0 + BACKOFF_MIN).unwrap();
    let seq = rrq(sent(&mut r).1).request_seq_num;
    answer(&mut r, t0 + BACKOFF_MIN, rcf(seq, None));
    assert!(r.is_registered());
    assert_eq!(r.poll_timeout(), None, "no time to live, no keep-alive");
}

#[test]
fn discovery_required_goes_through_grq_and_registers_at_the_gcf_address() {
    let t0 = Instant::now();
    let mut r = Registration::new(config(), t0).unwrap();
    let seq = rrq(sent(&mut r).1).request_seq_num;
    answer(
        &mut r,
        t0,
        rrj(seq, RegistrationRejectReason::DiscoveryRequired(())),
    );
    assert_eq!(r.state(), State::Discovering);
    let (to, m, _) = sent(&mut r);
    assert_eq!(to, gk());
    let RasMessage::GatekeeperRequest(grq) = m else {
        panic!("expected GRQ, got {m:?}");
    };
    assert_eq!(grq.endpoint_alias, Some(config().aliases));
    let other: SocketAddr = ([192, 0, 2, 7], 1819).into();
    answer(
        &mut r,
        t0,
        RasMessage::GatekeeperConfirm(Box::new(GatekeeperConfirm::new(
            grq.request_seq_num,
            TransportAddress::from_socket(other),
            Some(GatekeeperIdentifier::new("GK-1").unwrap()),
        ))),
    );
    let (to, m, _) = sent(&mut r);
    assert_eq!(to, other);
    let q = rrq(m);
    assert!(q.discovery_complete);
    assert_eq!(
        q.gatekeeper_identifier.map(|g| g.text()),
        Some("GK-1".into())
    );
}

#[test]
fn keep_alive_refused_for_full_registration_registers_afresh_at_once() {
    let t0 = Instant::now();
    let mut r = registered(t0, 60);
    let _ = r.poll_event();
    let now = r.poll_timeout().unwrap();
    r.handle_timeout(now).unwrap();
    let ka = rrq(sent(&mut r).1);
    answer(
        &mut r,
        now,
        rrj(
            ka.request_seq_num,
            RegistrationRejectReason::FullRegistrationRequired(()),
        ),
    );
    let full = rrq(sent(&mut r).1);
    assert_eq!(full.keep_alive, Some(false));
    assert_eq!(full.terminal_alias, Some(config().aliases));
    assert_eq!(r.state(), State::Registering);
}

#[test]
fn unanswered_keep_alives_lose_the_registration_and_back_off() {
    let t0 = Instant::now();
    let mut r = registered(t0, 60);
    let _ = r.poll_event();
    while let Some(at) = r.poll_timeout() {
        r.handle_timeout(at).unwrap();
        while r.poll_transmit().is_some() {}
        if r.state() == State::BackingOff {
            break;
        }
    }
    assert_eq!(
        r.poll_event(),
        Some(Event::NoAnswer {
            request: "keep-alive RRQ",
            retry_in: BACKOFF_MIN
        })
    );
    assert!(!r.is_registered());
}

#[test]
fn unregister_sends_urq_with_the_endpoint_identifier_and_ends_on_ucf() {
    let t0 = Instant::now();
    let mut r = registered(t0, 60);
    let _ = r.poll_event();
    r.unregister(t0).unwrap();
    assert_eq!(r.state(), State::Unregistering);
    let (to, m, _) = sent(&mut r);
    assert_eq!(to, gk());
    let RasMessage::UnregistrationRequest(urq) = m else {
        panic!("expected URQ, got {m:?}");
    };
    assert_eq!(
        urq.endpoint_identifier.map(|e| e.text()),
        Some("ep-1".into())
    );
    assert_eq!(urq.endpoint_alias, Some(config().aliases));
    answer(
        &mut r,
        t0,
        RasMessage::UnregistrationConfirm(UnregistrationConfirm::new(urq.request_seq_num)),
    );
    assert_eq!(r.poll_event(), Some(Event::Unregistered));
    assert_eq!(r.state(), State::Unregistered);
    assert_eq!(r.poll_timeout(), None, "never registers again");
}

#[test]
fn unanswered_urq_still_ends_unregistered_and_unregistering_unregistered_sends_nothing() {
    let t0 = Instant::now();
    let mut r = registered(t0, 60);
    let _ = r.poll_event();
    r.unregister(t0).unwrap();
    let _ = sent(&mut r);
    while let Some(at) = r.poll_timeout() {
        r.handle_timeout(at).unwrap();
        while r.poll_transmit().is_some() {}
    }
    assert_eq!(r.poll_event(), Some(Event::Unregistered));

    let mut r = Registration::new(config(), t0).unwrap();
    let _ = sent(&mut r);
    r.unregister(t0).unwrap();
    assert!(r.poll_transmit().is_none());
    assert_eq!(r.poll_event(), Some(Event::Unregistered));
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn a_gatekeepers_urq_is_confirmed_and_followed_by_a_new_registration() {
    let t0 = Instant::now();
    let mut r = registered(t0, 60);
    let _ = r.poll_event();
    answer(
        &mut r,
        t0,
        RasMessage::UnregistrationRequest(Box::new(UnregistrationRequest::new(4242, vec![], None))),
    );
    let ucf = r.poll_transmit().unwrap();
    assert_eq!(
        decode_ras(&ucf.payload).unwrap(),
        RasMessage::UnregistrationConfirm(UnregistrationConfirm::new(4242))
    );
    let q = rrq(decode_ras(&r.poll_transmit().unwrap().payload).unwrap());
    assert_eq!(q.keep_alive, Some(false));
    assert_eq!(r.poll_event(), Some(Event::UnregisteredByGatekeeper));
}

#[test]
fn garbage_and_strangers_are_errors_not_panics() {
    let t0 = Instant::now();
    let mut r = Registration::new(config(), t0).unwrap();
    let _ = sent(&mut r);
    for junk in [&[][..], &[0xff; 3][..], &[0x12, 0x80, 0x00][..]] {
        assert!(matches!(
            r.handle_datagram(t0, gk(), junk),
            Err(Error::H225(_))
        ));
    }
    let stranger: SocketAddr = ([198, 51, 100, 9], 1719).into();
    assert!(matches!(
        r.handle_datagram(t0, stranger, &encode_ras(&rcf(1, None)).unwrap()),
        Err(Error::NotFromGatekeeper(_))
    ));
    assert!(!r.is_registered());
}

#[test]
fn every_modelled_ras_message_round_trips() {
    let t0 = Instant::now();
    let mut r = Registration::new(config(), t0).unwrap();
    let full = sent(&mut r).1;
    let seq = full.request_seq_num().unwrap();
    answer(&mut r, t0, rcf(seq, Some(30)));
    r.handle_timeout(r.poll_timeout().unwrap()).unwrap();
    let keep_alive = sent(&mut r).1;
    let mut rcf_full = RegistrationConfirm::new(
        9,
        vec![TransportAddress::from_socket(config().call_signal_address)],
        EndpointIdentifier::new("ep-9").unwrap(),
        Some(30),
    );
    rcf_full.gatekeeper_identifier = Some(GatekeeperIdentifier::new("GK").unwrap());
    rcf_full.alternate_gatekeeper = Some(vec![AlternateGk {
        ras_address: TransportAddress::from_socket(gk()),
        gatekeeper_identifier: None,
        need_to_register: true,
        priority: 1,
    }]);
    rcf_full.pre_granted_arq = Some(PreGrantedArq {
        make_call: true,
        use_gk_call_signal_address_to_make_call: false,
        answer_call: true,
        use_gk_call_signal_address_to_answer: false,
        irr_frequency_in_call: Some(30),
        total_bandwidth_restriction: None,
    });
    let messages = vec![
        full,
        keep_alive,
        RasMessage::GatekeeperRequest(Box::new(r.grq())),
        RasMessage::GatekeeperConfirm(Box::new(GatekeeperConfirm::new(
            1,
            TransportAddress::from_socket(gk()),
            None,
        ))),
        RasMessage::GatekeeperReject(Box::new(GatekeeperReject::new(
            2,
            GatekeeperRejectReason::SecurityDenial(()),
        ))),
        RasMessage::RegistrationConfirm(Box::new(rcf_full)),
        rrj(3, RegistrationRejectReason::RegisterWithAssignedGk(())),
        RasMessage::UnregistrationRequest(Box::new(r.urq())),
        RasMessage::UnregistrationConfirm(UnregistrationConfirm::new(4)),
        RasMessage::UnregistrationReject(UnregistrationReject::new(
            5,
            UnregRejectReason::PermissionDenied(()),
        )),
    ];
    for m in messages {
        let octets = encode_ras(&m).unwrap();
        assert_eq!(decode_ras(&octets).unwrap(), m, "{octets:02x?}");
    }
    // An admission request (not modelled) is refused clearly, not misread: its CHOICE index.
    assert!(decode_ras(&[0x24, 0x00]).is_err());
}
