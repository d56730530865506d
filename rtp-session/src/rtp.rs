//! The RTP fixed header (RFC 3550 §5.1): a panic-free parser for what arrives on the socket and a
//! writer for the packets we send.
//!
//! Written here rather than taken from a packet crate because the receive path needs a parser
//! that borrows the datagram (no copy per packet) and rejects every malformed length with a
//! typed error: truncated headers, CSRC lists or extensions that run past the end, padding
//! longer than the payload.

/// Length of the fixed RTP header.
pub const HEADER_LEN: usize = 12;

/// The fields of an RTP header the entry queue uses (CSRCs and extensions are skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// The marker bit (for audio: first packet of a talk spurt; for telephone-event: start of
    /// an event).
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

/// A parsed RTP packet borrowing its payload from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The header.
    pub header: RtpHeader,
    /// The payload, without CSRCs, header extension or padding.
    pub payload: &'a [u8],
}

/// Why a datagram is not an RTP packet we can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Shorter than the 12-byte fixed header.
    #[error("datagram of {len} bytes is shorter than the RTP header")]
    TooShort {
        /// Datagram length.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {version}, expected 2")]
    BadVersion {
        /// The version found.
        version: u8,
    },
    /// The CSRC list runs past the end of the datagram.
    #[error("CSRC list of {count} entries runs past the end of the datagram")]
    TruncatedCsrc {
        /// CSRC count from the header.
        count: u8,
    },
    /// The header extension runs past the end of the datagram.
    #[error("header extension runs past the end of the datagram")]
    TruncatedExtension,
    /// The padding flag is set but the padding count is zero or longer than the payload.
    #[error("padding of {padding} bytes does not fit a payload of {payload} bytes")]
    BadPadding {
        /// Padding count from the last byte.
        padding: usize,
        /// Payload length including the padding.
        payload: usize,
    },
}

/// Parses an RTP packet. Never panics, whatever the bytes.
///
/// # Errors
/// [`RtpError`] for anything that is not a well-formed RTP version 2 packet.
pub fn parse(datagram: &[u8]) -> Result<RtpPacket<'_>, RtpError> {
    let Some(fixed) = datagram.get(..HEADER_LEN) else {
        return Err(RtpError::TooShort {
            len: datagram.len(),
        });
    };
    let version = fixed[0] >> 6;
    if version != 2 {
        return Err(RtpError::BadVersion { version });
    }
    let has_padding = fixed[0] & 0x20 != 0;
    let has_extension = fixed[0] & 0x10 != 0;
    let csrc_count = fixed[0] & 0x0F;
    let header = RtpHeader {
        marker: fixed[1] & 0x80 != 0,
        payload_type: fixed[1] & 0x7F,
        sequence: u16::from_be_bytes([fixed[2], fixed[3]]),
        timestamp: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
        ssrc: u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
    };

    let mut offset = HEADER_LEN + 4 * usize::from(csrc_count);
    if offset > datagram.len() {
        return Err(RtpError::TruncatedCsrc { count: csrc_count });
    }
    if has_extension {
        // 16-bit profile, 16-bit length in 32-bit words, then the words.
        let Some(ext) = datagram.get(offset..offset + 4) else {
            return Err(RtpError::TruncatedExtension);
        };
        let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        offset += 4 + 4 * words;
        if offset > datagram.len() {
            return Err(RtpError::TruncatedExtension);
        }
    }

    let mut payload = &datagram[offset..];
    if has_padding {
        let padding = payload.last().map_or(0, |p| usize::from(*p));
        if padding == 0 || padding > payload.len() {
            return Err(RtpError::BadPadding {
                padding,
                payload: payload.len(),
            });
        }
        payload = &payload[..payload.len() - padding];
    }
    Ok(RtpPacket { header, payload })
}

