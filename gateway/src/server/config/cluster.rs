//! The cluster-wide licence options of `tessera serve` (`cluster-db`, `node-id`, `lease-secs`):
//! off without `cluster-db`, which must be a PostgreSQL URL.
//!
//! Owns these options' defaults and validation; it must not connect to anything.

use std::time::Duration;

use super::{invalid, ConfigError, ServeOptions};

/// Cluster-wide licences: where and as whom (`--cluster-db`, `--node-id`, `--lease-secs`).
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The shared PostgreSQL.
    pub db: crate::directory::DbLocation,
    /// This node's id.
    pub node_id: String,
    /// Lease time.
    pub lease: Duration,
}

/// Cluster-wide licences from the flags, else the file; off without `cluster-db`.
pub(super) fn resolve(
    flags: &ServeOptions,
    file: &ServeOptions,
    sip_port: u16,
) -> Result<Option<ClusterConfig>, ConfigError> {
    let secs = flags.lease_secs.or(file.lease_secs);
    let node_id = flags.node_id.clone().or_else(|| file.node_id.clone());
    let Some(url) = flags.cluster_db.as_deref().or(file.cluster_db.as_deref()) else {
        if secs.is_some() || node_id.is_some() {
            return Err(invalid(
                "cluster-db",
                "--node-id and --lease-secs need --cluster-db",
            ));
        }
        return Ok(None);
    };
    let db: crate::directory::DbLocation = url
        .parse()
        .map_err(|e: crate::directory::LocationError| invalid("cluster-db", e.to_string()))?;
    if !matches!(db, crate::directory::DbLocation::Postgres(_)) {
        return Err(invalid("cluster-db", "must be a postgres:// URL"));
    }
    let lease = Duration::from_secs(secs.unwrap_or(crate::cluster::DEFAULT_LEASE.as_secs()));
    if lease.is_zero() || lease > Duration::from_secs(86_400) {
        return Err(invalid("lease-secs", "must be between 1 and 86400"));
    }
    let node_id = match node_id {
        Some(id) if id.trim().is_empty() => return Err(invalid("node-id", "is empty")),
        Some(id) => id,
        None => format!("{}:{sip_port}", hostname()),
    };
    Ok(Some(ClusterConfig { db, node_id, lease }))
}

/// This machine's name (Linux's, as `hostname` prints it), or `localhost` when it has none.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn cluster_licences_come_from_the_file_under_the_flags_and_need_a_postgres_url() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.toml");
        std::fs::write(
            &path,
            "sip-listen = \"127.0.0.1:5070\"\ncluster-db = \"postgres://t:pw@db.example/t\"\n\
             lease-secs = 30\n",
        )
        .unwrap();
        let c = ServeOptions {
            config: Some(path.clone()),
            node_id: Some("gw-2".into()),
            ..ServeOptions::default()
        }
        .resolve()
        .unwrap();
        let cluster = c.cluster.unwrap();
        assert_eq!(cluster.node_id, "gw-2");
        assert_eq!(cluster.lease, Duration::from_secs(30));
        assert!(c.core.cluster_licences);
        // Without --node-id: hostname and SIP port; default lease 15 s.
        let c = ServeOptions {
            cluster_db: Some("postgres://db.example/t".into()),
            ..ServeOptions::default()
        }
        .resolve()
        .unwrap();
        let cluster = c.cluster.unwrap();
        assert!(cluster.node_id.ends_with(":5060"), "{}", cluster.node_id);
        assert_eq!(cluster.lease, Duration::from_secs(15));
        // Off without cluster-db, and its companions alone are refused.
        assert!(ServeOptions::default().resolve().unwrap().cluster.is_none());
        for (options, option) in [
            (
                ServeOptions {
                    lease_secs: Some(15),
                    ..ServeOptions::default()
                },
                "cluster-db",
            ),
            (
                ServeOptions {
                    cluster_db: Some("/var/lib/tessera/t.db".into()),
                    ..ServeOptions::default()
                },
                "cluster-db",
            ),
            (
                ServeOptions {
                    cluster_db: Some("postgres://db.example/t".into()),
                    lease_secs: Some(0),
                    ..ServeOptions::default()
                },
                "lease-secs",
            ),
            (
                ServeOptions {
                    cluster_db: Some("postgres://db.example/t".into()),
                    node_id: Some(" ".into()),
                    ..ServeOptions::default()
                },
                "node-id",
            ),
        ] {
            match options.resolve() {
                Err(ConfigError::Invalid { option: o, .. }) => assert_eq!(o, option),
                other => panic!("{option}: {other:?}"),
            }
        }
    }
}
