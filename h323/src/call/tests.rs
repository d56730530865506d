//! Whole calls between the project's test caller and [`InboundCall`] on a virtual clock: no
//! sockets, the two state machines' bytes handed across by a pump.
// `Instant::now()` only picks the virtual clock's origin; every later time is derived from it.
#![allow(clippy::disallowed_methods)]

use super::*;
use crate::caller::{Caller, CallerConfig, CallerEvent};

fn addr(port: u16) -> SocketAddr {
    ([127, 0, 0, 1], port).into()
}

const GATEWAY_MEDIA: LocalMedia = LocalMedia {
    audio: SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        30000,
    )),
    video: SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        30002,
    )),
};
const CALLER_MEDIA: LocalMedia = LocalMedia {
    audio: SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        40000,
    )),
    video: SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        40002,
    )),
};

struct Pair {
    now: Instant,
    caller: Caller,
    gateway: InboundCall,
    caller_events: Vec<CallerEvent>,
    gateway_events: Vec<Event>,
}

impl Pair {
    fn new(fast_start: bool, tunnelling: bool, destination: &str) -> Self {
        let caller = Caller::new(CallerConfig {
            destination: vec![AliasAddress::h323_id(destination).unwrap()],
            local: CALLER_MEDIA,
            fast_start,
            tunnelling,
        })
        .unwrap();
        let mut pair = Self {
            now: Instant::now(),
            caller,
            gateway: InboundCall::new(CallConfig::gateway(0x77)),
            caller_events: Vec::new(),
            gateway_events: Vec::new(),
        };
        pair.pump();
        pair
    }

    /// Moves bytes both ways until nothing moves.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(b) = self.caller.poll_transmit() {
                self.gateway.handle_input(self.now, &b).unwrap();
                moved = true;
            }
            while let Some(b) = self.caller.poll_h245_transmit() {
                self.gateway.handle_h245_input(self.now, &b).unwrap();
                moved = true;
            }
            while let Some(b) = self.gateway.poll_transmit() {
                self.caller.handle_input(&b).unwrap();
                moved = true;
            }
            while let Some(b) = self.gateway.poll_h245_transmit() {
                self.caller.handle_h245_input(&b).unwrap();
                moved = true;
            }
            self.gateway_events
                .extend(std::iter::from_fn(|| self.gateway.poll_event()));
            self.caller_events
                .extend(std::iter::from_fn(|| self.caller.poll_event()));
            if !moved {
                return;
            }
        }
    }

    fn last_gateway_plan(&self) -> Option<&MediaPlan> {
        self.gateway_events.iter().rev().find_map(|e| match e {
            Event::Media(p) => Some(p),
            _ => None,
        })
    }

    fn last_caller_plan(&self) -> Option<&MediaPlan> {
        self.caller_events.iter().rev().find_map(|e| match e {
            CallerEvent::Media(p) => Some(p),
            _ => None,
        })
    }

    fn assert_media_crosses(&self, audio: crate::media::Codec) {
        let g = self.last_gateway_plan().expect("gateway media plan");
        let c = self.last_caller_plan().expect("caller media plan");
        assert_eq!(g.audio_send.unwrap().rtp, Some(CALLER_MEDIA.audio), "{g:?}");
        assert_eq!(g.video_send.unwrap().rtp, Some(CALLER_MEDIA.video), "{g:?}");
        assert_eq!(
            c.audio_send.unwrap().rtp,
            Some(GATEWAY_MEDIA.audio),
            "{c:?}"
        );
        assert_eq!(
            c.video_send.unwrap().rtp,
            Some(GATEWAY_MEDIA.video),
            "{c:?}"
        );
        assert!(matches!(
            g.video_send.unwrap().codec,
            crate::media::Codec::H264 { .. }
        ));
        assert_eq!(g.audio_send.unwrap().codec, audio);
        assert_eq!(c.audio_send.unwrap().codec, audio);
    }
}

#[test]
fn setup_is_answered_with_call_proceeding_and_reported_with_its_aliases() {
    let p = Pair::new(true, true, "12345678.1177958860");
    assert_eq!(
        p.caller_events,
        vec![CallerEvent::Received(MessageType::CallProceeding)]
    );
    let Event::Incoming(incoming) = &p.gateway_events[0] else {
        panic!("{:?}", p.gateway_events)
    };
    assert_eq!(incoming.destination, vec!["12345678.1177958860".to_owned()]);
    assert_eq!(incoming.source, vec!["Tessera test caller".to_owned()]);
    assert_eq!(incoming.display.as_deref(), Some("Tessera test caller"));
}

#[test]
fn fast_start_call_connects_with_media_both_ways_in_connect() {
    let mut p = Pair::new(true, true, "12345678.1177958860");
    p.gateway.accept(p.now, GATEWAY_MEDIA, None).unwrap();
    p.pump();
    assert!(p
        .caller_events
        .contains(&CallerEvent::Received(MessageType::Alerting)));
    assert!(p
        .caller_events
        .contains(&CallerEvent::Received(MessageType::Connect)));
    // The caller proposed G.711 mu-law only.
    p.assert_media_crosses(crate::media::Codec::Pcmu);
}

