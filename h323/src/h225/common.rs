//! The common message elements of H.225.0 (module H323-MESSAGES, "Beginning of common message
//! elements section"): addresses, aliases, endpoint types, identifiers and generic data, derived
//! as `rasn` types field for field from the ITU module (the 12/2009 edition Wireshark carries).
//!
//! Owns only the ASN.1 shapes; what a value means for a call is `crate::call`'s business. Each
//! type keeps the module's extension markers (`#[non_exhaustive]` plus `extension_addition`) and
//! PER-visible constraints, because aligned PER encodes both on the wire: a missing marker or
//! constraint would be a different bit layout, not a looser type.

use rasn::prelude::*;

/// A component of the ITU module this crate does not model (H.235 tokens, call capacity,
/// circuit information, service control, T.38 fax capabilities). It keeps the component's place
/// in its SEQUENCE or CHOICE, so everything around it encodes and decodes as the module says;
/// a message that actually carries one is refused with a clear error instead of being misread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotModelled;

impl AsnType for NotModelled {
    const TAG: Tag = Tag::EOC;
}

impl Encode for NotModelled {
    fn encode_with_tag_and_constraints<'b, E: Encoder<'b>>(
        &self,
        encoder: &mut E,
        _tag: Tag,
        _constraints: &Constraints,
        _identifier: Identifier,
    ) -> Result<(), E::Error> {
        Err(rasn::enc::Error::custom(
            "this H.225.0 component is not modelled and cannot be sent",
            encoder.codec(),
        ))
    }
}

impl Decode for NotModelled {
    fn decode_with_tag_and_constraints<D: Decoder>(
        decoder: &mut D,
        _tag: Tag,
        _constraints: &Constraints,
    ) -> Result<Self, D::Error> {
        Err(rasn::de::Error::custom(
            "the message carries an H.225.0 component Tessera does not support \
             (H.235 security tokens, call capacity, circuit info, service control or T.38)",
            decoder.codec(),
        ))
    }
}

/// `GloballyUniqueID ::= OCTET STRING (SIZE (16))`: conference and call identifiers.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(delegate, size("16"))]
pub struct GloballyUniqueId(pub OctetString);

/// `CallIdentifier ::= SEQUENCE { guid GloballyUniqueID, ... }`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct CallIdentifier {
    /// The call's identifier, the same on every message of the call.
    pub guid: GloballyUniqueId,
}

impl CallIdentifier {
    /// A call identifier from its 16 octets.
    #[must_use]
    pub fn new(guid: [u8; 16]) -> Self {
        Self {
            guid: GloballyUniqueId(OctetString::from_slice(&guid)),
        }
    }
}

/// `CallReferenceValue ::= INTEGER (0..65535)`.
#[derive(AsnType, Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[rasn(delegate, value("0..=65535"))]
pub struct CallReferenceValue(pub u16);

/// `H221NonStandard`: a vendor by T.35 country code and manufacturer code.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct H221NonStandard {
    /// T.35 country code.
    #[rasn(value("0..=255"))]
    pub t35_country_code: u8,
    /// T.35 extension.
    #[rasn(value("0..=255"))]
    pub t35_extension: u8,
    /// Manufacturer code assigned by the country's T.35 authority.
    #[rasn(value("0..=65535"))]
    pub manufacturer_code: u16,
}

/// `NonStandardIdentifier ::= CHOICE { object, h221NonStandard, ... }`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum NonStandardIdentifier {
    /// Identified by an object identifier.
    Object(ObjectIdentifier),
    /// Identified by a T.35 vendor code.
    H221NonStandard(H221NonStandard),
}

/// `NonStandardParameter ::= SEQUENCE { nonStandardIdentifier, data OCTET STRING }` (no
/// extension marker in the module).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
pub struct NonStandardParameter {
    /// Whose parameter this is.
    pub non_standard_identifier: NonStandardIdentifier,
    /// The vendor's data, opaque to us.
    pub data: OctetString,
}

