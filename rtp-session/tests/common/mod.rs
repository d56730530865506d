//! A two-peer harness on a virtual clock, in the str0m style: a simulated room system (VTC)
//! that sends and answers real RTP/RTCP (H.264 from the mixer's encoder, packetised with this
//! crate), a [`CallMedia`], and a link each way that can lose, delay and reorder datagrams
//! with a deterministic seed. The test steps time; nothing sleeps and no wall clock is read
//! except to pick the origin of the virtual clock.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mixer::codec::h264::{EncodedFrame, EncoderConfig, H264Encoder};
use mixer::frame::I420Frame;
use rtp_session::api::{AudioSetup, PromptCodec, VideoSetup};
use rtp_session::call::{CallMedia, Config, Event, Input, Seeds, SocketId, Transmit};
use rtp_session::h264_rtp::VideoFormat;
use rtp_session::rtcp::{self, RtcpEvent, RtcpOut};
use rtp_session::rtp::{self, RtpHeader};
use rtp_session::srtp::{MediaKeys, ProtectionProfile, SrtpKeys, SrtpStream};
use rtp_session::video::VideoOut;

/// The gateway's sockets (documentation addresses: nothing is ever sent anywhere).
pub const GW_AUDIO: SocketAddr = addr(10, 20000);
/// The gateway's audio RTCP socket.
pub const GW_AUDIO_RTCP: SocketAddr = addr(10, 20001);
/// The gateway's video RTP socket.
pub const GW_VIDEO: SocketAddr = addr(10, 20002);
/// The gateway's video RTCP socket.
pub const GW_VIDEO_RTCP: SocketAddr = addr(10, 20003);
/// Where the VTC really sends audio from (its RTCP port is the next one).
pub const VTC_AUDIO: SocketAddr = addr(20, 5004);
/// Where the VTC really sends video from.
pub const VTC_VIDEO: SocketAddr = addr(20, 5006);
/// A wrong SDP address (a VTC behind NAT advertises its private address).
pub const SDP_AUDIO: SocketAddr = addr(30, 7000);

/// Video payload type of the call.
pub const VIDEO_PT: u8 = 96;
/// Telephone-event payload type of the call.
pub const TE_PT: u8 = 101;
/// The VTC's audio SSRC.
pub const VTC_AUDIO_SSRC: u32 = 0x5EED_0002;
/// The VTC's video SSRC.
pub const VTC_VIDEO_SSRC: u32 = 0x5EED_0001;
/// Picture size the VTC sends (small: tests encode real H.264).
pub const WIDTH: u32 = 160;
/// Picture height.
pub const HEIGHT: u32 = 96;

const fn addr(host: u8, port: u16) -> SocketAddr {
    SocketAddr::new(
        std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, host)),
        port,
    )
}

/// The port after `a` (RTCP without rtcp-mux).
#[must_use]
pub fn next_port(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip(), a.port() + 1)
}

/// A small deterministic generator (xorshift64*): the link's dice.
#[derive(Debug, Clone)]
pub struct Dice(u64);

impl Dice {
    /// A generator from a seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Dice(seed.max(1))
    }

    /// A number in [0, 1).
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One datagram in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Source.
    pub from: SocketAddr,
    /// Destination.
    pub to: SocketAddr,
    /// Bytes.
    pub bytes: Vec<u8>,
}

/// A rule that loses the datagrams it returns true for.
pub type DropRule = Box<dyn FnMut(&Datagram) -> bool>;

/// One direction of the network between the peers.
pub struct Link {
    /// Base one-way delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly up to this (reorders packets sent closer than it).
    pub jitter: Duration,
    /// Share of datagrams lost.
    pub loss: f64,
    /// Datagrams for which this returns true are lost (on top of `loss`).
    pub drop_if: Option<DropRule>,
    dice: Dice,
    /// In flight by delivery time (and a counter keeping equal times in send order).
    in_flight: BTreeMap<(Instant, u64), Datagram>,
    sent: u64,
}

