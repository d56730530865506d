//! Two Tessera nodes on loopback (separate databases and ports): node B runs the demo meeting
//! (8 synthetic participants) and names node A's address a cascade bridge; node A has a room
//! system (the project's UA with ffmpeg) in the same meeting and dials node B's meeting through
//! its admin API. Both SDPs carry `a=tessera-cascade:1`, so the link is a Tessera link: each
//! node's meeting view lists the other side's participants under the link (the roster INFO), the
//! link carries node B's participants stream by stream (each on its own SSRC, named in the
//! roster), so the room system's 3x3 on node A shows them as separate tiles in their own colours
//! (not one nested picture), it hears node B's meeting and never its own tone back (N-1 across
//! two nodes). Hanging the link up frees both nodes' cascade licences and empties the remote
//! lists.

use super::*;

use cascade::{bridge_trusting_server, cascade_gauges, close};
use gateway::media::engine::synthetic;

/// How long the nodes get to bring the link up and exchange rosters.
const LINK_PATIENCE: Duration = Duration::from_secs(20);

fn meeting_view(server: &Server) -> Value {
    let (status, body) = server
        .api_get(&format!("/api/v1/meetings/{TENANT}/{DEMO_MEETING}"))
        .unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Polls `server`'s meeting view until `done` holds for it (bounded); the last view.
fn view_until(server: &Server, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + LINK_PATIENCE;
    loop {
        let view = meeting_view(server);
        if done(&view) {
            return view;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {LINK_PATIENCE:?}; view {view}\nlog:\n{}",
            server.log_tail()
        );
        sleep(Duration::from_millis(200));
    }
}

fn remote(view: &Value) -> Vec<Value> {
    view["remote"].as_array().cloned().unwrap_or_default()
}

/// The `tessera_cascade_link_streams` values of `server` in `direction` (one per link).
fn link_streams(server: &Server, direction: &str) -> Vec<u64> {
    link_gauge(server, "tessera_cascade_link_streams", direction)
}

/// The values of a per-link gauge `name` of `server` in `direction` (one per link).
fn link_gauge(server: &Server, name: &str, direction: &str) -> Vec<u64> {
    let (_, text) = server.api_get("/metrics").unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with(&format!("{name}{{")) && l.contains(&format!("direction=\"{direction}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect()
}

/// How many of the demo participants' colours (`synthetic::palette`) fill tiles of `picture`'s
/// 3x3, each counted once, and the tiles' colours (sampled by median: the demo pictures have a
/// sweeping light bar and a dark block).
fn demo_tiles(picture: &Picture) -> (usize, Vec<[u8; 3]>) {
    let colours: Vec<[u8; 3]> = grid_3x3(picture)
        .into_iter()
        .map(|t| tile_colour(picture, t))
        .collect();
    let shown = (0..8)
        .map(synthetic::palette)
        .filter(|&(r, g, b)| colours.iter().any(|c| close([r, g, b], *c, 40)))
        .count();
    (shown, colours)
}

#[test]
fn two_tessera_nodes_list_each_others_participants_under_the_link_and_never_echo_audio() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let started = Instant::now();
    let mut node_b = bridge_trusting_server();
    let mut node_a = Server::start(
        false,
        &[&["tenant", "set", "--key", TENANT, "--cascade-licenses", "1"]],
    );

    // Node A dials node B's meeting.
    let cascades = format!("/api/v1/meetings/{TENANT}/{DEMO_MEETING}/cascades");
    let body = format!(
        r#"{{"uri": "sip:{TENANT}.{DEMO_MEETING}@{}", "display_name": "node-b"}}"#,
        node_b.sip
    );
    let (status, answer) = node_a.api_send("POST", &cascades, &body).unwrap();
    assert_eq!(status, 201, "{answer}");
    let deadline = Instant::now() + LINK_PATIENCE;
    let link = loop {
        let (_, body) = node_a.api_get(&cascades).unwrap();
        let links: Value = serde_json::from_str(&body).unwrap();
        if links[0]["state"] == "up" {
            break links[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "the link did not come up: {links}\nA:\n{}\nB:\n{}",
            node_a.log_tail(),
            node_b.log_tail()
        );
        sleep(Duration::from_millis(200));
    };
    assert_eq!(link["tessera"], true, "both SDPs carry the marker: {link}");

    // A room system on node A.
    let dir = tempfile::tempdir().unwrap();
    let name = "vtc-on-a";
    let mut vtc = Vtc::call(
        &node_a,
        dir.path(),
        name,
        DEMO_MEETING,
        Source {
            video: TESTSRC_720P,
            tone_hz: 1000,
            drop_video_permille: 0,
        },
    );
    vtc.wait_for_picture(&mut node_a);

    // Node B lists the room system under the link (the link is one cascade participant there).
    let b_view = view_until(&node_b, "node B lists the VTC under the link", |v| {
        remote(v).iter().any(|r| r["display_name"] == name)
    });
    let link_on_b = b_view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "cascade")
        .cloned()
        .unwrap_or_else(|| panic!("the link is not a participant on B: {b_view}"));
    let vtc_on_b = remote(&b_view)
        .into_iter()
        .find(|r| r["display_name"] == name)
        .unwrap();
    assert_eq!(vtc_on_b["via"], link_on_b["id"], "{b_view}");
    assert_eq!(vtc_on_b["kind"], "endpoint", "{b_view}");
    assert_eq!(
        remote(&b_view).len(),
        1,
        "only A's own participants: {b_view}"
    );

    // Node A lists node B's 8 demo participants under its link, and not its own room system.
    let a_view = view_until(&node_a, "node A lists B's demo participants", |v| {
        remote(v).len() == 8
    });
    assert!(
        remote(&a_view)
            .iter()
            .all(|r| r["kind"] == "synthetic" && r["display_name"] != name),
        "no echo of A's own participants: {a_view}"
    );
    assert_eq!(cascade_gauges(&node_a), ("1".into(), "1".into()));
    assert_eq!(cascade_gauges(&node_b), ("1".into(), "1".into()));

    // Stream by stream: the room system's 3x3 on A shows B's demo participants as tiles of their
    // own colours (a nested picture would put one colour, or a 3x3 of small ones, in a tile).
    let deadline = Instant::now() + LINK_PATIENCE * 2;
    let (tiles, colours) = loop {
        let (snapshot, count) = vtc.receiver().latest_snapshot();
        let seen = snapshot.as_ref().map(demo_tiles);
        if let Some((shown, colours)) = seen.clone().filter(|(shown, _)| *shown >= 6) {
            break (shown, colours);
        }
        assert!(
            Instant::now() < deadline,
            "{name}: B's participants are not separate tiles on A within {:?} ({count} \
             snapshots; last tiles {seen:?}); streams A in {:?}, B out {:?}\nA:\n{}\nB:\n{}",
            LINK_PATIENCE * 2,
            link_streams(&node_a, "in"),
            link_streams(&node_b, "out"),
            node_a.log_tail(),
            node_b.log_tail()
        );
        sleep(Duration::from_millis(500));
    };
    // B forwards its 8 participants, each on its own stream, and A receives them; B receives
    // A's room system only (never its own participants back).
    let deadline = Instant::now() + LINK_PATIENCE;
    while link_streams(&node_b, "out").first().copied().unwrap_or(0) < 6
        || link_streams(&node_a, "in").first().copied().unwrap_or(0) < 6
    {
        assert!(
            Instant::now() < deadline,
            "stream gauges: B out {:?}, A in {:?}",
            link_streams(&node_b, "out"),
            link_streams(&node_a, "in")
        );
        sleep(Duration::from_millis(200));
    }
    let streams = (link_streams(&node_b, "out"), link_streams(&node_a, "out"));
    assert!(
        streams.1.iter().all(|n| *n <= 1),
        "A forwards its room system only, never B's participants back: {streams:?}"
    );

    sleep(Duration::from_secs(6));
    node_a.assert_healthy("after 6 s over the link");
    node_b.assert_healthy("after 6 s over the link");
    // What the streams weigh: B sends what A receives (the same H.264, never re-encoded), so
    // the two rates agree within what a second's window and the gauges' timing allow.
    let rates = (
        link_gauge(&node_b, "tessera_cascade_link_bitrate_bps", "out"),
        link_gauge(&node_a, "tessera_cascade_link_bitrate_bps", "in"),
    );
    let (b_out, a_in) = (
        rates.0.first().copied().unwrap_or(0),
        rates.1.first().copied().unwrap_or(0),
    );
    assert!(
        b_out > 100_000 && a_in > 100_000 && a_in < 2 * b_out && b_out < 2 * a_in,
        "link bit rates (B out, A in): {rates:?}"
    );
    eprintln!("{name}: link bit rate B out {b_out} bit/s, A in {a_in} bit/s");
    // The link's media counters on both nodes, for the report (and a failure's diagnosis).
    let counters = format!(
        "A: {}; B: {}",
        meeting_view(&node_a)["participants"],
        meeting_view(&node_b)["participants"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["kind"] == "cascade")
            .map(|p| p["media"].to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let decoded = vtc.finish_receiving();
    vtc.hang_up(&node_a);

    // Hanging the link up on A frees both licences and empties both remote lists.
    let id = link["id"].as_str().unwrap();
    let (status, answer) = node_a
        .api_send("DELETE", &format!("{cascades}/{id}"), "")
        .unwrap();
    assert_eq!(status, 204, "{answer}");
    view_until(&node_b, "node B forgets A's participants", |v| {
        remote(v).is_empty()
    });
    assert_eq!(cascade_gauges(&node_a), ("0".into(), "0".into()));
    let deadline = Instant::now() + LINK_PATIENCE;
    while cascade_gauges(&node_b) != ("0".into(), "0".into()) {
        assert!(Instant::now() < deadline, "B's licence is not freed");
        sleep(Duration::from_millis(200));
    }

    let video = check_video(name, &decoded, (1280, 720));
    let audio = settled_audio(name, &decoded);
    let level = ffmpeg::level_db(audio);
    let own_tone = ffmpeg::tone_share(audio, 8000, 1000.0);
    assert!(
        level > -45.0,
        "{name}: node B's voices do not reach A's room system: level {level:.1} dBFS; {counters}"
    );
    assert!(
        own_tone < 0.02,
        "{name}: hears its own 1 kHz tone back over the link ({:.2} % of the power)",
        own_tone * 100.0
    );
    eprintln!(
        "{video}; {tiles} of B's participants as tiles on A ({colours:?}); streams B->A {:?}, \
         A->B {:?}; audio {level:.1} dBFS, own tone {:.2} %; {} remote on A, {} on B; {:.1} s",
        streams.0,
        streams.1,
        own_tone * 100.0,
        remote(&a_view).len(),
        remote(&b_view).len(),
        started.elapsed().as_secs_f64()
    );
}
