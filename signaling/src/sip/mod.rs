//! The SIP *message* layer: bytes in, [`Message`] out, and back.
//!
//! Owns the RFC 3261 message grammar (start line, headers with compact forms and line folding,
//! comma lists, Content-Length bodies), the typed values a gateway reads ([`Via`], [`NameAddr`],
//! [`CSeq`], [`Method`]), canonical serialisation, building a response to a request (§8.2.6) and
//! framing messages on a byte stream ([`StreamFramer`]). It must not own transactions, dialogs,
//! timers or sockets: those layers sit on top and are fed by the gateway's UDP/TCP driver. Sans-IO:
//! no clock, no sockets, and every input is bounded by [`Limits`], so hostile bytes give a
//! [`SipError`], never a panic or an unbounded allocation.
//!
//! **Crates considered** (latest crates.io releases, read from their published sources):
//!
//! - *rsip 0.4.0*: parses and generates messages, but does not know the compact header forms
//!   (`i:`, `v:`, `m:`...), has no header folding, and pulls old `md-5`/`sha2` 0.9, `uuid` 0.8
//!   and `bstr` 0.2 next to the workspace's current ones.
//! - *ezk-sip-types 0.6.5*: the best grammar of the three (compact forms, folding), but its
//!   Request-URI must be a `sip:`/`sips:` URI (an `h323:` or `tel:` request fails to parse at all,
//!   where we want a typed refusal), its errors are `anyhow`/nom errors with no reason phrase, it
//!   has about ninety `unwrap`/`expect`/`anyhow` sites to audit for panics, and it pulls `nom`,
//!   `lazy_static`, `bytesstr` and an internal support crate.
//! - *rsipstack 0.7.14*: a whole tokio stack (transports, DNS, TLS) on top of rsip: rsip's parser
//!   gaps plus the async runtime this crate must not depend on.
//!
//! The message grammar a gateway needs is small, so it is written here by hand with no new
//! dependency: lenient where room systems are sloppy (bare LF line ends, whitespace around `:`,
//! `=` and `/`, unquoted display names, Latin-1 bytes taken lossily, trailing blanks on the start
//! line) and strict where RFC 4475 asks for a 400 (extra spaces in the request line, unbalanced
//! quotes, CSeq/method mismatch, conflicting Content-Length).
//!
//! Layers, each in its own file: [`header`] (names, the ordered list, parameters), [`value`]
//! (typed header values), [`message`] (the message, accessors, builders, serialisation), `parse`
//! (bytes to message) and [`framing`] (stream framing and RFC 5626 keep-alives).

pub mod framing;
pub mod header;
pub mod message;
mod parse;
pub mod value;

pub use framing::{Framed, StreamFramer, KEEPALIVE_PONG};
pub use header::{Header, HeaderName, Headers, Params};
pub use message::{reason_phrase, Message, Method, StartLine};
pub use value::{CSeq, NameAddr, Rport, Via};

/// Bounds on what the parser and the framer accept. Anything beyond them is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest message (start line, headers and body), in bytes.
    pub max_message_len: usize,
    /// Most header fields in one message (folded continuation lines do not count).
    pub max_headers: usize,
    /// Longest header field, in bytes, after unfolding continuation lines.
    pub max_header_line_len: usize,
}

impl Limits {
    /// 64 KiB messages (the largest UDP datagram), 128 header fields, 8 KiB per header field.
    pub const DEFAULT: Limits = Limits {
        max_message_len: 64 * 1024,
        max_headers: 128,
        max_header_line_len: 8 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Why bytes are not an acceptable SIP message. The `Display` text is short and fit to be sent as
/// the reason phrase of the response [`status_code`](SipError::status_code) names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SipError {
    /// The message, or a frame on a stream, is longer than [`Limits::max_message_len`].
    #[error("Message too large")]
    TooLarge,
    /// More header fields than [`Limits::max_headers`].
    #[error("Too many headers")]
    TooManyHeaders,
    /// A header field longer than [`Limits::max_header_line_len`].
    #[error("Header line too long")]
    HeaderLineTooLong,
    /// The header section is not closed by an empty line.
    #[error("Truncated message")]
    Truncated,
    /// The request line or status line does not have the `A SP B SP C` shape.
    #[error("Bad start line")]
    BadStartLine,
    /// The method is not a token.
    #[error("Bad method")]
    BadMethod,
    /// The Request-URI is not a URI (no scheme, whitespace, `<...>` around it).
    #[error("Bad Request-URI")]
    BadRequestUri,
    /// The status code is not three digits from 100 to 699.
    #[error("Bad status code")]
    BadStatusCode,
    /// A SIP version other than 2.0.
    #[error("Version Not Supported")]
    UnsupportedVersion,
    /// A header line without a colon, with a bad name, a stray CR, or a continuation with nothing
    /// to continue.
    #[error("Bad header line")]
    BadHeaderLine,
    /// A header name given by code is not a token.
    #[error("Bad header name")]
    BadHeaderName,
    /// A header the message needs is absent; the text names it ("Missing Call-ID").
    #[error("Missing {0}")]
    Missing(&'static str),
    /// A header is present but its value does not parse ("Bad CSeq", "Bad Via").
    #[error("Bad {0}")]
    BadHeader(&'static str),
    /// A header that may appear once appears several times (or, for Content-Length, with
    /// different values).
    #[error("Multiple {0} headers")]
    Duplicate(&'static str),
    /// The CSeq method of a request differs from its request-line method.
    #[error("CSeq method does not match")]
    CSeqMethodMismatch,
    /// Content-Length is not a decimal number.
    #[error("Bad Content-Length")]
    BadContentLength,
    /// Content-Length promises more bytes than the datagram holds.
    #[error("Content-Length exceeds datagram")]
    ContentLengthExceedsDatagram,
}

impl SipError {
    /// The status code to refuse a request with: 505 for a version, 513 for size, 400 otherwise.
    pub fn status_code(&self) -> u16 {
        match self {
            SipError::UnsupportedVersion => 505,
            SipError::TooLarge => 513,
            _ => 400,
        }
    }
}
