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
    assert_eq!(shown["media_encryption"], "optional", "the default");
    assert_eq!(shown["sdes_over_clear"], false, "the default");

    db.ok(&[
        "tenant",
        "set",
        "--key",
        "12345678",
        "--media-encryption",
        "required",
        "--sdes-over-clear",
        "on",
    ]);
    let text = db.ok(&["tenant", "show", "--key", "12345678"]);
    assert!(
        text.contains("media encryption          required"),
        "{text}"
    );
    assert!(text.contains("sdes over clear           on"), "{text}");
    let err = db.fails(&[
        "tenant",
        "set",
        "--key",
        "12345678",
        "--media-encryption",
        "sometimes",
    ]);
    assert!(err.contains("expected one of: optional, required"), "{err}");

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
    let pinned = db.ok(&[
        "device",
        "trust",
        "--tenant",
        "12345678",
        "--cert-sha256",
        &"AB:".repeat(32)[..95],
    ]);
    assert!(
        pinned.contains(&format!("cert-sha256 {}", "ab".repeat(32))),
        "{pinned}"
    );
    let list = db.ok(&["device", "list", "--tenant", "12345678"]);
    assert_eq!(list.lines().count(), 5, "{list}");
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
fn device_trust_cascade_names_a_bridge_and_the_list_shows_its_role() {
    let db = Db::with_demo();
    let added = db.ok(&[
        "device",
        "trust",
        "--tenant",
        "12345678",
        "--uri",
        "sip:*@mcu.acme.example",
        "--cascade",
    ]);
    assert!(added.starts_with("added cascade rule"), "{added}");
    db.ok(&[
        "device",
        "trust",
        "--tenant",
        "12345678",
        "--cidr",
        "192.0.2.0/24",
    ]);
    let list = db.ok(&["device", "list", "--tenant", "12345678"]);
    let roles: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    assert_eq!(roles, ["ROLE", "cascade", "trusted-vtc"], "{list}");
    let json = db.ok(&["device", "list", "--tenant", "12345678", "--json"]);
    let rules: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rules[0]["cascade"], true, "{json}");
    assert_eq!(rules[1]["cascade"], false, "{json}");
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

#[test]
fn token_create_prints_the_token_once_and_list_never_shows_it() {
    let db = Db::with_demo();
    let out = db.run(&[
        "token", "create", "--tenant", "12345678", "--label", "booking",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let secret = stdout.trim_end_matches('\n');
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert_eq!(secret.len(), 64, "{stdout}");
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()), "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("shown only this once"), "{stderr}");
    assert!(!stderr.contains(secret), "{stderr}");

    // The token resolves to its tenant in the directory the server reads.
    let dir = gateway::directory::Directory::open(&db.path).unwrap();
    assert_eq!(
        dir.tenant_for_token(secret).unwrap().map(|k| k.to_string()),
        Some("12345678".to_owned())
    );

    let table = db.ok(&["token", "list", "--tenant", "12345678"]);
    let mut lines = table.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["ID", "LABEL", "CREATED"]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(row[..2], ["1", "booking"]);
    assert!(row[2].ends_with('Z'), "{table}");
    assert!(!table.contains(secret));

    let json: serde_json::Value =
        serde_json::from_str(&db.ok(&["token", "list", "--tenant", "12345678", "--json"])).unwrap();
    let token = &json[0];
    let mut keys: Vec<&String> = token.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["created", "id", "label", "tenant"]);
    assert_eq!(token["tenant"], "12345678");
    assert_eq!(token["label"], "booking");
    assert!(!json.to_string().contains(secret));
    // Another tenant's list is its own.
    assert_eq!(
        db.ok(&["token", "list", "--tenant", "87654321", "--json"]),
        "[]\n"
    );
}

#[test]
fn token_create_json_carries_the_token() {
    let db = Db::with_demo();
    let json: serde_json::Value =
        serde_json::from_str(&db.ok(&["token", "create", "--tenant", "87654321", "--json"]))
            .unwrap();
    assert_eq!(json["tenant"], "87654321");
    assert_eq!(json["label"], serde_json::Value::Null);
    let secret = json["token"].as_str().unwrap();
    let dir = gateway::directory::Directory::open(&db.path).unwrap();
    assert!(dir.tenant_for_token(secret).unwrap().is_some());
}

#[test]
fn token_revoke_stops_the_token_and_refuses_unknown_ids() {
    let db = Db::with_demo();
    let secret = db.ok(&["token", "create", "--tenant", "12345678"]);
    let secret = secret.trim();
    assert_eq!(
        db.ok(&["token", "revoke", "--tenant", "12345678", "--id", "1"]),
        "revoked token 1 of tenant 12345678\n"
    );
    let dir = gateway::directory::Directory::open(&db.path).unwrap();
    assert_eq!(dir.tenant_for_token(secret).unwrap(), None);
    assert_eq!(
        db.ok(&["token", "list", "--tenant", "12345678", "--json"]),
        "[]\n"
    );
    let err = db.fails(&["token", "revoke", "--tenant", "12345678", "--id", "1"]);
    assert!(err.contains("tenant 12345678 has no token 1"), "{err}");
}

