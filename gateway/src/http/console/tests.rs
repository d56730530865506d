//! The console routes against a fake core whose meeting view the test changes while a client
//! follows the event stream.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tower::ServiceExt;

use super::super::{router, AdminHandle, AdminRequest, AdminToken, HttpState};
use crate::calls::api::{
    AdminCommand, AdminError, AdminReply, LobbyView, MediaCounters, MeetingView, ParticipantView,
};
use crate::directory::{LiveDirectory, Snapshot};
use crate::lobby::ParticipantClass;

const TOKEN: &str = "console-test-token-0123456789";
const TENANT: &str = "12345678";
const CONFERENCE: &str = "2000000";

/// Longest wait for an event the test expects (a few poll intervals).
const EVENT_DEADLINE: Duration = Duration::from_secs(5);

fn waiting_room() -> MeetingView {
    MeetingView {
        tenant: TENANT.into(),
        conference_id: CONFERENCE.into(),
        participants: vec![],
        lobby: vec![LobbyView {
            id: "p3".into(),
            display_name: "Boardroom <b>".into(),
            class: ParticipantClass::UntrustedVtc,
            protocol: "sip",
            kind: "endpoint",
            waiting_since: "2025-01-02T03:05:00Z".into(),
        }],
        remote: Vec::new(),
    }
}

fn admitted() -> MeetingView {
    MeetingView {
        lobby: vec![],
        participants: vec![ParticipantView {
            id: "p3".into(),
            display_name: "Boardroom <b>".into(),
            class: ParticipantClass::UntrustedVtc,
            protocol: "sip",
            kind: "endpoint",
            joined_at: "2025-01-02T03:06:00Z".into(),
            media: MediaCounters::default(),
            muted: false,
            speaking: false,
        }],
        ..waiting_room()
    }
}

/// What the fake core answers `ViewMeeting` with: `None` once the meeting is gone.
type Shared = Arc<Mutex<Option<MeetingView>>>;

struct Fixture {
    app: Router,
    meeting: Shared,
    /// Holds the directory database that wrong tokens are looked up in (as tenant tokens).
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let (tx, mut rx) = mpsc::channel::<AdminRequest>(8);
    let meeting: Shared = Arc::new(Mutex::new(Some(waiting_room())));
    let current = meeting.clone();
    tokio::spawn(async move {
        while let Some((cmd, reply)) = rx.recv().await {
            let result = match cmd {
                AdminCommand::ViewMeeting { tenant, conference } => {
                    match current.lock().expect("view lock").clone() {
                        Some(view) if tenant == TENANT && conference == CONFERENCE => {
                            Ok(AdminReply::Meeting(view))
                        }
                        _ => Err(AdminError::UnknownMeeting { tenant, conference }),
                    }
                }
                AdminCommand::ListMeetings { .. } => Ok(AdminReply::Meetings(Vec::new())),
                _ => Ok(AdminReply::Done),
            };
            let _ = reply.send(result);
        }
    });
    let dir = tempfile::tempdir().expect("temporary directory");
    let state = HttpState {
        token: Arc::new(AdminToken::new(TOKEN.into(), "test").expect("valid token")),
        admin: AdminHandle(tx),
        ready: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        metrics: crate::metrics::Metrics::new().expect("metrics"),
        db: crate::directory::DirectorySource::sqlite(dir.path().join("tessera.db")),
        directory: Arc::new(LiveDirectory::new(Snapshot::default())),
        throttle: Arc::default(),
        webrtc: crate::webrtc::WebrtcState::new(
            Default::default(),
            crate::metrics::Metrics::new().unwrap(),
        ),
    };
    Fixture {
        app: router(state),
        meeting,
        _dir: dir,
    }
}

fn get(uri: &str, auth: Option<&str>) -> Request<Body> {
    let mut request = Request::get(uri);
    if let Some(auth) = auth {
        request = request.header(header::AUTHORIZATION, auth);
    }
    request.body(Body::empty()).expect("request")
}

fn events_uri() -> String {
    format!("/api/v1/meetings/{TENANT}/{CONFERENCE}/events")
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

fn header_of(response: &axum::response::Response, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Reads one whole server-sent event (up to the blank line) and returns `(event, data)`;
/// comment-only blocks (keep-alives) are skipped. `None` if the stream ends first.
async fn next_event(body: &mut Body, pending: &mut String) -> Option<(String, String)> {
    loop {
        while let Some(end) = pending.find("\n\n") {
            let block: String = pending.drain(..end + 2).collect();
            let mut name = "message".to_owned();
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim_start().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                }
            }
            if !data.is_empty() {
                return Some((name, data.join("\n")));
            }
        }
        let frame = body.frame().await?.expect("body frame");
        if let Ok(bytes) = frame.into_data() {
            pending.push_str(std::str::from_utf8(&bytes).expect("UTF-8 event stream"));
        }
    }
}

