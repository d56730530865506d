//! A receiver's bandwidth estimate (REMB) turned into the budget a forwarder plans with, with
//! hysteresis: a lower estimate applies at once (the path is congested now, waiting makes it
//! worse), a higher one only once the receiver has reported more for [`EstimateHold::hold`]
//! without a dip (a browser's estimate swings by a few percent between reports; following every
//! rise would switch layers up and straight back down, each switch costing a keyframe).
//!
//! Time is passed in; nothing here reads a clock or knows about layers or meetings.

use std::time::{Duration, Instant};

/// How long a higher estimate must hold before the budget follows it, by default.
pub const DEFAULT_HOLD: Duration = Duration::from_secs(2);

/// The budget derived from one receiver's reports. See the module doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstimateHold {
    hold: Duration,
    /// The budget in force.
    applied: Option<u64>,
    /// Since when every report was above the budget, and the lowest of them.
    rising: Option<(Instant, u64)>,
}

impl EstimateHold {
    /// No report yet; rises must hold for `hold`.
    pub fn new(hold: Duration) -> Self {
        EstimateHold {
            hold,
            applied: None,
            rising: None,
        }
    }

    /// How long a rise must hold.
    pub fn hold(&self) -> Duration {
        self.hold
    }

    /// The budget in force (`None` before the first report).
    pub fn budget(&self) -> Option<u64> {
        self.applied
    }

    /// The receiver reported `bps` at `now`: returns the new budget when it changes. The first
    /// report and every lower one apply at once; a higher one applies, as the lowest report
    /// seen since the rise began, once reports have stayed above the budget for the hold.
    pub fn on_report(&mut self, now: Instant, bps: u64) -> Option<u64> {
        let Some(applied) = self.applied else {
            self.applied = Some(bps);
            return Some(bps);
        };
        if bps < applied {
            self.rising = None;
            self.applied = Some(bps);
            return Some(bps);
        }
        if bps == applied {
            self.rising = None;
            return None;
        }
        let (since, lowest) = self.rising.get_or_insert((now, bps));
        *lowest = (*lowest).min(bps);
        if now.saturating_duration_since(*since) < self.hold {
            return None;
        }
        let up = *lowest;
        self.rising = None;
        self.applied = Some(up);
        Some(up)
    }
}

#[cfg(test)]
// One arbitrary origin for the virtual clock.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_drop_applies_at_once_and_a_rise_only_after_it_held() {
        let t0 = Instant::now();
        let mut e = EstimateHold::new(2 * S);
        assert_eq!(e.on_report(t0, 3_000_000), Some(3_000_000));
        assert_eq!(e.on_report(t0 + S, 500_000), Some(500_000));
        // Up again: not before two seconds of higher reports, then the lowest of them.
        assert_eq!(e.on_report(t0 + 2 * S, 4_000_000), None);
        assert_eq!(e.on_report(t0 + 3 * S, 3_500_000), None);
        assert_eq!(e.on_report(t0 + 4 * S, 5_000_000), Some(3_500_000));
        assert_eq!(e.budget(), Some(3_500_000));
    }

    #[test]
    fn a_dip_during_a_rise_starts_the_hold_again() {
        let t0 = Instant::now();
        let mut e = EstimateHold::new(2 * S);
        e.on_report(t0, 1_000_000);
        assert_eq!(e.on_report(t0 + S, 2_000_000), None);
        assert_eq!(e.on_report(t0 + 2 * S, 900_000), Some(900_000));
        assert_eq!(e.on_report(t0 + 3 * S, 2_000_000), None);
        assert_eq!(e.on_report(t0 + 4 * S, 2_000_000), None);
        assert_eq!(e.on_report(t0 + 5 * S, 2_000_000), Some(2_000_000));
        // The same value again changes nothing.
        assert_eq!(e.on_report(t0 + 6 * S, 2_000_000), None);
    }

    proptest! {
        /// Whatever the reports, the budget never exceeds the latest report, and it never rises
        /// sooner than the hold after a report that was not above it.
        #[test]
        fn the_budget_never_exceeds_the_latest_report(
            reports in proptest::collection::vec((0u64..5_000, 0u64..10_000_000), 1..50)
        ) {
            let t0 = Instant::now();
            let mut e = EstimateHold::new(2 * S);
            let mut at = t0;
            let mut last_not_above = t0;
            for (step_ms, bps) in reports {
                at += Duration::from_millis(step_ms);
                let before = e.budget();
                let changed = e.on_report(at, bps);
                let budget = e.budget().unwrap();
                prop_assert!(budget <= bps.max(before.unwrap_or(0)));
                if let (Some(new), Some(old)) = (changed, before) {
                    if new > old {
                        prop_assert!(at.duration_since(last_not_above) >= e.hold());
                        prop_assert!(new <= bps);
                    }
                }
                if before.is_none_or(|b| bps <= b) {
                    last_not_above = at;
                }
            }
        }
    }
}
