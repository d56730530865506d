//! The H.323 entry into the call core: a Setup's destination aliases go through the same dial
//! plan, drain and capacity checks, licence check and trust classification (PSTN trunks and the
//! tenant's source-network rules) as a SIP INVITE, and come back as where the call would go or
//! the `h323::call::EndReason` that refuses it (Release Complete with the matching Q.850 cause).
//!
//! Owns only that decision; it must not touch SIP transactions or dialogs, and it does not yet
//! hold an H.323 call as a [`super::Call`] (that struct is built around the INVITE and its SDP):
//! admitting the call into a meeting, its media and the roster are not built yet.

use std::net::SocketAddr;
use std::time::Instant;

use h323::call::EndReason;
use signaling::{ConferenceId, DialError, DialString, ResolvedDial, Route, TenantKey};

use super::{CallCore, CallKind};
use crate::directory::{MediaEncryption, TrustedDeviceRule};
use crate::lobby::ParticipantClass;

/// Where a routed H.323 call would go, and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H323Route {
    /// The tenant the alias names.
    pub tenant: TenantKey,
    /// The meeting, or `None` for the tenant's entry queue.
    pub conference: Option<ConferenceId>,
    /// The caller's trust class.
    pub class: ParticipantClass,
}

/// The refusal for a dial-plan failure: every way of not naming a meeting is "unknown meeting"
/// (unallocated number); a directory that cannot be read is a temporary failure, which
/// `EndReason::Draining` carries (gatewayResources, Q.850 41).
fn dial_refusal(error: &DialError) -> EndReason {
    match error {
        DialError::Lookup(_) => EndReason::Draining,
        DialError::Malformed(_)
        | DialError::NotADialString(_)
        | DialError::UnknownTenant(_)
        | DialError::UnknownConference { .. } => EndReason::UnknownMeeting,
    }
}

/// How much a dial-plan error says: an alias that named a tenant or meeting (which turned out
/// unknown) says more than one that was no dial string at all.
fn specificity(error: &DialError) -> u8 {
    match error {
        DialError::Malformed(_) | DialError::NotADialString(_) => 0,
        DialError::UnknownTenant(_) | DialError::UnknownConference { .. } => 1,
        DialError::Lookup(_) => 2,
    }
}

impl CallCore {
    /// Routes an H.323 Setup from `source` dialling `destination` (its aliases as text, then
    /// the Q.931 called party number): the first alias the dial plan resolves wins. Refusals
    /// are counted in `tessera_calls_refused_total` as the SIP ones are.
    pub fn route_h323(
        &mut self,
        _now: Instant,
        source: SocketAddr,
        destination: &[String],
    ) -> Result<H323Route, EndReason> {
        let decided = self.decide_h323(source, destination);
        match &decided {
            Ok(route) => tracing::info!(%source, tenant = %route.tenant,
                conference = ?route.conference, class = ?route.class, "H.323 call routed"),
            Err((tenant, label, reason)) => {
                tracing::info!(%source, ?destination, ?reason, "H.323 call refused");
                self.metrics
                    .calls_refused_total
                    .with_label_values(&[tenant.as_deref().unwrap_or("-"), label])
                    .inc();
            }
        }
        decided.map_err(|(_, _, reason)| reason)
    }

    /// The decision, with the refusal's tenant (once known) and metric label.
    #[allow(clippy::type_complexity)]
    fn decide_h323(
        &self,
        source: SocketAddr,
        destination: &[String],
    ) -> Result<H323Route, (Option<String>, &'static str, EndReason)> {
        if self.drain_deadline.is_some() {
            return Err((None, "draining", EndReason::Draining));
        }
        if self.overloaded
            || self
                .config
                .max_calls
                .is_some_and(|max| self.calls.len() >= max)
        {
            return Err((None, "capacity", EndReason::Draining));
        }
        let resolved = self
            .resolve_aliases(destination)
            .map_err(|e| (None, "not-found", dial_refusal(&e)))?;
        let tenant = resolved.tenant.clone();
        let with_tenant = |label, reason| (Some(tenant.to_string()), label, reason);
        let media_policy = self
            .check_licence(&tenant, CallKind::Endpoint)
            .map_err(|refusal| {
                if refusal.code == 486 {
                    with_tenant("licence", EndReason::OverLicence)
                } else {
                    with_tenant("other", EndReason::Draining)
                }
            })?;
        // H.323 calls here carry no H.235 media security: a tenant that requires encrypted
        // media turns them away, as it does clear-text SIP.
        if media_policy.encryption == MediaEncryption::Required {
            return Err(with_tenant("encryption-required", EndReason::Rejected));
        }
        let class = self
            .h323_class(source, &tenant)
            .map_err(|reason| with_tenant("other", reason))?;
        let conference = match resolved.route {
            Route::EntryQueue => None,
            _ => resolved.conference,
        };
        Ok(H323Route {
            tenant,
            conference,
            class,
        })
    }

    fn resolve_aliases(&self, destination: &[String]) -> Result<ResolvedDial, DialError> {
        let mut best: Option<DialError> = None;
        for alias in destination {
            match DialString::parse(alias).and_then(|d| d.resolve(self.directory.as_ref())) {
                Ok(resolved) => return Ok(resolved),
                Err(e) => {
                    if best
                        .as_ref()
                        .is_none_or(|b| specificity(&e) > specificity(b))
                    {
                        best = Some(e);
                    }
                }
            }
        }
        Err(best.unwrap_or_else(|| DialError::NotADialString(String::new())))
    }

    /// PSTN trunk, trusted VTC by one of the tenant's source-network rules, or untrusted. URI
    /// patterns and digest credentials are SIP's (H.235 is not required): they never match.
    fn h323_class(
        &self,
        source: SocketAddr,
        tenant: &TenantKey,
    ) -> Result<ParticipantClass, EndReason> {
        if self.is_pstn_trunk(source.ip()) {
            return Ok(ParticipantClass::Pstn);
        }
        let rules = self
            .directory
            .trusted_devices(tenant)
            .map_err(|_| EndReason::Draining)?;
        let trusted = rules
            .iter()
            .any(|d| matches!(&d.rule, TrustedDeviceRule::Cidr(net) if net.contains(&source.ip())));
        Ok(if trusted {
            ParticipantClass::TrustedVtc
        } else {
            ParticipantClass::UntrustedVtc
        })
    }
}
