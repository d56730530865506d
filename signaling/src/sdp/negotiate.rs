//! The offer/answer engine (RFC 3264): [`SdpSession`] answers offers, makes offers, reads answers,
//! and keeps what one call needs between exchanges (session id and version, the pending offer, the
//! streams in use). Pure: the caller supplies the local RTP address and ports, and nothing here
//! reads a clock or a random source (the session id is passed in).

use std::net::{IpAddr, SocketAddr};

use super::codec::{self, AudioCodec, Capabilities, Codec, Format, RtcpFeedback};
use super::crypto::CryptoAttribute;
use super::h264::{answer_level, H264Fmtp};
use super::negotiated::{
    Direction, LocalSrtpKeys, MediaKind, NegotiatedH264, NegotiatedMedia, NegotiatedSession,
    NegotiatedSrtp, PayloadMapping, RejectedMedia,
};
use super::text::{Connection, MediaDescription, Origin, SessionDescription};
use super::SdpError;
use section::{rejected_section, SectionSpec};

/// `o=` username and `s=` we write.
const USERNAME: &str = "tessera";
const SESSION_NAME: &str = "Tessera";
/// Longest refusal reason we produce (it ends up in a SIP reason phrase).
const MAX_REASON_LEN: usize = 200;

/// Where the gateway receives media for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address written in `c=` and `o=`.
    pub address: IpAddr,
    /// Our audio RTP port (RTCP on the same port with rtcp-mux, else the next one).
    pub audio_port: u16,
    /// Our video RTP port.
    pub video_port: u16,
}

/// The SDP side of one call: answers offers and makes offers with the same API for the initial
/// exchange and every re-INVITE, and increments the `o=` session version whenever what we send
/// changes (RFC 3264 §8).
#[derive(Debug, Clone)]
pub struct SdpSession {
    caps: Capabilities,
    local: LocalMedia,
    session_id: u64,
    version: u64,
    local_direction: Direction,
    last_sent: Option<SessionDescription>,
    pending_offer: Option<SessionDescription>,
    current: Option<NegotiatedSession>,
    /// Our SRTP master keys; `None` refuses `RTP/SAVP(F)` m-lines (keys may not travel here).
    srtp_keys: Option<LocalSrtpKeys>,
}

/// What was picked from one m-section's formats.
struct Selected {
    /// The payload we send, with our parameters.
    send: PayloadMapping,
    /// telephone-event payload type at the send codec's clock.
    telephone_event: Option<u8>,
    /// The far end's H.264 parameters for the chosen payload type.
    remote_h264: Option<H264Fmtp>,
}

/// Who picks the codec: the answerer by its own preference, the offerer by the answer's order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Picking {
    OurPreference,
    AnswerOrder,
}

impl SdpSession {
    /// A session for one call. `session_id` becomes the `o=` sess-id (any number unique enough per
    /// gateway, e.g. derived from the call's id); the session version starts at 0.
    pub fn new(session_id: u64, caps: Capabilities, local: LocalMedia) -> Self {
        SdpSession {
            caps,
            local,
            session_id,
            version: 0,
            local_direction: Direction::SendRecv,
            last_sent: None,
            pending_offer: None,
            current: None,
            srtp_keys: None,
        }
    }

    /// Our SRTP master keys for SDES (RFC 4568), which lets answers accept `RTP/SAVP` and
    /// `RTP/SAVPF` m-lines; `None` (the default) refuses them. The caller draws the keys and
    /// decides whether keys may travel in this call's signalling at all (only over TLS, unless
    /// the tenant allows otherwise).
    pub fn set_srtp_keys(&mut self, keys: Option<LocalSrtpKeys>) {
        self.srtp_keys = keys;
    }

    /// What we are willing to do on every stream: `SendOnly` to put the far end on hold, `SendRecv`
    /// to resume. Applies to the next offer or answer.
    pub fn set_local_direction(&mut self, direction: Direction) {
        self.local_direction = direction;
    }

    /// Changes where we receive media (takes effect in the next offer or answer).
    pub fn set_local_media(&mut self, local: LocalMedia) {
        self.local = local;
    }

    /// The `o=` session version of the last SDP we produced.
    pub fn session_version(&self) -> u64 {
        self.version
    }

    /// The last SDP we produced (offer or answer).
    pub fn last_local(&self) -> Option<&SessionDescription> {
        self.last_sent.as_ref()
    }

