//! The directory's behaviour, one suite run against both of its databases: every case below runs
//! as `on_sqlite::<case>` (a SQLite file in a temporary directory) and `on_postgres::<case>` (a
//! fresh database on the throwaway PostgreSQL 15 of `common::postgres`). Same writes, same reads,
//! same refusals, and a refused write changes nothing, whichever database holds the directory.
//!
//! Cases that look at one database's own machinery (SQLite's WAL, its migrations from older
//! files) stay in `gateway/src/directory/tests.rs`.

#![allow(clippy::disallowed_methods)]

mod common;
#[path = "directory_backends/serve.rs"]
mod serve;
#[path = "directory_backends/tokens.rs"]
mod tokens;

use tokens::*;

use std::path::PathBuf;

use gateway::directory::{
    DbLocation, Directory, DirectoryError, DirectoryRead, Meeting, MeetingUpdate, NewTenant,
    PolicyOverrides, Snapshot, Tenant, TenantUpdate, TrustedDeviceRule,
};
use gateway::lobby::{LobbyPolicy, WhoCanBypass};
use signaling::{ConferenceId, DialLookup, DialPrefix, DialString, Route, TenantKey};

/// One empty directory database of either kind.
enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Db {
    fn sqlite() -> Db {
        Db::Sqlite(tempfile::tempdir().expect("temporary directory"))
    }

    fn postgres() -> Db {
        Db::Postgres(common::postgres::shared().fresh_database())
    }

    fn location(&self) -> DbLocation {
        match self {
            Db::Sqlite(dir) => DbLocation::Sqlite(self.sqlite_path(dir)),
            Db::Postgres(url) => url.parse().expect("a PostgreSQL URL"),
        }
    }

    fn sqlite_path(&self, dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("tessera.db")
    }

    /// A directory handle on this database (each call a new one, as another process would open).
    fn open(&self) -> Directory {
        Directory::connect(&self.location()).expect("open the directory")
    }

    /// The stored token hashes, read past the directory: what is really kept.
    fn token_hashes(&self) -> Vec<String> {
        let sql = "SELECT token_sha256 FROM tenant_tokens ORDER BY id";
        match self {
            Db::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(self.sqlite_path(dir)).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                stmt.query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            Db::Postgres(url) => {
                let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
                client
                    .query(sql, &[])
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect()
            }
        }
    }
}

/// Runs each case on both databases.
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $( #[test] fn $case() { super::$case(&super::Db::sqlite()); } )*
        }
        mod on_postgres {
            $( #[test] fn $case() { super::$case(&super::Db::postgres()); } )*
        }
    };
}

on_both!(
    added_tenant_reads_back_normalised,
    duplicate_key_is_refused,
    duplicate_hostname_refuses_the_whole_tenant,
    overlapping_prefixes_are_refused_both_ways,
    refused_update_changes_nothing,
    update_applies_every_field,
    media_policy_round_trips,
    meetings_are_per_tenant_and_unique_within_one,
    changing_a_default_reaches_meetings_that_did_not_override_it,
    removing_a_tenant_removes_its_meetings_hostnames_and_devices,
    trusted_devices_round_trip_without_passwords,
    pinned_certificates_are_one_per_tenant_and_cascade_rules_keep_their_flag,
    dial_strings_resolve_through_the_directory,
    created_tenant_token_verifies_and_lists_without_its_secret,
    each_created_tenant_token_is_new,
    revoked_tenant_token_no_longer_verifies,
    tenant_tokens_go_with_their_tenant,
    refused_tenant_token_writes_change_nothing,
    tenant_gets_its_own_grant_key_when_added_and_loses_it_when_removed,
    snapshot_carries_each_tenants_grant_key,
    a_write_by_another_handle_changes_the_data_version_and_a_refusal_does_not,
    reopening_finds_everything_and_migrates_nothing_twice,
    writers_racing_for_one_key_or_hostname_get_the_same_refusals,
    a_snapshot_read_table_by_table_holds_what_record_by_record_reads_hold,
);

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

