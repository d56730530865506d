//! Call control: what happens to every SIP call from INVITE to BYE. Routes the dialled string to a
//! meeting or entry queue, classifies the caller's trust, negotiates SDP, runs the entry queue and
//! the lobby, answers operator commands, and drains on shutdown.
//!
//! Sans-IO like `signaling/`: the driver (`crate::server`) feeds datagrams, media events, admin
//! commands and timeouts in with `now`, and drains [`CallCore::poll_output`]. It reads the tenant
//! directory through [`DirectoryRead`] only (in the gateway an in-memory snapshot the driver keeps
//! current, so no lookup waits on a disk) and never writes it. It must not open sockets, spawn
//! tasks or read the clock, so tests drive whole calls on a virtual clock.
//!
//! One file per concern: `invite` (a new INVITE: routing, trust, licence, SDP), `dialog` (SIP
//! after it), `admission` (into a meeting, through the lobby), `entry_queue`, `media` (what the
//! driver is told about media, in-call DTMF controls), `admin` (operator commands), `licences`
//! (call indexes and the licence and lobby gauges), `h323` (an H.323 Setup's routing, trust and
//! licence decision, and the admitted H.323 call's media and events).

mod admin;
mod admission;
pub mod api;
mod auth;
mod cascade;
mod cluster_links;
mod dialog;
mod dialout;
mod encryption;
mod entry_queue;
mod h323;
mod invite;
mod licence_leases;
mod licences;
mod media;
mod meeting;
mod ports;
mod session_timer;
mod source_limits;
pub mod tessera;

pub use api::*;
pub use cascade::CallKind;
pub use cluster_links::{ClusterIdentity, HomeTask, CLUSTER_REALM, CLUSTER_USER};
pub use dialout::{DialRequest, LinkId};
pub use h323::{H323Admission, H323Route};
pub use meeting::{LiveMeeting, MeetingKey, Member, RosterEntry};

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ipnet::IpNet;
use rand::rngs::StdRng;
use rand::SeedableRng;
use signaling::dialog::{Dialog, DialogId};
use signaling::limits::{LimitConfig, SourceLimits};
use signaling::sdp::{AudioCodec, Capabilities, NegotiatedSession, SdpSession, SessionDescription};
use signaling::session_timer::TimerPolicy;
use signaling::sip::Message;
use signaling::transaction::{Peer, TimerConfig, TransactionLayer, Transport, TxnKey};
use signaling::TenantKey;

use crate::directory::DirectoryRead;
use crate::lobby::{ParticipantClass, ParticipantId};
use crate::metrics::Metrics;
use auth::NonceBook;
use dialog::{contact_uri, header, is_sips_request, ALLOW};
use media::{audio_setup_key, MediaControls};
use ports::PortPool;

/// Extensions we implement (the `Supported` header): RFC 4028 session timers only.
const SUPPORTED: &str = signaling::session_timer::OPTION_TAG;

/// Everything [`CallCore`] is configured with.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The SIP address we advertise in Via and Contact (`host:port`).
    pub sip_addr: SocketAddr,
    /// The advertised TLS (`sips:`) address, when the TLS listener runs: Contact of TLS calls.
    pub sip_tls_addr: Option<SocketAddr>,
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
    /// RFC 4028 session timers: our Min-SE and preferred interval.
    pub session_timer: TimerPolicy,
    /// Per-source rate limits, bans and caps.
    pub source_limits: LimitConfig,
    /// Source networks the per-source limits do not apply to (SBCs, trunks, load generators).
    pub source_limits_exempt: Vec<IpNet>,
    /// Licences of incoming calls are counted cluster-wide: each INVITE waits for a lease
    /// ([`CoreOutput::LeaseRequest`]) instead of being counted against this node's calls.
    pub cluster_licences: bool,
    /// This node's identity in its cluster, when it is one (`--cluster-db`): meetings get a home
    /// node and cluster links (`cluster_links`).
    pub cluster: Option<ClusterIdentity>,
}

impl CoreConfig {
    /// The address we advertise to a peer on `transport` (the TLS listener's for TLS).
    pub fn advertised(&self, transport: Transport) -> SocketAddr {
        match (transport, self.sip_tls_addr) {
            (Transport::Tls, Some(tls)) => tls,
            _ => self.sip_addr,
        }
    }

    /// Defaults around the given advertised addresses: Opus, G.722 and G.711 (preferred in that
    /// order) + telephone-event + H.264, 10-minute lobby wait, 3 entry-queue attempts of 30 s each.
    pub fn new(sip_addr: SocketAddr, media_ip: IpAddr) -> Self {
        CoreConfig {
            sip_addr,
            sip_tls_addr: None,
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
            session_timer: TimerPolicy::default(),
            source_limits: LimitConfig::default(),
            source_limits_exempt: Vec::new(),
            cluster_licences: false,
            cluster: None,
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
    /// An admitted H.323 call whose media addresses H.245 (Fast Start or the H.245 procedures)
    /// is still settling; placed at `target` once they are known, ended at `deadline` if never.
    AwaitingMedia { target: Target, deadline: Instant },
}

/// The signalling protocol a call arrived over: the `protocol` label of the call metrics and
/// of the admin roster. Everything after admission (lobby, licences, drain) is the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Sip,
    /// H.225.0/H.245; its signalling runs in the driver's connection task (`server::h323`), which
    /// the core reaches with [`CoreOutput::H323Release`].
    H323,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Protocol::Sip => "sip",
            Protocol::H323 => "h323",
        }
    }
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
    /// Endpoint or cascade link: which licence it holds, how it is shown and what it sees.
    kind: CallKind,
    /// SIP or H.323 (an H.323 call has no `uas`, `dialog` or `link`).
    protocol: Protocol,
    /// The INVITE we answer, for a call the far end placed; `None` for a cascade link we dialled
    /// (its SIP is `signaling::ua`'s, see `dialout`).
    uas: Option<UasInvite>,
    /// The dialog of a call we answered (a dialled link's is inside its user agent).
    dialog: Option<Dialog>,
    /// The dial-out link this call is, if we placed it.
    link: Option<dialout::LinkId>,
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
    /// The RFC 4028 session timer, if one was negotiated.
    session_timer: Option<session_timer::CallTimer>,
    /// Set when the call is a Tessera link (a cascade whose far end is another Tessera node).
    tessera: Option<tessera::TesseraLink>,
    /// A cluster link (`cluster_links`), either way: it holds no licence.
    cluster: bool,
}

