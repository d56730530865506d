//! Bounded feeds on a virtual clock: a viewer that stops reading gets whole pictures only (from
//! a keyframe on after every gap), its drops are counted, and the other viewers of its stream
//! are served as if nothing happened.

// One arbitrary origin; after it, time moves only by what the test adds.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mixer::codec::h264::H264Decoder;

use super::tests::{add_synthetics, join};
use super::*;
use crate::metrics::Metrics;

fn config() -> EngineConfig {
    EngineConfig {
        fps: 10,
        bitrate_bps: 800_000,
        ..EngineConfig::default()
    }
}

/// The pictures (by RTP timestamp) and audio frames queued on `feed`.
fn read(feed: &mut FeedReceiver, pictures: &mut Vec<(u32, Arc<EncodedFrame>)>) -> usize {
    let mut audio = 0;
    while let Some(item) = feed.try_recv() {
        match item {
            CallFeed::Video { frame, timestamp } => pictures.push((timestamp, frame)),
            CallFeed::Audio(_) => audio += 1,
            CallFeed::Shown(_)
            | CallFeed::Tile(_)
            | CallFeed::Speaker(_)
            | CallFeed::Forward { .. }
            | CallFeed::Slots(_)
            | CallFeed::PublisherKeyframe(_)
            | CallFeed::Relay(_) => {}
        }
    }
    audio
}

#[test]
fn a_slow_viewer_gets_whole_pictures_only_and_the_others_every_picture() {
    let metrics = Metrics::new().unwrap();
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(config(), t0, Some(metrics.clone()));
    // A full 3x3 of synthetic participants who talk: the two silent viewers rank below them,
    // see the same picture and share its encoder.
    add_synthetics(&mut media, 9);
    let mut fast = join(&mut media, 1, true);
    let mut slow = join(&mut media, 2, true);
    let (mut fast_pictures, mut slow_pictures) = (Vec::new(), Vec::new());
    let (mut fast_audio, mut slow_audio) = (0, 0);
    let mut now = t0;
    while now < t0 + Duration::from_secs(6) {
        media.handle_timeout(now);
        fast_audio += read(&mut fast, &mut fast_pictures);
        // The slow viewer's task stalls from 2 s to 4.5 s, reading once in between, then keeps
        // up again.
        let elapsed = now.saturating_duration_since(t0);
        let stalled = elapsed >= Duration::from_secs(2)
            && elapsed < Duration::from_millis(4500)
            && elapsed != Duration::from_millis(3200);
        if !stalled {
            slow_audio += read(&mut slow, &mut slow_pictures);
        }
        now = media.poll_timeout();
    }
    assert_eq!(media.encoder_count(), 1, "one stream for both viewers");

    // The fast viewer missed nothing: 6 s of audio and every picture the encoder produced.
    assert_eq!(fast_audio, 300);
    let fast_ts: Vec<u32> = fast_pictures.iter().map(|(ts, _)| *ts).collect();
    assert!(
        fast_pictures.len() >= 50,
        "{} pictures",
        fast_pictures.len()
    );
    let mut decoder = H264Decoder::new().unwrap();
    for (ts, frame) in &fast_pictures {
        decoder
            .decode(&frame.data)
            .unwrap_or_else(|e| panic!("fast viewer, picture {ts}: {e}"));
    }

    // The slow viewer got fewer pictures, each one the stream's own, and after every gap the
    // first picture is a keyframe: it never holds a P-frame whose reference it did not get.
    assert!(slow_pictures.len() < fast_pictures.len());
    let position: HashMap<u32, usize> =
        fast_ts.iter().enumerate().map(|(i, ts)| (*ts, i)).collect();
    let mut previous: Option<usize> = None;
    let mut gaps = 0;
    for (ts, frame) in &slow_pictures {
        let at = position[ts];
        if previous.is_none_or(|p| at != p + 1) {
            assert!(frame.keyframe, "picture {ts} after a gap is not a keyframe");
            if previous.is_some() {
                gaps += 1;
            }
        }
        previous = Some(at);
    }
    assert!(gaps >= 2, "the stalls dropped pictures ({gaps} gaps)");
    // And they decode, every one, with the real decoder.
    let mut decoder = H264Decoder::new().unwrap();
    let mut decoded = 0;
    for (ts, frame) in &slow_pictures {
        let picture = decoder
            .decode(&frame.data)
            .unwrap_or_else(|e| panic!("slow viewer, picture {ts}: {e}"));
        decoded += usize::from(picture.is_some());
    }
    assert_eq!(
        decoded,
        slow_pictures.len(),
        "every picture the slow viewer got decodes"
    );
    // It caught up after the stall (once the keyframe came): the last second arrived whole.
    let tail = fast_ts.iter().filter(|ts| **ts >= 5 * 90_000).count();
    let slow_tail = slow_pictures
        .iter()
        .filter(|(ts, _)| *ts >= 5 * 90_000)
        .count();
    assert_eq!(slow_tail, tail);

    // What it lost was counted: the oldest audio, and the pictures up to each keyframe.
    let dropped = |what: &str| metrics.media_dropped_total.with_label_values(&[what]).get();
    assert_eq!(dropped("audio"), 300 - slow_audio as u64);
    assert!(dropped("audio") > 0);
    let video_lost = (fast_pictures.len() - slow_pictures.len()) as u64;
    assert_eq!(dropped("video"), video_lost);
}
