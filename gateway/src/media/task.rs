//! The per-call media task: one tokio task per call owning the call's RTP/RTCP sockets (audio,
//! and video when negotiated), driven by the gateway's driver through a [`CallMedia`] handle.
//!
//! What it does:
//! - **Entry queue** (always): plays prompts (a 20 ms tokio interval paces them) and reports
//!   RFC 4733 key presses on the driver's event channel.
//! - **Slates** (between [`CallMedia::show_slate`] and the next join): the call's video shows
//!   the slate studio's shared stream for its slate ([`super::slate`]); under a lobby slate,
//!   generated hold music ([`mixer::hold`]) plays whenever no prompt does, so a caller never
//!   waits in silence. Every change of video source (slate to slate, slate to meeting) waits
//!   for the new source's keyframe, and the RTP timestamps carry on across it.
//! - **Meeting media** (between [`CallMedia::join`] and [`CallMedia::leave`]): decodes the VTC's
//!   audio (jitter buffer, codec, concealment of lost packets, 48 kHz 20 ms frames) and video
//!   (jitter buffer, RFC 6184 depacketiser, decoder thread; see [`super::video`]) into the meeting
//!   engine, and sends the engine's N-1 mix (encoded with the negotiated codec) and layout
//!   (packetised) back as RTP. Prompts win over the mix while one plays.
//! - **RTCP**: SR/RR every [`REPORT_INTERVAL`] with SDES CNAME; PLI/FIR from the VTC become
//!   [`EngineInput::KeyframeRequest`]; until the VTC sends any RTCP the engine is asked for a
//!   keyframe every [`KEYFRAME_NAG_INTERVAL`] (many room systems never ask); generic NACKs are
//!   answered from the sent-packet history; decoder loss asks the VTC for a keyframe (PLI, or FIR
//!   when only FIR was negotiated), at most once per [`KEYFRAME_REQUEST_GAP`].
//! - **Symmetric RTP**: RTP goes to the SDP address until the VTC's first packet arrives, then
//!   to wherever that came from; likewise RTCP.
//!
//! RTCP ports: each stream binds its RTP port and, when it is not 0, the next port for RTCP
//! (the port pool reserves both), and accepts RTCP on either (RFC 5761 demux on the RTP port).
//! Until the VTC's first RTCP shows which one it uses, ours goes to both its RTP port and the
//! port after it; afterwards only to where the VTC's came from.
//!
//! The task is a driver: it reads the clock (tokio's) and passes `now` into the sans-IO pieces
//! ([`JitterBuffer`](super::jitter::JitterBuffer), [`VideoIn`], [`ReceiveStats`],
//! [`PromptPlayer`], [`TelephoneEventDetector`]). It never touches call state: the core decides,
//! through the driver, when a call joins or leaves a meeting.

use std::future::pending;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mixer::codec::audio::{AudioCodec, AudioDecoder, AudioEncoder};
use mixer::codec::h264::EncodedFrame;
use mixer::hold::HoldMusic;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tracing::{debug, trace, warn};

use crate::calls::api::{
    AudioSetup, CallId, MediaControl, MediaEvent, MediaStats, Prompt, PromptCodec, Slate,
    VideoSetup,
};
use crate::metrics::Metrics;

use super::engine::api::{CallFeed, EngineInput, EngineSender, MediaParticipant};
use super::h264_rtp::VideoFormat;
use super::jitter::{JitterBuffer, AUDIO_DELAY};
use super::prompt::PromptPlayer;
use super::rtcp::{self, RtcpEvent, RtcpOut};
use super::rtp::{self, RtpHeader, RtpPacket};
use super::rtp_stats::{ReceiveStats, SendStats};
use super::slate::{SlateInput, SlateSender};
use super::telephone_event::TelephoneEventDetector;
use super::video::{DecoderReport, DecoderThread, VideoAction, VideoIn, VideoInOutput, VideoOut};

mod slates;
use slates::{recv_slate, VideoSource, Watching};

/// Silence from the far end (no RTP and no RTCP on any stream) after which the call is reported
/// dead: long enough for holds (RTCP keeps flowing) and silence suppression (comfort noise).
pub const MEDIA_TIMEOUT: Duration = Duration::from_secs(60);
/// Packet time of the prompts and of the mix.
pub const PACKET_INTERVAL: Duration = Duration::from_millis(20);
/// How often SR/RR go out on each stream (RFC 3550 §6.2 suggests 5 s as the minimum).
pub const REPORT_INTERVAL: Duration = Duration::from_secs(5);
/// How often the engine is asked for a keyframe for a VTC that has sent no RTCP.
pub const KEYFRAME_NAG_INTERVAL: Duration = Duration::from_secs(3);
/// Shortest gap between two keyframe requests we send to the VTC.
pub const KEYFRAME_REQUEST_GAP: Duration = Duration::from_millis(500);
/// A pause in our outgoing audio longer than this starts a new talk spurt (marker bit,
/// timestamp re-derived from the clock); shorter ones are read as scheduling jitter.
const TALK_SPURT_GAP: Duration = Duration::from_millis(200);
/// Lost audio packets concealed at most in a row; a longer gap is left silent.
const MAX_CONCEALED_FRAMES: u64 = 5;
/// Audio packets the jitter buffer holds at most (a second of 20 ms packets).
const AUDIO_JITTER_CAPACITY: usize = 50;
/// 48 kHz samples per 20 ms frame, what the engine takes.
const ENGINE_FRAME: usize = 960;

/// Largest datagram read (a video packet is at most ~1500 bytes); longer ones are truncated by
/// the socket and then fail to parse or are read as far as needed.
const RECV_BUFFER_LEN: usize = 2048;

/// RTCP packet types 192-223 read as RTP payload types 64-95 (RFC 5761 §4).
const RTCP_PAYLOAD_TYPES: std::ops::RangeInclusive<u8> = 64..=95;

/// Where a call's media task counts what it does: the call's own counters (admin view) and,
/// when given, the gateway-wide Prometheus counters.
#[derive(Debug, Clone, Default)]
pub struct Meters {
    /// The call's counters.
    pub stats: Arc<MediaStats>,
    /// Gateway-wide metrics.
    pub metrics: Option<Metrics>,
}

impl Meters {
    fn count(&self, direction: &str) {
        let counter = match direction {
            "rx" => &self.stats.audio_rx_packets,
            _ => &self.stats.audio_tx_packets,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.rtp_packets_total
                .with_label_values(&[direction, "audio"])
                .inc();
        }
    }

    fn count_video(&self, direction: &str, packets: u64) {
        if let Some(m) = &self.metrics {
            m.rtp_packets_total
                .with_label_values(&[direction, "video"])
                .inc_by(packets);
        }
    }

    fn video_frame_sent(&self) {
        self.stats.video_tx_frames.fetch_add(1, Ordering::Relaxed);
    }

