//! `/api/v1/tenants`: tenant CRUD over the directory, with exactly the CLI's validation (the same
//! `Directory` methods; no rules here).
//!
//! Creating and deleting tenants needs the operator token; a tenant token sees and changes its
//! own tenant only (enforced by the token middleware, see [`super::scope`]).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use signaling::{DialPrefix, TenantKey};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::db::with_directory;
use super::routes::ApiError;
use super::schema::{self, ErrorBody, NewTenant, TenantPatch};
use super::scope::Scope;
use super::HttpState;
use crate::directory::{self, DirectoryError, MediaEncryption, TenantUpdate};
use crate::lobby::{LobbyPolicy, WhoCanBypass};

/// Endpoint ports of a tenant created without `endpoint_licenses` (as `tessera tenant add`).
const DEFAULT_ENDPOINT_LICENSES: u32 = 10;
/// Cascade ports of a tenant created without `cascade_licenses` (as `tessera tenant add`).
const DEFAULT_CASCADE_LICENSES: u32 = 2;

/// The tenant routes with their OpenAPI descriptions.
pub(super) fn routes() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant, update_tenant, delete_tenant))
}

/// A tenant key from a path or body (400 with the id type's message if malformed).
pub(super) fn tenant_key(text: &str) -> Result<TenantKey, ApiError> {
    TenantKey::new(text).map_err(|e| DirectoryError::from(e).into())
}

/// A who-can-bypass name (400 with the lobby's list of names if unknown).
pub(super) fn who_can_bypass(text: &str) -> Result<WhoCanBypass, ApiError> {
    text.parse().map_err(|e: crate::lobby::UnknownName| {
        DirectoryError::invalid("who_can_bypass", e.to_string()).into()
    })
}

fn media_encryption(text: &str) -> Result<MediaEncryption, ApiError> {
    text.parse().map_err(|e: crate::lobby::UnknownName| {
        DirectoryError::invalid("media_encryption", e.to_string()).into()
    })
}

fn dial_prefix(text: &str) -> Result<DialPrefix, ApiError> {
    DialPrefix::new(text).map_err(|e| DirectoryError::from(e).into())
}

/// List tenants: all of them for the operator, only its own for a tenant token.
#[utoipa::path(
    get,
    path = "/api/v1/tenants",
    tag = "tenants",
    responses(
        (status = 200, description = "Tenants the token may see, by key", body = Vec<schema::Tenant>),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
    )
)]
async fn list_tenants(
    State(state): State<HttpState>,
    Extension(scope): Extension<Scope>,
) -> Result<Json<Vec<schema::Tenant>>, ApiError> {
    let tenants = with_directory(&state, move |dir| match scope.tenant() {
        None => dir.tenants(),
        Some(own) => Ok(dir.tenant(own)?.into_iter().collect()),
    })
    .await?;
    Ok(Json(tenants.iter().map(schema::Tenant::from).collect()))
}

/// Create a tenant (operator token only).
#[utoipa::path(
    post,
    path = "/api/v1/tenants",
    tag = "tenants",
    request_body = NewTenant,
    responses(
        (status = 201, description = "Created; `Location` names it", body = schema::Tenant,
            headers(("location" = String, description = "The tenant's URL"))),
        (status = 400, description = "Malformed JSON or an invalid value", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "Not the operator token", body = ErrorBody),
        (status = 409, description = "Duplicate key or hostname, or overlapping prefix", body = ErrorBody),
    )
)]
async fn create_tenant(
    State(state): State<HttpState>,
    body: Result<Json<NewTenant>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(body) = body?;
    let defaults = LobbyPolicy::default();
    let new = directory::NewTenant {
        key: tenant_key(&body.key)?,
        name: body.name,
        hostnames: body.hostnames,
        prefix: body.prefix.as_deref().map(dial_prefix).transpose()?,
        endpoint_licenses: body.endpoint_licenses.unwrap_or(DEFAULT_ENDPOINT_LICENSES),
        cascade_licenses: body.cascade_licenses.unwrap_or(DEFAULT_CASCADE_LICENSES),
        policy: LobbyPolicy {
            who_can_bypass: body
                .who_can_bypass
                .as_deref()
                .map(who_can_bypass)
                .transpose()?
                .unwrap_or(defaults.who_can_bypass),
            callers_bypass: body.callers_bypass.unwrap_or(defaults.callers_bypass),
            anonymous_can_start: body
                .anonymous_can_start
                .unwrap_or(defaults.anonymous_can_start),
            legacy_trusted_vtc_bypass: body
                .legacy_trusted_vtc_bypass
                .unwrap_or(defaults.legacy_trusted_vtc_bypass),
        },
    };
    let tenant = with_directory(&state, move |dir| dir.add_tenant(&new)).await?;
    let location = format!("/api/v1/tenants/{}", tenant.key);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(schema::Tenant::from(&tenant)),
    ))
}

