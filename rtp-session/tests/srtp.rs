//! SDES SRTP calls on a virtual clock: media flows both ways under every suite we negotiate
//! (the simulated VTC protects and unprotects with its own contexts), nothing leaves in clear,
//! and packets that do not authenticate are dropped and counted before they can latch.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{CallSetup, Pair, VTC_AUDIO};
use rtp_session::api::Prompt;
use rtp_session::call::{EngineRequest, Event, Input, SocketId};
use rtp_session::rtp::{self, RtpHeader};
use rtp_session::srtp::ProtectionProfile;

const SUITES: [ProtectionProfile; 3] = [
    ProtectionProfile::Aes128CmHmacSha1_80,
    ProtectionProfile::Aes128CmHmacSha1_32,
    ProtectionProfile::AeadAes128Gcm,
];

fn srtp_call(profile: ProtectionProfile, seed: u64) -> Pair {
    Pair::new(
        &CallSetup {
            srtp: Some(profile),
            ..CallSetup::default()
        },
        seed,
    )
}

#[test]
fn srtp_call_carries_audio_and_video_both_ways_under_every_suite() {
    for (n, profile) in SUITES.into_iter().enumerate() {
        let mut pair = srtp_call(profile, 40 + n as u64);
        pair.join();
        pair.vtc.start_talking(pair.now);
        pair.vtc.start_video(pair.now);
        pair.vtc.start_rtcp(pair.now);
        pair.run_for(Duration::from_secs(3));
        let counters = pair.gateway.counters();
        assert_eq!(counters.srtp_rejected_packets, 0, "{profile:?}");
        assert!(counters.audio_rx_packets > 100, "{profile:?}: {counters:?}");
        assert!(counters.video_rx_frames > 10, "{profile:?}: {counters:?}");
        let engine_audio = pair
            .events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Engine(EngineRequest::Audio { .. })))
            .count();
        assert!(engine_audio > 100, "{profile:?}: {engine_audio}");
        // The meeting's mix goes back: the VTC decrypts (the harness would panic otherwise).
        for _ in 0..10 {
            pair.input(Input::MixAudio(vec![0; 960]));
            pair.run_for(Duration::from_millis(20));
        }
        let rtp_at_vtc: Vec<RtpHeader> = pair.vtc.received.iter().filter_map(|r| r.rtp()).collect();
        assert!(rtp_at_vtc.len() >= 10, "{profile:?}: {}", rtp_at_vtc.len());
        // On the wire: not one datagram is the plain packet the VTC read out of it.
        let plain: Vec<&[u8]> = pair
            .vtc
            .received
            .iter()
            .map(|r| r.datagram.bytes.as_slice())
            .collect();
        assert!(pair
            .transmits
            .iter()
            .all(|(_, t)| !plain.contains(&t.bytes.as_slice())));
    }
}

#[test]
fn clear_and_forged_packets_are_dropped_counted_and_never_latch() {
    let mut pair = srtp_call(ProtectionProfile::Aes128CmHmacSha1_80, 50);
    let attacker: SocketAddr = "192.0.2.66:4000".parse().unwrap();
    // A clear RTP packet, then the same with a made-up 10-byte tag.
    let clear = rtp::write(
        &RtpHeader {
            marker: false,
            payload_type: 0,
            sequence: 7,
            timestamp: 160,
            ssrc: 0xBAD,
        },
        &[0xFF; 160],
    );
    let mut forged = clear.clone();
    forged.extend_from_slice(&[0u8; 10]);
    for bytes in [&clear, &forged] {
        pair.gateway
            .handle_datagram(pair.now, SocketId::AudioRtp, attacker, bytes);
    }
    assert_eq!(pair.gateway.counters().srtp_rejected_packets, 2);
    assert_eq!(pair.gateway.counters().audio_rx_packets, 0);
    // Our audio still goes to the SDP address, not the injector's.
    pair.input(Input::Play(Prompt::EnterConferenceId));
    pair.run_for(Duration::from_millis(200));
    let audio_to: Vec<SocketAddr> = pair
        .transmits
        .iter()
        .filter(|(_, t)| t.socket == SocketId::AudioRtp)
        .map(|(_, t)| t.to)
        .collect();
    assert!(!audio_to.is_empty());
    assert!(audio_to.iter().all(|to| *to == VTC_AUDIO), "{audio_to:?}");
}
