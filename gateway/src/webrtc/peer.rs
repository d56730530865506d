//! One browser's peer connection: answers its offer (ICE-lite, every candidate in the answer),
//! then, once the browser is in its meeting, carries media both ways:
//! - up: Opus decoded into the engine's N-1 mix; each simulcast encoding (rid `q`, `h`, `f`)
//!   depacketized into access units the engine ingests like any native publisher's, with a PLI to
//!   the browser whenever the engine (or a lost packet) needs a keyframe of a layer;
//! - down: the engine's N-1 mix for this browser in Opus, and the streams the engine forwards into
//!   the nine receive slots, rewritten per slot ([`rtp_session::forward::SlotRewriter`]) without
//!   any video encode;
//! - feedback: the browser's REMB steps the forwarded layers (through
//!   [`rtp_session::receiver_estimate::EstimateHold`]: down at once, up once it held), and its
//!   PLI/FIR on a slot asks the slot's source for a keyframe ([`super::feedback`]).
//!
//! Owns the `webrtc` peer connection and its media tasks; it must not choose what is forwarded
//! (the engine does) or decide who is in the meeting (the core does).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mixer::codec::audio::{AudioCodec, AudioDecoder, AudioEncoder};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::{
    RTCIceConnectionState, RTCIceGatheringState, RTCPeerConnectionState,
};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::RTCRtpTransceiverDirection;
use rtp_session::forward::SlotRewriter;
use rtp_session::h264_rtp::{Depacketized, Depacketizer};
use rtp_session::receiver_estimate::{EstimateHold, DEFAULT_HOLD};
use signaling::browser_offer::{payload_type, BrowserOffer, OfferError};
use tokio::sync::oneshot;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler};

use super::feedback::{self, Feedback};
use super::session::{Session, SessionEvent};
use super::{WebrtcState, H264_PT, OPUS_PT};
use crate::calls::api::MediaStats;
use crate::media::engine::forwarding::SLOTS;
use crate::media::engine::relay::arrival_timestamp;
use crate::media::engine::{feed, CallFeed, EngineInput, EngineSender, NativeStream};

/// The simulcast encodings a browser publishes, by rid, in layer order (the contract's ladder).
pub const RIDS: [(&str, (u32, u32)); 3] =
    [("q", (320, 180)), ("h", (640, 360)), ("f", (1280, 720))];

/// How long the answer waits for candidate gathering (host candidates only: milliseconds).
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);

/// A browser whose audio packets stop for this long is not speaking (the voice detector's own
/// hangover).
const SILENT_AFTER: Duration = Duration::from_millis(300);

/// Largest RTP payload sent to browsers.
const MAX_PAYLOAD: usize = 1200;

/// Why a browser's offer could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The offer is not SDP the stack can read.
    #[error("the offer could not be read: {0}")]
    BadOffer(String),
    /// The offer has no Opus or no H.264 the gateway can use.
    #[error("the offer has no codec in common with the gateway: {0}")]
    NoCommonCodec(String),
    /// The stack failed (socket, DTLS certificate, ...).
    #[error("WebRTC: {0}")]
    Stack(String),
}

fn stack(e: impl std::fmt::Display) -> PeerError {
    PeerError::Stack(e.to_string())
}

/// Where the browser's incoming media goes once it is in the meeting.
#[derive(Clone)]
struct Joined {
    engine: EngineSender,
    participant: u64,
    stats: Arc<MediaStats>,
}

/// A layer the browser publishes: its remote track and SSRC.
type PublishedLayer = (Arc<dyn TrackRemote>, u32);

/// State the peer's event handler and media tasks share.
#[derive(Default)]
struct Shared {
    joined: Mutex<Option<Joined>>,
    gathered: Mutex<Option<oneshot::Sender<()>>>,
    /// Each published layer's remote track and SSRC (for PLI).
    layers: Mutex<HashMap<usize, PublishedLayer>>,
    ice_connected: std::sync::atomic::AtomicBool,
    failed: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn joined(&self) -> Option<Joined> {
        crate::media::pool::lock(&self.joined).clone()
    }
}

