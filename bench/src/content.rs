//! Test pictures with the statistics of a room camera, made deterministically in memory (no
//! files, no download): a lit wall with fine texture, a bookshelf of coloured spines, a table
//! edge, a person (head, hair, shirt) that moves with `t`, and sensor grain.
//!
//! Owns only picture synthesis. Flat colour would flatter every scaler (any filter returns the
//! same value), so the benches feed these instead: edges, gradients and noise exercise every tap.

use mixer::{I420Frame, PlaneKind, Yuv};

/// Deterministic xorshift64 noise.
struct Noise(u64);

impl Noise {
    fn new(seed: u64) -> Noise {
        Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `-amplitude..=amplitude`.
    fn grain(&mut self, amplitude: i32) -> i32 {
        (self.next() % (2 * amplitude as u64 + 1)) as i32 - amplitude
    }
}

/// A smooth pseudo-random value in 0..1 at (x, y), one lattice cell per `cell` pixels (value
/// noise with smoothstep interpolation): the wall's plaster and the table's grain.
fn value_noise(x: f64, y: f64, cell: f64, seed: u64) -> f64 {
    let lattice = |ix: i64, iy: i64| -> f64 {
        let mut h = (ix as u64).wrapping_mul(0x8DA6_B343) ^ (iy as u64).wrapping_mul(0xD816_3841);
        h ^= seed.wrapping_mul(0xCB1A_B31F);
        h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((h >> 40) & 0xFFFF) as f64 / 65535.0
    };
    let (fx, fy) = (x / cell, y / cell);
    let (ix, iy) = (fx.floor() as i64, fy.floor() as i64);
    let smooth = |t: f64| t * t * (3.0 - 2.0 * t);
    let (tx, ty) = (smooth(fx - ix as f64), smooth(fy - iy as f64));
    let top = lattice(ix, iy) * (1.0 - tx) + lattice(ix + 1, iy) * tx;
    let bottom = lattice(ix, iy + 1) * (1.0 - tx) + lattice(ix + 1, iy + 1) * tx;
    top * (1.0 - ty) + bottom * ty
}

/// The RGB colour of the scene at (x, y) in a `width` x `height` picture; `seed` varies the
/// room, `t` moves the person.
fn scene(x: f64, y: f64, width: f64, height: f64, seed: u64, t: f64) -> [f64; 3] {
    let (u, v) = (x / width, y / height);
    // Wall: warm light falling off to the right and down, plaster texture at two scales.
    let light = 0.75 + 0.25 * (1.0 - u) - 0.15 * v;
    let plaster = 0.85
        + 0.1 * value_noise(x, y, width / 40.0, seed)
        + 0.05 * value_noise(x, y, width / 300.0, seed + 1);
    let tint = [
        (seed % 5) as f64 * 8.0,
        (seed % 3) as f64 * 6.0,
        (seed % 7) as f64 * 4.0,
    ];
    let mut rgb = [
        (170.0 + tint[0]) * light * plaster,
        (160.0 + tint[1]) * light * plaster,
        (140.0 + tint[2]) * light * plaster,
    ];
    // Bookshelf on the left: spines of varying width and colour with dark gaps.
    if u < 0.28 && (0.12..0.62).contains(&v) {
        let shelf = ((v - 0.12) / 0.125).floor();
        let in_shelf = ((v - 0.12) / 0.125).fract();
        if in_shelf > 0.9 {
            rgb = [90.0, 60.0, 35.0];
        } else {
            let spine = (x / (width * 0.011) + shelf * 7.3).floor() as u64;
            let h = (spine ^ seed).wrapping_mul(0x2545_F491_4F6C_DD1D);
            let pick = |s: u32| 40.0 + ((h >> s) & 0xBF) as f64;
            let gap = ((x / (width * 0.011)) + shelf * 7.3).fract() < 0.08;
            rgb = if gap {
                [20.0, 15.0, 12.0]
            } else {
                [pick(8), pick(24), pick(40)]
            };
        }
    }
    // Table: a wood band across the bottom with fine grain lines.
    if v > 0.8 {
        let grain = value_noise(x * 0.2, y * 6.0, width / 200.0, seed + 2);
        rgb = [
            120.0 + 40.0 * grain,
            80.0 + 25.0 * grain,
            50.0 + 15.0 * grain,
        ];
    }
    // The person: shoulders, neck, head, hair, centred and swaying with t.
    let cx = width * (0.55 + 0.02 * (t * 0.7).sin());
    let cy = height * (0.42 + 0.01 * (t * 1.3).cos());
    let head_r = height * 0.16;
    let (dx, dy) = ((x - cx) / (head_r * 0.8), (y - cy) / head_r);
    let shoulders = (x - cx).abs() < height * 0.4 - (y - cy - head_r * 1.6).max(0.0) * -0.6
        && y > cy + head_r * 1.25
        && v <= 0.8;
    if shoulders {
        let fold = 0.9 + 0.1 * ((x - cx) / (width * 0.02)).sin();
        rgb = [40.0 * fold, 70.0 * fold, 120.0 * fold];
    }
    let r2 = dx * dx + dy * dy;
    if (x - cx).abs() < head_r * 0.35 && y > cy && y < cy + head_r * 1.35 {
        rgb = [190.0, 140.0, 115.0];
    }
    if r2 < 1.0 {
        // Skin lit from the left, darker towards the edge of the face.
        let shade = 1.0 - 0.25 * r2 - 0.1 * dx;
        rgb = [215.0 * shade, 165.0 * shade, 135.0 * shade];
        // Eyes and mouth: small dark features, sharp edges.
        let eye = |ex: f64| ((dx - ex).powi(2) + (dy + 0.2).powi(2)) < 0.012;
        if eye(-0.35) || eye(0.35) {
            rgb = [40.0, 30.0, 30.0];
        }
        if dy > 0.4 && dy < 0.48 && dx.abs() < 0.3 {
            rgb = [150.0, 70.0, 70.0];
        }
        if dy < -0.55 + 0.1 * (dx * 9.0).sin().abs() {
            rgb = [50.0, 35.0, 25.0];
        }
    }
    rgb
}

/// A `width` x `height` picture of the room (`seed` picks the room, `t` the moment).
///
/// # Panics
/// If the size is not a valid frame size (the benches use fixed, valid sizes).
pub fn room_frame(width: u32, height: u32, seed: u64, t: f64) -> I420Frame {
    let mut frame = I420Frame::new(width, height).expect("valid bench frame size");
    let (w, h) = (f64::from(width), f64::from(height));
    let mut noise = Noise::new(seed ^ t.to_bits());
    let to_u8 = |c: f64| c.clamp(0.0, 255.0) as u8;
    let colour_at = |x: f64, y: f64| {
        let rgb = scene(x, y, w, h, seed, t);
        Yuv::from_rgb(to_u8(rgb[0]), to_u8(rgb[1]), to_u8(rgb[2]))
    };
    for (kind, mut plane) in PlaneKind::ALL.into_iter().zip(frame.planes_mut()) {
        // Chroma samples sit at the centre of their 2x2 luma block.
        let step = if kind == PlaneKind::Y { 1.0 } else { 2.0 };
        let offset = if kind == PlaneKind::Y { 0.5 } else { 1.0 };
        let grain = if kind == PlaneKind::Y { 3 } else { 1 };
        for row in 0..plane.height() {
            for (col, px) in plane.row_mut(row).iter_mut().enumerate() {
                let c = colour_at(col as f64 * step + offset, row as f64 * step + offset);
                let value = i32::from(c.component(kind)) + noise.grain(grain);
                *px = value.clamp(16, 240) as u8;
            }
        }
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_have_detail_and_differ_by_seed_and_time() {
        let a = room_frame(320, 180, 1, 0.0);
        let y = a.plane(PlaneKind::Y);
        let values: std::collections::HashSet<u8> =
            (0..180).flat_map(|r| y.row(r).to_vec()).collect();
        assert!(
            values.len() > 100,
            "only {} distinct luma values",
            values.len()
        );
        assert_ne!(a, room_frame(320, 180, 2, 0.0));
        assert_ne!(a, room_frame(320, 180, 1, 1.0));
        assert_eq!(a, room_frame(320, 180, 1, 0.0));
    }
}
