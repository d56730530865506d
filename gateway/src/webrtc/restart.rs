//! ICE restart of a browser's peer (RFC 9725 §4.3: the browser `PATCH`es a trickle-ICE
//! fragment with new credentials; the answer is the gateway's new credentials and candidates).
//!
//! The `webrtc` stack restarts ICE as the answerer when a renegotiation offer carries new remote
//! credentials, so the restart is the description in force with the browser's new credentials
//! set again, answered; the new local credentials are then read from the answer
//! ([`signaling::ice_fragment`] reads and writes the fragments). DTLS and the media tasks carry
//! on untouched.
//!
//! Owns only that exchange; it must not decide whether a fragment is a restart (the join
//! endpoint does, from the session's current credentials).

use rtc::peer_connection::sdp::RTCSessionDescription;
use signaling::ice_fragment::{
    fragment_of_description, replace_credentials, IceCredentials, IceFragment,
};

use super::peer::{Peer, PeerError};

impl Peer {
    /// The browser's ICE username fragment in force.
    pub async fn remote_ufrag(&self) -> Option<String> {
        let sdp = self.connection().remote_description().await?.sdp;
        IceFragment::parse_description(&sdp)
            .ok()?
            .credentials
            .map(|c| c.ufrag)
    }

    /// Restarts ICE with the browser's new `credentials`; returns the gateway's answer fragment
    /// (its new credentials, every candidate).
    ///
    /// # Errors
    /// The stack refused the renegotiation ([`PeerError::Stack`]), or there is no description in
    /// force yet ([`PeerError::BadOffer`]).
    pub async fn restart_ice(&self, credentials: &IceCredentials) -> Result<String, PeerError> {
        let pc = self.connection();
        let current = pc
            .remote_description()
            .await
            .ok_or_else(|| PeerError::BadOffer("no offer in force".into()))?
            .sdp;
        let offer = RTCSessionDescription::offer(replace_credentials(&current, credentials))
            .map_err(|e| PeerError::BadOffer(e.to_string()))?;
        let stack = |e: webrtc::error::Error| PeerError::Stack(e.to_string());
        pc.set_remote_description(offer).await.map_err(stack)?;
        let answer = pc.create_answer(None).await.map_err(stack)?;
        pc.set_local_description(answer).await.map_err(stack)?;
        let sdp = pc
            .local_description()
            .await
            .ok_or_else(|| PeerError::Stack("no local description".into()))?
            .sdp;
        tracing::info!(ufrag = %credentials.ufrag, "browser ICE restarted");
        fragment_of_description(&sdp).map_err(|e| PeerError::Stack(e.to_string()))
    }
}
