//! SDP offer/answer against offers written the way Poly, Cisco, Lifesize, baresip and SIP trunks
//! send them (`tests/data/sdp/`), the hold/resume re-INVITE dance, and proptests for the RFC 3264
//! invariants: the parser never panics, every offered m-line is answered, and an accepted stream
//! only ever uses a payload type the offer listed.

use proptest::prelude::*;
use signaling::sdp::{
    AudioCodec, Capabilities, Codec, Direction, H264Level, H264Profile, LocalMedia, RtcpFeedback,
    SdpError, SdpSession, SessionDescription,
};

const POLYCOM: &str = include_str!("data/sdp/polycom_group_series_offer.sdp");
const CISCO: &str = include_str!("data/sdp/cisco_webex_room_offer.sdp");
const LIFESIZE: &str = include_str!("data/sdp/lifesize_icon_offer.sdp");
const BARESIP: &str = include_str!("data/sdp/baresip_offer.sdp");
const PCMU_ONLY: &str = include_str!("data/sdp/audio_only_pcmu_offer.sdp");
const G729_ONLY: &str = include_str!("data/sdp/g729_only_offer.sdp");
const BFCP_VIDEO: &str = include_str!("data/sdp/bfcp_and_video_only_offer.sdp");

const ANSWERABLE: [(&str, &str); 6] = [
    ("polycom", POLYCOM),
    ("cisco", CISCO),
    ("lifesize", LIFESIZE),
    ("baresip", BARESIP),
    ("pcmu", PCMU_ONLY),
    ("bfcp+video", BFCP_VIDEO),
];

fn local() -> LocalMedia {
    LocalMedia {
        address: "198.51.100.10".parse().unwrap(),
        audio_port: 40000,
        video_port: 40002,
    }
}

fn gateway() -> SdpSession {
    SdpSession::new(1_000_001, Capabilities::default(), local())
}

/// Fixtures are stored with LF line ends; real SIP bodies use CRLF, so tests parse both.
fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

fn parse(text: &str) -> SessionDescription {
    SessionDescription::parse(&crlf(text)).unwrap_or_else(|e| panic!("fixture must parse: {e}"))
}

#[test]
fn every_fixture_parses_with_lf_and_crlf_identically() {
    for (name, text) in ANSWERABLE.iter().chain([("g729", G729_ONLY)].iter()) {
        let lf = SessionDescription::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(lf, parse(text), "{name}");
    }
}

#[test]
fn every_offered_mline_is_answered_in_order_with_port_zero_for_refusals() {
    for (name, text) in ANSWERABLE {
        let offer = parse(text);
        let (answer, negotiated) = gateway()
            .answer(&offer)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(answer.media.len(), offer.media.len(), "{name}");
        for (index, (ours, theirs)) in answer.media.iter().zip(&offer.media).enumerate() {
            assert_eq!(ours.media, theirs.media, "{name} m-line {index}");
            assert_eq!(ours.proto, theirs.proto, "{name} m-line {index}");
            let accepted = negotiated.streams().any(|s| s.index == index);
            if accepted {
                assert_ne!(ours.port, 0, "{name} m-line {index}");
                for pt in &ours.formats {
                    assert!(
                        theirs.formats.contains(pt),
                        "{name}: answered PT {pt} not offered"
                    );
                }
            } else {
                assert_eq!(ours.port, 0, "{name} m-line {index}");
                assert_eq!(ours.formats, theirs.formats, "{name} m-line {index}");
                assert!(negotiated.rejected.iter().any(|r| r.index == index));
            }
        }
        let reparsed = SessionDescription::parse(&answer.to_string()).unwrap();
        assert_eq!(reparsed, answer, "{name}: our answer re-parses to itself");
    }
}

