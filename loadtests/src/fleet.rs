//! `throughput`, and what `ramp` ([`crate::ramp`]) builds on: meetings of synthetic native
//! participants on the gateway, K fleet VTCs calling into each, the gateway's and the fleet's own
//! CPU from /proc, and what every VTC received.
//!
//! Owns the run's orchestration and its figures: ports at full frame rate, CPU cores used,
//! frames on time, glass-to-glass latency.

#![allow(clippy::disallowed_methods)] // Runs on real time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::clip::{self, Clip, Ladder, FPS};
use crate::gateway::{self, Gateway};
use crate::report::{self, Sample};
use crate::vtc::{now_secs, Receives, SendLog, Vtc, VtcSpec};
use crate::{baseline, procfs, stats, Baseline, Common};
use sip_testua::link::LinkSpec;

/// A port counts as carried at full frame rate from this share of the nominal 30 fps.
pub const FULL_RATE_SHARE: f64 = 0.9;
/// A frame is late when it arrives this much after a frame interval past the previous one.
const LATE_SLACK: f64 = 0.05;

/// `throughput` options.
#[derive(Debug, Clone, Args)]
pub struct ThroughputArgs {
    /// Meetings.
    #[arg(long, default_value_t = 1)]
    pub meetings: usize,
    /// Fleet VTCs calling into each meeting.
    #[arg(long, default_value_t = 2)]
    pub vtcs_per_meeting: usize,
    /// Synthetic native participants in each meeting.
    #[arg(long, default_value_t = 9)]
    pub native_per_meeting: u32,
    /// Seconds measured (after the warm-up).
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// Seconds between the last call's answer and the start of measurement.
    #[arg(long, default_value_t = 4)]
    pub warmup: u64,
    /// Meetings whose first VTC decodes every picture to measure latency (needs 2+ VTCs).
    #[arg(long, default_value_t = 2)]
    pub probes: usize,
    /// Also run this naive pipeline on the same input and print the ratio.
    #[arg(long, value_enum)]
    pub baseline: Option<Baseline>,
    /// Ports the baseline runs [default: as many as the gateway carried].
    #[arg(long)]
    pub baseline_ports: Option<usize>,
    /// About a minute in all: 1 meeting x 2 VTCs x 7 native, 20 s, a 1-port ffmpeg baseline.
    #[arg(long)]
    pub quick: bool,
    #[command(flatten)]
    pub common: Common,
}

/// A meeting's VTCs and their roles.
pub struct FleetMeeting {
    /// Conference ID.
    pub conference: String,
    /// Its VTCs in call order (the first is the probe when probing).
    pub vtcs: Vec<Vtc>,
    /// Its index in the run (VTC names).
    index: usize,
    /// Whether VTC 0 decodes every picture and reads VTC 1's stamps.
    probe: bool,
    /// Where VTC 1 logs its stamps (what the probe reads them against).
    peer_log: Arc<SendLog>,
    /// VTCs from this index on offer 1080p (`--vtcs-1080p`).
    fhd_from: usize,
    /// A receive-only VTC that reads VTC 0's stamps in a probed meeting of one VTC
    /// (`--latency-watcher`); not a port.
    pub watcher: Option<Vtc>,
    /// Whether VTC 0 logs its stamps for a watcher (set before it calls).
    watched: bool,
}

impl FleetMeeting {
    /// The latencies (ms) its watcher measured in `[from, to)`; the ports' own are in their
    /// [`PortReport`]s.
    pub fn watcher_latencies(&self, from: f64, to: f64) -> Vec<f64> {
        self.watcher
            .as_ref()
            .map(|w| w.stats().latencies_between(from, to))
            .unwrap_or_default()
    }

    /// Hangs every call up, the watcher's too; returns how many of the ports' BYEs got 200.
    pub fn hang_up(self) -> usize {
        if let Some(w) = self.watcher {
            let _ = w.hang_up();
        }
        self.vtcs
            .into_iter()
            .filter_map(|v| v.hang_up().0)
            .filter(|status| *status == 200)
            .count()
    }
}

/// How the fleet's VTCs are set up, from the command line ([`crate::Common::fleet`]).
#[derive(Debug, Clone, Copy)]
pub struct FleetOptions {
    /// Each VTC's line.
    pub link: LinkSpec,
    /// The last this many VTCs of each meeting offer 1080p ([`Receives::Fhd1080`]).
    pub vtcs_1080p: usize,
    /// A probed meeting of one VTC gets a receive-only watcher that reads its stamps.
    pub latency_watcher: bool,
}

