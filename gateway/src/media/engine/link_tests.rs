//! A Tessera link in the engine on a virtual clock: it is forwarded each local participant's own
//! stream (never the far node's, never a layout), and the far node's streams named by the
//! roster become tiles of their own in a VTC's layout.

// One arbitrary origin; after it, time moves only by what each test adds.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::time::Instant;

use mixer::codec::h264::{EncoderConfig, H264Encoder};
use mixer::frame::Yuv;
use rtp_session::call::RemoteStream;

use super::cascade_tests::run;
use super::link::REMOTE_BASE;
use super::tests::{add_synthetics, join, small_config, Feed};
use super::*;

fn stream(ssrc: u32, name: &str) -> RemoteStream {
    RemoteStream {
        ssrc,
        id: format!("p{ssrc}"),
        name: name.into(),
        speaking: false,
    }
}

/// A far node's room system's encoder: 320x180, 10 fps.
fn far_encoder() -> H264Encoder {
    H264Encoder::new(EncoderConfig {
        width: 320,
        height: 180,
        fps: 10.0,
        bitrate_bps: 300_000,
        ..EncoderConfig::hd720()
    })
    .unwrap()
}

/// The sources of the forwarded units and whether any layout picture came.
fn forwarded(feed: &mut Feed) -> (BTreeSet<MediaParticipant>, bool) {
    let mut sources = BTreeSet::new();
    let mut layout = false;
    while let Some(item) = feed.try_recv() {
        match item {
            CallFeed::Forward { source, .. } => {
                sources.insert(source);
            }
            CallFeed::Video { .. } => layout = true,
            _ => {}
        }
    }
    (sources, layout)
}

/// A Tessera link (participant 1) in a meeting with three synthetic participants and a VTC (2);
/// the far node has two participants on SSRCs 11 and 12.
fn meeting(t0: Instant) -> (MeetingMedia, Feed, Feed) {
    let mut media = MeetingMedia::new(small_config(), t0, None);
    add_synthetics(&mut media, 3);
    let vtc = join(&mut media, 2, true);
    let link = join(&mut media, 1, true);
    media.handle_input(EngineInput::LinkViewer {
        participant: 1,
        hub: false,
    });
    media.handle_input(EngineInput::LinkRoster {
        participant: 1,
        streams: vec![stream(11, "Ana"), stream(12, "Boardroom")],
    });
    (media, link, vtc)
}

#[test]
fn a_link_is_forwarded_each_local_participant_and_never_the_far_nodes_own() {
    let t0 = Instant::now();
    let (mut media, mut link, _vtc) = meeting(t0);
    run(&mut media, t0, 40);
    let (sources, layout) = forwarded(&mut link);
    assert!(!layout, "a Tessera link gets no composited picture");
    assert!(
        (100..103).all(|s| sources.contains(&s)),
        "each synthetic participant on its own: {sources:?}"
    );
    assert!(
        sources.iter().all(|s| *s < REMOTE_BASE && *s != 1),
        "never the far node's participants nor the link itself: {sources:?}"
    );
    let remotes: Vec<MediaParticipant> = media.link_remotes(1);
    assert_eq!(remotes.len(), 2);
    assert_eq!(media.participants[&remotes[0]].name, "Ana");
}

#[test]
fn the_far_nodes_streams_are_tiles_of_their_own_and_go_with_their_roster_entry_or_link() {
    let t0 = Instant::now();
    let (mut media, _link, _vtc) = meeting(t0);
    let now = run(&mut media, t0, 5);
    let remotes = media.link_remotes(1);
    let key = media.participants[&2]
        .layout
        .clone()
        .expect("the VTC has a layout");
    for r in &remotes {
        assert!(key.tiles.contains(&Some(*r)), "{r} has a tile: {key:?}");
    }
    assert!(
        !key.tiles.contains(&Some(1)),
        "the link itself takes no tile: {key:?}"
    );

    // A picture on SSRC 11 is Ana's.
    let mut encoder = far_encoder();
    let colour = Yuv::from_rgb(200, 40, 40);
    let picture = mixer::frame::I420Frame::solid(320, 180, colour).unwrap();
    let unit = encoder.encode(&picture, true).unwrap();
    media.handle_input(EngineInput::LinkVideo {
        participant: 1,
        ssrc: 11,
        timestamp: 0,
        access_unit: unit.data.clone(),
    });
    let (frame, _) = media.participants[&remotes[0]]
        .video
        .clone()
        .expect("decoded as Ana's picture");
    let seen = frame.pixel(160, 90);
    assert!(seen.y.abs_diff(colour.y) < 16, "{seen:?} vs {colour:?}");
    assert!(media.participants[&remotes[1]].video.is_none());
    // An SSRC the roster does not name is nobody's.
    media.handle_input(EngineInput::LinkVideo {
        participant: 1,
        ssrc: 99,
        timestamp: 0,
        access_unit: unit.data,
    });
    assert_eq!(media.len(), 3 + 2 + 2);

    // Ana left the far node: her tile goes; the link leaving takes the rest.
    media.handle_input(EngineInput::LinkRoster {
        participant: 1,
        streams: vec![stream(12, "Boardroom")],
    });
    assert_eq!(media.link_remotes(1), [remotes[1]]);
    assert!(!media.participants.contains_key(&remotes[0]));
    run(&mut media, now, 3);
    media.handle_input(EngineInput::Leave { participant: 1 });
    assert!(!media.participants.contains_key(&remotes[1]));
    assert_eq!(media.len(), 3 + 1);
}

