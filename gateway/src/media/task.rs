//! The per-call media task: one UDP socket, one tokio task, driven by the gateway's driver
//! through a [`CallMedia`] handle.
//!
//! The task owns the socket and the sans-IO pieces ([`PromptPlayer`],
//! [`TelephoneEventDetector`]) and is their clock: a 20 ms tokio interval paces prompt packets.
//! It reports key presses on the driver's event channel and never touches call state itself.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tracing::{debug, trace, warn};

use crate::calls::api::{AudioSetup, CallId, MediaEvent, MediaStats, Prompt};
use crate::metrics::Metrics;

use super::prompt::PromptPlayer;
use super::rtp::{self, RtpPacket};
use super::telephone_event::TelephoneEventDetector;

/// Packet time of the prompts.
pub const PACKET_INTERVAL: Duration = Duration::from_millis(20);

/// Largest datagram read; longer ones are truncated by the socket and then fail to parse or are
/// read as far as needed (audio packets at 8 kHz are 172 bytes, telephone-events 16).
const RECV_BUFFER_LEN: usize = 2048;

/// Commands queued from the handle to the task before `play` starts dropping them.
const COMMAND_QUEUE_LEN: usize = 16;

/// RTCP packet types 192-223 read as RTP payload types 64-95 (RFC 5761 §4): with rtcp-mux they
/// arrive on this socket and are ignored.
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
}

/// What the handle asks of the task.
#[derive(Debug)]
enum Command {
    Play(Prompt),
}

/// The handle of a running call media task. Dropping it (or [`stop`](Self::stop)) ends the task
/// and closes its socket.
#[derive(Debug)]
pub struct CallMedia {
    call: CallId,
    local_addr: SocketAddr,
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
}

impl CallMedia {
    /// Binds `bind_ip:audio.local_port` (UDP), starts the task, returns the handle.
    ///
    /// Port 0 binds an ephemeral port (see [`local_addr`](Self::local_addr)). The RTP stream
    /// sent gets a random SSRC, initial sequence number and initial timestamp (RFC 3550 §5.1).
    ///
    /// # Errors
    /// The bind error, if the port cannot be bound.
    pub async fn start(
        call: CallId,
        bind_ip: IpAddr,
        audio: AudioSetup,
        events: mpsc::UnboundedSender<(CallId, MediaEvent)>,
        meters: Meters,
    ) -> io::Result<CallMedia> {
        let socket = UdpSocket::bind(SocketAddr::new(bind_ip, audio.local_port)).await?;
        let local_addr = socket.local_addr()?;
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE_LEN);
        let player = PromptPlayer::new(
            rand::random(),
            rand::random(),
            rand::random(),
            audio.payload_type,
            audio.codec,
        );
        debug!(%call, %local_addr, remote = %audio.remote, "call media started");
        let media = MediaLoop {
            call,
            socket,
            remote: audio.remote,
            latched: false,
            telephone_event_pt: audio.telephone_event_pt,
            player,
            detector: TelephoneEventDetector::new(),
            events,
            meters,
        };
        let task = tokio::spawn(media.run(command_rx));
        Ok(CallMedia {
            call,
            local_addr,
            commands,
            task,
        })
    }

    /// The address the socket is bound to.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Plays a prompt, replacing any prompt still playing. Does nothing if the task has ended;
    /// drops the request (with a warning) if the task is too far behind.
    pub fn play(&self, prompt: Prompt) {
        if let Err(e) = self.commands.try_send(Command::Play(prompt)) {
            warn!(call = %self.call, ?prompt, error = %e, "prompt request dropped");
        }
    }

    /// Ends the task and closes the socket (the same as dropping the handle). The socket is
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

/// The state the task owns.
struct MediaLoop {
    call: CallId,
    socket: UdpSocket,
    /// Where prompt packets go: the SDP address until the first RTP packet arrives, then the
    /// address it came from (symmetric RTP, for VTCs behind NAT).
    remote: SocketAddr,
    latched: bool,
    telephone_event_pt: Option<u8>,
    player: PromptPlayer,
    detector: TelephoneEventDetector,
    events: mpsc::UnboundedSender<(CallId, MediaEvent)>,
    meters: Meters,
}

impl MediaLoop {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut ticks = tokio::time::interval(PACKET_INTERVAL);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut buf = vec![0u8; RECV_BUFFER_LEN];
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Play(prompt)) => {
                        if let Err(e) = self.player.play(prompt) {
                            warn!(call = %self.call, ?prompt, error = %e, "prompt unusable");
                        }
                    }
                    None => break,
                },
                _ = ticks.tick() => self.tick().await,
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((len, from)) => self.receive(buf.get(..len).unwrap_or_default(), from),
                    // E.g. ICMP port unreachable reported on some platforms; keep going.
                    Err(e) => debug!(call = %self.call, error = %e, "RTP receive error"),
                },
            }
        }
        debug!(call = %self.call, "call media ended");
    }

    /// One 20 ms tick: send the next prompt packet, if one is playing.
    async fn tick(&mut self) {
        let Some(packet) = self.player.next_packet() else {
            return;
        };
        match self.socket.send_to(&packet, self.remote).await {
            Ok(_) => self.meters.count("tx"),
            Err(e) => {
                debug!(call = %self.call, remote = %self.remote, error = %e, "RTP send error")
            }
        }
    }

    /// One datagram from the socket.
    fn receive(&mut self, datagram: &[u8], from: SocketAddr) {
        let packet = match rtp::parse(datagram) {
            Ok(p) if !RTCP_PAYLOAD_TYPES.contains(&p.header.payload_type) => p,
            Ok(_) => return,
            Err(e) => {
                trace!(call = %self.call, %from, error = %e, "not RTP, ignored");
                return;
            }
        };
        self.meters.count("rx");
        if !self.latched {
            self.latched = true;
            if from != self.remote {
                debug!(call = %self.call, sdp = %self.remote, actual = %from, "symmetric RTP: sending to the source address");
                self.remote = from;
            }
        }
        if Some(packet.header.payload_type) == self.telephone_event_pt {
            self.telephone_event(&packet);
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
}

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
