//! Who is talking: energy-based voice-activity detection per participant on 20 ms frames, and
//! a meeting-wide ranking of speakers with hysteresis.
//!
//! Owns the detection constants and the ranking rules. It must not decide tile positions (that
//! is `layout::TileAssigner`, which takes [`SpeakerRanking::ranked`]) nor read a clock: time is
//! counted in frames, one call per 20 ms frame.

use std::collections::{HashMap, VecDeque};

use crate::layout::ParticipantId;

/// Level reported for digital silence, dBFS.
pub const SILENCE_DB: f32 = -96.0;
/// The floor never goes below this, dBFS, so a muted microphone's silence followed by a breath
/// is not "speech 30 dB above the floor".
const FLOOR_MIN_DB: f32 = -75.0;
/// The noise floor is the quietest frame of the last 3 s ("minimum statistics"): speech always
/// has gaps between syllables and phrases within that time that fall back to the room's noise,
/// while a fan or hum never dips, so it becomes the floor and is never taken for speech. The
/// first frame of a call seeds the floor, so a noisy room is not "talking" at call start.
const FLOOR_WINDOW_FRAMES: usize = 150;
/// A frame is speech-like when it is this much above the noise floor: 9 dB is about three times
/// the noise amplitude, clear of fan and HVAC fluctuations (which vary by 3-6 dB).
const SPEECH_MARGIN_DB: f32 = 9.0;
/// ...and at least this loud in absolute terms, dBFS: quieter than this is never a talker
/// (conversational speech into a room microphone sits around -35..-20 dBFS).
const SPEECH_MIN_DB: f32 = -50.0;
/// Speech-like frames in a row before a participant counts as talking (40 ms): rejects clicks,
/// coughs and keyboard taps.
const ONSET_FRAMES: u32 = 2;
/// Frames a talker stays active after the last speech-like frame (300 ms): bridges the gaps
/// between words so activity does not flicker.
const HANGOVER_FRAMES: u32 = 15;

/// The level (RMS) of a frame in dBFS, [`SILENCE_DB`] for digital silence.
pub fn level_db(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return SILENCE_DB;
    }
    let energy: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let mean = energy / samples.len() as f64;
    if mean < 1.0 {
        return SILENCE_DB;
    }
    (10.0 * (mean / (32768.0 * 32768.0)).log10()).max(f64::from(SILENCE_DB)) as f32
}

/// What the detector concluded about one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Activity {
    /// The participant is talking (onset reached, or within the hangover).
    pub active: bool,
    /// The frame's level, dBFS.
    pub level_db: f32,
}

/// Voice-activity detection for one participant: frame energy against a tracked noise floor.
#[derive(Debug, Clone)]
pub struct VoiceActivityDetector {
    history: VecDeque<f32>,
    floor_db: f32,
    speech_run: u32,
    hangover: u32,
}

impl Default for VoiceActivityDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl VoiceActivityDetector {
    /// A detector that has heard nothing yet.
    pub fn new() -> Self {
        VoiceActivityDetector {
            history: VecDeque::with_capacity(FLOOR_WINDOW_FRAMES),
            floor_db: FLOOR_MIN_DB,
            speech_run: 0,
            hangover: 0,
        }
    }

    /// The current noise floor estimate, dBFS.
    pub fn noise_floor_db(&self) -> f32 {
        self.floor_db
    }

    /// Classifies one 20 ms frame (any sample rate).
    pub fn process(&mut self, samples: &[i16]) -> Activity {
        let level = level_db(samples);
        if self.history.len() == FLOOR_WINDOW_FRAMES {
            self.history.pop_front();
        }
        self.history.push_back(level);
        self.floor_db = self
            .history
            .iter()
            .copied()
            .fold(f32::INFINITY, f32::min)
            .max(FLOOR_MIN_DB);
        let speech_like = level > self.floor_db + SPEECH_MARGIN_DB && level > SPEECH_MIN_DB;
        if speech_like {
            self.speech_run += 1;
        } else {
            self.speech_run = 0;
        }
        if self.speech_run >= ONSET_FRAMES {
            self.hangover = HANGOVER_FRAMES;
        } else if !speech_like {
            self.hangover = self.hangover.saturating_sub(1);
        }
        Activity {
            active: self.hangover > 0,
            level_db: level,
        }
    }
}

