//! `tessera serve`: the tokio driver around the sans-IO call core. Binds the SIP sockets (UDP and
//! TCP on one port), the H.323 call-signalling listener (`h323`) and the HTTP listener, runs the
//! core in one task that owns it (so call state needs no locks), starts and stops per-call media
//! tasks, and drains on SIGTERM.
//!
//! Owns the runtime, sockets, signals and the clock (the only place `Instant::now` is read for
//! calls). It must not make call decisions: those are the core's.

// The driver is where the clock is read; everything below it takes `now` as an argument.
#![allow(clippy::disallowed_methods)]

pub mod config;
mod directory_sync;
mod gatekeeper;
mod h323;
mod leases;
mod sip_udp;
pub mod tls;
mod transport;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use signaling::{ConferenceId, TenantKey};
use tokio::sync::mpsc;

use crate::calls::api::MediaStats;
use crate::calls::{AdminReply, CallCore, CallId, CoreOutput, H323Admit, MediaEvent};
use crate::demo;
use crate::directory::{
    DbLocation, Directory, DirectoryError, DirectorySource, LiveDirectory, ReadError,
};
use crate::http::{self, AdminHandle, AdminRequest, HttpState};
use crate::media::engine::{
    self, EngineConfig, EngineHandle, EngineInput, EngineSender, MeetingMedia,
};
use crate::media::h264_rtp::VideoFormat;
use crate::media::load::LoadMeter;
use crate::media::pool::{machine_workers, WorkerPool};
use crate::media::slate::{self, SlateConfig, SlateStudio};
use crate::media::task::{CallMedia, Meters, PeerGuard};
use axum::serve::ListenerExt;
pub use config::{ConfigError, ServeConfig, ServeOptions};
use mixer::frame::pool::PicturePool;
use tls::{HttpsListener, TlsError, TlsReloader};
use transport::{Inbound, SipSockets};

/// The demo meeting's synthetic participants (the meeting engine draws and voices them).
const DEMO_PARTICIPANTS: [&str; 8] = [
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Katherine Johnson",
    "Claude Shannon",
    "Margaret Hamilton",
    "Edsger Dijkstra",
    "Barbara Liskov",
];

/// Encoder load (share of the machine's cores) above which new calls are refused with 503, and
/// below which they are taken again: the gap keeps the gateway from flapping at the edge.
const OVERLOAD_ON: f64 = 0.85;
const OVERLOAD_OFF: f64 = 0.70;
/// Seconds (load ticks) between trims of the picture pool's unused sizes.
const POOL_TRIM_TICKS: u64 = 10;

