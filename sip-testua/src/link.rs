//! A fleet VTC's constrained link and its RTCP (`--vtc-bandwidth`, `--vtc-tmmbr`): what a room
//! system behind a slow line sees and says. A policer on the VTC's video receive side drops what
//! exceeds the line's rate (as a relay or a shaped WAN link does); the VTC reports the loss it
//! sees in receiver reports every [`RR_INTERVAL`], asks for a keyframe (PLI) when its stream
//! breaks, and with `--vtc-tmmbr` also tells the gateway its rate with TMMBR, as room systems
//! configured for the line do.
//!
//! Owns the policer and the RTCP the far end sends; the fleet's receive loop (`loadtests`'
//! `vtc.rs`) and the e2e tests' relay (`gateway/tests/media_e2e/relay.rs`) call it with the
//! time. It must not read the clock itself or own a socket beyond the one it is handed.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use rtp_session::rtcp::{self, RtcpOut, TmmbnEntry};
use rtp_session::rtp_stats::ReceiveStats;
use rtp_session::video::VIDEO_CLOCK_RATE;

/// How often the VTC sends a receiver report (room systems send one every 1-5 s).
pub const RR_INTERVAL: Duration = Duration::from_secs(1);
/// How often a standing TMMBR is repeated (RFC 5104 leaves it to the sender; lost ones recover).
const TMMBR_INTERVAL: Duration = Duration::from_secs(5);
/// Shortest gap between two PLIs; a VTC whose stream is broken repeats its PLI this often
/// until a keyframe arrives (the one asked for may have been lost too).
const PLI_GAP: Duration = Duration::from_secs(3);
/// The policer's bucket: this much time of the line's rate may arrive at once, as a shaped
/// line's queue absorbs it. Much shorter and no keyframe fits a slow line (an IDR is tens of
/// kB: a second or more at 250 kbit/s), so a stream that broke could never recover.
const BURST: Duration = Duration::from_secs(2);

/// A fleet VTC's line, from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkSpec {
    /// The line's rate towards the VTC, bit/s (`None`: unlimited).
    pub bandwidth_bps: Option<u64>,
    /// Send TMMBR with that rate.
    pub tmmbr: bool,
}

/// One VTC's receive side of its line: the policer, the loss counters behind its reports, and
/// the RTCP it owes.
pub struct Link {
    spec: LinkSpec,
    /// Where its RTCP goes (the gateway's video RTP address: rtcp-mux).
    to: SocketAddr,
    ssrc: u32,
    /// The policer's tokens, bytes, and when they were last topped up.
    tokens: f64,
    refilled: Instant,
    /// What got through, as the gateway's own receive side counts it (RFC 3550 A.3).
    stats: ReceiveStats,
    next_report: Instant,
    next_tmmbr: Instant,
    last_pli: Option<Instant>,
    /// Packets the policer dropped.
    pub policed: u64,
}

impl LinkSpec {
    /// No limit, no TMMBR.
    pub const UNLIMITED: LinkSpec = LinkSpec {
        bandwidth_bps: None,
        tmmbr: false,
    };
}

impl Link {
    /// A line to `to` starting `now`.
    pub fn new(spec: LinkSpec, to: SocketAddr, now: Instant) -> Link {
        Link {
            spec,
            to,
            ssrc: rand::random(),
            tokens: spec
                .bandwidth_bps
                .map_or(0.0, |bps| bps as f64 / 8.0 * BURST.as_secs_f64()),
            refilled: now,
            stats: ReceiveStats::new(VIDEO_CLOCK_RATE),
            next_report: now + RR_INTERVAL,
            next_tmmbr: now,
            last_pli: None,
            policed: 0,
        }
    }

    /// Whether a video packet of `len` bytes gets through the line at `now`.
    pub fn admit(&mut self, now: Instant, len: usize) -> bool {
        let Some(bps) = self.spec.bandwidth_bps else {
            return true;
        };
        let rate = bps as f64 / 8.0;
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + rate * elapsed).min(rate * BURST.as_secs_f64());
        self.refilled = now;
        if self.tokens >= len as f64 {
            self.tokens -= len as f64;
            true
        } else {
            self.policed += 1;
            false
        }
    }

    /// A video packet that got through at `now`: its sender, sequence number and timestamp,
    /// for the reports.
    pub fn received(&mut self, now: Instant, media_ssrc: u32, seq: u16, timestamp: u32) {
        self.stats.on_packet(now, media_ssrc, seq, timestamp);
    }

    /// Sends what is due at `now` on `socket`: a receiver report with this interval's loss, and
    /// a repeated TMMBR; `keyframe_needed` adds a PLI (rate-limited).
    pub fn poll(&mut self, now: Instant, socket: &UdpSocket, keyframe_needed: bool) {
        let Some(media_ssrc) = self.stats.ssrc() else {
            return;
        };
        let mut packets = Vec::new();
        if now >= self.next_report {
            self.next_report = now + RR_INTERVAL;
            packets.push(RtcpOut::ReceiverReport {
                ssrc: self.ssrc,
                reports: self.stats.report_block(now).into_iter().collect(),
            });
        }
        if let Some(bps) = self.spec.bandwidth_bps.filter(|_| self.spec.tmmbr) {
            if now >= self.next_tmmbr {
                self.next_tmmbr = now + TMMBR_INTERVAL;
                packets.push(RtcpOut::Tmmbr {
                    sender_ssrc: self.ssrc,
                    entry: TmmbnEntry {
                        ssrc: media_ssrc,
                        bitrate_bps: bps,
                        overhead: 40,
                    },
                });
            }
        }
        if keyframe_needed && self.last_pli.is_none_or(|t| now - t >= PLI_GAP) {
            self.last_pli = Some(now);
            packets.push(RtcpOut::Pli {
                sender_ssrc: self.ssrc,
                media_ssrc,
            });
        }
        if packets.is_empty() {
            return;
        }
        if !matches!(packets[0], RtcpOut::ReceiverReport { .. }) {
            // A compound packet starts with a report (RFC 3550 §6.1).
            packets.insert(
                0,
                RtcpOut::ReceiverReport {
                    ssrc: self.ssrc,
                    reports: Vec::new(),
                },
            );
        }
        if let Ok(bytes) = rtcp::build(&packets) {
            let _ = socket.send_to(&bytes, self.to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policer_passes_the_line_rate_and_drops_the_rest() {
        let t0 = Instant::now();
        let spec = LinkSpec {
            bandwidth_bps: Some(512_000),
            tmmbr: false,
        };
        let mut link = Link::new(spec, "127.0.0.1:9".parse().unwrap(), t0);
        // 2 Mbit/s offered for 10 s in 1000-byte packets.
        let mut passed = 0usize;
        for i in 0..2_500u32 {
            let at = t0 + Duration::from_micros(u64::from(i) * 4_000);
            if link.admit(at, 1000) {
                passed += 1000;
            }
        }
        // The line's rate for 10 s plus the queue it started with, to one packet.
        let bps = passed as f64 * 8.0 / 10.0;
        let most = 512_000.0 * (10.0 + BURST.as_secs_f64()) / 10.0 + 800.0;
        assert!((512_000.0..=most).contains(&bps), "{bps}");
        assert!(link.policed > 1_500);
    }
}
