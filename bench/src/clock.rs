//! The clocks the comparisons time with: wall time, and the calling thread's CPU time.
//!
//! On a shared machine a single-threaded contender loses wall time whenever the scheduler runs
//! someone else; its thread CPU time counts only the time it actually ran, so single-threaded
//! cases are timed with it (both contenders alike). Multi-threaded cases need wall time (the
//! point is how soon the frame is ready). Owns only reading clocks.

#![allow(unsafe_code)]
#![allow(clippy::disallowed_methods)] // a benchmark reads the wall clock

use std::time::Instant;

/// Which clock a measurement reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Elapsed real time.
    Wall,
    /// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
    ThreadCpu,
}

impl Clock {
    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Clock::Wall => "wall",
            Clock::ThreadCpu => "thread CPU",
        }
    }
}

/// A started measurement.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    clock: Clock,
    wall: Instant,
    cpu: f64,
}

impl Stopwatch {
    /// Starts reading `clock` now.
    pub fn start(clock: Clock) -> Stopwatch {
        Stopwatch {
            clock,
            wall: Instant::now(),
            cpu: thread_cpu_seconds(),
        }
    }

    /// Seconds since [`start`](Self::start) on its clock.
    pub fn seconds(&self) -> f64 {
        match self.clock {
            Clock::Wall => self.wall.elapsed().as_secs_f64(),
            Clock::ThreadCpu => thread_cpu_seconds() - self.cpu,
        }
    }
}

/// CPU time consumed by the calling thread, in seconds.
pub fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is supported by
    // every Linux the project runs on (and the result is checked).
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}
