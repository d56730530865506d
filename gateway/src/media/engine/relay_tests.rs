//! Forwarding VTCs and browsers to browsers, on a virtual clock: a VTC's access units go to a
//! browser's slot as received from its keyframe on, with a keyframe asked of the VTC; a browser
//! gets another browser's layer that fits its tile and never its own stream; the people present
//! are shown before synthetic participants who talked long ago.

// One arbitrary origin; after it, time moves only by what each test adds.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mixer::frame::I420Frame;

use super::tests::{add_synthetics, join, small_config, Feed};
use super::*;

const LADDER: [(u32, u32); 3] = [(320, 180), (640, 360), (1280, 720)];

fn join_browser(media: &mut MeetingMedia, id: u64) -> Feed {
    let (tx, rx) = feed::channel();
    media.handle_input(EngineInput::JoinWebrtc {
        participant: id,
        display_name: format!("Browser {id}"),
        feed: tx,
        stream: NativeStream {
            layers: LADDER.to_vec(),
            fps: 30,
            temporal_layers: 1,
        },
    });
    rx
}

/// An access unit (Annex B): IDR or P slice, tagged with `tag` so tests can tell them apart.
fn unit(keyframe: bool, tag: u8) -> Vec<u8> {
    vec![0, 0, 0, 1, if keyframe { 0x65 } else { 0x41 }, tag]
}

fn send_unit(media: &mut MeetingMedia, participant: u64, layer: usize, keyframe: bool, tag: u8) {
    media.handle_input(EngineInput::NativeVideo {
        participant,
        layer,
        timestamp: u32::from(tag) * 3000,
        access_unit: unit(keyframe, tag),
    });
}

/// What a feed got: forwarded units as (slot, source, tag), and the other notices.
#[derive(Debug, Default)]
struct Got {
    forwarded: Vec<(usize, u64, u8)>,
    slots: Option<Vec<Option<u64>>>,
    relay: Option<bool>,
    keyframes: Vec<usize>,
}

fn got(feed: &mut Feed) -> Got {
    let mut g = Got::default();
    while let Some(item) = feed.try_recv() {
        match item {
            CallFeed::Forward {
                slot,
                source,
                frame,
                ..
            } => g.forwarded.push((slot, source, frame.data[5])),
            CallFeed::Slots(s) => g.slots = Some(s),
            CallFeed::Relay(r) => g.relay = Some(r),
            CallFeed::PublisherKeyframe(layer) => g.keyframes.push(layer),
            _ => {}
        }
    }
    g
}

#[test]
fn a_vtc_is_forwarded_to_a_browser_as_received_from_a_keyframe_it_is_asked_for() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    let mut vtc = join(&mut media, 1, true);
    // The VTC's picture has been decoded once: its stream is 1280x720.
    media.handle_input(EngineInput::Video {
        participant: 1,
        frame: Arc::new(I420Frame::new(1280, 720).unwrap()),
    });
    let mut browser = join_browser(&mut media, 2);
    media.handle_timeout(t0);
    let b = got(&mut browser);
    let slots = b.slots.expect("the browser is told its slots");
    assert_eq!(slots[0], Some(1), "the VTC fills a slot: {slots:?}");
    assert!(!slots.contains(&Some(2)), "never its own stream: {slots:?}");
    let v = got(&mut vtc);
    assert_eq!(v.relay, Some(true), "the VTC is told to relay");
    assert_eq!(v.keyframes, [0], "and asked for a keyframe");

    // P-frames before the keyframe do not enter the slot; from the keyframe on, all do, as sent.
    send_unit(&mut media, 1, 0, false, 1);
    send_unit(&mut media, 1, 0, true, 2);
    send_unit(&mut media, 1, 0, false, 3);
    assert_eq!(got(&mut browser).forwarded, [(0, 1, 2), (0, 1, 3)]);

    // Still waiting 100 ms later? No: the slot has its stream, nothing more is asked.
    media.handle_timeout(t0 + Duration::from_millis(600));
    assert!(got(&mut vtc).keyframes.is_empty());

    // The browser leaves: the VTC stops relaying.
    media.handle_input(EngineInput::Leave { participant: 2 });
    media.handle_timeout(t0 + Duration::from_millis(700));
    assert_eq!(got(&mut vtc).relay, Some(false));
}

