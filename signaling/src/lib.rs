//! Tessera's signalling layer: everything a call says before media flows.
//!
//! Owns the dial plan (what a caller dialled and which meeting it means) and the identifiers it is
//! made of. Sans-IO: nothing here opens a socket, reads the clock or touches the database; the
//! directory is reached through the [`dial::DialLookup`] trait the gateway implements.

pub mod dial;
pub mod dialog;
pub mod ids;
pub mod invite;
pub mod sdp;
pub mod session_timer;
pub mod sip;
pub mod transaction;

pub use dial::{DialError, DialLookup, DialString, LookupError, ResolvedDial, Route};
pub use ids::{ConferenceId, DialPrefix, IdError, TenantKey};
