//! SIP digest authentication of trusted room systems (RFC 3261 §22, RFC 2617 / RFC 7616 with
//! MD5 and SHA-256): challenges in the tenant's realm and nonce bookkeeping; the answer is checked
//! against the HA1 hashes the directory keeps (never a password) by `signaling::digest`.
//!
//! Nonces expire ([`NONCE_LIFETIME`]) and cannot be replayed: each nonce remembers the highest
//! `nc` (nonce count, RFC 7616 §3.4) an accepted answer used, and an answer must count higher
//! (an answer without `qop` may use its nonce once). An expired, unknown or replayed nonce is
//! answered with a fresh challenge with `stale=true`. The book is bounded ([`MAX_NONCES`]): a
//! flood of unauthenticated INVITEs evicts the oldest nonces instead of growing memory.
//!
//! Owns nonces and the challenge text only; the digest arithmetic is `signaling::digest`'s, and
//! who gets challenged is the call logic's choice.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The digest arithmetic lives in `signaling::digest`, shared with the SIP user agent that
/// answers challenges; this module keeps what only a verifier needs.
pub use signaling::digest::DigestResponse;

/// How long a nonce stays valid after it was issued.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// Most nonces outstanding at once; issuing another forgets the oldest (its caller, if honest,
/// gets a stale challenge and retries). Far above any real number of callers authenticating
/// within [`NONCE_LIFETIME`].
pub const MAX_NONCES: usize = 20_000;

/// One issued nonce.
#[derive(Debug, Clone, Copy)]
struct Issued {
    at: Instant,
    /// The highest `nc` an accepted answer used (0: none yet).
    last_nc: u64,
}

/// Nonces we issued, when, and how far each was used; expired ones are refused as stale.
#[derive(Debug, Default)]
pub struct NonceBook {
    issued: HashMap<String, Issued>,
    /// Issue order, oldest first (for pruning and eviction).
    order: VecDeque<String>,
}

impl NonceBook {
    /// Records a fresh nonce (the caller makes it random).
    pub fn issue(&mut self, now: Instant, nonce: String) -> String {
        self.prune(now);
        while self.issued.len() >= MAX_NONCES {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.issued.remove(&oldest);
                }
                None => break,
            }
        }
        self.issued.insert(
            nonce.clone(),
            Issued {
                at: now,
                last_nc: 0,
            },
        );
        self.order.push_back(nonce.clone());
        nonce
    }

    /// Whether `answer` may be checked: its nonce is ours, still fresh, and its `nc` counts
    /// beyond every accepted answer's with that nonce. False means: challenge again, stale.
    pub fn is_usable(&self, now: Instant, answer: &DigestResponse) -> bool {
        let Some(issued) = self.issued.get(&answer.nonce) else {
            return false;
        };
        if now.saturating_duration_since(issued.at) >= NONCE_LIFETIME {
            return false;
        }
        match nonce_count(answer) {
            Some(nc) => nc > issued.last_nc,
            None => false,
        }
    }

    /// Records that `answer` verified: its `nc` is spent.
    pub fn accepted(&mut self, answer: &DigestResponse) {
        if let (Some(issued), Some(nc)) = (self.issued.get_mut(&answer.nonce), nonce_count(answer))
        {
            issued.last_nc = issued.last_nc.max(nc);
        }
    }

    fn prune(&mut self, now: Instant) {
        while let Some(oldest) = self.order.front() {
            let expired = self
                .issued
                .get(oldest)
                .is_none_or(|i| now.saturating_duration_since(i.at) >= NONCE_LIFETIME);
            if !expired {
                break;
            }
            if let Some(oldest) = self.order.pop_front() {
                self.issued.remove(&oldest);
            }
        }
    }
}

/// The answer's nonce count: its `nc` (8 hex digits), or 1 for an RFC 2069 answer without
/// `qop` (which may use its nonce once); `None` for an `nc` that does not parse (or is 0).
fn nonce_count(answer: &DigestResponse) -> Option<u64> {
    match (&answer.qop, &answer.nc) {
        (None, _) => Some(1),
        (Some(_), Some(nc)) => u64::from_str_radix(nc, 16).ok().filter(|n| *n > 0),
        (Some(_), None) => None,
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

    fn answer(nonce: &str, nc: &str) -> DigestResponse {
        DigestResponse::parse(&format!(
            "Digest username=\"u\", realm=\"r\", nonce=\"{nonce}\", uri=\"sip:x\", \
             response=\"00\", qop=auth, nc={nc}, cnonce=\"c\""
        ))
        .expect("answer")
    }

    #[test]
    fn nonces_expire() {
        let t0 = Instant::now();
        let mut book = NonceBook::default();
        let n = book.issue(t0, "abc".into());
        assert!(book.is_usable(t0 + Duration::from_secs(10), &answer(&n, "00000001")));
        assert!(!book.is_usable(t0 + NONCE_LIFETIME, &answer(&n, "00000001")));
        assert!(!book.is_usable(t0, &answer("other", "00000001")));
    }

    #[test]
    fn a_spent_nonce_count_cannot_be_replayed() {
        let t0 = Instant::now();
        let mut book = NonceBook::default();
        let n = book.issue(t0, "abc".into());
        let first = answer(&n, "00000001");
        assert!(book.is_usable(t0, &first));
        book.accepted(&first);
        assert!(!book.is_usable(t0, &first), "replay");
        assert!(book.is_usable(t0, &answer(&n, "00000002")), "next request");
        assert!(!book.is_usable(t0, &answer(&n, "00000000")));
        assert!(!book.is_usable(t0, &answer(&n, "zz")));
    }

    #[test]
    fn an_answer_without_qop_uses_its_nonce_once() {
        let t0 = Instant::now();
        let mut book = NonceBook::default();
        let n = book.issue(t0, "abc".into());
        let rfc2069 = DigestResponse::parse(&format!(
            "Digest username=\"u\", realm=\"r\", nonce=\"{n}\", uri=\"sip:x\", response=\"00\""
        ))
        .expect("answer");
        assert!(book.is_usable(t0, &rfc2069));
        book.accepted(&rfc2069);
        assert!(!book.is_usable(t0, &rfc2069));
    }

    #[test]
    fn the_book_stays_bounded_under_a_flood_of_challenges() {
        let t0 = Instant::now();
        let mut book = NonceBook::default();
        for i in 0..MAX_NONCES + 100 {
            book.issue(t0, format!("n{i}"));
        }
        assert_eq!(book.issued.len(), MAX_NONCES);
        assert!(
            !book.is_usable(t0, &answer("n0", "00000001")),
            "oldest evicted"
        );
        let last = format!("n{}", MAX_NONCES + 99);
        assert!(book.is_usable(t0, &answer(&last, "00000001")));
        // Expired ones go first.
        book.issue(t0 + NONCE_LIFETIME, "late".into());
        assert_eq!(book.issued.len(), 1);
    }
}
