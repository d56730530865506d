//! Safe latching on a virtual clock (the RTP Bleed class of attacks): packets from a stranger,
//! on another address or on another port of the room system's own address, change nothing the
//! call does (the same events and the same datagrams as without them) and are counted as
//! foreign; a source is learnt only from the SDP's IP or the signalling IP, only while the call
//! is new; a source on the SDP's IP keeps receiving at the SDP address.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{
    next_port, CallSetup, Pair, SDP_AUDIO, VIDEO_PT, VTC_AUDIO, VTC_AUDIO_SSRC, VTC_VIDEO,
    VTC_VIDEO_SSRC,
};
use rtp_session::call::{Event, Input, SocketId, Transmit, LATCH_WINDOW};
use rtp_session::rtcp::{self, RtcpOut};
use rtp_session::rtp::{self, RtpHeader};

/// Another host.
const STRANGER: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 66)),
    40000,
);

/// The attacker's datagrams: RTP that looks like the VTC's own streams (its SSRCs and payload
/// types, sequence numbers running ahead, an IDR NAL header on the video) and an RTCP PLI.
fn attack(n: u16) -> Vec<(SocketId, Vec<u8>)> {
    let audio = RtpHeader {
        marker: false,
        payload_type: 0,
        sequence: 30_000u16.wrapping_add(n),
        timestamp: 160 * u32::from(n),
        ssrc: VTC_AUDIO_SSRC,
    };
    let video = RtpHeader {
        marker: true,
        payload_type: VIDEO_PT,
        sequence: 50_000u16.wrapping_add(n),
        timestamp: 3000 * u32::from(n),
        ssrc: VTC_VIDEO_SSRC,
    };
    let mut idr = vec![0x65];
    idr.extend(std::iter::repeat_n(0xA5, 400));
    let pli = rtcp::build(&[RtcpOut::Pli {
        sender_ssrc: VTC_VIDEO_SSRC,
        media_ssrc: 1,
    }])
    .expect("RTCP");
    vec![
        (SocketId::AudioRtp, rtp::write(&audio, &[0xFF; 160])),
        (SocketId::VideoRtp, rtp::write(&video, &idr)),
        (SocketId::VideoRtp, pli.clone()),
        (SocketId::VideoRtcp, pli),
    ]
}

/// A joined call with the VTC sending audio, video and RTCP for 4 s; every 20 ms, when
/// `attacker` is given, the attack from there. Returns the pair and the datagrams injected.
fn run(attacker: Option<SocketAddr>) -> (Pair, u64) {
    let mut pair = Pair::new(&CallSetup::default(), 7);
    pair.join();
    pair.vtc.start_talking(pair.now);
    pair.vtc.start_video(pair.now);
    pair.vtc.start_rtcp(pair.now);
    let mut injected = 0;
    for n in 0..200 {
        pair.run_for(Duration::from_millis(20));
        // The meeting's mix goes back to the VTC: where it goes shows any redirection.
        pair.input(Input::MixAudio(vec![0; 960]));
        if let Some(from) = attacker {
            for (socket, bytes) in attack(n) {
                pair.gateway.handle_datagram(pair.now, socket, from, &bytes);
                injected += 1;
            }
        }
    }
    pair.run_for(Duration::from_millis(100));
    (pair, injected)
}

/// Events and datagrams, each with its time since the pair's start.
type Record = (Vec<(Duration, Event)>, Vec<(Duration, Transmit)>);

/// What the machine did, with times relative to the pair's start (each pair has its own
/// origin).
fn record(pair: &Pair) -> Record {
    let at = |t: &std::time::Instant| t.duration_since(pair.start);
    (
        pair.events
            .iter()
            .map(|(t, e)| (at(t), e.clone()))
            .collect(),
        pair.transmits
            .iter()
            .map(|(t, x)| (at(t), x.clone()))
            .collect(),
    )
}

fn assert_attack_changes_nothing(attacker: SocketAddr) {
    let (baseline, _) = run(None);
    let (attacked, injected) = run(Some(attacker));
    assert_eq!(baseline.gateway.counters().foreign_packets, 0);
    assert_eq!(attacked.gateway.counters().foreign_packets, injected);
    let (events, transmits) = record(&baseline);
    let (attacked_events, attacked_transmits) = record(&attacked);
    assert!(events.len() > 200, "{}", events.len());
    assert!(transmits.len() > 190, "{}", transmits.len());
    // Not assert_eq: a difference would print megabytes of samples.
    assert!(
        attacked_events == events,
        "the meeting gets the same media and requests"
    );
    assert!(
        attacked_transmits == transmits,
        "the VTC gets the same datagrams at the same addresses and times"
    );
    assert!(attacked
        .transmits
        .iter()
        .all(|(_, t)| t.to.ip() == VTC_AUDIO.ip()));
}

