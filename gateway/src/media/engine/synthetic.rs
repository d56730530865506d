//! Synthetic participants: the demo's meeting side and the load tests' native participants. Each
//! renders a moving test pattern on its own background colour and talks in turns with a
//! voice-like signal, so the active speaker changes every few seconds.
//!
//! Like a real native client they publish **simulcast**: one encoder per spatial layer of
//! [`mixer::simulcast::LADDER`], and only the layers the gateway subscribes to are rendered and
//! encoded (a real sender pauses unused layers). The engine then decodes them like any native
//! stream ([`super::ingest`]), so the demo exercises the same decode path as real publishers.
//!
//! The picture repeats every [`LOOP`], so each layer is encoded only during its first loop and
//! replayed afterwards (starting again from its keyframe whenever the layer is resumed or a
//! keyframe is asked for): the demo and the load tests pay for decoding the participants, as the
//! gateway does with real ones, not for the participants' own encoders.
//!
//! Each counts what it publishes (20 ms audio packets, pictures) into the admin view's media
//! counters of its participant, as a call's media task does for a caller.
//!
//! Owns only the generation of pictures and samples from a time offset and their encoding; the
//! engine decides when to ask and what to subscribe to. Deterministic: the same inputs give the
//! same output.

use std::f32::consts::TAU;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use mixer::codec::h264::{CodecError, EncodedFrame, EncoderConfig, H264Encoder};
use mixer::frame::{FrameError, I420Frame, Yuv};
use mixer::layout::Rect;

use crate::calls::api::MediaStats;

/// Size of [`Synthetic::video`]'s picture (the middle simulcast layer).
pub const SYNTHETIC_SIZE: (u32, u32) = (640, 360);

/// Bit rate of a 1280x720 layer; smaller layers get proportionally less (at least
/// [`MIN_LAYER_BITRATE`]).
const FULL_LAYER_BITRATE: u32 = 1_200_000;
/// Floor of a layer's bit rate.
const MIN_LAYER_BITRATE: u32 = 150_000;

/// Period of the synthetic picture (the sweeping bar crosses once, the block bounces once).
pub const LOOP: Duration = Duration::from_secs(2);

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
    /// Where what it publishes is counted (the admin view's counters of its participant).
    stats: Arc<MediaStats>,
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

/// The background colour (RGB) of the `index`-th synthetic participant.
pub fn palette(index: usize) -> (u8, u8, u8) {
    PALETTE[index % PALETTE.len()]
}

impl Synthetic {
    /// The `index`-th of `count` synthetic participants (counting into counters of its own until
    /// [`counting_into`](Self::counting_into) names the participant's).
    pub fn new(index: u32, count: u32) -> Self {
        let (r, g, b) = palette(index as usize);
        Synthetic {
            index,
            count: count.max(1),
            background: Yuv::from_rgb(r, g, b),
            // 115, 140, .. 290 Hz: no harmonic it sends (1st to 3rd) within 20 Hz of 400 Hz
            // (the beep of Chromium's fake microphone), 700 or 1000 Hz (the test VTCs' tones),
            // so a frequency check tells those apart from the demo's voices.
            pitch_hz: 115.0 + 25.0 * index as f32,
            phase: 0.0,
            stats: Arc::default(),
        }
    }

    /// Counts what it publishes into `stats` (its participant's admin view counters).
    #[must_use]
    pub fn counting_into(mut self, stats: Arc<MediaStats>) -> Self {
        self.stats = stats;
        self
    }

    /// Whether it is this participant's turn to talk at `t` since the meeting's media started.
    pub fn talking(&self, t: Duration) -> bool {
        let turn = (t.as_millis() / TURN.as_millis()) as u32;
        turn % self.count == self.index % self.count
    }

    /// 20 ms of audio at 48 kHz (960 samples): a voice-like buzz (a few harmonics of its own
    /// pitch, amplitude-modulated at a syllable rate) on its turn, silence otherwise.
    pub fn audio(&mut self, t: Duration, out: &mut [i16]) {
        // Every 20 ms is one packet sent, silence included (no DTX), as a real client's would be.
        self.stats.audio_rx_packets.fetch_add(1, Ordering::Relaxed);
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
        let x = ((secs * 0.5).fract() * (w - bar_w) as f32) as u32 & !1;
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
        let y = (((secs * TAU / 2.0).sin() * 0.5 + 0.5) * (h - block) as f32) as u32 & !1;
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

/// A synthetic participant's simulcast sender. Each layer plays a loop of [`LOOP`]: encoded
/// (and kept) while it is first played, replayed after. A layer not subscribed is paused, and
/// resumes from the loop's first picture, a keyframe; so does a layer asked for a keyframe.
pub struct SimulcastPublisher {
    layers: Vec<(u32, u32)>,
    fps: u32,
    loops: Vec<LayerLoop>,
}

/// One layer's loop.
#[derive(Default)]
struct LayerLoop {
    /// The loop's access units encoded so far (the first is an IDR).
    units: Vec<EncodedFrame>,
    /// Encodes the rest of the first loop; dropped once the loop is complete.
    encoder: Option<H264Encoder>,
    /// The next picture to send, `None` while paused.
    position: Option<usize>,
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
            loops: layers.iter().map(|_| LayerLoop::default()).collect(),
        }
    }

