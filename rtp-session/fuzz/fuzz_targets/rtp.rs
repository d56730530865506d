//! Any datagram: the RTP parser must not panic; what it accepts borrows a payload inside the
//! datagram and re-serialises (without CSRCs, extension and padding) to a packet that parses to
//! the same header and payload.
#![no_main]

use libfuzzer_sys::fuzz_target;

use rtp_session::rtp;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = rtp::parse(data) else {
        return;
    };
    assert!(packet.payload.len() + rtp::HEADER_LEN <= data.len());
    let again = rtp::write(&packet.header, packet.payload);
    let reparsed = rtp::parse(&again).expect("our output parses");
    assert_eq!(reparsed, packet);
});
