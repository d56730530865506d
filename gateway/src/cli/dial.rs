//! `tessera dial resolve`: one dial string through the dial plan against the directory.
//!
//! Owns nothing but the printing; the dial plan is `signaling`'s.

use std::io::Write;

use anyhow::Result;
use signaling::DialString;

use crate::directory::Directory;

/// Prints `tenant=.. conference=.. route=..`, or fails with the dial plan's reason.
pub(super) fn resolve(dir: &Directory, dial_string: &str, out: &mut dyn Write) -> Result<()> {
    let resolved = DialString::parse(dial_string)?.resolve(dir)?;
    writeln!(out, "{resolved}")?;
    Ok(())
}
