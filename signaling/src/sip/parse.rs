//! Bytes to [`Message`]: the start line, header lines (with folding), Content-Length and body.
//! Syntax only; [`Message::validate`] checks the headers a message needs. Every loop is bounded
//! by the input, and the input by [`Limits`].

use super::header::{is_token_byte, HeaderName, Headers};
use super::message::{Message, Method, StartLine};
use super::{Limits, SipError};

/// The next line from `pos`: its bytes without the line end (LF, or CRLF: bare LF is accepted
/// from sloppy senders) and where the following line starts. `None` if no LF follows.
pub(super) fn next_line(input: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = input.get(pos..)?;
    let newline = rest.iter().position(|&b| b == b'\n')?;
    let line = &rest[..newline];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, pos + newline + 1))
}

fn trim_lws(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// Where the message starts: CRLFs before the start line are ignored (RFC 3261 §7.5).
fn skip_leading_newlines(input: &[u8]) -> usize {
    input
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(input.len())
}

/// How strictly the start line is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StartLineMode {
    /// The RFC 3261 grammar: a bad request line is an error.
    Strict,
    /// A request line with a valid method but a broken Request-URI or version (`BYE  SIP/2.0`)
    /// is kept, its URI as whatever stood between method and version, so the headers can still be
    /// read and the request answered with a 400 (RFC 3261 §21.4.1). Never used for a message that
    /// is acted on.
    Salvage,
}

pub(super) fn parse_message(
    input: &[u8],
    limits: &Limits,
    mode: StartLineMode,
) -> Result<Message, SipError> {
    if input.len() > limits.max_message_len {
        return Err(SipError::TooLarge);
    }
    let pos = skip_leading_newlines(input);
    let (line, pos) = next_line(input, pos).ok_or(SipError::Truncated)?;
    if line.len() > limits.max_header_line_len {
        return Err(SipError::HeaderLineTooLong);
    }
    let start = match (parse_start_line(line), mode) {
        (Ok(start), _) => start,
        (Err(error), StartLineMode::Strict) => return Err(error),
        (Err(error), StartLineMode::Salvage) => salvage_request_line(line).ok_or(error)?,
    };
    let (mut headers, body_start) = parse_headers(input, pos, limits)?;

    let mut content_length = None;
    for value in headers.get_all(&HeaderName::CONTENT_LENGTH) {
        let length = parse_content_length(value)?;
        if content_length.is_some_and(|previous| previous != length) {
            return Err(SipError::Duplicate("Content-Length"));
        }
        content_length = Some(length);
    }
    headers.remove(&HeaderName::CONTENT_LENGTH);

    let available = input.len() - body_start;
    let body_len = match content_length {
        Some(length) if length > available => return Err(SipError::ContentLengthExceedsDatagram),
        Some(length) => length,
        None => available,
    };
    Ok(Message {
        start,
        headers,
        body: input[body_start..body_start + body_len].to_vec(),
    })
}

/// Content-Length: decimal digits only (no sign), saturating at `usize::MAX` so an absurd value
/// is reported as too long rather than as an overflow.
pub(super) fn parse_content_length(value: &str) -> Result<usize, SipError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SipError::BadContentLength);
    }
    Ok(value.bytes().fold(0usize, |n, digit| {
        n.saturating_mul(10)
            .saturating_add(usize::from(digit - b'0'))
    }))
}

/// Header lines from `pos` to the empty line; returns them and where the body starts.
fn parse_headers(
    input: &[u8],
    mut pos: usize,
    limits: &Limits,
) -> Result<(Headers, usize), SipError> {
    let mut fields: Vec<(HeaderName, Vec<u8>)> = Vec::new();
    loop {
        let (line, next) = next_line(input, pos).ok_or(SipError::Truncated)?;
        pos = next;
        if line.is_empty() {
            break;
        }
        if line.contains(&b'\r') {
            return Err(SipError::BadHeaderLine);
        }
        if line.len() > limits.max_header_line_len {
            return Err(SipError::HeaderLineTooLong);
        }
        if matches!(line[0], b' ' | b'\t') {
            // Folding: a continuation line joins the previous field with one space.
            let (name, value) = fields.last_mut().ok_or(SipError::BadHeaderLine)?;
            let more = trim_lws(line);
            if !more.is_empty() {
                if !value.is_empty() {
                    value.push(b' ');
                }
                value.extend_from_slice(more);
            }
            if name.as_str().len() + value.len() + 2 > limits.max_header_line_len {
                return Err(SipError::HeaderLineTooLong);
            }
            continue;
        }
        if fields.len() == limits.max_headers {
            return Err(SipError::TooManyHeaders);
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(SipError::BadHeaderLine)?;
        let name = trim_lws(&line[..colon]);
        if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
            return Err(SipError::BadHeaderLine);
        }
        // A token is ASCII, so this conversion cannot fail; the fallback only keeps it panic-free.
        let name =
            HeaderName::from_token(std::str::from_utf8(name).map_err(|_| SipError::BadHeaderLine)?);
        let value = trim_lws(&line[colon + 1..]);
        // Measured as serialised (a compact name grows to its full form), so what parses here
        // still parses after `to_bytes`.
        if name.as_str().len() + value.len() + 2 > limits.max_header_line_len {
            return Err(SipError::HeaderLineTooLong);
        }
        fields.push((name, value.to_vec()));
    }
    let mut headers = Headers::new();
    for (name, value) in fields {
        // Values are UTF-8 by the grammar; Latin-1 display names from older room systems are
        // taken lossily rather than refused.
        headers.push(name, String::from_utf8_lossy(&value).into_owned());
    }
    Ok((headers, pos))
}

