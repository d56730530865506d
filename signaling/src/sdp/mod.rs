//! SDP offer/answer (RFC 3264) for calls from room video systems: parse what a Poly, Cisco or
//! Lifesize codec offers, answer it with what the gateway transcodes (Opus, G.722, G.711 and H.264),
//! make offers of our own (INVITE without SDP, re-INVITE for hold/resume), and turn either exchange
//! into a [`NegotiatedSession`] the media side can act on.
//!
//! Owns the SDP text model ([`SessionDescription`]), codec recognition ([`codec`]), H.264
//! `profile-level-id` and level rules ([`h264`]), and the per-call negotiation state ([`SdpSession`]:
//! session version, pending offer, current streams). It must not touch sockets, the clock, or SIP
//! transactions: the caller passes the local RTP address and ports in and carries the SDP text in
//! and out of SIP messages. Errors are one enum, [`SdpError`], whose
//! [`sip_status`](SdpError::sip_status) tells the gateway which refusal to send.
//!
//! ## Why a hand-written parser, not the `sdp` crate
//! The media stack will use the webrtc-rs "classic" crates, so `sdp` 0.17.2 (the `webrtc` 0.17
//! line) was tried first against what room systems send. It rejects the **whole** description
//! (`SdpInvalidValue: TCP/BFCP`) as soon as one m-line has a transport outside its WebRTC list
//! (`UDP`, `RTP`, `AVP`, `SAVP`, `SAVPF`, `TLS`, `DTLS`, `SCTP`, `AVPF`, `udptl`), and every Poly,
//! Cisco and Lifesize system that shares content offers BFCP as `TCP/BFCP`, `UDP/BFCP` or
//! `TCP/TLS/BFCP`. RFC 3264 §6 needs those m-lines *answered* (port 0, format list kept), so failing
//! the parse would turn every content-capable call into a 400. It also enforces the RFC 8866 line
//! order strictly (a `b=` after `t=`, which some endpoints send, is a syntax error) and brings
//! `rand`, `url` and `thiserror` 1 along. The SDP grammar a gateway needs is small (a few hundred lines
//! here, [`text`]), so it is written by hand: lenient about order and unknown types/protocols, strict
//! about the fields routing depends on, bounded in size, and fuzzed (`fuzz/fuzz_targets/sdp.rs`).
//! If the media stack later wants `sdp::SessionDescription`, converting our text is one
//! `to_string()` away.
//!
//! ## Choices a reader should know
//! - A Tessera node marks its cascade offers and answers with `a=tessera-cascade:1` ([`cascade`]);
//!   the marker changes nothing in negotiation, only what the gateway sends over the link.
//! - One codec per answered stream (plus telephone-event): a transcoding gateway gains nothing from
//!   letting the far end switch codecs mid-call, and old VTCs handle single-codec answers best.
//! - Codec choice follows *our* preference ([`Capabilities::audio`], [`codec::H264Capabilities`]),
//!   except that an audio codec whose telephone-event clock the offer also carries wins over one
//!   without, because the entry queue needs RFC 4733 DTMF.
//! - Only the first audio and the first main video m-line are used. BFCP, a second (`a=content:slides`)
//!   video and far-end camera control are answered with port 0 for now; content sharing is future
//!   work, not an oversight.
//! - `RTP/SAVP` and `RTP/SAVPF` (SDES, [`crypto`]) are answered only when the caller gave the
//!   session keys ([`SdpSession::set_srtp_keys`]), which the gateway does only for signalling it
//!   may send keys over; otherwise they get port 0 like any stream we cannot take.

pub mod cascade;
pub mod codec;
pub mod crypto;
pub mod h264;
mod negotiate;
mod negotiated;
pub mod text;

pub use codec::{AudioCodec, Capabilities, Codec, RtcpFeedback};
pub use crypto::{CryptoAttribute, CryptoError, SrtpSuite};
pub use h264::{H264Level, H264Profile, ProfileLevelId};
pub use negotiate::{is_sdes_rtp, LocalMedia, SdpSession};
pub use negotiated::{
    Direction, LocalSrtpKeys, MediaKind, NegotiatedH264, NegotiatedMedia, NegotiatedSession,
    NegotiatedSrtp, PayloadMapping, RejectedMedia,
};
pub use text::SessionDescription;

/// Why an SDP could not be parsed or negotiated. [`sip_status`](SdpError::sip_status) gives the SIP
/// response the gateway sends for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The text is not SDP: a line is not `<type>=<value>`, `v=`/`o=` is missing or wrong, a port or
    /// bandwidth is not a number. `line` counts from 1.
    #[error("malformed SDP at line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// The body exceeds a size bound ([`text::MAX_SDP_LEN`], [`text::MAX_MEDIA`]).
    #[error("SDP too large: more than {limit} {what}")]
    TooLarge {
        /// What was counted.
        what: &'static str,
        /// The bound.
        limit: usize,
    },
    /// A codec parameter (`profile-level-id`, `packetization-mode`, `max-fs`...) is not valid. The
    /// payload type carrying it is skipped, so this only surfaces from the [`h264`] helpers.
    #[error("bad {name} value {value:?}")]
    BadParameter {
        /// The parameter name.
        name: &'static str,
        /// The value as written (truncated).
        value: String,
    },
    /// No audio and no video m-line could be accepted. `reason` is short enough for a SIP reason
    /// phrase or `Warning` header, e.g. `No common codec: offered audio G729/8000`.
    #[error("{reason}")]
    NoCommonCodec {
        /// Human-readable reason listing what was offered.
        reason: String,
    },
    /// An offer arrived while our own offer is still unanswered (RFC 3264 glare).
    #[error("an offer arrived while ours is pending")]
    OfferPending,
    /// An answer arrived but we have no offer outstanding.
    #[error("an answer arrived but no offer is pending")]
    NoOfferPending,
    /// The answer does not fit our offer (m-line count or media types differ, RFC 3264 §6).
    #[error("answer does not match our offer: {reason}")]
    AnswerMismatch {
        /// What differs.
        reason: String,
    },
}

impl SdpError {
    /// The SIP status for this failure: 488 when nothing can be negotiated (RFC 3261 §21.4.26),
    /// 491 for glare, 400 for anything unparseable or inconsistent.
    pub fn sip_status(&self) -> u16 {
        match self {
            SdpError::NoCommonCodec { .. } => 488,
            SdpError::OfferPending => 491,
            SdpError::Malformed { .. }
            | SdpError::TooLarge { .. }
            | SdpError::BadParameter { .. }
            | SdpError::NoOfferPending
            | SdpError::AnswerMismatch { .. } => 400,
        }
    }
}
