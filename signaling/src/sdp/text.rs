//! The SDP text model (RFC 8866 / 4566): lines in, [`SessionDescription`] out, and back.
//!
//! Lenient where real room systems are sloppy (LF or CRLF line ends, `b=` or `a=` lines out of the
//! RFC order, unknown media types and transport protocols, lines of unknown type), strict where a
//! wrong guess would misroute media (`o=` and `m=` field counts, numeric ports and bandwidths). It
//! knows nothing of codecs: attributes stay name/value text that [`codec`](super::codec) reads.

use std::fmt;
use std::net::IpAddr;

use super::SdpError;

/// Longest SDP body accepted (bytes). Room-system offers are 1-4 KiB; this leaves ample room.
pub const MAX_SDP_LEN: usize = 64 * 1024;
/// Most m-lines accepted. Telepresence systems with three screens send about ten.
pub const MAX_MEDIA: usize = 32;

/// The `o=` line: who made this description and which version of it this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `<username>`, `-` when the sender has none.
    pub username: String,
    /// `<sess-id>`, kept as text: some systems send more digits than fit in a `u64`.
    pub session_id: String,
    /// `<sess-version>`, kept as text for the same reason.
    pub session_version: String,
    /// `<nettype>`, `IN`.
    pub net_type: String,
    /// `<addrtype>`, `IP4` or `IP6`.
    pub addr_type: String,
    /// `<unicast-address>`: an address or a host name.
    pub address: String,
}

/// A `c=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `<nettype>`, `IN`.
    pub net_type: String,
    /// `<addrtype>`, `IP4` or `IP6`.
    pub addr_type: String,
    /// `<connection-address>` as written (may carry `/ttl` for multicast, or be a host name).
    pub address: String,
}

impl Connection {
    /// A `c=IN IP4|IP6 <ip>` line for an address.
    pub fn for_ip(ip: IpAddr) -> Self {
        Connection {
            net_type: "IN".into(),
            addr_type: if ip.is_ipv4() { "IP4" } else { "IP6" }.into(),
            address: ip.to_string(),
        }
    }

    /// The address as an IP literal, without any `/ttl` suffix; `None` for a host name.
    pub fn ip(&self) -> Option<IpAddr> {
        let addr = self.address.split('/').next().unwrap_or_default();
        addr.parse().ok()
    }

    /// `true` for the RFC 2543 hold address `0.0.0.0` (or IPv6 `::`).
    pub fn is_hold(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }
}

/// A `b=<bwtype>:<bandwidth>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    /// `AS` (kbit/s, RFC 8866), `TIAS` (bit/s, RFC 3890), `CT`, `RS`, `RR`, or anything else.
    pub kind: String,
    /// The value in the unit of `kind`.
    pub value: u64,
}

/// An `a=` line: `a=<name>` or `a=<name>:<value>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Text before the first `:`.
    pub name: String,
    /// Text after the first `:`, if there was one.
    pub value: Option<String>,
}

impl Attribute {
    /// A property attribute (`a=sendrecv`).
    pub fn flag(name: &str) -> Self {
        Attribute {
            name: name.into(),
            value: None,
        }
    }

    /// A value attribute (`a=rtpmap:0 PCMU/8000`).
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        Attribute {
            name: name.into(),
            value: Some(value.into()),
        }
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `<media>`: `audio`, `video`, `application`, or anything else.
    pub media: String,
    /// `<port>`; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// The `/<number of ports>` suffix, if any.
    pub port_count: Option<u16>,
    /// `<proto>`: `RTP/AVP`, `RTP/AVPF`, `RTP/SAVP`, `TCP/BFCP`, `UDP/BFCP`, ...
    pub proto: String,
    /// `<fmt>` list: payload type numbers for RTP, `*` for BFCP.
    pub formats: Vec<String>,
    /// `i=` media title.
    pub title: Option<String>,
    /// Media-level `c=`, overriding the session one.
    pub connection: Option<Connection>,
    /// Media-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// Other lines (`k=`, unknown types), type letter and value, in order.
    pub other: Vec<(char, String)>,
    /// `a=` lines in order.
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// An m-section with no attributes.
    pub fn new(media: &str, port: u16, proto: &str, formats: Vec<String>) -> Self {
        MediaDescription {
            media: media.into(),
            port,
            port_count: None,
            proto: proto.into(),
            formats,
            title: None,
            connection: None,
            bandwidths: Vec::new(),
            other: Vec::new(),
            attributes: Vec::new(),
        }
    }

