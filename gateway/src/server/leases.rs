//! The driver of cluster-wide licences: connects this node's [`LeaseStore`] at start (with its
//! renewal task), takes the core's lease requests and releases to the blocking store on tokio's
//! blocking threads, and hands the answers back to the SIP task through a channel, so that a slow
//! database delays only the INVITEs waiting on it, never SIP.
//!
//! The same store keeps the meeting homes (`crate::cluster::homes`): the driver claims and gives
//! them up as the core's [`HomeTask`]s say, and hands the homes back to the core the same way.
//!
//! An H.323 Setup or a dial-out that waits for its lease waits here too ([`Waiters`]): the
//! connection task's or the admin request's reply is kept until the core's decision comes.
//!
//! Owns the store and its renewal task; it must not decide anything about calls (the core does,
//! in `calls::licence_leases` and `calls::cluster_links`).

use std::collections::HashMap;

use signaling::TenantKey;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::h323::{SetupRequest, ToCall};
use crate::calls::{
    AdminError, AdminReply, CallId, CallKind, ClusterIdentity, HomeTask, LeaseAnswer, LeaseOutcome,
    LeaseTicket, MeetingKey,
};
use crate::cluster::{spawn_renewal, Admission, Home, LeaseError, LeaseStore};
use crate::server::config::ClusterConfig;

/// Most pooled connections one node holds to the shared PostgreSQL.
const POOL_SIZE: u32 = 8;

/// Answers coming back to the SIP task.
pub(super) type Answers = mpsc::UnboundedReceiver<(LeaseTicket, LeaseAnswer)>;

/// Meeting homes coming back to the SIP task.
pub(super) type Homes = mpsc::UnboundedReceiver<(MeetingKey, Home)>;

