//! Codecs as SDP names them (`a=rtpmap`, `a=fmtp`, static payload types, `a=rtcp-fb`) and what the
//! gateway can do ([`Capabilities`]). Reads attributes of one m-section; never decides an answer.

use std::fmt;

use super::h264::{H264Fmtp, H264Level, H264Profile};
use super::text::MediaDescription;

/// An audio codec the gateway transcodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// Opus, `opus/48000/2` (RFC 7587).
    Opus,
    /// G.722, `G722/8000` (the RTP clock is 8000 although it samples at 16 kHz, RFC 3551 §4.5.2).
    G722,
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl AudioCodec {
    /// The `a=rtpmap` encoding name.
    pub fn encoding_name(self) -> &'static str {
        match self {
            AudioCodec::Opus => "opus",
            AudioCodec::G722 => "G722",
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
        }
    }

    /// The RTP clock rate.
    pub fn clock_rate(self) -> u32 {
        match self {
            AudioCodec::Opus => 48_000,
            _ => 8_000,
        }
    }

    /// The channel count written in `a=rtpmap` (Opus always says 2), if any.
    pub fn channels(self) -> Option<u16> {
        match self {
            AudioCodec::Opus => Some(2),
            _ => None,
        }
    }

    /// The static payload type (RFC 3551), if the codec has one.
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            AudioCodec::Pcmu => Some(0),
            AudioCodec::Pcma => Some(8),
            AudioCodec::G722 => Some(9),
            AudioCodec::Opus => None,
        }
    }

    /// The clock rate telephone-event must use alongside this codec (RFC 4733 §2.1).
    pub fn telephone_event_clock(self) -> u32 {
        self.clock_rate()
    }

    /// The `a=fmtp` value we write for this codec, if any.
    pub fn fmtp(self) -> Option<&'static str> {
        match self {
            AudioCodec::Opus => Some("minptime=10;useinbandfec=1"),
            _ => None,
        }
    }

    fn matches(self, rtpmap: &RtpMap) -> bool {
        rtpmap.encoding.eq_ignore_ascii_case(self.encoding_name())
            && rtpmap.clock_rate == self.clock_rate()
            && match self {
                // RFC 7587: opus/48000/2 always; tolerate a missing channel count.
                AudioCodec::Opus => rtpmap.channels.is_none_or(|c| c == 2),
                _ => rtpmap.channels.is_none_or(|c| c == 1),
            }
    }
}

/// What one payload type carries, once recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Codec {
    /// An audio codec we transcode.
    Audio(AudioCodec),
    /// RFC 4733 DTMF events at this clock rate.
    TelephoneEvent {
        /// 8000 with G.711/G.722, 48000 with Opus.
        clock_rate: u32,
    },
    /// H.264 with these parameters (the ones written for this payload type in our SDP).
    H264(H264Fmtp),
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Codec::Audio(a) => write!(f, "{}/{}", a.encoding_name(), a.clock_rate()),
            Codec::TelephoneEvent { clock_rate } => write!(f, "telephone-event/{clock_rate}"),
            Codec::H264(p) => write!(
                f,
                "H264/90000 profile-level-id={} packetization-mode={}",
                p.profile_level_id, p.packetization_mode
            ),
        }
    }
}

/// An `a=rtpmap` value (or what a static payload type implies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// Encoding name as written (`PCMU`, `H264`, `G7221`, ...).
    pub encoding: String,
    /// Clock rate.
    pub clock_rate: u32,
    /// Channel count, if written.
    pub channels: Option<u16>,
}

impl fmt::Display for RtpMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.encoding, self.clock_rate)?;
        if let Some(c) = self.channels {
            write!(f, "/{c}")?;
        }
        Ok(())
    }
}

/// The RFC 3551 static payload types a room system may list without `a=rtpmap`.
fn static_rtpmap(pt: u8) -> Option<RtpMap> {
    let (encoding, clock_rate) = match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        15 => ("G728", 8000),
        18 => ("G729", 8000),
        31 => ("H261", 90000),
        34 => ("H263", 90000),
        _ => return None,
    };
    Some(RtpMap {
        encoding: encoding.into(),
        clock_rate,
        channels: None,
    })
}

