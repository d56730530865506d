//! `tessera serve` configuration: every option is a flag and a key of the TOML file given with
//! `--config`; a flag wins over the file, the file over the built-in default.
//!
//! Owns option names, defaults and validation; it must not start anything.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use ipnet::IpNet;
use serde::Deserialize;

use crate::calls::CoreConfig;
use crate::http::throttle::ThrottleConfig;
use crate::server::tls::TlsFiles;

mod cluster;
mod gatekeeper;
pub use cluster::ClusterConfig;
pub use gatekeeper::GatekeeperConfig;
use signaling::limits::LimitConfig;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The `--config` file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The `--config` file is not valid TOML for these options.
    #[error("config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: Box<toml::de::Error>,
    },
    /// A value is out of range or malformed.
    #[error("invalid {option}: {reason}")]
    Invalid {
        /// The option (flag name).
        option: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The options of `tessera serve`, as flags (all optional, so the config file can supply them).
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeOptions {
    /// TOML file with any of these options as keys (`sip-listen = "0.0.0.0:5060"`).
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// The directory database (the global `--db` flag; a key here only in the config file).
    #[arg(skip)]
    pub db: Option<String>,
    /// SIP listen address, UDP and TCP on the same port [default: 0.0.0.0:5060].
    #[arg(long)]
    pub sip_listen: Option<SocketAddr>,
    /// Receive and send buffer asked of the kernel for the SIP UDP socket, in bytes: a burst of
    /// INVITEs waits here while the SIP core works. The kernel caps it at
    /// `net.core.rmem_max`/`wmem_max`; the size granted is logged [default: 4194304].
    #[arg(long)]
    pub sip_udp_buffer_bytes: Option<usize>,
    /// SIP over TLS (`sips:`) listen address; the listener runs when --tls-cert and --tls-key
    /// are given [default: the SIP listen IP, port 5061].
    #[arg(long)]
    pub sip_tls_listen: Option<SocketAddr>,
    /// PEM certificate chain for SIP over TLS (re-read on SIGHUP).
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert (re-read on SIGHUP).
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// Admin API / health / metrics listen address [default: 127.0.0.1:8080].
    #[arg(long)]
    pub http_listen: Option<SocketAddr>,
    /// Serve the admin API over HTTPS with --tls-cert/--tls-key.
    #[arg(long)]
    #[serde(default)]
    pub admin_tls: bool,
    /// Allow the admin API on a non-loopback address without --admin-tls (its token then
    /// crosses the network in clear text: only behind a TLS-terminating proxy or on a private
    /// network).
    #[arg(long)]
    #[serde(default)]
    pub allow_plaintext_admin: bool,
    /// H.323 call-signalling (H.225.0 over TCP) listen address [default: 0.0.0.0:1720].
    #[arg(long)]
    pub h323_listen: Option<SocketAddr>,
    /// H.323 gatekeeper to register with over RAS, `HOST[:PORT]` (port 1719 if left out)
    /// [default: none, no registration].
    #[arg(long)]
    pub h323_gatekeeper: Option<String>,
    /// Alias to register with the gatekeeper: digits are `dialledDigits`, anything else an
    /// `h323-ID`; repeatable [default: the h323-ID `tessera`].
    #[arg(long = "h323-gatekeeper-alias")]
    #[serde(default, rename = "h323-gatekeeper-alias")]
    pub h323_gatekeeper_alias: Vec<String>,
    /// Dialled-digits prefix the gatekeeper should route to the gateway (registered as a
    /// gateway's supported prefix); repeatable.
    #[arg(long = "h323-gatekeeper-prefix")]
    #[serde(default, rename = "h323-gatekeeper-prefix")]
    pub h323_gatekeeper_prefix: Vec<String>,
    /// Registration time to live to ask the gatekeeper for, in seconds; keep-alives refresh it
    /// before it runs out [default: 300].
    #[arg(long)]
    pub h323_gatekeeper_ttl_secs: Option<u32>,
    /// Operator token for the admin API (else TESSERA_ADMIN_TOKEN, else generated and stored
    /// beside the database with mode 0600).
    #[arg(long, env = "TESSERA_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Make sure the demo tenant 12345678 and meeting 1177958860 exist and fill the meeting with
    /// 8 synthetic trusted participants.
    #[arg(long)]
    #[serde(default)]
    pub demo: bool,
    /// The address advertised in SIP Contact/Via and SDP [default: the SIP listen address, or
    /// 127.0.0.1 when that is unspecified].
    #[arg(long)]
    pub public_address: Option<IpAddr>,
    /// RTP port range, `LOW-HIGH` [default: 20000-29999].
    #[arg(long)]
    pub rtp_ports: Option<String>,
    /// Source network of a PSTN trunk (calls from it are class pstn); repeatable.
    #[arg(long = "pstn-trunk")]
    #[serde(default, rename = "pstn-trunk")]
    pub pstn_trunks: Vec<IpNet>,
    /// Longest lobby wait in seconds, 0 for no limit [default: 600].
    #[arg(long)]
    pub lobby_timeout_secs: Option<u64>,
    /// Conference-ID attempts in the entry queue [default: 3].
    #[arg(long)]
    pub entry_queue_attempts: Option<u8>,
    /// Seconds the entry queue waits for each attempt [default: 30].
    #[arg(long)]
    pub entry_queue_timeout_secs: Option<u64>,
    /// Milliseconds a call rings (180) before it is answered [default: 0].
    #[arg(long)]
    pub ring_time_ms: Option<u64>,
    /// Seconds established calls continue after SIGTERM before they get BYE [default: 10].
    #[arg(long)]
    pub drain_grace_secs: Option<u64>,
    /// Most concurrent calls; more are refused with 503 + Retry-After [default: no limit but the
    /// RTP port range].
    #[arg(long)]
    pub max_calls: Option<usize>,
    /// RFC 4028 session interval we use when a caller that supports session timers names none,
    /// and the longest we accept, in seconds [default: 1800].
    #[arg(long)]
    pub session_expires_secs: Option<u32>,
    /// Shortest session interval we accept (`Min-SE`; shorter ones get 422), in seconds. RFC 4028
    /// wants at least 90 [default: 90].
    #[arg(long)]
    pub min_se_secs: Option<u32>,
    // Per-source SIP limits (Kamailio pike style; `signaling::limits`).
    /// Window the per-source SIP message counts are taken over, in milliseconds [default: 2000].
    #[arg(long)]
    pub sip_rate_window_ms: Option<u64>,
    /// Most SIP messages one source IP may send in one window; more ban it [default: 400].
    #[arg(long)]
    pub sip_max_messages_per_window: Option<u32>,
    /// Most unparseable SIP messages one source IP may send in one window; more ban it
    /// [default: 20].
    #[arg(long)]
    pub sip_max_bad_messages_per_window: Option<u32>,
    /// How long a banned source's SIP packets are dropped unread, in seconds [default: 60].
    #[arg(long)]
    pub sip_ban_secs: Option<u64>,
    /// Most server transactions per source IP waiting for their final response (ringing calls,
    /// requests in progress); more requests get 503 [default: 200].
    #[arg(long)]
    pub sip_max_transactions_per_source: Option<usize>,
    /// Most concurrent calls per source IP; more INVITEs get 503 [default: 100].
    #[arg(long)]
    pub sip_max_dialogs_per_source: Option<usize>,
    /// Most source IPs the limits track at once (their memory bound) [default: 100000].
    #[arg(long)]
    pub sip_max_tracked_sources: Option<usize>,
    /// Source network the per-source SIP limits do not apply to (an SBC, a trunk, a load
    /// generator); repeatable.
    #[arg(long = "sip-limits-exempt")]
    #[serde(default, rename = "sip-limits-exempt")]
    pub sip_limits_exempt: Vec<IpNet>,
    /// Wrong admin tokens one source may present per minute before it gets 429 [default: 10].
    #[arg(long)]
    pub admin_max_auth_failures: Option<u32>,
    /// How long a source that presented too many wrong admin tokens gets 429, in seconds
    /// [default: 60].
    #[arg(long)]
    pub admin_auth_lockout_secs: Option<u64>,
    /// Address browsers' WebRTC media sockets bind to [default: the public address].
    #[arg(long)]
    pub webrtc_listen: Option<IpAddr>,
    /// Address announced to browsers in ICE candidates instead of the bound one (1:1 NAT).
    #[arg(long)]
    pub webrtc_public_ip: Option<IpAddr>,
    /// UDP port range of browsers' WebRTC sockets, `LOW-HIGH`, one port per browser [default:
    /// any free port].
    #[arg(long)]
    pub webrtc_ports: Option<String>,
    /// PostgreSQL URL (`postgres://...`) where the nodes of a cluster count licences together:
    /// a tenant's calls on every node share its licences [default: each node counts its own].
    #[arg(long)]
    pub cluster_db: Option<String>,
    /// This node's name among the cluster's nodes [default: hostname:SIP port].
    #[arg(long)]
    pub node_id: Option<String>,
    /// Seconds a node's licence leases outlive it: a node that dies (kill -9) frees its calls'
    /// licences within this time; renewed every third of it [default: 15].
    #[arg(long)]
    pub lease_secs: Option<u64>,
}

/// Everything `serve` runs with, resolved.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The database from the config file, if it names one (the `--db` flag wins).
    pub db: Option<crate::directory::DbLocation>,
    /// SIP socket address (UDP and TCP).
    pub sip_listen: SocketAddr,
    /// SO_RCVBUF and SO_SNDBUF asked for the SIP UDP socket.
    pub sip_udp_buffer: usize,
    /// HTTP socket address.
    pub http_listen: SocketAddr,
    /// The TLS listener's address and certificate files, when SIP over TLS is on.
    pub sip_tls: Option<(SocketAddr, TlsFiles)>,
    /// The certificate files the admin API serves HTTPS with (`--admin-tls`).
    pub admin_tls: Option<TlsFiles>,
    /// H.323 call-signalling (TCP) address.
    pub h323_listen: SocketAddr,
    /// Registration with an H.323 gatekeeper, when on.
    pub h323_gatekeeper: Option<GatekeeperConfig>,
    /// Explicit admin token, if any.
    pub admin_token: Option<String>,
    /// Seed the demo.
    pub demo: bool,
    /// The call core's configuration.
    pub core: CoreConfig,
    /// Admin API token brute-force throttling.
    pub admin_throttle: ThrottleConfig,
    /// Where browsers' media goes.
    pub webrtc: crate::webrtc::WebrtcConfig,
    /// Cluster-wide licences, when on.
    pub cluster: Option<ClusterConfig>,
}

