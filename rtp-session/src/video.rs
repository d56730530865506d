//! One call's video, both ways, for [`crate::call::CallMedia`]: the receive chain (jitter
//! buffer, RFC 6184 depacketiser, keyframe gate) and the send side (packetiser, RTP stamping,
//! the history that answers generic NACKs).
//!
//! Decoding is not here: the access units that pass the keyframe gate go out as events, and the
//! gateway's decoder pool decodes them off the async runtime.
//!
//! Owns no socket and reads no clock: the caller passes `now` in and sends what comes out.

use std::time::Instant;

use tracing::{debug, trace};

use crate::api::VideoSetup;

use crate::h264_rtp::{Depacketized, Depacketizer, Packetizer};
use crate::jitter::{JitterBuffer, Pushed, VIDEO_DELAY};
use crate::rtp::{self, RtpHeader};
use crate::rtp_stats::{ReceiveStats, SendStats};

/// The 90 kHz RTP clock of video.
pub const VIDEO_CLOCK_RATE: u32 = 90_000;
/// Largest H.264 RTP payload we send (fits a 1500-byte MTU with IP, UDP and RTP headers, and
/// leaves room for tunnels).
pub const MAX_VIDEO_PAYLOAD: usize = 1200;
/// Sent video packets kept for retransmission on NACK (about a second of 720p).
pub const NACK_HISTORY: usize = 512;
/// Packets the video jitter buffer holds before giving a gap up early (a large IDR's burst).
const JITTER_CAPACITY: usize = 1024;
/// A gap this small (in packets) is NACKed at once when the peer takes NACK; larger ones are
/// left to PLI.
const MAX_NACK_GAP: u16 = 16;

/// What the receive side asks of the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoAction {
    /// Ask the peer for a keyframe (the task rate-limits and picks PLI or FIR).
    RequestKeyframe,
    /// Ask the peer to resend these packets (generic NACK).
    Nack(Vec<u16>),
}

/// One received packet waiting in the jitter buffer.
#[derive(Debug)]
struct HeldPacket {
    timestamp: u32,
    marker: bool,
    payload: Vec<u8>,
}

/// The receive side of a call's video.
#[derive(Debug)]
pub struct VideoIn {
    /// RTCP reception statistics of the peer's stream.
    pub stats: ReceiveStats,
    jitter: JitterBuffer<HeldPacket>,
    depacketizer: Depacketizer,
    /// The highest sequence number seen on arrival (for NACKs).
    highest: Option<u16>,
    nack: bool,
    /// Decoded frames go somewhere only between a keyframe and the next loss.
    needs_keyframe: bool,
    /// Whether the meeting shows this picture in any layout; while it does not, access units
    /// are depacketised (and counted) but not passed on for decoding.
    shown: bool,
}

/// What became of a received packet or timeout, for the task to act on.
#[derive(Debug, Default)]
pub struct VideoInOutput {
    /// Access units to decode (already gated on keyframes).
    pub access_units: Vec<Vec<u8>>,
    /// Requests to the peer.
    pub actions: Vec<VideoAction>,
    /// Packets given up as lost.
    pub lost: u64,
    /// Whole access units depacketised (decoded or not: a hidden picture's count too).
    pub frames: u64,
}

impl VideoIn {
    /// The receive side for a negotiated stream.
    #[must_use]
    pub fn new(setup: &VideoSetup) -> Self {
        VideoIn {
            stats: ReceiveStats::new(VIDEO_CLOCK_RATE),
            jitter: JitterBuffer::new(VIDEO_DELAY, JITTER_CAPACITY),
            depacketizer: Depacketizer::new(),
            highest: None,
            nack: setup.nack,
            needs_keyframe: true,
            shown: true,
        }
    }

    /// The meeting shows this picture somewhere (`true`) or nowhere. Hidden, nothing is passed
    /// on for decoding (lost packets are still NACKed, so the stream stays whole); shown again, the gate waits for a keyframe (the
    /// decoder missed the frames in between) and one is asked of the peer at once.
    pub fn set_shown(&mut self, shown: bool) -> VideoInOutput {
        let mut out = VideoInOutput::default();
        if shown && !self.shown {
            self.needs_keyframe = true;
            out.actions.push(VideoAction::RequestKeyframe);
        }
        self.shown = shown;
        out
    }

    /// Whether the meeting shows this picture (see [`set_shown`](Self::set_shown)).
    #[must_use]
    pub fn shown(&self) -> bool {
        self.shown
    }

    /// From now on, pass nothing on until a keyframe (after a join, a decoder failure or a
    /// dropped access unit).
    pub fn wait_for_keyframe(&mut self) {
        self.needs_keyframe = true;
    }

    /// Whether the gate is closed until a keyframe.
    #[must_use]
    pub fn waiting_for_keyframe(&self) -> bool {
        self.needs_keyframe
    }

