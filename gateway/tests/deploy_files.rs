//! The files under `deploy/` stay consistent with the code: every `tessera_*` metric the alert
//! rules and the Grafana dashboard use is one `gateway/src/metrics.rs` registers, every key of
//! the example configurations is an option `tessera serve` accepts (parsed with its own type,
//! which refuses unknown keys) with valid values, and the shutdown timeouts leave room for the
//! drain grace; the Kamailio cluster's manifests name every gateway replica and only defines
//! `kamailio.cfg` has. `promtool` checks the PromQL itself, `gateway/tests/cluster.rs` runs the
//! Kamailio configuration (see `deploy/README.md`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gateway::server::ServeOptions;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `tessera_...` identifier in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("tessera_") {
        let boundary = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        let len = rest[at..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len() - at);
        if boundary {
            names.insert(rest[at..at + len].to_owned());
        }
        rest = &rest[at + len..];
    }
    names
}

/// Whether `name` is a registered family, or a histogram series of one (`_bucket`, `_sum`,
/// `_count`).
fn is_registered(name: &str, registered: &BTreeSet<String>) -> bool {
    registered.contains(name)
        || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
            name.strip_suffix(suffix)
                .is_some_and(|family| registered.contains(family))
        })
}

#[test]
fn alerts_and_dashboard_use_only_metrics_the_gateway_exports() {
    // Names are registered as string literals in metrics.rs.
    let registered: BTreeSet<String> = metric_names(&read("gateway/src/metrics.rs"))
        .into_iter()
        .filter(|n| !n.ends_with('_'))
        .collect();
    assert!(
        registered.contains("tessera_calls_active"),
        "{registered:?}"
    );
    for file in [
        "deploy/prometheus/alerts.yml",
        "deploy/prometheus/alerts_test.yml",
        "deploy/grafana/tessera-dashboard.json",
    ] {
        let used = metric_names(&read(file));
        assert!(!used.is_empty(), "{file} names no tessera_ metric");
        let unknown: Vec<_> = used
            .iter()
            .filter(|n| !is_registered(n, &registered))
            .collect();
        assert!(
            unknown.is_empty(),
            "{file} uses metrics gateway/src/metrics.rs does not register: {unknown:?}"
        );
    }
}

/// Parses a TOML configuration as `tessera serve` does (unknown keys are errors) and resolves it
/// (values are validated).
fn serve_options(toml_text: &str, what: &str) -> ServeOptions {
    let options: ServeOptions =
        toml::from_str(toml_text).unwrap_or_else(|e| panic!("{what} is refused by serve: {e}"));
    if let Err(e) = options.clone().resolve() {
        panic!("{what} has an invalid value: {e}");
    }
    options
}

/// The `tessera.toml: |` block of the ConfigMap, dedented.
fn configmap_toml() -> String {
    configmap_block(&read("deploy/kubernetes/configmap.yaml"))
}

/// The `tessera.toml: |` block of a ConfigMap manifest, dedented.
fn configmap_block(manifest: &str) -> String {
    configmap_block_named(manifest, "tessera.toml: |")
}

/// The literal block after the line `key` (`name: |`) of a manifest, dedented.
fn configmap_block_named(manifest: &str, key: &str) -> String {
    let mut lines = manifest.lines().skip_while(|l| l.trim() != key);
    lines.next().unwrap_or_else(|| panic!("no {key} block"));
    let block: Vec<&str> = lines
        .take_while(|l| l.trim().is_empty() || l.starts_with("    "))
        .collect();
    assert!(block.len() >= 3, "short {key} block");
    block
        .iter()
        .map(|l| l.get(4..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The number after `key` (`TimeoutStopSec=30`, `terminationGracePeriodSeconds: 30`).
fn number_after(text: &str, key: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(key))
        .unwrap_or_else(|| panic!("no {key}"));
    line.trim_start()[key.len()..]
        .trim_start_matches([' ', '=', ':', '"'])
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{key} has no number: {line:?}"))
}

#[test]
fn example_configurations_are_accepted_by_tessera_serve() {
    let systemd = serve_options(
        &read("deploy/systemd/tessera.toml"),
        "deploy/systemd/tessera.toml",
    );
    assert_eq!(
        systemd.sip_listen,
        Some("0.0.0.0:5060".parse().unwrap()),
        "the unit grants CAP_NET_BIND_SERVICE for 5060"
    );
    let pod = serve_options(&configmap_toml(), "the ConfigMap's tessera.toml");
    let http = pod.http_listen.expect("the ConfigMap sets http-listen");
    assert!(
        http.ip().is_unspecified(),
        "in a pod, probes and Services reach the pod IP: http-listen must be 0.0.0.0, not {http}"
    );
}

#[test]
fn shutdown_timeouts_leave_room_for_the_drain_grace() {
    let grace = serve_options(&read("deploy/systemd/tessera.toml"), "systemd")
        .drain_grace_secs
        .unwrap_or(10);
    let unit = read("deploy/systemd/tessera.service");
    let stop = number_after(&unit, "TimeoutStopSec");
    assert!(
        stop > grace,
        "TimeoutStopSec={stop} <= drain-grace-secs={grace}"
    );
    assert!(unit.contains("KillSignal=SIGTERM"));

    let pod_grace = serve_options(&configmap_toml(), "ConfigMap")
        .drain_grace_secs
        .unwrap_or(10);
    let deployment = read("deploy/kubernetes/deployment.yaml");
    let termination = number_after(&deployment, "terminationGracePeriodSeconds");
    let pre_stop = number_after(&deployment, "command: [\"/bin/sleep\",");
    assert!(
        termination > pre_stop + pod_grace,
        "terminationGracePeriodSeconds={termination} <= preStop {pre_stop} + grace {pod_grace}"
    );
}

#[test]
fn dashboard_is_valid_grafana_json() {
    let text = read("deploy/grafana/tessera-dashboard.json");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 36));
    assert!(dashboard["uid"].is_string() && dashboard["title"].is_string());
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    for panel in panels {
        let id = panel["id"].as_u64().expect("panel id");
        assert!(ids.insert(id), "duplicate panel id {id}");
        if panel["type"] == "row" {
            continue;
        }
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {id} has no query");
        for target in targets {
            let expr = target["expr"].as_str().expect("expr");
            assert_eq!(
                expr.matches('(').count(),
                expr.matches(')').count(),
                "unbalanced parentheses in panel {id}: {expr}"
            );
        }
    }
}

