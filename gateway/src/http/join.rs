//! The browser join endpoints (WHIP-shaped, RFC 9725; see `notes/r3/contract-webrtc.md`):
//!
//! | Method and path | Success |
//! |---|---|
//! | `POST /api/v1/join/{tenant}/{conference}?name=N` (body: SDP offer) | 201, SDP answer, `Location` |
//! | `PATCH /api/v1/join/sessions/{id}` (trickle ICE fragment) | 204; ICE restart: 200, the gateway's fragment |
//! | `DELETE /api/v1/join/sessions/{id}` | 200 |
//! | `GET /api/v1/join/sessions/{id}/events` | `text/event-stream`: `lobby`, `roster`, `layout` |
//! | `POST /api/v1/join/sessions/{id}/tiles` | 204 |
//! | `POST /api/v1/join/sessions/{id}/mute` | 204 |
//! | `POST /api/v1/join/sessions/{id}/lobby/{participant}/admit` / `deny` | 204 (organizer) |
//!
//! A participant grant (`Authorization: Bearer`, [`crate::grants`]) sets the browser's trust
//! class and may set its name; without one it is `anonymous`. No admin token: the session id (128 random bits, hex) is the capability for the session URLs.
//! Errors are `{"error": "<sentence>", "reason": "<word>"}`.
//!
//! Owns the mapping between these requests and the core (join, leave, lobby decisions through
//! [`AdminCommand`]s) and the peers ([`crate::webrtc`]); it decides nothing itself.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::{AdminCallError, HttpState};
use crate::calls::api::{AdminCommand, AdminError, AdminReply};
use crate::lobby::ParticipantClass;
use crate::webrtc::peer::{Peer, PeerError};
use crate::webrtc::{Session, SessionEvent};
use signaling::ice_fragment::IceFragment;

/// How long a request waits for the core.
const CORE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an event stream re-reads the roster.
const ROSTER_POLL: Duration = Duration::from_secs(1);
/// Longest display name kept.
const MAX_NAME: usize = 64;

/// The join routes (no token).
pub(super) fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/join/{tenant}/{conference}", post(join))
        .route(
            "/api/v1/join/sessions/{id}",
            axum::routing::patch(trickle).delete(leave),
        )
        .route("/api/v1/join/sessions/{id}/events", get(events))
        .route("/api/v1/join/sessions/{id}/tiles", post(tiles))
        .route("/api/v1/join/sessions/{id}/mute", post(mute))
        .route(
            "/api/v1/join/sessions/{id}/lobby/{participant}/{decision}",
            post(lobby_decision),
        )
}

/// A refusal: status, sentence, machine word.
#[derive(Debug)]
pub struct JoinError(StatusCode, String, &'static str);

impl IntoResponse for JoinError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1, "reason": self.2}))).into_response()
    }
}

fn refuse(status: StatusCode, error: impl Into<String>, reason: &'static str) -> JoinError {
    JoinError(status, error.into(), reason)
}

impl From<PeerError> for JoinError {
    fn from(e: PeerError) -> Self {
        match e {
            PeerError::BadOffer(_) => refuse(StatusCode::BAD_REQUEST, e.to_string(), "bad-offer"),
            PeerError::NoCommonCodec(_) => refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                e.to_string(),
                "no-common-codec",
            ),
            PeerError::Stack(_) => refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                e.to_string(),
                "gateway-full",
            ),
        }
    }
}

async fn core(state: &HttpState, cmd: AdminCommand) -> Result<AdminReply, JoinError> {
    match tokio::time::timeout(CORE_TIMEOUT, state.admin.call(cmd)).await {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(AdminCallError::Admin(e @ AdminError::UnknownMeeting { .. }))) => Err(refuse(
            StatusCode::NOT_FOUND,
            e.to_string(),
            "unknown-meeting",
        )),
        Ok(Err(AdminCallError::Admin(e))) => Err(refuse(
            StatusCode::NOT_FOUND,
            e.to_string(),
            "unknown-participant",
        )),
        _ => Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the gateway is busy; try again",
            "gateway-full",
        )),
    }
}

