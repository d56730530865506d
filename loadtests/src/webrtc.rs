//! `--mode webrtc`: adds N receive-only browsers (the Rust WebRTC client on the gateway's own
//! `webrtc` crate, `gateway::webrtc::client`) to a meeting of synthetic publishers, each page
//! reporting its nine slots at 1280x720 so every forwarded stream is a 720p layer, and measures
//! the gateway's CPU per forwarded stream (goal: under 1% of a core) and streams per core.
//!
//! Owns the scenario and its report; the clients only count what arrives (no decoding, so their
//! CPU does not compete with the gateway's more than receiving does).

#![allow(clippy::disallowed_methods)] // Measures on real time.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use gateway::webrtc::client::Client;

use crate::gateway::TENANT;
use crate::Common;

/// The meeting the browsers join.
const CONFERENCE: &str = "4400000";

/// Options of `tessera-load webrtc`.
#[derive(Debug, Args)]
pub struct WebrtcArgs {
    /// Where the gateway is.
    #[command(flatten)]
    pub common: Common,
    /// Receive-only browsers to add.
    #[arg(long, default_value_t = 10)]
    pub peers: usize,
    /// Synthetic publishers in the meeting (each browser receives up to nine of them).
    #[arg(long, default_value_t = 9)]
    pub publishers: u32,
    /// Seconds measured once every browser receives.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
}

/// Runs the scenario and prints the report.
pub fn run(args: &WebrtcArgs) -> Result<()> {
    let gw = args.common.gateway()?;
    let pid = gw
        .pid
        .context("the gateway's process id is needed (--gateway-pid)")?;
    gw.ensure_tenant(10)?;
    gw.ensure_meeting(CONFERENCE)?;
    gw.add_synthetic(CONFERENCE, args.publishers)?;
    let http = gw.api.addr;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let clients = runtime.block_on(async {
        let mut clients = Vec::with_capacity(args.peers);
        for i in 0..args.peers {
            let client = Client::join(http, TENANT, CONFERENCE, &format!("Viewer {i}"), false)
                .await
                .with_context(|| format!("browser {i} could not join"))?;
            let tiles: Vec<_> = (2..=10)
                .map(
                    |mid| serde_json::json!({"mid": mid.to_string(), "width": 1280, "height": 720}),
                )
                .collect();
            client
                .post("tiles", &serde_json::json!({ "tiles": tiles }).to_string())
                .await?;
            clients.push(client);
        }
        anyhow::Ok(clients)
    })?;
    // Warm-up: every browser receives video (keyframes of the 720p layers arrived).
    let deadline = Instant::now() + Duration::from_secs(30);
    while clients
        .iter()
        .any(|c| c.received.frames_decoded.load(Ordering::Relaxed) < 30)
    {
        if Instant::now() > deadline {
            bail!("not every browser received video within 30 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let metrics = gw.api.expect("GET", "/metrics", None, 200)?;
    let streams =
        crate::httpc::metric_sum(&metrics, "tessera_webrtc_forwarded_streams").unwrap_or(0.0);
    let before = crate::procfs::cpu(pid)?.total();
    let frames_before: u64 = clients
        .iter()
        .map(|c| c.received.frames_decoded.load(Ordering::Relaxed))
        .sum();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(args.seconds));
    let elapsed = started.elapsed().as_secs_f64();
    let ticks = crate::procfs::cpu(pid)?.total() - before;
    let frames: u64 = clients
        .iter()
        .map(|c| c.received.frames_decoded.load(Ordering::Relaxed))
        .sum::<u64>()
        - frames_before;
    let cores = ticks as f64 / crate::procfs::ticks_per_second() as f64 / elapsed;
    let per_stream = if streams > 0.0 { cores / streams } else { 0.0 };
    println!(
        "webrtc: {} browsers, {} publishers, {elapsed:.0} s",
        args.peers, args.publishers
    );
    println!("  forwarded streams        {streams:.0}");
    println!("  pictures received/s      {:.0}", frames as f64 / elapsed);
    println!("  gateway CPU              {:.1}% of a core", cores * 100.0);
    println!(
        "  CPU per forwarded stream {:.2}% of a core",
        per_stream * 100.0
    );
    if per_stream > 0.0 {
        println!("  forwarded streams/core   {:.0}", 1.0 / per_stream);
    }
    if let Some(path) = &args.common.json {
        let report = serde_json::json!({
            "browsers": args.peers,
            "publishers": args.publishers,
            "seconds": elapsed,
            "forwarded_streams": streams,
            "pictures_per_second": frames as f64 / elapsed,
            "gateway_cores": cores,
            "cores_per_stream": per_stream,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    runtime.block_on(async {
        for client in clients {
            let _ = client.leave().await;
        }
    });
    Ok(())
}
