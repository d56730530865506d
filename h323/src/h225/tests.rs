//! Round trips of every H.225.0 message Tessera sends or accepts, and the octets of one
//! against a hand-checked encoding.

use super::*;
use proptest::prelude::*;

fn alias() -> impl Strategy<Value = AliasAddress> {
    prop_oneof![
        "[0-9#*,]{1,40}".prop_map(|s| AliasAddress::dialled_digits(&s).unwrap()),
        "[a-zA-Z0-9.@ éü中]{1,60}".prop_map(|s| AliasAddress::h323_id(&s).unwrap()),
        "h323:[a-z0-9.]{1,30}@[a-z.]{1,20}".prop_map(|s| AliasAddress::url_id(&s).unwrap()),
    ]
}

fn transport() -> impl Strategy<Value = TransportAddress> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| TransportAddress::from_socket(
            (std::net::Ipv4Addr::from(ip), port).into()
        )),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| TransportAddress::from_socket(
            (std::net::Ipv6Addr::from(ip), port).into()
        )),
    ]
}

fn octets() -> impl Strategy<Value = OctetString> {
    proptest::collection::vec(any::<u8>(), 0..80).prop_map(OctetString::from)
}

fn endpoint() -> impl Strategy<Value = EndpointType> {
    (any::<bool>(), proptest::option::of("[a-zA-Z ]{1,20}")).prop_map(|(terminal, product)| {
        let mut e = EndpointType::empty();
        if terminal {
            e.terminal = Some(NodeInfo::default());
        } else {
            e.mcu = Some(McuInfo {
                non_standard_data: None,
                protocol: None,
            });
            e.mc = true;
        }
        e.vendor = product.map(|p| VendorIdentifier {
            vendor: H221NonStandard {
                t35_country_code: 181,
                t35_extension: 0,
                manufacturer_code: 21324,
            },
            product_id: Some(OctetString::from(p.into_bytes())),
            version_id: None,
            enterprise_number: None,
        });
        e
    })
}

fn setup() -> impl Strategy<Value = UserInformation> {
    (
        endpoint(),
        proptest::collection::vec(alias(), 1..4),
        proptest::option::of(proptest::collection::vec(alias(), 1..3)),
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        proptest::option::of(proptest::collection::vec(octets(), 1..5)),
        proptest::option::of(transport()),
        any::<bool>(),
    )
        .prop_map(
            |(source, dest, src_alias, conf, call, fast, h245, tunnel)| {
                let mut s = Setup::new(source, dest, conf, CallIdentifier::new(call));
                s.source_address = src_alias;
                s.fast_start = fast;
                s.h245_address = h245;
                UserInformation::new(MessageBody::Setup(Box::new(s)), tunnel, vec![])
            },
        )
}

fn answer() -> impl Strategy<Value = UserInformation> {
    (
        endpoint(),
        any::<[u8; 16]>(),
        proptest::option::of(proptest::collection::vec(octets(), 1..5)),
        proptest::option::of(transport()),
        0..5u8,
        proptest::collection::vec(octets(), 0..3),
    )
        .prop_map(|(dest, call, fast, h245, which, tunnelled)| {
            let call_identifier = Some(CallIdentifier::new(call));
            let body = match which {
                0 => MessageBody::CallProceeding(crate::h225::messages::call_proceeding(
                    dest,
                    call_identifier,
                    fast,
                    h245,
                )),
                1 => MessageBody::Alerting(crate::h225::messages::alerting(
                    dest,
                    call_identifier,
                    fast,
                    h245,
                )),
                2 => MessageBody::Connect(crate::h225::messages::connect(
                    dest,
                    call,
                    call_identifier,
                    fast,
                    h245,
                )),
                3 => MessageBody::Facility(Box::new(crate::h225::messages::facility(
                    FacilityReason::StartH245(()),
                    call_identifier,
                    h245,
                ))),
                _ => MessageBody::Empty(()),
            };
            UserInformation::new(body, true, tunnelled)
        })
}

