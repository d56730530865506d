//! A sans-IO reorder buffer for one RTP stream: packets go in in arrival order and come out in
//! sequence order, each released as soon as everything before it is in, or once the oldest held
//! packet has waited the configured delay for a gap that is not filling (then the gap is given up
//! as lost).
//!
//! Keyed by extended sequence number (RFC 3550 §A.1: the 16-bit number plus a cycle count), so
//! wraparound is invisible to the ordering. Owns only the packets held; the caller passes `now`
//! in and sleeps until [`JitterBuffer::poll_timeout`]. Loss concealment and keyframe requests are
//! the caller's: a released packet says how many packets were skipped before it.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// A sequence number jump larger than this (either way) is read as the sender restarting its
/// stream: the buffer flushes and starts over rather than waiting for 30 000 missing packets.
const MAX_JUMP: u64 = 3000;

/// Delay suggested for video (a frame's packets arrive in a burst; reordering is short).
pub const VIDEO_DELAY: Duration = Duration::from_millis(40);
/// Delay suggested for audio.
pub const AUDIO_DELAY: Duration = Duration::from_millis(60);

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Held for release in order.
    Accepted,
    /// Already held or already released: dropped.
    Duplicate,
    /// Older than what was already released (its gap was given up): dropped.
    Late,
    /// The sender jumped far away: what was held was released, and the stream starts over at
    /// this packet.
    Restarted,
}

/// A packet leaving the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released<T> {
    /// Its sequence number.
    pub sequence: u16,
    /// Its extended sequence number.
    pub extended: u64,
    /// Packets given up as lost right before it (0 when in order).
    pub lost_before: u64,
    /// The packet.
    pub item: T,
}

/// The reorder buffer. `T` is whatever the caller keeps per packet (payload and header fields).
#[derive(Debug)]
pub struct JitterBuffer<T> {
    delay: Duration,
    capacity: usize,
    /// Extended number of the highest packet seen (the reference for extending the next one).
    highest: Option<u64>,
    /// Extended number of the next packet to release.
    next: Option<u64>,
    /// Packets waiting, by extended sequence number, with their arrival time.
    held: BTreeMap<u64, (Instant, T)>,
    /// Packets of a stream the sender abandoned (a restart), released before anything else.
    flushed: VecDeque<Released<T>>,
}

impl<T> JitterBuffer<T> {
    /// A buffer that waits at most `delay` for a missing packet and holds at most `capacity`
    /// packets (beyond that the oldest gap is given up at once).
    #[must_use]
    pub fn new(delay: Duration, capacity: usize) -> Self {
        JitterBuffer {
            delay,
            capacity: capacity.max(1),
            highest: None,
            next: None,
            held: BTreeMap::new(),
            flushed: VecDeque::new(),
        }
    }

    /// How many packets are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.held.len() + self.flushed.len()
    }

    /// Whether no packet is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The extended form of `sequence`, relative to the highest seen so far.
    fn extend(&self, sequence: u16) -> u64 {
        match self.highest {
            // Start one cycle up so that packets a little older than the first still extend
            // to a positive number.
            None => (1 << 16) | u64::from(sequence),
            Some(highest) => {
                let delta = i64::from(sequence.wrapping_sub(highest as u16) as i16);
                highest.saturating_add_signed(delta)
            }
        }
    }

    /// Takes a packet that arrived at `now`.
    pub fn push(&mut self, now: Instant, sequence: u16, item: T) -> Pushed {
        let extended = self.extend(sequence);
        if let (Some(highest), Some(next)) = (self.highest, self.next) {
            let ahead = extended.saturating_sub(highest);
            let behind = next.saturating_sub(extended);
            if ahead > MAX_JUMP || behind > MAX_JUMP {
                // Release what the old stream left, in order, then start two cycles up so the
                // new stream's numbers stay above the old ones.
                let mut expected = next;
                for (ext, (_, held)) in std::mem::take(&mut self.held) {
                    self.flushed.push_back(Released {
                        sequence: ext as u16,
                        extended: ext,
                        lost_before: ext - expected,
                        item: held,
                    });
                    expected = ext + 1;
                }
                let restarted = (((highest >> 16) + 2) << 16) | u64::from(sequence);
                self.highest = Some(restarted);
                self.next = Some(restarted);
                self.held.insert(restarted, (now, item));
                return Pushed::Restarted;
            }
        }
        if self.next.is_some_and(|next| extended < next) {
            return Pushed::Late;
        }
        if self.held.contains_key(&extended) {
            return Pushed::Duplicate;
        }
        self.highest = Some(self.highest.map_or(extended, |h| h.max(extended)));
        self.next.get_or_insert(extended);
        self.held.insert(extended, (now, item));
        Pushed::Accepted
    }

    /// The next packet that may leave at `now`: the next in order if it is in, or the first
    /// after a gap once that packet has waited the delay (or the buffer is over capacity).
    /// Call until it returns `None`.
    #[must_use]
    pub fn pop(&mut self, now: Instant) -> Option<Released<T>> {
        if let Some(released) = self.flushed.pop_front() {
            return Some(released);
        }
        let next = self.next?;
        let (&first, &(arrived, _)) = self.held.iter().next()?;
        let ready = first == next
            || self.held.len() > self.capacity
            || now.saturating_duration_since(arrived) >= self.delay;
        if !ready {
            return None;
        }
        let (_, item) = self.held.remove(&first)?;
        self.next = Some(first + 1);
        Some(Released {
            sequence: first as u16,
            extended: first,
            lost_before: first - next,
            item,
        })
    }

    /// When [`pop`](Self::pop) will next have something (a past instant if it has now), or
    /// `None` while nothing is held.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.flushed.is_empty() {
            // Anything at or before now will do; the first held packet's arrival is one.
            return self.held.values().next().map(|(at, _)| *at);
        }
        let (&first, &(arrived, _)) = self.held.iter().next()?;
        if Some(first) == self.next || self.held.len() > self.capacity {
            Some(arrived)
        } else {
            Some(arrived + self.delay)
        }
    }
}

