//! The slate studio: the video of callers who cannot see a meeting (entry queue, lobby). One per
//! gateway, run on the media worker pool. Each distinct slate (text and picture size) is drawn once
//! ([`mixer::slate`]) and encoded by one shared H.264 encoder at a low frame rate; every caller
//! watching that slate gets the same access units, so a hundred callers in one lobby cost one
//! encoder, like the meeting engine's shared layouts.
//!
//! Keyframes: a stream starts with an IDR, repeats one every [`SlateConfig::keyframe_interval`]
//! (late joiners, lost packets, room systems that never send PLI), and forces one for a new
//! viewer or a viewer's PLI/FIR, at most once per [`KEYFRAME_GAP`] per stream so one lossy
//! caller cannot make every other caller pay for IDRs. Frames a viewer gets before its first
//! keyframe are its media task's to drop (it gates every change of video source on a keyframe).
//!
//! Owns slate pictures and their encoders. [`SlateStudio`] is sans-IO (time passed in, tested on
//! a virtual clock); [`start`] runs it as a job of the media worker pool ([`super::pool`]), which
//! reads the clock. Feeds to callers are bounded like the engine's ([`super::engine::feed`]): a
//! viewer that reads too slowly drops pictures to the next keyframe, which its stream then makes.
//! It must not touch SIP, sockets or meeting media.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::calls::api::{CallId, Slate};
use crate::metrics::Metrics;
use mixer::codec::h264::{EncoderConfig, H264Encoder};
use mixer::frame::I420Frame;
use mixer::slate::{render_slate, SlateStyle, SlateText};

use super::engine::api::{CallFeed, FeedSender};
use super::h264_rtp::VideoFormat;
use super::pool::{self, Job, Mailbox, MailboxReceiver, Next, Shutdown, Started, WorkerPool};

/// Shortest gap between two keyframes forced on one slate stream by viewers.
pub const KEYFRAME_GAP: Duration = Duration::from_secs(1);
/// How long a slate stream nobody watches is kept (the next caller needs no new render).
const IDLE_STREAM: Duration = Duration::from_secs(30);
/// 90 kHz RTP clock.
const VIDEO_CLOCK: f64 = 90_000.0;

/// How slates are encoded.
#[derive(Debug, Clone, Copy)]
pub struct SlateConfig {
    /// Pictures per second (a still picture needs few; each is a few bytes after the IDR).
    pub fps: u32,
    /// Bit rate target: enough that the IDR keeps the text sharp.
    pub bitrate_bps: u32,
    /// A keyframe at least this often, asked for or not.
    pub keyframe_interval: Duration,
}

impl Default for SlateConfig {
    fn default() -> Self {
        SlateConfig {
            fps: 5,
            bitrate_bps: 600_000,
            keyframe_interval: Duration::from_secs(2),
        }
    }
}

/// What a call's media task tells the studio.
#[derive(Debug)]
pub enum SlateInput {
    /// `viewer` watches `slate` in `format` from now on (replacing what it watched), on `feed`.
    Watch {
        /// The call.
        viewer: CallId,
        /// Which slate.
        slate: Slate,
        /// The call's negotiated video: picture size and, in packetization-mode 0, NAL limit.
        format: VideoFormat,
        /// Where its access units go.
        feed: FeedSender,
    },
    /// `viewer` stops watching.
    Unwatch {
        /// The call.
        viewer: CallId,
    },
    /// `viewer` asked for a keyframe (PLI/FIR).
    KeyframeRequest {
        /// The call.
        viewer: CallId,
    },
    /// Ends the studio's job.
    Shutdown,
}

/// The sending side of the studio's input queue (control only: a few inputs per call). Sending
/// wakes the studio on the media worker pool.
pub type SlateSender = Mailbox<SlateInput>;

/// The receiving side of the studio's input queue: the studio's, or a test's that stands in
/// for it.
pub type SlateReceiver = MailboxReceiver<SlateInput>;

/// A new studio input queue.
#[must_use]
pub fn slate_channel() -> (SlateSender, SlateReceiver) {
    pool::mailbox()
}

