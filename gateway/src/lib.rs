//! The Tessera gateway: the running server (`tessera serve`: SIP call control, per-call RTP media
//! and the meeting media engines, the admin API and console, metrics), the tenant directory, the
//! lobby engine, the operator CLI, and browsers over WebRTC.
//!
//! The binary's `main` only parses arguments and reports errors; everything it does lives here so
//! tests drive it directly.

pub mod calls;
pub mod cli;
pub mod cluster;
pub mod demo;
pub mod directory;
pub mod grants;
pub mod http;
pub mod invites;
pub mod lobby;
pub mod media;
pub mod metrics;
pub mod server;
pub mod webrtc;
