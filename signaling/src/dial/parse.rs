//! Syntax of dial strings. See the parent module for the formats; this file only turns text into a
//! [`DialString`] and never consults the directory.

use std::fmt;

use super::{DialError, DialString};

/// Longest input accepted; a dial string is a URI, and anything longer is an attack or an accident.
const MAX_INPUT_LEN: usize = 1024;
/// Longest digit run accepted in a user part: prefix (6) + conference ID (14), with room to spare.
const MAX_USER_DIGITS: usize = 32;

/// How the dial string was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `sip:` URI.
    Sip,
    /// `sips:` URI.
    Sips,
    /// `h323:` URI (RFC 3508).
    H323,
    /// A bare alias (`12345678.1177958860`, `12345678.1177958860@gw`), as H.323 endpoints send.
    Bare,
}

impl Scheme {
    /// The scheme as written in a URI (`""` for a bare alias).
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Sip => "sip",
            Scheme::Sips => "sips",
            Scheme::H323 => "h323",
            Scheme::Bare => "",
        }
    }

    /// The scheme a URI scheme name stands for (any case), `None` for one that cannot dial a
    /// meeting (`tel`, `xmpp`, ...): a Request-URI with such a scheme gets 416 (RFC 3261
    /// §8.2.2.1).
    pub fn from_name(name: &str) -> Option<Scheme> {
        [Scheme::Sip, Scheme::Sips, Scheme::H323]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }
}

/// The digits a caller dialled, before the directory says what they mean.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DialUser {
    /// Two digit runs joined by a dot: tenant key and conference ID, in either order.
    Pair(String, String),
    /// One digit run: a tenant key, a conference ID at a tenant hostname, or prefix + conference ID.
    Digits(String),
}

impl fmt::Display for DialUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialUser::Pair(a, b) => write!(f, "{a}.{b}"),
            DialUser::Digits(d) => f.write_str(d),
        }
    }
}

fn malformed(msg: impl Into<String>) -> DialError {
    DialError::Malformed(msg.into())
}

pub(super) fn parse(input: &str) -> Result<DialString, DialError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(malformed(format!(
            "{} bytes is longer than the {MAX_INPUT_LEN} accepted",
            input.len()
        )));
    }
    let input = input.trim();
    if input.is_empty() {
        return Err(malformed("empty"));
    }
    if input.chars().any(|c| c.is_control()) {
        return Err(malformed("contains control characters"));
    }
    let (display_name, uri, header_params) = split_name_addr(input)?;
    let mut dial = parse_uri(uri)?;
    dial.display_name = display_name;
    dial.header_params = header_params;
    // The canonical form can be longer than the input (an unquoted display name gains its quotes
    // and a space, a backslash in it an escape), so the limit is applied to what we would print
    // too: whatever is accepted re-parses from its canonical form.
    let canonical = dial.to_string().len();
    if canonical > MAX_INPUT_LEN {
        return Err(malformed(format!(
            "{canonical} bytes in canonical form is longer than the {MAX_INPUT_LEN} accepted"
        )));
    }
    Ok(dial)
}

/// Splits `"Name" <uri>;params` into its three parts; a plain URI comes back whole.
#[allow(clippy::type_complexity)]
fn split_name_addr(
    input: &str,
) -> Result<(Option<String>, &str, Vec<(String, Option<String>)>), DialError> {
    // A quoted display name may itself contain '<' and '>', so it is read before looking for them.
    let (display_name, after_name) = if let Some(quoted) = input.strip_prefix('"') {
        let (name, rest) = parse_quoted(quoted)?;
        let rest = rest.trim_start();
        if !rest.starts_with('<') {
            return Err(malformed("display name without <URI>"));
        }
        (Some(name), rest)
    } else {
        match input.find('<') {
            Some(open) => {
                let token = input[..open].trim();
                if token.contains('"') {
                    return Err(malformed("stray '\"' in display name"));
                }
                let name = (!token.is_empty()).then(|| token.to_owned());
                (name, &input[open..])
            }
            None => {
                if input.contains('>') {
                    return Err(malformed("'>' without '<'"));
                }
                return Ok((None, input, Vec::new()));
            }
        }
    };
    let inner = &after_name[1..];
    let close = inner
        .find('>')
        .ok_or_else(|| malformed("'<' without closing '>'"))?;
    let uri = &inner[..close];
    if uri.contains('<') {
        return Err(malformed("nested '<'"));
    }
    let rest = inner[close + 1..].trim_start();
    let header_params = if rest.is_empty() {
        Vec::new()
    } else if let Some(params) = rest.strip_prefix(';') {
        parse_params(params, "header parameter")?
    } else {
        return Err(malformed(format!("unexpected text after '>': {rest:?}")));
    };
    Ok((display_name, uri, header_params))
}