/// `ipAddress` of `TransportAddress`: IPv4 and port (no extension marker).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
pub struct IpAddress {
    /// The four octets of the address.
    #[rasn(size("4"))]
    pub ip: OctetString,
    /// The TCP or UDP port.
    #[rasn(value("0..=65535"))]
    pub port: u16,
}

/// `ipSourceRoute`'s `routing` choice.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum SourceRouting {
    /// Strict source routing.
    Strict(()),
    /// Loose source routing.
    Loose(()),
}

/// A four-octet hop of an IPv4 source route.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(delegate, size("4"))]
pub struct RouteHop(pub OctetString);

/// `ipSourceRoute` of `TransportAddress`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct IpSourceRoute {
    /// The four octets of the address.
    #[rasn(size("4"))]
    pub ip: OctetString,
    /// The port.
    #[rasn(value("0..=65535"))]
    pub port: u16,
    /// The hops.
    pub route: Vec<RouteHop>,
    /// Strict or loose.
    pub routing: SourceRouting,
}

/// `ipxAddress` of `TransportAddress` (no extension marker).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
pub struct IpxAddress {
    /// Node.
    #[rasn(size("6"))]
    pub node: OctetString,
    /// Network number.
    #[rasn(size("4"))]
    pub netnum: OctetString,
    /// Port.
    #[rasn(size("2"))]
    pub port: OctetString,
}

/// `ip6Address` of `TransportAddress`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct Ip6Address {
    /// The sixteen octets of the address.
    #[rasn(size("16"))]
    pub ip: OctetString,
    /// The port.
    #[rasn(value("0..=65535"))]
    pub port: u16,
}

/// `TransportAddress`: where a call-signalling or H.245 channel listens.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum TransportAddress {
    /// IPv4 address and port.
    IpAddress(IpAddress),
    /// IPv4 with a source route.
    IpSourceRoute(IpSourceRoute),
    /// IPX.
    IpxAddress(IpxAddress),
    /// IPv6 address and port.
    Ip6Address(Ip6Address),
    /// NetBIOS name.
    #[rasn(size("16"))]
    NetBios(OctetString),
    /// OSI NSAP.
    #[rasn(size("1..=20"))]
    Nsap(OctetString),
    /// Vendor-specific.
    NonStandardAddress(NonStandardParameter),
}

impl TransportAddress {
    /// The transport address of a socket address.
    #[must_use]
    pub fn from_socket(addr: std::net::SocketAddr) -> Self {
        match addr {
            std::net::SocketAddr::V4(v4) => Self::IpAddress(IpAddress {
                ip: OctetString::from_slice(&v4.ip().octets()),
                port: v4.port(),
            }),
            std::net::SocketAddr::V6(v6) => Self::Ip6Address(Ip6Address {
                ip: OctetString::from_slice(&v6.ip().octets()),
                port: v6.port(),
            }),
        }
    }

    /// The socket address, for the IP forms; `None` for the others (IPX, NetBIOS, ...), which
    /// Tessera cannot reach.
    #[must_use]
    pub fn to_socket(&self) -> Option<std::net::SocketAddr> {
        match self {
            Self::IpAddress(a) => {
                let ip: [u8; 4] = a.ip.as_ref().try_into().ok()?;
                Some((std::net::Ipv4Addr::from(ip), a.port).into())
            }
            Self::Ip6Address(a) => {
                let ip: [u8; 16] = a.ip.as_ref().try_into().ok()?;
                Some((std::net::Ipv6Addr::from(ip), a.port).into())
            }
            _ => None,
        }
    }
}

/// `NumberDigits ::= IA5String (SIZE (1..128)) (FROM ("0123456789#*,"))`, also the type of
/// `dialledDigits`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(delegate, from("#", "*", ",", "0..=9"), size("1..=128"))]
pub struct NumberDigits(pub Ia5String);

/// `PublicTypeOfNumber`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum PublicTypeOfNumber {
    /// Unknown.
    Unknown(()),
    /// International.
    InternationalNumber(()),
    /// National.
    NationalNumber(()),
    /// Network specific.
    NetworkSpecificNumber(()),
    /// Subscriber.
    SubscriberNumber(()),
    /// Abbreviated.
    AbbreviatedNumber(()),
}

