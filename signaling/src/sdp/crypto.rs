//! SDES (RFC 4568): the `a=crypto` attribute that carries SRTP master keys in SDP, for `RTP/SAVP`
//! and `RTP/SAVPF` m-lines. Parses and writes the attribute, and picks the line of an offer the
//! gateway can use.
//!
//! Owns the attribute grammar and the suites we speak (AES_CM_128_HMAC_SHA1_80 and _32, RFC 4568
//! §6.2; AEAD_AES_128_GCM, RFC 7714 §12). It must not draw keys (the caller passes its own key
//! material in: nothing here reads a random source) and must not decide whether keys may be sent
//! at all (that depends on the signalling transport, which the gateway knows).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// The longest master key + salt of any suite we speak (AES-128 key, 112-bit salt).
pub const MAX_MASTER_LEN: usize = 30;
/// The longest `a=crypto` value we read; real ones are under 100 bytes.
const MAX_ATTRIBUTE_LEN: usize = 1024;
/// RFC 4568 §9.1: `tag = 1*9DIGIT`.
const MAX_TAG_DIGITS: usize = 9;

/// Why an `a=crypto` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The value does not follow the RFC 4568 grammar (`<tag> <suite> inline:<key>...`).
    #[error("malformed a=crypto: {0}")]
    Malformed(&'static str),
    /// The crypto suite is not one we implement.
    #[error("crypto suite {0} is not supported")]
    UnsupportedSuite(String),
    /// The key is not the length the suite needs.
    #[error("{suite} needs a {expected}-byte key and salt, got {got}")]
    KeyLength {
        /// The suite's name.
        suite: &'static str,
        /// Bytes the suite needs.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// The line uses a feature whose packets we could not read: an MKI, several keys, or a
    /// session parameter (`UNENCRYPTED_SRTP`, `KDR=`, ...).
    #[error("a=crypto feature not supported: {0}")]
    Unsupported(&'static str),
}

/// The SRTP protection suites we negotiate, strongest first in our preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    /// AES-128 counter mode, HMAC-SHA1 with an 80-bit tag (RFC 4568 §6.2.1; every SDES endpoint).
    AesCm128HmacSha1_80,
    /// AES-128 counter mode, HMAC-SHA1 with a 32-bit tag on SRTP (80-bit on SRTCP).
    AesCm128HmacSha1_32,
    /// AES-128 GCM with a 16-byte tag (RFC 7714).
    AeadAes128Gcm,
}

impl SrtpSuite {
    /// Every suite, in our order of preference when an offer carries several we take.
    pub const ALL: [SrtpSuite; 3] = [
        SrtpSuite::AeadAes128Gcm,
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32,
    ];

    /// The name in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            SrtpSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
        }
    }

    /// The suite named `name` (case-sensitive, as RFC 4568 registers them).
    pub fn from_name(name: &str) -> Option<SrtpSuite> {
        SrtpSuite::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Master key length in bytes.
    pub fn key_len(self) -> usize {
        16
    }

    /// Master salt length in bytes (112 bits for AES-CM, 96 for GCM).
    pub fn salt_len(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 | SrtpSuite::AesCm128HmacSha1_32 => 14,
            SrtpSuite::AeadAes128Gcm => 12,
        }
    }

    /// Key and salt together, as `inline:` carries them.
    pub fn master_len(self) -> usize {
        self.key_len() + self.salt_len()
    }
}

impl fmt::Display for SrtpSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One usable `a=crypto` line: tag, suite and the single master key + salt it carries.
#[derive(Clone, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// The tag that the answer echoes (RFC 4568 §5.1).
    pub tag: u32,
    /// The protection suite.
    pub suite: SrtpSuite,
    /// Master key followed by master salt ([`SrtpSuite::master_len`] bytes).
    pub master: Vec<u8>,
}

// Keys stay out of logs.
impl fmt::Debug for CryptoAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptoAttribute")
            .field("tag", &self.tag)
            .field("suite", &self.suite)
            .field("master", &"<redacted>")
            .finish()
    }
}

