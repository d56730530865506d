//! One meeting over three cluster nodes (`--cluster-db` on a throwaway PostgreSQL 15, each node
//! its own SQLite directory): a red room system calls node A, which becomes the meeting's home;
//! a blue one calls node B and a green one node C, which link to A by themselves (cluster links:
//! no operator, no licence). Every room system then sees both others, each on another node, and
//! hears their tones, never its own: the links carry the pictures stream by stream (never
//! re-encoded) and the home passes each edge the other edge's stream, and the N-1 audio crosses
//! the star both ways.

use super::*;

use crate::common::postgres::shared;

/// A meeting that starts without an organizer and lets everyone in.
const CLUSTER_MEETING: &str = "3000001";

/// How long the other nodes get to find the home and link to it.
const LINK_PATIENCE: Duration = Duration::from_secs(30);

fn node(url: &str, id: &str) -> Server {
    Server::start_with(
        false,
        &[&crate::common::open_meeting(TENANT, CLUSTER_MEETING)],
        &["--cluster-db", url, "--node-id", id, "--lease-secs", "3"],
    )
}

/// The meeting's view on `server`.
fn view(server: &Server) -> Value {
    let (_, body) = server
        .api_get(&format!("/api/v1/meetings/{TENANT}/{CLUSTER_MEETING}"))
        .unwrap();
    serde_json::from_str(&body).unwrap_or_default()
}

/// Whether `server`'s meeting view lists every one of `names` among the far side's participants.
fn lists_remote(server: &Server, names: &[&str]) -> bool {
    let view = view(server);
    names.iter().all(|name| {
        view["remote"]
            .as_array()
            .is_some_and(|r| r.iter().any(|p| p["display_name"] == *name))
    })
}

fn close_to(a: [u8; 3], b: [u8; 3]) -> bool {
    (0..3).all(|k| a[k].abs_diff(b[k]) <= 60)
}

#[test]
fn room_systems_on_three_cluster_nodes_see_and_hear_each_other_through_the_home() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let started = Instant::now();
    let url = shared().fresh_database();
    let mut nodes = [
        node(&url, "node-a"),
        node(&url, "node-b"),
        node(&url, "node-c"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let rooms = [
        ("room-red-on-a", "red", [255u8, 0, 0], 700.0),
        ("room-blue-on-b", "blue", [0, 0, 255], 1300.0),
        ("room-green-on-c", "lime", [0, 255, 0], 1000.0),
    ];
    let mut vtcs = Vec::new();
    for (node, (name, colour, _, tone)) in nodes.iter_mut().zip(rooms) {
        let video = format!("color=c={colour}:size=1280x720:rate=30");
        let mut vtc = Vtc::call(
            node,
            dir.path(),
            name,
            CLUSTER_MEETING,
            Source {
                video: &video,
                tone_hz: tone as u32,
                drop_video_permille: 0,
            },
        );
        // The first room system's node claims the meeting before the others' arrive.
        vtc.wait_for_picture(node);
        vtcs.push(vtc);
    }
    // B and C found A's claim and linked to it: the home lists both edges' room systems, and
    // each edge the home's and (passed on by the home) the other edge's.
    let deadline = Instant::now() + LINK_PATIENCE;
    while !(lists_remote(&nodes[0], &["room-blue-on-b", "room-green-on-c"])
        && lists_remote(&nodes[1], &["room-red-on-a", "room-green-on-c"])
        && lists_remote(&nodes[2], &["room-red-on-a", "room-blue-on-b"]))
    {
        assert!(
            Instant::now() < deadline,
            "the star did not form within {LINK_PATIENCE:?}: A {} / B {} / C {}\nA:\n{}",
            view(&nodes[0]),
            view(&nodes[1]),
            view(&nodes[2]),
            nodes[0].log_tail()
        );
        sleep(Duration::from_millis(200));
    }
    // Long enough for every picture to reach every far room system after the links came up.
    sleep(Duration::from_secs(8));
    for node in &mut nodes {
        node.assert_healthy("after 8 s of media over the cluster links");
    }
    let decoded: Vec<_> = vtcs.iter_mut().map(|v| v.finish_receiving()).collect();
    let reports: Vec<String> = vtcs.iter().map(|v| v.relay_report()).collect();
    let reports = reports.join("\n");
    for (vtc, node) in vtcs.iter_mut().zip(&nodes) {
        vtc.hang_up(node);
    }

    let mut summary = Vec::new();
    for (i, (vtc, decoded)) in vtcs.iter().zip(&decoded).enumerate() {
        let name = &vtc.name;
        summary.push(check_video(name, decoded, (1280, 720)));
        let picture = decoded.snapshot.as_ref().unwrap_or_else(|| {
            panic!(
                "{name}: no snapshot picture; receiver log:\n{}",
                decoded.log_tail()
            )
        });
        let cells: Vec<[u8; 3]> = grid_3x3(picture)
            .into_iter()
            .map(|t| tile_colour(picture, t))
            .collect();
        let audio = settled_audio(name, decoded);
        let own = rooms[i].3;
        assert!(
            ffmpeg::tone_share(audio, 8000, own) < 0.02,
            "{name}: hears its own {own} Hz tone back over the links"
        );
        for (j, (other, _, colour, tone)) in rooms.iter().enumerate() {
            if j == i {
                assert!(
                    !cells.iter().any(|c| close_to(*c, *colour)),
                    "{name} sees itself: {cells:?}"
                );
                continue;
            }
            assert!(
                cells.iter().any(|c| close_to(*c, *colour)),
                "{name} does not see {other} ({colour:?}) on another node: {cells:?}\n{reports}"
            );
            let share = ffmpeg::tone_share(audio, 8000, *tone);
            assert!(
                share > 0.1,
                "{name}: {other}'s {tone} Hz tone is only {:.1} % of what it hears \
                 (level {:.1} dBFS)\n{reports}",
                share * 100.0,
                ffmpeg::level_db(audio)
            );
        }
        summary.push(format!("{name} sees {cells:?}"));
    }
    eprintln!(
        "{}\n{reports}\n{:.1} s",
        summary.join("\n"),
        started.elapsed().as_secs_f64()
    );
}