/// Reads a quoted string (after its opening quote); returns its unescaped text and what follows.
fn parse_quoted(quoted: &str) -> Result<(String, &str), DialError> {
    let mut name = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped)) => name.push(escaped),
                None => break,
            },
            '"' => return Ok((name, &quoted[i + 1..])),
            c => name.push(c),
        }
    }
    Err(malformed("unterminated quoted display name"))
}

fn is_param_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()%+:[]/&$".contains(c)
}

fn parse_params(text: &str, what: &str) -> Result<Vec<(String, Option<String>)>, DialError> {
    text.split(';')
        .map(|param| {
            let param = param.trim();
            let (name, value) = match param.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (param, None),
            };
            if name.is_empty() || !name.chars().all(is_param_char) {
                return Err(malformed(format!("bad {what} name {name:?}")));
            }
            if let Some(v) = value {
                if v.is_empty() || !v.chars().all(|c| is_param_char(c) || c == '=') {
                    return Err(malformed(format!("bad {what} value {v:?}")));
                }
            }
            Ok((name.to_owned(), value.map(str::to_owned)))
        })
        .collect()
}

/// Whether `name` (the text before a `:`) has the shape of a URI scheme (RFC 3986: a letter,
/// then letters, digits, `+`, `-`, `.`).
pub(super) fn looks_like_scheme(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// Splits off `scheme:` when the text starts with one (letters first, before any `@`).
fn split_scheme(uri: &str) -> Result<(Scheme, &str), DialError> {
    let colon = uri.find(':');
    let at = uri.find('@');
    let scheme_end = match (colon, at) {
        (Some(c), Some(a)) if c < a => Some(c),
        (Some(c), None) => Some(c),
        _ => None,
    };
    let Some(end) = scheme_end else {
        return Ok((Scheme::Bare, uri));
    };
    let name = &uri[..end];
    if !looks_like_scheme(name) {
        return Ok((Scheme::Bare, uri));
    }
    let scheme = Scheme::from_name(name).ok_or_else(|| {
        DialError::NotADialString(format!(
            "{}: URIs do not dial a meeting",
            name.to_ascii_lowercase()
        ))
    })?;
    Ok((scheme, &uri[end + 1..]))
}

fn parse_uri(uri: &str) -> Result<DialString, DialError> {
    if uri.is_empty() {
        return Err(malformed("empty URI"));
    }
    if uri.chars().any(char::is_whitespace) {
        return Err(malformed("whitespace inside URI"));
    }
    let (scheme, rest) = split_scheme(uri)?;
    let (rest, uri_headers) = match rest.split_once('?') {
        Some((r, h)) if !h.is_empty() && !h.contains(['<', '>', '"']) => (r, Some(h.to_owned())),
        Some(_) => return Err(malformed("bad URI headers after '?'")),
        None => (rest, None),
    };
    let (userinfo, hostpart) = match rest.split_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (hostport, uri_params) = match hostpart.split_once(';') {
        Some((hp, params)) => (hp, parse_params(params, "URI parameter")?),
        None => (hostpart, Vec::new()),
    };
    let (userinfo, host, port) = match userinfo {
        Some(u) => {
            let (host, port) = parse_hostport(hostport)?;
            (u, Some(host), port)
        }
        // `sip:12345678.1177958860` or a bare alias: what stands alone is the dialled alias, unless
        // it is really a host (then there is nothing dialled).
        None => {
            if looks_like_host_only(hostport) {
                return Err(DialError::NotADialString(format!(
                    "{hostport:?} names a host but dials no conference"
                )));
            }
            (hostport, None, None)
        }
    };
    let (via, user) = parse_userinfo(userinfo)?;
    Ok(DialString {
        display_name: None,
        scheme,
        via,
        user,
        host,
        port,
        uri_params,
        uri_headers,
        header_params: Vec::new(),
    })
}

/// True for text that is a host name or address rather than a dialled alias.
fn looks_like_host_only(text: &str) -> bool {
    text.starts_with('[')
        || text.parse::<std::net::Ipv4Addr>().is_ok()
        || (text.contains(|c: char| c.is_ascii_alphabetic()) && !text.contains("##"))
}

fn parse_hostport(text: &str) -> Result<(String, Option<u16>), DialError> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| malformed("'[' without ']' in host"))?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(malformed(format!("bad IPv6 address {addr:?}")));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| malformed("text after IPv6 address"))?,
            ),
        };
        (&text[..addr.len() + 2], port)
    } else {
        match text.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    let valid_name = !host.starts_with('[')
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        && !host.starts_with(['-', '.']);
    if !host.starts_with('[') && !valid_name {
        return Err(malformed(format!("bad host {host:?}")));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(malformed(format!("bad port {p:?}"))),
        },
    };
    Ok((host.to_owned(), port))
}

