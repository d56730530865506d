//! `cluster-rate`: call setups per second through Kamailio in front of N gateways versus one
//! gateway dialled directly, in the same run on the same machine. Starts N + 1 `tessera serve`
//! (each its own database and RTP range) and Kamailio (Debian `kamailio`) with the shipped
//! `deploy/kamailio/kamailio.cfg`, then runs `call-rate`'s SIPp run at each rate against the
//! single gateway and against Kamailio, and prints both in one table.
//!
//! Owns the Kamailio process it starts (stopped when dropped); the SIPp runs are `callrate`'s.

#![allow(clippy::disallowed_methods)] // Waits for Kamailio with real time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;

use crate::callrate::{self, CallRateArgs, RateResult};
use crate::gateway::{self, Gateway, LaunchOptions};
use crate::report;

/// `cluster-rate` options.
#[derive(Debug, Clone, Args)]
pub struct ClusterRateArgs {
    /// Gateways behind Kamailio.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Kamailio's configuration [default: deploy/kamailio/kamailio.cfg of this repository].
    #[arg(long)]
    pub kamailio_config: Option<PathBuf>,
    /// Rates, calls, hold time, meetings and the gateway options, as for `call-rate` (a
    /// `--target` is not used: this mode starts every gateway itself).
    #[command(flatten)]
    pub rate: CallRateArgs,
}

/// One rate's two runs.
#[derive(Debug, Clone, Serialize)]
struct Pair {
    direct: RateResult,
    cluster: RateResult,
}

/// Kamailio in front of the nodes.
struct Front {
    child: Option<Child>,
    sip: SocketAddr,
    ctl: String,
    _dir: tempfile::TempDir,
}

