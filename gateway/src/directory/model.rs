//! The directory's records and the validation of every value that goes into them.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{json, Value};
use signaling::digest::{ha1, Algorithm};
use signaling::{ConferenceId, DialPrefix, TenantKey};

use super::{DirectoryError, MediaPolicy};
use crate::lobby::{LobbyPolicy, WhoCanBypass};

/// An organisation: its key, how it is dialled, its licences and its lobby policy defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant key.
    pub key: TenantKey,
    /// Display name.
    pub name: String,
    /// Hostnames that name this tenant (`conf@video.acme.example`), lower case, sorted.
    pub hostnames: Vec<String>,
    /// Dial prefix (`6` + conference ID), if the tenant has one.
    pub prefix: Option<DialPrefix>,
    /// Concurrent endpoint (VTC call) ports.
    pub endpoint_licenses: u32,
    /// Concurrent cascade (one per meeting a bridge cascades into) ports.
    pub cascade_licenses: u32,
    /// Lobby options every meeting of the tenant inherits unless it overrides them.
    pub policy: LobbyPolicy,
    /// Whether its calls must be encrypted and how SRTP keys may travel.
    pub media: MediaPolicy,
}

impl Tenant {
    /// The digest realm this tenant's trusted-device credentials are issued in.
    pub fn realm(&self) -> String {
        realm_of(&self.key)
    }

    /// JSON form for `--json` output and the admin API.
    pub fn to_json(&self) -> Value {
        json!({
            "key": self.key.as_str(),
            "name": self.name,
            "hostnames": self.hostnames,
            "prefix": self.prefix.as_ref().map(DialPrefix::as_str),
            "endpoint_licenses": self.endpoint_licenses,
            "cascade_licenses": self.cascade_licenses,
            "who_can_bypass": self.policy.who_can_bypass.as_str(),
            "callers_bypass": self.policy.callers_bypass,
            "anonymous_can_start": self.policy.anonymous_can_start,
            "legacy_trusted_vtc_bypass": self.policy.legacy_trusted_vtc_bypass,
            "media_encryption": self.media.encryption.as_str(),
            "sdes_over_clear": self.media.sdes_over_clear,
        })
    }
}

pub(crate) fn realm_of(key: &TenantKey) -> String {
    format!("{key}.tessera")
}

/// A meeting's own choices for the lobby options; `None` inherits the tenant's default, so a
/// change of the default reaches every meeting that did not override it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyOverrides {
    /// Who can bypass the lobby.
    pub who_can_bypass: Option<WhoCanBypass>,
    /// Phone callers bypass.
    pub callers_bypass: Option<bool>,
    /// Untrusted participants may start the meeting.
    pub anonymous_can_start: Option<bool>,
}

impl PolicyOverrides {
    /// The tenant's defaults with these overrides applied.
    pub fn apply(&self, defaults: LobbyPolicy) -> LobbyPolicy {
        LobbyPolicy {
            who_can_bypass: self.who_can_bypass.unwrap_or(defaults.who_can_bypass),
            callers_bypass: self.callers_bypass.unwrap_or(defaults.callers_bypass),
            anonymous_can_start: self
                .anonymous_can_start
                .unwrap_or(defaults.anonymous_can_start),
            legacy_trusted_vtc_bypass: defaults.legacy_trusted_vtc_bypass,
        }
    }
}

/// A scheduled meeting of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    /// The owning tenant.
    pub tenant: TenantKey,
    /// The VTC conference ID, unique within the tenant.
    pub conference_id: ConferenceId,
    /// The organizer's display name.
    pub organizer: Option<String>,
    /// This meeting's lobby overrides.
    pub overrides: PolicyOverrides,
}

impl Meeting {
    /// JSON form; `policy` is the effective policy (tenant defaults + overrides).
    pub fn to_json(&self, policy: &LobbyPolicy) -> Value {
        let source = |overridden: bool| if overridden { "meeting" } else { "tenant" };
        json!({
            "tenant": self.tenant.as_str(),
            "conference_id": self.conference_id.as_str(),
            "organizer": self.organizer,
            "who_can_bypass": policy.who_can_bypass.as_str(),
            "callers_bypass": policy.callers_bypass,
            "anonymous_can_start": policy.anonymous_can_start,
            "overridden": {
                "who_can_bypass": source(self.overrides.who_can_bypass.is_some()),
                "callers_bypass": source(self.overrides.callers_bypass.is_some()),
                "anonymous_can_start": source(self.overrides.anonymous_can_start.is_some()),
            },
        })
    }
}

