//! What an offer/answer exchange leaves behind for the media side: one [`NegotiatedMedia`] per
//! accepted stream, the rejected m-lines, and media [`Direction`]s. Plain data, no behaviour beyond
//! small derived facts (resolution implied by a level, who sends).

use std::fmt;
use std::net::SocketAddr;

use super::codec::{Codec, RtcpFeedback};
use super::crypto::{SrtpSuite, MAX_MASTER_LEN};
use super::h264::{max_resolution, H264Level, H264Profile, LevelLimits, ProfileLevelId};
use super::text::{MediaDescription, SessionDescription};

/// An RTP stream direction (RFC 3264 §5.1), always from the point of view of the side it describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// `a=sendrecv` (the default when no direction attribute is present).
    #[default]
    SendRecv,
    /// `a=sendonly`: the side sends but does not receive (it put the other on hold).
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The direction attribute of an m-section, else of the session, else `sendrecv`.
    pub fn of(media: &MediaDescription, session: &SessionDescription) -> Direction {
        let find = |attrs: &[super::text::Attribute]| {
            attrs.iter().find_map(|a| Direction::from_name(&a.name))
        };
        find(&media.attributes)
            .or_else(|| find(&session.attributes))
            .unwrap_or_default()
    }

    fn from_name(name: &str) -> Option<Direction> {
        Some(match name.to_ascii_lowercase().as_str() {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Built from whether the side sends and whether it receives.
    pub fn from_flags(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether the side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the side receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction the *other* side has when this side has `self` (sendonly ↔ recvonly).
    pub fn reversed(self) -> Direction {
        Direction::from_flags(self.receives(), self.sends())
    }

    /// What is allowed by both `self` and `other` (same point of view).
    pub fn intersect(self, other: Direction) -> Direction {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }
}

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `m=audio`.
    Audio,
    /// `m=video` (main video; content video is not negotiated yet).
    Video,
}

impl MediaKind {
    /// The `m=` media name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }
}

/// One payload type number and what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadMapping {
    /// The RTP payload type.
    pub pt: u8,
    /// The codec, with the parameters written in *our* SDP for it.
    pub codec: Codec,
}

/// The H.264 facts of a negotiated video stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedH264 {
    /// The profile in use.
    pub profile: H264Profile,
    /// The `profile-level-id` written in our SDP for the chosen payload type.
    pub profile_level_id: ProfileLevelId,
    /// 0 (single NAL unit) or 1 (non-interleaved).
    pub packetization_mode: u8,
    /// The highest level we may encode to the far end: min(its receive level, ours).
    pub send_level: H264Level,
    /// The highest level the far end may send us (what our SDP says).
    pub recv_level: H264Level,
    /// Both sides signalled `level-asymmetry-allowed=1`.
    pub level_asymmetry_allowed: bool,
    /// The far end's `max-mbps`, as it wrote it.
    pub remote_max_mbps: Option<u32>,
    /// The far end's `max-fs`, as it wrote it.
    pub remote_max_fs: Option<u32>,
    /// The far end's `max-br`, as it wrote it.
    pub remote_max_br: Option<u32>,
    /// What we may send: `send_level`'s limits, raised by the far end's `max-*` when `send_level` is
    /// its own level (RFC 6184 §8.1).
    pub send_limits: LevelLimits,
}

impl NegotiatedH264 {
    /// The largest standard picture we may send at `fps` frames per second.
    pub fn max_send_resolution(&self, fps: u32) -> (u16, u16) {
        max_resolution(self.send_limits.max_fs, self.send_limits.max_mbps, fps)
    }
}

