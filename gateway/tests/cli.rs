//! The `tessera` binary as an operator uses it: a real SQLite file in a temporary directory, real
//! processes, exact output lines and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Db {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Db {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.db");
        Db { _dir: dir, path }
    }

    fn run(&self, args: &[&str]) -> Output {
        tessera(Some(&self.path), args)
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    }

    fn with_demo() -> Self {
        let db = Db::new();
        db.ok(&["init", "--demo"]);
        db.ok(&[
            "tenant",
            "add",
            "--key",
            "87654321",
            "--name",
            "Globex",
            "--domain",
            "video.globex.example",
            "--prefix",
            "70",
        ]);
        db.ok(&[
            "meeting",
            "add",
            "--tenant",
            "87654321",
            "--conference-id",
            "2299887766",
        ]);
        db
    }
}

fn tessera(db: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    if let Some(db) = db {
        cmd.arg("--db").arg(db);
    }
    cmd.args(args).env_remove("TESSERA_DB").output().unwrap()
}

#[test]
fn dial_resolve_prints_one_line_per_route() {
    let db = Db::with_demo();
    let cases = [
        (
            "sip:12345678.1177958860@gw.example.com",
            "tenant=12345678 conference=1177958860 route=direct",
        ),
        (
            "1177958860.12345678@gw.example.com",
            "tenant=12345678 conference=1177958860 route=direct",
        ),
        (
            "sip:1177958860@video.acme.example",
            "tenant=12345678 conference=1177958860 route=domain",
        ),
        (
            "\"Room\" <sip:12345678@gw.example.com>;tag=1",
            "tenant=12345678 conference=- route=entry-queue",
        ),
        (
            "sip:61177958860@gw.example.com",
            "tenant=12345678 conference=1177958860 route=prefix",
        ),
        (
            "702299887766",
            "tenant=87654321 conference=2299887766 route=prefix",
        ),
        (
            "gw##87654321.2299887766",
            "tenant=87654321 conference=2299887766 route=direct",
        ),
    ];
    for (dial, want) in cases {
        assert_eq!(
            db.ok(&["dial", "resolve", dial]),
            format!("{want}\n"),
            "{dial}"
        );
    }
}

#[test]
fn db_flag_works_after_the_subcommand_too() {
    let db = Db::with_demo();
    let out = tessera(
        None,
        &[
            "dial",
            "resolve",
            "--db",
            db.path.to_str().unwrap(),
            "12345678.1177958860",
        ],
    );
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "tenant=12345678 conference=1177958860 route=direct\n"
    );
}

#[test]
fn dial_resolve_errors_go_to_stderr_with_a_reason() {
    let db = Db::with_demo();
    let cases = [
        ("sip:99999999.1177958860@gw", "error: unknown tenant"),
        (
            "sip:12345678.9999999999@gw",
            "error: unknown conference 9999999999 for tenant 12345678",
        ),
        (
            "sip:2299887766@video.acme.example",
            "error: unknown conference 2299887766 for tenant 12345678",
        ),
        ("tel:+15551234567", "error: not a dial string"),
        ("<sip:12345678@gw", "error: malformed dial string"),
    ];
    for (dial, want) in cases {
        let out = db.run(&["dial", "resolve", dial]);
        assert!(!out.status.success(), "{dial}");
        assert!(out.stdout.is_empty(), "{dial}: nothing on stdout");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with(want), "{dial}: {err}");
    }
}

#[test]
fn lobby_decide_prints_the_table_cells() {
    let decide = |args: &[&str]| {
        let mut full = vec!["lobby", "decide"];
        full.extend_from_slice(args);
        let out = tessera(None, &full);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    assert_eq!(
        decide(&["--who-can-bypass", "organizer", "--class", "organizer"]),
        "bypass"
    );
    assert_eq!(
        decide(&["--who-can-bypass", "organizer", "--class", "trusted-vtc"]),
        "lobby"
    );
    assert_eq!(
        decide(&[
            "--who-can-bypass",
            "organizer",
            "--class",
            "trusted-vtc",
            "--legacy-trusted-vtc-bypass"
        ]),
        "bypass"
    );
    assert_eq!(
        decide(&["--who-can-bypass", "same-org", "--class", "trusted-org"]),
        "lobby"
    );
    assert_eq!(
        decide(&["--who-can-bypass", "everyone", "--class", "anonymous"]),
        "bypass"
    );
    assert_eq!(
        decide(&[
            "--who-can-bypass",
            "everyone",
            "--class",
            "anonymous",
            "--trusted-present",
            "no"
        ]),
        "lobby"
    );
    assert_eq!(
        decide(&[
            "--who-can-bypass",
            "everyone",
            "--class",
            "anonymous",
            "--trusted-present",
            "no",
            "--anonymous-can-start",
            "on",
        ]),
        "bypass"
    );
    assert_eq!(
        decide(&["--who-can-bypass", "trusted-orgs", "--class", "pstn"]),
        "lobby"
    );
    assert_eq!(
        decide(&[
            "--who-can-bypass",
            "organizer",
            "--class",
            "pstn",
            "--callers-bypass",
            "on",
            "--trusted-present",
            "no"
        ]),
        "bypass"
    );
}

#[test]
fn lobby_decide_refuses_unknown_values() {
    for args in [
        ["--who-can-bypass", "nobody", "--class", "guest"],
        ["--who-can-bypass", "everyone", "--class", "vip"],
    ] {
        let mut full = vec!["lobby", "decide"];
        full.extend_from_slice(&args);
        let out = tessera(None, &full);
        assert!(!out.status.success());
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("expected one of"), "{err}");
    }
}

