//! Writing our m-sections: the payload lists we offer, re-offers that keep the earlier m-line
//! layout (RFC 3264 §8), and the attributes of one section. Reads capabilities; decides nothing.

use super::{media_kind, SdpSession};
use crate::sdp::codec::{Codec, RtcpFeedback};
use crate::sdp::crypto::CryptoAttribute;
use crate::sdp::h264::{H264Fmtp, ProfileLevelId};
use crate::sdp::negotiated::{
    Direction, MediaKind, NegotiatedMedia, NegotiatedSrtp, PayloadMapping,
};
use crate::sdp::text::{Attribute, Bandwidth, MediaDescription};

/// RFC 4733 events we accept: DTMF 0-9, *, #, A-D (flash, 16, means nothing to a gateway).
const TELEPHONE_EVENTS: &str = "0-15";
/// Payload types of our own offers (answers reuse the offerer's numbers).
const PT_OPUS: u8 = 111;
const PT_TELEPHONE_EVENT_48K: u8 = 110;
const PT_TELEPHONE_EVENT_8K: u8 = 101;
const PT_FIRST_VIDEO: u8 = 96;

/// Everything needed to write one m-section of ours.
pub(super) struct SectionSpec<'a> {
    pub(super) kind: MediaKind,
    pub(super) proto: &'a str,
    pub(super) payloads: &'a [PayloadMapping],
    pub(super) rtcp_fb: RtcpFeedback,
    pub(super) rtcp_mux: bool,
    pub(super) direction: Direction,
    pub(super) content_main: bool,
    /// The SRTP keys to write as `a=crypto` (SDES streams).
    pub(super) srtp: Option<&'a NegotiatedSrtp>,
}

impl SdpSession {
    /// Our m-section for an offer: the agreed payloads of a stream in use, else all we support.
    pub(super) fn offer_section(
        &self,
        kind: MediaKind,
        proto: &str,
        current: Option<&NegotiatedMedia>,
    ) -> MediaDescription {
        let payloads = match current {
            Some(stream) => stream.payload_types.clone(),
            None => match kind {
                MediaKind::Audio => self.audio_payloads(),
                MediaKind::Video => self.video_payloads(),
            },
        };
        self.section(&SectionSpec {
            kind,
            proto,
            payloads: &payloads,
            rtcp_fb: match kind {
                MediaKind::Video => self.caps.rtcp_fb,
                MediaKind::Audio => RtcpFeedback::default(),
            },
            rtcp_mux: self.caps.rtcp_mux,
            direction: self.local_direction,
            content_main: false,
            // A re-offer of an SDES stream keeps its keys (RFC 4568 §7.1.4).
            srtp: current.and_then(|c| c.srtp.as_ref()),
        })
    }

    /// The m-section re-offered in the place of one we sent before.
    pub(super) fn reoffer_section(
        &self,
        index: usize,
        previous: &MediaDescription,
    ) -> MediaDescription {
        let kind = media_kind(previous).filter(|_| previous.port != 0);
        let Some(kind) = kind else {
            return rejected_section(previous);
        };
        let current = self
            .current
            .as_ref()
            .and_then(|c| c.streams().find(|s| s.index == index && s.kind == kind));
        self.offer_section(kind, &previous.proto, current)
    }

    pub(super) fn audio_payloads(&self) -> Vec<PayloadMapping> {
        let mut payloads: Vec<PayloadMapping> = self
            .caps
            .audio
            .iter()
            .map(|a| PayloadMapping {
                pt: a.static_payload_type().unwrap_or(PT_OPUS),
                codec: Codec::Audio(*a),
            })
            .collect();
        if self.caps.telephone_event {
            for (clock, pt) in [
                (48_000, PT_TELEPHONE_EVENT_48K),
                (8_000, PT_TELEPHONE_EVENT_8K),
            ] {
                if self
                    .caps
                    .audio
                    .iter()
                    .any(|a| a.telephone_event_clock() == clock)
                {
                    payloads.push(PayloadMapping {
                        pt,
                        codec: Codec::TelephoneEvent { clock_rate: clock },
                    });
                }
            }
        }
        payloads
    }

