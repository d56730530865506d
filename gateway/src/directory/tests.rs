//! Directory behaviour: refused writes change nothing, policy inheritance, dial lookups.

use super::*;
use signaling::{DialString, Route};

fn key(k: &str) -> TenantKey {
    TenantKey::new(k).unwrap()
}

fn conf(c: &str) -> ConferenceId {
    ConferenceId::new(c).unwrap()
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

fn globex() -> NewTenant {
    NewTenant {
        key: key("87654321"),
        name: "Globex".into(),
        hostnames: vec!["video.globex.example".into()],
        prefix: Some(DialPrefix::new("70").unwrap()),
        ..acme()
    }
}

fn snapshot(dir: &Directory) -> (Vec<Tenant>, Vec<Meeting>) {
    (dir.tenants().unwrap(), dir.meetings(None).unwrap())
}

#[test]
fn added_tenant_reads_back_normalised() {
    let mut dir = Directory::open_in_memory().unwrap();
    let t = dir.add_tenant(&acme()).unwrap();
    assert_eq!(t.hostnames, ["video.acme.example"]);
    assert_eq!(dir.tenant(&key("12345678")).unwrap(), Some(t.clone()));
    assert_eq!(dir.tenants().unwrap(), [t]);
}

#[test]
fn duplicate_key_is_refused() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    let before = snapshot(&dir);
    let again = NewTenant {
        hostnames: vec!["other.example".into()],
        prefix: None,
        ..acme()
    };
    assert!(matches!(
        dir.add_tenant(&again),
        Err(DirectoryError::DuplicateTenant(_))
    ));
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn duplicate_hostname_refuses_the_whole_tenant() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    let before = snapshot(&dir);
    let clash = NewTenant {
        hostnames: vec!["fresh.globex.example".into(), "VIDEO.acme.example".into()],
        ..globex()
    };
    let err = dir.add_tenant(&clash).unwrap_err();
    assert!(
        matches!(&err, DirectoryError::DuplicateHostname { hostname, .. } if hostname == "video.acme.example"),
        "{err}"
    );
    assert_eq!(
        snapshot(&dir),
        before,
        "the first hostname must not have been kept"
    );
    assert!(dir
        .tenant_by_hostname("fresh.globex.example")
        .unwrap()
        .is_none());
}

#[test]
fn overlapping_prefixes_are_refused_both_ways() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    for p in ["6", "61", "612345"] {
        let t = NewTenant {
            prefix: Some(DialPrefix::new(p).unwrap()),
            ..globex()
        };
        assert!(
            matches!(
                dir.add_tenant(&t),
                Err(DirectoryError::PrefixOverlap { .. })
            ),
            "{p}"
        );
    }
    dir.add_tenant(&NewTenant {
        prefix: Some(DialPrefix::new("61").unwrap()),
        hostnames: vec![],
        ..globex()
    })
    .unwrap_err();
    // A shorter prefix that the existing one starts with is refused too.
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&NewTenant {
        prefix: Some(DialPrefix::new("61").unwrap()),
        ..acme()
    })
    .unwrap();
    let err = dir
        .add_tenant(&NewTenant {
            prefix: Some(DialPrefix::new("6").unwrap()),
            ..globex()
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "dial prefix 6 overlaps prefix 61 of tenant 12345678"
    );
}

#[test]
fn refused_update_changes_nothing() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    dir.add_tenant(&globex()).unwrap();
    let before = snapshot(&dir);
    let update = TenantUpdate {
        name: Some("Acme Corp".into()),
        endpoint_licenses: Some(99),
        remove_hostnames: vec!["video.acme.example".into()],
        add_hostnames: vec!["video.globex.example".into()],
        ..TenantUpdate::default()
    };
    assert!(matches!(
        dir.update_tenant(&key("12345678"), &update),
        Err(DirectoryError::DuplicateHostname { .. })
    ));
    assert_eq!(snapshot(&dir), before);

    let update = TenantUpdate {
        name: Some("Acme Corp".into()),
        prefix: Some(Some(DialPrefix::new("7").unwrap())),
        ..TenantUpdate::default()
    };
    assert!(matches!(
        dir.update_tenant(&key("12345678"), &update),
        Err(DirectoryError::PrefixOverlap { .. })
    ));
    assert_eq!(snapshot(&dir), before);

    let update = TenantUpdate {
        name: Some("   ".into()),
        ..TenantUpdate::default()
    };
    assert!(matches!(
        dir.update_tenant(&key("12345678"), &update),
        Err(DirectoryError::Invalid { field: "name", .. })
    ));
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn update_applies_every_field() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    let t = dir
        .update_tenant(
            &key("12345678"),
            &TenantUpdate {
                name: Some("Acme Corp".into()),
                add_hostnames: vec!["rooms.acme.example".into()],
                prefix: Some(None),
                endpoint_licenses: Some(50),
                cascade_licenses: Some(5),
                who_can_bypass: Some(WhoCanBypass::Organizer),
                callers_bypass: Some(true),
                anonymous_can_start: Some(true),
                legacy_trusted_vtc_bypass: Some(true),
                ..TenantUpdate::default()
            },
        )
        .unwrap();
    assert_eq!(t.name, "Acme Corp");
    assert_eq!(t.hostnames, ["rooms.acme.example", "video.acme.example"]);
    assert_eq!(t.prefix, None);
    assert_eq!((t.endpoint_licenses, t.cascade_licenses), (50, 5));
    assert_eq!(
        t.policy,
        LobbyPolicy {
            who_can_bypass: WhoCanBypass::Organizer,
            callers_bypass: true,
            anonymous_can_start: true,
            legacy_trusted_vtc_bypass: true,
        }
    );
    // The prefix is free again for someone else.
    dir.add_tenant(&NewTenant {
        prefix: Some(DialPrefix::new("6").unwrap()),
        ..globex()
    })
    .unwrap();
}

