//! Calls and synthetic participants entering live meetings: the live meeting made (with its
//! policy fresh from the directory), the lobby decision, and the lobby's events (admitted, denied,
//! timed out) turned into calls joining their meeting's media or ending.
//!
//! Owns the step from "this call wants meeting M" to "in" or "waiting"; the lobby rules are
//! `crate::lobby`'s and the roster `meeting`'s. It must not send SIP itself (ending a call goes
//! through `end_call`).

use std::sync::Arc;
use std::time::Instant;

use signaling::{ConferenceId, TenantKey};

use super::MediaStats;
use crate::lobby::{LobbyEvent, ParticipantClass, ParticipantId};

use super::{
    AdminError, CallCore, CallId, CoreOutput, LiveMeeting, MeetingKey, Member, Phase, Prompt,
    RosterEntry,
};

impl CallCore {
    /// Adds a synthetic trusted participant to a meeting (the demo's, the load tests').
    pub fn add_synthetic(
        &mut self,
        now: Instant,
        tenant: &TenantKey,
        conference: &ConferenceId,
        name: &str,
    ) -> Result<(ParticipantId, Arc<MediaStats>), AdminError> {
        let key = (tenant.clone(), conference.clone());
        self.live_meeting(&key)?;
        let id = self.new_participant();
        let stats = Arc::new(MediaStats::default());
        self.native_stats.insert(id, stats.clone());
        self.join_meeting(
            now,
            key,
            id,
            Member::Synthetic,
            name.to_owned(),
            ParticipantClass::SameOrg,
        );
        self.pump(now);
        Ok((id, stats))
    }

    /// A browser asks to join a meeting: through the lobby decision like a call of `class`.
    pub fn join_webrtc(
        &mut self,
        now: Instant,
        key: MeetingKey,
        session: u128,
        display_name: String,
        class: ParticipantClass,
    ) -> Result<(ParticipantId, bool), AdminError> {
        self.live_meeting(&key)?;
        let id = self.new_participant();
        self.native_stats
            .insert(id, Arc::new(MediaStats::default()));
        self.join_meeting(
            now,
            key.clone(),
            id,
            Member::Webrtc(session),
            display_name,
            class,
        );
        let waiting = self.meetings.get(&key).is_some_and(|m| m.is_waiting(id));
        Ok((id, waiting))
    }

    /// Tells the driver a browser is in its meeting proper.
    fn webrtc_join(&mut self, session: u128, key: &MeetingKey, id: ParticipantId) {
        let Some(entry) = self.meetings.get(key).and_then(|m| m.roster.get(&id)) else {
            return;
        };
        let stats = self.native_stats.entry(id).or_default().clone();
        self.out.push_back(CoreOutput::WebrtcJoin {
            session,
            tenant: key.0.to_string(),
            conference: key.1.to_string(),
            participant: id.0,
            display_name: entry.display_name.clone(),
            stats,
        });
    }

