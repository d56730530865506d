//! Cluster-wide licences: each admitted call of any node holds a lease row in the shared
//! PostgreSQL (`licence_leases`, schema migration 7), and a call is admitted only while its
//! tenant's live leases of its kind are fewer than its licences, counted across every node.
//!
//! Admission is one transaction: an advisory lock on (tenant, kind) serialises the admissions of
//! that tenant on every node, then the live leases are counted and the new one inserted. Under
//! READ COMMITTED each statement sees everything committed before it, and the lock is held until
//! commit, so two racing admissions never both see room for one.
//!
//! Leases expire on the database's clock (`now()`), so nodes' clocks need not agree. A running
//! node renews all its leases every lease/3 ([`LeaseStore::renew`]) and releases a call's lease
//! when the call ends; the leases of a node that died lapse within one lease time and stop
//! counting. A node that restarts under the same id drops its old leases at once.
//!
//! Owns the lease and node rows; blocking (the `postgres` client behind an r2d2 pool), so a
//! driver calls it off the SIP task. It must not decide a call's fate beyond admitted or full,
//! nor read the directory (the caller passes the licence count it read).

use std::time::Duration;

use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;
use signaling::TenantKey;

use crate::calls::CallKind;
use crate::directory::{pg_migrate, DbLocation, PgMigrationError};

/// Default lease time (`--lease-secs`): how long a dead node's calls keep their licences.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15);

/// Why a lease operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The location is not a PostgreSQL URL: SQLite is one gateway, which counts its own calls.
    #[error("cluster licences need a PostgreSQL directory, not {0}")]
    NotPostgres(DbLocation),
    /// The node id is empty.
    #[error("the node id is empty")]
    EmptyNodeId,
    /// The lease time is under one second or over a day.
    #[error("lease time {0:?} is not between 1 s and 1 day")]
    LeaseTime(Duration),
    /// No pooled connection could be had in time.
    #[error("PostgreSQL pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// The database failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
    /// The schema could not be brought up to date.
    #[error(transparent)]
    Migration(#[from] PgMigrationError),
    /// The blocking task running the operation failed.
    #[error("lease task failed: {0}")]
    Join(String),
}

/// What an admission came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The call holds a lease now.
    Admitted,
    /// Every licence is held (by live leases of any node); the call is to be refused.
    Full {
        /// Live leases of this tenant and kind, cluster-wide.
        held: u32,
    },
}

type Pool = crate::directory::pg_pool::PgPool;

/// This node's handle on the shared lease table.
#[derive(Debug, Clone)]
pub struct LeaseStore {
    pub(super) pool: Pool,
    pub(super) node: String,
    /// Lease time in whole milliseconds, as bound into the SQL.
    pub(super) lease_ms: i64,
}

