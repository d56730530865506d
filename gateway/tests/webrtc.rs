//! Browsers over WebRTC end to end, with the Rust client on the same `webrtc` crate standing in
//! for a browser (`gateway::webrtc::client`): a real `tessera serve --demo` on loopback, the join
//! endpoint, ICE-lite, DTLS-SRTP, and the forwarded H.264 of the synthetic participants decoded
//! by the client.

// Real processes on the wall clock: this file waits and polls.
#![allow(clippy::disallowed_methods)]

mod common;
#[path = "media_e2e/server.rs"]
#[allow(dead_code)] // shared with media_e2e, which uses all of it
mod server;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gateway::webrtc::client::{http_exchange, Client};
use server::{Server, TENANT};

/// The demo meeting (8 synthetic participants).
const DEMO_MEETING: &str = "1177958860";

/// Polls `check` every 200 ms until it holds or `patience` runs out.
async fn wait_for(patience: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    check()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_joins_the_demo_meeting_and_decodes_the_forwarded_participants() {
    let server = Server::start(true, &[]);
    let client = Client::join(server.http, TENANT, DEMO_MEETING, "Rust Browser", true)
        .await
        .unwrap_or_else(|e| panic!("join failed: {e}\n{}", common::tail(&server.log(), 40)));
    assert!(client.location.starts_with("/api/v1/join/sessions/"));
    let received = client.received.clone();
    let flowing = wait_for(Duration::from_secs(40), || {
        received.frames_decoded.load(Ordering::Relaxed) >= 60
            && received.video_tracks.load(Ordering::Relaxed) >= 8
            && received.audio_packets.load(Ordering::Relaxed) >= 50
    })
    .await;
    assert!(
        flowing,
        "decoded {} pictures on {} tracks ({} errors), {} audio packets\n{}",
        received.frames_decoded.load(Ordering::Relaxed),
        received.video_tracks.load(Ordering::Relaxed),
        received.decode_errors.load(Ordering::Relaxed),
        received.audio_packets.load(Ordering::Relaxed),
        common::tail(&server.log(), 40)
    );
    assert_eq!(received.decode_errors.load(Ordering::Relaxed), 0);
    // The admin view lists the browser as a webrtc participant with live counters.
    let (status, view) = server
        .api_get(&format!("/api/v1/meetings/{TENANT}/{DEMO_MEETING}"))
        .unwrap();
    assert_eq!(status, 200);
    let view: serde_json::Value = serde_json::from_str(&view).unwrap();
    let me = view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["protocol"] == "webrtc")
        .unwrap_or_else(|| panic!("no webrtc participant in {view}"));
    assert_eq!(me["display_name"], "Rust Browser");
    assert!(me["media"]["video_tx_frames"].as_u64().unwrap() > 0, "{me}");
    assert!(
        me["media"]["audio_tx_packets"].as_u64().unwrap() > 0,
        "{me}"
    );
    // The metrics count the peer and the forwarded streams; no video was encoded for it.
    let (_, metrics) = server.api_get("/metrics").unwrap();
    assert!(metrics.contains("tessera_webrtc_peers 1"), "{metrics}");
    assert!(
        metrics.contains("tessera_webrtc_forwarded_streams 8"),
        "eight synthetic participants, eight slots: {metrics}"
    );
    assert!(
        metrics.contains("tessera_video_frames_encoded_total 0"),
        "{metrics}"
    );
    assert_eq!(client.leave().await.unwrap(), 200);
    let gone = wait_for(Duration::from_secs(10), || {
        server
            .api_get("/metrics")
            .is_ok_and(|(_, m)| m.contains("tessera_webrtc_peers 0"))
    })
    .await;
    assert!(gone, "the peer is closed after DELETE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_are_refused_with_the_contracts_reasons() {
    let server = Server::start(false, &[]);
    let (status, _, body) = http_exchange(
        server.http,
        "POST",
        &format!("/api/v1/join/{TENANT}/{DEMO_MEETING}"),
        "application/sdp",
        "not sdp",
    )
    .await
    .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"reason\":\"bad-offer\""), "{body}");
    let err = Client::join(server.http, TENANT, "999999", "x", false)
        .await
        .err()
        .expect("an unknown meeting is refused");
    assert!(err.to_string().contains("unknown-meeting"), "{err}");
    let (status, _, body) = http_exchange(
        server.http,
        "DELETE",
        "/api/v1/join/sessions/00000000000000000000000000000000",
        "text/plain",
        "",
    )
    .await
    .unwrap();
    assert_eq!(status, 404, "{body}");
}