    fn lost(&self, packets: u64) {
        if packets > 0 {
            if let Some(m) = &self.metrics {
                m.rtp_lost_total.inc_by(packets);
            }
        }
    }

    fn keyframe_requested(&self, by: &str) {
        if let Some(m) = &self.metrics {
            m.keyframes_requested_total.with_label_values(&[by]).inc();
        }
    }
}

/// What the handle asks of the task.
#[derive(Debug)]
enum Command {
    Play(Prompt),
    Join {
        engine: EngineSender,
        participant: MediaParticipant,
        display_name: String,
        video_format: Option<VideoFormat>,
    },
    Leave,
    Control(MediaControl),
    ShowSlate {
        studio: SlateSender,
        slate: Slate,
    },
}

/// The handle of a running call media task. Dropping it (or [`stop`](Self::stop)) ends the task
/// (leaving its meeting, if joined) and closes its sockets.
#[derive(Debug)]
pub struct CallMedia {
    call: CallId,
    local_addr: SocketAddr,
    video_addr: Option<SocketAddr>,
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

impl CallMedia {
    /// Binds `bind_ip:audio.local_port` and, with video, `bind_ip:video.local_port` (UDP; each
    /// also the next port for RTCP when not 0), starts the task, returns the handle.
    ///
    /// Port 0 binds an ephemeral port (see [`local_addr`](Self::local_addr)) with RTCP muxed on
    /// it only. Each RTP stream sent gets a random SSRC, initial sequence number and initial
    /// timestamp (RFC 3550 §5.1).
    ///
    /// # Errors
    /// The bind error, if an RTP port cannot be bound (an RTCP port that cannot be bound only
    /// leaves that stream rtcp-mux only).
    pub async fn start(
        call: CallId,
        bind_ip: IpAddr,
        audio: AudioSetup,
        video: Option<VideoSetup>,
        events: mpsc::UnboundedSender<(CallId, MediaEvent)>,
        meters: Meters,
    ) -> io::Result<CallMedia> {
        let audio_port = RtpPort::bind(
            call,
            bind_ip,
            audio.local_port,
            audio.remote,
            audio.rtcp_mux,
        )
        .await?;
        let local_addr = audio_port.rtp.local_addr()?;
        let video_port = match &video {
            Some(v) => {
                Some(RtpPort::bind(call, bind_ip, v.local_port, v.remote, v.rtcp_mux).await?)
            }
            None => None,
        };
        let video_addr = match &video_port {
            Some(p) => Some(p.rtp.local_addr()?),
            None => None,
        };
        let (commands, command_rx) = mpsc::unbounded_channel();
        let audio_ssrc = rand::random();
        let player = PromptPlayer::new(
            audio_ssrc,
            rand::random(),
            rand::random(),
            audio.payload_type,
            audio.codec,
        );
        let codec = audio_codec(audio.codec);
        let now = tokio::time::Instant::now().into_std();
        let (decoder_tx, decoder_rx) = mpsc::unbounded_channel();
        debug!(%call, %local_addr, ?video_addr, remote = %audio.remote, "call media started");
        let media = MediaLoop {
            call,
            audio_port,
            video_port,
            telephone_event_pt: audio.telephone_event_pt,
            audio_payload_type: audio.payload_type,
            player,
            detector: TelephoneEventDetector::new(),
            events,
            audio_in: AudioIn::new(codec),
            audio_out: AudioOut::new(now, audio_ssrc, audio.payload_type, codec),
            video_in: video.as_ref().map(VideoIn::new),
            video_out: video
                .as_ref()
                .map(|v| VideoOut::new(v, rand::random(), rand::random(), rand::random())),
            video,
            decoder: None,
            decoder_reports_tx: decoder_tx,
            decoder_reports: decoder_rx,
            joined: None,
            slate: None,
            hold_music: HoldMusic::new(),
            slates_shown: 0,
            video_source: None,
            sent_source: None,
            peer_sent_rtcp: false,
            last_keyframe_request: None,
            keyframe_request_pending: false,
            fir_sequence: 0,
            next_report: now + REPORT_INTERVAL,
            last_heard: now,
            inactive_reported: false,
            cname: format!("{call}@tessera"),
            meters,
        };
        let task = tokio::spawn(media.run(command_rx));
        Ok(CallMedia {
            call,
            local_addr,
            video_addr,
            commands,
            task,
        })
    }

    /// The address the audio RTP socket is bound to.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address the video RTP socket is bound to, with video.
    #[must_use]
    pub fn video_addr(&self) -> Option<SocketAddr> {
        self.video_addr
    }

    /// Plays a prompt, replacing any prompt still playing. Does nothing if the task has ended.
    pub fn play(&self, prompt: Prompt) {
        self.send(Command::Play(prompt));
    }

    /// Joins a meeting's media: sends [`EngineInput::Join`] with a fresh feed channel the task
    /// reads, then decoded audio and video flow to `engine` as `participant` until
    /// [`leave`](Self::leave) (or the end of the task). Joining again leaves first.
    pub fn join(
        &self,
        engine: EngineSender,
        participant: MediaParticipant,
        display_name: String,
        video_format: Option<VideoFormat>,
    ) {
        self.send(Command::Join {
            engine,
            participant,
            display_name,
            video_format,
        });
    }

    /// Leaves the meeting's media (sends [`EngineInput::Leave`]); prompts still play.
    pub fn leave(&self) {
        self.send(Command::Leave);
    }

    /// Shows the call `slate` from `studio` (replacing any slate) until it joins a meeting; a
    /// lobby slate also brings hold music after the prompt. A call without video still gets
    /// the hold music.
    pub fn show_slate(&self, studio: SlateSender, slate: Slate) {
        self.send(Command::ShowSlate { studio, slate });
    }

    /// Applies an in-call control: forwarded to the meeting engine as [`EngineInput::Mute`] or
    /// [`EngineInput::SetLayout`] for this call's participant; ignored while not joined.
    pub fn control(&self, control: MediaControl) {
        self.send(Command::Control(control));
    }

    fn send(&self, command: Command) {
        if self.commands.send(command).is_err() {
            debug!(call = %self.call, "media task already ended");
        }
    }

