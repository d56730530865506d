//! Issue 14's cluster, end to end through its front door: one PostgreSQL 15 (directory, licence
//! leases and meeting homes in one database, as a real cluster shares it), three `tessera serve`
//! nodes on it (`--max-calls 5` each, `--lease-secs 3`) and Kamailio with the shipped
//! `deploy/kamailio/kamailio.cfg` in front, probing them every second. Every call goes to
//! Kamailio; where it landed is read from the nodes' admin API.
//!
//! 1. Twelve calls to one meeting whose tenant holds twelve endpoint licences: three ffmpeg room
//!    systems (red, blue, lime; one tone each) and nine voice-only test UAs sending silence. The
//!    dispatcher hashes the dial string, so they all go to one node until it is full (503 to
//!    the INVITE and to its probes), then to the next: 5 + 5 + 2, one room system on each node.
//!    The first node is the meeting's home; the others link to it, every node's meeting view
//!    lists all twelve, and each room system's decoded layout shows the other two colours.
//! 2. `kill -9` of the home: the room systems on the other nodes keep receiving pictures and
//!    sound, the dead node's licence leases lapse within the lease time (a new call, which
//!    needs one of them, is admitted), one survivor claims the meeting and the other links to
//!    it, and the two room systems again see and hear each other.
//! 3. SIGTERM of a survivor: its OPTIONS answer turns 503, Kamailio takes it out of rotation and
//!    sends the meeting's next call to the other node, while its own calls carry on until they
//!    hang up; then it exits 0.
//!
//! Needs ffmpeg, Kamailio (with `kamcmd`) and PostgreSQL 15 (`bash .ci/test.sh` installs them).
//! Waits are polls with generous bounds; nothing asserts speed beyond "within the lease time
//! plus slack" and "media keeps flowing".

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use sip_testua::link::LinkSpec;

use super::*;
use crate::common::kamailio::{Kamailio, NodeState};
use crate::common::postgres::{meeting_home, shared};
use crate::common::{self, eventually, Chunked};
use crate::server::TOKEN;
use crate::vtc::Front;

/// A meeting that starts without an organizer and lets everyone in.
const MEETING: &str = "3000001";
const NODE_IDS: [&str; 3] = ["node-a", "node-b", "node-c"];
/// Calls each node takes before it refuses (and its probes get 503).
const MAX_CALLS: usize = 5;
/// The tenant's endpoint licences: exactly the twelve calls.
const LICENCES: usize = 12;
const LEASE_SECS: u64 = 3;
/// Seconds between Kamailio's OPTIONS probes.
const PING_INTERVAL_SECS: u32 = 1;
/// How long anything that should happen by itself may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(40);
/// The room systems, in the order they call: the 1st, 6th and 11th call.
const ROOMS: [Room; 3] = [
    Room {
        name: "room-red",
        lavfi: "red",
        rgb: [255, 0, 0],
        tone: 700.0,
    },
    Room {
        name: "room-blue",
        lavfi: "blue",
        rgb: [0, 0, 255],
        tone: 1300.0,
    },
    Room {
        name: "room-lime",
        lavfi: "lime",
        rgb: [0, 255, 0],
        tone: 1000.0,
    },
];

struct Room {
    name: &'static str,
    lavfi: &'static str,
    rgb: [u8; 3],
    tone: f64,
}

// ---------------------------------------------------------------------------------------------
// The cluster

/// The shared directory: the demo tenant with twelve endpoint licences and the meeting.
fn directory(url: &str) {
    common::cli(url, &["init", "--demo"]);
    let licences = LICENCES.to_string();
    common::cli(
        url,
        &[
            "tenant",
            "set",
            "--key",
            TENANT,
            "--endpoint-licenses",
            &licences,
        ],
    );
    common::cli(url, &common::open_meeting(TENANT, MEETING));
}

fn node(url: &str, id: &str) -> Server {
    let (max_calls, lease) = (MAX_CALLS.to_string(), LEASE_SECS.to_string());
    Server::start_on(
        url,
        &[
            "--cluster-db",
            url,
            "--node-id",
            id,
            "--lease-secs",
            &lease,
            "--max-calls",
            &max_calls,
            // Every call comes from Kamailio's address.
            "--sip-limits-exempt",
            "127.0.0.0/8",
            // Long enough for the drained node's calls to end by themselves.
            "--drain-grace-secs",
            "60",
        ],
    )
}

