//! The Tessera-to-Tessera cascade marker: a session-level `a=tessera-cascade:<version>` that a
//! Tessera node puts in the offer of a cascade link it dials and in the answer to an offer that
//! carries it. Only when both the offer and the answer carry a version we speak is the link a
//! Tessera link (separate speaker streams and a roster body); any other far end — a Poly, Cisco or
//! Pexip bridge, an older Tessera — never sees or sends the marker and the link stays a plain
//! single-speaker cascade.
//!
//! Owns the attribute's name, its value grammar (a decimal version, surrounding spaces allowed) and
//! the both-ends rule. It must not decide what a Tessera link carries (that is the gateway's).

use super::text::{Attribute, SessionDescription};

/// The attribute's name (`a=tessera-cascade:1`).
pub const ATTRIBUTE: &str = "tessera-cascade";

/// The link protocol version this build speaks (the INFO roster body format of
/// `docs/cascades.md` and one video stream per forwarded speaker).
pub const VERSION: u32 = 1;

/// Adds `a=tessera-cascade:1` at session level, replacing any marker already there (so offering
/// twice, e.g. in a re-INVITE, leaves one line).
pub fn advertise(sdp: &mut SessionDescription) {
    sdp.attributes
        .retain(|a| !a.name.eq_ignore_ascii_case(ATTRIBUTE));
    sdp.attributes
        .push(Attribute::new(ATTRIBUTE, VERSION.to_string()));
}

/// The version the description advertises: the first session-level marker whose value is a
/// decimal number; `None` when there is none (a foreign bridge) or it is not a number.
pub fn advertised(sdp: &SessionDescription) -> Option<u32> {
    sdp.attribute_values(ATTRIBUTE)
        .find_map(|v| v.trim().parse::<u32>().ok())
}

/// Whether the far end's description makes this a Tessera link: it advertises the version we
/// speak. (A later version is not assumed compatible: the link falls back to a plain cascade.)
pub fn speaks_ours(sdp: &SessionDescription) -> bool {
    advertised(sdp) == Some(VERSION)
}

/// Whether an offer/answer pair makes a Tessera link: both sides advertise our version.
pub fn is_tessera_link(offer: &SessionDescription, answer: &SessionDescription) -> bool {
    speaks_ours(offer) && speaks_ours(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BRIDGE_OFFER: &str = "v=0\r\no=rmx 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\n\
        t=0 0\r\nm=audio 20000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n\
        m=video 20002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";

    #[test]
    fn a_foreign_bridge_offer_is_not_a_tessera_link() {
        let offer = SessionDescription::parse(BRIDGE_OFFER).unwrap();
        assert_eq!(advertised(&offer), None);
        let mut ours = offer.clone();
        advertise(&mut ours);
        assert!(!is_tessera_link(&offer, &ours));
        assert!(!is_tessera_link(&ours, &offer));
        assert!(is_tessera_link(&ours, &ours));
    }

    #[test]
    fn advertising_twice_leaves_one_marker_at_session_level() {
        let mut sdp = SessionDescription::parse(BRIDGE_OFFER).unwrap();
        advertise(&mut sdp);
        advertise(&mut sdp);
        let text = sdp.to_string();
        assert_eq!(text.matches("a=tessera-cascade:1\r\n").count(), 1);
        let media_start = text.find("m=").unwrap();
        assert!(text.find("a=tessera-cascade").unwrap() < media_start);
    }

    #[test]
    fn a_later_or_malformed_version_falls_back() {
        for line in [
            "a=tessera-cascade:2",
            "a=tessera-cascade:x",
            "a=tessera-cascade",
        ] {
            let text = BRIDGE_OFFER.replace("t=0 0\r\n", &format!("t=0 0\r\n{line}\r\n"));
            let sdp = SessionDescription::parse(&text).unwrap();
            assert!(!speaks_ours(&sdp), "{line}");
        }
    }

    proptest! {
        /// Whatever the marker's value, reading it never panics, and a description we advertise
        /// in survives serialising and re-parsing as a Tessera link.
        #[test]
        fn the_marker_survives_a_round_trip(value in "[ -~]{0,12}", extra in 0u8..3) {
            let text = BRIDGE_OFFER.replace(
                "t=0 0\r\n",
                &format!("t=0 0\r\na=tessera-cascade:{value}\r\n"),
            );
            if let Ok(mut sdp) = SessionDescription::parse(&text) {
                let _ = advertised(&sdp);
                for _ in 0..=extra {
                    advertise(&mut sdp);
                }
                let again = SessionDescription::parse(&sdp.to_string()).unwrap();
                prop_assert_eq!(advertised(&again), Some(VERSION));
                prop_assert_eq!(again.attribute_values(ATTRIBUTE).count(), 1);
            }
        }
    }
}
