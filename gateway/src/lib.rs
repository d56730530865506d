//! The Tessera gateway: the tenant directory, the lobby engine and the operator CLI (and, with the
//! SIP and media issues, the running server).
//!
//! The binary's `main` only parses arguments and reports errors; everything it does lives here so
//! tests drive it directly.

pub mod calls;
pub mod cli;
pub mod demo;
pub mod directory;
pub mod http;
pub mod invites;
pub mod lobby;
pub mod media;
pub mod metrics;
pub mod server;
