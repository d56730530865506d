//! Dial-out cascade links: the gateway calls a conference bridge into a meeting (the admin API's
//! `POST /api/v1/meetings/{tenant}/{conference}/cascades`). Each link has its own
//! [`signaling::ua::UserAgent`] (its own credentials and display name) sharing the gateway's
//! SIP socket: the agent places the INVITE, answers 401/407 with the link's digest credentials,
//! ACKs, and carries the dialog (BYE either way, re-INVITE, INFO). Once answered, the link is a
//! call of kind [`CallKind::Cascade`] like an inbound link: it holds a cascade licence, is one
//! participant and receives the speaker bare and full screen. With cluster-wide licences the
//! link holds a cascade licence lease instead, from the dial until it is hung up or given up
//! (`licence_leases`).
//!
//! Owns the link list, the retry schedule (back-off after a refusal or a drop) and the mapping
//! between agent events and the core's calls. It must not speak SIP itself (that is the agent's)
//! nor decide media (that is `cascade` and the engine's). A link's call ends through `end_call`,
//! which gives its licence back and tells this module whether to dial again.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use signaling::sdp::{cascade, SdpSession, SessionDescription};
use signaling::sip::Message;
use signaling::transaction::{Peer, Transport};
use signaling::ua::{CallFailure, CallHandle, Credentials, UaConfig, UaEvent, UserAgent};

use super::licence_leases::Pending;
use super::tessera::TesseraLink;
use super::{
    AdminError, AdminReply, Call, CallCore, CallId, CallKind, CascadeLinkView, CoreOutput,
    MediaControls, MeetingKey, Phase,
};
use crate::lobby::ParticipantClass;

/// The first wait before dialling a refused or dropped link again; it doubles per failure.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
const MAX_RETRY: Duration = Duration::from_secs(60);
/// The port a bridge URI without one is called at.
const SIP_PORT: u16 = 5060;

/// Names one dial-out link (`c3` in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u64);

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// What an operator asks to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialRequest {
    /// The bridge's SIP URI; its host must be an IP address (no DNS), port 5060 when absent.
    pub uri: String,
    /// The link's name in the roster and in our From header.
    pub display_name: String,
    /// What to answer the bridge's digest challenges with.
    pub credentials: Option<Credentials>,
}

/// Where a link stands.
#[derive(Debug)]
enum LinkState {
    /// INVITE out; the port pair and SDP offer wait for the answer.
    Dialling {
        handle: CallHandle,
        port_base: u16,
        sdp: Box<SdpSession>,
        offer: Box<SessionDescription>,
    },
    /// Answered: the link is `call`.
    Up { handle: CallHandle, call: CallId },
    /// We sent BYE; dial again afterwards when `retry`.
    Closing { retry: bool },
    /// Refused or dropped: dialled again at `at`.
    Waiting { at: Instant },
}

impl LinkState {
    fn name(&self) -> &'static str {
        match self {
            LinkState::Dialling { .. } => "dialling",
            LinkState::Up { .. } => "up",
            LinkState::Closing { .. } => "hanging-up",
            LinkState::Waiting { .. } => "retrying",
        }
    }
}

/// One dial-out link.
#[derive(Debug)]
struct Link {
    meeting: MeetingKey,
    request: DialRequest,
    /// Where the INVITE goes (the URI's host and port).
    target: SocketAddr,
    ua: UserAgent,
    state: LinkState,
    /// Failed attempts since the link was last up (the back-off exponent).
    failures: u32,
    /// Why the last attempt failed or the link dropped.
    last_error: Option<String>,
    /// An operator hung up: the link goes once its call has ended.
    hung_up: bool,
    /// A cluster link to the meeting's home node (`super::cluster_links`): no licence, and the
    /// From user the home challenges with the cluster's secret.
    cluster: bool,
    /// The cluster-wide cascade licence lease it holds while it exists (`licence_leases`).
    lease: Option<String>,
}

/// The dial-out links of a core.
#[derive(Debug, Default)]
pub(super) struct Links {
    links: BTreeMap<LinkId, Link>,
    next: u64,
}

impl Links {
    /// What a link was dialled with.
    pub(super) fn request_of(&self, id: LinkId) -> Option<&DialRequest> {
        self.links.get(&id).map(|l| &l.request)
    }

    /// The link whose agent owns `message` (by Call-ID).
    fn owner(&self, message: &Message) -> Option<LinkId> {
        self.links
            .iter()
            .find(|(_, l)| l.ua.owns(message))
            .map(|(id, _)| *id)
    }