fn parse_rtpmap(value: &str) -> Option<RtpMap> {
    let mut parts = value.trim().split('/');
    let encoding = parts.next()?.trim();
    if encoding.is_empty() {
        return None;
    }
    let clock_rate = parts.next()?.trim().parse().ok()?;
    let channels = match parts.next() {
        Some(c) => Some(c.trim().parse().ok()?),
        None => None,
    };
    Some(RtpMap {
        encoding: encoding.into(),
        clock_rate,
        channels,
    })
}

/// Splits an `a=fmtp` parameter string (`a=1;b=2`, spaces tolerated) into name/value pairs.
/// A parameter without `=` gets an empty value.
pub fn parse_fmtp_params(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (n.trim().to_owned(), v.trim().to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect()
}

/// Which RTCP feedback messages (RFC 4585, RFC 5104) are in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtcpFeedback {
    /// `nack`: generic NACK retransmission requests.
    pub nack: bool,
    /// `nack pli`: picture loss indication.
    pub pli: bool,
    /// `ccm fir`: full intra request.
    pub fir: bool,
    /// `ccm tmmbr`: temporary maximum media stream bit rate request and notification
    /// (RFC 5104 §4.2).
    pub tmmbr: bool,
}

impl RtcpFeedback {
    /// All four.
    pub const ALL: RtcpFeedback = RtcpFeedback {
        nack: true,
        pli: true,
        fir: true,
        tmmbr: true,
    };

    /// What both sides support.
    pub fn intersect(self, other: RtcpFeedback) -> RtcpFeedback {
        RtcpFeedback {
            nack: self.nack && other.nack,
            pli: self.pli && other.pli,
            fir: self.fir && other.fir,
            tmmbr: self.tmmbr && other.tmmbr,
        }
    }

    /// The `a=rtcp-fb` values for payload type `pt`.
    pub fn attribute_values(self, pt: u8) -> Vec<String> {
        let mut out = Vec::new();
        if self.nack {
            out.push(format!("{pt} nack"));
        }
        if self.pli {
            out.push(format!("{pt} nack pli"));
        }
        if self.fir {
            out.push(format!("{pt} ccm fir"));
        }
        if self.tmmbr {
            out.push(format!("{pt} ccm tmmbr"));
        }
        out
    }

    /// Reads the `a=rtcp-fb` lines of an m-section that apply to `pt` (its own and `*`).
    pub fn for_payload_type(media: &MediaDescription, pt: u8) -> RtcpFeedback {
        let mut fb = RtcpFeedback::default();
        for value in media.attribute_values("rtcp-fb") {
            let mut words = value.split_whitespace();
            let applies = words
                .next()
                .is_some_and(|p| p == "*" || p.parse::<u8>().ok() == Some(pt));
            if !applies {
                continue;
            }
            let kind = words.next().map(str::to_ascii_lowercase);
            let param = words.next().map(str::to_ascii_lowercase);
            match (kind.as_deref(), param.as_deref()) {
                (Some("nack"), None) => fb.nack = true,
                (Some("nack"), Some("pli")) => fb.pli = true,
                (Some("ccm"), Some("fir")) => fb.fir = true,
                (Some("ccm"), Some("tmmbr")) => fb.tmmbr = true,
                _ => {}
            }
        }
        fb
    }
}

/// One payload type of an m-section, with what the m-section says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    /// The payload type number.
    pub pt: u8,
    /// `a=rtpmap`, or the static mapping; `None` for a dynamic type without `a=rtpmap`.
    pub rtpmap: Option<RtpMap>,
    /// `a=fmtp` parameters, empty when absent.
    pub fmtp: Vec<(String, String)>,
}

