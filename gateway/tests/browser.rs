//! The join page in real headless Chromium (Debian's `chromium`, driven by `playwright-core` from
//! `gateway/tests/browser/`, with Chromium's fake camera and microphone and a fresh profile per
//! browser) against a real `tessera serve --demo`.
//!
//! Each test runs one node scenario (`gateway/tests/browser/*.mjs`): the scenario does what a
//! person would do and prints one line of JSON with what the page showed; the assertions are
//! here. Screenshots land in `$CARGO_TARGET_TMPDIR/browser/`, kept so a person can look.
//!
//! Needs `node` and `gateway/tests/browser/node_modules` (`npm ci` there) and `chromium`;
//! `bash .ci/test.sh` installs them. Without them these tests fail, never pass silently.

// Real processes on the wall clock: this file waits, which the sans-IO crates may not.
#![allow(clippy::disallowed_methods)]

mod common;
#[allow(dead_code)] // shared with media_e2e; these tests use part of it
#[path = "media_e2e/server.rs"]
mod server;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use server::{Server, TENANT};

/// How long one scenario may take before it is killed.
const SCENARIO_PATIENCE: Duration = Duration::from_secs(180);

/// `gateway/tests/browser/`, where the scenarios and their `node_modules` are.
fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Where screenshots go (created, kept after the run).
fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `scenario` against `server` with extra environment; returns its JSON report. Panics with
/// the scenario's stderr and the server log when it fails.
fn run_scenario(server: &Server, scenario: &str, env: &[(&str, &str)]) -> Value {
    let started = Instant::now();
    let out = node(server, scenario, env)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (install nodejs): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{scenario} failed after {:?} ({}):\n{stderr}\n{stdout}\nserver log:\n{}",
        started.elapsed(),
        out.status,
        server.log_tail()
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{scenario} printed no JSON ({e}): {stdout}"))
}

/// A scenario that stops at steps for the test to act (admit someone, call in a VTC): it prints
/// `{"step": ...}` lines and waits for a line on stdin before going on; its last line is the
/// report.
struct Interactive {
    name: String,
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Interactive {
    fn spawn(server: &Server, scenario: &str, env: &[(&str, &str)]) -> Interactive {
        let mut command = node(server, scenario, env);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node (install nodejs): {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        });
        Interactive {
            name: scenario.to_owned(),
            child,
            stdin,
            lines,
            stderr,
        }
    }

    /// The next line the scenario prints, as JSON; panics (with its stderr and the server log)
    /// when it ends or stays silent for the whole patience.
    fn next(mut self, server: &Server) -> (Self, Value) {
        match self.lines.recv_timeout(SCENARIO_PATIENCE) {
            Ok(line) => {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", self.name));
                (self, value)
            }
            Err(_) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self.stderr.join().unwrap_or_default();
                panic!(
                    "{} ended or went silent:\n{stderr}\nserver log:\n{}",
                    self.name,
                    server.log_tail()
                );
            }
        }
    }

    /// Waits for the step called `name`; returns what it says.
    fn expect_step(self, server: &Server, name: &str) -> (Self, Value) {
        let (this, value) = self.next(server);
        assert_eq!(value["step"], name, "{}: {value}", this.name);
        (this, value)
    }

    /// Lets the scenario go on past the step it waits at.
    fn resume(&mut self) {
        writeln!(self.stdin, "go").unwrap();
    }

    /// The final report; the scenario must then exit successfully.
    fn finish(self, server: &Server) -> Value {
        let (mut this, report) = self.next(server);
        let status = this.child.wait().unwrap();
        assert!(status.success(), "{} exited with {status}", this.name);
        report
    }
}

