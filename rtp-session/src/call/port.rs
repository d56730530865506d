//! Where one stream's packets come from and go: safe symmetric-RTP latching of RTP and of RTCP
//! (the defence against the RTP Bleed class of attacks), and the RTCP destinations before the
//! peer's first RTCP shows which port it reads.
//!
//! Latching rules: while the call is new (until [`LATCH_WINDOW`] after the machine started),
//! the first RTP packet from the SDP's IP or from the SIP signalling source's IP becomes the
//! stream's only accepted source; likewise the first RTCP packet for RTCP. A source on the SDP's
//! IP keeps receiving at the SDP address and port (an endpoint may send from one port and listen
//! on another); only a source on another IP (the signalling source's: NAT) moves the
//! destination. Packets from anywhere else, or from anywhere but the latched source, are
//! refused; the machine counts them and drops them before looking inside.
//!
//! Owns only addresses and socket names; it never sends (the state machine queues
//! [`Transmit`](super::Transmit)s with what it returns).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::{SocketId, Transmit};

/// How long after a call's media starts its peer's address may still be learnt. Room systems
/// send their first RTP within a second of the answer; a packet from an allowed IP that arrives
/// later still is accepted from the SDP's IP, it just teaches nothing.
pub const LATCH_WINDOW: Duration = Duration::from_secs(10);

/// Whether a packet passed [`Port::admit_rtp`] / [`Port::admit_rtcp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    /// From the peer: handle it.
    Accept,
    /// From a stranger: drop it unread.
    Foreign,
}

/// Who may send to one stream, and what was learnt.
#[derive(Debug, Clone, Copy)]
struct Latch {
    /// The SDP's address.
    sdp: SocketAddr,
    /// The SIP signalling source's IP (the NAT case), when it differs from the SDP's.
    signalling_ip: Option<IpAddr>,
    /// Until when a source may still be learnt.
    window_end: Instant,
    /// The one source accepted from now on.
    learnt: Option<SocketAddr>,
    /// A foreign packet was logged already (one line per stream, the metric counts the rest).
    logged_foreign: bool,
}

impl Latch {
    fn allowed_ip(&self, ip: IpAddr) -> bool {
        ip == self.sdp.ip() || Some(ip) == self.signalling_ip
    }

    /// Whether a packet from `from` is the peer's; the first one inside the window is learnt.
    fn admit(&mut self, now: Instant, from: SocketAddr, what: &str) -> (Admission, bool) {
        let admitted = match self.learnt {
            Some(source) => source == from,
            None if self.allowed_ip(from.ip()) && now < self.window_end => {
                self.learnt = Some(from);
                return (Admission::Accept, true);
            }
            // Nothing learnt in time: the allowed IPs (any port) are all that is trusted, and
            // they no longer teach anything.
            None => self.allowed_ip(from.ip()),
        };
        if admitted {
            return (Admission::Accept, false);
        }
        if !self.logged_foreign {
            self.logged_foreign = true;
            warn!(source = %from, expected = ?self.learnt, sdp = %self.sdp, what,
                "media from a foreign source dropped (counted in tessera_media_dropped_total{{what=\"foreign\"}})");
        }
        (Admission::Foreign, false)
    }
}

/// One stream's sources and destinations.
#[derive(Debug)]
pub(super) struct Port {
    /// The socket RTP (and muxed RTCP) goes out of.
    rtp_socket: SocketId,
    /// The socket on the next port, when the driver bound one.
    rtcp_socket: Option<SocketId>,
    /// Where RTP goes: the SDP address, or the learnt source when it is on another IP (NAT).
    pub(super) remote: SocketAddr,
    /// Who may send RTP.
    rtp_latch: Latch,
    /// Who may send RTCP (learnt separately: it comes from another port without rtcp-mux).
    rtcp_latch: Latch,
    /// Where the peer's RTCP came from, and whether it came on the RTP socket (rtcp-mux).
    rtcp_remote: Option<(SocketAddr, bool)>,
    /// rtcp-mux was agreed: RTCP goes to the RTP port only (RFC 5761 §5.1.1).
    rtcp_mux: bool,
}

impl Port {
    /// A stream towards `remote` (the SDP's address) whose source may be learnt until
    /// `window_end`, from the SDP's IP or `signalling_ip`.
    pub(super) fn new(
        rtp_socket: SocketId,
        rtcp_socket: Option<SocketId>,
        remote: SocketAddr,
        rtcp_mux: bool,
        signalling_ip: Option<IpAddr>,
        window_end: Instant,
    ) -> Self {
        let latch = Latch {
            sdp: remote,
            signalling_ip: signalling_ip.filter(|ip| *ip != remote.ip()),
            window_end,
            learnt: None,
            logged_foreign: false,
        };
        Port {
            rtp_socket,
            rtcp_socket,
            remote,
            rtp_latch: latch,
            rtcp_latch: latch,
            rtcp_remote: None,
            rtcp_mux,
        }
    }

    /// Whether an RTP packet from `from` is the peer's. The first accepted one inside the
    /// window is learnt as the only source; if it is on another IP than the SDP's (NAT), RTP
    /// goes back to it from then on.
    pub(super) fn admit_rtp(&mut self, now: Instant, from: SocketAddr) -> Admission {
        let (admission, learnt) = self.rtp_latch.admit(now, from, "RTP");
        if learnt && from.ip() != self.remote.ip() {
            debug!(sdp = %self.remote, actual = %from, "symmetric RTP behind NAT: sending to the source address");
            self.remote = from;
        }
        admission
    }

