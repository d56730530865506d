//! Audio for a meeting: the N-1 mix (each listener hears everyone but themself) at one internal
//! rate, a soft clipper, and a simple linear resampler between codec rates and that rate.
//!
//! Owns sample arithmetic only. It must not decode or encode (codecs live in the gateway), detect
//! voice (`speakers`) or read a clock: one call is one 20 ms frame.
//!
//! The mix follows FreeSWITCH `mod_conference`: every contributor is summed into a wide (`i32`)
//! accumulator once, and each listener's output is that total minus their own samples, so the
//! cost is O(participants) per frame rather than O(participants^2), and a listener's own voice
//! cancels exactly (integer arithmetic: no self-echo, ever).

use crate::layout::ParticipantId;

/// The internal rate: 48 kHz, Opus's native rate; G.711 (8 kHz) and G.722 (16 kHz) are
/// resampled to it.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms frame at [`SAMPLE_RATE`] (mono).
pub const FRAME_SAMPLES: usize = 960;
/// Magnitude above which the soft clipper starts bending the signal (-2.5 dBFS): quieter mixes
/// pass bit-exact.
pub const KNEE: i32 = 24_576;

/// Why a mix or resample could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    /// A frame is not [`FRAME_SAMPLES`] (or the resampler's frame) long.
    #[error("frame of {got} samples, expected {expected}")]
    WrongLength {
        /// Samples expected.
        expected: usize,
        /// Samples given.
        got: usize,
    },
    /// The resampler supports rates that divide 48 kHz: 8, 12, 16, 24 and 48 kHz.
    #[error("unsupported sample rate {0} Hz")]
    UnsupportedRate(u32),
    /// The same participant contributed twice to one frame.
    #[error("{0:?} contributed twice to one frame")]
    DuplicateInput(ParticipantId),
}

/// One participant's decoded, resampled 20 ms frame.
#[derive(Debug, Clone, Copy)]
pub struct MixInput<'a> {
    /// Whose voice.
    pub participant: ParticipantId,
    /// [`FRAME_SAMPLES`] samples at [`SAMPLE_RATE`].
    pub samples: &'a [i16],
}

/// The N-1 mixer of one meeting. Per 20 ms: [`mix`](Self::mix) once with every unmuted
/// contributor, then [`render_for`](Self::render_for) each listener.
#[derive(Debug, Clone)]
pub struct NMinusOneMixer {
    total: Vec<i32>,
    contributions: Vec<(ParticipantId, Vec<i16>)>,
    used: usize,
}

impl Default for NMinusOneMixer {
    fn default() -> Self {
        Self::new()
    }
}

impl NMinusOneMixer {
    /// An empty mixer.
    pub fn new() -> Self {
        NMinusOneMixer {
            total: vec![0; FRAME_SAMPLES],
            contributions: Vec::new(),
            used: 0,
        }
    }

