//! Trust classification: trusted networks and URI patterns, PSTN trunks, digest credentials.

use super::*;

#[test]
fn trusted_sources_and_pstn_trunks_are_classified() {
    let mut h = Harness::with(
        |dir| {
            dir.add_trusted_device(&key(), &TrustedDeviceRule::cidr("192.0.2.0/24").unwrap())
                .unwrap();
        },
        |_| {},
    );
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(h.view().participants[0].class, ParticipantClass::TrustedVtc);

    let mut h = Harness::with(
        |_| {},
        |c| c.pstn_trunks = vec!["192.0.2.0/24".parse().unwrap()],
    );
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(h.view().lobby[0].class, ParticipantClass::Pstn);
}

#[test]
fn digest_credentials_are_challenged_make_the_caller_trusted_and_a_replay_gets_401_stale() {
    let realm = crate::directory::realm_of(&key());
    let mut h = Harness::with(
        |dir| {
            let rule = TrustedDeviceRule::digest("room1:correct horse battery", &realm).unwrap();
            dir.add_trusted_device(&key(), &rule).unwrap();
        },
        |_| {},
    );
    let uri = "sip:12345678.1177958860@gw";
    h.send(&invite_with(
        uri, "c1", 1, "z9hG4bKa", "room1", "", PCMU_OFFER,
    ));
    let challenge = h.final_response();
    assert_eq!(challenge.status(), Some(401));
    let www = challenge
        .headers
        .get(&HeaderName::new("WWW-Authenticate").unwrap())
        .unwrap()
        .to_owned();
    assert!(www.contains(&format!("realm=\"{realm}\"")), "{www}");
    let nonce = www
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    let digest = |password: &str| {
        use md5::{Digest, Md5};
        let h = |s: String| hex::encode(Md5::digest(s.as_bytes()));
        let ha1 = h(format!("room1:{realm}:{password}"));
        let ha2 = h(format!("INVITE:{uri}"));
        let response = h(format!("{ha1}:{nonce}:00000001:abcd:auth:{ha2}"));
        format!(
            "Authorization: Digest username=\"room1\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"abcd\"\r\n"
        )
    };
    h.send(&invite_with(
        uri,
        "c1",
        2,
        "z9hG4bKb",
        "room1",
        &digest("wrong password"),
        PCMU_OFFER,
    ));
    assert_eq!(h.final_response().status(), Some(403));
    h.send(&invite_with(
        uri,
        "c1",
        3,
        "z9hG4bKc",
        "room1",
        &digest("correct horse battery"),
        PCMU_OFFER,
    ));
    assert_eq!(h.final_response().status(), Some(200));
    assert_eq!(h.view().participants[0].class, ParticipantClass::TrustedVtc);

    // The captured authenticated INVITE sent again (a new call, the same Authorization): the
    // nonce count is spent, so a fresh challenge, stale.
    h.send(&invite_with(
        uri,
        "c3",
        1,
        "z9hG4bKe",
        "room1",
        &digest("correct horse battery"),
        PCMU_OFFER,
    ));
    let replayed = h.final_response();
    assert_eq!(replayed.status(), Some(401));
    let www = replayed
        .headers
        .get(&HeaderName::new("WWW-Authenticate").unwrap())
        .unwrap();
    assert!(www.contains("stale=true"), "{www}");
    assert!(!www.contains(&nonce), "a new nonce: {www}");
    assert_eq!(h.view().participants.len(), 1, "the replay did not get in");

    // Callers that do not claim a credential are not challenged.
    h.send(&invite_with(
        uri,
        "c2",
        1,
        "z9hG4bKd",
        "lobbyroom",
        "",
        PCMU_OFFER,
    ));
    assert_eq!(h.final_response().status(), Some(200));
}

#[test]
fn a_pinned_client_certificate_makes_a_tls_caller_trusted_until_its_connection_closes() {
    let pinned = "ab".repeat(32);
    let mut h = Harness::with(
        |dir| {
            let rule = TrustedDeviceRule::cert_sha256(&pinned).unwrap();
            dir.add_trusted_device(&key(), &rule).unwrap();
        },
        |_| {},
    );
    let tls = Peer {
        transport: Transport::Tls,
        ..h.peer()
    };
    let uri = "sip:12345678.1177958860@gw";

    let classes = |h: &mut Harness| {
        let view = h.view();
        let waiting = view.lobby.iter().map(|p| p.class);
        let mut classes: Vec<_> = view
            .participants
            .iter()
            .map(|p| p.class)
            .chain(waiting)
            .collect();
        classes.sort_by_key(|c| c.as_str());
        classes
    };
    // Another certificate: untrusted-vtc.
    h.core.handle_client_certificate(tls, "cd".repeat(32));
    h.send_over(Transport::Tls, &invite(uri, "c1"));
    assert_eq!(classes(&mut h), [ParticipantClass::UntrustedVtc]);

    // The pinned one, on a new connection from the same address: trusted-vtc.
    h.core.handle_stream_closed(tls);
    h.core.handle_client_certificate(tls, pinned.clone());
    h.send_over(Transport::Tls, &invite(uri, "c2"));
    assert_eq!(
        classes(&mut h),
        [ParticipantClass::TrustedVtc, ParticipantClass::UntrustedVtc]
    );

    // Once that connection closes its certificate speaks for no one; the same fingerprint
    // claimed for a peer that is not TLS is ignored.
    h.core.handle_stream_closed(tls);
    h.send_over(Transport::Tls, &invite(uri, "c3"));
    h.core.handle_client_certificate(h.peer(), pinned.clone());
    h.send_over(Transport::Udp, &invite(uri, "c4"));
    let untrusted = ParticipantClass::UntrustedVtc;
    assert_eq!(
        classes(&mut h),
        [
            ParticipantClass::TrustedVtc,
            untrusted,
            untrusted,
            untrusted
        ]
    );
}
