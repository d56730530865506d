//! Per-source SIP limits in the manner of Kamailio's `pike` module: a rate limit per source IP
//! with temporary bans for floods and for repeated bad messages, and caps on the transactions
//! and dialogs one source may hold open at once.
//!
//! [`SourceLimits::handle_packet`] is asked about every datagram or stream frame before it is
//! parsed: a banned source's packets are dropped unread, which keeps a flood's cost at one hash
//! lookup per packet. More than [`LimitConfig::max_messages`] messages from one IP inside one
//! [`LimitConfig::window`], or more than [`LimitConfig::max_bad_messages`] messages that did not
//! parse ([`SourceLimits::handle_bad_message`]), ban the IP for [`LimitConfig::ban`]. The caller
//! asks [`SourceLimits::admits_transaction`] and [`SourceLimits::admits_dialog`] with the counts
//! it keeps, and refuses the request (503) when they say no.
//!
//! Bans and their ends come out of [`SourceLimits::poll_event`], for the driver's metrics and
//! log lines (which name the source). Memory is bounded: at most
//! [`LimitConfig::max_sources`] IPs are tracked; when that many are, idle ones are forgotten
//! first, and a source that finds no room is let through uncounted (the transaction and dialog
//! caps still hold for it).
//!
//! Sans-IO: time comes in as `now`; it owns no socket, no clock and no metric.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The thresholds. Every one is a flag and a TOML key of `tessera serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitConfig {
    /// The sampling window the message counts are taken over.
    pub window: Duration,
    /// Most messages one IP may send inside one window; one more bans it.
    pub max_messages: u32,
    /// Most unparseable messages one IP may send inside one window; one more bans it.
    pub max_bad_messages: u32,
    /// How long a ban lasts.
    pub ban: Duration,
    /// Most server transactions one IP may have waiting for their final response at once
    /// (more: 503).
    pub max_transactions: usize,
    /// Most dialogs (calls) one IP may have at once (more: 503).
    pub max_dialogs: usize,
    /// Most IPs tracked at once (the memory bound under a spoofed-source flood).
    pub max_sources: usize,
}

impl Default for LimitConfig {
    /// A room system sends a handful of messages per call (INVITE, ACK, BYE, re-INVITEs, INFO
    /// key presses, OPTIONS pings); a PBX trunk of a few hundred calls sends tens per second.
    /// 400 per 2 s lets either through, and bans a flood of 20,000/s within 20 ms.
    fn default() -> Self {
        LimitConfig {
            window: Duration::from_secs(2),
            max_messages: 400,
            max_bad_messages: 20,
            ban: Duration::from_secs(60),
            max_transactions: 200,
            max_dialogs: 100,
            max_sources: 100_000,
        }
    }
}

/// Whether a packet may be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    /// Parse and handle it.
    Accept,
    /// Drop it unread: its source is banned.
    Drop,
}

/// Why a source was banned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanReason {
    /// More than [`LimitConfig::max_messages`] in a window.
    Flood,
    /// More than [`LimitConfig::max_bad_messages`] unparseable messages in a window.
    BadMessages,
}

impl BanReason {
    /// The name metrics and logs use.
    pub fn as_str(self) -> &'static str {
        match self {
            BanReason::Flood => "flood",
            BanReason::BadMessages => "bad-messages",
        }
    }
}

impl fmt::Display for BanReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the limits report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitEvent {
    /// `source` is banned until `until`.
    Banned {
        /// The IP.
        source: IpAddr,
        /// Why.
        reason: BanReason,
        /// When the ban ends.
        until: Instant,
    },
    /// `source`'s ban ended; it had `dropped` packets dropped during it.
    Unbanned {
        /// The IP.
        source: IpAddr,
        /// Packets dropped while it was banned.
        dropped: u64,
    },
}

/// One source's counts.
#[derive(Debug, Clone, Copy)]
struct Source {
    window_start: Instant,
    messages: u32,
    bad: u32,
    /// Banned until then.
    banned_until: Option<Instant>,
    /// Packets dropped during the current ban.
    dropped: u64,
}

impl Source {
    fn new(now: Instant) -> Self {
        Source {
            window_start: now,
            messages: 0,
            bad: 0,
            banned_until: None,
            dropped: 0,
        }
    }

    /// Starts a new window when the current one is over.
    fn roll(&mut self, now: Instant, window: Duration) {
        if now.saturating_duration_since(self.window_start) >= window {
            self.window_start = now;
            self.messages = 0;
            self.bad = 0;
        }
    }

    fn idle(&self, now: Instant, window: Duration) -> bool {
        self.banned_until.is_none() && now.saturating_duration_since(self.window_start) >= window
    }
}