fn parse_start_line(line: &[u8]) -> Result<StartLine, SipError> {
    if line.contains(&b'\r') {
        return Err(SipError::BadStartLine);
    }
    let line = String::from_utf8_lossy(line);
    // Trailing whitespace is tolerated (some encoders pad the line).
    let line = line.trim_end_matches([' ', '\t']);
    if starts_with_sip_slash(line) {
        parse_status_line(line)
    } else {
        parse_request_line(line)
    }
}

/// The method of a request line that did not parse, and whatever stood after it (see
/// [`StartLineMode::Salvage`]). `None` for a status line or a line whose first word is no method:
/// a broken response is never answered.
fn salvage_request_line(line: &[u8]) -> Option<StartLine> {
    if line.contains(&b'\r') {
        return None;
    }
    let line = String::from_utf8_lossy(line);
    if starts_with_sip_slash(&line) {
        return None;
    }
    let (method, rest) = line.split_once([' ', '\t']).unwrap_or((&line, ""));
    let method = Method::parse(method).ok()?;
    let rest = rest.trim_matches([' ', '\t']);
    let uri = match rest.rsplit_once([' ', '\t']) {
        Some((uri, version)) if starts_with_sip_slash(version) => uri.trim_matches([' ', '\t']),
        _ if starts_with_sip_slash(rest) => "",
        _ => rest,
    };
    Some(StartLine::Request {
        method,
        uri: uri.to_owned(),
    })
}

fn starts_with_sip_slash(text: &str) -> bool {
    text.get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
}

fn check_version(version: &str) -> Result<(), SipError> {
    if version.eq_ignore_ascii_case("SIP/2.0") {
        Ok(())
    } else if starts_with_sip_slash(version) {
        Err(SipError::UnsupportedVersion)
    } else {
        Err(SipError::BadStartLine)
    }
}

fn parse_status_line(line: &str) -> Result<StartLine, SipError> {
    let (version, rest) = line.split_once(' ').ok_or(SipError::BadStartLine)?;
    check_version(version)?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SipError::BadStatusCode);
    }
    let code: u16 = code.parse().map_err(|_| SipError::BadStatusCode)?;
    if !(100..=699).contains(&code) {
        return Err(SipError::BadStatusCode);
    }
    Ok(StartLine::Response {
        code,
        reason: reason.trim_matches([' ', '\t']).to_owned(),
    })
}