struct Handler {
    shared: Arc<Shared>,
    metrics: crate::metrics::Metrics,
    session: Arc<Session>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            if let Some(tx) = crate::media::pool::lock(&self.shared.gathered).take() {
                let _ = tx.send(());
            }
        }
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        match state {
            RTCIceConnectionState::Connected | RTCIceConnectionState::Completed => {
                self.shared.ice_connected.store(true, Ordering::Relaxed);
            }
            RTCIceConnectionState::Failed => self.fail("ice"),
            _ => {}
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        if state == RTCPeerConnectionState::Failed {
            // ICE got through, so the handshake on top of it failed.
            let stage = if self.shared.ice_connected.load(Ordering::Relaxed) {
                "dtls"
            } else {
                "ice"
            };
            self.fail(stage);
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let shared = self.shared.clone();
        tokio::spawn(receive(track, shared));
    }
}

impl Handler {
    fn fail(&self, stage: &'static str) {
        if !self.shared.failed.swap(true, Ordering::Relaxed) {
            tracing::info!(session = %format!("{:032x}", self.session.id), stage, "browser connection failed");
            self.metrics
                .webrtc_failures_total
                .with_label_values(&[stage])
                .inc();
        }
    }
}

/// One browser's peer connection. See the module doc.
pub struct Peer {
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    audio: Arc<TrackLocalStaticRTP>,
    audio_ssrc: u32,
    /// Payload types the answer gave Opus and H.264.
    audio_pt: u8,
    video_pt: u8,
    /// The receive slots: mid, track, SSRC.
    slots: Vec<(String, Arc<TrackLocalStaticRTP>, u32)>,
    feed_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    feedback_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    metrics: crate::metrics::Metrics,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

/// A local track of the gateway's codec for `kind` with one encoding of SSRC `ssrc`.
pub fn local_track(kind: RtpCodecKind, id: &str, ssrc: u32) -> Arc<TrackLocalStaticRTP> {
    let (mime, clock, channels) = match kind {
        RtpCodecKind::Audio => (
            rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS,
            48_000,
            2,
        ),
        _ => (
            rtc::peer_connection::configuration::media_engine::MIME_TYPE_H264,
            90_000,
            0,
        ),
    };
    Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "tessera".to_owned(),
        id.to_owned(),
        id.to_owned(),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: RTCRtpCodec {
                mime_type: mime.to_owned(),
                clock_rate: clock,
                channels,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: vec![],
            },
            ..Default::default()
        }],
    )))
}

