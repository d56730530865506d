//! Per-tenant admin API tokens: a bearer token that lets its holder see and change one tenant
//! only (the operator token, kept outside the directory, sees everything).
//!
//! Only the SHA-256 of a token is stored; the token itself (32 random bytes, hex) is returned once
//! by [`Directory::create_tenant_token`] and cannot be read back. Tokens go with their tenant
//! (`ON DELETE CASCADE`).

use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use signaling::TenantKey;
use subtle::ConstantTimeEq;

use super::model::check_name;
use super::rows::tenant_exists;
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
        let tx = self.conn_mut().transaction()?;
        if !tenant_exists(&tx, tenant)? {
            return Err(DirectoryError::UnknownTenant(tenant.clone()));
        }
        tx.execute(
            "INSERT INTO tenant_tokens (tenant_key, label, token_sha256) VALUES (?1, ?2, ?3)",
            params![tenant.as_str(), label, token_hash(&secret)],
        )?;
        let id = tx.last_insert_rowid();
        let created: String = tx.query_row(
            "SELECT created FROM tenant_tokens WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        tx.commit()?;
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
        let conn = self.conn();
        if !tenant_exists(&conn, tenant)? {
            return Err(DirectoryError::UnknownTenant(tenant.clone()));
        }
        let mut stmt = conn.prepare(
            "SELECT id, label, created FROM tenant_tokens WHERE tenant_key = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([tenant.as_str()], |r| {
            Ok(TenantToken {
                id: r.get(0)?,
                tenant: tenant.clone(),
                label: r.get(1)?,
                created: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes one of a tenant's tokens; requests carrying it are refused from then on.
    pub fn revoke_tenant_token(
        &mut self,
        tenant: &TenantKey,
        id: i64,
    ) -> Result<(), DirectoryError> {
        let gone = self.conn_mut().execute(
            "DELETE FROM tenant_tokens WHERE id = ?1 AND tenant_key = ?2",
            params![id, tenant.as_str()],
        )?;
        if gone == 0 {
            return Err(DirectoryError::UnknownToken {
                tenant: tenant.clone(),
                id,
            });
        }
        Ok(())
    }

    /// The tenant a presented bearer token belongs to, if it is a live tenant token.
    ///
    /// The token is hashed and the hash looked up; the stored hash is then compared again in
    /// constant time (the lookup itself can only reveal something about a hash of a token, not the
    /// token).
    pub fn tenant_for_token(&self, secret: &str) -> Result<Option<TenantKey>, DirectoryError> {
        let hash = token_hash(secret);
        let row: Option<(String, String)> = self
            .conn()
            .query_row(
                "SELECT tenant_key, token_sha256 FROM tenant_tokens WHERE token_sha256 = ?1",
                [&hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            Some((tenant, stored)) if bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) => {
                Ok(Some(TenantKey::new(&tenant)?))
            }
            _ => Ok(None),
        }
    }
}
