//! What flows between a meeting's media engine and the calls in it: decoded media in, mixed and
//! encoded media out. Plain data and channel types only.

use std::sync::Arc;

use mixer::codec::h264::EncodedFrame;
use mixer::frame::I420Frame;

pub use super::feed::{FeedReceiver, FeedSender};
use super::inbox::EngineQueue;
use crate::media::h264_rtp::VideoFormat;
use crate::media::pool::{self, Mailbox, MailboxReceiver};

/// A participant's media identity inside one meeting engine (the lobby's participant number).
pub type MediaParticipant = u64;

/// Media the engine sends to one call's media task, through a bounded [`FeedSender`] (see
/// [`super::feed`] for what a full feed drops).
#[derive(Debug, Clone)]
pub enum CallFeed {
    /// 20 ms of the N-1 mix for this listener: 960 samples, 48 kHz mono.
    Audio(Vec<i16>),
    /// One encoded picture of this viewer's layout (shared with every viewer of the same layout),
    /// with its 90 kHz RTP timestamp.
    Video {
        /// The access unit (Annex B).
        frame: Arc<EncodedFrame>,
        /// RTP timestamp, 90 kHz clock, continuous per encoder.
        timestamp: u32,
    },
    /// Whether this call's own picture appears in any layout of the meeting. Hidden, the call
    /// need not decode it; shown again, it asks its VTC for a keyframe and resumes there.
    Shown(bool),
    /// The biggest tile this call's picture fills in any layout (`None`: it is forwarded whole
    /// to a WebRTC viewer), sent when it changes while shown: a room system that takes TMMBR
    /// is asked for the rate that tile needs ([`rtp_session::tile_request`]).
    Tile(Option<(u32, u32)>),
    /// A Tessera link: the meeting's current speaker among those its slots may carry, when it
    /// changes (`None`: nobody such).
    Speaker(Option<MediaParticipant>),
    /// An access unit forwarded as published (no transcoding) into one of a WebRTC viewer's
    /// receive slots ([`super::forwarding`]).
    Forward {
        /// The receive slot (0..[`super::forwarding::SLOTS`]).
        slot: usize,
        /// Whose picture.
        source: MediaParticipant,
        /// 90 kHz timestamp on the engine's clock.
        timestamp: u32,
        /// The access unit (Annex B), shared with every viewer of the same stream.
        frame: Arc<EncodedFrame>,
    },
    /// The engine needs a keyframe of this participant's own simulcast encoding (a WebRTC
    /// publisher: its driver sends the browser a PLI for that layer).
    PublisherKeyframe(usize),
    /// Who a WebRTC viewer's receive slots show now (one entry per slot), sent when it changes.
    Slots(Vec<Option<MediaParticipant>>),
    /// Whether a WebRTC viewer gets this call's own stream forwarded: while `true`, the call
    /// passes its peer's access units in as received ([`EngineInput::NativeVideo`], layer 0)
    /// and asks its peer for a keyframe on [`CallFeed::PublisherKeyframe`] ([`super::relay`]).
    Relay(bool),
}

