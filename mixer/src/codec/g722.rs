//! ITU-T G.722 at 64 kbit/s (mode 1): 16 kHz audio split by a quadrature mirror filter into a
//! low band (6-bit ADPCM) and a high band (2-bit ADPCM), one byte per pair of input samples.
//!
//! Owns the codec state machines only; framing and resampling are in [`super::audio`]. Only mode
//! 1 (64 kbit/s, what SDP `G722/8000` means) is implemented: modes 2 and 3 (56/48 kbit/s,
//! dropping low-band bits) are not used on SIP trunks. The arithmetic is the integer algorithm
//! of the ITU reference, as in the public-domain SpanDSP `g722.c` by Steve Underwood (itself
//! from CMU's codec): blocks are named as in the Recommendation (QUANTL, INVQAL, LOGSCL,
//! SCALEL, ...). All intermediate values stay far inside `i32` (checked by a proptest on
//! arbitrary input), and any byte is a valid code, so decoding never fails.

/// QMF coefficients (Table 11 of G.722), one half of the symmetric 24-tap filter.
const QMF: [i32; 12] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];
/// Low-band quantiser decision levels (6-bit, magnitude part).
const Q6: [i32; 32] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0,
];
/// Low-band codes for negative differences, by decision interval.
const ILN: [i32; 32] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4, 0,
];
/// Low-band codes for positive differences, by decision interval.
const ILP: [i32; 32] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32, 0,
];
/// Low-band log-scale factor increments.
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
/// 4-bit code to WL index.
const RL42: [i32; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
/// Inverse-log table for the scale factor.
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];
/// Low-band 4-bit inverse quantiser (used for prediction in both directions).
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];
/// Low-band 6-bit inverse quantiser (the decoder's reconstructed output in mode 1).
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];
/// High-band 2-bit inverse quantiser.
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
/// High-band codes for negative / positive differences.
const IHN: [i32; 3] = [0, 1, 0];
const IHP: [i32; 3] = [0, 3, 2];
/// High-band log-scale factor increments and code to index.
const WH: [i32; 3] = [0, -214, 798];
const RH2: [i32; 4] = [2, 1, 2, 1];

fn sat16(v: i32) -> i32 {
    v.clamp(i32::from(i16::MIN), i32::from(i16::MAX))
}

/// The adaptive predictor of one sub-band (block 4 of G.722).
#[derive(Debug, Clone, Default)]
struct Band {
    /// Predicted signal.
    s: i32,
    /// Pole-section prediction.
    sp: i32,
    /// Zero-section prediction.
    sz: i32,
    r: [i32; 3],
    a: [i32; 3],
    ap: [i32; 3],
    p: [i32; 3],
    d: [i32; 7],
    b: [i32; 7],
    bp: [i32; 7],
    sg: [i32; 7],
    /// Log scale factor.
    nb: i32,
    /// Quantiser scale factor.
    det: i32,
}

impl Band {
    /// Updates the log scale factor (LOGSCL/LOGSCH) and the linear one (SCALEL/SCALEH).
    fn scale(&mut self, increment: i32, limit: i32, shift_base: i32) {
        self.nb = (((self.nb * 127) >> 7) + increment).clamp(0, limit);
        let wd1 = (self.nb >> 6) & 31;
        let wd2 = shift_base - (self.nb >> 11);
        let wd3 = if wd2 < 0 {
            ILB[wd1 as usize] << -wd2
        } else {
            ILB[wd1 as usize] >> wd2
        };
        self.det = wd3 << 2;
    }

