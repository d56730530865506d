//! The RAS decoder and the registration machine on arbitrary datagrams from the gatekeeper:
//! never a panic; what decodes re-encodes and decodes to the same value.
#![no_main]

use h323::ras::{Registration, RegistrationConfig};
use libfuzzer_sys::fuzz_target;
use std::time::Instant;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = h323::h225::decode_ras(data) {
        if let Ok(bytes) = h323::h225::encode_ras(&m) {
            assert_eq!(h323::h225::decode_ras(&bytes).ok().as_ref(), Some(&m));
        }
    }
    let gk = ([127, 0, 0, 1], 1719).into();
    let now = Instant::now();
    let mut r = Registration::new(
        RegistrationConfig {
            gatekeeper: gk,
            ras_address: ([127, 0, 0, 1], 40719).into(),
            call_signal_address: ([127, 0, 0, 1], 1720).into(),
            aliases: vec![h323::h225::AliasAddress::h323_id("tessera").unwrap()],
            prefixes: vec![h323::h225::AliasAddress::dialled_digits("61").unwrap()],
            time_to_live: Some(30),
        },
        now,
    )
    .unwrap();
    // The first RRQ has sequence number 1: a fuzzed RCF/RRJ can answer it.
    let _ = r.handle_datagram(now, gk, data);
    while r.poll_transmit().is_some() {}
    if let Some(at) = r.poll_timeout() {
        let _ = r.handle_timeout(at);
    }
    let _ = r.unregister(now);
});
