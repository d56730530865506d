//! Browsers over WebRTC end to end, with the Rust client on the same `webrtc` crate standing in
//! for a browser (`gateway::webrtc::client`): a real `tessera serve --demo` on loopback, the join
//! endpoint, ICE-lite, DTLS-SRTP, and the forwarded H.264 of the synthetic participants and of a
//! VTC (the test UA with ffmpeg media) decoded by the client.

// Real processes on the wall clock: this file waits and polls.
#![allow(clippy::disallowed_methods)]

mod common;
#[allow(dead_code)] // shared with media_e2e; these tests use part of it
#[path = "media_e2e/ffmpeg.rs"]
mod ffmpeg;
#[allow(dead_code)] // shared with media_e2e; these tests use part of it
#[path = "media_e2e/relay.rs"]
mod relay;
#[path = "media_e2e/server.rs"]
#[allow(dead_code)] // shared with media_e2e, which uses all of it
mod server;
#[allow(dead_code)] // shared with media_e2e; these tests use part of it
#[path = "media_e2e/vtc.rs"]
mod vtc;

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

/// A VTC's video reaches a browser as the VTC sent it: its own 1280x720 H.264, forwarded from a
/// keyframe the gateway asked the VTC for, with no transcoding (the demo's synthetic participants
/// reach the same browser as their 640x360 layer, so a 1280x720 picture can only be the VTC's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_receives_the_vtcs_own_h264_stream() {
    ffmpeg::require_ffmpeg();
    let server = Server::start(true, &[]);
    let client = Client::join(server.http, TENANT, DEMO_MEETING, "Rust Browser", true)
        .await
        .unwrap_or_else(|e| panic!("join failed: {e}\n{}", common::tail(&server.log(), 40)));
    let dir = tempfile::tempdir().unwrap();
    // The test UA and ffmpeg are blocking; this worker may block while they start.
    let mut room = tokio::task::block_in_place(|| {
        vtc::Vtc::call(
            &server,
            dir.path(),
            "room-vtc",
            DEMO_MEETING,
            vtc::Source {
                video: "testsrc2=size=1280x720:rate=30",
                tone_hz: 1000,
                drop_video_permille: 0,
            },
        )
    });
    let received = client.received.clone();
    let flowing = wait_for(Duration::from_secs(60), || {
        received.decoded_of_size((1280, 720)) >= 60
    })
    .await;
    let sizes = received.decoded_sizes.lock().unwrap().clone();
    let (_, metrics) = server.api_get("/metrics").unwrap();
    let webrtc_metrics = metrics
        .lines()
        .filter(|l| l.starts_with("tessera_webrtc") || l.starts_with("tessera_keyframes"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        flowing,
        "decoded pictures by size {sizes:?} ({} errors)\n{webrtc_metrics}\n{}",
        received.decode_errors.load(Ordering::Relaxed),
        common::tail(&server.log(), 40)
    );
    assert_eq!(
        received.decode_errors.load(Ordering::Relaxed),
        0,
        "{sizes:?}"
    );
    assert!(
        sizes.get(&(640, 360)).copied().unwrap_or(0) > 0,
        "the synthetic participants arrive as their middle layer: {sizes:?}"
    );
    // Nine slots: the eight synthetic participants and the VTC.
    assert!(
        metrics.contains("tessera_webrtc_forwarded_streams 9"),
        "{webrtc_metrics}"
    );
    tokio::task::block_in_place(|| room.hang_up(&server));
    assert_eq!(client.leave().await.unwrap(), 200);
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

/// Reads the session's event stream until `needle` appears (or `patience` runs out); returns
/// what was read.
async fn events_until(
    http: std::net::SocketAddr,
    location: &str,
    needle: &str,
    patience: Duration,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(http).await.unwrap();
    let request = format!(
        "GET {location}/events HTTP/1.1\r\nHost: {http}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + patience;
    let mut buf = [0u8; 4096];
    while !seen.contains(needle) && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(_) => {}
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_browser_waits_in_the_lobby_until_admitted_and_a_denied_one_is_told_why() {
    const MEETING: &str = "5500000";
    let server = Server::start(
        false,
        &[&[
            "meeting",
            "add",
            "--tenant",
            TENANT,
            "--conference-id",
            MEETING,
            "--who-can-bypass",
            "trusted-orgs",
        ]],
    );
    let waiting = Client::join(server.http, TENANT, MEETING, "Waiting Guest", false)
        .await
        .unwrap_or_else(|e| panic!("join failed: {e}\n{}", common::tail(&server.log(), 40)));
    let first = events_until(
        server.http,
        &waiting.location,
        "\"state\":\"waiting\"",
        Duration::from_secs(10),
    )
    .await;
    assert!(first.contains("event: lobby"), "{first}");
    let lobby = |server: &Server| -> serde_json::Value {
        let (_, view) = server
            .api_get(&format!("/api/v1/meetings/{TENANT}/{MEETING}"))
            .unwrap();
        serde_json::from_str(&view).unwrap()
    };
    let view = lobby(&server);
    let entry = &view["lobby"][0];
    assert_eq!(entry["protocol"], "webrtc", "{view}");
    assert_eq!(entry["class"], "anonymous", "{view}");
    let id = entry["id"].as_str().unwrap().to_owned();
    // The operator admits it (console and API are the same route): its page moves in.
    let (status, _) = server
        .api_post(&format!(
            "/api/v1/meetings/{TENANT}/{MEETING}/lobby/{id}/admit"
        ))
        .unwrap();
    assert_eq!(status, 204);
    let admitted = events_until(
        server.http,
        &waiting.location,
        "\"state\":\"admitted\"",
        Duration::from_secs(10),
    )
    .await;
    assert!(admitted.contains("\"state\":\"admitted\""), "{admitted}");
    let view = lobby(&server);
    assert_eq!(view["participants"][0]["protocol"], "webrtc", "{view}");
    // A second one is denied and told so.
    let denied = Client::join(server.http, TENANT, MEETING, "Denied Guest", false)
        .await
        .unwrap();
    let view = lobby(&server);
    let id = view["lobby"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = server
        .api_post(&format!(
            "/api/v1/meetings/{TENANT}/{MEETING}/lobby/{id}/deny"
        ))
        .unwrap();
    assert_eq!(status, 204);
    let told = events_until(
        server.http,
        &denied.location,
        "\"state\":\"denied\"",
        Duration::from_secs(10),
    )
    .await;
    assert!(told.contains("denied entry from the lobby"), "{told}");
    // Only an organizer's session may admit or deny.
    let (status, _, body) = http_exchange(
        server.http,
        "POST",
        &format!("{}/lobby/{id}/admit", waiting.location),
        "application/json",
        "",
    )
    .await
    .unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("not-organizer"), "{body}");
}

/// The value of the metric line starting with `name ` (or `name{labels} `) in `/metrics`.
fn metric(server: &Server, name: &str) -> f64 {
    let (_, text) = server.api_get("/metrics").unwrap();
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Sends a REMB of `bps` every 300 ms, as a browser does, until `check` holds or `patience` runs
/// out.
async fn remb_until(
    client: &Client,
    bps: u64,
    patience: Duration,
    mut check: impl FnMut() -> bool,
) -> bool {
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        client.send_remb(bps).await.unwrap();
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    check()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remb_steps_the_forwarded_layers_down_and_back_up_and_a_pli_on_a_slot_gets_its_keyframe() {
    let server = Server::start(true, &[]);
    let client = Client::join(server.http, TENANT, DEMO_MEETING, "Feedback", true)
        .await
        .unwrap_or_else(|e| panic!("join failed: {e}\n{}", common::tail(&server.log(), 40)));
    // The answer receives the camera (the offer's sendonly video, mid 1) without sending on it.
    let camera = client
        .answer
        .split("m=")
        .find(|m| m.contains("a=mid:1\r\n"))
        .expect("the camera's m-line");
    assert!(camera.contains("a=recvonly"), "{camera}");
    let received = client.received.clone();
    let sized = |size: (u32, u32)| {
        let slots = received.slots();
        slots.values().filter(|s| s.size == Some(size)).count()
    };
    // No estimate yet: every slot gets the layer that fits the default tile (640x360).
    let middle = wait_for(Duration::from_secs(40), || sized((640, 360)) == 8).await;
    assert!(
        middle,
        "{:?}\n{}",
        received.slots(),
        common::tail(&server.log(), 40)
    );
    let switches = metric(&server, "tessera_webrtc_layer_switches_total");
    // 500 kbit/s cannot carry 8 x 640x360: all step down to 320x180, at once.
    let down = remb_until(&client, 500_000, Duration::from_secs(20), || {
        sized((320, 180)) == 8
    })
    .await;
    assert!(down, "{:?}", received.slots());
    let after_down = metric(&server, "tessera_webrtc_layer_switches_total");
    assert!(after_down >= switches + 8.0, "{switches} -> {after_down}");
    // Room again: back up, but only once the higher estimate held (two seconds).
    let raised = Instant::now();
    let up = remb_until(&client, 10_000_000, Duration::from_secs(20), || {
        sized((640, 360)) == 8
    })
    .await;
    assert!(up, "{:?}", received.slots());
    assert!(
        raised.elapsed() >= Duration::from_secs(2),
        "stepped up before the estimate held: {:?}",
        raised.elapsed()
    );
    let after_up = metric(&server, "tessera_webrtc_layer_switches_total");
    assert!(after_up >= after_down + 8.0, "{after_down} -> {after_up}");
    // A PLI on one slot: that slot's source sends a keyframe each time; another slot keeps its
    // own rhythm (the synthetic pictures repeat from a keyframe every two seconds).
    let slots = received.slots();
    let mut ssrcs = slots.keys().copied();
    let (asked, other) = (ssrcs.next().unwrap(), ssrcs.next().unwrap());
    let before = metric(&server, "tessera_keyframes_requested_total{by=\"peer\"}");
    let keyframes = |ssrc: u32| received.slots()[&ssrc].keyframes;
    let (asked_0, other_0) = (keyframes(asked), keyframes(other));
    for _ in 0..10 {
        client.request_keyframe(asked).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let (asked_n, other_n) = (keyframes(asked) - asked_0, keyframes(other) - other_0);
    assert!(
        asked_n >= 7 && asked_n > other_n + 3,
        "keyframes in 4 s: {asked_n} on the slot asked, {other_n} on another"
    );
    let after = metric(&server, "tessera_keyframes_requested_total{by=\"peer\"}");
    assert!(after >= before + 10.0, "{before} -> {after}");
    assert_eq!(received.decode_errors.load(Ordering::Relaxed), 0);
    assert_eq!(client.leave().await.unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ice_restart_by_patch_gets_new_gateway_credentials_and_media_carries_on() {
    let server = Server::start(true, &[]);
    let client = Client::join(server.http, TENANT, DEMO_MEETING, "Restarter", true)
        .await
        .unwrap_or_else(|e| panic!("join failed: {e}\n{}", common::tail(&server.log(), 40)));
    let received = client.received.clone();
    let frames = || received.frames_decoded.load(Ordering::Relaxed);
    assert!(wait_for(Duration::from_secs(40), || frames() >= 30).await);
    let ufrag = |sdp: &str| {
        sdp.lines()
            .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
            .map(|u| u.trim().to_owned())
    };
    let before = ufrag(&client.answer).unwrap();
    let (status, fragment) = client.restart_ice().await.unwrap();
    assert_eq!(status, 200, "{fragment}");
    let after = ufrag(&fragment).expect("the gateway's new credentials");
    assert_ne!(before, after, "{fragment}");
    assert!(fragment.contains("a=ice-pwd:"), "{fragment}");
    assert!(fragment.contains("a=candidate:"), "{fragment}");
    assert!(fragment.contains("a=end-of-candidates"), "{fragment}");
    // Pictures keep coming over the restarted connection, and nothing failed.
    let at_restart = frames();
    assert!(
        wait_for(Duration::from_secs(20), || frames() >= at_restart + 60).await,
        "{} pictures after the restart\n{}",
        frames() - at_restart,
        common::tail(&server.log(), 30)
    );
    let (_, metrics) = server.api_get("/metrics").unwrap();
    assert!(
        !metrics.contains("tessera_webrtc_failures_total{"),
        "{metrics}"
    );
    // A plain trickle (no credentials) is 204; a malformed one is refused with a reason.
    let patch = |body: &'static str| {
        http_exchange(
            server.http,
            "PATCH",
            &client.location,
            "application/trickle-ice-sdpfrag",
            body,
        )
    };
    let (status, ..) = patch("a=mid:0\r\na=end-of-candidates\r\n").await.unwrap();
    assert_eq!(status, 204);
    let (status, _, body) = patch("a=ice-ufrag:no!\r\na=ice-pwd:x\r\n").await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("bad-fragment"), "{body}");
    assert_eq!(client.leave().await.unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browsers_speaking_and_muted_state_come_from_its_media_into_the_api_and_roster() {
    let server = Server::start(true, &[]);
    let client = Client::join(server.http, TENANT, DEMO_MEETING, "Talker", false)
        .await
        .unwrap_or_else(|e| panic!("join failed: {e}\n{}", common::tail(&server.log(), 40)));
    let me = |server: &Server| -> serde_json::Value {
        let (_, view) = server
            .api_get(&format!("/api/v1/meetings/{TENANT}/{DEMO_MEETING}"))
            .unwrap();
        let view: serde_json::Value = serde_json::from_str(&view).unwrap();
        view["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["protocol"] == "webrtc")
            .cloned()
            .unwrap_or_else(|| panic!("no webrtc participant in {view}"))
    };
    // Silent so far (its microphone sent nothing).
    let quiet = me(&server);
    assert_eq!(quiet["speaking"], false, "{quiet}");
    assert_eq!(quiet["muted"], false, "{quiet}");
    // It talks: speaking while the tone flows, in the admin view.
    let talking = {
        let client = &client;
        let talk = client.talk(Duration::from_secs(3));
        let watch = async {
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if me(&server)["speaking"] == true {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        };
        let (talked, seen) = tokio::join!(talk, watch);
        talked.unwrap();
        seen
    };
    assert!(talking, "{}", me(&server));
    // Quiet again once it stops (the detector's hangover is 300 ms; the view polls).
    let stopped = wait_for(Duration::from_secs(5), || me(&server)["speaking"] == false).await;
    assert!(stopped, "{}", me(&server));
    // Muted from the page: the view and the page's roster say so.
    assert_eq!(
        client
            .post("mute", r#"{"audio":true,"video":false}"#)
            .await
            .unwrap(),
        204
    );
    assert_eq!(me(&server)["muted"], true);
    let roster = events_until(
        server.http,
        &client.location,
        "\"muted\":true",
        Duration::from_secs(5),
    )
    .await;
    assert!(roster.contains("\"muted\":true"), "{roster}");
    // Talking while muted is not speaking.
    client.talk(Duration::from_millis(600)).await.unwrap();
    assert_eq!(me(&server)["speaking"], false);
    assert_eq!(client.leave().await.unwrap(), 200);
}
