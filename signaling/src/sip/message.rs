//! The SIP message: start line, headers, body. Typed accessors for what a gateway reads, builders
//! for what it sends, canonical serialisation, and the response-to-request rule of RFC 3261
//! §8.2.6. Parsing lives in `parse`; this file never looks at raw bytes except the body.

use std::fmt;

use super::header::{is_token_byte, HeaderName, Headers};
use super::value::{is_uri, CSeq, NameAddr, Via};
use super::{parse, Limits, SipError};

/// A request method. Methods are case-sensitive: `invite` is an extension method, not INVITE.
/// Ordered (in declaration order, then by extension name) only so keys holding one can live in
/// ordered sets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// INVITE (RFC 3261).
    Invite,
    /// ACK (RFC 3261).
    Ack,
    /// BYE (RFC 3261).
    Bye,
    /// CANCEL (RFC 3261).
    Cancel,
    /// OPTIONS (RFC 3261): capability query and keep-alive.
    Options,
    /// REGISTER (RFC 3261).
    Register,
    /// INFO (RFC 6086): DTMF and fast-update requests from room systems.
    Info,
    /// UPDATE (RFC 3311): session refresh.
    Update,
    /// PRACK (RFC 3262).
    Prack,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// NOTIFY (RFC 6665).
    Notify,
    /// REFER (RFC 3515).
    Refer,
    /// MESSAGE (RFC 3428).
    Message,
    /// PUBLISH (RFC 3903).
    Publish,
    /// Any other token.
    Other(String),
}

impl Method {
    const NAMED: [(&'static str, Method); 14] = [
        ("INVITE", Method::Invite),
        ("ACK", Method::Ack),
        ("BYE", Method::Bye),
        ("CANCEL", Method::Cancel),
        ("OPTIONS", Method::Options),
        ("REGISTER", Method::Register),
        ("INFO", Method::Info),
        ("UPDATE", Method::Update),
        ("PRACK", Method::Prack),
        ("SUBSCRIBE", Method::Subscribe),
        ("NOTIFY", Method::Notify),
        ("REFER", Method::Refer),
        ("MESSAGE", Method::Message),
        ("PUBLISH", Method::Publish),
    ];

    /// Parses a method token.
    pub fn parse(text: &str) -> Result<Method, SipError> {
        if text.is_empty() || !text.bytes().all(is_token_byte) {
            return Err(SipError::BadMethod);
        }
        Ok(Method::NAMED
            .iter()
            .find(|(name, _)| *name == text)
            .map_or_else(|| Method::Other(text.to_owned()), |(_, m)| m.clone()))
    }

    /// The method as written.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Other(name) => name,
            known => Method::NAMED
                .iter()
                .find(|(_, m)| m == known)
                .map_or("", |(name, _)| name),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `METHOD Request-URI SIP/2.0`.
    Request {
        /// The method.
        method: Method,
        /// The Request-URI, as text ([`crate::DialString::parse`] reads dial strings from it).
        uri: String,
    },
    /// `SIP/2.0 code reason`.
    Response {
        /// Status code, 100 to 699.
        code: u16,
        /// Reason phrase (may be empty).
        reason: String,
    },
}

/// A SIP request or response.
///
/// Parsed messages keep every header in order, known names canonicalised and values unfolded;
/// `Content-Length` is not kept as a header but derived from [`body`](Message::body), so
/// serialising always writes the right one. `Message::parse(&m.to_bytes())` gives back `m` for
/// every `m` that `parse` returns, as long as the canonical form stays within
/// [`Limits::max_message_len`] (expanding compact names and adding Content-Length can grow a
/// message that was just under it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Request line or status line.
    pub start: StartLine,
    /// Header fields in order (never `Content-Length`).
    pub headers: Headers,
    /// The body (SDP, DTMF relay, ...), exactly Content-Length bytes.
    pub body: Vec<u8>,
}