    /// The streams agreed by the last completed exchange.
    pub fn current(&self) -> Option<&NegotiatedSession> {
        self.current.as_ref()
    }

    /// Whether an offer of ours awaits its answer.
    pub fn has_pending_offer(&self) -> bool {
        self.pending_offer.is_some()
    }

    /// Answers an offer (initial or re-INVITE): one m-line per offered m-line, in order.
    ///
    /// Fails with [`SdpError::NoCommonCodec`] (488) when neither audio nor video can be accepted and
    /// [`SdpError::OfferPending`] (491) while our own offer is outstanding. On failure the session
    /// is unchanged (a refused re-offer leaves the call as it was, RFC 3264 §8).
    pub fn answer(
        &mut self,
        offer: &SessionDescription,
    ) -> Result<(SessionDescription, NegotiatedSession), SdpError> {
        if self.pending_offer.is_some() {
            return Err(SdpError::OfferPending);
        }
        let mut negotiated = NegotiatedSession::default();
        let mut sections = Vec::with_capacity(offer.media.len());
        for (index, media) in offer.media.iter().enumerate() {
            match self.answer_media(offer, index, media, &negotiated) {
                Ok((stream, section)) => {
                    match stream.kind {
                        MediaKind::Audio => negotiated.audio = Some(stream),
                        MediaKind::Video => negotiated.video = Some(stream),
                    }
                    sections.push(section);
                }
                Err(reason) => {
                    negotiated.rejected.push(RejectedMedia {
                        index,
                        media: media.media.clone(),
                        reason,
                    });
                    sections.push(rejected_section(media));
                }
            }
        }
        if negotiated.audio.is_none() && negotiated.video.is_none() {
            return Err(SdpError::NoCommonCodec {
                reason: no_common_codec_reason("offered", offer),
            });
        }
        let answer = self.finish(sections);
        self.current = Some(negotiated.clone());
        Ok((answer, negotiated))
    }

    /// Makes an offer: for an INVITE without SDP (the offer goes in our 200, the answer comes in
    /// the ACK) or a re-INVITE of ours (hold/resume via [`set_local_direction`](Self::set_local_direction)).
    ///
    /// After an earlier exchange the offer keeps its m-lines in the same order (RFC 3264 §8): streams
    /// in use are re-offered with the payload types already agreed, disabled ones stay at port 0.
    pub fn create_offer(&mut self) -> Result<SessionDescription, SdpError> {
        if self.pending_offer.is_some() {
            return Err(SdpError::OfferPending);
        }
        let sections = match &self.last_sent {
            Some(last) => last
                .media
                .iter()
                .enumerate()
                .map(|(index, m)| self.reoffer_section(index, m))
                .collect(),
            None => {
                let mut sections = Vec::new();
                if !self.caps.audio.is_empty() {
                    sections.push(self.offer_section(MediaKind::Audio, "RTP/AVP", None));
                }
                if self.caps.h264.is_some() {
                    sections.push(self.offer_section(MediaKind::Video, "RTP/AVP", None));
                }
                sections
            }
        };
        let offer = self.finish(sections);
        self.pending_offer = Some(offer.clone());
        Ok(offer)
    }

    /// Forgets our outstanding offer (its transaction failed, e.g. 491 or a timeout); the streams
    /// stay as they were.
    pub fn cancel_offer(&mut self) {
        self.pending_offer = None;
    }

