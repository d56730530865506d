//! Call control: what happens to every SIP call from INVITE to BYE. Routes the dialled string to a
//! meeting or entry queue, classifies the caller's trust, negotiates SDP, runs the entry queue and
//! the lobby, answers operator commands, and drains on shutdown.
//!
//! Sans-IO like `signaling/`: the driver (`crate::server`) feeds datagrams, media events, admin
//! commands and timeouts in with `now`, and drains [`CallCore::poll_output`]. The one I/O it owns is
//! the directory (SQLite reads, sub-millisecond). It must not open sockets, spawn tasks or read the
//! clock, so tests drive whole calls on a virtual clock.

pub mod api;
mod auth;
mod invite;
mod meeting;
mod ports;

pub use api::*;
pub use meeting::{LiveMeeting, MeetingKey, Member, RosterEntry};

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ipnet::IpNet;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use signaling::dialog::{Dialog, DialogId};
use signaling::sdp::{
    AudioCodec, Capabilities, Codec, NegotiatedSession, SdpSession, SessionDescription,
};
use signaling::sip::{HeaderName, Limits, Message, Method};
use signaling::transaction::{
    response_destination, Event, Output, Peer, Timer, TimerConfig, TransactionLayer, Transport,
    TxnKey,
};
use signaling::{ConferenceId, TenantKey};

use crate::directory::Directory;
use crate::lobby::{Actor, LobbyEvent, ParticipantClass, ParticipantId};
use crate::metrics::Metrics;
use auth::NonceBook;
use mixer::layout::LayoutMode;
use ports::PortPool;

/// Methods we answer (the `Allow` header).
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE";

/// How long after the last failed entry-queue attempt the call is hung up (so "Goodbye" plays).
const GOODBYE_DELAY: Duration = Duration::from_secs(2);

/// Everything [`CallCore`] is configured with.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The SIP address we advertise in Via and Contact (`host:port`).
    pub sip_addr: SocketAddr,
    /// The address written in SDP `c=` lines.
    pub media_ip: IpAddr,
    /// RTP ports handed to calls.
    pub rtp_ports: RangeInclusive<u16>,
    /// Source networks of PSTN trunks (calls from them are class `pstn`).
    pub pstn_trunks: Vec<IpNet>,
    /// How long one may wait in a lobby (`None`: forever).
    pub lobby_timeout: Option<Duration>,
    /// Conference-ID attempts in the entry queue before hanging up.
    pub entry_queue_attempts: u8,
    /// How long the entry queue waits for each attempt's digits.
    pub entry_queue_timeout: Duration,
    /// How long a call rings (180) before it is answered; zero answers at once.
    pub ring_time: Duration,
    /// How long established calls may continue after a drain starts.
    pub drain_grace: Duration,
    /// Most concurrent calls the gateway takes; more get 503 (`None`: no limit but the ports).
    pub max_calls: Option<usize>,
    /// `Server` / `User-Agent` header value.
    pub user_agent: String,
    /// SIP timers.
    pub timers: TimerConfig,
    /// What SDP we accept.
    pub capabilities: Capabilities,
}

impl CoreConfig {
    /// Defaults around the given advertised addresses: Opus, G.722 and G.711 (preferred in that
    /// order) + telephone-event + H.264, 10-minute lobby wait, 3 entry-queue attempts of 30 s each.
    pub fn new(sip_addr: SocketAddr, media_ip: IpAddr) -> Self {
        CoreConfig {
            sip_addr,
            media_ip,
            rtp_ports: 20000..=29999,
            pstn_trunks: Vec::new(),
            lobby_timeout: Some(Duration::from_secs(600)),
            entry_queue_attempts: 3,
            entry_queue_timeout: Duration::from_secs(30),
            ring_time: Duration::ZERO,
            drain_grace: Duration::from_secs(10),
            max_calls: None,
            user_agent: format!("Tessera/{}", env!("CARGO_PKG_VERSION")),
            timers: TimerConfig::default(),
            capabilities: Capabilities {
                audio: vec![
                    AudioCodec::Opus,
                    AudioCodec::G722,
                    AudioCodec::Pcmu,
                    AudioCodec::Pcma,
                ],
                ..Capabilities::default()
            },
        }
    }
}

/// Where an answered call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    EntryQueue,
    Meeting(MeetingKey),
}

/// A call's phase.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// 180 sent; answered at `answer_at`.
    Ringing { target: Target, answer_at: Instant },
    /// Collecting a conference ID.
    EntryQueue {
        digits: String,
        failures: u8,
        deadline: Instant,
    },
    /// Hanging up at `at` (after the goodbye prompt).
    HangingUp { at: Instant, reason: (u16, String) },
    /// Waiting in a meeting's lobby.
    Lobby(MeetingKey),
    /// In a meeting.
    InMeeting(MeetingKey),
}

