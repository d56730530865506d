//! SIP digest authentication arithmetic (RFC 3261 §22.4, RFC 2617, RFC 7616 with MD5 and
//! SHA-256, `qop=auth`): parsing a challenge (`WWW-Authenticate` / `Proxy-Authenticate`) and an
//! answer (`Authorization` / `Proxy-Authorization`), computing the answer a client sends, and
//! checking one against a stored HA1.
//!
//! The one implementation both sides use: the gateway verifies callers with it
//! (`gateway::calls::auth`, which keeps its nonces), the directory stores [`ha1`] of each
//! password, and [`crate::ua`] answers challenges with it. It owns no nonce book, no clock and no
//! randomness: the caller gives the `cnonce` and counts `nc`.

use std::fmt;

use md5::{Digest, Md5};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The header is not a `Digest` challenge with a realm and a nonce.
    #[error("not a Digest challenge with realm and nonce")]
    NotDigest,
    /// The challenge names an algorithm other than MD5 or SHA-256.
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The challenge offers `qop` values, none of which is `auth`.
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
}

/// A digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// MD5 (the default when a challenge names none).
    Md5,
    /// SHA-256 (RFC 7616, RFC 8760).
    Sha256,
}

impl Algorithm {
    /// Parses an `algorithm` value (case-insensitive); `None` for anything else, including the
    /// `-sess` variants.
    pub fn parse(text: &str) -> Option<Algorithm> {
        if text.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if text.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// The name used in headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// The lower-case hex hash of `text`.
    pub fn hash_hex(self, text: &str) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(text.as_bytes())),
            Algorithm::Sha256 => hex::encode(Sha256::digest(text.as_bytes())),
        }
    }
}

/// `HA1 = H(username:realm:password)`, what the directory stores instead of a password.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash_hex(&format!("{username}:{realm}:{password}"))
}

/// The `response` value: `H(HA1:nonce:nc:cnonce:qop:HA2)` with `qop=auth`, or the RFC 2069
/// `H(HA1:nonce:HA2)` without qop; `HA2 = H(method:uri)`.
fn response_value(
    algorithm: Algorithm,
    ha1: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(&str, &str)>,
) -> String {
    let ha2 = algorithm.hash_hex(&format!("{method}:{uri}"));
    match qop {
        Some((nc, cnonce)) => {
            algorithm.hash_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
        }
        None => algorithm.hash_hex(&format!("{ha1}:{nonce}:{ha2}")),
    }
}

/// A `Digest` challenge, as a 401 or 407 carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `opaque`, echoed back unchanged.
    pub opaque: Option<String>,
    /// `algorithm` (MD5 when absent).
    pub algorithm: Algorithm,
    /// Whether `qop=auth` was offered (otherwise the RFC 2069 form is answered).
    pub qop_auth: bool,
    /// `stale=true`: the nonce expired but the previous credentials were right.
    pub stale: bool,
}

