//! Validated identifiers shared by the dial plan and the directory: tenant keys, conference IDs
//! and dial prefixes.
//!
//! Owns only the syntax of each identifier (digits and lengths from `docs/domain.md` and the
//! foundation issue); whether one exists is the directory's business.

use std::fmt;
use std::str::FromStr;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The value contains something other than ASCII digits.
    #[error("{what} must be digits only, got {value:?}")]
    NotDigits {
        /// Which identifier was being parsed.
        what: &'static str,
        /// The offending value.
        value: String,
    },
    /// The value has the wrong number of digits.
    #[error("{what} must have {min}-{max} digits, got {len}")]
    Length {
        /// Which identifier was being parsed.
        what: &'static str,
        /// Minimum number of digits.
        min: usize,
        /// Maximum number of digits.
        max: usize,
        /// Number of digits given.
        len: usize,
    },
}

fn check_digits(what: &'static str, value: &str, min: usize, max: usize) -> Result<(), IdError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError::NotDigits {
            what,
            value: value.to_owned(),
        });
    }
    if !(min..=max).contains(&value.len()) {
        return Err(IdError::Length {
            what,
            min,
            max,
            len: value.len(),
        });
    }
    Ok(())
}

macro_rules! digit_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Fewest digits accepted.
            pub const MIN_DIGITS: usize = $min;
            /// Most digits accepted.
            pub const MAX_DIGITS: usize = $max;

            /// Validates `value` (digits only, within the length bounds).
            pub fn new(value: &str) -> Result<Self, IdError> {
                check_digits($what, value, $min, $max)?;
                Ok(Self(value.to_owned()))
            }

            /// The digits as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

digit_id!(
    /// An organisation's tenant key, e.g. `12345678` (4-12 digits).
    TenantKey,
    "tenant key",
    4,
    12
);
digit_id!(
    /// A meeting's VTC conference ID, e.g. `1177958860` (6-14 digits), unique within its tenant.
    ConferenceId,
    "conference ID",
    6,
    14
);
digit_id!(
    /// A short dial prefix a tenant owns, e.g. `6` (1-6 digits): `61177958860` dials conference
    /// `1177958860` of that tenant. No tenant's prefix may be a prefix of another's.
    DialPrefix,
    "dial prefix",
    1,
    6
);

impl DialPrefix {
    /// True when one of the two prefixes starts with the other, which would make prefix routing
    /// ambiguous.
    pub fn overlaps(&self, other: &DialPrefix) -> bool {
        self.0.starts_with(&other.0) || other.0.starts_with(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_key_bounds_are_four_to_twelve_digits() {
        assert!(TenantKey::new("1234").is_ok());
        assert!(TenantKey::new("123456789012").is_ok());
        assert_eq!(
            TenantKey::new("123"),
            Err(IdError::Length {
                what: "tenant key",
                min: 4,
                max: 12,
                len: 3
            })
        );
        assert!(TenantKey::new("1234567890123").is_err());
        assert!(matches!(
            TenantKey::new("12a4"),
            Err(IdError::NotDigits { .. })
        ));
        assert!(TenantKey::new("").is_err());
    }

    #[test]
    fn conference_id_bounds_are_six_to_fourteen_digits() {
        assert!(ConferenceId::new("123456").is_ok());
        assert!(ConferenceId::new("12345678901234").is_ok());
        assert!(ConferenceId::new("12345").is_err());
        assert!(ConferenceId::new("123456789012345").is_err());
        assert!(
            ConferenceId::new("１２３４５６").is_err(),
            "non-ASCII digits"
        );
    }

    #[test]
    fn prefixes_overlap_when_one_starts_the_other() {
        let six = DialPrefix::new("6").unwrap();
        let sixty = DialPrefix::new("60").unwrap();
        let seven = DialPrefix::new("7").unwrap();
        assert!(six.overlaps(&sixty));
        assert!(sixty.overlaps(&six));
        assert!(six.overlaps(&six));
        assert!(!six.overlaps(&seven));
    }
}