#[test]
fn polycom_group_series_gets_g722_and_high_profile_with_content_refused() {
    let (answer, neg) = gateway().answer(&parse(POLYCOM)).unwrap();
    let audio = neg.audio.as_ref().unwrap();
    assert_eq!(audio.send.codec, Codec::Audio(AudioCodec::G722));
    assert_eq!((audio.send.pt, audio.telephone_event), (9, Some(101)));
    assert_eq!(audio.remote_rtp, Some("192.0.2.20:49152".parse().unwrap()));
    assert_eq!(audio.direction, Direction::SendRecv);

    let video = neg.video.as_ref().unwrap();
    assert_eq!(video.send.pt, 109);
    let h264 = video.h264.as_ref().unwrap();
    assert_eq!(h264.profile, H264Profile::High);
    assert_eq!(h264.packetization_mode, 1);
    assert_eq!(h264.send_level, H264Level::L3_2);
    assert_eq!(h264.recv_level, H264Level::L3_2);
    assert_eq!(h264.remote_max_fs, Some(8160));
    assert_eq!(h264.remote_max_mbps, Some(245_000));
    assert_eq!(h264.max_send_resolution(30), (1920, 1080));
    assert_eq!(video.rtcp_fb, RtcpFeedback::ALL);
    assert_eq!(video.send_bitrate_bps, 2_048_000);

    let rejected: Vec<_> = neg.rejected.iter().map(|r| r.index).collect();
    assert_eq!(
        rejected,
        [2, 3, 4],
        "BFCP, slides video and H.224 camera control"
    );
    let text = answer.to_string();
    assert!(text.contains("m=application 0 TCP/BFCP *\r\n"));
    assert!(text.contains("m=video 0 RTP/AVP 109 110 96 34\r\n"));
    assert!(text.contains("a=fmtp:109 profile-level-id=640020;packetization-mode=1\r\n"));
    // TMMBR is answered (TMMBN) and sent (to ask for what the tiles need).
    assert!(text.contains("a=rtcp-fb:109 ccm tmmbr\r\n"));
}

#[test]
fn cisco_room_gets_opus_with_48k_dtmf_and_honours_max_fs_and_max_mbps() {
    let (_, neg) = gateway().answer(&parse(CISCO)).unwrap();
    let audio = neg.audio.as_ref().unwrap();
    assert_eq!(audio.send.codec, Codec::Audio(AudioCodec::Opus));
    assert_eq!((audio.send.pt, audio.telephone_event), (114, Some(106)));
    assert_eq!(audio.send_bitrate_bps, 128_000);

    let video = neg.video.as_ref().unwrap();
    assert_eq!(video.send.pt, 126, "mode 1 over mode 0");
    let h264 = video.h264.as_ref().unwrap();
    assert_eq!(h264.profile, H264Profile::ConstrainedBaseline);
    assert_eq!(h264.send_level, H264Level::L2_2);
    assert_eq!(h264.send_limits.max_fs, 8160);
    assert_eq!(h264.send_limits.max_mbps, 489_000);
    assert_eq!(h264.send_limits.max_br_kbps, 6000);
    assert_eq!(h264.max_send_resolution(30), (1920, 1080));
    assert_eq!(h264.max_send_resolution(60), (1280, 720));
    assert_eq!(
        video.rtcp_fb,
        RtcpFeedback {
            nack: false,
            pli: true,
            fir: true,
            tmmbr: true,
        }
    );
    assert_eq!(video.send_bitrate_bps, 4_000_000, "our 4 Mbit/s cap");
    assert_eq!(neg.rejected.len(), 3, "slides, UDP/BFCP, H.224");
    assert!(neg.rejected[0].reason.contains("slides"));
}

#[test]
fn lifesize_icon_gets_baseline_h264_at_its_level() {
    let (_, neg) = gateway().answer(&parse(LIFESIZE)).unwrap();
    assert_eq!(
        neg.audio.as_ref().unwrap().send.codec,
        Codec::Audio(AudioCodec::G722)
    );
    let video = neg.video.as_ref().unwrap();
    let h264 = video.h264.as_ref().unwrap();
    assert_eq!(h264.profile, H264Profile::Baseline);
    assert_eq!(h264.send_level, H264Level::L3_1);
    assert_eq!(h264.max_send_resolution(30), (1920, 1080), "max-fs=8192");
    assert_eq!(video.rtcp_fb, RtcpFeedback::default(), "none offered");
    assert_eq!(video.send_bitrate_bps, 2_048_000);
}

