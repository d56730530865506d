//! H.225.0 RAS (registration, admission and status) messages: the `RasMessage` CHOICE of
//! H323-MESSAGES and the messages of gatekeeper discovery, registration and unregistration
//! (GRQ/GCF/GRJ, RRQ/RCF/RRJ, URQ/UCF/URJ), derived as the call-signalling types are (see the
//! parent module's doc). RAS travels one message per UDP datagram, unframed.
//!
//! The other RAS messages (admission, bandwidth, disengage, location, info request, ...) keep
//! their CHOICE index as [`NotModelled`]: receiving one is a clear decode error. Each message
//! declares its extension additions up to the last one Tessera reads or sends; later ones are
//! skipped on decode, as aligned PER allows.
//!
//! Owns the message shapes and their codec; when to send which is `crate::ras`'s business.

use super::common::*;
use super::messages::{EndpointIdentifier, QseriesOptions};
use super::Error;
use rasn::prelude::*;

/// `GatekeeperIdentifier ::= BMPString (SIZE (1..128))`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(delegate, size("1..=128"))]
pub struct GatekeeperIdentifier(pub BmpString);

/// `RasMessage`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
#[allow(missing_docs)] // the variants are the module's message names
pub enum RasMessage {
    GatekeeperRequest(Box<GatekeeperRequest>),
    GatekeeperConfirm(Box<GatekeeperConfirm>),
    GatekeeperReject(Box<GatekeeperReject>),
    RegistrationRequest(Box<RegistrationRequest>),
    RegistrationConfirm(Box<RegistrationConfirm>),
    RegistrationReject(Box<RegistrationReject>),
    UnregistrationRequest(Box<UnregistrationRequest>),
    UnregistrationConfirm(UnregistrationConfirm),
    UnregistrationReject(UnregistrationReject),
    AdmissionRequest(NotModelled),
    AdmissionConfirm(NotModelled),
    AdmissionReject(NotModelled),
    BandwidthRequest(NotModelled),
    BandwidthConfirm(NotModelled),
    BandwidthReject(NotModelled),
    DisengageRequest(NotModelled),
    DisengageConfirm(NotModelled),
    DisengageReject(NotModelled),
    LocationRequest(NotModelled),
    LocationConfirm(NotModelled),
    LocationReject(NotModelled),
    InfoRequest(NotModelled),
    InfoRequestResponse(NotModelled),
    NonStandardMessage(NotModelled),
    UnknownMessageResponse(NotModelled),
    #[rasn(extension_addition)]
    RequestInProgress(NotModelled),
    #[rasn(extension_addition)]
    ResourcesAvailableIndicate(NotModelled),
    #[rasn(extension_addition)]
    ResourcesAvailableConfirm(NotModelled),
    #[rasn(extension_addition)]
    InfoRequestAck(NotModelled),
    #[rasn(extension_addition)]
    InfoRequestNak(NotModelled),
    #[rasn(extension_addition)]
    ServiceControlIndication(NotModelled),
    #[rasn(extension_addition)]
    ServiceControlResponse(NotModelled),
    #[rasn(extension_addition)]
    AdmissionConfirmSequence(NotModelled),
}

impl RasMessage {
    /// The message's `requestSeqNum`, for the modelled messages.
    #[must_use]
    pub fn request_seq_num(&self) -> Option<u16> {
        Some(match self {
            Self::GatekeeperRequest(m) => m.request_seq_num,
            Self::GatekeeperConfirm(m) => m.request_seq_num,
            Self::GatekeeperReject(m) => m.request_seq_num,
            Self::RegistrationRequest(m) => m.request_seq_num,
            Self::RegistrationConfirm(m) => m.request_seq_num,
            Self::RegistrationReject(m) => m.request_seq_num,
            Self::UnregistrationRequest(m) => m.request_seq_num,
            Self::UnregistrationConfirm(m) => m.request_seq_num,
            Self::UnregistrationReject(m) => m.request_seq_num,
            _ => return None,
        })
    }
}

/// Encodes a RAS message in aligned PER (one UDP datagram).
pub fn encode_ras(message: &RasMessage) -> Result<Vec<u8>, Error> {
    rasn::aper::encode(message).map_err(|e| Error::Encode(e.to_string()))
}

