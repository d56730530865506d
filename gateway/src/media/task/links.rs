//! The call's channels to the meeting engine and the slate studio, and what the state
//! machine's requests become on them.
//!
//! Owns the channel ends only; when to join, watch or ask for a keyframe is the state
//! machine's decision.

use crate::calls::api::CallId;
use rtp_session::call::{EngineRequest, Participant};

use super::super::engine::api::{EngineInput, EngineSender};
use super::super::engine::feed::{self, FeedReceiver};
use super::super::engine::relay::arrival_timestamp;
use super::super::h264_rtp::VideoFormat;
use super::super::slate::{SlateInput, SlateSender};

/// The call's membership of a meeting's media. Dropping it leaves.
#[derive(Debug)]
pub(super) struct Joined {
    pub(super) engine: EngineSender,
    pub(super) participant: Participant,
    pub(super) feed: FeedReceiver,
    /// A WebRTC viewer gets the call's stream forwarded: its access units go to the engine too.
    pub(super) relaying: bool,
}

impl Joined {
    /// Asks `engine` to take `participant` in; `None` if it has gone.
    pub(super) fn join(
        engine: EngineSender,
        participant: Participant,
        display_name: String,
        video_format: Option<VideoFormat>,
    ) -> Option<Joined> {
        let (feed_tx, feed) = feed::channel();
        let join = EngineInput::Join {
            participant,
            display_name,
            feed: Some(feed_tx),
            video_format,
        };
        engine.send(join).ok()?;
        Some(Joined {
            engine,
            participant,
            feed,
            relaying: false,
        })
    }

    /// Sends a request other than join/leave to the engine; `false` if it has gone.
    pub(super) fn send(&self, request: EngineRequest) -> bool {
        let input = match request {
            EngineRequest::Audio { participant, pcm } => EngineInput::Audio { participant, pcm },
            EngineRequest::KeyframeRequest { participant } => {
                EngineInput::KeyframeRequest { participant }
            }
            EngineRequest::Mute { participant, muted } => EngineInput::Mute { participant, muted },
            EngineRequest::SetLayout { participant, mode } => {
                EngineInput::SetLayout { participant, mode }
            }
            EngineRequest::VideoFormat {
                participant,
                video_format,
            } => EngineInput::VideoFormat {
                participant,
                video_format,
            },
            EngineRequest::LinkViewer { participant, hub } => {
                EngineInput::LinkViewer { participant, hub }
            }
            EngineRequest::LinkRoster {
                participant,
                streams,
            } => EngineInput::LinkRoster {
                participant,
                streams,
            },
            EngineRequest::LinkVideo {
                participant,
                ssrc,
                access_unit,
            } => EngineInput::LinkVideo {
                participant,
                ssrc,
                timestamp: arrival_timestamp(super::now()),
                access_unit,
            },
            // Join and leave are the membership itself (`join`, dropping).
            EngineRequest::Join { .. } | EngineRequest::Leave { .. } => return true,
        };
        self.engine.send(input).is_ok()
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        // An engine that has already ended needs no goodbye.
        let _ = self.engine.send(EngineInput::Leave {
            participant: self.participant,
        });
    }
}

/// A slate stream the call watches. Dropping it stops watching.
#[derive(Debug)]
pub(super) struct Watching {
    call: CallId,
    studio: SlateSender,
    pub(super) feed: FeedReceiver,
}

impl Watching {
    /// Asks `studio` to stream `slate` in `format` to `call`; `None` if it has gone.
    pub(super) fn watch(
        call: CallId,
        studio: SlateSender,
        slate: rtp_session::api::Slate,
        format: VideoFormat,
    ) -> Option<Watching> {
        let (tx, feed) = feed::channel();
        let watch = SlateInput::Watch {
            viewer: call,
            slate,
            format,
            feed: tx,
        };
        studio.send(watch).ok()?;
        Some(Watching { call, studio, feed })
    }

    /// Asks the studio for a keyframe of the stream.
    pub(super) fn request_keyframe(&self) {
        let _ = self
            .studio
            .send(SlateInput::KeyframeRequest { viewer: self.call });
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        // A studio that has ended needs no goodbye.
        let _ = self.studio.send(SlateInput::Unwatch { viewer: self.call });
    }
}