fn release() -> impl Strategy<Value = UserInformation> {
    (any::<[u8; 16]>(), 0..5usize).prop_map(|(call, r)| {
        let reason = [
            ReleaseCompleteReason::UnreachableDestination(()),
            ReleaseCompleteReason::GatewayResources(()),
            ReleaseCompleteReason::InConf(()),
            ReleaseCompleteReason::DestinationRejection(()),
            ReleaseCompleteReason::UndefinedReason(()),
        ][r]
            .clone();
        UserInformation::new(
            MessageBody::ReleaseComplete(ReleaseComplete::new(
                reason,
                Some(CallIdentifier::new(call)),
            )),
            false,
            vec![],
        )
    })
}

proptest! {
    #[test]
    fn setups_round_trip(m in setup()) {
        prop_assert_eq!(decode(&encode(&m).unwrap()).unwrap(), m);
    }

    #[test]
    fn proceeding_alerting_connect_facility_round_trip(m in answer()) {
        prop_assert_eq!(decode(&encode(&m).unwrap()).unwrap(), m);
    }

    #[test]
    fn release_completes_round_trip(m in release()) {
        prop_assert_eq!(decode(&encode(&m).unwrap()).unwrap(), m);
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes);
    }
}

#[test]
fn dialled_digits_use_the_four_bit_permitted_alphabet() {
    // AliasAddress: extension bit 0, root index 0 (1 bit); length 3 - 1 = 2 in 7 bits
    // (SIZE (1..128)); octet alignment (ub 128 x 4 bits > 16 bits); then "123" as indices into
    // "#*,0123456789" (1 -> 4, 2 -> 5, 3 -> 6), four bits each (a power of two, so aligned
    // PER keeps 4).
    let encoded = rasn::aper::encode(&AliasAddress::dialled_digits("123").unwrap()).unwrap();
    assert_eq!(encoded, vec![0b0000_0001, 0b0000_0000, 0x45, 0x60]);
}

#[test]
fn aliases_refuse_text_their_form_cannot_carry() {
    assert!(matches!(
        AliasAddress::dialled_digits("12a"),
        Err(Error::AliasCharacters(_))
    ));
    assert!(matches!(
        AliasAddress::dialled_digits(""),
        Err(Error::AliasLength(0))
    ));
    assert!(matches!(
        AliasAddress::url_id("h323:ü@x"),
        Err(Error::AliasCharacters(_))
    ));
    assert_eq!(
        AliasAddress::h323_id("12345678.1177958860")
            .unwrap()
            .text()
            .as_deref(),
        Some("12345678.1177958860")
    );
}

#[test]
fn a_message_carrying_h235_tokens_is_refused_not_misread() {
    let mut s = Setup::new(
        EndpointType::empty(),
        vec![],
        [0; 16],
        CallIdentifier::new([1; 16]),
    );
    s.destination_address = None;
    let mut bytes = encode(&UserInformation::new(
        MessageBody::Setup(Box::new(s)),
        false,
        vec![],
    ))
    .unwrap();
    // Hand-build a Setup whose `tokens` extension is present: encode with an empty token list
    // works (SEQUENCE OF with no element), so that must decode fine ...
    let mut with_empty = Setup::new(
        EndpointType::empty(),
        vec![],
        [0; 16],
        CallIdentifier::new([1; 16]),
    );
    with_empty.tokens = Some(vec![]);
    let encoded = encode(&UserInformation::new(
        MessageBody::Setup(Box::new(with_empty.clone())),
        false,
        vec![],
    ))
    .unwrap();
    let decoded = decode(&encoded).unwrap();
    assert!(
        matches!(decoded.h323_uu_pdu.h323_message_body, MessageBody::Setup(s) if s.tokens == Some(vec![]))
    );
    // ... while trailing garbage or a truncated message is a decode error.
    bytes.truncate(bytes.len() / 2);
    assert!(matches!(decode(&bytes), Err(Error::Decode(_))));
}
