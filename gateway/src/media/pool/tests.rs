//! The pool on real threads: synchronisation is by joining jobs, never by sleeping.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use super::*;

/// Runs `runs` times (asking to run again at once), noting the thread of each run and checking
/// that no two workers ever run it together.
struct Counter {
    runs: usize,
    threads: Arc<Mutex<HashSet<ThreadId>>>,
    running: Arc<AtomicBool>,
    total: Arc<AtomicUsize>,
}

impl Job for Counter {
    fn run(&mut self, now: Instant) -> Next {
        assert!(
            !self.running.swap(true, Ordering::SeqCst),
            "a job ran on two workers at once"
        );
        self.threads
            .lock()
            .unwrap()
            .insert(std::thread::current().id());
        self.total.fetch_add(1, Ordering::SeqCst);
        self.runs -= 1;
        self.running.store(false, Ordering::SeqCst);
        if self.runs == 0 {
            Next::Done
        } else {
            Next::At(now)
        }
    }
}

#[test]
fn many_jobs_run_on_the_fixed_worker_set() {
    let pool = WorkerPool::new(2, "test-pool").unwrap();
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let total = Arc::new(AtomicUsize::new(0));
    let handles: Vec<JobHandle> = (0..200)
        .map(|_| {
            pool.spawn(Counter {
                runs: 5,
                threads: threads.clone(),
                running: Arc::default(),
                total: total.clone(),
            })
        })
        .collect();
    assert_eq!(pool.workers(), 2);
    for h in &handles {
        h.join();
        assert!(h.is_done());
    }
    assert_eq!(total.load(Ordering::SeqCst), 1000);
    assert!(threads.lock().unwrap().len() <= 2);
    assert_eq!(pool.jobs(), 0);
}

/// Idle until woken; counts its runs and ends on the run `end_at`.
struct Woken {
    runs: Arc<AtomicUsize>,
    running: Arc<AtomicBool>,
    end_at: usize,
}

impl Job for Woken {
    fn run(&mut self, _now: Instant) -> Next {
        assert!(!self.running.swap(true, Ordering::SeqCst));
        let n = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        self.running.store(false, Ordering::SeqCst);
        if n >= self.end_at {
            Next::Done
        } else {
            Next::Idle
        }
    }
}

#[test]
fn wakes_from_many_threads_run_one_job_one_worker_at_a_time_until_it_ends() {
    let pool = WorkerPool::new(4, "test-pool").unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let job = pool.spawn(Woken {
        runs: runs.clone(),
        running: Arc::default(),
        end_at: 50,
    });
    // Waking a job that runs (or is queued) coalesces; keep waking until it has run 50 times.
    std::thread::scope(|s| {
        for _ in 0..4 {
            let job = job.clone();
            s.spawn(move || {
                while !job.is_done() {
                    job.wake();
                    std::thread::yield_now();
                }
            });
        }
    });
    job.join();
    assert_eq!(runs.load(Ordering::SeqCst), 50);
}

/// Asks to run again at a deadline, then ends.
struct Deadline {
    step: Duration,
    left: u32,
}

impl Job for Deadline {
    fn run(&mut self, now: Instant) -> Next {
        if self.left == 0 {
            return Next::Done;
        }
        self.left -= 1;
        Next::At(now + self.step)
    }
}

#[test]
fn a_sleeping_job_runs_again_at_its_deadline_without_input() {
    let pool = WorkerPool::new(1, "test-pool").unwrap();
    let job = pool.spawn(Deadline {
        step: Duration::from_millis(2),
        left: 5,
    });
    // Nothing wakes it but its timers; it ends only if every deadline fired.
    job.join();
    assert!(job.is_done());
}

#[test]
fn a_mailbox_wakes_its_job_and_refuses_once_the_receiver_has_gone() {
    let pool = WorkerPool::new(1, "test-pool").unwrap();
    let (tx, rx) = mailbox::<u32, Unbounded>();
    let seen = Arc::new(Mutex::new(Vec::new()));
    struct Reader {
        rx: MailboxReceiver<u32>,
        seen: Arc<Mutex<Vec<u32>>>,
    }
    impl Job for Reader {
        fn run(&mut self, _now: Instant) -> Next {
            while let Some(n) = self.rx.try_recv() {
                if n == 0 {
                    return Next::Done;
                }
                self.seen.lock().unwrap().push(n);
            }
            Next::Idle
        }
    }
    let job = pool.spawn(Reader {
        rx,
        seen: seen.clone(),
    });
    // Attached before the first send: every send wakes it.
    tx.attach(job.clone());
    for n in [3, 2, 1, 0] {
        tx.send(n).unwrap();
    }
    job.join();
    assert_eq!(*seen.lock().unwrap(), vec![3, 2, 1]);
    assert!(tx.send(4).is_err());
}

/// Panics on its first run.
struct Faulty;

impl Job for Faulty {
    fn run(&mut self, _now: Instant) -> Next {
        panic!("a bug in a job");
    }
}

#[test]
fn a_job_that_panics_ends_alone_and_the_workers_carry_on() {
    let pool = WorkerPool::new(1, "test-pool").unwrap();
    let faulty = pool.spawn(Faulty);
    faulty.join();
    assert!(faulty.is_done());
    // The one worker is still there for the next job.
    let after = pool.spawn(Deadline {
        step: Duration::from_millis(1),
        left: 2,
    });
    after.join();
    assert!(after.is_done());
    assert_eq!(pool.workers(), 1);
}