#[test]
fn baresip_gets_g722_for_dtmf_and_rtcp_mux() {
    let (answer, neg) = gateway().answer(&parse(BARESIP)).unwrap();
    let audio = neg.audio.as_ref().unwrap();
    assert_eq!(
        audio.send.codec,
        Codec::Audio(AudioCodec::G722),
        "opus is offered without telephone-event/48000"
    );
    assert_eq!(audio.telephone_event, Some(101));
    assert!(audio.rtcp_mux);
    assert_eq!(audio.remote_rtcp, audio.remote_rtp);
    assert_eq!(audio.remote_ptime_ms, Some(20));
    let video = neg.video.as_ref().unwrap();
    assert_eq!(video.send.pt, 103);
    let h264 = video.h264.as_ref().unwrap();
    assert_eq!(h264.send_level, H264Level::L4, "4.2 offered, we stop at 4");
    assert!(answer.media[1].has_attribute("rtcp-mux"));
}

#[test]
fn audio_only_pcmu_offer_gets_pcmu_and_no_video() {
    let (answer, neg) = gateway().answer(&parse(PCMU_ONLY)).unwrap();
    assert_eq!(answer.media.len(), 1);
    let audio = neg.audio.as_ref().unwrap();
    assert_eq!((audio.send.pt, audio.telephone_event), (0, Some(101)));
    assert_eq!(audio.remote_rtcp, Some("192.0.2.50:24581".parse().unwrap()));
    assert!(neg.video.is_none());
}

#[test]
fn g729_only_offer_is_refused_with_488_naming_the_codecs() {
    let err = gateway().answer(&parse(G729_ONLY)).unwrap_err();
    assert_eq!(err.sip_status(), 488);
    assert!(matches!(err, SdpError::NoCommonCodec { .. }));
    assert_eq!(
        err.to_string(),
        "No common codec: offered audio G729/8000, telephone-event/8000"
    );
}

#[test]
fn bfcp_and_video_without_audio_accepts_video_only() {
    let (answer, neg) = gateway().answer(&parse(BFCP_VIDEO)).unwrap();
    assert!(neg.audio.is_none());
    let video = neg.video.as_ref().unwrap();
    assert_eq!(video.index, 1);
    assert_eq!(video.h264.as_ref().unwrap().profile, H264Profile::High);
    assert!(video.rtcp_fb.fir && !video.rtcp_fb.pli);
    assert_eq!(answer.media[0].port, 0);
    assert_eq!(answer.media[0].proto, "TCP/TLS/BFCP");
    assert!(answer.media[1]
        .attribute_values("content")
        .any(|c| c == "main"));
}

#[test]
fn polycom_hold_and_resume_reinvites_mirror_direction_and_bump_our_version() {
    let mut gw = gateway();
    let (first, _) = gw.answer(&parse(POLYCOM)).unwrap();
    assert_eq!(first.origin.session_version, "0");

    let hold = POLYCOM
        .replace("o=GroupSeries 1804289383 0", "o=GroupSeries 1804289383 1")
        .replace("a=sendrecv", "a=sendonly");
    let (held, neg) = gw.answer(&parse(&hold)).unwrap();
    assert_eq!(held.origin.session_version, "1");
    assert_eq!(held.origin.session_id, first.origin.session_id);
    for stream in neg.streams() {
        assert_eq!(stream.direction, Direction::RecvOnly);
        assert!(stream.remote_hold);
    }
    assert!(held.media[0].has_attribute("recvonly"));
    assert_eq!(held.media.len(), first.media.len());

    let old_style_hold = POLYCOM.replace("c=IN IP4 192.0.2.20", "c=IN IP4 0.0.0.0");
    let (_, neg) = gw.answer(&parse(&old_style_hold)).unwrap();
    let audio = neg.audio.as_ref().unwrap();
    assert!(audio.remote_hold);
    assert_eq!(audio.remote_rtp, None, "c=0.0.0.0: send nothing");
    assert_eq!(audio.direction, Direction::RecvOnly);

    let (resumed, neg) = gw.answer(&parse(POLYCOM)).unwrap();
    assert_eq!(resumed.origin.session_version, "2");
    assert_eq!(neg.audio.as_ref().unwrap().direction, Direction::SendRecv);
    assert!(!neg.audio.as_ref().unwrap().remote_hold);
}

