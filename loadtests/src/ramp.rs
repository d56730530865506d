//! `ramp`: adds load step by step until the gateway degrades, and reports the knee: the last
//! step at which 95% of the ports got full frame rate and the probes' p99 latency stayed under
//! `--max-p99-ms`, with its ports per gateway core, glass-to-glass p50/p99 and the fleet's own
//! CPU apart from the gateway's.
//!
//! A step adds meetings of the same shape (`--grow meetings`: `1x2x7` grows 1x2x7, 2x2x7,
//! 3x2x7, ...), or VTCs to one meeting (`--grow vtcs`: `1x12x9` grows 1x1x9, 1x2x9, ... up to
//! 1x12x9, since a meeting that already degrades at its full size shows no knee when meetings
//! are added).
//!
//! Owns the step schedule and the knee; the fleet, its figures and the CPU meters are
//! [`crate::fleet`]'s.

#![allow(clippy::disallowed_methods)] // Runs on real time.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::clip::FPS;
use crate::fleet::{
    add_vtc, fmt_opt, open_meeting, port_report, start_meeting, watch, FleetMeeting, Media, Meters,
    FULL_RATE_SHARE,
};
use crate::report;
use crate::vtc::now_secs;
use crate::{stats, Common};

/// What a step adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grow {
    /// `--meetings-per-step` more meetings of `--vtcs-per-meeting` VTCs each.
    Meetings,
    /// `--vtcs-per-step` more VTCs in the one meeting, up to `--vtcs-per-meeting`.
    Vtcs,
}

/// `ramp` options.
#[derive(Debug, Clone, Args)]
pub struct RampArgs {
    /// What each step adds: meetings of the same shape, or VTCs to one meeting.
    #[arg(long, value_enum, default_value_t = Grow::Meetings)]
    pub grow: Grow,
    /// VTCs in each meeting (`--grow meetings`), or the most the one meeting grows to
    /// (`--grow vtcs`).
    #[arg(long, default_value_t = 2)]
    pub vtcs_per_meeting: usize,
    /// Synthetic native participants per meeting.
    #[arg(long, default_value_t = 7)]
    pub native_per_meeting: u32,
    /// Meetings each step adds (`--grow meetings`).
    #[arg(long, default_value_t = 1)]
    pub meetings_per_step: usize,
    /// VTCs each step adds (`--grow vtcs`).
    #[arg(long, default_value_t = 1)]
    pub vtcs_per_step: usize,
    /// Seconds measured per step.
    #[arg(long, default_value_t = 10)]
    pub step_secs: u64,
    /// Seconds between a step's last answer and its measurement.
    #[arg(long, default_value_t = 3)]
    pub settle_secs: u64,
    /// Most steps.
    #[arg(long, default_value_t = 12)]
    pub max_steps: usize,
    /// Degraded when p99 latency exceeds this (ms).
    #[arg(long, default_value_t = 400.0)]
    pub max_p99_ms: f64,
    /// Meetings whose VTC 0 decodes every picture to measure latency (each costs the fleet a
    /// 720p decode at 30 fps; needs 2+ VTCs in the meeting).
    #[arg(long, default_value_t = 2)]
    pub probes: usize,
    #[command(flatten)]
    pub common: Common,
}

/// One ramp step.
#[derive(Debug, Clone, Serialize)]
pub struct RampStep {
    /// Meetings so far.
    pub meetings: usize,
    /// Ports (fleet VTCs) so far.
    pub ports: usize,
    /// Ports that got full frame rate in the window.
    pub ports_full_rate: usize,
    /// Mean frames per second received per port.
    pub mean_fps: f64,
    /// Share of ports at full frame rate.
    pub full_share: f64,
    /// The gateway's CPU, cores.
    pub cpu_cores: Option<f64>,
    /// Ports at full rate per gateway core.
    pub ports_per_gateway_core: Option<f64>,
    /// The fleet's own CPU (this process and its children), cores.
    pub fleet_cpu_cores: Option<f64>,
    /// Glass-to-glass latency p50 (ms).
    pub latency_p50_ms: Option<f64>,
    /// Glass-to-glass latency p99 (ms).
    pub latency_p99_ms: Option<f64>,
    /// Latency samples.
    pub latency_samples: usize,
    /// Ports whose last decoded picture had the size their offer asked for.
    pub pictures_as_offered: usize,
    /// Ports by the size of their last decoded picture (`1920x1080`: 8, ...; `none` before
    /// any).
    pub picture_sizes: BTreeMap<String, usize>,
    /// Below 95% at full rate, or p99 above `--max-p99-ms`.
    pub degraded: bool,
}

