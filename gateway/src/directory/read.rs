//! What call control reads from the directory, as a trait: [`DirectoryRead`], with its error
//! [`ReadError`]. The [`Directory`] (SQLite or PostgreSQL) implements it by querying; the in-memory
//! [`Snapshot`](super::Snapshot) and [`LiveDirectory`](super::LiveDirectory) implement it from
//! memory, which is what the SIP driver task reads so that a slow disk never stalls SIP.
//!
//! Owns the read interface only: writes (with their validation and refusals) stay on the
//! backend's own type. It must not name a database library.

use std::collections::HashMap;

use signaling::{ConferenceId, DialLookup, DialPrefix, LookupError, TenantKey};

use super::model::hostname_key;
use super::rows::{
    device_from_row, load_meeting, meeting_from_row, tenant_exists, tenant_from_row,
    DEVICE_COLUMNS, MEETING_COLUMNS, TENANT_COLUMNS,
};
use super::sql::values;
use super::{Directory, DirectoryError, Meeting, Snapshot, Tenant, TrustedDevice};
use crate::grants::GrantKey;
use crate::lobby::LobbyPolicy;

/// Why a directory read failed. A tenant or meeting that does not exist is not an error (the
/// reads answer `None` or an empty list); this is the backend failing.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The backend could not answer (a database error, or a stored value that no longer
    /// passes validation).
    #[error("directory unavailable: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<DirectoryError> for ReadError {
    fn from(e: DirectoryError) -> Self {
        ReadError::Backend(Box::new(e))
    }
}

/// The directory as call control sees it: the dial plan's lookups ([`DialLookup`]), tenants
/// (licences, lobby defaults, hostnames), meetings with their effective lobby policy,
/// trusted-device rules (networks, URI patterns, digest HA1s) and participant-grant keys.
///
/// Answers are owned values: an implementation may hand out a copy of what it holds, never a
/// borrow of its storage.
pub trait DirectoryRead: DialLookup + Send + Sync + std::fmt::Debug {
    /// One tenant.
    fn tenant(&self, key: &TenantKey) -> Result<Option<Tenant>, ReadError>;

    /// Every tenant, ordered by key.
    fn tenants(&self) -> Result<Vec<Tenant>, ReadError>;

