//! The lobby console in a real headless Chromium: a real `tessera serve --demo` (temporary
//! database, free ports, fixed admin token), a lobby meeting made with the CLI, a SIPp call that
//! waits in its lobby, and Chromium driven through ChromeDriver's W3C WebDriver HTTP API: sign in,
//! open the meeting, see the caller waiting, click Admit, see them among the participants; then
//! the test removes the caller through the API and the page must follow on its own (only the
//! event stream can tell it).
//!
//! Screenshots land in `$CARGO_TARGET_TMPDIR/console/` (`lobby.png` before Admit,
//! `admitted.png` after), kept after the run so a person can look at the page.
//!
//! Needs `sipp` (Debian `sip-tester`), `chromium` and `chromedriver` (Debian `chromium`,
//! `chromium-driver`); `bash .ci/test.sh` installs them. Without them this test fails, it never
//! passes silently. Every wait is bounded and generous: a loaded two-core machine must pass.

// Real processes on the wall clock: this file waits and polls, which the sans-IO crates may not.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{free_media_ports, free_sip_port, free_tcp_port, tail, Launched};
use serde_json::{json, Value};

/// The admin token the server runs with and the page signs in with.
const TOKEN: &str = "console-e2e-token-0123456789abcdef";
/// The demo tenant, and the lobby meeting the test creates in it.
const TENANT: &str = "12345678";
const CONFERENCE: &str = "2000000";
/// How long anything may take before the test gives up.
const PATIENCE: Duration = Duration::from_secs(30);
/// The WebDriver name of an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

#[test]
fn operator_admits_a_waiting_sipp_caller_from_the_console_in_chromium() {
    let sipp = require_tool("sipp", "sip-tester");
    let chromium = require_tool("chromium", "chromium");
    let chromedriver = require_tool("chromedriver", "chromium-driver");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console");
    fs::create_dir_all(&shots).unwrap();
    for old in ["lobby.png", "admitted.png", "failure.png"] {
        let _ = fs::remove_file(shots.join(old));
    }

    let server = Server::start();
    let caller = Process::spawn(
        "sipp",
        Command::new(&sipp)
            .current_dir(server.dir.path())
            .args(["-sn", "uac", "-s"])
            .arg(format!("{TENANT}.{CONFERENCE}"))
            .arg(server.sip.to_string())
            .args(["-m", "1", "-d", "30000", "-i", "127.0.0.1", "-p"])
            .arg(free_sip_port().to_string())
            .args(["-mp", &free_media_ports().to_string()])
            .args(["-timeout", "60s", "-nostdin"]),
        &server.dir.path().join("sipp.log"),
    );

    // The call must be waiting before the browser looks (the API is the reference).
    let waiting = wait_for("the SIPp caller in the lobby (API)", || {
        let view = server.meeting();
        let entry = view["lobby"].as_array()?.first()?.clone();
        Some((
            entry["id"].as_str()?.to_owned(),
            entry["display_name"].as_str()?.to_owned(),
        ))
    });
    let (id, name) = waiting.unwrap_or_else(|| {
        panic!(
            "no caller reached the lobby; sipp:\n{}\nserver:\n{}",
            caller.output(),
            server.log_tail()
        )
    });

    let driver = ChromeDriver::start(&chromedriver, &chromium, server.dir.path());
    let page = Page {
        driver: &driver,
        server: &server,
        shots: &shots,
    };
    let console = format!("http://{}/console/", server.http);
    driver.post("/url", json!({ "url": console }));

    // Sign in with the token.
    let token_field = page.find("#token");
    driver.post(
        &format!("/element/{token_field}/value"),
        json!({ "text": TOKEN }),
    );
    page.click("#sign-in");
    // The page keeps the token only once the gateway accepted it (an API round trip away).
    page.wait_until(
        "the token to be kept in sessionStorage",
        &format!("return sessionStorage.getItem('tessera.console.token') === '{TOKEN}'"),
    );

    // Open the meeting from the live list.
    let item =
        format!("button.meeting-item[data-tenant='{TENANT}'][data-conference='{CONFERENCE}']");
    page.wait_until(
        "the meeting in the live list",
        &format!("return !!document.querySelector(\"{item}\")"),
    );
    page.click(&item);

    // The caller waits in the lobby, under their name.
    let lobby_row = format!("#lobby-list li[data-id='{id}']");
    page.wait_until(
        "the caller in the page's lobby list",
        &format!("return !!document.querySelector(\"{lobby_row}\")"),
    );
    assert_eq!(page.text(&format!("{lobby_row} .name")), name);
    // Its row says how it called, as participant rows do.
    let meta = page.text(&format!("{lobby_row} .meta .tag"));
    assert!(
        meta.split(" · ").any(|part| part == "SIP"),
        "lobby row: {meta}"
    );
    page.wait_until(
        "the event stream to be live",
        "return document.getElementById('live-state').dataset.state === 'live'",
    );
    page.screenshot("lobby.png");

    // One click admits them: the row moves from the lobby to the participants.
    page.click(&format!("{lobby_row} button[data-action='admit']"));
    let participant_row = format!("#participant-list li[data-id='{id}']");
    page.wait_until(
        "the caller among the page's participants",
        &format!(
            "return !document.querySelector(\"{lobby_row}\") && !!document.querySelector(\"{participant_row}\")"
        ),
    );
    assert_eq!(page.text(&format!("{participant_row} .name")), name);
    assert_eq!(page.text("#lobby-count"), "0");
    let view = server.meeting();
    let in_meeting: Vec<&str> = view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(in_meeting.contains(&id.as_str()), "API view: {view}");
    assert!(
        view["lobby"].as_array().unwrap().is_empty(),
        "API view: {view}"
    );
    page.screenshot("admitted.png");

    // A change the page did not make reaches it through the event stream alone.
    let (status, body) = server.api(
        "DELETE",
        &format!("/api/v1/meetings/{TENANT}/{CONFERENCE}/participants/{id}"),
    );
    assert_eq!(status, 204, "remove: {body}");
    page.wait_until(
        "the removed caller to leave the page (event stream)",
        &format!("return !document.querySelector(\"{participant_row}\")"),
    );

    driver.quit();
    drop(caller);
}