    /// Reads the answer to our pending offer. The offer is consumed even when the answer is bad.
    pub fn handle_answer(
        &mut self,
        answer: &SessionDescription,
    ) -> Result<NegotiatedSession, SdpError> {
        let offer = self.pending_offer.take().ok_or(SdpError::NoOfferPending)?;
        if answer.media.len() != offer.media.len() {
            return Err(SdpError::AnswerMismatch {
                reason: format!(
                    "{} m-lines answered, {} offered",
                    answer.media.len(),
                    offer.media.len()
                ),
            });
        }
        let mut negotiated = NegotiatedSession::default();
        for (index, (ours, theirs)) in offer.media.iter().zip(&answer.media).enumerate() {
            if !ours.media.eq_ignore_ascii_case(&theirs.media) {
                return Err(SdpError::AnswerMismatch {
                    reason: format!(
                        "m-line {index} is {} in the answer, {} in the offer",
                        theirs.media, ours.media
                    ),
                });
            }
            let outcome = match media_kind(ours) {
                _ if ours.port == 0 => Err("disabled in our offer".to_owned()),
                _ if theirs.port == 0 => Err("declined by the far end".to_owned()),
                None => Err(format!("{} media is not used", ours.media)),
                Some(kind) => self
                    .select(kind, &codec::formats(theirs), Picking::AnswerOrder)
                    .and_then(|selected| self.build_stream(index, kind, answer, theirs, selected))
                    .and_then(|mut stream| {
                        if is_sdes_rtp(&ours.proto) {
                            stream.srtp = Some(answered_crypto(ours, theirs)?);
                        }
                        Ok(stream)
                    }),
            };
            match outcome {
                Ok(stream) => match stream.kind {
                    MediaKind::Audio if negotiated.audio.is_none() => {
                        negotiated.audio = Some(stream)
                    }
                    MediaKind::Video if negotiated.video.is_none() => {
                        negotiated.video = Some(stream)
                    }
                    _ => negotiated.rejected.push(RejectedMedia {
                        index,
                        media: theirs.media.clone(),
                        reason: "a second stream of this kind is not used".into(),
                    }),
                },
                Err(reason) => negotiated.rejected.push(RejectedMedia {
                    index,
                    media: theirs.media.clone(),
                    reason,
                }),
            }
        }
        if negotiated.audio.is_none() && negotiated.video.is_none() {
            return Err(SdpError::NoCommonCodec {
                reason: no_common_codec_reason("answered", answer),
            });
        }
        self.current = Some(negotiated.clone());
        Ok(negotiated)
    }

    /// One offered m-line: the accepted stream and our section, or why it is refused.
    fn answer_media(
        &self,
        offer: &SessionDescription,
        index: usize,
        media: &MediaDescription,
        so_far: &NegotiatedSession,
    ) -> Result<(NegotiatedMedia, MediaDescription), String> {
        let Some(kind) = media_kind(media) else {
            return Err(if media.proto.to_ascii_uppercase().contains("BFCP") {
                "BFCP content sharing is not supported yet".into()
            } else {
                format!("{} media is not supported", media.media)
            });
        };
        if media.port == 0 {
            return Err("disabled in the offer (port 0)".into());
        }
        let srtp = if is_plain_rtp(&media.proto) {
            None
        } else if is_sdes_rtp(&media.proto) {
            Some(self.answer_crypto(kind, media)?)
        } else {
            return Err(format!("transport {} is not supported", media.proto));
        };
        let content_main = match kind {
            MediaKind::Audio if so_far.audio.is_some() => {
                return Err("only one audio stream is used".into())
            }
            MediaKind::Audio => false,
            MediaKind::Video => {
                if let Some(content) = media.attribute_values("content").next() {
                    if !content
                        .split(',')
                        .any(|c| c.trim().eq_ignore_ascii_case("main"))
                    {
                        return Err(format!(
                            "content video (a=content:{content}) is not supported yet"
                        ));
                    }
                }
                if so_far.video.is_some() {
                    return Err("only one main video stream is used".into());
                }
                media.has_attribute("content")
            }
        };
        let selected = self.select(kind, &codec::formats(media), Picking::OurPreference)?;
        let mut stream = self.build_stream(index, kind, offer, media, selected)?;
        stream.srtp = srtp;
        let section = self.section(&SectionSpec {
            kind,
            proto: &media.proto,
            payloads: &stream.payload_types,
            rtcp_fb: stream.rtcp_fb,
            rtcp_mux: stream.rtcp_mux,
            direction: stream.direction,
            content_main,
            srtp: stream.srtp.as_ref(),
        });
        Ok((stream, section))
    }

    /// The SRTP keys of an offered `RTP/SAVP(F)` m-line: the offerer's first usable `a=crypto`
    /// line, answered with the same tag and suite and our key for this kind of stream.
    fn answer_crypto(
        &self,
        kind: MediaKind,
        media: &MediaDescription,
    ) -> Result<NegotiatedSrtp, String> {
        let Some(keys) = &self.srtp_keys else {
            return Err(format!(
                "{} needs SDES keys, which are only exchanged over TLS",
                media.proto
            ));
        };
        let offered = CryptoAttribute::select(media.attribute_values("crypto"))
            .map_err(|e| format!("no usable a=crypto line ({e})"))?;
        let ours = match kind {
            MediaKind::Audio => &keys.audio,
            MediaKind::Video => &keys.video,
        };
        Ok(NegotiatedSrtp {
            tag: offered.tag,
            suite: offered.suite,
            remote_master: offered.master,
            local_master: ours[..offered.suite.master_len()].to_vec(),
        })
    }