/// Decodes a RAS datagram from aligned PER.
pub fn decode_ras(octets: &[u8]) -> Result<RasMessage, Error> {
    rasn::aper::decode(octets).map_err(|e| Error::Decode(e.to_string()))
}

/// `AlternateGK`: another gatekeeper a GCF or RCF names.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct AlternateGk {
    /// Its RAS address.
    pub ras_address: TransportAddress,
    /// Its identifier.
    pub gatekeeper_identifier: Option<GatekeeperIdentifier>,
    /// Whether the endpoint must register with it before use.
    pub need_to_register: bool,
    /// Preference (0 is highest).
    #[rasn(value("0..=127"))]
    pub priority: u8,
}

/// `GatekeeperRequest` (GRQ): gatekeeper discovery.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct GatekeeperRequest {
    /// `RequestSeqNum ::= INTEGER (1..65535)`.
    #[rasn(value("1..=65535"))]
    pub request_seq_num: u16,
    /// H.225.0 version.
    pub protocol_identifier: ObjectIdentifier,
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// Where the gatekeeper should answer.
    pub ras_address: TransportAddress,
    /// What the endpoint is.
    pub endpoint_type: EndpointType,
    /// The gatekeeper wanted, if any.
    pub gatekeeper_identifier: Option<GatekeeperIdentifier>,
    /// Q-series options.
    pub call_services: Option<QseriesOptions>,
    /// The endpoint's aliases.
    pub endpoint_alias: Option<Vec<AliasAddress>>,
}

/// `GatekeeperConfirm` (GCF).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct GatekeeperConfirm {
    /// The GRQ's sequence number.
    #[rasn(value("1..=65535"))]
    pub request_seq_num: u16,
    /// H.225.0 version.
    pub protocol_identifier: ObjectIdentifier,
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// The gatekeeper's identifier.
    pub gatekeeper_identifier: Option<GatekeeperIdentifier>,
    /// Where to send the RRQ.
    pub ras_address: TransportAddress,
}

/// `GatekeeperRejectReason`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
#[allow(missing_docs)] // the module's reason names
pub enum GatekeeperRejectReason {
    ResourceUnavailable(()),
    TerminalExcluded(()),
    InvalidRevision(()),
    UndefinedReason(()),
    #[rasn(extension_addition)]
    SecurityDenial(()),
    #[rasn(extension_addition)]
    GenericDataReason(()),
    #[rasn(extension_addition)]
    NeededFeatureNotSupported(()),
    #[rasn(extension_addition)]
    SecurityError(NotModelled),
}

/// `GatekeeperReject` (GRJ).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct GatekeeperReject {
    /// The GRQ's sequence number.
    #[rasn(value("1..=65535"))]
    pub request_seq_num: u16,
    /// H.225.0 version.
    pub protocol_identifier: ObjectIdentifier,
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// The gatekeeper's identifier.
    pub gatekeeper_identifier: Option<GatekeeperIdentifier>,
    /// Why.
    pub reject_reason: GatekeeperRejectReason,
}

/// `RegistrationRequest` (RRQ), full or lightweight (`keepAlive` TRUE).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct RegistrationRequest {
    /// Sequence number (the same on retransmissions).
    #[rasn(value("1..=65535"))]
    pub request_seq_num: u16,
    /// H.225.0 version.
    pub protocol_identifier: ObjectIdentifier,
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// TRUE after a GRQ/GCF exchange.
    pub discovery_complete: bool,
    /// Where calls for the endpoint go (TCP, H.225.0).
    pub call_signal_address: Vec<TransportAddress>,
    /// Where RAS for the endpoint goes (UDP).
    pub ras_address: Vec<TransportAddress>,
    /// What the endpoint is (a gateway lists its prefixes here).
    pub terminal_type: EndpointType,
    /// The aliases to register.
    pub terminal_alias: Option<Vec<AliasAddress>>,
    /// The gatekeeper registered with.
    pub gatekeeper_identifier: Option<GatekeeperIdentifier>,
    /// Who made the endpoint.
    pub endpoint_vendor: VendorIdentifier,
    /// Alternate endpoints (not modelled).
    #[rasn(extension_addition)]
    pub alternate_endpoints: Option<Vec<NotModelled>>,
    /// `TimeToLive ::= INTEGER (1..4294967295)`, seconds, the lifetime asked for.
    #[rasn(extension_addition, value("1..=4294967295"))]
    pub time_to_live: Option<u32>,
    /// H.235 clear tokens (not modelled).
    #[rasn(extension_addition)]
    pub tokens: Option<Vec<NotModelled>>,
    /// H.235 crypto tokens (not modelled).
    #[rasn(extension_addition)]
    pub crypto_tokens: Option<Vec<NotModelled>>,
    /// Integrity check value (not modelled).
    #[rasn(extension_addition)]
    pub integrity_check_value: Option<NotModelled>,
    /// TRUE for the lightweight re-registration that refreshes the time to live.
    #[rasn(extension_addition)]
    pub keep_alive: Option<bool>,
    /// The identifier the gatekeeper granted (keep-alives carry it).
    // The size is repeated here: as an extension addition (an open type), `rasn`
    // encodes a delegate with the field's constraints, not the type's.
    #[rasn(extension_addition, size("1..=128"))]
    pub endpoint_identifier: Option<EndpointIdentifier>,
    /// Will supply UUIEs in IRRs.
    #[rasn(extension_addition)]
    pub will_supply_uuies: Option<bool>,
    /// Keeps call-signalling connections open.
    #[rasn(extension_addition)]
    pub maintain_connection: Option<bool>,
}

