//! Forwarding to WebRTC viewers without transcoding: what goes into one of a browser's receive
//! slots, and how it is rewritten so the browser sees one continuous stream.
//!
//! A browser offers nine `recvonly` video transceivers. Each is a *slot*: one outgoing RTP stream
//! (one SSRC, one sequence space, one timestamp line) that carries, over time, different
//! participants at different simulcast layers. Two decisions live here:
//!
//! - [`SlotSelect`] (the meeting engine's side): which published stream (participant, layer) the
//!   slot carries now. A new target (another speaker, a bigger or smaller layer) is taken only at
//!   one of its keyframes; until then the slot keeps forwarding the old stream, so the browser
//!   never gets a P-frame whose references it does not hold.
//! - [`SlotRewriter`] (the peer driver's side): the access units chosen are cut into RTP payloads
//!   with the slot's own sequence numbers (no gap across a switch, so the browser's jitter buffer
//!   does not ask for retransmissions that cannot exist) and timestamps that keep advancing with
//!   real time across switches (each source's own timestamps are kept relative within a run).
//!
//! Time is passed in; nothing here reads a clock, touches sockets or knows about meetings.

use std::time::Instant;

use crate::h264_rtp::{is_keyframe, H264RtpError, Packetizer};

/// A published stream: a participant's id and the index of one of its simulcast layers.
pub type StreamId = (u64, usize);

/// Source numbers of a far node's participants (as a meeting engine numbers them) start here:
/// far above any meeting's own participant numbers.
pub const REMOTE_BASE: u64 = 1 << 48;

/// The source number of the far node's participant on stream `ssrc` of the link that is
/// participant `link`: derived, not counted, so the call core can name the SSRC a hub forwards
/// that participant on (`stream_ssrc` of this number) without asking the engine. Distinct for
/// every (link, SSRC) while link numbers stay under 2^16.
#[must_use]
pub fn remote_source(link: u64, ssrc: u32) -> u64 {
    REMOTE_BASE | ((link & 0xFFFF) << 32) | u64::from(ssrc)
}

/// The SSRC a Tessera link sends `source`'s forwarded stream on: the link's random `base`
/// combined with the participant number by an odd multiplier, so two participants of one link
/// never share an SSRC (the map is a bijection on 32-bit numbers). The roster names it.
#[must_use]
pub fn stream_ssrc(base: u32, source: u64) -> u32 {
    // Participant numbers are small; the high half folds in so none is lost.
    let folded = (source as u32) ^ ((source >> 32) as u32).rotate_left(16);
    base ^ folded.wrapping_mul(0x9E37_79B1)
}

/// What [`SlotSelect::offer`] decided about one access unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotVerdict {
    /// Forward it in this slot.
    Forward,
    /// Forward it: it is the keyframe the slot switched on (the browser's decoder restarts here).
    ForwardSwitched,
    /// Not for this slot now.
    Skip,
}

/// The engine's choice of stream for one receive slot. See the module doc.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotSelect {
    current: Option<StreamId>,
    target: Option<StreamId>,
    /// The current stream lost an access unit on the way (a full queue): nothing but a keyframe
    /// of the target may follow.
    broken: bool,
}

impl SlotSelect {
    /// An empty slot.
    pub fn new() -> Self {
        SlotSelect::default()
    }

    /// The stream the slot should carry (`None`: empty the slot at once).
    pub fn set_target(&mut self, target: Option<StreamId>) {
        self.target = target;
        if target.is_none() {
            self.current = None;
        }
    }

    /// The stream wanted.
    pub fn target(&self) -> Option<StreamId> {
        self.target
    }

    /// The stream forwarded now (the previous target until the switch keyframe arrives).
    pub fn current(&self) -> Option<StreamId> {
        self.current
    }

    /// Whether the slot waits for a keyframe of its target (a switch or a loss): the engine asks
    /// the publisher for one.
    pub fn wants_keyframe(&self) -> bool {
        self.target.is_some() && (self.current != self.target || self.broken)
    }

    /// A unit of the current stream was lost before reaching the viewer: wait for a keyframe.
    pub fn on_lost(&mut self) {
        if self.current.is_some() {
            self.broken = true;
        }
    }

