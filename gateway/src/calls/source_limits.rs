//! The call core's side of the per-source SIP limits (`signaling::limits`, Kamailio `pike`
//! style): every packet is asked about before it is parsed, unparseable ones are counted
//! against their source, new requests and calls are held to the per-source transaction and
//! dialog caps (503 beyond), and every ban, unban and refusal becomes a metric and a log line
//! naming the source.
//!
//! Owns only the glue; the counting and the ban decisions are `signaling::limits`'s, and what a
//! refused request gets back is the dialog and invite code's.

use std::net::IpAddr;
use std::time::Instant;

use signaling::limits::{LimitEvent, Verdict};
use signaling::transaction::Peer;

use super::CallCore;

/// Which per-source cap a request ran into (the `limit` label of
/// `tessera_sip_source_limited_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SourceCap {
    /// Open server transactions.
    Transactions,
    /// Live calls.
    Dialogs,
}

impl SourceCap {
    fn label(self) -> &'static str {
        match self {
            SourceCap::Transactions => "transactions",
            SourceCap::Dialogs => "dialogs",
        }
    }
}

impl CallCore {
    /// Whether to read a packet from `from` (false: its source is banned; drop it unread).
    pub(super) fn admit_packet(&mut self, now: Instant, from: Peer) -> bool {
        if self.exempt(from.addr.ip()) {
            return true;
        }
        let verdict = self.limits.handle_packet(now, from.addr.ip());
        self.report_limit_events();
        if verdict == Verdict::Drop {
            self.metrics.sip_dropped_total.inc();
            return false;
        }
        true
    }

    /// A packet from `from` did not parse.
    pub(super) fn count_bad_message(&mut self, now: Instant, from: Peer) {
        if self.exempt(from.addr.ip()) {
            return;
        }
        self.limits.handle_bad_message(now, from.addr.ip());
        self.report_limit_events();
    }

    /// Ends the bans that are over.
    pub(super) fn expire_bans(&mut self, now: Instant) {
        self.limits.handle_timeout(now);
        self.report_limit_events();
    }

    /// The per-source cap a new request (its transaction already open) or a new call from
    /// `source` would break, if any; counted and logged.
    pub(super) fn source_cap(&self, source: IpAddr, new_call: bool) -> Option<SourceCap> {
        if self.exempt(source) {
            return None;
        }
        let cap = if new_call {
            let calls = self
                .calls
                .values()
                .filter(|c| c.peer.addr.ip() == source)
                .count();
            (!self.limits.admits_dialog(calls)).then_some(SourceCap::Dialogs)
        } else {
            // Transactions not yet answered; the request's own is one of them already.
            let open = self
                .txn
                .pending_server_transactions_for(source)
                .saturating_sub(1);
            (!self.limits.admits_transaction(open)).then_some(SourceCap::Transactions)
        }?;
        tracing::warn!(%source, limit = cap.label(), "SIP source over its cap; request refused with 503");
        self.metrics
            .sip_source_limited_total
            .with_label_values(&[cap.label()])
            .inc();
        Some(cap)
    }

    /// Whether `source` is in a network the limits do not apply to.
    fn exempt(&self, source: IpAddr) -> bool {
        self.config
            .source_limits_exempt
            .iter()
            .any(|net| net.contains(&source))
    }

    fn report_limit_events(&mut self) {
        while let Some(event) = self.limits.poll_event() {
            match event {
                LimitEvent::Banned { source, reason, .. } => {
                    let seconds = self.limits.config().ban.as_secs();
                    tracing::warn!(%source, %reason, seconds, "SIP source banned; its packets are dropped unread");
                    self.metrics
                        .sip_banned_total
                        .with_label_values(&[reason.as_str()])
                        .inc();
                }
                LimitEvent::Unbanned { source, dropped } => {
                    tracing::info!(%source, dropped, "SIP source ban ended");
                }
            }
        }
        self.metrics
            .sip_banned_sources
            .set(i64::try_from(self.limits.banned_sources()).unwrap_or(i64::MAX));
    }
}
