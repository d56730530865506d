//! `POST /api/v1/tenants/{key}/grants` against a real temp-file directory: an issued grant
//! verifies with the tenant's stored key, refusals carry their codes, and a tenant token issues
//! for its own tenant only.

use axum::http::{Method, StatusCode};
use serde_json::json;
use signaling::{ConferenceId, TenantKey};

use super::test_support::{Api, A, A_MEETING, B};
use crate::grants::{self, GrantClass};

fn key(k: &str) -> TenantKey {
    TenantKey::new(k).expect("key")
}

#[tokio::test]
async fn issued_grant_verifies_with_the_tenants_stored_key() {
    let api = Api::with_two_tenants();
    let answer = api
        .op(
            Method::POST,
            "/api/v1/tenants/12345678/grants",
            Some(
                json!({ "class": "organizer", "conference": A_MEETING, "name": "Ada",
                         "ttl_seconds": 600 }),
            ),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json());
    let body = answer.json();
    let token = body["token"].as_str().expect("token");
    assert_eq!(
        body["join_path"],
        format!("/join/{A}/{A_MEETING}?grant={token}")
    );
    let stored_key = api
        .directory()
        .grant_key(&key(A))
        .expect("read")
        .expect("key");
    let expires = body["expires_unix"].as_u64().expect("expiry");
    let grant = grants::verify(&stored_key, token, &key(A), expires - 600).expect("verifies");
    assert_eq!(grant.class, GrantClass::Organizer);
    assert_eq!(grant.name.as_deref(), Some("Ada"));
    assert_eq!(
        grant.conference,
        Some(ConferenceId::new(A_MEETING).expect("conference"))
    );
    // Signed with A's key: B's key does not verify it.
    let b_key = api
        .directory()
        .grant_key(&key(B))
        .expect("read")
        .expect("key");
    assert!(grants::verify(&b_key, token, &key(A), expires - 600).is_err());
}

#[tokio::test]
async fn grant_without_conference_or_ttl_is_for_any_meeting_for_an_hour() {
    let api = Api::with_two_tenants();
    let answer = api
        .op(
            Method::POST,
            "/api/v1/tenants/12345678/grants",
            Some(json!({ "class": "guest" })),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json());
    let body = answer.json();
    assert_eq!(body["conference"], serde_json::Value::Null);
    assert_eq!(body["join_path"], serde_json::Value::Null);
    let token = body["token"].as_str().expect("token");
    let stored_key = api
        .directory()
        .grant_key(&key(A))
        .expect("read")
        .expect("key");
    let expires = body["expires_unix"].as_u64().expect("expiry");
    assert!(grants::verify(&stored_key, token, &key(A), expires - 3600).is_ok());
    assert!(grants::verify(&stored_key, token, &key(A), expires).is_err());
}

#[tokio::test]
async fn refused_grant_requests_say_why() {
    let api = Api::with_two_tenants();
    let cases = [
        (
            "12345678",
            json!({ "class": "trusted-vtc" }),
            StatusCode::BAD_REQUEST,
            "unknown grant class",
        ),
        (
            "12345678",
            json!({ "class": "guest", "conference": "12" }),
            StatusCode::BAD_REQUEST,
            "conference ID",
        ),
        (
            "12345678",
            json!({ "class": "guest", "ttl_seconds": 0 }),
            StatusCode::BAD_REQUEST,
            "invalid ttl",
        ),
        (
            "12345678",
            json!({ "class": "guest", "ttl_seconds": 31 * 24 * 3600 }),
            StatusCode::BAD_REQUEST,
            "invalid ttl",
        ),
        (
            "12345678",
            json!({ "class": "guest", "name": "" }),
            StatusCode::BAD_REQUEST,
            "invalid name",
        ),
        (
            "12345678",
            json!({ "class": "guest", "admin": true }),
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
        (
            "12345678",
            json!({ "class": "guest", "conference": "9999999999" }),
            StatusCode::NOT_FOUND,
            "has no meeting",
        ),
        (
            "11112222",
            json!({ "class": "guest" }),
            StatusCode::NOT_FOUND,
            "no tenant 11112222",
        ),
    ];
    for (tenant, body, status, says) in cases {
        let answer = api
            .op(
                Method::POST,
                &format!("/api/v1/tenants/{tenant}/grants"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(answer.status, status, "{body}: {}", answer.json());
        assert!(answer.error().contains(says), "{body}: {}", answer.error());
    }
}

#[tokio::test]
async fn tenant_token_issues_grants_for_its_own_tenant_only() {
    let api = Api::with_two_tenants();
    let token_a = api.tenant_token(A);
    for (tenant, token, status) in [
        (A, Some(token_a.as_str()), StatusCode::CREATED),
        (B, Some(token_a.as_str()), StatusCode::FORBIDDEN),
        (A, None, StatusCode::UNAUTHORIZED),
    ] {
        let answer = api
            .send(
                Method::POST,
                &format!("/api/v1/tenants/{tenant}/grants"),
                token,
                Some(json!({ "class": "organizer" })),
            )
            .await;
        assert_eq!(answer.status, status, "{tenant} with {token:?}");
    }
}
