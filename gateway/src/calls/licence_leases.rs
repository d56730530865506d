//! Cluster-wide licences, the core's side (`CoreConfig::cluster_licences`): a call that passed
//! every other check waits for a lease ([`CoreOutput::LeaseRequest`]); the driver asks the
//! shared lease store (`crate::cluster`) and answers with [`CallCore::handle_lease`], which goes
//! on with the call or refuses it. Three kinds of call wait so:
//! - an INVITE (an endpoint or an inbound cascade link): 486 when the cluster is full, 503 when
//!   the store cannot answer;
//! - an H.323 Setup (an endpoint): Release Complete with `OverLicence` when full, `Draining`
//!   when the store cannot answer, the same reasons as this node's own licence check gives;
//! - a dial-out cascade link an operator asks for: the admin API's cascade-licence error.
//!
//! The INVITE is answered in SIP; the H.323 Setup and the dial-out are answered through their
//! driver ([`LeaseOutcome`]), which kept the connection task's or the admin request's reply.
//! A call that got a lease gives it back when it ends ([`CoreOutput::LeaseRelease`]); a dial-out
//! link holds its lease from the dial until it is hung up or given up, also between its retries
//! (the operator asked for the link, so its licence stays taken while it redials). Cluster links
//! (`cluster_links`) hold no licence and never wait.
//!
//! Owns the waiting calls and which call or link holds which lease; it must not reach the lease
//! store (the driver does, off the SIP task) nor count licences itself (`invite`'s check does
//! that when the licences are this node's own).
//!
//! An INVITE cancelled while it waits is answered 487 at once; its lease, if the answer admits
//! it, is given back when the answer arrives. An H.323 call or a dial-out whose answer comes
//! when it can no longer go on (the gateway started draining, the meeting emptied) is refused
//! and its lease given back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use signaling::sip::Message;
use signaling::transaction::{Peer, TxnKey};
use signaling::ResolvedDial;

use super::api::{AdminError, AdminReply, LeaseAnswer, LeaseOutcome, LeaseTicket};
use super::dialout::DialRequest;
use super::h323::H323Route;
use super::invite::{licences_of, Refusal};
use super::{header, CallCore, CallId, CallKind, CoreOutput, MeetingKey};
use crate::directory::Tenant;
use crate::lobby::ParticipantClass;

/// A call waiting for its lease, with what its checks so far decided.
#[derive(Debug)]
pub(super) enum Pending {
    /// An INVITE.
    Invite {
        key: TxnKey,
        invite: Message,
        from: Peer,
        resolved: ResolvedDial,
        class: ParticipantClass,
        kind: CallKind,
    },
    /// A routed H.323 Setup.
    H323 {
        source: SocketAddr,
        route: H323Route,
        display: Option<String>,
    },
    /// A dial-out link an operator asked for.
    DialOut {
        meeting: MeetingKey,
        request: DialRequest,
    },
}

/// A call waiting for its lease.
#[derive(Debug)]
struct Waiting {
    pending: Pending,
    lease: String,
    /// Cancelled while waiting (an INVITE CANCELled and answered 487).
    cancelled: bool,
}

/// Leases asked for and held.
#[derive(Debug, Default)]
pub(super) struct Leases {
    waiting: HashMap<LeaseTicket, Waiting>,
    /// The lease each call holds (a dial-out link keeps its own, `dialout::Link::lease`).
    held: HashMap<CallId, String>,
    next_ticket: u64,
}

impl CallCore {
    /// Parks a call and asks the driver for a lease of one of the tenant's `kind` licences.
    /// `name` starts the lease's name (the ticket makes it unique on this node).
    pub(super) fn ask_lease(
        &mut self,
        pending: Pending,
        name: &str,
        kind: CallKind,
        record: &Tenant,
    ) -> LeaseTicket {
        let ticket = LeaseTicket(self.leases.next_ticket);
        self.leases.next_ticket += 1;
        let lease = format!("{name};{}", ticket.0);
        self.out.push_back(CoreOutput::LeaseRequest {
            ticket,
            tenant: record.key.clone(),
            kind,
            licences: licences_of(record, kind),
            lease: lease.clone(),
        });
        self.leases.waiting.insert(
            ticket,
            Waiting {
                pending,
                lease,
                cancelled: false,
            },
        );
        ticket
    }

