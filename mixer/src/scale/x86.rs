//! The x86_64 kernels of `scale` (SSE2 and AVX2); every `unsafe` block says why it is sound.
//! They must reproduce `scale`'s scalar arithmetic exactly and touch nothing but the slices given.
//!
//! The kernels. Each returns how many leading pixels it wrote (the caller finishes
//! the rest with the scalar code) or writes everything, as documented per function.

use super::{AxisFilter, ShuffleTables, GROUP, HALF, WEIGHT_BITS, WINDOW};
use std::arch::x86_64::*;

/// Pairs up `rows` for `pmaddwd`: (row a, row b, `wa | wb << 16`); an odd last row is paired
/// with itself at weight zero.
fn pairs<'a>(rows: &'a [(&'a [u8], i16)]) -> impl Iterator<Item = (&'a [u8], &'a [u8], i32)> {
    rows.chunks(2).map(|pair| match pair {
        [(a, wa), (b, wb)] => (*a, *b, (*wa as u16 as i32) | (i32::from(*wb) << 16)),
        [(a, wa)] => (*a, *a, *wa as u16 as i32),
        _ => unreachable!("chunks(2) yields one or two"),
    })
}

/// Asks for every cache line of `row` to be loaded into all cache levels.
pub(super) fn prefetch(row: &[u8]) {
    for line in row.chunks(64) {
        // SAFETY: SSE is part of the x86_64 baseline; a prefetch never faults and does not
        // change memory, and the address is inside `row` anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
}

/// Vertical blend, 16 pixels per step. Returns the number of pixels written (a multiple of
/// 16); the rest is left to the scalar path.
///
/// # Safety
/// The CPU must support SSE2 (always true on x86_64), and every row must be at least
/// `out.len()` bytes long.
#[target_feature(enable = "sse2")]
pub(super) unsafe fn vertical_sse2(rows: &[(&[u8], i16)], out: &mut [u8]) -> usize {
    let width = out.len();
    assert!(rows.iter().all(|(r, _)| r.len() >= width));
    let zero = _mm_setzero_si128();
    let half = _mm_set1_epi32(HALF);
    let mut x = 0;
    while x + 16 <= width {
        let mut acc = [zero; 4];
        for (a, b, w) in pairs(rows) {
            let w = _mm_set1_epi32(w);
            // SAFETY: x + 16 <= width <= a.len(), b.len() (asserted above); loadu has no
            // alignment requirement.
            let (va, vb) = unsafe {
                (
                    _mm_loadu_si128(a.as_ptr().add(x).cast()),
                    _mm_loadu_si128(b.as_ptr().add(x).cast()),
                )
            };
            let (a_lo, a_hi) = (_mm_unpacklo_epi8(va, zero), _mm_unpackhi_epi8(va, zero));
            let (b_lo, b_hi) = (_mm_unpacklo_epi8(vb, zero), _mm_unpackhi_epi8(vb, zero));
            acc[0] = _mm_add_epi32(acc[0], _mm_madd_epi16(_mm_unpacklo_epi16(a_lo, b_lo), w));
            acc[1] = _mm_add_epi32(acc[1], _mm_madd_epi16(_mm_unpackhi_epi16(a_lo, b_lo), w));
            acc[2] = _mm_add_epi32(acc[2], _mm_madd_epi16(_mm_unpacklo_epi16(a_hi, b_hi), w));
            acc[3] = _mm_add_epi32(acc[3], _mm_madd_epi16(_mm_unpackhi_epi16(a_hi, b_hi), w));
        }
        let r: [__m128i; 4] =
            acc.map(|a| _mm_srai_epi32::<{ WEIGHT_BITS as i32 }>(_mm_add_epi32(a, half)));
        let lo = _mm_packs_epi32(r[0], r[1]);
        let hi = _mm_packs_epi32(r[2], r[3]);
        // SAFETY: x + 16 <= out.len().
        unsafe { _mm_storeu_si128(out.as_mut_ptr().add(x).cast(), _mm_packus_epi16(lo, hi)) };
        x += 16;
    }
    x
}

/// Vertical blend, 32 pixels per step. Returns the number of pixels written (a multiple of
/// 32); the rest is left to the scalar path.
///
/// # Safety
/// The CPU must support AVX2, and every row must be at least `out.len()` bytes long.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn vertical_avx2(rows: &[(&[u8], i16)], out: &mut [u8]) -> usize {
    let width = out.len();
    assert!(rows.iter().all(|(r, _)| r.len() >= width));
    // The row pairs and their broadcast weights are set up once per row, not per step; the
    // usual tap counts (2 to 8 rows) get a fully unrolled loop.
    match rows.len().div_ceil(2) {
        // SAFETY (all arms): AVX2 is enabled here; rows are at least `width` long (asserted).
        1 => unsafe { vertical_avx2_n::<1>(rows, out) },
        2 => unsafe { vertical_avx2_n::<2>(rows, out) },
        3 => unsafe { vertical_avx2_n::<3>(rows, out) },
        4 => unsafe { vertical_avx2_n::<4>(rows, out) },
        _ => unsafe { vertical_avx2_any(rows, out) },
    }
}

/// [`vertical_avx2`] for exactly `N` row pairs (`rows.len()` is `2N - 1` or `2N`).
///
/// # Safety
/// As [`vertical_avx2`], which checked the row lengths.
#[target_feature(enable = "avx2")]
unsafe fn vertical_avx2_n<const N: usize>(rows: &[(&[u8], i16)], out: &mut [u8]) -> usize {
    let width = out.len();
    let mut ptrs = [(std::ptr::null::<u8>(), std::ptr::null::<u8>()); N];
    let mut weights = [_mm256_setzero_si256(); N];
    for (i, (a, b, w)) in pairs(rows).enumerate().take(N) {
        ptrs[i] = (a.as_ptr(), b.as_ptr());
        weights[i] = _mm256_set1_epi32(w);
    }
    let half = _mm256_set1_epi32(HALF);
    let mut x = 0;
    while x + 32 <= width {
        let mut acc = [_mm256_setzero_si256(); 4];
        for i in 0..N {
            let (a, b) = ptrs[i];
            for (half_idx, offset) in [0usize, 16].into_iter().enumerate() {
                // SAFETY: x + offset + 16 <= x + 32 <= width <= every row's length.
                let (va, vb) = unsafe {
                    (
                        _mm_loadu_si128(a.add(x + offset).cast()),
                        _mm_loadu_si128(b.add(x + offset).cast()),
                    )
                };
                let (a16, b16) = (_mm256_cvtepu8_epi16(va), _mm256_cvtepu8_epi16(vb));
                let lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(a16, b16), weights[i]);
                let hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(a16, b16), weights[i]);
                acc[2 * half_idx] = _mm256_add_epi32(acc[2 * half_idx], lo);
                acc[2 * half_idx + 1] = _mm256_add_epi32(acc[2 * half_idx + 1], hi);
            }
        }
        let r: [__m256i; 4] =
            acc.map(|a| _mm256_srai_epi32::<{ WEIGHT_BITS as i32 }>(_mm256_add_epi32(a, half)));
        let first = _mm256_packs_epi32(r[0], r[1]);
        let second = _mm256_packs_epi32(r[2], r[3]);
        let bytes = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi16(first, second));
        // SAFETY: x + 32 <= out.len().
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(x).cast(), bytes) };
        x += 32;
    }
    x
}