    /// Block 4: reconstruct, adapt the pole and zero predictors, predict the next sample.
    fn update(&mut self, d: i32) {
        // RECONS, PARREC
        self.d[0] = d;
        self.r[0] = sat16(self.s + d);
        self.p[0] = sat16(self.sz + d);

        // UPPOL2
        for i in 0..3 {
            self.sg[i] = self.p[i] >> 15;
        }
        let wd1 = sat16(self.a[1] << 2);
        let wd2 = if self.sg[0] == self.sg[1] { -wd1 } else { wd1 }.min(32767);
        let mut wd3 = (wd2 >> 7) + if self.sg[0] == self.sg[2] { 128 } else { -128 };
        wd3 += (self.a[2] * 32512) >> 15;
        self.ap[2] = wd3.clamp(-12288, 12288);

        // UPPOL1
        self.sg[0] = self.p[0] >> 15;
        self.sg[1] = self.p[1] >> 15;
        let wd1 = if self.sg[0] == self.sg[1] { 192 } else { -192 };
        let wd2 = (self.a[1] * 32640) >> 15;
        let limit = sat16(15360 - self.ap[2]);
        self.ap[1] = sat16(wd1 + wd2).clamp(-limit, limit);

        // UPZERO
        let step = if d == 0 { 0 } else { 128 };
        self.sg[0] = d >> 15;
        for i in 1..7 {
            self.sg[i] = self.d[i] >> 15;
            let wd2 = if self.sg[i] == self.sg[0] {
                step
            } else {
                -step
            };
            let wd3 = (self.b[i] * 32640) >> 15;
            self.bp[i] = sat16(wd2 + wd3);
        }

        // DELAYA
        for i in (1..7).rev() {
            self.d[i] = self.d[i - 1];
            self.b[i] = self.bp[i];
        }
        for i in (1..3).rev() {
            self.r[i] = self.r[i - 1];
            self.p[i] = self.p[i - 1];
            self.a[i] = self.ap[i];
        }

        // FILTEP
        let wd1 = (self.a[1] * sat16(self.r[1] + self.r[1])) >> 15;
        let wd2 = (self.a[2] * sat16(self.r[2] + self.r[2])) >> 15;
        self.sp = sat16(wd1 + wd2);

        // FILTEZ
        let mut sz = 0;
        for i in (1..7).rev() {
            sz += (self.b[i] * sat16(self.d[i] + self.d[i])) >> 15;
        }
        self.sz = sat16(sz);

        // PREDIC
        self.s = sat16(self.sp + self.sz);
    }
}

/// Both bands in their reset state (G.722 section 6: DETL = 32, DETH = 8, all else zero).
fn reset_bands() -> (Band, Band) {
    (
        Band {
            det: 32,
            ..Band::default()
        },
        Band {
            det: 8,
            ..Band::default()
        },
    )
}

/// G.722 mode-1 encoder state: 16 kHz samples in, one code byte per two samples out.
#[derive(Debug, Clone)]
pub(crate) struct G722Encoder {
    qmf: [i32; 24],
    low: Band,
    high: Band,
}

impl Default for G722Encoder {
    fn default() -> Self {
        let (low, high) = reset_bands();
        G722Encoder {
            qmf: [0; 24],
            low,
            high,
        }
    }
}

impl G722Encoder {
    /// Encodes `pcm` (16 kHz; an odd trailing sample is ignored) and appends the codes to `out`.
    pub(crate) fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        out.reserve(pcm.len() / 2);
        for pair in pcm.chunks_exact(2) {
            // Transmit QMF: shift in two samples, keep every other output.
            self.qmf.copy_within(2.., 0);
            self.qmf[22] = i32::from(pair[0]);
            self.qmf[23] = i32::from(pair[1]);
            let (mut sum_odd, mut sum_even) = (0, 0);
            for i in 0..12 {
                sum_odd += self.qmf[2 * i] * QMF[i];
                sum_even += self.qmf[2 * i + 1] * QMF[11 - i];
            }
            let xlow = (sum_even + sum_odd) >> 14;
            let xhigh = (sum_even - sum_odd) >> 14;

            // Low band: SUBTRA, QUANTL.
            let el = sat16(xlow - self.low.s);
            let wd = if el >= 0 { el } else { -(el + 1) };
            let mut i = 1;
            while i < 30 && wd >= (Q6[i] * self.low.det) >> 12 {
                i += 1;
            }
            let ilow = if el < 0 { ILN[i] } else { ILP[i] };
            // INVQAL, LOGSCL/SCALEL, block 4.
            let ril = (ilow >> 2) as usize;
            let dlow = (self.low.det * QM4[ril]) >> 15;
            self.low.scale(WL[RL42[ril] as usize], 18432, 8);
            self.low.update(dlow);

            // High band: SUBTRA, QUANTH.
            let eh = sat16(xhigh - self.high.s);
            let wd = if eh >= 0 { eh } else { -(eh + 1) };
            let mih = if wd >= (564 * self.high.det) >> 12 {
                2
            } else {
                1
            };
            let ihigh = if eh < 0 { IHN[mih] } else { IHP[mih] };
            // INVQAH, LOGSCH/SCALEH, block 4.
            let dhigh = (self.high.det * QM2[ihigh as usize]) >> 15;
            self.high.scale(WH[RH2[ihigh as usize] as usize], 22528, 10);
            self.high.update(dhigh);

            out.push(((ihigh << 6) | ilow) as u8);
        }
    }
}

