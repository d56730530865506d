//! The blocking test UA against a far end on real loopback sockets: a `signaling::ua` agent
//! that answers (or refuses) every call. Shows the driver moves datagrams and time correctly
//! without a gateway; the gateway's media e2e tests use it against `tessera serve`.

// Real sockets on the wall clock.
#![allow(clippy::disallowed_methods)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use signaling::ua::{EndReason, UaConfig, UaEvent, UserAgent};
use sip_testua::{vtc_offer, Ua};

/// A far end on its own socket: answers each call with `status` (200 with an SDP answer, or a
/// refusal) and returns every event it saw once stopped.
struct FarEnd {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<UaEvent>>,
}

impl FarEnd {
    fn start(status: u16) -> FarEnd {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut ua = UserAgent::new(UaConfig::new(addr, "bridge", 7));
                let mut seen = Vec::new();
                let mut buf = vec![0u8; 65_536];
                while !stop.load(Ordering::SeqCst) {
                    let received = socket.recv_from(&mut buf);
                    let now = Instant::now();
                    if let Ok((len, from)) = received {
                        let _ = ua.handle_datagram(now, from, &buf[..len]);
                    }
                    ua.handle_timeout(now);
                    while let Some(event) = ua.poll_event() {
                        if let UaEvent::Incoming { call, .. } = &event {
                            match status {
                                200 => ua.answer(now, *call, &vtc_offer(6000, 6002)).unwrap(),
                                _ => ua.reject(now, *call, status).unwrap(),
                            }
                        }
                        seen.push(event);
                    }
                    while let Some(t) = ua.poll_transmit() {
                        socket.send_to(&t.bytes, t.to).unwrap();
                    }
                }
                seen
            })
        };
        FarEnd { addr, stop, thread }
    }

    fn stop(self) -> Vec<UaEvent> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

#[test]
fn call_is_answered_and_hung_up_over_loopback() {
    let far = FarEnd::start(200);
    let mut ua = Ua::new(far.addr, "12345678.1177958860", "room").unwrap();
    let answer = ua.invite(&vtc_offer(4000, 4002)).unwrap();
    assert_eq!(answer.audio, "127.0.0.1:6000".parse().unwrap());
    assert_eq!(answer.video, "127.0.0.1:6002".parse().unwrap());
    assert_eq!(answer.video_pt, 96);
    assert_eq!(ua.bye(), Some(200));
    assert_eq!(ua.bye(), None, "nothing left to hang up");
    let seen = far.stop();
    let kinds: Vec<&str> = seen
        .iter()
        .map(|e| match e {
            UaEvent::Incoming { .. } => "incoming",
            UaEvent::Confirmed { .. } => "confirmed",
            UaEvent::Ended {
                reason: EndReason::RemoteBye,
                ..
            } => "bye",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["incoming", "confirmed", "bye"]);
}

#[test]
fn refused_call_reports_the_status() {
    let far = FarEnd::start(404);
    let mut ua = Ua::new(far.addr, "12345678.999999", "room").unwrap();
    let error = ua.invite(&vtc_offer(4000, 4002)).unwrap_err();
    assert!(error.contains("404"), "{error}");
    assert_eq!(ua.bye(), None);
    far.stop();
}

#[test]
fn an_answering_ua_refuses_then_accepts_with_an_answer_to_the_offer_and_sees_the_bye() {
    let mut bridge = Ua::answering("bridge").unwrap();
    let mut caller = Ua::new(bridge.local_addr(), "meeting", "gateway").unwrap();
    let far = thread::spawn(move || {
        let patience = Duration::from_secs(10);
        bridge.next_incoming(patience).unwrap();
        bridge.refuse(486).unwrap();
        let offer = bridge.next_incoming(patience).unwrap();
        let answer = sip_testua::vtc_answer(&offer, 7000, 7002).unwrap();
        bridge.accept(&answer).unwrap();
        bridge.wait_ended(patience)
    });
    let refused = caller.invite(&vtc_offer(6000, 6002)).unwrap_err();
    assert!(refused.contains("486"), "{refused}");
    let answer = caller.invite(&vtc_offer(6000, 6002)).unwrap();
    assert_eq!(answer.audio, "127.0.0.1:7000".parse().unwrap());
    assert_eq!(
        answer.video_pt, 96,
        "the offered H.264 payload type is answered"
    );
    assert_eq!(caller.bye(), Some(200));
    assert_eq!(far.join().unwrap(), Some(EndReason::RemoteBye));
}

#[test]
fn an_answering_ua_places_no_calls() {
    let mut bridge = Ua::answering("bridge").unwrap();
    assert!(bridge.invite(&vtc_offer(6000, 6002)).is_err());
}