impl Peer {
    /// Answers `offer` (SDP): a peer with one audio track and [`SLOTS`] video tracks bound to
    /// the offer's `recvonly` video transceivers; returns it and the answer (SDP, all
    /// candidates in it).
    pub async fn answer(
        state: &WebrtcState,
        offer: String,
        session: Arc<Session>,
    ) -> Result<(Arc<Peer>, String), PeerError> {
        let read = BrowserOffer::parse(&offer).map_err(|e| match e {
            OfferError::NoOpus | OfferError::NoH264 => PeerError::NoCommonCodec(e.to_string()),
            OfferError::NotSdp | OfferError::TooLarge => PeerError::BadOffer(e.to_string()),
        })?;
        let offer =
            RTCSessionDescription::offer(offer).map_err(|e| PeerError::BadOffer(e.to_string()))?;
        let shared = Arc::new(Shared::default());
        let (gathered_tx, gathered_rx) = oneshot::channel();
        *crate::media::pool::lock(&shared.gathered) = Some(gathered_tx);
        let handler = Arc::new(Handler {
            shared: shared.clone(),
            metrics: state.metrics.clone(),
            session,
        });
        let (pc, feedback_rx) = bind(state, handler).await?;
        pc.set_remote_description(offer)
            .await
            .map_err(|e| PeerError::BadOffer(e.to_string()))?;
        let audio_ssrc = rand::random();
        let audio = local_track(RtpCodecKind::Audio, "audio", audio_ssrc);
        pc.add_track(audio.clone() as Arc<dyn TrackLocal>)
            .await
            .map_err(|e| PeerError::NoCommonCodec(e.to_string()))?;
        // A track added binds to the first video transceiver without a sender, in m-line order:
        // the browser's own (sendonly) video gets a placeholder that never sends, so each slot
        // track lands on one of the browser's recvonly transceivers.
        let mut slot_tracks = Vec::new();
        for (i, receive_slot) in read.video.iter().map(|v| v.recvonly).enumerate() {
            if slot_tracks.len() == SLOTS {
                break;
            }
            let id = if receive_slot {
                format!("slot{}", slot_tracks.len())
            } else {
                format!("ingest{i}")
            };
            let ssrc = rand::random();
            let track = local_track(RtpCodecKind::Video, &id, ssrc);
            pc.add_track(track.clone() as Arc<dyn TrackLocal>)
                .await
                .map_err(stack)?;
            if receive_slot {
                slot_tracks.push((id, track, ssrc));
            }
        }
        // The browser's own video is received only: its placeholder must not turn the answer's
        // direction into sendrecv (Chromium refuses that for a sendonly offer).
        for t in pc.get_transceivers().await {
            let Ok(Some(sender)) = t.sender().await else {
                continue;
            };
            if sender.track().track_id().await.starts_with("ingest") {
                t.set_direction(RTCRtpTransceiverDirection::Recvonly)
                    .await
                    .map_err(stack)?;
            }
        }
        let answer = pc
            .create_answer(None)
            .await
            .map_err(|e| PeerError::NoCommonCodec(e.to_string()))?;
        pc.set_local_description(answer).await.map_err(stack)?;
        let _ = tokio::time::timeout(GATHER_TIMEOUT, gathered_rx).await;
        let sdp = pc
            .local_description()
            .await
            .ok_or_else(|| stack("no local description"))?
            .sdp;
        // Which mid each slot track went to.
        let mut mids: HashMap<String, String> = HashMap::new();
        for t in pc.get_transceivers().await {
            let (Ok(Some(mid)), Ok(Some(sender))) = (t.mid().await, t.sender().await) else {
                continue;
            };
            let id = sender.track().track_id().await;
            mids.insert(id.to_string(), mid);
        }
        let slots: Vec<_> = slot_tracks
            .into_iter()
            .filter_map(|(id, track, ssrc)| Some((mids.get(&id)?.clone(), track, ssrc)))
            .collect();
        let slot_ssrcs = slots.iter().map(|(_, _, ssrc)| *ssrc).collect();
        let feedback_task = tokio::spawn(read_feedback(
            feedback_rx,
            shared.clone(),
            slot_ssrcs,
            state.metrics.clone(),
        ));
        state.metrics.webrtc_peers.inc();
        let peer = Arc::new(Peer {
            audio_pt: payload_type(&sdp, "opus/48000").unwrap_or(OPUS_PT),
            video_pt: payload_type(&sdp, "h264/90000").unwrap_or(H264_PT),
            pc: Arc::new(pc),
            shared,
            audio,
            audio_ssrc,
            slots,
            feed_task: Mutex::new(None),
            feedback_task: Mutex::new(Some(feedback_task)),
            metrics: state.metrics.clone(),
        });
        Ok((peer, sdp))
    }

    /// The peer connection (for [`super::restart`]).
    pub(super) fn connection(&self) -> &Arc<dyn PeerConnection> {
        &self.pc
    }

    /// The mids of the receive slots the answer filled, in slot order.
    pub fn slot_mids(&self) -> Vec<String> {
        self.slots.iter().map(|(mid, ..)| mid.clone()).collect()
    }

    /// The browser is in the meeting: joins its media to `engine` as `participant` and starts
    /// carrying media both ways.
    pub fn join(
        self: &Arc<Self>,
        engine: EngineSender,
        participant: u64,
        display_name: String,
        stats: Arc<MediaStats>,
        session: Arc<Session>,
    ) {
        let (tx, rx) = feed::channel();
        let stream = NativeStream {
            layers: RIDS.iter().map(|(_, size)| *size).collect(),
            fps: 30,
            temporal_layers: 1,
        };
        if engine
            .send(EngineInput::JoinWebrtc {
                participant,
                display_name,
                feed: tx,
                stream,
            })
            .is_err()
        {
            tracing::warn!(participant, "meeting engine gone: browser media not joined");
            return;
        }
        *crate::media::pool::lock(&self.shared.joined) = Some(Joined {
            engine,
            participant,
            stats: stats.clone(),
        });
        let peer = self.clone();
        let task = tokio::spawn(async move { peer.send_feed(rx, stats, session).await });
        if let Some(old) = crate::media::pool::lock(&self.feed_task).replace(task) {
            old.abort();
        }
    }