/// What one port showed in a step's window.
#[derive(Debug, Clone, Copy)]
pub struct PortWindow {
    /// Frames per second received.
    pub fps: f64,
    /// The size of its last decoded picture.
    pub picture: Option<(u32, u32)>,
    /// Whether its picture had the size it offered to receive.
    pub picture_as_offered: bool,
}

impl RampStep {
    /// The step's figures from its ports, the probes' latencies and the CPU over the window.
    pub fn measure(
        meetings: usize,
        ports: &[PortWindow],
        latencies: &[f64],
        (cpu_cores, fleet_cpu_cores): (Option<f64>, Option<f64>),
        max_p99_ms: f64,
    ) -> RampStep {
        let full = ports
            .iter()
            .filter(|p| p.fps >= FULL_RATE_SHARE * f64::from(FPS))
            .count();
        let full_share = full as f64 / ports.len().max(1) as f64;
        let p99 = stats::percentile(latencies, 99.0);
        let mut picture_sizes = BTreeMap::new();
        for p in ports {
            let size = p
                .picture
                .map_or("none".to_owned(), |(w, h)| format!("{w}x{h}"));
            *picture_sizes.entry(size).or_default() += 1;
        }
        RampStep {
            meetings,
            ports: ports.len(),
            ports_full_rate: full,
            mean_fps: stats::mean(&ports.iter().map(|p| p.fps).collect::<Vec<_>>()).unwrap_or(0.0),
            full_share,
            cpu_cores,
            ports_per_gateway_core: cpu_cores.map(|c| full as f64 / c.max(1e-3)),
            fleet_cpu_cores,
            latency_p50_ms: stats::percentile(latencies, 50.0),
            latency_p99_ms: p99,
            latency_samples: latencies.len(),
            pictures_as_offered: ports.iter().filter(|p| p.picture_as_offered).count(),
            picture_sizes,
            degraded: full_share < 0.95 || p99.is_some_and(|p| p > max_p99_ms),
        }
    }

    /// `N ports (C gateway cores, P ports/core, fleet F cores, p50/p99 A/B ms, X fps)`.
    fn figures(&self) -> String {
        format!(
            "{} ports ({} gateway cores, {} ports/core, fleet {} cores, p50/p99 {}/{} ms, {:.1} fps)",
            self.ports,
            fmt_opt(self.cpu_cores, 2),
            fmt_opt(self.ports_per_gateway_core, 1),
            fmt_opt(self.fleet_cpu_cores, 2),
            fmt_opt(self.latency_p50_ms, 0),
            fmt_opt(self.latency_p99_ms, 0),
            self.mean_fps,
        )
    }
}

/// The summary line: the knee is the last step before the first degraded one (or before a call
/// that failed, `stopped`).
pub fn summary(steps: &[RampStep], stopped: bool) -> String {
    let knee = stopped || steps.iter().any(|s| s.degraded);
    let last_good = steps.iter().take_while(|s| !s.degraded).last();
    match (knee, last_good, steps.first(), steps.last()) {
        (true, Some(g), _, _) => format!("ramp: knee after {}", g.figures()),
        (true, None, Some(first), _) => {
            format!("ramp: degraded at the first step, {}", first.figures())
        }
        (true, None, None, _) => "ramp: degraded at the first step (its calls failed)".to_owned(),
        (false, _, _, Some(last)) => {
            format!(
                "ramp: no knee within {} steps, {}",
                steps.len(),
                last.figures()
            )
        }
        (false, _, _, None) => "ramp: no step run".to_owned(),
    }
}

/// The steps as a table.
fn table(steps: &[RampStep]) -> String {
    let mut rows = vec![[
        "meetings",
        "ports",
        "mean fps",
        "full rate",
        "gateway cores",
        "ports/core",
        "fleet cores",
        "p50 ms",
        "p99 ms",
        "size ok",
        "degraded",
    ]
    .map(str::to_owned)
    .to_vec()];
    for s in steps {
        rows.push(vec![
            s.meetings.to_string(),
            s.ports.to_string(),
            format!("{:.1}", s.mean_fps),
            format!("{:.0}%", s.full_share * 100.0),
            fmt_opt(s.cpu_cores, 2),
            fmt_opt(s.ports_per_gateway_core, 1),
            fmt_opt(s.fleet_cpu_cores, 2),
            fmt_opt(s.latency_p50_ms, 0),
            fmt_opt(s.latency_p99_ms, 0),
            format!("{}/{}", s.pictures_as_offered, s.ports),
            if s.degraded { "yes" } else { "no" }.into(),
        ]);
    }
    report::table(&rows)
}

