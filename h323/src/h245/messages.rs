//! The H.245 message envelope (`MultimediaSystemControlMessage` and its request, response,
//! command and indication CHOICEs) and the small procedure messages: master-slave
//! determination, capability-set acknowledgements, round-trip delay, miscellaneous commands
//! (`videoFastUpdatePicture`), end session and user input.

use super::capability::TerminalCapabilitySet;
use super::channel::{
    CloseLogicalChannel, CloseLogicalChannelAck, LogicalChannelNumber, OpenLogicalChannel,
    OpenLogicalChannelAck, OpenLogicalChannelReject,
};
use super::NonStandardParameter;
use crate::h225::NotModelled;
use rasn::prelude::*;

/// `NonStandardMessage`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct NonStandardMessage {
    /// Data.
    pub non_standard_data: NonStandardParameter,
}

/// `MasterSlaveDetermination`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct MasterSlaveDetermination {
    /// Terminal type (H.323 Table 1: an MCU with MC is 190, a terminal 50; higher wins).
    #[rasn(value("0..=255"))]
    pub terminal_type: u8,
    /// Random number; the higher one decides when the types tie (H.245 C.2).
    #[rasn(value("0..=16777215"))]
    pub status_determination_number: u32,
}

impl MasterSlaveDetermination {
    /// A determination request.
    #[must_use]
    pub fn new(terminal_type: u8, status_determination_number: u32) -> Self {
        Self {
            terminal_type,
            status_determination_number: status_determination_number & 0xFF_FFFF,
        }
    }
}

/// `decision` of `MasterSlaveDeterminationAck`: what the *receiver* of the ack is.
#[derive(AsnType, Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
pub enum MasterSlaveDecision {
    /// The receiver is master.
    Master(()),
    /// The receiver is slave.
    Slave(()),
}

/// `MasterSlaveDeterminationAck`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct MasterSlaveDeterminationAck {
    /// The decision for the receiver.
    pub decision: MasterSlaveDecision,
}

impl MasterSlaveDeterminationAck {
    /// An acknowledgement telling the receiver what it is.
    #[must_use]
    pub fn new(decision: MasterSlaveDecision) -> Self {
        Self { decision }
    }
}

/// `cause` of `MasterSlaveDeterminationReject`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum MasterSlaveRejectCause {
    /// Both sides drew the same number.
    IdenticalNumbers(()),
}

/// `MasterSlaveDeterminationReject`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct MasterSlaveDeterminationReject {
    /// Why.
    pub cause: MasterSlaveRejectCause,
}

/// `TerminalCapabilitySetAck`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct TerminalCapabilitySetAck {
    /// The acknowledged set's sequence number.
    #[rasn(value("0..=255"))]
    pub sequence_number: u8,
    /// Generic information (not modelled).
    #[rasn(extension_addition)]
    pub generic_information: Option<Vec<NotModelled>>,
}

impl TerminalCapabilitySetAck {
    /// An acknowledgement of set `sequence_number`.
    #[must_use]
    pub fn new(sequence_number: u8) -> Self {
        Self {
            sequence_number,
            generic_information: None,
        }
    }
}

/// `cause` of `TerminalCapabilitySetReject`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum TerminalCapabilitySetRejectCause {
    /// Unspecified.
    Unspecified(()),
    /// A descriptor names an undefined table entry.
    UndefinedTableEntryUsed(()),
    /// Too many descriptors.
    DescriptorCapacityExceeded(()),
    /// Too many table entries (not modelled).
    TableEntryCapacityExceeded(NotModelled),
}

/// `TerminalCapabilitySetReject`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct TerminalCapabilitySetReject {
    /// The rejected set's sequence number.
    #[rasn(value("0..=255"))]
    pub sequence_number: u8,
    /// Why.
    pub cause: TerminalCapabilitySetRejectCause,
}

/// `RoundTripDelayRequest` and `RoundTripDelayResponse` (the same shape).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct RoundTripDelay {
    /// Sequence number.
    #[rasn(value("0..=255"))]
    pub sequence_number: u8,
}

/// `type` of `MiscellaneousCommand`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum MiscellaneousCommandType {
    /// Equalise delay.
    EqualiseDelay(()),
    /// Zero delay.
    ZeroDelay(()),
    /// Multipoint mode.
    MultipointModeCommand(()),
    /// Cancel multipoint mode.
    CancelMultipointModeCommand(()),
    /// Freeze picture.
    VideoFreezePicture(()),
    /// Send a new intra picture: H.323's keyframe request.
    VideoFastUpdatePicture(()),
    /// Update GOBs (not modelled).
    VideoFastUpdateGOB(NotModelled),
    /// Temporal/spatial trade-off.
    #[rasn(value("0..=31"))]
    VideoTemporalSpatialTradeOff(u8),
    /// Sync every GOB.
    VideoSendSyncEveryGOB(()),
    /// Cancel sync every GOB.
    VideoSendSyncEveryGOBCancel(()),
}