/// [`vertical_avx2`] for any number of rows.
///
/// # Safety
/// As [`vertical_avx2`], which checked the row lengths.
#[target_feature(enable = "avx2")]
unsafe fn vertical_avx2_any(rows: &[(&[u8], i16)], out: &mut [u8]) -> usize {
    let width = out.len();
    let half = _mm256_set1_epi32(HALF);
    let mut x = 0;
    while x + 32 <= width {
        let mut acc = [_mm256_setzero_si256(); 4];
        for (a, b, w) in pairs(rows) {
            let w = _mm256_set1_epi32(w);
            for (half_idx, offset) in [0usize, 16].into_iter().enumerate() {
                // SAFETY: x + offset + 16 <= x + 32 <= width <= a.len(), b.len().
                let (va, vb) = unsafe {
                    (
                        _mm_loadu_si128(a.as_ptr().add(x + offset).cast()),
                        _mm_loadu_si128(b.as_ptr().add(x + offset).cast()),
                    )
                };
                // Lanes: [p0..p7 | p8..p15] as i16.
                let (a16, b16) = (_mm256_cvtepu8_epi16(va), _mm256_cvtepu8_epi16(vb));
                // Per lane: lo = p0..p3 | p8..p11, hi = p4..p7 | p12..p15.
                let lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(a16, b16), w);
                let hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(a16, b16), w);
                acc[2 * half_idx] = _mm256_add_epi32(acc[2 * half_idx], lo);
                acc[2 * half_idx + 1] = _mm256_add_epi32(acc[2 * half_idx + 1], hi);
            }
        }
        let r: [__m256i; 4] =
            acc.map(|a| _mm256_srai_epi32::<{ WEIGHT_BITS as i32 }>(_mm256_add_epi32(a, half)));
        // The per-lane pack undoes the per-lane unpack: p0..p15 in order.
        let first = _mm256_packs_epi32(r[0], r[1]);
        let second = _mm256_packs_epi32(r[2], r[3]);
        // Qwords now hold p0-7, p16-23, p8-15, p24-31: put them in order.
        let bytes = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi16(first, second));
        // SAFETY: x + 32 <= out.len().
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(x).cast(), bytes) };
        x += 32;
    }
    x
}

