//! A call's UDP sockets: each stream's RTP port and, when it can be bound, the RTCP port after
//! it, addressed by the state machine's [`SocketId`].
//!
//! Owns the sockets only; where packets go is the state machine's decision.

use std::future::pending;
use std::io;
use std::net::{IpAddr, SocketAddr};

use rtp_session::call::{SocketId, Transmit};
use tokio::net::UdpSocket;
use tracing::{debug, warn};

use crate::calls::api::{AudioSetup, CallId, VideoSetup};

/// One stream's sockets.
#[derive(Debug)]
pub(super) struct StreamSockets {
    pub(super) rtp: UdpSocket,
    /// On the next port (absent for ephemeral ports or when it was taken).
    pub(super) rtcp: Option<UdpSocket>,
}

impl StreamSockets {
    /// Binds `ip:port` and, when `port` is not 0, `ip:port+1` for RTCP (a taken RTCP port only
    /// leaves the stream rtcp-mux only).
    pub(super) async fn bind(call: CallId, ip: IpAddr, port: u16) -> io::Result<StreamSockets> {
        let rtp = UdpSocket::bind(SocketAddr::new(ip, port)).await?;
        let rtcp = match port.checked_add(1) {
            Some(rtcp_port) if port != 0 => {
                match UdpSocket::bind(SocketAddr::new(ip, rtcp_port)).await {
                    Ok(socket) => Some(socket),
                    Err(e) => {
                        warn!(%call, port = rtcp_port, error = %e, "RTCP port not bound; rtcp-mux only");
                        None
                    }
                }
            }
            _ => None,
        };
        Ok(StreamSockets { rtp, rtcp })
    }
}

/// The call's sockets.
#[derive(Debug)]
pub(super) struct Sockets {
    pub(super) audio: StreamSockets,
    pub(super) video: Option<StreamSockets>,
}

impl Sockets {
    /// Binds the audio stream's sockets and, with `video`, the video stream's.
    pub(super) async fn bind(
        call: CallId,
        ip: IpAddr,
        audio: &AudioSetup,
        video: Option<&VideoSetup>,
    ) -> io::Result<Sockets> {
        let audio = StreamSockets::bind(call, ip, audio.local_port).await?;
        let video = match video {
            Some(v) => Some(StreamSockets::bind(call, ip, v.local_port).await?),
            None => None,
        };
        Ok(Sockets { audio, video })
    }

    fn socket(&self, id: SocketId) -> Option<&UdpSocket> {
        match id {
            SocketId::AudioRtp => Some(&self.audio.rtp),
            SocketId::AudioRtcp => self.audio.rtcp.as_ref(),
            SocketId::VideoRtp => self.video.as_ref().map(|v| &v.rtp),
            SocketId::VideoRtcp => self.video.as_ref().and_then(|v| v.rtcp.as_ref()),
        }
    }

    /// Sends one datagram; `false` if it could not be.
    pub(super) async fn send(&self, call: CallId, transmit: &Transmit) -> bool {
        let Some(socket) = self.socket(transmit.socket) else {
            return false;
        };
        match socket.send_to(&transmit.bytes, transmit.to).await {
            Ok(_) => true,
            Err(e) => {
                debug!(%call, to = %transmit.to, error = %e, "send error");
                false
            }
        }
    }

    /// The next datagram on `id`, or never when there is no such socket.
    pub(super) async fn recv(
        &self,
        id: SocketId,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr)> {
        match self.socket(id) {
            Some(s) => s.recv_from(buf).await,
            None => pending().await,
        }
    }
}
