//! The float reference `compare compositor` scores every contender against: each source plane
//! resampled in `f64` with no rounding anywhere, so no contender's fixed-point shortcuts are in
//! the yardstick.
//!
//! Per axis: exact area averaging when the side shrinks (each output sample is the mean of the
//! source interval it covers, fractional pixels weighed by their covered part: the ideal box
//! filter, and what anti-aliased down-scaling approximates), centre-aligned linear
//! interpolation when it grows. Owns only this maths and the PSNR over tile areas; it must not
//! be used to produce pictures anywhere but here (it is slow on purpose: clarity over speed).

use mixer::frame::{plane_rect, Plane};
use mixer::{I420Frame, PlaneKind, Rect};

/// One axis's filter: per output sample, the first source index and its weights (sum 1).
fn axis_weights(src: usize, dst: usize) -> Vec<(usize, Vec<f64>)> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|o| {
            if scale >= 1.0 {
                let (lo, hi) = (o as f64 * scale, (o + 1) as f64 * scale);
                let first = lo.floor() as usize;
                let last = (hi.ceil() as usize).min(src);
                let weights = (first..last)
                    .map(|i| {
                        let covered = (hi.min(i as f64 + 1.0) - lo.max(i as f64)).max(0.0);
                        covered / scale
                    })
                    .collect();
                (first, weights)
            } else {
                let centre = ((o as f64 + 0.5) * scale - 0.5).clamp(0.0, (src - 1) as f64);
                let first = (centre.floor() as usize).min(src.saturating_sub(2));
                let frac = centre - first as f64;
                if src == 1 {
                    (0, vec![1.0])
                } else {
                    (first, vec![1.0 - frac, frac])
                }
            }
        })
        .collect()
}

/// `plane` resampled to `width` x `height`, row-major, unrounded.
pub fn resample_plane(plane: &Plane<'_>, width: usize, height: usize) -> Vec<f64> {
    let (sw, sh) = (plane.width(), plane.height());
    let xs = axis_weights(sw, width);
    let ys = axis_weights(sh, height);
    // Horizontal pass over every source row, then vertical.
    let rows: Vec<Vec<f64>> = (0..sh)
        .map(|y| {
            let row = plane.row(y);
            xs.iter()
                .map(|(first, w)| {
                    w.iter()
                        .enumerate()
                        .map(|(k, w)| w * f64::from(row[first + k]))
                        .sum()
                })
                .collect()
        })
        .collect();
    let mut out = Vec::with_capacity(width * height);
    for (first, w) in &ys {
        let mut line = vec![0f64; width];
        for (k, w) in w.iter().enumerate() {
            for (acc, v) in line.iter_mut().zip(&rows[first + k]) {
                *acc += w * v;
            }
        }
        out.extend(line);
    }
    out
}

/// The reference pictures of one set of tiles: `tiles[i]` holds `sources[i]` resampled to
/// `rects[i]`, per plane.
#[derive(Debug, Clone)]
pub struct Reference {
    rects: Vec<Rect>,
    tiles: Vec<[Vec<f64>; 3]>,
}

impl Reference {
    /// Resamples each source (its planes, or a crop's) into its rectangle (luma pixels of
    /// the canvas).
    pub fn new(sources: &[[Plane<'_>; 3]], rects: &[Rect]) -> Reference {
        let tiles = sources
            .iter()
            .zip(rects)
            .map(|(planes, rect)| {
                let mut tile: [Vec<f64>; 3] = Default::default();
                for (p, kind) in PlaneKind::ALL.into_iter().enumerate() {
                    let (_, _, w, h) = plane_rect(kind, *rect);
                    tile[p] = resample_plane(&planes[p], w, h);
                }
                tile
            })
            .collect();
        Reference {
            rects: rects.to_vec(),
            tiles,
        }
    }

    /// PSNR (dB, capped at 99) per plane (Y, U, V) of `canvas`'s tile areas against the
    /// reference; the background and rings between tiles are left out, since every contender
    /// shares them.
    pub fn psnr(&self, canvas: &I420Frame) -> [f64; 3] {
        let mut out = [0.0; 3];
        for (p, kind) in PlaneKind::ALL.into_iter().enumerate() {
            let plane = canvas.plane(kind);
            let (mut sum, mut count) = (0f64, 0usize);
            for (rect, tile) in self.rects.iter().zip(&self.tiles) {
                let (x0, y0, w, _) = plane_rect(kind, *rect);
                for (ty, want) in tile[p].chunks(w).enumerate() {
                    let got = &plane.row(y0 + ty)[x0..x0 + w];
                    for (g, r) in got.iter().zip(want) {
                        let d = f64::from(*g) - r;
                        sum += d * d;
                    }
                    count += w;
                }
            }
            let mse = sum / count.max(1) as f64;
            out[p] = if mse == 0.0 {
                99.0
            } else {
                (10.0 * (255.0f64 * 255.0 / mse).log10()).min(99.0)
            };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_weights_cover_each_output_interval_exactly_once() {
        for (src, dst) in [(1280, 422), (640, 211), (9, 3), (7, 7)] {
            let total: f64 = axis_weights(src, dst)
                .iter()
                .map(|(_, w)| w.iter().sum::<f64>())
                .sum();
            assert!((total - dst as f64).abs() < 1e-9, "{src}->{dst}: {total}");
            for (first, w) in axis_weights(src, dst) {
                assert!(first + w.len() <= src, "{src}->{dst} reads past the edge");
            }
        }
    }

    #[test]
    fn a_three_to_one_shrink_averages_each_triple() {
        let mut frame = I420Frame::new(6, 2).expect("frame");
        let [mut y, _, _] = frame.planes_mut();
        y.row_mut(0).copy_from_slice(&[0, 30, 60, 3, 3, 3]);
        y.row_mut(1).copy_from_slice(&[0, 30, 60, 3, 3, 3]);
        let out = resample_plane(&frame.plane(PlaneKind::Y), 2, 1);
        assert_eq!(out, vec![30.0, 3.0]);
    }

    #[test]
    fn an_enlargement_interpolates_between_centres() {
        let mut frame = I420Frame::new(2, 2).expect("frame");
        let [mut y, _, _] = frame.planes_mut();
        y.row_mut(0).copy_from_slice(&[0, 100]);
        y.row_mut(1).copy_from_slice(&[0, 100]);
        let out = resample_plane(&frame.plane(PlaneKind::Y), 4, 1);
        assert_eq!(out, vec![0.0, 25.0, 75.0, 100.0]);
    }
}
