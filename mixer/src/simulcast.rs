//! Scalable ingest decisions: which spatial encoding of a simulcast publisher to decode for the
//! biggest tile it fills, which temporal layers that tile needs, and the switch between
//! encodings that waits for a keyframe of the new one (so no picture is ever built on a missing
//! reference).
//!
//! Owns only the decisions (pure, time passed in, tested on a virtual clock). It must not decode,
//! encode or talk to publishers: the gateway's engine feeds it what arrives and acts on what it
//! answers (decode or drop an access unit, ask the publisher for a keyframe).
//!
//! # Temporal layers in the bitstream
//! openh264 with `iTemporalLayerNum > 1` and `bPrefixNalAddingCtrl` puts an SVC **prefix NAL**
//! (type 14) before every slice of the base (AVC) layer; its 3-byte header extension carries
//! `temporal_id` (top 3 bits of the third extension byte). Plain AVC decoders ignore type 14, so
//! the stream stays Constrained Baseline. Dyadic layering (`T0 T2 T1 T2 T0 ...` for three
//! layers) means dropping every access unit above a `temporal_id` leaves a decodable stream at
//! half (or a quarter of) the rate: the dropped pictures are referenced only by pictures of their
//! own or higher layers.

use std::time::{Duration, Instant};

/// The simulcast ladder native participants publish, smallest first (16:9).
pub const LADDER: [(u32, u32); 3] = [(320, 180), (640, 360), (1280, 720)];

/// How long a keyframe request for a layer switch may go unanswered before it is repeated.
pub const KEYFRAME_RETRY: Duration = Duration::from_millis(500);

/// NAL unit type of an SVC prefix NAL (H.264 Annex G).
pub const NAL_PREFIX: u8 = 14;

/// The index into `layers` (sizes, any order) of the encoding to decode for a tile of `need`
/// pixels: the smallest that is at least as wide and as tall (so the compositor only ever scales
/// down, and as little as possible); the largest when none is big enough. `None` for no layers.
pub fn pick_layer(layers: &[(u32, u32)], need: (u32, u32)) -> Option<usize> {
    let area = |(w, h): (u32, u32)| u64::from(w) * u64::from(h);
    layers
        .iter()
        .enumerate()
        .filter(|(_, &(w, h))| w >= need.0 && h >= need.1)
        .min_by_key(|(_, &size)| area(size))
        .or_else(|| {
            layers
                .iter()
                .enumerate()
                .max_by_key(|(_, &size)| area(size))
        })
        .map(|(i, _)| i)
}

/// Frame rate a tile needs in a layout running at `layout_fps`: a tile covering at least a
/// quarter of the canvas (full screen, side by side, 2x2, the big tile of 1 + 7) shows every
/// frame; smaller tiles (3x3, the small tiles of 1 + 7) show half, which nobody notices in a
/// thumbnail and halves their decoding.
pub fn tile_fps(tile: (u32, u32), canvas: (u32, u32), layout_fps: u32) -> u32 {
    let tile_area = u64::from(tile.0) * u64::from(tile.1);
    let canvas_area = u64::from(canvas.0) * u64::from(canvas.1);
    if tile_area * 4 >= canvas_area {
        layout_fps
    } else {
        layout_fps.div_ceil(2)
    }
}

/// The highest `temporal_id` to decode so that a stream of `layers` dyadic temporal layers at
/// `stream_fps` (all layers) gives at least `need_fps`: layer `k` and below run at
/// `stream_fps / 2^(layers-1-k)`.
pub fn max_temporal_id(stream_fps: u32, layers: u8, need_fps: u32) -> u8 {
    let top = layers.max(1) - 1;
    for k in 0..top {
        let rate = stream_fps >> (top - k);
        if rate >= need_fps {
            return k;
        }
    }
    top
}

/// The `temporal_id` of an access unit (Annex B): the one in its first SVC prefix NAL, 0 when it
/// has none (a single-layer stream, or a publisher without prefix NALs).
pub fn temporal_id(access_unit: &[u8]) -> u8 {
    crate::codec::h264::nal_units(access_unit)
        .find(|nal| nal.first().map(|b| b & 0x1F) == Some(NAL_PREFIX))
        .and_then(|nal| nal.get(3))
        .map_or(0, |b| b >> 5)
}

/// What to do with an arriving access unit of one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Decode it with the decoder the stream already has.
    Decode,
    /// The switch to this layer happens here (its keyframe): start a fresh decoder and decode it.
    SwitchAndDecode,
    /// Drop it (a layer not shown, a temporal layer not needed, or a broken stream waiting for
    /// its keyframe).
    Drop,
}

