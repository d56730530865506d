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
#[path = "media_e2e/ffmpeg.rs"]
mod ffmpeg;
#[allow(dead_code)] // shared with media_e2e; these tests use part of it
#[path = "media_e2e/relay.rs"]
mod relay;
#[allow(dead_code)] // shared with media_e2e; these tests use part of it
#[path = "media_e2e/server.rs"]
mod server;
#[allow(dead_code)] // shared with media_e2e; these tests use part of it
#[path = "media_e2e/vtc.rs"]
mod vtc;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use server::{Server, TENANT};

/// How long one scenario may take before it is killed.
const SCENARIO_PATIENCE: Duration = Duration::from_secs(300);

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

/// The demo meeting (`tessera serve --demo`: 8 synthetic participants).
const DEMO_MEETING: &str = "1177958860";
/// The room system's name, as the pages' rosters show it.
const VTC_NAME: &str = "room-vtc";
/// The room system's own tone, which it must not hear back.
const VTC_TONE_HZ: u32 = 1000;
/// Chromium's fake microphone: a beep at about 400 Hz (measured in the page with an analyser:
/// the spectrum peaks at 398-400 Hz).
const FAKE_MIC_HZ: f64 = 400.0;
/// Audio windows shorter than this are not compared.
const AUDIO_WINDOW: Duration = Duration::from_secs(4);

/// The VTC's audio between `from` and `to` (time since the call started). The receiver's WAV
/// ends when its receiving is finished, at `ended` (the gateway sends the mix without gaps),
/// but starts whenever ffmpeg got going, seconds after the call on a busy machine: so times are
/// counted back from its end.
fn window(audio: &[i16], ended: Duration, from: Duration, to: Duration) -> &[i16] {
    let at = |t: Duration| {
        let back = (ended.saturating_sub(t).as_secs_f64() * 8000.0) as usize;
        audio.len().saturating_sub(back)
    };
    &audio[at(from)..at(to)]
}

/// A tile colour is the browsers' fake camera (green, unlike every demo pattern's background).
fn is_fake_camera_green(c: [u8; 3]) -> bool {
    c[1] > 90 && c[1] > c[0].saturating_add(60) && c[1] > c[2].saturating_add(60)
}