    /// Ends the task and closes the sockets (the same as dropping the handle). The sockets are
    /// closed when the runtime next polls the aborted task, shortly after this returns.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for CallMedia {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The mixer codec behind a negotiated prompt codec.
fn audio_codec(codec: PromptCodec) -> AudioCodec {
    super::prompt::mixer_codec(codec)
}

/// The wall clock in NTP format, for SRs.
// The media task is a driver: reading the wall clock for RTCP is its job.
#[allow(clippy::disallowed_methods)]
fn ntp_now() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rtcp::ntp_from_unix(since_epoch)
}

/// One stream's sockets and where its packets go.
#[derive(Debug)]
struct RtpPort {
    call: CallId,
    rtp: UdpSocket,
    /// The RTCP socket on the next port (absent for ephemeral ports or when it was taken).
    rtcp: Option<UdpSocket>,
    /// Where RTP goes: the SDP address until the first packet arrives, then its source.
    remote: SocketAddr,
    latched: bool,
    /// Where the VTC's RTCP came from, and whether it came on the RTP socket (rtcp-mux).
    rtcp_remote: Option<(SocketAddr, bool)>,
    /// rtcp-mux was agreed: RTCP goes to the RTP port only (RFC 5761 §5.1.1).
    rtcp_mux: bool,
}

impl RtpPort {
    async fn bind(
        call: CallId,
        ip: IpAddr,
        port: u16,
        remote: SocketAddr,
        rtcp_mux: bool,
    ) -> io::Result<RtpPort> {
        let rtp = UdpSocket::bind(SocketAddr::new(ip, port)).await?;
        let rtcp = match port.checked_add(1) {
            Some(rtcp_port) if port != 0 => {
                match UdpSocket::bind(SocketAddr::new(ip, rtcp_port)).await {
                    Ok(socket) => Some(socket),
                    Err(e) => {
                        warn!(%call, port = rtcp_port, error = %e, "RTCP port not bound; rtcp-mux only");
                        None
                    }
                }
            }
            _ => None,
        };
        Ok(RtpPort {
            call,
            rtp,
            rtcp,
            remote,
            latched: false,
            rtcp_remote: None,
            rtcp_mux,
        })
    }

    /// Symmetric RTP: the first packet's source becomes the destination.
    fn latch(&mut self, from: SocketAddr) {
        if !self.latched {
            self.latched = true;
            if from != self.remote {
                debug!(call = %self.call, sdp = %self.remote, actual = %from, "symmetric RTP: sending to the source address");
                self.remote = from;
            }
        }
    }

    fn latch_rtcp(&mut self, from: SocketAddr, muxed: bool) {
        if self.rtcp_remote.is_none() {
            self.rtcp_remote = Some((from, muxed));
        }
    }

    async fn send_rtp(&self, packet: &[u8]) -> bool {
        match self.rtp.send_to(packet, self.remote).await {
            Ok(_) => true,
            Err(e) => {
                debug!(call = %self.call, remote = %self.remote, error = %e, "RTP send error");
                false
            }
        }
    }

    async fn send_rtcp(&self, packet: &[u8]) {
        let mut targets: Vec<(&UdpSocket, SocketAddr)> = Vec::with_capacity(2);
        match (self.rtcp_remote, &self.rtcp) {
            (Some((to, true)), _) | (Some((to, false)), None) => targets.push((&self.rtp, to)),
            (Some((to, false)), Some(socket)) => targets.push((socket, to)),
            (None, _) if self.rtcp_mux => targets.push((&self.rtp, self.remote)),
            (None, rtcp_socket) => {
                // Without rtcp-mux, which port the VTC reads RTCP on is unknown until it sends
                // some (RFC 3605 `a=rtcp` or port + 1; some send on either): try both.
                targets.push((&self.rtp, self.remote));
                if let (Some(socket), Some(port)) = (rtcp_socket, self.remote.port().checked_add(1))
                {
                    targets.push((socket, SocketAddr::new(self.remote.ip(), port)));
                }
            }
        }
        for (socket, to) in targets {
            if let Err(e) = socket.send_to(packet, to).await {
                debug!(call = %self.call, %to, error = %e, "RTCP send error");
            }
        }
    }
}

/// Receives on `socket`, or never when there is none.
async fn recv_opt(socket: Option<&UdpSocket>, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    match socket {
        Some(s) => s.recv_from(buf).await,
        None => pending().await,
    }
}

/// The next frame of the mix, or never while not joined.
async fn recv_feed(joined: &mut Option<Joined>) -> Option<CallFeed> {
    match joined {
        Some(j) => j.feed.recv().await,
        None => pending().await,
    }
}

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => pending().await,
    }
}

/// The call's membership of a meeting's media. Dropping it leaves.
#[derive(Debug)]
struct Joined {
    engine: EngineSender,
    participant: MediaParticipant,
    feed: mpsc::UnboundedReceiver<CallFeed>,
    next_keyframe_nag: Instant,
}

impl Joined {
    /// Sends to the engine; `false` if it has gone.
    fn send(&self, input: EngineInput) -> bool {
        self.engine.send(input).is_ok()
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        // An engine that has already ended needs no goodbye.
        let _ = self.engine.send(EngineInput::Leave {
            participant: self.participant,
        });
    }
}

/// One received audio packet waiting in the jitter buffer.
#[derive(Debug)]
struct AudioPacket {
    payload: Vec<u8>,
}

/// The receive side of the call's audio.
#[derive(Debug)]
struct AudioIn {
    codec: AudioCodec,
    stats: ReceiveStats,
    jitter: JitterBuffer<AudioPacket>,
    /// Created on the first packet decoded while joined.
    decoder: Option<AudioDecoder>,
    /// Decoded 48 kHz samples not yet sent (packets need not be 20 ms).
    pcm: Vec<i16>,
}

impl AudioIn {
    fn new(codec: AudioCodec) -> Self {
        AudioIn {
            codec,
            stats: ReceiveStats::new(codec.rtp_clock_rate()),
            jitter: JitterBuffer::new(AUDIO_DELAY, AUDIO_JITTER_CAPACITY),
            decoder: None,
            pcm: Vec::new(),
        }
    }

    /// Decodes what the jitter buffer releases at `now` (concealing gaps) and returns the
    /// whole 20 ms frames ready, and the packets lost.
    fn drain(&mut self, now: Instant) -> (Vec<Vec<i16>>, u64) {
        let mut lost = 0;
        while let Some(released) = self.jitter.pop(now) {
            lost += released.lost_before;
            let decoder = match &mut self.decoder {
                Some(d) => d,
                None => match AudioDecoder::new(self.codec) {
                    Ok(d) => self.decoder.insert(d),
                    Err(e) => {
                        warn!(codec = ?self.codec, error = %e, "audio decoder unavailable");
                        return (Vec::new(), lost);
                    }
                },
            };
            let payload = &released.item.payload;
            let concealed = released.lost_before.min(MAX_CONCEALED_FRAMES);
            for i in 0..concealed {
                // The packet right before this one can come back from its FEC (Opus).
                let frame = if i + 1 == concealed {
                    decoder.recover_from_next(payload)
                } else {
                    decoder.conceal()
                };
                if let Ok(samples) = frame {
                    self.pcm.extend_from_slice(&samples);
                }
            }
            match decoder.decode(payload) {
                Ok(samples) => self.pcm.extend_from_slice(&samples),
                Err(e) => {
                    trace!(error = %e, "audio decode failed; concealed");
                    if let Ok(samples) = decoder.conceal() {
                        self.pcm.extend_from_slice(&samples);
                    }
                }
            }
        }
        let whole = self.pcm.len() / ENGINE_FRAME * ENGINE_FRAME;
        let frames = self.pcm[..whole]
            .chunks_exact(ENGINE_FRAME)
            .map(<[i16]>::to_vec)
            .collect();
        self.pcm.drain(..whole);
        (frames, lost)
    }

