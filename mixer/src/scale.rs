//! I420 scaling: a bilinear filter, and a box (area) filter when a side shrinks by 2x or more,
//! in fixed point, with a scalar reference path and explicit x86_64 SIMD paths.
//!
//! Owns the filter maths and the only `unsafe` code in the crate (the `std::arch` kernels, each
//! with its SAFETY argument). It must not know about tiles, borders or labels (`compose`), nor
//! allocate per call once a [`TileScaler`] exists (its scratch rows are kept).
//!
//! # Semantics (shared by every backend)
//! Each axis has a filter table: per output sample, a start index and `taps` weights in 14-bit
//! fixed point that sum to exactly `1 << 14`. Bilinear samples at the output pixel's centre
//! (`(o + 0.5) * scale - 0.5`, clamped to the edge); the box filter weighs each source pixel by
//! how much of it the output pixel covers. A plane is scaled vertically first, one output row at
//! a time into a `u8` scratch row (rounded to nearest), then horizontally (rounded to nearest).
//! Because every backend does exactly this integer arithmetic, the SIMD paths are bit-exact with
//! the scalar one; the tests still only require "within one level", the contract the compositor
//! relies on.
//!
//! # Backends
//! - [`Backend::Scalar`]: the reference, portable.
//! - [`Backend::Sse2`] (every x86_64): SIMD vertical pass, scalar horizontal pass.
//! - [`Backend::Ssse3`] (detected at run time): SSE2's vertical pass and the shuffle horizontal
//!   pass, four outputs per register.
//! - [`Backend::Avx2`] (detected at run time): a vertical pass unrolled for up to 8 rows, and
//!   the shuffle horizontal pass on 16 outputs per step.
//!
//! The shuffle horizontal pass ([`ShuffleTables`]): four consecutive outputs of the
//! compositor's ratios (up to about 3x down) read inside one 16-byte window, so one load plus
//! one `pshufb` per tap pair puts every output's two source pixels side by side as `u16`, and
//! `pmaddwd` weighs them with the same 14-bit weights. It replaced a `vpgatherdd` kernel, which
//! is slow on AMD cores (about 2x faster per tile here); the gather remains the AVX2 fallback for
//! ratios whose groups do not fit a window (e.g. 1080p into a 3x3 tile). Rows are prefetched one
//! output row ahead: each source row is short (a tile's width), too short for the hardware
//! prefetcher to pick up, and the sources are cold (nine decoded pictures per frame).
//!
//! A crate was considered: `yuvutils-rs` converts between YUV and RGB but does not resample
//! planes; `pic-scale` resamples with floating or different fixed-point kernels (no bit-exact
//! scalar twin) and brings a thread pool of its own. Hand-written kernels keep the SIMD result
//! provably equal to the reference, which is what the golden tests check.

#![allow(unsafe_code)]

use crate::frame::{chroma_size, FrameError, I420Frame, Plane, PlaneKind, PlaneMut};
use crate::layout::Rect;

/// Bits of fraction in filter weights.
const WEIGHT_BITS: u32 = 14;
/// A weight of 1.0.
const ONE: i32 = 1 << WEIGHT_BITS;
/// Added before the final shift to round to nearest.
const HALF: i32 = 1 << (WEIGHT_BITS - 1);
/// A side shrinking by at least this factor uses the box filter instead of bilinear (bilinear
/// would skip source pixels and alias).
const BOX_FILTER_RATIO: f64 = 2.0;
/// Zero bytes after the scratch row so that the SIMD reads past a start (the gather's 4 bytes,
/// the shuffle kernels' 16-byte windows) never leave it.
const COLUMN_SLACK: usize = 16;
/// Bytes one shuffle-kernel window covers (one 128-bit register).
const WINDOW: usize = 16;
/// Outputs per shuffle-kernel group (four `i32` sums fill one 128-bit register).
const GROUP: usize = 4;

/// Why a scaler cannot be made or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScaleError {
    /// A source or destination side is zero or too large.
    #[error("cannot scale {src_width}x{src_height} to {dst_width}x{dst_height}")]
    BadSize {
        /// Source width.
        src_width: u32,
        /// Source height.
        src_height: u32,
        /// Destination width.
        dst_width: u32,
        /// Destination height.
        dst_height: u32,
    },
    /// The frame or view handed in is not the size the scaler was built for.
    #[error("scaler built for {expected:?} got {got:?}")]
    SizeMismatch {
        /// (width, height) the scaler expects.
        expected: (usize, usize),
        /// (width, height) it was given.
        got: (usize, usize),
    },
    /// A crop rectangle must start on even pixels so that chroma lines up with luma.
    #[error("crop {0} must start on an even pixel")]
    OddCropOrigin(Rect),
    /// A crop rectangle reaches outside its frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The requested backend is not supported by this CPU.
    #[error("backend {0:?} is not available on this CPU")]
    BackendUnavailable(Backend),
}

