//! The meeting media engine: one per live meeting, on its own thread. Every 20 ms it ranks the
//! speakers (voice activity) and sends each listener the N-1 mix; every video frame time it lays
//! out, for each viewer, the most recent active speakers other than the viewer, composites that
//! layout once per distinct picture, encodes it once and hands the same access unit to every
//! viewer of that picture (shared encoders).
//!
//! Owns mixing, layout and encoding state; takes decoded media in and gives encoded video and raw
//! mixed audio out (the calls' media tasks do RTP and audio encoding). [`MeetingMedia`] is sans-IO
//! (time passed in, tested on a virtual clock); [`start`] runs it on a thread, the one place here
//! that reads the clock. It must not touch SIP or sockets.

pub mod api;
pub mod synthetic;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mixer::codec::h264::{EncodedFrame, EncoderConfig, H264Encoder};
use mixer::compose::{Compositor, CompositorConfig, TileContent, VideoSource};
use mixer::frame::I420Frame;
use mixer::layout::{ParticipantId, TileAssigner, TileGrid};
use mixer::{MixInput, NMinusOneMixer, SpeakerRanking, VoiceActivityDetector};

pub use api::{CallFeed, EngineInput, EngineSender, MediaParticipant};
use synthetic::Synthetic;

use crate::metrics::Metrics;

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
    /// Synthetic participants render this many pictures per second (their tiles need no more).
    pub synthetic_fps: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            fps: 30,
            bitrate_bps: 1_500_000,
            max_tiles: 9,
            synthetic_fps: 15,
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
    feed: Option<tokio::sync::mpsc::UnboundedSender<CallFeed>>,
    video_size: Option<(u32, u32)>,
    audio: VecDeque<Vec<i16>>,
    vad: VoiceActivityDetector,
    video: Option<(Arc<I420Frame>, u64)>,
    synthetic: Option<Synthetic>,
    assigner: TileAssigner,
    /// The layout this viewer saw last (to notice a switch, which needs a keyframe).
    layout: Option<LayoutKey>,
    wants_keyframe: bool,
    /// Muted by the caller (`*6`): left out of the mix, silent for speaker ranking.
    muted: bool,
}

/// What makes two viewers' pictures identical: size, who fills which tile, who is highlighted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LayoutKey {
    size: (u32, u32),
    tiles: Vec<Option<MediaParticipant>>,
    highlight: Option<MediaParticipant>,
}

