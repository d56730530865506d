//! Q.931 messages as H.225.0 uses them: protocol discriminator 8, a two-octet call reference,
//! the message type and the information elements, among them the user-user element that
//! carries the aligned-PER `H323-UserInformation` (H.225.0 section 7.2: its length is two
//! octets, unlike Q.931's one, and its protocol discriminator is 5, "X.208/X.209 coded").
//!
//! Owns the octet layout of one message (a TPKT payload); `crate::tpkt` splits the stream,
//! `crate::h225` decodes the user-user contents. Never panics on input.

/// Q.931's protocol discriminator.
pub const PROTOCOL_DISCRIMINATOR: u8 = 0x08;
/// The user-user IE's protocol discriminator for ASN.1 (X.208/X.209) coded contents.
pub const USER_USER_ASN1: u8 = 0x05;

/// Information element identifiers this crate reads or writes.
pub mod ie {
    /// Bearer capability.
    pub const BEARER_CAPABILITY: u8 = 0x04;
    /// Cause (Q.850 value).
    pub const CAUSE: u8 = 0x08;
    /// Display (the caller's or callee's name).
    pub const DISPLAY: u8 = 0x28;
    /// Keypad facility (digits, the Q.931 way of sending DTMF).
    pub const KEYPAD: u8 = 0x2C;
    /// Calling party number.
    pub const CALLING_PARTY_NUMBER: u8 = 0x6C;
    /// Called party number.
    pub const CALLED_PARTY_NUMBER: u8 = 0x70;
    /// User-user (the H.225.0 PDU).
    pub const USER_USER: u8 = 0x7E;
}

/// The bearer capability H.323 endpoints put in Setup: ITU coding, unrestricted digital
/// information, 64 kbit/s circuit mode multirate, H.221 layer 1 (H.225.0 table 3 and what
/// H.323 stacks send).
pub const H323_BEARER_CAPABILITY: [u8; 3] = [0x88, 0x93, 0xA5];

/// Errors of Q.931 decoding and encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The message ends before its header or an element is complete.
    #[error("Q.931 message truncated")]
    Truncated,
    /// The protocol discriminator is not Q.931's.
    #[error("protocol discriminator {0:#04x} is not Q.931 (0x08)")]
    ProtocolDiscriminator(u8),
    /// H.225.0 call references are two octets.
    #[error("call reference length {0} (H.225.0 uses 2)")]
    CallReferenceLength(u8),
    /// An element's contents are too long for its length field.
    #[error("information element {id:#04x} of {len} octets is too long")]
    ElementTooLong {
        /// The element.
        id: u8,
        /// Its length.
        len: usize,
    },
}

/// Q.931 message types H.225.0 uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Alerting.
    Alerting,
    /// Call Proceeding.
    CallProceeding,
    /// Connect.
    Connect,
    /// Setup.
    Setup,
    /// Release Complete.
    ReleaseComplete,
    /// Facility.
    Facility,
    /// Information.
    Information,
    /// Progress.
    Progress,
    /// Status.
    Status,
    /// Status Enquiry.
    StatusEnquiry,
    /// Notify.
    Notify,
    /// Setup Acknowledge.
    SetupAcknowledge,
    /// Any other code.
    Other(u8),
}

impl MessageType {
    /// The message type octet.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Alerting => 0x01,
            Self::CallProceeding => 0x02,
            Self::Progress => 0x03,
            Self::Setup => 0x05,
            Self::Connect => 0x07,
            Self::SetupAcknowledge => 0x0D,
            Self::ReleaseComplete => 0x5A,
            Self::Facility => 0x62,
            Self::Notify => 0x6E,
            Self::StatusEnquiry => 0x75,
            Self::Information => 0x7B,
            Self::Status => 0x7D,
            Self::Other(code) => code,
        }
    }

    /// The message type of an octet.
    #[must_use]
    pub fn from_code(code: u8) -> Self {
        [
            Self::Alerting,
            Self::CallProceeding,
            Self::Progress,
            Self::Setup,
            Self::Connect,
            Self::SetupAcknowledge,
            Self::ReleaseComplete,
            Self::Facility,
            Self::Notify,
            Self::StatusEnquiry,
            Self::Information,
            Self::Status,
        ]
        .into_iter()
        .find(|t| t.code() == code)
        .unwrap_or(Self::Other(code))
    }
}

/// One information element: identifier and contents (without the length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InformationElement {
    /// Identifier. Single-octet elements (0x80 and up) have no contents.
    pub id: u8,
    /// Contents.
    pub contents: Vec<u8>,
}

