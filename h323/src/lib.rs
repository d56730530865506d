//! Sans-IO H.323 for Tessera: TPKT (RFC 1006) framing of the call-signalling TCP stream, Q.931
//! messages with the H.225.0 user-user information element, and the H.225.0 messages in
//! aligned PER (`rasn`).
//!
//! A crate of its own rather than a `signaling` module: the derived ASN.1 types are thousands
//! of lines of `rasn` derive expansion, and keeping them here keeps every `signaling` build (and
//! every crate that depends on it) from paying for them. Like `signaling`, it never reads the
//! clock or touches a socket: the gateway's driver owns the TCP connections and passes bytes in.
//!
//! What the messages were checked against: Wireshark's H.225 and H.245 dissectors (tshark
//! 4.0.17, Debian 12), which are generated from the ITU modules by the Wireshark project, in
//! `tests/tshark.rs` — every message kind the call state machine sends over whole calls, and
//! the test caller's Setup with Fast Start, and every RAS message the registration sends. Not yet checked against a real H.323 stack
//! (H323Plus, OPAL or a room system): in particular the Fast Start answer's channel
//! directions (H.323 section 8.1.7.1) are what our own caller expects, unconfirmed elsewhere.
//!
//! Modules: [`tpkt`] and [`q931`] frame the connection; [`h225`] and [`h245`] are the ASN.1
//! messages; [`media`] is what Tessera offers; [`call`] is the inbound call state machine and
//! [`caller`] the test caller; [`ras`] registers
//! with a gatekeeper (H.225.0 RAS).

pub mod call;
pub mod caller;
pub mod h225;
pub mod h245;
pub mod media;
pub mod q931;
pub mod ras;
pub mod tpkt;

#[cfg(feature = "testing")]
pub mod testing;
