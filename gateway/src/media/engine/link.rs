//! Tessera links in the engine (`crate::calls::tessera`): a link whose far end is another
//! Tessera node carries the meeting stream by stream instead of one picture each way.
//!
//! - **Out**: the link is a forwarding viewer ([`EngineInput::LinkViewer`]), like a WebRTC viewer
//!   without a page: up to [`SLOTS`](super::forwarding::SLOTS) receive slots filled with the most
//!   recent speakers, each the layer that fits, switched at keyframes, never re-encoded. Its
//!   slots never carry anyone who came over a Tessera link (the far node's own participants,
//!   or another node's: no echo, no loops), nor a link itself.
//! - **In**: the far node's streams arrive by SSRC ([`EngineInput::LinkVideo`]); the roster says
//!   who each SSRC is ([`EngineInput::LinkRoster`]). Each becomes a participant of this engine
//!   with its own tile, decoded like a native publisher's single layer ([`super::ingest`]), so
//!   every VTC's layout shows the far node's participants as individual tiles. A link itself
//!   has no picture and takes no tile; its audio (the far node's N-1 mix) stays one voice.
//!
//! Owns which engine participants stand for the far node's and the no-echo rule of forwarding;
//! it must not touch RTP (the call's media task sends and demultiplexes the streams) nor SIP.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use mixer::layout::{ParticipantId, TileAssigner};
use mixer::speakers::Activity;
use rtp_session::call::RemoteStream;

use super::api::{CallFeed, MediaParticipant};
use super::forwarding::{Forwarding, SLOTS};
use super::ingest::{NativeIngest, NativeStream};
use super::relay::CALL_STREAM;
use super::{MeetingMedia, Participant};

/// Engine participant numbers of the far nodes' participants start here: far above any
/// meeting's own participant numbers (the lobby counts from 1). Each is
/// [`rtp_session::forward::remote_source`] of its link and SSRC.
pub use rtp_session::forward::REMOTE_BASE;

/// Frame rate assumed of a forwarded stream (only the decoder's temporal-layer choice uses it,
/// and a forwarded stream has one layer).
const REMOTE_FPS: u32 = 30;

/// How long the bit rate of a link is averaged over.
const BITRATE_WINDOW: Duration = Duration::from_secs(1);

/// A link's side of the engine: the far node's participants it carries, by SSRC, and the video
/// bytes it carried each way.
#[derive(Debug, Default)]
pub(super) struct Link {
    remote: BTreeMap<u32, MediaParticipant>,
    /// A cluster link at the meeting's home: forwarded also the other hub links' participants.
    hub: bool,
    /// The far node's current speaker (its roster's first), while the roster names one.
    far_speaker: Option<MediaParticipant>,
    /// The current speaker the link was last told of ([`CallFeed::Speaker`]).
    speaker_told: Option<Option<MediaParticipant>>,
    /// Bytes of access units forwarded to the far node, and received from it, so far.
    bytes: (u64, u64),
    /// Where the current bit-rate window started: when, and `bytes` then.
    window: Option<(Instant, (u64, u64))>,
}

impl Link {
    /// Counts `out` bytes forwarded over the link and `received` bytes from it.
    pub(super) fn count(&mut self, out: usize, received: usize) {
        self.bytes.0 += out as u64;
        self.bytes.1 += received as u64;
    }

    /// Whether `current` is not the speaker the link was last told of (it is from now on).
    pub(super) fn speaker_changed(&mut self, current: Option<MediaParticipant>) -> bool {
        let changed = self.speaker_told != Some(current);
        self.speaker_told = Some(current);
        changed
    }

    /// Bit rates (out, in) over the window that ends at `now`, once it is at least
    /// [`BITRATE_WINDOW`] long (a new window starts then); `None` before.
    fn bitrates(&mut self, now: Instant) -> Option<(u64, u64)> {
        let Some((since, (out0, in0))) = self.window else {
            self.window = Some((now, self.bytes));
            return None;
        };
        let elapsed = now.saturating_duration_since(since);
        if elapsed < BITRATE_WINDOW {
            return None;
        }
        self.window = Some((now, self.bytes));
        let rate = |bytes: u64| (bytes as f64 * 8.0 / elapsed.as_secs_f64()) as u64;
        Some((
            rate(self.bytes.0.saturating_sub(out0)),
            rate(self.bytes.1.saturating_sub(in0)),
        ))
    }
}