/// Which implementation runs the kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Portable scalar code: the reference.
    Scalar,
    /// x86_64 SSE2 (always present on x86_64).
    Sse2,
    /// x86_64 SSSE3 (SSE2 plus `pshufb`), when the CPU has it.
    Ssse3,
    /// x86_64 AVX2, when the CPU has it.
    Avx2,
}

impl Backend {
    /// The fastest backend this CPU supports.
    pub fn detect() -> Backend {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                return Backend::Avx2;
            }
            if std::arch::is_x86_feature_detected!("ssse3") {
                return Backend::Ssse3;
            }
            Backend::Sse2
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Backend::Scalar
        }
    }

    /// Whether this CPU can run the backend.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Backend::Sse2 => true,
            #[cfg(target_arch = "x86_64")]
            Backend::Ssse3 => std::arch::is_x86_feature_detected!("ssse3"),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            Backend::Sse2 | Backend::Ssse3 | Backend::Avx2 => false,
        }
    }
}

/// One axis's filter: for output `o`, source samples `starts[o] .. starts[o] + taps` weighted by
/// `weights[o * taps ..][..taps]`.
#[derive(Debug, Clone)]
struct AxisFilter {
    taps: usize,
    starts: Vec<i32>,
    weights: Vec<i16>,
    /// For AVX2: per tap pair `k/2`, per output (padded to a multiple of 8), the two weights
    /// packed as `w[k] | w[k+1] << 16`.
    pair_weights: Vec<i32>,
    /// `starts` padded with zeros to a multiple of 8.
    padded_starts: Vec<i32>,
    /// The largest start (every start is `0..src`).
    max_start: usize,
    /// Tables of the shuffle kernels, when every group of [`GROUP`] outputs reads inside one
    /// [`WINDOW`] (true for the compositor's ratios up to about 3x; see [`ShuffleTables`]).
    shuffle: Option<ShuffleTables>,
}

/// The horizontal filter rearranged for `pshufb` + `pmaddwd`: outputs go in groups of
/// [`GROUP`]; a group loads the [`WINDOW`] bytes at its `base` and, per tap pair, one shuffle
/// picks each output's two source bytes as zero-extended `u16`s, which `pmaddwd` multiplies by
/// the pair's weights. Pairs of groups ("octets", eight outputs) sit next to each other so that
/// the AVX2 kernel reads both lanes' masks and weights with one load.
#[derive(Debug, Clone)]
struct ShuffleTables {
    /// Per group, the first source byte of its window.
    bases: Vec<u32>,
    /// Per octet, per tap pair, per group of the octet: 16 shuffle-mask bytes.
    masks: Vec<u8>,
    /// Per octet, per tap pair, per group of the octet: [`GROUP`] packed weight pairs
    /// (`w[2p] | w[2p+1] << 16`).
    weights: Vec<i32>,
    /// Groups, padded to a whole number of octet pairs (16 outputs).
    groups: usize,
    /// The largest base: a column of `max_base + WINDOW` bytes holds every window.
    max_base: usize,
}

impl ShuffleTables {
    /// The tables for `starts`/`weights` (`taps` per output), or `None` if some group's taps
    /// do not fit in one window.
    fn new(taps: usize, starts: &[i32], weights: &[i16]) -> Option<ShuffleTables> {
        let dst = starts.len();
        if taps > WINDOW || dst == 0 {
            return None;
        }
        // 16 outputs per AVX2 step: groups padded to a multiple of 4.
        let groups = dst.div_ceil(GROUP).next_multiple_of(4);
        let pairs = taps / 2;
        let mut bases = Vec::with_capacity(groups);
        let mut masks = vec![0x80u8; groups * pairs * WINDOW];
        let mut packed = vec![0i32; groups * pairs * GROUP];
        let last_start = starts[dst - 1] as usize;
        for g in 0..groups {
            // Padding groups reuse the last start (in bounds) and weigh everything zero.
            let base = starts.get(g * GROUP).map_or(last_start, |&s| s as usize);
            bases.push(base as u32);
            let (octet, lane) = (g / 2, g % 2);
            for j in 0..GROUP {
                let o = g * GROUP + j;
                let offset = starts.get(o).map_or(0, |&s| s as usize - base);
                if o < dst && offset + taps > WINDOW {
                    return None;
                }
                for p in 0..pairs {
                    let at = ((octet * pairs + p) * 2 + lane) * WINDOW + 4 * j;
                    if o < dst {
                        masks[at] = (offset + 2 * p) as u8;
                        masks[at + 2] = (offset + 2 * p + 1) as u8;
                        let lo = weights[o * taps + 2 * p] as u16 as i32;
                        let hi = i32::from(weights[o * taps + 2 * p + 1]);
                        packed[((octet * pairs + p) * 2 + lane) * GROUP + j] = lo | (hi << 16);
                    } else {
                        masks[at] = 0;
                        masks[at + 2] = 0;
                    }
                }
            }
        }
        let max_base = bases.iter().copied().max().unwrap_or(0) as usize;
        Some(ShuffleTables {
            max_base,
            bases,
            masks,
            weights: packed,
            groups,
        })
    }
}

