//! baresip, a real SIP video phone, as a room system that calls the demo meeting and must
//! decode the layout: once offering H.264 packetization-mode 0 only (as older room systems do;
//! account option `video_codecs=H264` keeps baresip's first H.264 codec, mode 0), once with its
//! default offer (modes 0 and 1; the gateway answers mode 1).
//!
//! baresip will not place a call from a loopback address, so each test makes a network
//! namespace joined to this one by a veth pair with private addresses (10.213.x.1 here, .2
//! inside) that exist only on this machine, runs `tessera serve --demo` on the near end and
//! baresip inside. Nothing leaves the machine. Needs root (for `ip netns`), `ip` and baresip
//! (`.ci/install-deps.sh` installs `iproute2`, `baresip-core` and `baresip-ffmpeg`).
//!
//! What baresip decoded is read from its console: the line it prints when the first picture is
//! decoded (`video: receiving with resolution W x H`) and the receive side of its `efps=tx/rx`
//! status (frames per second decoded and displayed by its `fakevideo` display).

// Real processes on the real clock: the shared start-up helpers poll `/healthz`.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::{
    http_request, kill_child, prepare_db, read_log, rtp_ports, spawn_logged, start_with_retries,
    tail, wait_until_healthy, Chunked, Launched,
};

/// The admin token of the gateways started here.
const TOKEN: &str = "baresip-test-token-0123456789";

/// One call at a time: each runs a 720p layout encoder and baresip's decoder, and the machine
/// may have two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `ip` with `args`; panics with its stderr on failure.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("`ip` (iproute2) runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace with a veth pair to this one: `near` here, `far` inside. Removed (with
/// the pair) on drop.
struct Netns {
    name: String,
    link: String,
    near: String,
    far: String,
}

