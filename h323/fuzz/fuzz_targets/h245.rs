//! The H.245 decoders (a PDU and a Fast Start `OpenLogicalChannel`) on arbitrary octets:
//! never a panic; what decodes re-encodes and decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = h323::h245::decode(data) {
        if let Ok(bytes) = h323::h245::encode(&m) {
            assert_eq!(h323::h245::decode(&bytes).ok().as_ref(), Some(&m));
        }
    }
    if let Ok(olc) = h323::h245::decode_open_logical_channel(data) {
        let _ = h323::media::Channel::from_olc(&olc);
    }
});