impl AxisFilter {
    fn new(src: usize, dst: usize) -> AxisFilter {
        let scale = src as f64 / dst as f64;
        let mut entries: Vec<(usize, Vec<f64>)> = Vec::with_capacity(dst);
        for o in 0..dst {
            if scale >= BOX_FILTER_RATIO {
                let lo = o as f64 * scale;
                let hi = ((o + 1) as f64 * scale).min(src as f64);
                let first = lo.floor() as usize;
                let last = (hi.ceil() as usize).min(src);
                let w = (first..last)
                    .map(|i| ((i + 1) as f64).min(hi) - (i as f64).max(lo))
                    .map(|covered| covered.max(0.0) / scale)
                    .collect();
                entries.push((first, w));
            } else {
                let centre = ((o as f64 + 0.5) * scale - 0.5).clamp(0.0, (src - 1) as f64);
                let first = centre.floor() as usize;
                let frac = centre - first as f64;
                if first + 1 < src {
                    entries.push((first, vec![1.0 - frac, frac]));
                } else {
                    entries.push((first, vec![1.0]));
                }
            }
        }
        let widest = entries.iter().map(|(_, w)| w.len()).max().unwrap_or(1);
        let taps = widest.max(2).next_multiple_of(2);
        let mut starts = Vec::with_capacity(dst);
        let mut weights = vec![0i16; dst * taps];
        for (o, (first, w)) in entries.iter().enumerate() {
            let q = quantize(w);
            starts.push(*first as i32);
            weights[o * taps..o * taps + q.len()].copy_from_slice(&q);
        }
        let padded = dst.next_multiple_of(8);
        let mut padded_starts = starts.clone();
        padded_starts.resize(padded, 0);
        let mut pair_weights = vec![0i32; taps / 2 * padded];
        for pair in 0..taps / 2 {
            for o in 0..dst {
                let lo = weights[o * taps + 2 * pair] as u16 as i32;
                let hi = i32::from(weights[o * taps + 2 * pair + 1]);
                pair_weights[pair * padded + o] = lo | (hi << 16);
            }
        }
        let max_start = starts.iter().copied().max().unwrap_or(0) as usize;
        let shuffle = ShuffleTables::new(taps, &starts, &weights);
        AxisFilter {
            max_start,
            shuffle,
            taps,
            starts,
            weights,
            pair_weights,
            padded_starts,
        }
    }

    /// (source index, weight) pairs of output `o` with a non-zero weight.
    fn nonzero(&self, o: usize) -> impl Iterator<Item = (usize, i16)> + '_ {
        let start = self.starts[o] as usize;
        self.weights[o * self.taps..(o + 1) * self.taps]
            .iter()
            .enumerate()
            .filter(|(_, &w)| w != 0)
            .map(move |(k, &w)| (start + k, w))
    }
}

/// Rounds real weights (summing to 1) to fixed point summing to exactly [`ONE`]; the rounding
/// remainder goes to the largest weight.
fn quantize(weights: &[f64]) -> Vec<i16> {
    let total: f64 = weights.iter().sum();
    let mut q: Vec<i32> = weights
        .iter()
        .map(|w| (w / total * f64::from(ONE)).round() as i32)
        .collect();
    let diff = ONE - q.iter().sum::<i32>();
    let largest = (0..q.len()).max_by_key(|&i| q[i]).unwrap_or(0);
    q[largest] += diff;
    q.into_iter().map(|w| w as i16).collect()
}