/// Frames of leading before a challenger takes the floor from a dominant speaker who is still
/// talking (1.5 s): two people talking over each other do not flip the highlight back and forth.
const SWITCH_FRAMES: u32 = 75;
/// Frames of leading when the dominant speaker has gone quiet (0.5 s): a plain turn change.
const SWITCH_FRAMES_QUIET: u32 = 25;
/// How far ahead (in score points, roughly dB) a challenger must be to count as leading.
const SWITCH_MARGIN: f32 = 3.0;
/// Smoothing of the loudness score per frame: an exponential average over about one second.
const SCORE_SMOOTHING: f32 = 0.05;
/// Active frames in a row before a talker moves to the front of the recent list (300 ms): a
/// short "mm-hm" does not pull someone into a full layout.
const RECENT_FRAMES: u32 = 15;

#[derive(Debug, Clone, Default)]
struct SpeakerState {
    score: f32,
    active: bool,
    active_run: u32,
    /// In the current frame (absent ones decay as silent).
    heard: bool,
}

/// The meeting's speakers in the order layouts should show them, with hysteresis.
///
/// Feed [`update`](Self::update) once per 20 ms with every participant's [`Activity`]. The
/// **dominant** speaker (highlighted, shown full screen in speaker view) changes only when a
/// challenger's loudness score leads by about 3 dB for 1.5 s, or 0.5 s once the dominant
/// speaker has gone quiet. [`ranked`](Self::ranked) is the dominant speaker first, then everyone
/// else from most to least recently talking; participants who never talked come last, in the
/// order they were first seen.
#[derive(Debug, Clone, Default)]
pub struct SpeakerRanking {
    states: HashMap<ParticipantId, SpeakerState>,
    /// Most recent talker first.
    recent: Vec<ParticipantId>,
    dominant: Option<ParticipantId>,
    challenger: Option<(ParticipantId, u32)>,
    ranked: Vec<ParticipantId>,
}

impl SpeakerRanking {
    /// An empty ranking.
    pub fn new() -> Self {
        Self::default()
    }

    /// Advances one 20 ms frame. Participants missing from `frame` are treated as silent.
    pub fn update(&mut self, frame: &[(ParticipantId, Activity)]) {
        for state in self.states.values_mut() {
            state.active = false;
            state.heard = false;
        }
        for &(p, activity) in frame {
            if !self.states.contains_key(&p) {
                self.recent.push(p);
            }
            let state = self.states.entry(p).or_default();
            state.active = activity.active;
            state.heard = true;
            let loudness = if activity.active {
                activity.level_db - SILENCE_DB
            } else {
                0.0
            };
            state.score += (loudness - state.score) * SCORE_SMOOTHING;
        }
        // A flag rather than a search of `frame` per participant: meetings of hundreds made that
        // quadratic scan the engine's biggest audio cost.
        for state in self.states.values_mut() {
            if !state.heard {
                state.score -= state.score * SCORE_SMOOTHING;
            }
            state.active_run = if state.active {
                state.active_run + 1
            } else {
                0
            };
        }
        // Recent list: a sustained talker moves to the front.
        let newly_recent: Vec<ParticipantId> = self
            .states
            .iter()
            .filter(|(_, s)| s.active_run == RECENT_FRAMES)
            .map(|(p, _)| *p)
            .collect();
        for p in newly_recent {
            self.recent.retain(|q| *q != p);
            self.recent.insert(0, p);
        }
        self.update_dominant();
        self.ranked.clear();
        self.ranked.extend(self.dominant);
        self.ranked
            .extend(self.recent.iter().filter(|p| Some(**p) != self.dominant));
    }

