//! SIP digest authentication of trusted room systems (RFC 3261 §22, RFC 2617 / RFC 7616 with
//! MD5 and SHA-256): challenges in the tenant's realm and nonce bookkeeping; the answer is checked
//! against the HA1 hashes the directory keeps (never a password) by `signaling::digest`.
//!
//! Owns nonces and the challenge text only; the digest arithmetic is `signaling::digest`'s, and
//! who gets challenged is the call logic's choice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The digest arithmetic lives in `signaling::digest`, shared with the SIP user agent that
/// answers challenges; this module keeps what only a verifier needs.
pub use signaling::digest::DigestResponse;

/// How long a nonce stays valid after it was issued.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// Nonces we issued and when; expired ones are refused as stale.
#[derive(Debug, Default)]
pub struct NonceBook {
    issued: HashMap<String, Instant>,
}

impl NonceBook {
    /// Records a fresh nonce (the caller makes it random).
    pub fn issue(&mut self, now: Instant, nonce: String) -> String {
        self.prune(now);
        self.issued.insert(nonce.clone(), now);
        nonce
    }

    /// Whether `nonce` is ours and still fresh.
    pub fn is_fresh(&self, now: Instant, nonce: &str) -> bool {
        self.issued
            .get(nonce)
            .is_some_and(|at| now.saturating_duration_since(*at) < NONCE_LIFETIME)
    }

    fn prune(&mut self, now: Instant) {
        self.issued
            .retain(|_, at| now.saturating_duration_since(*at) < NONCE_LIFETIME);
    }
}

/// The `WWW-Authenticate` value of a challenge.
pub fn challenge(realm: &str, nonce: &str, stale: bool) -> String {
    let stale = if stale { ", stale=true" } else { "" };
    format!("Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"{stale}")
}

#[cfg(test)]
mod tests {
    // One arbitrary origin; after it, time moves only by what each test adds.
    #![allow(clippy::disallowed_methods)]

    use super::*;

    #[test]
    fn nonces_expire() {
        let t0 = Instant::now();
        let mut book = NonceBook::default();
        let n = book.issue(t0, "abc".into());
        assert!(book.is_fresh(t0 + Duration::from_secs(10), &n));
        assert!(!book.is_fresh(t0 + NONCE_LIFETIME, &n));
        assert!(!book.is_fresh(t0, "other"));
    }
}
