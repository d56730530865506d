//! Raw RFC 3261 traffic the way real peers send it (issue 18): unsupported URI schemes and broken
//! request lines get the status RFC 3261 asks for, with a reason.

use super::*;

#[test]
fn unsupported_uri_scheme_gets_416_whatever_the_to_header_says() {
    for uri in [
        "xmpp:room@host",
        "tel:+15551234567",
        "mailto:room@acme.example",
    ] {
        let mut h = Harness::demo();
        // The To names the demo meeting; the Request-URI still decides (§8.2.2.1).
        let text = invite(uri, "s1").replace(
            &format!("To: <{uri}>"),
            "To: <sip:12345678.1177958860@gw.example.com>",
        );
        h.send(&text);
        let r = h.final_response();
        assert_eq!(r.status(), Some(416), "{uri}");
        assert_eq!(r.reason(), Some("Unsupported URI Scheme"), "{uri}");
        let scheme = uri.split(':').next().unwrap();
        assert_eq!(
            r.headers.get(&HeaderName::new("Reason").unwrap()),
            Some(format!("SIP;cause=416;text=\"{scheme} URIs cannot dial a meeting\"").as_str()),
        );
        assert_eq!(h.core.active_calls(), 0);
    }
    // The schemes that do dial still do, in any case.
    let mut h = Harness::demo();
    h.send(&invite("SIP:12345678.1177958860@gw.example.com", "s2"));
    assert_eq!(h.final_response().status(), Some(200));
}

#[test]
fn broken_request_lines_get_400_with_the_reason_when_the_via_is_readable() {
    let bye = |line: &str| {
        format!(
            "{line}\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-b1;rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:board@192.0.2.10>;tag=vtc1\r\n\
             To: <sip:12345678.1177958860@gw>;tag=x\r\nCall-ID: b1\r\nCSeq: 2 BYE\r\n\
             Content-Length: 0\r\n\r\n"
        )
    };
    for (line, code, reason) in [
        ("BYE  SIP/2.0", 400, "Bad Request - Bad Request-URI"),
        ("BYE sip:gw  SIP/2.0", 400, "Bad Request - Bad Request-URI"),
        ("BYE sip:gw", 400, "Bad Request - Bad start line"),
        (
            "BYE sip:gw SIP/3.0",
            505,
            "Version Not Supported - Version Not Supported",
        ),
    ] {
        let mut h = Harness::new();
        h.send(&bye(line));
        let r = h.final_response();
        assert_eq!(r.status(), Some(code), "{line:?}");
        assert_eq!(r.reason(), Some(reason), "{line:?}");
        assert_eq!(r.call_id().unwrap(), "b1");
        assert_eq!(r.cseq().unwrap().method, Method::Bye);
    }
    // Still nothing for what cannot be answered: no Via, an ACK, or a broken response.
    let mut h = Harness::new();
    h.send("BYE  SIP/2.0\r\nCall-ID: b2\r\n\r\n");
    h.send(&bye("ACK  SIP/2.0").replace("CSeq: 2 BYE", "CSeq: 2 ACK"));
    h.send(&bye("SIP/2.0 2000 OK"));
    assert!(h.take_sent().is_empty());
}