impl Netns {
    /// Namespace number `k` of this process (names and the /30 subnet are unique per process
    /// and test).
    fn new(k: u32) -> Netns {
        let tag = (std::process::id() % 10_000) * 10 + k;
        let subnet = 4 * (tag % 64);
        let ns = Netns {
            name: format!("tessera-bs{tag}"),
            link: format!("tbs{tag}"),
            near: format!("10.213.{}.{}", 100 + k, subnet + 1),
            far: format!("10.213.{}.{}", 100 + k, subnet + 2),
        };
        let peer = format!("{}p", ns.link);
        // Left over from a killed run with the same pid: start clean.
        let _ = Command::new("ip").args(["netns", "del", &ns.name]).output();
        let _ = Command::new("ip").args(["link", "del", &ns.link]).output();
        ip(&["netns", "add", &ns.name]);
        ip(&[
            "link", "add", &ns.link, "type", "veth", "peer", "name", &peer,
        ]);
        ip(&["link", "set", &peer, "netns", &ns.name]);
        ip(&["addr", "add", &format!("{}/30", ns.near), "dev", &ns.link]);
        ip(&["link", "set", &ns.link, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &ns.name, "ip"];
            all.extend_from_slice(args);
            ip(&all);
        };
        inside(&["addr", "add", &format!("{}/30", ns.far), "dev", &peer]);
        inside(&["link", "set", &peer, "up"]);
        inside(&["link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.link])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// `tessera serve --demo` on the near end of `ns`.
struct Gateway {
    child: Option<Child>,
    dir: tempfile::TempDir,
    http: SocketAddr,
    sip: SocketAddr,
}

impl Launched for Gateway {
    fn is_running(&mut self) -> bool {
        common::child_running(self.child.as_mut())
    }
    fn is_healthy(&self) -> bool {
        matches!(
            http_request(self.http, "GET", "/healthz", None, Chunked::Decode),
            Ok((200, _))
        )
    }
    fn start_log(&self) -> String {
        tail(&read_log(self.dir.path()), 40)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        kill_child(self.child.take());
    }
}

impl Gateway {
    fn start(ns: &Netns) -> Gateway {
        start_with_retries(|| {
            let (dir, db) = prepare_db(&[]);
            let sip: SocketAddr = format!("{}:5060", ns.near).parse().unwrap();
            let http: SocketAddr = format!("127.0.0.1:{}", common::free_tcp_port())
                .parse()
                .unwrap();
            let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
            command
                .arg("--db")
                .arg(&db)
                .args(["serve", "--demo", "--admin-token", TOKEN])
                .args(["--sip-listen", &sip.to_string()])
                .args(["--http-listen", &http.to_string()])
                .args(["--h323-listen", "127.0.0.1:0"])
                .args(["--public-address", &ns.near])
                .args(["--rtp-ports", &rtp_ports(43_000, 20)])
                .env_remove("TESSERA_DB")
                .env_remove("TESSERA_ADMIN_TOKEN")
                .env("TESSERA_LOG", "info");
            let child = spawn_logged(&mut command, dir.path());
            let gateway = Gateway {
                child: Some(child),
                dir,
                http,
                sip,
            };
            wait_until_healthy(gateway, Duration::from_secs(60))
        })
    }
}

/// What baresip's console showed for one call.
struct Seen {
    log: String,
}

impl Seen {
    /// The packetization mode baresip decodes with.
    fn decoder_mode(&self) -> Option<u8> {
        let line = self
            .log
            .lines()
            .find(|l| l.contains("Set video decoder: H264"))?;
        line.rsplit("packetization-mode=")
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// The size of the first decoded picture.
    fn decoded_size(&self) -> Option<(u32, u32)> {
        let rest = self.log.split("video: receiving with resolution ").nth(1)?;
        let mut parts = rest.split_whitespace();
        let w = parts.next()?.parse().ok()?;
        let _x = parts.next()?;
        let h = parts.next()?.parse().ok()?;
        Some((w, h))
    }

    /// The highest decoded frame rate of the status lines (`efps=tx/rx`).
    fn best_decoded_fps(&self) -> f64 {
        self.log
            .split("efps=")
            .skip(1)
            .filter_map(|s| {
                let rx: String = s
                    .split('/')
                    .nth(1)?
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                rx.parse::<f64>().ok()
            })
            .fold(0.0, f64::max)
    }
}

/// Writes baresip's configuration to `dir`: SIP on `far`, a 440 Hz tone as microphone, audio
/// out to a file, `fakevideo` as camera and display, and the account (`extra` appended to it).
fn baresip_config(dir: &Path, far: &str, extra: &str) {
    let config = format!(
        "poll_method\tepoll\n\
         sip_listen\t{far}:5060\n\
         audio_player\taufile,{out}\n\
         audio_alert\taufile,{alert}\n\
         audio_source\tausine,440\n\
         ausrc_srate\t48000\n\
         ausrc_channels\t2\n\
         video_source\tfakevideo,nil\n\
         video_display\tfakevideo,nil\n\
         video_size\t352x288\n\
         video_bitrate\t300000\n\
         video_fps\t10\n\
         module_path\t/usr/lib/baresip/modules\n\
         module\tstdio.so\n\
         module\tg711.so\n\
         module\tausine.so\n\
         module\taufile.so\n\
         module\tavcodec.so\n\
         module\tfakevideo.so\n\
         module_app\taccount.so\n\
         module_app\tmenu.so\n",
        out = dir.join("heard.wav").display(),
        alert = dir.join("alert.wav").display(),
    );
    fs::write(dir.join("config"), config).unwrap();
    fs::write(
        dir.join("accounts"),
        format!("<sip:room@{far}>;regint=0{extra}\n"),
    )
    .unwrap();
}

/// Calls the demo meeting from baresip in a fresh namespace (account options `extra`) for
/// `seconds`, and returns what its console showed.
fn call_from_baresip(k: u32, extra: &str, seconds: u32) -> Seen {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let ns = Netns::new(k);
    let gateway = Gateway::start(&ns);
    let dir = tempfile::tempdir().unwrap();
    baresip_config(dir.path(), &ns.far, extra);
    let log = fs::File::create(dir.path().join("baresip.log")).unwrap();
    let dial = format!("/dial sip:12345678.1177958860@{}", gateway.sip);
    // baresip quits by itself after `seconds` (-t); `timeout` only ends a hung one.
    let bound = (seconds + 60).to_string();
    let status = Command::new("ip")
        .args([
            "netns", "exec", &ns.name, "timeout", &bound, "baresip", "-f",
        ])
        .arg(dir.path())
        .args(["-e", &dial, "-t", &seconds.to_string()])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .expect("baresip (baresip-core) runs");
    let log = fs::read_to_string(dir.path().join("baresip.log")).unwrap_or_default();
    assert!(
        log.contains("Call established"),
        "baresip ({status}): its call was not established\nbaresip:\n{}\ngateway:\n{}",
        tail(&log, 30),
        gateway.start_log()
    );
    assert!(
        !log.contains("session closed"),
        "baresip's call failed\nbaresip:\n{}\ngateway:\n{}",
        tail(&log, 30),
        gateway.start_log()
    );
    Seen { log }
}

#[test]
fn baresip_offering_only_packetization_mode_0_decodes_the_layout() {
    let seen = call_from_baresip(0, ";video_codecs=H264", 15);
    let context = tail(&seen.log, 20);
    assert_eq!(seen.decoder_mode(), Some(0), "{context}");
    assert_eq!(seen.decoded_size(), Some((1280, 720)), "{context}");
    let fps = seen.best_decoded_fps();
    assert!(fps >= 5.0, "decoded {fps} frames/s\n{context}");
}

#[test]
fn baresip_with_its_default_offer_decodes_the_layout_in_mode_1() {
    let seen = call_from_baresip(1, "", 15);
    let context = tail(&seen.log, 20);
    assert_eq!(seen.decoder_mode(), Some(1), "{context}");
    assert_eq!(seen.decoded_size(), Some((1280, 720)), "{context}");
    let fps = seen.best_decoded_fps();
    assert!(fps >= 5.0, "decoded {fps} frames/s\n{context}");
}
