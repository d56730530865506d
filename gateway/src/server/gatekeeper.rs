//! The tokio driver of H.323 gatekeeper registration (`--h323-gatekeeper`): one UDP socket
//! and one task around the sans-IO `h323::ras::Registration`, which decides what to send and
//! when. Logs its events, keeps `tessera_h323_gatekeeper_registered` current, and on
//! [`Gatekeeper::unregister`] (drain) sends URQ and ends once it is answered or given up.
//!
//! Owns the RAS socket and its clock readings; must not touch calls (calls routed here by the
//! gatekeeper arrive on the H.323 listener like any other).

use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::time::{Duration, Instant};

use h323::ras::{Event, Registration, RegistrationConfig, State};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::config::GatekeeperConfig;
use crate::metrics::Metrics;

/// Longest wait for the URQ's answer at exit (the machine gives up on its own after its
/// retries; this bounds the wait if the task is stuck).
const UNREGISTER_WAIT: Duration = Duration::from_secs(10);

/// The running registration.
pub(super) struct Gatekeeper {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// Why registration could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatekeeperError {
    /// The RAS socket could not be opened.
    #[error("RAS socket for gatekeeper {gatekeeper}: {source}")]
    Socket {
        /// The gatekeeper.
        gatekeeper: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The registration could not be encoded.
    #[error("gatekeeper registration: {0}")]
    Ras(#[from] h323::ras::Error),
}

impl Gatekeeper {
    /// Opens the RAS socket and starts registering `call_signalling` (the H.323 listener's
    /// address; an unspecified IP becomes the one the gatekeeper is reached from).
    pub(super) async fn start(
        config: &GatekeeperConfig,
        call_signalling: SocketAddr,
        metrics: Metrics,
    ) -> Result<Self, GatekeeperError> {
        let socket_error = |source| GatekeeperError::Socket {
            gatekeeper: config.address,
            source,
        };
        let ip = if call_signalling.ip().is_unspecified() {
            local_ip_towards(config.address).map_err(socket_error)?
        } else {
            call_signalling.ip()
        };
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
            .await
            .map_err(socket_error)?;
        let ras_address = socket.local_addr().map_err(socket_error)?;
        let registration = Registration::new(
            RegistrationConfig {
                gatekeeper: config.address,
                ras_address,
                call_signal_address: SocketAddr::new(ip, call_signalling.port()),
                aliases: config.aliases.clone(),
                prefixes: config.prefixes.clone(),
                time_to_live: Some(config.time_to_live),
            },
            Instant::now(),
        )?;
        tracing::info!(gatekeeper = %config.address, ras = %ras_address, "registering with the H.323 gatekeeper");
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(run(socket, registration, stop_rx, metrics));
        Ok(Self {
            stop: Some(stop),
            task,
        })
    }

    /// Starts unregistering (URQ); [`Self::finish`] waits for it.
    pub(super) fn unregister(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Unregisters if not yet asked to, and waits (bounded) until the URQ is answered or
    /// given up.
    pub(super) async fn finish(mut self) {
        self.unregister();
        if tokio::time::timeout(UNREGISTER_WAIT, &mut self.task)
            .await
            .is_err()
        {
            tracing::warn!("gatekeeper unregistration did not finish; leaving it");
            self.task.abort();
        }
    }
}

/// The local address the kernel would send to `peer` from (no packet is sent).
fn local_ip_towards(peer: SocketAddr) -> std::io::Result<IpAddr> {
    let unspecified: IpAddr = if peer.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    let probe = StdUdpSocket::bind(SocketAddr::new(unspecified, 0))?;
    probe.connect(peer)?;
    Ok(probe.local_addr()?.ip())
}

async fn run(
    socket: UdpSocket,
    mut registration: Registration,
    mut stop: oneshot::Receiver<()>,
    metrics: Metrics,
) {
    let mut stopping = false;
    let mut buf = vec![0u8; 4096];
    loop {
        while let Some(t) = registration.poll_transmit() {
            if let Err(e) = socket.send_to(&t.payload, t.destination).await {
                tracing::warn!(to = %t.destination, error = %e, "RAS datagram not sent");
            }
        }
        while let Some(event) = registration.poll_event() {
            log(&event);
        }
        metrics
            .h323_gatekeeper_registered
            .set(i64::from(registration.is_registered()));
        if registration.state() == State::Unregistered {
            break;
        }
        let wake = registration.poll_timeout();
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, from)) => registration.handle_datagram(Instant::now(), from, &buf[..n]),
                Err(e) => {
                    // ICMP port unreachable and the like: the retries cover it.
                    tracing::debug!(error = %e, "RAS receive");
                    Ok(())
                }
            },
            () = sleep => registration.handle_timeout(Instant::now()),
            _ = &mut stop, if !stopping => {
                stopping = true;
                registration.unregister(Instant::now())
            }
        };
        match result {
            Ok(()) => {}
            // Anyone can send to the socket: strangers are not worth a warning each.
            Err(e @ h323::ras::Error::NotFromGatekeeper(_)) => {
                tracing::debug!(error = %e, "RAS datagram ignored")
            }
            Err(e) => tracing::warn!(error = %e, "RAS datagram ignored"),
        }
    }
}

fn log(event: &Event) {
    match event {
        Event::Registered {
            endpoint_identifier,
            time_to_live,
        } => tracing::info!(
            endpoint_identifier,
            time_to_live_secs = time_to_live.map(|t| t.as_secs()),
            "registered with the H.323 gatekeeper"
        ),
        Event::Refreshed => tracing::debug!("H.323 gatekeeper registration refreshed"),
        Event::Rejected { reason, retry_in } => tracing::warn!(
            reason,
            retry_in_secs = retry_in.as_secs(),
            "H.323 gatekeeper refused registration"
        ),
        Event::NoAnswer { request, retry_in } => tracing::warn!(
            request,
            retry_in_secs = retry_in.as_secs(),
            "H.323 gatekeeper did not answer"
        ),
        Event::UnregisteredByGatekeeper => {
            tracing::warn!("the H.323 gatekeeper unregistered us; registering again")
        }
        Event::Unregistered => tracing::info!("unregistered from the H.323 gatekeeper"),
    }
}
