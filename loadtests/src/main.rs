//! `tessera-load`: sizes a gateway the way a customer's own load test would.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "tessera-load",
    about = "Load tests against a running tessera gateway"
)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _ = Cli::parse();
    anyhow::bail!("tessera-load: not built yet")
}
