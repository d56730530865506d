//! Behaviour of the offer/answer engine on small hand-written SDPs; the vendor captures are in
//! `tests/sdp_offer_answer.rs`.

use super::*;
use crate::sdp::crypto::{CryptoAttribute, SrtpSuite};
use crate::sdp::h264::{H264Level, H264Profile};
use crate::sdp::text::Attribute;

fn local() -> LocalMedia {
    LocalMedia {
        address: "198.51.100.10".parse().unwrap(),
        audio_port: 40000,
        video_port: 40002,
    }
}

fn session() -> SdpSession {
    SdpSession::new(4242, Capabilities::default(), local())
}

fn sdp(body: &str) -> SessionDescription {
    let text = format!(
        "v=0\r\no=- 7 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n{body}"
    );
    SessionDescription::parse(&text).unwrap()
}

const AUDIO_VIDEO: &str = "m=audio 5004 RTP/AVP 9 0 101\r\na=rtpmap:101 telephone-event/8000\r\n\
     m=video 5006 RTP/AVP 97 98\r\nb=AS:1920\r\n\
     a=rtpmap:97 H264/90000\r\na=fmtp:97 profile-level-id=42e01f\r\n\
     a=rtpmap:98 H264/90000\r\na=fmtp:98 profile-level-id=42e01f;packetization-mode=1\r\n\
     a=rtcp-fb:* nack pli\r\na=rtcp-fb:98 ccm fir\r\na=rtcp-fb:98 ccm tmmbr\r\n";

#[test]
fn answers_with_offerers_payload_types_and_mirrored_direction() {
    let mut s = session();
    let (answer, neg) = s.answer(&sdp(AUDIO_VIDEO)).unwrap();
    assert_eq!(answer.media.len(), 2);
    let audio = neg.audio.unwrap();
    assert_eq!(audio.send.pt, 9);
    assert_eq!(audio.send.codec, Codec::Audio(AudioCodec::G722));
    assert_eq!(audio.telephone_event, Some(101));
    assert_eq!(audio.remote_rtp, Some("203.0.113.5:5004".parse().unwrap()));
    assert_eq!(audio.remote_rtcp, Some("203.0.113.5:5005".parse().unwrap()));
    assert_eq!(answer.media[0].formats, ["9", "101"]);
    assert_eq!(answer.media[0].port, 40000);
    let video = neg.video.unwrap();
    assert_eq!(video.send.pt, 98, "packetization-mode 1 is preferred");
    assert_eq!(
        video.rtcp_fb,
        RtcpFeedback {
            nack: false,
            pli: true,
            fir: true,
            tmmbr: true,
        }
    );
    assert_eq!(video.send_bitrate_bps, 1_920_000);
    let text = answer.to_string();
    assert!(text.contains("a=fmtp:98 profile-level-id=42e01f;packetization-mode=1\r\n"));
    assert!(text.contains("a=rtcp-fb:98 nack pli\r\n"));
    assert!(text.contains("a=rtcp-fb:98 ccm tmmbr\r\n"));
    assert!(!text.contains("a=rtcp-fb:98 nack\r\n"));
}

#[test]
fn packetization_mode_zero_is_accepted_alone() {
    let offer = sdp("m=video 5006 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n\
                     a=fmtp:97 profile-level-id=42801e\r\n");
    let (_, neg) = session().answer(&offer).unwrap();
    let h = neg.video.unwrap().h264.unwrap();
    assert_eq!(h.packetization_mode, 0);
    assert_eq!(h.profile, H264Profile::Baseline);
    assert_eq!(h.send_level, H264Level::L3);
}

#[test]
fn level_is_lowered_to_ours_without_asymmetry() {
    let offer = sdp("m=video 5006 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n\
                     a=fmtp:97 profile-level-id=640033;packetization-mode=1\r\n");
    let (answer, neg) = session().answer(&offer).unwrap();
    let h = neg.video.unwrap().h264.unwrap();
    assert_eq!(h.send_level, H264Level::L4);
    assert_eq!(h.recv_level, H264Level::L4);
    assert!(answer
        .to_string()
        .contains("a=fmtp:97 profile-level-id=640028;packetization-mode=1\r\n"));
}

