//! `tessera lobby decide`: the lobby decision table of `shared/domain.md`, with no database.
//!
//! Owns nothing but the printing; the decision is `crate::lobby`'s.

use std::io::Write;

use anyhow::Result;

use super::{LobbyDecide, YesNo};
use crate::lobby::LobbyPolicy;

/// Prints `bypass` or `lobby` for one class under one policy.
pub(super) fn decide(a: LobbyDecide, out: &mut dyn Write) -> Result<()> {
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
