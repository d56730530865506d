//! The RTP port pool: blocks of four ports (audio RTP/RTCP, video RTP/RTCP) from a configured
//! range, handed to calls and taken back.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

/// Port blocks, lowest free first: a block starts at a multiple of four; audio uses `base`
/// (RTCP `base + 1` without rtcp-mux), video `base + 2`.
#[derive(Debug, Clone)]
pub struct PortPool {
    free: BTreeSet<u16>,
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

    /// Takes the lowest free block's base port.
    pub fn take(&mut self) -> Option<u16> {
        self.free.pop_first()
    }

    /// Returns a block.
    pub fn give_back(&mut self, port: u16) {
        self.free.insert(port);
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
}
