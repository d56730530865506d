//! Synthetic participants: the demo's meeting side and the load tests' native participants. Each
//! renders a moving test pattern on its own background colour and talks in turns with a
//! voice-like signal, so the active speaker changes every few seconds.
//!
//! Like a real native client they publish **simulcast**: one encoder per spatial layer of
//! [`mixer::simulcast::LADDER`], and only the layers the gateway subscribes to are rendered and
//! encoded (a real sender pauses unused layers). The engine then decodes them like any native
//! stream ([`super::ingest`]), so the demo exercises the same decode path as real publishers.
//!
//! Owns only the generation of pictures and samples from a time offset and their encoding; the
//! engine decides when to ask and what to subscribe to. Deterministic: the same inputs give the
//! same output.

use std::f32::consts::TAU;
use std::time::Duration;

use mixer::codec::h264::{CodecError, EncodedFrame, EncoderConfig, H264Encoder};
use mixer::frame::{FrameError, I420Frame, Yuv};
use mixer::layout::Rect;

/// Size of [`Synthetic::video`]'s picture (the middle simulcast layer).
pub const SYNTHETIC_SIZE: (u32, u32) = (640, 360);

/// Bit rate of a 1280x720 layer; smaller layers get proportionally less (at least
/// [`MIN_LAYER_BITRATE`]).
const FULL_LAYER_BITRATE: u32 = 1_200_000;
/// Floor of a layer's bit rate.
const MIN_LAYER_BITRATE: u32 = 150_000;

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
        self.video_at(t, SYNTHETIC_SIZE)
    }

    /// The picture at `t` rendered at `size` (even sizes; the geometry scales with it, so every
    /// simulcast layer shows the same scene).
    pub fn video_at(&self, t: Duration, size: (u32, u32)) -> Result<I420Frame, FrameError> {
        let (w, h) = size;
        let mut frame = I420Frame::solid(w, h, self.background)?;
        let secs = t.as_secs_f32() + self.index as f32 * 0.37;
        let bar_w = ((24 * w / 640) & !1).clamp(2, w);
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
        let block = ((60 * h / 360) & !1).clamp(2, h.min(w));
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

/// A synthetic participant's simulcast sender: one encoder per spatial layer, created when the
/// layer is subscribed and dropped when it is not (so its first frame after a pause is a
/// keyframe).
pub struct SimulcastPublisher {
    layers: Vec<(u32, u32)>,
    fps: u32,
    encoders: Vec<Option<H264Encoder>>,
    keyframe_wanted: Vec<bool>,
}

impl std::fmt::Debug for SimulcastPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulcastPublisher")
            .field("layers", &self.layers)
            .field("fps", &self.fps)
            .finish_non_exhaustive()
    }
}

/// Why a synthetic participant could not publish a picture.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The picture could not be drawn.
    #[error("render: {0}")]
    Render(#[from] FrameError),
    /// The encoder failed.
    #[error("encode: {0}")]
    Encode(#[from] CodecError),
}

impl SimulcastPublisher {
    /// A sender of `layers` (sizes) at `fps`, all layers paused.
    pub fn new(layers: &[(u32, u32)], fps: u32) -> Self {
        SimulcastPublisher {
            layers: layers.to_vec(),
            fps: fps.max(1),
            encoders: layers.iter().map(|_| None).collect(),
            keyframe_wanted: vec![false; layers.len()],
        }
    }

    /// The gateway asked for a keyframe of `layer`.
    pub fn request_keyframe(&mut self, layer: usize) {
        if let Some(k) = self.keyframe_wanted.get_mut(layer) {
            *k = true;
        }
    }

    /// Renders and encodes the picture at `t` for every layer in `subscribed`; pauses the rest.
    /// An access unit per subscribed layer, tagged with its index (empty when rate control
    /// skipped the frame).
    pub fn publish(
        &mut self,
        source: &Synthetic,
        t: Duration,
        subscribed: &[usize],
    ) -> Result<Vec<(usize, EncodedFrame)>, PublishError> {
        let mut out = Vec::with_capacity(subscribed.len());
        for (layer, slot) in self.encoders.iter_mut().enumerate() {
            if !subscribed.contains(&layer) {
                *slot = None;
                continue;
            }
            let (width, height) = self.layers[layer];
            let encoder = match slot {
                Some(e) => e,
                None => {
                    let pixels = f64::from(width * height) / f64::from(1280 * 720);
                    let bitrate =
                        ((f64::from(FULL_LAYER_BITRATE) * pixels) as u32).max(MIN_LAYER_BITRATE);
                    slot.insert(H264Encoder::new(EncoderConfig {
                        width,
                        height,
                        fps: self.fps as f32,
                        bitrate_bps: bitrate,
                        ..EncoderConfig::hd720()
                    })?)
                }
            };
            let picture = source.video_at(t, (width, height))?;
            let force = std::mem::take(&mut self.keyframe_wanted[layer]);
            out.push((layer, encoder.encode(&picture, force)?));
        }
        Ok(out)
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
    fn publisher_encodes_only_subscribed_layers_and_restarts_with_a_keyframe() {
        let source = Synthetic::new(0, 1);
        let mut p = SimulcastPublisher::new(&mixer::simulcast::LADDER, 15);
        let t = Duration::ZERO;
        let out = p.publish(&source, t, &[0]).unwrap();
        assert_eq!(out.len(), 1);
        assert!(out[0].1.keyframe);
        let out = p.publish(&source, t, &[0, 2]).unwrap();
        let layers: Vec<_> = out.iter().map(|(l, f)| (*l, f.keyframe)).collect();
        assert_eq!(layers, [(0, false), (2, true)]);
        p.request_keyframe(0);
        let out = p.publish(&source, t, &[0]).unwrap();
        assert!(out[0].1.keyframe, "asked for");
        let _ = p.publish(&source, t, &[]).unwrap();
        let out = p.publish(&source, t, &[0]).unwrap();
        assert!(out[0].1.keyframe, "resumed after a pause");
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
