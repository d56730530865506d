//! A cascade link as a viewer of the engine: it is sent the current speaker alone, full screen
//! and bare (no tile border, label or highlight), never its own picture, while its own picture
//! and voice take part like anyone else's.

// One arbitrary origin; after it, time moves only by what each test adds.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use mixer::codec::h264::H264Decoder;
use mixer::frame::{I420Frame, Yuv};
use mixer::LayoutMode;

use super::tests::{add_synthetics, join, small_config, Feed};
use super::*;

fn last_picture(feed: &mut Feed) -> I420Frame {
    let mut decoder = H264Decoder::new().unwrap();
    let mut picture = None;
    while let Some(item) = feed.try_recv() {
        if let CallFeed::Video { frame, .. } = item {
            if let Some(p) = decoder.decode(&frame.data).unwrap() {
                picture = Some(p);
            }
        }
    }
    picture.expect("a decodable picture")
}

fn near(a: Yuv, b: Yuv) -> bool {
    let d = |x: u8, y: u8| x.abs_diff(y) <= 24;
    d(a.y, b.y) && d(a.u, b.u) && d(a.v, b.v)
}

pub(super) fn run(media: &mut MeetingMedia, from: Instant, ticks: usize) -> Instant {
    let mut now = from;
    for _ in 0..ticks {
        media.handle_timeout(now);
        now = media.poll_timeout();
    }
    now
}

#[test]
fn a_cascade_link_sees_the_speaker_full_screen_without_borders_and_never_itself() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    add_synthetics(&mut media, 3);
    let mut bridge = join(&mut media, 1, true);
    let mut room = join(&mut media, 2, true);
    media.handle_input(EngineInput::SetLayout {
        participant: 1,
        mode: LayoutMode::Cascade,
    });
    media.handle_input(EngineInput::SetLayout {
        participant: 2,
        mode: LayoutMode::Speaker,
    });
    run(&mut media, t0, 40);

    let key = media.participants[&1].layout.clone().unwrap();
    assert_eq!(key.kind, LayoutKind::Full, "{key:?}");
    let shown = key.tiles[0].expect("someone is shown");
    assert_ne!(shown, 1, "never the bridge's own picture");
    assert!(key.bare && key.highlight.is_none(), "{key:?}");
    let (r, g, b) = synthetic::palette(usize::try_from(shown - 100).unwrap());
    let colour = Yuv::from_rgb(r, g, b);
    let picture = last_picture(&mut bridge);
    let (w, h) = (picture.width(), picture.height());
    for (x, y) in [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), (w / 2, 0)] {
        assert!(
            near(picture.pixel(x, y), colour),
            "({x}, {y}) is {:?}, the speaker's background is {colour:?}",
            picture.pixel(x, y)
        );
    }
    // A room system in speaker mode gets the same person inside a ring: a different picture.
    let framed = last_picture(&mut room);
    assert!(
        !near(framed.pixel(0, 0), colour),
        "{:?}",
        framed.pixel(0, 0)
    );
    assert_eq!(
        media.encoder_count(),
        2,
        "bare and framed never share an encoder"
    );
}
