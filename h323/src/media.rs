//! The media Tessera negotiates over H.245, as values of the H.245 types: its capability set
//! (H.264 per H.241, G.711 mu-law and A-law, G.722, DTMF user input) and the logical channels
//! of Fast Start and of the H.245 procedures, with the RTP/RTCP addresses they carry.
//!
//! Owns the choice of *what* is offered and accepted; the message shapes are `crate::h245`'s
//! and the call flow `crate::call`'s. Must not touch sockets or the media engine: the gateway
//! maps a [`Channel`] onto the call-media input the SIP path builds from SDP.

use crate::h245::{self, *};
use rasn::types::OctetString;
use std::net::SocketAddr;

/// RTP session ids of H.225.0: 1 audio, 2 video.
pub const AUDIO_SESSION: u8 = 1;
/// RTP session id of video.
pub const VIDEO_SESSION: u8 = 2;
/// The dynamic RTP payload type Tessera uses for H.264.
pub const H264_PAYLOAD_TYPE: u8 = 109;

/// A codec an H.323 channel can carry, as Tessera's media engine knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 mu-law (RTP payload type 0).
    Pcmu,
    /// G.711 A-law (RTP payload type 8).
    Pcma,
    /// G.722 (RTP payload type 9).
    G722,
    /// H.264 with the H.241 profile bits and level.
    H264 {
        /// Profile boolean array (64 = baseline).
        profile: u8,
        /// H.241 level number (71 = 3.1).
        level: u16,
    },
}

impl Codec {
    /// The codec of a channel's data type, `None` for one Tessera does not handle.
    #[must_use]
    pub fn of(data_type: &DataType) -> Option<Self> {
        match data_type {
            DataType::AudioData(AudioCapability::G711Ulaw64k(_)) => Some(Self::Pcmu),
            DataType::AudioData(AudioCapability::G711Alaw64k(_)) => Some(Self::Pcma),
            DataType::AudioData(AudioCapability::G722_64k(_)) => Some(Self::G722),
            DataType::VideoData(VideoCapability::GenericVideoCapability(g))
                if g.capability_identifier
                    == CapabilityIdentifier::Standard(h264_capability_identifier()) =>
            {
                let mut profile = h241::PROFILE_BASELINE;
                let mut level = h241::LEVEL_3_1;
                for p in g.collapsing.iter().flatten() {
                    match (&p.parameter_identifier, &p.parameter_value) {
                        (
                            ParameterIdentifier::Standard(h241::PROFILE),
                            ParameterValue::BooleanArray(v),
                        ) => profile = *v,
                        (
                            ParameterIdentifier::Standard(h241::LEVEL),
                            ParameterValue::UnsignedMin(v),
                        ) => level = *v,
                        _ => {}
                    }
                }
                Some(Self::H264 { profile, level })
            }
            _ => None,
        }
    }

    /// The H.245 data type of this codec (audio packets of 20 ms, H.264 up to `max_kbps`).
    #[must_use]
    pub fn data_type(self, max_kbps: u32) -> DataType {
        match self {
            Self::Pcmu => DataType::AudioData(AudioCapability::G711Ulaw64k(20)),
            Self::Pcma => DataType::AudioData(AudioCapability::G711Alaw64k(20)),
            Self::G722 => DataType::AudioData(AudioCapability::G722_64k(20)),
            Self::H264 { profile, level } => DataType::VideoData(h264(profile, level, max_kbps)),
        }
    }

    /// The RTP session this codec belongs to.
    #[must_use]
    pub fn session(self) -> u8 {
        match self {
            Self::H264 { .. } => VIDEO_SESSION,
            _ => AUDIO_SESSION,
        }
    }

    /// The RTP payload type.
    #[must_use]
    pub fn payload_type(self) -> u8 {
        match self {
            Self::Pcmu => 0,
            Self::Pcma => 8,
            Self::G722 => 9,
            Self::H264 { .. } => H264_PAYLOAD_TYPE,
        }
    }
}

/// H.264 as an H.245 generic video capability (H.241 Annex A).
#[must_use]
pub fn h264(profile: u8, level: u16, max_kbps: u32) -> VideoCapability {
    VideoCapability::GenericVideoCapability(GenericCapability {
        capability_identifier: CapabilityIdentifier::Standard(h264_capability_identifier()),
        max_bit_rate: Some(max_kbps.saturating_mul(10)),
        collapsing: Some(vec![
            GenericParameter::standard(h241::PROFILE, ParameterValue::BooleanArray(profile)),
            GenericParameter::standard(h241::LEVEL, ParameterValue::UnsignedMin(level)),
        ]),
        non_collapsing: None,
        non_collapsing_raw: None,
        transport: None,
    })
}

