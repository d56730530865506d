//! One far-end room system for the end-to-end tests (`media_e2e`, `browser`): a SIP call from
//! the test UA, the relay that owns its media ports, ffmpeg sending a test pattern and a tone and
//! ffmpeg decoding what the gateway sends; and the checks on what was decoded (tile colours of
//! the 3x3 layout, frame size and rate, settled audio).

use std::net::SocketAddr;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;
use sip_testua::link::LinkSpec;
use sip_testua::{Answer, Ua};

use crate::ffmpeg::{self, Decoded, Picture, Proc, Receiver};
use crate::relay::{self, Kind, Relay, StreamStats, Targets};
use crate::server::{Server, TENANT};

/// How long the first decoded picture may take (call set-up, ffmpeg start, first keyframe).
pub const FIRST_PICTURE: Duration = Duration::from_secs(40);

/// How long a far end's ffmpeg sends (it is stopped sooner when the test drops the [`Vtc`]): the
/// longest test, a cluster's through a node's death and another's drain, runs about two minutes.
const SEND_SECS: u32 = 240;

/// One far-end room system: UA, relay, ffmpeg sender and receiver.
pub struct Vtc {
    pub name: String,
    /// Its SIP user agent (`None` for an H.323 call, whose signalling the test drives).
    pub ua: Option<Ua>,
    pub relay: Relay,
    pub answer: Answer,
    pub receiver: Option<Receiver>,
    _sender: Proc,
}

/// Where a call is sent: a gateway, or a proxy in front of gateways; and their logs for
/// failure messages.
pub struct Front<'a> {
    pub sip: SocketAddr,
    pub logs: &'a dyn Fn() -> String,
}

/// What a far end sends.
pub struct Source<'a> {
    /// A lavfi video source.
    pub video: &'a str,
    /// The tone it talks with, Hz.
    pub tone_hz: u32,
    /// Video RTP to the gateway dropped, per mille.
    pub drop_video_permille: u32,
}

impl Vtc {
    /// Calls `conference` of the demo tenant (its entry queue when `conference` is empty) and
    /// starts the media both ways.
    pub fn call(
        server: &Server,
        dir: &Path,
        name: &str,
        conference: &str,
        source: Source<'_>,
    ) -> Vtc {
        Vtc::call_behind(server, dir, name, conference, source, LinkSpec::UNLIMITED)
    }

    /// [`Vtc::call`] from behind `link`: the gateway's video reaches ffmpeg through its policer,
    /// and the relay sends the gateway the RTCP of a room system on that line (see
    /// `relay.rs`).
    pub fn call_behind(
        server: &Server,
        dir: &Path,
        name: &str,
        conference: &str,
        source: Source<'_>,
        link: LinkSpec,
    ) -> Vtc {
        let to = Front {
            sip: server.sip,
            logs: &|| server.log_tail(),
        };
        Vtc::call_to(to, dir, name, conference, source, link)
    }

    /// [`Vtc::call_behind`] sending the INVITE to `to`, which need not be the gateway that
    /// answers: a SIP proxy in front of several (Kamailio) relays it to one of them. The UA
    /// keeps `to` as its outbound proxy for the dialog's requests (ACK, BYE), which the shipped
    /// Kamailio config relays to the node named in the 200's Contact.
    pub fn call_to(
        to: Front<'_>,
        dir: &Path,
        name: &str,
        conference: &str,
        source: Source<'_>,
        link: LinkSpec,
    ) -> Vtc {
        let relay = Relay::bind(source.drop_video_permille).with_link(link);
        let dialled = if conference.is_empty() {
            TENANT.to_owned()
        } else {
            format!("{TENANT}.{conference}")
        };
        let mut ua = Ua::new(to.sip, &dialled, name).unwrap();
        let offer =
            sip_testua::vtc_offer(relay.media_port(Kind::Audio), relay.media_port(Kind::Video));
        let answer = ua.invite(&offer).unwrap_or_else(|e| {
            panic!(
                "{name}: the call was not answered: {e}\noffer:\n{offer}\nlogs:\n{}",
                (to.logs)()
            )
        });
        assert!(
            answer.sdp.contains("H264/90000"),
            "{name}: the answer has no H.264:\n{}",
            answer.sdp
        );
        // The relay reads the gateway's RTCP on the RTP ports only, as rtcp-mux says.
        assert_eq!(
            answer.sdp.matches("a=rtcp-mux").count(),
            2,
            "{name}: rtcp-mux offered on both streams but not answered on both:\n{}",
            answer.sdp
        );
        Vtc::with_media(dir, name, Some(ua), relay, (answer, ffmpeg::PCMU), source)
    }