    fn select(
        &self,
        kind: MediaKind,
        formats: &[Format],
        picking: Picking,
    ) -> Result<Selected, String> {
        match kind {
            MediaKind::Audio => self.select_audio(formats, picking),
            MediaKind::Video => self.select_video(formats, picking),
        }
    }

    fn telephone_event_for(&self, formats: &[Format], audio: AudioCodec) -> Option<u8> {
        if !self.caps.telephone_event {
            return None;
        }
        let clock = audio.telephone_event_clock();
        formats
            .iter()
            .find(|f| f.codec() == Some(Codec::TelephoneEvent { clock_rate: clock }))
            .map(|f| f.pt)
    }

    fn select_audio(&self, formats: &[Format], picking: Picking) -> Result<Selected, String> {
        let candidates = formats
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f.codec() {
                Some(Codec::Audio(a)) => {
                    let rank = self.caps.audio.iter().position(|c| *c == a)?;
                    Some((i, f.pt, a, rank))
                }
                _ => None,
            });
        let best = match picking {
            Picking::AnswerOrder => candidates.min_by_key(|(i, ..)| *i),
            Picking::OurPreference => candidates.min_by_key(|(_, _, a, rank)| {
                let dtmf_missing =
                    self.caps.telephone_event && self.telephone_event_for(formats, *a).is_none();
                (dtmf_missing, *rank)
            }),
        };
        let Some((_, pt, audio, _)) = best else {
            return Err(format!(
                "no common audio codec (offered {})",
                describe(formats)
            ));
        };
        Ok(Selected {
            send: PayloadMapping {
                pt,
                codec: Codec::Audio(audio),
            },
            telephone_event: self.telephone_event_for(formats, audio),
            remote_h264: None,
        })
    }

    fn select_video(&self, formats: &[Format], picking: Picking) -> Result<Selected, String> {
        let Some(h264) = &self.caps.h264 else {
            return Err("video is disabled".into());
        };
        let candidates = formats.iter().enumerate().filter_map(|(i, f)| {
            let Some(Codec::H264(fmtp)) = f.codec() else {
                return None;
            };
            let mode_rank = h264
                .packetization_modes
                .iter()
                .position(|m| *m == fmtp.packetization_mode)?;
            let profile = fmtp.profile_level_id.profile()?;
            let profile_rank = h264.profiles.iter().position(|p| *p == profile)?;
            fmtp.profile_level_id.level()?;
            Some((i, f.pt, fmtp, (mode_rank, profile_rank, i)))
        });
        let best = match picking {
            Picking::AnswerOrder => candidates.min_by_key(|(i, ..)| *i),
            Picking::OurPreference => candidates.min_by_key(|(.., key)| *key),
        };
        let Some((_, pt, remote, _)) = best else {
            return Err(format!(
                "no common video codec (offered {})",
                describe(formats)
            ));
        };
        let remote_level = remote.profile_level_id.level().unwrap_or(h264.max_level);
        let asymmetry = remote.level_asymmetry_allowed && h264.level_asymmetry_allowed;
        let ours = H264Fmtp {
            profile_level_id: remote.profile_level_id.with_level(answer_level(
                remote_level,
                h264.max_level,
                asymmetry,
            )),
            packetization_mode: remote.packetization_mode,
            level_asymmetry_allowed: asymmetry,
            max_mbps: h264.max_mbps,
            max_fs: h264.max_fs,
            max_br: h264.max_br,
        };
        Ok(Selected {
            send: PayloadMapping {
                pt,
                codec: Codec::H264(ours),
            },
            telephone_event: None,
            remote_h264: Some(remote),
        })
    }

    /// The negotiated stream for a remote m-section (offer or answer) and what was selected in it.
    fn build_stream(
        &self,
        index: usize,
        kind: MediaKind,
        session: &SessionDescription,
        media: &MediaDescription,
        selected: Selected,
    ) -> Result<NegotiatedMedia, String> {
        let connection = media
            .connection
            .as_ref()
            .or(session.connection.as_ref())
            .ok_or("no c= line")?;
        let ip = connection
            .ip()
            .ok_or_else(|| format!("c= address {:?} is not an IP literal", connection.address))?;
        let hold_address = ip.is_unspecified();
        let mut remote_direction = Direction::of(media, session);
        if hold_address {
            // RFC 2543 hold: "do not send to me", whatever the direction attribute says.
            remote_direction = remote_direction.intersect(Direction::SendOnly);
        }
        let direction = remote_direction.reversed().intersect(self.local_direction);
        let rtcp_mux = self.caps.rtcp_mux && media.has_attribute("rtcp-mux");
        let remote_rtp = (!hold_address).then(|| SocketAddr::new(ip, media.port));
        let remote_rtcp = remote_rtp.and_then(|rtp| {
            if rtcp_mux {
                return Some(rtp);
            }
            match media.attribute_values("rtcp").next() {
                Some(value) => parse_rtcp_attribute(value, ip),
                None => media.port.checked_add(1).map(|p| SocketAddr::new(ip, p)),
            }
        });

        let our_max_bps = 1000
            * u64::from(match kind {
                MediaKind::Audio => self.caps.max_audio_kbps,
                MediaKind::Video => self.caps.max_video_kbps,
            });
        let remote_bps = media
            .bandwidth("TIAS")
            .or_else(|| media.bandwidth("AS").map(|kbps| kbps.saturating_mul(1000)))
            .or_else(|| session.bandwidth("TIAS"))
            .or_else(|| {
                session
                    .bandwidth("AS")
                    .map(|kbps| kbps.saturating_mul(1000))
            });
        let mut send_bitrate_bps = remote_bps.map_or(our_max_bps, |r| r.min(our_max_bps));

        let h264 = match (&selected.send.codec, selected.remote_h264) {
            (Codec::H264(ours), Some(remote)) => {
                let h = negotiated_h264(ours, &remote, &self.caps)?;
                send_bitrate_bps =
                    send_bitrate_bps.min(u64::from(h.send_limits.max_br_kbps) * 1000);
                Some(h)
            }
            _ => None,
        };
        let rtcp_fb = match kind {
            MediaKind::Video => {
                RtcpFeedback::for_payload_type(media, selected.send.pt).intersect(self.caps.rtcp_fb)
            }
            MediaKind::Audio => RtcpFeedback::default(),
        };
        let mut payload_types = vec![selected.send.clone()];
        if let (Some(pt), Codec::Audio(audio)) = (selected.telephone_event, &selected.send.codec) {
            payload_types.push(PayloadMapping {
                pt,
                codec: Codec::TelephoneEvent {
                    clock_rate: audio.telephone_event_clock(),
                },
            });
        }
        Ok(NegotiatedMedia {
            index,
            kind,
            remote_rtp,
            remote_rtcp,
            rtcp_mux,
            direction,
            remote_hold: !remote_direction.receives(),
            send: selected.send,
            payload_types,
            telephone_event: selected.telephone_event,
            h264,
            rtcp_fb,
            send_bitrate_bps,
            remote_ptime_ms: media
                .attribute_values("ptime")
                .next()
                .and_then(|p| p.trim().parse().ok()),
            srtp: None,
        })
    }

    /// Wraps our m-sections in a session description, bumping the version if anything changed
    /// since the last SDP we sent.
    fn finish(&mut self, media: Vec<MediaDescription>) -> SessionDescription {
        let connection = Connection::for_ip(self.local.address);
        let mut sdp = SessionDescription {
            origin: Origin {
                username: USERNAME.into(),
                session_id: self.session_id.to_string(),
                session_version: self.version.to_string(),
                net_type: connection.net_type.clone(),
                addr_type: connection.addr_type.clone(),
                address: connection.address.clone(),
            },
            session_name: SESSION_NAME.into(),
            connection: Some(connection),
            bandwidths: Vec::new(),
            timing: vec![('t', "0 0".into())],
            other: Vec::new(),
            attributes: Vec::new(),
            media,
        };
        if self.last_sent.as_ref().is_some_and(|last| *last != sdp) {
            self.version = self.version.wrapping_add(1);
            sdp.origin.session_version = self.version.to_string();
        }
        self.last_sent = Some(sdp.clone());
        sdp
    }
}

