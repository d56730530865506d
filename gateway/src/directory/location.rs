//! Where the directory lives, as `--db` / the TOML `db` key give it: [`DbLocation`], a SQLite
//! file path or a PostgreSQL URL (`postgres://` or `postgresql://`, libpq's URL form).
//!
//! Owns parsing and printing the location (a printed URL never shows its password); it must not
//! open anything.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Why a `--db` value was refused.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    /// Empty.
    #[error("the database location is empty")]
    Empty,
    /// A `postgres://` URL the PostgreSQL client cannot read.
    #[error("invalid PostgreSQL URL: {0}")]
    Url(#[source] postgres::Error),
}

/// A directory database: embedded SQLite (one gateway) or a shared PostgreSQL (a cluster).
#[derive(Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A SQLite file, created if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL, e.g. `postgres://tessera@db.example:5432/tessera`.
    Postgres(String),
}

impl DbLocation {
    /// The path the gateway's admin token file sits beside (`crate::http::token`): the SQLite
    /// file itself, or, for PostgreSQL, `./tessera-postgres` in the working directory (a cluster's
    /// nodes should be given one `--admin-token` instead).
    pub fn token_anchor(&self) -> PathBuf {
        match self {
            DbLocation::Sqlite(path) => path.clone(),
            DbLocation::Postgres(_) => PathBuf::from("tessera-postgres"),
        }
    }

    /// The PostgreSQL client configuration, for a PostgreSQL location.
    pub fn postgres_config(&self) -> Option<postgres::Config> {
        match self {
            // Checked when parsed, so this only fails for a value built by hand.
            DbLocation::Postgres(url) => url.parse().ok(),
            DbLocation::Sqlite(_) => None,
        }
    }
}

impl FromStr for DbLocation {
    type Err = LocationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err(LocationError::Empty);
        }
        if let Some((scheme, rest)) = text.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            if scheme == "postgres" || scheme == "postgresql" {
                // The client reads only the lower-case scheme.
                let url = format!("{scheme}://{rest}");
                url.parse::<postgres::Config>()
                    .map_err(LocationError::Url)?;
                return Ok(DbLocation::Postgres(url));
            }
        }
        Ok(DbLocation::Sqlite(PathBuf::from(text)))
    }
}

impl fmt::Display for DbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbLocation::Sqlite(path) => write!(f, "{}", path.display()),
            DbLocation::Postgres(url) => f.write_str(&without_password(url)),
        }
    }
}

/// Debug shows what Display shows: a location must not put a password into a log.
impl fmt::Debug for DbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbLocation::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            DbLocation::Postgres(_) => f.debug_tuple("Postgres").field(&self.to_string()).finish(),
        }
    }
}

/// `scheme://user:secret@host/...` → `scheme://user:***@host/...`; a URL without a password is
/// unchanged. (A password given as a `?password=` parameter is masked too.)
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_sqlite() {
        assert_eq!(
            "/var/lib/tessera/directory.db"
                .parse::<DbLocation>()
                .unwrap(),
            DbLocation::Sqlite("/var/lib/tessera/directory.db".into())
        );
        assert_eq!(
            "tessera.db".parse::<DbLocation>().unwrap(),
            DbLocation::Sqlite("tessera.db".into())
        );
    }

    #[test]
    fn a_postgres_url_is_postgres_in_either_scheme_spelling() {
        for url in [
            "postgres://tessera@127.0.0.1:5432/tessera",
            "postgresql://tessera:pw@db.example/tessera?connect_timeout=5",
            "POSTGRES://db.example/tessera",
        ] {
            let location: DbLocation = url.parse().unwrap();
            let lower_scheme = url.replacen("POSTGRES", "postgres", 1);
            assert_eq!(location, DbLocation::Postgres(lower_scheme));
            assert!(location.postgres_config().is_some(), "{url}");
        }
    }

    #[test]
    fn empty_and_malformed_urls_are_refused() {
        assert!(matches!(
            "  ".parse::<DbLocation>(),
            Err(LocationError::Empty)
        ));
        assert!(matches!(
            "postgres://db.example:notaport/tessera".parse::<DbLocation>(),
            Err(LocationError::Url(_))
        ));
    }

    #[test]
    fn printing_a_location_never_shows_the_password() {
        let location: DbLocation =
            "postgres://tessera:s3cret@db.example:5432/tessera?password=s3cret&sslmode=disable"
                .parse()
                .unwrap();
        let shown = format!("{location} {location:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(
            location.to_string(),
            "postgres://tessera:***@db.example:5432/tessera?password=***&sslmode=disable"
        );
    }

    proptest::proptest! {
        #[test]
        fn parsing_and_printing_never_panic(text in "\\PC{0,60}", url in "postgres(ql)?://\\PC{0,40}") {
            for t in [&text, &url] {
                if let Ok(location) = t.parse::<DbLocation>() {
                    let _ = (location.to_string(), format!("{location:?}"));
                }
            }
        }
    }
}
