//! Session timers on a virtual clock: header grammar, the UAS negotiation table of RFC 4028 §9,
//! and when refreshes and expiries fire.

// One arbitrary origin; after it, time moves only by what each test adds.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use super::*;

fn request(extra: &str) -> Message {
    let text = format!(
        "INVITE sip:12345678.1177958860@gw.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n\
         From: <sip:room@192.0.2.10>;tag=a\r\n\
         To: <sip:12345678.1177958860@gw.example.com>\r\n\
         Call-ID: st-1\r\n\
         CSeq: 1 INVITE\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.as_bytes()).unwrap()
}

fn response(extra: &str) -> Message {
    response_with("200 OK", extra)
}

fn response_with(status: &str, extra: &str) -> Message {
    let text = format!(
        "SIP/2.0 {status}\r\n\
         Via: SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bK2\r\n\
         From: <sip:gw@203.0.113.1>;tag=g\r\n\
         To: <sip:room@192.0.2.10>;tag=a\r\n\
         Call-ID: st-1\r\n\
         CSeq: 2 UPDATE\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.as_bytes()).unwrap()
}

const POLICY: TimerPolicy = TimerPolicy {
    min_se: 90,
    session_expires: 1800,
};

fn decide(extra: &str) -> UasDecision {
    negotiate_uas(&POLICY, &request(extra)).unwrap()
}

fn timer(interval: u32, refresher: Role, peer_supports: bool) -> UasDecision {
    UasDecision::Timer(Negotiated {
        interval,
        refresher,
        peer_supports,
    })
}

fn events(t: &mut SessionTimer) -> Vec<SessionTimerEvent> {
    std::iter::from_fn(|| t.poll_event()).collect()
}

#[test]
fn session_expires_and_min_se_headers_parse_and_print() {
    assert_eq!(
        SessionExpires::parse("1800;refresher=uac").unwrap(),
        SessionExpires {
            interval: 1800,
            refresher: Some(Refresher::Uac)
        }
    );
    let se = SessionExpires::parse(" 90 ; x=1 ; Refresher = UAS ").unwrap();
    assert_eq!((se.interval, se.refresher), (90, Some(Refresher::Uas)));
    assert_eq!(se.to_string(), "90;refresher=uas");
    assert_eq!(
        SessionExpires::parse("4294967295").unwrap().interval,
        u32::MAX
    );
    for bad in [
        "",
        "abc",
        "-1",
        "1.5",
        "4294967296",
        "90;refresher",
        "90;refresher=proxy",
        "90;refresher=uac;refresher=uas",
        "90;=x",
        "00000000090",
    ] {
        assert!(SessionExpires::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(parse_min_se("120;ext"), Ok(120));
    assert!(parse_min_se("two minutes").is_err());
}

#[test]
fn uas_negotiation_follows_rfc_4028_section_9() {
    // A peer that supports timers refreshes unless it asks us to.
    assert_eq!(
        decide("Supported: timer\r\nSession-Expires: 600\r\n"),
        timer(600, Role::Remote, true)
    );
    assert_eq!(
        decide("Supported: timer\r\nSession-Expires: 600;refresher=uas\r\n"),
        timer(600, Role::Local, true)
    );
    // Supported without an interval: ours.
    assert_eq!(
        decide("k: replaces, timer\r\n"),
        timer(1800, Role::Remote, true)
    );
    // Without support, a Session-Expires (a proxy's) makes us the refresher whatever it says.
    assert_eq!(
        decide("Session-Expires: 600;refresher=uac\r\n"),
        timer(600, Role::Local, false)
    );
    // Neither: no timer at all.
    assert_eq!(decide(""), UasDecision::NoTimer);
    // Below our minimum: 422 naming it.
    assert_eq!(
        decide("Supported: timer\r\nSession-Expires: 60\r\n"),
        UasDecision::TooSmall { min_se: 90 }
    );
    // Above our preference: lowered to it, but never below the request's Min-SE.
    assert_eq!(
        decide("Supported: timer\r\nSession-Expires: 7200\r\n"),
        timer(1800, Role::Remote, true)
    );
    assert_eq!(
        decide("Supported: timer\r\nSession-Expires: 7200\r\nMin-SE: 3600\r\n"),
        timer(3600, Role::Remote, true)
    );
    // Require: timer counts as support.
    assert_eq!(
        decide("Require: timer\r\nx: 300\r\n"),
        timer(300, Role::Remote, true)
    );
}

#[test]
fn malformed_or_repeated_timer_headers_are_errors() {
    let policy = TimerPolicy::default();
    for (extra, error) in [
        (
            "Session-Expires: soon\r\n",
            SessionTimerError::BadSessionExpires("soon".into()),
        ),
        (
            "Session-Expires: 90\r\nx: 120\r\n",
            SessionTimerError::Duplicate("Session-Expires"),
        ),
        (
            "Session-Expires: 900\r\nMin-SE: x\r\n",
            SessionTimerError::BadMinSe("x".into()),
        ),
    ] {
        assert_eq!(
            negotiate_uas(&policy, &request(extra)),
            Err(error),
            "{extra}"
        );
    }
}

#[test]
fn response_headers_name_the_refresher_from_the_uas_side() {
    let ours = Negotiated {
        interval: 600,
        refresher: Role::Local,
        peer_supports: false,
    };
    assert_eq!(
        ours.response_headers(),
        [(HeaderName::SESSION_EXPIRES, "600;refresher=uas".to_owned())]
    );
    let theirs = Negotiated {
        refresher: Role::Remote,
        peer_supports: true,
        ..ours
    };
    assert_eq!(
        theirs.response_headers(),
        [
            (HeaderName::SESSION_EXPIRES, "600;refresher=uac".to_owned()),
            (HeaderName::REQUIRE, "timer".to_owned()),
        ]
    );
    assert_eq!(
        ours.refresh_headers(&POLICY),
        [
            (HeaderName::SUPPORTED, "timer".to_owned()),
            (HeaderName::SESSION_EXPIRES, "600;refresher=uac".to_owned()),
            (HeaderName::MIN_SE, "90".to_owned()),
        ]
    );
}

#[test]
fn local_refresher_refreshes_at_half_the_interval_and_again_after_each_answer() {
    let t0 = Instant::now();
    let mut t = SessionTimer::new(
        t0,
        Negotiated {
            interval: 600,
            refresher: Role::Local,
            peer_supports: true,
        },
    );
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(300)));
    t.handle_timeout(t0 + Duration::from_secs(299));
    assert!(events(&mut t).is_empty());
    let sent = t0 + Duration::from_secs(300);
    t.handle_timeout(sent);
    assert_eq!(events(&mut t), [SessionTimerEvent::SendRefresh]);
    // While the refresh is in flight only the expiry is pending: 600 - 32 s.
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(568)));
    let answered = sent + Duration::from_secs(1);
    t.handle_refresh_response(
        answered,
        &response("Session-Expires: 600;refresher=uac\r\n"),
    )
    .unwrap();
    assert_eq!(t.poll_timeout(), Some(answered + Duration::from_secs(300)));
    assert_eq!(t.negotiated().refresher, Role::Local);
}

