//! `tessera-load`: sizes a gateway the way a customer's own load test would, against a real
//! `tessera serve` on loopback (started here, or attached with `--target`).
//!
//! Modes: `throughput` (ports per core, with the ffmpeg baseline), `ramp` (the knee), `call-rate`
//! (SIPp), `cluster-rate` (SIPp through Kamailio + N gateways versus one gateway direct), `soak`
//! (memory and leaked calls), `webrtc` (CPU per stream forwarded to browsers). Each prints a
//! table, and writes JSON with `--json` and an SVG chart with `--plot`.

mod baseline;
mod callrate;
mod clip;
mod cluster;
mod fleet;
mod gateway;
mod httpc;
mod procfs;
mod ramp;
mod report;
mod soak;
mod stamp;
mod stats;
mod vtc;
mod webrtc;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Load tests against a tessera gateway.
#[derive(Debug, Parser)]
#[command(name = "tessera-load", version, about)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Transcoding throughput: ports per core at full frame rate, latency, and the ffmpeg baseline.
    Throughput(fleet::ThroughputArgs),
    /// Adds meetings (or VTCs to one meeting) step by step until frame rate or latency
    /// degrades; reports the knee.
    Ramp(ramp::RampArgs),
    /// Short calls from SIPp at a given rate: completed, failed, setup latency.
    CallRate(callrate::CallRateArgs),
    /// Call setups per second through Kamailio + N gateways versus one gateway direct.
    ClusterRate(cluster::ClusterRateArgs),
    /// Mixed load with joins and leaves; memory growth and leaked calls.
    Soak(soak::SoakArgs),
    /// Receive-only browsers over WebRTC: gateway CPU per forwarded 720p stream.
    Webrtc(webrtc::WebrtcArgs),
}

/// The naive pipeline to compare against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Baseline {
    /// One ffmpeg process per VTC port: decode nine inputs, scale, xstack 3x3, encode.
    Ffmpeg,
}

/// The RTP ports of the one gateway a mode starts.
pub const DEFAULT_RTP_PORTS: &str = "61000-64999";

/// Where the gateway is, and how to report.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Attach to a running gateway's SIP address instead of starting one (needs --http and --token).
    #[arg(long, requires_all = ["http", "token"])]
    pub target: Option<SocketAddr>,
    /// The attached gateway's admin API address (host:port).
    #[arg(long)]
    pub http: Option<SocketAddr>,
    /// The attached gateway's operator token.
    #[arg(long, env = "TESSERA_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The attached gateway's process id, for CPU and memory from /proc.
    #[arg(long)]
    pub gateway_pid: Option<u32>,
    /// The `tessera` binary to start [default: the one beside this binary, built if missing].
    #[arg(long)]
    pub gateway_bin: Option<PathBuf>,
    /// RTP port range of a started gateway [default: 61000-64999, above Linux's ephemeral ports
    /// and away from the gateway tests' ranges; `cluster-rate`: 20000-59999, split between its
    /// gateways].
    #[arg(long)]
    pub rtp_ports: Option<String>,
    /// RUST_LOG of a started gateway.
    #[arg(long, default_value = "warn")]
    pub gateway_log: String,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write an SVG chart of frame rate and CPU over time here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Each fleet VTC's line towards it, kbit/s: a policer drops what exceeds it, and the VTC
    /// reports the loss in receiver reports (as behind a slow relay or WAN link).
    #[arg(long)]
    pub vtc_bandwidth: Option<u64>,
    /// With --vtc-bandwidth: the VTCs also send TMMBR with that rate, as room systems
    /// configured for their line do.
    #[arg(long, requires = "vtc_bandwidth")]
    pub vtc_tmmbr: bool,
    /// The VTCs ignore the gateway's TMMBR (send 720p whatever it asks), as room systems
    /// without `ccm tmmbr` do; by default they switch to a 640x360 or 426x240 clip below
    /// 700 or 300 kbit/s, as room systems do.
    #[arg(long)]
    pub vtc_ignore_tmmbr: bool,
    /// The last K fleet VTCs of each meeting offer H.264 level 4.0 (`42e028`) and `b=AS:4000`,
    /// so the gateway sends them 1080p30 (its 3 Mbit/s class); the others offer level 3.1 and
    /// 2 Mbit/s (720p). Each VTC checks it receives the size it offered. (`soak`: the VTCs that
    /// join later offer 720p.)
    #[arg(long, default_value_t = 0)]
    pub vtcs_1080p: usize,
    /// A probed meeting with a single VTC also gets a receive-only watcher that reads that
    /// VTC's stamps, so one-VTC meetings (1x1x9) have a glass-to-glass figure. Not counted as a
    /// port, but the gateway composes and encodes a picture for it like for any viewer.
    #[arg(long)]
    pub latency_watcher: bool,
}

impl Common {
    /// The fleet VTCs' line.
    pub fn link(&self) -> sip_testua::link::LinkSpec {
        sip_testua::link::LinkSpec {
            bandwidth_bps: self.vtc_bandwidth.map(|kbps| kbps.saturating_mul(1000)),
            tmmbr: self.vtc_tmmbr,
        }
    }

    /// How the fleet's VTCs are set up.
    pub fn fleet(&self) -> fleet::FleetOptions {
        fleet::FleetOptions {
            link: self.link(),
            vtcs_1080p: self.vtcs_1080p,
            latency_watcher: self.latency_watcher,
        }
    }

    /// Starts or attaches to the gateway.
    pub fn gateway(&self) -> anyhow::Result<gateway::Gateway> {
        match (self.target, self.http, &self.token) {
            (Some(sip), Some(http), Some(token)) => {
                gateway::Gateway::attach(sip, http, token.clone(), self.gateway_pid)
            }
            _ => {
                let binary = match &self.gateway_bin {
                    Some(b) => b.clone(),
                    None => gateway::default_binary()?,
                };
                gateway::Gateway::launch(&gateway::LaunchOptions {
                    binary,
                    rtp_ports: self
                        .rtp_ports
                        .clone()
                        .unwrap_or_else(|| DEFAULT_RTP_PORTS.to_owned()),
                    log: self.gateway_log.clone(),
                })
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let _ = vtc::epoch();
    match Cli::parse().mode {
        Mode::Throughput(args) => fleet::throughput(&args),
        Mode::Ramp(args) => ramp::run(&args),
        Mode::CallRate(args) => callrate::run(&args),
        Mode::ClusterRate(args) => cluster::run(&args),
        Mode::Soak(args) => soak::run(&args),
        Mode::Webrtc(args) => webrtc::run(&args),
    }
}