/// Serialises a header (version 2, no padding, extension or CSRCs) followed by `payload`.
#[must_use]
pub fn write(header: &RtpHeader, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.push(0x80);
    out.push((u8::from(header.marker) << 7) | (header.payload_type & 0x7F));
    out.extend_from_slice(&header.sequence.to_be_bytes());
    out.extend_from_slice(&header.timestamp.to_be_bytes());
    out.extend_from_slice(&header.ssrc.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A PCMU packet: V=2, M=1, PT=0, seq 0x1234, ts 0xDEADBEEF, SSRC 0x01020304, 2 payload bytes.
    const PCMU_MARKED: [u8; 14] = [
        0x80, // V=2 P=0 X=0 CC=0
        0x80, // M=1 PT=0
        0x12, 0x34, // sequence
        0xDE, 0xAD, 0xBE, 0xEF, // timestamp
        0x01, 0x02, 0x03, 0x04, // SSRC
        0xFF, 0x7F, // payload
    ];

    #[test]
    fn parses_every_fixed_header_field() {
        let p = parse(&PCMU_MARKED).expect("valid");
        assert_eq!(
            p.header,
            RtpHeader {
                marker: true,
                payload_type: 0,
                sequence: 0x1234,
                timestamp: 0xDEAD_BEEF,
                ssrc: 0x0102_0304,
            }
        );
        assert_eq!(p.payload, &[0xFF, 0x7F]);
    }

    #[test]
    fn written_packets_parse_back_identically() {
        let header = RtpHeader {
            marker: false,
            payload_type: 101,
            sequence: 65535,
            timestamp: 7,
            ssrc: 42,
        };
        let bytes = write(&header, &[1, 2, 3, 4]);
        let p = parse(&bytes).expect("valid");
        assert_eq!(p.header, header);
        assert_eq!(p.payload, &[1, 2, 3, 4]);
    }

    #[test]
    fn skips_csrcs_and_header_extension() {
        let mut bytes = vec![0x92, 0x65, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]; // X=1 CC=2 PT=101
        bytes.extend_from_slice(&[0xAA; 8]); // two CSRCs
        bytes.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x01, 1, 2, 3, 4]); // one-word extension
        bytes.extend_from_slice(&[9, 8, 7, 6]);
        let p = parse(&bytes).expect("valid");
        assert_eq!(p.header.payload_type, 101);
        assert_eq!(p.payload, &[9, 8, 7, 6]);
    }

    #[test]
    fn strips_padding() {
        let mut bytes = PCMU_MARKED.to_vec();
        bytes[0] |= 0x20;
        bytes.extend_from_slice(&[0, 0, 3]);
        assert_eq!(parse(&bytes).expect("valid").payload, &[0xFF, 0x7F]);
    }

    #[test]
    fn rejects_truncated_header() {
        assert_eq!(
            parse(&PCMU_MARKED[..11]),
            Err(RtpError::TooShort { len: 11 })
        );
        assert_eq!(parse(&[]), Err(RtpError::TooShort { len: 0 }));
    }

    #[test]
    fn rejects_wrong_version() {
        let mut bytes = PCMU_MARKED;
        bytes[0] = 0x40;
        assert_eq!(parse(&bytes), Err(RtpError::BadVersion { version: 1 }));
    }

    #[test]
    fn rejects_csrc_list_past_the_end() {
        let mut bytes = PCMU_MARKED;
        bytes[0] = 0x81;
        assert_eq!(parse(&bytes), Err(RtpError::TruncatedCsrc { count: 1 }));
    }

    #[test]
    fn rejects_extension_past_the_end() {
        let mut bytes = PCMU_MARKED[..12].to_vec();
        bytes[0] = 0x90;
        assert_eq!(parse(&bytes), Err(RtpError::TruncatedExtension));
        bytes.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x02, 1, 2, 3, 4]);
        assert_eq!(parse(&bytes), Err(RtpError::TruncatedExtension));
    }

    #[test]
    fn rejects_padding_longer_than_the_payload() {
        let mut bytes = PCMU_MARKED;
        bytes[0] |= 0x20;
        bytes[13] = 3;
        assert_eq!(
            parse(&bytes),
            Err(RtpError::BadPadding {
                padding: 3,
                payload: 2
            })
        );
        bytes[13] = 0;
        assert!(matches!(parse(&bytes), Err(RtpError::BadPadding { .. })));
        let mut empty = PCMU_MARKED[..12].to_vec();
        empty[0] |= 0x20;
        assert!(matches!(parse(&empty), Err(RtpError::BadPadding { .. })));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Ok(p) = parse(&bytes) {
                prop_assert!(p.payload.len() + HEADER_LEN <= bytes.len());
            }
        }

        #[test]
        fn arbitrary_version_2_headers_never_panic(
            first in 0x80u8..=0xBF,
            rest in proptest::collection::vec(any::<u8>(), 0..96),
        ) {
            let mut bytes = vec![first];
            bytes.extend(rest);
            let _ = parse(&bytes);
        }
    }
}