    /// Takes one RTP packet of the negotiated payload type.
    pub fn receive(&mut self, now: Instant, header: &RtpHeader, payload: &[u8]) -> VideoInOutput {
        let mut out = VideoInOutput::default();
        self.stats
            .on_packet(now, header.ssrc, header.sequence, header.timestamp);
        if let Some(highest) = self.highest {
            let delta = header.sequence.wrapping_sub(highest);
            if (1..0x8000).contains(&delta) {
                if self.nack && (2..=MAX_NACK_GAP + 1).contains(&delta) {
                    let missing = (1..delta).map(|i| highest.wrapping_add(i)).collect();
                    out.actions.push(VideoAction::Nack(missing));
                }
                self.highest = Some(header.sequence);
            }
        } else {
            self.highest = Some(header.sequence);
        }
        let held = HeldPacket {
            timestamp: header.timestamp,
            marker: header.marker,
            payload: payload.to_vec(),
        };
        if self.jitter.push(now, header.sequence, held) == Pushed::Restarted {
            debug!("video sender restarted its sequence numbers");
        }
        self.drain(now, &mut out);
        out
    }

    /// Releases what the jitter buffer has given up waiting for.
    pub fn handle_timeout(&mut self, now: Instant) -> VideoInOutput {
        let mut out = VideoInOutput::default();
        self.drain(now, &mut out);
        out
    }

    /// When [`handle_timeout`](Self::handle_timeout) has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.jitter.poll_timeout()
    }

    fn drain(&mut self, now: Instant, out: &mut VideoInOutput) {
        while let Some(released) = self.jitter.pop(now) {
            out.lost += released.lost_before;
            let p = released.item;
            let ready =
                match self
                    .depacketizer
                    .push(released.sequence, p.timestamp, p.marker, &p.payload)
                {
                    Ok(ready) => ready,
                    Err(e) => {
                        trace!(error = %e, "bad H.264 payload");
                        continue;
                    }
                };
            for item in ready {
                match item {
                    Depacketized::KeyframeNeeded => {
                        self.needs_keyframe = true;
                        if self.shown {
                            out.actions.push(VideoAction::RequestKeyframe);
                        }
                    }
                    Depacketized::AccessUnit(au) => {
                        out.frames += 1;
                        if !self.shown {
                            // Nobody sees it: not decoded; the next decode starts at a keyframe.
                            self.needs_keyframe = true;
                            continue;
                        }
                        if self.needs_keyframe {
                            if !au.keyframe {
                                continue;
                            }
                            self.needs_keyframe = false;
                        }
                        out.access_units.push(au.data);
                    }
                }
            }
        }
    }
}

/// The send side of a call's video: RTP stamping of the engine's access units and the NACK
/// history.
#[derive(Debug)]
pub struct VideoOut {
    /// Our video SSRC.
    pub ssrc: u32,
    payload_type: u8,
    next_sequence: u16,
    /// Added to the engine's timestamps (each stream starts at a random timestamp, RFC 3550).
    timestamp_offset: u32,
    packetizer: Packetizer,
    /// The last access unit's RTP timestamp (offset applied) and when it went.
    last_sent: Option<(u32, Instant)>,
    /// Sent packets by `sequence % NACK_HISTORY`.
    history: Vec<Option<(u16, Vec<u8>)>>,
    /// What we sent (for SRs).
    pub stats: SendStats,
}

impl VideoOut {
    /// The send side with a random SSRC, sequence number and timestamp offset.
    #[must_use]
    pub fn new(setup: &VideoSetup, ssrc: u32, first_sequence: u16, timestamp_offset: u32) -> Self {
        VideoOut {
            ssrc,
            payload_type: setup.payload_type,
            next_sequence: first_sequence,
            timestamp_offset,
            packetizer: Packetizer {
                max_payload: MAX_VIDEO_PAYLOAD,
                mode: setup.packetization_mode,
            },
            last_sent: None,
            history: vec![None; NACK_HISTORY],
            stats: SendStats::default(),
        }
    }

    /// The pictures from now on come from another source (a slate, then the meeting's layout),
    /// whose first timestamp is `timestamp`: shifts the offset so the stream's RTP timestamps
    /// go on from the last one sent by the time elapsed since, instead of jumping to the new
    /// source's clock (one SSRC, one continuous clock, as receivers expect).
    pub fn continue_from(&mut self, now: Instant, timestamp: u32) {
        let Some((last, at)) = self.last_sent else {
            return;
        };
        let elapsed = now.saturating_duration_since(at).as_secs_f64();
        let ticks = ((elapsed * f64::from(VIDEO_CLOCK_RATE)) as u32).max(1);
        self.timestamp_offset = last.wrapping_add(ticks).wrapping_sub(timestamp);
    }

