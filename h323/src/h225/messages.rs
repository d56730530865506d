//! The H.225.0 call-signalling messages proper: `H323-UserInformation`, `H323-UU-PDU` and the
//! UUIEs of Setup, Call Proceeding, Alerting, Connect, Information, Release Complete and
//! Facility, component for component from H323-MESSAGES (see the parent module's doc for how).
//!
//! Mandatory extension additions (`callIdentifier`, `multipleCalls`, ...) are `Option`s because
//! a version-1 peer leaves them out; ours always sets them.

use super::common::*;
use rasn::prelude::*;

/// `H323-UserInformation`: the root of every call-signalling message.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct UserInformation {
    /// The PDU.
    pub h323_uu_pdu: UuPdu,
    /// Q.931-style user data.
    pub user_data: Option<UserData>,
}

impl UserInformation {
    /// A message with this body, H.245 tunnelling flag and tunnelled H.245 PDUs.
    #[must_use]
    pub fn new(body: MessageBody, h245_tunnelling: bool, h245_control: Vec<OctetString>) -> Self {
        Self {
            h323_uu_pdu: UuPdu {
                h323_message_body: body,
                non_standard_data: None,
                h4501_supplementary_service: None,
                h245_tunnelling: Some(h245_tunnelling),
                h245_control: (!h245_control.is_empty()).then_some(h245_control),
                non_standard_control: None,
                call_linkage: None,
                tunnelled_signalling_message: None,
                provisional_resp_to_h245_tunnelling: None,
                stimulus_control: None,
                generic_data: None,
            },
            user_data: None,
        }
    }
}

/// `user-data` of `H323-UserInformation`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct UserData {
    /// Protocol discriminator.
    #[rasn(value("0..=255"))]
    pub protocol_discriminator: u8,
    /// The data.
    #[rasn(size("1..=131"))]
    pub user_information: OctetString,
}

/// `H323-UU-PDU`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct UuPdu {
    /// Which message.
    pub h323_message_body: MessageBody,
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// H.450 APDUs.
    #[rasn(extension_addition)]
    pub h4501_supplementary_service: Option<Vec<OctetString>>,
    /// Whether H.245 is tunnelled in H.225 (mandatory from version 2 on).
    #[rasn(extension_addition)]
    pub h245_tunnelling: Option<bool>,
    /// Tunnelled H.245 PDUs, each one encoded `MultimediaSystemControlMessage`.
    #[rasn(extension_addition)]
    pub h245_control: Option<Vec<OctetString>>,
    /// Vendor control.
    #[rasn(extension_addition)]
    pub non_standard_control: Option<Vec<NonStandardParameter>>,
    /// Call linkage.
    #[rasn(extension_addition)]
    pub call_linkage: Option<CallLinkage>,
    /// Tunnelled signalling (QSIG, ISUP; not modelled).
    #[rasn(extension_addition)]
    pub tunnelled_signalling_message: Option<NotModelled>,
    /// Provisional response to H.245 tunnelling.
    #[rasn(extension_addition)]
    pub provisional_resp_to_h245_tunnelling: Option<()>,
    /// Stimulus control (not modelled).
    #[rasn(extension_addition)]
    pub stimulus_control: Option<NotModelled>,
    /// Generic data.
    #[rasn(extension_addition)]
    pub generic_data: Option<Vec<GenericData>>,
}