    /// When a link's agent or retry next has work.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.links
            .values()
            .filter_map(|l| {
                let retry = match l.state {
                    LinkState::Waiting { at } => Some(at),
                    _ => None,
                };
                retry.into_iter().chain(l.ua.poll_timeout()).min()
            })
            .min()
    }
}

/// The wait before attempt `failures + 1`: 1 s, 2 s, 4 s... up to [`MAX_RETRY`].
fn backoff(failures: u32) -> Duration {
    FIRST_RETRY
        .saturating_mul(1u32 << failures.min(16))
        .min(MAX_RETRY)
}

/// The address a bridge URI is called at: its host (an IP literal) and port.
fn target_of(uri: &str) -> Result<SocketAddr, String> {
    let rest = uri
        .strip_prefix("sip:")
        .ok_or_else(|| format!("{uri:?} is not a sip: URI"))?;
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host_port = host_port.split([';', '?']).next().unwrap_or_default();
    if let Ok(addr) = host_port.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let host = host_port.trim_start_matches('[').trim_end_matches(']');
    host.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, SIP_PORT))
        .map_err(|_| format!("the host of {uri:?} must be an IP address (no DNS lookups)"))
}

impl CallCore {
    /// Dials a bridge into a meeting (the admin API's request); the link is dialled again with
    /// back-off whenever it is refused or dropped, until [`hang_up_link`](Self::hang_up_link).
    /// With cluster-wide licences the link first waits for its cascade licence lease
    /// (`licence_leases`; the reply is then [`AdminReply::AwaitingLease`]).
    pub(super) fn dial_cascade(
        &mut self,
        now: Instant,
        meeting: MeetingKey,
        request: DialRequest,
    ) -> Result<AdminReply, AdminError> {
        if !self.config.cluster_licences {
            let id = self.open_link(now, meeting, request, false)?;
            return Ok(AdminReply::CascadeDialled(id.to_string()));
        }
        // What needs no licence is told at once, before a lease is taken.
        self.check_dial(&meeting, &request)?;
        let record = self
            .licensed_record(&meeting.0)
            .map_err(|r| AdminError::CascadeLicence(r.reason_text()))?;
        let name = format!("dial-out:{}/{}", meeting.0, meeting.1);
        let pending = Pending::DialOut { meeting, request };
        let ticket = self.ask_lease(pending, &name, CallKind::Cascade, &record);
        Ok(AdminReply::AwaitingLease(ticket))
    }

    /// Dials a link whose cascade licence lease was granted; the link holds the lease until it
    /// goes (given back at once when it cannot be dialled).
    pub(super) fn dial_leased_link(
        &mut self,
        now: Instant,
        meeting: MeetingKey,
        request: DialRequest,
        lease: String,
    ) -> Result<AdminReply, AdminError> {
        match self.open_link(now, meeting, request, false) {
            Ok(id) => {
                match self.links.links.get_mut(&id) {
                    Some(link) => {
                        tracing::info!(link = %id, lease = %lease, "cascade link dialled with a cluster licence");
                        link.lease = Some(lease);
                    }
                    // Gone already (nothing to hold the licence): this node renews every lease
                    // it has, so one kept here would never lapse.
                    None => self.out.push_back(CoreOutput::LeaseRelease { lease }),
                }
                Ok(AdminReply::CascadeDialled(id.to_string()))
            }
            Err(e) => {
                self.out.push_back(CoreOutput::LeaseRelease { lease });
                Err(e)
            }
        }
    }

    /// The checks of a dial that need no licence: a live meeting, a bridge URI with an IP
    /// host, a gateway not draining. The bridge's address.
    fn check_dial(
        &mut self,
        meeting: &MeetingKey,
        request: &DialRequest,
    ) -> Result<SocketAddr, AdminError> {
        self.live_meeting(meeting)?;
        let target = target_of(&request.uri).map_err(AdminError::BadCascade)?;
        if self.drain_deadline.is_some() {
            return Err(AdminError::BadCascade("the gateway is draining".into()));
        }
        Ok(target)
    }