/// `PrivateTypeOfNumber`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum PrivateTypeOfNumber {
    /// Unknown.
    Unknown(()),
    /// Level 2 regional.
    Level2RegionalNumber(()),
    /// Level 1 regional.
    Level1RegionalNumber(()),
    /// PISN specific.
    PISNSpecificNumber(()),
    /// Local.
    LocalNumber(()),
    /// Abbreviated.
    AbbreviatedNumber(()),
}

/// `PublicPartyNumber` (no extension marker).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
pub struct PublicPartyNumber {
    /// Type of number.
    pub public_type_of_number: PublicTypeOfNumber,
    /// Digits.
    pub public_number_digits: NumberDigits,
}

/// `PrivatePartyNumber` (no extension marker).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
pub struct PrivatePartyNumber {
    /// Type of number.
    pub private_type_of_number: PrivateTypeOfNumber,
    /// Digits.
    pub private_number_digits: NumberDigits,
}

/// `PartyNumber`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum PartyNumber {
    /// E.164 number.
    E164Number(PublicPartyNumber),
    /// Reserved.
    DataPartyNumber(NumberDigits),
    /// Reserved.
    TelexPartyNumber(NumberDigits),
    /// ISO/IEC 11571 private number.
    PrivateNumber(PrivatePartyNumber),
    /// Reserved.
    NationalStandardPartyNumber(NumberDigits),
}

/// `AliasAddress`: how a caller names the callee (and itself). The dial string arrives as
/// `dialledDigits`, `h323-ID` or `url-ID`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum AliasAddress {
    /// E.164-style digits (`0123456789#*,`).
    DialledDigits(NumberDigits),
    /// Free-form name, UCS-2.
    #[rasn(size("1..=256"))]
    H323Id(BmpString),
    /// URL-style address (`h323:user@host`).
    #[rasn(extension_addition, size("1..=512"))]
    UrlId(Ia5String),
    /// A transport address as alias.
    #[rasn(extension_addition)]
    TransportId(TransportAddress),
    /// RFC 822 e-mail address.
    #[rasn(extension_addition, size("1..=512"))]
    EmailId(Ia5String),
    /// A party number.
    #[rasn(extension_addition)]
    PartyNumber(PartyNumber),
    /// Mobile user identity (not modelled).
    #[rasn(extension_addition)]
    MobileUim(NotModelled),
    /// ISUP number (not modelled).
    #[rasn(extension_addition)]
    IsupNumber(NotModelled),
}

impl AliasAddress {
    /// The alias as text, for the forms that carry a dial string; `None` for transport
    /// addresses and the unmodelled forms.
    #[must_use]
    pub fn text(&self) -> Option<String> {
        match self {
            Self::DialledDigits(d) => Some(d.0.to_string()),
            Self::H323Id(s) => Some(bmp_text(s)),
            Self::UrlId(s) | Self::EmailId(s) => Some(s.to_string()),
            Self::PartyNumber(PartyNumber::E164Number(n)) => {
                Some(n.public_number_digits.0.to_string())
            }
            Self::PartyNumber(PartyNumber::PrivateNumber(n)) => {
                Some(n.private_number_digits.0.to_string())
            }
            _ => None,
        }
    }

    /// An `h323-ID` alias. Errors when the text is empty, longer than 256 characters or
    /// outside the Basic Multilingual Plane.
    pub fn h323_id(text: &str) -> Result<Self, crate::h225::Error> {
        let len = text.chars().count();
        if !(1..=256).contains(&len) {
            return Err(crate::h225::Error::AliasLength(len));
        }
        bmp_string(text)
            .map(Self::H323Id)
            .ok_or_else(|| crate::h225::Error::AliasCharacters(text.to_owned()))
    }

