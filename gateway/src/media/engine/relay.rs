//! Forwarding sources other than the synthetic participants: what the engine forwards into
//! WebRTC viewers' slots from VTCs and from other browsers, as received (no transcoding).
//!
//! - A VTC (a SIP or H.323 call) publishes one stream, its own H.264 as its endpoint encodes it,
//!   at the size the gateway last decoded from it. While some slot carries it (or waits to), the
//!   engine tells the call ([`CallFeed::Relay`]) to pass its access units in as well as decode
//!   them ([`EngineInput::NativeVideo`](super::api::EngineInput::NativeVideo), layer 0); a slot
//!   that switches to it needs a keyframe, which the call asks its endpoint for (PLI/FIR) when
//!   told [`CallFeed::PublisherKeyframe`].
//! - A browser publishes simulcast; each slot gets the layer that fits the size the viewing page
//!   shows it at ([`super::forwarding`]); keyframe requests for forwarding go to its peer driver,
//!   which sends the browser a PLI for that layer.
//!
//! Keyframe requests for forwarding are spaced by [`KEYFRAME_REQUEST_GAP`] per stream: a slot
//! waits for one every frame until it comes, and a VTC's encoder must not be asked 30 times a
//! second.
//!
//! Owns which calls relay and the spacing of keyframe requests; it must not choose slots (that is
//! [`super::forwarding`]) or touch RTP.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use mixer::codec::h264::EncodedFrame;

use super::api::{CallFeed, MediaParticipant};
use super::forwarding::Ladder;
use super::ingest::is_keyframe;
use super::MeetingMedia;

/// The size assumed for a call's stream until a picture of it is decoded (only the slot's layer
/// choice uses it, and a call has one layer).
pub const CALL_STREAM: (u32, u32) = (1280, 720);

/// A browser's layer that sent nothing for this long counts as paused.
pub const LAYER_SILENCE: Duration = Duration::from_secs(1);

/// Shortest gap between two keyframe requests of one forwarded stream.
pub const KEYFRAME_REQUEST_GAP: Duration = Duration::from_millis(500);

/// The engine's record of relaying calls and keyframe requests. See the module doc.
#[derive(Debug, Default)]
pub(super) struct Relays {
    /// The calls told to relay their access units.
    relaying: HashMap<MediaParticipant, bool>,
    /// When a keyframe of each (source, layer) was last asked for.
    asked: HashMap<(MediaParticipant, usize), Instant>,
    /// When an access unit of each (source, layer) last arrived (by the engine's clock: the
    /// next video tick, within a frame time of the truth).
    arrived: HashMap<(MediaParticipant, usize), Instant>,
}

impl Relays {
    /// Forgets a participant who left.
    pub(super) fn remove(&mut self, participant: MediaParticipant) {
        self.relaying.remove(&participant);
        self.asked.retain(|(p, _), _| *p != participant);
        self.arrived.retain(|(p, _), _| *p != participant);
    }

    /// Whether `participant`'s `layer` is sent now: it arrived within [`LAYER_SILENCE`] of
    /// `now`, or nothing of the participant arrived yet (every layer is assumed sent until the
    /// publisher shows which it sends).
    fn sent(&self, participant: MediaParticipant, layer: usize, now: Instant) -> bool {
        match self.arrived.get(&(participant, layer)) {
            Some(at) => now.saturating_duration_since(*at) < LAYER_SILENCE,
            None => !self.arrived.keys().any(|(p, _)| *p == participant),
        }
    }

    /// Whether any stream of `participant` arrived within [`LAYER_SILENCE`] of `now`: it has
    /// a picture, decoded or not (a far node's participant is decoded only once it has a tile).
    pub(super) fn arriving(&self, participant: MediaParticipant, now: Instant) -> bool {
        self.arrived.iter().any(|((p, _), at)| {
            *p == participant && now.saturating_duration_since(*at) < LAYER_SILENCE
        })
    }

    /// Whether a keyframe of `stream` may be asked for at `now` (and records it if so).
    fn may_ask(&mut self, stream: (MediaParticipant, usize), now: Instant) -> bool {
        let due = self
            .asked
            .get(&stream)
            .is_none_or(|at| now.saturating_duration_since(*at) >= KEYFRAME_REQUEST_GAP);
        if due {
            self.asked.insert(stream, now);
        }
        due
    }
}

/// A 90 kHz timestamp of the moment an access unit arrived, on one process-wide clock: the
/// drivers stamp what they pass in with it, so all layers of one publisher share one time line
/// (browsers' simulcast encodings each start their RTP timestamps at random) and a slot's
/// timestamps keep their spacing across a layer switch.
pub fn arrival_timestamp(now: Instant) -> u32 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(|| now);
    (now.saturating_duration_since(epoch).as_secs_f64() * 90_000.0) as u64 as u32
}

