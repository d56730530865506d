//! The lobby and the operator: waiting, admit, deny, timeout, synthetic participants, removal,
//! policy changes from the directory, and the live-meeting list.

use super::*;

#[test]
fn lobby_wait_then_operator_admits() {
    let mut h = Harness::with(strict_meeting, |_| {});
    h.send(&invite("sip:12345678.2000000@gw.example.com", "c1"));
    assert_eq!(
        h.final_response().status(),
        Some(200),
        "lobby callers are answered"
    );
    assert!(h.media.iter().any(|m| matches!(
        m,
        CoreOutput::PlayPrompt {
            prompt: Prompt::Lobby,
            ..
        }
    )));
    let view = h.view_of("12345678", "2000000");
    assert!(view.participants.is_empty());
    assert_eq!(view.lobby.len(), 1);
    assert_eq!(view.lobby[0].class, ParticipantClass::UntrustedVtc);
    let id = view.lobby[0].id.clone();
    let admit = AdminCommand::Admit {
        tenant: "12345678".into(),
        conference: "2000000".into(),
        id: id.clone(),
    };
    assert_eq!(
        h.core.handle_admin(h.now, admit.clone()),
        Ok(AdminReply::Done)
    );
    let view = h.view_of("12345678", "2000000");
    assert_eq!(view.participants.len(), 1);
    assert_eq!(view.participants[0].id, id);
    assert!(view.lobby.is_empty());
    assert!(matches!(
        h.core.handle_admin(h.now, admit),
        Err(AdminError::UnknownParticipant { .. })
    ));
}

