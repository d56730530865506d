//! The SIP UDP socket: opened with large kernel buffers, read by a thread of its own that drains
//! it at every wake-up, written without ever blocking.
//!
//! Why a thread: the socket used to be read by a task on the tokio workers that also run every
//! call's media task. Above 250 calls/s with video those workers were busy sending pictures, the
//! read task waited its turn, and the kernel's 208 KiB default buffer overflowed (INVITEs lost,
//! retransmitted, calls failed). This thread does nothing but move datagrams from the kernel to
//! the core's channel, in batches of everything that is queued ([`MAX_BATCH`] at most per
//! message), so the core also handles a burst in one wake-up. The wait is mio's (tokio's own
//! poller): edge-triggered, hence the drain until `WouldBlock`.
//!
//! Owns the UDP socket's options, its receive thread and its sends; it must not interpret SIP.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use signaling::transaction::{Peer, Transport};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::mpsc;

use super::transport::Inbound;

/// Most datagrams handed to the core in one message.
pub const MAX_BATCH: usize = 256;
/// How often the idle receive thread checks whether the core is gone (then it ends).
const CLOSED_CHECK: Duration = Duration::from_millis(500);
/// Largest datagram read (a UDP datagram's maximum).
const DATAGRAM_MAX: usize = 65_536;

/// The buffer sizes the kernel granted, as it reports them (Linux counts its bookkeeping too,
/// so it reports twice what it was asked for, capped by `net.core.rmem_max`/`wmem_max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    /// SO_RCVBUF.
    pub receive: usize,
    /// SO_SNDBUF.
    pub send: usize,
}

/// Binds a non-blocking UDP socket on `addr` after asking for `buffer` bytes of receive and
/// send buffer; logs (and returns) what the kernel granted. A refused size is a warning, not an
/// error: the socket still works with the default.
pub fn open(addr: SocketAddr, buffer: usize) -> io::Result<(UdpSocket, Granted)> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(buffer) {
        tracing::warn!(asked = buffer, error = %e, "SIP UDP receive buffer size refused");
    }
    if let Err(e) = socket.set_send_buffer_size(buffer) {
        tracing::warn!(asked = buffer, error = %e, "SIP UDP send buffer size refused");
    }
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    let granted = Granted {
        receive: socket.recv_buffer_size().unwrap_or(0),
        send: socket.send_buffer_size().unwrap_or(0),
    };
    if granted.receive < buffer {
        tracing::warn!(
            asked = buffer,
            granted = granted.receive,
            "SIP UDP receive buffer smaller than asked: raise net.core.rmem_max"
        );
    } else {
        tracing::info!(
            asked = buffer,
            receive = granted.receive,
            send = granted.send,
            "SIP UDP socket buffers"
        );
    }
    Ok((socket.into(), granted))
}

/// Starts the receive thread on a handle of the socket (`try_clone` of [`open`]'s); it ends
/// when `inbound`'s receiver is gone.
pub fn spawn_receiver(socket: UdpSocket, inbound: mpsc::Sender<Inbound>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("sip-udp".into())
        .spawn(move || {
            if let Err(e) = receive(socket, &inbound) {
                tracing::error!(error = %e, "SIP UDP receive thread failed");
            }
        })?;
    Ok(())
}

/// Sends one datagram without blocking: with the send buffer full it is dropped (SIP over UDP
/// retransmits) rather than stalling the core.
pub fn send(socket: &UdpSocket, to: SocketAddr, bytes: &[u8]) {
    match socket.send_to(bytes, to) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            tracing::warn!(%to, "SIP UDP send buffer full; message dropped");
        }
        Err(e) => tracing::warn!(%to, error = %e, "UDP send failed"),
    }
}

