//! Sans-IO H.323 for Tessera: TPKT (RFC 1006) framing of the call-signalling TCP stream, Q.931
//! messages with the H.225.0 user-user information element, and the H.225.0 messages in
//! aligned PER (`rasn`).
//!
//! A crate of its own rather than a `signaling` module: the derived ASN.1 types are thousands
//! of lines of `rasn` derive expansion, and keeping them here keeps every `signaling` build (and
//! every crate that depends on it) from paying for them. Like `signaling`, it never reads the
//! clock or touches a socket: the gateway's driver owns the TCP connections and passes bytes in.

pub mod call;
pub mod caller;
pub mod h225;
pub mod h245;
pub mod media;
pub mod q931;
pub mod tpkt;
