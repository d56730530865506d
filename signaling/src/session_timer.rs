//! RFC 4028 session timers, sans-IO: the `Session-Expires` and `Min-SE` headers, the UAS's
//! negotiation of an interval and a refresher (including the 422 for an interval below our
//! minimum), and the deadlines of one session: when to send a refresh (half the interval, when we
//! refresh) and when the session has expired (a refresh missed, whoever was due to send it).
//!
//! Owns the header grammar and the timing rules. It must not build or send requests, own
//! transactions or dialogs, or decide what an expiry does to a call: the gateway's call core
//! turns [`SessionTimerEvent`]s into UPDATE/re-INVITE and BYE. Time is passed in; nothing here reads
//! a clock.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::sip::{HeaderName, Message, Params};

/// The name of the option tag (`Supported: timer`, `Require: timer`).
pub const OPTION_TAG: &str = "timer";

/// The smallest Min-SE RFC 4028 allows on the wire (§5), in seconds.
pub const RFC_MIN_SE_SECS: u32 = 90;

/// Why a session-timer header could not be read. Each is answered with 400 and the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionTimerError {
    /// `Session-Expires` is not `delta-seconds *(;param)` with at most one `refresher=uac|uas`.
    #[error("Bad Session-Expires: {0}")]
    BadSessionExpires(String),
    /// `Min-SE` is not `delta-seconds *(;param)`.
    #[error("Bad Min-SE: {0}")]
    BadMinSe(String),
    /// The header appears more than once.
    #[error("Multiple {0} headers")]
    Duplicate(&'static str),
}

/// Who sends the refreshes, as the `refresher` parameter names it: relative to the transaction
/// that carries the header (the UAC sent the request, the UAS answers it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    /// `refresher=uac`: the sender of the request.
    Uac,
    /// `refresher=uas`: the one answering it.
    Uas,
}

impl Refresher {
    fn as_str(self) -> &'static str {
        match self {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        }
    }
}

/// A `Session-Expires` value: `1800;refresher=uac`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires {
    /// The session interval, in seconds.
    pub interval: u32,
    /// Who refreshes, if the header says.
    pub refresher: Option<Refresher>,
}

impl SessionExpires {
    /// Parses a header value. Unknown parameters are allowed (the grammar has `generic-param`).
    pub fn parse(text: &str) -> Result<SessionExpires, SessionTimerError> {
        let bad = || SessionTimerError::BadSessionExpires(text.to_owned());
        let (interval, params) = split_delta_seconds(text).ok_or_else(bad)?;
        let mut refresher = None;
        for (name, value) in params.iter() {
            if !name.eq_ignore_ascii_case("refresher") {
                continue;
            }
            if refresher.is_some() {
                return Err(bad());
            }
            refresher = Some(match value.map(str::to_ascii_lowercase).as_deref() {
                Some("uac") => Refresher::Uac,
                Some("uas") => Refresher::Uas,
                _ => return Err(bad()),
            });
        }
        Ok(SessionExpires {
            interval,
            refresher,
        })
    }
}

impl fmt::Display for SessionExpires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.interval)?;
        if let Some(r) = self.refresher {
            write!(f, ";refresher={}", r.as_str())?;
        }
        Ok(())
    }
}

/// Parses a `Min-SE` value (`delta-seconds *(;generic-param)`), in seconds.
pub fn parse_min_se(text: &str) -> Result<u32, SessionTimerError> {
    split_delta_seconds(text)
        .map(|(secs, _)| secs)
        .ok_or_else(|| SessionTimerError::BadMinSe(text.to_owned()))
}

/// `delta-seconds` (1 to 10 digits, at most `u32::MAX`) and the parameters after it.
fn split_delta_seconds(text: &str) -> Option<(u32, Params)> {
    let text = text.trim();
    let (number, params) = match text.find(';') {
        Some(at) => (text[..at].trim_end(), &text[at..]),
        None => (text, ""),
    };
    if number.is_empty() || number.len() > 10 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((number.parse().ok()?, Params::parse(params)?))
}

/// The one value of a header that may appear once, if present.
fn single<'a>(
    message: &'a Message,
    name: &HeaderName,
    label: &'static str,
) -> Result<Option<&'a str>, SessionTimerError> {
    let mut values = message.headers.get_all(name);
    let first = values.next();
    if values.next().is_some() {
        return Err(SessionTimerError::Duplicate(label));
    }
    Ok(first)
}

/// Whether a request or response lists `timer` in `Supported` (or `Require`).
pub fn supports_timer(message: &Message) -> bool {
    [HeaderName::SUPPORTED, HeaderName::REQUIRE]
        .iter()
        .any(|name| {
            message
                .headers
                .list(name)
                .any(|tag| tag.eq_ignore_ascii_case(OPTION_TAG))
        })
}