/// `preGrantedARQ` of RCF: calls the gatekeeper lets the endpoint make without asking.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
#[allow(missing_docs)] // the module's flag names
pub struct PreGrantedArq {
    pub make_call: bool,
    pub use_gk_call_signal_address_to_make_call: bool,
    pub answer_call: bool,
    pub use_gk_call_signal_address_to_answer: bool,
    /// Seconds between IRRs in a call.
    #[rasn(extension_addition, value("1..=65535"))]
    pub irr_frequency_in_call: Option<u16>,
    /// `BandWidth`, in 100 bit/s, for all calls together.
    #[rasn(extension_addition, value("0..=4294967295"))]
    pub total_bandwidth_restriction: Option<u32>,
}

/// `RegistrationConfirm` (RCF).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct RegistrationConfirm {
    /// The RRQ's sequence number.
    #[rasn(value("1..=65535"))]
    pub request_seq_num: u16,
    /// H.225.0 version.
    pub protocol_identifier: ObjectIdentifier,
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// The call signalling addresses registered.
    pub call_signal_address: Vec<TransportAddress>,
    /// The aliases registered (the gatekeeper may assign some).
    pub terminal_alias: Option<Vec<AliasAddress>>,
    /// The gatekeeper's identifier.
    pub gatekeeper_identifier: Option<GatekeeperIdentifier>,
    /// The identifier the endpoint uses from now on.
    pub endpoint_identifier: EndpointIdentifier,
    /// Alternate gatekeepers.
    #[rasn(extension_addition)]
    pub alternate_gatekeeper: Option<Vec<AlternateGk>>,
    /// Seconds the registration lives without a keep-alive.
    #[rasn(extension_addition, value("1..=4294967295"))]
    pub time_to_live: Option<u32>,
    /// H.235 clear tokens (not modelled).
    #[rasn(extension_addition)]
    pub tokens: Option<Vec<NotModelled>>,
    /// H.235 crypto tokens (not modelled).
    #[rasn(extension_addition)]
    pub crypto_tokens: Option<Vec<NotModelled>>,
    /// Integrity check value (not modelled).
    #[rasn(extension_addition)]
    pub integrity_check_value: Option<NotModelled>,
    /// Gatekeeper answers IRRs.
    #[rasn(extension_addition)]
    pub will_respond_to_irr: Option<bool>,
    /// Pre-granted admission.
    #[rasn(extension_addition)]
    pub pre_granted_arq: Option<PreGrantedArq>,
    /// Keeps call-signalling connections open.
    #[rasn(extension_addition)]
    pub maintain_connection: Option<bool>,
}