/// The per-source limits: see the module doc.
#[derive(Debug)]
pub struct SourceLimits {
    config: LimitConfig,
    sources: HashMap<IpAddr, Source>,
    /// Banned IPs, in the order their bans end (every ban lasts the same).
    bans: VecDeque<(Instant, IpAddr)>,
    events: VecDeque<LimitEvent>,
}

impl SourceLimits {
    /// Limits with `config`, nobody banned.
    pub fn new(config: LimitConfig) -> Self {
        SourceLimits {
            config,
            sources: HashMap::new(),
            bans: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The thresholds.
    pub fn config(&self) -> &LimitConfig {
        &self.config
    }

    /// A packet arrived from `source`: whether to read it. Counts it, and bans the source when
    /// it goes over [`LimitConfig::max_messages`] in the window (that packet is dropped too).
    pub fn handle_packet(&mut self, now: Instant, source: IpAddr) -> Verdict {
        self.expire(now);
        let config = self.config;
        let Some(state) = self.source(now, source) else {
            return Verdict::Accept;
        };
        if state.banned_until.is_some() {
            state.dropped += 1;
            return Verdict::Drop;
        }
        state.roll(now, config.window);
        state.messages = state.messages.saturating_add(1);
        if state.messages > config.max_messages {
            state.dropped += 1;
            self.ban(now, source, BanReason::Flood);
            return Verdict::Drop;
        }
        Verdict::Accept
    }

    /// A packet from `source` did not parse as SIP. Bans the source when it sends more than
    /// [`LimitConfig::max_bad_messages`] in the window.
    pub fn handle_bad_message(&mut self, now: Instant, source: IpAddr) {
        let config = self.config;
        let Some(state) = self.source(now, source) else {
            return;
        };
        if state.banned_until.is_some() {
            return;
        }
        state.roll(now, config.window);
        state.bad = state.bad.saturating_add(1);
        if state.bad > config.max_bad_messages {
            self.ban(now, source, BanReason::BadMessages);
        }
    }

    /// Whether a source holding `open` server transactions may open another.
    pub fn admits_transaction(&self, open: usize) -> bool {
        open < self.config.max_transactions
    }

    /// Whether a source holding `open` dialogs may open another.
    pub fn admits_dialog(&self, open: usize) -> bool {
        open < self.config.max_dialogs
    }

    /// Whether `source` is banned now.
    pub fn is_banned(&self, now: Instant, source: IpAddr) -> bool {
        self.sources
            .get(&source)
            .and_then(|s| s.banned_until)
            .is_some_and(|until| now < until)
    }

    /// IPs banned now (counting bans that ended but were not yet collected by
    /// [`handle_timeout`](Self::handle_timeout)).
    pub fn banned_sources(&self) -> usize {
        self.bans.len()
    }

    /// IPs tracked now.
    pub fn tracked_sources(&self) -> usize {
        self.sources.len()
    }

    /// Ends the bans that are over.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
    }

    /// When the next ban ends.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.bans.front().map(|(until, _)| *until)
    }