impl LeaseStore {
    /// Connects (a pool of up to `pool_size` connections), brings the schema up to date,
    /// registers this node (`node` with its SIP `address`) and drops any leases an earlier run of
    /// the same node left.
    pub fn connect(
        db: &DbLocation,
        node: &str,
        address: &str,
        lease: Duration,
        pool_size: u32,
    ) -> Result<Self, LeaseError> {
        let config = db
            .postgres_config()
            .ok_or_else(|| LeaseError::NotPostgres(db.clone()))?;
        if node.is_empty() {
            return Err(LeaseError::EmptyNodeId);
        }
        if lease < Duration::from_secs(1) || lease > Duration::from_secs(86_400) {
            return Err(LeaseError::LeaseTime(lease));
        }
        let pool = Pool::new(
            r2d2::Pool::builder()
                .max_size(pool_size.max(1))
                .connection_timeout(Duration::from_secs(5))
                .build(PostgresConnectionManager::new(config, NoTls))?,
        );
        pg_migrate(&mut *pool.get()?)?;
        let store = LeaseStore {
            pool,
            node: node.to_owned(),
            lease_ms: i64::try_from(lease.as_millis()).unwrap_or(i64::MAX),
        };
        let mut conn = store.pool.get()?;
        let mut tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO nodes (id, address, heartbeat) VALUES ($1, $2, now()) \
             ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, heartbeat = now()",
            &[&store.node, &address],
        )?;
        tx.execute("DELETE FROM licence_leases WHERE node = $1", &[&store.node])?;
        tx.commit()?;
        Ok(store)
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// How often a running node renews its leases: a third of the lease time, so two renewals
    /// may fail before a live call's lease lapses.
    pub fn renew_every(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.lease_ms / 3).unwrap_or(1).max(1))
    }

    /// Takes a lease for `call` if the tenant has a `kind` licence free cluster-wide out of its
    /// `licences`. Asking again for a call that holds a lease renews it and admits it.
    pub fn acquire(
        &self,
        tenant: &TenantKey,
        kind: CallKind,
        call: &str,
        licences: u32,
    ) -> Result<Admission, LeaseError> {
        let mut conn = self.pool.get()?;
        let mut tx = conn.transaction()?;
        let scope = format!("{tenant}/{}", kind.licence());
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&scope],
        )?;
        let held: i64 = tx
            .query_one(
                "SELECT count(*) FROM licence_leases WHERE tenant_key = $1 AND kind = $2 \
                 AND expires > now() AND NOT (node = $3 AND call_id = $4)",
                &[&tenant.as_str(), &kind.licence(), &self.node, &call],
            )?
            .get(0);
        let held = u32::try_from(held).unwrap_or(u32::MAX);
        if held >= licences {
            return Ok(Admission::Full { held });
        }
        // A lapsed lease under the same key (this node's, from before a stall) is taken over.
        tx.execute(
            "INSERT INTO licence_leases (node, call_id, tenant_key, kind, expires) \
             VALUES ($1, $2, $3, $4, now() + $5 * interval '1 millisecond') \
             ON CONFLICT (node, call_id) DO UPDATE SET tenant_key = EXCLUDED.tenant_key, \
             kind = EXCLUDED.kind, expires = EXCLUDED.expires",
            &[
                &self.node,
                &call,
                &tenant.as_str(),
                &kind.licence(),
                &(self.lease_ms as f64),
            ],
        )?;
        tx.commit()?;
        Ok(Admission::Admitted)
    }

    /// Gives up a call's lease (the call ended); whether it held one.
    pub fn release(&self, call: &str) -> Result<bool, LeaseError> {
        let gone = self.pool.get()?.execute(
            "DELETE FROM licence_leases WHERE node = $1 AND call_id = $2",
            &[&self.node, &call],
        )?;
        Ok(gone > 0)
    }

    /// Gives up every lease this node holds (it is shutting down); how many there were.
    pub fn release_all(&self) -> Result<u64, LeaseError> {
        Ok(self
            .pool
            .get()?
            .execute("DELETE FROM licence_leases WHERE node = $1", &[&self.node])?)
    }

    /// The node's heartbeat: pushes every lease this node holds one lease time ahead, and drops
    /// leases of any node that lapsed (they count for nothing already; this keeps the table
    /// small). Returns how many leases this node holds.
    pub fn renew(&self) -> Result<u64, LeaseError> {
        let mut conn = self.pool.get()?;
        let mut tx = conn.transaction()?;
        tx.execute(
            "UPDATE nodes SET heartbeat = now() WHERE id = $1",
            &[&self.node],
        )?;
        let held = tx.execute(
            "UPDATE licence_leases SET expires = now() + $2 * interval '1 millisecond' \
             WHERE node = $1",
            &[&self.node, &(self.lease_ms as f64)],
        )?;
        tx.execute("DELETE FROM licence_leases WHERE expires <= now()", &[])?;
        tx.commit()?;
        Ok(held)
    }

    /// Live leases of a tenant's `kind` licences, cluster-wide (for gauges and tests).
    pub fn held(&self, tenant: &TenantKey, kind: CallKind) -> Result<u32, LeaseError> {
        let held: i64 = self
            .pool
            .get()?
            .query_one(
                "SELECT count(*) FROM licence_leases WHERE tenant_key = $1 AND kind = $2 \
                 AND expires > now()",
                &[&tenant.as_str(), &kind.licence()],
            )?
            .get(0);
        Ok(u32::try_from(held).unwrap_or(u32::MAX))
    }
}