    /// Dials a link: a bridge (`cluster` false: holds a cascade licence) or the meeting's home
    /// node (`super::cluster_links`).
    pub(super) fn open_link(
        &mut self,
        now: Instant,
        meeting: MeetingKey,
        request: DialRequest,
        cluster: bool,
    ) -> Result<LinkId, AdminError> {
        let target = self.check_dial(&meeting, &request)?;
        // Cluster-wide cascade licences are held by the link's lease (`dial_cascade`).
        if !cluster && !self.config.cluster_licences {
            self.check_licence(&meeting.0, CallKind::Cascade)
                .map_err(|r| AdminError::CascadeLicence(r.reason_text()))?;
        }
        let user = if cluster {
            super::CLUSTER_USER
        } else {
            "tessera"
        };
        let mut config = UaConfig::new(self.config.sip_addr, user, self.rng.random());
        config.display_name = Some(request.display_name.clone());
        config.user_agent = self.config.user_agent.clone();
        config.credentials = request.credentials.clone();
        config.timers = self.config.timers;
        self.links.next += 1;
        let id = LinkId(self.links.next);
        self.links.links.insert(
            id,
            Link {
                meeting,
                request,
                target,
                ua: UserAgent::new(config),
                // Dialled at once below.
                state: LinkState::Waiting { at: now },
                failures: 0,
                last_error: None,
                hung_up: false,
                cluster,
                lease: None,
            },
        );
        if let Err(e) = self.dial(now, id) {
            self.forget_link(id);
            return Err(e);
        }
        tracing::info!(link = %id, "cascade link dialled");
        self.pump_links(now);
        Ok(id)
    }

    /// Sends a link's INVITE with a fresh port pair and SDP offer.
    fn dial(&mut self, now: Instant, id: LinkId) -> Result<(), AdminError> {
        let port_base = self
            .ports
            .take()
            .ok_or_else(|| AdminError::BadCascade("no media ports left".into()))?;
        let mut sdp = self.sdp_session(port_base);
        let placed = sdp
            .create_offer()
            .map_err(|e| AdminError::BadCascade(e.to_string()))
            .and_then(|offer| {
                let link = self
                    .links
                    .links
                    .get_mut(&id)
                    .ok_or(AdminError::UnknownParticipant {
                        what: "cascade link",
                        id: id.to_string(),
                    })?;
                // We offer to be a Tessera link; a foreign bridge ignores the marker.
                let mut offer = offer;
                cascade::advertise(&mut offer);
                let handle = link
                    .ua
                    .invite(now, link.target, &link.request.uri, &offer.to_string())
                    .map_err(|e| AdminError::BadCascade(e.to_string()))?;
                link.state = LinkState::Dialling {
                    handle,
                    port_base,
                    sdp: Box::new(sdp),
                    offer: Box::new(offer),
                };
                Ok(())
            });
        if placed.is_err() {
            self.ports.give_back(port_base);
        }
        placed
    }

    /// Hangs a link up for good: BYE (or CANCEL) to the bridge, its licence back.
    pub(super) fn hang_up_link(
        &mut self,
        now: Instant,
        meeting: &MeetingKey,
        id: &str,
    ) -> Result<(), AdminError> {
        let link_id = self
            .links
            .links
            .iter()
            .find(|(l, link)| l.to_string() == id && link.meeting == *meeting)
            .map(|(l, _)| *l)
            .ok_or_else(|| AdminError::UnknownParticipant {
                what: "cascade link",
                id: id.to_owned(),
            })?;
        let Some(link) = self.links.links.get_mut(&link_id) else {
            return Ok(());
        };
        link.hung_up = true;
        // Its licence is free at once (as this node's own count frees it), not once the
        // bridge has answered the BYE or CANCEL.
        if let Some(lease) = link.lease.take() {
            self.out.push_back(CoreOutput::LeaseRelease { lease });
        }
        let Some(link) = self.links.links.get_mut(&link_id) else {
            return Ok(());
        };
        match &link.state {
            LinkState::Up { call, .. } => {
                let call = *call;
                self.end_call(now, call, Some((200, "Cascade link hung up")));
            }
            LinkState::Dialling { handle, .. } => {
                let handle = *handle;
                if let Err(e) = link.ua.cancel(now, handle) {
                    tracing::debug!(link = %link_id, error = %e, "cancel not sent");
                }
            }
            LinkState::Closing { .. } => {}
            LinkState::Waiting { .. } => self.forget_link(link_id),
        }
        tracing::info!(link = %link_id, "cascade link hung up");
        self.pump_links(now);
        Ok(())
    }

