//! Every kind of message the gateway sends (and the test caller's Setup), dissected by
//! Wireshark's H.225 and H.245 dissectors through `tshark`: no malformed packets, no expert
//! warnings or errors, and the fields we set read back as sent. Our ASN.1 types are derived by
//! hand; these dissectors are generated from the ITU modules by people who are not us.
// `Instant::now()` only gives the state machines a time origin; nothing here waits on it.
#![allow(clippy::disallowed_methods)]

use h323::h225::{self, *};
use h323::h245::{self, *};
use h323::media::{self, Channel, Codec, Direction};
use h323::q931::{self, Message, MessageType};
use h323::testing::{assert_dissection, tshark, Transport};
use h323::tpkt;

const CONFERENCE: [u8; 16] = [0x11; 16];
const CALL: [u8; 16] = [0x22; 16];

fn addr(port: u16) -> std::net::SocketAddr {
    ([127, 0, 0, 1], port).into()
}

fn tunnelled(messages: &[MultimediaSystemControlMessage]) -> Vec<rasn::types::OctetString> {
    messages
        .iter()
        .map(|m| h245::encode(m).unwrap().into())
        .collect()
}

fn q931(message_type: MessageType, from_destination: bool, uu: &UserInformation) -> Vec<u8> {
    let m = Message::new(message_type, 0x1234, from_destination)
        .with_display("Tessera")
        .with_user_user(&h225::encode(uu).unwrap());
    tpkt::frame(&m.encode().unwrap()).unwrap()
}

fn fast_start_proposals() -> Vec<Channel> {
    let h264 = Codec::H264 {
        profile: h245::h241::PROFILE_BASELINE,
        level: h245::h241::LEVEL_3_1,
    };
    vec![
        Channel {
            number: 1,
            direction: Direction::Send,
            codec: h264,
            session: 2,
            rtp: None,
            rtcp: Some(addr(40003)),
        },
        Channel {
            number: 2,
            direction: Direction::Receive,
            codec: h264,
            session: 2,
            rtp: Some(addr(40002)),
            rtcp: Some(addr(40003)),
        },
        Channel {
            number: 3,
            direction: Direction::Send,
            codec: Codec::Pcmu,
            session: 1,
            rtp: None,
            rtcp: Some(addr(40001)),
        },
        Channel {
            number: 4,
            direction: Direction::Receive,
            codec: Codec::Pcmu,
            session: 1,
            rtp: Some(addr(40000)),
            rtcp: Some(addr(40001)),
        },
    ]
}

