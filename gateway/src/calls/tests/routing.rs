//! Routing and answering an INVITE: every dial format, SDP answers per codec, and the refusals
//! (404, 488, 400) with their reasons; responses follow rport.

use super::*;

#[test]
fn direct_dial_is_answered_with_sdp_and_joins_the_meeting() {
    let mut h = Harness::demo();
    h.send(&invite("sip:12345678.1177958860@gw.example.com", "c1"));
    let sent = h.take_sent();
    assert_eq!(
        sent.iter().filter_map(Message::status).collect::<Vec<_>>(),
        [100, 200]
    );
    let ok = &sent[1];
    assert!(ok.to().unwrap().tag().is_some());
    let answer = std::str::from_utf8(ok.body()).unwrap();
    assert!(answer.contains("m=audio 20000 RTP/AVP 0 101"), "{answer}");
    assert!(answer.contains("c=IN IP4 203.0.113.1"));
    assert!(ok
        .headers
        .get(&HeaderName::CONTACT)
        .unwrap()
        .contains("203.0.113.1:5060"));
    assert!(
        matches!(
            h.media[..],
            [
                CoreOutput::MediaStart {
                    audio: AudioSetup {
                        local_port: 20000,
                        payload_type: 0,
                        telephone_event_pt: Some(101),
                        codec: PromptCodec::Pcmu,
                        ..
                    },
                    video: Some(VideoSetup {
                        local_port: 20002,
                        payload_type: 109,
                        packetization_mode: 1,
                        ..
                    }),
                    ..
                },
                CoreOutput::MediaJoin { participant: 2, .. },
            ]
        ),
        "{:?}",
        h.media
    );
    let callers = h.callers();
    assert_eq!(callers.len(), 1);
    assert_eq!(callers[0].display_name, "Board Room");
    assert_eq!(callers[0].class, ParticipantClass::UntrustedVtc);
    assert_eq!(callers[0].joined_at, "1970-01-01T00:00:00Z");

    let ok = ok.clone();
    h.send(&ack(&ok, ""));
    assert!(h.take_sent().is_empty());
    h.advance(Duration::from_secs(5));
    assert!(
        h.take_sent().is_empty(),
        "no 200 retransmission after the ACK"
    );

    h.send(&in_dialog("BYE", &ok, 2, "", ""));
    assert_eq!(h.codes(), [200]);
    assert!(matches!(h.media.last(), Some(CoreOutput::MediaStop { .. })));
    assert!(h.callers().is_empty());
    assert_eq!(h.core.active_calls(), 0);
}

const OPUS_OFFER: &str =
    "v=0\r\no=room 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 111 102 9 0 101\r\na=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 useinbandfec=1\r\na=rtpmap:102 telephone-event/48000\r\na=fmtp:102 0-15\r\n\
a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n";

const G722_OFFER: &str =
    "v=0\r\no=room 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 9 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n";

/// Dials the demo meeting with `sdp`; the 200's SDP answer and the media commands.
fn dial_with_offer(sdp: &str) -> (String, Vec<CoreOutput>) {
    let mut h = Harness::demo();
    h.send(&invite_with(
        "sip:12345678.1177958860@gw.example.com",
        "c1",
        1,
        "z9hG4bK-c1",
        "board",
        "",
        sdp,
    ));
    let ok = h.final_response();
    assert_eq!(ok.status(), Some(200));
    let answer = std::str::from_utf8(ok.body()).unwrap().to_owned();
    (answer, h.media.clone())
}

#[test]
fn an_opus_offer_is_answered_with_opus_and_starts_opus_media() {
    let (answer, media) = dial_with_offer(OPUS_OFFER);
    assert!(answer.contains("m=audio 20000 RTP/AVP 111 102"), "{answer}");
    assert!(answer.contains("a=rtpmap:111 opus/48000/2"), "{answer}");
    assert!(answer.contains("telephone-event/48000"), "{answer}");
    assert!(!answer.contains("PCMU"), "{answer}");
    assert!(
        matches!(
            media[..],
            [
                CoreOutput::MediaStart {
                    audio: AudioSetup {
                        local_port: 20000,
                        payload_type: 111,
                        codec: PromptCodec::Opus,
                        telephone_event_pt: Some(102),
                        ..
                    },
                    ..
                },
                CoreOutput::MediaJoin { .. },
            ]
        ),
        "{media:?}"
    );
}

#[test]
fn a_g722_offer_is_answered_with_g722_and_starts_g722_media() {
    let (answer, media) = dial_with_offer(G722_OFFER);
    assert!(answer.contains("m=audio 20000 RTP/AVP 9 101"), "{answer}");
    assert!(answer.contains("a=rtpmap:9 G722/8000"), "{answer}");
    assert!(
        matches!(
            media[..],
            [
                CoreOutput::MediaStart {
                    audio: AudioSetup {
                        payload_type: 9,
                        codec: PromptCodec::G722,
                        telephone_event_pt: Some(101),
                        ..
                    },
                    ..
                },
                CoreOutput::MediaJoin { .. },
            ]
        ),
        "{media:?}"
    );
}

#[test]
fn every_dial_format_reaches_the_demo_meeting() {
    for uri in [
        "sip:12345678.1177958860@gw.example.com",
        "sip:1177958860.12345678@gw.example.com",
        "sip:1177958860@video.acme.example",
        "sip:61177958860@gw.example.com",
    ] {
        let mut h = Harness::demo();
        h.send(&invite(uri, "c1"));
        assert_eq!(h.codes(), [100, 200], "{uri}");
        assert_eq!(h.callers().len(), 1, "{uri}");
    }
}

