//! ITU-T G.711 µ-law (PCMU) and A-law (PCMA): one byte per 8 kHz sample, computed (no tables).
//!
//! Owns the companding arithmetic only; framing, resampling and RTP payload rules are in
//! [`super::audio`]. The formulas are the classic public-domain ones (Sun Microsystems'
//! `g711.c`, CCITT's reference): µ-law works on a 14-bit magnitude with a bias of 33
//! (132 in 16-bit units) and clips at 32635; A-law works on 13 bits and inverts the even bits
//! (`0x55`). Both decoders return 16-bit linear samples.

/// Added to the magnitude before µ-law segment search (33 in 14-bit units, shifted by 2).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can represent once biased without overflowing segment 7.
const ULAW_CLIP: i32 = 32635;

/// Encodes one 16-bit linear sample as a µ-law byte.
pub(crate) fn linear_to_ulaw(sample: i16) -> u8 {
    let mut magnitude = i32::from(sample);
    let sign = if magnitude < 0 {
        magnitude = -magnitude;
        0x80
    } else {
        0
    };
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS;
    // Segment = position of the highest set bit above bit 7 (biased >= 132, so >> 7 >= 1).
    let exponent = 31 - ((biased >> 7) as u32).leading_zeros() as i32;
    let mantissa = (biased >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Decodes a µ-law byte to a 16-bit linear sample (±32124 at most).
pub(crate) fn ulaw_to_linear(code: u8) -> i16 {
    let code = !code;
    let exponent = i32::from((code >> 4) & 0x07);
    let mantissa = i32::from(code & 0x0F);
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    (if code & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }) as i16
}

/// Encodes one 16-bit linear sample as an A-law byte.
pub(crate) fn linear_to_alaw(sample: i16) -> u8 {
    let mut value = i32::from(sample) >> 3; // 13-bit
    let mask = if value >= 0 {
        0xD5
    } else {
        value = -value - 1;
        0x55
    };
    // Segment ends of the 13-bit magnitude: 0x1F, 0x3F, 0x7F, ..., 0xFFF.
    let segment = (0..8).find(|&s| value < (0x20 << s));
    let code = match segment {
        None => 0x7F,
        Some(s) => {
            let mantissa = if s < 2 { value >> 1 } else { value >> s } & 0x0F;
            (s << 4) | mantissa
        }
    };
    (code ^ mask) as u8
}

/// Decodes an A-law byte to a 16-bit linear sample (±32256 at most).
pub(crate) fn alaw_to_linear(code: u8) -> i16 {
    let code = i32::from(code ^ 0x55);
    let mut magnitude = (code & 0x0F) << 4;
    let segment = (code & 0x70) >> 4;
    match segment {
        0 => magnitude += 8,
        1 => magnitude += 0x108,
        s => magnitude = (magnitude + 0x108) << (s - 1),
    }
    (if code & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

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
