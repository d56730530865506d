//! `call-rate`: SIPp (Debian `sip-tester`) places short calls at R calls per second against the
//! gateway with `loadtests/sipp/call_rate.xml` (INVITE with a PCMU offer, 200, ACK, a short hold,
//! BYE; `--video` adds an H.264 offer: `call_rate_video.xml`), spread over several meetings; SIPp's own statistics give completed and failed calls and
//! its response-time trace the INVITE-to-200 setup latency.
//!
//! Owns the SIPp runs and their parsing.

#![allow(clippy::disallowed_methods)] // Waits on real time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;

use crate::gateway::{self, Gateway};
use crate::{report, stats, Common};

/// `call-rate` options.
#[derive(Debug, Clone, Args)]
pub struct CallRateArgs {
    /// Calls per second; repeat or list (`--rate 100,200,300`) to sweep.
    #[arg(long, value_delimiter = ',', default_values_t = [200u32])]
    pub rate: Vec<u32>,
    /// Calls per rate.
    #[arg(long, default_value_t = 2000)]
    pub calls: u32,
    /// Milliseconds each call stays up.
    #[arg(long, default_value_t = 1000)]
    pub hold_ms: u32,
    /// Meetings the calls are spread over.
    #[arg(long, default_value_t = 20)]
    pub meetings: usize,
    /// The SIPp scenario [default: loadtests/sipp/call_rate.xml, or call_rate_video.xml with
    /// --video].
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Offer H.264 video beside the audio (`loadtests/sipp/call_rate_video.xml`): every call
    /// sets up a video stream and joins its meeting's layouts.
    #[arg(long, conflicts_with = "scenario")]
    pub video: bool,
    #[command(flatten)]
    pub common: Common,
}

/// One rate's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RateResult {
    /// Calls per second asked for.
    pub rate: u32,
    /// Calls SIPp counted successful.
    pub completed: u64,
    /// Calls SIPp counted failed.
    pub failed: u64,
    /// Setup latency percentiles (ms).
    pub setup_p50_ms: Option<f64>,
    /// 99th percentile.
    pub setup_p99_ms: Option<f64>,
    /// Rate achieved: completed calls over SIPp's run time less one hold time (the last call's
    /// talk and teardown), so a run that kept up shows about the rate asked for.
    pub achieved_cps: f64,
    /// `tessera_calls_active` once SIPp finished and the gateway settled.
    pub calls_active_after: Option<f64>,
    /// All calls completed, none failed.
    pub clean: bool,
    /// Clean, and at no less than [`HELD_SHARE`] of the rate asked: SIPp caps the calls in
    /// progress (`-l`), so a gateway that falls behind slows SIPp down instead of failing calls.
    pub held: bool,
    /// SIPp's retransmissions (requests and responses it sent again for want of an answer): a
    /// gateway whose SIP socket overflows or falls behind shows here before calls fail.
    pub retransmissions: Option<u64>,
}

/// The share of the asked rate a clean run must reach to count as held.
pub const HELD_SHARE: f64 = 0.9;