impl Message {
    /// Parses one datagram (or one stream frame) with the default [`Limits`] and checks the
    /// headers every message needs (see [`validate`](Message::validate)). Bytes after
    /// Content-Length are discarded, as RFC 3261 §18.3 says for datagrams.
    pub fn parse(bytes: &[u8]) -> Result<Message, SipError> {
        Message::parse_with(bytes, &Limits::DEFAULT)
    }

    /// [`parse`](Message::parse) with explicit limits.
    pub fn parse_with(bytes: &[u8], limits: &Limits) -> Result<Message, SipError> {
        let message = parse::parse_message(bytes, limits, parse::StartLineMode::Strict)?;
        message.validate()?;
        Ok(message)
    }

    /// Parses the syntax only (start line, header lines, Content-Length and body), without
    /// [`validate`](Message::validate): what is needed to answer a broken request with a 400
    /// that still carries its Via, From, To, Call-ID and CSeq. A request line with a valid method
    /// but a broken Request-URI or SIP version (`BYE  SIP/2.0`) is salvaged: the method is kept
    /// and the URI is whatever stood between method and version (possibly empty), so such a
    /// request can be answered too. A message from here is for answering, never for acting on.
    pub fn parse_unvalidated(bytes: &[u8], limits: &Limits) -> Result<Message, SipError> {
        parse::parse_message(bytes, limits, parse::StartLineMode::Salvage)
    }

    /// Checks the headers every request and response must carry (RFC 3261 §8.1.1): at least one
    /// Via, and exactly one each of From, To, Call-ID and CSeq, all well formed; the CSeq method
    /// of a request equal to its method; at most one valid Max-Forwards.
    pub fn validate(&self) -> Result<(), SipError> {
        if let StartLine::Request { uri, .. } = &self.start {
            if !is_uri(uri) {
                return Err(SipError::BadRequestUri);
            }
        }
        if self.via()?.is_empty() {
            return Err(SipError::Missing("Via"));
        }
        self.from()?;
        self.to()?;
        let call_id = self.call_id()?;
        if call_id.is_empty() || call_id.contains(char::is_whitespace) {
            return Err(SipError::BadHeader("Call-ID"));
        }
        let cseq = self.cseq()?;
        if let StartLine::Request { method, .. } = &self.start {
            if cseq.method != *method {
                return Err(SipError::CSeqMethodMismatch);
            }
        }
        self.max_forwards()?;
        Ok(())
    }

