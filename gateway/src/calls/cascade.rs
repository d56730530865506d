//! Cascade links: a conference bridge (an on-premises MCU, another gateway) that joins a meeting
//! as one participant. Which calls are links (the device rule they matched says so), the
//! per-tenant count of cascade licences they hold, and the picture a link receives (the current
//! speaker alone, full screen and bare, [`LayoutMode::Cascade`]).
//!
//! Owns the cascade side of licensing and what makes a link's media different from a room
//! system's; it must not decide trust (that is `invite`'s classification) nor send SIP. A link
//! ends like any call, through `end_call` and `remove_call`, which give its licence back.

use mixer::layout::LayoutMode;
use signaling::TenantKey;

use super::CallCore;
use crate::directory::TrustedDevice;

/// What a call is, for licensing and the roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// A room system (or PSTN caller): holds an endpoint licence.
    Endpoint,
    /// A conference bridge cascading into the meeting: holds a cascade licence, appears as one
    /// participant and receives the current speaker alone, full screen.
    Cascade,
}

impl CallKind {
    /// A cascade when any device rule the call matched names a conference bridge.
    pub(super) fn of<'a>(matched: impl IntoIterator<Item = &'a TrustedDevice>) -> Self {
        if matched.into_iter().any(|d| d.cascade) {
            CallKind::Cascade
        } else {
            CallKind::Endpoint
        }
    }

    /// The licence it holds: the `kind` label of the licence gauges and the word in a refusal's
    /// Warning.
    pub fn licence(self) -> &'static str {
        match self {
            CallKind::Endpoint => "endpoint",
            CallKind::Cascade => "cascade",
        }
    }

    /// The layout the call starts in: a bridge lays our picture out among its own participants,
    /// so it gets the speaker bare and full screen, never a grid (no pictures inside pictures).
    pub(super) fn initial_layout(self) -> LayoutMode {
        match self {
            CallKind::Endpoint => LayoutMode::Grid,
            CallKind::Cascade => LayoutMode::Cascade,
        }
    }
}

impl CallCore {
    /// Cascade links of `tenant` holding a cascade licence (from acceptance to their end).
    pub(super) fn cascades_of(&self, tenant: &TenantKey) -> usize {
        self.tenant_cascades.get(tenant).copied().unwrap_or(0)
    }

    /// Counts one more (`up`) or one fewer call of `kind` against `tenant`'s licences and moves
    /// the licence gauge (and, for links, `tessera_cascades_active`) with it.
    pub(super) fn count_licence(&mut self, tenant: &TenantKey, kind: CallKind, up: bool) {
        let counts = match kind {
            CallKind::Endpoint => &mut self.tenant_calls,
            CallKind::Cascade => &mut self.tenant_cascades,
        };
        if up {
            *counts.entry(tenant.clone()).or_default() += 1;
        } else if let Some(count) = counts.get_mut(tenant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(tenant);
            }
        }
        let label = tenant.as_str();
        let held = counts.get(tenant).copied().unwrap_or(0);
        let held = i64::try_from(held).unwrap_or(i64::MAX);
        self.metrics
            .licenses_in_use
            .with_label_values(&[label, kind.licence()])
            .set(held);
        if kind == CallKind::Cascade {
            self.metrics
                .cascades_active
                .with_label_values(&[label])
                .set(held);
        }
    }
}
