//! Any text as a meeting invitation: the reader must not panic, stays within its bounds, and every
//! candidate it returns is a dial string that re-parses to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signaling::invite::{self, MAX_CANDIDATES};
use signaling::DialString;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(invitation) = invite::parse(text) {
        assert!(!invitation.candidates.is_empty());
        assert!(invitation.candidates.len() <= MAX_CANDIDATES);
        for candidate in &invitation.candidates {
            let again = DialString::parse(&candidate.to_string()).expect("candidate re-parses");
            assert_eq!(&again, candidate);
        }
    }
});
