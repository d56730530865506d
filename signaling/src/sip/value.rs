//! Typed header values a gateway reads and writes: [`Via`] (with RFC 3581 `rport`), [`NameAddr`]
//! (From, To, Contact, Route, Record-Route) and [`CSeq`]. Each parses one element of a header
//! value (after comma-list splitting) and displays in canonical form, which parses back to the
//! same value. URIs stay text: [`crate::DialString::parse`] reads the ones that are dial strings.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use super::header::{is_lws, is_token_byte, quote, quoted_end, split_outside_quotes, Params};
use super::message::Method;

/// The RFC 3581 `rport` parameter of a Via.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rport {
    /// No `rport` parameter: reply to the sent-by port.
    Absent,
    /// `rport` without a value: the client asks the server to fill in the source port.
    Requested,
    /// `rport=N`, filled in by the server that received the request.
    Port(u16),
}

/// One Via element: `SIP/2.0/UDP host:port;branch=...;received=...;rport`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Transport, upper-cased (`UDP`, `TCP`, `TLS`, `WS`...).
    pub transport: String,
    /// Sent-by host: a name, an IPv4 address, or an IPv6 reference in brackets (`[2001:db8::1]`).
    pub host: String,
    /// Sent-by port, if given.
    pub port: Option<u16>,
    /// Parameters in order (`branch`, `received`, `rport`, `maddr`, unknown ones).
    pub params: Params,
}

impl Via {
    /// A Via for a request we send, with the given branch (which should start `z9hG4bK`).
    pub fn new(transport: &str, host: &str, port: Option<u16>, branch: &str) -> Via {
        let mut params = Params::new();
        params.set("branch", Some(branch.to_owned()));
        Via {
            transport: transport.to_ascii_uppercase(),
            host: host.to_owned(),
            port,
            params,
        }
    }

    /// Parses one Via element. Whitespace is allowed around the `/` of the sent-protocol and
    /// around parameters, as RFC 3261's `SLASH` and `SEMI` allow.
    pub fn parse(text: &str) -> Option<Via> {
        let text = text.trim_matches(is_lws);
        let (head, params) = match text.find(';') {
            Some(semi) => (&text[..semi], &text[semi..]),
            None => (text, ""),
        };
        let mut parts = head.splitn(3, '/');
        let name = parts.next()?.trim_matches(is_lws);
        let version = parts.next()?.trim_matches(is_lws);
        let rest = parts.next()?.trim_start_matches(is_lws);
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return None;
        }
        let transport_len = rest.find(is_lws)?;
        let transport = &rest[..transport_len];
        if !transport.bytes().all(is_token_byte) {
            return None;
        }
        let (host, port) = parse_host_port(rest[transport_len..].trim_matches(is_lws))?;
        let params = Params::parse(params)?;
        let via = Via {
            transport: transport.to_ascii_uppercase(),
            host: host.to_owned(),
            port,
            params,
        };
        // An `rport` with a value that is not a port makes the whole element unusable.
        if matches!(via.params.get("rport"), Some(Some(v)) if v.parse::<u16>().is_err()) {
            return None;
        }
        Some(via)
    }

    /// The `branch` parameter (the transaction key when it starts with `z9hG4bK`).
    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch").flatten()
    }

    /// The `received` parameter: the source address a server saw.
    pub fn received(&self) -> Option<&str> {
        self.params.get("received").flatten()
    }

    /// The `rport` parameter, with RFC 3581's three states.
    pub fn rport(&self) -> Rport {
        match self.params.get("rport") {
            None => Rport::Absent,
            Some(None) => Rport::Requested,
            Some(Some(port)) => port.parse().map_or(Rport::Requested, Rport::Port),
        }
    }

    /// Stamps the top Via of a request received from `source` as a server must: `received` when
    /// the sent-by host is not the source address (RFC 3261 §18.2.1), and, when the client asked
    /// with a bare `rport`, `rport=<source port>` plus `received` always (RFC 3581 §4).
    pub fn stamp_source(&mut self, ip: IpAddr, port: u16) {
        let sent_by = self
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>();
        let rport_requested = self.rport() == Rport::Requested;
        if rport_requested {
            self.params.set("rport", Some(port.to_string()));
        }
        if rport_requested || sent_by != Ok(ip) {
            self.params.set("received", Some(ip.to_string()));
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}", self.params)
    }
}

/// Splits `host[:port]`, checking the host is a name, an IPv4 address or a bracketed IPv6 one.
fn parse_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if text.starts_with('[') {
        let close = text.find(']')?;
        text[1..close].parse::<Ipv6Addr>().ok()?;
        let (host, rest) = text.split_at(close + 1);
        match rest.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if rest.is_empty() => (host, None),
            None => return None,
        }
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let host_ok = !host.is_empty()
        && (host.starts_with('[')
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'));
    if !host_ok {
        return None;
    }
    let port = match port {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
        None => None,
    };
    Some((host, port))
}

