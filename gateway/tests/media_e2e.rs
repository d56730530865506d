//! The media plane end to end, against peers nobody here wrote: a real `tessera serve` on
//! loopback, calls set up by a small test UA (the `signaling` crate's SIP and SDP types over a
//! UDP socket), and ffmpeg as the far-end room system, through a test relay that owns the media
//! ports of the SDP offer (see `media_e2e/relay.rs`):
//!
//! ```text
//!  ffmpeg sender ──RTP──▶ relay inbound ─┐            ┌──▶ gateway RTP ports (from the 200)
//!  (x264 720p30 + PCMU)                  └─ relay media ports (in the INVITE) ◀──┘ symmetric RTP
//!  ffmpeg receiver ◀──RTP── relay ◀──────── (RTP); RTCP from the gateway is counted here
//! ```
//!
//! The receiver decodes what the gateway sends: every picture is logged (`showinfo`: size and
//! time), one picture a second is saved (PPM) and the audio is written to a WAV, which the tests
//! then check: resolution, frame rate, distinct participants in the tiles, voices heard, and a
//! frequency test for N-1 (each room system sends its own tone and must not hear it back).
//!
//! ffmpeg must be on PATH (`bash .ci/test.sh` installs it); without it these tests fail, never
//! pass silently. The tests run one at a time (each is a few real-time media streams, heavy for
//! a two-core machine); bounds are generous and nothing asserts speed beyond "video flows".

// Real processes on the wall clock: this file waits and polls, which the sans-IO crates may not.
#![allow(clippy::disallowed_methods)]

#[path = "media_e2e/bandwidth.rs"]
mod bandwidth;
#[path = "media_e2e/cascade.rs"]
mod cascade;
#[path = "media_e2e/cascade_dialout.rs"]
mod cascade_dialout;
#[path = "media_e2e/cluster_kamailio.rs"]
mod cluster_kamailio;
#[path = "media_e2e/cluster_media.rs"]
mod cluster_media;
mod common;
#[path = "media_e2e/ffmpeg.rs"]
mod ffmpeg;
#[path = "media_e2e/h323_calls.rs"]
mod h323_calls;
#[path = "media_e2e/relay.rs"]
mod relay;
#[path = "media_e2e/server.rs"]
mod server;
#[path = "media_e2e/tessera_link.rs"]
mod tessera_link;
#[path = "media_e2e/vtc.rs"]
mod vtc;

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::thread::sleep;
use std::time::{Duration, Instant};

use ffmpeg::Picture;
use relay::{Kind, Relay, StreamStats};
use serde_json::Value;
use server::{Server, TENANT};
use sip_testua::Ua;
use vtc::{
    assert_demo_layout_and_n_minus_1, check_video, distinct_colours, grid_3x3, media_counter,
    median_colour, participant, settled_audio, tile_colour, Source, Vtc,
};

/// The demo meeting (`tessera serve --demo`: 8 synthetic participants).
const DEMO_MEETING: &str = "1177958860";
/// A meeting without synthetic participants, for the two-VTC test.
const TWO_VTC_MEETING: &str = "3000000";
/// The far end's 720p30 test pattern.
const TESTSRC_720P: &str = "testsrc2=size=1280x720:rate=30";

