//! [`CallMedia`]: one call's media as a sans-IO state machine. The driver feeds it datagrams
//! ([`CallMedia::handle_datagram`]), the time ([`CallMedia::handle_timeout`]) and what the call
//! core, the meeting engine, the slate studio and the decoder say ([`CallMedia::handle_input`]),
//! then drains [`CallMedia::poll_transmit`] (datagrams to send), [`CallMedia::poll_event`]
//! (DTMF, inactivity, requests to the engine, the slate studio and the decoder) and asks
//! [`CallMedia::poll_timeout`] when to call again.
//!
//! Every decision of a call's media lives here:
//! - **Safe symmetric RTP**: while the call is new ([`LATCH_WINDOW`]) the peer's first packet
//!   from the SDP's IP or the SIP signalling source's IP becomes the stream's only accepted
//!   source; everything else is dropped unread and counted ([`Counters::foreign_packets`]). RTP
//!   goes to the SDP address, or to the learnt source when that is on another IP (NAT). Likewise
//!   RTCP. Without rtcp-mux our RTCP goes to both the peer's RTP port and the port after it
//!   until its first RTCP shows which one it reads ([`port`]). RTCP muxed on an RTP port is told
//!   apart by RFC 5761 §4.
//! - **SRTP** (SDES streams): every datagram is unprotected before anything else looks at it; one
//!   that does not authenticate is dropped and counted, so it can neither latch nor reach the
//!   meeting. What we send is protected as it leaves ([`protection`]).
//! - **Entry queue**: prompts paced one packet per [`PACKET_INTERVAL`] tick; RFC 4733 key presses
//!   reported once each ([`Event::Media`]).
//! - **Slates**: between [`Input::ShowSlate`] and the next join the call's video shows the slate
//!   studio's stream; under a lobby slate generated hold music plays whenever no prompt does.
//!   Every change of video source waits for the new source's keyframe, and the RTP timestamps
//!   carry on across it ([`slates`]).
//! - **Meeting media**: between [`Input::Join`] and [`Input::Leave`] the peer's audio is
//!   jitter-buffered, decoded and concealed into 48 kHz 20 ms frames for the engine, its video
//!   access units go out to be decoded ([`Event::Decode`]), and the engine's mix and layout go
//!   back as RTP. Prompts win over the mix while one plays.
//! - **RTCP** ([`feedback`]): SR/RR with SDES CNAME every [`REPORT_INTERVAL`]; PLI/FIR from the
//!   peer become keyframe requests to the engine (or the slate studio); until the peer sends any
//!   RTCP the engine is asked for a keyframe every [`KEYFRAME_NAG_INTERVAL`], and for a peer
//!   that negotiated neither PLI nor FIR every [`KEYFRAME_REFRESH_INTERVAL`] after that and
//!   whenever its reports show loss on our video; NACKs are answered
//!   from the sent history; loss asks the peer for a keyframe (PLI, or FIR when only FIR was
//!   negotiated) at most once per [`KEYFRAME_REQUEST_GAP`], a request inside the gap going out
//!   when it ends.
//! - **Bandwidth** ([`adapt`]): TMMBR (answered with TMMBN), REMB and the loss the peer reports
//!   on our video move the call between bit-rate classes ([`crate::bandwidth`]); a move goes to
//!   the engine as the call's new video format, `b=AS`/TIAS and the level staying the ceiling.
//!   The other way, a peer with `ccm tmmbr` is asked (TMMBR) for the rate the tiles showing its
//!   picture need, and a keyframe when it takes a big tile again ([`crate::tile_request`]).
//! - **Tessera links** ([`streams`]): after [`MediaControl::Streams`] the call's video carries one
//!   stream per participant both ways: the engine's forwarded units go out each on its
//!   participant's own SSRC, and the far node's are demultiplexed by SSRC and handed to the
//!   engine ([`EngineRequest::LinkVideo`]) instead of being decoded as one picture.
//! - **Inactivity**: nothing from the peer for [`MEDIA_TIMEOUT`] is reported once.
//!
//! It must not touch sockets, channels, threads or the clock: `now` and the wall time come in,
//! random initial values come in ([`Seeds`]), and the driver carries out what comes out.

mod adapt;
mod audio;
mod feedback;
mod port;
mod protection;
mod slates;
pub mod streams;
mod types;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use mixer::hold::HoldMusic;
use tracing::{debug, trace, warn};