/// The media every VTC sends.
pub struct Media {
    stamped: Arc<Ladder>,
    plain: Arc<Ladder>,
    audio: Arc<Vec<Vec<u8>>>,
}

impl Media {
    /// Encodes the clips once (the smaller sizes unless `--vtc-ignore-tmmbr`).
    pub fn encode(frames: usize, common: &crate::Common) -> Result<Media> {
        let started = Instant::now();
        let obeys = !common.vtc_ignore_tmmbr;
        let media = Media {
            stamped: Arc::new(Ladder::encode(frames, true, obeys)?),
            plain: Arc::new(Ladder::encode(frames, false, obeys)?),
            audio: Arc::new(clip::pcmu_second()),
        };
        tracing::info!(frames, elapsed = ?started.elapsed(), "clips encoded");
        Ok(media)
    }

    /// The unstamped clips.
    pub fn plain(&self) -> Arc<Ladder> {
        self.plain.clone()
    }

    /// The audio payloads.
    pub fn audio(&self) -> Arc<Vec<Vec<u8>>> {
        self.audio.clone()
    }

    /// The stamped clip (for the baseline's input file).
    pub fn stamped(&self) -> &Clip {
        &self.stamped.full
    }
}

/// Creates meeting `index` with `native` synthetic participants and calls `k` VTCs into it;
/// `probe` makes VTC 0 decode everything and read VTC 1's stamps.
pub fn start_meeting(
    gw: &Gateway,
    media: &Media,
    index: usize,
    (k, native): (usize, u32),
    probe: bool,
    options: FleetOptions,
) -> Result<FleetMeeting> {
    let mut meeting = open_meeting(gw, index, (k, native), probe && k >= 2, options)?;
    let watch = probe && k == 1 && options.latency_watcher;
    meeting.watched = watch;
    for _ in 0..k {
        add_vtc(gw, media, &mut meeting, options.link)?;
    }
    if watch {
        add_watcher(gw, media, &mut meeting, options.link)?;
    }
    Ok(meeting)
}

/// Creates meeting `index` with `native` synthetic participants, no VTC yet; it will have `k`
/// (the last `options.vtcs_1080p` of them offering 1080p).
pub fn open_meeting(
    gw: &Gateway,
    index: usize,
    (k, native): (usize, u32),
    probe: bool,
    options: FleetOptions,
) -> Result<FleetMeeting> {
    let conference = gateway::conference(index);
    gw.ensure_meeting(&conference)?;
    gw.add_synthetic(&conference, native)?;
    Ok(FleetMeeting {
        conference,
        vtcs: Vec::with_capacity(k),
        index,
        probe,
        peer_log: Arc::new(SendLog::default()),
        fhd_from: k.saturating_sub(options.vtcs_1080p),
        watcher: None,
        watched: false,
    })
}

/// Calls the meeting's next VTC into it: VTCs 0 and 1 send the stamped clip (VTC 0 is the probe
/// when the meeting probes), the others the plain one.
pub fn add_vtc(
    gw: &Gateway,
    media: &Media,
    meeting: &mut FleetMeeting,
    link: LinkSpec,
) -> Result<()> {
    let j = meeting.vtcs.len();
    let probing = meeting.probe && j == 0;
    let spec = VtcSpec {
        gateway: gw.sip,
        dial: gateway::dial(&meeting.conference),
        name: format!("vtc-{}-{j}", meeting.index),
        clip: if j < 2 {
            media.stamped.clone()
        } else {
            media.plain.clone()
        },
        audio: media.audio.clone(),
        probe: probing,
        peer: probing.then(|| meeting.peer_log.clone()),
        log: if j == 1 || (j == 0 && meeting.watched) {
            meeting.peer_log.clone()
        } else {
            Arc::new(SendLog::default())
        },
        link,
        receives: if j >= meeting.fhd_from {
            Receives::Fhd1080
        } else {
            Receives::Hd720
        },
        sends_video: true,
    };
    let vtc = Vtc::call(spec)
        .with_context(|| format!("meeting {}: call {j} failed", meeting.conference))?;
    meeting.vtcs.push(vtc);
    Ok(())
}

