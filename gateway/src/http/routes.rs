//! Routes, the bearer-token check and the mapping between HTTP and [`AdminCommand`]s.
//!
//! Success codes: the meeting view is 200 with JSON; admit, deny and remove answer 204 No Content
//! (nothing to say beyond "done"; a client re-reads the meeting view for the new state).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::schema::{self, ErrorBody};
use super::scope::Scope;
use super::{AdminCallError, HttpState};
use crate::calls::api::{AdminCommand, AdminError, AdminReply, MeetingSummary, MeetingView};

/// How long a request waits for the core's answer before giving up with 503.
const CORE_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The `WWW-Authenticate` challenge sent with every 401.
const BEARER_CHALLENGE: &str = "Bearer realm=\"tessera\"";

/// The admin API: `/healthz` (open) and the token-protected `/api/v1/...` routes.
///
/// The routes and their OpenAPI descriptions come from the same lists ([`open_routes`],
/// [`api_routes`]); `/api/v1/openapi.json` serves the description.
pub fn router(state: HttpState) -> Router {
    let (api, _) = api_routes().split_for_parts();
    let api = api
        .method_not_allowed_fallback(method_not_allowed)
        // The operator token or a tenant token; the scope's path rule (403) runs here too.
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let (open, _) = open_routes().split_for_parts();
    open.method_not_allowed_fallback(method_not_allowed)
        .merge(api)
        .merge(super::console::routes(state.clone()))
        .merge(super::join::routes())
        .merge(super::join_page::routes())
        .fallback(not_found)
        .with_state(state)
}

/// The routes that need no token.
pub(super) fn open_routes() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .routes(routes!(super::openapi::openapi_json))
}

/// The token-protected `/api/v1` routes.
pub(super) fn api_routes() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(list_live_meetings))
        .routes(routes!(view_meeting))
        .routes(routes!(admit))
        .routes(routes!(deny))
        .routes(routes!(remove))
        .routes(routes!(add_synthetic))
        .merge(super::tenants::routes())
        .merge(super::meetings::routes())
        .merge(super::devices::routes())
        .merge(super::grants::routes())
        .merge(super::invites::routes())
}

/// Prometheus metrics (no token).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    security(()),
    responses((status = 200, description = "Prometheus text format", body = String,
        content_type = "text/plain; version=0.0.4"))
)]
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
pub(super) enum ApiError {
    /// No usable credentials (401 with a Bearer challenge).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The path could not be decoded (400).
    #[error("{0}")]
    BadPath(String),
    /// The body or a value in it is malformed or invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// A valid token that may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// A duplicate or conflicting record (409).
    #[error("{0}")]
    Conflict(String),
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
            ApiError::BadPath(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
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
            AdminCallError::Admin(e @ AdminError::InvalidCount { .. }) => {
                ApiError::BadRequest(e.to_string())
            }
            AdminCallError::Unavailable => ApiError::Unavailable,
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ApiError::BadPath(e.body_text())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::BadRequest(e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::BadRequest(e.body_text())
    }
}

/// Checks `Authorization: Bearer <token>` before any `/api` handler runs: the operator token, or
/// a live tenant token from the directory (else 401). The token's [`Scope`] must allow the path
/// (else 403, see [`super::scope`]); it is then put in the request's extensions for handlers that
/// filter lists.
pub(super) async fn require_token(
    State(state): State<HttpState>,
    mut request: Request,
    next: Next,
) -> Response {
    let scope = match bearer_token(request.headers()) {
        Ok(token) if state.token.matches(token) => Scope::Operator,
        Ok(token) => match Scope::of_tenant_token(&state, token).await {
            Ok(Some(scope)) => scope,
            Ok(None) => {
                tracing::debug!(path = %request.uri().path(), "admin API: wrong token");
                return ApiError::Unauthorized("invalid token").into_response();
            }
            Err(e) => return e.into_response(),
        },
        Err(e) => return e.into_response(),
    };
    if let Err(e) = scope.authorise(request.method(), request.uri().path()) {
        tracing::debug!(path = %request.uri().path(), ?scope, "admin API: outside the token's scope");
        return e.into_response();
    }
    request.extensions_mut().insert(scope);
    next.run(request).await
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

/// Health: 200 once SIP is listening (no token).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    security(()),
    responses(
        (status = 200, description = "SIP is listening", body = String, content_type = "text/plain"),
        (status = 503, description = "Starting or draining", body = String, content_type = "text/plain"),
    )
)]
async fn healthz(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

/// The live view of one meeting: participants and lobby.
#[utoipa::path(
    get,
    path = "/api/v1/meetings/{tenant}/{conference}",
    tag = "live",
    params(
        ("tenant" = String, Path, description = "Tenant key"),
        ("conference" = String, Path, description = "Conference ID"),
    ),
    responses(
        (status = 200, description = "The meeting view", body = schema::MeetingView),
        (status = 400, description = "Undecodable path", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 503, description = "The core is not available", body = ErrorBody),
        (status = 404, description = "No such live meeting", body = ErrorBody),
    )
)]
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