/// Horizontal filter for every output, 8 outputs per step: for each tap pair, gather the
/// 4 bytes at `start + k` of each output, keep bytes 0 and 1 as two i16 and multiply-add
/// them with the packed pair weights.
///
/// # Safety
/// The CPU must support AVX2; `column.len() >= max_start + taps + 2` (the caller sizes it
/// `src + taps + COLUMN_SLACK`, starts are `< src`), and `out.len() >= padded outputs`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn horizontal_avx2(filter: &AxisFilter, column: &[u8], out: &mut [u8]) {
    let padded = filter.padded_starts.len();
    let taps = filter.taps;
    assert!(out.len() >= padded);
    // Starts are non-negative by construction (`AxisFilter::new` makes them from `usize`).
    assert!(filter.max_start + taps + 2 <= column.len());
    let low_byte = _mm256_set1_epi32(0xFF);
    let second_byte = _mm256_set1_epi32(0xFF00);
    let half = _mm256_set1_epi32(HALF);
    // Picks dword 0 of each lane (four packed result bytes each) into the low 8 bytes.
    let gather_lanes = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
    let base = column.as_ptr().cast::<i32>();
    for o in (0..padded).step_by(8) {
        // SAFETY: o + 8 <= padded == padded_starts.len(); loadu is unaligned.
        let starts = unsafe { _mm256_loadu_si256(filter.padded_starts.as_ptr().add(o).cast()) };
        let mut acc = _mm256_setzero_si256();
        for pair in 0..taps / 2 {
            let idx = _mm256_add_epi32(starts, _mm256_set1_epi32(2 * pair as i32));
            // SAFETY: each index is start + 2*pair with start + taps + 2 <= column.len()
            // (start <= max_start, asserted above)
            // so the 4 bytes read at base + index stay inside `column`;
            // scale 1 makes the indices byte offsets.
            let v = unsafe { _mm256_i32gather_epi32::<1>(base, idx) };
            let pixels = _mm256_or_si256(
                _mm256_and_si256(v, low_byte),
                _mm256_slli_epi32::<8>(_mm256_and_si256(v, second_byte)),
            );
            // SAFETY: pair_weights holds taps/2 rows of `padded` entries; o + 8 <= padded.
            let w = unsafe {
                _mm256_loadu_si256(filter.pair_weights.as_ptr().add(pair * padded + o).cast())
            };
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pixels, w));
        }
        let r = _mm256_srai_epi32::<{ WEIGHT_BITS as i32 }>(_mm256_add_epi32(acc, half));
        let words = _mm256_packs_epi32(r, r);
        let bytes = _mm256_packus_epi16(words, words);
        let ordered = _mm256_permutevar8x32_epi32(bytes, gather_lanes);
        // SAFETY: o + 8 <= padded <= out.len().
        unsafe {
            _mm_storel_epi64(
                out.as_mut_ptr().add(o).cast(),
                _mm256_castsi256_si128(ordered),
            )
        };
    }
}