fn session_of(state: &HttpState, id: &str) -> Result<Arc<Session>, JoinError> {
    u128::from_str_radix(id, 16)
        .ok()
        .filter(|_| id.len() == 32)
        .and_then(|id| state.webrtc.sessions.get(id))
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "no such session", "unknown-session"))
}

#[derive(Deserialize)]
struct JoinQuery {
    name: Option<String>,
}

/// `POST /api/v1/join/{tenant}/{conference}`: the offer in, the answer out.
async fn join(
    State(state): State<HttpState>,
    Path((tenant, conference)): Path<(String, String)>,
    Query(query): Query<JoinQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, JoinError> {
    let offer = String::from_utf8(body.to_vec()).map_err(|_| {
        refuse(
            StatusCode::BAD_REQUEST,
            "the offer is not UTF-8 text",
            "bad-offer",
        )
    })?;
    if !offer.starts_with("v=0") {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "the body must be an SDP offer",
            "bad-offer",
        ));
    }
    let grant = match bearer(&headers) {
        Some(token) => Some(verify_grant(&state, &tenant, &conference, token).await?),
        None => None,
    };
    let name = display_name(
        grant
            .as_ref()
            .and_then(|g| g.name.as_deref())
            .or(query.name.as_deref()),
    );
    let class = grant
        .as_ref()
        .map_or(ParticipantClass::Anonymous, |g| g.class.into());
    let organizer = class == ParticipantClass::Organizer;
    let id: u128 = rand::random();
    let session = Arc::new(Session::new(
        id,
        tenant.clone(),
        conference.clone(),
        name.clone(),
        organizer,
    ));
    let (peer, answer) = Peer::answer(&state.webrtc, offer, session.clone()).await?;
    session.set_peer(peer.clone());
    state.webrtc.sessions.insert(session.clone());
    let reply = core(
        &state,
        AdminCommand::JoinWebrtc {
            tenant,
            conference,
            display_name: name,
            class,
            session: id,
        },
    )
    .await;
    let (participant, waiting) = match reply {
        Ok(AdminReply::WebrtcJoined {
            participant,
            waiting,
        }) => (participant, waiting),
        Ok(other) => {
            tracing::error!(reply = ?other, "join: unexpected reply from the core");
            forget(&state, &session).await;
            return Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "internal error",
                "gateway-full",
            ));
        }
        Err(e) => {
            forget(&state, &session).await;
            return Err(e);
        }
    };
    session.set_participant(participant);
    if waiting && session.lobby_state().is_none() {
        session.publish(SessionEvent::Lobby {
            state: "waiting",
            reason: "the meeting's lobby policy asks you to wait to be admitted".into(),
        });
    }
    let location = format!("/api/v1/join/sessions/{id:032x}");
    let mut response = (StatusCode::CREATED, answer).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/sdp"),
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    Ok(response)
}

/// The bearer token of `Authorization`, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Checks a participant grant against the tenant's signing key (read on the blocking pool) at
/// the wall clock: 401 `bad-grant` when forged, expired, for another tenant or meeting.
async fn verify_grant(
    state: &HttpState,
    tenant: &str,
    conference: &str,
    token: &str,
) -> Result<crate::grants::Grant, JoinError> {
    let bad = |why: String| refuse(StatusCode::UNAUTHORIZED, why, "bad-grant");
    let unknown = || {
        refuse(
            StatusCode::NOT_FOUND,
            format!("no tenant {tenant}"),
            "unknown-tenant",
        )
    };
    let tenant_key = signaling::TenantKey::new(tenant).map_err(|_| unknown())?;
    let conference_id = signaling::ConferenceId::new(conference)
        .map_err(|_| refuse(StatusCode::NOT_FOUND, "no such meeting", "unknown-meeting"))?;
    let lookup = tenant_key.clone();
    let key = super::db::with_directory(state, move |d| d.grant_key(&lookup))
        .await
        .map_err(|_| {
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the directory is busy; try again",
                "gateway-full",
            )
        })?
        .ok_or_else(unknown)?;
    // The binary's edge: grants expire on the wall clock.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let grant = crate::grants::verify(&key, token, &tenant_key, now)
        .map_err(|e| bad(format!("the join token is not valid: {e}")))?;
    if !grant.allows_conference(&conference_id) {
        return Err(bad("the join token is for another meeting".into()));
    }
    Ok(grant)
}

