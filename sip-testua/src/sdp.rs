//! The SDP a test room system offers and what it reads from the answer. Owns only these two
//! texts; negotiation is the gateway's (`signaling::sdp`).

use std::net::{IpAddr, SocketAddr};

use signaling::sdp::SessionDescription;

/// What the gateway's 200 OK said about media.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Where the gateway receives audio RTP.
    pub audio: SocketAddr,
    /// Where it receives video RTP.
    pub video: SocketAddr,
    /// The H.264 payload type of the answer (what the gateway sends with).
    pub video_pt: u8,
    /// The answer as text (for failure messages).
    pub sdp: String,
}

/// The media addresses and the H.264 payload type of an SDP answer.
pub fn parse_answer(text: &str) -> Result<Answer, String> {
    let sdp = SessionDescription::parse(text).map_err(|e| format!("unparsable SDP: {e}"))?;
    let (audio, _) = media_address(&sdp, "audio")?;
    let (video, video_pt) = media_address(&sdp, "video")?;
    Ok(Answer {
        audio,
        video,
        video_pt: video_pt.ok_or("no payload type on the video m-line")?,
        sdp: text.to_owned(),
    })
}

/// Where an SDP answer to [`audio_offer`] receives audio RTP.
pub fn parse_audio_answer(text: &str) -> Result<SocketAddr, String> {
    let sdp = SessionDescription::parse(text).map_err(|e| format!("unparsable SDP: {e}"))?;
    media_address(&sdp, "audio").map(|(addr, _)| addr)
}

/// The address of `kind`'s m-line (its own c= or the session's) and its first payload type.
fn media_address(sdp: &SessionDescription, kind: &str) -> Result<(SocketAddr, Option<u8>), String> {
    let session_ip = sdp.connection.as_ref().and_then(|c| c.ip());
    let m = sdp
        .media
        .iter()
        .find(|m| m.media == kind)
        .ok_or_else(|| format!("no {kind} m-line in the answer"))?;
    if m.port == 0 {
        return Err(format!("the answer rejected {kind} (port 0)"));
    }
    let ip: IpAddr = m
        .connection
        .as_ref()
        .and_then(|c| c.ip())
        .or(session_ip)
        .ok_or_else(|| format!("no c= address for {kind}"))?;
    let pt = m.formats.first().and_then(|f| f.parse().ok());
    Ok((SocketAddr::new(ip, m.port), pt))
}

/// The offer of a caller without video (a phone, a voice-only room system): PCMU +
/// telephone-event at `audio_port`, no rtcp-mux.
pub fn audio_offer(audio_port: u16) -> String {
    offer_with_audio(audio_port, false)
}

/// An offer's session lines and its audio section, PCMU + telephone-event at `audio_port`
/// (with `a=rtcp-mux` when `rtcp_mux`): what every caller here offers first.
fn offer_with_audio(audio_port: u16, rtcp_mux: bool) -> String {
    let mux = if rtcp_mux { "a=rtcp-mux\r\n" } else { "" };
    format!(
        "v=0\r\n\
         o=tessera-testua 1 1 IN IP4 127.0.0.1\r\n\
         s=tessera-testua\r\n\
         c=IN IP4 127.0.0.1\r\n\
         t=0 0\r\n\
         m=audio {audio_port} RTP/AVP 0 101\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-15\r\n\
         {mux}\
         a=sendrecv\r\n"
    )
}

/// The offer of a VTC with PCMU + telephone-event and H.264 constrained baseline level 3.1
/// (`42e01f`, mode 1, `b=AS:2000`) with NACK, PLI and TMMBR (`ccm tmmbr`, as Polycom and Cisco
/// rooms offer), rtcp-mux, its media at the given ports.
pub fn vtc_offer(audio_port: u16, video_port: u16) -> String {
    vtc_offer_with(audio_port, video_port, "42e01f", 2000)
}

