//! Any text as digest headers: the `Authorization` and `WWW-Authenticate` parsers must not
//! panic; an answer that parses must print back to the same answer and verify without
//! panicking; an answer computed to a challenge that parses must verify against the HA1 it was
//! computed with, and not against another.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signaling::digest::{ha1, Algorithm, Challenge, DigestResponse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(answer) = DigestResponse::parse(text) {
        let printed = answer.to_string();
        assert_eq!(DigestResponse::parse(&printed).as_ref(), Some(&answer), "{printed}");
        let _ = answer.verify("INVITE", "00", "00");
    }
    if let Ok(challenge) = Challenge::parse(text) {
        let answer = challenge.answer("room1", "secret", "INVITE", "sip:x@gw", 1, "c");
        let good = ha1(challenge.algorithm, "room1", &challenge.realm, "secret");
        let wrong = ha1(challenge.algorithm, "room1", &challenge.realm, "guess");
        let (md5, sha) = match challenge.algorithm {
            Algorithm::Md5 => (&good, &wrong),
            Algorithm::Sha256 => (&wrong, &good),
        };
        assert!(answer.verify("INVITE", md5, sha));
        assert!(!answer.verify("INVITE", &wrong, &wrong));
    }
});