#[derive(Debug)]
struct Call {
    /// When the INVITE arrived (for the setup-time histogram).
    invited_at: Instant,
    /// Live media counters shared with the media task.
    stats: Arc<MediaStats>,
    participant: ParticipantId,
    peer: Peer,
    tenant: TenantKey,
    display_name: String,
    class: ParticipantClass,
    invite_key: TxnKey,
    invite: Message,
    local_tag: String,
    dialog: Option<Dialog>,
    sdp: SdpSession,
    /// Our answer or offer for the 200.
    local_sdp: SessionDescription,
    /// Set when the 200 carries our offer and the answer is due in the ACK.
    answer_in_ack: bool,
    negotiated: Option<NegotiatedSession>,
    port_base: u16,
    media_started: bool,
    /// In-call DTMF control state (`*6`, `*8`).
    controls: MediaControls,
    phase: Phase,
}

/// A call's in-call DTMF controls: `*6` toggles mute, `*8` cycles the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MediaControls {
    /// A `*` arrived in the meeting and the next digit picks the control.
    star_pending: bool,
    /// The caller's own audio is kept out of the meeting's mix.
    muted: bool,
    /// The caller's layout.
    layout: LayoutMode,
}

impl Default for MediaControls {
    fn default() -> Self {
        MediaControls {
            star_pending: false,
            muted: false,
            layout: LAYOUT_CYCLE[0],
        }
    }
}

/// The layouts `*8` cycles through, in the hosted services' order: 3x3, 1 large + 7, 2x2,
/// active speaker full screen.
const LAYOUT_CYCLE: [LayoutMode; 4] = [
    LayoutMode::Grid,
    LayoutMode::LargePlus7,
    LayoutMode::Grid2x2,
    LayoutMode::Speaker,
];

impl MediaControls {
    /// The layout after `*8`.
    fn next_layout(&self) -> LayoutMode {
        let at = LAYOUT_CYCLE
            .iter()
            .position(|&n| n == self.layout)
            .unwrap_or(LAYOUT_CYCLE.len() - 1);
        LAYOUT_CYCLE[(at + 1) % LAYOUT_CYCLE.len()]
    }
}

/// The call-control core. See the module doc.
#[derive(Debug)]
pub struct CallCore {
    config: CoreConfig,
    directory: Directory,
    txn: TransactionLayer,
    calls: HashMap<CallId, Call>,
    /// Live calls per tenant (what its endpoint licences count), kept with `calls` so the
    /// licence check of every INVITE is not a scan of every call.
    tenant_calls: HashMap<TenantKey, usize>,
    dialogs: HashMap<DialogId, CallId>,
    ringing: HashMap<TxnKey, CallId>,
    meetings: HashMap<MeetingKey, LiveMeeting>,
    /// The media counters of each synthetic participant, written by the media engine that runs
    /// it (a call's are in its `Call`).
    synthetic_stats: HashMap<ParticipantId, Arc<MediaStats>>,
    ports: PortPool,
    nonces: NonceBook,
    rng: StdRng,
    out: VecDeque<CoreOutput>,
    next_call: u64,
    next_participant: u64,
    origin: (Instant, SystemTime),
    drain_deadline: Option<Instant>,
    metrics: Metrics,
    /// The encoders are near the machine's capacity: new calls are refused (503) rather than
    /// degrading every call in progress.
    overloaded: bool,
}

impl CallCore {
    /// A core with no calls. `origin` pairs an `Instant` with the wall-clock time it stands for
    /// (for the RFC 3339 times of the admin view); `seed` seeds tags, branches and nonces.
    pub fn new(
        config: CoreConfig,
        directory: Directory,
        origin: (Instant, SystemTime),
        seed: u64,
        metrics: Metrics,
    ) -> Self {
        let core = CallCore {
            txn: TransactionLayer::new(config.timers),
            ports: PortPool::new(config.rtp_ports.clone()),
            config,
            directory,
            calls: HashMap::new(),
            tenant_calls: HashMap::new(),
            dialogs: HashMap::new(),
            ringing: HashMap::new(),
            meetings: HashMap::new(),
            synthetic_stats: HashMap::new(),
            nonces: NonceBook::default(),
            rng: StdRng::seed_from_u64(seed),
            out: VecDeque::new(),
            next_call: 1,
            next_participant: 1,
            origin,
            drain_deadline: None,
            metrics,
            overloaded: false,
        };
        core.publish_all_licences();
        core
    }

    /// Sets the licence totals of every tenant (at start; each INVITE refreshes its tenant's).
    fn publish_all_licences(&self) {
        match self.directory.tenants() {
            Ok(tenants) => {
                for t in tenants {
                    self.publish_licences(&t);
                }
            }
            Err(e) => tracing::warn!(error = %e, "licence metrics not published"),
        }
    }

    fn publish_licences(&self, tenant: &crate::directory::Tenant) {
        let key = tenant.key.as_str();
        let total = &self.metrics.licenses_total;
        total
            .with_label_values(&[key, "endpoint"])
            .set(tenant.endpoint_licenses.into());
        total
            .with_label_values(&[key, "cascade"])
            .set(tenant.cascade_licenses.into());
        let in_use = self.calls_of(&tenant.key);
        self.metrics
            .licenses_in_use
            .with_label_values(&[key, "endpoint"])
            .set(i64::try_from(in_use).unwrap_or(i64::MAX));
        // Cascades (one per meeting a bridge cascades into) arrive with H.323; none are held yet.
        self.metrics
            .licenses_in_use
            .with_label_values(&[key, "cascade"])
            .set(0);
    }

