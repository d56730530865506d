//! The engine on a virtual clock: N-1 audio, layouts without the viewer, shared encoders,
//! keyframes on demand but rate-limited.

// One arbitrary origin; after it, time moves only by what each test adds.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mixer::codec::h264::H264Decoder;
use tokio::sync::mpsc;

use super::*;

type Feed = mpsc::UnboundedReceiver<CallFeed>;

fn join(media: &mut MeetingMedia, id: u64, video: bool) -> Feed {
    let (tx, rx) = mpsc::unbounded_channel();
    media.handle_input(EngineInput::Join {
        participant: id,
        display_name: format!("Room {id}"),
        feed: Some(tx),
        video_size: video.then_some((640, 360)),
    });
    rx
}

fn drain(feed: &mut Feed) -> Vec<CallFeed> {
    std::iter::from_fn(|| feed.try_recv().ok()).collect()
}

fn tone(freq: f32, offset: usize) -> Vec<i16> {
    (0..FRAME_SAMPLES)
        .map(|i| {
            let t = (offset + i) as f32 / 48_000.0;
            ((std::f32::consts::TAU * freq * t).sin() * 8000.0) as i16
        })
        .collect()
}

fn small_config() -> EngineConfig {
    EngineConfig {
        fps: 10,
        bitrate_bps: 800_000,
        ..EngineConfig::default()
    }
}

#[test]
fn each_listener_hears_everyone_but_itself() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    let mut a = join(&mut media, 1, false);
    let mut b = join(&mut media, 2, false);
    for n in 0..10 {
        media.handle_input(EngineInput::Audio {
            participant: 1,
            pcm: tone(440.0, n * FRAME_SAMPLES),
        });
        media.audio_tick(t0 + AUDIO_TICK * n as u32);
    }
    let heard_by_a: Vec<i16> = drain(&mut a)
        .into_iter()
        .flat_map(|f| match f {
            CallFeed::Audio(pcm) => pcm,
            CallFeed::Video { .. } => Vec::new(),
        })
        .collect();
    let heard_by_b: Vec<i16> = drain(&mut b)
        .into_iter()
        .flat_map(|f| match f {
            CallFeed::Audio(pcm) => pcm,
            CallFeed::Video { .. } => Vec::new(),
        })
        .collect();
    assert_eq!(heard_by_a.len(), 10 * FRAME_SAMPLES);
    assert!(heard_by_a.iter().all(|s| *s == 0), "no self-echo");
    assert!(mixer::speakers::level_db(&heard_by_b) > -20.0, "B hears A");
}

#[test]
fn synthetic_participants_fill_the_layout_and_the_first_frame_is_a_keyframe() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    for i in 0..3 {
        media.add_synthetic(100 + i, format!("Synthetic {i}"), i as u32, 3);
    }
    let mut viewer = join(&mut media, 1, true);
    let mut now = t0;
    for _ in 0..30 {
        media.handle_timeout(now);
        now = media.poll_timeout();
    }
    let frames: Vec<_> = drain(&mut viewer)
        .into_iter()
        .filter_map(|f| match f {
            CallFeed::Video { frame, timestamp } => Some((frame, timestamp)),
            CallFeed::Audio(_) => None,
        })
        .collect();
    assert!(frames.len() >= 3, "{} frames", frames.len());
    assert!(frames[0].0.keyframe);
    assert!(
        frames.windows(2).all(|w| w[1].1 > w[0].1),
        "timestamps rise"
    );
    let mut decoder = H264Decoder::new().unwrap();
    let mut decoded = None;
    for (f, _) in &frames {
        if let Some(picture) = decoder.decode(&f.data).unwrap() {
            decoded = Some(picture);
        }
    }
    let picture = decoded.expect("decodable");
    assert_eq!((picture.width(), picture.height()), (640, 360));
    let key = media.participants[&1].layout.clone().unwrap();
    let mut shown: Vec<u64> = key.tiles.iter().flatten().copied().collect();
    shown.sort_unstable();
    assert_eq!(
        shown,
        [100, 101, 102],
        "the three synthetic participants, not the viewer"
    );
}

