//! Cascade links from a conference bridge: a call matching one of the tenant's cascade rules is
//! one participant of kind `cascade`, holds a cascade licence (not an endpoint licence), sees the
//! speaker bare and full screen, and gives its licence back however the link ends.

use super::*;

/// The bridge's network (the harness's caller address, 192.0.2.10) is a cascade rule, and the
/// tenant has one cascade licence.
fn bridge_network(dir: &mut Directory) {
    let rule = TrustedDeviceRule::cidr("192.0.2.0/24").unwrap();
    dir.add_device_rule(&key(), &rule, true).unwrap();
    one_cascade_licence(dir);
}

/// The demo tenant with one cascade licence.
pub(super) fn one_cascade_licence(dir: &mut Directory) {
    dir.update_tenant(
        &key(),
        &TenantUpdate {
            cascade_licenses: Some(1),
            ..TenantUpdate::default()
        },
    )
    .unwrap();
}

pub(super) fn cascades_in_use(h: &Harness) -> i64 {
    h.metrics
        .licenses_in_use
        .with_label_values(&["12345678", "cascade"])
        .get()
}

pub(super) fn cascades_active(h: &Harness) -> i64 {
    h.metrics
        .cascades_active
        .with_label_values(&["12345678"])
        .get()
}

/// A bridge's call into the demo meeting, answered and acknowledged.
fn link(h: &mut Harness, call_id: &str, extra: &str) -> Message {
    h.send(&invite_with(
        "sip:12345678.1177958860@gw",
        call_id,
        1,
        &format!("z9hG4bK-{call_id}"),
        "rmx",
        extra,
        PCMU_OFFER,
    ));
    let ok = h.final_response();
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    h.send(&ack(&ok, ""));
    assert_eq!(cascades_in_use(h), 1);
    assert_eq!(cascades_active(h), 1);
    ok
}

pub(super) fn link_call(h: &Harness) -> CallId {
    h.media
        .iter()
        .find_map(|m| match m {
            CoreOutput::MediaStart { call, .. } => Some(*call),
            _ => None,
        })
        .expect("the link's media started")
}

fn assert_freed(h: &mut Harness, how: &str) {
    assert_eq!(cascades_in_use(h), 0, "{how} frees the cascade licence");
    assert_eq!(cascades_active(h), 0, "{how}: tessera_cascades_active");
    assert_eq!(h.core.active_calls(), 0, "{how}");
    assert!(h.callers().is_empty(), "{how}");
}

