//! The recorded entry-queue prompts and the player that turns them into 20 ms frames: 48 kHz
//! PCM for the media task's audio encoder (any negotiated codec), or ready-made RTP packets.
//!
//! The prompts are 8 kHz mono 16-bit WAV files under `rtp-session/assets/prompts/` (generated with
//! espeak-ng by `generate.sh` there), embedded in the binary and decoded once on first use.
//!
//! [`PromptPlayer`] is sans-IO: the media task calls [`PromptPlayer::next_frame`] once per 20 ms
//! tick and encodes and sends what it returns ([`PromptPlayer::next_packet`] packetises itself).

use std::sync::OnceLock;

use mixer::audio::FRAME_SAMPLES;
use mixer::codec::audio::{AudioCodec, AudioEncoder};
use mixer::Resampler;

use crate::api::{Prompt, PromptCodec};

use crate::rtp::{self, RtpHeader};
use crate::wav::{self, WavError};
use mixer::codec::g711;

/// Samples in one 20 ms packet at 8 kHz (also the RTP timestamp step per packet).
pub const SAMPLES_PER_PACKET: usize = 160;

/// One 20 ms frame of a prompt, resampled to the mixer's 48 kHz.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptFrame {
    /// [`FRAME_SAMPLES`] samples at 48 kHz mono.
    pub pcm: Vec<i16>,
    /// The frame continues a talk spurt (the previous tick sent one too): no marker bit.
    pub continues: bool,
}

/// The mixer codec behind a negotiated prompt codec.
#[must_use]
pub fn mixer_codec(codec: PromptCodec) -> AudioCodec {
    match codec {
        PromptCodec::Pcmu => AudioCodec::Pcmu,
        PromptCodec::Pcma => AudioCodec::Pcma,
        PromptCodec::G722 => AudioCodec::G722,
        PromptCodec::Opus => AudioCodec::Opus,
    }
}

/// Every prompt, in a fixed order (the index into the decoded-audio cache).
const ALL_PROMPTS: [Prompt; 4] = [
    Prompt::EnterConferenceId,
    Prompt::InvalidConferenceId,
    Prompt::Lobby,
    Prompt::Goodbye,
];

fn index(prompt: Prompt) -> usize {
    match prompt {
        Prompt::EnterConferenceId => 0,
        Prompt::InvalidConferenceId => 1,
        Prompt::Lobby => 2,
        Prompt::Goodbye => 3,
    }
}

/// The embedded WAV file of a prompt.
#[must_use]
pub fn prompt_wav(prompt: Prompt) -> &'static [u8] {
    match prompt {
        Prompt::EnterConferenceId => {
            include_bytes!("../assets/prompts/enter_conference_id.wav")
        }
        Prompt::InvalidConferenceId => {
            include_bytes!("../assets/prompts/invalid_conference_id.wav")
        }
        Prompt::Lobby => include_bytes!("../assets/prompts/lobby.wav"),
        Prompt::Goodbye => include_bytes!("../assets/prompts/goodbye.wav"),
    }
}

/// The words of a prompt, as spoken in its recording.
#[must_use]
pub fn prompt_text(prompt: Prompt) -> &'static str {
    match prompt {
        Prompt::EnterConferenceId => {
            "Welcome. Please enter the conference ID, followed by the pound key."
        }
        Prompt::InvalidConferenceId => "That conference ID was not found. Please try again.",
        Prompt::Lobby => "Please wait. Someone in the meeting will let you in shortly.",
        Prompt::Goodbye => "Goodbye.",
    }
}

/// The decoded 8 kHz samples of a prompt (decoded once, then shared).
///
/// # Errors
/// [`WavError`] if the embedded file is not 8 kHz mono 16-bit PCM (the tests guard against it).
pub fn prompt_audio(prompt: Prompt) -> Result<&'static [i16], WavError> {
    static CACHE: [OnceLock<Result<Vec<i16>, WavError>>; ALL_PROMPTS.len()] =
        [const { OnceLock::new() }; ALL_PROMPTS.len()];
    CACHE[index(prompt)]
        .get_or_init(|| wav::parse_wav(prompt_wav(prompt)))
        .as_ref()
        .map(Vec::as_slice)
        .map_err(Clone::clone)
}

