//! ITU-T G.711 companding: µ-law (PCMU, RTP payload type 0) and A-law (PCMA, payload type 8).
//!
//! The algorithms are the ones of the ITU-T G.711 recommendation as implemented by the reference
//! code every telephony stack descends from (Sun's public-domain `g711.c`, also in ITU-T G.191):
//! µ-law works on the top 14 bits of a 16-bit sample, A-law on the top 13. Decoding returns the
//! midpoint of the quantisation interval, scaled back to 16 bits.
//!
//! Pure functions, no allocation except the slice helpers that return a `Vec`. The one G.711 of the
//! project: [`super::audio`] uses it for RTP payloads, the gateway's prompt player for its G.711
//! prompts.

/// Added to the magnitude before µ-law segment search (0x84 in 16-bit scale, 0x21 in 14-bit).
const ULAW_BIAS: i32 = 0x84;
/// Largest 14-bit magnitude µ-law can represent once the bias is added (8159 + 33 = 0x1FFF).
const ULAW_CLIP: i32 = 8159;
/// Upper bound (inclusive) of each µ-law segment in 14-bit biased magnitude.
const ULAW_SEG_END: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
/// Upper bound (inclusive) of each A-law segment in 13-bit magnitude.
const ALAW_SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
/// The four mantissa bits of a code.
const QUANT_MASK: u8 = 0x0F;
/// The three segment (exponent) bits of a code.
const SEG_MASK: u8 = 0x70;
/// Where the segment bits start.
const SEG_SHIFT: u8 = 4;
/// The sign bit of a code.
const SIGN_BIT: u8 = 0x80;
/// A-law inverts every even bit on the wire.
const ALAW_XOR: u8 = 0x55;

/// The index of the first segment whose end is at least `value` (8 if none).
fn segment(value: i32, ends: &[i32; 8]) -> u8 {
    let mut seg = 0u8;
    for end in ends {
        if value <= *end {
            return seg;
        }
        seg += 1;
    }
    seg
}

/// Encodes one 16-bit linear sample as a µ-law code.
///
/// Zero encodes as `0xFF` (positive zero); values beyond the µ-law range clip to `0x80`/`0x00`.
#[must_use]
pub fn linear_to_ulaw(sample: i16) -> u8 {
    // Arithmetic shift to 14 bits, in i32 so that negating i16::MIN cannot overflow.
    let mut pcm = i32::from(sample) >> 2;
    let mask: u8 = if pcm < 0 {
        pcm = -pcm;
        0x7F
    } else {
        0xFF
    };
    pcm = pcm.min(ULAW_CLIP) + (ULAW_BIAS >> 2);
    let seg = segment(pcm, &ULAW_SEG_END);
    if seg >= 8 {
        // Unreachable after clipping, kept as the reference code has it.
        return 0x7F ^ mask;
    }
    // `pcm >> (seg + 1)` masked to 4 bits always fits in u8.
    let mantissa = ((pcm >> (seg + 1)) & i32::from(QUANT_MASK)) as u8;
    ((seg << SEG_SHIFT) | mantissa) ^ mask
}

/// Decodes one µ-law code to a 16-bit linear sample.
///
/// Both zeros (`0xFF` and `0x7F`) decode to 0; the extremes are ±32124.
#[must_use]
pub fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let mut t = (i32::from(u & QUANT_MASK) << 3) + ULAW_BIAS;
    t <<= (u & SEG_MASK) >> SEG_SHIFT;
    let value = if u & SIGN_BIT != 0 {
        ULAW_BIAS - t
    } else {
        t - ULAW_BIAS
    };
    // |value| <= 32124 by construction.
    value as i16
}

/// Encodes one 16-bit linear sample as an A-law code.
///
/// Zero encodes as `0xD5`; values beyond the A-law range clip to `0xAA`/`0x2A`.
#[must_use]
pub fn linear_to_alaw(sample: i16) -> u8 {
    let mut pcm = i32::from(sample) >> 3;
    let mask: u8 = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    let seg = segment(pcm, &ALAW_SEG_END);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let shift = if seg < 2 { 1 } else { seg };
    let mantissa = ((pcm >> shift) & i32::from(QUANT_MASK)) as u8;
    ((seg << SEG_SHIFT) | mantissa) ^ mask
}

/// Decodes one A-law code to a 16-bit linear sample.
///
/// A-law has no zero code: `0xD5` decodes to 8 and `0x55` to -8; the extremes are ±32256.
#[must_use]
pub fn alaw_to_linear(code: u8) -> i16 {
    let a = code ^ ALAW_XOR;
    let mut t = i32::from(a & QUANT_MASK) << 4;
    let seg = (a & SEG_MASK) >> SEG_SHIFT;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    let value = if a & SIGN_BIT != 0 { t } else { -t };
    // |value| <= 32256 by construction.
    value as i16
}

/// Encodes samples as µ-law, one byte per sample, appending to `out`.
pub fn encode_ulaw(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|s| linear_to_ulaw(*s)));
}

/// Encodes samples as A-law, one byte per sample, appending to `out`.
pub fn encode_alaw(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|s| linear_to_alaw(*s)));
}

/// Decodes µ-law bytes to linear samples.
#[must_use]
pub fn decode_ulaw(codes: &[u8]) -> Vec<i16> {
    codes.iter().map(|c| ulaw_to_linear(*c)).collect()
}