/// Calls a receive-only watcher into a meeting of one VTC: it sends silence and no video,
/// decodes every picture and reads VTC 0's stamps, so a 1xKx9 meeting with K = 1 has a
/// glass-to-glass figure too. The gateway composes and encodes a picture for it as for any
/// viewer, so it adds a viewer's cost without being counted as a port.
fn add_watcher(
    gw: &Gateway,
    media: &Media,
    meeting: &mut FleetMeeting,
    link: LinkSpec,
) -> Result<()> {
    let spec = VtcSpec {
        gateway: gw.sip,
        dial: gateway::dial(&meeting.conference),
        name: format!("watcher-{}", meeting.index),
        clip: media.plain.clone(),
        audio: Arc::new(clip::pcmu_silence()),
        probe: true,
        peer: Some(meeting.peer_log.clone()),
        log: Arc::new(SendLog::default()),
        link,
        receives: Receives::Hd720,
        sends_video: false,
    };
    let vtc = Vtc::call(spec)
        .with_context(|| format!("meeting {}: the watcher's call failed", meeting.conference))?;
    meeting.watcher = Some(vtc);
    Ok(())
}

/// One port's figures over a window.
#[derive(Debug, Clone, Serialize)]
pub struct PortReport {
    /// VTC name.
    pub name: String,
    /// INVITE to 200 (ms).
    pub setup_ms: f64,
    /// Frames per second received in the window.
    pub fps: f64,
    /// Carried at full frame rate.
    pub full_rate: bool,
    /// Share of frames on time.
    pub on_time: Option<f64>,
    /// Video packets lost (whole call).
    pub video_lost: u64,
    /// Video packets received (whole call).
    pub video_packets: u64,
    /// Audio packets lost / received (whole call).
    pub audio_lost: u64,
    /// Audio packets received.
    pub audio_packets: u64,
    /// First keyframe after the answer (ms).
    pub keyframe_delay_ms: Option<f64>,
    /// Pictures decoded / decoder errors.
    pub decoded: u64,
    /// Decoder errors.
    pub decode_errors: u64,
    /// Received picture size.
    pub picture: Option<(u32, u32)>,
    /// The size its offer asked for ([`Receives::size`]): 1280x720, or 1920x1080 with
    /// `--vtcs-1080p`.
    pub offered_picture: (u32, u32),
    /// Latency samples in the window.
    pub latency_samples: usize,
    /// Video bit rate received in the window, kbit/s.
    pub video_kbps: f64,
    /// Video packets its line dropped (`--vtc-bandwidth`).
    pub video_policed: u64,
}

pub fn port_report(vtc: &Vtc, from: f64, to: f64) -> (PortReport, Vec<f64>) {
    let s = vtc.stats();
    let fps = s.frames_between(from, to) as f64 / (to - from).max(1e-3);
    let latencies = s.latencies_between(from, to);
    (
        PortReport {
            name: vtc.name.clone(),
            setup_ms: vtc.setup.as_secs_f64() * 1000.0,
            fps,
            full_rate: fps >= FULL_RATE_SHARE * f64::from(FPS),
            on_time: s.on_time_share(from, to, LATE_SLACK),
            video_lost: s.video_lost,
            video_packets: s.video_packets,
            audio_lost: s.audio_lost,
            audio_packets: s.audio_packets,
            keyframe_delay_ms: s.first_keyframe.map(|k| (k - vtc.answered_at) * 1000.0),
            decoded: s.decoded,
            decode_errors: s.decode_errors,
            picture: s.picture_size,
            offered_picture: vtc.receives.size(),
            latency_samples: latencies.len(),
            video_kbps: s.video_bps_between(from, to) / 1000.0,
            video_policed: s.video_policed,
        },
        latencies,
    )
}

/// Whose CPU a [`CpuMeter`] reads.
#[derive(Debug, Clone, Copy)]
enum CpuOf {
    /// The gateway's process (all its threads).
    Gateway(Option<u32>),
    /// The fleet: this process and the ones it runs, without the gateway it started.
    Fleet(Option<u32>),
}

/// CPU used between two readings, in cores.
pub struct CpuMeter {
    of: CpuOf,
    ticks_per_sec: f64,
    last: Option<(f64, u64)>,
}

impl CpuMeter {
    /// The gateway's CPU (nothing without its pid).
    pub fn gateway(gw: &Gateway) -> Self {
        Self::new(CpuOf::Gateway(gw.pid))
    }