/// `h323-message-body`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum MessageBody {
    /// Setup.
    Setup(Box<Setup>),
    /// Call Proceeding.
    CallProceeding(CallProceeding),
    /// Connect.
    Connect(Connect),
    /// Alerting.
    Alerting(Alerting),
    /// Information.
    Information(Information),
    /// Release Complete.
    ReleaseComplete(ReleaseComplete),
    /// Facility.
    Facility(Box<Facility>),
    /// Progress (not modelled).
    #[rasn(extension_addition)]
    Progress(NotModelled),
    /// A Facility that invokes no Facility-UUIE (carries tunnelled H.245 only).
    #[rasn(extension_addition)]
    Empty(()),
    /// Status (not modelled).
    #[rasn(extension_addition)]
    Status(NotModelled),
    /// Status Inquiry (not modelled).
    #[rasn(extension_addition)]
    StatusInquiry(NotModelled),
    /// Setup Acknowledge (not modelled).
    #[rasn(extension_addition)]
    SetupAcknowledge(NotModelled),
    /// Notify (not modelled).
    #[rasn(extension_addition)]
    Notify(NotModelled),
}

/// `conferenceGoal` of Setup.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum ConferenceGoal {
    /// Create a conference (an ordinary call).
    Create(()),
    /// Join.
    Join(()),
    /// Invite.
    Invite(()),
    /// Capability negotiation.
    #[rasn(extension_addition)]
    CapabilityNegotiation(()),
    /// Call-independent supplementary service.
    #[rasn(extension_addition)]
    CallIndependentSupplementaryService(()),
}

/// `CallType`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum CallType {
    /// Point to point.
    PointToPoint(()),
    /// One to many.
    OneToN(()),
    /// Many to one.
    NToOne(()),
    /// Many to many.
    NToN(()),
}

/// `Q954Details`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct Q954Details {
    /// Conference calling.
    pub conference_calling: bool,
    /// Three-party service.
    pub three_party_service: bool,
}

/// `QseriesOptions`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct QseriesOptions {
    /// Q.932.
    pub q932_full: bool,
    /// Q.951.
    pub q951_full: bool,
    /// Q.952.
    pub q952_full: bool,
    /// Q.953.
    pub q953_full: bool,
    /// Q.955.
    pub q955_full: bool,
    /// Q.956.
    pub q956_full: bool,
    /// Q.957.
    pub q957_full: bool,
    /// Q.954.
    pub q954_info: Q954Details,
}

/// `ScnConnectionType`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum ScnConnectionType {
    /// Unknown.
    Unknown(()),
    /// 64 kbit/s B channels.
    BChannel(()),
    /// 2x64.
    Hybrid2x64(()),
    /// H0.
    Hybrid384(()),
    /// H11.
    Hybrid1536(()),
    /// H12.
    Hybrid1920(()),
    /// Multirate.
    Multirate(()),
}

/// `ScnConnectionAggregation`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum ScnConnectionAggregation {
    /// Unknown mechanism.
    Auto(()),
    /// Single connection.
    None(()),
    /// H.221 framing.
    H221(()),
    /// Bonding mode 1.
    BondedMode1(()),
    /// Bonding mode 2.
    BondedMode2(()),
    /// Bonding mode 3.
    BondedMode3(()),
}

/// `connectionParameters` of Setup.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct ConnectionParameters {
    /// Connection type.
    pub connection_type: ScnConnectionType,
    /// Number of SCN connections.
    #[rasn(value("0..=65535"))]
    pub number_of_scn_connections: u16,
    /// Aggregation.
    pub connection_aggregation: ScnConnectionAggregation,
}

/// An RFC 1766 language tag, `IA5String (SIZE (1..32))`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(delegate, size("1..=32"))]
pub struct LanguageTag(pub Ia5String);

/// `EndpointIdentifier ::= BMPString (SIZE (1..128))`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(delegate, size("1..=128"))]
pub struct EndpointIdentifier(pub BmpString);