#[test]
fn level_asymmetry_keeps_our_receive_level_and_their_send_limit() {
    let offer = sdp("m=video 5006 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n\
                     a=fmtp:97 profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1\r\n");
    let (answer, neg) = session().answer(&offer).unwrap();
    let h = neg.video.unwrap().h264.unwrap();
    assert!(h.level_asymmetry_allowed);
    assert_eq!(h.send_level, H264Level::L3_1);
    assert_eq!(h.recv_level, H264Level::L4);
    assert_eq!(h.max_send_resolution(30), (1280, 720));
    assert!(answer.to_string().contains(
        "a=fmtp:97 profile-level-id=42e028;packetization-mode=1;level-asymmetry-allowed=1\r\n"
    ));
}

#[test]
fn sendonly_offer_is_answered_recvonly() {
    let offer = sdp("m=audio 5004 RTP/AVP 0\r\na=sendonly\r\n");
    let (answer, neg) = session().answer(&offer).unwrap();
    let audio = neg.audio.unwrap();
    assert_eq!(audio.direction, Direction::RecvOnly);
    assert!(audio.remote_hold);
    assert!(answer.media[0].has_attribute("recvonly"));
}

#[test]
fn hold_address_means_do_not_send() {
    let text = "v=0\r\no=- 7 2 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
                m=audio 5004 RTP/AVP 0\r\n";
    let (answer, neg) = session()
        .answer(&SessionDescription::parse(text).unwrap())
        .unwrap();
    let audio = neg.audio.unwrap();
    assert!(audio.remote_hold);
    assert_eq!(audio.remote_rtp, None);
    assert_eq!(audio.direction, Direction::RecvOnly);
    assert!(answer.media[0].has_attribute("recvonly"));
}

#[test]
fn inactive_offer_is_answered_inactive() {
    let offer = sdp("m=audio 5004 RTP/AVP 0\r\na=inactive\r\n");
    let (_, neg) = session().answer(&offer).unwrap();
    assert_eq!(neg.audio.unwrap().direction, Direction::Inactive);
}

#[test]
fn rtcp_mux_and_rtcp_attribute_are_honoured() {
    let offer = sdp("m=audio 5004 RTP/AVP 0\r\na=rtcp-mux\r\n\
                     m=video 5006 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n\
                     a=rtcp:6000 IN IP4 192.0.2.9\r\n");
    let (answer, neg) = session().answer(&offer).unwrap();
    let audio = neg.audio.unwrap();
    assert!(audio.rtcp_mux);
    assert_eq!(audio.remote_rtcp, audio.remote_rtp);
    assert!(answer.media[0].has_attribute("rtcp-mux"));
    let video = neg.video.unwrap();
    assert!(!video.rtcp_mux);
    assert_eq!(video.remote_rtcp, Some("192.0.2.9:6000".parse().unwrap()));
}

#[test]
fn opus_takes_telephone_event_at_48k() {
    let offer = sdp(
        "m=audio 5004 RTP/AVP 111 0 101 110\r\na=rtpmap:111 opus/48000/2\r\n\
                     a=rtpmap:101 telephone-event/8000\r\na=rtpmap:110 telephone-event/48000\r\n",
    );
    let (_, neg) = session().answer(&offer).unwrap();
    let audio = neg.audio.unwrap();
    assert_eq!(audio.send.codec, Codec::Audio(AudioCodec::Opus));
    assert_eq!(audio.telephone_event, Some(110));
}

#[test]
fn codec_with_matching_dtmf_clock_wins_over_preferred_one_without() {
    let offer = sdp(
        "m=audio 5004 RTP/AVP 111 9 101\r\na=rtpmap:111 opus/48000/2\r\n\
                     a=rtpmap:101 telephone-event/8000\r\n",
    );
    let (_, neg) = session().answer(&offer).unwrap();
    let audio = neg.audio.unwrap();
    assert_eq!(audio.send.codec, Codec::Audio(AudioCodec::G722));
    assert_eq!(audio.telephone_event, Some(101));
}

#[test]
fn no_common_codec_is_a_488_naming_the_offer() {
    let offer = sdp("m=audio 5004 RTP/AVP 18 101\r\na=rtpmap:101 telephone-event/8000\r\n");
    let err = session().answer(&offer).unwrap_err();
    assert_eq!(err.sip_status(), 488);
    assert_eq!(
        err.to_string(),
        "No common codec: offered audio G729/8000, telephone-event/8000"
    );
}

