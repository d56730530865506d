//! baresip, a real SIP video phone, as a room system that calls the demo meeting and must
//! decode the layout: once offering H.264 packetization-mode 0 only (as older room systems do;
//! account option `video_codecs=H264` keeps baresip's first H.264 codec, mode 0), once with its
//! default offer (modes 0 and 1; the gateway answers mode 1), and once over TLS with mandatory
//! SDES-SRTP (`mediaenc=srtp-mand`), with a throwaway certificate baresip trusts (`sip_cafile`).
//! tshark captures the veth during every call: the clear call shows SIP and H.264 NAL headers,
//! the encrypted one only TLS and SRTP.
//!
//! baresip will not place a call from a loopback address, so each test makes a network
//! namespace joined to this one by a veth pair with private addresses (10.213.x.1 here, .2
//! inside) that exist only on this machine, runs `tessera serve --demo` on the near end and
//! baresip inside. Nothing leaves the machine. Needs root (for `ip netns`), `ip` and baresip
//! and tshark (`.ci/install-deps.sh` installs `iproute2`, `baresip-core`, `baresip-ffmpeg` and
//! `tshark`).
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
    /// The TLS listener and the PEM of its throwaway certificate, when started with TLS.
    tls: Option<(SocketAddr, String)>,
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
    /// Started with `tls`, it also listens for SIP over TLS on port 5061 with a throwaway
    /// certificate for the near address.
    fn start(ns: &Netns, tls: bool) -> Gateway {
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
            let tls = tls.then(|| {
                let cert = rcgen::generate_simple_self_signed(vec![ns.near.clone()]).unwrap();
                let (cert_path, key_path) =
                    (dir.path().join("sip.crt"), dir.path().join("sip.key"));
                fs::write(&cert_path, cert.cert.pem()).unwrap();
                fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
                let addr: SocketAddr = format!("{}:5061", ns.near).parse().unwrap();
                command
                    .args(["--sip-tls-listen", &addr.to_string()])
                    .arg("--tls-cert")
                    .arg(&cert_path)
                    .arg("--tls-key")
                    .arg(&key_path);
                (addr, cert.cert.pem())
            });
            let child = spawn_logged(&mut command, dir.path());
            let gateway = Gateway {
                child: Some(child),
                dir,
                http,
                sip,
                tls,
            };
            wait_until_healthy(gateway, Duration::from_secs(60))
        })
    }
}

/// What baresip's console showed for one call.
struct Seen {
    log: String,
    /// What tshark saw on the veth.
    capture: Capture,
}

/// A summary of tshark's capture on the namespace's veth during a call.
struct Capture {
    /// Frames tshark dissects as SIP (clear-text signalling).
    sip_frames: usize,
    /// Frames it dissects as TLS.
    tls_frames: usize,
    /// Every UDP payload (RTP, RTCP: SRTP and SRTCP when encrypted).
    udp_payloads: Vec<Vec<u8>>,
}

impl Capture {
    /// Starts tshark on `link`, writing to `pcap`; returns once it captures.
    fn start(link: &str, pcap: &Path, log: &Path) -> Child {
        let out = fs::File::create(log).unwrap();
        let mut child = Command::new("tshark")
            .args(["-i", link, "-q", "-w"])
            .arg(pcap)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("tshark runs");
        for _ in 0..200 {
            if fs::read_to_string(log).is_ok_and(|l| l.contains("Capturing on")) {
                return child;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "tshark did not start: {}",
            fs::read_to_string(log).unwrap_or_default()
        );
    }

    /// Stops tshark (SIGINT: it finishes the file) and reads the capture.
    fn stop(mut tshark: Child, pcap: &Path) -> Capture {
        let _ = Command::new("kill")
            .args(["-INT", &tshark.id().to_string()])
            .status();
        let _ = tshark.wait();
        let fields = |filter: &str, field: &str| -> Vec<String> {
            let out = Command::new("tshark")
                .arg("-r")
                .arg(pcap)
                .args(["-Y", filter, "-T", "fields", "-e", field])
                .stderr(Stdio::null())
                .output()
                .expect("tshark reads its capture");
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned)
                .collect()
        };
        Capture {
            sip_frames: fields("sip", "frame.number").len(),
            tls_frames: fields("tls", "frame.number").len(),
            udp_payloads: fields("udp", "udp.payload")
                .iter()
                .filter_map(|hex| hex::decode(hex.replace(':', "")).ok())
                .collect(),
        }
    }