impl CryptoAttribute {
    /// Reads one `a=crypto` value (without `crypto:`). Lines we could not honour (MKI, several
    /// keys, session parameters, unknown suites) are errors, so the caller moves on to the
    /// offer's next line.
    pub fn parse(value: &str) -> Result<CryptoAttribute, CryptoError> {
        if value.len() > MAX_ATTRIBUTE_LEN {
            return Err(CryptoError::Malformed("longer than any real attribute"));
        }
        let mut fields = value.split_ascii_whitespace();
        let (Some(tag), Some(suite), Some(key_params)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(CryptoError::Malformed(
                "needs a tag, a suite and key parameters",
            ));
        };
        if tag.is_empty() || tag.len() > MAX_TAG_DIGITS || !tag.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(CryptoError::Malformed("the tag is not 1 to 9 digits"));
        }
        let tag: u32 = tag
            .parse()
            .map_err(|_| CryptoError::Malformed("the tag is not 1 to 9 digits"))?;
        let suite = SrtpSuite::from_name(suite)
            .ok_or_else(|| CryptoError::UnsupportedSuite(truncated(suite)))?;
        if fields.next().is_some() {
            return Err(CryptoError::Unsupported("session parameters"));
        }
        if key_params.contains(';') {
            return Err(CryptoError::Unsupported("more than one key"));
        }
        let info = key_params
            .strip_prefix("inline:")
            .ok_or(CryptoError::Malformed("the key method is not inline:"))?;
        let mut parts = info.split('|');
        let key_salt = parts.next().unwrap_or_default();
        for part in parts {
            // `|2^31` (lifetime) is harmless: we never reach it in one call. `|1:4` is an MKI,
            // which changes the packet format.
            if part.contains(':') {
                return Err(CryptoError::Unsupported("MKI"));
            }
            let digits = part.strip_prefix("2^").unwrap_or(part);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CryptoError::Malformed("the key lifetime is not a number"));
            }
        }
        let master = STANDARD
            .decode(key_salt)
            .map_err(|_| CryptoError::Malformed("the key is not base64"))?;
        if master.len() != suite.master_len() {
            return Err(CryptoError::KeyLength {
                suite: suite.name(),
                expected: suite.master_len(),
                got: master.len(),
            });
        }
        Ok(CryptoAttribute { tag, suite, master })
    }

    /// The line of `values` (an m-section's `a=crypto` values, in the offerer's order of
    /// preference) we take: the first we can use (RFC 4568 §7.1.1), or why none is usable.
    pub fn select<'a>(
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<CryptoAttribute, CryptoError> {
        let mut last = CryptoError::Malformed("no a=crypto line");
        for value in values {
            match CryptoAttribute::parse(value) {
                Ok(line) => return Ok(line),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

impl fmt::Display for CryptoAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} inline:{}",
            self.tag,
            self.suite,
            STANDARD.encode(&self.master)
        )
    }
}