    /// One meeting.
    fn meeting(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<Option<Meeting>, ReadError>;

    /// Meetings of one tenant, or of all, ordered by tenant and conference ID.
    fn meetings(&self, tenant: Option<&TenantKey>) -> Result<Vec<Meeting>, ReadError>;

    /// A tenant's trusted-device rules, oldest first.
    fn trusted_devices(&self, tenant: &TenantKey) -> Result<Vec<TrustedDevice>, ReadError>;

    /// The key a tenant signs participant grants with (`crate::grants`); `None` when there is no
    /// such tenant.
    fn grant_key(&self, tenant: &TenantKey) -> Result<Option<GrantKey>, ReadError>;

    /// Everything call control reads, in memory. By default record by record
    /// ([`Snapshot::read_each`]); a database reads each table once instead.
    fn snapshot(&self) -> Result<Snapshot, ReadError> {
        Snapshot::read_each(self)
    }

    /// The lobby policy in force for a meeting (its tenant's defaults with its overrides);
    /// `None` when the tenant or the meeting does not exist.
    fn effective_policy(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<Option<LobbyPolicy>, ReadError> {
        let (Some(t), Some(m)) = (self.tenant(tenant)?, self.meeting(tenant, conference)?) else {
            return Ok(None);
        };
        Ok(Some(m.overrides.apply(t.policy)))
    }
}

impl DirectoryRead for Directory {
    fn tenant(&self, key: &TenantKey) -> Result<Option<Tenant>, ReadError> {
        Ok(Directory::tenant(self, key)?)
    }

    fn tenants(&self) -> Result<Vec<Tenant>, ReadError> {
        Ok(Directory::tenants(self)?)
    }

    fn meeting(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<Option<Meeting>, ReadError> {
        Ok(Directory::meeting(self, tenant, conference)?)
    }

    fn meetings(&self, tenant: Option<&TenantKey>) -> Result<Vec<Meeting>, ReadError> {
        Ok(Directory::meetings(self, tenant)?)
    }

    fn trusted_devices(&self, tenant: &TenantKey) -> Result<Vec<TrustedDevice>, ReadError> {
        Ok(Directory::trusted_devices(self, tenant)?)
    }

    fn grant_key(&self, tenant: &TenantKey) -> Result<Option<GrantKey>, ReadError> {
        Ok(Directory::grant_key(self, tenant)?)
    }

    /// Five queries, whatever the number of tenants (record by record, a reload of a large
    /// PostgreSQL directory took a round trip per tenant and rule list).
    fn snapshot(&self) -> Result<Snapshot, ReadError> {
        Ok(self.read(|db| {
            let mut tenants = db
                .query(
                    &format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY key"),
                    &[],
                )?
                .iter()
                .map(tenant_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            let mut hostnames: HashMap<String, Vec<String>> = HashMap::new();
            for row in db.query(
                "SELECT tenant_key, hostname FROM tenant_hostnames ORDER BY hostname",
                &[],
            )? {
                hostnames
                    .entry(row.text(0)?)
                    .or_default()
                    .push(row.text(1)?);
            }
            for tenant in &mut tenants {
                tenant.hostnames = hostnames.remove(tenant.key.as_str()).unwrap_or_default();
            }
            let devices = db
                .query(
                    &format!("SELECT {DEVICE_COLUMNS} FROM trusted_devices ORDER BY id"),
                    &[],
                )?
                .iter()
                .map(device_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            let keys = db
                .query("SELECT tenant_key, key FROM tenant_grant_keys", &[])?
                .iter()
                .map(|r| {
                    let bytes = r.bytes(1)?;
                    let key = GrantKey::from_bytes(&bytes).ok_or_else(|| {
                        DirectoryError::invalid(
                            "grant key",
                            format!("{} bytes stored", bytes.len()),
                        )
                    })?;
                    Ok((TenantKey::new(&r.text(0)?)?, key))
                })
                .collect::<Result<Vec<_>, DirectoryError>>()?;
            let meetings = db
                .query(
                    &format!(
                        "SELECT {MEETING_COLUMNS} FROM meetings ORDER BY tenant_key, conference_id"
                    ),
                    &[],
                )?
                .iter()
                .map(meeting_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Snapshot::from_tables(tenants, devices, keys, meetings))
        })?)
    }
}

fn lookup_error(e: DirectoryError) -> LookupError {
    LookupError(Box::new(e))
}

impl DialLookup for Directory {
    fn tenant_exists(&self, key: &TenantKey) -> Result<bool, LookupError> {
        self.read(|db| tenant_exists(db, key)).map_err(lookup_error)
    }

    fn tenant_by_hostname(&self, host: &str) -> Result<Option<TenantKey>, LookupError> {
        let host = hostname_key(host);
        self.read(|db| {
            db.query_opt(
                "SELECT tenant_key FROM tenant_hostnames WHERE hostname = ?1",
                values![host],
            )?
            .map(|r| Ok(TenantKey::new(&r.text(0)?)?))
            .transpose()
        })
        .map_err(lookup_error)
    }

    fn tenant_by_prefix(
        &self,
        digits: &str,
    ) -> Result<Option<(TenantKey, DialPrefix)>, LookupError> {
        self.read(|db| {
            db.query_opt(
                "SELECT key, dial_prefix FROM tenants WHERE dial_prefix IS NOT NULL \
                 AND substr(CAST(?1 AS TEXT), 1, length(dial_prefix)) = dial_prefix",
                values![digits],
            )?
            .map(|r| Ok((TenantKey::new(&r.text(0)?)?, DialPrefix::new(&r.text(1)?)?)))
            .transpose()
        })
        .map_err(lookup_error)
    }

    fn conference_exists(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<bool, LookupError> {
        self.read(|db| load_meeting(db, tenant, conference))
            .map(|m| m.is_some())
            .map_err(lookup_error)
    }
}
