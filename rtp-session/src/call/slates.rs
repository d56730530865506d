//! The video-source side of [`CallMedia`]: which slate the call watches (and its hold music),
//! and sending whichever source's pictures the call should see, gated on the new source's
//! keyframe with continuous RTP timestamps.
//!
//! Owns no channel to the slate studio: it asks for streams with [`SlateRequest`]s and is fed
//! their pictures as [`Input::SlateFrame`](super::Input::SlateFrame).

use std::net::SocketAddr;
use std::time::Instant;

use mixer::codec::h264::EncodedFrame;
use tracing::debug;

use crate::api::Slate;
use crate::h264_rtp::VideoFormat;

use super::{CallMedia, Event, SlateRequest, SocketId, Transmit};

/// A slate the call is shown.
#[derive(Debug)]
pub(super) struct Watching {
    pub(super) slate: Slate,
    /// What its pictures count as when they are sent.
    pub(super) source: VideoSource,
    /// The studio streams it (never for a call without video: hold music only; no longer once
    /// the studio ended the stream).
    pub(super) streaming: bool,
}

/// Where the call's video currently comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum VideoSource {
    /// The slate studio (which slate is told apart by `generation`).
    Slate { generation: u64 },
    /// The meeting engine's layout.
    Meeting,
}

impl CallMedia {
    /// Starts watching `slate` (unless it is already shown), leaving any meeting's video.
    pub(super) fn show_slate(&mut self, slate: Slate) {
        if self.slate.as_ref().is_some_and(|w| w.slate == slate) {
            return;
        }
        let had_music = self.slate.as_ref().is_some_and(|w| w.slate.hold_music());
        if slate.hold_music() && !had_music {
            self.hold_music.restart();
        }
        // The previous slate's Unwatch goes before the new Watch.
        self.stop_watching();
        self.slates_shown += 1;
        let source = VideoSource::Slate {
            generation: self.slates_shown,
        };
        let mut streaming = false;
        if let Some(video) = &self.video {
            self.events.push_back(Event::Slate(SlateRequest::Watch {
                slate: slate.clone(),
                format: VideoFormat::of(video),
            }));
            streaming = true;
            if self.joined.is_none() {
                self.video_source = Some(source);
            }
        }
        debug!(cname = %self.cname, ?slate, "showing slate");
        self.slate = Some(Watching {
            slate,
            source,
            streaming,
        });
    }

    /// Stops watching the slate, if any.
    pub(super) fn stop_watching(&mut self) {
        if let Some(w) = self.slate.take() {
            if w.streaming {
                self.events.push_back(Event::Slate(SlateRequest::Unwatch));
            }
        }
    }

    /// Sends one access unit from `source` on the call's video stream. After a change of
    /// source, pictures are dropped until the new source's keyframe (the peer's decoder has no
    /// reference for anything else), and the RTP timestamps continue from the old source's.
    pub(super) fn send_video(
        &mut self,
        now: Instant,
        source: VideoSource,
        frame: &EncodedFrame,
        timestamp: u32,
    ) {
        let (Some(out), Some(port)) = (&mut self.video_out, &self.video_port) else {
            return;
        };
        if self.sent_source != Some(source) {
            if !frame.keyframe {
                return;
            }
            if self.sent_source.is_some() {
                out.continue_from(now, timestamp);
            }
            self.sent_source = Some(source);
        }
        let packets = match out.packetize(now, &frame.data, timestamp) {
            Ok(packets) => packets,
            Err(e) => {
                debug!(cname = %self.cname, error = %e, "access unit not sent");
                return;
            }
        };
        let target = port.rtp_target();
        self.queue_video(target, packets);
    }

    /// Queues one access unit's RTP packets to `target` (the video port's) and counts them.
    pub(super) fn queue_video(
        &mut self,
        (socket, to): (SocketId, SocketAddr),
        packets: Vec<Vec<u8>>,
    ) {
        self.counters.video_tx_packets += packets.len() as u64;
        self.counters.video_tx_frames += 1;
        self.transmits.extend(
            packets
                .into_iter()
                .map(|bytes| Transmit { socket, to, bytes }),
        );
    }
}
