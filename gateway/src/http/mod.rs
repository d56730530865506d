//! The authenticated admin HTTP API of `tessera serve`.
//!
//! Owns the HTTP surface (routes, status codes, JSON bodies), operator authentication (the bearer
//! token, see [`token`]) and the mapping of requests to [`AdminCommand`]s and of their replies
//! and errors back to HTTP.
//!
//! It must not touch call state: it holds no meeting, lobby or call data of its own, and
//! everything it reads or changes goes through [`AdminHandle`] to the call-control core, which
//! owns that state and validates the path values (tenant key, conference ID, participant id)
//! passed through as strings.
//!
//! | Method and path                                            | Success                    |
//! |------------------------------------------------------------|----------------------------|
//! | `GET /healthz` (no auth)                                   | 200 `ok` / 503 until ready |
//! | `GET /api/v1/meetings/{tenant}/{conference}`               | 200 [`MeetingView`] JSON   |
//! | `POST /api/v1/meetings/{tenant}/{conference}/lobby/{id}/admit` | 204                    |
//! | `POST /api/v1/meetings/{tenant}/{conference}/lobby/{id}/deny`  | 204                    |
//! | `DELETE /api/v1/meetings/{tenant}/{conference}/participants/{id}` | 204                 |
//!
//! Errors carry a JSON body `{"error": "..."}`: 401 (with `WWW-Authenticate: Bearer
//! realm="tessera"`) for a missing, malformed or wrong token, 404 for an unknown meeting,
//! participant or route, 503 when the core is gone or does not answer in time.
//!
//! [`MeetingView`]: crate::calls::api::MeetingView

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::calls::api::{AdminCommand, AdminError, AdminReply};

mod routes;
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
mod tests;
