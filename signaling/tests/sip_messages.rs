//! Every SIP capture under `tests/data/sip/` (room systems from Poly, Cisco, Lifesize and Tandberg,
//! and RFC 4475 torture messages): valid ones parse to the right values and round-trip, invalid
//! ones give the typed error a 400 is built from. Then the invariants, by proptest: the parser
//! never panics, built messages round-trip, and stream framing ignores how bytes were chunked.

use std::path::PathBuf;

use proptest::prelude::*;
use signaling::dial::DialUser;
use signaling::sip::{
    Framed, HeaderName, Limits, Message, Method, NameAddr, Rport, SipError, StreamFramer, Via,
};
use signaling::DialString;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sip")
}

fn capture(name: &str) -> Vec<u8> {
    let path = data_dir().join(format!("{name}.sip"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(name: &str) -> Message {
    Message::parse(&capture(name)).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

const VALID: &[&str] = &[
    "polycom-group500-invite",
    "cisco-roomkit-invite-compact",
    "lifesize-icon600-invite-ipv6-folded",
    "tandberg-mxp-200ok-latin1",
    "poly-options-keepalive",
    "rfc4475-wsinv",
    "rfc4475-intmeth",
    "rfc4475-esc01",
    "rfc4475-lwsdisp",
    "rfc4475-longreq",
    "rfc4475-dblreq",
    "rfc4475-bcast",
    "rfc4475-noreason",
    "rfc4475-unreason",
    "rfc4475-inv2543",
];

const INVALID: &[(&str, SipError)] = &[
    ("rfc4475-clerr", SipError::ContentLengthExceedsDatagram),
    ("rfc4475-ncl", SipError::BadContentLength),
    ("rfc4475-insuf", SipError::Missing("From")),
    ("rfc4475-mcl01", SipError::Duplicate("Content-Length")),
    ("rfc4475-badvers", SipError::UnsupportedVersion),
    ("rfc4475-scalar02", SipError::BadHeader("CSeq")),
    ("rfc4475-quotbal", SipError::BadHeader("To")),
    ("rfc4475-ltgtruri", SipError::BadRequestUri),
    ("rfc4475-lwsruri", SipError::BadRequestUri),
    ("rfc4475-lwsstart", SipError::BadRequestUri),
    ("rfc4475-baddn", SipError::BadHeader("From")),
    ("rfc4475-mismatch01", SipError::CSeqMethodMismatch),
    ("rfc4475-bigcode", SipError::BadStatusCode),
];

#[test]
fn every_capture_on_disk_is_listed_here() {
    let mut on_disk: Vec<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".sip").map(str::to_owned))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = VALID
        .iter()
        .map(|n| n.to_string())
        .chain(INVALID.iter().map(|(n, _)| n.to_string()))
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn valid_captures_parse_and_round_trip() {
    for name in VALID {
        let message = parse(name);
        let again = Message::parse(&message.to_bytes())
            .unwrap_or_else(|e| panic!("{name} did not re-parse: {e:?}"));
        assert_eq!(again, message, "{name}");
    }
}

#[test]
fn invalid_captures_give_typed_errors_fit_for_a_400() {
    for (name, expected) in INVALID {
        let error = Message::parse(&capture(name)).expect_err(name);
        assert_eq!(&error, expected, "{name}");
        let reason = error.to_string();
        assert!(
            !reason.is_empty() && !reason.contains(['\r', '\n']),
            "{name}: {reason:?}"
        );
    }
    assert_eq!(SipError::UnsupportedVersion.status_code(), 505);
}

#[test]
fn invalid_requests_can_still_be_answered_with_a_400() {
    let bytes = capture("rfc4475-mismatch01");
    let error = Message::parse(&bytes).unwrap_err();
    let request = Message::parse_unvalidated(&bytes, &Limits::DEFAULT).unwrap();
    let response = Message::response_to(&request, error.status_code(), Some("gw1"))
        .with_reason(error.to_string());
    assert_eq!(response.status(), Some(400));
    assert_eq!(response.reason(), Some("CSeq method does not match"));
    assert_eq!(response.call_id().unwrap(), "mismatch01.dj0234sxdfl3");
    assert_eq!(response.to().unwrap().tag(), Some("gw1"));
}

/// Issue 18, item 4: a request whose request line is broken (`lwsstart`: `INVITE  sip:...`,
/// `lwsruri`, `ltgtruri`, `badvers`) still has readable headers, so it gets its 400 (or 505).
#[test]
fn every_invalid_request_capture_can_be_answered() {
    for (name, expected) in INVALID {
        let bytes = capture(name);
        if bytes.starts_with(b"SIP/") {
            // A broken response is never answered.
            continue;
        }
        let Ok(request) = Message::parse_unvalidated(&bytes, &Limits::DEFAULT) else {
            // Only Content-Length errors are left to the caller's retry without that header (see
            // the gateway's `headers_only`); a start line never stops the answer.
            assert!(
                matches!(
                    expected,
                    SipError::ContentLengthExceedsDatagram
                        | SipError::BadContentLength
                        | SipError::Duplicate("Content-Length")
                ),
                "{name}: {expected:?}"
            );
            continue;
        };
        let response = Message::response_to(&request, expected.status_code(), Some("gw1"));
        assert!(request.method().is_some(), "{name}");
        assert_eq!(
            response.headers.get(&HeaderName::VIA),
            request.headers.get(&HeaderName::VIA),
            "{name}"
        );
        assert_eq!(
            response.headers.get(&HeaderName::CSEQ),
            request.headers.get(&HeaderName::CSEQ),
            "{name}"
        );
    }
}

#[test]
fn polycom_group_series_invite() {
    let m = parse("polycom-group500-invite");
    assert_eq!(m.method(), Some(&Method::Invite));
    let dial = DialString::parse(m.request_uri().unwrap()).unwrap();
    assert_eq!(
        dial.user,
        DialUser::Pair("12345678".into(), "1177958860".into())
    );
    let via = m.top_via().unwrap();
    assert_eq!((via.transport.as_str(), via.port), ("TCP", Some(5060)));
    assert_eq!(via.rport(), Rport::Requested);
    let from = m.from().unwrap();
    assert_eq!(from.display_name.as_deref(), Some("Boardroom Oslo"));
    assert_eq!(from.tag(), Some("plcm_3112983705-1447"));
    assert_eq!(m.headers.list(&HeaderName::ALLOW).count(), 11);
    assert!(m.headers.list(&HeaderName::SUPPORTED).any(|s| s == "timer"));
    assert_eq!(m.content_type(), Some("application/sdp"));
    assert!(m.body.starts_with(b"v=0\r\n") && m.body.ends_with(b"a=sendrecv\r\n"));
}

#[test]
fn cisco_room_kit_invite_with_compact_headers() {
    let m = parse("cisco-roomkit-invite-compact");
    assert_eq!(m.call_id().unwrap(), "5c1a7e3f0b9d2c4e8a6f1d3b5e7c9a2f");
    assert_eq!(m.top_via().unwrap().transport, "TLS");
    assert_eq!(m.to().unwrap().uri, "sip:1177958860@video.acme.example");
    let contact = m.contact().unwrap();
    assert_eq!(contact.len(), 1);
    assert_eq!(
        contact[0].params.value("+sip.instance").as_deref(),
        Some("<urn:uuid:7a4c3e19-0d2b-4e8f-a6c1-5b9d2f0e3c47>")
    );
    assert_eq!(
        m.headers.get(&HeaderName::SESSION_EXPIRES),
        Some("500;refresher=uac")
    );
    assert_eq!(m.headers.list(&HeaderName::SUPPORTED).count(), 11);
    assert_eq!(
        m.headers.get(&HeaderName::new("Allow-Events").unwrap()),
        Some("kpml,dialog")
    );
    assert_eq!(m.content_length(), m.body.len());
    assert!(m.content_length() > 0);
}

#[test]
fn lifesize_invite_over_ipv6_with_folded_lines() {
    let m = parse("lifesize-icon600-invite-ipv6-folded");
    let via = m.top_via().unwrap();
    assert_eq!(
        (via.host.as_str(), via.port),
        ("[2001:db8:10::25]", Some(5060))
    );
    assert_eq!(via.branch(), Some("z9hG4bK-ls-2f8c1a77"));
    let from = m.from().unwrap();
    assert_eq!(from.display_name.as_deref(), Some("Huddle 3"));
    assert_eq!(from.tag(), Some("ls-1e6a"));
    assert_eq!(
        m.contact().unwrap()[0].uri,
        "sip:huddle3@[2001:db8:10::25]:5060"
    );
    let supported: Vec<_> = m.headers.list(&HeaderName::SUPPORTED).collect();
    assert_eq!(supported, ["replaces", "timer"]);
}

#[test]
fn tandberg_200_ok_with_record_routes_and_latin1_name() {
    let m = parse("tandberg-mxp-200ok-latin1");
    assert_eq!((m.status(), m.reason()), (Some(200), Some("OK")));
    assert_eq!(m.cseq().unwrap().method, Method::Invite);
    let routes: Vec<_> = m
        .record_route()
        .unwrap()
        .into_iter()
        .map(|r| r.uri)
        .collect();
    assert_eq!(
        routes,
        [
            "sip:proxy2.example.net;lr",
            "sip:proxy1.example.net;lr",
            "sip:[2001:db8::1]:5061;transport=tls;lr"
        ]
    );
    let to = m.to().unwrap();
    assert_eq!(
        to.display_name.as_deref(),
        Some("Meeting Room Troms\u{FFFD}")
    );
    assert_eq!(to.tag(), Some("5f3c1a"));
    assert_eq!(m.top_via().unwrap().received(), Some("203.0.113.5"));
}

#[test]
fn options_keepalive_with_zero_max_forwards() {
    let m = parse("poly-options-keepalive");
    assert_eq!(m.method(), Some(&Method::Options));
    assert_eq!(m.max_forwards().unwrap(), Some(0));
    assert!(m.body.is_empty());
    let response = Message::response_to(&m, 200, Some("gw-opt"));
    let response = Message::parse(&response.to_bytes()).unwrap();
    assert_eq!(response.to().unwrap().tag(), Some("gw-opt"));
    assert_eq!(response.top_via().unwrap(), m.top_via().unwrap());
}

#[test]
fn rfc4475_wsinv_short_tortuous_invite() {
    let m = parse("rfc4475-wsinv");
    assert_eq!(
        m.request_uri(),
        Some("sip:vivekg@chair-dnrc.example.com;unknownparam")
    );
    assert_eq!(m.to().unwrap().tag(), Some("1918181833n"));
    let from = m.from().unwrap();
    assert_eq!(from.display_name.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(m.max_forwards().unwrap(), Some(68));
    assert_eq!(m.cseq().unwrap().seq, 9);
    let vias = m.via().unwrap();
    let hosts: Vec<_> = vias
        .iter()
        .map(|v| (v.transport.as_str(), v.host.as_str()))
        .collect();
    assert_eq!(
        hosts,
        [
            ("UDP", "192.0.2.2"),
            ("TCP", "spindle.example.com"),
            ("UDP", "192.168.255.111")
        ]
    );
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    assert_eq!(
        m.headers.get(&HeaderName::new("newfangledheader").unwrap()),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(
        m.headers.get(&HeaderName::new("Subject").unwrap()),
        Some("")
    );
    let contact = &m.contact().unwrap()[0];
    assert_eq!(contact.display_name.as_deref(), Some("Quoted string \"\""));
    assert_eq!(contact.params.get("q"), Some(Some("0.33")));
    assert!(m.route().unwrap()[0].params.is_empty());
    assert_eq!(m.body.len(), 150);
}

#[test]
fn rfc4475_intmeth_wide_range_of_valid_characters() {
    let m = parse("rfc4475-intmeth");
    let Some(Method::Other(method)) = m.method() else {
        panic!("extension method expected");
    };
    assert_eq!(method, "!interesting-Method0123456789_*+`.%indeed'~");
    let to = m.to().unwrap();
    assert_eq!(
        to.display_name.as_deref(),
        Some("BEL:\u{7} NUL:\u{0} DEL:\u{7f}")
    );
    let from = m.from().unwrap();
    assert_eq!(
        from.display_name.as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(
        from.params.value("fromParam''~+*_!.-%").as_deref(),
        Some("работающий")
    );
    assert_eq!(
        m.call_id().unwrap(),
        "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    );
    assert_eq!(
        m.headers
            .get(&HeaderName::new("extensionHeader-!.%*+_`'~").unwrap()),
        Some("大停電")
    );
}

#[test]
fn rfc4475_esc01_lwsdisp_and_inv2543() {
    let m = parse("rfc4475-esc01");
    assert_eq!(m.call_id().unwrap(), "esc01.239409asdfakjkn23onasd0-3234");
    assert_eq!(m.content_type(), Some("application/sdp"));
    assert_eq!(m.to().unwrap().uri, "sip:%75se%72@example.com");

    let m = parse("rfc4475-lwsdisp");
    assert_eq!(m.from().unwrap().display_name.as_deref(), Some("caller"));

    let m = parse("rfc4475-inv2543");
    assert_eq!(m.top_via().unwrap().branch(), None);
    assert_eq!(m.from().unwrap().tag(), None);
    assert_eq!(m.max_forwards().unwrap(), None);
}

#[test]
fn rfc4475_longreq_long_values() {
    let m = parse("rfc4475-longreq");
    assert_eq!(m.via().unwrap().len(), 34);
    assert_eq!(m.from().unwrap().tag().map(str::len), Some(403));
    assert!(m.to().unwrap().display_name.unwrap().len() > 300);
    assert!(m.headers.iter().any(|h| h.name.as_str().len() > 160));
}

#[test]
fn rfc4475_dblreq_keeps_only_the_first_request_of_a_datagram() {
    let m = parse("rfc4475-dblreq");
    assert_eq!(m.method(), Some(&Method::Register));
    assert!(m.body.is_empty());
    // On a stream the same bytes are two messages.
    let mut framer = StreamFramer::default();
    framer.push(&capture("rfc4475-dblreq"));
    let methods: Vec<_> = std::iter::from_fn(|| framer.poll().unwrap())
        .map(|f| match f {
            Framed::Message(m) => m.method().cloned(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(methods, [Some(Method::Register), Some(Method::Invite)]);
}

#[test]
fn rfc4475_responses_bcast_noreason_unreason() {
    let m = parse("rfc4475-bcast");
    assert_eq!(m.via().unwrap()[1].host, "255.255.255.255");
    let m = parse("rfc4475-noreason");
    assert_eq!((m.status(), m.reason()), (Some(100), Some("")));
    let m = parse("rfc4475-unreason");
    assert_eq!(
        m.reason(),
        Some("= 2**3 * 5**2 но сто девяносто девять - простое")
    );
}

#[test]
fn every_valid_capture_frames_the_same_on_a_stream() {
    for name in VALID.iter().filter(|n| **n != "rfc4475-dblreq") {
        let mut framer = StreamFramer::default();
        let bytes = capture(name);
        framer.push(&bytes);
        assert_eq!(
            framer.poll(),
            Ok(Some(Framed::Message(parse(name)))),
            "{name}"
        );
        assert_eq!(framer.poll(), Ok(None), "{name}");
    }
}

// ---- proptest invariants ----

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,11}"
}

fn display_name() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[ -~\u{e0}-\u{ff}]{0,20}")
}

fn name_addr() -> impl Strategy<Value = NameAddr> {
    (
        display_name(),
        token(),
        "[a-z]{1,8}\\.example",
        proptest::option::of(token()),
    )
        .prop_map(|(name, user, host, tag)| {
            let mut addr = NameAddr::new(format!("sip:{user}@{host}"));
            addr.display_name = name;
            if let Some(tag) = tag {
                addr.set_tag(&tag);
            }
            addr
        })
}

fn via() -> impl Strategy<Value = Via> {
    (
        prop_oneof![Just("UDP"), Just("TCP"), Just("TLS")],
        prop_oneof![
            "[a-z]{1,10}\\.example".prop_map(|h| h),
            any::<[u8; 4]>().prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
            any::<[u16; 8]>().prop_map(|s| format!("[{}]", std::net::Ipv6Addr::from(s))),
        ],
        proptest::option::of(any::<u16>()),
        token(),
        prop_oneof![
            Just(None),
            Just(Some(None)),
            any::<u16>().prop_map(|p| Some(Some(p)))
        ],
    )
        .prop_map(|(transport, host, port, branch, rport)| {
            let mut via = Via::new(transport, &host, port, &format!("z9hG4bK{branch}"));
            if let Some(rport) = rport {
                via.params.set("rport", rport.map(|p| p.to_string()));
            }
            via
        })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Invite),
        Just(Method::Ack),
        Just(Method::Bye),
        Just(Method::Options),
        Just(Method::Info),
        token().prop_map(|t| Method::parse(&t).unwrap()),
    ]
}

prop_compose! {
    fn message()(
        request in any::<bool>(),
        method in method(),
        user in "[0-9]{1,12}",
        code in 100u16..700,
        reason in "[ -~]{0,20}",
        vias in proptest::collection::vec(via(), 1..4),
        from in name_addr(),
        to in name_addr(),
        call_id in token(),
        seq in any::<u32>(),
        extra in proptest::collection::vec(("X-[A-Za-z0-9-]{1,10}", "[!-~]([ -~]{0,30}[!-~])?"), 0..4),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) -> Message {
        let mut m = if request {
            Message::request(method.clone(), format!("sip:{user}@gw.example.com"))
        } else {
            Message::response(code, reason.trim())
        };
        for via in vias {
            m.headers.push(HeaderName::VIA, via.to_string());
        }
        m.headers.push(HeaderName::FROM, from.to_string());
        m.headers.push(HeaderName::TO, to.to_string());
        m.headers.push(HeaderName::CALL_ID, call_id);
        m.headers.push(HeaderName::CSEQ, format!("{seq} {method}"));
        for (name, value) in extra {
            m.headers.push(HeaderName::new(&name).unwrap(), value);
        }
        if !body.is_empty() {
            m = m.with_body("application/octet-stream", body);
        }
        m
    }
}

proptest! {
    #[test]
    fn parser_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Message::parse(&bytes);
        let mut framer = StreamFramer::default();
        framer.push(&bytes);
        while let Ok(Some(_)) = framer.poll() {}
    }

    #[test]
    fn parser_never_panics_on_mutated_captures(
        index in 0..VALID.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = capture(VALID[index]);
        for (at, byte) in edits {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        if let Ok(m) = Message::parse(&bytes) {
            prop_assert_eq!(Message::parse(&m.to_bytes()), Ok(m));
        }
    }

    #[test]
    fn built_messages_round_trip(m in message()) {
        let parsed = Message::parse(&m.to_bytes());
        prop_assert_eq!(parsed.as_ref(), Ok(&m));
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.from().unwrap().to_string(), m.headers.get(&HeaderName::FROM).unwrap());
        prop_assert_eq!(parsed.via().unwrap().len(), m.headers.count(&HeaderName::VIA));
    }

    #[test]
    fn framing_does_not_depend_on_chunking(
        messages in proptest::collection::vec(message(), 1..5),
        keepalives in proptest::collection::vec(0usize..3, 5),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut stream = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            stream.extend(std::iter::repeat_n(b"\r\n\r\n".as_slice(), keepalives[i]).flatten());
            m.write_to(&mut stream);
        }
        let whole = frame_all(&[&stream]);
        let expected: Vec<_> = messages.iter().map(|m| Ok(Framed::Message(m.clone()))).collect();
        let messages_only: Vec<_> = whole.iter().filter(|f| !matches!(f, Ok(Framed::Ping))).cloned().collect();
        prop_assert_eq!(messages_only, expected);

        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.index(stream.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for cut in cuts {
            chunks.push(&stream[last..cut]);
            last = cut;
        }
        chunks.push(&stream[last..]);
        prop_assert_eq!(frame_all(&chunks), whole);
    }
}

fn frame_all(chunks: &[&[u8]]) -> Vec<Result<Framed, SipError>> {
    let mut framer = StreamFramer::default();
    let mut out = Vec::new();
    for chunk in chunks {
        framer.push(chunk);
        loop {
            match framer.poll() {
                Ok(Some(framed)) => out.push(Ok(framed)),
                Ok(None) => break,
                Err(error) => {
                    out.push(Err(error));
                    return out;
                }
            }
        }
    }
    out
}
