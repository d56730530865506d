//! Any bytes: the SIP parser must not panic, what it accepts must serialise and re-parse to
//! itself, and the stream framer must not panic on the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signaling::sip::{Message, StreamFramer};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::parse(data) {
        let again = Message::parse(&message.to_bytes()).expect("canonical form re-parses");
        assert_eq!(again, message);
    }
    let mut framer = StreamFramer::default();
    framer.push(data);
    while let Ok(Some(_)) = framer.poll() {}
});
