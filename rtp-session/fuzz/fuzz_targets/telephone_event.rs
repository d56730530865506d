//! Any sequence of RTP datagrams: the RFC 4733 parser and once-per-key-press detector must not
//! panic, and an event block the parser accepts round-trips through `to_bytes`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtp_session::rtp;
use rtp_session::telephone_event::{TelephoneEvent, TelephoneEventDetector};

fuzz_target!(|data: &[u8]| {
    // Records: 1 byte length, then that many bytes of datagram.
    let mut detector = TelephoneEventDetector::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (datagram, next) = tail.split_at(len);
        rest = next;
        let Ok(packet) = rtp::parse(datagram) else {
            continue;
        };
        if let Ok(event) = TelephoneEvent::parse(packet.payload) {
            let again = TelephoneEvent::parse(&event.to_bytes()).expect("our bytes parse");
            assert_eq!(again, TelephoneEvent { volume: event.volume & 0x3F, ..event });
        }
        // Malformed payloads are errors, not panics; which digits come out is the unit tests' job.
        let _ = detector.handle_packet(&packet.header, packet.payload);
    }
});
