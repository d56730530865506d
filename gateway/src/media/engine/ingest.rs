//! One native participant's simulcast stream as the engine receives it: the one decoder this
//! gateway runs for it, fed only the spatial encoding and the temporal layers its biggest tile
//! needs ([`mixer::simulcast`] decides), switching encodings only at a keyframe of the new one.
//!
//! Owns the decoder and the switch state; the engine tells it what the layouts need and gets
//! decoded pictures and keyframe requests back. It must not encode or know about layouts.

use std::time::Instant;

use mixer::codec::h264::{nal_unit_type, nal_units, CodecError, H264Decoder, NAL_IDR};
use mixer::frame::I420Frame;
use mixer::simulcast::{self, LayerSwitch, Verdict};

/// How a native participant publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeStream {
    /// Sizes of its spatial encodings (any order; indices are what access units are tagged with).
    pub layers: Vec<(u32, u32)>,
    /// Frame rate of each encoding with all temporal layers.
    pub fps: u32,
    /// Dyadic temporal layers per encoding (1 = none).
    pub temporal_layers: u8,
}

/// Whether an access unit (Annex B) holds an IDR picture.
#[must_use]
pub fn is_keyframe(access_unit: &[u8]) -> bool {
    nal_units(access_unit).any(|nal| nal_unit_type(nal) == Some(NAL_IDR))
}

/// Counters of what one ingest did with what arrived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Access units decoded.
    pub decoded: u64,
    /// Access units dropped (other encodings, unneeded temporal layers, waiting for a keyframe).
    pub dropped: u64,
    /// Decoder failures (each followed by a wait for a keyframe).
    pub errors: u64,
}

/// See the module doc.
#[derive(Debug)]
pub struct NativeIngest {
    stream: NativeStream,
    switch: LayerSwitch,
    decoder: Option<H264Decoder>,
    stats: IngestStats,
    /// The encodings the publisher sends now (`None`: assume all); a paused one is never
    /// chosen, or the decoder would wait for a keyframe that does not come.
    sent: Option<super::forwarding::Ladder>,
}

impl NativeIngest {
    /// Nothing decoded until [`want`](Self::want) names a tile size.
    pub fn new(stream: NativeStream) -> Self {
        NativeIngest {
            stream,
            switch: LayerSwitch::new(),
            decoder: None,
            stats: IngestStats::default(),
            sent: None,
        }
    }

    /// Which encodings the publisher sends now (its ladder, `None` for a paused one).
    pub fn set_sent(&mut self, sent: super::forwarding::Ladder) {
        self.sent = Some(sent);
    }

    /// How the participant publishes.
    pub fn stream(&self) -> &NativeStream {
        &self.stream
    }

    /// The biggest tile the participant fills in any layout and the frame rate it needs, or
    /// `None` when it is shown nowhere (decoding stops).
    pub fn want(&mut self, need: Option<((u32, u32), u32)>) {
        let Some((size, fps)) = need else {
            self.switch.stop();
            self.decoder = None;
            return;
        };
        let picked = match &self.sent {
            Some(sent) => super::forwarding::pick_layer(sent, size),
            None => simulcast::pick_layer(&self.stream.layers, size),
        };
        if let Some(layer) = picked {
            self.switch.set_target(layer);
        }
        self.switch.set_max_temporal_id(simulcast::max_temporal_id(
            self.stream.fps,
            self.stream.temporal_layers,
            fps,
        ));
    }

    /// The encodings the publisher must send now (the others can pause).
    pub fn subscribed(&self) -> Vec<usize> {
        self.switch.subscribed().collect()
    }

    /// The encoding being decoded, if any.
    pub fn current(&self) -> Option<usize> {
        self.switch.current()
    }

    /// The encoding to ask a keyframe of at `now`, if a switch or a recovery waits for one.
    #[must_use]
    pub fn poll_keyframe_request(&mut self, now: Instant) -> Option<usize> {
        self.switch.poll_keyframe_request(now)
    }

