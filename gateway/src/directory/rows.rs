//! The SQLite side of the directory: column lists, row mapping (every row checked on the way
//! out), and the shared checks and loads the directory's methods run on a connection or inside
//! a transaction alike.
//!
//! Owns how records map to rows; it must not decide what a write may do (that is
//! [`Directory`](super::Directory)'s, in one transaction per write).

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use signaling::{ConferenceId, DialPrefix, TenantKey};

use super::{
    DirectoryError, MediaPolicy, Meeting, PolicyOverrides, Tenant, TrustedDevice, TrustedDeviceRule,
};
use crate::lobby::{LobbyPolicy, WhoCanBypass};

/// The columns a new tenant is written with; the media policy starts at the schema's defaults.
pub(super) const TENANT_INSERT_COLUMNS: &str =
    "key, name, dial_prefix, endpoint_licenses, cascade_licenses, \
     who_can_bypass, callers_bypass, anonymous_can_start, legacy_trusted_vtc_bypass";
/// The columns a tenant is read from, in [`tenant_from_row`]'s order.
pub(super) const TENANT_COLUMNS: &str =
    "key, name, dial_prefix, endpoint_licenses, cascade_licenses, \
     who_can_bypass, callers_bypass, anonymous_can_start, legacy_trusted_vtc_bypass, \
     media_encryption, sdes_over_clear";
pub(super) const MEETING_COLUMNS: &str =
    "tenant_key, conference_id, organizer, who_can_bypass, callers_bypass, anonymous_can_start";

pub(super) fn tenant_exists(conn: &Connection, key: &TenantKey) -> Result<bool, DirectoryError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM tenants WHERE key = ?1)")?
        .query_row([key.as_str()], |r| r.get(0))?)
}

pub(super) fn check_prefix_free(
    tx: &Transaction<'_>,
    prefix: &DialPrefix,
    except: Option<&TenantKey>,
) -> Result<(), DirectoryError> {
    let mut stmt =
        tx.prepare("SELECT key, dial_prefix FROM tenants WHERE dial_prefix IS NOT NULL")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (owner, other) = row?;
        if except.is_some_and(|k| k.as_str() == owner) {
            continue;
        }
        let other = DialPrefix::new(&other)?;
        if prefix.overlaps(&other) {
            return Err(DirectoryError::PrefixOverlap {
                prefix: prefix.clone(),
                other,
                owner: TenantKey::new(&owner)?,
            });
        }
    }
    Ok(())
}

pub(super) fn insert_hostname(
    tx: &Transaction<'_>,
    key: &TenantKey,
    host: &str,
) -> Result<(), DirectoryError> {
    let owner: Option<String> = tx
        .query_row(
            "SELECT tenant_key FROM tenant_hostnames WHERE hostname = ?1",
            [host],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(owner) = owner {
        return Err(DirectoryError::DuplicateHostname {
            hostname: host.to_owned(),
            owner: TenantKey::new(&owner)?,
        });
    }
    tx.execute(
        "INSERT INTO tenant_hostnames (hostname, tenant_key) VALUES (?1, ?2)",
        params![host, key.as_str()],
    )?;
    Ok(())
}

pub(super) fn hostnames_of(
    conn: &Connection,
    key: &TenantKey,
) -> Result<Vec<String>, DirectoryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT hostname FROM tenant_hostnames WHERE tenant_key = ?1 ORDER BY hostname",
    )?;
    let rows = stmt.query_map([key.as_str()], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn load_tenant(
    conn: &Connection,
    key: &TenantKey,
) -> Result<Option<Tenant>, DirectoryError> {
    let tenant = conn
        .prepare_cached(&format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE key = ?1"
        ))?
        .query_row([key.as_str()], tenant_from_row)
        .optional()?
        .transpose()?;
    let Some(mut tenant) = tenant else {
        return Ok(None);
    };
    tenant.hostnames = hostnames_of(conn, key)?;
    Ok(Some(tenant))
}