/// `RegistrationRejectReason`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
#[allow(missing_docs)] // the module's reason names
pub enum RegistrationRejectReason {
    DiscoveryRequired(()),
    InvalidRevision(()),
    InvalidCallSignalAddress(()),
    InvalidRasAddress(()),
    DuplicateAlias(Vec<AliasAddress>),
    InvalidTerminalType(()),
    UndefinedReason(()),
    TransportNotSupported(()),
    #[rasn(extension_addition)]
    TransportQosNotSupported(()),
    #[rasn(extension_addition)]
    ResourceUnavailable(()),
    #[rasn(extension_addition)]
    InvalidAlias(()),
    #[rasn(extension_addition)]
    SecurityDenial(()),
    #[rasn(extension_addition)]
    FullRegistrationRequired(()),
    #[rasn(extension_addition)]
    AdditiveRegistrationNotSupported(()),
    #[rasn(extension_addition)]
    InvalidTerminalAliases(NotModelled),
    #[rasn(extension_addition)]
    GenericDataReason(()),
    #[rasn(extension_addition)]
    NeededFeatureNotSupported(()),
    #[rasn(extension_addition)]
    SecurityError(NotModelled),
    #[rasn(extension_addition)]
    RegisterWithAssignedGk(()),
}

/// `RegistrationReject` (RRJ).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct RegistrationReject {
    /// The RRQ's sequence number.
    #[rasn(value("1..=65535"))]
    pub request_seq_num: u16,
    /// H.225.0 version.
    pub protocol_identifier: ObjectIdentifier,
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// Why.
    pub reject_reason: RegistrationRejectReason,
    /// The gatekeeper's identifier.
    pub gatekeeper_identifier: Option<GatekeeperIdentifier>,
}

/// `UnregRequestReason`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
#[allow(missing_docs)] // the module's reason names
pub enum UnregRequestReason {
    ReregistrationRequired(()),
    TtlExpired(()),
    SecurityDenial(()),
    UndefinedReason(()),
    #[rasn(extension_addition)]
    Maintenance(()),
    #[rasn(extension_addition)]
    SecurityError(NotModelled),
    #[rasn(extension_addition)]
    RegisterWithAssignedGk(()),
}

/// `UnregistrationRequest` (URQ), from the endpoint or the gatekeeper.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct UnregistrationRequest {
    /// Sequence number.
    #[rasn(value("1..=65535"))]
    pub request_seq_num: u16,
    /// The call signalling addresses to unregister.
    pub call_signal_address: Vec<TransportAddress>,
    /// The aliases to unregister.
    pub endpoint_alias: Option<Vec<AliasAddress>>,
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// The registered endpoint.
    pub endpoint_identifier: Option<EndpointIdentifier>,
    /// Alternate endpoints (not modelled).
    #[rasn(extension_addition)]
    pub alternate_endpoints: Option<Vec<NotModelled>>,
    /// The gatekeeper.
    // The size is repeated here: as an extension addition (an open type), `rasn`
    // encodes a delegate with the field's constraints, not the type's.
    #[rasn(extension_addition, size("1..=128"))]
    pub gatekeeper_identifier: Option<GatekeeperIdentifier>,
    /// H.235 clear tokens (not modelled).
    #[rasn(extension_addition)]
    pub tokens: Option<Vec<NotModelled>>,
    /// H.235 crypto tokens (not modelled).
    #[rasn(extension_addition)]
    pub crypto_tokens: Option<Vec<NotModelled>>,
    /// Integrity check value (not modelled).
    #[rasn(extension_addition)]
    pub integrity_check_value: Option<NotModelled>,
    /// Why.
    #[rasn(extension_addition)]
    pub reason: Option<UnregRequestReason>,
}

/// `UnregistrationConfirm` (UCF).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct UnregistrationConfirm {
    /// The URQ's sequence number.
    #[rasn(value("1..=65535"))]
    pub request_seq_num: u16,
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
}

impl UnregistrationConfirm {
    /// The confirmation of URQ `request_seq_num`.
    #[must_use]
    pub fn new(request_seq_num: u16) -> Self {
        Self {
            request_seq_num,
            non_standard_data: None,
        }
    }
}

/// `UnregRejectReason`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
#[allow(missing_docs)] // the module's reason names
pub enum UnregRejectReason {
    NotCurrentlyRegistered(()),
    CallInProgress(()),
    UndefinedReason(()),
    #[rasn(extension_addition)]
    PermissionDenied(()),
    #[rasn(extension_addition)]
    SecurityDenial(()),
    #[rasn(extension_addition)]
    SecurityError(NotModelled),
}

