//! Admin API token brute-force throttling: a source IP that presents more than
//! [`ThrottleConfig::max_failures`] wrong (or malformed, or missing) tokens inside
//! [`ThrottleConfig::window`] gets 429 with `Retry-After` for [`ThrottleConfig::lockout`],
//! whatever it sends, before its token is even looked at.
//!
//! Owns the failure counts only (time is passed in); the token middleware in `routes` asks it,
//! answers 429, counts `tessera_admin_auth_throttled_total` and logs the source. Memory is
//! bounded by [`MAX_TRACKED`]: when full, sources with no recent failure are forgotten, and a
//! new source that still finds no room goes uncounted (failing open: locking everyone out would
//! hand an attacker with many addresses a denial of service, and against a 256-bit token ten
//! guesses per address are nothing).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Most sources tracked at once.
pub const MAX_TRACKED: usize = 10_000;

/// The thresholds (flags `--admin-max-auth-failures`, `--admin-auth-lockout-secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures allowed per window; the next one locks the source out.
    pub max_failures: u32,
    /// The window failures are counted over.
    pub window: Duration,
    /// How long a locked-out source gets 429.
    pub lockout: Duration,
}

impl Default for ThrottleConfig {
    /// Ten mistakes a minute is plenty for a person or a misconfigured script, and caps a
    /// guesser at 10 tries a minute per address against a 256-bit token.
    fn default() -> Self {
        ThrottleConfig {
            max_failures: 10,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    window_start: Instant,
    count: u32,
    locked_until: Option<Instant>,
}

/// Failure counts by source: see the module doc.
#[derive(Debug, Default)]
pub struct AuthThrottle {
    config: ThrottleConfig,
    sources: HashMap<IpAddr, Failures>,
}

impl AuthThrottle {
    /// A throttle with `config`, nobody locked out.
    pub fn new(config: ThrottleConfig) -> Self {
        AuthThrottle {
            config,
            sources: HashMap::new(),
        }
    }

    /// If `source` is locked out at `now`: for how much longer.
    pub fn locked(&self, now: Instant, source: IpAddr) -> Option<Duration> {
        self.sources
            .get(&source)
            .and_then(|f| f.locked_until)
            .filter(|until| now < *until)
            .map(|until| until - now)
    }

    /// `source` presented a bad token at `now`. True when this failure locked it out.
    pub fn failed(&mut self, now: Instant, source: IpAddr) -> bool {
        let config = self.config;
        if !self.sources.contains_key(&source) && self.sources.len() >= MAX_TRACKED {
            self.sources.retain(|_, f| {
                f.locked_until.is_some_and(|u| now < u)
                    || now.saturating_duration_since(f.window_start) < config.window
            });
        }
        if !self.sources.contains_key(&source) && self.sources.len() >= MAX_TRACKED {
            return false;
        }
        let f = self.sources.entry(source).or_insert(Failures {
            window_start: now,
            count: 0,
            locked_until: None,
        });
        if f.locked_until.is_some_and(|u| now < u) {
            return false;
        }
        if now.saturating_duration_since(f.window_start) >= config.window
            || f.locked_until.is_some()
        {
            *f = Failures {
                window_start: now,
                count: 0,
                locked_until: None,
            };
        }
        f.count += 1;
        if f.count > config.max_failures {
            f.locked_until = Some(now + config.lockout);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    // One arbitrary origin; after it, time moves only by what each test adds.
    #![allow(clippy::disallowed_methods)]

    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn too_many_failures_lock_the_source_out_for_the_lockout() {
        let t0 = Instant::now();
        let mut throttle = AuthThrottle::new(ThrottleConfig::default());
        for _ in 0..10 {
            assert!(!throttle.failed(t0, ip(1)));
            assert_eq!(throttle.locked(t0, ip(1)), None);
        }
        assert!(throttle.failed(t0, ip(1)), "the eleventh locks");
        assert_eq!(throttle.locked(t0, ip(1)), Some(Duration::from_secs(60)));
        assert_eq!(throttle.locked(t0, ip(2)), None, "others are not affected");
        let later = t0 + Duration::from_secs(60);
        assert_eq!(throttle.locked(later, ip(1)), None);
        assert!(
            !throttle.failed(later, ip(1)),
            "a fresh start after the lockout"
        );
    }

    #[test]
    fn failures_spread_over_windows_never_lock() {
        let t0 = Instant::now();
        let mut throttle = AuthThrottle::new(ThrottleConfig::default());
        for i in 0..100u32 {
            assert!(!throttle.failed(t0 + Duration::from_secs(7) * i, ip(1)));
        }
    }
}