/// Plays prompts: one 20 ms frame per call to [`next_frame`](Self::next_frame) (48 kHz PCM for
/// an encoder shared with the mix), or one RTP packet in the player's codec per call to
/// [`next_packet`](Self::next_packet).
///
/// Call either every 20 ms whether or not a prompt plays: while idle it sends nothing but
/// still advances the RTP timestamp (by the codec's RTP ticks per 20 ms), so timestamps follow
/// the sampling clock across silences.
/// Sequence numbers grow by one per packet sent. The first packet after a silence (including the
/// very first) carries the marker bit; a prompt replacing one still playing continues the talk
/// spurt without it.
#[derive(Debug)]
pub struct PromptPlayer {
    ssrc: u32,
    next_sequence: u16,
    next_timestamp: u32,
    payload_type: u8,
    codec: PromptCodec,
    /// The prompt audio and the position of the next packet's first sample.
    playing: Option<(&'static [i16], usize)>,
    /// Whether the previous tick sent a packet (no marker needed on the next one).
    in_talk_spurt: bool,
    /// 8 kHz prompt audio to the mixer's 48 kHz (state carried across a talk spurt).
    upsampler: Option<Resampler>,
    /// The encoder `next_packet` uses for G.722 and Opus (created on first use).
    encoder: Option<AudioEncoder>,
}

impl PromptPlayer {
    /// A silent player whose first packet will carry these sequence number and timestamp.
    #[must_use]
    pub fn new(
        ssrc: u32,
        initial_seq: u16,
        initial_timestamp: u32,
        payload_type: u8,
        codec: PromptCodec,
    ) -> Self {
        Self {
            ssrc,
            next_sequence: initial_seq,
            next_timestamp: initial_timestamp,
            payload_type,
            codec,
            playing: None,
            in_talk_spurt: false,
            upsampler: None,
            encoder: None,
        }
    }

    /// Starts `prompt` from its beginning, replacing whatever is playing.
    ///
    /// # Errors
    /// [`WavError`] if the prompt's embedded audio is unusable; the player is then silent.
    pub fn play(&mut self, prompt: Prompt) -> Result<(), WavError> {
        self.playing = None;
        let audio = prompt_audio(prompt)?;
        if !audio.is_empty() {
            self.playing = Some((audio, 0));
        }
        Ok(())
    }

    /// Stops playing (the next tick is silent).
    pub fn stop(&mut self) {
        self.playing = None;
    }

    /// Whether a prompt is playing (the next call to `next_packet` returns a packet).
    #[must_use]
    pub fn is_playing(&self) -> bool {
        self.playing.is_some()
    }

    /// The SSRC packets are sent with.
    #[must_use]
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Advances one 20 ms tick: the next 160 samples (8 kHz) of the prompt, padded with silence,
    /// and whether they continue a talk spurt; `None` when silent.
    fn next_chunk(&mut self) -> Option<([i16; SAMPLES_PER_PACKET], bool)> {
        let Some((audio, position)) = self.playing else {
            self.in_talk_spurt = false;
            self.upsampler = None;
            return None;
        };
        let end = audio.len().min(position + SAMPLES_PER_PACKET);
        let mut frame = [0i16; SAMPLES_PER_PACKET];
        let chunk = audio.get(position..end).unwrap_or_default();
        frame[..chunk.len()].copy_from_slice(chunk);
        let continues = self.in_talk_spurt;
        self.in_talk_spurt = true;
        self.playing = (end < audio.len()).then_some((audio, end));
        Some((frame, continues))
    }

    /// Resamples one 8 kHz chunk to a 48 kHz frame.
    fn upsample(&mut self, chunk: &[i16]) -> Vec<i16> {
        let mut pcm = Vec::with_capacity(FRAME_SAMPLES);
        let upsampler = match &mut self.upsampler {
            Some(r) => r,
            None => match Resampler::new(wav::SAMPLE_RATE, mixer::audio::SAMPLE_RATE) {
                Ok(r) => self.upsampler.insert(r),
                Err(_) => return vec![0; FRAME_SAMPLES],
            },
        };
        if upsampler.process(chunk, &mut pcm).is_err() {
            pcm.clear();
        }
        pcm.resize(FRAME_SAMPLES, 0);
        pcm
    }

    /// Advances one 20 ms tick: the next frame of the prompt at 48 kHz (the last one padded with
    /// silence), or `None` when silent. The caller encodes it and owns the RTP header (the
    /// player's own sequence numbers and timestamps are left alone).
    #[must_use]
    pub fn next_frame(&mut self) -> Option<PromptFrame> {
        let (chunk, continues) = self.next_chunk()?;
        let pcm = self.upsample(&chunk);
        Some(PromptFrame { pcm, continues })
    }