/// `Setup-UUIE`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct Setup {
    /// H.225.0 version of the sender.
    pub protocol_identifier: ObjectIdentifier,
    /// Where the caller's H.245 channel listens.
    pub h245_address: Option<TransportAddress>,
    /// The caller's aliases.
    pub source_address: Option<Vec<AliasAddress>>,
    /// What the caller is.
    pub source_info: EndpointType,
    /// What the caller dialled.
    pub destination_address: Option<Vec<AliasAddress>>,
    /// The address the call was sent to.
    pub dest_call_signal_address: Option<TransportAddress>,
    /// Extra call information.
    pub dest_extra_call_info: Option<Vec<AliasAddress>>,
    /// Extra CRVs.
    pub dest_extra_crv: Option<Vec<CallReferenceValue>>,
    /// Caller has an active MC.
    pub active_mc: bool,
    /// Conference identifier.
    pub conference_id: GloballyUniqueId,
    /// What the call is for.
    pub conference_goal: ConferenceGoal,
    /// Q-series options.
    pub call_services: Option<QseriesOptions>,
    /// Call type.
    pub call_type: CallType,
    /// The caller's signalling address.
    #[rasn(extension_addition)]
    pub source_call_signal_address: Option<TransportAddress>,
    /// Remote extension.
    #[rasn(extension_addition)]
    pub remote_extension_address: Option<AliasAddress>,
    /// Call identifier.
    #[rasn(extension_addition)]
    pub call_identifier: Option<CallIdentifier>,
    /// H.245 security capabilities.
    #[rasn(extension_addition)]
    pub h245_security_capability: Option<Vec<H245Security>>,
    /// H.235 clear tokens (not modelled).
    #[rasn(extension_addition)]
    pub tokens: Option<Vec<NotModelled>>,
    /// H.235 crypto tokens (not modelled).
    #[rasn(extension_addition)]
    pub crypto_tokens: Option<Vec<NotModelled>>,
    /// Fast Start proposals: each an encoded H.245 `OpenLogicalChannel`.
    #[rasn(extension_addition)]
    pub fast_start: Option<Vec<OctetString>>,
    /// Media waits for Connect.
    #[rasn(extension_addition)]
    pub media_wait_for_connect: Option<bool>,
    /// Overlap sending possible.
    #[rasn(extension_addition)]
    pub can_overlap_send: Option<bool>,
    /// Endpoint identifier from the gatekeeper.
    // The size is repeated here: as an extension addition (an open type), `rasn`
    // encodes a delegate with the field's constraints, not the type's.
    #[rasn(extension_addition, size("1..=128"))]
    pub endpoint_identifier: Option<EndpointIdentifier>,
    /// Multiple calls per connection.
    #[rasn(extension_addition)]
    pub multiple_calls: Option<bool>,
    /// Keep the TCP connection after the call.
    #[rasn(extension_addition)]
    pub maintain_connection: Option<bool>,
    /// Gateway connection parameters.
    #[rasn(extension_addition)]
    pub connection_parameters: Option<ConnectionParameters>,
    /// Languages.
    #[rasn(extension_addition)]
    pub language: Option<Vec<LanguageTag>>,
    /// Presentation.
    #[rasn(extension_addition)]
    pub presentation_indicator: Option<PresentationIndicator>,
    /// Screening.
    #[rasn(extension_addition)]
    pub screening_indicator: Option<ScreeningIndicator>,
    /// Service control (not modelled).
    #[rasn(extension_addition)]
    pub service_control: Option<Vec<NotModelled>>,
    /// Symmetric operation required.
    #[rasn(extension_addition)]
    pub symmetric_operation_required: Option<()>,
    /// Call capacity (not modelled).
    #[rasn(extension_addition)]
    pub capacity: Option<NotModelled>,
    /// Circuit info (not modelled).
    #[rasn(extension_addition)]
    pub circuit_info: Option<NotModelled>,
    /// Desired protocols.
    #[rasn(extension_addition)]
    pub desired_protocols: Option<Vec<SupportedProtocols>>,
    /// Needed features.
    #[rasn(extension_addition)]
    pub needed_features: Option<Vec<GenericData>>,
    /// Desired features.
    #[rasn(extension_addition)]
    pub desired_features: Option<Vec<GenericData>>,
    /// Supported features.
    #[rasn(extension_addition)]
    pub supported_features: Option<Vec<GenericData>>,
    /// Parallel H.245 (H.460.? style).
    #[rasn(extension_addition)]
    pub parallel_h245_control: Option<Vec<OctetString>>,
    /// Additional source addresses.
    #[rasn(extension_addition)]
    pub additional_source_addresses: Option<Vec<ExtendedAliasAddress>>,
    /// Hop count.
    #[rasn(extension_addition, value("1..=31"))]
    pub hop_count: Option<u8>,
    /// Display name.
    #[rasn(extension_addition)]
    pub display_name: Option<Vec<DisplayName>>,
}

