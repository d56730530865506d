//! A bounded pool of picture-plane buffers, so that pictures are recycled instead of freed and
//! allocated again.
//!
//! Why: a 720p I420 picture is 1.4 MB. Decoders allocate pictures on their threads and engines
//! drop them on theirs; glibc's per-thread arenas then keep the freed memory fragmented and RSS
//! stayed near 300 MiB after a soak with 4 calls. Every [`I420Frame`](super::I420Frame) now takes
//! its planes from [`PicturePool::global`] and gives them back when dropped, so steady state
//! allocates nothing and the memory a picture used is reused by the next picture of that size,
//! whichever thread it is on.
//!
//! Bounded: at most [`PoolLimits::per_size`] idle buffers per byte length, and at most
//! [`PoolLimits::max_idle_bytes`] idle in all; a buffer given back beyond either bound is freed
//! (returned to the allocator). Buffers shorter than [`PoolLimits::min_len`] are not pooled
//! (small tiles and test pictures cost little and would only take the lock).
//!
//! Written by hand rather than with a pool crate: the crates looked at (`object-pool`,
//! `lockfree-object-pool`, `opool`) pool one object type of one shape and keep every object
//! ever returned, while planes come in many lengths (each layout tile size) and the point is a
//! bound per length. A mutex around a map is enough at a few thousand pictures a second.
//!
//! Owns idle buffers only; it must not know about frames, strides or colours.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// How much a pool may keep idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// Most idle buffers kept for one byte length.
    pub per_size: usize,
    /// Most idle bytes kept in all.
    pub max_idle_bytes: usize,
    /// Buffers shorter than this are neither pooled nor taken from the pool.
    pub min_len: usize,
}

impl Default for PoolLimits {
    /// 16 idle buffers per length (a 720p picture's three planes: 22 MiB at most), 96 MiB idle
    /// in all, planes of 4 KiB and more (a 64x64 luma plane).
    fn default() -> Self {
        PoolLimits {
            per_size: 16,
            max_idle_bytes: 96 << 20,
            min_len: 4096,
        }
    }
}

/// Counters of a pool's work since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers handed out from the idle set (no allocation).
    pub reused: u64,
    /// Buffers handed out freshly allocated (none idle of that length).
    pub allocated: u64,
    /// Buffers given back and kept idle.
    pub kept: u64,
    /// Buffers given back and freed because a bound was reached.
    pub freed: u64,
}

#[derive(Debug, Default)]
struct Idle {
    by_len: HashMap<usize, Vec<Vec<u8>>>,
    bytes: usize,
    /// Lengths asked for since the last [`PicturePool::trim_unwanted`].
    wanted: HashSet<usize>,
}

/// A bounded set of idle byte buffers keyed by length. See the module documentation.
#[derive(Debug)]
pub struct PicturePool {
    limits: PoolLimits,
    idle: Mutex<Idle>,
    reused: AtomicU64,
    allocated: AtomicU64,
    kept: AtomicU64,
    freed: AtomicU64,
}

impl PicturePool {
    /// An empty pool with `limits`.
    pub fn new(limits: PoolLimits) -> Self {
        PicturePool {
            limits,
            idle: Mutex::new(Idle::default()),
            reused: AtomicU64::new(0),
            allocated: AtomicU64::new(0),
            kept: AtomicU64::new(0),
            freed: AtomicU64::new(0),
        }
    }