    /// The RTP packets of one access unit (marker on the last), remembered for NACKs.
    ///
    /// # Errors
    /// The packetiser's error (a NAL unit too large for packetization-mode 0).
    pub fn packetize(
        &mut self,
        now: Instant,
        access_unit: &[u8],
        timestamp: u32,
    ) -> Result<Vec<Vec<u8>>, crate::h264_rtp::H264RtpError> {
        let payloads = self.packetizer.packetize(access_unit)?;
        let timestamp = timestamp.wrapping_add(self.timestamp_offset);
        self.last_sent = Some((timestamp, now));
        let count = payloads.len();
        let mut packets = Vec::with_capacity(count);
        for (i, payload) in payloads.into_iter().enumerate() {
            let header = RtpHeader {
                marker: i + 1 == count,
                payload_type: self.payload_type,
                sequence: self.next_sequence,
                timestamp,
                ssrc: self.ssrc,
            };
            let packet = rtp::write(&header, &payload);
            self.stats.on_packet(now, timestamp, payload.len());
            let slot = usize::from(self.next_sequence) % NACK_HISTORY;
            self.history[slot] = Some((self.next_sequence, packet.clone()));
            self.next_sequence = self.next_sequence.wrapping_add(1);
            packets.push(packet);
        }
        Ok(packets)
    }

    /// The packets to resend for a NACK (those still in the history).
    #[must_use]
    pub fn retransmissions(&self, lost: &[u16]) -> Vec<Vec<u8>> {
        lost.iter()
            .filter_map(
                |&seq| match &self.history[usize::from(seq) % NACK_HISTORY] {
                    Some((s, packet)) if *s == seq => Some(packet.clone()),
                    _ => None,
                },
            )
            .collect()
    }
}

