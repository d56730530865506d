//! The SIP sockets: one UDP socket and one TCP listener on the same address, and optionally a
//! TLS listener (`sips:`) on its own. Inbound datagrams and stream frames go to the core task as
//! [`Inbound`]; outbound bytes are sent by [`SipSockets::send`]. The UDP socket's buffers, its
//! receive thread and its non-blocking sends are [`super::sip_udp`]'s.
//!
//! Owns sockets and TCP/TLS connections (framing with [`StreamFramer`], the same for both, RFC
//! 5626 keep-alive pongs, per-connection writer tasks, telling the core which client certificate
//! a TLS connection presented). It must not interpret SIP beyond framing;
//! certificates are [`super::tls`]'s.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use signaling::sip::{Framed, Message, StreamFramer, KEEPALIVE_PONG};
use signaling::transaction::{Peer, Transport};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Most simultaneous TCP connections; more are closed at once.
const MAX_TCP_CONNECTIONS: usize = 4096;
/// Queued outbound messages per TCP connection before the connection is considered stuck.
const TCP_WRITE_QUEUE: usize = 256;
use super::sip_udp;
use super::tls::{TlsReloader, HANDSHAKE_TIMEOUT as TLS_HANDSHAKE_TIMEOUT};

/// Something that arrived on a SIP socket.
#[derive(Debug)]
pub enum Inbound {
    /// UDP datagrams, everything the socket held at one wake-up (at most
    /// [`super::sip_udp::MAX_BATCH`]), oldest first.
    Datagrams(Vec<(Vec<u8>, Peer)>),
    /// A TCP frame that did not parse (the core answers it with 400).
    Bytes(Vec<u8>, Peer),
    /// A complete, valid message from a TCP stream.
    Message(Message, Peer),
    /// A TLS connection was established with a client certificate whose SHA-256 fingerprint
    /// (lowercase hex) is this; sent before any message from the connection.
    ClientCertificate(Peer, String),
    /// A TLS connection that presented a client certificate has closed.
    Closed(Peer),
}

type Writers = Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>;

/// The bound SIP sockets.
#[derive(Debug, Clone)]
pub struct SipSockets {
    /// Non-blocking; its receive thread holds another handle.
    udp: Arc<std::net::UdpSocket>,
    tcp_writers: Writers,
}

impl SipSockets {
    /// Binds UDP (asking for `udp_buffer` bytes of kernel buffer each way) and TCP on `addr`
    /// and starts the UDP receive thread and the TCP accept task, which feed `inbound`.
    pub async fn bind(
        addr: SocketAddr,
        udp_buffer: usize,
        inbound: mpsc::Sender<Inbound>,
    ) -> std::io::Result<(SipSockets, SocketAddr)> {
        let (udp, _granted) = sip_udp::open(addr, udp_buffer)?;
        let local = udp.local_addr()?;
        // TCP on the very port UDP got (it may have been 0: ephemeral).
        let listener = TcpListener::bind(local).await?;
        let tcp_writers: Writers = Arc::default();
        sip_udp::spawn_receiver(udp.try_clone()?, inbound.clone())?;
        let udp = Arc::new(udp);
        tokio::spawn(accept_tcp(listener, inbound, tcp_writers.clone()));
        Ok((SipSockets { udp, tcp_writers }, local))
    }

    /// Binds the TLS listener on `addr` (its connections are sent on like TCP ones) and starts
    /// accepting; returns the bound address.
    pub async fn bind_tls(
        &self,
        addr: SocketAddr,
        tls: TlsReloader,
        inbound: mpsc::Sender<Inbound>,
    ) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        tokio::spawn(accept_tls(listener, tls, inbound, self.tcp_writers.clone()));
        Ok(local)
    }

    /// Sends `bytes` to `to` (for TCP, over the connection from that address; dropped with a
    /// warning if it has closed, since we do not open connections back to room systems).
    pub async fn send(&self, to: Peer, bytes: Vec<u8>) {
        match to.transport {
            Transport::Udp => sip_udp::send(&self.udp, to.addr, &bytes),
            // TLS connections are streams too, keyed by the peer address like TCP ones.
            Transport::Tcp | Transport::Tls => {
                let writer = self
                    .tcp_writers
                    .lock()
                    .ok()
                    .and_then(|w| w.get(&to.addr).cloned());
                match writer {
                    Some(writer) => {
                        if writer.try_send(bytes).is_err() {
                            tracing::warn!(%to, "TCP connection stuck or closed; message dropped");
                        }
                    }
                    None => tracing::warn!(%to, "no TCP connection to send on; message dropped"),
                }
            }
        }
    }
}