/// Which layer of one publisher is decoded, and the switch to another that waits for the new
/// layer's keyframe while the old layer keeps being decoded and shown.
#[derive(Debug, Clone, Default)]
pub struct LayerSwitch {
    /// The layer being decoded (`None` before the first keyframe).
    current: Option<usize>,
    /// The layer wanted, when it differs from `current` or `current` is broken.
    target: Option<usize>,
    /// The current layer's decoder failed: drop until its next keyframe.
    broken: bool,
    /// When a keyframe of the target was last asked for.
    requested_at: Option<Instant>,
    /// Highest temporal layer decoded.
    max_temporal_id: u8,
}

impl LayerSwitch {
    /// Nothing decoded yet, nothing wanted.
    pub fn new() -> Self {
        LayerSwitch {
            max_temporal_id: u8::MAX,
            ..LayerSwitch::default()
        }
    }

    /// The layer being decoded.
    pub fn current(&self) -> Option<usize> {
        self.current
    }

    /// The layer waited for (its keyframe), if a switch is under way.
    pub fn pending(&self) -> Option<usize> {
        self.target
    }

    /// Wants `layer` from now on. The current layer stays on until `layer`'s keyframe arrives.
    pub fn set_target(&mut self, layer: usize) {
        if Some(layer) == self.current && !self.broken {
            self.target = None;
            self.requested_at = None;
        } else if self.target != Some(layer) {
            self.target = Some(layer);
            self.requested_at = None;
        }
    }

    /// Wants nothing (the publisher is shown nowhere): decoding stops, and showing it again
    /// waits for a keyframe.
    pub fn stop(&mut self) {
        self.current = None;
        self.target = None;
        self.broken = false;
        self.requested_at = None;
    }

    /// Decodes temporal layers up to `max` only (0 = base layer only).
    pub fn set_max_temporal_id(&mut self, max: u8) {
        self.max_temporal_id = max;
    }

    /// The layers the publisher must send: the current one and the one switched to. A real
    /// publisher pauses the others.
    pub fn subscribed(&self) -> impl Iterator<Item = usize> {
        let current = self.current.filter(|_| !self.broken);
        current
            .into_iter()
            .chain(self.target.filter(|t| Some(*t) != current))
    }

    /// An access unit of `layer` arrived; `keyframe` when it is an IDR, `temporal_id` from
    /// [`temporal_id`].
    pub fn on_access_unit(&mut self, layer: usize, keyframe: bool, temporal_id: u8) -> Verdict {
        if Some(layer) == self.target && keyframe {
            self.current = Some(layer);
            self.target = None;
            self.broken = false;
            self.requested_at = None;
            return Verdict::SwitchAndDecode;
        }
        if Some(layer) != self.current || self.broken || temporal_id > self.max_temporal_id {
            return Verdict::Drop;
        }
        Verdict::Decode
    }

    /// The decoder of the current layer failed: show the last good picture and wait for the
    /// layer's next keyframe (asked for by [`poll_keyframe_request`](Self::poll_keyframe_request)).
    pub fn on_decode_error(&mut self) {
        if let Some(current) = self.current {
            self.broken = true;
            if self.target.is_none() {
                self.target = Some(current);
                self.requested_at = None;
            }
        }
    }

    /// The layer to ask a keyframe of at `now`, if a switch (or a recovery) waits for one and it
    /// was not asked for within [`KEYFRAME_RETRY`].
    #[must_use]
    pub fn poll_keyframe_request(&mut self, now: Instant) -> Option<usize> {
        let target = self.target?;
        let due = self
            .requested_at
            .is_none_or(|at| now.saturating_duration_since(at) >= KEYFRAME_RETRY);
        if due {
            self.requested_at = Some(now);
            Some(target)
        } else {
            None
        }
    }
}

