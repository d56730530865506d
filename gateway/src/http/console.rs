//! The lobby console: a small web page under `/console/` for operators (and, later, tenant
//! admins) to watch live meetings and admit, deny or remove people with one click, plus the
//! Server-Sent Events stream that keeps it live.
//!
//! Owns the console's static assets (plain HTML, JavaScript and CSS from `gateway/console/`,
//! embedded in the binary: no build step, nothing fetched from elsewhere) and
//! `GET /api/v1/meetings/{tenant}/{conference}/events`. It must not hold call state: the event
//! stream polls the core through [`AdminHandle`](super::AdminHandle) like every other admin route.
//!
//! | Method and path                                       | Auth  | Answer                       |
//! |-------------------------------------------------------|-------|------------------------------|
//! | `GET /console`                                        | none  | 308 to `/console/`           |
//! | `GET /console/`, `/console/app.js`, `/console/app.css`| none  | the asset, `no-store`        |
//! | `GET /api/v1/meetings/{tenant}/{conference}/events`   | token | `text/event-stream`          |
//!
//! The static files carry no data and need no token; the page keeps the token the user types in
//! `sessionStorage` and sends it as `Authorization: Bearer` on every API call. Because
//! `EventSource` cannot send that header, the page reads the event stream with `fetch()`.
//!
//! The stream sends `event: meeting` with the [`MeetingView`] as JSON at once, then again each
//! time the view changes (the core is polled every [`POLL_INTERVAL`]), and a comment line when
//! nothing was sent for [`KEEP_ALIVE`] so proxies keep the connection open. When the meeting
//! disappears or the core goes away it sends `event: error` with `{"error": "..."}` and ends.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::{AdminCallError, HttpState};
use crate::calls::api::{AdminCommand, AdminError, AdminReply, MeetingView};

/// How often the event stream asks the core for the meeting view.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Silence after which the event stream sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long one poll waits for the core before the stream skips that poll.
const CORE_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The page (`gateway/console/index.html`).
const INDEX_HTML: &str = include_str!("../../console/index.html");
/// The page's script (`gateway/console/app.js`).
const APP_JS: &str = include_str!("../../console/app.js");
/// The page's style sheet (`gateway/console/app.css`).
const APP_CSS: &str = include_str!("../../console/app.css");

/// What the page may load and talk to: only this origin, no inline script or style, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Why the event stream could not start.
#[derive(Debug, thiserror::Error)]
enum ConsoleError {
    /// The path could not be decoded (400).
    #[error("{0}")]
    BadPath(String),
    /// No such meeting (404).
    #[error("{0}")]
    NotFound(String),
    /// The core is gone or too slow (503).
    #[error("the gateway core is not available; try again")]
    Unavailable,
    /// The core answered with the wrong kind of reply (500; a bug).
    #[error("internal error")]
    Internal,
}

impl ConsoleError {
    fn status(&self) -> StatusCode {
        match self {
            ConsoleError::BadPath(_) => StatusCode::BAD_REQUEST,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.to_string() }));
        (self.status(), body).into_response()
    }
}

impl From<AdminCallError> for ConsoleError {
    fn from(e: AdminCallError) -> Self {
        match e {
            AdminCallError::Admin(
                e @ (AdminError::UnknownMeeting { .. } | AdminError::UnknownParticipant { .. }),
            ) => ConsoleError::NotFound(e.to_string()),
            // The console only views meetings; a count error would be a bug.
            AdminCallError::Admin(
                AdminError::InvalidCount { .. }
                | AdminError::BadCascade(_)
                | AdminError::CascadeLicence(_),
            ) => ConsoleError::Internal,
            AdminCallError::Unavailable => ConsoleError::Unavailable,
        }
    }
}

impl From<PathRejection> for ConsoleError {
    fn from(e: PathRejection) -> Self {
        ConsoleError::BadPath(e.body_text())
    }
}

/// The console's routes: the open static files and the token-protected event stream (checked by
/// the same middleware as every other `/api` route). Merged into [`super::router`].
pub(crate) fn routes(state: HttpState) -> Router<HttpState> {
    let events = Router::new()
        .route(
            "/api/v1/meetings/{tenant}/{conference}/events",
            get(meeting_events),
        )
        .route_layer(middleware::from_fn_with_state(
            state,
            super::routes::require_token,
        ));
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(index))
        .route("/console/index.html", get(index))
        .route("/console/app.js", get(app_js))
        .route("/console/app.css", get(app_css))
        .merge(events)
}

