//! The decision table of `docs/domain.md`, cell by cell, and the lobby state machine.

// The tests need one arbitrary origin; after it, time moves only by what each test adds.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use super::*;

use LobbyDecision::{Bypass, Lobby};
use ParticipantClass as C;
use WhoCanBypass as W;

/// A cell of the domain brief's table, as written there.
#[derive(Clone, Copy, Debug)]
enum Cell {
    /// `B`
    B,
    /// `L`
    L,
    /// `L (1)`: lobby, unless the legacy trusted-VTC switch is on.
    L1,
    /// `B (2)`: bypass, but an untrusted participant cannot start the meeting alone.
    B2,
    /// `B if callers-bypass, else L`
    BifCallers,
}

/// The table, transcribed row by row in the brief's column order
/// (everyone, trusted-orgs, same-org, organizer).
const TABLE: &[(ParticipantClass, [Cell; 4])] = {
    use Cell::*;
    &[
        (C::Organizer, [B, B, B, B]),
        (C::SameOrg, [B, B, B, L]),
        (C::Guest, [B, B, B, L]),
        (C::TrustedVtc, [B, B, B, L1]),
        (C::TrustedOrg, [B, B, L, L]),
        (C::UntrustedOrg, [B2, L, L, L]),
        (C::UntrustedVtc, [B2, L, L, L]),
        (C::Anonymous, [B2, L, L, L]),
        (C::Pstn, [B2, BifCallers, BifCallers, BifCallers]),
    ]
};

const COLUMNS: [WhoCanBypass; 4] = [W::Everyone, W::TrustedOrgs, W::SameOrg, W::Organizer];

/// What a cell means for one combination of options, from the table's footnotes.
fn expected(
    cell: Cell,
    class: ParticipantClass,
    p: &LobbyPolicy,
    trusted_present: bool,
) -> LobbyDecision {
    let pick = |bypass: bool| if bypass { Bypass } else { Lobby };
    match cell {
        Cell::B => Bypass,
        Cell::L => Lobby,
        Cell::L1 => pick(p.legacy_trusted_vtc_bypass),
        Cell::BifCallers => pick(p.callers_bypass),
        // Note 2: an untrusted arrival with nobody trusted present waits unless anonymous may
        // start; PSTN with callers-bypass may always start.
        Cell::B2 => {
            pick(trusted_present || p.anonymous_can_start || (class == C::Pstn && p.callers_bypass))
        }
    }
}

fn all_policies() -> impl Iterator<Item = LobbyPolicy> {
    COLUMNS.into_iter().flat_map(|who| {
        (0..8u8).map(move |bits| LobbyPolicy {
            who_can_bypass: who,
            callers_bypass: bits & 1 != 0,
            anonymous_can_start: bits & 2 != 0,
            legacy_trusted_vtc_bypass: bits & 4 != 0,
        })
    })
}

#[test]
fn table_covers_every_class_once() {
    let mut classes: Vec<_> = TABLE.iter().map(|(c, _)| *c).collect();
    classes.sort();
    assert_eq!(classes, ParticipantClass::ALL.to_vec());
}