impl MeetingMedia {
    /// The layers each source offers for forwarding: a native publisher's simulcast ladder; a
    /// call with video, its single stream at the size of the last picture decoded from it
    /// ([`CALL_STREAM`] before the first). A call's offer cannot wait for a decoded picture: a
    /// call no layout shows stops decoding, so it would never get one.
    pub(super) fn forward_ladders(&self) -> BTreeMap<MediaParticipant, Ladder> {
        let now = self.next_video;
        self.participants
            .iter()
            .filter_map(|(id, p)| {
                if let Some(ingest) = &p.ingest {
                    let layers = ingest.stream().layers.iter().enumerate();
                    // The synthetic participants publish what is asked of them.
                    let ladder = layers
                        .map(|(layer, size)| {
                            (p.synthetic.is_some() || self.relays.sent(*id, layer, now))
                                .then_some(*size)
                        })
                        .collect();
                    return Some((*id, ladder));
                }
                p.feed.as_ref()?;
                p.video_format?;
                let size = p
                    .video
                    .as_ref()
                    .map_or(CALL_STREAM, |(frame, _)| (frame.width(), frame.height()));
                Some((*id, vec![Some(size)]))
            })
            .collect()
    }

    /// After the slots were planned: tells each call whether to relay its stream, and asks the
    /// VTCs and browsers whose streams slots wait on for keyframes (the synthetic participants
    /// are asked in `update_ingest`).
    pub(super) fn update_relays(&mut self, now: Instant) {
        let forwarded = self.forwarded_layers();
        let mut notices = Vec::new();
        for (&id, p) in &self.participants {
            if p.synthetic.is_some() {
                continue;
            }
            if p.ingest.is_none() && p.feed.is_some() {
                let relay = forwarded.contains_key(&id);
                if self.relays.relaying.get(&id).copied().unwrap_or(false) != relay {
                    notices.push((id, CallFeed::Relay(relay)));
                }
            }
            for &layer in forwarded.get(&id).map(|(_, k)| k).into_iter().flatten() {
                if self.relays.may_ask((id, layer), now) {
                    notices.push((id, CallFeed::PublisherKeyframe(layer)));
                }
            }
        }
        for (id, notice) in notices {
            if let CallFeed::Relay(relay) = notice {
                tracing::info!(
                    participant = id,
                    relay,
                    "call's stream forwarded to WebRTC viewers"
                );
                self.relays.relaying.insert(id, relay);
            }
            // Notices are never dropped; a call that has gone is left to its `Leave`.
            if let Some(feed) = self.participants.get(&id).and_then(|p| p.feed.as_ref()) {
                let _ = feed.send(notice);
            }
        }
    }

    /// An access unit of `participant`'s `layer`, as received, stamped `timestamp` (90 kHz,
    /// [`arrival_timestamp`]): offered to every slot that carries or waits for that stream.
    pub(super) fn relay_unit(
        &mut self,
        participant: MediaParticipant,
        layer: usize,
        timestamp: u32,
        access_unit: &[u8],
    ) {
        self.relays
            .arrived
            .insert((participant, layer), self.next_video);
        let wanted = self
            .forwarded_layers()
            .get(&participant)
            .is_some_and(|(layers, _)| layers.contains(&layer));
        if !wanted || access_unit.is_empty() {
            return;
        }
        let frame = Arc::new(EncodedFrame {
            data: access_unit.to_vec(),
            keyframe: is_keyframe(access_unit),
        });
        self.forward_unit(participant, layer, &frame, timestamp);
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn keyframe_requests_of_one_stream_are_spaced() {
        let t0 = Instant::now();
        let mut r = Relays::default();
        assert!(r.may_ask((1, 0), t0));
        assert!(!r.may_ask((1, 0), t0 + Duration::from_millis(100)));
        assert!(r.may_ask((1, 1), t0), "another layer is another stream");
        assert!(r.may_ask((1, 0), t0 + KEYFRAME_REQUEST_GAP));
        r.remove(1);
        assert!(r.may_ask((1, 1), t0));
    }

    #[test]
    fn arrival_timestamps_run_at_90_khz() {
        let t0 = Instant::now();
        let a = arrival_timestamp(t0);
        let b = arrival_timestamp(t0 + Duration::from_millis(100));
        assert_eq!(b.wrapping_sub(a), 9_000);
    }
}
