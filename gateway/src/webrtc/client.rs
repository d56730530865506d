//! A browser stand-in in Rust on the same `webrtc` crate: offers what the join page offers (audio
//! `sendrecv`, one `sendonly` video, nine `recvonly` video slots), joins through the HTTP join
//! endpoint, and decodes what the gateway forwards into its slots (real H.264 decoding, counted
//! per slot: pictures, keyframes, the size last decoded). Like a browser it can send REMB and
//! PLI about the slots. Used by the end-to-end tests and by `tessera-load --mode webrtc` to add receive-only
//! browsers to a meeting.
//!
//! Owns its own peer connection and a minimal HTTP/1.1 exchange with the gateway; it must not
//! reach into the gateway's state (it sees only what a browser would).

// A client on the wall clock (it runs against a real gateway, like a browser).
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mixer::codec::h264::H264Decoder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCIceGatheringState;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtp_session::h264_rtp::{is_keyframe, Depacketized, Depacketizer};
use signaling::ice_fragment::{replace_credentials, IceFragment};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler};

use crate::media::engine::forwarding::SLOTS;

/// Why the client could not join.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The WebRTC stack failed.
    #[error("WebRTC: {0}")]
    Stack(String),
    /// The HTTP exchange failed or the gateway refused.
    #[error("join: {0}")]
    Join(String),
}

fn stack(e: impl std::fmt::Display) -> ClientError {
    ClientError::Stack(e.to_string())
}

/// What the client received so far.
#[derive(Debug, Default)]
pub struct Received {
    /// Pictures decoded from the forwarded video, all slots together (without decoding: access
    /// units completed).
    pub frames_decoded: AtomicU64,
    /// Access units that failed to decode.
    pub decode_errors: AtomicU64,
    /// Video RTP packets received.
    pub video_packets: AtomicU64,
    /// Audio RTP packets received.
    pub audio_packets: AtomicU64,
    /// Remote video tracks that started (slots the gateway fills).
    pub video_tracks: AtomicU64,
    /// Pictures decoded, by width and height (with `decode` only): which streams arrived as
    /// sent (a VTC's own size) rather than as a simulcast layer.
    pub decoded_sizes: std::sync::Mutex<std::collections::BTreeMap<(u32, u32), u64>>,
    /// Per forwarded stream (by SSRC, one per slot): what arrived.
    pub slots: Mutex<BTreeMap<u32, SlotSeen>>,
}

/// What arrived in one slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotSeen {
    /// Access units completed.
    pub units: u64,
    /// Of which keyframes.
    pub keyframes: u64,
    /// Width and height of the last picture decoded (with `decode` only).
    pub size: Option<(u32, u32)>,
}

impl Received {
    /// A copy of the per-slot counters.
    pub fn slots(&self) -> BTreeMap<u32, SlotSeen> {
        crate::media::pool::lock(&self.slots).clone()
    }

    fn seen(&self, ssrc: u32, f: impl FnOnce(&mut SlotSeen)) {
        f(crate::media::pool::lock(&self.slots)
            .entry(ssrc)
            .or_default());
    }

    /// Pictures decoded of `size` so far.
    pub fn decoded_of_size(&self, size: (u32, u32)) -> u64 {
        crate::media::pool::lock(&self.decoded_sizes)
            .get(&size)
            .copied()
            .unwrap_or(0)
    }
}

struct Handler {
    gathered: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    received: Arc<Received>,
    decode: bool,
    /// Remote video tracks (for REMB and PLI).
    tracks: Arc<Mutex<Vec<Arc<dyn TrackRemote>>>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            if let Some(tx) = crate::media::pool::lock(&self.gathered).take() {
                let _ = tx.send(());
            }
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        if track.kind().await == RtpCodecKind::Video {
            crate::media::pool::lock(&self.tracks).push(track.clone());
        }
        tokio::spawn(receive(track, self.received.clone(), self.decode));
    }
}

/// A joined client. Dropping it does not leave: call [`leave`](Self::leave).
pub struct Client {
    pc: Arc<dyn PeerConnection>,
    http: SocketAddr,
    /// The session URL (`Location`).
    pub location: String,
    /// What arrived.
    pub received: Arc<Received>,
    /// The gateway's SDP answer.
    pub answer: String,
    tracks: Arc<Mutex<Vec<Arc<dyn TrackRemote>>>>,
    microphone: Arc<webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP>,
    microphone_ssrc: u32,
}

