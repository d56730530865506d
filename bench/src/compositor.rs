//! `compare compositor`: Tessera's compositor against libswscale + a plain copy into tiles.

/// Options of `compare compositor`.
#[derive(Debug, clap::Args)]
pub struct CompositorArgs {}

/// Runs the comparison and prints its table and summary line.
pub fn run(_args: &CompositorArgs) -> anyhow::Result<()> {
    anyhow::bail!("compare compositor: not built yet")
}