impl Setup {
    /// A Setup for a point-to-point call to `destination` with the version-4 mandatory
    /// components set and everything optional absent.
    #[must_use]
    pub fn new(
        source_info: EndpointType,
        destination: Vec<AliasAddress>,
        conference_id: [u8; 16],
        call_identifier: CallIdentifier,
    ) -> Self {
        Self {
            protocol_identifier: super::protocol_identifier(),
            h245_address: None,
            source_address: None,
            source_info,
            destination_address: Some(destination),
            dest_call_signal_address: None,
            dest_extra_call_info: None,
            dest_extra_crv: None,
            active_mc: false,
            conference_id: GloballyUniqueId(OctetString::from_slice(&conference_id)),
            conference_goal: ConferenceGoal::Create(()),
            call_services: None,
            call_type: CallType::PointToPoint(()),
            source_call_signal_address: None,
            remote_extension_address: None,
            call_identifier: Some(call_identifier),
            h245_security_capability: None,
            tokens: None,
            crypto_tokens: None,
            fast_start: None,
            media_wait_for_connect: Some(false),
            can_overlap_send: Some(false),
            endpoint_identifier: None,
            multiple_calls: Some(false),
            maintain_connection: Some(false),
            connection_parameters: None,
            language: None,
            presentation_indicator: None,
            screening_indicator: None,
            service_control: None,
            symmetric_operation_required: None,
            capacity: None,
            circuit_info: None,
            desired_protocols: None,
            needed_features: None,
            desired_features: None,
            supported_features: None,
            parallel_h245_control: None,
            additional_source_addresses: None,
            hop_count: None,
            display_name: None,
        }
    }
}

/// `CallProceeding-UUIE`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct CallProceeding {
    /// Version.
    pub protocol_identifier: ObjectIdentifier,
    /// What the callee is.
    pub destination_info: EndpointType,
    /// Where the callee's H.245 channel listens.
    pub h245_address: Option<TransportAddress>,
    /// Call identifier.
    #[rasn(extension_addition)]
    pub call_identifier: Option<CallIdentifier>,
    /// H.245 security mode.
    #[rasn(extension_addition)]
    pub h245_security_mode: Option<H245Security>,
    /// Tokens (not modelled).
    #[rasn(extension_addition)]
    pub tokens: Option<Vec<NotModelled>>,
    /// Crypto tokens (not modelled).
    #[rasn(extension_addition)]
    pub crypto_tokens: Option<Vec<NotModelled>>,
    /// Fast Start answers.
    #[rasn(extension_addition)]
    pub fast_start: Option<Vec<OctetString>>,
    /// Multiple calls.
    #[rasn(extension_addition)]
    pub multiple_calls: Option<bool>,
    /// Maintain connection.
    #[rasn(extension_addition)]
    pub maintain_connection: Option<bool>,
    /// Fast Start refused.
    #[rasn(extension_addition)]
    pub fast_connect_refused: Option<()>,
    /// Feature set (not modelled).
    #[rasn(extension_addition)]
    pub feature_set: Option<NotModelled>,
}