    /// Values of every attribute named `name` (case-insensitive), in order.
    pub fn attribute_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes
            .iter()
            .filter(move |a| a.name.eq_ignore_ascii_case(name))
            .filter_map(|a| a.value.as_deref())
    }

    /// `true` if an attribute named `name` is present (with or without a value).
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attributes
            .iter()
            .any(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The first bandwidth line of kind `kind` (case-insensitive).
    pub fn bandwidth(&self, kind: &str) -> Option<u64> {
        find_bandwidth(&self.bandwidths, kind)
    }
}

/// A whole session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`.
    pub origin: Origin,
    /// `s=`; `-` when empty.
    pub session_name: String,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    /// Session-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `t=`, `r=` and `z=` lines in order; `t=0 0` is written when empty.
    pub timing: Vec<(char, String)>,
    /// Other session lines (`i=`, `u=`, `e=`, `p=`, `k=`, unknown types) in order.
    pub other: Vec<(char, String)>,
    /// Session-level `a=` lines.
    pub attributes: Vec<Attribute>,
    /// The m-sections in order.
    pub media: Vec<MediaDescription>,
}

impl SessionDescription {
    /// Parses an SDP body. Accepts CRLF or bare LF line ends and tolerates lines out of order.
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        parse(text)
    }

    /// Session-level attribute values named `name` (case-insensitive).
    pub fn attribute_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes
            .iter()
            .filter(move |a| a.name.eq_ignore_ascii_case(name))
            .filter_map(|a| a.value.as_deref())
    }

    /// `true` if a session-level attribute named `name` is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attributes
            .iter()
            .any(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The first session-level bandwidth line of kind `kind` (case-insensitive).
    pub fn bandwidth(&self, kind: &str) -> Option<u64> {
        find_bandwidth(&self.bandwidths, kind)
    }
}

fn find_bandwidth(list: &[Bandwidth], kind: &str) -> Option<u64> {
    list.iter()
        .find(|b| b.kind.eq_ignore_ascii_case(kind))
        .map(|b| b.value)
}

fn malformed(line: usize, reason: impl Into<String>) -> SdpError {
    SdpError::Malformed {
        line,
        reason: reason.into(),
    }
}

fn parse(text: &str) -> Result<SessionDescription, SdpError> {
    if text.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLarge {
            what: "body bytes",
            limit: MAX_SDP_LEN,
        });
    }
    let mut version_seen = false;
    let mut origin = None;
    let mut session_name = None;
    let mut session = SessionDescription {
        origin: Origin {
            username: String::new(),
            session_id: String::new(),
            session_version: String::new(),
            net_type: String::new(),
            addr_type: String::new(),
            address: String::new(),
        },
        session_name: String::new(),
        connection: None,
        bandwidths: Vec::new(),
        timing: Vec::new(),
        other: Vec::new(),
        attributes: Vec::new(),
        media: Vec::new(),
    };
    for (index, raw) in text.split('\n').enumerate() {
        let number = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let mut chars = line.chars();
        let (Some(kind), Some('=')) = (chars.next(), chars.next()) else {
            return Err(malformed(number, "not a `<type>=<value>` line"));
        };
        if !kind.is_ascii_alphabetic() {
            return Err(malformed(number, format!("bad line type {kind:?}")));
        }
        let value = &line[2..];
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(malformed(number, "control character in value"));
        }
        if !version_seen {
            if kind != 'v' {
                return Err(malformed(number, "SDP must start with `v=`"));
            }
            if value.trim() != "0" {
                return Err(malformed(number, format!("unsupported version {value:?}")));
            }
            version_seen = true;
            continue;
        }
        if kind == 'm' {
            if session.media.len() == MAX_MEDIA {
                return Err(SdpError::TooLarge {
                    what: "m-lines",
                    limit: MAX_MEDIA,
                });
            }
            session.media.push(parse_media_line(number, value)?);
            continue;
        }
        match session.media.last_mut() {
            Some(media) => match kind {
                'i' => media.title = Some(value.to_owned()),
                'c' => media.connection = Some(parse_connection(number, value)?),
                'b' => media.bandwidths.push(parse_bandwidth(number, value)?),
                'a' => media.attributes.push(parse_attribute(value)),
                other => media.other.push((other, value.to_owned())),
            },
            None => match kind {
                'v' => return Err(malformed(number, "second `v=` line")),
                'o' => {
                    if origin.is_some() {
                        return Err(malformed(number, "second `o=` line"));
                    }
                    origin = Some(parse_origin(number, value)?);
                }
                's' => session_name = Some(value.to_owned()),
                'c' => session.connection = Some(parse_connection(number, value)?),
                'b' => session.bandwidths.push(parse_bandwidth(number, value)?),
                't' | 'r' | 'z' => session.timing.push((kind, value.to_owned())),
                'a' => session.attributes.push(parse_attribute(value)),
                other => session.other.push((other, value.to_owned())),
            },
        }
    }
    if !version_seen {
        return Err(malformed(1, "empty SDP"));
    }
    session.origin = origin.ok_or_else(|| malformed(1, "missing `o=` line"))?;
    session.session_name = session_name
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "-".into());
    Ok(session)
}