    /// Whether an access unit of `stream` goes into this slot.
    pub fn offer(&mut self, stream: StreamId, keyframe: bool) -> SlotVerdict {
        if Some(stream) == self.target && keyframe && (self.current != self.target || self.broken) {
            self.current = self.target;
            self.broken = false;
            return SlotVerdict::ForwardSwitched;
        }
        if Some(stream) == self.current && !self.broken {
            return SlotVerdict::Forward;
        }
        SlotVerdict::Skip
    }
}

/// One RTP packet of a slot, ready for SRTP (the driver adds the SSRC and payload type the
/// peer connection negotiated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotPacket {
    /// Sequence number in the slot's own space.
    pub sequence: u16,
    /// 90 kHz timestamp on the slot's own line.
    pub timestamp: u32,
    /// Last packet of an access unit.
    pub marker: bool,
    /// RFC 6184 payload (packetization-mode 1).
    pub payload: Vec<u8>,
}

/// 90 kHz video clock.
const CLOCK: f64 = 90_000.0;

/// The driver's rewriting of one slot's stream. See the module doc.
#[derive(Debug)]
pub struct SlotRewriter {
    packetizer: Packetizer,
    next_sequence: u16,
    /// The source the last access unit came from, its timestamp, the slot timestamp it was sent
    /// with and when (`None` before the first).
    last: Option<(u64, u32, u32, Instant)>,
    first_timestamp: u32,
}

impl SlotRewriter {
    /// A slot stream starting at sequence `first_sequence` and timestamp `first_timestamp`
    /// (random, as RFC 3550 asks).
    pub fn new(first_sequence: u16, first_timestamp: u32, max_payload: usize) -> Self {
        SlotRewriter {
            packetizer: Packetizer {
                max_payload,
                mode: 1,
            },
            next_sequence: first_sequence,
            last: None,
            first_timestamp,
        }
    }

    /// Packets for one access unit (Annex B) of `source`, whose own 90 kHz timestamp is
    /// `source_timestamp`, sent at `now`. Within a run from one source, timestamps keep their
    /// spacing; a switch to another source continues from the slot's last timestamp plus the
    /// time that passed. The first unit of a stream, and of every switch, must be a keyframe:
    /// a P-frame that does not follow its source's earlier units is refused.
    pub fn rewrite(
        &mut self,
        now: Instant,
        source: u64,
        source_timestamp: u32,
        access_unit: &[u8],
    ) -> Result<Vec<SlotPacket>, ForwardError> {
        let same_source = self.last.is_some_and(|(s, ..)| s == source);
        if !same_source && !is_keyframe(access_unit) {
            return Err(ForwardError::NotAtKeyframe);
        }
        let timestamp = match self.last {
            Some((_, src_ts, out_ts, _)) if same_source => {
                out_ts.wrapping_add(source_timestamp.wrapping_sub(src_ts))
            }
            Some((_, _, out_ts, at)) => {
                let elapsed = now.saturating_duration_since(at).as_secs_f64();
                // At least one tick: the browser orders pictures by timestamp.
                out_ts.wrapping_add(((elapsed * CLOCK) as u32).max(1))
            }
            None => self.first_timestamp,
        };
        let payloads = self.packetizer.packetize(access_unit)?;
        let count = payloads.len();
        let packets = payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| {
                let sequence = self.next_sequence;
                self.next_sequence = self.next_sequence.wrapping_add(1);
                SlotPacket {
                    sequence,
                    timestamp,
                    marker: i + 1 == count,
                    payload,
                }
            })
            .collect();
        self.last = Some((source, source_timestamp, timestamp, now));
        Ok(packets)
    }
}

/// Why an access unit could not be forwarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    /// A stream must start (and switch) at a keyframe.
    #[error("a forwarded stream must start at a keyframe")]
    NotAtKeyframe,
    /// The access unit could not be cut into RTP payloads.
    #[error("packetizing: {0}")]
    Packetize(#[from] H264RtpError),
}

