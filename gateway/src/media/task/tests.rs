//! The call media driver on real loopback sockets: DTMF, prompt pacing and latching, silence
//! while idle, and freeing the port.

use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{timeout, Instant};

use super::*;
use crate::calls::api::{DtmfDigit, PromptCodec};
use crate::media::rtp::{self, RtpHeader};
use crate::media::telephone_event::key_press_packets;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const TE_PT: u8 = 101;
const PATIENCE: Duration = Duration::from_secs(5);

fn audio(remote: SocketAddr) -> AudioSetup {
    AudioSetup {
        local_port: 0,
        remote,
        payload_type: 0,
        codec: PromptCodec::Pcmu,
        telephone_event_pt: Some(TE_PT),
        rtcp_mux: true,
    }
}

/// A VTC's socket on loopback and an audio-only call media task whose SDP points at it.
pub(super) async fn start_beside_vtc(
    call: CallId,
    setup: fn(SocketAddr) -> AudioSetup,
) -> (
    UdpSocket,
    CallMedia,
    mpsc::UnboundedReceiver<(CallId, MediaEvent)>,
) {
    let vtc = UdpSocket::bind((LOCALHOST, 0)).await.expect("bind VTC");
    let (events, rx) = mpsc::unbounded_channel();
    let media = CallMedia::start(
        call,
        LOCALHOST,
        setup(vtc.local_addr().expect("addr")),
        None,
        PeerGuard::default(),
        events,
        Meters::default(),
    )
    .await
    .expect("start");
    (vtc, media, rx)
}

async fn next_event(
    rx: &mut mpsc::UnboundedReceiver<(CallId, MediaEvent)>,
) -> Option<(CallId, MediaEvent)> {
    timeout(PATIENCE, rx.recv()).await.ok().flatten()
}

/// Receives `count` RTP packets on `socket` and checks they form one well-formed PCMU talk
/// spurt; returns the time from the first to the last.
async fn receive_prompt_packets(socket: &UdpSocket, count: usize) -> Duration {
    let mut buf = [0u8; 1500];
    let mut headers: Vec<RtpHeader> = Vec::new();
    let mut first_at = None;
    while headers.len() < count {
        let (len, _) = timeout(PATIENCE, socket.recv_from(&mut buf))
            .await
            .expect("prompt packets keep coming")
            .expect("receive");
        first_at.get_or_insert_with(Instant::now);
        let p = rtp::parse(&buf[..len]).expect("well-formed RTP");
        assert_eq!(p.header.payload_type, 0, "PCMU");
        assert_eq!(p.payload.len(), 160, "20 ms of G.711");
        if let Some(prev) = headers.last() {
            assert_eq!(p.header.ssrc, prev.ssrc);
            assert_eq!(p.header.sequence, prev.sequence.wrapping_add(1));
            assert_eq!(p.header.timestamp, prev.timestamp.wrapping_add(160));
            assert!(!p.header.marker);
        } else {
            assert!(p.header.marker, "talk spurt starts with the marker bit");
        }
        headers.push(p.header);
    }
    first_at.map_or(Duration::ZERO, |t| t.elapsed())
}

