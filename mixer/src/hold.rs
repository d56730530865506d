//! Hold music: a soft, looping bell-like arpeggio generated in code (no recording shipped, no
//! network fetch), for callers waiting in a lobby after the spoken prompt has ended.
//!
//! Owns only the signal. It must not decide when it plays (the gateway's call media task does).
//!
//! The loop is eight notes of [`NOTE_MS`] ms (C major then A minor, C5 E5 G5 E5 / A4 C5 E5 C5):
//! each note is a sine with a quieter octave partial, a 20 ms attack, an exponential decay and
//! a 40 ms fade-out, so every note starts and ends at zero (no clicks at note edges or at the
//! loop point). Peak level is [`PEAK`] of full scale, about -16 dBFS, quiet enough to sit under
//! speech prompts' level.

use std::f64::consts::TAU;

/// Sample rate of the output (the mixer's internal rate).
pub const SAMPLE_RATE: u32 = 48_000;
/// Length of one note.
pub const NOTE_MS: u32 = 600;
/// The notes of the loop, Hz.
pub const NOTES_HZ: [f64; 8] = [
    523.25, 659.26, 783.99, 659.26, 440.00, 523.25, 659.26, 523.25,
];
/// Peak amplitude as a share of full scale.
pub const PEAK: f64 = 0.16;

const NOTE_SAMPLES: u64 = (SAMPLE_RATE as u64) * (NOTE_MS as u64) / 1000;
/// Samples in one pass of the loop.
pub const LOOP_SAMPLES: u64 = NOTE_SAMPLES * NOTES_HZ.len() as u64;
const ATTACK_S: f64 = 0.020;
const DECAY_S: f64 = 0.350;
const FADE_S: f64 = 0.040;
/// Level of the octave partial against the fundamental (a bell's brightness).
const OCTAVE: f64 = 0.3;

/// The hold-music generator; its position advances with every sample it writes.
#[derive(Debug, Clone, Default)]
pub struct HoldMusic {
    position: u64,
}

impl HoldMusic {
    /// A generator at the start of the loop.
    pub fn new() -> Self {
        HoldMusic::default()
    }

    /// Writes the next `out.len()` samples (48 kHz mono).
    pub fn fill(&mut self, out: &mut [i16]) {
        for sample in out {
            *sample = sample_at(self.position);
            self.position = (self.position + 1) % LOOP_SAMPLES;
        }
    }

    /// Starts the loop over (for the next wait).
    pub fn restart(&mut self) {
        self.position = 0;
    }
}

/// The loop's `n`-th sample.
fn sample_at(n: u64) -> i16 {
    let note = ((n / NOTE_SAMPLES) % NOTES_HZ.len() as u64) as usize;
    let t = (n % NOTE_SAMPLES) as f64 / f64::from(SAMPLE_RATE);
    let length = NOTE_SAMPLES as f64 / f64::from(SAMPLE_RATE);
    let attack = (t / ATTACK_S).min(1.0);
    let decay = (-(t - ATTACK_S).max(0.0) / DECAY_S).exp();
    let fade = ((length - t) / FADE_S).min(1.0);
    let f = NOTES_HZ[note];
    let tone = ((TAU * f * t).sin() + OCTAVE * (2.0 * TAU * f * t).sin()) / (1.0 + OCTAVE);
    (tone * attack * decay * fade * PEAK * 32767.0).round() as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn power_at(samples: &[i16], freq: f64) -> f64 {
        // Goertzel.
        let k = TAU * freq / f64::from(SAMPLE_RATE);
        let (mut s1, mut s2) = (0.0, 0.0);
        for &x in samples {
            let s = f64::from(x) + 2.0 * k.cos() * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        s1 * s1 + s2 * s2 - 2.0 * k.cos() * s1 * s2
    }

    fn render(samples: usize) -> Vec<i16> {
        let mut music = HoldMusic::new();
        let mut out = vec![0; samples];
        // In 20 ms frames, as the media task asks for it.
        for chunk in out.chunks_mut(960) {
            music.fill(chunk);
        }
        out
    }

    #[test]
    fn it_is_soft_but_audible() {
        let loop_audio = render(LOOP_SAMPLES as usize);
        let peak = loop_audio.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak <= (PEAK * 32768.0) as u16 + 1, "peak {peak}");
        let level = crate::speakers::level_db(&loop_audio);
        assert!((-35.0..-18.0).contains(&level), "level {level} dBFS");
    }

    #[test]
    fn it_loops_without_clicks() {
        let audio = render(LOOP_SAMPLES as usize * 2 + 10);
        let l = LOOP_SAMPLES as usize;
        assert_eq!(&audio[..10], &audio[l..l + 10]);
        // No step between neighbours larger than the loudest note's slope allows.
        let max_step = audio
            .windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).unsigned_abs())
            .max()
            .unwrap();
        let bound = (PEAK * 32767.0 * TAU * 2.0 * 784.0 / f64::from(SAMPLE_RATE)) as u32 + 2;
        assert!(max_step <= bound, "step {max_step} > {bound}");
        assert_eq!(audio[0], 0);
        assert!(audio[NOTE_SAMPLES as usize - 1].abs() < 50);
    }

    #[test]
    fn each_note_sounds_at_its_pitch() {
        let audio = render(LOOP_SAMPLES as usize);
        for (i, &f) in NOTES_HZ.iter().enumerate() {
            let note = &audio[i * NOTE_SAMPLES as usize..(i + 1) * NOTE_SAMPLES as usize];
            let own = power_at(note, f);
            // Against a pitch of the scale the note is not (a whole tone up).
            let other = power_at(note, f * 1.122);
            assert!(
                own > 20.0 * other,
                "note {i} ({f} Hz): {own:.3e} vs {other:.3e}"
            );
        }
    }
}
