//! H.245 capabilities (MULTIMEDIA-SYSTEM-CONTROL): the terminal capability set and the audio,
//! video, generic and user-input capabilities a Tessera call offers and accepts (H.264 as a
//! generic capability per H.241, G.711, G.722), derived by hand as `rasn` types.
//!
//! Owns the ASN.1 shapes only; choosing codecs is `crate::media`'s business. Root alternatives
//! and components we do not use keep their place as [`NotModelled`] so indices and presence
//! bits are the module's.

use super::NonStandardParameter;
use crate::h225::NotModelled;
use rasn::prelude::*;

/// `CapabilityIdentifier`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum CapabilityIdentifier {
    /// A standard capability by OID (H.264: 0.0.8.241.0.0.1).
    Standard(ObjectIdentifier),
    /// Vendor-specific.
    H221NonStandard(NonStandardParameter),
    /// By UUID.
    #[rasn(size("16"))]
    Uuid(OctetString),
    /// By domain name.
    #[rasn(size("1..=64"))]
    DomainBased(Ia5String),
}

/// `ParameterIdentifier`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum ParameterIdentifier {
    /// A standard parameter number (H.241: 41 profile, 42 level, ...).
    #[rasn(value("0..=127"))]
    Standard(u8),
    /// Vendor-specific.
    H221NonStandard(NonStandardParameter),
    /// By UUID.
    #[rasn(size("16"))]
    Uuid(OctetString),
    /// By domain name.
    #[rasn(size("1..=64"))]
    DomainBased(Ia5String),
}

/// `ParameterValue`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum ParameterValue {
    /// Present or not.
    Logical(()),
    /// Eight flags (H.241 profile).
    #[rasn(value("0..=255"))]
    BooleanArray(u8),
    /// At least this (H.241 level).
    #[rasn(value("0..=65535"))]
    UnsignedMin(u16),
    /// At most this.
    #[rasn(value("0..=65535"))]
    UnsignedMax(u16),
    /// At least this, 32 bits.
    #[rasn(value("0..=4294967295"))]
    Unsigned32Min(u32),
    /// At most this, 32 bits.
    #[rasn(value("0..=4294967295"))]
    Unsigned32Max(u32),
    /// Octets.
    OctetString(OctetString),
    /// Nested parameters.
    GenericParameter(Vec<GenericParameter>),
}

/// `GenericParameter`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct GenericParameter {
    /// Which parameter.
    pub parameter_identifier: ParameterIdentifier,
    /// Its value.
    pub parameter_value: ParameterValue,
    /// Parameters it supersedes.
    pub supersedes: Option<Vec<ParameterIdentifier>>,
}

impl GenericParameter {
    /// A standard parameter with a value.
    #[must_use]
    pub fn standard(id: u8, value: ParameterValue) -> Self {
        Self {
            parameter_identifier: ParameterIdentifier::Standard(id),
            parameter_value: value,
            supersedes: None,
        }
    }
}

/// `GenericCapability`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct GenericCapability {
    /// Which capability.
    pub capability_identifier: CapabilityIdentifier,
    /// Maximum bit rate in units of 100 bit/s.
    #[rasn(value("0..=4294967295"))]
    pub max_bit_rate: Option<u32>,
    /// Parameters that collapse (the lower of two wins).
    pub collapsing: Option<Vec<GenericParameter>>,
    /// Parameters that do not collapse.
    pub non_collapsing: Option<Vec<GenericParameter>>,
    /// Raw non-collapsing data.
    pub non_collapsing_raw: Option<OctetString>,
    /// Transport (a DataProtocolCapability; not modelled).
    pub transport: Option<NotModelled>,
}

