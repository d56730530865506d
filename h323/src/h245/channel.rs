//! H.245 logical channels (MULTIMEDIA-SYSTEM-CONTROL): open, acknowledge, reject and close,
//! with the H.225.0 (RTP) channel parameters and H.245's own transport addresses, as `rasn`
//! types derived by hand. Fast Start proposals in Setup and answers in Connect are these same
//! `OpenLogicalChannel` values, encoded one per octet string.
//!
//! Owns the ASN.1 shapes only.

use super::capability::{AudioCapability, VideoCapability};
use super::NonStandardParameter;
use crate::h225::NotModelled;
use rasn::prelude::*;

/// `LogicalChannelNumber ::= INTEGER (1..65535)`.
#[derive(AsnType, Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[rasn(delegate, value("1..=65535"))]
pub struct LogicalChannelNumber(pub u16);

/// `iPAddress` of `UnicastAddress` and `MulticastAddress`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct H245IpAddress {
    /// Four octets.
    #[rasn(size("4"))]
    pub network: OctetString,
    /// Port.
    #[rasn(value("0..=65535"))]
    pub tsap_identifier: u16,
}

/// `iP6Address`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct H245Ip6Address {
    /// Sixteen octets.
    #[rasn(size("16"))]
    pub network: OctetString,
    /// Port.
    #[rasn(value("0..=65535"))]
    pub tsap_identifier: u16,
}

/// `UnicastAddress`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum UnicastAddress {
    /// IPv4.
    IPAddress(H245IpAddress),
    /// IPX (not modelled).
    IPXAddress(NotModelled),
    /// IPv6.
    IP6Address(H245Ip6Address),
    /// NetBIOS.
    #[rasn(size("16"))]
    NetBios(OctetString),
    /// Source route (not modelled).
    IPSourceRouteAddress(NotModelled),
    /// NSAP.
    #[rasn(extension_addition, size("1..=20"))]
    Nsap(OctetString),
    /// Vendor-specific.
    #[rasn(extension_addition)]
    NonStandardAddress(NonStandardParameter),
}

/// H.245's `TransportAddress` (not H.225.0's: a different CHOICE).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum H245TransportAddress {
    /// Unicast.
    UnicastAddress(UnicastAddress),
    /// Multicast (not modelled).
    MulticastAddress(NotModelled),
}

impl H245TransportAddress {
    /// The unicast transport address of a socket address.
    #[must_use]
    pub fn from_socket(addr: std::net::SocketAddr) -> Self {
        Self::UnicastAddress(match addr {
            std::net::SocketAddr::V4(v4) => UnicastAddress::IPAddress(H245IpAddress {
                network: OctetString::from_slice(&v4.ip().octets()),
                tsap_identifier: v4.port(),
            }),
            std::net::SocketAddr::V6(v6) => UnicastAddress::IP6Address(H245Ip6Address {
                network: OctetString::from_slice(&v6.ip().octets()),
                tsap_identifier: v6.port(),
            }),
        })
    }

    /// The socket address of an IPv4 or IPv6 unicast address.
    #[must_use]
    pub fn to_socket(&self) -> Option<std::net::SocketAddr> {
        match self {
            Self::UnicastAddress(UnicastAddress::IPAddress(a)) => {
                let ip: [u8; 4] = a.network.as_ref().try_into().ok()?;
                Some((std::net::Ipv4Addr::from(ip), a.tsap_identifier).into())
            }
            Self::UnicastAddress(UnicastAddress::IP6Address(a)) => {
                let ip: [u8; 16] = a.network.as_ref().try_into().ok()?;
                Some((std::net::Ipv6Addr::from(ip), a.tsap_identifier).into())
            }
            _ => None,
        }
    }
}

/// `DataType`: what a logical channel carries.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum DataType {
    /// Vendor-specific.
    NonStandard(NonStandardParameter),
    /// Nothing (a reverse channel placeholder).
    NullData(()),
    /// Video.
    VideoData(VideoCapability),
    /// Audio.
    AudioData(AudioCapability),
    /// Data (not modelled).
    Data(NotModelled),
    /// Encryption (not modelled).
    EncryptionData(NotModelled),
}

/// `mediaPacketization` of `H2250LogicalChannelParameters`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum MediaPacketization {
    /// H.261 Annex A.
    H261aVideoPacketization(()),
    /// RTP payload type (not modelled).
    #[rasn(extension_addition)]
    RtpPayloadType(NotModelled),
}