/// [`vtc_offer`] with another H.264 `profile-level-id` (six hex digits) and video `b=AS`
/// (kbit/s): `42e028` and 4000 make a room system that takes 1080p30.
pub fn vtc_offer_with(
    audio_port: u16,
    video_port: u16,
    profile_level_id: &str,
    video_kbps: u32,
) -> String {
    format!(
        "{}\
         m=video {video_port} RTP/AVP 96\r\n\
         b=AS:{video_kbps}\r\n\
         a=rtpmap:96 H264/90000\r\n\
         a=fmtp:96 profile-level-id={profile_level_id};packetization-mode=1\r\n\
         a=rtcp-fb:96 nack\r\n\
         a=rtcp-fb:96 nack pli\r\n\
         a=rtcp-fb:96 ccm tmmbr\r\n\
         a=rtcp-mux\r\n\
         a=sendrecv\r\n",
        offer_with_audio(audio_port, true)
    )
}

/// A room system's answer to `offer` (a gateway's offer: audio then video): PCMU and the
/// offered H.264 payload type (constrained baseline 3.1, mode 1), rtcp-mux, media at the given
/// ports. Fails when the offer has no PCMU or no H.264.
pub fn vtc_answer(offer: &str, audio_port: u16, video_port: u16) -> Result<String, String> {
    let sdp = SessionDescription::parse(offer).map_err(|e| format!("unparsable offer: {e}"))?;
    let section = |kind: &str| {
        sdp.media
            .iter()
            .find(|m| m.media == kind)
            .ok_or_else(|| format!("no {kind} m-line in the offer"))
    };
    if !section("audio")?.formats.iter().any(|f| f == "0") {
        return Err("the offer has no PCMU".to_owned());
    }
    let video = section("video")?;
    let pt = video
        .attributes
        .iter()
        .filter(|a| a.name == "rtpmap")
        .filter_map(|a| a.value.as_deref())
        .find(|v| v.to_ascii_uppercase().contains("H264/90000"))
        .and_then(|v| v.split_whitespace().next())
        .ok_or("the offer has no H.264")?
        .to_owned();
    Ok(format!(
        "v=0\r\n\
         o=tessera-testua 2 1 IN IP4 127.0.0.1\r\n\
         s=tessera-testua\r\n\
         c=IN IP4 127.0.0.1\r\n\
         t=0 0\r\n\
         m=audio {audio_port} RTP/AVP 0\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtcp-mux\r\n\
         a=sendrecv\r\n\
         m=video {video_port} RTP/AVP {pt}\r\n\
         a=rtpmap:{pt} H264/90000\r\n\
         a=fmtp:{pt} profile-level-id=42e01f;packetization-mode=1\r\n\
         a=rtcp-fb:{pt} nack\r\n\
         a=rtcp-fb:{pt} nack pli\r\n\
         a=rtcp-mux\r\n\
         a=sendrecv\r\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_addresses_come_from_media_or_session_connection() {
        let answer = "v=0\r\no=gw 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
                      m=audio 20000 RTP/AVP 0\r\n\
                      m=video 20002 RTP/AVP 97\r\nc=IN IP4 192.0.2.2\r\n";
        let a = parse_answer(answer).unwrap();
        assert_eq!(a.audio, "192.0.2.1:20000".parse().unwrap());
        assert_eq!(a.video, "192.0.2.2:20002".parse().unwrap());
        assert_eq!(a.video_pt, 97);
    }

    #[test]
    fn rejected_video_is_an_error() {
        let answer = "v=0\r\no=gw 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
                      m=audio 20000 RTP/AVP 0\r\nm=video 0 RTP/AVP 97\r\n";
        assert_eq!(
            parse_answer(answer).unwrap_err(),
            "the answer rejected video (port 0)"
        );
    }

    #[test]
    fn the_offer_parses_and_offers_h264_with_rtcp_mux_on_both_streams() {
        let offer = vtc_offer(4000, 4002);
        let sdp = SessionDescription::parse(&offer).unwrap();
        assert_eq!(sdp.media.len(), 2);
        assert_eq!((sdp.media[0].port, sdp.media[1].port), (4000, 4002));
        assert!(offer.contains("H264/90000"));
        assert_eq!(offer.matches("a=rtcp-mux").count(), 2);
        assert!(offer.contains("b=AS:2000\r\n") && offer.contains("profile-level-id=42e01f;"));
        let fhd = vtc_offer_with(4000, 4002, "42e028", 4000);
        SessionDescription::parse(&fhd).unwrap();
        assert!(fhd.contains("b=AS:4000\r\n") && fhd.contains("profile-level-id=42e028;"));
    }
}
