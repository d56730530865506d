//! The H.245 procedures of one call as the answering side: capability exchange, master-slave
//! determination, opening and closing logical channels, fast update and user input. Works on
//! decoded PDUs only; whether they travel tunnelled in H.225.0 or on their own TCP channel is
//! the parent module's choice.
//!
//! Owns the H.245 state of a call and what media it agreed; must not frame or send anything.

use std::net::SocketAddr;

use crate::h245::*;
use crate::media::{self, Channel, Codec, Direction, AUDIO_SESSION, VIDEO_SESSION};

/// What the peer asked of the call, for the parent to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// The peer wants a keyframe.
    KeyframeRequested,
    /// DTMF keys.
    Dtmf(Vec<char>),
    /// The peer's capabilities have no audio codec Tessera accepts.
    NoCommonCodec,
    /// The peer ended the H.245 session.
    EndSession,
    /// The media plan changed.
    MediaChanged,
}

/// One direction of one media session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    /// Codec.
    pub codec: Codec,
    /// The peer's RTP address (for what Tessera sends) or Tessera's (for what it receives).
    pub rtp: Option<SocketAddr>,
    /// The logical channel.
    pub channel: u16,
}

/// The media a call agreed, per RTP session and direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaPlan {
    /// Audio Tessera sends (to the peer's RTP address).
    pub audio_send: Option<Stream>,
    /// Audio Tessera receives.
    pub audio_receive: Option<Stream>,
    /// Video Tessera sends.
    pub video_send: Option<Stream>,
    /// Video Tessera receives (its channel number is what `videoFastUpdatePicture` names).
    pub video_receive: Option<Stream>,
}

/// Tessera's local media addresses for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalMedia {
    /// Where Tessera receives audio RTP (RTCP on the next port).
    pub audio: SocketAddr,
    /// Where Tessera receives video RTP (RTCP on the next port).
    pub video: SocketAddr,
}

impl LocalMedia {
    fn rtp(&self, session: u8) -> SocketAddr {
        if session == VIDEO_SESSION {
            self.video
        } else {
            self.audio
        }
    }

    fn rtcp(&self, session: u8) -> SocketAddr {
        let rtp = self.rtp(session);
        SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))
    }
}

/// First channel number Tessera uses for channels it opens (well away from the caller's).
const FIRST_OWN_CHANNEL: u16 = 101;

/// The H.245 side of one call.
#[derive(Debug)]
pub(crate) struct Session {
    local: LocalMedia,
    max_video_kbps: u32,
    terminal_type: u8,
    msd_number: u32,
    our_tcs_acked: bool,
    peer_codecs: Option<Vec<Codec>>,
    opened_own: bool,
    next_channel: u16,
    pub(crate) plan: MediaPlan,
}

impl Session {
    pub(crate) fn new(
        local: LocalMedia,
        max_video_kbps: u32,
        terminal_type: u8,
        msd_number: u32,
    ) -> Self {
        Self {
            local,
            max_video_kbps,
            terminal_type,
            msd_number: msd_number & 0xFF_FFFF,
            our_tcs_acked: false,
            peer_codecs: None,
            opened_own: false,
            next_channel: FIRST_OWN_CHANNEL,
            plan: MediaPlan::default(),
        }
    }

    /// Channels were opened by Fast Start: the H.245 procedures must not open more.
    pub(crate) fn mark_opened(&mut self) {
        self.opened_own = true;
    }

    /// What Tessera sends first: its capability set and a master-slave determination.
    pub(crate) fn opening(&self) -> Vec<MultimediaSystemControlMessage> {
        vec![
            MultimediaSystemControlMessage::Request(RequestMessage::TerminalCapabilitySet(
                Box::new(media::capability_set(1, self.max_video_kbps)),
            )),
            MultimediaSystemControlMessage::Request(RequestMessage::MasterSlaveDetermination(
                MasterSlaveDetermination::new(self.terminal_type, self.msd_number),
            )),
        ]
    }

