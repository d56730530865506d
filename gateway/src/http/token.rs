//! The operator token of the admin API: taken from the command line / environment, else read from
//! the token file beside the database, else generated once and written there with mode 0600.
//!
//! Owns the token's lifetime on disk and its comparison. It never logs or prints the token itself
//! (only the file's path), and its `Debug` is redacted.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// Shortest token accepted, in characters (a generated token has 64).
pub const MIN_TOKEN_LEN: usize = 16;

/// Random bytes in a generated token (hex-encoded, so twice as many characters).
const GENERATED_TOKEN_BYTES: usize = 32;

/// Suffix appended to the database file name to name the token file.
const TOKEN_FILE_SUFFIX: &str = ".admin-token";

/// Why no admin token could be set up.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token given (flag, environment or file) is empty or whitespace only.
    #[error("the admin token from {source_name} is empty")]
    Empty {
        /// Where it came from (`--admin-token / TESSERA_ADMIN_TOKEN` or the file path).
        source_name: String,
    },
    /// The token given is shorter than [`MIN_TOKEN_LEN`].
    #[error(
        "the admin token from {source_name} is {len} characters long; at least {min} are required",
        min = MIN_TOKEN_LEN
    )]
    TooShort {
        /// Where it came from.
        source_name: String,
        /// Its length.
        len: usize,
    },
    /// The token contains characters that cannot travel in an `Authorization: Bearer` header.
    #[error(
        "the admin token from {source_name} must be printable ASCII without spaces (it is sent as `Authorization: Bearer <token>`)"
    )]
    BadCharacters {
        /// Where it came from.
        source_name: String,
    },
    /// The token file could not be read or written.
    #[error("admin token file {}: {source}", path.display())]
    Io {
        /// The token file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
}

/// The operator's bearer token. Compared in constant time; never shown by `Debug`.
#[derive(Clone)]
pub struct AdminToken(String);

impl AdminToken {
    /// Validates `token` (non-empty, at least [`MIN_TOKEN_LEN`] characters, printable ASCII
    /// without spaces). `source_name` says where it came from, for the error message.
    pub fn new(token: String, source_name: &str) -> Result<Self, TokenError> {
        let source_name = source_name.to_owned();
        if token.trim().is_empty() {
            return Err(TokenError::Empty { source_name });
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::BadCharacters { source_name });
        }
        if token.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort {
                source_name,
                len: token.len(),
            });
        }
        Ok(Self(token))
    }

    /// Whether `candidate` is this token. Runs in time independent of where the two differ
    /// (only the length can be learnt, and a generated token's length is public anyway).
    pub fn matches(&self, candidate: &str) -> bool {
        // `subtle`: no early exit on the first difference, and no branch the optimiser adds.
        bool::from(self.0.as_bytes().ct_eq(candidate.as_bytes()))
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// The token file for the database at `db_path`: `<db file name>.admin-token` in the same
/// directory (`./tessera.db` gives `./tessera.db.admin-token`).
pub fn token_file_path(db_path: &Path) -> PathBuf {
    let mut name = db_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "tessera.db".into());
    name.push(TOKEN_FILE_SUFFIX);
    db_path.with_file_name(name)
}