impl Challenge {
    /// Parses a `WWW-Authenticate` / `Proxy-Authenticate` value.
    pub fn parse(value: &str) -> Result<Challenge, DigestError> {
        let params = digest_params(value).ok_or(DigestError::NotDigest)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let (Some(realm), Some(nonce)) = (get("realm"), get("nonce")) else {
            return Err(DigestError::NotDigest);
        };
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(a) => Algorithm::parse(&a).ok_or(DigestError::UnsupportedAlgorithm(a))?,
        };
        let qop_auth = match get("qop") {
            None => false,
            Some(q) if q.split(',').any(|o| o.trim().eq_ignore_ascii_case("auth")) => true,
            Some(q) => return Err(DigestError::UnsupportedQop(q)),
        };
        Ok(Challenge {
            realm,
            nonce,
            opaque: get("opaque"),
            algorithm,
            qop_auth,
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The answer of `username`/`password` for a `method` request to `uri`. `nc` counts the
    /// requests answered with this nonce (1 for the first); `cnonce` is the client's random value.
    pub fn answer(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        nc: u32,
        cnonce: &str,
    ) -> DigestResponse {
        let ha1 = ha1(self.algorithm, username, &self.realm, password);
        let nc = format!("{nc:08x}");
        let qop = self.qop_auth.then_some((nc.as_str(), cnonce));
        let response = response_value(self.algorithm, &ha1, method, uri, &self.nonce, qop);
        DigestResponse {
            username: username.to_owned(),
            realm: self.realm.clone(),
            nonce: self.nonce.clone(),
            uri: uri.to_owned(),
            response,
            algorithm: Some(self.algorithm.as_str().to_owned()),
            qop: self.qop_auth.then(|| "auth".to_owned()),
            nc: self.qop_auth.then_some(nc.clone()),
            cnonce: self.qop_auth.then(|| cnonce.to_owned()),
            opaque: self.opaque.clone(),
        }
    }
}

/// The fields of an `Authorization: Digest ...` header.
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
    /// `opaque`.
    pub opaque: Option<String>,
}

impl DigestResponse {
    /// Parses the value of an Authorization header; `None` unless it is a Digest answer with
    /// username, realm, nonce, uri and response.
    pub fn parse(value: &str) -> Option<DigestResponse> {
        let mut d = DigestResponse::default();
        for (name, value) in digest_params(value)? {
            match name.to_ascii_lowercase().as_str() {
                "username" => d.username = value,
                "realm" => d.realm = value,
                "nonce" => d.nonce = value,
                "uri" => d.uri = value,
                "response" => d.response = value,
                "algorithm" => d.algorithm = Some(value),
                "qop" => d.qop = Some(value),
                "nc" => d.nc = Some(value),
                "cnonce" => d.cnonce = Some(value),
                "opaque" => d.opaque = Some(value),
                _ => {}
            }
        }
        let complete = [&d.username, &d.realm, &d.nonce, &d.uri, &d.response]
            .iter()
            .all(|f| !f.is_empty());
        complete.then_some(d)
    }