    /// What happened so far.
    pub fn stats(&self) -> IngestStats {
        self.stats
    }

    /// Access units of encoding `layer` were lost before they got here (the engine's input queue
    /// was full): when it is the encoding being decoded, the last good picture stays and the
    /// stream waits for its next keyframe (asked for by
    /// [`poll_keyframe_request`](Self::poll_keyframe_request)), as after a decoder failure.
    pub fn on_lost(&mut self, layer: usize) {
        if self.switch.current() == Some(layer) {
            self.switch.on_decode_error();
        }
    }

    /// An access unit (Annex B) of encoding `layer` arrived. A decoded picture when it was
    /// needed and complete; `Ok(None)` when dropped; an error when the decoder failed (the
    /// last good picture stays, and the stream waits for a keyframe).
    pub fn on_access_unit(
        &mut self,
        layer: usize,
        access_unit: &[u8],
    ) -> Result<Option<I420Frame>, CodecError> {
        let keyframe = is_keyframe(access_unit);
        let tid = simulcast::temporal_id(access_unit);
        let decoder = match self.switch.on_access_unit(layer, keyframe, tid) {
            Verdict::Drop => {
                self.stats.dropped += 1;
                return Ok(None);
            }
            // Another encoding is another stream (its own parameter sets and references).
            Verdict::SwitchAndDecode => self.decoder.insert(H264Decoder::new()?),
            Verdict::Decode => match &mut self.decoder {
                Some(d) => d,
                None => self.decoder.insert(H264Decoder::new()?),
            },
        };
        match decoder.decode(access_unit) {
            Ok(picture) => {
                self.stats.decoded += 1;
                Ok(picture)
            }
            Err(e) => {
                self.stats.errors += 1;
                self.switch.on_decode_error();
                Err(e)
            }
        }
    }
}

#[cfg(test)]
// One arbitrary origin for the keyframe-request clock.
#[allow(clippy::disallowed_methods)]
mod tests {
    use mixer::codec::h264::{EncoderConfig, H264Encoder};
    use mixer::frame::Yuv;

    use super::*;

    fn encoder(width: u32, height: u32) -> H264Encoder {
        H264Encoder::new(EncoderConfig {
            width,
            height,
            fps: 30.0,
            bitrate_bps: 500_000,
            ..EncoderConfig::hd720()
        })
        .unwrap()
    }

    fn picture(width: u32, height: u32, n: u32) -> I420Frame {
        let mut f = I420Frame::solid(width, height, Yuv::from_rgb(60, 90, 200)).unwrap();
        let x = ((n * 8) % (width - 16)) & !1;
        f.fill_rect(
            mixer::Rect {
                x,
                y: 0,
                width: 16,
                height,
            },
            Yuv::from_rgb(240, 240, 240),
        )
        .unwrap();
        f
    }

    fn ladder() -> NativeStream {
        NativeStream {
            layers: vec![(320, 180), (640, 360)],
            fps: 30,
            temporal_layers: 1,
        }
    }

    #[test]
    fn layer_switch_shows_the_old_layer_until_the_new_keyframe_and_never_fails() {
        let mut small = encoder(320, 180);
        let mut big = encoder(640, 360);
        let mut ingest = NativeIngest::new(ladder());
        ingest.want(Some(((300, 170), 15)));
        let t0 = Instant::now();
        assert_eq!(ingest.poll_keyframe_request(t0), Some(0));
        let mut shown = Vec::new();
        for n in 0..30 {
            if n == 10 {
                // The tile grows: the 640x360 encoding is wanted from here.
                ingest.want(Some(((600, 340), 30)));
                assert_eq!(ingest.subscribed(), vec![0, 1]);
                assert_eq!(ingest.poll_keyframe_request(t0), Some(1));
            }
            let s = small.encode(&picture(320, 180, n), false).unwrap();
            // The publisher answers the request late, at frame 20.
            let b = big.encode(&picture(640, 360, n), n == 20).unwrap();
            for (layer, au) in [(1, &b.data), (0, &s.data)] {
                if let Some(frame) = ingest.on_access_unit(layer, au).unwrap() {
                    shown.push((n, frame.width()));
                }
            }
        }
        assert_eq!(ingest.stats().errors, 0);
        // One picture per frame, from the small layer until the big one's keyframe.
        assert_eq!(shown.len(), 30);
        for (n, width) in shown {
            assert_eq!(width, if n < 20 { 320 } else { 640 }, "frame {n}");
        }
        assert_eq!(ingest.subscribed(), vec![1]);
    }