    /// The dial-out links of one meeting, in the order they were dialled.
    pub(super) fn link_views(&self, meeting: &MeetingKey) -> Vec<CascadeLinkView> {
        self.links
            .links
            .iter()
            .filter(|(_, l)| l.meeting == *meeting)
            .map(|(id, l)| {
                let call = match l.state {
                    LinkState::Up { call, .. } => self.calls.get(&call),
                    _ => None,
                };
                CascadeLinkView {
                    id: id.to_string(),
                    uri: l.request.uri.clone(),
                    display_name: l.request.display_name.clone(),
                    // A hung-up link still dialling waits for its CANCEL to be answered.
                    state: if l.hung_up {
                        LinkState::Closing { retry: false }.name()
                    } else {
                        l.state.name()
                    },
                    participant: call.map(|c| c.participant.to_string()),
                    tessera: call.is_some_and(|c| c.tessera.is_some()),
                    failures: l.failures,
                    last_error: l.last_error.clone(),
                }
            })
            .collect()
    }

    /// Sends an INFO on a link that is up (a Tessera link's roster).
    pub(super) fn link_info(
        &mut self,
        now: Instant,
        id: LinkId,
        content_type: &str,
        body: &[u8],
    ) -> Result<(), String> {
        let link = self.links.links.get_mut(&id).ok_or("no such link")?;
        let LinkState::Up { handle, .. } = link.state else {
            return Err("the link is not up".into());
        };
        link.ua
            .info(now, handle, content_type, body)
            .map_err(|e| e.to_string())
    }

    /// Takes a datagram if it belongs to a link's agent; `false` leaves it to the core's own
    /// transaction layer.
    pub(super) fn link_datagram(
        &mut self,
        now: Instant,
        message: &Message,
        bytes: &[u8],
        from: Peer,
    ) -> bool {
        let Some(id) = self.links.owner(message) else {
            return false;
        };
        if let Some(link) = self.links.links.get_mut(&id) {
            if let Err(e) = link.ua.handle_datagram(now, from.addr, bytes) {
                tracing::debug!(link = %id, error = %e, "datagram refused");
            }
        }
        self.pump_links(now);
        true
    }

    /// Fires the links' agent timers and dials the links whose wait is over.
    pub(super) fn link_timeouts(&mut self, now: Instant) {
        let due: Vec<LinkId> = self
            .links
            .links
            .iter_mut()
            .filter_map(|(id, l)| {
                l.ua.handle_timeout(now);
                matches!(l.state, LinkState::Waiting { at } if at <= now).then_some(*id)
            })
            .collect();
        for id in due {
            if self.drain_deadline.is_some() {
                self.forget_link(id);
                continue;
            }
            if let Err(e) = self.dial(now, id) {
                self.link_failed(now, id, e.to_string());
            }
        }
        self.pump_links(now);
    }

    /// Sends what the links' agents have to send and acts on their events.
    pub(super) fn pump_links(&mut self, now: Instant) {
        let ids: Vec<LinkId> = self.links.links.keys().copied().collect();
        for id in ids {
            while let Some(event) = self.next_link_event(id) {
                self.on_link_event(now, id, event);
            }
        }
    }

    /// Moves what a link's agent has to send to the core's output, then takes its next event.
    fn next_link_event(&mut self, id: LinkId) -> Option<UaEvent> {
        let link = self.links.links.get_mut(&id)?;
        while let Some(t) = link.ua.poll_transmit() {
            self.out.push_back(CoreOutput::Transmit {
                to: Peer {
                    transport: Transport::Udp,
                    addr: t.to,
                },
                bytes: t.bytes,
            });
        }
        link.ua.poll_event()
    }

    fn on_link_event(&mut self, now: Instant, id: LinkId, event: UaEvent) {
        match event {
            UaEvent::Answered { answer, .. } => self.link_answered(now, id, &answer),
            UaEvent::Failed { failure, .. } => {
                let why = match failure {
                    CallFailure::Rejected { status, reason } => format!("{status} {reason}"),
                    CallFailure::Unauthorized { status } => {
                        format!("{status}: credentials refused")
                    }
                    CallFailure::Cancelled => "cancelled".to_owned(),
                    CallFailure::Timeout => "no answer".to_owned(),
                    CallFailure::BadAnswer(e) => format!("bad answer: {e}"),
                };
                if let Some(LinkState::Dialling { port_base, .. }) =
                    self.links.links.get(&id).map(|l| &l.state)
                {
                    self.ports.give_back(*port_base);
                }
                self.link_failed(now, id, why);
            }
            UaEvent::Ended { reason, .. } => {
                let Some(link) = self.links.links.get_mut(&id) else {
                    return;
                };
                match link.state {
                    LinkState::Up { call, .. } => {
                        // The bridge hung up or lost the dialog: a drop, dialled again.
                        link.state = LinkState::Waiting { at: now };
                        self.end_call(now, call, None);
                        self.link_failed(now, id, format!("dropped: {reason:?}"));
                    }
                    LinkState::Closing { retry: true, .. } => {
                        self.link_failed(now, id, format!("ended: {reason:?}"));
                    }
                    _ => self.forget_link(id),
                }
            }
            UaEvent::Reinvited {
                call: handle,
                offer,
            } => self.link_reinvited(now, id, handle, &offer),
            UaEvent::Info {
                call: handle,
                content_type,
                body,
            } => {
                let call = match self.links.links.get(&id).map(|l| &l.state) {
                    Some(LinkState::Up { handle: h, call }) if *h == handle => *call,
                    _ => return,
                };
                // The agent has answered 200 already; a bad roster is logged and dropped.
                if self.is_roster_info(call, content_type.as_deref()) {
                    let _ = self.roster_received(call, &body);
                }
            }
            // Early media, the bridge's ACK, INFO (DTMF) and answers to requests we never send
            // here change nothing for a link.
            _ => {}
        }
    }

