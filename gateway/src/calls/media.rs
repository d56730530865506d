//! What the core tells the driver about a call's media: start it once the SDP is agreed, join it to
//! its meeting's mix and layout, show waiting callers their slate, and the in-call DTMF controls
//! (`*6` mute, `*8` layout).
//!
//! Owns the translation from negotiated SDP to media setups and the controls' state; it must not
//! touch RTP (that is `crate::media`, run by the driver).

use std::net::SocketAddr;
use std::time::Instant;

use mixer::layout::LayoutMode;
use rtp_session::bandwidth::BitrateClass;
use rtp_session::srtp::{MediaKeys, ProtectionProfile, SrtpKeys};
use signaling::sdp::{AudioCodec, Codec, NegotiatedSession, SrtpSuite};

use super::{
    AudioSetup, CallCore, CallId, CallKind, CoreOutput, DtmfDigit, MediaControl, MediaEvent,
    MeetingKey, Phase, PromptCodec, Slate, VideoSetup,
};

/// A call's in-call DTMF controls: `*6` toggles mute, `*8` cycles the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MediaControls {
    /// A `*` arrived in the meeting and the next digit picks the control.
    star_pending: bool,
    /// The caller's own audio is kept out of the meeting's mix.
    muted: bool,
    /// The caller's layout.
    layout: LayoutMode,
}

impl Default for MediaControls {
    fn default() -> Self {
        MediaControls {
            star_pending: false,
            muted: false,
            layout: LAYOUT_CYCLE[0],
        }
    }
}

/// The layouts `*8` cycles through, in the hosted services' order: 3x3, 1 large + 7, 2x2,
/// active speaker full screen.
const LAYOUT_CYCLE: [LayoutMode; 4] = [
    LayoutMode::Grid,
    LayoutMode::LargePlus7,
    LayoutMode::Grid2x2,
    LayoutMode::Speaker,
];

impl MediaControls {
    /// The controls a call of `kind` starts with (a cascade link sees the bare speaker picture).
    pub(super) fn for_kind(kind: CallKind) -> Self {
        MediaControls {
            layout: kind.initial_layout(),
            ..MediaControls::default()
        }
    }

    /// The layout after `*8`.
    pub(super) fn next_layout(&self) -> LayoutMode {
        let at = LAYOUT_CYCLE
            .iter()
            .position(|&n| n == self.layout)
            .unwrap_or(LAYOUT_CYCLE.len() - 1);
        LAYOUT_CYCLE[(at + 1) % LAYOUT_CYCLE.len()]
    }
}