/// The messages of a call: the caller's Setup and what the gateway answers, in order.
fn call_messages() -> Vec<Vec<u8>> {
    let mut source = EndpointType::empty();
    source.terminal = Some(NodeInfo::default());
    let mut setup = Setup::new(
        source,
        vec![
            AliasAddress::h323_id("12345678.1177958860").unwrap(),
            AliasAddress::dialled_digits("61177958860").unwrap(),
            AliasAddress::url_id("h323:1177958860@video.acme.example").unwrap(),
        ],
        CONFERENCE,
        CallIdentifier::new(CALL),
    );
    setup.source_address = Some(vec![AliasAddress::h323_id("Room 4 Polycom").unwrap()]);
    setup.fast_start = Some(media::fast_start_elements(&fast_start_proposals(), 1920).unwrap());
    let setup = q931(
        MessageType::Setup,
        false,
        &UserInformation::new(MessageBody::Setup(Box::new(setup)), true, vec![]),
    );

    let mut gw = EndpointType::empty();
    gw.mcu = Some(McuInfo::new());
    gw.mc = true;
    let call = Some(CallIdentifier::new(CALL));
    let proceeding = q931(
        MessageType::CallProceeding,
        true,
        &UserInformation::new(
            MessageBody::CallProceeding(call_proceeding(gw.clone(), call.clone(), None, None)),
            true,
            vec![],
        ),
    );
    let alerting = q931(
        MessageType::Alerting,
        true,
        &UserInformation::new(
            MessageBody::Alerting(alerting(gw.clone(), call.clone(), None, None)),
            true,
            vec![],
        ),
    );
    // Fast Start answer: the gateway's side of channels 1..4, addresses filled in.
    let h264 = Codec::H264 {
        profile: h245::h241::PROFILE_BASELINE,
        level: h245::h241::LEVEL_3_1,
    };
    let answer = vec![
        Channel {
            number: 1,
            direction: Direction::Receive,
            codec: h264,
            session: 2,
            rtp: Some(addr(50002)),
            rtcp: Some(addr(50003)),
        },
        Channel {
            number: 101,
            direction: Direction::Send,
            codec: h264,
            session: 2,
            rtp: Some(addr(40002)),
            rtcp: Some(addr(40003)),
        },
        Channel {
            number: 3,
            direction: Direction::Receive,
            codec: Codec::Pcmu,
            session: 1,
            rtp: Some(addr(50000)),
            rtcp: Some(addr(50001)),
        },
        Channel {
            number: 102,
            direction: Direction::Send,
            codec: Codec::Pcmu,
            session: 1,
            rtp: Some(addr(40000)),
            rtcp: Some(addr(40001)),
        },
    ];
    let connect = q931(
        MessageType::Connect,
        true,
        &UserInformation::new(
            MessageBody::Connect(connect(
                gw.clone(),
                CONFERENCE,
                call.clone(),
                Some(media::fast_start_elements(&answer, 1920).unwrap()),
                None,
            )),
            true,
            tunnelled(&[
                MultimediaSystemControlMessage::Request(RequestMessage::TerminalCapabilitySet(
                    Box::new(media::capability_set(1, 1920)),
                )),
                MultimediaSystemControlMessage::Request(RequestMessage::MasterSlaveDetermination(
                    MasterSlaveDetermination::new(190, 0x123456),
                )),
            ]),
        ),
    );
    let facility = q931(
        MessageType::Facility,
        true,
        &UserInformation::new(
            MessageBody::Empty(()),
            true,
            tunnelled(&[
                MultimediaSystemControlMessage::Response(
                    ResponseMessage::TerminalCapabilitySetAck(TerminalCapabilitySetAck::new(1)),
                ),
                MultimediaSystemControlMessage::Response(
                    ResponseMessage::MasterSlaveDeterminationAck(MasterSlaveDeterminationAck::new(
                        MasterSlaveDecision::Slave(()),
                    )),
                ),
                MultimediaSystemControlMessage::Response(ResponseMessage::OpenLogicalChannelAck(
                    Box::new(media::open_ack(5, 2, addr(50002), addr(50003))),
                )),
                MultimediaSystemControlMessage::Request(RequestMessage::OpenLogicalChannel(
                    Box::new(answer[1].to_olc(1920)),
                )),
                MultimediaSystemControlMessage::Command(CommandMessage::MiscellaneousCommand(
                    MiscellaneousCommand::fast_update(1),
                )),
                MultimediaSystemControlMessage::Indication(IndicationMessage::UserInput(
                    UserInputIndication::alphanumeric("1177958860#").unwrap(),
                )),
                MultimediaSystemControlMessage::Indication(IndicationMessage::UserInput(
                    UserInputIndication::signal('#', Some(100)).unwrap(),
                )),
                MultimediaSystemControlMessage::Request(RequestMessage::CloseLogicalChannel(
                    CloseLogicalChannel::new(101),
                )),
                MultimediaSystemControlMessage::Response(ResponseMessage::CloseLogicalChannelAck(
                    CloseLogicalChannelAck::new(5),
                )),
                MultimediaSystemControlMessage::Command(CommandMessage::EndSessionCommand(
                    EndSessionCommand::Disconnect(()),
                )),
            ]),
        ),
    );
    let start_h245 = q931(
        MessageType::Facility,
        true,
        &UserInformation::new(
            MessageBody::Facility(Box::new(h225::facility(
                FacilityReason::StartH245(()),
                call.clone(),
                Some(TransportAddress::from_socket(addr(1721))),
            ))),
            false,
            vec![],
        ),
    );
    let release = {
        let uu = UserInformation::new(
            MessageBody::ReleaseComplete(ReleaseComplete::new(
                ReleaseCompleteReason::UnreachableDestination(()),
                call,
            )),
            false,
            vec![],
        );
        let m = Message::new(MessageType::ReleaseComplete, 0x1234, true)
            .with_cause(q931::cause::UNALLOCATED_NUMBER)
            .with_user_user(&h225::encode(&uu).unwrap());
        tpkt::frame(&m.encode().unwrap()).unwrap()
    };
    vec![
        setup, proceeding, alerting, connect, facility, start_h245, release,
    ]
}

/// No malformed packet, no expert warning or error, nothing the dissector did not know.
fn assert_clean(text: &str) {
    assert_dissection("call messages", text, &[]);
}

fn dissect(packets: &[Vec<u8>]) -> String {
    tshark(packets, Transport::Tcp(1720), &[])
}

/// The separate H.245 channel: TPKT on a port Wireshark has no default for, so it is told.
fn dissect_h245(packets: &[Vec<u8>]) -> String {
    tshark(
        packets,
        Transport::Tcp(1721),
        &["-d", "tcp.port==1721,h245"],
    )
}

