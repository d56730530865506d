//! The admin API against a fake core: a task owning the admin channel's receiver that answers
//! from a small table and records every command it was sent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tower::ServiceExt;

use super::{router, AdminHandle, AdminRequest, AdminToken, HttpState};
use crate::calls::api::{
    AdminCommand, AdminError, AdminReply, LobbyView, MediaCounters, MeetingView, ParticipantView,
};
use crate::directory::{LiveDirectory, Snapshot};
use crate::lobby::ParticipantClass;

const TOKEN: &str = "test-token-0123456789abcdef";
const TENANT: &str = "12345678";
const CONFERENCE: &str = "1177958860";

fn meeting() -> MeetingView {
    MeetingView {
        tenant: TENANT.into(),
        conference_id: CONFERENCE.into(),
        participants: vec![ParticipantView {
            id: "p1".into(),
            display_name: "Boardroom".into(),
            class: ParticipantClass::TrustedVtc,
            protocol: "sip",
            kind: "endpoint",
            joined_at: "2025-01-02T03:04:05Z".into(),
            media: MediaCounters {
                audio_rx_packets: 10,
                audio_tx_packets: 11,
                video_rx_frames: 12,
                video_tx_frames: 13,
            },
            muted: false,
            speaking: true,
        }],
        lobby: vec![LobbyView {
            id: "p7".into(),
            display_name: "Guest Room".into(),
            class: ParticipantClass::UntrustedVtc,
            protocol: "sip",
            kind: "endpoint",
            waiting_since: "2025-01-02T03:05:00Z".into(),
        }],
        remote: Vec::new(),
    }
}

/// The fake core's answer to one command.
fn answer(cmd: &AdminCommand) -> Result<AdminReply, AdminError> {
    let (tenant, conference, id) = match cmd {
        AdminCommand::ListMeetings { .. } => return Ok(AdminReply::Meetings(Vec::new())),
        AdminCommand::AddSynthetic { count, .. } => {
            return match *count {
                0 => Err(AdminError::InvalidCount {
                    count: 0,
                    max: crate::calls::api::MAX_SYNTHETIC,
                }),
                _ => Ok(AdminReply::Done),
            };
        }
        AdminCommand::ViewMeeting { tenant, conference } => (tenant, conference, None),
        AdminCommand::DialCascade { request, .. } => {
            return match request.uri.contains('@') {
                true => Ok(AdminReply::CascadeDialled("c1".into())),
                false => Err(AdminError::BadCascade("no host".into())),
            };
        }
        AdminCommand::ListCascades { .. } => return Ok(AdminReply::Cascades(Vec::new())),
        AdminCommand::HangupCascade {
            tenant,
            conference,
            id,
        } => (tenant, conference, Some(("cascade link", id, "c1"))),
        AdminCommand::JoinWebrtc { .. } | AdminCommand::LeaveWebrtc { .. } => {
            return Ok(AdminReply::Done)
        }
        AdminCommand::Admit {
            tenant,
            conference,
            id,
        }
        | AdminCommand::Deny {
            tenant,
            conference,
            id,
        } => (tenant, conference, Some(("lobby entry", id, "p7"))),
        AdminCommand::Remove {
            tenant,
            conference,
            id,
        } => (tenant, conference, Some(("participant", id, "p1"))),
    };
    if tenant != TENANT || conference != CONFERENCE {
        return Err(AdminError::UnknownMeeting {
            tenant: tenant.clone(),
            conference: conference.clone(),
        });
    }
    match id {
        None => Ok(AdminReply::Meeting(meeting())),
        Some((_, id, known)) if id == known => Ok(AdminReply::Done),
        Some((what, id, _)) => Err(AdminError::UnknownParticipant {
            what,
            id: id.clone(),
        }),
    }
}

struct Fixture {
    app: Router,
    ready: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<AdminCommand>>>,
    _db: tempfile::TempDir,
}

/// The state with an empty directory in a temporary directory (kept alive by the returned guard).
fn state_with(admin: AdminHandle) -> (HttpState, Arc<AtomicBool>, tempfile::TempDir) {
    let db = tempfile::tempdir().expect("tempdir");
    let ready = Arc::new(AtomicBool::new(false));
    let token = AdminToken::new(TOKEN.into(), "test").expect("valid token");
    let state = HttpState {
        token: Arc::new(token),
        admin,
        ready: ready.clone(),
        metrics: crate::metrics::Metrics::new().unwrap(),
        db: crate::directory::DirectorySource::sqlite(db.path().join("tessera.db")),
        directory: Arc::new(LiveDirectory::new(Snapshot::default())),
        throttle: Arc::default(),
        webrtc: crate::webrtc::WebrtcState::new(
            Default::default(),
            crate::metrics::Metrics::new().unwrap(),
        ),
    };
    (state, ready, db)
}

