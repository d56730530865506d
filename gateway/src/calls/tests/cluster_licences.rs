//! Cluster-wide licences, the core's side: with `cluster_licences` an INVITE waits for the
//! driver's lease answer (no final response before it), goes on when admitted (and releases the
//! lease when the call ends), gets 486 when the cluster is full and 503 when the store cannot
//! answer; the local count does not refuse it. A CANCEL while it waits gets 487 at once and the
//! lease, when it comes, is given back.

use super::*;
use crate::calls::{LeaseAnswer, LeaseTicket};

pub(super) fn one_licence(dir: &mut Directory) {
    dir.update_tenant(
        &key(),
        &TenantUpdate {
            endpoint_licenses: Some(1),
            ..TenantUpdate::default()
        },
    )
    .unwrap();
}

/// The endpoint lease requests the core has asked for since the last call, as (ticket,
/// licences, lease).
fn lease_requests(h: &mut Harness) -> Vec<(LeaseTicket, u32, String)> {
    leases_asked(h, CallKind::Endpoint)
}

/// The lease requests for `want` licences of the demo tenant the core has asked for since the
/// last call, as (ticket, licences, lease).
pub(super) fn leases_asked(h: &mut Harness, want: CallKind) -> Vec<(LeaseTicket, u32, String)> {
    let mut asked = Vec::new();
    h.media.retain(|out| match out {
        CoreOutput::LeaseRequest {
            ticket,
            tenant,
            kind,
            licences,
            lease,
        } => {
            assert_eq!((tenant, *kind), (&key(), want));
            asked.push((*ticket, *licences, lease.clone()));
            false
        }
        _ => true,
    });
    asked
}

pub(super) fn released(h: &Harness) -> Vec<String> {
    h.media
        .iter()
        .filter_map(|out| match out {
            CoreOutput::LeaseRelease { lease } => Some(lease.clone()),
            _ => None,
        })
        .collect()
}

/// Hands the core a lease answer; what it decided for a Setup or a dial-out waiting on it.
pub(super) fn lease_outcome(
    h: &mut Harness,
    ticket: LeaseTicket,
    answer: LeaseAnswer,
) -> Option<crate::calls::LeaseOutcome> {
    let outcome = h.core.handle_lease(h.now, ticket, answer);
    h.collect();
    outcome
}

fn answer(h: &mut Harness, ticket: LeaseTicket, answer: LeaseAnswer) {
    assert!(
        lease_outcome(h, ticket, answer).is_none(),
        "an INVITE's answer is SIP"
    );
}

#[test]
fn an_invite_waits_for_its_lease_and_its_call_releases_the_lease_when_it_ends() {
    let mut h = Harness::with(one_licence, |c| c.cluster_licences = true);
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert!(
        h.codes().iter().all(|c| *c < 200),
        "no final response before the lease answer"
    );
    let asked = lease_requests(&mut h);
    assert_eq!(asked.len(), 1);
    let (ticket, licences, lease) = asked[0].clone();
    assert_eq!(licences, 1);
    assert!(lease.starts_with("c1;"), "{lease}");
    assert_eq!(h.media_starts(), 0);

    answer(&mut h, ticket, LeaseAnswer::Admitted);
    let ok = h.final_response();
    assert_eq!(ok.status(), Some(200));
    assert_eq!(h.media_starts(), 1);
    // An answer for the same ticket again changes nothing.
    answer(&mut h, ticket, LeaseAnswer::Admitted);
    assert!(h.take_sent().is_empty());
    assert!(released(&h).is_empty());

    h.send(&in_dialog("BYE", &ok, 2, "", ""));
    assert_eq!(released(&h), vec![lease]);
}

#[test]
fn the_cluster_decides_not_the_local_count_full_is_486_and_unavailable_is_503() {
    let mut h = Harness::with(one_licence, |c| c.cluster_licences = true);
    // Two calls on this node with one licence: the cluster admits both (it counts the licences,
    // e.g. after the tenant's limit changed elsewhere); the local count does not refuse.
    for call in ["c1", "c2"] {
        h.send(&invite("sip:12345678.1177958860@gw", call));
        let (ticket, ..) = lease_requests(&mut h)[0].clone();
        answer(&mut h, ticket, LeaseAnswer::Admitted);
        assert_eq!(h.final_response().status(), Some(200), "{call}");
    }

    h.send(&invite("sip:12345678.1177958860@gw", "c3"));
    let (ticket, ..) = lease_requests(&mut h)[0].clone();
    answer(&mut h, ticket, LeaseAnswer::Full);
    let busy = h.final_response();
    assert_eq!(busy.status(), Some(486));
    let warning = busy
        .headers
        .get(&HeaderName::new("Warning").unwrap())
        .unwrap();
    assert!(
        warning.contains("endpoint licence limit of 1 reached for tenant 12345678"),
        "{warning}"
    );

    h.send(&invite("sip:12345678.1177958860@gw", "c4"));
    let (ticket, ..) = lease_requests(&mut h)[0].clone();
    answer(&mut h, ticket, LeaseAnswer::Unavailable);
    let refused = h.final_response();
    assert_eq!(refused.status(), Some(503));
    assert!(refused
        .headers
        .get(&HeaderName::new("Retry-After").unwrap())
        .is_some());
    // Neither refusal held a lease, so none is released.
    assert!(released(&h).is_empty());
}

#[test]
fn an_admitted_call_that_fails_after_its_lease_gives_the_lease_back() {
    // A call refused after the lease (here: no media ports left) must not keep the licence.
    let mut h = Harness::with(
        |_| {},
        |c| {
            c.cluster_licences = true;
            c.rtp_ports = 20000..=20003;
        },
    );
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let (first, ..) = lease_requests(&mut h)[0].clone();
    h.send(&invite("sip:12345678.1177958860@gw", "c2"));
    let (second, _, lease) = lease_requests(&mut h)[0].clone();
    answer(&mut h, first, LeaseAnswer::Admitted);
    assert_eq!(h.final_response().status(), Some(200));
    answer(&mut h, second, LeaseAnswer::Admitted);
    assert_eq!(h.final_response().status(), Some(503));
    assert_eq!(released(&h), vec![lease]);
}

#[test]
fn an_invite_cancelled_while_it_waits_gets_487_and_gives_its_lease_back() {
    let mut h = Harness::with(|_| {}, |c| c.cluster_licences = true);
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let (ticket, _, lease) = lease_requests(&mut h)[0].clone();
    h.take_sent();
    h.send(&cancel_for("c1"));
    let codes = h.codes();
    assert!(codes.contains(&200) && codes.contains(&487), "{codes:?}");
    answer(&mut h, ticket, LeaseAnswer::Admitted);
    assert_eq!(released(&h), vec![lease]);
    assert_eq!(h.media_starts(), 0);
    assert!(h.codes().iter().all(|c| *c != 200), "no call is answered");
}

#[test]
fn an_invite_admitted_after_the_drain_began_gets_503_and_gives_its_lease_back() {
    let mut h = Harness::with(|_| {}, |c| c.cluster_licences = true);
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let (ticket, _, lease) = lease_requests(&mut h)[0].clone();
    h.core.begin_drain(h.now);
    h.collect();
    answer(&mut h, ticket, LeaseAnswer::Admitted);
    assert_eq!(h.final_response().status(), Some(503));
    assert_eq!(released(&h), vec![lease]);
    assert_eq!(h.media_starts(), 0);
}
