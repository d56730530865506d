// Tests pick an arbitrary origin for their virtual clock.
#![allow(clippy::disallowed_methods)]

use mixer::codec::h264::{EncodedFrame, H264Decoder};
use mixer::frame::PlaneKind;

use super::*;
use crate::media::engine::FeedReceiver;

fn lobby() -> Slate {
    Slate::Lobby {
        meeting: "Demo Organizer's meeting".into(),
        detail: "Acme - conference 1177958860".into(),
    }
}

fn entry(retry: bool) -> Slate {
    Slate::EntryQueue {
        tenant: "Acme".into(),
        retry,
    }
}

fn watch(
    studio: &mut SlateStudio,
    now: Instant,
    viewer: u64,
    slate: Slate,
    size: (u32, u32),
) -> FeedReceiver {
    watch_as(studio, now, viewer, slate, VideoFormat::unlimited(size))
}

fn watch_as(
    studio: &mut SlateStudio,
    now: Instant,
    viewer: u64,
    slate: Slate,
    format: VideoFormat,
) -> FeedReceiver {
    let (feed, rx) = crate::media::engine::feed::channel();
    studio.handle_input(
        now,
        SlateInput::Watch {
            viewer: CallId(viewer),
            slate,
            format,
            feed,
        },
    );
    rx
}

fn frames(rx: &mut FeedReceiver) -> Vec<Arc<EncodedFrame>> {
    let mut out = Vec::new();
    while let Some(feed) = rx.try_recv() {
        if let CallFeed::Video { frame, .. } = feed {
            out.push(frame);
        }
    }
    out
}

/// Runs the studio's frame ticks up to `until`; returns the time reached.
fn run(studio: &mut SlateStudio, mut now: Instant, until: Instant) -> Instant {
    while let Some(at) = studio.poll_timeout() {
        if at > until {
            break;
        }
        now = at;
        studio.handle_timeout(now);
    }
    now
}

#[test]
fn callers_waiting_on_one_slate_share_one_encoder_and_start_on_a_keyframe() {
    let t0 = Instant::now();
    let mut studio = SlateStudio::new(SlateConfig::default(), t0);
    assert_eq!(
        studio.poll_timeout(),
        None,
        "nothing to do with nobody watching"
    );
    let mut a = watch(&mut studio, t0, 1, lobby(), (1280, 720));
    let mut b = watch(&mut studio, t0, 2, lobby(), (1280, 720));
    run(&mut studio, t0, t0 + Duration::from_secs(1));
    let (fa, fb) = (frames(&mut a), frames(&mut b));
    assert_eq!(studio.streams(), 1);
    assert_eq!(studio.stats().rendered, 1);
    assert!(fa.len() >= 4 && fa.len() <= 6, "about 5 fps: {}", fa.len());
    assert_eq!(fa.len(), fb.len());
    assert!(
        fa.iter().zip(&fb).all(|(x, y)| Arc::ptr_eq(x, y)),
        "the same access units"
    );
    assert!(fa[0].keyframe, "starts with an IDR");

    // The access units decode to the slate: navy background, white text in the centre band.
    let mut decoder = H264Decoder::new().unwrap();
    let mut last = None;
    for f in &fa {
        if let Some(picture) = decoder.decode(&f.data).unwrap() {
            last = Some(picture);
        }
    }
    let picture = last.expect("decoded");
    assert_eq!((picture.width(), picture.height()), (1280, 720));
    let bg = SlateStyle::default().background;
    let corner = picture.pixel(20, 20);
    assert!(
        corner.y.abs_diff(bg.y) <= 6 && corner.v.abs_diff(bg.v) <= 6,
        "{corner:?} vs {bg:?}"
    );
    let y = picture.plane(PlaneKind::Y);
    let bright_centre = (216..504)
        .flat_map(|row| y.row(row)[128..1152].to_vec())
        .filter(|&p| p > 200)
        .count();
    let bright_edges = (0..150)
        .flat_map(|row| y.row(row).to_vec())
        .filter(|&p| p > 200)
        .count();
    // Unifont's one-pixel strokes at scale 4 (the title) and 2 (details): about 7,500 pixels.
    assert!(
        bright_centre > 5_000,
        "text pixels in the centre: {bright_centre}"
    );
    assert_eq!(bright_edges, 0, "nothing bright above the text");
    // A still picture costs little after the IDR.
    let after: usize = fa[1..].iter().map(|f| f.data.len()).sum();
    assert!(
        after < fa[0].data.len(),
        "P-frames {after} bytes vs IDR {}",
        fa[0].data.len()
    );
}

