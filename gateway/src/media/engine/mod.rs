//! The meeting media engine: one per live meeting, run on the media worker pool ([`run`]: a
//! fixed set of threads sized to the machine, not a thread per meeting). Every 20 ms it ranks the
//! speakers (voice activity) and sends each listener the N-1 mix; every video frame time it lays
//! out, for each viewer, the most recent active speakers other than the viewer, composites that
//! layout once per distinct picture, encodes it once and hands the same access unit to every
//! viewer of that picture (shared encoders).
//!
//! Native participants (synthetic ones here) publish simulcast; the engine decodes each of their
//! streams once, at the spatial encoding that fits the biggest tile they fill in any layout and
//! at the frame rate that tile needs ([`ingest`]), so most tiles need little or no scaling. VTC
//! pictures arrive decoded (one decoder thread per call, [`super::video`]).
//!
//! An encoder is a stream its viewers follow, not a fixed picture: when a picture changes (someone
//! new fills a tile, the highlight moves), the encoder its viewers were on is re-aimed at the new
//! picture and they carry on with P-frames. Only a viewer that moves to another stream needs a
//! keyframe. Keying encoders by picture instead made every change in who is shown cost a new
//! 720p encoder and an IDR, which a meeting with callers coming and going every few milliseconds
//! (a call-rate test, a big event starting) turned into an encoder per frame.
//!
//! Media flows through bounded queues both ways: calls' inputs through the engine's queue
//! ([`inbox`]), the engine's output to each call through its feed ([`feed`]). A slow call drops
//! audio (the oldest) and video (to the next keyframe, which the engine then makes for it), never
//! half a picture; every drop is counted in `tessera_media_dropped_total`.
//!
//! Owns mixing, layout and encoding state; takes decoded media in and gives encoded video and raw
//! mixed audio out (the calls' media tasks do RTP and audio encoding). [`MeetingMedia`] is sans-IO
//! (time passed in, tested on a virtual clock); [`start`] runs it as a job of the worker pool,
//! which reads the clock. It must not touch SIP or sockets.

pub mod api;
pub mod feed;
pub mod forwarding;
pub mod inbox;
pub mod ingest;
pub mod link;
pub mod relay;
mod run;
pub mod selection;
pub mod synthetic;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mixer::codec::h264::{EncodedFrame, EncoderConfig, H264Encoder};
use mixer::compose::{Compositor, CompositorConfig, TileContent, VideoSource};
use mixer::frame::I420Frame;
use mixer::layout::{LayoutKind, ParticipantId, TileAssigner, TileGrid};
use mixer::{MixInput, NMinusOneMixer, SpeakerRanking, VoiceActivityDetector};

pub use api::{
    engine_channel, CallFeed, EngineInput, EngineReceiver, EngineSender, FeedReceiver, FeedSender,
    MediaParticipant, PublisherRequest,
};
pub use inbox::InputDrops;
pub use ingest::{IngestStats, NativeIngest, NativeStream};
pub use run::{start, EngineHandle};
use synthetic::{SimulcastPublisher, Synthetic};

use crate::calls::api::MediaStats;
use crate::media::h264_rtp::VideoFormat;
use crate::media::load::LoadMeter;
use crate::metrics::Metrics;
use rtp_session::bandwidth::BitrateClass;

/// Audio frame time.
pub const AUDIO_TICK: Duration = Duration::from_millis(20);
/// Samples per audio frame (48 kHz mono).
pub const FRAME_SAMPLES: usize = 960;
/// How long an encoder whose layout nobody watches is kept (a speaker who comes back within it
/// needs no new IDR for the others).
const IDLE_ENCODER: Duration = Duration::from_secs(5);
/// Frames of a participant's audio buffered before the oldest is dropped (jitter from the
/// network side; 100 ms).
const AUDIO_QUEUE: usize = 5;
/// Shortest gap between keyframes forced on one shared encoder by viewers' requests: a viewer
/// that keeps losing packets must not make every other viewer pay for IDRs.
const KEYFRAME_GAP: Duration = Duration::from_millis(500);
/// 90 kHz RTP clock.
const VIDEO_CLOCK: f64 = 90_000.0;

/// How the engine encodes.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// Layout frame rate.
    pub fps: u32,
    /// Bit rate of a 720p layout; smaller pictures get proportionally less.
    pub bitrate_bps: u32,
    /// Most tiles in a layout (9 = 3x3).
    pub max_tiles: usize,
    /// Synthetic participants publish this many pictures per second (their tiles need no more).
    pub synthetic_fps: u32,
    /// Temporal layers of the synthetic participants' streams (1 = none; 2 lets small tiles
    /// decode half their frames).
    pub synthetic_temporal_layers: u8,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            fps: 30,
            bitrate_bps: 1_500_000,
            max_tiles: 9,
            synthetic_fps: 15,
            synthetic_temporal_layers: 1,
        }
    }
}

