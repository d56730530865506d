//! The gateway under test: a `tessera serve` this tool starts on loopback with a temporary
//! directory (database, admin token, log), or one already running that it attaches to; and the
//! admin-API calls that set a load test up (tenant, meetings, synthetic participants).
//!
//! Owns the gateway process it started (killed when dropped) and nothing else: a gateway it
//! attached to is left running.

#![allow(clippy::disallowed_methods)] // Waits for the gateway with real time.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::httpc::Client;

/// The tenant every load test creates (or reuses) on the gateway.
pub const TENANT: &str = "87650000";

/// A gateway under test.
pub struct Gateway {
    child: Option<Child>,
    /// Its process id, when known (needed for CPU and memory).
    pub pid: Option<u32>,
    /// SIP (UDP) address.
    pub sip: SocketAddr,
    /// Admin API client.
    pub api: Client,
    dir: Option<tempfile::TempDir>,
}

/// How to start a gateway.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// The `tessera` binary.
    pub binary: PathBuf,
    /// `--rtp-ports`.
    pub rtp_ports: String,
    /// `RUST_LOG` for it.
    pub log: String,
}

/// A loopback port free for both UDP and TCP (SIP listens on both).
pub fn free_port() -> Result<u16> {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0")?;
        let port = udp.local_addr()?.port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free loopback port")
}

/// The `tessera` binary beside this one (same target directory and profile), built with cargo
/// if it is not there yet.
pub fn default_binary() -> Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find this executable")?;
    let dir = me.parent().context("executable without a directory")?;
    // Test binaries live in target/<profile>/deps.
    let dir = if dir.ends_with("deps") {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    let binary = dir.join("tessera");
    if binary.exists() {
        return Ok(binary);
    }
    let release = dir.ends_with("release");
    tracing::info!(
        release,
        "building the tessera binary (cargo build -p gateway --bin tessera)"
    );
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.args(["build", "-p", "gateway", "--bin", "tessera"]);
    if release {
        cargo.arg("--release");
    }
    let status = cargo.status().context("cannot run cargo")?;
    if !status.success() || !binary.exists() {
        bail!("cargo build -p gateway --bin tessera failed; pass --gateway-bin");
    }
    Ok(binary)
}