/// A rule by which a tenant recognises one of its own room systems (`trusted-vtc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedDeviceRule {
    /// Calls from this source network.
    Cidr(IpNet),
    /// Calls whose From URI matches this glob (`*` matches any run of characters), case-insensitive.
    UriPattern(String),
    /// Calls that pass SIP digest authentication with this username in the tenant's realm. Only the
    /// HA1 hashes are kept, never the password.
    Digest {
        /// The digest username.
        username: String,
        /// The realm the hashes were made in.
        realm: String,
        /// `MD5(username:realm:password)`, hex (RFC 2617).
        ha1_md5: String,
        /// `SHA-256(username:realm:password)`, hex (RFC 7616).
        ha1_sha256: String,
    },
    /// Calls over TLS whose client certificate (the leaf) has this SHA-256 fingerprint of its
    /// DER, lowercase hex: the certificate is pinned, so no CA is involved.
    CertSha256(String),
}

impl TrustedDeviceRule {
    /// A source-network rule from `a.b.c.d/len` (or an address alone, a single host).
    pub fn cidr(text: &str) -> Result<Self, DirectoryError> {
        let text = text.trim();
        let net = text
            .parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| DirectoryError::invalid("cidr", format!("{text:?} is not a CIDR")))?;
        if net.trunc() != net {
            return Err(DirectoryError::invalid(
                "cidr",
                format!("{net} has host bits set; did you mean {}?", net.trunc()),
            ));
        }
        Ok(TrustedDeviceRule::Cidr(net))
    }

    /// A From-URI glob such as `sip:*@rooms.acme.example`.
    pub fn uri_pattern(pattern: &str) -> Result<Self, DirectoryError> {
        let pattern = pattern.trim().to_ascii_lowercase();
        let scheme_ok = ["sip:", "sips:", "*"]
            .iter()
            .any(|s| pattern.starts_with(s));
        if !scheme_ok
            || !pattern.contains('@')
            || pattern.len() > 256
            || pattern.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(DirectoryError::invalid(
                "uri",
                format!("{pattern:?} is not a SIP URI pattern like sip:*@rooms.acme.example"),
            ));
        }
        Ok(TrustedDeviceRule::UriPattern(pattern))
    }

    /// A digest credential from `username:password`, hashed for `realm` at once.
    pub fn digest(user_password: &str, realm: &str) -> Result<Self, DirectoryError> {
        let (username, password) = user_password.split_once(':').ok_or_else(|| {
            DirectoryError::invalid("digest", "expected USER:PASSWORD".to_owned())
        })?;
        Self::digest_credential(username, password, realm)
    }

    /// A digest credential from a separate username and password, hashed for `realm` at once.
    /// The username may not contain `:` (it would make `USER:REALM:PASSWORD` ambiguous).
    pub fn digest_credential(
        username: &str,
        password: &str,
        realm: &str,
    ) -> Result<Self, DirectoryError> {
        let printable = |s: &str| !s.chars().any(|c| c.is_control());
        if username.is_empty()
            || username.len() > 128
            || !printable(username)
            || username.contains(['"', '\\', ':'])
        {
            return Err(DirectoryError::invalid(
                "digest",
                "username must be 1-128 printable characters without quotes or colons".to_owned(),
            ));
        }
        if password.chars().count() < 8 || !printable(password) {
            return Err(DirectoryError::invalid(
                "digest",
                "password must be at least 8 printable characters".to_owned(),
            ));
        }
        Ok(TrustedDeviceRule::Digest {
            username: username.to_owned(),
            realm: realm.to_owned(),
            ha1_md5: ha1(Algorithm::Md5, username, realm, password),
            ha1_sha256: ha1(Algorithm::Sha256, username, realm, password),
        })
    }

    /// A pinned client certificate from the hex SHA-256 of its DER (`openssl x509 -fingerprint
    /// -sha256` output with its colons is accepted too), kept as 64 lowercase hex digits.
    pub fn cert_sha256(text: &str) -> Result<Self, DirectoryError> {
        let hex: String = text
            .trim()
            .chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_ascii_lowercase();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DirectoryError::invalid(
                "cert_sha256",
                format!("{text:?} is not a SHA-256 fingerprint (64 hex digits)"),
            ));
        }
        Ok(TrustedDeviceRule::CertSha256(hex))
    }

    /// Whether a call from `source` with From URI `from_uri`, over a connection whose client
    /// certificate has fingerprint `cert_sha256` (lowercase hex; `None` without TLS or without a
    /// certificate), matches this rule without a challenge (digest rules never match this way).
    pub fn matches_unauthenticated(
        &self,
        source: IpAddr,
        from_uri: &str,
        cert_sha256: Option<&str>,
    ) -> bool {
        match self {
            TrustedDeviceRule::Cidr(net) => net.contains(&source),
            TrustedDeviceRule::UriPattern(p) => glob_match(p, &from_uri.to_ascii_lowercase()),
            TrustedDeviceRule::Digest { .. } => false,
            TrustedDeviceRule::CertSha256(pinned) => cert_sha256 == Some(pinned.as_str()),
        }
    }

    /// `cidr`, `uri`, `digest` or `cert-sha256`.
    pub fn kind(&self) -> &'static str {
        match self {
            TrustedDeviceRule::Cidr(_) => "cidr",
            TrustedDeviceRule::UriPattern(_) => "uri",
            TrustedDeviceRule::Digest { .. } => "digest",
            TrustedDeviceRule::CertSha256(_) => "cert-sha256",
        }
    }

    /// What the rule matches, for listings (never the hashes).
    pub fn describe(&self) -> String {
        match self {
            TrustedDeviceRule::Cidr(net) => net.to_string(),
            TrustedDeviceRule::UriPattern(p) => p.clone(),
            TrustedDeviceRule::Digest {
                username, realm, ..
            } => format!("{username} (realm {realm})"),
            TrustedDeviceRule::CertSha256(fingerprint) => fingerprint.clone(),
        }
    }
}