    /// A CANCEL for an INVITE that may be waiting for its lease: answers it 487 now; whether it
    /// was waiting.
    pub(super) fn cancel_waiting(&mut self, now: Instant, invite_key: &TxnKey) -> bool {
        let Some((key, invite, from, tenant)) =
            self.leases
                .waiting
                .values_mut()
                .find_map(|w| match &w.pending {
                    Pending::Invite {
                        key,
                        invite,
                        from,
                        resolved,
                        ..
                    } if *key == *invite_key && !w.cancelled => {
                        w.cancelled = true;
                        Some((key.clone(), invite.clone(), *from, resolved.tenant.clone()))
                    }
                    _ => None,
                })
        else {
            return false;
        };
        let refusal = Refusal::new(487, "Request Terminated")
            .labelled("cancelled")
            .for_tenant(&tenant);
        self.refuse(now, &key, &invite, from, refusal);
        true
    }

    /// The lease store's answer for a waiting call: the call goes on (holding the lease until
    /// it ends) or is refused. An INVITE is answered in SIP (`None`); an H.323 Setup's or a
    /// dial-out's decision is returned for the driver to hand on. An answer for no waiting call
    /// is ignored.
    pub fn handle_lease(
        &mut self,
        now: Instant,
        ticket: LeaseTicket,
        answer: LeaseAnswer,
    ) -> Option<LeaseOutcome> {
        let w = self.leases.waiting.remove(&ticket)?;
        if w.cancelled {
            self.give_back_if_admitted(answer, w.lease);
            return None;
        }
        let outcome = match w.pending {
            Pending::Invite {
                key,
                invite,
                from,
                resolved,
                class,
                kind,
            } => {
                self.invite_leased(
                    now,
                    answer,
                    w.lease,
                    (&key, &invite, from),
                    resolved,
                    (class, kind),
                );
                None
            }
            Pending::H323 {
                source,
                route,
                display,
            } => Some(LeaseOutcome::H323(
                self.h323_leased(now, answer, w.lease, source, route, display),
            )),
            Pending::DialOut { meeting, request } => Some(LeaseOutcome::DialOut(
                self.dial_out_leased(now, answer, w.lease, meeting, request),
            )),
        };
        // The responses went to the transaction layer and the links' agents; move what they send.
        self.pump(now);
        outcome
    }

    /// A lease the answer gave to a call that will not use it goes straight back.
    fn give_back_if_admitted(&mut self, answer: LeaseAnswer, lease: String) {
        if answer == LeaseAnswer::Admitted {
            self.out.push_back(CoreOutput::LeaseRelease { lease });
        }
    }

    /// An INVITE's lease answer: 200 on its way, 486, or 503.
    fn invite_leased(
        &mut self,
        now: Instant,
        answer: LeaseAnswer,
        lease: String,
        (key, invite, from): (&TxnKey, &Message, Peer),
        resolved: ResolvedDial,
        (class, kind): (ParticipantClass, CallKind),
    ) {
        let tenant = resolved.tenant.clone();
        // The gateway may have started draining (or filled up) while the INVITE waited.
        let unavailable = match answer {
            LeaseAnswer::Admitted => self.unavailable(),
            LeaseAnswer::Full | LeaseAnswer::Unavailable => None,
        };
        let outcome = match (answer, unavailable) {
            (LeaseAnswer::Admitted, Some(refusal)) => Err(refusal),
            (LeaseAnswer::Admitted, None) => self.licensed_record(&tenant).and_then(|record| {
                self.finish_accept(
                    now,
                    key,
                    invite,
                    from,
                    resolved,
                    (class, kind),
                    &record.media,
                )
            }),
            (LeaseAnswer::Full, _) => self.licensed_record(&tenant).and_then(|record| {
                let limit = usize::try_from(licences_of(&record, kind)).unwrap_or(usize::MAX);
                Err(self.licence_refusal(&tenant, kind, limit))
            }),
            (LeaseAnswer::Unavailable, _) => Err(store_unavailable()),
        };
        match outcome {
            Ok(call) => {
                tracing::info!(call = %call, %from, lease = %lease, "call accepted with a cluster licence");
                self.leases.held.insert(call, lease);
            }
            Err(refusal) => {
                self.give_back_if_admitted(answer, lease);
                self.refuse(now, key, invite, from, refusal.for_tenant(&tenant));
            }
        }
    }

