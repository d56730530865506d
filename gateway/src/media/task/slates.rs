//! The slate side of a call's media task: which slate the call watches, and sending whichever
//! source's pictures the call should see, gated on the new source's keyframe.

use super::*;

/// The next frame of the slate, or never without one (or without video).
pub(super) async fn recv_slate(slate: &mut Option<Watching>) -> Option<CallFeed> {
    match slate.as_mut().and_then(|s| s.feed.as_mut()) {
        Some(feed) => feed.recv().await,
        None => pending().await,
    }
}

/// A slate the call is shown. Dropping it stops watching.
#[derive(Debug)]
pub(super) struct Watching {
    pub(super) call: CallId,
    pub(super) slate: Slate,
    /// What its pictures count as when they are sent.
    pub(super) source: VideoSource,
    pub(super) studio: SlateSender,
    /// The studio's stream (absent for a call without video: hold music only).
    pub(super) feed: Option<mpsc::UnboundedReceiver<CallFeed>>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        if self.feed.is_some() {
            // A studio that has ended needs no goodbye.
            let _ = self.studio.send(SlateInput::Unwatch { viewer: self.call });
        }
    }
}

/// Where the call's video currently comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum VideoSource {
    /// The slate studio (which slate is told apart by `generation`).
    Slate { generation: u64 },
    /// The meeting engine's layout.
    Meeting,
}

impl MediaLoop {
    /// Starts watching `slate` (unless it is already shown), leaving any meeting's video.
    pub(super) fn show_slate(&mut self, studio: SlateSender, slate: Slate) {
        if self.slate.as_ref().is_some_and(|w| w.slate == slate) {
            return;
        }
        let had_music = self.slate.as_ref().is_some_and(|w| w.slate.hold_music());
        if slate.hold_music() && !had_music {
            self.hold_music.restart();
        }
        // The previous slate's Unwatch goes before the new Watch.
        self.slate = None;
        self.slates_shown += 1;
        let source = VideoSource::Slate {
            generation: self.slates_shown,
        };
        let mut feed = None;
        if let Some(video) = &self.video {
            let (tx, rx) = mpsc::unbounded_channel();
            let watch = SlateInput::Watch {
                viewer: self.call,
                slate: slate.clone(),
                format: VideoFormat::of(video),
                feed: tx,
            };
            if studio.send(watch).is_ok() {
                feed = Some(rx);
                if self.joined.is_none() {
                    self.video_source = Some(source);
                }
            } else {
                debug!(call = %self.call, "slate studio gone; no slate video");
            }
        }
        debug!(call = %self.call, ?slate, "showing slate");
        self.slate = Some(Watching {
            call: self.call,
            slate,
            source,
            studio,
            feed,
        });
    }

    /// Sends one access unit from `source` on the call's video stream. After a change of
    /// source, pictures are dropped until the new source's keyframe (the VTC's decoder has no
    /// reference for anything else), and the RTP timestamps continue from the old source's.
    pub(super) async fn send_video(
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
                debug!(call = %self.call, error = %e, "access unit not sent");
                return;
            }
        };
        let mut sent = 0;
        for packet in &packets {
            if port.send_rtp(packet).await {
                sent += 1;
            }
        }
        self.meters.count_video("tx", sent);
        self.meters.video_frame_sent();
    }
}