impl MeetingMedia {
    /// `participant` is a Tessera link: from now on it gets forwarded streams, no layout.
    pub(super) fn link_viewer(&mut self, participant: MediaParticipant, hub: bool) {
        let Some(p) = self.participants.get_mut(&participant) else {
            return;
        };
        if p.forward.is_none() {
            p.forward = Some(Forwarding::new());
            p.assigner = TileAssigner::new(SLOTS);
        }
        // No layout is encoded for it, and its own picture is nobody's (it carries many).
        p.video_format = None;
        p.encoder = None;
        p.video = None;
        p.link.get_or_insert_with(Link::default).hub = hub;
        tracing::info!(participant, hub, "Tessera link forwards stream by stream");
    }

    /// The far node's roster for `link`: a participant per SSRC (named from the roster), the
    /// ones no longer listed removed.
    pub(super) fn link_roster(&mut self, link: MediaParticipant, streams: Vec<RemoteStream>) {
        let Some(p) = self.participants.get_mut(&link) else {
            return;
        };
        let state = p.link.get_or_insert_with(Link::default);
        let listed: HashSet<u32> = streams.iter().map(|s| s.ssrc).collect();
        let gone: Vec<MediaParticipant> = state
            .remote
            .iter()
            .filter(|(ssrc, _)| !listed.contains(ssrc))
            .map(|(_, id)| *id)
            .collect();
        state.remote.retain(|ssrc, _| listed.contains(ssrc));
        let mut added = Vec::new();
        state.far_speaker = streams
            .iter()
            .find(|s| s.speaking)
            .map(|s| rtp_session::forward::remote_source(link, s.ssrc));
        for stream in streams {
            if let Some(id) = state.remote.get(&stream.ssrc) {
                added.push((*id, stream.name, false));
                continue;
            }
            let id = rtp_session::forward::remote_source(link, stream.ssrc);
            state.remote.insert(stream.ssrc, id);
            added.push((id, stream.name, true));
        }
        for id in gone {
            self.remove_participant(id);
        }
        for (id, name, new) in added {
            if !new {
                // A renamed participant keeps its tile under its new name.
                if let Some(p) = self.participants.get_mut(&id) {
                    p.name = name;
                }
                continue;
            }
            let mut p = Participant::new(name, None, None);
            p.ingest = Some(NativeIngest::new(NativeStream {
                layers: vec![CALL_STREAM],
                fps: REMOTE_FPS,
                temporal_layers: 1,
            }));
            p.via_link = Some(link);
            self.insert(id, p);
        }
    }

    /// An access unit of the stream `ssrc` of `link`: decoded as its remote participant's
    /// picture (and forwarded to WebRTC viewers as received). A stream the roster has not named
    /// yet is dropped.
    pub(super) fn link_video(
        &mut self,
        link: MediaParticipant,
        ssrc: u32,
        timestamp: u32,
        access_unit: &[u8],
    ) {
        let Some(carrier) = self
            .participants
            .get_mut(&link)
            .and_then(|p| p.link.as_mut())
        else {
            return;
        };
        carrier.count(0, access_unit.len());
        let Some(remote) = carrier.remote.get(&ssrc).copied() else {
            return;
        };
        self.native_video(remote, 0, access_unit);
        self.relay_unit(remote, 0, timestamp, access_unit);
    }

    /// The far node's participants `link` carries (removed with it).
    pub(super) fn link_remotes(&self, link: MediaParticipant) -> Vec<MediaParticipant> {
        self.participants
            .get(&link)
            .and_then(|p| p.link.as_ref())
            .map(|l| l.remote.values().copied().collect())
            .unwrap_or_default()
    }

    /// Whether `id` is a Tessera link or came over one: never forwarded into a link's slots.
    pub(super) fn linked(&self, id: MediaParticipant) -> bool {
        self.participants
            .get(&id)
            .is_some_and(|p| p.link.is_some() || p.via_link.is_some())
    }

    /// Whether `id` is a Tessera link (it has no picture of its own and takes no tile).
    pub(super) fn is_link(&self, id: MediaParticipant) -> bool {
        self.participants.get(&id).is_some_and(|p| p.link.is_some())
    }

    /// The far node asked for a keyframe (PLI on the link): every slot waits for its source's
    /// next keyframe, which the engine asks for.
    pub(super) fn link_keyframe(&mut self, link: MediaParticipant) {
        if let Some(f) = self
            .participants
            .get_mut(&link)
            .filter(|p| p.link.is_some())
            .and_then(|p| p.forward.as_mut())
        {
            for slot in 0..SLOTS {
                f.slot_lost(slot);
            }
        }
    }

    /// Keyframe requests for the far node's participants go to their link (its media task asks
    /// the far node, PLI).
    pub(super) fn ask_link_for_keyframe(&self, remote: MediaParticipant) {
        let Some(link) = self.participants.get(&remote).and_then(|p| p.via_link) else {
            return;
        };
        if let Some(feed) = self.participants.get(&link).and_then(|p| p.feed.as_ref()) {
            // Notices are never dropped; a link that has gone is left to its `Leave`.
            let _ = feed.send(CallFeed::PublisherKeyframe(0));
        }
    }

