//! Any bytes, cut into datagrams at `0xff` bytes, fed to a user agent with one call in progress
//! and its timers run: the agent must not panic, whatever the far end sends.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use signaling::ua::{UaConfig, UserAgent};

fuzz_target!(|data: &[u8]| {
    let local: SocketAddr = "192.0.2.10:5060".parse().unwrap();
    let far: SocketAddr = "192.0.2.11:5060".parse().unwrap();
    let mut ua = UserAgent::new(UaConfig::new(local, "room", 1));
    let mut now = Instant::now();
    let _ = ua.invite(now, far, "sip:12345678@192.0.2.11", "v=0\r\n");
    for datagram in data.split(|b| *b == 0xff) {
        now += Duration::from_millis(100);
        let _ = ua.handle_datagram(now, far, datagram);
        ua.handle_timeout(now);
        while ua.poll_transmit().is_some() {}
        while ua.poll_event().is_some() {}
    }
});
