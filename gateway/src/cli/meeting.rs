//! `tessera meeting add|list|show|set|remove`.
//!
//! Owns turning meeting arguments into directory calls and printing meetings with their
//! effective policy; validation is the directory's.

use std::io::Write;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use signaling::{ConferenceId, TenantKey};

use super::output::{on_off, print_json, print_table};
use super::{MeetingCommand, OverrideSwitch};
use crate::directory::{Directory, MeetingUpdate, PolicyOverrides};

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

/// Runs one meeting command.
pub(super) fn run(dir: &mut Directory, command: MeetingCommand, out: &mut dyn Write) -> Result<()> {
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
