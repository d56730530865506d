//! The H.323 call-signalling listener (`--h323-listen`, TCP, H.225.0 in TPKT): one task per
//! connection drives an [`InboundCall`] with the bytes it reads and the clock, writes what it
//! polls, and asks the core task (through a channel, as the admin API does) where a Setup's
//! aliases go.
//!
//! Owns the H.323 sockets and their tasks; it must not make call decisions (the core's
//! `route_h323` does) and must never stop on what a peer sends: a broken stream, a peer that
//! never sends a Setup, or a write that fails ends that one connection only.
//!
//! Not built yet: admitting a routed call into its meeting (media, roster, licence held for the
//! call's life). A call that routes is therefore refused with `EndReason::Rejected` (Q.850 21,
//! call rejected) and a log line saying so, rather than answered with no media behind it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use h323::call::{CallConfig, EndReason, Event, InboundCall, Incoming};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::calls::H323Route;

/// How long a connection may stay open without sending its Setup (a port scanner, a peer
/// that sends garbage in well-formed TPKT packets, a half-open connection).
const SETUP_WAIT: Duration = Duration::from_secs(10);

/// How long the listener pauses after a failed `accept` (out of file descriptors), so it does
/// not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A Setup waiting for the core's routing decision.
#[derive(Debug)]
pub(super) struct SetupRequest {
    /// The TCP peer (trust classes match its address).
    pub peer: SocketAddr,
    /// The destination aliases as text, then the called party number.
    pub destination: Vec<String>,
    /// Where the decision goes.
    pub reply: oneshot::Sender<Result<H323Route, EndReason>>,
}

/// Accepts call-signalling connections until the task is aborted, each on a task of its own.
pub(super) fn spawn(
    listener: TcpListener,
    setups: mpsc::Sender<SetupRequest>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    tokio::spawn(connection(stream, peer, setups.clone()));
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
fn destination(incoming: Incoming) -> Vec<String> {
    let mut destination = incoming.destination;
    destination.extend(incoming.called_number);
    destination
}

/// One call-signalling connection, from accept to close.
async fn connection(mut stream: TcpStream, peer: SocketAddr, setups: mpsc::Sender<SetupRequest>) {
    let mut call = InboundCall::new(CallConfig::gateway(rand::random()));
    let setup_by = Instant::now() + SETUP_WAIT;
    let mut setup_seen = false;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(event) = call.poll_event() {
            match event {
                Event::Incoming(incoming) => {
                    setup_seen = true;
                    let reason = decide(peer, destination(incoming), &setups).await;
                    if let Err(e) = call.reject(Instant::now(), reason) {
                        tracing::warn!(%peer, error = %e, "H.323 Release Complete not encoded");
                    }
                }
                Event::Ended(reason) => tracing::info!(%peer, ?reason, "H.323 call ended"),
                // Only an accepted call negotiates media, requests keyframes, sends DTMF or
                // names an H.245 address, and none is accepted yet (see the module doc).
                other => tracing::debug!(%peer, event = ?other, "H.323 event ignored"),
            }
        }
        while let Some(bytes) = call.poll_transmit() {
            if let Err(e) = stream.write_all(&bytes).await {
                tracing::info!(%peer, error = %e, "H.323 connection lost while writing");
                return;
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
                Ok(0) => return,
                Ok(n) => {
                    if let Err(e) = call.handle_input(Instant::now(), &buf[..n]) {
                        tracing::info!(%peer, error = %e, "H.323 connection closed: broken stream");
                        return;
                    }
                }
                Err(e) => {
                    tracing::info!(%peer, error = %e, "H.323 connection lost while reading");
                    return;
                }
            },
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

/// Asks the core where the Setup goes, and returns why it is refused.
async fn decide(
    peer: SocketAddr,
    destination: Vec<String>,
    setups: &mpsc::Sender<SetupRequest>,
) -> EndReason {
    let (reply, answer) = oneshot::channel();
    let request = SetupRequest {
        peer,
        destination,
        reply,
    };
    if setups.send(request).await.is_err() {
        // The core task has stopped: the gateway is shutting down.
        return EndReason::Draining;
    }
    match answer.await {
        Ok(Ok(route)) => {
            tracing::warn!(%peer, tenant = %route.tenant, conference = ?route.conference,
                "H.323 call routed, but joining meetings over H.323 is not built yet; refused");
            EndReason::Rejected
        }
        Ok(Err(reason)) => reason,
        Err(_) => EndReason::Draining,
    }
}