/// Rows are checked on the way out too: a database edited by hand must not smuggle a malformed
/// value past the types.
pub(super) fn tenant_from_row(r: &Row<'_>) -> rusqlite::Result<Result<Tenant, DirectoryError>> {
    let key: String = r.get(0)?;
    let prefix: Option<String> = r.get(2)?;
    let who: String = r.get(5)?;
    let (name, endpoint_licenses, cascade_licenses) = (r.get(1)?, r.get(3)?, r.get(4)?);
    let (callers_bypass, anonymous_can_start, legacy) = (r.get(6)?, r.get(7)?, r.get(8)?);
    let (encryption, sdes_over_clear): (String, bool) = (r.get(9)?, r.get(10)?);
    Ok((|| {
        Ok(Tenant {
            key: TenantKey::new(&key)?,
            name,
            hostnames: Vec::new(),
            prefix: prefix.as_deref().map(DialPrefix::new).transpose()?,
            endpoint_licenses,
            cascade_licenses,
            policy: LobbyPolicy {
                who_can_bypass: parse_who(&who)?,
                callers_bypass,
                anonymous_can_start,
                legacy_trusted_vtc_bypass: legacy,
            },
            media: MediaPolicy {
                encryption: encryption.parse().map_err(|e: crate::lobby::UnknownName| {
                    DirectoryError::invalid("media_encryption", e.to_string())
                })?,
                sdes_over_clear,
            },
        })
    })())
}

pub(super) fn parse_who(text: &str) -> Result<WhoCanBypass, DirectoryError> {
    text.parse().map_err(|e: crate::lobby::UnknownName| {
        DirectoryError::invalid("who_can_bypass", e.to_string())
    })
}

pub(super) fn load_meeting(
    conn: &Connection,
    tenant: &TenantKey,
    conference: &ConferenceId,
) -> Result<Option<Meeting>, DirectoryError> {
    conn.prepare_cached(&format!(
        "SELECT {MEETING_COLUMNS} FROM meetings WHERE tenant_key = ?1 AND conference_id = ?2"
    ))?
    .query_row([tenant.as_str(), conference.as_str()], meeting_from_row)
    .optional()?
    .transpose()
}

pub(super) fn meeting_from_row(r: &Row<'_>) -> rusqlite::Result<Result<Meeting, DirectoryError>> {
    let tenant: String = r.get(0)?;
    let conference: String = r.get(1)?;
    let organizer: Option<String> = r.get(2)?;
    let who: Option<String> = r.get(3)?;
    let (callers_bypass, anonymous_can_start) = (r.get(4)?, r.get(5)?);
    Ok((|| {
        Ok(Meeting {
            tenant: TenantKey::new(&tenant)?,
            conference_id: ConferenceId::new(&conference)?,
            organizer,
            overrides: PolicyOverrides {
                who_can_bypass: who.as_deref().map(parse_who).transpose()?,
                callers_bypass,
                anonymous_can_start,
            },
        })
    })())
}

pub(super) fn write_meeting(
    tx: &Transaction<'_>,
    verb: &str,
    m: &Meeting,
) -> Result<(), DirectoryError> {
    tx.execute(
        &format!("{verb} ({MEETING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            m.tenant.as_str(),
            m.conference_id.as_str(),
            m.organizer,
            m.overrides.who_can_bypass.map(WhoCanBypass::as_str),
            m.overrides.callers_bypass,
            m.overrides.anonymous_can_start,
        ],
    )?;
    Ok(())
}

pub(super) fn device_from_row(
    r: &Row<'_>,
) -> rusqlite::Result<Result<TrustedDevice, DirectoryError>> {
    let id: i64 = r.get(0)?;
    let tenant: String = r.get(1)?;
    let kind: String = r.get(2)?;
    let text = |i: usize| r.get::<_, Option<String>>(i).map(Option::unwrap_or_default);
    let cascade: i64 = r.get(9)?;
    let rule = match kind.as_str() {
        "cidr" => TrustedDeviceRule::cidr(&text(3)?),
        "uri" => Ok(TrustedDeviceRule::UriPattern(text(4)?)),
        "cert-sha256" => TrustedDeviceRule::cert_sha256(&text(10)?),
        _ => Ok(TrustedDeviceRule::Digest {
            username: text(5)?,
            realm: text(6)?,
            ha1_md5: text(7)?,
            ha1_sha256: text(8)?,
        }),
    };
    Ok((|| {
        Ok(TrustedDevice {
            id,
            tenant: TenantKey::new(&tenant)?,
            rule: rule?,
            cascade: cascade != 0,
        })
    })())
}
