//! Test support shared by this crate's tests and the gateway's: feeding the octets we send to
//! Wireshark's dissectors through `text2pcap` and `tshark` (Debian package `tshark`), and the
//! check that the dissection found nothing wrong. Dev-only: compiled with the `testing`
//! feature, which nothing but dev-dependencies turns on.
//!
//! Owns the capture-and-dissect plumbing; which fields must read back is each test's.
//! Panics rather than returning errors: it runs only inside tests, where a missing tool or a
//! failed dissection is a failed test.

use std::fmt::Write as _;
use std::process::Command;

/// How the packets are wrapped for the dissector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP segments from this source port (H.225.0 on 1720, TPKT-framed).
    Tcp(u16),
    /// UDP datagrams from this source port (RAS on 1719).
    Udp(u16),
}

/// tshark's verbose dissection (`-V`) of `packets`, each one segment or datagram from the
/// given port to port 50000. `extra` is passed on (e.g. `["-d", "tcp.port==1721,h245"]` for a
/// port Wireshark has no default decode for).
#[must_use]
pub fn tshark(packets: &[Vec<u8>], transport: Transport, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut hex = String::new();
    for p in packets {
        for (i, chunk) in p.chunks(16).enumerate() {
            let _ = write!(hex, "{:06x}", i * 16);
            for b in chunk {
                let _ = write!(hex, " {b:02x}");
            }
            hex.push('\n');
        }
    }
    let (txt, pcap) = (dir.path().join("c.txt"), dir.path().join("c.pcap"));
    std::fs::write(&txt, hex).expect("write text2pcap input");
    let (flag, port) = match transport {
        Transport::Tcp(port) => ("-T", port),
        Transport::Udp(port) => ("-u", port),
    };
    let status = Command::new("text2pcap")
        .args(["-q", flag, &format!("{port},50000")])
        .arg(&txt)
        .arg(&pcap)
        .status()
        .expect("text2pcap (Debian package tshark, installed by .ci/install-deps.sh)");
    assert!(status.success(), "text2pcap failed");
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args(["-o", "tcp.desegment_tcp_streams:FALSE", "-V"])
        .args(extra)
        .output()
        .expect("tshark (installed by .ci/install-deps.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a clean dissection must not contain: malformed packets, expert warnings or errors,
/// values or extensions the dissector did not know.
pub const DISSECTION_PROBLEMS: [&str; 5] = [
    "Malformed",
    "Expert Info (Error",
    "Expert Info (Warning",
    "[Unknown",
    "unknown extension",
];

/// Panics (naming `what`) if the dissection reports any of [`DISSECTION_PROBLEMS`], or lacks
/// one of `fields`.
pub fn assert_dissection(what: &str, text: &str, fields: &[&str]) {
    for bad in DISSECTION_PROBLEMS {
        assert!(
            !text.contains(bad),
            "{what}: tshark reported {bad:?}:\n{text}"
        );
    }
    for field in fields {
        assert!(
            text.contains(field),
            "{what}: tshark did not read back {field:?}:\n{text}"
        );
    }
}
