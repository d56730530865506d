//! One browser's join session: its id (the capability in the session URLs), its meeting, its
//! place (participant number once the core gave one), its peer, and the event stream the page
//! follows (lobby state, layout of its receive slots).
//!
//! Owns the session table and each session's latest states, so a page that (re)connects its
//! event stream first gets where things stand; it must not decide anything (the core decides the
//! lobby, the engine the slots).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;

use super::peer::Peer;

/// What a session's event stream carries (serialised by `http::join`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// Lobby state: `waiting`, `admitted`, `denied`, `removed`; and why.
    Lobby {
        /// The state.
        state: &'static str,
        /// Why (empty when there is nothing to say).
        reason: String,
    },
    /// Who each receive slot shows, by mid.
    Layout(Vec<(String, Option<u64>)>),
}

/// One browser's session.
pub struct Session {
    /// 128-bit random id.
    pub id: u128,
    /// Tenant key.
    pub tenant: String,
    /// Conference ID.
    pub conference: String,
    /// Display name.
    pub name: String,
    /// Whether its grant names it the organizer (it may admit and deny).
    pub organizer: bool,
    state: Mutex<State>,
    events: broadcast::Sender<SessionEvent>,
}

#[derive(Default)]
struct State {
    participant: Option<u64>,
    lobby: Option<SessionEvent>,
    layout: Option<SessionEvent>,
    peer: Option<Arc<Peer>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("tenant", &self.tenant)
            .field("conference", &self.conference)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session of `name` for a meeting, with nothing decided yet.
    pub fn new(
        id: u128,
        tenant: String,
        conference: String,
        name: String,
        organizer: bool,
    ) -> Self {
        Session {
            id,
            tenant,
            conference,
            name,
            organizer,
            state: Mutex::new(State::default()),
            events: broadcast::channel(64).0,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        crate::media::pool::lock(&self.state)
    }

    /// Its participant number, once the core gave one.
    pub fn participant(&self) -> Option<u64> {
        self.state().participant
    }

    /// The core gave it participant number `id`.
    pub fn set_participant(&self, id: u64) {
        self.state().participant = Some(id);
    }

    /// Its peer connection.
    pub fn peer(&self) -> Option<Arc<Peer>> {
        self.state().peer.clone()
    }

    /// Sets its peer connection.
    pub fn set_peer(&self, peer: Arc<Peer>) {
        self.state().peer = Some(peer);
    }

    /// Takes its peer connection (leaving).
    pub fn take_peer(&self) -> Option<Arc<Peer>> {
        self.state().peer.take()
    }

    /// Publishes an event, remembered as the latest of its kind.
    pub fn publish(&self, event: SessionEvent) {
        {
            let mut state = self.state();
            match &event {
                SessionEvent::Lobby { .. } => state.lobby = Some(event.clone()),
                SessionEvent::Layout(_) => state.layout = Some(event.clone()),
            }
        }
        // Nobody listening is fine: the latest state is kept for the next subscriber.
        let _ = self.events.send(event);
    }

    /// The latest lobby and layout events, and the stream of those that follow.
    pub fn subscribe(&self) -> (Vec<SessionEvent>, broadcast::Receiver<SessionEvent>) {
        let state = self.state();
        let receiver = self.events.subscribe();
        let latest = [state.lobby.clone(), state.layout.clone()]
            .into_iter()
            .flatten()
            .collect();
        (latest, receiver)
    }

    /// The latest lobby state.
    pub fn lobby_state(&self) -> Option<&'static str> {
        match self.state().lobby {
            Some(SessionEvent::Lobby { state, .. }) => Some(state),
            _ => None,
        }
    }
}

/// The live sessions, by id. Cheap to clone.
#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<HashMap<u128, Arc<Session>>>>);

impl Sessions {
    fn map(&self) -> MutexGuard<'_, HashMap<u128, Arc<Session>>> {
        crate::media::pool::lock(&self.0)
    }

    /// Adds a session.
    pub fn insert(&self, session: Arc<Session>) {
        self.map().insert(session.id, session);
    }

    /// The session `id`.
    pub fn get(&self, id: u128) -> Option<Arc<Session>> {
        self.map().get(&id).cloned()
    }

    /// Removes the session `id`.
    pub fn remove(&self, id: u128) -> Option<Arc<Session>> {
        self.map().remove(&id)
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_subscriber_gets_the_latest_lobby_and_layout_first() {
        let s = Session::new(1, "t".into(), "c".into(), "n".into(), false);
        s.publish(SessionEvent::Lobby {
            state: "waiting",
            reason: String::new(),
        });
        s.publish(SessionEvent::Lobby {
            state: "admitted",
            reason: String::new(),
        });
        s.publish(SessionEvent::Layout(vec![("2".into(), Some(7))]));
        let (latest, mut rx) = s.subscribe();
        assert_eq!(
            latest,
            [
                SessionEvent::Lobby {
                    state: "admitted",
                    reason: String::new()
                },
                SessionEvent::Layout(vec![("2".into(), Some(7))]),
            ]
        );
        s.publish(SessionEvent::Layout(vec![]));
        assert_eq!(rx.try_recv().unwrap(), SessionEvent::Layout(vec![]));
        assert_eq!(s.lobby_state(), Some("admitted"));
    }
}