fn percent_decode(text: &str) -> Result<String, DialError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| malformed("bad %-escape in user part"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| malformed("%-escapes in user part are not UTF-8"))
}

/// Characters RFC 3261 allows in a user part (after %-decoding), plus `#` for `via##alias`.
fn is_user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/#:[]".contains(c)
}

fn parse_userinfo(raw: &str) -> Result<(Option<String>, DialUser), DialError> {
    let decoded = percent_decode(raw)?;
    if decoded.is_empty() {
        return Err(DialError::NotADialString("empty user part".into()));
    }
    if !decoded.chars().all(is_user_char) {
        return Err(malformed(format!("bad character in user part {decoded:?}")));
    }
    let (via, alias) = match decoded.rsplit_once("##") {
        Some((via, alias)) => {
            let via_ok = !via.is_empty()
                && via
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._:[]".contains(c));
            if !via_ok {
                return Err(malformed(format!("bad gateway part {via:?} before '##'")));
            }
            (Some(via.to_owned()), alias)
        }
        None => (None, decoded.as_str()),
    };
    let digits = |s: &str| {
        !s.is_empty() && s.len() <= MAX_USER_DIGITS && s.bytes().all(|b| b.is_ascii_digit())
    };
    let user = match alias.split_once('.') {
        Some((a, b)) if digits(a) && digits(b) => DialUser::Pair(a.to_owned(), b.to_owned()),
        None if digits(alias) => DialUser::Digits(alias.to_owned()),
        _ => {
            return Err(DialError::NotADialString(format!(
                "{alias:?} is not digits or digits.digits"
            )))
        }
    };
    Ok((via, user))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> DialString {
        DialString::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    #[test]
    fn full_sip_uri_with_port_and_params() {
        let d = ok("sip:12345678.1177958860@gw.example.com:5061;transport=tcp");
        assert_eq!(d.scheme, Scheme::Sip);
        assert_eq!(
            d.user,
            DialUser::Pair("12345678".into(), "1177958860".into())
        );
        assert_eq!(d.host.as_deref(), Some("gw.example.com"));
        assert_eq!(d.port, Some(5061));
        assert_eq!(
            d.uri_params,
            vec![("transport".to_owned(), Some("tcp".to_owned()))]
        );
    }

    #[test]
    fn name_addr_with_display_name_and_tag() {
        let d = ok(r#""Board Room \"A\"" <sips:1177958860@video.acme.example>;tag=a73kszlfl"#);
        assert_eq!(d.display_name.as_deref(), Some(r#"Board Room "A""#));
        assert_eq!(d.scheme, Scheme::Sips);
        assert_eq!(d.user, DialUser::Digits("1177958860".into()));
        assert_eq!(
            d.header_params,
            vec![("tag".to_owned(), Some("a73kszlfl".to_owned()))]
        );
    }

    #[test]
    fn unquoted_display_name_and_bare_angle_uri() {
        let d = ok("Lobby Codec <sip:12345678@gw>");
        assert_eq!(d.display_name.as_deref(), Some("Lobby Codec"));
        let d = ok("<sip:12345678@gw>");
        assert_eq!(d.display_name, None);
    }

    #[test]
    fn bare_h323_aliases() {
        let d = ok("12345678.1177958860");
        assert_eq!(d.scheme, Scheme::Bare);
        assert_eq!(d.host, None);
        let d = ok("gw##12345678.1177958860");
        assert_eq!(d.via.as_deref(), Some("gw"));
        assert_eq!(
            d.user,
            DialUser::Pair("12345678".into(), "1177958860".into())
        );
        let d = ok("192.0.2.10##1177958860.12345678@gw.example.com");
        assert_eq!(d.via.as_deref(), Some("192.0.2.10"));
        let d = ok("h323:12345678.1177958860@gw.example.com");
        assert_eq!(d.scheme, Scheme::H323);
    }

    #[test]
    fn sip_uri_without_host_is_taken_as_alias() {
        let d = ok("sip:12345678.1177958860");
        assert_eq!(d.host, None);
        assert_eq!(d.scheme, Scheme::Sip);
    }

    #[test]
    fn ipv6_host_and_percent_escapes() {
        let d = ok("sip:12345678%2E1177958860@[2001:db8::1]:5060");
        assert_eq!(
            d.user,
            DialUser::Pair("12345678".into(), "1177958860".into())
        );
        assert_eq!(d.host.as_deref(), Some("[2001:db8::1]"));
        assert_eq!(d.port, Some(5060));
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(ok("SIP:12345678@GW.Example.COM").scheme, Scheme::Sip);
    }

    #[test]
    fn refusals_are_typed() {
        let not_dial = [
            "tel:+15551234567",
            "mailto:a@b",
            "sip:alice@gw.example.com",
            "sip:gw.example.com",
            "sip:192.0.2.1",
            "sip:@gw",
            "12345678.abc@gw",
            "1.2.3@gw",
        ];
        for s in not_dial {
            assert!(
                matches!(DialString::parse(s), Err(DialError::NotADialString(_))),
                "{s:?}: {:?}",
                DialString::parse(s)
            );
        }
        let malformed = [
            "",
            "   ",
            "<sip:123456@gw",
            "\"Name <sip:123456@gw>",
            "\"Name\" sip:123456@gw",
            "sip:123456@gw:99999",
            "sip:123456@gw:0",
            "sip:123456@[::1",
            "sip:123456@[nothex]",
            "sip:123456@bad host",
            "sip:12%zz@gw",
            "sip:123456@gw;=x",
            "<sip:123456@gw> trailing",
            "sip:12\"34@gw",
            "##123456@gw",
        ];
        for s in malformed {
            assert!(
                matches!(DialString::parse(s), Err(DialError::Malformed(_))),
                "{s:?}: {:?}",
                DialString::parse(s)
            );
        }
        let long = format!("sip:{}@gw", "1".repeat(2000));
        assert!(matches!(
            DialString::parse(&long),
            Err(DialError::Malformed(_))
        ));
    }

    /// The invite fuzz target's failure: a bare alias whose gateway part was written with an
    /// escaped digit (`i9%39J:999##...`) decodes to `i99J:999`, which printed as is reads as a
    /// URI with scheme `i99J`. The canonical form escapes that colon.
    #[test]
    fn bare_gateway_part_that_would_read_as_a_scheme_prints_escaped() {
        let d = ok("i9%39J:999##9999@h");
        assert_eq!(d.scheme, Scheme::Bare);
        assert_eq!(d.via.as_deref(), Some("i99J:999"));
        assert_eq!(d.to_string(), "i99J%3A999##9999@h");
        assert_eq!(ok(&d.to_string()), d);
        // Gateway parts that cannot be misread keep their colons.
        assert_eq!(
            ok("192.0.2.1:1720##12345678").to_string(),
            "192.0.2.1:1720##12345678"
        );
        assert_eq!(
            ok("sip:gw:1720##12345678@h").to_string(),
            "sip:gw:1720##12345678@h"
        );
    }

    #[test]
    fn display_is_canonical_and_reparses() {
        for s in [
            "sip:12345678.1177958860@gw.example.com:5061;transport=tcp;lr",
            "\"A \\\\ B\" <sips:1177958860@video.acme.example?x=y>;tag=1",
            "gw##12345678.1177958860",
            "  12345678  ",
        ] {
            let d = ok(s);
            assert_eq!(ok(&d.to_string()), d, "{s:?} -> {d}");
        }
        assert_eq!(
            ok("Room <sip:12345678@gw>").to_string(),
            "\"Room\" <sip:12345678@gw>"
        );
    }

    /// The fuzz target's failure (issue 18, item 5): a 1,024-byte input with an unquoted display
    /// name printed as 1,027 bytes (quotes and a space added) that no longer parsed.
    #[test]
    fn input_whose_canonical_form_exceeds_the_limit_is_refused() {
        let uri = "<sip:1@h>";
        let input = format!("{}{uri}", "a".repeat(MAX_INPUT_LEN - uri.len()));
        assert_eq!(input.len(), MAX_INPUT_LEN);
        assert!(
            matches!(DialString::parse(&input), Err(DialError::Malformed(_))),
            "{:?}",
            DialString::parse(&input)
        );
        // One byte shorter prints exactly at the limit and is still accepted.
        let input = format!("{}{uri}", "a".repeat(MAX_INPUT_LEN - uri.len() - 3));
        let d = ok(&input);
        assert_eq!(d.to_string().len(), MAX_INPUT_LEN);
        assert_eq!(ok(&d.to_string()), d);
    }

    proptest::proptest! {
        /// Accepting and printing agree near the length limit: display names with characters
        /// the canonical form quotes or escapes.
        #[test]
        fn accepted_near_the_limit_reparses_from_canonical_form(
            name in "[a-z\\\\ ]{990,1020}",
            user in "[0-9]{1,12}",
        ) {
            let input = format!("{name}<sip:{user}@h>");
            if let Ok(d) = DialString::parse(&input) {
                let again = DialString::parse(&d.to_string());
                proptest::prop_assert!(again.is_ok(), "{:?} -> {:?}", input.len(), again);
                proptest::prop_assert_eq!(again.ok(), Some(d));
            }
        }
    }
}