impl Link {
    /// A clean link with a 10 ms delay.
    #[must_use]
    pub fn clean(seed: u64) -> Self {
        Link {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            drop_if: None,
            dice: Dice::new(seed),
            in_flight: BTreeMap::new(),
            sent: 0,
        }
    }

    /// A link with a 10 ms delay, `loss` of datagrams lost and up to `jitter` more delay
    /// (reordering what is sent closer together than that).
    #[must_use]
    pub fn lossy(seed: u64, loss: f64, jitter: Duration) -> Self {
        Link {
            loss,
            jitter,
            ..Link::clean(seed)
        }
    }

    /// Puts a datagram on the link at `now` (maybe losing it).
    pub fn send(&mut self, now: Instant, datagram: Datagram) {
        let lost = self.dice.next() < self.loss
            || self.drop_if.as_mut().is_some_and(|drop| drop(&datagram));
        if lost {
            return;
        }
        let extra = self.jitter.mul_f64(self.dice.next());
        self.sent += 1;
        self.in_flight
            .insert((now + self.delay + extra, self.sent), datagram);
    }

    /// The next delivery time.
    #[must_use]
    pub fn next_delivery(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|(at, _)| *at)
    }

    /// The datagrams due by `now`, in delivery order.
    pub fn deliver(&mut self, now: Instant) -> Vec<Datagram> {
        let later = self
            .in_flight
            .split_off(&(now + Duration::from_nanos(1), 0));
        std::mem::replace(&mut self.in_flight, later)
            .into_values()
            .collect()
    }
}

/// What reached the VTC.
#[derive(Debug, Clone)]
pub struct Received {
    /// When.
    pub at: Instant,
    /// The datagram.
    pub datagram: Datagram,
}

impl Received {
    /// The RTP header, if it is RTP (not RTCP).
    #[must_use]
    pub fn rtp(&self) -> Option<RtpHeader> {
        if rtcp::is_rtcp(&self.datagram.bytes) {
            return None;
        }
        rtp::parse(&self.datagram.bytes).ok().map(|p| p.header)
    }

    /// The RTCP events, if it is RTCP.
    #[must_use]
    pub fn rtcp(&self) -> Option<Vec<RtcpEvent>> {
        if !rtcp::is_rtcp(&self.datagram.bytes) {
            return None;
        }
        rtcp::parse_compound(&self.datagram.bytes).ok()
    }
}

/// A simulated room system.
pub struct Vtc {
    /// Sends 20 ms PCMU packets while true ([`Vtc::start_talking`]).
    pub talking: bool,
    /// Sends video at 10 fps while true ([`Vtc::start_video`]).
    pub sending_video: bool,
    /// Sends an RR every second on each stream while true ([`Vtc::start_rtcp`]; many room
    /// systems never do).
    pub sending_rtcp: bool,
    /// Sends RTCP from the port after RTP (else muxed on the RTP port).
    pub rtcp_on_next_port: bool,
    /// Answers NACKs from its sent history.
    pub answers_nacks: bool,
    /// Everything that reached it.
    pub received: Vec<Received>,
    /// Datagrams it wants to send.
    outbox: Vec<Datagram>,
    audio_seq: u16,
    audio_ts: u32,
    next_audio: Instant,
    next_video: Instant,
    next_rtcp: Instant,
    video_out: VideoOut,
    encoder: H264Encoder,
    frames: u32,
    keyframe_wanted: bool,
    /// Access units it sent, in order.
    pub sent_access_units: Vec<Vec<u8>>,
}

impl Vtc {
    fn new(now: Instant, video: &VideoSetup) -> Self {
        let encoder = H264Encoder::new(EncoderConfig {
            width: WIDTH,
            height: HEIGHT,
            fps: 10.0,
            bitrate_bps: 400_000,
            ..EncoderConfig::hd720()
        })
        .expect("encoder");
        Vtc {
            talking: false,
            sending_video: false,
            sending_rtcp: false,
            rtcp_on_next_port: false,
            answers_nacks: true,
            received: Vec::new(),
            outbox: Vec::new(),
            audio_seq: 1000,
            audio_ts: 8000,
            next_audio: now,
            next_video: now,
            next_rtcp: now,
            video_out: VideoOut::new(video, VTC_VIDEO_SSRC, 30_000, 0),
            encoder,
            frames: 0,
            keyframe_wanted: true,
            sent_access_units: Vec::new(),
        }
    }