    /// A `dialledDigits` alias. Errors when the text is not 1..128 of `0123456789#*,`.
    pub fn dialled_digits(text: &str) -> Result<Self, crate::h225::Error> {
        let len = text.len();
        if !(1..=128).contains(&len) {
            return Err(crate::h225::Error::AliasLength(len));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"#*,".contains(&b))
        {
            return Err(crate::h225::Error::AliasCharacters(text.to_owned()));
        }
        Ia5String::try_from(text)
            .map(|s| Self::DialledDigits(NumberDigits(s)))
            .map_err(|_| crate::h225::Error::AliasCharacters(text.to_owned()))
    }

    /// A `url-ID` alias. Errors when the text is empty, longer than 512 or not IA5 (ASCII).
    pub fn url_id(text: &str) -> Result<Self, crate::h225::Error> {
        let len = text.len();
        if !(1..=512).contains(&len) {
            return Err(crate::h225::Error::AliasLength(len));
        }
        Ia5String::try_from(text)
            .map(Self::UrlId)
            .map_err(|_| crate::h225::Error::AliasCharacters(text.to_owned()))
    }
}

/// A BMPString from text; `None` when a character is outside the Basic Multilingual Plane
/// (BMPString is UCS-2: no surrogate pairs).
pub fn bmp_string(text: &str) -> Option<BmpString> {
    let mut bytes = Vec::with_capacity(text.len() * 2);
    for c in text.chars() {
        let unit = u16::try_from(u32::from(c)).ok()?;
        bytes.extend_from_slice(&unit.to_be_bytes());
    }
    BmpString::try_from(&bytes[..]).ok()
}

/// The text of a BMPString (characters that are not valid Unicode scalars become U+FFFD).
#[must_use]
pub fn bmp_text(s: &BmpString) -> String {
    char::decode_utf16(s.clone().into_vec())
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// `PresentationIndicator`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum PresentationIndicator {
    /// May be shown.
    PresentationAllowed(()),
    /// Must not be shown.
    PresentationRestricted(()),
    /// Not available.
    AddressNotAvailable(()),
}

/// `ScreeningIndicator ::= ENUMERATED { ... }` (extensible).
#[derive(AsnType, Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[rasn(enumerated)]
#[non_exhaustive]
pub enum ScreeningIndicator {
    /// Provided by the remote user, not screened.
    UserProvidedNotScreened = 0,
    /// Provided by the user, screened and passed.
    UserProvidedVerifiedAndPassed = 1,
    /// Provided by the user, screened and failed.
    UserProvidedVerifiedAndFailed = 2,
    /// Provided by a gatekeeper.
    NetworkProvided = 3,
}

/// `ExtendedAliasAddress`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct ExtendedAliasAddress {
    /// The alias.
    pub address: AliasAddress,
    /// May it be shown.
    pub presentation_indicator: Option<PresentationIndicator>,
    /// Who vouches for it.
    pub screening_indicator: Option<ScreeningIndicator>,
}

/// `DisplayName ::= SEQUENCE { language IA5String OPTIONAL, name BMPString (SIZE (1..80)) }`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
pub struct DisplayName {
    /// RFC 4646 language tag.
    pub language: Option<Ia5String>,
    /// The name.
    #[rasn(size("1..=80"))]
    pub name: BmpString,
}

/// `VendorIdentifier`: who made the endpoint.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct VendorIdentifier {
    /// T.35 vendor code.
    pub vendor: H221NonStandard,
    /// Product name.
    #[rasn(size("1..=256"))]
    pub product_id: Option<OctetString>,
    /// Product version.
    #[rasn(size("1..=256"))]
    pub version_id: Option<OctetString>,
    /// IANA enterprise number as an OID.
    #[rasn(extension_addition)]
    pub enterprise_number: Option<ObjectIdentifier>,
}

/// `SupportedPrefix`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct SupportedPrefix {
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// The prefix.
    pub prefix: AliasAddress,
}

/// `DataRate`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct DataRate {
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// `BandWidth ::= INTEGER (0..4294967295)`, in 100 bit/s.
    #[rasn(value("0..=4294967295"))]
    pub channel_rate: u32,
    /// Multiplier.
    #[rasn(value("1..=256"))]
    pub channel_multiplier: Option<u16>,
}