    /// Drops a link for good, giving back the lease it held.
    fn forget_link(&mut self, id: LinkId) {
        if let Some(lease) = self.links.links.remove(&id).and_then(|l| l.lease) {
            self.out.push_back(CoreOutput::LeaseRelease { lease });
        }
    }

    /// Schedules the next attempt, or forgets the link when an operator hung it up.
    fn link_failed(&mut self, now: Instant, id: LinkId, why: String) {
        let Some(link) = self.links.links.get_mut(&id) else {
            return;
        };
        if link.hung_up || self.drain_deadline.is_some() {
            self.forget_link(id);
            return;
        }
        let wait = backoff(link.failures);
        tracing::info!(link = %id, error = %why, retry_in = ?wait, "cascade link down");
        link.failures += 1;
        link.last_error = Some(why);
        link.state = LinkState::Waiting { at: now + wait };
    }

    /// The bridge answered: the link becomes a cascade call in its meeting.
    fn link_answered(&mut self, now: Instant, id: LinkId, answer: &str) {
        let Some(link) = self.links.links.get_mut(&id) else {
            return;
        };
        let LinkState::Dialling { handle, .. } = link.state else {
            return;
        };
        if link.hung_up {
            // Answered as its CANCEL crossed: it holds no licence any more, so it never joins.
            if let LinkState::Dialling { port_base, .. } = link.state {
                self.ports.give_back(port_base);
            }
            let _ = link.ua.bye(now, handle);
            link.state = LinkState::Closing { retry: false };
            return;
        }
        let placeholder = LinkState::Up {
            handle,
            call: CallId(0),
        };
        let LinkState::Dialling {
            port_base,
            mut sdp,
            offer,
            ..
        } = std::mem::replace(&mut link.state, placeholder)
        else {
            return;
        };
        let mut tessera = false;
        let negotiated = SessionDescription::parse(answer)
            .map_err(|e| e.to_string())
            .and_then(|a| {
                tessera = cascade::is_tessera_link(&offer, &a);
                sdp.handle_answer(&a).map_err(|e| e.to_string())
            });
        let tenant = link.meeting.0.clone();
        let cluster = link.cluster;
        // A cluster link holds no licence (`cluster_links`); a dialled link with cluster-wide
        // licences holds its lease.
        let licence = if cluster || self.config.cluster_licences {
            Ok(())
        } else {
            self.check_licence(&tenant, CallKind::Cascade)
                .map(|_media_policy| ())
                .map_err(|r| r.reason_text())
        };
        let (negotiated, ()) = match negotiated.and_then(|n| licence.map(|()| (n, ()))) {
            Ok(n) => n,
            Err(why) => {
                self.ports.give_back(port_base);
                if let Some(link) = self.links.links.get_mut(&id) {
                    let _ = link.ua.bye(now, handle);
                    link.state = LinkState::Closing { retry: true };
                    link.last_error = Some(why);
                }
                return;
            }
        };
        let Some(link) = self.links.links.get_mut(&id) else {
            return;
        };
        let meeting = link.meeting.clone();
        let display_name = link.request.display_name.clone();
        let peer = Peer {
            transport: Transport::Udp,
            addr: link.target,
        };
        let call_id = CallId(self.next_call);
        self.next_call += 1;
        link.state = LinkState::Up {
            handle,
            call: call_id,
        };
        link.failures = 0;
        link.last_error = None;
        let participant = self.new_participant();
        let ssrc_base = self.rng.random::<u32>();
        let call = Call {
            invited_at: now,
            stats: Arc::default(),
            participant,
            peer,
            tenant: tenant.clone(),
            display_name,
            // A bridge we dial is one the operator chose: trusted like a room system.
            class: ParticipantClass::TrustedVtc,
            kind: CallKind::Cascade,
            protocol: super::Protocol::Sip,
            uas: None,
            dialog: None,
            link: Some(id),
            sdp: *sdp,
            local_sdp: *offer,
            answer_in_ack: false,
            negotiated: Some(negotiated),
            port_base,
            media_started: false,
            controls: MediaControls::for_kind(CallKind::Cascade),
            // Until the lobby decision of `enter_meeting` places it.
            phase: Phase::Lobby(meeting.clone()),
            session_timer: None,
            tessera: tessera.then(|| TesseraLink::new(now, ssrc_base)),
            cluster,
        };
        self.insert_call(call_id, call);
        self.metrics
            .calls_active
            .with_label_values(&[tenant.as_str(), "sip"])
            .inc();
        self.metrics
            .calls_total
            .with_label_values(&[
                tenant.as_str(),
                "sip",
                if cluster { "cluster-link" } else { "dial-out" },
            ])
            .inc();
        tracing::info!(link = %id, call = %call_id, tessera, "cascade link up");
        self.start_media(call_id);
        self.enter_meeting(now, call_id, meeting);
    }