/// Adds step `step`'s calls (meetings, or VTCs to meeting 0).
fn grow(
    args: &RampArgs,
    gw: &crate::gateway::Gateway,
    media: &Media,
    meetings: &mut Vec<FleetMeeting>,
    step: usize,
) -> Result<()> {
    let shape = (args.vtcs_per_meeting, args.native_per_meeting);
    let options = args.common.fleet();
    match args.grow {
        Grow::Meetings => {
            for _ in 0..args.meetings_per_step {
                let index = meetings.len();
                let probe = index < args.probes;
                meetings.push(start_meeting(gw, media, index, shape, probe, options)?);
            }
        }
        Grow::Vtcs => {
            if step == 0 {
                let probe = args.probes > 0 && args.vtcs_per_meeting >= 2;
                meetings.push(open_meeting(gw, 0, shape, probe, options)?);
            }
            let meeting = &mut meetings[0];
            for _ in 0..args.vtcs_per_step {
                if meeting.vtcs.len() < args.vtcs_per_meeting {
                    add_vtc(gw, media, meeting, options.link)?;
                }
            }
        }
    }
    Ok(())
}

/// Steps the ramp may take: `--max-steps`, and for `--grow vtcs` no more than it takes to reach
/// `--vtcs-per-meeting`.
fn step_count(args: &RampArgs) -> usize {
    match args.grow {
        Grow::Meetings => args.max_steps,
        Grow::Vtcs => args
            .max_steps
            .min(args.vtcs_per_meeting.div_ceil(args.vtcs_per_step.max(1))),
    }
}