#[test]
fn viewers_of_the_same_picture_share_one_encoder_and_never_see_themselves() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    for i in 0..9 {
        media.add_synthetic(100 + i, format!("Synthetic {i}"), i as u32, 9);
    }
    // Room systems joined after the synthetic participants rank after them while silent.
    let mut feeds: Vec<Feed> = (201..=203).map(|id| join(&mut media, id, true)).collect();
    // Let the synthetic voices rank above the silent room systems.
    let mut now = t0;
    while now < t0 + Duration::from_secs(2) {
        media.handle_timeout(now);
        now = media.poll_timeout();
    }
    for f in &mut feeds {
        drain(f);
    }
    media.video_tick(now).unwrap();
    let video = |f: &mut Feed| {
        drain(f).into_iter().find_map(|x| match x {
            CallFeed::Video { frame, .. } => Some(frame),
            CallFeed::Audio(_) => None,
        })
    };
    let frames: Vec<Arc<EncodedFrame>> = feeds.iter_mut().map(|f| video(f).unwrap()).collect();
    assert!(Arc::ptr_eq(&frames[0], &frames[1]) && Arc::ptr_eq(&frames[1], &frames[2]));
    let layouts: Vec<_> = (201..=203u64)
        .map(|v| media.participants[&v].layout.clone().unwrap())
        .collect();
    assert!(
        layouts.windows(2).all(|w| w[0] == w[1]),
        "one picture, so one encoder, for three viewers"
    );
    for viewer in 201..=203u64 {
        let key = media.participants[&viewer].layout.clone().unwrap();
        assert!(!key.tiles.contains(&Some(viewer)));
    }

    // A room system that talks is shown to the others, so its own picture differs.
    for n in 0..150u32 {
        media.handle_input(EngineInput::Audio {
            participant: 201,
            pcm: tone(300.0, n as usize * FRAME_SAMPLES),
        });
        media.audio_tick(now);
        now += AUDIO_TICK;
    }
    media.video_tick(now).unwrap();
    assert!(media.participants[&202]
        .layout
        .as_ref()
        .unwrap()
        .tiles
        .contains(&Some(201)));
    assert!(!media.participants[&201]
        .layout
        .as_ref()
        .unwrap()
        .tiles
        .contains(&Some(201)));
    assert!(media.encoders.len() >= 2);
}

#[test]
fn keyframe_requests_are_honoured_but_rate_limited() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    media.add_synthetic(100, "Synthetic".into(), 0, 1);
    let mut viewer = join(&mut media, 1, true);
    let keyframes = |feed: &mut Feed| {
        drain(feed)
            .into_iter()
            .filter(|f| matches!(f, CallFeed::Video { frame, .. } if frame.keyframe))
            .count()
    };
    media.video_tick(t0).unwrap();
    assert_eq!(keyframes(&mut viewer), 1, "start");
    let mut now = t0;
    for _ in 0..3 {
        now += Duration::from_millis(100);
        media.video_tick(now).unwrap();
    }
    assert_eq!(keyframes(&mut viewer), 0, "no unasked keyframes");
    media.handle_input(EngineInput::KeyframeRequest { participant: 1 });
    now += Duration::from_millis(100);
    media.video_tick(now).unwrap();
    assert_eq!(
        keyframes(&mut viewer),
        0,
        "within 500 ms of the last one: deferred"
    );
    now += Duration::from_millis(500);
    media.video_tick(now).unwrap();
    assert_eq!(keyframes(&mut viewer), 1, "then honoured");
}

#[test]
fn leaving_removes_the_participant_from_layouts_and_the_mix() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    let _a = join(&mut media, 1, true);
    let _b = join(&mut media, 2, true);
    media.video_tick(t0).unwrap();
    assert!(media.participants[&1]
        .layout
        .as_ref()
        .unwrap()
        .tiles
        .contains(&Some(2)));
    media.handle_input(EngineInput::Leave { participant: 2 });
    media.video_tick(t0 + Duration::from_millis(100)).unwrap();
    assert!(!media.participants[&1]
        .layout
        .as_ref()
        .unwrap()
        .tiles
        .contains(&Some(2)));
    assert_eq!(media.len(), 1);
}