#[tokio::test]
async fn dtmf_key_presses_arrive_once_each_and_prompts_go_to_the_natted_rtp_source() {
    let vtc = UdpSocket::bind((LOCALHOST, 0)).await.expect("bind VTC");
    // The SDP address is wrong (NAT: a private address), and packets come from the SIP
    // signalling source's IP: the task must answer where they come from.
    let sdp_remote = SocketAddr::from(([192, 0, 2, 1], 9));
    let (events, mut rx) = mpsc::unbounded_channel();
    let meters = Meters::default();
    let media = CallMedia::start(
        CallId(7),
        LOCALHOST,
        audio(sdp_remote),
        None,
        PeerGuard {
            signalling_ip: Some(LOCALHOST),
            ..PeerGuard::default()
        },
        events,
        meters.clone(),
    )
    .await
    .expect("start");
    let gateway = media.local_addr();

    let junk: [&[u8]; 4] = [b"", b"\x80", b"hello, this is not RTP", &[0xA0; 12]];
    for datagram in junk {
        vtc.send_to(datagram, gateway).await.expect("send");
    }
    let mut seq = 100;
    for (i, event) in [1u8, 2, 11].into_iter().enumerate() {
        let timestamp = 8000 + 1600 * u32::try_from(i).expect("small");
        let first = RtpHeader {
            marker: true,
            payload_type: TE_PT,
            sequence: seq,
            timestamp,
            ssrc: 0x5EED,
        };
        for packet in key_press_packets(first, event) {
            vtc.send_to(&packet, gateway).await.expect("send");
            seq += 1;
        }
    }

    for digit in ['1', '2', '#'] {
        assert_eq!(
            next_event(&mut rx).await,
            Some((CallId(7), MediaEvent::Dtmf(DtmfDigit(digit))))
        );
    }
    assert!(
        timeout(Duration::from_millis(200), rx.recv())
            .await
            .is_err(),
        "no extra key press reported"
    );

    let counts = meters.stats.snapshot();
    assert_eq!(
        counts.audio_rx_packets, 18,
        "3 key presses x 6 packets; junk not counted"
    );

    media.play(Prompt::EnterConferenceId);
    let elapsed = receive_prompt_packets(&vtc, 10).await;
    assert!(meters.stats.snapshot().audio_tx_packets >= 10);
    // Ten packets span nine 20 ms ticks; allow a loaded machine plenty either way.
    assert!(
        elapsed >= Duration::from_millis(60),
        "paced, not burst: {elapsed:?}"
    );

    media.stop();
    assert_eq!(
        timeout(PATIENCE, rx.recv()).await.expect("task ends"),
        None,
        "the task dropped its event sender"
    );
}

#[tokio::test]
async fn prompts_go_to_the_sdp_address_until_rtp_arrives() {
    let (vtc, media, _rx) = start_beside_vtc(CallId(1), audio).await;
    media.play(Prompt::Goodbye);
    receive_prompt_packets(&vtc, 3).await;
}

#[tokio::test]
async fn nothing_is_sent_while_no_prompt_plays() {
    let (vtc, _media, _rx) = start_beside_vtc(CallId(1), audio).await;
    let mut buf = [0u8; 64];
    assert!(timeout(Duration::from_millis(150), vtc.recv_from(&mut buf))
        .await
        .is_err());
}

#[tokio::test]
async fn stopping_frees_the_port() {
    let (events, _rx) = mpsc::unbounded_channel();
    let media = CallMedia::start(
        CallId(1),
        LOCALHOST,
        audio(SocketAddr::new(LOCALHOST, 9)),
        None,
        PeerGuard::default(),
        events,
        Meters::default(),
    )
    .await
    .expect("start");
    let addr = media.local_addr();
    media.stop();
    let rebound = timeout(PATIENCE, async {
        loop {
            if let Ok(socket) = UdpSocket::bind(addr).await {
                return socket;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(rebound.is_ok(), "port {addr} still bound after stop");
}

#[tokio::test]
async fn a_launched_call_plays_a_prompt_asked_for_before_its_sockets_were_bound() {
    let vtc = UdpSocket::bind((LOCALHOST, 0)).await.expect("bind VTC");
    let (events, _rx) = mpsc::unbounded_channel();
    // As the SIP core does it: no await, and the prompt right after.
    let media = CallMedia::launch(
        CallId(1),
        LOCALHOST,
        audio(vtc.local_addr().expect("addr")),
        None,
        PeerGuard::default(),
        events,
        Meters::default(),
    );
    media.play(Prompt::Goodbye);
    receive_prompt_packets(&vtc, 3).await;
}

#[tokio::test]
async fn a_launched_call_whose_port_is_taken_ends_its_task_without_disturbing_the_caller() {
    let taken = UdpSocket::bind((LOCALHOST, 0)).await.expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let (events, _rx) = mpsc::unbounded_channel();
    let setup = AudioSetup {
        local_port: port,
        ..audio(SocketAddr::new(LOCALHOST, 9))
    };
    let media = CallMedia::launch(
        CallId(2),
        LOCALHOST,
        setup,
        None,
        PeerGuard::default(),
        events,
        Meters::default(),
    );
    assert_eq!(media.local_addr(), SocketAddr::new(LOCALHOST, port));
    let ended = timeout(PATIENCE, async {
        while !media.task.is_finished() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the task should end when its port cannot be bound"
    );
    // Commands to an ended task are dropped quietly.
    media.play(Prompt::Goodbye);
}