/// The SIP UDP socket buffer asked for by default: 4 MiB holds about 3000 INVITEs with SDP
/// (Linux's 208 KiB default held ~150, less than a second at 250 calls/s with video).
pub const DEFAULT_SIP_UDP_BUFFER: usize = 4 << 20;
/// Smallest SIP UDP buffer accepted (a few dozen INVITEs).
const MIN_SIP_UDP_BUFFER: usize = 64 << 10;
/// Largest SIP UDP buffer accepted.
const MAX_SIP_UDP_BUFFER: usize = 1 << 30;

fn invalid(option: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        option,
        reason: reason.into(),
    }
}

fn parse_port_range(option: &'static str, text: &str) -> Result<RangeInclusive<u16>, ConfigError> {
    let bad = || {
        invalid(
            option,
            format!("{text:?} is not LOW-HIGH with 1024 <= LOW < HIGH"),
        )
    };
    let (low, high) = text.split_once('-').ok_or_else(bad)?;
    let (low, high): (u16, u16) = (
        low.trim().parse().map_err(|_| bad())?,
        high.trim().parse().map_err(|_| bad())?,
    );
    if low < 1024 || high <= low || high - low < 3 {
        return Err(bad());
    }
    Ok(low..=high)
}

impl ServeOptions {
    /// Reads `--config` (if given) under the flags.
    pub fn resolve(self) -> Result<ServeConfig, ConfigError> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => ServeOptions::default(),
        };
        let flags = self;
        let sip_listen = flags
            .sip_listen
            .or(file.sip_listen)
            .unwrap_or(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 5060));
        let sip_udp_buffer = flags
            .sip_udp_buffer_bytes
            .or(file.sip_udp_buffer_bytes)
            .unwrap_or(DEFAULT_SIP_UDP_BUFFER);
        if !(MIN_SIP_UDP_BUFFER..=MAX_SIP_UDP_BUFFER).contains(&sip_udp_buffer) {
            return Err(invalid(
                "sip-udp-buffer-bytes",
                format!(
                    "{sip_udp_buffer} is not between {MIN_SIP_UDP_BUFFER} and {MAX_SIP_UDP_BUFFER}"
                ),
            ));
        }
        let http_listen = flags
            .http_listen
            .or(file.http_listen)
            .unwrap_or(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8080));
        let h323_listen = flags
            .h323_listen
            .or(file.h323_listen)
            .unwrap_or(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 1720));
        let public = flags
            .public_address
            .or(file.public_address)
            .unwrap_or_else(|| {
                if sip_listen.ip().is_unspecified() {
                    Ipv4Addr::LOCALHOST.into()
                } else {
                    sip_listen.ip()
                }
            });
        let mut core = CoreConfig::new(SocketAddr::new(public, sip_listen.port()), public);
        if let Some(range) = flags.rtp_ports.as_deref().or(file.rtp_ports.as_deref()) {
            core.rtp_ports = parse_port_range("rtp-ports", range)?;
        }
        core.pstn_trunks = if flags.pstn_trunks.is_empty() {
            file.pstn_trunks.clone()
        } else {
            flags.pstn_trunks.clone()
        };
        if let Some(secs) = flags.lobby_timeout_secs.or(file.lobby_timeout_secs) {
            core.lobby_timeout = (secs > 0).then(|| Duration::from_secs(secs));
        }
        if let Some(n) = flags.entry_queue_attempts.or(file.entry_queue_attempts) {
            if n == 0 {
                return Err(invalid("entry-queue-attempts", "must be at least 1"));
            }
            core.entry_queue_attempts = n;
        }
        if let Some(secs) = flags
            .entry_queue_timeout_secs
            .or(file.entry_queue_timeout_secs)
        {
            if secs == 0 {
                return Err(invalid("entry-queue-timeout-secs", "must be at least 1"));
            }
            core.entry_queue_timeout = Duration::from_secs(secs);
        }
        if let Some(ms) = flags.ring_time_ms.or(file.ring_time_ms) {
            core.ring_time = Duration::from_millis(ms);
        }
        if let Some(secs) = flags.drain_grace_secs.or(file.drain_grace_secs) {
            core.drain_grace = Duration::from_secs(secs);
        }
        core.max_calls = flags.max_calls.or(file.max_calls);
        if let Some(secs) = flags.min_se_secs.or(file.min_se_secs) {
            if secs == 0 {
                return Err(invalid("min-se-secs", "must be at least 1"));
            }
            core.session_timer.min_se = secs;
        }
        if let Some(secs) = flags.session_expires_secs.or(file.session_expires_secs) {
            core.session_timer.session_expires = secs;
        }
        if core.session_timer.session_expires < core.session_timer.min_se {
            return Err(invalid(
                "session-expires-secs",
                format!(
                    "{} is below min-se-secs ({})",
                    core.session_timer.session_expires, core.session_timer.min_se
                ),
            ));
        }
        core.source_limits = source_limits(&flags, &file)?;
        core.source_limits_exempt = if flags.sip_limits_exempt.is_empty() {
            file.sip_limits_exempt.clone()
        } else {
            flags.sip_limits_exempt.clone()
        };
        let admin_throttle = admin_throttle(&flags, &file)?;
        let cluster = cluster::resolve(&flags, &file, sip_listen.port())?;
        let h323_gatekeeper = gatekeeper::resolve(&flags, &file)?;
        core.cluster_licences = cluster.is_some();
        let tls_files = match (
            flags.tls_cert.or(file.tls_cert),
            flags.tls_key.or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => return Err(invalid("tls-cert", "--tls-cert and --tls-key go together")),
        };
        let admin_tls = match (flags.admin_tls || file.admin_tls, &tls_files) {
            (false, _) => None,
            (true, Some(files)) => Some(files.clone()),
            (true, None) => return Err(invalid("admin-tls", "needs --tls-cert and --tls-key")),
        };
        let plaintext_allowed = flags.allow_plaintext_admin || file.allow_plaintext_admin;
        if admin_tls.is_none() && !http_listen.ip().is_loopback() && !plaintext_allowed {
            return Err(invalid(
                "http-listen",
                format!(
                    "{http_listen} is reachable from the network, and the admin API would take its \
                     token in clear text: add --admin-tls (with --tls-cert/--tls-key), bind to \
                     127.0.0.1, or accept the risk with --allow-plaintext-admin"
                ),
            ));
        }
        let sip_tls_listen = flags.sip_tls_listen.or(file.sip_tls_listen);
        let sip_tls = match tls_files {
            Some(files) => Some((
                sip_tls_listen.unwrap_or(SocketAddr::new(sip_listen.ip(), 5061)),
                files,
            )),
            None if sip_tls_listen.is_none() => None,
            None => return Err(invalid("sip-tls-listen", "needs --tls-cert and --tls-key")),
        };
        let webrtc = crate::webrtc::WebrtcConfig {
            listen: flags.webrtc_listen.or(file.webrtc_listen).unwrap_or(public),
            public_ip: flags.webrtc_public_ip.or(file.webrtc_public_ip),
            ports: match flags
                .webrtc_ports
                .as_deref()
                .or(file.webrtc_ports.as_deref())
            {
                Some(range) => {
                    let range = parse_port_range("webrtc-ports", range)?;
                    Some((*range.start(), *range.end()))
                }
                None => None,
            },
        };
        Ok(ServeConfig {
            cluster,
            admin_throttle,
            webrtc,
            db: flags
                .db
                .or(file.db)
                .map(|db| db.parse())
                .transpose()
                .map_err(|e: crate::directory::LocationError| invalid("db", e.to_string()))?,
            sip_listen,
            sip_udp_buffer,
            http_listen,
            sip_tls,
            admin_tls,
            h323_listen,
            h323_gatekeeper,
            admin_token: flags.admin_token.or(file.admin_token),
            demo: flags.demo || file.demo,
            core,
        })
    }
}

