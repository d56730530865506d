//! What only SQLite has: its WAL file, and migrating files that older versions wrote. The
//! directory's behaviour (refusals, inheritance, lookups, tokens, keys) is one suite run on both
//! databases: `gateway/tests/directory_backends.rs`.

use super::*;

fn key(k: &str) -> TenantKey {
    TenantKey::new(k).unwrap()
}

fn acme() -> NewTenant {
    NewTenant {
        key: key("12345678"),
        name: "Acme".into(),
        hostnames: vec!["Video.Acme.Example".into()],
        prefix: Some(DialPrefix::new("6").unwrap()),
        endpoint_licenses: 10,
        cascade_licenses: 2,
        policy: LobbyPolicy::default(),
    }
}

#[test]
fn file_database_uses_wal_and_survives_reopen() {
    let dir_path = tempfile::tempdir().unwrap();
    let path = dir_path.path().join("tessera.db");
    {
        let mut dir = Directory::open(&path).unwrap();
        dir.add_tenant(&acme()).unwrap();
        let mode: String = dir
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
    let dir = Directory::open(&path).unwrap();
    assert_eq!(dir.tenants().unwrap().len(), 1);
    let version: i64 = dir
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        version, 6,
        "migrations 3 (cascade device rules), 4 (grant keys), 5 (media policy) and 6 (pinned \
         client certificates) applied"
    );
}

#[test]
fn tenants_from_before_the_media_policy_migrate_to_optional_without_clear_sdes() {
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    super::schema::migrations()
        .to_version(&mut conn, 2)
        .unwrap();
    conn.execute(
        "INSERT INTO tenants (key, name, endpoint_licenses, cascade_licenses, who_can_bypass, \
         callers_bypass, anonymous_can_start, legacy_trusted_vtc_bypass) \
         VALUES ('12345678', 'Acme', 10, 2, 'same-org', 0, 0, 0)",
        [],
    )
    .unwrap();
    let mut dir = Directory::init(conn).unwrap();
    let acme = dir.tenant(&key("12345678")).unwrap().unwrap();
    assert_eq!(acme.media, MediaPolicy::default());
    assert_eq!(acme.media.encryption, MediaEncryption::Optional);

    let updated = dir
        .update_tenant(
            &key("12345678"),
            &TenantUpdate {
                media_encryption: Some(MediaEncryption::Required),
                sdes_over_clear: Some(true),
                ..TenantUpdate::default()
            },
        )
        .unwrap();
    assert_eq!(
        updated.media,
        MediaPolicy {
            encryption: MediaEncryption::Required,
            sdes_over_clear: true,
        }
    );
    assert_eq!(
        dir.tenant(&key("12345678")).unwrap().unwrap().media,
        updated.media
    );
    let bad = dir
        .conn()
        .execute("UPDATE tenants SET media_encryption = 'sometimes'", []);
    assert!(bad.is_err(), "the schema refuses an unknown policy");
}

#[test]
fn digest_username_with_a_colon_is_refused() {
    let err = TrustedDeviceRule::digest_credential("room:1", "long-enough-pw", "12345678.tessera")
        .unwrap_err();
    assert!(
        matches!(
            err,
            DirectoryError::Invalid {
                field: "digest",
                ..
            }
        ),
        "{err}"
    );
    let ok =
        TrustedDeviceRule::digest_credential("room1", "pa:ss:word", "12345678.tessera").unwrap();
    assert_eq!(
        ok,
        TrustedDeviceRule::digest("room1:pa:ss:word", "12345678.tessera").unwrap()
    );
}

#[test]
fn grant_key_migration_gives_older_tenants_a_key() {
    let file = tempfile::NamedTempFile::new().unwrap();
    {
        let mut conn = Connection::open(file.path()).unwrap();
        schema::migrations().to_version(&mut conn, 2).unwrap();
        conn.execute(
            "INSERT INTO tenants VALUES ('12345678', 'Acme', NULL, 1, 1, 'trusted-orgs', 0, 0, 0)",
            [],
        )
        .unwrap();
    }
    let dir = Directory::open(file.path()).unwrap();
    assert!(dir.grant_key(&key("12345678")).unwrap().is_some());
}

#[test]
fn migration_6_keeps_existing_rules_and_stores_pinned_certificates() {
    let dir_path = tempfile::tempdir().unwrap();
    let path = dir_path.path().join("tessera.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        super::schema::migrations()
            .to_version(&mut conn, 5)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO tenants (key, name, endpoint_licenses, cascade_licenses, who_can_bypass, \
             callers_bypass, anonymous_can_start, legacy_trusted_vtc_bypass) \
             VALUES ('12345678', 'Acme', 5, 2, 'everyone', 0, 0, 0); \
             INSERT INTO trusted_devices (id, tenant_key, kind, cidr, cascade) \
             VALUES (7, '12345678', 'cidr', '192.0.2.0/24', 1);",
        )
        .unwrap();
    }
    let mut dir = Directory::open(&path).unwrap();
    let tenant = TenantKey::new("12345678").unwrap();
    let kept = dir.trusted_devices(&tenant).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].id, kept[0].cascade), (7, true));
    assert_eq!(
        kept[0].rule,
        TrustedDeviceRule::cidr("192.0.2.0/24").unwrap()
    );

    // The rebuilt table takes pinned certificates (their refusals are the shared suite's).
    let rule = TrustedDeviceRule::cert_sha256(&"0f".repeat(32)).unwrap();
    dir.add_device_rule(&tenant, &rule, false).unwrap();
    assert_eq!(dir.trusted_devices(&tenant).unwrap()[1].rule, rule);
}
