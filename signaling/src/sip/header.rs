//! Header names (full and compact forms), the ordered header list of a message, and the small
//! grammar pieces typed values share: comma lists, `;name=value` parameters and quoted strings.
//! Values are kept as text here; [`super::value`] gives them types.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};

use super::SipError;

/// Headers known by name: canonical spelling and RFC 3261 §7.3.3 (and later) compact form.
const KNOWN: &[(&str, Option<&str>)] = &[
    ("Accept", None),
    ("Accept-Contact", Some("a")),
    ("Allow", None),
    ("Allow-Events", Some("u")),
    ("Authorization", None),
    ("Call-ID", Some("i")),
    ("Contact", Some("m")),
    ("Content-Disposition", None),
    ("Content-Encoding", Some("e")),
    ("Content-Length", Some("l")),
    ("Content-Type", Some("c")),
    ("CSeq", None),
    ("Event", Some("o")),
    ("Expires", None),
    ("From", Some("f")),
    ("Identity", Some("y")),
    ("Max-Forwards", None),
    ("Min-SE", None),
    ("P-Asserted-Identity", None),
    ("Proxy-Authenticate", None),
    ("Proxy-Authorization", None),
    ("Proxy-Require", None),
    ("Reason", None),
    ("Record-Route", None),
    ("Refer-To", Some("r")),
    ("Referred-By", Some("b")),
    ("Reject-Contact", Some("j")),
    ("Request-Disposition", Some("d")),
    ("Require", None),
    ("Route", None),
    ("Server", None),
    ("Session-Expires", Some("x")),
    ("Subject", Some("s")),
    ("Supported", Some("k")),
    ("To", Some("t")),
    ("Unsupported", None),
    ("User-Agent", None),
    ("Via", Some("v")),
    ("WWW-Authenticate", None),
];