impl Gateway {
    /// Starts `tessera serve` on loopback with a fresh database and a generated token, and waits
    /// (bounded) for `/healthz`.
    pub fn launch(options: &LaunchOptions) -> Result<Gateway> {
        let dir = tempfile::Builder::new().prefix("tessera-load-").tempdir()?;
        let db = dir.path().join("tessera.db");
        let status = Command::new(&options.binary)
            .arg("--db")
            .arg(&db)
            .arg("init")
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("cannot run {}", options.binary.display()))?;
        if !status.success() {
            bail!("tessera init failed");
        }
        let token = format!("load-{:032x}", rand::random::<u128>());
        let sip = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let http = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let log = std::fs::File::create(dir.path().join("tessera.log"))?;
        let child = Command::new(&options.binary)
            .arg("--db")
            .arg(&db)
            .arg("serve")
            .args(["--sip-listen", &sip.to_string()])
            .args(["--http-listen", &http.to_string()])
            // Port 1720 may be taken (another gateway); the load tests place SIP calls only.
            .args(["--h323-listen", "127.0.0.1:0"])
            .args(["--public-address", "127.0.0.1"])
            .args(["--rtp-ports", &options.rtp_ports])
            .args(["--lobby-timeout-secs", "0", "--drain-grace-secs", "1"])
            // SIPp places every call from loopback at hundreds of calls per second: a load
            // generator, not an attacker (the per-source limits would ban it in a second).
            .args(["--sip-limits-exempt", "127.0.0.0/8"])
            .env("TESSERA_ADMIN_TOKEN", &token)
            // The gateway reads its filter from TESSERA_LOG (RUST_LOG kept for older builds).
            .env("TESSERA_LOG", &options.log)
            .env("RUST_LOG", &options.log)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", options.binary.display()))?;
        let pid = child.id();
        let mut gateway = Gateway {
            child: Some(child),
            pid: Some(pid),
            sip,
            api: Client {
                addr: http,
                token: Some(token),
            },
            dir: Some(dir),
        };
        gateway.wait_healthy(Duration::from_secs(30))?;
        tracing::info!(%sip, %http, pid, "gateway started");
        Ok(gateway)
    }

    /// A gateway already running.
    pub fn attach(
        sip: SocketAddr,
        http: SocketAddr,
        token: String,
        pid: Option<u32>,
    ) -> Result<Gateway> {
        let mut gateway = Gateway {
            child: None,
            pid,
            sip,
            api: Client {
                addr: http,
                token: Some(token),
            },
            dir: None,
        };
        gateway.wait_healthy(Duration::from_secs(5))?;
        Ok(gateway)
    }

    fn wait_healthy(&mut self, patience: Duration) -> Result<()> {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "the gateway exited ({status}) at start; log:\n{}",
                        self.log_tail()
                    );
                }
            }
            if matches!(self.api.request("GET", "/healthz", None), Ok((200, _))) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the gateway did not become healthy within {patience:?}; log:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the process it started is still running (always true for an attached one).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The log of a gateway it started (empty for an attached one).
    pub fn log_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.path().join("tessera.log"))
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = self
            .log_path()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Makes sure the load-test tenant exists with `licenses` endpoint ports and a policy that
    /// lets VTCs straight in (anyone may start a meeting, everyone bypasses the lobby).
    pub fn ensure_tenant(&self, licenses: u32) -> Result<()> {
        let body = serde_json::json!({
            "key": TENANT,
            "name": "Load test",
            "endpoint_licenses": licenses,
            "cascade_licenses": 0,
            "who_can_bypass": "everyone",
            "anonymous_can_start": true,
        })
        .to_string();
        let (status, text) = self.api.request("POST", "/api/v1/tenants", Some(&body))?;
        match status {
            201 => Ok(()),
            409 => {
                let patch = serde_json::json!({
                    "endpoint_licenses": licenses,
                    "who_can_bypass": "everyone",
                    "anonymous_can_start": true,
                })
                .to_string();
                self.api.expect(
                    "PATCH",
                    &format!("/api/v1/tenants/{TENANT}"),
                    Some(&patch),
                    200,
                )?;
                Ok(())
            }
            _ => bail!("creating the tenant: {status} {text}"),
        }
    }

    /// Makes sure meeting `conference` exists (a 409 means it does).
    pub fn ensure_meeting(&self, conference: &str) -> Result<()> {
        let body = serde_json::json!({ "conference_id": conference, "organizer": "Load test" })
            .to_string();
        let path = format!("/api/v1/tenants/{TENANT}/meetings");
        match self.api.request("POST", &path, Some(&body))? {
            (201 | 409, _) => Ok(()),
            (status, text) => bail!("creating meeting {conference}: {status} {text}"),
        }
    }

    /// Adds `count` synthetic native participants to a meeting.
    pub fn add_synthetic(&self, conference: &str, count: u32) -> Result<()> {
        if count == 0 {
            return Ok(());
        }
        let body = serde_json::json!({ "count": count }).to_string();
        let path = format!("/api/v1/meetings/{TENANT}/{conference}/synthetic");
        self.api.expect("POST", &path, Some(&body), 204)?;
        Ok(())
    }

    /// `tessera_calls_active` summed over tenants and protocols.
    pub fn calls_active(&self) -> Result<f64> {
        let text = self.api.expect("GET", "/metrics", None, 200)?;
        Ok(crate::httpc::metric_sum(&text, "tessera_calls_active").unwrap_or(0.0))
    }

    /// The directory of a gateway it started.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }
}

/// The dial string of meeting `conference` of the load-test tenant.
pub fn dial(conference: &str) -> String {
    format!("{TENANT}.{conference}")
}

/// The conference ID of the `index`-th load-test meeting.
pub fn conference(index: usize) -> String {
    format!("{}", 70_000_000 + index)
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
