//! `POST /api/v1/tenants/{key}/grants`: issue a participant grant (`crate::grants`) for one of the
//! tenant's meetings or all of them, as `tessera token grant` does (the same
//! `Directory::issue_grant`; no rules here). A tenant token may issue grants for its own tenant.
//!
//! Owns reading the wall clock for the grant's expiry (this is the binary's edge).

use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use signaling::ConferenceId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::db::with_directory;
use super::routes::ApiError;
use super::schema::{self, ErrorBody, NewGrant};
use super::tenants::tenant_key;
use super::HttpState;
use crate::directory::{DirectoryError, GrantRequest};
use crate::grants::GrantClass;

/// Lifetime of a grant requested without `ttl_seconds` (as `tessera token grant`).
const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// The grant routes with their OpenAPI descriptions.
pub(super) fn routes() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new().routes(routes!(create_grant))
}

/// Issue a participant grant: a signed token, valid for `ttl_seconds`, that lets a browser join
/// as `class` (`Authorization: Bearer` on the join request, or `?grant=` on the join link).
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{key}/grants",
    tag = "grants",
    params(("key" = String, Path, description = "Tenant key")),
    request_body = NewGrant,
    responses(
        (status = 201, description = "Issued", body = schema::Grant),
        (status = 400, description = "Malformed JSON, class, conference ID, name or TTL", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant or meeting", body = ErrorBody),
    )
)]
async fn create_grant(
    State(state): State<HttpState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<NewGrant>, JsonRejection>,
) -> Result<(StatusCode, Json<schema::Grant>), ApiError> {
    let Path(key) = path?;
    let tenant = tenant_key(&key)?;
    let Json(body) = body?;
    let class: GrantClass = body.class.parse().map_err(|e: crate::lobby::UnknownName| {
        ApiError::from(DirectoryError::invalid("class", e.to_string()))
    })?;
    let conference = body
        .conference
        .as_deref()
        .map(ConferenceId::new)
        .transpose()
        .map_err(|e| ApiError::from(DirectoryError::from(e)))?;
    let request = GrantRequest {
        tenant,
        conference,
        class,
        name: body.name,
        ttl: body.ttl_seconds.map_or(DEFAULT_TTL, Duration::from_secs),
    };
    let now = unix_now()?;
    let issued = with_directory(&state, move |dir| dir.issue_grant(&request, now)).await?;
    Ok((StatusCode::CREATED, Json(schema::Grant::from(&issued))))
}

/// Seconds since the Unix epoch, now.
#[allow(clippy::disallowed_methods)]
fn unix_now() -> Result<u64, ApiError> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| ApiError::Internal)
}
