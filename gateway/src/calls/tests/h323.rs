//! H.323 Setups through the core's routing seam: the dial plan, drain, capacity, licences and
//! trust classes give an H.323 caller the same decision a SIP caller gets.

use super::*;
use ::h323::call::EndReason;

const H323_VTC: &str = "192.0.2.10:1720";

fn route(h: &mut Harness, aliases: &[&str]) -> Result<H323Route, EndReason> {
    let aliases: Vec<String> = aliases.iter().map(|a| (*a).to_owned()).collect();
    h.core
        .route_h323(h.now, H323_VTC.parse().unwrap(), &aliases)
}

#[test]
fn an_h323_alias_naming_the_demo_meeting_routes_there_and_the_tenant_key_alone_to_the_entry_queue()
{
    let mut h = Harness::new();
    let routed = route(&mut h, &["Room 3", "12345678.1177958860"]).unwrap();
    assert_eq!(routed.tenant, key());
    assert_eq!(routed.conference, Some(conf()));
    assert_eq!(routed.class, ParticipantClass::UntrustedVtc);
    let queue = route(&mut h, &["12345678"]).unwrap();
    assert_eq!(queue.conference, None);
}

#[test]
fn unknown_meetings_and_non_dial_strings_are_refused_as_unknown_meeting_and_counted() {
    let mut h = Harness::new();
    assert_eq!(
        route(&mut h, &["12345678.999999"]),
        Err(EndReason::UnknownMeeting)
    );
    assert_eq!(route(&mut h, &["Room 3"]), Err(EndReason::UnknownMeeting));
    assert_eq!(route(&mut h, &[]), Err(EndReason::UnknownMeeting));
    assert_eq!(
        h.metrics
            .calls_refused_total
            .with_label_values(&["-", "not-found"])
            .get(),
        3
    );
}

#[test]
fn an_h323_call_beyond_the_endpoint_licence_is_refused_as_over_licence() {
    let mut h = Harness::with(
        |dir| {
            dir.update_tenant(
                &key(),
                &TenantUpdate {
                    endpoint_licenses: Some(0),
                    ..TenantUpdate::default()
                },
            )
            .unwrap();
        },
        |_| {},
    );
    assert_eq!(
        route(&mut h, &["12345678.1177958860"]),
        Err(EndReason::OverLicence)
    );
}

#[test]
fn a_tenant_requiring_encrypted_media_turns_h323_callers_away_as_rejected_and_counts_them() {
    let mut h = Harness::with(
        |dir| {
            dir.update_tenant(
                &key(),
                &TenantUpdate {
                    media_encryption: Some(crate::directory::MediaEncryption::Required),
                    ..TenantUpdate::default()
                },
            )
            .unwrap();
        },
        |_| {},
    );
    assert_eq!(
        route(&mut h, &["12345678.1177958860"]),
        Err(EndReason::Rejected)
    );
    assert_eq!(
        h.metrics
            .calls_refused_total
            .with_label_values(&["12345678", "encryption-required"])
            .get(),
        1
    );
}

#[test]
fn draining_and_a_full_gateway_refuse_h323_calls_as_a_temporary_failure() {
    let mut h = Harness::with(|_| {}, |c| c.max_calls = Some(0));
    assert_eq!(
        route(&mut h, &["12345678.1177958860"]),
        Err(EndReason::Draining)
    );
    let mut h = Harness::new();
    h.core.begin_drain(h.now);
    assert_eq!(
        route(&mut h, &["12345678.1177958860"]),
        Err(EndReason::Draining)
    );
}

#[test]
fn the_tenant_source_network_rules_and_pstn_trunks_classify_h323_callers() {
    let mut h = Harness::with(
        |dir| {
            dir.add_trusted_device(&key(), &TrustedDeviceRule::cidr("192.0.2.0/24").unwrap())
                .unwrap();
            // A URI pattern matching every From URI is SIP's: an H.323 caller has none.
            dir.add_trusted_device(&key(), &TrustedDeviceRule::uri_pattern("*@*").unwrap())
                .unwrap();
        },
        |_| {},
    );
    let routed = route(&mut h, &["12345678.1177958860"]).unwrap();
    assert_eq!(routed.class, ParticipantClass::TrustedVtc);
    let other = h
        .core
        .route_h323(
            h.now,
            "198.51.100.7:1720".parse().unwrap(),
            &["12345678.1177958860".to_owned()],
        )
        .unwrap();
    assert_eq!(other.class, ParticipantClass::UntrustedVtc);

    let mut h = Harness::with(
        |_| {},
        |c| c.pstn_trunks = vec!["192.0.2.0/24".parse().unwrap()],
    );
    let routed = route(&mut h, &["12345678.1177958860"]).unwrap();
    assert_eq!(routed.class, ParticipantClass::Pstn);
}

// ---------------------------------------------------------------------------------------------
// Admission: an H.323 call as one more participant.

