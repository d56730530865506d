//! A generic conference bridge cascading into the demo meeting: the project's test UA with
//! ffmpeg behind it, calling from an address the tenant names as a bridge (`device trust
//! --cascade`). It must get one bare, full-screen picture of the current speaker (a demo
//! participant's own background colour edge to edge: no 3x3, no tile rings), hold the tenant's
//! one cascade licence (metrics and meeting view), and a second bridge must get 486.

use super::*;

use gateway::media::engine::synthetic;

/// `tessera_cascades_active` and the cascade licences in use, from `/metrics`.
pub(super) fn cascade_gauges(server: &Server) -> (String, String) {
    let (_, text) = server.api_get("/metrics").unwrap();
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .unwrap_or("absent")
            .to_owned()
    };
    (
        value(&format!("tessera_cascades_active{{tenant=\"{TENANT}\"}}")),
        value(&format!(
            "tessera_licenses_in_use{{kind=\"cascade\",tenant=\"{TENANT}\"}}"
        )),
    )
}

/// A demo server whose tenant names loopback (every test peer) a conference bridge and has one
/// cascade licence.
pub(super) fn bridge_trusting_server() -> Server {
    Server::start(
        true,
        &[
            &[
                "device",
                "trust",
                "--tenant",
                TENANT,
                "--cidr",
                "127.0.0.1/32",
                "--cascade",
            ],
            &["tenant", "set", "--key", TENANT, "--cascade-licenses", "1"],
        ],
    )
}

/// The median colour along a line of the picture from (x0, y0) to (x1, y1), 41 points.
fn line_colour(picture: &Picture, (x0, y0): (u32, u32), (x1, y1): (u32, u32)) -> [u8; 3] {
    let points = (0..=40u32).map(|i| (x0 + (x1 - x0) * i / 40, y0 + (y1 - y0) * i / 40));
    median_colour(picture, points)
}

pub(super) fn close(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    (0..3).all(|k| a[k].abs_diff(b[k]) <= tolerance)
}

#[test]
fn a_bridge_gets_the_current_speaker_bare_and_full_screen_and_holds_the_cascade_licence() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let started = Instant::now();
    let mut server = bridge_trusting_server();
    let dir = tempfile::tempdir().unwrap();
    let name = "rmx-bridge";
    let mut bridge = Vtc::call(
        &server,
        dir.path(),
        name,
        DEMO_MEETING,
        Source {
            video: "color=c=white:size=1280x720:rate=30",
            tone_hz: 1000,
            drop_video_permille: 0,
        },
    );
    bridge.wait_for_picture(&mut server);
    let entry = participant(&server, DEMO_MEETING, name).expect("the bridge in the meeting view");
    assert_eq!(entry["kind"], "cascade", "{entry}");
    assert_eq!(cascade_gauges(&server), ("1".into(), "1".into()));

    // A second bridge: beyond the tenant's one cascade licence.
    let mut second = Ua::new(server.sip, &format!("{TENANT}.{DEMO_MEETING}"), "rmx-2").unwrap();
    let refused = second
        .invite(&sip_testua::vtc_offer(
            relay::free_pair(),
            relay::free_pair(),
        ))
        .expect_err("a second bridge beyond the cascade licence is refused");
    assert!(refused.contains("486"), "{refused}");

    sleep(Duration::from_secs(6));
    server.assert_healthy("after 6 s of cascade media");
    let decoded = bridge.finish_receiving();
    bridge.hang_up(&server);
    assert_eq!(
        cascade_gauges(&server),
        ("0".into(), "0".into()),
        "the BYE gives the licence back"
    );

    let video = check_video(name, &decoded, (1280, 720));
    let picture = decoded.snapshot.as_ref().expect("a snapshot picture");
    let (speaker, background) = assert_bare_speaker(name, picture);
    eprintln!(
        "{video}; one picture of demo participant {speaker} ({background:?}); {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Checks that `picture` is one demo participant's picture edge to edge, bare (no 3x3, no tile
/// rings): returns which participant (its palette index) and its background colour.
pub(super) fn assert_bare_speaker(name: &str, picture: &Picture) -> (usize, [u8; 3]) {
    let (w, h) = (picture.width, picture.height);
    // One picture edge to edge: the nine thirds of the canvas share one background colour...
    let cells: Vec<[u8; 3]> = grid_3x3(picture)
        .into_iter()
        .map(|t| tile_colour(picture, t))
        .collect();
    let distinct = distinct_colours(&cells, 40);
    assert_eq!(
        distinct.len(),
        1,
        "{name}: not one full-screen picture: {cells:?}"
    );
    let background = distinct[0];
    // ...which is one of the demo participants' (the speaker's), never the bridge's own white...
    let speaker = (0..8)
        .map(synthetic::palette)
        .position(|(r, g, b)| close([r, g, b], background, 40))
        .unwrap_or_else(|| panic!("{name}: {background:?} is no demo participant's colour"));
    // ...and nothing is drawn where tile rings or a 3x3's edges would be. The speaker's own
    // picture has one light bar sweeping across (see `synthetic::Synthetic::video_at`): it may
    // cover one of the vertical lines, never two (they are 400 px apart, the bar is 48 px wide),
    // while rings or a 3x3 would show on all of them.
    let horizontal = [((1, 4), (w - 2, 4)), ((4, h / 3), (w - 4, h / 3))];
    let vertical = [
        ((4, 1), (4, h - 2)),
        ((w / 3, 4), (w / 3, h - 4)),
        ((2 * w / 3, 4), (2 * w / 3, h - 4)),
    ];
    for (from, to) in horizontal {
        let along = line_colour(picture, from, to);
        assert!(
            close(along, background, 40),
            "{name}: a line {from:?}-{to:?} is {along:?}, not the speaker's {background:?}"
        );
    }
    let off: Vec<_> = vertical
        .into_iter()
        .map(|(from, to)| (from, to, line_colour(picture, from, to)))
        .filter(|(_, _, along)| !close(*along, background, 40))
        .collect();
    let bar = [240, 240, 240];
    assert!(
        off.len() <= 1 && off.iter().all(|(_, _, along)| close(*along, bar, 30)),
        "{name}: vertical lines {off:?} are not the speaker's {background:?} (nor its one sweeping bar)"
    );
    (speaker, background)
}