/// `MiscellaneousCommand`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct MiscellaneousCommand {
    /// The channel it is about (for fast update: the video channel the sender receives).
    pub logical_channel_number: LogicalChannelNumber,
    /// The command.
    pub r#type: MiscellaneousCommandType,
}

impl MiscellaneousCommand {
    /// `videoFastUpdatePicture` for a channel.
    #[must_use]
    pub fn fast_update(channel: u16) -> Self {
        Self {
            logical_channel_number: LogicalChannelNumber(channel),
            r#type: MiscellaneousCommandType::VideoFastUpdatePicture(()),
        }
    }
}

/// `EndSessionCommand`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum EndSessionCommand {
    /// Vendor-specific.
    NonStandard(NonStandardParameter),
    /// End the H.245 session.
    Disconnect(()),
    /// GSTN options (not modelled).
    GstnOptions(NotModelled),
}

/// The DTMF `signalType`: one of `0123456789#*ABCD!` (`!` is hook flash).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(delegate, from("!", "#", "*", "0..=9", "A..=D"), size("1"))]
pub struct SignalType(pub Ia5String);

/// `rtp` of a user-input `signal`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct SignalRtp {
    /// RTP timestamp.
    #[rasn(value("0..=4294967295"))]
    pub timestamp: Option<u32>,
    /// Expiration.
    #[rasn(value("0..=4294967295"))]
    pub expiration_time: Option<u32>,
    /// The channel.
    pub logical_channel_number: LogicalChannelNumber,
}

/// `signal` of `UserInputIndication`: one DTMF tone.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct Signal {
    /// Which key.
    pub signal_type: SignalType,
    /// Duration in ms.
    #[rasn(value("1..=65535"))]
    pub duration: Option<u16>,
    /// RTP reference.
    pub rtp: Option<SignalRtp>,
}

/// `userInputSupportIndication` of `UserInputIndication`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum UserInputSupportIndication {
    /// Vendor-specific.
    NonStandard(NonStandardParameter),
    /// Basic string.
    BasicString(()),
    /// IA5 string.
    IA5String(()),
    /// General string.
    GeneralString(()),
}

/// `UserInputIndication`: DTMF and typed characters.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum UserInputIndication {
    /// Vendor-specific.
    NonStandard(NonStandardParameter),
    /// Characters typed (each a DTMF key for us).
    Alphanumeric(GeneralString),
    /// What the sender supports.
    #[rasn(extension_addition)]
    UserInputSupportIndication(UserInputSupportIndication),
    /// One key with a duration.
    #[rasn(extension_addition)]
    Signal(Signal),
}

impl UserInputIndication {
    /// An `alphanumeric` indication. Errors on characters a GeneralString cannot carry.
    pub fn alphanumeric(text: &str) -> Result<Self, super::Error> {
        GeneralString::try_from(text.to_owned())
            .map(Self::Alphanumeric)
            .map_err(|e| super::Error::Encode(e.to_string()))
    }

    /// A `signal` indication for one key; `None` for a key DTMF does not have.
    #[must_use]
    pub fn signal(key: char, duration_ms: Option<u16>) -> Option<Self> {
        if !matches!(key, '0'..='9' | '#' | '*' | 'A'..='D' | '!') {
            return None;
        }
        let text = Ia5String::try_from(key.to_string()).ok()?;
        Some(Self::Signal(Signal {
            signal_type: SignalType(text),
            duration: duration_ms.filter(|d| *d > 0),
            rtp: None,
        }))
    }

    /// The keys this indication carries (DTMF keys only; other characters are dropped).
    #[must_use]
    pub fn keys(&self) -> Vec<char> {
        let text = match self {
            Self::Alphanumeric(s) => String::from_utf8_lossy(&s.to_vec()).into_owned(),
            Self::Signal(s) => s.signal_type.0.to_string(),
            _ => String::new(),
        };
        text.chars()
            .filter(|c| matches!(c, '0'..='9' | '#' | '*' | 'A'..='D'))
            .collect()
    }
}