/// Why `serve` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The directory could not be opened or seeded.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The directory could not be read into memory.
    #[error(transparent)]
    DirectoryRead(#[from] ReadError),
    /// The blocking task opening the directory failed.
    #[error("directory task failed: {0}")]
    DirectoryTask(String),
    /// The TLS certificate or key could not be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The admin token could not be set up.
    #[error(transparent)]
    Token(#[from] http::token::TokenError),
    /// A socket could not be bound.
    #[error("cannot listen on {what} {addr}: {source}")]
    Bind {
        /// "SIP", "H.323" or "HTTP".
        what: &'static str,
        /// The address.
        addr: std::net::SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The metrics registry could not be built.
    #[error("metrics: {0}")]
    Metrics(prometheus::Error),
    /// The HTTP server failed.
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
    /// The media worker threads could not be started.
    #[error("media workers: {0}")]
    Workers(std::io::Error),
    /// The cluster's licence store could not be reached (`--cluster-db`).
    #[error("cluster licences: {0}")]
    Leases(#[from] crate::cluster::LeaseError),
    /// Gatekeeper registration could not start.
    #[error(transparent)]
    Gatekeeper(#[from] gatekeeper::GatekeeperError),
}

/// Opens the directory at `db` (seeding the demo when asked) and loads it into memory: the
/// source for admin requests, the watcher's handle and the snapshot calls are answered from.
fn open_directory(
    db: &DbLocation,
    demo: bool,
) -> Result<(DirectorySource, Directory, LiveDirectory), ServeError> {
    let source = DirectorySource::connect(db)?;
    let mut directory = source.open()?;
    if demo {
        let seed = demo::ensure_demo(&mut directory)?;
        tracing::info!(
            tenant = demo::DEMO_TENANT,
            conference = demo::DEMO_CONFERENCE,
            tenant_created = seed.tenant_created,
            meeting_created = seed.meeting_created,
            "demo ready"
        );
    }
    let live = LiveDirectory::load(&directory)?;
    tracing::info!(%db, "directory open");
    Ok((source, directory, live))
}

/// Runs the gateway until it has drained after SIGTERM or SIGINT.
pub async fn serve(db: &DbLocation, config: ServeConfig) -> Result<(), ServeError> {
    // Opening may migrate, seeding writes and loading reads; with PostgreSQL the blocking client
    // must not run on the async threads at all.
    let (source, directory, live) = {
        let (db, demo) = (db.clone(), config.demo);
        tokio::task::spawn_blocking(move || open_directory(&db, demo))
            .await
            .map_err(|e| ServeError::DirectoryTask(e.to_string()))??
    };
    let db_path = &db.token_anchor();
    // Calls are answered from memory; the watcher reloads it when the database changes.
    let live = Arc::new(live);
    let _directory_watch = directory_sync::spawn(live.clone(), directory);
    let token = http::token::load_or_create_token(config.admin_token.clone(), db_path)?;
    let metrics = crate::metrics::Metrics::new().map_err(ServeError::Metrics)?;

    let (inbound_tx, mut inbound_rx) = mpsc::channel::<Inbound>(4096);
    let (sockets, sip_local) =
        SipSockets::bind(config.sip_listen, config.sip_udp_buffer, inbound_tx.clone())
            .await
            .map_err(|source| ServeError::Bind {
                what: "SIP",
                addr: config.sip_listen,
                source,
            })?;
    let h323_bind_error = |source| ServeError::Bind {
        what: "H.323",
        addr: config.h323_listen,
        source,
    };
    let h323_listener = tokio::net::TcpListener::bind(config.h323_listen)
        .await
        .map_err(h323_bind_error)?;
    let h323_local = h323_listener.local_addr().map_err(h323_bind_error)?;
    let (h323_tx, mut h323_rx) = mpsc::channel::<h323::ToCore>(256);
    let h323_task = h323::spawn(h323_listener, h323_tx);
    let mut gatekeeper = match &config.h323_gatekeeper {
        Some(gk) => Some(gatekeeper::Gatekeeper::start(gk, h323_local, metrics.clone()).await?),
        None => None,
    };
    let mut core_config = config.core.clone();
    if core_config.sip_addr.port() == 0 {
        core_config.sip_addr.set_port(sip_local.port());
    }
    // One certificate for SIP and the admin API, reloaded together on SIGHUP.
    let tls = match config
        .sip_tls
        .as_ref()
        .map(|(_, files)| files)
        .or(config.admin_tls.as_ref())
    {
        Some(files) => {
            let tls = TlsReloader::new(files.clone())?;
            spawn_certificate_reload(tls.clone());
            Some(tls)
        }
        None => None,
    };
    if let (Some((addr, _)), Some(tls)) = (&config.sip_tls, &tls) {
        let tls_local = sockets
            .bind_tls(*addr, tls.clone(), inbound_tx)
            .await
            .map_err(|source| ServeError::Bind {
                what: "SIP TLS",
                addr: *addr,
                source,
            })?;
        core_config.sip_tls_addr = Some(std::net::SocketAddr::new(
            core_config.sip_addr.ip(),
            tls_local.port(),
        ));
        tracing::info!(addr = %tls_local, "SIP over TLS listening");
    }
    let sip_advertised = core_config.sip_addr;
    let (leases, mut lease_rx, mut homes_rx) =
        leases::LeaseDriver::start(config.cluster.as_ref(), sip_advertised.to_string()).await?;
    core_config.cluster = leases.identity();
    let media_bind = config.sip_listen.ip();
    let now = Instant::now();
    // Every meeting engine and the slates run on one fixed set of threads, one per core.
    let pool = Arc::new(WorkerPool::new(machine_workers(), "media").map_err(ServeError::Workers)?);
    metrics
        .media_workers
        .set(i64::try_from(pool.workers()).unwrap_or(i64::MAX));
    let mut engines = MeetingEngines::new(metrics.clone(), pool.clone());
    let mut core = CallCore::new(
        core_config,
        live.clone(),
        (now, SystemTime::now()),
        rand::random(),
        metrics.clone(),
    );
    if config.demo {
        let tenant = TenantKey::new(demo::DEMO_TENANT).map_err(DirectoryError::from)?;
        let conference = ConferenceId::new(demo::DEMO_CONFERENCE).map_err(DirectoryError::from)?;
        let key = (tenant.to_string(), conference.to_string());
        let count = DEMO_PARTICIPANTS.len() as u32;
        for (index, name) in (0u32..).zip(DEMO_PARTICIPANTS) {
            match core.add_synthetic(now, &tenant, &conference, name) {
                Ok((id, stats)) => engines.add_synthetic(&key, id.0, name, index, count, stats),
                Err(e) => tracing::warn!(error = %e, "demo participant not added"),
            }
        }
    }

    let (admin_tx, mut admin_rx) = mpsc::channel::<AdminRequest>(256);
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(config.http_listen)
        .await
        .map_err(|source| ServeError::Bind {
            what: "HTTP",
            addr: config.http_listen,
            source,
        })?;
    let http_local = listener.local_addr().map_err(ServeError::Http)?;
    if config.demo {
        // Standard output, ahead of the log (standard error): the first thing a newcomer sees.
        let token_file = config.admin_token.is_none().then(|| {
            let path = http::token::token_file_path(db_path);
            std::path::absolute(&path).unwrap_or(path)
        });
        print!(
            "{}",
            demo::banner(sip_advertised, http_local, token_file.as_deref())
        );
    }
    let webrtc = crate::webrtc::WebrtcState::new(config.webrtc.clone(), metrics.clone());
    let router = http::router(HttpState {
        webrtc: webrtc.clone(),
        token: Arc::new(token),
        admin: AdminHandle(admin_tx),
        ready: ready.clone(),
        metrics: metrics.clone(),
        db: source,
        directory: live,
        throttle: Arc::new(std::sync::Mutex::new(http::throttle::AuthThrottle::new(
            config.admin_throttle,
        ))),
    });
    // With the peer's address, for the admin token throttle.
    let router = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let http_task = match tls.filter(|_| config.admin_tls.is_some()) {
        Some(tls) => {
            // `tap_io` (a no-op tap) is what gives a custom listener axum's `ConnectInfo`.
            let listener = HttpsListener::new(listener, tls)
                .map_err(ServeError::Http)?
                .tap_io(|_| {});
            tokio::spawn(async move { axum::serve(listener, router).await })
        }
        None => tokio::spawn(async move { axum::serve(listener, router).await }),
    };
    ready.store(true, Ordering::SeqCst);
    tracing::info!(sip = %sip_local, h323 = %h323_local, http = %http_local,
        "tessera is listening (SIP over UDP and TCP, H.323 over TCP)");

    // One slate studio for the whole gateway: every waiting caller's video comes from it.
    let slates = slate::start(
        &pool,
        SlateStudio::new(SlateConfig::default(), Instant::now()).with_metrics(metrics.clone()),
    );
    let (media_tx, mut media_rx) = mpsc::unbounded_channel::<(CallId, MediaEvent)>();
    let mut media: HashMap<CallId, CallMedia> = HashMap::new();
    // Each admitted H.323 call's connection task, for the core to end the call through.
    let mut h323_calls: HashMap<CallId, mpsc::UnboundedSender<h323::ToCall>> = HashMap::new();
    let mut waiters = leases::Waiters::default();
    let mut video_formats: HashMap<CallId, Option<VideoFormat>> = HashMap::new();
    let mut shutdown = Box::pin(shutdown_signal());
    let cores = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
    let mut load_tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut load_since = Instant::now();
    let mut overloaded = false;
    let mut pool_ticks: u64 = 0;
    let mut draining = false;
    loop {
        // Outputs first: everything the last input caused goes out before the next input.
        while let Some(output) = core.poll_output() {
            match output {
                CoreOutput::Transmit { to, bytes } => sockets.send(to, bytes).await,
                CoreOutput::H323Release { call, reason } => {
                    if let Some(task) = h323_calls.remove(&call) {
                        let _ = task.send(h323::ToCall::Release(reason));
                    }
                }
                CoreOutput::H323KeyframeRequest { call } => {
                    if let Some(task) = h323_calls.get(&call) {
                        let _ = task.send(h323::ToCall::RequestKeyframe);
                    }
                }
                CoreOutput::PeerKeyframeRequest { call } => {
                    if let Some(handle) = media.get(&call) {
                        handle.peer_keyframe_request();
                    }
                }
                CoreOutput::MediaStart {
                    call,
                    audio,
                    video,
                    signalling_ip,
                    stats,
                    srtp,
                } => {
                    let meters = Meters {
                        stats,
                        metrics: Some(metrics.clone()),
                    };
                    video_formats.insert(call, video.as_ref().map(VideoFormat::of));
                    // Returns at once: the sockets are bound in the call's own task, so the SIP
                    // core never waits on (or does) media set-up while INVITEs queue.
                    let handle = CallMedia::launch(
                        call,
                        media_bind,
                        audio,
                        video,
                        PeerGuard {
                            signalling_ip: Some(signalling_ip),
                            srtp,
                        },
                        media_tx.clone(),
                        meters,
                    );
                    media.insert(call, handle);
                }
                CoreOutput::MediaJoin {
                    call,
                    tenant,
                    conference,
                    participant,
                    display_name,
                } => {
                    let format = video_formats.get(&call).copied().flatten();
                    let key = (tenant, conference);
                    match (media.get(&call), engines.engine(&key)) {
                        (Some(handle), Some(engine)) => {
                            handle.join(engine, participant, display_name, format);
                            engines.joined(call, key);
                        }
                        _ => tracing::warn!(%call, "call media could not join its meeting"),
                    }
                }
                CoreOutput::MediaLeave { call } => {
                    if let Some(handle) = media.get(&call) {
                        handle.leave();
                    }
                    engines.left(call);
                }
                CoreOutput::MediaStop { call } => {
                    video_formats.remove(&call);
                    if let Some(handle) = media.remove(&call) {
                        handle.stop();
                    }
                    engines.left(call);
                }
                CoreOutput::PlayPrompt { call, prompt } => {
                    if let Some(handle) = media.get(&call) {
                        handle.play(prompt);
                    }
                }
                CoreOutput::ShowSlate { call, slate } => {
                    if let Some(handle) = media.get(&call) {
                        handle.show_slate(slates.sender.clone(), slate);
                    }
                }
                CoreOutput::MediaControl { call, control } => {
                    if let Some(handle) = media.get(&call) {
                        handle.control(control);
                    }
                }
                CoreOutput::RemoteStreams { call, streams } => {
                    if let Some(handle) = media.get(&call) {
                        handle.remote_streams(streams);
                    }
                }
                CoreOutput::WebrtcJoin {
                    session,
                    tenant,
                    conference,
                    participant,
                    display_name,
                    stats,
                } => {
                    let key = (tenant, conference);
                    let session = webrtc.sessions.get(session);
                    match (session, engines.engine(&key)) {
                        (Some(session), Some(engine)) => {
                            // Browsers keep their meeting's engine running like synthetic
                            // participants do (it stops at shutdown).
                            engines.synthetic.insert(key);
                            session.publish(crate::webrtc::SessionEvent::Lobby {
                                state: "admitted",
                                reason: String::new(),
                            });
                            if let Some(peer) = session.peer() {
                                peer.join(
                                    engine,
                                    participant,
                                    display_name,
                                    stats,
                                    session.clone(),
                                );
                            }
                        }
                        _ => {
                            tracing::warn!(participant, "browser media could not join its meeting")
                        }
                    }
                }
                CoreOutput::WebrtcEnd { session, reason } => {
                    // The session stays (its page reads why on its event stream, also after a
                    // reconnect) until the page leaves with DELETE.
                    if let Some(session) = webrtc.sessions.get(session) {
                        let state = if reason == "removed" {
                            "removed"
                        } else {
                            "denied"
                        };
                        let why = match reason {
                            "timeout" => "nobody admitted you in time",
                            "removed" => "an operator removed you from the meeting",
                            _ => "you were denied entry from the lobby",
                        };
                        session.publish(crate::webrtc::SessionEvent::Lobby {
                            state,
                            reason: why.to_owned(),
                        });
                        if let Some(peer) = session.take_peer() {
                            tokio::spawn(async move { peer.close().await });
                        }
                    }
                }
                CoreOutput::LeaseRequest {
                    ticket,
                    tenant,
                    kind,
                    licences,
                    lease,
                } => leases.request(ticket, tenant, kind, licences, lease),
                CoreOutput::LeaseRelease { lease } => leases.release(lease),
                CoreOutput::SyntheticJoin {
                    tenant,
                    conference,
                    participant,
                    display_name,
                    index,
                    count,
                    stats,
                } => engines.add_synthetic(
                    &(tenant, conference),
                    participant,
                    &display_name,
                    index,
                    count,
                    stats,
                ),
            }
        }
        if draining && core.is_drained() {
            tracing::info!("drained; exiting");
            break;
        }
        let wake = core.poll_timeout();
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(inbound) = inbound_rx.recv() => {
                let now = Instant::now();
                match inbound {
                    Inbound::Datagrams(batch) => {
                        for (bytes, peer) in batch {
                            core.handle_datagram(now, &bytes, peer);
                        }
                    }
                    Inbound::Bytes(bytes, peer) => core.handle_datagram(now, &bytes, peer),
                    Inbound::Message(message, peer) => core.handle_message(now, message, peer),
                    Inbound::ClientCertificate(peer, fingerprint) => {
                        core.handle_client_certificate(peer, fingerprint)
                    }
                    Inbound::Closed(peer) => core.handle_stream_closed(peer),
                }
            }
            Some((call, event)) = media_rx.recv() => core.handle_media_event(Instant::now(), call, event),
            Some((ticket, answer)) = lease_rx.recv() => {
                let outcome = core.handle_lease(Instant::now(), ticket, answer);
                if let Some(lost) = waiters.answer(ticket, outcome, &mut h323_calls) {
                    core.handle_h323_event(Instant::now(), lost, h323::hung_up());
                }
            }
            Some((meeting, home)) = homes_rx.recv() => core.apply_home(Instant::now(), meeting, home),
            Some(message) = h323_rx.recv() => match message {
                h323::ToCore::Setup(setup) => {
                    let display = setup.display.clone();
                    let decision = match core.admit_h323(Instant::now(), setup.peer, &setup.destination, display) {
                        Ok(H323Admit::AwaitingLease(ticket)) => {
                            waiters.setup(ticket, setup);
                            continue;
                        }
                        Ok(H323Admit::Admitted(admission)) => Ok(admission),
                        Err(reason) => Err(reason),
                    };
                    if let Some(lost) = h323::answer(setup, decision, &mut h323_calls) {
                        core.handle_h323_event(Instant::now(), lost, h323::hung_up());
                    }
                }
                h323::ToCore::Event { call, event } => {
                    if matches!(event, ::h323::call::Event::Ended(_)) {
                        h323_calls.remove(&call);
                    }
                    core.handle_h323_event(Instant::now(), call, event);
                }
            },
            Some((command, reply)) = admin_rx.recv() => {
                match core.handle_admin(Instant::now(), command) {
                    Ok(AdminReply::AwaitingLease(ticket)) => waiters.dial(ticket, reply),
                    result => {
                        let _ = reply.send(result);
                    }
                }
            }
            () = sleep => core.handle_timeout(Instant::now()),
            _ = load_tick.tick() => {
                // Meeting homes and cluster links (nothing outside a cluster).
                leases.homes(core.home_work(Instant::now()));
                // Automatic capacity: what the encoders used over the last second, against the
                // machine (`--max-calls` is the fixed limit beside it).
                let now = Instant::now();
                let busy = engines.load.take().as_secs_f64();
                let elapsed = now.saturating_duration_since(load_since).as_secs_f64().max(0.001);
                load_since = now;
                let used = busy / elapsed;
                metrics.encoder_load_cores.set(used);
                // Picture buffers of sizes no longer made (a caller left, a layout changed) go
                // back to the allocator; those still in use stay pooled.
                pool_ticks += 1;
                if pool_ticks.is_multiple_of(POOL_TRIM_TICKS) {
                    PicturePool::global().trim_unwanted();
                }
                metrics.picture_pool_idle_bytes.set(
                    i64::try_from(PicturePool::global().idle_bytes()).unwrap_or(i64::MAX),
                );
                let share = used / cores;
                overloaded = if overloaded { share > OVERLOAD_OFF } else { share > OVERLOAD_ON };
                core.set_overloaded(overloaded);
            }
            () = &mut shutdown, if !draining => {
                tracing::info!("shutdown requested: draining (new calls get 503)");
                draining = true;
                core.begin_drain(Instant::now());
                // The gatekeeper stops routing calls here while the calls in progress end.
                if let Some(gk) = &mut gatekeeper {
                    gk.unregister();
                }
            }
        }
    }
    ready.store(false, Ordering::SeqCst);
    if let Some(gk) = gatekeeper {
        gk.finish().await;
    }
    leases.stop().await;
    http_task.abort();
    h323_task.abort();
    engines.stop_all();
    slates.stop();
    drop(engines);
    // The workers stop with the last reference to the pool.
    drop(pool);
    Ok(())
}

/// The running meeting media engines, one per meeting with media, started on first use and
/// stopped when the meeting's last call leaves (unless synthetic participants keep it): an
/// engine left running for every meeting ever joined kept its thread, encoders and pictures.
struct MeetingEngines {
    engines: HashMap<(String, String), EngineHandle>,
    /// The calls whose media is in each engine.
    members: HashMap<(String, String), HashSet<CallId>>,
    /// Which engine each call's media is in.
    joined: HashMap<CallId, (String, String)>,
    /// Meetings with synthetic participants (their engine runs until shutdown).
    synthetic: HashSet<(String, String)>,
    metrics: crate::metrics::Metrics,
    /// CPU time every engine's encoders used since the last load measurement.
    load: LoadMeter,
    /// The worker threads the engines run on.
    pool: Arc<WorkerPool>,
}

impl MeetingEngines {
    fn new(metrics: crate::metrics::Metrics, pool: Arc<WorkerPool>) -> Self {
        MeetingEngines {
            engines: HashMap::new(),
            members: HashMap::new(),
            joined: HashMap::new(),
            synthetic: HashSet::new(),
            metrics,
            load: LoadMeter::new(),
            pool,
        }
    }

    /// The input channel of `key`'s engine, starting it if needed.
    fn engine(&mut self, key: &(String, String)) -> Option<EngineSender> {
        if let Some(e) = self.engines.get(key) {
            return Some(e.sender.clone());
        }
        let media = MeetingMedia::new(
            EngineConfig::default(),
            Instant::now(),
            Some(self.metrics.clone()),
        )
        .with_load_meter(self.load.clone());
        let handle = engine::start(&self.pool, media);
        let sender = handle.sender.clone();
        self.engines.insert(key.clone(), handle);
        Some(sender)
    }

    /// `call`'s media joined `key`'s engine (leaving any other).
    fn joined(&mut self, call: CallId, key: (String, String)) {
        self.left(call);
        self.members.entry(key.clone()).or_default().insert(call);
        self.joined.insert(call, key);
    }

    /// `call`'s media left its engine (or the call ended); stops the engine if that emptied it.
    fn left(&mut self, call: CallId) {
        let Some(key) = self.joined.remove(&call) else {
            return;
        };
        let empty = self.members.get_mut(&key).is_none_or(|m| {
            m.remove(&call);
            m.is_empty()
        });
        if !empty || self.synthetic.contains(&key) {
            return;
        }
        self.members.remove(&key);
        if let Some(handle) = self.engines.remove(&key) {
            tracing::debug!(tenant = %key.0, conference = %key.1, "meeting empty: media engine stopped");
            // Stopping waits for the engine's current run (an encode): not on the runtime.
            tokio::task::spawn_blocking(move || handle.stop());
        }
    }

    fn add_synthetic(
        &mut self,
        key: &(String, String),
        participant: u64,
        name: &str,
        index: u32,
        count: u32,
        stats: Arc<MediaStats>,
    ) {
        self.synthetic.insert(key.clone());
        if let Some(engine) = self.engine(key) {
            let _ = engine.send(EngineInput::AddSynthetic {
                participant,
                display_name: name.to_owned(),
                index,
                count,
                stats,
            });
        }
    }

    fn stop_all(&mut self) {
        for (_, handle) in self.engines.drain() {
            handle.stop();
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the process can still be killed; it just will not drain.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Re-reads the TLS certificate and key on SIGHUP: new connections get the new certificate,
/// established ones (and their calls) keep theirs.
fn spawn_certificate_reload(tls: TlsReloader) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(e) => {
            tracing::warn!(error = %e, "no SIGHUP handler; certificates load at start only");
            return;
        }
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(e) => {
                    tracing::warn!(error = %e, "TLS reload failed; the old certificate stays")
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(conference: &str) -> (String, String) {
        ("87650000".to_owned(), conference.to_owned())
    }

    #[tokio::test]
    async fn an_engine_stops_when_its_last_call_leaves_unless_synthetic_participants_stay() {
        let pool = Arc::new(WorkerPool::new(1, "test-media").unwrap());
        let mut engines = MeetingEngines::new(crate::metrics::Metrics::new().unwrap(), pool);
        let (a, b) = (key("70000000"), key("70000001"));
        let sender = engines.engine(&a).expect("engine started");
        engines.joined(CallId(1), a.clone());
        engines.joined(CallId(2), a.clone());
        engines.left(CallId(1));
        assert!(engines.engines.contains_key(&a), "one call still in");
        // A call moving to another meeting leaves the first.
        engines.engine(&b).expect("engine started");
        engines.joined(CallId(2), b.clone());
        assert!(!engines.engines.contains_key(&a), "emptied by the move");
        engines.left(CallId(2));
        assert!(engines.engines.is_empty());
        // The stopped engine's job ends: its input queue closes.
        let mut closed = false;
        for _ in 0..200 {
            if sender.send(EngineInput::Leave { participant: 0 }).is_err() {
                closed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(closed, "engine still running");
        // Synthetic participants keep their meeting's engine.
        engines.add_synthetic(&a, 100, "Synthetic", 0, 1, Arc::default());
        engines.joined(CallId(3), a.clone());
        engines.left(CallId(3));
        assert!(engines.engines.contains_key(&a));
        engines.left(CallId(3));
        engines.stop_all();
    }
}