/// A stored trusted-device rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedDevice {
    /// Row id, for removal.
    pub id: i64,
    /// The owning tenant.
    pub tenant: TenantKey,
    /// The rule.
    pub rule: TrustedDeviceRule,
    /// Whether the rule names a conference bridge (a matching call is a cascade link holding a
    /// cascade licence) rather than a room system.
    pub cascade: bool,
}

impl TrustedDevice {
    /// JSON form (never includes hashes).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "tenant": self.tenant.as_str(),
            "kind": self.rule.kind(),
            "matches": self.rule.describe(),
            "cascade": self.cascade,
        })
    }
}

/// `*` matches any run of characters (including none); everything else matches itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Lower-cases and checks a hostname (`video.acme.example`): dotted labels of letters, digits and
/// hyphens; not an IP address, since addresses identify the gateway, not a tenant.
/// The form a hostname is looked up in: lower case, without the trailing dot of a fully
/// qualified name (stored hostnames are normalised to it on the way in).
pub(super) fn hostname_key(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

pub(super) fn normalise_hostname(text: &str) -> Result<String, DirectoryError> {
    let host = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let bad = |why: &str| DirectoryError::invalid("hostname", format!("{text:?}: {why}"));
    if host.len() > 253 || !host.contains('.') {
        return Err(bad("must be a dotted DNS name like video.acme.example"));
    }
    if host.parse::<IpAddr>().is_ok() {
        return Err(bad("an IP address cannot name a tenant"));
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(bad("labels are 1-63 letters, digits or inner hyphens"));
        }
    }
    if host
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(bad("the last label cannot be all digits"));
    }
    Ok(host)
}

