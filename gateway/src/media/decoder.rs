//! The video decoder thread of a call: decodes the access units the call's media state machine
//! passes its keyframe gate, and hands pictures straight to the meeting engine, so they never
//! cross the call task.
//!
//! Decoding is CPU work that must not run on the async runtime's workers: each call that
//! decodes gets one std thread ([`DecoderThread`]) fed by a bounded std channel of access units.
//! One thread per call (rather than `spawn_blocking` per frame) keeps the openh264 decoder's
//! state on one thread and costs no per-frame scheduling; the bounded queue means a decoder that
//! falls behind drops whole access units (then waits for a keyframe) instead of growing memory.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use mixer::codec::h264::H264Decoder;
use tokio::sync::mpsc;
use tracing::{debug, trace};

use super::engine::api::{EngineInput, EngineSender, MediaParticipant};

/// Access units queued for the decoder thread before new ones are dropped.
const DECODE_QUEUE: usize = 8;

/// What the decoder thread reports back to the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoderReport {
    /// The decoder failed: the stream is broken until the next keyframe.
    Failed,
}

/// A job for the decoder thread.
enum DecodeJob {
    /// An access unit (Annex B) to decode.
    Decode(Vec<u8>),
    /// Where decoded pictures go from now on (`None`: nowhere; the thread then stops decoding).
    Target(Option<(EngineSender, MediaParticipant)>),
}

/// A call's decoder thread.
#[derive(Debug)]
pub struct DecoderThread {
    jobs: SyncSender<DecodeJob>,
}

impl std::fmt::Debug for DecodeJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeJob::Decode(au) => write!(f, "Decode({} bytes)", au.len()),
            DecodeJob::Target(t) => write!(f, "Target({:?})", t.as_ref().map(|(_, p)| p)),
        }
    }
}

impl DecoderThread {
    /// Starts the thread. It ends when the handle is dropped.
    ///
    /// # Errors
    /// The spawn error.
    pub fn start(
        name: String,
        reports: mpsc::UnboundedSender<DecoderReport>,
    ) -> std::io::Result<DecoderThread> {
        let (jobs, queue) = sync_channel(DECODE_QUEUE);
        std::thread::Builder::new()
            .name(name)
            .spawn(move || decode_loop(&queue, &reports))?;
        Ok(DecoderThread { jobs })
    }

    /// Points decoded pictures at a meeting engine (or nowhere).
    pub fn set_target(&self, target: Option<(EngineSender, MediaParticipant)>) {
        // Blocking send: targets are rare and must not be lost; the queue drains quickly.
        let _ = self.jobs.send(DecodeJob::Target(target));
    }

    /// Queues an access unit; `false` if the queue is full (the unit was dropped).
    pub fn decode(&self, access_unit: Vec<u8>) -> bool {
        match self.jobs.try_send(DecodeJob::Decode(access_unit)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

fn decode_loop(queue: &Receiver<DecodeJob>, reports: &mpsc::UnboundedSender<DecoderReport>) {
    let mut decoder: Option<H264Decoder> = None;
    let mut target: Option<(EngineSender, MediaParticipant)> = None;
    while let Ok(job) = queue.recv() {
        match job {
            DecodeJob::Target(t) => {
                // A fresh decoder per join: whatever state the old one had is stale.
                decoder = None;
                target = t;
            }
            DecodeJob::Decode(au) => {
                let Some((engine, participant)) = &target else {
                    continue;
                };
                let dec = match &mut decoder {
                    Some(d) => d,
                    None => match H264Decoder::new() {
                        Ok(d) => decoder.insert(d),
                        Err(e) => {
                            debug!(error = %e, "H.264 decoder unavailable");
                            continue;
                        }
                    },
                };
                match dec.decode(&au) {
                    Ok(Some(frame)) => {
                        let input = EngineInput::Video {
                            participant: *participant,
                            frame: Arc::new(frame),
                        };
                        if engine.send(input).is_err() {
                            target = None;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        trace!(error = %e, "H.264 decode failed");
                        if reports.send(DecoderReport::Failed).is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}