    /// Calls of `tenant` holding an endpoint licence (every call, from acceptance to its end:
    /// ringing, entry queue and lobby included).
    fn calls_of(&self, tenant: &TenantKey) -> usize {
        self.tenant_calls.get(tenant).copied().unwrap_or(0)
    }

    /// Adds a call to `calls` and its tenant's count.
    fn insert_call(&mut self, id: CallId, call: Call) {
        *self.tenant_calls.entry(call.tenant.clone()).or_default() += 1;
        self.calls.insert(id, call);
    }

    /// Takes a call out of every index, frees its port and licence, and updates the gauges.
    /// Every way a call ends goes through here.
    fn remove_call(&mut self, now: Instant, id: CallId) -> Option<Call> {
        let call = self.calls.remove(&id)?;
        if let Some(count) = self.tenant_calls.get_mut(&call.tenant) {
            *count -= 1;
            if *count == 0 {
                self.tenant_calls.remove(&call.tenant);
            }
        }
        self.ringing.remove(&call.invite_key);
        if let Some(dialog) = &call.dialog {
            self.dialogs.remove(dialog.id());
        }
        self.ports.give_back(call.port_base);
        let tenant = call.tenant.as_str();
        self.metrics
            .calls_active
            .with_label_values(&[tenant, "sip"])
            .dec();
        self.metrics
            .licenses_in_use
            .with_label_values(&[tenant, "endpoint"])
            .dec();
        if let Phase::Lobby(key) | Phase::InMeeting(key) = &call.phase {
            let waited = self
                .meetings
                .get_mut(key)
                .and_then(|m| m.remove(call.participant))
                .and_then(|entry| entry.waiting_since.filter(|_| entry.joined_at.is_none()));
            if let Some(since) = waited {
                self.metrics
                    .lobby_wait_seconds
                    .with_label_values(&[tenant])
                    .observe(now.saturating_duration_since(since).as_secs_f64());
            }
            let key = key.clone();
            // Someone leaving can change nothing for those waiting, but the meeting may be empty.
            self.process_lobby_events(now, &key);
        }
        Some(call)
    }

