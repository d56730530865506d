//! What the call-control core exchanges with its drivers: outputs to act on (datagrams to send,
//! media to start or stop, prompts to play), media events coming back, and the admin commands
//! with their replies. Plain data only; no behaviour lives here.

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rtp_session::srtp::MediaKeys;
use serde::Serialize;
use signaling::transaction::Peer;

use crate::lobby::ParticipantClass;

// The call-media types live with the media state machine; the call core names them from here.
pub use rtp_session::api::{
    AudioSetup, DtmfDigit, MediaControl, MediaEvent, Prompt, PromptCodec, Slate, VideoSetup,
};

/// A call's identity inside the gateway (stable for the call's life, unlike its dialog tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// What the core asks its driver to do.
#[derive(Debug, Clone)]
pub enum CoreOutput {
    /// Send these bytes.
    Transmit {
        /// Destination (for TCP: the connection to that remote address).
        to: Peer,
        /// A serialised SIP message.
        bytes: Vec<u8>,
    },
    /// End an H.323 call: its connection task sends Release Complete with this reason (the
    /// core's SIP-style hang-up code mapped onto H.225.0 and Q.850 causes).
    H323Release {
        /// The call.
        call: CallId,
        /// Why.
        reason: h323::call::EndReason,
    },
    /// An H.323 call's peer asked for a keyframe in H.245 (`videoFastUpdatePicture`): the
    /// call's media task handles it as an RTCP PLI.
    PeerKeyframeRequest {
        /// The call.
        call: CallId,
    },
    /// The media of an H.323 call need a keyframe from the peer: its connection task sends
    /// H.245 `videoFastUpdatePicture` (the RTCP PLI has gone out too).
    H323KeyframeRequest {
        /// The call.
        call: CallId,
    },
    /// Bind the call's RTP port and start its media task.
    MediaStart {
        /// The call.
        call: CallId,
        /// Its audio.
        audio: AudioSetup,
        /// Its video, if negotiated.
        video: Option<VideoSetup>,
        /// The IP its SIP signalling comes from: media may be learnt from it besides the SDP's
        /// IP (a room system behind NAT).
        signalling_ip: IpAddr,
        /// Counters the media task keeps and the admin view reads.
        stats: Arc<MediaStats>,
        /// SDES SRTP keys of its streams (none: clear RTP).
        srtp: MediaKeys,
    },
    /// The call's media joins a meeting's media (mix and layout); sent when the call enters the
    /// meeting proper (not while it waits in the lobby or the entry queue).
    MediaJoin {
        /// The call.
        call: CallId,
        /// The meeting.
        tenant: String,
        /// The meeting.
        conference: String,
        /// The call's participant number in that meeting.
        participant: u64,
        /// The name drawn on its tile.
        display_name: String,
    },
    /// The call's media leaves its meeting (it hung up, was removed, or went back to waiting).
    MediaLeave {
        /// The call.
        call: CallId,
    },
    /// Stop the call's media task and free its port.
    MediaStop {
        /// The call.
        call: CallId,
    },
    /// Who the far node's video streams on a Tessera link are (from its roster): the driver
    /// passes them to the link's media task, which tells the meeting engine.
    RemoteStreams {
        /// The link's call.
        call: CallId,
        /// Each stream's SSRC, the far participant's id and name.
        streams: Vec<rtp_session::call::RemoteStream>,
    },
    /// Play a prompt on the call's audio (replacing any prompt still playing).
    PlayPrompt {
        /// The call.
        call: CallId,
        /// Which prompt.
        prompt: Prompt,
    },
    /// Show the call a slate (entry queue, lobby) on its video until it joins a meeting's media
    /// (or another slate replaces it); a lobby slate also brings hold music after the prompt.
    ShowSlate {
        /// The call.
        call: CallId,
        /// Which slate.
        slate: Slate,
    },
    /// An in-call DTMF control (`*6`, `*8`) for the call's meeting media; the driver passes it to
    /// the call's media task, which forwards it to the meeting engine once joined.
    MediaControl {
        /// The call.
        call: CallId,
        /// What to change.
        control: MediaControl,
    },
    /// A browser entered a meeting proper (bypassed or admitted from the lobby): the driver
    /// joins its peer's media to the meeting's engine.
    WebrtcJoin {
        /// The browser's session.
        session: u128,
        /// The meeting.
        tenant: String,
        /// The meeting.
        conference: String,
        /// Its participant number.
        participant: u64,
        /// The name drawn on its tile.
        display_name: String,
        /// Its media counters (the admin view's), for the peer to count into.
        stats: Arc<MediaStats>,
    },
    /// A browser is out of its meeting: denied or timed out in the lobby, or removed.
    WebrtcEnd {
        /// The browser's session.
        session: u128,
        /// `denied`, `timeout` or `removed`.
        reason: &'static str,
    },
    /// A synthetic participant joined a meeting: the driver starts its generator in the
    /// meeting's media engine.
    SyntheticJoin {
        /// The meeting.
        tenant: String,
        /// The meeting.
        conference: String,
        /// Its participant number.
        participant: u64,
        /// The name drawn on its tile.
        display_name: String,
        /// Its position among the synthetic participants added with it (turn, colour, pitch).
        index: u32,
        /// How many were added with it.
        count: u32,
        /// Its media counters, for the engine to count what it publishes.
        stats: Arc<MediaStats>,
    },
    /// Take a cluster-wide licence lease for a call waiting on it (an INVITE, an H.323 Setup or
    /// a dial-out; `CoreConfig::cluster_licences`); answer with `CallCore::handle_lease`.
    LeaseRequest {
        /// What the answer names.
        ticket: LeaseTicket,
        /// The tenant whose licence it takes.
        tenant: signaling::TenantKey,
        /// Which licence.
        kind: super::CallKind,
        /// How many of them the tenant has.
        licences: u32,
        /// The lease's name, unique on this node while the call lives.
        lease: String,
    },
    /// Give up a lease taken for a call: the call ended.
    LeaseRelease {
        /// The lease's name.
        lease: String,
    },
}