/// `Alerting-UUIE`: the same components as Call Proceeding, then more.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct Alerting {
    /// Version.
    pub protocol_identifier: ObjectIdentifier,
    /// What the callee is.
    pub destination_info: EndpointType,
    /// H.245 address.
    pub h245_address: Option<TransportAddress>,
    /// Call identifier.
    #[rasn(extension_addition)]
    pub call_identifier: Option<CallIdentifier>,
    /// H.245 security mode.
    #[rasn(extension_addition)]
    pub h245_security_mode: Option<H245Security>,
    /// Tokens (not modelled).
    #[rasn(extension_addition)]
    pub tokens: Option<Vec<NotModelled>>,
    /// Crypto tokens (not modelled).
    #[rasn(extension_addition)]
    pub crypto_tokens: Option<Vec<NotModelled>>,
    /// Fast Start answers.
    #[rasn(extension_addition)]
    pub fast_start: Option<Vec<OctetString>>,
    /// Multiple calls.
    #[rasn(extension_addition)]
    pub multiple_calls: Option<bool>,
    /// Maintain connection.
    #[rasn(extension_addition)]
    pub maintain_connection: Option<bool>,
    /// Alerting address.
    #[rasn(extension_addition)]
    pub alerting_address: Option<Vec<AliasAddress>>,
    /// Presentation.
    #[rasn(extension_addition)]
    pub presentation_indicator: Option<PresentationIndicator>,
    /// Screening.
    #[rasn(extension_addition)]
    pub screening_indicator: Option<ScreeningIndicator>,
    /// Fast Start refused.
    #[rasn(extension_addition)]
    pub fast_connect_refused: Option<()>,
    /// Service control (not modelled).
    #[rasn(extension_addition)]
    pub service_control: Option<Vec<NotModelled>>,
    /// Capacity (not modelled).
    #[rasn(extension_addition)]
    pub capacity: Option<NotModelled>,
    /// Feature set (not modelled).
    #[rasn(extension_addition)]
    pub feature_set: Option<NotModelled>,
    /// Display name.
    #[rasn(extension_addition)]
    pub display_name: Option<Vec<DisplayName>>,
}

/// `Connect-UUIE`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct Connect {
    /// Version.
    pub protocol_identifier: ObjectIdentifier,
    /// H.245 address.
    pub h245_address: Option<TransportAddress>,
    /// What the callee is.
    pub destination_info: EndpointType,
    /// Conference identifier (the Setup's).
    pub conference_id: GloballyUniqueId,
    /// Call identifier.
    #[rasn(extension_addition)]
    pub call_identifier: Option<CallIdentifier>,
    /// H.245 security mode.
    #[rasn(extension_addition)]
    pub h245_security_mode: Option<H245Security>,
    /// Tokens (not modelled).
    #[rasn(extension_addition)]
    pub tokens: Option<Vec<NotModelled>>,
    /// Crypto tokens (not modelled).
    #[rasn(extension_addition)]
    pub crypto_tokens: Option<Vec<NotModelled>>,
    /// Accepted Fast Start channels.
    #[rasn(extension_addition)]
    pub fast_start: Option<Vec<OctetString>>,
    /// Multiple calls.
    #[rasn(extension_addition)]
    pub multiple_calls: Option<bool>,
    /// Maintain connection.
    #[rasn(extension_addition)]
    pub maintain_connection: Option<bool>,
    /// Languages.
    #[rasn(extension_addition)]
    pub language: Option<Vec<LanguageTag>>,
    /// Connected address.
    #[rasn(extension_addition)]
    pub connected_address: Option<Vec<AliasAddress>>,
    /// Presentation.
    #[rasn(extension_addition)]
    pub presentation_indicator: Option<PresentationIndicator>,
    /// Screening.
    #[rasn(extension_addition)]
    pub screening_indicator: Option<ScreeningIndicator>,
    /// Fast Start refused.
    #[rasn(extension_addition)]
    pub fast_connect_refused: Option<()>,
    /// Service control (not modelled).
    #[rasn(extension_addition)]
    pub service_control: Option<Vec<NotModelled>>,
    /// Capacity (not modelled).
    #[rasn(extension_addition)]
    pub capacity: Option<NotModelled>,
    /// Feature set (not modelled).
    #[rasn(extension_addition)]
    pub feature_set: Option<NotModelled>,
    /// Display name.
    #[rasn(extension_addition)]
    pub display_name: Option<Vec<DisplayName>>,
}

