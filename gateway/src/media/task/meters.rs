//! Where a call's media counts what it does: the call's own counters (admin view) and, when
//! given, the gateway-wide Prometheus counters, both fed from the state machine's running
//! [`Counters`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rtp_session::call::Counters;

use crate::calls::api::MediaStats;
use crate::metrics::Metrics;

/// The call's counters and the gateway's metrics.
#[derive(Debug, Clone, Default)]
pub struct Meters {
    /// The call's counters.
    pub stats: Arc<MediaStats>,
    /// Gateway-wide metrics.
    pub metrics: Option<Metrics>,
}

impl Meters {
    /// Adds what `now` counts beyond `before` (both running totals of one state machine).
    pub(super) fn record(&self, before: &Counters, now: &Counters) {
        let delta = |f: fn(&Counters) -> u64| f(now).saturating_sub(f(before));
        let stats = &self.stats;
        stats
            .audio_rx_packets
            .fetch_add(delta(|c| c.audio_rx_packets), Ordering::Relaxed);
        stats
            .audio_tx_packets
            .fetch_add(delta(|c| c.audio_tx_packets), Ordering::Relaxed);
        stats
            .video_rx_frames
            .fetch_add(delta(|c| c.video_rx_frames), Ordering::Relaxed);
        stats
            .video_tx_frames
            .fetch_add(delta(|c| c.video_tx_frames), Ordering::Relaxed);
        let Some(m) = &self.metrics else {
            return;
        };
        for (direction, media, count) in [
            ("rx", "audio", delta(|c| c.audio_rx_packets)),
            ("tx", "audio", delta(|c| c.audio_tx_packets)),
            ("rx", "video", delta(|c| c.video_rx_packets)),
            ("tx", "video", delta(|c| c.video_tx_packets)),
        ] {
            if count > 0 {
                m.rtp_packets_total
                    .with_label_values(&[direction, media])
                    .inc_by(count);
            }
        }
        m.rtp_lost_total.inc_by(delta(|c| c.lost_packets));
        let foreign = delta(|c| c.foreign_packets);
        if foreign > 0 {
            m.media_dropped_total
                .with_label_values(&["foreign"])
                .inc_by(foreign);
        }
        m.srtp_rejected_total
            .inc_by(delta(|c| c.srtp_rejected_packets));
        for (by, count) in [
            ("peer", delta(|c| c.keyframes_requested_by_peer)),
            ("gateway", delta(|c| c.keyframes_requested_by_gateway)),
        ] {
            if count > 0 {
                m.keyframes_requested_total
                    .with_label_values(&[by])
                    .inc_by(count);
            }
        }
    }

    /// Counts `count` media units dropped at `what` (e.g. `decode`: access units a decoder
    /// queue shed to keep pictures whole).
    pub(super) fn dropped(&self, what: &str, count: u64) {
        if let Some(m) = &self.metrics {
            m.media_dropped_total
                .with_label_values(&[what])
                .inc_by(count);
        }
    }
}
