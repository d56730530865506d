//! The operator CLI's arguments: every command, subcommand and flag as clap types, with the
//! value parsers that turn flags into the directory's id and policy types.
//!
//! Owns the command-line surface (names, help text, defaults); it must not run anything (see the
//! sibling module of each command).

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use signaling::{ConferenceId, DialPrefix, TenantKey};

use crate::directory::DbLocation;
use crate::directory::MediaEncryption;
use crate::grants::GrantClass;
use crate::lobby::{ParticipantClass, WhoCanBypass};
use crate::server::ServeOptions;

/// Where the directory lives when nothing says otherwise.
pub const DEFAULT_DB: &str = "./tessera.db";

/// Tessera: a cloud video interop gateway for SIP and H.323 room systems.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    /// The tenant directory: a SQLite file (created if missing) or a PostgreSQL URL
    /// (`postgres://user@host/db`, shared by a cluster) [default: ./tessera.db, or the `db` key
    /// of `serve --config`].
    #[arg(long, global = true, env = "TESSERA_DB")]
    pub db: Option<DbLocation>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway: SIP on UDP and TCP, the admin API, drain on SIGTERM.
    Serve(Box<ServeOptions>),
    /// Create or migrate the directory; with --demo, make sure the demo tenant and meeting exist.
    Init(InitArgs),
    /// Tenants: organisations with a key, hostnames, prefix, licences and lobby defaults.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Meetings of a tenant, with per-meeting lobby overrides.
    #[command(subcommand)]
    Meeting(MeetingCommand),
    /// Trusted-device rules: which room systems count as trusted-vtc.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Admin API tokens scoped to one tenant.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The dial plan.
    #[command(subcommand)]
    Dial(DialCommand),
    /// Meeting invitations: which meeting one is for, and the dial strings that reach it.
    #[command(subcommand)]
    Invite(InviteCommand),
    /// The lobby decision.
    #[command(subcommand)]
    Lobby(LobbyCommand),
    /// Dial-out cascade links of a running gateway (through its admin API).
    #[command(subcommand)]
    Cascade(CascadeCommand),
}

/// `init` arguments.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Also create the demo tenant 12345678 and meeting 1177958860 (existing records are kept).
    #[arg(long)]
    pub demo: bool,
}

/// An on/off option value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

impl From<Switch> for bool {
    fn from(s: Switch) -> bool {
        s == Switch::On
    }
}

/// An on/off meeting override, or `inherit` to fall back to the tenant's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OverrideSwitch {
    /// Enabled for this meeting.
    On,
    /// Disabled for this meeting.
    Off,
    /// Use the tenant's default.
    Inherit,
}

impl OverrideSwitch {
    pub(super) fn value(self) -> Option<bool> {
        match self {
            OverrideSwitch::On => Some(true),
            OverrideSwitch::Off => Some(false),
            OverrideSwitch::Inherit => None,
        }
    }
}

/// `yes` or `no`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum YesNo {
    /// Yes.
    Yes,
    /// No.
    No,
}

fn parse_media_encryption(s: &str) -> Result<MediaEncryption, String> {
    s.parse()
        .map_err(|e: crate::lobby::UnknownName| e.to_string())
}

fn parse_who(s: &str) -> Result<WhoCanBypass, String> {
    s.parse()
        .map_err(|e: crate::lobby::UnknownName| e.to_string())
}

/// A who-can-bypass override: a value, or `inherit` (the tenant's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhoOverride(pub Option<WhoCanBypass>);

fn parse_who_or_inherit(s: &str) -> Result<WhoOverride, String> {
    if s == "inherit" {
        return Ok(WhoOverride(None));
    }
    parse_who(s).map(|w| WhoOverride(Some(w)))
}

fn parse_class(s: &str) -> Result<ParticipantClass, String> {
    s.parse()
        .map_err(|e: crate::lobby::UnknownName| e.to_string())
}

fn parse_grant_class(s: &str) -> Result<GrantClass, String> {
    s.parse()
        .map_err(|e: crate::lobby::UnknownName| e.to_string())
}

