//! The in-process VTC fleet: each VTC places one SIP call (see [`sip_testua`]), sends the
//! pre-encoded clip as H.264 RTP at 30 fps with fresh sequence numbers and timestamps plus PCMU
//! audio, and receives, depacketises and checks what the gateway sends back: frame rate, packet
//! loss, keyframe delay, decodability. A probe VTC also decodes every picture and reads the stamp
//! of the other stamped VTC in its meeting to measure glass-to-glass latency.
//!
//! Owns its sockets and threads; it never talks to the admin API.

#![allow(clippy::disallowed_methods)] // A load generator paces itself on real time.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mixer::codec::h264::H264Decoder;
use rtp_session::h264_rtp::{Depacketized, Depacketizer};
use sip_testua::{vtc_offer_with, Ua};

use crate::clip::{Ladder, FPS, VIDEO_CLOCK};
use crate::stamp;
use rtp_session::rtcp::{self, RtcpEvent};
use sip_testua::link::{Link, LinkSpec};

/// The instant every time in a run is measured from.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Seconds since [`epoch`].
pub fn now_secs() -> f64 {
    epoch().elapsed().as_secs_f64()
}

/// When a VTC last sent each stamp value (seconds since [`epoch`], as f64 bits).
#[derive(Debug)]
pub struct SendLog {
    times: Vec<AtomicU64>,
}

impl Default for SendLog {
    fn default() -> Self {
        SendLog {
            times: (0..256)
                .map(|_| AtomicU64::new(f64::NAN.to_bits()))
                .collect(),
        }
    }
}

impl SendLog {
    fn record(&self, stamp: u8, at: f64) {
        self.times[usize::from(stamp)].store(at.to_bits(), Ordering::Relaxed);
    }

    /// When `stamp` was last sent, if ever.
    pub fn sent_at(&self, stamp: u8) -> Option<f64> {
        let t = f64::from_bits(self.times[usize::from(stamp)].load(Ordering::Relaxed));
        (!t.is_nan()).then_some(t)
    }
}

/// The picture a VTC offers to receive: what its SDP's H.264 level and video `b=AS` allow, and
/// so the bit-rate class the gateway starts it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Receives {
    /// Constrained baseline level 3.1 (`42e01f`), `b=AS:2000`: the gateway's 720p default.
    Hd720,
    /// Constrained baseline level 4.0 (`42e028`), `b=AS:4000`: room for the 3 Mbit/s 1080p30
    /// class (`--vtcs-1080p`).
    Fhd1080,
}

impl Receives {
    /// The SDP offer, media at the given ports.
    pub fn offer(self, audio_port: u16, video_port: u16) -> String {
        match self {
            Receives::Hd720 => vtc_offer_with(audio_port, video_port, "42e01f", 2000),
            Receives::Fhd1080 => vtc_offer_with(audio_port, video_port, "42e028", 4000),
        }
    }

    /// The picture size the gateway should send on a line that carries it.
    pub fn size(self) -> (u32, u32) {
        match self {
            Receives::Hd720 => (1280, 720),
            Receives::Fhd1080 => (1920, 1080),
        }
    }
}

/// What one VTC is and does.
#[derive(Clone)]
pub struct VtcSpec {
    /// The gateway's SIP address.
    pub gateway: SocketAddr,
    /// What it dials.
    pub dial: String,
    /// Its name (From display name).
    pub name: String,
    /// The video it sends: the 720p clip, or a smaller one while the gateway's TMMBR asks for
    /// less.
    pub clip: Arc<Ladder>,
    /// The audio it sends (20 ms PCMU payloads, looped).
    pub audio: Arc<Vec<Vec<u8>>>,
    /// Decode every received picture and measure latency against `peer`.
    pub probe: bool,
    /// The send log of the stamped VTC this one should see (for a probe).
    pub peer: Option<Arc<SendLog>>,
    /// Where this VTC logs its own sends.
    pub log: Arc<SendLog>,
    /// Its line towards it (bandwidth, TMMBR).
    pub link: LinkSpec,
    /// The picture it offers to receive.
    pub receives: Receives,
    /// Whether it sends video (a latency watcher sends only audio, so the gateway keeps the
    /// call).
    pub sends_video: bool,
}

