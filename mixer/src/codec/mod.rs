//! Codec wrappers: H.264 through openh264, and the audio codecs a SIP room system speaks
//! (PCMU, PCMA, G.722, Opus) between RTP payloads and the meeting's 48 kHz mono frames.
//!
//! Owns the codec libraries and their settings. Pure and synchronous like the rest of mixer:
//! no I/O, no clock (timestamps are frame counts), no RTP headers or packetisation (the
//! gateway's media layer does those and calls in here once per frame or payload).
//!
//! - [`h264`]: [`H264Encoder`] (Constrained Baseline, SPS/PPS before every IDR, runtime bit
//!   rate) and [`H264Decoder`], plus Annex B NAL helpers.
//! - [`audio`]: [`AudioEncoder`] / [`AudioDecoder`] for each [`AudioCodec`], packet loss
//!   concealment and Opus FEC recovery.
//! - `g711`, `g722`: the two codecs implemented here (small, integer, table-checked).

pub mod audio;
pub mod g711;
mod g722;
pub mod h264;

pub use audio::{AudioCodec, AudioCodecError, AudioDecoder, AudioEncoder};
pub use h264::{CodecError, EncodedFrame, EncoderConfig, H264Decoder, H264Encoder, H264Profile};
