//! One inbound H.323 call as a sans-IO state machine: the call-signalling connection's bytes
//! go in with `now`, and out come the bytes to write back, events for the gateway (the call's
//! destination aliases, the agreed media, DTMF, keyframe requests, the end) and the next
//! wake-up. Setup → Call Proceeding → (the gateway decides) → Alerting → Connect, or Release
//! Complete with a reason; Fast Start answered in Connect; H.245 tunnelled in H.225.0 or, as
//! the fallback, on a separate TCP channel whose bytes the driver feeds in the same way.
//!
//! Owns the H.225.0 call flow and routes H.245 to `h245_session`; must not open sockets or read the
//! clock (the gateway's driver does both), and knows nothing of tenants or meetings: the
//! gateway routes the aliases of [`Event::Incoming`] through the dial plan and answers with
//! [`InboundCall::accept`] or [`InboundCall::reject`].

pub(crate) mod h245_session;

pub use h245_session::{LocalMedia, MediaPlan, Stream};

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::h225::{self, *};
use crate::h245 as h245_msg;
use crate::media::Channel;
use crate::q931::{self, Message, MessageType};
use crate::tpkt;

/// Errors of one call's signalling.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TPKT stream is broken; the connection must be closed.
    #[error(transparent)]
    Framing(#[from] tpkt::Error),
    /// A Q.931 message could not be encoded.
    #[error(transparent)]
    Q931(#[from] q931::Error),
    /// An H.225.0 message could not be encoded.
    #[error(transparent)]
    H225(#[from] h225::Error),
    /// An H.245 message could not be encoded.
    #[error(transparent)]
    H245(#[from] h245_msg::Error),
}

/// Why Tessera ends or refuses a call, mapped onto H.225.0 reasons and Q.850 causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// No tenant or meeting behind the dialled alias.
    UnknownMeeting,
    /// The tenant's concurrent licence is used up.
    OverLicence,
    /// No audio codec in common.
    NoCommonCodec,
    /// The gateway is draining.
    Draining,
    /// Turned away (lobby deny, removed by an operator).
    Rejected,
    /// Ordinary hang-up.
    Normal,
    /// The gateway did not decide within the set-up time.
    Timeout,
}

impl EndReason {
    /// The H.225.0 `ReleaseCompleteReason` (H.225.0 Table 5 pairs these with the causes).
    #[must_use]
    pub fn release_reason(self) -> ReleaseCompleteReason {
        match self {
            Self::UnknownMeeting => ReleaseCompleteReason::UnreachableDestination(()),
            Self::OverLicence => ReleaseCompleteReason::InConf(()),
            Self::NoCommonCodec => ReleaseCompleteReason::UndefinedReason(()),
            Self::Draining => ReleaseCompleteReason::GatewayResources(()),
            Self::Rejected => ReleaseCompleteReason::DestinationRejection(()),
            Self::Normal | Self::Timeout => ReleaseCompleteReason::UndefinedReason(()),
        }
    }

    /// The Q.850 cause of the Cause element (what room systems display).
    #[must_use]
    pub fn q850(self) -> u8 {
        match self {
            Self::UnknownMeeting => q931::cause::UNALLOCATED_NUMBER,
            Self::OverLicence => q931::cause::USER_BUSY,
            Self::NoCommonCodec => q931::cause::INCOMPATIBLE_DESTINATION,
            Self::Draining => q931::cause::TEMPORARY_FAILURE,
            Self::Rejected => q931::cause::CALL_REJECTED,
            Self::Normal => q931::cause::NORMAL_CLEARING,
            Self::Timeout => 102, // recovery on timer expiry
        }
    }
}

/// What a caller asked for in its Setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The destination aliases as text, in the caller's order (h323-ID, dialledDigits, url-ID,
    /// e-mail).
    pub destination: Vec<String>,
    /// Q.931's called party number, when present.
    pub called_number: Option<String>,
    /// The caller's own aliases.
    pub source: Vec<String>,
    /// The caller's display name (Display element), for the roster.
    pub display: Option<String>,
}

/// What the call tells the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A Setup arrived: route it and call `accept` or `reject`.
    Incoming(Incoming),
    /// The agreed media (again whenever it changes).
    Media(MediaPlan),
    /// The caller asked for a keyframe (`videoFastUpdatePicture`).
    KeyframeRequested,
    /// DTMF from `userInputIndication` (alphanumeric or signal).
    Dtmf(char),
    /// The caller gave an H.245 address and does not tunnel: the driver connects to it and
    /// feeds that connection to `handle_h245_input`.
    ConnectH245(SocketAddr),
    /// The call is over (Release Complete sent or received, or the connection broke).
    Ended(EndReason),
}