/// A call waiting for its cluster-wide licence lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseTicket(pub u64);

/// What a lease answer decided for a call whose driver waits on it (`CallCore::handle_lease`;
/// an INVITE's decision goes out as SIP instead).
#[derive(Debug)]
pub enum LeaseOutcome {
    /// An H.323 Setup ([`H323Admit::AwaitingLease`]): answer its connection task with this.
    H323(Result<super::H323Admission, ::h323::call::EndReason>),
    /// A dial-out ([`AdminReply::AwaitingLease`]): answer the admin request with this.
    DialOut(Result<AdminReply, AdminError>),
}

/// What `CallCore::admit_h323` decided for a routed Setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H323Admit {
    /// Admitted now (this node counts its own licences).
    Admitted(super::H323Admission),
    /// Waiting for its cluster-wide lease: the answer comes as [`LeaseOutcome::H323`].
    AwaitingLease(LeaseTicket),
}

/// What the lease store said to a [`CoreOutput::LeaseRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseAnswer {
    /// The call holds a lease: go on with it.
    Admitted,
    /// Every licence is held somewhere in the cluster: 486.
    Full,
    /// The lease store could not answer: 503, try again (never admitted unlicensed).
    Unavailable,
}

/// Operator requests from the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// The live meetings (someone in or waiting), all or one tenant's.
    ListMeetings {
        /// Only this tenant's meetings.
        tenant: Option<String>,
    },
    /// The live view of one meeting.
    ViewMeeting {
        /// Tenant key.
        tenant: String,
        /// Conference ID.
        conference: String,
    },
    /// Admit someone from the lobby.
    Admit {
        /// Tenant key.
        tenant: String,
        /// Conference ID.
        conference: String,
        /// Who.
        id: String,
    },
    /// Turn someone in the lobby away (BYE with a Reason).
    Deny {
        /// Tenant key.
        tenant: String,
        /// Conference ID.
        conference: String,
        /// Who.
        id: String,
    },
    /// Remove a participant from the meeting (BYE for a call).
    Remove {
        /// Tenant key.
        tenant: String,
        /// Conference ID.
        conference: String,
        /// Who.
        id: String,
    },
    /// A browser asks to join a meeting (the lobby decides as for a call of its class).
    JoinWebrtc {
        /// Tenant key.
        tenant: String,
        /// Conference ID.
        conference: String,
        /// Display name.
        display_name: String,
        /// Trust class (from its participant grant; `anonymous` without one).
        class: crate::lobby::ParticipantClass,
        /// Its session id (the HTTP session's capability).
        session: u128,
    },
    /// A browser left (DELETE, or its peer connection failed).
    LeaveWebrtc {
        /// Tenant key.
        tenant: String,
        /// Conference ID.
        conference: String,
        /// Its participant number.
        participant: u64,
    },
    /// Add `count` synthetic trusted participants (test pattern and voice) to a meeting: the
    /// load tests' meeting side, like the demo meeting's.
    AddSynthetic {
        /// Tenant key.
        tenant: String,
        /// Conference ID.
        conference: String,
        /// How many (1..=[`MAX_SYNTHETIC`]).
        count: u32,
    },
    /// Dial a conference bridge into a meeting as a cascade link (dialled again with back-off
    /// when refused or dropped, until hung up).
    DialCascade {
        /// Tenant key.
        tenant: String,
        /// Conference ID.
        conference: String,
        /// The bridge and how to reach it.
        request: super::DialRequest,
    },
    /// The meeting's dial-out cascade links.
    ListCascades {
        /// Tenant key.
        tenant: String,
        /// Conference ID.
        conference: String,
    },
    /// Hang a dial-out link up for good.
    HangupCascade {
        /// Tenant key.
        tenant: String,
        /// Conference ID.
        conference: String,
        /// The link (`c1`).
        id: String,
    },
}