    /// The fleet's own CPU: this process and its children except the gateway.
    pub fn fleet(gw: &Gateway) -> Self {
        Self::new(CpuOf::Fleet(gw.pid))
    }

    fn new(of: CpuOf) -> Self {
        let mut m = CpuMeter {
            of,
            ticks_per_sec: procfs::ticks_per_second() as f64,
            last: None,
        };
        m.last = m.read();
        m
    }

    fn read(&self) -> Option<(f64, u64)> {
        let ticks = match self.of {
            CpuOf::Gateway(pid) => procfs::cpu(pid?).ok()?,
            CpuOf::Fleet(gateway) => procfs::fleet_cpu(gateway).ok()?,
        };
        Some((now_secs(), ticks.total()))
    }

    /// Cores used since the previous call (or creation).
    pub fn cores(&mut self) -> Option<f64> {
        let now = self.read()?;
        let (t0, c0) = self.last.replace(now)?;
        Some(now.1.saturating_sub(c0) as f64 / self.ticks_per_sec / (now.0 - t0).max(1e-3))
    }
}

/// The gateway's and the fleet's CPU, read together.
pub struct Meters {
    /// The gateway's.
    pub gateway: CpuMeter,
    /// The fleet's own.
    pub fleet: CpuMeter,
}

impl Meters {
    /// Both meters, starting now.
    pub fn new(gw: &Gateway) -> Self {
        Meters {
            gateway: CpuMeter::gateway(gw),
            fleet: CpuMeter::fleet(gw),
        }
    }

    /// Restarts both windows now.
    pub fn restart(&mut self) {
        let _ = self.gateway.cores();
        let _ = self.fleet.cores();
    }
}

/// The throughput report.
#[derive(Debug, Serialize)]
pub struct ThroughputReport {
    meetings: usize,
    vtcs_per_meeting: usize,
    native_per_meeting: u32,
    duration_s: f64,
    ports: usize,
    ports_full_rate: usize,
    gateway_cpu_cores: Option<f64>,
    /// The load generator's own CPU (its VTCs' threads), apart from the gateway's.
    fleet_cpu_cores: Option<f64>,
    ports_per_core: Option<f64>,
    /// Ports weighted by the share of 30 fps each received, per core: shows capacity on a
    /// machine too busy for any port to reach full rate.
    frame_weighted_ports_per_core: Option<f64>,
    mean_fps: f64,
    on_time_share: Option<f64>,
    latency_p50_ms: Option<f64>,
    latency_p99_ms: Option<f64>,
    latency_samples: usize,
    calls_hung_up_200: usize,
    timeline: Vec<Sample>,
    port_reports: Vec<PortReport>,
    baseline: Option<baseline::BaselineReport>,
    ratio: Option<f64>,
    /// What the ratio compares.
    ratio_basis: &'static str,
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len}s {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_owned());
    bar
}

/// Samples CPU and fleet frame rate once a second for `secs`, with a progress bar.
pub fn watch(
    meetings: &[FleetMeeting],
    cpu: &mut Meters,
    secs: u64,
    what: &str,
    start: f64,
) -> Vec<Sample> {
    let bar = progress(secs, what);
    let mut samples = Vec::new();
    let t0 = Instant::now();
    for i in 1..=secs {
        let until = t0 + Duration::from_secs(i);
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        let now = now_secs();
        let cores = cpu.gateway.cores().unwrap_or(0.0);
        let fleet = cpu.fleet.cores();
        let fps: Vec<f64> = meetings
            .iter()
            .flat_map(|m| &m.vtcs)
            .map(|v| v.stats().frames_between(now - 1.0, now) as f64)
            .collect();
        let fps = stats::mean(&fps).unwrap_or(0.0);
        samples.push(Sample {
            t: now - start,
            fps,
            cpu_cores: cores,
            fleet_cpu_cores: fleet,
        });
        bar.set_message(format!(
            "{fps:.1} fps/VTC, gateway {cores:.2} cores, fleet {} cores",
            fmt_opt(fleet, 2)
        ));
        bar.inc(1);
    }
    bar.finish_and_clear();
    samples
}

/// `v` with `digits` decimals, `n/a` when unknown.
pub fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"))
}

