//! The operator CLI: argument definitions (clap) and what each command prints.
//!
//! This is the binary's edge: it opens the directory, calls into it and the lobby engine, and
//! formats results (tables by default, JSON with `--json`). It must not hold rules of its own;
//! validation lives in the directory and the id types.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use serde_json::Value;
use signaling::{ConferenceId, DialPrefix, DialString, TenantKey};

use crate::demo;
use crate::directory::{
    Directory, MeetingUpdate, NewTenant, PolicyOverrides, Tenant, TenantUpdate, TrustedDeviceRule,
};
use crate::lobby::{LobbyPolicy, ParticipantClass, WhoCanBypass};
use crate::server::{self, ServeOptions};

/// Where the directory lives when nothing says otherwise.
pub const DEFAULT_DB: &str = "./tessera.db";

/// Tessera: a cloud video interop gateway for SIP and H.323 room systems.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    /// The tenant directory (SQLite; created if missing) [default: ./tessera.db, or the `db`
    /// key of `serve --config`].
    #[arg(long, global = true, env = "TESSERA_DB")]
    pub db: Option<PathBuf>,
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
    fn value(self) -> Option<bool> {
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
#[command(group(ArgGroup::new("rule").required(true).args(["cidr", "uri", "digest"])))]
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

/// Runs one parsed command, writing its normal output to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<()> {
    match cli.command {
        // Needs no database: a pure decision.
        Command::Lobby(LobbyCommand::Decide(a)) => {
            let policy = LobbyPolicy {
                who_can_bypass: a.who_can_bypass,
                callers_bypass: a.callers_bypass.into(),
                anonymous_can_start: a.anonymous_can_start.into(),
                legacy_trusted_vtc_bypass: a.legacy_trusted_vtc_bypass,
            };
            writeln!(
                out,
                "{}",
                policy.decide(a.class, a.trusted_present == YesNo::Yes)
            )?;
            Ok(())
        }
        Command::Serve(options) => {
            let config = options.resolve()?;
            let db = cli
                .db
                .or_else(|| config.db.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DB));
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(server::serve(&db, config))?;
            Ok(())
        }
        command => {
            let db = cli.db.unwrap_or_else(|| PathBuf::from(DEFAULT_DB));
            let mut dir = Directory::open(&db)
                .with_context(|| format!("cannot open directory {}", db.display()))?;
            match command {
                Command::Init(a) => init(&mut dir, &db, a, out),
                Command::Tenant(c) => tenant(&mut dir, c, out),
                Command::Meeting(c) => meeting(&mut dir, c, out),
                Command::Device(c) => device(&mut dir, c, out),
                Command::Token(c) => token(&mut dir, c, out),
                Command::Dial(DialCommand::Resolve { dial_string }) => {
                    let resolved = DialString::parse(&dial_string)?.resolve(&dir)?;
                    writeln!(out, "{resolved}")?;
                    Ok(())
                }
                Command::Invite(InviteCommand::Parse(a)) => invite_parse(&dir, a, out),
                Command::Lobby(_) | Command::Serve(_) => unreachable!("handled above"),
            }
        }
    }
}

fn invite_parse(dir: &Directory, a: InviteParse, out: &mut dyn Write) -> Result<()> {
    use std::io::Read;
    // One byte over the limit is enough for the parser to refuse the input as too large.
    let limit = signaling::invite::MAX_INVITATION_LEN as u64 + 1;
    let mut bytes = Vec::new();
    if a.file.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)
            .context("cannot read the invitation from standard input")?;
    } else {
        std::fs::File::open(&a.file)
            .and_then(|f| f.take(limit).read_to_end(&mut bytes))
            .with_context(|| format!("cannot read {}", a.file.display()))?;
    }
    let text = String::from_utf8_lossy(&bytes);
    let details = crate::invites::parse_invitation(dir, &text, &a.gateway_host)?;
    if a.json {
        return print_json(out, &details.to_json());
    }
    writeln!(
        out,
        "tenant={} conference={}",
        details.tenant, details.conference_id
    )?;
    for dial in &details.dial_strings {
        writeln!(out, "{dial}")?;
    }
    Ok(())
}