/// What a VTC received (times in seconds since [`epoch`]).
#[derive(Debug, Default, Clone)]
pub struct RxStats {
    /// Arrival time and keyframe flag of every complete access unit.
    pub frames: Vec<(f64, bool)>,
    /// Video RTP packets received.
    pub video_packets: u64,
    /// Video packets missing (sequence gaps).
    pub video_lost: u64,
    /// Times the depacketiser lost sync and waited for a keyframe.
    pub keyframe_waits: u64,
    /// Arrival of the first keyframe.
    pub first_keyframe: Option<f64>,
    /// Pictures decoded.
    pub decoded: u64,
    /// Access units the decoder refused.
    pub decode_errors: u64,
    /// Size of the last decoded picture.
    pub picture_size: Option<(u32, u32)>,
    /// Glass-to-glass latencies: (arrival, milliseconds) (probe only).
    pub latency_ms: Vec<(f64, f64)>,
    /// Pictures in which the peer's stamp was found (probe only).
    pub stamps_found: u64,
    /// Audio RTP packets received.
    pub audio_packets: u64,
    /// Audio packets missing.
    pub audio_lost: u64,
    /// Video packets its line dropped (`--vtc-bandwidth`; counted in `video_lost` too).
    pub video_policed: u64,
    /// Video bytes that got through, per whole second since [`epoch`].
    pub video_bytes: std::collections::BTreeMap<u64, u64>,
}

impl RxStats {
    /// Latencies (ms) measured in `[from, to)`.
    pub fn latencies_between(&self, from: f64, to: f64) -> Vec<f64> {
        self.latency_ms
            .iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|(_, ms)| *ms)
            .collect()
    }

    /// Mean video bit rate received in the whole seconds of `[from, to)`, bit/s.
    pub fn video_bps_between(&self, from: f64, to: f64) -> f64 {
        let (first, last) = (from.ceil() as u64, to.floor() as u64);
        if last <= first {
            return 0.0;
        }
        let bytes: u64 = self.video_bytes.range(first..last).map(|(_, b)| b).sum();
        bytes as f64 * 8.0 / (last - first) as f64
    }

    /// Frames that arrived in `[from, to)`.
    pub fn frames_between(&self, from: f64, to: f64) -> usize {
        self.frames
            .iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .count()
    }

    /// Share of frames in `[from, to)` that arrived within `slack` seconds of the steady 30 fps
    /// schedule: a frame is late when the gap since the previous one exceeds a frame interval by
    /// more than `slack` (a stall), so a stream at full rate scores 1.
    pub fn on_time_share(&self, from: f64, to: f64, slack: f64) -> Option<f64> {
        let times: Vec<f64> = self
            .frames
            .iter()
            .map(|(t, _)| *t)
            .filter(|t| *t >= from && *t < to)
            .collect();
        if times.len() < 2 {
            return None;
        }
        let interval = 1.0 / f64::from(FPS);
        let late = times
            .windows(2)
            .filter(|w| w[1] - w[0] > interval + slack)
            .count();
        Some(1.0 - late as f64 / (times.len() - 1) as f64)
    }
}

/// A VTC in a call.
pub struct Vtc {
    ua: Ua,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// What it received so far.
    pub rx: Arc<Mutex<RxStats>>,
    /// INVITE to 200 OK.
    pub setup: Duration,
    /// When the call was answered (seconds since [`epoch`]).
    pub answered_at: f64,
    /// Its name.
    pub name: String,
    /// The picture it offered to receive.
    pub receives: Receives,
}

/// Parsed RTP header fields the fleet needs.
struct RtpHeader<'a> {
    marker: bool,
    payload_type: u8,
    seq: u16,
    timestamp: u32,
    payload: &'a [u8],
}

/// Parses an RTP packet; `None` for RTCP (multiplexed on the same port) and garbage.
fn parse_rtp(packet: &[u8]) -> Option<RtpHeader<'_>> {
    if packet.len() < 12 || packet[0] >> 6 != 2 {
        return None;
    }
    // RTCP packet types 200-206 land on marker + PT 72-78.
    if (200..=206).contains(&packet[1]) {
        return None;
    }
    let csrc = usize::from(packet[0] & 0x0F);
    let mut offset = 12 + 4 * csrc;
    if packet[0] & 0x10 != 0 {
        let ext = packet.get(offset + 2..offset + 4)?;
        offset += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    let mut end = packet.len();
    if packet[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*packet.last()?))?;
    }
    Some(RtpHeader {
        marker: packet[1] & 0x80 != 0,
        payload_type: packet[1] & 0x7F,
        seq: u16::from_be_bytes([packet[2], packet[3]]),
        timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
        payload: packet.get(offset..end)?,
    })
}

