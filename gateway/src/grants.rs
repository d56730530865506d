//! Participant grants: a signed, expiring statement by a tenant that whoever holds it joins as a
//! given trust class (organizer, same-org, guest, trusted-org, untrusted-org), optionally only in
//! one meeting and under a given display name. A browser's join link carries one as
//! `?grant=...`; without one the participant is `anonymous`.
//!
//! Token: `base64url(JSON) "." base64url(HMAC-SHA256(key, first part))`, no padding. The key is
//! the tenant's grant key ([`GrantKey`], kept in the directory and created with the tenant), so a
//! grant of one tenant never verifies under another, and rotating it means a new tenant key.
//!
//! Owns the token format, signing and verification only: it never reads the clock (`now` is
//! passed in, seconds since the Unix epoch) and must not touch the directory, the lobby or HTTP.
//! Whether the grant's meeting matches the one being joined is [`Grant::allows_conference`], for
//! the caller to ask.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use signaling::{ConferenceId, TenantKey};

use crate::lobby::{named_enum, ParticipantClass, UnknownName};

/// Bytes in a tenant's grant key.
pub const GRANT_KEY_BYTES: usize = 32;

/// Longest token accepted by [`verify`]: a grant with the longest name is far below it; anything
/// longer is refused before it is decoded.
pub const MAX_TOKEN_LEN: usize = 2048;

/// Longest display name a grant may carry, in characters.
pub const MAX_NAME_CHARS: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// Why a grant could not be issued or was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// The token is not two base64url parts joined by a dot, is too long, or its payload is not
    /// a grant.
    #[error("malformed grant: {0}")]
    Malformed(String),
    /// The signature does not match: forged, altered, or signed with another tenant's key.
    #[error("grant signature does not match")]
    BadSignature,
    /// The grant was issued for another tenant.
    #[error("grant is for tenant {granted}, not {wanted}")]
    WrongTenant {
        /// The tenant named in the grant.
        granted: TenantKey,
        /// The tenant being joined.
        wanted: TenantKey,
    },
    /// The grant's expiry has passed.
    #[error("grant expired at {expires_unix} (now {now})")]
    Expired {
        /// When it expired (seconds since the Unix epoch).
        expires_unix: u64,
        /// The time it was presented at.
        now: u64,
    },
    /// The display name is empty, too long or contains control characters.
    #[error("invalid grant name: {0}")]
    InvalidName(String),
    /// A grant that would be expired when issued.
    #[error("grant would already be expired (expires {expires_unix}, now {now})")]
    AlreadyExpired {
        /// The requested expiry.
        expires_unix: u64,
        /// The time of issue.
        now: u64,
    },
}

named_enum!(
    /// The trust classes a tenant can grant (`shared/domain.md`): the authenticated classes a
    /// person can have. VTC, anonymous and phone classes come from how a call arrives, never
    /// from a grant.
    GrantClass, "grant class" {
        /// The meeting's organizer (bypasses every lobby; sees the lobby list and may admit and
        /// deny from the join page).
        Organizer => "organizer",
        /// A member of the tenant's own organisation.
        SameOrg => "same-org",
        /// An authenticated user invited into the organisation.
        Guest => "guest",
        /// Authenticated in another organisation that is not blocked.
        TrustedOrg => "trusted-org",
        /// Authenticated in an organisation that is not trusted.
        UntrustedOrg => "untrusted-org",
    }
);

impl From<GrantClass> for ParticipantClass {
    fn from(c: GrantClass) -> Self {
        match c {
            GrantClass::Organizer => ParticipantClass::Organizer,
            GrantClass::SameOrg => ParticipantClass::SameOrg,
            GrantClass::Guest => ParticipantClass::Guest,
            GrantClass::TrustedOrg => ParticipantClass::TrustedOrg,
            GrantClass::UntrustedOrg => ParticipantClass::UntrustedOrg,
        }
    }
}

/// A tenant's secret grant-signing key. Never printed (its `Debug` is redacted) and never
/// returned by the API.
#[derive(Clone, PartialEq, Eq)]
pub struct GrantKey([u8; GRANT_KEY_BYTES]);

impl GrantKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        GrantKey(rand::random())
    }

    /// The key from its stored bytes; `None` unless exactly [`GRANT_KEY_BYTES`] long.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(GrantKey)
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes a key of any length, so this cannot fail.
        <HmacSha256 as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length")
    }
}

impl std::fmt::Debug for GrantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GrantKey(<redacted>)")
    }
}