    pub(super) fn video_payloads(&self) -> Vec<PayloadMapping> {
        let Some(h264) = &self.caps.h264 else {
            return Vec::new();
        };
        let combinations = h264
            .packetization_modes
            .iter()
            .filter(|m| **m <= 1)
            .flat_map(|mode| h264.profiles.iter().map(move |p| (*mode, *p)));
        (PT_FIRST_VIDEO..PT_TELEPHONE_EVENT_8K)
            .zip(combinations)
            .map(|(pt, (mode, profile))| PayloadMapping {
                pt,
                codec: Codec::H264(H264Fmtp {
                    profile_level_id: ProfileLevelId::new(profile, h264.max_level),
                    packetization_mode: mode,
                    level_asymmetry_allowed: h264.level_asymmetry_allowed,
                    max_mbps: h264.max_mbps,
                    max_fs: h264.max_fs,
                    max_br: h264.max_br,
                }),
            })
            .collect()
    }

    pub(super) fn section(&self, spec: &SectionSpec<'_>) -> MediaDescription {
        let port = match spec.kind {
            MediaKind::Audio => self.local.audio_port,
            MediaKind::Video => self.local.video_port,
        };
        let mut m = MediaDescription::new(
            spec.kind.as_str(),
            port,
            spec.proto,
            spec.payloads.iter().map(|p| p.pt.to_string()).collect(),
        );
        if spec.kind == MediaKind::Video {
            m.bandwidths.push(Bandwidth {
                kind: "AS".into(),
                value: self.caps.max_video_kbps.into(),
            });
            m.bandwidths.push(Bandwidth {
                kind: "TIAS".into(),
                value: u64::from(self.caps.max_video_kbps) * 1000,
            });
        }
        for p in spec.payloads {
            let pt = p.pt;
            match &p.codec {
                Codec::Audio(a) => {
                    let channels = a.channels().map(|c| format!("/{c}")).unwrap_or_default();
                    m.attributes.push(Attribute::new(
                        "rtpmap",
                        format!("{pt} {}/{}{channels}", a.encoding_name(), a.clock_rate()),
                    ));
                    if let Some(fmtp) = a.fmtp() {
                        m.attributes
                            .push(Attribute::new("fmtp", format!("{pt} {fmtp}")));
                    }
                }
                Codec::TelephoneEvent { clock_rate } => {
                    m.attributes.push(Attribute::new(
                        "rtpmap",
                        format!("{pt} telephone-event/{clock_rate}"),
                    ));
                    m.attributes
                        .push(Attribute::new("fmtp", format!("{pt} {TELEPHONE_EVENTS}")));
                }
                Codec::H264(fmtp) => {
                    m.attributes
                        .push(Attribute::new("rtpmap", format!("{pt} H264/90000")));
                    m.attributes.push(Attribute::new(
                        "fmtp",
                        format!("{pt} {}", fmtp.to_fmtp_value()),
                    ));
                    for fb in spec.rtcp_fb.attribute_values(pt) {
                        m.attributes.push(Attribute::new("rtcp-fb", fb));
                    }
                }
            }
        }
        if let Some(srtp) = spec.srtp {
            let line = CryptoAttribute {
                tag: srtp.tag,
                suite: srtp.suite,
                master: srtp.local_master.clone(),
            };
            m.attributes
                .push(Attribute::new("crypto", line.to_string()));
        }
        if spec.rtcp_mux {
            m.attributes.push(Attribute::flag("rtcp-mux"));
        }
        if spec.content_main {
            m.attributes.push(Attribute::new("content", "main"));
        }
        m.attributes.push(Attribute::flag(spec.direction.as_str()));
        m
    }
}

/// RFC 3264 §6: a refused stream is answered with port 0 and the offered format list.
pub(super) fn rejected_section(offered: &MediaDescription) -> MediaDescription {
    MediaDescription::new(&offered.media, 0, &offered.proto, offered.formats.clone())
}