/// Codecs Tessera accepts, best first (the order a proposal list is searched in).
pub const PREFERENCE: [Codec; 4] = [
    Codec::H264 {
        profile: h241::PROFILE_BASELINE,
        level: h241::LEVEL_3_1,
    },
    Codec::G722,
    Codec::Pcmu,
    Codec::Pcma,
];

/// Tessera's terminal capability set: every codec of [`PREFERENCE`] both ways, and DTMF
/// user input (alphanumeric and signal), in one descriptor where one audio and one video
/// capability can run together.
#[must_use]
pub fn capability_set(sequence_number: u8, max_video_kbps: u32) -> TerminalCapabilitySet {
    let mut table = Vec::new();
    let mut audio = Vec::new();
    let mut video = Vec::new();
    for codec in PREFERENCE {
        let number = table.len() as u16 + 1;
        let capability = match codec.data_type(max_video_kbps) {
            DataType::VideoData(v) => {
                video.push(CapabilityTableEntryNumber(number));
                Capability::ReceiveAndTransmitVideoCapability(v)
            }
            DataType::AudioData(a) => {
                audio.push(CapabilityTableEntryNumber(number));
                Capability::ReceiveAndTransmitAudioCapability(a)
            }
            _ => continue,
        };
        table.push(entry(number, capability));
    }
    let alnum = table.len() as u16 + 1;
    table.push(entry(
        alnum,
        Capability::ReceiveUserInputCapability(UserInputCapability::BasicString(())),
    ));
    table.push(entry(
        alnum + 1,
        Capability::ReceiveUserInputCapability(UserInputCapability::Dtmf(())),
    ));
    TerminalCapabilitySet {
        sequence_number,
        protocol_identifier: h245::protocol_identifier(),
        multiplex_capability: Some(MultiplexCapability::H2250Capability(H2250Capability {
            maximum_audio_delay_jitter: 60,
            receive_multipoint_capability: MultipointCapability::none(),
            transmit_multipoint_capability: MultipointCapability::none(),
            receive_and_transmit_multipoint_capability: MultipointCapability::none(),
            mc_capability: McCapability {
                centralized_conference_mc: false,
                decentralized_conference_mc: false,
            },
            rtcp_video_control_capability: true,
            media_packetization_capability: MediaPacketizationCapability {
                h261a_video_packetization: false,
                rtp_payload_type: None,
            },
            transport_capability: None,
            redundancy_encoding_capability: None,
            logical_channel_switching_capability: Some(false),
            t120_dynamic_port_capability: Some(false),
        })),
        capability_table: Some(table),
        capability_descriptors: Some(vec![CapabilityDescriptor {
            capability_descriptor_number: 0,
            simultaneous_capabilities: Some(vec![
                AlternativeCapabilitySet(audio),
                AlternativeCapabilitySet(video),
                AlternativeCapabilitySet(vec![
                    CapabilityTableEntryNumber(alnum),
                    CapabilityTableEntryNumber(alnum + 1),
                ]),
            ]),
        }]),
        generic_information: None,
    }
}

fn entry(number: u16, capability: Capability) -> CapabilityTableEntry {
    CapabilityTableEntry {
        capability_table_entry_number: number,
        capability: Some(capability),
    }
}

/// Which way media flows on a channel, seen from the side that opens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The opener sends (forward data type is the codec).
    Send,
    /// The opener receives (Fast Start: forward `nullData`, the codec in reverse).
    Receive,
}

/// One logical channel as the media layer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Channel number.
    pub number: u16,
    /// Direction from the opener's side.
    pub direction: Direction,
    /// Codec.
    pub codec: Codec,
    /// RTP session.
    pub session: u8,
    /// Where RTP goes (the receiver's address), when known.
    pub rtp: Option<SocketAddr>,
    /// Where RTCP goes, when known.
    pub rtcp: Option<SocketAddr>,
}