impl Front {
    /// Starts Kamailio (foreground, logging into its temporary directory) and waits until it
    /// reports every node active.
    fn launch(config: &Path, nodes: &[SocketAddr]) -> Result<Front> {
        let dir = tempfile::Builder::new()
            .prefix("tessera-load-kamailio-")
            .tempdir()?;
        let list = dir.path().join("dispatcher.list");
        let lines: String = nodes.iter().map(|n| format!("1 sip:{n} 8\n")).collect();
        std::fs::write(&list, lines)?;
        let sip = SocketAddr::from(([127, 0, 0, 1], gateway::free_port()?));
        let ctl = format!("unix:{}", dir.path().join("ctl").display());
        let log = std::fs::File::create(dir.path().join("kamailio.log"))?;
        let defines = [
            "SIP_ADDR=127.0.0.1".to_owned(),
            format!("SIP_PORT={}", sip.port()),
            format!("DISPATCHER_LIST=\"{}\"", list.display()),
            format!("CTL_SOCKET=\"{ctl}\""),
            "PING_INTERVAL=1".to_owned(),
        ];
        let mut command = Command::new("kamailio");
        command
            .arg("-f")
            .arg(config)
            .args(["-DD", "-E", "-m", "128", "-M", "16", "-Y"])
            .arg(dir.path());
        for define in &defines {
            command.args(["-A", define]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot run kamailio (Debian package kamailio)")?;
        let mut front = Front {
            child: Some(child),
            sip,
            ctl,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while front.active_nodes() < nodes.len() {
            if let Some(child) = front.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!("kamailio exited ({status}) at start");
                }
            }
            if Instant::now() > deadline {
                bail!("kamailio did not report all {} nodes active", nodes.len());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(front)
    }

    /// Destinations `kamcmd dispatcher.list` shows active (`FLAGS: A.`).
    fn active_nodes(&self) -> usize {
        Command::new("kamcmd")
            .args(["-s", &self.ctl, "dispatcher.list"])
            .output()
            .map(|out| {
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| l.trim().starts_with("FLAGS: A"))
                    .count()
            })
            .unwrap_or(0)
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM lets Kamailio's main process stop its workers.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `range` ("LOW-HIGH") cut into `parts` disjoint ranges.
fn split_ports(range: &str, parts: usize) -> Result<Vec<String>> {
    let (low, high) = range
        .split_once('-')
        .and_then(|(l, h)| Some((l.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .filter(|(l, h)| l < h)
        .with_context(|| format!("--rtp-ports {range:?} is not LOW-HIGH"))?;
    let size = (high - low + 1) / parts.max(1) as u32;
    if size < 100 {
        bail!("--rtp-ports {range} is too small for {parts} gateways");
    }
    Ok((0..parts as u32)
        .map(|i| format!("{}-{}", low + i * size, low + (i + 1) * size - 1))
        .collect())
}

/// The RTP ports `cluster-rate` splits between its gateways unless told otherwise.
const CLUSTER_RTP_PORTS: &str = "20000-59999";

fn default_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kamailio/kamailio.cfg")
}

/// `cluster-rate`.
pub fn run(args: &ClusterRateArgs) -> Result<()> {
    if args.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    let common = &args.rate.common;
    if common.target.is_some() {
        bail!("cluster-rate starts its own gateways; --target is not used");
    }
    let config = args.kamailio_config.clone().unwrap_or_else(default_config);
    let scenario = callrate::scenario(&args.rate)?;
    let binary = match &common.gateway_bin {
        Some(b) => b.clone(),
        None => gateway::default_binary()?,
    };
    // Every gateway gets an equal share; the default leaves each of four 10,000 ports, as many
    // as calls in flight at 1000 cps need. A share of 61000-64999 (1,000 ports) ran out at
    // 300 cps of 1 s calls, and the direct gateway failed calls the three nodes had ports for.
    let ranges = split_ports(
        common.rtp_ports.as_deref().unwrap_or(CLUSTER_RTP_PORTS),
        args.nodes + 1,
    )?;
    let launch = |rtp_ports: &String| {
        Gateway::launch(&LaunchOptions {
            binary: binary.clone(),
            rtp_ports: rtp_ports.clone(),
            log: common.gateway_log.clone(),
        })
    };
    let direct = launch(&ranges[0])?;
    let nodes = ranges[1..].iter().map(launch).collect::<Result<Vec<_>>>()?;
    let node_refs: Vec<&Gateway> = nodes.iter().collect();
    let front = Front::launch(&config, &nodes.iter().map(|n| n.sip).collect::<Vec<_>>())?;
    let dir = tempfile::tempdir()?;
    let mut everyone = node_refs.clone();
    everyone.push(&direct);
    let inf = callrate::prepare_meetings(&everyone, args.rate.meetings, dir.path())?;

    let mut pairs = Vec::new();
    for &rate in &args.rate.rate {
        let rate = rate.max(1);
        tracing::info!(
            rate,
            calls = args.rate.calls,
            "sipp run, one gateway direct"
        );
        let one = callrate::run_rate(direct.sip, &[&direct], &args.rate, &scenario, &inf, rate)?;
        tracing::info!(
            rate,
            calls = args.rate.calls,
            nodes = args.nodes,
            "sipp run through Kamailio"
        );
        let many = callrate::run_rate(front.sip, &node_refs, &args.rate, &scenario, &inf, rate)?;
        pairs.push(Pair {
            direct: one,
            cluster: many,
        });
    }

    let cluster_name = format!("Kamailio + {} nodes", args.nodes);
    let mut rows = vec![callrate::result_headings(&["path"])];
    for pair in &pairs {
        rows.push(callrate::result_row(
            &["1 node direct".to_owned()],
            &pair.direct,
        ));
        rows.push(callrate::result_row(
            std::slice::from_ref(&cluster_name),
            &pair.cluster,
        ));
    }
    println!("{}", report::table(&rows));
    let best = |pick: fn(&Pair) -> &RateResult| {
        pairs
            .iter()
            .map(pick)
            .filter(|r| r.clean)
            .map(|r| r.achieved_cps)
            .fold(None, |best: Option<f64>, cps| {
                Some(best.map_or(cps, |b| b.max(cps)))
            })
    };
    let (best_direct, best_cluster) = (best(|p| &p.direct), best(|p| &p.cluster));
    if let Some(path) = &common.json {
        report::write_json(
            path,
            &serde_json::json!({
                "nodes": args.nodes,
                "results": pairs,
                "best_clean_cps_direct": best_direct,
                "best_clean_cps_cluster": best_cluster,
            }),
        )?;
    }
    let show = |v: Option<f64>| v.map_or("none clean".to_owned(), |v| format!("{v:.1} cps"));
    println!(
        "cluster-rate: best clean setup rate 1 node direct {}, {cluster_name} {}",
        show(best_direct),
        show(best_cluster)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_range_is_cut_into_disjoint_parts() {
        assert_eq!(
            split_ports("61000-64999", 4).unwrap(),
            ["61000-61999", "62000-62999", "63000-63999", "64000-64999"]
        );
        assert!(split_ports("61000-61100", 4).is_err(), "too small");
        assert!(split_ports("nonsense", 2).is_err());
    }
}
