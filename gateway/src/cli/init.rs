//! `tessera init`: create or migrate the directory, and with `--demo` seed the demo tenant and
//! meeting.
//!
//! Owns the printing; the seeding is `crate::demo`'s.

use std::io::Write;

use anyhow::Result;

use super::InitArgs;
use crate::demo;
use crate::directory::Directory;

/// Reports the directory ready and what the demo seed did.
pub(super) fn run(
    dir: &mut Directory,
    db: &crate::directory::DbLocation,
    a: InitArgs,
    out: &mut dyn Write,
) -> Result<()> {
    writeln!(out, "directory {db} is ready")?;
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
