//! The plain data a call's media is set up and driven with: what was negotiated (audio and video
//! setups), what the call core asks for (prompts, slates, in-call controls) and what comes back
//! (DTMF, inactivity). Plain data only; no behaviour beyond small predicates lives here.
//!
//! The gateway's call core re-exports these from `gateway::calls::api`, so it names one set of
//! types whichever side of the crate boundary it talks to.

use std::net::SocketAddr;

use mixer::layout::LayoutMode;

/// Audio codecs a call can negotiate: what the media task plays prompts and sends the mix in,
/// and reads DTMF alongside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptCodec {
    /// G.711 µ-law, 8 kHz.
    Pcmu,
    /// G.711 A-law, 8 kHz.
    Pcma,
    /// G.722, 16 kHz audio on an 8000 Hz RTP clock.
    G722,
    /// Opus, 48 kHz.
    Opus,
}

/// The negotiated audio of a call, as far as the driver's media task needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioSetup {
    /// Our RTP port (the driver binds it).
    pub local_port: u16,
    /// Where to send RTP (symmetric RTP: the driver switches to the address packets really come
    /// from once they arrive).
    pub remote: SocketAddr,
    /// Payload type and codec to send prompts with.
    pub payload_type: u8,
    /// The codec behind `payload_type`.
    pub codec: PromptCodec,
    /// RFC 4733 telephone-event payload type, if negotiated.
    pub telephone_event_pt: Option<u8>,
    /// RTCP shares the RTP port (RFC 5761), agreed by both sides.
    pub rtcp_mux: bool,
}

/// The negotiated video of a call, as the driver's media task needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoSetup {
    /// Our video RTP port (RTCP muxed on it, or on the next port).
    pub local_port: u16,
    /// Where to send RTP (latched to the real source once packets arrive).
    pub remote: SocketAddr,
    /// H.264 payload type.
    pub payload_type: u8,
    /// RFC 6184 packetization-mode (0 or 1).
    pub packetization_mode: u8,
    /// The largest picture we may send (from the negotiated level and `max-fs`), capped at 720p,
    /// or 1080p when the level and the bit rate allow the 1080p class.
    pub max_size: (u32, u32),
    /// The most we should send, bit/s.
    pub bitrate_bps: u64,
    /// The far end takes generic NACK.
    pub nack: bool,
    /// The far end takes PLI.
    pub pli: bool,
    /// The far end takes FIR.
    pub fir: bool,
    /// The far end takes TMMBR (`ccm tmmbr`): it is asked for the rate its tiles need
    /// ([`crate::tile_request`]).
    pub tmmbr: bool,
    /// RTCP shares the RTP port (RFC 5761), agreed by both sides.
    pub rtcp_mux: bool,
}

/// The recorded prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prompt {
    /// "Please enter the conference ID, followed by the pound key."
    EnterConferenceId,
    /// "That conference ID was not found. Please try again."
    InvalidConferenceId,
    /// "Please wait; someone will let you in shortly."
    Lobby,
    /// "Goodbye."
    Goodbye,
}

/// A DTMF digit: `0`-`9`, `*`, `#`, `A`-`D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtmfDigit(pub char);

/// What the driver tells the core about a call's media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// A DTMF digit arrived as an RFC 4733 telephone-event (once per key press).
    Dtmf(DtmfDigit),
    /// Nothing (no RTP, no RTCP) has arrived from the far end for the media timeout: it crashed
    /// or lost its network.
    Inactive,
    /// The call asked the peer for a keyframe over RTCP (PLI or FIR); signalling that has a
    /// request of its own (H.245 `videoFastUpdatePicture`) sends it too.
    KeyframeNeeded,
    /// A Tessera link's engine names the meeting's current speaker among those it forwards
    /// (`None`: nobody, or someone it does not carry), for the roster's speaker order.
    LinkSpeaker(Option<u64>),
}

/// In-call media controls a caller drives with DTMF while in a meeting.
///
/// `*8` cycles the layout 3x3 -> 1 large + 7 -> 2x2 -> active speaker full screen -> 3x3, the
/// hosted services' order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaControl {
    /// `*6`: the caller's own audio towards the meeting is muted (`true`) or unmuted (`false`).
    Mute(bool),
    /// `*8`: the caller's layout.
    Layout(LayoutMode),
    /// The call is a Tessera link: its video carries one stream per participant both ways
    /// (`call::streams`), ours on SSRCs derived from `ssrc_base`
    /// ([`crate::forward::stream_ssrc`]), and the engine forwards into it instead of laying out.
    Streams {
        /// The link's SSRC base (the roster names each participant's SSRC from it).
        ssrc_base: u32,
        /// The link is one of the cluster links into a meeting's home (the hub of its star):
        /// it is also forwarded the participants the other cluster links carry in.
        hub: bool,
    },
}

/// The still picture a caller that cannot see a meeting is shown (and, for the lobby, the hold
/// music it hears once the spoken prompt has ended).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Slate {
    /// The entry queue: "Enter the conference ID followed by #".
    EntryQueue {
        /// The tenant's display name, shown under the instruction.
        tenant: String,
        /// The last ID entered was not found ("Conference ID not recognised, try again").
        retry: bool,
    },
    /// The lobby: "Waiting for the host to let you in", with the meeting named.
    Lobby {
        /// How the meeting is named to the caller ("Demo Organizer's meeting").
        meeting: String,
        /// The tenant's display name and the conference ID, one line.
        detail: String,
    },
}

impl Slate {
    /// Whether hold music plays under this slate once no prompt is playing (the lobby's wait
    /// can be long; the entry queue waits for key presses, where music would be in the way).
    #[must_use]
    pub fn hold_music(&self) -> bool {
        matches!(self, Slate::Lobby { .. })
    }
}
