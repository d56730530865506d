//! The in-memory directory answers exactly as the SQLite directory it was read from, and the
//! live directory serves the old snapshot until it is reloaded.

use signaling::DialString;

use super::*;
use crate::directory::{
    Directory, MeetingUpdate, NewTenant, PolicyOverrides, TenantUpdate, TrustedDeviceRule,
};
use crate::lobby::{LobbyPolicy, WhoCanBypass};

fn key(k: &str) -> TenantKey {
    TenantKey::new(k).unwrap()
}

fn conf(c: &str) -> ConferenceId {
    ConferenceId::new(c).unwrap()
}

/// Two tenants with hostnames, prefixes, rules of every kind and meetings with and without
/// overrides.
fn populated() -> Directory {
    let mut dir = Directory::open_in_memory().unwrap();
    let acme = NewTenant {
        key: key("12345678"),
        name: "Acme".into(),
        hostnames: vec!["Video.Acme.Example".into(), "rooms.acme.example".into()],
        prefix: Some(DialPrefix::new("6").unwrap()),
        endpoint_licenses: 10,
        cascade_licenses: 2,
        policy: LobbyPolicy::default(),
    };
    dir.add_tenant(&acme).unwrap();
    dir.add_tenant(&NewTenant {
        key: key("87654321"),
        name: "Globex".into(),
        hostnames: vec!["video.globex.example".into()],
        prefix: Some(DialPrefix::new("70").unwrap()),
        endpoint_licenses: 3,
        ..acme
    })
    .unwrap();
    let overrides = PolicyOverrides {
        who_can_bypass: Some(WhoCanBypass::Organizer),
        ..PolicyOverrides::default()
    };
    dir.add_meeting(
        &key("12345678"),
        &conf("1177958860"),
        Some("Ada"),
        overrides,
    )
    .unwrap();
    dir.add_meeting(
        &key("12345678"),
        &conf("2000000"),
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
    let realm = crate::directory::realm_of(&key("12345678"));
    for rule in [
        TrustedDeviceRule::cidr("192.0.2.0/24").unwrap(),
        TrustedDeviceRule::uri_pattern("sip:*@rooms.acme.example").unwrap(),
        TrustedDeviceRule::digest("room1:a-long-password", &realm).unwrap(),
    ] {
        dir.add_trusted_device(&key("12345678"), &rule).unwrap();
    }
    dir
}

/// Every read of the trait, through `read`, for keys that exist and keys that do not.
fn answers(read: &dyn DirectoryRead) -> Vec<String> {
    let mut out = vec![
        format!("{:?}", read.tenants().unwrap()),
        format!("{:?}", read.meetings(None).unwrap()),
    ];
    for tenant in ["12345678", "87654321", "11111111"] {
        let t = key(tenant);
        out.push(format!("{:?}", read.tenant(&t).unwrap()));
        out.push(format!("{:?}", read.meetings(Some(&t)).unwrap()));
        out.push(format!("{:?}", read.trusted_devices(&t).unwrap()));
        for conference in ["1177958860", "2000000", "2299887766", "9999999"] {
            let c = conf(conference);
            out.push(format!("{:?}", read.meeting(&t, &c).unwrap()));
            out.push(format!("{:?}", read.effective_policy(&t, &c).unwrap()));
        }
    }
    for dialled in [
        "sip:12345678.1177958860@gw.example.com",
        "sip:1177958860.12345678@gw.example.com",
        "sip:1177958860@VIDEO.ACME.EXAMPLE.",
        "sip:2299887766@video.globex.example",
        "sip:61177958860@gw.example.com",
        "sip:702299887766@gw.example.com",
        "sip:12345678@gw.example.com",
        "sip:12345678.9999999@gw.example.com",
        "sip:11111111.1177958860@gw.example.com",
        "sip:1177958860@unknown.example",
        "sip:81177958860@gw.example.com",
        "h323:gw##12345678.1177958860",
    ] {
        let resolved = DialString::parse(dialled).and_then(|d| d.resolve(read));
        out.push(format!("{dialled}: {resolved:?}"));
    }
    out
}

#[test]
fn a_snapshot_answers_every_read_and_dial_exactly_as_the_sqlite_directory() {
    let dir = populated();
    let snapshot = Snapshot::load(&dir).unwrap();
    assert_eq!(answers(&snapshot), answers(&dir));
    // The comparison is not of two empty answers.
    assert_eq!(snapshot.tenants().unwrap().len(), 2);
    assert_eq!(snapshot.trusted_devices(&key("12345678")).unwrap().len(), 3);
}

#[test]
fn an_empty_directory_gives_an_empty_snapshot_that_resolves_nothing() {
    let dir = Directory::open_in_memory().unwrap();
    let snapshot = Snapshot::load(&dir).unwrap();
    assert_eq!(snapshot, Snapshot::default());
    assert_eq!(answers(&snapshot), answers(&dir));
}

#[test]
fn a_live_directory_keeps_its_snapshot_until_reloaded_then_answers_the_new_one() {
    let mut dir = populated();
    let live = LiveDirectory::load(&dir).unwrap();
    let before = live.current();
    dir.update_tenant(
        &key("12345678"),
        &TenantUpdate {
            endpoint_licenses: Some(1),
            prefix: Some(None),
            ..TenantUpdate::default()
        },
    )
    .unwrap();
    dir.update_meeting(
        &key("12345678"),
        &conf("1177958860"),
        &MeetingUpdate {
            who_can_bypass: Some(None),
            ..MeetingUpdate::default()
        },
    )
    .unwrap();
    dir.remove_meeting(&key("87654321"), &conf("2299887766"))
        .unwrap();
    // Not reloaded: the old answers, whole.
    assert_eq!(answers(&live), answers(before.as_ref()));
    assert_eq!(
        live.tenant(&key("12345678"))
            .unwrap()
            .unwrap()
            .endpoint_licenses,
        10
    );

    live.reload(&dir).unwrap();
    assert_eq!(answers(&live), answers(&dir));
    assert_eq!(
        live.tenant(&key("12345678"))
            .unwrap()
            .unwrap()
            .endpoint_licenses,
        1
    );
    assert!(!live
        .conference_exists(&key("87654321"), &conf("2299887766"))
        .unwrap());
    // A reader holding the old snapshot keeps it, unchanged.
    assert_eq!(
        before
            .tenant(&key("12345678"))
            .unwrap()
            .unwrap()
            .endpoint_licenses,
        10
    );
}

#[test]
fn writes_through_another_connection_change_the_data_version_and_reach_a_reload() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("tessera.db");
    let watcher = Directory::open(&path).unwrap();
    let live = LiveDirectory::load(&watcher).unwrap();
    let version = watcher.data_version().unwrap();
    assert_eq!(
        watcher.data_version().unwrap(),
        version,
        "nothing written yet"
    );

    // Another connection (another request, or the CLI in another process) writes.
    let mut writer = Directory::open(&path).unwrap();
    crate::demo::ensure_demo(&mut writer).unwrap();
    assert_ne!(watcher.data_version().unwrap(), version);
    assert!(live.tenants().unwrap().is_empty(), "not reloaded yet");

    live.reload(&watcher).unwrap();
    let demo = key(crate::demo::DEMO_TENANT);
    assert!(live.tenant(&demo).unwrap().is_some());
    assert!(live
        .conference_exists(&demo, &conf(crate::demo::DEMO_CONFERENCE))
        .unwrap());
}