impl Format {
    /// The codec, if it is one we handle (for H.264: with parameters that parse).
    pub fn codec(&self) -> Option<Codec> {
        let rtpmap = self.rtpmap.as_ref()?;
        if let Some(audio) = [
            AudioCodec::Opus,
            AudioCodec::G722,
            AudioCodec::Pcmu,
            AudioCodec::Pcma,
        ]
        .into_iter()
        .find(|a| a.matches(rtpmap))
        {
            return Some(Codec::Audio(audio));
        }
        if rtpmap.encoding.eq_ignore_ascii_case("telephone-event") {
            return Some(Codec::TelephoneEvent {
                clock_rate: rtpmap.clock_rate,
            });
        }
        if rtpmap.encoding.eq_ignore_ascii_case("H264") && rtpmap.clock_rate == 90_000 {
            return H264Fmtp::from_params(&self.fmtp).ok().map(Codec::H264);
        }
        None
    }

    /// How to name this format in a refusal: `G729/8000`, or `PT 96` without a mapping.
    pub fn describe(&self) -> String {
        match &self.rtpmap {
            Some(m) => m.to_string(),
            None => format!("PT {}", self.pt),
        }
    }
}

/// The payload types of an RTP m-section, in offer order, with their rtpmap/fmtp. Formats that are
/// not numbers 0..=127 are skipped (they cannot be RTP payload types).
pub fn formats(media: &MediaDescription) -> Vec<Format> {
    let mut rtpmaps = Vec::new();
    let mut fmtps = Vec::new();
    for a in &media.attributes {
        let Some(value) = a.value.as_deref() else {
            continue;
        };
        let Some((pt, rest)) = value.trim_start().split_once(char::is_whitespace) else {
            continue;
        };
        let Ok(pt) = pt.parse::<u8>() else {
            continue;
        };
        if a.name.eq_ignore_ascii_case("rtpmap") {
            if let Some(map) = parse_rtpmap(rest) {
                rtpmaps.push((pt, map));
            }
        } else if a.name.eq_ignore_ascii_case("fmtp") {
            fmtps.push((pt, parse_fmtp_params(rest)));
        }
    }
    media
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .filter(|pt| *pt <= 127)
        .map(|pt| Format {
            pt,
            rtpmap: rtpmaps
                .iter()
                .find(|(p, _)| *p == pt)
                .map(|(_, m)| m.clone())
                .or_else(|| static_rtpmap(pt)),
            fmtp: fmtps
                .iter()
                .find(|(p, _)| *p == pt)
                .map(|(_, f)| f.clone())
                .unwrap_or_default(),
        })
        .collect()
}

/// What the gateway can receive and send for H.264.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H264Capabilities {
    /// Profiles we decode and encode, most preferred first.
    pub profiles: Vec<H264Profile>,
    /// The highest level we receive.
    pub max_level: H264Level,
    /// Packetization modes we accept, most preferred first (0 and/or 1; 2 is never accepted).
    pub packetization_modes: Vec<u8>,
    /// Whether we write (and honour) `level-asymmetry-allowed=1`.
    pub level_asymmetry_allowed: bool,
    /// `max-mbps` we advertise above `max_level`, if any.
    pub max_mbps: Option<u32>,
    /// `max-fs` we advertise above `max_level`, if any.
    pub max_fs: Option<u32>,
    /// `max-br` we advertise above `max_level`, if any.
    pub max_br: Option<u32>,
}

impl Default for H264Capabilities {
    /// High, Main, Constrained Baseline and Baseline up to level 4 (1080p30), mode 1 preferred.
    fn default() -> Self {
        H264Capabilities {
            profiles: vec![
                H264Profile::High,
                H264Profile::ConstrainedHigh,
                H264Profile::Main,
                H264Profile::ConstrainedBaseline,
                H264Profile::Baseline,
            ],
            max_level: H264Level::L4,
            packetization_modes: vec![1, 0],
            level_asymmetry_allowed: true,
            max_mbps: None,
            max_fs: None,
            max_br: None,
        }
    }
}