/// `VideoCapability`: H.264 arrives as `genericVideoCapability`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum VideoCapability {
    /// Vendor-specific.
    NonStandard(NonStandardParameter),
    /// H.261 (not modelled).
    H261VideoCapability(NotModelled),
    /// H.262 (not modelled).
    H262VideoCapability(NotModelled),
    /// H.263 (not modelled).
    H263VideoCapability(NotModelled),
    /// MPEG-1 (not modelled).
    Is11172VideoCapability(NotModelled),
    /// A generic capability (H.264 per H.241).
    #[rasn(extension_addition)]
    GenericVideoCapability(GenericCapability),
    /// Extended video capability (not modelled).
    #[rasn(extension_addition)]
    ExtendedVideoCapability(NotModelled),
}

/// `g7231` of `AudioCapability`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
pub struct G7231 {
    /// Frames per packet.
    #[rasn(value("1..=256"))]
    pub max_al_sdu_audio_frames: u16,
    /// Silence suppression.
    pub silence_suppression: bool,
}

/// `AudioCapability`: the value of the G.711/G.722 alternatives is the packet duration in
/// milliseconds (frames of 1 ms).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum AudioCapability {
    /// Vendor-specific.
    NonStandard(NonStandardParameter),
    /// G.711 A-law.
    #[rasn(value("1..=256"))]
    G711Alaw64k(u16),
    /// G.711 A-law 56k.
    #[rasn(value("1..=256"))]
    G711Alaw56k(u16),
    /// G.711 mu-law.
    #[rasn(value("1..=256"))]
    G711Ulaw64k(u16),
    /// G.711 mu-law 56k.
    #[rasn(value("1..=256"))]
    G711Ulaw56k(u16),
    /// G.722 at 64 kbit/s.
    #[rasn(value("1..=256"))]
    G722_64k(u16),
    /// G.722 at 56 kbit/s.
    #[rasn(value("1..=256"))]
    G722_56k(u16),
    /// G.722 at 48 kbit/s.
    #[rasn(value("1..=256"))]
    G722_48k(u16),
    /// G.723.1.
    G7231(G7231),
    /// G.728.
    #[rasn(value("1..=256"))]
    G728(u16),
    /// G.729.
    #[rasn(value("1..=256"))]
    G729(u16),
    /// G.729 Annex A.
    #[rasn(value("1..=256"))]
    G729AnnexA(u16),
    /// MPEG-1 audio (not modelled).
    Is11172AudioCapability(NotModelled),
    /// MPEG-2 audio (not modelled).
    Is13818AudioCapability(NotModelled),
    /// G.729 with Annex B.
    #[rasn(extension_addition, value("1..=256"))]
    G729wAnnexB(u16),
    /// G.729 Annex A with Annex B.
    #[rasn(extension_addition, value("1..=256"))]
    G729AnnexAwAnnexB(u16),
    /// G.723.1 Annex C (not modelled).
    #[rasn(extension_addition)]
    G7231AnnexCCapability(NotModelled),
    /// GSM full rate (not modelled).
    #[rasn(extension_addition)]
    GsmFullRate(NotModelled),
    /// GSM half rate (not modelled).
    #[rasn(extension_addition)]
    GsmHalfRate(NotModelled),
    /// GSM enhanced full rate (not modelled).
    #[rasn(extension_addition)]
    GsmEnhancedFullRate(NotModelled),
    /// Generic audio (G.722.1, AAC-LD, ...).
    #[rasn(extension_addition)]
    GenericAudioCapability(GenericCapability),
}

/// `UserInputCapability`: how DTMF may be sent.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum UserInputCapability {
    /// Vendor-specific.
    #[rasn(size("1..=16"))]
    NonStandard(Vec<NonStandardParameter>),
    /// `alphanumeric` user input.
    BasicString(()),
    /// IA5 strings.
    IA5String(()),
    /// General strings.
    GeneralString(()),
    /// `signal` user input (DTMF with duration).
    Dtmf(()),
    /// Hook flash.
    Hookflash(()),
}

