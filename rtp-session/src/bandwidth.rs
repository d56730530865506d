//! Bandwidth adaptation for one call's outgoing video: what the room system asks for (RTCP TMMBR,
//! REMB) and what its receiver reports show (loss), turned into the bit-rate class of the layout
//! stream it should receive.
//!
//! Shared encoders stay shared because viewers are not given a rate of their own but one of a few
//! [`BitrateClass`]es (192 kbit/s 480x270, 384 kbit/s 640x360, 768 kbit/s 960x540, 1.5 Mbit/s
//! 1280x720, 3 Mbit/s 1920x1080): every viewer of one layout in one class follows one encoder. `b=AS`/TIAS and the
//! largest picture the far end's level allows are the ceiling; the estimator never goes above
//! them, and starts there (so a call that sends no feedback gets what it got before).
//!
//! The decisions, on the caller's clock:
//! - **TMMBR / REMB**: a hard limit, obeyed at once (the next frame goes to the lower class); the
//!   caller answers a TMMBR with a TMMBN ([`crate::rtcp::RtcpOut::Tmmbn`]).
//! - **Loss** (receiver reports): above [`LOSS_HIGH`] the estimate drops to what got through,
//!   `sent x (1 - loss / 2)` (the loss-based half of Google Congestion Control), and the class
//!   given up is barred for a back-off that doubles with each loss event ([`BACKOFF_FIRST`] up to
//!   [`BACKOFF_MAX`]): a link that shreds 768 kbit/s is probed again rarely, not every few
//!   seconds. Below [`LOSS_LOW`] the estimate grows by [`GROWTH_PER_SECOND`].
//! - **Class moves**: down at once; up one class at a time, after the estimate has allowed it for
//!   [`UP_HOLD`]. The caller moves the viewer to the new class's encoder at a keyframe.
//!
//! Owns only this arithmetic; it must not read the clock, touch sockets or know the engine.

use std::time::{Duration, Instant};

/// Loss fraction above which the estimate drops (10 %, as in GCC's loss controller).
pub const LOSS_HIGH: f64 = 0.10;
/// Loss fraction below which the estimate grows (2 %).
pub const LOSS_LOW: f64 = 0.02;
/// Growth of the estimate per second without loss (8 %, GCC's).
pub const GROWTH_PER_SECOND: f64 = 1.08;
/// How long the estimate must allow a higher class before the viewer moves up to it.
pub const UP_HOLD: Duration = Duration::from_secs(3);
/// How long a class given up for loss is barred the first time.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(15);
/// The longest bar (back-offs double up to this).
pub const BACKOFF_MAX: Duration = Duration::from_secs(120);

/// The bit-rate classes a viewer can be in, lowest first; each with the picture that suits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BitrateClass {
    /// 192 kbit/s, 480x270: for lines below 384 kbit/s (a 640x360 stream and its keyframes
    /// shred a 250 kbit/s line).
    Ld192,
    /// 384 kbit/s, 640x360.
    Sd384,
    /// 768 kbit/s, 960x540.
    Qhd768,
    /// 1.5 Mbit/s, 1280x720 (the default towards a VTC).
    Hd1500,
    /// 3 Mbit/s, 1920x1080 (only for room systems whose level and `b=AS` allow it).
    Fhd3000,
}

impl BitrateClass {
    /// Every class, lowest first.
    pub const ALL: [BitrateClass; 5] = [
        BitrateClass::Ld192,
        BitrateClass::Sd384,
        BitrateClass::Qhd768,
        BitrateClass::Hd1500,
        BitrateClass::Fhd3000,
    ];

    /// The class's video bit rate, bit/s.
    #[must_use]
    pub fn bitrate_bps(self) -> u64 {
        match self {
            BitrateClass::Ld192 => 192_000,
            BitrateClass::Sd384 => 384_000,
            BitrateClass::Qhd768 => 768_000,
            BitrateClass::Hd1500 => 1_500_000,
            BitrateClass::Fhd3000 => 3_000_000,
        }
    }

    /// The picture size the class is encoded at.
    #[must_use]
    pub fn size(self) -> (u32, u32) {
        match self {
            BitrateClass::Ld192 => (480, 270),
            BitrateClass::Sd384 => (640, 360),
            BitrateClass::Qhd768 => (960, 540),
            BitrateClass::Hd1500 => (1280, 720),
            BitrateClass::Fhd3000 => (1920, 1080),
        }
    }

    /// The class encoded at exactly `size`, if any.
    #[must_use]
    pub fn of_size(size: (u32, u32)) -> Option<BitrateClass> {
        Self::ALL.into_iter().find(|c| c.size() == size)
    }

    /// The highest class within `ceiling_bps` whose picture fits `max_size`; the lowest class
    /// when none does (a link below 192 kbit/s still gets a picture, the smallest).
    #[must_use]
    pub fn highest_within(ceiling_bps: u64, max_size: (u32, u32)) -> BitrateClass {
        Self::ALL
            .into_iter()
            .rev()
            .find(|c| {
                let (w, h) = c.size();
                c.bitrate_bps() <= ceiling_bps && w <= max_size.0 && h <= max_size.1
            })
            .unwrap_or(BitrateClass::Ld192)
    }

    fn higher(self) -> Option<BitrateClass> {
        Self::ALL.into_iter().find(|c| *c > self)
    }
}

