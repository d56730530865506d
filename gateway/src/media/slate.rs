//! The slate studio: the video of callers who cannot see a meeting (entry queue, lobby). One per
//! gateway, on its own thread. Each distinct slate (text and picture size) is drawn once
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
//! a virtual clock); [`start`] runs it on a thread, the one place here that reads the clock. It
//! must not touch SIP, sockets or meeting media.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mixer::codec::h264::{EncoderConfig, H264Encoder};
use mixer::frame::I420Frame;
use mixer::slate::{render_slate, SlateStyle, SlateText};
use tokio::sync::mpsc;

use crate::calls::api::{CallId, Slate};

use super::engine::api::CallFeed;
use super::h264_rtp::VideoFormat;

/// Shortest gap between two keyframes forced on one slate stream by viewers.
pub const KEYFRAME_GAP: Duration = Duration::from_secs(1);
/// How long a slate stream nobody watches is kept (the next caller needs no new render).
const IDLE_STREAM: Duration = Duration::from_secs(30);
/// 90 kHz RTP clock.
const VIDEO_CLOCK: f64 = 90_000.0;
/// Longest the thread sleeps with nobody watching (it wakes for inputs anyway).
const IDLE_WAIT: Duration = Duration::from_secs(3600);

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
        feed: mpsc::UnboundedSender<CallFeed>,
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
    /// Ends the studio's thread.
    Shutdown,
}

/// The sending side of the studio's input channel.
pub type SlateSender = std::sync::mpsc::Sender<SlateInput>;

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
    feed: mpsc::UnboundedSender<CallFeed>,
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
        }
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
        let mut audiences: HashMap<&StreamKey, Vec<&mpsc::UnboundedSender<CallFeed>>> =
            HashMap::new();
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
                let _ = feed.send(CallFeed::Video {
                    frame: frame.clone(),
                    timestamp,
                });
            }
        }
        let watched: Vec<StreamKey> = self.viewers.values().map(|v| v.key.clone()).collect();
        self.streams.retain(|key, s| {
            watched.contains(key) || now.saturating_duration_since(s.last_used) < IDLE_STREAM
        });
    }
}

/// A running studio: its input channel and thread.
pub struct SlateHandle {
    /// Where inputs go.
    pub sender: SlateSender,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlateHandle {
    /// Stops the studio and waits for its thread.
    pub fn stop(mut self) {
        let _ = self.sender.send(SlateInput::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts `studio` on its own thread (encoding must not stall the async runtime).
///
/// # Errors
/// The spawn error.
pub fn start(mut studio: SlateStudio) -> std::io::Result<SlateHandle> {
    let (sender, receiver) = std::sync::mpsc::channel::<SlateInput>();
    let thread = std::thread::Builder::new()
        .name("slates".into())
        .spawn(move || {
            // The studio thread is a driver: it owns the clock for the slates' frame times.
            #[allow(clippy::disallowed_methods)]
            let now: fn() -> Instant = Instant::now;
            loop {
                let wait = studio
                    .poll_timeout()
                    .map_or(IDLE_WAIT, |at| at.saturating_duration_since(now()));
                match receiver.recv_timeout(wait) {
                    Ok(SlateInput::Shutdown) => break,
                    Ok(input) => studio.handle_input(now(), input),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
                while let Ok(input) = receiver.try_recv() {
                    if matches!(input, SlateInput::Shutdown) {
                        return;
                    }
                    studio.handle_input(now(), input);
                }
                let t = now();
                if studio.poll_timeout().is_some_and(|at| t >= at) {
                    studio.handle_timeout(t);
                }
            }
        })?;
    Ok(SlateHandle {
        sender,
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests;
