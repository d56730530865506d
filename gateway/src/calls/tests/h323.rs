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
