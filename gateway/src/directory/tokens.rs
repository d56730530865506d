//! Per-tenant admin API tokens: a bearer token that lets its holder see and change one tenant
//! only (the operator token, kept outside the directory, sees everything).
//!
//! Only the SHA-256 of a token is stored; the token itself (32 random bytes, hex) is returned once
//! by [`Directory::create_tenant_token`] and cannot be read back. Tokens go with their tenant
//! (`ON DELETE CASCADE`).

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use signaling::TenantKey;
use subtle::ConstantTimeEq;

use super::model::check_name;
use super::rows::tenant_exists;
use super::sql::values;
use super::{Directory, DirectoryError};

/// Random bytes in a tenant token (hex-encoded, so twice as many characters).
const TENANT_TOKEN_BYTES: usize = 32;

/// A stored tenant token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantToken {
    /// Row id, for revocation.
    pub id: i64,
    /// The tenant it is scoped to.
    pub tenant: TenantKey,
    /// What the operator called it, if anything.
    pub label: Option<String>,
    /// When it was created (RFC 3339, UTC).
    pub created: String,
}

impl TenantToken {
    /// JSON form (never includes the token or its hash).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "tenant": self.tenant.as_str(),
            "label": self.label,
            "created": self.created,
        })
    }
}

/// A token just created: its record and the secret, which is shown this once.
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedTenantToken {
    /// The stored record.
    pub token: TenantToken,
    /// The bearer token to hand to the tenant.
    pub secret: String,
}

impl std::fmt::Debug for CreatedTenantToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedTenantToken")
            .field("token", &self.token)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// SHA-256 of a presented token, lower-case hex: what the table stores and looks up.
fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Directory {
    /// Creates a token for `tenant`, optionally labelled. The returned secret is not stored and
    /// cannot be recovered.
    pub fn create_tenant_token(
        &mut self,
        tenant: &TenantKey,
        label: Option<&str>,
    ) -> Result<CreatedTenantToken, DirectoryError> {
        let label = label.map(|l| check_name("label", l)).transpose()?;
        let secret = hex::encode(rand::random::<[u8; TENANT_TOKEN_BYTES]>());
        let (id, created) = self.write(|tx| {
            if !tenant_exists(tx, tenant)? {
                return Err(DirectoryError::UnknownTenant(tenant.clone()));
            }
            let row = tx.query_one(
                "INSERT INTO tenant_tokens (tenant_key, label, token_sha256) VALUES (?1, ?2, ?3) \
                 RETURNING id, created",
                values![tenant.as_str(), label.as_deref(), token_hash(&secret)],
            )?;
            Ok((row.int(0)?, row.text(1)?))
        })?;
        Ok(CreatedTenantToken {
            token: TenantToken {
                id,
                tenant: tenant.clone(),
                label,
                created,
            },
            secret,
        })
    }

    /// A tenant's tokens, oldest first (no secrets, no hashes).
    pub fn tenant_tokens(&self, tenant: &TenantKey) -> Result<Vec<TenantToken>, DirectoryError> {
        self.read(|db| {
            if !tenant_exists(db, tenant)? {
                return Err(DirectoryError::UnknownTenant(tenant.clone()));
            }
            db.query(
                "SELECT id, label, created FROM tenant_tokens WHERE tenant_key = ?1 ORDER BY id",
                values![tenant.as_str()],
            )?
            .iter()
            .map(|r| {
                Ok(TenantToken {
                    id: r.int(0)?,
                    tenant: tenant.clone(),
                    label: r.opt_text(1)?,
                    created: r.text(2)?,
                })
            })
            .collect()
        })
    }

    /// Revokes one of a tenant's tokens; requests carrying it are refused from then on.
    pub fn revoke_tenant_token(
        &mut self,
        tenant: &TenantKey,
        id: i64,
    ) -> Result<(), DirectoryError> {
        self.write(|tx| {
            let gone = tx.execute(
                "DELETE FROM tenant_tokens WHERE id = ?1 AND tenant_key = ?2",
                values![id, tenant.as_str()],
            )?;
            if gone == 0 {
                return Err(DirectoryError::UnknownToken {
                    tenant: tenant.clone(),
                    id,
                });
            }
            Ok(())
        })
    }

    /// The tenant a presented bearer token belongs to, if it is a live tenant token.
    ///
    /// The token is hashed and the hash looked up; the stored hash is then compared again in
    /// constant time (the lookup itself can only reveal something about a hash of a token, not the
    /// token).
    pub fn tenant_for_token(&self, secret: &str) -> Result<Option<TenantKey>, DirectoryError> {
        let hash = token_hash(secret);
        let row: Option<(String, String)> = self.read(|db| {
            db.query_opt(
                "SELECT tenant_key, token_sha256 FROM tenant_tokens WHERE token_sha256 = ?1",
                values![&hash],
            )?
            .map(|r| Ok((r.text(0)?, r.text(1)?)))
            .transpose()
        })?;
        match row {
            Some((tenant, stored)) if bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) => {
                Ok(Some(TenantKey::new(&tenant)?))
            }
            _ => Ok(None),
        }
    }
}
