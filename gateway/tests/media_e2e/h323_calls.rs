//! H.323 callers in meetings (issue 16's "done when"): the project's H.323 test caller
//! (`h323::caller`, on the same ASN.1 types as the gateway) calls `--h323-listen` with Fast
//! Start, or without it and with H.245 on a separate TCP channel, and ffmpeg is its media, through
//! the relay as for the SIP room systems. What the gateway sends on both connections is kept and
//! dissected by Wireshark's H.225 and H.245 dissectors (tshark) afterwards.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use h323::call::{LocalMedia, MediaPlan};
use h323::caller::{Caller, CallerConfig, CallerEvent};
use h323::h225::{AliasAddress, ReleaseCompleteReason};
use h323::media::Codec;
use h323::testing::{assert_dissection, tshark, Transport};
use h323::tpkt;
use sip_testua::Answer;

use super::*;

/// The name the test caller shows (its Display element), as the roster lists it.
const CALLER_NAME: &str = "Tessera test caller";

/// What the caller's signalling thread saw.
#[derive(Default)]
struct LegState {
    /// The media agreed (from the caller's side: `audio_send` is where the gateway receives).
    plan: Option<MediaPlan>,
    /// How the gateway released the call, if it did.
    released: Option<(Option<ReleaseCompleteReason>, Option<u8>)>,
    /// Every byte the gateway sent on the call-signalling connection, in order.
    signalling: Vec<u8>,
    /// Every byte it sent on the separate H.245 connection.
    h245: Vec<u8>,
    /// Keyframe requests (`videoFastUpdatePicture`) the gateway sent.
    keyframe_requests: usize,
}

enum LegCommand {
    Dtmf(String),
    Keyframe,
    HangUp,
}

/// One H.323 call of the test caller, its signalling on a thread of its own (H.245 must be
/// answered while the test waits on media).
struct H323Leg {
    commands: mpsc::Sender<LegCommand>,
    state: Arc<Mutex<LegState>>,
    thread: Option<JoinHandle<()>>,
}

impl H323Leg {
    fn call(server: &Server, alias: &str, local: LocalMedia, fast_start: bool) -> H323Leg {
        let caller = Caller::new(CallerConfig {
            destination: vec![AliasAddress::h323_id(alias).unwrap()],
            local,
            fast_start,
            // Fast Start tunnels H.245; without it, the separate-channel fallback.
            tunnelling: fast_start,
        })
        .unwrap();
        let stream = TcpStream::connect(server.h323).unwrap();
        let state = Arc::new(Mutex::new(LegState::default()));
        let (commands, rx) = mpsc::channel();
        let thread_state = state.clone();
        let thread = std::thread::spawn(move || run_leg(caller, stream, &rx, &thread_state));
        H323Leg {
            commands,
            state,
            thread: Some(thread),
        }
    }

    /// Waits (bounded) until the caller knows where to send audio and video.
    fn wait_for_media(&self, server: &Server) -> MediaPlan {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            {
                let state = self.state.lock().unwrap();
                if let Some(plan) = &state.plan {
                    let known = |s: Option<h323::call::Stream>| s.and_then(|s| s.rtp).is_some();
                    if known(plan.audio_send) && known(plan.video_send) {
                        return plan.clone();
                    }
                }
                assert!(
                    state.released.is_none(),
                    "the gateway released the call: {:?}; log:\n{}",
                    state.released,
                    server.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no media agreed within 20 s; log:\n{}",
                server.log_tail()
            );
            sleep(Duration::from_millis(100));
        }
    }

    /// Asks the gateway for a keyframe (`videoFastUpdatePicture`).
    fn request_keyframe(&self) {
        self.commands.send(LegCommand::Keyframe).unwrap();
    }

    fn keyframe_requests(&self) -> usize {
        self.state.lock().unwrap().keyframe_requests
    }

    fn dtmf(&self, keys: &str) {
        self.commands
            .send(LegCommand::Dtmf(keys.to_owned()))
            .unwrap();
    }

    /// Hangs up and returns what the gateway sent (signalling, H.245 channel).
    fn hang_up(mut self) -> (Vec<u8>, Vec<u8>) {
        let _ = self.commands.send(LegCommand::HangUp);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        let mut state = self.state.lock().unwrap();
        (
            std::mem::take(&mut state.signalling),
            std::mem::take(&mut state.h245),
        )
    }
}