use crate::api::{MediaControl, MediaEvent, VideoSetup};
use crate::h264_rtp::VideoFormat;
use crate::prompt::{mixer_codec, PromptPlayer};
use crate::rtcp;
use crate::rtp::{self, RtpPacket};
use crate::telephone_event::TelephoneEventDetector;
use crate::tile_request::TileRequest;
use crate::video::{VideoAction, VideoIn, VideoInOutput, VideoOut};

pub use audio::ENGINE_FRAME;
use audio::{AudioIn, AudioOut, AudioPacket};
pub use port::LATCH_WINDOW;
use port::{Admission, Port};
use protection::Protection;
use slates::{VideoSource, Watching};
use streams::LinkStreams;
pub use types::{
    Config, Counters, EngineRequest, Event, Input, Participant, RemoteStream, Seeds, SlateRequest,
    SocketId, Transmit,
};

/// Silence from the far end (no RTP and no RTCP on any stream) after which the call is reported
/// dead: long enough for holds (RTCP keeps flowing) and silence suppression (comfort noise).
pub const MEDIA_TIMEOUT: Duration = Duration::from_secs(60);
/// Packet time of the prompts and of the mix.
pub const PACKET_INTERVAL: Duration = Duration::from_millis(20);
/// How often SR/RR go out on each stream (RFC 3550 §6.2 suggests 5 s as the minimum).
pub const REPORT_INTERVAL: Duration = Duration::from_secs(5);
/// How often the engine is asked for a keyframe for a peer that has sent no RTCP.
pub const KEYFRAME_NAG_INTERVAL: Duration = Duration::from_secs(3);
/// How often the engine is asked for a keyframe for a peer that sends RTCP but negotiated
/// neither PLI nor FIR, so cannot ask for one after a loss itself (older room systems): a slow
/// refresh that bounds how long a broken picture lasts, on top of the one its loss reports bring.
pub const KEYFRAME_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// Shortest gap between two keyframe requests we send to the peer.
pub const KEYFRAME_REQUEST_GAP: Duration = Duration::from_millis(500);

/// RTCP packet types 192-223 read as RTP payload types 64-95 (RFC 5761 §4).
const RTCP_PAYLOAD_TYPES: std::ops::RangeInclusive<u8> = 64..=95;

/// Which stream an RTCP packet arrived for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Audio,
    Video,
}

/// The call's membership of a meeting's media.
#[derive(Debug)]
struct Joined {
    participant: Participant,
    /// When the engine is next asked for a keyframe on the peer's behalf (see
    /// [`CallMedia::keyframe_nag_interval`]).
    next_keyframe_nag: Instant,
}