#[test]
fn unusable_streams_get_port_zero_with_their_formats() {
    let offer = sdp("m=audio 5004 RTP/AVP 0\r\n\
                     m=video 5006 RTP/AVP 34\r\n\
                     m=application 5070 TCP/BFCP *\r\na=floorctrl:c-s\r\n\
                     m=audio 5008 RTP/SAVP 0\r\n");
    let (answer, neg) = session().answer(&offer).unwrap();
    assert_eq!(answer.media.len(), 4);
    assert_eq!(neg.rejected.len(), 3);
    for (m, offered) in answer.media[1..].iter().zip(&offer.media[1..]) {
        assert_eq!(m.port, 0);
        assert_eq!(m.formats, offered.formats);
        assert_eq!(m.proto, offered.proto);
    }
    assert!(neg.rejected[1].reason.contains("BFCP"));
}

#[test]
fn slides_video_is_refused_and_main_video_accepted() {
    let video =
        "a=rtpmap:97 H264/90000\r\na=fmtp:97 profile-level-id=42e01f;packetization-mode=1\r\n";
    let offer = sdp(&format!(
        "m=video 5006 RTP/AVP 97\r\n{video}a=content:main\r\nm=video 5010 RTP/AVP 97\r\n{video}a=content:slides\r\n"
    ));
    let (answer, neg) = session().answer(&offer).unwrap();
    assert_eq!(neg.video.unwrap().index, 0);
    assert_eq!(answer.media[1].port, 0);
    assert!(answer.media[0]
        .attribute_values("content")
        .any(|c| c == "main"));
}

#[test]
fn version_increments_only_when_our_sdp_changes() {
    let mut s = session();
    let (first, _) = s.answer(&sdp(AUDIO_VIDEO)).unwrap();
    assert_eq!(first.origin.session_version, "0");
    let (same, _) = s.answer(&sdp(AUDIO_VIDEO)).unwrap();
    assert_eq!(
        same.origin.session_version, "0",
        "session refresh: unchanged"
    );
    let hold = AUDIO_VIDEO.replace(
        "a=rtcp-fb:* nack pli\r\n",
        "a=rtcp-fb:* nack pli\r\na=sendonly\r\n",
    );
    let (held, neg) = s.answer(&sdp(&format!("a=sendonly\r\n{hold}"))).unwrap();
    assert_eq!(held.origin.session_version, "1");
    assert_eq!(neg.video.unwrap().direction, Direction::RecvOnly);
    let (resumed, _) = s.answer(&sdp(AUDIO_VIDEO)).unwrap();
    assert_eq!(resumed.origin.session_version, "2");
    assert_eq!(resumed.origin.session_id, "4242");
}

#[test]
fn offer_then_answer_negotiates_by_answer_order() {
    let mut s = session();
    let offer = s.create_offer().unwrap();
    assert_eq!(offer.media.len(), 2);
    assert!(offer.to_string().contains("a=rtpmap:111 opus/48000/2\r\n"));
    assert!(offer.to_string().contains(
        "a=fmtp:96 profile-level-id=640028;packetization-mode=1;level-asymmetry-allowed=1\r\n"
    ));
    let answer = sdp("m=audio 5004 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n\
                      m=video 5006 RTP/AVP 99\r\na=rtpmap:99 H264/90000\r\n\
                      a=fmtp:99 profile-level-id=42e01f;packetization-mode=1\r\na=rtcp-fb:99 nack pli\r\n");
    let neg = s.handle_answer(&answer).unwrap();
    let audio = neg.audio.unwrap();
    assert_eq!(audio.send.codec, Codec::Audio(AudioCodec::Pcmu));
    assert_eq!(audio.telephone_event, Some(101));
    let video = neg.video.unwrap();
    let h = video.h264.unwrap();
    assert_eq!(h.send_level, H264Level::L3_1);
    assert_eq!(h.recv_level, H264Level::L3_1, "no asymmetry in the answer");
    assert!(video.rtcp_fb.pli && !video.rtcp_fb.fir);
    assert!(!s.has_pending_offer());
}

#[test]
fn answer_with_wrong_mline_count_is_rejected() {
    let mut s = session();
    s.create_offer().unwrap();
    let err = s
        .handle_answer(&sdp("m=audio 5004 RTP/AVP 0\r\n"))
        .unwrap_err();
    assert!(matches!(err, SdpError::AnswerMismatch { .. }));
}