/// `H2250LogicalChannelParameters`: the RTP session of a channel.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct H2250LogicalChannelParameters {
    /// Vendor data.
    pub non_standard: Option<Vec<NonStandardParameter>>,
    /// RTP session: 1 audio, 2 video, 3 data (0 = let the master choose).
    #[rasn(value("0..=255"))]
    pub session_id: u8,
    /// Associated session (lip sync).
    #[rasn(value("1..=255"))]
    pub associated_session_id: Option<u8>,
    /// Where to send RTP (set by the receiving side).
    pub media_channel: Option<H245TransportAddress>,
    /// Guaranteed delivery.
    pub media_guaranteed_delivery: Option<bool>,
    /// Where to send RTCP.
    pub media_control_channel: Option<H245TransportAddress>,
    /// Guaranteed delivery.
    pub media_control_guaranteed_delivery: Option<bool>,
    /// Silence suppression.
    pub silence_suppression: Option<bool>,
    /// Terminal label (not modelled).
    pub destination: Option<NotModelled>,
    /// The RTP payload type of a dynamic codec (H.264).
    #[rasn(value("96..=127"))]
    pub dynamic_rtp_payload_type: Option<u8>,
    /// Packetisation.
    pub media_packetization: Option<MediaPacketization>,
}

impl H2250LogicalChannelParameters {
    /// Parameters for an RTP session with everything optional absent.
    #[must_use]
    pub fn session(session_id: u8) -> Self {
        Self {
            non_standard: None,
            session_id,
            associated_session_id: None,
            media_channel: None,
            media_guaranteed_delivery: None,
            media_control_channel: None,
            media_control_guaranteed_delivery: None,
            silence_suppression: None,
            destination: None,
            dynamic_rtp_payload_type: None,
            media_packetization: None,
        }
    }
}

/// `multiplexParameters` of the forward parameters.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum ForwardMultiplexParameters {
    /// H.222 (not modelled).
    H222LogicalChannelParameters(NotModelled),
    /// H.223 (not modelled).
    H223LogicalChannelParameters(NotModelled),
    /// V.76 (not modelled).
    V76LogicalChannelParameters(NotModelled),
    /// H.225.0 (RTP).
    #[rasn(extension_addition)]
    H2250LogicalChannelParameters(H2250LogicalChannelParameters),
    /// None.
    #[rasn(extension_addition)]
    None(()),
}

/// `multiplexParameters` of the reverse parameters.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum ReverseMultiplexParameters {
    /// H.223 (not modelled).
    H223LogicalChannelParameters(NotModelled),
    /// V.76 (not modelled).
    V76LogicalChannelParameters(NotModelled),
    /// H.225.0 (RTP).
    #[rasn(extension_addition)]
    H2250LogicalChannelParameters(H2250LogicalChannelParameters),
}

/// `forwardLogicalChannelParameters`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct ForwardLogicalChannelParameters {
    /// Port number (not RTP's).
    #[rasn(value("0..=65535"))]
    pub port_number: Option<u16>,
    /// What the channel carries.
    pub data_type: DataType,
    /// Transport parameters.
    pub multiplex_parameters: ForwardMultiplexParameters,
    /// Dependency.
    #[rasn(extension_addition)]
    pub forward_logical_channel_dependency: Option<LogicalChannelNumber>,
    /// Replaces channel.
    #[rasn(extension_addition)]
    pub replacement_for: Option<LogicalChannelNumber>,
}

/// `reverseLogicalChannelParameters`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct ReverseLogicalChannelParameters {
    /// What the reverse channel carries.
    pub data_type: DataType,
    /// Transport parameters.
    pub multiplex_parameters: Option<ReverseMultiplexParameters>,
    /// Dependency.
    #[rasn(extension_addition)]
    pub reverse_logical_channel_dependency: Option<LogicalChannelNumber>,
    /// Replaces channel.
    #[rasn(extension_addition)]
    pub replacement_for: Option<LogicalChannelNumber>,
}

/// `OpenLogicalChannel`. In Fast Start a proposal for what the caller will *receive* has
/// `forward` data type `nullData` and the codec in `reverse`; one for what it will send has
/// the codec in `forward` (H.323 section 8.1.7.1).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct OpenLogicalChannel {
    /// Channel number.
    pub forward_logical_channel_number: LogicalChannelNumber,
    /// Forward direction.
    pub forward_logical_channel_parameters: ForwardLogicalChannelParameters,
    /// Reverse direction (bidirectional channels and Fast Start receive proposals).
    pub reverse_logical_channel_parameters: Option<ReverseLogicalChannelParameters>,
    /// Separate stack (not modelled).
    #[rasn(extension_addition)]
    pub separate_stack: Option<NotModelled>,
    /// Encryption sync (not modelled).
    #[rasn(extension_addition)]
    pub encryption_sync: Option<NotModelled>,
    /// Generic information (not modelled).
    #[rasn(extension_addition)]
    pub generic_information: Option<Vec<NotModelled>>,
}