/// A header field name. Known names (full or compact, any case) are stored in their canonical
/// full spelling (`i` and `call-id` both become `Call-ID`); other names are kept as received.
/// Comparison is ASCII case-insensitive.
#[derive(Debug, Clone)]
pub struct HeaderName(Cow<'static, str>);

impl HeaderName {
    /// `Via` (compact `v`).
    pub const VIA: HeaderName = HeaderName(Cow::Borrowed("Via"));
    /// `From` (compact `f`).
    pub const FROM: HeaderName = HeaderName(Cow::Borrowed("From"));
    /// `To` (compact `t`).
    pub const TO: HeaderName = HeaderName(Cow::Borrowed("To"));
    /// `Call-ID` (compact `i`).
    pub const CALL_ID: HeaderName = HeaderName(Cow::Borrowed("Call-ID"));
    /// `CSeq`.
    pub const CSEQ: HeaderName = HeaderName(Cow::Borrowed("CSeq"));
    /// `Contact` (compact `m`).
    pub const CONTACT: HeaderName = HeaderName(Cow::Borrowed("Contact"));
    /// `Route`.
    pub const ROUTE: HeaderName = HeaderName(Cow::Borrowed("Route"));
    /// `Record-Route`.
    pub const RECORD_ROUTE: HeaderName = HeaderName(Cow::Borrowed("Record-Route"));
    /// `Max-Forwards`.
    pub const MAX_FORWARDS: HeaderName = HeaderName(Cow::Borrowed("Max-Forwards"));
    /// `Content-Type` (compact `c`).
    pub const CONTENT_TYPE: HeaderName = HeaderName(Cow::Borrowed("Content-Type"));
    /// `Content-Length` (compact `l`). Never stored in [`Headers`]: it is derived from the body.
    pub const CONTENT_LENGTH: HeaderName = HeaderName(Cow::Borrowed("Content-Length"));
    /// `Allow`.
    pub const ALLOW: HeaderName = HeaderName(Cow::Borrowed("Allow"));
    /// `Supported` (compact `k`).
    pub const SUPPORTED: HeaderName = HeaderName(Cow::Borrowed("Supported"));
    /// `Require`.
    pub const REQUIRE: HeaderName = HeaderName(Cow::Borrowed("Require"));
    /// `User-Agent`.
    pub const USER_AGENT: HeaderName = HeaderName(Cow::Borrowed("User-Agent"));
    /// `Server`.
    pub const SERVER: HeaderName = HeaderName(Cow::Borrowed("Server"));
    /// `Session-Expires` (compact `x`).
    pub const SESSION_EXPIRES: HeaderName = HeaderName(Cow::Borrowed("Session-Expires"));
    /// `WWW-Authenticate`: a UAS's digest challenge (401).
    pub const WWW_AUTHENTICATE: HeaderName = HeaderName(Cow::Borrowed("WWW-Authenticate"));
    /// `Proxy-Authenticate`: a proxy's digest challenge (407).
    pub const PROXY_AUTHENTICATE: HeaderName = HeaderName(Cow::Borrowed("Proxy-Authenticate"));
    /// `Authorization`: the answer to a 401 challenge.
    pub const AUTHORIZATION: HeaderName = HeaderName(Cow::Borrowed("Authorization"));
    /// `Retry-After`.
    pub const RETRY_AFTER: HeaderName = HeaderName(Cow::Borrowed("Retry-After"));
    /// `Proxy-Authorization`: the answer to a 407 challenge.
    pub const PROXY_AUTHORIZATION: HeaderName = HeaderName(Cow::Borrowed("Proxy-Authorization"));

    /// A header name from code or from the wire. Errors unless `name` is a non-empty token.
    pub fn new(name: &str) -> Result<HeaderName, SipError> {
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(SipError::BadHeaderName);
        }
        Ok(Self::from_token(name))
    }

    /// Canonicalises a name already known to be a token.
    pub(super) fn from_token(name: &str) -> HeaderName {
        for (full, compact) in KNOWN {
            if full.eq_ignore_ascii_case(name)
                || compact.is_some_and(|c| c.eq_ignore_ascii_case(name))
            {
                return HeaderName(Cow::Borrowed(full));
            }
        }
        HeaderName(Cow::Owned(name.to_owned()))
    }

    /// The name as it is written on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The compact form of a known name (`i` for `Call-ID`), if it has one.
    pub fn compact(&self) -> Option<&'static str> {
        KNOWN
            .iter()
            .find(|(full, _)| full.eq_ignore_ascii_case(&self.0))
            .and_then(|(_, compact)| *compact)
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for HeaderName {}

impl Hash for HeaderName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One header field: its name and its value, unfolded and trimmed, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The field name.
    pub name: HeaderName,
    /// The field value, continuation lines joined by one space, surrounding whitespace removed.
    pub value: String,
}

/// The header fields of a message, in the order received or added. Lookups ignore case and accept
/// the compact forms through [`HeaderName`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// An empty list.
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// Appends a field after all others.
    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        self.0.push(Header {
            name,
            value: value.into(),
        });
    }

    /// Replaces every field called `name` by one with `value`, where the first one stood (or at
    /// the end if there was none).
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter().position(|h| h.name == name) {
            Some(at) => {
                self.0[at].value = value;
                let mut index = 0;
                self.0.retain(|h| {
                    let keep = index <= at || h.name != name;
                    index += 1;
                    keep
                });
            }
            None => self.push(name, value),
        }
    }

    /// Removes every field called `name`; returns how many there were.
    pub fn remove(&mut self, name: &HeaderName) -> usize {
        let before = self.0.len();
        self.0.retain(|h| h.name != *name);
        before - self.0.len()
    }

    /// The value of the first field called `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.name == *name)
            .map(|h| h.value.as_str())
    }

    /// The values of every field called `name`, one per field line, in order.
    pub fn get_all<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        let name = name.clone();
        self.0
            .iter()
            .filter(move |h| h.name == name)
            .map(|h| h.value.as_str())
    }

    /// The elements of a comma-list header (`Via`, `Contact`, `Route`, `Allow`...) across every
    /// field line, split at commas outside quotes and `<...>`, trimmed, empty elements skipped.
    pub fn list<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name).flat_map(split_list)
    }

    /// How many field lines are called `name`.
    pub fn count(&self, name: &HeaderName) -> usize {
        self.get_all(name).count()
    }

    /// Every field, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    /// Number of field lines.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Parameters after `;` in a Via, name-addr or URI-less value, in order, with names as written
