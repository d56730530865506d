//! The call's SRTP boundary: every datagram of an SDES stream is unprotected before anything
//! else looks at it, and every packet we send is protected as it leaves.
//!
//! Owns which stream is encrypted and what happens when keys cannot be used (nothing flows:
//! never a fall-back to clear text). The contexts themselves are [`crate::srtp`]'s; latching,
//! parsing and counting are the machine's.

use tracing::warn;

use super::{SocketId, Transmit};
use crate::srtp::{MediaKeys, SrtpError, SrtpKeys, SrtpStream};

/// One stream's protection.
#[derive(Debug)]
enum StreamProtection {
    /// Plain RTP/AVP.
    Clear,
    /// SDES SRTP.
    Srtp(Box<SrtpStream>),
    /// Keys the crypto library refused: everything is dropped.
    Refused,
}

impl StreamProtection {
    fn new(cname: &str, keys: Option<&SrtpKeys>) -> Self {
        match keys.map(SrtpStream::new) {
            None => StreamProtection::Clear,
            Some(Ok(stream)) => StreamProtection::Srtp(Box::new(stream)),
            Some(Err(e)) => {
                warn!(%cname, error = %e, "SRTP keys refused; the stream carries nothing");
                StreamProtection::Refused
            }
        }
    }
}

/// Both streams' protection.
#[derive(Debug)]
pub(super) struct Protection {
    audio: StreamProtection,
    video: StreamProtection,
}

impl Protection {
    pub(super) fn new(cname: &str, keys: &MediaKeys) -> Self {
        Protection {
            audio: StreamProtection::new(cname, keys.audio.as_ref()),
            video: StreamProtection::new(cname, keys.video.as_ref()),
        }
    }

    fn stream(&mut self, socket: SocketId) -> &mut StreamProtection {
        match socket {
            SocketId::AudioRtp | SocketId::AudioRtcp => &mut self.audio,
            SocketId::VideoRtp | SocketId::VideoRtcp => &mut self.video,
        }
    }

    /// The plain packet of a datagram that arrived on `socket`: borrowed when the stream is
    /// clear, decrypted when it is SRTP.
    ///
    /// # Errors
    /// Why an SRTP datagram does not authenticate (the caller drops and counts it).
    pub(super) fn unprotect<'a>(
        &mut self,
        socket: SocketId,
        datagram: &'a [u8],
    ) -> Result<std::borrow::Cow<'a, [u8]>, SrtpError> {
        match self.stream(socket) {
            StreamProtection::Clear => Ok(datagram.into()),
            StreamProtection::Srtp(srtp) => srtp
                .unprotect(datagram, is_rtcp_socket(socket))
                .map(Into::into),
            StreamProtection::Refused => Err(SrtpError::Crypto("no usable keys".into())),
        }
    }

    /// `transmit` as it goes on the wire; `None` when it cannot be protected (dropped).
    pub(super) fn protect(&mut self, cname: &str, transmit: Transmit) -> Option<Transmit> {
        let socket = transmit.socket;
        match self.stream(socket) {
            StreamProtection::Clear => Some(transmit),
            StreamProtection::Srtp(srtp) => {
                match srtp.protect(&transmit.bytes, is_rtcp_socket(socket)) {
                    Ok(bytes) => Some(Transmit { bytes, ..transmit }),
                    Err(e) => {
                        warn!(%cname, error = %e, "packet could not be protected; not sent");
                        None
                    }
                }
            }
            StreamProtection::Refused => None,
        }
    }
}

fn is_rtcp_socket(socket: SocketId) -> bool {
    matches!(socket, SocketId::AudioRtcp | SocketId::VideoRtcp)
}