    /// Starts sending audio from `now`.
    pub fn start_talking(&mut self, now: Instant) {
        self.talking = true;
        self.next_audio = now;
    }

    /// Starts sending video from `now` (a keyframe first).
    pub fn start_video(&mut self, now: Instant) {
        self.sending_video = true;
        self.keyframe_wanted = true;
        self.next_video = now;
    }

    /// Starts sending an RR on each stream every second from `now`.
    pub fn start_rtcp(&mut self, now: Instant) {
        self.sending_rtcp = true;
        self.next_rtcp = now;
    }

    /// Sends `bytes` from its audio RTP port.
    pub fn send_audio_raw(&mut self, bytes: Vec<u8>) {
        self.outbox.push(Datagram {
            from: VTC_AUDIO,
            to: GW_AUDIO,
            bytes,
        });
    }

    /// Sends `bytes` as RTCP on `stream_rtp` (audio or video RTP address) by its RTCP rule.
    pub fn send_rtcp(&mut self, video: bool, packets: &[RtcpOut]) {
        let bytes = rtcp::build(packets).expect("RTCP");
        let (ours, theirs) = if video {
            (VTC_VIDEO, GW_VIDEO)
        } else {
            (VTC_AUDIO, GW_AUDIO)
        };
        let (from, to) = if self.rtcp_on_next_port {
            (next_port(ours), next_port(theirs))
        } else {
            (ours, theirs)
        };
        self.outbox.push(Datagram { from, to, bytes });
    }