    /// Recomputes one tenant's lobby gauge.
    fn publish_lobby(&self, tenant: &TenantKey) {
        let waiting: usize = self
            .meetings
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, m)| m.lobby.waiting().len())
            .sum();
        self.metrics
            .lobby_waiting
            .with_label_values(&[tenant.as_str()])
            .set(i64::try_from(waiting).unwrap_or(i64::MAX));
    }

    /// The directory (for the driver's own reads, e.g. the demo seed).
    pub fn directory_mut(&mut self) -> &mut Directory {
        &mut self.directory
    }

    /// Sets whether the gateway is at capacity by measured encoder load (the driver measures;
    /// see `crate::server`).
    pub fn set_overloaded(&mut self, overloaded: bool) {
        if overloaded != self.overloaded {
            tracing::warn!(overloaded, "encoder load capacity changed");
        }
        self.overloaded = overloaded;
    }

    /// Live calls.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Takes one SIP message (a datagram, or one framed message from a TCP stream).
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8], from: Peer) {
        match Message::parse(bytes) {
            Ok(message) => self.txn.handle_message(now, message, from),
            Err(error) => {
                self.refuse_malformed(bytes, from, &error.to_string(), error.status_code())
            }
        }
        self.pump(now);
    }

    /// Takes one already-parsed message (a frame from a TCP stream).
    pub fn handle_message(&mut self, now: Instant, message: Message, from: Peer) {
        self.txn.handle_message(now, message, from);
        self.pump(now);
    }

    /// A broken request still gets an answer when its headers allow one (RFC 3261 §21.4.1).
    fn refuse_malformed(&mut self, bytes: &[u8], from: Peer, reason: &str, code: u16) {
        let parsed = Message::parse_unvalidated(bytes, &Limits::DEFAULT)
            .or_else(|_| Message::parse_unvalidated(&headers_only(bytes), &Limits::DEFAULT));
        let Ok(request) = parsed else {
            tracing::debug!(%from, "dropping unparseable datagram");
            return;
        };
        let answerable = request.is_request()
            && request.method() != Some(&Method::Ack)
            && request.headers.get(&HeaderName::VIA).is_some();
        if !answerable {
            return;
        }
        tracing::info!(%from, reason, "refusing malformed request");
        let response = Message::response_to(&request, code, None)
            .with_reason(format!(
                "{} - {reason}",
                signaling::sip::reason_phrase(code)
            ))
            .with_header(HeaderName::SERVER, self.config.user_agent.clone());
        self.out.push_back(CoreOutput::Transmit {
            to: response_destination(&request, from),
            bytes: response.to_bytes(),
        });
    }

    /// A DTMF digit or other media event of a call.
    pub fn handle_media_event(&mut self, now: Instant, call: CallId, event: MediaEvent) {
        match event {
            MediaEvent::Dtmf(digit) => self.dtmf(now, call, digit),
            MediaEvent::Inactive => {
                tracing::info!(%call, "no media from the far end; ending the call");
                self.end_call(now, call, Some((408, "No media received")));
            }
        }
        self.pump(now);
    }

    /// Starts draining: new calls are refused with 503 from now on, established ones get BYE once
    /// the grace period has passed.
    pub fn begin_drain(&mut self, now: Instant) {
        if self.drain_deadline.is_some() {
            return;
        }
        self.drain_deadline = Some(now + self.config.drain_grace);
        let ringing: Vec<CallId> = self.ringing.values().copied().collect();
        for call in ringing {
            self.refuse_ringing(
                now,
                call,
                503,
                "Service Unavailable - gateway shutting down",
            );
        }
        self.pump(now);
    }

    /// Whether a drain has finished: no calls and no BYE still in flight.
    pub fn is_drained(&self) -> bool {
        self.drain_deadline.is_some() && self.calls.is_empty() && self.txn.len().1 == 0
    }

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
        self.synthetic_stats.insert(id, stats.clone());
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

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.txn.handle_timeout(now);
        let due: Vec<(CallId, Phase)> = self
            .calls
            .iter()
            .filter(|(_, c)| phase_deadline(&c.phase).is_some_and(|at| at <= now))
            .map(|(id, c)| (*id, c.phase.clone()))
            .collect();
        for (id, phase) in due {
            match phase {
                Phase::Ringing { target, .. } => self.answer(now, id, target),
                Phase::EntryQueue { .. } => self.entry_queue_failure(now, id),
                Phase::HangingUp { reason, .. } => {
                    self.end_call(now, id, Some((reason.0, &reason.1)))
                }
                Phase::Lobby(_) | Phase::InMeeting(_) => {}
            }
        }
        let keys: Vec<MeetingKey> = self.meetings.keys().cloned().collect();
        for key in keys {
            if let Some(m) = self.meetings.get_mut(&key) {
                m.lobby.handle_timeout(now);
            }
            self.process_lobby_events(now, &key);
        }
        if self.drain_deadline.is_some_and(|at| at <= now) {
            let calls: Vec<CallId> = self.calls.keys().copied().collect();
            for call in calls {
                self.end_call(now, call, Some((503, "Gateway shutting down")));
            }
        }
        self.pump(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.calls.values().filter_map(|c| phase_deadline(&c.phase));
        let lobbies = self
            .meetings
            .values()
            .filter_map(|m| m.lobby.poll_timeout());
        let drain = self.drain_deadline.filter(|_| !self.calls.is_empty());
        calls
            .chain(lobbies)
            .chain(drain)
            .chain(self.txn.poll_timeout())
            .min()
    }

    /// The next thing for the driver to do.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<CoreOutput> {
        self.out.pop_front()
    }

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

    fn admin(&mut self, now: Instant, command: AdminCommand) -> Result<AdminReply, AdminError> {
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
                    Member::Synthetic => {
                        if let Some(m) = self.meetings.get_mut(&key) {
                            m.remove(pid);
                        }
                        self.synthetic_stats.remove(&pid);
                        self.drop_empty_meeting(&key);
                    }
                }
                Ok(AdminReply::Done)
            }
        }
    }

    /// An operator admits (`admit`) or denies someone waiting in a meeting's lobby.
    fn lobby_decision(
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

    fn meeting_key(&self, tenant: &str, conference: &str) -> Result<MeetingKey, AdminError> {
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

    fn waiting_id(&self, key: &MeetingKey, id: &str) -> Result<ParticipantId, AdminError> {
        let pid: ParticipantId = id
            .parse()
            .map_err(|_| unknown_participant("lobby entry", id))?;
        match self.meetings.get(key) {
            Some(m) if m.is_waiting(pid) => Ok(pid),
            _ => Err(unknown_participant("lobby entry", id)),
        }
    }

    fn view(&self, key: &MeetingKey) -> MeetingView {
        let mut view = MeetingView {
            tenant: key.0.to_string(),
            conference_id: key.1.to_string(),
            participants: Vec::new(),
            lobby: Vec::new(),
        };
        let Some(meeting) = self.meetings.get(key) else {
            return view;
        };
        for (id, entry) in &meeting.roster {
            match entry.joined_at {
                Some(joined) => view.participants.push(ParticipantView {
                    id: id.to_string(),
                    display_name: entry.display_name.clone(),
                    class: entry.class,
                    protocol: entry.member.protocol(),
                    joined_at: self.rfc3339(joined),
                    media: match entry.member {
                        Member::Call(call) => self
                            .calls
                            .get(&call)
                            .map(|c| c.stats.snapshot())
                            .unwrap_or_default(),
                        Member::Synthetic => self
                            .synthetic_stats
                            .get(id)
                            .map(|s| s.snapshot())
                            .unwrap_or_default(),
                    },
                }),
                None => view.lobby.push(LobbyView {
                    id: id.to_string(),
                    display_name: entry.display_name.clone(),
                    class: entry.class,
                    protocol: entry.member.protocol(),
                    waiting_since: self.rfc3339(entry.waiting_since.unwrap_or(self.origin.0)),
                }),
            }
        }
        view
    }

    fn rfc3339(&self, at: Instant) -> String {
        let wall = self.origin.1 + at.saturating_duration_since(self.origin.0);
        humantime::format_rfc3339_seconds(wall).to_string()
    }

    /// Moves transaction-layer outputs out, acting on events.
    fn pump(&mut self, now: Instant) {
        while let Some(output) = self.txn.poll_output() {
            match output {
                Output::Transmit { to, message } => self.out.push_back(CoreOutput::Transmit {
                    to,
                    bytes: message.to_bytes(),
                }),
                Output::Event(event) => self.on_event(now, event),
            }
        }
    }

    fn on_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::Request { key, request, from } => self.on_request(now, key, request, from),
            Event::Ack { request, .. } => self.on_ack(now, &request),
            Event::Timeout {
                key,
                timer: Timer::L,
            } => {
                // Our 2xx was never acknowledged (RFC 3261 §13.3.1.4): end the call.
                let call = self
                    .calls
                    .iter()
                    .find(|(_, c)| c.invite_key == key)
                    .map(|(id, _)| *id);
                if let Some(call) = call {
                    self.end_call(now, call, Some((408, "No ACK received")));
                }
            }
            // Responses to our BYEs and their timeouts need nothing more: the call is gone.
            Event::Response { .. } | Event::Timeout { .. } => {}
        }
    }

    fn on_request(&mut self, now: Instant, key: TxnKey, request: Message, from: Peer) {
        let method = request.method().cloned().unwrap_or(Method::Options);
        let in_dialog = request
            .to()
            .ok()
            .and_then(|to| to.tag().map(str::to_owned))
            .is_some();
        match method {
            Method::Invite if !in_dialog => self.new_invite(now, key, request, from),
            Method::Cancel => self.on_cancel(now, &key, &request),
            Method::Options => {
                let response = self
                    .response(&request, 200, None)
                    .with_header(HeaderName::ALLOW, ALLOW)
                    .with_header(header("Accept"), "application/sdp")
                    .with_header(HeaderName::SUPPORTED, "replaces, timer");
                self.respond(now, &key, response);
            }
            Method::Invite | Method::Bye | Method::Info | Method::Update => {
                let call =
                    DialogId::of_incoming(&request).and_then(|d| self.dialogs.get(&d).copied());
                match call {
                    Some(call) => self.in_dialog(now, call, key, request, method),
                    None => {
                        let response = self.response(&request, 481, None);
                        self.respond(now, &key, response);
                    }
                }
            }
            _ => {
                let response = self
                    .response(&request, 405, None)
                    .with_header(HeaderName::ALLOW, ALLOW);
                self.respond(now, &key, response);
            }
        }
    }

    fn in_dialog(
        &mut self,
        now: Instant,
        call_id: CallId,
        key: TxnKey,
        request: Message,
        method: Method,
    ) {
        let checked = match self.calls.get_mut(&call_id).and_then(|c| c.dialog.as_mut()) {
            Some(dialog) => dialog.on_request(&request),
            None => return,
        };
        if let Err(e) = checked {
            let response = self
                .response(&request, 500, None)
                .with_reason(format!("Server Internal Error - {e}"));
            self.respond(now, &key, response);
            return;
        }
        match method {
            Method::Bye => {
                let response = self.response(&request, 200, None);
                self.respond(now, &key, response);
                self.end_call(now, call_id, None);
            }
            Method::Info => {
                let content_type = request.content_type().unwrap_or_default().to_owned();
                let digit = crate::media::info_dtmf::parse_info_dtmf(&content_type, request.body());
                let response = self.response(&request, 200, None);
                self.respond(now, &key, response);
                match digit {
                    Ok(Some(digit)) => self.dtmf(now, call_id, digit),
                    Ok(None) => {}
                    Err(e) => tracing::debug!(call = %call_id, error = %e, "INFO body ignored"),
                }
            }
            Method::Invite | Method::Update => self.reoffer(now, call_id, key, request),
            _ => {}
        }
    }

    fn on_cancel(&mut self, now: Instant, key: &TxnKey, cancel: &Message) {
        let response = self.response(cancel, 200, None);
        self.respond(now, key, response);
        let invite_key = key.cancelled_invite();
        if let Some(call) = self.ringing.get(&invite_key).copied() {
            self.refuse_ringing(now, call, 487, "Request Terminated");
        }
    }

    /// Ends a call that was never answered with a final error response.
    fn refuse_ringing(&mut self, now: Instant, call: CallId, code: u16, reason: &str) {
        let Some(c) = self.remove_call(now, call) else {
            return;
        };
        let label = if code == 487 { "cancelled" } else { "draining" };
        self.metrics
            .calls_refused_total
            .with_label_values(&[c.tenant.as_str(), label])
            .inc();
        let response = Message::response_to(&c.invite, code, Some(&c.local_tag))
            .with_reason(reason)
            .with_header(HeaderName::SERVER, self.config.user_agent.clone());
        self.respond(now, &c.invite_key, response);
    }

    fn on_ack(&mut self, now: Instant, ack: &Message) {
        let Some(call_id) = DialogId::of_incoming(ack).and_then(|d| self.dialogs.get(&d).copied())
        else {
            return;
        };
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if !call.answer_in_ack {
            return;
        }
        call.answer_in_ack = false;
        let answer = std::str::from_utf8(ack.body())
            .ok()
            .and_then(|text| SessionDescription::parse(text).ok());
        let negotiated = match answer {
            Some(answer) => call.sdp.handle_answer(&answer),
            None => Err(signaling::sdp::SdpError::NoOfferPending),
        };
        match negotiated {
            Ok(session) => {
                call.negotiated = Some(session);
                self.start_media(call_id);
            }
            Err(e) => {
                tracing::info!(call = %call_id, error = %e, "no usable SDP answer in ACK");
                self.end_call(now, call_id, Some((488, "No usable SDP answer in ACK")));
            }
        }
    }

    /// A re-INVITE or UPDATE within a call: hold, resume, or a media change.
    fn reoffer(&mut self, now: Instant, call_id: CallId, key: TxnKey, request: Message) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let mut restart_media = false;
        let outcome: Result<Option<String>, signaling::sdp::SdpError> = if request.body().is_empty()
        {
            if request.method() == Some(&Method::Update) {
                Ok(None)
            } else {
                // A re-INVITE without SDP asks for our offer; the answer comes in the ACK.
                call.sdp.create_offer().map(|offer| {
                    call.answer_in_ack = true;
                    Some(offer.to_string())
                })
            }
        } else {
            std::str::from_utf8(request.body())
                .map_err(|_| signaling::sdp::SdpError::Malformed {
                    line: 1,
                    reason: "SDP is not UTF-8".into(),
                })
                .and_then(SessionDescription::parse)
                .and_then(|offer| call.sdp.answer(&offer))
                .map(|(answer, negotiated)| {
                    let before = call.negotiated.as_ref().and_then(audio_setup_key);
                    restart_media = call.media_started && before != audio_setup_key(&negotiated);
                    call.negotiated = Some(negotiated);
                    Some(answer.to_string())
                })
        };
        if restart_media {
            call.media_started = false;
            self.out.push_back(CoreOutput::MediaStop { call: call_id });
            self.start_media(call_id);
        }
        let response = match outcome {
            Ok(body) => {
                let mut response = self
                    .response(&request, 200, None)
                    .with_header(HeaderName::CONTACT, self.contact_for(call_id));
                if let Some(body) = body {
                    response = response.with_body("application/sdp", body.into_bytes());
                }
                response
            }
            Err(e) => {
                let code = e.sip_status();
                self.response(&request, code, None)
                    .with_reason(format!("{} - {e}", signaling::sip::reason_phrase(code)))
            }
        };
        self.respond(now, &key, response);
    }

    /// Tells the driver to start a call's media once its audio is known.
    fn start_media(&mut self, call_id: CallId) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if call.media_started {
            return;
        }
        let Some(audio) = call.negotiated.as_ref().and_then(|n| n.audio.as_ref()) else {
            return;
        };
        let (Some(remote), Codec::Audio(codec)) = (audio.remote_rtp, &audio.send.codec) else {
            return;
        };
        let codec = match codec {
            AudioCodec::Pcmu => PromptCodec::Pcmu,
            AudioCodec::Pcma => PromptCodec::Pcma,
            AudioCodec::G722 => PromptCodec::G722,
            AudioCodec::Opus => PromptCodec::Opus,
        };
        let video = call
            .negotiated
            .as_ref()
            .and_then(|n| n.video.as_ref())
            .and_then(|v| video_setup(v, call.port_base + 2));
        call.media_started = true;
        self.out.push_back(CoreOutput::MediaStart {
            stats: call.stats.clone(),
            call: call_id,
            audio: AudioSetup {
                local_port: call.port_base,
                remote,
                payload_type: audio.send.pt,
                codec,
                telephone_event_pt: audio.telephone_event,
                rtcp_mux: audio.rtcp_mux,
            },
            video,
        });
        // A call answered straight into the meeting joins its media now.
        if let Phase::InMeeting(key) = call.phase.clone() {
            self.media_join(call_id, &key);
        }
        // A call (re)starting its media while it waits sees its slate (the first one may have
        // gone out before the media existed, e.g. with the SDP answer in the ACK).
        self.show_slate(call_id);
    }

    /// Shows a waiting call (entry queue, lobby) its slate; nothing for calls in other phases or
    /// whose media has not started (start_media calls back here).
    fn show_slate(&mut self, call_id: CallId) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        if !call.media_started {
            return;
        }
        let tenant_name = || {
            self.directory
                .tenant(&call.tenant)
                .ok()
                .flatten()
                .map_or_else(|| call.tenant.to_string(), |t| t.name)
        };
        let slate = match &call.phase {
            Phase::EntryQueue { failures, .. } => Slate::EntryQueue {
                tenant: tenant_name(),
                retry: *failures > 0,
            },
            Phase::Lobby((tenant, conference)) => {
                let organizer = self
                    .directory
                    .meeting(tenant, conference)
                    .ok()
                    .flatten()
                    .and_then(|m| m.organizer);
                Slate::Lobby {
                    meeting: organizer
                        .map_or_else(|| "Meeting".to_owned(), |o| format!("{o}'s meeting")),
                    detail: format!("{} - conference {conference}", tenant_name()),
                }
            }
            _ => return,
        };
        self.out.push_back(CoreOutput::ShowSlate {
            call: call_id,
            slate,
        });
    }

    /// Tells the driver the call's media is part of `key`'s mix and layout.
    fn media_join(&mut self, call_id: CallId, key: &MeetingKey) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        if !call.media_started {
            // Joins once media starts (start_media calls back here).
            return;
        }
        self.out.push_back(CoreOutput::MediaJoin {
            call: call_id,
            tenant: key.0.to_string(),
            conference: key.1.to_string(),
            participant: call.participant.0,
            display_name: call.display_name.clone(),
        });
        // A fresh join starts unmuted in the default layout: restore the caller's choices.
        let controls = call.controls;
        if controls.muted {
            self.out.push_back(CoreOutput::MediaControl {
                call: call_id,
                control: MediaControl::Mute(true),
            });
        }
        if controls.layout != MediaControls::default().layout {
            self.out.push_back(CoreOutput::MediaControl {
                call: call_id,
                control: MediaControl::Layout(controls.layout),
            });
        }
    }

    fn dtmf(&mut self, now: Instant, call_id: CallId, digit: DtmfDigit) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if let Phase::InMeeting(_) = call.phase {
            let control = match (call.controls.star_pending, digit.0) {
                (_, '*') => {
                    call.controls.star_pending = true;
                    return;
                }
                (true, '6') => {
                    call.controls.muted = !call.controls.muted;
                    Some(MediaControl::Mute(call.controls.muted))
                }
                (true, '8') => {
                    call.controls.layout = call.controls.next_layout();
                    Some(MediaControl::Layout(call.controls.layout))
                }
                _ => None,
            };
            call.controls.star_pending = false;
            if let Some(control) = control {
                tracing::info!(call = %call_id, ?control, "in-call DTMF control");
                self.out.push_back(CoreOutput::MediaControl {
                    call: call_id,
                    control,
                });
            }
            return;
        }
        let Phase::EntryQueue { digits, .. } = &mut call.phase else {
            return;
        };
        match digit.0 {
            '#' => {
                let entered = std::mem::take(digits);
                let tenant = call.tenant.clone();
                let found = ConferenceId::new(&entered)
                    .ok()
                    .filter(|c| matches!(self.directory.meeting(&tenant, c), Ok(Some(_))));
                match found {
                    Some(conference) => {
                        tracing::info!(call = %call_id, %tenant, %conference, "entry queue: conference found");
                        self.enter_meeting(now, call_id, (tenant, conference));
                    }
                    None => self.entry_queue_failure(now, call_id),
                }
            }
            '*' => digits.clear(),
            d if d.is_ascii_digit() && digits.len() < ConferenceId::MAX_DIGITS + 2 => {
                digits.push(d)
            }
            _ => {}
        }
    }

    /// A wrong or missing conference ID: retry, or hang up after the last attempt.
    fn entry_queue_failure(&mut self, now: Instant, call_id: CallId) {
        let attempts = self.config.entry_queue_attempts;
        let timeout = self.config.entry_queue_timeout;
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let Phase::EntryQueue {
            digits,
            failures,
            deadline,
        } = &mut call.phase
        else {
            return;
        };
        *failures += 1;
        digits.clear();
        if *failures >= attempts {
            call.phase = Phase::HangingUp {
                at: now + GOODBYE_DELAY,
                reason: (
                    404,
                    format!("No valid conference ID after {attempts} attempts"),
                ),
            };
            self.out.push_back(CoreOutput::PlayPrompt {
                call: call_id,
                prompt: Prompt::Goodbye,
            });
        } else {
            *deadline = now + timeout;
            self.out.push_back(CoreOutput::PlayPrompt {
                call: call_id,
                prompt: Prompt::InvalidConferenceId,
            });
            self.show_slate(call_id);
        }
    }

    /// Puts an answered call into a meeting, through the lobby decision.
    fn enter_meeting(&mut self, now: Instant, call_id: CallId, key: MeetingKey) {
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
    fn live_meeting(&mut self, key: &MeetingKey) -> Result<&mut LiveMeeting, AdminError> {
        let policy = self
            .directory
            .effective_policy(&key.0, &key.1)
            .map_err(|e| {
                tracing::debug!(error = %e, "no such meeting");
                AdminError::UnknownMeeting {
                    tenant: key.0.to_string(),
                    conference: key.1.to_string(),
                }
            })?;
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

    fn join_meeting(
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
        self.process_lobby_events(now, &key);
    }

    fn process_lobby_events(&mut self, now: Instant, key: &MeetingKey) {
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
                    if let Some(Member::Call(call)) = meeting.roster.get(&id).map(|e| e.member) {
                        tracing::info!(%call, participant = %id, ?because, "admitted from the lobby");
                        if let Some(c) = self.calls.get_mut(&call) {
                            c.phase = Phase::InMeeting(key.clone());
                        }
                        self.media_join(call, key);
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
                    if let Some(Member::Call(call)) = entry.map(|e| e.member) {
                        self.end_call(now, call, Some(reason));
                    }
                }
            }
        }
        self.drop_empty_meeting(key);
        self.publish_lobby(&key.0);
    }

    fn drop_empty_meeting(&mut self, key: &MeetingKey) {
        if self.meetings.get(key).is_some_and(LiveMeeting::is_empty) {
            self.meetings.remove(key);
        }
    }

    /// Ends a call: out of its meeting, media stopped, port freed, and (when `reason` is given,
    /// i.e. we hang up) a BYE with a Reason header; `None` means the peer hung up with a BYE.
    fn end_call(&mut self, now: Instant, call_id: CallId, reason: Option<(u16, &str)>) {
        let Some(mut call) = self.remove_call(now, call_id) else {
            return;
        };
        if call.media_started {
            self.out.push_back(CoreOutput::MediaStop { call: call_id });
        }
        // Log why in words either way: an operator reading "reason=None" cannot tell a normal
        // hang-up from a lost one.
        match reason {
            Some((code, text)) => {
                tracing::info!(call = %call_id, code, reason = text, "call ended")
            }
            None => tracing::info!(call = %call_id, reason = "peer hung up (BYE)", "call ended"),
        }
        let (Some((code, text)), Some(dialog)) = (reason, call.dialog.as_mut()) else {
            return;
        };
        let via = self.our_via(call.peer.transport);
        let bye = dialog
            .request(Method::Bye, &via)
            .with_header(
                header("Reason"),
                format!("SIP;cause={code};text=\"{text}\""),
            )
            .with_header(HeaderName::USER_AGENT, self.config.user_agent.clone());
        if let Err(e) = self.txn.send_request(now, bye, call.peer) {
            tracing::warn!(call = %call_id, error = %e, "could not send BYE");
        }
    }

    fn our_via(&mut self, transport: Transport) -> signaling::sip::Via {
        let branch = format!(
            "{}{:016x}",
            signaling::transaction::BRANCH_COOKIE,
            self.rng.random::<u64>()
        );
        let mut via = signaling::sip::Via::new(
            transport.as_str(),
            &self.config.sip_addr.ip().to_string(),
            Some(self.config.sip_addr.port()),
            &branch,
        );
        via.params.set("rport", None);
        via
    }

    fn contact_for(&self, call_id: CallId) -> String {
        let transport = self
            .calls
            .get(&call_id)
            .map_or(Transport::Udp, |c| c.peer.transport);
        contact_uri(self.config.sip_addr, transport)
    }

    fn new_participant(&mut self) -> ParticipantId {
        let id = ParticipantId(self.next_participant);
        self.next_participant += 1;
        id
    }

    /// A response to `request` with our Server header.
    fn response(&self, request: &Message, code: u16, to_tag: Option<&str>) -> Message {
        Message::response_to(request, code, to_tag)
            .with_header(HeaderName::SERVER, self.config.user_agent.clone())
    }

    fn respond(&mut self, now: Instant, key: &TxnKey, response: Message) {
        if let Err(e) = self.txn.respond(now, key, response) {
            tracing::debug!(error = %e, "response not sent");
        }
    }
}

