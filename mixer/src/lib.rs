//! Tessera's media math: pure, synchronous, no I/O and no clock.
//!
//! Today it owns the layout geometry (which rectangle of the VTC's picture each speaker fills);
//! compositing, scaling, audio mixing and codec wrappers join it with the media issue.

pub mod layout;

pub use layout::{LayoutError, LayoutKind, Rect, TileGrid};