/// The `node <scenario>` command with the server's URL, the screenshot directory and `env`.
fn node(server: &Server, scenario: &str, env: &[(&str, &str)]) -> Command {
    assert!(
        scripts().join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci` in {} (bash .ci/install-deps.sh does)",
        scripts().display()
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian chromium is missing (bash .ci/install-deps.sh installs it)"
    );
    let mut command = Command::new("timeout");
    command
        .arg(SCENARIO_PATIENCE.as_secs().to_string())
        .args(["node", scenario])
        .current_dir(scripts())
        .env("TESSERA_URL", format!("http://{}", server.http))
        .env("SHOTS", shots());
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

#[test]
fn join_page_renders_with_preview_devices_keyboard_order_and_both_widths() {
    let server = Server::start(true, &[]);
    let r = run_scenario(&server, "prejoin.mjs", &[]);
    let seen = &r["seen"];
    assert_eq!(seen["view"], "prejoin", "{r}");
    assert_eq!(seen["label"], "Meeting 1177958860", "{r}");
    assert_eq!(
        seen["notice"],
        Value::Null,
        "no message before anything happened: {r}"
    );
    // Chromium's fake camera at the asked 1280x720, playing in the preview, and both device lists.
    assert_eq!(seen["preview"], serde_json::json!([1280, 720]), "{r}");
    assert!(seen["cameras"].as_u64() >= Some(1), "{r}");
    assert!(seen["microphones"].as_u64() >= Some(1), "{r}");
    // Keyboard only: focus starts in the name field, Tab walks the form in reading order to Join.
    assert_eq!(seen["focused"], "name", "{r}");
    assert_eq!(r["name"], "Keyboard Kim", "{r}");
    assert_eq!(
        r["order"],
        serde_json::json!([
            "camera",
            "microphone",
            "start-muted",
            "start-camera-off",
            "join"
        ]),
        "{r}"
    );
    // Fits 1280x720 and a 390-wide phone: no sideways scrolling, every control on screen.
    for width in ["wide", "narrow"] {
        assert_eq!(r[width]["overflow"], 0, "{width}: {r}");
        assert_eq!(r[width]["outside"], serde_json::json!([]), "{width}: {r}");
    }
    assert_eq!(r["joinVisible"], true, "{r}");
    // A link that is not /join/<tenant>/<conference> says so and cannot be joined.
    assert_eq!(r["badLink"]["reason"], "unknown-meeting", "{r}");
    assert_eq!(r["badLink"]["joinDisabled"], true, "{r}");
    assert!(
        r["badLink"]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("There is no such meeting"),
        "{r}"
    );
    let errors: Vec<&Value> = r["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l.as_str().is_some_and(|l| l.starts_with("pageerror")))
        .collect();
    assert!(errors.is_empty(), "script errors on the page: {errors:?}");
}

/// A meeting of the demo tenant that lets only trusted classes bypass its lobby.
const LOBBY_MEETING: &str = "2000000";

/// `tessera token grant` on the running server's database; returns the token.
fn grant(server: &Server, class: &str, conference: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("--db")
        .arg(server.db())
        .args(["token", "grant", "--tenant", TENANT, "--class", class])
        .args(["--conference", conference, "--ttl", "1h"])
        .env_remove("TESSERA_DB")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "token grant: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The live view of a meeting through the admin API.
fn meeting_view(server: &Server, conference: &str) -> Value {
    let (status, body) = server
        .api_get(&format!("/api/v1/meetings/{TENANT}/{conference}"))
        .unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Polls (bounded) until `find` answers from the meeting view.
fn wait_in_view<T>(
    server: &Server,
    conference: &str,
    what: &str,
    find: impl Fn(&Value) -> Option<T>,
) -> T {
    let deadline = Instant::now() + SCENARIO_PATIENCE;
    loop {
        let view = meeting_view(server, conference);
        if let Some(found) = find(&view) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never showed in the meeting view: {view}\nserver log:\n{}",
            server.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn browser_without_grant_waits_is_admitted_from_the_console_and_a_denied_one_sees_why() {
    let server = Server::start(
        true,
        &[&[
            "meeting",
            "add",
            "--tenant",
            TENANT,
            "--conference-id",
            LOBBY_MEETING,
            "--who-can-bypass",
            "trusted-orgs",
        ]],
    );
    let organizer = grant(&server, "organizer", LOBBY_MEETING);
    let scenario = Interactive::spawn(
        &server,
        "lobby.mjs",
        &[("MEETING", LOBBY_MEETING), ("GRANT", &organizer)],
    );
    let (mut scenario, _) = scenario.expect_step(&server, "wanda-waiting");
    // The console lists her in the lobby as a browser; its Admit button is this request.
    let (id, protocol) = wait_in_view(&server, LOBBY_MEETING, "Wanda waiting", |v| {
        v["lobby"].as_array()?.iter().find_map(|e| {
            (e["display_name"] == "Waiting Wanda").then(|| {
                (
                    e["id"].as_str().unwrap_or_default().to_owned(),
                    e["protocol"].clone(),
                )
            })
        })
    });
    assert_eq!(protocol, "webrtc");
    let (status, body) = server
        .api_post(&format!(
            "/api/v1/meetings/{TENANT}/{LOBBY_MEETING}/lobby/{id}/admit"
        ))
        .unwrap();
    assert_eq!(status, 204, "admit: {body}");
    scenario.resume();
    let report = scenario.finish(&server);

    // Wanda's page moved into the meeting (the scenario waited for that view), Dora's was
    // listed on the organizer's page and denied from it with the keyboard.
    assert!(
        report["waitingText"]
            .as_str()
            .unwrap_or_default()
            .contains("Waiting to be let in"),
        "{report}"
    );
    assert!(
        report["lobbyList"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap_or_default().starts_with("Denied Dora")),
        "{report}"
    );
    assert_eq!(report["denied"]["title"], "You were not let in", "{report}");
    assert_eq!(report["denied"]["notice"]["reason"], "denied", "{report}");
    let view = meeting_view(&server, LOBBY_MEETING);
    let names: Vec<&str> = view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["display_name"].as_str())
        .collect();
    assert!(names.contains(&"Waiting Wanda"), "{view}");
    assert!(names.contains(&"Organizer Olga"), "{view}");
    assert!(!names.contains(&"Denied Dora"), "{view}");
}

#[test]
fn every_refusal_shows_a_sentence_for_a_person() {
    let server = Server::start(true, &[]);
    let expired_or_forged = format!("{}x", grant(&server, "organizer", "1177958860"));
    let cases = serde_json::json!([
        { "label": "unknown-meeting", "path": format!("{TENANT}/9999999999") },
        { "label": "unknown-tenant", "path": "11112222/1177958860" },
        { "label": "bad-grant", "path": format!("{TENANT}/1177958860?grant={expired_or_forged}") },
    ]);
    let report = run_scenario(&server, "refusals.mjs", &[("CASES", &cases.to_string())]);
    let results = &report["results"];
    // The contract's 404 reasons are unknown-meeting and unknown-tenant; the gateway answers an
    // unknown tenant with unknown-meeting today, and the page says either in words.
    for (label, reasons, says) in [
        (
            "unknown-meeting",
            &["unknown-meeting"][..],
            "There is no such meeting",
        ),
        (
            "unknown-tenant",
            &["unknown-tenant", "unknown-meeting"][..],
            "Check the link",
        ),
        (
            "bad-grant",
            &["bad-grant"][..],
            "invitation link has expired or is not valid",
        ),
    ] {
        let r = &results[label];
        assert!(
            reasons.iter().any(|reason| r["reason"] == *reason),
            "{label}: {report}"
        );
        assert_eq!(r["view"], "prejoin", "{report}");
        assert!(
            r["text"].as_str().unwrap_or_default().contains(says),
            "{label}: {report}"
        );
    }
}