fn default_scenario(video: bool) -> PathBuf {
    let name = if video {
        "sipp/call_rate_video.xml"
    } else {
        "sipp/call_rate.xml"
    };
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// The value of column `name` in the last row of a SIPp `-trace_stat` CSV (`;`-separated).
pub fn stat_column(csv: &str, name: &str) -> Option<u64> {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next()?.split(';').collect();
    let last: Vec<&str> = lines.next_back()?.split(';').collect();
    let i = header.iter().position(|h| h.trim() == name)?;
    last.get(i)?.trim().parse().ok()
}

/// Response times (ms) from a SIPp 3.6 `-trace_rtt` file: a `Date_ms;response_time_ms;rtd_no`
/// header, then one row per measured response (whole milliseconds).
pub fn rtt_values(csv: &str) -> Vec<f64> {
    csv.lines()
        .skip(1)
        .filter_map(|l| l.split(';').nth(1)?.trim().parse().ok())
        .collect()
}

/// One SIPp run at `rate` against `target` (a gateway, or a proxy in front of `gateways`), then
/// waits (bounded) for `tessera_calls_active` summed over `gateways` to settle.
pub fn run_rate(
    target: SocketAddr,
    gateways: &[&Gateway],
    args: &CallRateArgs,
    scenario: &Path,
    inf: &Path,
    rate: u32,
) -> Result<RateResult> {
    let dir = tempfile::tempdir()?;
    let stat = dir.path().join("stat.csv");
    let started = Instant::now();
    let output = Command::new("sipp")
        .current_dir(dir.path())
        .arg(target.to_string())
        .arg("-sf")
        .arg(scenario)
        .arg("-inf")
        .arg(inf)
        .args(["-r", &rate.to_string(), "-rp", "1000"])
        .args(["-m", &args.calls.to_string()])
        .args(["-l", &(rate * (args.hold_ms / 1000 + 2) * 2).to_string()])
        .args(["-d", &args.hold_ms.to_string()])
        .args(["-i", "127.0.0.1", "-key", "dial_host", &target.to_string()])
        .args([
            "-timeout",
            &format!("{}s", args.calls / rate.max(1) + 60),
            "-timeout_error",
        ])
        .args(["-max_recv_loops", "10000", "-max_sched_loops", "10000"])
        .args(["-trace_stat", "-stf"])
        .arg(&stat)
        .args([
            "-fd",
            "1",
            "-trace_rtt",
            "-rtt_freq",
            "1",
            "-nostdin",
            "-trace_err",
        ])
        .output()
        .context("cannot run sipp (Debian package sip-tester)")?;
    let elapsed = started.elapsed().as_secs_f64();
    let stat_text = std::fs::read_to_string(&stat).unwrap_or_default();
    let completed = stat_column(&stat_text, "SuccessfulCall(C)");
    let failed = stat_column(&stat_text, "FailedCall(C)");
    let (Some(completed), Some(failed)) = (completed, failed) else {
        bail!(
            "sipp ({}) left no statistics; stderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let retransmissions = stat_column(&stat_text, "Retransmissions(C)");
    let mut rtts = Vec::new();
    for entry in std::fs::read_dir(dir.path())?.flatten() {
        if entry.file_name().to_string_lossy().ends_with("_rtt.csv") {
            rtts.extend(rtt_values(&std::fs::read_to_string(entry.path())?));
        }
    }
    // Calls still being torn down are not leaks: wait (bounded) for the gauge to settle.
    let deadline = Instant::now() + Duration::from_secs(15);
    let calls_active = || -> Option<f64> {
        gateways
            .iter()
            .map(|gw| gw.calls_active().ok())
            .sum::<Option<f64>>()
    };
    let mut active = calls_active();
    while active.is_some_and(|a| a > 0.0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        active = calls_active();
    }
    let achieved_cps = completed as f64 / (elapsed - f64::from(args.hold_ms) / 1000.0).max(0.001);
    let clean = failed == 0 && completed == u64::from(args.calls);
    Ok(RateResult {
        rate,
        completed,
        failed,
        setup_p50_ms: stats::percentile(&rtts, 50.0),
        setup_p99_ms: stats::percentile(&rtts, 99.0),
        achieved_cps,
        calls_active_after: active,
        clean,
        held: clean && achieved_cps >= HELD_SHARE * f64::from(rate),
        retransmissions,
    })
}

/// The scenario `args` names (or the default), which must exist.
pub fn scenario(args: &CallRateArgs) -> Result<PathBuf> {
    let scenario = args
        .scenario
        .clone()
        .unwrap_or_else(|| default_scenario(args.video));
    if !scenario.exists() {
        bail!("no SIPp scenario at {}", scenario.display());
    }
    Ok(scenario)
}

/// Gives every gateway the load-test tenant and `meetings` meetings, and writes SIPp's
/// `-inf` file of their dial strings into `dir`.
pub fn prepare_meetings(gateways: &[&Gateway], meetings: usize, dir: &Path) -> Result<PathBuf> {
    let inf = dir.join("dial.csv");
    let mut csv = String::from("SEQUENTIAL\n");
    for gw in gateways {
        gw.ensure_tenant(1_000_000)?;
    }
    for m in 0..meetings.max(1) {
        let conference = gateway::conference(m);
        for gw in gateways {
            gw.ensure_meeting(&conference)?;
        }
        csv.push_str(&gateway::dial(&conference));
        csv.push('\n');
    }
    std::fs::write(&inf, csv)?;
    Ok(inf)
}

/// The table row headings of [`result_row`], after `leading` columns of the caller's.
pub fn result_headings(leading: &[&str]) -> Vec<String> {
    let mut row: Vec<String> = leading.iter().map(|s| (*s).to_owned()).collect();
    row.extend(
        [
            "rate cps",
            "completed",
            "failed",
            "achieved cps",
            "setup p50 ms",
            "setup p99 ms",
            "active after",
            "retrans",
            "clean",
            "held",
        ]
        .map(str::to_owned),
    );
    row
}

/// One result as a table row, after `leading` cells of the caller's.
pub fn result_row(leading: &[String], r: &RateResult) -> Vec<String> {
    let f = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.1}"));
    let mut row = leading.to_vec();
    row.extend([
        r.rate.to_string(),
        r.completed.to_string(),
        r.failed.to_string(),
        format!("{:.1}", r.achieved_cps),
        f(r.setup_p50_ms),
        f(r.setup_p99_ms),
        f(r.calls_active_after),
        r.retransmissions
            .map_or("n/a".to_owned(), |n| n.to_string()),
        if r.clean { "yes" } else { "no" }.into(),
        if r.held { "yes" } else { "no" }.into(),
    ]);
    row
}

/// `call-rate`.
pub fn run(args: &CallRateArgs) -> Result<()> {
    let scenario = scenario(args)?;
    let gw = args.common.gateway()?;
    let dir = tempfile::tempdir()?;
    let inf = prepare_meetings(&[&gw], args.meetings, dir.path())?;
    let mut results = Vec::new();
    for &rate in &args.rate {
        tracing::info!(rate, calls = args.calls, "sipp run");
        let r = run_rate(gw.sip, &[&gw], args, &scenario, &inf, rate.max(1))?;
        results.push(r);
    }
    let mut rows = vec![result_headings(&[])];
    rows.extend(results.iter().map(|r| result_row(&[], r)));
    println!("{}", report::table(&rows));
    let best = results.iter().filter(|r| r.clean).map(|r| r.rate).max();
    let held = results.iter().filter(|r| r.held).map(|r| r.rate).max();
    if let Some(path) = &args.common.json {
        report::write_json(
            path,
            &serde_json::json!({
                "results": results,
                "highest_clean_rate": best,
                "highest_held_rate": held,
            }),
        )?;
    }
    let held = held.map_or("none".to_owned(), |r| format!("{r} cps"));
    match best {
        Some(rate) => println!(
            "call-rate: highest clean rate {rate} cps ({} calls each), highest held rate {held}",
            args.calls
        ),
        None => println!("call-rate: no clean rate"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_csv_last_row_is_read_by_column_name() {
        let csv = "StartTime;LastResetTime;SuccessfulCall(P);SuccessfulCall(C);FailedCall(P);FailedCall(C);\n\
                   a;b;10;10;0;0;\n\
                   a;b;5;15;1;1;\n";
        assert_eq!(stat_column(csv, "SuccessfulCall(C)"), Some(15));
        assert_eq!(stat_column(csv, "FailedCall(C)"), Some(1));
        assert_eq!(stat_column(csv, "Nope"), None);
        assert_eq!(stat_column("", "FailedCall(C)"), None);
    }

    #[test]
    fn rtt_rows_give_milliseconds() {
        // As SIPp 3.6.1 writes it (`-trace_rtt -rtt_freq 1`).
        let csv = "Date_ms;response_time_ms;rtd_no\n52.001;0;1\n108.001;4;1\n";
        assert_eq!(rtt_values(csv), vec![0.0, 4.0]);
    }
}