/// One Q.931 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Call reference value (15 bits).
    pub call_reference: u16,
    /// The call reference flag: set on messages sent by the side that did not allocate the
    /// call reference (the called side).
    pub from_destination: bool,
    /// Message type.
    pub message_type: MessageType,
    /// Elements in order.
    pub elements: Vec<InformationElement>,
}

impl Message {
    /// A message with no elements.
    #[must_use]
    pub fn new(message_type: MessageType, call_reference: u16, from_destination: bool) -> Self {
        Self {
            call_reference: call_reference & 0x7FFF,
            from_destination,
            message_type,
            elements: Vec::new(),
        }
    }

    /// Adds an element (builder style).
    #[must_use]
    pub fn with(mut self, id: u8, contents: Vec<u8>) -> Self {
        self.elements.push(InformationElement { id, contents });
        self
    }

    /// Adds the user-user element carrying an encoded `H323-UserInformation`.
    #[must_use]
    pub fn with_user_user(self, h225: &[u8]) -> Self {
        let mut contents = Vec::with_capacity(h225.len() + 1);
        contents.push(USER_USER_ASN1);
        contents.extend_from_slice(h225);
        self.with(ie::USER_USER, contents)
    }

    /// Adds a Cause element with a Q.850 cause value (coding standard ITU, location "private
    /// network serving the local user", as a gateway sends it).
    #[must_use]
    pub fn with_cause(self, q850: u8) -> Self {
        self.with(ie::CAUSE, vec![0x81, 0x80 | (q850 & 0x7F)])
    }

    /// Adds a Display element (IA5 text; other characters become `?`).
    #[must_use]
    pub fn with_display(self, text: &str) -> Self {
        let bytes = text
            .chars()
            .take(82)
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c as u8
                } else {
                    b'?'
                }
            })
            .collect();
        self.with(ie::DISPLAY, bytes)
    }

    /// The first element with this identifier.
    #[must_use]
    pub fn element(&self, id: u8) -> Option<&[u8]> {
        self.elements
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.contents.as_slice())
    }

    /// The H.225.0 PDU in the user-user element, without its protocol discriminator.
    #[must_use]
    pub fn user_user(&self) -> Option<&[u8]> {
        match self.element(ie::USER_USER)? {
            [USER_USER_ASN1, rest @ ..] => Some(rest),
            _ => None,
        }
    }

    /// The Q.850 cause value of the Cause element.
    #[must_use]
    pub fn cause(&self) -> Option<u8> {
        let contents = self.element(ie::CAUSE)?;
        // Octet 3 may be followed by 3a (recommendation) when its extension bit is clear.
        let value_at = if contents.first()? & 0x80 == 0 { 2 } else { 1 };
        contents.get(value_at).map(|v| v & 0x7F)
    }

    /// The called party number's digits (after the type/plan octet).
    #[must_use]
    pub fn called_party_number(&self) -> Option<String> {
        let contents = self.element(ie::CALLED_PARTY_NUMBER)?;
        let digits = contents.get(1..)?;
        Some(digits.iter().map(|&b| char::from(b & 0x7F)).collect())
    }

    /// The Display element's text.
    #[must_use]
    pub fn display(&self) -> Option<String> {
        self.element(ie::DISPLAY)
            .map(|b| b.iter().map(|&c| char::from(c & 0x7F)).collect())
    }

    /// Encodes the message (the payload of one TPKT).
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = vec![PROTOCOL_DISCRIMINATOR, 2];
        let crv = (self.call_reference & 0x7FFF) | if self.from_destination { 0x8000 } else { 0 };
        out.extend_from_slice(&crv.to_be_bytes());
        out.push(self.message_type.code());
        for e in &self.elements {
            out.push(e.id);
            if e.id & 0x80 != 0 {
                continue;
            }
            if e.id == ie::USER_USER {
                let len = u16::try_from(e.contents.len()).map_err(|_| Error::ElementTooLong {
                    id: e.id,
                    len: e.contents.len(),
                })?;
                out.extend_from_slice(&len.to_be_bytes());
            } else {
                let len = u8::try_from(e.contents.len()).map_err(|_| Error::ElementTooLong {
                    id: e.id,
                    len: e.contents.len(),
                })?;
                out.push(len);
            }
            out.extend_from_slice(&e.contents);
        }
        Ok(out)
    }

    /// Decodes one message.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let header = bytes.get(..5).ok_or(Error::Truncated)?;
        if header[0] != PROTOCOL_DISCRIMINATOR {
            return Err(Error::ProtocolDiscriminator(header[0]));
        }
        if header[1] != 2 {
            return Err(Error::CallReferenceLength(header[1]));
        }
        let crv = u16::from_be_bytes([header[2], header[3]]);
        let message_type = header[4];
        let mut rest = &bytes[5..];
        let mut elements = Vec::new();
        while let Some((&id, tail)) = rest.split_first() {
            if id & 0x80 != 0 {
                elements.push(InformationElement {
                    id,
                    contents: Vec::new(),
                });
                rest = tail;
                continue;
            }
            // H.225.0 7.2.2.1: the user-user element's length field is two octets.
            let (len, tail) = if id == ie::USER_USER {
                let l = tail.get(..2).ok_or(Error::Truncated)?;
                (usize::from(u16::from_be_bytes([l[0], l[1]])), &tail[2..])
            } else {
                let (&l, tail) = tail.split_first().ok_or(Error::Truncated)?;
                (usize::from(l), tail)
            };
            let contents = tail.get(..len).ok_or(Error::Truncated)?;
            elements.push(InformationElement {
                id,
                contents: contents.to_vec(),
            });
            rest = &tail[len..];
        }
        Ok(Self {
            call_reference: crv & 0x7FFF,
            from_destination: crv & 0x8000 != 0,
            message_type: MessageType::from_code(message_type),
            elements,
        })
    }
}