#[test]
fn token_commands_refuse_unknown_tenants_and_bad_labels() {
    let db = Db::with_demo();
    let err = db.fails(&["token", "create", "--tenant", "99999999"]);
    assert!(err.contains("no tenant 99999999"), "{err}");
    let err = db.fails(&["token", "list", "--tenant", "99999999"]);
    assert!(err.contains("no tenant 99999999"), "{err}");
    let err = db.fails(&["token", "create", "--tenant", "12345678", "--label", " "]);
    assert!(err.contains("invalid label"), "{err}");
    assert_eq!(
        db.ok(&["token", "list", "--tenant", "12345678", "--json"]),
        "[]\n"
    );
}

/// An invitation from `tests/data/invites/`.
fn invite_file(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/invites")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

const ACME_DIAL_STRINGS: [&str; 6] = [
    "12345678.1177958860@gw.example.com",
    "1177958860.12345678@gw.example.com",
    "1177958860@video.acme.example",
    "61177958860@gw.example.com",
    "12345678.1177958860",
    "1177958860.12345678",
];

const GLOBEX_DIAL_STRINGS: [&str; 6] = [
    "87654321.2299887766@gw.example.com",
    "2299887766.87654321@gw.example.com",
    "2299887766@video.globex.example",
    "702299887766@gw.example.com",
    "87654321.2299887766",
    "2299887766.87654321",
];

#[test]
fn invite_parse_finds_the_meeting_in_every_layout() {
    let db = Db::with_demo();
    let cases = [
        // Teams-style HTML: "Join with a video conferencing device", key@host + spaced ID.
        (
            "teams.html",
            "tenant=12345678 conference=1177958860",
            ACME_DIAL_STRINGS,
        ),
        // Plain text with a full dial string, a tenant hostname and an H.323 alias.
        (
            "plain.txt",
            "tenant=87654321 conference=2299887766",
            GLOBEX_DIAL_STRINGS,
        ),
        // Outlook .ics: DESCRIPTION folded inside the dial string, escaped commas.
        (
            "outlook.ics",
            "tenant=12345678 conference=1177958860",
            ACME_DIAL_STRINGS,
        ),
        // multipart/alternative .eml: only the quoted-printable HTML part has the details.
        (
            "supplier-call.eml",
            "tenant=87654321 conference=2299887766",
            GLOBEX_DIAL_STRINGS,
        ),
        // Only "tenant key 12345678" and "VTC conference ID ... 1177958860" in prose.
        (
            "prose.txt",
            "tenant=12345678 conference=1177958860",
            ACME_DIAL_STRINGS,
        ),
    ];
    for (file, first, dial_strings) in cases {
        let out = db.ok(&[
            "invite",
            "parse",
            &invite_file(file),
            "--gateway-host",
            "gw.example.com",
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], first, "{file}:\n{out}");
        assert_eq!(lines[1..], dial_strings, "{file}:\n{out}");
        // Every dial string printed leads back to the same meeting.
        for dial in &lines[1..] {
            let resolved = db.ok(&["dial", "resolve", dial]);
            assert!(
                resolved.starts_with(&format!("{first} route=")),
                "{dial}: {resolved}"
            );
        }
    }
}

#[test]
fn invite_parse_reads_stdin_prints_json_and_defaults_the_gateway_host() {
    use std::io::Write as _;
    let db = Db::with_demo();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("--db")
        .arg(&db.path)
        .args(["invite", "parse", "-", "--json"])
        .env_remove("TESSERA_DB")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let invitation = std::fs::read(invite_file("teams.html")).unwrap();
    child.stdin.take().unwrap().write_all(&invitation).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["tenant"], "12345678");
    assert_eq!(json["conference_id"], "1177958860");
    assert_eq!(
        json["dial_strings"][0],
        "12345678.1177958860@tessera.invalid"
    );
    assert_eq!(json["dial_strings"].as_array().unwrap().len(), 6);
}

