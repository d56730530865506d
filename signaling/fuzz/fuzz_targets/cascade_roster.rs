//! Any bytes as the body of a Tessera link's roster INFO: parsing must not panic, and a body it
//! accepts re-serialises to an equal roster that parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signaling::cascade_roster::Roster;

fuzz_target!(|data: &[u8]| {
    let Ok(roster) = Roster::parse(data) else {
        return;
    };
    let again = Roster::parse(&roster.to_body()).expect("our body re-parses");
    assert_eq!(again, roster);
});