#[test]
fn meetings_are_per_tenant_and_unique_within_one() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    dir.add_tenant(&globex()).unwrap();
    let c = conf("1177958860");
    dir.add_meeting(
        &key("12345678"),
        &c,
        Some("Ada"),
        PolicyOverrides::default(),
    )
    .unwrap();
    // The same ID under another tenant is a different meeting.
    dir.add_meeting(&key("87654321"), &c, None, PolicyOverrides::default())
        .unwrap();
    assert!(matches!(
        dir.add_meeting(&key("12345678"), &c, None, PolicyOverrides::default()),
        Err(DirectoryError::DuplicateMeeting { .. })
    ));
    assert!(matches!(
        dir.add_meeting(&key("11112222"), &c, None, PolicyOverrides::default()),
        Err(DirectoryError::UnknownTenant(_))
    ));
    assert_eq!(dir.meetings(Some(&key("12345678"))).unwrap().len(), 1);
    assert_eq!(dir.meetings(None).unwrap().len(), 2);
    dir.remove_meeting(&key("87654321"), &c).unwrap();
    assert!(matches!(
        dir.remove_meeting(&key("87654321"), &c),
        Err(DirectoryError::UnknownMeeting { .. })
    ));
}

#[test]
fn changing_a_default_reaches_meetings_that_did_not_override_it() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    let t = key("12345678");
    let plain = conf("1000001");
    let strict = conf("1000002");
    dir.add_meeting(&t, &plain, None, PolicyOverrides::default())
        .unwrap();
    dir.add_meeting(
        &t,
        &strict,
        None,
        PolicyOverrides {
            who_can_bypass: Some(WhoCanBypass::Organizer),
            ..PolicyOverrides::default()
        },
    )
    .unwrap();
    dir.update_tenant(
        &t,
        &TenantUpdate {
            who_can_bypass: Some(WhoCanBypass::Everyone),
            callers_bypass: Some(true),
            ..TenantUpdate::default()
        },
    )
    .unwrap();
    let p = dir.effective_policy(&t, &plain).unwrap();
    assert_eq!(
        (p.who_can_bypass, p.callers_bypass),
        (WhoCanBypass::Everyone, true)
    );
    let s = dir.effective_policy(&t, &strict).unwrap();
    assert_eq!(
        (s.who_can_bypass, s.callers_bypass),
        (WhoCanBypass::Organizer, true)
    );

    // Clearing the override returns the meeting to the default.
    dir.update_meeting(
        &t,
        &strict,
        &MeetingUpdate {
            who_can_bypass: Some(None),
            ..MeetingUpdate::default()
        },
    )
    .unwrap();
    assert_eq!(
        dir.effective_policy(&t, &strict).unwrap().who_can_bypass,
        WhoCanBypass::Everyone
    );
}

#[test]
fn removing_a_tenant_removes_its_meetings_hostnames_and_devices() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    let t = key("12345678");
    dir.add_meeting(&t, &conf("1177958860"), None, PolicyOverrides::default())
        .unwrap();
    dir.add_trusted_device(&t, &TrustedDeviceRule::cidr("192.0.2.0/24").unwrap())
        .unwrap();
    dir.remove_tenant(&t).unwrap();
    assert!(dir.meetings(None).unwrap().is_empty());
    assert!(dir
        .tenant_by_hostname("video.acme.example")
        .unwrap()
        .is_none());
    assert!(dir.trusted_devices(&t).unwrap().is_empty());
    assert!(matches!(
        dir.remove_tenant(&t),
        Err(DirectoryError::UnknownTenant(_))
    ));
    // Its hostname and prefix are free again.
    dir.add_tenant(&NewTenant {
        key: key("5555"),
        ..acme()
    })
    .unwrap();
}