fn rtp_packet(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.push(0x80);
    p.push(pt | if marker { 0x80 } else { 0 });
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Counts a sequence gap since `last`.
fn gap(last: &mut Option<u16>, seq: u16) -> u64 {
    let lost = match *last {
        Some(prev) => {
            let d = seq.wrapping_sub(prev);
            // Reordered or duplicate packets (d above half the space) are not losses.
            if d > 0 && d < 0x8000 {
                u64::from(d - 1)
            } else {
                0
            }
        }
        None => 0,
    };
    if last.is_none_or(|prev| seq.wrapping_sub(prev) < 0x8000) {
        *last = Some(seq);
    }
    lost
}

impl Vtc {
    /// Places the call and starts sending and receiving. Fails with the gateway's answer when the
    /// call is not established.
    pub fn call(spec: VtcSpec) -> anyhow::Result<Vtc> {
        let video = UdpSocket::bind("127.0.0.1:0")?;
        let audio = UdpSocket::bind("127.0.0.1:0")?;
        let offer = spec
            .receives
            .offer(audio.local_addr()?.port(), video.local_addr()?.port());
        let mut ua = Ua::new(spec.gateway, &spec.dial, &spec.name)?;
        let started = Instant::now();
        let answer = ua
            .invite(&offer)
            .map_err(|e| anyhow::anyhow!("{}: {e}", spec.name))?;
        let setup = started.elapsed();
        let answered_at = now_secs();
        let stop = Arc::new(AtomicBool::new(false));
        let rx = Arc::new(Mutex::new(RxStats::default()));
        // The gateway's latest TMMBR limit, bit/s (0: none yet).
        let asked = Arc::new(AtomicU64::new(0));
        for s in [&video, &audio] {
            s.set_read_timeout(Some(Duration::from_millis(100)))?;
        }
        let mut threads = Vec::new();
        {
            let (video, audio, stop, spec, asked) = (
                video.try_clone()?,
                audio.try_clone()?,
                stop.clone(),
                spec.clone(),
                asked.clone(),
            );
            let targets = (answer.video, answer.audio, answer.video_pt);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("send-{}", spec.name))
                    .spawn(move || send_loop(&spec, &video, &audio, targets, &asked, &stop))?,
            );
        }
        {
            let (stop, rx, spec) = (stop.clone(), rx.clone(), spec.clone());
            let link = Link::new(spec.link, answer.video, Instant::now());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("video-{}", spec.name))
                    .spawn(move || video_loop(&spec, &video, link, (&rx, &asked), &stop))?,
            );
        }
        {
            let (stop, rx) = (stop.clone(), rx.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("audio-{}", spec.name))
                    .spawn(move || audio_loop(&audio, &rx, &stop))?,
            );
        }
        Ok(Vtc {
            ua,
            stop,
            threads,
            rx,
            setup,
            answered_at,
            name: spec.name,
            receives: spec.receives,
        })
    }

    /// A copy of what it received so far.
    pub fn stats(&self) -> RxStats {
        self.rx.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops media, sends BYE; returns the BYE's final status (`None`: no answer) and the stats.
    pub fn hang_up(mut self) -> (Option<u16>, RxStats) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let status = self.ua.bye();
        (status, self.stats())
    }
}

fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        std::thread::sleep(at - now);
    }
}