    #[test]
    fn a_small_tile_decodes_half_the_temporal_layers_without_errors() {
        let mut enc = H264Encoder::new(EncoderConfig {
            width: 320,
            height: 180,
            fps: 30.0,
            bitrate_bps: 1_000_000,
            temporal_layers: 3,
            ..EncoderConfig::hd720()
        })
        .unwrap();
        let mut ingest = NativeIngest::new(NativeStream {
            layers: vec![(320, 180)],
            fps: 30,
            temporal_layers: 3,
        });
        ingest.want(Some(((320, 180), 15)));
        let mut decoded = 0;
        for n in 0..40 {
            let au = enc.encode(&picture(320, 180, n), false).unwrap();
            if ingest.on_access_unit(0, &au.data).unwrap().is_some() {
                decoded += 1;
            }
        }
        assert_eq!(ingest.stats().errors, 0);
        // T0 + T1 of T0 T2 T1 T2: half the pictures (give or take the start's two IDRs).
        assert!((20..=22).contains(&decoded), "{decoded}");
        // The same stream at full rate later: every picture.
        ingest.want(Some(((320, 180), 30)));
        let before = decoded;
        for n in 40..48 {
            let au = enc.encode(&picture(320, 180, n), false).unwrap();
            if ingest.on_access_unit(0, &au.data).unwrap().is_some() {
                decoded += 1;
            }
        }
        assert_eq!(decoded - before, 8);
        assert_eq!(ingest.stats().errors, 0);
    }

    #[test]
    fn shown_nowhere_decodes_nothing_until_a_keyframe() {
        let mut enc = encoder(320, 180);
        let mut ingest = NativeIngest::new(ladder());
        ingest.want(Some(((320, 180), 30)));
        let mut decoded = 0;
        for n in 0..20 {
            match n {
                5 => ingest.want(None),
                10 => ingest.want(Some(((320, 180), 30))),
                _ => {}
            }
            let au = enc.encode(&picture(320, 180, n), n == 15).unwrap();
            if ingest.on_access_unit(0, &au.data).unwrap().is_some() {
                decoded += 1;
            }
        }
        // Frames 0-4, then 15-19.
        assert_eq!(decoded, 10);
        assert_eq!(ingest.stats().errors, 0);
    }

    #[test]
    fn garbage_is_an_error_then_recovery_at_the_next_keyframe() {
        let mut enc = encoder(320, 180);
        let mut ingest = NativeIngest::new(ladder());
        ingest.want(Some(((320, 180), 30)));
        let first = enc.encode(&picture(320, 180, 0), false).unwrap();
        assert!(ingest.on_access_unit(0, &first.data).unwrap().is_some());
        let mut broken = enc.encode(&picture(320, 180, 1), false).unwrap().data;
        let len = broken.len();
        broken[len / 2..].fill(0xFF);
        let _ = ingest.on_access_unit(0, &broken);
        if ingest.stats().errors > 0 {
            let after = enc.encode(&picture(320, 180, 2), false).unwrap();
            assert!(ingest.on_access_unit(0, &after.data).unwrap().is_none());
            assert_eq!(ingest.poll_keyframe_request(Instant::now()), Some(0));
        }
        let key = enc.encode(&picture(320, 180, 3), true).unwrap();
        assert!(ingest.on_access_unit(0, &key.data).unwrap().is_some());
    }
}
