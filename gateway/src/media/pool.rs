//! The media worker pool: a fixed set of threads, sized to the machine, that runs every meeting
//! engine and the slate studio. An OS thread per meeting did not hold at a thousand calls; here
//! the thread count is fixed when the gateway starts and does not grow with meetings or calls.
//!
//! Scheduling. Each engine is a [`Job`]: it runs when an input arrives for it (its [`Mailbox`]
//! wakes it) or when the deadline it returned from its last run is reached. Runnable jobs wait in
//! one FIFO queue; a free worker takes the oldest, runs it (the job drains its inputs and runs
//! the ticks that are due), and puts it back to sleep until its next deadline. A job is in the
//! queue at most once and is taken out of its slot while it runs, so one meeting is processed by
//! one worker at a time and its state needs no lock. A wake-up while the job runs is remembered
//! and runs it again right after. Ticks are not starved: a due job goes to the back of the queue
//! behind at most every other runnable job, each run does a bounded amount of work (bounded
//! inboxes, at most one audio and one video tick), and an engine that runs late skips ticks
//! rather than running them twice (its own catch-up rule), so an overloaded pool drops frames
//! evenly across meetings instead of stalling one.
//!
//! Owns the worker threads, the run queue and the timers; reads the clock (it is a driver).
//! It must not know what a job does.

// The pool is a driver: it reads the clock to wake jobs at their deadlines.
#![allow(clippy::disallowed_methods)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a job asks for after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Run again at this instant (or earlier, when an input arrives).
    At(Instant),
    /// Run again only when an input arrives.
    Idle,
    /// The job has ended: the pool drops it.
    Done,
}

/// Work the pool runs: a state machine driven by its inputs and its deadlines.
pub trait Job: Send + 'static {
    /// Handles what is pending at `now` (inputs, due ticks) and says when to run next.
    fn run(&mut self, now: Instant) -> Next;
}

type JobId = u64;

struct Slot {
    /// The job, absent while a worker runs it.
    job: Option<Box<dyn Job>>,
    /// In the run queue.
    queued: bool,
    /// Woken while running: run again right after.
    woken: bool,
    /// The deadline its last run asked for (timer entries for other instants are stale).
    deadline: Option<Instant>,
}

#[derive(Default)]
struct State {
    jobs: HashMap<JobId, Slot>,
    ready: VecDeque<JobId>,
    timers: BinaryHeap<Reverse<(Instant, JobId)>>,
    next_id: JobId,
    stopping: bool,
}

impl State {
    fn enqueue(&mut self, id: JobId) -> bool {
        let Some(slot) = self.jobs.get_mut(&id) else {
            return false;
        };
        if slot.job.is_none() {
            slot.woken = true;
            return false;
        }
        if slot.queued {
            return false;
        }
        slot.queued = true;
        self.ready.push_back(id);
        true
    }

    /// Moves every job whose deadline has come into the run queue.
    fn fire_timers(&mut self, now: Instant) {
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let current = self.jobs.get(&id).and_then(|s| s.deadline);
            if current == Some(at) {
                if let Some(slot) = self.jobs.get_mut(&id) {
                    slot.deadline = None;
                }
                self.enqueue(id);
            }
        }
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// A job became runnable, a deadline moved earlier, or the pool stops.
    work: Condvar,
    /// A job ended.
    ended: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// Locks `mutex`, also when a thread panicked holding it: the media queues and the run queue
/// are consistent between any two statements that touch them (no user code runs under these
/// locks), so a poisoned one is still good to use.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A fixed set of worker threads. See the module doc. Dropping it stops the workers (jobs still
/// queued are dropped, which ends them).
pub struct WorkerPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPool")
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

/// The number of workers that fits this machine: one per core the process may use.
#[must_use]
pub fn machine_workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

impl WorkerPool {
    /// Starts `workers` threads (at least one), named `<name>-<n>`.
    ///
    /// # Errors
    /// A thread could not be spawned (the ones already started are stopped).
    pub fn new(workers: usize, name: &str) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let mut pool = WorkerPool {
            shared: shared.clone(),
            workers: Vec::new(),
        };
        for n in 0..workers.max(1) {
            let shared = shared.clone();
            let handle = std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || work(&shared))?;
            pool.workers.push(handle);
        }
        Ok(pool)
    }

    /// How many worker threads run jobs (fixed for the pool's life).
    #[must_use]
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// How many jobs the pool holds (running, runnable or asleep).
    #[must_use]
    pub fn jobs(&self) -> usize {
        self.shared.lock().jobs.len()
    }

    /// Adds `job`; it runs as soon as a worker is free.
    pub fn spawn(&self, job: impl Job) -> JobHandle {
        let mut state = self.shared.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.jobs.insert(
            id,
            Slot {
                job: Some(Box::new(job)),
                queued: false,
                woken: false,
                deadline: None,
            },
        );
        state.enqueue(id);
        drop(state);
        self.shared.work.notify_one();
        JobHandle {
            shared: Arc::downgrade(&self.shared),
            id,
        }
    }
}

