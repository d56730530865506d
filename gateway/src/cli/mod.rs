//! The operator CLI: what each command does and prints (tables by default, JSON with `--json`).
//! The arguments are in [`args`]; each command has its own module.
//!
//! This is the binary's edge: it opens the directory, calls into it and the lobby engine, and
//! formats results. It must not hold rules of its own; validation lives in the directory and the
//! id types.

mod args;
mod cascade;
mod device;
mod dial;
mod init;
mod invite;
mod lobby;
mod meeting;
mod output;
mod tenant;
mod token;

pub use args::*;

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::directory::{DbLocation, Directory};
use crate::server;

fn default_db() -> DbLocation {
    DbLocation::Sqlite(PathBuf::from(DEFAULT_DB))
}

/// Runs one parsed command, writing its normal output to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<()> {
    match cli.command {
        // Needs no database: a pure decision.
        Command::Lobby(LobbyCommand::Decide(a)) => lobby::decide(a, out),
        // Talks to a running gateway, not to the database (only its token file is beside it).
        Command::Cascade(c) => {
            let db = cli.db.unwrap_or_else(default_db);
            cascade::run(&db.token_anchor(), c, out)
        }
        Command::Serve(options) => {
            let config = options.resolve()?;
            let db = cli
                .db
                .or_else(|| config.db.clone())
                .unwrap_or_else(default_db);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(server::serve(&db, config))?;
            Ok(())
        }
        command => {
            let db = cli.db.unwrap_or_else(default_db);
            let mut dir =
                Directory::connect(&db).with_context(|| format!("cannot open directory {db}"))?;
            match command {
                Command::Init(a) => init::run(&mut dir, &db, a, out),
                Command::Tenant(c) => tenant::run(&mut dir, c, out),
                Command::Meeting(c) => meeting::run(&mut dir, c, out),
                Command::Device(c) => device::run(&mut dir, c, out),
                Command::Token(c) => token::run(&mut dir, c, out),
                Command::Dial(DialCommand::Resolve { dial_string }) => {
                    dial::resolve(&dir, &dial_string, out)
                }
                Command::Invite(InviteCommand::Parse(a)) => invite::parse(&dir, a, out),
                Command::Lobby(_) | Command::Serve(_) | Command::Cascade(_) => {
                    unreachable!("handled above")
                }
            }
        }
    }
}