#[cfg(test)]
// Tests pick an arbitrary origin for their virtual clock.
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::time::Duration;

    use super::*;

    fn setup(mode: u8, nack: bool) -> VideoSetup {
        VideoSetup {
            local_port: 0,
            remote: SocketAddr::from((Ipv4Addr::LOCALHOST, 9)),
            payload_type: 96,
            packetization_mode: mode,
            max_size: (1280, 720),
            bitrate_bps: 1_000_000,
            nack,
            pli: true,
            fir: false,
            tmmbr: false,
            rtcp_mux: true,
        }
    }

    fn idr(len: usize) -> Vec<u8> {
        let mut au = vec![
            0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1F, 0, 0, 0, 1, 0x68, 0xCE, 0x3C, 0x80,
        ];
        au.extend_from_slice(&[0, 0, 0, 1, 0x65]);
        au.extend((0..len).map(|i| (i % 250) as u8 + 1));
        au
    }

    #[test]
    fn a_new_source_continues_the_timestamps_by_the_time_elapsed() {
        let mut out = VideoOut::new(&setup(1, false), 7, 100, 1000);
        let t0 = Instant::now();
        let first = out
            .packetize(t0, &[0, 0, 0, 1, 0x65, 1, 2, 3], 500)
            .unwrap();
        let ts = |p: &[u8]| u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
        assert_eq!(ts(&first[0]), 1500);
        // Another source whose clock is far away, 200 ms later: +18000 ticks, not a jump.
        let later = t0 + std::time::Duration::from_millis(200);
        out.continue_from(later, 4_000_000_000);
        let second = out
            .packetize(later, &[0, 0, 0, 1, 0x65, 4, 5, 6], 4_000_000_000)
            .unwrap();
        assert_eq!(ts(&second[0]), 1500 + 18_000);
        // Its next frames follow its own clock from there.
        let third = out
            .packetize(later, &[0, 0, 0, 1, 0x41, 7], 4_000_003_000)
            .unwrap();
        assert_eq!(ts(&third[0]), 1500 + 18_000 + 3000);
    }

    #[test]
    fn sent_packets_come_back_through_the_receive_side() {
        let now = Instant::now();
        let s = setup(1, false);
        let mut out = VideoOut::new(&s, 0xABCD, 65530, 1000);
        let au = idr(5000);
        let packets = out.packetize(now, &au, 3000).expect("mode 1");
        assert!(packets.len() > 5, "FU-A fragments");
        let mut vin = VideoIn::new(&s);
        let mut units = Vec::new();
        for p in &packets {
            let parsed = rtp::parse(p).expect("RTP");
            assert_eq!(parsed.header.timestamp, 4000);
            units.extend(
                vin.receive(now, &parsed.header, parsed.payload)
                    .access_units,
            );
        }
        assert_eq!(units, vec![au]);
        assert!(
            rtp::parse(packets.last().expect("some"))
                .expect("RTP")
                .header
                .marker
        );
    }

    #[test]
    fn nacked_packets_are_resent_from_the_history() {
        let now = Instant::now();
        let mut out = VideoOut::new(&setup(1, true), 1, 100, 0);
        let packets = out.packetize(now, &idr(4000), 0).expect("ok");
        let again = out.retransmissions(&[101, 102, 9999]);
        assert_eq!(again, vec![packets[1].clone(), packets[2].clone()]);
    }

    #[test]
    fn a_lost_packet_asks_for_nack_and_then_a_keyframe() {
        let t0 = Instant::now();
        let s = setup(1, true);
        let mut out = VideoOut::new(&s, 1, 0, 0);
        let mut vin = VideoIn::new(&s);
        let key = out.packetize(t0, &idr(3000), 0).expect("ok");
        for p in &key {
            let parsed = rtp::parse(p).expect("RTP");
            let _ = vin.receive(t0, &parsed.header, parsed.payload);
        }
        let delta = out
            .packetize(t0, &[0, 0, 0, 1, 0x41, 0x9A, 1, 2, 3], 3000)
            .expect("ok");
        let skipped = out
            .packetize(t0, &[0, 0, 0, 1, 0x41, 0x9A, 4, 5, 6], 6000)
            .expect("ok");
        let parsed = rtp::parse(&skipped[0]).expect("RTP");
        let output = vin.receive(t0, &parsed.header, parsed.payload);
        let lost = rtp::parse(&delta[0]).expect("RTP").header.sequence;
        assert_eq!(output.actions, vec![VideoAction::Nack(vec![lost])]);
        let later = vin.handle_timeout(t0 + VIDEO_DELAY);
        assert_eq!(later.lost, 1);
        assert_eq!(later.actions, vec![VideoAction::RequestKeyframe]);
        assert!(
            later.access_units.is_empty(),
            "a delta after a loss is not decodable"
        );
        assert!(vin.waiting_for_keyframe());
    }

    fn send(vin: &mut VideoIn, now: Instant, packets: &[Vec<u8>]) -> VideoInOutput {
        let mut all = VideoInOutput::default();
        for p in packets {
            let parsed = rtp::parse(p).expect("RTP");
            let o = vin.receive(now, &parsed.header, parsed.payload);
            all.access_units.extend(o.access_units);
            all.actions.extend(o.actions);
            all.lost += o.lost;
            all.frames += o.frames;
        }
        all
    }

    #[test]
    fn a_hidden_picture_is_not_decoded_and_resumes_at_a_keyframe() {
        let t0 = Instant::now();
        let s = setup(1, true);
        let mut out = VideoOut::new(&s, 1, 0, 0);
        let mut vin = VideoIn::new(&s);
        let delta = |n: u8| vec![0, 0, 0, 1, 0x41, 0x9A, n, 2, 3];
        let key = idr(3000);
        let first = send(&mut vin, t0, &out.packetize(t0, &key, 0).expect("ok"));
        assert_eq!(first.access_units, vec![key.clone()]);

        // Hidden: deltas and even a keyframe arrive (and are depacketised) but go nowhere.
        assert!(vin.set_shown(false).actions.is_empty());
        let t1 = t0 + Duration::from_millis(33);
        let hidden = send(
            &mut vin,
            t1,
            &out.packetize(t1, &delta(1), 3000).expect("ok"),
        );
        assert!(hidden.access_units.is_empty());
        let t2 = t1 + Duration::from_millis(33);
        let hidden = send(&mut vin, t2, &out.packetize(t2, &key, 6000).expect("ok"));
        assert!(hidden.access_units.is_empty());
        assert!(
            hidden.actions.is_empty(),
            "no keyframe asked for while hidden"
        );
        assert_eq!(hidden.frames, 1, "still depacketised and counted");

        // Shown again: a keyframe is asked for at once, deltas wait for it.
        let shown = vin.set_shown(true);
        assert_eq!(shown.actions, vec![VideoAction::RequestKeyframe]);
        assert!(vin.waiting_for_keyframe());
        let t3 = t2 + Duration::from_millis(33);
        let before_key = send(
            &mut vin,
            t3,
            &out.packetize(t3, &delta(2), 9000).expect("ok"),
        );
        assert!(before_key.access_units.is_empty(), "no broken picture");
        let t4 = t3 + Duration::from_millis(33);
        let resumed = send(&mut vin, t4, &out.packetize(t4, &key, 12000).expect("ok"));
        assert_eq!(resumed.access_units, vec![key.clone()]);
        let t5 = t4 + Duration::from_millis(33);
        let next = send(
            &mut vin,
            t5,
            &out.packetize(t5, &delta(3), 15000).expect("ok"),
        );
        assert_eq!(next.access_units, vec![delta(3)]);
        // Showing what is already shown asks for nothing.
        assert!(vin.set_shown(true).actions.is_empty());
    }
}
