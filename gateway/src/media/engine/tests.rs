//! The engine on a virtual clock: N-1 audio, layouts without the viewer, shared encoders,
//! keyframes on demand but rate-limited.

// One arbitrary origin; after it, time moves only by what each test adds.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mixer::codec::h264::H264Decoder;

use super::*;

pub(super) type Feed = FeedReceiver;

pub(super) fn join(media: &mut MeetingMedia, id: u64, video: bool) -> Feed {
    let (tx, rx) = feed::channel();
    media.handle_input(EngineInput::Join {
        participant: id,
        display_name: format!("Room {id}"),
        feed: Some(tx),
        video_format: video.then_some(VideoFormat::unlimited((640, 360))),
    });
    rx
}

/// Adds synthetic participants 100, 101, .. (`count` of them), as an operator's AddSynthetic
/// would.
pub(super) fn add_synthetics(media: &mut MeetingMedia, count: u64) {
    for i in 0..count {
        let index = u32::try_from(i).expect("few synthetic participants");
        let of = u32::try_from(count).expect("few synthetic participants");
        media.add_synthetic(100 + i, format!("Synthetic {i}"), index, of, Arc::default());
    }
}

fn drain(feed: &mut Feed) -> Vec<CallFeed> {
    std::iter::from_fn(|| feed.try_recv()).collect()
}

pub(super) fn tone(freq: f32, offset: usize) -> Vec<i16> {
    (0..FRAME_SAMPLES)
        .map(|i| {
            let t = (offset + i) as f32 / 48_000.0;
            ((std::f32::consts::TAU * freq * t).sin() * 8000.0) as i16
        })
        .collect()
}

pub(super) fn small_config() -> EngineConfig {
    EngineConfig {
        fps: 10,
        bitrate_bps: 800_000,
        ..EngineConfig::default()
    }
}

fn heard(feed: &mut Feed) -> Vec<i16> {
    drain(feed)
        .into_iter()
        .flat_map(|f| match f {
            CallFeed::Audio(pcm) => pcm,
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn each_listener_hears_everyone_but_itself() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    let mut a = join(&mut media, 1, false);
    let mut b = join(&mut media, 2, false);
    let (mut heard_by_a, mut heard_by_b) = (Vec::new(), Vec::new());
    for n in 0..10 {
        media.handle_input(EngineInput::Audio {
            participant: 1,
            pcm: tone(440.0, n * FRAME_SAMPLES),
        });
        media.audio_tick(t0 + AUDIO_TICK * n as u32);
        // Each call's task reads its feed as the mix comes.
        heard_by_a.extend(heard(&mut a));
        heard_by_b.extend(heard(&mut b));
    }
    assert_eq!(heard_by_a.len(), 10 * FRAME_SAMPLES);
    assert!(heard_by_a.iter().all(|s| *s == 0), "no self-echo");
    assert!(mixer::speakers::level_db(&heard_by_b) > -20.0, "B hears A");
}

/// A picture that took 100 ms (the engine's thread busy) delays the audio ticks behind it; they
/// all run when it is done, so each listener still gets a 20 ms frame per 20 ms of call and no
/// speaker's queued frames are dropped.
#[test]
fn audio_ticks_delayed_by_a_slow_picture_are_caught_up_not_skipped() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    let _a = join(&mut media, 1, false);
    let mut b = join(&mut media, 2, false);
    media.handle_timeout(t0);
    assert_eq!(heard(&mut b).len(), FRAME_SAMPLES);
    // Five frames arrive from A while the engine is busy for 100 ms.
    for n in 0..5 {
        media.handle_input(EngineInput::Audio {
            participant: 1,
            pcm: tone(440.0, n * FRAME_SAMPLES),
        });
    }
    media.handle_timeout(t0 + Duration::from_millis(100));
    let mix = heard(&mut b);
    assert_eq!(mix.len(), 5 * FRAME_SAMPLES, "one frame per 20 ms tick");
    assert!(
        mixer::speakers::level_db(&mix) > -20.0,
        "B hears all of A's frames"
    );
    assert_eq!(media.poll_timeout(), t0 + AUDIO_TICK * 6);
    // Much further behind than the queues reach: at most a queue's worth, then from now.
    let late = t0 + Duration::from_secs(2);
    media.handle_timeout(late);
    assert_eq!(heard(&mut b).len(), AUDIO_QUEUE * FRAME_SAMPLES);
    assert!(media.poll_timeout() > late);
}

#[test]
fn synthetic_participants_fill_the_layout_and_the_first_frame_is_a_keyframe() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    add_synthetics(&mut media, 3);
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
            _ => None,
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
    add_synthetics(&mut media, 9);
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
            _ => None,
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
    media.add_synthetic(100, "Synthetic".into(), 0, 1, Arc::default());
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

#[test]
fn a_muted_participant_is_left_out_of_the_mix_until_unmuted() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    let _a = join(&mut media, 1, false);
    let mut b = join(&mut media, 2, false);
    let mut n = 0;
    // What B hears while A speaks `frames` frames (B's task reads as the mix comes).
    let mut speak = |media: &mut MeetingMedia, b: &mut Feed, frames: usize| {
        let mut heard_by_b = Vec::new();
        for _ in 0..frames {
            media.handle_input(EngineInput::Audio {
                participant: 1,
                pcm: tone(440.0, n * FRAME_SAMPLES),
            });
            media.audio_tick(t0 + AUDIO_TICK * n as u32);
            heard_by_b.extend(heard(b));
            n += 1;
        }
        heard_by_b
    };
    media.handle_input(EngineInput::Mute {
        participant: 1,
        muted: true,
    });
    let muted = speak(&mut media, &mut b, 10);
    assert_eq!(muted.len(), 10 * FRAME_SAMPLES);
    assert!(muted.iter().all(|s| *s == 0), "muted tone absent");
    assert!(media.ranking.dominant().is_none_or(|d| d.0 != 1));
    media.handle_input(EngineInput::Mute {
        participant: 1,
        muted: false,
    });
    let unmuted = speak(&mut media, &mut b, 10);
    assert!(
        mixer::speakers::level_db(&unmuted) > -20.0,
        "B hears A again"
    );
}

