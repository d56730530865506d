//! Any bytes as the body of a Tessera link's roster INFO: parsing must not panic, and a body it
//! accepts re-serialises to an equal roster that passes validation again.
#![no_main]

use gateway::calls::tessera::roster::Roster;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(roster) = Roster::parse(data) else {
        return;
    };
    let again = Roster::parse(&roster.to_body()).expect("our body re-parses");
    assert_eq!(again, roster);
});
