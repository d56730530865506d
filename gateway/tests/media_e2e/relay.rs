//! The test relay between ffmpeg (the far-end VTC) and the gateway.
//!
//! Per stream (audio, video) it owns:
//! - the **media** socket pair `P`/`P+1`, the ports written in the INVITE's SDP: ffmpeg's packets
//!   leave the relay from `P` towards the gateway's port (so the gateway's symmetric RTP answers
//!   to `P`), and whatever the gateway sends to `P` is read here: RTP is forwarded to ffmpeg's
//!   receiving port, RTCP (muxed, as offered) is parsed and counted (PLI, NACK, FIR, SR/RR);
//!   what arrives on `P+1` is only counted (rtcp-mux leaves that port unused);
//! - the **inbound** socket pair `X`/`X+1` ffmpeg sends RTP (and RTCP) to. ffmpeg's RTCP is
//!   not passed on: the relay plays a room system that never sends RTCP (many never do), so the
//!   gateway must keep sending keyframes on its own.
//!
//! It can drop a share of the video RTP going to the gateway (a deterministic pseudo-random
//! pattern), and answers the gateway's generic NACKs the way a room system's RTP stack does
//! (RFC 4585: the original packet is sent again, from a history of the last packets, dropped
//! ones included). It counts everything.
//!
//! It can also put the VTC behind a slow line ([`Relay::with_link`]): the video the gateway
//! sends goes through [`sip_testua::link::Link`]'s policer (a token bucket at the line's rate,
//! the one the load fleet uses), and the relay sends the gateway the RTCP a room system behind
//! that line sends: receiver reports with the loss the policer caused, PLI while the stream is
//! broken, and TMMBR with the line's rate when asked. The relay has to synthesise these because
//! ffmpeg's RTP receiver does not send the relay any: [`StreamStats::from_receiver`] counts
//! what comes back from it, and stays 0 (measured with ffmpeg 5.1). Reading an SDP file, ffmpeg
//! builds its RTP input's URL from the SDP's own `c=` address and port, so its receiver reports
//! go to that address's port + 1, its own RTCP socket (`rtsp_flags rtcp_to_source` would answer
//! only a peer that sent it RTCP first, which the relay does not).

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rtp_session::h264_rtp::{Depacketized, Depacketizer};
use sip_testua::link::{Link, LinkSpec};

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Audio = 0,
    Video = 1,
}

/// Counters for one stream.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// RTP packets from ffmpeg forwarded to the gateway.
    pub to_gateway: AtomicU64,
    /// RTP packets from ffmpeg dropped on purpose.
    pub dropped: AtomicU64,
    /// RTP packets from the gateway (forwarded to ffmpeg).
    pub from_gateway_rtp: AtomicU64,
    /// RTP packets from the gateway with the marker bit (video: one per frame).
    pub from_gateway_markers: AtomicU64,
    /// RTCP compound packets from the gateway on the RTP port (rtcp-mux).
    pub rtcp: AtomicU64,
    /// RTCP from the gateway to the port after the RTP port, which rtcp-mux leaves unused:
    /// counted, otherwise ignored.
    pub rtcp_next_port: AtomicU64,
    /// Sender / receiver reports in them.
    pub sr_rr: AtomicU64,
    /// Picture loss indications (PSFB FMT 1).
    pub pli: AtomicU64,
    /// Full intra requests (PSFB FMT 4).
    pub fir: AtomicU64,
    /// Generic NACKs (RTPFB FMT 1).
    pub nack: AtomicU64,
    /// TMMBNs (RTPFB FMT 4): the gateway answering a TMMBR.
    pub tmmbn: AtomicU64,
    /// TMMBRs (RTPFB FMT 3): the gateway asking the VTC for the rate its tiles need.
    pub tmmbr: AtomicU64,
    /// The limit of the last of them, bit/s.
    pub tmmbr_bps: AtomicU64,
    /// Packets sent again because a NACK asked for them.
    pub retransmitted: AtomicU64,
    /// RTP bytes (headers included) the gateway sent (video: before the line's policer).
    pub from_gateway_bytes: AtomicU64,
    /// RTP bytes forwarded to ffmpeg (video: what got through the line).
    pub to_ffmpeg_bytes: AtomicU64,
    /// RTP packets from the gateway the line's policer dropped.
    pub policed: AtomicU64,
    /// Datagrams ffmpeg's receiver sent back towards the relay (its RTCP would): see the module
    /// doc.
    pub from_receiver: AtomicU64,
}