/// Most synthetic participants one [`AdminCommand::AddSynthetic`] adds (a 3x3 layout shows 9
/// tiles; more would only cost rendering).
pub const MAX_SYNTHETIC: u32 = 16;

/// Why an admin command failed; the HTTP layer maps each to a status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// No such tenant or meeting (404).
    #[error("no meeting {conference} for tenant {tenant}")]
    UnknownMeeting {
        /// Tenant key.
        tenant: String,
        /// Conference ID.
        conference: String,
    },
    /// No such participant or lobby entry in that meeting (404).
    #[error("no {what} {id} in this meeting")]
    UnknownParticipant {
        /// "participant" or "lobby entry".
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// A cascade link that cannot be dialled: a URI without an IP host, no media ports, a
    /// draining gateway (400).
    #[error("cannot dial the cascade link: {0}")]
    BadCascade(String),
    /// The tenant's cascade licences are all held (409).
    #[error("{0}")]
    CascadeLicence(String),
    /// A synthetic participant count out of range (400).
    #[error("count must be between 1 and {max}, not {count}")]
    InvalidCount {
        /// The count asked for.
        count: u32,
        /// The largest allowed.
        max: u32,
    },
}

/// Per-participant media counters (audio counts prompts and DTMF today; video arrives with the
/// media issue).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MediaCounters {
    /// Audio RTP packets received.
    pub audio_rx_packets: u64,
    /// Audio RTP packets sent.
    pub audio_tx_packets: u64,
    /// Video frames received.
    pub video_rx_frames: u64,
    /// Video frames sent.
    pub video_tx_frames: u64,
}

/// Live per-call media counters, written by the call's media task and read by the core for the
/// admin view (relaxed atomics: counts, not synchronisation).
#[derive(Debug, Default)]
pub struct MediaStats {
    /// Audio RTP packets received.
    pub audio_rx_packets: AtomicU64,
    /// Audio RTP packets sent.
    pub audio_tx_packets: AtomicU64,
    /// Video frames received.
    pub video_rx_frames: AtomicU64,
    /// Video frames sent.
    pub video_tx_frames: AtomicU64,
    /// Its audio is muted (a browser's mute button): left out of the mix.
    pub muted: std::sync::atomic::AtomicBool,
    /// Its audio is speech now (voice activity of what it sends, as received).
    pub speaking: std::sync::atomic::AtomicBool,
}

impl MediaStats {
    /// The counts now.
    pub fn snapshot(&self) -> MediaCounters {
        MediaCounters {
            audio_rx_packets: self.audio_rx_packets.load(Ordering::Relaxed),
            audio_tx_packets: self.audio_tx_packets.load(Ordering::Relaxed),
            video_rx_frames: self.video_rx_frames.load(Ordering::Relaxed),
            video_tx_frames: self.video_tx_frames.load(Ordering::Relaxed),
        }
    }
}