fn heard(feed: &mut Feed) -> Vec<i16> {
    drain(feed)
        .into_iter()
        .flat_map(|f| match f {
            CallFeed::Audio(pcm) => pcm,
            CallFeed::Video { .. } => Vec::new(),
        })
        .collect()
}

#[test]
fn a_muted_participant_is_left_out_of_the_mix_until_unmuted() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    let _a = join(&mut media, 1, false);
    let mut b = join(&mut media, 2, false);
    let mut n = 0;
    let mut speak = |media: &mut MeetingMedia, frames: usize| {
        for _ in 0..frames {
            media.handle_input(EngineInput::Audio {
                participant: 1,
                pcm: tone(440.0, n * FRAME_SAMPLES),
            });
            media.audio_tick(t0 + AUDIO_TICK * n as u32);
            n += 1;
        }
    };
    media.handle_input(EngineInput::Mute {
        participant: 1,
        muted: true,
    });
    speak(&mut media, 10);
    let muted = heard(&mut b);
    assert_eq!(muted.len(), 10 * FRAME_SAMPLES);
    assert!(muted.iter().all(|s| *s == 0), "muted tone absent");
    assert!(media.ranking.dominant().is_none_or(|d| d.0 != 1));
    media.handle_input(EngineInput::Mute {
        participant: 1,
        muted: false,
    });
    speak(&mut media, 10);
    assert!(
        mixer::speakers::level_db(&heard(&mut b)) > -20.0,
        "B hears A again"
    );
}

#[test]
fn set_max_tiles_gives_the_viewer_a_smaller_layout_with_a_keyframe() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    for i in 0..3 {
        media.add_synthetic(100 + i, format!("Synthetic {i}"), i as u32, 3);
    }
    let mut viewer = join(&mut media, 1, true);
    let mut now = t0;
    for _ in 0..10 {
        media.handle_timeout(now);
        now = media.poll_timeout();
    }
    let before = media.participants[&1].layout.clone().unwrap();
    assert!(before.tiles.len() > 1, "{before:?}");
    drain(&mut viewer);
    media.handle_input(EngineInput::SetMaxTiles {
        participant: 1,
        max_tiles: 1,
    });
    assert!(media.participants[&1].wants_keyframe);
    // Past the keyframe gap of the old layout, then one layout frame.
    now += KEYFRAME_GAP;
    media.handle_timeout(now);
    while media.participants[&1].layout == Some(before.clone()) {
        now = media.poll_timeout();
        media.handle_timeout(now);
    }
    let after = media.participants[&1].layout.clone().unwrap();
    assert_eq!(after.tiles.len(), 1, "{after:?}");
    assert!(after.tiles[0].is_some_and(|id| id != 1));
    let newest = drain(&mut viewer)
        .into_iter()
        .filter_map(|f| match f {
            CallFeed::Video { frame, .. } => Some(frame),
            CallFeed::Audio(_) => None,
        })
        .last()
        .expect("a picture of the new layout");
    assert!(newest.keyframe, "the new layout starts with a keyframe");
}

#[test]
fn encoders_are_released_once_the_last_viewer_leaves() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    for i in 0..2 {
        media.add_synthetic(100 + i, format!("Synthetic {i}"), i as u32, 2);
    }
    let _a = join(&mut media, 1, true);
    let _b = join(&mut media, 2, true);
    let mut now = t0;
    for _ in 0..5 {
        media.handle_timeout(now);
        now = media.poll_timeout();
    }
    assert_eq!(media.encoder_count(), 2, "A and B see different pictures");
    media.handle_input(EngineInput::Leave { participant: 1 });
    media.handle_input(EngineInput::Leave { participant: 2 });
    // The synthetic participants keep the engine ticking with nobody watching.
    let end = now + IDLE_ENCODER + Duration::from_secs(1);
    while now < end {
        media.handle_timeout(now);
        now = media.poll_timeout();
    }
    assert_eq!(media.encoder_count(), 0, "no encoder kept for nobody");
    assert_eq!(media.len(), 2, "the synthetic participants stay");
}