fn added_tenant_reads_back_normalised(db: &Db) {
    let mut dir = db.open();
    let t = dir.add_tenant(&acme()).unwrap();
    assert_eq!(t.hostnames, ["video.acme.example"]);
    assert_eq!(dir.tenant(&key("12345678")).unwrap(), Some(t.clone()));
    assert_eq!(dir.tenants().unwrap(), [t]);
}

fn duplicate_key_is_refused(db: &Db) {
    let mut dir = db.open();
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

fn duplicate_hostname_refuses_the_whole_tenant(db: &Db) {
    let mut dir = db.open();
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

fn overlapping_prefixes_are_refused_both_ways(db: &Db) {
    let mut dir = db.open();
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
    dir.remove_tenant(&key("12345678")).unwrap();
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

fn refused_update_changes_nothing(db: &Db) {
    let mut dir = db.open();
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

fn update_applies_every_field(db: &Db) {
    let mut dir = db.open();
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

fn meetings_are_per_tenant_and_unique_within_one(db: &Db) {
    let mut dir = db.open();
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

fn changing_a_default_reaches_meetings_that_did_not_override_it(db: &Db) {
    let mut dir = db.open();
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

fn removing_a_tenant_removes_its_meetings_hostnames_and_devices(db: &Db) {
    let mut dir = db.open();
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

fn trusted_devices_round_trip_without_passwords(db: &Db) {
    let mut dir = db.open();
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

fn dial_strings_resolve_through_the_directory(db: &Db) {
    let mut dir = db.open();
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

fn media_policy_round_trips(db: &Db) {
    use gateway::directory::{MediaEncryption, MediaPolicy};
    let mut dir = db.open();
    let acme = dir.add_tenant(&acme()).unwrap();
    assert_eq!(acme.media, MediaPolicy::default());
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
    assert_eq!(db.open().tenant(&key("12345678")).unwrap(), Some(updated));
}

fn pinned_certificates_are_one_per_tenant_and_cascade_rules_keep_their_flag(db: &Db) {
    let mut dir = db.open();
    dir.add_tenant(&acme()).unwrap();
    let tenant = key("12345678");
    let bridge = dir
        .add_device_rule(
            &tenant,
            &TrustedDeviceRule::cidr("192.0.2.0/24").unwrap(),
            true,
        )
        .unwrap();
    let rule = TrustedDeviceRule::cert_sha256(&"0f".repeat(32)).unwrap();
    let pinned = dir.add_device_rule(&tenant, &rule, false).unwrap();
    assert!(pinned.id > bridge.id, "ids grow: oldest first");
    let again = dir.add_device_rule(&tenant, &rule, false).unwrap_err();
    assert!(
        matches!(again, DirectoryError::Invalid { .. }),
        "one rule per certificate per tenant, refused as such: {again:?}"
    );
    let devices = db.open().trusted_devices(&tenant).unwrap();
    assert_eq!(devices, [bridge, pinned]);
    assert!(devices[0].cascade && !devices[1].cascade);
    assert_eq!(devices[1].to_json()["kind"], "cert-sha256");
    // Another tenant may pin the same certificate.
    dir.add_tenant(&globex()).unwrap();
    dir.add_device_rule(&key("87654321"), &rule, false).unwrap();
}

/// What the running gateway's watcher relies on: a commit by anyone else shows as a new data
/// version, and the directory (and a snapshot of it) then reads the change.
fn a_write_by_another_handle_changes_the_data_version_and_a_refusal_does_not(db: &Db) {
    let watcher = db.open();
    let before = watcher.data_version().unwrap();
    assert_eq!(watcher.data_version().unwrap(), before, "nothing happened");
    let mut cli = db.open();
    assert!(!cli.wrote());
    cli.add_tenant(&acme()).unwrap();
    assert!(cli.wrote());
    let after = watcher.data_version().unwrap();
    assert_ne!(after, before);
    assert!(Snapshot::load(&watcher)
        .unwrap()
        .tenant_by_hostname("video.acme.example")
        .unwrap()
        .is_some());
    // A refused write commits nothing: no new version, and the handle did not write.
    let mut refused = db.open();
    refused.add_tenant(&acme()).unwrap_err();
    assert!(!refused.wrote());
    assert_eq!(watcher.data_version().unwrap(), after);
}

fn reopening_finds_everything_and_migrates_nothing_twice(db: &Db) {
    let mut dir = db.open();
    dir.add_tenant(&acme()).unwrap();
    dir.add_meeting(
        &key("12345678"),
        &conf("1177958860"),
        Some("Ada"),
        PolicyOverrides {
            callers_bypass: Some(true),
            ..PolicyOverrides::default()
        },
    )
    .unwrap();
    let before = snapshot(&dir);
    drop(dir);
    let again = db.open();
    assert_eq!(snapshot(&again), before);
    assert_eq!(
        DirectoryRead::effective_policy(&again, &key("12345678"), &conf("1177958860"))
            .unwrap()
            .map(|p| p.callers_bypass),
        Some(true)
    );
}

/// Two handles (two CLI runs, two nodes) adding clashing tenants at the same moment: one wins,
/// the other gets the refusal it would get one after the other, never a database error.
fn writers_racing_for_one_key_or_hostname_get_the_same_refusals(db: &Db) {
    use std::sync::{Arc, Barrier};
    for round in 0..4_u32 {
        let same_key = round % 2 == 0;
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = (0..2_u32)
            .map(|i| {
                let mut dir = db.open();
                let barrier = barrier.clone();
                let tenant = NewTenant {
                    key: key(&format!(
                        "{}",
                        100_000 + round * 10 + if same_key { 0 } else { i }
                    )),
                    hostnames: vec![if same_key {
                        format!("own{i}.race{round}.example")
                    } else {
                        format!("race{round}.example")
                    }],
                    prefix: None,
                    ..acme()
                };
                std::thread::spawn(move || {
                    barrier.wait();
                    dir.add_tenant(&tenant)
                })
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {results:?}");
        let refusal = results.into_iter().find_map(Result::err).unwrap();
        if same_key {
            assert!(
                matches!(refusal, DirectoryError::DuplicateTenant(_)),
                "{refusal:?}"
            );
        } else {
            assert!(
                matches!(refusal, DirectoryError::DuplicateHostname { .. }),
                "{refusal:?}"
            );
        }
    }
    assert_eq!(db.open().tenants().unwrap().len(), 4);
}

/// The gateway loads and reloads its in-memory copy with [`Snapshot::load`], which reads each
/// table once; it must hold exactly what reading record by record holds.
fn a_snapshot_read_table_by_table_holds_what_record_by_record_reads_hold(db: &Db) {
    const TENANTS: u32 = 60;
    let mut dir = db.open();
    for n in 0..TENANTS {
        let tenant = key(&format!("{}", 20_000 + n));
        dir.add_tenant(&NewTenant {
            key: tenant.clone(),
            hostnames: vec![format!("b{n}.example"), format!("a{n}.example")],
            prefix: Some(DialPrefix::new(&format!("9{n:03}")).unwrap()),
            ..acme()
        })
        .unwrap();
        if n % 3 == 0 {
            dir.add_trusted_device(&tenant, &TrustedDeviceRule::cidr("192.0.2.0/24").unwrap())
                .unwrap();
            dir.add_device_rule(
                &tenant,
                &TrustedDeviceRule::uri_pattern("sip:*@mcu.example").unwrap(),
                true,
            )
            .unwrap();
        }
        if n % 2 == 0 {
            dir.add_meeting(
                &tenant,
                &conf("1000001"),
                Some("Ada"),
                PolicyOverrides::default(),
            )
            .unwrap();
        }
    }
    let started = std::time::Instant::now();
    let by_table = Snapshot::load(&dir).unwrap();
    let table_time = started.elapsed();
    let started = std::time::Instant::now();
    let by_record = Snapshot::read_each(&dir).unwrap();
    let record_time = started.elapsed();
    eprintln!(
        "{TENANTS} tenants: snapshot by table {table_time:?}, record by record {record_time:?}"
    );
    assert_eq!(by_table, by_record);
    assert_eq!(by_table.tenants().unwrap().len(), TENANTS as usize);
    assert_eq!(
        by_table.trusted_devices(&key("20003")).unwrap().len(),
        2,
        "rules of a tenant, oldest first"
    );
    assert!(by_table.grant_key(&key("20059")).unwrap().is_some());
}