#[test]
fn set_layout_gives_the_viewer_its_new_layout_with_a_keyframe() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    add_synthetics(&mut media, 3);
    let mut viewer = join(&mut media, 1, true);
    let mut now = t0;
    for _ in 0..10 {
        media.handle_timeout(now);
        now = media.poll_timeout();
    }
    let before = media.participants[&1].layout.clone().unwrap();
    assert!(before.tiles.len() > 1, "{before:?}");
    drain(&mut viewer);
    media.handle_input(EngineInput::SetLayout {
        participant: 1,
        mode: mixer::LayoutMode::Speaker,
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
            _ => None,
        })
        .last()
        .expect("a picture of the new layout");
    assert!(newest.keyframe, "the new layout starts with a keyframe");
}

#[test]
fn large_plus_7_layout_renders_the_speaker_large_with_its_own_encoder() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    add_synthetics(&mut media, 4);
    let mut grid_viewer = join(&mut media, 1, true);
    let mut speaker_viewer = join(&mut media, 2, true);
    media.handle_input(EngineInput::SetLayout {
        participant: 2,
        mode: mixer::LayoutMode::LargePlus7,
    });
    let mut now = t0;
    for _ in 0..10 {
        media.handle_timeout(now);
        now = media.poll_timeout();
    }
    let grid = media.participants[&1].layout.clone().unwrap();
    let large = media.participants[&2].layout.clone().unwrap();
    assert_eq!(grid.kind, LayoutKind::Grid3x3, "{grid:?}");
    assert_eq!(large.kind, LayoutKind::LargePlus7, "{large:?}");
    assert_eq!(large.tiles.len(), 8);
    // Four synthetic and the other room: five shown, the large tile filled.
    assert_eq!(large.tiles.iter().flatten().count(), 5);
    assert!(large.tiles[0].is_some_and(|id| id != 2));
    let large_encoder = media.participants[&2].encoder.expect("an encoder");
    assert_eq!(
        media.encoders[&large_encoder].grid.kind(),
        LayoutKind::LargePlus7
    );
    // Both viewers get decodable pictures of their own layouts.
    for feed in [&mut grid_viewer, &mut speaker_viewer] {
        let mut decoder = H264Decoder::new().unwrap();
        let decoded = drain(feed)
            .into_iter()
            .filter_map(|f| match f {
                CallFeed::Video { frame, .. } => decoder.decode(&frame.data).ok().flatten(),
                _ => None,
            })
            .count();
        assert!(decoded > 0);
    }
}

pub(super) fn join_hd(media: &mut MeetingMedia, id: u64) -> Feed {
    let (tx, rx) = feed::channel();
    media.handle_input(EngineInput::Join {
        participant: id,
        display_name: format!("Room {id}"),
        feed: Some(tx),
        video_format: Some(VideoFormat::unlimited((1280, 720))),
    });
    rx
}

fn native_layer(media: &MeetingMedia, id: u64) -> Option<usize> {
    media.participants[&id].ingest.as_ref()?.current()
}

