//! Cluster links: how one meeting spans the nodes of a cluster. Each meeting has a home node
//! (claimed in PostgreSQL, `crate::cluster::homes`); a node whose callers are in a meeting homed
//! elsewhere dials the home with a Tessera link (`super::tessera`) of its own, and hangs it up
//! when its last local participant leaves. The meeting is thus a star around its home, and the
//! home's meeting view lists everyone (the far nodes' participants under their links).
//!
//! A cluster link is a dial-out cascade link (`super::dialout`) with two differences: it holds
//! no licence (the callers at either end hold theirs: a meeting spread over nodes must cost the
//! tenant what it costs on one), and the home knows it for one of the cluster's by digest
//! authentication with the cluster's secret (From user [`CLUSTER_USER`], realm
//! [`CLUSTER_REALM`], username the dialling node's id), so a caller who merely claims to be a
//! node is challenged like anyone naming credentials and refused without the secret.
//!
//! A draining node (SIGTERM) refuses new callers, but as a home it keeps taking the links of
//! meetings its own callers are still in, so a caller who arrives at another node meanwhile
//! joins the whole meeting. Once nobody of its own is left in such a meeting it hangs the links
//! up and gives the home up ([`HomeTask::Leave`]); the links' nodes dial again, are refused,
//! and claim the meeting afresh, and the drained node exits. Any other link it refuses. (The
//! other way, handing the home over at once and turning edge, would need a claim that does not
//! claim and an outgoing link from a draining node, for the same result.)
//!
//! The driver (`crate::server::leases`) asks [`CallCore::home_work`] which meetings' homes to
//! claim or give up, does so in PostgreSQL off the SIP task, and hands each answer to
//! [`CallCore::apply_home`]; every decision about links is taken here, on the core's clock.
//!
//! Owns the homes this node knows of and which cluster link serves which meeting; it must not
//! touch the database (the driver does) nor speak SIP itself (the link's agent does).

use std::collections::BTreeMap;
use std::time::Instant;

use signaling::sip::Message;
use signaling::ua::Credentials;

use super::dialog::header;
use super::dialout::{DialRequest, LinkId};
use super::invite::{uri_user, Refusal};
use super::{CallCore, CallId, CallKind, MeetingKey, Member, Phase};
use crate::cluster::Home;
use crate::lobby::ParticipantClass;

/// The From user of a cluster link's INVITE.
pub const CLUSTER_USER: &str = "tessera-cluster";
/// The digest realm cluster links authenticate in.
pub const CLUSTER_REALM: &str = "tessera-cluster";

/// This node in its cluster (`CoreConfig::cluster`).
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterIdentity {
    /// This node's id (`--node-id`), the username of its links' digest answers.
    pub node: String,
    /// The cluster's link secret (from the shared database), their password.
    pub secret: String,
}

impl std::fmt::Debug for ClusterIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("ClusterIdentity")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// What the driver is to do about one meeting's home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HomeTask {
    /// Someone of the meeting is here: claim its home, or learn whose it is
    /// (answer with [`CallCore::apply_home`]).
    Claim(MeetingKey),
    /// Nothing of the meeting is left here: give up our claim if we hold it.
    Leave(MeetingKey),
}

/// The homes this node knows of, and its cluster links (kept in the core).
#[derive(Debug, Default)]
pub(super) struct ClusterLinks {
    /// Meetings whose home was claimed or learnt, by the home's node id and address.
    homes: BTreeMap<MeetingKey, Home>,
    /// The dial-out link serving each meeting homed elsewhere.
    links: BTreeMap<MeetingKey, LinkId>,
}