#[tokio::test]
async fn static_files_are_served_without_a_token_with_their_types_and_no_store() {
    let f = fixture();
    for (uri, content_type, marker) in [
        (
            "/console/",
            "text/html; charset=utf-8",
            "<script src=\"app.js\"",
        ),
        ("/console/index.html", "text/html; charset=utf-8", "<title>"),
        (
            "/console/app.js",
            "text/javascript; charset=utf-8",
            "'use strict'",
        ),
        ("/console/app.css", "text/css; charset=utf-8", ".person"),
    ] {
        let response = f
            .app
            .clone()
            .oneshot(get(uri, None))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(
            header_of(&response, header::CONTENT_TYPE),
            content_type,
            "{uri}"
        );
        assert_eq!(
            header_of(&response, header::CACHE_CONTROL),
            "no-store",
            "{uri}"
        );
        assert_eq!(
            header_of(&response, header::X_CONTENT_TYPE_OPTIONS),
            "nosniff",
            "{uri}"
        );
        assert!(
            header_of(&response, header::CONTENT_SECURITY_POLICY).contains("script-src 'self'"),
            "{uri}"
        );
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = std::str::from_utf8(&body).expect("UTF-8");
        assert!(body.contains(marker), "{uri} lacks {marker:?}");
    }
}

#[tokio::test]
async fn console_without_slash_redirects_and_unknown_assets_are_404() {
    let f = fixture();
    let response = f
        .app
        .clone()
        .oneshot(get("/console", None))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header_of(&response, header::LOCATION), "/console/");
    let response = f
        .app
        .clone()
        .oneshot(get("/console/secrets.txt", None))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_page_never_inserts_data_as_html() {
    // The script builds rows with textContent; innerHTML / outerHTML / insertAdjacentHTML and
    // document.write would let a display name like `Boardroom <b>` become markup.
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!super::APP_JS.contains(sink), "app.js uses {sink}");
    }
    for external in ["http://", "https://", "//cdn"] {
        assert!(
            !super::INDEX_HTML.contains(external) && !super::APP_CSS.contains(external),
            "the console must not load {external} resources"
        );
    }
}

#[tokio::test]
async fn event_stream_requires_the_token() {
    let f = fixture();
    for auth in [None, Some("Bearer wrong-token-0123456789"), Some(TOKEN)] {
        let response = f
            .app
            .clone()
            .oneshot(get(&events_uri(), auth))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(
            header_of(&response, header::WWW_AUTHENTICATE),
            "Bearer realm=\"tessera\""
        );
    }
}

#[tokio::test]
async fn event_stream_of_an_unknown_meeting_is_404() {
    let f = fixture();
    let uri = format!("/api/v1/meetings/{TENANT}/9999999/events");
    let response = f
        .app
        .clone()
        .oneshot(get(&uri, Some(&bearer())))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(body["error"], "no meeting 9999999 for tenant 12345678");
}

#[tokio::test]
async fn event_stream_sends_the_view_then_only_changes() {
    let f = fixture();
    let response = f
        .app
        .clone()
        .oneshot(get(&events_uri(), Some(&bearer())))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header_of(&response, header::CONTENT_TYPE),
        "text/event-stream"
    );
    assert_eq!(header_of(&response, header::CACHE_CONTROL), "no-store");
    let mut body = response.into_body();
    let mut pending = String::new();

    let (name, data) = tokio::time::timeout(EVENT_DEADLINE, next_event(&mut body, &mut pending))
        .await
        .expect("first event in time")
        .expect("first event");
    assert_eq!(name, "meeting");
    let view: Value = serde_json::from_str(&data).expect("JSON view");
    assert_eq!(view["lobby"][0]["id"], "p3");
    assert_eq!(view["lobby"][0]["display_name"], "Boardroom <b>");
    assert_eq!(view["participants"], Value::Array(vec![]));

    // Several polls with the same view: nothing is sent.
    let quiet = tokio::time::timeout(
        super::POLL_INTERVAL * 3,
        next_event(&mut body, &mut pending),
    )
    .await;
    assert!(
        quiet.is_err(),
        "an unchanged view was sent again: {quiet:?}"
    );

    *f.meeting.lock().expect("view lock") = Some(admitted());
    let (name, data) = tokio::time::timeout(EVENT_DEADLINE, next_event(&mut body, &mut pending))
        .await
        .expect("change in time")
        .expect("change event");
    assert_eq!(name, "meeting");
    let view: Value = serde_json::from_str(&data).expect("JSON view");
    assert_eq!(view["lobby"], Value::Array(vec![]));
    assert_eq!(view["participants"][0]["id"], "p3");
}

#[tokio::test]
async fn event_stream_ends_with_an_error_event_when_the_meeting_goes() {
    let f = fixture();
    let response = f
        .app
        .clone()
        .oneshot(get(&events_uri(), Some(&bearer())))
        .await
        .expect("infallible");
    let mut body = response.into_body();
    let mut pending = String::new();
    let first = tokio::time::timeout(EVENT_DEADLINE, next_event(&mut body, &mut pending)).await;
    assert_eq!(
        first.expect("first event in time").expect("event").0,
        "meeting"
    );

    *f.meeting.lock().expect("view lock") = None;
    let (name, data) = tokio::time::timeout(EVENT_DEADLINE, next_event(&mut body, &mut pending))
        .await
        .expect("error in time")
        .expect("error event");
    assert_eq!(name, "error");
    let data: Value = serde_json::from_str(&data).expect("JSON");
    assert_eq!(data["error"], "no meeting 2000000 for tenant 12345678");
    let end = tokio::time::timeout(EVENT_DEADLINE, next_event(&mut body, &mut pending))
        .await
        .expect("stream ends in time");
    assert!(end.is_none(), "the stream went on after the error: {end:?}");
}
