//! TPKT reassembly and Q.931 decoding of whatever arrives on port 1720: never a panic, and
//! every message that decodes re-encodes to something that decodes to the same message.
#![no_main]

use h323::{q931, tpkt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = tpkt::Reassembler::new();
    // Feed in two pieces to exercise partial headers.
    let (a, b) = data.split_at(data.len() / 2);
    r.push(a);
    r.push(b);
    while let Ok(Some(payload)) = r.poll_packet() {
        if let Ok(m) = q931::Message::decode(&payload) {
            let _ = m.cause();
            let _ = m.called_party_number();
            let _ = m.display();
            if let Some(uu) = m.user_user() {
                let _ = h323::h225::decode(uu);
            }
            let again = q931::Message::decode(&m.encode().expect("decoded message re-encodes"));
            assert_eq!(again.as_ref(), Ok(&m));
        }
    }
});