impl StreamStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Where the relay sends: the gateway's RTP ports (from the 200's SDP) and ffmpeg's receiving
/// ports.
#[derive(Debug, Clone, Copy)]
pub struct Targets {
    pub gateway_audio: SocketAddr,
    pub gateway_video: SocketAddr,
    pub ffmpeg_audio: SocketAddr,
    pub ffmpeg_video: SocketAddr,
}

struct Leg {
    media: UdpSocket,
    media_rtcp: UdpSocket,
    inbound: UdpSocket,
    inbound_rtcp: UdpSocket,
}

/// A running (or bound, not yet started) relay.
pub struct Relay {
    legs: Option<[Leg; 2]>,
    ports: [(u16, u16); 2],
    /// Video RTP to the gateway dropped, in per mille.
    drop_video_permille: u32,
    /// The line the gateway's video reaches the VTC through.
    link: LinkSpec,
    pub stats: Arc<[StreamStats; 2]>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Binds both streams' socket pairs on loopback.
    pub fn bind(drop_video_permille: u32) -> Relay {
        let mut legs = Vec::new();
        let mut ports = [(0, 0); 2];
        for port in &mut ports {
            let (media, media_rtcp) = bind_pair();
            let (inbound, inbound_rtcp) = bind_pair();
            *port = (
                media.local_addr().unwrap().port(),
                inbound.local_addr().unwrap().port(),
            );
            legs.push(Leg {
                media,
                media_rtcp,
                inbound,
                inbound_rtcp,
            });
        }
        let legs: [Leg; 2] = legs.try_into().ok().unwrap();
        Relay {
            legs: Some(legs),
            ports,
            drop_video_permille,
            link: LinkSpec::UNLIMITED,
            stats: Arc::new([StreamStats::default(), StreamStats::default()]),
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
        }
    }

    /// Puts the VTC's video receive side behind `link` (see the module doc).
    pub fn with_link(mut self, link: LinkSpec) -> Relay {
        self.link = link;
        self
    }

    /// The port the SDP offer names for `kind` (RTCP is on the next one).
    pub fn media_port(&self, kind: Kind) -> u16 {
        self.ports[kind as usize].0
    }

    /// The port ffmpeg sends `kind` RTP to.
    pub fn inbound_port(&self, kind: Kind) -> u16 {
        self.ports[kind as usize].1
    }

    /// Counters of `kind`.
    pub fn stats(&self, kind: Kind) -> &StreamStats {
        &self.stats[kind as usize]
    }