/// Decodes A-law bytes to linear samples.
#[must_use]
pub fn decode_alaw(codes: &[u8]) -> Vec<i16> {
    codes.iter().map(|c| alaw_to_linear(*c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worst-case reconstruction error for a sample of this size: half the widest quantisation
    /// step that can apply to it (steps grow with the segment: at most 1/16 of the magnitude in
    /// the top segments, plus the clipping loss above the largest code).
    fn max_error(sample: i16, largest_code: i32) -> i32 {
        let magnitude = i32::from(sample).abs();
        let clip_loss = (magnitude - largest_code).max(0);
        magnitude / 16 + 16 + clip_loss
    }

    #[test]
    fn ulaw_encodes_silence_as_positive_zero_0xff() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
    }

    #[test]
    fn ulaw_known_values_match_the_reference_tables() {
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x7E), -8);
        assert_eq!(ulaw_to_linear(0xFE), 8);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(linear_to_ulaw(1000), 0xCE);
        assert_eq!(linear_to_ulaw(-1000), 0x4E);
    }

    #[test]
    fn alaw_encodes_silence_as_0xd5() {
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
    }

    #[test]
    fn alaw_known_values_match_the_reference_tables() {
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
        assert_eq!(linear_to_alaw(1000), 0xFA);
        assert_eq!(linear_to_alaw(-1000), 0x7A);
    }

    #[test]
    fn every_ulaw_code_survives_decode_then_encode_except_negative_zero() {
        for code in 0..=255u8 {
            let expected = if code == 0x7F { 0xFF } else { code };
            assert_eq!(
                linear_to_ulaw(ulaw_to_linear(code)),
                expected,
                "code {code:#04x}"
            );
        }
    }

    #[test]
    fn every_alaw_code_survives_decode_then_encode() {
        for code in 0..=255u8 {
            assert_eq!(
                linear_to_alaw(alaw_to_linear(code)),
                code,
                "code {code:#04x}"
            );
        }
    }

    #[test]
    fn ulaw_round_trip_stays_within_quantisation_error() {
        for sample in i16::MIN..=i16::MAX {
            let back = ulaw_to_linear(linear_to_ulaw(sample));
            let err = (i32::from(back) - i32::from(sample)).abs();
            assert!(err <= max_error(sample, 32124), "{sample} -> {back}");
        }
    }

    #[test]
    fn alaw_round_trip_stays_within_quantisation_error() {
        for sample in i16::MIN..=i16::MAX {
            let back = alaw_to_linear(linear_to_alaw(sample));
            let err = (i32::from(back) - i32::from(sample)).abs();
            assert!(err <= max_error(sample, 32256), "{sample} -> {back}");
        }
    }

    #[test]
    fn encoding_is_monotonic_in_the_decoded_domain() {
        let mut last_u = i16::MIN;
        let mut last_a = i16::MIN;
        for sample in i16::MIN..=i16::MAX {
            let u = ulaw_to_linear(linear_to_ulaw(sample));
            let a = alaw_to_linear(linear_to_alaw(sample));
            assert!(u >= last_u && a >= last_a, "at {sample}");
            last_u = u;
            last_a = a;
        }
    }

    #[test]
    fn slice_helpers_match_the_per_sample_functions() {
        let samples = [0i16, 1, -1, 100, -100, 32767, -32768];
        let mut u = Vec::new();
        encode_ulaw(&samples, &mut u);
        let mut a = Vec::new();
        encode_alaw(&samples, &mut a);
        assert_eq!(u.len(), samples.len());
        assert_eq!(
            decode_ulaw(&u),
            u.iter().map(|c| ulaw_to_linear(*c)).collect::<Vec<_>>()
        );
        assert_eq!(
            decode_alaw(&a),
            a.iter().map(|c| alaw_to_linear(*c)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn silence_and_full_scale_map_to_the_reference_codes() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
    }

    #[test]
    fn every_code_survives_decode_then_encode() {
        for code in 0..=255u8 {
            let linear = ulaw_to_linear(code);
            // 0x7F is µ-law's "negative zero"; it re-encodes as positive zero.
            let expected = if code == 0x7F { 0xFF } else { code };
            assert_eq!(linear_to_ulaw(linear), expected, "µ-law {code:#04x}");
            assert_eq!(
                linear_to_alaw(alaw_to_linear(code)),
                code,
                "A-law {code:#04x}"
            );
        }
    }

    #[test]
    fn quantisation_error_stays_within_half_a_step() {
        for sample in (i16::MIN..=i16::MAX).step_by(7) {
            let s = i32::from(sample);
            for (decoded, name) in [
                (ulaw_to_linear(linear_to_ulaw(sample)), "µ-law"),
                (alaw_to_linear(linear_to_alaw(sample)), "A-law"),
            ] {
                let err = (i32::from(decoded) - s).abs();
                // Steps grow with the segment: at most 1/16 of the magnitude plus the
                // smallest step (and the clip at full scale).
                let bound = s.abs() / 16 + 140;
                assert!(err <= bound, "{name}: {sample} -> {decoded}");
            }
        }
    }

    #[test]
    fn encoding_is_monotonic() {
        let mut last_u = i16::MIN;
        let mut last_a = i16::MIN;
        for sample in i16::MIN..=i16::MAX {
            let u = ulaw_to_linear(linear_to_ulaw(sample));
            let a = alaw_to_linear(linear_to_alaw(sample));
            assert!(u >= last_u && a >= last_a, "at {sample}");
            last_u = u;
            last_a = a;
        }
    }
}