fn negotiated_h264(
    ours: &H264Fmtp,
    remote: &H264Fmtp,
    caps: &Capabilities,
) -> Result<NegotiatedH264, String> {
    let max_level = caps.h264.as_ref().ok_or("video is disabled")?.max_level;
    let remote_level = remote
        .profile_level_id
        .level()
        .ok_or("unknown H.264 level")?;
    let recv_level = ours.profile_level_id.level().ok_or("unknown H.264 level")?;
    let profile = remote
        .profile_level_id
        .profile()
        .ok_or("unknown H.264 profile")?;
    let send_level = remote_level.min(max_level);
    let send_limits = if send_level == remote_level {
        remote.receive_limits().unwrap_or(send_level.limits())
    } else {
        send_level.limits()
    };
    Ok(NegotiatedH264 {
        profile,
        profile_level_id: ours.profile_level_id,
        packetization_mode: ours.packetization_mode,
        send_level,
        recv_level,
        level_asymmetry_allowed: ours.level_asymmetry_allowed,
        remote_max_mbps: remote.max_mbps,
        remote_max_fs: remote.max_fs,
        remote_max_br: remote.max_br,
        send_limits,
    })
}

fn media_kind(media: &MediaDescription) -> Option<MediaKind> {
    if media.media.eq_ignore_ascii_case("audio") {
        Some(MediaKind::Audio)
    } else if media.media.eq_ignore_ascii_case("video") {
        Some(MediaKind::Video)
    } else {
        None
    }
}

