//! Entry-queue audio: the prompts a caller hears while dialling into a meeting and the DTMF
//! digits they key in.
//!
//! It owns:
//! - G.711 prompt payloads, coded with `mixer::codec::g711` (the one G.711 of the project),
//! - RTP header parsing and writing for the packets it handles ([`rtp`]),
//! - RFC 4733 telephone-event parsing and once-per-key-press detection ([`telephone_event`]),
//! - DTMF in SIP INFO bodies ([`info_dtmf`]; the SIP layer hands over the body),
//! - the recorded prompts and their RTP packetisation ([`prompt`], read by [`wav`]),
//! - RTCP packets in and out ([`rtcp`]) and the per-stream counters behind SR/RR ([`rtp_stats`]),
//! - the RTP reorder buffer ([`jitter`]) and RFC 6184 H.264 payloads ([`h264_rtp`]),
//! - one call's video chain, receive and send, with its decoder thread ([`video`]),
//! - the per-call async task that runs one call's RTP/RTCP sockets and joins it to a meeting's
//!   media ([`task::CallMedia`]),
//! - the meeting media engine ([`engine`]),
//! - the media worker pool that runs every meeting engine and the slate studio on a fixed set
//!   of threads ([`pool`]), and the encoder CPU-time meter behind the overload guard ([`load`]),
//! - the slate studio: the shared video of callers waiting in the entry queue or lobby
//!   ([`slate`]).
//!
//! It must not touch SIP (dialogs, transactions, SDP negotiation) or meetings and the lobby: the
//! call-control core decides what to play and what a digit means; this module only plays and
//! reports, through the plain data of [`crate::calls::api`]. The full media plane (video,
//! transcoding, mixing into meetings) comes with the media issue and will grow beside this.
//!
//! Everything except [`task`], the decoder thread in [`video`], the worker [`pool`] and the CPU
//! clock of [`load`] is sans-IO and clock-free.

pub mod engine;
pub mod h264_rtp;
pub mod info_dtmf;
pub mod jitter;
pub mod load;
pub mod pool;
pub mod prompt;
pub mod rtcp;
pub mod rtp;
pub mod rtp_stats;
pub mod slate;
pub mod task;
pub mod telephone_event;
pub mod video;
pub mod wav;

pub use info_dtmf::{parse_info_dtmf, InfoDtmfError};
pub use prompt::PromptPlayer;
pub use task::CallMedia;
pub use telephone_event::{TelephoneEvent, TelephoneEventDetector, TelephoneEventError};

#[cfg(test)]
mod call_media_tests;
