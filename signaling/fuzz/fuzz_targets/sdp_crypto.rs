//! Any text as an `a=crypto` value: the SDES parser must not panic, and what it accepts must be
//! written back to a line that reads as the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signaling::sdp::CryptoAttribute;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(line) = CryptoAttribute::parse(text) {
        let again = CryptoAttribute::parse(&line.to_string()).expect("written line re-parses");
        assert_eq!(again, line);
    }
});