/// The text of a slate.
#[must_use]
pub fn slate_text(slate: &Slate) -> SlateText {
    const ENTER: &str = "Enter the conference ID followed by #";
    match slate {
        Slate::EntryQueue {
            tenant,
            retry: false,
        } => SlateText {
            title: ENTER.into(),
            lines: vec![tenant.clone()],
        },
        Slate::EntryQueue {
            tenant,
            retry: true,
        } => SlateText {
            title: "Conference ID not recognised, try again".into(),
            lines: vec![ENTER.into(), tenant.clone()],
        },
        Slate::Lobby { meeting, detail } => SlateText {
            title: "Waiting for the host to let you in".into(),
            lines: vec![meeting.clone(), detail.clone()],
        },
    }
}

/// What makes two viewers' slate video identical (a mode-0 viewer's slate is cut into
/// size-limited slices, so it is a stream of its own).
type StreamKey = (Slate, VideoFormat);

struct Stream {
    picture: I420Frame,
    encoder: H264Encoder,
    last_keyframe: Option<Instant>,
    /// A viewer joined or asked: the next frame allowed to be an IDR is one.
    keyframe_wanted: bool,
    last_used: Instant,
}

struct Viewer {
    key: StreamKey,
    feed: FeedSender,
}

/// Why a slate stream could not be made (logged; the viewer gets no slate video).
#[derive(Debug, thiserror::Error)]
pub enum SlateStudioError {
    /// The picture could not be drawn.
    #[error("slate picture: {0}")]
    Render(#[from] mixer::slate::SlateError),
    /// The encoder refused the size or failed.
    #[error("slate encoder: {0}")]
    Encode(#[from] mixer::codec::h264::CodecError),
}

/// Every slate stream of the gateway. See the module doc.
pub struct SlateStudio {
    config: SlateConfig,
    started: Instant,
    streams: HashMap<StreamKey, Stream>,
    viewers: HashMap<CallId, Viewer>,
    next_frame: Instant,
    /// Counts of work done, for tests and logs.
    stats: StudioStats,
    /// Where pictures dropped by full feeds are counted.
    metrics: Option<Metrics>,
}

/// What the studio has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StudioStats {
    /// Slate pictures drawn (one per distinct slate and size).
    pub rendered: u64,
    /// Pictures encoded (over all streams).
    pub encoded: u64,
    /// Of those, keyframes.
    pub keyframes: u64,
}

impl SlateStudio {
    /// A studio with nothing to show; `now` starts its clock.
    #[must_use]
    pub fn new(config: SlateConfig, now: Instant) -> Self {
        SlateStudio {
            config,
            started: now,
            streams: HashMap::new(),
            viewers: HashMap::new(),
            next_frame: now,
            stats: StudioStats::default(),
            metrics: None,
        }
    }

    /// Counts pictures dropped by viewers' full feeds in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Work done so far.
    #[must_use]
    pub fn stats(&self) -> StudioStats {
        self.stats
    }

    /// How many slate streams exist (watched or idle).
    #[must_use]
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    /// Takes one input.
    pub fn handle_input(&mut self, now: Instant, input: SlateInput) {
        match input {
            SlateInput::Watch {
                viewer,
                slate,
                format,
                feed,
            } => {
                let key = (slate, format);
                if let Err(e) = self.ensure_stream(now, &key) {
                    tracing::warn!(call = %viewer, error = %e, "slate not shown");
                    self.viewers.remove(&viewer);
                    return;
                }
                if let Some(stream) = self.streams.get_mut(&key) {
                    stream.keyframe_wanted = true;
                }
                if self.viewers.is_empty() {
                    // Nobody watched: the frame clock restarts now rather than catching up.
                    self.next_frame = now;
                }
                self.viewers.insert(viewer, Viewer { key, feed });
            }
            SlateInput::Unwatch { viewer } => {
                self.viewers.remove(&viewer);
            }
            SlateInput::KeyframeRequest { viewer } => {
                if let Some(key) = self.viewers.get(&viewer).map(|v| &v.key) {
                    if let Some(stream) = self.streams.get_mut(key) {
                        stream.keyframe_wanted = true;
                    }
                }
            }
            SlateInput::Shutdown => self.viewers.clear(),
        }
    }