#[cfg(test)]
// Tests pick an arbitrary origin for their virtual clock.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    const DELAY: Duration = Duration::from_millis(40);

    fn ms(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    fn drain(jb: &mut JitterBuffer<u16>, now: Instant) -> Vec<(u16, u64)> {
        std::iter::from_fn(|| jb.pop(now))
            .map(|r| (r.item, r.lost_before))
            .collect()
    }

    #[test]
    fn in_order_packets_leave_at_once() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(DELAY, 64);
        for seq in 10..15u16 {
            assert_eq!(jb.push(t0, seq, seq), Pushed::Accepted);
            assert_eq!(jb.poll_timeout(), Some(t0), "ready now");
            assert_eq!(drain(&mut jb, t0), vec![(seq, 0)]);
        }
        assert_eq!(jb.poll_timeout(), None);
    }

    #[test]
    fn reordered_packets_leave_in_sequence_order() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(DELAY, 64);
        jb.push(t0, 1, 1);
        assert_eq!(drain(&mut jb, t0), vec![(1, 0)]);
        jb.push(ms(t0, 1), 3, 3);
        jb.push(ms(t0, 2), 4, 4);
        assert_eq!(drain(&mut jb, ms(t0, 2)), vec![], "waits for 2");
        assert_eq!(jb.poll_timeout(), Some(ms(t0, 41)));
        jb.push(ms(t0, 5), 2, 2);
        assert_eq!(drain(&mut jb, ms(t0, 5)), vec![(2, 0), (3, 0), (4, 0)]);
    }

    #[test]
    fn a_gap_is_given_up_after_the_delay() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(DELAY, 64);
        jb.push(t0, 100, 100);
        let _ = drain(&mut jb, t0);
        jb.push(ms(t0, 10), 103, 103);
        assert_eq!(drain(&mut jb, ms(t0, 49)), vec![]);
        assert_eq!(
            drain(&mut jb, ms(t0, 50)),
            vec![(103, 2)],
            "101 and 102 lost"
        );
        assert_eq!(jb.push(ms(t0, 60), 101, 101), Pushed::Late);
        assert_eq!(
            jb.push(ms(t0, 60), 103, 103),
            Pushed::Late,
            "already released"
        );
    }

    #[test]
    fn sequence_numbers_wrap_without_reordering() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(DELAY, 64);
        for seq in [65533u16, 65535, 0, 65534, 1] {
            jb.push(t0, seq, seq);
        }
        assert_eq!(
            drain(&mut jb, t0),
            vec![(65533, 0), (65534, 0), (65535, 0), (0, 0), (1, 0)]
        );
    }

    #[test]
    fn duplicates_are_dropped() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(DELAY, 64);
        jb.push(t0, 5, 5);
        jb.push(t0, 7, 7);
        assert_eq!(jb.push(t0, 7, 7), Pushed::Duplicate);
        assert_eq!(jb.len(), 2);
    }

    #[test]
    fn over_capacity_gives_up_the_gap_at_once() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(DELAY, 2);
        jb.push(t0, 1, 1);
        let _ = drain(&mut jb, t0);
        for seq in 3..6u16 {
            jb.push(t0, seq, seq);
        }
        assert_eq!(drain(&mut jb, t0), vec![(3, 1), (4, 0), (5, 0)]);
    }

    #[test]
    fn a_sender_restart_flushes_and_starts_over() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(DELAY, 64);
        jb.push(t0, 10, 10);
        let _ = drain(&mut jb, t0);
        jb.push(t0, 12, 12);
        assert_eq!(jb.push(t0, 40_000, 40_000), Pushed::Restarted);
        jb.push(t0, 40_001, 40_001);
        assert_eq!(drain(&mut jb, t0), vec![(12, 1), (40_000, 0), (40_001, 0)]);
        // A big jump backwards is a restart too, not 25 000 late packets.
        assert_eq!(jb.push(t0, 15_000, 15_000), Pushed::Restarted);
        assert_eq!(drain(&mut jb, t0), vec![(15_000, 0)]);
    }

    proptest::proptest! {
        #[test]
        fn output_is_strictly_increasing_and_never_panics(
            arrivals in proptest::collection::vec((proptest::prelude::any::<u16>(), 0u64..100), 0..200),
        ) {
            let t0 = Instant::now();
            let mut jb = JitterBuffer::new(DELAY, 32);
            let mut last: Option<u64> = None;
            let mut clock = 0;
            for (seq, step) in arrivals {
                clock += step;
                jb.push(ms(t0, clock), seq, seq);
                while let Some(r) = jb.pop(ms(t0, clock)) {
                    proptest::prop_assert!(last.is_none_or(|l| r.extended > l));
                    proptest::prop_assert_eq!(r.sequence, r.item);
                    last = Some(r.extended);
                }
            }
        }
    }
}