impl WorkerPool {
    /// Starts the job `make` builds around the receiving side of a new mailbox: every send to
    /// the returned [`Started::sender`] wakes it.
    pub fn start<T, P, J>(&self, make: impl FnOnce(MailboxReceiver<T, P>) -> J) -> Started<T, P>
    where
        P: QueuePolicy<T>,
        J: Job,
    {
        let (sender, inputs) = mailbox();
        let job = self.spawn(make(inputs));
        sender.attach(job.clone());
        Started { sender, job }
    }
}

/// An input that asks a job to end (what [`Started::stop`] sends).
pub trait Shutdown {
    /// The input.
    fn shutdown() -> Self;
}

/// A job started with its mailbox by [`WorkerPool::start`].
pub struct Started<T, P = Unbounded> {
    /// Where its inputs go.
    pub sender: Mailbox<T, P>,
    job: JobHandle,
}

impl<T: Shutdown, P: QueuePolicy<T>> Started<T, P> {
    /// Asks the job to end and waits until it has (its current run finishes first).
    pub fn stop(self) {
        let _ = self.sender.send(T::shutdown());
        self.job.join();
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.work.notify_all();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        // Jobs end with the pool (their Drop runs here, on this thread).
        let jobs: Vec<Slot> = self.shared.lock().jobs.drain().map(|(_, s)| s).collect();
        drop(jobs);
        self.shared.ended.notify_all();
    }
}

/// Wakes one job of a pool, and waits for its end. Cheap to clone.
#[derive(Clone)]
pub struct JobHandle {
    shared: Weak<Shared>,
    id: JobId,
}

impl std::fmt::Debug for JobHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobHandle").field("id", &self.id).finish()
    }
}

impl JobHandle {
    /// Makes the job runnable (an input arrived); nothing when it has ended.
    pub fn wake(&self) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        if shared.lock().enqueue(self.id) {
            shared.work.notify_one();
        }
    }

    /// Whether the job has ended (or its pool stopped).
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.shared
            .upgrade()
            .is_none_or(|shared| !shared.lock().jobs.contains_key(&self.id))
    }

    /// Waits until the job has ended (it returned [`Next::Done`] or its pool stopped).
    pub fn join(&self) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let mut state = shared.lock();
        while state.jobs.contains_key(&self.id) && !state.stopping {
            state = shared
                .ended
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// One worker: take the oldest runnable job, run it, schedule its next run; sleep until the
/// earliest deadline when nothing is runnable.
fn work(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if state.stopping {
            return;
        }
        state.fire_timers(Instant::now());
        let Some(id) = state.ready.pop_front() else {
            let wait = state
                .timers
                .peek()
                .map(|Reverse((at, _))| at.saturating_duration_since(Instant::now()));
            state = match wait {
                Some(wait) => {
                    shared
                        .work
                        .wait_timeout(state, wait.max(Duration::from_micros(50)))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => shared
                    .work
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
            };
            continue;
        };
        let Some(mut job) = state.jobs.get_mut(&id).and_then(|slot| {
            slot.queued = false;
            slot.job.take()
        }) else {
            continue;
        };
        drop(state);
        // A job that panics ends alone: its worker carries on with the others, and whoever
        // waits for its end is released (a thread per meeting gave the same isolation).
        let next =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run(Instant::now())))
                .unwrap_or_else(|_| {
                    tracing::error!("a media job panicked; it has ended");
                    Next::Done
                });
        state = shared.lock();
        if next == Next::Done {
            state.jobs.remove(&id);
            // The job's own Drop (encoders, gauges) runs off the lock.
            drop(state);
            drop(job);
            shared.ended.notify_all();
            state = shared.lock();
            continue;
        }
        let Some(slot) = state.jobs.get_mut(&id) else {
            continue;
        };
        slot.job = Some(job);
        let woken = std::mem::take(&mut slot.woken);
        slot.deadline = match next {
            Next::At(at) => Some(at),
            Next::Idle | Next::Done => None,
        };
        if woken {
            state.enqueue(id);
        } else if let Next::At(at) = next {
            let earliest = state.timers.peek().is_none_or(|Reverse((t, _))| at < *t);
            state.timers.push(Reverse((at, id)));
            if earliest {
                // Another worker may be asleep until a later deadline: this one is sooner.
                shared.work.notify_one();
            }
        }
    }
}

/// The input side of a job: a queue its senders push to, which wakes the job. The queue's
/// [`QueuePolicy`] decides what an item does to it (append, replace, drop): unbounded for
/// control inputs, bounded with a drop rule on the media path.
pub struct Mailbox<T, P = Unbounded> {
    inner: Arc<MailboxInner<T, P>>,
}

