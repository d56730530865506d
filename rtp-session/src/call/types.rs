//! The data [`CallMedia`](super::CallMedia) exchanges with its driver: the sockets and
//! datagrams, what it is made with, the inputs it takes and the events and counters it gives.
//! Plain data only; the decisions are the machine's.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use mixer::codec::h264::EncodedFrame;
use mixer::layout::LayoutMode;

use crate::api::{AudioSetup, MediaControl, MediaEvent, Prompt, Slate, VideoSetup};
use crate::h264_rtp::VideoFormat;
use crate::srtp::MediaKeys;

/// A participant's media identity inside one meeting engine.
pub type Participant = u64;

/// The sockets of a call, by role: each stream's RTP port and the RTCP port after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketId {
    /// Audio RTP (and RTCP muxed on it).
    AudioRtp,
    /// Audio RTCP on the port after the audio RTP port.
    AudioRtcp,
    /// Video RTP (and RTCP muxed on it).
    VideoRtp,
    /// Video RTCP on the port after the video RTP port.
    VideoRtcp,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The socket to send it from.
    pub socket: SocketId,
    /// Where to.
    pub to: SocketAddr,
    /// The datagram.
    pub bytes: Vec<u8>,
}

/// Random initial values of the streams we send (RFC 3550 §5.1): the driver draws them, tests
/// fix them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Seeds {
    /// SSRC of our audio stream.
    pub audio_ssrc: u32,
    /// First audio sequence number.
    pub audio_sequence: u16,
    /// Audio RTP timestamp at the machine's creation.
    pub audio_timestamp: u32,
    /// The prompt player's own sequence number (for its self-packetising path).
    pub prompt_sequence: u16,
    /// The prompt player's own timestamp.
    pub prompt_timestamp: u32,
    /// SSRC of our video stream.
    pub video_ssrc: u32,
    /// First video sequence number.
    pub video_sequence: u16,
    /// Offset added to every video timestamp.
    pub video_timestamp: u32,
}

/// What a call's media is made with.
#[derive(Debug, Clone)]
pub struct Config {
    /// SDES CNAME of our streams (also names the call in logs).
    pub cname: String,
    /// The negotiated audio.
    pub audio: AudioSetup,
    /// The negotiated video, if any.
    pub video: Option<VideoSetup>,
    /// The driver has an [`SocketId::AudioRtcp`] socket (the port after RTP could be bound).
    pub audio_rtcp_socket: bool,
    /// The driver has a [`SocketId::VideoRtcp`] socket.
    pub video_rtcp_socket: bool,
    /// The IP the call's SIP signalling came from: besides the SDP's IP, the one media may be
    /// learnt from (a room system behind NAT puts its private address in the SDP).
    pub signalling_ip: Option<IpAddr>,
    /// Initial values of our streams.
    pub seeds: Seeds,
    /// SDES SRTP keys of each stream (none: clear RTP).
    pub srtp: MediaKeys,
}

/// What the call core, the meeting engine, the slate studio and the decoder tell the machine.
#[derive(Debug, Clone)]
pub enum Input {
    /// Play a prompt, replacing any prompt still playing.
    Play(Prompt),
    /// Join a meeting's media as `participant` (leaving any meeting first): the machine asks the
    /// engine to join ([`EngineRequest::Join`]) and from then on sends it decoded audio and
    /// video access units to decode.
    Join {
        /// Who the call is in the meeting.
        participant: Participant,
        /// The name drawn on its tile.
        display_name: String,
        /// The stream the call can receive (largest picture, NAL size limit), with video.
        video_format: Option<VideoFormat>,
    },
    /// Leave the meeting's media (also when the engine has gone: its feed ended or it refused
    /// an input).
    Leave,
    /// An in-call control, forwarded to the engine while joined.
    Control(MediaControl),
    /// Show this slate until the next join (a lobby slate brings hold music).
    ShowSlate(Slate),
    /// One picture of the slate the call watches.
    SlateFrame {
        /// The access unit.
        frame: Arc<EncodedFrame>,
        /// Its 90 kHz RTP timestamp on the studio's clock.
        timestamp: u32,
    },
    /// The slate studio ended the call's slate stream.
    SlateGone,
    /// 20 ms of the meeting's N-1 mix for this call (960 samples, 48 kHz mono).
    MixAudio(Vec<i16>),
    /// One picture of the call's meeting layout.
    MixVideo {
        /// The access unit.
        frame: Arc<EncodedFrame>,
        /// Its 90 kHz RTP timestamp on the layout encoder's clock.
        timestamp: u32,
    },
    /// Whether the call's own picture shows in any layout of the meeting.
    Shown(bool),
    /// The biggest tile the call's own picture fills in any layout (`None`: it is needed whole,
    /// forwarded as sent to a WebRTC viewer); sent when it changes while shown. A peer that
    /// negotiated `ccm tmmbr` is asked for the rate that tile needs
    /// ([`crate::tile_request`]).
    Tile(Option<(u32, u32)>),
    /// The decoder failed on, or had to drop, an access unit: the stream is broken until the
    /// next keyframe.
    DecoderFailed,
    /// The peer asked for a keyframe in its signalling (H.245 `videoFastUpdatePicture`), the
    /// same as an RTCP PLI or FIR.
    PeerKeyframeRequest,
    /// One access unit the engine forwards over a Tessera link (after
    /// [`MediaControl::Streams`](crate::api::MediaControl::Streams)), sent on `source`'s own SSRC.
    Forward {
        /// Whose picture (a participant number of our meeting).
        source: u64,
        /// 90 kHz timestamp on the engine's clock.
        timestamp: u32,
        /// The access unit.
        frame: Arc<EncodedFrame>,
    },
    /// Who the far node's streams are, from its roster: each SSRC with the participant's id and
    /// display name. Passed to the engine while joined (and again on every join).
    RemoteStreams(Vec<RemoteStream>),
}

