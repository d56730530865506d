//! SIP over TLS end to end: `tessera serve` with a throwaway certificate (rcgen) answers an
//! SDES (`RTP/SAVP` + `a=crypto`) INVITE to the demo meeting over TLS with its own keys and a
//! `sips:` Contact, and refuses the same offer over clear UDP with 488 (keys never travel in
//! clear text). The client is rustls over a blocking socket, trusting only the test's
//! certificate. Mutual TLS: a client certificate pinned by a `cert-sha256` device rule makes the
//! caller `trusted-vtc`; another certificate, or none, leaves it untrusted.

// Real processes on the wall clock: this file waits and polls, which the sans-IO crates may not.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_media_ports, free_sip_port, tail, Chunked, Launched};
use rustls::pki_types::ServerName;

const TOKEN: &str = "tls-test-token-0123456789";
const PATIENCE: Duration = Duration::from_secs(30);

struct Server {
    child: Option<Child>,
    sip: SocketAddr,
    tls: SocketAddr,
    http: SocketAddr,
    dir: tempfile::TempDir,
    cert: rustls::pki_types::CertificateDer<'static>,
}

impl Launched for Server {
    fn is_running(&mut self) -> bool {
        common::child_running(self.child.as_mut())
    }
    fn is_healthy(&self) -> bool {
        matches!(
            common::http_request(self.http, "GET", "/healthz", None, Chunked::Keep),
            Ok((200, _))
        )
    }
    fn start_log(&self) -> String {
        common::read_log(self.dir.path())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        common::kill_child(self.child.take());
    }
}

/// The gateway with the demo tenant, after the CLI runs `setup` on its database.
fn start(setup: &[&[&str]]) -> Server {
    common::start_with_retries(|| {
        let (dir, db) = common::prepare_db(setup);
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let (cert_path, key_path) = (dir.path().join("sip.crt"), dir.path().join("sip.key"));
        std::fs::write(&cert_path, cert.cert.pem()).unwrap();
        std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
        let sip = SocketAddr::from(([127, 0, 0, 1], free_sip_port()));
        let tls = SocketAddr::from(([127, 0, 0, 1], common::free_tcp_port()));
        let http = SocketAddr::from(([127, 0, 0, 1], common::free_tcp_port()));
        let rtp = common::rtp_ports(44_000, 50);
        let mut command = common::serve_command(&db, TOKEN, sip, http, &rtp);
        command
            .arg("--demo")
            .args(["--sip-tls-listen", &tls.to_string()])
            .arg("--tls-cert")
            .arg(&cert_path)
            .arg("--tls-key")
            .arg(&key_path);
        let child = common::spawn_logged(&mut command, dir.path());
        common::wait_until_healthy(
            Server {
                child: Some(child),
                sip,
                tls,
                http,
                dir,
                cert: cert.cert.der().clone(),
            },
            PATIENCE,
        )
    })
}

const KEY: &str = "YUJDZGVmZ2hpSktMbW9QUXJzVFV2d3l6MTIzNDU2";

/// An INVITE to the demo meeting offering SDES-SRTP audio.
fn invite(transport: &str, local: SocketAddr, to: SocketAddr, media_port: u16) -> String {
    invite_offering(true, transport, local, to, media_port)
}