use ::h323::call::{Event, MediaPlan, Stream};
use ::h323::media::Codec as H323Codec;

fn admit(h: &mut Harness, alias: &str) -> H323Admission {
    let admission = h
        .core
        .admit_h323(
            h.now,
            H323_VTC.parse().unwrap(),
            &[alias.to_owned()],
            Some("Boardroom".to_owned()),
        )
        .unwrap();
    h.collect();
    match admission {
        H323Admit::Admitted(admission) => admission,
        other => panic!("expected an admission, got {other:?}"),
    }
}

/// What Fast Start agrees with a room system receiving at 192.0.2.10:5000/5002.
fn fast_start_plan(local: ::h323::call::LocalMedia) -> MediaPlan {
    let h264 = H323Codec::H264 {
        profile: 64,
        level: 71,
    };
    let stream = |codec, rtp: SocketAddr, channel| {
        Some(Stream {
            codec,
            rtp: Some(rtp),
            channel,
        })
    };
    MediaPlan {
        audio_send: stream(H323Codec::G722, "192.0.2.10:5000".parse().unwrap(), 4),
        audio_receive: stream(H323Codec::G722, local.audio, 3),
        video_send: stream(h264, "192.0.2.10:5002".parse().unwrap(), 2),
        video_receive: stream(h264, local.video, 1),
    }
}

fn h323_event(h: &mut Harness, call: CallId, event: Event) {
    h.core.handle_h323_event(h.now, call, event);
    h.collect();
}

