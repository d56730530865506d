//! The OpenAPI 3 document of the admin API, served at `GET /api/v1/openapi.json` (no token).
//!
//! Paths come from the same `routes!` lists that build the router ([`super::routes`]), so a route
//! cannot be served without being described; this module adds the title, the bearer security
//! scheme (required by every `/api/v1` route but this one) and the shared schemas.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

use super::schema;

/// The name of the bearer security scheme in `components.securitySchemes`.
pub const BEARER_SCHEME: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera admin API",
        version = "1",
        description = "Tenants, meetings, trusted devices, participant grants and live meetings of a Tessera gateway. \
            The operator token sees everything; a tenant token sees and changes its own tenant only \
            (403 otherwise). Errors carry `{\"error\": \"...\"}`."
    ),
    modifiers(&BearerScheme),
    security(("bearer" = [])),
    components(schemas(
        schema::ErrorBody,
        schema::Tenant,
        schema::Meeting,
        schema::MeetingView,
        schema::RemoteParticipantView,
        schema::MeetingSummary,
        schema::Device,
        schema::Grant,
        crate::directory::MediaEncryption,
    )),
    tags(
        (name = "tenants", description = "Tenants in the directory"),
        (name = "meetings", description = "Scheduled meetings in the directory"),
        (name = "devices", description = "Trusted-device rules of a tenant"),
        (name = "grants", description = "Participant grants: signed, expiring join tokens naming a trust class"),
        (name = "live", description = "Live meetings: participants and lobby"),
        (name = "service", description = "Health, metrics and this document (no token)"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator token (`<db>.admin-token`) or a tenant token \
                         (`tessera token create`).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The whole document: the fixed parts above plus every route's description.
pub fn document() -> Document {
    let mut doc = ApiDoc::openapi();
    doc.merge(super::routes::open_routes().into_openapi());
    doc.merge(super::routes::api_routes().into_openapi());
    doc
}

/// The document as JSON, built once.
fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        document().to_pretty_json().unwrap_or_else(|e| {
            tracing::error!(error = %e, "OpenAPI document not serializable");
            "{}".to_owned()
        })
    })
}

/// This OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "service",
    security(()),
    responses((status = 200, description = "The OpenAPI 3 document", content_type = "application/json"))
)]
pub(super) async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document_json(),
    )
}
