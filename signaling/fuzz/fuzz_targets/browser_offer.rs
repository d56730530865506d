//! Any text as a browser's WebRTC offer: the gateway's reading of it must not panic, and what it
//! accepts must name Opus and an H.264 payload type, with one entry per video m-line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signaling::browser_offer::{payload_type, BrowserOffer};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(offer) = BrowserOffer::parse(text) {
        assert!(payload_type(text, "opus/48000").is_some());
        assert!(payload_type(text, "h264/90000").is_some());
        let video_lines = text
            .lines()
            .filter(|l| l.trim().starts_with("m=video"))
            .count();
        assert_eq!(offer.video.len(), video_lines);
    }
});
