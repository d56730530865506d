//! `tessera device trust|list|remove`: trusted-device rules.
//!
//! Owns turning device arguments into directory calls and printing rules (never a password or
//! hash); validation is the directory's.

use std::io::Write;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::output::{print_json, print_table};
use super::DeviceCommand;
use crate::directory::{Directory, TrustedDeviceRule};

/// Runs one device command.
pub(super) fn run(dir: &mut Directory, command: DeviceCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        DeviceCommand::Trust(a) => {
            let tenant = dir
                .tenant(&a.tenant)?
                .with_context(|| format!("no tenant {}", a.tenant))?;
            let rule = match (a.cidr, a.uri, a.digest, a.cert_sha256) {
                (Some(c), _, _, _) => TrustedDeviceRule::cidr(&c)?,
                (_, Some(u), _, _) => TrustedDeviceRule::uri_pattern(&u)?,
                (_, _, Some(d), _) => TrustedDeviceRule::digest(&d, &tenant.realm())?,
                (_, _, _, Some(f)) => TrustedDeviceRule::cert_sha256(&f)?,
                (None, None, None, None) => {
                    bail!("one of --cidr, --uri, --digest or --cert-sha256 is required")
                }
            };
            let d = dir.add_device_rule(&a.tenant, &rule, a.cascade)?;
            writeln!(
                out,
                "added {} rule {}: {} {}",
                role(d.cascade),
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
                .map(|d| {
                    vec![
                        d.id.to_string(),
                        d.rule.kind().into(),
                        d.rule.describe(),
                        role(d.cascade).into(),
                    ]
                })
                .collect();
            print_table(out, &["ID", "KIND", "MATCHES", "ROLE"], &rows)
        }
        DeviceCommand::Remove(a) => {
            dir.remove_trusted_device(&a.tenant, a.id)?;
            writeln!(out, "removed rule {}", a.id)?;
            Ok(())
        }
    }
}

/// What a matching call is: a room system or a cascading bridge.
fn role(cascade: bool) -> &'static str {
    if cascade {
        "cascade"
    } else {
        "trusted-vtc"
    }
}
