//! The tenant directory: tenants, their hostnames, prefixes, licences, lobby defaults and
//! trusted-device rules and participant-grant keys, and their meetings, in embedded SQLite (WAL,
//! versioned migrations) or a shared PostgreSQL (a cluster; the same schema, `pg_schema.rs`).
//!
//! Owns the database (a SQLite file, or the directory's PostgreSQL tables) and every rule about
//! what may be stored (duplicate keys and hostnames, overlapping prefixes, malformed values):
//! every write is one transaction, so a refused write changes nothing. It must not know about
//! calls or media.
//!
//! Call control reads the directory through the [`DirectoryRead`] trait (with the dial plan's
//! [`signaling::DialLookup`]), which [`Directory`] implements with SQL and [`Snapshot`] /
//! [`LiveDirectory`] implement from memory: the running gateway answers calls from a snapshot
//! that is reloaded when the database changes (`crate::server` watches), never from the disk.
//! Every method is written once, against the query layer of `sql.rs`: the same SQL, checks and
//! refusals on either database; only placeholders and value types differ, and `sql.rs` owns that.

mod grant_keys;
mod location;
mod media_policy;
mod model;
pub(crate) mod pg_pool;
mod pg_schema;
mod read;
mod rows;
mod schema;
mod snapshot;
mod sql;
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

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;
use signaling::{ConferenceId, DialPrefix, IdError, TenantKey};

use crate::lobby::{LobbyPolicy, WhoCanBypass};
use model::{check_name, normalise_hostname};
use rows::{
    all_tenants, check_prefix_free, device_from_row, insert_hostname, insert_meeting, load_meeting,
    load_tenant, meeting_from_row, tenant_exists, DEVICE_COLUMNS, MEETING_COLUMNS,
    TENANT_INSERT_COLUMNS,
};
use sql::{values, Backend, PgPool, Sql};

