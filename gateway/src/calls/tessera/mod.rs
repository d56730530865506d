//! Tessera links: a cascade link whose far end is another Tessera node (both the SDP offer and
//! answer carry `a=tessera-cascade:1`, `signaling::sdp::cascade`). Beyond what any cascade link
//! does (`super::cascade`), the two nodes tell each other who is on their side of the meeting: a
//! [`roster::Roster`] in a SIP INFO of type [`roster::CONTENT_TYPE`], sent when the link comes up
//! and again within [`ROSTER_SYNC`] of any change, so each node's meeting view lists the far
//! side's participants under the link (`MeetingView::remote`).
//!
//! Media go stream by stream: each roster entry names the SSRC its video is forwarded on over
//! the link ([`stream_ssrc`] of the link's random base and the participant's number, fixed for
//! the link's lifetime, so a slot change needs no new roster). The link's media task is told to
//! forward and demultiplex ([`MediaControl::Streams`]) and who the far node's SSRCs are
//! ([`CoreOutput::RemoteStreams`]); the engine makes each of them a tile.
//!
//! Owns the link's roster state (what we last sent, what the far node last told us), when a
//! roster is due, and the no-echo rule for rosters: a node lists its own participants only, never
//! the far side's nor another Tessera link (a Tessera link is a path, not a person). Only a call
//! that matched a cascade rule can become a Tessera link: the marker alone never grants it. It
//! must not decide media (which streams cross the link is the media engine's).

pub use signaling::cascade_roster as roster;

use std::time::{Duration, Instant};

use rtp_session::call::RemoteStream;
use rtp_session::forward::{remote_source, stream_ssrc};
use signaling::sip::Method;

use self::roster::{
    RemoteKind, Roster, RosterEntry, CONTENT_TYPE, FORMAT_VERSION, MAX_PARTICIPANTS,
};
use super::api::{CallId, RemoteParticipantView};
use super::meeting::{MeetingKey, Member};
use super::{CallCore, CallKind, CoreOutput, MediaControl, Phase};
use crate::lobby::ParticipantId;

/// How soon a change on our side reaches the far node at the latest (rosters are compared, not
/// sent, on each due time, so an idle link costs nothing).
pub const ROSTER_SYNC: Duration = Duration::from_secs(1);

/// The roster state of one Tessera link (kept on its call).
#[derive(Debug, Clone)]
pub(super) struct TesseraLink {
    /// The roster we last sent (`None` before the first).
    sent: Option<Roster>,
    /// The far node's last valid roster.
    remote: Option<Roster>,
    /// When ours is next compared with `sent`.
    due: Instant,
    /// What our streams' SSRCs derive from (random per link).
    ssrc_base: u32,
    /// Our speaker order for this link, most recent first: the participants its engine named
    /// current speaker (`MediaEvent::LinkSpeaker`), each
    /// once.
    speakers: Vec<u64>,
}

impl TesseraLink {
    /// A link just established: our roster is due at once.
    pub(super) fn new(now: Instant, ssrc_base: u32) -> Self {
        TesseraLink {
            sent: None,
            remote: None,
            due: now,
            ssrc_base,
            speakers: Vec::new(),
        }
    }

    /// The link's engine named `speaker` the current speaker: first in our speaker order.
    pub(super) fn heard_speaker(&mut self, speaker: u64) {
        self.speakers.retain(|s| *s != speaker);
        self.speakers.insert(0, speaker);
        self.speakers.truncate(MAX_PARTICIPANTS);
    }

    /// What the link's media task must be told on each join: forward stream by stream.
    /// `hub`: the link is a cluster link into this node, the meeting's home
    /// (`super::cluster_links`), which passes on the other cluster links' participants.
    pub(super) fn media_control(&self, hub: bool) -> MediaControl {
        MediaControl::Streams {
            ssrc_base: self.ssrc_base,
            hub,
        }
    }

    /// Who the far node's streams are, by its last roster (empty before one).
    pub(super) fn remote_streams(&self) -> Vec<RemoteStream> {
        let Some(roster) = &self.remote else {
            return Vec::new();
        };
        roster
            .participants
            .iter()
            .filter_map(|p| {
                Some(RemoteStream {
                    ssrc: p.ssrc?,
                    id: p.id.clone(),
                    name: p.name.clone(),
                    speaking: roster.speakers.first() == Some(&p.id),
                })
            })
            .collect()
    }