/// The `tessera.toml: |` block of the cluster's ConfigMap, as `tessera serve` reads it.
fn cluster_options() -> ServeOptions {
    let manifest = read("deploy/kubernetes/cluster/gateways-config.yaml");
    serve_options(
        &configmap_block(&manifest),
        "the cluster ConfigMap's tessera.toml",
    )
}

#[test]
fn cluster_gateways_accept_kamailio_and_outlast_their_drain() {
    let options = cluster_options();
    assert!(
        !options.sip_limits_exempt.is_empty(),
        "every call arrives from Kamailio: the nodes must exempt its network from the \
         per-source limits"
    );
    let grace = options.drain_grace_secs.unwrap_or(10);
    let statefulset = read("deploy/kubernetes/cluster/gateways.yaml");
    let termination = number_after(&statefulset, "terminationGracePeriodSeconds");
    assert!(
        termination > grace,
        "terminationGracePeriodSeconds={termination} <= drain-grace-secs={grace}"
    );
}

#[test]
fn cluster_gateways_share_their_directory_and_licences_in_an_external_postgresql() {
    let statefulset = read("deploy/kubernetes/cluster/gateways.yaml");
    let args: Vec<&str> = statefulset
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("- "))
        .collect();
    for pair in [
        // One PostgreSQL for the directory and the licences: no pod keeps a copy of its own.
        ["--db", "$(CLUSTER_DB)"],
        ["--cluster-db", "$(CLUSTER_DB)"],
        ["--node-id", "$(POD_NAME)"],
    ] {
        assert!(
            args.windows(2).any(|w| w == pair),
            "{pair:?} in the gateways' args"
        );
    }
    let db_env = statefulset
        .split("- name: CLUSTER_DB")
        .nth(1)
        .expect("a CLUSTER_DB variable");
    assert!(
        db_env.trim_start().starts_with("valueFrom:") && db_env.contains("name: tessera-postgres"),
        "the URL comes from the tessera-postgres Secret"
    );
}

#[test]
fn kamailio_dispatches_to_every_gateway_replica_with_defines_its_config_knows() {
    let config = read("deploy/kamailio/kamailio.cfg");
    let defined: BTreeSet<&str> = config
        .lines()
        .filter_map(|l| l.strip_prefix("#!trydef "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let manifest = read("deploy/kubernetes/cluster/kamailio.yaml");
    let containerfile = read("deploy/kamailio/Containerfile");
    // `-A NAME=value` in the Deployment's args (one per line) and the image's entrypoint.
    let mut given: Vec<String> = manifest
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("- "))
        .filter(|l| l.contains('=') && !l.starts_with('-'))
        .map(|l| l.split('=').next().unwrap_or_default().to_owned())
        .collect();
    given.extend(
        containerfile
            .split("\"-A\", \"")
            .skip(1)
            .map(|rest| rest.split('=').next().unwrap_or_default().to_owned()),
    );
    assert!(given.len() >= 3, "{given:?}");
    for name in &given {
        assert!(
            defined.contains(name.as_str()),
            "-A {name} is not a define of kamailio.cfg ({defined:?})"
        );
    }

    let list = configmap_block_named(&manifest, "dispatcher.list: |");
    let nodes: Vec<&str> = list
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    let statefulset = read("deploy/kubernetes/cluster/gateways.yaml");
    let replicas = number_after(&statefulset, "replicas:");
    assert_eq!(
        nodes.len() as u64,
        replicas,
        "one dispatcher line per gateway replica: {nodes:?}"
    );
    for (i, line) in nodes.iter().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            fields,
            ["1", &format!("sip:tessera-{i}.tessera-nodes:5060"), "8"],
            "set 1, the StatefulSet pod's stable name, probed"
        );
    }
    for line in read("deploy/kamailio/dispatcher.list")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(
            fields.len() == 3 && fields[0] == "1" && fields[1].starts_with("sip:"),
            "{line:?}"
        );
    }
}