    /// The media of a call set up either way (we called, or the gateway called us): ffmpeg
    /// receiving and sending through `relay`, whose media ports our SDP named; `answer` is the
    /// gateway's SDP (its addresses and H.264 payload type), with the audio codec (payload type,
    /// rtpmap) the gateway sends.
    pub fn with_media(
        dir: &Path,
        name: &str,
        ua: Option<Ua>,
        mut relay: Relay,
        (answer, audio_codec): (Answer, (u8, &str)),
        source: Source<'_>,
    ) -> Vtc {
        let (ffmpeg_audio, ffmpeg_video) = (relay::free_pair(), relay::free_pair());
        let mut receiver = ffmpeg::receiver(
            dir,
            name,
            ffmpeg_audio,
            ffmpeg_video,
            audio_codec,
            answer.video_pt,
        );
        receiver.wait_until_listening(&[ffmpeg_audio, ffmpeg_video]);
        relay.start(Targets {
            gateway_audio: answer.audio,
            gateway_video: answer.video,
            ffmpeg_audio: SocketAddr::from(([127, 0, 0, 1], ffmpeg_audio)),
            ffmpeg_video: SocketAddr::from(([127, 0, 0, 1], ffmpeg_video)),
        });
        let sender = ffmpeg::sender(
            dir,
            name,
            source.video,
            source.tone_hz,
            relay.inbound_port(Kind::Video),
            relay.inbound_port(Kind::Audio),
            answer.video_pt,
            audio_codec,
            SEND_SECS,
        );
        Vtc {
            name: name.to_owned(),
            ua,
            relay,
            answer,
            receiver: Some(receiver),
            _sender: sender,
        }
    }

    pub fn receiver(&self) -> &Receiver {
        self.receiver.as_ref().unwrap()
    }

    /// Waits (bounded) for the first decoded picture.
    pub fn wait_for_picture(&mut self, server: &mut Server) {
        let deadline = Instant::now() + FIRST_PICTURE;
        while self.receiver().frames_so_far() == 0 {
            server.assert_healthy(&format!("{} waiting for a picture", self.name));
            let receiving = self.receiver.as_mut().unwrap().proc.is_running();
            if !receiving || Instant::now() > deadline {
                let decoded = self.receiver.take().unwrap().finish();
                panic!(
                    "{}: no picture decoded (receiver running: {receiving}, waited up to \
                     {FIRST_PICTURE:?}).\n{}\nreceiver log:\n{}\nanswer:\n{}\nserver log:\n{}",
                    self.name,
                    self.relay_report(),
                    decoded.log_tail(),
                    self.answer.sdp,
                    server.log_tail()
                );
            }
            sleep(Duration::from_millis(200));
        }
    }

    /// What the relay counted, for messages.
    pub fn relay_report(&self) -> String {
        let line = |kind: Kind| {
            let s = self.relay.stats(kind);
            let g = StreamStats::get;
            format!(
                "{kind:?}: to gateway {} (dropped {}, resent {}), from gateway RTP {} (markers {}, \
                 policed {}), RTCP {} (SR/RR {}, PLI {}, FIR {}, NACK {}; {} more to RTP port + 1)",
                g(&s.to_gateway),
                g(&s.dropped),
                g(&s.retransmitted),
                g(&s.from_gateway_rtp),
                g(&s.from_gateway_markers),
                g(&s.policed),
                g(&s.rtcp),
                g(&s.sr_rr),
                g(&s.pli),
                g(&s.fir),
                g(&s.nack),
                g(&s.rtcp_next_port)
            )
        };
        format!(
            "relay of {}: {}; {}",
            self.name,
            line(Kind::Audio),
            line(Kind::Video)
        )
    }

    /// Stops the receiver and reads what it decoded.
    pub fn finish_receiving(&mut self) -> Decoded {
        self.receiver.take().unwrap().finish()
    }

    /// BYE, which the gateway must answer 200.
    pub fn hang_up(&mut self, server: &Server) {
        let status = self.ua.as_mut().and_then(Ua::bye);
        assert_eq!(
            status,
            Some(200),
            "{}: BYE not answered 200; server log:\n{}",
            self.name,
            server.log_tail()
        );
    }
}

/// The participant named `name` in the live meeting view, if there.
pub fn participant(server: &Server, conference: &str, name: &str) -> Option<Value> {
    let (status, body) = server
        .api_get(&format!("/api/v1/meetings/{TENANT}/{conference}"))
        .ok()?;
    if status != 200 {
        return None;
    }
    let view: Value = serde_json::from_str(&body).ok()?;
    view["participants"]
        .as_array()?
        .iter()
        .find(|p| p["display_name"] == name)
        .cloned()
}