    /// When the link wants [`CallCore::sync_tessera_rosters`] called.
    pub(super) fn due(&self) -> Instant {
        self.due
    }
}

impl CallCore {
    /// Our side of `meeting` as the far end of `link` must hear it: every present participant
    /// except Tessera links (including `link` itself), and how many wait in the lobby. At a
    /// meeting's home, a cluster link from one node is also told the participants the other
    /// nodes' cluster links listed (ids prefixed with their link's, as `p4:p2`), so every node
    /// of the star sees the whole meeting (and gets their streams: the engine forwards them into
    /// hub links, see `media::engine::link`); never
    /// those of `link` itself (no echo), and never over any other kind of link (a chain of
    /// bridges could loop). Our own participants' entries name the SSRC (from `ssrc_base`) their
    /// stream crosses `link` on.
    fn local_roster(&self, meeting: &MeetingKey, link: CallId, ssrc_base: u32) -> Roster {
        let mut roster = Roster {
            version: FORMAT_VERSION,
            node: self.config.sip_addr.ip().to_string(),
            participants: Vec::new(),
            speakers: Vec::new(),
            lobby: 0,
        };
        let Some(live) = self.meetings.get(meeting) else {
            return roster;
        };
        for (id, entry) in &live.roster {
            if entry.joined_at.is_none() {
                roster.lobby = roster.lobby.saturating_add(1);
                continue;
            }
            let kind = match entry.member {
                Member::Call(call) => match self.calls.get(&call) {
                    Some(c) if c.tessera.is_some() => continue,
                    Some(c) if c.kind == CallKind::Cascade => RemoteKind::Cascade,
                    _ => RemoteKind::Endpoint,
                },
                Member::Synthetic => RemoteKind::Synthetic,
                Member::Webrtc(_) => RemoteKind::Browser,
            };
            // The far node refuses a roster over its bound: the first arrivals are listed.
            if roster.participants.len() == MAX_PARTICIPANTS {
                continue;
            }
            roster.participants.push(
                RosterEntry::local(id.to_string(), &entry.display_name, kind)
                    .with_ssrc(stream_ssrc(ssrc_base, id.0)),
            );
        }
        let hub = self
            .calls
            .get(&link)
            .is_some_and(|c| c.cluster && c.link.is_none());
        if hub {
            for (id, entry) in &live.roster {
                let Member::Call(other) = entry.member else {
                    continue;
                };
                let Some(remote) = self
                    .calls
                    .get(&other)
                    .filter(|c| other != link && c.cluster && c.link.is_none())
                    .and_then(|c| c.tessera.as_ref())
                    .and_then(|t| t.remote.as_ref())
                else {
                    continue;
                };
                for p in &remote.participants {
                    if roster.participants.len() == MAX_PARTICIPANTS {
                        break;
                    }
                    // The hub forwards the stream under the number the engine derives for it.
                    let entry = RosterEntry::local(format!("{id}:{}", p.id), &p.name, p.kind);
                    roster.participants.push(match p.ssrc {
                        Some(ssrc) => {
                            entry.with_ssrc(stream_ssrc(ssrc_base, remote_source(id.0, ssrc)))
                        }
                        None => entry,
                    });
                }
            }
        }
        // Our speaker order, as far as the roster lists them.
        if let Some(order) = self
            .calls
            .get(&link)
            .and_then(|c| c.tessera.as_ref())
            .map(|t| t.speakers.clone())
        {
            roster.speakers = order
                .into_iter()
                .map(|n| ParticipantId(n).to_string())
                .filter(|id| roster.participants.iter().any(|p| p.id == *id))
                .collect();
        }
        roster
    }

