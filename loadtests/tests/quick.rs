//! Smoke tests of the harness: `tessera-load throughput --quick` against a real `tessera serve`
//! (started by the tool from this target directory) and a real ffmpeg baseline, and a tiny
//! `cluster-rate` (SIPp, Kamailio and three gateways: one direct, two behind Kamailio), and a
//! one-step `ramp` with a 1080p receiver. They check that the harness works (calls
//! established and hung up, every stream received and decoded at 720p, latency stamps read, both
//! paths measured, the summary lines' format), never how fast anything is.

use std::process::Command;

use serde_json::Value;

/// Runs `tessera-load` (quietly) and returns its stdout; fails the test with both streams when
/// it exits non-zero.
fn run_load(command: &mut Command) -> String {
    let output = command.env("RUST_LOG", "warn").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tessera-load failed:\n{stdout}\n{stderr}"
    );
    stdout
}

#[test]
fn throughput_quick_establishes_calls_decodes_streams_and_prints_the_summary_line() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let plot = dir.path().join("chart.svg");
    let stdout = run_load(
        Command::new(env!("CARGO_BIN_EXE_tessera-load"))
            // RTP ports of its own: the cluster-rate test runs beside it (the default range is
            // shared, and a port both gateways bind leaves a call without media).
            .args([
                "throughput",
                "--quick",
                "--rtp-ports",
                "61000-62999",
                "--json",
            ])
            .arg(&json)
            .arg("--plot")
            .arg(&plot),
    );

    let last = stdout.lines().last().unwrap_or_default();
    let words: Vec<&str> = last.split(' ').collect();
    // throughput: <ports> ports/core at <fps> fps, baseline <ports> ports/core, ratio <x>x
    assert_eq!(words.len(), 11, "{last:?}");
    assert_eq!(
        (words[0], words[2], words[3], words[5], words[6], words[8], words[9]),
        (
            "throughput:",
            "ports/core",
            "at",
            "fps,",
            "baseline",
            "ports/core,",
            "ratio"
        ),
        "{last:?}"
    );
    let number = |w: &str| {
        w.parse::<f64>()
            .unwrap_or_else(|_| panic!("{w:?} in {last:?}"))
    };
    number(words[1]);
    assert!(number(words[4]) > 0.0, "{last:?}");
    number(words[7]);
    number(
        words[10]
            .strip_suffix('x')
            .unwrap_or_else(|| panic!("{last:?}")),
    );

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["ports"], 2);
    assert_eq!(
        report["calls_hung_up_200"], 2,
        "every call ends with BYE/200"
    );
    assert!(report["gateway_cpu_cores"].as_f64().unwrap() > 0.0);
    let ports = report["port_reports"].as_array().unwrap();
    assert_eq!(ports.len(), 2);
    for p in ports {
        assert!(p["video_packets"].as_u64().unwrap() > 100, "{p}");
        assert!(p["audio_packets"].as_u64().unwrap() > 100, "{p}");
        assert!(
            p["decoded"].as_u64().unwrap() > 0,
            "no picture decoded: {p}"
        );
        assert_eq!(p["decode_errors"], 0, "{p}");
        assert_eq!(p["picture"], serde_json::json!([1280, 720]), "{p}");
        assert!(
            p["keyframe_delay_ms"].as_f64().is_some(),
            "no keyframe: {p}"
        );
    }
    // The probe (first VTC) read the other VTC's stamps through the gateway's layout.
    assert!(
        ports[0]["latency_samples"].as_u64().unwrap() > 0,
        "{}",
        ports[0]
    );
    assert!(report["latency_p50_ms"].as_f64().unwrap() > 0.0);
    let baseline = &report["baseline"];
    assert_eq!(baseline["ports"], 1);
    assert!(
        baseline["fps"][0].as_f64().unwrap() > 0.0,
        "ffmpeg produced no frames: {baseline}"
    );
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<polyline"));
}

#[test]
fn cluster_rate_measures_one_node_direct_and_kamailio_with_nodes_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let stdout = run_load(
        Command::new(env!("CARGO_BIN_EXE_tessera-load"))
            .args(["cluster-rate", "--nodes", "2", "--rate", "10"])
            .args(["--rtp-ports", "63000-63999"])
            .args([
                "--calls",
                "20",
                "--hold-ms",
                "200",
                "--meetings",
                "4",
                "--json",
            ])
            .arg(&json),
    );
    assert!(stdout.contains("1 node direct"), "{stdout}");
    assert!(stdout.contains("Kamailio + 2 nodes"), "{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("cluster-rate: best clean setup rate 1 node direct "),
        "{last:?}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["nodes"], 2);
    let pair = &report["results"][0];
    for path in ["direct", "cluster"] {
        assert_eq!(pair[path]["completed"], 20, "{path}: {pair}");
        assert_eq!(pair[path]["failed"], 0, "{path}: {pair}");
    }
}

#[test]
fn a_ramp_step_reports_its_figures_and_the_1080p_receiver_gets_1080p() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("ramp.json");
    let stdout = run_load(
        Command::new(env!("CARGO_BIN_EXE_tessera-load"))
            .args(["ramp", "--rtp-ports", "64000-64999", "--max-steps", "1"])
            .args(["--vtcs-per-meeting", "2", "--vtcs-1080p", "1"])
            .args(["--native-per-meeting", "4", "--settle-secs", "2"])
            .args(["--step-secs", "4", "--json"])
            .arg(&json),
    );
    let last = stdout.lines().last().unwrap_or_default();
    // Whether this machine holds full rate is not the test's business; the line's shape is.
    assert!(
        last.starts_with("ramp: no knee within 1 steps, 2 ports (")
            || last.starts_with("ramp: degraded at the first step, 2 ports ("),
        "{last:?}"
    );
    for part in [
        " gateway cores, ",
        " ports/core, fleet ",
        " cores, p50/p99 ",
        " ms, ",
    ] {
        assert!(last.contains(part), "{part:?} in {last:?}");
    }
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let step = &report["steps"][0];
    assert_eq!(step["ports"], 2, "{step}");
    // VTC 1 offered level 4.0 and 4 Mbit/s: it decoded 1920x1080, VTC 0 1280x720.
    assert_eq!(step["pictures_as_offered"], 2, "{step}");
    assert_eq!(step["picture_sizes"]["1920x1080"], 1, "{step}");
    assert_eq!(step["picture_sizes"]["1280x720"], 1, "{step}");
    assert!(step["cpu_cores"].as_f64().unwrap() > 0.0, "{step}");
    assert!(step["fleet_cpu_cores"].as_f64().is_some(), "{step}");
    assert!(step["latency_samples"].as_u64().unwrap() > 0, "{step}");
    assert_eq!(report["vtcs_1080p"], 1);
}