/// The display name asked for, trimmed to [`MAX_NAME`] characters without control characters.
fn display_name(asked: Option<&str>) -> String {
    let name: String = asked
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect();
    let name = name.trim();
    if name.is_empty() {
        "Guest".to_owned()
    } else {
        name.to_owned()
    }
}

/// Drops a session that never made it into the core.
async fn forget(state: &HttpState, session: &Session) {
    state.webrtc.sessions.remove(session.id);
    if let Some(peer) = session.take_peer() {
        peer.close().await;
    }
}

/// Media type of trickle-ICE fragments (RFC 8840).
const SDPFRAG: &str = "application/trickle-ice-sdpfrag";

/// `PATCH`: trickle ICE (RFC 9725 §4.3). The gateway is ICE-lite with every candidate in its
/// answer, and learns the browser's address from its connectivity checks, so candidates need
/// no action (204). New credentials restart ICE: 200 with the gateway's new fragment.
async fn trickle(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, JoinError> {
    let session = session_of(&state, &id)?;
    let typed = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim().eq_ignore_ascii_case(SDPFRAG));
    if !typed {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("a PATCH body must be {SDPFRAG}"),
            "bad-fragment",
        ));
    }
    let bad = |e: String| refuse(StatusCode::BAD_REQUEST, e, "bad-fragment");
    let text = std::str::from_utf8(&body).map_err(|_| bad("the fragment is not UTF-8".into()))?;
    let fragment = IceFragment::parse(text).map_err(|e| bad(e.to_string()))?;
    let (Some(credentials), Some(peer)) = (&fragment.credentials, session.peer()) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let current = peer.remote_ufrag().await.unwrap_or_default();
    if !fragment.is_restart(&current) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let answer = peer.restart_ice(credentials).await?;
    let mut response = (StatusCode::OK, answer).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SDPFRAG));
    Ok(response)
}

/// `DELETE`: leave.
async fn leave(
    State(state): State<HttpState>,
    Path(id): Path<String>,
) -> Result<StatusCode, JoinError> {
    let session = session_of(&state, &id)?;
    state.webrtc.sessions.remove(session.id);
    if let Some(peer) = session.take_peer() {
        peer.close().await;
    }
    if let Some(participant) = session.participant() {
        // The meeting may have ended meanwhile: leaving is done either way.
        let _ = core(
            &state,
            AdminCommand::LeaveWebrtc {
                tenant: session.tenant.clone(),
                conference: session.conference.clone(),
                participant,
            },
        )
        .await;
    }
    Ok(StatusCode::OK)
}

/// One session event as SSE.
fn sse(event: &SessionEvent) -> Event {
    match event {
        SessionEvent::Lobby { state, reason } => Event::default()
            .event("lobby")
            .data(json!({"state": state, "reason": reason}).to_string()),
        SessionEvent::Layout(slots) => {
            let slots: Vec<_> = slots
                .iter()
                .map(|(mid, who)| json!({"mid": mid, "participant": who.map(|p| p.to_string())}))
                .collect();
            Event::default()
                .event("layout")
                .data(json!({"slots": slots}).to_string())
        }
    }
}

