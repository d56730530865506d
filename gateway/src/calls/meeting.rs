//! A live meeting inside the gateway: its lobby (the pure engine from [`crate::lobby`]) plus the
//! roster the admin API shows (names, protocols, join times) and the synthetic participants.
//!
//! Owns who is in and who waits; it must not send SIP. The call core turns its lobby events into
//! calls joining or ending.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use signaling::{ConferenceId, TenantKey};

use crate::lobby::{LobbyPolicy, MeetingLobby, ParticipantClass, ParticipantId};

use super::api::CallId;

/// A meeting's identity: tenant + conference ID.
pub type MeetingKey = (TenantKey, ConferenceId);

/// What kind of participant a roster entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// A call (SIP or H.323; the admin view asks the call which).
    Call(CallId),
    /// A synthetic participant (the demo's, the load tests' meeting side).
    Synthetic,
    /// A browser over WebRTC, by its session id (the HTTP session's capability).
    Webrtc(u128),
}

impl Member {
    /// The `protocol` field of the admin view.
    pub fn protocol(self) -> &'static str {
        match self {
            Member::Call(_) => "sip",
            Member::Synthetic => "synthetic",
            Member::Webrtc(_) => "webrtc",
        }
    }
}

/// One roster entry (in the meeting or waiting).
#[derive(Debug, Clone)]
pub struct RosterEntry {
    /// Who.
    pub member: Member,
    /// Display name.
    pub display_name: String,
    /// Trust class.
    pub class: ParticipantClass,
    /// When they joined the meeting (`None` while waiting in the lobby).
    pub joined_at: Option<Instant>,
    /// When they started waiting (`None` if they never waited).
    pub waiting_since: Option<Instant>,
}

/// One live meeting.
#[derive(Debug)]
pub struct LiveMeeting {
    /// The lobby engine.
    pub lobby: MeetingLobby,
    /// Everyone in the meeting or its lobby, by id (ids rise, so this is arrival order).
    pub roster: BTreeMap<ParticipantId, RosterEntry>,
}

impl LiveMeeting {
    /// An empty meeting.
    pub fn new(policy: LobbyPolicy, lobby_timeout: Option<Duration>) -> Self {
        LiveMeeting {
            lobby: MeetingLobby::new(policy, lobby_timeout),
            roster: BTreeMap::new(),
        }
    }

    /// Whether nobody is in or waiting (the meeting can be dropped).
    pub fn is_empty(&self) -> bool {
        self.roster.is_empty()
    }

    /// Whether `id` is waiting in the lobby.
    pub fn is_waiting(&self, id: ParticipantId) -> bool {
        self.lobby.waiting().iter().any(|w| w.id == id)
    }

    /// Whether `id` is in the meeting proper.
    pub fn is_present(&self, id: ParticipantId) -> bool {
        self.lobby.present().any(|(p, _)| p == id)
    }

    /// Marks `id` as joined at `now` (after bypassing or being admitted).
    pub fn mark_joined(&mut self, id: ParticipantId, now: Instant) {
        if let Some(entry) = self.roster.get_mut(&id) {
            entry.joined_at = Some(now);
        }
    }

    /// Removes `id` from the lobby engine and the roster.
    pub fn remove(&mut self, id: ParticipantId) -> Option<RosterEntry> {
        self.lobby.leave(id);
        self.roster.remove(&id)
    }
}
