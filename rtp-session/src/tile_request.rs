//! Asking a room system for the picture its tiles need (RFC 5104 TMMBR towards the far end's
//! *sender*): a VTC's 720p stream costs a full 720p decode whenever it is shown, even in a
//! 426x240 tile. While the biggest tile a call's picture fills in any layout is small, the call
//! asks its VTC to stay under the rate of the [`BitrateClass`] whose picture covers that tile
//! (room systems send a smaller picture at a lower rate); when it takes a big tile again, the
//! limit is lifted (a TMMBR at the call's ceiling) and a keyframe asked for, so the bigger
//! picture starts at once.
//!
//! The decisions, on the caller's clock:
//! - **Down** only after the picture has been in small tiles for [`HOLD_DOWN`]: speakers change
//!   every few seconds and each change of the VTC's picture size costs an IDR on its side.
//! - **Up** at once: a viewer looking at a big tile must not watch a stretched 240p picture.
//! - A standing limit is repeated every [`REPEAT`] (a lost TMMBR must not leave it unasked;
//!   RFC 5104 §4.2.1.2 leaves repetition to the requester).
//!
//! Only for a far end that negotiated `ccm tmmbr`; one without it keeps sending what it sends
//! (a re-INVITE with a lower `b=AS` is not done). Owns only this decision: the caller builds the
//! RTCP and knows the streams; nothing here reads the clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::bandwidth::BitrateClass;

/// How long the picture must stay in small tiles before the VTC is asked down.
pub const HOLD_DOWN: Duration = Duration::from_secs(2);
/// How often a standing limit is sent again.
pub const REPEAT: Duration = Duration::from_secs(5);

/// What the caller should send the far end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileRequestOut {
    /// A TMMBR with this limit, bit/s (the ceiling itself lifts a lower one).
    Tmmbr(u64),
    /// A keyframe request (PLI/FIR): the VTC may send a bigger picture now.
    Keyframe,
}

/// One call's request state. See the module doc.
#[derive(Debug, Clone)]
pub struct TileRequest {
    /// The most the far end sends us anyway (`b=AS`/TIAS): asking for it is no limit.
    ceiling_bps: u64,
    /// The limit standing (`None`: none asked, or lifted).
    asked: Option<u64>,
    /// What the tiles need now.
    want: u64,
    /// Since when `want` has been below what the far end may send.
    lower_since: Option<Instant>,
    next_repeat: Option<Instant>,
    out: VecDeque<TileRequestOut>,
}

impl TileRequest {
    /// For a far end that sends us at most `ceiling_bps`; no limit asked yet.
    #[must_use]
    pub fn new(ceiling_bps: u64) -> Self {
        TileRequest {
            ceiling_bps,
            asked: None,
            want: ceiling_bps,
            lower_since: None,
            next_repeat: None,
            out: VecDeque::new(),
        }
    }

    /// The rate a picture shown at most at `tile` needs: that of the smallest class whose
    /// picture covers the tile, or the ceiling when only 720p or more does.
    #[must_use]
    pub fn rate_for_tile(&self, tile: (u32, u32)) -> u64 {
        let class = BitrateClass::ALL
            .into_iter()
            .find(|c| c.size().0 >= tile.0 && c.size().1 >= tile.1)
            .filter(|c| *c < BitrateClass::Hd1500);
        class.map_or(self.ceiling_bps, |c| c.bitrate_bps().min(self.ceiling_bps))
    }

    /// The limit standing now, bit/s (`None`: the far end sends what it likes).
    #[must_use]
    pub fn limit(&self) -> Option<u64> {
        self.asked.filter(|bps| *bps < self.ceiling_bps)
    }

    /// The biggest tile the picture fills in any layout now; `None` when it is needed whole
    /// (forwarded as sent to a WebRTC viewer, whose tile size is the browser's).
    pub fn handle_tile(&mut self, now: Instant, tile: Option<(u32, u32)>) {
        self.want = tile.map_or(self.ceiling_bps, |t| self.rate_for_tile(t));
        let current = self.asked.unwrap_or(self.ceiling_bps);
        if self.want > current {
            // Up at once, with a keyframe for the bigger picture.
            self.lower_since = None;
            self.ask(now, self.want);
            self.out.push_back(TileRequestOut::Keyframe);
        } else if self.want < current {
            self.lower_since.get_or_insert(now);
            self.handle_timeout(now);
        } else {
            self.lower_since = None;
        }
    }

    /// Asks down once the hold is over; repeats a standing limit.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(since) = self.lower_since {
            if now.saturating_duration_since(since) >= HOLD_DOWN {
                self.lower_since = None;
                self.ask(now, self.want);
                return;
            }
        }
        if let (Some(bps), Some(at)) = (self.limit(), self.next_repeat) {
            if now >= at {
                self.ask(now, bps);
            }
        }
    }

    /// When [`Self::handle_timeout`] has work next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let hold = self.lower_since.map(|since| since + HOLD_DOWN);
        let repeat = self.limit().and(self.next_repeat);
        hold.into_iter().chain(repeat).min()
    }

    /// The next thing to send.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<TileRequestOut> {
        self.out.pop_front()
    }

    fn ask(&mut self, now: Instant, bps: u64) {
        self.asked = Some(bps);
        self.next_repeat = Some(now + REPEAT);
        self.out.push_back(TileRequestOut::Tmmbr(bps));
    }
}