/// The INVITE of a call placed by the far end: what the 180/200 and refusals answer.
#[derive(Debug)]
struct UasInvite {
    key: TxnKey,
    invite: Message,
    local_tag: String,
}

/// The call-control core. See the module doc.
#[derive(Debug)]
pub struct CallCore {
    config: CoreConfig,
    /// What calls are routed, classified and licensed by (read only).
    directory: Arc<dyn DirectoryRead>,
    txn: TransactionLayer,
    calls: HashMap<CallId, Call>,
    /// Live calls per tenant (what its endpoint licences count), kept with `calls` so the
    /// licence check of every INVITE is not a scan of every call.
    tenant_calls: HashMap<TenantKey, usize>,
    /// Cascade links per tenant (each holds one cascade licence).
    tenant_cascades: HashMap<TenantKey, usize>,
    /// Links to bridges we dial (their calls, once answered, are in `calls`).
    links: dialout::Links,
    /// Meeting homes and the cluster links serving them.
    cluster: cluster_links::ClusterLinks,
    dialogs: HashMap<DialogId, CallId>,
    ringing: HashMap<TxnKey, CallId>,
    /// Our session refreshes in flight, by client transaction.
    refreshes: HashMap<TxnKey, CallId>,
    meetings: HashMap<MeetingKey, LiveMeeting>,
    /// The media counters of each synthetic participant and browser, written by the media
    /// engine or WebRTC peer that runs it (a call's are in its `Call`).
    native_stats: HashMap<ParticipantId, Arc<MediaStats>>,
    ports: PortPool,
    nonces: NonceBook,
    /// Per-source rate limits, bans and caps ([`source_limits`]).
    limits: SourceLimits,
    /// The client-certificate fingerprint of each open TLS connection that presented one, by
    /// peer address (what `cert-sha256` device rules match).
    client_certs: HashMap<SocketAddr, String>,
    rng: StdRng,
    out: VecDeque<CoreOutput>,
    /// INVITEs waiting for cluster-wide licence leases, and the leases calls hold.
    leases: licence_leases::Leases,
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
        directory: Arc<dyn DirectoryRead>,
        origin: (Instant, SystemTime),
        seed: u64,
        metrics: Metrics,
    ) -> Self {
        let core = CallCore {
            txn: TransactionLayer::new(config.timers),
            ports: PortPool::new(config.rtp_ports.clone()),
            limits: SourceLimits::new(config.source_limits),
            config,
            directory,
            calls: HashMap::new(),
            tenant_calls: HashMap::new(),
            tenant_cascades: HashMap::new(),
            links: dialout::Links::default(),
            cluster: cluster_links::ClusterLinks::default(),
            dialogs: HashMap::new(),
            ringing: HashMap::new(),
            refreshes: HashMap::new(),
            meetings: HashMap::new(),
            native_stats: HashMap::new(),
            nonces: NonceBook::default(),
            client_certs: HashMap::new(),
            rng: StdRng::seed_from_u64(seed),
            out: VecDeque::new(),
            leases: licence_leases::Leases::default(),
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

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.txn.handle_timeout(now);
        self.expire_bans(now);
        self.link_timeouts(now);
        self.fire_session_timers(now);
        self.sync_tessera_rosters(now);
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
                Phase::AwaitingMedia { .. } => {
                    self.end_call(now, id, Some((408, "No media negotiated")))
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
            .chain(self.session_timer_deadline())
            .chain(self.txn.poll_timeout())
            .chain(self.limits.poll_timeout())
            .chain(self.links.poll_timeout())
            .chain(self.tessera_deadline())
            .min()
    }

    /// The next thing for the driver to do.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<CoreOutput> {
        self.out.pop_front()
    }

    fn new_participant(&mut self) -> ParticipantId {
        let id = ParticipantId(self.next_participant);
        self.next_participant += 1;
        id
    }
}

fn phase_deadline(phase: &Phase) -> Option<Instant> {
    match phase {
        Phase::Ringing { answer_at, .. } => Some(*answer_at),
        Phase::EntryQueue { deadline, .. } => Some(*deadline),
        Phase::HangingUp { at, .. } => Some(*at),
        Phase::AwaitingMedia { deadline, .. } => Some(*deadline),
        Phase::Lobby(_) | Phase::InMeeting(_) => None,
    }
}

#[cfg(test)]
mod tests;