/// One media test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A server with the demo, and room system `name` in the demo meeting sending the 720p pattern
/// and a 1 kHz tone (`drop_video_permille` of its video lost on the way), its first picture of
/// the layout decoded. The directory holds the receiver's files.
fn demo_call(name: &str, drop_video_permille: u32) -> (Server, tempfile::TempDir, Vtc) {
    let mut server = Server::start(true, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut vtc = Vtc::call(
        &server,
        dir.path(),
        name,
        DEMO_MEETING,
        Source {
            video: TESTSRC_720P,
            tone_hz: 1000,
            drop_video_permille,
        },
    );
    vtc.wait_for_picture(&mut server);
    (server, dir, vtc)
}

/// `(layout pictures the VTC received, pictures of its video the gateway decoded)` now and
/// after each of `rounds` waits of `every` in the demo meeting, checking the server between.
fn sample_media(
    vtc: &Vtc,
    server: &mut Server,
    rounds: usize,
    every: Duration,
    when: &str,
) -> Vec<(usize, u64)> {
    let sample = |server: &Server| {
        (
            vtc.receiver().frames_so_far(),
            media_counter(server, DEMO_MEETING, &vtc.name, "video_rx_frames"),
        )
    };
    let mut samples = vec![sample(server)];
    for _ in 0..rounds {
        sleep(every);
        server.assert_healthy(when);
        samples.push(sample(server));
    }
    samples
}

// ---------------------------------------------------------------------------------------------
// Tests

/// The media issue's first "done when": a VTC (ffmpeg) calling the demo meeting receives 720p
/// H.264 at about 30 fps whose 3x3 tiles show the distinct demo participants, hears their
/// voices, and does not hear its own 1 kHz tone back (N-1); its own video and audio reach the
/// meeting (the participant's media counters grow).
#[test]
fn vtc_sees_demo_participants_in_3x3_720p_and_hears_them_but_not_itself() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let started = Instant::now();
    let name = "ffmpeg-vtc";
    let (mut server, _dir, mut vtc) = demo_call(name, 0);
    sleep(Duration::from_secs(8));
    server.assert_healthy("after 8 s of media");
    let video_rx = media_counter(&server, DEMO_MEETING, name, "video_rx_frames");
    let audio_rx = media_counter(&server, DEMO_MEETING, name, "audio_rx_packets");
    let decoded = vtc.finish_receiving();
    let report = vtc.relay_report();
    vtc.hang_up(&server);
    server.assert_healthy("after the call");

    let video = check_video(name, &decoded, (1280, 720));
    let (colours, level, own_tone) = assert_demo_layout_and_n_minus_1(name, &decoded);
    assert!(
        video_rx > 0 && audio_rx > 0,
        "{name}: its media did not reach the meeting (video_rx_frames {video_rx}, \
         audio_rx_packets {audio_rx}); {report}"
    );
    eprintln!(
        "{video}; tile colours {colours:?}; audio {level:.1} dBFS, own tone {:.2} %; \
         gateway decoded {video_rx} of our pictures, {audio_rx} audio packets; {report}; {:.1} s",
        own_tone * 100.0,
        started.elapsed().as_secs_f64()
    );
}

/// The two-VTC "done when": in a meeting of two room systems and nobody else, each sees the
/// other full-screen (one sends solid red, the other solid blue) and hears the other's tone
/// (700 Hz / 1300 Hz) but not its own.
#[test]
fn two_vtcs_see_and_hear_each_other_but_not_themselves() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let started = Instant::now();
    let mut server = Server::start(false, &[&common::open_meeting(TENANT, TWO_VTC_MEETING)]);
    let dir = tempfile::tempdir().unwrap();
    let red = "color=c=red:size=1280x720:rate=30";
    let blue = "color=c=blue:size=1280x720:rate=30";
    let mut a = Vtc::call(
        &server,
        dir.path(),
        "vtc-red-700hz",
        TWO_VTC_MEETING,
        Source {
            video: red,
            tone_hz: 700,
            drop_video_permille: 0,
        },
    );
    let mut b = Vtc::call(
        &server,
        dir.path(),
        "vtc-blue-1300hz",
        TWO_VTC_MEETING,
        Source {
            video: blue,
            tone_hz: 1300,
            drop_video_permille: 0,
        },
    );
    a.wait_for_picture(&mut server);
    b.wait_for_picture(&mut server);
    // Long enough for both directions to settle after the other joined.
    sleep(Duration::from_secs(8));
    server.assert_healthy("after 8 s of media");
    let (da, db) = (a.finish_receiving(), b.finish_receiving());
    let reports = format!("{}\n{}", a.relay_report(), b.relay_report());
    a.hang_up(&server);
    b.hang_up(&server);
    server.assert_healthy("after the calls");

    let mut summary = Vec::new();
    for (vtc, decoded, own, other, other_colour) in [
        (&a, &da, 700.0, 1300.0, [0u8, 0, 255]),
        (&b, &db, 1300.0, 700.0, [255u8, 0, 0]),
    ] {
        let name = &vtc.name;
        summary.push(check_video(name, decoded, (1280, 720)));
        let picture = decoded.snapshot.as_ref().unwrap_or_else(|| {
            panic!(
                "{name}: no snapshot picture; receiver log:\n{}",
                decoded.log_tail()
            )
        });
        let seen = tile_colour(picture, (0, 0, picture.width, picture.height));
        let close = (0..3).all(|k| seen[k].abs_diff(other_colour[k]) <= 60);
        assert!(
            close,
            "{name}: expected the other room system's picture ({other_colour:?}) full-screen, \
             saw {seen:?}\n{reports}"
        );
        let audio = settled_audio(name, decoded);
        let (theirs, mine) = (
            ffmpeg::tone_share(audio, 8000, other),
            ffmpeg::tone_share(audio, 8000, own),
        );
        assert!(
            theirs > 0.3,
            "{name}: the other's {other} Hz tone is only {:.1} % of what it hears \
             (level {:.1} dBFS)\n{reports}",
            theirs * 100.0,
            ffmpeg::level_db(audio)
        );
        assert!(
            mine < 0.02,
            "{name}: hears its own {own} Hz tone back ({:.1} % of the power): N-1 broken",
            mine * 100.0
        );
        summary.push(format!(
            "{name} sees {seen:?}, hears {other} Hz {:.0} %, own {own} Hz {:.2} %",
            theirs * 100.0,
            mine * 100.0
        ));
    }
    eprintln!(
        "{}\n{reports}\n{:.1} s",
        summary.join("\n"),
        started.elapsed().as_secs_f64()
    );
}

