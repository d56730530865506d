//! The JSON bodies of the admin API, as types: what handlers deserialize and serialize, and what
//! the OpenAPI document describes (one definition for both, so they cannot drift).
//!
//! Owns the wire shapes only. Every value is validated by the directory or the id types, never
//! here: bodies carry strings and numbers, and handlers pass them to the same `Directory` methods
//! the CLI calls.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::directory::{self, MediaEncryption};
use crate::lobby::{LobbyPolicy, ParticipantClass, WhoCanBypass};

/// A closed set of names as a string schema with `enum` values, from the type's own `ALL`.
fn names_schema(names: impl IntoIterator<Item = &'static str>, what: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(what))
        .enum_values(Some(names))
        .into()
}

impl PartialSchema for WhoCanBypass {
    fn schema() -> RefOr<Schema> {
        names_schema(
            WhoCanBypass::ALL.iter().map(|w| w.as_str()),
            "Who can bypass the lobby.",
        )
    }
}

impl ToSchema for WhoCanBypass {}

impl PartialSchema for MediaEncryption {
    fn schema() -> RefOr<Schema> {
        names_schema(
            MediaEncryption::ALL.iter().map(|m| m.as_str()),
            "Whether a tenant's calls must carry encrypted (SRTP) media.",
        )
    }
}

impl ToSchema for MediaEncryption {}

impl PartialSchema for ParticipantClass {
    fn schema() -> RefOr<Schema> {
        names_schema(
            ParticipantClass::ALL.iter().map(|c| c.as_str()),
            "A participant's trust class.",
        )
    }
}

impl ToSchema for ParticipantClass {}

/// `{"error": "..."}`, the body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
}

/// A tenant, exactly as `Tenant::to_json` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tenant {
    /// Tenant key (4-12 digits).
    pub key: String,
    /// Display name.
    pub name: String,
    /// Hostnames naming the tenant (`conf@HOST`), lower case.
    pub hostnames: Vec<String>,
    /// Dial prefix, if any.
    pub prefix: Option<String>,
    /// Concurrent endpoint ports.
    pub endpoint_licenses: u32,
    /// Concurrent cascade ports.
    pub cascade_licenses: u32,
    /// Default for who can bypass the lobby.
    pub who_can_bypass: WhoCanBypass,
    /// Default for phone callers bypassing the lobby.
    pub callers_bypass: bool,
    /// Default for untrusted participants starting a meeting.
    pub anonymous_can_start: bool,
    /// Trusted VTCs bypass even organizer-only lobbies (compatibility switch).
    pub legacy_trusted_vtc_bypass: bool,
    /// `required` refuses clear-text media with 488.
    pub media_encryption: MediaEncryption,
    /// SDES keys may travel over SIP that is not TLS.
    pub sdes_over_clear: bool,
}

impl From<&directory::Tenant> for Tenant {
    fn from(t: &directory::Tenant) -> Self {
        Tenant {
            key: t.key.to_string(),
            name: t.name.clone(),
            hostnames: t.hostnames.clone(),
            prefix: t.prefix.as_ref().map(ToString::to_string),
            endpoint_licenses: t.endpoint_licenses,
            cascade_licenses: t.cascade_licenses,
            who_can_bypass: t.policy.who_can_bypass,
            callers_bypass: t.policy.callers_bypass,
            anonymous_can_start: t.policy.anonymous_can_start,
            legacy_trusted_vtc_bypass: t.policy.legacy_trusted_vtc_bypass,
            media_encryption: t.media.encryption,
            sdes_over_clear: t.media.sdes_over_clear,
        }
    }
}

/// Where a meeting's lobby option comes from.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The meeting overrides the tenant's default.
    Meeting,
    /// The meeting inherits the tenant's default.
    Tenant,
}

impl Source {
    fn of<T>(value: Option<T>) -> Self {
        if value.is_some() {
            Source::Meeting
        } else {
            Source::Tenant
        }
    }
}

/// Which of a meeting's lobby options it overrides.
#[derive(Debug, Serialize, ToSchema)]
pub struct Overridden {
    /// Source of `who_can_bypass`.
    pub who_can_bypass: Source,
    /// Source of `callers_bypass`.
    pub callers_bypass: Source,
    /// Source of `anonymous_can_start`.
    pub anonymous_can_start: Source,
}