/// Why the engine could not do something (logged; the engine carries on).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The compositor refused a layout.
    #[error("compositor: {0}")]
    Compose(#[from] mixer::ComposeError),
    /// The encoder failed.
    #[error("encoder: {0}")]
    Encode(#[from] mixer::codec::h264::CodecError),
    /// A layout could not be made for this picture size.
    #[error("layout: {0}")]
    Layout(#[from] mixer::LayoutError),
}

struct Participant {
    name: String,
    feed: Option<FeedSender>,
    video_format: Option<VideoFormat>,
    audio: VecDeque<Vec<i16>>,
    vad: VoiceActivityDetector,
    video: Option<(Arc<I420Frame>, u64)>,
    synthetic: Option<(Synthetic, SimulcastPublisher)>,
    /// The decoder of a native participant's simulcast stream.
    ingest: Option<NativeIngest>,
    /// A WebRTC viewer's receive slots (it gets forwarded streams, no layout).
    forward: Option<forwarding::Forwarding>,
    assigner: TileAssigner,
    /// The layout this viewer saw last.
    layout: Option<LayoutKey>,
    /// The encoder whose stream this viewer receives (a switch to another needs a keyframe).
    encoder: Option<EncoderId>,
    wants_keyframe: bool,
    /// Muted by the caller (`*6`): left out of the mix, silent for speaker ranking.
    muted: bool,
    /// Order of arrival: who has not spoken yet gets a tile in this order.
    joined: u64,
    /// A Tessera link: the far node's participants it carries ([`link`]).
    link: Option<link::Link>,
    /// One of the far node's participants: the link it came over.
    via_link: Option<MediaParticipant>,
    /// Whether this participant's picture was in some layout at the last layout frame (what the
    /// call was last told through [`CallFeed::Shown`]).
    shown: bool,
    /// The biggest tile the call was last told its picture fills ([`CallFeed::Tile`]; inner
    /// `None`: needed whole).
    tile: Option<Option<(u32, u32)>>,
}

/// What makes two viewers' pictures identical: format (size, and the NAL limit of
/// packetization-mode 0), layout, who fills which tile, who is highlighted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LayoutKey {
    format: VideoFormat,
    kind: LayoutKind,
    tiles: Vec<Option<MediaParticipant>>,
    highlight: Option<MediaParticipant>,
    /// Drawn without borders, labels or highlight (a cascade link's picture,
    /// [`LayoutMode::is_bare`](mixer::layout::LayoutMode::is_bare)).
    bare: bool,
}

/// Names one of the engine's encoders.
type EncoderId = u64;

struct SharedEncoder {
    /// The picture it encodes now (re-aimed as the picture its viewers should see changes).
    key: LayoutKey,
    compositor: Compositor,
    encoder: H264Encoder,
    grid: TileGrid,
    last_used: Instant,
    last_keyframe: Option<Instant>,
}

/// One meeting's media state. See the module doc.
pub struct MeetingMedia {
    config: EngineConfig,
    started: Instant,
    participants: BTreeMap<MediaParticipant, Participant>,
    ranking: SpeakerRanking,
    mixer: NMinusOneMixer,
    /// What the engine asks of external native publishers (keyframes, layers to send).
    publisher_requests: VecDeque<PublisherRequest>,
    encoders: HashMap<EncoderId, SharedEncoder>,
    next_encoder_id: EncoderId,
    /// This engine's share of the `tessera_layout_encoders` gauge.
    encoders_published: i64,
    /// This engine's share of the `tessera_webrtc_forwarded_streams` gauge.
    forwarded_published: i64,
    /// Calls relaying their stream to WebRTC viewers; keyframe requests for forwarding.
    relays: relay::Relays,
    /// Who talked when: the order tiles and slots are filled in.
    selection: selection::Selection,
    next_frame_id: u64,
    next_join: u64,
    next_audio: Instant,
    next_video: Instant,
    next_synthetic: Instant,
    metrics: Option<Metrics>,
    /// Where the encoders' CPU time is added up for the gateway's automatic capacity (`None`
    /// in tests, which run on a virtual clock).
    load: Option<LoadMeter>,
}

impl MeetingMedia {
    /// An engine with nobody in it; `now` starts its clocks.
    pub fn new(config: EngineConfig, now: Instant, metrics: Option<Metrics>) -> Self {
        MeetingMedia {
            config,
            started: now,
            participants: BTreeMap::new(),
            ranking: SpeakerRanking::new(),
            mixer: NMinusOneMixer::new(),
            encoders: HashMap::new(),
            publisher_requests: VecDeque::new(),
            next_encoder_id: 1,
            encoders_published: 0,
            forwarded_published: 0,
            relays: relay::Relays::default(),
            selection: selection::Selection::default(),
            next_frame_id: 1,
            next_join: 0,
            next_audio: now,
            next_video: now,
            next_synthetic: now,
            metrics,
            load: None,
        }
    }

    /// Adds the CPU time this engine's encoders use to `load`, which the driver turns into the
    /// gateway's encoder load.
    #[must_use]
    pub fn with_load_meter(mut self, load: LoadMeter) -> Self {
        self.load = Some(load);
        self
    }

    /// Counts `n` media items dropped on the way (`what`: the `tessera_media_dropped_total`
    /// label).
    fn dropped(&self, what: &str, n: u64) {
        if let (Some(m), true) = (&self.metrics, n > 0) {
            m.media_dropped_total.with_label_values(&[what]).inc_by(n);
        }
    }

    /// What the input queue dropped before the engine took it: counted; a native stream that
    /// lost access units waits for its next keyframe (and asks for one).
    pub fn input_dropped(&mut self, drops: InputDrops, losses: &[(MediaParticipant, usize)]) {
        self.dropped("engine_audio", drops.audio);
        self.dropped("engine_picture", drops.pictures);
        self.dropped("engine_native", drops.native);
        for &(participant, layer) in losses {
            if let Some(ingest) = self
                .participants
                .get_mut(&participant)
                .and_then(|p| p.ingest.as_mut())
            {
                ingest.on_lost(layer);
            }
            self.forward_lost(participant, layer);
        }
    }

    /// Sends `item` to a call's feed: counts what the feed dropped, and makes the viewer's next
    /// picture a keyframe when the feed waits for one. A call whose task has gone is left to its
    /// `Leave`.
    fn send_feed(&mut self, participant: MediaParticipant, item: CallFeed) {
        let Some(p) = self.participants.get_mut(&participant) else {
            return;
        };
        let Some(Ok(sent)) = p.feed.as_ref().map(|feed| feed.send(item)) else {
            return;
        };
        if sent.needs_keyframe {
            p.wants_keyframe = true;
        }
        self.dropped("audio", u64::from(sent.audio_dropped));
        self.dropped("video", u64::from(sent.video_dropped));
    }

    /// Adds a synthetic participant (the `index`-th of `count`), counting what it publishes
    /// into `stats`.
    pub fn add_synthetic(
        &mut self,
        participant: MediaParticipant,
        name: String,
        index: u32,
        count: u32,
        stats: Arc<MediaStats>,
    ) {
        let layers = mixer::simulcast::LADDER;
        let fps = self.config.synthetic_fps.max(1);
        let mut p = Participant::new(name, None, None);
        p.synthetic = Some((
            Synthetic::new(index, count).counting_into(stats),
            SimulcastPublisher::new(&layers, fps),
        ));
        p.ingest = Some(NativeIngest::new(NativeStream {
            layers: layers.to_vec(),
            fps,
            temporal_layers: self.config.synthetic_temporal_layers.max(1),
        }));
        self.insert(participant, p);
    }

    /// Adds a participant, stamped with its order of arrival.
    fn insert(&mut self, id: MediaParticipant, mut p: Participant) {
        p.joined = self.next_join;
        self.next_join += 1;
        self.participants.insert(id, p);
    }

    /// What the decoder of a native participant's stream did so far.
    pub fn ingest_stats(&self, participant: MediaParticipant) -> Option<IngestStats> {
        self.participants
            .get(&participant)?
            .ingest
            .as_ref()
            .map(NativeIngest::stats)
    }

    /// The next request to an external native publisher (a keyframe of a layer, the layers to
    /// send); the driver forwards it to the publisher.
    #[must_use]
    pub fn poll_publisher_request(&mut self) -> Option<PublisherRequest> {
        self.publisher_requests.pop_front()
    }

    /// Decodes (or drops) an access unit of a native participant's encoding `layer`.
    fn native_video(&mut self, participant: MediaParticipant, layer: usize, access_unit: &[u8]) {
        let Some(p) = self.participants.get_mut(&participant) else {
            return;
        };
        let Some(ingest) = &mut p.ingest else { return };
        match ingest.on_access_unit(layer, access_unit) {
            Ok(Some(frame)) => {
                p.video = Some((Arc::new(frame), self.next_frame_id));
                self.next_frame_id += 1;
                if let (Some(m), true) = (&self.metrics, p.forward.is_some()) {
                    // Which of a browser's layers feeds the VTCs' layouts.
                    m.webrtc_ingest_decoded_total
                        .with_label_values(&[&layer.to_string()])
                        .inc();
                }
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(participant, layer, error = %e, "native decode failed"),
        }
    }

    /// Forgets a participant who left.
    fn remove_participant(&mut self, participant: MediaParticipant) {
        self.unpublish_link(participant);
        self.participants.remove(&participant);
        self.ranking.remove(ParticipantId(participant));
        self.relays.remove(participant);
        self.selection.remove(ParticipantId(participant));
    }

    /// How many take part.
    pub fn len(&self) -> usize {
        self.participants.len()
    }

    /// How many shared encoders (distinct layouts) the engine holds.
    pub fn encoder_count(&self) -> usize {
        self.encoders.len()
    }

    /// Whether nobody takes part.
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// Takes one input.
    pub fn handle_input(&mut self, input: EngineInput) {
        match input {
            EngineInput::Join {
                participant,
                display_name,
                feed,
                video_format,
            } => {
                self.insert(
                    participant,
                    Participant::new(display_name, feed, video_format),
                );
            }
            EngineInput::Leave { participant } => {
                // A link takes the far node's participants with it.
                for remote in self.link_remotes(participant) {
                    self.remove_participant(remote);
                }
                self.remove_participant(participant);
            }
            EngineInput::LinkViewer { participant, hub } => self.link_viewer(participant, hub),
            EngineInput::LinkRoster {
                participant,
                streams,
            } => self.link_roster(participant, streams),
            EngineInput::LinkVideo {
                participant,
                ssrc,
                timestamp,
                access_unit,
            } => self.link_video(participant, ssrc, timestamp, &access_unit),
            EngineInput::Audio { participant, pcm } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    if pcm.len() == FRAME_SAMPLES {
                        let full = p.audio.len() == AUDIO_QUEUE;
                        if full {
                            p.audio.pop_front();
                        }
                        p.audio.push_back(pcm);
                        if full {
                            self.dropped("engine_audio", 1);
                        }
                    }
                }
            }
            EngineInput::JoinNative {
                participant,
                display_name,
                stream,
            } => {
                let mut p = Participant::new(display_name, None, None);
                p.ingest = Some(NativeIngest::new(stream));
                self.insert(participant, p);
            }
            EngineInput::JoinWebrtc {
                participant,
                display_name,
                feed,
                stream,
            } => {
                let mut p = Participant::new(display_name, Some(feed), None);
                p.ingest = Some(NativeIngest::new(stream));
                p.forward = Some(forwarding::Forwarding::new());
                p.assigner = TileAssigner::new(forwarding::SLOTS);
                self.insert(participant, p);
            }
            EngineInput::Tiles { participant, sizes } => {
                if let Some(f) = self
                    .participants
                    .get_mut(&participant)
                    .and_then(|p| p.forward.as_mut())
                {
                    f.set_tiles(&sizes);
                }
            }
            EngineInput::Bandwidth { participant, bps } => {
                if let Some(f) = self
                    .participants
                    .get_mut(&participant)
                    .and_then(|p| p.forward.as_mut())
                {
                    f.set_bandwidth(bps);
                }
            }
            EngineInput::SlotKeyframe { participant, slot } => {
                if let Some(f) = self
                    .participants
                    .get_mut(&participant)
                    .and_then(|p| p.forward.as_mut())
                {
                    f.slot_lost(slot);
                }
            }
            EngineInput::NativeVideo {
                participant,
                layer,
                timestamp,
                access_unit,
            } => {
                self.native_video(participant, layer, &access_unit);
                self.relay_unit(participant, layer, timestamp, &access_unit);
            }
            EngineInput::Video { participant, frame } => {
                let id = self.next_frame_id;
                self.next_frame_id += 1;
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.video = Some((frame, id));
                }
            }
            EngineInput::AddSynthetic {
                participant,
                display_name,
                index,
                count,
                stats,
            } => self.add_synthetic(participant, display_name, index, count, stats),
            EngineInput::KeyframeRequest { participant } => {
                self.link_keyframe(participant);
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.wants_keyframe = true;
                }
            }
            EngineInput::Mute { participant, muted } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.muted = muted;
                }
            }
            EngineInput::SetLayout { participant, mode } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.assigner = TileAssigner::with_mode(mode);
                    p.wants_keyframe = true;
                }
            }
            EngineInput::VideoFormat {
                participant,
                video_format,
            } => {
                // The layout key carries the format, so the viewer moves to (or makes) the
                // encoder of its layout in the new class; the keyframe starts it there.
                if let Some(p) = self.participants.get_mut(&participant) {
                    if p.video_format.is_some_and(|f| f != video_format) {
                        p.video_format = Some(video_format);
                        p.wants_keyframe = true;
                    }
                }
            }
            EngineInput::Shutdown => {
                let ids: Vec<MediaParticipant> = self.participants.keys().copied().collect();
                for id in ids {
                    self.unpublish_link(id);
                }
                self.participants.clear();
                self.encoders.clear();
                self.publish_encoder_count();
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Instant {
        self.next_audio.min(self.next_video)
    }

    /// Runs every tick due at `now`. A video tick more than a frame late is skipped rather than
    /// run twice: an overloaded engine drops pictures instead of falling further behind. Audio
    /// ticks late behind a slow picture are all run (up to [`AUDIO_QUEUE`] of them, what each
    /// input queue holds): a skipped audio tick is a 20 ms hole in every listener's mix and a
    /// frame dropped from every speaker's queue, where one more mix costs little.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut late = 0;
        while now >= self.next_audio && late < AUDIO_QUEUE {
            self.audio_tick(now);
            self.next_audio += AUDIO_TICK;
            late += 1;
        }
        if now >= self.next_audio {
            // Further behind than the queues reach: start again from now.
            self.next_audio = catch_up(self.next_audio, AUDIO_TICK, now);
        }
        if now >= self.next_video {
            let frame_time = Duration::from_secs(1) / self.config.fps.max(1);
            if let Err(e) = self.video_tick(now) {
                tracing::warn!(error = %e, "layout frame failed");
            }
            self.next_video = catch_up(self.next_video, frame_time, now);
        }
    }

    fn has_audience(&self) -> bool {
        self.participants.values().any(|p| p.feed.is_some())
    }

    /// One 20 ms frame: everyone's audio in, activity ranked, every listener's mix out.
    pub fn audio_tick(&mut self, now: Instant) {
        if !self.has_audience() {
            return;
        }
        let t = now.saturating_duration_since(self.started);
        let mut frames: Vec<(MediaParticipant, Vec<i16>)> =
            Vec::with_capacity(self.participants.len());
        let mut activity = Vec::with_capacity(self.participants.len());
        for (&id, p) in &mut self.participants {
            let pcm = match &mut p.synthetic {
                Some((s, _)) => {
                    let mut buf = vec![0; FRAME_SAMPLES];
                    s.audio(t, &mut buf);
                    Some(buf)
                }
                None => p.audio.pop_front(),
            };
            // A muted participant's audio is consumed (the queue keeps moving) but goes nowhere.
            let pcm = pcm.filter(|_| !p.muted);
            let silent;
            let samples = match &pcm {
                Some(s) => s.as_slice(),
                None => {
                    silent = [0i16; FRAME_SAMPLES];
                    &silent[..]
                }
            };
            activity.push((p.joined, ParticipantId(id), p.vad.process(samples)));
            if let Some(pcm) = pcm {
                frames.push((id, pcm));
            }
        }
        // The ranking keeps who never talked in the order it first meets them: join order.
        activity.sort_unstable_by_key(|(joined, _, _)| *joined);
        let mut activity: Vec<_> = activity.into_iter().map(|(_, id, a)| (id, a)).collect();
        self.far_speakers_talk(&mut activity);
        self.ranking.update(&activity);
        self.selection
            .heard(now, activity.iter().map(|(id, a)| (*id, a.active)));
        let inputs: Vec<MixInput<'_>> = frames
            .iter()
            .map(|(id, pcm)| MixInput {
                participant: ParticipantId(*id),
                samples: pcm,
            })
            .collect();
        if let Err(e) = self.mixer.mix(&inputs) {
            tracing::warn!(error = %e, "audio mix failed");
            return;
        }
        let listeners: Vec<MediaParticipant> = self
            .participants
            .iter()
            .filter(|(_, p)| p.feed.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in listeners {
            let mut out = vec![0; FRAME_SAMPLES];
            if self.mixer.render_for(ParticipantId(id), &mut out).is_ok() {
                self.send_feed(id, CallFeed::Audio(out));
            }
        }
    }

    /// One layout frame: for each viewer, who goes where; one composite and one encode per
    /// distinct picture; the access unit to every viewer of it.
    pub fn video_tick(&mut self, now: Instant) -> Result<(), EngineError> {
        let viewers: Vec<MediaParticipant> = self
            .participants
            .iter()
            .filter(|(_, p)| p.feed.is_some() && p.video_format.is_some())
            .map(|(id, _)| *id)
            .collect();
        // Idle encoders go first, also when nobody watches any more: returning before this
        // kept every encoder (and its compositor) of a meeting whose callers had all hung up
        // for as long as the engine ran (synthetic participants keep it running).
        self.encoders
            .retain(|_, e| now.saturating_duration_since(e.last_used) < IDLE_ENCODER);
        let forwarding = self.participants.values().any(|p| p.forward.is_some());
        if viewers.is_empty() && !forwarding {
            self.publish_encoder_count();
            self.publish_forwarded_count();
            return Ok(());
        }
        let ranked: Vec<ParticipantId> = {
            let mut ranked = self.ranking.ranked().to_vec();
            // Anyone the ranking has not met yet (no audio frame so far) still gets a tile, in
            // order of arrival: the meeting's first participants before those who dial in later.
            let known: HashSet<ParticipantId> = ranked.iter().copied().collect();
            let mut unranked: Vec<(u64, MediaParticipant)> = self
                .participants
                .iter()
                .filter(|(id, _)| !known.contains(&ParticipantId(**id)))
                .map(|(id, p)| (p.joined, *id))
                .collect();
            unranked.sort_unstable();
            ranked.extend(unranked.into_iter().map(|(_, id)| ParticipantId(id)));
            // A Tessera link has no picture of its own: the far node's people have the tiles.
            ranked.retain(|id| !self.is_link(id.0));
            // People with a picture: a browser (it publishes simulcast), a call that sent video,
            // a far node's participant whose stream comes over its link. The last is decoded
            // only once it has a tile (`ingest`), so its stream arriving is what counts: asking
            // for a decoded picture left it behind voice-only callers for good, out of every
            // layout of a meeting with more than nine others.
            let people = |p: ParticipantId| {
                self.participants.get(&p.0).is_some_and(|q| {
                    q.synthetic.is_none()
                        && (q.forward.is_some()
                            || q.video.is_some()
                            || (q.via_link.is_some() && self.relays.arriving(p.0, now)))
                })
            };
            self.selection.order(now, &ranked, people)
        };
        let dominant = self.ranking.dominant().map(|p| p.0);
        let mut groups: HashMap<LayoutKey, Vec<MediaParticipant>> = HashMap::new();
        for &viewer in &viewers {
            let Some(p) = self.participants.get_mut(&viewer) else {
                continue;
            };
            let Some(format) = p.video_format else {
                continue;
            };
            let tiles: Vec<Option<MediaParticipant>> = p
                .assigner
                .assign(&ranked, Some(ParticipantId(viewer)))
                .iter()
                .map(|s| s.map(|id| id.0))
                .collect();
            // A cascade link's bridge lays our picture out as one of its own tiles: no ring.
            let bare = p.assigner.mode().is_bare();
            let highlight = dominant.filter(|d| !bare && tiles.contains(&Some(*d)));
            let key = LayoutKey {
                format,
                kind: p.assigner.kind(),
                tiles,
                highlight,
                bare,
            };
            p.layout = Some(key.clone());
            groups.entry(key).or_default().push(viewer);
        }
        self.plan_forwarding(&ranked);
        self.publish_link_streams(now);
        self.update_relays(now);
        let needs = self.tile_needs(groups.keys());
        self.update_ingest(now, &needs);
        self.tell_shown(&needs);
        self.publish_synthetic(now);
        self.publish_forwarded_count();
        let timestamp =
            (now.saturating_duration_since(self.started).as_secs_f64() * VIDEO_CLOCK) as u64 as u32;
        // Larger audiences pick their encoder first, so when a group splits the most viewers keep
        // their stream; ties in viewer order, so runs are deterministic.
        let mut groups: Vec<(LayoutKey, Vec<MediaParticipant>)> = groups.into_iter().collect();
        groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.1.cmp(&b.1)));
        // Streams someone watched last frame: only the rest may be taken over by a stranger.
        let watched: HashSet<EncoderId> = viewers
            .iter()
            .filter_map(|v| self.participants.get(v).and_then(|p| p.encoder))
            .collect();
        let mut claimed: HashSet<EncoderId> = HashSet::new();
        for (key, members) in groups {
            let id = self.encoder_for(now, &key, &members, &watched, &claimed)?;
            claimed.insert(id);
            let mut force = false;
            for m in &members {
                if let Some(p) = self.participants.get_mut(m) {
                    if p.encoder != Some(id) {
                        // Joining a stream midway: its next picture must be a keyframe.
                        p.encoder = Some(id);
                        p.wants_keyframe = true;
                    }
                    force |= p.wants_keyframe;
                }
            }
            let Some(frame) = self.render_layout(now, id, force)? else {
                continue;
            };
            if frame.keyframe {
                for m in &members {
                    if let Some(p) = self.participants.get_mut(m) {
                        p.wants_keyframe = false;
                    }
                }
            }
            for &m in &members {
                self.send_feed(
                    m,
                    CallFeed::Video {
                        frame: frame.clone(),
                        timestamp,
                    },
                );
            }
        }
        self.publish_encoder_count();
        Ok(())
    }

    /// Brings the gateway-wide forwarded-streams gauge up to date with this engine's count.
    fn publish_forwarded_count(&mut self) {
        let count = i64::try_from(self.forwarded_streams()).unwrap_or(i64::MAX);
        if let Some(m) = &self.metrics {
            m.webrtc_forwarded_streams
                .add(count - self.forwarded_published);
        }
        self.forwarded_published = count;
    }

    /// Brings the gateway-wide encoder gauge up to date with this engine's count (engines add
    /// their own changes, so several meetings add up).
    fn publish_encoder_count(&mut self) {
        let count = i64::try_from(self.encoders.len()).unwrap_or(i64::MAX);
        if let Some(m) = &self.metrics {
            m.layout_encoders.add(count - self.encoders_published);
        }
        self.encoders_published = count;
    }

    /// The encoder for the viewers `members`, who should see `key`, aimed at `key`: the one most
    /// of them watched last frame (their stream carries on, no keyframe needed); else one nobody
    /// watched, preferably one that still shows `key`; else a new one. `claimed` encoders serve
    /// other groups this frame; an encoder only ever changes picture, never size.
    fn encoder_for(
        &mut self,
        now: Instant,
        key: &LayoutKey,
        members: &[MediaParticipant],
        watched: &HashSet<EncoderId>,
        claimed: &HashSet<EncoderId>,
    ) -> Result<EncoderId, EngineError> {
        // An encoder's format (size, slice limit) is fixed: a mode-0 viewer never takes over an
        // encoder that cuts whole-picture slices, nor a mode-1 viewer a size-limited one.
        // Nor does a bare encoder (no borders or labels) take over a decorated one.
        let free = |id: &EncoderId, e: &SharedEncoder| {
            !claimed.contains(id) && e.key.format == key.format && e.key.bare == key.bare
        };
        let mut previous: HashMap<EncoderId, usize> = HashMap::new();
        for m in members {
            if let Some(id) = self.participants.get(m).and_then(|p| p.encoder) {
                *previous.entry(id).or_default() += 1;
            }
        }
        let followed = previous
            .into_iter()
            .filter(|(id, _)| self.encoders.get(id).is_some_and(|e| free(id, e)))
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(id, _)| id);
        let unwatched = || {
            self.encoders
                .iter()
                .filter(|(id, e)| free(id, e) && !watched.contains(id))
                .min_by_key(|(id, e)| (e.key != *key, **id))
                .map(|(id, _)| *id)
        };
        if let Some(id) = followed.or_else(unwatched) {
            if let Some(shared) = self.encoders.get_mut(&id) {
                if shared.key != *key {
                    let kind = key.kind;
                    if shared.grid.kind() != kind {
                        let (width, height) = key.format.size;
                        shared.grid = TileGrid::new(kind, width, height)?;
                    }
                    shared.key = key.clone();
                }
            }
            return Ok(id);
        }
        let (width, height) = key.format.size;
        let bitrate = encoder_bitrate(self.config.bitrate_bps, key.format.size);
        let shared = SharedEncoder {
            key: key.clone(),
            compositor: Compositor::new(if key.bare {
                CompositorConfig {
                    border: 0,
                    labels: false,
                    ..CompositorConfig::default()
                }
            } else {
                CompositorConfig::default()
            })?,
            encoder: H264Encoder::new(EncoderConfig {
                width,
                height,
                fps: self.config.fps as f32,
                bitrate_bps: bitrate,
                max_nal_bytes: key.format.max_nal_bytes,
                ..EncoderConfig::hd720()
            })?,
            grid: layout_grid(key)?,
            last_used: now,
            last_keyframe: None,
        };
        let id = self.next_encoder_id;
        self.next_encoder_id += 1;
        self.encoders.insert(id, shared);
        Ok(id)
    }

    /// Composites and encodes encoder `id`'s picture; `None` when the encoder skipped the frame.
    fn render_layout(
        &mut self,
        now: Instant,
        id: EncoderId,
        keyframe_wanted: bool,
    ) -> Result<Option<Arc<EncodedFrame>>, EngineError> {
        let participants = &self.participants;
        let Some(shared) = self.encoders.get_mut(&id) else {
            return Ok(None);
        };
        shared.last_used = now;
        let key = &shared.key;
        let contents: Vec<Option<TileContent<'_>>> = key
            .tiles
            .iter()
            .map(|slot| {
                let id = (*slot)?;
                let p = participants.get(&id)?;
                Some(TileContent {
                    participant: ParticipantId(id),
                    name: &p.name,
                    video: p.video.as_ref().map(|(frame, frame_id)| VideoSource {
                        frame,
                        frame_id: *frame_id,
                    }),
                })
            })
            .collect();
        let canvas =
            shared
                .compositor
                .compose(&shared.grid, &contents, key.highlight.map(ParticipantId))?;
        let fresh = shared.last_keyframe.is_none();
        let allowed = shared
            .last_keyframe
            .is_none_or(|at| now.saturating_duration_since(at) >= KEYFRAME_GAP);
        let force = fresh || (keyframe_wanted && allowed);
        let encoded = match &self.load {
            Some(load) => {
                let (encoded, spent) = load.measure(|| shared.encoder.encode(canvas, force));
                if let Some(m) = &self.metrics {
                    m.encoder_seconds.observe(spent.as_secs_f64());
                }
                encoded?
            }
            None => shared.encoder.encode(canvas, force)?,
        };
        if encoded.data.is_empty() {
            return Ok(None);
        }
        if encoded.keyframe {
            shared.last_keyframe = Some(now);
        }
        if let Some(m) = &self.metrics {
            m.video_frames_encoded_total.inc();
        }
        Ok(Some(Arc::new(encoded)))
    }

    /// The biggest tile each participant fills in `layouts`, and the frame rate that tile needs.
    fn tile_needs<'a>(
        &self,
        layouts: impl Iterator<Item = &'a LayoutKey>,
    ) -> HashMap<MediaParticipant, ((u32, u32), u32)> {
        let mut needs: HashMap<MediaParticipant, ((u32, u32), u32)> = HashMap::new();
        for key in layouts {
            let Ok(grid) = layout_grid(key) else { continue };
            for (slot, rect) in key.tiles.iter().zip(grid.tiles()) {
                let Some(id) = slot else { continue };
                let size = (rect.width, rect.height);
                let fps = mixer::simulcast::tile_fps(size, key.format.size, self.config.fps);
                let need = needs.entry(*id).or_insert((size, fps));
                if rect.area() > u64::from(need.0 .0) * u64::from(need.0 .1) {
                    need.0 = size;
                }
                need.1 = need.1.max(fps);
            }
        }
        needs
    }

    /// Tells each call whose picture went into or out of every layout (a call whose VTC nobody
    /// sees stops decoding it, and asks for a keyframe when it is shown again), and the biggest
    /// tile it fills when that changes (the call asks its VTC for the rate that tile needs).
    fn tell_shown(&mut self, needs: &HashMap<MediaParticipant, ((u32, u32), u32)>) {
        // Forwarded to a WebRTC viewer counts as shown, and needs the whole picture: the call
        // keeps its stream going as it is.
        let forwarded = self.forwarded_layers();
        for (id, p) in &mut self.participants {
            let Some(feed) = &p.feed else { continue };
            let tile = if forwarded.contains_key(id) {
                Some(None)
            } else {
                needs.get(id).map(|(size, _)| Some(*size))
            };
            let now_shown = tile.is_some();
            // Notices are never dropped; a call that has gone is left to its `Leave`.
            if now_shown != p.shown {
                p.shown = now_shown;
                let _ = feed.send(CallFeed::Shown(now_shown));
            }
            if let Some(tile) = tile.filter(|t| p.tile != Some(*t)) {
                p.tile = Some(tile);
                let _ = feed.send(CallFeed::Tile(tile));
            }
        }
    }

    /// Tells every native stream's decoder the biggest tile it fills (`needs`) and the rate
    /// that tile needs (nothing when shown nowhere), and queues keyframe requests.
    fn update_ingest(
        &mut self,
        now: Instant,
        needs: &HashMap<MediaParticipant, ((u32, u32), u32)>,
    ) {
        let forwarded = self.forwarded_layers();
        let sent = self.forward_ladders();
        let mut from_links = Vec::new();
        for (&id, p) in &mut self.participants {
            let Some(ingest) = &mut p.ingest else {
                continue;
            };
            if let (Some(ladder), None) = (sent.get(&id), &p.synthetic) {
                ingest.set_sent(ladder.clone());
            }
            let before = ingest.subscribed();
            ingest.want(needs.get(&id).copied());
            let keyframe = ingest.poll_keyframe_request(now);
            let layers = ingest.subscribed();
            match &mut p.synthetic {
                Some((_, publisher)) => {
                    let forward_keyframes = forwarded.get(&id).map(|(_, k)| k.iter().copied());
                    for layer in keyframe
                        .into_iter()
                        .chain(forward_keyframes.into_iter().flatten())
                    {
                        publisher.request_keyframe(layer);
                    }
                }
                None if p.forward.is_some() => {
                    // A browser: the request goes to its driver, which asks the browser (PLI).
                    if let (Some(layer), Some(feed)) = (keyframe, &p.feed) {
                        let _ = feed.send(CallFeed::PublisherKeyframe(layer));
                    }
                }
                // One of a far node's participants: its link asks the far node.
                None if p.via_link.is_some() && keyframe.is_some() => from_links.push(id),
                None if p.via_link.is_some() => {}
                None if keyframe.is_some() || layers != before => {
                    self.publisher_requests.push_back(PublisherRequest {
                        participant: id,
                        layers,
                        keyframe,
                    });
                }
                None => {}
            }
        }
        for remote in from_links {
            self.ask_link_for_keyframe(remote);
        }
    }

    /// New pictures from the synthetic participants, at their own (lower) rate: each renders
    /// and encodes the layers the engine subscribed to, and the engine decodes them like any
    /// native stream.
    fn publish_synthetic(&mut self, now: Instant) {
        if now < self.next_synthetic {
            return;
        }
        let step = Duration::from_secs(1) / self.config.synthetic_fps.max(1);
        self.next_synthetic = catch_up(self.next_synthetic, step, now);
        let forwarded = self.forwarded_layers();
        let mut published = Vec::new();
        for (&id, p) in &mut self.participants {
            let (Some((source, publisher)), Some(ingest)) = (&mut p.synthetic, &p.ingest) else {
                continue;
            };
            // What the engine decodes and what WebRTC viewers get forwarded.
            let mut layers = ingest.subscribed();
            layers.extend(forwarded.get(&id).into_iter().flat_map(|(l, _)| l.iter()));
            layers.sort_unstable();
            layers.dedup();
            match publisher.publish(source, &layers) {
                Ok(units) => published.push((id, units)),
                Err(e) => tracing::warn!(error = %e, "synthetic picture failed"),
            }
        }
        let timestamp =
            (now.saturating_duration_since(self.started).as_secs_f64() * VIDEO_CLOCK) as u64 as u32;
        for (id, units) in published {
            for (layer, unit) in units {
                self.native_video(id, layer, &unit.data);
                if !unit.data.is_empty() {
                    self.forward_unit(id, layer, &Arc::new(unit), timestamp);
                }
            }
        }
    }
}