#[test]
fn invite_parse_without_video_details_fails_with_the_reason() {
    let db = Db::with_demo();
    let err = db.fails(&["invite", "parse", &invite_file("no-video.txt")]);
    assert_eq!(
        err,
        "error: no video dial details found in the invitation\n"
    );

    let dir = tempfile::tempdir().unwrap();
    let unknown = dir.path().join("unknown.txt");
    std::fs::write(
        &unknown,
        "Room systems: dial 12345678.9999999999@gw.example.com\n",
    )
    .unwrap();
    let err = db.fails(&["invite", "parse", unknown.to_str().unwrap()]);
    assert!(
        err.starts_with("error: no dial string in the invitation reaches a known meeting")
            && err.contains("unknown conference 9999999999 for tenant 12345678"),
        "{err}"
    );
    let entry_queue = dir.path().join("entry-queue.txt");
    std::fs::write(
        &entry_queue,
        "Join with a video conferencing device: 12345678@t.plcm.vc\n",
    )
    .unwrap();
    let err = db.fails(&["invite", "parse", entry_queue.to_str().unwrap()]);
    assert!(
        err.contains("names tenant 12345678 but none of its meetings"),
        "{err}"
    );

    let err = db.fails(&["invite", "parse", "/nonexistent/invite.ics"]);
    assert!(
        err.starts_with("error: cannot read /nonexistent/invite.ics"),
        "{err}"
    );
    let err = db.fails(&[
        "invite",
        "parse",
        &invite_file("plain.txt"),
        "--gateway-host",
        "gw example",
    ]);
    assert!(err.contains("invalid gateway host"), "{err}");
}

#[test]
fn serve_demo_first_prints_where_the_admin_token_is() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::Duration;

    // The database is not in the current directory: the README's curl must still find the token.
    let data = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let db = data.path().join("gw.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--demo", "--sip-listen", "127.0.0.1:0"])
        .args(["--h323-listen", "127.0.0.1:0"])
        .args(["--http-listen", "127.0.0.1:0", "--rtp-ports", "41000-41099"])
        .env("TESSERA_DB", &db)
        .env_remove("TESSERA_ADMIN_TOKEN")
        .current_dir(elsewhere.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok).take(3) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // A guard against a server that never prints, not a measurement.
    let first: Vec<String> = (0..3)
        .map_while(|_| rx.recv_timeout(Duration::from_secs(120)).ok())
        .collect();
    let _ = child.kill();
    let _ = child.wait();

    let token_file = data.path().join("gw.db.admin-token");
    assert_eq!(first.len(), 3, "first lines: {first:?}");
    assert_eq!(
        first[1],
        format!("admin token file: {}", token_file.display())
    );
    assert!(first[2].contains(&format!("$(cat '{}')", token_file.display())));
    assert!(first[0].starts_with("Tessera demo: dial 12345678.1177958860@127.0.0.1:"));
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert!(token.trim().len() >= 16, "a token was written there");
}

#[test]
fn token_grant_prints_a_grant_signed_with_the_tenants_key() {
    let db = Db::with_demo();
    let json: serde_json::Value = serde_json::from_str(&db.ok(&[
        "token",
        "grant",
        "--tenant",
        "12345678",
        "--class",
        "guest",
        "--conference",
        "1177958860",
        "--name",
        "Grace Hopper",
        "--ttl",
        "2h",
        "--json",
    ]))
    .unwrap();
    let token = json["token"].as_str().unwrap();
    assert_eq!(
        json["join_path"],
        format!("/join/12345678/1177958860?grant={token}")
    );
    let expires = json["expires_unix"].as_u64().unwrap();
    let tenant = signaling::TenantKey::new("12345678").unwrap();
    let dir = gateway::directory::Directory::open(&db.path).unwrap();
    let key = dir.grant_key(&tenant).unwrap().unwrap();
    let grant = gateway::grants::verify(&key, token, &tenant, expires - 7200).unwrap();
    assert_eq!(grant.class.as_str(), "guest");
    assert_eq!(grant.name.as_deref(), Some("Grace Hopper"));
    assert!(gateway::grants::verify(&key, token, &tenant, expires).is_err());

    // Bare: the token alone, for `GRANT=$(tessera token grant ...)`.
    let bare = db.ok(&[
        "token",
        "grant",
        "--tenant",
        "87654321",
        "--class",
        "organizer",
    ]);
    assert_eq!(bare.lines().count(), 1, "{bare}");
    assert_eq!(bare.trim().split('.').count(), 2, "{bare}");
}

#[test]
fn token_grant_refuses_bad_classes_ttls_and_unknown_meetings() {
    let db = Db::with_demo();
    let base = ["token", "grant", "--tenant", "12345678"];
    for (extra, says) in [
        (&["--class", "anonymous"][..], "unknown grant class"),
        (&["--class", "guest", "--ttl", "soon"][..], "e.g. 90m"),
        (&["--class", "guest", "--ttl", "60d"][..], "invalid ttl"),
        (
            &["--class", "guest", "--conference", "9999999999"][..],
            "has no meeting 9999999999",
        ),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let err = db.fails(&args);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let err = db.fails(&["token", "grant", "--tenant", "11112222", "--class", "guest"]);
    assert!(err.contains("no tenant 11112222"), "{err}");
}