fn send_loop(
    spec: &VtcSpec,
    video: &UdpSocket,
    audio: &UdpSocket,
    (video_to, audio_to, video_pt): (SocketAddr, SocketAddr, u8),
    asked: &AtomicU64,
    stop: &AtomicBool,
) {
    let mut clip = spec.clip.for_limit(None);
    let (video_ssrc, audio_ssrc) = (rand::random::<u32>(), rand::random::<u32>());
    let (mut video_seq, mut audio_seq) = (rand::random::<u16>(), rand::random::<u16>());
    let (video_ts0, audio_ts0) = (rand::random::<u32>(), rand::random::<u32>());
    let frame_interval = Duration::from_secs(1) / FPS;
    let audio_interval = Duration::from_millis(20);
    let start = Instant::now();
    let (mut frame_n, mut audio_n) = (0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        let next_video = start + frame_interval * frame_n as u32;
        let next_audio = start + audio_interval * audio_n as u32;
        if !spec.sends_video || next_audio <= next_video {
            sleep_until(next_audio);
            let payload = &spec.audio[audio_n as usize % spec.audio.len()];
            let ts = audio_ts0.wrapping_add((audio_n * 160) as u32);
            let _ = audio.send_to(
                &rtp_packet(0, audio_n == 0, audio_seq, ts, audio_ssrc, payload),
                audio_to,
            );
            audio_seq = audio_seq.wrapping_add(1);
            audio_n += 1;
        } else {
            sleep_until(next_video);
            let index = frame_n as usize % clip.frames.len();
            if index == 0 {
                // The loop starts with an IDR: where a room system changes its picture size.
                let limit = asked.load(Ordering::Relaxed);
                let next = spec.clip.for_limit((limit > 0).then_some(limit));
                if !std::ptr::eq(next, clip) {
                    tracing::info!(vtc = %spec.name, limit_bps = limit, size = ?next.size, "TMMBR: picture size changed");
                }
                clip = next;
            }
            let frame = &clip.frames[index];
            let ts = video_ts0.wrapping_add((frame_n * u64::from(VIDEO_CLOCK / FPS)) as u32);
            if clip.stamped {
                spec.log.record(index as u8, now_secs());
            }
            let last = frame.payloads.len().saturating_sub(1);
            for (i, payload) in frame.payloads.iter().enumerate() {
                let packet = rtp_packet(video_pt, i == last, video_seq, ts, video_ssrc, payload);
                let _ = video.send_to(&packet, video_to);
                video_seq = video_seq.wrapping_add(1);
            }
            frame_n += 1;
        }
    }
}

fn video_loop(
    spec: &VtcSpec,
    socket: &UdpSocket,
    mut link: Link,
    (rx, asked): (&Mutex<RxStats>, &AtomicU64),
    stop: &AtomicBool,
) {
    let mut depacketizer = Depacketizer::new();
    let mut decoder = H264Decoder::new().ok();
    let mut last_seq = None;
    let mut last_keyframe_decode = f64::NEG_INFINITY;
    let mut buf = vec![0u8; 65_536];
    // Set while the stream is broken (from the depacketiser's "keyframe needed" to the next
    // keyframe): the VTC keeps asking.
    let mut keyframe_needed = false;
    while !stop.load(Ordering::Relaxed) {
        // Reports, TMMBR and PLI go out even while nothing gets through.
        link.poll(Instant::now(), socket, keyframe_needed);
        let Ok((len, _)) = socket.recv_from(&mut buf) else {
            continue;
        };
        if rtcp::is_rtcp(&buf[..len]) {
            // The gateway asks for a rate its tiles need (TMMBR): the send loop obeys it.
            for event in rtcp::parse_compound(&buf[..len]).unwrap_or_default() {
                if let RtcpEvent::MaxBitrate {
                    bitrate_bps,
                    tmmbr_overhead: Some(_),
                    ..
                } = event
                {
                    asked.store(bitrate_bps, Ordering::Relaxed);
                }
            }
            continue;
        }
        let Some(rtp) = parse_rtp(&buf[..len]) else {
            continue;
        };
        if !link.admit(Instant::now(), len) {
            let mut stats = rx.lock().unwrap_or_else(|e| e.into_inner());
            stats.video_policed = link.policed;
            continue;
        }
        let media_ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        link.received(Instant::now(), media_ssrc, rtp.seq, rtp.timestamp);
        let lost = gap(&mut last_seq, rtp.seq);
        let ready = depacketizer
            .push(rtp.seq, rtp.timestamp, rtp.marker, rtp.payload)
            .unwrap_or_default();
        let mut stats = rx.lock().unwrap_or_else(|e| e.into_inner());
        stats.video_packets += 1;
        stats.video_lost += lost;
        *stats.video_bytes.entry(now_secs() as u64).or_default() += len as u64;
        for item in ready {
            let au = match item {
                Depacketized::KeyframeNeeded => {
                    stats.keyframe_waits += 1;
                    keyframe_needed = true;
                    continue;
                }
                Depacketized::AccessUnit(au) => au,
            };
            let at = now_secs();
            keyframe_needed &= !au.keyframe;
            stats.frames.push((at, au.keyframe));
            if au.keyframe && stats.first_keyframe.is_none() {
                stats.first_keyframe = Some(at);
            }
            // A probe decodes everything; the others decode a keyframe every few seconds (an
            // IDR decodes on its own), enough to prove the stream is valid H.264; behind a
            // constrained line every keyframe, since a class change starts at one and the
            // picture size shows the class.
            let adapting = spec.link.bandwidth_bps.is_some();
            let decode =
                spec.probe || (au.keyframe && (adapting || at - last_keyframe_decode > 3.0));
            let Some(decoder) = decoder.as_mut().filter(|_| decode) else {
                continue;
            };
            if !spec.probe {
                last_keyframe_decode = at;
            }
            // Decoding without the lock: the statistics stay readable meanwhile.
            drop(stats);
            let result = decoder.decode(&au.data);
            stats = rx.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Ok(Some(picture)) => {
                    stats.decoded += 1;
                    stats.picture_size = Some((picture.width(), picture.height()));
                    if let (true, Some(peer)) = (spec.probe, spec.peer.as_ref()) {
                        if let Some(value) = stamp::find(&picture) {
                            stats.stamps_found += 1;
                            if let Some(sent) = peer.sent_at(value) {
                                let latency = (at - sent) * 1000.0;
                                // The loop replays a stamp every few seconds: a read older than
                                // half a loop is a stale picture, not a latency.
                                let loop_ms =
                                    spec.clip.full.frames.len() as f64 * 1000.0 / f64::from(FPS);
                                if (0.0..loop_ms / 2.0).contains(&latency) {
                                    stats.latency_ms.push((at, latency));
                                }
                            }
                        }
                    }
                }
                Ok(None) => {}
                Err(_) => stats.decode_errors += 1,
            }
        }
    }
}