/// Everything the gateway is willing to negotiate. `Capabilities::default()` is the production set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Audio codecs, most preferred first. Empty means no audio.
    pub audio: Vec<AudioCodec>,
    /// Whether RFC 4733 telephone-event is offered/accepted (the entry queue needs DTMF).
    pub telephone_event: bool,
    /// H.264 video; `None` means audio-only.
    pub h264: Option<H264Capabilities>,
    /// RTCP feedback we support on video.
    pub rtcp_fb: RtcpFeedback,
    /// Whether we accept (and offer) `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// The most video we want to receive, kbit/s (written as `b=AS` on our video m-line); also caps
    /// what we send.
    pub max_video_kbps: u32,
    /// The most audio we want to receive, kbit/s (caps what we send; not written).
    pub max_audio_kbps: u32,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            audio: vec![
                AudioCodec::Opus,
                AudioCodec::G722,
                AudioCodec::Pcmu,
                AudioCodec::Pcma,
            ],
            telephone_event: true,
            h264: Some(H264Capabilities::default()),
            rtcp_fb: RtcpFeedback::ALL,
            rtcp_mux: true,
            max_video_kbps: 4_000,
            max_audio_kbps: 128,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::text::Attribute;

    fn media(formats: &[&str], attrs: &[(&str, &str)]) -> MediaDescription {
        let mut m = MediaDescription::new(
            "audio",
            1000,
            "RTP/AVP",
            formats.iter().map(|f| f.to_string()).collect(),
        );
        m.attributes = attrs.iter().map(|(n, v)| Attribute::new(n, *v)).collect();
        m
    }

    #[test]
    fn static_payload_types_need_no_rtpmap() {
        let m = media(&["0", "8", "9", "18"], &[]);
        let f = formats(&m);
        assert_eq!(f[0].codec(), Some(Codec::Audio(AudioCodec::Pcmu)));
        assert_eq!(f[1].codec(), Some(Codec::Audio(AudioCodec::Pcma)));
        assert_eq!(f[2].codec(), Some(Codec::Audio(AudioCodec::G722)));
        assert_eq!(f[3].codec(), None);
        assert_eq!(f[3].describe(), "G729/8000");
    }

    #[test]
    fn rtpmap_names_are_case_insensitive_and_clock_checked() {
        let m = media(
            &["111", "102", "101", "115"],
            &[
                ("rtpmap", "111 OPUS/48000/2"),
                ("rtpmap", "102 G7221/32000"),
                ("rtpmap", "101 telephone-event/8000"),
                ("rtpmap", "115 opus/16000"),
            ],
        );
        let codecs: Vec<_> = formats(&m).iter().map(Format::codec).collect();
        assert_eq!(codecs[0], Some(Codec::Audio(AudioCodec::Opus)));
        assert_eq!(codecs[1], None);
        assert_eq!(codecs[2], Some(Codec::TelephoneEvent { clock_rate: 8000 }));
        assert_eq!(codecs[3], None, "opus must be 48000");
    }

    #[test]
    fn dynamic_type_without_rtpmap_is_unknown() {
        let m = media(&["96", "abc", "300"], &[]);
        let f = formats(&m);
        assert_eq!(f.len(), 1, "non-numeric and >127 formats are skipped");
        assert_eq!(f[0].describe(), "PT 96");
    }

    #[test]
    fn fmtp_params_tolerate_spaces_and_flags() {
        assert_eq!(
            parse_fmtp_params(" profile-level-id=42e01f; packetization-mode=1 ;foo"),
            vec![
                ("profile-level-id".into(), "42e01f".into()),
                ("packetization-mode".into(), "1".into()),
                ("foo".into(), String::new()),
            ]
        );
    }

    #[test]
    fn rtcp_fb_reads_wildcard_and_per_type_lines() {
        let m = media(
            &["97", "98"],
            &[
                ("rtcp-fb", "* ccm fir"),
                ("rtcp-fb", "97 nack"),
                ("rtcp-fb", "97 nack pli"),
                ("rtcp-fb", "98 goog-remb"),
                ("rtcp-fb", "* ccm tmmbr"),
            ],
        );
        assert_eq!(RtcpFeedback::for_payload_type(&m, 97), RtcpFeedback::ALL);
        assert_eq!(
            RtcpFeedback::for_payload_type(&m, 98),
            RtcpFeedback {
                fir: true,
                tmmbr: true,
                ..Default::default()
            }
        );
    }
}
