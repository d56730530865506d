//! Any text: the dial parser must not panic, and what it accepts must re-parse to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signaling::DialString;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(dial) = DialString::parse(text) {
        let again = DialString::parse(&dial.to_string()).expect("canonical form re-parses");
        assert_eq!(again, dial);
    }
});