/// A media counter of `name`'s participant entry (`video_rx_frames`, ...), 0 when absent.
pub fn media_counter(server: &Server, conference: &str, name: &str, counter: &str) -> u64 {
    participant(server, conference, name)
        .and_then(|p| p["media"][counter].as_u64())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Checks on decoded media

/// The median colour of a grid of points inside `rect` (x, y, w, h), away from its edges and
/// its bottom (where the name label is): the background, not the moving bar or block.
pub fn tile_colour(picture: &Picture, (x, y, w, h): (u32, u32, u32, u32)) -> [u8; 3] {
    let points = (0..7).flat_map(|i| {
        (0..5).map(move |j| (x + w * (15 + 10 * i) / 100, y + h * (12 + 12 * j) / 100))
    });
    median_colour(picture, points)
}

/// The median of each channel over the pixels at `points`.
pub fn median_colour(picture: &Picture, points: impl Iterator<Item = (u32, u32)>) -> [u8; 3] {
    let mut channels: [Vec<u8>; 3] = Default::default();
    for (px, py) in points {
        let c = picture.pixel(px, py);
        for k in 0..3 {
            channels[k].push(c[k]);
        }
    }
    channels.map(|mut v| {
        v.sort_unstable();
        v[v.len() / 2]
    })
}

/// The nine tiles of a 3x3 layout on the picture (the grid of `mixer::layout`: thirds of the
/// canvas).
pub fn grid_3x3(picture: &Picture) -> Vec<(u32, u32, u32, u32)> {
    let (w, h) = (picture.width, picture.height);
    (0..3)
        .flat_map(|row| (0..3).map(move |col| (row, col)))
        .map(|(row, col)| (w * col / 3, h * row / 3, w / 3, h / 3))
        .collect()
}

/// Colours that differ by more than `tolerance` in some channel, counted once.
pub fn distinct_colours(colours: &[[u8; 3]], tolerance: u8) -> Vec<[u8; 3]> {
    let mut distinct: Vec<[u8; 3]> = Vec::new();
    for c in colours {
        let seen = distinct
            .iter()
            .any(|d| (0..3).all(|k| d[k].abs_diff(c[k]) <= tolerance));
        if !seen {
            distinct.push(*c);
        }
    }
    distinct
}

/// Checks size and frame rate of what was decoded; returns a summary line.
pub fn check_video(name: &str, decoded: &Decoded, size: (u32, u32)) -> String {
    let frames = &decoded.frames;
    assert!(
        frames.len() >= 30,
        "{name}: only {} pictures decoded; receiver log:\n{}",
        frames.len(),
        decoded.log_tail()
    );
    let wrong: Vec<_> = frames
        .iter()
        .filter(|f| (f.width, f.height) != size)
        .take(5)
        .collect();
    assert!(
        wrong.is_empty(),
        "{name}: pictures not {}x{}: {wrong:?}",
        size.0,
        size.1
    );
    let (fps, counted, span) = decoded.frame_rate(1.0).unwrap_or_else(|| {
        panic!(
            "{name}: too short a stretch of pictures to measure the rate; receiver log:\n{}",
            decoded.log_tail()
        )
    });
    assert!(
        span >= 3.0,
        "{name}: pictures over only {span:.1} s (of presentation time); receiver log:\n{}",
        decoded.log_tail()
    );
    assert!(
        fps >= 15.0,
        "{name}: {fps:.1} pictures/s ({counted} over {span:.1} s); expected about 30"
    );
    format!(
        "{name}: {} pictures {}x{}, {fps:.1} fps over {span:.1} s",
        frames.len(),
        size.0,
        size.1
    )
}

/// The audio after its first second (the jitter buffers fill, the mix starts).
pub fn settled_audio<'a>(name: &str, decoded: &'a Decoded) -> &'a [i16] {
    assert_eq!(
        decoded.audio_rate,
        8000,
        "{name}: no 8 kHz WAV decoded; receiver log:\n{}",
        decoded.log_tail()
    );
    let skip = decoded.audio_rate as usize;
    assert!(
        decoded.audio.len() >= skip * 4,
        "{name}: only {} audio samples decoded; receiver log:\n{}",
        decoded.audio.len(),
        decoded.log_tail()
    );
    &decoded.audio[skip..]
}

/// What a room system in the demo meeting must have decoded: a 3x3 layout whose tiles show at
/// least 6 distinct participants, the meeting's voices, and not its own 1 kHz tone (N-1).
/// Returns the tile colours, the audio level (dBFS) and its own tone's share of the power.
pub fn assert_demo_layout_and_n_minus_1(name: &str, decoded: &Decoded) -> (Vec<[u8; 3]>, f64, f64) {
    let picture = decoded.snapshot.as_ref().unwrap_or_else(|| {
        panic!(
            "{name}: no snapshot picture written ({} files); receiver log:\n{}",
            decoded.snapshots,
            decoded.log_tail()
        )
    });
    let colours: Vec<[u8; 3]> = grid_3x3(picture)
        .into_iter()
        .map(|t| tile_colour(picture, t))
        .collect();
    let distinct = distinct_colours(&colours, 40);
    assert!(
        distinct.len() >= 6,
        "{name}: the 3x3 tiles show only {} distinct background colours: {colours:?}",
        distinct.len()
    );
    let audio = settled_audio(name, decoded);
    let level = ffmpeg::level_db(audio);
    let own_tone = ffmpeg::tone_share(audio, 8000, 1000.0);
    assert!(
        level > -45.0,
        "{name}: the meeting's voices are missing: level {level:.1} dBFS"
    );
    assert!(
        own_tone < 0.02,
        "{name}: hears its own 1 kHz tone back ({:.1} % of the power): N-1 broken",
        own_tone * 100.0
    );
    (colours, level, own_tone)
}