/// A scheduled meeting with its effective lobby policy, exactly as `Meeting::to_json` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Meeting {
    /// Tenant key.
    pub tenant: String,
    /// VTC conference ID.
    pub conference_id: String,
    /// Organizer's display name.
    pub organizer: Option<String>,
    /// Who can bypass the lobby (effective).
    pub who_can_bypass: WhoCanBypass,
    /// Phone callers bypass (effective).
    pub callers_bypass: bool,
    /// Untrusted participants may start the meeting (effective).
    pub anonymous_can_start: bool,
    /// Which options the meeting overrides.
    pub overridden: Overridden,
}

impl Meeting {
    /// The meeting with `policy`, the effective policy (tenant defaults + its overrides).
    pub fn new(m: &directory::Meeting, policy: &LobbyPolicy) -> Self {
        Meeting {
            tenant: m.tenant.to_string(),
            conference_id: m.conference_id.to_string(),
            organizer: m.organizer.clone(),
            who_can_bypass: policy.who_can_bypass,
            callers_bypass: policy.callers_bypass,
            anonymous_can_start: policy.anonymous_can_start,
            overridden: Overridden {
                who_can_bypass: Source::of(m.overrides.who_can_bypass),
                callers_bypass: Source::of(m.overrides.callers_bypass),
                anonymous_can_start: Source::of(m.overrides.anonymous_can_start),
            },
        }
    }
}

/// The kind of a trusted-device rule.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// A source network.
    Cidr,
    /// A From-URI pattern.
    Uri,
    /// A SIP digest credential.
    Digest,
    /// A pinned TLS client certificate (SHA-256 of its DER).
    #[serde(rename = "cert-sha256")]
    CertSha256,
}

/// A trusted-device rule, exactly as `TrustedDevice::to_json` shows it (never hashes or
/// passwords).
#[derive(Debug, Serialize, ToSchema)]
pub struct Device {
    /// Rule id, for removal.
    pub id: i64,
    /// Tenant key.
    pub tenant: String,
    /// What kind of rule.
    pub kind: DeviceKind,
    /// What it matches: the network, the pattern, `USER (realm REALM)`, or the fingerprint.
    pub matches: String,
    /// Whether a matching call is a cascade link from a conference bridge (one participant,
    /// holding a cascade licence) rather than a trusted room system.
    pub cascade: bool,
}

impl From<&directory::TrustedDevice> for Device {
    fn from(d: &directory::TrustedDevice) -> Self {
        Device {
            id: d.id,
            tenant: d.tenant.to_string(),
            kind: match d.rule {
                directory::TrustedDeviceRule::Cidr(_) => DeviceKind::Cidr,
                directory::TrustedDeviceRule::UriPattern(_) => DeviceKind::Uri,
                directory::TrustedDeviceRule::Digest { .. } => DeviceKind::Digest,
                directory::TrustedDeviceRule::CertSha256(_) => DeviceKind::CertSha256,
            },
            matches: d.rule.describe(),
            cascade: d.cascade,
        }
    }
}

/// `POST /api/v1/tenants`. Omitted options take the CLI's defaults.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Tenant key (4-12 digits).
    pub key: String,
    /// Display name.
    pub name: String,
    /// Hostnames naming the tenant.
    #[serde(default)]
    pub hostnames: Vec<String>,
    /// Dial prefix (1-6 digits).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Concurrent endpoint ports (default 10).
    #[serde(default)]
    pub endpoint_licenses: Option<u32>,
    /// Concurrent cascade ports (default 2).
    #[serde(default)]
    pub cascade_licenses: Option<u32>,
    /// Default for who can bypass the lobby (default `trusted-orgs`).
    #[serde(default)]
    #[schema(value_type = Option<WhoCanBypass>)]
    pub who_can_bypass: Option<String>,
    /// Default for phone callers bypassing (default off).
    #[serde(default)]
    pub callers_bypass: Option<bool>,
    /// Default for untrusted participants starting a meeting (default off).
    #[serde(default)]
    pub anonymous_can_start: Option<bool>,
    /// The legacy trusted-VTC bypass switch (default off).
    #[serde(default)]
    pub legacy_trusted_vtc_bypass: Option<bool>,
}

