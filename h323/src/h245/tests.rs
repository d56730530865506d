//! Round trips of every H.245 message Tessera sends or accepts, and of Fast Start elements.

use super::*;
use crate::media::{self, Channel, Codec, Direction};
use proptest::prelude::*;

fn codec() -> impl Strategy<Value = Codec> {
    prop_oneof![
        Just(Codec::Pcmu),
        Just(Codec::Pcma),
        Just(Codec::G722),
        (any::<u8>(), 1u16..200).prop_map(|(profile, level)| Codec::H264 { profile, level }),
    ]
}

fn socket() -> impl Strategy<Value = Option<std::net::SocketAddr>> {
    proptest::option::of(prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, p)| (std::net::Ipv4Addr::from(ip), p).into()),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, p)| (std::net::Ipv6Addr::from(ip), p).into()),
    ])
}

fn channel() -> impl Strategy<Value = Channel> {
    (1u16.., any::<bool>(), codec(), socket(), socket()).prop_map(
        |(number, send, codec, rtp, rtcp)| Channel {
            number,
            direction: if send {
                Direction::Send
            } else {
                Direction::Receive
            },
            codec,
            session: codec.session(),
            rtp,
            rtcp,
        },
    )
}

fn message() -> impl Strategy<Value = MultimediaSystemControlMessage> {
    use MultimediaSystemControlMessage as M;
    prop_oneof![
        (any::<u8>(), 1u32..20_000).prop_map(|(seq, kbps)| M::Request(
            RequestMessage::TerminalCapabilitySet(Box::new(media::capability_set(seq, kbps)))
        )),
        (any::<u8>(), any::<u32>()).prop_map(|(t, n)| M::Request(
            RequestMessage::MasterSlaveDetermination(MasterSlaveDetermination::new(t, n))
        )),
        channel()
            .prop_map(|c| M::Request(RequestMessage::OpenLogicalChannel(Box::new(c.to_olc(1920))))),
        (1u16.., 1u8.., socket(), socket()).prop_filter_map("addresses", |(n, s, a, b)| Some(
            M::Response(ResponseMessage::OpenLogicalChannelAck(Box::new(
                media::open_ack(n, s, a?, b?)
            )))
        )),
        (1u16..).prop_map(|n| M::Request(RequestMessage::CloseLogicalChannel(
            CloseLogicalChannel::new(n)
        ))),
        (1u16..).prop_map(|n| M::Response(ResponseMessage::CloseLogicalChannelAck(
            CloseLogicalChannelAck::new(n)
        ))),
        any::<u8>().prop_map(|s| M::Response(ResponseMessage::TerminalCapabilitySetAck(
            TerminalCapabilitySetAck::new(s)
        ))),
        any::<bool>().prop_map(
            |m| M::Response(ResponseMessage::MasterSlaveDeterminationAck(
                MasterSlaveDeterminationAck::new(if m {
                    MasterSlaveDecision::Master(())
                } else {
                    MasterSlaveDecision::Slave(())
                })
            ))
        ),
        (1u16..).prop_map(|n| M::Command(CommandMessage::MiscellaneousCommand(
            MiscellaneousCommand::fast_update(n)
        ))),
        Just(M::Command(CommandMessage::EndSessionCommand(
            EndSessionCommand::Disconnect(())
        ))),
        "[0-9#*A-D]{1,20}".prop_map(|s| M::Indication(IndicationMessage::UserInput(
            UserInputIndication::alphanumeric(&s).unwrap()
        ))),
        ("[0-9#*A-D!]", proptest::option::of(1u16..)).prop_map(|(k, d)| M::Indication(
            IndicationMessage::UserInput(
                UserInputIndication::signal(k.chars().next().unwrap(), d).unwrap()
            )
        )),
        any::<u8>().prop_map(|s| M::Request(RequestMessage::RoundTripDelayRequest(
            RoundTripDelay { sequence_number: s }
        ))),
    ]
}

proptest! {
    #[test]
    fn messages_round_trip(m in message()) {
        prop_assert_eq!(decode(&encode(&m).unwrap()).unwrap(), m);
    }

    #[test]
    fn fast_start_channels_round_trip_through_their_olc(c in channel()) {
        let olc = decode_open_logical_channel(&encode_open_logical_channel(&c.to_olc(1920)).unwrap()).unwrap();
        prop_assert_eq!(Channel::from_olc(&olc), Some(c));
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes);
        let _ = decode_open_logical_channel(&bytes);
    }
}

#[test]
fn user_input_keys_are_the_dtmf_characters() {
    assert_eq!(
        UserInputIndication::alphanumeric("12x#").unwrap().keys(),
        vec!['1', '2', '#']
    );
    assert_eq!(
        UserInputIndication::signal('*', None).unwrap().keys(),
        vec!['*']
    );
    assert!(UserInputIndication::signal('x', None).is_none());
}

#[test]
fn fast_update_octets_match_h245() {
    // 0 10: command (extension bit, index 2 of 4 root alternatives in 2 bits); 0 110:
    // miscellaneousCommand (index 6 of 7, 3 bits); 0: MiscellaneousCommand's extension bit
    // -> 0100 1100 = 0x4C, then one pad bit. logicalChannelNumber (1..65535): a 16-bit
    // aligned field holding 1 - 1 = 0x0000. type: extension bit 0, videoFastUpdatePicture
    // index 5 of 10 in 4 bits -> 0 0101 000 = 0x28.
    let m = MultimediaSystemControlMessage::Command(CommandMessage::MiscellaneousCommand(
        MiscellaneousCommand::fast_update(1),
    ));
    assert_eq!(encode(&m).unwrap(), vec![0x4C, 0x00, 0x00, 0x28]);
}
