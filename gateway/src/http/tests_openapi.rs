//! The served OpenAPI document matches the server: every documented operation is served with
//! exactly the documented methods (the router and the document are built from the same
//! `routes!` lists, so a served route is always documented), the schemas have exactly the fields
//! the handlers send, and the bearer scheme covers every `/api/v1` route but the document itself.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::Value;

use super::test_support::Api;
use crate::calls::api::{
    LobbyView, MediaCounters, MeetingSummary, MeetingView, ParticipantView, RemoteParticipantView,
};
use crate::calls::tessera::roster::RemoteKind;
use crate::directory::{Directory, GrantRequest, NewTenant, PolicyOverrides, TrustedDeviceRule};
use crate::grants::GrantClass;
use crate::lobby::{LobbyPolicy, ParticipantClass};
use signaling::{ConferenceId, TenantKey};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn served_document(api: &Api) -> Value {
    let answer = api
        .send(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers[axum::http::header::CONTENT_TYPE],
        "application/json"
    );
    answer.json()
}

/// `(path, method)` of every documented operation.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                ops.insert((path.clone(), method.to_owned()));
            }
        }
    }
    ops
}

/// A concrete URI for a path template.
fn concrete(template: &str) -> String {
    template
        .replace("{key}", "12345678")
        .replace("{tenant}", "12345678")
        .replace("{conference}", "1177958860")
        .replace("{id}", "1")
}

#[tokio::test]
async fn document_lists_every_route_of_the_api() {
    let api = Api::empty();
    let doc = served_document(&api).await;
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    let ops = operations(&doc);
    let expected = [
        ("/healthz", "get"),
        ("/metrics", "get"),
        ("/api/v1/openapi.json", "get"),
        ("/api/v1/tenants", "get"),
        ("/api/v1/tenants", "post"),
        ("/api/v1/tenants/{key}", "get"),
        ("/api/v1/tenants/{key}", "patch"),
        ("/api/v1/tenants/{key}", "delete"),
        ("/api/v1/tenants/{key}/meetings", "get"),
        ("/api/v1/tenants/{key}/meetings", "post"),
        ("/api/v1/tenants/{key}/meetings/{conference}", "get"),
        ("/api/v1/tenants/{key}/meetings/{conference}", "patch"),
        ("/api/v1/tenants/{key}/meetings/{conference}", "delete"),
        ("/api/v1/tenants/{key}/devices", "get"),
        ("/api/v1/tenants/{key}/devices", "post"),
        ("/api/v1/tenants/{key}/devices/{id}", "delete"),
        ("/api/v1/tenants/{key}/grants", "post"),
        ("/api/v1/meetings", "get"),
        ("/api/v1/meetings/{tenant}/{conference}", "get"),
        (
            "/api/v1/meetings/{tenant}/{conference}/lobby/{id}/admit",
            "post",
        ),
        (
            "/api/v1/meetings/{tenant}/{conference}/lobby/{id}/deny",
            "post",
        ),
        (
            "/api/v1/meetings/{tenant}/{conference}/participants/{id}",
            "delete",
        ),
        ("/api/v1/meetings/{tenant}/{conference}/synthetic", "post"),
        ("/api/v1/meetings/{tenant}/{conference}/cascades", "post"),
        ("/api/v1/meetings/{tenant}/{conference}/cascades", "get"),
        (
            "/api/v1/meetings/{tenant}/{conference}/cascades/{id}",
            "delete",
        ),
    ];
    for (path, method) in expected {
        assert!(
            ops.contains(&(path.to_owned(), method.to_owned())),
            "{method} {path} is not documented"
        );
    }
}

#[tokio::test]
async fn every_documented_operation_is_served_with_exactly_its_methods() {
    let api = Api::empty();
    let doc = served_document(&api).await;
    let ops = operations(&doc);
    let paths: BTreeSet<&String> = ops.iter().map(|(p, _)| p).collect();
    for path in paths {
        let uri = concrete(path);
        for method in METHODS {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let answer = api.op(m, &uri, None).await;
            let not_routed = answer.status == StatusCode::METHOD_NOT_ALLOWED
                || (answer.status == StatusCode::NOT_FOUND
                    && answer.json()["error"] == "no such route");
            let documented = ops.contains(&(path.clone(), method.to_owned()));
            assert_eq!(
                !not_routed, documented,
                "{method} {uri}: answered {}, documented: {documented}",
                answer.status
            );
        }
    }
}

