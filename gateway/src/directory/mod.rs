//! The tenant directory: tenants, their hostnames, prefixes, licences, lobby defaults and
//! trusted-device rules and participant-grant keys, and their meetings, in embedded SQLite (WAL, versioned migrations).
//!
//! Owns the database file and every rule about what may be stored (duplicate keys and hostnames,
//! overlapping prefixes, malformed values): every write is one transaction, so a refused write
//! changes nothing. It must not know about calls or media.
//!
//! Call control reads the directory through the [`DirectoryRead`] trait (with the dial plan's
//! [`signaling::DialLookup`]), which [`Directory`] implements with SQL and [`Snapshot`] /
//! [`LiveDirectory`] implement from memory: the running gateway answers calls from a snapshot
//! that is reloaded when the database changes (`crate::server` watches), never from the disk.
//! The SQL lookups use the connection's prepared-statement cache: parsing their SQL again per
//! call cost more than running it.

mod grant_keys;
mod location;
mod media_policy;
mod model;
mod pg_schema;
mod read;
mod rows;
mod schema;
mod snapshot;
mod tokens;

pub use grant_keys::{GrantRequest, IssuedGrant, MAX_GRANT_TTL};
pub use location::{DbLocation, LocationError};
pub use media_policy::{MediaEncryption, MediaPolicy};
pub(crate) use model::realm_of;
pub use model::{Meeting, PolicyOverrides, Tenant, TrustedDevice, TrustedDeviceRule};
pub use pg_schema::{latest_version as pg_latest_version, migrate as pg_migrate, PgMigrationError};
pub use read::{DirectoryRead, ReadError};
pub use snapshot::{LiveDirectory, Snapshot};
pub use tokens::{CreatedTenantToken, TenantToken};

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{params, Connection, OptionalExtension};
use signaling::{ConferenceId, DialLookup, DialPrefix, IdError, LookupError, TenantKey};

use crate::lobby::{LobbyPolicy, WhoCanBypass};
use model::{check_name, hostname_key, normalise_hostname};
use rows::{
    check_prefix_free, device_from_row, hostnames_of, insert_hostname, load_meeting, load_tenant,
    meeting_from_row, tenant_exists, tenant_from_row, write_meeting, MEETING_COLUMNS,
    TENANT_COLUMNS, TENANT_INSERT_COLUMNS,
};

/// Why a directory operation failed. Refusals (everything but `Sqlite`/`Migration`) leave the
/// directory unchanged.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The database itself failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A key, conference ID or prefix is malformed.
    #[error(transparent)]
    InvalidId(#[from] IdError),
    /// Some other value is malformed.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A tenant with this key exists already.
    #[error("tenant {0} already exists")]
    DuplicateTenant(TenantKey),
    /// The hostname already names a tenant.
    #[error("hostname {hostname} already belongs to tenant {owner}")]
    DuplicateHostname {
        /// The hostname.
        hostname: String,
        /// The tenant that has it.
        owner: TenantKey,
    },
    /// The prefix would make prefix routing ambiguous.
    #[error("dial prefix {prefix} overlaps prefix {other} of tenant {owner}")]
    PrefixOverlap {
        /// The prefix asked for.
        prefix: DialPrefix,
        /// The existing prefix it starts, or that starts it.
        other: DialPrefix,
        /// The tenant that has the existing prefix.
        owner: TenantKey,
    },
    /// The tenant already has a meeting with this conference ID.
    #[error("tenant {tenant} already has meeting {conference}")]
    DuplicateMeeting {
        /// The tenant.
        tenant: TenantKey,
        /// The conference ID.
        conference: ConferenceId,
    },
    /// The tenant already has a digest credential for this username.
    #[error("tenant {tenant} already has a digest credential for {username}")]
    DuplicateCredential {
        /// The tenant.
        tenant: TenantKey,
        /// The username.
        username: String,
    },
    /// No such tenant.
    #[error("no tenant {0}")]
    UnknownTenant(TenantKey),
    /// No such meeting.
    #[error("tenant {tenant} has no meeting {conference}")]
    UnknownMeeting {
        /// The tenant.
        tenant: TenantKey,
        /// The conference ID.
        conference: ConferenceId,
    },
    /// No trusted-device rule with this id under this tenant.
    #[error("tenant {tenant} has no trusted-device rule {id}")]
    UnknownDevice {
        /// The tenant.
        tenant: TenantKey,
        /// The rule id.
        id: i64,
    },
    /// No admin API token with this id under this tenant.
    #[error("tenant {tenant} has no token {id}")]
    UnknownToken {
        /// The tenant.
        tenant: TenantKey,
        /// The token id.
        id: i64,
    },
}