    /// Sends each due Tessera link our roster if it changed since the last one sent.
    pub(super) fn sync_tessera_rosters(&mut self, now: Instant) {
        let due: Vec<(CallId, MeetingKey, u32)> = self
            .calls
            .iter()
            .filter_map(|(id, c)| match (&c.tessera, &c.phase) {
                (Some(t), Phase::InMeeting(key)) if t.due <= now => {
                    Some((*id, key.clone(), t.ssrc_base))
                }
                _ => None,
            })
            .collect();
        for (call_id, meeting, ssrc_base) in due {
            let roster = self.local_roster(&meeting, call_id, ssrc_base);
            let Some(link) = self
                .calls
                .get_mut(&call_id)
                .and_then(|c| c.tessera.as_mut())
            else {
                continue;
            };
            link.due = now + ROSTER_SYNC;
            if link.sent.as_ref() == Some(&roster) {
                continue;
            }
            link.sent = Some(roster.clone());
            self.send_roster(now, call_id, &roster.to_body());
        }
    }

    /// The earliest due time of any Tessera link in a meeting.
    pub(super) fn tessera_deadline(&self) -> Option<Instant> {
        self.calls
            .values()
            .filter(|c| matches!(c.phase, Phase::InMeeting(_)))
            .filter_map(|c| c.tessera.as_ref().map(TesseraLink::due))
            .min()
    }

    /// Sends a roster body in an INFO: through the link's own agent for a link we dialled, on
    /// the call's dialog for one the far node placed.
    fn send_roster(&mut self, now: Instant, call_id: CallId, body: &[u8]) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        if let Some(link_id) = call.link {
            if let Err(e) = self.link_info(now, link_id, CONTENT_TYPE, body) {
                tracing::warn!(call = %call_id, error = %e, "could not send roster INFO");
            }
            return;
        }
        let (peer, transport) = (call.peer, call.peer.transport);
        let via = self.our_via(transport);
        let user_agent = self.config.user_agent.clone();
        let Some(dialog) = self.calls.get_mut(&call_id).and_then(|c| c.dialog.as_mut()) else {
            return;
        };
        let info = dialog
            .request(Method::Info, &via)
            .with_header(signaling::sip::HeaderName::USER_AGENT, user_agent)
            .with_body(CONTENT_TYPE, body.to_vec());
        if let Err(e) = self.txn.send_request(now, info, peer) {
            tracing::warn!(call = %call_id, error = %e, "could not send roster INFO");
        }
    }

    /// Whether an INFO of `content_type` on `call_id` is a roster for us to take (a Tessera
    /// link's, of our media type).
    pub(super) fn is_roster_info(&self, call_id: CallId, content_type: Option<&str>) -> bool {
        let ours = content_type.is_some_and(|t| {
            t.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(CONTENT_TYPE))
        });
        ours && self
            .calls
            .get(&call_id)
            .is_some_and(|c| c.tessera.is_some())
    }

    /// The far node's roster arrived: kept for the meeting view, or refused (the previous one
    /// stays) with the reason for the INFO's 400.
    pub(super) fn roster_received(
        &mut self,
        call_id: CallId,
        body: &[u8],
    ) -> Result<(), roster::RosterError> {
        let roster = Roster::parse(body).inspect_err(|e| {
            tracing::info!(call = %call_id, error = %e, "roster INFO refused");
        })?;
        if let Some(link) = self
            .calls
            .get_mut(&call_id)
            .and_then(|c| c.tessera.as_mut())
        {
            tracing::debug!(
                call = %call_id,
                node = %roster.node,
                participants = roster.participants.len(),
                "roster from the far node"
            );
            // Who each of the far node's streams is: the engine gives each a tile.
            link.remote = Some(roster);
            let streams = link.remote_streams();
            self.out.push_back(CoreOutput::RemoteStreams {
                call: call_id,
                streams,
            });
        }
        Ok(())
    }

    /// The far side's participants of every Tessera link in `meeting`, for its view.
    pub(super) fn remote_views(&self, meeting: &MeetingKey) -> Vec<RemoteParticipantView> {
        let Some(live) = self.meetings.get(meeting) else {
            return Vec::new();
        };
        let mut views = Vec::new();
        for (id, entry) in &live.roster {
            let Member::Call(call) = entry.member else {
                continue;
            };
            let Some(remote) = self
                .calls
                .get(&call)
                .and_then(|c| c.tessera.as_ref())
                .and_then(|t| t.remote.as_ref())
            else {
                continue;
            };
            views.extend(remote.participants.iter().map(|p| RemoteParticipantView {
                via: id.to_string(),
                node: remote.node.clone(),
                id: p.id.clone(),
                display_name: p.name.clone(),
                kind: p.kind,
            }));
        }
        views
    }
}
