//! `tessera`: parses the command line, runs it, and turns any error into `error: <reason>` on
//! stderr with a non-zero exit.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use gateway::cli::{self, Cli};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
                .unwrap_or_else(|_| "info,rusqlite_migration=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Cli::parse();
    let stdout = std::io::stdout();
    match cli::run(args, &mut stdout.lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