// ---------------------------------------------------------------------------------------------
// Tools, processes, waiting

/// The tool's path on PATH, or a failure that says how to get it.
fn require_tool(name: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{name}` is not installed (Debian package `{package}`); run the README test command \
             `bash .ci/test.sh`, which installs it"
        )
    })
}

/// Polls `probe` until it gives a value or [`PATIENCE`] runs out.
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() > deadline {
            eprintln!("gave up waiting for {what} after {PATIENCE:?}");
            return None;
        }
        sleep(Duration::from_millis(100));
    }
}

/// A child process with its output in a file; killed when dropped.
struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(name: &'static str, command: &mut Command, log: &Path) -> Process {
        let file = fs::File::create(log).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Process {
            name,
            child,
            log: log.to_owned(),
        }
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines of its output, under its name.
    fn output(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        format!(
            "--- {} ({}):\n{}",
            self.name,
            self.log.display(),
            tail(&text, 40)
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The server

/// A running `tessera serve --demo` in a temporary directory (database, logs).
struct Server {
    process: Process,
    sip: SocketAddr,
    http: SocketAddr,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server (retrying with new ports if one was taken meanwhile) and waits until
    /// `/healthz` answers 200.
    fn start() -> Server {
        common::start_with_retries(Server::try_start)
    }

    fn try_start() -> Result<Server, String> {
        let (dir, db) = common::prepare_db(&[&[
            "meeting",
            "add",
            "--tenant",
            TENANT,
            "--conference-id",
            CONFERENCE,
            "--who-can-bypass",
            "trusted-orgs",
        ]]);
        let sip = SocketAddr::from(([127, 0, 0, 1], free_sip_port()));
        let http = SocketAddr::from(([127, 0, 0, 1], free_tcp_port()));
        let rtp = common::rtp_ports(40_000, 100);
        let process = Process::spawn(
            "tessera",
            common::serve_command(&db, TOKEN, sip, http, &rtp).arg("--demo"),
            &dir.path().join("server.log"),
        );
        let server = Server {
            process,
            sip,
            http,
            dir,
        };
        common::wait_until_healthy(server, PATIENCE)
    }

    fn log_tail(&self) -> String {
        self.process.output()
    }

    /// An admin API request with the token; panics on I/O errors.
    fn api(&self, method: &str, path: &str) -> (u16, String) {
        http_request(self.http, method, path, Some(TOKEN), None)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}; server log:\n{}", self.log_tail()))
    }

    /// The live view of the test's meeting.
    fn meeting(&self) -> Value {
        let (status, body) = self.api("GET", &format!("/api/v1/meetings/{TENANT}/{CONFERENCE}"));
        assert_eq!(status, 200, "meeting view: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

impl Launched for Server {
    fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    fn is_healthy(&self) -> bool {
        matches!(
            http_request(self.http, "GET", "/healthz", None, None),
            Ok((200, _))
        )
    }

    fn start_log(&self) -> String {
        self.process.output()
    }
}

/// A minimal HTTP/1.1 client (`Connection: close`): returns status and body.
fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    json_body: Option<&Value>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body = json_body.map(Value::to_string).unwrap_or_default();
    let content_type = if json_body.is_some() {
        "Content-Type: application/json; charset=utf-8\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{content_type}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    read_response(&mut stream)
}

/// Reads one HTTP/1.1 response: up to its `Content-Length` (ChromeDriver keeps the connection
/// open despite `Connection: close`), to the last chunk, or else to the end of the stream.
fn read_response(stream: &mut TcpStream) -> std::io::Result<(u16, String)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let complete = |raw: &[u8]| -> bool {
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            return false;
        };
        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
        let body = &raw[end + 4..];
        let field = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
        };
        if let Some(len) = field("content-length:").and_then(|v| v.parse::<usize>().ok()) {
            body.len() >= len
        } else if field("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
            body.ends_with(b"0\r\n\r\n")
        } else {
            false
        }
    };
    while !complete(&raw) {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no end of HTTP header in {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    ))
}

/// Decodes a chunked body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size =
            usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Chromium through ChromeDriver (W3C WebDriver over HTTP)

/// A ChromeDriver process with one headless Chromium session.
struct ChromeDriver {
    process: Process,
    addr: SocketAddr,
    session: String,
}

impl ChromeDriver {
    fn start(chromedriver: &Path, chromium: &Path, scratch: &Path) -> ChromeDriver {
        let port = free_tcp_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut process = Process::spawn(
            "chromedriver",
            Command::new(chromedriver).arg(format!("--port={port}")),
            &scratch.join("chromedriver.log"),
        );
        let ready = wait_for("chromedriver to be ready", || {
            let (_, body) = http_request(addr, "GET", "/status", None, None).ok()?;
            let status: Value = serde_json::from_str(&body).ok()?;
            status["value"]["ready"].as_bool().filter(|ready| *ready)
        });
        assert!(
            ready.is_some() && process.is_running(),
            "chromedriver did not start:\n{}",
            process.output()
        );
        let profile = scratch.join("chromium-profile");
        fs::create_dir_all(&profile).unwrap();
        // Headless, as root in a container, on a machine without outside network: these flags
        // keep Chromium from reaching for Google's services or a GPU.
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-extensions".to_owned(),
            "--password-store=basic".to_owned(),
            "--window-size=1280,860".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": chromium, "args": args },
                }
            }
        });
        let (status, body) = http_request(addr, "POST", "/session", None, Some(&capabilities))
            .unwrap_or_else(|e| panic!("new session: {e}\n{}", process.output()));
        let reply: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let session = reply["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| {
                panic!(
                    "chromedriver refused a session ({status}): {body}\n{}",
                    process.output()
                )
            })
            .to_owned();
        ChromeDriver {
            process,
            addr,
            session,
        }
    }

    /// A session command; returns the status and the reply's `value`.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let path = format!("/session/{}{path}", self.session);
        let body = body.or_else(|| (method == "POST").then(|| json!({})));
        let (status, text) = http_request(self.addr, method, &path, None, body.as_ref())
            .unwrap_or_else(|e| {
                panic!("WebDriver {method} {path}: {e}\n{}", self.process.output())
            });
        let reply: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, reply["value"].clone())
    }

    /// A POST that must succeed.
    fn post(&self, path: &str, body: Value) -> Value {
        let (status, value) = self.command("POST", path, Some(body));
        assert_eq!(status, 200, "WebDriver POST {path}: {value}");
        value
    }

    fn quit(&self) {
        let _ = self.command("DELETE", "", None);
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        self.quit();
    }
}

/// The console page in the session: finding, clicking, waiting, screenshots; failures carry the
/// page text, a screenshot and the server's log.
struct Page<'a> {
    driver: &'a ChromeDriver,
    server: &'a Server,
    shots: &'a Path,
}

impl Page<'_> {
    fn fail(&self, what: &str) -> ! {
        let text = self
            .driver
            .command(
                "POST",
                "/execute/sync",
                Some(json!({ "script": "return document.body.innerText", "args": [] })),
            )
            .1;
        self.screenshot("failure.png");
        panic!(
            "{what}\npage text:\n{}\nscreenshot: {}\nserver log:\n{}",
            text.as_str().unwrap_or_default(),
            self.shots.join("failure.png").display(),
            self.server.log_tail()
        );
    }

    /// The element reference of the one element `css` selects.
    fn find(&self, css: &str) -> String {
        let (status, value) = self.driver.command(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        match value[ELEMENT_KEY].as_str() {
            Some(id) if status == 200 => id.to_owned(),
            _ => self.fail(&format!("no element {css}: {value}")),
        }
    }

    /// A real click (WebDriver moves the pointer there and presses).
    fn click(&self, css: &str) {
        let element = self.find(css);
        let (status, value) =
            self.driver
                .command("POST", &format!("/element/{element}/click"), None);
        if status != 200 {
            self.fail(&format!("clicking {css} failed: {value}"));
        }
    }

    /// The rendered text of the element `css` selects.
    fn text(&self, css: &str) -> String {
        let element = self.find(css);
        let (_, value) = self
            .driver
            .command("GET", &format!("/element/{element}/text"), None);
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` in the page and returns its result.
    fn script(&self, script: &str) -> Value {
        let (status, value) = self.driver.command(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        );
        if status != 200 {
            self.fail(&format!("script failed: {script}: {value}"));
        }
        value
    }

    /// Waits until `script` returns `true` in the page.
    fn wait_until(&self, what: &str, script: &str) {
        if wait_for(what, || (self.script(script) == json!(true)).then_some(())).is_none() {
            self.fail(&format!("gave up waiting for {what}"));
        }
    }

    fn screenshot(&self, name: &str) {
        let (status, value) = self.driver.command("GET", "/screenshot", None);
        let png = value.as_str().filter(|_| status == 200).map(base64_decode);
        match png {
            Some(Some(png)) => fs::write(self.shots.join(name), png).unwrap(),
            _ => eprintln!("no screenshot {name}: {value}"),
        }
    }
}

/// Decodes standard base64 (WebDriver's screenshots); `None` on a character outside it.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