/// The header section of a datagram without its Content-Length (and body), so that a request
/// whose Content-Length promises more than the datagram holds can still be answered with 400
/// (RFC 3261 §18.3).
fn headers_only(bytes: &[u8]) -> Vec<u8> {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |i| i + 2);
    let mut out = Vec::with_capacity(end + 2);
    for line in bytes[..end].split(|b| *b == b'\n') {
        let name = line.split(|b| *b == b':').next().unwrap_or_default();
        let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
        if name == "content-length" || name == "l" || line.is_empty() {
            continue;
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The Contact URI for calls over `transport`.
fn contact_uri(addr: SocketAddr, transport: Transport) -> String {
    let host = match addr.ip() {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    match transport {
        Transport::Udp => format!("<sip:tessera@{host}:{}>", addr.port()),
        Transport::Tcp => format!("<sip:tessera@{host}:{};transport=tcp>", addr.port()),
    }
}

/// A header name known to be a valid token.
fn header(name: &'static str) -> HeaderName {
    HeaderName::new(name).unwrap_or(HeaderName::SERVER)
}

fn unknown_participant(what: &'static str, id: &str) -> AdminError {
    AdminError::UnknownParticipant {
        what,
        id: id.to_owned(),
    }
}

fn phase_deadline(phase: &Phase) -> Option<Instant> {
    match phase {
        Phase::Ringing { answer_at, .. } => Some(*answer_at),
        Phase::EntryQueue { deadline, .. } => Some(*deadline),
        Phase::HangingUp { at, .. } => Some(*at),
        Phase::Lobby(_) | Phase::InMeeting(_) => None,
    }
}

/// The media task's view of a negotiated H.264 stream.
fn video_setup(v: &signaling::sdp::NegotiatedMedia, local_port: u16) -> Option<VideoSetup> {
    let remote = v.remote_rtp?;
    let h264 = v.h264.as_ref()?;
    let (w, h) = h264.max_send_resolution(30);
    // 720p is what the layouts are made at; smaller when the far end's level says so.
    let (w, h) = (u32::from(w).min(1280), u32::from(h).min(720));
    Some(VideoSetup {
        local_port,
        remote,
        payload_type: v.send.pt,
        packetization_mode: h264.packetization_mode,
        max_size: (w.max(16) & !1, h.max(16) & !1),
        bitrate_bps: v.send_bitrate_bps,
        nack: v.rtcp_fb.nack,
        pli: v.rtcp_fb.pli,
        fir: v.rtcp_fb.fir,
        rtcp_mux: v.rtcp_mux,
    })
}

/// What of a negotiation the media task depends on (a change restarts it).
fn audio_setup_key(n: &NegotiatedSession) -> Option<(Option<SocketAddr>, u8, Option<u8>)> {
    n.audio
        .as_ref()
        .map(|a| (a.remote_rtp, a.send.pt, a.telephone_event))
}

#[cfg(test)]
mod tests;
