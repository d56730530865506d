//! `tessera token create|list|revoke`: admin API tokens scoped to one tenant; `tessera token
//! grant`: participant grants (`crate::grants`).
//!
//! Owns printing tokens (the secret once, at creation) and reading the wall clock for a grant's
//! expiry; storage, hashing and signing are the directory's and `crate::grants`'.

use std::io::Write;

use anyhow::Result;
use serde_json::Value;

use super::output::{print_json, print_table};
use super::TokenCommand;
use crate::directory::{Directory, GrantRequest};

/// Runs one token command.
pub(super) fn run(dir: &mut Directory, command: TokenCommand, out: &mut dyn Write) -> Result<()> {
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
        TokenCommand::Grant(a) => {
            let issued = dir.issue_grant(
                &GrantRequest {
                    tenant: a.tenant,
                    conference: a.conference,
                    class: a.class,
                    name: a.name,
                    ttl: a.ttl,
                },
                unix_now()?,
            )?;
            if a.json {
                return print_json(out, &issued.to_json());
            }
            writeln!(out, "{}", issued.token)?;
            Ok(())
        }
        TokenCommand::Revoke(a) => {
            dir.revoke_tenant_token(&a.tenant, a.id)?;
            writeln!(out, "revoked token {} of tenant {}", a.id, a.tenant)?;
            Ok(())
        }
    }
}

/// Seconds since the Unix epoch, now: the CLI is the binary's edge, where the clock is read.
#[allow(clippy::disallowed_methods)]
fn unix_now() -> Result<u64> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs())
}
