//! Any text as a browser's trickle-ICE fragment (WHIP PATCH body): reading it must not panic,
//! accepted credentials follow RFC 8839's grammar, and the gateway's answer fragment written
//! from them reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signaling::ice_fragment::{answer_fragment, IceFragment};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(fragment) = IceFragment::parse(text) else {
        return;
    };
    if let Some(credentials) = &fragment.credentials {
        let valid = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
        assert!(valid(&credentials.ufrag) && valid(&credentials.pwd));
        let echoed = answer_fragment(credentials, &[]);
        let back = IceFragment::parse(&echoed).expect("the gateway's own fragment reads back");
        assert_eq!(back.credentials.as_ref(), Some(credentials));
    }
});
