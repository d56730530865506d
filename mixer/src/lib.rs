//! Tessera's media math: pure, synchronous, no I/O and no clock.
//!
//! - [`frame`]: I420 frames and plane views.
//! - [`scale`]: bilinear / box scaling, scalar reference and x86_64 SIMD (the only `unsafe`).
//! - [`font`]: text in any script rasterised from GNU Unifont, for labels, initials and slates
//!   (drawn by the private `draw`).
//! - [`compose`]: draws a layout's tiles, borders, labels and cards into one canvas, redrawing
//!   only what changed.
//! - [`layout`]: tile geometry and who fills which tile for a viewer.
//! - [`slate`]: the still pictures with large text shown to callers waiting (entry queue, lobby).
//! - [`hold`]: generated hold music for callers waiting in a lobby.
//! - [`speakers`]: voice-activity detection and the active-speaker ranking.
//! - [`audio`]: the N-1 audio mix, soft clipping and resampling to 48 kHz.
//! - [`simulcast`]: which simulcast layer and temporal layers to decode for a tile, and the
//!   keyframe-gated switch between layers.
//! - [`codec`]: H.264 (openh264) and PCMU/PCMA/G.722/Opus wrappers between frames and RTP
//!   payloads; the gateway packetises and wires them.

pub mod audio;
pub mod codec;
pub mod compose;
mod draw;
pub mod font;
pub mod frame;
pub mod hold;
pub mod layout;
pub mod scale;
pub mod simulcast;
pub mod slate;
pub mod speakers;

pub use audio::{AudioError, MixInput, NMinusOneMixer, Resampler};
pub use compose::{
    ComposeError, ComposeStats, Compositor, CompositorConfig, Threading, TileContent, VideoSource,
};
pub use frame::{FrameError, I420Frame, PlaneKind, Yuv};
pub use layout::{
    LayoutError, LayoutKind, LayoutMode, ParticipantId, Rect, TileAssigner, TileGrid,
};
pub use scale::{Backend, ScaleError, TileScaler};
pub use speakers::{Activity, SpeakerRanking, VoiceActivityDetector};