    /// Whether the answer is right for `method` given the stored HA1 (hex) of the matching
    /// algorithm. An unknown algorithm or a qop other than `auth` never verifies.
    pub fn verify(&self, method: &str, ha1_md5: &str, ha1_sha256: &str) -> bool {
        let algorithm = match self.algorithm.as_deref() {
            None => Algorithm::Md5,
            Some(a) => match Algorithm::parse(a) {
                Some(a) => a,
                None => return false,
            },
        };
        let ha1 = match algorithm {
            Algorithm::Md5 => ha1_md5,
            Algorithm::Sha256 => ha1_sha256,
        };
        let qop = match (&self.qop, &self.nc, &self.cnonce) {
            (Some(qop), Some(nc), Some(cnonce)) if qop.eq_ignore_ascii_case("auth") => {
                Some((nc.as_str(), cnonce.as_str()))
            }
            (None, _, _) => None,
            _ => return false,
        };
        let expected = response_value(algorithm, ha1, method, &self.uri, &self.nonce, qop);
        // Constant time (`subtle`): the response is a secret-derived value a caller may probe.
        expected
            .as_bytes()
            .ct_eq(self.response.to_ascii_lowercase().as_bytes())
            .into()
    }
}

impl fmt::Display for DigestResponse {
    /// The header value: `Digest username="..", realm="..", ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\"",
            escape(&self.username),
            escape(&self.realm),
            escape(&self.nonce),
            escape(&self.uri),
            self.response
        )?;
        if let Some(a) = &self.algorithm {
            write!(f, ", algorithm={a}")?;
        }
        if let (Some(qop), Some(nc), Some(cnonce)) = (&self.qop, &self.nc, &self.cnonce) {
            write!(f, ", qop={qop}, nc={nc}, cnonce=\"{}\"", escape(cnonce))?;
        }
        if let Some(o) = &self.opaque {
            write!(f, ", opaque=\"{}\"", escape(o))?;
        }
        Ok(())
    }
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The parameters of a `Digest ...` header value; `None` for another scheme.
fn digest_params(value: &str) -> Option<Vec<(String, String)>> {
    let (scheme, params) = value.trim().split_once(char::is_whitespace)?;
    scheme
        .eq_ignore_ascii_case("digest")
        .then(|| split_params(params))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 §3.5's worked example (Mufasa / Circle Of Life).
    const MUFASA: &str = r#"Digest username="Mufasa", realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth,
        nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1",
        opaque="5ccc069c403ebaf9f0171e9517f40e41""#;

    #[test]
    fn rfc2617_example_verifies() {
        let d = DigestResponse::parse(MUFASA).unwrap();
        assert_eq!(d.username, "Mufasa");
        let ha1 = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert!(d.verify("GET", &ha1, ""));
        assert!(!d.verify("POST", &ha1, ""));
        let wrong = super::ha1(Algorithm::Md5, "Mufasa", "testrealm@host.com", "wrong");
        assert!(!d.verify("GET", &wrong, ""));
    }

    #[test]
    fn answer_to_rfc2617_challenge_reproduces_its_response() {
        let challenge = Challenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int",
            nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        let answer = challenge.answer(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            1,
            "0a4f113b",
        );
        assert_eq!(answer.response, "6629fae49393a05397450978507c4ef1");
        let again = DigestResponse::parse(&answer.to_string()).unwrap();
        assert_eq!(again, answer);
    }

    #[test]
    fn sha256_answer_verifies_against_sha256_ha1_only() {
        let challenge =
            Challenge::parse(r#"Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth""#)
                .unwrap();
        assert_eq!(challenge.algorithm, Algorithm::Sha256);
        let answer = challenge.answer("u", "secret-pw", "INVITE", "sip:x@y", 2, "c");
        assert_eq!(answer.nc.as_deref(), Some("00000002"));
        let md5 = ha1(Algorithm::Md5, "u", "r", "secret-pw");
        let sha = ha1(Algorithm::Sha256, "u", "r", "secret-pw");
        assert!(answer.verify("INVITE", &md5, &sha));
        assert!(!answer.verify("INVITE", &sha, &md5));
    }

    #[test]
    fn challenge_without_qop_is_answered_in_rfc2069_form() {
        let challenge = Challenge::parse(r#"Digest realm="r", nonce="n""#).unwrap();
        let answer = challenge.answer("u", "p", "BYE", "sip:a@b", 1, "c");
        assert_eq!(
            (&answer.qop, &answer.nc, &answer.cnonce),
            (&None, &None, &None)
        );
        let reparsed = DigestResponse::parse(&answer.to_string()).unwrap();
        assert!(reparsed.verify("BYE", &ha1(Algorithm::Md5, "u", "r", "p"), ""));
    }

    #[test]
    fn unusable_challenges_are_refused() {
        assert_eq!(
            Challenge::parse("Basic realm=\"r\""),
            Err(DigestError::NotDigest)
        );
        assert_eq!(
            Challenge::parse(r#"Digest realm="r""#),
            Err(DigestError::NotDigest)
        );
        assert!(matches!(
            Challenge::parse(r#"Digest realm="r", nonce="n", algorithm=MD5-sess"#),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            Challenge::parse(r#"Digest realm="r", nonce="n", qop="auth-int""#),
            Err(DigestError::UnsupportedQop(_))
        ));
    }

    #[test]
    fn incomplete_or_basic_credentials_do_not_parse() {
        assert!(DigestResponse::parse("Basic YWxhZGRpbjpvcGVuc2VzYW1l").is_none());
        assert!(DigestResponse::parse("Digest username=\"a\", realm=\"r\"").is_none());
        assert!(DigestResponse::parse("").is_none());
        assert!(DigestResponse::parse("Digest ,,,=,\"").is_none());
    }
}