/// and values as written (a quoted value keeps its quotes). Lookups ignore the name's case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, Option<String>)>);

impl Params {
    /// No parameters.
    pub fn new() -> Params {
        Params(Vec::new())
    }

    /// Parses `;a=1;b;c="x y"` (the text from the first `;`, which may be absent). Whitespace
    /// around `;` and `=` is allowed; empty parameters (`;;`) are skipped. `None` if a name is not
    /// a token, a value is empty or has characters no value may have, or a quote never closes.
    pub fn parse(text: &str) -> Option<Params> {
        let mut params = Vec::new();
        for part in split_outside_quotes(text, b';') {
            let part = part.trim_matches(is_lws);
            if part.is_empty() {
                continue;
            }
            let (name, value) = match part.find('=') {
                Some(eq) => (
                    part[..eq].trim_matches(is_lws),
                    Some(part[eq + 1..].trim_matches(is_lws)),
                ),
                None => (part, None),
            };
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return None;
            }
            let value = match value {
                Some(v) if v.starts_with('"') => {
                    if quoted_end(v) != Some(v.len()) {
                        return None;
                    }
                    Some(v.to_owned())
                }
                Some(v) => {
                    if v.is_empty() || !v.bytes().all(is_param_value_byte) {
                        return None;
                    }
                    Some(v.to_owned())
                }
                None => None,
            };
            params.push((name.to_owned(), value));
        }
        Some(Params(params))
    }

    /// Whether a parameter called `name` is present (with or without a value).
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The value of parameter `name`: `None` if absent, `Some(None)` if present without a value.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// The value of parameter `name`, if it is present with a value (quotes removed).
    pub fn value(&self, name: &str) -> Option<String> {
        self.get(name).flatten().map(unquote)
    }

    /// Sets parameter `name` (replacing its value in place, or appending it).
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    /// Removes parameter `name`; returns whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        before != self.0.len()
    }

    /// Every parameter, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_deref()))
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.0 {
            write!(f, ";{name}")?;
            if let Some(value) = value {
                write!(f, "={value}")?;
            }
        }
        Ok(())
    }
}

/// RFC 3261 `token` characters.
pub(super) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// Characters accepted in an unquoted parameter value: tokens plus what hosts, IPv6 references
/// and URI-ish values use (`[`, `]`, `:`, `/`, `@`, `?`, `&`, `$`, `(`, `)`, `=`).
fn is_param_value_byte(b: u8) -> bool {
    is_token_byte(b) || b"[]:/@?&$()=".contains(&b) || b >= 0x80
}