/// The packet-loss "done when": with 5 % of the VTC's video RTP dropped on the way to the
/// gateway for about 14 s, the gateway keeps running, asks for the lost packets with generic
/// NACKs (which the relay answers like a room system's RTP stack: the packets are sent again),
/// keeps receiving the VTC's video whole (its `video_rx_frames`, frames depacketised, keep
/// growing; the demo's nine fill the layout, so the VTC's picture is shown nowhere and not
/// decoded), and the layout the VTC receives keeps updating.
#[test]
fn gateway_nacks_and_keeps_decoding_and_laying_out_under_5_percent_video_loss() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let started = Instant::now();
    let name = "lossy-vtc";
    let (mut server, _dir, mut vtc) = demo_call(name, 50);
    // Every ~3.5 s: the layout received and the gateway's decoding of our video must both move.
    let samples = sample_media(
        &vtc,
        &mut server,
        4,
        Duration::from_millis(3500),
        "during 5 % loss",
    );
    let decoded = vtc.finish_receiving();
    let report = vtc.relay_report();
    vtc.hang_up(&server);
    server.assert_healthy("after the lossy call");

    let video = vtc.relay.stats(Kind::Video);
    let dropped = StreamStats::get(&video.dropped);
    let sent = StreamStats::get(&video.to_gateway);
    assert!(
        dropped * 100 >= (sent + dropped) * 2,
        "the relay dropped only {dropped} of {} packets; {report}",
        sent + dropped
    );
    for pair in samples.windows(2) {
        let ((layout0, rx0), (layout1, rx1)) = (pair[0], pair[1]);
        assert!(
            layout1 > layout0,
            "{name}: the layout froze under loss (pictures received {layout0} -> {layout1}); \
             samples {samples:?}; {report}"
        );
        assert!(
            rx1 > rx0,
            "{name}: the gateway stopped receiving our video under loss (video_rx_frames \
             {rx0} -> {rx1}); samples {samples:?}; {report}\nserver log:\n{}",
            server.log_tail()
        );
    }
    let (nack, pli, fir) = (
        StreamStats::get(&video.nack),
        StreamStats::get(&video.pli),
        StreamStats::get(&video.fir),
    );
    // Both sides offered generic NACK; losses that a retransmission can repair must be NACKed.
    assert!(
        nack > 0,
        "the gateway sent no generic NACK while losing 5 % of its video packets (PLI {pli}, \
         FIR {fir}); {report}"
    );
    let summary = check_video(name, &decoded, (1280, 720));
    eprintln!(
        "{summary}; samples (layout pictures, gateway decoded frames) {samples:?}; {report}; {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Issue 4 item 7, the lobby: a room system (ffmpeg) calling a meeting whose policy puts it in
/// the lobby is answered and receives 720p H.264 showing the lobby slate (navy background,
/// large white text in the centre band) and hears hold music once the spoken prompt ends; when
/// an operator admits it through the admin API, the slate gives way to the meeting's 3x3
/// layout of the distinct demo participants.
#[test]
fn lobby_caller_sees_a_slate_and_hears_hold_music_until_admitted_then_the_layout() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let started = Instant::now();
    // The demo's synthetic participants are same-org: they stay in; the VTC waits.
    let mut server = Server::start(
        true,
        &[&[
            "meeting",
            "set",
            "--tenant",
            TENANT,
            "--conference-id",
            DEMO_MEETING,
            "--who-can-bypass",
            "same-org",
        ]],
    );
    let dir = tempfile::tempdir().unwrap();
    let name = "lobby-vtc";
    let mut vtc = Vtc::call(
        &server,
        dir.path(),
        name,
        DEMO_MEETING,
        Source {
            video: TESTSRC_720P,
            tone_hz: 1000,
            drop_video_permille: 0,
        },
    );
    vtc.wait_for_picture(&mut server);
    let called = Instant::now();

    // It waits in the lobby...
    let view = |server: &Server| -> Value {
        let (status, body) = server
            .api_get(&format!("/api/v1/meetings/{TENANT}/{DEMO_MEETING}"))
            .expect("meeting view");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON")
    };
    let waiting = view(&server)["lobby"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["display_name"] == name).cloned())
        .unwrap_or_else(|| panic!("{name} is not in the lobby: {}", view(&server)));
    let id = match &waiting["id"] {
        Value::String(id) => id.clone(),
        Value::Number(id) => id.to_string(),
        other => panic!("lobby entry id {other}"),
    };

    // ...looking at the slate: at least two snapshots, the newest checked.
    let slate = wait_for_snapshot(&vtc, 2, &mut server);
    let slate_summary = check_slate(name, &slate);
    let slate_frames = vtc.receiver().frames_so_far();
    // Lobby long enough for the prompt (3.5 s) to end and the hold music to play a while.
    while called.elapsed() < Duration::from_secs(9) {
        sleep(Duration::from_millis(200));
    }
    let frames_in_lobby = vtc.receiver().frames_so_far();
    assert!(
        frames_in_lobby > slate_frames,
        "{name}: the slate stopped coming ({slate_frames} -> {frames_in_lobby} pictures)"
    );
    let lobby_audio_ends = started.elapsed();

    // Admitted by an operator: the layout replaces the slate.
    let (status, body) = server
        .api_post(&format!(
            "/api/v1/meetings/{TENANT}/{DEMO_MEETING}/lobby/{id}/admit"
        ))
        .expect("admit");
    assert_eq!(status, 204, "admit: {body}");
    assert!(
        participant(&server, DEMO_MEETING, name).is_some(),
        "{name} is not among the participants after admission"
    );
    let before = vtc.receiver().latest_snapshot().1;
    let layout = wait_for_snapshot(&vtc, before + 4, &mut server);
    let colours: Vec<[u8; 3]> = grid_3x3(&layout)
        .into_iter()
        .map(|t| tile_colour(&layout, t))
        .collect();
    let distinct = distinct_colours(&colours, 40);
    assert!(
        distinct.len() >= 6,
        "{name}: after admission the 3x3 tiles show only {} distinct colours: {colours:?}",
        distinct.len()
    );
    let decoded = vtc.finish_receiving();
    let report = vtc.relay_report();
    vtc.hang_up(&server);
    server.assert_healthy("after the lobby call");

    let wrong: Vec<_> = decoded
        .frames
        .iter()
        .filter(|f| (f.width, f.height) != (1280, 720))
        .take(5)
        .collect();
    assert!(wrong.is_empty(), "{name}: pictures not 1280x720: {wrong:?}");
    // The audio of the lobby after the prompt: the hold music's notes, not silence.
    let rate = decoded.audio_rate as usize;
    assert_eq!(rate, 8000, "{name}: no 8 kHz WAV; {}", decoded.log_tail());
    let (from, to) = (rate * 9 / 2, rate * 7);
    assert!(
        decoded.audio.len() > to,
        "{name}: only {} audio samples",
        decoded.audio.len()
    );
    let held = &decoded.audio[from..to];
    let level = ffmpeg::level_db(held);
    let notes: f64 = [440.0, 523.25, 659.26, 783.99]
        .iter()
        .map(|&f| ffmpeg::tone_share(held, 8000, f))
        .sum();
    assert!(
        level > -40.0 && notes > 0.4,
        "{name}: no hold music 4.5-7 s into the lobby wait: level {level:.1} dBFS, notes {:.0} % \
         of the power; {report}",
        notes * 100.0
    );
    eprintln!(
        "{name}: {slate_summary}; {frames_in_lobby} pictures in the lobby; hold music \
         {level:.1} dBFS ({:.0} % in its notes); after admission tiles {colours:?}; {} pictures \
         in all; lobby phase {:.1} s; {report}; {:.1} s",
        notes * 100.0,
        decoded.frames.len(),
        lobby_audio_ends.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// Issue 4 item 7, the entry queue: a room system that dials only the tenant key is answered
/// and sees the entry-queue slate (the instruction in large text) before it has keyed anything.
#[test]
fn entry_queue_caller_sees_the_enter_conference_id_slate() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let started = Instant::now();
    let mut server = Server::start(true, &[]);
    let dir = tempfile::tempdir().unwrap();
    let name = "entry-queue-vtc";
    // The tenant key alone: the entry queue.
    let mut vtc = Vtc::call(
        &server,
        dir.path(),
        name,
        "",
        Source {
            video: TESTSRC_720P,
            tone_hz: 1000,
            drop_video_permille: 0,
        },
    );
    vtc.wait_for_picture(&mut server);
    let slate = wait_for_snapshot(&vtc, 2, &mut server);
    let summary = check_slate(name, &slate);
    let decoded = vtc.finish_receiving();
    vtc.hang_up(&server);
    server.assert_healthy("after the entry-queue call");
    assert!(
        decoded
            .frames
            .iter()
            .all(|f| (f.width, f.height) == (1280, 720)),
        "{name}: pictures not all 1280x720"
    );
    eprintln!(
        "{name}: {summary}; {} pictures; {:.1} s",
        decoded.frames.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Waits (bounded) until the receiver has written `count` snapshots; returns the newest complete
/// one.
fn wait_for_snapshot(vtc: &Vtc, count: usize, server: &mut Server) -> ffmpeg::Picture {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let (Some(picture), n) = vtc.receiver().latest_snapshot() {
            if n >= count {
                return picture;
            }
        }
        server.assert_healthy(&format!("{} waiting for snapshots", vtc.name));
        assert!(
            Instant::now() < deadline,
            "{}: fewer than {count} snapshots after 30 s",
            vtc.name
        );
        sleep(Duration::from_millis(200));
    }
}

/// Checks a decoded picture is a slate (`mixer::slate`'s look): its corners are the navy
/// background (RGB 16, 40, 80), and bright white text fills part of the centre band and nothing
/// of the top and bottom fifths. Returns a summary.
fn check_slate(name: &str, picture: &ffmpeg::Picture) -> String {
    assert_eq!((picture.width, picture.height), (1280, 720), "{name}");
    let navy = [16u8, 40, 80];
    for (x, y) in [(20, 20), (1260, 20), (20, 700), (1260, 700), (640, 60)] {
        let c = picture.pixel(x, y);
        assert!(
            (0..3).all(|k| c[k].abs_diff(navy[k]) <= 24),
            "{name}: ({x}, {y}) is {c:?}, not the slate's navy {navy:?}"
        );
    }
    let bright = |y0: u32, y1: u32| {
        (y0..y1)
            .flat_map(|y| (0..picture.width).map(move |x| (x, y)))
            .filter(|&(x, y)| picture.pixel(x, y).iter().all(|&c| c > 200))
            .count()
    };
    let centre = bright(216, 504);
    let outside = bright(0, 144) + bright(576, 720);
    // Unifont's one-pixel strokes (scaled 4x in the title, 2x in the details) light about
    // 10,000 pixels of a 720p slate; the old 8x8 font's heavier ones lit more.
    assert!(
        centre > 5_000,
        "{name}: only {centre} bright text pixels in the centre band"
    );
    assert!(
        outside < 50,
        "{name}: {outside} bright pixels outside the text band"
    );
    format!("slate: navy corners, {centre} text pixels in the centre band")
}

/// A sample of the server's `/metrics` (0 when absent).
fn metric(server: &Server, sample: &str) -> u64 {
    let (status, body) = server.api_get("/metrics").expect("GET /metrics");
    assert_eq!(status, 200, "{body}");
    common::metric_value(&body, sample)
}

/// Sends RTP that looks like a room system's (its payload types, an IDR NAL header on the
/// video, sequence numbers running) at `targets` from `from` until `stop`; returns how many.
fn inject_rtp(from: &str, targets: [(SocketAddr, u8); 2], stop: Instant) -> u64 {
    let socket = std::net::UdpSocket::bind(from).expect("bind the injector");
    let mut sent = 0u64;
    let mut sequence = 0u16;
    while Instant::now() < stop {
        for (to, payload_type) in targets {
            let mut packet = vec![0x80, 0x80 | payload_type];
            packet.extend_from_slice(&sequence.to_be_bytes());
            packet.extend_from_slice(&(u32::from(sequence) * 3000).to_be_bytes());
            packet.extend_from_slice(&0x0BAD_5EEDu32.to_be_bytes());
            packet.push(0x65);
            packet.extend(std::iter::repeat_n(0xA5, 600));
            if socket.send_to(&packet, to).is_ok() {
                sent += 1;
            }
        }
        sequence = sequence.wrapping_add(1);
        sleep(Duration::from_millis(10));
    }
    sent
}

/// Issue 15, safe latching (RTP Bleed): while a room system's call is live, RTP injected at the
/// gateway's media ports from another port of its own address and from another address changes
/// nothing: its received layout and the gateway's decoding of its video go on, and every
/// injected packet is counted in `tessera_media_dropped_total{what="foreign"}`.
#[test]
fn rtp_injected_from_another_port_and_another_address_is_dropped_and_counted() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let started = Instant::now();
    let name = "attacked-vtc";
    let (mut server, _dir, mut vtc) = demo_call(name, 0);
    let lost_before = metric(&server, "tessera_rtp_lost_total ");
    let targets = [
        (vtc.answer.audio, 0),
        (vtc.answer.video, vtc.answer.video_pt),
    ];
    let stop = Instant::now() + Duration::from_secs(8);
    // 127.0.0.2 is another address of the loopback /8, as a second host would be.
    let injectors: Vec<_> = ["127.0.0.1:0", "127.0.0.2:0"]
        .into_iter()
        .map(|from| std::thread::spawn(move || inject_rtp(from, targets, stop)))
        .collect();
    let samples = sample_media(
        &vtc,
        &mut server,
        4,
        Duration::from_secs(2),
        "under injection",
    );
    let injected: u64 = injectors
        .into_iter()
        .map(|t| t.join().expect("injector"))
        .sum();
    sleep(Duration::from_millis(500));
    let foreign = metric(&server, "tessera_media_dropped_total{what=\"foreign\"} ");
    let lost = metric(&server, "tessera_rtp_lost_total ") - lost_before;
    let decoded = vtc.finish_receiving();
    let report = vtc.relay_report();
    vtc.hang_up(&server);
    server.assert_healthy("after the attacked call");

    assert!(injected > 1000, "only {injected} packets injected");
    assert!(
        foreign >= injected * 9 / 10 && foreign <= injected,
        "{foreign} foreign packets counted of {injected} injected; {report}"
    );
    // The injected sequence numbers jump by thousands: had they reached the jitter buffers,
    // the loss count would have leapt with them.
    assert!(
        lost < injected / 20,
        "{lost} packets counted lost while {injected} were injected; {report}"
    );
    for pair in samples.windows(2) {
        let ((layout0, rx0), (layout1, rx1)) = (pair[0], pair[1]);
        assert!(
            layout1 > layout0 && rx1 > rx0,
            "{name}: media froze under injection (layout pictures {layout0} -> {layout1}, \
             gateway decoded {rx0} -> {rx1}); {report}"
        );
    }
    let summary = check_video(name, &decoded, (1280, 720));
    eprintln!(
        "{summary}; injected {injected}, counted foreign {foreign}, lost {lost}; samples \
         {samples:?}; {report}; {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