#[test]
fn wireshark_dissects_every_message_of_a_fast_start_call_cleanly_and_reads_fields_back() {
    let packets = call_messages();
    let text = dissect(&packets);
    assert_clean(&text);
    for expected in [
        "h323-ID: 12345678.1177958860",
        "dialledDigits: 61177958860",
        "url-ID: h323:1177958860@video.acme.example",
        "h323-ID: Room 4 Polycom",
        "fastStart: 4 items",
        "h323-message-body: setup",
        "h323-message-body: callProceeding",
        "h323-message-body: alerting",
        "h323-message-body: connect",
        "h323-message-body: empty",
        "h323-message-body: facility",
        "h323-message-body: releaseComplete",
        "h245Tunnelling: True",
        "reason: startH245",
        "reason: unreachableDestination",
        "Cause value: Unallocated (unassigned) number",
        "standard: 0.0.8.241.0.0.1 (h264 generic-capabilities)",
        "Baseline Profile: True",
        "unsignedMin: 71 - Level 3.1",
        "g711Ulaw64k: 20",
        "terminalCapabilitySet",
        "masterSlaveDeterminationAck",
        "openLogicalChannelAck",
        "videoFastUpdatePicture",
        "alphanumeric: 1177958860#",
        "signalType: #",
        "closeLogicalChannelAck",
        "endSessionCommand: disconnect",
        "g722-64k: 20",
        "receiveUserInputCapability: dtmf",
    ] {
        assert!(
            text.contains(expected),
            "tshark did not read back {expected:?}:\n{text}"
        );
    }
    // Every packet is dissected as Q.931 carrying H.225.
    assert_eq!(
        text.matches("H323-UserInformation").count(),
        packets.len(),
        "{text}"
    );
}

/// What the gateway's call state machine writes, per connection, over a set of whole calls:
/// Fast Start, H.245 on a separate channel, tunnelled H.245 with DTMF and fast update, and
/// the two refusals.
fn gateway_output() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    use h323::call::{CallConfig, EndReason, InboundCall, LocalMedia};
    use h323::caller::{Caller, CallerConfig};
    let now = std::time::Instant::now();
    let gw_media = LocalMedia {
        audio: addr(30000),
        video: addr(30002),
    };
    let caller_media = LocalMedia {
        audio: addr(40000),
        video: addr(40002),
    };
    let mut signalling = Vec::new();
    let mut h245_channel = Vec::new();
    for (fast_start, tunnelling, refuse) in [
        (true, true, None),
        (false, false, None),
        (false, true, None),
        (true, true, Some(EndReason::UnknownMeeting)),
        (true, true, Some(EndReason::OverLicence)),
    ] {
        let mut caller = Caller::new(CallerConfig {
            destination: vec![AliasAddress::h323_id("12345678.1177958860").unwrap()],
            local: caller_media,
            fast_start,
            tunnelling,
        })
        .unwrap();
        let mut gw = InboundCall::new(CallConfig::gateway(0x99));
        let pump = |caller: &mut Caller,
                    gw: &mut InboundCall,
                    sig: &mut Vec<Vec<u8>>,
                    h245: &mut Vec<Vec<u8>>| loop {
            let mut moved = false;
            while let Some(b) = caller.poll_transmit() {
                gw.handle_input(now, &b).unwrap();
                moved = true;
            }
            while let Some(b) = caller.poll_h245_transmit() {
                gw.handle_h245_input(now, &b).unwrap();
                moved = true;
            }
            while let Some(b) = gw.poll_transmit() {
                caller.handle_input(&b).unwrap();
                sig.push(b);
                moved = true;
            }
            while let Some(b) = gw.poll_h245_transmit() {
                caller.handle_h245_input(&b).unwrap();
                h245.push(b);
                moved = true;
            }
            while gw.poll_event().is_some() {}
            while caller.poll_event().is_some() {}
            if !moved {
                break;
            }
        };
        pump(&mut caller, &mut gw, &mut signalling, &mut h245_channel);
        match refuse {
            Some(reason) => gw.reject(now, reason).unwrap(),
            None => gw
                .accept(now, gw_media, (!tunnelling).then(|| addr(1721)))
                .unwrap(),
        }
        pump(&mut caller, &mut gw, &mut signalling, &mut h245_channel);
        if refuse.is_none() {
            caller.send_dtmf("1177958860#").unwrap();
            caller.request_keyframe().unwrap();
            gw.request_keyframe(now).unwrap();
            pump(&mut caller, &mut gw, &mut signalling, &mut h245_channel);
            gw.reject(now, EndReason::Normal).unwrap();
            pump(&mut caller, &mut gw, &mut signalling, &mut h245_channel);
        }
    }
    (signalling, h245_channel)
}