    /// Chooses from Fast Start proposals (seen from the caller) and returns the answer
    /// elements, or `None` when no audio pair is acceptable (Fast Start refused: H.245 then
    /// negotiates).
    pub(crate) fn answer_fast_start(&mut self, proposals: &[Channel]) -> Option<Vec<Channel>> {
        let mut answer = Vec::new();
        let mut plan = MediaPlan::default();
        for session in [AUDIO_SESSION, VIDEO_SESSION] {
            let pick = |direction: Direction| {
                media::PREFERENCE.iter().find_map(|want| {
                    proposals.iter().find(|p| {
                        p.direction == direction
                            && p.session == session
                            && same_codec(p.codec, *want)
                    })
                })
            };
            // The caller's receive proposal is what Tessera sends; its send proposal what
            // Tessera receives.
            let (Some(to_caller), Some(from_caller)) =
                (pick(Direction::Receive), pick(Direction::Send))
            else {
                continue;
            };
            let Some(caller_rtp) = to_caller.rtp else {
                continue;
            };
            answer.push(Channel {
                number: to_caller.number,
                direction: Direction::Receive,
                codec: to_caller.codec,
                session,
                rtp: Some(caller_rtp),
                rtcp: to_caller.rtcp,
            });
            answer.push(Channel {
                number: from_caller.number,
                direction: Direction::Send,
                codec: from_caller.codec,
                session,
                rtp: Some(self.local.rtp(session)),
                rtcp: Some(self.local.rtcp(session)),
            });
            let send = Some(Stream {
                codec: to_caller.codec,
                rtp: Some(caller_rtp),
                channel: to_caller.number,
            });
            let receive = Some(Stream {
                codec: from_caller.codec,
                rtp: Some(self.local.rtp(session)),
                channel: from_caller.number,
            });
            if session == AUDIO_SESSION {
                (plan.audio_send, plan.audio_receive) = (send, receive);
            } else {
                (plan.video_send, plan.video_receive) = (send, receive);
            }
        }
        plan.audio_send?;
        self.plan = plan;
        // Fast Start opened the channels; H.245 (if it runs) must not open them again.
        self.opened_own = true;
        Some(answer)
    }

    /// Handles one PDU from the peer; returns the PDUs to answer with and notices.
    pub(crate) fn handle(
        &mut self,
        pdu: MultimediaSystemControlMessage,
    ) -> (Vec<MultimediaSystemControlMessage>, Vec<Notice>) {
        use MultimediaSystemControlMessage as M;
        let mut out = Vec::new();
        let mut notices = Vec::new();
        match pdu {
            M::Request(RequestMessage::TerminalCapabilitySet(tcs)) => {
                let codecs: Vec<Codec> = tcs
                    .capability_table
                    .iter()
                    .flatten()
                    .filter_map(|e| e.capability.as_ref())
                    .filter_map(|c| match c {
                        Capability::ReceiveVideoCapability(v)
                        | Capability::ReceiveAndTransmitVideoCapability(v) => {
                            Codec::of(&DataType::VideoData(v.clone()))
                        }
                        Capability::ReceiveAudioCapability(a)
                        | Capability::ReceiveAndTransmitAudioCapability(a) => {
                            Codec::of(&DataType::AudioData(a.clone()))
                        }
                        _ => None,
                    })
                    .collect();
                out.push(M::Response(ResponseMessage::TerminalCapabilitySetAck(
                    TerminalCapabilitySetAck::new(tcs.sequence_number),
                )));
                if !codecs.iter().any(|c| c.session() == AUDIO_SESSION) && !self.opened_own {
                    notices.push(Notice::NoCommonCodec);
                }
                self.peer_codecs = Some(codecs);
            }
            M::Request(RequestMessage::MasterSlaveDetermination(msd)) => {
                out.push(match self.we_are_master(&msd) {
                    Some(true) => M::Response(ResponseMessage::MasterSlaveDeterminationAck(
                        MasterSlaveDeterminationAck::new(MasterSlaveDecision::Slave(())),
                    )),
                    Some(false) => M::Response(ResponseMessage::MasterSlaveDeterminationAck(
                        MasterSlaveDeterminationAck::new(MasterSlaveDecision::Master(())),
                    )),
                    None => M::Response(ResponseMessage::MasterSlaveDeterminationReject(
                        MasterSlaveDeterminationReject {
                            cause: MasterSlaveRejectCause::IdenticalNumbers(()),
                        },
                    )),
                });
            }
            M::Response(ResponseMessage::TerminalCapabilitySetAck(_)) => self.our_tcs_acked = true,
            M::Request(RequestMessage::OpenLogicalChannel(olc)) => match Channel::from_olc(&olc) {
                Some(c) if c.direction == Direction::Send => {
                    let stream = Stream {
                        codec: c.codec,
                        rtp: Some(self.local.rtp(c.session)),
                        channel: c.number,
                    };
                    if c.session == VIDEO_SESSION {
                        self.plan.video_receive = Some(stream);
                    } else {
                        self.plan.audio_receive = Some(stream);
                    }
                    out.push(M::Response(ResponseMessage::OpenLogicalChannelAck(
                        Box::new(media::open_ack(
                            c.number,
                            c.session,
                            self.local.rtp(c.session),
                            self.local.rtcp(c.session),
                        )),
                    )));
                    notices.push(Notice::MediaChanged);
                }
                _ => out.push(M::Response(ResponseMessage::OpenLogicalChannelReject(
                    OpenLogicalChannelReject {
                        forward_logical_channel_number: olc.forward_logical_channel_number,
                        cause: OpenLogicalChannelRejectCause::DataTypeNotSupported(()),
                    },
                ))),
            },
            M::Response(ResponseMessage::OpenLogicalChannelAck(ack)) => {
                let number = ack.forward_logical_channel_number.0;
                let rtp = match &ack.forward_multiplex_ack_parameters {
                    Some(ForwardMultiplexAckParameters::H2250LogicalChannelAckParameters(p)) => p
                        .media_channel
                        .as_ref()
                        .and_then(H245TransportAddress::to_socket),
                    None => None,
                };
                for stream in [&mut self.plan.audio_send, &mut self.plan.video_send]
                    .into_iter()
                    .flatten()
                {
                    if stream.channel == number {
                        stream.rtp = rtp;
                        notices.push(Notice::MediaChanged);
                    }
                }
            }
            M::Response(ResponseMessage::OpenLogicalChannelReject(r)) => {
                let number = r.forward_logical_channel_number.0;
                for slot in [&mut self.plan.audio_send, &mut self.plan.video_send] {
                    if slot.is_some_and(|s| s.channel == number) {
                        *slot = None;
                    }
                }
            }
            M::Request(RequestMessage::CloseLogicalChannel(close)) => {
                let number = close.forward_logical_channel_number.0;
                for slot in [&mut self.plan.audio_receive, &mut self.plan.video_receive] {
                    if slot.is_some_and(|s| s.channel == number) {
                        *slot = None;
                        notices.push(Notice::MediaChanged);
                    }
                }
                out.push(M::Response(ResponseMessage::CloseLogicalChannelAck(
                    CloseLogicalChannelAck::new(number),
                )));
            }
            M::Request(RequestMessage::RoundTripDelayRequest(r)) => {
                out.push(M::Response(ResponseMessage::RoundTripDelayResponse(r)));
            }
            M::Command(CommandMessage::MiscellaneousCommand(c)) => {
                if matches!(
                    c.r#type,
                    MiscellaneousCommandType::VideoFastUpdatePicture(())
                ) {
                    notices.push(Notice::KeyframeRequested);
                }
            }
            M::Command(CommandMessage::EndSessionCommand(_)) => notices.push(Notice::EndSession),
            M::Indication(IndicationMessage::UserInput(u)) => {
                let keys = u.keys();
                if !keys.is_empty() {
                    notices.push(Notice::Dtmf(keys));
                }
            }
            _ => {}
        }
        out.extend(self.open_own_channels());
        (out, notices)
    }

