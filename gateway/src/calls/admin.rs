//! Operator commands (admin API, console): list and view live meetings, admit or deny from a
//! lobby, remove a participant, add synthetic participants.
//!
//! Owns the mapping of [`AdminCommand`]s to core actions and of live state to the admin views;
//! it must not write the directory (directory writes go to the directory directly).

use std::time::Instant;

use signaling::{ConferenceId, TenantKey};

use crate::lobby::{Actor, ParticipantId};

use super::{
    api, AdminCommand, AdminError, AdminReply, CallCore, CallKind, CoreOutput, LobbyView,
    MeetingKey, MeetingSummary, MeetingView, Member, ParticipantView,
};

impl CallCore {
    /// Runs an operator command.
    pub fn handle_admin(
        &mut self,
        now: Instant,
        command: AdminCommand,
    ) -> Result<AdminReply, AdminError> {
        let result = self.admin(now, command);
        self.pump(now);
        result
    }

    pub(super) fn admin(
        &mut self,
        now: Instant,
        command: AdminCommand,
    ) -> Result<AdminReply, AdminError> {
        match command {
            AdminCommand::ListMeetings { tenant } => {
                let mut list: Vec<MeetingSummary> = self
                    .meetings
                    .iter()
                    .filter(|((t, _), _)| tenant.as_deref().is_none_or(|want| t.as_str() == want))
                    .map(|((t, c), m)| {
                        let waiting = m.lobby.waiting().len();
                        MeetingSummary {
                            tenant: t.to_string(),
                            conference_id: c.to_string(),
                            participants: m.roster.len() - waiting,
                            lobby: waiting,
                        }
                    })
                    .collect();
                list.sort_by(|a, b| {
                    (&a.tenant, &a.conference_id).cmp(&(&b.tenant, &b.conference_id))
                });
                Ok(AdminReply::Meetings(list))
            }
            AdminCommand::DialCascade {
                tenant,
                conference,
                request,
            } => {
                let key = self.meeting_key(&tenant, &conference)?;
                self.dial_cascade(now, key, request)
            }
            AdminCommand::ListCascades { tenant, conference } => {
                let key = self.meeting_key(&tenant, &conference)?;
                Ok(AdminReply::Cascades(self.link_views(&key)))
            }
            AdminCommand::HangupCascade {
                tenant,
                conference,
                id,
            } => {
                let key = self.meeting_key(&tenant, &conference)?;
                self.hang_up_link(now, &key, &id)?;
                Ok(AdminReply::Done)
            }
            AdminCommand::ViewMeeting { tenant, conference } => {
                let key = self.meeting_key(&tenant, &conference)?;
                Ok(AdminReply::Meeting(self.view(&key)))
            }
            AdminCommand::Admit {
                tenant,
                conference,
                id,
            } => self.lobby_decision(now, &tenant, &conference, &id, true),
            AdminCommand::Deny {
                tenant,
                conference,
                id,
            } => self.lobby_decision(now, &tenant, &conference, &id, false),
            AdminCommand::AddSynthetic {
                tenant,
                conference,
                count,
            } => {
                let (t, c) = self.meeting_key(&tenant, &conference)?;
                if count == 0 || count > api::MAX_SYNTHETIC {
                    return Err(AdminError::InvalidCount {
                        count,
                        max: api::MAX_SYNTHETIC,
                    });
                }
                for index in 0..count {
                    let display_name = format!("Synthetic {}", index + 1);
                    let (id, stats) = self.add_synthetic(now, &t, &c, &display_name)?;
                    self.out.push_back(CoreOutput::SyntheticJoin {
                        tenant: tenant.clone(),
                        conference: conference.clone(),
                        participant: id.0,
                        display_name,
                        index,
                        count,
                        stats,
                    });
                }
                Ok(AdminReply::Done)
            }
            AdminCommand::JoinWebrtc {
                tenant,
                conference,
                display_name,
                class,
                session,
            } => {
                let key = self.meeting_key(&tenant, &conference)?;
                let (id, waiting) = self.join_webrtc(now, key, session, display_name, class)?;
                Ok(AdminReply::WebrtcJoined {
                    participant: id.0,
                    waiting,
                })
            }
            AdminCommand::LeaveWebrtc {
                tenant,
                conference,
                participant,
            } => {
                let key = self.meeting_key(&tenant, &conference)?;
                let pid = ParticipantId(participant);
                if let Some(m) = self.meetings.get_mut(&key) {
                    m.remove(pid);
                }
                self.native_stats.remove(&pid);
                self.process_lobby_events(now, &key);
                Ok(AdminReply::Done)
            }
            AdminCommand::Remove {
                tenant,
                conference,
                id,
            } => {
                let key = self.meeting_key(&tenant, &conference)?;
                let pid: ParticipantId = id
                    .parse()
                    .map_err(|_| unknown_participant("participant", &id))?;
                let member = self
                    .meetings
                    .get(&key)
                    .filter(|m| m.is_present(pid))
                    .and_then(|m| m.roster.get(&pid))
                    .map(|e| e.member)
                    .ok_or_else(|| unknown_participant("participant", &id))?;
                match member {
                    Member::Call(call) => {
                        self.end_call(now, call, Some((200, "Removed by an operator")))
                    }
                    Member::Synthetic | Member::Webrtc(_) => {
                        if let Some(m) = self.meetings.get_mut(&key) {
                            m.remove(pid);
                        }
                        self.native_stats.remove(&pid);
                        self.drop_empty_meeting(&key);
                        if let Member::Webrtc(session) = member {
                            self.out.push_back(CoreOutput::WebrtcEnd {
                                session,
                                reason: "removed",
                            });
                        }
                    }
                }
                Ok(AdminReply::Done)
            }
        }
    }