/// `PATCH /api/v1/tenants/{key}`: any subset; omitted fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    /// The tenant key cannot change; if given it must be the key in the path.
    #[serde(default)]
    pub key: Option<String>,
    /// New display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The complete new hostname list (not together with `add_hostnames`/`remove_hostnames`).
    #[serde(default)]
    pub hostnames: Option<Vec<String>>,
    /// Hostnames to add.
    #[serde(default)]
    pub add_hostnames: Vec<String>,
    /// Hostnames to remove.
    #[serde(default)]
    pub remove_hostnames: Vec<String>,
    /// New dial prefix; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub prefix: Option<Option<String>>,
    /// New endpoint port count.
    #[serde(default)]
    pub endpoint_licenses: Option<u32>,
    /// New cascade port count.
    #[serde(default)]
    pub cascade_licenses: Option<u32>,
    /// New default for who can bypass the lobby.
    #[serde(default)]
    #[schema(value_type = Option<WhoCanBypass>)]
    pub who_can_bypass: Option<String>,
    /// New default for phone callers bypassing.
    #[serde(default)]
    pub callers_bypass: Option<bool>,
    /// New default for untrusted participants starting a meeting.
    #[serde(default)]
    pub anonymous_can_start: Option<bool>,
    /// New value of the legacy trusted-VTC bypass switch.
    #[serde(default)]
    pub legacy_trusted_vtc_bypass: Option<bool>,
    /// New media encryption policy: `optional` or `required`.
    #[serde(default)]
    #[schema(value_type = Option<MediaEncryption>)]
    pub media_encryption: Option<String>,
    /// Whether SDES keys may travel over SIP that is not TLS.
    #[serde(default)]
    pub sdes_over_clear: Option<bool>,
}

/// `POST /api/v1/tenants/{key}/meetings`. Omitted or `null` overrides inherit the tenant's
/// default.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMeeting {
    /// VTC conference ID (6-14 digits).
    pub conference_id: String,
    /// Organizer's display name.
    #[serde(default)]
    pub organizer: Option<String>,
    /// Override of who can bypass the lobby.
    #[serde(default)]
    #[schema(value_type = Option<WhoCanBypass>)]
    pub who_can_bypass: Option<String>,
    /// Override of phone callers bypassing.
    #[serde(default)]
    pub callers_bypass: Option<bool>,
    /// Override of untrusted participants starting the meeting.
    #[serde(default)]
    pub anonymous_can_start: Option<bool>,
}

/// `PATCH /api/v1/tenants/{key}/meetings/{conference}`: omitted fields stay as they are; `null`
/// clears the organizer or returns an option to the tenant's default.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingPatch {
    /// New organizer; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub organizer: Option<Option<String>>,
    /// Who-can-bypass override; `null` inherits.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<WhoCanBypass>)]
    pub who_can_bypass: Option<Option<String>>,
    /// Callers-bypass override; `null` inherits.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    pub callers_bypass: Option<Option<bool>>,
    /// Anonymous-can-start override; `null` inherits.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    pub anonymous_can_start: Option<Option<bool>>,
}

/// A SIP digest credential for a trusted room system (only its hashes are stored).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DigestCredential {
    /// Digest username (the VTC's From user).
    pub username: String,
    /// Password (at least 8 characters); never stored or returned.
    pub password: String,
}

/// `POST /api/v1/tenants/{key}/devices`: exactly one of `cidr`, `uri`, `digest` and
/// `cert_sha256`, and whether
/// the rule names a conference bridge (`cascade`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// Calls from this source network (`192.0.2.0/24`).
    #[serde(default)]
    pub cidr: Option<String>,
    /// Calls whose From URI matches this pattern (`sip:*@rooms.acme.example`).
    #[serde(default)]
    pub uri: Option<String>,
    /// Calls that pass SIP digest authentication with this credential.
    #[serde(default)]
    pub digest: Option<DigestCredential>,
    /// Calls over TLS presenting the client certificate whose DER has this SHA-256 (hex, colons
    /// allowed): mutual TLS with a pinned certificate, no CA involved.
    #[serde(default)]
    pub cert_sha256: Option<String>,
    /// A matching call is a cascade link from a conference bridge (default `false`: a trusted
    /// room system).
    #[serde(default)]
    pub cascade: bool,
}

/// `POST /api/v1/tenants/{key}/grants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGrant {
    /// Trust class: `organizer`, `same-org`, `guest`, `trusted-org` or `untrusted-org`.
    pub class: String,
    /// The one meeting the grant is for (default: any meeting of the tenant).
    #[serde(default)]
    pub conference: Option<String>,
    /// Display name the holder joins under (1-64 characters).
    #[serde(default)]
    pub name: Option<String>,
    /// How long the grant is accepted, in seconds (default 3600, at most 30 days).
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
}

