//! A project-written H.323 caller on the same ASN.1 types, for tests: places one call with a
//! Setup (Fast Start proposals or none, H.245 tunnelled or on a separate channel), follows the
//! answer, runs the H.245 procedures with the same [`crate::call`] H.245 session the gateway
//! uses, and sends DTMF as `userInputIndication`. Sans-IO like the rest of the crate.
//!
//! Owns the calling side of the flow; it is a test peer, not a product feature, and must not
//! grow into a second call state machine for the gateway.

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::call::{h245_session, LocalMedia, MediaPlan};
use crate::h225::{self, *};
use crate::h245 as h245_msg;
use crate::media::{self, Channel, Codec, Direction};
use crate::q931::{self, Message, MessageType};
use crate::tpkt;

/// What happened on the caller's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerEvent {
    /// A message of this type arrived.
    Received(MessageType),
    /// The agreed media changed.
    Media(MediaPlan),
    /// The gateway gave an H.245 address in Connect (separate-channel fallback).
    H245Address(SocketAddr),
    /// The gateway asked for a keyframe.
    KeyframeRequested,
    /// Release Complete: its H.225.0 reason and Q.850 cause.
    Released(Option<ReleaseCompleteReason>, Option<u8>),
}

/// How the caller places its call.
#[derive(Debug, Clone)]
pub struct CallerConfig {
    /// Destination aliases.
    pub destination: Vec<AliasAddress>,
    /// Where the caller receives media.
    pub local: LocalMedia,
    /// Propose Fast Start.
    pub fast_start: bool,
    /// Tunnel H.245 in H.225.0 (else a separate channel, the gateway listening).
    pub tunnelling: bool,
}

/// One outbound call.
#[derive(Debug)]
pub struct Caller {
    config: CallerConfig,
    stream: tpkt::Reassembler,
    h245_stream: tpkt::Reassembler,
    session: h245_session::Session,
    separate: bool,
    transmit: VecDeque<Vec<u8>>,
    h245_transmit: VecDeque<Vec<u8>>,
    events: VecDeque<CallerEvent>,
}

const CRV: u16 = 0x0101;
const CALL_ID: [u8; 16] = *b"tessera-testcall";

impl Caller {
    /// A caller whose Setup is ready in [`Caller::poll_transmit`].
    pub fn new(config: CallerConfig) -> Result<Self, crate::call::Error> {
        // A terminal (type 50) loses master-slave determination to the gateway's MCU type.
        let session = h245_session::Session::new(config.local, 1920, 50, 0x42);
        let mut caller = Self {
            config,
            stream: tpkt::Reassembler::new(),
            h245_stream: tpkt::Reassembler::new(),
            session,
            separate: false,
            transmit: VecDeque::new(),
            h245_transmit: VecDeque::new(),
            events: VecDeque::new(),
        };
        let mut source = EndpointType::empty();
        source.terminal = Some(NodeInfo::default());
        let mut setup = Setup::new(
            source,
            caller.config.destination.clone(),
            [7; 16],
            CallIdentifier::new(CALL_ID),
        );
        setup.source_address = Some(vec![AliasAddress::h323_id("Tessera test caller")?]);
        if caller.config.fast_start {
            setup.fast_start = Some(media::fast_start_elements(&caller.proposals(), 1920)?);
        }
        let uu = UserInformation::new(
            MessageBody::Setup(Box::new(setup)),
            caller.config.tunnelling,
            Vec::new(),
        );
        let m = Message::new(MessageType::Setup, CRV, false)
            .with(
                q931::ie::BEARER_CAPABILITY,
                q931::H323_BEARER_CAPABILITY.to_vec(),
            )
            .with_display("Tessera test caller")
            .with_user_user(&h225::encode(&uu)?);
        caller.transmit.push_back(tpkt::frame(&m.encode()?)?);
        Ok(caller)
    }

    /// Fast Start proposals: H.264 and G.711 mu-law, each way.
    fn proposals(&self) -> Vec<Channel> {
        let h264 = Codec::H264 {
            profile: h245_msg::h241::PROFILE_BASELINE,
            level: h245_msg::h241::LEVEL_3_1,
        };
        let l = self.config.local;
        let rtcp = |a: SocketAddr| Some(SocketAddr::new(a.ip(), a.port() + 1));
        vec![
            Channel {
                number: 1,
                direction: Direction::Send,
                codec: h264,
                session: 2,
                rtp: None,
                rtcp: rtcp(l.video),
            },
            Channel {
                number: 2,
                direction: Direction::Receive,
                codec: h264,
                session: 2,
                rtp: Some(l.video),
                rtcp: rtcp(l.video),
            },
            Channel {
                number: 3,
                direction: Direction::Send,
                codec: Codec::Pcmu,
                session: 1,
                rtp: None,
                rtcp: rtcp(l.audio),
            },
            Channel {
                number: 4,
                direction: Direction::Receive,
                codec: Codec::Pcmu,
                session: 1,
                rtp: Some(l.audio),
                rtcp: rtcp(l.audio),
            },
        ]
    }

