//! Bit-rate classes in the engine: a viewer whose call moved class (TMMBR, REMB, loss) follows
//! its layout's encoder in the new format from a keyframe on, while the other viewers of the
//! same layout keep their stream, size and rate.

#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use mixer::codec::h264::H264Decoder;
use rtp_session::bandwidth::BitrateClass;

use super::tests::{self, add_synthetics, join_hd, Feed};
use super::tests_mode0::pictures;
use super::*;

/// The pictures a viewer received: (keyframe, decoded size).
fn received(feed: &mut Feed, decoder: &mut H264Decoder) -> Vec<(bool, Option<(u32, u32)>)> {
    pictures(feed)
        .into_iter()
        .map(|frame| {
            let picture = decoder.decode(&frame.data).expect("the stream decodes");
            (frame.keyframe, picture.map(|p| (p.width(), p.height())))
        })
        .collect()
}

#[test]
fn a_viewer_moving_class_gets_a_keyframe_at_its_size_and_the_others_keep_their_stream() {
    let t0 = Instant::now();
    let config = EngineConfig {
        fps: 10,
        ..EngineConfig::default()
    };
    assert_eq!(config.bitrate_bps, 1_500_000);
    let mut media = MeetingMedia::new(config, t0, None);
    // Nine synthetic participants fill the 3x3 first, so both silent rooms see the same nine.
    add_synthetics(&mut media, 9);
    let mut capped = join_hd(&mut media, 1);
    let mut other = join_hd(&mut media, 2);
    let (mut dec_capped, mut dec_other) =
        (H264Decoder::new().unwrap(), H264Decoder::new().unwrap());
    let mut now = t0;
    for _ in 0..3 {
        media.video_tick(now).unwrap();
        now += Duration::from_millis(100);
    }
    assert_eq!(media.encoder_count(), 1, "one layout, one shared encoder");
    let shared = media.participants[&2].encoder;
    assert!(
        received(&mut capped, &mut dec_capped)[0].0,
        "starts with a keyframe"
    );
    received(&mut other, &mut dec_other);

    let class = BitrateClass::Sd384;
    media.handle_input(EngineInput::VideoFormat {
        participant: 1,
        video_format: VideoFormat::unlimited(class.size()),
    });
    for _ in 0..5 {
        media.video_tick(now).unwrap();
        now += Duration::from_millis(100);
    }
    assert_eq!(
        media.encoder_count(),
        2,
        "the class has an encoder of its own"
    );
    let low = media.participants[&1].encoder.expect("watching");
    assert_eq!(media.encoders[&low].key.format.size, (640, 360));
    assert_eq!(
        media.encoders[&low].encoder.config().bitrate_bps,
        384_000,
        "the class's rate (the default 720p rate is the 1.5M class's)"
    );
    let after = received(&mut capped, &mut dec_capped);
    assert!(after[0].0, "the move starts at a keyframe");
    assert!(after
        .iter()
        .all(|(_, size)| size.is_none_or(|s| s == (640, 360))));
    assert!(
        after.iter().any(|(_, size)| size.is_some()),
        "the picture keeps decoding"
    );

    // The other viewer stays on the same encoder: same size, same rate, no new keyframe.
    assert_eq!(media.participants[&2].encoder, shared);
    let id = shared.expect("watching");
    assert_eq!(
        media.encoders[&id].encoder.config().bitrate_bps,
        config.bitrate_bps
    );
    let theirs = received(&mut other, &mut dec_other);
    assert!(!theirs.is_empty());
    assert!(theirs
        .iter()
        .all(|(keyframe, size)| !keyframe && size.is_none_or(|s| s == (1280, 720))));
}

/// The last biggest tile `feed` was told of, if any ([`CallFeed::Tile`]).
fn last_tile(feed: &mut Feed) -> Option<Option<(u32, u32)>> {
    std::iter::from_fn(|| feed.try_recv())
        .filter_map(|f| match f {
            CallFeed::Tile(tile) => Some(tile),
            _ => None,
        })
        .last()
}

fn run(media: &mut MeetingMedia, from: Instant, until: Instant) -> Instant {
    let mut now = from;
    while now < until {
        media.handle_timeout(now);
        now = media.poll_timeout();
    }
    now
}

#[test]
fn a_vtc_is_told_the_biggest_tile_it_fills_each_time_it_changes() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(tests::small_config(), t0, None);
    let mut a = join_hd(&mut media, 1);
    let _b = join_hd(&mut media, 2);
    // Two rooms: each sees the other full screen.
    let now = run(&mut media, t0, t0 + Duration::from_millis(300));
    assert_eq!(last_tile(&mut a), Some(Some((1280, 720))));
    // Eight more participants: the rooms are in 3x3 tiles now.
    add_synthetics(&mut media, 8);
    let now = run(&mut media, now, now + Duration::from_millis(300));
    let tile = last_tile(&mut a).flatten().expect("told its new tile");
    assert!(tile.0 <= 427 && tile.1 <= 240, "{tile:?}");
    // Unchanged: told nothing more.
    run(&mut media, now, now + Duration::from_millis(500));
    assert_eq!(last_tile(&mut a), None);
}
