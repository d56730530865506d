//! The H.323 call-signalling listener (`--h323-listen`, TCP, H.225.0 in TPKT): one task per
//! connection drives an [`InboundCall`] with the bytes it reads and the clock, writes what it
//! polls, and talks to the core task through a channel: a Setup's aliases go there to be routed
//! and admitted (`CallCore::admit_h323`; with cluster licences the core task answers once the
//! lease store has, [`answer`]), and an admitted call's events (media agreed, DTMF, the
//! caller's hang-up) follow. The core ends a call by sending its reason back on the call's own
//! channel ([`CoreOutput::H323Release`](crate::calls::CoreOutput::H323Release)), and asks for
//! keyframes the same way.
//!
//! H.245 travels tunnelled in H.225.0 or, as the fallback, on a separate TCP connection the
//! same task runs: to the caller's H.245 address when its Setup gave one, else on a port the
//! task listens on and announces in Connect.
//!
//! Owns the H.323 sockets and their tasks; it must not make call decisions (the core and the
//! sans-IO `h323` call machine do) and must never stop on what a peer sends: a broken stream, a
//! peer that never sends a Setup, or a write that fails ends that one connection only.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use h323::call::{CallConfig, EndReason, Event, InboundCall, Incoming};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::calls::{CallId, H323Admission};

/// How long a connection may stay open without sending its Setup (a port scanner, a peer
/// that sends garbage in well-formed TPKT packets, a half-open connection).
const SETUP_WAIT: Duration = Duration::from_secs(10);

/// How long connecting to a caller's H.245 address may take.
const H245_CONNECT_WAIT: Duration = Duration::from_secs(5);

/// How long the listener pauses after a failed `accept` (out of file descriptors), so it does
/// not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What a connection task tells the core task.
#[derive(Debug)]
pub(super) enum ToCore {
    /// A Setup waiting for the core's decision.
    Setup(SetupRequest),
    /// An event of an admitted call's machine.
    Event {
        /// The call.
        call: CallId,
        /// What happened.
        event: Event,
    },
}

/// What the core task asks of an admitted call's connection task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ToCall {
    /// End the call with Release Complete.
    Release(EndReason),
    /// Ask the caller for a keyframe (H.245 `videoFastUpdatePicture`).
    RequestKeyframe,
}

/// A Setup waiting for the core's routing and admission.
#[derive(Debug)]
pub(super) struct SetupRequest {
    /// The TCP peer (trust classes match its address).
    pub peer: SocketAddr,
    /// The destination aliases as text, then the called party number.
    pub destination: Vec<String>,
    /// The caller's Display element (its roster name).
    pub display: Option<String>,
    /// Where the core reaches the call once admitted.
    pub to_call: mpsc::UnboundedSender<ToCall>,
    /// Where the decision goes.
    pub reply: oneshot::Sender<Result<H323Admission, EndReason>>,
}

