//! The roster body two Tessera nodes exchange over a Tessera cascade link, in a SIP INFO of type
//! [`CONTENT_TYPE`] (format in `docs/cascades.md`): who is in the meeting on the sending side,
//! under which names and kinds, the SSRC each one's video is forwarded on over the link (when
//! it is), the speaker order (most recent first) and how many wait in its lobby.
//!
//! Owns the JSON shape, its bounds and its validation: a body from the far node is untrusted
//! input, so parsing is bounded ([`MAX_BODY_LEN`], [`MAX_PARTICIPANTS`], [`MAX_NAME_LEN`]) and
//! fails with a [`RosterError`], never a panic. It must not decide who goes in a roster (the
//! sender lists its local participants only, never those that came over the link it sends on:
//! that is the gateway's no-echo rule, `gateway::calls::tessera`) nor send SIP. It sits here,
//! beside the SDP marker, because it is a wire format carried in SIP, and so that its fuzz
//! target builds without the gateway.

use serde::{Deserialize, Serialize};

/// The INFO body's media type.
pub const CONTENT_TYPE: &str = "application/vnd.tessera.cascade+json";

/// The body format version (the SDP marker's, `signaling::sdp::cascade::VERSION`).
pub const FORMAT_VERSION: u32 = crate::sdp::cascade::VERSION;

/// Largest body accepted, in bytes (a full roster of [`MAX_PARTICIPANTS`] fits with room).
pub const MAX_BODY_LEN: usize = 64 * 1024;

/// Most participants one roster may list.
pub const MAX_PARTICIPANTS: usize = 256;

/// Longest participant id or display name, in characters.
pub const MAX_NAME_LEN: usize = 128;

/// Why a roster body was refused (the INFO is answered 400 with this as the reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    /// Longer than [`MAX_BODY_LEN`].
    #[error("roster body too large: {0} bytes")]
    TooLarge(usize),
    /// Not JSON of the roster's shape (`detail` is serde's message).
    #[error("roster body is not valid: {0}")]
    Malformed(String),
    /// A format version this node does not speak.
    #[error("roster format version {0} not supported")]
    Version(u32),
    /// More than [`MAX_PARTICIPANTS`] participants.
    #[error("roster lists {0} participants")]
    TooMany(usize),
    /// An id or name empty, too long or holding control characters.
    #[error("roster participant {0:?} has an unusable id or name")]
    BadEntry(String),
    /// Two participants share an id.
    #[error("roster lists participant {0:?} twice")]
    Duplicate(String),
    /// Two participants' video would arrive on one SSRC.
    #[error("roster gives SSRC {0} to two participants")]
    DuplicateSsrc(u32),
    /// The speaker order names someone the roster does not list.
    #[error("speaker order names unknown participant {0:?}")]
    UnknownSpeaker(String),
}

/// What kind of participant a roster entry is (as in the meeting view's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoteKind {
    /// A room system or PSTN caller.
    Endpoint,
    /// A browser (WebRTC).
    Browser,
    /// A synthetic (demo) participant.
    Synthetic,
    /// A foreign bridge cascaded into the far node, standing for all of its participants.
    Cascade,
}

/// One participant of the sending node's meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterEntry {
    /// The sender's participant id (`p7`), unique within the roster.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it is.
    pub kind: RemoteKind,
    /// The SSRC the link's video carries this participant's picture on whenever the sender
    /// forwards it (the SSRC is the participant's for the link's lifetime; absent: never
    /// forwarded, or a node that sends one picture only). Optional so that rosters without it
    /// (format 1 as first published) still parse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssrc: Option<u32>,
}

impl RosterEntry {
    /// An entry for one of our participants, made acceptable to the far node whatever the name
    /// is (a From display name may be long or hold control characters): control characters
    /// become spaces, the name is clipped to [`MAX_NAME_LEN`], and an empty one becomes the id.
    pub fn local(id: String, name: &str, kind: RemoteKind) -> Self {
        let cleaned: String = name
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(MAX_NAME_LEN)
            .collect();
        let name = if cleaned.trim().is_empty() {
            id.clone()
        } else {
            cleaned
        };
        RosterEntry {
            id,
            name,
            kind,
            ssrc: None,
        }
    }

