//! Who fills the tiles and receive slots: the order the layouts and the WebRTC viewers' slots are
//! filled in. The speaker ranking alone ([`mixer::SpeakerRanking`]) puts everyone who ever
//! talked before those who have not; in a meeting with synthetic participants taking turns, that
//! left people who joined late and talk little (a browser whose microphone only beeps) out of a
//! full 3x3 behind test patterns that talked minutes ago. So the order is:
//! 1. who talked in the last [`RECENT_SPEECH`], most recent first (the ranking's order);
//! 2. the people present with a picture (browsers, calls that sent video, a far node's
//!    participants whose stream arrives over a link: not synthetic), in the ranking's order;
//! 3. everyone else (synthetic participants), in the ranking's order.
//!
//! The tile assigner keeps whoever is still among the first N in the tile they had, so this
//! order only decides who is shown, not where.
//!
//! Owns the record of when each participant last talked; it must not lay out or mix.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mixer::layout::ParticipantId;

/// How long after talking a participant still counts as a recent speaker.
pub const RECENT_SPEECH: Duration = Duration::from_secs(6);

/// When each participant last talked. See the module doc.
#[derive(Debug, Default)]
pub struct Selection {
    last_spoke: HashMap<ParticipantId, Instant>,
}

impl Selection {
    /// Records one audio frame's voice activity (`true`: talking) at `now`.
    pub fn heard(
        &mut self,
        now: Instant,
        activity: impl IntoIterator<Item = (ParticipantId, bool)>,
    ) {
        for (participant, active) in activity {
            if active {
                self.last_spoke.insert(participant, now);
            }
        }
    }

    /// Forgets a participant who left.
    pub fn remove(&mut self, participant: ParticipantId) {
        self.last_spoke.remove(&participant);
    }

    /// `ranked` (the speaker ranking's order, then everyone it has not met) reordered by the
    /// rule of the module doc; `present(p)` tells a person from a synthetic participant.
    pub fn order(
        &self,
        now: Instant,
        ranked: &[ParticipantId],
        present: impl Fn(ParticipantId) -> bool,
    ) -> Vec<ParticipantId> {
        let recent = |p: &ParticipantId| {
            self.last_spoke
                .get(p)
                .is_some_and(|at| now.saturating_duration_since(*at) < RECENT_SPEECH)
        };
        let rank = |p: &ParticipantId| {
            if recent(p) {
                0
            } else if present(*p) {
                1
            } else {
                2
            }
        };
        let mut order = ranked.to_vec();
        // Stable: within each group the ranking's order stays.
        order.sort_by_key(rank);
        order
    }
}

#[cfg(test)]
// One arbitrary origin for the virtual clock.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    fn ids(v: &[u64]) -> Vec<ParticipantId> {
        v.iter().map(|&i| ParticipantId(i)).collect()
    }

    #[test]
    fn recent_speakers_come_first_then_people_then_synthetic_participants() {
        let t0 = Instant::now();
        let mut s = Selection::default();
        // 1..=8 synthetic; 20 and 21 browsers; 30 a VTC. The ranking put the synthetic ones
        // first: they all talked at some point.
        let ranked = ids(&[1, 2, 3, 4, 5, 6, 7, 8, 30, 20, 21]);
        s.heard(t0, [(ParticipantId(7), true), (ParticipantId(30), true)]);
        s.heard(t0 + Duration::from_secs(5), [(ParticipantId(8), true)]);
        let present = |p: ParticipantId| p.0 >= 20;
        let now = t0 + Duration::from_secs(7);
        // 7 and 30 talked 7 s ago: no longer recent. 8 talked 2 s ago.
        assert_eq!(
            s.order(now, &ranked, present),
            ids(&[8, 30, 20, 21, 1, 2, 3, 4, 5, 6, 7])
        );
        // Someone silent never jumps the people present.
        s.heard(now, [(ParticipantId(3), false)]);
        assert_eq!(s.order(now, &ranked, present)[..4], ids(&[8, 30, 20, 21]));
    }

    #[test]
    fn a_participant_who_left_is_forgotten() {
        let t0 = Instant::now();
        let mut s = Selection::default();
        s.heard(t0, [(ParticipantId(2), true)]);
        s.remove(ParticipantId(2));
        assert_eq!(
            s.order(t0, &ids(&[1, 2]), |p| p.0 == 1),
            ids(&[1, 2]),
            "2 no longer counts as a recent speaker"
        );
    }
}