/// `Information-UUIE`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct Information {
    /// Version.
    pub protocol_identifier: ObjectIdentifier,
    /// Call identifier.
    #[rasn(extension_addition)]
    pub call_identifier: Option<CallIdentifier>,
    /// Tokens (not modelled).
    #[rasn(extension_addition)]
    pub tokens: Option<Vec<NotModelled>>,
    /// Crypto tokens (not modelled).
    #[rasn(extension_addition)]
    pub crypto_tokens: Option<Vec<NotModelled>>,
    /// Fast Start.
    #[rasn(extension_addition)]
    pub fast_start: Option<Vec<OctetString>>,
    /// Fast Start refused.
    #[rasn(extension_addition)]
    pub fast_connect_refused: Option<()>,
    /// Circuit info (not modelled).
    #[rasn(extension_addition)]
    pub circuit_info: Option<NotModelled>,
}

/// `ReleaseCompleteReason`: why a call ended, in H.225.0 terms. Tessera's causes map onto
/// these in `crate::call`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum ReleaseCompleteReason {
    /// Bandwidth taken away.
    NoBandwidth(()),
    /// Gatekeeper resources exhausted.
    GatekeeperResources(()),
    /// No transport path.
    UnreachableDestination(()),
    /// Rejected at the destination.
    DestinationRejection(()),
    /// Invalid revision.
    InvalidRevision(()),
    /// No permission.
    NoPermission(()),
    /// Gatekeeper unreachable.
    UnreachableGatekeeper(()),
    /// Gateway resources exhausted.
    GatewayResources(()),
    /// Bad address format.
    BadFormatAddress(()),
    /// LAN crowding.
    AdaptiveBusy(()),
    /// Called party busy.
    InConf(()),
    /// Undefined.
    UndefinedReason(()),
    /// Deflected.
    #[rasn(extension_addition)]
    FacilityCallDeflection(()),
    /// Security settings incompatible.
    #[rasn(extension_addition)]
    SecurityDenied(()),
    /// Called party not registered.
    #[rasn(extension_addition)]
    CalledPartyNotRegistered(()),
    /// Caller not registered.
    #[rasn(extension_addition)]
    CallerNotRegistered(()),
    /// New connection needed.
    #[rasn(extension_addition)]
    NewConnectionNeeded(()),
    /// Vendor reason.
    #[rasn(extension_addition)]
    NonStandardReason(NonStandardParameter),
    /// Replaced by a conference invite. (The size is repeated: see `endpoint_identifier`
    /// of Setup.)
    #[rasn(extension_addition, size("16"))]
    ReplaceWithConferenceInvite(GloballyUniqueId),
    /// Generic data reason.
    #[rasn(extension_addition)]
    GenericDataReason(()),
    /// A needed feature is not supported.
    #[rasn(extension_addition)]
    NeededFeatureNotSupported(()),
    /// Tunnelled signalling rejected.
    #[rasn(extension_addition)]
    TunnelledSignallingRejected(()),
    /// Invalid conference id.
    #[rasn(extension_addition)]
    InvalidCid(()),
    /// Security error (not modelled).
    #[rasn(extension_addition)]
    SecurityError(NotModelled),
    /// Hop count exceeded.
    #[rasn(extension_addition)]
    HopCountExceeded(()),
}