    /// Forgets buffered audio (on leaving: the next join starts fresh).
    fn reset(&mut self) {
        self.jitter = JitterBuffer::new(AUDIO_DELAY, AUDIO_JITTER_CAPACITY);
        self.pcm.clear();
    }
}

/// The send side of the call's audio: one RTP stream carrying prompts and the mix.
#[derive(Debug)]
struct AudioOut {
    ssrc: u32,
    payload_type: u8,
    codec: AudioCodec,
    next_sequence: u16,
    /// The clock the timestamps follow across silences: an instant and its RTP timestamp.
    origin: (Instant, u32),
    /// The last packet's timestamp and when it went.
    last: Option<(u32, Instant)>,
    encoder: Option<AudioEncoder>,
    stats: SendStats,
}

impl AudioOut {
    fn new(now: Instant, ssrc: u32, payload_type: u8, codec: AudioCodec) -> Self {
        AudioOut {
            ssrc,
            payload_type,
            codec,
            next_sequence: rand::random(),
            origin: (now, rand::random()),
            last: None,
            encoder: None,
            stats: SendStats::default(),
        }
    }

    /// The header of the next packet sent at `now`. `continues` says the caller knows it
    /// continues a talk spurt (a prompt's next packet); otherwise a pause longer than
    /// [`TALK_SPURT_GAP`] starts a new one, with the marker bit and a timestamp from the clock.
    fn next_header(&mut self, now: Instant, continues: bool) -> RtpHeader {
        let ticks = self.codec.rtp_ticks_per_frame();
        let continuous = self
            .last
            .is_some_and(|(_, at)| continues || now.saturating_duration_since(at) < TALK_SPURT_GAP);
        let elapsed = now.saturating_duration_since(self.origin.0).as_secs_f64();
        let clock = self
            .origin
            .1
            .wrapping_add((elapsed * f64::from(self.codec.rtp_clock_rate())) as u32);
        let timestamp = match self.last {
            Some((last, _)) => {
                let next = last.wrapping_add(ticks);
                // Never step back, even if the mix ran ahead of the clock.
                if continuous || (clock.wrapping_sub(next) as i32) < 0 {
                    next
                } else {
                    clock
                }
            }
            None => clock,
        };
        let header = RtpHeader {
            marker: !continuous,
            payload_type: self.payload_type,
            sequence: self.next_sequence,
            timestamp,
            ssrc: self.ssrc,
        };
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.last = Some((timestamp, now));
        header
    }
}

/// Which stream an RTCP packet arrived for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Audio,
    Video,
}

/// The state the task owns.
struct MediaLoop {
    call: CallId,
    audio_port: RtpPort,
    video_port: Option<RtpPort>,
    telephone_event_pt: Option<u8>,
    audio_payload_type: u8,
    player: PromptPlayer,
    detector: TelephoneEventDetector,
    events: mpsc::UnboundedSender<(CallId, MediaEvent)>,
    audio_in: AudioIn,
    audio_out: AudioOut,
    video: Option<VideoSetup>,
    video_in: Option<VideoIn>,
    video_out: Option<VideoOut>,
    /// Started on the first access unit received while joined.
    decoder: Option<DecoderThread>,
    decoder_reports_tx: mpsc::UnboundedSender<DecoderReport>,
    decoder_reports: mpsc::UnboundedReceiver<DecoderReport>,
    joined: Option<Joined>,
    /// The slate shown while not in a meeting.
    slate: Option<Watching>,
    hold_music: HoldMusic,
    /// Slates shown so far (numbers each slate's video source).
    slates_shown: u64,
    /// The source the call's video should come from, and the one its last sent picture came
    /// from: a picture from a new source is sent only from its keyframe on.
    video_source: Option<VideoSource>,
    sent_source: Option<VideoSource>,
    /// The VTC has sent RTCP (so it can ask for keyframes itself).
    peer_sent_rtcp: bool,
    last_keyframe_request: Option<Instant>,
    /// A keyframe request waits for [`KEYFRAME_REQUEST_GAP`] to pass.
    keyframe_request_pending: bool,
    fir_sequence: u8,
    next_report: Instant,
    /// When anything (RTP or RTCP, either stream) last arrived from the far end.
    last_heard: Instant,
    /// [`MediaEvent::Inactive`] was reported (once per call).
    inactive_reported: bool,
    cname: String,
    meters: Meters,
}

