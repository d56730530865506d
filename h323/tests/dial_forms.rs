//! The destination aliases an H.323 Setup carries (dialledDigits, h323-ID, url-ID, in every
//! dial form of the domain brief) reach the gateway as text the existing dial plan parses to
//! the same tenant/conference digits a SIP caller's request URI gives.
// `Instant::now()` only gives the call a time origin.
#![allow(clippy::disallowed_methods)]

use h323::call::{CallConfig, Event, InboundCall, LocalMedia};
use h323::caller::{Caller, CallerConfig};
use h323::h225::AliasAddress;
use signaling::dial::{DialUser, Scheme};
use signaling::DialString;

fn incoming(alias: AliasAddress) -> Vec<String> {
    let local = LocalMedia {
        audio: ([127, 0, 0, 1], 40000).into(),
        video: ([127, 0, 0, 1], 40002).into(),
    };
    let mut caller = Caller::new(CallerConfig {
        destination: vec![alias],
        local,
        fast_start: true,
        tunnelling: true,
    })
    .unwrap();
    let mut gw = InboundCall::new(CallConfig::gateway(5));
    let now = std::time::Instant::now();
    while let Some(b) = caller.poll_transmit() {
        gw.handle_input(now, &b).unwrap();
    }
    match gw.poll_event() {
        Some(Event::Incoming(i)) => i.destination,
        other => panic!("expected the incoming call, got {other:?}"),
    }
}

#[test]
fn every_h323_dial_form_parses_through_the_dial_plan() {
    let pair = |a: &str, b: &str| DialUser::Pair(a.into(), b.into());
    let digits = |d: &str| DialUser::Digits(d.into());
    for (alias, scheme, user, host) in [
        (
            AliasAddress::h323_id("12345678.1177958860").unwrap(),
            Scheme::Bare,
            pair("12345678", "1177958860"),
            None,
        ),
        (
            AliasAddress::h323_id("1177958860.12345678").unwrap(),
            Scheme::Bare,
            pair("1177958860", "12345678"),
            None,
        ),
        (
            AliasAddress::h323_id("gw##12345678.1177958860").unwrap(),
            Scheme::Bare,
            pair("12345678", "1177958860"),
            None,
        ),
        (
            AliasAddress::url_id("h323:1177958860@video.acme.example").unwrap(),
            Scheme::H323,
            digits("1177958860"),
            Some("video.acme.example"),
        ),
        (
            AliasAddress::dialled_digits("61177958860").unwrap(),
            Scheme::Bare,
            digits("61177958860"),
            None,
        ),
        (
            AliasAddress::dialled_digits("12345678").unwrap(),
            Scheme::Bare,
            digits("12345678"),
            None,
        ),
    ] {
        let text = incoming(alias);
        assert_eq!(text.len(), 1);
        let dial = DialString::parse(&text[0]).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(
            (dial.scheme, &dial.user, dial.host.as_deref()),
            (scheme, &user, host),
            "{text:?}"
        );
    }
}
