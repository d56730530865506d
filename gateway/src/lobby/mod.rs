//! The lobby engine: the pure decision ([`LobbyPolicy::decide`]) and one meeting's lobby state
//! ([`MeetingLobby`]): who is in, who waits, admission and denial, automatic admission when the
//! first trusted participant arrives, and waiting timeouts.
//!
//! Sans-IO like `signaling/`: time comes in as `now`, results go out through
//! [`MeetingLobby::poll_event`] and [`MeetingLobby::poll_timeout`]. It must not touch calls, sockets
//! or the directory; the meeting task that owns it turns events into SIP (BYE, re-INVITE...).

mod policy;

pub(crate) use policy::named_enum;
pub use policy::{LobbyDecision, LobbyPolicy, ParticipantClass, UnknownName, WhoCanBypass};

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Identifies a participant within one gateway (calls, synthetic and native participants alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub u64);

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

impl FromStr for ParticipantId {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        s.strip_prefix('p')
            .and_then(|n| n.parse().ok())
            .map(ParticipantId)
            .ok_or_else(|| UnknownName {
                what: "participant id",
                value: s.to_owned(),
                expected: "p<number>".to_owned(),
            })
    }
}

/// Who admitted or denied someone waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// An operator through the admin API or console (holds a token for the tenant).
    Operator,
    /// A trusted participant already in the meeting.
    Participant(ParticipantId),
}

/// Why someone left the lobby for the meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmittedBecause {
    /// A trusted participant joined, and the policy now lets this one in (note 2).
    TrustedJoined,
    /// The meeting's policy changed so that this one now bypasses.
    PolicyChanged,
    /// Someone admitted them.
    Admitted(Actor),
}

/// What happened to someone who was waiting. The owner acts on each (moves the call into the
/// meeting, or ends it with a reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LobbyEvent {
    /// Moved from the lobby into the meeting.
    Admitted {
        /// Who.
        id: ParticipantId,
        /// Why.
        because: AdmittedBecause,
    },
    /// Removed from the lobby by someone.
    Denied {
        /// Who.
        id: ParticipantId,
        /// By whom.
        by: Actor,
    },
    /// Waited longer than the meeting's lobby timeout.
    TimedOut {
        /// Who.
        id: ParticipantId,
    },
}

/// Refusals of [`MeetingLobby`] operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LobbyError {
    /// The id is already in the meeting or waiting.
    #[error("{0} is already in this meeting or its lobby")]
    AlreadyHere(ParticipantId),
    /// Admit/deny of someone who is not waiting.
    #[error("{0} is not waiting in the lobby")]
    NotWaiting(ParticipantId),
    /// Admit/deny by a participant who is not a trusted member of the meeting.
    #[error("{0} is not a trusted participant of this meeting")]
    NotTrusted(ParticipantId),
}

/// Someone waiting in the lobby.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Who.
    pub id: ParticipantId,
    /// Their trust class.
    pub class: ParticipantClass,
    /// When they started waiting.
    pub since: Instant,
}

/// One meeting's lobby: who is in, who waits, and the rules between them.
#[derive(Debug)]
pub struct MeetingLobby {
    policy: LobbyPolicy,
    wait_timeout: Option<Duration>,
    present: HashMap<ParticipantId, ParticipantClass>,
    waiting: Vec<Waiting>,
    events: VecDeque<LobbyEvent>,
}