#[test]
fn trusted_devices_round_trip_without_passwords() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    let t = key("12345678");
    let realm = dir.tenant(&t).unwrap().unwrap().realm();
    let rules = [
        TrustedDeviceRule::cidr("192.0.2.0/24").unwrap(),
        TrustedDeviceRule::uri_pattern("sip:*@rooms.acme.example").unwrap(),
        TrustedDeviceRule::digest("room1:correct horse battery", &realm).unwrap(),
    ];
    for rule in &rules {
        dir.add_trusted_device(&t, rule).unwrap();
    }
    let stored: Vec<_> = dir
        .trusted_devices(&t)
        .unwrap()
        .into_iter()
        .map(|d| d.rule)
        .collect();
    assert_eq!(stored, rules);
    assert!(matches!(
        dir.add_trusted_device(
            &t,
            &TrustedDeviceRule::digest("room1:another password", &realm).unwrap()
        ),
        Err(DirectoryError::DuplicateCredential { .. })
    ));
    assert!(matches!(
        dir.add_trusted_device(
            &t,
            &TrustedDeviceRule::digest("room2:another password", "elsewhere").unwrap()
        ),
        Err(DirectoryError::Invalid { .. })
    ));
    let first = dir.trusted_devices(&t).unwrap()[0].id;
    dir.remove_trusted_device(&t, first).unwrap();
    assert_eq!(dir.trusted_devices(&t).unwrap().len(), 2);
    assert!(
        dir.remove_trusted_device(&key("87654321"), first + 1)
            .is_err(),
        "scoped to tenant"
    );
}

#[test]
fn dial_strings_resolve_through_the_directory() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    dir.add_tenant(&globex()).unwrap();
    dir.add_meeting(
        &key("12345678"),
        &conf("1177958860"),
        None,
        PolicyOverrides::default(),
    )
    .unwrap();
    dir.add_meeting(
        &key("87654321"),
        &conf("2299887766"),
        None,
        PolicyOverrides::default(),
    )
    .unwrap();
    let resolve = |s: &str| DialString::parse(s).unwrap().resolve(&dir);
    assert_eq!(
        resolve("sip:1177958860.12345678@gw").unwrap().route,
        Route::Direct
    );
    assert_eq!(
        resolve("sip:1177958860@VIDEO.ACME.EXAMPLE.").unwrap().route,
        Route::Domain
    );
    assert_eq!(resolve("sip:12345678@gw").unwrap().route, Route::EntryQueue);
    assert_eq!(resolve("sip:61177958860@gw").unwrap().route, Route::Prefix);
    assert_eq!(resolve("sip:702299887766@gw").unwrap().route, Route::Prefix);
    assert!(resolve("sip:2299887766@video.acme.example").is_err());
    assert!(resolve("sip:62299887766@gw").is_err());
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

// ---- tenant tokens ----

fn token_rows(dir: &Directory) -> Vec<(i64, String, Option<String>, String)> {
    let conn = dir.conn();
    let mut stmt = conn
        .prepare("SELECT id, tenant_key, label, token_sha256 FROM tenant_tokens ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn created_tenant_token_verifies_and_lists_without_its_secret() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    let created = dir
        .create_tenant_token(&key("12345678"), Some("  booking system "))
        .unwrap();
    assert_eq!(created.secret.len(), 64);
    assert!(created.secret.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(created.token.label.as_deref(), Some("booking system"));
    assert!(
        created.token.created.ends_with('Z'),
        "{}",
        created.token.created
    );
    assert!(!format!("{created:?}").contains(&created.secret));

    assert_eq!(
        dir.tenant_for_token(&created.secret).unwrap(),
        Some(key("12345678"))
    );
    assert_eq!(dir.tenant_for_token(&created.secret[1..]).unwrap(), None);
    assert_eq!(dir.tenant_for_token("").unwrap(), None);

    let listed = dir.tenant_tokens(&key("12345678")).unwrap();
    assert_eq!(listed, std::slice::from_ref(&created.token));
    let json = listed[0].to_json().to_string();
    assert!(!json.contains(&created.secret), "{json}");
    // Only the SHA-256 is stored.
    let rows = token_rows(&dir);
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].3, created.secret);
    assert_eq!(rows[0].3.len(), 64);
    assert!(!json.contains(&rows[0].3), "{json}");
}

#[test]
fn each_created_tenant_token_is_new() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    let a = dir.create_tenant_token(&key("12345678"), None).unwrap();
    let b = dir.create_tenant_token(&key("12345678"), None).unwrap();
    assert_ne!(a.secret, b.secret);
    assert_ne!(a.token.id, b.token.id);
    assert_eq!(dir.tenant_tokens(&key("12345678")).unwrap().len(), 2);
}

