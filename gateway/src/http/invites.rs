//! `POST /api/v1/invites/parse`: the one-touch dial helper over HTTP. The body is a meeting
//! invitation (plain text, HTML, `.eml` or `.ics`; any content type); the answer is the meeting
//! it is for and every dial string that reaches it ([`crate::invites`] does the work).
//!
//! Answers 200 with `{"tenant", "conference_id", "dial_strings"}`, 422 `{"error"}` when the
//! invitation leads to no meeting, 400 for a malformed `?gateway_host=`. Operator token only
//! (tenant tokens are refused by the scope's deny-by-default rule): the answer says whether a
//! meeting exists, for any tenant.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::db::with_directory;
use super::routes::ApiError;
use super::schema::ErrorBody;
use super::HttpState;
use crate::invites::{parse_invitation, InvitationDetails, InviteError, DEFAULT_GATEWAY_HOST};

/// The invite routes with their OpenAPI descriptions.
pub(super) fn routes() -> OpenApiRouter<HttpState> {
    OpenApiRouter::new().routes(routes!(parse_invite))
}

/// Query of `POST /api/v1/invites/parse`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InviteQuery {
    /// Host the gateway is dialled at, used in the dial strings [default: tessera.invalid].
    gateway_host: Option<String>,
}

/// The meeting an invitation is for.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteDetails {
    /// Tenant key.
    tenant: String,
    /// Conference ID of the meeting.
    conference_id: String,
    /// Every dial string that reaches the meeting, preferred first.
    dial_strings: Vec<String>,
}

impl From<InvitationDetails> for InviteDetails {
    fn from(d: InvitationDetails) -> Self {
        InviteDetails {
            tenant: d.tenant.to_string(),
            conference_id: d.conference_id.to_string(),
            dial_strings: d.dial_strings,
        }
    }
}

/// Find the meeting a meeting invitation is for, and the dial strings that reach it.
#[utoipa::path(
    post,
    path = "/api/v1/invites/parse",
    tag = "invites",
    params(InviteQuery),
    request_body(content = String, content_type = "text/plain",
        description = "The invitation: plain text, HTML, an .eml message or an .ics calendar"),
    responses(
        (status = 200, description = "The meeting and its dial strings", body = InviteDetails),
        (status = 400, description = "Malformed gateway_host", body = ErrorBody),
        (status = 401, description = "Missing or unknown token", body = ErrorBody),
        (status = 403, description = "A tenant token (operator only)", body = ErrorBody),
        (status = 422, description = "No video dial details, or none leads to a known meeting", body = ErrorBody),
    )
)]
async fn parse_invite(
    State(state): State<HttpState>,
    query: Result<Query<InviteQuery>, QueryRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let host = query
        .gateway_host
        .unwrap_or_else(|| DEFAULT_GATEWAY_HOST.to_owned());
    let text = String::from_utf8_lossy(&body).into_owned();
    let result = with_directory(&state, move |dir| Ok(parse_invitation(dir, &text, &host))).await?;
    match result {
        Ok(details) => Ok(Json(InviteDetails::from(details)).into_response()),
        Err(InviteError::Directory(e)) => Err(e.into()),
        Err(InviteError::Lookup(e)) => {
            tracing::error!(error = %e, "admin API: directory lookup failed");
            Err(ApiError::Internal)
        }
        Err(e @ InviteError::BadGatewayHost(_)) => Err(ApiError::BadRequest(e.to_string())),
        Err(e) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(ErrorBody {
                error: e.to_string(),
            }),
        )
            .into_response()),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{Method, StatusCode};

    use super::super::test_support::{Api, A, A_MEETING, B, B_MEETING, OPERATOR};

    const TEAMS: &str = include_str!("../../tests/data/invites/teams.html");
    const OUTLOOK: &str = include_str!("../../tests/data/invites/outlook.ics");
    const EML: &str = include_str!("../../tests/data/invites/supplier-call.eml");
    const NO_VIDEO: &str = include_str!("../../tests/data/invites/no-video.txt");
    const PATH: &str = "/api/v1/invites/parse";

    async fn post(
        api: &Api,
        uri: &str,
        token: Option<&str>,
        kind: &str,
        body: &str,
    ) -> super::super::test_support::Answer {
        api.raw(
            Method::POST,
            uri,
            token,
            Some((kind, body.as_bytes().to_vec())),
        )
        .await
    }

    #[tokio::test]
    async fn invitations_of_any_content_type_give_the_meeting_and_its_dial_strings() {
        let api = Api::with_two_tenants();
        let uri = format!("{PATH}?gateway_host=gw.example.com");
        let answer = post(&api, &uri, Some(OPERATOR), "text/html", TEAMS).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.error());
        let json = answer.json();
        assert_eq!(json["tenant"], A);
        assert_eq!(json["conference_id"], A_MEETING);
        assert_eq!(
            json["dial_strings"],
            serde_json::json!([
                "12345678.1177958860@gw.example.com",
                "1177958860.12345678@gw.example.com",
                "1177958860@video.acme.example",
                "61177958860@gw.example.com",
                "12345678.1177958860",
                "1177958860.12345678",
            ])
        );

        let answer = post(&api, PATH, Some(OPERATOR), "text/calendar", OUTLOOK).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.error());
        assert_eq!(
            answer.json()["dial_strings"][0],
            "12345678.1177958860@tessera.invalid",
            "the default gateway host"
        );

        let answer = post(&api, PATH, Some(OPERATOR), "message/rfc822", EML).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.error());
        assert_eq!(answer.json()["tenant"], B);
        assert_eq!(answer.json()["conference_id"], B_MEETING);
    }

    #[tokio::test]
    async fn invitations_without_a_known_meeting_are_unprocessable() {
        let api = Api::with_two_tenants();
        let answer = post(&api, PATH, Some(OPERATOR), "text/plain", NO_VIDEO).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            answer.error(),
            "no video dial details found in the invitation"
        );
        let answer = post(
            &api,
            PATH,
            Some(OPERATOR),
            "text/plain",
            "dial 12345678.9999999999@gw",
        )
        .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            answer.error().contains("unknown conference 9999999999"),
            "{}",
            answer.error()
        );
        let uri = format!("{PATH}?gateway_host=gw%20example");
        let answer = post(&api, &uri, Some(OPERATOR), "text/html", TEAMS).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert!(
            answer.error().contains("invalid gateway host"),
            "{}",
            answer.error()
        );
    }

    #[tokio::test]
    async fn only_the_operator_token_may_parse_invitations() {
        let api = Api::with_two_tenants();
        let answer = post(&api, PATH, None, "text/html", TEAMS).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        let token = api.tenant_token(A);
        let answer = post(&api, PATH, Some(&token), "text/html", TEAMS).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        let answer = api.op(Method::GET, PATH, None).await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    }
}