fn audio_loop(socket: &UdpSocket, rx: &Mutex<RxStats>, stop: &AtomicBool) {
    let mut last_seq = None;
    let mut buf = vec![0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let Ok((len, _)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Some(rtp) = parse_rtp(&buf[..len]) else {
            continue;
        };
        if rtp.payload_type != 0 {
            continue; // telephone-event or comfort noise
        }
        let lost = gap(&mut last_seq, rtp.seq);
        let mut stats = rx.lock().unwrap_or_else(|e| e.into_inner());
        stats.audio_packets += 1;
        stats.audio_lost += lost;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_round_trips_and_rtcp_is_skipped() {
        let p = rtp_packet(96, true, 65_535, 123_456, 7, b"abc");
        let h = parse_rtp(&p).unwrap();
        assert!(h.marker);
        assert_eq!(
            (h.payload_type, h.seq, h.timestamp, h.payload),
            (96, 65_535, 123_456, &b"abc"[..])
        );
        // A receiver report (PT 201) multiplexed on the RTP port.
        let rr = [0x80, 201, 0, 1, 0, 0, 0, 7];
        assert!(parse_rtp(&rr).is_none());
        assert!(parse_rtp(&[0x80, 96]).is_none());
    }

    #[test]
    fn a_1080p_receiver_offers_level_4_and_room_for_the_3_mbit_class() {
        let hd = Receives::Hd720.offer(4000, 4002);
        let fhd = Receives::Fhd1080.offer(4000, 4002);
        assert!(hd.contains("profile-level-id=42e01f;") && hd.contains("b=AS:2000\r\n"));
        assert!(fhd.contains("profile-level-id=42e028;") && fhd.contains("b=AS:4000\r\n"));
        assert!(fhd.contains("m=audio 4000 ") && fhd.contains("m=video 4002 "));
        assert_eq!(
            (Receives::Hd720.size(), Receives::Fhd1080.size()),
            ((1280, 720), (1920, 1080))
        );
    }

    #[test]
    fn gaps_count_missing_packets_across_wrap_and_ignore_reordering() {
        let mut last = None;
        assert_eq!(gap(&mut last, 65_534), 0);
        assert_eq!(gap(&mut last, 65_535), 0);
        assert_eq!(gap(&mut last, 2), 2); // 0 and 1 missing
        assert_eq!(gap(&mut last, 1), 0); // late, not lost again
        assert_eq!(gap(&mut last, 3), 0);
    }

    #[test]
    fn on_time_share_counts_stalls() {
        let mut s = RxStats::default();
        let steady: Vec<(f64, bool)> = (0..31).map(|i| (f64::from(i) / 30.0, false)).collect();
        s.frames = steady;
        assert_eq!(s.on_time_share(0.0, 2.0, 0.05), Some(1.0));
        // One 300 ms stall among 30 intervals.
        s.frames.push((1.0 + 0.3, false));
        assert!((s.on_time_share(0.0, 2.0, 0.05).unwrap() - 30.0 / 31.0).abs() < 1e-9);
        assert_eq!(s.frames_between(0.0, 0.5), 15);
    }
}