/// Admit someone from the lobby.
#[utoipa::path(
    post,
    path = "/api/v1/meetings/{tenant}/{conference}/lobby/{id}/admit",
    tag = "live",
    params(
        ("tenant" = String, Path, description = "Tenant key"),
        ("conference" = String, Path, description = "Conference ID"),
        ("id" = String, Path, description = "Participant or lobby entry id"),
    ),
    responses(
        (status = 204, description = "Done"),
        (status = 400, description = "Undecodable path", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 503, description = "The core is not available", body = ErrorBody),
        (status = 404, description = "No such live meeting or participant", body = ErrorBody),
    )
)]
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

/// Turn someone in the lobby away (BYE with a Reason).
#[utoipa::path(
    post,
    path = "/api/v1/meetings/{tenant}/{conference}/lobby/{id}/deny",
    tag = "live",
    params(
        ("tenant" = String, Path, description = "Tenant key"),
        ("conference" = String, Path, description = "Conference ID"),
        ("id" = String, Path, description = "Participant or lobby entry id"),
    ),
    responses(
        (status = 204, description = "Done"),
        (status = 400, description = "Undecodable path", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 503, description = "The core is not available", body = ErrorBody),
        (status = 404, description = "No such live meeting or participant", body = ErrorBody),
    )
)]
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

/// Remove a participant from the meeting (BYE).
#[utoipa::path(
    delete,
    path = "/api/v1/meetings/{tenant}/{conference}/participants/{id}",
    tag = "live",
    params(
        ("tenant" = String, Path, description = "Tenant key"),
        ("conference" = String, Path, description = "Conference ID"),
        ("id" = String, Path, description = "Participant or lobby entry id"),
    ),
    responses(
        (status = 204, description = "Done"),
        (status = 400, description = "Undecodable path", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 503, description = "The core is not available", body = ErrorBody),
        (status = 404, description = "No such live meeting or participant", body = ErrorBody),
    )
)]
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

/// Body of `POST .../synthetic`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SyntheticBody {
    /// How many synthetic participants to add (1-16).
    count: u32,
}

/// Add synthetic trusted participants (moving test pattern, voice in turns) to a meeting: the
/// meeting side of a load test, like the demo meeting's.
#[utoipa::path(
    post,
    path = "/api/v1/meetings/{tenant}/{conference}/synthetic",
    tag = "live",
    params(
        ("tenant" = String, Path, description = "Tenant key"),
        ("conference" = String, Path, description = "Conference ID"),
    ),
    request_body = SyntheticBody,
    responses(
        (status = 204, description = "Added"),
        (status = 400, description = "Undecodable path or body, or a count out of range", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 503, description = "The core is not available", body = ErrorBody),
        (status = 404, description = "No such meeting", body = ErrorBody),
    )
)]
async fn add_synthetic(
    State(state): State<HttpState>,
    path: Result<Path<MeetingPath>, PathRejection>,
    body: Result<Json<SyntheticBody>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(MeetingPath { tenant, conference }) = path?;
    let Json(SyntheticBody { count }) = body?;
    let cmd = AdminCommand::AddSynthetic {
        tenant,
        conference,
        count,
    };
    expect_done(&state, cmd).await
}

/// `?tenant=` of the live meeting list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LiveQuery {
    /// Only this tenant's meetings (a tenant token always sees only its own).
    tenant: Option<String>,
}

/// The live meetings (someone in or waiting), by tenant and conference ID.
#[utoipa::path(
    get,
    path = "/api/v1/meetings",
    tag = "live",
    params(LiveQuery),
    responses(
        (status = 200, description = "The live meetings the token may see", body = Vec<schema::MeetingSummary>),
        (status = 400, description = "Malformed query", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 503, description = "The core is not available", body = ErrorBody),
    )
)]
async fn list_live_meetings(
    State(state): State<HttpState>,
    Extension(scope): Extension<Scope>,
    query: Result<Query<LiveQuery>, QueryRejection>,
) -> Result<Json<Vec<MeetingSummary>>, ApiError> {
    let Query(query) = query?;
    let tenant = match (query.tenant, scope.tenant()) {
        (Some(tenant), _) => {
            scope.may_see(&tenant)?;
            Some(tenant)
        }
        (None, own) => own.map(ToString::to_string),
    };
    match call_core(&state, AdminCommand::ListMeetings { tenant }).await? {
        AdminReply::Meetings(list) => Ok(Json(list)),
        other => {
            tracing::error!(reply = ?other, "admin API: unexpected reply from the core");
            Err(ApiError::Internal)
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