    /// The same entry, naming the SSRC its video is forwarded on.
    #[must_use]
    pub fn with_ssrc(mut self, ssrc: u32) -> Self {
        self.ssrc = Some(ssrc);
        self
    }
}

/// A whole roster body: the sending node's view of its own side of the meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// The sending node's name (its SIP host), for logs and the meeting view.
    pub node: String,
    /// Its local participants, never those it received over this link.
    pub participants: Vec<RosterEntry>,
    /// Ids of `participants`, most recent speaker first.
    #[serde(default)]
    pub speakers: Vec<String>,
    /// How many wait in its lobby.
    #[serde(default)]
    pub lobby: u32,
}

impl Roster {
    /// Parses and validates a body received in an INFO.
    pub fn parse(body: &[u8]) -> Result<Self, RosterError> {
        if body.len() > MAX_BODY_LEN {
            return Err(RosterError::TooLarge(body.len()));
        }
        let roster: Roster =
            serde_json::from_slice(body).map_err(|e| RosterError::Malformed(e.to_string()))?;
        roster.validate()?;
        Ok(roster)
    }

    /// The body to send (compact JSON).
    pub fn to_body(&self) -> Vec<u8> {
        // A struct of strings, numbers and a unit enum always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The checks `parse` makes after the JSON shape: version, counts, usable and unique ids,
    /// speakers that exist.
    pub fn validate(&self) -> Result<(), RosterError> {
        if self.version != FORMAT_VERSION {
            return Err(RosterError::Version(self.version));
        }
        if self.participants.len() > MAX_PARTICIPANTS {
            return Err(RosterError::TooMany(self.participants.len()));
        }
        if !usable(&self.node) {
            return Err(RosterError::BadEntry(clip(&self.node)));
        }
        let mut ids = std::collections::HashSet::with_capacity(self.participants.len());
        let mut ssrcs = std::collections::HashSet::new();
        for entry in &self.participants {
            if let Some(ssrc) = entry.ssrc.filter(|s| !ssrcs.insert(*s)) {
                return Err(RosterError::DuplicateSsrc(ssrc));
            }
            if !usable(&entry.id) || !usable(&entry.name) {
                return Err(RosterError::BadEntry(clip(&entry.id)));
            }
            if !ids.insert(entry.id.as_str()) {
                return Err(RosterError::Duplicate(clip(&entry.id)));
            }
        }
        if self.speakers.len() > MAX_PARTICIPANTS {
            return Err(RosterError::TooMany(self.speakers.len()));
        }
        if let Some(unknown) = self.speakers.iter().find(|s| !ids.contains(s.as_str())) {
            return Err(RosterError::UnknownSpeaker(clip(unknown)));
        }
        Ok(())
    }
}

/// Non-empty, at most [`MAX_NAME_LEN`] characters, no control characters (names end up in logs
/// and on tiles).
fn usable(text: &str) -> bool {
    !text.trim().is_empty()
        && text.chars().count() <= MAX_NAME_LEN
        && !text.chars().any(char::is_control)
}

/// An id as quoted in an error: at most [`MAX_NAME_LEN`] characters.
fn clip(text: &str) -> String {
    text.chars().take(MAX_NAME_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(id: &str, name: &str, kind: RemoteKind) -> RosterEntry {
        RosterEntry {
            id: id.into(),
            name: name.into(),
            kind,
            ssrc: None,
        }
    }

    fn node_b() -> Roster {
        Roster {
            version: 1,
            node: "gw-b.example.com".into(),
            participants: vec![
                entry("p1", "Demo 1", RemoteKind::Synthetic),
                entry("p2", "Boardroom", RemoteKind::Endpoint),
            ],
            speakers: vec!["p2".into(), "p1".into()],
            lobby: 1,
        }
    }

    #[test]
    fn a_roster_round_trips_through_its_body() {
        let roster = node_b();
        let body = roster.to_body();
        assert_eq!(Roster::parse(&body).unwrap(), roster);
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains(r#""kind":"synthetic""#), "{text}");
    }

    #[test]
    fn the_documented_example_parses() {
        // The example of docs/cascades.md, byte for byte.
        let body = br#"{"version":1,"node":"gw-b.example.com","participants":[{"id":"p3","name":"Boardroom","kind":"endpoint","ssrc":2861297310},{"id":"p9","name":"Ana (browser)","kind":"browser","ssrc":1097414535}],"speakers":["p9","p3"],"lobby":2}"#;
        let roster = Roster::parse(body).unwrap();
        assert_eq!(roster.participants.len(), 2);
        assert_eq!(roster.participants[0].ssrc, Some(2_861_297_310));
        assert_eq!(roster.speakers, ["p9", "p3"]);
        assert_eq!(roster.lobby, 2);
    }

    #[test]
    fn entries_name_the_ssrc_of_their_stream_and_rosters_without_one_still_parse() {
        let mut roster = node_b();
        roster.participants[0] = roster.participants[0].clone().with_ssrc(0xDEAD_BEEF);
        let text = String::from_utf8(roster.to_body()).unwrap();
        assert!(text.contains(r#""ssrc":3735928559"#), "{text}");
        assert!(!text.contains(r#""ssrc":null"#), "no SSRC, no key: {text}");
        assert_eq!(Roster::parse(text.as_bytes()).unwrap(), roster);
        // The documented body of the first format, without SSRCs.
        let old = br#"{"version":1,"node":"b","participants":[{"id":"p3","name":"Boardroom","kind":"endpoint"}]}"#;
        assert_eq!(Roster::parse(old).unwrap().participants[0].ssrc, None);
    }

    #[test]
    fn our_own_entries_are_always_acceptable_to_the_far_node() {
        let long = "x".repeat(MAX_NAME_LEN * 2);
        let mut roster = node_b();
        roster.participants = vec![
            RosterEntry::local("p1".into(), &long, RemoteKind::Endpoint),
            RosterEntry::local("p2".into(), "Board\u{7}room\r\n", RemoteKind::Endpoint),
            RosterEntry::local("p3".into(), " \t", RemoteKind::Browser),
        ];
        roster.speakers.clear();
        let parsed = Roster::parse(&roster.to_body()).expect("accepted");
        assert_eq!(parsed.participants[0].name.chars().count(), MAX_NAME_LEN);
        assert_eq!(parsed.participants[1].name, "Board room  ");
        assert_eq!(parsed.participants[2].name, "p3");
    }

    #[test]
    fn bad_rosters_are_refused_with_the_reason() {
        let mut twice = node_b();
        twice
            .participants
            .push(entry("p1", "Again", RemoteKind::Browser));
        assert_eq!(
            Roster::parse(&twice.to_body()),
            Err(RosterError::Duplicate("p1".into()))
        );
        let mut ghost = node_b();
        ghost.speakers.push("p99".into());
        assert_eq!(
            Roster::parse(&ghost.to_body()),
            Err(RosterError::UnknownSpeaker("p99".into()))
        );
        let mut shared = node_b();
        shared.participants[0].ssrc = Some(7);
        shared.participants[1].ssrc = Some(7);
        assert_eq!(
            Roster::parse(&shared.to_body()),
            Err(RosterError::DuplicateSsrc(7))
        );
        let mut later = node_b();
        later.version = 2;
        assert_eq!(
            Roster::parse(&later.to_body()),
            Err(RosterError::Version(2))
        );
        let mut bell = node_b();
        bell.participants[0].name = "ring\u{7}".into();
        assert!(matches!(
            Roster::parse(&bell.to_body()),
            Err(RosterError::BadEntry(_))
        ));
        assert!(matches!(
            Roster::parse(br#"{"version":1,"node":"b","participants":[],"extra":1}"#),
            Err(RosterError::Malformed(_))
        ));
        assert_eq!(
            Roster::parse(&vec![b' '; MAX_BODY_LEN + 1]),
            Err(RosterError::TooLarge(MAX_BODY_LEN + 1))
        );
    }

    proptest! {
        /// Any bytes: parsing never panics, and what parses re-serialises to an equal roster.
        #[test]
        fn any_body_parses_or_is_refused(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(roster) = Roster::parse(&body) {
                prop_assert_eq!(Roster::parse(&roster.to_body()), Ok(roster));
            }
        }

        /// Mutations of a valid body (a byte changed): never a panic, and an accepted body is valid.
        #[test]
        fn mutated_bodies_never_panic(at in 0usize..200, byte in any::<u8>()) {
            let mut body = node_b().to_body();
            let at = at % body.len();
            body[at] = byte;
            if let Ok(roster) = Roster::parse(&body) {
                prop_assert!(roster.validate().is_ok());
            }
        }
    }
}
