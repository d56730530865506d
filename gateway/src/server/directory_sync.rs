//! Keeps the call core's in-memory directory current. The core answers every INVITE from a
//! [`LiveDirectory`] snapshot; this task reloads that snapshot when the database changes.
//!
//! How a change is noticed: a watcher handle of its own, which never writes, polls
//! [`Directory::data_version`] every [`POLL`] on the blocking pool. SQLite: `PRAGMA data_version`,
//! which changes whenever any other connection commits. PostgreSQL: the `directory_version` row a
//! trigger bumps on every directory write, by this node, another node or the CLI. Admin API
//! writes also reload at once, before their response goes out (see `crate::http`), so a call
//! placed after a `201` sees the change; a CLI write reaches calls within [`POLL`].
//!
//! Owns the polling; it must not decide anything about calls, and a failed check or reload only
//! logs (calls keep being answered from the last good snapshot).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::directory::{Directory, LiveDirectory, ReadError};

/// How often the watcher asks whether the database changed. A check is one pragma on an idle
/// connection, so this costs nothing measurable; it bounds how late a CLI write reaches calls.
pub(super) const POLL: Duration = Duration::from_millis(250);

/// Starts watching `watcher`'s database, reloading `live` whenever it changes.
pub(super) fn spawn(live: Arc<LiveDirectory>, watcher: Directory) -> JoinHandle<()> {
    let watcher = Arc::new(watcher);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // `None`: not checked yet, so the first tick reloads whatever happened since `live` was
        // loaded.
        let mut seen: Option<i64> = None;
        loop {
            tick.tick().await;
            let (watcher, live) = (watcher.clone(), live.clone());
            let checked =
                tokio::task::spawn_blocking(move || reload_if_changed(&watcher, &live, seen)).await;
            match checked {
                Ok(Ok(version)) => seen = Some(version),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "directory reload failed; keeping the last snapshot")
                }
                Err(e) => tracing::error!(error = %e, "directory watcher task failed"),
            }
        }
    })
}

/// Reloads `live` from `watcher` unless the data version is still `seen`; the version checked.
/// The version is read before the reload, so a write landing during the reload shows as a new
/// version at the next check and is reloaded then.
fn reload_if_changed(
    watcher: &Directory,
    live: &LiveDirectory,
    seen: Option<i64>,
) -> Result<i64, ReadError> {
    let version = watcher.data_version()?;
    if seen != Some(version) {
        live.reload(watcher)?;
        tracing::debug!(version, "directory changed: snapshot reloaded");
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::DirectoryRead;
    use crate::lobby::LobbyPolicy;
    use signaling::TenantKey;

    fn tenant(key: &str) -> crate::directory::NewTenant {
        crate::directory::NewTenant {
            key: TenantKey::new(key).unwrap(),
            name: format!("Tenant {key}"),
            hostnames: Vec::new(),
            prefix: None,
            endpoint_licenses: 1,
            cascade_licenses: 0,
            policy: LobbyPolicy::default(),
        }
    }

    fn keys(live: &LiveDirectory) -> Vec<String> {
        live.tenants()
            .unwrap()
            .into_iter()
            .map(|t| t.key.to_string())
            .collect()
    }

    #[test]
    fn only_a_commit_by_another_connection_triggers_a_reload() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("tessera.db");
        let mut watcher = Directory::open(&path).unwrap();
        let live = LiveDirectory::load(&watcher).unwrap();

        // The first check always reloads.
        let first = reload_if_changed(&watcher, &live, None).unwrap();
        assert!(keys(&live).is_empty());

        // Unchanged version: no reload (shown by a write the watcher's own connection makes,
        // which SQLite does not count as a change for it and which a reload would pick up).
        watcher.add_tenant(&tenant("11111111")).unwrap();
        assert_eq!(
            reload_if_changed(&watcher, &live, Some(first)).unwrap(),
            first
        );
        assert!(keys(&live).is_empty(), "reloaded without a change");

        // Another connection commits (the CLI, an admin request): reloaded, whole.
        let mut cli = Directory::open(&path).unwrap();
        cli.add_tenant(&tenant("22222222")).unwrap();
        let second = reload_if_changed(&watcher, &live, Some(first)).unwrap();
        assert_ne!(second, first);
        assert_eq!(keys(&live), ["11111111", "22222222"]);
    }
}
