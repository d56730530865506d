//! The admin API's way into the tenant directory: one short-lived [`Directory`] per request (a
//! SQLite connection of its own, or a handle on the PostgreSQL pool), on the blocking thread
//! pool, and the mapping of directory refusals to HTTP.
//!
//! SQLite in WAL mode lets this reader/writer run beside the gateway's watcher connection, and
//! the directory's busy timeout (5 s) covers a write in progress. Every write is one directory
//! transaction, so a refused request changes nothing. A request that wrote reloads the calls'
//! in-memory directory ([`HttpState::directory`]) before it answers.

use crate::directory::{Directory, DirectoryError};

use super::routes::ApiError;
use super::HttpState;

/// Opens the directory on the blocking pool and runs `f` on it.
pub(super) async fn with_directory<T, F>(state: &HttpState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut Directory) -> Result<T, DirectoryError> + Send + 'static,
{
    let source = state.db.clone();
    let live = state.directory.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut dir = source.open()?;
        let result = f(&mut dir);
        if dir.wrote() {
            // The write is committed whatever the reload does; on a failure the watcher's next
            // check retries (see `crate::server`).
            if let Err(e) = live.reload(&dir) {
                tracing::warn!(error = %e, "admin API: directory written, snapshot not reloaded");
            }
        }
        result
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "admin API: directory task failed");
        ApiError::Internal
    })?;
    Ok(result?)
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::InvalidId(_) | DirectoryError::Invalid { .. } => {
                ApiError::BadRequest(e.to_string())
            }
            DirectoryError::DuplicateTenant(_)
            | DirectoryError::DuplicateHostname { .. }
            | DirectoryError::PrefixOverlap { .. }
            | DirectoryError::DuplicateMeeting { .. }
            | DirectoryError::DuplicateCredential { .. } => ApiError::Conflict(e.to_string()),
            DirectoryError::UnknownTenant(_)
            | DirectoryError::UnknownMeeting { .. }
            | DirectoryError::UnknownDevice { .. }
            | DirectoryError::UnknownToken { .. } => ApiError::NotFound(e.to_string()),
            DirectoryError::Sqlite(ref sqlite)
                if matches!(
                    sqlite.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                ) =>
            {
                tracing::warn!(error = %e, "admin API: directory busy");
                ApiError::Unavailable
            }
            DirectoryError::Pool(_) => {
                tracing::warn!(error = %e, "admin API: no PostgreSQL connection in time");
                ApiError::Unavailable
            }
            DirectoryError::Sqlite(_)
            | DirectoryError::Migration(_)
            | DirectoryError::Postgres(_)
            | DirectoryError::PgMigration(_) => {
                tracing::error!(error = %e, "admin API: directory failed");
                ApiError::Internal
            }
        }
    }
}