/// One of the far node's participants whose video a Tessera link carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteStream {
    /// The SSRC its video arrives on.
    pub ssrc: u32,
    /// Its id on the far node (`p7`).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The far node names it its current speaker (first of the roster's speaker order).
    pub speaking: bool,
}

/// What the machine asks of the meeting engine (the driver adds its channels).
#[derive(Debug, Clone, PartialEq)]
pub enum EngineRequest {
    /// Join the meeting's media (the driver opens the feed the engine answers on).
    Join {
        /// Who.
        participant: Participant,
        /// The name on its tile.
        display_name: String,
        /// The stream it can receive (largest picture, NAL size limit).
        video_format: Option<VideoFormat>,
    },
    /// Leave the meeting's media.
    Leave {
        /// Who.
        participant: Participant,
    },
    /// 20 ms of decoded audio (960 samples, 48 kHz mono).
    Audio {
        /// Whose.
        participant: Participant,
        /// The samples.
        pcm: Vec<i16>,
    },
    /// The call's peer needs a keyframe of its layout.
    KeyframeRequest {
        /// Who asked.
        participant: Participant,
    },
    /// Mute or unmute the call's audio towards the meeting.
    Mute {
        /// Who.
        participant: Participant,
        /// Muted or not.
        muted: bool,
    },
    /// The call's layout.
    SetLayout {
        /// Who.
        participant: Participant,
        /// The layout.
        mode: LayoutMode,
    },
    /// The call is a Tessera link: the engine forwards it the most recent speakers (never the
    /// far node's own participants) instead of a picture.
    LinkViewer {
        /// Who.
        participant: Participant,
        /// A cluster link at a meeting's home ([`crate::api::MediaControl::Streams`]).
        hub: bool,
    },
    /// The far node's participants whose video the link carries, by SSRC.
    LinkRoster {
        /// The link.
        participant: Participant,
        /// Who each SSRC is.
        streams: Vec<RemoteStream>,
    },
    /// An access unit (Annex B) of one of the far node's streams, as received (the engine
    /// decodes it as that remote participant's picture).
    LinkVideo {
        /// The link.
        participant: Participant,
        /// The stream's SSRC.
        ssrc: u32,
        /// The access unit.
        access_unit: Vec<u8>,
    },
    /// The stream the call can take changed (its bit-rate class moved: TMMBR, REMB or loss);
    /// the engine moves it to that format's shared encoder at a keyframe.
    VideoFormat {
        /// Who.
        participant: Participant,
        /// The new format (the class's picture size, the negotiated NAL limit).
        video_format: VideoFormat,
    },
}

/// What the machine asks of the slate studio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlateRequest {
    /// Start streaming this slate to the call (replacing none: an [`SlateRequest::Unwatch`]
    /// of the previous one comes first).
    Watch {
        /// Which slate.
        slate: Slate,
        /// The stream the call takes (largest picture, NAL size limit).
        format: VideoFormat,
    },
    /// Stop streaming to the call.
    Unwatch,
    /// The call's peer needs a keyframe of its slate.
    KeyframeRequest,
}

/// What the machine reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// For the call core: a key press, or the peer's silence.
    Media(MediaEvent),
    /// For the meeting engine.
    Engine(EngineRequest),
    /// For the slate studio.
    Slate(SlateRequest),
    /// An access unit (Annex B) of the peer's video to decode for the meeting.
    Decode(Vec<u8>),
}

/// Running totals of what the machine did; the driver turns them into the admin view's and the
/// metrics' counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Audio RTP packets received (telephone-event included, junk not).
    pub audio_rx_packets: u64,
    /// Audio RTP packets sent.
    pub audio_tx_packets: u64,
    /// Video RTP packets received.
    pub video_rx_packets: u64,
    /// Video RTP packets sent (retransmissions included).
    pub video_tx_packets: u64,
    /// Whole video access units received.
    pub video_rx_frames: u64,
    /// Video access units sent.
    pub video_tx_frames: u64,
    /// Received packets given up as lost.
    pub lost_packets: u64,
    /// Keyframe requests (PLI/FIR) the peer sent.
    pub keyframes_requested_by_peer: u64,
    /// Keyframe requests (PLI/FIR) we sent the peer.
    pub keyframes_requested_by_gateway: u64,
    /// RTP and RTCP packets dropped because they came from neither the peer's latched source
    /// nor, before it was learnt, an address the peer may send from (RTP Bleed attempts).
    pub foreign_packets: u64,
    /// Datagrams on an SRTP stream that did not authenticate (or replayed one), dropped before
    /// anything looked at them.
    pub srtp_rejected_packets: u64,
    /// Times the call's bit-rate class changed while joined (TMMBR, REMB, loss).
    pub bitrate_class_changes: u64,
    /// TMMBRs sent to the peer asking for the rate its tiles need ([`crate::tile_request`]).
    pub tmmbr_sent: u64,
}