#[test]
fn glare_and_stray_answers_are_typed() {
    let mut s = session();
    assert_eq!(
        s.handle_answer(&sdp("m=audio 5004 RTP/AVP 0\r\n")),
        Err(SdpError::NoOfferPending)
    );
    s.create_offer().unwrap();
    let err = s.answer(&sdp(AUDIO_VIDEO)).unwrap_err();
    assert_eq!(err.sip_status(), 491);
    s.cancel_offer();
    assert!(s.answer(&sdp(AUDIO_VIDEO)).is_ok());
}

#[test]
fn our_hold_reoffer_keeps_mlines_and_agreed_payloads() {
    let mut s = session();
    let offer = sdp(&format!("{AUDIO_VIDEO}m=application 5070 TCP/BFCP *\r\n"));
    s.answer(&offer).unwrap();
    s.set_local_direction(Direction::SendOnly);
    let reoffer = s.create_offer().unwrap();
    assert_eq!(reoffer.origin.session_version, "1");
    assert_eq!(reoffer.media.len(), 3);
    assert_eq!(reoffer.media[0].formats, ["9", "101"]);
    assert_eq!(reoffer.media[1].formats, ["98"]);
    assert_eq!(reoffer.media[2].port, 0);
    assert!(reoffer.media[0].has_attribute("sendonly"));
    let reply = sdp(&format!(
        "{}m=application 0 TCP/BFCP *\r\n",
        AUDIO_VIDEO.replace(
            "a=rtcp-fb:* nack pli\r\n",
            "a=rtcp-fb:* nack pli\r\na=recvonly\r\n"
        )
    ));
    let reply = SessionDescription {
        media: reply
            .media
            .into_iter()
            .enumerate()
            .map(|(i, mut m)| {
                if i == 0 {
                    m.attributes.push(Attribute::flag("recvonly"));
                }
                m
            })
            .collect(),
        ..reply
    };
    let neg = s.handle_answer(&reply).unwrap();
    assert_eq!(neg.audio.unwrap().direction, Direction::SendOnly);
    assert_eq!(neg.video.unwrap().direction, Direction::SendOnly);
    s.set_local_direction(Direction::SendRecv);
    let resume = s.create_offer().unwrap();
    assert_eq!(resume.origin.session_version, "2");
    assert!(resume.media[0].has_attribute("sendrecv"));
}

#[test]
fn offer_without_media_is_a_488() {
    let err = session().answer(&sdp("")).unwrap_err();
    assert_eq!(
        err,
        SdpError::NoCommonCodec {
            reason: "No common codec: offered no audio or video".into()
        }
    );
}

#[test]
fn host_name_connection_refuses_the_stream() {
    let text = "v=0\r\no=- 7 1 IN IP4 h\r\ns=-\r\nc=IN IP4 vtc.example.com\r\nt=0 0\r\n\
                m=audio 5004 RTP/AVP 0\r\n";
    let err = session()
        .answer(&SessionDescription::parse(text).unwrap())
        .unwrap_err();
    assert_eq!(err.sip_status(), 488);
}

fn keyed_session() -> SdpSession {
    let mut s = session();
    s.set_srtp_keys(Some(LocalSrtpKeys {
        audio: [0xA1; 30],
        video: [0xB2; 30],
    }));
    s
}

/// 30 bytes (AES-CM key and salt) in base64: the far end's key.
const THEIR_KEY: &str = "YUJDZGVmZ2hpSktMbW9QUXJzVFV2d3l6MTIzNDU2";

fn sdes_offer(proto: &str, crypto: &str) -> SessionDescription {
    sdp(&format!(
        "m=audio 5004 {proto} 0\r\na=crypto:{crypto}\r\n\
         m=video 5006 {proto} 97\r\na=rtpmap:97 H264/90000\r\n\
         a=fmtp:97 profile-level-id=42e01f;packetization-mode=1\r\na=crypto:{crypto}\r\n"
    ))
}