impl CallCore {
    /// A DTMF digit or other media event of a call.
    pub fn handle_media_event(&mut self, now: Instant, call: CallId, event: MediaEvent) {
        match event {
            MediaEvent::Dtmf(digit) => self.dtmf(now, call, digit),
            MediaEvent::KeyframeNeeded => {
                // SIP peers got the RTCP request; H.323 ones are asked in H.245 too.
                if self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.protocol == super::Protocol::H323)
                {
                    self.out.push_back(CoreOutput::H323KeyframeRequest { call });
                }
            }
            MediaEvent::LinkSpeaker(Some(speaker)) => {
                if let Some(link) = self.calls.get_mut(&call).and_then(|c| c.tessera.as_mut()) {
                    link.heard_speaker(speaker);
                }
            }
            MediaEvent::LinkSpeaker(None) => {}
            MediaEvent::Inactive => {
                tracing::info!(%call, "no media from the far end; ending the call");
                self.end_call(now, call, Some((408, "No media received")));
            }
        }
        self.pump(now);
    }

    /// Tells the driver to start a call's media once its audio is known.
    pub(super) fn start_media(&mut self, call_id: CallId) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if call.media_started {
            return;
        }
        let Some(audio) = call.negotiated.as_ref().and_then(|n| n.audio.as_ref()) else {
            return;
        };
        let (Some(remote), Codec::Audio(codec)) = (audio.remote_rtp, &audio.send.codec) else {
            return;
        };
        let codec = match codec {
            AudioCodec::Pcmu => PromptCodec::Pcmu,
            AudioCodec::Pcma => PromptCodec::Pcma,
            AudioCodec::G722 => PromptCodec::G722,
            AudioCodec::Opus => PromptCodec::Opus,
        };
        let video = call
            .negotiated
            .as_ref()
            .and_then(|n| n.video.as_ref())
            .and_then(|v| video_setup(v, call.port_base + 2));
        call.media_started = true;
        self.out.push_back(CoreOutput::MediaStart {
            stats: call.stats.clone(),
            call: call_id,
            audio: AudioSetup {
                local_port: call.port_base,
                remote,
                payload_type: audio.send.pt,
                codec,
                telephone_event_pt: audio.telephone_event,
                rtcp_mux: audio.rtcp_mux,
            },
            video,
            signalling_ip: call.peer.addr.ip(),
            srtp: media_keys(call.negotiated.as_ref()),
        });
        // A call answered straight into the meeting joins its media now.
        if let Phase::InMeeting(key) = call.phase.clone() {
            self.media_join(call_id, &key);
        }
        // A call (re)starting its media while it waits sees its slate (the first one may have
        // gone out before the media existed, e.g. with the SDP answer in the ACK).
        self.show_slate(call_id);
    }

    /// Shows a waiting call (entry queue, lobby) its slate; nothing for calls in other phases or
    /// whose media has not started (start_media calls back here).
    pub(super) fn show_slate(&mut self, call_id: CallId) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        if !call.media_started {
            return;
        }
        let tenant_name = || {
            self.directory
                .tenant(&call.tenant)
                .ok()
                .flatten()
                .map_or_else(|| call.tenant.to_string(), |t| t.name)
        };
        let slate = match &call.phase {
            Phase::EntryQueue { failures, .. } => Slate::EntryQueue {
                tenant: tenant_name(),
                retry: *failures > 0,
            },
            Phase::Lobby((tenant, conference)) => {
                let organizer = self
                    .directory
                    .meeting(tenant, conference)
                    .ok()
                    .flatten()
                    .and_then(|m| m.organizer);
                Slate::Lobby {
                    meeting: organizer
                        .map_or_else(|| "Meeting".to_owned(), |o| format!("{o}'s meeting")),
                    detail: format!("{} - conference {conference}", tenant_name()),
                }
            }
            _ => return,
        };
        self.out.push_back(CoreOutput::ShowSlate {
            call: call_id,
            slate,
        });
    }

    /// Tells the driver the call's media is part of `key`'s mix and layout.
    pub(super) fn media_join(&mut self, call_id: CallId, key: &MeetingKey) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        if !call.media_started {
            // Joins once media starts (start_media calls back here).
            return;
        }
        self.out.push_back(CoreOutput::MediaJoin {
            call: call_id,
            tenant: key.0.to_string(),
            conference: key.1.to_string(),
            participant: call.participant.0,
            display_name: call.display_name.clone(),
        });
        // A fresh join starts unmuted in the default layout: restore the caller's choices.
        let controls = call.controls;
        if controls.muted {
            self.out.push_back(CoreOutput::MediaControl {
                call: call_id,
                control: MediaControl::Mute(true),
            });
        }
        if let Some(link) = &call.tessera {
            // Another Tessera node: stream by stream instead of the bridge's bare picture; and
            // who the far node's streams are again, should its roster have come before the
            // media task was there to take it.
            self.out.push_back(CoreOutput::MediaControl {
                call: call_id,
                control: link.media_control(call.cluster && call.link.is_none()),
            });
            let streams = link.remote_streams();
            if !streams.is_empty() {
                self.out.push_back(CoreOutput::RemoteStreams {
                    call: call_id,
                    streams,
                });
            }
        } else if controls.layout != MediaControls::default().layout {
            self.out.push_back(CoreOutput::MediaControl {
                call: call_id,
                control: MediaControl::Layout(controls.layout),
            });
        }
    }

    /// A DTMF digit of a call (RFC 4733 or SIP INFO): in a meeting the `*6`/`*8` controls,
    /// in the entry queue the conference ID.
    pub(super) fn dtmf(&mut self, now: Instant, call_id: CallId, digit: DtmfDigit) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if let Phase::InMeeting(_) = call.phase {
            let control = match (call.controls.star_pending, digit.0) {
                (_, '*') => {
                    call.controls.star_pending = true;
                    return;
                }
                (true, '6') => {
                    call.controls.muted = !call.controls.muted;
                    Some(MediaControl::Mute(call.controls.muted))
                }
                // A bridge lays out its own participants; its picture from us stays the speaker.
                (true, '8') if call.kind == CallKind::Cascade => None,
                (true, '8') => {
                    call.controls.layout = call.controls.next_layout();
                    Some(MediaControl::Layout(call.controls.layout))
                }
                _ => None,
            };
            call.controls.star_pending = false;
            if let Some(control) = control {
                tracing::info!(call = %call_id, ?control, "in-call DTMF control");
                self.out.push_back(CoreOutput::MediaControl {
                    call: call_id,
                    control,
                });
            }
            return;
        }
        self.entry_queue_digit(now, call_id, digit);
    }
}

