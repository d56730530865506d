//! A throwaway PostgreSQL 15 (Debian's `postgresql`) for the tests: one server per test binary,
//! started by `throwaway-postgres.sh` on a free loopback port in a temporary directory, and a new
//! database per test ([`Postgres::fresh_database`]) so tests running in parallel share nothing.
//!
//! Owns the server process: the script holds our end of a pipe on its stdin and stops the server
//! and removes its directory when that closes, which happens however this process exits. It must
//! not start gateways.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use super::free_tcp_port;

/// The running server of this test binary.
pub struct Postgres {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Kept only so that the pipe stays open while this process runs.
    _child: Mutex<(Child, ChildStdin)>,
    next_db: AtomicU32,
}

/// The server of this test binary, started by the first test that asks.
pub fn shared() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(|| {
        let mut last = String::new();
        for _ in 0..3 {
            match Postgres::start() {
                Ok(server) => return server,
                Err(e) => last = e,
            }
        }
        panic!("PostgreSQL did not start: {last}");
    })
}

impl Postgres {
    fn start() -> Result<Postgres, String> {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/throwaway-postgres.sh");
        let port = free_tcp_port();
        let mut child = Command::new("bash")
            .arg(script)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run throwaway-postgres.sh: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if !line.starts_with("ready ") {
            let _ = child.wait();
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
            }
            return Err(format!("port {port}: {line}{err}"));
        }
        Ok(Postgres {
            port,
            _child: Mutex::new((child, stdin)),
            next_db: AtomicU32::new(0),
        })
    }

    /// The URL of a database on this server (`postgres://postgres@127.0.0.1:PORT/NAME`).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database no other test uses, and gives its URL.
    pub fn fresh_database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            self.next_db.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = ::postgres::Client::connect(&self.url("postgres"), ::postgres::NoTls)
            .expect("connect to the test PostgreSQL");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        self.url(&name)
    }
}

/// The node the cluster's database at `url` names as the home of `tenant`'s meeting
/// `conference` (`meeting_homes`), or `None` when none is or the database cannot be read.
pub fn meeting_home(url: &str, tenant: &str, conference: &str) -> Option<String> {
    let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).ok()?;
    client
        .query_opt(
            "SELECT node FROM meeting_homes WHERE tenant_key = $1 AND conference = $2",
            &[&tenant, &conference],
        )
        .ok()?
        .map(|row| row.get(0))
}
