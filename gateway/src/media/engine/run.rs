//! A meeting engine as a job of the media worker pool ([`crate::media::pool`]): each run takes
//! the drops and losses its input queue recorded, handles the inputs queued when the run began
//! (a bounded amount: inputs that arrive meanwhile wake it again), then runs the ticks that are
//! due, and asks to run again at the engine's next deadline. The pool decides which worker; one
//! engine is never run by two at once.
//!
//! Owns the glue between [`MeetingMedia`] and the pool; it must not hold media decisions.

use std::time::Instant;

use super::api::{EngineInput, EngineReceiver};
use super::inbox::EngineQueue;
use super::MeetingMedia;
use crate::media::pool::{Job, Next, Shutdown, Started, WorkerPool};

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

/// A running engine: its input queue and its job on the pool; `stop` ends it (its encoders
/// leave the gauge with it).
pub type EngineHandle = Started<EngineInput, EngineQueue>;

impl Shutdown for EngineInput {
    fn shutdown() -> Self {
        EngineInput::Shutdown
    }
}

/// Starts `media` on `pool` (encoding is CPU work that must not stall the async runtime).
pub fn start(pool: &WorkerPool, media: MeetingMedia) -> EngineHandle {
    pool.start(|inputs| EngineJob { media, inputs })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::media::engine::{feed, CallFeed, EngineConfig};

    /// The threads of this process whose name starts with `prefix` (from `/proc`).
    fn threads_named(prefix: &str) -> usize {
        std::fs::read_dir("/proc/self/task")
            .expect("/proc/self/task")
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .filter(|name| name.starts_with(prefix))
            .count()
    }

    #[tokio::test]
    async fn sixty_meetings_run_on_two_worker_threads() {
        let pool = WorkerPool::new(2, "engtest").unwrap();
        let mut meetings = Vec::new();
        #[allow(clippy::disallowed_methods)] // The engines run on the real clock here.
        let now = Instant::now();
        for id in 0..60 {
            let engine = start(&pool, MeetingMedia::new(EngineConfig::default(), now, None));
            let (tx, rx) = feed::channel();
            engine
                .sender
                .send(EngineInput::Join {
                    participant: id,
                    display_name: format!("Room {id}"),
                    feed: Some(tx),
                    video_format: None,
                })
                .unwrap();
            meetings.push((engine, rx));
        }
        // Every meeting ticks: each listener gets its 20 ms mix.
        for (_, feed) in &mut meetings {
            let first = tokio::time::timeout(Duration::from_secs(10), feed.recv())
                .await
                .expect("the engine ticks");
            assert!(matches!(first, Some(CallFeed::Audio(pcm)) if pcm.len() == 960));
        }
        assert_eq!(pool.jobs(), 60);
        assert_eq!(pool.workers(), 2);
        // (A worker names itself once it first gets the CPU, so on a loaded machine the second
        // may not have yet: at least the one that ran the meetings, never more than two.)
        let named = threads_named("engtest-");
        assert!(
            (1..=2).contains(&named),
            "{named} threads: they do not grow with meetings"
        );
        for (engine, _) in meetings {
            engine.stop();
        }
        assert_eq!(pool.jobs(), 0);
    }
}