    /// Whether an RTCP packet from `from` (on the RTP socket when `muxed`) is the peer's; the
    /// first accepted one's source (and socket) becomes where our RTCP goes.
    pub(super) fn admit_rtcp(&mut self, now: Instant, from: SocketAddr, muxed: bool) -> Admission {
        let (admission, _) = self.rtcp_latch.admit(now, from, "RTCP");
        if admission == Admission::Accept && self.rtcp_remote.is_none() {
            self.rtcp_remote = Some((from, muxed));
        }
        admission
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
    // One arbitrary origin; after it, time moves only by what each test adds.
    #![allow(clippy::disallowed_methods)]

    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    fn nat(port: u16) -> SocketAddr {
        SocketAddr::from(([203, 0, 113, 7], port))
    }

    fn stranger(port: u16) -> SocketAddr {
        SocketAddr::from(([198, 51, 100, 66], port))
    }

    fn port(rtcp_socket: Option<SocketId>, remote: SocketAddr, rtcp_mux: bool) -> (Port, Instant) {
        let t0 = Instant::now();
        let port = Port::new(
            SocketId::AudioRtp,
            rtcp_socket,
            remote,
            rtcp_mux,
            Some(nat(0).ip()),
            t0 + LATCH_WINDOW,
        );
        (port, t0)
    }

    #[test]
    fn rtcp_goes_to_both_ports_until_the_peer_sends_some() {
        let (mut port, t0) = port(Some(SocketId::AudioRtcp), addr(5000), false);
        assert_eq!(
            port.rtcp_targets(),
            vec![
                (SocketId::AudioRtp, addr(5000)),
                (SocketId::AudioRtcp, addr(5001))
            ]
        );
        assert_eq!(port.admit_rtcp(t0, addr(7001), false), Admission::Accept);
        assert_eq!(port.rtcp_targets(), vec![(SocketId::AudioRtcp, addr(7001))]);
    }

    #[test]
    fn with_rtcp_mux_rtcp_goes_to_the_rtp_port_only() {
        let (port, _) = port(Some(SocketId::AudioRtcp), addr(6000), true);
        assert_eq!(port.rtcp_targets(), vec![(SocketId::AudioRtp, addr(6000))]);
    }

    #[test]
    fn muxed_rtcp_from_the_peer_latches_the_rtp_socket() {
        let (mut port, t0) = port(Some(SocketId::AudioRtcp), addr(5000), false);
        assert_eq!(port.admit_rtcp(t0, addr(9000), true), Admission::Accept);
        assert_eq!(port.admit_rtcp(t0, addr(9999), false), Admission::Foreign);
        assert_eq!(port.rtcp_targets(), vec![(SocketId::AudioRtp, addr(9000))]);
    }

    #[test]
    fn a_source_on_the_sdp_ip_keeps_rtp_going_to_the_sdp_port() {
        let (mut port, t0) = port(None, addr(5000), true);
        assert_eq!(port.admit_rtp(t0, addr(4000)), Admission::Accept);
        assert_eq!(port.rtp_target(), (SocketId::AudioRtp, addr(5000)));
    }

    #[test]
    fn only_the_first_source_is_accepted_after_it_is_learnt() {
        let (mut port, t0) = port(None, addr(5000), true);
        assert_eq!(port.admit_rtp(t0, addr(4000)), Admission::Accept);
        assert_eq!(port.admit_rtp(t0, addr(4444)), Admission::Foreign);
        assert_eq!(port.admit_rtp(t0, nat(4000)), Admission::Foreign);
        assert_eq!(port.admit_rtp(t0, addr(4000)), Admission::Accept);
    }

    #[test]
    fn a_source_on_the_signalling_ip_moves_rtp_to_it() {
        let (mut port, t0) = port(None, addr(5000), true);
        assert_eq!(port.admit_rtp(t0, nat(31000)), Admission::Accept);
        assert_eq!(port.rtp_target(), (SocketId::AudioRtp, nat(31000)));
    }

    #[test]
    fn a_stranger_is_never_learnt_and_never_moves_rtp() {
        let (mut port, t0) = port(None, addr(5000), true);
        assert_eq!(port.admit_rtp(t0, stranger(5000)), Admission::Foreign);
        assert_eq!(port.rtp_target(), (SocketId::AudioRtp, addr(5000)));
        // The peer's own first packet still latches after the stranger's.
        assert_eq!(port.admit_rtp(t0, addr(5000)), Admission::Accept);
        assert_eq!(port.admit_rtp(t0, stranger(5000)), Admission::Foreign);
        assert_eq!(
            port.admit_rtcp(t0, stranger(5001), false),
            Admission::Foreign
        );
        assert_eq!(port.rtcp_targets(), vec![(SocketId::AudioRtp, addr(5000))]);
    }

    #[test]
    fn nothing_is_learnt_after_the_window() {
        let (mut port, t0) = port(None, addr(5000), true);
        let late = t0 + LATCH_WINDOW;
        assert_eq!(port.admit_rtp(late, nat(31000)), Admission::Accept);
        assert_eq!(port.rtp_target(), (SocketId::AudioRtp, addr(5000)));
        assert_eq!(port.admit_rtp(late, addr(4000)), Admission::Accept);
        assert_eq!(port.admit_rtp(late, stranger(4000)), Admission::Foreign);
    }
}
