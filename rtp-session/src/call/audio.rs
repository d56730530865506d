//! A call's audio both ways: the receive side (reception statistics, jitter buffer, decoder with
//! concealment, 48 kHz 20 ms frames for the engine) and the send side (one RTP stream that
//! carries prompts, hold music and the mix, with its talk-spurt and timestamp rules).
//!
//! Owns no socket and no clock; it must not decide *what* to send (prompt, music or mix): the
//! state machine does.

use std::time::{Duration, Instant};

use mixer::codec::audio::{AudioCodec, AudioDecoder, AudioEncoder};
use tracing::{trace, warn};

use crate::jitter::{JitterBuffer, AUDIO_DELAY};
use crate::rtp::RtpHeader;
use crate::rtp_stats::{ReceiveStats, SendStats};

/// A pause in our outgoing audio longer than this starts a new talk spurt (marker bit,
/// timestamp re-derived from the clock); shorter ones are read as scheduling jitter.
const TALK_SPURT_GAP: Duration = Duration::from_millis(200);
/// Lost audio packets concealed at most in a row; a longer gap is left silent.
const MAX_CONCEALED_FRAMES: u64 = 5;
/// Audio packets the jitter buffer holds at most (a second of 20 ms packets).
const AUDIO_JITTER_CAPACITY: usize = 50;
/// 48 kHz samples per 20 ms frame, what the engine takes.
pub const ENGINE_FRAME: usize = 960;

/// One received audio packet waiting in the jitter buffer.
#[derive(Debug)]
pub(super) struct AudioPacket {
    pub(super) payload: Vec<u8>,
}

/// The receive side of the call's audio.
#[derive(Debug)]
pub(super) struct AudioIn {
    codec: AudioCodec,
    pub(super) stats: ReceiveStats,
    pub(super) jitter: JitterBuffer<AudioPacket>,
    /// Created on the first packet decoded while joined.
    decoder: Option<AudioDecoder>,
    /// Decoded 48 kHz samples not yet sent (packets need not be 20 ms).
    pcm: Vec<i16>,
}

impl AudioIn {
    pub(super) fn new(codec: AudioCodec) -> Self {
        AudioIn {
            codec,
            stats: ReceiveStats::new(codec.rtp_clock_rate()),
            jitter: JitterBuffer::new(AUDIO_DELAY, AUDIO_JITTER_CAPACITY),
            decoder: None,
            pcm: Vec::new(),
        }
    }

    /// Decodes what the jitter buffer releases at `now` (concealing gaps) and returns the
    /// whole 20 ms frames ready, and the packets lost.
    pub(super) fn drain(&mut self, now: Instant) -> (Vec<Vec<i16>>, u64) {
        let mut lost = 0;
        while let Some(released) = self.jitter.pop(now) {
            lost += released.lost_before;
            let decoder = match &mut self.decoder {
                Some(d) => d,
                None => match AudioDecoder::new(self.codec) {
                    Ok(d) => self.decoder.insert(d),
                    Err(e) => {
                        warn!(codec = ?self.codec, error = %e, "audio decoder unavailable");
                        return (Vec::new(), lost);
                    }
                },
            };
            let payload = &released.item.payload;
            let concealed = released.lost_before.min(MAX_CONCEALED_FRAMES);
            for i in 0..concealed {
                // The packet right before this one can come back from its FEC (Opus).
                let frame = if i + 1 == concealed {
                    decoder.recover_from_next(payload)
                } else {
                    decoder.conceal()
                };
                if let Ok(samples) = frame {
                    self.pcm.extend_from_slice(&samples);
                }
            }
            match decoder.decode(payload) {
                Ok(samples) => self.pcm.extend_from_slice(&samples),
                Err(e) => {
                    trace!(error = %e, "audio decode failed; concealed");
                    if let Ok(samples) = decoder.conceal() {
                        self.pcm.extend_from_slice(&samples);
                    }
                }
            }
        }
        let whole = self.pcm.len() / ENGINE_FRAME * ENGINE_FRAME;
        let frames = self.pcm[..whole]
            .chunks_exact(ENGINE_FRAME)
            .map(<[i16]>::to_vec)
            .collect();
        self.pcm.drain(..whole);
        (frames, lost)
    }

    /// Forgets buffered audio (on leaving: the next join starts fresh).
    pub(super) fn reset(&mut self) {
        self.jitter = JitterBuffer::new(AUDIO_DELAY, AUDIO_JITTER_CAPACITY);
        self.pcm.clear();
    }
}

/// The send side of the call's audio: one RTP stream carrying prompts and the mix.
#[derive(Debug)]
pub(super) struct AudioOut {
    pub(super) ssrc: u32,
    payload_type: u8,
    pub(super) codec: AudioCodec,
    next_sequence: u16,
    /// The clock the timestamps follow across silences: an instant and its RTP timestamp.
    origin: (Instant, u32),
    /// The last packet's timestamp and when it went.
    last: Option<(u32, Instant)>,
    encoder: Option<AudioEncoder>,
    pub(super) stats: SendStats,
}

impl AudioOut {
    pub(super) fn new(
        now: Instant,
        ssrc: u32,
        payload_type: u8,
        codec: AudioCodec,
        first_sequence: u16,
        first_timestamp: u32,
    ) -> Self {
        AudioOut {
            ssrc,
            payload_type,
            codec,
            next_sequence: first_sequence,
            origin: (now, first_timestamp),
            last: None,
            encoder: None,
            stats: SendStats::default(),
        }
    }

    /// Encodes one 20 ms 48 kHz frame in the negotiated codec. One encoder serves prompts,
    /// music and mix, so codec state (G.722's ADPCM predictors, Opus's) stays continuous.
    pub(super) fn encode(&mut self, pcm: &[i16]) -> Option<Vec<u8>> {
        let encoder = match &mut self.encoder {
            Some(e) => e,
            None => match AudioEncoder::new(self.codec) {
                Ok(e) => self.encoder.insert(e),
                Err(e) => {
                    warn!(error = %e, "audio encoder unavailable");
                    return None;
                }
            },
        };
        match encoder.encode(pcm) {
            Ok(payload) => Some(payload),
            Err(e) => {
                trace!(error = %e, "audio frame not encoded");
                None
            }
        }
    }

    /// The header of the next packet sent at `now`. `continues` says the caller knows it
    /// continues a talk spurt (a prompt's next packet); otherwise a pause longer than
    /// [`TALK_SPURT_GAP`] starts a new one, with the marker bit and a timestamp from the clock.
    pub(super) fn next_header(&mut self, now: Instant, continues: bool) -> RtpHeader {
        let ticks = self.codec.rtp_ticks_per_frame();
        let continuous = self
            .last
            .is_some_and(|(_, at)| continues || now.saturating_duration_since(at) < TALK_SPURT_GAP);
        let elapsed = now.saturating_duration_since(self.origin.0).as_secs_f64();
        let clock = self
            .origin
            .1
            .wrapping_add((elapsed * f64::from(self.codec.rtp_clock_rate())) as u32);
        let timestamp = match self.last {
            Some((last, _)) => {
                let next = last.wrapping_add(ticks);
                // Never step back, even if the mix ran ahead of the clock.
                if continuous || (clock.wrapping_sub(next) as i32) < 0 {
                    next
                } else {
                    clock
                }
            }
            None => clock,
        };
        let header = RtpHeader {
            marker: !continuous,
            payload_type: self.payload_type,
            sequence: self.next_sequence,
            timestamp,
            ssrc: self.ssrc,
        };
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.last = Some((timestamp, now));
        header
    }
}