#[cfg(test)]
// One arbitrary origin for the virtual clock.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);
    const CEILING: u64 = 2_000_000;
    /// A 3x3 tile of a 720p layout.
    const TILE_3X3: (u32, u32) = (426, 240);

    fn drain(r: &mut TileRequest) -> Vec<TileRequestOut> {
        std::iter::from_fn(|| r.poll_output()).collect()
    }

    #[test]
    fn tiles_map_to_the_class_that_covers_them_and_big_tiles_to_no_limit() {
        let r = TileRequest::new(CEILING);
        assert_eq!(r.rate_for_tile(TILE_3X3), 192_000);
        assert_eq!(r.rate_for_tile((640, 360)), 384_000);
        assert_eq!(r.rate_for_tile((853, 480)), 768_000);
        assert_eq!(r.rate_for_tile((1280, 720)), CEILING);
        // A ceiling below a class's rate caps it.
        assert_eq!(TileRequest::new(300_000).rate_for_tile((640, 360)), 300_000);
    }

    #[test]
    fn a_picture_in_small_tiles_is_asked_down_only_after_the_hold() {
        let t0 = Instant::now();
        let mut r = TileRequest::new(CEILING);
        r.handle_tile(t0, Some(TILE_3X3));
        assert_eq!(drain(&mut r), vec![]);
        assert_eq!(r.poll_timeout(), Some(t0 + HOLD_DOWN));
        r.handle_timeout(t0 + HOLD_DOWN - Duration::from_millis(1));
        assert_eq!(drain(&mut r), vec![]);
        r.handle_timeout(t0 + HOLD_DOWN);
        assert_eq!(drain(&mut r), vec![TileRequestOut::Tmmbr(192_000)]);
        assert_eq!(r.limit(), Some(192_000));
    }

    #[test]
    fn a_short_visit_to_a_small_tile_asks_nothing() {
        let t0 = Instant::now();
        let mut r = TileRequest::new(CEILING);
        r.handle_tile(t0, Some(TILE_3X3));
        r.handle_tile(t0 + S, Some((1280, 720)));
        r.handle_timeout(t0 + 10 * S);
        assert_eq!(drain(&mut r), vec![]);
        assert_eq!(r.limit(), None);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn a_big_tile_lifts_the_limit_at_once_with_a_keyframe() {
        let t0 = Instant::now();
        let mut r = TileRequest::new(CEILING);
        r.handle_tile(t0, Some(TILE_3X3));
        r.handle_timeout(t0 + HOLD_DOWN);
        let _ = drain(&mut r);
        let t1 = t0 + 3 * S;
        r.handle_tile(t1, Some((1280, 720)));
        assert_eq!(
            drain(&mut r),
            vec![TileRequestOut::Tmmbr(CEILING), TileRequestOut::Keyframe]
        );
        assert_eq!(r.limit(), None);
        // Lifted: nothing repeats.
        r.handle_timeout(t1 + 3 * REPEAT);
        assert_eq!(drain(&mut r), vec![]);
        // Forwarded whole to a browser counts as big.
        r.handle_tile(t1 + 4 * REPEAT, Some((640, 360)));
        r.handle_timeout(t1 + 4 * REPEAT + HOLD_DOWN);
        assert_eq!(drain(&mut r), vec![TileRequestOut::Tmmbr(384_000)]);
        r.handle_tile(t1 + 5 * REPEAT, None);
        assert_eq!(
            drain(&mut r),
            vec![TileRequestOut::Tmmbr(CEILING), TileRequestOut::Keyframe]
        );
    }

    #[test]
    fn a_standing_limit_repeats_and_a_bigger_small_tile_raises_it() {
        let t0 = Instant::now();
        let mut r = TileRequest::new(CEILING);
        r.handle_tile(t0, Some(TILE_3X3));
        r.handle_timeout(t0 + HOLD_DOWN);
        let _ = drain(&mut r);
        let due = t0 + HOLD_DOWN + REPEAT;
        assert_eq!(r.poll_timeout(), Some(due));
        r.handle_timeout(due);
        assert_eq!(drain(&mut r), vec![TileRequestOut::Tmmbr(192_000)]);
        // From a 3x3 tile to a 2x2 one: up at once, still limited.
        r.handle_tile(due + S, Some((640, 360)));
        assert_eq!(
            drain(&mut r),
            vec![TileRequestOut::Tmmbr(384_000), TileRequestOut::Keyframe]
        );
        assert_eq!(r.limit(), Some(384_000));
    }
}
