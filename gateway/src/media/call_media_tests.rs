//! The call media task with real media: a fake VTC on loopback sockets sends H.264 (encoded with
//! the mixer's encoder, packetised with ours) and G.711 into a joined [`CallMedia`], a test
//! engine channel takes what the task decodes, and what the engine feeds comes back to the VTC.
//! No wall-clock speed assertions: every wait is "until it arrives", bounded by [`PATIENCE`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::task::PeerGuard;
use mixer::codec::audio::{AudioCodec, AudioDecoder};
use mixer::codec::h264::{EncodedFrame, EncoderConfig, H264Encoder};
use mixer::frame::I420Frame;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::engine::api::{engine_channel, CallFeed, EngineInput, EngineReceiver, FeedSender};
use super::h264_rtp::{split_annexb, Depacketized, Depacketizer, Packetizer};
use super::rtcp::{self, RtcpEvent, RtcpOut};
use super::rtp::{self, RtpHeader};
use super::task::{CallMedia, Meters};
use crate::calls::api::{AudioSetup, CallId, Prompt, PromptCodec, VideoSetup};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PATIENCE: Duration = Duration::from_secs(10);
const VIDEO_PT: u8 = 96;
const PARTICIPANT: u64 = 5;
const VTC_VIDEO_SSRC: u32 = 0x5EED_0001;
const VTC_AUDIO_SSRC: u32 = 0x5EED_0002;
const WIDTH: u32 = 320;
const HEIGHT: u32 = 180;

/// A call joined to a test engine, with the VTC's two sockets.
struct Harness {
    media: CallMedia,
    vtc_audio: UdpSocket,
    vtc_video: UdpSocket,
    engine: EngineReceiver,
    feed: FeedSender,
    meters: Meters,
}

impl Harness {
    async fn start(nack: bool) -> Harness {
        Self::start_with(nack, PromptCodec::Pcmu, 0).await
    }

    /// A call whose audio negotiated `codec` on `payload_type`.
    async fn start_with(nack: bool, codec: PromptCodec, payload_type: u8) -> Harness {
        let vtc_audio = UdpSocket::bind((LOCALHOST, 0)).await.expect("bind");
        let vtc_video = UdpSocket::bind((LOCALHOST, 0)).await.expect("bind");
        let audio = AudioSetup {
            local_port: 0,
            remote: vtc_audio.local_addr().expect("addr"),
            payload_type,
            codec,
            telephone_event_pt: Some(101),
            rtcp_mux: true,
        };
        let video = VideoSetup {
            local_port: 0,
            remote: vtc_video.local_addr().expect("addr"),
            payload_type: VIDEO_PT,
            packetization_mode: 1,
            max_size: (1280, 720),
            bitrate_bps: 1_000_000,
            nack,
            pli: true,
            fir: true,
            tmmbr: false,
            rtcp_mux: true,
        };
        let (events, _events_rx) = mpsc::unbounded_channel();
        let meters = Meters::default();
        let media = CallMedia::start(
            CallId(3),
            LOCALHOST,
            audio,
            Some(video),
            PeerGuard::default(),
            events,
            meters.clone(),
        )
        .await
        .expect("start");
        let (engine_tx, engine) = engine_channel();
        let hd = crate::media::h264_rtp::VideoFormat::unlimited((1280, 720));
        media.join(engine_tx, PARTICIPANT, "Room 1".into(), Some(hd));
        let join = next_input(&engine, |i| matches!(i, EngineInput::Join { .. })).await;
        let EngineInput::Join {
            participant,
            display_name,
            feed: Some(feed),
            video_format,
        } = join
        else {
            panic!("a join with a feed: {join:?}")
        };
        assert_eq!(
            (participant, display_name.as_str(), video_format),
            (PARTICIPANT, "Room 1", Some(hd))
        );
        Harness {
            media,
            vtc_audio,
            vtc_video,
            engine,
            feed,
            meters,
        }
    }

    fn video_addr(&self) -> SocketAddr {
        self.media.video_addr().expect("video bound")
    }