/// Checks the shuffle kernels' layout contract: every group's window inside `column`, `out`
/// long enough for every (padded) group. Returns the number of tap pairs.
fn check_shuffle(tables: &ShuffleTables, column: &[u8], out: &[u8]) -> usize {
    assert!(out.len() >= tables.groups * GROUP);
    assert_eq!(tables.bases.len(), tables.groups);
    // Every base is at most max_base (ShuffleTables::new), so every window is inside `column`.
    assert!(tables.max_base + WINDOW <= column.len());
    let pairs = tables.masks.len() / (tables.groups * WINDOW);
    assert_eq!(tables.masks.len(), tables.groups * pairs * WINDOW);
    assert_eq!(tables.weights.len(), tables.groups * pairs * GROUP);
    pairs
}

/// Horizontal filter, 16 outputs per step (two octets, each octet's two groups in the two
/// 128-bit lanes): per tap pair one `vpshufb` turns each lane's window into the pixel pairs of
/// its four outputs and one `vpmaddwd` weighs them.
///
/// # Safety
/// The CPU must support AVX2. (The slice layout is asserted: see `check_shuffle`.)
#[target_feature(enable = "avx2")]
pub(super) unsafe fn horizontal_shuffle_avx2(
    tables: &ShuffleTables,
    column: &[u8],
    out: &mut [u8],
) {
    let pairs = check_shuffle(tables, column, out);
    // The common tap counts (2 for bilinear, 4 and 6 for box filters up to ~3x) unrolled.
    match pairs {
        // SAFETY (all arms): AVX2 is enabled here; `check_shuffle` verified the layout for
        // exactly `pairs` tap pairs.
        1 => unsafe { horizontal_shuffle_avx2_n::<1>(tables, column, out) },
        2 => unsafe { horizontal_shuffle_avx2_n::<2>(tables, column, out) },
        3 => unsafe { horizontal_shuffle_avx2_n::<3>(tables, column, out) },
        4 => unsafe { horizontal_shuffle_avx2_n::<4>(tables, column, out) },
        5 => unsafe { horizontal_shuffle_avx2_n::<5>(tables, column, out) },
        6 => unsafe { horizontal_shuffle_avx2_n::<6>(tables, column, out) },
        7 => unsafe { horizontal_shuffle_avx2_n::<7>(tables, column, out) },
        // taps <= WINDOW, so at most 8 pairs.
        _ => unsafe { horizontal_shuffle_avx2_n::<8>(tables, column, out) },
    }
}