#[test]
fn sdes_offer_is_answered_with_their_tag_and_suite_and_our_own_key_per_stream() {
    for proto in ["RTP/SAVP", "RTP/SAVPF"] {
        let offer = sdes_offer(
            proto,
            &format!("7 AES_CM_128_HMAC_SHA1_32 inline:{THEIR_KEY}|2^31"),
        );
        let (answer, neg) = keyed_session().answer(&offer).unwrap();
        assert_eq!(answer.media[0].proto, proto);
        let audio = neg.audio.unwrap().srtp.unwrap();
        assert_eq!(
            (audio.tag, audio.suite),
            (7, SrtpSuite::AesCm128HmacSha1_32)
        );
        assert_eq!(audio.remote_master, b"aBCdefghiJKLmoPQrsTUvwyz123456");
        assert_eq!(audio.local_master, [0xA1; 30]);
        let video = neg.video.unwrap().srtp.unwrap();
        assert_eq!(
            video.local_master, [0xB2; 30],
            "audio and video keys differ"
        );
        let written: Vec<_> = answer.media[1].attribute_values("crypto").collect();
        let line = CryptoAttribute::parse(written[0]).unwrap();
        assert_eq!(written.len(), 1);
        assert_eq!((line.tag, line.suite), (7, SrtpSuite::AesCm128HmacSha1_32));
        assert_eq!(line.master, [0xB2; 30]);
    }
}

#[test]
fn gcm_offer_gets_a_key_and_salt_of_gcm_length() {
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==";
    let offer = sdes_offer("RTP/SAVP", &format!("1 AEAD_AES_128_GCM inline:{key}"));
    let (_, neg) = keyed_session().answer(&offer).unwrap();
    let audio = neg.audio.unwrap().srtp.unwrap();
    assert_eq!(audio.suite, SrtpSuite::AeadAes128Gcm);
    assert_eq!(
        (audio.local_master.len(), audio.remote_master.len()),
        (28, 28)
    );
}

#[test]
fn sdes_offer_without_keys_or_usable_lines_is_a_488_naming_why() {
    let offer = sdes_offer(
        "RTP/SAVP",
        &format!("1 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY}"),
    );
    let (answer, neg) = session()
        .answer(&sdp(&format!(
            "m=audio 5002 RTP/AVP 0\r\n{}",
            offer.media[0]
        )))
        .unwrap();
    assert_eq!(answer.media[1].port, 0, "no keys: the SAVP line is refused");
    assert!(
        neg.rejected[0].reason.contains("TLS"),
        "{}",
        neg.rejected[0].reason
    );
    let err = session().answer(&offer).unwrap_err();
    assert_eq!(err.sip_status(), 488);
    let mki = sdes_offer(
        "RTP/SAVP",
        &format!("1 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY}|2^20|1:4"),
    );
    let err = keyed_session().answer(&mki).unwrap_err();
    assert_eq!(err.sip_status(), 488);
}

#[test]
fn hold_reoffer_of_an_sdes_call_keeps_our_keys_and_reads_the_answers() {
    let mut s = keyed_session();
    let crypto = format!("3 AES_CM_128_HMAC_SHA1_80 inline:{THEIR_KEY}");
    let (first, _) = s.answer(&sdes_offer("RTP/SAVP", &crypto)).unwrap();
    s.set_local_direction(Direction::SendOnly);
    let reoffer = s.create_offer().unwrap();
    assert_eq!(reoffer.media[0].proto, "RTP/SAVP");
    assert_eq!(
        reoffer.media[0]
            .attribute_values("crypto")
            .collect::<Vec<_>>(),
        first.media[0]
            .attribute_values("crypto")
            .collect::<Vec<_>>()
    );
    let new_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";
    let reply = sdes_offer(
        "RTP/SAVP",
        &format!("3 AES_CM_128_HMAC_SHA1_80 inline:{new_key}"),
    );
    let neg = s.handle_answer(&reply).unwrap();
    let audio = neg.audio.unwrap().srtp.unwrap();
    assert_eq!(audio.local_master, [0xA1; 30]);
    assert_eq!(audio.remote_master, (0u8..30).collect::<Vec<_>>());
    s.set_local_direction(Direction::SendRecv);
    s.create_offer().unwrap();
    let wrong_tag = sdes_offer(
        "RTP/SAVP",
        &format!("4 AES_CM_128_HMAC_SHA1_80 inline:{new_key}"),
    );
    assert!(
        s.handle_answer(&wrong_tag).is_err(),
        "an answer must echo our tag"
    );
}
