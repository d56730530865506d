//! Per-tenant participant-grant keys: the secret each tenant signs its participant grants with
//! (`crate::grants`). One per tenant, made when the tenant is added (and by migration 3 for
//! tenants older than it), removed with it.
//!
//! Owns storing and reading the key, and issuing a grant for a tenant's meeting with it
//! ([`Directory::issue_grant`], what `tessera token grant` and the admin API both call); the token
//! format, signing and verifying are `crate::grants`'. The key is never shown by the CLI or the
//! API.

use std::time::Duration;

use signaling::{ConferenceId, TenantKey};

use super::sql::{values, Sql};
use super::{Directory, DirectoryError};
use crate::grants::{self, Grant, GrantClass, GrantError, GrantKey};

/// Longest lifetime a grant may be issued with: a join link is for a meeting, not a standing
/// credential.
pub const MAX_GRANT_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// What to grant; see [`Directory::issue_grant`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRequest {
    /// The issuing tenant.
    pub tenant: TenantKey,
    /// The one meeting the grant is for (it must exist), or any of the tenant's.
    pub conference: Option<ConferenceId>,
    /// The trust class the holder joins as.
    pub class: GrantClass,
    /// The display name the holder joins under.
    pub name: Option<String>,
    /// How long from now the grant is accepted (1 s to [`MAX_GRANT_TTL`]).
    pub ttl: Duration,
}

/// A grant just issued: the token and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedGrant {
    /// The signed token, for `Authorization: Bearer` or a join link's `?grant=`.
    pub token: String,
    /// What the token grants.
    pub grant: Grant,
}

impl IssuedGrant {
    /// JSON form: the token, what it grants, its expiry and the join path (as the CLI's `--json`
    /// and the admin API show it).
    pub fn to_json(&self) -> serde_json::Value {
        let g = &self.grant;
        serde_json::json!({
            "token": self.token,
            "tenant": g.tenant.as_str(),
            "conference": g.conference.as_ref().map(|c| c.as_str()),
            "class": g.class.as_str(),
            "name": g.name,
            "expires_unix": g.expires_unix,
            "join_path": self.join_path(),
        })
    }

    /// The join page path for the grant's meeting with the token in it, when it names one.
    pub fn join_path(&self) -> Option<String> {
        self.grant
            .conference
            .as_ref()
            .map(|c| format!("/join/{}/{}?grant={}", self.grant.tenant, c, self.token))
    }
}

/// Stores a fresh random key for a tenant being added in `tx`.
pub(super) fn insert_new(tx: &mut dyn Sql, tenant: &TenantKey) -> Result<(), DirectoryError> {
    tx.execute(
        "INSERT INTO tenant_grant_keys (tenant_key, key) VALUES (?1, ?2)",
        values![tenant.as_str(), GrantKey::generate().as_bytes()],
    )?;
    Ok(())
}

impl Directory {
    /// The tenant's grant-signing key; `None` when there is no such tenant.
    pub fn grant_key(&self, tenant: &TenantKey) -> Result<Option<GrantKey>, DirectoryError> {
        let bytes: Option<Vec<u8>> = self.read(|db| {
            db.query_opt(
                "SELECT key FROM tenant_grant_keys WHERE tenant_key = ?1",
                values![tenant.as_str()],
            )?
            .map(|r| r.bytes(0))
            .transpose()
        })?;
        bytes
            .map(|b| {
                GrantKey::from_bytes(&b).ok_or_else(|| {
                    DirectoryError::invalid("grant key", format!("{} bytes stored", b.len()))
                })
            })
            .transpose()
    }

    /// Issues a participant grant signed with the tenant's key, valid from `now` (seconds since
    /// the Unix epoch) for the request's TTL. Refused for an unknown tenant or meeting, a TTL out
    /// of range or an invalid name.
    pub fn issue_grant(
        &self,
        request: &GrantRequest,
        now: u64,
    ) -> Result<IssuedGrant, DirectoryError> {
        if request.ttl < Duration::from_secs(1) || request.ttl > MAX_GRANT_TTL {
            return Err(DirectoryError::invalid(
                "ttl",
                format!(
                    "must be between 1s and {}",
                    humantime::format_duration(MAX_GRANT_TTL)
                ),
            ));
        }
        let key = self
            .grant_key(&request.tenant)?
            .ok_or_else(|| DirectoryError::UnknownTenant(request.tenant.clone()))?;
        if let Some(conference) = &request.conference {
            if self.meeting(&request.tenant, conference)?.is_none() {
                return Err(DirectoryError::UnknownMeeting {
                    tenant: request.tenant.clone(),
                    conference: conference.clone(),
                });
            }
        }
        let grant = Grant {
            tenant: request.tenant.clone(),
            conference: request.conference.clone(),
            class: request.class,
            name: request.name.clone(),
            expires_unix: now.saturating_add(request.ttl.as_secs()),
        };
        let token = grants::issue(&key, &grant, now).map_err(|e| match e {
            GrantError::InvalidName(reason) => DirectoryError::invalid("name", reason),
            other => DirectoryError::invalid("grant", other.to_string()),
        })?;
        Ok(IssuedGrant { token, grant })
    }
}
