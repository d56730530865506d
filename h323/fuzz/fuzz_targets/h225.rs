//! The H.225.0 decoder on arbitrary octets: never a panic; what decodes re-encodes and
//! decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = h323::h225::decode(data) {
        if let Ok(bytes) = h323::h225::encode(&m) {
            assert_eq!(h323::h225::decode(&bytes).ok().as_ref(), Some(&m));
        }
    }
});
