//! `tessera cascade dial|list|hangup`: dial-out cascade links live in a running gateway, so these
//! commands are a small client of its admin API (`/api/v1/meetings/{tenant}/{conference}/
//! cascades`), authenticated with the operator token.
//!
//! Owns the HTTP round trip and the printing; dialling, retries and licences are the gateway's.
//! It must not open the directory (only the token file beside it is read).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use super::output::{print_json, print_table};
use super::{CascadeCommand, CascadeMeeting};
use crate::http::token::token_file_path;

/// How long one request may take (connect, answer) before the command gives up.
const PATIENCE: Duration = Duration::from_secs(10);

/// Runs one cascade command against the gateway at `--api`.
pub(super) fn run(db: &Path, command: CascadeCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        CascadeCommand::Dial(a) => {
            let mut body = json!({ "uri": a.uri });
            if let Some(name) = a.display_name {
                body["display_name"] = json!(name);
            }
            if let (Some(username), Some(password)) = (a.username, a.password) {
                body["credentials"] = json!({ "username": username, "password": password });
            }
            let answer = call(db, &a.meeting, Method::POST, "", Some(body))?;
            if a.meeting.json {
                return print_json(out, &answer);
            }
            writeln!(out, "{}", answer["id"].as_str().unwrap_or_default())?;
            Ok(())
        }
        CascadeCommand::List(a) => {
            let links = call(db, &a, Method::GET, "", None)?;
            if a.json {
                return print_json(out, &links);
            }
            let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
            let rows: Vec<Vec<String>> = links
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|l| {
                    vec![
                        text(&l["id"]),
                        text(&l["state"]),
                        text(&l["display_name"]),
                        text(&l["uri"]),
                        text(&l["participant"]),
                        l["failures"].to_string(),
                        text(&l["last_error"]),
                    ]
                })
                .collect();
            print_table(
                out,
                &[
                    "ID",
                    "STATE",
                    "NAME",
                    "URI",
                    "PARTICIPANT",
                    "FAILURES",
                    "LAST ERROR",
                ],
                &rows,
            )
        }
        CascadeCommand::Hangup(a) => {
            call(db, &a.meeting, Method::DELETE, &format!("/{}", a.id), None)?;
            Ok(())
        }
    }
}

/// One request to `.../cascades{suffix}`; the JSON answer (`null` for 204), or the API's
/// error in words.
fn call(
    db: &Path,
    meeting: &CascadeMeeting,
    method: Method,
    suffix: &str,
    body: Option<Value>,
) -> Result<Value> {
    let token = match &meeting.admin_token {
        Some(token) => token.clone(),
        None => {
            let path = token_file_path(db);
            std::fs::read_to_string(&path)
                .with_context(|| {
                    format!(
                        "no --admin-token and cannot read the token file {}",
                        path.display()
                    )
                })?
                .trim()
                .to_owned()
        }
    };
    let path = format!(
        "/api/v1/meetings/{}/{}/cascades{suffix}",
        meeting.tenant, meeting.conference
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let request = async {
        let stream = tokio::net::TcpStream::connect(meeting.api).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(&path)
            .header("host", meeting.api.to_string())
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, bytes))
    };
    let (status, bytes) = runtime
        .block_on(async { tokio::time::timeout(PATIENCE, request).await })
        .with_context(|| format!("the gateway at {} did not answer in time", meeting.api))?
        .with_context(|| format!("cannot reach the gateway's admin API at {}", meeting.api))?;
    let answer: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .with_context(|| format!("the gateway answered {status} with no JSON"))?
    };
    if status.is_success() {
        return Ok(answer);
    }
    let error = answer["error"].as_str().unwrap_or("no reason given");
    if status == StatusCode::UNAUTHORIZED {
        bail!("the gateway refused the token: {error}");
    }
    bail!("{status}: {error}")
}
