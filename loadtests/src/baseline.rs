//! The naive pipeline the gateway is compared with, run on the same input in the same run: one
//! ffmpeg process per VTC port that decodes nine inputs (the fleet's pre-encoded 720p clip, read
//! in real time), scales each to a 3x3 tile, stacks them with `xstack` and encodes the
//! 720p30 layout with libx264 `-preset ultrafast -tune zerolatency` (Debian's ffmpeg has no
//! libopenh264). CPU comes from /proc exactly as for the gateway.
//!
//! Owns the ffmpeg processes it starts (killed when done).

#![allow(clippy::disallowed_methods)] // Measures on real time.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::clip::{Clip, FPS};
use crate::fleet::FULL_RATE_SHARE;
use crate::procfs;

/// What the baseline did.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineReport {
    /// The encoder used.
    pub encoder: String,
    /// ffmpeg processes (ports).
    pub ports: usize,
    /// Of which at full frame rate.
    pub ports_full_rate: usize,
    /// Their output frame rates.
    pub fps: Vec<f64>,
    /// CPU cores used by all of them.
    pub cpu_cores: f64,
    /// Ports at full rate per core.
    pub ports_per_core: Option<f64>,
    /// Ports weighted by their share of 30 fps, per core.
    pub frame_weighted_ports_per_core: Option<f64>,
}

impl BaselineReport {
    /// One line for the summary table.
    pub fn describe(&self) -> String {
        format!(
            "ffmpeg {} ({} ports, {} at full rate, {:.2} cores)",
            self.encoder, self.ports, self.ports_full_rate, self.cpu_cores
        )
    }
}

/// The filter graph: nine inputs scaled to the 3x3 tiles of 1280x720 and stacked.
fn filter_graph() -> String {
    let mut graph = String::new();
    for i in 0..9 {
        graph.push_str(&format!("[{i}:v]scale=426:240,setsar=1[t{i}];"));
    }
    for i in 0..9 {
        graph.push_str(&format!("[t{i}]"));
    }
    graph.push_str(
        "xstack=inputs=9:layout=0_0|w0_0|w0+w1_0|0_h0|w0_h0|w0+w1_h0|0_h0+h3|w0_h0+h3|w0+w1_h0+h3,",
    );
    graph.push_str("pad=1280:720,fps=30[out]");
    graph
}

struct Running {
    child: Child,
    frames: Arc<AtomicU64>,
    log: std::path::PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(input: &std::path::Path, log: std::path::PathBuf) -> Result<Running> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-nostats"]);
    for _ in 0..9 {
        cmd.args(["-re", "-f", "h264", "-framerate", "30", "-i"]);
        cmd.arg(input);
    }
    cmd.args(["-filter_complex", &filter_graph(), "-map", "[out]"]);
    cmd.args([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
        "-b:v",
        "1500k",
    ]);
    cmd.args([
        "-g",
        "300",
        "-f",
        "null",
        "-",
        "-progress",
        "pipe:1",
        "-stats_period",
        "0.5",
    ]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .context("cannot start ffmpeg (Debian package ffmpeg)")?;
    let stdout = child.stdout.take().context("ffmpeg stdout")?;
    let frames = Arc::new(AtomicU64::new(0));
    let counter = frames.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(n) = line
                .strip_prefix("frame=")
                .and_then(|v| v.trim().parse().ok())
            {
                counter.store(n, Ordering::Relaxed);
            }
        }
    });
    Ok(Running { child, frames, log })
}

/// Runs `ports` ffmpeg pipelines on `clip` for `warmup` + `duration` seconds and measures the
/// last `duration`.
pub fn run_ffmpeg(clip: &Clip, ports: usize, duration: u64, warmup: u64) -> Result<BaselineReport> {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("clip.h264");
    // The loop written out for the whole run: ffmpeg's `-stream_loop` cannot seek back in a raw
    // H.264 file ("Operation not permitted").
    let seconds = (warmup.max(2) + duration.max(1) + 10) as usize;
    let loops = (seconds * FPS as usize).div_ceil(clip.frames.len().max(1));
    std::fs::write(&input, clip.annexb().repeat(loops))?;
    let mut running = Vec::new();
    for i in 0..ports {
        running.push(start(&input, dir.path().join(format!("ffmpeg-{i}.log")))?);
    }
    tracing::info!(ports, "ffmpeg baseline started");
    std::thread::sleep(Duration::from_secs(warmup.max(2)));
    let read = |r: &mut Running| -> Result<(u64, u64)> {
        if let Some(status) = r.child.try_wait()? {
            let log = std::fs::read_to_string(&r.log).unwrap_or_default();
            bail!("ffmpeg exited early ({status}): {log}");
        }
        Ok((
            procfs::cpu(r.child.id())?.total(),
            r.frames.load(Ordering::Relaxed),
        ))
    };
    let t0 = Instant::now();
    let before: Vec<(u64, u64)> = running.iter_mut().map(read).collect::<Result<_>>()?;
    std::thread::sleep(Duration::from_secs(duration.max(1)));
    let after: Vec<(u64, u64)> = running.iter_mut().map(read).collect::<Result<_>>()?;
    let elapsed = t0.elapsed().as_secs_f64();
    drop(running);
    let ticks = procfs::ticks_per_second() as f64;
    let cpu_cores = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a.0 - b.0) as f64)
        .sum::<f64>()
        / ticks
        / elapsed;
    let fps: Vec<f64> = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a.1 - b.1) as f64 / elapsed)
        .collect();
    let full = fps
        .iter()
        .filter(|f| **f >= FULL_RATE_SHARE * f64::from(FPS))
        .count();
    Ok(BaselineReport {
        encoder: "libx264 ultrafast zerolatency".to_owned(),
        ports,
        ports_full_rate: full,
        cpu_cores,
        ports_per_core: (cpu_cores > 0.0).then(|| full as f64 / cpu_cores),
        frame_weighted_ports_per_core: (cpu_cores > 0.0).then(|| {
            fps.iter()
                .map(|f| (f / f64::from(FPS)).min(1.0))
                .sum::<f64>()
                / cpu_cores
        }),
        fps,
    })
}