/// The meeting's view on `server` (`Null` when it cannot be read, e.g. the node is dead).
fn view(server: &Server) -> Value {
    let path = format!("/api/v1/meetings/{TENANT}/{MEETING}");
    match server.api_get(&path) {
        Ok((200, body)) => serde_json::from_str(&body).unwrap_or_default(),
        _ => Value::Null,
    }
}

/// Names of the meeting's participants on `server` itself (not the cluster links).
fn local_names(view: &Value) -> BTreeSet<String> {
    names(&view["participants"], |p| p["kind"] != "cascade")
}

/// Names of the participants `server` lists under its cluster links (the other nodes').
fn remote_names(view: &Value) -> BTreeSet<String> {
    names(&view["remote"], |_| true)
}

fn names(list: &Value, keep: impl Fn(&Value) -> bool) -> BTreeSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|p| keep(p))
        .filter_map(|p| p["display_name"].as_str().map(str::to_owned))
        .collect()
}

/// The index of the node where `name` is a local participant, polling until one lists it.
fn node_of(nodes: &[Server], name: &str) -> usize {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found: Vec<usize> = (0..nodes.len())
            .filter(|&i| local_names(&view(&nodes[i])).contains(name))
            .collect();
        match found[..] {
            [one] => return one,
            [] if Instant::now() < deadline => sleep(Duration::from_millis(100)),
            _ => panic!("{name} is local on nodes {found:?}\n{}", logs(nodes)),
        }
    }
}

/// The meeting's home as the cluster's database has it.
fn home_in(url: &str) -> Option<String> {
    meeting_home(url, TENANT, MEETING)
}

/// Live (unexpired) licence leases of `node` in the cluster's database.
fn live_leases(url: &str, node: &str) -> i64 {
    let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
    client
        .query_one(
            "SELECT count(*) FROM licence_leases WHERE node = $1 AND expires > now()",
            &[&node],
        )
        .unwrap()
        .get(0)
}

/// INVITEs `server` refused because it was draining.
fn refused_draining(server: &Server) -> u64 {
    match common::http_request(server.http, "GET", "/metrics", Some(TOKEN), Chunked::Decode) {
        Ok((200, body)) => common::metric_value(
            &body,
            "tessera_calls_refused_total{reason=\"draining\",tenant=\"-\"} ",
        ),
        _ => 0,
    }
}

/// Each node's link stream gauges and meeting view, for failure messages.
fn link_state(nodes: &[Server]) -> String {
    let mut text = String::new();
    for (id, node) in NODE_IDS.iter().zip(nodes) {
        let metrics = match common::http_request(
            node.http,
            "GET",
            "/metrics",
            Some(TOKEN),
            Chunked::Decode,
        ) {
            Ok((200, body)) => body,
            _ => String::new(),
        };
        let streams: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with("tessera_cascade_link_streams"))
            .collect();
        text.push_str(&format!("--- {id}: {streams:?}\n{}\n", view(node)));
    }
    text
}