/// `throughput`.
pub fn throughput(args: &ThroughputArgs) -> Result<()> {
    let mut args = args.clone();
    if args.quick {
        args.meetings = 1;
        args.vtcs_per_meeting = 2;
        args.native_per_meeting = 7;
        args.duration = 20;
        args.warmup = 3;
        args.baseline = Some(Baseline::Ffmpeg);
        args.baseline_ports.get_or_insert(1);
    }
    if args.meetings == 0 || args.vtcs_per_meeting == 0 {
        bail!("at least one meeting with one VTC");
    }
    let media = Media::encode(90, &args.common)?;
    let gw = args.common.gateway()?;
    let ports = args.meetings * args.vtcs_per_meeting;
    gw.ensure_tenant(u32::try_from(ports + 50).unwrap_or(u32::MAX))?;
    let start = now_secs();
    let mut meetings = Vec::new();
    let mut cpu = Meters::new(&gw);
    let mut timeline = Vec::new();
    for m in 0..args.meetings {
        meetings.push(start_meeting(
            &gw,
            &media,
            m,
            (args.vtcs_per_meeting, args.native_per_meeting),
            m < args.probes,
            args.common.fleet(),
        )?);
    }
    tracing::info!(ports, "all calls established");
    timeline.extend(watch(&meetings, &mut cpu, args.warmup, "warm-up", start));
    let (from, mut window) = (now_secs(), Meters::new(&gw));
    timeline.extend(watch(
        &meetings,
        &mut cpu,
        args.duration,
        "measuring",
        start,
    ));
    let to = now_secs();
    let (cores, fleet_cores) = (window.gateway.cores(), window.fleet.cores());
    let mut port_reports = Vec::new();
    let mut latencies = Vec::new();
    let mut on_time = Vec::new();
    for vtc in meetings.iter().flat_map(|m| &m.vtcs) {
        let (r, l) = port_report(vtc, from, to);
        on_time.extend(r.on_time);
        latencies.extend(l);
        port_reports.push(r);
    }
    for m in &meetings {
        latencies.extend(m.watcher_latencies(from, to));
    }
    let hung_up: usize = meetings.into_iter().map(FleetMeeting::hang_up).sum();
    let full = port_reports.iter().filter(|p| p.full_rate).count();
    let mean_fps =
        stats::mean(&port_reports.iter().map(|p| p.fps).collect::<Vec<_>>()).unwrap_or(0.0);
    let ports_per_core = cores.map(|c| full as f64 / c.max(1e-3));
    let weighted: f64 = port_reports
        .iter()
        .map(|p| (p.fps / f64::from(FPS)).min(1.0))
        .sum();
    let frame_weighted_ports_per_core = cores.map(|c| weighted / c.max(1e-3));
    let baseline = match args.baseline {
        Some(Baseline::Ffmpeg) => {
            let n = args.baseline_ports.unwrap_or(ports).max(1);
            Some(baseline::run_ffmpeg(
                media.stamped(),
                n,
                args.duration.min(30),
                args.warmup,
            )?)
        }
        None => None,
    };
    // A baseline that carried no port at full rate makes the ratio infinite (printed `inf`);
    // when neither side carried one, the frame-weighted figures are compared instead.
    let weighted_ratio = match (
        frame_weighted_ports_per_core,
        baseline
            .as_ref()
            .and_then(|b| b.frame_weighted_ports_per_core),
    ) {
        (Some(g), Some(b)) if b > 0.0 => Some(g / b),
        _ => None,
    };
    let baseline_ppc = baseline.as_ref().and_then(|b| b.ports_per_core);
    let (ratio, ratio_basis) = match (ports_per_core, baseline_ppc) {
        (Some(g), Some(b)) if b > 0.0 => (Some(g / b), "ports at full rate"),
        (Some(g), Some(_)) if g > 0.0 => (Some(f64::INFINITY), "ports at full rate"),
        (Some(_), Some(_)) => (
            weighted_ratio,
            "frame-weighted: no port at full rate on either side",
        ),
        _ => (None, "n/a"),
    };
    let report = ThroughputReport {
        meetings: args.meetings,
        vtcs_per_meeting: args.vtcs_per_meeting,
        native_per_meeting: args.native_per_meeting,
        duration_s: to - from,
        ports,
        ports_full_rate: full,
        gateway_cpu_cores: cores,
        fleet_cpu_cores: fleet_cores,
        ports_per_core,
        frame_weighted_ports_per_core,
        mean_fps,
        on_time_share: stats::mean(&on_time),
        latency_p50_ms: stats::percentile(&latencies, 50.0),
        latency_p99_ms: stats::percentile(&latencies, 99.0),
        latency_samples: latencies.len(),
        calls_hung_up_200: hung_up,
        timeline,
        port_reports,
        baseline,
        ratio,
        ratio_basis,
    };
    print_throughput(&report);
    if let Some(path) = &args.common.json {
        report::write_json(path, &report)?;
    }
    if let Some(path) = &args.common.plot {
        let title = format!(
            "throughput: {} meeting(s) x {} VTC(s) x {} native",
            args.meetings, args.vtcs_per_meeting, args.native_per_meeting
        );
        std::fs::write(path, report::svg_chart(&title, &report.timeline))?;
    }
    println!(
        "throughput: {} ports/core at {:.1} fps, baseline {} ports/core, ratio {}x",
        fmt_opt(report.ports_per_core, 2),
        report.mean_fps,
        fmt_opt(report.baseline.as_ref().and_then(|b| b.ports_per_core), 2),
        fmt_opt(report.ratio, 1),
    );
    Ok(())
}