impl Client {
    /// Joins `tenant`/`conference` on the gateway's HTTP address as `name`. With `decode`, every
    /// forwarded picture is decoded (the e2e tests); without, packets are only counted (the load
    /// tests' viewers, so the client's own CPU does not hide the gateway's).
    pub async fn join(
        http: SocketAddr,
        tenant: &str,
        conference: &str,
        name: &str,
        decode: bool,
    ) -> Result<Client, ClientError> {
        let mut media_engine = super::media_engine().map_err(stack)?;
        let registry =
            register_default_interceptors(rtc::interceptor::Registry::new(), &mut media_engine)
                .map_err(stack)?;
        let received = Arc::new(Received::default());
        let tracks = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = oneshot::channel();
        let handler = Arc::new(Handler {
            gathered: std::sync::Mutex::new(Some(tx)),
            received: received.clone(),
            decode,
            tracks: tracks.clone(),
        });
        let settings = SettingEngineBuilder::new()
            .with_include_loopback_candidate(true)
            .build();
        let local: SocketAddr = SocketAddr::new(http.ip(), 0);
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media_engine)
            .with_interceptor_registry(registry)
            .with_setting_engine(settings)
            .with_handler(handler)
            .with_udp_addrs(vec![local])
            .build()
            .await
            .map_err(stack)?;
        // Microphone (sendrecv) and camera (sendonly): transceivers 0 and 1; then the nine
        // receive slots.
        let microphone_ssrc = rand::random();
        let microphone = super::peer::local_track(RtpCodecKind::Audio, "mic", microphone_ssrc);
        let camera = super::peer::local_track(RtpCodecKind::Video, "camera", rand::random());
        pc.add_track(microphone.clone() as Arc<dyn webrtc::media_stream::track_local::TrackLocal>)
            .await
            .map_err(stack)?;
        pc.add_transceiver_from_track(
            camera as Arc<dyn webrtc::media_stream::track_local::TrackLocal>,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Sendonly,
                ..Default::default()
            }),
        )
        .await
        .map_err(stack)?;
        for _ in 0..SLOTS {
            pc.add_transceiver_from_kind(
                RtpCodecKind::Video,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Recvonly,
                    ..Default::default()
                }),
            )
            .await
            .map_err(stack)?;
        }
        let offer = pc.create_offer(None).await.map_err(stack)?;
        pc.set_local_description(offer).await.map_err(stack)?;
        let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
        let offer = pc
            .local_description()
            .await
            .ok_or_else(|| stack("no local description"))?
            .sdp;
        let path = format!(
            "/api/v1/join/{tenant}/{conference}?name={}",
            name.replace(' ', "%20")
        );
        let (status, headers, body) = http_exchange(http, "POST", &path, "application/sdp", &offer)
            .await
            .map_err(|e| ClientError::Join(e.to_string()))?;
        if status != 201 {
            return Err(ClientError::Join(format!("{status}: {body}")));
        }
        let location = headers
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("location")
                    .then(|| v.trim().to_owned())
            })
            .ok_or_else(|| ClientError::Join("no Location".into()))?;
        let answer = RTCSessionDescription::answer(body.clone()).map_err(stack)?;
        pc.set_remote_description(answer).await.map_err(stack)?;
        Ok(Client {
            pc: Arc::new(pc),
            http,
            location,
            received,
            answer: body,
            tracks,
            microphone,
            microphone_ssrc,
        })
    }

    /// Sends a REMB (bandwidth estimate `bps` for all the forwarded streams), as Chromium does.
    pub async fn send_remb(&self, bps: u64) -> Result<(), ClientError> {
        let tracks = crate::media::pool::lock(&self.tracks).clone();
        let mut ssrcs = Vec::new();
        for t in &tracks {
            ssrcs.extend(t.ssrcs().await);
        }
        let track = tracks
            .first()
            .ok_or_else(|| stack("no video received yet"))?;
        let remb = ReceiverEstimatedMaximumBitrate {
            sender_ssrc: 1,
            bitrate: bps as f32,
            ssrcs,
        };
        track.write_rtcp(vec![Box::new(remb)]).await.map_err(stack)
    }

    /// Restarts ICE as a browser does (RFC 9725 §4.3): its new credentials `PATCH`ed as a
    /// trickle-ICE fragment, the gateway's new ones (in the 200's fragment) applied to the
    /// answer in force. Returns the status and the body of the `PATCH`.
    pub async fn restart_ice(&self) -> Result<(u16, String), ClientError> {
        self.pc.restart_ice().await.map_err(stack)?;
        let offer = self.pc.create_offer(None).await.map_err(stack)?;
        self.pc.set_local_description(offer).await.map_err(stack)?;
        let sdp = self
            .pc
            .local_description()
            .await
            .ok_or_else(|| stack("no local description"))?
            .sdp;
        let mine = IceFragment::parse_description(&sdp)
            .map_err(stack)?
            .credentials
            .ok_or_else(|| stack("no credentials in the restart offer"))?;
        let body = format!(
            "a=ice-options:trickle ice2\r\na=ice-ufrag:{}\r\na=ice-pwd:{}\r\n",
            mine.ufrag, mine.pwd
        );
        let (status, _, fragment) = http_exchange(
            self.http,
            "PATCH",
            &self.location,
            "application/trickle-ice-sdpfrag",
            &body,
        )
        .await
        .map_err(|e| ClientError::Join(e.to_string()))?;
        if status != 200 {
            return Ok((status, fragment));
        }
        let theirs = IceFragment::parse(&fragment)
            .map_err(stack)?
            .credentials
            .ok_or_else(|| stack("no credentials in the gateway's fragment"))?;
        let answer = RTCSessionDescription::answer(replace_credentials(&self.answer, &theirs))
            .map_err(stack)?;
        self.pc
            .set_remote_description(answer)
            .await
            .map_err(stack)?;
        Ok((status, fragment))
    }

    /// Talks into the microphone for `duration`: a 440 Hz tone at about -12 dBFS in Opus, one
    /// 20 ms packet every 20 ms (real time, like a microphone).
    pub async fn talk(&self, duration: Duration) -> Result<(), ClientError> {
        use mixer::codec::audio::{AudioCodec, AudioEncoder};
        use webrtc::media_stream::track_local::TrackLocal;
        let mut encoder = AudioEncoder::new(AudioCodec::Opus).map_err(stack)?;
        let ssrc = self.microphone_ssrc;
        let (mut seq, mut ts): (u16, u32) = (rand::random(), rand::random());
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for frame in 0..duration.as_millis() / 20 {
            tick.tick().await;
            let pcm: Vec<i16> = (0..960u32)
                .map(|i| {
                    let t = (frame as f32 * 960.0 + i as f32) / 48_000.0;
                    (8_000.0 * (std::f32::consts::TAU * 440.0 * t).sin()) as i16
                })
                .collect();
            let payload = encoder.encode(&pcm).map_err(stack)?;
            let packet = super::peer::rtp_packet(super::OPUS_PT, seq, ts, ssrc, false, payload);
            self.microphone.write_rtp(packet).await.map_err(stack)?;
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(960);
        }
        Ok(())
    }

    /// Sends a PLI for the forwarded stream `ssrc` (a slot).
    pub async fn request_keyframe(&self, ssrc: u32) -> Result<(), ClientError> {
        let tracks = crate::media::pool::lock(&self.tracks).clone();
        let track = tracks
            .first()
            .ok_or_else(|| stack("no video received yet"))?;
        let pli = PictureLossIndication {
            sender_ssrc: 1,
            media_ssrc: ssrc,
        };
        track.write_rtcp(vec![Box::new(pli)]).await.map_err(stack)
    }

    /// Sends a JSON body to one of the session's URLs (`tiles`, `mute`); returns the status.
    pub async fn post(&self, what: &str, json: &str) -> Result<u16, ClientError> {
        let path = format!("{}/{what}", self.location);
        let (status, ..) = http_exchange(self.http, "POST", &path, "application/json", json)
            .await
            .map_err(|e| ClientError::Join(e.to_string()))?;
        Ok(status)
    }

    /// Leaves (DELETE) and closes the peer connection.
    pub async fn leave(self) -> Result<u16, ClientError> {
        let (status, ..) = http_exchange(self.http, "DELETE", &self.location, "text/plain", "")
            .await
            .map_err(|e| ClientError::Join(e.to_string()))?;
        let _ = self.pc.close().await;
        Ok(status)
    }
}