struct SharedEncoder {
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
    encoders: HashMap<LayoutKey, SharedEncoder>,
    next_frame_id: u64,
    next_audio: Instant,
    next_video: Instant,
    next_synthetic: Instant,
    metrics: Option<Metrics>,
    /// Reads the clock to time the encoder (set by the thread runner; `None` in tests, which
    /// run on a virtual clock).
    clock: Option<fn() -> Instant>,
    /// Where encoding time is added up (nanoseconds) for the gateway's automatic capacity.
    busy: Option<Arc<std::sync::atomic::AtomicU64>>,
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
            next_frame_id: 1,
            next_audio: now,
            next_video: now,
            next_synthetic: now,
            metrics,
            clock: None,
            busy: None,
        }
    }

    /// Adds this engine's encoding time to `busy` (nanoseconds), which the driver turns into the
    /// gateway's encoder load.
    pub fn with_load_meter(mut self, busy: Arc<std::sync::atomic::AtomicU64>) -> Self {
        self.busy = Some(busy);
        self
    }

    /// Adds a synthetic participant (the `index`-th of `count`).
    pub fn add_synthetic(
        &mut self,
        participant: MediaParticipant,
        name: String,
        index: u32,
        count: u32,
    ) {
        let mut p = Participant::new(name, None, None);
        p.synthetic = Some(Synthetic::new(index, count));
        self.participants.insert(participant, p);
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
                video_size,
            } => {
                self.participants.insert(
                    participant,
                    Participant::new(display_name, feed, video_size),
                );
            }
            EngineInput::Leave { participant } => {
                self.participants.remove(&participant);
                self.ranking.remove(ParticipantId(participant));
            }
            EngineInput::Audio { participant, pcm } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    if pcm.len() == FRAME_SAMPLES {
                        if p.audio.len() == AUDIO_QUEUE {
                            p.audio.pop_front();
                        }
                        p.audio.push_back(pcm);
                    }
                }
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
            } => self.add_synthetic(participant, display_name, index, count),
            EngineInput::KeyframeRequest { participant } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.wants_keyframe = true;
                }
            }
            EngineInput::Mute { participant, muted } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.muted = muted;
                }
            }
            EngineInput::SetMaxTiles {
                participant,
                max_tiles,
            } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.assigner = TileAssigner::new(max_tiles);
                    p.wants_keyframe = true;
                }
            }
            EngineInput::Shutdown => self.participants.clear(),
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Instant {
        self.next_audio.min(self.next_video)
    }

    /// Runs every tick due at `now`. A tick more than a frame late is skipped rather than run
    /// twice: an overloaded engine drops frames instead of falling further behind.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next_audio {
            self.audio_tick(now);
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
                Some(s) => {
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
            activity.push((ParticipantId(id), p.vad.process(samples)));
            if let Some(pcm) = pcm {
                frames.push((id, pcm));
            }
        }
        self.ranking.update(&activity);
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
        for (&id, p) in &self.participants {
            let Some(feed) = &p.feed else { continue };
            let mut out = vec![0; FRAME_SAMPLES];
            if self.mixer.render_for(ParticipantId(id), &mut out).is_ok() {
                let _ = feed.send(CallFeed::Audio(out));
            }
        }
    }

    /// One layout frame: for each viewer, who goes where; one composite and one encode per
    /// distinct picture; the access unit to every viewer of it.
    pub fn video_tick(&mut self, now: Instant) -> Result<(), EngineError> {
        let viewers: Vec<MediaParticipant> = self
            .participants
            .iter()
            .filter(|(_, p)| p.feed.is_some() && p.video_size.is_some())
            .map(|(id, _)| *id)
            .collect();
        // Idle encoders go first, also when nobody watches any more: returning before this
        // kept every encoder (and its compositor) of a meeting whose callers had all hung up
        // for as long as the engine ran (synthetic participants keep it running).
        self.encoders
            .retain(|_, e| now.saturating_duration_since(e.last_used) < IDLE_ENCODER);
        if viewers.is_empty() {
            return Ok(());
        }
        self.render_synthetic(now);
        let ranked: Vec<ParticipantId> = {
            let mut ranked = self.ranking.ranked().to_vec();
            // Anyone the ranking has not met yet (no audio frame so far) still gets a tile.
            for id in self.participants.keys() {
                if !ranked.contains(&ParticipantId(*id)) {
                    ranked.push(ParticipantId(*id));
                }
            }
            ranked
        };
        let dominant = self.ranking.dominant().map(|p| p.0);
        let mut groups: HashMap<LayoutKey, Vec<MediaParticipant>> = HashMap::new();
        for &viewer in &viewers {
            let Some(p) = self.participants.get_mut(&viewer) else {
                continue;
            };
            let Some(size) = p.video_size else { continue };
            let tiles: Vec<Option<MediaParticipant>> = p
                .assigner
                .assign(&ranked, Some(ParticipantId(viewer)))
                .iter()
                .map(|s| s.map(|id| id.0))
                .collect();
            let highlight = dominant.filter(|d| tiles.contains(&Some(*d)));
            let key = LayoutKey {
                size,
                tiles,
                highlight,
            };
            if p.layout.as_ref() != Some(&key) {
                // A switch to another (possibly shared) encoder: start with a keyframe.
                p.wants_keyframe = true;
                p.layout = Some(key.clone());
            }
            groups.entry(key).or_default().push(viewer);
        }
        let timestamp =
            (now.saturating_duration_since(self.started).as_secs_f64() * VIDEO_CLOCK) as u64 as u32;
        for (key, members) in groups {
            let force = members
                .iter()
                .any(|m| self.participants.get(m).is_some_and(|p| p.wants_keyframe));
            let Some(frame) = self.render_layout(now, &key, force)? else {
                continue;
            };
            if frame.keyframe {
                for m in &members {
                    if let Some(p) = self.participants.get_mut(m) {
                        p.wants_keyframe = false;
                    }
                }
            }
            for m in &members {
                if let Some(feed) = self.participants.get(m).and_then(|p| p.feed.as_ref()) {
                    let _ = feed.send(CallFeed::Video {
                        frame: frame.clone(),
                        timestamp,
                    });
                }
            }
        }
        Ok(())
    }

    /// Composites and encodes one distinct picture; `None` when the encoder skipped the frame.
    fn render_layout(
        &mut self,
        now: Instant,
        key: &LayoutKey,
        keyframe_wanted: bool,
    ) -> Result<Option<Arc<EncodedFrame>>, EngineError> {
        let (width, height) = key.size;
        if !self.encoders.contains_key(key) {
            let pixels = f64::from(width * height) / f64::from(1280 * 720);
            let bitrate = ((f64::from(self.config.bitrate_bps) * pixels) as u32).max(200_000);
            let kind =
                mixer::LayoutKind::for_count(key.tiles.iter().filter(|t| t.is_some()).count());
            let shared = SharedEncoder {
                compositor: Compositor::new(CompositorConfig::default())?,
                encoder: H264Encoder::new(EncoderConfig {
                    width,
                    height,
                    fps: self.config.fps as f32,
                    bitrate_bps: bitrate,
                    ..EncoderConfig::hd720()
                })?,
                grid: TileGrid::new(kind, width, height)?,
                last_used: now,
                last_keyframe: None,
            };
            self.encoders.insert(key.clone(), shared);
        }
        let participants = &self.participants;
        let Some(shared) = self.encoders.get_mut(key) else {
            return Ok(None);
        };
        shared.last_used = now;
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
        let before = self.clock.map(|read| read());
        let encoded = shared.encoder.encode(canvas, force)?;
        if let (Some(before), Some(read)) = (before, self.clock) {
            let spent = read().saturating_duration_since(before);
            if let Some(m) = &self.metrics {
                m.encoder_seconds.observe(spent.as_secs_f64());
            }
            if let Some(busy) = &self.busy {
                let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
                busy.fetch_add(nanos, std::sync::atomic::Ordering::Relaxed);
            }
        }
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

    /// New pictures from the synthetic participants, at their own (lower) rate.
    fn render_synthetic(&mut self, now: Instant) {
        if now < self.next_synthetic {
            return;
        }
        let step = Duration::from_secs(1) / self.config.synthetic_fps.max(1);
        self.next_synthetic = catch_up(self.next_synthetic, step, now);
        let t = now.saturating_duration_since(self.started);
        for p in self.participants.values_mut() {
            let Some(s) = &p.synthetic else { continue };
            match s.video(t) {
                Ok(frame) => {
                    p.video = Some((Arc::new(frame), self.next_frame_id));
                    self.next_frame_id += 1;
                }
                Err(e) => tracing::warn!(error = %e, "synthetic picture failed"),
            }
        }
    }
}