/// `GET .../events`: lobby state first, then roster and layout as they change.
async fn events(
    State(state): State<HttpState>,
    Path(id): Path<String>,
) -> Result<Response, JoinError> {
    let session = session_of(&state, &id)?;
    let (latest, mut updates) = session.subscribe();
    let (tx, rx) = mpsc::channel::<Event>(16);
    tokio::spawn(async move {
        for event in &latest {
            if tx.send(sse(event)).await.is_err() {
                return;
            }
        }
        let mut roster = tokio::time::interval(ROSTER_POLL);
        let mut last_roster = None;
        loop {
            tokio::select! {
                update = updates.recv() => match update {
                    Ok(event) => {
                        if tx.send(sse(&event)).await.is_err() { return; }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                },
                _ = roster.tick() => {
                    let Some(event) = roster_event(&state, &session).await else { continue };
                    if last_roster.as_ref() != Some(&event) {
                        last_roster = Some(event.clone());
                        if tx.send(Event::default().event("roster").data(event)).await.is_err() {
                            return;
                        }
                    }
                }
                () = tx.closed() => return,
            }
            if state.webrtc.sessions.get(session.id).is_none() {
                return;
            }
        }
    });
    let events = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The roster as the contract's JSON (`None` when the meeting cannot be read now).
async fn roster_event(state: &HttpState, session: &Session) -> Option<String> {
    let reply = core(
        state,
        AdminCommand::ViewMeeting {
            tenant: session.tenant.clone(),
            conference: session.conference.clone(),
        },
    )
    .await
    .ok()?;
    let AdminReply::Meeting(view) = reply else {
        return None;
    };
    let me = session.participant().map(|p| p.to_string());
    let participants: Vec<_> = view
        .participants
        .iter()
        .map(|p| {
            let kind = match p.protocol {
                "sip" | "h323" => "vtc",
                other => other,
            };
            json!({
                "id": p.id,
                "name": p.display_name,
                "kind": kind,
                "muted": p.muted,
                "speaking": p.speaking,
                "self": me.as_deref() == Some(p.id.as_str()),
            })
        })
        .collect();
    let mut body = json!({"participants": participants});
    if session.organizer {
        let waiting: Vec<_> = view
            .lobby
            .iter()
            .map(|w| json!({"id": w.id, "name": w.display_name, "class": w.class.to_string()}))
            .collect();
        body["waiting"] = json!(waiting);
    }
    Some(body.to_string())
}

#[derive(Deserialize)]
struct Tile {
    mid: String,
    width: u32,
    height: u32,
}

#[derive(Deserialize)]
struct Tiles {
    tiles: Vec<Tile>,
}

/// `POST .../tiles`: the size the page shows each slot at.
async fn tiles(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, JoinError> {
    let session = session_of(&state, &id)?;
    let Tiles { tiles } = serde_json::from_slice(&body)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string(), "bad-body"))?;
    let sizes: HashMap<String, (u32, u32)> = tiles
        .into_iter()
        .map(|t| (t.mid, (t.width.min(7680), t.height.min(4320))))
        .collect();
    if let Some(peer) = session.peer() {
        peer.tiles(&sizes);
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Mute {
    audio: bool,
    #[allow(dead_code)] // Camera off stops the track in the page; nothing to do here yet.
    video: bool,
}

/// `POST .../mute`.
async fn mute(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, JoinError> {
    let session = session_of(&state, &id)?;
    let m: Mute = serde_json::from_slice(&body)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string(), "bad-body"))?;
    if let Some(peer) = session.peer() {
        peer.mute(m.audio);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST .../lobby/{participant}/admit|deny`: organizer sessions only.
async fn lobby_decision(
    State(state): State<HttpState>,
    Path((id, participant, decision)): Path<(String, String, String)>,
) -> Result<StatusCode, JoinError> {
    let session = session_of(&state, &id)?;
    if !session.organizer {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "only the organizer may admit or deny",
            "not-organizer",
        ));
    }
    let (tenant, conference, id) = (
        session.tenant.clone(),
        session.conference.clone(),
        participant,
    );
    let cmd = match decision.as_str() {
        "admit" => AdminCommand::Admit {
            tenant,
            conference,
            id,
        },
        "deny" => AdminCommand::Deny {
            tenant,
            conference,
            id,
        },
        _ => {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                "no such decision",
                "unknown-route",
            ))
        }
    };
    core(&state, cmd).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_cleaned_and_never_empty() {
        assert_eq!(display_name(Some("  Ada\u{7}  ")), "Ada");
        assert_eq!(display_name(None), "Guest");
        assert_eq!(display_name(Some("\n")), "Guest");
        assert_eq!(display_name(Some(&"x".repeat(500))).len(), MAX_NAME);
    }
}