fn parse_origin(line: usize, value: &str) -> Result<Origin, SdpError> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [username, session_id, session_version, net_type, addr_type, address] = fields[..] else {
        return Err(malformed(line, "`o=` needs 6 fields"));
    };
    for (name, field) in [("sess-id", session_id), ("sess-version", session_version)] {
        if !field.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed(
                line,
                format!("`o=` {name} {field:?} is not numeric"),
            ));
        }
    }
    Ok(Origin {
        username: username.into(),
        session_id: session_id.into(),
        session_version: session_version.into(),
        net_type: net_type.into(),
        addr_type: addr_type.into(),
        address: address.into(),
    })
}

fn parse_connection(line: usize, value: &str) -> Result<Connection, SdpError> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [net_type, addr_type, address] = fields[..] else {
        return Err(malformed(line, "`c=` needs 3 fields"));
    };
    Ok(Connection {
        net_type: net_type.into(),
        addr_type: addr_type.into(),
        address: address.into(),
    })
}

fn parse_bandwidth(line: usize, value: &str) -> Result<Bandwidth, SdpError> {
    let (kind, amount) = value
        .split_once(':')
        .ok_or_else(|| malformed(line, "`b=` needs `<type>:<value>`"))?;
    let kind = kind.trim();
    if kind.is_empty() || kind.contains(char::is_whitespace) {
        return Err(malformed(line, "bad `b=` type"));
    }
    let value = amount
        .trim()
        .parse()
        .map_err(|_| malformed(line, format!("`b=` value {amount:?} is not a number")))?;
    Ok(Bandwidth {
        kind: kind.into(),
        value,
    })
}

fn parse_attribute(value: &str) -> Attribute {
    match value.split_once(':') {
        Some((name, v)) => Attribute {
            name: name.trim().into(),
            value: Some(v.trim_end().into()),
        },
        None => Attribute {
            name: value.trim().into(),
            value: None,
        },
    }
}

fn parse_media_line(line: usize, value: &str) -> Result<MediaDescription, SdpError> {
    let mut fields = value.split_whitespace();
    let (Some(media), Some(port), Some(proto)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed(line, "`m=` needs media, port and proto"));
    };
    let (port, port_count) = match port.split_once('/') {
        Some((p, n)) => (p, Some(n)),
        None => (port, None),
    };
    let port = port
        .parse()
        .map_err(|_| malformed(line, format!("bad `m=` port {port:?}")))?;
    let port_count = port_count
        .map(|n| {
            n.parse()
                .map_err(|_| malformed(line, format!("bad `m=` port count {n:?}")))
        })
        .transpose()?;
    Ok(MediaDescription {
        port_count,
        ..MediaDescription::new(media, port, proto, fields.map(str::to_owned).collect())
    })
}

/// Position of a session-level line type in RFC 8866 order, for writing.
fn session_rank(kind: char) -> u8 {
    match kind {
        'i' => 0,
        'u' => 1,
        'e' => 2,
        'p' => 3,
        // `k=` and unknown types go after the timing lines.
        _ => 4,
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}:{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

impl fmt::Display for MediaDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.proto)?;
        for format in &self.formats {
            write!(f, " {format}")?;
        }
        f.write_str("\r\n")?;
        if let Some(title) = &self.title {
            write!(f, "i={title}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        for b in &self.bandwidths {
            write!(f, "b={}:{}\r\n", b.kind, b.value)?;
        }
        for (kind, value) in &self.other {
            write!(f, "{kind}={value}\r\n")?;
        }
        for a in &self.attributes {
            write!(f, "a={a}\r\n")?;
        }
        Ok(())
    }
}

