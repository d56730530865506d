//! Whole calls through the core on a virtual clock: SIP bytes in, SIP bytes and media commands
//! out, the directory a real (in-memory) SQLite.

// One arbitrary origin; after it, time moves only by what each test adds.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use signaling::sip::{HeaderName, Message, Method};
use signaling::transaction::{Peer, Transport};
use signaling::{ConferenceId, TenantKey};

use super::*;
use crate::demo;
use crate::directory::{Directory, PolicyOverrides, TenantUpdate, TrustedDeviceRule};
use crate::lobby::WhoCanBypass;
use mixer::layout::LayoutMode;

const VTC: &str = "192.0.2.10:5060";

struct Harness {
    core: CallCore,
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
                dir,
                (now, SystemTime::UNIX_EPOCH),
                7,
                metrics.clone(),
            ),
            metrics,
            now,
            sent: Vec::new(),
            media: Vec::new(),
        }
    }

    fn peer(&self) -> Peer {
        Peer {
            transport: Transport::Udp,
            addr: VTC.parse().unwrap(),
        }
    }

    fn send(&mut self, text: &str) {
        let peer = self.peer();
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

#[test]
fn direct_dial_is_answered_with_sdp_and_joins_the_meeting() {
    let mut h = Harness::demo();
    h.send(&invite("sip:12345678.1177958860@gw.example.com", "c1"));
    let sent = h.take_sent();
    assert_eq!(
        sent.iter().filter_map(Message::status).collect::<Vec<_>>(),
        [100, 200]
    );
    let ok = &sent[1];
    assert!(ok.to().unwrap().tag().is_some());
    let answer = std::str::from_utf8(ok.body()).unwrap();
    assert!(answer.contains("m=audio 20000 RTP/AVP 0 101"), "{answer}");
    assert!(answer.contains("c=IN IP4 203.0.113.1"));
    assert!(ok
        .headers
        .get(&HeaderName::CONTACT)
        .unwrap()
        .contains("203.0.113.1:5060"));
    assert!(
        matches!(
            h.media[..],
            [
                CoreOutput::MediaStart {
                    audio: AudioSetup {
                        local_port: 20000,
                        payload_type: 0,
                        telephone_event_pt: Some(101),
                        codec: PromptCodec::Pcmu,
                        ..
                    },
                    video: Some(VideoSetup {
                        local_port: 20002,
                        payload_type: 109,
                        packetization_mode: 1,
                        ..
                    }),
                    ..
                },
                CoreOutput::MediaJoin { participant: 2, .. },
            ]
        ),
        "{:?}",
        h.media
    );
    let callers = h.callers();
    assert_eq!(callers.len(), 1);
    assert_eq!(callers[0].display_name, "Board Room");
    assert_eq!(callers[0].class, ParticipantClass::UntrustedVtc);
    assert_eq!(callers[0].joined_at, "1970-01-01T00:00:00Z");

    let ok = ok.clone();
    h.send(&ack(&ok, ""));
    assert!(h.take_sent().is_empty());
    h.advance(Duration::from_secs(5));
    assert!(
        h.take_sent().is_empty(),
        "no 200 retransmission after the ACK"
    );

    h.send(&in_dialog("BYE", &ok, 2, "", ""));
    assert_eq!(h.codes(), [200]);
    assert!(matches!(h.media.last(), Some(CoreOutput::MediaStop { .. })));
    assert!(h.callers().is_empty());
    assert_eq!(h.core.active_calls(), 0);
}

const OPUS_OFFER: &str =
    "v=0\r\no=room 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 111 102 9 0 101\r\na=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 useinbandfec=1\r\na=rtpmap:102 telephone-event/48000\r\na=fmtp:102 0-15\r\n\
a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n";

const G722_OFFER: &str =
    "v=0\r\no=room 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 9 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n";

/// Dials the demo meeting with `sdp`; the 200's SDP answer and the media commands.
fn dial_with_offer(sdp: &str) -> (String, Vec<CoreOutput>) {
    let mut h = Harness::demo();
    h.send(&invite_with(
        "sip:12345678.1177958860@gw.example.com",
        "c1",
        1,
        "z9hG4bK-c1",
        "board",
        "",
        sdp,
    ));
    let ok = h.final_response();
    assert_eq!(ok.status(), Some(200));
    let answer = std::str::from_utf8(ok.body()).unwrap().to_owned();
    (answer, h.media.clone())
}

#[test]
fn an_opus_offer_is_answered_with_opus_and_starts_opus_media() {
    let (answer, media) = dial_with_offer(OPUS_OFFER);
    assert!(answer.contains("m=audio 20000 RTP/AVP 111 102"), "{answer}");
    assert!(answer.contains("a=rtpmap:111 opus/48000/2"), "{answer}");
    assert!(answer.contains("telephone-event/48000"), "{answer}");
    assert!(!answer.contains("PCMU"), "{answer}");
    assert!(
        matches!(
            media[..],
            [
                CoreOutput::MediaStart {
                    audio: AudioSetup {
                        local_port: 20000,
                        payload_type: 111,
                        codec: PromptCodec::Opus,
                        telephone_event_pt: Some(102),
                        ..
                    },
                    ..
                },
                CoreOutput::MediaJoin { .. },
            ]
        ),
        "{media:?}"
    );
}

#[test]
fn a_g722_offer_is_answered_with_g722_and_starts_g722_media() {
    let (answer, media) = dial_with_offer(G722_OFFER);
    assert!(answer.contains("m=audio 20000 RTP/AVP 9 101"), "{answer}");
    assert!(answer.contains("a=rtpmap:9 G722/8000"), "{answer}");
    assert!(
        matches!(
            media[..],
            [
                CoreOutput::MediaStart {
                    audio: AudioSetup {
                        payload_type: 9,
                        codec: PromptCodec::G722,
                        telephone_event_pt: Some(101),
                        ..
                    },
                    ..
                },
                CoreOutput::MediaJoin { .. },
            ]
        ),
        "{media:?}"
    );
}

#[test]
fn every_dial_format_reaches_the_demo_meeting() {
    for uri in [
        "sip:12345678.1177958860@gw.example.com",
        "sip:1177958860.12345678@gw.example.com",
        "sip:1177958860@video.acme.example",
        "sip:61177958860@gw.example.com",
    ] {
        let mut h = Harness::demo();
        h.send(&invite(uri, "c1"));
        assert_eq!(h.codes(), [100, 200], "{uri}");
        assert_eq!(h.callers().len(), 1, "{uri}");
    }
}

#[test]
fn request_uri_without_dial_string_falls_back_to_to() {
    let mut h = Harness::new();
    let text = invite("sip:12345678.1177958860@gw.example.com", "c1").replacen(
        "INVITE sip:12345678.1177958860@gw.example.com",
        "INVITE sip:gw.example.com",
        1,
    );
    h.send(&text);
    assert_eq!(h.codes(), [100, 200]);
}

#[test]
fn unknown_meetings_and_tenants_get_404_with_a_reason() {
    let mut h = Harness::new();
    h.send(&invite("sip:12345678.1111111111@gw.example.com", "c1"));
    let r = h.final_response();
    assert_eq!(r.status(), Some(404));
    assert_eq!(r.reason(), Some("Not Found - Unknown conference"));
    let reason = r.headers.get(&HeaderName::new("Reason").unwrap()).unwrap();
    assert!(
        reason.contains("unknown conference 1111111111 for tenant 12345678"),
        "{reason}"
    );

    h.send(&invite("sip:99999999.1177958860@gw.example.com", "c2"));
    let r = h.final_response();
    assert_eq!(
        (r.status(), r.reason()),
        (Some(404), Some("Not Found - Unknown tenant"))
    );

    h.send(&invite("sip:alice@gw.example.com", "c3"));
    assert_eq!(h.final_response().status(), Some(404));
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn no_common_codec_gets_488() {
    let mut h = Harness::new();
    let free_ports = h.core.ports.available();
    h.send(&invite_with(
        "sip:12345678.1177958860@gw",
        "c1",
        1,
        "z9hG4bK1",
        "board",
        "",
        G729_OFFER,
    ));
    let r = h.final_response();
    assert_eq!(r.status(), Some(488));
    assert!(
        r.reason().unwrap().contains("No common codec"),
        "{:?}",
        r.reason()
    );
    assert!(r
        .headers
        .get(&HeaderName::new("Warning").unwrap())
        .unwrap()
        .starts_with("305 "));
    assert_eq!(h.core.active_calls(), 0);
    assert_eq!(h.core.ports.available(), free_ports, "the port came back");
    h.send(&invite("sip:12345678.1177958860@gw", "c2"));
    let ok = h.final_response();
    assert!(
        std::str::from_utf8(ok.body())
            .unwrap()
            .contains("m=audio 20004"),
        "the next call gets the next block; the refused one's is reused last"
    );
}

#[test]
fn malformed_requests_get_400_with_the_reason() {
    let mut h = Harness::new();
    let text = invite("sip:12345678.1177958860@gw", "c1").replace("CSeq: 1 INVITE\r\n", "");
    h.send(&text);
    let r = h.final_response();
    assert_eq!(r.status(), Some(400));
    assert_eq!(r.reason(), Some("Bad Request - Missing CSeq"));
    h.send("\x00\x01garbage\r\n\r\n");
    h.send("INVITE sip:x SIP/2.0\r\n\r\n");
    assert!(h.take_sent().is_empty(), "nothing to answer without a Via");
    h.send(&invite_with(
        "sip:12345678.1177958860@gw",
        "c2",
        1,
        "z9hG4bK2",
        "board",
        "",
        "v=0\r\nbogus\r\n",
    ));
    assert_eq!(
        h.final_response().reason(),
        Some("Bad Request - Malformed SDP")
    );
}

#[test]
fn options_is_answered_out_of_dialog() {
    let mut h = Harness::new();
    h.send(
        "OPTIONS sip:gw.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKo\r\n\
         Max-Forwards: 70\r\nFrom: <sip:board@192.0.2.10>;tag=1\r\nTo: <sip:gw.example.com>\r\n\
         Call-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    );
    let r = h.final_response();
    assert_eq!(r.status(), Some(200));
    assert!(r
        .headers
        .get(&HeaderName::ALLOW)
        .unwrap()
        .contains("INVITE"));
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

#[test]
fn entry_queue_collects_the_conference_id_by_info_and_joins() {
    let mut h = Harness::demo();
    h.send(&invite("sip:12345678@gw.example.com", "c1"));
    let ok = h.final_response();
    assert_eq!(ok.status(), Some(200));
    assert!(h.media.iter().any(|m| matches!(
        m,
        CoreOutput::PlayPrompt {
            prompt: Prompt::EnterConferenceId,
            ..
        }
    )));
    assert!(h.callers().is_empty(), "not in the meeting yet");
    for (i, d) in "1177958860#".chars().enumerate() {
        h.send(&info_digit(&ok, 2 + i as u32, d));
        assert_eq!(h.codes(), [200]);
    }
    assert_eq!(h.callers().len(), 1);
    // Same dialog: no new INVITE, the call simply moved.
    assert_eq!(h.core.active_calls(), 1);
}

#[test]
fn entry_queue_retries_then_hangs_up_with_a_reason() {
    let mut h = Harness::new();
    h.send(&invite("sip:12345678@gw.example.com", "c1"));
    let ok = h.final_response();
    let mut cseq = 2;
    for attempt in 0..3 {
        for d in "999999#".chars() {
            h.send(&info_digit(&ok, cseq, d));
            cseq += 1;
        }
        let prompt = h.media.iter().rev().find_map(|m| match m {
            CoreOutput::PlayPrompt { prompt, .. } => Some(*prompt),
            _ => None,
        });
        let want = if attempt < 2 {
            Prompt::InvalidConferenceId
        } else {
            Prompt::Goodbye
        };
        assert_eq!(prompt, Some(want));
    }
    h.take_sent();
    h.advance(Duration::from_secs(3));
    let bye = h
        .take_sent()
        .into_iter()
        .find(|m| m.method() == Some(&Method::Bye))
        .expect("BYE");
    assert!(
        bye_reason(&bye).contains("cause=404"),
        "{}",
        bye_reason(&bye)
    );
    assert_eq!(bye.request_uri(), Some("sip:board@192.0.2.10:5060"));
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn entry_queue_timeout_counts_as_a_failure() {
    let mut h = Harness::new();
    h.send(&invite("sip:12345678@gw.example.com", "c1"));
    h.advance(Duration::from_secs(31));
    assert!(h.media.iter().any(|m| matches!(
        m,
        CoreOutput::PlayPrompt {
            prompt: Prompt::InvalidConferenceId,
            ..
        }
    )));
}

#[test]
fn rfc4733_digits_from_media_feed_the_entry_queue() {
    let mut h = Harness::demo();
    h.send(&invite("sip:12345678@gw.example.com", "c1"));
    let CoreOutput::MediaStart { call, .. } = h.media[0].clone() else {
        panic!("{:?}", h.media)
    };
    for d in "1177958860#".chars() {
        h.core
            .handle_media_event(h.now, call, MediaEvent::Dtmf(DtmfDigit(d)));
    }
    assert_eq!(h.callers().len(), 1);
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

#[test]
fn lobby_wait_then_operator_admits() {
    let mut h = Harness::with(strict_meeting, |_| {});
    h.send(&invite("sip:12345678.2000000@gw.example.com", "c1"));
    assert_eq!(
        h.final_response().status(),
        Some(200),
        "lobby callers are answered"
    );
    assert!(h.media.iter().any(|m| matches!(
        m,
        CoreOutput::PlayPrompt {
            prompt: Prompt::Lobby,
            ..
        }
    )));
    let view = h.view_of("12345678", "2000000");
    assert!(view.participants.is_empty());
    assert_eq!(view.lobby.len(), 1);
    assert_eq!(view.lobby[0].class, ParticipantClass::UntrustedVtc);
    let id = view.lobby[0].id.clone();
    let admit = AdminCommand::Admit {
        tenant: "12345678".into(),
        conference: "2000000".into(),
        id: id.clone(),
    };
    assert_eq!(
        h.core.handle_admin(h.now, admit.clone()),
        Ok(AdminReply::Done)
    );
    let view = h.view_of("12345678", "2000000");
    assert_eq!(view.participants.len(), 1);
    assert_eq!(view.participants[0].id, id);
    assert!(view.lobby.is_empty());
    assert!(matches!(
        h.core.handle_admin(h.now, admit),
        Err(AdminError::UnknownParticipant { .. })
    ));
}

#[test]
fn lobby_deny_and_timeout_end_the_call_with_a_reason() {
    let mut h = Harness::with(strict_meeting, |c| {
        c.lobby_timeout = Some(Duration::from_secs(60))
    });
    h.send(&invite("sip:12345678.2000000@gw.example.com", "c1"));
    h.send(&invite("sip:12345678.2000000@gw.example.com", "c2"));
    h.take_sent();
    let id = h.view_of("12345678", "2000000").lobby[0].id.clone();
    h.core
        .handle_admin(
            h.now,
            AdminCommand::Deny {
                tenant: "12345678".into(),
                conference: "2000000".into(),
                id,
            },
        )
        .unwrap();
    h.collect();
    let bye = h.take_sent().pop().unwrap();
    assert!(
        bye_reason(&bye).contains("cause=403"),
        "{}",
        bye_reason(&bye)
    );
    h.advance(Duration::from_secs(61));
    let byes: Vec<_> = h
        .take_sent()
        .into_iter()
        .filter(|m| m.method() == Some(&Method::Bye) && m.call_id().unwrap() == "c2")
        .collect();
    assert!(!byes.is_empty(), "the second caller timed out");
    assert!(bye_reason(&byes[0]).contains("cause=408"));
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn synthetic_trusted_participants_let_untrusted_callers_into_an_everyone_meeting() {
    let mut h = Harness::new();
    // Nobody trusted yet: the untrusted VTC waits ("everyone" cannot be started by untrusted).
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(h.view().lobby.len(), 1);
    h.core
        .add_synthetic(h.now, &key(), &conf(), "Ada Lovelace")
        .unwrap();
    h.collect();
    let view = h.view();
    assert_eq!(
        view.participants.len(),
        2,
        "the first trusted arrival admits everyone waiting"
    );
    assert!(view
        .participants
        .iter()
        .any(|p| p.protocol == "synthetic" && p.class == ParticipantClass::SameOrg));
}

#[test]
fn operator_adds_synthetic_participants_that_join_the_meeting_media() {
    let mut h = Harness::new();
    let add = |conference: &str, count| AdminCommand::AddSynthetic {
        tenant: "12345678".into(),
        conference: conference.into(),
        count,
    };
    assert!(matches!(
        h.core.handle_admin(h.now, add("1177958860", 3)),
        Ok(AdminReply::Done)
    ));
    h.collect();
    let view = h.view();
    assert_eq!(view.participants.len(), 3);
    assert!(view.participants.iter().all(|p| p.protocol == "synthetic"));
    let joins: Vec<(u32, u32)> = h
        .media
        .iter()
        .filter_map(|o| match o {
            CoreOutput::SyntheticJoin {
                tenant,
                conference,
                index,
                count,
                ..
            } if tenant == "12345678" && conference == "1177958860" => Some((*index, *count)),
            _ => None,
        })
        .collect();
    assert_eq!(joins, vec![(0, 3), (1, 3), (2, 3)]);
    for count in [0, api::MAX_SYNTHETIC + 1] {
        assert!(matches!(
            h.core.handle_admin(h.now, add("1177958860", count)),
            Err(AdminError::InvalidCount { .. })
        ));
    }
    assert!(matches!(
        h.core.handle_admin(h.now, add("9999999", 1)),
        Err(AdminError::UnknownMeeting { .. })
    ));
    assert_eq!(h.view().participants.len(), 3);
}

#[test]
fn operator_removes_a_participant_with_bye() {
    let mut h = Harness::new();
    h.core
        .add_synthetic(h.now, &key(), &conf(), "Ada Lovelace")
        .unwrap();
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    h.take_sent();
    let view = h.view();
    let caller = view
        .participants
        .iter()
        .find(|p| p.protocol == "sip")
        .unwrap()
        .id
        .clone();
    let remove = |id: String| AdminCommand::Remove {
        tenant: "12345678".into(),
        conference: "1177958860".into(),
        id,
    };
    h.core.handle_admin(h.now, remove(caller.clone())).unwrap();
    h.collect();
    assert!(bye_reason(&h.take_sent().pop().unwrap()).contains("Removed by an operator"));
    assert!(matches!(
        h.core.handle_admin(h.now, remove(caller)),
        Err(AdminError::UnknownParticipant { .. })
    ));
    let synthetic = h.view().participants[0].id.clone();
    h.core.handle_admin(h.now, remove(synthetic)).unwrap();
    assert!(h.view().participants.is_empty());
    assert!(matches!(
        h.core.handle_admin(
            h.now,
            AdminCommand::ViewMeeting {
                tenant: "12345678".into(),
                conference: "9999999".into()
            }
        ),
        Err(AdminError::UnknownMeeting { .. })
    ));
}

#[test]
fn cancel_while_ringing_gets_487() {
    let mut h = Harness::with(|_| {}, |c| c.ring_time = Duration::from_secs(2));
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(h.codes(), [100, 180]);
    h.send(
        "CANCEL sip:12345678.1177958860@gw SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-c1;rport\r\nMax-Forwards: 70\r\n\
         From: \"Board Room\" <sip:board@192.0.2.10>;tag=vtc1\r\nTo: <sip:12345678.1177958860@gw>\r\n\
         Call-ID: c1\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(h.codes(), [200, 487]);
    assert_eq!(h.core.active_calls(), 0);
    h.advance(Duration::from_secs(3));
    assert!(h.view().participants.is_empty(), "never answered");
}

#[test]
fn ringing_call_is_answered_after_the_ring_time() {
    let mut h = Harness::with(|_| {}, |c| c.ring_time = Duration::from_millis(500));
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(h.codes(), [100, 180]);
    h.advance(Duration::from_millis(500));
    assert_eq!(h.final_response().status(), Some(200));
}

#[test]
fn offerless_invite_gets_our_offer_and_the_answer_comes_in_the_ack() {
    let mut h = Harness::demo();
    h.send(&invite_with(
        "sip:12345678.1177958860@gw",
        "c1",
        1,
        "z9hG4bK1",
        "board",
        "",
        "",
    ));
    let ok = h.final_response();
    let offer = std::str::from_utf8(ok.body()).unwrap().to_owned();
    assert!(offer.contains("PCMU/8000"), "{offer}");
    assert_eq!(h.media_starts(), 0, "media waits for the answer");
    let answer = "v=0\r\no=room 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
                  m=audio 49170 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
                  m=video 0 RTP/AVP 96\r\n";
    h.send(&ack(&ok, answer));
    assert_eq!(h.media_starts(), 1, "{:?}", h.media);
}

#[test]
fn reinvite_for_hold_is_answered_recvonly() {
    let mut h = Harness::new();
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let ok = h.final_response();
    h.send(&ack(&ok, ""));
    let hold = PCMU_OFFER
        .replace("o=room 1 1", "o=room 1 2")
        .replace("a=fmtp:101 0-15\r\n", "a=fmtp:101 0-15\r\na=sendonly\r\n");
    h.send(&in_dialog(
        "INVITE",
        &ok,
        2,
        "Contact: <sip:board@192.0.2.10:5060>\r\nContent-Type: application/sdp\r\n",
        &hold,
    ));
    let r = h.final_response();
    assert_eq!(r.status(), Some(200));
    assert!(std::str::from_utf8(r.body())
        .unwrap()
        .contains("a=recvonly"));
    // An older CSeq in the dialog is refused.
    h.send(&in_dialog("INFO", &ok, 1, "", ""));
    assert_eq!(h.final_response().status(), Some(500));
}

#[test]
fn requests_for_unknown_dialogs_get_481_and_unknown_methods_405() {
    let mut h = Harness::new();
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let mut ok = h.final_response();
    ok.headers.set(HeaderName::CALL_ID, "nope");
    h.send(&in_dialog("BYE", &ok, 2, "", ""));
    assert_eq!(h.final_response().status(), Some(481));
    h.send(
        "SUBSCRIBE sip:gw SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKs\r\n\
         Max-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:gw>\r\nCall-ID: s1\r\nCSeq: 1 SUBSCRIBE\r\n\
         Content-Length: 0\r\n\r\n",
    );
    assert_eq!(h.final_response().status(), Some(405));
    h.send(&invite_with(
        "sip:12345678.1177958860@gw",
        "c9",
        1,
        "z9hG4bK9",
        "board",
        "Require: 100rel\r\n",
        PCMU_OFFER,
    ));
    assert_eq!(h.final_response().status(), Some(420));
}

#[test]
fn missing_ack_ends_the_call() {
    let mut h = Harness::new();
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    h.take_sent();
    h.advance(Duration::from_secs(33));
    let sent = h.take_sent();
    assert!(
        sent.iter().filter(|m| m.status() == Some(200)).count() >= 5,
        "2xx retransmitted"
    );
    assert!(sent.iter().any(|m| m.method() == Some(&Method::Bye)));
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn trusted_sources_and_pstn_trunks_are_classified() {
    let mut h = Harness::with(
        |dir| {
            dir.add_trusted_device(&key(), &TrustedDeviceRule::cidr("192.0.2.0/24").unwrap())
                .unwrap();
        },
        |_| {},
    );
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(h.view().participants[0].class, ParticipantClass::TrustedVtc);

    let mut h = Harness::with(
        |_| {},
        |c| c.pstn_trunks = vec!["192.0.2.0/24".parse().unwrap()],
    );
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(h.view().lobby[0].class, ParticipantClass::Pstn);
}

#[test]
fn digest_credentials_are_challenged_and_make_the_caller_trusted() {
    let realm = crate::directory::realm_of(&key());
    let mut h = Harness::with(
        |dir| {
            let rule = TrustedDeviceRule::digest("room1:correct horse battery", &realm).unwrap();
            dir.add_trusted_device(&key(), &rule).unwrap();
        },
        |_| {},
    );
    let uri = "sip:12345678.1177958860@gw";
    h.send(&invite_with(
        uri, "c1", 1, "z9hG4bKa", "room1", "", PCMU_OFFER,
    ));
    let challenge = h.final_response();
    assert_eq!(challenge.status(), Some(401));
    let www = challenge
        .headers
        .get(&HeaderName::new("WWW-Authenticate").unwrap())
        .unwrap()
        .to_owned();
    assert!(www.contains(&format!("realm=\"{realm}\"")), "{www}");
    let nonce = www
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    let digest = |password: &str| {
        use md5::{Digest, Md5};
        let h = |s: String| hex::encode(Md5::digest(s.as_bytes()));
        let ha1 = h(format!("room1:{realm}:{password}"));
        let ha2 = h(format!("INVITE:{uri}"));
        let response = h(format!("{ha1}:{nonce}:00000001:abcd:auth:{ha2}"));
        format!(
            "Authorization: Digest username=\"room1\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"abcd\"\r\n"
        )
    };
    h.send(&invite_with(
        uri,
        "c1",
        2,
        "z9hG4bKb",
        "room1",
        &digest("wrong password"),
        PCMU_OFFER,
    ));
    assert_eq!(h.final_response().status(), Some(403));
    h.send(&invite_with(
        uri,
        "c1",
        3,
        "z9hG4bKc",
        "room1",
        &digest("correct horse battery"),
        PCMU_OFFER,
    ));
    assert_eq!(h.final_response().status(), Some(200));
    assert_eq!(h.view().participants[0].class, ParticipantClass::TrustedVtc);

    // Callers that do not claim a credential are not challenged.
    h.send(&invite_with(
        uri,
        "c2",
        1,
        "z9hG4bKd",
        "lobbyroom",
        "",
        PCMU_OFFER,
    ));
    assert_eq!(h.final_response().status(), Some(200));
}

#[test]
fn drain_refuses_new_calls_and_byes_established_ones_after_grace() {
    let mut h = Harness::with(|_| {}, |c| c.drain_grace = Duration::from_secs(5));
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let ok = h.final_response();
    h.send(&ack(&ok, ""));
    h.core.begin_drain(h.now);
    h.send(&invite("sip:12345678.1177958860@gw", "c2"));
    let r = h.final_response();
    assert_eq!(r.status(), Some(503));
    assert_eq!(
        r.headers.get(&HeaderName::new("Retry-After").unwrap()),
        Some("30")
    );
    assert!(!h.core.is_drained());
    h.advance(Duration::from_secs(5));
    let bye = h
        .take_sent()
        .into_iter()
        .find(|m| m.method() == Some(&Method::Bye))
        .unwrap();
    assert!(bye_reason(&bye).contains("cause=503"));
    assert!(!h.core.is_drained(), "the BYE is still in flight");
    let peer = h.peer();
    h.core.handle_datagram(
        h.now,
        &Message::response_to(&bye, 200, None).to_bytes(),
        peer,
    );
    h.advance(Duration::from_secs(10));
    assert!(h.core.is_drained());
}

#[test]
fn policy_changes_in_the_directory_apply_to_the_next_arrival() {
    let mut h = Harness::with(strict_meeting, |_| {});
    h.send(&invite("sip:12345678.2000000@gw", "c1"));
    assert_eq!(h.view_of("12345678", "2000000").lobby.len(), 1);
    h.core
        .directory_mut()
        .update_tenant(
            &key(),
            &TenantUpdate {
                anonymous_can_start: Some(true),
                ..TenantUpdate::default()
            },
        )
        .unwrap();
    h.core
        .directory_mut()
        .update_meeting(
            &key(),
            &ConferenceId::new("2000000").unwrap(),
            &crate::directory::MeetingUpdate {
                who_can_bypass: Some(Some(WhoCanBypass::Everyone)),
                ..Default::default()
            },
        )
        .unwrap();
    h.send(&invite("sip:12345678.2000000@gw", "c2"));
    let view = h.view_of("12345678", "2000000");
    assert_eq!(
        view.participants.len(),
        2,
        "the waiting caller was admitted by the policy change"
    );
}

#[test]
fn responses_follow_rport_to_the_source_port() {
    let mut h = Harness::new();
    let from = Peer {
        transport: Transport::Udp,
        addr: "198.51.100.9:40000".parse::<SocketAddr>().unwrap(),
    };
    h.core.handle_datagram(
        h.now,
        invite("sip:12345678.1177958860@gw", "c1").as_bytes(),
        from,
    );
    let Some(CoreOutput::Transmit { to, .. }) = h.core.poll_output() else {
        panic!()
    };
    assert_eq!(to.addr, from.addr);
}

#[test]
fn live_meetings_are_listed_per_tenant() {
    let mut h = Harness::with(strict_meeting, |_| {});
    h.core
        .add_synthetic(h.now, &key(), &conf(), "Ada Lovelace")
        .unwrap();
    h.send(&invite("sip:12345678.2000000@gw", "c1"));
    let list = |h: &mut Harness, tenant: Option<&str>| match h
        .core
        .handle_admin(
            h.now,
            AdminCommand::ListMeetings {
                tenant: tenant.map(str::to_owned),
            },
        )
        .unwrap()
    {
        AdminReply::Meetings(list) => list,
        other => panic!("{other:?}"),
    };
    let all = list(&mut h, None);
    assert_eq!(
        all,
        [
            MeetingSummary {
                tenant: "12345678".into(),
                conference_id: "1177958860".into(),
                participants: 1,
                lobby: 0
            },
            MeetingSummary {
                tenant: "12345678".into(),
                conference_id: "2000000".into(),
                participants: 0,
                lobby: 1
            },
        ]
    );
    assert!(list(&mut h, Some("87654321")).is_empty());
}

fn licences_in_use(h: &Harness) -> i64 {
    h.metrics
        .licenses_in_use
        .with_label_values(&["12345678", "endpoint"])
        .get()
}

fn two_licences(dir: &mut Directory) {
    strict_meeting(dir);
    dir.update_tenant(
        &key(),
        &TenantUpdate {
            endpoint_licenses: Some(2),
            ..TenantUpdate::default()
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

#[test]
fn calls_beyond_the_endpoint_licence_get_486_and_every_ending_frees_the_licence() {
    let mut h = Harness::with(two_licences, |c| {
        c.lobby_timeout = Some(Duration::from_secs(60))
    });
    assert_eq!(
        h.metrics
            .licenses_total
            .with_label_values(&["12345678", "endpoint"])
            .get(),
        2
    );
    // BYE from the caller.
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let ok1 = h.final_response();
    // Entry queue calls hold a licence too.
    h.send(&invite("sip:12345678@gw", "c2"));
    let ok2 = h.final_response();
    assert_eq!(licences_in_use(&h), 2);
    h.send(&invite("sip:12345678.1177958860@gw", "c3"));
    let busy = h.final_response();
    assert_eq!(busy.status(), Some(486));
    assert_eq!(busy.reason(), Some("Busy Here - licence limit reached"));
    let warning = busy
        .headers
        .get(&HeaderName::new("Warning").unwrap())
        .unwrap();
    assert!(
        warning.contains("endpoint licence limit of 2 reached for tenant 12345678"),
        "{warning}"
    );
    assert_eq!(
        h.metrics
            .calls_refused_total
            .with_label_values(&["12345678", "licence"])
            .get(),
        1
    );

    h.send(&in_dialog("BYE", &ok1, 2, "", ""));
    assert_eq!(licences_in_use(&h), 1, "BYE frees");
    // Entry queue failures (our BYE) free.
    let mut cseq = 2;
    for _ in 0..3 {
        for d in "999999#".chars() {
            h.send(&info_digit(&ok2, cseq, d));
            cseq += 1;
        }
    }
    h.advance(Duration::from_secs(3));
    assert_eq!(licences_in_use(&h), 0, "our BYE frees");

    // Lobby deny and lobby timeout free.
    h.send(&invite("sip:12345678.2000000@gw", "c4"));
    h.send(&invite("sip:12345678.2000000@gw", "c5"));
    assert_eq!(licences_in_use(&h), 2);
    let id = h.view_of("12345678", "2000000").lobby[0].id.clone();
    h.core
        .handle_admin(
            h.now,
            AdminCommand::Deny {
                tenant: "12345678".into(),
                conference: "2000000".into(),
                id,
            },
        )
        .unwrap();
    assert_eq!(licences_in_use(&h), 1, "lobby deny frees");
    h.advance(Duration::from_secs(61));
    assert_eq!(licences_in_use(&h), 0, "lobby timeout frees");

    // A missing ACK (the peer vanished) frees.
    h.send(&invite("sip:12345678.1177958860@gw", "c6"));
    assert_eq!(licences_in_use(&h), 1);
    h.advance(Duration::from_secs(33));
    assert_eq!(licences_in_use(&h), 0, "ACK timeout frees");
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn cancel_and_drain_free_licences_too() {
    let mut h = Harness::with(two_licences, |c| c.ring_time = Duration::from_secs(2));
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(licences_in_use(&h), 1, "a ringing call holds its licence");
    h.send(&cancel_for("c1"));
    assert_eq!(licences_in_use(&h), 0, "CANCEL frees");
    h.send(&invite("sip:12345678.1177958860@gw", "c2"));
    h.advance(Duration::from_secs(2));
    assert_eq!(licences_in_use(&h), 1);
    h.core.begin_drain(h.now);
    h.advance(Duration::from_secs(11));
    assert_eq!(licences_in_use(&h), 0, "drain frees");
}

#[test]
fn gateway_capacity_refuses_with_503_and_retry_after() {
    let mut h = Harness::with(|_| {}, |c| c.max_calls = Some(1));
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    assert_eq!(h.final_response().status(), Some(200));
    h.send(&invite("sip:12345678.1177958860@gw", "c2"));
    let r = h.final_response();
    assert_eq!(r.status(), Some(503));
    assert_eq!(
        r.headers.get(&HeaderName::new("Retry-After").unwrap()),
        Some("5")
    );
    assert_eq!(
        h.metrics
            .calls_refused_total
            .with_label_values(&["-", "capacity"])
            .get(),
        1
    );
}

#[test]
fn call_metrics_are_labelled_by_tenant_route_and_reason() {
    let mut h = Harness::demo();
    h.send(&invite("sip:61177958860@gw", "c1"));
    h.send(&invite("sip:12345678.1111111111@gw", "c2"));
    h.send(&invite_with(
        "sip:12345678.1177958860@gw",
        "c3",
        1,
        "z9hG4bK3",
        "board",
        "",
        G729_OFFER,
    ));
    let text = h.metrics.render();
    for line in [
        "tessera_calls_total{protocol=\"sip\",route=\"prefix\",tenant=\"12345678\"} 1",
        "tessera_calls_active{protocol=\"sip\",tenant=\"12345678\"} 1",
        "tessera_calls_refused_total{reason=\"not-found\",tenant=\"-\"} 1",
        "tessera_calls_refused_total{reason=\"no-common-codec\",tenant=\"12345678\"} 1",
        "tessera_call_setup_seconds_count 1",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    // No per-person labels anywhere (privacy: tenant at most).
    assert!(!text.contains("Board Room") && !text.contains("board@"));
}

#[test]
fn lobby_gauge_and_wait_histogram_follow_the_lobby() {
    let mut h = Harness::with(strict_meeting, |_| {});
    h.send(&invite("sip:12345678.2000000@gw", "c1"));
    let waiting = |h: &Harness| {
        h.metrics
            .lobby_waiting
            .with_label_values(&["12345678"])
            .get()
    };
    assert_eq!(waiting(&h), 1);
    h.advance(Duration::from_secs(7));
    let id = h.view_of("12345678", "2000000").lobby[0].id.clone();
    h.core
        .handle_admin(
            h.now,
            AdminCommand::Admit {
                tenant: "12345678".into(),
                conference: "2000000".into(),
                id,
            },
        )
        .unwrap();
    assert_eq!(waiting(&h), 0);
    let hist = h
        .metrics
        .lobby_wait_seconds
        .with_label_values(&["12345678"]);
    assert_eq!(hist.get_sample_count(), 1);
    assert!((hist.get_sample_sum() - 7.0).abs() < 0.01);
}

#[test]
fn content_length_beyond_the_datagram_gets_400() {
    let mut h = Harness::new();
    let text = invite("sip:12345678.1177958860@gw", "c1");
    let head = text.split("\r\n\r\n").next().unwrap();
    let broken = format!(
        "{}\r\n\r\nv=0\r\n",
        head.replace(
            &format!("Content-Length: {}", PCMU_OFFER.len()),
            "Content-Length: 4000"
        )
    );
    h.send(&broken);
    let r = h.final_response();
    assert_eq!(r.status(), Some(400));
    assert_eq!(
        r.reason(),
        Some("Bad Request - Content-Length exceeds datagram")
    );
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn a_peer_that_goes_silent_is_hung_up_and_frees_its_licence() {
    let mut h = Harness::demo();
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let ok = h.final_response();
    h.send(&ack(&ok, ""));
    assert_eq!(licences_in_use(&h), 1);
    let CoreOutput::MediaStart { call, .. } = h.media[0].clone() else {
        panic!("{:?}", h.media)
    };
    h.core.handle_media_event(h.now, call, MediaEvent::Inactive);
    h.collect();
    let bye = h.take_sent().pop().unwrap();
    assert!(
        bye_reason(&bye).contains("cause=408"),
        "{}",
        bye_reason(&bye)
    );
    assert_eq!(licences_in_use(&h), 0, "a crashed peer frees its licence");
    assert!(h.callers().is_empty());
}

#[test]
fn measured_encoder_overload_refuses_new_calls_until_it_clears() {
    let mut h = Harness::demo();
    h.core.set_overloaded(true);
    h.send(&invite("sip:12345678.1177958860@gw", "c1"));
    let r = h.final_response();
    assert_eq!(r.status(), Some(503));
    assert_eq!(
        r.headers.get(&HeaderName::new("Retry-After").unwrap()),
        Some("5")
    );
    h.core.set_overloaded(false);
    h.send(&invite("sip:12345678.1177958860@gw", "c2"));
    assert_eq!(h.final_response().status(), Some(200));
}

/// The in-call DTMF controls the core asked for, in order.
fn controls(h: &Harness) -> Vec<MediaControl> {
    h.media
        .iter()
        .filter_map(|m| match m {
            CoreOutput::MediaControl { control, .. } => Some(*control),
            _ => None,
        })
        .collect()
}

fn press(h: &mut Harness, call: CallId, digits: &str) {
    for d in digits.chars() {
        h.core
            .handle_media_event(h.now, call, MediaEvent::Dtmf(DtmfDigit(d)));
    }
    h.collect();
}

fn direct_dial(h: &mut Harness) -> CallId {
    h.send(&invite("sip:12345678.1177958860@gw.example.com", "c1"));
    let CoreOutput::MediaStart { call, .. } = h.media[0].clone() else {
        panic!("{:?}", h.media)
    };
    assert_eq!(h.callers().len(), 1);
    call
}

#[test]
fn star_six_toggles_the_callers_mute() {
    let mut h = Harness::demo();
    let call = direct_dial(&mut h);
    press(&mut h, call, "*6");
    assert_eq!(controls(&h), [MediaControl::Mute(true)]);
    press(&mut h, call, "*6");
    assert_eq!(
        controls(&h),
        [MediaControl::Mute(true), MediaControl::Mute(false)]
    );
    assert!(h.media.iter().all(|m| match m {
        CoreOutput::MediaControl { call: c, .. } => *c == call,
        _ => true,
    }));
}

#[test]
fn star_eight_cycles_the_layout() {
    let mut h = Harness::demo();
    let call = direct_dial(&mut h);
    press(&mut h, call, "*8*8*8*8");
    assert_eq!(
        controls(&h),
        [
            MediaControl::Layout(LayoutMode::LargePlus7),
            MediaControl::Layout(LayoutMode::Grid2x2),
            MediaControl::Layout(LayoutMode::Speaker),
            MediaControl::Layout(LayoutMode::Grid),
        ]
    );
}

#[test]
fn meeting_digits_without_star_do_nothing() {
    let mut h = Harness::demo();
    let call = direct_dial(&mut h);
    press(&mut h, call, "68#6 8");
    // A star followed by another digit is dropped, and the star does not linger.
    press(&mut h, call, "*56");
    assert_eq!(controls(&h), []);
    // `**6`: the second star starts over, so this is still `*6`.
    press(&mut h, call, "**6");
    assert_eq!(controls(&h), [MediaControl::Mute(true)]);
}

#[test]
fn sip_info_digits_drive_the_in_call_controls() {
    let mut h = Harness::demo();
    h.send(&invite("sip:12345678.1177958860@gw.example.com", "c1"));
    let ok = h.final_response();
    for (i, d) in "*8".chars().enumerate() {
        h.send(&info_digit(&ok, 2 + i as u32, d));
        assert_eq!(h.codes(), [200]);
    }
    assert_eq!(controls(&h), [MediaControl::Layout(LayoutMode::LargePlus7)]);
}

#[test]
fn entry_queue_digits_are_not_in_call_controls() {
    let mut h = Harness::demo();
    h.send(&invite("sip:12345678@gw.example.com", "c1"));
    let CoreOutput::MediaStart { call, .. } = h.media[0].clone() else {
        panic!("{:?}", h.media)
    };
    // In the entry queue `*` still clears what was typed, and `*6`/`*8` are no controls.
    press(&mut h, call, "*6*8");
    press(&mut h, call, "99*1177958860#");
    assert_eq!(h.callers().len(), 1);
    assert_eq!(controls(&h), []);
    press(&mut h, call, "*6");
    assert_eq!(controls(&h), [MediaControl::Mute(true)]);
}

mod endings;
mod slates;
mod synthetic;

fn calls_active_gauge(h: &Harness) -> i64 {
    h.metrics
        .calls_active
        .with_label_values(&["12345678", "sip"])
        .get()
}

/// `request` with a branch of its own dialog (`in_dialog` derives the branch from method and
/// CSeq only, so two calls' BYEs would look like one transaction).
fn unique(request: &str, ok: &Message) -> String {
    let call_id = ok.call_id().unwrap();
    request.replacen("branch=z9hG4bK-", &format!("branch=z9hG4bK-{call_id}-"), 1)
}

/// The soak test once read 12-14 calls where its fleet meant to hold 4 (the fleet had drifted,
/// the gateway was right): this pins the gauge to the calls that really exist through every way
/// calls come, go and come again.
#[test]
fn calls_active_follows_the_real_calls_through_joins_leaves_and_reinvites() {
    let mut h = Harness::demo();
    let uri = "sip:12345678.1177958860@gw";
    let mut oks = Vec::new();
    let check = |h: &Harness, expected: usize, what: &str| {
        assert_eq!(h.core.active_calls(), expected, "{what}: calls");
        assert_eq!(
            calls_active_gauge(h),
            i64::try_from(expected).unwrap(),
            "{what}: gauge"
        );
    };
    for n in 0..4 {
        let call_id = format!("j{n}");
        h.send(&invite(uri, &call_id));
        // The INVITE again before and after our 200 (the caller did not see it yet).
        h.send(&invite(uri, &call_id));
        let ok = h.final_response();
        assert_eq!(ok.status(), Some(200));
        h.send(&invite(uri, &call_id));
        h.send(&ack(&ok, ""));
        h.send(&invite(uri, &call_id));
        h.take_sent();
        oks.push(ok);
    }
    check(&h, 4, "four joins, INVITEs retransmitted");
    // Re-INVITEs (hold, resume) and their retransmissions change no count.
    for (i, ok) in oks.iter().enumerate() {
        let sdp = PCMU_OFFER.replace("o=room 1 1", "o=room 1 2");
        let reinvite = unique(
            &in_dialog(
                "INVITE",
                ok,
                2,
                "Contact: <sip:board@192.0.2.10:5060>\r\nContent-Type: application/sdp\r\n",
                &sdp,
            ),
            ok,
        );
        h.send(&reinvite);
        h.send(&reinvite);
        let r = h.final_response();
        assert_eq!(r.status(), Some(200), "re-INVITE {i}");
        h.send(&unique(&in_dialog("ACK", ok, 2, "", ""), ok));
    }
    check(&h, 4, "after re-INVITEs");
    // Churn: one leaves (BYE, retransmitted), a new one joins, for a while, past every
    // transaction timer.
    for n in 0..12 {
        let gone = oks.remove(0);
        let bye = unique(&in_dialog("BYE", &gone, 3, "", ""), &gone);
        h.send(&bye);
        assert_eq!(h.final_response().status(), Some(200));
        h.send(&bye);
        check(&h, 3, "one left");
        h.advance(Duration::from_secs(5));
        let call_id = format!("r{n}");
        h.send(&invite(uri, &call_id));
        let ok = h.final_response();
        h.send(&ack(&ok, ""));
        oks.push(ok);
        check(&h, 4, "one rejoined");
        h.advance(Duration::from_secs(5));
    }
    h.advance(Duration::from_secs(64));
    check(&h, 4, "after every transaction timer");
    for ok in &oks {
        h.send(&unique(&in_dialog("BYE", ok, 3, "", ""), ok));
    }
    h.advance(Duration::from_secs(64));
    check(&h, 0, "everyone hung up");
}