/// Accepts call-signalling connections until the task is aborted, each on a task of its own.
pub(super) fn spawn(
    listener: TcpListener,
    core: mpsc::Sender<ToCore>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    tokio::spawn(connection(stream, peer, core.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "H.323 accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    })
}

/// The destination the core routes: every alias, then Q.931's called party number.
fn destination(incoming: &Incoming) -> Vec<String> {
    let mut destination = incoming.destination.clone();
    destination.extend(incoming.called_number.clone());
    destination
}

/// Reads from a connection that may not exist yet (pending forever when it does not).
async fn read_opt(stream: &mut Option<TcpStream>, buf: &mut [u8]) -> std::io::Result<usize> {
    match stream {
        Some(s) => s.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Accepts the caller's H.245 connection on the announced port (pending when none is open).
async fn accept_opt(listener: &Option<TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// One call-signalling connection, from accept to close.
async fn connection(mut stream: TcpStream, peer: SocketAddr, core: mpsc::Sender<ToCore>) {
    let mut call = InboundCall::new(CallConfig::gateway(rand::random()));
    let setup_by = Instant::now() + SETUP_WAIT;
    let mut setup_seen = false;
    let mut admitted: Option<CallId> = None;
    let (to_call_tx, mut to_call) = mpsc::unbounded_channel::<ToCall>();
    let mut h245: Option<TcpStream> = None;
    let mut h245_listener: Option<TcpListener> = None;
    let mut buf = vec![0u8; 16 * 1024];
    let mut h245_buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(event) = call.poll_event() {
            match event {
                Event::Incoming(incoming) => {
                    setup_seen = true;
                    // A port for the separate H.245 channel, used only when the caller neither
                    // tunnels nor gives an address of its own.
                    h245_listener = match stream.local_addr() {
                        Ok(local) => TcpListener::bind(SocketAddr::new(local.ip(), 0)).await.ok(),
                        Err(_) => None,
                    };
                    let h245_addr = h245_listener.as_ref().and_then(|l| l.local_addr().ok());
                    let decision = decide(peer, &incoming, to_call_tx.clone(), &core).await;
                    let now = Instant::now();
                    let done = match decision {
                        Ok(admission) => {
                            admitted = Some(admission.call);
                            call.accept(now, admission.local, h245_addr)
                        }
                        Err(reason) => call.reject(now, reason),
                    };
                    if let Err(e) = done {
                        tracing::warn!(%peer, error = %e, "H.323 answer not encoded");
                    }
                }
                Event::ConnectH245(addr) => {
                    match tokio::time::timeout(H245_CONNECT_WAIT, TcpStream::connect(addr)).await {
                        Ok(Ok(s)) => h245 = Some(s),
                        _ => {
                            tracing::info!(%peer, %addr, "H.245 address of the caller unreachable")
                        }
                    }
                }
                event => match admitted {
                    Some(id) => {
                        if let Event::Ended(reason) = &event {
                            tracing::info!(%peer, call = %id, ?reason, "H.323 call ended");
                        }
                        let _ = core.send(ToCore::Event { call: id, event }).await;
                    }
                    None => tracing::debug!(%peer, ?event, "H.323 event before admission"),
                },
            }
        }
        while let Some(bytes) = call.poll_transmit() {
            if let Err(e) = stream.write_all(&bytes).await {
                tracing::info!(%peer, error = %e, "H.323 connection lost while writing");
                lost(admitted, &core).await;
                return;
            }
        }
        if let Some(channel) = h245.as_mut() {
            while let Some(bytes) = call.poll_h245_transmit() {
                if let Err(e) = channel.write_all(&bytes).await {
                    tracing::info!(%peer, error = %e, "H.245 connection lost while writing");
                    h245 = None;
                    break;
                }
            }
        }
        if call.is_ended() {
            let _ = stream.shutdown().await;
            return;
        }
        let wake = match (call.poll_timeout(), setup_seen) {
            (at, true) => at,
            (Some(at), false) => Some(at.min(setup_by)),
            (None, false) => Some(setup_by),
        };
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) => {
                    tracing::info!(%peer, "H.323 connection closed by the caller");
                    lost(admitted, &core).await;
                    return;
                }
                Ok(n) => {
                    if let Err(e) = call.handle_input(Instant::now(), &buf[..n]) {
                        tracing::info!(%peer, error = %e, "H.323 connection closed: broken stream");
                        lost(admitted, &core).await;
                        return;
                    }
                }
                Err(e) => {
                    tracing::info!(%peer, error = %e, "H.323 connection lost while reading");
                    lost(admitted, &core).await;
                    return;
                }
            },
            read = read_opt(&mut h245, &mut h245_buf) => match read {
                Ok(n) if n > 0 => {
                    if let Err(e) = call.handle_h245_input(Instant::now(), &h245_buf[..n]) {
                        tracing::info!(%peer, error = %e, "H.245 connection closed: broken stream");
                        h245 = None;
                    }
                }
                // H.245 closing is not the call ending (H.225.0 Release Complete is).
                _ => h245 = None,
            },
            accepted = accept_opt(&h245_listener), if h245.is_none() => {
                if let Ok((s, _)) = accepted {
                    h245 = Some(s);
                    // One H.245 channel per call.
                    h245_listener = None;
                }
            }
            Some(request) = to_call.recv() => {
                let done = match request {
                    ToCall::Release(reason) => call.reject(Instant::now(), reason),
                    ToCall::RequestKeyframe => call.request_keyframe(Instant::now()),
                };
                if let Err(e) = done {
                    tracing::warn!(%peer, error = %e, "H.323 message not encoded");
                }
            }
            () = sleep => {
                let now = Instant::now();
                if !setup_seen && now >= setup_by {
                    tracing::info!(%peer, "H.323 connection closed: no Setup in time");
                    return;
                }
                if let Err(e) = call.handle_timeout(now) {
                    tracing::warn!(%peer, error = %e, "H.323 timeout handling failed");
                    return;
                }
            }
        }
    }
}

/// The connection of an admitted call broke: the core ends the call as a hang-up.
async fn lost(admitted: Option<CallId>, core: &mpsc::Sender<ToCore>) {
    if let Some(call) = admitted {
        let event = hung_up();
        let _ = core.send(ToCore::Event { call, event }).await;
    }
}

/// Hands the core's decision to the Setup's connection task, registering an admitted call in
/// `calls` (the core ends it through them). The admitted call to end as a hang-up when the
/// connection went away while the core decided (it may have waited for a licence lease).
#[must_use]
pub(super) fn answer(
    setup: SetupRequest,
    decision: Result<H323Admission, EndReason>,
    calls: &mut HashMap<CallId, mpsc::UnboundedSender<ToCall>>,
) -> Option<CallId> {
    if let Ok(admission) = &decision {
        calls.insert(admission.call, setup.to_call);
    }
    match setup.reply.send(decision) {
        Err(Ok(admission)) => {
            calls.remove(&admission.call);
            Some(admission.call)
        }
        _ => None,
    }
}

/// The event ending an admitted call whose connection went away (a hang-up).
pub(super) fn hung_up() -> Event {
    Event::Ended(EndReason::Normal)
}

/// Asks the core to route and admit the Setup.
async fn decide(
    peer: SocketAddr,
    incoming: &Incoming,
    to_call: mpsc::UnboundedSender<ToCall>,
    core: &mpsc::Sender<ToCore>,
) -> Result<H323Admission, EndReason> {
    let (reply, answer) = oneshot::channel();
    let request = SetupRequest {
        peer,
        destination: destination(incoming),
        display: incoming.display.clone(),
        to_call,
        reply,
    };
    if core.send(ToCore::Setup(request)).await.is_err() {
        // The core task has stopped: the gateway is shutting down.
        return Err(EndReason::Draining);
    }
    answer.await.unwrap_or(Err(EndReason::Draining))
}