/// The caller's signalling loop: writes what the caller polls, reads both connections (short
/// timeouts), follows commands, until it hangs up or the gateway releases or closes.
fn run_leg(
    mut caller: Caller,
    mut stream: TcpStream,
    commands: &mpsc::Receiver<LegCommand>,
    state: &Mutex<LegState>,
) {
    let timeout = Some(Duration::from_millis(20));
    stream.set_read_timeout(timeout).unwrap();
    let mut h245: Option<TcpStream> = None;
    let mut buf = [0u8; 8192];
    let mut hanging_up = false;
    let mut alive = true;
    while alive {
        while let Some(bytes) = caller.poll_transmit() {
            if stream.write_all(&bytes).is_err() {
                return;
            }
        }
        if let Some(channel) = h245.as_mut() {
            while let Some(bytes) = caller.poll_h245_transmit() {
                let _ = channel.write_all(&bytes);
            }
        }
        if hanging_up {
            return;
        }
        while let Some(event) = caller.poll_event() {
            let mut s = state.lock().unwrap();
            match event {
                CallerEvent::Media(plan) => s.plan = Some(plan),
                CallerEvent::H245Address(addr) => {
                    let channel = TcpStream::connect(addr).unwrap();
                    channel.set_read_timeout(timeout).unwrap();
                    h245 = Some(channel);
                }
                CallerEvent::KeyframeRequested => s.keyframe_requests += 1,
                CallerEvent::Released(reason, cause) => {
                    s.released = Some((reason, cause));
                    alive = false;
                }
                CallerEvent::Received(_) => {}
            }
        }
        match commands.try_recv() {
            Ok(LegCommand::Dtmf(keys)) => caller.send_dtmf(&keys).unwrap(),
            Ok(LegCommand::Keyframe) => caller.request_keyframe().unwrap(),
            Ok(LegCommand::HangUp) | Err(mpsc::TryRecvError::Disconnected) => {
                caller.hang_up().unwrap();
                hanging_up = true;
                continue;
            }
            Err(mpsc::TryRecvError::Empty) => {}
        }
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                state.lock().unwrap().signalling.extend(&buf[..n]);
                caller.handle_input(&buf[..n]).unwrap();
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
        if let Some(channel) = h245.as_mut() {
            match channel.read(&mut buf) {
                Ok(n) if n > 0 => {
                    state.lock().unwrap().h245.extend(&buf[..n]);
                    caller.handle_h245_input(&buf[..n]).unwrap();
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                _ => h245 = None,
            }
        }
    }
}

/// An H.323 room system: the caller's signalling and ffmpeg media through the relay.
fn h323_vtc(
    server: &Server,
    dir: &std::path::Path,
    file_name: &str,
    alias: &str,
    fast_start: bool,
) -> (H323Leg, Vtc) {
    let relay = Relay::bind(0);
    let local = LocalMedia {
        audio: SocketAddr::from(([127, 0, 0, 1], relay.media_port(Kind::Audio))),
        video: SocketAddr::from(([127, 0, 0, 1], relay.media_port(Kind::Video))),
    };
    let leg = H323Leg::call(server, alias, local, fast_start);
    let plan = leg.wait_for_media(server);
    let gateway = |s: Option<h323::call::Stream>| s.and_then(|s| s.rtp).unwrap();
    let audio_codec = match plan.audio_receive.map(|s| s.codec) {
        Some(Codec::G722) => ffmpeg::G722,
        _ => ffmpeg::PCMU,
    };
    let answer = Answer {
        audio: gateway(plan.audio_send),
        video: gateway(plan.video_send),
        video_pt: h323::media::H264_PAYLOAD_TYPE,
        sdp: format!("{plan:?}"),
    };
    let vtc = Vtc::with_media(
        dir,
        file_name,
        None,
        relay,
        (answer, audio_codec),
        Source {
            video: TESTSRC_720P,
            tone_hz: 1000,
            drop_video_permille: 0,
        },
    );
    (leg, vtc)
}

/// The TPKT packets of a captured byte stream.
fn packets(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut reassembler = tpkt::Reassembler::new();
    reassembler.push(bytes);
    let mut out = Vec::new();
    while let Ok(Some(packet)) = reassembler.poll_packet() {
        out.push(tpkt::frame(&packet).unwrap());
    }
    out
}

/// Every message the gateway sent dissects cleanly, and `fields` read back.
fn assert_dissects(name: &str, (signalling, h245): (Vec<u8>, Vec<u8>), fields: &[&str]) {
    let signalling = packets(&signalling);
    let h245 = packets(&h245);
    assert!(!signalling.is_empty(), "{name}: nothing captured");
    let mut text = tshark(&signalling, Transport::Tcp(1720), &[]);
    if !h245.is_empty() {
        text.push_str(&tshark(
            &h245,
            Transport::Tcp(1721),
            &["-d", "tcp.port==1721,h245"],
        ));
    }
    assert_dissection(name, &text, fields);
    eprintln!(
        "{name}: tshark dissected {} H.225.0 and {} H.245-channel packets cleanly",
        signalling.len(),
        h245.len()
    );
}

/// The demo layout and N-1 audio an H.323 caller receives: checked as for the SIP room system.
fn assert_demo_media(server: &mut Server, leg_name: &str, vtc: &mut Vtc) -> String {
    vtc.wait_for_picture(server);
    sleep(Duration::from_secs(8));
    server.assert_healthy("after 8 s of H.323 media");
    let me = participant(server, DEMO_MEETING, CALLER_NAME).unwrap_or_else(|| {
        panic!(
            "{leg_name}: not in the demo meeting; log:\n{}",
            server.log_tail()
        )
    });
    assert_eq!(me["protocol"], "h323", "{leg_name}: roster entry {me}");
    let video_rx = media_counter(server, DEMO_MEETING, CALLER_NAME, "video_rx_frames");
    let decoded = vtc.finish_receiving();
    let video = check_video(leg_name, &decoded, (1280, 720));
    let (_, level, own_tone) = assert_demo_layout_and_n_minus_1(leg_name, &decoded);
    assert!(
        video_rx > 0,
        "{leg_name}: its video did not reach the meeting"
    );
    format!(
        "{video}; audio {level:.1} dBFS, own tone {:.2} %; gateway decoded {video_rx} of its \
         pictures; {}",
        own_tone * 100.0,
        vtc.relay_report()
    )
}

#[test]
fn h323_fast_start_caller_sees_the_demo_3x3_and_hears_n_minus_1() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let mut server = Server::start(true, &[]);
    let dir = tempfile::tempdir().unwrap();
    let alias = format!("{TENANT}.{DEMO_MEETING}");
    let (leg, mut vtc) = h323_vtc(&server, dir.path(), "h323-fast-start", &alias, true);
    let report = assert_demo_media(&mut server, "h323 fast start", &mut vtc);
    // Keyframes both ways in H.245: the gateway asked for the caller's first one (its decoder
    // starts on a keyframe), and the caller's request reaches the layout encoder as a PLI would.
    assert!(
        leg.keyframe_requests() > 0,
        "the gateway sent no videoFastUpdatePicture"
    );
    let peer_requests = "tessera_keyframes_requested_total{by=\"peer\"}";
    let before = metric(&server, peer_requests);
    leg.request_keyframe();
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&server, peer_requests) <= before {
        assert!(
            Instant::now() < deadline,
            "the caller's videoFastUpdatePicture was not taken as a keyframe request"
        );
        sleep(Duration::from_millis(200));
    }
    let captured = leg.hang_up();
    assert_dissects(
        "h323 fast start",
        captured,
        &[
            "fastStart: 4 items",
            "h245Tunnelling: True",
            "h323-message-body: connect",
            "standard: 0.0.8.241.0.0.1 (h264 generic-capabilities)",
            "videoFastUpdatePicture",
        ],
    );
    eprintln!("h323 fast start: {report}");
}

