//! The call media task's loop: waits on the sockets, the handle's commands, the meeting and
//! slate feeds, the decoder's reports and the state machine's next timeout; hands each to the
//! machine with the time; then sends what the machine queued and carries out its events.
//!
//! It makes no media decision (those are [`rtp_session::call::CallMedia`]'s) and owns no
//! protocol state beyond the channel ends.

use std::time::{Instant, SystemTime};

use rtp_session::call::{
    self as machine, Counters, EngineRequest, Event, Input, SlateRequest, SocketId,
};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::calls::api::{CallId, MediaEvent};

use super::super::decoder::{Decoder, DecoderPool, DecoderReport, Queued};
use super::super::engine::api::{CallFeed, EngineInput, EngineSender};
use super::super::engine::feed::FeedReceiver;
use super::super::engine::relay::arrival_timestamp;
use super::super::slate::SlateSender;
use super::links::{Joined, Watching};
use super::sockets::Sockets;
use super::{now, Command, Meters, RECV_BUFFER_LEN};

/// The wall clock, for the NTP time of sender reports.
// The media task is a driver: reading the wall clock for RTCP is its job.
#[allow(clippy::disallowed_methods)]
fn wall_now() -> SystemTime {
    SystemTime::now()
}

/// The next frame of `feed`, or never without one.
async fn recv_feed(feed: Option<&mut FeedReceiver>) -> Option<CallFeed> {
    match feed {
        Some(feed) => feed.recv().await,
        None => std::future::pending().await,
    }
}

/// What the task owns: the state machine and everything it talks to.
pub(super) struct Driver {
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
    decoder_reports_tx: mpsc::Sender<DecoderReport>,
    decoder_reports: mpsc::Receiver<DecoderReport>,
    meters: Meters,
    /// The machine's counters already passed to `meters`.
    counted: Counters,
}

impl Driver {
    /// The task's state for `call`'s `machine` on `sockets`, reporting to `events`.
    pub(super) fn new(
        call: CallId,
        machine: machine::CallMedia,
        sockets: Sockets,
        events: mpsc::UnboundedSender<(CallId, MediaEvent)>,
        meters: Meters,
    ) -> Driver {
        // One pending report is enough: a failure means "broken until the next keyframe".
        let (decoder_reports_tx, decoder_reports) = mpsc::channel(1);
        Driver {
            call,
            machine,
            sockets,
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
        }
    }

    pub(super) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
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
                        Some(CallFeed::Audio(_) | CallFeed::Shown(_) | CallFeed::Tile(_) | CallFeed::Speaker(_) | CallFeed::Forward { .. } | CallFeed::Slots(_) | CallFeed::PublisherKeyframe(_) | CallFeed::Relay(_)) => continue,
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
                        Some(CallFeed::Tile(tile)) => Input::Tile(tile),
                        // A Tessera link's current speaker: the core's, for the roster.
                        Some(CallFeed::Speaker(speaker)) => {
                            let _ = self.events.send((self.call, MediaEvent::LinkSpeaker(speaker)));
                            continue;
                        }
                        // A WebRTC viewer's slot switches to this call's stream: it needs a
                        // keyframe, asked of the peer (rate-limited by the machine).
                        Some(CallFeed::PublisherKeyframe(_)) => Input::DecoderFailed,
                        Some(CallFeed::Relay(relay)) => {
                            if let Some(joined) = &mut self.joined {
                                joined.relaying = relay;
                            }
                            continue;
                        }
                        // Only a Tessera link is forwarded streams (it sends each on its own
                        // SSRC); who its slots show is the roster's business, not the media's.
                        Some(CallFeed::Forward { source, timestamp, frame, .. }) => Input::Forward { source, timestamp, frame },
                        Some(CallFeed::Slots(_)) => continue,
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
                video_format,
            } => {
                self.next_engine = Some(engine);
                Input::Join {
                    participant,
                    display_name,
                    video_format,
                }
            }
            Command::Leave => Input::Leave,
            Command::Control(control) => Input::Control(control),
            Command::PeerKeyframeRequest => Input::PeerKeyframeRequest,
            Command::RemoteStreams(streams) => Input::RemoteStreams(streams),
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
                video_format,
            }) => {
                let joined = self.next_engine.take().and_then(|engine| {
                    Joined::join(engine, participant, display_name, video_format)
                });
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
            Event::Slate(SlateRequest::Watch { slate, format }) => {
                self.slate = None;
                let watching = self
                    .studio
                    .clone()
                    .and_then(|studio| Watching::watch(self.call, studio, slate, format));
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
                if let Some(joined) = self.joined.as_ref().filter(|j| j.relaying) {
                    // As received, for WebRTC viewers (the engine forwards, never decodes it).
                    let _ = joined.engine.send(EngineInput::NativeVideo {
                        participant: joined.participant,
                        layer: 0,
                        timestamp: arrival_timestamp(now()),
                        access_unit: access_unit.clone(),
                    });
                }
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
