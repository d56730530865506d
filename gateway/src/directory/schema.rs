//! The directory's SQLite schema as versioned migrations (`PRAGMA user_version`, through
//! `rusqlite_migration`). Append new migrations; never edit one that has shipped.

use rusqlite_migration::{Migrations, M};

/// Every migration, oldest first.
pub(super) fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        // 1: tenants, hostnames, meetings, trusted devices.
        M::up(
            r#"
CREATE TABLE tenants (
    key                         TEXT PRIMARY KEY NOT NULL CHECK (key GLOB '[0-9]*' AND length(key) BETWEEN 4 AND 12),
    name                        TEXT NOT NULL CHECK (length(name) > 0),
    dial_prefix                 TEXT UNIQUE CHECK (dial_prefix GLOB '[0-9]*'),
    endpoint_licenses           INTEGER NOT NULL CHECK (endpoint_licenses >= 0),
    cascade_licenses            INTEGER NOT NULL CHECK (cascade_licenses >= 0),
    who_can_bypass              TEXT NOT NULL CHECK (who_can_bypass IN ('everyone', 'trusted-orgs', 'same-org', 'organizer')),
    callers_bypass              INTEGER NOT NULL CHECK (callers_bypass IN (0, 1)),
    anonymous_can_start         INTEGER NOT NULL CHECK (anonymous_can_start IN (0, 1)),
    legacy_trusted_vtc_bypass   INTEGER NOT NULL CHECK (legacy_trusted_vtc_bypass IN (0, 1))
) STRICT;

CREATE TABLE tenant_hostnames (
    hostname    TEXT PRIMARY KEY NOT NULL,
    tenant_key  TEXT NOT NULL REFERENCES tenants(key) ON DELETE CASCADE
) STRICT;
CREATE INDEX tenant_hostnames_by_tenant ON tenant_hostnames(tenant_key);

CREATE TABLE meetings (
    tenant_key          TEXT NOT NULL REFERENCES tenants(key) ON DELETE CASCADE,
    conference_id       TEXT NOT NULL CHECK (conference_id GLOB '[0-9]*' AND length(conference_id) BETWEEN 6 AND 14),
    organizer           TEXT,
    who_can_bypass      TEXT CHECK (who_can_bypass IN ('everyone', 'trusted-orgs', 'same-org', 'organizer')),
    callers_bypass      INTEGER CHECK (callers_bypass IN (0, 1)),
    anonymous_can_start INTEGER CHECK (anonymous_can_start IN (0, 1)),
    PRIMARY KEY (tenant_key, conference_id)
) STRICT;

CREATE TABLE trusted_devices (
    id          INTEGER PRIMARY KEY,
    tenant_key  TEXT NOT NULL REFERENCES tenants(key) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('cidr', 'uri', 'digest')),
    cidr        TEXT,
    uri_pattern TEXT,
    username    TEXT,
    realm       TEXT,
    ha1_md5     TEXT,
    ha1_sha256  TEXT,
    CHECK (
        (kind = 'cidr' AND cidr IS NOT NULL) OR
        (kind = 'uri' AND uri_pattern IS NOT NULL) OR
        (kind = 'digest' AND username IS NOT NULL AND realm IS NOT NULL
            AND ha1_md5 IS NOT NULL AND ha1_sha256 IS NOT NULL)
    )
) STRICT;
CREATE INDEX trusted_devices_by_tenant ON trusted_devices(tenant_key);
CREATE UNIQUE INDEX trusted_devices_digest_user ON trusted_devices(tenant_key, username) WHERE kind = 'digest';
"#,
        ),
        // 2: per-tenant admin API tokens. Only the SHA-256 of a token is kept; the token itself is
        // shown once, when it is created.
        M::up(
            r#"
CREATE TABLE tenant_tokens (
    id              INTEGER PRIMARY KEY,
    tenant_key      TEXT NOT NULL REFERENCES tenants(key) ON DELETE CASCADE,
    label           TEXT,
    token_sha256    TEXT NOT NULL UNIQUE CHECK (length(token_sha256) = 64),
    created         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
) STRICT;
CREATE INDEX tenant_tokens_by_tenant ON tenant_tokens(tenant_key);
"#,
        ),
        // 3: a device rule may name a conference bridge (an MCU cascading into meetings) instead
        // of a room system: a matching call holds a cascade licence, not an endpoint licence.
        M::up(
            "ALTER TABLE trusted_devices ADD COLUMN cascade INTEGER NOT NULL DEFAULT 0 \
             CHECK (cascade IN (0, 1));",
        ),
        // 4: per-tenant participant-grant signing keys (`crate::grants`), one per tenant, created
        // with it. Tenants that exist already get a key here: SQLite's randomblob() draws from
        // its CSPRNG, seeded from the operating system.
        M::up(
            r#"
CREATE TABLE tenant_grant_keys (
    tenant_key  TEXT PRIMARY KEY NOT NULL REFERENCES tenants(key) ON DELETE CASCADE,
    key         BLOB NOT NULL CHECK (length(key) = 32)
) STRICT;
INSERT INTO tenant_grant_keys (tenant_key, key) SELECT key, randomblob(32) FROM tenants;
"#,
        ),
        // 5: each tenant's media security policy (issue 15).
        // `required` refuses clear-text media; `sdes_over_clear` lets SDES keys travel over SIP
        // that is not TLS (off: keys could be read off the wire).
        M::up(
            r#"
ALTER TABLE tenants ADD COLUMN media_encryption TEXT NOT NULL DEFAULT 'optional'
    CHECK (media_encryption IN ('optional', 'required'));
ALTER TABLE tenants ADD COLUMN sdes_over_clear INTEGER NOT NULL DEFAULT 0
    CHECK (sdes_over_clear IN (0, 1));
"#,
        ),
        // 6: a device rule may pin a TLS client certificate by the SHA-256 of its DER (mutual
        // TLS, issue 15). The kind CHECK lives in migration 1, so the table is rebuilt with the
        // new kind and column (SQLite cannot alter a CHECK); ids are kept. Nothing references
        // this table, so dropping the old one breaks no foreign key.
        M::up(
            r#"
CREATE TABLE trusted_devices_v6 (
    id          INTEGER PRIMARY KEY,
    tenant_key  TEXT NOT NULL REFERENCES tenants(key) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('cidr', 'uri', 'digest', 'cert-sha256')),
    cidr        TEXT,
    uri_pattern TEXT,
    username    TEXT,
    realm       TEXT,
    ha1_md5     TEXT,
    ha1_sha256  TEXT,
    cascade     INTEGER NOT NULL DEFAULT 0 CHECK (cascade IN (0, 1)),
    cert_sha256 TEXT CHECK (cert_sha256 IS NULL OR length(cert_sha256) = 64),
    CHECK (
        (kind = 'cidr' AND cidr IS NOT NULL) OR
        (kind = 'uri' AND uri_pattern IS NOT NULL) OR
        (kind = 'digest' AND username IS NOT NULL AND realm IS NOT NULL
            AND ha1_md5 IS NOT NULL AND ha1_sha256 IS NOT NULL) OR
        (kind = 'cert-sha256' AND cert_sha256 IS NOT NULL)
    )
) STRICT;
INSERT INTO trusted_devices_v6
    (id, tenant_key, kind, cidr, uri_pattern, username, realm, ha1_md5, ha1_sha256, cascade)
    SELECT id, tenant_key, kind, cidr, uri_pattern, username, realm, ha1_md5, ha1_sha256, cascade
    FROM trusted_devices;
DROP TABLE trusted_devices;
ALTER TABLE trusted_devices_v6 RENAME TO trusted_devices;
CREATE INDEX trusted_devices_by_tenant ON trusted_devices(tenant_key);
CREATE UNIQUE INDEX trusted_devices_digest_user ON trusted_devices(tenant_key, username) WHERE kind = 'digest';
CREATE UNIQUE INDEX trusted_devices_cert ON trusted_devices(tenant_key, cert_sha256) WHERE kind = 'cert-sha256';
"#,
        ),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
