//! `tessera tenant add|list|show|set|remove`.
//!
//! Owns turning tenant arguments into directory calls and printing tenants; validation is the
//! directory's.

use std::io::Write;

use anyhow::{Context, Result};
use serde_json::Value;

use super::output::{on_off, print_json, print_table};
use super::TenantCommand;
use crate::directory::{Directory, NewTenant, Tenant, TenantUpdate};
use crate::lobby::LobbyPolicy;

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
        ("media encryption", t.media.encryption.to_string()),
        ("sdes over clear", on_off(t.media.sdes_over_clear).into()),
        ("digest realm", t.realm()),
    ];
    for (name, value) in fields {
        writeln!(out, "{name:<26}{value}")?;
    }
    Ok(())
}

/// Runs one tenant command.
pub(super) fn run(dir: &mut Directory, command: TenantCommand, out: &mut dyn Write) -> Result<()> {
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
                    media_encryption: a.media_encryption,
                    sdes_over_clear: a.sdes_over_clear.map(Into::into),
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
