//! The gateway's video decoder pool: decodes the access units each call's media state machine
//! passes its keyframe gate, off the async runtime, and hands pictures straight to the meeting
//! engine, so they never cross the call task.
//!
//! A fixed set of worker threads sized to the machine
//! ([`std::thread::available_parallelism`]) serves every call: each call's decoder state is
//! pinned to one worker (round robin at first use), so its frames decode in order on one
//! thread, and the thread count does not grow with calls. Each call has a bounded queue
//! ([`DecodeQueue`]) whose drop policy keeps pictures whole: when it is full, access units are
//! dropped up to the next keyframe (never half a picture's references), and the call asks its
//! peer for one.
//!
//! It must not touch sockets or make media decisions: the call's driver decides what to decode
//! and what a drop means.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

use mixer::codec::h264::H264Decoder;
use rtp_session::h264_rtp::is_keyframe;
use tokio::sync::mpsc;
use tracing::{debug, trace, warn};

use super::engine::api::{EngineInput, EngineSender, MediaParticipant};

/// Access units queued per call before the drop policy applies (about a quarter second of
/// 30 fps video: a decoder further behind than that only adds delay).
pub const DECODE_QUEUE: usize = 8;

/// What a decoder reports back to its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoderReport {
    /// The decoder failed: the stream is broken until the next keyframe.
    Failed,
}

/// Where decoded pictures go.
type Target = Option<(EngineSender, MediaParticipant)>;

/// One item of a call's queue.
enum Job {
    /// An access unit (Annex B) to decode.
    Decode(Vec<u8>),
    /// Where pictures go from now on (a fresh decoder starts: the old state is stale).
    Target(Target),
}

/// What [`DecodeQueue::push`] did with an access unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// Queued for decoding.
    Queued,
    /// Queued, after dropping the older access units it supersedes (a keyframe into a full
    /// queue).
    QueuedAfterDropping(usize),
    /// Dropped: the queue is full or waits for a keyframe since it was.
    Dropped,
}

/// One call's bounded queue with a drop policy that keeps pictures whole.
#[derive(Default)]
pub struct DecodeQueue {
    jobs: VecDeque<Job>,
    /// Access units queued (targets do not count against the bound).
    access_units: usize,
    /// The queue overflowed: nothing but a keyframe is taken until one comes.
    dropping: bool,
}

impl DecodeQueue {
    /// Queues an access unit, or drops it by the policy: a full queue drops new access units
    /// up to the next keyframe; a keyframe into a full queue replaces the access units waiting
    /// (they are only references for pictures before it).
    pub fn push(&mut self, access_unit: Vec<u8>) -> Queued {
        let keyframe = is_keyframe(&access_unit);
        let mut dropped = 0;
        if keyframe && (self.dropping || self.access_units >= DECODE_QUEUE) {
            self.dropping = false;
            if self.access_units >= DECODE_QUEUE {
                dropped = self.access_units;
                self.jobs.retain(|j| matches!(j, Job::Target(_)));
                self.access_units = 0;
            }
        } else if self.dropping {
            return Queued::Dropped;
        } else if self.access_units >= DECODE_QUEUE {
            self.dropping = true;
            return Queued::Dropped;
        }
        self.jobs.push_back(Job::Decode(access_unit));
        self.access_units += 1;
        if dropped > 0 {
            Queued::QueuedAfterDropping(dropped)
        } else {
            Queued::Queued
        }
    }

    fn push_target(&mut self, target: Target) {
        self.jobs.push_back(Job::Target(target));
    }

    fn pop(&mut self) -> Option<Job> {
        let job = self.jobs.pop_front()?;
        if matches!(job, Job::Decode(_)) {
            self.access_units -= 1;
        }
        Some(job)
    }
}

/// What a worker is told.
enum Work {
    /// A call's decoder lives on this worker from now on.
    Open {
        id: u64,
        queue: Arc<Mutex<DecodeQueue>>,
        reports: mpsc::Sender<DecoderReport>,
    },
    /// The call's queue has a job.
    Ready(u64),
    /// The call ended.
    Close(u64),
}

/// The pool of decoder threads, one per core.
pub struct DecoderPool {
    workers: Vec<Sender<Work>>,
    next_worker: AtomicUsize,
    next_id: AtomicU64,
}