#[test]
fn lobby_deny_and_timeout_end_the_call_with_a_reason() {
    let mut h = Harness::with(strict_meeting, |c| {
        c.lobby_timeout = Some(Duration::from_secs(60))
    });
    h.send(&invite("sip:12345678.2000000@gw.example.com", "c1"));
    h.send(&invite("sip:12345678.2000000@gw.example.com", "c2"));
    h.take_sent();
    let id = h.view_of("12345678", "2000000").lobby[0].id.clone();
    h.core
        .handle_admin(
            h.now,
            AdminCommand::Deny {
                tenant: "12345678".into(),
                conference: "2000000".into(),
                id,
            },
        )
        .unwrap();
    h.collect();
    let bye = h.take_sent().pop().unwrap();
    assert!(
        bye_reason(&bye).contains("cause=403"),
        "{}",
        bye_reason(&bye)
    );
    h.advance(Duration::from_secs(61));
    let byes: Vec<_> = h
        .take_sent()
        .into_iter()
        .filter(|m| m.method() == Some(&Method::Bye) && m.call_id().unwrap() == "c2")
        .collect();
    assert!(!byes.is_empty(), "the second caller timed out");
    assert!(bye_reason(&byes[0]).contains("cause=408"));
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn synthetic_trusted_participants_let_untrusted_callers_into_an_everyone_meeting() {
    let mut h = Harness::new();
    // Nobody trusted yet: the untrusted VTC waits ("everyone" cannot be started by untrusted).
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(h.view().lobby.len(), 1);
    h.core
        .add_synthetic(h.now, &key(), &conf(), "Ada Lovelace")
        .unwrap();
    h.collect();
    let view = h.view();
    assert_eq!(
        view.participants.len(),
        2,
        "the first trusted arrival admits everyone waiting"
    );
    assert!(view
        .participants
        .iter()
        .any(|p| p.protocol == "synthetic" && p.class == ParticipantClass::SameOrg));
}

#[test]
fn operator_adds_synthetic_participants_that_join_the_meeting_media() {
    let mut h = Harness::new();
    let add = |conference: &str, count| AdminCommand::AddSynthetic {
        tenant: "12345678".into(),
        conference: conference.into(),
        count,
    };
    assert!(matches!(
        h.core.handle_admin(h.now, add("1177958860", 3)),
        Ok(AdminReply::Done)
    ));
    h.collect();
    let view = h.view();
    assert_eq!(view.participants.len(), 3);
    assert!(view.participants.iter().all(|p| p.protocol == "synthetic"));
    let joins: Vec<(u32, u32)> = h
        .media
        .iter()
        .filter_map(|o| match o {
            CoreOutput::SyntheticJoin {
                tenant,
                conference,
                index,
                count,
                ..
            } if tenant == "12345678" && conference == "1177958860" => Some((*index, *count)),
            _ => None,
        })
        .collect();
    assert_eq!(joins, vec![(0, 3), (1, 3), (2, 3)]);
    for count in [0, api::MAX_SYNTHETIC + 1] {
        assert!(matches!(
            h.core.handle_admin(h.now, add("1177958860", count)),
            Err(AdminError::InvalidCount { .. })
        ));
    }
    assert!(matches!(
        h.core.handle_admin(h.now, add("9999999", 1)),
        Err(AdminError::UnknownMeeting { .. })
    ));
    assert_eq!(h.view().participants.len(), 3);
}

#[test]
fn operator_removes_a_participant_with_bye() {
    let mut h = Harness::new();
    h.core
        .add_synthetic(h.now, &key(), &conf(), "Ada Lovelace")
        .unwrap();
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    h.take_sent();
    let view = h.view();
    let caller = view
        .participants
        .iter()
        .find(|p| p.protocol == "sip")
        .unwrap()
        .id
        .clone();
    let remove = |id: String| AdminCommand::Remove {
        tenant: "12345678".into(),
        conference: "1177958860".into(),
        id,
    };
    h.core.handle_admin(h.now, remove(caller.clone())).unwrap();
    h.collect();
    assert!(bye_reason(&h.take_sent().pop().unwrap()).contains("Removed by an operator"));
    assert!(matches!(
        h.core.handle_admin(h.now, remove(caller)),
        Err(AdminError::UnknownParticipant { .. })
    ));
    let synthetic = h.view().participants[0].id.clone();
    h.core.handle_admin(h.now, remove(synthetic)).unwrap();
    assert!(h.view().participants.is_empty());
    assert!(matches!(
        h.core.handle_admin(
            h.now,
            AdminCommand::ViewMeeting {
                tenant: "12345678".into(),
                conference: "9999999".into()
            }
        ),
        Err(AdminError::UnknownMeeting { .. })
    ));
}

#[test]
fn policy_changes_in_the_directory_apply_to_the_next_arrival() {
    let mut h = Harness::with(strict_meeting, |_| {});
    h.send(&invite("sip:12345678.2000000@gw", "c1"));
    assert_eq!(h.view_of("12345678", "2000000").lobby.len(), 1);
    h.write_directory(|dir| {
        dir.update_tenant(
            &key(),
            &TenantUpdate {
                anonymous_can_start: Some(true),
                ..TenantUpdate::default()
            },
        )
        .unwrap();
        dir.update_meeting(
            &key(),
            &ConferenceId::new("2000000").unwrap(),
            &crate::directory::MeetingUpdate {
                who_can_bypass: Some(Some(WhoCanBypass::Everyone)),
                ..Default::default()
            },
        )
        .unwrap();
    });
    h.send(&invite("sip:12345678.2000000@gw", "c2"));
    let view = h.view_of("12345678", "2000000");
    assert_eq!(
        view.participants.len(),
        2,
        "the waiting caller was admitted by the policy change"
    );
}

#[test]
fn live_meetings_are_listed_per_tenant() {
    let mut h = Harness::with(strict_meeting, |_| {});
    h.core
        .add_synthetic(h.now, &key(), &conf(), "Ada Lovelace")
        .unwrap();
    h.send(&invite("sip:12345678.2000000@gw", "c1"));
    let list = |h: &mut Harness, tenant: Option<&str>| match h
        .core
        .handle_admin(
            h.now,
            AdminCommand::ListMeetings {
                tenant: tenant.map(str::to_owned),
            },
        )
        .unwrap()
    {
        AdminReply::Meetings(list) => list,
        other => panic!("{other:?}"),
    };
    let all = list(&mut h, None);
    assert_eq!(
        all,
        [
            MeetingSummary {
                tenant: "12345678".into(),
                conference_id: "1177958860".into(),
                participants: 1,
                lobby: 0
            },
            MeetingSummary {
                tenant: "12345678".into(),
                conference_id: "2000000".into(),
                participants: 0,
                lobby: 1
            },
        ]
    );
    assert!(list(&mut h, Some("87654321")).is_empty());
}