    fn update_dominant(&mut self) {
        let Some(dominant) = self.dominant else {
            // Nobody yet: the first active talker (loudest if several) takes the floor at once.
            self.dominant = self
                .states
                .iter()
                .filter(|(_, s)| s.active)
                .max_by(|a, b| a.1.score.total_cmp(&b.1.score).then(b.0.cmp(a.0)))
                .map(|(p, _)| *p);
            return;
        };
        let current = self.states.get(&dominant).cloned().unwrap_or_default();
        let best = self
            .states
            .iter()
            .filter(|(p, s)| **p != dominant && s.active)
            .max_by(|a, b| a.1.score.total_cmp(&b.1.score).then(b.0.cmp(a.0)))
            .map(|(p, s)| (*p, s.score));
        match best {
            Some((p, score)) if score > current.score + SWITCH_MARGIN => {
                let frames = match self.challenger {
                    Some((q, n)) if q == p => n + 1,
                    _ => 1,
                };
                let needed = if current.active {
                    SWITCH_FRAMES
                } else {
                    SWITCH_FRAMES_QUIET
                };
                if frames >= needed {
                    self.dominant = Some(p);
                    self.challenger = None;
                } else {
                    self.challenger = Some((p, frames));
                }
            }
            _ => self.challenger = None,
        }
    }

    /// Forgets a participant who left.
    pub fn remove(&mut self, participant: ParticipantId) {
        self.states.remove(&participant);
        self.recent.retain(|p| *p != participant);
        self.ranked.retain(|p| *p != participant);
        if self.dominant == Some(participant) {
            self.dominant = None;
        }
        if self.challenger.is_some_and(|(p, _)| p == participant) {
            self.challenger = None;
        }
    }

    /// The dominant (highlighted) speaker.
    pub fn dominant(&self) -> Option<ParticipantId> {
        self.dominant
    }