    /// The next ban or unban to report.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<LimitEvent> {
        self.events.pop_front()
    }

    fn ban(&mut self, now: Instant, source: IpAddr, reason: BanReason) {
        let until = now + self.config.ban;
        if let Some(state) = self.sources.get_mut(&source) {
            state.banned_until = Some(until);
        }
        self.bans.push_back((until, source));
        self.events.push_back(LimitEvent::Banned {
            source,
            reason,
            until,
        });
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(until, source)) = self.bans.front() {
            if now < until {
                break;
            }
            self.bans.pop_front();
            if let Some(state) = self.sources.get_mut(&source) {
                let dropped = state.dropped;
                *state = Source::new(now);
                self.events
                    .push_back(LimitEvent::Unbanned { source, dropped });
            }
        }
    }

    /// `source`'s counts, made if there is room (forgetting idle sources when there is not).
    fn source(&mut self, now: Instant, source: IpAddr) -> Option<&mut Source> {
        if !self.sources.contains_key(&source) && self.sources.len() >= self.config.max_sources {
            let window = self.config.window;
            self.sources.retain(|_, s| !s.idle(now, window));
            if self.sources.len() >= self.config.max_sources {
                return None;
            }
        }
        Some(
            self.sources
                .entry(source)
                .or_insert_with(|| Source::new(now)),
        )
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

    fn small() -> LimitConfig {
        LimitConfig {
            window: Duration::from_secs(1),
            max_messages: 10,
            max_bad_messages: 3,
            ban: Duration::from_secs(30),
            max_transactions: 2,
            max_dialogs: 1,
            max_sources: 4,
        }
    }

    #[test]
    fn a_flood_bans_its_source_and_only_its_source() {
        let t0 = Instant::now();
        let mut limits = SourceLimits::new(small());
        for _ in 0..10 {
            assert_eq!(limits.handle_packet(t0, ip(1)), Verdict::Accept);
        }
        assert_eq!(limits.handle_packet(t0, ip(1)), Verdict::Drop);
        assert_eq!(
            limits.poll_event(),
            Some(LimitEvent::Banned {
                source: ip(1),
                reason: BanReason::Flood,
                until: t0 + Duration::from_secs(30),
            })
        );
        assert_eq!(limits.poll_event(), None, "banned once");
        for _ in 0..1000 {
            assert_eq!(limits.handle_packet(t0, ip(1)), Verdict::Drop);
        }
        assert_eq!(limits.poll_event(), None, "banned once");
        assert_eq!(limits.handle_packet(t0, ip(2)), Verdict::Accept);
        assert_eq!(limits.banned_sources(), 1);
        assert!(limits.is_banned(t0, ip(1)));
    }

    #[test]
    fn a_steady_rate_under_the_limit_is_never_banned() {
        let t0 = Instant::now();
        let mut limits = SourceLimits::new(small());
        for i in 0..1000u32 {
            // Ten per second: exactly the limit.
            let now = t0 + Duration::from_millis(100) * i;
            assert_eq!(limits.handle_packet(now, ip(1)), Verdict::Accept, "{i}");
        }
        assert_eq!(limits.poll_event(), None);
    }

    #[test]
    fn a_ban_ends_after_its_time_with_what_it_dropped() {
        let t0 = Instant::now();
        let mut limits = SourceLimits::new(small());
        for _ in 0..15 {
            let _ = limits.handle_packet(t0, ip(1));
        }
        let _ = limits.poll_event();
        let end = t0 + Duration::from_secs(30);
        assert_eq!(limits.poll_timeout(), Some(end));
        limits.handle_timeout(end - Duration::from_millis(1));
        assert_eq!(limits.poll_event(), None);
        limits.handle_timeout(end);
        assert_eq!(
            limits.poll_event(),
            Some(LimitEvent::Unbanned {
                source: ip(1),
                dropped: 5
            })
        );
        assert_eq!(limits.banned_sources(), 0);
        assert_eq!(limits.handle_packet(end, ip(1)), Verdict::Accept);
    }

    #[test]
    fn repeated_bad_messages_ban_their_source() {
        let t0 = Instant::now();
        let mut limits = SourceLimits::new(small());
        for _ in 0..3 {
            assert_eq!(limits.handle_packet(t0, ip(1)), Verdict::Accept);
            limits.handle_bad_message(t0, ip(1));
        }
        assert_eq!(limits.poll_event(), None);
        assert_eq!(limits.handle_packet(t0, ip(1)), Verdict::Accept);
        limits.handle_bad_message(t0, ip(1));
        assert!(matches!(
            limits.poll_event(),
            Some(LimitEvent::Banned {
                reason: BanReason::BadMessages,
                ..
            })
        ));
        assert_eq!(limits.handle_packet(t0, ip(1)), Verdict::Drop);
    }

    #[test]
    fn bad_messages_spread_over_windows_are_forgiven() {
        let t0 = Instant::now();
        let mut limits = SourceLimits::new(small());
        for i in 0..100u32 {
            let now = t0 + Duration::from_millis(500) * i;
            assert_eq!(limits.handle_packet(now, ip(1)), Verdict::Accept);
            limits.handle_bad_message(now, ip(1));
        }
        assert_eq!(limits.poll_event(), None);
    }

    #[test]
    fn transaction_and_dialog_caps() {
        let limits = SourceLimits::new(small());
        assert!(limits.admits_transaction(1));
        assert!(!limits.admits_transaction(2));
        assert!(limits.admits_dialog(0));
        assert!(!limits.admits_dialog(1));
    }

    #[test]
    fn tracked_sources_stay_bounded_and_idle_ones_are_forgotten_first() {
        let t0 = Instant::now();
        let mut limits = SourceLimits::new(small());
        for last in 0..100 {
            assert_eq!(limits.handle_packet(t0, ip(last)), Verdict::Accept);
        }
        assert_eq!(limits.tracked_sources(), 4);
        // A window later the first four are idle: a new source takes their room.
        let later = t0 + Duration::from_secs(1);
        for _ in 0..11 {
            let _ = limits.handle_packet(later, ip(200));
        }
        assert!(limits.is_banned(later, ip(200)));
        assert!(limits.tracked_sources() <= 4);
    }
}