/// How the call is configured.
#[derive(Debug, Clone)]
pub struct CallConfig {
    /// What Tessera announces itself as (an MCU).
    pub endpoint: EndpointType,
    /// Video bit rate ceiling.
    pub max_video_kbps: u32,
    /// H.245 terminal type (H.323 Table 1: 190 for an MCU with MC).
    pub terminal_type: u8,
    /// Random number for master-slave determination (passed in: the crate has no RNG).
    pub msd_number: u32,
    /// How long the gateway may take between Setup and accept/reject.
    pub decision_time: Duration,
}

impl CallConfig {
    /// The gateway's defaults with this random number.
    #[must_use]
    pub fn gateway(msd_number: u32) -> Self {
        let mut endpoint = EndpointType::empty();
        endpoint.mcu = Some(McuInfo::new());
        endpoint.mc = true;
        Self {
            endpoint,
            max_video_kbps: 1920,
            terminal_type: 190,
            msd_number,
            decision_time: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitingSetup,
    Deciding,
    Connected,
    Ended,
}

/// Where H.245 PDUs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum H245Path {
    Tunnelled,
    Separate,
    None,
}

/// One inbound call on one call-signalling connection.
#[derive(Debug)]
pub struct InboundCall {
    config: CallConfig,
    state: State,
    signalling: tpkt::Reassembler,
    h245_stream: tpkt::Reassembler,
    crv: u16,
    call_identifier: Option<CallIdentifier>,
    conference_id: [u8; 16],
    proposals: Vec<Channel>,
    tunnelling: bool,
    peer_h245: Option<SocketAddr>,
    path: H245Path,
    session: Option<h245_session::Session>,
    pending_tunnel: Vec<h245_msg::MultimediaSystemControlMessage>,
    deadline: Option<Instant>,
    transmit: VecDeque<Vec<u8>>,
    h245_transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
}

impl InboundCall {
    /// A call waiting for its Setup.
    #[must_use]
    pub fn new(config: CallConfig) -> Self {
        Self {
            config,
            state: State::AwaitingSetup,
            signalling: tpkt::Reassembler::new(),
            h245_stream: tpkt::Reassembler::new(),
            crv: 0,
            call_identifier: None,
            conference_id: [0; 16],
            proposals: Vec::new(),
            tunnelling: false,
            peer_h245: None,
            path: H245Path::None,
            session: None,
            pending_tunnel: Vec::new(),
            deadline: None,
            transmit: VecDeque::new(),
            h245_transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Bytes read from the call-signalling connection. A broken TPKT stream ends the call
    /// (the error says why; the driver closes the connection). Undecodable messages inside a
    /// sound stream are ignored, as Q.931 asks of unknown messages.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) -> Result<(), Error> {
        self.signalling.push(bytes);
        loop {
            match self.signalling.poll_packet() {
                Ok(Some(packet)) => self.handle_q931(now, &packet)?,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.end_silently(EndReason::Normal);
                    return Err(e.into());
                }
            }
        }
    }

    /// Bytes read from the separate H.245 connection.
    pub fn handle_h245_input(&mut self, now: Instant, bytes: &[u8]) -> Result<(), Error> {
        self.h245_stream.push(bytes);
        while let Some(packet) = self.h245_stream.poll_packet()? {
            if let Ok(pdu) = h245_msg::decode(&packet) {
                self.path = H245Path::Separate;
                self.handle_h245(now, pdu)?;
            }
        }
        Ok(())
    }