/// Who set a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// RTCP TMMBR (RFC 5104 §4.2.1): answered with a TMMBN.
    Tmmbr,
    /// REMB (draft-alvestrand-rmcat-remb).
    Remb,
}

/// One call's estimate of the video bit rate its far end can take. See the module doc.
#[derive(Debug, Clone)]
pub struct BandwidthEstimator {
    /// `b=AS`/TIAS and the level's largest picture: never exceeded.
    ceiling_bps: u64,
    max_size: (u32, u32),
    /// The highest class the ceiling allows (where the call starts).
    top: BitrateClass,
    tmmbr_bps: Option<u64>,
    remb_bps: Option<u64>,
    /// The loss-based estimate, bit/s.
    loss_estimate: f64,
    /// When the loss-based estimate last grew (growth is per second since then).
    last_growth: Option<Instant>,
    /// A class given up for loss, barred (with everything above it) until the instant.
    barred: Option<(BitrateClass, Instant)>,
    /// The next bar's length.
    backoff: Duration,
    class: BitrateClass,
    /// Since when the estimate has allowed the class above the current one.
    up_since: Option<Instant>,
}

impl BandwidthEstimator {
    /// A call whose ceiling is `ceiling_bps` (`b=AS`/TIAS, or the gateway's default) and whose
    /// far end can take pictures up to `max_size`; it starts in the highest class they allow.
    #[must_use]
    pub fn new(ceiling_bps: u64, max_size: (u32, u32)) -> Self {
        let top = BitrateClass::highest_within(ceiling_bps, max_size);
        BandwidthEstimator {
            ceiling_bps,
            max_size,
            top,
            tmmbr_bps: None,
            remb_bps: None,
            loss_estimate: ceiling_bps as f64,
            last_growth: None,
            barred: None,
            backoff: BACKOFF_FIRST,
            class: top,
            up_since: None,
        }
    }

    /// The class the viewer is in now.
    #[must_use]
    pub fn class(&self) -> BitrateClass {
        self.class
    }

    /// The highest class the ceiling allows.
    #[must_use]
    pub fn top(&self) -> BitrateClass {
        self.top
    }

    /// The picture size the viewer's stream should have in `class`: the class's own, except at
    /// the top class, which keeps the far end's negotiated size (so calls without feedback keep
    /// exactly the picture they had).
    #[must_use]
    pub fn size_of(&self, class: BitrateClass) -> (u32, u32) {
        if class >= self.top {
            self.max_size
        } else {
            class.size()
        }
    }

    /// The rate the far end can take now, bit/s: the least of the ceiling, its limits and the
    /// loss-based estimate.
    #[must_use]
    pub fn target_bps(&self) -> u64 {
        let mut target = self.ceiling_bps.min(self.loss_estimate as u64);
        for limit in [self.tmmbr_bps, self.remb_bps].into_iter().flatten() {
            target = target.min(limit);
        }
        target
    }

    /// A limit from the far end (TMMBR or REMB), bit/s; the newest of each kind counts.
    pub fn handle_limit(&mut self, now: Instant, source: LimitSource, bitrate_bps: u64) {
        match source {
            LimitSource::Tmmbr => self.tmmbr_bps = Some(bitrate_bps),
            LimitSource::Remb => self.remb_bps = Some(bitrate_bps),
        }
        self.reconsider(now);
    }

    /// A receiver report on our video: `fraction_lost` as RFC 3550 codes it (loss x 256).
    pub fn handle_loss(&mut self, now: Instant, fraction_lost: u8) {
        let loss = f64::from(fraction_lost) / 256.0;
        if loss > LOSS_HIGH {
            let sent = self.class.bitrate_bps() as f64;
            self.loss_estimate = self.loss_estimate.min(sent * (1.0 - loss / 2.0));
            self.last_growth = Some(now);
            if self.class > BitrateClass::Ld192 {
                self.barred = Some((self.class, now + self.backoff));
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
            }
        } else if loss < LOSS_LOW {
            if let Some(last) = self.last_growth {
                let seconds = now.saturating_duration_since(last).as_secs_f64();
                self.loss_estimate = (self.loss_estimate * GROWTH_PER_SECOND.powf(seconds))
                    .min(self.ceiling_bps as f64);
            }
            self.last_growth = Some(now);
        }
        self.reconsider(now);
    }

    /// Lets a pending move up happen once its hold is over.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.reconsider(now);
    }

    /// When [`Self::handle_timeout`] could next change the class (`None`: nothing pending).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.up_since.map(|since| since + UP_HOLD)
    }

    fn reconsider(&mut self, now: Instant) {
        let target = self.target_bps();
        let allowed = BitrateClass::highest_within(target, self.max_size).min(self.top);
        if self.barred.is_some_and(|(_, until)| now >= until) {
            self.barred = None;
        }
        if allowed < self.class {
            self.class = allowed;
            self.up_since = None;
            return;
        }
        let Some(next) = self.class.higher().filter(|next| *next <= allowed) else {
            self.up_since = None;
            return;
        };
        if self.barred.is_some_and(|(class, _)| next >= class) {
            self.up_since = None;
            return;
        }
        let since = *self.up_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= UP_HOLD {
            self.class = next;
            self.up_since = None;
        }
    }
}

#[cfg(test)]
mod tests;
