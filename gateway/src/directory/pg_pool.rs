//! A pool of blocking PostgreSQL connections (r2d2 over `postgres`) that may be dropped on any
//! thread, for the directory and the cluster's lease store alike.
//!
//! `postgres::Client` closes its connection by blocking on a runtime of its own when dropped,
//! which panics on a tokio worker thread ("Cannot start a runtime from within a runtime"). The
//! last handle of a pool can be dropped in async code, e.g. by the task that gave back a call's
//! licence lease as the node drained and exited; the panic in that drop then aborted the
//! process. So the last handle, when dropped inside a runtime, hands the pool to a short-lived
//! thread of its own to close the connections there.
//!
//! Owns only the pool's life; queries stay with their callers.

use std::ops::Deref;
use std::sync::Arc;

use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;

/// The connection manager of every PostgreSQL pool here.
pub type Manager = PostgresConnectionManager<NoTls>;

/// A cloneable handle on one r2d2 pool (see the module doc for why it is not the pool itself).
#[derive(Debug, Clone)]
pub struct PgPool(Arc<Holder>);

#[derive(Debug)]
struct Holder(Option<r2d2::Pool<Manager>>);

impl PgPool {
    /// Wraps `pool`.
    pub fn new(pool: r2d2::Pool<Manager>) -> Self {
        PgPool(Arc::new(Holder(Some(pool))))
    }
}

impl Deref for PgPool {
    type Target = r2d2::Pool<Manager>;

    fn deref(&self) -> &Self::Target {
        // Taken only by `Holder::drop`, when no handle is left to deref.
        self.0
             .0
            .as_ref()
            .expect("the pool is present until its last handle is dropped")
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let Some(pool) = self.0.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return; // dropped here, outside any runtime: closing blocks nothing async
        }
        let spawned = std::thread::Builder::new()
            .name("pg-pool-close".into())
            .spawn(move || drop(pool));
        if let Err(e) = spawned {
            // Without a thread the pool cannot be closed safely here; leaking its connections
            // (the server ends them when the process exits) beats aborting.
            tracing::warn!("PostgreSQL pool left open: no thread to close it on: {e}");
        }
    }
}