/// One call's media: see the module doc.
#[derive(Debug)]
pub struct CallMedia {
    cname: String,
    audio_port: Port,
    video_port: Option<Port>,
    telephone_event_pt: Option<u8>,
    audio_payload_type: u8,
    player: PromptPlayer,
    detector: TelephoneEventDetector,
    audio_in: AudioIn,
    audio_out: AudioOut,
    video: Option<VideoSetup>,
    /// The bit-rate class estimate of the video we send (with video only).
    bandwidth: Option<adapt::Adaptation>,
    /// The rate the peer is asked to send for the tiles that show it (a peer with TMMBR only).
    tile_request: Option<TileRequest>,
    video_in: Option<VideoIn>,
    video_out: Option<VideoOut>,
    /// A Tessera link's streams (after [`MediaControl::Streams`]): video goes both ways stream
    /// by stream instead of one picture.
    streams: Option<LinkStreams>,
    /// Who the far node's streams are (its roster), passed to the engine on every join.
    remote_streams: Vec<RemoteStream>,
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
    /// The peer has sent RTCP (so it can ask for keyframes itself).
    peer_sent_rtcp: bool,
    last_keyframe_request: Option<Instant>,
    /// A keyframe request waits for [`KEYFRAME_REQUEST_GAP`] to pass.
    keyframe_request_pending: bool,
    fir_sequence: u8,
    /// The next 20 ms packet tick (prompts, music, reports, inactivity, nagging).
    next_tick: Instant,
    next_report: Instant,
    /// When anything (RTP or RTCP, either stream) last arrived from the far end.
    last_heard: Instant,
    /// [`MediaEvent::Inactive`] was reported (once per call).
    inactive_reported: bool,
    counters: Counters,
    /// SRTP at the datagram boundary (SDES streams).
    protection: Protection,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl CallMedia {
    /// A call's media at `now`, silent until told otherwise; its first tick is due at once.
    #[must_use]
    pub fn new(now: Instant, config: Config) -> Self {
        let Config {
            cname,
            audio,
            video,
            audio_rtcp_socket,
            video_rtcp_socket,
            signalling_ip,
            seeds,
            srtp,
        } = config;
        let latch_until = now + LATCH_WINDOW;
        let codec = mixer_codec(audio.codec);
        let player = PromptPlayer::new(
            seeds.audio_ssrc,
            seeds.prompt_sequence,
            seeds.prompt_timestamp,
            audio.payload_type,
            audio.codec,
        );
        CallMedia {
            audio_port: Port::new(
                SocketId::AudioRtp,
                audio_rtcp_socket.then_some(SocketId::AudioRtcp),
                audio.remote,
                audio.rtcp_mux,
                signalling_ip,
                latch_until,
            ),
            video_port: video.as_ref().map(|v| {
                Port::new(
                    SocketId::VideoRtp,
                    video_rtcp_socket.then_some(SocketId::VideoRtcp),
                    v.remote,
                    v.rtcp_mux,
                    signalling_ip,
                    latch_until,
                )
            }),
            telephone_event_pt: audio.telephone_event_pt,
            audio_payload_type: audio.payload_type,
            player,
            detector: TelephoneEventDetector::new(),
            audio_in: AudioIn::new(codec),
            audio_out: AudioOut::new(
                now,
                seeds.audio_ssrc,
                audio.payload_type,
                codec,
                seeds.audio_sequence,
                seeds.audio_timestamp,
            ),
            video_in: video.as_ref().map(VideoIn::new),
            video_out: video.as_ref().map(|v| {
                VideoOut::new(
                    v,
                    seeds.video_ssrc,
                    seeds.video_sequence,
                    seeds.video_timestamp,
                )
            }),
            bandwidth: video
                .as_ref()
                .map(|v| adapt::Adaptation::new(v.bitrate_bps, v.max_size)),
            tile_request: video
                .as_ref()
                .filter(|v| v.tmmbr)
                .map(|v| TileRequest::new(v.bitrate_bps)),
            video,
            streams: None,
            remote_streams: Vec::new(),
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
            next_tick: now,
            next_report: now + REPORT_INTERVAL,
            last_heard: now,
            inactive_reported: false,
            counters: Counters::default(),
            protection: Protection::new(&cname, &srtp),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            cname,
        }
    }

    /// Running totals so far.
    #[must_use]
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The participant the call is in its meeting as, while joined.
    #[must_use]
    pub fn participant(&self) -> Option<Participant> {
        self.joined.as_ref().map(|j| j.participant)
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        while let Some(transmit) = self.transmits.pop_front() {
            if let Some(transmit) = self.protection.protect(&self.cname, transmit) {
                return Some(transmit);
            }
        }
        None
    }

    /// The next event to act on.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) has work next (at the latest the next
    /// 20 ms tick).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let pending = self
            .keyframe_request_pending
            .then(|| self.last_keyframe_request.map(|t| t + KEYFRAME_REQUEST_GAP))
            .flatten();
        [
            Some(self.next_tick),
            self.audio_in.jitter.poll_timeout(),
            self.video_in.as_ref().and_then(VideoIn::poll_timeout),
            self.streams.as_ref().and_then(LinkStreams::poll_timeout),
            self.bandwidth
                .as_ref()
                .and_then(adapt::Adaptation::poll_timeout),
            self.tile_request
                .as_ref()
                .and_then(TileRequest::poll_timeout),
            pending,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// One datagram arrived on `socket` from `from`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        socket: SocketId,
        from: SocketAddr,
        datagram: &[u8],
    ) {
        // SRTP first: nothing (latching included) looks at a packet that does not authenticate.
        let datagram = match self.protection.unprotect(socket, datagram) {
            Ok(plain) => plain,
            Err(e) => {
                self.counters.srtp_rejected_packets += 1;
                trace!(cname = %self.cname, %from, error = %e, "SRTP packet rejected");
                return;
            }
        };
        let datagram = &*datagram;
        match socket {
            SocketId::AudioRtp => self.audio_datagram(now, datagram, from),
            SocketId::AudioRtcp => self.rtcp_datagram(now, Stream::Audio, datagram, from, false),
            SocketId::VideoRtp => self.video_datagram(now, datagram, from),
            SocketId::VideoRtcp => self.rtcp_datagram(now, Stream::Video, datagram, from, false),
        }
    }

    /// Time has passed: releases what the jitter buffers have waited for, sends what a pending
    /// keyframe request and the 20 ms tick (prompts, music, reports, inactivity, nagging)
    /// have due. `wall` is the wall-clock time at `now`, for the NTP time of sender reports.
    pub fn handle_timeout(&mut self, now: Instant, wall: SystemTime) {
        self.drain_audio(now);
        if let Some(v) = &mut self.video_in {
            let output = v.handle_timeout(now);
            self.video_output(now, output);
        }
        if let Some(streams) = &mut self.streams {
            for (ssrc, output) in streams.handle_timeout(now) {
                self.stream_output(now, ssrc, output);
            }
        }
        if self.keyframe_request_pending {
            self.request_keyframe_from_peer(now);
        }
        self.bandwidth_timeout(now);
        self.tile_timeout(now);
        if now >= self.next_tick {
            // Ticks missed (a stalled driver) are skipped, not caught up in a burst.
            while self.next_tick <= now {
                self.next_tick += PACKET_INTERVAL;
            }
            self.tick(now, wall);
        }
    }

    /// What the call core, engine, slate studio or decoder said.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        match input {
            Input::Play(prompt) => {
                if let Err(e) = self.player.play(prompt) {
                    warn!(cname = %self.cname, ?prompt, error = %e, "prompt unusable");
                }
            }
            Input::Join {
                participant,
                display_name,
                video_format,
            } => self.join(now, participant, display_name, video_format),
            Input::Leave => self.leave(),
            Input::Control(control) => {
                let Some(participant) = self.participant() else {
                    debug!(cname = %self.cname, ?control, "not in a meeting; control ignored");
                    return;
                };
                let request = match control {
                    MediaControl::Mute(muted) => EngineRequest::Mute { participant, muted },
                    MediaControl::Layout(mode) => EngineRequest::SetLayout { participant, mode },
                    MediaControl::Streams { ssrc_base, hub } => {
                        let Some(setup) = &self.video else {
                            debug!(cname = %self.cname, "a link without video has no streams");
                            return;
                        };
                        if self.streams.as_ref().is_none_or(|s| s.base() != ssrc_base) {
                            let seed = ssrc_base.rotate_left(11) ^ 0x5DEE_CE66;
                            self.streams = Some(LinkStreams::new(ssrc_base, setup, seed));
                        }
                        EngineRequest::LinkViewer { participant, hub }
                    }
                };
                self.events.push_back(Event::Engine(request));
            }
            Input::ShowSlate(slate) => self.show_slate(slate),
            Input::SlateFrame { frame, timestamp } => {
                let source = self.slate.as_ref().map(|w| w.source);
                if let Some(source) = source.filter(|s| Some(*s) == self.video_source) {
                    self.send_video(now, source, &frame, timestamp);
                }
            }
            Input::SlateGone => {
                debug!(cname = %self.cname, "slate studio ended the feed");
                if let Some(w) = &mut self.slate {
                    w.streaming = false;
                }
            }
            Input::MixAudio(pcm) => {
                if self.joined.is_some() && !self.player.is_playing() {
                    self.send_pcm(now, &pcm, false);
                }
            }
            Input::MixVideo { frame, timestamp } => {
                if self.joined.is_some() {
                    self.send_video(now, VideoSource::Meeting, &frame, timestamp);
                }
            }
            Input::Shown(shown) => {
                let Some(video_in) = &mut self.video_in else {
                    return;
                };
                debug!(cname = %self.cname, shown, "picture shown in the meeting's layouts");
                let output = video_in.set_shown(shown);
                self.video_output(now, output);
            }
            Input::Tile(tile) => self.tile_changed(now, tile),
            Input::DecoderFailed => {
                if let Some(v) = &mut self.video_in {
                    v.wait_for_keyframe();
                }
                self.request_keyframe_from_peer(now);
            }
            Input::PeerKeyframeRequest => self.peer_wants_keyframe(),
            Input::Forward {
                source,
                timestamp,
                frame,
            } => self.forward(now, source, timestamp, &frame),
            Input::RemoteStreams(streams) => {
                self.remote_streams = streams;
                if let Some(participant) = self.participant() {
                    let streams = self.remote_streams.clone();
                    self.events
                        .push_back(Event::Engine(EngineRequest::LinkRoster {
                            participant,
                            streams,
                        }));
                }
            }
        }
    }

    fn join(
        &mut self,
        now: Instant,
        participant: Participant,
        display_name: String,
        video_format: Option<VideoFormat>,
    ) {
        self.leave();
        let video_format = self.adapted_format(video_format);
        self.events.push_back(Event::Engine(EngineRequest::Join {
            participant,
            display_name,
            video_format,
        }));
        if !self.remote_streams.is_empty() {
            self.events
                .push_back(Event::Engine(EngineRequest::LinkRoster {
                    participant,
                    streams: self.remote_streams.clone(),
                }));
        }
        debug!(cname = %self.cname, participant, "joined meeting media");
        // The meeting replaces the slate (from the layout's first keyframe on) and the music.
        self.stop_watching();
        self.video_source = Some(VideoSource::Meeting);
        self.joined = Some(Joined {
            participant,
            next_keyframe_nag: now + KEYFRAME_NAG_INTERVAL,
        });
        if let Some(v) = &mut self.video_in {
            // The engine starts out showing a newcomer.
            let _ = v.set_shown(true);
            v.wait_for_keyframe();
            // The peer's picture should show at once, not at its next periodic IDR.
            self.request_keyframe_from_peer(now);
        }
    }

    /// Leaves the meeting's media, if joined.
    fn leave(&mut self) {
        if let Some(joined) = self.joined.take() {
            debug!(cname = %self.cname, "left meeting media");
            self.events.push_back(Event::Engine(EngineRequest::Leave {
                participant: joined.participant,
            }));
            self.audio_in.reset();
        }
    }

    /// One 20 ms tick: the next prompt packet (or hold music), and the periodic RTCP,
    /// inactivity and keyframe work.
    fn tick(&mut self, now: Instant, wall: SystemTime) {
        if let Some(frame) = self.player.next_frame() {
            self.send_pcm(now, &frame.pcm, frame.continues);
        } else if self.joined.is_none() && self.slate.as_ref().is_some_and(|w| w.slate.hold_music())
        {
            let mut pcm = vec![0; ENGINE_FRAME];
            self.hold_music.fill(&mut pcm);
            self.send_pcm(now, &pcm, false);
        }
        if now >= self.next_report {
            self.next_report = now + REPORT_INTERVAL;
            self.send_reports(now, wall);
        }
        if !self.inactive_reported
            && now.saturating_duration_since(self.last_heard) >= MEDIA_TIMEOUT
        {
            // A far end that crashed or lost its network sends nothing, not even RTCP (which
            // continues on hold): tell the core, which ends the call and frees its licence.
            self.inactive_reported = true;
            self.events.push_back(Event::Media(MediaEvent::Inactive));
        }
        if self
            .joined
            .as_ref()
            .is_some_and(|j| now >= j.next_keyframe_nag)
        {
            if let Some(interval) = self.keyframe_nag_interval() {
                self.ask_engine_for_keyframe(now, interval);
            }
        }
    }

    /// How often the engine should send the peer a keyframe it did not ask for: every
    /// [`KEYFRAME_NAG_INTERVAL`] until the peer sends any RTCP (many room systems never do, so
    /// never ask), then every [`KEYFRAME_REFRESH_INTERVAL`] if it negotiated neither PLI nor
    /// FIR (it cannot ask); `None` for a peer that can ask, or without video.
    fn keyframe_nag_interval(&self) -> Option<Duration> {
        let video = self.video.as_ref()?;
        if !self.peer_sent_rtcp {
            Some(KEYFRAME_NAG_INTERVAL)
        } else if !video.pli && !video.fir {
            Some(KEYFRAME_REFRESH_INTERVAL)
        } else {
            None
        }
    }

    /// Asks the engine for a keyframe for the peer (while joined), the next one unasked after
    /// `interval`.
    pub(super) fn ask_engine_for_keyframe(&mut self, now: Instant, interval: Duration) {
        let Some(j) = &mut self.joined else {
            return;
        };
        j.next_keyframe_nag = now + interval;
        let participant = j.participant;
        self.events
            .push_back(Event::Engine(EngineRequest::KeyframeRequest {
                participant,
            }));
    }

    /// The peer reports loss on our video (`fraction_lost` of 256 since its last report): a
    /// peer that cannot ask for a keyframe gets one, at most once per
    /// [`KEYFRAME_NAG_INTERVAL`].
    pub(super) fn peer_reports_video_loss(&mut self, now: Instant, fraction_lost: u8) {
        self.bandwidth_loss(now, fraction_lost);
        let cannot_ask = self.video.as_ref().is_some_and(|v| !v.pli && !v.fir);
        let Some(j) = &self.joined else {
            return;
        };
        let asked_recently = j.next_keyframe_nag
            > now + KEYFRAME_REFRESH_INTERVAL.saturating_sub(KEYFRAME_NAG_INTERVAL);
        if cannot_ask && fraction_lost > 0 && !asked_recently {
            debug!(cname = %self.cname, fraction_lost, "peer without PLI/FIR reports video loss");
            self.ask_engine_for_keyframe(now, KEYFRAME_REFRESH_INTERVAL);
        }
    }

    /// Encodes one 20 ms 48 kHz frame (a prompt's, the music's or the mix's) and sends it on
    /// the call's audio stream.
    fn send_pcm(&mut self, now: Instant, pcm: &[i16], continues: bool) {
        let Some(payload) = self.audio_out.encode(pcm) else {
            return;
        };
        let header = self.audio_out.next_header(now, continues);
        let (socket, to) = self.audio_port.rtp_target();
        self.transmits.push_back(Transmit {
            socket,
            to,
            bytes: rtp::write(&header, &payload),
        });
        self.audio_out
            .stats
            .on_packet(now, header.timestamp, payload.len());
        self.counters.audio_tx_packets += 1;
    }

    /// One datagram on the audio RTP socket: RTP, or RTCP muxed with it.
    fn audio_datagram(&mut self, now: Instant, datagram: &[u8], from: SocketAddr) {
        if rtcp::is_rtcp(datagram) {
            self.rtcp_datagram(now, Stream::Audio, datagram, from, true);
            return;
        }
        let packet = match rtp::parse(datagram) {
            Ok(p) if !RTCP_PAYLOAD_TYPES.contains(&p.header.payload_type) => p,
            Ok(_) => return,
            Err(e) => {
                trace!(cname = %self.cname, %from, error = %e, "not RTP, ignored");
                return;
            }
        };
        if self.audio_port.admit_rtp(now, from) == Admission::Foreign {
            self.counters.foreign_packets += 1;
            return;
        }
        self.last_heard = now;
        self.counters.audio_rx_packets += 1;
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

    /// Passes on the whole audio frames the jitter buffer and decoder have ready.
    fn drain_audio(&mut self, now: Instant) {
        let (frames, lost) = self.audio_in.drain(now);
        self.counters.lost_packets += lost;
        let Some(participant) = self.participant() else {
            return;
        };
        for pcm in frames {
            self.events
                .push_back(Event::Engine(EngineRequest::Audio { participant, pcm }));
        }
    }

    fn telephone_event(&mut self, packet: &RtpPacket<'_>) {
        match self.detector.handle_packet(&packet.header, packet.payload) {
            Ok(Some(digit)) => {
                trace!(cname = %self.cname, "DTMF key press");
                self.events.push_back(Event::Media(MediaEvent::Dtmf(digit)));
            }
            Ok(None) => {}
            Err(e) => trace!(cname = %self.cname, error = %e, "bad telephone-event"),
        }
    }

    /// One datagram on the video RTP socket: RTP, or RTCP muxed with it.
    fn video_datagram(&mut self, now: Instant, datagram: &[u8], from: SocketAddr) {
        if rtcp::is_rtcp(datagram) {
            self.rtcp_datagram(now, Stream::Video, datagram, from, true);
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
                trace!(cname = %self.cname, %from, error = %e, "not RTP, ignored");
                return;
            }
        };
        if port.admit_rtp(now, from) == Admission::Foreign {
            self.counters.foreign_packets += 1;
            return;
        }
        self.last_heard = now;
        self.counters.video_rx_packets += 1;
        if let Some(streams) = &mut self.streams {
            let (ssrc, output) = streams.receive(now, &packet.header, packet.payload);
            self.stream_output(now, ssrc, output);
            return;
        }
        let output = video_in.receive(now, &packet.header, packet.payload);
        self.video_output(now, output);
    }

    /// Acts on what the video receive side produced.
    fn video_output(&mut self, now: Instant, output: VideoInOutput) {
        self.counters.lost_packets += output.lost;
        // Counted as received whether or not it is decoded (a picture no layout shows is not).
        self.counters.video_rx_frames += output.frames;
        if self.joined.is_none() {
            // Nobody watches: nothing to decode or repair.
            return;
        }
        for action in output.actions {
            match action {
                VideoAction::RequestKeyframe => self.request_keyframe_from_peer(now),
                VideoAction::Nack(lost) => self.send_nack(lost),
            }
        }
        self.events
            .extend(output.access_units.into_iter().map(Event::Decode));
    }
}