async fn accept_tcp(listener: TcpListener, inbound: mpsc::Sender<Inbound>, writers: Writers) {
    loop {
        let Some((stream, from)) = accept(&listener, &writers).await else {
            continue;
        };
        tokio::spawn(serve_stream(
            stream,
            Peer {
                transport: Transport::Tcp,
                addr: from,
            },
            inbound.clone(),
            writers.clone(),
        ));
    }
}

async fn accept_tls(
    listener: TcpListener,
    tls: TlsReloader,
    inbound: mpsc::Sender<Inbound>,
    writers: Writers,
) {
    loop {
        let Some((stream, from)) = accept(&listener, &writers).await else {
            continue;
        };
        // The certificate in use now (SIGHUP swaps it for later connections only).
        let acceptor = tls.acceptor();
        let (inbound, writers) = (inbound.clone(), writers.clone());
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::info!(%from, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(%from, "TLS handshake timed out");
                        return;
                    }
                };
            let peer = Peer {
                transport: Transport::Tls,
                addr: from,
            };
            let client_cert = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(super::tls::fingerprint);
            if let Some(fingerprint) = client_cert.clone() {
                if inbound
                    .send(Inbound::ClientCertificate(peer, fingerprint))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            serve_stream(stream, peer, inbound.clone(), writers).await;
            if client_cert.is_some() {
                let _ = inbound.send(Inbound::Closed(peer)).await;
            }
        });
    }
}

/// The next connection, or `None` when accepting failed or too many are open (it is closed).
async fn accept(listener: &TcpListener, writers: &Writers) -> Option<(TcpStream, SocketAddr)> {
    let (stream, from) = match listener.accept().await {
        Ok(accepted) => accepted,
        Err(e) => {
            tracing::warn!(error = %e, "TCP accept failed");
            return None;
        }
    };
    let count = writers.lock().map(|w| w.len()).unwrap_or(usize::MAX);
    if count >= MAX_TCP_CONNECTIONS {
        tracing::warn!(%from, "too many stream connections; closing");
        return None;
    }
    Some((stream, from))
}

/// One TCP or TLS connection: frames in, queued messages out.
async fn serve_stream<S>(stream: S, peer: Peer, inbound: mpsc::Sender<Inbound>, writers: Writers)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let from = peer.addr;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(TCP_WRITE_QUEUE);
    if let Ok(mut w) = writers.lock() {
        w.insert(from, tx.clone());
    }
    let write_task = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
            // TLS buffers records; a SIP message must leave now.
            if writer.flush().await.is_err() {
                break;
            }
        }
    });
    let mut framer = StreamFramer::default();
    let mut buf = vec![0u8; 16 * 1024];
    'read: loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        framer.push(&buf[..n]);
        loop {
            let item = match framer.poll() {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => {
                    tracing::info!(%peer, error = %e, "closing stream connection: out of step");
                    break 'read;
                }
            };
            let message = match item {
                Framed::Message(m) => Inbound::Message(m, peer),
                Framed::Invalid { frame, .. } => Inbound::Bytes(frame, peer),
                Framed::Ping => {
                    let _ = tx.try_send(KEEPALIVE_PONG.to_vec());
                    continue;
                }
            };
            if inbound.send(message).await.is_err() {
                break 'read;
            }
        }
    }
    if let Ok(mut w) = writers.lock() {
        w.remove(&from);
    }
    drop(tx);
    let _ = write_task.await;
}
