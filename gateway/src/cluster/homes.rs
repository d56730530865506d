//! Meeting homes: each meeting live anywhere in the cluster has one home node, claimed in
//! PostgreSQL (`meeting_homes`, schema migration 9) by the first node whose caller joins it. The
//! other nodes with callers in that meeting link to the home with a Tessera link
//! (`crate::calls::cluster_links`), so the meeting is one star around its home.
//!
//! A claim is one statement: it inserts the meeting's row, or takes the row over when the node
//! holding it no longer beats (its `nodes.heartbeat` is older than one lease time, the same
//! bound in which a dead node's licences lapse), and otherwise leaves it. Racing claims on
//! several nodes therefore agree on one home. A node gives its claim up when the meeting has
//! nothing left on it, and all its claims when it stops.
//!
//! Also hands out the cluster's link secret (made once by the database, migration 9), which
//! cluster links authenticate with.
//!
//! Owns the `meeting_homes` rows; blocking like the lease store it extends, so drivers call it
//! off the SIP task. It must not decide which links exist (the core does).

use signaling::{ConferenceId, TenantKey};

use super::{LeaseError, LeaseStore};

/// Where a meeting's home is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    /// The home node's id.
    pub node: String,
    /// Its SIP address (`host:port`), as it registered it.
    pub address: String,
}

impl LeaseStore {
    /// The secret the cluster's links authenticate with (the same for every node of one
    /// database).
    pub fn cluster_secret(&self) -> Result<String, LeaseError> {
        Ok(self
            .pool
            .get()?
            .query_one("SELECT secret FROM cluster_secret", &[])?
            .get(0))
    }

    /// The home of a meeting this node has participants in: this node when nobody live holds
    /// it (claimed now), else the live node that does.
    pub fn claim_home(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<Home, LeaseError> {
        let mut conn = self.pool.get()?;
        let mut tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO meeting_homes AS h (tenant_key, conference, node, claimed) \
             VALUES ($1, $2, $3, now()) \
             ON CONFLICT (tenant_key, conference) DO UPDATE \
             SET node = EXCLUDED.node, claimed = now() \
             WHERE h.node <> EXCLUDED.node AND NOT EXISTS ( \
                 SELECT 1 FROM nodes n WHERE n.id = h.node \
                 AND n.heartbeat > now() - $4 * interval '1 millisecond')",
            &[
                &tenant.as_str(),
                &conference.as_str(),
                &self.node,
                &(self.lease_ms as f64),
            ],
        )?;
        let row = tx.query_one(
            "SELECT h.node, n.address FROM meeting_homes h JOIN nodes n ON n.id = h.node \
             WHERE h.tenant_key = $1 AND h.conference = $2",
            &[&tenant.as_str(), &conference.as_str()],
        )?;
        tx.commit()?;
        Ok(Home {
            node: row.get(0),
            address: row.get(1),
        })
    }

    /// Gives up this node's claim on a meeting (nothing of it is left here); whether it held it.
    pub fn leave_home(
        &self,
        tenant: &TenantKey,
        conference: &ConferenceId,
    ) -> Result<bool, LeaseError> {
        let gone = self.pool.get()?.execute(
            "DELETE FROM meeting_homes WHERE tenant_key = $1 AND conference = $2 AND node = $3",
            &[&tenant.as_str(), &conference.as_str(), &self.node],
        )?;
        Ok(gone > 0)
    }

    /// Gives up every home this node holds (it is stopping); how many.
    pub fn leave_all_homes(&self) -> Result<u64, LeaseError> {
        Ok(self
            .pool
            .get()?
            .execute("DELETE FROM meeting_homes WHERE node = $1", &[&self.node])?)
    }
}
