//! Tenant, meeting and trusted-device CRUD over HTTP against a real temp-file directory: the
//! happy paths, every refusal code, and that a refused request changes nothing.

use axum::http::{header, Method, StatusCode};
use serde_json::{json, Value};
use signaling::{ConferenceId, TenantKey};

use super::test_support::{Api, A, A_MEETING, B};
use crate::calls::api::AdminCommand;
use crate::directory::{Directory, DirectoryError, Meeting, Tenant, TrustedDevice};

fn key(k: &str) -> TenantKey {
    TenantKey::new(k).expect("key")
}

/// Everything the directory holds, to compare before and after a refused request.
fn snapshot(dir: &Directory) -> (Vec<Tenant>, Vec<Meeting>, Vec<TrustedDevice>) {
    let tenants = dir.tenants().expect("tenants");
    let devices = tenants
        .iter()
        .flat_map(|t| dir.trusted_devices(&t.key).expect("devices"))
        .collect();
    (tenants, dir.meetings(None).expect("meetings"), devices)
}

fn stored_tenant_json(api: &Api, k: &str) -> Value {
    api.directory()
        .tenant(&key(k))
        .expect("read")
        .expect("tenant")
        .to_json()
}

fn stored_meeting_json(api: &Api, k: &str, c: &str) -> Value {
    let dir = api.directory();
    let (t, c) = (key(k), ConferenceId::new(c).expect("conference"));
    let m = dir.meeting(&t, &c).expect("read").expect("meeting");
    m.to_json(&dir.effective_policy(&t, &c).expect("policy"))
}

