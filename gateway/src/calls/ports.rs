//! The RTP port pool: blocks of four ports (audio RTP/RTCP, video RTP/RTCP) from a configured
//! range, handed to calls and taken back.

use std::collections::VecDeque;
use std::ops::RangeInclusive;

/// Port blocks, least recently used first: a block starts at a multiple of four; audio uses
/// `base` (RTCP `base + 1` without rtcp-mux), video `base + 2`.
///
/// A block given back goes to the end of the queue. Handing it straight out again (lowest
/// first) broke calls under load: the ended call's media task closes its sockets only when the
/// runtime next polls it, so the next call's bind found the port still in use and got no media;
/// and late packets of the old call would have reached the new one. Reuse after every other
/// free block gives the old sockets and packets all the time the pool's size buys.
#[derive(Debug, Clone)]
pub struct PortPool {
    free: VecDeque<u16>,
}

impl PortPool {
    /// Every whole block inside `range`.
    pub fn new(range: RangeInclusive<u16>) -> Self {
        let (start, end) = (u32::from(*range.start()), u32::from(*range.end()));
        let free = (start..=end)
            .filter(|p| p % 4 == 0 && *p > 0 && p + 3 <= end)
            .filter_map(|p| u16::try_from(p).ok())
            .collect();
        PortPool { free }
    }

    /// Takes the base port of the block free the longest (at first, the lowest).
    pub fn take(&mut self) -> Option<u16> {
        self.free.pop_front()
    }

    /// Returns a block; it is handed out again after every other free block.
    pub fn give_back(&mut self, port: u16) {
        self.free.push_back(port);
    }

    /// How many blocks are free.
    #[cfg(test)]
    pub fn available(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_whole_blocks_and_takes_them_back() {
        let mut pool = PortPool::new(20001..=20014);
        assert_eq!(
            pool.available(),
            2,
            "20004-20007 and 20008-20011 fit; 20012-20015 does not"
        );
        assert_eq!(pool.take(), Some(20004));
        assert_eq!(pool.take(), Some(20008));
        assert_eq!(pool.take(), None);
        pool.give_back(20004);
        assert_eq!(pool.take(), Some(20004));
        assert_eq!(PortPool::new(65532..=65535).take(), Some(65532));
    }

    #[test]
    fn a_block_given_back_is_reused_last() {
        let mut pool = PortPool::new(20000..=20015);
        let first = pool.take().unwrap();
        assert_eq!(first, 20000);
        pool.give_back(first);
        assert_eq!(pool.take(), Some(20004));
        assert_eq!(pool.take(), Some(20008));
        assert_eq!(pool.take(), Some(20012));
        assert_eq!(pool.take(), Some(20000), "the returned block comes last");
        assert_eq!(pool.take(), None);
    }
}