fn fixture() -> Fixture {
    let (tx, mut rx) = mpsc::channel::<AdminRequest>(8);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Some((cmd, reply)) = rx.recv().await {
            let result = answer(&cmd);
            log.lock().expect("log lock").push(cmd);
            let _ = reply.send(result);
        }
    });
    let (state, ready, db) = state_with(AdminHandle(tx));
    Fixture {
        app: router(state),
        ready,
        seen,
        _db: db,
    }
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    auth: Option<&str>,
) -> (StatusCode, Response) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(auth) = auth {
        request = request.header(header::AUTHORIZATION, auth);
    }
    let request = request.body(Body::empty()).expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, Response { headers, body })
}

struct Response {
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Response {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

fn meeting_uri() -> String {
    format!("/api/v1/meetings/{TENANT}/{CONFERENCE}")
}

fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn healthz_is_503_until_sip_listens_then_200_without_auth() {
    let f = fixture();
    let (status, _) = send(&f.app, Method::GET, "/healthz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    f.ready.store(true, Ordering::Release);
    let (status, response) = send(&f.app, Method::GET, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(response.body, b"ok");
}

#[tokio::test]
async fn api_without_token_is_401_with_bearer_challenge() {
    let f = fixture();
    for auth in [
        None,
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer"),
        Some("Bearer "),
        Some(TOKEN),
    ] {
        let (status, response) = send(&f.app, Method::GET, &meeting_uri(), auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(
            response.headers[header::WWW_AUTHENTICATE],
            "Bearer realm=\"tessera\""
        );
        assert!(response.json()["error"].is_string(), "{auth:?}");
    }
    assert!(f.seen.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn api_with_wrong_token_is_401_and_reaches_no_core() {
    let f = fixture();
    let wrong = format!("Bearer {TOKEN}x");
    let uri = format!("{}/lobby/p7/admit", meeting_uri());
    let (status, response) = send(&f.app, Method::POST, &uri, Some(&wrong)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"tessera\""
    );
    assert_eq!(response.json()["error"], "invalid token");
    assert!(f.seen.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let f = fixture();
    let auth = format!("bearer {TOKEN}");
    let (status, _) = send(&f.app, Method::GET, &meeting_uri(), Some(&auth)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn meeting_view_has_exactly_the_documented_shape() {
    let f = fixture();
    let (status, response) = send(&f.app, Method::GET, &meeting_uri(), Some(&bearer())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(response.headers[header::CONTENT_TYPE], "application/json");
    let v = response.json();
    assert_eq!(
        keys(&v),
        ["conference_id", "lobby", "participants", "remote", "tenant"]
    );
    assert_eq!(v["tenant"], TENANT);
    assert_eq!(v["conference_id"], CONFERENCE);

    let p = &v["participants"][0];
    assert_eq!(
        keys(p),
        [
            "class",
            "display_name",
            "id",
            "joined_at",
            "kind",
            "media",
            "muted",
            "protocol",
            "speaking"
        ]
    );
    assert_eq!(p["muted"], false);
    assert_eq!(p["speaking"], true);
    assert_eq!(p["id"], "p1");
    assert_eq!(p["display_name"], "Boardroom");
    assert_eq!(p["class"], "trusted-vtc");
    assert_eq!(p["protocol"], "sip");
    assert_eq!(p["kind"], "endpoint");
    assert_eq!(p["joined_at"], "2025-01-02T03:04:05Z");
    assert_eq!(
        keys(&p["media"]),
        [
            "audio_rx_packets",
            "audio_tx_packets",
            "video_rx_frames",
            "video_tx_frames"
        ]
    );
    assert_eq!(p["media"]["audio_rx_packets"], 10);
    assert_eq!(p["media"]["video_tx_frames"], 13);

    let l = &v["lobby"][0];
    assert_eq!(
        keys(l),
        [
            "class",
            "display_name",
            "id",
            "kind",
            "protocol",
            "waiting_since"
        ]
    );
    assert_eq!(l["protocol"], "sip");
    assert_eq!(l["class"], "untrusted-vtc");
    assert_eq!(l["waiting_since"], "2025-01-02T03:05:00Z");

    assert_eq!(
        *f.seen.lock().expect("lock"),
        [AdminCommand::ViewMeeting {
            tenant: TENANT.into(),
            conference: CONFERENCE.into(),
        }]
    );
}

#[tokio::test]
async fn admit_deny_and_remove_send_the_path_values_to_the_core() {
    let f = fixture();
    let base = meeting_uri();
    let calls = [
        (Method::POST, format!("{base}/lobby/p7/admit")),
        (Method::POST, format!("{base}/lobby/p7/deny")),
        (Method::DELETE, format!("{base}/participants/p1")),
    ];
    for (method, uri) in calls {
        let (status, response) = send(&f.app, method, &uri, Some(&bearer())).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{uri}");
        assert!(response.body.is_empty(), "{uri}");
    }
    let (t, c) = (TENANT.to_owned(), CONFERENCE.to_owned());
    assert_eq!(
        *f.seen.lock().expect("lock"),
        [
            AdminCommand::Admit {
                tenant: t.clone(),
                conference: c.clone(),
                id: "p7".into(),
            },
            AdminCommand::Deny {
                tenant: t.clone(),
                conference: c.clone(),
                id: "p7".into(),
            },
            AdminCommand::Remove {
                tenant: t,
                conference: c,
                id: "p1".into(),
            },
        ]
    );
}

#[tokio::test]
async fn path_segments_are_passed_through_percent_decoded_and_unvalidated() {
    let f = fixture();
    let uri = "/api/v1/meetings/acme%20corp/not-a-number/lobby/x%2Fy/deny";
    let (status, response) = send(&f.app, Method::POST, uri, Some(&bearer())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        response.json()["error"],
        "no meeting not-a-number for tenant acme corp"
    );
    assert_eq!(
        *f.seen.lock().expect("lock"),
        [AdminCommand::Deny {
            tenant: "acme corp".into(),
            conference: "not-a-number".into(),
            id: "x/y".into(),
        }]
    );
}

#[tokio::test]
async fn unknown_meeting_and_participant_are_404_with_the_error_text() {
    let f = fixture();
    let (status, response) = send(
        &f.app,
        Method::GET,
        "/api/v1/meetings/12345678/999",
        Some(&bearer()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        response.json(),
        serde_json::json!({ "error": "no meeting 999 for tenant 12345678" })
    );

    let uri = format!("{}/lobby/p9/admit", meeting_uri());
    let (status, response) = send(&f.app, Method::POST, &uri, Some(&bearer())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        response.json()["error"],
        "no lobby entry p9 in this meeting"
    );

    let uri = format!("{}/participants/p9", meeting_uri());
    let (status, response) = send(&f.app, Method::DELETE, &uri, Some(&bearer())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        response.json()["error"],
        "no participant p9 in this meeting"
    );
}

#[tokio::test]
async fn unknown_route_is_404_json() {
    let f = fixture();
    for uri in ["/", "/api/v2/meetings", "/api/v1/meetings/1/2/3"] {
        let (status, response) = send(&f.app, Method::GET, uri, Some(&bearer())).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(response.json()["error"].is_string(), "{uri}");
    }
}

#[tokio::test]
async fn wrong_method_is_405_json() {
    let f = fixture();
    let (status, response) = send(&f.app, Method::DELETE, &meeting_uri(), Some(&bearer())).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers[header::ALLOW], "GET,HEAD");
    assert!(response.json()["error"].is_string());
    // Without a token the /api route answers 401 before revealing which methods it serves.
    let (status, _) = send(&f.app, Method::DELETE, &meeting_uri(), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn undecodable_path_segment_is_400_json() {
    let f = fixture();
    let uri = "/api/v1/meetings/%FF/1177958860";
    let (status, response) = send(&f.app, Method::GET, uri, Some(&bearer())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(response.json()["error"].is_string());
    assert!(f.seen.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn closed_core_channel_is_503() {
    let (tx, rx) = mpsc::channel::<AdminRequest>(1);
    drop(rx);
    let (state, _, _db) = state_with(AdminHandle(tx));
    let app = router(state);
    let (status, response) = send(&app, Method::GET, &meeting_uri(), Some(&bearer())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.json()["error"].is_string());
    let uri = format!("{}/lobby/p7/admit", meeting_uri());
    let (status, _) = send(&app, Method::POST, &uri, Some(&bearer())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn core_dropping_the_request_unanswered_is_503() {
    let (tx, mut rx) = mpsc::channel::<AdminRequest>(1);
    tokio::spawn(async move {
        while let Some((_cmd, reply)) = rx.recv().await {
            drop(reply);
        }
    });
    let (state, _, _db) = state_with(AdminHandle(tx));
    let (status, _) = send(&router(state), Method::GET, &meeting_uri(), Some(&bearer())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

async fn post_json(app: &Router, uri: &str, body: &str) -> (StatusCode, Response) {
    let request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::AUTHORIZATION, bearer())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, Response { headers, body })
}

#[tokio::test]
async fn synthetic_participants_are_added_with_204_and_a_bad_count_is_400() {
    let f = fixture();
    let uri = format!("{}/synthetic", meeting_uri());
    let (status, _) = post_json(&f.app, &uri, r#"{"count": 9}"#).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(matches!(
        f.seen.lock().expect("lock").as_slice(),
        [AdminCommand::AddSynthetic { tenant, conference, count: 9 }]
            if tenant == TENANT && conference == CONFERENCE
    ));
    let (status, response) = post_json(&f.app, &uri, r#"{"count": 0}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(response.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("between 1 and")));
    // A body that is not `{"count": N}` never reaches the core.
    for body in [r#"{"cnt": 1}"#, r#"{"count": -1}"#, "nine"] {
        let (status, _) = post_json(&f.app, &uri, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(f.seen.lock().expect("lock").len(), 2);
}

/// Sends `auth` to the meeting view as if from `source` (what `serve`'s connect info gives).
async fn send_from(app: &Router, source: [u8; 4], auth: &str) -> (StatusCode, Response) {
    let mut request = Request::builder()
        .uri(meeting_uri())
        .header(header::AUTHORIZATION, auth)
        .body(Body::empty())
        .expect("request");
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            source, 40000,
        ))));
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    (
        status,
        Response {
            headers,
            body: Vec::new(),
        },
    )
}

#[tokio::test]
async fn token_guessing_is_throttled_per_source_with_429() {
    let (tx, mut rx) = mpsc::channel::<AdminRequest>(8);
    tokio::spawn(async move {
        while let Some((cmd, reply)) = rx.recv().await {
            let _ = reply.send(answer(&cmd));
        }
    });
    let (state, _ready, _db) = state_with(AdminHandle(tx));
    let metrics = state.metrics.clone();
    let app = router(state);
    let guesser = [192, 0, 2, 7];
    let wrong = format!("Bearer {TOKEN}x");
    for i in 0..11 {
        let (status, _) = send_from(&app, guesser, &wrong).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    // Locked out: even the right token is not looked at.
    let (status, response) = send_from(&app, guesser, &bearer()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers[header::RETRY_AFTER], "60");
    assert_eq!(metrics.admin_auth_throttled_total.get(), 1);
    // Another address is not affected.
    let (status, _) = send_from(&app, [192, 0, 2, 8], &bearer()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn cascades_are_dialled_with_201_listed_and_hung_up_with_204() {
    let f = fixture();
    let uri = format!("{}/cascades", meeting_uri());
    let body = r#"{"uri": "sip:meeting@192.0.2.7", "display_name": "Paris",
        "credentials": {"username": "gw", "password": "pw"}}"#;
    let (status, response) = post_json(&f.app, &uri, body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(response.json()["id"], "c1");
    assert!(matches!(
        f.seen.lock().expect("lock").as_slice(),
        [AdminCommand::DialCascade { request, .. }]
            if request.display_name == "Paris"
                && request.credentials.as_ref().is_some_and(|c| c.username == "gw" && c.password == "pw")
    ));
    // The core's refusal of the URI is a 400; a body with unknown fields never reaches it.
    let (status, _) = post_json(&f.app, &uri, r#"{"uri": "sip:nohost"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post_json(&f.app, &uri, r#"{"url": "sip:m@192.0.2.7"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(f.seen.lock().expect("lock").len(), 2);

    let (status, response) = send(&f.app, Method::GET, &uri, Some(&bearer())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(response.json(), serde_json::json!([]));
    let (status, _) = send(
        &f.app,
        Method::DELETE,
        &format!("{uri}/c1"),
        Some(&bearer()),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(
        &f.app,
        Method::DELETE,
        &format!("{uri}/c9"),
        Some(&bearer()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