#[test]
fn two_gateways_agree_on_opus_and_high_profile() {
    let mut caller = SdpSession::new(1, Capabilities::default(), local());
    let mut callee = gateway();
    let offer = caller.create_offer().unwrap();
    let offer = SessionDescription::parse(&offer.to_string()).unwrap();
    let (answer, callee_view) = callee.answer(&offer).unwrap();
    let caller_view = caller
        .handle_answer(&SessionDescription::parse(&answer.to_string()).unwrap())
        .unwrap();
    for view in [&caller_view, &callee_view] {
        let audio = view.audio.as_ref().unwrap();
        assert_eq!(audio.send.codec, Codec::Audio(AudioCodec::Opus));
        assert_eq!(audio.telephone_event, Some(110));
        assert!(audio.rtcp_mux);
        let h264 = view.video.as_ref().unwrap().h264.as_ref().unwrap();
        assert_eq!(h264.profile, H264Profile::High);
        assert_eq!(h264.packetization_mode, 1);
        assert_eq!(
            (h264.send_level, h264.recv_level),
            (H264Level::L4, H264Level::L4)
        );
    }
    assert_eq!(
        caller_view.video.as_ref().unwrap().send.pt,
        callee_view.video.as_ref().unwrap().send.pt
    );
}

#[test]
fn offer_for_invite_without_sdp_then_vtc_answer_in_ack() {
    let mut gw = gateway();
    let offer = gw.create_offer().unwrap();
    let text = offer.to_string();
    assert!(text.starts_with("v=0\r\no=tessera 1000001 0 IN IP4 198.51.100.10\r\n"));
    assert!(text.contains("m=audio 40000 RTP/AVP 111 9 0 8 110 101\r\n"));
    assert!(text.contains("b=AS:4000\r\n"));
    // A Lifesize-style answer: G.722 and Baseline H.264 at level 3.1.
    let answer = parse(
        "v=0\no=LifeSize 1 1 IN IP4 192.0.2.40\ns=-\nc=IN IP4 192.0.2.40\nt=0 0\n\
         m=audio 60000 RTP/AVP 9 101\na=rtpmap:101 telephone-event/8000\n\
         m=video 60002 RTP/AVP 100\nb=AS:1024\na=rtpmap:100 H264/90000\n\
         a=fmtp:100 profile-level-id=42e01f;packetization-mode=1\na=rtcp-fb:100 ccm fir\n",
    );
    let neg = gw.handle_answer(&answer).unwrap();
    assert_eq!(
        neg.audio.as_ref().unwrap().send.codec,
        Codec::Audio(AudioCodec::G722)
    );
    let video = neg.video.as_ref().unwrap();
    assert_eq!(video.send.pt, 100);
    assert_eq!(video.send_bitrate_bps, 1_024_000);
    assert_eq!(video.h264.as_ref().unwrap().send_level, H264Level::L3_1);
}

// ---------------------------------------------------------------- proptests

