//! Licences and capacity: endpoint licences (486) freed by every way a call ends, the gateway
//! limits (503), and the call, licence and lobby metrics.

use super::*;

fn two_licences(dir: &mut Directory) {
    strict_meeting(dir);
    dir.update_tenant(
        &key(),
        &TenantUpdate {
            endpoint_licenses: Some(2),
            ..TenantUpdate::default()
        },
    )
    .unwrap();
}

#[test]
fn calls_beyond_the_endpoint_licence_get_486_and_every_ending_frees_the_licence() {
    let mut h = Harness::with(two_licences, |c| {
        c.lobby_timeout = Some(Duration::from_secs(60))
    });
    assert_eq!(
        h.metrics
            .licenses_total
            .with_label_values(&["12345678", "endpoint"])
            .get(),
        2
    );
    // BYE from the caller.
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let ok1 = h.final_response();
    // Entry queue calls hold a licence too.
    h.send(&invite("sip:12345678@gw", "c2"));
    let ok2 = h.final_response();
    assert_eq!(licences_in_use(&h), 2);
    h.send(&invite("sip:12345678.1177958860@gw", "c3"));
    let busy = h.final_response();
    assert_eq!(busy.status(), Some(486));
    assert_eq!(busy.reason(), Some("Busy Here - licence limit reached"));
    let warning = busy
        .headers
        .get(&HeaderName::new("Warning").unwrap())
        .unwrap();
    assert!(
        warning.contains("endpoint licence limit of 2 reached for tenant 12345678"),
        "{warning}"
    );
    assert_eq!(
        h.metrics
            .calls_refused_total
            .with_label_values(&["12345678", "licence"])
            .get(),
        1
    );

    h.send(&in_dialog("BYE", &ok1, 2, "", ""));
    assert_eq!(licences_in_use(&h), 1, "BYE frees");
    // Entry queue failures (our BYE) free.
    let mut cseq = 2;
    for _ in 0..3 {
        for d in "999999#".chars() {
            h.send(&info_digit(&ok2, cseq, d));
            cseq += 1;
        }
    }
    h.advance(Duration::from_secs(3));
    assert_eq!(licences_in_use(&h), 0, "our BYE frees");

    // Lobby deny and lobby timeout free.
    h.send(&invite("sip:12345678.2000000@gw", "c4"));
    h.send(&invite("sip:12345678.2000000@gw", "c5"));
    assert_eq!(licences_in_use(&h), 2);
    let id = h.view_of("12345678", "2000000").lobby[0].id.clone();
    h.core
        .handle_admin(
            h.now,
            AdminCommand::Deny {
                tenant: "12345678".into(),
                conference: "2000000".into(),
                id,
            },
        )
        .unwrap();
    assert_eq!(licences_in_use(&h), 1, "lobby deny frees");
    h.advance(Duration::from_secs(61));
    assert_eq!(licences_in_use(&h), 0, "lobby timeout frees");

    // A missing ACK (the peer vanished) frees.
    h.send(&invite("sip:12345678.1177958860@gw", "c6"));
    assert_eq!(licences_in_use(&h), 1);
    h.advance(Duration::from_secs(33));
    assert_eq!(licences_in_use(&h), 0, "ACK timeout frees");
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn cancel_and_drain_free_licences_too() {
    let mut h = Harness::with(two_licences, |c| c.ring_time = Duration::from_secs(2));
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(licences_in_use(&h), 1, "a ringing call holds its licence");
    h.send(&cancel_for("c1"));
    assert_eq!(licences_in_use(&h), 0, "CANCEL frees");
    h.send(&invite("sip:12345678.1177958860@gw", "c2"));
    h.advance(Duration::from_secs(2));
    assert_eq!(licences_in_use(&h), 1);
    h.core.begin_drain(h.now);
    h.advance(Duration::from_secs(11));
    assert_eq!(licences_in_use(&h), 0, "drain frees");
}

#[test]
fn gateway_capacity_refuses_with_503_and_retry_after() {
    let mut h = Harness::with(|_| {}, |c| c.max_calls = Some(1));
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(h.final_response().status(), Some(200));
    h.send(&invite("sip:12345678.1177958860@gw", "c2"));
    let r = h.final_response();
    assert_eq!(r.status(), Some(503));
    assert_eq!(
        r.headers.get(&HeaderName::new("Retry-After").unwrap()),
        Some("5")
    );
    assert_eq!(
        h.metrics
            .calls_refused_total
            .with_label_values(&["-", "capacity"])
            .get(),
        1
    );
}

#[test]
fn call_metrics_are_labelled_by_tenant_route_and_reason() {
    let mut h = Harness::demo();
    h.send(&invite("sip:61177958860@gw", "c1"));
    h.send(&invite("sip:12345678.1111111111@gw", "c2"));
    h.send(&invite_with(
        "sip:12345678.1177958860@gw",
        "c3",
        1,
        "z9hG4bK3",
        "board",
        "",
        G729_OFFER,
    ));
    let text = h.metrics.render();
    for line in [
        "tessera_calls_total{protocol=\"sip\",route=\"prefix\",tenant=\"12345678\"} 1",
        "tessera_calls_active{protocol=\"sip\",tenant=\"12345678\"} 1",
        "tessera_calls_refused_total{reason=\"not-found\",tenant=\"-\"} 1",
        "tessera_calls_refused_total{reason=\"no-common-codec\",tenant=\"12345678\"} 1",
        "tessera_call_setup_seconds_count 1",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    // No per-person labels anywhere (privacy: tenant at most).
    assert!(!text.contains("Board Room") && !text.contains("board@"));
}

#[test]
fn lobby_gauge_and_wait_histogram_follow_the_lobby() {
    let mut h = Harness::with(strict_meeting, |_| {});
    h.send(&invite("sip:12345678.2000000@gw", "c1"));
    let waiting = |h: &Harness| {
        h.metrics
            .lobby_waiting
            .with_label_values(&["12345678"])
            .get()
    };
    assert_eq!(waiting(&h), 1);
    h.advance(Duration::from_secs(7));
    let id = h.view_of("12345678", "2000000").lobby[0].id.clone();
    h.core
        .handle_admin(
            h.now,
            AdminCommand::Admit {
                tenant: "12345678".into(),
                conference: "2000000".into(),
                id,
            },
        )
        .unwrap();
    assert_eq!(waiting(&h), 0);
    let hist = h
        .metrics
        .lobby_wait_seconds
        .with_label_values(&["12345678"]);
    assert_eq!(hist.get_sample_count(), 1);
    assert!((hist.get_sample_sum() - 7.0).abs() < 0.01);
}

#[test]
fn measured_encoder_overload_refuses_new_calls_until_it_clears() {
    let mut h = Harness::demo();
    h.core.set_overloaded(true);
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let r = h.final_response();
    assert_eq!(r.status(), Some(503));
    assert_eq!(
        r.headers.get(&HeaderName::new("Retry-After").unwrap()),
        Some("5")
    );
    h.core.set_overloaded(false);
    h.send(&invite("sip:12345678.1177958860@gw", "c2"));
    assert_eq!(h.final_response().status(), Some(200));
}

fn calls_active_gauge(h: &Harness) -> i64 {
    h.metrics
        .calls_active
        .with_label_values(&["12345678", "sip"])
        .get()
}

/// `request` with a branch of its own dialog (`in_dialog` derives the branch from method and
/// CSeq only, so two calls' BYEs would look like one transaction).
fn unique(request: &str, ok: &Message) -> String {
    let call_id = ok.call_id().unwrap();
    request.replacen("branch=z9hG4bK-", &format!("branch=z9hG4bK-{call_id}-"), 1)
}

/// The soak test once read 12-14 calls where its fleet meant to hold 4 (the fleet had drifted,
/// the gateway was right): this pins the gauge to the calls that really exist through every way
/// calls come, go and come again.
#[test]
fn calls_active_follows_the_real_calls_through_joins_leaves_and_reinvites() {
    let mut h = Harness::demo();
    let uri = "sip:12345678.1177958860@gw";
    let mut oks = Vec::new();
    let check = |h: &Harness, expected: usize, what: &str| {
        assert_eq!(h.core.active_calls(), expected, "{what}: calls");
        assert_eq!(
            calls_active_gauge(h),
            i64::try_from(expected).unwrap(),
            "{what}: gauge"
        );
    };
    for n in 0..4 {
        let call_id = format!("j{n}");
        h.send(&invite(uri, &call_id));
        // The INVITE again before and after our 200 (the caller did not see it yet).
        h.send(&invite(uri, &call_id));
        let ok = h.final_response();
        assert_eq!(ok.status(), Some(200));
        h.send(&invite(uri, &call_id));
        h.send(&ack(&ok, ""));
        h.send(&invite(uri, &call_id));
        h.take_sent();
        oks.push(ok);
    }
    check(&h, 4, "four joins, INVITEs retransmitted");
    // Re-INVITEs (hold, resume) and their retransmissions change no count.
    for (i, ok) in oks.iter().enumerate() {
        let sdp = PCMU_OFFER.replace("o=room 1 1", "o=room 1 2");
        let reinvite = unique(
            &in_dialog(
                "INVITE",
                ok,
                2,
                "Contact: <sip:board@192.0.2.10:5060>\r\nContent-Type: application/sdp\r\n",
                &sdp,
            ),
            ok,
        );
        h.send(&reinvite);
        h.send(&reinvite);
        let r = h.final_response();
        assert_eq!(r.status(), Some(200), "re-INVITE {i}");
        h.send(&unique(&in_dialog("ACK", ok, 2, "", ""), ok));
    }
    check(&h, 4, "after re-INVITEs");
    // Churn: one leaves (BYE, retransmitted), a new one joins, for a while, past every
    // transaction timer.
    for n in 0..12 {
        let gone = oks.remove(0);
        let bye = unique(&in_dialog("BYE", &gone, 3, "", ""), &gone);
        h.send(&bye);
        assert_eq!(h.final_response().status(), Some(200));
        h.send(&bye);
        check(&h, 3, "one left");
        h.advance(Duration::from_secs(5));
        let call_id = format!("r{n}");
        h.send(&invite(uri, &call_id));
        let ok = h.final_response();
        h.send(&ack(&ok, ""));
        oks.push(ok);
        check(&h, 4, "one rejoined");
        h.advance(Duration::from_secs(5));
    }
    h.advance(Duration::from_secs(64));
    check(&h, 4, "after every transaction timer");
    for ok in &oks {
        h.send(&unique(&in_dialog("BYE", ok, 3, "", ""), ok));
    }
    h.advance(Duration::from_secs(64));
    check(&h, 0, "everyone hung up");
}