/// `Capability`: one entry of the capability table.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum Capability {
    /// Vendor-specific.
    NonStandard(NonStandardParameter),
    /// Can receive this video.
    ReceiveVideoCapability(VideoCapability),
    /// Can send this video.
    TransmitVideoCapability(VideoCapability),
    /// Both.
    ReceiveAndTransmitVideoCapability(VideoCapability),
    /// Can receive this audio.
    ReceiveAudioCapability(AudioCapability),
    /// Can send this audio.
    TransmitAudioCapability(AudioCapability),
    /// Both.
    ReceiveAndTransmitAudioCapability(AudioCapability),
    /// Data (not modelled).
    ReceiveDataApplicationCapability(NotModelled),
    /// Data (not modelled).
    TransmitDataApplicationCapability(NotModelled),
    /// Data (not modelled).
    ReceiveAndTransmitDataApplicationCapability(NotModelled),
    /// H.233 encryption.
    H233EncryptionTransmitCapability(bool),
    /// H.233 encryption (not modelled).
    H233EncryptionReceiveCapability(NotModelled),
    /// Conference capability (not modelled).
    #[rasn(extension_addition)]
    ConferenceCapability(NotModelled),
    /// H.235 (not modelled).
    #[rasn(extension_addition)]
    H235SecurityCapability(NotModelled),
    /// Max pending replacements.
    #[rasn(extension_addition, value("0..=255"))]
    MaxPendingReplacementFor(u8),
    /// Can receive user input this way.
    #[rasn(extension_addition)]
    ReceiveUserInputCapability(UserInputCapability),
    /// Can send user input this way.
    #[rasn(extension_addition)]
    TransmitUserInputCapability(UserInputCapability),
    /// Both.
    #[rasn(extension_addition)]
    ReceiveAndTransmitUserInputCapability(UserInputCapability),
}

/// `CapabilityTableEntry` (no extension marker).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
pub struct CapabilityTableEntry {
    /// `CapabilityTableEntryNumber ::= INTEGER (1..65535)`.
    #[rasn(value("1..=65535"))]
    pub capability_table_entry_number: u16,
    /// The capability.
    pub capability: Option<Capability>,
}

/// `AlternativeCapabilitySet ::= SEQUENCE SIZE (1..256) OF CapabilityTableEntryNumber`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(delegate, size("1..=256"))]
pub struct AlternativeCapabilitySet(pub Vec<CapabilityTableEntryNumber>);

/// `CapabilityTableEntryNumber ::= INTEGER (1..65535)`.
#[derive(AsnType, Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[rasn(delegate, value("1..=65535"))]
pub struct CapabilityTableEntryNumber(pub u16);

/// `CapabilityDescriptor` (no extension marker).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
pub struct CapabilityDescriptor {
    /// `CapabilityDescriptorNumber ::= INTEGER (0..255)`.
    #[rasn(value("0..=255"))]
    pub capability_descriptor_number: u8,
    /// Sets of alternatives that can run at the same time. (A SET OF in the module; its
    /// aligned-PER encoding is the SEQUENCE OF's.)
    #[rasn(size("1..=256"))]
    pub simultaneous_capabilities: Option<Vec<AlternativeCapabilitySet>>,
}

/// `mcCapability` of `H2250Capability`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct McCapability {
    /// Centralised conference MC.
    pub centralized_conference_mc: bool,
    /// Decentralised conference MC.
    pub decentralized_conference_mc: bool,
}

/// `MultipointCapability`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct MultipointCapability {
    /// Multicast.
    pub multicast_capability: bool,
    /// Multi-unicast conference.
    pub multi_uni_cast_conference: bool,
    /// Media distribution (Tessera sends an empty list; H323Plus sends one entry).
    pub media_distribution_capability: Vec<MediaDistributionCapability>,
}