fn parse_ttl(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 90m, 1h, 7d)"))
}

fn parse_key(s: &str) -> Result<TenantKey, String> {
    TenantKey::new(s).map_err(|e| e.to_string())
}

fn parse_conference(s: &str) -> Result<ConferenceId, String> {
    ConferenceId::new(s).map_err(|e| e.to_string())
}

fn parse_prefix(s: &str) -> Result<DialPrefix, String> {
    DialPrefix::new(s).map_err(|e| e.to_string())
}

/// Tenant commands.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Add a tenant.
    Add(TenantAdd),
    /// List tenants.
    List(JsonFlag),
    /// Show one tenant.
    Show(TenantRef),
    /// Change a tenant.
    Set(TenantSet),
    /// Remove a tenant with its meetings and trusted-device rules.
    Remove(TenantRef),
}

/// `--json` output switch.
#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Names one tenant.
#[derive(Debug, Args)]
pub struct TenantRef {
    /// Tenant key.
    #[arg(long, value_parser = parse_key)]
    pub key: TenantKey,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `tenant add` arguments.
#[derive(Debug, Args)]
pub struct TenantAdd {
    /// Tenant key (4-12 digits).
    #[arg(long, value_parser = parse_key)]
    pub key: TenantKey,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// Hostname naming the tenant (`conf@HOST`); repeatable.
    #[arg(long = "domain")]
    pub domains: Vec<String>,
    /// Dial prefix (1-6 digits).
    #[arg(long, value_parser = parse_prefix)]
    pub prefix: Option<DialPrefix>,
    /// Concurrent endpoint ports.
    #[arg(long, default_value_t = 10)]
    pub endpoint_licenses: u32,
    /// Concurrent cascade ports.
    #[arg(long, default_value_t = 2)]
    pub cascade_licenses: u32,
    /// Default for who can bypass the lobby: everyone, trusted-orgs, same-org, organizer.
    #[arg(long, value_parser = parse_who, default_value = "trusted-orgs")]
    pub who_can_bypass: WhoCanBypass,
    /// Default for phone callers bypassing the lobby.
    #[arg(long, value_enum, default_value = "off")]
    pub callers_bypass: Switch,
    /// Default for untrusted participants starting a meeting.
    #[arg(long, value_enum, default_value = "off")]
    pub anonymous_can_start: Switch,
    /// Trusted VTCs bypass even organizer-only lobbies (compatibility with one cloud service).
    #[arg(long, value_enum, default_value = "off")]
    pub legacy_trusted_vtc_bypass: Switch,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `tenant set` arguments.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("prefix_change").args(["prefix", "no_prefix"])))]