/// A static asset with its type, never cached (a new binary may ship a new page), locked down
/// with a content security policy.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    locked_asset(content_type, CONTENT_SECURITY_POLICY, body)
}

/// A static page asset (the console's, the join page's): never cached, no sniffing, no
/// referrer, and `csp` as its content security policy.
pub(super) fn locked_asset(
    content_type: &'static str,
    csp: &'static str,
    body: &'static str,
) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    (headers, body).into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// The `{tenant}/{conference}` part of a meeting path.
#[derive(Debug, Deserialize)]
struct MeetingPath {
    tenant: String,
    conference: String,
}

/// Asks the core for the meeting view, bounded by [`CORE_REPLY_TIMEOUT`].
async fn fetch_view(
    state: &HttpState,
    tenant: &str,
    conference: &str,
) -> Result<MeetingView, ConsoleError> {
    let cmd = AdminCommand::ViewMeeting {
        tenant: tenant.to_owned(),
        conference: conference.to_owned(),
    };
    match tokio::time::timeout(CORE_REPLY_TIMEOUT, state.admin.call(cmd)).await {
        Ok(Ok(AdminReply::Meeting(view))) => Ok(view),
        Ok(Ok(other)) => {
            tracing::error!(reply = ?other, "console: unexpected reply from the core");
            Err(ConsoleError::Internal)
        }
        Ok(Err(e)) => Err(e.into()),
        Err(_elapsed) => Err(ConsoleError::Unavailable),
    }
}

/// `GET /api/v1/meetings/{tenant}/{conference}/events`: the meeting view now and on every change.
///
/// The first view is read before answering, so an unknown meeting is a plain 404 rather than a
/// stream that ends at once.
async fn meeting_events(
    State(state): State<HttpState>,
    path: Result<Path<MeetingPath>, PathRejection>,
) -> Result<Response, ConsoleError> {
    let Path(MeetingPath { tenant, conference }) = path?;
    let first = fetch_view(&state, &tenant, &conference).await?;
    let (tx, rx) = mpsc::channel::<Event>(8);
    tokio::spawn(watch_meeting(state, tenant, conference, first, tx));
    let events = stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|event| (Ok::<_, Infallible>(event), rx))
    });
    let keep_alive = KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive");
    let mut response = Sse::new(events).keep_alive(keep_alive).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Tells nginx-style reverse proxies not to buffer the stream.
    headers.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(response)
}

/// One `event: meeting` with the view as JSON.
fn meeting_event(view: &MeetingView) -> Event {
    match Event::default().event("meeting").json_data(view) {
        Ok(event) => event,
        // Serialising plain strings and numbers cannot fail; answer with an error event anyway.
        Err(e) => error_event(&e.to_string()),
    }
}

/// One `event: error` with `{"error": "..."}`.
fn error_event(message: &str) -> Event {
    Event::default()
        .event("error")
        .data(serde_json::json!({ "error": message }).to_string())
}

/// Polls the core and forwards the view whenever it changed, until the client goes away (the
/// receiver is dropped) or the meeting or the core does.
async fn watch_meeting(
    state: HttpState,
    tenant: String,
    conference: String,
    first: MeetingView,
    tx: mpsc::Sender<Event>,
) {
    if tx.send(meeting_event(&first)).await.is_err() {
        return;
    }
    let mut last = first;
    let mut poll = tokio::time::interval(POLL_INTERVAL);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    poll.tick().await; // The first tick is immediate; the first view is already sent.
    loop {
        tokio::select! {
            () = tx.closed() => return,
            _ = poll.tick() => {}
        }
        match fetch_view(&state, &tenant, &conference).await {
            Ok(view) if view == last => {}
            Ok(view) => {
                if tx.send(meeting_event(&view)).await.is_err() {
                    return;
                }
                last = view;
            }
            Err(ConsoleError::Unavailable) if !state.admin.0.is_closed() => {
                tracing::debug!("console: the core was slow; skipping one poll");
            }
            Err(e) => {
                tracing::debug!(error = %e, %tenant, %conference, "console: event stream ends");
                let _ = tx.send(error_event(&e.to_string())).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
