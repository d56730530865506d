//! One-touch dial (`docs/domain.md`, One-touch dial): which meeting an invitation is for, and every
//! dial string that reaches it.
//!
//! Owns the choice among the candidates [`signaling::invite`] finds (the first that resolves to
//! a meeting through the directory) and the list of dial strings offered for it: `key.conf` and
//! `conf.key` at the gateway's host, `conf@` each tenant hostname, `<prefix><conf>` at the
//! gateway's host when the tenant has a prefix, and the H.323 aliases `key.conf` and `conf.key`.
//! Every string offered is resolved again before it is returned, so none leads elsewhere. It must
//! not write to the directory; the CLI (`tessera invite parse`) and the admin API
//! (`POST /api/v1/invites/parse`) only format what it returns.

use serde_json::{json, Value};
use signaling::invite;
use signaling::{ConferenceId, DialError, DialString, ResolvedDial, Route, TenantKey};

use crate::directory::{Directory, DirectoryError};

/// The gateway host used when none is given. `.invalid` (RFC 2606) never resolves, so dial
/// strings built with it are visibly placeholders until the operator sets `--gateway-host`.
pub const DEFAULT_GATEWAY_HOST: &str = "tessera.invalid";

/// Why an invitation gave no meeting.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    /// The invitation could not be read or has no video dial details at all.
    #[error(transparent)]
    Parse(#[from] invite::InviteError),
    /// Dial details were found, but none leads to a meeting in the directory.
    #[error("no dial string in the invitation reaches a known meeting ({tried}): {reason}")]
    NoMeeting {
        /// The candidates tried, comma-separated.
        tried: String,
        /// Why the first one failed.
        reason: String,
    },
    /// The details name a tenant (its entry queue) but no conference ID of its meetings.
    #[error("the invitation names tenant {tenant} but none of its meetings ({tried})")]
    TenantOnly {
        /// The tenant.
        tenant: TenantKey,
        /// The candidates tried, comma-separated.
        tried: String,
    },
    /// The gateway host does not make valid dial strings.
    #[error("invalid gateway host {0:?}: expected a host name or IP address")]
    BadGatewayHost(String),
    /// The directory failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The directory failed during a dial-plan lookup.
    #[error(transparent)]
    Lookup(#[from] signaling::LookupError),
}

/// The meeting an invitation is for and how to dial it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationDetails {
    /// The tenant.
    pub tenant: TenantKey,
    /// The meeting's conference ID.
    pub conference_id: ConferenceId,
    /// Every dial string that reaches the meeting, preferred first.
    pub dial_strings: Vec<String>,
}

impl InvitationDetails {
    /// JSON form for `--json` output and the admin API:
    /// `{"tenant", "conference_id", "dial_strings": [...]}`.
    pub fn to_json(&self) -> Value {
        json!({
            "tenant": self.tenant.as_str(),
            "conference_id": self.conference_id.as_str(),
            "dial_strings": self.dial_strings,
        })
    }
}