/// Writes the description with CRLF line ends, lines in RFC 8866 order.
impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(
            f,
            "v=0\r\no={} {} {} {} {} {}\r\ns={}\r\n",
            o.username,
            o.session_id,
            o.session_version,
            o.net_type,
            o.addr_type,
            o.address,
            self.session_name
        )?;
        for rank in 0..4 {
            for (kind, value) in self.other.iter().filter(|(k, _)| session_rank(*k) == rank) {
                write!(f, "{kind}={value}\r\n")?;
            }
        }
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        for b in &self.bandwidths {
            write!(f, "b={}:{}\r\n", b.kind, b.value)?;
        }
        if !self.timing.is_empty() {
            for (kind, value) in &self.timing {
                write!(f, "{kind}={value}\r\n")?;
            }
        } else {
            f.write_str("t=0 0\r\n")?;
        }
        for (kind, value) in self.other.iter().filter(|(k, _)| session_rank(*k) == 4) {
            write!(f, "{kind}={value}\r\n")?;
        }
        for a in &self.attributes {
            write!(f, "a={a}\r\n")?;
        }
        for m in &self.media {
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASIC: &str = "v=0\r\no=- 20518 0 IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\n\
                         b=AS:2048\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 101\r\nb=TIAS:64000\r\n\
                         a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";

    #[test]
    fn parses_session_and_media_fields() {
        let sdp = SessionDescription::parse(BASIC).unwrap();
        assert_eq!(sdp.origin.session_id, "20518");
        assert_eq!(sdp.bandwidth("as"), Some(2048));
        assert_eq!(sdp.media.len(), 1);
        let m = &sdp.media[0];
        assert_eq!((m.media.as_str(), m.port), ("audio", 49170));
        assert_eq!(m.formats, ["0", "101"]);
        assert_eq!(m.bandwidth("TIAS"), Some(64000));
        assert_eq!(m.attribute_values("rtpmap").next(), Some("0 PCMU/8000"));
        assert!(m.has_attribute("sendrecv"));
    }

    #[test]
    fn serialises_back_to_the_same_text() {
        let sdp = SessionDescription::parse(BASIC).unwrap();
        assert_eq!(sdp.to_string(), BASIC);
    }

    #[test]
    fn accepts_bare_lf_and_bfcp_media() {
        let text = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nt=0 0\nm=application 5070 TCP/BFCP *\n\
                    a=floorctrl:c-s\na=confid:1\n";
        let sdp = SessionDescription::parse(text).unwrap();
        assert_eq!(sdp.media[0].proto, "TCP/BFCP");
        assert_eq!(sdp.media[0].formats, ["*"]);
    }

    #[test]
    fn tolerates_bandwidth_after_timing() {
        let text = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nb=AS:384\r\n";
        let sdp = SessionDescription::parse(text).unwrap();
        assert_eq!(sdp.bandwidth("AS"), Some(384));
    }

    #[test]
    fn hold_address_is_recognised() {
        let c = parse_connection(1, "IN IP4 0.0.0.0").unwrap();
        assert!(c.is_hold());
        let c = parse_connection(1, "IN IP4 224.2.1.1/127").unwrap();
        assert_eq!(c.ip(), Some("224.2.1.1".parse().unwrap()));
        assert!(!c.is_hold());
    }

    #[test]
    fn rejects_missing_origin_and_bad_ports() {
        assert!(SessionDescription::parse("v=0\r\ns=-\r\n").is_err());
        assert!(SessionDescription::parse("o=- 1 1 IN IP4 1.2.3.4\r\n").is_err());
        let bad_port = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nm=audio 70000 RTP/AVP 0\r\n";
        assert!(matches!(
            SessionDescription::parse(bad_port),
            Err(SdpError::Malformed { line: 4, .. })
        ));
    }

    #[test]
    fn empty_session_name_becomes_dash() {
        let sdp = SessionDescription::parse("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=\r\n").unwrap();
        assert_eq!(sdp.session_name, "-");
    }

    #[test]
    fn rejects_oversized_bodies() {
        let huge = "a".repeat(MAX_SDP_LEN + 1);
        assert!(matches!(
            SessionDescription::parse(&huge),
            Err(SdpError::TooLarge { .. })
        ));
    }
}