/// One accepted audio or video stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// The m-line's position in the SDP (0-based).
    pub index: usize,
    /// Audio or video.
    pub kind: MediaKind,
    /// Where to send RTP; `None` when the far end holds with `c=0.0.0.0` (RFC 2543 style).
    pub remote_rtp: Option<SocketAddr>,
    /// Where to send RTCP: the RTP address with rtcp-mux, `a=rtcp` if given, else RTP port + 1.
    pub remote_rtcp: Option<SocketAddr>,
    /// RTP and RTCP share one port (RFC 5761), agreed by both sides.
    pub rtcp_mux: bool,
    /// Our direction: whether we send and/or receive on this stream.
    pub direction: Direction,
    /// The far end put the stream on hold (`a=sendonly`/`a=inactive` from it, or `c=0.0.0.0`).
    pub remote_hold: bool,
    /// What we send.
    pub send: PayloadMapping,
    /// Every payload type we accept on this stream (the send codec, telephone-event).
    pub payload_types: Vec<PayloadMapping>,
    /// RFC 4733 telephone-event payload type, at the send codec's clock rate.
    pub telephone_event: Option<u8>,
    /// H.264 parameters (video only).
    pub h264: Option<NegotiatedH264>,
    /// RTCP feedback both sides agreed on (video only; all false for audio).
    pub rtcp_fb: RtcpFeedback,
    /// The most we should send, bit/s: min(far end's `b=TIAS`/`b=AS`, our configured maximum).
    pub send_bitrate_bps: u64,
    /// The far end's `a=ptime`, if any (audio).
    pub remote_ptime_ms: Option<u32>,
    /// SDES SRTP keys, for an `RTP/SAVP(F)` stream; `None` is clear RTP.
    pub srtp: Option<NegotiatedSrtp>,
}

/// The SRTP of one SDES stream (RFC 4568): the suite both sides use and each side's master key
/// and salt (each side encrypts what it sends with its own key).
#[derive(Clone, PartialEq, Eq)]
pub struct NegotiatedSrtp {
    /// The `a=crypto` tag of the line chosen (echoed in the answer).
    pub tag: u32,
    /// The protection suite.
    pub suite: SrtpSuite,
    /// The far end's master key and salt: what it protects its packets with.
    pub remote_master: Vec<u8>,
    /// Ours: what we protect our packets with.
    pub local_master: Vec<u8>,
}

// Keys stay out of logs.
impl fmt::Debug for NegotiatedSrtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NegotiatedSrtp")
            .field("tag", &self.tag)
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// Our SDES master keys (key and salt, long enough for every suite), one per stream so audio and
/// video never share a keystream. The caller draws them from a secure random source.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LocalSrtpKeys {
    /// The audio stream's key and salt.
    pub audio: [u8; MAX_MASTER_LEN],
    /// The video stream's key and salt.
    pub video: [u8; MAX_MASTER_LEN],
}

impl fmt::Debug for LocalSrtpKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalSrtpKeys(<redacted>)")
    }
}

/// An m-line that carries no media (port 0 in the answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedMedia {
    /// The m-line's position (0-based).
    pub index: usize,
    /// The `m=` media name (`audio`, `video`, `application`, ...).
    pub media: String,
    /// Why, for logs.
    pub reason: String,
}

/// The outcome of one offer/answer exchange.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegotiatedSession {
    /// The audio stream, if one was accepted.
    pub audio: Option<NegotiatedMedia>,
    /// The main video stream, if one was accepted.
    pub video: Option<NegotiatedMedia>,
    /// Every m-line that was not accepted, in order.
    pub rejected: Vec<RejectedMedia>,
}

impl NegotiatedSession {
    /// The accepted streams, audio first.
    pub fn streams(&self) -> impl Iterator<Item = &NegotiatedMedia> {
        self.audio.iter().chain(self.video.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reversing_swaps_send_and_receive() {
        assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
        assert_eq!(Direction::RecvOnly.reversed(), Direction::SendOnly);
        assert_eq!(Direction::SendRecv.reversed(), Direction::SendRecv);
        assert_eq!(Direction::Inactive.reversed(), Direction::Inactive);
    }

    #[test]
    fn intersection_keeps_only_common_capabilities() {
        assert_eq!(
            Direction::SendRecv.intersect(Direction::RecvOnly),
            Direction::RecvOnly
        );
        assert_eq!(
            Direction::SendOnly.intersect(Direction::RecvOnly),
            Direction::Inactive
        );
    }

    #[test]
    fn media_direction_overrides_session_direction() {
        let text = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\na=sendonly\r\nm=audio 1 RTP/AVP 0\r\n\
                    m=video 2 RTP/AVP 96\r\na=inactive\r\n";
        let sdp = SessionDescription::parse(text).unwrap();
        assert_eq!(Direction::of(&sdp.media[0], &sdp), Direction::SendOnly);
        assert_eq!(Direction::of(&sdp.media[1], &sdp), Direction::Inactive);
    }
}