impl MediaLoop {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut ticks = tokio::time::interval(PACKET_INTERVAL);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut audio_buf = vec![0u8; RECV_BUFFER_LEN];
        let mut audio_rtcp_buf = vec![0u8; RECV_BUFFER_LEN];
        let mut video_buf = vec![0u8; RECV_BUFFER_LEN];
        let mut video_rtcp_buf = vec![0u8; RECV_BUFFER_LEN];
        loop {
            let wake = self.poll_timeout();
            let video_rtp = self.video_port.as_ref().map(|p| &p.rtp);
            let video_rtcp = self.video_port.as_ref().and_then(|p| p.rtcp.as_ref());
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.command(command).await,
                    None => break,
                },
                _ = ticks.tick() => self.tick().await,
                received = self.audio_port.rtp.recv_from(&mut audio_buf) => match received {
                    Ok((len, from)) => {
                        let datagram = audio_buf.get(..len).unwrap_or_default();
                        self.audio_datagram(now(), datagram, from).await;
                    }
                    // E.g. ICMP port unreachable reported on some platforms; keep going.
                    Err(e) => debug!(call = %self.call, error = %e, "RTP receive error"),
                },
                received = recv_opt(self.audio_port.rtcp.as_ref(), &mut audio_rtcp_buf) => {
                    if let Ok((len, from)) = received {
                        let datagram = audio_rtcp_buf.get(..len).unwrap_or_default();
                        self.rtcp_datagram(now(), Stream::Audio, datagram, from, false).await;
                    }
                }
                received = recv_opt(video_rtp, &mut video_buf) => {
                    if let Ok((len, from)) = received {
                        let datagram = video_buf.get(..len).unwrap_or_default();
                        self.video_datagram(now(), datagram, from).await;
                    }
                }
                received = recv_opt(video_rtcp, &mut video_rtcp_buf) => {
                    if let Ok((len, from)) = received {
                        let datagram = video_rtcp_buf.get(..len).unwrap_or_default();
                        self.rtcp_datagram(now(), Stream::Video, datagram, from, false).await;
                    }
                }
                feed = recv_slate(&mut self.slate) => match feed {
                    Some(CallFeed::Video { frame, timestamp }) => {
                        let source = self.slate.as_ref().map(|w| w.source);
                        if let Some(source) = source.filter(|s| Some(*s) == self.video_source) {
                            self.send_video(now(), source, &frame, timestamp).await;
                        }
                    }
                    Some(CallFeed::Audio(_) | CallFeed::Shown(_)) => {}
                    None => {
                        debug!(call = %self.call, "slate studio ended the feed");
                        if let Some(w) = &mut self.slate {
                            w.feed = None;
                        }
                    }
                },
                feed = recv_feed(&mut self.joined) => match feed {
                    Some(feed) => self.feed(now(), feed).await,
                    None => {
                        debug!(call = %self.call, "meeting engine ended the feed");
                        self.leave();
                    }
                },
                Some(report) = self.decoder_reports.recv() => match report {
                    DecoderReport::Failed => {
                        if let Some(v) = &mut self.video_in {
                            v.wait_for_keyframe();
                        }
                        self.request_keyframe_from_peer(now()).await;
                    }
                },
                () = sleep_until(wake) => self.timeout(now()).await,
            }
        }
        debug!(call = %self.call, "call media ended");
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Play(prompt) => {
                if let Err(e) = self.player.play(prompt) {
                    warn!(call = %self.call, ?prompt, error = %e, "prompt unusable");
                }
            }
            Command::Join {
                engine,
                participant,
                display_name,
                video_format,
            } => {
                self.join(now(), engine, participant, display_name, video_format)
                    .await
            }
            Command::Leave => self.leave(),
            Command::Control(control) => {
                let Some(participant) = self.participant() else {
                    debug!(call = %self.call, ?control, "not in a meeting; control ignored");
                    return;
                };
                let input = match control {
                    MediaControl::Mute(muted) => EngineInput::Mute { participant, muted },
                    MediaControl::Layout(mode) => EngineInput::SetLayout { participant, mode },
                };
                self.send_to_engine(input);
            }
            Command::ShowSlate { studio, slate } => self.show_slate(studio, slate),
        }
    }

    async fn join(
        &mut self,
        now: Instant,
        engine: EngineSender,
        participant: MediaParticipant,
        display_name: String,
        video_format: Option<VideoFormat>,
    ) {
        self.leave();
        let (feed_tx, feed) = mpsc::unbounded_channel();
        let join = EngineInput::Join {
            participant,
            display_name,
            feed: Some(feed_tx),
            video_format,
        };
        if engine.send(join).is_err() {
            warn!(call = %self.call, participant, "meeting engine gone; not joined");
            return;
        }
        debug!(call = %self.call, participant, "joined meeting media");
        // The meeting replaces the slate (from the layout's first keyframe on) and the music.
        self.slate = None;
        self.video_source = Some(VideoSource::Meeting);
        // The decoder thread starts with the first access unit (`decode`): many room systems
        // join receive-only or send video late, and a thread per call at join made call setup
        // pay for threads that never decoded anything.
        if let Some(decoder) = &self.decoder {
            decoder.set_target(Some((engine.clone(), participant)));
        }
        self.joined = Some(Joined {
            engine,
            participant,
            feed,
            next_keyframe_nag: now + KEYFRAME_NAG_INTERVAL,
        });
        if let Some(v) = &mut self.video_in {
            // The engine starts out showing a newcomer.
            let _ = v.set_shown(true);
            v.wait_for_keyframe();
            // The VTC's picture should show at once, not at its next periodic IDR.
            self.request_keyframe_from_peer(now).await;
        }
    }

    /// Leaves the meeting's media, if joined (dropping [`Joined`] sends the `Leave`).
    fn leave(&mut self) {
        if self.joined.take().is_some() {
            debug!(call = %self.call, "left meeting media");
            if let Some(decoder) = &self.decoder {
                decoder.set_target(None);
            }
            self.audio_in.reset();
        }
    }

    /// Sends to the engine, leaving if it has gone.
    fn send_to_engine(&mut self, input: EngineInput) {
        if let Some(joined) = &self.joined {
            if !joined.send(input) {
                debug!(call = %self.call, "meeting engine gone");
                self.leave();
            }
        }
    }

    fn participant(&self) -> Option<MediaParticipant> {
        self.joined.as_ref().map(|j| j.participant)
    }

    /// When [`timeout`](Self::timeout) has work (the 20 ms tick covers the rest).
    fn poll_timeout(&self) -> Option<Instant> {
        let pending = self
            .keyframe_request_pending
            .then(|| self.last_keyframe_request.map(|t| t + KEYFRAME_REQUEST_GAP))
            .flatten();
        [
            self.audio_in.jitter.poll_timeout(),
            self.video_in.as_ref().and_then(VideoIn::poll_timeout),
            pending,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    async fn timeout(&mut self, now: Instant) {
        self.drain_audio(now);
        if let Some(v) = &mut self.video_in {
            let output = v.handle_timeout(now);
            self.video_output(now, output).await;
        }
        if self.keyframe_request_pending {
            self.request_keyframe_from_peer(now).await;
        }
    }

    /// One 20 ms tick: the next prompt packet, and the periodic RTCP and keyframe work.
    async fn tick(&mut self) {
        let now = now();
        if let Some(frame) = self.player.next_frame() {
            self.send_pcm(now, &frame.pcm, frame.continues).await;
        } else if self.joined.is_none() && self.slate.as_ref().is_some_and(|w| w.slate.hold_music())
        {
            let mut pcm = vec![0; ENGINE_FRAME];
            self.hold_music.fill(&mut pcm);
            self.send_pcm(now, &pcm, false).await;
        }
        if now >= self.next_report {
            self.next_report = now + REPORT_INTERVAL;
            self.send_reports(now).await;
        }
        if !self.inactive_reported
            && now.saturating_duration_since(self.last_heard) >= MEDIA_TIMEOUT
        {
            // A far end that crashed or lost its network sends nothing, not even RTCP (which
            // continues on hold): tell the core, which ends the call and frees its licence.
            self.inactive_reported = true;
            let _ = self.events.send((self.call, MediaEvent::Inactive));
        }
        let nag = match &mut self.joined {
            Some(j)
                if !self.peer_sent_rtcp && self.video.is_some() && now >= j.next_keyframe_nag =>
            {
                j.next_keyframe_nag = now + KEYFRAME_NAG_INTERVAL;
                Some(j.participant)
            }
            _ => None,
        };
        if let Some(participant) = nag {
            self.send_to_engine(EngineInput::KeyframeRequest { participant });
        }
    }

    /// Sends one audio payload on the call's audio stream.
    async fn send_audio(&mut self, now: Instant, payload: &[u8], continues: bool) {
        let header = self.audio_out.next_header(now, continues);
        let packet = rtp::write(&header, payload);
        if self.audio_port.send_rtp(&packet).await {
            self.audio_out
                .stats
                .on_packet(now, header.timestamp, payload.len());
            self.meters.count("tx");
        }
    }

    /// Encodes one 20 ms 48 kHz frame (a prompt's or the mix's) in the negotiated codec and
    /// sends it on the call's audio stream. One encoder serves both, so codec state (G.722's
    /// ADPCM predictors, Opus's) stays continuous across prompt and mix.
    async fn send_pcm(&mut self, now: Instant, pcm: &[i16], continues: bool) {
        let encoder = match &mut self.audio_out.encoder {
            Some(e) => e,
            None => match AudioEncoder::new(self.audio_out.codec) {
                Ok(e) => self.audio_out.encoder.insert(e),
                Err(e) => {
                    warn!(call = %self.call, error = %e, "audio encoder unavailable");
                    return;
                }
            },
        };
        match encoder.encode(pcm) {
            Ok(payload) => self.send_audio(now, &payload, continues).await,
            Err(e) => debug!(call = %self.call, error = %e, "audio frame not encoded"),
        }
    }

    async fn feed(&mut self, now: Instant, feed: CallFeed) {
        match feed {
            CallFeed::Audio(pcm) => {
                if self.player.is_playing() {
                    return;
                }
                self.send_pcm(now, &pcm, false).await;
            }
            CallFeed::Shown(shown) => {
                let Some(video_in) = &mut self.video_in else {
                    return;
                };
                debug!(call = %self.call, shown, "picture shown in the meeting's layouts");
                let output = video_in.set_shown(shown);
                self.video_output(now, output).await;
            }
            CallFeed::Video { frame, timestamp } => {
                self.send_video(now, VideoSource::Meeting, &frame, timestamp)
                    .await;
            }
        }
    }

    /// One datagram on the audio RTP socket: RTP, or RTCP muxed with it.
    async fn audio_datagram(&mut self, now: Instant, datagram: &[u8], from: SocketAddr) {
        self.last_heard = now;
        if rtcp::is_rtcp(datagram) {
            self.rtcp_datagram(now, Stream::Audio, datagram, from, true)
                .await;
            return;
        }
        let packet = match rtp::parse(datagram) {
            Ok(p) if !RTCP_PAYLOAD_TYPES.contains(&p.header.payload_type) => p,
            Ok(_) => return,
            Err(e) => {
                trace!(call = %self.call, %from, error = %e, "not RTP, ignored");
                return;
            }
        };
        self.meters.count("rx");
        self.audio_port.latch(from);
        if Some(packet.header.payload_type) == self.telephone_event_pt {
            self.telephone_event(&packet);
        } else if packet.header.payload_type == self.audio_payload_type {
            let h = packet.header;
            self.audio_in
                .stats
                .on_packet(now, h.ssrc, h.sequence, h.timestamp);
            if self.joined.is_some() {
                let item = AudioPacket {
                    payload: packet.payload.to_vec(),
                };
                let _ = self.audio_in.jitter.push(now, h.sequence, item);
                self.drain_audio(now);
            }
        }
    }

    /// Sends the whole audio frames the jitter buffer and decoder have ready.
    fn drain_audio(&mut self, now: Instant) {
        let (frames, lost) = self.audio_in.drain(now);
        self.meters.lost(lost);
        let Some(participant) = self.participant() else {
            return;
        };
        for pcm in frames {
            self.send_to_engine(EngineInput::Audio { participant, pcm });
        }
    }

    fn telephone_event(&mut self, packet: &RtpPacket<'_>) {
        match self.detector.handle_packet(&packet.header, packet.payload) {
            Ok(Some(digit)) => {
                trace!(call = %self.call, "DTMF key press");
                // A closed channel means the driver is shutting down; nothing to do.
                let _ = self.events.send((self.call, MediaEvent::Dtmf(digit)));
            }
            Ok(None) => {}
            Err(e) => trace!(call = %self.call, error = %e, "bad telephone-event"),
        }
    }

    /// One datagram on the video RTP socket: RTP, or RTCP muxed with it.
    async fn video_datagram(&mut self, now: Instant, datagram: &[u8], from: SocketAddr) {
        self.last_heard = now;
        if rtcp::is_rtcp(datagram) {
            self.rtcp_datagram(now, Stream::Video, datagram, from, true)
                .await;
            return;
        }
        let (Some(setup), Some(port), Some(video_in)) =
            (&self.video, &mut self.video_port, &mut self.video_in)
        else {
            return;
        };
        let packet = match rtp::parse(datagram) {
            Ok(p) if p.header.payload_type == setup.payload_type => p,
            Ok(_) => return,
            Err(e) => {
                trace!(call = %self.call, %from, error = %e, "not RTP, ignored");
                return;
            }
        };
        self.meters.count_video("rx", 1);
        port.latch(from);
        let output = video_in.receive(now, &packet.header, packet.payload);
        self.video_output(now, output).await;
    }

    /// Acts on what the video receive side produced.
    async fn video_output(&mut self, now: Instant, output: VideoInOutput) {
        self.meters.lost(output.lost);
        // Counted as received whether or not it is decoded (a picture no layout shows is not).
        self.meters
            .stats
            .video_rx_frames
            .fetch_add(output.frames, std::sync::atomic::Ordering::Relaxed);
        if self.joined.is_none() {
            // Nobody watches: nothing to decode or repair.
            return;
        }
        for action in output.actions {
            match action {
                VideoAction::RequestKeyframe => self.request_keyframe_from_peer(now).await,
                VideoAction::Nack(lost) => self.send_nack(lost).await,
            }
        }
        for au in output.access_units {
            let queued = self.decoder().is_some_and(|d| d.decode(au));
            if !queued {
                // The decoder fell behind: what follows depends on what was dropped.
                if let Some(v) = &mut self.video_in {
                    v.wait_for_keyframe();
                }
                self.request_keyframe_from_peer(now).await;
            }
        }
    }

    /// The decoder thread, started (aimed at the meeting joined) on first use; `None` if the
    /// thread cannot be started.
    fn decoder(&mut self) -> Option<&DecoderThread> {
        if self.decoder.is_none() {
            match DecoderThread::start(
                format!("decode-{}", self.call),
                self.decoder_reports_tx.clone(),
            ) {
                Ok(thread) => {
                    let joined = self.joined.as_ref();
                    thread.set_target(joined.map(|j| (j.engine.clone(), j.participant)));
                    self.decoder = Some(thread);
                }
                Err(e) => warn!(call = %self.call, error = %e, "video decoder thread not started"),
            }
        }
        self.decoder.as_ref()
    }

    /// Asks the VTC for a keyframe (PLI, or FIR when it only takes FIR), at most once per
    /// [`KEYFRAME_REQUEST_GAP`]; a request inside the gap is sent when it ends.
    async fn request_keyframe_from_peer(&mut self, now: Instant) {
        let (Some(setup), Some(video_in), Some(out)) =
            (&self.video, &self.video_in, &self.video_out)
        else {
            return;
        };
        if self
            .last_keyframe_request
            .is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_REQUEST_GAP)
        {
            self.keyframe_request_pending = true;
            return;
        }
        self.keyframe_request_pending = false;
        self.last_keyframe_request = Some(now);
        let media_ssrc = video_in.stats.ssrc().unwrap_or(0);
        let request = if setup.fir && !setup.pli {
            self.fir_sequence = self.fir_sequence.wrapping_add(1);
            RtcpOut::Fir {
                sender_ssrc: out.ssrc,
                media_ssrc,
                sequence: self.fir_sequence,
            }
        } else {
            RtcpOut::Pli {
                sender_ssrc: out.ssrc,
                media_ssrc,
            }
        };
        debug!(call = %self.call, ?request, "asking the VTC for a keyframe");
        self.meters.keyframe_requested("gateway");
        self.send_feedback(request).await;
    }

    async fn send_nack(&mut self, lost: Vec<u16>) {
        let (Some(video_in), Some(out)) = (&self.video_in, &self.video_out) else {
            return;
        };
        let nack = RtcpOut::Nack {
            sender_ssrc: out.ssrc,
            media_ssrc: video_in.stats.ssrc().unwrap_or(0),
            lost,
        };
        self.send_feedback(nack).await;
    }

    /// Sends a feedback message on the video stream's RTCP, in a compound packet after an RR
    /// (RFC 4585 §3.1).
    async fn send_feedback(&mut self, feedback: RtcpOut) {
        let (Some(port), Some(out)) = (&self.video_port, &self.video_out) else {
            return;
        };
        let packets = [
            RtcpOut::ReceiverReport {
                ssrc: out.ssrc,
                reports: Vec::new(),
            },
            RtcpOut::Cname {
                ssrc: out.ssrc,
                cname: self.cname.clone(),
            },
            feedback,
        ];
        match rtcp::build(&packets) {
            Ok(bytes) => port.send_rtcp(&bytes).await,
            Err(e) => debug!(call = %self.call, error = %e, "feedback not built"),
        }
    }

    /// SR (or RR while we have sent nothing) with SDES on each stream.
    async fn send_reports(&mut self, now: Instant) {
        let ntp = ntp_now();
        let audio = report(
            now,
            ntp,
            self.audio_out.ssrc,
            &self.audio_out.stats,
            self.audio_out.codec.rtp_clock_rate(),
            &mut self.audio_in.stats,
            &self.cname,
        );
        if let Some(bytes) = audio {
            self.audio_port.send_rtcp(&bytes).await;
        }
        if let (Some(port), Some(out), Some(video_in)) =
            (&self.video_port, &self.video_out, &mut self.video_in)
        {
            let video = report(
                now,
                ntp,
                out.ssrc,
                &out.stats,
                super::video::VIDEO_CLOCK_RATE,
                &mut video_in.stats,
                &self.cname,
            );
            if let Some(bytes) = video {
                port.send_rtcp(&bytes).await;
            }
        }
    }

    /// One RTCP datagram from the VTC, on `stream`'s RTCP socket or muxed on its RTP socket.
    async fn rtcp_datagram(
        &mut self,
        now: Instant,
        stream: Stream,
        datagram: &[u8],
        from: SocketAddr,
        muxed: bool,
    ) {
        self.last_heard = now;
        let events = match rtcp::parse_compound(datagram) {
            Ok(events) => events,
            Err(e) => {
                trace!(call = %self.call, %from, error = %e, "not RTCP, ignored");
                return;
            }
        };
        self.peer_sent_rtcp = true;
        match stream {
            Stream::Audio => self.audio_port.latch_rtcp(from, muxed),
            Stream::Video => {
                if let Some(port) = &mut self.video_port {
                    port.latch_rtcp(from, muxed);
                }
            }
        }
        for event in events {
            self.rtcp_event(now, stream, event).await;
        }
    }

    async fn rtcp_event(&mut self, now: Instant, stream: Stream, event: RtcpEvent) {
        match event {
            RtcpEvent::SenderReport { ssrc, ntp_time, .. } => {
                let stats = match stream {
                    Stream::Audio => Some(&mut self.audio_in.stats),
                    Stream::Video => self.video_in.as_mut().map(|v| &mut v.stats),
                };
                if let Some(stats) = stats.filter(|s| s.ssrc() == Some(ssrc)) {
                    stats.on_sender_report(now, ntp_time);
                }
            }
            RtcpEvent::Pli { .. } | RtcpEvent::Fir { .. } => {
                self.meters.keyframe_requested("peer");
                if let Some(participant) = self.participant() {
                    trace!(call = %self.call, "VTC asked for a keyframe");
                    self.send_to_engine(EngineInput::KeyframeRequest { participant });
                } else if let Some(w) = self.slate.as_ref().filter(|w| w.feed.is_some()) {
                    trace!(call = %self.call, "VTC asked for a keyframe of its slate");
                    let _ = w
                        .studio
                        .send(SlateInput::KeyframeRequest { viewer: self.call });
                }
            }
            RtcpEvent::Nack { lost, .. } => {
                let (Some(out), Some(port)) = (&self.video_out, &self.video_port) else {
                    return;
                };
                let again = out.retransmissions(&lost);
                trace!(call = %self.call, asked = lost.len(), resent = again.len(), "NACK");
                for packet in &again {
                    port.send_rtp(packet).await;
                }
                self.meters.count_video("tx", again.len() as u64);
            }
            RtcpEvent::MaxBitrate { bitrate_bps, .. } => {
                // The shared layout encoders take no per-viewer rate yet; noted for operators.
                debug!(call = %self.call, bitrate_bps, "VTC asked for a lower bit rate");
            }
            RtcpEvent::ReceiverReport { .. }
            | RtcpEvent::Ignored { .. }
            | RtcpEvent::Malformed { .. } => {}
        }
    }
}

