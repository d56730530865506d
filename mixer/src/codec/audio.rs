//! Audio codecs between the meeting's 48 kHz mono 20 ms frames and RTP payloads: PCMU, PCMA
//! (G.711), G.722 and Opus.
//!
//! Owns codec state and the rate conversion to and from [`SAMPLE_RATE`]. It must not packetise
//! RTP (headers, timestamps, jitter buffers are the gateway's), mix (`crate::audio`) or read a
//! clock: one `encode` is one 20 ms frame, one `decode` is one RTP payload.
//!
//! | codec | codec rate | RTP clock | payload per 20 ms | static PT |
//! |-------|-----------:|----------:|------------------:|----------:|
//! | PCMU  | 8 kHz      | 8000      | 160 bytes         | 0         |
//! | PCMA  | 8 kHz      | 8000      | 160 bytes         | 8         |
//! | G.722 | 16 kHz     | 8000 (RFC 3551's historical error) | 160 bytes | 9 |
//! | Opus  | 48 kHz     | 48000     | variable          | dynamic   |
//!
//! G.711 and G.722 are implemented here (`g711`, `g722`; no maintained Rust crate for G.722
//! exists without a whole media framework behind it); Opus is libopus through the `opus` crate:
//! VOIP application, 32 kbit/s, in-band FEC on (with an expected loss of 10 %, without which
//! libopus sends no FEC), DTX off (VTC jitter buffers prefer a steady stream).
//!
//! Resampling uses [`Resampler`]: linear interpolation up, averaging down. Decoders accept any
//! payload length (a VTC may send 10, 20 or 30 ms packets) and return as many 48 kHz samples as
//! the payload holds; the caller re-frames to 20 ms.

use super::g711;
use super::g722::{G722Decoder, G722Encoder};
use crate::audio::{AudioError, Resampler, FRAME_SAMPLES, SAMPLE_RATE};

/// Opus target bit rate: wideband speech well above transparency for a conference mix.
pub const OPUS_BITRATE_BPS: i32 = 32_000;
/// Expected loss (percent) told to the Opus encoder; libopus adds in-band FEC only when this
/// is non-zero.
pub const OPUS_EXPECTED_LOSS_PERCENT: i32 = 10;
/// Largest Opus packet (RFC 6716 section 3.4: 1275 bytes per frame).
const OPUS_MAX_PACKET: usize = 1275;
/// Largest frame libopus decodes: 120 ms at 48 kHz.
const OPUS_MAX_FRAME: usize = 5_760;

/// Why an audio codec call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioCodecError {
    /// The input to `encode` was not one 20 ms frame at 48 kHz.
    #[error("encode needs {expected} samples (20 ms at 48 kHz), got {got}")]
    WrongFrameLength {
        /// Samples expected ([`FRAME_SAMPLES`]).
        expected: usize,
        /// Samples given.
        got: usize,
    },
    /// The resampler refused (cannot happen for the supported codecs' rates).
    #[error("resampling: {0}")]
    Resample(#[from] AudioError),
    /// libopus reported an error (a malformed packet, or a bad setting).
    #[error("opus: {0}")]
    Opus(String),
}

impl From<opus::Error> for AudioCodecError {
    fn from(e: opus::Error) -> Self {
        AudioCodecError::Opus(e.to_string())
    }
}

/// An audio codec the gateway can negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// G.711 µ-law, 8 kHz, 64 kbit/s.
    Pcmu,
    /// G.711 A-law, 8 kHz, 64 kbit/s.
    Pcma,
    /// G.722 at 64 kbit/s (mode 1), 16 kHz audio.
    G722,
    /// Opus, 48 kHz mono.
    Opus,
}

impl AudioCodec {
    /// All codecs, in the order the gateway prefers them (best quality first).
    pub const ALL: [AudioCodec; 4] = [
        AudioCodec::Opus,
        AudioCodec::G722,
        AudioCodec::Pcmu,
        AudioCodec::Pcma,
    ];

    /// The rate the codec itself samples audio at.
    pub fn sample_rate(self) -> u32 {
        match self {
            AudioCodec::Pcmu | AudioCodec::Pcma => 8_000,
            AudioCodec::G722 => 16_000,
            AudioCodec::Opus => 48_000,
        }
    }

