//! The entry queue and waiting room on a virtual clock: DTMF once per key press (over a clean and
//! a lossy, reordering link), prompts paced at 20 ms to the SDP address then to the latched
//! source, silence while idle, hold music under a lobby slate, prompts over the mix.

mod common;

use std::time::Duration;

use common::{CallSetup, Link, Pair, SDP_AUDIO, TE_PT, VTC_AUDIO};
use rtp_session::api::{DtmfDigit, MediaEvent, Prompt, Slate};
use rtp_session::call::{Event, Input, PACKET_INTERVAL};
use rtp_session::rtp::{self, RtpHeader};
use rtp_session::telephone_event::key_press_packets;

/// Presses `keys` 200 ms apart, each key's packets 20 ms apart.
fn press(pair: &mut Pair, keys: &[u8]) {
    let mut seq = 100;
    for (i, &key) in keys.iter().enumerate() {
        let timestamp = 8000 + 1600 * u32::try_from(i).expect("few keys");
        let first = RtpHeader {
            marker: true,
            payload_type: TE_PT,
            sequence: seq,
            timestamp,
            ssrc: 0x5EED,
        };
        for packet in key_press_packets(first, key) {
            pair.vtc.send_audio_raw(packet);
            pair.run_for(Duration::from_millis(20));
            seq += 1;
        }
        pair.run_for(Duration::from_millis(80));
    }
    pair.run_for(Duration::from_secs(1));
}

fn digits(pair: &Pair) -> Vec<char> {
    pair.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Media(MediaEvent::Dtmf(DtmfDigit(d))) => Some(*d),
            _ => None,
        })
        .collect()
}

#[test]
fn each_key_press_is_reported_once_and_junk_is_ignored() {
    let mut pair = Pair::new(&CallSetup::default(), 1);
    for junk in [&b""[..], b"\x80", b"hello, this is not RTP", &[0xA0; 12]] {
        pair.vtc.send_audio_raw(junk.to_vec());
    }
    press(&mut pair, &[1, 2, 11]);
    assert_eq!(digits(&pair), ['1', '2', '#']);
    assert_eq!(
        pair.gateway.counters().audio_rx_packets,
        18,
        "3 key presses x 6 packets; junk not counted"
    );
}

#[test]
fn key_presses_survive_loss_and_reordering_once_each() {
    for seed in 1..=20 {
        let mut pair = Pair::new(&CallSetup::default(), seed);
        pair.to_gateway = Link::lossy(seed, 0.1, Duration::from_millis(60));
        press(&mut pair, &[4, 5, 6, 10]);
        let got = digits(&pair);
        // A key is only lost if all six of its packets are; none is ever reported twice.
        let mut expected = vec!['4', '5', '6', '*'];
        expected.retain(|d| got.contains(d));
        assert_eq!(got, expected, "seed {seed}");
        assert!(got.len() >= 3, "seed {seed}: {got:?}");
    }
}

#[test]
fn prompts_are_paced_at_20_ms_to_the_sdp_address_then_to_the_latched_source() {
    let setup = CallSetup {
        audio_remote: SDP_AUDIO,
        video: false,
        ..CallSetup::default()
    };
    let mut pair = Pair::new(&setup, 2);
    pair.input(Input::Play(Prompt::EnterConferenceId));
    pair.run_for(Duration::from_millis(500));
    let sent: Vec<_> = pair
        .transmits
        .iter()
        .filter(|(_, t)| t.to == SDP_AUDIO)
        .map(|(at, t)| (*at, rtp::parse(&t.bytes).expect("RTP").header))
        .collect();
    assert_eq!(
        sent.len(),
        26,
        "one packet per 20 ms tick, at 0 ms to 500 ms"
    );
    for pair_of in sent.windows(2) {
        let [(t0, h0), (t1, h1)] = pair_of else {
            unreachable!()
        };
        assert_eq!(*t1 - *t0, PACKET_INTERVAL);
        assert_eq!(h1.sequence, h0.sequence.wrapping_add(1));
        assert_eq!(h1.timestamp, h0.timestamp.wrapping_add(160));
        assert!(!h1.marker);
    }
    assert!(sent[0].1.marker, "a talk spurt starts with the marker bit");

    // The VTC's first packet shows where it really is: prompts follow it there.
    pair.vtc.start_talking(pair.now);
    pair.run_for(Duration::from_millis(500));
    let latched_at = pair
        .transmits
        .iter()
        .find(|(_, t)| t.to == VTC_AUDIO)
        .map(|(at, _)| *at)
        .expect("prompts reach the real source");
    assert!(
        pair.transmits
            .iter()
            .all(|(at, t)| (t.to == SDP_AUDIO) == (*at < latched_at)),
        "nothing goes to the SDP address after latching"
    );
    assert!(!pair.vtc.rtp_to(VTC_AUDIO).is_empty());
}

