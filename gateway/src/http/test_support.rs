//! A harness for the admin API over a real temp-file SQLite directory and a fake core that
//! answers every live-meeting command and records what it was sent.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tower::ServiceExt;

use super::{router, AdminHandle, AdminRequest, AdminToken, HttpState};
use crate::calls::api::{AdminCommand, AdminReply, MeetingSummary, MeetingView};
use crate::directory::{Directory, LiveDirectory, NewTenant};
use crate::lobby::LobbyPolicy;
use signaling::{ConferenceId, DialPrefix, TenantKey};

/// The operator token of every harness.
pub(super) const OPERATOR: &str = "operator-token-0123456789abcdef";
/// Tenant A: key, hostname, prefix `6`, meeting.
pub(super) const A: &str = "12345678";
/// Tenant A's meeting.
pub(super) const A_MEETING: &str = "1177958860";
/// Tenant B: key, hostname, prefix `70`, meeting.
pub(super) const B: &str = "87654321";
/// Tenant B's meeting.
pub(super) const B_MEETING: &str = "2299887766";

/// The live meetings the fake core knows.
fn live() -> Vec<MeetingSummary> {
    [(A, A_MEETING), (B, B_MEETING)]
        .into_iter()
        .map(|(tenant, conference)| MeetingSummary {
            tenant: tenant.into(),
            conference_id: conference.into(),
            participants: 1,
            lobby: 1,
        })
        .collect()
}

fn answer(cmd: &AdminCommand) -> AdminReply {
    match cmd {
        AdminCommand::ListMeetings { tenant } => AdminReply::Meetings(
            live()
                .into_iter()
                .filter(|m| tenant.as_ref().is_none_or(|t| *t == m.tenant))
                .collect(),
        ),
        AdminCommand::ViewMeeting { tenant, conference } => AdminReply::Meeting(MeetingView {
            tenant: tenant.clone(),
            conference_id: conference.clone(),
            participants: Vec::new(),
            lobby: Vec::new(),
            remote: Vec::new(),
        }),
        AdminCommand::Admit { .. }
        | AdminCommand::Deny { .. }
        | AdminCommand::Remove { .. }
        | AdminCommand::AddSynthetic { .. }
        | AdminCommand::HangupCascade { .. } => AdminReply::Done,
        AdminCommand::DialCascade { .. } => AdminReply::CascadeDialled("c1".into()),
        AdminCommand::ListCascades { .. } => AdminReply::Cascades(Vec::new()),
        AdminCommand::LeaveWebrtc { .. } => AdminReply::Done,
        AdminCommand::JoinWebrtc { .. } => AdminReply::WebrtcJoined {
            participant: 1,
            waiting: false,
        },
    }
}

/// The API with its directory and fake core.
pub(super) struct Api {
    app: Router,
    db_path: PathBuf,
    /// The in-memory directory calls would be answered from.
    pub live: Arc<LiveDirectory>,
    /// Every command the core received.
    pub seen: Arc<Mutex<Vec<AdminCommand>>>,
    _dir: tempfile::TempDir,
}

/// One answer.
pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`Null` when empty).
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The `error` text of an error body.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error text: {}", self.json()))
            .to_owned()
    }
}

impl Api {
    /// An empty directory.
    pub fn empty() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db_path = dir.path().join("tessera.db");
        let live = Arc::new(
            LiveDirectory::load(&Directory::open(&db_path).expect("directory")).expect("load"),
        );
        let (tx, mut rx) = mpsc::channel::<AdminRequest>(8);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Some((cmd, reply)) = rx.recv().await {
                let result = answer(&cmd);
                log.lock().expect("log").push(cmd);
                let _ = reply.send(Ok(result));
            }
        });
        let state = HttpState {
            token: Arc::new(AdminToken::new(OPERATOR.into(), "test").expect("token")),
            admin: AdminHandle(tx),
            ready: Arc::new(AtomicBool::new(true)),
            metrics: crate::metrics::Metrics::new().expect("metrics"),
            db: crate::directory::DirectorySource::sqlite(db_path.clone()),
            directory: live.clone(),
            throttle: Arc::default(),
            webrtc: crate::webrtc::WebrtcState::new(
                Default::default(),
                crate::metrics::Metrics::new().unwrap(),
            ),
        };
        Api {
            app: router(state),
            db_path,
            live,
            seen,
            _dir: dir,
        }
    }

    /// Tenants A and B, each with one meeting.
    pub fn with_two_tenants() -> Self {
        let api = Api::empty();
        let mut dir = api.directory();
        for (key, name, host, prefix, meeting) in [
            (A, "Acme", "video.acme.example", "6", A_MEETING),
            (B, "Globex", "video.globex.example", "70", B_MEETING),
        ] {
            let key = TenantKey::new(key).expect("key");
            dir.add_tenant(&NewTenant {
                key: key.clone(),
                name: name.into(),
                hostnames: vec![host.into()],
                prefix: Some(DialPrefix::new(prefix).expect("prefix")),
                endpoint_licenses: 10,
                cascade_licenses: 2,
                policy: LobbyPolicy::default(),
            })
            .expect("tenant");
            dir.add_meeting(
                &key,
                &ConferenceId::new(meeting).expect("conference"),
                Some("Ada"),
                Default::default(),
            )
            .expect("meeting");
        }
        api
    }

    /// A connection to the same directory, to check what the API did.
    pub fn directory(&self) -> Directory {
        Directory::open(&self.db_path).expect("directory")
    }

    /// Creates a tenant token for `tenant` directly in the directory.
    pub fn tenant_token(&self, tenant: &str) -> String {
        self.directory()
            .create_tenant_token(&TenantKey::new(tenant).expect("key"), None)
            .expect("token")
            .secret
    }

    /// Sends a request with the operator token.
    pub async fn op(&self, method: Method, uri: &str, body: Option<Value>) -> Answer {
        self.send(method, uri, Some(OPERATOR), body).await
    }

    /// Sends a request with `token` (if any) and a JSON body (if any).
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.raw(method, uri, token, bytes.map(|b| ("application/json", b)))
            .await
    }

    /// Sends a request with a raw body of the given content type.
    pub async fn raw(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let response = self
            .app
            .clone()
            .oneshot(request.body(body).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }
}
