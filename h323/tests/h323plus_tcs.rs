//! What H323Plus (1.28, built from source for an interop check; see the README's H.323 row)
//! tunnels as its first H.245 PDU: a TerminalCapabilitySet with one G.711 capability and an
//! H.225.0 multiplex capability whose multipoint capabilities each list one
//! MediaDistributionCapability. Before that type was modelled the gateway could not decode it,
//! never acknowledged it, and H323Plus never opened a channel.

use h323::h245::{self, MultimediaSystemControlMessage, RequestMessage};

const H323PLUS_TCS: &str =
    "0270010600088175000f80138000fa000100000100000100000cc0010001800080000020c01300800100000000";

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn h323plus_terminal_capability_set_decodes_and_round_trips() {
    let octets = bytes(H323PLUS_TCS);
    let pdu = h245::decode(&octets).unwrap_or_else(|e| panic!("{e:?}"));
    let MultimediaSystemControlMessage::Request(RequestMessage::TerminalCapabilitySet(tcs)) = &pdu
    else {
        panic!("not a TCS: {pdu:?}");
    };
    assert_eq!(tcs.sequence_number, 1);
    assert_eq!(tcs.capability_table.as_ref().map(Vec::len), Some(1));
    assert_eq!(
        h245::encode(&pdu).unwrap(),
        octets,
        "re-encoded as received"
    );
}