#[test]
fn natives_are_decoded_at_the_layer_that_fits_their_tile_once_for_all_viewers() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    add_synthetics(&mut media, 8);
    let mut a = join_hd(&mut media, 1);
    let mut b = join(&mut media, 2, true);
    let mut now = t0;
    let ticks = 8u32;
    for _ in 0..ticks {
        media.video_tick(now).unwrap();
        now += Duration::from_millis(100);
    }
    // 3x3 of 1280x720: tiles of about 426x240 -> the 640x360 encoding, never 1280x720.
    for i in 0..8u64 {
        assert_eq!(native_layer(&media, 100 + i), Some(1), "synthetic {i}");
        let stats = media.ingest_stats(100 + i).unwrap();
        assert_eq!(stats.errors, 0);
        // Two viewers, one decode per published picture (15 fps publishers, 10 fps ticks here).
        assert!(stats.decoded <= u64::from(ticks), "{stats:?}");
        assert!(stats.decoded >= 1);
    }
    let pictures = |feed: &mut Feed| {
        drain(feed)
            .into_iter()
            .filter(|f| matches!(f, CallFeed::Video { .. }))
            .count()
    };
    assert!(pictures(&mut a) > 0 && pictures(&mut b) > 0);
}

#[test]
fn full_screen_gets_full_resolution_after_its_keyframe_and_hidden_natives_are_not_decoded() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    add_synthetics(&mut media, 3);
    let mut viewer = join_hd(&mut media, 1);
    let mut now = t0;
    // Synthetic 0 talks first (turns of 4 s), so it is the one shown full screen.
    for _ in 0..50 {
        media.audio_tick(now);
        now += AUDIO_TICK;
    }
    media.video_tick(now).unwrap();
    // Three others in a 2x2 of 1280x720: 640x360 tiles.
    assert_eq!(native_layer(&media, 100), Some(1));
    media.handle_input(EngineInput::SetLayout {
        participant: 1,
        mode: mixer::LayoutMode::Speaker,
    });
    now += Duration::from_millis(100);
    media.video_tick(now).unwrap();
    now += Duration::from_millis(100);
    media.video_tick(now).unwrap();
    assert_eq!(native_layer(&media, 100), Some(2), "full screen: 1280x720");
    assert_eq!(
        native_layer(&media, 101),
        None,
        "shown nowhere: not decoded"
    );
    assert_eq!(native_layer(&media, 102), None);
    let shown = media.participants[&100].video.as_ref().unwrap().0.clone();
    assert_eq!((shown.width(), shown.height()), (1280, 720));
    assert_eq!(media.ingest_stats(100).unwrap().errors, 0);
    // The viewer's encoder follows it to the new picture (P-frames carry on: encoders follow
    // their viewers), so only the stream's start is a keyframe; every picture decodes.
    let mut decoder = H264Decoder::new().unwrap();
    let mut keyframes = 0;
    for f in drain(&mut viewer) {
        if let CallFeed::Video { frame, .. } = f {
            keyframes += usize::from(frame.keyframe);
            decoder
                .decode(&frame.data)
                .expect("the stream decodes across the switch");
        }
    }
    assert!(keyframes >= 1, "the stream starts with a keyframe");
}

#[test]
fn external_natives_get_layer_subscriptions_and_keyframe_requests() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    media.handle_input(EngineInput::JoinNative {
        participant: 50,
        display_name: "Native".into(),
        stream: NativeStream {
            layers: mixer::simulcast::LADDER.to_vec(),
            fps: 30,
            temporal_layers: 3,
        },
    });
    let _viewer = join_hd(&mut media, 1);
    media.video_tick(t0).unwrap();
    // Alone in the viewer's layout: full screen, the 1280x720 encoding, keyframe asked for.
    assert_eq!(
        media.poll_publisher_request(),
        Some(PublisherRequest {
            participant: 50,
            layers: vec![2],
            keyframe: Some(2),
        })
    );
    assert_eq!(media.poll_publisher_request(), None);
    media.video_tick(t0 + Duration::from_millis(100)).unwrap();
    assert_eq!(
        media.poll_publisher_request(),
        None,
        "not again within the retry time"
    );
}