fn receive(socket: UdpSocket, inbound: &mpsc::Sender<Inbound>) -> io::Result<()> {
    let mut socket = mio::net::UdpSocket::from_std(socket);
    let mut poll = mio::Poll::new()?;
    poll.registry()
        .register(&mut socket, mio::Token(0), mio::Interest::READABLE)?;
    let mut events = mio::Events::with_capacity(4);
    let mut buf = vec![0u8; DATAGRAM_MAX];
    loop {
        if inbound.is_closed() {
            return Ok(());
        }
        match poll.poll(&mut events, Some(CLOSED_CHECK)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        // Edge-triggered: read until the kernel has nothing left, or the next wake-up may
        // never come.
        loop {
            let (batch, empty) = drain(&socket, &mut buf);
            if !batch.is_empty() && inbound.blocking_send(Inbound::Datagrams(batch)).is_err() {
                return Ok(());
            }
            if empty {
                break;
            }
        }
    }
}

/// Up to [`MAX_BATCH`] datagrams from `socket`, and whether it is now empty.
fn drain(socket: &mio::net::UdpSocket, buf: &mut [u8]) -> (Vec<(Vec<u8>, Peer)>, bool) {
    let mut batch = Vec::new();
    while batch.len() < MAX_BATCH {
        match socket.recv_from(buf) {
            Ok((n, from)) => {
                // Keep-alives (CRLF) and empty datagrams carry nothing to parse.
                if buf[..n].iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let peer = Peer {
                    transport: Transport::Udp,
                    addr: from,
                };
                batch.push((buf[..n].to_vec(), peer));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (batch, true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // ICMP port unreachable from an earlier send surfaces here on some systems.
            Err(e) => tracing::debug!(error = %e, "UDP receive error"),
        }
    }
    (batch, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 0))
    }

    #[test]
    fn the_kernel_grants_a_larger_receive_buffer_than_its_default() {
        let (_, default) = open(loopback(), 4096).expect("bind");
        let (_, large) = open(loopback(), 1 << 20).expect("bind");
        assert!(
            large.receive > default.receive && large.receive >= 256 << 10,
            "granted {large:?} against {default:?} (net.core.rmem_max below 256 KiB?)"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_burst_queued_before_the_thread_runs_arrives_whole_in_order_and_batched() {
        let (socket, _) = open(loopback(), 1 << 20).expect("bind");
        let addr = socket.local_addr().expect("addr");
        let sender = std::net::UdpSocket::bind(loopback()).expect("sender");
        // 600 datagrams wait in the kernel (and a keep-alive that must be skipped).
        sender.send_to(b"\r\n\r\n", addr).expect("send");
        for i in 0..600u32 {
            sender
                .send_to(format!("OPTIONS {i}").as_bytes(), addr)
                .expect("send");
        }
        let (tx, mut rx) = mpsc::channel(64);
        spawn_receiver(socket.try_clone().expect("clone"), tx).expect("thread");
        let mut got = Vec::new();
        let mut messages = 0;
        while got.len() < 600 {
            let Some(Inbound::Datagrams(batch)) = rx.recv().await else {
                panic!("the receive thread ended early");
            };
            assert!(batch.len() <= MAX_BATCH);
            messages += 1;
            for (bytes, peer) in batch {
                assert_eq!(peer.addr, sender.local_addr().expect("addr"));
                assert_eq!(peer.transport, Transport::Udp);
                got.push(String::from_utf8(bytes).expect("text"));
            }
        }
        let expected: Vec<String> = (0..600).map(|i| format!("OPTIONS {i}")).collect();
        assert_eq!(got, expected);
        assert!(
            messages <= 600 / MAX_BATCH + 1,
            "{messages} messages for 600 datagrams"
        );
        // Sends go out on the same socket.
        send(
            &socket,
            sender.local_addr().expect("addr"),
            b"SIP/2.0 200 OK",
        );
        sender
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        let (n, from) = sender.recv_from(&mut buf).expect("the reply");
        assert_eq!((&buf[..n], from), (&b"SIP/2.0 200 OK"[..], addr));
    }
}