impl Participant {
    fn new(
        name: String,
        feed: Option<tokio::sync::mpsc::UnboundedSender<CallFeed>>,
        video_size: Option<(u32, u32)>,
    ) -> Self {
        Participant {
            name,
            feed,
            video_size,
            audio: VecDeque::new(),
            vad: VoiceActivityDetector::new(),
            video: None,
            synthetic: None,
            assigner: TileAssigner::new(9),
            layout: None,
            wants_keyframe: true,
            muted: false,
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

/// A running engine: its input channel and thread.
pub struct EngineHandle {
    /// Where inputs go.
    pub sender: EngineSender,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EngineHandle {
    /// Stops the engine and waits for its thread.
    pub fn stop(mut self) {
        let _ = self.sender.send(EngineInput::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts `media` on its own thread (encoding is CPU work that must not stall the async runtime).
pub fn start(mut media: MeetingMedia, name: String) -> std::io::Result<EngineHandle> {
    let (sender, receiver) = std::sync::mpsc::channel::<EngineInput>();
    let thread = std::thread::Builder::new().name(name).spawn(move || {
        // The engine thread is a driver: it owns the clock for its meeting's ticks.
        #[allow(clippy::disallowed_methods)]
        let now: fn() -> Instant = Instant::now;
        media.clock = Some(now);
        loop {
            let wait = media.poll_timeout().saturating_duration_since(now());
            match receiver.recv_timeout(wait) {
                Ok(EngineInput::Shutdown) => break,
                Ok(input) => media.handle_input(input),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
            // Drain what else is queued before working, so a burst of inputs costs one tick.
            while let Ok(input) = receiver.try_recv() {
                if matches!(input, EngineInput::Shutdown) {
                    return;
                }
                media.handle_input(input);
            }
            let t = now();
            if t >= media.poll_timeout() {
                media.handle_timeout(t);
            }
        }
    })?;
    Ok(EngineHandle {
        sender,
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests;
