//! `soak`: hours of mixed load with joins and leaves; samples the gateway's resident memory and
//! `tessera_calls_active`, and after everything hung up checks that no call leaked and memory
//! stayed flat.
//!
//! Owns the churn schedule and the memory verdict.

#![allow(clippy::disallowed_methods)] // Runs on real time.

use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand::Rng;
use serde::Serialize;

use crate::fleet::{start_meeting, FleetMeeting, Media};
use crate::gateway;
use crate::report::{self, Sample};
use crate::vtc::{now_secs, Receives, SendLog, Vtc, VtcSpec};
use crate::{procfs, stats, Common};

/// `soak` options.
#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// Seconds of load.
    #[arg(long, default_value_t = 1800)]
    pub duration: u64,
    /// Meetings.
    #[arg(long, default_value_t = 2)]
    pub meetings: usize,
    /// VTCs kept in each meeting (one leaves and a new one joins every --churn-secs).
    #[arg(long, default_value_t = 2)]
    pub vtcs_per_meeting: usize,
    /// Synthetic native participants per meeting.
    #[arg(long, default_value_t = 4)]
    pub native_per_meeting: u32,
    /// Seconds between a leave and a join.
    #[arg(long, default_value_t = 10)]
    pub churn_secs: u64,
    /// Seconds between memory samples.
    #[arg(long, default_value_t = 10)]
    pub sample_secs: u64,
    /// Memory growth (MiB) between the end of the warm-up and the end tolerated as flat.
    #[arg(long, default_value_t = 20.0)]
    pub max_growth_mib: f64,
    #[command(flatten)]
    pub common: Common,
}

/// One memory sample.
#[derive(Debug, Clone, Serialize)]
struct MemorySample {
    t: f64,
    rss_mib: Option<f64>,
    calls_active: Option<f64>,
    /// Calls the fleet had up at that moment (the gauge should match it).
    fleet_calls: usize,
}

/// The soak report.
#[derive(Debug, Serialize)]
struct SoakReport {
    duration_s: f64,
    joins: u64,
    leaves: u64,
    failed_calls: u64,
    bye_without_200: u64,
    rss_start_mib: Option<f64>,
    rss_end_mib: Option<f64>,
    rss_after_hangup_mib: Option<f64>,
    rss_slope_mib_per_hour: Option<f64>,
    /// Mean RSS over the steady-state samples (after the warm-up).
    rss_steady_mean_mib: Option<f64>,
    /// Mean ports (the fleet's calls) over the same samples.
    ports_steady_mean: Option<f64>,
    /// Steady RSS over steady ports.
    rss_per_port_mib: Option<f64>,
    /// (Steady RSS - RSS after hang-up) over steady ports: what a port adds, without the
    /// process and the meetings' synthetic participants, which stay after hang-up.
    rss_per_port_above_idle_mib: Option<f64>,
    calls_active_during_max: Option<f64>,
    /// Largest excess of `tessera_calls_active` over the fleet's own live calls in a sample.
    calls_active_excess_max: Option<f64>,
    calls_active_after_hangup: Option<f64>,
    memory_flat: Option<bool>,
    leaked_calls: bool,
    samples: Vec<MemorySample>,
    timeline: Vec<Sample>,
}

/// The meeting whose VTC leaves next: a random one among those with calls.
fn pick_leave(counts: &[usize], rng: &mut impl Rng) -> Option<usize> {
    let busy: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
    (!busy.is_empty()).then(|| busy[rng.random_range(0..busy.len())])
}

/// The meeting the next VTC joins: the one with the fewest calls (the one just left, or one
/// whose earlier join failed).
fn pick_join(counts: &[usize]) -> usize {
    (0..counts.len()).min_by_key(|&i| counts[i]).unwrap_or(0)
}