/// One participant in the live meeting view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParticipantView {
    /// Id (`p7`).
    pub id: String,
    /// Display name (From display name, else its user part; synthetic names for synthetic ones).
    pub display_name: String,
    /// Trust class.
    pub class: ParticipantClass,
    /// `sip` or `synthetic`.
    pub protocol: &'static str,
    /// `endpoint` (a room system), `cascade` (a conference bridge's link, standing for all of
    /// its participants) or `synthetic`.
    pub kind: &'static str,
    /// When they joined (RFC 3339).
    pub joined_at: String,
    /// Media counters.
    pub media: MediaCounters,
    /// Muted (its audio is left out of the mix).
    pub muted: bool,
    /// Speaking now (voice activity of its audio).
    pub speaking: bool,
}

/// One lobby entry in the live meeting view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LobbyView {
    /// Id (`p7`).
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Trust class.
    pub class: ParticipantClass,
    /// `sip` or `synthetic` (as for participants).
    pub protocol: &'static str,
    /// `endpoint`, `cascade` or `synthetic` (as for participants).
    pub kind: &'static str,
    /// When they started waiting (RFC 3339).
    pub waiting_since: String,
}

/// The live view of one meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeetingView {
    /// Tenant key.
    pub tenant: String,
    /// Conference ID.
    pub conference_id: String,
    /// Who is in.
    pub participants: Vec<ParticipantView>,
    /// Who waits.
    pub lobby: Vec<LobbyView>,
    /// The far side's participants of the meeting's Tessera links, each under its link.
    pub remote: Vec<RemoteParticipantView>,
}

/// A participant on the far node of a Tessera link, as that node's roster names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteParticipantView {
    /// The link's participant id in this meeting (`p4`): the path the participant is seen by.
    pub via: String,
    /// The far node's name.
    pub node: String,
    /// The far node's id for the participant.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// `endpoint`, `browser`, `synthetic` or `cascade` on the far node.
    pub kind: super::tessera::roster::RemoteKind,
}

/// One line of the live meeting list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeetingSummary {
    /// Tenant key.
    pub tenant: String,
    /// Conference ID.
    pub conference_id: String,
    /// How many are in the meeting.
    pub participants: usize,
    /// How many wait in its lobby.
    pub lobby: usize,
}

/// One dial-out cascade link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CascadeLinkView {
    /// Id (`c1`), for hanging up.
    pub id: String,
    /// The bridge's URI.
    pub uri: String,
    /// The link's name in the roster.
    pub display_name: String,
    /// `dialling`, `up`, `hanging-up` or `retrying` (refused or dropped, dialled again after a
    /// back-off).
    pub state: &'static str,
    /// The link's participant id in the meeting view while it is up.
    pub participant: Option<String>,
    /// Whether the far end is another Tessera node (both SDPs carry `a=tessera-cascade:1`): its
    /// participants are then listed under the link in the meeting view.
    pub tessera: bool,
    /// Failed attempts since it was last up.
    pub failures: u32,
    /// Why the last attempt failed or the link dropped.
    pub last_error: Option<String>,
}

/// Replies to [`AdminCommand`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminReply {
    /// The live meetings, ordered by tenant and conference ID.
    Meetings(Vec<MeetingSummary>),
    /// The meeting view.
    Meeting(MeetingView),
    /// Done.
    Done,
    /// A link was dialled: its id.
    CascadeDialled(String),
    /// A meeting's dial-out links.
    Cascades(Vec<CascadeLinkView>),
    /// A dial-out waits for its cluster-wide cascade licence lease: the driver keeps the
    /// request and answers it with [`LeaseOutcome::DialOut`] (never seen by the admin API).
    AwaitingLease(LeaseTicket),
    /// A browser's place in the meeting: its participant number, and whether it waits in the
    /// lobby.
    WebrtcJoined {
        /// Participant number.
        participant: u64,
        /// Waiting in the lobby (else in the meeting).
        waiting: bool,
    },
}
