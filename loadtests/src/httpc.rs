//! A small blocking HTTP/1.1 client for the gateway's admin API and `/metrics` on loopback: one
//! request per connection (`Connection: close`), bearer token, JSON bodies, chunked or
//! length-delimited answers. Enough for a load generator; not a general client.
//!
//! Owns only the HTTP exchange; what the API means lives with the callers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Connecting, sending or receiving failed.
    #[error("HTTP {method} {path} to {addr}: {source}")]
    Io {
        /// The method.
        method: String,
        /// The path.
        path: String,
        /// The server.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The answer is not HTTP/1.x.
    #[error("HTTP {path}: malformed response: {0}", path = .1)]
    Malformed(String, String),
    /// The server answered with an unexpected status.
    #[error("HTTP {method} {path}: status {status}: {body}")]
    Status {
        /// The method.
        method: String,
        /// The path.
        path: String,
        /// The status.
        status: u16,
        /// The body (the API's `{"error": ...}`).
        body: String,
    },
}

/// A server and the token to present.
#[derive(Debug, Clone)]
pub struct Client {
    /// The HTTP listen address.
    pub addr: SocketAddr,
    /// Bearer token for `/api/v1`.
    pub token: Option<String>,
}

impl Client {
    /// Sends one request; returns status and body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        json: Option<&str>,
    ) -> Result<(u16, String), HttpError> {
        let io = |source| HttpError::Io {
            method: method.to_owned(),
            path: path.to_owned(),
            addr: self.addr,
            source,
        };
        let mut stream =
            TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).map_err(io)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(io)?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: */*\r\n",
            self.addr
        );
        if let Some(token) = &self.token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        let body = json.unwrap_or("");
        if json.is_some() {
            head.push_str("Content-Type: application/json\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).map_err(io)?;
        stream.write_all(body.as_bytes()).map_err(io)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(io)?;
        parse_response(&raw).map_err(|e| HttpError::Malformed(e, path.to_owned()))
    }

    /// Sends one request and fails unless the status is `expect`.
    pub fn expect(
        &self,
        method: &str,
        path: &str,
        json: Option<&str>,
        expect: u16,
    ) -> Result<String, HttpError> {
        let (status, body) = self.request(method, path, json)?;
        if status != expect {
            return Err(HttpError::Status {
                method: method.to_owned(),
                path: path.to_owned(),
                status,
                body,
            });
        }
        Ok(body)
    }
}

/// Splits a raw HTTP/1.x response into status and (de-chunked) body.
pub fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| "headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(format!("bad status line {status_line:?}"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let chunked = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let body = &raw[split + 4..];
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size without CRLF")?;
        let size_text = std::str::from_utf8(&body[..end]).map_err(|_| "chunk size not UTF-8")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        body = &body[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).ok_or("truncated chunk")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).ok_or("chunk without CRLF")?;
    }
}

/// The sum of every sample of metric `name` (all label sets) in a Prometheus text exposition.
pub fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        // `name{labels} value` or `name value`, not a longer name sharing the prefix.
        let rest = if let Some(after) = rest.strip_prefix('{') {
            after.split_once('}').map(|(_, v)| v)
        } else if rest.starts_with(' ') {
            Some(rest)
        } else {
            None
        };
        if let Some(value) = rest.and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok()) {
            *found.get_or_insert(0.0) += value;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_and_chunked_bodies_are_read() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        assert_eq!(parse_response(plain).unwrap(), (200, "ok".to_owned()));
        let chunked = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (201, "abcde".to_owned()));
        assert!(parse_response(b"garbage").is_err());
        assert!(parse_response(b"SIP/2.0 200 OK\r\n\r\n").is_err());
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
    }

    #[test]
    fn metric_sums_over_label_sets_and_ignores_longer_names() {
        let text = "# HELP tessera_calls_active x\n\
                    tessera_calls_active{protocol=\"sip\",tenant=\"1\"} 2\n\
                    tessera_calls_active{protocol=\"sip\",tenant=\"2\"} 3\n\
                    tessera_calls_active_total 99\n";
        assert_eq!(metric_sum(text, "tessera_calls_active"), Some(5.0));
        assert_eq!(metric_sum(text, "tessera_calls_active_total"), Some(99.0));
        assert_eq!(metric_sum(text, "tessera_nothing"), None);
    }
}