impl MeetingLobby {
    /// An empty meeting. `wait_timeout`: how long one may wait before being turned away (`None`:
    /// forever).
    pub fn new(policy: LobbyPolicy, wait_timeout: Option<Duration>) -> Self {
        MeetingLobby {
            policy,
            wait_timeout,
            present: HashMap::new(),
            waiting: Vec::new(),
            events: VecDeque::new(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &LobbyPolicy {
        &self.policy
    }

    /// Whether any trusted participant is in the meeting.
    pub fn trusted_present(&self) -> bool {
        self.present.values().any(|c| c.is_trusted())
    }

    /// Participants in the meeting, with their classes (in no particular order).
    pub fn present(&self) -> impl Iterator<Item = (ParticipantId, ParticipantClass)> + '_ {
        self.present.iter().map(|(id, class)| (*id, *class))
    }

    /// Everyone waiting, longest-waiting first.
    pub fn waiting(&self) -> &[Waiting] {
        &self.waiting
    }

    /// Someone arrives: they join at once ([`LobbyDecision::Bypass`]) or wait.
    pub fn arrive(
        &mut self,
        now: Instant,
        id: ParticipantId,
        class: ParticipantClass,
    ) -> Result<LobbyDecision, LobbyError> {
        if self.present.contains_key(&id) || self.waiting.iter().any(|w| w.id == id) {
            return Err(LobbyError::AlreadyHere(id));
        }
        let decision = self.policy.decide(class, self.trusted_present());
        match decision {
            LobbyDecision::Bypass => self.join(id, class),
            LobbyDecision::Lobby => self.waiting.push(Waiting {
                id,
                class,
                since: now,
            }),
        }
        Ok(decision)
    }

    /// Someone hung up or was removed, from the meeting or the lobby. Returns whether they were
    /// here. No event: the owner already knows.
    pub fn leave(&mut self, id: ParticipantId) -> bool {
        let before = self.present.len() + self.waiting.len();
        self.present.remove(&id);
        self.waiting.retain(|w| w.id != id);
        before != self.present.len() + self.waiting.len()
    }

    /// Admits someone waiting.
    pub fn admit(&mut self, id: ParticipantId, by: Actor) -> Result<(), LobbyError> {
        let waiting = self.take_waiting(id, by)?;
        self.events.push_back(LobbyEvent::Admitted {
            id,
            because: AdmittedBecause::Admitted(by),
        });
        self.join(id, waiting.class);
        Ok(())
    }

    /// Turns someone waiting away.
    pub fn deny(&mut self, id: ParticipantId, by: Actor) -> Result<(), LobbyError> {
        self.take_waiting(id, by)?;
        self.events.push_back(LobbyEvent::Denied { id, by });
        Ok(())
    }

    /// Applies a new effective policy (the meeting's or its tenant's default changed); whoever it
    /// now lets in is admitted.
    pub fn set_policy(&mut self, policy: LobbyPolicy) {
        self.policy = policy;
        self.readmit(AdmittedBecause::PolicyChanged);
    }

    /// Turns away everyone whose wait reached the timeout by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(limit) = self.wait_timeout else {
            return;
        };
        let events = &mut self.events;
        self.waiting.retain(|w| {
            let expired = now.saturating_duration_since(w.since) >= limit;
            if expired {
                events.push_back(LobbyEvent::TimedOut { id: w.id });
            }
            !expired
        });
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has something to do.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let limit = self.wait_timeout?;
        self.waiting.iter().map(|w| w.since + limit).min()
    }

    /// The next thing that happened to someone waiting.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<LobbyEvent> {
        self.events.pop_front()
    }

    fn take_waiting(&mut self, id: ParticipantId, by: Actor) -> Result<Waiting, LobbyError> {
        if let Actor::Participant(actor) = by {
            if !self.present.get(&actor).is_some_and(|c| c.is_trusted()) {
                return Err(LobbyError::NotTrusted(actor));
            }
        }
        let index = self
            .waiting
            .iter()
            .position(|w| w.id == id)
            .ok_or(LobbyError::NotWaiting(id))?;
        Ok(self.waiting.remove(index))
    }

    fn join(&mut self, id: ParticipantId, class: ParticipantClass) {
        self.present.insert(id, class);
        if class.is_trusted() {
            self.readmit(AdmittedBecause::TrustedJoined);
        }
    }

    /// Re-decides for everyone waiting; those who would now bypass join, in arrival order.
    fn readmit(&mut self, because: AdmittedBecause) {
        let trusted_present = self.trusted_present();
        let policy = self.policy;
        let (admitted, still): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| policy.decide(w.class, trusted_present) == LobbyDecision::Bypass);
        self.waiting = still;
        for w in admitted {
            self.events
                .push_back(LobbyEvent::Admitted { id: w.id, because });
            // An admitted trusted participant can only make more people eligible, and those are
            // re-decided by the recursive call with the same reason.
            self.join(w.id, w.class);
        }
    }
}

#[cfg(test)]
mod tests;
