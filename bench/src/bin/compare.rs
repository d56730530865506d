//! `compare`: runs Tessera's code and a peer on the same input, prints a table and a summary line.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Tessera against a peer, same input, same run")]
struct Cli {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Nine frames into one 3x3 layout: Tessera's compositor vs libswscale + copy.
    Compositor(bench::compositor::CompositorArgs),
    /// One meeting's transcoding per frame: Tessera vs the naive pipeline.
    Pipeline(bench::pipeline::PipelineArgs),
    /// What a shown VTC costs to decode, at 720p and at the pictures TMMBR asks for.
    Decode(bench::decode::DecodeArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().what {
        What::Compositor(args) => bench::compositor::run(&args),
        What::Pipeline(args) => bench::pipeline::run(&args),
        What::Decode(args) => bench::decode::run(&args),
    }
}