    /// An operator admits (`admit`) or denies someone waiting in a meeting's lobby.
    pub(super) fn lobby_decision(
        &mut self,
        now: Instant,
        tenant: &str,
        conference: &str,
        id: &str,
        admit: bool,
    ) -> Result<AdminReply, AdminError> {
        let key = self.meeting_key(tenant, conference)?;
        let pid = self.waiting_id(&key, id)?;
        if let Some(m) = self.meetings.get_mut(&key) {
            let done = if admit {
                m.lobby.admit(pid, Actor::Operator)
            } else {
                m.lobby.deny(pid, Actor::Operator)
            };
            done.map_err(|_| unknown_participant("lobby entry", id))?;
        }
        self.process_lobby_events(now, &key);
        Ok(AdminReply::Done)
    }

    pub(super) fn meeting_key(
        &self,
        tenant: &str,
        conference: &str,
    ) -> Result<MeetingKey, AdminError> {
        let unknown = || AdminError::UnknownMeeting {
            tenant: tenant.to_owned(),
            conference: conference.to_owned(),
        };
        let t = TenantKey::new(tenant).map_err(|_| unknown())?;
        let c = ConferenceId::new(conference).map_err(|_| unknown())?;
        match self.directory.meeting(&t, &c) {
            Ok(Some(_)) => Ok((t, c)),
            Ok(None) => Err(unknown()),
            Err(e) => {
                tracing::error!(error = %e, "directory read failed");
                Err(unknown())
            }
        }
    }

    pub(super) fn waiting_id(
        &self,
        key: &MeetingKey,
        id: &str,
    ) -> Result<ParticipantId, AdminError> {
        let pid: ParticipantId = id
            .parse()
            .map_err(|_| unknown_participant("lobby entry", id))?;
        match self.meetings.get(key) {
            Some(m) if m.is_waiting(pid) => Ok(pid),
            _ => Err(unknown_participant("lobby entry", id)),
        }
    }

    pub(super) fn view(&self, key: &MeetingKey) -> MeetingView {
        let mut view = MeetingView {
            tenant: key.0.to_string(),
            conference_id: key.1.to_string(),
            participants: Vec::new(),
            lobby: Vec::new(),
            remote: self.remote_views(key),
        };
        let Some(meeting) = self.meetings.get(key) else {
            return view;
        };
        for (id, entry) in &meeting.roster {
            let stats = match entry.member {
                Member::Call(call) => self.calls.get(&call).map(|c| &c.stats),
                Member::Synthetic | Member::Webrtc(_) => self.native_stats.get(id),
            };
            let flag = |f: fn(&api::MediaStats) -> &std::sync::atomic::AtomicBool| {
                stats.is_some_and(|s| f(s).load(std::sync::atomic::Ordering::Relaxed))
            };
            match entry.joined_at {
                Some(joined) => view.participants.push(ParticipantView {
                    id: id.to_string(),
                    display_name: entry.display_name.clone(),
                    class: entry.class,
                    protocol: self.member_protocol(entry.member),
                    kind: self.member_kind(entry.member),
                    joined_at: self.rfc3339(joined),
                    media: stats.map(|s| s.snapshot()).unwrap_or_default(),
                    muted: flag(|s| &s.muted),
                    speaking: flag(|s| &s.speaking),
                }),
                None => view.lobby.push(LobbyView {
                    id: id.to_string(),
                    display_name: entry.display_name.clone(),
                    class: entry.class,
                    protocol: self.member_protocol(entry.member),
                    kind: self.member_kind(entry.member),
                    waiting_since: self.rfc3339(entry.waiting_since.unwrap_or(self.origin.0)),
                }),
            }
        }
        view
    }

    /// The `protocol` of a roster entry in the views: a call says which signalling it came over.
    fn member_protocol(&self, member: Member) -> &'static str {
        match member {
            Member::Call(call) => self
                .calls
                .get(&call)
                .map_or_else(|| member.protocol(), |c| c.protocol.as_str()),
            Member::Synthetic | Member::Webrtc(_) => member.protocol(),
        }
    }

    /// The `kind` of a roster entry in the views.
    fn member_kind(&self, member: Member) -> &'static str {
        match member {
            Member::Call(call) => self
                .calls
                .get(&call)
                .map_or(CallKind::Endpoint, |c| c.kind)
                .licence(),
            Member::Synthetic => "synthetic",
            // A person in a browser: no licence, no bridge.
            Member::Webrtc(_) => "browser",
        }
    }

    pub(super) fn rfc3339(&self, at: Instant) -> String {
        let wall = self.origin.1 + at.saturating_duration_since(self.origin.0);
        humantime::format_rfc3339_seconds(wall).to_string()
    }
}

pub(super) fn unknown_participant(what: &'static str, id: &str) -> AdminError {
    AdminError::UnknownParticipant {
        what,
        id: id.to_owned(),
    }
}