    fn loop_frames(&self) -> usize {
        (LOOP.as_secs() as usize * self.fps as usize).max(1)
    }

    /// The gateway asked for a keyframe of `layer`: it restarts at the loop's keyframe.
    pub fn request_keyframe(&mut self, layer: usize) {
        if let Some(l) = self.loops.get_mut(layer) {
            if l.position.is_some() {
                l.position = Some(0);
            }
        }
    }

    /// The next picture of every layer in `subscribed`; pauses the rest. An access unit per
    /// subscribed layer, tagged with its index (empty when rate control skipped the frame).
    pub fn publish(
        &mut self,
        source: &Synthetic,
        subscribed: &[usize],
    ) -> Result<Vec<(usize, EncodedFrame)>, PublishError> {
        let frames = self.loop_frames();
        let mut out = Vec::with_capacity(subscribed.len());
        for (layer, l) in self.loops.iter_mut().enumerate() {
            if !subscribed.contains(&layer) {
                l.position = None;
                continue;
            }
            let position = l.position.unwrap_or(0);
            l.position = Some((position + 1) % frames);
            if let Some(unit) = l.units.get(position) {
                out.push((layer, unit.clone()));
                continue;
            }
            // First time through the loop: encode this picture and keep it.
            let (width, height) = self.layers[layer];
            let encoder = match &mut l.encoder {
                Some(e) => e,
                None => {
                    let pixels = f64::from(width * height) / f64::from(1280 * 720);
                    let bitrate =
                        ((f64::from(FULL_LAYER_BITRATE) * pixels) as u32).max(MIN_LAYER_BITRATE);
                    l.encoder.insert(H264Encoder::new(EncoderConfig {
                        width,
                        height,
                        fps: self.fps as f32,
                        bitrate_bps: bitrate,
                        ..EncoderConfig::hd720()
                    })?)
                }
            };
            let t = Duration::from_secs(1) * position as u32 / self.fps;
            let picture = source.video_at(t, (width, height))?;
            let unit = encoder.encode(&picture, position == 0)?;
            l.units.push(unit.clone());
            if l.units.len() == frames {
                l.encoder = None;
            }
            out.push((layer, unit));
        }
        // One picture published, however many simulcast layers carry it.
        if !out.is_empty() {
            source.stats.video_rx_frames.fetch_add(1, Ordering::Relaxed);
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
        let out = p.publish(&source, &[0]).unwrap();
        assert_eq!(out.len(), 1);
        assert!(out[0].1.keyframe);
        let out = p.publish(&source, &[0, 2]).unwrap();
        let layers: Vec<_> = out.iter().map(|(l, f)| (*l, f.keyframe)).collect();
        assert_eq!(layers, [(0, false), (2, true)]);
        p.request_keyframe(0);
        let out = p.publish(&source, &[0]).unwrap();
        assert!(out[0].1.keyframe, "asked for");
        let _ = p.publish(&source, &[]).unwrap();
        let out = p.publish(&source, &[0]).unwrap();
        assert!(out[0].1.keyframe, "resumed after a pause");
    }

    #[test]
    fn what_it_publishes_is_counted_for_the_admin_view() {
        let stats = Arc::new(MediaStats::default());
        let mut source = Synthetic::new(0, 2).counting_into(stats.clone());
        let mut buf = vec![0i16; 960];
        for i in 0..5u32 {
            // On turn and off turn alike: a packet every 20 ms.
            source.audio(TURN * i, &mut buf);
        }
        let mut p = SimulcastPublisher::new(&mixer::simulcast::LADDER, 15);
        p.publish(&source, &[0, 1]).unwrap();
        p.publish(&source, &[2]).unwrap();
        // Nothing subscribed: nothing published, nothing counted.
        p.publish(&source, &[]).unwrap();
        let counted = stats.snapshot();
        assert_eq!(counted.audio_rx_packets, 5);
        assert_eq!(counted.video_rx_frames, 2, "one per picture, not per layer");
        assert_eq!((counted.audio_tx_packets, counted.video_tx_frames), (0, 0));
    }

    #[test]
    fn the_loop_is_encoded_once_then_replayed() {
        let source = Synthetic::new(1, 2);
        let mut p = SimulcastPublisher::new(&[(320, 180)], 5);
        let first: Vec<EncodedFrame> = (0..10)
            .map(|_| p.publish(&source, &[0]).unwrap().remove(0).1)
            .collect();
        let second: Vec<EncodedFrame> = (0..10)
            .map(|_| p.publish(&source, &[0]).unwrap().remove(0).1)
            .collect();
        assert_eq!(first, second, "a 2 s loop at 5 fps is 10 pictures");
        assert!(
            p.loops[0].encoder.is_none(),
            "no encoder once the loop is complete"
        );
        assert!(first[0].keyframe);
        // The picture really repeats: the last of the loop leads smoothly into the first.
        let a = source.video_at(Duration::ZERO, (320, 180)).unwrap();
        let b = source.video_at(LOOP, (320, 180)).unwrap();
        assert_eq!(a, b);
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