#[tokio::test]
async fn api_routes_require_the_bearer_scheme_and_open_ones_do_not() {
    let api = Api::empty();
    let doc = served_document(&api).await;
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        serde_json::json!({
            "type": "http",
            "scheme": "bearer",
            "description": doc["components"]["securitySchemes"]["bearer"]["description"],
        })
    );
    assert_eq!(doc["security"], serde_json::json!([{ "bearer": [] }]));
    let open = ["/healthz", "/metrics", "/api/v1/openapi.json"];
    for (path, method) in operations(&doc) {
        let security = &doc["paths"][&path][&method]["security"];
        if open.contains(&path.as_str()) {
            assert_eq!(*security, serde_json::json!([{}]), "{method} {path}");
            continue;
        }
        assert!(
            security.is_null(),
            "{method} {path} overrides the global bearer requirement"
        );
        // And the server agrees: no token, 401.
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let answer = api.send(m, &concrete(&path), None, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

/// The property names of a component schema.
fn properties(doc: &Value, schema: &str) -> BTreeSet<String> {
    doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("schema {schema} missing"))
        .keys()
        .cloned()
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

#[tokio::test]
async fn schemas_have_exactly_the_fields_the_server_sends() {
    let api = Api::empty();
    let doc = served_document(&api).await;
    for name in [
        "Tenant",
        "Meeting",
        "MeetingView",
        "MeetingSummary",
        "Device",
        "Grant",
        "NewGrant",
        "ErrorBody",
    ] {
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "component {name} missing"
        );
    }

    let mut dir = Directory::open_in_memory().expect("directory");
    let key = TenantKey::new("12345678").expect("key");
    let conference = ConferenceId::new("1177958860").expect("conference");
    let tenant = dir
        .add_tenant(&NewTenant {
            key: key.clone(),
            name: "Acme".into(),
            hostnames: vec!["video.acme.example".into()],
            prefix: None,
            endpoint_licenses: 1,
            cascade_licenses: 1,
            policy: LobbyPolicy::default(),
        })
        .expect("tenant");
    let meeting = dir
        .add_meeting(&key, &conference, None, PolicyOverrides::default())
        .expect("meeting");
    let device = dir
        .add_trusted_device(
            &key,
            &TrustedDeviceRule::cidr("192.0.2.0/24").expect("rule"),
        )
        .expect("device");
    let policy = dir.effective_policy(&key, &conference).expect("policy");

    // The typed bodies the handlers send serialize exactly as the directory's own JSON forms.
    let tenant_json = tenant.to_json();
    assert_eq!(
        serde_json::to_value(super::schema::Tenant::from(&tenant)).expect("json"),
        tenant_json
    );
    let meeting_json = meeting.to_json(&policy);
    assert_eq!(
        serde_json::to_value(super::schema::Meeting::new(&meeting, &policy)).expect("json"),
        meeting_json
    );
    let device_json = device.to_json();
    assert_eq!(
        serde_json::to_value(super::schema::Device::from(&device)).expect("json"),
        device_json
    );
    assert_eq!(properties(&doc, "Tenant"), keys(&tenant_json));
    assert_eq!(properties(&doc, "Meeting"), keys(&meeting_json));
    assert_eq!(
        properties(&doc, "Overridden"),
        keys(&meeting_json["overridden"])
    );
    assert_eq!(properties(&doc, "Device"), keys(&device_json));
    let issued = dir
        .issue_grant(
            &GrantRequest {
                tenant: key.clone(),
                conference: Some(conference.clone()),
                class: GrantClass::Guest,
                name: Some("Ada".into()),
                ttl: std::time::Duration::from_secs(60),
            },
            1_800_000_000,
        )
        .expect("grant");
    let grant_json = issued.to_json();
    assert_eq!(
        serde_json::to_value(super::schema::Grant::from(&issued)).expect("json"),
        grant_json
    );
    assert_eq!(properties(&doc, "Grant"), keys(&grant_json));

    // The live views are the core's own types: pin the documented fields to their JSON.
    let view = serde_json::to_value(MeetingView {
        tenant: "12345678".into(),
        conference_id: "1177958860".into(),
        participants: vec![ParticipantView {
            id: "p1".into(),
            display_name: "Room".into(),
            class: ParticipantClass::TrustedVtc,
            protocol: "sip",
            kind: "endpoint",
            joined_at: "2025-01-02T03:04:05Z".into(),
            media: MediaCounters::default(),
            muted: false,
            speaking: false,
        }],
        lobby: vec![LobbyView {
            id: "p2".into(),
            display_name: "Guest".into(),
            class: ParticipantClass::Anonymous,
            protocol: "sip",
            kind: "endpoint",
            waiting_since: "2025-01-02T03:04:05Z".into(),
        }],
        remote: vec![RemoteParticipantView {
            via: "p3".into(),
            node: "192.0.2.8".into(),
            id: "p1".into(),
            display_name: "Demo 1".into(),
            kind: RemoteKind::Synthetic,
        }],
    })
    .expect("json");
    assert_eq!(properties(&doc, "MeetingView"), keys(&view));
    assert_eq!(
        properties(&doc, "ParticipantView"),
        keys(&view["participants"][0])
    );
    assert_eq!(properties(&doc, "LobbyView"), keys(&view["lobby"][0]));
    assert_eq!(
        properties(&doc, "RemoteParticipantView"),
        keys(&view["remote"][0])
    );
    assert_eq!(
        properties(&doc, "MediaCounters"),
        keys(&view["participants"][0]["media"])
    );
    let link = serde_json::to_value(crate::calls::api::CascadeLinkView {
        id: "c1".into(),
        uri: "sip:meeting@192.0.2.7".into(),
        display_name: "Paris".into(),
        state: "up",
        participant: Some("p3".into()),
        tessera: true,
        failures: 0,
        last_error: None,
    })
    .expect("json");
    assert_eq!(properties(&doc, "CascadeLink"), keys(&link));
    let summary = serde_json::to_value(MeetingSummary {
        tenant: "12345678".into(),
        conference_id: "1177958860".into(),
        participants: 1,
        lobby: 0,
    })
    .expect("json");
    assert_eq!(properties(&doc, "MeetingSummary"), keys(&summary));

    // Closed sets list every accepted name.
    let who = &doc["components"]["schemas"]["WhoCanBypass"]["enum"];
    assert_eq!(
        *who,
        serde_json::json!(["everyone", "trusted-orgs", "same-org", "organizer"])
    );
    let classes = doc["components"]["schemas"]["ParticipantClass"]["enum"]
        .as_array()
        .expect("enum")
        .len();
    assert_eq!(classes, ParticipantClass::ALL.len());
}
