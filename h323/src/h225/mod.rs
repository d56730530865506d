//! H.225.0 call-signalling messages (the `H323-UserInformation` carried in Q.931's user-user
//! information element) as `rasn` types, and their aligned-PER encoding.
//!
//! How these types were made: `rasn-compiler` could not be used here, because H323-MESSAGES
//! imports from H235-SECURITY-MESSAGES and MULTIMEDIA-SYSTEM-CONTROL (H.245), and the H.245
//! module was not available to us in machine-readable form. So the types are derived by hand,
//! component for component, from the ITU module H323-MESSAGES (H.225.0 12/2009, version 7; the
//! copy Wireshark carries in `epan/dissectors/asn1/h225/`), for the messages a Tessera call
//! uses: the UU-PDU and Setup, Call Proceeding, Alerting, Connect, Release Complete and Facility.
//! Every root component and every extension addition up to the last one we use is present, in
//! order, with its constraints, so the bit layout is the module's; components whose types
//! reach into H.235 or deep H.225 corners are [`common::NotModelled`] (they keep their place;
//! a message that carries one is refused with an error, never misread). Trailing extension
//! additions we do not declare are skipped on decode, as aligned PER allows. The `.asn` input
//! is not committed (the ITU's licence terms are not ours to grant); the test
//! `tests/tshark.rs` checks our encodings against Wireshark's H.225 dissector.
//!
//! Owns the message shapes and their codec; the call flow is `crate::call`'s.

pub mod common;
mod messages;
pub mod ras;

pub use common::*;
pub use messages::*;
pub use ras::*;

use rasn::prelude::*;

/// Errors of H.225.0 encoding and decoding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The octets are not a valid aligned-PER `H323-UserInformation` (or carry a component
    /// this crate does not model).
    #[error("malformed H.225.0 message: {0}")]
    Decode(String),
    /// The value could not be encoded (a constraint of the module is violated).
    #[error("cannot encode H.225.0 message: {0}")]
    Encode(String),
    /// An alias is outside the module's size constraint.
    #[error("alias length {0} is outside the range H.225.0 allows")]
    AliasLength(usize),
    /// An alias has characters its form does not allow.
    #[error("alias {0:?} has characters its H.225.0 form does not allow")]
    AliasCharacters(String),
}

/// `ProtocolIdentifier` of H.225.0 version 4 ({itu-t(0) recommendation(0) h(8) 2250 0 4}):
/// the version Tessera announces. Version 4 is the first with every component we send
/// (fastStart, h245Tunnelling, callIdentifier) and is what room systems commonly announce.
pub const PROTOCOL_IDENTIFIER: &[u32] = &[0, 0, 8, 2250, 0, 4];

/// The protocol identifier as the `rasn` OID.
#[must_use]
pub fn protocol_identifier() -> ObjectIdentifier {
    // The arcs are a valid OID (first arc 0, second 0), so this cannot fail.
    ObjectIdentifier::new(PROTOCOL_IDENTIFIER.to_vec()).unwrap_or_else(|| {
        ObjectIdentifier::new_unchecked(std::borrow::Cow::Borrowed(PROTOCOL_IDENTIFIER))
    })
}

/// Encodes an `H323-UserInformation` in aligned PER.
pub fn encode(message: &UserInformation) -> Result<Vec<u8>, Error> {
    rasn::aper::encode(message).map_err(|e| Error::Encode(e.to_string()))
}

/// Decodes an `H323-UserInformation` from aligned PER.
pub fn decode(octets: &[u8]) -> Result<UserInformation, Error> {
    rasn::aper::decode(octets).map_err(|e| Error::Decode(e.to_string()))
}

#[cfg(test)]
mod tests;