#[test]
fn an_admitted_h323_call_waits_for_its_media_then_joins_the_meeting_with_them_as_protocol_h323() {
    let mut h = Harness::demo();
    let admission = admit(&mut h, "12345678.1177958860");
    assert_eq!(h.media_starts(), 0, "no media before H.245 settles");
    // Audio known but the video channel not yet acknowledged: still waiting.
    let mut plan = fast_start_plan(admission.local);
    let full = plan.clone();
    plan.video_send.as_mut().unwrap().rtp = None;
    h323_event(&mut h, admission.call, Event::Media(plan));
    assert_eq!(h.media_starts(), 0, "video channel not settled yet");
    h323_event(&mut h, admission.call, Event::Media(full));
    let start = h
        .media
        .iter()
        .find_map(|m| match m {
            CoreOutput::MediaStart { audio, video, .. } => Some((*audio, *video)),
            _ => None,
        })
        .expect("media started");
    assert_eq!(
        start.0.remote,
        "192.0.2.10:5000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(start.0.codec, PromptCodec::G722);
    assert_eq!(start.0.local_port, admission.local.audio.port());
    let video = start.1.expect("video started");
    assert_eq!(
        video.remote,
        "192.0.2.10:5002".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(video.payload_type, ::h323::media::H264_PAYLOAD_TYPE);
    assert_eq!(video.packetization_mode, 0, "H.241's default");
    assert!(h
        .media
        .iter()
        .any(|m| matches!(m, CoreOutput::MediaJoin { call, .. } if *call == admission.call)));
    let view = h.view();
    let me = view
        .participants
        .iter()
        .find(|p| p.display_name == "Boardroom")
        .expect("in the roster");
    assert_eq!(me.protocol, "h323");
    assert_eq!(
        h.metrics
            .calls_active
            .with_label_values(&["12345678", "h323"])
            .get(),
        1
    );
}

#[test]
fn h323_dtmf_runs_the_entry_queue_and_an_h323_call_the_core_ends_gets_its_release() {
    let mut h = Harness::demo();
    let admission = admit(&mut h, "12345678");
    h323_event(
        &mut h,
        admission.call,
        Event::Media(fast_start_plan(admission.local)),
    );
    for key in "1177958860#".chars() {
        h323_event(&mut h, admission.call, Event::Dtmf(key));
    }
    assert!(
        h.view().participants.iter().any(|p| p.protocol == "h323"),
        "the entry queue placed the caller"
    );
    h.core.begin_drain(h.now);
    h.advance(Duration::from_secs(60));
    assert!(h.media.iter().any(|m| matches!(
        m,
        CoreOutput::H323Release { call, reason: EndReason::Draining } if *call == admission.call
    )));
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn an_h323_call_whose_media_never_settle_is_ended_and_the_caller_hanging_up_frees_its_licence() {
    let mut h = Harness::demo();
    let stuck = admit(&mut h, "12345678.1177958860");
    h.advance(Duration::from_secs(31));
    assert!(h.media.iter().any(|m| matches!(
        m,
        CoreOutput::H323Release { call, .. } if *call == stuck.call
    )));
    let call = admit(&mut h, "12345678.1177958860");
    assert_eq!(licences_in_use(&h), 1);
    h323_event(&mut h, call.call, Event::Ended(EndReason::Normal));
    assert_eq!(licences_in_use(&h), 0);
}

// ---------------------------------------------------------------------------------------------
// Cluster-wide licences: a routed Setup waits for its lease like an INVITE.

use super::cluster_licences::{lease_outcome, leases_asked, one_licence, released};
use crate::calls::{LeaseAnswer, LeaseOutcome, LeaseTicket};

/// Asks the core to admit a Setup to the demo meeting; it must wait for its lease.
fn setup_waiting(h: &mut Harness) -> (LeaseTicket, String) {
    let admitted = h.core.admit_h323(
        h.now,
        H323_VTC.parse().unwrap(),
        &["12345678.1177958860".to_owned()],
        Some("Boardroom".to_owned()),
    );
    h.collect();
    let Ok(H323Admit::AwaitingLease(ticket)) = admitted else {
        panic!("expected the Setup to wait for its lease, got {admitted:?}");
    };
    let asked = leases_asked(h, CallKind::Endpoint);
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].0, ticket);
    (ticket, asked[0].2.clone())
}

fn lease_answer(
    h: &mut Harness,
    ticket: LeaseTicket,
    answer: LeaseAnswer,
) -> Result<H323Admission, EndReason> {
    match lease_outcome(h, ticket, answer) {
        Some(LeaseOutcome::H323(decision)) => decision,
        other => panic!("expected an H.323 decision, got {other:?}"),
    }
}

fn cluster_licensed() -> Harness {
    Harness::with(one_licence, |c| c.cluster_licences = true)
}

#[test]
fn an_h323_setup_waits_for_its_cluster_lease_and_the_callers_hang_up_gives_it_back() {
    let mut h = cluster_licensed();
    let (ticket, lease) = setup_waiting(&mut h);
    assert!(lease.starts_with("h323:192.0.2.10:1720;"), "{lease}");
    assert_eq!(h.core.active_calls(), 0, "no call before the lease answer");

    let admission = lease_answer(&mut h, ticket, LeaseAnswer::Admitted).unwrap();
    assert_eq!(h.core.active_calls(), 1);
    assert_eq!(licences_in_use(&h), 1);
    // An answer for the same ticket again changes nothing.
    assert!(h
        .core
        .handle_lease(h.now, ticket, LeaseAnswer::Admitted)
        .is_none());
    h.collect();
    assert_eq!(h.core.active_calls(), 1);
    assert!(released(&h).is_empty());

    h323_event(
        &mut h,
        admission.call,
        Event::Media(fast_start_plan(admission.local)),
    );
    assert_eq!(h.media_starts(), 1);
    h323_event(&mut h, admission.call, Event::Ended(EndReason::Normal));
    assert_eq!(released(&h), vec![lease]);
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn the_cluster_decides_h323_admission_full_is_over_licence_and_no_store_is_draining() {
    let mut h = cluster_licensed();
    // Two calls here with one licence: the cluster counts (the local count does not refuse).
    for _ in 0..2 {
        let (ticket, _) = setup_waiting(&mut h);
        assert!(lease_answer(&mut h, ticket, LeaseAnswer::Admitted).is_ok());
    }
    let (ticket, _) = setup_waiting(&mut h);
    assert_eq!(
        lease_answer(&mut h, ticket, LeaseAnswer::Full),
        Err(EndReason::OverLicence),
        "the Release Complete reason of SIP's 486"
    );
    let (ticket, _) = setup_waiting(&mut h);
    assert_eq!(
        lease_answer(&mut h, ticket, LeaseAnswer::Unavailable),
        Err(EndReason::Draining)
    );
    let refused = |label| {
        h.metrics
            .calls_refused_total
            .with_label_values(&["12345678", label])
            .get()
    };
    assert_eq!((refused("licence"), refused("licence-store")), (1, 1));
    assert!(released(&h).is_empty(), "no refused Setup held a lease");
    assert_eq!(h.core.active_calls(), 2);
}

#[test]
fn an_h323_setup_whose_lease_comes_after_the_drain_began_is_refused_and_gives_it_back() {
    let mut h = cluster_licensed();
    let (ticket, lease) = setup_waiting(&mut h);
    h.core.begin_drain(h.now);
    h.collect();
    assert_eq!(
        lease_answer(&mut h, ticket, LeaseAnswer::Admitted),
        Err(EndReason::Draining)
    );
    assert_eq!(released(&h), vec![lease]);
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn an_h323_caller_gone_while_its_setup_waited_is_ended_on_admission_and_gives_the_lease_back() {
    // The driver cannot hand the admission to a connection that closed while the Setup waited
    // (`server::h323::answer`): it ends the call as a hang-up at once.
    let mut h = cluster_licensed();
    let (ticket, lease) = setup_waiting(&mut h);
    let admission = lease_answer(&mut h, ticket, LeaseAnswer::Admitted).unwrap();
    h323_event(&mut h, admission.call, Event::Ended(EndReason::Normal));
    assert_eq!(released(&h), vec![lease]);
    assert_eq!(h.core.active_calls(), 0);
    assert_eq!(licences_in_use(&h), 0);
    assert_eq!(h.media_starts(), 0, "no media for a call nobody is on");
}