pub struct TenantSet {
    /// Tenant key.
    #[arg(long, value_parser = parse_key)]
    pub key: TenantKey,
    /// New display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Hostname to add; repeatable.
    #[arg(long = "add-domain")]
    pub add_domains: Vec<String>,
    /// Hostname to remove; repeatable.
    #[arg(long = "remove-domain")]
    pub remove_domains: Vec<String>,
    /// New dial prefix.
    #[arg(long, value_parser = parse_prefix)]
    pub prefix: Option<DialPrefix>,
    /// Remove the dial prefix.
    #[arg(long)]
    pub no_prefix: bool,
    /// New endpoint port count.
    #[arg(long)]
    pub endpoint_licenses: Option<u32>,
    /// New cascade port count.
    #[arg(long)]
    pub cascade_licenses: Option<u32>,
    /// New default for who can bypass the lobby.
    #[arg(long, value_parser = parse_who)]
    pub who_can_bypass: Option<WhoCanBypass>,
    /// New default for phone callers bypassing.
    #[arg(long, value_enum)]
    pub callers_bypass: Option<Switch>,
    /// New default for untrusted participants starting a meeting.
    #[arg(long, value_enum)]
    pub anonymous_can_start: Option<Switch>,
    /// The legacy trusted-VTC bypass switch.
    #[arg(long, value_enum)]
    pub legacy_trusted_vtc_bypass: Option<Switch>,
    /// Media encryption policy: optional, or required (clear-text offers get 488).
    #[arg(long, value_parser = parse_media_encryption)]
    pub media_encryption: Option<MediaEncryption>,
    /// Let SDES keys travel over SIP that is not TLS (anyone reading the SIP can decrypt).
    #[arg(long, value_enum)]
    pub sdes_over_clear: Option<Switch>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Meeting commands.
#[derive(Debug, Subcommand)]
pub enum MeetingCommand {
    /// Add a meeting.
    Add(MeetingAdd),
    /// List meetings.
    List(MeetingList),
    /// Show one meeting with its effective lobby policy.
    Show(MeetingRef),
    /// Change a meeting's organizer or lobby overrides.
    Set(MeetingSet),
    /// Remove a meeting.
    Remove(MeetingRef),
}

/// Names one meeting.
#[derive(Debug, Args)]
pub struct MeetingRef {
    /// Tenant key.
    #[arg(long, value_parser = parse_key)]
    pub tenant: TenantKey,
    /// Conference ID (6-14 digits).
    #[arg(long, value_parser = parse_conference)]
    pub conference_id: ConferenceId,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `meeting add` arguments.
#[derive(Debug, Args)]
pub struct MeetingAdd {
    /// Tenant key.
    #[arg(long, value_parser = parse_key)]
    pub tenant: TenantKey,
    /// Conference ID (6-14 digits).
    #[arg(long, value_parser = parse_conference)]
    pub conference_id: ConferenceId,
    /// Organizer's display name.
    #[arg(long)]
    pub organizer: Option<String>,
    /// Override who can bypass the lobby (default: the tenant's).
    #[arg(long, value_parser = parse_who)]
    pub who_can_bypass: Option<WhoCanBypass>,
    /// Override phone callers bypassing.
    #[arg(long, value_enum)]
    pub callers_bypass: Option<Switch>,
    /// Override untrusted participants starting the meeting (admin only).
    #[arg(long, value_enum)]
    pub anonymous_can_start: Option<Switch>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `meeting list` arguments.
#[derive(Debug, Args)]
pub struct MeetingList {
    /// Only this tenant's meetings.
    #[arg(long, value_parser = parse_key)]
    pub tenant: Option<TenantKey>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `meeting set` arguments.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("organizer_change").args(["organizer", "no_organizer"])))]
pub struct MeetingSet {
    /// Tenant key.
    #[arg(long, value_parser = parse_key)]
    pub tenant: TenantKey,
    /// Conference ID.
    #[arg(long, value_parser = parse_conference)]
    pub conference_id: ConferenceId,
    /// New organizer display name.
    #[arg(long)]
    pub organizer: Option<String>,
    /// Clear the organizer.
    #[arg(long)]
    pub no_organizer: bool,
    /// Who can bypass, or `inherit` for the tenant's default.
    #[arg(long, value_parser = parse_who_or_inherit)]
    pub who_can_bypass: Option<WhoOverride>,
    /// Callers bypass: on, off or inherit.
    #[arg(long, value_enum)]
    pub callers_bypass: Option<OverrideSwitch>,
    /// Anonymous can start: on, off or inherit.
    #[arg(long, value_enum)]
    pub anonymous_can_start: Option<OverrideSwitch>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Trusted-device commands.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Add a rule that makes matching calls trusted-vtc.
    Trust(DeviceTrust),
    /// List a tenant's rules (never shows passwords or hashes).
    List(DeviceList),
    /// Remove a rule by id.
    Remove(DeviceRemove),
}

/// `device trust` arguments.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("rule").required(true).args(["cidr", "uri", "digest", "cert_sha256"])))]
pub struct DeviceTrust {
    /// Tenant key.
    #[arg(long, value_parser = parse_key)]
    pub tenant: TenantKey,
    /// Calls from this source network (`192.0.2.0/24`).
    #[arg(long)]
    pub cidr: Option<String>,
    /// Calls whose From URI matches this pattern (`sip:*@rooms.acme.example`).
    #[arg(long)]
    pub uri: Option<String>,
    /// Calls authenticating with SIP digest as USER:PASSWORD (only hashes are stored).
    #[arg(long)]
    pub digest: Option<String>,
    /// Calls over TLS presenting the client certificate with this SHA-256 fingerprint of its DER
    /// (hex, colons allowed): mutual TLS with a pinned certificate.
    #[arg(long)]
    pub cert_sha256: Option<String>,
    /// The rule names a conference bridge (an MCU): a matching call is a cascade link, shown as
    /// one participant and holding one of the tenant's cascade licences.
    #[arg(long)]
    pub cascade: bool,
}

/// `device list` arguments.
#[derive(Debug, Args)]
pub struct DeviceList {
    /// Tenant key.
    #[arg(long, value_parser = parse_key)]
    pub tenant: TenantKey,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `device remove` arguments.
#[derive(Debug, Args)]
pub struct DeviceRemove {
    /// Tenant key.
    #[arg(long, value_parser = parse_key)]
    pub tenant: TenantKey,
    /// Rule id (from `device list`).
    #[arg(long)]
    pub id: i64,
}

/// Dial-plan commands.
#[derive(Debug, Subcommand)]
pub enum DialCommand {
    /// Resolve a dial string: prints `tenant=K conference=C route=R`.
    Resolve {
        /// What the caller dialled (`sip:12345678.1177958860@gw`, `12345678@gw`, ...).
        dial_string: String,
    },
}

/// Invitation commands.
#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Read an invitation (plain text, HTML, .eml or .ics): prints `tenant=K conference=C`, then
    /// every dial string that reaches the meeting, one per line.
    Parse(InviteParse),
}

/// `invite parse` arguments.
#[derive(Debug, Args)]
pub struct InviteParse {
    /// The invitation file, or `-` for standard input.
    pub file: PathBuf,
    /// The host room systems dial the gateway at, used in the dial strings.
    #[arg(long, default_value = crate::invites::DEFAULT_GATEWAY_HOST)]
    pub gateway_host: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Lobby commands.
#[derive(Debug, Subcommand)]
pub enum LobbyCommand {
    /// Print `bypass` or `lobby` for one participant class under one set of options.
    Decide(LobbyDecide),
}

/// `lobby decide` arguments.
#[derive(Debug, Args)]
pub struct LobbyDecide {
    /// everyone, trusted-orgs, same-org or organizer.
    #[arg(long, value_parser = parse_who)]
    pub who_can_bypass: WhoCanBypass,
    /// organizer, same-org, guest, trusted-org, untrusted-org, trusted-vtc, untrusted-vtc,
    /// anonymous or pstn.
    #[arg(long, value_parser = parse_class)]
    pub class: ParticipantClass,
    /// Phone callers bypass.
    #[arg(long, value_enum, default_value = "off")]
    pub callers_bypass: Switch,
    /// Untrusted participants may start the meeting.
    #[arg(long, value_enum, default_value = "off")]
    pub anonymous_can_start: Switch,
    /// Whether a trusted participant is already in the meeting.
    #[arg(long, value_enum, default_value = "yes")]
    pub trusted_present: YesNo,
    /// Trusted VTCs bypass organizer-only lobbies (compatibility switch).
    #[arg(long)]
    pub legacy_trusted_vtc_bypass: bool,
}

/// Tenant token commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an admin API token that sees and changes only this tenant; it is printed once.
    Create(TokenCreate),
    /// List a tenant's tokens (never shows the tokens themselves).
    List(TokenList),
    /// Revoke a token by id; requests carrying it get 401 from then on.
    Revoke(TokenRevoke),
    /// Issue a participant grant: a signed, expiring token that lets a browser join as a trust
    /// class (the join link's `?grant=`); printed alone, or with its join link using --json.
    Grant(TokenGrant),
}

/// `token create` arguments.
#[derive(Debug, Args)]
pub struct TokenCreate {
    /// Tenant key.
    #[arg(long, value_parser = parse_key)]
    pub tenant: TenantKey,
    /// What the token is for (shown by `token list`).
    #[arg(long)]
    pub label: Option<String>,
    /// Print JSON (with the token) instead of the bare token.
    #[arg(long)]
    pub json: bool,
}

/// `token list` arguments.
#[derive(Debug, Args)]
pub struct TokenList {
    /// Tenant key.
    #[arg(long, value_parser = parse_key)]
    pub tenant: TenantKey,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `token revoke` arguments.
#[derive(Debug, Args)]
pub struct TokenRevoke {
    /// Tenant key.
    #[arg(long, value_parser = parse_key)]
    pub tenant: TenantKey,
    /// Token id (from `token list`).
    #[arg(long)]
    pub id: i64,
}

/// Cascade commands (they talk to a running gateway's admin API).
#[derive(Debug, Subcommand)]
pub enum CascadeCommand {
    /// Dial a conference bridge into a meeting; prints the link id. The gateway dials again with
    /// back-off whenever the bridge refuses or drops the call, until `cascade hangup`.
    Dial(CascadeDial),
    /// List a meeting's dial-out links and where each stands.
    List(CascadeMeeting),
    /// Hang a link up for good (its cascade licence is freed).
    Hangup(CascadeHangup),
}

/// Which running gateway, and the meeting.
#[derive(Debug, Args)]
pub struct CascadeMeeting {
    /// The gateway's admin API address (its --http-listen).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub api: std::net::SocketAddr,
    /// Operator token (else TESSERA_ADMIN_TOKEN, else the token file beside --db).
    #[arg(long, env = "TESSERA_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Tenant key.
    #[arg(long, value_parser = parse_key)]
    pub tenant: TenantKey,
    /// Conference ID.
    #[arg(long, value_parser = parse_conference)]
    pub conference: ConferenceId,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `cascade dial` arguments.
#[derive(Debug, Args)]
pub struct CascadeDial {
    /// Gateway and meeting.
    #[command(flatten)]
    pub meeting: CascadeMeeting,
    /// The bridge's SIP URI; its host must be an IP address (`sip:meeting@192.0.2.7:5060`).
    #[arg(long)]
    pub uri: String,
    /// The link's name in the roster (default: the URI).
    #[arg(long)]
    pub display_name: Option<String>,
    /// Digest username the gateway answers the bridge's challenges with.
    #[arg(long, requires = "password")]
    pub username: Option<String>,
    /// Digest password (else TESSERA_CASCADE_PASSWORD).
    #[arg(
        long,
        env = "TESSERA_CASCADE_PASSWORD",
        hide_env_values = true,
        requires = "username"
    )]
    pub password: Option<String>,
}

/// `cascade hangup` arguments.
#[derive(Debug, Args)]
pub struct CascadeHangup {
    /// Gateway and meeting.
    #[command(flatten)]
    pub meeting: CascadeMeeting,
    /// The link id (`c1`, from `cascade dial` or `cascade list`).
    pub id: String,
}
/// `token grant` arguments.
#[derive(Debug, Args)]
pub struct TokenGrant {
    /// Tenant key (the grant is signed with this tenant's key).
    #[arg(long, value_parser = parse_key)]
    pub tenant: TenantKey,
    /// Trust class: organizer, same-org, guest, trusted-org or untrusted-org.
    #[arg(long, value_parser = parse_grant_class)]
    pub class: GrantClass,
    /// The one meeting the grant is for (default: any meeting of the tenant).
    #[arg(long, value_parser = parse_conference)]
    pub conference: Option<ConferenceId>,
    /// Display name the holder joins under.
    #[arg(long)]
    pub name: Option<String>,
    /// How long the grant is accepted (at most 30 days).
    #[arg(long, value_parser = parse_ttl, default_value = "1h")]
    pub ttl: std::time::Duration,
    /// Print JSON (token, what it grants, expiry, join path) instead of the bare token.
    #[arg(long)]
    pub json: bool,
}