/// This node's lease store, when the cluster counts licences.
pub(super) struct LeaseDriver {
    store: Option<LeaseStore>,
    answers: mpsc::UnboundedSender<(LeaseTicket, LeaseAnswer)>,
    homes: mpsc::UnboundedSender<(MeetingKey, Home)>,
    renewal: Option<JoinHandle<()>>,
    /// This node and the cluster's link secret, read at start.
    identity: Option<ClusterIdentity>,
    /// A round of home claims is in flight (rounds never overlap: a slow database delays the
    /// next one instead of piling them up).
    busy: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl LeaseDriver {
    /// Connects to the cluster's database (when configured) as node `address`'s id.
    pub(super) async fn start(
        cluster: Option<&ClusterConfig>,
        address: String,
    ) -> Result<(LeaseDriver, Answers, Homes), LeaseError> {
        let (answers, rx) = mpsc::unbounded_channel();
        let (homes, homes_rx) = mpsc::unbounded_channel();
        let (store, identity) = match cluster {
            Some(c) => {
                let c = c.clone();
                let (store, secret) = tokio::task::spawn_blocking(move || {
                    let store =
                        LeaseStore::connect(&c.db, &c.node_id, &address, c.lease, POOL_SIZE)?;
                    let secret = store.cluster_secret()?;
                    Ok::<_, LeaseError>((store, secret))
                })
                .await
                .map_err(|e| LeaseError::Join(e.to_string()))??;
                tracing::info!(
                    node = store.node(),
                    "cluster licences and meeting homes in PostgreSQL"
                );
                let identity = ClusterIdentity {
                    node: store.node().to_owned(),
                    secret,
                };
                (Some(store), Some(identity))
            }
            None => (None, None),
        };
        let renewal = store.clone().map(spawn_renewal);
        Ok((
            LeaseDriver {
                store,
                answers,
                homes,
                renewal,
                identity,
                busy: Default::default(),
            },
            rx,
            homes_rx,
        ))
    }

    /// This node in its cluster (for the core's configuration), when it is in one.
    pub(super) fn identity(&self) -> Option<ClusterIdentity> {
        self.identity.clone()
    }

    /// Claims or gives up meeting homes as the core asks; each claimed home comes back on the
    /// homes channel. Skipped while the previous round is still running.
    pub(super) fn homes(&self, work: Vec<HomeTask>) {
        use std::sync::atomic::Ordering;
        let Some(store) = self.store.clone() else {
            return;
        };
        if work.is_empty() || self.busy.swap(true, Ordering::AcqRel) {
            return;
        }
        let (homes, busy) = (self.homes.clone(), self.busy.clone());
        tokio::task::spawn_blocking(move || {
            for task in work {
                match task {
                    HomeTask::Claim(meeting) => match store.claim_home(&meeting.0, &meeting.1) {
                        Ok(home) => {
                            let _ = homes.send((meeting, home));
                        }
                        Err(e) => {
                            tracing::warn!(meeting = ?meeting, "meeting home not claimed: {e}")
                        }
                    },
                    HomeTask::Leave(meeting) => {
                        if let Err(e) = store.leave_home(&meeting.0, &meeting.1) {
                            tracing::warn!(meeting = ?meeting, "meeting home not given up: {e}");
                        }
                    }
                }
            }
            busy.store(false, Ordering::Release);
        });
    }

    /// Asks the store for a lease; the answer arrives on the channel.
    pub(super) fn request(
        &self,
        ticket: LeaseTicket,
        tenant: TenantKey,
        kind: CallKind,
        licences: u32,
        lease: String,
    ) {
        let answers = self.answers.clone();
        let Some(store) = self.store.clone() else {
            tracing::warn!("a lease was asked for without --cluster-db");
            let _ = answers.send((ticket, LeaseAnswer::Unavailable));
            return;
        };
        tokio::spawn(async move {
            let result =
                tokio::task::spawn_blocking(move || store.acquire(&tenant, kind, &lease, licences))
                    .await;
            let answer = match result {
                Ok(Ok(Admission::Admitted)) => LeaseAnswer::Admitted,
                Ok(Ok(Admission::Full { .. })) => LeaseAnswer::Full,
                Ok(Err(e)) => {
                    tracing::warn!("licence lease not taken: {e}");
                    LeaseAnswer::Unavailable
                }
                Err(e) => {
                    tracing::warn!("licence lease task failed: {e}");
                    LeaseAnswer::Unavailable
                }
            };
            let _ = answers.send((ticket, answer));
        });
    }

    /// Gives a lease back (its call ended). This node renews every lease it holds, so a lease
    /// whose release failed would stay taken while the node runs: the release is retried (every
    /// second, for up to a minute) until the database takes it.
    pub(super) fn release(&self, lease: String) {
        let Some(store) = self.store.clone() else {
            return;
        };
        tokio::spawn(async move {
            for attempt in 1..=60 {
                let s = store.clone();
                let l = lease.clone();
                match tokio::task::spawn_blocking(move || s.release(&l)).await {
                    Ok(Ok(_)) => return,
                    Ok(Err(e)) => tracing::warn!(lease, attempt, "licence lease not released: {e}"),
                    Err(e) => tracing::warn!(lease, attempt, "licence lease release failed: {e}"),
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            tracing::error!(
                lease,
                "licence lease never released; it is held until this node restarts"
            );
        });
    }
}

impl LeaseDriver {
    /// At the end of a drain: stops renewing and gives up whatever leases are left (releases
    /// still in flight when the process exits would otherwise hold their licences for a lease
    /// time).
    pub(super) async fn stop(mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        let Some(store) = self.store.take() else {
            return;
        };
        let homes = store.clone();
        match tokio::task::spawn_blocking(move || homes.leave_all_homes()).await {
            Ok(Ok(n)) => tracing::info!(homes = n, "meeting homes given up"),
            Ok(Err(e)) => {
                tracing::warn!("meeting homes not given up (they move when we stop beating): {e}")
            }
            Err(e) => tracing::warn!("meeting homes not given up: {e}"),
        }
        match tokio::task::spawn_blocking(move || store.release_all()).await {
            Ok(Ok(n)) => tracing::info!(released = n, "cluster licence leases given up"),
            Ok(Err(e)) => tracing::warn!("leases not given up (they lapse by themselves): {e}"),
            Err(e) => tracing::warn!("leases not given up (they lapse by themselves): {e}"),
        }
    }
}

impl Drop for LeaseDriver {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
    }
}

/// H.323 Setups and dial-outs waiting for a cluster-wide licence lease, with where their answer
/// goes (an INVITE's goes out in SIP).
#[derive(Default)]
pub(super) struct Waiters {
    setups: HashMap<LeaseTicket, SetupRequest>,
    dials: HashMap<LeaseTicket, oneshot::Sender<Result<AdminReply, AdminError>>>,
}

impl Waiters {
    /// A Setup the core answered `H323Admit::AwaitingLease`.
    pub(super) fn setup(&mut self, ticket: LeaseTicket, setup: SetupRequest) {
        self.setups.insert(ticket, setup);
    }

    /// An admin request the core answered `AdminReply::AwaitingLease`.
    pub(super) fn dial(
        &mut self,
        ticket: LeaseTicket,
        reply: oneshot::Sender<Result<AdminReply, AdminError>>,
    ) {
        self.dials.insert(ticket, reply);
    }

    /// Hands the core's decision on a lease answer to whoever waits for it; the admitted H.323
    /// call to end as a hang-up when its connection went away meanwhile.
    #[must_use]
    pub(super) fn answer(
        &mut self,
        ticket: LeaseTicket,
        outcome: Option<LeaseOutcome>,
        h323_calls: &mut HashMap<CallId, mpsc::UnboundedSender<ToCall>>,
    ) -> Option<CallId> {
        match outcome? {
            LeaseOutcome::H323(decision) => {
                let setup = self.setups.remove(&ticket)?;
                super::h323::answer(setup, decision, h323_calls)
            }
            LeaseOutcome::DialOut(result) => {
                // A request whose client left meanwhile still dials, as any dial does once
                // asked for (the link is listed and hung up as usual).
                if let Some(reply) = self.dials.remove(&ticket) {
                    let _ = reply.send(result);
                }
                None
            }
        }
    }
}