/// What a call (or a synthetic participant) tells the engine.
#[derive(Debug)]
pub enum EngineInput {
    /// A participant joins the meeting's media.
    Join {
        /// Who.
        participant: MediaParticipant,
        /// Name drawn on their tile.
        display_name: String,
        /// Where their mix and layout go (`None` for participants that only publish, like
        /// synthetic ones).
        feed: Option<FeedSender>,
        /// The picture size they can receive (from the negotiated H.264 level), if they take video.
        video_format: Option<VideoFormat>,
    },
    /// A participant leaves.
    Leave {
        /// Who.
        participant: MediaParticipant,
    },
    /// 20 ms of a participant's audio, decoded and resampled: 960 samples, 48 kHz mono.
    Audio {
        /// Whose.
        participant: MediaParticipant,
        /// The samples.
        pcm: Vec<i16>,
    },
    /// A native participant joins: it publishes simulcast video (and audio) and receives
    /// nothing through the engine. Its access units come as [`EngineInput::NativeVideo`].
    JoinNative {
        /// Who.
        participant: MediaParticipant,
        /// Name drawn on its tile.
        display_name: String,
        /// Its encodings.
        stream: super::ingest::NativeStream,
    },
    /// An access unit of one of a native participant's encodings (the engine decodes what its
    /// layouts need, forwards what WebRTC viewers' slots carry and drops the rest), or of a
    /// relaying call's stream (forwarded only).
    NativeVideo {
        /// Whose.
        participant: MediaParticipant,
        /// Index of the encoding in the participant's [`NativeStream`](super::ingest::NativeStream)
        /// (0 for a call's single stream).
        layer: usize,
        /// When it arrived, 90 kHz ([`super::relay::arrival_timestamp`]): the time line it is
        /// forwarded on.
        timestamp: u32,
        /// Annex B.
        access_unit: Vec<u8>,
    },
    /// A WebRTC viewer joins: it publishes simulcast like a native participant and receives the
    /// N-1 mix and forwarded streams in receive slots (no layout encode) through `feed`.
    JoinWebrtc {
        /// Who.
        participant: MediaParticipant,
        /// Name drawn on its tile.
        display_name: String,
        /// Where its mix and forwarded streams go.
        feed: FeedSender,
        /// Its encodings.
        stream: super::ingest::NativeStream,
    },
    /// The sizes a WebRTC viewer shows its receive slots at (one per slot, in slot order; the
    /// layer forwarded is the one that fits).
    Tiles {
        /// Whose slots.
        participant: MediaParticipant,
        /// Width and height per slot (`None`: not reported, the middle layer is sent).
        sizes: Vec<Option<(u32, u32)>>,
    },
    /// A WebRTC viewer's receiver reported its bandwidth (REMB): the engine steps the layers it
    /// forwards to fit.
    Bandwidth {
        /// Whose.
        participant: MediaParticipant,
        /// Estimated bits per second.
        bps: u64,
    },
    /// A WebRTC viewer lost one of its receive slots' streams (PLI/FIR on the slot): the slot
    /// forwards nothing more until a keyframe of its source, which the engine asks for.
    SlotKeyframe {
        /// The viewer.
        participant: MediaParticipant,
        /// Which of its receive slots.
        slot: usize,
    },
    /// A decoded picture of a participant.
    Video {
        /// Whose.
        participant: MediaParticipant,
        /// The picture.
        frame: Arc<I420Frame>,
    },
    /// A viewer asked for a keyframe (PLI/FIR, or its decoder lost sync).
    KeyframeRequest {
        /// Who asked.
        participant: MediaParticipant,
    },
    /// Mutes or unmutes a participant: while muted, their audio is left out of everyone's mix and
    /// they count as silent for speaker ranking.
    Mute {
        /// Who.
        participant: MediaParticipant,
        /// Muted (`true`) or not.
        muted: bool,
    },
    /// Sets a viewer's layout (3x3, 1 large + 7, 2x2, active speaker); the viewer gets a
    /// keyframe of its new layout.
    SetLayout {
        /// The viewer.
        participant: MediaParticipant,
        /// The layout.
        mode: mixer::layout::LayoutMode,
    },
    /// A viewer's bit-rate class moved (its call's TMMBR, REMB or loss): it follows the shared
    /// encoder of its layout in the new format from a keyframe on; other viewers of the same
    /// layout keep theirs.
    VideoFormat {
        /// The viewer.
        participant: MediaParticipant,
        /// The new format (the class's size, the negotiated NAL limit).
        video_format: VideoFormat,
    },
    /// A synthetic participant joins (it publishes generated pictures and voice, and receives
    /// nothing).
    AddSynthetic {
        /// Who.
        participant: MediaParticipant,
        /// Name drawn on its tile.
        display_name: String,
        /// Its position among the meeting's synthetic participants (turn, colour, pitch).
        index: u32,
        /// How many synthetic participants take turns.
        count: u32,
        /// Where what it publishes is counted (its admin view counters).
        stats: std::sync::Arc<crate::calls::api::MediaStats>,
    },
    /// A call is a Tessera link ([`super::link`]): it gets forwarded streams in slots (never
    /// anyone who came over a link) instead of a layout.
    LinkViewer {
        /// The link.
        participant: MediaParticipant,
        /// A cluster link at a meeting's home: also forwarded who the other hub links carry.
        hub: bool,
    },
    /// Who the far node's streams on a Tessera link are (from its roster), by SSRC.
    LinkRoster {
        /// The link.
        participant: MediaParticipant,
        /// Each stream's SSRC, id and name.
        streams: Vec<rtp_session::call::RemoteStream>,
    },
    /// An access unit of one of the far node's streams on a Tessera link, as received.
    LinkVideo {
        /// The link.
        participant: MediaParticipant,
        /// The stream's SSRC (the roster says whose).
        ssrc: u32,
        /// When it arrived, 90 kHz ([`super::relay::arrival_timestamp`]).
        timestamp: u32,
        /// Annex B.
        access_unit: Vec<u8>,
    },
    /// Ends the engine (the meeting has no one left).
    Shutdown,
}

/// What the engine asks of a native publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherRequest {
    /// Which publisher.
    pub participant: MediaParticipant,
    /// The encodings to send from now on (the others can pause).
    pub layers: Vec<usize>,
    /// An encoding to send a keyframe of.
    pub keyframe: Option<usize>,
}

/// The sending side of a meeting engine's input queue (bounded per participant by
/// [`EngineQueue`]; sending wakes the engine on the media worker pool). Cheap to clone.
pub type EngineSender = Mailbox<EngineInput, EngineQueue>;

/// The receiving side of a meeting engine's input queue: the engine's, or a test's that stands
/// in for an engine.
pub type EngineReceiver = MailboxReceiver<EngineInput, EngineQueue>;

/// A new engine input queue.
#[must_use]
pub fn engine_channel() -> (EngineSender, EngineReceiver) {
    pool::mailbox()
}