    /// The gateway admits the call: Alerting and Connect go out, with the Fast Start answer
    /// when the caller's proposals fit, and H.245 starts (tunnelled, or on the caller's H.245
    /// address, or on `h245_listen` announced in Connect).
    pub fn accept(
        &mut self,
        _now: Instant,
        local: LocalMedia,
        h245_listen: Option<SocketAddr>,
    ) -> Result<(), Error> {
        if self.state != State::Deciding {
            return Ok(());
        }
        self.deadline = None;
        let mut session = h245_session::Session::new(
            local,
            self.config.max_video_kbps,
            self.config.terminal_type,
            self.config.msd_number,
        );
        let fast_start = if self.proposals.is_empty() {
            None
        } else {
            session.answer_fast_start(&self.proposals)
        };
        let fast_start_elements = match &fast_start {
            Some(answer) => Some(crate::media::fast_start_elements(
                answer,
                self.config.max_video_kbps,
            )?),
            None => None,
        };
        self.path = if self.tunnelling {
            H245Path::Tunnelled
        } else if let Some(addr) = self.peer_h245 {
            self.events.push_back(Event::ConnectH245(addr));
            H245Path::Separate
        } else if h245_listen.is_some() {
            H245Path::Separate
        } else {
            H245Path::None
        };
        let opening = session.opening();
        let plan = fast_start.as_ref().map(|_| session.plan.clone());
        self.session = Some(session);
        let alerting = MessageBody::Alerting(h225::alerting(
            self.config.endpoint.clone(),
            self.call_identifier.clone(),
            None,
            None,
        ));
        self.send(MessageType::Alerting, alerting, Vec::new())?;
        let mut connect = h225::connect(
            self.config.endpoint.clone(),
            self.conference_id,
            self.call_identifier.clone(),
            fast_start_elements,
            if self.path == H245Path::Separate && self.peer_h245.is_none() {
                h245_listen.map(TransportAddress::from_socket)
            } else {
                None
            },
        );
        if fast_start.is_none() && !self.proposals.is_empty() {
            connect.fast_connect_refused = Some(());
        }
        let tunnelled = if self.path == H245Path::Tunnelled {
            h245_msg::encode_tunnelled(&opening)?
        } else {
            Vec::new()
        };
        self.send(
            MessageType::Connect,
            MessageBody::Connect(connect),
            tunnelled,
        )?;
        if self.path == H245Path::Separate {
            for pdu in &opening {
                self.h245_transmit
                    .push_back(tpkt::frame(&h245_msg::encode(pdu)?)?);
            }
        }
        self.state = State::Connected;
        if let Some(plan) = plan {
            self.events.push_back(Event::Media(plan));
        }
        Ok(())
    }

    /// The gateway refuses the call, or ends an established one.
    pub fn reject(&mut self, _now: Instant, reason: EndReason) -> Result<(), Error> {
        if matches!(self.state, State::Ended | State::AwaitingSetup) {
            return Ok(());
        }
        if self.path != H245Path::None && self.state == State::Connected {
            let end = h245_msg::MultimediaSystemControlMessage::Command(
                h245_msg::CommandMessage::EndSessionCommand(
                    h245_msg::EndSessionCommand::Disconnect(()),
                ),
            );
            self.route_h245(vec![end])?;
        }
        let body = MessageBody::ReleaseComplete(ReleaseComplete::new(
            reason.release_reason(),
            self.call_identifier.clone(),
        ));
        let uu = UserInformation::new(body, false, Vec::new());
        let message = Message::new(MessageType::ReleaseComplete, self.crv, true)
            .with_cause(reason.q850())
            .with_user_user(&h225::encode(&uu)?);
        self.transmit.push_back(tpkt::frame(&message.encode()?)?);
        self.end_silently(reason);
        Ok(())
    }

    /// Asks the caller for a keyframe of the video Tessera receives.
    pub fn request_keyframe(&mut self, _now: Instant) -> Result<(), Error> {
        if let Some(pdu) = self
            .session
            .as_ref()
            .and_then(h245_session::Session::fast_update)
        {
            self.route_h245(vec![pdu])?;
        }
        Ok(())
    }

