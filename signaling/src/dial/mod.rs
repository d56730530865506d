//! The dial plan: what a caller dialled ([`DialString`]) and which meeting it means
//! ([`resolve`](DialString::resolve) into a [`ResolvedDial`]).
//!
//! Owns the syntax of every dial format in `docs/domain.md` (SIP/SIPS/H.323 URIs, name-addrs with
//! display names and parameters, bare aliases, `via##alias` gateway aliases) and the routing rules
//! (direct in both orders, per-tenant hostname, entry queue, dial prefix). It must not touch storage:
//! tenants and meetings are looked up through [`DialLookup`], which the gateway implements over its
//! directory. Written by hand because no SIP crate parses *dial strings* (bare aliases, H.323
//! `##` forms, lenient `sip:key.conf` without host); the full SIP message parser lives elsewhere.

mod parse;
mod resolve;

pub use parse::{DialUser, Scheme};
pub use resolve::{DialLookup, LookupError, ResolvedDial, Route};

use std::fmt;

/// Why a dial string could not be parsed or resolved. Each variant maps to one SIP refusal in the
/// gateway (400 for [`Malformed`](DialError::Malformed), 404 for the rest).
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// Not syntactically a URI, name-addr or alias (unbalanced `<>`, bad host or port, ...).
    #[error("malformed dial string: {0}")]
    Malformed(String),
    /// Well-formed, but not a way of dialling a meeting (`tel:`, a user name that is not digits...).
    #[error("not a dial string: {0}")]
    NotADialString(String),
    /// No tenant answers to this key, hostname or prefix.
    #[error("unknown tenant: {0}")]
    UnknownTenant(String),
    /// The tenant exists but has no meeting with this conference ID.
    #[error("unknown conference {conference} for tenant {tenant}")]
    UnknownConference {
        /// The tenant that was searched.
        tenant: String,
        /// The conference ID that was not found there.
        conference: String,
    },
    /// The directory behind [`DialLookup`] failed.
    #[error(transparent)]
    Lookup(#[from] LookupError),
}

/// A parsed dial string: what the caller dialled, before any directory lookup.
///
/// `DialString::parse(&d.to_string())` gives back `d` for every `d` that `parse` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialString {
    /// The display name of a name-addr (`"Room 1" <sip:...>`), if any.
    pub display_name: Option<String>,
    /// URI scheme, or [`Scheme::Bare`] for an alias without one.
    pub scheme: Scheme,
    /// What stood before `##` in a `via##alias` gateway alias (`192.0.2.1##12345678.1177958860`).
    pub via: Option<String>,
    /// The digits that were dialled.
    pub user: DialUser,
    /// Host part (`gw.example.com`, `192.0.2.1`, `[2001:db8::1]`), if any.
    pub host: Option<String>,
    /// Port after the host, if any.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp`), in order, names and values as given.
    pub uri_params: Vec<(String, Option<String>)>,
    /// URI headers (`?...`), raw, if any.
    pub uri_headers: Option<String>,
    /// Header parameters after a name-addr's `>` (`;tag=...`), in order.
    pub header_params: Vec<(String, Option<String>)>,
}

impl DialString {
    /// Parses what a caller dialled: a SIP/SIPS/H.323 URI, a name-addr, or a bare alias.
    pub fn parse(input: &str) -> Result<Self, DialError> {
        parse::parse(input)
    }
}

fn write_params(f: &mut fmt::Formatter<'_>, params: &[(String, Option<String>)]) -> fmt::Result {
    for (name, value) in params {
        write!(f, ";{name}")?;
        if let Some(value) = value {
            write!(f, "={value}")?;
        }
    }
    Ok(())
}

impl fmt::Display for DialString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name_addr = self.display_name.is_some() || !self.header_params.is_empty();
        if let Some(name) = &self.display_name {
            f.write_str("\"")?;
            for c in name.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\" ")?;
        }
        if name_addr {
            f.write_str("<")?;
        }
        match self.scheme {
            Scheme::Bare => {}
            scheme => write!(f, "{}:", scheme.as_str())?,
        }
        if let Some(via) = &self.via {
            // A bare alias's gateway part that starts like a scheme (`gw:1720`) would read back
            // as a URI with that scheme: its colons are written %-escaped, as they were read.
            let misread = self.scheme == Scheme::Bare
                && via
                    .split_once(':')
                    .is_some_and(|(name, _)| parse::looks_like_scheme(name));
            if misread {
                write!(f, "{}##", via.replace(':', "%3A"))?;
            } else {
                write!(f, "{via}##")?;
            }
        }
        write!(f, "{}", self.user)?;
        if let Some(host) = &self.host {
            write!(f, "@{host}")?;
            if let Some(port) = self.port {
                write!(f, ":{port}")?;
            }
        }
        write_params(f, &self.uri_params)?;
        if let Some(headers) = &self.uri_headers {
            write!(f, "?{headers}")?;
        }
        if name_addr {
            f.write_str(">")?;
            write_params(f, &self.header_params)?;
        }
        Ok(())
    }
}