    /// An H.323 Setup's lease answer: admitted (holding the lease), or the Release Complete
    /// reason the SIP refusal would map to (486 `OverLicence`, 503 `Draining`).
    fn h323_leased(
        &mut self,
        now: Instant,
        answer: LeaseAnswer,
        lease: String,
        source: SocketAddr,
        route: H323Route,
        display: Option<String>,
    ) -> Result<super::H323Admission, ::h323::call::EndReason> {
        let tenant = route.tenant.clone();
        let admitted = match answer {
            LeaseAnswer::Admitted => match self.unavailable() {
                Some(refusal) => Err(refusal),
                None => self
                    .place_h323(now, source, route, display)
                    // Only a lack of ports or of a local media description fails here.
                    .map_err(|_| Refusal::new(503, "").labelled("capacity")),
            },
            LeaseAnswer::Full => Err(Refusal::new(486, "").labelled("licence")),
            LeaseAnswer::Unavailable => Err(store_unavailable()),
        };
        match admitted {
            Ok(admission) => {
                tracing::info!(call = %admission.call, %source, lease = %lease, "H.323 call accepted with a cluster licence");
                self.leases.held.insert(admission.call, lease);
                Ok(admission)
            }
            Err(refusal) => {
                self.give_back_if_admitted(answer, lease);
                let reason = super::h323::release_reason(refusal.code);
                tracing::info!(%source, ?reason, "H.323 call refused after its lease answer");
                self.metrics
                    .calls_refused_total
                    .with_label_values(&[tenant.as_str(), refusal.label])
                    .inc();
                Err(reason)
            }
        }
    }

    /// A dial-out's lease answer: the link dialled (holding the lease until it goes), or the
    /// admin API's cascade-licence error.
    fn dial_out_leased(
        &mut self,
        now: Instant,
        answer: LeaseAnswer,
        lease: String,
        meeting: MeetingKey,
        request: DialRequest,
    ) -> Result<AdminReply, AdminError> {
        let tenant = meeting.0.clone();
        match answer {
            LeaseAnswer::Admitted => self.dial_leased_link(now, meeting, request, lease),
            LeaseAnswer::Full => {
                let limit = self
                    .licensed_record(&tenant)
                    .map(|r| usize::try_from(r.cascade_licenses).unwrap_or(usize::MAX))
                    .map_err(|r| AdminError::CascadeLicence(r.reason_text()))?;
                Err(AdminError::CascadeLicence(
                    self.licence_refusal(&tenant, CallKind::Cascade, limit)
                        .reason_text(),
                ))
            }
            LeaseAnswer::Unavailable => Err(AdminError::CascadeLicence(
                "the cluster's licence store is unavailable; try again".into(),
            )),
        }
    }

    /// Gives back the lease a call held, if it held one (every way a call ends comes here).
    pub(super) fn release_lease(&mut self, call: CallId) {
        if let Some(lease) = self.leases.held.remove(&call) {
            self.out.push_back(CoreOutput::LeaseRelease { lease });
        }
    }
}

/// The refusal when the lease store cannot answer: never admitted unlicensed, try again.
fn store_unavailable() -> Refusal {
    Refusal::new(503, "Service Unavailable - licence store unavailable")
        .with(header("Retry-After"), "5".into())
        .labelled("licence-store")
}