#[test]
fn revoked_tenant_token_no_longer_verifies() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    dir.add_tenant(&globex()).unwrap();
    let keep = dir.create_tenant_token(&key("12345678"), None).unwrap();
    let gone = dir.create_tenant_token(&key("12345678"), None).unwrap();
    dir.revoke_tenant_token(&key("12345678"), gone.token.id)
        .unwrap();
    assert_eq!(dir.tenant_for_token(&gone.secret).unwrap(), None);
    assert_eq!(
        dir.tenant_for_token(&keep.secret).unwrap(),
        Some(key("12345678"))
    );
    assert_eq!(
        dir.tenant_tokens(&key("12345678")).unwrap(),
        std::slice::from_ref(&keep.token)
    );

    // Revoking again, or through another tenant, is refused and changes nothing.
    let before = token_rows(&dir);
    assert!(matches!(
        dir.revoke_tenant_token(&key("12345678"), gone.token.id),
        Err(DirectoryError::UnknownToken { id, .. }) if id == gone.token.id
    ));
    assert!(matches!(
        dir.revoke_tenant_token(&key("87654321"), keep.token.id),
        Err(DirectoryError::UnknownToken { .. })
    ));
    assert_eq!(token_rows(&dir), before);
}

#[test]
fn tenant_tokens_go_with_their_tenant() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    dir.add_tenant(&globex()).unwrap();
    let acme_token = dir.create_tenant_token(&key("12345678"), None).unwrap();
    let globex_token = dir.create_tenant_token(&key("87654321"), None).unwrap();
    dir.remove_tenant(&key("12345678")).unwrap();
    assert_eq!(dir.tenant_for_token(&acme_token.secret).unwrap(), None);
    assert_eq!(
        dir.tenant_for_token(&globex_token.secret).unwrap(),
        Some(key("87654321"))
    );
    // A tenant re-created with the same key does not inherit the old tokens.
    dir.add_tenant(&acme()).unwrap();
    assert_eq!(dir.tenant_for_token(&acme_token.secret).unwrap(), None);
    assert!(dir.tenant_tokens(&key("12345678")).unwrap().is_empty());
}

#[test]
fn refused_tenant_token_writes_change_nothing() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    assert!(matches!(
        dir.create_tenant_token(&key("99999999"), None),
        Err(DirectoryError::UnknownTenant(_))
    ));
    assert!(matches!(
        dir.create_tenant_token(&key("12345678"), Some("bad\nlabel")),
        Err(DirectoryError::Invalid { field: "label", .. })
    ));
    assert!(matches!(
        dir.create_tenant_token(&key("12345678"), Some("   ")),
        Err(DirectoryError::Invalid { field: "label", .. })
    ));
    assert!(token_rows(&dir).is_empty());
    assert!(matches!(
        dir.tenant_tokens(&key("99999999")),
        Err(DirectoryError::UnknownTenant(_))
    ));
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
fn tenant_gets_its_own_grant_key_when_added_and_loses_it_when_removed() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    dir.add_tenant(&globex()).unwrap();
    let a = dir.grant_key(&key("12345678")).unwrap().unwrap();
    let b = dir.grant_key(&key("87654321")).unwrap().unwrap();
    assert_ne!(a, b);
    assert_eq!(dir.grant_key(&key("12345678")).unwrap(), Some(a));
    dir.remove_tenant(&key("12345678")).unwrap();
    assert_eq!(dir.grant_key(&key("12345678")).unwrap(), None);
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
fn snapshot_carries_each_tenants_grant_key() {
    let mut dir = Directory::open_in_memory().unwrap();
    dir.add_tenant(&acme()).unwrap();
    let snap = Snapshot::load(&dir).unwrap();
    assert_eq!(
        DirectoryRead::grant_key(&snap, &key("12345678")).unwrap(),
        dir.grant_key(&key("12345678")).unwrap()
    );
    assert_eq!(
        DirectoryRead::grant_key(&snap, &key("87654321")).unwrap(),
        None
    );
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

    let rule = TrustedDeviceRule::cert_sha256(&"0f".repeat(32)).unwrap();
    dir.add_device_rule(&tenant, &rule, false).unwrap();
    let again = dir.add_device_rule(&tenant, &rule, false).unwrap_err();
    assert!(
        matches!(again, DirectoryError::Invalid { .. }),
        "one rule per certificate per tenant, refused as such: {again:?}"
    );
    let devices = dir.trusted_devices(&tenant).unwrap();
    assert_eq!(devices[1].rule, rule);
    assert_eq!(devices[1].to_json()["kind"], "cert-sha256");
}