fn is_plain_rtp(proto: &str) -> bool {
    proto.eq_ignore_ascii_case("RTP/AVP") || proto.eq_ignore_ascii_case("RTP/AVPF")
}

/// The SDES profiles (RFC 4568 keys in `a=crypto`); `UDP/TLS/RTP/SAVPF` is DTLS-SRTP, not this.
pub fn is_sdes_rtp(proto: &str) -> bool {
    proto.eq_ignore_ascii_case("RTP/SAVP") || proto.eq_ignore_ascii_case("RTP/SAVPF")
}

/// The SRTP of an SDES stream we offered (a re-offer keeps its keys): our own `a=crypto` line
/// and the one the answer chose, which must echo our tag and suite (RFC 4568 §7.1.3).
fn answered_crypto(
    ours: &MediaDescription,
    theirs: &MediaDescription,
) -> Result<NegotiatedSrtp, String> {
    let offered = CryptoAttribute::select(ours.attribute_values("crypto"))
        .map_err(|e| format!("our offer has no usable a=crypto line ({e})"))?;
    let answered = CryptoAttribute::select(theirs.attribute_values("crypto"))
        .map_err(|e| format!("the answer has no usable a=crypto line ({e})"))?;
    if (answered.tag, answered.suite) != (offered.tag, offered.suite) {
        return Err(format!(
            "the answer's a=crypto ({} {}) is not the line we offered",
            answered.tag, answered.suite
        ));
    }
    Ok(NegotiatedSrtp {
        tag: offered.tag,
        suite: offered.suite,
        remote_master: answered.master,
        local_master: offered.master,
    })
}

/// `a=rtcp:<port> [IN IP4 <addr>]` (RFC 3605).
fn parse_rtcp_attribute(value: &str, default_ip: IpAddr) -> Option<SocketAddr> {
    let mut words = value.split_whitespace();
    let port = words.next()?.parse().ok()?;
    let ip = words
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default_ip);
    Some(SocketAddr::new(ip, port))
}

fn describe(formats: &[Format]) -> String {
    if formats.is_empty() {
        return "nothing".into();
    }
    formats
        .iter()
        .map(Format::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `No common codec: offered audio G729/8000; video H263/90000`, bounded for a reason phrase.
fn no_common_codec_reason(verb: &str, sdp: &SessionDescription) -> String {
    let parts: Vec<String> = sdp
        .media
        .iter()
        .filter(|m| media_kind(m).is_some() && m.port != 0)
        .map(|m| format!("{} {}", m.media, describe(&codec::formats(m))))
        .collect();
    let reason = if parts.is_empty() {
        format!("No common codec: {verb} no audio or video")
    } else {
        format!("No common codec: {verb} {}", parts.join("; "))
    };
    match reason.char_indices().nth(MAX_REASON_LEN) {
        Some((cut, _)) => format!("{}...", &reason[..cut]),
        None => reason,
    }
}

mod section;
#[cfg(test)]
mod tests;