impl CallCore {
    /// Which homes the driver should claim (meetings with participants here or, unless we
    /// drain, cluster links into them) and give up (the others we hold). Empty outside a
    /// cluster. Hangs up first the cluster links of meetings none of our participants are in
    /// any more (ours, and while draining the other nodes' into us).
    pub fn home_work(&mut self, now: Instant) -> Vec<HomeTask> {
        if self.config.cluster.is_none() {
            return Vec::new();
        }
        self.drop_idle_cluster_links(now);
        self.drop_drained_homes(now);
        let draining = self.drain_deadline.is_some();
        let mut work = Vec::new();
        let present: Vec<MeetingKey> = self
            .meetings
            .keys()
            .filter(|key| {
                self.local_participants(key) > 0
                    || (!draining && self.inbound_cluster_links(key) > 0)
            })
            .cloned()
            .collect();
        for key in &present {
            work.push(HomeTask::Claim(key.clone()));
        }
        let gone: Vec<MeetingKey> = self
            .cluster
            .homes
            .keys()
            .filter(|key| !present.contains(key))
            .cloned()
            .collect();
        for key in gone {
            self.cluster.homes.remove(&key);
            work.push(HomeTask::Leave(key));
        }
        work
    }

    /// The driver's answer to [`HomeTask::Claim`]: `home` is where `meeting` lives. Dials the
    /// home when it is another node and we have participants in the meeting, moves our link when
    /// the home moved, and hangs it up when the home is us (we took the meeting over) or nobody
    /// of ours is left.
    pub fn apply_home(&mut self, now: Instant, meeting: MeetingKey, home: Home) {
        let Some(identity) = self.config.cluster.clone() else {
            return;
        };
        let ours = home.node == identity.node;
        let wanted = !ours && self.local_participants(&meeting) > 0;
        let target = format!("sip:{}.{}@{}", meeting.0, meeting.1, home.address);
        self.cluster.homes.insert(meeting.clone(), home.clone());
        if let Some(&link) = self.cluster.links.get(&meeting) {
            let current = self.links.request_of(link).map(|r| r.uri.clone());
            if wanted && current.as_deref() == Some(target.as_str()) {
                return;
            }
            tracing::info!(link = %link, meeting = ?meeting, home = %home.node, "cluster link hung up");
            self.cluster.links.remove(&meeting);
            if let Err(e) = self.hang_up_link(now, &meeting, &link.to_string()) {
                tracing::debug!(error = %e, "cluster link already gone");
            }
        }
        if !wanted {
            return;
        }
        let request = DialRequest {
            uri: target,
            display_name: identity.node.clone(),
            credentials: Some(Credentials {
                username: identity.node.clone(),
                password: identity.secret.clone(),
            }),
        };
        match self.open_link(now, meeting.clone(), request, true) {
            Ok(link) => {
                tracing::info!(link = %link, meeting = ?meeting, home = %home.node, "cluster link dialled");
                self.cluster.links.insert(meeting, link);
            }
            Err(e) => tracing::warn!(meeting = ?meeting, error = %e, "cluster link not dialled"),
        }
        self.pump(now);
    }

    /// Hangs up the cluster links of meetings none of our participants are in any more (the
    /// link alone would keep the home's meeting up).
    fn drop_idle_cluster_links(&mut self, now: Instant) {
        let idle: Vec<(MeetingKey, LinkId)> = self
            .cluster
            .links
            .iter()
            .filter(|(key, _)| self.local_participants(key) == 0)
            .map(|(key, link)| (key.clone(), *link))
            .collect();
        for (meeting, link) in idle {
            self.cluster.links.remove(&meeting);
            tracing::info!(link = %link, meeting = ?meeting, "cluster link hung up: nobody of ours left");
            if let Err(e) = self.hang_up_link(now, &meeting, &link.to_string()) {
                tracing::debug!(error = %e, "cluster link already gone");
            }
        }
    }