    /// The process-wide pool every [`I420Frame`](super::I420Frame) uses, with the default
    /// limits.
    pub fn global() -> &'static PicturePool {
        static GLOBAL: OnceLock<PicturePool> = OnceLock::new();
        GLOBAL.get_or_init(|| PicturePool::new(PoolLimits::default()))
    }

    /// The pool's limits.
    pub fn limits(&self) -> PoolLimits {
        self.limits
    }

    /// An empty buffer with room for exactly `len` bytes: an idle one of that length if there
    /// is one, else a new allocation.
    pub fn take(&self, len: usize) -> Vec<u8> {
        if len >= self.limits.min_len {
            if let Some(mut buf) = self.pop(len) {
                buf.clear();
                self.reused.fetch_add(1, Ordering::Relaxed);
                return buf;
            }
        }
        self.allocated.fetch_add(1, Ordering::Relaxed);
        Vec::with_capacity(len)
    }

    /// A buffer of `len` bytes all `value` (taken as [`take`](Self::take) does).
    pub fn filled(&self, len: usize, value: u8) -> Vec<u8> {
        let mut buf = self.take(len);
        buf.resize(len, value);
        buf
    }

    /// Gives `buf` back, keyed by its capacity: kept idle if the bounds allow, freed otherwise.
    pub fn give(&self, buf: Vec<u8>) {
        let len = buf.capacity();
        if len < self.limits.min_len {
            return;
        }
        let Ok(mut idle) = self.idle.lock() else {
            // A thread panicked holding the lock: fall back to plain freeing.
            self.freed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let fits = idle.bytes + len <= self.limits.max_idle_bytes;
        let list = idle.by_len.entry(len).or_default();
        if fits && list.len() < self.limits.per_size {
            list.push(buf);
            idle.bytes += len;
            drop(idle);
            self.kept.fetch_add(1, Ordering::Relaxed);
        } else {
            if list.is_empty() {
                idle.by_len.remove(&len);
            }
            drop(idle);
            // Freed outside the lock.
            drop(buf);
            self.freed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn pop(&self, len: usize) -> Option<Vec<u8>> {
        let mut idle = self.idle.lock().ok()?;
        idle.wanted.insert(len);
        let list = idle.by_len.get_mut(&len)?;
        let buf = list.pop()?;
        if list.is_empty() {
            idle.by_len.remove(&len);
        }
        idle.bytes -= len;
        Some(buf)
    }

    /// Idle buffers of byte length `len`.
    pub fn idle_buffers(&self, len: usize) -> usize {
        self.idle
            .lock()
            .map_or(0, |idle| idle.by_len.get(&len).map_or(0, Vec::len))
    }

    /// Idle bytes in all.
    pub fn idle_bytes(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.bytes)
    }

    /// Frees the idle buffers of every length nobody asked for since the last call (pictures of
    /// a size no longer made: a caller who left, a layout changed); returns the bytes freed.
    /// The caller picks the cadence (the gateway: every few seconds), so that buffers kept for
    /// a size in use survive while those of a past size do not stay for the life of the
    /// process.
    pub fn trim_unwanted(&self) -> usize {
        let stale: Vec<Vec<Vec<u8>>> = match self.idle.lock() {
            Ok(mut idle) => {
                let wanted = std::mem::take(&mut idle.wanted);
                let lens: Vec<usize> = idle
                    .by_len
                    .keys()
                    .copied()
                    .filter(|len| !wanted.contains(len))
                    .collect();
                let stale: Vec<Vec<Vec<u8>>> = lens
                    .iter()
                    .filter_map(|len| idle.by_len.remove(len))
                    .collect();
                let freed: usize = lens.iter().zip(&stale).map(|(len, l)| len * l.len()).sum();
                idle.bytes -= freed;
                stale
            }
            Err(_) => return 0,
        };
        let freed = stale.iter().flatten().map(Vec::capacity).sum();
        self.freed.fetch_add(
            stale.iter().map(|l| l.len() as u64).sum(),
            Ordering::Relaxed,
        );
        // Freed outside the lock.
        drop(stale);
        freed
    }

    /// Frees every idle buffer (e.g. after a load peak, or when the process goes quiet).
    pub fn trim(&self) {
        let drained = match self.idle.lock() {
            Ok(mut idle) => {
                idle.bytes = 0;
                std::mem::take(&mut idle.by_len)
            }
            Err(_) => return,
        };
        drop(drained);
    }

    /// The counters so far.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            reused: self.reused.load(Ordering::Relaxed),
            allocated: self.allocated.load(Ordering::Relaxed),
            kept: self.kept.load(Ordering::Relaxed),
            freed: self.freed.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_pool(per_size: usize, max_idle_bytes: usize) -> PicturePool {
        PicturePool::new(PoolLimits {
            per_size,
            max_idle_bytes,
            min_len: 16,
        })
    }

    #[test]
    fn a_given_back_buffer_is_handed_out_again_without_allocating() {
        let pool = small_pool(4, 1 << 20);
        let mut a = pool.take(1000);
        a.extend_from_slice(&[7; 1000]);
        let address = a.as_ptr();
        pool.give(a);
        assert_eq!(pool.idle_buffers(1000), 1);
        let b = pool.take(1000);
        assert_eq!(b.as_ptr(), address, "the same allocation came back");
        assert!(b.is_empty(), "handed out empty, whatever it held");
        assert!(b.capacity() >= 1000);
        assert_eq!(pool.idle_buffers(1000), 0);
        assert_eq!(
            pool.stats(),
            PoolStats {
                reused: 1,
                allocated: 1,
                kept: 1,
                freed: 0
            }
        );
        // Another length is not served from it.
        pool.give(b);
        let c = pool.take(999);
        assert_ne!(c.as_ptr(), address);
        assert_eq!(pool.idle_buffers(1000), 1);
    }

    #[test]
    fn at_most_per_size_buffers_of_one_length_stay_idle() {
        let pool = small_pool(3, 1 << 20);
        let bufs: Vec<Vec<u8>> = (0..10).map(|_| pool.take(500)).collect();
        for b in bufs {
            pool.give(b);
        }
        assert_eq!(pool.idle_buffers(500), 3);
        assert_eq!(pool.idle_bytes(), 1500);
        let stats = pool.stats();
        assert_eq!((stats.kept, stats.freed), (3, 7));
        // Other lengths have their own bound.
        for b in (0..5).map(|_| pool.take(600)).collect::<Vec<_>>() {
            pool.give(b);
        }
        assert_eq!(pool.idle_buffers(600), 3);
        assert_eq!(pool.idle_bytes(), 1500 + 1800);
    }

    #[test]
    fn idle_bytes_never_pass_the_total_bound() {
        let pool = small_pool(100, 2500);
        let bufs: Vec<Vec<u8>> = (0..4).map(|i| pool.take(1000 + i)).collect();
        for b in bufs {
            pool.give(b);
            assert!(pool.idle_bytes() <= 2500);
        }
        assert_eq!(pool.idle_bytes(), 1000 + 1001);
        assert_eq!(pool.stats().freed, 2);
        pool.trim();
        assert_eq!(pool.idle_bytes(), 0);
        assert_eq!(pool.idle_buffers(1000), 0);
    }

    #[test]
    fn trimming_frees_only_the_lengths_nobody_asked_for_since_the_last_trim() {
        let pool = small_pool(4, 1 << 20);
        pool.give(pool.take(100));
        pool.give(pool.take(200));
        // Both lengths were asked for: the first trim keeps both.
        assert_eq!(pool.trim_unwanted(), 0);
        // Only 100 is used in the next period.
        pool.give(pool.take(100));
        assert_eq!(pool.trim_unwanted(), 200);
        assert_eq!(pool.idle_buffers(100), 1);
        assert_eq!(pool.idle_buffers(200), 0);
        assert_eq!(pool.idle_bytes(), 100);
        // Nothing asked for at all: everything goes.
        assert_eq!(pool.trim_unwanted(), 100);
        assert_eq!(pool.idle_bytes(), 0);
    }

    #[test]
    fn small_buffers_bypass_the_pool() {
        let pool = small_pool(4, 1 << 20);
        pool.give(pool.take(8));
        assert_eq!(pool.idle_bytes(), 0);
        assert_eq!(pool.filled(8, 3), vec![3; 8]);
    }

    #[test]
    fn filled_buffers_hold_only_the_fill_value_even_when_reused() {
        let pool = small_pool(4, 1 << 20);
        pool.give(pool.filled(64, 0xAA));
        let b = pool.filled(64, 0x10);
        assert_eq!(pool.stats().reused, 1);
        assert_eq!(b, vec![0x10; 64]);
    }

    #[test]
    fn buffers_given_back_on_one_thread_are_reused_on_another() {
        let pool = std::sync::Arc::new(small_pool(8, 1 << 20));
        let made: Vec<Vec<u8>> = (0..8).map(|_| pool.filled(4096, 1)).collect();
        let giver = {
            let pool = pool.clone();
            std::thread::spawn(move || made.into_iter().for_each(|b| pool.give(b)))
        };
        giver.join().expect("giver");
        let taker = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let taken: Vec<Vec<u8>> = (0..8).map(|_| pool.take(4096)).collect();
                taken.iter().filter(|b| b.capacity() >= 4096).count()
            })
        };
        assert_eq!(taker.join().expect("taker"), 8);
        assert_eq!(pool.stats().reused, 8);
        assert_eq!(pool.stats().allocated, 8);
    }
}
