//! What the gateway reads from a browser's WebRTC offer before handing it to the WebRTC stack:
//! whether it carries the codecs the gateway needs (Opus; H.264 with packetization-mode 1),
//! each video m-line's direction (the `recvonly` ones are the receive slots, in order), the rids
//! of a simulcast publication, and the payload type a description maps an encoding to.
//!
//! A line scanner, not a full SDP grammar (the WebRTC stack parses the whole description): it
//! must accept whatever a browser sends and refuse, with a reason, what the gateway cannot
//! serve. Owns only this reading; it must not negotiate.

/// Why an offer cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    /// Not an SDP description (no `v=0` first line).
    #[error("not an SDP description")]
    NotSdp,
    /// Larger than [`MAX_OFFER`] bytes.
    #[error("the offer is larger than {MAX_OFFER} bytes")]
    TooLarge,
    /// No Opus audio offered.
    #[error("no Opus audio offered")]
    NoOpus,
    /// No H.264 video with packetization-mode 1 offered.
    #[error("no H.264 (packetization-mode 1) video offered")]
    NoH264,
}

/// Largest offer read (a browser's with eleven m-lines is about 20 kB).
pub const MAX_OFFER: usize = 256 * 1024;

/// One video m-line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VideoLine {
    /// Its `a=mid`, if any.
    pub mid: Option<String>,
    /// `a=recvonly`: a receive slot.
    pub recvonly: bool,
    /// The rids it sends (`a=rid:<id> send`), in order.
    pub send_rids: Vec<String>,
}

/// What the gateway needs from an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserOffer {
    /// The video m-lines, in order.
    pub video: Vec<VideoLine>,
}

impl BrowserOffer {
    /// Reads `sdp`.
    ///
    /// # Errors
    /// See [`OfferError`].
    pub fn parse(sdp: &str) -> Result<BrowserOffer, OfferError> {
        if sdp.len() > MAX_OFFER {
            return Err(OfferError::TooLarge);
        }
        if !sdp.trim_start().starts_with("v=0") {
            return Err(OfferError::NotSdp);
        }
        if payload_type(sdp, "opus/48000").is_none() {
            return Err(OfferError::NoOpus);
        }
        if !has_h264_mode1(sdp) {
            return Err(OfferError::NoH264);
        }
        let mut video: Vec<VideoLine> = Vec::new();
        let mut in_video = false;
        for line in sdp.lines().map(str::trim) {
            if let Some(media) = line.strip_prefix("m=") {
                in_video = media.starts_with("video");
                if in_video {
                    video.push(VideoLine::default());
                }
                continue;
            }
            let (true, Some(current)) = (in_video, video.last_mut()) else {
                continue;
            };
            if line == "a=recvonly" {
                current.recvonly = true;
            } else if let Some(mid) = line.strip_prefix("a=mid:") {
                current.mid = Some(mid.trim().to_owned());
            } else if let Some(rid) = line.strip_prefix("a=rid:") {
                let mut parts = rid.split_whitespace();
                if let (Some(id), Some("send")) = (parts.next(), parts.next()) {
                    current.send_rids.push(id.to_owned());
                }
            }
        }
        Ok(BrowserOffer { video })
    }
}

/// The payload type `sdp` maps `encoding` (`name/clock`, any case, e.g. `opus/48000`) to.
pub fn payload_type(sdp: &str, encoding: &str) -> Option<u8> {
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("a=rtpmap:"))
        .filter_map(|l| l.split_once(' '))
        .find(|(_, name)| {
            name.get(..encoding.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(encoding))
        })
        .and_then(|(pt, _)| pt.trim().parse().ok())
}

/// Whether some H.264 payload type of `sdp` has `packetization-mode=1`.
fn has_h264_mode1(sdp: &str) -> bool {
    let h264: Vec<&str> = sdp
        .lines()
        .filter_map(|l| l.trim().strip_prefix("a=rtpmap:"))
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, name)| {
            name.get(..10)
                .is_some_and(|n| n.eq_ignore_ascii_case("h264/90000"))
        })
        .map(|(pt, _)| pt.trim())
        .collect();
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("a=fmtp:"))
        .filter_map(|l| l.split_once(' '))
        .any(|(pt, params)| h264.contains(&pt.trim()) && params.contains("packetization-mode=1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\na=sendrecv\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 102 108\r\na=mid:1\r\na=rtpmap:108 H264/90000\r\n\
        a=fmtp:108 packetization-mode=0\r\na=rtpmap:102 H264/90000\r\n\
        a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
        a=sendonly\r\na=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=simulcast:send q;h;f\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=mid:2\r\na=recvonly\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=mid:3\r\na=recvonly\r\n";

    #[test]
    fn a_browser_offer_gives_its_simulcast_rids_and_receive_slots() {
        let offer = BrowserOffer::parse(OFFER).unwrap();
        assert_eq!(offer.video.len(), 3);
        assert_eq!(offer.video[0].send_rids, ["q", "h", "f"]);
        assert!(!offer.video[0].recvonly);
        assert!(offer.video[1].recvonly && offer.video[2].recvonly);
        assert_eq!(offer.video[2].mid.as_deref(), Some("3"));
        assert_eq!(payload_type(OFFER, "opus/48000"), Some(111));
        assert_eq!(payload_type(OFFER, "H264/90000"), Some(108));
    }

    #[test]
    fn offers_without_what_the_gateway_needs_are_refused_with_the_reason() {
        assert_eq!(BrowserOffer::parse("hello"), Err(OfferError::NotSdp));
        let no_opus = OFFER.replace("opus/48000/2", "G722/8000");
        assert_eq!(BrowserOffer::parse(&no_opus), Err(OfferError::NoOpus));
        let mode0 = OFFER.replace("packetization-mode=1", "packetization-mode=0");
        assert_eq!(BrowserOffer::parse(&mode0), Err(OfferError::NoH264));
        let huge = format!("v=0\r\n{}", "a=x\r\n".repeat(MAX_OFFER));
        assert_eq!(BrowserOffer::parse(&huge), Err(OfferError::TooLarge));
    }
}
