//! SIP digest authentication of trusted room systems (RFC 3261 §22, RFC 2617 / RFC 7616 with
//! MD5 and SHA-256): challenges in the tenant's realm, nonce bookkeeping, and checking the answer
//! against the HA1 hashes the directory keeps (never a password).
//!
//! Owns nonces and the digest arithmetic only; who gets challenged is the call logic's choice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use sha2::Sha256;

/// How long a nonce stays valid after it was issued.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// The fields of an `Authorization: Digest ...` header the check needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestResponse {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `uri`.
    pub uri: String,
    /// `response`.
    pub response: String,
    /// `algorithm` (MD5 when absent).
    pub algorithm: Option<String>,
    /// `qop`.
    pub qop: Option<String>,
    /// `nc`.
    pub nc: Option<String>,
    /// `cnonce`.
    pub cnonce: Option<String>,
}

impl DigestResponse {
    /// Parses the value of an Authorization header; `None` unless it is a Digest answer with
    /// username, realm, nonce, uri and response.
    pub fn parse(value: &str) -> Option<DigestResponse> {
        let rest = value.trim();
        let (scheme, params) = rest.split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("digest") {
            return None;
        }
        let mut d = DigestResponse::default();
        for (name, value) in split_params(params) {
            let slot = match name.to_ascii_lowercase().as_str() {
                "username" => &mut d.username,
                "realm" => &mut d.realm,
                "nonce" => &mut d.nonce,
                "uri" => &mut d.uri,
                "response" => &mut d.response,
                "algorithm" => {
                    d.algorithm = Some(value);
                    continue;
                }
                "qop" => {
                    d.qop = Some(value);
                    continue;
                }
                "nc" => {
                    d.nc = Some(value);
                    continue;
                }
                "cnonce" => {
                    d.cnonce = Some(value);
                    continue;
                }
                _ => continue,
            };
            *slot = value;
        }
        let complete = [&d.username, &d.realm, &d.nonce, &d.uri, &d.response]
            .iter()
            .all(|f| !f.is_empty());
        complete.then_some(d)
    }

    /// Whether the answer is right for `method` given the stored HA1 (hex) of the matching
    /// algorithm.
    pub fn verify(&self, method: &str, ha1_md5: &str, ha1_sha256: &str) -> bool {
        let sha = self
            .algorithm
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case("SHA-256"));
        let hash = |text: String| -> String {
            if sha {
                hex::encode(Sha256::digest(text.as_bytes()))
            } else {
                hex::encode(Md5::digest(text.as_bytes()))
            }
        };
        let ha1 = if sha { ha1_sha256 } else { ha1_md5 };
        let ha2 = hash(format!("{method}:{}", self.uri));
        let expected = match (&self.qop, &self.nc, &self.cnonce) {
            (Some(qop), Some(nc), Some(cnonce)) if qop.eq_ignore_ascii_case("auth") => {
                hash(format!("{ha1}:{}:{nc}:{cnonce}:{qop}:{ha2}", self.nonce))
            }
            (None, _, _) => hash(format!("{ha1}:{}:{ha2}", self.nonce)),
            _ => return false,
        };
        constant_time_eq(
            expected.as_bytes(),
            self.response.to_ascii_lowercase().as_bytes(),
        )
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Splits `a="x, y", b=z` into pairs, unquoting quoted values.
fn split_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().trim_start_matches(',').trim().to_owned();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut end = quoted.len();
            let mut chars = quoted.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, e)) = chars.next() {
                            v.push(e);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            value = v;
            rest = quoted.get(end..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_owned();
            rest = &rest[end..];
        }
        out.push((name, value));
        rest = rest.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

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

    /// RFC 2617 §3.5's worked example (Mufasa / Circle Of Life).
    #[test]
    fn rfc2617_example_verifies() {
        let header = r#"Digest username="Mufasa", realm="testrealm@host.com",
            nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth,
            nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1",
            opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let d = DigestResponse::parse(header).unwrap();
        assert_eq!(d.username, "Mufasa");
        let ha1 = hex::encode(Md5::digest(b"Mufasa:testrealm@host.com:Circle Of Life"));
        assert!(d.verify("GET", &ha1, ""));
        assert!(!d.verify("POST", &ha1, ""));
        let wrong = hex::encode(Md5::digest(b"Mufasa:testrealm@host.com:wrong"));
        assert!(!d.verify("GET", &wrong, ""));
    }

    #[test]
    fn incomplete_or_basic_credentials_do_not_parse() {
        assert!(DigestResponse::parse("Basic YWxhZGRpbjpvcGVuc2VzYW1l").is_none());
        assert!(DigestResponse::parse("Digest username=\"a\", realm=\"r\"").is_none());
        assert!(DigestResponse::parse("").is_none());
        assert!(DigestResponse::parse("Digest ,,,=,\"").is_none());
    }

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