impl DirectoryError {
    pub(crate) fn invalid(field: &'static str, reason: String) -> Self {
        DirectoryError::Invalid { field, reason }
    }
}

/// What a new tenant is made of; see [`Directory::add_tenant`].
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// Tenant key.
    pub key: TenantKey,
    /// Display name.
    pub name: String,
    /// Hostnames naming the tenant.
    pub hostnames: Vec<String>,
    /// Dial prefix.
    pub prefix: Option<DialPrefix>,
    /// Endpoint ports.
    pub endpoint_licenses: u32,
    /// Cascade ports.
    pub cascade_licenses: u32,
    /// Lobby defaults.
    pub policy: LobbyPolicy,
}

/// A change to a tenant; `None` fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    /// New display name.
    pub name: Option<String>,
    /// Hostnames to add.
    pub add_hostnames: Vec<String>,
    /// Hostnames to remove.
    pub remove_hostnames: Vec<String>,
    /// New prefix (`Some(None)` removes it).
    pub prefix: Option<Option<DialPrefix>>,
    /// New endpoint port count.
    pub endpoint_licenses: Option<u32>,
    /// New cascade port count.
    pub cascade_licenses: Option<u32>,
    /// New default for who can bypass.
    pub who_can_bypass: Option<WhoCanBypass>,
    /// New default for callers bypass.
    pub callers_bypass: Option<bool>,
    /// New default for anonymous can start.
    pub anonymous_can_start: Option<bool>,
    /// New value of the legacy trusted-VTC compatibility switch.
    pub legacy_trusted_vtc_bypass: Option<bool>,
    /// New media encryption policy.
    pub media_encryption: Option<MediaEncryption>,
    /// New value of the switch that lets SDES keys travel over clear-text signalling.
    pub sdes_over_clear: Option<bool>,
}

/// A change to a meeting; `None` fields stay as they are, `Some(None)` returns an option to the
/// tenant's default.
#[derive(Debug, Clone, Default)]
pub struct MeetingUpdate {
    /// New organizer (`Some(None)` clears it).
    pub organizer: Option<Option<String>>,
    /// Who-can-bypass override.
    pub who_can_bypass: Option<Option<WhoCanBypass>>,
    /// Callers-bypass override.
    pub callers_bypass: Option<Option<bool>>,
    /// Anonymous-can-start override.
    pub anonymous_can_start: Option<Option<bool>>,
}

/// The tenant directory over one SQLite database.
///
/// The connection sits behind a mutex so that one `Directory` can be shared between threads
/// (the [`DirectoryRead`] trait is `Sync`); writes take `&mut self` and reach it without locking.
#[derive(Debug)]
pub struct Directory {
    conn: Mutex<Connection>,
}