    /// The bridge re-offered (a session refresh or a media change): answered from the call's
    /// SDP state. The media already running are not moved (a bridge's refresh keeps them).
    fn link_reinvited(&mut self, now: Instant, id: LinkId, handle: CallHandle, offer: &str) {
        let Some(link) = self.links.links.get(&id) else {
            return;
        };
        let call = match link.state {
            LinkState::Up { call, .. } => self.calls.get_mut(&call),
            _ => None,
        };
        let answer = call.and_then(|c| {
            let offer = SessionDescription::parse(offer).ok()?;
            let (mut answer, _) = c.sdp.answer(&offer).ok()?;
            // A Tessera link stays marked in every SDP it exchanges.
            if c.tessera.is_some() {
                cascade::advertise(&mut answer);
            }
            Some(answer.to_string())
        });
        let Some(link) = self.links.links.get_mut(&id) else {
            return;
        };
        let result = match answer {
            Some(answer) => link.ua.accept_reinvite(now, handle, &answer),
            None => link.ua.refuse_reinvite(now, handle, 488),
        };
        if let Err(e) = result {
            tracing::debug!(link = %id, error = %e, "re-INVITE not answered");
        }
    }

    /// A link's call ended on our side (`end_call` with a reason: drain, no media, operator):
    /// BYE through its agent, and dial again when the far end vanished (no media, 408).
    pub(super) fn link_call_ended(&mut self, now: Instant, id: LinkId, code: u16) {
        let draining = self.drain_deadline.is_some();
        let Some(link) = self.links.links.get_mut(&id) else {
            return;
        };
        let LinkState::Up { handle, .. } = link.state else {
            return;
        };
        let retry = code == 408 && !link.hung_up && !draining;
        link.state = LinkState::Closing { retry };
        if link.ua.bye(now, handle).is_err() {
            // The agent no longer has the call: nothing to wait for.
            self.link_failed(now, id, "ended".into());
        }
        self.pump_links(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_uri_host_and_port_name_the_target() {
        assert_eq!(
            target_of("sip:rmx@192.0.2.7:5070;transport=udp"),
            Ok("192.0.2.7:5070".parse().unwrap())
        );
        assert_eq!(
            target_of("sip:192.0.2.7"),
            Ok("192.0.2.7:5060".parse().unwrap())
        );
        assert_eq!(
            target_of("sip:m@[2001:db8::1]"),
            Ok("[2001:db8::1]:5060".parse().unwrap())
        );
        assert!(target_of("sip:rmx@mcu.example.com").is_err());
        assert!(target_of("tel:+15551234").is_err());
    }

    proptest::proptest! {
        /// Whatever an operator types as the URI, the answer is an address or an error.
        #[test]
        fn any_uri_gives_an_address_or_an_error(uri in "\\PC{0,60}") {
            let _ = target_of(&uri);
            let _ = target_of(&format!("sip:{uri}"));
        }
    }

    #[test]
    fn retries_back_off_doubling_up_to_a_minute() {
        let waits: Vec<u64> = (0..8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(u32::MAX), MAX_RETRY);
    }
}