#[test]
fn viewers_coming_and_going_keep_one_stream_without_new_encoders_or_keyframes() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    // Eight synthetic participants, as in the demo: the ninth tile shows the first room system
    // other than the viewer, so every arrival and departure changes what the others see.
    add_synthetics(&mut media, 8);
    let mut feeds: BTreeMap<u64, Feed> = (201..=206)
        .map(|id| (id, join(&mut media, id, true)))
        .collect();
    let mut now = t0;
    while now < t0 + Duration::from_secs(2) {
        media.handle_timeout(now);
        now = media.poll_timeout();
    }
    let video = |f: &mut Feed| -> Option<Arc<EncodedFrame>> {
        drain(f).into_iter().rev().find_map(|x| match x {
            CallFeed::Video { frame, .. } => Some(frame),
            _ => None,
        })
    };
    for f in feeds.values_mut() {
        drain(f);
    }
    assert_eq!(
        media.encoders.len(),
        2,
        "one picture for 202-206, one for 201"
    );
    let stream_of = |media: &MeetingMedia, id: u64| media.participants[&id].encoder.unwrap();
    let main = stream_of(&media, 203);

    // Room systems leave one by one; each time the ninth tile changes for everyone else.
    for leaving in 201..=203u64 {
        media.handle_input(EngineInput::Leave {
            participant: leaving,
        });
        feeds.remove(&leaving);
        now += Duration::from_millis(100);
        media.video_tick(now).unwrap();
        let next = leaving + 1;
        for (&viewer, feed) in feeds.iter_mut().filter(|(&v, _)| v > next) {
            let key = media.participants[&viewer].layout.clone().unwrap();
            assert!(key.tiles.contains(&Some(next)), "{viewer} sees {next} now");
            assert_eq!(
                stream_of(&media, viewer),
                main,
                "{viewer} stays on its stream"
            );
            let frame = video(feed).unwrap();
            assert!(
                !frame.keyframe,
                "a changed tile needs no keyframe for {viewer}"
            );
        }
        assert!(
            media.encoders.len() <= 2,
            "no encoder per change: {} after {leaving} left",
            media.encoders.len()
        );
    }
}

/// Whether each feed was last told its picture is shown (`None`: told nothing).
fn last_shown(feed: &mut Feed) -> Option<bool> {
    drain(feed)
        .into_iter()
        .filter_map(|f| match f {
            CallFeed::Shown(shown) => Some(shown),
            _ => None,
        })
        .last()
}

#[test]
fn silent_participants_get_tiles_in_join_order_and_hidden_calls_are_told() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    // Twelve room systems; later arrivals have *smaller* ids, so id order and join order differ.
    let ids: Vec<u64> = (0..12).map(|i| 50 - i).collect();
    let mut feeds: Vec<Feed> = ids.iter().map(|&id| join(&mut media, id, true)).collect();
    let mut now = t0;
    while now < t0 + Duration::from_millis(300) {
        media.handle_timeout(now);
        now = media.poll_timeout();
    }
    // The last to join sees the first nine.
    let key = media.participants[&ids[11]].layout.clone().unwrap();
    let tiles: Vec<u64> = key.tiles.iter().flatten().copied().collect();
    assert_eq!(tiles, ids[..9].to_vec(), "join order, not id order");
    // The first ten are in someone's layout; the last two in nobody's, and their calls know.
    for (i, feed) in feeds.iter_mut().enumerate() {
        let told = last_shown(feed);
        if i < 10 {
            assert_eq!(told, None, "participant {i} stays shown");
        } else {
            assert_eq!(told, Some(false), "participant {i} is hidden");
        }
    }
    // The last one speaks: it gets a tile, and its call is told to decode again.
    let talker = ids[11];
    let mut n = 0;
    while now < t0 + Duration::from_millis(1500) {
        if now >= media.next_audio {
            media.handle_input(EngineInput::Audio {
                participant: talker,
                pcm: tone(300.0, n * FRAME_SAMPLES),
            });
            n += 1;
        }
        media.handle_timeout(now);
        now = media.poll_timeout();
    }
    assert_eq!(last_shown(&mut feeds[11]), Some(true));
    let key = media.participants[&ids[0]].layout.clone().unwrap();
    assert!(key.tiles.contains(&Some(talker)));
    // Someone else dropped out of every layout to make room.
    let hidden: Vec<Option<bool>> = feeds[..11].iter_mut().map(last_shown).collect();
    assert_eq!(
        hidden.iter().filter(|h| **h == Some(false)).count(),
        1,
        "{hidden:?}"
    );
}

#[test]
fn encoders_are_released_once_the_last_viewer_leaves() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    add_synthetics(&mut media, 2);
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

#[test]
fn a_stopped_engine_takes_its_encoders_out_of_the_gauge() {
    let metrics = crate::metrics::Metrics::new().unwrap();
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, Some(metrics.clone()));
    media.add_synthetic(100, "Synthetic 0".into(), 0, 1, Arc::default());
    let _a = join(&mut media, 1, true);
    let _b = join(&mut media, 2, true);
    let mut now = t0;
    for _ in 0..5 {
        media.handle_timeout(now);
        now = media.poll_timeout();
    }
    let live = media.encoder_count();
    assert!(live >= 1);
    assert_eq!(metrics.layout_encoders.get(), live as i64);
    drop(media);
    assert_eq!(metrics.layout_encoders.get(), 0, "nothing left behind");
}