    /// Sends the engine's output to the browser.
    async fn send_feed(
        self: Arc<Self>,
        mut rx: feed::FeedReceiver,
        stats: Arc<MediaStats>,
        session: Arc<Session>,
    ) {
        let mut encoder = match AudioEncoder::new(AudioCodec::Opus) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "no Opus encoder: browser gets no audio");
                return;
            }
        };
        let (mut audio_seq, mut audio_ts): (u16, u32) = (rand::random(), rand::random());
        let mut rewriters: Vec<SlotRewriter> = (0..self.slots.len())
            .map(|_| SlotRewriter::new(rand::random(), rand::random(), MAX_PAYLOAD))
            .collect();
        let (audio_pt, video_pt) = (self.audio_pt, self.video_pt);
        while let Some(item) = rx.recv().await {
            match item {
                CallFeed::Audio(pcm) => {
                    let Ok(payload) = encoder.encode(&pcm) else {
                        continue;
                    };
                    let packet = rtp_packet(
                        audio_pt,
                        audio_seq,
                        audio_ts,
                        self.audio_ssrc,
                        false,
                        payload,
                    );
                    audio_seq = audio_seq.wrapping_add(1);
                    audio_ts = audio_ts.wrapping_add(AudioCodec::Opus.rtp_ticks_per_frame());
                    if self.audio.write_rtp(packet).await.is_ok() {
                        stats.audio_tx_packets.fetch_add(1, Ordering::Relaxed);
                    }
                }
                CallFeed::Forward {
                    slot,
                    source,
                    timestamp,
                    frame,
                } => {
                    let (Some((_, track, ssrc)), Some(rewriter)) =
                        (self.slots.get(slot), rewriters.get_mut(slot))
                    else {
                        continue;
                    };
                    // The driver's clock: the rewriter turns gaps between sources into time.
                    #[allow(clippy::disallowed_methods)]
                    let now = Instant::now();
                    let packets = match rewriter.rewrite(now, source, timestamp, &frame.data) {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::debug!(slot, error = %e, "forwarded unit not sent");
                            continue;
                        }
                    };
                    for p in packets {
                        let packet = rtp_packet(
                            video_pt,
                            p.sequence,
                            p.timestamp,
                            *ssrc,
                            p.marker,
                            p.payload,
                        );
                        if track.write_rtp(packet).await.is_err() {
                            break;
                        }
                    }
                    stats.video_tx_frames.fetch_add(1, Ordering::Relaxed);
                }
                CallFeed::Slots(shown) => {
                    let layout = self
                        .slots
                        .iter()
                        .zip(shown)
                        .map(|((mid, ..), who)| (mid.clone(), who))
                        .collect();
                    session.publish(SessionEvent::Layout(layout));
                }
                CallFeed::PublisherKeyframe(layer) => self.request_keyframe(layer).await,
                CallFeed::Video { .. }
                | CallFeed::Shown(_)
                | CallFeed::Tile(_)
                | CallFeed::Speaker(_)
                | CallFeed::Relay(_) => {}
            }
        }
    }

    /// Asks the browser for a keyframe of its encoding `layer` (PLI).
    async fn request_keyframe(&self, layer: usize) {
        let target = crate::media::pool::lock(&self.shared.layers)
            .get(&layer)
            .cloned();
        if let Some((track, ssrc)) = target {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            };
            let _ = track.write_rtcp(vec![Box::new(pli)]).await;
            self.metrics
                .keyframes_requested_total
                .with_label_values(&["gateway"])
                .inc();
        }
    }

    /// The browser left or its session ended: leaves the engine and closes the connection.
    pub async fn close(&self) {
        if let Some(joined) = crate::media::pool::lock(&self.shared.joined).take() {
            let _ = joined.engine.send(EngineInput::Leave {
                participant: joined.participant,
            });
        }
        for task in [&self.feed_task, &self.feedback_task] {
            if let Some(task) = crate::media::pool::lock(task).take() {
                task.abort();
            }
        }
        let _ = self.pc.close().await;
        self.metrics.webrtc_peers.dec();
    }

    /// Mutes or unmutes the browser's audio in the mix.
    pub fn mute(&self, muted: bool) {
        if let Some(joined) = self.shared.joined() {
            joined.stats.muted.store(muted, Ordering::Relaxed);
            let _ = joined.engine.send(EngineInput::Mute {
                participant: joined.participant,
                muted,
            });
        }
    }

    /// The page reported its slots' sizes (by mid).
    pub fn tiles(&self, sizes: &HashMap<String, (u32, u32)>) {
        let Some(joined) = self.shared.joined() else {
            return;
        };
        let sizes = self
            .slots
            .iter()
            .map(|(mid, ..)| sizes.get(mid).copied())
            .collect();
        let _ = joined.engine.send(EngineInput::Tiles {
            participant: joined.participant,
            sizes,
        });
    }
}

