//! The estimator against a simulated relay: a link that passes at most `cap` bit/s and drops
//! the rest, a far end that reports the loss it saw every [`RR_EVERY`], all on a virtual clock
//! (one `Instant::now` as its origin; only offsets from it matter).

#![allow(clippy::disallowed_methods)]

use super::*;

/// How often the simulated room system sends a receiver report.
const RR_EVERY: Duration = Duration::from_secs(2);
/// Simulation step.
const STEP: Duration = Duration::from_millis(100);

/// A 720p call (1.5 Mbit/s ceiling) behind a link capped at `cap_bps` (from `cap_from` on),
/// optionally asking for `tmmbr_bps` at 0.5 s; returns the rate sent in each second.
fn relay(cap_bps: impl Fn(Duration) -> u64, tmmbr_bps: Option<u64>, seconds: u64) -> Vec<u64> {
    let t0 = Instant::now();
    let mut est = BandwidthEstimator::new(1_500_000, (1280, 720));
    let (mut offered, mut delivered) = (0f64, 0f64);
    let mut per_second = Vec::new();
    let mut second_bits = 0f64;
    let mut at = Duration::ZERO;
    while at < Duration::from_secs(seconds) {
        let now = t0 + at;
        if let Some(limit) = tmmbr_bps.filter(|_| at == Duration::from_millis(500)) {
            est.handle_limit(now, LimitSource::Tmmbr, limit);
        }
        est.handle_timeout(now);
        let bits = est.class().bitrate_bps() as f64 * STEP.as_secs_f64();
        let room = cap_bps(at) as f64 * STEP.as_secs_f64();
        offered += bits;
        delivered += bits.min(room);
        second_bits += bits;
        at += STEP;
        if at.as_millis().is_multiple_of(1000) {
            per_second.push(second_bits as u64);
            second_bits = 0.0;
        }
        if at.as_millis().is_multiple_of(RR_EVERY.as_millis()) {
            let loss = if offered > 0.0 {
                1.0 - delivered / offered
            } else {
                0.0
            };
            est.handle_loss(t0 + at, (loss * 256.0).min(255.0) as u8);
            (offered, delivered) = (0.0, 0.0);
        }
    }
    per_second
}

#[test]
fn loss_alone_settles_a_capped_link_under_its_cap_within_seconds() {
    let cap = 512_000;
    let rates = relay(|_| cap, None, 120);
    // Two reports (4 s) to step down 1.5M -> 768k -> 384k; under the cap from second 5.
    let first_under = rates.iter().position(|r| *r <= cap).expect("settles");
    assert!(
        first_under <= 5,
        "under the cap only from second {first_under}: {rates:?}"
    );
    // No probe above the cap before the first back-off ends ...
    assert!(rates[5..30].iter().all(|r| *r <= cap), "{rates:?}");
    // ... and probes stay rare: under the cap at least 90 % of the time after settling.
    let over = rates[5..].iter().filter(|r| **r > cap).count();
    assert!(
        over * 10 <= rates.len() - 5,
        "{over} seconds over the cap: {rates:?}"
    );
}

#[test]
fn a_tmmbr_is_obeyed_at_once_and_held_without_loss() {
    let rates = relay(|_| u64::MAX, Some(512_000), 60);
    assert_eq!(rates[0], 384_000 / 2 + 1_500_000 / 2, "{rates:?}");
    assert!(rates[1..].iter().all(|r| *r == 384_000), "{rates:?}");
}

#[test]
fn a_lifted_cap_is_climbed_back_one_class_at_a_time() {
    let rates = relay(
        |at| {
            if at < Duration::from_secs(20) {
                512_000
            } else {
                u64::MAX
            }
        },
        None,
        180,
    );
    assert!(rates[10] <= 512_000, "{rates:?}");
    assert_eq!(*rates.last().expect("ran"), 1_500_000, "{rates:?}");
    for pair in rates.windows(2).skip(20) {
        let (a, b) = (pair[0], pair[1]);
        assert!(
            b <= a || b <= 2 * a,
            "jumped more than one class: {a} -> {b}"
        );
    }
}

#[test]
fn a_call_without_feedback_keeps_its_negotiated_picture() {
    let t0 = Instant::now();
    let mut est = BandwidthEstimator::new(2_000_000, (1280, 720));
    for s in 0..30 {
        est.handle_timeout(t0 + Duration::from_secs(s));
    }
    assert_eq!(est.class(), BitrateClass::Hd1500);
    assert_eq!(est.size_of(est.class()), (1280, 720));
    // A level that allows only 4CIF keeps its own size at its top class.
    let small = BandwidthEstimator::new(2_000_000, (704, 576));
    assert_eq!(small.class(), BitrateClass::Sd384);
    assert_eq!(small.size_of(small.class()), (704, 576));
    // ... and its classes below have their own.
    assert_eq!(small.size_of(BitrateClass::Ld192), (480, 270));
}

#[test]
fn the_1080p_class_needs_both_the_level_and_the_bandwidth() {
    assert_eq!(
        BitrateClass::highest_within(4_000_000, (1920, 1080)),
        BitrateClass::Fhd3000
    );
    assert_eq!(
        BitrateClass::highest_within(2_000_000, (1920, 1080)),
        BitrateClass::Hd1500
    );
    assert_eq!(
        BitrateClass::highest_within(4_000_000, (1280, 720)),
        BitrateClass::Hd1500
    );
    assert_eq!(
        BitrateClass::highest_within(300_000, (1920, 1080)),
        BitrateClass::Ld192
    );
    assert_eq!(
        BitrateClass::highest_within(100_000, (1920, 1080)),
        BitrateClass::Ld192
    );
}

#[test]
fn classes_are_found_by_their_size() {
    for class in BitrateClass::ALL {
        assert_eq!(BitrateClass::of_size(class.size()), Some(class));
    }
    assert_eq!(BitrateClass::of_size((704, 576)), None);
}