#[tokio::test]
async fn tenant_create_read_update_delete_round_trip() {
    let api = Api::empty();
    let created = api
        .op(
            Method::POST,
            "/api/v1/tenants",
            Some(json!({
                "key": A,
                "name": "Acme",
                "hostnames": ["Video.Acme.Example"],
                "prefix": "6",
                "who_can_bypass": "same-org",
                "callers_bypass": true,
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json());
    assert_eq!(
        created.headers[header::LOCATION],
        "/api/v1/tenants/12345678"
    );
    // Exactly the directory's own JSON form, with the CLI's defaults for what was left out.
    assert_eq!(created.json(), stored_tenant_json(&api, A));
    assert_eq!(created.json()["hostnames"], json!(["video.acme.example"]));
    assert_eq!(created.json()["endpoint_licenses"], 10);
    assert_eq!(created.json()["cascade_licenses"], 2);
    assert_eq!(created.json()["anonymous_can_start"], false);

    let list = api.op(Method::GET, "/api/v1/tenants", None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json(), json!([stored_tenant_json(&api, A)]));
    let one = api.op(Method::GET, "/api/v1/tenants/12345678", None).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json(), stored_tenant_json(&api, A));

    let patched = api
        .op(
            Method::PATCH,
            "/api/v1/tenants/12345678",
            Some(json!({
                "name": "Acme Corp",
                "add_hostnames": ["rooms.acme.example"],
                "prefix": null,
                "endpoint_licenses": 25,
                "legacy_trusted_vtc_bypass": true,
                "media_encryption": "required",
            })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.json());
    let v = patched.json();
    assert_eq!(v["media_encryption"], "required");
    assert_eq!(v["sdes_over_clear"], false, "untouched default");
    assert_eq!(v, stored_tenant_json(&api, A));
    assert_eq!(v["name"], "Acme Corp");
    assert_eq!(
        v["hostnames"],
        json!(["rooms.acme.example", "video.acme.example"])
    );
    assert_eq!(v["prefix"], Value::Null);
    assert_eq!(v["endpoint_licenses"], 25);
    assert_eq!(v["who_can_bypass"], "same-org", "untouched");
    assert_eq!(v["legacy_trusted_vtc_bypass"], true);

    // A complete hostname list replaces the old one.
    let replaced = api
        .op(
            Method::PATCH,
            "/api/v1/tenants/12345678",
            Some(json!({ "hostnames": ["rooms.acme.example", "hq.acme.example"], "key": A })),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.json());
    assert_eq!(
        replaced.json()["hostnames"],
        json!(["hq.acme.example", "rooms.acme.example"])
    );

    let deleted = api
        .op(Method::DELETE, "/api/v1/tenants/12345678", None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.body.is_empty());
    let gone = api.op(Method::GET, "/api/v1/tenants/12345678", None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.error(), "no tenant 12345678");
    assert_eq!(
        api.op(Method::DELETE, "/api/v1/tenants/12345678", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn refused_tenant_writes_answer_400_or_409_and_change_nothing() {
    let api = Api::with_two_tenants();
    let before = snapshot(&api.directory());
    let bad_key_message = DirectoryError::from(TenantKey::new("12").unwrap_err()).to_string();
    let cases: Vec<(Value, StatusCode, String)> = vec![
        (
            json!({ "key": "12", "name": "X" }),
            StatusCode::BAD_REQUEST,
            bad_key_message,
        ),
        (
            json!({ "key": "11112222", "name": "X", "hostnames": ["localhost"] }),
            StatusCode::BAD_REQUEST,
            "invalid hostname: \"localhost\": must be a dotted DNS name like video.acme.example"
                .into(),
        ),
        (
            json!({ "key": "11112222", "name": "  " }),
            StatusCode::BAD_REQUEST,
            "invalid name: \"  \" must be 1-200 characters without control characters".into(),
        ),
        (
            json!({ "key": "11112222", "name": "X", "who_can_bypass": "nobody" }),
            StatusCode::BAD_REQUEST,
            "invalid who_can_bypass: unknown who-can-bypass value \"nobody\"; expected one of: \
             everyone, trusted-orgs, same-org, organizer"
                .into(),
        ),
        (
            json!({ "key": A, "name": "Again" }),
            StatusCode::CONFLICT,
            "tenant 12345678 already exists".into(),
        ),
        (
            json!({ "key": "11112222", "name": "X", "hostnames": ["new.example", "VIDEO.globex.example"] }),
            StatusCode::CONFLICT,
            "hostname video.globex.example already belongs to tenant 87654321".into(),
        ),
        (
            json!({ "key": "11112222", "name": "X", "prefix": "7" }),
            StatusCode::CONFLICT,
            "dial prefix 7 overlaps prefix 70 of tenant 87654321".into(),
        ),
    ];
    for (body, status, message) in cases {
        let answer = api
            .op(Method::POST, "/api/v1/tenants", Some(body.clone()))
            .await;
        assert_eq!(answer.status, status, "{body}: {}", answer.json());
        assert_eq!(answer.error(), message, "{body}");
    }
    assert_eq!(snapshot(&api.directory()), before);
}

#[test]
fn who_can_bypass_message_is_the_lobby_s_own() {
    // The message above is spelled out; pin that it is the lobby's UnknownName text.
    let e = "nobody".parse::<crate::lobby::WhoCanBypass>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown who-can-bypass value \"nobody\"; expected one of: everyone, trusted-orgs, \
         same-org, organizer"
    );
}

#[tokio::test]
async fn malformed_or_unexpected_json_is_400_and_changes_nothing() {
    let api = Api::with_two_tenants();
    let before = snapshot(&api.directory());
    let bodies: [(&str, &[u8]); 5] = [
        ("application/json", b"{\"key\": "),
        ("application/json", b"[]"),
        ("application/json", b"{\"key\": \"11112222\"}"),
        (
            "application/json",
            b"{\"key\": \"11112222\", \"name\": \"X\", \"colour\": \"red\"}",
        ),
        ("text/plain", b"{\"key\": \"11112222\", \"name\": \"X\"}"),
    ];
    for (content_type, body) in bodies {
        let answer = api
            .raw(
                Method::POST,
                "/api/v1/tenants",
                Some(super::test_support::OPERATOR),
                Some((content_type, body.to_vec())),
            )
            .await;
        let shown = String::from_utf8_lossy(body);
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{shown}");
        assert!(!answer.error().is_empty(), "{shown}");
    }
    let negative = api
        .op(
            Method::PATCH,
            "/api/v1/tenants/12345678",
            Some(json!({ "endpoint_licenses": -1 })),
        )
        .await;
    assert_eq!(negative.status, StatusCode::BAD_REQUEST);
    assert_eq!(snapshot(&api.directory()), before);
}

#[tokio::test]
async fn refused_tenant_patch_applies_none_of_it() {
    let api = Api::with_two_tenants();
    let before = snapshot(&api.directory());
    let uri = "/api/v1/tenants/12345678";
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            // The rename would be fine; the hostname removal is not, so neither happens.
            json!({ "name": "Renamed", "remove_hostnames": ["video.globex.example"] }),
            StatusCode::BAD_REQUEST,
            "invalid hostname: video.globex.example is not a hostname of tenant 12345678",
        ),
        (
            json!({ "name": "Renamed", "add_hostnames": ["video.globex.example"] }),
            StatusCode::CONFLICT,
            "hostname video.globex.example already belongs to tenant 87654321",
        ),
        (
            json!({ "name": "Renamed", "prefix": "705" }),
            StatusCode::CONFLICT,
            "dial prefix 705 overlaps prefix 70 of tenant 87654321",
        ),
        (
            json!({ "name": "Renamed", "media_encryption": "mandatory" }),
            StatusCode::BAD_REQUEST,
            "invalid media_encryption: unknown media encryption \"mandatory\"; expected one of: optional, required",
        ),
        (
            json!({ "key": B }),
            StatusCode::BAD_REQUEST,
            "invalid key: a tenant key cannot be changed",
        ),
        (
            json!({ "hostnames": [], "add_hostnames": ["x.example"] }),
            StatusCode::BAD_REQUEST,
            "invalid hostnames: give either hostnames or add_hostnames/remove_hostnames, not both",
        ),
    ];
    for (body, status, message) in cases {
        let answer = api.op(Method::PATCH, uri, Some(body.clone())).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.json());
        assert_eq!(answer.error(), message, "{body}");
    }
    let unknown = api
        .op(
            Method::PATCH,
            "/api/v1/tenants/99999999",
            Some(json!({ "name": "X" })),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error(), "no tenant 99999999");
    let bad = api.op(Method::GET, "/api/v1/tenants/12ab", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(snapshot(&api.directory()), before);
}

#[tokio::test]
async fn meeting_create_read_update_delete_with_inherited_policy() {
    let api = Api::with_two_tenants();
    let base = "/api/v1/tenants/12345678/meetings";
    let created = api
        .op(
            Method::POST,
            base,
            Some(json!({ "conference_id": "5550001111", "organizer": "Grace", "callers_bypass": true })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json());
    assert_eq!(
        created.headers[header::LOCATION],
        "/api/v1/tenants/12345678/meetings/5550001111"
    );
    assert_eq!(created.json(), stored_meeting_json(&api, A, "5550001111"));
    assert_eq!(
        created.json(),
        json!({
            "tenant": A,
            "conference_id": "5550001111",
            "organizer": "Grace",
            "who_can_bypass": "trusted-orgs",
            "callers_bypass": true,
            "anonymous_can_start": false,
            "overridden": {
                "who_can_bypass": "tenant",
                "callers_bypass": "meeting",
                "anonymous_can_start": "tenant",
            },
        })
    );

    // A change of the tenant default reaches the meeting that did not override it.
    let patched = api
        .op(
            Method::PATCH,
            "/api/v1/tenants/12345678",
            Some(json!({ "who_can_bypass": "organizer", "callers_bypass": false })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    let uri = format!("{base}/5550001111");
    let read = api.op(Method::GET, &uri, None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json()["who_can_bypass"], "organizer");
    assert_eq!(read.json()["callers_bypass"], true, "overridden");

    // null returns an option to the tenant default and clears the organizer; absent leaves it.
    let updated = api
        .op(
            Method::PATCH,
            &uri,
            Some(json!({ "callers_bypass": null, "anonymous_can_start": true, "organizer": null })),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.json());
    let v = updated.json();
    assert_eq!(v, stored_meeting_json(&api, A, "5550001111"));
    assert_eq!(v["organizer"], Value::Null);
    assert_eq!(v["callers_bypass"], false);
    assert_eq!(v["overridden"]["callers_bypass"], "tenant");
    assert_eq!(v["anonymous_can_start"], true);
    assert_eq!(v["overridden"]["anonymous_can_start"], "meeting");

    let list = api.op(Method::GET, base, None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.json(),
        json!([
            stored_meeting_json(&api, A, A_MEETING),
            stored_meeting_json(&api, A, "5550001111"),
        ])
    );

    let deleted = api.op(Method::DELETE, &uri, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = api.op(Method::GET, &uri, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.error(), "tenant 12345678 has no meeting 5550001111");
    assert_eq!(
        api.op(Method::DELETE, &uri, None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn refused_meeting_writes_answer_400_404_or_409_and_change_nothing() {
    let api = Api::with_two_tenants();
    let before = snapshot(&api.directory());
    let base = "/api/v1/tenants/12345678/meetings";
    let conflict = api
        .op(
            Method::POST,
            base,
            Some(json!({ "conference_id": A_MEETING })),
        )
        .await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(
        conflict.error(),
        "tenant 12345678 already has meeting 1177958860"
    );
    let bad_id = api
        .op(Method::POST, base, Some(json!({ "conference_id": "12" })))
        .await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_id.error(),
        DirectoryError::from(ConferenceId::new("12").unwrap_err()).to_string()
    );
    let bad_organizer = api
        .op(
            Method::POST,
            base,
            Some(json!({ "conference_id": "5550001111", "organizer": "a\u{7}b" })),
        )
        .await;
    assert_eq!(bad_organizer.status, StatusCode::BAD_REQUEST);
    assert!(bad_organizer.error().starts_with("invalid organizer"));
    let no_tenant = api
        .op(
            Method::POST,
            "/api/v1/tenants/99999999/meetings",
            Some(json!({ "conference_id": "5550001111" })),
        )
        .await;
    assert_eq!(no_tenant.status, StatusCode::NOT_FOUND);
    assert_eq!(no_tenant.error(), "no tenant 99999999");
    let list_no_tenant = api
        .op(Method::GET, "/api/v1/tenants/99999999/meetings", None)
        .await;
    assert_eq!(list_no_tenant.status, StatusCode::NOT_FOUND);
    let patch_unknown = api
        .op(
            Method::PATCH,
            &format!("{base}/5550001111"),
            Some(json!({ "organizer": "X" })),
        )
        .await;
    assert_eq!(patch_unknown.status, StatusCode::NOT_FOUND);
    let bad_override = api
        .op(
            Method::PATCH,
            &format!("{base}/{A_MEETING}"),
            Some(json!({ "organizer": "Changed", "who_can_bypass": "anyone" })),
        )
        .await;
    assert_eq!(bad_override.status, StatusCode::BAD_REQUEST);
    assert_eq!(snapshot(&api.directory()), before);
}

#[tokio::test]
async fn trusted_devices_are_added_listed_and_removed_without_secrets() {
    let api = Api::with_two_tenants();
    let base = "/api/v1/tenants/12345678/devices";
    let cidr = api
        .op(Method::POST, base, Some(json!({ "cidr": "192.0.2.0/24" })))
        .await;
    assert_eq!(cidr.status, StatusCode::CREATED, "{}", cidr.json());
    let uri = api
        .op(
            Method::POST,
            base,
            Some(json!({ "uri": "sip:*@Rooms.Acme.Example" })),
        )
        .await;
    assert_eq!(uri.status, StatusCode::CREATED);
    let digest = api
        .op(
            Method::POST,
            base,
            Some(json!({ "digest": { "username": "room1", "password": "correct horse" } })),
        )
        .await;
    assert_eq!(digest.status, StatusCode::CREATED);
    assert_eq!(
        digest.json(),
        json!({ "id": digest.json()["id"], "tenant": A, "kind": "digest",
                "matches": "room1 (realm 12345678.tessera)", "cascade": false })
    );

    let pinned = api
        .op(
            Method::POST,
            base,
            Some(json!({ "cert_sha256": "AB".repeat(32), "cascade": true })),
        )
        .await;
    assert_eq!(pinned.status, StatusCode::CREATED);
    assert_eq!(
        pinned.json(),
        json!({ "id": pinned.json()["id"], "tenant": A, "kind": "cert-sha256",
                "matches": "ab".repeat(32), "cascade": true })
    );
    let bad = api
        .op(Method::POST, base, Some(json!({ "cert_sha256": "abcd" })))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let list = api.op(Method::GET, base, None).await;
    assert_eq!(list.status, StatusCode::OK);
    let stored: Vec<Value> = api
        .directory()
        .trusted_devices(&key(A))
        .expect("devices")
        .iter()
        .map(TrustedDevice::to_json)
        .collect();
    assert_eq!(list.json(), Value::Array(stored));
    assert_eq!(list.json()[1]["matches"], "sip:*@rooms.acme.example");
    let text =
        String::from_utf8_lossy(&list.body).into_owned() + &String::from_utf8_lossy(&digest.body);
    assert!(!text.contains("correct horse"), "{text}");
    // Neither HA1 hash (MD5 or SHA-256 of room1:12345678.tessera:correct horse) is shown.
    assert!(!text.contains("f5041832ceb60c35bf7a8c17828cbb1b"), "{text}");
    assert!(
        !text.contains("cf2c0ca1d2465840449bb51c6e2648f1c9320fd038a06028879c35ac4b2f6423"),
        "{text}"
    );

    let id = cidr.json()["id"].as_i64().expect("id");
    let deleted = api.op(Method::DELETE, &format!("{base}/{id}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let again = api.op(Method::DELETE, &format!("{base}/{id}"), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(
        again.error(),
        format!("tenant 12345678 has no trusted-device rule {id}")
    );
    // Another tenant's rule id is not found under this tenant.
    let other = api
        .op(
            Method::DELETE,
            &format!("/api/v1/tenants/87654321/devices/{}", uri.json()["id"]),
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.directory()
            .trusted_devices(&key(A))
            .expect("devices")
            .len(),
        3
    );
}

#[tokio::test]
async fn a_device_rule_may_name_a_cascading_bridge_and_takes_exactly_one_match() {
    let api = Api::with_two_tenants();
    let base = "/api/v1/tenants/12345678/devices";
    let bridge = api
        .op(
            Method::POST,
            base,
            Some(json!({ "cidr": "198.51.100.0/24", "cascade": true })),
        )
        .await;
    assert_eq!(bridge.status, StatusCode::CREATED, "{}", bridge.json());
    assert_eq!(bridge.json()["cascade"], true);
    let room = api
        .op(Method::POST, base, Some(json!({ "cidr": "192.0.2.0/24" })))
        .await;
    assert_eq!(room.json()["cascade"], false, "a room system by default");
    let stored = api.directory().trusted_devices(&key(A)).expect("devices");
    assert_eq!(
        stored.iter().map(|d| d.cascade).collect::<Vec<_>>(),
        [true, false]
    );
    for body in [
        json!({ "cidr": "203.0.113.0/24", "uri": "sip:*@mcu.example" }),
        json!({ "cascade": true }),
        json!({ "cidr": "203.0.113.0/24", "cascade": "yes" }),
    ] {
        let refused = api.op(Method::POST, base, Some(body.clone())).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(
        api.directory()
            .trusted_devices(&key(A))
            .expect("devices")
            .len(),
        2,
        "a refused rule changes nothing"
    );
}

#[tokio::test]
async fn refused_device_writes_answer_400_404_or_409_and_change_nothing() {
    let api = Api::with_two_tenants();
    let base = "/api/v1/tenants/12345678/devices";
    let first = api
        .op(
            Method::POST,
            base,
            Some(json!({ "digest": { "username": "room1", "password": "long-enough" } })),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let before = snapshot(&api.directory());
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({ "cidr": "192.0.2.1/24" }),
            StatusCode::BAD_REQUEST,
            "invalid cidr: 192.0.2.1/24 has host bits set; did you mean 192.0.2.0/24?",
        ),
        (
            json!({ "uri": "rooms.acme.example" }),
            StatusCode::BAD_REQUEST,
            "invalid uri: \"rooms.acme.example\" is not a SIP URI pattern like sip:*@rooms.acme.example",
        ),
        (
            json!({ "digest": { "username": "room2", "password": "short" } }),
            StatusCode::BAD_REQUEST,
            "invalid digest: password must be at least 8 printable characters",
        ),
        (
            json!({ "digest": { "username": "room1", "password": "another-password" } }),
            StatusCode::CONFLICT,
            "tenant 12345678 already has a digest credential for room1",
        ),
    ];
    for (body, status, message) in cases {
        let answer = api.op(Method::POST, base, Some(body.clone())).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.json());
        assert_eq!(answer.error(), message, "{body}");
    }
    for body in [
        json!({ "cidr": "192.0.2.0/24", "uri": "sip:*@x.example" }),
        json!({ "mac": "00:11" }),
        json!({}),
    ] {
        let answer = api.op(Method::POST, base, Some(body.clone())).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
    }
    let no_tenant = api
        .op(
            Method::POST,
            "/api/v1/tenants/99999999/devices",
            Some(json!({ "cidr": "192.0.2.0/24" })),
        )
        .await;
    assert_eq!(no_tenant.status, StatusCode::NOT_FOUND);
    let list_no_tenant = api
        .op(Method::GET, "/api/v1/tenants/99999999/devices", None)
        .await;
    assert_eq!(list_no_tenant.status, StatusCode::NOT_FOUND);
    let bad_id = api.op(Method::DELETE, &format!("{base}/first"), None).await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    assert_eq!(snapshot(&api.directory()), before);
}

#[tokio::test]
async fn live_meeting_list_asks_the_core_for_all_or_one_tenant() {
    let api = Api::with_two_tenants();
    let all = api.op(Method::GET, "/api/v1/meetings", None).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(
        all.json(),
        json!([
            { "tenant": A, "conference_id": A_MEETING, "participants": 1, "lobby": 1 },
            { "tenant": B, "conference_id": "2299887766", "participants": 1, "lobby": 1 },
        ])
    );
    let one = api
        .op(Method::GET, "/api/v1/meetings?tenant=87654321", None)
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json().as_array().expect("list").len(), 1);
    assert_eq!(
        *api.seen.lock().expect("seen"),
        [
            AdminCommand::ListMeetings { tenant: None },
            AdminCommand::ListMeetings {
                tenant: Some(B.into())
            },
        ]
    );
}

/// Calls are answered from an in-memory copy of the directory; a write through the API
/// reloads it before the response, so a call placed after a `201` finds what was written.
#[tokio::test]
async fn an_api_write_reaches_the_calls_directory_before_its_response_and_a_refusal_changes_nothing(
) {
    use crate::directory::DirectoryRead;
    // The two tenants were written behind the API's back (as the CLI would): not loaded yet.
    let api = Api::with_two_tenants();
    assert!(api.live.tenants().expect("read").is_empty());

    let created = api
        .op(
            Method::POST,
            "/api/v1/tenants/12345678/meetings",
            Some(json!({ "conference_id": "5550002222" })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json());
    let conference = ConferenceId::new("5550002222").expect("conference");
    assert!(api
        .live
        .meeting(&key(A), &conference)
        .expect("read")
        .is_some());
    // The reload is whole: what the CLI wrote before came with it.
    assert_eq!(api.live.tenants().expect("read").len(), 2);

    let before = api.live.current();
    let refused = api
        .op(
            Method::POST,
            "/api/v1/tenants/12345678/meetings",
            Some(json!({ "conference_id": "5550002222" })),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(*api.live.current(), *before);
}
