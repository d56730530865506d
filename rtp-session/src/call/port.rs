//! Where one stream's packets go: symmetric-RTP latching of RTP and of RTCP, and the RTCP
//! destinations before the peer's first RTCP shows which port it reads.
//!
//! Owns only addresses and socket names; it never sends (the state machine queues
//! [`Transmit`](super::Transmit)s with what it returns).

use std::net::SocketAddr;

use tracing::debug;

use super::{SocketId, Transmit};

/// One stream's destinations.
#[derive(Debug)]
pub(super) struct Port {
    /// The socket RTP (and muxed RTCP) goes out of.
    rtp_socket: SocketId,
    /// The socket on the next port, when the driver bound one.
    rtcp_socket: Option<SocketId>,
    /// Where RTP goes: the SDP address until the first packet arrives, then its source.
    pub(super) remote: SocketAddr,
    latched: bool,
    /// Where the peer's RTCP came from, and whether it came on the RTP socket (rtcp-mux).
    rtcp_remote: Option<(SocketAddr, bool)>,
    /// rtcp-mux was agreed: RTCP goes to the RTP port only (RFC 5761 §5.1.1).
    rtcp_mux: bool,
}

impl Port {
    pub(super) fn new(
        rtp_socket: SocketId,
        rtcp_socket: Option<SocketId>,
        remote: SocketAddr,
        rtcp_mux: bool,
    ) -> Self {
        Port {
            rtp_socket,
            rtcp_socket,
            remote,
            latched: false,
            rtcp_remote: None,
            rtcp_mux,
        }
    }

    /// Symmetric RTP: the first packet's source becomes the destination.
    pub(super) fn latch(&mut self, from: SocketAddr) {
        if !self.latched {
            self.latched = true;
            if from != self.remote {
                debug!(sdp = %self.remote, actual = %from, "symmetric RTP: sending to the source address");
                self.remote = from;
            }
        }
    }

    /// Symmetric RTCP: the first RTCP's source (and socket) becomes the destination.
    pub(super) fn latch_rtcp(&mut self, from: SocketAddr, muxed: bool) {
        if self.rtcp_remote.is_none() {
            self.rtcp_remote = Some((from, muxed));
        }
    }

    /// Where RTP goes.
    pub(super) fn rtp_target(&self) -> (SocketId, SocketAddr) {
        (self.rtp_socket, self.remote)
    }

    /// One RTCP packet, addressed to wherever [`rtcp_targets`](Self::rtcp_targets) says.
    pub(super) fn rtcp_transmits<'a>(
        &self,
        bytes: &'a [u8],
    ) -> impl Iterator<Item = Transmit> + 'a {
        self.rtcp_targets()
            .into_iter()
            .map(move |(socket, to)| Transmit {
                socket,
                to,
                bytes: bytes.to_vec(),
            })
    }

    /// Where one RTCP packet goes: one destination, or two before the peer's first RTCP.
    pub(super) fn rtcp_targets(&self) -> Vec<(SocketId, SocketAddr)> {
        let mut targets = Vec::with_capacity(2);
        match (self.rtcp_remote, self.rtcp_socket) {
            (Some((to, true)), _) | (Some((to, false)), None) => {
                targets.push((self.rtp_socket, to))
            }
            (Some((to, false)), Some(socket)) => targets.push((socket, to)),
            (None, _) if self.rtcp_mux => targets.push((self.rtp_socket, self.remote)),
            (None, rtcp_socket) => {
                // Without rtcp-mux, which port the peer reads RTCP on is unknown until it sends
                // some (RFC 3605 `a=rtcp` or port + 1; some send on either): try both.
                targets.push((self.rtp_socket, self.remote));
                if let (Some(socket), Some(port)) = (rtcp_socket, self.remote.port().checked_add(1))
                {
                    targets.push((socket, SocketAddr::new(self.remote.ip(), port)));
                }
            }
        }
        targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    #[test]
    fn rtcp_goes_to_both_ports_until_the_peer_sends_some() {
        let mut port = Port::new(
            SocketId::AudioRtp,
            Some(SocketId::AudioRtcp),
            addr(5000),
            false,
        );
        assert_eq!(
            port.rtcp_targets(),
            vec![
                (SocketId::AudioRtp, addr(5000)),
                (SocketId::AudioRtcp, addr(5001))
            ]
        );
        port.latch_rtcp(addr(7001), false);
        assert_eq!(port.rtcp_targets(), vec![(SocketId::AudioRtcp, addr(7001))]);
    }

    #[test]
    fn with_rtcp_mux_rtcp_goes_to_the_rtp_port_only() {
        let port = Port::new(
            SocketId::VideoRtp,
            Some(SocketId::VideoRtcp),
            addr(6000),
            true,
        );
        assert_eq!(port.rtcp_targets(), vec![(SocketId::VideoRtp, addr(6000))]);
    }

    #[test]
    fn muxed_rtcp_from_the_peer_latches_the_rtp_socket() {
        let mut port = Port::new(
            SocketId::AudioRtp,
            Some(SocketId::AudioRtcp),
            addr(5000),
            false,
        );
        port.latch_rtcp(addr(9000), true);
        port.latch_rtcp(addr(9999), false);
        assert_eq!(port.rtcp_targets(), vec![(SocketId::AudioRtp, addr(9000))]);
    }

    #[test]
    fn rtp_latches_to_the_first_source_only() {
        let mut port = Port::new(SocketId::AudioRtp, None, addr(5000), true);
        port.latch(addr(4000));
        port.latch(addr(4444));
        assert_eq!(port.rtp_target(), (SocketId::AudioRtp, addr(4000)));
    }
}
