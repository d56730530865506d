//! How records map to rows, on either database: column lists, row mapping (every row checked on
//! the way out), and the shared checks and loads the directory's methods run inside a read or a
//! write transaction alike.
//!
//! Owns how records map to rows; it must not decide what a write may do (that is
//! [`Directory`](super::Directory)'s, in one transaction per write).

use signaling::{ConferenceId, DialPrefix, TenantKey};

use super::sql::{values, Row, Sql};
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
/// The columns a trusted-device rule is read from, in [`device_from_row`]'s order.
pub(super) const DEVICE_COLUMNS: &str =
    "id, tenant_key, kind, cidr, uri_pattern, username, realm, ha1_md5, ha1_sha256, \
     cascade, cert_sha256";

pub(super) fn tenant_exists(db: &mut dyn Sql, key: &TenantKey) -> Result<bool, DirectoryError> {
    db.query_one(
        "SELECT EXISTS (SELECT 1 FROM tenants WHERE key = ?1)",
        values![key.as_str()],
    )?
    .bool(0)
}

pub(super) fn check_prefix_free(
    db: &mut dyn Sql,
    prefix: &DialPrefix,
    except: Option<&TenantKey>,
) -> Result<(), DirectoryError> {
    let rows = db.query(
        "SELECT key, dial_prefix FROM tenants WHERE dial_prefix IS NOT NULL",
        &[],
    )?;
    for row in rows {
        let (owner, other) = (row.text(0)?, row.text(1)?);
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
    db: &mut dyn Sql,
    key: &TenantKey,
    host: &str,
) -> Result<(), DirectoryError> {
    let owner = db.query_opt(
        "SELECT tenant_key FROM tenant_hostnames WHERE hostname = ?1",
        values![host],
    )?;
    if let Some(owner) = owner {
        return Err(DirectoryError::DuplicateHostname {
            hostname: host.to_owned(),
            owner: TenantKey::new(&owner.text(0)?)?,
        });
    }
    db.execute(
        "INSERT INTO tenant_hostnames (hostname, tenant_key) VALUES (?1, ?2)",
        values![host, key.as_str()],
    )?;
    Ok(())
}

pub(super) fn hostnames_of(
    db: &mut dyn Sql,
    key: &TenantKey,
) -> Result<Vec<String>, DirectoryError> {
    db.query(
        "SELECT hostname FROM tenant_hostnames WHERE tenant_key = ?1 ORDER BY hostname",
        values![key.as_str()],
    )?
    .iter()
    .map(|r| r.text(0))
    .collect()
}

pub(super) fn load_tenant(
    db: &mut dyn Sql,
    key: &TenantKey,
) -> Result<Option<Tenant>, DirectoryError> {
    let row = db.query_opt(
        &format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE key = ?1"),
        values![key.as_str()],
    )?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut tenant = tenant_from_row(&row)?;
    tenant.hostnames = hostnames_of(db, key)?;
    Ok(Some(tenant))
}

/// Every tenant with its hostnames, by key.
pub(super) fn all_tenants(db: &mut dyn Sql) -> Result<Vec<Tenant>, DirectoryError> {
    let rows = db.query(
        &format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY key"),
        &[],
    )?;
    rows.iter()
        .map(|row| {
            let mut tenant = tenant_from_row(row)?;
            tenant.hostnames = hostnames_of(db, &tenant.key)?;
            Ok(tenant)
        })
        .collect()
}

/// Rows are checked on the way out too: a database edited by hand must not smuggle a malformed
/// value past the types.
pub(super) fn tenant_from_row(r: &Row) -> Result<Tenant, DirectoryError> {
    Ok(Tenant {
        key: TenantKey::new(&r.text(0)?)?,
        name: r.text(1)?,
        hostnames: Vec::new(),
        prefix: r.opt_text(2)?.as_deref().map(DialPrefix::new).transpose()?,
        endpoint_licenses: r.u32(3)?,
        cascade_licenses: r.u32(4)?,
        policy: LobbyPolicy {
            who_can_bypass: parse_who(&r.text(5)?)?,
            callers_bypass: r.bool(6)?,
            anonymous_can_start: r.bool(7)?,
            legacy_trusted_vtc_bypass: r.bool(8)?,
        },
        media: MediaPolicy {
            encryption: r.text(9)?.parse().map_err(|e: crate::lobby::UnknownName| {
                DirectoryError::invalid("media_encryption", e.to_string())
            })?,
            sdes_over_clear: r.bool(10)?,
        },
    })
}

pub(super) fn parse_who(text: &str) -> Result<WhoCanBypass, DirectoryError> {
    text.parse().map_err(|e: crate::lobby::UnknownName| {
        DirectoryError::invalid("who_can_bypass", e.to_string())
    })
}

pub(super) fn load_meeting(
    db: &mut dyn Sql,
    tenant: &TenantKey,
    conference: &ConferenceId,
) -> Result<Option<Meeting>, DirectoryError> {
    db.query_opt(
        &format!(
            "SELECT {MEETING_COLUMNS} FROM meetings WHERE tenant_key = ?1 AND conference_id = ?2"
        ),
        values![tenant.as_str(), conference.as_str()],
    )?
    .as_ref()
    .map(meeting_from_row)
    .transpose()
}

pub(super) fn meeting_from_row(r: &Row) -> Result<Meeting, DirectoryError> {
    Ok(Meeting {
        tenant: TenantKey::new(&r.text(0)?)?,
        conference_id: ConferenceId::new(&r.text(1)?)?,
        organizer: r.opt_text(2)?,
        overrides: PolicyOverrides {
            who_can_bypass: r.opt_text(3)?.as_deref().map(parse_who).transpose()?,
            callers_bypass: r.opt_bool(4)?,
            anonymous_can_start: r.opt_bool(5)?,
        },
    })
}

pub(super) fn insert_meeting(db: &mut dyn Sql, m: &Meeting) -> Result<(), DirectoryError> {
    db.execute(
        &format!("INSERT INTO meetings ({MEETING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        &meeting_values(m),
    )?;
    Ok(())
}

pub(super) fn update_meeting(db: &mut dyn Sql, m: &Meeting) -> Result<(), DirectoryError> {
    db.execute(
        "UPDATE meetings SET organizer = ?3, who_can_bypass = ?4, callers_bypass = ?5, \
         anonymous_can_start = ?6 WHERE tenant_key = ?1 AND conference_id = ?2",
        &meeting_values(m),
    )?;
    Ok(())
}

fn meeting_values(m: &Meeting) -> [super::sql::Value; 6] {
    use super::sql::Value;
    [
        Value::from(m.tenant.as_str()),
        Value::from(m.conference_id.as_str()),
        Value::from(m.organizer.as_deref()),
        Value::from(m.overrides.who_can_bypass.map(WhoCanBypass::as_str)),
        Value::from(m.overrides.callers_bypass),
        Value::from(m.overrides.anonymous_can_start),
    ]
}

pub(super) fn device_from_row(r: &Row) -> Result<TrustedDevice, DirectoryError> {
    let text = |i: usize| r.opt_text(i).map(Option::unwrap_or_default);
    let rule = match r.text(2)?.as_str() {
        "cidr" => TrustedDeviceRule::cidr(&text(3)?)?,
        "uri" => TrustedDeviceRule::UriPattern(text(4)?),
        "cert-sha256" => TrustedDeviceRule::cert_sha256(&text(10)?)?,
        _ => TrustedDeviceRule::Digest {
            username: text(5)?,
            realm: text(6)?,
            ha1_md5: text(7)?,
            ha1_sha256: text(8)?,
        },
    };
    Ok(TrustedDevice {
        id: r.int(0)?,
        tenant: TenantKey::new(&r.text(1)?)?,
        rule,
        cascade: r.bool(9)?,
    })
}