/// The media task's view of a negotiated H.264 stream.
pub(super) fn video_setup(
    v: &signaling::sdp::NegotiatedMedia,
    local_port: u16,
) -> Option<VideoSetup> {
    let remote = v.remote_rtp?;
    let h264 = v.h264.as_ref()?;
    let (w, h) = h264.max_send_resolution(30);
    // 720p is what the layouts are made at by default; smaller when the far end's level says
    // so. 1080p30 is a bit-rate class of its own, for a far end whose level allows it (4.0+)
    // and whose b=AS/TIAS carries the class's rate.
    let full_hd = BitrateClass::Fhd3000;
    let (cap_w, cap_h) = if u32::from(w) >= full_hd.size().0
        && u32::from(h) >= full_hd.size().1
        && v.send_bitrate_bps >= full_hd.bitrate_bps()
    {
        full_hd.size()
    } else {
        BitrateClass::Hd1500.size()
    };
    let (w, h) = (u32::from(w).min(cap_w), u32::from(h).min(cap_h));
    Some(VideoSetup {
        local_port,
        remote,
        payload_type: v.send.pt,
        packetization_mode: h264.packetization_mode,
        max_size: (w.max(16) & !1, h.max(16) & !1),
        bitrate_bps: v.send_bitrate_bps,
        nack: v.rtcp_fb.nack,
        pli: v.rtcp_fb.pli,
        fir: v.rtcp_fb.fir,
        tmmbr: v.rtcp_fb.tmmbr,
        rtcp_mux: v.rtcp_mux,
    })
}

/// The SDES keys of a negotiation's streams, for the media task.
fn media_keys(negotiated: Option<&NegotiatedSession>) -> MediaKeys {
    let keys = |stream: Option<&signaling::sdp::NegotiatedMedia>| {
        let srtp = stream?.srtp.as_ref()?;
        let profile = match srtp.suite {
            SrtpSuite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            SrtpSuite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
            SrtpSuite::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        };
        SrtpKeys::new(
            profile,
            srtp.local_master.clone(),
            srtp.remote_master.clone(),
        )
        .map_err(|e| tracing::warn!(error = %e, "negotiated SRTP keys unusable"))
        .ok()
    };
    MediaKeys {
        audio: keys(negotiated.and_then(|n| n.audio.as_ref())),
        video: keys(negotiated.and_then(|n| n.video.as_ref())),
    }
}

/// Remote RTP address, payload type, telephone-event type and the far end's SRTP key.
pub(super) type AudioSetupKey = (Option<SocketAddr>, u8, Option<u8>, Option<Vec<u8>>);

/// What of a negotiation the media task depends on (a change restarts it).
/// The far end's SRTP key is part of it: a re-INVITE with a new key restarts the contexts.
pub(super) fn audio_setup_key(n: &NegotiatedSession) -> Option<AudioSetupKey> {
    n.audio.as_ref().map(|a| {
        (
            a.remote_rtp,
            a.send.pt,
            a.telephone_event,
            a.srtp.as_ref().map(|s| s.remote_master.clone()),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use signaling::sdp::{Capabilities, LocalMedia, SdpSession, SessionDescription};

    use super::video_setup;

    /// The largest picture we would send a room system offering H.264 `profile_level_id` with
    /// `b=AS:kbps` on its video.
    fn max_size(profile_level_id: &str, kbps: u32) -> (u32, u32) {
        let offer = format!(
            "v=0\r\no=vtc 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
             m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
             m=video 49172 RTP/AVP 96\r\nb=AS:{kbps}\r\na=rtpmap:96 H264/90000\r\n\
             a=fmtp:96 profile-level-id={profile_level_id};packetization-mode=1\r\n"
        );
        let offer = SessionDescription::parse(&offer).expect("offer parses");
        let local = LocalMedia {
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            audio_port: 20_000,
            video_port: 20_002,
        };
        let (_, negotiated) = SdpSession::new(1, Capabilities::default(), local)
            .answer(&offer)
            .expect("answered");
        let video = negotiated.video.as_ref().expect("video accepted");
        video_setup(video, 20_002).expect("H.264").max_size
    }

    #[test]
    fn level_4_with_room_for_3_mbit_gets_the_1080p_class_and_everyone_else_720p() {
        assert_eq!(max_size("640028", 4000), (1920, 1080), "High 4.0, 4 Mbit/s");
        assert_eq!(
            max_size("640028", 2000),
            (1280, 720),
            "level 4.0 but 2 Mbit/s"
        );
        assert_eq!(
            max_size("64001f", 4000),
            (1280, 720),
            "level 3.1: 720p at most"
        );
        assert_eq!(
            max_size("42e01e", 4000),
            (640, 360),
            "level 3.0 at 30 fps: its own size"
        );
    }
}
