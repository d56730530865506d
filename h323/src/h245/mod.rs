//! H.245 (MULTIMEDIA-SYSTEM-CONTROL) messages in aligned PER: the subset an H.323 call through
//! Tessera uses — master-slave determination, terminal capability set, open/close logical
//! channel, round-trip delay, `videoFastUpdatePicture`, end session and user input (DTMF).
//!
//! How these types were made: by hand, because the H.245 ASN.1 module was not available to us
//! in machine-readable form for `rasn-compiler` (see `crate::h225` for the same reasoning).
//! They follow MULTIMEDIA-SYSTEM-CONTROL as published in H.245 (the root alternatives of every
//! CHOICE in order, extension markers and constraints as the module has them); alternatives
//! and components we do not use are [`NotModelled`](crate::h225::NotModelled) placeholders that keep their place and are
//! refused if they arrive. `tests/tshark.rs` checks the encodings against Wireshark's H.245
//! dissector, which nobody here wrote.
//!
//! Owns the message shapes and codec; the H.245 procedures are `crate::call`'s.

pub mod capability;
pub mod channel;
mod messages;

pub use capability::*;
pub use channel::*;
pub use messages::*;

use rasn::prelude::*;

/// Errors of H.245 encoding and decoding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not a valid aligned-PER message, or one carrying a component we do not model.
    #[error("malformed H.245 message: {0}")]
    Decode(String),
    /// A value violates a constraint of the module.
    #[error("cannot encode H.245 message: {0}")]
    Encode(String),
}

/// H.245 version 7 ({itu-t(0) recommendation(0) h(8) h245(245) version(0) 7}), the version of
/// H.323 version 4 systems, which announce H.225.0 version 4 as Tessera does.
pub const PROTOCOL_IDENTIFIER: &[u32] = &[0, 0, 8, 245, 0, 7];

/// H.264's generic capability identifier (H.241 Annex A: {itu-t(0) recommendation(0) h(8)
/// 241 specificVideoCodecCapabilities(0) h264(0) generic-capabilities(1)}).
pub const H264_CAPABILITY: &[u32] = &[0, 0, 8, 241, 0, 0, 1];

/// H.241 generic parameter numbers and values for H.264.
pub mod h241 {
    /// Profile: a boolean array.
    pub const PROFILE: u8 = 41;
    /// Level: unsignedMin.
    pub const LEVEL: u8 = 42;
    /// Constrained Baseline / Baseline profile bit of the profile boolean array.
    pub const PROFILE_BASELINE: u8 = 64;
    /// Level 3.1 (720p30) in H.241's numbering (level x 10 rounded, per its Table 8-?:
    /// 1 = 15, 2 = 43, 3 = 64, 3.1 = 71, 4 = 85).
    pub const LEVEL_3_1: u16 = 71;
}

/// An OID from arcs known to be valid.
fn oid(arcs: &'static [u32]) -> ObjectIdentifier {
    ObjectIdentifier::new_unchecked(std::borrow::Cow::Borrowed(arcs))
}

/// The H.245 protocol identifier as the `rasn` OID.
#[must_use]
pub fn protocol_identifier() -> ObjectIdentifier {
    oid(PROTOCOL_IDENTIFIER)
}

/// The H.264 capability identifier.
#[must_use]
pub fn h264_capability_identifier() -> ObjectIdentifier {
    oid(H264_CAPABILITY)
}

/// H.245's `NonStandardIdentifier` (unlike H.225.0's, not extensible).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(choice, automatic_tags)]
pub enum NonStandardIdentifier {
    /// By OID.
    Object(ObjectIdentifier),
    /// By T.35 code.
    H221NonStandard(H221NonStandard),
}

/// H.245's `h221NonStandard` (not extensible).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
pub struct H221NonStandard {
    /// Country code.
    #[rasn(value("0..=255"))]
    pub t35_country_code: u8,
    /// Extension.
    #[rasn(value("0..=255"))]
    pub t35_extension: u8,
    /// Manufacturer.
    #[rasn(value("0..=65535"))]
    pub manufacturer_code: u16,
}

/// H.245's `NonStandardParameter`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
pub struct NonStandardParameter {
    /// Whose.
    pub non_standard_identifier: NonStandardIdentifier,
    /// Data.
    pub data: OctetString,
}

/// Encodes a `MultimediaSystemControlMessage` in aligned PER.
pub fn encode(message: &MultimediaSystemControlMessage) -> Result<Vec<u8>, Error> {
    rasn::aper::encode(message).map_err(|e| Error::Encode(e.to_string()))
}

/// Decodes a `MultimediaSystemControlMessage`.
pub fn decode(octets: &[u8]) -> Result<MultimediaSystemControlMessage, Error> {
    rasn::aper::decode(octets).map_err(|e| Error::Decode(e.to_string()))
}

/// Encodes PDUs as the octet strings of H.225.0's `h245Control` (tunnelling).
pub fn encode_tunnelled(
    pdus: &[MultimediaSystemControlMessage],
) -> Result<Vec<OctetString>, Error> {
    pdus.iter()
        .map(|p| encode(p).map(OctetString::from))
        .collect()
}

/// Encodes an `OpenLogicalChannel` for a Fast Start element.
pub fn encode_open_logical_channel(olc: &OpenLogicalChannel) -> Result<Vec<u8>, Error> {
    rasn::aper::encode(olc).map_err(|e| Error::Encode(e.to_string()))
}

/// Decodes a Fast Start element.
pub fn decode_open_logical_channel(octets: &[u8]) -> Result<OpenLogicalChannel, Error> {
    rasn::aper::decode(octets).map_err(|e| Error::Decode(e.to_string()))
}

#[cfg(test)]
mod tests;