    /// Timer expiry: a gateway that never decides gets the call released.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if self.deadline.is_some_and(|d| now >= d) {
            self.deadline = None;
            self.reject(now, EndReason::Timeout)?;
        }
        Ok(())
    }

    /// The next wake-up.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Bytes to write on the call-signalling connection.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// Bytes to write on the separate H.245 connection.
    #[must_use]
    pub fn poll_h245_transmit(&mut self) -> Option<Vec<u8>> {
        self.h245_transmit.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Whether the call has ended.
    #[must_use]
    pub fn is_ended(&self) -> bool {
        self.state == State::Ended
    }

    fn handle_q931(&mut self, now: Instant, packet: &[u8]) -> Result<(), Error> {
        let Ok(message) = Message::decode(packet) else {
            return Ok(());
        };
        let Some(uu) = message.user_user().and_then(|b| h225::decode(b).ok()) else {
            if message.message_type == MessageType::ReleaseComplete {
                self.end_silently(EndReason::Normal);
            }
            return Ok(());
        };
        let pdu = uu.h323_uu_pdu;
        match (self.state, pdu.h323_message_body) {
            (State::AwaitingSetup, MessageBody::Setup(setup)) => {
                self.crv = message.call_reference;
                self.call_identifier = setup.call_identifier.clone();
                self.conference_id = setup.conference_id.0.as_ref().try_into().unwrap_or([0; 16]);
                self.tunnelling = pdu.h245_tunnelling == Some(true);
                self.peer_h245 = setup
                    .h245_address
                    .as_ref()
                    .and_then(TransportAddress::to_socket);
                self.proposals = setup
                    .fast_start
                    .iter()
                    .flatten()
                    .filter_map(|e| h245_msg::decode_open_logical_channel(e).ok())
                    .filter_map(|olc| Channel::from_olc(&olc))
                    .collect();
                self.state = State::Deciding;
                self.deadline = Some(now + self.config.decision_time);
                let proceeding = MessageBody::CallProceeding(h225::call_proceeding(
                    self.config.endpoint.clone(),
                    self.call_identifier.clone(),
                    None,
                    None,
                ));
                self.send(MessageType::CallProceeding, proceeding, Vec::new())?;
                let text = |aliases: &Option<Vec<AliasAddress>>| {
                    aliases
                        .iter()
                        .flatten()
                        .filter_map(AliasAddress::text)
                        .collect()
                };
                self.events.push_back(Event::Incoming(Incoming {
                    destination: text(&setup.destination_address),
                    called_number: message.called_party_number(),
                    source: text(&setup.source_address),
                    display: message.display(),
                }));
            }
            (_, MessageBody::ReleaseComplete(_)) => self.end_silently(EndReason::Normal),
            (State::Connected | State::Deciding, _) => {}
            _ => return Ok(()),
        }
        for octets in pdu.h245_control.into_iter().flatten() {
            if let Ok(h245) = h245_msg::decode(&octets) {
                if self.session.is_some() {
                    self.handle_h245(now, h245)?;
                } else {
                    // Tunnelled H.245 before the gateway decided: keep it for after accept.
                    self.pending_tunnel.push(h245);
                }
            }
        }
        if self.session.is_some() {
            for h245 in std::mem::take(&mut self.pending_tunnel) {
                self.handle_h245(now, h245)?;
            }
        }
        Ok(())
    }

    fn handle_h245(
        &mut self,
        now: Instant,
        pdu: h245_msg::MultimediaSystemControlMessage,
    ) -> Result<(), Error> {
        let Some(session) = self.session.as_mut() else {
            self.pending_tunnel.push(pdu);
            return Ok(());
        };
        let (replies, notices) = session.handle(pdu);
        let plan = session.plan.clone();
        self.route_h245(replies)?;
        for notice in notices {
            match notice {
                h245_session::Notice::KeyframeRequested => {
                    self.events.push_back(Event::KeyframeRequested)
                }
                h245_session::Notice::Dtmf(keys) => {
                    self.events.extend(keys.into_iter().map(Event::Dtmf))
                }
                h245_session::Notice::MediaChanged => {
                    self.events.push_back(Event::Media(plan.clone()))
                }
                h245_session::Notice::NoCommonCodec => {
                    self.reject(now, EndReason::NoCommonCodec)?
                }
                h245_session::Notice::EndSession => self.reject(now, EndReason::Normal)?,
            }
        }
        Ok(())
    }

    fn route_h245(
        &mut self,
        pdus: Vec<h245_msg::MultimediaSystemControlMessage>,
    ) -> Result<(), Error> {
        if pdus.is_empty() || self.state == State::Ended {
            return Ok(());
        }
        match self.path {
            H245Path::Tunnelled => {
                let tunnelled = h245_msg::encode_tunnelled(&pdus)?;
                self.send(MessageType::Facility, MessageBody::Empty(()), tunnelled)
            }
            H245Path::Separate => {
                for pdu in &pdus {
                    self.h245_transmit
                        .push_back(tpkt::frame(&h245_msg::encode(pdu)?)?);
                }
                Ok(())
            }
            H245Path::None => Ok(()),
        }
    }

    fn send(
        &mut self,
        message_type: MessageType,
        body: MessageBody,
        h245: Vec<rasn::types::OctetString>,
    ) -> Result<(), Error> {
        let uu = UserInformation::new(body, self.tunnelling, h245);
        let message =
            Message::new(message_type, self.crv, true).with_user_user(&h225::encode(&uu)?);
        self.transmit.push_back(tpkt::frame(&message.encode()?)?);
        Ok(())
    }

    fn end_silently(&mut self, reason: EndReason) {
        if self.state != State::Ended {
            self.state = State::Ended;
            self.deadline = None;
            self.events.push_back(Event::Ended(reason));
        }
    }
}

#[cfg(test)]
mod tests;
