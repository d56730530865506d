//! Tenant tokens: a token of tenant A sees and changes A only (403 on everything of B, before any
//! handler or the core runs), the operator sees all, and a revoked token is 401.

use axum::http::{header, Method, StatusCode};
use serde_json::{json, Value};
use signaling::TenantKey;

use super::test_support::{Api, A, A_MEETING, B, B_MEETING};
use crate::calls::api::AdminCommand;

/// Every request of tenant B's that a tenant-A token might try, with a body where one is needed.
fn requests_on_b() -> Vec<(Method, String, Option<Value>)> {
    let t = format!("/api/v1/tenants/{B}");
    let m = format!("/api/v1/meetings/{B}/{B_MEETING}");
    vec![
        (Method::GET, t.clone(), None),
        (Method::PATCH, t.clone(), Some(json!({ "name": "Pwned" }))),
        (Method::DELETE, t.clone(), None),
        (Method::GET, format!("{t}/meetings"), None),
        (
            Method::POST,
            format!("{t}/meetings"),
            Some(json!({ "conference_id": "5550001111" })),
        ),
        (Method::GET, format!("{t}/meetings/{B_MEETING}"), None),
        (
            Method::PATCH,
            format!("{t}/meetings/{B_MEETING}"),
            Some(json!({ "who_can_bypass": "everyone" })),
        ),
        (Method::DELETE, format!("{t}/meetings/{B_MEETING}"), None),
        (Method::GET, format!("{t}/devices"), None),
        (
            Method::POST,
            format!("{t}/devices"),
            Some(json!({ "cidr": "0.0.0.0/0" })),
        ),
        (Method::DELETE, format!("{t}/devices/1"), None),
        (Method::GET, m.clone(), None),
        (Method::POST, format!("{m}/lobby/p7/admit"), None),
        (Method::POST, format!("{m}/lobby/p7/deny"), None),
        (Method::DELETE, format!("{m}/participants/p1"), None),
        (Method::GET, format!("/api/v1/meetings?tenant={B}"), None),
    ]
}

fn snapshot(api: &Api) -> Value {
    let dir = api.directory();
    let b = TenantKey::new(B).expect("key");
    json!({
        "tenants": dir.tenants().expect("tenants").iter().map(|t| t.to_json()).collect::<Vec<_>>(),
        "meetings": dir.meetings(None).expect("meetings").len(),
        "b_devices": dir.trusted_devices(&b).expect("devices").len(),
    })
}

#[tokio::test]
async fn tenant_token_gets_403_on_everything_of_another_tenant() {
    let api = Api::with_two_tenants();
    api.directory()
        .add_trusted_device(
            &TenantKey::new(B).expect("key"),
            &crate::directory::TrustedDeviceRule::cidr("198.51.100.0/24").expect("rule"),
        )
        .expect("device");
    let token_a = api.tenant_token(A);
    let before = snapshot(&api);
    for (method, uri, body) in requests_on_b() {
        let answer = api.send(method.clone(), &uri, Some(&token_a), body).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {uri}");
        assert_eq!(
            answer.error(),
            "this token is for tenant 12345678 only",
            "{method} {uri}"
        );
    }
    assert_eq!(snapshot(&api), before, "nothing of B changed");
    assert!(
        api.seen.lock().expect("seen").is_empty(),
        "no request reached the core"
    );
}

#[tokio::test]
async fn tenant_token_may_not_create_or_delete_tenants() {
    let api = Api::with_two_tenants();
    let token_a = api.tenant_token(A);
    let create = api
        .send(
            Method::POST,
            "/api/v1/tenants",
            Some(&token_a),
            Some(json!({ "key": "11112222", "name": "New" })),
        )
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    assert_eq!(create.error(), "this route needs the operator token");
    let delete = api
        .send(
            Method::DELETE,
            "/api/v1/tenants/12345678",
            Some(&token_a),
            None,
        )
        .await;
    assert_eq!(delete.status, StatusCode::FORBIDDEN);
    assert_eq!(api.directory().tenants().expect("tenants").len(), 2);
}