    fn wakeup(&self) -> Option<Instant> {
        [
            self.talking.then_some(self.next_audio),
            self.sending_video.then_some(self.next_video),
            self.sending_rtcp.then_some(self.next_rtcp),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn tick(&mut self, now: Instant) {
        while self.talking && self.next_audio <= now {
            let header = RtpHeader {
                marker: false,
                payload_type: 0,
                sequence: self.audio_seq,
                timestamp: self.audio_ts,
                ssrc: VTC_AUDIO_SSRC,
            };
            // A 400 Hz tone in µ-law, so decoded audio is not silence.
            let pcm: Vec<i16> = (0..160)
                .map(|i| {
                    let t = f64::from(self.audio_ts + i) / 8000.0;
                    ((t * 400.0 * std::f64::consts::TAU).sin() * 8000.0) as i16
                })
                .collect();
            let mut payload = Vec::with_capacity(160);
            mixer::codec::g711::encode_ulaw(&pcm, &mut payload);
            self.send_audio_raw(rtp::write(&header, &payload));
            self.audio_seq = self.audio_seq.wrapping_add(1);
            self.audio_ts = self.audio_ts.wrapping_add(160);
            self.next_audio += Duration::from_millis(20);
        }
        while self.sending_video && self.next_video <= now {
            self.send_picture(now);
            self.next_video += Duration::from_millis(100);
        }
        while self.sending_rtcp && self.next_rtcp <= now {
            for video in [false, true] {
                let ssrc = if video {
                    VTC_VIDEO_SSRC
                } else {
                    VTC_AUDIO_SSRC
                };
                self.send_rtcp(
                    video,
                    &[RtcpOut::ReceiverReport {
                        ssrc,
                        reports: Vec::new(),
                    }],
                );
            }
            self.next_rtcp += Duration::from_secs(1);
        }
    }

    fn send_picture(&mut self, now: Instant) {
        let frame = pattern(self.frames);
        let keyframe = std::mem::take(&mut self.keyframe_wanted);
        let au = self.encoder.encode(&frame, keyframe).expect("encode");
        let timestamp = self.frames * 9000;
        self.frames += 1;
        if au.data.is_empty() {
            return;
        }
        let packets = self
            .video_out
            .packetize(now, &au.data, timestamp)
            .expect("packetise");
        self.sent_access_units.push(au.data);
        for bytes in packets {
            self.outbox.push(Datagram {
                from: VTC_VIDEO,
                to: GW_VIDEO,
                bytes,
            });
        }
    }

    fn receive(&mut self, now: Instant, datagram: Datagram) {
        let received = Received { at: now, datagram };
        for event in received.rtcp().unwrap_or_default() {
            match event {
                RtcpEvent::Pli { .. } | RtcpEvent::Fir { .. } => self.keyframe_wanted = true,
                RtcpEvent::Nack { lost, .. } if self.answers_nacks => {
                    for bytes in self.video_out.retransmissions(&lost) {
                        self.outbox.push(Datagram {
                            from: VTC_VIDEO,
                            to: GW_VIDEO,
                            bytes,
                        });
                    }
                }
                _ => {}
            }
        }
        self.received.push(received);
    }

    /// RTP packets received on `to`, in arrival order.
    #[must_use]
    pub fn rtp_to(&self, to: SocketAddr) -> Vec<(Instant, RtpHeader)> {
        self.received
            .iter()
            .filter(|r| r.datagram.to == to)
            .filter_map(|r| r.rtp().map(|h| (r.at, h)))
            .collect()
    }

    /// RTCP received on `to`, in arrival order.
    #[must_use]
    pub fn rtcp_to(&self, to: SocketAddr) -> Vec<(Instant, Vec<RtcpEvent>)> {
        self.received
            .iter()
            .filter(|r| r.datagram.to == to)
            .filter_map(|r| r.rtcp().map(|e| (r.at, e)))
            .collect()
    }
}

/// How a test call is negotiated.
#[derive(Debug, Clone)]
pub struct CallSetup {
    /// Audio remote in the SDP.
    pub audio_remote: SocketAddr,
    /// rtcp-mux agreed on both streams.
    pub rtcp_mux: bool,
    /// Video negotiated.
    pub video: bool,
    /// Generic NACK negotiated.
    pub nack: bool,
    /// PLI negotiated.
    pub pli: bool,
    /// FIR negotiated.
    pub fir: bool,
    /// `ccm tmmbr` negotiated.
    pub tmmbr: bool,
    /// Where the call's SIP signalling came from.
    pub signalling_ip: Option<std::net::IpAddr>,
    /// SDES SRTP with this profile on both streams (the VTC protects and unprotects too).
    pub srtp: Option<ProtectionProfile>,
}

impl Default for CallSetup {
    fn default() -> Self {
        CallSetup {
            audio_remote: VTC_AUDIO,
            rtcp_mux: true,
            video: true,
            nack: true,
            pli: true,
            fir: false,
            tmmbr: false,
            signalling_ip: Some(VTC_AUDIO.ip()),
            srtp: None,
        }
    }
}

/// The two peers, the links between them, and the clock.
pub struct Pair {
    /// The time now.
    pub now: Instant,
    /// The clock's origin.
    pub start: Instant,
    /// The gateway's side.
    pub gateway: CallMedia,
    /// The room system.
    pub vtc: Vtc,
    /// VTC to gateway.
    pub to_gateway: Link,
    /// Gateway to VTC.
    pub to_vtc: Link,
    /// Everything the gateway's machine reported, with when.
    pub events: Vec<(Instant, Event)>,
    /// Everything the gateway sent, with when (before the link; SRTP-protected when keyed).
    pub transmits: Vec<(Instant, Transmit)>,
    /// The VTC's SRTP contexts (audio, video) on an SRTP call.
    vtc_srtp: Option<[SrtpStream; 2]>,
}

/// The master keys of an SRTP test call: the gateway's and the VTC's.
fn test_keys(profile: ProtectionProfile) -> (Vec<u8>, Vec<u8>) {
    let len = profile.key_len() + profile.salt_len();
    (vec![0x6A; len], vec![0x7C; len])
}

/// Which of the VTC's two SRTP streams a gateway address belongs to, and whether it is RTCP's.
fn srtp_stream_of(gateway: SocketAddr) -> (usize, bool) {
    match gateway {
        GW_AUDIO => (0, false),
        GW_AUDIO_RTCP => (0, true),
        GW_VIDEO => (1, false),
        _ => (1, true),
    }
}

/// The wall-clock time the harness pretends it is at the origin (an arbitrary fixed date).
pub const WALL_ORIGIN: Duration = Duration::from_secs(1_700_000_000);

impl Pair {
    /// A call set up by `setup`, links seeded by `seed`.
    #[must_use]
    pub fn new(setup: &CallSetup, seed: u64) -> Pair {
        // The one clock read: an origin for the virtual clock (Instant has no constructor).
        #[allow(clippy::disallowed_methods)]
        let start = Instant::now();
        let audio = AudioSetup {
            local_port: GW_AUDIO.port(),
            remote: setup.audio_remote,
            payload_type: 0,
            codec: PromptCodec::Pcmu,
            telephone_event_pt: Some(TE_PT),
            rtcp_mux: setup.rtcp_mux,
        };
        let video = VideoSetup {
            local_port: GW_VIDEO.port(),
            remote: VTC_VIDEO,
            payload_type: VIDEO_PT,
            packetization_mode: 1,
            max_size: (1280, 720),
            bitrate_bps: 1_000_000,
            nack: setup.nack,
            pli: setup.pli,
            fir: setup.fir,
            tmmbr: setup.tmmbr,
            rtcp_mux: setup.rtcp_mux,
        };
        let config = Config {
            cname: "c1@tessera".into(),
            audio,
            video: setup.video.then_some(video),
            audio_rtcp_socket: true,
            video_rtcp_socket: true,
            signalling_ip: setup.signalling_ip,
            srtp: match setup.srtp {
                Some(profile) => {
                    let (ours, theirs) = test_keys(profile);
                    let keys = SrtpKeys::new(profile, ours, theirs).expect("test keys");
                    MediaKeys {
                        audio: Some(keys.clone()),
                        video: Some(keys),
                    }
                }
                None => MediaKeys::default(),
            },
            seeds: Seeds {
                audio_ssrc: 0xA0D1_0000,
                audio_sequence: 100,
                audio_timestamp: 1000,
                prompt_sequence: 0,
                prompt_timestamp: 0,
                video_ssrc: 0x0F1D_E000,
                video_sequence: 200,
                video_timestamp: 2000,
            },
        };
        Pair {
            now: start,
            start,
            gateway: CallMedia::new(start, config),
            vtc: Vtc::new(start, &video),
            to_gateway: Link::clean(seed),
            to_vtc: Link::clean(seed.wrapping_add(1)),
            events: Vec::new(),
            transmits: Vec::new(),
            vtc_srtp: setup.srtp.map(|profile| {
                let (gateway, vtc) = test_keys(profile);
                let keys = SrtpKeys::new(profile, vtc, gateway).expect("test keys");
                [
                    SrtpStream::new(&keys).expect("contexts"),
                    SrtpStream::new(&keys).expect("contexts"),
                ]
            }),
        }
    }

    /// The wall-clock time at `at`.
    #[must_use]
    pub fn wall(&self, at: Instant) -> SystemTime {
        UNIX_EPOCH + WALL_ORIGIN + at.duration_since(self.start)
    }

    /// The virtual time since the origin.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.now.duration_since(self.start)
    }

    /// Tells the gateway's machine something now.
    pub fn input(&mut self, input: Input) {
        self.gateway.handle_input(self.now, input);
        self.flush();
    }

    /// Runs every wake-up (the machine's timers, the VTC's sends, deliveries) up to `until`.
    pub fn run_until(&mut self, until: Instant) {
        loop {
            self.flush();
            let next = [
                self.gateway.poll_timeout(),
                self.vtc.wakeup(),
                self.to_gateway.next_delivery(),
                self.to_vtc.next_delivery(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(at) if at <= until => self.step(at.max(self.now)),
                _ => {
                    self.now = until.max(self.now);
                    self.flush();
                    return;
                }
            }
        }
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    fn step(&mut self, at: Instant) {
        self.now = at;
        for datagram in self.to_gateway.deliver(at) {
            let socket = match datagram.to {
                GW_AUDIO => SocketId::AudioRtp,
                GW_AUDIO_RTCP => SocketId::AudioRtcp,
                GW_VIDEO => SocketId::VideoRtp,
                GW_VIDEO_RTCP => SocketId::VideoRtcp,
                other => panic!("datagram to no gateway socket: {other}"),
            };
            self.gateway
                .handle_datagram(at, socket, datagram.from, &datagram.bytes);
        }
        for mut datagram in self.to_vtc.deliver(at) {
            if let Some(streams) = &mut self.vtc_srtp {
                let (stream, rtcp) = srtp_stream_of(datagram.from);
                datagram.bytes = streams[stream]
                    .unprotect(&datagram.bytes, rtcp)
                    .expect("the gateway's SRTP authenticates at the VTC");
            }
            self.vtc.receive(at, datagram);
        }
        if self.gateway.poll_timeout().is_some_and(|t| t <= at) {
            self.gateway.handle_timeout(at, self.wall(at));
        }
        self.vtc.tick(at);
    }

    fn flush(&mut self) {
        while let Some(t) = self.gateway.poll_transmit() {
            let from = match t.socket {
                SocketId::AudioRtp => GW_AUDIO,
                SocketId::AudioRtcp => GW_AUDIO_RTCP,
                SocketId::VideoRtp => GW_VIDEO,
                SocketId::VideoRtcp => GW_VIDEO_RTCP,
            };
            self.to_vtc.send(
                self.now,
                Datagram {
                    from,
                    to: t.to,
                    bytes: t.bytes.clone(),
                },
            );
            self.transmits.push((self.now, t));
        }
        while let Some(e) = self.gateway.poll_event() {
            self.events.push((self.now, e));
        }
        for mut datagram in self.vtc.outbox.drain(..) {
            if let Some(streams) = &mut self.vtc_srtp {
                let (stream, rtcp) = srtp_stream_of(datagram.to);
                datagram.bytes = streams[stream]
                    .protect(&datagram.bytes, rtcp)
                    .expect("the VTC protects");
            }
            self.to_gateway.send(self.now, datagram);
        }
    }

    /// The events matching `f`, with when.
    pub fn events_where(&self, f: impl Fn(&Event) -> bool) -> Vec<(Instant, Event)> {
        self.events.iter().filter(|(_, e)| f(e)).cloned().collect()
    }

    /// Joins the gateway's call to a meeting as participant 5.
    pub fn join(&mut self) {
        self.input(Input::Join {
            participant: 5,
            display_name: "Room 1".into(),
            video_format: Some(VideoFormat::unlimited((1280, 720))),
        });
    }
}

/// Encoded pictures of a moving test pattern from the mixer's encoder (the first a keyframe).
#[must_use]
pub fn layout_frames(count: u32) -> Vec<Arc<EncodedFrame>> {
    let mut encoder = H264Encoder::new(EncoderConfig {
        width: WIDTH,
        height: HEIGHT,
        fps: 30.0,
        bitrate_bps: 1_000_000,
        ..EncoderConfig::hd720()
    })
    .expect("encoder");
    (0..count)
        .map(|n| Arc::new(encoder.encode(&pattern(n), n == 0).expect("encode")))
        .filter(|f| !f.data.is_empty())
        .collect()
}

/// Picture `n` of the mixer's moving test pattern at the harness's size.
#[must_use]
pub fn pattern(n: u32) -> I420Frame {
    I420Frame::test_pattern(WIDTH, HEIGHT, n).expect("size")
}