/// A name-addr or addr-spec with header parameters: the value of From, To, Contact, Route and
/// Record-Route (`"Room 1" <sip:room1@example.com>;tag=abc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted and unescaped, if one was given.
    pub display_name: Option<String>,
    /// The URI between `<` and `>` (or the bare addr-spec), as text.
    pub uri: String,
    /// Header parameters after the URI (`tag`, `expires`, `q`, `lr` on a bare Route...).
    pub params: Params,
}

impl NameAddr {
    /// A name-addr for `uri` with no display name or parameters.
    pub fn new(uri: impl Into<String>) -> NameAddr {
        NameAddr {
            display_name: None,
            uri: uri.into(),
            params: Params::new(),
        }
    }

    /// Parses one element. Accepts a quoted display name, an unquoted one (lenient: any text but
    /// `"` `,` `;` `<` `>` `\` and control characters), or none, and a bare addr-spec whose
    /// parameters (after the first `;`) belong to the header.
    pub fn parse(text: &str) -> Option<NameAddr> {
        let text = text.trim_matches(is_lws);
        let (display_name, rest) = if text.starts_with('"') {
            let end = quoted_end(text)?;
            let rest = text[end..].trim_start_matches(is_lws);
            if !rest.starts_with('<') {
                return None;
            }
            (Some(super::header::unquote(&text[..end])), rest)
        } else if let Some(open) = text.find('<') {
            let name = text[..open].trim_matches(is_lws);
            let bad = |c: char| c.is_control() || "\",;<>\\".contains(c);
            if name.contains(bad) {
                return None;
            }
            let name = (!name.is_empty()).then(|| name.to_owned());
            (name, &text[open..])
        } else {
            (None, text)
        };
        let (uri, params) = if let Some(inner) = rest.strip_prefix('<') {
            let close = inner.find('>')?;
            (&inner[..close], &inner[close + 1..])
        } else {
            let semi = split_outside_quotes(rest, b';')[0].len();
            (rest[..semi].trim_matches(is_lws), &rest[semi..])
        };
        if !is_uri(uri) {
            return None;
        }
        let params_trimmed = params.trim_start_matches(is_lws);
        if !params_trimmed.is_empty() && !params_trimmed.starts_with(';') {
            return None;
        }
        Some(NameAddr {
            display_name,
            uri: uri.to_owned(),
            params: Params::parse(params_trimmed)?,
        })
    }

    /// The `tag` parameter (From/To), if present with a value.
    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag").flatten()
    }

    /// Sets the `tag` parameter.
    pub fn set_tag(&mut self, tag: &str) {
        self.params.set("tag", Some(tag.to_owned()));
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.display_name {
            write!(f, "{} ", quote(name))?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// Whether `text` looks like an absolute URI: a scheme, a colon, then printable ASCII with no
/// whitespace, quotes or angle brackets.
pub(super) fn is_uri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut scheme_bytes = scheme.bytes();
    scheme_bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme_bytes.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>\"".contains(&b))
}

/// The CSeq header: sequence number and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// The sequence number (a 32-bit unsigned integer, RFC 3261 §8.1.1.5).
    pub seq: u32,
    /// The method of the request this CSeq belongs to.
    pub method: Method,
}