/// Q.850 cause values Tessera sends, named for why a call ends.
pub mod cause {
    /// Unallocated (unassigned) number: no such tenant or meeting (SIP 404).
    pub const UNALLOCATED_NUMBER: u8 = 1;
    /// Normal call clearing.
    pub const NORMAL_CLEARING: u8 = 16;
    /// User busy: over the tenant's licence (SIP 486).
    pub const USER_BUSY: u8 = 17;
    /// Call rejected (denied from the lobby, removed).
    pub const CALL_REJECTED: u8 = 21;
    /// Temporary failure: the gateway is draining (SIP 503).
    pub const TEMPORARY_FAILURE: u8 = 41;
    /// Incompatible destination: no common codec (SIP 488).
    pub const INCOMPATIBLE_DESTINATION: u8 = 88;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn release_complete_layout_is_annotated_octet_for_octet() {
        let m = Message::new(MessageType::ReleaseComplete, 0x1234, true)
            .with_cause(cause::UNALLOCATED_NUMBER)
            .with_user_user(&[0xAA, 0xBB]);
        assert_eq!(
            m.encode().unwrap(),
            vec![
                0x08, // protocol discriminator Q.931
                0x02, 0x92, 0x34, // CRV length 2, flag set (from destination), 0x1234
                0x5A, // RELEASE COMPLETE
                0x08, 0x02, 0x81, 0x81, // Cause: ITU, private network local user, #1
                0x7E, 0x00, 0x03, 0x05, 0xAA, 0xBB, // user-user, 2-octet length, PD 5
            ]
        );
    }

    #[test]
    fn cause_with_recommendation_octet_is_read() {
        let m = Message::new(MessageType::ReleaseComplete, 1, false)
            .with(ie::CAUSE, vec![0x01, 0x80, 0x90]);
        assert_eq!(m.cause(), Some(16));
    }

    #[test]
    fn truncated_element_is_an_error() {
        assert_eq!(
            Message::decode(&[8, 2, 0, 1, 5, 0x70, 9, 0x81]),
            Err(Error::Truncated)
        );
        assert_eq!(
            Message::decode(&[8, 2, 0, 1, 5, 0x7E, 0]),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn other_protocols_are_refused() {
        assert_eq!(
            Message::decode(&[9, 2, 0, 1, 5]),
            Err(Error::ProtocolDiscriminator(9))
        );
        assert_eq!(
            Message::decode(&[8, 1, 1, 5, 0]),
            Err(Error::CallReferenceLength(1))
        );
    }

    fn element() -> impl Strategy<Value = InformationElement> {
        prop_oneof![
            (0x80u8..=0xFF).prop_map(|id| InformationElement {
                id,
                contents: vec![]
            }),
            ((0u8..0x7E), proptest::collection::vec(any::<u8>(), 0..255))
                .prop_map(|(id, contents)| InformationElement { id, contents }),
            proptest::collection::vec(any::<u8>(), 0..600).prop_map(|contents| {
                InformationElement {
                    id: ie::USER_USER,
                    contents,
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn messages_round_trip(
            crv in 0u16..0x8000,
            from_destination: bool,
            code: u8,
            elements in proptest::collection::vec(element(), 0..6),
        ) {
            let m = Message { call_reference: crv, from_destination, message_type: MessageType::from_code(code), elements };
            prop_assert_eq!(Message::decode(&m.encode().unwrap()).unwrap(), m);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = Message::decode(&bytes);
        }
    }
}