/// Our side of the negotiation, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerPolicy {
    /// The smallest interval we accept (our `Min-SE`), in seconds. RFC 4028 wants at least
    /// [`RFC_MIN_SE_SECS`]; smaller values are for tests.
    pub min_se: u32,
    /// The interval we use when the peer names none, and the most we accept (a longer one is
    /// lowered to it, as §9 allows), in seconds. Never below `min_se`.
    pub session_expires: u32,
}

impl Default for TimerPolicy {
    /// RFC 4028's recommendations: Min-SE 90 s, Session-Expires 1800 s.
    fn default() -> Self {
        TimerPolicy {
            min_se: RFC_MIN_SE_SECS,
            session_expires: 1800,
        }
    }
}

/// Which side of the session refreshes it, from our point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We send the refreshes.
    Local,
    /// The peer sends them; we only watch for them.
    Remote,
}

/// A negotiated session timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The session interval, in seconds.
    pub interval: u32,
    /// Who refreshes.
    pub refresher: Role,
    /// Whether the peer supports the extension (then our 2xx carries `Require: timer`).
    pub peer_supports: bool,
}

impl Negotiated {
    /// The session interval.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval.into())
    }

    /// The headers of our 2xx to the request that negotiated this timer (we are its UAS):
    /// `Session-Expires` with the refresher, and `Require: timer` when the peer supports it.
    pub fn response_headers(&self) -> Vec<(HeaderName, String)> {
        let refresher = match self.refresher {
            Role::Local => Refresher::Uas,
            Role::Remote => Refresher::Uac,
        };
        let mut headers = vec![(
            HeaderName::SESSION_EXPIRES,
            SessionExpires {
                interval: self.interval,
                refresher: Some(refresher),
            }
            .to_string(),
        )];
        if self.peer_supports {
            headers.push((HeaderName::REQUIRE, OPTION_TAG.to_owned()));
        }
        headers
    }

    /// The headers of a refresh we send (we are its UAC and stay the refresher).
    pub fn refresh_headers(&self, policy: &TimerPolicy) -> Vec<(HeaderName, String)> {
        vec![
            (HeaderName::SUPPORTED, OPTION_TAG.to_owned()),
            (
                HeaderName::SESSION_EXPIRES,
                SessionExpires {
                    interval: self.interval,
                    refresher: Some(Refresher::Uac),
                }
                .to_string(),
            ),
            (HeaderName::MIN_SE, policy.min_se.to_string()),
        ]
    }
}

/// What a UAS does with a session-timer negotiation (an INVITE, or a refresh re-INVITE/UPDATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UasDecision {
    /// The request neither supports the extension nor names an interval: no session timer.
    NoTimer,
    /// The interval asked for is below our minimum: answer 422 with `Min-SE: min_se`.
    TooSmall {
        /// Our minimum, for the 422's `Min-SE` header.
        min_se: u32,
    },
    /// Run this timer; put [`Negotiated::response_headers`] in the 2xx.
    Timer(Negotiated),
}

/// RFC 4028 §9: the UAS's negotiation of a request that creates or refreshes a session.
///
/// A peer that supports the extension gets a timer even if it named no interval (ours, with the
/// peer as refresher unless it asked otherwise: it knows how to refresh). A peer that does not
/// support it gets one only if the request carries a `Session-Expires` (a proxy put it there);
/// then we must refresh. A request with neither is left without a timer: a plain peer would not
/// understand our refreshes. An interval is never below the request's `Min-SE` nor ours, and one
/// above our preference is lowered to it.
pub fn negotiate_uas(
    policy: &TimerPolicy,
    request: &Message,
) -> Result<UasDecision, SessionTimerError> {
    let expires = single(request, &HeaderName::SESSION_EXPIRES, "Session-Expires")?
        .map(SessionExpires::parse)
        .transpose()?;
    let their_min = single(request, &HeaderName::MIN_SE, "Min-SE")?
        .map(parse_min_se)
        .transpose()?
        .unwrap_or(0);
    let peer_supports = supports_timer(request);
    let floor = their_min.max(policy.min_se);
    let interval = match expires {
        Some(asked) if asked.interval < policy.min_se => {
            return Ok(UasDecision::TooSmall {
                min_se: policy.min_se,
            })
        }
        Some(asked) => asked.interval.min(policy.session_expires).max(floor),
        None if peer_supports => policy.session_expires.max(floor),
        None => return Ok(UasDecision::NoTimer),
    }
    .max(1);
    let refresher = match (peer_supports, expires.and_then(|e| e.refresher)) {
        // Only a peer that supports the extension can be asked to refresh.
        (true, Some(Refresher::Uac) | None) => Role::Remote,
        _ => Role::Local,
    };
    Ok(UasDecision::Timer(Negotiated {
        interval,
        refresher,
        peer_supports,
    }))
}