fn init(
    dir: &mut Directory,
    path: &std::path::Path,
    a: InitArgs,
    out: &mut dyn Write,
) -> Result<()> {
    writeln!(out, "directory {} is ready", path.display())?;
    if a.demo {
        let seed = demo::ensure_demo(dir)?;
        let said = |created: bool| {
            if created {
                "created"
            } else {
                "already present, left as is"
            }
        };
        writeln!(
            out,
            "demo tenant {}: {}",
            demo::DEMO_TENANT,
            said(seed.tenant_created)
        )?;
        writeln!(
            out,
            "demo meeting {}: {}",
            demo::DEMO_CONFERENCE,
            said(seed.meeting_created)
        )?;
    }
    Ok(())
}

fn print_json(out: &mut dyn Write, value: &Value) -> Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

/// Prints rows as a table with left-aligned columns sized to their widest cell.
fn print_table(out: &mut dyn Write, headers: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    writeln!(out, "{}", line(headers.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn print_tenant(out: &mut dyn Write, t: &Tenant, json: bool) -> Result<()> {
    if json {
        return print_json(out, &t.to_json());
    }
    let fields = [
        ("key", t.key.to_string()),
        ("name", t.name.clone()),
        ("hostnames", t.hostnames.join(", ")),
        (
            "prefix",
            t.prefix.as_ref().map_or("-".into(), ToString::to_string),
        ),
        ("endpoint licenses", t.endpoint_licenses.to_string()),
        ("cascade licenses", t.cascade_licenses.to_string()),
        ("who can bypass", t.policy.who_can_bypass.to_string()),
        ("callers bypass", on_off(t.policy.callers_bypass).into()),
        (
            "anonymous can start",
            on_off(t.policy.anonymous_can_start).into(),
        ),
        (
            "legacy trusted-vtc bypass",
            on_off(t.policy.legacy_trusted_vtc_bypass).into(),
        ),
        ("digest realm", t.realm()),
    ];
    for (name, value) in fields {
        writeln!(out, "{name:<26}{value}")?;
    }
    Ok(())
}

fn tenant(dir: &mut Directory, command: TenantCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        TenantCommand::Add(a) => {
            let t = dir.add_tenant(&NewTenant {
                key: a.key,
                name: a.name,
                hostnames: a.domains,
                prefix: a.prefix,
                endpoint_licenses: a.endpoint_licenses,
                cascade_licenses: a.cascade_licenses,
                policy: LobbyPolicy {
                    who_can_bypass: a.who_can_bypass,
                    callers_bypass: a.callers_bypass.into(),
                    anonymous_can_start: a.anonymous_can_start.into(),
                    legacy_trusted_vtc_bypass: a.legacy_trusted_vtc_bypass.into(),
                },
            })?;
            print_tenant(out, &t, a.json)
        }
        TenantCommand::List(f) => {
            let tenants = dir.tenants()?;
            if f.json {
                return print_json(
                    out,
                    &Value::Array(tenants.iter().map(Tenant::to_json).collect()),
                );
            }
            let rows: Vec<Vec<String>> = tenants
                .iter()
                .map(|t| {
                    vec![
                        t.key.to_string(),
                        t.name.clone(),
                        if t.hostnames.is_empty() {
                            "-".into()
                        } else {
                            t.hostnames.join(",")
                        },
                        t.prefix.as_ref().map_or("-".into(), ToString::to_string),
                        format!("{}/{}", t.endpoint_licenses, t.cascade_licenses),
                        t.policy.who_can_bypass.to_string(),
                    ]
                })
                .collect();
            print_table(
                out,
                &[
                    "KEY",
                    "NAME",
                    "HOSTNAMES",
                    "PREFIX",
                    "LICENSES(EP/CASCADE)",
                    "WHO-CAN-BYPASS",
                ],
                &rows,
            )
        }
        TenantCommand::Show(r) => {
            let t = dir
                .tenant(&r.key)?
                .with_context(|| format!("no tenant {}", r.key))?;
            print_tenant(out, &t, r.json)
        }
        TenantCommand::Set(a) => {
            let prefix = match (a.prefix, a.no_prefix) {
                (Some(p), _) => Some(Some(p)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let t = dir.update_tenant(
                &a.key,
                &TenantUpdate {
                    name: a.name,
                    add_hostnames: a.add_domains,
                    remove_hostnames: a.remove_domains,
                    prefix,
                    endpoint_licenses: a.endpoint_licenses,
                    cascade_licenses: a.cascade_licenses,
                    who_can_bypass: a.who_can_bypass,
                    callers_bypass: a.callers_bypass.map(Into::into),
                    anonymous_can_start: a.anonymous_can_start.map(Into::into),
                    legacy_trusted_vtc_bypass: a.legacy_trusted_vtc_bypass.map(Into::into),
                },
            )?;
            print_tenant(out, &t, a.json)
        }
        TenantCommand::Remove(r) => {
            dir.remove_tenant(&r.key)?;
            writeln!(out, "removed tenant {}", r.key)?;
            Ok(())
        }
    }
}

fn print_meeting(
    dir: &Directory,
    out: &mut dyn Write,
    tenant: &TenantKey,
    conference: &ConferenceId,
    json: bool,
) -> Result<()> {
    let m = dir
        .meeting(tenant, conference)?
        .with_context(|| format!("tenant {tenant} has no meeting {conference}"))?;
    let policy = dir.effective_policy(tenant, conference)?;
    if json {
        return print_json(out, &m.to_json(&policy));
    }
    let source = |o: bool| if o { "meeting" } else { "tenant default" };
    let fields = [
        ("tenant", m.tenant.to_string()),
        ("conference id", m.conference_id.to_string()),
        (
            "organizer",
            m.organizer.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "who can bypass",
            format!(
                "{} ({})",
                policy.who_can_bypass,
                source(m.overrides.who_can_bypass.is_some())
            ),
        ),
        (
            "callers bypass",
            format!(
                "{} ({})",
                on_off(policy.callers_bypass),
                source(m.overrides.callers_bypass.is_some())
            ),
        ),
        (
            "anonymous can start",
            format!(
                "{} ({})",
                on_off(policy.anonymous_can_start),
                source(m.overrides.anonymous_can_start.is_some())
            ),
        ),
    ];
    for (name, value) in fields {
        writeln!(out, "{name:<21}{value}")?;
    }
    Ok(())
}

fn meeting(dir: &mut Directory, command: MeetingCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        MeetingCommand::Add(a) => {
            dir.add_meeting(
                &a.tenant,
                &a.conference_id,
                a.organizer.as_deref(),
                PolicyOverrides {
                    who_can_bypass: a.who_can_bypass,
                    callers_bypass: a.callers_bypass.map(Into::into),
                    anonymous_can_start: a.anonymous_can_start.map(Into::into),
                },
            )?;
            print_meeting(dir, out, &a.tenant, &a.conference_id, a.json)
        }
        MeetingCommand::List(a) => {
            if let Some(t) = &a.tenant {
                if dir.tenant(t)?.is_none() {
                    bail!("no tenant {t}");
                }
            }
            let tenants: std::collections::HashMap<_, _> = dir
                .tenants()?
                .into_iter()
                .map(|t| (t.key.clone(), t))
                .collect();
            let meetings = dir.meetings(a.tenant.as_ref())?;
            let effective = |m: &crate::directory::Meeting| {
                m.overrides
                    .apply(tenants.get(&m.tenant).map(|t| t.policy).unwrap_or_default())
            };
            if a.json {
                let list = meetings.iter().map(|m| m.to_json(&effective(m))).collect();
                return print_json(out, &Value::Array(list));
            }
            let rows: Vec<Vec<String>> = meetings
                .iter()
                .map(|m| {
                    let p = effective(m);
                    vec![
                        m.tenant.to_string(),
                        m.conference_id.to_string(),
                        m.organizer.clone().unwrap_or_else(|| "-".into()),
                        p.who_can_bypass.to_string(),
                        on_off(p.callers_bypass).into(),
                    ]
                })
                .collect();
            print_table(
                out,
                &[
                    "TENANT",
                    "CONFERENCE",
                    "ORGANIZER",
                    "WHO-CAN-BYPASS",
                    "CALLERS-BYPASS",
                ],
                &rows,
            )
        }
        MeetingCommand::Show(r) => print_meeting(dir, out, &r.tenant, &r.conference_id, r.json),
        MeetingCommand::Set(a) => {
            let organizer = match (a.organizer, a.no_organizer) {
                (Some(o), _) => Some(Some(o)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            dir.update_meeting(
                &a.tenant,
                &a.conference_id,
                &MeetingUpdate {
                    organizer,
                    who_can_bypass: a.who_can_bypass.map(|w| w.0),
                    callers_bypass: a.callers_bypass.map(OverrideSwitch::value),
                    anonymous_can_start: a.anonymous_can_start.map(OverrideSwitch::value),
                },
            )?;
            print_meeting(dir, out, &a.tenant, &a.conference_id, a.json)
        }
        MeetingCommand::Remove(r) => {
            dir.remove_meeting(&r.tenant, &r.conference_id)?;
            writeln!(
                out,
                "removed meeting {} of tenant {}",
                r.conference_id, r.tenant
            )?;
            Ok(())
        }
    }
}

fn device(dir: &mut Directory, command: DeviceCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        DeviceCommand::Trust(a) => {
            let tenant = dir
                .tenant(&a.tenant)?
                .with_context(|| format!("no tenant {}", a.tenant))?;
            let rule = match (a.cidr, a.uri, a.digest) {
                (Some(c), _, _) => TrustedDeviceRule::cidr(&c)?,
                (_, Some(u), _) => TrustedDeviceRule::uri_pattern(&u)?,
                (_, _, Some(d)) => TrustedDeviceRule::digest(&d, &tenant.realm())?,
                (None, None, None) => bail!("one of --cidr, --uri or --digest is required"),
            };
            let d = dir.add_trusted_device(&a.tenant, &rule)?;
            writeln!(
                out,
                "added rule {}: {} {}",
                d.id,
                d.rule.kind(),
                d.rule.describe()
            )?;
            Ok(())
        }
        DeviceCommand::List(a) => {
            if dir.tenant(&a.tenant)?.is_none() {
                bail!("no tenant {}", a.tenant);
            }
            let devices = dir.trusted_devices(&a.tenant)?;
            if a.json {
                return print_json(
                    out,
                    &Value::Array(devices.iter().map(|d| d.to_json()).collect()),
                );
            }
            let rows: Vec<Vec<String>> = devices
                .iter()
                .map(|d| vec![d.id.to_string(), d.rule.kind().into(), d.rule.describe()])
                .collect();
            print_table(out, &["ID", "KIND", "MATCHES"], &rows)
        }
        DeviceCommand::Remove(a) => {
            dir.remove_trusted_device(&a.tenant, a.id)?;
            writeln!(out, "removed rule {}", a.id)?;
            Ok(())
        }
    }
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

fn token(dir: &mut Directory, command: TokenCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        TokenCommand::Create(a) => {
            let created = dir.create_tenant_token(&a.tenant, a.label.as_deref())?;
            if a.json {
                let mut json = created.token.to_json();
                json["token"] = Value::String(created.secret);
                return print_json(out, &json);
            }
            // The token alone on stdout (for `TOKEN=$(tessera token create ...)`); the note on
            // stderr.
            writeln!(out, "{}", created.secret)?;
            eprintln!(
                "created token {} for tenant {}; it is shown only this once",
                created.token.id, a.tenant
            );
            Ok(())
        }
        TokenCommand::List(a) => {
            let tokens = dir.tenant_tokens(&a.tenant)?;
            if a.json {
                return print_json(
                    out,
                    &Value::Array(tokens.iter().map(|t| t.to_json()).collect()),
                );
            }
            let rows: Vec<Vec<String>> = tokens
                .iter()
                .map(|t| {
                    vec![
                        t.id.to_string(),
                        t.label.clone().unwrap_or_else(|| "-".into()),
                        t.created.clone(),
                    ]
                })
                .collect();
            print_table(out, &["ID", "LABEL", "CREATED"], &rows)
        }
        TokenCommand::Revoke(a) => {
            dir.revoke_tenant_token(&a.tenant, a.id)?;
            writeln!(out, "revoked token {} of tenant {}", a.id, a.tenant)?;
            Ok(())
        }
    }
}