    /// How many streams each link forwards and receives now, for the gauge.
    pub(super) fn link_stream_counts(&self) -> Vec<(MediaParticipant, usize, usize)> {
        self.participants
            .iter()
            .filter_map(|(id, p)| {
                let link = p.link.as_ref()?;
                let out = p.forward.as_ref().map_or(0, Forwarding::current_streams);
                let received = link
                    .remote
                    .values()
                    .filter(|r| self.participants.get(r).is_some_and(|p| p.video.is_some()))
                    .count();
                Some((*id, out, received))
            })
            .collect()
    }

    /// Brings the `tessera_cascade_link_streams` gauge up to date with every link's counts, and
    /// `tessera_cascade_link_bitrate_bps` with its bit rates once a second.
    pub(super) fn publish_link_streams(&mut self, now: Instant) {
        let Some(m) = self.metrics.clone() else {
            return;
        };
        for (link, out, received) in self.link_stream_counts() {
            let label = format!("p{link}");
            for (direction, n) in [("out", out), ("in", received)] {
                m.cascade_link_streams
                    .with_label_values(&[&label, direction])
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            let rates = self
                .participants
                .get_mut(&link)
                .and_then(|p| p.link.as_mut())
                .and_then(|l| l.bitrates(now));
            if let Some((out, received)) = rates {
                for (direction, bps) in [("out", out), ("in", received)] {
                    m.cascade_link_bitrate_bps
                        .with_label_values(&[&label, direction])
                        .set(i64::try_from(bps).unwrap_or(i64::MAX));
                }
            }
        }
    }

    /// Takes a link that left (or an engine that stops) out of the gauge.
    pub(super) fn unpublish_link(&self, link: MediaParticipant) {
        if let (Some(m), true) = (&self.metrics, self.is_link(link)) {
            let link = format!("p{link}");
            for direction in ["out", "in"] {
                let _ = m
                    .cascade_link_streams
                    .remove_label_values(&[&link, direction]);
                let _ = m
                    .cascade_link_bitrate_bps
                    .remove_label_values(&[&link, direction]);
            }
        }
    }

    /// `ranked` without the Tessera links and whoever came over one (what a link's slots may
    /// carry).
    pub(super) fn local_only(&self, ranked: &[ParticipantId]) -> Vec<ParticipantId> {
        ranked
            .iter()
            .copied()
            .filter(|id| !self.linked(id.0))
            .collect()
    }

    /// What the slots of hub link `hub` may carry: `ranked` without the links, and without
    /// whoever came over a link unless that link is another hub link (the star's other
    /// nodes; never `hub`'s own participants back, and never over a link that is not the
    /// cluster's, where a cycle could loop).
    pub(super) fn hub_view(
        &self,
        hub: MediaParticipant,
        ranked: &[ParticipantId],
    ) -> Vec<ParticipantId> {
        let is_hub = |id: MediaParticipant| {
            self.participants
                .get(&id)
                .and_then(|p| p.link.as_ref())
                .is_some_and(|l| l.hub)
        };
        ranked
            .iter()
            .copied()
            .filter(|id| match self.participants.get(&id.0) {
                Some(p) if p.link.is_some() => false,
                Some(p) => p.via_link.is_none_or(|via| via != hub && is_hub(via)),
                None => false,
            })
            .collect()
    }

    /// Voice activity as the meeting ranks it: a link's far mix is heard as the far node's
    /// current speaker's (its roster's first), so that the far participants compete for tiles
    /// like anyone else; the link itself, which has no tile, is then silent.
    pub(super) fn far_speakers_talk(&self, activity: &mut [(ParticipantId, Activity)]) {
        for (link, p) in &self.participants {
            let Some(speaker) = p.link.as_ref().and_then(|l| l.far_speaker) else {
                continue;
            };
            let Some(heard) = activity.iter().position(|(id, _)| id.0 == *link) else {
                continue;
            };
            let Some(far) = activity.iter().position(|(id, _)| id.0 == speaker) else {
                continue;
            };
            activity[far].1 = activity[heard].1;
            activity[heard].1 = Activity {
                active: false,
                level_db: f32::NEG_INFINITY,
            };
        }
    }

    /// The hub links of this meeting.
    pub(super) fn hub_links(&self) -> Vec<MediaParticipant> {
        self.participants
            .iter()
            .filter(|(_, p)| p.link.as_ref().is_some_and(|l| l.hub))
            .map(|(id, _)| *id)
            .collect()
    }
}