/// Reads `text` (plain text, HTML, `.eml` or `.ics`), picks the meeting of the first candidate
/// that resolves to one, and lists the dial strings that reach it via `gateway_host`.
pub fn parse_invitation(
    dir: &Directory,
    text: &str,
    gateway_host: &str,
) -> Result<InvitationDetails, InviteError> {
    let host = gateway_host.trim().trim_end_matches('.');
    let host_ok = !host.is_empty()
        && !host.contains('@')
        && DialString::parse(&format!("1234.123456@{host}")).is_ok_and(|d| d.port.is_none());
    if !host_ok {
        return Err(InviteError::BadGatewayHost(gateway_host.to_owned()));
    }
    let invitation = invite::parse(text)?;
    let tried = invitation
        .candidates
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mut first_error: Option<DialError> = None;
    let mut entry_queue: Option<TenantKey> = None;
    for candidate in &invitation.candidates {
        match candidate.resolve(dir) {
            Ok(ResolvedDial {
                tenant,
                conference: Some(conference),
                ..
            }) => {
                let dial_strings = dial_strings(dir, &tenant, &conference, host)?;
                return Ok(InvitationDetails {
                    tenant,
                    conference_id: conference,
                    dial_strings,
                });
            }
            Ok(ResolvedDial { tenant, .. }) => {
                entry_queue.get_or_insert(tenant);
            }
            Err(DialError::Lookup(e)) => return Err(e.into()),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(tenant) = entry_queue {
        return Err(InviteError::TenantOnly { tenant, tried });
    }
    Err(InviteError::NoMeeting {
        tried,
        reason: first_error.map_or_else(|| "no candidate".to_owned(), |e| e.to_string()),
    })
}

/// Every dial string of `docs/domain.md` for the meeting, each checked to resolve back to it.
fn dial_strings(
    dir: &Directory,
    tenant: &TenantKey,
    conference: &ConferenceId,
    host: &str,
) -> Result<Vec<String>, InviteError> {
    let record = dir.tenant(tenant)?;
    let mut forms = vec![
        format!("{tenant}.{conference}@{host}"),
        format!("{conference}.{tenant}@{host}"),
    ];
    if let Some(record) = &record {
        forms.extend(record.hostnames.iter().map(|h| format!("{conference}@{h}")));
        if let Some(prefix) = &record.prefix {
            forms.push(format!("{prefix}{conference}@{host}"));
        }
    }
    forms.push(format!("{tenant}.{conference}"));
    forms.push(format!("{conference}.{tenant}"));
    let mut out: Vec<String> = Vec::new();
    for form in forms {
        let Ok(dial) = DialString::parse(&form) else {
            continue;
        };
        let reaches = match dial.resolve(dir) {
            Ok(r) => {
                r.route != Route::EntryQueue
                    && r.tenant == *tenant
                    && r.conference.as_ref() == Some(conference)
            }
            Err(DialError::Lookup(e)) => return Err(e.into()),
            Err(_) => false,
        };
        if reaches && !out.contains(&form) {
            out.push(form);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::NewTenant;
    use crate::directory::PolicyOverrides;
    use crate::lobby::LobbyPolicy;
    use signaling::DialPrefix;

    fn directory() -> Directory {
        let mut dir = Directory::open_in_memory().unwrap();
        for (key, name, host, prefix, conference) in [
            ("12345678", "Acme", "video.acme.example", "6", "1177958860"),
            (
                "87654321",
                "Globex",
                "video.globex.example",
                "70",
                "2299887766",
            ),
        ] {
            let key = TenantKey::new(key).unwrap();
            dir.add_tenant(&NewTenant {
                key: key.clone(),
                name: name.into(),
                hostnames: vec![host.into()],
                prefix: Some(DialPrefix::new(prefix).unwrap()),
                endpoint_licenses: 10,
                cascade_licenses: 2,
                policy: LobbyPolicy::default(),
            })
            .unwrap();
            dir.add_meeting(
                &key,
                &ConferenceId::new(conference).unwrap(),
                None,
                PolicyOverrides::default(),
            )
            .unwrap();
        }
        dir
    }

    #[test]
    fn first_candidate_that_names_a_meeting_wins_and_every_form_is_listed() {
        let dir = directory();
        let text = "Entry queue: 12345678@t.plcm.vc\nOld: 12345678.9999999999@gw\n\
                    Join: sip:2299887766.87654321@gw.example.com\nAlso 12345678.1177958860@gw";
        let details = parse_invitation(&dir, text, "gw.example.com").unwrap();
        assert_eq!(details.tenant.as_str(), "87654321");
        assert_eq!(details.conference_id.as_str(), "2299887766");
        assert_eq!(
            details.dial_strings,
            [
                "87654321.2299887766@gw.example.com",
                "2299887766.87654321@gw.example.com",
                "2299887766@video.globex.example",
                "702299887766@gw.example.com",
                "87654321.2299887766",
                "2299887766.87654321",
            ]
        );
    }

    #[test]
    fn tenant_only_and_unknown_meetings_are_refused_with_the_reason() {
        let dir = directory();
        let err = parse_invitation(&dir, "Dial 12345678@t.plcm.vc", DEFAULT_GATEWAY_HOST);
        assert!(
            matches!(err, Err(InviteError::TenantOnly { .. })),
            "{err:?}"
        );
        let err = parse_invitation(&dir, "Dial 12345678.1111111111@gw", DEFAULT_GATEWAY_HOST)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown conference 1111111111 for tenant 12345678"),
            "{err}"
        );
        let err = parse_invitation(&dir, "See you there!", DEFAULT_GATEWAY_HOST).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no video dial details found in the invitation"
        );
    }

    #[test]
    fn a_bad_gateway_host_is_refused() {
        let dir = directory();
        for host in ["", "a b", "x@y", "gw:5060", "<gw>"] {
            assert!(
                matches!(
                    parse_invitation(&dir, "12345678.1177958860@gw", host),
                    Err(InviteError::BadGatewayHost(_))
                ),
                "{host:?}"
            );
        }
    }
}
