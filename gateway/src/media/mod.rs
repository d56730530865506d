//! Call media on the gateway side: the I/O drivers around the sans-IO `rtp_session` crate, and
//! the meeting-wide media.
//!
//! It owns:
//! - the per-call async task that runs one call's RTP/RTCP sockets and joins it to a meeting's
//!   media ([`task::CallMedia`]),
//! - the gateway's video decoder pool ([`decoder`]): a fixed set of threads off the async
//!   runtime, each call's decoder pinned to one, behind a bounded queue per call,
//! - the meeting media engine ([`engine`]),
//! - the media worker pool that runs every meeting engine and the slate studio on a fixed set
//!   of threads ([`pool`]), and the encoder CPU-time meter behind the overload guard ([`load`]),
//! - the slate studio: the shared video of callers waiting in the entry queue or lobby
//!   ([`slate`]).
//!
//! RTP/RTCP packets, the jitter buffer, H.264 payloads, telephone events, prompts and the video
//! receive/send chains live in the `rtp_session` crate; they are re-exported here under their
//! old names so callers keep one path.
//!
//! It must not touch SIP (dialogs, transactions, SDP negotiation) or meetings and the lobby: the
//! call-control core decides what to play and what a digit means; this module only plays and
//! reports, through the plain data of [`crate::calls::api`].
//!
//! Everything except [`task`], the [`decoder`] pool, the worker [`pool`] and the CPU clock of
//! [`load`] is sans-IO and clock-free.

pub mod decoder;
pub mod engine;
pub mod load;
pub mod pool;
pub mod slate;
pub mod task;

pub use rtp_session::PromptPlayer;
pub use rtp_session::{
    h264_rtp, info_dtmf, jitter, prompt, rtcp, rtp, rtp_stats, telephone_event, video, wav,
};
pub use rtp_session::{parse_info_dtmf, InfoDtmfError};
pub use rtp_session::{TelephoneEvent, TelephoneEventDetector, TelephoneEventError};
pub use task::CallMedia;

#[cfg(test)]
mod call_media_tests;