/// `H310Caps` .. `T120OnlyCaps`: the module defines eight identical SEQUENCEs.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct ProtocolCaps {
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// Data rates (extension addition).
    #[rasn(extension_addition)]
    pub data_rates_supported: Option<Vec<DataRate>>,
    /// Prefixes (mandatory extension addition: absent only in pre-v2 encodings).
    #[rasn(extension_addition)]
    pub supported_prefixes: Option<Vec<SupportedPrefix>>,
}

/// `NonStandardProtocol` and `SIPCaps`' shape (root components, then the marker).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct NonStandardProtocol {
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// Data rates.
    pub data_rates_supported: Option<Vec<DataRate>>,
    /// Prefixes.
    pub supported_prefixes: Vec<SupportedPrefix>,
}

/// `SIPCaps`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct SipCaps {
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// Data rates.
    pub data_rates_supported: Option<Vec<DataRate>>,
    /// Prefixes.
    pub supported_prefixes: Option<Vec<SupportedPrefix>>,
}

/// `SupportedProtocols`: what a gateway or MCU can reach.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum SupportedProtocols {
    /// Vendor-specific.
    NonStandardData(NonStandardParameter),
    /// H.310.
    H310(ProtocolCaps),
    /// H.320.
    H320(ProtocolCaps),
    /// H.321.
    H321(ProtocolCaps),
    /// H.322.
    H322(ProtocolCaps),
    /// H.323.
    H323(ProtocolCaps),
    /// H.324.
    H324(ProtocolCaps),
    /// Voice.
    Voice(ProtocolCaps),
    /// T.120 only.
    T120Only(ProtocolCaps),
    /// Non-standard protocol.
    #[rasn(extension_addition)]
    NonStandardProtocol(NonStandardProtocol),
    /// T.38 fax (carries H.245 types; not modelled).
    #[rasn(extension_addition)]
    T38FaxAnnexbOnly(NotModelled),
    /// SIP.
    #[rasn(extension_addition)]
    Sip(SipCaps),
}

/// `GatewayInfo`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct GatewayInfo {
    /// Protocols it reaches.
    pub protocol: Option<Vec<SupportedProtocols>>,
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
}

/// `McuInfo`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct McuInfo {
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// Protocols.
    #[rasn(extension_addition)]
    pub protocol: Option<Vec<SupportedProtocols>>,
}

impl McuInfo {
    /// An MCU with no protocol list.
    #[must_use]
    pub fn new() -> Self {
        Self {
            non_standard_data: None,
            protocol: None,
        }
    }
}

impl Default for McuInfo {
    fn default() -> Self {
        Self::new()
    }
}

/// `TerminalInfo` and `GatekeeperInfo` (the same shape).
#[derive(AsnType, Encode, Decode, Debug, Clone, Default, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct NodeInfo {
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
}

/// `TunnelledProtocolAlternateIdentifier`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct TunnelledProtocolAlternateIdentifier {
    /// Protocol type.
    #[rasn(size("1..=64"))]
    pub protocol_type: Ia5String,
    /// Variant.
    #[rasn(size("1..=64"))]
    pub protocol_variant: Option<Ia5String>,
}

/// `TunnelledProtocol`'s `id`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum TunnelledProtocolId {
    /// By OID.
    TunnelledProtocolObjectId(ObjectIdentifier),
    /// By name.
    TunnelledProtocolAlternateId(TunnelledProtocolAlternateIdentifier),
}

/// `TunnelledProtocol`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct TunnelledProtocol {
    /// Which protocol.
    pub id: TunnelledProtocolId,
    /// Sub-identifier.
    #[rasn(size("1..=64"))]
    pub sub_identifier: Option<Ia5String>,
}

