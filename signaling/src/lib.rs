//! Tessera's signalling layer: everything a call says before media flows.
//!
//! Owns the dial plan (what a caller dialled and which meeting it means) and the identifiers it is
//! made of, the SIP message grammar ([`sip`]), RFC 3261 transactions ([`transaction`]) and
//! dialogs ([`dialog`]), one SIP user agent built on them ([`ua`]), digest authentication
//! ([`digest`]), SDP offer/answer ([`sdp`]), meeting-invitation scanning ([`invite`]), per-source
//! limits against floods ([`limits`]) and what the gateway reads from a browser's WebRTC offer
//! ([`browser_offer`]).
//! Sans-IO: nothing here opens a socket, reads the clock or touches the database; time is passed
//! in, and the directory is reached through the [`dial::DialLookup`] trait the gateway implements.

pub mod browser_offer;
pub mod cascade_roster;
pub mod dial;
pub mod dialog;
pub mod digest;
pub mod ice_fragment;
pub mod ids;
pub mod invite;
pub mod limits;
pub mod sdp;
pub mod session_timer;
pub mod sip;
pub mod transaction;
pub mod ua;

pub use dial::{DialError, DialLookup, DialString, LookupError, ResolvedDial, Route};
pub use ids::{ConferenceId, DialPrefix, IdError, TenantKey};