/// Binds the peer's UDP socket: a port of the configured range (trying the next ones while
/// taken), or any free port.
async fn bind(
    state: &WebrtcState,
    handler: Arc<Handler>,
) -> Result<(impl PeerConnection, tokio::sync::mpsc::Receiver<Feedback>), PeerError> {
    let ip = state.config.listen;
    let attempts = state
        .config
        .ports
        .map_or(1, |(a, b)| usize::from(a.abs_diff(b)) + 1)
        .min(64);
    let mut last = None;
    for _ in 0..attempts {
        let port = state
            .config
            .ports
            .map_or(0, |range| state.ports.next(range));
        let mut media_engine = super::media_engine().map_err(stack)?;
        let (tap, feedback_rx) = feedback::tap();
        let registry =
            register_default_interceptors(rtc::interceptor::Registry::new(), &mut media_engine)
                .map_err(stack)?
                .with(rtc::interceptor::Slot::from(feedback::TAP_SLOT), tap);
        let mut settings = SettingEngineBuilder::new()
            .with_lite(true)
            .with_include_loopback_candidate(true);
        if let Some(public) = state.config.public_ip {
            settings = settings.with_nat_1to1_ips(
                vec![public.to_string()],
                rtc::peer_connection::transport::RTCIceCandidateType::Host,
            );
        }
        let built = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media_engine)
            .with_interceptor_registry(registry)
            .with_setting_engine(settings.build())
            .with_handler(handler.clone())
            .with_udp_addrs(vec![std::net::SocketAddr::new(ip, port)])
            .build()
            .await;
        match built {
            Ok(pc) => return Ok((pc, feedback_rx)),
            Err(e) => last = Some(e),
        }
    }
    Err(stack(
        last.map_or_else(|| "no port".to_owned(), |e| e.to_string()),
    ))
}

pub(super) fn rtp_packet(
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    marker: bool,
    payload: Vec<u8>,
) -> rtp::Packet {
    rtp::Packet {
        header: rtp::header::Header {
            version: 2,
            marker,
            payload_type: pt,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
            ..Default::default()
        },
        payload: payload.into(),
    }
}

/// Turns the browser's feedback into engine inputs while it is in the meeting: its REMB (with
/// hysteresis) into the bandwidth its slots are planned with, a PLI/FIR on a slot's SSRC into a
/// keyframe wanted for that slot.
async fn read_feedback(
    mut rx: tokio::sync::mpsc::Receiver<Feedback>,
    shared: Arc<Shared>,
    slot_ssrcs: Vec<u32>,
    metrics: crate::metrics::Metrics,
) {
    let mut estimate = EstimateHold::new(DEFAULT_HOLD);
    while let Some(feedback) = rx.recv().await {
        let Some(joined) = shared.joined() else {
            continue;
        };
        let input = match feedback {
            Feedback::Remb(bps) => {
                // The driver's clock: the hold is measured between reports as they arrive.
                #[allow(clippy::disallowed_methods)]
                let now = Instant::now();
                let Some(bps) = estimate.on_report(now, bps) else {
                    continue;
                };
                tracing::debug!(participant = joined.participant, bps, "browser bandwidth");
                EngineInput::Bandwidth {
                    participant: joined.participant,
                    bps,
                }
            }
            Feedback::Keyframe(ssrc) => {
                // Requests about the audio or an unknown SSRC concern no slot.
                let Some(slot) = slot_ssrcs.iter().position(|s| *s == ssrc) else {
                    continue;
                };
                metrics
                    .keyframes_requested_total
                    .with_label_values(&["peer"])
                    .inc();
                EngineInput::SlotKeyframe {
                    participant: joined.participant,
                    slot,
                }
            }
        };
        let _ = joined.engine.send(input);
    }
}

