//! Browsers as native participants over WebRTC: the peer connections (ICE-lite, DTLS-SRTP, Opus,
//! H.264 packetization-mode 1) and the sessions the join endpoints (`http::join`) hand out.
//!
//! Stack: the `webrtc` crate 0.21 (webrtc-rs), the async line built on webrtc-rs's sans-IO `rtc`
//! crates, whose RTP/RTCP packet types (`rtc-rtp`, `rtc-rtcp` 0.21) are the ones `rtp-session`
//! already uses. The sans-IO `rtc` crate itself was the alternative; the async line was kept
//! because it already owns the sockets, timers and DTLS/SCTP task plumbing a server needs per
//! peer, and the decisions that need virtual-clock tests (slot choice, layer stepping,
//! SSRC/sequence/timestamp rewriting) live in `rtp_session::forward` and the meeting engine
//! either way. (No measurement was made between the two; that comparison is still open.)
//!
//! Addresses: each peer binds one UDP socket on the configured address, from the configured
//! port range (or any free port); `--webrtc-public-ip` is announced instead of the bound address
//! (1:1 NAT). The gateway is ICE-lite: every candidate is in the answer, the browser checks.
//!
//! Owns the peer connections and the per-session event streams; it must not make lobby
//! decisions (the call core's) or mix/lay out media (the meeting engine's).

pub mod client;
pub mod feedback;
pub mod peer;
pub mod restart;
pub mod session;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use rtc::peer_connection::configuration::media_engine::{
    MediaEngine, MIME_TYPE_H264, MIME_TYPE_OPUS,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};

pub use session::{Session, SessionEvent, Sessions};

/// Where browsers' media goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebrtcConfig {
    /// Address peer sockets bind to.
    pub listen: IpAddr,
    /// Address announced in candidates instead of `listen` (the public side of a 1:1 NAT).
    pub public_ip: Option<IpAddr>,
    /// UDP ports peers take, `(first, last)`; `None`: any free port.
    pub ports: Option<(u16, u16)>,
}

impl Default for WebrtcConfig {
    fn default() -> Self {
        WebrtcConfig {
            listen: IpAddr::from([127, 0, 0, 1]),
            public_ip: None,
            ports: None,
        }
    }
}

/// Hands out ports of the configured range in turn (a port still taken is skipped at bind).
#[derive(Debug, Default)]
pub struct PortCursor(AtomicU32);

impl PortCursor {
    /// The next port to try in `range`.
    pub fn next(&self, range: (u16, u16)) -> u16 {
        let (first, last) = (range.0.min(range.1), range.0.max(range.1));
        let span = u32::from(last - first) + 1;
        let n = self.0.fetch_add(1, Ordering::Relaxed) % span;
        first + n as u16
    }
}

/// Payload type of Opus in the gateway's offers and answers (browsers use 111 too).
pub const OPUS_PT: u8 = 111;
/// Payload type of H.264 constrained baseline, packetization-mode 1.
pub const H264_PT: u8 = 102;

/// The codecs the gateway speaks with browsers: Opus and H.264 (constrained baseline,
/// packetization-mode 1), with NACK, PLI and REMB feedback. Shared by the gateway and the Rust
/// WebRTC client of the tests and load tests, so both sides offer the same.
///
/// # Errors
/// The media engine refused a codec (it does not for these).
pub fn media_engine() -> Result<MediaEngine, webrtc::error::Error> {
    let mut engine = MediaEngine::default();
    engine.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48_000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                rtcp_feedback: vec![],
            },
            payload_type: OPUS_PT,
        },
        RtpCodecKind::Audio,
    )?;
    let feedback = ["nack", "nack pli", "goog-remb", "ccm fir"]
        .iter()
        .map(|f| {
            let (typ, parameter) = f.split_once(' ').unwrap_or((f, ""));
            RTCPFeedback {
                typ: typ.to_owned(),
                parameter: parameter.to_owned(),
            }
        })
        .collect();
    engine.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_H264.to_owned(),
                clock_rate: 90_000,
                channels: 0,
                // x-google-start-bitrate: Chromium starts its send estimate at 1.2 Mbit/s
                // instead of 300 kbit/s, enough for its 320x180 and 640x360 layers from the
                // start (the VTCs' 3x3 tiles decode the 640x360 one).
                sdp_fmtp_line: "level-asymmetry-allowed=1;packetization-mode=1;\
                                profile-level-id=42e01f;x-google-start-bitrate=1200"
                    .to_owned(),
                rtcp_feedback: feedback,
            },
            payload_type: H264_PT,
        },
        RtpCodecKind::Video,
    )?;
    for uri in [
        "urn:ietf:params:rtp-hdrext:sdes:mid",
        "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
        "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
    ] {
        engine.register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: uri.to_owned(),
            },
            RtpCodecKind::Video,
            None,
        )?;
    }
    Ok(engine)
}

/// What the driver shares with the HTTP layer: where peers bind and the live sessions.
#[derive(Clone)]
pub struct WebrtcState {
    /// Addresses and ports.
    pub config: Arc<WebrtcConfig>,
    /// Ports of the range handed out so far.
    pub ports: Arc<PortCursor>,
    /// Live sessions by id.
    pub sessions: Sessions,
    /// Counters.
    pub metrics: crate::metrics::Metrics,
}

impl WebrtcState {
    /// No sessions yet.
    pub fn new(config: WebrtcConfig, metrics: crate::metrics::Metrics) -> Self {
        WebrtcState {
            config: Arc::new(config),
            ports: Arc::default(),
            sessions: Sessions::default(),
            metrics,
        }
    }
}