impl CSeq {
    /// Parses `1 INVITE` (any whitespace between, leading zeros allowed).
    pub fn parse(text: &str) -> Option<CSeq> {
        let mut words = text.split(is_lws).filter(|w| !w.is_empty());
        let seq = words.next()?;
        let method = words.next()?;
        if words.next().is_some() || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(CSeq {
            seq: seq.parse().ok()?,
            method: Method::parse(method).ok()?,
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_with_whitespace_around_slashes_and_params() {
        let via = Via::parse("SIP  /   2.0 /UDP 192.0.2.2;rport;branch=390skdjuw").unwrap();
        assert_eq!(via.transport, "UDP");
        assert_eq!(via.host, "192.0.2.2");
        assert_eq!(via.port, None);
        assert_eq!(via.branch(), Some("390skdjuw"));
        assert_eq!(via.rport(), Rport::Requested);

        let via = Via::parse("SIP / 2.0 / TCP  spindle.example.com:5061 ; branch = z9hG4bK9ikj8")
            .unwrap();
        assert_eq!(
            (via.host.as_str(), via.port),
            ("spindle.example.com", Some(5061))
        );
        assert_eq!(via.branch(), Some("z9hG4bK9ikj8"));
        assert_eq!(via.rport(), Rport::Absent);
    }

    #[test]
    fn via_with_ipv6_sent_by_and_filled_rport() {
        let via = Via::parse(
            "SIP/2.0/tls [2001:db8::10]:5061;branch=z9hG4bKx;rport=40211;received=2001:db8::99",
        )
        .unwrap();
        assert_eq!(via.transport, "TLS");
        assert_eq!(via.host, "[2001:db8::10]");
        assert_eq!(via.port, Some(5061));
        assert_eq!(via.rport(), Rport::Port(40211));
        assert_eq!(via.received(), Some("2001:db8::99"));
        assert_eq!(
            via.to_string(),
            "SIP/2.0/TLS [2001:db8::10]:5061;branch=z9hG4bKx;rport=40211;received=2001:db8::99"
        );
    }

    #[test]
    fn bad_vias_are_refused() {
        for bad in [
            "SIP/2.0/UDP",
            "SIP/3.0/UDP host",
            "SIP/2.0 UDP host",
            "SIP/2.0/UDP host:99999",
            "SIP/2.0/UDP host:",
            "SIP/2.0/UDP [2001:db8::zz]",
            "SIP/2.0/UDP [2001:db8::1]x",
            "SIP/2.0/UDP host;rport=abc",
            "SIP/2.0/UDP ho st",
        ] {
            assert_eq!(Via::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn stamping_follows_rfc3581() {
        let nat_ip: IpAddr = "198.51.100.7".parse().unwrap();
        // Bare rport: rport and received are both filled, even when the host matches.
        let mut via = Via::parse("SIP/2.0/UDP 198.51.100.7:5060;rport;branch=z9hG4bK1").unwrap();
        via.stamp_source(nat_ip, 40000);
        assert_eq!(via.rport(), Rport::Port(40000));
        assert_eq!(via.received(), Some("198.51.100.7"));
        // No rport, sent-by is a private address: received only.
        let mut via = Via::parse("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK2").unwrap();
        via.stamp_source(nat_ip, 40000);
        assert_eq!(via.rport(), Rport::Absent);
        assert_eq!(via.received(), Some("198.51.100.7"));
        // No rport, sent-by matches: untouched.
        let mut via = Via::parse("SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK3").unwrap();
        via.stamp_source(nat_ip, 5060);
        assert_eq!(via.received(), None);
    }

    #[test]
    fn name_addr_forms() {
        let na = NameAddr::parse(r#""J Rosenberg \\\"" <sip:jdrosen@example.com> ; tag = 98asjd8"#)
            .unwrap();
        assert_eq!(na.display_name.as_deref(), Some(r#"J Rosenberg \""#));
        assert_eq!(na.uri, "sip:jdrosen@example.com");
        assert_eq!(na.tag(), Some("98asjd8"));

        let na =
            NameAddr::parse("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n").unwrap();
        assert_eq!(na.display_name, None);
        assert_eq!(na.uri, "sip:vivekg@chair-dnrc.example.com");
        assert_eq!(na.tag(), Some("1918181833n"));

        let na =
            NameAddr::parse("Meeting Room 4 (Oslo) <sip:room4@example.com;transport=tls>").unwrap();
        assert_eq!(na.display_name.as_deref(), Some("Meeting Room 4 (Oslo)"));
        assert_eq!(na.uri, "sip:room4@example.com;transport=tls");
        assert!(na.params.is_empty());

        let na = NameAddr::parse("<sip:[2001:db8::5]:5061;lr>").unwrap();
        assert_eq!(na.uri, "sip:[2001:db8::5]:5061;lr");
    }

    #[test]
    fn bad_name_addrs_are_refused() {
        for bad in [
            "Bell, Alexander <sip:a.g.bell@bell-tel.com>",
            r#""unterminated <sip:a@b>"#,
            "<sip:a@b",
            "<sip:a@b> junk",
            "noscheme@example.com",
            "<sip:a b@c>",
            "\"x\" sip:a@b",
        ] {
            assert_eq!(NameAddr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn name_addr_display_is_canonical_and_reparses() {
        let mut na = NameAddr::new("sip:12345678.1177958860@gw.example.com");
        na.display_name = Some("Board \"Room\" \\ 1".into());
        na.set_tag("a1b2");
        let text = na.to_string();
        assert_eq!(
            text,
            r#""Board \"Room\" \\ 1" <sip:12345678.1177958860@gw.example.com>;tag=a1b2"#
        );
        assert_eq!(NameAddr::parse(&text), Some(na));
    }

    #[test]
    fn cseq_parses_folded_and_zero_padded() {
        let cseq = CSeq::parse("0009   INVITE").unwrap();
        assert_eq!((cseq.seq, &cseq.method), (9, &Method::Invite));
        assert_eq!(cseq.to_string(), "9 INVITE");
        for bad in [
            "",
            "1",
            "INVITE 1",
            "-1 INVITE",
            "4294967296 INVITE",
            "1 INVITE x",
        ] {
            assert_eq!(CSeq::parse(bad), None, "{bad}");
        }
    }
}