#[test]
fn a_call_matching_a_cascade_rule_is_one_cascade_participant_holding_a_cascade_licence() {
    let mut h = Harness::with(bridge_network, |_| {});
    h.core
        .add_synthetic(h.now, &key(), &conf(), "Ada Lovelace")
        .unwrap();
    link(&mut h, "l1", "");
    assert_eq!(licences_in_use(&h), 0, "no endpoint licence is taken");
    let view = h.view();
    let kinds: Vec<(&str, &str)> = view
        .participants
        .iter()
        .map(|p| (p.display_name.as_str(), p.kind))
        .collect();
    assert_eq!(
        kinds,
        [("Ada Lovelace", "synthetic"), ("Board Room", "cascade")]
    );
    // The bridge is sent the speaker alone, bare and full screen, from its first picture on.
    let call = link_call(&h);
    let layouts: Vec<&CoreOutput> = h
        .media
        .iter()
        .filter(|m| matches!(m, CoreOutput::MediaControl { .. }))
        .collect();
    assert!(
        matches!(
            layouts[..],
            [CoreOutput::MediaControl { call: c, control: MediaControl::Layout(LayoutMode::Cascade) }]
                if *c == call
        ),
        "{layouts:?}"
    );
    let text = h.metrics.render();
    for line in [
        "tessera_cascades_active{tenant=\"12345678\"} 1",
        "tessera_licenses_in_use{kind=\"cascade\",tenant=\"12345678\"} 1",
        "tessera_licenses_total{kind=\"cascade\",tenant=\"12345678\"} 1",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
}

#[test]
fn a_room_system_outside_the_cascade_rules_still_holds_an_endpoint_licence() {
    let mut h = Harness::with(
        |dir| {
            let rule = TrustedDeviceRule::uri_pattern("sip:rmx@*").unwrap();
            dir.add_device_rule(&key(), &rule, true).unwrap();
        },
        |_| {},
    );
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(h.final_response().status(), Some(200));
    assert_eq!((licences_in_use(&h), cascades_in_use(&h)), (1, 0));
    // An untrusted room system waits in the lobby (nobody trusted is in yet).
    assert_eq!(h.view().lobby[0].kind, "endpoint");
    // The From URI pattern makes `rmx` a bridge.
    h.send(&invite_with(
        "sip:12345678.1177958860@gw",
        "l1",
        1,
        "z9hG4bK-l1",
        "rmx",
        "",
        PCMU_OFFER,
    ));
    assert_eq!(h.final_response().status(), Some(200));
    assert_eq!((licences_in_use(&h), cascades_in_use(&h)), (1, 1));
}

#[test]
fn a_bridge_beyond_the_cascade_licences_gets_486_naming_the_cascade_licence() {
    let mut h = Harness::with(bridge_network, |_| {});
    link(&mut h, "l1", "");
    h.send(&invite_with(
        "sip:12345678.1177958860@gw",
        "l2",
        1,
        "z9hG4bK-l2",
        "rmx2",
        "",
        PCMU_OFFER,
    ));
    let busy = h.final_response();
    assert_eq!(busy.status(), Some(486));
    let warning = busy
        .headers
        .get(&HeaderName::new("Warning").unwrap())
        .unwrap();
    assert!(
        warning.contains("cascade licence limit of 1 reached for tenant 12345678"),
        "{warning}"
    );
    assert_eq!(cascades_in_use(&h), 1);
    assert_eq!(
        h.metrics
            .calls_refused_total
            .with_label_values(&["12345678", "licence"])
            .get(),
        1
    );
}

#[test]
fn star_8_does_not_change_a_cascade_links_picture() {
    let mut h = Harness::with(bridge_network, |_| {});
    link(&mut h, "l1", "");
    let call = link_call(&h);
    h.media.clear();
    press(&mut h, call, "*8*8");
    assert!(
        !h.media
            .iter()
            .any(|m| matches!(m, CoreOutput::MediaControl { .. })),
        "{:?}",
        h.media
    );
}

#[test]
fn a_cascade_link_ended_by_the_bridges_bye_frees_its_licence() {
    let mut h = Harness::with(bridge_network, |_| {});
    let ok = link(&mut h, "l1", "");
    h.send(&in_dialog("BYE", &ok, 2, "", ""));
    assert_eq!(h.final_response().status(), Some(200));
    assert_freed(&mut h, "the bridge's BYE");
}

#[test]
fn a_cascade_link_removed_by_the_operator_is_hung_up_and_frees_its_licence() {
    let mut h = Harness::with(bridge_network, |_| {});
    link(&mut h, "l1", "");
    let id = h.callers()[0].id.clone();
    h.core
        .handle_admin(
            h.now,
            AdminCommand::Remove {
                tenant: "12345678".into(),
                conference: "1177958860".into(),
                id,
            },
        )
        .unwrap();
    h.collect();
    assert!(h
        .take_sent()
        .iter()
        .any(|m| m.method() == Some(&Method::Bye)));
    assert_freed(&mut h, "our BYE");
}

#[test]
fn draining_the_gateway_ends_a_cascade_link_and_frees_its_licence() {
    let mut h = Harness::with(bridge_network, |_| {});
    link(&mut h, "l1", "");
    h.core.begin_drain(h.now);
    h.advance(Duration::from_secs(11));
    assert_freed(&mut h, "drain");
}

#[test]
fn a_bridge_whose_media_stops_is_hung_up_and_frees_its_licence() {
    let mut h = Harness::with(bridge_network, |_| {});
    link(&mut h, "l1", "");
    let call = link_call(&h);
    h.core.handle_media_event(h.now, call, MediaEvent::Inactive);
    h.collect();
    assert_freed(&mut h, "RTP inactivity");
}

#[test]
fn a_bridge_that_stops_refreshing_its_session_is_hung_up_and_frees_its_licence() {
    let mut h = Harness::with(bridge_network, |_| {});
    link(&mut h, "l1", "Supported: timer\r\nSession-Expires: 90\r\n");
    h.advance(Duration::from_secs(61));
    assert_freed(&mut h, "the session timer");
}

#[test]
fn a_bridge_authenticating_with_a_cascade_digest_credential_is_a_cascade_link() {
    let realm = crate::directory::realm_of(&key());
    let mut h = Harness::with(
        |dir| {
            let rule = TrustedDeviceRule::digest("rmx:correct horse battery", &realm).unwrap();
            dir.add_device_rule(&key(), &rule, true).unwrap();
        },
        |_| {},
    );
    let uri = "sip:12345678.1177958860@gw";
    h.send(&invite_with(
        uri, "l1", 1, "z9hG4bKa", "rmx", "", PCMU_OFFER,
    ));
    let challenged = h.final_response();
    assert_eq!(challenged.status(), Some(401));
    let www = challenged
        .headers
        .get(&HeaderName::new("WWW-Authenticate").unwrap())
        .unwrap();
    let answer = signaling::digest::Challenge::parse(www).unwrap().answer(
        "rmx",
        "correct horse battery",
        "INVITE",
        uri,
        1,
        "abcd",
    );
    h.send(&invite_with(
        uri,
        "l1",
        2,
        "z9hG4bKb",
        "rmx",
        &format!("Authorization: {answer}\r\n"),
        PCMU_OFFER,
    ));
    assert_eq!(h.final_response().status(), Some(200));
    assert_eq!((licences_in_use(&h), cascades_in_use(&h)), (0, 1));
    assert_eq!(h.callers()[0].kind, "cascade");
}