/// RSS per port at steady state: mean RSS over mean ports, and the same above the RSS left
/// after every call hung up. `None` without ports or RSS.
fn per_port(
    steady_rss_mean: Option<f64>,
    ports_mean: Option<f64>,
    rss_after: Option<f64>,
) -> (Option<f64>, Option<f64>) {
    let Some((rss, ports)) = steady_rss_mean.zip(ports_mean.filter(|&p| p > 0.0)) else {
        return (None, None);
    };
    (
        Some(rss / ports),
        rss_after.map(|idle| (rss - idle) / ports),
    )
}

fn rss_mib(pid: Option<u32>) -> Option<f64> {
    pid.and_then(|p| procfs::rss_kib(p).ok())
        .map(|k| k as f64 / 1024.0)
}

/// `soak`.
pub fn run(args: &SoakArgs) -> Result<()> {
    let media = Media::encode(60, &args.common)?;
    let gw = args.common.gateway()?;
    gw.ensure_tenant(
        u32::try_from(args.meetings * args.vtcs_per_meeting * 2 + 50).unwrap_or(u32::MAX),
    )?;
    let start = now_secs();
    let mut meetings: Vec<FleetMeeting> = Vec::new();
    for m in 0..args.meetings {
        meetings.push(start_meeting(
            &gw,
            &media,
            m,
            (args.vtcs_per_meeting, args.native_per_meeting),
            false,
            args.common.fleet(),
        )?);
    }
    let ticks = procfs::ticks_per_second() as f64;
    let mut last_cpu = gw
        .pid
        .and_then(|p| procfs::cpu(p).ok())
        .map(|c| (now_secs(), c.total()));
    let (mut joins, mut leaves, mut failed, mut bye_failed) = (
        (args.meetings * args.vtcs_per_meeting) as u64,
        0u64,
        0u64,
        0u64,
    );
    let mut samples = Vec::new();
    let mut timeline = Vec::new();
    let mut rng = rand::rng();
    let mut serial = 0usize;
    let bar = ProgressBar::new(args.duration);
    bar.set_style(
        ProgressStyle::with_template("soak [{bar:40}] {pos}/{len}s {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let t0 = Instant::now();
    let mut next_churn = Duration::from_secs(args.churn_secs);
    let mut next_sample = Duration::ZERO;
    while t0.elapsed() < Duration::from_secs(args.duration) {
        let elapsed = t0.elapsed();
        if elapsed >= next_sample {
            next_sample += Duration::from_secs(args.sample_secs);
            let now = now_secs();
            let rss = rss_mib(gw.pid);
            let active = gw.calls_active().ok();
            let fleet_calls = meetings.iter().map(|m| m.vtcs.len()).sum();
            samples.push(MemorySample {
                t: now - start,
                rss_mib: rss,
                calls_active: active,
                fleet_calls,
            });
            let cpu = gw
                .pid
                .and_then(|p| procfs::cpu(p).ok())
                .map(|c| (now, c.total()));
            let cores = match (last_cpu, cpu) {
                (Some((ta, a)), Some((tb, b))) => (b - a) as f64 / ticks / (tb - ta).max(1e-3),
                _ => 0.0,
            };
            last_cpu = cpu;
            let fps: Vec<f64> = meetings
                .iter()
                .flat_map(|m| &m.vtcs)
                .map(|v| v.stats().frames_between(now - 1.0, now) as f64)
                .collect();
            timeline.push(Sample {
                t: now - start,
                fps: stats::mean(&fps).unwrap_or(0.0),
                cpu_cores: cores,
                fleet_cpu_cores: None,
            });
            bar.set_message(format!(
                "RSS {} MiB, {} calls active, {joins} joins, {failed} failed",
                rss.map_or("?".into(), |r| format!("{r:.1}")),
                active.map_or("?".into(), |a| format!("{a:.0}"))
            ));
        }
        if elapsed >= next_churn {
            next_churn += Duration::from_secs(args.churn_secs);
            // One VTC of a random meeting leaves and a new one joins the emptiest, so every
            // meeting keeps --vtcs-per-meeting calls. (Picking the two meetings independently
            // let the fleet drift: a leave drawn from an emptied meeting was skipped while its
            // join still happened, and the fleet grew from 4 calls to 14 over 30 minutes.)
            let counts: Vec<usize> = meetings.iter().map(|m| m.vtcs.len()).collect();
            if let Some(m) = pick_leave(&counts, &mut rng) {
                let i = rng.random_range(0..meetings[m].vtcs.len());
                let vtc = meetings[m].vtcs.swap_remove(i);
                leaves += 1;
                if vtc.hang_up().0 != Some(200) {
                    bye_failed += 1;
                }
            }
            let counts: Vec<usize> = meetings.iter().map(|m| m.vtcs.len()).collect();
            let m = pick_join(&counts);
            serial += 1;
            let spec = VtcSpec {
                gateway: gw.sip,
                dial: gateway::dial(&meetings[m].conference),
                name: format!("soak-{serial}"),
                clip: media.plain(),
                audio: media.audio(),
                probe: false,
                peer: None,
                log: std::sync::Arc::new(SendLog::default()),
                link: args.common.link(),
                receives: Receives::Hd720,
                sends_video: true,
            };
            match Vtc::call(spec) {
                Ok(v) => {
                    joins += 1;
                    meetings[m].vtcs.push(v);
                }
                Err(e) => {
                    failed += 1;
                    tracing::warn!(error = %e, "soak: a join failed");
                }
            }
        }
        bar.set_position(t0.elapsed().as_secs());
        std::thread::sleep(Duration::from_millis(200));
    }
    bar.finish_and_clear();
    let duration_s = t0.elapsed().as_secs_f64();
    let rss_end = rss_mib(gw.pid);
    for m in meetings {
        for vtc in m.vtcs {
            leaves += 1;
            if vtc.hang_up().0 != Some(200) {
                bye_failed += 1;
            }
        }
    }
    // Give the gateway a moment to tear media down, then read what is left.
    std::thread::sleep(Duration::from_secs(5));
    let after = gw.calls_active().ok();
    let rss_after = rss_mib(gw.pid);
    // Start: the first sample after a warm-up of a tenth of the run (at most a minute).
    let warm = (duration_s / 10.0).min(60.0);
    let steady_samples: Vec<&MemorySample> = samples
        .iter()
        .filter(|s| s.t - samples[0].t >= warm && s.rss_mib.is_some())
        .collect();
    let steady: Vec<(f64, f64)> = steady_samples
        .iter()
        .filter_map(|s| s.rss_mib.map(|r| (s.t, r)))
        .collect();
    let rss_steady_mean = stats::mean(&steady.iter().map(|s| s.1).collect::<Vec<_>>());
    let ports_steady_mean = stats::mean(
        &steady_samples
            .iter()
            .map(|s| s.fleet_calls as f64)
            .collect::<Vec<_>>(),
    );
    let (rss_per_port, rss_per_port_above_idle) =
        per_port(rss_steady_mean, ports_steady_mean, rss_after);
    let rss_start = steady.first().map(|s| s.1);
    let slope = stats::slope(&steady).map(|s| s * 3600.0);
    let memory_flat = match (rss_start, rss_end) {
        (Some(a), Some(b)) => Some(b - a <= args.max_growth_mib),
        _ => None,
    };
    let report = SoakReport {
        duration_s,
        joins,
        leaves,
        failed_calls: failed,
        bye_without_200: bye_failed,
        rss_start_mib: rss_start,
        rss_end_mib: rss_end,
        rss_after_hangup_mib: rss_after,
        rss_slope_mib_per_hour: slope,
        rss_steady_mean_mib: rss_steady_mean,
        ports_steady_mean,
        rss_per_port_mib: rss_per_port,
        rss_per_port_above_idle_mib: rss_per_port_above_idle,
        calls_active_during_max: samples
            .iter()
            .filter_map(|s| s.calls_active)
            .reduce(f64::max),
        calls_active_excess_max: samples
            .iter()
            .filter_map(|s| s.calls_active.map(|a| a - s.fleet_calls as f64))
            .reduce(f64::max),
        calls_active_after_hangup: after,
        memory_flat,
        leaked_calls: after.is_none_or(|a| a != 0.0),
        samples,
        timeline,
    };
    let f = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.1}"));
    println!(
        "{}",
        report::pairs(&[
            ("duration", format!("{:.0} s", report.duration_s)),
            (
                "joins / leaves",
                format!("{} / {}", report.joins, report.leaves)
            ),
            ("failed joins", report.failed_calls.to_string()),
            ("BYEs without 200", report.bye_without_200.to_string()),
            (
                "RSS start / end / after hang-up (MiB)",
                format!("{} / {} / {}", f(rss_start), f(rss_end), f(rss_after))
            ),
            ("RSS slope (MiB/h)", f(slope)),
            (
                "RSS steady mean (MiB) / ports",
                format!("{} / {}", f(rss_steady_mean), f(ports_steady_mean))
            ),
            (
                "RSS per port (MiB; above after-hang-up)",
                format!("{} ({})", f(rss_per_port), f(rss_per_port_above_idle))
            ),
            (
                "calls active (max during)",
                f(report.calls_active_during_max)
            ),
            (
                "calls active above the fleet's (max)",
                f(report.calls_active_excess_max),
            ),
            ("calls active after hang-up", f(after)),
        ])
    );
    if let Some(path) = &args.common.json {
        report::write_json(path, &report)?;
    }
    if let Some(path) = &args.common.plot {
        std::fs::write(path, report::svg_chart("soak", &report.timeline))?;
    }
    println!(
        "soak: RSS {} -> {} MiB ({}), {} calls active after hang-up, {} failed joins, \
         {} MiB per port ({} above after-hang-up)",
        f(rss_start),
        f(rss_end),
        match memory_flat {
            Some(true) => "flat",
            Some(false) => "GROWING",
            None => "unknown",
        },
        f(after),
        failed,
        f(rss_per_port),
        f(rss_per_port_above_idle),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn churn_keeps_every_meeting_at_its_size() {
        let mut rng = rand::rng();
        let mut counts = vec![2usize, 2];
        for _ in 0..1000 {
            let m = pick_leave(&counts, &mut rng).expect("a meeting with calls");
            counts[m] -= 1;
            let j = pick_join(&counts);
            counts[j] += 1;
            assert_eq!(counts, vec![2, 2]);
        }
    }

    #[test]
    fn a_failed_join_is_made_up_by_the_next_one() {
        let mut rng = rand::rng();
        // Meeting 1 lost a call whose replacement failed to join.
        let mut counts = vec![2usize, 1];
        let m = pick_leave(&counts, &mut rng).expect("a meeting with calls");
        counts[m] -= 1;
        let j = pick_join(&counts);
        counts[j] += 1;
        assert_eq!(counts.iter().sum::<usize>(), 3);
        // A further join (no leave) goes where a call is missing.
        let j = pick_join(&counts);
        counts[j] += 1;
        assert_eq!(counts, vec![2, 2]);
        assert_eq!(pick_leave(&[0, 0], &mut rng), None);
    }

    #[test]
    fn rss_per_port_divides_steady_memory_by_steady_ports() {
        assert_eq!(
            per_port(Some(300.0), Some(4.0), Some(200.0)),
            (Some(75.0), Some(25.0))
        );
        assert_eq!(per_port(Some(300.0), Some(4.0), None), (Some(75.0), None));
        assert_eq!(per_port(Some(300.0), Some(0.0), Some(1.0)), (None, None));
        assert_eq!(per_port(None, Some(4.0), Some(1.0)), (None, None));
    }
}