/// `UnregistrationReject` (URJ).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct UnregistrationReject {
    /// The URQ's sequence number.
    #[rasn(value("1..=65535"))]
    pub request_seq_num: u16,
    /// Why.
    pub reject_reason: UnregRejectReason,
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
}

/// A BMPString (SIZE (1..128)) identifier from text.
fn identifier(text: &str) -> Result<BmpString, Error> {
    let len = text.chars().count();
    if !(1..=128).contains(&len) {
        return Err(Error::AliasLength(len));
    }
    bmp_string(text).ok_or_else(|| Error::AliasCharacters(text.to_owned()))
}

impl GatekeeperIdentifier {
    /// An identifier from text: 1..128 characters of the Basic Multilingual Plane.
    pub fn new(text: &str) -> Result<Self, Error> {
        identifier(text).map(Self)
    }

    /// The identifier as text.
    #[must_use]
    pub fn text(&self) -> String {
        bmp_text(&self.0)
    }
}

impl EndpointIdentifier {
    /// An identifier from text: 1..128 characters of the Basic Multilingual Plane.
    pub fn new(text: &str) -> Result<Self, Error> {
        identifier(text).map(Self)
    }

    /// The identifier as text.
    #[must_use]
    pub fn text(&self) -> String {
        bmp_text(&self.0)
    }
}

impl GatekeeperConfirm {
    /// A GCF naming the gatekeeper's RAS address.
    #[must_use]
    pub fn new(
        request_seq_num: u16,
        ras_address: TransportAddress,
        gatekeeper_identifier: Option<GatekeeperIdentifier>,
    ) -> Self {
        Self {
            request_seq_num,
            protocol_identifier: super::protocol_identifier(),
            non_standard_data: None,
            gatekeeper_identifier,
            ras_address,
        }
    }
}

impl GatekeeperReject {
    /// A GRJ with this reason.
    #[must_use]
    pub fn new(request_seq_num: u16, reject_reason: GatekeeperRejectReason) -> Self {
        Self {
            request_seq_num,
            protocol_identifier: super::protocol_identifier(),
            non_standard_data: None,
            gatekeeper_identifier: None,
            reject_reason,
        }
    }
}

impl RegistrationConfirm {
    /// An RCF granting `endpoint_identifier` for `time_to_live` seconds (`None`: no expiry).
    #[must_use]
    pub fn new(
        request_seq_num: u16,
        call_signal_address: Vec<TransportAddress>,
        endpoint_identifier: EndpointIdentifier,
        time_to_live: Option<u32>,
    ) -> Self {
        Self {
            request_seq_num,
            protocol_identifier: super::protocol_identifier(),
            non_standard_data: None,
            call_signal_address,
            terminal_alias: None,
            gatekeeper_identifier: None,
            endpoint_identifier,
            alternate_gatekeeper: None,
            time_to_live,
            tokens: None,
            crypto_tokens: None,
            integrity_check_value: None,
            will_respond_to_irr: Some(false),
            pre_granted_arq: None,
            maintain_connection: Some(false),
        }
    }
}

impl RegistrationReject {
    /// An RRJ with this reason.
    #[must_use]
    pub fn new(request_seq_num: u16, reject_reason: RegistrationRejectReason) -> Self {
        Self {
            request_seq_num,
            protocol_identifier: super::protocol_identifier(),
            non_standard_data: None,
            reject_reason,
            gatekeeper_identifier: None,
        }
    }
}

impl UnregistrationRequest {
    /// A URQ for these call signalling addresses and (if known) endpoint identifier.
    #[must_use]
    pub fn new(
        request_seq_num: u16,
        call_signal_address: Vec<TransportAddress>,
        endpoint_identifier: Option<EndpointIdentifier>,
    ) -> Self {
        Self {
            request_seq_num,
            call_signal_address,
            endpoint_alias: None,
            non_standard_data: None,
            endpoint_identifier,
            alternate_endpoints: None,
            gatekeeper_identifier: None,
            tokens: None,
            crypto_tokens: None,
            integrity_check_value: None,
            reason: None,
        }
    }
}

impl UnregistrationReject {
    /// A URJ with this reason.
    #[must_use]
    pub fn new(request_seq_num: u16, reject_reason: UnregRejectReason) -> Self {
        Self {
            request_seq_num,
            reject_reason,
            non_standard_data: None,
        }
    }
}