#[test]
fn every_cell_of_the_domain_table_under_every_option() {
    let mut checked = 0;
    for &(class, cells) in TABLE {
        for policy in all_policies() {
            let column = COLUMNS
                .iter()
                .position(|w| *w == policy.who_can_bypass)
                .unwrap();
            for trusted_present in [true, false] {
                let want = expected(cells[column], class, &policy, trusted_present);
                assert_eq!(
                    policy.decide(class, trusted_present),
                    want,
                    "class {class}, {policy:?}, trusted present {trusted_present}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 9 * 4 * 8 * 2);
}

#[test]
fn defaults_match_the_brief() {
    let p = LobbyPolicy::default();
    assert!(
        !p.callers_bypass,
        "callers bypass defaults off in the CLI spec"
    );
    assert!(!p.anonymous_can_start, "anonymous can start: default off");
    assert!(
        !p.legacy_trusted_vtc_bypass,
        "legacy trusted-VTC bypass: default lobby"
    );
}

#[test]
fn trusted_vtc_waits_in_organizer_only_lobby_unless_legacy_switch() {
    let mut p = LobbyPolicy {
        who_can_bypass: W::Organizer,
        ..LobbyPolicy::default()
    };
    assert_eq!(p.decide(C::TrustedVtc, true), Lobby);
    p.legacy_trusted_vtc_bypass = true;
    assert_eq!(p.decide(C::TrustedVtc, true), Bypass);
    assert_eq!(
        p.decide(C::SameOrg, true),
        Lobby,
        "the switch is for VTCs only"
    );
}

#[test]
fn names_round_trip_and_unknown_names_are_refused() {
    for c in ParticipantClass::ALL {
        assert_eq!(c.as_str().parse::<ParticipantClass>().unwrap(), *c);
    }
    for w in WhoCanBypass::ALL {
        assert_eq!(w.as_str().parse::<WhoCanBypass>().unwrap(), *w);
    }
    let err = "vip".parse::<ParticipantClass>().unwrap_err();
    assert!(err.to_string().contains("organizer, same-org"), "{err}");
    assert_eq!("p42".parse::<ParticipantId>().unwrap(), ParticipantId(42));
    assert!("42".parse::<ParticipantId>().is_err());
}

fn everyone() -> LobbyPolicy {
    LobbyPolicy {
        who_can_bypass: W::Everyone,
        ..LobbyPolicy::default()
    }
}

fn drain(lobby: &mut MeetingLobby) -> Vec<LobbyEvent> {
    std::iter::from_fn(|| lobby.poll_event()).collect()
}

#[test]
fn untrusted_wait_until_first_trusted_joins_then_all_are_admitted() {
    let t0 = Instant::now();
    let mut lobby = MeetingLobby::new(everyone(), None);
    assert_eq!(
        lobby.arrive(t0, ParticipantId(1), C::UntrustedVtc),
        Ok(Lobby)
    );
    assert_eq!(lobby.arrive(t0, ParticipantId(2), C::Anonymous), Ok(Lobby));
    assert_eq!(lobby.arrive(t0, ParticipantId(3), C::Pstn), Ok(Lobby));
    assert!(drain(&mut lobby).is_empty());

    assert_eq!(
        lobby.arrive(t0, ParticipantId(4), C::TrustedVtc),
        Ok(Bypass)
    );
    let events = drain(&mut lobby);
    let admitted: Vec<_> = events
        .iter()
        .map(|e| match e {
            LobbyEvent::Admitted {
                id,
                because: AdmittedBecause::TrustedJoined,
            } => *id,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        admitted,
        [ParticipantId(1), ParticipantId(2), ParticipantId(3)]
    );
    assert!(lobby.waiting().is_empty());
    assert_eq!(lobby.present().count(), 4);

    // Once someone trusted is there, later untrusted arrivals walk straight in.
    assert_eq!(lobby.arrive(t0, ParticipantId(5), C::Anonymous), Ok(Bypass));
}

#[test]
fn first_trusted_does_not_admit_those_the_policy_keeps_out() {
    let t0 = Instant::now();
    let mut lobby = MeetingLobby::new(LobbyPolicy::default(), None);
    assert_eq!(
        lobby.arrive(t0, ParticipantId(1), C::UntrustedVtc),
        Ok(Lobby)
    );
    assert_eq!(lobby.arrive(t0, ParticipantId(2), C::SameOrg), Ok(Bypass));
    assert!(drain(&mut lobby).is_empty());
    assert_eq!(lobby.waiting().len(), 1);
}

#[test]
fn anonymous_can_start_lets_untrusted_open_the_meeting() {
    let t0 = Instant::now();
    let policy = LobbyPolicy {
        anonymous_can_start: true,
        ..everyone()
    };
    let mut lobby = MeetingLobby::new(policy, None);
    assert_eq!(lobby.arrive(t0, ParticipantId(1), C::Anonymous), Ok(Bypass));
}

#[test]
fn pstn_with_callers_bypass_starts_the_meeting() {
    let t0 = Instant::now();
    let policy = LobbyPolicy {
        callers_bypass: true,
        ..everyone()
    };
    let mut lobby = MeetingLobby::new(policy, None);
    assert_eq!(lobby.arrive(t0, ParticipantId(1), C::Pstn), Ok(Bypass));
    assert_eq!(
        lobby.arrive(t0, ParticipantId(2), C::Anonymous),
        Ok(Lobby),
        "PSTN is not trusted"
    );
}

#[test]
fn trusted_participant_admits_and_denies_by_id() {
    let t0 = Instant::now();
    let mut lobby = MeetingLobby::new(LobbyPolicy::default(), None);
    let host = ParticipantId(10);
    assert_eq!(lobby.arrive(t0, host, C::Organizer), Ok(Bypass));
    lobby.arrive(t0, ParticipantId(1), C::UntrustedVtc).unwrap();
    lobby.arrive(t0, ParticipantId(2), C::Anonymous).unwrap();

    lobby
        .admit(ParticipantId(1), Actor::Participant(host))
        .unwrap();
    lobby
        .deny(ParticipantId(2), Actor::Participant(host))
        .unwrap();
    assert_eq!(
        drain(&mut lobby),
        [
            LobbyEvent::Admitted {
                id: ParticipantId(1),
                because: AdmittedBecause::Admitted(Actor::Participant(host))
            },
            LobbyEvent::Denied {
                id: ParticipantId(2),
                by: Actor::Participant(host)
            },
        ]
    );
    assert!(lobby.waiting().is_empty());
    assert!(lobby.present().any(|(id, _)| id == ParticipantId(1)));
    assert!(!lobby.present().any(|(id, _)| id == ParticipantId(2)));
}

#[test]
fn only_trusted_participants_in_the_meeting_may_admit() {
    let t0 = Instant::now();
    let mut lobby = MeetingLobby::new(LobbyPolicy::default(), None);
    lobby.arrive(t0, ParticipantId(1), C::SameOrg).unwrap();
    lobby.arrive(t0, ParticipantId(2), C::Anonymous).unwrap();
    lobby.arrive(t0, ParticipantId(3), C::UntrustedOrg).unwrap();
    // Admitted untrusted participant cannot admit others.
    lobby.admit(ParticipantId(2), Actor::Operator).unwrap();
    assert_eq!(
        lobby.admit(ParticipantId(3), Actor::Participant(ParticipantId(2))),
        Err(LobbyError::NotTrusted(ParticipantId(2)))
    );
    assert_eq!(
        lobby.admit(ParticipantId(3), Actor::Participant(ParticipantId(99))),
        Err(LobbyError::NotTrusted(ParticipantId(99)))
    );
    assert_eq!(
        lobby.deny(ParticipantId(99), Actor::Operator),
        Err(LobbyError::NotWaiting(ParticipantId(99)))
    );
    assert_eq!(
        lobby.waiting().len(),
        1,
        "refused operations change nothing"
    );
}

#[test]
fn the_same_id_cannot_arrive_twice() {
    let t0 = Instant::now();
    let mut lobby = MeetingLobby::new(LobbyPolicy::default(), None);
    lobby.arrive(t0, ParticipantId(1), C::Anonymous).unwrap();
    assert_eq!(
        lobby.arrive(t0, ParticipantId(1), C::Organizer),
        Err(LobbyError::AlreadyHere(ParticipantId(1)))
    );
}

#[test]
fn waiting_times_out_on_the_virtual_clock() {
    let t0 = Instant::now();
    let mut lobby = MeetingLobby::new(LobbyPolicy::default(), Some(Duration::from_secs(300)));
    assert_eq!(lobby.poll_timeout(), None);
    lobby.arrive(t0, ParticipantId(1), C::Anonymous).unwrap();
    lobby
        .arrive(t0 + Duration::from_secs(60), ParticipantId(2), C::Anonymous)
        .unwrap();
    assert_eq!(lobby.poll_timeout(), Some(t0 + Duration::from_secs(300)));

    lobby.handle_timeout(t0 + Duration::from_secs(299));
    assert!(drain(&mut lobby).is_empty());
    lobby.handle_timeout(t0 + Duration::from_secs(300));
    assert_eq!(
        drain(&mut lobby),
        [LobbyEvent::TimedOut {
            id: ParticipantId(1)
        }]
    );
    assert_eq!(lobby.poll_timeout(), Some(t0 + Duration::from_secs(360)));
    lobby.handle_timeout(t0 + Duration::from_secs(3600));
    assert_eq!(drain(&mut lobby).len(), 1);
    assert_eq!(lobby.poll_timeout(), None);
}

#[test]
fn policy_change_admits_whoever_now_bypasses() {
    let t0 = Instant::now();
    let mut lobby = MeetingLobby::new(
        LobbyPolicy {
            who_can_bypass: W::Organizer,
            ..LobbyPolicy::default()
        },
        None,
    );
    lobby.arrive(t0, ParticipantId(1), C::SameOrg).unwrap();
    lobby.arrive(t0, ParticipantId(2), C::Anonymous).unwrap();
    lobby.set_policy(LobbyPolicy::default());
    assert_eq!(
        drain(&mut lobby),
        [LobbyEvent::Admitted {
            id: ParticipantId(1),
            because: AdmittedBecause::PolicyChanged
        }]
    );
    assert_eq!(lobby.waiting().len(), 1);
}

#[test]
fn leaving_removes_from_meeting_or_lobby() {
    let t0 = Instant::now();
    let mut lobby = MeetingLobby::new(everyone(), None);
    lobby.arrive(t0, ParticipantId(1), C::Organizer).unwrap();
    lobby.arrive(t0, ParticipantId(2), C::Anonymous).unwrap();
    assert!(lobby.leave(ParticipantId(1)));
    assert!(!lobby.trusted_present());
    // With nobody trusted left, a new untrusted arrival waits again.
    assert_eq!(lobby.arrive(t0, ParticipantId(3), C::Anonymous), Ok(Lobby));
    assert!(lobby.leave(ParticipantId(3)));
    assert!(!lobby.leave(ParticipantId(3)));
}
