//! A meeting engine as a job of the media worker pool ([`crate::media::pool`]): each run takes
//! the drops and losses its input queue recorded, handles the inputs queued when the run began
//! (a bounded amount: inputs that arrive meanwhile wake it again), then runs the ticks that are
//! due, and asks to run again at the engine's next deadline. The pool decides which worker; one
//! engine is never run by two at once.
//!
//! Owns the glue between [`MeetingMedia`] and the pool; it must not hold media decisions.

use std::time::Instant;

use super::api::{engine_channel, EngineInput, EngineReceiver, EngineSender};
use super::MeetingMedia;
use crate::media::pool::{Job, JobHandle, Next, WorkerPool};

/// A meeting engine and its input queue, run by the pool.
struct EngineJob {
    media: MeetingMedia,
    inputs: EngineReceiver,
}

impl Job for EngineJob {
    fn run(&mut self, now: Instant) -> Next {
        let (drops, losses) = self
            .inputs
            .with_policy(|queue| (queue.take_drops(), queue.take_losses()));
        self.media.input_dropped(drops, &losses);
        // Only what was queued when the run began: a flood of inputs cannot hold the worker.
        for _ in 0..self.inputs.len() {
            let Some(input) = self.inputs.try_recv() else {
                break;
            };
            if matches!(input, EngineInput::Shutdown) {
                self.media.handle_input(input);
                return Next::Done;
            }
            self.media.handle_input(input);
        }
        if now >= self.media.poll_timeout() {
            self.media.handle_timeout(now);
        }
        Next::At(self.media.poll_timeout())
    }
}

/// A running engine: its input queue and its job on the pool.
pub struct EngineHandle {
    /// Where inputs go.
    pub sender: EngineSender,
    job: JobHandle,
}

impl EngineHandle {
    /// Stops the engine and waits until it has ended (its current run, an encode, finishes
    /// first; its encoders leave the gauge with it).
    pub fn stop(self) {
        let _ = self.sender.send(EngineInput::Shutdown);
        self.job.join();
    }

    /// Whether the engine has ended.
    #[must_use]
    pub fn is_stopped(&self) -> bool {
        self.job.is_done()
    }
}

/// Starts `media` on `pool` (encoding is CPU work that must not stall the async runtime).
pub fn start(pool: &WorkerPool, media: MeetingMedia) -> EngineHandle {
    let (sender, inputs) = engine_channel();
    let job = pool.spawn(EngineJob { media, inputs });
    sender.attach(job.clone());
    EngineHandle { sender, job }
}