#[test]
fn a_peer_without_timer_support_leaves_us_refreshing_at_our_interval() {
    let t0 = Instant::now();
    let mut t = SessionTimer::new(
        t0,
        Negotiated {
            interval: 120,
            refresher: Role::Local,
            peer_supports: false,
        },
    );
    t.handle_timeout(t0 + Duration::from_secs(60));
    assert_eq!(events(&mut t), [SessionTimerEvent::SendRefresh]);
    let at = t0 + Duration::from_secs(61);
    t.handle_refresh_response(at, &response("")).unwrap();
    assert_eq!(t.poll_timeout(), Some(at + Duration::from_secs(60)));
    // The peer takes the refresher role in its answer: we now only watch.
    t.handle_timeout(at + Duration::from_secs(60));
    assert_eq!(events(&mut t), [SessionTimerEvent::SendRefresh]);
    let at = at + Duration::from_secs(61);
    t.handle_refresh_response(at, &response("Session-Expires: 300;refresher=uas\r\n"))
        .unwrap();
    assert_eq!(t.negotiated().refresher, Role::Remote);
    assert_eq!(t.poll_timeout(), Some(at + Duration::from_secs(300 - 32)));
}

#[test]
fn remote_refresher_that_misses_its_refresh_expires_the_session() {
    let t0 = Instant::now();
    let negotiated = Negotiated {
        interval: 90,
        refresher: Role::Remote,
        peer_supports: true,
    };
    let mut t = SessionTimer::new(t0, negotiated);
    // 90 s less a third of it (30 s, under 32 s).
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    // A refresh in time moves the expiry.
    let refreshed = t0 + Duration::from_secs(45);
    t.handle_peer_refresh(refreshed, negotiated);
    t.handle_timeout(t0 + Duration::from_secs(60));
    assert!(events(&mut t).is_empty());
    assert_eq!(t.poll_timeout(), Some(refreshed + Duration::from_secs(60)));
    // Then none: expired, once.
    t.handle_timeout(refreshed + Duration::from_secs(60));
    assert_eq!(events(&mut t), [SessionTimerEvent::Expired]);
    assert_eq!(t.poll_timeout(), None);
    t.handle_timeout(refreshed + Duration::from_secs(600));
    assert!(events(&mut t).is_empty());
}

#[test]
fn refresh_failures_408_and_481_expire_at_once_and_422_retries_with_the_peer_minimum() {
    let t0 = Instant::now();
    let start = || {
        let mut t = SessionTimer::new(
            t0,
            Negotiated {
                interval: 100,
                refresher: Role::Local,
                peer_supports: true,
            },
        );
        t.handle_timeout(t0 + Duration::from_secs(50));
        assert_eq!(events(&mut t), [SessionTimerEvent::SendRefresh]);
        t
    };
    for code in [408, 481] {
        let mut t = start();
        t.handle_refresh_failed(code, None);
        assert_eq!(events(&mut t), [SessionTimerEvent::Expired], "{code}");
    }
    let mut t = start();
    let too_small = response_with("422 Session Interval Too Small", "Min-SE: 300\r\n");
    t.handle_refresh_failed(422, Some(&too_small));
    assert_eq!(events(&mut t), [SessionTimerEvent::SendRefresh]);
    assert_eq!(t.negotiated().interval, 300);
    // Any other failure leaves the session to its expiry.
    let mut t = start();
    t.handle_refresh_failed(500, None);
    assert!(events(&mut t).is_empty());
    assert_eq!(t.poll_timeout(), Some(t0 + Duration::from_secs(100 - 32)));
}

proptest::proptest! {
    /// The header parsers never panic, and what they accept prints back to itself.
    #[test]
    fn session_expires_parse_never_panics_and_round_trips(text in "\\PC{0,40}") {
        if let Ok(se) = SessionExpires::parse(&text) {
            proptest::prop_assert_eq!(SessionExpires::parse(&se.to_string()), Ok(se));
        }
        let _ = parse_min_se(&text);
    }
}
