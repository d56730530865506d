//! TPKT (RFC 1006 section 6) framing: the 4-octet header (version 3, reserved, 16-bit length
//! including the header) that H.225.0 call signalling and H.245 put around each message on TCP.
//!
//! Owns splitting a byte stream into packets and framing outgoing payloads; knows nothing about
//! what the payload is. Never panics on input: a bad header is an error the driver acts on
//! (it closes that connection; the listener goes on).

/// The only TPKT version.
pub const VERSION: u8 = 3;
/// Header length.
pub const HEADER_LEN: usize = 4;
/// Largest payload a TPKT can carry (the length field counts the header too).
pub const MAX_PAYLOAD: usize = u16::MAX as usize - HEADER_LEN;

/// Errors of TPKT framing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The first octet is not version 3: the peer does not speak TPKT (or the stream lost
    /// sync), so nothing after it can be trusted.
    #[error("TPKT version {0} (expected 3)")]
    Version(u8),
    /// The length field is smaller than the header itself.
    #[error("TPKT length {0} is shorter than its header")]
    Length(u16),
    /// A payload too large for one TPKT.
    #[error("payload of {0} octets does not fit in a TPKT")]
    TooLarge(usize),
}

/// Frames a payload: header then payload.
pub fn frame(payload: &[u8]) -> Result<Vec<u8>, Error> {
    if payload.len() > MAX_PAYLOAD {
        return Err(Error::TooLarge(payload.len()));
    }
    let len = (payload.len() + HEADER_LEN) as u16;
    let mut out = Vec::with_capacity(payload.len() + HEADER_LEN);
    out.extend_from_slice(&[VERSION, 0]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Reassembles TPKT packets from a TCP byte stream fed in arbitrary pieces.
#[derive(Debug, Default)]
pub struct Reassembler {
    buffer: Vec<u8>,
}

impl Reassembler {
    /// An empty reassembler.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete payload, `Ok(None)` when more bytes are needed. After an error the
    /// stream is out of sync and the connection should be closed.
    #[must_use = "a decoded packet or an error must be handled"]
    pub fn poll_packet(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let Some(header) = self.buffer.get(..HEADER_LEN) else {
            if let Some(&version) = self.buffer.first() {
                if version != VERSION {
                    return Err(Error::Version(version));
                }
            }
            return Ok(None);
        };
        if header[0] != VERSION {
            return Err(Error::Version(header[0]));
        }
        let len = u16::from_be_bytes([header[2], header[3]]);
        if usize::from(len) < HEADER_LEN {
            return Err(Error::Length(len));
        }
        if self.buffer.len() < usize::from(len) {
            return Ok(None);
        }
        let packet: Vec<u8> = self.buffer.drain(..usize::from(len)).collect();
        Ok(Some(packet[HEADER_LEN..].to_vec()))
    }

    /// Bytes held that are not yet a whole packet.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_is_version_reserved_and_total_length() {
        assert_eq!(frame(b"ab").unwrap(), vec![3, 0, 0, 6, b'a', b'b']);
    }

    #[test]
    fn wrong_version_is_an_error_not_a_wait() {
        let mut r = Reassembler::new();
        r.push(b"GET / HTTP/1.1\r\n");
        assert_eq!(r.poll_packet(), Err(Error::Version(b'G')));
    }

    #[test]
    fn length_below_header_is_rejected() {
        let mut r = Reassembler::new();
        r.push(&[3, 0, 0, 2]);
        assert_eq!(r.poll_packet(), Err(Error::Length(2)));
    }

    #[test]
    fn empty_payload_is_a_packet() {
        let mut r = Reassembler::new();
        r.push(&[3, 0, 0, 4]);
        assert_eq!(r.poll_packet(), Ok(Some(vec![])));
        assert_eq!(r.poll_packet(), Ok(None));
    }

    proptest! {
        #[test]
        fn packets_survive_any_split_of_the_stream(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..6),
            cut in 1usize..64,
        ) {
            let stream: Vec<u8> = payloads.iter().flat_map(|p| frame(p).unwrap()).collect();
            let mut r = Reassembler::new();
            let mut got = Vec::new();
            for chunk in stream.chunks(cut) {
                r.push(chunk);
                while let Some(p) = r.poll_packet().unwrap() {
                    got.push(p);
                }
            }
            prop_assert_eq!(got, payloads);
            prop_assert_eq!(r.pending(), 0);
        }

        #[test]
        fn reassembler_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut r = Reassembler::new();
            r.push(&bytes);
            while let Ok(Some(_)) = r.poll_packet() {}
        }
    }
}