/// `RequestMessage`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum RequestMessage {
    /// Vendor-specific.
    NonStandard(NonStandardMessage),
    /// Master-slave determination.
    MasterSlaveDetermination(MasterSlaveDetermination),
    /// Capability set.
    TerminalCapabilitySet(Box<TerminalCapabilitySet>),
    /// Open a channel.
    OpenLogicalChannel(Box<OpenLogicalChannel>),
    /// Close a channel.
    CloseLogicalChannel(CloseLogicalChannel),
    /// Request channel close (not modelled).
    RequestChannelClose(NotModelled),
    /// H.223 (not modelled).
    MultiplexEntrySend(NotModelled),
    /// H.223 (not modelled).
    RequestMultiplexEntry(NotModelled),
    /// Request mode (not modelled).
    RequestMode(NotModelled),
    /// Round-trip delay (keep-alive).
    RoundTripDelayRequest(RoundTripDelay),
    /// Maintenance loop (not modelled).
    MaintenanceLoopRequest(NotModelled),
    /// Communication mode (not modelled).
    CommunicationModeRequest(NotModelled),
    /// Conference request (not modelled).
    ConferenceRequest(NotModelled),
}

/// `ResponseMessage`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum ResponseMessage {
    /// Vendor-specific.
    NonStandard(NonStandardMessage),
    /// Master-slave acknowledgement.
    MasterSlaveDeterminationAck(MasterSlaveDeterminationAck),
    /// Master-slave reject.
    MasterSlaveDeterminationReject(MasterSlaveDeterminationReject),
    /// Capability set acknowledgement.
    TerminalCapabilitySetAck(TerminalCapabilitySetAck),
    /// Capability set reject.
    TerminalCapabilitySetReject(TerminalCapabilitySetReject),
    /// Channel opened.
    OpenLogicalChannelAck(Box<OpenLogicalChannelAck>),
    /// Channel refused.
    OpenLogicalChannelReject(OpenLogicalChannelReject),
    /// Channel closed.
    CloseLogicalChannelAck(CloseLogicalChannelAck),
    /// (not modelled).
    RequestChannelCloseAck(NotModelled),
    /// (not modelled).
    RequestChannelCloseReject(NotModelled),
    /// (not modelled).
    MultiplexEntrySendAck(NotModelled),
    /// (not modelled).
    MultiplexEntrySendReject(NotModelled),
    /// (not modelled).
    RequestMultiplexEntryAck(NotModelled),
    /// (not modelled).
    RequestMultiplexEntryReject(NotModelled),
    /// (not modelled).
    RequestModeAck(NotModelled),
    /// (not modelled).
    RequestModeReject(NotModelled),
    /// Round-trip delay answer.
    RoundTripDelayResponse(RoundTripDelay),
    /// (not modelled).
    MaintenanceLoopAck(NotModelled),
    /// (not modelled).
    MaintenanceLoopReject(NotModelled),
}

/// `CommandMessage`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum CommandMessage {
    /// Vendor-specific.
    NonStandard(NonStandardMessage),
    /// (not modelled).
    MaintenanceLoopOffCommand(NotModelled),
    /// (not modelled).
    SendTerminalCapabilitySet(NotModelled),
    /// (not modelled).
    EncryptionCommand(NotModelled),
    /// (not modelled).
    FlowControlCommand(NotModelled),
    /// End the session.
    EndSessionCommand(EndSessionCommand),
    /// Miscellaneous (fast update).
    MiscellaneousCommand(MiscellaneousCommand),
}

/// `IndicationMessage`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum IndicationMessage {
    /// Vendor-specific.
    NonStandard(NonStandardMessage),
    /// (not modelled).
    FunctionNotUnderstood(NotModelled),
    /// (not modelled).
    MasterSlaveDeterminationRelease(NotModelled),
    /// (not modelled).
    TerminalCapabilitySetRelease(NotModelled),
    /// (not modelled).
    OpenLogicalChannelConfirm(NotModelled),
    /// (not modelled).
    RequestChannelCloseRelease(NotModelled),
    /// (not modelled).
    MultiplexEntrySendRelease(NotModelled),
    /// (not modelled).
    RequestMultiplexEntryRelease(NotModelled),
    /// (not modelled).
    RequestModeRelease(NotModelled),
    /// (not modelled).
    MiscellaneousIndication(NotModelled),
    /// (not modelled).
    JitterIndication(NotModelled),
    /// (not modelled).
    H223SkewIndication(NotModelled),
    /// (not modelled).
    NewATMVCIndication(NotModelled),
    /// DTMF and typed input.
    UserInput(UserInputIndication),
}

/// `MultimediaSystemControlMessage`: every H.245 PDU.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum MultimediaSystemControlMessage {
    /// A request.
    Request(RequestMessage),
    /// A response.
    Response(ResponseMessage),
    /// A command.
    Command(CommandMessage),
    /// An indication.
    Indication(IndicationMessage),
}
