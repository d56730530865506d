//! Any text as RFC 4028 header values: the Session-Expires and Min-SE parsers must not panic,
//! what they accept must print back to itself, and a negotiation over a request carrying them
//! never yields an interval below the policy's Min-SE.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signaling::session_timer::{
    negotiate_uas, parse_min_se, SessionExpires, TimerPolicy, UasDecision,
};
use signaling::sip::{HeaderName, Message, Method};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(se) = SessionExpires::parse(text) {
        assert_eq!(SessionExpires::parse(&se.to_string()), Ok(se));
    }
    let _ = parse_min_se(text);
    let (expires, min_se) = text.split_once('|').unwrap_or((text, ""));
    let mut request = Message::request(Method::Invite, "sip:12345678.1177958860@gw")
        .with_header(HeaderName::SESSION_EXPIRES, expires)
        .with_header(HeaderName::SUPPORTED, "timer");
    if !min_se.is_empty() {
        request = request.with_header(HeaderName::MIN_SE, min_se);
    }
    let policy = TimerPolicy::default();
    if let Ok(UasDecision::Timer(negotiated)) = negotiate_uas(&policy, &request) {
        assert!(negotiated.interval >= policy.min_se);
    }
});
