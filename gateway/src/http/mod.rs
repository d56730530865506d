//! The authenticated admin HTTP API of `tessera serve`.
//!
//! Owns the HTTP surface (routes, status codes, JSON bodies, the OpenAPI document), bearer
//! authentication (the operator token, see [`token`]; per-tenant tokens from the directory, see
//! [`scope`]) and the mapping of requests to [`AdminCommand`]s and directory calls, and of their
//! replies and errors back to HTTP.
//!
//! It must not touch call state: it holds no meeting, lobby or call data of its own, and
//! everything live it reads or changes goes through [`AdminHandle`] to the call-control core,
//! which owns that state and validates the path values (tenant key, conference ID, participant
//! id) passed through as strings. Directory records (tenants, meetings, trusted devices) are
//! changed through the same `Directory` methods the CLI calls, on a connection of their own
//! opened per request on the blocking pool; no validation rule lives here.
//!
//! | Method and path                                            | Success                    |
//! |------------------------------------------------------------|----------------------------|
//! | `GET /healthz` (no auth)                                   | 200 `ok` / 503 until ready |
//! | `GET /metrics` (no auth)                                   | 200 Prometheus text        |
//! | `GET /api/v1/openapi.json` (no auth)                       | 200 OpenAPI 3 document     |
//! | `GET /api/v1/tenants`                                      | 200 list                   |
//! | `POST /api/v1/tenants` (operator only)                     | 201 tenant                 |
//! | `GET`, `PATCH /api/v1/tenants/{key}`                       | 200 tenant                 |
//! | `DELETE /api/v1/tenants/{key}` (operator only)             | 204                        |
//! | `GET /api/v1/tenants/{key}/meetings`                       | 200 list                   |
//! | `POST /api/v1/tenants/{key}/meetings`                      | 201 meeting                |
//! | `GET`, `PATCH /api/v1/tenants/{key}/meetings/{conference}` | 200 meeting                |
//! | `DELETE /api/v1/tenants/{key}/meetings/{conference}`       | 204                        |
//! | `GET /api/v1/tenants/{key}/devices`                        | 200 list                   |
//! | `POST /api/v1/tenants/{key}/devices`                       | 201 device                 |
//! | `DELETE /api/v1/tenants/{key}/devices/{id}`                | 204                        |
//! | `POST /api/v1/tenants/{key}/grants`                        | 201 participant grant      |
//! | `GET /join/{tenant}/{conference}` (no auth; `join_page`)   | 200 the join page          |
//! | `GET /api/v1/meetings[?tenant=K]`                          | 200 live meeting list      |
//! | `GET /api/v1/meetings/{tenant}/{conference}`               | 200 [`MeetingView`] JSON   |
//! | `POST /api/v1/meetings/{tenant}/{conference}/lobby/{id}/admit` | 204                    |
//! | `POST /api/v1/meetings/{tenant}/{conference}/lobby/{id}/deny`  | 204                    |
//! | `DELETE /api/v1/meetings/{tenant}/{conference}/participants/{id}` | 204                 |
//!
//! Errors carry a JSON body `{"error": "..."}`: 400 for an undecodable path, malformed JSON or
//! an invalid value (the directory's message), 401 (with `WWW-Authenticate: Bearer
//! realm="tessera"`) for a missing, malformed, wrong or revoked token, 403 for a tenant token
//! outside its tenant or on an operator-only route, 404 for an unknown tenant, meeting, device,
//! participant or route, 409 for a duplicate or conflicting record (key, hostname, prefix,
//! meeting, digest username), 429 (with `Retry-After`) for a source that presented too many wrong
//! tokens ([`throttle`]), 503 when the core or the database is busy or gone.
//!
//! [`MeetingView`]: crate::calls::api::MeetingView

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::calls::api::{AdminCommand, AdminError, AdminReply};

mod cascades;
mod console;
mod db;
mod devices;
mod grants;
mod invites;
mod join;
mod join_page;
mod meetings;
pub mod openapi;
mod routes;
mod schema;
pub mod scope;
mod tenants;
pub mod throttle;
pub mod token;

pub use routes::router;
pub use token::{load_or_create_token, AdminToken, TokenError};

/// What the HTTP layer needs to serve requests.
#[derive(Clone)]
pub struct HttpState {
    /// The operator token every `/api` request must carry.
    pub token: Arc<AdminToken>,
    /// The way to the call-control core.
    pub admin: AdminHandle,
    /// Set once SIP is listening; `/healthz` answers 503 until then.
    pub ready: Arc<AtomicBool>,
    /// The Prometheus registry `/metrics` exposes.
    pub metrics: crate::metrics::Metrics,
    /// The tenant directory's database: each directory request opens its own directory handle
    /// on it (on the blocking pool), and tenant tokens are looked up there.
    pub db: crate::directory::DirectorySource,
    /// The in-memory directory calls are answered from: reloaded after every write made here,
    /// before the response, so a call placed after it sees the change.
    pub directory: Arc<crate::directory::LiveDirectory>,
    /// Wrong-token counts by source: too many get 429 ([`throttle`]).
    pub throttle: Arc<std::sync::Mutex<throttle::AuthThrottle>>,
    /// Browsers' peers and join sessions.
    pub webrtc: crate::webrtc::WebrtcState,
}

/// One admin request to the core: the command and where to send its result.
pub type AdminRequest = (
    AdminCommand,
    oneshot::Sender<Result<AdminReply, AdminError>>,
);

/// The sending end of the core's admin channel.
#[derive(Clone, Debug)]
pub struct AdminHandle(pub mpsc::Sender<AdminRequest>);

/// Why an admin call produced no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminCallError {
    /// The core refused the command.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// The core is gone: its channel is closed or it dropped the request unanswered.
    #[error("the call-control core is not available")]
    Unavailable,
}

impl AdminHandle {
    /// Sends `cmd` to the core and waits for its reply.
    pub async fn call(&self, cmd: AdminCommand) -> Result<AdminReply, AdminCallError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.0
            .send((cmd, reply_tx))
            .await
            .map_err(|_| AdminCallError::Unavailable)?;
        let reply = reply_rx.await.map_err(|_| AdminCallError::Unavailable)?;
        Ok(reply?)
    }
}

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_directory;
#[cfg(test)]
mod tests_grants;
#[cfg(test)]
mod tests_openapi;
#[cfg(test)]
mod tests_scope;