#[cfg(test)]
// One arbitrary origin for the virtual clock.
#[allow(clippy::disallowed_methods)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    /// An IDR access unit (SPS, PPS, IDR slice) or a P slice, Annex B.
    pub(crate) fn unit(keyframe: bool, len: usize) -> Vec<u8> {
        let mut au = Vec::new();
        if keyframe {
            au.extend_from_slice(&[0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1F]);
            au.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xCE, 0x3C, 0x80]);
            au.extend_from_slice(&[0, 0, 0, 1, 0x65]);
        } else {
            au.extend_from_slice(&[0, 0, 0, 1, 0x41]);
        }
        au.extend(std::iter::repeat_n(0xAB, len));
        au
    }

    #[test]
    fn a_slot_switches_to_its_new_target_only_at_a_keyframe() {
        let mut slot = SlotSelect::new();
        slot.set_target(Some((1, 0)));
        assert!(slot.wants_keyframe());
        assert_eq!(slot.offer((1, 0), false), SlotVerdict::Skip);
        assert_eq!(slot.offer((1, 0), true), SlotVerdict::ForwardSwitched);
        assert!(!slot.wants_keyframe());
        assert_eq!(slot.offer((1, 0), false), SlotVerdict::Forward);
        // A bigger layer is wanted: the old one flows until the new one's keyframe.
        slot.set_target(Some((1, 2)));
        assert!(slot.wants_keyframe());
        assert_eq!(slot.offer((1, 2), false), SlotVerdict::Skip);
        assert_eq!(slot.offer((1, 0), false), SlotVerdict::Forward);
        assert_eq!(slot.offer((1, 2), true), SlotVerdict::ForwardSwitched);
        assert_eq!(slot.offer((1, 0), false), SlotVerdict::Skip);
        assert_eq!(slot.current(), Some((1, 2)));
        // Someone else's stream never enters.
        assert_eq!(slot.offer((7, 2), true), SlotVerdict::Skip);
    }

    #[test]
    fn a_lost_unit_stops_the_slot_until_the_next_keyframe() {
        let mut slot = SlotSelect::new();
        slot.set_target(Some((3, 1)));
        assert_eq!(slot.offer((3, 1), true), SlotVerdict::ForwardSwitched);
        slot.on_lost();
        assert!(slot.wants_keyframe());
        assert_eq!(slot.offer((3, 1), false), SlotVerdict::Skip);
        assert_eq!(slot.offer((3, 1), true), SlotVerdict::ForwardSwitched);
        assert_eq!(slot.offer((3, 1), false), SlotVerdict::Forward);
        slot.set_target(None);
        assert_eq!(slot.offer((3, 1), true), SlotVerdict::Skip);
        assert!(!slot.wants_keyframe());
    }

    #[test]
    fn sequence_numbers_run_on_and_timestamps_follow_real_time_across_a_switch() {
        let t0 = Instant::now();
        let mut w = SlotRewriter::new(65_534, 1_000, 1200);
        let a = w.rewrite(t0, 1, 500_000, &unit(true, 3000)).unwrap();
        assert_eq!(a.len(), 5, "SPS, PPS and an IDR cut in three FU-A");
        assert!(a.iter().all(|p| p.timestamp == 1_000));
        assert_eq!(a.iter().filter(|p| p.marker).count(), 1);
        assert!(a.last().unwrap().marker);
        let b = w
            .rewrite(
                t0 + Duration::from_millis(33),
                1,
                503_000,
                &unit(false, 100),
            )
            .unwrap();
        assert_eq!(b[0].sequence, 3, "wrapped past 65535 without a gap");
        assert_eq!(b[0].timestamp, 4_000, "the source's own spacing");
        // Another source, whose clock is unrelated, 100 ms later.
        assert_eq!(
            w.rewrite(t0 + Duration::from_millis(133), 2, 7, &unit(false, 10)),
            Err(ForwardError::NotAtKeyframe)
        );
        let c = w
            .rewrite(t0 + Duration::from_millis(133), 2, 7, &unit(true, 10))
            .unwrap();
        assert_eq!(c[0].sequence, 4);
        assert_eq!(c[0].timestamp, 4_000 + 9_000);
    }

    #[test]
    fn a_stream_must_start_at_a_keyframe() {
        let mut w = SlotRewriter::new(0, 0, 1200);
        assert_eq!(
            w.rewrite(Instant::now(), 1, 0, &unit(false, 10)),
            Err(ForwardError::NotAtKeyframe)
        );
    }
}