    /// Sends RTP packets of `payloads` (one access unit) from the VTC's video socket.
    async fn send_video(
        &self,
        first_seq: u16,
        timestamp: u32,
        payloads: &[Vec<u8>],
        skip: Option<usize>,
    ) {
        for (i, payload) in payloads.iter().enumerate() {
            if Some(i) == skip {
                continue;
            }
            let header = RtpHeader {
                marker: i + 1 == payloads.len(),
                payload_type: VIDEO_PT,
                sequence: first_seq.wrapping_add(i as u16),
                timestamp,
                ssrc: VTC_VIDEO_SSRC,
            };
            self.vtc_video
                .send_to(&rtp::write(&header, payload), self.video_addr())
                .await
                .expect("send");
            if i % 8 == 7 {
                // Let the task read: a long burst would overflow the loopback socket buffer.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }

    /// The next RTCP events the VTC's video socket receives (RTP in between is skipped).
    async fn next_rtcp(&self) -> Vec<RtcpEvent> {
        let mut buf = [0u8; 2048];
        loop {
            let (len, _) = timeout(PATIENCE, self.vtc_video.recv_from(&mut buf))
                .await
                .expect("RTCP arrives")
                .expect("receive");
            if rtcp::is_rtcp(&buf[..len]) {
                return rtcp::parse_compound(&buf[..len]).expect("valid RTCP");
            }
        }
    }

    /// The next RTP packet on the VTC's audio socket (muxed RTCP in between is skipped).
    async fn next_audio_rtp(&self) -> Vec<u8> {
        let mut buf = [0u8; 2048];
        loop {
            let (len, _) = timeout(PATIENCE, self.vtc_audio.recv_from(&mut buf))
                .await
                .expect("RTP arrives")
                .expect("receive");
            if !rtcp::is_rtcp(&buf[..len]) {
                return buf[..len].to_vec();
            }
        }
    }

    /// The next RTP packet on the VTC's video socket (RTCP in between is skipped).
    async fn next_video_rtp(&self) -> Vec<u8> {
        let mut buf = [0u8; 2048];
        loop {
            let (len, _) = timeout(PATIENCE, self.vtc_video.recv_from(&mut buf))
                .await
                .expect("RTP arrives")
                .expect("receive");
            if !rtcp::is_rtcp(&buf[..len]) {
                return buf[..len].to_vec();
            }
        }
    }
}

/// Waits for the first engine input matching `wanted`, skipping others.
async fn next_input(engine: &EngineReceiver, wanted: impl Fn(&EngineInput) -> bool) -> EngineInput {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        while let Some(input) = engine.try_recv() {
            if wanted(&input) {
                return input;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no matching engine input"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A picture with texture (so that it codes to many packets), different for each `n`.
fn picture(n: u32) -> I420Frame {
    I420Frame::test_pattern(WIDTH, HEIGHT, n).expect("size")
}

/// `count` encoded access units, the first a keyframe.
fn encode(count: u32) -> Vec<EncodedFrame> {
    let mut encoder = H264Encoder::new(EncoderConfig {
        width: WIDTH,
        height: HEIGHT,
        fps: 30.0,
        bitrate_bps: 2_000_000,
        ..EncoderConfig::hd720()
    })
    .expect("encoder");
    (0..count)
        .map(|n| encoder.encode(&picture(n), n == 0).expect("encode"))
        .filter(|f| !f.data.is_empty())
        .collect()
}

#[tokio::test]
async fn vtc_video_and_audio_reach_the_engine_decoded() {
    let h = Harness::start(false).await;
    let mut seq = 1000u16;
    for (n, frame) in encode(5).iter().enumerate() {
        let payloads = Packetizer::default()
            .packetize(&frame.data)
            .expect("mode 1");
        h.send_video(seq, 3000 * n as u32, &payloads, None).await;
        seq = seq.wrapping_add(payloads.len() as u16);
    }
    let gateway_audio = h.media.local_addr();
    for i in 0..10u16 {
        let header = RtpHeader {
            marker: i == 0,
            payload_type: 0,
            sequence: 500 + i,
            timestamp: 160 * u32::from(i),
            ssrc: VTC_AUDIO_SSRC,
        };
        let packet = rtp::write(&header, &[0xFF; 160]);
        h.vtc_audio
            .send_to(&packet, gateway_audio)
            .await
            .expect("send");
    }

    let (mut video, mut audio) = (false, false);
    while !(video && audio) {
        match next_input(&h.engine, |_| true).await {
            EngineInput::Video { participant, frame } => {
                assert_eq!(participant, PARTICIPANT);
                assert_eq!((frame.width(), frame.height()), (WIDTH, HEIGHT));
                video = true;
            }
            EngineInput::Audio { participant, pcm } => {
                assert_eq!(participant, PARTICIPANT);
                assert_eq!(pcm.len(), 960, "20 ms at 48 kHz");
                audio = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let counts = h.meters.stats.snapshot();
    assert!(counts.video_rx_frames >= 1);
    assert_eq!(counts.audio_rx_packets, 10);
}

#[tokio::test]
async fn engine_media_reaches_the_vtc_as_rtp() {
    let h = Harness::start(false).await;
    let frame = encode(1).remove(0);
    h.feed
        .send(CallFeed::Video {
            frame: Arc::new(frame.clone()),
            timestamp: 90_000,
        })
        .expect("task reads the feed");
    let mut depacketizer = Depacketizer::new();
    let au = loop {
        let packet = h.next_video_rtp().await;
        let p = rtp::parse(&packet).expect("RTP");
        assert_eq!(p.header.payload_type, VIDEO_PT);
        let out = depacketizer
            .push(
                p.header.sequence,
                p.header.timestamp,
                p.header.marker,
                p.payload,
            )
            .expect("well-formed H.264 payload");
        if let Some(Depacketized::AccessUnit(au)) = out.into_iter().next() {
            assert!(p.header.marker, "marker on the last packet");
            break au;
        }
    };
    assert!(au.keyframe);
    assert_eq!(split_annexb(&au.data), split_annexb(&frame.data));
    assert_eq!(h.meters.stats.snapshot().video_tx_frames, 1);

    h.feed
        .send(CallFeed::Audio(vec![0; 960]))
        .expect("task reads the feed");
    let mut buf = [0u8; 512];
    let (len, _) = timeout(PATIENCE, h.vtc_audio.recv_from(&mut buf))
        .await
        .expect("audio arrives")
        .expect("receive");
    let p = rtp::parse(&buf[..len]).expect("RTP");
    assert_eq!(
        (p.header.payload_type, p.payload.len()),
        (0, 160),
        "20 ms PCMU"
    );
    assert!(p.header.marker, "first packet of a talk spurt");
}

#[tokio::test]
async fn with_opus_negotiated_the_mix_and_prompts_reach_the_vtc_as_opus() {
    const OPUS_PT: u8 = 111;
    let h = Harness::start_with(false, PromptCodec::Opus, OPUS_PT).await;
    let mut decoder = AudioDecoder::new(AudioCodec::Opus).expect("decoder");

    // The N-1 mix, encoded in the negotiated codec.
    let tone: Vec<i16> = (0..960)
        .map(|i| ((f64::from(i) * 0.05).sin() * 8000.0) as i16)
        .collect();
    h.feed
        .send(CallFeed::Audio(tone))
        .expect("task reads the feed");
    let mix = h.next_audio_rtp().await;
    let p = rtp::parse(&mix).expect("RTP");
    assert_eq!(p.header.payload_type, OPUS_PT);
    assert!(p.header.marker, "first packet of a talk spurt");
    assert_eq!(decoder.decode(p.payload).expect("Opus").len(), 960);

    // A prompt, through the same encoder, on the Opus 48 kHz clock.
    h.media.play(Prompt::Goodbye);
    let mut previous: Option<RtpHeader> = None;
    for _ in 0..5 {
        let packet = h.next_audio_rtp().await;
        let p = rtp::parse(&packet).expect("RTP");
        assert_eq!(p.header.payload_type, OPUS_PT);
        assert_eq!(p.header.ssrc, rtp::parse(&mix).expect("RTP").header.ssrc);
        assert_eq!(
            decoder.decode(p.payload).expect("Opus").len(),
            960,
            "20 ms at 48 kHz"
        );
        if let Some(prev) = previous {
            assert_eq!(p.header.sequence, prev.sequence.wrapping_add(1));
            assert_eq!(p.header.timestamp, prev.timestamp.wrapping_add(960));
            assert!(!p.header.marker, "a prompt continues its talk spurt");
        }
        previous = Some(p.header);
    }
}

#[tokio::test]
async fn a_pli_from_the_vtc_asks_the_engine_for_a_keyframe() {
    let h = Harness::start(false).await;
    let pli = rtcp::build(&[RtcpOut::Pli {
        sender_ssrc: VTC_VIDEO_SSRC,
        media_ssrc: 1,
    }])
    .expect("builds");
    h.vtc_video
        .send_to(&pli, h.video_addr())
        .await
        .expect("send");
    let request = next_input(&h.engine, |i| {
        matches!(i, EngineInput::KeyframeRequest { .. })
    })
    .await;
    assert!(matches!(
        request,
        EngineInput::KeyframeRequest {
            participant: PARTICIPANT
        }
    ));
}

#[tokio::test]
async fn a_lost_video_packet_makes_the_gateway_ask_for_a_keyframe() {
    let h = Harness::start(false).await;
    let is_pli = |events: &[RtcpEvent]| events.iter().any(|e| matches!(e, RtcpEvent::Pli { .. }));
    // Joining asks at once, so that the VTC's picture shows without waiting for its next IDR.
    assert!(is_pli(&h.next_rtcp().await));

    let frames = encode(3);
    let mut seq = 40_000u16;
    let key = Packetizer::default()
        .packetize(&frames[0].data)
        .expect("mode 1");
    h.send_video(seq, 0, &key, None).await;
    seq = seq.wrapping_add(key.len() as u16);
    next_input(&h.engine, |i| matches!(i, EngineInput::Video { .. })).await;

    // The next access unit loses its first packet.
    let delta = Packetizer::default()
        .packetize(&frames[1].data)
        .expect("mode 1");
    h.send_video(seq, 3000, &delta, Some(0)).await;
    seq = seq.wrapping_add(delta.len() as u16);
    let next = Packetizer::default()
        .packetize(&frames[2].data)
        .expect("mode 1");
    h.send_video(seq, 6000, &next, None).await;
    loop {
        let events = h.next_rtcp().await;
        if let Some(RtcpEvent::Pli { media_ssrc, .. }) =
            events.iter().find(|e| matches!(e, RtcpEvent::Pli { .. }))
        {
            assert_eq!(*media_ssrc, VTC_VIDEO_SSRC, "about the VTC's stream");
            break;
        }
    }
}

#[tokio::test]
async fn a_nack_from_the_vtc_gets_the_packet_resent() {
    let h = Harness::start(true).await;
    let frame = encode(1).remove(0);
    h.feed
        .send(CallFeed::Video {
            frame: Arc::new(frame),
            timestamp: 0,
        })
        .expect("task reads the feed");
    let first = h.next_video_rtp().await;
    let second = h.next_video_rtp().await;
    let header = rtp::parse(&second).expect("RTP").header;
    assert_eq!(
        header.sequence,
        rtp::parse(&first)
            .expect("RTP")
            .header
            .sequence
            .wrapping_add(1)
    );
    let nack = rtcp::build(&[RtcpOut::Nack {
        sender_ssrc: VTC_VIDEO_SSRC,
        media_ssrc: header.ssrc,
        lost: vec![header.sequence],
    }])
    .expect("builds");
    h.vtc_video
        .send_to(&nack, h.video_addr())
        .await
        .expect("send");
    loop {
        let packet = h.next_video_rtp().await;
        if rtp::parse(&packet).expect("RTP").header.sequence == header.sequence {
            assert_eq!(packet, second, "the very same packet again");
            break;
        }
    }
}

#[tokio::test]
async fn leaving_tells_the_engine_and_stops_the_feed() {
    let h = Harness::start(false).await;
    h.media.leave();
    let leave = next_input(&h.engine, |i| matches!(i, EngineInput::Leave { .. })).await;
    assert!(matches!(
        leave,
        EngineInput::Leave {
            participant: PARTICIPANT
        }
    ));
    timeout(PATIENCE, h.feed.closed())
        .await
        .expect("the task dropped its feed receiver");
}
