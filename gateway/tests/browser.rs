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

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use server::Server;

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
    assert!(
        scripts().join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci` in {} (bash .ci/install-deps.sh does)",
        scripts().display()
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian chromium is missing (bash .ci/install-deps.sh installs it)"
    );
    let started = Instant::now();
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
    let out = command
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