/// One HTTP/1.1 request with a body (`Connection: close`): status, header block, body.
pub async fn http_exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<(u16, String, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
        .await
        .map_err(|_| std::io::Error::other("no answer in 20 s"))??;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    Ok((status, head.to_owned(), body.to_owned()))
}

/// Reads one remote track: counts audio; depacketizes and (with `decode`) decodes video.
async fn receive(track: Arc<dyn TrackRemote>, received: Arc<Received>, decode: bool) {
    let video = track.kind().await == RtpCodecKind::Video;
    if video {
        received.video_tracks.fetch_add(1, Ordering::Relaxed);
    }
    let mut depacketizer = Depacketizer::new();
    let mut decoder = None;
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else {
            if matches!(event, TrackRemoteEvent::OnEnded) {
                break;
            }
            continue;
        };
        if !video {
            received.audio_packets.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        received.video_packets.fetch_add(1, Ordering::Relaxed);
        let h = &packet.header;
        let Ok(ready) =
            depacketizer.push(h.sequence_number, h.timestamp, h.marker, &packet.payload)
        else {
            continue;
        };
        for item in ready {
            let Depacketized::AccessUnit(au) = item else {
                continue;
            };
            let keyframe = is_keyframe(&au.data);
            received.seen(h.ssrc, |s| {
                s.units += 1;
                s.keyframes += u64::from(keyframe);
            });
            if !decode {
                received.frames_decoded.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let decoder = match &mut decoder {
                Some(d) => d,
                None => match H264Decoder::new() {
                    Ok(d) => decoder.insert(d),
                    Err(_) => return,
                },
            };
            match decoder.decode(&au.data) {
                Ok(Some(picture)) => {
                    received.frames_decoded.fetch_add(1, Ordering::Relaxed);
                    *crate::media::pool::lock(&received.decoded_sizes)
                        .entry((picture.width(), picture.height()))
                        .or_default() += 1;
                    let size = (picture.width(), picture.height());
                    received.seen(h.ssrc, |s| s.size = Some(size));
                }
                Ok(None) => {}
                Err(_) => {
                    received.decode_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}
