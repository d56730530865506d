//! Whole calls through the core on a virtual clock: SIP bytes in, SIP bytes and media commands
//! out, the directory a real (in-memory) SQLite. This module holds the harness and the SIP
//! messages the tests send; the tests are in one submodule per behaviour.

// One arbitrary origin; after it, time moves only by what each test adds.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use signaling::sip::{HeaderName, Message, Method};
use signaling::transaction::{Peer, Transport};
use signaling::{ConferenceId, TenantKey};

use super::*;
use crate::demo;
use crate::directory::{
    Directory, LiveDirectory, PolicyOverrides, TenantUpdate, TrustedDeviceRule,
};
use crate::lobby::WhoCanBypass;
use mixer::layout::LayoutMode;

const VTC: &str = "192.0.2.10:5060";

struct Harness {
    core: CallCore,
    /// The directory the test writes, as an operator would.
    dir: Directory,
    /// What the core reads: `dir` in memory, reloaded after every write (as the gateway does).
    live: Arc<LiveDirectory>,
    metrics: crate::metrics::Metrics,
    now: Instant,
    sent: Vec<Message>,
    media: Vec<CoreOutput>,
}

fn key() -> TenantKey {
    TenantKey::new(demo::DEMO_TENANT).unwrap()
}

fn conf() -> ConferenceId {
    ConferenceId::new(demo::DEMO_CONFERENCE).unwrap()
}

impl Harness {
    fn new() -> Self {
        Self::with(|_| {}, |_| {})
    }

    /// The demo meeting as `serve --demo` runs it: a trusted synthetic participant already in.
    fn demo() -> Self {
        let mut h = Self::new();
        h.core
            .add_synthetic(h.now, &key(), &conf(), "Ada Lovelace")
            .unwrap();
        h.collect();
        h
    }

    /// The SIP participants in the demo meeting.
    fn callers(&mut self) -> Vec<ParticipantView> {
        let view = self.view();
        view.participants
            .into_iter()
            .filter(|p| p.protocol == "sip")
            .collect()
    }

    fn media_starts(&self) -> usize {
        self.media
            .iter()
            .filter(|m| matches!(m, CoreOutput::MediaStart { .. }))
            .count()
    }

    fn with(setup: impl FnOnce(&mut Directory), configure: impl FnOnce(&mut CoreConfig)) -> Self {
        let mut dir = Directory::open_in_memory().unwrap();
        demo::ensure_demo(&mut dir).unwrap();
        setup(&mut dir);
        let live = Arc::new(LiveDirectory::load(&dir).unwrap());
        let mut config = CoreConfig::new(
            "203.0.113.1:5060".parse().unwrap(),
            "203.0.113.1".parse().unwrap(),
        );
        configure(&mut config);
        let now = Instant::now();
        let metrics = crate::metrics::Metrics::new().unwrap();
        Harness {
            core: CallCore::new(
                config,
                live.clone(),
                (now, SystemTime::UNIX_EPOCH),
                7,
                metrics.clone(),
            ),
            dir,
            live,
            metrics,
            now,
            sent: Vec::new(),
            media: Vec::new(),
        }
    }

    /// Changes the directory while calls run, the way the admin API does: written, then the
    /// core's in-memory copy reloaded.
    fn write_directory(&mut self, write: impl FnOnce(&mut Directory)) {
        write(&mut self.dir);
        self.live.reload(&self.dir).unwrap();
    }

    fn peer(&self) -> Peer {
        Peer {
            transport: Transport::Udp,
            addr: VTC.parse().unwrap(),
        }
    }

    fn send(&mut self, text: &str) {
        self.send_over(Transport::Udp, text);
    }

    /// Sends from the VTC's address over `transport` (TLS: a `sips:` caller).
    fn send_over(&mut self, transport: Transport, text: &str) {
        let peer = Peer {
            transport,
            ..self.peer()
        };
        self.core.handle_datagram(self.now, text.as_bytes(), peer);
        self.collect();
    }