    fn ensure_stream(&mut self, now: Instant, key: &StreamKey) -> Result<(), SlateStudioError> {
        if self.streams.contains_key(key) {
            return Ok(());
        }
        let (slate, format) = key;
        let (width, height) = format.size;
        let picture = render_slate(width, height, &slate_text(slate), &SlateStyle::default())?;
        let encoder = H264Encoder::new(EncoderConfig {
            width,
            height,
            fps: self.config.fps as f32,
            bitrate_bps: self.config.bitrate_bps,
            max_nal_bytes: format.max_nal_bytes,
            ..EncoderConfig::hd720()
        })?;
        self.stats.rendered += 1;
        self.streams.insert(
            key.clone(),
            Stream {
                picture,
                encoder,
                last_keyframe: None,
                keyframe_wanted: true,
                last_used: now,
            },
        );
        Ok(())
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work: the next frame while anyone
    /// watches, else nothing.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.viewers.is_empty()).then_some(self.next_frame)
    }

    /// One frame time: every watched stream encodes its picture once and sends it to its
    /// viewers. A tick more than a frame late is skipped rather than run twice.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_frame {
            return;
        }
        let period = Duration::from_secs(1) / self.config.fps.max(1);
        self.next_frame += period;
        if self.next_frame + period < now {
            self.next_frame = now + period;
        }
        let timestamp =
            (now.saturating_duration_since(self.started).as_secs_f64() * VIDEO_CLOCK) as u64 as u32;
        let mut audiences: HashMap<&StreamKey, Vec<&FeedSender>> = HashMap::new();
        for viewer in self.viewers.values() {
            audiences.entry(&viewer.key).or_default().push(&viewer.feed);
        }
        for (key, feeds) in audiences {
            let Some(stream) = self.streams.get_mut(key) else {
                continue;
            };
            stream.last_used = now;
            let due = stream.last_keyframe.is_none_or(|at| {
                now.saturating_duration_since(at) >= self.config.keyframe_interval
            });
            let allowed = stream
                .last_keyframe
                .is_none_or(|at| now.saturating_duration_since(at) >= KEYFRAME_GAP);
            let force = due || (stream.keyframe_wanted && allowed);
            let encoded = match stream.encoder.encode(&stream.picture, force) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(error = %e, "slate frame not encoded");
                    continue;
                }
            };
            if encoded.data.is_empty() {
                continue;
            }
            self.stats.encoded += 1;
            if encoded.keyframe {
                self.stats.keyframes += 1;
                stream.last_keyframe = Some(now);
                stream.keyframe_wanted = false;
            }
            let frame = Arc::new(encoded);
            for feed in feeds {
                // A viewer whose task has ended is dropped by its Unwatch.
                let Ok(sent) = feed.send(CallFeed::Video {
                    frame: frame.clone(),
                    timestamp,
                }) else {
                    continue;
                };
                // A viewer whose feed waits for a keyframe gets one at the next allowed frame.
                stream.keyframe_wanted |= sent.needs_keyframe;
                if let (Some(m), true) = (&self.metrics, sent.video_dropped > 0) {
                    m.media_dropped_total
                        .with_label_values(&["video"])
                        .inc_by(u64::from(sent.video_dropped));
                }
            }
        }
        let watched: Vec<StreamKey> = self.viewers.values().map(|v| v.key.clone()).collect();
        self.streams.retain(|key, s| {
            watched.contains(key) || now.saturating_duration_since(s.last_used) < IDLE_STREAM
        });
    }
}

/// The studio and its input queue, run by the pool.
struct StudioJob {
    studio: SlateStudio,
    inputs: SlateReceiver,
}

impl Job for StudioJob {
    fn run(&mut self, now: Instant) -> Next {
        for _ in 0..self.inputs.len() {
            match self.inputs.try_recv() {
                Some(SlateInput::Shutdown) => return Next::Done,
                Some(input) => self.studio.handle_input(now, input),
                None => break,
            }
        }
        if self.studio.poll_timeout().is_some_and(|at| now >= at) {
            self.studio.handle_timeout(now);
        }
        self.studio.poll_timeout().map_or(Next::Idle, Next::At)
    }
}

/// A running studio: its input queue and its job on the pool.
pub type SlateHandle = Started<SlateInput>;

impl Shutdown for SlateInput {
    fn shutdown() -> Self {
        SlateInput::Shutdown
    }
}

/// Starts `studio` on `pool` (encoding must not stall the async runtime).
pub fn start(pool: &WorkerPool, studio: SlateStudio) -> SlateHandle {
    pool.start(|inputs| StudioJob { studio, inputs })
}

#[cfg(test)]
mod tests;