#[test]
fn a_sender_on_another_address_changes_nothing_and_is_counted() {
    assert_attack_changes_nothing(STRANGER);
}

#[test]
fn a_sender_on_another_port_of_the_vtc_address_changes_nothing_and_is_counted() {
    assert_attack_changes_nothing(SocketAddr::new(VTC_AUDIO.ip(), 40000));
}

#[test]
fn a_stranger_first_is_not_learnt_and_the_peer_still_is() {
    let setup = CallSetup {
        video: false,
        ..CallSetup::default()
    };
    let mut pair = Pair::new(&setup, 8);
    let (socket, bytes) = attack(0).swap_remove(0);
    pair.gateway
        .handle_datagram(pair.now, socket, STRANGER, &bytes);
    pair.vtc.start_talking(pair.now);
    pair.run_for(Duration::from_secs(1));
    assert_eq!(pair.gateway.counters().foreign_packets, 1);
    assert!(pair.gateway.counters().audio_rx_packets > 40);
    pair.input(Input::Play(rtp_session::api::Prompt::EnterConferenceId));
    pair.run_for(Duration::from_millis(200));
    assert!(pair.transmits.iter().all(|(_, t)| t.to == VTC_AUDIO));
}

#[test]
fn a_peer_sending_from_another_port_of_the_sdp_ip_keeps_receiving_at_the_sdp_port() {
    // The VTC sends from VTC_AUDIO but says it listens one port up.
    let listens = SocketAddr::new(VTC_AUDIO.ip(), VTC_AUDIO.port() + 100);
    let setup = CallSetup {
        audio_remote: listens,
        video: false,
        ..CallSetup::default()
    };
    let mut pair = Pair::new(&setup, 9);
    pair.vtc.start_talking(pair.now);
    pair.input(Input::Play(rtp_session::api::Prompt::EnterConferenceId));
    pair.run_for(Duration::from_secs(1));
    assert!(pair.gateway.counters().audio_rx_packets > 40);
    let audio: Vec<_> = pair
        .transmits
        .iter()
        .filter(|(_, t)| t.socket == SocketId::AudioRtp)
        .collect();
    assert!(!audio.is_empty());
    assert!(audio.iter().all(|(_, t)| t.to == listens));
}

#[test]
fn a_natted_peer_that_starts_after_the_window_is_not_learnt() {
    let setup = CallSetup {
        audio_remote: SDP_AUDIO,
        video: false,
        ..CallSetup::default()
    };
    let mut pair = Pair::new(&setup, 10);
    pair.run_for(LATCH_WINDOW);
    pair.vtc.start_talking(pair.now);
    pair.input(Input::Play(rtp_session::api::Prompt::EnterConferenceId));
    pair.run_for(Duration::from_secs(1));
    // Still heard (the signalling IP is allowed), but RTP keeps going to the SDP address.
    assert!(pair.gateway.counters().audio_rx_packets > 40);
    assert_eq!(pair.gateway.counters().foreign_packets, 0);
    assert!(pair
        .transmits
        .iter()
        .filter(|(_, t)| t.socket == SocketId::AudioRtp)
        .all(|(_, t)| t.to == SDP_AUDIO));
}

#[test]
fn rtcp_from_a_stranger_asks_for_no_keyframe() {
    let mut pair = Pair::new(&CallSetup::default(), 11);
    pair.join();
    pair.vtc.start_video(pair.now);
    pair.vtc.start_rtcp(pair.now);
    pair.run_for(Duration::from_secs(1));
    let before = pair.gateway.counters().keyframes_requested_by_peer;
    let pli = rtcp::build(&[RtcpOut::Pli {
        sender_ssrc: VTC_VIDEO_SSRC,
        media_ssrc: 1,
    }])
    .expect("RTCP");
    for from in [
        STRANGER,
        next_port(STRANGER),
        SocketAddr::new(VTC_VIDEO.ip(), 1),
    ] {
        pair.gateway
            .handle_datagram(pair.now, SocketId::VideoRtcp, from, &pli);
        pair.gateway
            .handle_datagram(pair.now, SocketId::VideoRtp, from, &pli);
    }
    assert_eq!(pair.gateway.counters().keyframes_requested_by_peer, before);
    assert_eq!(pair.gateway.counters().foreign_packets, 6);
}
