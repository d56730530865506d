//! The slates the core shows waiting callers (entry queue, lobby), and when.

use super::*;

/// The slates the core asked for, in order.
fn slates(h: &Harness) -> Vec<Slate> {
    h.media
        .iter()
        .filter_map(|m| match m {
            CoreOutput::ShowSlate { slate, .. } => Some(slate.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn entry_queue_callers_see_the_entry_slate_then_the_retry_slate() {
    let mut h = Harness::demo();
    h.send(&invite("sip:12345678@gw.example.com", "c1"));
    let CoreOutput::MediaStart { call, .. } = h.media[0].clone() else {
        panic!("{:?}", h.media)
    };
    let tenant = match &slates(&h)[..] {
        [Slate::EntryQueue {
            tenant,
            retry: false,
        }] => tenant.clone(),
        other => panic!("{other:?}"),
    };
    assert!(!tenant.is_empty());
    press(&mut h, call, "999999#");
    assert_eq!(
        slates(&h).last(),
        Some(&Slate::EntryQueue {
            tenant,
            retry: true
        })
    );
    // The right ID: into the (open) demo meeting, no further slate.
    let before = slates(&h).len();
    press(&mut h, call, "1177958860#");
    assert_eq!(h.callers().len(), 1);
    assert_eq!(slates(&h).len(), before);
}

#[test]
fn lobby_callers_see_the_lobby_slate_naming_the_meeting() {
    let mut h = Harness::with(
        |dir| {
            dir.add_meeting(
                &key(),
                &ConferenceId::new("2000001").unwrap(),
                Some("Grace Hopper"),
                PolicyOverrides {
                    who_can_bypass: Some(WhoCanBypass::TrustedOrgs),
                    ..PolicyOverrides::default()
                },
            )
            .unwrap();
        },
        |_| {},
    );
    h.send(&invite("sip:12345678.2000001@gw.example.com", "c1"));
    let [Slate::Lobby { meeting, detail }] = &slates(&h)[..] else {
        panic!("{:?}", h.media)
    };
    assert_eq!(meeting, "Grace Hopper's meeting");
    assert!(detail.ends_with("conference 2000001"), "{detail}");
    assert!(Slate::Lobby {
        meeting: meeting.clone(),
        detail: detail.clone()
    }
    .hold_music());
    // Admitted: the meeting's media replaces the slate; no new slate.
    let id = h.view_of("12345678", "2000001").lobby[0].id.clone();
    h.core
        .handle_admin(
            h.now,
            AdminCommand::Admit {
                tenant: "12345678".into(),
                conference: "2000001".into(),
                id,
            },
        )
        .unwrap();
    h.collect();
    assert!(matches!(
        h.media.last(),
        Some(CoreOutput::MediaJoin { .. } | CoreOutput::MediaControl { .. })
    ));
    assert_eq!(slates(&h).len(), 1);
}

#[test]
fn a_call_whose_media_restarts_while_waiting_sees_its_slate_again() {
    let mut h = Harness::demo();
    // An INVITE without SDP: our offer goes in the 200, the answer (and media) in the ACK.
    h.send(&invite_with(
        "sip:12345678@gw.example.com",
        "c1",
        1,
        "z9hG4bK1",
        "board",
        "",
        "",
    ));
    assert!(slates(&h).is_empty(), "no media yet: {:?}", h.media);
    let ok = h.final_response();
    let answer = "v=0\r\no=room 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
                  m=audio 49170 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
                  m=video 0 RTP/AVP 96\r\n";
    h.send(&ack(&ok, answer));
    assert!(
        matches!(&slates(&h)[..], [Slate::EntryQueue { retry: false, .. }]),
        "{:?}",
        h.media
    );
}
