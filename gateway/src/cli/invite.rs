//! `tessera invite parse`: the meeting an invitation is for and every dial string that reaches
//! it (one-touch dial).
//!
//! Owns reading the input (file or stdin, bounded) and the printing; the parsing is
//! `crate::invites`'.

use std::io::Write;

use anyhow::{Context, Result};

use super::output::print_json;
use super::InviteParse;
use crate::directory::Directory;

/// Reads the invitation and prints its meeting and dial strings.
pub(super) fn parse(dir: &Directory, a: InviteParse, out: &mut dyn Write) -> Result<()> {
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
