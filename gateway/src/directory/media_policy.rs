//! A tenant's media security policy: whether its calls must be encrypted and whether SDES keys
//! may travel over clear-text signalling.
//!
//! Owns the policy's values and their names; it must not decide what a call does with them (that
//! is the call layer's, `calls::encryption`).

crate::lobby::named_enum!(
    /// Whether a tenant's calls may carry clear-text media.
    #[derive(Default)]
    MediaEncryption, "media encryption" {
        /// SRTP when the caller offers it (and keys may travel), clear RTP otherwise.
        #[default]
        Optional => "optional",
        /// Only SRTP: a clear-text offer, or one whose keys cannot travel safely, gets 488.
        Required => "required",
    }
);

/// A tenant's media security policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaPolicy {
    /// Whether clear-text media is refused.
    pub encryption: MediaEncryption,
    /// Whether SDES keys (`a=crypto`) may be sent and accepted over signalling that is not TLS.
    /// Off by default: anyone who reads clear SIP could then decrypt the media.
    pub sdes_over_clear: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_encryption_names_round_trip_and_unknown_names_are_refused() {
        for v in MediaEncryption::ALL {
            assert_eq!(v.as_str().parse::<MediaEncryption>().unwrap(), *v);
        }
        let err = "mandatory".parse::<MediaEncryption>().unwrap_err();
        assert_eq!(err.value, "mandatory");
    }
}
