//! Any text: the SDP parser must not panic; what it accepts must survive an answer with the default
//! capabilities (one m-line per offered m-line), re-parse from its own serialisation, and keep the
//! Tessera cascade marker once advertised.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signaling::sdp::{cascade, Capabilities, LocalMedia, SdpSession, SessionDescription};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(offer) = SessionDescription::parse(text) else {
        return;
    };
    let again = SessionDescription::parse(&offer.to_string()).expect("our output re-parses");
    assert_eq!(again.to_string(), offer.to_string());
    // The Tessera cascade marker: reading any value is safe, and ours survives a round trip.
    let _ = cascade::advertised(&offer);
    let mut marked = offer.clone();
    cascade::advertise(&mut marked);
    let marked = SessionDescription::parse(&marked.to_string()).expect("marked offer re-parses");
    assert!(cascade::speaks_ours(&marked));
    let local = LocalMedia {
        address: std::net::Ipv4Addr::new(198, 51, 100, 10).into(),
        audio_port: 40000,
        video_port: 40002,
    };
    let mut session = SdpSession::new(1, Capabilities::default(), local);
    if let Ok((answer, _)) = session.answer(&offer) {
        assert_eq!(answer.media.len(), offer.media.len());
        let reparsed = SessionDescription::parse(&answer.to_string()).expect("answer re-parses");
        assert_eq!(reparsed, answer);
    }
});
