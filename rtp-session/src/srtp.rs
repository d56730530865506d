//! SRTP and SRTCP (RFC 3711) for one stream of an SDES call: the two one-way contexts (ours
//! protects what we send, the peer's unprotects what it sends) over webrtc-rs's sans-IO
//! `rtc-srtp`, with replay protection on what arrives.
//!
//! Owns key material, the contexts and telling RTP from RTCP on a muxed port. It must not
//! negotiate keys (SDP does, in `signaling`), draw random numbers or decide what a packet that
//! fails means ([`CallMedia`](crate::CallMedia) drops and counts it).

use std::fmt;
use std::sync::OnceLock;

use rtc_srtp::context::Context;
use rtc_srtp::crypto::providers::RingProvider;
use rtc_srtp::crypto::RTCCryptoProvider;
use rtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
pub use rtc_srtp::protection_profile::ProtectionProfile;

use crate::rtcp;

/// Received packets a replayed sequence number is recognised within (video bursts reorder).
const REPLAY_WINDOW: usize = 512;

/// Why SRTP keys cannot be used or a packet cannot be protected or unprotected.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SrtpError {
    /// A master key and salt is not the length the profile needs.
    #[error("{profile:?} needs {expected} bytes of master key and salt, got {got}")]
    KeyLength {
        /// The profile.
        profile: ProtectionProfile,
        /// Bytes it needs.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// The crypto library refused (a packet that does not authenticate, a replay, a context
    /// that could not be built).
    #[error("SRTP: {0}")]
    Crypto(String),
}

/// One stream's SDES keys: the profile and each side's master key followed by its salt.
#[derive(Clone)]
pub struct SrtpKeys {
    profile: ProtectionProfile,
    local_master: Vec<u8>,
    remote_master: Vec<u8>,
}

// Keys stay out of logs.
impl fmt::Debug for SrtpKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKeys")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl SrtpKeys {
    /// Keys for `profile`: ours (`local_master`, protects what we send) and the peer's.
    ///
    /// # Errors
    /// [`SrtpError::KeyLength`] when either is not key length + salt length of the profile.
    pub fn new(
        profile: ProtectionProfile,
        local_master: Vec<u8>,
        remote_master: Vec<u8>,
    ) -> Result<SrtpKeys, SrtpError> {
        let expected = profile.key_len() + profile.salt_len();
        for got in [local_master.len(), remote_master.len()] {
            if got != expected {
                return Err(SrtpError::KeyLength {
                    profile,
                    expected,
                    got,
                });
            }
        }
        Ok(SrtpKeys {
            profile,
            local_master,
            remote_master,
        })
    }
}

/// The SDES keys of a call's streams; the default is clear RTP on both.
#[derive(Debug, Clone, Default)]
pub struct MediaKeys {
    /// The audio stream's keys.
    pub audio: Option<SrtpKeys>,
    /// The video stream's keys.
    pub video: Option<SrtpKeys>,
}

/// The crypto provider (ring), built once: it holds no keys, only the algorithm table.
fn provider() -> &'static dyn RTCCryptoProvider {
    static PROVIDER: OnceLock<RingProvider> = OnceLock::new();
    PROVIDER.get_or_init(RingProvider::new)
}

/// The two contexts of one stream.
pub struct SrtpStream {
    outbound: Context,
    inbound: Context,
}

impl fmt::Debug for SrtpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SrtpStream(<keys>)")
    }
}

impl SrtpStream {
    /// The contexts for `keys`.
    ///
    /// # Errors
    /// [`SrtpError::Crypto`] if the crypto library refuses the keys or profile.
    pub fn new(keys: &SrtpKeys) -> Result<SrtpStream, SrtpError> {
        let crypto = provider().crypto();
        let key_len = keys.profile.key_len();
        let context = |master: &[u8], inbound: bool| {
            let (key, salt) = master.split_at(key_len);
            let (srtp, srtcp) = if inbound {
                (
                    Some(srtp_replay_protection(REPLAY_WINDOW)),
                    Some(srtcp_replay_protection(REPLAY_WINDOW)),
                )
            } else {
                (None, None)
            };
            Context::new(key, salt, keys.profile, srtp, srtcp, crypto)
                .map_err(|e| SrtpError::Crypto(e.to_string()))
        };
        Ok(SrtpStream {
            outbound: context(&keys.local_master, false)?,
            inbound: context(&keys.remote_master, true)?,
        })
    }

    /// The plain packet of a datagram from the peer; `rtcp_socket` says it came on the RTCP
    /// port (else RTCP is told from RTP by RFC 5761 §4).
    ///
    /// # Errors
    /// [`SrtpError::Crypto`] when it does not authenticate, is a replay or is not SRTP at all.
    pub fn unprotect(&mut self, datagram: &[u8], rtcp_socket: bool) -> Result<Vec<u8>, SrtpError> {
        let plain = if rtcp_socket || rtcp::is_rtcp(datagram) {
            self.inbound.decrypt_rtcp(datagram)
        } else {
            self.inbound.decrypt_rtp(datagram)
        };
        plain
            .map(|b| b.to_vec())
            .map_err(|e| SrtpError::Crypto(e.to_string()))
    }

    /// The datagram that carries `packet` (RTP or RTCP, told apart as in
    /// [`unprotect`](Self::unprotect)).
    ///
    /// # Errors
    /// [`SrtpError::Crypto`] when the packet is too short to be RTP/RTCP.
    pub fn protect(&mut self, packet: &[u8], rtcp_socket: bool) -> Result<Vec<u8>, SrtpError> {
        let protected = if rtcp_socket || rtcp::is_rtcp(packet) {
            self.outbound.encrypt_rtcp(packet)
        } else {
            self.outbound.encrypt_rtp(packet)
        };
        protected
            .map(|b| b.to_vec())
            .map_err(|e| SrtpError::Crypto(e.to_string()))
    }
}
