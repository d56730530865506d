//! `/api/v1/tenants/{key}/meetings`: a tenant's scheduled meetings in the directory, with their
//! lobby overrides (`null` inherits the tenant's default). Answers show the effective policy.
//!
//! The live meetings (who is in, who waits) are `/api/v1/meetings`, in [`super::routes`].

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use signaling::{ConferenceId, TenantKey};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::db::with_directory;
use super::routes::ApiError;
use super::schema::{self, ErrorBody, MeetingPatch, NewMeeting};
use super::tenants::{tenant_key, who_can_bypass};
use super::HttpState;
use crate::directory::{Directory, DirectoryError, MeetingUpdate, PolicyOverrides};

/// The meeting routes with their OpenAPI descriptions.
pub(super) fn routes() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new()
        .routes(routes!(list_meetings, create_meeting))
        .routes(routes!(get_meeting, update_meeting, delete_meeting))
}

/// `{key}/meetings/{conference}`.
#[derive(Debug, Deserialize)]
struct MeetingPath {
    key: String,
    conference: String,
}

impl MeetingPath {
    fn parse(self) -> Result<(TenantKey, ConferenceId), ApiError> {
        let conference = ConferenceId::new(&self.conference).map_err(DirectoryError::from)?;
        Ok((tenant_key(&self.key)?, conference))
    }
}

/// A stored meeting with its effective policy.
fn load(
    dir: &Directory,
    tenant: &TenantKey,
    conference: &ConferenceId,
) -> Result<schema::Meeting, DirectoryError> {
    let meeting =
        dir.meeting(tenant, conference)?
            .ok_or_else(|| DirectoryError::UnknownMeeting {
                tenant: tenant.clone(),
                conference: conference.clone(),
            })?;
    let policy = dir.effective_policy(tenant, conference)?;
    Ok(schema::Meeting::new(&meeting, &policy))
}

/// A tenant's meetings, by conference ID.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{key}/meetings",
    tag = "meetings",
    params(("key" = String, Path, description = "Tenant key")),
    responses(
        (status = 200, description = "The tenant's meetings", body = Vec<schema::Meeting>),
        (status = 400, description = "Malformed key", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
async fn list_meetings(
    State(state): State<HttpState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<schema::Meeting>>, ApiError> {
    let Path(key) = path?;
    let key = tenant_key(&key)?;
    let meetings = with_directory(&state, move |dir| {
        let tenant = dir
            .tenant(&key)?
            .ok_or_else(|| DirectoryError::UnknownTenant(key.clone()))?;
        let meetings = dir.meetings(Some(&key))?;
        Ok(meetings
            .iter()
            .map(|m| schema::Meeting::new(m, &m.overrides.apply(tenant.policy)))
            .collect())
    })
    .await?;
    Ok(Json(meetings))
}

/// Add a meeting to a tenant.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{key}/meetings",
    tag = "meetings",
    params(("key" = String, Path, description = "Tenant key")),
    request_body = NewMeeting,
    responses(
        (status = 201, description = "Created; `Location` names it", body = schema::Meeting,
            headers(("location" = String, description = "The meeting's URL"))),
        (status = 400, description = "Malformed JSON or an invalid value", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 409, description = "The tenant has this meeting already", body = ErrorBody),
    )
)]
async fn create_meeting(
    State(state): State<HttpState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<NewMeeting>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Path(key) = path?;
    let key = tenant_key(&key)?;
    let Json(body) = body?;
    let conference = ConferenceId::new(&body.conference_id).map_err(DirectoryError::from)?;
    let overrides = PolicyOverrides {
        who_can_bypass: body
            .who_can_bypass
            .as_deref()
            .map(who_can_bypass)
            .transpose()?,
        callers_bypass: body.callers_bypass,
        anonymous_can_start: body.anonymous_can_start,
    };
    let location = format!("/api/v1/tenants/{key}/meetings/{conference}");
    let meeting = with_directory(&state, move |dir| {
        dir.add_meeting(&key, &conference, body.organizer.as_deref(), overrides)?;
        load(dir, &key, &conference)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(meeting),
    ))
}

/// One meeting with its effective lobby policy.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{key}/meetings/{conference}",
    tag = "meetings",
    params(
        ("key" = String, Path, description = "Tenant key"),
        ("conference" = String, Path, description = "Conference ID"),
    ),
    responses(
        (status = 200, description = "The meeting", body = schema::Meeting),
        (status = 400, description = "Malformed key or conference ID", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant or meeting", body = ErrorBody),
    )
)]
async fn get_meeting(
    State(state): State<HttpState>,
    path: Result<Path<MeetingPath>, PathRejection>,
) -> Result<Json<schema::Meeting>, ApiError> {
    let Path(path) = path?;
    let (key, conference) = path.parse()?;
    let meeting = with_directory(&state, move |dir| load(dir, &key, &conference)).await?;
    Ok(Json(meeting))
}

/// Change a meeting's organizer or lobby overrides (`null` inherits the tenant's default).
#[utoipa::path(
    patch,
    path = "/api/v1/tenants/{key}/meetings/{conference}",
    tag = "meetings",
    params(
        ("key" = String, Path, description = "Tenant key"),
        ("conference" = String, Path, description = "Conference ID"),
    ),
    request_body = MeetingPatch,
    responses(
        (status = 200, description = "The changed meeting", body = schema::Meeting),
        (status = 400, description = "Malformed JSON or an invalid value", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 404, description = "No such tenant or meeting", body = ErrorBody),
    )
)]
async fn update_meeting(
    State(state): State<HttpState>,
    path: Result<Path<MeetingPath>, PathRejection>,
    body: Result<Json<MeetingPatch>, JsonRejection>,
) -> Result<Json<schema::Meeting>, ApiError> {
    let Path(path) = path?;
    let (key, conference) = path.parse()?;
    let Json(patch) = body?;
    let who = match patch.who_can_bypass {
        None => None,
        Some(None) => Some(None),
        Some(Some(w)) => Some(Some(who_can_bypass(&w)?)),
    };
    let update = MeetingUpdate {
        organizer: patch.organizer,
        who_can_bypass: who,
        callers_bypass: patch.callers_bypass,
        anonymous_can_start: patch.anonymous_can_start,
    };
    let meeting = with_directory(&state, move |dir| {
        dir.update_meeting(&key, &conference, &update)?;
        load(dir, &key, &conference)
    })
    .await?;
    Ok(Json(meeting))
}

/// Remove a meeting.
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{key}/meetings/{conference}",
    tag = "meetings",
    params(
        ("key" = String, Path, description = "Tenant key"),
        ("conference" = String, Path, description = "Conference ID"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Malformed key or conference ID", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A token of another tenant", body = ErrorBody),
        (status = 404, description = "No such meeting", body = ErrorBody),
    )
)]
async fn delete_meeting(
    State(state): State<HttpState>,
    path: Result<Path<MeetingPath>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(path) = path?;
    let (key, conference) = path.parse()?;
    with_directory(&state, move |dir| dir.remove_meeting(&key, &conference)).await?;
    Ok(StatusCode::NO_CONTENT)
}