    /// Bytes from the call-signalling connection.
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<(), crate::call::Error> {
        self.stream.push(bytes);
        while let Some(packet) = self.stream.poll_packet()? {
            let Ok(m) = Message::decode(&packet) else {
                continue;
            };
            self.events.push_back(CallerEvent::Received(m.message_type));
            let Some(uu) = m.user_user().and_then(|b| h225::decode(b).ok()) else {
                continue;
            };
            let pdu = uu.h323_uu_pdu;
            match pdu.h323_message_body {
                MessageBody::Connect(c) => {
                    if let Some(addr) = c
                        .h245_address
                        .as_ref()
                        .and_then(TransportAddress::to_socket)
                    {
                        self.separate = true;
                        self.events.push_back(CallerEvent::H245Address(addr));
                    }
                    self.take_fast_start_answer(c.fast_start.as_deref().unwrap_or_default());
                    if !self.config.tunnelling || c.fast_start.is_none() {
                        self.open_h245()?;
                    }
                }
                MessageBody::ReleaseComplete(r) => self
                    .events
                    .push_back(CallerEvent::Released(r.reason, m.cause())),
                _ => {}
            }
            for octets in pdu.h245_control.into_iter().flatten() {
                if let Ok(p) = h245_msg::decode(&octets) {
                    self.handle_h245(p)?;
                }
            }
        }
        Ok(())
    }

    /// Bytes from the separate H.245 connection.
    pub fn handle_h245_input(&mut self, bytes: &[u8]) -> Result<(), crate::call::Error> {
        self.h245_stream.push(bytes);
        while let Some(packet) = self.h245_stream.poll_packet()? {
            if let Ok(p) = h245_msg::decode(&packet) {
                self.handle_h245(p)?;
            }
        }
        Ok(())
    }

    /// Sends DTMF keys as one alphanumeric `userInputIndication`.
    pub fn send_dtmf(&mut self, keys: &str) -> Result<(), crate::call::Error> {
        let pdu = h245_msg::MultimediaSystemControlMessage::Indication(
            h245_msg::IndicationMessage::UserInput(h245_msg::UserInputIndication::alphanumeric(
                keys,
            )?),
        );
        self.send_h245(vec![pdu])
    }

    /// Asks the gateway for a keyframe (`videoFastUpdatePicture`).
    pub fn request_keyframe(&mut self) -> Result<(), crate::call::Error> {
        let pdu = self.session.fast_update();
        self.send_h245(pdu.into_iter().collect())
    }

    /// Hangs up with Release Complete.
    pub fn hang_up(&mut self) -> Result<(), crate::call::Error> {
        let body = MessageBody::ReleaseComplete(ReleaseComplete::new(
            ReleaseCompleteReason::UndefinedReason(()),
            Some(CallIdentifier::new(CALL_ID)),
        ));
        let uu = UserInformation::new(body, false, Vec::new());
        let m = Message::new(MessageType::ReleaseComplete, CRV, false)
            .with_cause(q931::cause::NORMAL_CLEARING)
            .with_user_user(&h225::encode(&uu)?);
        self.transmit.push_back(tpkt::frame(&m.encode()?)?);
        Ok(())
    }

    /// Bytes for the call-signalling connection.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// Bytes for the separate H.245 connection.
    #[must_use]
    pub fn poll_h245_transmit(&mut self) -> Option<Vec<u8>> {
        self.h245_transmit.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<CallerEvent> {
        self.events.pop_front()
    }

    fn take_fast_start_answer(&mut self, elements: &[rasn::types::OctetString]) {
        let mut plan = MediaPlan::default();
        for channel in elements
            .iter()
            .filter_map(|e| h245_msg::decode_open_logical_channel(e).ok())
            .filter_map(|o| Channel::from_olc(&o))
        {
            let stream = crate::call::Stream {
                codec: channel.codec,
                rtp: channel.rtp,
                channel: channel.number,
            };
            // Seen from the caller: the gateway's Send answers are where the caller sends.
            match (channel.direction, channel.session) {
                (Direction::Send, media::VIDEO_SESSION) => plan.video_send = Some(stream),
                (Direction::Send, _) => plan.audio_send = Some(stream),
                (Direction::Receive, media::VIDEO_SESSION) => plan.video_receive = Some(stream),
                (Direction::Receive, _) => plan.audio_receive = Some(stream),
            }
        }
        if plan != MediaPlan::default() {
            self.session.plan = plan.clone();
            self.session.mark_opened();
            self.events.push_back(CallerEvent::Media(plan));
        }
    }

    fn open_h245(&mut self) -> Result<(), crate::call::Error> {
        let opening = self.session.opening();
        self.send_h245(opening)
    }

    fn handle_h245(
        &mut self,
        pdu: h245_msg::MultimediaSystemControlMessage,
    ) -> Result<(), crate::call::Error> {
        let (replies, notices) = self.session.handle(pdu);
        for n in notices {
            match n {
                h245_session::Notice::MediaChanged => self
                    .events
                    .push_back(CallerEvent::Media(self.session.plan.clone())),
                h245_session::Notice::KeyframeRequested => {
                    self.events.push_back(CallerEvent::KeyframeRequested)
                }
                _ => {}
            }
        }
        self.send_h245(replies)
    }

    fn send_h245(
        &mut self,
        pdus: Vec<h245_msg::MultimediaSystemControlMessage>,
    ) -> Result<(), crate::call::Error> {
        if pdus.is_empty() {
            return Ok(());
        }
        if self.separate || !self.config.tunnelling {
            for p in &pdus {
                self.h245_transmit
                    .push_back(tpkt::frame(&h245_msg::encode(p)?)?);
            }
            return Ok(());
        }
        let tunnelled = h245_msg::encode_tunnelled(&pdus)?;
        let uu = UserInformation::new(MessageBody::Empty(()), true, tunnelled);
        let m = Message::new(MessageType::Facility, CRV, false).with_user_user(&h225::encode(&uu)?);
        self.transmit.push_back(tpkt::frame(&m.encode()?)?);
        Ok(())
    }
}
