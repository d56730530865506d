//! The encoder load meter behind the overload guard: CPU time the encoders used, added up across
//! every meeting, which the driver turns into "cores used" once a second and compares with the
//! machine's cores to refuse calls (`503`) before encoding falls behind.
//!
//! It counts the calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall-clock time: on a
//! busy machine an encode is often preempted, and wall time then counted the time other
//! processes used the core as encoder load, so the gateway refused calls it could still carry.
//!
//! Owns the meter and the one call that reads the thread CPU clock. It must not decide about
//! overload (the driver does).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// CPU time the calling thread has used since it started, or `None` where the clock cannot be
/// read (the meter then counts nothing rather than guessing). The crate's one allowance of
/// `unsafe`: a plain libc call on a local out-parameter.
#[must_use]
#[allow(unsafe_code)]
pub fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, exclusively borrowed `timespec` for the duration of the call, and
    // `CLOCK_THREAD_CPUTIME_ID` is a clock id every Linux (and POSIX threads system) accepts;
    // `clock_gettime` writes only into `ts` and reports failure through its return value.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}

/// CPU time spent in measured work since the last [`take`](Self::take), shared by every engine
/// (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct LoadMeter {
    nanos: Arc<AtomicU64>,
}

impl LoadMeter {
    /// A meter at zero.
    #[must_use]
    pub fn new() -> Self {
        LoadMeter::default()
    }

    /// Runs `work`, adds the CPU time this thread spent in it, and returns that time with the
    /// result.
    pub fn measure<R>(&self, work: impl FnOnce() -> R) -> (R, Duration) {
        let before = thread_cpu_time();
        let result = work();
        let spent = match (before, thread_cpu_time()) {
            (Some(before), Some(after)) => after.saturating_sub(before),
            _ => Duration::ZERO,
        };
        let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        (result, spent)
    }

    /// The CPU time counted since the last call, and starts again from zero.
    pub fn take(&self) -> Duration {
        Duration::from_nanos(self.nanos.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Work that needs the CPU: a few million dependent integer steps.
    fn spin(rounds: u64) -> u64 {
        let mut x = 1u64;
        for i in 0..rounds {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
        }
        x
    }

    #[test]
    fn an_encoder_thread_that_is_off_the_cpu_is_not_counted_as_load() {
        // The measured thread is off the CPU for the whole time another thread computes (as
        // when an encode is preempted on a busy machine): wall-clock metering (the guard
        // before) counted all of it; CPU time counts only what the measured thread computed.
        let meter = LoadMeter::new();
        let (start_tx, start_rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Duration>();
        let busy = std::thread::spawn(move || {
            start_rx.recv().unwrap();
            let before = thread_cpu_time().unwrap();
            spin(30_000_000);
            done_tx
                .send(thread_cpu_time().unwrap().saturating_sub(before))
                .unwrap();
        });
        let (other, spent) = meter.measure(|| {
            start_tx.send(()).unwrap();
            done_rx.recv().unwrap()
        });
        busy.join().unwrap();
        assert_eq!(meter.take(), spent);
        assert!(other > Duration::ZERO);
        assert!(
            spent < other / 3,
            "counted {spent:?} while waiting out {other:?} of another thread's work"
        );
    }

    #[test]
    fn computing_is_counted_and_take_starts_again_from_zero() {
        let meter = LoadMeter::new();
        let before = thread_cpu_time().expect("the thread CPU clock is readable on Linux");
        let (x, spent) = meter.measure(|| spin(20_000_000));
        assert_ne!(x, 0);
        let counted = meter.take();
        let used = thread_cpu_time().unwrap().saturating_sub(before);
        assert!(counted > Duration::ZERO);
        assert_eq!(counted, spent);
        assert!(counted <= used, "{counted:?} > {used:?}");
        assert_eq!(meter.take(), Duration::ZERO);
    }
}
