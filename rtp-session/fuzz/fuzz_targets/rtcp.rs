//! Any datagram: the compound RTCP parser must not panic (including inside the `rtc-rtcp` crate's
//! per-packet parsers); a datagram it accepts yields at least one event.
#![no_main]

use libfuzzer_sys::fuzz_target;

use rtp_session::rtcp;

fuzz_target!(|data: &[u8]| {
    let is_rtcp = rtcp::is_rtcp(data);
    if let Ok(events) = rtcp::parse_compound(data) {
        assert!(!events.is_empty());
        assert!(is_rtcp, "parsed as RTCP, so the demux must say RTCP");
    }
});