#[test]
fn distinct_slates_and_sizes_get_their_own_streams_and_idle_ones_go() {
    let t0 = Instant::now();
    let mut studio = SlateStudio::new(SlateConfig::default(), t0);
    let mut a = watch(&mut studio, t0, 1, entry(false), (640, 360));
    let mut b = watch(&mut studio, t0, 2, entry(true), (640, 360));
    let mut c = watch(&mut studio, t0, 3, entry(false), (320, 180));
    let now = run(&mut studio, t0, t0 + Duration::from_millis(500));
    assert_eq!(studio.streams(), 3);
    let (fa, fb, fc) = (frames(&mut a), frames(&mut b), frames(&mut c));
    assert!(!fa.is_empty() && !fb.is_empty() && !fc.is_empty());
    assert!(!Arc::ptr_eq(&fa[0], &fb[0]) && !Arc::ptr_eq(&fa[0], &fc[0]));

    // The retry caller moves on to the plain entry slate: it joins stream a.
    let mut b = watch(&mut studio, now, 2, entry(false), (640, 360));
    let now = run(&mut studio, now, now + Duration::from_millis(400));
    let (fa, fb) = (frames(&mut a), frames(&mut b));
    assert!(Arc::ptr_eq(fa.last().unwrap(), fb.last().unwrap()));
    frames(&mut c);
    studio.handle_input(now, SlateInput::Unwatch { viewer: CallId(3) });
    let now = run(&mut studio, now, now + IDLE_STREAM + Duration::from_secs(1));
    assert_eq!(studio.streams(), 1, "only the watched stream is kept");
    assert!(
        frames(&mut c).is_empty(),
        "an unwatched viewer gets nothing"
    );
    studio.handle_input(now, SlateInput::Unwatch { viewer: CallId(1) });
    studio.handle_input(now, SlateInput::Unwatch { viewer: CallId(2) });
    assert_eq!(studio.poll_timeout(), None);
}

#[test]
fn keyframes_come_periodically_and_on_request_but_not_faster_than_the_gap() {
    let t0 = Instant::now();
    let mut studio = SlateStudio::new(SlateConfig::default(), t0);
    let mut a = watch(&mut studio, t0, 1, lobby(), (320, 180));
    // The viewer's task reads its feed (bounded) at least every second.
    let mut now = t0;
    let mut got = Vec::new();
    for until in (1..=6)
        .map(Duration::from_secs)
        .chain([Duration::from_millis(6100)])
    {
        now = run(&mut studio, now, t0 + until);
        got.extend(frames(&mut a));
    }
    let keyframes = got.iter().filter(|f| f.keyframe).count();
    // At 0, 2, 4 and 6 s.
    assert_eq!(keyframes, 4);

    // A PLI right after a keyframe waits for the gap; then one IDR, not one per request.
    for _ in 0..3 {
        studio.handle_input(now, SlateInput::KeyframeRequest { viewer: CallId(1) });
    }
    let later = run(&mut studio, now, now + Duration::from_millis(1500));
    let got = frames(&mut a);
    let keyframes: Vec<usize> = got
        .iter()
        .enumerate()
        .filter(|(_, f)| f.keyframe)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(keyframes.len(), 1, "{keyframes:?}");
    assert!(
        keyframes[0] >= 3,
        "not before the gap: frame {}",
        keyframes[0]
    );
    // A new viewer also gets a keyframe soon.
    let mut b = watch(&mut studio, later, 2, lobby(), (320, 180));
    run(
        &mut studio,
        later,
        later + KEYFRAME_GAP + Duration::from_millis(250),
    );
    assert!(frames(&mut b).iter().any(|f| f.keyframe));
}

#[test]
fn a_slate_that_cannot_be_encoded_is_refused_without_a_viewer_left_behind() {
    let t0 = Instant::now();
    let mut studio = SlateStudio::new(SlateConfig::default(), t0);
    let _rx = watch(&mut studio, t0, 1, lobby(), (8, 8));
    assert_eq!(studio.streams(), 0);
    assert_eq!(studio.poll_timeout(), None);
}

#[test]
fn slate_texts_say_what_to_do() {
    assert_eq!(
        slate_text(&entry(false)).title,
        "Enter the conference ID followed by #"
    );
    let retry = slate_text(&entry(true));
    assert!(retry.title.contains("not recognised"));
    assert!(retry.lines.iter().any(|l| l.contains("followed by #")));
    let lobby = slate_text(&lobby());
    assert_eq!(lobby.title, "Waiting for the host to let you in");
    assert!(lobby.lines.iter().any(|l| l.contains("Demo Organizer")));
}

#[test]
fn a_mode_0_viewer_gets_the_slate_in_packet_sized_slices_on_a_stream_of_its_own() {
    let t0 = Instant::now();
    let mut studio = SlateStudio::new(SlateConfig::default(), t0);
    let max = crate::media::video::MAX_VIDEO_PAYLOAD;
    let mode0 = VideoFormat {
        size: (1280, 720),
        max_nal_bytes: Some(max),
    };
    let mut one = watch(&mut studio, t0, 1, lobby(), (1280, 720));
    let mut zero = watch_as(&mut studio, t0, 2, lobby(), mode0);
    run(&mut studio, t0, t0 + Duration::from_millis(500));
    assert_eq!(
        studio.streams(),
        2,
        "same slate and size, different slicing"
    );
    let biggest =
        |frames: &[Arc<EncodedFrame>]| frames.iter().map(|f| f.largest_nal()).max().unwrap_or(0);
    let (f1, f0) = (frames(&mut one), frames(&mut zero));
    assert!(f0[0].keyframe && f1[0].keyframe);
    assert!(biggest(&f1) > max, "mode 1 keeps one slice per picture");
    assert!(
        biggest(&f0) <= max,
        "every NAL fits one packet: {}",
        biggest(&f0)
    );
    let mut decoder = H264Decoder::new().unwrap();
    let picture = decoder.decode(&f0[0].data).unwrap().expect("decodable");
    assert_eq!((picture.width(), picture.height()), (1280, 720));
}
