//! One meeting over two cluster nodes (`--cluster-db` on a throwaway PostgreSQL 15, each node its
//! own SQLite directory): a red room system calls node A, which becomes the meeting's home; a
//! blue one calls node B, which links to A by itself (a cluster link, no operator, no licence).
//! Each room system then sees the other, who is on the other node, full screen, and hears the
//! other's tone and never its own: the cluster link carries the picture stream by stream (never
//! re-encoded) and the N-1 audio both ways.

use super::*;

use crate::common::postgres::shared;

/// A meeting that starts without an organizer and lets everyone in.
const CLUSTER_MEETING: &str = "3000001";

/// How long the second node gets to find the home and link to it.
const LINK_PATIENCE: Duration = Duration::from_secs(30);

fn node(url: &str, id: &str) -> Server {
    Server::start_with(
        false,
        &[&[
            "meeting",
            "add",
            "--tenant",
            TENANT,
            "--conference-id",
            CLUSTER_MEETING,
            "--who-can-bypass",
            "everyone",
            "--anonymous-can-start",
            "on",
        ]],
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

/// Whether `server`'s meeting view lists `name` among the far side's participants.
fn lists_remote(server: &Server, name: &str) -> bool {
    view(server)["remote"]
        .as_array()
        .is_some_and(|r| r.iter().any(|p| p["display_name"] == name))
}

#[test]
fn room_systems_on_two_cluster_nodes_see_and_hear_each_other_through_the_home() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let started = Instant::now();
    let url = shared().fresh_database();
    let mut a = node(&url, "node-a");
    let mut b = node(&url, "node-b");
    let dir = tempfile::tempdir().unwrap();
    let mut red = Vtc::call(
        &a,
        dir.path(),
        "room-red-on-a",
        CLUSTER_MEETING,
        Source {
            video: "color=c=red:size=1280x720:rate=30",
            tone_hz: 700,
            drop_video_permille: 0,
        },
    );
    red.wait_for_picture(&mut a);
    let mut blue = Vtc::call(
        &b,
        dir.path(),
        "room-blue-on-b",
        CLUSTER_MEETING,
        Source {
            video: "color=c=blue:size=1280x720:rate=30",
            tone_hz: 1300,
            drop_video_permille: 0,
        },
    );
    blue.wait_for_picture(&mut b);
    // B found A's claim on the meeting and linked to it: each lists the other's room system.
    let deadline = Instant::now() + LINK_PATIENCE;
    while !(lists_remote(&a, "room-blue-on-b") && lists_remote(&b, "room-red-on-a")) {
        assert!(
            Instant::now() < deadline,
            "no cluster link within {LINK_PATIENCE:?}: A {} / B {}\nA:\n{}\nB:\n{}",
            view(&a),
            view(&b),
            a.log_tail(),
            b.log_tail()
        );
        sleep(Duration::from_millis(200));
    }
    // Long enough for both pictures to reach the far room system after the link came up.
    sleep(Duration::from_secs(8));
    a.assert_healthy("after 8 s of media over the cluster link");
    b.assert_healthy("after 8 s of media over the cluster link");
    let (dr, db) = (red.finish_receiving(), blue.finish_receiving());
    let reports = format!("{}\n{}", red.relay_report(), blue.relay_report());
    red.hang_up(&a);
    blue.hang_up(&b);

    let mut summary = Vec::new();
    for (vtc, decoded, own, other, other_colour) in [
        (&red, &dr, 700.0, 1300.0, [0u8, 0, 255]),
        (&blue, &db, 1300.0, 700.0, [255u8, 0, 0]),
    ] {
        let name = &vtc.name;
        summary.push(check_video(name, decoded, (1280, 720)));
        let picture = decoded.snapshot.as_ref().unwrap_or_else(|| {
            panic!(
                "{name}: no snapshot picture; receiver log:\n{}",
                decoded.log_tail()
            )
        });
        let seen = tile_colour(picture, (0, 0, picture.width, picture.height));
        assert!(
            (0..3).all(|k| seen[k].abs_diff(other_colour[k]) <= 60),
            "{name}: expected the room system on the other node ({other_colour:?}) full \
             screen, saw {seen:?}\n{reports}"
        );
        let audio = settled_audio(name, decoded);
        let (theirs, mine) = (
            ffmpeg::tone_share(audio, 8000, other),
            ffmpeg::tone_share(audio, 8000, own),
        );
        assert!(
            theirs > 0.3,
            "{name}: the other node's {other} Hz tone is only {:.1} % of what it hears \
             (level {:.1} dBFS)\n{reports}",
            theirs * 100.0,
            ffmpeg::level_db(audio)
        );
        assert!(
            mine < 0.02,
            "{name}: hears its own {own} Hz tone back over the link ({:.1} %)",
            mine * 100.0
        );
        summary.push(format!(
            "{name} sees {seen:?}, hears {other} Hz {:.0} %, own {own} Hz {:.2} %",
            theirs * 100.0,
            mine * 100.0
        ));
    }
    eprintln!(
        "{}\n{reports}\n{:.1} s",
        summary.join("\n"),
        started.elapsed().as_secs_f64()
    );
}