/// Scales one plane of a fixed source size to a fixed destination size.
#[derive(Debug, Clone)]
pub struct PlaneScaler {
    src: (usize, usize),
    dst: (usize, usize),
    horizontal: AxisFilter,
    vertical: AxisFilter,
    /// The vertical filter's non-zero taps, (source row, weight), output after output.
    row_taps: Vec<(usize, i16)>,
    /// Where each output row's taps start in `row_taps` (one more entry than output rows).
    row_taps_at: Vec<usize>,
}

/// Reusable rows for [`PlaneScaler::scale`], so scaling does not allocate.
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    column: Vec<u8>,
    out: Vec<u8>,
}

impl PlaneScaler {
    /// A scaler from `src_w` x `src_h` to `dst_w` x `dst_h` (plane pixels).
    pub fn new(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Result<Self, ScaleError> {
        let max = crate::frame::MAX_DIMENSION;
        if [src_w, src_h, dst_w, dst_h]
            .iter()
            .any(|&s| s == 0 || s > max)
        {
            return Err(ScaleError::BadSize {
                src_width: src_w,
                src_height: src_h,
                dst_width: dst_w,
                dst_height: dst_h,
            });
        }
        let (sw, sh, dw, dh) = (
            src_w as usize,
            src_h as usize,
            dst_w as usize,
            dst_h as usize,
        );
        let vertical = AxisFilter::new(sh, dh);
        let mut row_taps = Vec::new();
        let mut row_taps_at = vec![0];
        for oy in 0..dh {
            row_taps.extend(vertical.nonzero(oy));
            row_taps_at.push(row_taps.len());
        }
        Ok(PlaneScaler {
            src: (sw, sh),
            dst: (dw, dh),
            horizontal: AxisFilter::new(sw, dw),
            vertical,
            row_taps,
            row_taps_at,
        })
    }

    /// Source size (width, height).
    pub fn src_size(&self) -> (usize, usize) {
        self.src
    }

    /// Destination size (width, height).
    pub fn dst_size(&self) -> (usize, usize) {
        self.dst
    }

    /// Scales `src` into `dst` with `backend`.
    pub fn scale(
        &self,
        src: &Plane<'_>,
        dst: &mut PlaneMut<'_>,
        backend: Backend,
        scratch: &mut Scratch,
    ) -> Result<(), ScaleError> {
        if (src.width(), src.height()) != self.src {
            return Err(ScaleError::SizeMismatch {
                expected: self.src,
                got: (src.width(), src.height()),
            });
        }
        if (dst.width(), dst.height()) != self.dst {
            return Err(ScaleError::SizeMismatch {
                expected: self.dst,
                got: (dst.width(), dst.height()),
            });
        }
        if !backend.is_available() {
            return Err(ScaleError::BackendUnavailable(backend));
        }
        let (sw, _) = self.src;
        let (dw, dh) = self.dst;
        let h = &self.horizontal;
        scratch.column.clear();
        scratch.column.resize(sw + h.taps + COLUMN_SLACK, 0);
        scratch.out.clear();
        scratch.out.resize(dw.next_multiple_of(16), 0);
        let mut rows: Vec<(&[u8], i16)> = Vec::with_capacity(self.vertical.taps);
        for oy in 0..dh {
            let taps = &self.row_taps[self.row_taps_at[oy]..self.row_taps_at[oy + 1]];
            rows.clear();
            rows.extend(taps.iter().map(|&(sy, w)| (src.row(sy), w)));
            if oy + 1 < dh {
                // Source rows are read a few at a time, each only `sw` bytes long: too short for
                // the hardware prefetcher to learn. Ask for the next output's new rows now so
                // they arrive while this row is being filtered.
                let last_now = taps.last().map_or(0, |t| t.0);
                let next = &self.row_taps[self.row_taps_at[oy + 1]..self.row_taps_at[oy + 2]];
                for &(sy, _) in next {
                    if sy > last_now {
                        prefetch(backend, src.row(sy));
                    }
                }
            }
            let identity_h = sw == dw;
            let column: &mut [u8] = if identity_h {
                dst.row_mut(oy)
            } else {
                &mut scratch.column[..sw]
            };
            vertical(backend, &rows, column);
            if !identity_h {
                horizontal(backend, h, &scratch.column, &mut scratch.out);
                dst.row_mut(oy).copy_from_slice(&scratch.out[..dw]);
            }
        }
        Ok(())
    }
}

/// Hints the CPU to bring `row` into cache (no effect on results).
fn prefetch(backend: Backend, row: &[u8]) {
    match backend {
        #[cfg(target_arch = "x86_64")]
        Backend::Sse2 | Backend::Ssse3 | Backend::Avx2 => x86::prefetch(row),
        _ => {}
    }
}

/// Blends `rows` (each with its weight) into `out`.
fn vertical(backend: Backend, rows: &[(&[u8], i16)], out: &mut [u8]) {
    if let [(only, _)] = rows {
        // All weight on one row (weights sum to ONE): the blend is a copy in every backend.
        out.copy_from_slice(&only[..out.len()]);
        return;
    }
    let done = match backend {
        Backend::Scalar => 0,
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `scale` checked that the CPU has SSE2/AVX2 (`Backend::is_available`; SSSE3
        // implies SSE2); every row is at least `out.len()` long (rows of the source plane, which
        // is `sw` wide).
        Backend::Sse2 | Backend::Ssse3 => unsafe { x86::vertical_sse2(rows, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Backend::Avx2 => unsafe { x86::vertical_avx2(rows, out) },
        #[cfg(not(target_arch = "x86_64"))]
        Backend::Sse2 | Backend::Ssse3 | Backend::Avx2 => 0,
    };
    vertical_scalar(rows, out, done);
}

/// The reference vertical blend of pixels `from..`.
fn vertical_scalar(rows: &[(&[u8], i16)], out: &mut [u8], from: usize) {
    for (x, px) in out.iter_mut().enumerate().skip(from) {
        let acc: i32 = rows
            .iter()
            .map(|(row, w)| i32::from(row[x]) * i32::from(*w))
            .sum();
        *px = ((acc + HALF) >> WEIGHT_BITS).clamp(0, 255) as u8;
    }
}

/// Filters `column` (the vertically blended row plus zero slack) into `out` (padded to 8).
fn horizontal(backend: Backend, filter: &AxisFilter, column: &[u8], out: &mut [u8]) {
    match (backend, &filter.shuffle) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `scale` checked AVX2 is present; `column` has `COLUMN_SLACK` (= WINDOW) zero
        // bytes past the source row, so every window (based at a start < src) is inside it, and
        // `out` is padded to the tables' groups (the kernel asserts both).
        (Backend::Avx2, Some(tables)) => unsafe {
            x86::horizontal_shuffle_avx2(tables, column, out)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with SSSE3 checked present.
        (Backend::Ssse3, Some(tables)) => unsafe {
            x86::horizontal_shuffle_ssse3(tables, column, out)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `scale` checked AVX2 is present; `column` has `taps + COLUMN_SLACK` zero bytes
        // past the last start index and `out` is padded to a multiple of 8 (the layout the
        // kernel's contract requires, see `horizontal_avx2`).
        (Backend::Avx2, None) => unsafe { x86::horizontal_avx2(filter, column, out) },
        _ => horizontal_scalar(filter, column, out),
    }
}

/// The reference horizontal filter.
fn horizontal_scalar(filter: &AxisFilter, column: &[u8], out: &mut [u8]) {
    let taps = filter.taps;
    for (o, &start) in filter.starts.iter().enumerate() {
        let src = &column[start as usize..start as usize + taps];
        let w = &filter.weights[o * taps..(o + 1) * taps];
        let acc: i32 = src
            .iter()
            .zip(w)
            .map(|(&p, &w)| i32::from(p) * i32::from(w))
            .sum();
        out[o] = ((acc + HALF) >> WEIGHT_BITS).clamp(0, 255) as u8;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86;

/// Scales whole I420 pictures (or a crop of one) of a fixed size to a fixed size: one
/// [`PlaneScaler`] for luma, one for chroma, the backend and the scratch rows.
#[derive(Debug, Clone)]
pub struct TileScaler {
    luma: PlaneScaler,
    chroma: PlaneScaler,
    backend: Backend,
    scratch: Scratch,
}

impl TileScaler {
    /// A scaler from a `src_w` x `src_h` picture (or crop) to `dst_w` x `dst_h`, on the fastest
    /// backend this CPU has.
    pub fn new(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Result<Self, ScaleError> {
        let (scw, sch) = chroma_size(src_w, src_h);
        let (dcw, dch) = chroma_size(dst_w, dst_h);
        Ok(TileScaler {
            luma: PlaneScaler::new(src_w, src_h, dst_w, dst_h)?,
            chroma: PlaneScaler::new(scw, sch, dcw, dch)?,
            backend: Backend::detect(),
            scratch: Scratch::default(),
        })
    }

    /// The same scaler on `backend` (e.g. [`Backend::Scalar`] for reference output).
    pub fn with_backend(mut self, backend: Backend) -> Result<Self, ScaleError> {
        if !backend.is_available() {
            return Err(ScaleError::BackendUnavailable(backend));
        }
        self.backend = backend;
        Ok(self)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Source size (luma width, height) this scaler takes.
    pub fn src_size(&self) -> (usize, usize) {
        self.luma.src_size()
    }

    /// Destination size (luma width, height) this scaler makes.
    pub fn dst_size(&self) -> (usize, usize) {
        self.luma.dst_size()
    }

    /// Scales all of `src` into all of `dst`.
    pub fn scale_frame(&mut self, src: &I420Frame, dst: &mut I420Frame) -> Result<(), ScaleError> {
        let crop = Rect {
            x: 0,
            y: 0,
            width: src.width(),
            height: src.height(),
        };
        self.scale_crop(src, crop, dst.planes_mut())
    }

    /// Scales the `crop` rectangle of `src` (luma pixels, even origin) into the three
    /// destination views (Y, U, V), which must have the destination's luma and chroma sizes.
    pub fn scale_crop(
        &mut self,
        src: &I420Frame,
        crop: Rect,
        mut dst: [PlaneMut<'_>; 3],
    ) -> Result<(), ScaleError> {
        if !crop.x.is_multiple_of(2) || !crop.y.is_multiple_of(2) {
            return Err(ScaleError::OddCropOrigin(crop));
        }
        for (kind, dst) in PlaneKind::ALL.into_iter().zip(dst.iter_mut()) {
            let (x, y, w, h) = crate::frame::plane_rect(kind, crop);
            let plane = src.plane(kind);
            let view = plane
                .sub(x, y, w, h)
                .ok_or(ScaleError::Frame(FrameError::OutOfBounds {
                    rect: crop,
                    width: src.width(),
                    height: src.height(),
                }))?;
            let scaler = if kind == PlaneKind::Y {
                &self.luma
            } else {
                &self.chroma
            };
            scaler.scale(&view, dst, self.backend, &mut self.scratch)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn noise_frame(width: u32, height: u32, seed: u64) -> I420Frame {
        // xorshift: deterministic, no dependency.
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        };
        let mut f = I420Frame::new(width, height).unwrap();
        for mut plane in f.planes_mut() {
            for y in 0..plane.height() {
                for px in plane.row_mut(y) {
                    *px = next();
                }
            }
        }
        f
    }

    fn scaled(src: &I420Frame, w: u32, h: u32, backend: Backend) -> I420Frame {
        let mut dst = I420Frame::new(w, h).unwrap();
        TileScaler::new(src.width(), src.height(), w, h)
            .unwrap()
            .with_backend(backend)
            .unwrap()
            .scale_frame(src, &mut dst)
            .unwrap();
        dst
    }

    fn max_difference(a: &I420Frame, b: &I420Frame) -> u8 {
        PlaneKind::ALL
            .iter()
            .flat_map(|&k| {
                let (pa, pb) = (a.plane(k), b.plane(k));
                (0..pa.height()).flat_map(move |y| {
                    pa.row(y)
                        .iter()
                        .zip(pb.row(y))
                        .map(|(x, y)| x.abs_diff(*y))
                        .collect::<Vec<_>>()
                })
            })
            .max()
            .unwrap_or(0)
    }

    fn simd_backends() -> Vec<Backend> {
        [Backend::Sse2, Backend::Ssse3, Backend::Avx2]
            .into_iter()
            .filter(|b| b.is_available())
            .collect()
    }

    #[test]
    fn weights_sum_to_one_for_every_output() {
        for (src, dst) in [
            (1280, 426),
            (720, 240),
            (640, 426),
            (7, 3),
            (3, 7),
            (1, 5),
            (5, 1),
        ] {
            let f = AxisFilter::new(src, dst);
            for o in 0..dst {
                let sum: i32 = f.weights[o * f.taps..(o + 1) * f.taps]
                    .iter()
                    .map(|&w| i32::from(w))
                    .sum();
                assert_eq!(sum, ONE, "{src}->{dst} output {o}");
                assert!(f.starts[o] as usize + f.nonzero(o).count() <= src);
            }
        }
    }

    #[test]
    fn solid_colour_stays_exactly_solid() {
        let c = crate::frame::Yuv::from_rgb(30, 160, 220);
        let src = I420Frame::solid(1280, 720, c).unwrap();
        for backend in [Backend::Scalar].into_iter().chain(simd_backends()) {
            let out = scaled(&src, 426, 240, backend);
            assert_eq!(out, I420Frame::solid(426, 240, c).unwrap(), "{backend:?}");
        }
    }

    #[test]
    fn box_filter_averages_a_two_by_two_checkerboard() {
        let mut src = I420Frame::new(4, 4).unwrap();
        {
            let [mut y, _, _] = src.planes_mut();
            for row in 0..4 {
                for (x, px) in y.row_mut(row).iter_mut().enumerate() {
                    *px = if (x + row) % 2 == 0 { 200 } else { 100 };
                }
            }
        }
        let out = scaled(&src, 2, 2, Backend::Scalar);
        assert_eq!(out.plane(PlaneKind::Y).row(0), &[150, 150]);
        assert_eq!(out.plane(PlaneKind::Y).row(1), &[150, 150]);
    }

    #[test]
    fn same_size_is_a_copy() {
        let src = noise_frame(37, 21, 5);
        for backend in [Backend::Scalar].into_iter().chain(simd_backends()) {
            assert_eq!(scaled(&src, 37, 21, backend), src);
        }
    }

    #[test]
    fn bilinear_upscale_interpolates_between_neighbours() {
        let mut src = I420Frame::new(2, 1).unwrap();
        src.planes_mut()[0].row_mut(0).copy_from_slice(&[0, 200]);
        let out = scaled(&src, 4, 1, Backend::Scalar);
        // Centres at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
        assert_eq!(out.plane(PlaneKind::Y).row(0), &[0, 50, 150, 200]);
    }

    #[test]
    fn scalar_is_close_to_an_exact_float_model() {
        let src = noise_frame(96, 54, 9);
        let out = scaled(&src, 32, 18, Backend::Scalar);
        // 3x exact box: each output is the mean of a 3x3 block.
        let y = src.plane(PlaneKind::Y);
        for oy in 0..18 {
            for ox in 0..32 {
                let sum: u32 = (0..3)
                    .flat_map(|dy| (0..3).map(move |dx| (dy, dx)))
                    .map(|(dy, dx)| u32::from(y.row(oy * 3 + dy)[ox * 3 + dx]))
                    .sum();
                let exact = sum as f64 / 9.0;
                let got = f64::from(out.plane(PlaneKind::Y).row(oy)[ox]);
                assert!((got - exact).abs() <= 1.0, "({ox},{oy}) {got} vs {exact}");
            }
        }
    }

    #[test]
    fn crop_scales_only_the_window() {
        let c = crate::frame::Yuv::from_rgb(250, 20, 20);
        let mut src = I420Frame::new(64, 32).unwrap();
        let window = Rect {
            x: 16,
            y: 8,
            width: 32,
            height: 16,
        };
        src.fill_rect(window, c).unwrap();
        let mut dst = I420Frame::new(8, 4).unwrap();
        let mut scaler = TileScaler::new(32, 16, 8, 4).unwrap();
        scaler.scale_crop(&src, window, dst.planes_mut()).unwrap();
        assert_eq!(dst, I420Frame::solid(8, 4, c).unwrap());
        let odd = Rect { x: 1, ..window };
        assert!(matches!(
            scaler.scale_crop(&src, odd, dst.planes_mut()),
            Err(ScaleError::OddCropOrigin(_))
        ));
    }

    #[test]
    fn wrong_sizes_are_refused() {
        let src = I420Frame::new(10, 10).unwrap();
        let mut dst = I420Frame::new(4, 4).unwrap();
        let mut scaler = TileScaler::new(12, 10, 4, 4).unwrap();
        assert!(matches!(
            scaler.scale_frame(&src, &mut dst),
            Err(ScaleError::SizeMismatch { .. })
        ));
        assert!(TileScaler::new(0, 10, 4, 4).is_err());
    }

    #[test]
    fn simd_matches_scalar_on_720p_to_3x3_tile() {
        let src = noise_frame(1280, 720, 1);
        let reference = scaled(&src, 426, 240, Backend::Scalar);
        for backend in simd_backends() {
            assert!(max_difference(&reference, &scaled(&src, 426, 240, backend)) <= 1);
        }
    }

    /// Every (source, tile content) size pair the compositor produces for the usual sources
    /// and layouts on 1280x720 and 640x360 canvases (2-pixel rings), plus odd and tiny ones.
    fn layout_size_pairs() -> Vec<((u32, u32), (u32, u32))> {
        use crate::layout::{LayoutKind, TileGrid};
        let sources = [
            (1920, 1080),
            (1280, 720),
            (960, 540),
            (640, 360),
            (426, 240),
            (320, 180),
            (211, 117),
            (7, 5),
            (1, 1),
            (2, 1),
            (1, 3),
        ];
        let mut tiles = Vec::new();
        for canvas in [(1280, 720), (640, 360)] {
            for kind in [
                LayoutKind::Full,
                LayoutKind::SideBySide,
                LayoutKind::Grid2x2,
                LayoutKind::Grid3x3,
            ] {
                let grid = TileGrid::new(kind, canvas.0, canvas.1).unwrap();
                for t in grid.tiles() {
                    tiles.push((t.width - 4, t.height - 4));
                }
            }
        }
        tiles.extend([(1, 1), (3, 1), (1, 7), (17, 9), (33, 19)]);
        tiles.sort_unstable();
        tiles.dedup();
        sources
            .iter()
            .flat_map(|&s| tiles.iter().map(move |&t| (s, t)))
            .collect()
    }

    #[test]
    fn simd_is_bit_exact_with_scalar_for_every_layout_ratio_and_tiny_sizes() {
        for ((sw, sh), (dw, dh)) in layout_size_pairs() {
            let src = noise_frame(sw, sh, u64::from(sw * 31 + dw));
            let reference = scaled(&src, dw, dh, Backend::Scalar);
            for backend in simd_backends() {
                assert_eq!(
                    max_difference(&reference, &scaled(&src, dw, dh, backend)),
                    0,
                    "{backend:?} {sw}x{sh} -> {dw}x{dh}"
                );
            }
        }
    }

    #[test]
    fn shuffle_kernels_cover_the_compositors_usual_ratios() {
        // 3x3 / 2x2 / side-by-side / full tiles of 720p and 360p sources, luma and chroma: the
        // horizontal pass must take the shuffle path, not the gather or scalar fallback.
        for (src, dst) in [
            (1280, 422),
            (1280, 424),
            (640, 211),
            (640, 212),
            (1280, 636),
            (640, 318),
            (640, 422),
            (320, 211),
            (426, 422),
            (1280, 1276),
            (640, 1276),
        ] {
            assert!(
                AxisFilter::new(src, dst).shuffle.is_some(),
                "{src} -> {dst} falls back"
            );
        }
        // Beyond the window (1080p into a 3x3 tile): the gather fallback, still exact (above).
        assert!(AxisFilter::new(1920, 422).shuffle.is_none());
    }

    #[test]
    fn shuffle_tables_reproduce_the_filter() {
        // Evaluate the tables the way the kernels do, in scalar code, and compare with the
        // reference filter: guards the table layout itself, on any CPU.
        for (src, dst) in [(1280, 422), (640, 211), (37, 20), (5, 9), (1, 3), (3, 1)] {
            let f = AxisFilter::new(src, dst);
            let Some(t) = &f.shuffle else {
                panic!("{src} -> {dst}: no tables");
            };
            let column: Vec<u8> = (0..src + f.taps + COLUMN_SLACK)
                .map(|i| if i < src { (i * 37 % 251) as u8 } else { 0 })
                .collect();
            let mut expected = vec![0u8; dst];
            horizontal_scalar(&f, &column, &mut expected);
            let pairs = f.taps / 2;
            for (o, want) in expected.iter().enumerate() {
                let (g, j) = (o / GROUP, o % GROUP);
                let (octet, lane) = (g / 2, g % 2);
                let base = t.bases[g] as usize;
                let mut acc = 0i32;
                for p in 0..pairs {
                    let at = (octet * pairs + p) * 2 + lane;
                    let mask = &t.masks[at * WINDOW + 4 * j..][..4];
                    let w = t.weights[at * GROUP + j];
                    let (wa, wb) = (i32::from(w as i16), w >> 16);
                    assert_eq!((mask[1], mask[3]), (0x80, 0x80), "zero-extension bytes");
                    let pa = i32::from(column[base + mask[0] as usize]);
                    let pb = i32::from(column[base + mask[2] as usize]);
                    acc += pa * wa + pb * wb;
                }
                let got = ((acc + HALF) >> WEIGHT_BITS).clamp(0, 255) as u8;
                assert_eq!(got, *want, "{src} -> {dst} output {o}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn simd_equals_scalar_within_one_level_on_any_size(
            sw in 1u32..150, sh in 1u32..90, dw in 1u32..150, dh in 1u32..90, seed in any::<u64>()
        ) {
            let src = noise_frame(sw, sh, seed);
            let reference = scaled(&src, dw, dh, Backend::Scalar);
            for backend in simd_backends() {
                let out = scaled(&src, dw, dh, backend);
                prop_assert!(max_difference(&reference, &out) <= 1, "{:?}", backend);
            }
        }
    }
}