#[test]
fn request_uri_without_dial_string_falls_back_to_to() {
    let mut h = Harness::new();
    let text = invite("sip:12345678.1177958860@gw.example.com", "c1").replacen(
        "INVITE sip:12345678.1177958860@gw.example.com",
        "INVITE sip:gw.example.com",
        1,
    );
    h.send(&text);
    assert_eq!(h.codes(), [100, 200]);
}

#[test]
fn unknown_meetings_and_tenants_get_404_with_a_reason() {
    let mut h = Harness::new();
    h.send(&invite("sip:12345678.1111111111@gw.example.com", "c1"));
    let r = h.final_response();
    assert_eq!(r.status(), Some(404));
    assert_eq!(r.reason(), Some("Not Found - Unknown conference"));
    let reason = r.headers.get(&HeaderName::new("Reason").unwrap()).unwrap();
    assert!(
        reason.contains("unknown conference 1111111111 for tenant 12345678"),
        "{reason}"
    );

    h.send(&invite("sip:99999999.1177958860@gw.example.com", "c2"));
    let r = h.final_response();
    assert_eq!(
        (r.status(), r.reason()),
        (Some(404), Some("Not Found - Unknown tenant"))
    );

    h.send(&invite("sip:alice@gw.example.com", "c3"));
    assert_eq!(h.final_response().status(), Some(404));
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn no_common_codec_gets_488() {
    let mut h = Harness::new();
    let free_ports = h.core.ports.available();
    h.send(&invite_with(
        "sip:12345678.1177958860@gw",
        "c1",
        1,
        "z9hG4bK1",
        "board",
        "",
        G729_OFFER,
    ));
    let r = h.final_response();
    assert_eq!(r.status(), Some(488));
    assert!(
        r.reason().unwrap().contains("No common codec"),
        "{:?}",
        r.reason()
    );
    assert!(r
        .headers
        .get(&HeaderName::new("Warning").unwrap())
        .unwrap()
        .starts_with("305 "));
    assert_eq!(h.core.active_calls(), 0);
    assert_eq!(h.core.ports.available(), free_ports, "the port came back");
    h.send(&invite("sip:12345678.1177958860@gw", "c2"));
    let ok = h.final_response();
    assert!(
        std::str::from_utf8(ok.body())
            .unwrap()
            .contains("m=audio 20004"),
        "the next call gets the next block; the refused one's is reused last"
    );
}

#[test]
fn malformed_requests_get_400_with_the_reason() {
    let mut h = Harness::new();
    let text = invite("sip:12345678.1177958860@gw", "c1").replace("CSeq: 1 INVITE\r\n", "");
    h.send(&text);
    let r = h.final_response();
    assert_eq!(r.status(), Some(400));
    assert_eq!(r.reason(), Some("Bad Request - Missing CSeq"));
    h.send("\x00\x01garbage\r\n\r\n");
    h.send("INVITE sip:x SIP/2.0\r\n\r\n");
    assert!(h.take_sent().is_empty(), "nothing to answer without a Via");
    h.send(&invite_with(
        "sip:12345678.1177958860@gw",
        "c2",
        1,
        "z9hG4bK2",
        "board",
        "",
        "v=0\r\nbogus\r\n",
    ));
    assert_eq!(
        h.final_response().reason(),
        Some("Bad Request - Malformed SDP")
    );
}

#[test]
fn options_is_answered_out_of_dialog() {
    let mut h = Harness::new();
    h.send(
        "OPTIONS sip:gw.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKo\r\n\
         Max-Forwards: 70\r\nFrom: <sip:board@192.0.2.10>;tag=1\r\nTo: <sip:gw.example.com>\r\n\
         Call-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    );
    let r = h.final_response();
    assert_eq!(r.status(), Some(200));
    assert!(r
        .headers
        .get(&HeaderName::ALLOW)
        .unwrap()
        .contains("INVITE"));
}

#[test]
fn responses_follow_rport_to_the_source_port() {
    let mut h = Harness::new();
    let from = Peer {
        transport: Transport::Udp,
        addr: "198.51.100.9:40000".parse::<SocketAddr>().unwrap(),
    };
    h.core.handle_datagram(
        h.now,
        invite("sip:12345678.1177958860@gw", "c1").as_bytes(),
        from,
    );
    let Some(CoreOutput::Transmit { to, .. }) = h.core.poll_output() else {
        panic!()
    };
    assert_eq!(to.addr, from.addr);
}

#[test]
fn content_length_beyond_the_datagram_gets_400() {
    let mut h = Harness::new();
    let text = invite("sip:12345678.1177958860@gw", "c1");
    let head = text.split("\r\n\r\n").next().unwrap();
    let broken = format!(
        "{}\r\n\r\nv=0\r\n",
        head.replace(
            &format!("Content-Length: {}", PCMU_OFFER.len()),
            "Content-Length: 4000"
        )
    );
    h.send(&broken);
    let r = h.final_response();
    assert_eq!(r.status(), Some(400));
    assert_eq!(
        r.reason(),
        Some("Bad Request - Content-Length exceeds datagram")
    );
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn the_core_routes_by_its_in_memory_directory_and_sees_a_new_meeting_once_reloaded() {
    let mut h = Harness::demo();
    // Written to the database but not yet reloaded (a CLI write before the watcher's next
    // check): the core still answers from its snapshot.
    h.dir
        .add_meeting(
            &key(),
            &ConferenceId::new("3000000").unwrap(),
            None,
            PolicyOverrides::default(),
        )
        .unwrap();
    h.send(&invite("sip:12345678.3000000@gw", "c1"));
    assert_eq!(h.final_response().status(), Some(404));

    h.live.reload(&h.dir).unwrap();
    h.send(&invite("sip:12345678.3000000@gw", "c2"));
    assert_eq!(h.final_response().status(), Some(200));
}