impl DecoderPool {
    /// The gateway's pool, started on first use.
    pub fn shared() -> &'static DecoderPool {
        static POOL: OnceLock<DecoderPool> = OnceLock::new();
        POOL.get_or_init(|| {
            let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
            DecoderPool::new(threads)
        })
    }

    /// A pool of `threads` workers (at least one; a worker that cannot be spawned is left out).
    fn new(threads: usize) -> DecoderPool {
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads.max(1) {
            let (tx, rx) = channel();
            match std::thread::Builder::new()
                .name(format!("decode-{i}"))
                .spawn(move || worker(&rx))
            {
                Ok(_) => workers.push(tx),
                Err(e) => warn!(error = %e, "decoder worker not started"),
            }
        }
        DecoderPool {
            workers,
            next_worker: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
        }
    }

    /// A decoder for one call, pinned to one worker; `None` if the pool has no worker.
    pub fn open(&self, reports: mpsc::Sender<DecoderReport>) -> Option<Decoder> {
        let n = self.workers.len();
        let worker = self
            .workers
            .get(self.next_worker.fetch_add(1, Ordering::Relaxed) % n.max(1))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let queue = Arc::new(Mutex::new(DecodeQueue::default()));
        worker
            .send(Work::Open {
                id,
                queue: Arc::clone(&queue),
                reports,
            })
            .ok()?;
        Some(Decoder {
            id,
            worker: worker.clone(),
            queue,
        })
    }
}

/// One call's decoder in the pool. Dropping it frees the decoder.
pub struct Decoder {
    id: u64,
    worker: Sender<Work>,
    queue: Arc<Mutex<DecodeQueue>>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("id", &self.id).finish()
    }
}

impl Decoder {
    /// Points decoded pictures at a meeting engine (or nowhere), after what is queued.
    pub fn set_target(&self, target: Target) {
        self.with_queue(|q| q.push_target(target));
        let _ = self.worker.send(Work::Ready(self.id));
    }

    /// Queues an access unit under the drop policy; what became of it.
    pub fn decode(&self, access_unit: Vec<u8>) -> Queued {
        let queued = self
            .with_queue(|q| q.push(access_unit))
            .unwrap_or(Queued::Dropped);
        if queued != Queued::Dropped && self.worker.send(Work::Ready(self.id)).is_err() {
            return Queued::Dropped;
        }
        queued
    }

    fn with_queue<T>(&self, f: impl FnOnce(&mut DecodeQueue) -> T) -> Option<T> {
        // A worker that panicked mid-decode poisons the lock; the queue itself stays whole.
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(f(&mut queue))
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        let _ = self.worker.send(Work::Close(self.id));
    }
}

/// A call's decoder state on its worker.
struct CallDecoder {
    queue: Arc<Mutex<DecodeQueue>>,
    reports: mpsc::Sender<DecoderReport>,
    decoder: Option<H264Decoder>,
    target: Target,
}

fn worker(work: &Receiver<Work>) {
    let mut calls: HashMap<u64, CallDecoder> = HashMap::new();
    while let Ok(item) = work.recv() {
        match item {
            Work::Open { id, queue, reports } => {
                calls.insert(
                    id,
                    CallDecoder {
                        queue,
                        reports,
                        decoder: None,
                        target: None,
                    },
                );
            }
            Work::Close(id) => {
                calls.remove(&id);
            }
            Work::Ready(id) => {
                let Some(call) = calls.get_mut(&id) else {
                    continue;
                };
                let job = call
                    .queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .pop();
                // A stale notice (its job was superseded by a keyframe) finds nothing.
                match job {
                    Some(Job::Target(target)) => {
                        // A fresh decoder per join: whatever state the old one had is stale.
                        call.decoder = None;
                        call.target = target;
                    }
                    Some(Job::Decode(au)) => call.decode(&au),
                    None => {}
                }
            }
        }
    }
}