/// `reverseLogicalChannelParameters` of an acknowledgement.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct AckReverseParameters {
    /// Reverse channel number.
    pub reverse_logical_channel_number: LogicalChannelNumber,
    /// Port number.
    #[rasn(value("0..=65535"))]
    pub port_number: Option<u16>,
    /// Transport parameters.
    pub multiplex_parameters: Option<AckReverseMultiplexParameters>,
    /// Replaces channel.
    #[rasn(extension_addition)]
    pub replacement_for: Option<LogicalChannelNumber>,
}

/// `multiplexParameters` of the acknowledgement's reverse parameters.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum AckReverseMultiplexParameters {
    /// H.222 (not modelled).
    H222LogicalChannelParameters(NotModelled),
    /// H.225.0 (RTP).
    #[rasn(extension_addition)]
    H2250LogicalChannelParameters(H2250LogicalChannelParameters),
}

/// `H2250LogicalChannelAckParameters`: where the acknowledging side receives RTP and RTCP.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct H2250LogicalChannelAckParameters {
    /// Vendor data.
    pub non_standard: Option<Vec<NonStandardParameter>>,
    /// RTP session.
    #[rasn(value("1..=255"))]
    pub session_id: Option<u8>,
    /// Where to send RTP.
    pub media_channel: Option<H245TransportAddress>,
    /// Where to send RTCP.
    pub media_control_channel: Option<H245TransportAddress>,
    /// Dynamic payload type.
    #[rasn(value("96..=127"))]
    pub dynamic_rtp_payload_type: Option<u8>,
    /// Flow control to zero.
    #[rasn(extension_addition)]
    pub flow_control_to_zero: Option<bool>,
    /// Port number.
    #[rasn(extension_addition, value("0..=65535"))]
    pub port_number: Option<u16>,
}

/// `forwardMultiplexAckParameters`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum ForwardMultiplexAckParameters {
    /// H.225.0 (RTP).
    H2250LogicalChannelAckParameters(H2250LogicalChannelAckParameters),
}

/// `OpenLogicalChannelAck`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct OpenLogicalChannelAck {
    /// The channel acknowledged.
    pub forward_logical_channel_number: LogicalChannelNumber,
    /// Reverse parameters.
    pub reverse_logical_channel_parameters: Option<AckReverseParameters>,
    /// Separate stack (not modelled).
    #[rasn(extension_addition)]
    pub separate_stack: Option<NotModelled>,
    /// Where the acknowledging side receives.
    #[rasn(extension_addition)]
    pub forward_multiplex_ack_parameters: Option<ForwardMultiplexAckParameters>,
    /// Encryption sync (not modelled).
    #[rasn(extension_addition)]
    pub encryption_sync: Option<NotModelled>,
    /// Generic information (not modelled).
    #[rasn(extension_addition)]
    pub generic_information: Option<Vec<NotModelled>>,
}

/// `cause` of `OpenLogicalChannelReject`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum OpenLogicalChannelRejectCause {
    /// Unspecified.
    Unspecified(()),
    /// Reverse parameters unsuitable.
    UnsuitableReverseParameters(()),
    /// Data type not supported.
    DataTypeNotSupported(()),
    /// Data type not available now.
    DataTypeNotAvailable(()),
    /// Unknown data type.
    UnknownDataType(()),
    /// Data type / adaptation layer combination not supported.
    DataTypeALCombinationNotSupported(()),
}

/// `OpenLogicalChannelReject`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct OpenLogicalChannelReject {
    /// The channel refused.
    pub forward_logical_channel_number: LogicalChannelNumber,
    /// Why.
    pub cause: OpenLogicalChannelRejectCause,
}

/// `source` of `CloseLogicalChannel`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
pub enum CloseSource {
    /// The user closed it.
    User(()),
    /// The logical channel signalling entity closed it.
    Lcse(()),
}

/// `CloseLogicalChannel`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct CloseLogicalChannel {
    /// The channel.
    pub forward_logical_channel_number: LogicalChannelNumber,
    /// Who closes it.
    pub source: CloseSource,
}

impl CloseLogicalChannel {
    /// A close of channel `number` by the user.
    #[must_use]
    pub fn new(number: u16) -> Self {
        Self {
            forward_logical_channel_number: LogicalChannelNumber(number),
            source: CloseSource::User(()),
        }
    }
}

/// `CloseLogicalChannelAck`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct CloseLogicalChannelAck {
    /// The channel.
    pub forward_logical_channel_number: LogicalChannelNumber,
}

impl CloseLogicalChannelAck {
    /// The acknowledgement of closing channel `number`.
    #[must_use]
    pub fn new(number: u16) -> Self {
        Self {
            forward_logical_channel_number: LogicalChannelNumber(number),
        }
    }
}