/// `ramp`.
pub fn run(args: &RampArgs) -> Result<()> {
    if args.vtcs_per_meeting == 0 || args.meetings_per_step == 0 || args.vtcs_per_step == 0 {
        bail!("every step adds at least one VTC");
    }
    let media = Media::encode(90, &args.common)?;
    let gw = args.common.gateway()?;
    let most_ports = match args.grow {
        Grow::Meetings => args.max_steps * args.meetings_per_step * args.vtcs_per_meeting,
        Grow::Vtcs => args.vtcs_per_meeting,
    };
    gw.ensure_tenant(u32::try_from(most_ports + 50).unwrap_or(u32::MAX))?;
    let start = now_secs();
    let mut cpu = Meters::new(&gw);
    let mut meetings: Vec<FleetMeeting> = Vec::new();
    let mut steps = Vec::new();
    let mut timeline = Vec::new();
    let mut stopped = false;
    for step in 0..step_count(args) {
        if let Err(e) = grow(args, &gw, &media, &mut meetings, step) {
            tracing::warn!(error = %e, "ramp: a call failed; stopping");
            stopped = true;
            break;
        }
        timeline.extend(watch(
            &meetings,
            &mut cpu,
            args.settle_secs,
            "settle",
            start,
        ));
        let from = now_secs();
        cpu.restart();
        let samples = watch(
            &meetings,
            &mut cpu,
            args.step_secs,
            &format!("step {}", step + 1),
            start,
        );
        let to = now_secs();
        let mean = |f: fn(&report::Sample) -> Option<f64>| {
            stats::mean(&samples.iter().filter_map(f).collect::<Vec<_>>())
        };
        let cores = (mean(|s| Some(s.cpu_cores)), mean(|s| s.fleet_cpu_cores));
        timeline.extend(samples);
        let mut ports = Vec::new();
        let mut latencies = Vec::new();
        for vtc in meetings.iter().flat_map(|m| &m.vtcs) {
            let (r, l) = port_report(vtc, from, to);
            ports.push(PortWindow {
                fps: r.fps,
                picture: r.picture,
                picture_as_offered: r.picture == Some(r.offered_picture),
            });
            latencies.extend(l);
        }
        for m in &meetings {
            latencies.extend(m.watcher_latencies(from, to));
        }
        let measured =
            RampStep::measure(meetings.len(), &ports, &latencies, cores, args.max_p99_ms);
        let degraded = measured.degraded;
        steps.push(measured);
        if degraded {
            break;
        }
    }
    for m in meetings {
        m.hang_up();
    }
    println!("{}", table(&steps));
    let line = summary(&steps, stopped);
    if let Some(path) = &args.common.json {
        report::write_json(
            path,
            &serde_json::json!({
                "grow": args.grow,
                "vtcs_per_meeting": args.vtcs_per_meeting,
                "native_per_meeting": args.native_per_meeting,
                "vtcs_1080p": args.common.vtcs_1080p,
                "steps": steps,
                "timeline": timeline,
                "summary": line,
            }),
        )?;
    }
    if let Some(path) = &args.common.plot {
        std::fs::write(path, report::svg_chart("ramp", &timeline))?;
    }
    println!("{line}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        ramp: RampArgs,
    }

    fn args(line: &[&str]) -> RampArgs {
        Cli::try_parse_from(std::iter::once("ramp").chain(line.iter().copied()))
            .unwrap()
            .ramp
    }

    #[test]
    fn growing_vtcs_stops_at_the_meeting_size_and_growing_meetings_at_max_steps() {
        let one_meeting = args(&["--grow", "vtcs", "--vtcs-per-meeting", "20"]);
        assert_eq!(
            (one_meeting.grow, step_count(&one_meeting)),
            (Grow::Vtcs, 12)
        );
        let long = args(&[
            "--grow",
            "vtcs",
            "--vtcs-per-meeting",
            "20",
            "--max-steps",
            "30",
        ]);
        assert_eq!(step_count(&long), 20);
        let by_three = args(&["--grow=vtcs", "--vtcs-per-meeting=20", "--vtcs-per-step=3"]);
        assert_eq!(step_count(&by_three), 7);
        let meetings = args(&["--meetings-per-step", "2", "--max-steps", "8"]);
        assert_eq!((meetings.grow, step_count(&meetings)), (Grow::Meetings, 8));
        assert_eq!(meetings.common.fleet().vtcs_1080p, 0);
        let mix = args(&["--vtcs-1080p", "1", "--latency-watcher"]);
        let fleet = mix.common.fleet();
        assert_eq!((fleet.vtcs_1080p, fleet.latency_watcher), (1, true));
    }

    fn port(fps: f64) -> PortWindow {
        PortWindow {
            fps,
            picture: Some((1280, 720)),
            picture_as_offered: true,
        }
    }

    #[test]
    fn a_step_counts_full_rate_ports_per_gateway_core_and_both_latency_percentiles() {
        let latencies: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = RampStep::measure(
            2,
            &[port(30.0), port(29.0), port(20.0), port(28.0)],
            &latencies,
            (Some(1.5), Some(0.25)),
            400.0,
        );
        assert_eq!((s.ports, s.ports_full_rate), (4, 3));
        assert_eq!(s.picture_sizes.get("1280x720"), Some(&4));
        assert!((s.ports_per_gateway_core.unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(
            (s.latency_p50_ms, s.latency_p99_ms),
            (Some(50.0), Some(99.0))
        );
        assert!(s.degraded, "3 of 4 at full rate is below 95%");
        let fine = RampStep::measure(1, &[port(30.0)], &[], (None, None), 400.0);
        assert!(!fine.degraded);
        assert_eq!(fine.ports_per_gateway_core, None);
        let slow = RampStep::measure(1, &[port(30.0)], &[500.0], (Some(1.0), None), 400.0);
        assert!(slow.degraded, "p99 above the limit");
    }

    #[test]
    fn the_summary_names_the_last_good_step_with_its_figures() {
        let good = RampStep::measure(
            1,
            &[port(30.0); 9],
            &[45.0, 45.0, 120.0],
            (Some(1.2), Some(0.6)),
            400.0,
        );
        let bad = RampStep::measure(2, &[port(10.0); 18], &[], (Some(1.9), Some(0.9)), 400.0);
        assert_eq!(
            summary(&[good.clone(), bad.clone()], false),
            "ramp: knee after 9 ports (1.20 gateway cores, 7.5 ports/core, fleet 0.60 cores, \
             p50/p99 45/120 ms, 30.0 fps)"
        );
        assert!(summary(std::slice::from_ref(&bad), false)
            .starts_with("ramp: degraded at the first step, 18 ports ("));
        assert!(summary(std::slice::from_ref(&good), false)
            .starts_with("ramp: no knee within 1 steps, 9 ports ("));
        assert!(summary(std::slice::from_ref(&good), true).starts_with("ramp: knee after 9 ports"));
        assert!(summary(&[], true).starts_with("ramp: degraded at the first step"));
    }
}
