//! Per-stream RTP bookkeeping for RTCP (RFC 3550 §6.4 and appendix A.3, A.8): what we received
//! from one peer SSRC (extended highest sequence number, cumulative and fractional loss,
//! interarrival jitter, the last SR to echo) and what we sent on one of our SSRCs.
//!
//! Sans-IO: arrival times are passed in. Owns counters only; building the packets is
//! [`crate::rtcp`]'s.

use std::time::Instant;

use crate::rtcp::ReportBlock;

/// Reception statistics of one incoming stream.
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    clock_rate: u32,
    ssrc: Option<u32>,
    /// Extended sequence numbers: first and highest seen.
    base: u64,
    highest: u64,
    received: u64,
    /// Expected and received counts at the previous report (for the fraction lost).
    expected_prior: u64,
    received_prior: u64,
    /// Interarrival jitter (timestamp units), and the previous packet's relative transit time.
    jitter: f64,
    last_transit: Option<f64>,
    /// Reference instant that arrival times are measured from.
    origin: Option<Instant>,
    /// Middle 32 bits of the last SR's NTP time, and when it arrived.
    last_sr: Option<(u32, Instant)>,
}

impl ReceiveStats {
    /// Statistics for a stream with this RTP clock rate (90 000 for video).
    #[must_use]
    pub fn new(clock_rate: u32) -> Self {
        ReceiveStats {
            clock_rate: clock_rate.max(1),
            ssrc: None,
            base: 0,
            highest: 0,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            jitter: 0.0,
            last_transit: None,
            origin: None,
            last_sr: None,
        }
    }

    /// The stream's SSRC, once a packet has arrived.
    #[must_use]
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// Records a packet that arrived at `now`. A new SSRC starts the statistics over.
    pub fn on_packet(&mut self, now: Instant, ssrc: u32, sequence: u16, timestamp: u32) {
        if self.ssrc != Some(ssrc) {
            *self = ReceiveStats::new(self.clock_rate);
            self.ssrc = Some(ssrc);
            self.base = (1 << 16) | u64::from(sequence);
            self.highest = self.base;
            self.origin = Some(now);
        } else {
            let delta = i64::from(sequence.wrapping_sub(self.highest as u16) as i16);
            if delta > 0 {
                self.highest = self.highest.saturating_add_signed(delta);
            }
        }
        self.received += 1;
        let origin = *self.origin.get_or_insert(now);
        let arrival =
            now.saturating_duration_since(origin).as_secs_f64() * f64::from(self.clock_rate);
        let transit = arrival - f64::from(timestamp);
        if let Some(last) = self.last_transit {
            // RFC 3550 A.8; the transit difference wraps with the 32-bit timestamp.
            let mut d = (transit - last).abs();
            if d > f64::from(u32::MAX / 2) {
                d = (d - f64::from(u32::MAX) - 1.0).abs();
            }
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// Records a sender report from this stream's sender.
    pub fn on_sender_report(&mut self, now: Instant, ntp_time: u64) {
        self.last_sr = Some(((ntp_time >> 16) as u32, now));
    }

    /// Packets lost so far (expected minus received; duplicates may make it briefly negative,
    /// reported as 0).
    #[must_use]
    pub fn cumulative_lost(&self) -> u64 {
        let expected = self.highest - self.base + 1;
        expected.saturating_sub(self.received)
    }

    /// The report block for the next RR/SR, or `None` before any packet arrived. Resets the
    /// interval for the fraction lost.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let ssrc = self.ssrc?;
        let expected = self.highest - self.base + 1;
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction_lost = (lost_interval << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| f.min(255) as u8);
        let (last_sender_report, delay) = match self.last_sr {
            Some((lsr, at)) => {
                let delay = now.saturating_duration_since(at).as_secs_f64() * 65536.0;
                (lsr, delay as u32)
            }
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc,
            fraction_lost,
            total_lost: self.cumulative_lost().min(0x7F_FFFF) as u32,
            // The wire field is 16 bits of cycles and 16 of sequence; our extension starts one
            // cycle up.
            highest_sequence: (self.highest - (1 << 16)) as u32,
            jitter: self.jitter as u32,
            last_sender_report,
            delay_since_last_sender_report: delay,
        })
    }
}

/// What we sent on one of our SSRCs (for SRs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendStats {
    /// Packets sent.
    pub packets: u32,
    /// Payload octets sent.
    pub octets: u32,
    /// The RTP timestamp of the last packet sent, and when (for the SR's RTP time).
    pub last: Option<(u32, Instant)>,
}

impl SendStats {
    /// Records one packet.
    pub fn on_packet(&mut self, now: Instant, timestamp: u32, payload_len: usize) {
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload_len as u32);
        self.last = Some((timestamp, now));
    }

    /// The RTP timestamp that corresponds to `now` on a `clock_rate` clock, extrapolated from
    /// the last packet sent.
    #[must_use]
    pub fn rtp_time_at(&self, now: Instant, clock_rate: u32) -> Option<u32> {
        let (ts, at) = self.last?;
        let ticks = now.saturating_duration_since(at).as_secs_f64() * f64::from(clock_rate);
        Some(ts.wrapping_add(ticks as u32))
    }
}

#[cfg(test)]
// Tests pick an arbitrary origin for their virtual clock.
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn loss_and_wraparound_show_in_the_report_block() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::new(8000);
        assert_eq!(stats.report_block(t0), None);
        // 65534, 65535, (0 lost), 1, 2: four of five arrive, across the wrap.
        for (i, seq) in [65534u16, 65535, 1, 2].into_iter().enumerate() {
            let at = t0 + Duration::from_millis(20 * i as u64);
            stats.on_packet(at, 7, seq, 160 * u32::from(seq));
        }
        let block = stats.report_block(t0).expect("packets arrived");
        assert_eq!(block.ssrc, 7);
        assert_eq!(block.total_lost, 1);
        assert_eq!(block.fraction_lost, 51, "1 of 5 lost: 256 / 5");
        assert_eq!(block.highest_sequence, 0x0001_0002, "one wrap, seq 2");
        let again = stats.report_block(t0).expect("still");
        assert_eq!(
            again.fraction_lost, 0,
            "nothing new lost since the last report"
        );
    }

    #[test]
    fn steady_packets_have_no_jitter_and_the_sr_is_echoed() {
        let t0 = Instant::now();
        let mut stats = ReceiveStats::new(8000);
        for i in 0..50u16 {
            let at = t0 + Duration::from_millis(20 * u64::from(i));
            stats.on_packet(at, 1, i, 160 * u32::from(i));
        }
        stats.on_sender_report(t0, 0x1234_5678_9ABC_DEF0);
        let block = stats
            .report_block(t0 + Duration::from_millis(500))
            .expect("block");
        assert!(block.jitter <= 1, "{}", block.jitter);
        assert_eq!(block.last_sender_report, 0x5678_9ABC);
        assert_eq!(
            block.delay_since_last_sender_report, 32768,
            "0.5 s in 1/65536 s"
        );
    }
}