    /// The share of UDP payloads that read as RTP carrying an H.264 FU-A, STAP-A or single NAL
    /// unit with a plausible header: in clear video nearly all of them, in SRTP chance (~5%).
    fn h264_looking_share(&self) -> f64 {
        let looks_like_h264 = |p: &&Vec<u8>| {
            p.len() > 100
                && p[0] >> 6 == 2
                && p[0] & 0x1f == 0
                && p[12] & 0x80 == 0
                && matches!(p[12] & 0x1f, 1 | 5 | 7 | 8 | 24 | 28)
        };
        let big: Vec<_> = self.udp_payloads.iter().filter(|p| p.len() > 100).collect();
        big.iter().copied().filter(looks_like_h264).count() as f64 / big.len().max(1) as f64
    }
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
fn baresip_config(dir: &Path, far: &str, extra: &str, tls_ca: Option<&str>) {
    let mut config = format!(
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
    if let Some(ca) = tls_ca {
        fs::write(dir.join("ca.pem"), ca).unwrap();
        config.push_str(&format!(
            "sip_cafile\t{}\nmodule\tsrtp.so\n",
            dir.join("ca.pem").display()
        ));
    }
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
    call(k, extra, seconds, false)
}

/// As [`call_from_baresip`], over TLS (`sips:`) when `tls`.
fn call(k: u32, extra: &str, seconds: u32, tls: bool) -> Seen {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let ns = Netns::new(k);
    let gateway = Gateway::start(&ns, tls);
    let dir = tempfile::tempdir().unwrap();
    baresip_config(
        dir.path(),
        &ns.far,
        extra,
        gateway.tls.as_ref().map(|(_, ca)| ca.as_str()),
    );
    let pcap = dir.path().join("veth.pcap");
    let tshark = Capture::start(&ns.link, &pcap, &dir.path().join("tshark.log"));
    let log = fs::File::create(dir.path().join("baresip.log")).unwrap();
    let dial = match &gateway.tls {
        Some((addr, _)) => format!("/dial 12345678.1177958860@{addr};transport=tls"),
        None => format!("/dial sip:12345678.1177958860@{}", gateway.sip),
    };
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
    let capture = Capture::stop(tshark, &pcap);
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
    Seen { log, capture }
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
    // The clear call the encrypted one is compared with: here the capture sees SIP and H.264.
    assert!(seen.capture.sip_frames > 0);
    let share = seen.capture.h264_looking_share();
    assert!(
        share > 0.5,
        "only {share:.2} of clear media looks like H.264"
    );
    assert_eq!(seen.decoded_size(), Some((1280, 720)), "{context}");
    let fps = seen.best_decoded_fps();
    assert!(fps >= 5.0, "decoded {fps} frames/s\n{context}");
}

#[test]
fn baresip_over_tls_with_mandatory_srtp_gets_encrypted_video_and_audio_both_ways() {
    let seen = call(2, ";mediaenc=srtp-mand", 15, true);
    let context = tail(&seen.log, 30);
    assert!(seen.log.contains("SRTP is Enabled"), "{context}");
    assert_eq!(seen.decoded_size(), Some((1280, 720)), "{context}");
    let fps = seen.best_decoded_fps();
    assert!(fps >= 5.0, "decoded {fps} frames/s\n{context}");
    let capture = seen.capture;
    assert_eq!(capture.sip_frames, 0, "clear SIP on the wire");
    assert!(capture.tls_frames > 0, "no TLS on the wire");
    // Both directions' media: the layout to baresip, baresip's camera and tone to us.
    assert!(
        capture.udp_payloads.len() > 500,
        "{}",
        capture.udp_payloads.len()
    );
    let share = capture.h264_looking_share();
    assert!(
        share < 0.15,
        "{share:.2} of the media looks like clear H.264"
    );
}
