//! `/api/v1/tenants/{key}/devices`: a tenant's trusted-device rules (calls matching one are
//! `trusted-vtc`). Digest passwords are hashed by the directory at once; no answer ever carries a
//! password or a hash.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::db::with_directory;
use super::routes::ApiError;
use super::schema::{self, ErrorBody, NewDevice};
use super::tenants::tenant_key;
use super::HttpState;
use crate::directory::{DirectoryError, TrustedDeviceRule};

/// The device routes with their OpenAPI descriptions.
pub(super) fn routes() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(list_devices, create_device))
        .routes(routes!(delete_device))
}

/// A tenant's trusted-device rules, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{key}/devices",
    tag = "devices",
    params(("key" = String, Path, description = "Tenant key")),
    responses(
        (status = 200, description = "The rules (never hashes)", body = Vec<schema::Device>),
        (status = 400, description = "Malformed key", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
async fn list_devices(
    State(state): State<HttpState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<schema::Device>>, ApiError> {
    let Path(key) = path?;
    let key = tenant_key(&key)?;
    let devices = with_directory(&state, move |dir| {
        if dir.tenant(&key)?.is_none() {
            return Err(DirectoryError::UnknownTenant(key));
        }
        dir.trusted_devices(&key)
    })
    .await?;
    Ok(Json(devices.iter().map(schema::Device::from).collect()))
}

/// Add a device rule: `{"cidr": ...}`, `{"uri": ...}`, `{"digest": {"username",
/// "password"}}` or `{"cert_sha256": ...}` (a pinned TLS client certificate), with `"cascade": true` for a conference bridge whose calls are cascade links.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{key}/devices",
    tag = "devices",
    params(("key" = String, Path, description = "Tenant key")),
    request_body = NewDevice,
    responses(
        (status = 201, description = "Created", body = schema::Device),
        (status = 400, description = "Malformed JSON or an invalid rule", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 409, description = "The tenant has a digest credential for this username", body = ErrorBody),
    )
)]
async fn create_device(
    State(state): State<HttpState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<NewDevice>, JsonRejection>,
) -> Result<(StatusCode, Json<schema::Device>), ApiError> {
    let Path(key) = path?;
    let key = tenant_key(&key)?;
    let Json(body) = body?;
    let device = with_directory(&state, move |dir| {
        let tenant = dir
            .tenant(&key)?
            .ok_or_else(|| DirectoryError::UnknownTenant(key.clone()))?;
        let rule = match (&body.cidr, &body.uri, &body.digest, &body.cert_sha256) {
            (Some(c), None, None, None) => TrustedDeviceRule::cidr(c)?,
            (None, Some(u), None, None) => TrustedDeviceRule::uri_pattern(u)?,
            (None, None, Some(d), None) => {
                TrustedDeviceRule::digest_credential(&d.username, &d.password, &tenant.realm())?
            }
            (None, None, None, Some(f)) => TrustedDeviceRule::cert_sha256(f)?,
            _ => {
                return Err(DirectoryError::invalid(
                    "rule",
                    "exactly one of cidr, uri, digest and cert_sha256 is required".to_owned(),
                ))
            }
        };
        dir.add_device_rule(&key, &rule, body.cascade)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(schema::Device::from(&device))))
}

/// Remove a trusted-device rule.
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{key}/devices/{id}",
    tag = "devices",
    params(
        ("key" = String, Path, description = "Tenant key"),
        ("id" = i64, Path, description = "Rule id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Malformed key or id", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 404, description = "No such rule under this tenant", body = ErrorBody),
    )
)]
async fn delete_device(
    State(state): State<HttpState>,
    path: Result<Path<(String, i64)>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path((key, id)) = path?;
    let key = tenant_key(&key)?;
    with_directory(&state, move |dir| dir.remove_trusted_device(&key, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