    /// Puts an answered call into a meeting, through the lobby decision.
    pub(super) fn enter_meeting(&mut self, now: Instant, call_id: CallId, key: MeetingKey) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let (pid, name, class) = (call.participant, call.display_name.clone(), call.class);
        if self.live_meeting(&key).is_err() {
            self.end_call(now, call_id, Some((404, "Meeting no longer exists")));
            return;
        }
        self.join_meeting(now, key, pid, Member::Call(call_id), name, class);
    }

    /// Creates the live meeting if needed, refreshing its policy from the directory (so a changed
    /// default or override applies to the next arrival).
    pub(super) fn live_meeting(
        &mut self,
        key: &MeetingKey,
    ) -> Result<&mut LiveMeeting, AdminError> {
        let policy = match self.directory.effective_policy(&key.0, &key.1) {
            Ok(Some(policy)) => policy,
            found => {
                if let Err(e) = found {
                    tracing::error!(error = %e, "directory read failed");
                }
                return Err(AdminError::UnknownMeeting {
                    tenant: key.0.to_string(),
                    conference: key.1.to_string(),
                });
            }
        };
        let timeout = self.config.lobby_timeout;
        let meeting = self
            .meetings
            .entry(key.clone())
            .or_insert_with(|| LiveMeeting::new(policy, timeout));
        if *meeting.lobby.policy() != policy {
            meeting.lobby.set_policy(policy);
        }
        Ok(meeting)
    }

    pub(super) fn join_meeting(
        &mut self,
        now: Instant,
        key: MeetingKey,
        id: ParticipantId,
        member: Member,
        display_name: String,
        class: ParticipantClass,
    ) {
        let Some(meeting) = self.meetings.get_mut(&key) else {
            return;
        };
        meeting.roster.insert(
            id,
            RosterEntry {
                member,
                display_name,
                class,
                joined_at: None,
                waiting_since: None,
            },
        );
        let decision = match meeting.lobby.arrive(now, id, class) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "lobby refused arrival");
                return;
            }
        };
        let waiting = decision == crate::lobby::LobbyDecision::Lobby;
        if waiting {
            if let Some(entry) = meeting.roster.get_mut(&id) {
                entry.waiting_since = Some(now);
            }
        } else {
            meeting.mark_joined(id, now);
        }
        if let Member::Call(call_id) = member {
            if let Some(call) = self.calls.get_mut(&call_id) {
                call.phase = if waiting {
                    Phase::Lobby(key.clone())
                } else {
                    Phase::InMeeting(key.clone())
                };
            }
            if waiting {
                self.out.push_back(CoreOutput::PlayPrompt {
                    call: call_id,
                    prompt: Prompt::Lobby,
                });
                self.show_slate(call_id);
            } else {
                self.media_join(call_id, &key);
            }
            tracing::info!(call = %call_id, participant = %id, tenant = %key.0, conference = %key.1,
                %class, decision = %decision, "joined meeting");
        }
        if let (Member::Webrtc(session), false) = (member, waiting) {
            self.webrtc_join(session, &key, id);
        }
        self.process_lobby_events(now, &key);
    }

    pub(super) fn process_lobby_events(&mut self, now: Instant, key: &MeetingKey) {
        loop {
            let Some(meeting) = self.meetings.get_mut(key) else {
                return;
            };
            let Some(event) = meeting.lobby.poll_event() else {
                break;
            };
            match event {
                LobbyEvent::Admitted { id, because } => {
                    if let Some(since) = meeting.roster.get(&id).and_then(|e| e.waiting_since) {
                        self.metrics
                            .lobby_wait_seconds
                            .with_label_values(&[key.0.as_str()])
                            .observe(now.saturating_duration_since(since).as_secs_f64());
                    }
                    meeting.mark_joined(id, now);
                    let member = meeting.roster.get(&id).map(|e| e.member);
                    if let Some(Member::Call(call)) = member {
                        tracing::info!(%call, participant = %id, ?because, "admitted from the lobby");
                        if let Some(c) = self.calls.get_mut(&call) {
                            c.phase = Phase::InMeeting(key.clone());
                        }
                        self.media_join(call, key);
                    }
                    if let Some(Member::Webrtc(session)) = member {
                        self.webrtc_join(session, key, id);
                    }
                }
                LobbyEvent::Denied { id, .. } | LobbyEvent::TimedOut { id } => {
                    let (reason, label) = match event {
                        LobbyEvent::TimedOut { .. } => {
                            ((408, "Lobby wait timed out"), "lobby-timeout")
                        }
                        _ => ((403, "Denied entry from the lobby"), "lobby-denied"),
                    };
                    let entry = meeting.remove(id);
                    let tenant = key.0.as_str();
                    if let Some(since) = entry.as_ref().and_then(|e| e.waiting_since) {
                        self.metrics
                            .lobby_wait_seconds
                            .with_label_values(&[tenant])
                            .observe(now.saturating_duration_since(since).as_secs_f64());
                    }
                    self.metrics
                        .calls_refused_total
                        .with_label_values(&[tenant, label])
                        .inc();
                    match entry.map(|e| e.member) {
                        Some(Member::Call(call)) => self.end_call(now, call, Some(reason)),
                        Some(Member::Webrtc(session)) => {
                            self.native_stats.remove(&id);
                            self.out.push_back(CoreOutput::WebrtcEnd {
                                session,
                                reason: if label == "lobby-timeout" {
                                    "timeout"
                                } else {
                                    "denied"
                                },
                            });
                        }
                        _ => {}
                    }
                }
            }
        }
        self.drop_empty_meeting(key);
        self.publish_lobby(&key.0);
    }

    pub(super) fn drop_empty_meeting(&mut self, key: &MeetingKey) {
        if self.meetings.get(key).is_some_and(LiveMeeting::is_empty) {
            self.meetings.remove(key);
        }
    }
}
