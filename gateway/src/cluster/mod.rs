//! What gateways of a cluster share through PostgreSQL beyond the directory: cluster-wide
//! licence leases ([`LeaseStore`]), meeting homes (`homes`) and the task that keeps this node's leases alive
//! ([`spawn_renewal`]).
//!
//! Owns the lease rows and their renewal; it must not touch calls or the SIP task (drivers ask it
//! off that task and hand the answers to the core).

mod homes;
mod leases;

pub use homes::Home;
pub use leases::{Admission, LeaseError, LeaseStore, DEFAULT_LEASE};

use tokio::task::JoinHandle;

/// Renews this node's leases every [`LeaseStore::renew_every`] until the returned task is
/// aborted (or the runtime stops). A failed renewal is logged and retried at the next tick: the
/// leases stay alive until two renewals in a row have failed.
pub fn spawn_renewal(store: LeaseStore) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(store.renew_every());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let s = store.clone();
            match tokio::task::spawn_blocking(move || s.renew()).await {
                Ok(Ok(held)) => tracing::trace!(node = store.node(), held, "leases renewed"),
                Ok(Err(e)) => tracing::warn!(node = store.node(), "lease renewal failed: {e}"),
                Err(e) => tracing::warn!(node = store.node(), "lease renewal panicked: {e}"),
            }
        }
    })
}
