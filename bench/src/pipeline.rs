//! `compare pipeline`: Tessera's per-meeting transcoding pipeline against the naive one.

/// Options of `compare pipeline`.
#[derive(Debug, clap::Args)]
pub struct PipelineArgs {}

/// Runs the comparison and prints its table and summary line.
pub fn run(_args: &PipelineArgs) -> anyhow::Result<()> {
    anyhow::bail!("compare pipeline: not built yet")
}