    /// Starts forwarding.
    pub fn start(&mut self, targets: Targets) {
        let Some(legs) = self.legs.take() else {
            panic!("relay started twice");
        };
        for (index, leg) in legs.into_iter().enumerate() {
            let kind = if index == 0 { Kind::Audio } else { Kind::Video };
            let (gateway, ffmpeg) = match kind {
                Kind::Audio => (targets.gateway_audio, targets.ffmpeg_audio),
                Kind::Video => (targets.gateway_video, targets.ffmpeg_video),
            };
            let drop_permille = match kind {
                Kind::Audio => 0,
                Kind::Video => self.drop_video_permille,
            };
            let out = UdpSocket::bind("127.0.0.1:0").unwrap();
            let history: Arc<Mutex<History>> = Arc::default();
            // ffmpeg -> gateway, from the media socket.
            {
                let (recv, send) = (leg.inbound, leg.media.try_clone().unwrap());
                let (stop, stats, history) =
                    (self.stop.clone(), self.stats.clone(), history.clone());
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (index as u64 + 1);
                self.threads.push(thread::spawn(move || {
                    pump(&recv, &stop, |packet, _| {
                        let s = &stats[index];
                        if is_rtcp(packet) || packet.len() < 12 {
                            return;
                        }
                        history.lock().unwrap().keep(packet);
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        if drop_permille > 0 && (rng % 1000) < u64::from(drop_permille) {
                            s.dropped.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        if send.send_to(packet, gateway).is_ok() {
                            s.to_gateway.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                }));
            }
            // ffmpeg's own RTCP: read and ignored (see the module doc).
            {
                let (recv, stop) = (leg.inbound_rtcp, self.stop.clone());
                self.threads
                    .push(thread::spawn(move || pump(&recv, &stop, |_, _| {})));
            }
            // What ffmpeg's receiver sends back (nothing: see the module doc), counted.
            {
                let (recv, stop, stats) = (
                    out.try_clone().unwrap(),
                    self.stop.clone(),
                    self.stats.clone(),
                );
                self.threads.push(thread::spawn(move || {
                    pump(&recv, &stop, |_, _| {
                        stats[index].from_receiver.fetch_add(1, Ordering::Relaxed);
                    })
                }));
            }
            // gateway -> ffmpeg (RTP), RTCP counted.
            let resend = leg.media.try_clone().unwrap();
            let link = match kind {
                Kind::Audio => LinkSpec::UNLIMITED,
                Kind::Video => self.link,
            };
            for (socket, rtcp_port) in [(leg.media, false), (leg.media_rtcp, true)] {
                let (stop, stats, history) =
                    (self.stop.clone(), self.stats.clone(), history.clone());
                let out = out.try_clone().unwrap();
                let resend = resend.try_clone().unwrap();
                let mut line = Line::new(link, gateway);
                self.threads.push(thread::spawn(move || {
                    pump(&socket, &stop, |packet, _| {
                        let s = &stats[index];
                        if rtcp_port {
                            // The offer and the answer have rtcp-mux: a room system that
                            // negotiated it reads RTCP on the RTP port only (RFC 5761).
                            s.rtcp_next_port.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        if is_rtcp(packet) {
                            for seq in count_rtcp(packet, s) {
                                let again = history.lock().unwrap().get(seq);
                                if let Some(again) = again {
                                    if resend.send_to(&again, gateway).is_ok() {
                                        s.retransmitted.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                            }
                            return;
                        }
                        if packet.len() < 12 {
                            return;
                        }
                        s.from_gateway_rtp.fetch_add(1, Ordering::Relaxed);
                        s.from_gateway_bytes
                            .fetch_add(packet.len() as u64, Ordering::Relaxed);
                        if packet[1] & 0x80 != 0 {
                            s.from_gateway_markers.fetch_add(1, Ordering::Relaxed);
                        }
                        if !line.admit(packet, s, &resend) {
                            return;
                        }
                        if out.send_to(packet, ffmpeg).is_ok() {
                            s.to_ffmpeg_bytes
                                .fetch_add(packet.len() as u64, Ordering::Relaxed);
                        }
                    })
                }));
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The VTC's side of its line, on the relay's clock: the policer and the RTCP it owes the
/// gateway (none when the line is unlimited and sends no TMMBR).
struct Line {
    link: Option<Link>,
    /// Rebuilds the stream as a room system's receiver would, to know when it broke.
    depacketizer: Depacketizer,
    keyframe_needed: bool,
}

impl Line {
    fn new(spec: LinkSpec, gateway: SocketAddr) -> Line {
        Line {
            link: (spec != LinkSpec::UNLIMITED).then(|| Link::new(spec, gateway, Instant::now())),
            depacketizer: Depacketizer::new(),
            keyframe_needed: false,
        }
    }

    /// Whether the RTP `packet` gets through; sends what RTCP is due on `socket` (to the
    /// gateway's RTP port: rtcp-mux).
    fn admit(&mut self, packet: &[u8], s: &StreamStats, socket: &UdpSocket) -> bool {
        let Some(link) = self.link.as_mut() else {
            return true;
        };
        let now = Instant::now();
        let passed = link.admit(now, packet.len());
        s.policed.store(link.policed, Ordering::Relaxed);
        if passed {
            if let Ok(rtp) = rtp_session::rtp::parse(packet) {
                let h = &rtp.header;
                link.received(now, h.ssrc, h.sequence, h.timestamp);
                let ready = self
                    .depacketizer
                    .push(h.sequence, h.timestamp, h.marker, rtp.payload)
                    .unwrap_or_default();
                for item in ready {
                    match item {
                        Depacketized::KeyframeNeeded => self.keyframe_needed = true,
                        Depacketized::AccessUnit(au) => self.keyframe_needed &= !au.keyframe,
                    }
                }
            }
        }
        link.poll(now, socket, self.keyframe_needed);
        passed
    }
}

/// Reads `socket` until `stop`, handing each datagram to `f`.
fn pump(socket: &UdpSocket, stop: &AtomicBool, mut f: impl FnMut(&[u8], SocketAddr)) {
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::SeqCst) {
        if let Ok((len, from)) = socket.recv_from(&mut buf) {
            f(&buf[..len], from);
        }
    }
}

/// RFC 5761 §4: payload type octets 192-223 (marker bit set) are RTCP.
fn is_rtcp(packet: &[u8]) -> bool {
    packet.len() >= 8 && (192..=223).contains(&packet[1])
}

/// The last packets sent towards the gateway, by sequence number.
#[derive(Default)]
struct History {
    packets: std::collections::VecDeque<(u16, Vec<u8>)>,
}

impl History {
    const LEN: usize = 2048;

    fn keep(&mut self, packet: &[u8]) {
        if self.packets.len() == Self::LEN {
            self.packets.pop_front();
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        self.packets.push_back((seq, packet.to_vec()));
    }

    fn get(&self, seq: u16) -> Option<Vec<u8>> {
        self.packets
            .iter()
            .rev()
            .find(|(s, _)| *s == seq)
            .map(|(_, p)| p.clone())
    }
}

/// Counts the reports and feedback messages of one RTCP compound packet; returns the sequence
/// numbers its generic NACKs ask for.
fn count_rtcp(packet: &[u8], s: &StreamStats) -> Vec<u16> {
    s.rtcp.fetch_add(1, Ordering::Relaxed);
    let mut nacked = Vec::new();
    let mut rest = packet;
    while rest.len() >= 4 {
        let fmt = rest[0] & 0x1f;
        let pt = rest[1];
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        match (pt, fmt) {
            (200 | 201, _) => {
                s.sr_rr.fetch_add(1, Ordering::Relaxed);
            }
            (205, 1) => {
                s.nack.fetch_add(1, Ordering::Relaxed);
                // Header (4), sender SSRC (4), media SSRC (4), then PID/BLP pairs.
                let end = len.min(rest.len());
                for fci in rest.get(12..end).unwrap_or_default().chunks_exact(4) {
                    let pid = u16::from_be_bytes([fci[0], fci[1]]);
                    let blp = u16::from_be_bytes([fci[2], fci[3]]);
                    nacked.push(pid);
                    for bit in 0..16 {
                        if blp & (1 << bit) != 0 {
                            nacked.push(pid.wrapping_add(bit + 1));
                        }
                    }
                }
            }
            (205, 4) => {
                s.tmmbn.fetch_add(1, Ordering::Relaxed);
            }
            (205, 3) => {
                s.tmmbr.fetch_add(1, Ordering::Relaxed);
                let limit = rtp_session::rtcp::parse_compound(rest)
                    .ok()
                    .and_then(|events| {
                        events.into_iter().find_map(|e| match e {
                            rtp_session::rtcp::RtcpEvent::MaxBitrate { bitrate_bps, .. } => {
                                Some(bitrate_bps)
                            }
                            _ => None,
                        })
                    });
                if let Some(bps) = limit {
                    s.tmmbr_bps.store(bps, Ordering::Relaxed);
                }
            }
            (206, 1) => {
                s.pli.fetch_add(1, Ordering::Relaxed);
            }
            (206, 4) => {
                s.fir.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        if len > rest.len() {
            break;
        }
        rest = &rest[len..];
    }
    nacked
}

/// Two UDP sockets on consecutive loopback ports (RTP and RTCP), below the kernel's ephemeral
/// range and away from the gateway's RTP ports.
pub fn bind_pair() -> (UdpSocket, UdpSocket) {
    for _ in 0..1000 {
        let base = 10_000 + 2 * (rand::random::<u16>() % 4_000);
        let Ok(rtp) = UdpSocket::bind(("127.0.0.1", base)) else {
            continue;
        };
        if let Ok(rtcp) = UdpSocket::bind(("127.0.0.1", base + 1)) {
            return (rtp, rtcp);
        }
    }
    panic!("no two consecutive free UDP ports found");
}

/// A free even port with the next one free too (for ffmpeg to bind; a small race, as with any
/// port handed to another process).
pub fn free_pair() -> u16 {
    let (rtp, _rtcp) = bind_pair();
    rtp.local_addr().unwrap().port()
}