/// One random m-section built from realistic parts.
fn media_section() -> impl Strategy<Value = String> {
    let kind = prop::sample::select(vec!["audio", "video", "application", "text"]);
    let proto = prop::sample::select(vec!["RTP/AVP", "RTP/AVPF", "RTP/SAVP", "TCP/BFCP"]);
    let port = prop_oneof![Just(0u16), 1024u16..65535];
    let formats = prop::sample::subsequence(
        vec![
            ("0", ""),
            ("8", ""),
            ("9", ""),
            ("18", ""),
            ("34", ""),
            ("96", "a=rtpmap:96 opus/48000/2\r\n"),
            ("97", "a=rtpmap:97 H264/90000\r\n"),
            ("98", "a=rtpmap:98 H264/90000\r\na=fmtp:98 packetization-mode=1;profile-level-id=640028\r\n"),
            ("99", "a=rtpmap:99 H264/90000\r\na=fmtp:99 packetization-mode=2\r\n"),
            ("101", "a=rtpmap:101 telephone-event/8000\r\n"),
            ("110", "a=rtpmap:110 telephone-event/48000\r\n"),
            ("*", ""),
        ],
        0..8,
    );
    let plid = "[0-9a-fA-F]{6}";
    let direction = prop::sample::select(vec![
        "",
        "a=sendonly\r\n",
        "a=recvonly\r\n",
        "a=inactive\r\n",
        "a=sendrecv\r\n",
    ]);
    let extras = prop::sample::select(vec![
        "",
        "a=rtcp-mux\r\n",
        "c=IN IP4 0.0.0.0\r\n",
        "a=content:slides\r\n",
        "b=TIAS:64000\r\na=rtcp:9 IN IP4 192.0.2.1\r\n",
    ]);
    (kind, port, proto, formats, plid, direction, extras).prop_map(
        |(kind, port, proto, formats, plid, direction, extras)| {
            let list: Vec<&str> = formats.iter().map(|(f, _)| *f).collect();
            let mut out = format!("m={kind} {port} {proto} {}\r\n{extras}", list.join(" "));
            for (_, attrs) in &formats {
                out.push_str(attrs);
            }
            out.push_str(&format!("a=fmtp:97 profile-level-id={plid}\r\n{direction}"));
            out
        },
    )
}

fn offer_text() -> impl Strategy<Value = String> {
    prop::collection::vec(media_section(), 0..6).prop_map(|sections| {
        format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n{}",
            sections.concat()
        )
    })
}

proptest! {
    #[test]
    fn parser_never_panics_on_arbitrary_text(text in "\\PC*") {
        let _ = SessionDescription::parse(&text);
    }

    #[test]
    fn parser_and_answerer_never_panic_on_line_soup(
        lines in prop::collection::vec("[a-z]=[ -~]{0,40}", 0..40)
    ) {
        let text = format!("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n{}", lines.join("\r\n"));
        if let Ok(offer) = SessionDescription::parse(&text) {
            let _ = gateway().answer(&offer);
            let again = SessionDescription::parse(&offer.to_string()).unwrap();
            prop_assert_eq!(again.to_string(), offer.to_string());
        }
    }

    #[test]
    fn damaged_vendor_offers_never_panic(
        which in 0usize..6, drop in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        garble in "[ -~]{0,20}", at in any::<prop::sample::Index>(),
    ) {
        let mut lines: Vec<String> = ANSWERABLE[which].1.lines().map(str::to_owned).collect();
        for index in drop {
            if lines.len() > 2 {
                let i = index.index(lines.len());
                lines.remove(i);
            }
        }
        let i = at.index(lines.len());
        lines[i].push_str(&garble);
        if let Ok(offer) = SessionDescription::parse(&lines.join("\r\n")) {
            if let Ok((answer, _)) = gateway().answer(&offer) {
                prop_assert_eq!(answer.media.len(), offer.media.len());
            }
        }
    }

    #[test]
    fn answer_has_one_mline_per_offered_mline_and_uses_offered_payload_types(text in offer_text()) {
        let offer = SessionDescription::parse(&text).unwrap();
        match gateway().answer(&offer) {
            Ok((answer, negotiated)) => {
                prop_assert_eq!(answer.media.len(), offer.media.len());
                for stream in negotiated.streams() {
                    let offered = &offer.media[stream.index].formats;
                    prop_assert!(offered.contains(&stream.send.pt.to_string()));
                    for mapping in &stream.payload_types {
                        prop_assert!(offered.contains(&mapping.pt.to_string()));
                    }
                    prop_assert_ne!(answer.media[stream.index].port, 0);
                }
                for rejected in &negotiated.rejected {
                    let ours = &answer.media[rejected.index];
                    prop_assert_eq!(ours.port, 0);
                    prop_assert_eq!(&ours.formats, &offer.media[rejected.index].formats);
                }
                let reparsed = SessionDescription::parse(&answer.to_string()).unwrap();
                prop_assert_eq!(reparsed, answer);
            }
            Err(e) => prop_assert_eq!(e.sip_status(), 488, "{}", e),
        }
    }
}