    fn collect(&mut self) {
        while let Some(out) = self.core.poll_output() {
            match out {
                CoreOutput::Transmit { bytes, .. } => {
                    let parsed =
                        Message::parse_unvalidated(&bytes, &signaling::sip::Limits::DEFAULT);
                    self.sent.push(parsed.unwrap());
                }
                other => self.media.push(other),
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        while let Some(at) = self.core.poll_timeout() {
            if at > until {
                break;
            }
            self.now = at.max(self.now);
            self.core.handle_timeout(self.now);
            self.collect();
        }
        self.now = until;
    }

    fn take_sent(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.sent)
    }

    fn codes(&mut self) -> Vec<u16> {
        self.take_sent()
            .iter()
            .filter_map(Message::status)
            .collect()
    }

    fn final_response(&mut self) -> Message {
        self.take_sent()
            .into_iter()
            .rfind(|m| m.status().is_some_and(|c| c >= 200))
            .expect("a final response")
    }

    fn view(&mut self) -> MeetingView {
        self.view_of(demo::DEMO_TENANT, demo::DEMO_CONFERENCE)
    }

    fn view_of(&mut self, tenant: &str, conference: &str) -> MeetingView {
        match self
            .core
            .handle_admin(
                self.now,
                AdminCommand::ViewMeeting {
                    tenant: tenant.into(),
                    conference: conference.into(),
                },
            )
            .unwrap()
        {
            AdminReply::Meeting(v) => v,
            other => panic!("expected a view, got {other:?}"),
        }
    }
}

const PCMU_OFFER: &str =
    "v=0\r\no=room 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\nm=video 49172 RTP/AVP 109\r\na=rtpmap:109 H264/90000\r\n\
a=fmtp:109 profile-level-id=42e01f;packetization-mode=1\r\n";

const G729_OFFER: &str =
    "v=0\r\no=room 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";

fn invite_with(
    uri: &str,
    call_id: &str,
    cseq: u32,
    branch: &str,
    from_user: &str,
    extra: &str,
    sdp: &str,
) -> String {
    let body = if sdp.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".to_owned()
    };
    format!(
        "INVITE {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"Board Room\" <sip:{from_user}@192.0.2.10>;tag=vtc1\r\n\
         To: <{uri}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} INVITE\r\n\
         Contact: <sip:{from_user}@192.0.2.10:5060>\r\n\
         {extra}{body}Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

fn invite(uri: &str, call_id: &str) -> String {
    invite_with(
        uri,
        call_id,
        1,
        &format!("z9hG4bK-{call_id}"),
        "board",
        "",
        PCMU_OFFER,
    )
}

/// An in-dialog request from the VTC, using the 200's To tag.
fn in_dialog(method: &str, ok: &Message, cseq: u32, extra: &str, body: &str) -> String {
    let to = ok.headers.get(&HeaderName::TO).unwrap();
    let call_id = ok.call_id().unwrap();
    format!(
        "{method} sip:tessera@203.0.113.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-{method}-{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: \"Board Room\" <sip:board@192.0.2.10>;tag=vtc1\r\n\
         To: {to}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         {extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn ack(ok: &Message, body: &str) -> String {
    let extra = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    in_dialog("ACK", ok, 1, extra, body)
}

fn bye_reason(m: &Message) -> String {
    assert_eq!(m.method(), Some(&Method::Bye), "{m:?}");
    m.headers
        .get(&HeaderName::new("Reason").unwrap())
        .unwrap_or_default()
        .to_owned()
}

fn info_digit(ok: &Message, cseq: u32, digit: char) -> String {
    let body = format!("Signal={digit}\r\nDuration=160\r\n");
    in_dialog(
        "INFO",
        ok,
        cseq,
        "Content-Type: application/dtmf-relay\r\n",
        &body,
    )
}

fn strict_meeting(dir: &mut Directory) {
    dir.add_meeting(
        &key(),
        &ConferenceId::new("2000000").unwrap(),
        None,
        PolicyOverrides {
            who_can_bypass: Some(WhoCanBypass::TrustedOrgs),
            ..PolicyOverrides::default()
        },
    )
    .unwrap();
}

fn cancel_for(call_id: &str) -> String {
    format!(
        "CANCEL sip:12345678.1177958860@gw SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-{call_id};rport\r\nMax-Forwards: 70\r\n\
         From: \"Board Room\" <sip:board@192.0.2.10>;tag=vtc1\r\nTo: <sip:12345678.1177958860@gw>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n"
    )
}

fn licences_in_use(h: &Harness) -> i64 {
    h.metrics
        .licenses_in_use
        .with_label_values(&["12345678", "endpoint"])
        .get()
}

fn press(h: &mut Harness, call: CallId, digits: &str) {
    for d in digits.chars() {
        h.core
            .handle_media_event(h.now, call, MediaEvent::Dtmf(DtmfDigit(d)));
    }
    h.collect();
}

mod cascade;
mod cluster_licences;
mod cluster_links;
mod controls;
mod dialog;
mod dialout;
mod encryption;
mod endings;
mod entry_queue;
mod h323;
mod interop;
mod licences;
mod limits;
mod lobby;
mod options;
mod routing;
mod session_timer;
mod slates;
mod synthetic;
mod tessera;
mod trust;