/// At a meeting's home two cluster links (hub links 1 and 3) each bring one far participant:
/// each link is forwarded the other's, never its own back; a plain Tessera link is not.
#[test]
fn hub_links_are_forwarded_each_others_far_participants_never_their_own() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    add_synthetics(&mut media, 1);
    let mut feeds = Vec::new();
    for (link, ssrc, hub) in [(1, 11, true), (3, 21, true), (5, 31, false)] {
        feeds.push(join(&mut media, link, true));
        media.handle_input(EngineInput::LinkViewer {
            participant: link,
            hub,
        });
        media.handle_input(EngineInput::LinkRoster {
            participant: link,
            streams: vec![stream(ssrc, &format!("far {ssrc}"))],
        });
    }
    let mut encoder = far_encoder();
    let picture = mixer::frame::I420Frame::solid(320, 180, Yuv::from_rgb(40, 40, 200)).unwrap();
    let mut now = t0;
    for _ in 0..20 {
        now = run(&mut media, now, 1);
        for (link, ssrc) in [(1, 11), (3, 21), (5, 31)] {
            let unit = encoder.encode(&picture, true).unwrap();
            media.handle_input(EngineInput::LinkVideo {
                participant: link,
                ssrc,
                timestamp: 0,
                access_unit: unit.data,
            });
        }
    }
    let far = |link, ssrc| rtp_session::forward::remote_source(link, ssrc);
    let (to_1, _) = forwarded(&mut feeds[0]);
    let (to_3, _) = forwarded(&mut feeds[1]);
    let (to_5, _) = forwarded(&mut feeds[2]);
    assert!(
        to_1.contains(&far(3, 21)),
        "hub 1 gets hub 3's far participant: {to_1:?}"
    );
    assert!(to_3.contains(&far(1, 11)), "hub 3 gets hub 1's: {to_3:?}");
    assert!(
        !to_1.contains(&far(1, 11)) && !to_3.contains(&far(3, 21)),
        "never its own back"
    );
    assert!(
        !to_1.contains(&far(5, 31)) && !to_3.contains(&far(5, 31)),
        "nor a plain link's participants: {to_1:?} {to_3:?}"
    );
    assert!(
        to_5.iter().all(|s| *s < REMOTE_BASE),
        "a plain link gets no far participants at all: {to_5:?}"
    );
}

/// The far node's mix is heard as the speaker its roster names first: that far participant
/// becomes the meeting's dominant speaker here (not the link, which has no tile), and the link
/// is told the current speaker among those it carries only when it changes.
#[test]
fn the_far_mix_speaks_for_the_far_nodes_current_speaker_and_the_link_hears_ours() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    let _vtc = join(&mut media, 2, true);
    let mut link = join(&mut media, 1, true);
    media.handle_input(EngineInput::LinkViewer {
        participant: 1,
        hub: false,
    });
    media.handle_input(EngineInput::LinkRoster {
        participant: 1,
        streams: vec![
            stream(11, "Ana"),
            RemoteStream {
                speaking: true,
                ..stream(12, "Boardroom")
            },
        ],
    });
    // Quiet first (the detector learns the floor), then the far node talks.
    for n in 0..150 {
        let pcm = if n < 50 {
            vec![0; FRAME_SAMPLES]
        } else {
            super::tests::tone(300.0, n * FRAME_SAMPLES)
        };
        media.handle_input(EngineInput::Audio {
            participant: 1,
            pcm,
        });
        media.audio_tick(t0 + AUDIO_TICK * n as u32);
    }
    let boardroom = rtp_session::forward::remote_source(1, 12);
    assert_eq!(media.ranking.dominant().map(|p| p.0), Some(boardroom));
    // The link carries only our own participants: the far speaker is not ours to name.
    let now = run(&mut media, t0 + AUDIO_TICK * 150, 3);
    let told: Vec<Option<MediaParticipant>> = std::iter::from_fn(|| link.try_recv())
        .filter_map(|item| match item {
            CallFeed::Speaker(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(told, [None], "told once, and nobody of ours: {told:?}");
    let _ = now;
}

/// A far node's participant whose stream arrives gets a tile ahead of the local callers who
/// send no video, though it is decoded only once it has one: ten voice-only callers joined
/// first, and the far room system still shows in the VTC's 3x3.
#[test]
fn a_far_participants_stream_wins_a_tile_over_voice_only_callers() {
    let t0 = Instant::now();
    let mut media = MeetingMedia::new(small_config(), t0, None);
    let _vtc = join(&mut media, 2, true);
    let _phones: Vec<Feed> = (10..20).map(|id| join(&mut media, id, false)).collect();
    let _link = join(&mut media, 1, true);
    media.handle_input(EngineInput::LinkViewer {
        participant: 1,
        hub: false,
    });
    media.handle_input(EngineInput::LinkRoster {
        participant: 1,
        streams: vec![stream(11, "Far room")],
    });
    let far = rtp_session::forward::remote_source(1, 11);
    let mut encoder = far_encoder();
    let picture = mixer::frame::I420Frame::solid(320, 180, Yuv::from_rgb(40, 200, 40)).unwrap();
    let mut now = t0;
    for n in 0..20 {
        now = run(&mut media, now, 1);
        let unit = encoder.encode(&picture, n % 10 == 0).unwrap();
        media.handle_input(EngineInput::LinkVideo {
            participant: 1,
            ssrc: 11,
            timestamp: 0,
            access_unit: unit.data,
        });
    }
    run(&mut media, now, 2);
    let key = media.participants[&2]
        .layout
        .clone()
        .expect("the VTC has a layout");
    assert!(
        key.tiles.contains(&Some(far)),
        "the far room system has a tile: {key:?}"
    );
    assert!(
        media.participants[&far].video.is_some(),
        "and is decoded for it"
    );
}