#[test]
fn h323_caller_without_fast_start_negotiates_on_a_separate_h245_channel_and_sees_the_demo() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let mut server = Server::start(true, &[]);
    let dir = tempfile::tempdir().unwrap();
    let alias = format!("{TENANT}.{DEMO_MEETING}");
    let (leg, mut vtc) = h323_vtc(&server, dir.path(), "h323-h245", &alias, false);
    let report = assert_demo_media(&mut server, "h323 h245 channel", &mut vtc);
    let captured = leg.hang_up();
    assert!(
        !captured.1.is_empty(),
        "nothing arrived on the H.245 channel"
    );
    assert_dissects(
        "h323 h245 channel",
        captured,
        &[
            "h245Address: ",
            "terminalCapabilitySet",
            // H.264 (H.241 Annex A) as the gateway's capability and its opened channel.
            "standard: 0.0.8.241.0.0.1 (h264 generic-capabilities)",
            "Baseline Profile: True",
            "openLogicalChannel",
        ],
    );
    eprintln!("h323 h245 channel: {report}");
}

#[test]
fn h323_caller_dialling_the_tenant_enters_its_meeting_id_as_user_input_indications() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let mut server = Server::start(true, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (leg, _vtc) = h323_vtc(&server, dir.path(), "h323-entry-queue", TENANT, true);
    sleep(Duration::from_secs(1));
    assert!(
        participant(&server, DEMO_MEETING, CALLER_NAME).is_none(),
        "in the meeting before entering its ID"
    );
    leg.dtmf(&format!("{DEMO_MEETING}#"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let me = loop {
        if let Some(me) = participant(&server, DEMO_MEETING, CALLER_NAME) {
            break me;
        }
        assert!(
            Instant::now() < deadline,
            "the entry queue did not place the caller; log:\n{}",
            server.log_tail()
        );
        sleep(Duration::from_millis(200));
    };
    assert_eq!(me["protocol"], "h323");
    server.assert_healthy("after the entry queue");
    let captured = leg.hang_up();
    assert_dissects("h323 entry queue", captured, &["fastStart: 4 items"]);
}