/// Linear white space inside an unfolded value.
pub(super) fn is_lws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Given text starting with `"`, the index just past the closing quote (backslash escapes one
/// character), or `None` if the string never closes.
pub(super) fn quoted_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Removes surrounding quotes and backslash escapes; other text is returned as is.
pub(super) fn unquote(text: &str) -> String {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(escaped) = chars.next() {
                out.push(escaped);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Quotes `text` for a quoted-string: `"` and `\` escaped, CR and LF (which cannot be quoted)
/// turned into spaces.
pub(super) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Splits at `sep` outside quoted strings and `<...>`.
pub(super) fn split_outside_quotes(text: &str, sep: u8) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut begin = 0;
    let mut i = 0;
    let mut in_angle = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' if !in_angle => {
                // An unterminated quote runs to the end: the element is then malformed as a whole.
                i = quoted_end(&text[i..]).map_or(bytes.len(), |len| i + len);
                continue;
            }
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            b if b == sep && !in_angle => {
                parts.push(&text[begin..i]);
                begin = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&text[begin..]);
    parts
}

/// The elements of one comma-list value, trimmed, empty ones skipped.
pub fn split_list(value: &str) -> Vec<&str> {
    split_outside_quotes(value, b',')
        .into_iter()
        .map(|part| part.trim_matches(is_lws))
        .filter(|part| !part.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_any_case_names_become_canonical() {
        assert_eq!(HeaderName::new("i").unwrap().as_str(), "Call-ID");
        assert_eq!(HeaderName::new("CALL-id").unwrap().as_str(), "Call-ID");
        assert_eq!(HeaderName::new("x").unwrap().as_str(), "Session-Expires");
        assert_eq!(HeaderName::new("k").unwrap(), HeaderName::SUPPORTED);
        assert_eq!(HeaderName::VIA.compact(), Some("v"));
        assert_eq!(HeaderName::CSEQ.compact(), None);
    }

    #[test]
    fn unknown_names_keep_their_spelling_but_compare_without_case() {
        let name = HeaderName::new("X-Cisco-Recording-Participant").unwrap();
        assert_eq!(name.as_str(), "X-Cisco-Recording-Participant");
        assert_eq!(
            name,
            HeaderName::new("x-cisco-recording-participant").unwrap()
        );
    }

    #[test]
    fn names_that_are_not_tokens_are_refused() {
        for bad in ["", "Via:", "Bad Name", "X\r\nInjected"] {
            assert_eq!(
                HeaderName::new(bad),
                Err(SipError::BadHeaderName),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn lists_split_outside_quotes_and_angle_brackets() {
        assert_eq!(
            split_list(r#""Doe, John" <sip:a@b;x=1,2>;q=0.5 , <sip:c@d>,,"#),
            vec![r#""Doe, John" <sip:a@b;x=1,2>;q=0.5"#, "<sip:c@d>"]
        );
        assert_eq!(split_list(r#""a \" , b" <sip:x@y>"#).len(), 1);
        assert_eq!(split_list("INVITE,ACK , BYE"), vec!["INVITE", "ACK", "BYE"]);
    }

    #[test]
    fn params_allow_whitespace_flags_and_quoted_values() {
        let params = Params::parse(r#" ; tag = 98asjd8 ;rport; x="a;b" ;;"#).unwrap();
        assert_eq!(params.get("TAG"), Some(Some("98asjd8")));
        assert_eq!(params.get("rport"), Some(None));
        assert_eq!(params.value("x").as_deref(), Some("a;b"));
        assert_eq!(params.get("missing"), None);
        assert_eq!(params.to_string(), r#";tag=98asjd8;rport;x="a;b""#);
        assert!(Params::parse(";a=\"open").is_none());
        assert!(Params::parse(";=1").is_none());
        assert!(Params::parse(";a=").is_none());
    }

    #[test]
    fn set_replaces_all_fields_in_place_of_the_first() {
        let mut headers = Headers::new();
        headers.push(HeaderName::VIA, "a");
        headers.push(HeaderName::TO, "t");
        headers.push(HeaderName::VIA, "b");
        headers.set(HeaderName::new("v").unwrap(), "c");
        let names: Vec<_> = headers
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_str()))
            .collect();
        assert_eq!(names, vec![("Via", "c"), ("To", "t")]);
        assert_eq!(headers.remove(&HeaderName::TO), 1);
        assert_eq!(headers.len(), 1);
    }

    #[test]
    fn quoting_round_trips() {
        for text in ["plain", "with \"quotes\"", "back\\slash", ""] {
            assert_eq!(unquote(&quote(text)), text);
        }
        assert_eq!(quote("a\r\nb"), "\"a  b\"");
    }
}