/// Checks a display name (tenant name, organizer): 1-200 characters, no control characters.
pub(super) fn check_name(field: &'static str, text: &str) -> Result<String, DirectoryError> {
    let name = text.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(DirectoryError::invalid(
            field,
            format!("{text:?} must be 1-200 characters without control characters"),
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_star_runs() {
        assert!(glob_match(
            "sip:*@rooms.acme.example",
            "sip:board@rooms.acme.example"
        ));
        assert!(glob_match(
            "sip:*@rooms.acme.example",
            "sip:@rooms.acme.example"
        ));
        assert!(!glob_match(
            "sip:*@rooms.acme.example",
            "sip:a@rooms.acme.example.evil"
        ));
        assert!(glob_match("*", "anything"));
        assert!(glob_match(
            "sip:room*@*.acme.example",
            "sip:room12@hq.acme.example"
        ));
        assert!(!glob_match(
            "sip:room*@*.acme.example",
            "sip:lab12@hq.acme.example"
        ));
        assert!(glob_match("sip:a@b", "sip:a@b"));
        assert!(
            !glob_match("sip:a*a@b", "sip:a@b"),
            "pieces may not overlap"
        );
    }

    #[test]
    fn cidr_rules_match_sources() {
        let rule = TrustedDeviceRule::cidr("192.0.2.0/24").unwrap();
        assert!(rule.matches_unauthenticated("192.0.2.77".parse().unwrap(), "sip:x@y", None));
        assert!(!rule.matches_unauthenticated("198.51.100.1".parse().unwrap(), "sip:x@y", None));
        let host = TrustedDeviceRule::cidr("2001:db8::5").unwrap();
        assert_eq!(host.describe(), "2001:db8::5/128");
        assert!(
            TrustedDeviceRule::cidr("192.0.2.1/24").is_err(),
            "host bits set"
        );
        assert!(TrustedDeviceRule::cidr("nonsense").is_err());
    }

    #[test]
    fn uri_rules_are_case_insensitive() {
        let rule = TrustedDeviceRule::uri_pattern("SIP:*@Rooms.Acme.Example").unwrap();
        assert!(rule.matches_unauthenticated(
            "127.0.0.1".parse().unwrap(),
            "sip:Board@rooms.acme.example",
            None
        ));
        assert!(TrustedDeviceRule::uri_pattern("rooms.acme.example").is_err());
    }

    #[test]
    fn cert_rules_match_only_the_pinned_fingerprint() {
        let upper = "AB:".repeat(31) + "AB";
        let rule = TrustedDeviceRule::cert_sha256(&upper).unwrap();
        let pinned = "ab".repeat(32);
        assert_eq!(rule.describe(), pinned);
        assert_eq!(rule.kind(), "cert-sha256");
        let ip = "127.0.0.1".parse().unwrap();
        assert!(rule.matches_unauthenticated(ip, "sip:x@y", Some(&pinned)));
        assert!(!rule.matches_unauthenticated(ip, "sip:x@y", Some(&"cd".repeat(32))));
        assert!(!rule.matches_unauthenticated(ip, "sip:x@y", None));
        assert!(TrustedDeviceRule::cert_sha256("abcd").is_err());
        assert!(TrustedDeviceRule::cert_sha256(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn digest_keeps_only_rfc_hashes() {
        let rule = TrustedDeviceRule::digest("room1:correct horse", "12345678.tessera").unwrap();
        let TrustedDeviceRule::Digest {
            ha1_md5,
            ha1_sha256,
            ..
        } = &rule
        else {
            panic!("digest rule expected");
        };
        // Python's hashlib over "room1:12345678.tessera:correct horse".
        assert_eq!(ha1_md5, "f5041832ceb60c35bf7a8c17828cbb1b");
        assert_eq!(
            ha1_sha256,
            "cf2c0ca1d2465840449bb51c6e2648f1c9320fd038a06028879c35ac4b2f6423"
        );
        assert!(!format!("{rule:?}").contains("correct horse"));
        assert!(!rule.matches_unauthenticated("127.0.0.1".parse().unwrap(), "sip:room1@x", None));
        assert!(TrustedDeviceRule::digest("room1", "r").is_err());
        assert!(TrustedDeviceRule::digest("room1:short", "r").is_err());
        assert!(TrustedDeviceRule::digest(":longenough", "r").is_err());
    }

    #[test]
    fn hostnames_are_normalised_and_checked() {
        assert_eq!(
            normalise_hostname("Video.ACME.example.").unwrap(),
            "video.acme.example"
        );
        for bad in [
            "localhost",
            "192.0.2.1",
            "-a.example",
            "a..example",
            "a_b.example",
            "a.123",
        ] {
            assert!(normalise_hostname(bad).is_err(), "{bad}");
        }
    }
}