/// `ReleaseComplete-UUIE`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct ReleaseComplete {
    /// Version.
    pub protocol_identifier: ObjectIdentifier,
    /// Why.
    pub reason: Option<ReleaseCompleteReason>,
    /// Call identifier.
    #[rasn(extension_addition)]
    pub call_identifier: Option<CallIdentifier>,
    /// Tokens (not modelled).
    #[rasn(extension_addition)]
    pub tokens: Option<Vec<NotModelled>>,
    /// Crypto tokens (not modelled).
    #[rasn(extension_addition)]
    pub crypto_tokens: Option<Vec<NotModelled>>,
    /// Busy address.
    #[rasn(extension_addition)]
    pub busy_address: Option<Vec<AliasAddress>>,
    /// Presentation.
    #[rasn(extension_addition)]
    pub presentation_indicator: Option<PresentationIndicator>,
    /// Screening.
    #[rasn(extension_addition)]
    pub screening_indicator: Option<ScreeningIndicator>,
    /// Capacity (not modelled).
    #[rasn(extension_addition)]
    pub capacity: Option<NotModelled>,
    /// Service control (not modelled).
    #[rasn(extension_addition)]
    pub service_control: Option<Vec<NotModelled>>,
    /// Feature set (not modelled).
    #[rasn(extension_addition)]
    pub feature_set: Option<NotModelled>,
    /// Destination info.
    #[rasn(extension_addition)]
    pub destination_info: Option<EndpointType>,
    /// Display name.
    #[rasn(extension_addition)]
    pub display_name: Option<Vec<DisplayName>>,
}

impl ReleaseComplete {
    /// A Release Complete with a reason and the call's identifier.
    #[must_use]
    pub fn new(reason: ReleaseCompleteReason, call_identifier: Option<CallIdentifier>) -> Self {
        Self {
            protocol_identifier: super::protocol_identifier(),
            reason: Some(reason),
            call_identifier,
            tokens: None,
            crypto_tokens: None,
            busy_address: None,
            presentation_indicator: None,
            screening_indicator: None,
            capacity: None,
            service_control: None,
            feature_set: None,
            destination_info: None,
            display_name: None,
        }
    }
}

/// `FacilityReason`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum FacilityReason {
    /// Use the gatekeeper.
    RouteCallToGatekeeper(()),
    /// Forwarded.
    CallForwarded(()),
    /// Route to MC.
    RouteCallToMc(()),
    /// Undefined.
    UndefinedReason(()),
    /// Conference list.
    #[rasn(extension_addition)]
    ConferenceListChoice(()),
    /// Connect to `h245Address` for H.245.
    #[rasn(extension_addition)]
    StartH245(()),
    /// No H.245.
    #[rasn(extension_addition)]
    NoH245(()),
    /// New tokens.
    #[rasn(extension_addition)]
    NewTokens(()),
    /// Feature set update.
    #[rasn(extension_addition)]
    FeatureSetUpdate(()),
    /// Forwarded elements.
    #[rasn(extension_addition)]
    ForwardedElements(()),
    /// Transported information.
    #[rasn(extension_addition)]
    TransportedInformation(()),
}

/// `Facility-UUIE`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct Facility {
    /// Version.
    pub protocol_identifier: ObjectIdentifier,
    /// Alternative address.
    pub alternative_address: Option<TransportAddress>,
    /// Alternative aliases.
    pub alternative_alias_address: Option<Vec<AliasAddress>>,
    /// Conference identifier.
    pub conference_id: Option<GloballyUniqueId>,
    /// Why.
    pub reason: FacilityReason,
    /// Call identifier.
    #[rasn(extension_addition)]
    pub call_identifier: Option<CallIdentifier>,
    /// Extra call info.
    #[rasn(extension_addition)]
    pub dest_extra_call_info: Option<Vec<AliasAddress>>,
    /// Remote extension.
    #[rasn(extension_addition)]
    pub remote_extension_address: Option<AliasAddress>,
    /// Tokens (not modelled).
    #[rasn(extension_addition)]
    pub tokens: Option<Vec<NotModelled>>,
    /// Crypto tokens (not modelled).
    #[rasn(extension_addition)]
    pub crypto_tokens: Option<Vec<NotModelled>>,
    /// Conference list (not modelled).
    #[rasn(extension_addition)]
    pub conferences: Option<Vec<NotModelled>>,
    /// H.245 address (with `startH245`).
    #[rasn(extension_addition)]
    pub h245_address: Option<TransportAddress>,
    /// Fast Start.
    #[rasn(extension_addition)]
    pub fast_start: Option<Vec<OctetString>>,
    /// Multiple calls.
    #[rasn(extension_addition)]
    pub multiple_calls: Option<bool>,
    /// Maintain connection.
    #[rasn(extension_addition)]
    pub maintain_connection: Option<bool>,
}

