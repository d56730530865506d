//! Sans-IO RTP media for one call: everything between a call's UDP datagrams and the meeting
//! engine's decoded media, with no socket, no async runtime and no clock read (`now` is always
//! passed in; the workspace `clippy.toml` bans `Instant::now`, `SystemTime::now` and sleeping).
//!
//! It owns:
//! - the plain call-media data the call core sets media up and drives it with ([`api`]),
//! - RTP header parsing and writing ([`rtp`]), RTCP packets in and out ([`rtcp`]) and the
//!   per-stream counters behind SR/RR ([`rtp_stats`]),
//! - the RTP reorder buffer ([`jitter`]) and RFC 6184 H.264 payloads ([`h264_rtp`]),
//! - SRTP/SRTCP protect and unprotect of SDES calls ([`srtp`]),
//! - RFC 4733 telephone-event parsing and once-per-key-press detection ([`telephone_event`]) and
//!   DTMF in SIP INFO bodies ([`info_dtmf`]; the SIP layer hands over the body),
//! - the recorded prompts and their playback ([`prompt`], read by [`wav`]),
//! - the bit-rate class a call's far end should receive, from TMMBR, REMB and loss
//!   ([`bandwidth`]), and the rate it asks its far end for to suit the tiles that show it
//!   ([`tile_request`]),
//! - one call's video receive chain and send side with its NACK history ([`video`]),
//! - what a WebRTC viewer's receive slot forwards and how it is rewritten ([`forward`]), and
//!   the budget a viewer's REMB allows, with hysteresis ([`receiver_estimate`]),
//! - [`CallMedia`], one call's media as a state machine that makes every decision between the
//!   call's datagrams and the meeting ([`call`]); tested on a virtual clock against a
//!   simulated room system in `tests/`.
//!
//! It must not touch sockets, threads, channels or the clock, SIP, or meetings: the gateway's
//! drivers own those and feed this crate what arrives, then send what it asks for.

pub mod api;
pub mod bandwidth;
pub mod call;
pub mod forward;
pub mod h264_rtp;
pub mod info_dtmf;
pub mod jitter;
pub mod prompt;
pub mod receiver_estimate;
pub mod rtcp;
pub mod rtp;
pub mod rtp_stats;
pub mod srtp;
pub mod telephone_event;
pub mod tile_request;
pub mod video;
pub mod wav;

pub use call::CallMedia;
pub use info_dtmf::{parse_info_dtmf, InfoDtmfError};
pub use prompt::PromptPlayer;
pub use telephone_event::{TelephoneEvent, TelephoneEventDetector, TelephoneEventError};