fn logs(nodes: &[Server]) -> String {
    let mut text = link_state(nodes);
    for (id, node) in NODE_IDS.iter().zip(nodes) {
        text.push_str(&format!(
            "--- {id} ({}) ---\n{}\n",
            node.sip,
            common::tail(&node.log(), 30)
        ));
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Voice-only callers

/// A caller without video (the test UA with an audio-only offer) sending PCMU silence every
/// 20 ms, so that the gateway hears it alive (silence for a minute ends a call) and never ranks
/// it as a speaker.
struct Phone {
    name: String,
    ua: Ua,
    stop: Arc<AtomicBool>,
    sender: Option<JoinHandle<()>>,
}

impl Phone {
    /// Calls the meeting through `front`; the error names the refusal.
    fn call(front: SocketAddr, name: &str) -> Result<Phone, String> {
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = socket.local_addr().map_err(|e| e.to_string())?.port();
        let mut ua =
            Ua::new(front, &format!("{TENANT}.{MEETING}"), name).map_err(|e| e.to_string())?;
        let sdp = ua.invite_for_sdp(&sip_testua::audio_offer(port))?;
        let to = sip_testua::parse_audio_answer(&sdp)?;
        let stop = Arc::new(AtomicBool::new(false));
        let sender = {
            let stop = stop.clone();
            std::thread::spawn(move || send_silence(&socket, to, &stop))
        };
        Ok(Phone {
            name: name.to_owned(),
            ua,
            stop,
            sender: Some(sender),
        })
    }

    fn hang_up(&mut self, nodes: &[Server]) {
        self.stop.store(true, Ordering::Relaxed);
        let status = self.ua.bye();
        assert_eq!(
            status,
            Some(200),
            "{}: BYE not answered 200\n{}",
            self.name,
            logs(nodes)
        );
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(sender) = self.sender.take() {
            let _ = sender.join();
        }
    }
}

/// RTP (PCMU, mu-law silence) to `to` every 20 ms until `stop`.
fn send_silence(socket: &UdpSocket, to: SocketAddr, stop: &AtomicBool) {
    let ssrc: u32 = rand::random();
    let mut packet = vec![0xFF_u8; 12 + 160];
    packet[0] = 0x80;
    packet[1] = 0; // PCMU
    packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
    let start = Instant::now();
    let mut n: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        packet[2..4].copy_from_slice(&(n as u16).to_be_bytes());
        packet[4..8].copy_from_slice(&n.wrapping_mul(160).to_be_bytes());
        // UDP to loopback: a lost packet is silence the gateway conceals.
        let _ = socket.send_to(&packet, to);
        n += 1;
        // Paced on the start time, so a late wake-up does not slow the stream down.
        let next = start + Duration::from_millis(20) * n;
        sleep(next.saturating_duration_since(Instant::now()));
    }
}

// ---------------------------------------------------------------------------------------------
// What the room systems decode

/// The colours of the 3x3 tiles of `vtc`'s newest complete snapshot, if there is one.
fn tiles_now(vtc: &Vtc) -> Option<Vec<[u8; 3]>> {
    let (picture, _) = vtc.receiver().latest_snapshot();
    let picture = picture?;
    Some(
        grid_3x3(&picture)
            .into_iter()
            .map(|t| tile_colour(&picture, t))
            .collect(),
    )
}

fn close_to(a: [u8; 3], b: [u8; 3]) -> bool {
    (0..3).all(|k| a[k].abs_diff(b[k]) <= 60)
}

/// Polls `vtc`'s snapshots (one a second) until a layout shows every room of `seen` and none
/// of `unseen`; panics with the last tiles otherwise.
fn wait_for_layout(vtc: &Vtc, seen: &[&Room], unseen: &[&Room], nodes: &[Server]) {
    let mut last = None;
    let shows = |tiles: &[[u8; 3]], room: &Room| tiles.iter().any(|c| close_to(*c, room.rgb));
    let ok = eventually(PATIENCE, || {
        last = tiles_now(vtc);
        last.as_deref().is_some_and(|tiles| {
            seen.iter().all(|r| shows(tiles, r)) && !unseen.iter().any(|r| shows(tiles, r))
        })
    });
    let names = |rooms: &[&Room]| rooms.iter().map(|r| r.name).collect::<Vec<_>>();
    assert!(
        ok,
        "{}: the layout does not show {:?} (nor {:?}) within {PATIENCE:?}: tiles {last:?}\n{}\n{}",
        vtc.name,
        names(seen),
        names(unseen),
        vtc.relay_report(),
        logs(nodes)
    );
}

/// `(pictures decoded, audio and video RTP packets from the gateway)` of `vtc` so far (no
/// pictures once its receiver is finished).
fn media_so_far(vtc: &Vtc) -> (usize, u64, u64) {
    (
        vtc.receiver.as_ref().map_or(0, |r| r.frames_so_far()),
        StreamStats::get(&vtc.relay.stats(Kind::Audio).from_gateway_rtp),
        StreamStats::get(&vtc.relay.stats(Kind::Video).from_gateway_rtp),
    )
}

/// Polls until `vtc` has decoded 30 more pictures and received 50 more audio packets (a second
/// of each) than `before`; panics otherwise.
fn assert_media_flows(vtc: &Vtc, before: (usize, u64, u64), when: &str, nodes: &[Server]) {
    let mut now = before;
    let flows = eventually(PATIENCE, || {
        now = media_so_far(vtc);
        now.0 >= before.0 + 30 && now.1 >= before.1 + 50
    });
    assert!(
        flows,
        "{}: media stopped {when}: (pictures, audio, video packets) {before:?} -> {now:?}\n{}\n{}",
        vtc.name,
        vtc.relay_report(),
        logs(nodes)
    );
}

// ---------------------------------------------------------------------------------------------
// The test

/// The cluster and the calls in it (each with the index of the node it landed on).
struct Scene {
    url: String,
    nodes: Vec<Server>,
    kamailio: Kamailio,
    vtcs: Vec<(Vtc, usize)>,
    phones: Vec<(Phone, usize)>,
    /// What the run measured, printed at the end.
    summary: Vec<String>,
}

#[test]
fn twelve_calls_through_kamailio_span_three_nodes_and_survive_a_killed_home_and_a_drain() {
    ffmpeg::require_ffmpeg();
    let _serial = serial();
    let started = Instant::now();
    let url = shared().fresh_database();
    directory(&url);
    let nodes: Vec<Server> = NODE_IDS.iter().map(|id| node(&url, id)).collect();
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.sip).collect();
    let kamailio = Kamailio::start(&addrs, PING_INTERVAL_SECS);
    let dir = tempfile::tempdir().unwrap();
    let mut scene = Scene {
        url,
        nodes,
        kamailio,
        vtcs: Vec::new(),
        phones: Vec::new(),
        summary: Vec::new(),
    };
    let home = place_twelve_calls(&mut scene, dir.path());
    scene.summary.push(format!(
        "every node lists the whole meeting and every room system sees the other two at {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    let survivors = kill_the_home(&mut scene, home);
    drain_a_survivor(&mut scene, &survivors);
    eprintln!(
        "{}\n{:.1} s",
        scene.summary.join("\n"),
        started.elapsed().as_secs_f64()
    );
}

/// 1. Twelve calls, one at a time (a room system first, then four phones, and so on), spread
///    over the nodes; every node lists the whole meeting, every room system sees the other two.
///    The home's index.
fn place_twelve_calls(scene: &mut Scene, dir: &std::path::Path) -> usize {
    let Scene {
        url,
        nodes,
        kamailio,
        vtcs,
        phones,
        summary,
    } = scene;
    let front = kamailio.sip;
    for call in 0..LICENCES {
        if call % MAX_CALLS == 0 {
            let room = &ROOMS[call / MAX_CALLS];
            let video = format!("color=c={}:size=1280x720:rate=30", room.lavfi);
            let all_logs = || format!("{}--- kamailio ---\n{}", logs(nodes), kamailio.log());
            let to = Front {
                sip: front,
                logs: &all_logs,
            };
            let source = Source {
                video: &video,
                tone_hz: room.tone as u32,
                drop_video_permille: 0,
            };
            let mut vtc = Vtc::call_to(to, dir, room.name, MEETING, source, LinkSpec::UNLIMITED);
            let at = node_of(nodes, room.name);
            vtc.wait_for_picture(&mut nodes[at]);
            vtcs.push((vtc, at));
        } else {
            let name = format!("phone-{call}");
            let phone = Phone::call(front, &name).unwrap_or_else(|e| {
                panic!(
                    "{name} not answered through Kamailio: {e}\n{}\n{}",
                    logs(nodes),
                    kamailio.log()
                )
            });
            let at = node_of(nodes, &name);
            phones.push((phone, at));
        }
    }
    let mut per_node = [0usize; 3];
    for at in vtcs.iter().map(|v| v.1).chain(phones.iter().map(|p| p.1)) {
        per_node[at] += 1;
    }
    let placement = format!("calls per node {per_node:?}, room systems on {:?}", {
        vtcs.iter().map(|v| v.1).collect::<Vec<_>>()
    });
    assert!(
        per_node.iter().filter(|&&n| n > 0).count() >= 2
            && per_node.iter().all(|&n| n <= MAX_CALLS),
        "{placement}"
    );
    let room_nodes: BTreeSet<usize> = vtcs.iter().map(|v| v.1).collect();
    assert_eq!(
        room_nodes.len(),
        3,
        "one room system on each node: {placement}"
    );
    let home = vtcs[0].1;
    assert!(
        eventually(PATIENCE, || home_in(url).as_deref() == Some(NODE_IDS[home])),
        "the first caller's node {} is not the home ({:?})",
        NODE_IDS[home],
        home_in(url)
    );

    // Every node's meeting view lists the whole meeting: its own callers and, under its cluster
    // links, everyone on the other nodes.
    let everyone: BTreeSet<String> = vtcs
        .iter()
        .map(|v| v.0.name.clone())
        .chain(phones.iter().map(|p| p.0.name.clone()))
        .collect();
    let whole = |server: &Server, wanted: &BTreeSet<String>| {
        let view = view(server);
        let seen: BTreeSet<String> = local_names(&view)
            .union(&remote_names(&view))
            .cloned()
            .collect();
        wanted.is_subset(&seen)
    };
    assert!(
        eventually(PATIENCE, || nodes.iter().all(|n| whole(n, &everyone))),
        "not every node lists all twelve ({placement}): {} / {} / {}\n{}",
        view(&nodes[0]),
        view(&nodes[1]),
        view(&nodes[2]),
        logs(nodes)
    );
    // Each room system's layout shows the other two (each on another node; an edge's sees the
    // other edge's through the home), not itself, though nine voice-only callers joined before
    // the last of them.
    for (i, (vtc, _)) in vtcs.iter().enumerate() {
        let others: Vec<&Room> = (0..3).filter(|&j| j != i).map(|j| &ROOMS[j]).collect();
        wait_for_layout(vtc, &others, &[&ROOMS[i]], nodes);
    }
    for node in nodes.iter_mut() {
        node.assert_healthy("with twelve calls over three nodes");
    }
    summary.push(placement);
    home
}

/// 2. kill -9 of the home: media flows on, its leases lapse, a new home is linked and the
///    survivors see and hear each other. The survivors' indices.
fn kill_the_home(scene: &mut Scene, home: usize) -> Vec<usize> {
    let Scene {
        url,
        nodes,
        kamailio,
        vtcs,
        phones,
        summary,
    } = scene;
    let front = kamailio.sip;
    let home_leases = live_leases(url, NODE_IDS[home]);
    assert_eq!(
        home_leases, MAX_CALLS as i64,
        "the home's calls hold a lease each"
    );
    let survivors: Vec<usize> = (0..3).filter(|&n| n != home).collect();
    let before: Vec<(usize, u64, u64)> = vtcs[1..].iter().map(|v| media_so_far(&v.0)).collect();
    nodes[home].kill_9();
    let died = Instant::now();
    for ((vtc, _), before) in vtcs[1..].iter().zip(before) {
        assert_media_flows(vtc, before, "when the home was killed", nodes);
    }
    // The dead node's leases lapse; then the meeting's thirteenth caller (the tenant holds
    // twelve licences, five of them on the dead node's calls) is admitted on a survivor.
    let mut refusals = Vec::new();
    let mut licensed = None;
    let admitted = eventually(
        Duration::from_secs(LEASE_SECS) + PATIENCE,
        || match Phone::call(front, "phone-after-kill") {
            Ok(phone) => {
                licensed = Some(phone);
                true
            }
            Err(e) => {
                refusals.push(e);
                false
            }
        },
    );
    let admitted_after = died.elapsed();
    assert!(
        admitted,
        "no call admitted after the kill: {refusals:?}\n{}",
        logs(nodes)
    );
    let licensed = licensed.unwrap();
    let leases_gone = live_leases(url, NODE_IDS[home]);
    assert_eq!(leases_gone, 0, "the dead node's leases are still live");
    assert!(
        admitted_after <= Duration::from_secs(LEASE_SECS + 10),
        "the dead node's licences took {admitted_after:?} to come back (lease {LEASE_SECS} s)"
    );
    let licensed_at = node_of(nodes, "phone-after-kill");
    phones.push((licensed, licensed_at));

    // A survivor claims the meeting, the other links to it, and the two room systems see and
    // hear each other again (the dead node's red is gone from their layouts).
    let reformed = eventually(Duration::from_secs(LEASE_SECS) + PATIENCE, || {
        let Some(new_home) = home_in(url) else {
            return false;
        };
        let Some(at) = survivors.iter().position(|&n| NODE_IDS[n] == new_home) else {
            return false;
        };
        let (home_node, edge) = (survivors[at], survivors[1 - at]);
        let edge_room = vtcs.iter().find(|v| v.1 == edge).unwrap().0.name.as_str();
        common::linked_from(&view(&nodes[home_node]), NODE_IDS[edge], &[edge_room])
    });
    let new_home = home_in(url);
    assert!(
        reformed,
        "no new home linked to after kill -9 (home {new_home:?}): {} / {}\n{}",
        view(&nodes[survivors[0]]),
        view(&nodes[survivors[1]]),
        logs(nodes)
    );
    let reformed_after = died.elapsed();
    wait_for_layout(&vtcs[1].0, &[&ROOMS[2]], &[&ROOMS[0]], nodes);
    wait_for_layout(&vtcs[2].0, &[&ROOMS[1]], &[&ROOMS[0]], nodes);
    // Sound over the new link: four seconds of it, then the last four seconds decoded.
    let mark: Vec<(usize, u64, u64)> = vtcs[1..].iter().map(|v| media_so_far(&v.0)).collect();
    for ((vtc, _), mark) in vtcs[1..].iter().zip(mark) {
        assert_media_flows(vtc, mark, "after the new home was linked", nodes);
    }
    sleep(Duration::from_secs(4));
    for i in [1, 2] {
        let other = &ROOMS[3 - i];
        let vtc = &mut vtcs[i].0;
        let decoded = vtc.finish_receiving();
        let audio = settled_audio(&vtc.name, &decoded);
        let last = &audio[audio.len().saturating_sub(4 * 8000)..];
        let share = |tone| ffmpeg::tone_share(last, 8000, tone);
        assert!(
            share(other.tone) > 0.1,
            "{}: {}'s tone is only {:.1} % of what it hears after the new home",
            vtc.name,
            other.name,
            share(other.tone) * 100.0
        );
        assert!(
            share(ROOMS[i].tone) < 0.02,
            "{} hears itself back",
            vtc.name
        );
        summary.push(format!(
            "{} after the kill: {:.0} % {}'s tone, {:.0} % the dead red's",
            vtc.name,
            share(other.tone) * 100.0,
            other.name,
            share(ROOMS[0].tone) * 100.0
        ));
    }
    summary.push(format!(
        "after kill -9 of the home {}: its {home_leases} leases gone and a call admitted in \
         {:.1} s ({} refused before), new home {new_home:?} linked in {:.1} s",
        NODE_IDS[home],
        admitted_after.as_secs_f64(),
        refusals.len(),
        reformed_after.as_secs_f64(),
    ));
    survivors
}

/// 3. SIGTERM of the survivor that has five calls (the other has room for the next caller): out
///    of Kamailio's rotation while its calls carry on, then it exits 0.
fn drain_a_survivor(scene: &mut Scene, survivors: &[usize]) {
    let Scene {
        nodes,
        kamailio,
        vtcs,
        phones,
        ..
    } = scene;
    let front = kamailio.sip;
    let drained = *survivors
        .iter()
        .max_by_key(|&&n| phones.iter().filter(|p| p.1 == n).count())
        .unwrap();
    let other = survivors.iter().copied().find(|&n| n != drained).unwrap();
    // It is full, so out of rotation already: one caller leaves and it is back in.
    let leaving = phones.iter().position(|p| p.1 == drained).unwrap();
    let (mut phone, _) = phones.remove(leaving);
    phone.hang_up(nodes);
    let drained_sip = nodes[drained].sip;
    assert!(
        kamailio.wait_for_state(drained_sip, NodeState::Active, PATIENCE),
        "{} with a free call slot is not back in rotation: {:?}\n{}",
        NODE_IDS[drained],
        kamailio.node_states(),
        kamailio.log()
    );
    let drained_vtc = vtcs.iter().position(|v| v.1 == drained).unwrap();
    let before = media_so_far(&vtcs[drained_vtc].0);
    nodes[drained].sigterm();
    assert!(
        kamailio.wait_for_state(drained_sip, NodeState::Inactive, PATIENCE),
        "Kamailio kept the draining {} in rotation: {:?}\n{}",
        NODE_IDS[drained],
        kamailio.node_states(),
        kamailio.log()
    );
    let next = Phone::call(front, "phone-after-drain").unwrap_or_else(|e| {
        panic!(
            "the call after the drain was not answered: {e}\n{}",
            logs(nodes)
        )
    });
    assert_eq!(node_of(nodes, "phone-after-drain"), other);
    phones.push((next, other));
    assert_eq!(
        refused_draining(&nodes[drained]),
        0,
        "Kamailio sent the draining node an INVITE"
    );
    // Its calls carry on (the room system's relay still gets pictures and sound from it).
    let vtc = &vtcs[drained_vtc].0;
    let flowing = eventually(PATIENCE, || {
        let now = media_so_far(vtc);
        now.1 >= before.1 + 150 && now.2 > before.2 + 90
    });
    assert!(
        flowing,
        "{}'s call stopped when its node began draining: {before:?} -> {:?}",
        vtc.name,
        media_so_far(vtc)
    );
    nodes[drained].assert_healthy("draining with calls up");
    // The calls end: the drained node's first, then the other's (whose cluster link into the
    // drained node, if that is the home now, goes with its last caller).
    for node in [drained, other] {
        for (vtc, at) in vtcs.iter_mut().filter(|v| v.1 == node) {
            vtc.hang_up(&nodes[*at]);
        }
        for (phone, _) in phones.iter_mut().filter(|p| p.1 == node) {
            phone.hang_up(nodes);
        }
    }
    let status = nodes[drained].wait_exit(PATIENCE);
    assert!(status.success(), "the drained node exited {status}");
}