/// The time now (the task is a driver; tokio's clock, so paused-time tests work).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// A stream's periodic compound report: SR if we have sent on it, else RR, then SDES; `None`
/// while there is nothing to report either way.
fn report(
    now: Instant,
    ntp: u64,
    ssrc: u32,
    sent: &SendStats,
    clock_rate: u32,
    received: &mut ReceiveStats,
    cname: &str,
) -> Option<Vec<u8>> {
    let reports: Vec<_> = received.report_block(now).into_iter().collect();
    let first = match sent.rtp_time_at(now, clock_rate) {
        Some(rtp_time) => RtcpOut::SenderReport {
            ssrc,
            ntp_time: ntp,
            rtp_time,
            packet_count: sent.packets,
            octet_count: sent.octets,
            reports,
        },
        None if reports.is_empty() => return None,
        None => RtcpOut::ReceiverReport { ssrc, reports },
    };
    let cname = RtcpOut::Cname {
        ssrc,
        cname: cname.to_owned(),
    };
    rtcp::build(&[first, cname]).ok()
}

#[cfg(test)]
mod slate_tests;

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use tokio::time::{timeout, Instant};

    use super::*;
    use crate::calls::api::{DtmfDigit, PromptCodec};
    use crate::media::rtp::RtpHeader;
    use crate::media::telephone_event::TelephoneEvent;

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const TE_PT: u8 = 101;
    const PATIENCE: Duration = Duration::from_secs(5);

    fn audio(remote: SocketAddr) -> AudioSetup {
        AudioSetup {
            local_port: 0,
            remote,
            payload_type: 0,
            codec: PromptCodec::Pcmu,
            telephone_event_pt: Some(TE_PT),
            rtcp_mux: true,
        }
    }

    /// What a VTC sends for one key press: start (marker), two updates, three end packets.
    fn key_press(event: u8, timestamp: u32, first_seq: u16) -> Vec<Vec<u8>> {
        let steps = [
            (160, false),
            (320, false),
            (480, false),
            (640, true),
            (640, true),
            (640, true),
        ];
        steps
            .iter()
            .zip(0u16..)
            .map(|(&(duration, end), i)| {
                let header = RtpHeader {
                    marker: i == 0,
                    payload_type: TE_PT,
                    sequence: first_seq.wrapping_add(i),
                    timestamp,
                    ssrc: 0x5EED,
                };
                let ev = TelephoneEvent {
                    event,
                    end,
                    volume: 10,
                    duration,
                };
                rtp::write(&header, &ev.to_bytes())
            })
            .collect()
    }

    async fn next_event(
        rx: &mut mpsc::UnboundedReceiver<(CallId, MediaEvent)>,
    ) -> Option<(CallId, MediaEvent)> {
        timeout(PATIENCE, rx.recv()).await.ok().flatten()
    }

    /// Receives `count` RTP packets on `socket` and checks they form one well-formed PCMU talk
    /// spurt; returns the time from the first to the last.
    async fn receive_prompt_packets(socket: &UdpSocket, count: usize) -> Duration {
        let mut buf = [0u8; 1500];
        let mut headers: Vec<RtpHeader> = Vec::new();
        let mut first_at = None;
        while headers.len() < count {
            let (len, _) = timeout(PATIENCE, socket.recv_from(&mut buf))
                .await
                .expect("prompt packets keep coming")
                .expect("receive");
            first_at.get_or_insert_with(Instant::now);
            let p = rtp::parse(&buf[..len]).expect("well-formed RTP");
            assert_eq!(p.header.payload_type, 0, "PCMU");
            assert_eq!(p.payload.len(), 160, "20 ms of G.711");
            if let Some(prev) = headers.last() {
                assert_eq!(p.header.ssrc, prev.ssrc);
                assert_eq!(p.header.sequence, prev.sequence.wrapping_add(1));
                assert_eq!(p.header.timestamp, prev.timestamp.wrapping_add(160));
                assert!(!p.header.marker);
            } else {
                assert!(p.header.marker, "talk spurt starts with the marker bit");
            }
            headers.push(p.header);
        }
        first_at.map_or(Duration::ZERO, |t| t.elapsed())
    }

    #[tokio::test]
    async fn dtmf_key_presses_arrive_once_each_and_prompts_go_to_the_rtp_source() {
        let vtc = UdpSocket::bind((LOCALHOST, 0)).await.expect("bind VTC");
        // The SDP address is wrong (NAT): the task must answer where packets come from.
        let sdp_remote = SocketAddr::new(LOCALHOST, 9);
        let (events, mut rx) = mpsc::unbounded_channel();
        let meters = Meters::default();
        let media = CallMedia::start(
            CallId(7),
            LOCALHOST,
            audio(sdp_remote),
            None,
            events,
            meters.clone(),
        )
        .await
        .expect("start");
        let gateway = media.local_addr();

        let junk: [&[u8]; 4] = [b"", b"\x80", b"hello, this is not RTP", &[0xA0; 12]];
        for datagram in junk {
            vtc.send_to(datagram, gateway).await.expect("send");
        }
        let mut seq = 100;
        for (i, event) in [1u8, 2, 11].into_iter().enumerate() {
            let timestamp = 8000 + 1600 * u32::try_from(i).expect("small");
            for packet in key_press(event, timestamp, seq) {
                vtc.send_to(&packet, gateway).await.expect("send");
                seq += 1;
            }
        }

        for digit in ['1', '2', '#'] {
            assert_eq!(
                next_event(&mut rx).await,
                Some((CallId(7), MediaEvent::Dtmf(DtmfDigit(digit))))
            );
        }
        assert!(
            timeout(Duration::from_millis(200), rx.recv())
                .await
                .is_err(),
            "no extra key press reported"
        );

        let counts = meters.stats.snapshot();
        assert_eq!(
            counts.audio_rx_packets, 18,
            "3 key presses x 6 packets; junk not counted"
        );

        media.play(Prompt::EnterConferenceId);
        let elapsed = receive_prompt_packets(&vtc, 10).await;
        assert!(meters.stats.snapshot().audio_tx_packets >= 10);
        // Ten packets span nine 20 ms ticks; allow a loaded machine plenty either way.
        assert!(
            elapsed >= Duration::from_millis(60),
            "paced, not burst: {elapsed:?}"
        );

        media.stop();
        assert_eq!(
            timeout(PATIENCE, rx.recv()).await.expect("task ends"),
            None,
            "the task dropped its event sender"
        );
    }

    #[tokio::test]
    async fn prompts_go_to_the_sdp_address_until_rtp_arrives() {
        let vtc = UdpSocket::bind((LOCALHOST, 0)).await.expect("bind VTC");
        let (events, _rx) = mpsc::unbounded_channel();
        let media = CallMedia::start(
            CallId(1),
            LOCALHOST,
            audio(vtc.local_addr().expect("addr")),
            None,
            events,
            Meters::default(),
        )
        .await
        .expect("start");
        media.play(Prompt::Goodbye);
        receive_prompt_packets(&vtc, 3).await;
    }

    #[tokio::test]
    async fn nothing_is_sent_while_no_prompt_plays() {
        let vtc = UdpSocket::bind((LOCALHOST, 0)).await.expect("bind VTC");
        let (events, _rx) = mpsc::unbounded_channel();
        let _media = CallMedia::start(
            CallId(1),
            LOCALHOST,
            audio(vtc.local_addr().expect("addr")),
            None,
            events,
            Meters::default(),
        )
        .await
        .expect("start");
        let mut buf = [0u8; 64];
        assert!(timeout(Duration::from_millis(150), vtc.recv_from(&mut buf))
            .await
            .is_err());
    }

    #[tokio::test]
    async fn stopping_frees_the_port() {
        let (events, _rx) = mpsc::unbounded_channel();
        let media = CallMedia::start(
            CallId(1),
            LOCALHOST,
            audio(SocketAddr::new(LOCALHOST, 9)),
            None,
            events,
            Meters::default(),
        )
        .await
        .expect("start");
        let addr = media.local_addr();
        media.stop();
        let rebound = timeout(PATIENCE, async {
            loop {
                if let Ok(socket) = UdpSocket::bind(addr).await {
                    return socket;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(rebound.is_ok(), "port {addr} still bound after stop");
    }
}