/// Reads one of the browser's tracks: audio into the mix, each video encoding into the engine.
async fn receive(track: Arc<dyn TrackRemote>, shared: Arc<Shared>) {
    let kind = track.kind().await;
    let mut decoder = match kind {
        RtpCodecKind::Audio => AudioDecoder::new(AudioCodec::Opus).ok(),
        _ => None,
    };
    // Whether the browser's audio is speech (the roster's `speaking`).
    let mut voice = mixer::speakers::VoiceActivityDetector::new();
    // Per SSRC: its layer and depacketizer.
    let mut video: HashMap<u32, (usize, Depacketizer)> = HashMap::new();
    loop {
        let event = if decoder.is_some() {
            // No audio for a while (a muted or DTX-silent microphone) is not speaking.
            match tokio::time::timeout(SILENT_AFTER, track.poll()).await {
                Ok(event) => event,
                Err(_) => {
                    if let Some(joined) = shared.joined() {
                        joined.stats.speaking.store(false, Ordering::Relaxed);
                    }
                    continue;
                }
            }
        } else {
            track.poll().await
        };
        let Some(event) = event else {
            break;
        };
        match event {
            TrackRemoteEvent::OnOpen(init) if kind == RtpCodecKind::Video => {
                let rid = init.rid.as_deref().unwrap_or("f");
                let layer = RIDS
                    .iter()
                    .position(|(r, _)| *r == rid)
                    .unwrap_or(RIDS.len() - 1);
                video.insert(init.ssrc, (layer, Depacketizer::new()));
                crate::media::pool::lock(&shared.layers).insert(layer, (track.clone(), init.ssrc));
            }
            TrackRemoteEvent::OnRtpPacket(packet) => {
                let Some(joined) = shared.joined() else {
                    continue;
                };
                if let Some(decoder) = &mut decoder {
                    joined
                        .stats
                        .audio_rx_packets
                        .fetch_add(1, Ordering::Relaxed);
                    if let Ok(pcm) = decoder.decode(&packet.payload) {
                        let speaking = voice.process(&pcm).active
                            && !joined.stats.muted.load(Ordering::Relaxed);
                        joined.stats.speaking.store(speaking, Ordering::Relaxed);
                        let _ = joined.engine.send(EngineInput::Audio {
                            participant: joined.participant,
                            pcm,
                        });
                    }
                    continue;
                }
                let h = &packet.header;
                let Some((layer, depacketizer)) = video.get_mut(&h.ssrc) else {
                    continue;
                };
                let Ok(ready) =
                    depacketizer.push(h.sequence_number, h.timestamp, h.marker, &packet.payload)
                else {
                    continue;
                };
                for item in ready {
                    match item {
                        Depacketized::AccessUnit(au) => {
                            if *layer == 0 {
                                // One picture per moment, whichever layers carry it.
                                joined.stats.video_rx_frames.fetch_add(1, Ordering::Relaxed);
                            }
                            // The driver's clock: one time line for all layers.
                            #[allow(clippy::disallowed_methods)]
                            let timestamp = arrival_timestamp(Instant::now());
                            let _ = joined.engine.send(EngineInput::NativeVideo {
                                participant: joined.participant,
                                layer: *layer,
                                timestamp,
                                access_unit: au.data,
                            });
                        }
                        Depacketized::KeyframeNeeded => {
                            let pli = PictureLossIndication {
                                sender_ssrc: 0,
                                media_ssrc: h.ssrc,
                            };
                            let _ = track.write_rtcp(vec![Box::new(pli)]).await;
                        }
                    }
                }
            }
            TrackRemoteEvent::OnEnded => break,
            _ => {}
        }
    }
}