impl Directory {
    /// Opens (creating if needed) the database at `path`, in WAL mode, migrated to the latest
    /// schema.
    pub fn open(path: &Path) -> Result<Self, DirectoryError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::init(conn)
    }

    /// A directory in memory, for tests and dry runs.
    pub fn open_in_memory() -> Result<Self, DirectoryError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, DirectoryError> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrations().to_latest(&mut conn)?;
        Ok(Directory {
            conn: Mutex::new(conn),
        })
    }

    /// The connection, for reads. A panic while it was held cannot leave it inconsistent (every
    /// write is one transaction), so a poisoned lock is taken over.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection, for writes (no locking: `&mut self` is exclusive).
    fn conn_mut(&mut self) -> &mut Connection {
        self.conn.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this connection has changed any row since it was opened (its own writes,
    /// committed or not; what tells a request that the in-memory directory must be reloaded).
    pub fn wrote(&self) -> bool {
        self.conn().total_changes() > 0
    }

    /// A number that changes whenever another connection (another request, the CLI in another
    /// process) commits a change to the database: SQLite's `PRAGMA data_version`. This
    /// connection's own writes do not change it, so a connection that only watches sees every
    /// write made by anyone.
    pub fn data_version(&self) -> Result<i64, DirectoryError> {
        Ok(self
            .conn()
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    // ---- tenants ----

    /// Adds a tenant. Refused (changing nothing) on a duplicate key or hostname, an overlapping
    /// prefix, or a malformed value.
    pub fn add_tenant(&mut self, new: &NewTenant) -> Result<Tenant, DirectoryError> {
        let name = check_name("name", &new.name)?;
        let hostnames = new
            .hostnames
            .iter()
            .map(|h| normalise_hostname(h))
            .collect::<Result<Vec<_>, _>>()?;
        let tx = self.conn_mut().transaction()?;
        if tenant_exists(&tx, &new.key)? {
            return Err(DirectoryError::DuplicateTenant(new.key.clone()));
        }
        if let Some(prefix) = &new.prefix {
            check_prefix_free(&tx, prefix, None)?;
        }
        tx.execute(
            &format!("INSERT INTO tenants ({TENANT_INSERT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![
                new.key.as_str(),
                name,
                new.prefix.as_ref().map(DialPrefix::as_str),
                new.endpoint_licenses,
                new.cascade_licenses,
                new.policy.who_can_bypass.as_str(),
                new.policy.callers_bypass,
                new.policy.anonymous_can_start,
                new.policy.legacy_trusted_vtc_bypass,
            ],
        )?;
        for host in &hostnames {
            insert_hostname(&tx, &new.key, host)?;
        }
        grant_keys::insert_new(&tx, &new.key)?;
        let tenant = load_tenant(&tx, &new.key)?
            .ok_or_else(|| DirectoryError::UnknownTenant(new.key.clone()))?;
        tx.commit()?;
        Ok(tenant)
    }

    /// Changes a tenant; all of the update applies or none of it.
    pub fn update_tenant(
        &mut self,
        key: &TenantKey,
        update: &TenantUpdate,
    ) -> Result<Tenant, DirectoryError> {
        let name = update
            .name
            .as_deref()
            .map(|n| check_name("name", n))
            .transpose()?;
        let add = update
            .add_hostnames
            .iter()
            .map(|h| normalise_hostname(h))
            .collect::<Result<Vec<_>, _>>()?;
        let remove = update
            .remove_hostnames
            .iter()
            .map(|h| normalise_hostname(h))
            .collect::<Result<Vec<_>, _>>()?;
        let tx = self.conn_mut().transaction()?;
        let mut tenant =
            load_tenant(&tx, key)?.ok_or_else(|| DirectoryError::UnknownTenant(key.clone()))?;
        if let Some(name) = name {
            tenant.name = name;
        }
        if let Some(prefix) = &update.prefix {
            if let Some(p) = prefix {
                check_prefix_free(&tx, p, Some(key))?;
            }
            tenant.prefix = prefix.clone();
        }
        let p = &mut tenant.policy;
        p.who_can_bypass = update.who_can_bypass.unwrap_or(p.who_can_bypass);
        p.callers_bypass = update.callers_bypass.unwrap_or(p.callers_bypass);
        p.anonymous_can_start = update.anonymous_can_start.unwrap_or(p.anonymous_can_start);
        p.legacy_trusted_vtc_bypass = update
            .legacy_trusted_vtc_bypass
            .unwrap_or(p.legacy_trusted_vtc_bypass);
        let m = &mut tenant.media;
        m.encryption = update.media_encryption.unwrap_or(m.encryption);
        m.sdes_over_clear = update.sdes_over_clear.unwrap_or(m.sdes_over_clear);
        tenant.endpoint_licenses = update.endpoint_licenses.unwrap_or(tenant.endpoint_licenses);
        tenant.cascade_licenses = update.cascade_licenses.unwrap_or(tenant.cascade_licenses);
        tx.execute(
            "UPDATE tenants SET name = ?2, dial_prefix = ?3, endpoint_licenses = ?4, \
             cascade_licenses = ?5, who_can_bypass = ?6, callers_bypass = ?7, \
             anonymous_can_start = ?8, legacy_trusted_vtc_bypass = ?9, media_encryption = ?10, \
             sdes_over_clear = ?11 WHERE key = ?1",
            params![
                key.as_str(),
                tenant.name,
                tenant.prefix.as_ref().map(DialPrefix::as_str),
                tenant.endpoint_licenses,
                tenant.cascade_licenses,
                tenant.policy.who_can_bypass.as_str(),
                tenant.policy.callers_bypass,
                tenant.policy.anonymous_can_start,
                tenant.policy.legacy_trusted_vtc_bypass,
                tenant.media.encryption.as_str(),
                tenant.media.sdes_over_clear,
            ],
        )?;
        for host in &remove {
            let gone = tx.execute(
                "DELETE FROM tenant_hostnames WHERE hostname = ?1 AND tenant_key = ?2",
                params![host, key.as_str()],
            )?;
            if gone == 0 {
                return Err(DirectoryError::invalid(
                    "hostname",
                    format!("{host} is not a hostname of tenant {key}"),
                ));
            }
        }
        for host in &add {
            insert_hostname(&tx, key, host)?;
        }
        let tenant =
            load_tenant(&tx, key)?.ok_or_else(|| DirectoryError::UnknownTenant(key.clone()))?;
        tx.commit()?;
        Ok(tenant)
    }

    /// Removes a tenant with its hostnames, meetings, trusted-device rules and tokens.
    pub fn remove_tenant(&mut self, key: &TenantKey) -> Result<(), DirectoryError> {
        let gone = self
            .conn_mut()
            .execute("DELETE FROM tenants WHERE key = ?1", [key.as_str()])?;
        if gone == 0 {
            return Err(DirectoryError::UnknownTenant(key.clone()));
        }
        Ok(())
    }

    /// One tenant.
    pub fn tenant(&self, key: &TenantKey) -> Result<Option<Tenant>, DirectoryError> {
        let conn = self.conn();
        load_tenant(&conn, key)
    }

    /// Every tenant, by key.
    pub fn tenants(&self) -> Result<Vec<Tenant>, DirectoryError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants ORDER BY key"
        ))?;
        let rows = stmt.query_map([], tenant_from_row)?;
        rows.map(|row| {
            let mut tenant = row??;
            tenant.hostnames = hostnames_of(&conn, &tenant.key)?;
            Ok(tenant)
        })
        .collect()
    }

    // ---- meetings ----

    /// Adds a meeting to a tenant.
    pub fn add_meeting(
        &mut self,
        tenant: &TenantKey,
        conference: &ConferenceId,
        organizer: Option<&str>,
        overrides: PolicyOverrides,
    ) -> Result<Meeting, DirectoryError> {
        let organizer = organizer.map(|o| check_name("organizer", o)).transpose()?;
        let tx = self.conn_mut().transaction()?;
        if !tenant_exists(&tx, tenant)? {
            return Err(DirectoryError::UnknownTenant(tenant.clone()));
        }
        if load_meeting(&tx, tenant, conference)?.is_some() {
            return Err(DirectoryError::DuplicateMeeting {
                tenant: tenant.clone(),
                conference: conference.clone(),
            });
        }
        write_meeting(
            &tx,
            "INSERT INTO meetings",
            &Meeting {
                tenant: tenant.clone(),
                conference_id: conference.clone(),
                organizer,
                overrides,
            },
        )?;
        let meeting = load_meeting(&tx, tenant, conference)?
            .ok_or_else(|| unknown_meeting(tenant, conference))?;
        tx.commit()?;
        Ok(meeting)
    }

    /// Changes a meeting's organizer or overrides.
    pub fn update_meeting(
        &mut self,
        tenant: &TenantKey,
        conference: &ConferenceId,
        update: &MeetingUpdate,
    ) -> Result<Meeting, DirectoryError> {
        let organizer = match &update.organizer {
            Some(Some(o)) => Some(Some(check_name("organizer", o)?)),
            other => other.clone(),
        };
        let tx = self.conn_mut().transaction()?;
        let mut meeting = load_meeting(&tx, tenant, conference)?
            .ok_or_else(|| unknown_meeting(tenant, conference))?;
        if let Some(o) = organizer {
            meeting.organizer = o;
        }
        let ov = &mut meeting.overrides;
        ov.who_can_bypass = update.who_can_bypass.unwrap_or(ov.who_can_bypass);
        ov.callers_bypass = update.callers_bypass.unwrap_or(ov.callers_bypass);
        ov.anonymous_can_start = update.anonymous_can_start.unwrap_or(ov.anonymous_can_start);
        write_meeting(&tx, "INSERT OR REPLACE INTO meetings", &meeting)?;
        tx.commit()?;
        Ok(meeting)
    }

    /// Removes a meeting.
    pub fn remove_meeting(
        &mut self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<(), DirectoryError> {
        let gone = self.conn_mut().execute(
            "DELETE FROM meetings WHERE tenant_key = ?1 AND conference_id = ?2",
            [tenant.as_str(), conference.as_str()],
        )?;
        if gone == 0 {
            return Err(unknown_meeting(tenant, conference));
        }
        Ok(())
    }

    /// One meeting.
    pub fn meeting(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<Option<Meeting>, DirectoryError> {
        let conn = self.conn();
        load_meeting(&conn, tenant, conference)
    }

    /// Meetings of one tenant, or of all, ordered by tenant and conference ID.
    pub fn meetings(&self, tenant: Option<&TenantKey>) -> Result<Vec<Meeting>, DirectoryError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {MEETING_COLUMNS} FROM meetings WHERE ?1 IS NULL OR tenant_key = ?1 \
             ORDER BY tenant_key, conference_id"
        ))?;
        let rows = stmt.query_map([tenant.map(TenantKey::as_str)], meeting_from_row)?;
        rows.map(|r| r?).collect()
    }

    /// The lobby policy in force for a meeting: its tenant's defaults with its overrides.
    pub fn effective_policy(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<LobbyPolicy, DirectoryError> {
        let t = self
            .tenant(tenant)?
            .ok_or_else(|| DirectoryError::UnknownTenant(tenant.clone()))?;
        let m = self
            .meeting(tenant, conference)?
            .ok_or_else(|| unknown_meeting(tenant, conference))?;
        Ok(m.overrides.apply(t.policy))
    }

    // ---- trusted devices ----

    /// Adds a trusted-device rule (a room system) to a tenant.
    pub fn add_trusted_device(
        &mut self,
        tenant: &TenantKey,
        rule: &TrustedDeviceRule,
    ) -> Result<TrustedDevice, DirectoryError> {
        self.add_device_rule(tenant, rule, false)
    }

    /// Adds a device rule to a tenant: a room system (`cascade` false) or a conference bridge
    /// whose calls are cascade links (`cascade` true).
    pub fn add_device_rule(
        &mut self,
        tenant: &TenantKey,
        rule: &TrustedDeviceRule,
        cascade: bool,
    ) -> Result<TrustedDevice, DirectoryError> {
        let tx = self.conn_mut().transaction()?;
        if !tenant_exists(&tx, tenant)? {
            return Err(DirectoryError::UnknownTenant(tenant.clone()));
        }
        match rule {
            TrustedDeviceRule::Cidr(net) => tx.execute(
                "INSERT INTO trusted_devices (tenant_key, kind, cidr) VALUES (?1, 'cidr', ?2)",
                params![tenant.as_str(), net.to_string()],
            )?,
            TrustedDeviceRule::UriPattern(p) => tx.execute(
                "INSERT INTO trusted_devices (tenant_key, kind, uri_pattern) VALUES (?1, 'uri', ?2)",
                params![tenant.as_str(), p],
            )?,
            TrustedDeviceRule::CertSha256(fingerprint) => {
                let taken: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM trusted_devices \
                     WHERE tenant_key = ?1 AND kind = 'cert-sha256' AND cert_sha256 = ?2)",
                    params![tenant.as_str(), fingerprint],
                    |r| r.get(0),
                )?;
                if taken {
                    return Err(DirectoryError::invalid(
                        "cert_sha256",
                        format!("tenant {tenant} already trusts certificate {fingerprint}"),
                    ));
                }
                tx.execute(
                    "INSERT INTO trusted_devices (tenant_key, kind, cert_sha256) \
                     VALUES (?1, 'cert-sha256', ?2)",
                    params![tenant.as_str(), fingerprint],
                )?
            }
            TrustedDeviceRule::Digest {
                username,
                realm,
                ha1_md5,
                ha1_sha256,
            } => {
                let taken: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM trusted_devices \
                     WHERE tenant_key = ?1 AND kind = 'digest' AND username = ?2)",
                    params![tenant.as_str(), username],
                    |r| r.get(0),
                )?;
                if taken {
                    return Err(DirectoryError::DuplicateCredential {
                        tenant: tenant.clone(),
                        username: username.clone(),
                    });
                }
                if *realm != realm_of(tenant) {
                    return Err(DirectoryError::invalid(
                        "digest",
                        format!("realm {realm} is not tenant {tenant}'s realm"),
                    ));
                }
                tx.execute(
                    "INSERT INTO trusted_devices (tenant_key, kind, username, realm, ha1_md5, ha1_sha256) \
                     VALUES (?1, 'digest', ?2, ?3, ?4, ?5)",
                    params![tenant.as_str(), username, realm, ha1_md5, ha1_sha256],
                )?
            }
        };
        let id = tx.last_insert_rowid();
        tx.execute(
            "UPDATE trusted_devices SET cascade = ?1 WHERE id = ?2",
            params![i64::from(cascade), id],
        )?;
        let device = TrustedDevice {
            id,
            tenant: tenant.clone(),
            rule: rule.clone(),
            cascade,
        };
        tx.commit()?;
        Ok(device)
    }

    /// A tenant's trusted-device rules, oldest first.
    pub fn trusted_devices(
        &self,
        tenant: &TenantKey,
    ) -> Result<Vec<TrustedDevice>, DirectoryError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, tenant_key, kind, cidr, uri_pattern, username, realm, ha1_md5, ha1_sha256, \
             cascade, cert_sha256 FROM trusted_devices WHERE tenant_key = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([tenant.as_str()], device_from_row)?;
        rows.map(|r| r?).collect()
    }

    /// Removes one of a tenant's trusted-device rules.
    pub fn remove_trusted_device(
        &mut self,
        tenant: &TenantKey,
        id: i64,
    ) -> Result<(), DirectoryError> {
        let gone = self.conn_mut().execute(
            "DELETE FROM trusted_devices WHERE id = ?1 AND tenant_key = ?2",
            params![id, tenant.as_str()],
        )?;
        if gone == 0 {
            return Err(DirectoryError::UnknownDevice {
                tenant: tenant.clone(),
                id,
            });
        }
        Ok(())
    }
}