/// What a grant says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The tenant that issued it; it admits only to this tenant's meetings.
    pub tenant: TenantKey,
    /// The one meeting it is for, or any meeting of the tenant.
    pub conference: Option<ConferenceId>,
    /// The trust class the holder joins as.
    pub class: GrantClass,
    /// The display name the holder joins under (the page's name field otherwise).
    pub name: Option<String>,
    /// When it stops being accepted, seconds since the Unix epoch.
    pub expires_unix: u64,
}

impl Grant {
    /// True when the grant admits to `conference` (it names that meeting or none).
    pub fn allows_conference(&self, conference: &ConferenceId) -> bool {
        self.conference.as_ref().is_none_or(|c| c == conference)
    }
}

/// The signed JSON, with plain strings so that a payload that names a malformed tenant or
/// conference is refused with a clear message rather than by serde.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    tenant: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conference: Option<String>,
    class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    expires_unix: u64,
}

/// Checks a display name: 1..=[`MAX_NAME_CHARS`] characters, no control characters, not blank.
pub fn check_name(name: &str) -> Result<(), GrantError> {
    if name.trim().is_empty() {
        return Err(GrantError::InvalidName("it is empty".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(GrantError::InvalidName(format!(
            "longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(GrantError::InvalidName(
            "it contains control characters".into(),
        ));
    }
    Ok(())
}

/// Signs `grant` with the tenant's `key`. Refused when the grant would be expired at `now` or its
/// name is not a valid display name.
pub fn issue(key: &GrantKey, grant: &Grant, now: u64) -> Result<String, GrantError> {
    if grant.expires_unix <= now {
        return Err(GrantError::AlreadyExpired {
            expires_unix: grant.expires_unix,
            now,
        });
    }
    if let Some(name) = &grant.name {
        check_name(name)?;
    }
    let wire = Wire {
        tenant: grant.tenant.as_str().to_owned(),
        conference: grant.conference.as_ref().map(|c| c.as_str().to_owned()),
        class: grant.class.as_str().to_owned(),
        name: grant.name.clone(),
        expires_unix: grant.expires_unix,
    };
    // Serialising a struct of strings and an integer cannot fail.
    let json = serde_json::to_vec(&wire).expect("grant JSON serialises");
    let payload = URL_SAFE_NO_PAD.encode(json);
    let mut mac = key.mac();
    mac.update(payload.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    Ok(format!("{payload}.{signature}"))
}

/// Checks `token` against `tenant`'s `key` at `now`: the signature first (in constant time; an
/// unsigned payload is never parsed), then the tenant, then the expiry.
pub fn verify(
    key: &GrantKey,
    token: &str,
    tenant: &TenantKey,
    now: u64,
) -> Result<Grant, GrantError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(GrantError::Malformed(format!(
            "longer than {MAX_TOKEN_LEN} bytes"
        )));
    }
    let (payload, signature) = token
        .split_once('.')
        .ok_or_else(|| GrantError::Malformed("expected <payload>.<signature>".into()))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| GrantError::Malformed(format!("signature is not base64url: {e}")))?;
    let mut mac = key.mac();
    mac.update(payload.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| GrantError::BadSignature)?;

    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| GrantError::Malformed(format!("payload is not base64url: {e}")))?;
    let wire: Wire = serde_json::from_slice(&json)
        .map_err(|e| GrantError::Malformed(format!("payload is not a grant: {e}")))?;
    let grant = from_wire(wire)?;
    if grant.tenant != *tenant {
        return Err(GrantError::WrongTenant {
            granted: grant.tenant,
            wanted: tenant.clone(),
        });
    }
    if grant.expires_unix <= now {
        return Err(GrantError::Expired {
            expires_unix: grant.expires_unix,
            now,
        });
    }
    Ok(grant)
}

fn from_wire(wire: Wire) -> Result<Grant, GrantError> {
    let bad = |e: &dyn std::fmt::Display| GrantError::Malformed(e.to_string());
    let class: GrantClass = wire.class.parse().map_err(|e: UnknownName| bad(&e))?;
    if let Some(name) = &wire.name {
        check_name(name)?;
    }
    Ok(Grant {
        tenant: TenantKey::new(&wire.tenant).map_err(|e| bad(&e))?,
        conference: wire
            .conference
            .as_deref()
            .map(ConferenceId::new)
            .transpose()
            .map_err(|e| bad(&e))?,
        class,
        name: wire.name,
        expires_unix: wire.expires_unix,
    })
}

#[cfg(test)]
mod tests;