impl<T, P> Clone for Mailbox<T, P> {
    fn clone(&self) -> Self {
        Mailbox {
            inner: self.inner.clone(),
        }
    }
}

impl<T, P> std::fmt::Debug for Mailbox<T, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox").finish_non_exhaustive()
    }
}

/// How a mailbox's queue takes a new item.
pub trait QueuePolicy<T>: Default + Send {
    /// Puts `item` into `queue`, making room by the policy's rule.
    fn push(&mut self, queue: &mut VecDeque<T>, item: T);
    /// `item` left the queue for the receiver.
    fn popped(&mut self, _item: &T) {}
}

/// Every item is kept, in order (control inputs: a few per call, never dropped).
#[derive(Debug, Default)]
pub struct Unbounded;

impl<T> QueuePolicy<T> for Unbounded {
    fn push(&mut self, queue: &mut VecDeque<T>, item: T) {
        queue.push_back(item);
    }
}

struct Queue<T, P> {
    items: VecDeque<T>,
    policy: P,
    closed: bool,
}

struct MailboxInner<T, P> {
    queue: Mutex<Queue<T, P>>,
    /// For a receiver that waits (tests); jobs are woken through `job` instead.
    arrived: Condvar,
    job: Mutex<Option<JobHandle>>,
}

impl<T, P> MailboxInner<T, P> {
    fn lock(&self) -> MutexGuard<'_, Queue<T, P>> {
        lock(&self.queue)
    }
}

/// The receiver has gone (the job ended): the item comes back.
#[derive(Debug, thiserror::Error)]
#[error("the receiver has gone")]
pub struct Closed<T>(pub T);

/// A mailbox and its receiving side.
#[must_use]
pub fn mailbox<T, P: QueuePolicy<T>>() -> (Mailbox<T, P>, MailboxReceiver<T, P>) {
    let inner = Arc::new(MailboxInner {
        queue: Mutex::new(Queue {
            items: VecDeque::new(),
            policy: P::default(),
            closed: false,
        }),
        arrived: Condvar::new(),
        job: Mutex::new(None),
    });
    (
        Mailbox {
            inner: inner.clone(),
        },
        MailboxReceiver { inner },
    )
}

impl<T, P: QueuePolicy<T>> Mailbox<T, P> {
    /// Every send from now on wakes `job` (the job that owns the receiver).
    pub fn attach(&self, job: JobHandle) {
        *lock(&self.inner.job) = Some(job);
    }

    /// Queues `item` (by the policy) and wakes the receiver.
    ///
    /// # Errors
    /// The receiver has gone.
    pub fn send(&self, item: T) -> Result<(), Closed<T>> {
        {
            let mut queue = self.inner.lock();
            if queue.closed {
                return Err(Closed(item));
            }
            let Queue { items, policy, .. } = &mut *queue;
            policy.push(items, item);
        }
        self.inner.arrived.notify_all();
        let job = lock(&self.inner.job).clone();
        if let Some(job) = job {
            job.wake();
        }
        Ok(())
    }
}

/// The receiving side of a [`Mailbox`]: owned by its job (or a test). Dropping it closes the
/// mailbox.
pub struct MailboxReceiver<T, P = Unbounded> {
    inner: Arc<MailboxInner<T, P>>,
}

impl<T, P> std::fmt::Debug for MailboxReceiver<T, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxReceiver").finish_non_exhaustive()
    }
}

impl<T, P: QueuePolicy<T>> MailboxReceiver<T, P> {
    /// How many items are queued.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.lock().items.len()
    }

    /// Whether nothing is queued.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The oldest queued item, if any.
    pub fn try_recv(&self) -> Option<T> {
        let mut queue = self.inner.lock();
        let item = queue.items.pop_front()?;
        queue.policy.popped(&item);
        Some(item)
    }

    /// The oldest queued item, waiting up to `timeout` for one (for tests that stand in for a
    /// job).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<T> {
        let queue = self.inner.lock();
        let (mut queue, _) = self
            .inner
            .arrived
            .wait_timeout_while(queue, timeout, |q| q.items.is_empty())
            .unwrap_or_else(PoisonError::into_inner);
        let item = queue.items.pop_front()?;
        queue.policy.popped(&item);
        Some(item)
    }

    /// Runs `f` on the queue's policy (to read what it dropped).
    pub fn with_policy<R>(&self, f: impl FnOnce(&mut P) -> R) -> R {
        f(&mut self.inner.lock().policy)
    }
}

impl<T, P> Drop for MailboxReceiver<T, P> {
    fn drop(&mut self) {
        let mut queue = self.inner.lock();
        queue.closed = true;
        queue.items.clear();
    }
}

#[cfg(test)]
mod tests;