#[cfg(test)]
// The tests make one real instant and move it forward by hand.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn a_3x3_tile_of_720p_decodes_360p() {
        assert_eq!(pick_layer(&LADDER, (426, 240)), Some(1));
        assert_eq!(pick_layer(&LADDER, (640, 360)), Some(1));
        assert_eq!(pick_layer(&LADDER, (300, 170)), Some(0));
    }

    #[test]
    fn full_screen_gets_full_resolution_and_bigger_gets_the_largest() {
        assert_eq!(pick_layer(&LADDER, (1280, 720)), Some(2));
        assert_eq!(pick_layer(&LADDER, (1920, 1080)), Some(2));
        assert_eq!(pick_layer(&[], (10, 10)), None);
        // Order of the ladder does not matter.
        assert_eq!(pick_layer(&[(1280, 720), (320, 180)], (200, 100)), Some(1));
    }

    #[test]
    fn small_tiles_need_half_the_rate() {
        assert_eq!(tile_fps((426, 240), (1280, 720), 30), 15);
        assert_eq!(tile_fps((640, 360), (1280, 720), 30), 30);
        assert_eq!(tile_fps((1280, 720), (1280, 720), 30), 30);
    }

    #[test]
    fn temporal_layer_for_a_rate() {
        assert_eq!(max_temporal_id(30, 3, 30), 2);
        assert_eq!(max_temporal_id(30, 3, 15), 1);
        assert_eq!(max_temporal_id(30, 3, 7), 0);
        assert_eq!(max_temporal_id(15, 2, 15), 1);
        assert_eq!(max_temporal_id(30, 1, 15), 0);
    }

    #[test]
    fn temporal_id_comes_from_the_prefix_nal() {
        // Prefix NAL (nal_ref_idc 0, type 14) with temporal_id 2, then a non-IDR slice.
        let au = [0, 0, 0, 1, 0x0E, 0x80, 0x00, 0x40, 0, 0, 0, 1, 0x01, 0x9A];
        assert_eq!(temporal_id(&au), 2);
        assert_eq!(temporal_id(&[0, 0, 0, 1, 0x65, 0x88]), 0);
        assert_eq!(temporal_id(&[0, 0, 1, 0x0E]), 0, "truncated prefix");
        assert_eq!(temporal_id(&[]), 0);
    }

    #[test]
    fn first_keyframe_starts_decoding() {
        let mut s = LayerSwitch::new();
        s.set_target(1);
        assert_eq!(s.on_access_unit(1, false, 0), Verdict::Drop);
        assert_eq!(s.on_access_unit(1, true, 0), Verdict::SwitchAndDecode);
        assert_eq!(s.on_access_unit(1, false, 0), Verdict::Decode);
        assert_eq!(s.on_access_unit(0, true, 0), Verdict::Drop, "not wanted");
    }

    #[test]
    fn switch_keeps_the_old_layer_until_the_new_keyframe() {
        let t0 = Instant::now();
        let mut s = LayerSwitch::new();
        s.set_target(1);
        assert_eq!(s.poll_keyframe_request(t0), Some(1));
        assert_eq!(s.on_access_unit(1, true, 0), Verdict::SwitchAndDecode);
        assert_eq!(s.poll_keyframe_request(t0), None);

        s.set_target(2);
        assert_eq!(s.subscribed().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(s.poll_keyframe_request(t0), Some(2));
        assert_eq!(s.poll_keyframe_request(t0 + KEYFRAME_RETRY / 2), None);
        // Delta frames of the new layer are useless without its keyframe; the old one goes on.
        assert_eq!(s.on_access_unit(2, false, 0), Verdict::Drop);
        assert_eq!(s.on_access_unit(1, false, 0), Verdict::Decode);
        assert_eq!(s.poll_keyframe_request(t0 + KEYFRAME_RETRY), Some(2));
        assert_eq!(s.on_access_unit(2, true, 0), Verdict::SwitchAndDecode);
        assert_eq!(s.on_access_unit(1, false, 0), Verdict::Drop);
        assert_eq!(s.subscribed().collect::<Vec<_>>(), vec![2]);
        assert_eq!(s.current(), Some(2));
    }

    #[test]
    fn switching_back_before_the_keyframe_cancels_the_switch() {
        let mut s = LayerSwitch::new();
        s.set_target(1);
        let _ = s.on_access_unit(1, true, 0);
        s.set_target(2);
        s.set_target(1);
        assert_eq!(s.pending(), None);
        assert_eq!(s.poll_keyframe_request(Instant::now()), None);
        assert_eq!(s.on_access_unit(2, true, 0), Verdict::Drop);
    }

    #[test]
    fn decode_error_waits_for_a_keyframe_of_the_same_layer() {
        let t0 = Instant::now();
        let mut s = LayerSwitch::new();
        s.set_target(0);
        let _ = s.on_access_unit(0, true, 0);
        s.on_decode_error();
        assert_eq!(s.poll_keyframe_request(t0), Some(0));
        assert_eq!(s.on_access_unit(0, false, 0), Verdict::Drop);
        assert_eq!(s.on_access_unit(0, true, 0), Verdict::SwitchAndDecode);
        assert_eq!(s.on_access_unit(0, false, 0), Verdict::Decode);
    }

    #[test]
    fn stopped_stream_restarts_at_a_keyframe() {
        let mut s = LayerSwitch::new();
        s.set_target(1);
        let _ = s.on_access_unit(1, true, 0);
        s.stop();
        assert_eq!(s.subscribed().count(), 0);
        assert_eq!(s.on_access_unit(1, false, 0), Verdict::Drop);
        s.set_target(1);
        assert_eq!(s.on_access_unit(1, false, 0), Verdict::Drop);
        assert_eq!(s.on_access_unit(1, true, 0), Verdict::SwitchAndDecode);
    }

    #[test]
    fn temporal_layers_above_the_need_are_dropped() {
        let mut s = LayerSwitch::new();
        s.set_target(0);
        let _ = s.on_access_unit(0, true, 0);
        s.set_max_temporal_id(1);
        assert_eq!(s.on_access_unit(0, false, 2), Verdict::Drop);
        assert_eq!(s.on_access_unit(0, false, 1), Verdict::Decode);
        assert_eq!(s.on_access_unit(0, false, 0), Verdict::Decode);
    }
}
