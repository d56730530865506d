//! `/api/v1/meetings/{tenant}/{conference}/cascades`: dial a conference bridge into a meeting,
//! list the meeting's dial-out links, hang one up.
//!
//! Owns the HTTP shape of these three routes only; dialling, retries and licences are the core's
//! (`calls::dialout`), reached through [`AdminCommand`]s like every live route.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use signaling::ua::Credentials;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::routes::{call_core, expect_done, ApiError, EntryPath, MeetingPath};
use super::schema::ErrorBody;
use super::HttpState;
use crate::calls::api::{AdminCommand, AdminReply, CascadeLinkView};
use crate::calls::DialRequest;

/// The cascade routes, merged into the token-protected API.
pub(super) fn routes() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(dial, list))
        .routes(routes!(hang_up))
}

/// Digest credentials the gateway answers the bridge's 401/407 with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CredentialsBody {
    /// Digest username.
    username: String,
    /// Password (kept in memory for the link's life, never shown back).
    password: String,
}

/// Body of `POST .../cascades`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DialBody {
    /// The bridge's SIP URI (`sip:meeting@192.0.2.7:5060`); the host must be an IP address.
    uri: String,
    /// The link's name in the roster (default: the URI).
    display_name: Option<String>,
    /// What to answer a digest challenge with.
    credentials: Option<CredentialsBody>,
}

/// Answer of `POST .../cascades`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Dialled {
    /// The link id, for `DELETE .../cascades/{id}`.
    id: String,
}

/// One dial-out link (the schema of `calls::api::CascadeLinkView`).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CascadeLink {
    /// Link id (`c1`).
    id: String,
    /// The bridge's URI.
    uri: String,
    /// The link's name in the roster.
    display_name: String,
    /// `dialling`, `up`, `hanging-up` or `retrying` (refused or dropped, dialled again after a
    /// back-off of 1 s doubling up to 60 s).
    state: String,
    /// The link's participant id in the meeting view while it is up.
    participant: Option<String>,
    /// Whether the far end is another Tessera node (both SDPs carry `a=tessera-cascade:1`,
    /// docs/cascades.md): its participants are then listed under the link in the meeting view.
    tessera: bool,
    /// Failed attempts since it was last up.
    failures: u32,
    /// Why the last attempt failed or the link dropped.
    last_error: Option<String>,
}

/// Dial a conference bridge into the meeting as a cascade link. The gateway calls it as a UAC,
/// answers digest challenges with the credentials, and dials again with back-off whenever the
/// bridge refuses or drops the call, until the link is hung up. Once answered the link holds one
/// of the tenant's cascade licences and is one participant of kind `cascade`.
#[utoipa::path(
    post,
    path = "/api/v1/meetings/{tenant}/{conference}/cascades",
    tag = "live",
    params(
        ("tenant" = String, Path, description = "Tenant key"),
        ("conference" = String, Path, description = "Conference ID"),
    ),
    request_body = DialBody,
    responses(
        (status = 201, description = "Dialling", body = Dialled),
        (status = 400, description = "Undecodable path or body, a URI whose host is not an IP address, no media ports, or a draining gateway", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 404, description = "No such meeting", body = ErrorBody),
        (status = 409, description = "Every cascade licence of the tenant is held", body = ErrorBody),
        (status = 503, description = "The core is not available", body = ErrorBody),
    )
)]
async fn dial(
    State(state): State<HttpState>,
    path: Result<Path<MeetingPath>, PathRejection>,
    body: Result<Json<DialBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Dialled>), ApiError> {
    let Path(MeetingPath { tenant, conference }) = path?;
    let Json(body) = body?;
    let request = DialRequest {
        display_name: body.display_name.unwrap_or_else(|| body.uri.clone()),
        uri: body.uri,
        credentials: body.credentials.map(|c| Credentials {
            username: c.username,
            password: c.password,
        }),
    };
    let cmd = AdminCommand::DialCascade {
        tenant,
        conference,
        request,
    };
    match call_core(&state, cmd).await? {
        AdminReply::CascadeDialled(id) => Ok((StatusCode::CREATED, Json(Dialled { id }))),
        other => {
            tracing::error!(reply = ?other, "admin API: unexpected reply from the core");
            Err(ApiError::Internal)
        }
    }
}

/// The meeting's dial-out cascade links and where each stands.
#[utoipa::path(
    get,
    path = "/api/v1/meetings/{tenant}/{conference}/cascades",
    tag = "live",
    params(
        ("tenant" = String, Path, description = "Tenant key"),
        ("conference" = String, Path, description = "Conference ID"),
    ),
    responses(
        (status = 200, description = "The links, in the order they were dialled", body = Vec<CascadeLink>),
        (status = 400, description = "Undecodable path", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 404, description = "No such meeting", body = ErrorBody),
        (status = 503, description = "The core is not available", body = ErrorBody),
    )
)]
async fn list(
    State(state): State<HttpState>,
    path: Result<Path<MeetingPath>, PathRejection>,
) -> Result<Json<Vec<CascadeLinkView>>, ApiError> {
    let Path(MeetingPath { tenant, conference }) = path?;
    match call_core(&state, AdminCommand::ListCascades { tenant, conference }).await? {
        AdminReply::Cascades(links) => Ok(Json(links)),
        other => {
            tracing::error!(reply = ?other, "admin API: unexpected reply from the core");
            Err(ApiError::Internal)
        }
    }
}

/// Hang a dial-out link up for good (BYE, or CANCEL while it rings); its licence is freed and it
/// is not dialled again.
#[utoipa::path(
    delete,
    path = "/api/v1/meetings/{tenant}/{conference}/cascades/{id}",
    tag = "live",
    params(
        ("tenant" = String, Path, description = "Tenant key"),
        ("conference" = String, Path, description = "Conference ID"),
        ("id" = String, Path, description = "Link id (`c1`)"),
    ),
    responses(
        (status = 204, description = "Hung up"),
        (status = 400, description = "Undecodable path", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 404, description = "No such meeting or link", body = ErrorBody),
        (status = 503, description = "The core is not available", body = ErrorBody),
    )
)]
async fn hang_up(
    State(state): State<HttpState>,
    path: Result<Path<EntryPath>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(EntryPath {
        tenant,
        conference,
        id,
    }) = path?;
    let cmd = AdminCommand::HangupCascade {
        tenant,
        conference,
        id,
    };
    expect_done(&state, cmd).await
}