    /// Sums this frame's contributors. Replaces the previous frame.
    pub fn mix(&mut self, inputs: &[MixInput<'_>]) -> Result<(), AudioError> {
        for (i, input) in inputs.iter().enumerate() {
            if input.samples.len() != FRAME_SAMPLES {
                return Err(AudioError::WrongLength {
                    expected: FRAME_SAMPLES,
                    got: input.samples.len(),
                });
            }
            if inputs[..i]
                .iter()
                .any(|o| o.participant == input.participant)
            {
                return Err(AudioError::DuplicateInput(input.participant));
            }
        }
        self.total.fill(0);
        self.used = 0;
        for input in inputs {
            for (acc, &s) in self.total.iter_mut().zip(input.samples) {
                *acc += i32::from(s);
            }
            // Keep a copy of each contribution (buffers are reused across frames).
            if self.used == self.contributions.len() {
                self.contributions
                    .push((input.participant, vec![0; FRAME_SAMPLES]));
            }
            let slot = &mut self.contributions[self.used];
            slot.0 = input.participant;
            slot.1.copy_from_slice(input.samples);
            self.used += 1;
        }
        Ok(())
    }

    /// Writes what `listener` hears this frame into `out` ([`FRAME_SAMPLES`] long): the total
    /// minus the listener's own contribution (if any), soft-clipped to `i16`.
    pub fn render_for(&self, listener: ParticipantId, out: &mut [i16]) -> Result<(), AudioError> {
        if out.len() != FRAME_SAMPLES {
            return Err(AudioError::WrongLength {
                expected: FRAME_SAMPLES,
                got: out.len(),
            });
        }
        let own = self.contributions[..self.used]
            .iter()
            .find(|(p, _)| *p == listener)
            .map(|(_, s)| s.as_slice());
        match own {
            Some(own) => {
                for ((o, &t), &s) in out.iter_mut().zip(&self.total).zip(own) {
                    *o = soft_clip(t - i32::from(s));
                }
            }
            None => {
                for (o, &t) in out.iter_mut().zip(&self.total) {
                    *o = soft_clip(t);
                }
            }
        }
        Ok(())
    }
}

/// Maps a wide sample to `i16` without wrapping: unchanged up to [`KNEE`], then bent smoothly
/// towards full scale (`knee + excess * room / (excess + room)`, which is monotonic and never
/// reaches the rail). A stateless clipper, not a limiter with attack and release; it keeps
/// occasional peaks of several loud talkers from wrapping or cracking.
pub fn soft_clip(sample: i32) -> i16 {
    let magnitude = i64::from(sample).abs();
    let knee = i64::from(KNEE);
    if magnitude <= knee {
        return sample as i16;
    }
    let room = i64::from(i16::MAX) - knee;
    let excess = magnitude - knee;
    let bent = knee + excess * room / (excess + room);
    let bent = bent.min(i64::from(i16::MAX)) as i16;
    if sample < 0 {
        -bent
    } else {
        bent
    }
}

/// Linear-interpolation resampler between a codec rate and [`SAMPLE_RATE`], for rates that
/// divide 48 kHz. Upsampling interpolates between neighbouring samples (one input sample of
/// delay, carried across frames); downsampling averages each group of samples (a crude
/// anti-alias filter). Good enough for speech through G.711/G.722; a polyphase resampler may
/// replace it without changing the interface.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    to: u32,
    factor: usize,
    previous: i16,
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz; one of them must be [`SAMPLE_RATE`] and the other
    /// must divide it.
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        let other = if from == SAMPLE_RATE { to } else { from };
        if (from != SAMPLE_RATE && to != SAMPLE_RATE)
            || other == 0
            || !SAMPLE_RATE.is_multiple_of(other)
        {
            return Err(AudioError::UnsupportedRate(if from == SAMPLE_RATE {
                to
            } else {
                from
            }));
        }
        Ok(Resampler {
            from,
            to,
            factor: (SAMPLE_RATE / other) as usize,
            previous: 0,
        })
    }

    /// Resamples `input` and appends the result to `out` (`input.len() * to / from` samples;
    /// downsampling needs a multiple of the factor).
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) -> Result<(), AudioError> {
        let f = self.factor;
        if self.to >= self.from {
            out.reserve(input.len() * f);
            for &s in input {
                let (a, b) = (i32::from(self.previous), i32::from(s));
                for j in 1..=f as i32 {
                    out.push((a + (b - a) * j / f as i32) as i16);
                }
                self.previous = s;
            }
        } else {
            if !input.len().is_multiple_of(f) {
                return Err(AudioError::WrongLength {
                    expected: input.len().next_multiple_of(f),
                    got: input.len(),
                });
            }
            out.extend(input.chunks_exact(f).map(|group| {
                let sum: i32 = group.iter().map(|&s| i32::from(s)).sum();
                (sum / f as i32) as i16
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tone(freq: f64, amplitude: f64) -> Vec<i16> {
        (0..FRAME_SAMPLES)
            .map(|i| {
                (amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / 48_000.0).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn each_listener_hears_the_others_but_not_themself() {
        let (a, b) = (tone(440.0, 8000.0), tone(1000.0, 8000.0));
        let mut mixer = NMinusOneMixer::new();
        mixer
            .mix(&[
                MixInput {
                    participant: ParticipantId(1),
                    samples: &a,
                },
                MixInput {
                    participant: ParticipantId(2),
                    samples: &b,
                },
            ])
            .unwrap();
        let mut out = vec![0; FRAME_SAMPLES];
        mixer.render_for(ParticipantId(1), &mut out).unwrap();
        assert_eq!(out, b);
        mixer.render_for(ParticipantId(2), &mut out).unwrap();
        assert_eq!(out, a);
        // A listen-only participant (e.g. muted) hears both.
        mixer.render_for(ParticipantId(3), &mut out).unwrap();
        let both: Vec<i16> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        assert_eq!(out, both);
    }

    #[test]
    fn wrong_lengths_and_duplicates_are_refused() {
        let short = vec![0i16; 10];
        let mut mixer = NMinusOneMixer::new();
        let input = |s| MixInput {
            participant: ParticipantId(1),
            samples: s,
        };
        assert!(matches!(
            mixer.mix(&[input(&short)]),
            Err(AudioError::WrongLength { .. })
        ));
        let ok = vec![0i16; FRAME_SAMPLES];
        assert!(matches!(
            mixer.mix(&[input(&ok), input(&ok)]),
            Err(AudioError::DuplicateInput(_))
        ));
    }

    #[test]
    fn soft_clip_is_identity_below_the_knee_and_bends_above() {
        assert_eq!(soft_clip(1234), 1234);
        assert_eq!(soft_clip(-KNEE), -KNEE as i16);
        assert!(soft_clip(40_000) < i16::MAX && soft_clip(40_000) > KNEE as i16);
        // Approaches full scale without reaching it, and never flips sign.
        assert!(soft_clip(i32::MAX) > 32_700);
        assert!(soft_clip(i32::MIN) < -32_700);
    }

    #[test]
    fn upsampling_8k_interpolates_and_downsampling_averages() {
        let mut up = Resampler::new(8_000, 48_000).unwrap();
        let mut out = Vec::new();
        up.process(&[600, 1200], &mut out).unwrap();
        assert_eq!(
            out,
            [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200]
        );
        let mut down = Resampler::new(48_000, 16_000).unwrap();
        let mut back = Vec::new();
        down.process(&[3, 6, 9, 30, 30, 30], &mut back).unwrap();
        assert_eq!(back, [6, 30]);
        assert!(down.process(&[1, 2], &mut back).is_err());
        assert!(matches!(
            Resampler::new(44_100, 48_000),
            Err(AudioError::UnsupportedRate(44_100))
        ));
    }

    #[test]
    fn a_20ms_frame_keeps_its_length_through_a_round_trip() {
        let mut down = Resampler::new(48_000, 8_000).unwrap();
        let mut up = Resampler::new(8_000, 48_000).unwrap();
        let (mut narrow, mut wide) = (Vec::new(), Vec::new());
        down.process(&tone(300.0, 5000.0), &mut narrow).unwrap();
        assert_eq!(narrow.len(), 160);
        up.process(&narrow, &mut wide).unwrap();
        assert_eq!(wide.len(), FRAME_SAMPLES);
    }

    proptest! {
        #[test]
        fn no_self_echo_when_only_the_listener_speaks(
            own in proptest::collection::vec(any::<i16>(), FRAME_SAMPLES),
            others in 0usize..6,
        ) {
            let silence = vec![0i16; FRAME_SAMPLES];
            let mut inputs = vec![MixInput { participant: ParticipantId(0), samples: &own }];
            for i in 0..others {
                inputs.push(MixInput { participant: ParticipantId(i as u64 + 1), samples: &silence });
            }
            let mut mixer = NMinusOneMixer::new();
            mixer.mix(&inputs).unwrap();
            let mut out = vec![1i16; FRAME_SAMPLES];
            mixer.render_for(ParticipantId(0), &mut out).unwrap();
            prop_assert!(out.iter().all(|&s| s == 0));
        }

        #[test]
        fn clipping_never_wraps(
            frames in proptest::collection::vec(
                proptest::collection::vec(any::<i16>(), FRAME_SAMPLES), 1..8),
        ) {
            let inputs: Vec<_> = frames.iter().enumerate()
                .map(|(i, f)| MixInput { participant: ParticipantId(i as u64), samples: f })
                .collect();
            let mut mixer = NMinusOneMixer::new();
            mixer.mix(&inputs).unwrap();
            let mut out = vec![0i16; FRAME_SAMPLES];
            mixer.render_for(ParticipantId(99), &mut out).unwrap();
            for (k, &o) in out.iter().enumerate() {
                let exact: i32 = frames.iter().map(|f| i32::from(f[k])).sum();
                // Same sign as the true sum (or zero), and never louder than it.
                prop_assert!(i32::from(o).signum() == exact.signum() || o == 0);
                prop_assert!(i32::from(o).abs() <= exact.abs());
            }
        }

        #[test]
        fn soft_clip_is_monotonic(a in any::<i32>(), b in any::<i32>()) {
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(soft_clip(lo) <= soft_clip(hi));
        }
    }
}
