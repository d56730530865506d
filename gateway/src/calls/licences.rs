//! Which calls hold which tenant's endpoint and cascade licences: adding a call to the core's indexes and
//! taking it out of every one of them (port, dialog, meeting, counts), and the licence and lobby
//! gauges that publish those counts.
//!
//! Owns the per-tenant counts; it must not decide whether a call is taken (that is `invite`'s
//! licence check) or send SIP.

use std::time::Instant;

use signaling::TenantKey;

use super::{Call, CallCore, CallId, Phase};

impl CallCore {
    /// Sets the licence totals of every tenant (at start; each INVITE refreshes its tenant's).
    pub(super) fn publish_all_licences(&self) {
        match self.directory.tenants() {
            Ok(tenants) => {
                for t in tenants {
                    self.publish_licences(&t);
                }
            }
            Err(e) => tracing::warn!(error = %e, "licence metrics not published"),
        }
    }

    pub(super) fn publish_licences(&self, tenant: &crate::directory::Tenant) {
        let key = tenant.key.as_str();
        let total = &self.metrics.licenses_total;
        total
            .with_label_values(&[key, "endpoint"])
            .set(tenant.endpoint_licenses.into());
        total
            .with_label_values(&[key, "cascade"])
            .set(tenant.cascade_licenses.into());
        let in_use = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.metrics
            .licenses_in_use
            .with_label_values(&[key, "endpoint"])
            .set(in_use(self.calls_of(&tenant.key)));
        let cascades = in_use(self.cascades_of(&tenant.key));
        self.metrics
            .licenses_in_use
            .with_label_values(&[key, "cascade"])
            .set(cascades);
        self.metrics
            .cascades_active
            .with_label_values(&[key])
            .set(cascades);
    }

    /// Calls of `tenant` holding an endpoint licence (every call, from acceptance to its end:
    /// ringing, entry queue and lobby included).
    pub(super) fn calls_of(&self, tenant: &TenantKey) -> usize {
        self.tenant_calls.get(tenant).copied().unwrap_or(0)
    }

    /// Adds a call to `calls` and its tenant's count of the licence it holds.
    pub(super) fn insert_call(&mut self, id: CallId, call: Call) {
        // A cluster link holds none: the callers at either end hold theirs.
        if !call.cluster {
            self.count_licence(&call.tenant, call.kind, true);
        }
        self.calls.insert(id, call);
    }

    /// Takes a call out of every index, frees its port and licence, and updates the gauges.
    /// Every way a call ends goes through here.
    pub(super) fn remove_call(&mut self, now: Instant, id: CallId) -> Option<Call> {
        let call = self.calls.remove(&id)?;
        if !call.cluster {
            self.count_licence(&call.tenant, call.kind, false);
        }
        self.release_lease(id);
        if let Some(uas) = &call.uas {
            self.ringing.remove(&uas.key);
        }
        if let Some(dialog) = &call.dialog {
            self.dialogs.remove(dialog.id());
        }
        self.ports.give_back(call.port_base);
        let tenant = call.tenant.as_str();
        self.metrics
            .calls_active
            .with_label_values(&[tenant, call.protocol.as_str()])
            .dec();
        if let Phase::Lobby(key) | Phase::InMeeting(key) = &call.phase {
            let waited = self
                .meetings
                .get_mut(key)
                .and_then(|m| m.remove(call.participant))
                .and_then(|entry| entry.waiting_since.filter(|_| entry.joined_at.is_none()));
            if let Some(since) = waited {
                self.metrics
                    .lobby_wait_seconds
                    .with_label_values(&[tenant])
                    .observe(now.saturating_duration_since(since).as_secs_f64());
            }
            let key = key.clone();
            // Someone leaving can change nothing for those waiting, but the meeting may be empty.
            self.process_lobby_events(now, &key);
        }
        Some(call)
    }

    /// Recomputes one tenant's lobby gauge.
    pub(super) fn publish_lobby(&self, tenant: &TenantKey) {
        let waiting: usize = self
            .meetings
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, m)| m.lobby.waiting().len())
            .sum();
        self.metrics
            .lobby_waiting
            .with_label_values(&[tenant.as_str()])
            .set(i64::try_from(waiting).unwrap_or(i64::MAX));
    }
}