/// `MediaDistributionCapability` (an MC's centralised or distributed media). Its data
/// application lists are not modelled (a caller sending any is refused as before); the flags
/// are what stacks such as H323Plus send.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct MediaDistributionCapability {
    /// Centralised control.
    pub centralized_control: bool,
    /// Distributed control.
    pub distributed_control: bool,
    /// Centralised audio.
    pub centralized_audio: bool,
    /// Distributed audio.
    pub distributed_audio: bool,
    /// Centralised video.
    pub centralized_video: bool,
    /// Distributed video.
    pub distributed_video: bool,
    /// Centralised data applications (not modelled).
    pub centralized_data: Option<Vec<NotModelled>>,
    /// Distributed data applications (not modelled).
    pub distributed_data: Option<Vec<NotModelled>>,
}

impl MultipointCapability {
    /// No multipoint capability.
    #[must_use]
    pub fn none() -> Self {
        Self {
            multicast_capability: false,
            multi_uni_cast_conference: false,
            media_distribution_capability: Vec::new(),
        }
    }
}

/// `MediaPacketizationCapability`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct MediaPacketizationCapability {
    /// H.261 Annex A packetisation.
    pub h261a_video_packetization: bool,
    /// RTP payload types (not modelled).
    #[rasn(extension_addition, size("1..=256"))]
    pub rtp_payload_type: Option<Vec<NotModelled>>,
}

/// `H2250Capability`: the H.225.0 multiplex capability of an H.323 terminal.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct H2250Capability {
    /// Maximum audio delay jitter in ms.
    #[rasn(value("0..=1023"))]
    pub maximum_audio_delay_jitter: u16,
    /// Receive multipoint.
    pub receive_multipoint_capability: MultipointCapability,
    /// Transmit multipoint.
    pub transmit_multipoint_capability: MultipointCapability,
    /// Both.
    pub receive_and_transmit_multipoint_capability: MultipointCapability,
    /// MC.
    pub mc_capability: McCapability,
    /// RTCP video control.
    pub rtcp_video_control_capability: bool,
    /// Packetisation.
    pub media_packetization_capability: MediaPacketizationCapability,
    /// Transport capability (not modelled).
    #[rasn(extension_addition)]
    pub transport_capability: Option<NotModelled>,
    /// Redundancy encoding (not modelled).
    #[rasn(extension_addition, size("1..=256"))]
    pub redundancy_encoding_capability: Option<Vec<NotModelled>>,
    /// Logical channel switching.
    #[rasn(extension_addition)]
    pub logical_channel_switching_capability: Option<bool>,
    /// T.120 dynamic port.
    #[rasn(extension_addition)]
    pub t120_dynamic_port_capability: Option<bool>,
}

/// `MultiplexCapability`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum MultiplexCapability {
    /// Vendor-specific.
    NonStandard(NonStandardParameter),
    /// H.222 (not modelled).
    H222Capability(NotModelled),
    /// H.223 (not modelled).
    H223Capability(NotModelled),
    /// V.76 (not modelled).
    V76Capability(NotModelled),
    /// H.225.0 (H.323).
    #[rasn(extension_addition)]
    H2250Capability(H2250Capability),
    /// Generic (not modelled).
    #[rasn(extension_addition)]
    GenericMultiplexCapability(NotModelled),
}

/// `TerminalCapabilitySet`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct TerminalCapabilitySet {
    /// `SequenceNumber ::= INTEGER (0..255)`.
    #[rasn(value("0..=255"))]
    pub sequence_number: u8,
    /// H.245 version.
    pub protocol_identifier: ObjectIdentifier,
    /// Multiplex capability.
    pub multiplex_capability: Option<MultiplexCapability>,
    /// The capabilities. (SET OF in the module.)
    #[rasn(size("1..=256"))]
    pub capability_table: Option<Vec<CapabilityTableEntry>>,
    /// How they combine. (SET OF in the module.)
    #[rasn(size("1..=256"))]
    pub capability_descriptors: Option<Vec<CapabilityDescriptor>>,
    /// Generic information (not modelled).
    #[rasn(extension_addition)]
    pub generic_information: Option<Vec<NotModelled>>,
}