    /// Advances one 20 ms tick: the next RTP packet of the prompt, or `None` when silent. The
    /// last packet of a prompt is padded with silence to the full 20 ms. G.711 is encoded
    /// straight from the 8 kHz recording; G.722 and Opus through the mixer's encoder at 48 kHz.
    #[must_use]
    pub fn next_packet(&mut self) -> Option<Vec<u8>> {
        let timestamp = self.next_timestamp;
        self.next_timestamp = self
            .next_timestamp
            .wrapping_add(mixer_codec(self.codec).rtp_ticks_per_frame());
        let (frame, continues) = self.next_chunk()?;

        let mut payload = Vec::with_capacity(SAMPLES_PER_PACKET);
        match self.codec {
            PromptCodec::Pcmu => g711::encode_ulaw(&frame, &mut payload),
            PromptCodec::Pcma => g711::encode_alaw(&frame, &mut payload),
            PromptCodec::G722 | PromptCodec::Opus => {
                let pcm = self.upsample(&frame);
                let encoder = match &mut self.encoder {
                    Some(e) => e,
                    None => self
                        .encoder
                        .insert(AudioEncoder::new(mixer_codec(self.codec)).ok()?),
                };
                payload = encoder.encode(&pcm).ok()?;
            }
        }
        let header = RtpHeader {
            marker: !continues,
            payload_type: self.payload_type,
            sequence: self.next_sequence,
            timestamp,
            ssrc: self.ssrc,
        };
        self.next_sequence = self.next_sequence.wrapping_add(1);
        Some(rtp::write(&header, &payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(codec: PromptCodec, payload: &[u8]) -> Vec<i16> {
        match codec {
            PromptCodec::Pcmu => g711::decode_ulaw(payload),
            PromptCodec::Pcma => g711::decode_alaw(payload),
            PromptCodec::G722 | PromptCodec::Opus => unreachable!("G.711 only"),
        }
    }

    fn drain(player: &mut PromptPlayer) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| player.next_packet()).collect()
    }

    #[test]
    fn every_embedded_prompt_is_short_telephone_format_speech() {
        for prompt in ALL_PROMPTS {
            assert!(prompt_wav(prompt).len() < 100 * 1024, "{prompt:?} too big");
            let audio = prompt_audio(prompt).expect("8 kHz mono 16-bit");
            let seconds = audio.len() as f64 / f64::from(wav::SAMPLE_RATE);
            assert!((0.3..10.0).contains(&seconds), "{prompt:?}: {seconds} s");
            let peak = audio.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
            assert!(peak > 8000, "{prompt:?} is (nearly) silent");
            assert!(!prompt_text(prompt).is_empty());
        }
    }

    #[test]
    fn generate_script_speaks_the_documented_texts() {
        let script = include_str!("../assets/prompts/generate.sh");
        for prompt in ALL_PROMPTS {
            assert!(script.contains(prompt_text(prompt)), "{prompt:?}");
        }
    }

    #[test]
    fn a_prompt_is_ceil_samples_over_160_packets() {
        for prompt in ALL_PROMPTS {
            let samples = prompt_audio(prompt).expect("valid").len();
            let mut player = PromptPlayer::new(1, 0, 0, 0, PromptCodec::Pcmu);
            player.play(prompt).expect("valid");
            assert_eq!(
                drain(&mut player).len(),
                samples.div_ceil(SAMPLES_PER_PACKET)
            );
            assert!(!player.is_playing());
        }
    }

    #[test]
    fn headers_carry_ssrc_pt_and_continuous_sequence_and_timestamps() {
        let mut player =
            PromptPlayer::new(0xCAFE_F00D, 65534, u32::MAX - 200, 8, PromptCodec::Pcma);
        assert!(!player.is_playing());
        player.play(Prompt::Goodbye).expect("valid");
        assert!(player.is_playing());
        let packets = drain(&mut player);
        for (i, bytes) in packets.iter().enumerate() {
            let p = rtp::parse(bytes).expect("well-formed RTP");
            let n = u16::try_from(i).expect("few packets");
            assert_eq!(p.header.ssrc, 0xCAFE_F00D);
            assert_eq!(p.header.payload_type, 8);
            assert_eq!(p.header.sequence, 65534u16.wrapping_add(n));
            assert_eq!(
                p.header.timestamp,
                (u32::MAX - 200).wrapping_add(160 * u32::from(n))
            );
            assert_eq!(p.header.marker, i == 0, "marker only on the first packet");
            assert_eq!(p.payload.len(), SAMPLES_PER_PACKET);
        }
    }

    #[test]
    fn silence_advances_timestamps_but_not_sequence_and_remarks_the_next_spurt() {
        let mut player = PromptPlayer::new(7, 100, 1000, 0, PromptCodec::Pcmu);
        player.play(Prompt::Goodbye).expect("valid");
        let first = drain(&mut player); // the drain's final `None` is one silent tick
        let last = rtp::parse(first.last().expect("packets"))
            .expect("valid")
            .header;
        assert_eq!(player.next_packet(), None); // a second silent tick
        player.play(Prompt::Lobby).expect("valid");
        let next = player.next_packet().expect("playing");
        let next = rtp::parse(&next).expect("valid").header;
        assert_eq!(next.sequence, last.sequence.wrapping_add(1));
        assert_eq!(next.timestamp, last.timestamp.wrapping_add(3 * 160));
        assert!(next.marker);
    }

    #[test]
    fn replacing_a_playing_prompt_continues_the_talk_spurt() {
        let mut player = PromptPlayer::new(7, 0, 0, 0, PromptCodec::Pcmu);
        player.play(Prompt::EnterConferenceId).expect("valid");
        let a = rtp::parse(&player.next_packet().expect("playing"))
            .expect("valid")
            .header;
        player.play(Prompt::Goodbye).expect("valid");
        let b_bytes = player.next_packet().expect("playing");
        let b = rtp::parse(&b_bytes).expect("valid");
        assert_eq!(b.header.sequence, a.sequence + 1);
        assert_eq!(b.header.timestamp, a.timestamp + 160);
        assert!(!b.header.marker);
        // And it really restarted: the payload is Goodbye's first 20 ms.
        let goodbye = prompt_audio(Prompt::Goodbye).expect("valid");
        let mut expected = Vec::new();
        g711::encode_ulaw(&goodbye[..160], &mut expected);
        assert_eq!(b.payload, &expected[..]);
    }

    #[test]
    fn decoded_payload_is_the_prompt_within_g711_error() {
        for codec in [PromptCodec::Pcmu, PromptCodec::Pcma] {
            let audio = prompt_audio(Prompt::EnterConferenceId).expect("valid");
            let mut player = PromptPlayer::new(1, 0, 0, 0, codec);
            player.play(Prompt::EnterConferenceId).expect("valid");
            let decoded: Vec<i16> = drain(&mut player)
                .iter()
                .flat_map(|b| decode(codec, rtp::parse(b).expect("valid").payload))
                .collect();
            assert_eq!(decoded.len(), audio.len().div_ceil(160) * 160);
            for (i, (got, want)) in decoded.iter().zip(audio).enumerate() {
                let err = (i32::from(*got) - i32::from(*want)).abs();
                let bound = i32::from(*want).abs() / 16 + 16;
                assert!(err <= bound, "{codec:?} sample {i}: {got} vs {want}");
            }
            // The padding after the prompt is silence.
            for got in &decoded[audio.len()..] {
                assert!(got.abs() <= 8);
            }
        }
    }

    #[test]
    fn frames_are_the_prompt_at_48_khz_with_talk_spurt_flags() {
        let audio = prompt_audio(Prompt::Goodbye).expect("valid");
        let mut player = PromptPlayer::new(1, 0, 0, 0, PromptCodec::Opus);
        player.play(Prompt::Goodbye).expect("valid");
        let frames: Vec<PromptFrame> = std::iter::from_fn(|| player.next_frame()).collect();
        assert_eq!(frames.len(), audio.len().div_ceil(SAMPLES_PER_PACKET));
        for (i, frame) in frames.iter().enumerate() {
            assert_eq!(frame.pcm.len(), FRAME_SAMPLES);
            assert_eq!(frame.continues, i > 0);
        }
        // Every sixth 48 kHz sample is the 8 kHz sample (linear interpolation, one sample late).
        let pcm: Vec<i16> = frames.iter().flat_map(|f| f.pcm.iter().copied()).collect();
        for (i, want) in audio.iter().enumerate() {
            assert_eq!(pcm[i * 6 + 5], *want, "sample {i}");
        }
    }

    #[test]
    fn opus_and_g722_packets_use_the_codec_clock_and_decode() {
        use mixer::codec::audio::AudioDecoder;
        for (codec, ticks) in [(PromptCodec::Opus, 960), (PromptCodec::G722, 160)] {
            let mut player = PromptPlayer::new(9, 10, 1000, 111, codec);
            player.play(Prompt::Goodbye).expect("valid");
            let packets = drain(&mut player);
            let mut decoder = AudioDecoder::new(mixer_codec(codec)).expect("decoder");
            for (i, bytes) in packets.iter().enumerate() {
                let p = rtp::parse(bytes).expect("valid");
                let n = u32::try_from(i).expect("few packets");
                assert_eq!(p.header.payload_type, 111);
                assert_eq!(p.header.timestamp, 1000 + ticks * n);
                assert_eq!(p.header.marker, i == 0);
                let pcm = decoder.decode(p.payload).expect("decodes");
                assert_eq!(pcm.len(), FRAME_SAMPLES, "{codec:?}");
            }
        }
    }

    #[test]
    fn stop_silences_the_player() {
        let mut player = PromptPlayer::new(1, 0, 0, 0, PromptCodec::Pcmu);
        player.play(Prompt::Lobby).expect("valid");
        assert!(player.next_packet().is_some());
        player.stop();
        assert!(!player.is_playing());
        assert_eq!(player.next_packet(), None);
    }
}
