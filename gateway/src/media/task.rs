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
use std::time::Instant;

use rtp_session::call as machine;
use rtp_session::srtp::MediaKeys;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::calls::api::{AudioSetup, CallId, MediaControl, MediaEvent, Prompt, Slate, VideoSetup};

use super::engine::api::{EngineSender, MediaParticipant};
use super::h264_rtp::VideoFormat;
use super::slate::SlateSender;

mod driver;
mod links;
mod meters;
mod sockets;

use driver::Driver;
pub use meters::Meters;
pub use rtp_session::call::{
    KEYFRAME_NAG_INTERVAL, KEYFRAME_REQUEST_GAP, MEDIA_TIMEOUT, PACKET_INTERVAL, REPORT_INTERVAL,
};
use sockets::Sockets;

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
        video_format: Option<VideoFormat>,
    },
    Leave,
    Control(MediaControl),
    PeerKeyframeRequest,
    RemoteStreams(Vec<rtp_session::call::RemoteStream>),
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

/// What guards a call's media against strangers: the one IP besides the SDP's that media may be
/// learnt from (where the call's SIP came from), and the SDES SRTP keys (none: clear RTP).
#[derive(Debug, Clone, Default)]
pub struct PeerGuard {
    /// Where the call's SIP signalling came from (a room system behind NAT sends from here).
    pub signalling_ip: Option<IpAddr>,
    /// SDES SRTP keys of each stream.
    pub srtp: MediaKeys,
}

impl CallMedia {
    /// Binds `bind_ip:audio.local_port` and, with video, `bind_ip:video.local_port` (UDP; each
    /// also the next port for RTCP when not 0), starts the task, returns the handle. Media is
    /// learnt only from the SDP's IP or the guard's `signalling_ip` (see
    /// `rtp_session::call::LATCH_WINDOW`); its `srtp` keys SDES streams (their datagrams are
    /// protected and unprotected in the machine).
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
        guard: PeerGuard,
        events: mpsc::UnboundedSender<(CallId, MediaEvent)>,
        meters: Meters,
    ) -> io::Result<CallMedia> {
        let sockets = Sockets::bind(call, bind_ip, &audio, video.as_ref()).await?;
        let local_addr = sockets.audio.rtp.local_addr()?;
        let video_addr = match &sockets.video {
            Some(v) => Some(v.rtp.local_addr()?),
            None => None,
        };
        debug!(%call, %local_addr, ?video_addr, remote = %audio.remote, "call media started");
        let (commands, command_rx) = mpsc::unbounded_channel();
        let driver = driver(call, sockets, audio, video, guard, events, meters);
        let task = tokio::spawn(driver.run(command_rx));
        Ok(CallMedia {
            call,
            local_addr,
            video_addr,
            commands,
            task,
        })
    }

    /// [`start`](Self::start) without waiting: returns the handle at once and binds the sockets
    /// in the call's task, so the SIP core (which calls this for every answered INVITE) never
    /// does socket work or waits on it. Commands sent meanwhile queue and apply once the sockets
    /// are bound. [`local_addr`](Self::local_addr) and [`video_addr`](Self::video_addr) are the
    /// addresses asked for (the SIP core's RTP ports, never 0 here). A port that cannot be bound
    /// ends the task with a warning, as `start`'s error did for the caller; the call then times
    /// out for lack of media like any call whose media stopped.
    pub fn launch(
        call: CallId,
        bind_ip: IpAddr,
        audio: AudioSetup,
        video: Option<VideoSetup>,
        guard: PeerGuard,
        events: mpsc::UnboundedSender<(CallId, MediaEvent)>,
        meters: Meters,
    ) -> CallMedia {
        let local_addr = SocketAddr::new(bind_ip, audio.local_port);
        let video_addr = video
            .as_ref()
            .map(|v| SocketAddr::new(bind_ip, v.local_port));
        let (commands, command_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let sockets = match Sockets::bind(call, bind_ip, &audio, video.as_ref()).await {
                Ok(sockets) => sockets,
                Err(e) => {
                    warn!(%call, port = audio.local_port, error = %e, "media not started");
                    return;
                }
            };
            debug!(%call, %local_addr, ?video_addr, remote = %audio.remote, "call media started");
            let driver = driver(call, sockets, audio, video, guard, events, meters);
            driver.run(command_rx).await;
        });
        CallMedia {
            call,
            local_addr,
            video_addr,
            commands,
            task,
        }
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
        video_format: Option<VideoFormat>,
    ) {
        self.send(Command::Join {
            engine,
            participant,
            display_name,
            video_format,
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

    /// Who the far node's streams on this Tessera link are (its roster): passed to the meeting
    /// engine while joined, and again on every join.
    pub fn remote_streams(&self, streams: Vec<rtp_session::call::RemoteStream>) {
        self.send(Command::RemoteStreams(streams));
    }

    /// The peer asked for a keyframe in its signalling (H.245 `videoFastUpdatePicture`): handled
    /// as its RTCP PLI would be.
    pub fn peer_keyframe_request(&self) {
        self.send(Command::PeerKeyframeRequest);
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

/// The call's driver over bound `sockets`: the state machine's configuration with fresh
/// random SSRCs, sequence numbers and timestamps.
fn driver(
    call: CallId,
    sockets: Sockets,
    audio: AudioSetup,
    video: Option<VideoSetup>,
    guard: PeerGuard,
    events: mpsc::UnboundedSender<(CallId, MediaEvent)>,
    meters: Meters,
) -> Driver {
    let config = machine::Config {
        cname: format!("{call}@tessera"),
        audio_rtcp_socket: sockets.audio.rtcp.is_some(),
        video_rtcp_socket: sockets.video.as_ref().is_some_and(|v| v.rtcp.is_some()),
        audio,
        video,
        signalling_ip: guard.signalling_ip,
        srtp: guard.srtp,
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
    Driver::new(
        call,
        machine::CallMedia::new(now(), config),
        sockets,
        events,
        meters,
    )
}

/// The time now (tokio's clock, so paused-time tests work).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

#[cfg(test)]
mod slate_tests;

#[cfg(test)]
mod tests;