/// What a session's timer asks its owner to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTimerEvent {
    /// We are the refresher and half the interval has passed: send a refresh (UPDATE or
    /// re-INVITE) with [`Negotiated::refresh_headers`], and report its outcome with
    /// [`SessionTimer::handle_refresh_response`] or [`SessionTimer::handle_refresh_failed`].
    SendRefresh,
    /// No refresh came in time (or ours failed): end the session with BYE.
    Expired,
}

/// One session's timer: when the next refresh is due and when the session expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTimer {
    negotiated: Negotiated,
    refreshed_at: Instant,
    /// Our refresh is in flight (not sent again until it is answered).
    refreshing: bool,
    expired: bool,
    events: VecDeque<SessionTimerEvent>,
}

impl SessionTimer {
    /// A timer started at `now` (when the 2xx that negotiated it was sent).
    pub fn new(now: Instant, negotiated: Negotiated) -> Self {
        SessionTimer {
            negotiated,
            refreshed_at: now,
            refreshing: false,
            expired: false,
            events: VecDeque::new(),
        }
    }

    /// What was negotiated last.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// When we send our refresh: half the interval after the last one (§7.4), if we refresh.
    fn refresh_at(&self) -> Option<Instant> {
        (self.negotiated.refresher == Role::Local && !self.refreshing)
            .then(|| self.refreshed_at + self.negotiated.interval() / 2)
    }

    /// When the session expires: §10 has the side that did not refresh send its BYE a little
    /// before the interval ends (the interval less the smaller of 32 s and a third of it), so it
    /// arrives while the session still stands. The same deadline ends a session whose refresh we
    /// could not get through.
    fn expires_at(&self) -> Instant {
        let interval = self.negotiated.interval();
        let margin = (interval / 3).min(Duration::from_secs(32));
        self.refreshed_at + interval - margin
    }

    /// The next instant [`handle_timeout`](Self::handle_timeout) has work; `None` once expired.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.expired {
            return None;
        }
        let expiry = self.expires_at();
        Some(self.refresh_at().map_or(expiry, |at| at.min(expiry)))
    }

    /// Fires whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.expired {
            return;
        }
        if now >= self.expires_at() {
            self.expired = true;
            self.events.push_back(SessionTimerEvent::Expired);
        } else if self.refresh_at().is_some_and(|at| now >= at) {
            self.refreshing = true;
            self.events.push_back(SessionTimerEvent::SendRefresh);
        }
    }

    /// The next thing to do.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SessionTimerEvent> {
        self.events.pop_front()
    }

    /// The peer's refresh was accepted at `now` (we answered it 2xx with `negotiated`'s headers).
    pub fn handle_peer_refresh(&mut self, now: Instant, negotiated: Negotiated) {
        if self.expired {
            return;
        }
        self.negotiated = negotiated;
        self.refreshed_at = now;
        self.refreshing = false;
    }

    /// The peer answered our refresh with a 2xx at `now`. Its `Session-Expires`, if any, sets the
    /// new interval and refresher (relative to our request: `uac` is us); without one the peer
    /// does not do session timers and we go on refreshing at the interval we asked for (§7.2).
    pub fn handle_refresh_response(
        &mut self,
        now: Instant,
        response: &Message,
    ) -> Result<(), SessionTimerError> {
        self.refreshing = false;
        if self.expired {
            return Ok(());
        }
        self.refreshed_at = now;
        let expires = single(response, &HeaderName::SESSION_EXPIRES, "Session-Expires")?
            .map(SessionExpires::parse)
            .transpose()?;
        if let Some(expires) = expires {
            self.negotiated.interval = expires.interval.max(1);
            self.negotiated.peer_supports = true;
            self.negotiated.refresher = match expires.refresher {
                Some(Refresher::Uas) => Role::Remote,
                Some(Refresher::Uac) | None => Role::Local,
            };
        }
        Ok(())
    }

    /// Our refresh failed with `code` (or timed out: 408). A 408 or 481 means the
    /// session is gone (§10): it expires now. A 422 names the interval the peer wants: the refresh
    /// is retried at once with it. Anything else leaves the session to its expiry (unless the peer
    /// refreshes it meanwhile).
    pub fn handle_refresh_failed(&mut self, code: u16, response: Option<&Message>) {
        // `refreshing` stays set: a refresh refused for any other reason is not retried (a tight
        // loop of refused requests helps nobody); the peer may still refresh, or it expires.
        if self.expired {
            return;
        }
        match code {
            408 | 481 => {
                self.expired = true;
                self.events.push_back(SessionTimerEvent::Expired);
            }
            422 => {
                let wanted = response
                    .and_then(|r| r.headers.get(&HeaderName::MIN_SE))
                    .and_then(|v| parse_min_se(v).ok());
                if let Some(wanted) = wanted.filter(|w| *w > self.negotiated.interval) {
                    self.negotiated.interval = wanted;
                    self.refreshing = true;
                    self.events.push_back(SessionTimerEvent::SendRefresh);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