    /// Everyone, in the order layouts should fill tiles (see the type's docs).
    pub fn ranked(&self) -> &[ParticipantId] {
        &self.ranked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(amplitude: i16, seed: u32) -> Vec<i16> {
        let mut state = seed.wrapping_mul(2_654_435_761) | 1;
        (0..960)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let unit = (state % 2001) as i32 - 1000;
                (unit * i32::from(amplitude) / 1000) as i16
            })
            .collect()
    }

    fn talk(level: f32) -> Activity {
        Activity {
            active: true,
            level_db: level,
        }
    }

    fn quiet() -> Activity {
        Activity {
            active: false,
            level_db: SILENCE_DB,
        }
    }

    #[test]
    fn level_of_full_scale_square_wave_is_zero_dbfs() {
        let square: Vec<i16> = (0..960)
            .map(|i| if i % 2 == 0 { i16::MAX } else { -i16::MAX })
            .collect();
        assert!(level_db(&square).abs() < 0.01);
        assert_eq!(level_db(&[0; 960]), SILENCE_DB);
    }

    #[test]
    fn steady_noise_is_not_speech_but_speech_over_it_is() {
        let mut vad = VoiceActivityDetector::new();
        for i in 0..200 {
            assert!(!vad.process(&noise(300, i)).active, "noise frame {i}");
        }
        // The floor settled near the noise (uniform noise of +-300 is about -45.5 dBFS).
        assert!(
            (vad.noise_floor_db() + 45.5).abs() < 1.5,
            "{}",
            vad.noise_floor_db()
        );
        // A click (one loud frame) is not speech.
        assert!(!vad.process(&noise(8000, 1)).active);
        assert!(!vad.process(&noise(300, 2)).active);
        // Sustained speech is, from its second frame.
        assert!(!vad.process(&noise(6000, 3)).active);
        assert!(vad.process(&noise(6000, 4)).active);
        // ...and stays active through a short pause (hangover), then stops.
        let after: Vec<bool> = (0..20)
            .map(|i| vad.process(&noise(300, i)).active)
            .collect();
        assert!(after[..HANGOVER_FRAMES as usize - 1].iter().all(|&a| a));
        assert!(!after[19]);
    }

    #[test]
    fn faint_sounds_after_digital_silence_never_trigger() {
        let mut vad = VoiceActivityDetector::new();
        for _ in 0..200 {
            assert!(!vad.process(&[0; 960]).active);
        }
        assert_eq!(vad.noise_floor_db(), FLOOR_MIN_DB);
        for i in 0..100 {
            // About -55 dBFS: 20 dB above the floor, but under SPEECH_MIN_DB.
            assert!(!vad.process(&noise(100, i)).active, "frame {i}");
        }
    }

    #[test]
    fn first_talker_becomes_dominant_at_once() {
        let mut r = SpeakerRanking::new();
        let (a, b) = (ParticipantId(1), ParticipantId(2));
        r.update(&[(a, quiet()), (b, quiet())]);
        assert_eq!(r.dominant(), None);
        assert_eq!(r.ranked(), [a, b]);
        r.update(&[(a, quiet()), (b, talk(-30.0))]);
        assert_eq!(r.dominant(), Some(b));
        assert_eq!(r.ranked(), [b, a]);
    }

    #[test]
    fn two_talkers_at_similar_levels_do_not_flap() {
        let mut r = SpeakerRanking::new();
        let (a, b) = (ParticipantId(1), ParticipantId(2));
        let mut changes = 0;
        let mut last = None;
        for i in 0..1500 {
            // Both talking, alternating which is louder every frame and every second.
            let (la, lb) = if (i / 50) % 2 == 0 {
                (-25.0, -27.0)
            } else {
                (-27.0, -25.0)
            };
            r.update(&[(a, talk(la)), (b, talk(lb))]);
            if r.dominant() != last {
                changes += 1;
                last = r.dominant();
            }
        }
        assert_eq!(changes, 1, "only the initial choice");
    }

    #[test]
    fn a_clearly_louder_challenger_takes_over_after_a_second_and_a_half() {
        let mut r = SpeakerRanking::new();
        let (a, b) = (ParticipantId(1), ParticipantId(2));
        for _ in 0..100 {
            r.update(&[(a, talk(-40.0)), (b, quiet())]);
        }
        let mut took = None;
        for i in 0..300 {
            r.update(&[(a, talk(-40.0)), (b, talk(-20.0))]);
            if took.is_none() && r.dominant() == Some(b) {
                took = Some(i);
            }
        }
        let took = took.expect("b took over");
        // b's score needs ~30 frames to lead by the margin, then must hold the lead for
        // SWITCH_FRAMES (1.5 s).
        assert!((90..=120).contains(&took), "after {took} frames");
    }

    #[test]
    fn a_turn_change_after_silence_is_quick() {
        let mut r = SpeakerRanking::new();
        let (a, b) = (ParticipantId(1), ParticipantId(2));
        for _ in 0..100 {
            r.update(&[(a, talk(-30.0)), (b, quiet())]);
        }
        let mut took = None;
        for i in 0..200 {
            r.update(&[(a, quiet()), (b, talk(-30.0))]);
            if took.is_none() && r.dominant() == Some(b) {
                took = Some(i);
            }
        }
        let took = took.expect("b took over");
        assert!(took < 60, "after {took} frames");
    }

    #[test]
    fn recent_talkers_move_forward_and_leavers_vanish() {
        let mut r = SpeakerRanking::new();
        let ids: Vec<ParticipantId> = (1..=4).map(ParticipantId).collect();
        let frame = |talker: Option<usize>| -> Vec<(ParticipantId, Activity)> {
            ids.iter()
                .enumerate()
                .map(|(i, &p)| {
                    (
                        p,
                        if Some(i) == talker {
                            talk(-30.0)
                        } else {
                            quiet()
                        },
                    )
                })
                .collect()
        };
        for talker in [0, 2, 3] {
            for _ in 0..200 {
                r.update(&frame(Some(talker)));
            }
        }
        assert_eq!(r.dominant(), Some(ids[3]));
        assert_eq!(r.ranked(), [ids[3], ids[2], ids[0], ids[1]]);
        r.remove(ids[3]);
        assert_eq!(r.dominant(), None);
        assert_eq!(r.ranked(), [ids[2], ids[0], ids[1]]);
    }
}
