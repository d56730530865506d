//! The per-call media driver: one tokio task per call owning the call's RTP/RTCP sockets (audio,
//! and video when negotiated) and its channels to the meeting engine, the slate studio and the
//! decoder, driven by the gateway's driver through a [`CallMedia`] handle.
//!
//! Every media decision (latching, RTCP schedule, keyframe pacing, prompts over mix, hold
//! music, inactivity...) is made by the sans-IO [`rtp_session::call::CallMedia`] state machine;
//! this task only reads the clock, moves datagrams between the sockets and the machine, carries
//! the machine's requests over the channels ([`links`]) and counts ([`meters`]).
//!
//! RTCP ports: each stream binds its RTP port and, when it is not 0, the next port for RTCP
//! (the port pool reserves both) ([`sockets`]).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Instant, SystemTime};

use rtp_session::call::{
    self as machine, Counters, EngineRequest, Event, Input, SlateRequest, SocketId,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::calls::api::{AudioSetup, CallId, MediaControl, MediaEvent, Prompt, Slate, VideoSetup};

use super::decoder::{Decoder, DecoderPool, DecoderReport, Queued};
use super::engine::api::{CallFeed, EngineSender, MediaParticipant};
use super::slate::SlateSender;

mod links;
mod meters;
mod sockets;

use links::{Joined, Watching};
pub use meters::Meters;
pub use rtp_session::call::{
    KEYFRAME_NAG_INTERVAL, KEYFRAME_REQUEST_GAP, MEDIA_TIMEOUT, PACKET_INTERVAL, REPORT_INTERVAL,
};
use sockets::{Sockets, StreamSockets};

/// Largest datagram read (a video packet is at most ~1500 bytes); longer ones are truncated by
/// the socket and then fail to parse or are read as far as needed.
const RECV_BUFFER_LEN: usize = 2048;

/// What the handle asks of the task.
#[derive(Debug)]
enum Command {
    Play(Prompt),
    Join {
        engine: EngineSender,
        participant: MediaParticipant,
        display_name: String,
        video_size: Option<(u32, u32)>,
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
        let audio_sockets = StreamSockets::bind(call, bind_ip, audio.local_port).await?;
        let video_sockets = match &video {
            Some(v) => Some(StreamSockets::bind(call, bind_ip, v.local_port).await?),
            None => None,
        };
        let local_addr = audio_sockets.rtp.local_addr()?;
        let video_addr = match &video_sockets {
            Some(v) => Some(v.rtp.local_addr()?),
            None => None,
        };
        let config = machine::Config {
            cname: format!("{call}@tessera"),
            audio_rtcp_socket: audio_sockets.rtcp.is_some(),
            video_rtcp_socket: video_sockets.as_ref().is_some_and(|v| v.rtcp.is_some()),
            audio,
            video,
            seeds: machine::Seeds {
                audio_ssrc: rand::random(),
                audio_sequence: rand::random(),
                audio_timestamp: rand::random(),
                prompt_sequence: rand::random(),
                prompt_timestamp: rand::random(),
                video_ssrc: rand::random(),
                video_sequence: rand::random(),
                video_timestamp: rand::random(),
            },
        };
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (decoder_reports_tx, decoder_reports) = mpsc::unbounded_channel();
        debug!(%call, %local_addr, ?video_addr, remote = %audio.remote, "call media started");
        let driver = Driver {
            call,
            machine: machine::CallMedia::new(now(), config),
            sockets: Sockets {
                audio: audio_sockets,
                video: video_sockets,
            },
            events,
            joined: None,
            next_engine: None,
            slate: None,
            studio: None,
            decoder: None,
            decoder_reports_tx,
            decoder_reports,
            meters,
            counted: Counters::default(),
        };
        let task = tokio::spawn(driver.run(command_rx));
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

    /// Joins a meeting's media: sends `EngineInput::Join` with a fresh feed channel the task
    /// reads, then decoded audio and video flow to `engine` as `participant` until
    /// [`leave`](Self::leave) (or the end of the task). Joining again leaves first.
    pub fn join(
        &self,
        engine: EngineSender,
        participant: MediaParticipant,
        display_name: String,
        video_size: Option<(u32, u32)>,
    ) {
        self.send(Command::Join {
            engine,
            participant,
            display_name,
            video_size,
        });
    }

    /// Leaves the meeting's media (sends `EngineInput::Leave`); prompts still play.
    pub fn leave(&self) {
        self.send(Command::Leave);
    }

    /// Shows the call `slate` from `studio` (replacing any slate) until it joins a meeting; a
    /// lobby slate also brings hold music after the prompt. A call without video still gets
    /// the hold music.
    pub fn show_slate(&self, studio: SlateSender, slate: Slate) {
        self.send(Command::ShowSlate { studio, slate });
    }

    /// Applies an in-call control: forwarded to the meeting engine as `EngineInput::Mute` or
    /// `EngineInput::SetLayout` for this call's participant; ignored while not joined.
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

/// The time now (tokio's clock, so paused-time tests work).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The wall clock, for the NTP time of sender reports.
// The media task is a driver: reading the wall clock for RTCP is its job.
#[allow(clippy::disallowed_methods)]
fn wall_now() -> SystemTime {
    SystemTime::now()
}

/// The next frame of `feed`, or never without one.
async fn recv_feed(feed: Option<&mut mpsc::UnboundedReceiver<CallFeed>>) -> Option<CallFeed> {
    match feed {
        Some(feed) => feed.recv().await,
        None => std::future::pending().await,
    }
}

/// What the task owns: the state machine and everything it talks to.
struct Driver {
    call: CallId,
    machine: machine::CallMedia,
    sockets: Sockets,
    events: mpsc::UnboundedSender<(CallId, MediaEvent)>,
    joined: Option<Joined>,
    /// The engine of the join the machine is about to ask for.
    next_engine: Option<EngineSender>,
    slate: Option<Watching>,
    /// The slate studio of the last slate shown.
    studio: Option<SlateSender>,
    /// Opened in the gateway's decoder pool on the first access unit to decode.
    decoder: Option<Decoder>,
    decoder_reports_tx: mpsc::UnboundedSender<DecoderReport>,
    decoder_reports: mpsc::UnboundedReceiver<DecoderReport>,
    meters: Meters,
    /// The machine's counters already passed to `meters`.
    counted: Counters,
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut bufs = [[0u8; RECV_BUFFER_LEN]; 4];
        loop {
            self.flush().await;
            let wake = self.machine.poll_timeout();
            let [audio_buf, audio_rtcp_buf, video_buf, video_rtcp_buf] = &mut bufs;
            let sockets = &self.sockets;
            let (socket, received) = tokio::select! {
                command = commands.recv() => {
                    match command {
                        Some(command) => self.command(command),
                        None => break,
                    }
                    continue;
                }
                r = sockets.recv(SocketId::AudioRtp, audio_buf) => (SocketId::AudioRtp, r.map(|(n, a)| (&audio_buf[..n], a))),
                r = sockets.recv(SocketId::AudioRtcp, audio_rtcp_buf) => (SocketId::AudioRtcp, r.map(|(n, a)| (&audio_rtcp_buf[..n], a))),
                r = sockets.recv(SocketId::VideoRtp, video_buf) => (SocketId::VideoRtp, r.map(|(n, a)| (&video_buf[..n], a))),
                r = sockets.recv(SocketId::VideoRtcp, video_rtcp_buf) => (SocketId::VideoRtcp, r.map(|(n, a)| (&video_rtcp_buf[..n], a))),
                feed = recv_feed(self.slate.as_mut().map(|w| &mut w.feed)) => {
                    let input = match feed {
                        Some(CallFeed::Video { frame, timestamp }) => Input::SlateFrame { frame, timestamp },
                        Some(CallFeed::Audio(_) | CallFeed::Shown(_)) => continue,
                        None => Input::SlateGone,
                    };
                    self.machine.handle_input(now(), input);
                    continue;
                }
                feed = recv_feed(self.joined.as_mut().map(|j| &mut j.feed)) => {
                    let input = match feed {
                        Some(CallFeed::Audio(pcm)) => Input::MixAudio(pcm),
                        Some(CallFeed::Video { frame, timestamp }) => Input::MixVideo { frame, timestamp },
                        Some(CallFeed::Shown(shown)) => Input::Shown(shown),
                        None => {
                            debug!(call = %self.call, "meeting engine ended the feed");
                            Input::Leave
                        }
                    };
                    self.machine.handle_input(now(), input);
                    continue;
                }
                Some(DecoderReport::Failed) = self.decoder_reports.recv() => {
                    self.machine.handle_input(now(), Input::DecoderFailed);
                    continue;
                }
                () = sleep_until(wake) => {
                    self.machine.handle_timeout(now(), wall_now());
                    continue;
                }
            };
            match received {
                Ok((datagram, from)) => self.machine.handle_datagram(now(), socket, from, datagram),
                // E.g. ICMP port unreachable reported on some platforms; keep going.
                Err(e) => debug!(call = %self.call, ?socket, error = %e, "receive error"),
            }
        }
        debug!(call = %self.call, "call media ended");
    }

    fn command(&mut self, command: Command) {
        let input = match command {
            Command::Play(prompt) => Input::Play(prompt),
            Command::Join {
                engine,
                participant,
                display_name,
                video_size,
            } => {
                self.next_engine = Some(engine);
                Input::Join {
                    participant,
                    display_name,
                    video_size,
                }
            }
            Command::Leave => Input::Leave,
            Command::Control(control) => Input::Control(control),
            Command::ShowSlate { studio, slate } => {
                self.studio = Some(studio);
                Input::ShowSlate(slate)
            }
        };
        self.machine.handle_input(now(), input);
    }

    /// Sends what the machine has queued and acts on its events (which may queue more), then
    /// passes its counters on.
    async fn flush(&mut self) {
        loop {
            while let Some(transmit) = self.machine.poll_transmit() {
                self.sockets.send(self.call, &transmit).await;
            }
            let Some(event) = self.machine.poll_event() else {
                break;
            };
            self.event(event);
        }
        let counters = self.machine.counters();
        self.meters.record(&self.counted, &counters);
        self.counted = counters;
    }

    fn event(&mut self, event: Event) {
        match event {
            // A closed channel means the driver is shutting down; nothing to do.
            Event::Media(event) => {
                let _ = self.events.send((self.call, event));
            }
            Event::Engine(EngineRequest::Join {
                participant,
                display_name,
                video_size,
            }) => {
                let joined = self
                    .next_engine
                    .take()
                    .and_then(|engine| Joined::join(engine, participant, display_name, video_size));
                match joined {
                    Some(joined) => {
                        if let Some(decoder) = &self.decoder {
                            decoder.set_target(Some((joined.engine.clone(), participant)));
                        }
                        self.joined = Some(joined);
                    }
                    None => {
                        warn!(call = %self.call, participant, "meeting engine gone; not joined");
                        self.machine.handle_input(now(), Input::Leave);
                    }
                }
            }
            Event::Engine(EngineRequest::Leave { .. }) => {
                // Dropping the membership sends the engine its `Leave`.
                self.joined = None;
                if let Some(decoder) = &self.decoder {
                    decoder.set_target(None);
                }
            }
            Event::Engine(request) => {
                if self.joined.as_ref().is_some_and(|j| !j.send(request)) {
                    debug!(call = %self.call, "meeting engine gone");
                    self.machine.handle_input(now(), Input::Leave);
                }
            }
            Event::Slate(SlateRequest::Watch { slate, size }) => {
                self.slate = None;
                let watching = self
                    .studio
                    .clone()
                    .and_then(|studio| Watching::watch(self.call, studio, slate, size));
                if watching.is_none() {
                    debug!(call = %self.call, "slate studio gone; no slate video");
                    self.machine.handle_input(now(), Input::SlateGone);
                }
                self.slate = watching;
            }
            Event::Slate(SlateRequest::Unwatch) => self.slate = None,
            Event::Slate(SlateRequest::KeyframeRequest) => {
                if let Some(w) = &self.slate {
                    w.request_keyframe();
                }
            }
            Event::Decode(access_unit) => {
                let queued = self
                    .decoder()
                    .map_or(Queued::Dropped, |d| d.decode(access_unit));
                match queued {
                    Queued::Queued => {}
                    // A keyframe superseded what waited: the picture stays whole.
                    Queued::QueuedAfterDropping(n) => self.meters.dropped("decode", n as u64),
                    Queued::Dropped => {
                        // The decoder fell behind: nothing decodes until the next keyframe.
                        self.meters.dropped("decode", 1);
                        self.machine.handle_input(now(), Input::DecoderFailed);
                    }
                }
            }
        }
    }

    /// The call's decoder, opened (aimed at the meeting joined) on first use: many room
    /// systems join receive-only or send video late, so calls that never send video cost the
    /// pool nothing. `None` if the pool has no worker.
    fn decoder(&mut self) -> Option<&Decoder> {
        if self.decoder.is_none() {
            match DecoderPool::shared().open(self.decoder_reports_tx.clone()) {
                Some(decoder) => {
                    let joined = self.joined.as_ref();
                    decoder.set_target(joined.map(|j| (j.engine.clone(), j.participant)));
                    self.decoder = Some(decoder);
                }
                None => warn!(call = %self.call, "no video decoder worker"),
            }
        }
        self.decoder.as_ref()
    }
}

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod slate_tests;

#[cfg(test)]
mod tests;