fn print_throughput(r: &ThroughputReport) {
    let mut rows = vec![vec![
        "port".to_owned(),
        "setup ms".into(),
        "fps".into(),
        "full".into(),
        "on time".into(),
        "v lost/rx".into(),
        "a lost/rx".into(),
        "key ms".into(),
        "decoded".into(),
        "picture".into(),
        "lat n".into(),
        "kbit/s".into(),
        "policed".into(),
    ]];
    for p in &r.port_reports {
        rows.push(vec![
            p.name.clone(),
            format!("{:.1}", p.setup_ms),
            format!("{:.1}", p.fps),
            if p.full_rate { "yes" } else { "no" }.into(),
            fmt_opt(p.on_time.map(|s| s * 100.0), 1) + "%",
            format!("{}/{}", p.video_lost, p.video_packets),
            format!("{}/{}", p.audio_lost, p.audio_packets),
            fmt_opt(p.keyframe_delay_ms, 0),
            format!("{} ({} err)", p.decoded, p.decode_errors),
            p.picture.map_or("-".into(), |(w, h)| format!("{w}x{h}")),
            p.latency_samples.to_string(),
            format!("{:.0}", p.video_kbps),
            p.video_policed.to_string(),
        ]);
    }
    println!("{}", report::table(&rows));
    let mut summary = vec![
        (
            "meetings x VTCs x native",
            format!(
                "{} x {} x {}",
                r.meetings, r.vtcs_per_meeting, r.native_per_meeting
            ),
        ),
        ("measured", format!("{:.1} s", r.duration_s)),
        (
            "ports at full rate",
            format!("{}/{}", r.ports_full_rate, r.ports),
        ),
        ("mean received fps", format!("{:.1}", r.mean_fps)),
        (
            "frames on time",
            fmt_opt(r.on_time_share.map(|s| s * 100.0), 1) + "%",
        ),
        ("gateway CPU (cores)", fmt_opt(r.gateway_cpu_cores, 2)),
        ("fleet's own CPU (cores)", fmt_opt(r.fleet_cpu_cores, 2)),
        (
            "pictures at the size offered",
            format!(
                "{}/{}",
                r.port_reports
                    .iter()
                    .filter(|p| p.picture == Some(p.offered_picture))
                    .count(),
                r.ports
            ),
        ),
        ("ports per core", fmt_opt(r.ports_per_core, 2)),
        (
            "frame-weighted ports per core",
            fmt_opt(r.frame_weighted_ports_per_core, 2),
        ),
        (
            "latency p50 / p99 (ms)",
            format!(
                "{} / {} ({} samples)",
                fmt_opt(r.latency_p50_ms, 0),
                fmt_opt(r.latency_p99_ms, 0),
                r.latency_samples
            ),
        ),
        (
            "calls hung up with 200",
            format!("{}/{}", r.calls_hung_up_200, r.ports),
        ),
    ];
    if let Some(b) = &r.baseline {
        summary.push(("baseline", b.describe()));
        summary.push(("baseline ports per core", fmt_opt(b.ports_per_core, 2)));
        summary.push((
            "baseline frame-weighted ports per core",
            fmt_opt(b.frame_weighted_ports_per_core, 2),
        ));
        summary.push((
            "ratio",
            format!("{}x ({})", fmt_opt(r.ratio, 2), r.ratio_basis),
        ));
    }
    println!("{}", report::pairs(&summary));
}