    /// While draining, hangs up the cluster links other nodes opened into meetings none of our
    /// participants are in any more: `home_work` then gives those homes up, so that a live node
    /// claims each (the links' nodes dial again and find it) and this one can finish draining.
    fn drop_drained_homes(&mut self, now: Instant) {
        if self.drain_deadline.is_none() {
            return;
        }
        let inbound: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.cluster && c.link.is_none())
            .filter(|(_, c)| match &c.phase {
                Phase::Lobby(key) | Phase::InMeeting(key) => self.local_participants(key) == 0,
                _ => false,
            })
            .map(|(id, _)| *id)
            .collect();
        for call in inbound {
            tracing::info!(call = %call, "cluster link hung up: draining, nobody of ours left");
            self.end_call(now, call, Some((503, "Gateway shutting down")));
        }
    }

    /// Why a draining node refuses a cluster link into `meeting` (the link's Request-URI): it
    /// takes one only into a meeting it is the home of while callers of its own are still in
    /// it, so the meeting stays whole until they leave (then `drop_drained_homes` hands it on).
    /// Any other link gets the drain's 503, so the node still finishes draining.
    pub(super) fn refuses_link_while_draining(
        &self,
        meeting: Option<MeetingKey>,
    ) -> Option<Refusal> {
        self.drain_deadline?;
        let ours = |key: &MeetingKey| {
            let node = self.config.cluster.as_ref().map(|c| c.node.as_str());
            self.cluster.homes.get(key).map(|h| h.node.as_str()) == node
                && self.local_participants(key) > 0
        };
        match meeting {
            Some(key) if ours(&key) => None,
            _ => Some(Refusal::draining()),
        }
    }

    /// Participants of `meeting` who are here: calls other than cascade links, browsers (not
    /// synthetic participants, which every node of a demo has of its own).
    fn local_participants(&self, meeting: &MeetingKey) -> usize {
        let Some(live) = self.meetings.get(meeting) else {
            return 0;
        };
        live.roster
            .values()
            .filter(|entry| match entry.member {
                Member::Call(id) => self
                    .calls
                    .get(&id)
                    .is_some_and(|c| c.kind == CallKind::Endpoint),
                Member::Webrtc(_) => true,
                Member::Synthetic => false,
            })
            .count()
    }

    /// Cluster links other nodes opened into `meeting` here (we are, or were, its home).
    fn inbound_cluster_links(&self, meeting: &MeetingKey) -> usize {
        self.calls
            .values()
            .filter(|c| c.cluster && c.link.is_none())
            .filter(|c| matches!(&c.phase, Phase::Lobby(k) | Phase::InMeeting(k) if k == meeting))
            .count()
    }

    /// Whether an INVITE claims to be another node's cluster link (only inside a cluster).
    pub(super) fn claims_cluster_link(&self, invite: &Message) -> bool {
        self.config.cluster.is_some()
            && invite
                .from()
                .ok()
                .and_then(|f| uri_user(&f.uri))
                .is_some_and(|user| user == CLUSTER_USER)
    }

    /// Classifies an INVITE that claims to be a cluster link: challenged until it answers with
    /// the cluster's secret, then a cascade link trusted like a room system; refused with a
    /// wrong answer.
    pub(super) fn classify_cluster_link(
        &mut self,
        now: Instant,
        invite: &Message,
    ) -> Result<(ParticipantClass, CallKind), Refusal> {
        let Some(identity) = self.config.cluster.clone() else {
            return Err(Refusal::new(403, "Forbidden - Not a cluster node"));
        };
        let answer = invite
            .headers
            .get(&header("Authorization"))
            .and_then(signaling::digest::DigestResponse::parse)
            .filter(|a| a.realm == CLUSTER_REALM);
        let Some(answer) = answer else {
            return Err(self.challenge(now, CLUSTER_REALM, false));
        };
        let ha1 = |algorithm| {
            signaling::digest::ha1(algorithm, &answer.username, CLUSTER_REALM, &identity.secret)
        };
        let md5 = ha1(signaling::digest::Algorithm::Md5);
        let sha = ha1(signaling::digest::Algorithm::Sha256);
        if self.check_digest(now, &answer, CLUSTER_REALM, (&md5, &sha))? {
            tracing::info!(node = %answer.username, "cluster link from another node");
            return Ok((ParticipantClass::TrustedVtc, CallKind::Cascade));
        }
        Err(Refusal::new(403, "Forbidden - Bad cluster credentials"))
    }
}