    /// The RTP clock rate (what SDP `a=rtpmap` says; 8000 for G.722 although it samples at
    /// 16 kHz, per RFC 3551 section 4.5.2).
    pub fn rtp_clock_rate(self) -> u32 {
        match self {
            AudioCodec::Pcmu | AudioCodec::Pcma | AudioCodec::G722 => 8_000,
            AudioCodec::Opus => 48_000,
        }
    }

    /// RTP timestamp ticks per 20 ms frame.
    pub fn rtp_ticks_per_frame(self) -> u32 {
        self.rtp_clock_rate() / 50
    }

    /// The static RTP payload type, if the codec has one (Opus is always dynamic).
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            AudioCodec::Pcmu => Some(0),
            AudioCodec::Pcma => Some(8),
            AudioCodec::G722 => Some(9),
            AudioCodec::Opus => None,
        }
    }

    /// The SDP encoding name (`a=rtpmap:<pt> <name>/<clock>`), as usually spelled.
    pub fn encoding_name(self) -> &'static str {
        match self {
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
            AudioCodec::G722 => "G722",
            AudioCodec::Opus => "opus",
        }
    }
}

/// Encodes the meeting's 48 kHz mono 20 ms frames into RTP payloads of one codec.
pub struct AudioEncoder {
    codec: AudioCodec,
    kind: EncoderKind,
    scratch: Vec<i16>,
}

enum EncoderKind {
    G711 {
        resampler: Resampler,
    },
    G722 {
        resampler: Resampler,
        state: Box<G722Encoder>,
    },
    Opus {
        encoder: opus::Encoder,
        packet: Vec<u8>,
    },
}

impl std::fmt::Debug for AudioEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioEncoder")
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}

impl AudioEncoder {
    /// An encoder for `codec`, with the settings described in the module docs.
    pub fn new(codec: AudioCodec) -> Result<Self, AudioCodecError> {
        let kind = match codec {
            AudioCodec::Pcmu | AudioCodec::Pcma => EncoderKind::G711 {
                resampler: Resampler::new(SAMPLE_RATE, codec.sample_rate())?,
            },
            AudioCodec::G722 => EncoderKind::G722 {
                resampler: Resampler::new(SAMPLE_RATE, codec.sample_rate())?,
                state: Box::default(),
            },
            AudioCodec::Opus => {
                let mut encoder =
                    opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)?;
                encoder.set_bitrate(opus::Bitrate::Bits(OPUS_BITRATE_BPS))?;
                encoder.set_inband_fec(true)?;
                encoder.set_packet_loss_perc(OPUS_EXPECTED_LOSS_PERCENT)?;
                encoder.set_dtx(false)?;
                EncoderKind::Opus {
                    encoder,
                    packet: vec![0; OPUS_MAX_PACKET],
                }
            }
        };
        Ok(AudioEncoder {
            codec,
            kind,
            scratch: Vec::with_capacity(FRAME_SAMPLES),
        })
    }

    /// The codec this encoder produces.
    pub fn codec(&self) -> AudioCodec {
        self.codec
    }

    /// Encodes one 20 ms frame ([`FRAME_SAMPLES`] samples at 48 kHz) into one RTP payload.
    pub fn encode(&mut self, frame: &[i16]) -> Result<Vec<u8>, AudioCodecError> {
        if frame.len() != FRAME_SAMPLES {
            return Err(AudioCodecError::WrongFrameLength {
                expected: FRAME_SAMPLES,
                got: frame.len(),
            });
        }
        self.scratch.clear();
        match &mut self.kind {
            EncoderKind::G711 { resampler } => {
                resampler.process(frame, &mut self.scratch)?;
                let encode = if self.codec == AudioCodec::Pcmu {
                    g711::linear_to_ulaw
                } else {
                    g711::linear_to_alaw
                };
                Ok(self.scratch.iter().map(|&s| encode(s)).collect())
            }
            EncoderKind::G722 { resampler, state } => {
                resampler.process(frame, &mut self.scratch)?;
                let mut payload = Vec::with_capacity(self.scratch.len() / 2);
                state.encode(&self.scratch, &mut payload);
                Ok(payload)
            }
            EncoderKind::Opus { encoder, packet } => {
                let len = encoder.encode(frame, packet)?;
                Ok(packet[..len].to_vec())
            }
        }
    }

    /// Changes the Opus bit rate (e.g. from SDP `maxaveragebitrate`); fixed-rate codecs ignore
    /// it.
    pub fn set_bitrate(&mut self, bps: u32) -> Result<(), AudioCodecError> {
        if let EncoderKind::Opus { encoder, .. } = &mut self.kind {
            let bps = i32::try_from(bps).unwrap_or(i32::MAX).clamp(6_000, 510_000);
            encoder.set_bitrate(opus::Bitrate::Bits(bps))?;
        }
        Ok(())
    }
}