fn truncated(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // RFC 4568 §4's example line.
    const RFC_EXAMPLE: &str =
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32";

    #[test]
    fn reads_the_suites_and_keys_real_phones_send() {
        // baresip's offer line (AES_CM_128_HMAC_SHA1_80, no lifetime).
        let line = CryptoAttribute::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVmZ2hpSktMbW9QUXJzVFV2d3l6MTIzNDU2",
        )
        .unwrap();
        assert_eq!(line.tag, 1);
        assert_eq!(line.suite, SrtpSuite::AesCm128HmacSha1_80);
        assert_eq!(line.master, b"aBCdefghiJKLmoPQrsTUvwyz123456");
        // Polycom style: tag 2, the 32-bit suite, lifetime.
        let line = CryptoAttribute::parse(
            "2 AES_CM_128_HMAC_SHA1_32 inline:YUJDZGVmZ2hpSktMbW9QUXJzVFV2d3l6MTIzNDU2|2^31",
        )
        .unwrap();
        assert_eq!((line.tag, line.suite), (2, SrtpSuite::AesCm128HmacSha1_32));
        let gcm = STANDARD.encode([7u8; 28]);
        let line = CryptoAttribute::parse(&format!("3 AEAD_AES_128_GCM inline:{gcm}")).unwrap();
        assert_eq!(line.suite, SrtpSuite::AeadAes128Gcm);
        assert_eq!(line.master, vec![7u8; 28]);
    }

    #[test]
    fn refuses_lines_whose_packets_we_could_not_read() {
        assert_eq!(
            CryptoAttribute::parse(RFC_EXAMPLE),
            Err(CryptoError::Unsupported("MKI"))
        );
        let key = STANDARD.encode([1u8; 30]);
        assert_eq!(
            CryptoAttribute::parse(&format!(
                "1 AES_CM_128_HMAC_SHA1_80 inline:{key} UNENCRYPTED_SRTP"
            )),
            Err(CryptoError::Unsupported("session parameters"))
        );
        assert_eq!(
            CryptoAttribute::parse(&format!(
                "1 AES_CM_128_HMAC_SHA1_80 inline:{key};inline:{key}"
            )),
            Err(CryptoError::Unsupported("more than one key"))
        );
        assert!(matches!(
            CryptoAttribute::parse(&format!("1 F8_128_HMAC_SHA1_80 inline:{key}")),
            Err(CryptoError::UnsupportedSuite(_))
        ));
        assert!(matches!(
            CryptoAttribute::parse(&format!("1 AEAD_AES_128_GCM inline:{key}")),
            Err(CryptoError::KeyLength {
                expected: 28,
                got: 30,
                ..
            })
        ));
        for bad in [
            "",
            "1",
            "x AES_CM_128_HMAC_SHA1_80 inline:abc",
            "1234567890 AES_CM_128_HMAC_SHA1_80 inline:abc",
            "1 AES_CM_128_HMAC_SHA1_80 uri:abc",
            "1 AES_CM_128_HMAC_SHA1_80 inline:!!!",
        ] {
            assert!(CryptoAttribute::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn selection_takes_the_first_usable_line_in_the_offerers_order() {
        let key = STANDARD.encode([1u8; 30]);
        let lines = [
            format!("1 AES_256_CM_HMAC_SHA1_80 inline:{key}"),
            format!("2 AES_CM_128_HMAC_SHA1_32 inline:{key}"),
            format!("3 AES_CM_128_HMAC_SHA1_80 inline:{key}"),
        ];
        let chosen = CryptoAttribute::select(lines.iter().map(String::as_str)).unwrap();
        assert_eq!(
            (chosen.tag, chosen.suite),
            (2, SrtpSuite::AesCm128HmacSha1_32)
        );
        assert!(CryptoAttribute::select([]).is_err());
    }

    #[test]
    fn keys_are_redacted_in_debug_output() {
        let line = CryptoAttribute {
            tag: 1,
            suite: SrtpSuite::AesCm128HmacSha1_80,
            master: vec![0xAB; 30],
        };
        assert!(!format!("{line:?}").contains("171"));
        assert!(!format!("{line:?}").contains(&STANDARD.encode(&line.master)));
    }

    proptest! {
        #[test]
        fn parsing_never_panics(value in ".{0,200}") {
            let _ = CryptoAttribute::parse(&value);
        }

        #[test]
        fn written_lines_read_back(
            tag in 0u32..1_000_000_000,
            suite in prop::sample::select(SrtpSuite::ALL.to_vec()),
            bytes in prop::collection::vec(any::<u8>(), MAX_MASTER_LEN),
        ) {
            let line = CryptoAttribute {
                tag,
                suite,
                master: bytes[..suite.master_len()].to_vec(),
            };
            prop_assert_eq!(CryptoAttribute::parse(&line.to_string()), Ok(line));
        }
    }
}