fn parse_request_line(line: &str) -> Result<StartLine, SipError> {
    let (method, rest) = line.split_once(' ').ok_or(SipError::BadStartLine)?;
    let (uri, version) = rest.rsplit_once(' ').ok_or(SipError::BadStartLine)?;
    check_version(version)?;
    let method = Method::parse(method)?;
    // Exactly one SP on each side (RFC 4475 `lwsstart`, `lwsruri`); the URI is checked by
    // `Message::validate`, so a 400 can still be built from an unvalidated parse.
    if uri.is_empty() || uri.contains([' ', '\t']) {
        return Err(SipError::BadRequestUri);
    }
    Ok(StartLine::Request {
        method,
        uri: uri.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Message, SipError> {
        Message::parse(text.as_bytes())
    }

    const OPTIONS: &str = "OPTIONS sip:gw.example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKopt1;rport\r\n\
        From: <sip:ping@192.0.2.4>;tag=77\r\n\
        To: <sip:gw.example.com>\r\n\
        Call-ID: opt-1@192.0.2.4\r\n\
        CSeq: 1 OPTIONS\r\n\
        Max-Forwards: 70\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn compact_names_and_folding_are_understood() {
        let m = parse(
            "INVITE sip:1@gw SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:a@b>\r\n ;tag=9\r\n\
             t: sip:1@gw\r\ni: abc\r\nCSEQ:\r\n 1\r\n\tINVITE\r\nl: 3\r\nc: text/plain\r\n\r\nabc",
        )
        .unwrap();
        assert_eq!(m.from().unwrap().tag(), Some("9"));
        assert_eq!(m.headers.get(&HeaderName::FROM), Some("<sip:a@b> ;tag=9"));
        assert_eq!(m.cseq().unwrap().seq, 1);
        assert_eq!(m.call_id().unwrap(), "abc");
        assert_eq!(m.body, b"abc");
        assert_eq!(m.content_type(), Some("text/plain"));
    }

    #[test]
    fn bare_lf_line_ends_and_leading_crlf_are_accepted() {
        let m = parse(&format!("\r\n\r\n{}", OPTIONS.replace("\r\n", "\n"))).unwrap();
        assert_eq!(m.method(), Some(&Method::Options));
        assert_eq!(m.top_via().unwrap().host, "192.0.2.4");
    }

    #[test]
    fn body_is_cut_at_content_length_and_missing_length_takes_the_rest() {
        let m = parse(&format!("{OPTIONS}trailing junk")).unwrap();
        assert!(m.body.is_empty());
        let m = parse(&OPTIONS.replace("Content-Length: 0\r\n", "")).unwrap();
        assert!(m.body.is_empty());
        let m = parse(&format!(
            "{}hello",
            OPTIONS.replace("Content-Length: 0\r\n", "")
        ))
        .unwrap();
        assert_eq!(m.body, b"hello");
    }

    #[test]
    fn content_length_errors_are_typed() {
        let with = |cl: &str| parse(&OPTIONS.replace("Content-Length: 0", cl));
        assert_eq!(
            with("Content-Length: 10"),
            Err(SipError::ContentLengthExceedsDatagram)
        );
        assert_eq!(with("Content-Length: -1"), Err(SipError::BadContentLength));
        assert_eq!(with("Content-Length: 1e3"), Err(SipError::BadContentLength));
        assert_eq!(
            with("Content-Length: 99999999999999999999999999999"),
            Err(SipError::ContentLengthExceedsDatagram)
        );
        assert_eq!(
            with("Content-Length: 0\r\nl: 4"),
            Err(SipError::Duplicate("Content-Length"))
        );
        assert!(with("Content-Length: 0\r\nl: 0").is_ok());
    }

    #[test]
    fn start_line_errors_are_typed() {
        let with =
            |line: &str| parse(&OPTIONS.replacen("OPTIONS sip:gw.example.com SIP/2.0", line, 1));
        assert_eq!(
            with("OPTIONS sip:gw.example.com SIP/3.0"),
            Err(SipError::UnsupportedVersion)
        );
        assert_eq!(
            with("OPTIONS  sip:gw.example.com SIP/2.0"),
            Err(SipError::BadRequestUri)
        );
        assert_eq!(
            with("OPTIONS sip:gw.example.com; lr SIP/2.0"),
            Err(SipError::BadRequestUri)
        );
        assert_eq!(
            with("OPTIONS <sip:gw.example.com> SIP/2.0"),
            Err(SipError::BadRequestUri)
        );
        assert_eq!(
            with("OPTIONS sip:gw.example.com"),
            Err(SipError::BadStartLine)
        );
        assert_eq!(
            with("OPT(ONS sip:gw.example.com SIP/2.0"),
            Err(SipError::BadMethod)
        );
        assert_eq!(with("SIP/2.0 2000 OK"), Err(SipError::BadStatusCode));
        assert_eq!(with("SIP/2.0 099 Low"), Err(SipError::BadStatusCode));
        assert_eq!(with("SIP/2.0"), Err(SipError::BadStartLine));
        assert!(with("OPTIONS sip:gw.example.com SIP/2.0  ").is_ok());
    }

    #[test]
    fn broken_request_lines_are_salvaged_for_a_400_but_never_responses() {
        let salvage = |line: &str| {
            let text = OPTIONS.replacen("OPTIONS sip:gw.example.com SIP/2.0", line, 1);
            (
                Message::parse(text.as_bytes()),
                Message::parse_unvalidated(text.as_bytes(), &Limits::DEFAULT),
            )
        };
        for (line, error, uri) in [
            ("BYE  SIP/2.0", SipError::BadRequestUri, ""),
            ("BYE\tSIP/2.0", SipError::BadStartLine, ""),
            ("BYE", SipError::BadStartLine, ""),
            ("BYE sip:a@b  SIP/2.0", SipError::BadRequestUri, "sip:a@b"),
            (
                "BYE sip:a@b SIP/3.0",
                SipError::UnsupportedVersion,
                "sip:a@b",
            ),
            ("BYE sip:a@b", SipError::BadStartLine, "sip:a@b"),
        ] {
            let (strict, salvaged) = salvage(line);
            assert_eq!(strict, Err(error), "{line:?}");
            let m = salvaged.unwrap_or_else(|e| panic!("{line:?}: {e:?}"));
            assert_eq!(m.method(), Some(&Method::Bye), "{line:?}");
            assert_eq!(m.request_uri(), Some(uri), "{line:?}");
            assert_eq!(m.top_via().unwrap().host, "192.0.2.4", "{line:?}");
        }
        for line in ["SIP/2.0 2000 OK", "SIP/2.0", "OPT(ONS sip:a SIP/2.0", "  "] {
            let (strict, salvaged) = salvage(line);
            assert_eq!(strict.map(|_| ()), salvaged.map(|_| ()), "{line:?}");
        }
    }

    #[test]
    fn response_without_reason_phrase_is_accepted() {
        let head = "SIP/2.0 100\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n\
                    To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n";
        let m = parse(head).unwrap();
        assert_eq!((m.status(), m.reason()), (Some(100), Some("")));
        assert_eq!(parse(&head.replace("100", "100 ")).unwrap(), m);
    }

    #[test]
    fn header_line_errors_are_typed() {
        let with = |extra: &str| parse(&OPTIONS.replacen("CSeq", &format!("{extra}\r\nCSeq"), 1));
        assert_eq!(with("NoColonHere"), Err(SipError::BadHeaderLine));
        assert_eq!(with("Bad Name: x"), Err(SipError::BadHeaderLine));
        assert_eq!(with("X-A: a\rb"), Err(SipError::BadHeaderLine));
        assert_eq!(
            parse(&format!(
                "OPTIONS sip:a SIP/2.0\r\n folded\r\n{}",
                OPTIONS.split_once("\r\n").unwrap().1
            )),
            Err(SipError::BadHeaderLine)
        );
        assert_eq!(
            parse(&OPTIONS[..OPTIONS.len() - 2]),
            Err(SipError::Truncated)
        );
        assert_eq!(parse(""), Err(SipError::Truncated));
    }

    #[test]
    fn limits_are_enforced_without_panicking() {
        let small = Limits {
            max_message_len: 64,
            ..Limits::DEFAULT
        };
        assert_eq!(
            Message::parse_with(OPTIONS.as_bytes(), &small),
            Err(SipError::TooLarge)
        );

        let few = Limits {
            max_headers: 3,
            ..Limits::DEFAULT
        };
        assert_eq!(
            Message::parse_with(OPTIONS.as_bytes(), &few),
            Err(SipError::TooManyHeaders)
        );

        let short = Limits {
            max_header_line_len: 40,
            ..Limits::DEFAULT
        };
        let long = OPTIONS.replacen("CSeq", &format!("X-Long: {}\r\nCSeq", "a".repeat(60)), 1);
        assert_eq!(
            Message::parse_with(long.as_bytes(), &short),
            Err(SipError::HeaderLineTooLong)
        );
        let folded = OPTIONS.replacen(
            "CSeq",
            &format!("X-Long: a{}\r\nCSeq", "\r\n bbbbbbbbbb".repeat(5)),
            1,
        );
        assert_eq!(
            Message::parse_with(folded.as_bytes(), &short),
            Err(SipError::HeaderLineTooLong)
        );
        // 39 bytes as `i: ...`, 45 as `Call-ID: ...`.
        let compact = OPTIONS.replacen(
            "Call-ID: opt-1@192.0.2.4",
            &format!("i: {}", "c".repeat(36)),
            1,
        );
        assert_eq!(
            Message::parse_with(compact.as_bytes(), &short),
            Err(SipError::HeaderLineTooLong)
        );
    }

    #[test]
    fn unknown_headers_keep_name_value_and_order() {
        let m = parse(&OPTIONS.replacen(
            "CSeq",
            "X-Zeta: 1\r\nP-Preferred-Identity: <sip:x@y>\r\nx-alpha:two  words \r\nCSeq",
            1,
        ))
        .unwrap();
        let names: Vec<_> = m.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Via",
                "From",
                "To",
                "Call-ID",
                "X-Zeta",
                "P-Preferred-Identity",
                "x-alpha",
                "CSeq",
                "Max-Forwards"
            ]
        );
        assert_eq!(
            m.headers.get(&HeaderName::new("X-ALPHA").unwrap()),
            Some("two  words")
        );
    }

    #[test]
    fn latin1_bytes_in_values_are_taken_lossily() {
        let mut bytes = OPTIONS
            .replacen("From: <", "From: \"Motesrom X\" <", 1)
            .into_bytes();
        let at = bytes.windows(9).position(|w| w == b"Motesrom ").unwrap() + 1;
        bytes[at] = 0xF8; // 'ø' in Latin-1
        let m = Message::parse(&bytes).unwrap();
        assert_eq!(
            m.from().unwrap().display_name.as_deref(),
            Some("M\u{FFFD}tesrom X")
        );
    }
}