/// Decodes RTP payloads of one codec to 48 kHz mono samples, and conceals lost packets.
pub struct AudioDecoder {
    codec: AudioCodec,
    kind: DecoderKind,
    scratch: Vec<i16>,
}

enum DecoderKind {
    G711 {
        resampler: Resampler,
    },
    G722 {
        resampler: Resampler,
        state: Box<G722Decoder>,
    },
    Opus {
        decoder: opus::Decoder,
    },
}

impl std::fmt::Debug for AudioDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioDecoder")
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}

impl AudioDecoder {
    /// A decoder for `codec`.
    pub fn new(codec: AudioCodec) -> Result<Self, AudioCodecError> {
        let kind = match codec {
            AudioCodec::Pcmu | AudioCodec::Pcma => DecoderKind::G711 {
                resampler: Resampler::new(codec.sample_rate(), SAMPLE_RATE)?,
            },
            AudioCodec::G722 => DecoderKind::G722 {
                resampler: Resampler::new(codec.sample_rate(), SAMPLE_RATE)?,
                state: Box::default(),
            },
            AudioCodec::Opus => DecoderKind::Opus {
                decoder: opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono)?,
            },
        };
        Ok(AudioDecoder {
            codec,
            kind,
            scratch: Vec::with_capacity(OPUS_MAX_FRAME),
        })
    }

    /// The codec this decoder reads.
    pub fn codec(&self) -> AudioCodec {
        self.codec
    }

    /// Decodes one RTP payload to 48 kHz samples (960 for a 20 ms packet; G.711 and G.722
    /// produce 6 and 3 samples per payload byte respectively, Opus what the packet's TOC says).
    /// Garbage never panics: G.711 and G.722 accept any bytes, Opus returns an error for a
    /// malformed packet (treat it as lost: call [`AudioDecoder::conceal`]).
    pub fn decode(&mut self, payload: &[u8]) -> Result<Vec<i16>, AudioCodecError> {
        let mut out = Vec::new();
        self.scratch.clear();
        match &mut self.kind {
            DecoderKind::G711 { resampler } => {
                let decode = if self.codec == AudioCodec::Pcmu {
                    g711::ulaw_to_linear
                } else {
                    g711::alaw_to_linear
                };
                self.scratch.extend(payload.iter().map(|&c| decode(c)));
                resampler.process(&self.scratch, &mut out)?;
            }
            DecoderKind::G722 { resampler, state } => {
                state.decode(payload, &mut self.scratch);
                resampler.process(&self.scratch, &mut out)?;
            }
            DecoderKind::Opus { decoder } => {
                if payload.is_empty() {
                    // libopus reads an empty packet as "lost"; make that explicit instead.
                    return Err(AudioCodecError::Opus("empty packet".into()));
                }
                out.resize(OPUS_MAX_FRAME, 0);
                let n = decoder.decode(payload, &mut out, false)?;
                out.truncate(n);
            }
        }
        Ok(out)
    }

    /// 20 ms of audio standing in for a lost packet. Opus runs libopus's packet loss
    /// concealment (it extrapolates the last voice and fades out over consecutive losses);
    /// G.711 and G.722 have no concealment of their own and return silence (which the N-1 mix
    /// adds as nothing).
    pub fn conceal(&mut self) -> Result<Vec<i16>, AudioCodecError> {
        match &mut self.kind {
            DecoderKind::Opus { decoder } => {
                let mut out = vec![0; FRAME_SAMPLES];
                let n = decoder.decode(&[], &mut out, false)?;
                out.truncate(n);
                Ok(out)
            }
            DecoderKind::G711 { .. } | DecoderKind::G722 { .. } => Ok(vec![0; FRAME_SAMPLES]),
        }
    }

    /// 20 ms standing in for a lost packet when the packet after it, `next_payload`, has
    /// arrived: Opus recovers the lost frame from that packet's in-band FEC (decode
    /// `next_payload` itself afterwards as usual); other codecs conceal as [`Self::conceal`].
    pub fn recover_from_next(&mut self, next_payload: &[u8]) -> Result<Vec<i16>, AudioCodecError> {
        match &mut self.kind {
            DecoderKind::Opus { decoder } if !next_payload.is_empty() => {
                let mut out = vec![0; FRAME_SAMPLES];
                let n = decoder.decode(next_payload, &mut out, true)?;
                out.truncate(n);
                Ok(out)
            }
            _ => self.conceal(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `frames` 20 ms frames of a `freq` Hz sine at 48 kHz.
    fn tone(freq: f64, amplitude: f64, frames: usize) -> Vec<Vec<i16>> {
        let all: Vec<i16> = (0..frames * FRAME_SAMPLES)
            .map(|n| {
                (amplitude * (2.0 * std::f64::consts::PI * freq * n as f64 / 48_000.0).sin()) as i16
            })
            .collect();
        all.chunks(FRAME_SAMPLES).map(<[i16]>::to_vec).collect()
    }

    /// Power at `freq` (Goertzel), normalised to the signal's total power: 1.0 for a pure
    /// tone at `freq`, near 0 for anything else.
    fn tone_fraction(samples: &[i16], freq: f64) -> f64 {
        let n = samples.len() as f64;
        let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / 48_000.0).cos();
        let (mut s1, mut s2) = (0f64, 0f64);
        for &x in samples {
            let s0 = f64::from(x) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let tone_power = (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2.0 / (n * n);
        let total: f64 = samples.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / n;
        tone_power / total
    }

    fn round_trip(codec: AudioCodec, freq: f64) -> Vec<i16> {
        let mut enc = AudioEncoder::new(codec).unwrap();
        let mut dec = AudioDecoder::new(codec).unwrap();
        let mut out = Vec::new();
        for frame in tone(freq, 8_000.0, 25) {
            let payload = enc.encode(&frame).unwrap();
            out.extend(dec.decode(&payload).unwrap());
        }
        out
    }

    #[test]
    fn a_1khz_tone_survives_every_codec() {
        for codec in AudioCodec::ALL {
            let out = round_trip(codec, 1_000.0);
            assert_eq!(out.len(), 25 * FRAME_SAMPLES, "{codec:?}");
            // Skip the first 100 ms (codec start-up and look-ahead).
            let tail = &out[5 * FRAME_SAMPLES..];
            let at_tone = tone_fraction(tail, 1_000.0);
            let off_tone = tone_fraction(tail, 1_700.0);
            assert!(
                at_tone > 0.8,
                "{codec:?}: 1 kHz holds {at_tone:.3} of the power"
            );
            assert!(off_tone < 0.01, "{codec:?}: 1.7 kHz holds {off_tone:.3}");
            let rms = (tail.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / tail.len() as f64)
                .sqrt();
            // Input RMS is 8000 / sqrt(2) = 5657; level must come through within ~3 dB.
            assert!((4_000.0..8_000.0).contains(&rms), "{codec:?}: RMS {rms:.0}");
        }
    }

    #[test]
    fn payloads_have_the_sizes_sdp_promises() {
        let frame = &tone(440.0, 5_000.0, 1)[0];
        for (codec, bytes) in [
            (AudioCodec::Pcmu, 160),
            (AudioCodec::Pcma, 160),
            (AudioCodec::G722, 160),
        ] {
            let mut enc = AudioEncoder::new(codec).unwrap();
            assert_eq!(enc.encode(frame).unwrap().len(), bytes, "{codec:?}");
            assert_eq!(codec.rtp_ticks_per_frame(), 160);
        }
        let mut opus = AudioEncoder::new(AudioCodec::Opus).unwrap();
        let packet = opus.encode(frame).unwrap();
        // 32 kbit/s is 80 bytes per 20 ms on average; the first frames vary.
        assert!((2..=OPUS_MAX_PACKET).contains(&packet.len()));
        assert_eq!(opus::packet::get_nb_samples(&packet, 48_000).unwrap(), 960);
        assert_eq!(AudioCodec::Opus.rtp_ticks_per_frame(), 960);
    }

    #[test]
    fn encode_rejects_a_frame_that_is_not_20ms() {
        for codec in AudioCodec::ALL {
            let mut enc = AudioEncoder::new(codec).unwrap();
            assert_eq!(
                enc.encode(&[0; 480]),
                Err(AudioCodecError::WrongFrameLength {
                    expected: 960,
                    got: 480
                })
            );
        }
    }

    #[test]
    fn short_and_long_packets_decode_to_their_own_length() {
        // A VTC sending 10 ms or 30 ms packets.
        for (codec, bytes_per_ms) in [
            (AudioCodec::Pcmu, 8),
            (AudioCodec::Pcma, 8),
            (AudioCodec::G722, 8),
        ] {
            let mut dec = AudioDecoder::new(codec).unwrap();
            assert_eq!(
                dec.decode(&vec![0xD5; 10 * bytes_per_ms]).unwrap().len(),
                480
            );
            assert_eq!(
                dec.decode(&vec![0xD5; 30 * bytes_per_ms]).unwrap().len(),
                1_440
            );
        }
    }

    #[test]
    fn opus_conceals_a_lost_packet_with_continuing_tone() {
        let mut enc = AudioEncoder::new(AudioCodec::Opus).unwrap();
        let mut dec = AudioDecoder::new(AudioCodec::Opus).unwrap();
        let frames = tone(1_000.0, 8_000.0, 12);
        let packets: Vec<_> = frames.iter().map(|f| enc.encode(f).unwrap()).collect();
        for p in &packets[..10] {
            dec.decode(p).unwrap();
        }
        let concealed = dec.conceal().unwrap();
        assert_eq!(concealed.len(), FRAME_SAMPLES);
        assert!(tone_fraction(&concealed, 1_000.0) > 0.5);
        // FEC: packet 11 is lost, packet 12 carries it.
        let recovered = dec.recover_from_next(&packets[11]).unwrap();
        assert_eq!(recovered.len(), FRAME_SAMPLES);
        assert!(tone_fraction(&recovered, 1_000.0) > 0.5);
        assert_eq!(dec.decode(&packets[11]).unwrap().len(), FRAME_SAMPLES);
    }

    #[test]
    fn g711_and_g722_conceal_with_silence() {
        for codec in [AudioCodec::Pcmu, AudioCodec::Pcma, AudioCodec::G722] {
            let mut dec = AudioDecoder::new(codec).unwrap();
            assert_eq!(dec.conceal().unwrap(), vec![0; FRAME_SAMPLES]);
            assert_eq!(
                dec.recover_from_next(&[1, 2, 3]).unwrap().len(),
                FRAME_SAMPLES
            );
        }
    }

    #[test]
    fn opus_bitrate_changes_packet_size() {
        let frames = tone(700.0, 8_000.0, 50);
        let mean_size = |bps: u32| {
            let mut enc = AudioEncoder::new(AudioCodec::Opus).unwrap();
            enc.set_bitrate(bps).unwrap();
            frames
                .iter()
                .map(|f| enc.encode(f).unwrap().len())
                .sum::<usize>()
                / frames.len()
        };
        assert!(mean_size(12_000) < mean_size(64_000));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn garbage_payloads_never_panic(
            payload in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            for codec in AudioCodec::ALL {
                let mut dec = AudioDecoder::new(codec).unwrap();
                match dec.decode(&payload) {
                    Ok(samples) => prop_assert!(samples.len() <= OPUS_MAX_FRAME.max(payload.len() * 6)),
                    Err(AudioCodecError::Opus(_)) => prop_assert_eq!(codec, AudioCodec::Opus),
                    Err(e) => prop_assert!(false, "{codec:?}: {e}"),
                }
                // Concealment after garbage still works.
                prop_assert_eq!(dec.conceal().unwrap().len(), FRAME_SAMPLES);
            }
        }
    }
}
