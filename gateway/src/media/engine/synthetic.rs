//! Synthetic participants: the demo's meeting side and the load tests' native participants. Each
//! renders a moving test pattern on its own background colour and talks in turns with a
//! voice-like signal, so the active speaker changes every few seconds.
//!
//! Owns only the generation of pictures and samples from a time offset; the engine decides when
//! to ask. Pure: the same inputs give the same output.

use std::f32::consts::TAU;
use std::time::Duration;

use mixer::frame::{FrameError, I420Frame, Yuv};
use mixer::layout::Rect;

/// Size synthetic participants publish at: the spatial layer that fits a 3x3 tile of a 720p
/// layout without upscaling (the gateway decodes, or here renders, only what a tile needs).
pub const SYNTHETIC_SIZE: (u32, u32) = (640, 360);

/// How long each participant talks before the next one's turn.
pub const TURN: Duration = Duration::from_secs(4);

/// One synthetic participant's generator.
#[derive(Debug, Clone)]
pub struct Synthetic {
    /// Position among the meeting's synthetic participants (sets turn, colour and pitch).
    index: u32,
    /// How many take turns.
    count: u32,
    background: Yuv,
    pitch_hz: f32,
    phase: f32,
}

/// Distinct, saturated background colours.
const PALETTE: [(u8, u8, u8); 8] = [
    (200, 60, 60),
    (60, 160, 80),
    (60, 90, 200),
    (200, 160, 40),
    (150, 70, 180),
    (40, 170, 170),
    (210, 110, 40),
    (110, 110, 110),
];

impl Synthetic {
    /// The `index`-th of `count` synthetic participants.
    pub fn new(index: u32, count: u32) -> Self {
        let (r, g, b) = PALETTE[index as usize % PALETTE.len()];
        Synthetic {
            index,
            count: count.max(1),
            background: Yuv::from_rgb(r, g, b),
            pitch_hz: 110.0 + 23.0 * index as f32,
            phase: 0.0,
        }
    }

    /// Whether it is this participant's turn to talk at `t` since the meeting's media started.
    pub fn talking(&self, t: Duration) -> bool {
        let turn = (t.as_millis() / TURN.as_millis()) as u32;
        turn % self.count == self.index % self.count
    }

    /// 20 ms of audio at 48 kHz (960 samples): a voice-like buzz (a few harmonics of its own
    /// pitch, amplitude-modulated at a syllable rate) on its turn, silence otherwise.
    pub fn audio(&mut self, t: Duration, out: &mut [i16]) {
        if !self.talking(t) {
            out.fill(0);
            return;
        }
        let rate = 48_000.0;
        let start = t.as_secs_f32();
        for (i, sample) in out.iter_mut().enumerate() {
            let time = start + i as f32 / rate;
            // Syllables: 4 Hz envelope, never fully closed so the speaker stays "active".
            let envelope = 0.55 + 0.45 * (TAU * 4.0 * time).sin();
            self.phase = (self.phase + self.pitch_hz / rate).fract();
            let p = TAU * self.phase;
            let voice = p.sin() + 0.5 * (2.0 * p).sin() + 0.25 * (3.0 * p).sin();
            *sample = (voice * envelope * 5_000.0) as i16;
        }
    }

    /// The picture at `t`: background colour with a bar sweeping across and a block bouncing
    /// up and down, so motion is visible in every tile.
    pub fn video(&self, t: Duration) -> Result<I420Frame, FrameError> {
        let (w, h) = SYNTHETIC_SIZE;
        let mut frame = I420Frame::solid(w, h, self.background)?;
        let secs = t.as_secs_f32() + self.index as f32 * 0.37;
        let bar_w = 24;
        let x = ((secs * 0.25).fract() * (w - bar_w) as f32) as u32 & !1;
        frame.fill_rect(
            Rect {
                x,
                y: 0,
                width: bar_w,
                height: h,
            },
            Yuv::from_rgb(240, 240, 240),
        )?;
        let block = 60;
        let y = (((secs * 1.3).sin() * 0.5 + 0.5) * (h - block) as f32) as u32 & !1;
        frame.fill_rect(
            Rect {
                x: ((w - block) / 2) & !1,
                y,
                width: block,
                height: block,
            },
            Yuv::from_rgb(20, 20, 20),
        )?;
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participants_take_turns() {
        let a = Synthetic::new(0, 3);
        let b = Synthetic::new(1, 3);
        assert!(a.talking(Duration::ZERO) && !b.talking(Duration::ZERO));
        assert!(!a.talking(TURN) && b.talking(TURN));
        assert!(a.talking(TURN * 3));
    }

    #[test]
    fn audio_is_loud_on_turn_and_silent_off_turn() {
        let mut a = Synthetic::new(0, 2);
        let mut buf = vec![0i16; 960];
        a.audio(Duration::from_millis(100), &mut buf);
        let loud = mixer::speakers::level_db(&buf);
        a.audio(TURN + Duration::from_millis(100), &mut buf);
        assert!(loud > -30.0, "{loud}");
        assert!(buf.iter().all(|s| *s == 0));
    }

    #[test]
    fn pictures_move_and_differ_per_participant() {
        let a = Synthetic::new(0, 2);
        let b = Synthetic::new(1, 2);
        let f0 = a.video(Duration::ZERO).unwrap();
        let f1 = a.video(Duration::from_secs(1)).unwrap();
        assert_eq!((f0.width(), f0.height()), SYNTHETIC_SIZE);
        assert_ne!(
            f0.plane(mixer::frame::PlaneKind::Y).row(10),
            f1.plane(mixer::frame::PlaneKind::Y).row(10)
        );
        assert_ne!(
            f0.pixel(2, 2),
            b.video(Duration::ZERO).unwrap().pixel(2, 2),
            "own background colour"
        );
    }
}