/// `EndpointType`: what kind of node sent the message.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct EndpointType {
    /// Vendor data.
    pub non_standard_data: Option<NonStandardParameter>,
    /// Vendor.
    pub vendor: Option<VendorIdentifier>,
    /// Present for a gatekeeper.
    pub gatekeeper: Option<NodeInfo>,
    /// Present for a gateway.
    pub gateway: Option<GatewayInfo>,
    /// Present for an MCU.
    pub mcu: Option<McuInfo>,
    /// Present for a terminal.
    pub terminal: Option<NodeInfo>,
    /// Has a multipoint controller.
    pub mc: bool,
    /// None of the above.
    pub undefined_node: bool,
    /// SET device code points.
    #[rasn(extension_addition, size("32"))]
    pub set: Option<BitString>,
    /// Tunnelled protocols it supports.
    #[rasn(extension_addition)]
    pub supported_tunnelled_protocols: Option<Vec<TunnelledProtocol>>,
}

impl EndpointType {
    /// An endpoint type with every optional part absent and both flags false.
    #[must_use]
    pub fn empty() -> Self {
        Self {
            non_standard_data: None,
            vendor: None,
            gatekeeper: None,
            gateway: None,
            mcu: None,
            terminal: None,
            mc: false,
            undefined_node: false,
            set: None,
            supported_tunnelled_protocols: None,
        }
    }
}

/// `CallLinkage`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct CallLinkage {
    /// Global call id.
    pub global_call_id: Option<GloballyUniqueId>,
    /// Thread id.
    pub thread_id: Option<GloballyUniqueId>,
}

/// `SecurityServiceMode`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum SecurityServiceMode {
    /// Vendor-specific.
    NonStandard(NonStandardParameter),
    /// None.
    None(()),
    /// Default.
    Default(()),
}

/// `SecurityCapabilities`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct SecurityCapabilities {
    /// Vendor data.
    pub non_standard: Option<NonStandardParameter>,
    /// Encryption.
    pub encryption: SecurityServiceMode,
    /// Authentication (the module's spelling is `authenticaton`).
    pub authenticaton: SecurityServiceMode,
    /// Integrity.
    pub integrity: SecurityServiceMode,
}

/// `H245Security`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum H245Security {
    /// Vendor-specific.
    NonStandard(NonStandardParameter),
    /// No security.
    NoSecurity(()),
    /// TLS.
    Tls(SecurityCapabilities),
    /// IPsec.
    Ipsec(SecurityCapabilities),
}

/// `GenericIdentifier`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum GenericIdentifier {
    /// `INTEGER (0..16383, ...)`.
    #[rasn(value("0..=16383", extensible))]
    Standard(Integer),
    /// By OID.
    Oid(ObjectIdentifier),
    /// By GUID.
    NonStandard(GloballyUniqueId),
}

/// `Content` of an `EnumeratedParameter`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
#[non_exhaustive]
pub enum Content {
    /// Octets.
    Raw(OctetString),
    /// ASCII text.
    Text(Ia5String),
    /// UCS-2 text.
    Unicode(BmpString),
    /// Boolean.
    Bool(bool),
    /// 0..255.
    #[rasn(value("0..=255"))]
    Number8(u8),
    /// 0..65535.
    #[rasn(value("0..=65535"))]
    Number16(u16),
    /// 0..4294967295.
    #[rasn(value("0..=4294967295"))]
    Number32(u32),
    /// Identifier.
    Id(GenericIdentifier),
    /// Alias.
    Alias(AliasAddress),
    /// Transport address.
    Transport(TransportAddress),
    /// Nested parameters.
    #[rasn(size("1..=512"))]
    Compound(Vec<EnumeratedParameter>),
    /// Nested generic data.
    #[rasn(size("1..=16"))]
    Nested(Vec<GenericData>),
}

/// `EnumeratedParameter`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct EnumeratedParameter {
    /// Which parameter.
    pub id: GenericIdentifier,
    /// Its value.
    pub content: Option<Content>,
}

/// `GenericData` (also `FeatureDescriptor`).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct GenericData {
    /// Which feature.
    pub id: GenericIdentifier,
    /// Its parameters.
    #[rasn(size("1..=512"))]
    pub parameters: Option<Vec<EnumeratedParameter>>,
}