/// G.722 mode-1 decoder state: one code byte in, two 16 kHz samples out.
#[derive(Debug, Clone)]
pub(crate) struct G722Decoder {
    qmf: [i32; 24],
    low: Band,
    high: Band,
}

impl Default for G722Decoder {
    fn default() -> Self {
        let (low, high) = reset_bands();
        G722Decoder {
            qmf: [0; 24],
            low,
            high,
        }
    }
}

impl G722Decoder {
    /// Decodes `codes` and appends two 16 kHz samples per byte to `out`.
    pub(crate) fn decode(&mut self, codes: &[u8], out: &mut Vec<i16>) {
        out.reserve(codes.len() * 2);
        for &code in codes {
            let code = i32::from(code);
            let ilow = (code & 0x3F) as usize;
            let ihigh = ((code >> 6) & 0x03) as usize;

            // Low band: INVQBL, RECONS, LIMIT (output path, 6-bit).
            let rlow = (self.low.s + ((self.low.det * QM6[ilow]) >> 15)).clamp(-16384, 16383);
            // INVQAL (prediction path, 4-bit), LOGSCL/SCALEL, block 4.
            let ril = ilow >> 2;
            let dlow = (self.low.det * QM4[ril]) >> 15;
            self.low.scale(WL[RL42[ril] as usize], 18432, 8);
            self.low.update(dlow);

            // High band: INVQAH, RECONS, LIMIT, LOGSCH/SCALEH, block 4.
            let dhigh = (self.high.det * QM2[ihigh]) >> 15;
            let rhigh = (dhigh + self.high.s).clamp(-16384, 16383);
            self.high.scale(WH[RH2[ihigh] as usize], 22528, 10);
            self.high.update(dhigh);

            // Receive QMF.
            self.qmf.copy_within(2.., 0);
            self.qmf[22] = rlow + rhigh;
            self.qmf[23] = rlow - rhigh;
            let (mut out1, mut out2) = (0, 0);
            for i in 0..12 {
                out2 += self.qmf[2 * i] * QMF[i];
                out1 += self.qmf[2 * i + 1] * QMF[11 - i];
            }
            out.push(sat16(out1 >> 11) as i16);
            out.push(sat16(out2 >> 11) as i16);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tone(freq: f64, amplitude: f64, samples: usize) -> Vec<i16> {
        (0..samples)
            .map(|n| {
                (amplitude * (2.0 * std::f64::consts::PI * freq * n as f64 / 16_000.0).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn a_tone_survives_encode_and_decode_at_16khz() {
        let input = tone(1_000.0, 10_000.0, 1_600);
        let mut codes = Vec::new();
        G722Encoder::default().encode(&input, &mut codes);
        assert_eq!(codes.len(), 800);
        let mut output = Vec::new();
        G722Decoder::default().decode(&codes, &mut output);
        assert_eq!(output.len(), 1_600);
        // The QMF pair delays the signal by a couple of dozen samples; past the adaptation,
        // the decoded tone at the best delay matches the input closely.
        let snr = (0..40)
            .map(|delay| {
                let (mut signal, mut noise) = (0f64, 0f64);
                for n in 400..1_500 {
                    let x = f64::from(input[n]);
                    let y = f64::from(output[n + delay]);
                    signal += x * x;
                    noise += (x - y) * (x - y);
                }
                10.0 * (signal / noise).log10()
            })
            .fold(f64::MIN, f64::max);
        assert!(snr > 20.0, "SNR {snr:.1} dB");
    }

    #[test]
    fn silence_stays_near_silent() {
        // ADPCM idles with a small limit cycle rather than one fixed code; what matters is
        // that it decodes to (near) nothing.
        let mut codes = Vec::new();
        G722Encoder::default().encode(&[0; 3_200], &mut codes);
        let mut out = Vec::new();
        G722Decoder::default().decode(&codes, &mut out);
        let peak = out.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(peak < 64, "peak {peak}");
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_overflows(
            pcm in proptest::collection::vec(any::<i16>(), 0..640),
            codes in proptest::collection::vec(any::<u8>(), 0..320),
        ) {
            let mut out = Vec::new();
            G722Encoder::default().encode(&pcm, &mut out);
            prop_assert_eq!(out.len(), pcm.len() / 2);
            let mut pcm_out = Vec::new();
            G722Decoder::default().decode(&codes, &mut pcm_out);
            prop_assert_eq!(pcm_out.len(), codes.len() * 2);
        }
    }
}
