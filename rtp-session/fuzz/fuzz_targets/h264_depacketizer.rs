//! Any sequence of RTP payloads: the RFC 6184 depacketiser must not panic, and every access unit
//! it emits is Annex B with 4-byte start codes and within the size limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

use rtp_session::h264_rtp;

use h264_rtp::{Depacketized, Depacketizer, MAX_ACCESS_UNIT};

fuzz_target!(|data: &[u8]| {
    // Each record: 2 bytes sequence delta, 1 byte flags (bit 0 marker, bit 1 new timestamp),
    // 1 byte payload length, then the payload.
    let mut d = Depacketizer::new();
    let (mut seq, mut ts) = (0u16, 0u32);
    let mut rest = data;
    while rest.len() >= 4 {
        let delta = u16::from_be_bytes([rest[0], rest[1]]) % 4;
        let flags = rest[2];
        let len = usize::from(rest[3]).min(rest.len() - 4);
        let payload = &rest[4..4 + len];
        rest = &rest[4 + len..];
        seq = seq.wrapping_add(delta);
        if flags & 2 != 0 {
            ts = ts.wrapping_add(3000);
        }
        if let Ok(out) = d.push(seq, ts, flags & 1 != 0, payload) {
            for item in out {
                if let Depacketized::AccessUnit(au) = item {
                    assert!(au.data.starts_with(&[0, 0, 0, 1]));
                    assert!(au.data.len() <= MAX_ACCESS_UNIT);
                }
            }
        }
    }
});