fn unknown_meeting(tenant: &TenantKey, conference: &ConferenceId) -> DirectoryError {
    DirectoryError::UnknownMeeting {
        tenant: tenant.clone(),
        conference: conference.clone(),
    }
}

fn lookup_error(e: DirectoryError) -> LookupError {
    LookupError(Box::new(e))
}

impl DialLookup for Directory {
    fn tenant_exists(&self, key: &TenantKey) -> Result<bool, LookupError> {
        let conn = self.conn();
        tenant_exists(&conn, key).map_err(lookup_error)
    }

    fn tenant_by_hostname(&self, host: &str) -> Result<Option<TenantKey>, LookupError> {
        let host = hostname_key(host);
        let key: Option<String> = self
            .conn()
            .prepare_cached("SELECT tenant_key FROM tenant_hostnames WHERE hostname = ?1")
            .and_then(|mut stmt| stmt.query_row([host], |r| r.get(0)).optional())
            .map_err(|e| lookup_error(e.into()))?;
        key.map(|k| TenantKey::new(&k).map_err(|e| lookup_error(e.into())))
            .transpose()
    }

    fn tenant_by_prefix(
        &self,
        digits: &str,
    ) -> Result<Option<(TenantKey, DialPrefix)>, LookupError> {
        let row: Option<(String, String)> = self
            .conn()
            .prepare_cached(
                "SELECT key, dial_prefix FROM tenants WHERE dial_prefix IS NOT NULL \
                 AND substr(?1, 1, length(dial_prefix)) = dial_prefix",
            )
            .and_then(|mut stmt| {
                stmt.query_row([digits], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| lookup_error(e.into()))?;
        row.map(|(k, p)| {
            Ok((
                TenantKey::new(&k).map_err(|e| lookup_error(e.into()))?,
                DialPrefix::new(&p).map_err(|e| lookup_error(e.into()))?,
            ))
        })
        .transpose()
    }

    fn conference_exists(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<bool, LookupError> {
        let conn = self.conn();
        load_meeting(&conn, tenant, conference)
            .map(|m| m.is_some())
            .map_err(lookup_error)
    }
}

#[cfg(test)]
mod tests;