/// The per-source SIP limits from the flags, else the file, else the defaults.
fn source_limits(flags: &ServeOptions, file: &ServeOptions) -> Result<LimitConfig, ConfigError> {
    let mut limits = LimitConfig::default();
    if let Some(ms) = flags.sip_rate_window_ms.or(file.sip_rate_window_ms) {
        if ms == 0 {
            return Err(invalid("sip-rate-window-ms", "must be at least 1"));
        }
        limits.window = Duration::from_millis(ms);
    }
    if let Some(n) = flags
        .sip_max_messages_per_window
        .or(file.sip_max_messages_per_window)
    {
        if n == 0 {
            return Err(invalid("sip-max-messages-per-window", "must be at least 1"));
        }
        limits.max_messages = n;
    }
    if let Some(n) = flags
        .sip_max_bad_messages_per_window
        .or(file.sip_max_bad_messages_per_window)
    {
        limits.max_bad_messages = n;
    }
    if let Some(secs) = flags.sip_ban_secs.or(file.sip_ban_secs) {
        limits.ban = Duration::from_secs(secs);
    }
    if let Some(n) = flags
        .sip_max_transactions_per_source
        .or(file.sip_max_transactions_per_source)
    {
        if n == 0 {
            return Err(invalid(
                "sip-max-transactions-per-source",
                "must be at least 1",
            ));
        }
        limits.max_transactions = n;
    }
    if let Some(n) = flags
        .sip_max_dialogs_per_source
        .or(file.sip_max_dialogs_per_source)
    {
        limits.max_dialogs = n;
    }
    if let Some(n) = flags
        .sip_max_tracked_sources
        .or(file.sip_max_tracked_sources)
    {
        if n == 0 {
            return Err(invalid("sip-max-tracked-sources", "must be at least 1"));
        }
        limits.max_sources = n;
    }
    Ok(limits)
}