/// An engine that stops (its meeting's last call left) takes its encoders out of the
/// gateway-wide gauge; otherwise every stopped meeting would leave its count behind.
impl Drop for MeetingMedia {
    fn drop(&mut self) {
        if let Some(m) = &self.metrics {
            m.layout_encoders.sub(self.encoders_published);
            m.webrtc_forwarded_streams.sub(self.forwarded_published);
        }
        let links: Vec<MediaParticipant> = self.participants.keys().copied().collect();
        for link in links {
            self.unpublish_link(link);
        }
    }
}

/// An encoder's bit rate: a bit-rate class's own rate at that class's size (scaled like the
/// configured 720p rate is), otherwise the 720p rate scaled by the picture's area.
fn encoder_bitrate(rate_720p: u32, size: (u32, u32)) -> u32 {
    let scale = |fraction: f64| ((f64::from(rate_720p) * fraction) as u32).max(200_000);
    match BitrateClass::of_size(size) {
        Some(class) => {
            scale(class.bitrate_bps() as f64 / BitrateClass::Hd1500.bitrate_bps() as f64)
        }
        None => scale(f64::from(size.0 * size.1) / f64::from(1280 * 720)),
    }
}

/// The tile geometry of a layout (its kind is part of the key: the viewer's layout mode and how
/// many tiles are filled decide it).
fn layout_grid(key: &LayoutKey) -> Result<TileGrid, mixer::LayoutError> {
    TileGrid::new(key.kind, key.format.size.0, key.format.size.1)
}

impl Participant {
    fn new(name: String, feed: Option<FeedSender>, video_format: Option<VideoFormat>) -> Self {
        Participant {
            name,
            feed,
            video_format,
            audio: VecDeque::new(),
            vad: VoiceActivityDetector::new(),
            video: None,
            synthetic: None,
            ingest: None,
            forward: None,
            assigner: TileAssigner::new(9),
            layout: None,
            encoder: None,
            wants_keyframe: true,
            muted: false,
            joined: 0,
            link: None,
            via_link: None,
            shown: true,
            tile: None,
        }
    }
}

/// The next tick after `previous`, skipping ticks already missed by more than one period.
fn catch_up(previous: Instant, period: Duration, now: Instant) -> Instant {
    let next = previous + period;
    if next + period < now {
        now + period
    } else {
        next
    }
}

#[cfg(test)]
mod bitrate_class_tests;
#[cfg(test)]
mod cascade_tests;
#[cfg(test)]
mod link_tests;
#[cfg(test)]
mod relay_tests;
#[cfg(test)]
mod slow_viewer_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_mode0;