    /// A request with no headers or body yet.
    pub fn request(method: Method, uri: impl Into<String>) -> Message {
        Message {
            start: StartLine::Request {
                method,
                uri: uri.into(),
            },
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// A response with the given code and reason, no headers or body yet.
    pub fn response(code: u16, reason: impl Into<String>) -> Message {
        Message {
            start: StartLine::Response {
                code,
                reason: reason.into(),
            },
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// The response to `request` that RFC 3261 §8.2.6 prescribes: every Via in order, From,
    /// To (with `to_tag` added if the request's To had no tag), Call-ID and CSeq copied, and the
    /// default reason phrase for `code`. Headers the request lacks are simply not copied, so this
    /// also answers an unvalidated request with a 400.
    pub fn response_to(request: &Message, code: u16, to_tag: Option<&str>) -> Message {
        let mut response = Message::response(code, reason_phrase(code));
        for via in request.headers.get_all(&HeaderName::VIA) {
            response.headers.push(HeaderName::VIA, via);
        }
        if let Some(from) = request.headers.get(&HeaderName::FROM) {
            response.headers.push(HeaderName::FROM, from);
        }
        if let Some(to) = request.headers.get(&HeaderName::TO) {
            let value = match (NameAddr::parse(to), to_tag) {
                (Some(mut addr), Some(tag)) if addr.tag().is_none() => {
                    addr.set_tag(tag);
                    addr.to_string()
                }
                _ => to.to_owned(),
            };
            response.headers.push(HeaderName::TO, value);
        }
        for name in [HeaderName::CALL_ID, HeaderName::CSEQ] {
            if let Some(value) = request.headers.get(&name) {
                response.headers.push(name, value);
            }
        }
        response
    }

    /// Appends a header (builder style). A `Content-Length` added this way is ignored.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Message {
        self.headers.push(name, value);
        self
    }

    /// Sets the body and its Content-Type (builder style).
    #[must_use]
    pub fn with_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Message {
        self.headers.set(HeaderName::CONTENT_TYPE, content_type);
        self.body = body.into();
        self
    }

    /// Replaces the reason phrase of a response (builder style); no effect on a request.
    #[must_use]
    pub fn with_reason(mut self, text: impl Into<String>) -> Message {
        if let StartLine::Response { reason, .. } = &mut self.start {
            *reason = text.into();
        }
        self
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The method of a request (`None` for a response: see [`cseq`](Message::cseq)).
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI of a request.
    pub fn request_uri(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { code, .. } => Some(*code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&str> {
        match &self.start {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }

    /// Every Via element, top first, across all Via lines.
    pub fn via(&self) -> Result<Vec<Via>, SipError> {
        self.headers
            .list(&HeaderName::VIA)
            .map(|v| Via::parse(v).ok_or(SipError::BadHeader("Via")))
            .collect()
    }

    /// The topmost Via (the one naming the transaction).
    pub fn top_via(&self) -> Result<Via, SipError> {
        let top = self
            .headers
            .list(&HeaderName::VIA)
            .next()
            .ok_or(SipError::Missing("Via"))?;
        Via::parse(top).ok_or(SipError::BadHeader("Via"))
    }

    /// The From header.
    pub fn from(&self) -> Result<NameAddr, SipError> {
        self.single_name_addr(&HeaderName::FROM, "From")
    }

    /// The To header.
    pub fn to(&self) -> Result<NameAddr, SipError> {
        self.single_name_addr(&HeaderName::TO, "To")
    }

    /// The Call-ID.
    pub fn call_id(&self) -> Result<&str, SipError> {
        self.single(&HeaderName::CALL_ID, "Call-ID")?
            .ok_or(SipError::Missing("Call-ID"))
    }

    /// The CSeq.
    pub fn cseq(&self) -> Result<CSeq, SipError> {
        let text = self
            .single(&HeaderName::CSEQ, "CSeq")?
            .ok_or(SipError::Missing("CSeq"))?;
        CSeq::parse(text).ok_or(SipError::BadHeader("CSeq"))
    }

    /// Every Contact element. A REGISTER's `Contact: *` is not a name-addr and gives an error.
    pub fn contact(&self) -> Result<Vec<NameAddr>, SipError> {
        self.name_addr_list(&HeaderName::CONTACT, "Contact")
    }

    /// Every Route element, in order.
    pub fn route(&self) -> Result<Vec<NameAddr>, SipError> {
        self.name_addr_list(&HeaderName::ROUTE, "Route")
    }

    /// Every Record-Route element, in order.
    pub fn record_route(&self) -> Result<Vec<NameAddr>, SipError> {
        self.name_addr_list(&HeaderName::RECORD_ROUTE, "Record-Route")
    }

    /// Max-Forwards, if present (0 to 255).
    pub fn max_forwards(&self) -> Result<Option<u8>, SipError> {
        let Some(text) = self.single(&HeaderName::MAX_FORWARDS, "Max-Forwards")? else {
            return Ok(None);
        };
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SipError::BadHeader("Max-Forwards"));
        }
        text.parse()
            .map(Some)
            .map_err(|_| SipError::BadHeader("Max-Forwards"))
    }

    /// The Content-Type, as text (`application/sdp`).
    pub fn content_type(&self) -> Option<&str> {
        self.headers.get(&HeaderName::CONTENT_TYPE)
    }

    /// The Content-Length: the length of the body.
    pub fn content_length(&self) -> usize {
        self.body.len()
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Canonical bytes: start line, each header as `Name: value`, `Content-Length`, blank line,
    /// body. CR and LF inside values are written as spaces, so no value can inject a header.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        self.write_to(&mut out);
        out
    }

    /// Appends the canonical bytes to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match &self.start {
            StartLine::Request { method, uri } => {
                push_line(out, &format!("{method} {uri} SIP/2.0"));
            }
            StartLine::Response { code, reason } => {
                push_line(out, &format!("SIP/2.0 {code} {reason}"));
            }
        }
        for header in self.headers.iter() {
            if header.name == HeaderName::CONTENT_LENGTH {
                continue;
            }
            push_line(out, &format!("{}: {}", header.name, header.value));
        }
        push_line(out, &format!("Content-Length: {}", self.body.len()));
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
    }

    fn single(&self, name: &HeaderName, label: &'static str) -> Result<Option<&str>, SipError> {
        let mut values = self.headers.get_all(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(SipError::Duplicate(label));
        }
        Ok(first)
    }

    fn single_name_addr(
        &self,
        name: &HeaderName,
        label: &'static str,
    ) -> Result<NameAddr, SipError> {
        let text = self.single(name, label)?.ok_or(SipError::Missing(label))?;
        NameAddr::parse(text).ok_or(SipError::BadHeader(label))
    }

    fn name_addr_list(
        &self,
        name: &HeaderName,
        label: &'static str,
    ) -> Result<Vec<NameAddr>, SipError> {
        self.headers
            .list(name)
            .map(|v| NameAddr::parse(v).ok_or(SipError::BadHeader(label)))
            .collect()
    }
}

/// Writes one line and CRLF, with any CR or LF inside written as a space.
fn push_line(out: &mut Vec<u8>, line: &str) {
    out.extend(line.bytes().map(|b| match b {
        b'\r' | b'\n' => b' ',
        b => b,
    }));
    out.extend_from_slice(b"\r\n");
}

/// The usual reason phrase for a status code (RFC 3261 §21 and the extensions a gateway sends).
pub fn reason_phrase(code: u16) -> &'static str {
    known_reason_phrase(code).unwrap_or(match code {
        100..=199 => "Provisional",
        200..=299 => "Success",
        300..=399 => "Redirection",
        400..=499 => "Client Error",
        500..=599 => "Server Error",
        _ => "Global Failure",
    })
}

fn known_reason_phrase(code: u16) -> Option<&'static str> {
    Some(match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::value::Rport;

    fn invite() -> Message {
        Message::request(Method::Invite, "sip:12345678.1177958860@gw.example.com")
            .with_header(
                HeaderName::VIA,
                Via::new("udp", "192.0.2.10", Some(5060), "z9hG4bK776asdhds").to_string(),
            )
            .with_header(HeaderName::MAX_FORWARDS, "70")
            .with_header(
                HeaderName::FROM,
                "\"Room 1\" <sip:room1@example.com>;tag=1928301774",
            )
            .with_header(HeaderName::TO, "<sip:12345678.1177958860@gw.example.com>")
            .with_header(HeaderName::CALL_ID, "a84b4c76e66710@192.0.2.10")
            .with_header(HeaderName::CSEQ, "314159 INVITE")
            .with_body("application/sdp", b"v=0\r\n".to_vec())
    }

    #[test]
    fn built_request_serialises_canonically_with_content_length() {
        let bytes = invite().to_bytes();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("INVITE sip:12345678.1177958860@gw.example.com SIP/2.0\r\n"));
        assert!(text.contains("\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"));
        assert!(text.ends_with("Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"));
        assert_eq!(Message::parse(text.as_bytes()).unwrap(), invite());
    }

    #[test]
    fn typed_accessors_read_the_built_request() {
        let m = invite();
        assert_eq!(m.method(), Some(&Method::Invite));
        assert_eq!(
            m.request_uri(),
            Some("sip:12345678.1177958860@gw.example.com")
        );
        assert_eq!(m.call_id().unwrap(), "a84b4c76e66710@192.0.2.10");
        assert_eq!(m.cseq().unwrap().seq, 314159);
        assert_eq!(m.from().unwrap().tag(), Some("1928301774"));
        assert_eq!(m.to().unwrap().tag(), None);
        assert_eq!(m.top_via().unwrap().rport(), Rport::Absent);
        assert_eq!(m.max_forwards().unwrap(), Some(70));
        assert_eq!(m.content_type(), Some("application/sdp"));
        assert_eq!(m.content_length(), 5);
        assert_eq!(m.status(), None);
    }

    #[test]
    fn response_to_copies_dialog_headers_and_adds_to_tag() {
        let mut request = invite();
        request.headers.push(
            HeaderName::VIA,
            "SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp",
        );
        let response = Message::response_to(&request, 200, Some("gw-tag-1"));
        assert_eq!(response.status(), Some(200));
        assert_eq!(response.reason(), Some("OK"));
        let vias: Vec<_> = response
            .via()
            .unwrap()
            .into_iter()
            .map(|v| v.host)
            .collect();
        assert_eq!(vias, vec!["192.0.2.10", "proxy.example.com"]);
        assert_eq!(response.to().unwrap().tag(), Some("gw-tag-1"));
        assert_eq!(response.from().unwrap(), request.from().unwrap());
        assert_eq!(response.call_id().unwrap(), request.call_id().unwrap());
        assert_eq!(response.cseq().unwrap(), request.cseq().unwrap());
        assert!(response.body.is_empty());
        response.validate().unwrap();
    }

    #[test]
    fn response_to_keeps_an_existing_to_tag() {
        let mut request = invite();
        request
            .headers
            .set(HeaderName::TO, "<sip:gw@example.com>;tag=existing");
        let response = Message::response_to(&request, 481, Some("new"));
        assert_eq!(response.to().unwrap().tag(), Some("existing"));
        assert_eq!(response.reason(), Some("Call/Transaction Does Not Exist"));
    }

    #[test]
    fn values_with_newlines_cannot_inject_headers() {
        let m = invite()
            .with_header(HeaderName::new("X-Name").unwrap(), "a\r\nVia: evil")
            .with_reason("ignored on a request");
        let parsed = Message::parse(&m.to_bytes()).unwrap();
        assert_eq!(parsed.via().unwrap().len(), 1);
        assert_eq!(
            parsed.headers.get(&HeaderName::new("x-name").unwrap()),
            Some("a  Via: evil")
        );
    }

    #[test]
    fn validate_names_what_is_missing_or_wrong() {
        let mut m = invite();
        m.headers.remove(&HeaderName::CALL_ID);
        assert_eq!(m.validate(), Err(SipError::Missing("Call-ID")));
        assert_eq!(SipError::Missing("Call-ID").to_string(), "Missing Call-ID");

        let mut m = invite();
        m.headers.set(HeaderName::CSEQ, "1 BYE");
        assert_eq!(m.validate(), Err(SipError::CSeqMethodMismatch));

        let mut m = invite();
        m.headers.set(HeaderName::CSEQ, "x INVITE");
        assert_eq!(m.validate().unwrap_err().to_string(), "Bad CSeq");

        let mut m = invite();
        m.headers.push(HeaderName::TO, "<sip:other@example.com>");
        assert_eq!(m.validate(), Err(SipError::Duplicate("To")));

        let mut m = invite();
        m.headers.set(HeaderName::MAX_FORWARDS, "300");
        assert_eq!(m.validate(), Err(SipError::BadHeader("Max-Forwards")));
    }

    #[test]
    fn methods_are_case_sensitive_tokens() {
        assert_eq!(Method::parse("INVITE").unwrap(), Method::Invite);
        assert_eq!(
            Method::parse("invite").unwrap(),
            Method::Other("invite".into())
        );
        assert_eq!(Method::Other("FOO".into()).as_str(), "FOO");
        assert_eq!(Method::parse("IN VITE"), Err(SipError::BadMethod));
        for (name, method) in Method::NAMED {
            assert_eq!(method.as_str(), name);
        }
    }

    #[test]
    fn errors_map_to_refusal_codes() {
        assert_eq!(SipError::UnsupportedVersion.status_code(), 505);
        assert_eq!(SipError::TooLarge.status_code(), 513);
        assert_eq!(SipError::BadHeader("CSeq").status_code(), 400);
        assert_eq!(reason_phrase(499), "Client Error");
    }
}