/// [`horizontal_shuffle_avx2`] for exactly `P` tap pairs.
///
/// # Safety
/// AVX2, and `check_shuffle(tables, column, out) == P`.
#[target_feature(enable = "avx2")]
unsafe fn horizontal_shuffle_avx2_n<const P: usize>(
    tables: &ShuffleTables,
    column: &[u8],
    out: &mut [u8],
) {
    let half = _mm256_set1_epi32(HALF);
    // After the two packs, dword i of each lane holds outputs 4i.. of that lane's groups.
    let order = _mm256_setr_epi32(0, 4, 1, 5, 0, 0, 0, 0);
    let src = column.as_ptr();
    let bases = tables.bases.as_ptr();
    // One octet's masks are P * 2 * WINDOW bytes (P 32-byte vectors), its weights P * 2 * GROUP
    // i32s (P 32-byte vectors): walk both as vectors.
    let masks = tables.masks.as_ptr().cast::<__m256i>();
    let weights = tables.weights.as_ptr().cast::<__m256i>();
    for step in 0..tables.groups / 4 {
        let mut acc = [_mm256_setzero_si256(); 2];
        for (half_idx, acc) in acc.iter_mut().enumerate() {
            let g = step * 4 + half_idx * 2;
            let octet = g / 2;
            // SAFETY: g + 1 < groups == bases.len(); each base <= max_base and
            // max_base + WINDOW <= column.len() (checked), so both 16-byte loads stay in
            // `column`.
            let window = unsafe {
                let lo = _mm_loadu_si128(src.add(*bases.add(g) as usize).cast());
                let hi = _mm_loadu_si128(src.add(*bases.add(g + 1) as usize).cast());
                _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(lo), hi)
            };
            for p in 0..P {
                // SAFETY: octet < groups / 2 and p < P == pairs, so vector octet * P + p is
                // inside both tables (lengths checked: groups * pairs * WINDOW mask bytes,
                // groups * pairs * GROUP weights, i.e. groups / 2 * pairs vectors each).
                let (mask, w) = unsafe {
                    (
                        _mm256_loadu_si256(masks.add(octet * P + p)),
                        _mm256_loadu_si256(weights.add(octet * P + p)),
                    )
                };
                let pixels = _mm256_shuffle_epi8(window, mask);
                *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(pixels, w));
            }
        }
        let r = acc.map(|a| _mm256_srai_epi32::<{ WEIGHT_BITS as i32 }>(_mm256_add_epi32(a, half)));
        // Lane 0: outputs 0-3, 8-11; lane 1: 4-7, 12-15 (as i16, then bytes in dword 0 and 1).
        let words = _mm256_packs_epi32(r[0], r[1]);
        let bytes = _mm256_packus_epi16(words, words);
        let ordered = _mm256_permutevar8x32_epi32(bytes, order);
        // SAFETY: step * 16 + 16 <= groups * GROUP <= out.len() (checked).
        unsafe {
            _mm_storeu_si128(
                out.as_mut_ptr().add(step * 16).cast(),
                _mm256_castsi256_si128(ordered),
            )
        };
    }
}

/// The SSSE3 twin of [`horizontal_shuffle_avx2`]: one group (four outputs) per register,
/// eight outputs per step.
///
/// # Safety
/// The CPU must support SSSE3. (The slice layout is asserted: see `check_shuffle`.)
#[target_feature(enable = "ssse3")]
pub(super) unsafe fn horizontal_shuffle_ssse3(
    tables: &ShuffleTables,
    column: &[u8],
    out: &mut [u8],
) {
    let pairs = check_shuffle(tables, column, out);
    let half = _mm_set1_epi32(HALF);
    let src = column.as_ptr();
    for octet in 0..tables.groups / 2 {
        let mut acc = [_mm_setzero_si128(); 2];
        for (lane, acc) in acc.iter_mut().enumerate() {
            let g = octet * 2 + lane;
            // SAFETY: g < groups == bases.len(); base <= max_base, max_base + WINDOW <= column.len()
            // (checked).
            let window = unsafe { _mm_loadu_si128(src.add(tables.bases[g] as usize).cast()) };
            for p in 0..pairs {
                let at = (octet * pairs + p) * 2 + lane;
                // SAFETY: at < groups * pairs, so the 16 mask bytes at at * WINDOW and the 4
                // weights at at * GROUP are inside the tables (lengths checked).
                let (mask, w) = unsafe {
                    (
                        _mm_loadu_si128(tables.masks.as_ptr().add(at * WINDOW).cast()),
                        _mm_loadu_si128(tables.weights.as_ptr().add(at * GROUP).cast()),
                    )
                };
                let pixels = _mm_shuffle_epi8(window, mask);
                *acc = _mm_add_epi32(*acc, _mm_madd_epi16(pixels, w));
            }
        }
        let r = acc.map(|a| _mm_srai_epi32::<{ WEIGHT_BITS as i32 }>(_mm_add_epi32(a, half)));
        let words = _mm_packs_epi32(r[0], r[1]);
        // SAFETY: octet * 8 + 8 <= groups * GROUP <= out.len() (checked).
        unsafe {
            _mm_storel_epi64(
                out.as_mut_ptr().add(octet * 8).cast(),
                _mm_packus_epi16(words, words),
            )
        };
    }
}