/// A participant grant just issued, exactly as `IssuedGrant::to_json` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Grant {
    /// The signed token (`Authorization: Bearer` on the join request, or `?grant=`).
    pub token: String,
    /// Tenant key.
    pub tenant: String,
    /// The meeting it is for, or `null` for any of the tenant's.
    pub conference: Option<String>,
    /// Trust class the holder joins as.
    pub class: String,
    /// Display name the holder joins under.
    pub name: Option<String>,
    /// When it stops being accepted (seconds since the Unix epoch).
    pub expires_unix: u64,
    /// `/join/{tenant}/{conference}?grant=...`, when the grant names a meeting.
    pub join_path: Option<String>,
}

impl From<&directory::IssuedGrant> for Grant {
    fn from(issued: &directory::IssuedGrant) -> Self {
        let g = &issued.grant;
        Grant {
            token: issued.token.clone(),
            tenant: g.tenant.to_string(),
            conference: g.conference.as_ref().map(ToString::to_string),
            class: g.class.as_str().to_owned(),
            name: g.name.clone(),
            expires_unix: g.expires_unix,
            join_path: issued.join_path(),
        }
    }
}

/// Per-participant media counters.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaCounters {
    /// Audio RTP packets received.
    pub audio_rx_packets: u64,
    /// Audio RTP packets sent.
    pub audio_tx_packets: u64,
    /// Video frames received.
    pub video_rx_frames: u64,
    /// Video frames sent.
    pub video_tx_frames: u64,
}

/// One participant in the live meeting view.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantView {
    /// Participant id (`p7`).
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Trust class.
    pub class: ParticipantClass,
    /// `sip`, `webrtc` (a browser) or `synthetic`.
    pub protocol: String,
    /// `endpoint` (a room system), `cascade` (a conference bridge's link, standing for all of
    /// its participants), `browser` or `synthetic`.
    pub kind: String,
    /// When they joined (RFC 3339).
    pub joined_at: String,
    /// Media counters.
    pub media: MediaCounters,
    /// Muted (its audio is left out of the mix).
    pub muted: bool,
    /// Speaking now (voice activity of its audio).
    pub speaking: bool,
}

/// One lobby entry in the live meeting view.
#[derive(Debug, Serialize, ToSchema)]
pub struct LobbyView {
    /// Participant id (`p7`).
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Trust class.
    pub class: ParticipantClass,
    /// `sip`, `webrtc` or `synthetic` (as for participants).
    pub protocol: String,
    /// `endpoint`, `cascade`, `browser` or `synthetic` (as for participants).
    pub kind: String,
    /// When they started waiting (RFC 3339).
    pub waiting_since: String,
}

/// The live view of one meeting (the schema of `calls::api::MeetingView`, which the handler
/// serializes; a test pins the two together).
#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingView {
    /// Tenant key.
    pub tenant: String,
    /// Conference ID.
    pub conference_id: String,
    /// Who is in.
    pub participants: Vec<ParticipantView>,
    /// Who waits in the lobby.
    pub lobby: Vec<LobbyView>,
    /// The far side's participants of the meeting's Tessera links (docs/cascades.md), each
    /// under its link.
    pub remote: Vec<RemoteParticipantView>,
}

/// A participant on the far node of a Tessera link (the schema of
/// `calls::api::RemoteParticipantView`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RemoteParticipantView {
    /// The link's participant id in this meeting (`p4`).
    pub via: String,
    /// The far node's name.
    pub node: String,
    /// The far node's id for the participant.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// `endpoint`, `browser`, `synthetic` or `cascade` on the far node.
    pub kind: String,
}

/// One line of the live meeting list (the schema of `calls::api::MeetingSummary`).
#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingSummary {
    /// Tenant key.
    pub tenant: String,
    /// Conference ID.
    pub conference_id: String,
    /// How many are in the meeting.
    pub participants: usize,
    /// How many wait in its lobby.
    pub lobby: usize,
}

/// Deserializes a field that is present (possibly `null`) into `Some(value or None)`; with
/// `#[serde(default)]` an absent field is `None`. This tells "leave alone" from "clear".
fn present<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}
