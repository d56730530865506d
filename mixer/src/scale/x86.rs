//! The x86_64 kernels of `scale` (SSE2 and AVX2); every `unsafe` block says why it is sound.
//! They must reproduce `scale`'s scalar arithmetic exactly and touch nothing but the slices given.
//!
//! The kernels. Each returns how many leading pixels it wrote (the caller finishes
//! the rest with the scalar code) or writes everything, as documented per function.

use super::{AxisFilter, HALF, WEIGHT_BITS};
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
    let pairs: Vec<_> = pairs(rows).collect();
    let zero = _mm_setzero_si128();
    let half = _mm_set1_epi32(HALF);
    let mut x = 0;
    while x + 16 <= width {
        let mut acc = [zero; 4];
        for &(a, b, w) in &pairs {
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
    let pairs: Vec<_> = pairs(rows).collect();
    let half = _mm256_set1_epi32(HALF);
    let mut x = 0;
    while x + 32 <= width {
        let mut acc = [_mm256_setzero_si256(); 4];
        for &(a, b, w) in &pairs {
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
/// `src + taps + GATHER_SLACK`, starts are `< src`), and `out.len() >= padded outputs`.
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