/// An INVITE to the demo meeting offering SDES-SRTP audio, or with `srtp` false clear RTP.
fn invite_offering(
    srtp: bool,
    transport: &str,
    local: SocketAddr,
    to: SocketAddr,
    media_port: u16,
) -> String {
    let media = if srtp {
        format!(
            "m=audio {media_port} RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
             a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n"
        )
    } else {
        format!("m=audio {media_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    };
    let sdp =
        format!("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n{media}");
    let scheme = if transport == "TLS" { "sips" } else { "sip" };
    format!(
        "INVITE {scheme}:12345678.1177958860@{to} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch=z9hG4bK-tls-{media_port};rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"Room\" <{scheme}:room@{local}>;tag=t{media_port}\r\n\
         To: <{scheme}:12345678.1177958860@{to}>\r\n\
         Call-ID: tls-{media_port}@test\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <{scheme}:room@{local}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// Reads responses until a final one (status >= 200) and returns it.
fn final_response(mut read_more: impl FnMut(&mut Vec<u8>) -> bool) -> String {
    let mut bytes = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if !read_more(&mut bytes) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        for message in text.split("SIP/2.0 ").skip(1) {
            let code: u16 = message.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            if code >= 200 && message.contains("\r\n\r\n") {
                return format!("SIP/2.0 {message}");
            }
        }
    }
    panic!("no final response: {}", String::from_utf8_lossy(&bytes));
}

/// Sends `invite` (built for the connection's local address) over a new TLS connection that
/// trusts only the server's certificate, and returns the final response.
fn over_tls(server: &Server, invite: impl FnOnce(SocketAddr) -> String) -> String {
    over_tls_as(server, None, invite)
}

/// [`over_tls`], presenting `client` as the client certificate when given.
fn over_tls_as(
    server: &Server,
    client: Option<&rcgen::CertifiedKey<rcgen::KeyPair>>,
    invite: impl FnOnce(SocketAddr) -> String,
) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server.cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some(client) => {
            let key =
                rustls::pki_types::PrivatePkcs8KeyDer::from(client.signing_key.serialize_der());
            builder
                .with_client_auth_cert(vec![client.cert.der().clone()], key.into())
                .unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let connection =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let socket = TcpStream::connect(server.tls).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let local = socket.local_addr().unwrap();
    let mut tls = rustls::StreamOwned::new(connection, socket);
    tls.write_all(invite(local).as_bytes()).unwrap();
    final_response(|bytes| {
        let mut buf = [0u8; 4096];
        match tls.read(&mut buf) {
            Ok(n) if n > 0 => {
                bytes.extend_from_slice(&buf[..n]);
                true
            }
            _ => false,
        }
    })
}

#[test]
fn sdes_offer_over_tls_is_answered_with_our_keys_and_refused_over_udp() {
    let server = start(&[]);
    let answer = over_tls(&server, |local| {
        invite("TLS", local, server.tls, free_media_ports())
    });
    assert!(
        answer.starts_with("SIP/2.0 200"),
        "{answer}\nserver log:\n{}",
        tail(&server.start_log(), 40)
    );
    assert!(
        answer.contains("m=audio ") && answer.contains(" RTP/SAVP 0"),
        "{answer}"
    );
    let crypto = answer
        .lines()
        .find(|l| l.starts_with("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"))
        .unwrap_or_else(|| panic!("no a=crypto in {answer}"));
    assert!(!crypto.contains(KEY), "the gateway sends its own key");
    assert!(
        answer.contains(&format!("<sips:tessera@127.0.0.1:{}>", server.tls.port())),
        "{answer}"
    );

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let local = udp.local_addr().unwrap();
    udp.send_to(
        invite("UDP", local, server.sip, free_media_ports()).as_bytes(),
        server.sip,
    )
    .unwrap();
    let refusal = final_response(|bytes| {
        let mut buf = [0u8; 4096];
        match udp.recv(&mut buf) {
            Ok(n) => {
                bytes.extend_from_slice(&buf[..n]);
                true
            }
            Err(_) => false,
        }
    });
    assert!(refusal.starts_with("SIP/2.0 488"), "{refusal}");
    assert!(refusal.contains("Warning: 305"), "{refusal}");
}

#[test]
fn a_required_tenant_refuses_clear_rtp_over_tls_with_488_and_takes_srtp() {
    let server = start(&[&[
        "tenant",
        "set",
        "--key",
        "12345678",
        "--media-encryption",
        "required",
    ]]);
    let refusal = over_tls(&server, |local| {
        invite_offering(false, "TLS", local, server.tls, free_media_ports())
    });
    assert!(
        refusal.starts_with("SIP/2.0 488 Not Acceptable Here - media encryption required"),
        "{refusal}"
    );
    assert!(
        refusal.contains("Warning: 399 ")
            && refusal.contains("media encryption is required: offer RTP/SAVP with a=crypto"),
        "{refusal}"
    );

    let answer = over_tls(&server, |local| {
        invite("TLS", local, server.tls, free_media_ports())
    });
    assert!(
        answer.starts_with("SIP/2.0 200"),
        "{answer}\nserver log:\n{}",
        tail(&server.start_log(), 40)
    );
    assert!(answer.contains(" RTP/SAVP 0"), "{answer}");
    assert!(answer.contains("a=crypto:1 "), "{answer}");

    let (status, metrics) =
        common::http_request(server.http, "GET", "/metrics", None, Chunked::Keep).unwrap();
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            "tessera_calls_refused_total{reason=\"encryption-required\",tenant=\"12345678\"} 1"
        ),
        "{metrics}"
    );
}

/// A throwaway client certificate and the SHA-256 of its DER, as `cert-sha256` rules name it.
fn client_certificate() -> (rcgen::CertifiedKey<rcgen::KeyPair>, String) {
    use sha2::{Digest, Sha256};
    let cert = rcgen::generate_simple_self_signed(vec!["room.acme.example".into()]).unwrap();
    let fingerprint = hex::encode(Sha256::digest(cert.cert.der().as_ref()));
    (cert, fingerprint)
}

/// The classes of the room systems in the demo meeting and its lobby, sorted (the demo's
/// synthetic participants are `same-org`).
fn demo_meeting_classes(server: &Server) -> Vec<String> {
    let (status, body) = common::http_request(
        server.http,
        "GET",
        "/api/v1/meetings/12345678/1177958860",
        Some(TOKEN),
        Chunked::Keep,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut classes: Vec<String> = ["participants", "lobby"]
        .iter()
        .filter_map(|list| view[list].as_array())
        .flatten()
        .map(|p| p["class"].as_str().unwrap_or_default().to_owned())
        .filter(|class| class.ends_with("-vtc"))
        .collect();
    classes.sort();
    classes
}

#[test]
fn a_pinned_client_certificate_is_trusted_vtc_and_other_or_no_certificates_are_not() {
    let (pinned, fingerprint) = client_certificate();
    let (stranger, _) = client_certificate();
    let server = start(&[&[
        "device",
        "trust",
        "--tenant",
        "12345678",
        "--cert-sha256",
        &fingerprint,
    ]]);
    for client in [Some(&pinned), Some(&stranger), None] {
        let answer = over_tls_as(&server, client, |local| {
            invite("TLS", local, server.tls, free_media_ports())
        });
        assert!(
            answer.starts_with("SIP/2.0 200"),
            "{answer}\nserver log:\n{}",
            tail(&server.start_log(), 40)
        );
    }
    assert_eq!(
        demo_meeting_classes(&server),
        ["trusted-vtc", "untrusted-vtc", "untrusted-vtc"]
    );
}
