//! Cluster-wide licences, the core's side (`CoreConfig::cluster_licences`): an INVITE that
//! passed every other check waits for a lease ([`CoreOutput::LeaseRequest`]); the driver asks the
//! shared lease store (`crate::cluster`) and answers with [`CallCore::handle_lease`], which goes on
//! with the call or refuses it (486 when the cluster is full, 503 when the store cannot answer).
//! A call that got a lease gives it back when it ends ([`CoreOutput::LeaseRelease`]).
//!
//! Owns the waiting INVITEs and which call holds which lease; it must not reach the lease store
//! (the driver does, off the SIP task) nor count licences itself (`invite`'s check does that
//! when the licences are this node's own). Cascade links we dial and H.323 calls still count
//! this node's calls only.
//!
//! An INVITE cancelled while it waits is answered 487 at once; its lease, if the answer admits
//! it, is given back when the answer arrives.

use std::collections::HashMap;
use std::time::Instant;

use signaling::sip::Message;
use signaling::transaction::{Peer, TxnKey};
use signaling::ResolvedDial;

use super::api::{LeaseAnswer, LeaseTicket};
use super::invite::{licences_of, Refusal};
use super::{header, CallCore, CallId, CallKind, CoreOutput};
use crate::directory::Tenant;
use crate::lobby::ParticipantClass;

/// An INVITE waiting for its lease, with what its checks so far decided.
#[derive(Debug)]
struct Waiting {
    key: TxnKey,
    invite: Message,
    from: Peer,
    resolved: ResolvedDial,
    class: ParticipantClass,
    kind: CallKind,
    lease: String,
    /// CANCELled (and answered 487) while waiting.
    cancelled: bool,
}

/// Leases asked for and held.
#[derive(Debug, Default)]
pub(super) struct Leases {
    waiting: HashMap<LeaseTicket, Waiting>,
    /// The lease each call holds.
    held: HashMap<CallId, String>,
    next_ticket: u64,
}

impl CallCore {
    /// Parks an INVITE and asks the driver for a lease of one of the tenant's `kind` licences.
    pub(super) fn ask_lease(
        &mut self,
        key: &TxnKey,
        invite: &Message,
        from: Peer,
        resolved: ResolvedDial,
        (class, kind): (ParticipantClass, CallKind),
        record: &Tenant,
    ) {
        let ticket = LeaseTicket(self.leases.next_ticket);
        self.leases.next_ticket += 1;
        // The ticket makes the name unique even for two INVITEs sharing a Call-ID.
        let lease = format!("{};{}", invite.call_id().unwrap_or("-"), ticket.0);
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
                key: key.clone(),
                invite: invite.clone(),
                from,
                resolved,
                class,
                kind,
                lease,
                cancelled: false,
            },
        );
    }

    /// A CANCEL for an INVITE that may be waiting for its lease: answers it 487 now; whether it
    /// was waiting.
    pub(super) fn cancel_waiting(&mut self, now: Instant, invite_key: &TxnKey) -> bool {
        let Some(w) = self
            .leases
            .waiting
            .values_mut()
            .find(|w| w.key == *invite_key && !w.cancelled)
        else {
            return false;
        };
        w.cancelled = true;
        let (key, invite, from) = (w.key.clone(), w.invite.clone(), w.from);
        let refusal = Refusal::new(487, "Request Terminated")
            .labelled("cancelled")
            .for_tenant(&w.resolved.tenant);
        self.refuse(now, &key, &invite, from, refusal);
        true
    }

    /// The lease store's answer for a waiting INVITE: the call goes on (holding the lease until
    /// it ends) or is refused. An answer for no waiting INVITE is ignored.
    pub fn handle_lease(&mut self, now: Instant, ticket: LeaseTicket, answer: LeaseAnswer) {
        let Some(w) = self.leases.waiting.remove(&ticket) else {
            return;
        };
        if w.cancelled {
            if answer == LeaseAnswer::Admitted {
                self.out
                    .push_back(CoreOutput::LeaseRelease { lease: w.lease });
            }
            return;
        }
        let tenant = w.resolved.tenant.clone();
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
                    &w.key,
                    &w.invite,
                    w.from,
                    w.resolved,
                    (w.class, w.kind),
                    &record.media,
                )
            }),
            (LeaseAnswer::Full, _) => self.licensed_record(&tenant).and_then(|record| {
                let limit = usize::try_from(licences_of(&record, w.kind)).unwrap_or(usize::MAX);
                Err(self.licence_refusal(&tenant, w.kind, limit))
            }),
            (LeaseAnswer::Unavailable, _) => Err(Refusal::new(
                503,
                "Service Unavailable - licence store unavailable",
            )
            .with(header("Retry-After"), "5".into())
            .labelled("licence-store")),
        };
        match outcome {
            Ok(call) => {
                tracing::info!(call = %call, from = %w.from, lease = %w.lease, "call accepted with a cluster licence");
                self.leases.held.insert(call, w.lease);
            }
            Err(refusal) => {
                if answer == LeaseAnswer::Admitted {
                    self.out
                        .push_back(CoreOutput::LeaseRelease { lease: w.lease });
                }
                self.refuse(now, &w.key, &w.invite, w.from, refusal.for_tenant(&tenant));
            }
        }
        // The responses went to the transaction layer; move what it sends out.
        self.pump(now);
    }

    /// Gives back the lease a call held, if it held one (every way a call ends comes here).
    pub(super) fn release_lease(&mut self, call: CallId) {
        if let Some(lease) = self.leases.held.remove(&call) {
            self.out.push_back(CoreOutput::LeaseRelease { lease });
        }
    }
}