/// Why a directory operation failed. Refusals (everything but the database failing: `Sqlite`,
/// `Migration`, `Postgres`, `PgMigration`, `Pool`) leave the directory unchanged.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The database itself failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// PostgreSQL failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
    /// The PostgreSQL schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    PgMigration(#[from] PgMigrationError),
    /// No pooled PostgreSQL connection could be had in time.
    #[error("PostgreSQL pool: {0}")]
    Pool(#[from] r2d2::Error),
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

/// Where [`Directory`] connections come from: a SQLite file (each [`DirectorySource::open`] a
/// connection of its own, as WAL lets several run side by side) or a PostgreSQL pool (each
/// `open` a handle on the one pool, migrated once when the source was made). Cheap to clone.
#[derive(Debug, Clone)]
pub struct DirectorySource(Source);

#[derive(Debug, Clone)]
enum Source {
    Sqlite(PathBuf),
    Postgres(PgPool),
}

impl DirectorySource {
    /// A source for `location`. PostgreSQL: the pool is built and the schema brought up to date
    /// here (SQLite migrates on every open, which is one pragma when current).
    pub fn connect(location: &DbLocation) -> Result<Self, DirectoryError> {
        match location {
            DbLocation::Sqlite(path) => Ok(Self::sqlite(path.clone())),
            DbLocation::Postgres(_) => {
                let config = location.postgres_config().ok_or_else(|| {
                    DirectoryError::invalid("db", format!("{location} is not a PostgreSQL URL"))
                })?;
                let pool = sql::pg_pool(config)?;
                pg_migrate(&mut *pool.get()?)?;
                Ok(DirectorySource(Source::Postgres(pool)))
            }
        }
    }

    /// A SQLite file.
    pub fn sqlite(path: PathBuf) -> Self {
        DirectorySource(Source::Sqlite(path))
    }

    /// A directory on this source.
    pub fn open(&self) -> Result<Directory, DirectoryError> {
        match &self.0 {
            Source::Sqlite(path) => Directory::open(path),
            Source::Postgres(pool) => Ok(Directory::with(Backend::Postgres(pool.clone()))),
        }
    }
}

/// The tenant directory over one SQLite database or a PostgreSQL pool.
///
/// Reads take `&self` (a SQLite connection sits behind a mutex so that one `Directory` can be
/// shared between threads: the [`DirectoryRead`] trait is `Sync`); writes take `&mut self`.
#[derive(Debug)]
pub struct Directory {
    backend: Backend,
    /// Whether a write of this handle has committed.
    wrote: bool,
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

    /// Opens the directory at `location` (a SQLite file or a PostgreSQL URL), migrated to the
    /// latest schema.
    pub fn connect(location: &DbLocation) -> Result<Self, DirectoryError> {
        DirectorySource::connect(location)?.open()
    }

    /// A directory in memory, for tests and dry runs.
    pub fn open_in_memory() -> Result<Self, DirectoryError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, DirectoryError> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrations().to_latest(&mut conn)?;
        Ok(Self::with(Backend::Sqlite(Mutex::new(conn))))
    }

    /// The SQLite connection, for tests that look under the directory.
    #[cfg(test)]
    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        match &self.backend {
            Backend::Sqlite(conn) => conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            Backend::Postgres(_) => panic!("not a SQLite directory"),
        }
    }

    fn with(backend: Backend) -> Self {
        Directory {
            backend,
            wrote: false,
        }
    }

    /// Runs `f` in one write transaction; see [`Backend::write`].
    fn write<T>(
        &mut self,
        f: impl FnMut(&mut dyn Sql) -> Result<T, DirectoryError>,
    ) -> Result<T, DirectoryError> {
        let out = self.backend.write(f)?;
        self.wrote = true;
        Ok(out)
    }

    /// Runs `f` on a consistent view; see [`Backend::read`].
    fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, DirectoryError>,
    ) -> Result<T, DirectoryError> {
        self.backend.read(f)
    }

    /// Whether this handle has committed a change since it was opened (what tells a request
    /// that the in-memory directory must be reloaded). A refused write changed nothing and does
    /// not count.
    pub fn wrote(&self) -> bool {
        self.wrote
    }

    /// A number that changes whenever another connection (another request, the CLI in another
    /// process, another node) commits a change to the directory. SQLite: `PRAGMA data_version`,
    /// which this connection's own writes do not change, so a connection that only watches sees
    /// every write made by anyone. PostgreSQL: the `directory_version` row that a trigger on
    /// every directory table bumps (schema migration 8), whoever writes.
    pub fn data_version(&self) -> Result<i64, DirectoryError> {
        let sql = match self.backend {
            Backend::Sqlite(_) => "PRAGMA data_version",
            Backend::Postgres(_) => "SELECT version FROM directory_version",
        };
        self.read(|db| db.query_one(sql, &[])?.int(0))
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
        self.write(|tx| {
            if tenant_exists(tx, &new.key)? {
                return Err(DirectoryError::DuplicateTenant(new.key.clone()));
            }
            if let Some(prefix) = &new.prefix {
                check_prefix_free(tx, prefix, None)?;
            }
            tx.execute(
                &format!("INSERT INTO tenants ({TENANT_INSERT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                values![
                    new.key.as_str(),
                    &name,
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
                insert_hostname(tx, &new.key, host)?;
            }
            grant_keys::insert_new(tx, &new.key)?;
            load_tenant(tx, &new.key)?.ok_or_else(|| DirectoryError::UnknownTenant(new.key.clone()))
        })
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
        self.write(|tx| {
            let mut tenant =
                load_tenant(tx, key)?.ok_or_else(|| DirectoryError::UnknownTenant(key.clone()))?;
            if let Some(name) = &name {
                tenant.name.clone_from(name);
            }
            if let Some(prefix) = &update.prefix {
                if let Some(p) = prefix {
                    check_prefix_free(tx, p, Some(key))?;
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
                values![
                    key.as_str(),
                    &tenant.name,
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
                    values![host, key.as_str()],
                )?;
                if gone == 0 {
                    return Err(DirectoryError::invalid(
                        "hostname",
                        format!("{host} is not a hostname of tenant {key}"),
                    ));
                }
            }
            for host in &add {
                insert_hostname(tx, key, host)?;
            }
            load_tenant(tx, key)?.ok_or_else(|| DirectoryError::UnknownTenant(key.clone()))
        })
    }

    /// Removes a tenant with its hostnames, meetings, trusted-device rules and tokens.
    pub fn remove_tenant(&mut self, key: &TenantKey) -> Result<(), DirectoryError> {
        self.write(|tx| {
            let gone = tx.execute("DELETE FROM tenants WHERE key = ?1", values![key.as_str()])?;
            if gone == 0 {
                return Err(DirectoryError::UnknownTenant(key.clone()));
            }
            Ok(())
        })
    }

    /// One tenant.
    pub fn tenant(&self, key: &TenantKey) -> Result<Option<Tenant>, DirectoryError> {
        self.read(|db| load_tenant(db, key))
    }

    /// Every tenant, by key.
    pub fn tenants(&self) -> Result<Vec<Tenant>, DirectoryError> {
        self.read(all_tenants)
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
        self.write(|tx| {
            if !tenant_exists(tx, tenant)? {
                return Err(DirectoryError::UnknownTenant(tenant.clone()));
            }
            if load_meeting(tx, tenant, conference)?.is_some() {
                return Err(DirectoryError::DuplicateMeeting {
                    tenant: tenant.clone(),
                    conference: conference.clone(),
                });
            }
            insert_meeting(
                tx,
                &Meeting {
                    tenant: tenant.clone(),
                    conference_id: conference.clone(),
                    organizer: organizer.clone(),
                    overrides,
                },
            )?;
            load_meeting(tx, tenant, conference)?.ok_or_else(|| unknown_meeting(tenant, conference))
        })
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
        self.write(|tx| {
            let mut meeting = load_meeting(tx, tenant, conference)?
                .ok_or_else(|| unknown_meeting(tenant, conference))?;
            if let Some(o) = &organizer {
                meeting.organizer.clone_from(o);
            }
            let ov = &mut meeting.overrides;
            ov.who_can_bypass = update.who_can_bypass.unwrap_or(ov.who_can_bypass);
            ov.callers_bypass = update.callers_bypass.unwrap_or(ov.callers_bypass);
            ov.anonymous_can_start = update.anonymous_can_start.unwrap_or(ov.anonymous_can_start);
            rows::update_meeting(tx, &meeting)?;
            Ok(meeting)
        })
    }

    /// Removes a meeting.
    pub fn remove_meeting(
        &mut self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<(), DirectoryError> {
        self.write(|tx| {
            let gone = tx.execute(
                "DELETE FROM meetings WHERE tenant_key = ?1 AND conference_id = ?2",
                values![tenant.as_str(), conference.as_str()],
            )?;
            if gone == 0 {
                return Err(unknown_meeting(tenant, conference));
            }
            Ok(())
        })
    }

    /// One meeting.
    pub fn meeting(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<Option<Meeting>, DirectoryError> {
        self.read(|db| load_meeting(db, tenant, conference))
    }

    /// Meetings of one tenant, or of all, ordered by tenant and conference ID.
    pub fn meetings(&self, tenant: Option<&TenantKey>) -> Result<Vec<Meeting>, DirectoryError> {
        self.read(|db| {
            db.query(
                &format!(
                    "SELECT {MEETING_COLUMNS} FROM meetings \
                     WHERE CAST(?1 AS TEXT) IS NULL OR tenant_key = ?1 \
                     ORDER BY tenant_key, conference_id"
                ),
                values![tenant.map(TenantKey::as_str)],
            )?
            .iter()
            .map(meeting_from_row)
            .collect()
        })
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
        self.write(|tx| {
            if !tenant_exists(tx, tenant)? {
                return Err(DirectoryError::UnknownTenant(tenant.clone()));
            }
            let key = tenant.as_str();
            let inserted = match rule {
                TrustedDeviceRule::Cidr(net) => tx.query_one(
                    "INSERT INTO trusted_devices (tenant_key, kind, cidr, cascade) \
                     VALUES (?1, 'cidr', ?2, ?3) RETURNING id",
                    values![key, net.to_string(), cascade],
                )?,
                TrustedDeviceRule::UriPattern(p) => tx.query_one(
                    "INSERT INTO trusted_devices (tenant_key, kind, uri_pattern, cascade) \
                     VALUES (?1, 'uri', ?2, ?3) RETURNING id",
                    values![key, p, cascade],
                )?,
                TrustedDeviceRule::CertSha256(fingerprint) => {
                    if rule_exists(tx, key, "cert-sha256", "cert_sha256", fingerprint)? {
                        return Err(DirectoryError::invalid(
                            "cert_sha256",
                            format!("tenant {tenant} already trusts certificate {fingerprint}"),
                        ));
                    }
                    tx.query_one(
                        "INSERT INTO trusted_devices (tenant_key, kind, cert_sha256, cascade) \
                         VALUES (?1, 'cert-sha256', ?2, ?3) RETURNING id",
                        values![key, fingerprint, cascade],
                    )?
                }
                TrustedDeviceRule::Digest {
                    username,
                    realm,
                    ha1_md5,
                    ha1_sha256,
                } => {
                    if rule_exists(tx, key, "digest", "username", username)? {
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
                    tx.query_one(
                        "INSERT INTO trusted_devices \
                         (tenant_key, kind, username, realm, ha1_md5, ha1_sha256, cascade) \
                         VALUES (?1, 'digest', ?2, ?3, ?4, ?5, ?6) RETURNING id",
                        values![key, username, realm, ha1_md5, ha1_sha256, cascade],
                    )?
                }
            };
            Ok(TrustedDevice {
                id: inserted.int(0)?,
                tenant: tenant.clone(),
                rule: rule.clone(),
                cascade,
            })
        })
    }

    /// A tenant's trusted-device rules, oldest first.
    pub fn trusted_devices(
        &self,
        tenant: &TenantKey,
    ) -> Result<Vec<TrustedDevice>, DirectoryError> {
        self.read(|db| {
            db.query(
                &format!(
                    "SELECT {DEVICE_COLUMNS} FROM trusted_devices WHERE tenant_key = ?1 ORDER BY id"
                ),
                values![tenant.as_str()],
            )?
            .iter()
            .map(device_from_row)
            .collect()
        })
    }

    /// Removes one of a tenant's trusted-device rules.
    pub fn remove_trusted_device(
        &mut self,
        tenant: &TenantKey,
        id: i64,
    ) -> Result<(), DirectoryError> {
        self.write(|tx| {
            let gone = tx.execute(
                "DELETE FROM trusted_devices WHERE id = ?1 AND tenant_key = ?2",
                values![id, tenant.as_str()],
            )?;
            if gone == 0 {
                return Err(DirectoryError::UnknownDevice {
                    tenant: tenant.clone(),
                    id,
                });
            }
            Ok(())
        })
    }
}

/// Whether `tenant` has a device rule of `kind` whose `column` is `value` (a pinned certificate
/// or digest username may be trusted once per tenant).
fn rule_exists(
    tx: &mut dyn Sql,
    tenant: &str,
    kind: &str,
    column: &'static str,
    value: &str,
) -> Result<bool, DirectoryError> {
    tx.query_one(
        &format!(
            "SELECT EXISTS (SELECT 1 FROM trusted_devices \
             WHERE tenant_key = ?1 AND kind = ?2 AND {column} = ?3)"
        ),
        values![tenant, kind, value],
    )?
    .bool(0)
}

fn unknown_meeting(tenant: &TenantKey, conference: &ConferenceId) -> DirectoryError {
    DirectoryError::UnknownMeeting {
        tenant: tenant.clone(),
        conference: conference.clone(),
    }
}

#[cfg(test)]
mod tests;