impl CallDecoder {
    fn decode(&mut self, au: &[u8]) {
        let Some((engine, participant)) = &self.target else {
            return;
        };
        let dec = match &mut self.decoder {
            Some(d) => d,
            None => match H264Decoder::new() {
                Ok(d) => self.decoder.insert(d),
                Err(e) => {
                    debug!(error = %e, "H.264 decoder unavailable");
                    return;
                }
            },
        };
        match dec.decode(au) {
            Ok(Some(frame)) => {
                let input = EngineInput::Video {
                    participant: *participant,
                    frame: Arc::new(frame),
                };
                if engine.send(input).is_err() {
                    self.target = None;
                }
            }
            Ok(None) => {}
            Err(e) => {
                trace!(error = %e, "H.264 decode failed");
                // Full means a failure is already pending: the call asks for one keyframe either way.
                let _ = self.reports.try_send(DecoderReport::Failed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idr() -> Vec<u8> {
        vec![
            0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xCE, 0, 0, 0, 1, 0x65, 0x88,
        ]
    }

    fn delta(n: u8) -> Vec<u8> {
        vec![0, 0, 0, 1, 0x41, 0x9A, n]
    }

    fn queued(q: &mut DecodeQueue) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| q.pop())
            .filter_map(|j| match j {
                Job::Decode(au) => Some(au),
                Job::Target(_) => None,
            })
            .collect()
    }

    #[test]
    fn a_full_queue_drops_deltas_until_the_next_keyframe() {
        let mut q = DecodeQueue::default();
        assert_eq!(q.push(idr()), Queued::Queued);
        for n in 1..DECODE_QUEUE {
            assert_eq!(q.push(delta(n as u8)), Queued::Queued);
        }
        // Full: this delta and every one after it waits for a keyframe, even once room frees.
        assert_eq!(q.push(delta(100)), Queued::Dropped);
        let _ = (q.pop(), q.pop());
        assert_eq!(
            q.push(delta(101)),
            Queued::Dropped,
            "no half picture after a drop"
        );
        assert_eq!(q.push(idr()), Queued::Queued);
        assert_eq!(q.push(delta(102)), Queued::Queued);
        let left = queued(&mut q);
        assert_eq!(left.len(), DECODE_QUEUE - 2 + 2);
        assert!(!left.contains(&delta(100)) && !left.contains(&delta(101)));
        assert_eq!(left[left.len() - 2..], [idr(), delta(102)]);
    }

    #[test]
    fn a_keyframe_into_a_full_queue_replaces_what_waits() {
        let mut q = DecodeQueue::default();
        for n in 0..DECODE_QUEUE {
            let _ = q.push(delta(n as u8));
        }
        q.push_target(None);
        assert_eq!(q.push(idr()), Queued::QueuedAfterDropping(DECODE_QUEUE));
        let jobs: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(jobs.len(), 2, "the target stays, the keyframe follows");
        assert!(matches!(jobs[0], Job::Target(None)));
        assert!(matches!(&jobs[1], Job::Decode(au) if *au == idr()));
    }

    #[test]
    fn targets_do_not_count_against_the_bound() {
        let mut q = DecodeQueue::default();
        for _ in 0..3 * DECODE_QUEUE {
            q.push_target(None);
        }
        for n in 0..DECODE_QUEUE {
            assert_eq!(q.push(delta(n as u8)), Queued::Queued);
        }
    }

    #[test]
    fn the_pool_decodes_a_calls_access_units_in_order_to_its_engine() {
        use mixer::codec::h264::{EncoderConfig, H264Encoder};
        use mixer::frame::I420Frame;

        let pool = DecoderPool::new(2);
        let (reports, _reports_rx) = mpsc::channel(1);
        let decoder = pool.open(reports).expect("a worker");
        let (engine, pictures) = crate::media::engine::api::engine_channel();
        decoder.set_target(Some((engine, 7)));
        let mut encoder = H264Encoder::new(EncoderConfig {
            width: 160,
            height: 96,
            fps: 30.0,
            bitrate_bps: 300_000,
            ..EncoderConfig::hd720()
        })
        .expect("encoder");
        let mut sent = 0;
        for n in 0..5u8 {
            let mut frame = I420Frame::new(160, 96).expect("size");
            for mut plane in frame.planes_mut() {
                plane.fill(n.wrapping_mul(40).wrapping_add(16));
            }
            let au = encoder.encode(&frame, n == 0).expect("encode").data;
            if au.is_empty() {
                continue;
            }
            assert_ne!(decoder.decode(au), Queued::Dropped);
            sent += 1;
        }
        // The engine's inbox keeps only the newest decoded picture of a participant, so a
        // slow reader may miss some; what arrives must come in order, ending with the last.
        assert!(sent > 1, "the encoder produced access units");
        let last_luma = 4u8.wrapping_mul(40).wrapping_add(16);
        let mut lumas = Vec::new();
        while lumas.last().is_none_or(|&l: &u8| l.abs_diff(last_luma) > 8) {
            let input = pictures
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("pictures until the last access unit's");
            let EngineInput::Video {
                participant: 7,
                frame,
            } = input
            else {
                panic!("a decoded picture of participant 7, got {input:?}");
            };
            lumas.push(frame.plane(mixer::frame::PlaneKind::Y).row(48)[80]);
        }
        assert!(
            lumas.windows(2).all(|w| w[0] <= w[1]),
            "decoded in order: {lumas:?}"
        );
    }
}