/// The admin token for `tessera serve`.
///
/// `explicit` (from `--admin-token` or `TESSERA_ADMIN_TOKEN`; the caller resolves which) wins
/// and the token file is not touched. Otherwise the token file beside the database is read
/// (with a warning if group or others may access it), or, if there is none, 32 random bytes are
/// hex-encoded and written to a new file with mode 0600; its path (not the token) is logged.
pub fn load_or_create_token(
    explicit: Option<String>,
    db_path: &Path,
) -> Result<AdminToken, TokenError> {
    if let Some(token) = explicit {
        return AdminToken::new(token, "--admin-token / TESSERA_ADMIN_TOKEN");
    }
    let path = token_file_path(db_path);
    match read_token_file(&path) {
        Ok(token) => return Ok(token),
        Err(TokenError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let token = hex::encode(rand::random::<[u8; GENERATED_TOKEN_BYTES]>());
    let io_err = |source| TokenError::Io {
        path: path.clone(),
        source,
    };
    let mut file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(file) => file,
        // Another process created it between our read and our create: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return read_token_file(&path),
        Err(e) => return Err(io_err(e)),
    };
    file.write_all(format!("{token}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_err)?;
    tracing::info!(
        path = %path.display(),
        "generated a new admin API token; read it from this file (mode 0600)"
    );
    AdminToken::new(token, &path.display().to_string())
}

/// Reads and validates an existing token file, warning if its mode lets others read it.
fn read_token_file(path: &Path) -> Result<AdminToken, TokenError> {
    let io_err = |source| TokenError::Io {
        path: path.to_owned(),
        source,
    };
    let text = fs::read_to_string(path).map_err(io_err)?;
    let mode = fs::metadata(path).map_err(io_err)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{mode:04o}"),
            "admin token file is accessible by group or others; run `chmod 600` on it"
        );
    }
    tracing::info!(path = %path.display(), "using the admin API token from this file");
    AdminToken::new(text.trim().to_owned(), &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn first_start_creates_a_0600_file_with_a_64_hex_char_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("tessera.db");
        let token = load_or_create_token(None, &db).expect("token");

        let path = dir.path().join("tessera.db.admin-token");
        assert_eq!(token_file_path(&db), path);
        assert_eq!(mode_of(&path), 0o600);
        let written = fs::read_to_string(&path).expect("read");
        let written = written.trim();
        assert_eq!(written.len(), 64);
        assert!(written.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(token.matches(written));
    }

    #[test]
    fn second_start_reuses_the_token_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("tessera.db");
        let first = load_or_create_token(None, &db).expect("first");
        let second = load_or_create_token(None, &db).expect("second");
        assert!(first.matches(&second.0));
    }

    #[test]
    fn a_hand_written_token_file_is_used_and_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("tessera.db");
        fs::write(token_file_path(&db), "  operator-chosen-secret-1\n").expect("write");
        // Mode 0644 here only warns; the token is still used.
        let token = load_or_create_token(None, &db).expect("token");
        assert!(token.matches("operator-chosen-secret-1"));
    }

    #[test]
    fn explicit_token_wins_and_leaves_the_file_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("tessera.db");
        let from_file = load_or_create_token(None, &db).expect("file");
        let explicit = "explicit-token-0123456789".to_owned();
        let token = load_or_create_token(Some(explicit.clone()), &db).expect("explicit");
        assert!(token.matches(&explicit));
        assert!(!token.matches(&from_file.0));
        assert!(from_file.matches(
            fs::read_to_string(token_file_path(&db))
                .expect("read")
                .trim()
        ));
    }

    #[test]
    fn explicit_token_without_file_creates_no_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("tessera.db");
        load_or_create_token(Some("explicit-token-0123456789".into()), &db).expect("token");
        assert!(!token_file_path(&db).exists());
    }

    #[test]
    fn short_or_empty_explicit_token_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("tessera.db");
        let err = load_or_create_token(Some("short".into()), &db).expect_err("short");
        assert!(
            matches!(err, TokenError::TooShort { len: 5, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("at least 16"), "{err}");
        let err = load_or_create_token(Some(String::new()), &db).expect_err("empty");
        assert!(matches!(err, TokenError::Empty { .. }), "{err:?}");
        let err =
            load_or_create_token(Some("has a space in it, long".into()), &db).expect_err("space");
        assert!(matches!(err, TokenError::BadCharacters { .. }), "{err:?}");
    }

    #[test]
    fn short_token_in_the_file_is_refused_with_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("tessera.db");
        fs::write(token_file_path(&db), "abc\n").expect("write");
        let err = load_or_create_token(None, &db).expect_err("short");
        assert!(err.to_string().contains("tessera.db.admin-token"), "{err}");
    }

    #[test]
    fn debug_does_not_print_the_token() {
        let token = AdminToken::new("super-secret-token-value".into(), "test").expect("token");
        let shown = format!("{token:?}");
        assert!(!shown.contains("super-secret"), "{shown}");
    }

    #[test]
    fn comparison_needs_the_exact_token() {
        let token = AdminToken::new("0123456789abcdef".into(), "test").expect("token");
        assert!(token.matches("0123456789abcdef"));
        assert!(!token.matches("0123456789abcdeF"));
        assert!(!token.matches("0123456789abcde"));
        assert!(!token.matches("0123456789abcdef0"));
        assert!(!token.matches(""));
    }
}