/// One tenant.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{key}",
    tag = "tenants",
    params(("key" = String, Path, description = "Tenant key")),
    responses(
        (status = 200, description = "The tenant", body = schema::Tenant),
        (status = 400, description = "Malformed key", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
async fn get_tenant(
    State(state): State<HttpState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<schema::Tenant>, ApiError> {
    let Path(key) = path?;
    let key = tenant_key(&key)?;
    let tenant = with_directory(&state, move |dir| {
        dir.tenant(&key)?.ok_or(DirectoryError::UnknownTenant(key))
    })
    .await?;
    Ok(Json(schema::Tenant::from(&tenant)))
}

/// Change a tenant: any subset of its fields; all of the change applies or none of it.
#[utoipa::path(
    patch,
    path = "/api/v1/tenants/{key}",
    tag = "tenants",
    params(("key" = String, Path, description = "Tenant key")),
    request_body = TenantPatch,
    responses(
        (status = 200, description = "The changed tenant", body = schema::Tenant),
        (status = 400, description = "Malformed JSON or an invalid value", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 409, description = "Duplicate hostname or overlapping prefix", body = ErrorBody),
    )
)]
async fn update_tenant(
    State(state): State<HttpState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<TenantPatch>, JsonRejection>,
) -> Result<Json<schema::Tenant>, ApiError> {
    let Path(key) = path?;
    let key = tenant_key(&key)?;
    let Json(patch) = body?;
    if patch.key.as_deref().is_some_and(|k| k != key.as_str()) {
        return Err(DirectoryError::invalid("key", "a tenant key cannot be changed".into()).into());
    }
    if patch.hostnames.is_some()
        && !(patch.add_hostnames.is_empty() && patch.remove_hostnames.is_empty())
    {
        return Err(DirectoryError::invalid(
            "hostnames",
            "give either hostnames or add_hostnames/remove_hostnames, not both".into(),
        )
        .into());
    }
    let prefix = match patch.prefix {
        None => None,
        Some(None) => Some(None),
        Some(Some(p)) => Some(Some(dial_prefix(&p)?)),
    };
    let mut update = TenantUpdate {
        name: patch.name,
        add_hostnames: patch.add_hostnames,
        remove_hostnames: patch.remove_hostnames,
        prefix,
        endpoint_licenses: patch.endpoint_licenses,
        cascade_licenses: patch.cascade_licenses,
        who_can_bypass: patch
            .who_can_bypass
            .as_deref()
            .map(who_can_bypass)
            .transpose()?,
        callers_bypass: patch.callers_bypass,
        anonymous_can_start: patch.anonymous_can_start,
        legacy_trusted_vtc_bypass: patch.legacy_trusted_vtc_bypass,
        media_encryption: patch
            .media_encryption
            .as_deref()
            .map(media_encryption)
            .transpose()?,
        sdes_over_clear: patch.sdes_over_clear,
    };
    let wanted_hostnames = patch.hostnames;
    let tenant = with_directory(&state, move |dir| {
        if let Some(wanted) = wanted_hostnames {
            // A complete list: remove what is not wanted, add what is new (the directory removes
            // before it adds, and normalises both).
            let current = dir
                .tenant(&key)?
                .ok_or_else(|| DirectoryError::UnknownTenant(key.clone()))?
                .hostnames;
            update.remove_hostnames = current
                .iter()
                .filter(|h| !wanted.contains(h))
                .cloned()
                .collect();
            update.add_hostnames = wanted
                .into_iter()
                .filter(|h| !current.contains(h))
                .collect();
        }
        dir.update_tenant(&key, &update)
    })
    .await?;
    Ok(Json(schema::Tenant::from(&tenant)))
}

/// Remove a tenant with its hostnames, meetings, trusted-device rules and tokens (operator token
/// only).
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{key}",
    tag = "tenants",
    params(("key" = String, Path, description = "Tenant key")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Malformed key", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "Not the operator token", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
async fn delete_tenant(
    State(state): State<HttpState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(key) = path?;
    let key = tenant_key(&key)?;
    with_directory(&state, move |dir| dir.remove_tenant(&key)).await?;
    Ok(StatusCode::NO_CONTENT)
}