#[test]
fn a_browser_gets_the_layer_of_another_browser_that_fits_its_tile_and_never_its_own() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    let mut ann = join_browser(&mut media, 2);
    let mut ben = join_browser(&mut media, 3);
    // Ben shows his first slot small; Ann reports nothing (the middle layer).
    media.handle_input(EngineInput::Tiles {
        participant: 3,
        sizes: vec![Some((320, 180))],
    });
    media.handle_timeout(t0);
    let (a, b) = (got(&mut ann), got(&mut ben));
    assert_eq!(a.slots.unwrap()[0], Some(3));
    assert_eq!(b.slots.unwrap()[0], Some(2));
    // Keyframes of the layers to forward go to the publishers' drivers (PLI).
    assert!(
        a.keyframes.contains(&0),
        "Ben's slot wants Ann's layer 0: {:?}",
        a.keyframes
    );
    assert!(
        b.keyframes.contains(&1),
        "Ann's slot wants Ben's layer 1: {:?}",
        b.keyframes
    );

    for (who, layer) in [(2, 0), (2, 1), (2, 2), (3, 0), (3, 1), (3, 2)] {
        let tag = u8::try_from(who * 10 + layer).unwrap();
        send_unit(&mut media, who, layer as usize, true, tag);
    }
    assert_eq!(got(&mut ann).forwarded, [(0, 3, 31)], "Ben's middle layer");
    assert_eq!(
        got(&mut ben).forwarded,
        [(0, 2, 20)],
        "Ann's smallest layer"
    );
}

#[test]
fn a_lost_unit_holds_the_slot_until_the_next_keyframe() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    let _ann = join_browser(&mut media, 2);
    let mut ben = join_browser(&mut media, 3);
    media.handle_timeout(t0);
    send_unit(&mut media, 2, 1, true, 1);
    media.input_dropped(InputDrops::default(), &[(2, 1)]);
    send_unit(&mut media, 2, 1, false, 2);
    send_unit(&mut media, 2, 1, true, 3);
    let forwarded: Vec<u8> = got(&mut ben).forwarded.iter().map(|f| f.2).collect();
    assert_eq!(
        forwarded,
        [1, 3],
        "the P-frame after the loss is not forwarded"
    );
}

#[test]
fn people_present_fill_a_full_layout_before_synthetic_participants_who_talked_long_ago() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    add_synthetics(&mut media, 8);
    let _vtc = join(&mut media, 1, true);
    media.handle_input(EngineInput::Video {
        participant: 1,
        frame: Arc::new(I420Frame::new(1280, 720).unwrap()),
    });
    // A call that never sent a picture is not preferred to the synthetic participants.
    let _silent = join(&mut media, 4, true);
    let _ann = join_browser(&mut media, 2);
    let _ben = join_browser(&mut media, 3);
    // Two seconds of the meeting (synthetic 0 talks, the browsers are silent).
    let mut now = t0;
    while now < t0 + Duration::from_secs(2) {
        media.handle_timeout(now);
        now += AUDIO_TICK;
    }
    let layout = media.participants[&1]
        .layout
        .clone()
        .expect("the VTC has a layout");
    assert!(
        layout.tiles.contains(&Some(2)) && layout.tiles.contains(&Some(3)),
        "both browsers are in the VTC's 3x3: {:?}",
        layout.tiles
    );
    assert!(
        layout.tiles.contains(&Some(100)),
        "the synthetic speaker too"
    );
    assert!(!layout.tiles.contains(&Some(4)), "{:?}", layout.tiles);
    let slots = media.participants[&2]
        .forward
        .as_ref()
        .and_then(|f| f.shown())
        .expect("Ann's slots are planned");
    assert!(
        slots.contains(&Some(1)) && slots.contains(&Some(3)),
        "Ann sees the VTC and Ben: {slots:?}"
    );
}
