//! A tenant's media encryption policy applied to one INVITE: whether SDES keys may be offered and
//! accepted over the signalling it came on, and whether the call may go ahead in clear text.
//!
//! Owns the decision only; the INVITE handler turns a refusal into the SIP response and the
//! metric, and the SDP negotiation (in `signaling`) decides which streams got keys.

use signaling::sdp::{is_sdes_rtp, NegotiatedSession, SessionDescription};

use std::net::IpAddr;

use signaling::TenantKey;

use super::CallCore;
use crate::directory::{MediaEncryption, MediaPolicy};

/// The reason phrase of the 488 a `required` tenant answers a clear-text call with.
pub(super) const REFUSAL_REASON: &str = "Not Acceptable Here - media encryption required";

/// Why a call to a tenant with `media-encryption = required` cannot go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unencrypted {
    /// The INVITE did not come over TLS and the tenant does not let keys travel in clear text,
    /// so no SRTP keys can be exchanged at all.
    ClearSignalling,
    /// The offer (or what negotiation kept of it) has a stream without SRTP: `RTP/AVP`, or an
    /// SDES line without a usable `a=crypto`.
    ClearOffer,
}

impl Unencrypted {
    /// Text for the `Warning` header and the log line.
    pub(super) fn text(self) -> &'static str {
        match self {
            Unencrypted::ClearSignalling => {
                "media encryption is required: call over TLS (sips:) so SRTP keys can be exchanged"
            }
            Unencrypted::ClearOffer => {
                "media encryption is required: offer RTP/SAVP with a=crypto (SRTP), not clear RTP"
            }
        }
    }

    /// The `Warning` header value from `host`: code 399 (miscellaneous), since RFC 3261 has no
    /// code for "encryption required".
    pub(super) fn warning(self, host: IpAddr) -> String {
        format!("399 {host} \"{}\"", self.text())
    }
}

impl CallCore {
    /// A tenant's media policy. A directory that cannot answer (or a tenant removed mid-call)
    /// counts as `required`: a security policy fails closed.
    pub(super) fn media_policy(&self, tenant: &TenantKey) -> MediaPolicy {
        match self.directory.tenant(tenant) {
            Ok(Some(record)) => record.media,
            _ => MediaPolicy {
                encryption: MediaEncryption::Required,
                sdes_over_clear: false,
            },
        }
    }
}

/// Whether SDES keys may be put in (and accepted from) SDP carried over this signalling: over
/// TLS always; over clear text only when the tenant explicitly allows it, since anyone who reads
/// the SIP could then decrypt the media.
pub(super) fn keys_may_travel(policy: &MediaPolicy, secure_transport: bool) -> bool {
    secure_transport || policy.sdes_over_clear
}

/// The check before negotiation: a `required` tenant refuses a call on which no keys can travel.
pub(super) fn check_signalling(
    policy: &MediaPolicy,
    secure_transport: bool,
) -> Result<(), Unencrypted> {
    if policy.encryption == MediaEncryption::Required && !keys_may_travel(policy, secure_transport)
    {
        return Err(Unencrypted::ClearSignalling);
    }
    Ok(())
}

/// The check after negotiation: a `required` tenant refuses a call if any accepted stream is
/// clear RTP (negotiation accepts an `RTP/AVP` line beside an `RTP/SAVP` one).
pub(super) fn check_negotiated(
    policy: &MediaPolicy,
    negotiated: &NegotiatedSession,
) -> Result<(), Unencrypted> {
    if policy.encryption == MediaEncryption::Required
        && negotiated.streams().any(|stream| stream.srtp.is_none())
    {
        return Err(Unencrypted::ClearOffer);
    }
    Ok(())
}

/// The check on a re-offer within a call, before it is answered (an answer cannot be taken
/// back): a `required` tenant refuses one with an active stream that is not SDES-SRTP with a key.
/// Rejected m-lines (port 0) do not count.
pub(super) fn check_offer(
    policy: &MediaPolicy,
    offer: &SessionDescription,
) -> Result<(), Unencrypted> {
    let clear = |m: &signaling::sdp::text::MediaDescription| {
        m.port != 0 && (!is_sdes_rtp(&m.proto) || m.attribute_values("crypto").next().is_none())
    };
    if policy.encryption == MediaEncryption::Required && offer.media.iter().any(clear) {
        return Err(Unencrypted::ClearOffer);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: MediaPolicy = MediaPolicy {
        encryption: MediaEncryption::Required,
        sdes_over_clear: false,
    };

    #[test]
    fn keys_travel_over_tls_and_over_clear_signalling_only_when_the_tenant_allows() {
        let optional = MediaPolicy::default();
        assert!(keys_may_travel(&optional, true));
        assert!(!keys_may_travel(&optional, false));
        let lax = MediaPolicy {
            sdes_over_clear: true,
            ..optional
        };
        assert!(keys_may_travel(&lax, false));
    }

    #[test]
    fn a_required_tenant_refuses_clear_signalling_unless_keys_may_travel_over_it() {
        assert_eq!(
            check_signalling(&REQUIRED, false),
            Err(Unencrypted::ClearSignalling)
        );
        assert_eq!(check_signalling(&REQUIRED, true), Ok(()));
        let lax = MediaPolicy {
            sdes_over_clear: true,
            ..REQUIRED
        };
        assert_eq!(check_signalling(&lax, false), Ok(()));
        assert_eq!(check_signalling(&MediaPolicy::default(), false), Ok(()));
    }
}
