//! Routes, the bearer-token check and the mapping between HTTP and [`AdminCommand`]s.
//!
//! Success codes: the meeting view is 200 with JSON; admit, deny and remove answer 204 No Content
//! (nothing to say beyond "done"; a client re-reads the meeting view for the new state).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::{AdminCallError, HttpState};
use crate::calls::api::{AdminCommand, AdminError, AdminReply, MeetingView};

/// How long a request waits for the core's answer before giving up with 503.
const CORE_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The `WWW-Authenticate` challenge sent with every 401.
const BEARER_CHALLENGE: &str = "Bearer realm=\"tessera\"";

/// The admin API: `/healthz` (open) and the token-protected `/api/v1/...` routes.
pub fn router(state: HttpState) -> Router {
    let api = Router::new()
        .route("/api/v1/meetings/{tenant}/{conference}", get(view_meeting))
        .route(
            "/api/v1/meetings/{tenant}/{conference}/lobby/{id}/admit",
            post(admit),
        )
        .route(
            "/api/v1/meetings/{tenant}/{conference}/lobby/{id}/deny",
            post(deny),
        )
        .route(
            "/api/v1/meetings/{tenant}/{conference}/participants/{id}",
            delete(remove),
        )
        .method_not_allowed_fallback(method_not_allowed)
        // Per-tenant tokens (403 for a valid token of another tenant) plug in here: the check
        // would resolve the token to its scope and compare it with the `{tenant}` segment.
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .method_not_allowed_fallback(method_not_allowed)
        .merge(api)
        .fallback(not_found)
        .with_state(state)
}

/// `GET /metrics`: Prometheus text format, no token (scrapers live on the operator's network; the
/// listener defaults to loopback, and no metric names a person).
async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// The `{tenant}/{conference}` part of a meeting path.
#[derive(Debug, Deserialize)]
struct MeetingPath {
    tenant: String,
    conference: String,
}

/// A meeting path with a participant or lobby entry id.
#[derive(Debug, Deserialize)]
struct EntryPath {
    tenant: String,
    conference: String,
    id: String,
}

/// An error answer: a status and a JSON `{"error": "..."}` body.
#[derive(Debug, thiserror::Error)]
enum ApiError {
    /// No usable credentials (401 with a Bearer challenge).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The path could not be decoded (400).
    #[error("{0}")]
    BadPath(String),
    /// No such meeting, participant or route (404).
    #[error("{0}")]
    NotFound(String),
    /// The method is not served on this path (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The core is gone or too slow (503).
    #[error("the gateway core is not available; try again")]
    Unavailable,
    /// The core answered with the wrong kind of reply (500; a bug).
    #[error("internal error")]
    Internal,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::BadPath(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.to_string() }));
        let mut response = (self.status(), body).into_response();
        if matches!(self, ApiError::Unauthorized(_)) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(BEARER_CHALLENGE),
            );
        }
        response
    }
}

impl From<AdminCallError> for ApiError {
    fn from(e: AdminCallError) -> Self {
        match e {
            AdminCallError::Admin(
                e @ (AdminError::UnknownMeeting { .. } | AdminError::UnknownParticipant { .. }),
            ) => ApiError::NotFound(e.to_string()),
            AdminCallError::Unavailable => ApiError::Unavailable,
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ApiError::BadPath(e.body_text())
    }
}

/// Checks `Authorization: Bearer <token>` before any `/api` handler runs.
async fn require_token(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    match bearer_token(request.headers()) {
        Ok(token) if state.token.matches(token) => next.run(request).await,
        Ok(_) => {
            tracing::debug!(path = %request.uri().path(), "admin API: wrong token");
            ApiError::Unauthorized("invalid token").into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The token of an `Authorization: Bearer` header (scheme matched case-insensitively, RFC 7235).
fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(
            "missing Authorization: Bearer token",
        ))?;
    let malformed =
        ApiError::Unauthorized("malformed Authorization header; expected Bearer <token>");
    let Ok(value) = value.to_str() else {
        return Err(malformed);
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return Err(malformed);
    };
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed);
    }
    Ok(token)
}

/// Sends a command to the core, bounded by [`CORE_REPLY_TIMEOUT`].
async fn call_core(state: &HttpState, cmd: AdminCommand) -> Result<AdminReply, ApiError> {
    match tokio::time::timeout(CORE_REPLY_TIMEOUT, state.admin.call(cmd)).await {
        Ok(reply) => Ok(reply?),
        Err(_elapsed) => {
            tracing::warn!("admin API: the core did not answer in time");
            Err(ApiError::Unavailable)
        }
    }
}

/// Expects [`AdminReply::Done`] and answers 204.
async fn expect_done(state: &HttpState, cmd: AdminCommand) -> Result<StatusCode, ApiError> {
    match call_core(state, cmd).await? {
        AdminReply::Done => Ok(StatusCode::NO_CONTENT),
        other => {
            tracing::error!(reply = ?other, "admin API: unexpected reply from the core");
            Err(ApiError::Internal)
        }
    }
}

async fn healthz(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

async fn view_meeting(
    State(state): State<HttpState>,
    path: Result<Path<MeetingPath>, PathRejection>,
) -> Result<Json<MeetingView>, ApiError> {
    let Path(MeetingPath { tenant, conference }) = path?;
    match call_core(&state, AdminCommand::ViewMeeting { tenant, conference }).await? {
        AdminReply::Meeting(view) => Ok(Json(view)),
        other => {
            tracing::error!(reply = ?other, "admin API: unexpected reply from the core");
            Err(ApiError::Internal)
        }
    }
}

async fn admit(
    State(state): State<HttpState>,
    path: Result<Path<EntryPath>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(EntryPath {
        tenant,
        conference,
        id,
    }) = path?;
    let cmd = AdminCommand::Admit {
        tenant,
        conference,
        id,
    };
    expect_done(&state, cmd).await
}

async fn deny(
    State(state): State<HttpState>,
    path: Result<Path<EntryPath>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(EntryPath {
        tenant,
        conference,
        id,
    }) = path?;
    let cmd = AdminCommand::Deny {
        tenant,
        conference,
        id,
    };
    expect_done(&state, cmd).await
}

async fn remove(
    State(state): State<HttpState>,
    path: Result<Path<EntryPath>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(EntryPath {
        tenant,
        conference,
        id,
    }) = path?;
    let cmd = AdminCommand::Remove {
        tenant,
        conference,
        id,
    };
    expect_done(&state, cmd).await
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