#[test]
fn everything_the_gateway_call_sends_dissects_cleanly() {
    let (signalling, h245_channel) = gateway_output();
    assert!(!h245_channel.is_empty());
    let text = dissect(&signalling);
    assert_clean(&text);
    assert_eq!(
        text.matches("H323-UserInformation").count(),
        signalling.len(),
        "{text}"
    );
    for expected in [
        "h323-message-body: callProceeding",
        "h323-message-body: alerting",
        "h323-message-body: connect",
        "h323-message-body: releaseComplete",
        "fastStart: 4 items",
        "standard: 0.0.8.241.0.0.1 (h264 generic-capabilities)",
        "terminalCapabilitySet",
        "videoFastUpdatePicture",
        "Cause value: Unallocated (unassigned) number",
        "Cause value: User busy",
        "reason: inConf",
        "reason: unreachableDestination",
    ] {
        assert!(
            text.contains(expected),
            "tshark did not read back {expected:?}:\n{text}"
        );
    }
    let text = dissect_h245(&h245_channel);
    assert_clean(&text);
    for expected in [
        "terminalCapabilitySet",
        "openLogicalChannel",
        "openLogicalChannelAck",
        "masterSlaveDeterminationAck",
        "videoFastUpdatePicture",
        "endSessionCommand: disconnect",
    ] {
        assert!(
            text.contains(expected),
            "tshark did not read back {expected:?}:\n{text}"
        );
    }
}

/// What the registration machine sends to a gatekeeper (full RRQ, keep-alive RRQ, GRQ after
/// `discoveryRequired`, URQ, UCF to the gatekeeper's URQ), dissected as RAS on UDP 1719.
#[test]
fn everything_the_registration_sends_dissects_cleanly_as_ras() {
    use h323::ras::{Registration, RegistrationConfig};
    let gk = addr(1719);
    let now = std::time::Instant::now();
    let mut r = Registration::new(
        RegistrationConfig {
            gatekeeper: gk,
            ras_address: addr(40719),
            call_signal_address: addr(1720),
            aliases: vec![
                AliasAddress::h323_id("tessera-gw").unwrap(),
                AliasAddress::dialled_digits("6100").unwrap(),
            ],
            prefixes: vec![AliasAddress::dialled_digits("61").unwrap()],
            time_to_live: Some(30),
        },
        now,
    )
    .unwrap();
    let mut sent = Vec::new();
    let drain = |r: &mut Registration, sent: &mut Vec<Vec<u8>>| {
        let mut last = None;
        while let Some(t) = r.poll_transmit() {
            last = h225::decode_ras(&t.payload).unwrap().request_seq_num();
            sent.push(t.payload);
        }
        last.unwrap()
    };
    let answer = |r: &mut Registration, m: RasMessage| {
        r.handle_datagram(now, gk, &h225::encode_ras(&m).unwrap())
            .unwrap();
    };
    let seq = drain(&mut r, &mut sent);
    answer(
        &mut r,
        RasMessage::RegistrationReject(Box::new(RegistrationReject::new(
            seq,
            RegistrationRejectReason::DiscoveryRequired(()),
        ))),
    );
    let seq = drain(&mut r, &mut sent);
    answer(
        &mut r,
        RasMessage::GatekeeperConfirm(Box::new(GatekeeperConfirm::new(
            seq,
            TransportAddress::from_socket(gk),
            Some(GatekeeperIdentifier::new("TestGK").unwrap()),
        ))),
    );
    let seq = drain(&mut r, &mut sent);
    let rcf = |seq| {
        RasMessage::RegistrationConfirm(Box::new(RegistrationConfirm::new(
            seq,
            vec![TransportAddress::from_socket(addr(1720))],
            EndpointIdentifier::new("ep-1").unwrap(),
            Some(30),
        )))
    };
    answer(&mut r, rcf(seq));
    r.handle_timeout(r.poll_timeout().unwrap()).unwrap();
    let seq = drain(&mut r, &mut sent);
    answer(&mut r, rcf(seq));
    answer(
        &mut r,
        RasMessage::UnregistrationRequest(Box::new(UnregistrationRequest::new(77, vec![], None))),
    );
    // The UCF, then a new full RRQ.
    let seq = drain(&mut r, &mut sent);
    answer(&mut r, rcf(seq));
    r.unregister(now).unwrap();
    drain(&mut r, &mut sent);
    let text = tshark(
        &sent,
        Transport::Udp(40719),
        &["-d", "udp.port==40719,h225"],
    );
    assert_dissection(
        "registration",
        &text,
        &[
            "RasMessage: registrationRequest",
            "RasMessage: gatekeeperRequest",
            "RasMessage: unregistrationConfirm",
            "RasMessage: unregistrationRequest",
            "h323-ID: tessera-gw",
            "dialledDigits: 6100",
            "dialledDigits: 61",
            "keepAlive: True",
            "keepAlive: False",
            "timeToLive: 30",
            "endpointIdentifier: ep-1",
            "gatekeeperIdentifier: TestGK",
            "discoveryComplete: True",
        ],
    );
    assert_eq!(text.matches("RasMessage:").count(), sent.len(), "{text}");
}