/// A Call Proceeding answering a Setup, with Fast Start answers and the H.245 address when
/// the caller gets them at this point.
#[must_use]
pub fn call_proceeding(
    destination_info: EndpointType,
    call_identifier: Option<CallIdentifier>,
    fast_start: Option<Vec<OctetString>>,
    h245_address: Option<TransportAddress>,
) -> CallProceeding {
    CallProceeding {
        protocol_identifier: super::protocol_identifier(),
        destination_info,
        h245_address,
        call_identifier,
        h245_security_mode: None,
        tokens: None,
        crypto_tokens: None,
        fast_start,
        multiple_calls: Some(false),
        maintain_connection: Some(false),
        fast_connect_refused: None,
        feature_set: None,
    }
}

/// An Alerting (same components as [`call_proceeding`]).
#[must_use]
pub fn alerting(
    destination_info: EndpointType,
    call_identifier: Option<CallIdentifier>,
    fast_start: Option<Vec<OctetString>>,
    h245_address: Option<TransportAddress>,
) -> Alerting {
    Alerting {
        protocol_identifier: super::protocol_identifier(),
        destination_info,
        h245_address,
        call_identifier,
        h245_security_mode: None,
        tokens: None,
        crypto_tokens: None,
        fast_start,
        multiple_calls: Some(false),
        maintain_connection: Some(false),
        alerting_address: None,
        presentation_indicator: None,
        screening_indicator: None,
        fast_connect_refused: None,
        service_control: None,
        capacity: None,
        feature_set: None,
        display_name: None,
    }
}

/// A Connect for the conference `conference_id` (the Setup's).
#[must_use]
pub fn connect(
    destination_info: EndpointType,
    conference_id: [u8; 16],
    call_identifier: Option<CallIdentifier>,
    fast_start: Option<Vec<OctetString>>,
    h245_address: Option<TransportAddress>,
) -> Connect {
    Connect {
        protocol_identifier: super::protocol_identifier(),
        h245_address,
        destination_info,
        conference_id: GloballyUniqueId(OctetString::from_slice(&conference_id)),
        call_identifier,
        h245_security_mode: None,
        tokens: None,
        crypto_tokens: None,
        fast_start,
        multiple_calls: Some(false),
        maintain_connection: Some(false),
        language: None,
        connected_address: None,
        presentation_indicator: None,
        screening_indicator: None,
        fast_connect_refused: None,
        service_control: None,
        capacity: None,
        feature_set: None,
        display_name: None,
    }
}

/// A Facility with a reason (`startH245` with the H.245 address for the separate channel).
#[must_use]
pub fn facility(
    reason: FacilityReason,
    call_identifier: Option<CallIdentifier>,
    h245_address: Option<TransportAddress>,
) -> Facility {
    Facility {
        protocol_identifier: super::protocol_identifier(),
        alternative_address: None,
        alternative_alias_address: None,
        conference_id: None,
        reason,
        call_identifier,
        dest_extra_call_info: None,
        remote_extension_address: None,
        tokens: None,
        crypto_tokens: None,
        conferences: None,
        h245_address,
        fast_start: None,
        multiple_calls: Some(false),
        maintain_connection: Some(false),
    }
}