#[test]
fn h245_on_a_separate_channel_negotiates_media_when_nothing_is_tunnelled() {
    let mut p = Pair::new(false, false, "12345678.1177958860");
    p.gateway
        .accept(p.now, GATEWAY_MEDIA, Some(addr(1721)))
        .unwrap();
    p.pump();
    assert!(p
        .caller_events
        .contains(&CallerEvent::H245Address(addr(1721))));
    // Both capability sets list G.722 before G.711: the better codec wins.
    p.assert_media_crosses(crate::media::Codec::G722);
}

#[test]
fn tunnelled_h245_negotiates_media_without_fast_start() {
    let mut p = Pair::new(false, true, "12345678.1177958860");
    p.gateway.accept(p.now, GATEWAY_MEDIA, None).unwrap();
    p.pump();
    p.assert_media_crosses(crate::media::Codec::G722);
}

#[test]
fn user_input_reaches_the_gateway_as_dtmf_keys() {
    let mut p = Pair::new(true, true, "12345678");
    p.gateway.accept(p.now, GATEWAY_MEDIA, None).unwrap();
    p.pump();
    p.caller.send_dtmf("1177958860#").unwrap();
    p.pump();
    let keys: String = p
        .gateway_events
        .iter()
        .filter_map(|e| match e {
            Event::Dtmf(k) => Some(*k),
            _ => None,
        })
        .collect();
    assert_eq!(keys, "1177958860#");
}

#[test]
fn keyframe_requests_travel_both_ways() {
    let mut p = Pair::new(true, true, "12345678.1177958860");
    p.gateway.accept(p.now, GATEWAY_MEDIA, None).unwrap();
    p.pump();
    p.gateway.request_keyframe(p.now).unwrap();
    p.caller.request_keyframe().unwrap();
    p.pump();
    assert!(p.caller_events.contains(&CallerEvent::KeyframeRequested));
    assert!(p.gateway_events.contains(&Event::KeyframeRequested));
}

#[test]
fn refusals_carry_the_reason_and_cause_that_say_why() {
    for (reason, h225_reason, cause) in [
        (
            EndReason::UnknownMeeting,
            ReleaseCompleteReason::UnreachableDestination(()),
            1,
        ),
        (
            EndReason::OverLicence,
            ReleaseCompleteReason::InConf(()),
            17,
        ),
        (
            EndReason::Draining,
            ReleaseCompleteReason::GatewayResources(()),
            41,
        ),
        (
            EndReason::NoCommonCodec,
            ReleaseCompleteReason::UndefinedReason(()),
            88,
        ),
    ] {
        let mut p = Pair::new(true, true, "99999999.1");
        p.gateway.reject(p.now, reason).unwrap();
        p.pump();
        assert_eq!(
            p.caller_events.last(),
            Some(&CallerEvent::Released(Some(h225_reason), Some(cause)))
        );
        assert_eq!(p.gateway_events.last(), Some(&Event::Ended(reason)));
        assert!(p.gateway.is_ended());
    }
}

#[test]
fn a_gateway_that_never_decides_releases_the_call_at_the_deadline() {
    let mut p = Pair::new(true, true, "12345678.1177958860");
    let deadline = p.gateway.poll_timeout().expect("decision deadline");
    assert_eq!(deadline, p.now + Duration::from_secs(30));
    p.gateway
        .handle_timeout(deadline - Duration::from_millis(1))
        .unwrap();
    assert!(!p.gateway.is_ended());
    p.now = deadline;
    p.gateway.handle_timeout(deadline).unwrap();
    p.pump();
    assert_eq!(
        p.gateway_events.last(),
        Some(&Event::Ended(EndReason::Timeout))
    );
    assert!(matches!(
        p.caller_events.last(),
        Some(CallerEvent::Released(_, Some(102)))
    ));
}

#[test]
fn caller_hang_up_ends_the_call() {
    let mut p = Pair::new(true, true, "12345678.1177958860");
    p.gateway.accept(p.now, GATEWAY_MEDIA, None).unwrap();
    p.pump();
    p.caller.hang_up().unwrap();
    p.pump();
    assert_eq!(
        p.gateway_events.last(),
        Some(&Event::Ended(EndReason::Normal))
    );
}

#[test]
fn garbage_on_the_connection_ends_only_this_call_with_an_error() {
    let mut call = InboundCall::new(CallConfig::gateway(1));
    let now = Instant::now();
    assert!(matches!(
        call.handle_input(now, b"GET / HTTP/1.1\r\n\r\n"),
        Err(Error::Framing(_))
    ));
    assert!(call.is_ended());
    // A sound TPKT carrying no Q.931 is ignored, not fatal.
    let mut call = InboundCall::new(CallConfig::gateway(1));
    call.handle_input(now, &tpkt::frame(b"\x01\x02\x03").unwrap())
        .unwrap();
    assert!(!call.is_ended());
    assert_eq!(call.poll_event(), None);
}