#[test]
fn nothing_is_sent_while_no_prompt_plays() {
    let mut pair = Pair::new(&CallSetup::default(), 3);
    pair.run_for(Duration::from_secs(30));
    assert!(
        pair.transmits.is_empty(),
        "no RTP, and no RTCP while there is nothing to report"
    );
}

#[test]
fn a_lobby_slate_brings_hold_music_and_the_entry_queue_slate_does_not() {
    let setup = CallSetup {
        video: false,
        ..CallSetup::default()
    };
    let mut pair = Pair::new(&setup, 4);
    pair.input(Input::ShowSlate(Slate::EntryQueue {
        tenant: "Acme".into(),
        retry: false,
    }));
    pair.run_for(Duration::from_secs(1));
    assert!(pair.transmits.is_empty(), "the entry queue is silent");
    pair.input(Input::ShowSlate(Slate::Lobby {
        meeting: "Demo Organizer's meeting".into(),
        detail: "Acme - conference 1177958860".into(),
    }));
    pair.run_for(Duration::from_secs(1));
    let music: Vec<_> = pair
        .transmits
        .iter()
        .filter(|(_, t)| t.to == VTC_AUDIO)
        .collect();
    assert_eq!(music.len(), 50, "a packet every 20 ms");
    assert!(
        pair.events.is_empty(),
        "a call without video asks the studio for nothing"
    );
    // Joining a meeting ends the music.
    pair.join();
    let before = pair.transmits.len();
    pair.run_for(Duration::from_secs(1));
    assert_eq!(pair.transmits.len(), before);
}

#[test]
fn a_prompt_wins_over_the_mix_until_it_ends() {
    let setup = CallSetup {
        video: false,
        ..CallSetup::default()
    };
    let mut pair = Pair::new(&setup, 5);
    pair.join();
    pair.input(Input::Play(Prompt::Goodbye));
    let prompt_packets = rtp_session::prompt::prompt_audio(Prompt::Goodbye)
        .expect("prompt")
        .len()
        .div_ceil(160);
    // The engine's mix arrives every 20 ms, just after each tick.
    let mixes = prompt_packets + 100;
    for _ in 0..mixes {
        pair.input(Input::MixAudio(vec![0; 960]));
        pair.run_for(PACKET_INTERVAL);
    }
    let last_prompt_tick = pair.start + PACKET_INTERVAL * (prompt_packets as u32 - 1);
    let during = pair
        .transmits
        .iter()
        .filter(|(at, _)| *at < last_prompt_tick)
        .count();
    assert_eq!(
        during,
        prompt_packets - 1,
        "while the prompt plays, one prompt packet per tick and no mix"
    );
    // From the prompt's last tick on, every mix frame goes out.
    let after_mixes = mixes - (prompt_packets - 1);
    assert_eq!(pair.transmits.len(), prompt_packets + after_mixes);
    assert!(pair.transmits.iter().all(|(_, t)| t.to == VTC_AUDIO));
}
