//! Packetization-mode 0 viewers: their layout is encoded in size-limited slices (every NAL fits
//! one RTP packet) by an encoder of their own format, never shared with mode-1 viewers, whose
//! pictures stay one slice each.

// Tests pick an arbitrary origin for their virtual clock.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mixer::codec::h264::H264Decoder;

use super::tests::add_synthetics;
use super::*;
use crate::media::video::MAX_VIDEO_PAYLOAD;

fn join_as(media: &mut MeetingMedia, id: u64, format: VideoFormat) -> FeedReceiver {
    let (tx, rx) = feed::channel();
    media.handle_input(EngineInput::Join {
        participant: id,
        display_name: format!("Room {id}"),
        feed: Some(tx),
        video_format: Some(format),
    });
    rx
}

pub(super) fn pictures(feed: &mut FeedReceiver) -> Vec<Arc<EncodedFrame>> {
    std::iter::from_fn(|| feed.try_recv())
        .filter_map(|f| match f {
            CallFeed::Video { frame, .. } => Some(frame),
            _ => None,
        })
        .collect()
}

#[test]
fn mode_0_viewers_share_a_slice_limited_encoder_of_their_own() {
    let t0 = Instant::now();
    let config = EngineConfig {
        fps: 10,
        bitrate_bps: 1_500_000,
        ..EngineConfig::default()
    };
    let mut media = MeetingMedia::new(config, t0, None);
    // Nine synthetic speakers fill the 3x3 of every silent viewer: one picture for all four.
    add_synthetics(&mut media, 9);
    let mode1 = VideoFormat::unlimited((1280, 720));
    let mode0 = VideoFormat {
        size: (1280, 720),
        max_nal_bytes: Some(MAX_VIDEO_PAYLOAD),
    };
    let mut feeds = [
        join_as(&mut media, 201, mode1),
        join_as(&mut media, 202, mode1),
        join_as(&mut media, 203, mode0),
        join_as(&mut media, 204, mode0),
    ];
    let mut now = t0;
    while now < t0 + Duration::from_secs(2) {
        media.handle_timeout(now);
        now = media.poll_timeout();
    }
    assert_eq!(
        media.encoder_count(),
        2,
        "one encoder per format, shared within it"
    );
    let got: Vec<Vec<Arc<EncodedFrame>>> = feeds.iter_mut().map(pictures).collect();
    assert!(
        got.iter().all(|p| !p.is_empty()),
        "every viewer got pictures"
    );
    // Same format, same stream.
    assert!(Arc::ptr_eq(got[0].last().unwrap(), got[1].last().unwrap()));
    assert!(Arc::ptr_eq(got[2].last().unwrap(), got[3].last().unwrap()));
    let biggest =
        |frames: &[Arc<EncodedFrame>]| frames.iter().map(|f| f.largest_nal()).max().unwrap_or(0);
    // Mode 1: a 720p keyframe in one slice is far larger than a packet (FU-A carries it).
    assert!(biggest(&got[0]) > MAX_VIDEO_PAYLOAD, "{}", biggest(&got[0]));
    // Mode 0: every NAL, keyframes included, fits one packet; and the stream decodes.
    assert!(
        biggest(&got[2]) <= MAX_VIDEO_PAYLOAD,
        "{}",
        biggest(&got[2])
    );
    let mut decoder = H264Decoder::new().unwrap();
    let decoded = got[2]
        .iter()
        .filter(|f| decoder.decode(&f.data).ok().flatten().is_some())
        .count();
    assert!(
        decoded > 0 && decoded + 1 >= got[2].len(),
        "{decoded} of {}",
        got[2].len()
    );
}
