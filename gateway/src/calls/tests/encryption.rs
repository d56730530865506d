//! The tenant's media encryption policy on whole INVITEs: a `required` tenant refuses clear-text
//! offers and clear signalling with 488 and a `Warning`, takes SRTP over TLS, and takes SRTP over
//! UDP only when the tenant lets SDES keys travel in clear text.

use signaling::sdp::SessionDescription;

use super::*;
use crate::directory::MediaEncryption;

/// Audio and video offered as SDES-SRTP (RFC 4568), one AES_CM_128_HMAC_SHA1_80 key per stream.
const SRTP_OFFER: &str =
    "v=0\r\no=room 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 49170 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n\
m=video 49172 RTP/SAVP 109\r\na=rtpmap:109 H264/90000\r\n\
a=fmtp:109 profile-level-id=42e01f;packetization-mode=1\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj\r\n";

fn policy(encryption: MediaEncryption, sdes_over_clear: bool) -> impl FnOnce(&mut Directory) {
    move |dir| {
        dir.update_tenant(
            &key(),
            &TenantUpdate {
                media_encryption: Some(encryption),
                sdes_over_clear: Some(sdes_over_clear),
                ..TenantUpdate::default()
            },
        )
        .unwrap();
    }
}

fn offer(call_id: &str, sdp: &str) -> String {
    invite_with(
        "sip:12345678.1177958860@gw",
        call_id,
        1,
        &format!("z9hG4bK-{call_id}"),
        "board",
        "",
        sdp,
    )
}

fn warning(m: &Message) -> String {
    m.headers
        .get(&HeaderName::new("Warning").unwrap())
        .unwrap_or_default()
        .to_owned()
}

fn refused_for_encryption(h: &Harness) -> u64 {
    h.metrics
        .calls_refused_total
        .with_label_values(&["12345678", "encryption-required"])
        .get()
}

/// The keys each started call's media got: (audio keyed, video keyed).
fn keyed_media(h: &Harness) -> Vec<(bool, bool)> {
    h.media
        .iter()
        .filter_map(|m| match m {
            CoreOutput::MediaStart { srtp, .. } => {
                Some((srtp.audio.is_some(), srtp.video.is_some()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_clear_text_offer_over_tls_to_a_required_tenant_gets_488_saying_encryption_is_required() {
    let mut h = Harness::with(policy(MediaEncryption::Required, false), |_| {});
    h.send_over(Transport::Tls, &offer("clear", PCMU_OFFER));
    let refusal = h.final_response();
    assert_eq!(refusal.status(), Some(488));
    assert_eq!(
        refusal.reason(),
        Some("Not Acceptable Here - media encryption required")
    );
    let warning = warning(&refusal);
    assert!(warning.starts_with("399 203.0.113.1 "), "{warning}");
    assert!(
        warning.contains("media encryption is required: offer RTP/SAVP with a=crypto"),
        "{warning}"
    );
    assert_eq!(refused_for_encryption(&h), 1);
    assert_eq!(h.media_starts(), 0);
    assert_eq!(licences_in_use(&h), 0, "the refused call holds no licence");
}

#[test]
fn an_srtp_offer_over_udp_to_a_required_tenant_gets_488_asking_for_tls() {
    let mut h = Harness::with(policy(MediaEncryption::Required, false), |_| {});
    h.send(&offer("udp", SRTP_OFFER));
    let refusal = h.final_response();
    assert_eq!(refusal.status(), Some(488));
    assert!(
        warning(&refusal).contains("call over TLS (sips:)"),
        "{}",
        warning(&refusal)
    );
    assert_eq!(refused_for_encryption(&h), 1);
}

#[test]
fn an_srtp_offer_over_tls_to_a_required_tenant_is_answered_with_keys_and_keyed_media() {
    let mut h = Harness::with(policy(MediaEncryption::Required, false), |_| {});
    h.send_over(Transport::Tls, &offer("srtp", SRTP_OFFER));
    let ok = h.final_response();
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    let answer = SessionDescription::parse(std::str::from_utf8(ok.body()).unwrap()).unwrap();
    for media in &answer.media {
        assert_eq!(media.proto, "RTP/SAVP");
        assert_eq!(media.attribute_values("crypto").count(), 1);
    }
    h.send(&ack(&ok, ""));
    assert_eq!(keyed_media(&h), vec![(true, true)]);
    assert_eq!(refused_for_encryption(&h), 0);
}

#[test]
fn sdes_over_clear_lets_a_required_tenant_take_srtp_over_udp_but_still_not_clear_rtp() {
    let mut h = Harness::with(policy(MediaEncryption::Required, true), |_| {});
    h.send(&offer("udp-srtp", SRTP_OFFER));
    let ok = h.final_response();
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    h.send(&ack(&ok, ""));
    assert_eq!(keyed_media(&h), vec![(true, true)]);

    h.send(&offer("udp-clear", PCMU_OFFER));
    assert_eq!(h.final_response().status(), Some(488));
    assert_eq!(refused_for_encryption(&h), 1);
}

#[test]
fn an_optional_tenant_takes_clear_rtp_and_refuses_sdes_keys_over_udp() {
    let mut h = Harness::with(policy(MediaEncryption::Optional, false), |_| {});
    h.send(&offer("clear", PCMU_OFFER));
    let ok = h.final_response();
    assert_eq!(ok.status(), Some(200));
    h.send(&ack(&ok, ""));
    assert_eq!(keyed_media(&h), vec![(false, false)]);

    // Keys may not travel over UDP: the SDES lines cannot be accepted (the 305 of negotiation,
    // not the policy's refusal).
    h.send(&offer("udp-srtp", SRTP_OFFER));
    let refusal = h.final_response();
    assert_eq!(refusal.status(), Some(488));
    assert!(
        warning(&refusal).starts_with("305 "),
        "{}",
        warning(&refusal)
    );
    assert_eq!(refused_for_encryption(&h), 0);
}

#[test]
fn a_call_to_a_required_tenant_cannot_fall_back_to_clear_rtp_in_a_re_invite() {
    let mut h = Harness::with(policy(MediaEncryption::Required, false), |_| {});
    h.send_over(Transport::Tls, &offer("srtp", SRTP_OFFER));
    let ok = h.final_response();
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    h.send_over(Transport::Tls, &ack(&ok, ""));
    let started = h.media.len();

    let reinvite = in_dialog(
        "INVITE",
        &ok,
        2,
        "Contact: <sips:board@192.0.2.10>\r\nContent-Type: application/sdp\r\n",
        PCMU_OFFER,
    );
    h.send_over(Transport::Tls, &reinvite);
    let refusal = h.final_response();
    assert_eq!(refusal.status(), Some(488), "{refusal:?}");
    assert!(
        warning(&refusal).contains("media encryption is required"),
        "{}",
        warning(&refusal)
    );
    assert_eq!(h.media.len(), started, "the keyed media keeps running");

    // The same re-offer with keys is answered.
    let reinvite = in_dialog(
        "INVITE",
        &ok,
        3,
        "Contact: <sips:board@192.0.2.10>\r\nContent-Type: application/sdp\r\n",
        SRTP_OFFER,
    );
    h.send_over(Transport::Tls, &reinvite);
    assert_eq!(h.final_response().status(), Some(200));
}