    /// Once both capability sets are through, opens Tessera's sending channels with the best
    /// codec the peer can receive.
    fn open_own_channels(&mut self) -> Vec<MultimediaSystemControlMessage> {
        let (Some(peer), true, false) = (&self.peer_codecs, self.our_tcs_acked, self.opened_own)
        else {
            return Vec::new();
        };
        self.opened_own = true;
        let mut out = Vec::new();
        for session in [AUDIO_SESSION, VIDEO_SESSION] {
            let Some(codec) = media::PREFERENCE
                .iter()
                .find_map(|want| {
                    peer.iter()
                        .find(|c| c.session() == session && same_codec(**c, *want))
                })
                .copied()
            else {
                continue;
            };
            let number = self.next_channel;
            self.next_channel += 1;
            let channel = Channel {
                number,
                direction: Direction::Send,
                codec,
                session,
                rtp: None,
                rtcp: Some(self.local.rtcp(session)),
            };
            let stream = Some(Stream {
                codec,
                rtp: None,
                channel: number,
            });
            if session == VIDEO_SESSION {
                self.plan.video_send = stream;
            } else {
                self.plan.audio_send = stream;
            }
            out.push(MultimediaSystemControlMessage::Request(
                RequestMessage::OpenLogicalChannel(Box::new(channel.to_olc(self.max_video_kbps))),
            ));
        }
        out
    }

    /// H.245 section C.2: the higher terminal type is master; on a tie the status
    /// determination numbers decide (the difference taken modulo 2^24); `None` when undecidable.
    fn we_are_master(&self, peer: &MasterSlaveDetermination) -> Option<bool> {
        if peer.terminal_type != self.terminal_type {
            return Some(self.terminal_type > peer.terminal_type);
        }
        let diff = (self
            .msd_number
            .wrapping_sub(peer.status_determination_number))
            & 0xFF_FFFF;
        match diff {
            0 | 0x80_0000 => None,
            d => Some(d < 0x80_0000),
        }
    }

    /// The keyframe request for the video Tessera receives.
    pub(crate) fn fast_update(&self) -> Option<MultimediaSystemControlMessage> {
        let channel = self.plan.video_receive?.channel;
        Some(MultimediaSystemControlMessage::Command(
            CommandMessage::MiscellaneousCommand(MiscellaneousCommand::fast_update(channel)),
        ))
    }
}

/// Codecs match when they are the same kind (H.264 of any profile/level matches H.264: the
/// level is a receiver's limit, honoured by the encoder, not a reason to refuse).
fn same_codec(a: Codec, b: Codec) -> bool {
    matches!((a, b), (Codec::H264 { .. }, Codec::H264 { .. })) || a == b
}