#[test]
fn tenant_lifecycle_with_table_and_json() {
    let db = Db::new();
    db.ok(&[
        "tenant",
        "add",
        "--key",
        "12345678",
        "--name",
        "Acme",
        "--domain",
        "video.acme.example",
        "--domain",
        "rooms.acme.example",
        "--prefix",
        "6",
        "--who-can-bypass",
        "same-org",
    ]);
    let table = db.ok(&["tenant", "list"]);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("KEY       NAME"));
    assert!(lines
        .next()
        .unwrap()
        .starts_with("12345678  Acme  rooms.acme.example,video.acme.example  6"));

    let json: serde_json::Value =
        serde_json::from_str(&db.ok(&["tenant", "list", "--json"])).unwrap();
    assert_eq!(json[0]["key"], "12345678");
    assert_eq!(json[0]["who_can_bypass"], "same-org");
    assert_eq!(json[0]["prefix"], "6");

    db.ok(&[
        "tenant",
        "set",
        "--key",
        "12345678",
        "--remove-domain",
        "rooms.acme.example",
        "--no-prefix",
    ]);
    let shown: serde_json::Value =
        serde_json::from_str(&db.ok(&["tenant", "show", "--key", "12345678", "--json"])).unwrap();
    assert_eq!(
        shown["hostnames"],
        serde_json::json!(["video.acme.example"])
    );
    assert_eq!(shown["prefix"], serde_json::Value::Null);

    let err = db.fails(&["tenant", "add", "--key", "12345678", "--name", "Again"]);
    assert_eq!(err.trim(), "error: tenant 12345678 already exists");
    let err = db.fails(&["tenant", "add", "--key", "123", "--name", "Short"]);
    assert!(err.contains("tenant key must have 4-12 digits"), "{err}");

    db.ok(&["tenant", "remove", "--key", "12345678"]);
    assert_eq!(db.ok(&["tenant", "list", "--json"]).trim(), "[]");
}

#[test]
fn meeting_overrides_and_inheritance() {
    let db = Db::with_demo();
    let show = |db: &Db| -> serde_json::Value {
        serde_json::from_str(&db.ok(&[
            "meeting",
            "show",
            "--tenant",
            "12345678",
            "--conference-id",
            "1177958860",
            "--json",
        ]))
        .unwrap()
    };
    assert_eq!(show(&db)["who_can_bypass"], "everyone");
    assert_eq!(show(&db)["overridden"]["who_can_bypass"], "meeting");
    db.ok(&[
        "meeting",
        "set",
        "--tenant",
        "12345678",
        "--conference-id",
        "1177958860",
        "--who-can-bypass",
        "inherit",
        "--callers-bypass",
        "on",
    ]);
    db.ok(&[
        "tenant",
        "set",
        "--key",
        "12345678",
        "--who-can-bypass",
        "organizer",
    ]);
    let m = show(&db);
    assert_eq!(m["who_can_bypass"], "organizer");
    assert_eq!(m["overridden"]["who_can_bypass"], "tenant");
    assert_eq!(m["callers_bypass"], true);

    let list = db.ok(&["meeting", "list", "--tenant", "87654321"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("87654321  2299887766"));

    let err = db.fails(&[
        "meeting",
        "add",
        "--tenant",
        "12345678",
        "--conference-id",
        "1177958860",
    ]);
    assert_eq!(
        err.trim(),
        "error: tenant 12345678 already has meeting 1177958860"
    );
    let err = db.fails(&[
        "meeting",
        "add",
        "--tenant",
        "55555555",
        "--conference-id",
        "1177958860",
    ]);
    assert_eq!(err.trim(), "error: no tenant 55555555");
}

#[test]
fn trusted_devices_never_print_secrets() {
    let db = Db::with_demo();
    db.ok(&[
        "device",
        "trust",
        "--tenant",
        "12345678",
        "--cidr",
        "192.0.2.0/24",
    ]);
    db.ok(&[
        "device",
        "trust",
        "--tenant",
        "12345678",
        "--uri",
        "sip:*@rooms.acme.example",
    ]);
    let added = db.ok(&[
        "device",
        "trust",
        "--tenant",
        "12345678",
        "--digest",
        "room1:hunter2hunter2",
    ]);
    assert!(
        added.contains("digest room1 (realm 12345678.tessera)"),
        "{added}"
    );
    let list = db.ok(&["device", "list", "--tenant", "12345678"]);
    assert_eq!(list.lines().count(), 4, "{list}");
    assert!(!list.contains("hunter2"));
    let raw = std::fs::read(&db.path).unwrap();
    assert!(
        !raw.windows(7).any(|w| w == b"hunter2"),
        "password must not be stored"
    );

    let err = db.fails(&[
        "device",
        "trust",
        "--tenant",
        "12345678",
        "--cidr",
        "192.0.2.1/24",
    ]);
    assert!(err.contains("host bits set"), "{err}");
    let err = db.fails(&["device", "trust", "--tenant", "12345678"]);
    assert!(err.contains("required"), "{err}");
    let err = db.fails(&["device", "remove", "--tenant", "87654321", "--id", "1"]);
    assert_eq!(
        err.trim(),
        "error: tenant 87654321 has no trusted-device rule 1"
    );
}

#[test]
fn init_demo_is_idempotent() {
    let db = Db::new();
    let first = db.ok(&["init", "--demo"]);
    assert!(first.contains("demo tenant 12345678: created"), "{first}");
    db.ok(&[
        "tenant",
        "set",
        "--key",
        "12345678",
        "--name",
        "Acme Renamed",
    ]);
    let second = db.ok(&["init", "--demo"]);
    assert!(
        second.contains("demo tenant 12345678: already present, left as is"),
        "{second}"
    );
    assert!(db
        .ok(&["tenant", "show", "--key", "12345678"])
        .contains("Acme Renamed"));
}