#[tokio::test]
async fn tenant_token_sees_and_changes_its_own_tenant() {
    let api = Api::with_two_tenants();
    let token_a = api.tenant_token(A);
    let tenants = api
        .send(Method::GET, "/api/v1/tenants", Some(&token_a), None)
        .await;
    assert_eq!(tenants.status, StatusCode::OK);
    let keys: Vec<String> = tenants
        .json()
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["key"].as_str().expect("key").to_owned())
        .collect();
    assert_eq!(keys, [A]);

    let t = format!("/api/v1/tenants/{A}");
    let m = format!("/api/v1/meetings/{A}/{A_MEETING}");
    let own: Vec<(Method, String, Option<Value>, StatusCode)> = vec![
        (Method::GET, t.clone(), None, StatusCode::OK),
        (
            Method::PATCH,
            t.clone(),
            Some(json!({ "who_can_bypass": "same-org" })),
            StatusCode::OK,
        ),
        (Method::GET, format!("{t}/meetings"), None, StatusCode::OK),
        (
            Method::POST,
            format!("{t}/meetings"),
            Some(json!({ "conference_id": "5550001111" })),
            StatusCode::CREATED,
        ),
        (
            Method::PATCH,
            format!("{t}/meetings/5550001111"),
            Some(json!({ "organizer": "Grace" })),
            StatusCode::OK,
        ),
        (
            Method::DELETE,
            format!("{t}/meetings/5550001111"),
            None,
            StatusCode::NO_CONTENT,
        ),
        (
            Method::POST,
            format!("{t}/devices"),
            Some(json!({ "uri": "sip:*@rooms.acme.example" })),
            StatusCode::CREATED,
        ),
        (Method::GET, format!("{t}/devices"), None, StatusCode::OK),
        (Method::GET, m.clone(), None, StatusCode::OK),
        (
            Method::POST,
            format!("{m}/lobby/p7/admit"),
            None,
            StatusCode::NO_CONTENT,
        ),
        (
            Method::POST,
            format!("{m}/lobby/p7/deny"),
            None,
            StatusCode::NO_CONTENT,
        ),
        (
            Method::DELETE,
            format!("{m}/participants/p1"),
            None,
            StatusCode::NO_CONTENT,
        ),
    ];
    for (method, uri, body, status) in own {
        let answer = api.send(method.clone(), &uri, Some(&token_a), body).await;
        assert_eq!(answer.status, status, "{method} {uri}: {}", answer.json());
    }
    let tenant = api
        .directory()
        .tenant(&TenantKey::new(A).expect("key"))
        .expect("read")
        .expect("tenant");
    assert_eq!(tenant.policy.who_can_bypass.as_str(), "same-org");
}

#[tokio::test]
async fn live_meeting_list_of_a_tenant_token_is_its_own() {
    let api = Api::with_two_tenants();
    let token_a = api.tenant_token(A);
    let answer = api
        .send(Method::GET, "/api/v1/meetings", Some(&token_a), None)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.json(),
        json!([{ "tenant": A, "conference_id": A_MEETING, "participants": 1, "lobby": 1 }])
    );
    let explicit = api
        .send(
            Method::GET,
            &format!("/api/v1/meetings?tenant={A}"),
            Some(&token_a),
            None,
        )
        .await;
    assert_eq!(explicit.status, StatusCode::OK);
    let expected = AdminCommand::ListMeetings {
        tenant: Some(A.into()),
    };
    assert_eq!(
        *api.seen.lock().expect("seen"),
        [expected.clone(), expected]
    );
}

#[tokio::test]
async fn operator_sees_every_tenant() {
    let api = Api::with_two_tenants();
    let _ = api.tenant_token(A);
    let tenants = api.op(Method::GET, "/api/v1/tenants", None).await;
    assert_eq!(tenants.status, StatusCode::OK);
    let keys: Vec<String> = tenants
        .json()
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["key"].as_str().expect("key").to_owned())
        .collect();
    assert_eq!(keys, [A, B]);
    for uri in [
        format!("/api/v1/tenants/{B}/meetings"),
        format!("/api/v1/tenants/{B}/devices"),
        format!("/api/v1/meetings/{B}/{B_MEETING}"),
    ] {
        assert_eq!(
            api.op(Method::GET, &uri, None).await.status,
            StatusCode::OK,
            "{uri}"
        );
    }
}

#[tokio::test]
async fn revoked_tenant_token_is_401() {
    let api = Api::with_two_tenants();
    let created = api
        .directory()
        .create_tenant_token(&TenantKey::new(A).expect("key"), Some("soon gone"))
        .expect("token");
    let uri = format!("/api/v1/tenants/{A}");
    let ok = api
        .send(Method::GET, &uri, Some(&created.secret), None)
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    api.directory()
        .revoke_tenant_token(&TenantKey::new(A).expect("key"), created.token.id)
        .expect("revoke");
    let refused = api
        .send(Method::GET, &uri, Some(&created.secret), None)
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"tessera\""
    );
    assert_eq!(refused.error(), "invalid token");
}

#[tokio::test]
async fn token_of_a_deleted_tenant_is_401() {
    let api = Api::with_two_tenants();
    let token_b = api.tenant_token(B);
    let deleted = api
        .op(Method::DELETE, &format!("/api/v1/tenants/{B}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let refused = api
        .send(Method::GET, "/api/v1/tenants", Some(&token_b), None)
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}