impl Channel {
    /// The channel as an `OpenLogicalChannel` (Fast Start element or H.245 request).
    #[must_use]
    pub fn to_olc(&self, max_video_kbps: u32) -> OpenLogicalChannel {
        let mut params = H2250LogicalChannelParameters::session(self.session);
        params.media_channel = self.rtp.map(H245TransportAddress::from_socket);
        params.media_control_channel = self.rtcp.map(H245TransportAddress::from_socket);
        if matches!(self.codec, Codec::H264 { .. }) {
            params.dynamic_rtp_payload_type = Some(H264_PAYLOAD_TYPE);
        }
        let data_type = self.codec.data_type(max_video_kbps);
        let (forward, reverse) = match self.direction {
            Direction::Send => (
                ForwardLogicalChannelParameters {
                    port_number: None,
                    data_type,
                    multiplex_parameters: ForwardMultiplexParameters::H2250LogicalChannelParameters(
                        params,
                    ),
                    forward_logical_channel_dependency: None,
                    replacement_for: None,
                },
                None,
            ),
            Direction::Receive => (
                ForwardLogicalChannelParameters {
                    port_number: None,
                    data_type: DataType::NullData(()),
                    multiplex_parameters: ForwardMultiplexParameters::None(()),
                    forward_logical_channel_dependency: None,
                    replacement_for: None,
                },
                Some(ReverseLogicalChannelParameters {
                    data_type,
                    multiplex_parameters: Some(
                        ReverseMultiplexParameters::H2250LogicalChannelParameters(params),
                    ),
                    reverse_logical_channel_dependency: None,
                    replacement_for: None,
                }),
            ),
        };
        OpenLogicalChannel {
            forward_logical_channel_number: LogicalChannelNumber(self.number),
            forward_logical_channel_parameters: forward,
            reverse_logical_channel_parameters: reverse,
            separate_stack: None,
            encryption_sync: None,
            generic_information: None,
        }
    }

    /// The channel an `OpenLogicalChannel` describes; `None` when its codec or transport is
    /// not one Tessera handles.
    #[must_use]
    pub fn from_olc(olc: &OpenLogicalChannel) -> Option<Self> {
        let forward = &olc.forward_logical_channel_parameters;
        let (direction, data_type, params) =
            match (&forward.data_type, &olc.reverse_logical_channel_parameters) {
                (DataType::NullData(()), Some(rev)) => match &rev.multiplex_parameters {
                    Some(ReverseMultiplexParameters::H2250LogicalChannelParameters(p)) => {
                        (Direction::Receive, &rev.data_type, p)
                    }
                    _ => return None,
                },
                (data_type, _) => match &forward.multiplex_parameters {
                    ForwardMultiplexParameters::H2250LogicalChannelParameters(p) => {
                        (Direction::Send, data_type, p)
                    }
                    _ => return None,
                },
            };
        let codec = Codec::of(data_type)?;
        Some(Self {
            number: olc.forward_logical_channel_number.0,
            direction,
            codec,
            session: if params.session_id == 0 {
                codec.session()
            } else {
                params.session_id
            },
            rtp: params
                .media_channel
                .as_ref()
                .and_then(H245TransportAddress::to_socket),
            rtcp: params
                .media_control_channel
                .as_ref()
                .and_then(H245TransportAddress::to_socket),
        })
    }
}

/// Encodes channels as Fast Start elements.
pub fn fast_start_elements(
    channels: &[Channel],
    max_video_kbps: u32,
) -> Result<Vec<OctetString>, h245::Error> {
    channels
        .iter()
        .map(|c| encode_open_logical_channel(&c.to_olc(max_video_kbps)).map(OctetString::from))
        .collect()
}

/// An `OpenLogicalChannelAck` telling the opener where Tessera receives RTP and RTCP.
#[must_use]
pub fn open_ack(
    number: u16,
    session: u8,
    rtp: SocketAddr,
    rtcp: SocketAddr,
) -> OpenLogicalChannelAck {
    OpenLogicalChannelAck {
        forward_logical_channel_number: LogicalChannelNumber(number),
        reverse_logical_channel_parameters: None,
        separate_stack: None,
        forward_multiplex_ack_parameters: Some(
            ForwardMultiplexAckParameters::H2250LogicalChannelAckParameters(
                H2250LogicalChannelAckParameters {
                    non_standard: None,
                    session_id: Some(session),
                    media_channel: Some(H245TransportAddress::from_socket(rtp)),
                    media_control_channel: Some(H245TransportAddress::from_socket(rtcp)),
                    dynamic_rtp_payload_type: None,
                    flow_control_to_zero: None,
                    port_number: None,
                },
            ),
        ),
        encryption_sync: None,
        generic_information: None,
    }
}
