//! Meeting media on a virtual clock: the VTC's audio and video reach the engine decodable over
//! a lossy, reordering link; a VTC that goes silent is reported inactive exactly once at the
//! media timeout; the call's video switches from slate to layout at the layout's keyframe with
//! continuous RTP timestamps; leaving stops decoding.

mod common;

use std::time::Duration;

use common::{layout_frames, CallSetup, Link, Pair, VTC_VIDEO};
use mixer::codec::h264::H264Decoder;
use rtp_session::api::{MediaEvent, Slate};
use rtp_session::call::{
    EngineRequest, Event, Input, SlateRequest, MEDIA_TIMEOUT, PACKET_INTERVAL,
};
use rtp_session::h264_rtp::VideoFormat;

/// The access units the machine passed on for decoding.
fn decoded_access_units(pair: &Pair) -> Vec<Vec<u8>> {
    pair.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Decode(au) => Some(au.clone()),
            _ => None,
        })
        .collect()
}

/// The 20 ms audio frames the machine passed to the engine.
fn engine_audio(pair: &Pair) -> Vec<Vec<i16>> {
    pair.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Engine(EngineRequest::Audio { pcm, .. }) => Some(pcm.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn vtc_media_reaches_the_engine_whole_over_a_clean_link() {
    let mut pair = Pair::new(&CallSetup::default(), 20);
    pair.join();
    pair.vtc.start_talking(pair.now);
    pair.vtc.start_video(pair.now);
    pair.run_for(Duration::from_secs(3));
    let units = decoded_access_units(&pair);
    // Everything the VTC sent, bar what is still in flight or in the jitter buffer.
    assert!(
        units.len() + 2 >= pair.vtc.sent_access_units.len(),
        "{}",
        units.len()
    );
    assert_eq!(units[..], pair.vtc.sent_access_units[..units.len()]);
    let audio = engine_audio(&pair);
    assert!(audio.iter().all(|f| f.len() == 960));
    // 3 s of 20 ms packets, less the jitter buffer's 60 ms and the link's 10 ms.
    assert!((140..=151).contains(&audio.len()), "{}", audio.len());
}

#[test]
fn vtc_media_reaches_the_engine_decodable_over_a_lossy_reordering_link() {
    for seed in [21, 22, 23] {
        let mut pair = Pair::new(&CallSetup::default(), seed);
        pair.to_gateway = Link::lossy(seed, 0.03, Duration::from_millis(15));
        pair.join();
        pair.vtc.start_talking(pair.now);
        pair.vtc.start_video(pair.now);
        pair.vtc.start_rtcp(pair.now);
        pair.run_for(Duration::from_secs(10));
        let units = decoded_access_units(&pair);
        let mut decoder = H264Decoder::new().expect("decoder");
        let mut pictures = 0;
        for (i, au) in units.iter().enumerate() {
            match decoder.decode(au) {
                Ok(Some(_)) => pictures += 1,
                Ok(None) => {}
                Err(e) => panic!(
                    "seed {seed}: access unit {i} of {} broken: {e}",
                    units.len()
                ),
            }
        }
        let sent = pair.vtc.sent_access_units.len();
        // NACKs repair most losses; a loss they cannot repair costs pictures until a keyframe.
        assert!(
            pictures * 10 >= sent * 7,
            "seed {seed}: {pictures} of {sent}"
        );
        let audio = engine_audio(&pair);
        assert!(audio.iter().all(|f| f.len() == 960));
        // Lost audio packets are concealed (up to 5 in a row): the engine hears no gaps.
        assert!(audio.len() >= 480, "seed {seed}: {} frames", audio.len());
        assert!(pair.gateway.counters().lost_packets > 0 || sent == 0);
    }
}

#[test]
fn a_vtc_that_goes_silent_is_reported_inactive_exactly_once_at_the_media_timeout() {
    let mut pair = Pair::new(&CallSetup::default(), 24);
    pair.vtc.start_talking(pair.now);
    pair.run_for(Duration::from_secs(5));
    pair.vtc.talking = false;
    let last_heard = pair
        .to_gateway
        .next_delivery()
        .unwrap_or(pair.now)
        .max(pair.now);
    pair.run_for(Duration::from_secs(200));
    let inactive = pair.events_where(|e| matches!(e, Event::Media(MediaEvent::Inactive)));
    assert_eq!(inactive.len(), 1, "reported once");
    let after = inactive[0].0.duration_since(last_heard);
    assert!(
        after >= MEDIA_TIMEOUT && after <= MEDIA_TIMEOUT + PACKET_INTERVAL,
        "at the timeout (next 20 ms tick): {after:?}"
    );
}

#[test]
fn a_vtc_that_keeps_sending_rtcp_is_never_inactive() {
    let mut pair = Pair::new(&CallSetup::default(), 25);
    pair.vtc.start_rtcp(pair.now);
    pair.run_for(Duration::from_secs(200));
    assert!(pair
        .events_where(|e| matches!(e, Event::Media(MediaEvent::Inactive)))
        .is_empty());
}

#[test]
fn the_video_switches_from_slate_to_layout_at_the_layouts_keyframe_with_continuous_timestamps() {
    let mut pair = Pair::new(&CallSetup::default(), 26);
    pair.input(Input::ShowSlate(Slate::Lobby {
        meeting: "Demo".into(),
        detail: "Acme".into(),
    }));
    assert!(pair.events.iter().any(|(_, e)| matches!(
        e,
        Event::Slate(SlateRequest::Watch { format, .. })
            if *format == VideoFormat::unlimited((1280, 720))
    )));
    let slate = layout_frames(4);
    let slate_clock = 3_000_000u32;
    for (n, frame) in slate.iter().enumerate() {
        pair.input(Input::SlateFrame {
            frame: frame.clone(),
            timestamp: slate_clock + 9000 * n as u32,
        });
        pair.run_for(Duration::from_millis(100));
    }
    let slate_sent = pair.vtc.rtp_to(VTC_VIDEO);
    let last_slate = slate_sent.last().expect("slate pictures sent").1;

    pair.join();
    assert!(
        pair.events
            .iter()
            .any(|(_, e)| *e == Event::Slate(SlateRequest::Unwatch)),
        "joining stops watching the slate"
    );
    let layout = layout_frames(3);
    let layout_clock = 500u32;
    // A picture that is not a keyframe cannot start the new source.
    pair.input(Input::MixVideo {
        frame: layout[1].clone(),
        timestamp: layout_clock,
    });
    // Nor can the slate once the call has joined.
    pair.input(Input::SlateFrame {
        frame: slate[0].clone(),
        timestamp: slate_clock + 9000 * 10,
    });
    pair.run_for(Duration::from_millis(200));
    assert_eq!(pair.vtc.rtp_to(VTC_VIDEO).len(), slate_sent.len());
    pair.input(Input::MixVideo {
        frame: layout[0].clone(),
        timestamp: layout_clock + 6000,
    });
    pair.run_for(Duration::from_millis(50));
    let all = pair.vtc.rtp_to(VTC_VIDEO);
    let first_layout = all[slate_sent.len()].1;
    assert_eq!(first_layout.ssrc, last_slate.ssrc, "one stream");
    assert_eq!(first_layout.sequence, last_slate.sequence.wrapping_add(1));
    // 300 ms after the last slate picture: 27 000 ticks on, not a jump to the layout's clock.
    assert_eq!(
        first_layout.timestamp.wrapping_sub(last_slate.timestamp),
        27_000
    );
}

#[test]
fn after_leaving_nothing_is_decoded_or_sent_to_the_engine() {
    let mut pair = Pair::new(&CallSetup::default(), 27);
    pair.join();
    pair.vtc.start_talking(pair.now);
    pair.vtc.start_video(pair.now);
    pair.run_for(Duration::from_secs(1));
    pair.input(Input::Leave);
    let left_at = pair.now;
    assert_eq!(
        pair.events.last().map(|(_, e)| e.clone()),
        Some(Event::Engine(EngineRequest::Leave { participant: 5 }))
    );
    pair.run_for(Duration::from_secs(2));
    assert!(pair
        .events
        .iter()
        .filter(|(at, _)| *at > left_at)
        .all(|(_, e)| !matches!(e, Event::Decode(_) | Event::Engine(_))));
}