/// The admin API throttle from the flags, else the file, else the defaults.
fn admin_throttle(
    flags: &ServeOptions,
    file: &ServeOptions,
) -> Result<ThrottleConfig, ConfigError> {
    let mut throttle = ThrottleConfig::default();
    if let Some(n) = flags
        .admin_max_auth_failures
        .or(file.admin_max_auth_failures)
    {
        if n == 0 {
            return Err(invalid("admin-max-auth-failures", "must be at least 1"));
        }
        throttle.max_failures = n;
    }
    if let Some(secs) = flags
        .admin_auth_lockout_secs
        .or(file.admin_auth_lockout_secs)
    {
        throttle.lockout = Duration::from_secs(secs);
    }
    Ok(throttle)
}

fn read_file(path: &Path) -> Result<ServeOptions, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_flags_or_file() {
        let c = ServeOptions::default().resolve().unwrap();
        assert_eq!(c.sip_listen, "0.0.0.0:5060".parse::<SocketAddr>().unwrap());
        assert_eq!(
            c.http_listen,
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            c.core.sip_addr,
            "127.0.0.1:5060".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(c.h323_listen, "0.0.0.0:1720".parse::<SocketAddr>().unwrap());
        assert_eq!(c.core.rtp_ports, 20000..=29999);
        assert!(!c.demo);
    }

    #[test]
    fn the_file_may_put_the_directory_in_postgres_and_a_bad_url_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.toml");
        let resolve = |db: &str| {
            std::fs::write(&path, format!("db = \"{db}\"\n")).unwrap();
            ServeOptions {
                config: Some(path.clone()),
                ..ServeOptions::default()
            }
            .resolve()
        };
        let c = resolve("postgres://tessera:pw@db.example:5432/tessera").unwrap();
        assert_eq!(
            c.db,
            Some(crate::directory::DbLocation::Postgres(
                "postgres://tessera:pw@db.example:5432/tessera".into()
            ))
        );
        match resolve("postgres://db.example:notaport/tessera") {
            Err(ConfigError::Invalid { option, .. }) => assert_eq!(option, "db"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.toml");
        std::fs::write(
            &path,
            "sip-listen = \"127.0.0.1:5070\"\nhttp-listen = \"127.0.0.1:9000\"\nh323-listen = \"127.0.0.1:1721\"\ndemo = true\ndb = \"/var/lib/tessera/t.db\"\n\
             rtp-ports = \"30000-30099\"\npstn-trunk = [\"198.51.100.0/24\"]\nring-time-ms = 250\n\
             min-se-secs = 120\nsession-expires-secs = 600\n",
        )
        .unwrap();
        let flags = ServeOptions {
            config: Some(path),
            http_listen: Some("127.0.0.1:9100".parse::<SocketAddr>().unwrap()),
            ..ServeOptions::default()
        };
        let c = flags.resolve().unwrap();
        assert_eq!(
            c.sip_listen,
            "127.0.0.1:5070".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            c.http_listen,
            "127.0.0.1:9100".parse::<SocketAddr>().unwrap(),
            "flag wins"
        );
        assert_eq!(
            c.h323_listen,
            "127.0.0.1:1721".parse::<SocketAddr>().unwrap()
        );
        assert!(c.demo);
        assert_eq!(
            c.db,
            Some(crate::directory::DbLocation::Sqlite(
                "/var/lib/tessera/t.db".into()
            ))
        );
        assert_eq!(c.core.rtp_ports, 30000..=30099);
        assert_eq!(
            c.core.pstn_trunks,
            vec!["198.51.100.0/24".parse::<IpNet>().unwrap()]
        );
        assert_eq!(c.core.ring_time, Duration::from_millis(250));
        assert_eq!(
            (
                c.core.session_timer.min_se,
                c.core.session_timer.session_expires
            ),
            (120, 600)
        );
        assert_eq!(
            c.core.sip_addr,
            "127.0.0.1:5070".parse::<SocketAddr>().unwrap()
        );
    }

    #[test]
    fn sip_udp_buffer_comes_from_the_flag_then_the_file_and_is_bounded() {
        assert_eq!(
            ServeOptions::default().resolve().unwrap().sip_udp_buffer,
            DEFAULT_SIP_UDP_BUFFER
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.toml");
        std::fs::write(&path, "sip-udp-buffer-bytes = 1048576\n").unwrap();
        let from_file = ServeOptions {
            config: Some(path.clone()),
            ..ServeOptions::default()
        };
        assert_eq!(from_file.clone().resolve().unwrap().sip_udp_buffer, 1 << 20);
        let flag = ServeOptions {
            sip_udp_buffer_bytes: Some(8 << 20),
            ..from_file
        };
        assert_eq!(flag.resolve().unwrap().sip_udp_buffer, 8 << 20);
        let tiny = ServeOptions {
            sip_udp_buffer_bytes: Some(1000),
            ..ServeOptions::default()
        };
        let err = tiny.resolve().unwrap_err().to_string();
        assert!(err.contains("sip-udp-buffer-bytes"), "{err}");
    }

    #[test]
    fn bad_files_and_values_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "sip-listne = \"x\"\n").unwrap();
        let err = ServeOptions {
            config: Some(path),
            ..ServeOptions::default()
        }
        .resolve()
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown field `sip-listne`"),
            "{err}"
        );
        let err = ServeOptions {
            rtp_ports: Some("5000".into()),
            ..ServeOptions::default()
        }
        .resolve()
        .unwrap_err();
        assert!(err.to_string().starts_with("invalid rtp-ports"), "{err}");
        let err = ServeOptions {
            min_se_secs: Some(120),
            session_expires_secs: Some(100),
            ..ServeOptions::default()
        }
        .resolve()
        .unwrap_err();
        assert!(
            err.to_string().starts_with("invalid session-expires-secs"),
            "{err}"
        );
        assert!(ServeOptions {
            config: Some(dir.path().join("missing.toml")),
            ..ServeOptions::default()
        }
        .resolve()
        .is_err());
    }

    #[test]
    fn admin_api_on_the_network_needs_tls_or_an_explicit_flag() {
        let exposed = || ServeOptions {
            http_listen: Some("0.0.0.0:8080".parse().unwrap()),
            ..ServeOptions::default()
        };
        let err = exposed().resolve().unwrap_err();
        assert!(err.to_string().contains("--admin-tls"), "{err}");
        let allowed = ServeOptions {
            allow_plaintext_admin: true,
            ..exposed()
        };
        assert_eq!(allowed.resolve().unwrap().admin_tls, None);
        let err = ServeOptions {
            admin_tls: true,
            ..exposed()
        }
        .resolve()
        .unwrap_err();
        assert!(err.to_string().starts_with("invalid admin-tls"), "{err}");
        let files = ServeOptions {
            admin_tls: true,
            tls_cert: Some("/etc/tessera/cert.pem".into()),
            tls_key: Some("/etc/tessera/key.pem".into()),
            ..exposed()
        }
        .resolve()
        .unwrap();
        let expected = TlsFiles {
            cert: "/etc/tessera/cert.pem".into(),
            key: "/etc/tessera/key.pem".into(),
        };
        assert_eq!(files.admin_tls, Some(expected.clone()));
        assert_eq!(
            files.sip_tls,
            Some(("0.0.0.0:5061".parse().unwrap(), expected)),
            "the TLS listener defaults to port 5061"
        );
    }

    #[test]
    fn tls_options_come_in_pairs() {
        let err = ServeOptions {
            tls_cert: Some("c.pem".into()),
            ..ServeOptions::default()
        }
        .resolve()
        .unwrap_err();
        assert!(err.to_string().contains("go together"), "{err}");
        let err = ServeOptions {
            sip_tls_listen: Some("0.0.0.0:5061".parse().unwrap()),
            ..ServeOptions::default()
        }
        .resolve()
        .unwrap_err();
        assert!(
            err.to_string().starts_with("invalid sip-tls-listen"),
            "{err}"
        );
    }

    #[test]
    fn source_limits_and_admin_throttle_come_from_the_file_under_the_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.toml");
        std::fs::write(
            &path,
            "sip-rate-window-ms = 1000\nsip-max-messages-per-window = 50\nsip-ban-secs = 5\n\
             sip-max-dialogs-per-source = 7\nsip-limits-exempt = [\"10.0.0.0/8\"]\n\
             admin-max-auth-failures = 3\n",
        )
        .unwrap();
        let c = ServeOptions {
            config: Some(path),
            sip_max_messages_per_window: Some(60),
            admin_auth_lockout_secs: Some(9),
            ..ServeOptions::default()
        }
        .resolve()
        .unwrap();
        let limits = c.core.source_limits;
        assert_eq!(limits.window, Duration::from_millis(1000));
        assert_eq!(limits.max_messages, 60, "flag wins");
        assert_eq!(limits.ban, Duration::from_secs(5));
        assert_eq!(limits.max_dialogs, 7);
        assert_eq!(
            limits.max_transactions,
            LimitConfig::default().max_transactions
        );
        assert_eq!(
            c.core.source_limits_exempt,
            vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]
        );
        assert_eq!(c.admin_throttle.max_failures, 3);
        assert_eq!(c.admin_throttle.lockout, Duration::from_secs(9));
        let err = ServeOptions {
            sip_max_messages_per_window: Some(0),
            ..ServeOptions::default()
        }
        .resolve()
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid sip-max-messages-per-window"),
            "{err}"
        );
    }
}