/// The first "done when": two pages and a VTC in the demo meeting (eight synthetic
/// participants). Each page gets the other browser (its simulcast layer that fits the tile) and
/// the VTC (its H.264 as sent) forwarded; the VTC's 3x3 shows both browsers, decoded from their
/// middle layer; the VTC hears their beep, not once they mute, and never its own tone. The
/// scenario first waits for each page to encode its camera (Chromium under load can take long
/// to start), so a slow start shows as that wait, not as a missing tile. The audio windows are
/// counted back from the end of the VTC's recording, which ffmpeg starts seconds after the call
/// on a busy machine.
#[test]
fn two_browsers_and_a_vtc_see_and_hear_each_other_in_the_demo_meeting() {
    ffmpeg::require_ffmpeg();
    let mut server = Server::start(true, &[]);
    let (grant_a, grant_b) = (
        grant(&server, "same-org", DEMO_MEETING),
        grant(&server, "same-org", DEMO_MEETING),
    );
    let scenario = Interactive::spawn(
        &server,
        "meeting.mjs",
        &[
            ("MEETING", DEMO_MEETING),
            ("GRANT_A", &grant_a),
            ("GRANT_B", &grant_b),
            ("VTC_NAME", VTC_NAME),
        ],
    );
    let (mut scenario, _) = scenario.expect_step(&server, "browsers-in");
    let dir = tempfile::tempdir().unwrap();
    let call_started = Instant::now();
    let mut room = vtc::Vtc::call(
        &server,
        dir.path(),
        VTC_NAME,
        DEMO_MEETING,
        vtc::Source {
            video: "testsrc2=size=1280x720:rate=30",
            tone_hz: VTC_TONE_HZ,
            drop_video_permille: 0,
        },
    );
    scenario.resume();
    let (mut scenario, seen) = scenario.expect_step(&server, "measured");
    room.wait_for_picture(&mut server);
    // Enough of both browsers talking for the "before" audio window.
    let talking = Duration::from_secs(8);
    if let Some(rest) = talking.checked_sub(call_started.elapsed()) {
        std::thread::sleep(rest);
    }
    let (layout, _) = room.receiver().latest_snapshot();
    let talking_until = call_started.elapsed();
    let (_, metrics) = common::http_request(
        server.http,
        "GET",
        "/metrics",
        None,
        common::Chunked::Decode,
    )
    .unwrap();
    scenario.resume();
    let (mut scenario, muted) = scenario.expect_step(&server, "muted");
    let muted_from = call_started.elapsed();
    std::thread::sleep(AUDIO_WINDOW + Duration::from_secs(2));
    let ended = call_started.elapsed();
    let decoded = room.finish_receiving();
    scenario.resume();
    let report = scenario.finish(&server);
    room.hang_up(&server);
    server.assert_healthy("after the meeting");

    // Each page shows the other browser and the VTC, playing, frame counters growing.
    for (page, wanted) in [
        ("ann", ["Browser Ben", VTC_NAME]),
        ("ben", ["Browser Ann", VTC_NAME]),
    ] {
        for name in wanted {
            let g = seen[page]["growth"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["name"] == name)
                .unwrap_or_else(|| panic!("{page} shows no tile of {name}: {seen}"));
            assert!(
                g["after"].as_u64() > g["before"].as_u64(),
                "{page}: {name}'s decoded frames did not grow: {g}\nseen: {}\n{}\nserver log:\n{}",
                seen[page],
                metrics
                    .lines()
                    .filter(|l| l.starts_with("tessera_webrtc")
                        || l.starts_with("tessera_media_dropped")
                        || l.starts_with("tessera_keyframes"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                server.log_tail()
            );
            assert!(g["videoWidth"].as_u64() > Some(0), "{page}: {g}");
        }
        let vtc_tile = seen[page]["tiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == VTC_NAME)
            .unwrap();
        assert_eq!(
            vtc_tile["kind"], "vtc",
            "{page}: the VTC is marked as a room: {vtc_tile}"
        );
        // Ann publishes the three simulcast layers of the contract.
        let rids: Vec<&str> = seen[page]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["rid"].as_str())
            .collect();
        assert_eq!(rids, ["f", "h", "q"], "{page} publishes: {seen}");
    }
    assert_eq!(seen["benNarrow"]["overflow"], 0, "{seen}");
    assert_eq!(
        seen["benNarrow"]["outside"],
        serde_json::json!([]),
        "{seen}"
    );
    assert_eq!(muted["annPressed"], "true", "{muted}");
    assert_eq!(muted["benPressed"], "true", "{muted}");

    assert_eq!(report["left"], true, "{report}");

    // The VTC's layout holds the browsers' pictures: tiles of the fake camera's green, which no
    // demo pattern has.
    let layout = layout.expect("the VTC decoded a layout picture");
    let colours: Vec<[u8; 3]> = vtc::grid_3x3(&layout)
        .into_iter()
        .map(|t| vtc::tile_colour(&layout, t))
        .collect();
    let browsers = colours.iter().filter(|c| is_fake_camera_green(**c)).count();
    assert!(
        browsers >= 2,
        "the VTC's 3x3 shows {browsers} browser pictures: tile colours {colours:?}"
    );

    // The VTC's 3x3 tiles (426x240) of the browsers are decoded from the middle layer (640x360):
    // the one that fits, and the one decoded most.
    let decoded_layer = |layer: &str| -> f64 {
        let series = format!("tessera_webrtc_ingest_decoded_total{{layer=\"{layer}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series.as_str()))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let by_layer = [decoded_layer("0"), decoded_layer("1"), decoded_layer("2")];
    assert!(
        by_layer[1] > 0.0 && by_layer[1] > by_layer[0] + by_layer[2],
        "pictures decoded from the browsers by layer (q, h, f): {by_layer:?}\n{}",
        metrics
            .lines()
            .filter(|l| l.contains("ingest") || l.starts_with("tessera_webrtc"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // It hears the browsers' fake microphones while they talk and not once they mute, and never
    // its own tone.
    let audio = vtc::settled_audio(VTC_NAME, &decoded);
    let before = window(
        &decoded.audio,
        ended,
        talking_until - AUDIO_WINDOW - Duration::from_secs(2),
        talking_until - Duration::from_secs(2),
    );
    let after = window(
        &decoded.audio,
        ended,
        muted_from + Duration::from_secs(2),
        muted_from + Duration::from_secs(2) + AUDIO_WINDOW,
    );
    let talking_share = ffmpeg::tone_share(before, 8000, FAKE_MIC_HZ);
    let muted_share = ffmpeg::tone_share(after, 8000, FAKE_MIC_HZ);
    let own = ffmpeg::tone_share(audio, 8000, f64::from(VTC_TONE_HZ));
    assert!(
        after.len() >= 8000 && talking_share > 3.0 * muted_share && talking_share > 0.002,
        "the browsers' {FAKE_MIC_HZ} Hz beep: {:.2} % of the VTC's audio while they talk, \
         {:.2} % once muted ({} samples)",
        talking_share * 100.0,
        muted_share * 100.0,
        after.len()
    );
    assert!(
        own < 0.02,
        "the VTC hears its own {VTC_TONE_HZ} Hz tone back ({:.1} %): N-1 broken",
        own * 100.0
    );
    eprintln!(
        "VTC tiles {colours:?}; beep {:.2} % talking / {:.2} % muted; own tone {:.2} %; \
         ann layers {}; webrtc metrics:\n{}",
        talking_share * 100.0,
        muted_share * 100.0,
        own * 100.0,
        seen["ann"]["layers"],
        metrics
            .lines()
            .filter(|l| l.starts_with("tessera_webrtc"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
