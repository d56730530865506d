//! The gateway dials a conference bridge into the demo meeting through the admin API
//! (`POST /api/v1/meetings/{tenant}/{conference}/cascades`). The bridge is the project's test UA
//! in its answering mode with ffmpeg behind it: it refuses the first INVITE (the gateway must
//! dial again after its back-off), answers the second, and must then get the bare, full-screen
//! picture of the current speaker while the link holds the tenant's cascade licence. A `DELETE`
//! hangs the link up: the bridge sees the BYE and the licence is free again.

use super::*;

use cascade::{assert_bare_speaker, cascade_gauges};

/// How long the bridge waits for each INVITE (the retry comes after a 1 s back-off).
const DIAL_PATIENCE: Duration = Duration::from_secs(20);

fn cascades_path() -> String {
    format!("/api/v1/meetings/{TENANT}/{DEMO_MEETING}/cascades")
}

/// The meeting's dial-out links, from `GET .../cascades`.
fn links(server: &Server) -> Value {
    let (status, body) = server.api_get(&cascades_path()).unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn a_dialled_bridge_is_redialled_after_a_refusal_gets_the_bare_speaker_and_is_hung_up_by_delete() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let started = Instant::now();
    let mut server = Server::start(
        true,
        &[&["tenant", "set", "--key", TENANT, "--cascade-licenses", "1"]],
    );
    let dir = tempfile::tempdir().unwrap();
    let name = "rmx-dialled";
    let mut bridge = Ua::answering(name).unwrap();
    let body = format!(
        r#"{{"uri": "sip:meeting@{}", "display_name": "{name}",
            "credentials": {{"username": "tessera", "password": "unused"}}}}"#,
        bridge.local_addr()
    );
    let (status, answer) = server.api_send("POST", &cascades_path(), &body).unwrap();
    assert_eq!(status, 201, "{answer}");
    let id = serde_json::from_str::<Value>(&answer).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The first INVITE is refused: the link waits and dials again.
    bridge.next_incoming(DIAL_PATIENCE).unwrap();
    bridge.refuse(486).unwrap();
    let offer = bridge
        .next_incoming(DIAL_PATIENCE)
        .unwrap_or_else(|e| panic!("not dialled again: {e}\n{}", server.log_tail()));
    let listed = links(&server);
    assert_eq!(listed[0]["id"], id.as_str(), "{listed}");
    assert_eq!(listed[0]["last_error"], "486 Busy Here", "{listed}");

    let relay = Relay::bind(0);
    let our_sdp = sip_testua::vtc_answer(
        &offer,
        relay.media_port(Kind::Audio),
        relay.media_port(Kind::Video),
    )
    .unwrap_or_else(|e| panic!("{e}; the gateway's offer:\n{offer}"));
    bridge.accept(&our_sdp).unwrap();
    // The gateway's offer is what it receives at and sends with, like an answer of ours.
    let gateway_media = sip_testua::parse_answer(&offer).unwrap();
    let mut link = Vtc::with_media(
        dir.path(),
        name,
        Some(bridge),
        relay,
        (gateway_media, crate::ffmpeg::PCMU),
        Source {
            video: "color=c=white:size=1280x720:rate=30",
            tone_hz: 1000,
            drop_video_permille: 0,
        },
    );
    link.wait_for_picture(&mut server);
    let entry = participant(&server, DEMO_MEETING, name).expect("the link in the meeting view");
    assert_eq!(entry["kind"], "cascade", "{entry}");
    assert_eq!(links(&server)[0]["state"], "up");
    assert_eq!(links(&server)[0]["participant"], entry["id"]);
    assert_eq!(cascade_gauges(&server), ("1".into(), "1".into()));

    sleep(Duration::from_secs(6));
    server.assert_healthy("after 6 s of dialled cascade media");
    let decoded = link.finish_receiving();

    let (status, answer) = server
        .api_send("DELETE", &format!("{}/{id}", cascades_path()), "")
        .unwrap();
    assert_eq!(status, 204, "{answer}");
    let ended = link
        .ua
        .as_mut()
        .unwrap()
        .wait_ended(Duration::from_secs(10));
    assert_eq!(ended, Some(signaling::ua::EndReason::RemoteBye));
    assert_eq!(
        cascade_gauges(&server),
        ("0".into(), "0".into()),
        "DELETE gives the licence back"
    );
    assert_eq!(links(&server), serde_json::json!([]));
    assert!(participant(&server, DEMO_MEETING, name).is_none());

    let video = check_video(name, &decoded, (1280, 720));
    let picture = decoded.snapshot.as_ref().expect("a snapshot picture");
    let (speaker, background) = assert_bare_speaker(name, picture);
    eprintln!(
        "{video}; one picture of demo participant {speaker} ({background:?}); {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// `tessera cascade ...` against the running server; stdout, or a panic with stderr.
fn cascade_cli(server: &Server, args: &[&str]) -> String {
    let api = server.http.to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("cascade")
        .args(args)
        .args(["--api", &api, "--admin-token", server::TOKEN])
        .args(["--tenant", TENANT, "--conference", DEMO_MEETING])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cascade {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_cascade_cli_dials_lists_and_hangs_up_a_link_of_a_running_gateway() {
    let _serial = serial();
    let server = Server::start(
        true,
        &[&["tenant", "set", "--key", TENANT, "--cascade-licenses", "1"]],
    );
    let mut bridge = Ua::answering("cli-bridge").unwrap();
    let uri = format!("sip:meeting@{}", bridge.local_addr());
    let id = cascade_cli(
        &server,
        &["dial", "--uri", &uri, "--display-name", "CLI Bridge"],
    );
    let id = id.trim();
    assert_eq!(id, "c1");
    let offer = bridge.next_incoming(DIAL_PATIENCE).unwrap();
    let (audio, video) = (relay::free_pair(), relay::free_pair());
    bridge
        .accept(&sip_testua::vtc_answer(&offer, audio, video).unwrap())
        .unwrap();

    let table = cascade_cli(&server, &["list"]);
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(
        row.starts_with("c1") && row.contains("up") && row.contains("CLI Bridge"),
        "{table}"
    );
    assert_eq!(cascade_gauges(&server).1, "1");

    assert_eq!(cascade_cli(&server, &["hangup", id]), "");
    assert_eq!(
        bridge.wait_ended(Duration::from_secs(10)),
        Some(signaling::ua::EndReason::RemoteBye)
    );
    assert_eq!(cascade_gauges(&server).1, "0", "hangup frees the licence");
    let json: Value = serde_json::from_str(&cascade_cli(&server, &["list", "--json"])).unwrap();
    assert_eq!(json, serde_json::json!([]));
}
