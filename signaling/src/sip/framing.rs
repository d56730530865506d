//! Framing SIP messages on a byte stream (TCP, TLS): push bytes in as they arrive, poll complete
//! messages out. The end of a message is the empty line after its headers plus Content-Length
//! bytes (RFC 3261 §18.3: on a stream, Content-Length is mandatory). CRLFs between messages are
//! skipped, and a double CRLF is reported as an RFC 5626 keep-alive ping so the driver can answer
//! with [`KEEPALIVE_PONG`]. Sans-IO: the framer never reads a socket or a clock.

use super::message::Message;
use super::parse::{next_line, parse_content_length};
use super::{Limits, SipError};

/// What to send back for a [`Framed::Ping`]: a single CRLF (RFC 5626 §4.4.1).
pub const KEEPALIVE_PONG: &[u8] = b"\r\n";

/// One thing found on the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framed {
    /// A complete, valid message.
    Message(Message),
    /// A complete frame (its length is known) that is not a valid message. The stream stays in
    /// step, so the caller may answer it (see [`Message::parse_unvalidated`]) and go on.
    Invalid {
        /// Why the frame was refused.
        error: SipError,
        /// The frame's bytes.
        frame: Vec<u8>,
    },
    /// A double-CRLF keep-alive ping; answer with [`KEEPALIVE_PONG`].
    Ping,
}

/// Splits a byte stream into SIP messages.
///
/// Feed it with [`push`](StreamFramer::push) and drain [`poll`](StreamFramer::poll) until it
/// returns `Ok(None)` (needs more bytes). `Err` means the stream can never be in step again
/// (a frame longer than [`Limits::max_message_len`], no or a bad Content-Length): close the
/// connection. The framer then keeps returning that error. The output does not depend on how the
/// stream was cut into pushes. Buffered bytes stay below the message limit plus the last push,
/// as long as the caller polls after each push.
#[derive(Debug, Clone)]
pub struct StreamFramer {
    limits: Limits,
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    start: usize,
    /// Offset (from `start`) where the search for the end of the headers resumes.
    scanned: usize,
    failed: Option<SipError>,
}

impl Default for StreamFramer {
    fn default() -> Self {
        StreamFramer::new(Limits::DEFAULT)
    }
}

impl StreamFramer {
    /// A framer for a fresh connection.
    pub fn new(limits: Limits) -> StreamFramer {
        StreamFramer {
            limits,
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            failed: None,
        }
    }

    /// Appends bytes read from the connection. Ignored once the framer has failed.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete message, ping or invalid frame; `Ok(None)` when more bytes are needed;
    /// `Err` when the stream is beyond repair.
    #[must_use = "a framer must be drained after each push"]
    pub fn poll(&mut self) -> Result<Option<Framed>, SipError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        loop {
            match &self.buf[self.start..] {
                [] | [b'\r'] | [b'\r', b'\n'] | [b'\r', b'\n', b'\r'] => return Ok(None),
                [b'\r', b'\n', b'\r', b'\n', ..] => {
                    self.consume(4);
                    return Ok(Some(Framed::Ping));
                }
                // A lone CRLF (a pong, or padding between messages) or a bare LF.
                [b'\r', b'\n', ..] => self.consume(2),
                [b'\n', ..] => self.consume(1),
                _ => break,
            }
        }
        let max = self.limits.max_message_len;
        let Some(head_len) = self.find_head_end() else {
            if self.buffered() > max {
                return self.fail(SipError::TooLarge);
            }
            return Ok(None);
        };
        if head_len > max {
            return self.fail(SipError::TooLarge);
        }
        let data = &self.buf[self.start..];
        let body_len = match content_length_of(&data[..head_len]) {
            Ok(Some(length)) => length,
            Ok(None) => return self.fail(SipError::Missing("Content-Length")),
            Err(error) => return self.fail(error),
        };
        let frame_len = match head_len.checked_add(body_len) {
            Some(len) if len <= max => len,
            _ => return self.fail(SipError::TooLarge),
        };
        if data.len() < frame_len {
            return Ok(None);
        }
        let frame = data[..frame_len].to_vec();
        self.consume(frame_len);
        Ok(Some(match Message::parse_with(&frame, &self.limits) {
            Ok(message) => Framed::Message(message),
            Err(error) => Framed::Invalid { error, frame },
        }))
    }

    fn consume(&mut self, len: usize) {
        self.start += len;
        self.scanned = 0;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    fn fail(&mut self, error: SipError) -> Result<Option<Framed>, SipError> {
        self.failed = Some(error.clone());
        self.buf = Vec::new();
        self.start = 0;
        Err(error)
    }

    /// Length of the start line and headers including the empty line, if all have arrived.
    /// Resumes where the last call stopped, so a slow trickle is not scanned quadratically.
    fn find_head_end(&mut self) -> Option<usize> {
        let data = &self.buf[self.start..];
        let mut i = self.scanned;
        while let Some(offset) = data.get(i..)?.iter().position(|&b| b == b'\n') {
            let lf = i + offset;
            match data.get(lf + 1..) {
                Some([b'\n', ..]) => return Some(lf + 2),
                Some([b'\r', b'\n', ..]) => return Some(lf + 3),
                Some([] | [b'\r']) => {
                    self.scanned = lf;
                    return None;
                }
                _ => i = lf + 1,
            }
        }
        self.scanned = data.len();
        None
    }
}

/// The Content-Length of a header block (start line to empty line), understanding compact `l`
/// and folding. Several equal values are accepted; different ones are an error.
fn content_length_of(head: &[u8]) -> Result<Option<usize>, SipError> {
    let mut found: Option<usize> = None;
    let mut current: Option<Vec<u8>> = None;
    let mut finish = |value: Option<Vec<u8>>| -> Result<(), SipError> {
        if let Some(value) = value {
            let text = String::from_utf8_lossy(&value);
            let length = parse_content_length(text.trim_matches([' ', '\t']))?;
            if found.is_some_and(|previous| previous != length) {
                return Err(SipError::Duplicate("Content-Length"));
            }
            found = Some(length);
        }
        Ok(())
    };
    let Some((_, mut pos)) = next_line(head, 0) else {
        return Ok(None);
    };
    while let Some((line, next)) = next_line(head, pos) {
        pos = next;
        if line.is_empty() {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            if let Some(value) = current.as_mut() {
                value.push(b' ');
                value.extend_from_slice(line);
            }
            continue;
        }
        finish(current.take())?;
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&line[..colon]);
            let name = name.trim_matches([' ', '\t']);
            if name.eq_ignore_ascii_case("Content-Length") || name.eq_ignore_ascii_case("l") {
                current = Some(line[colon + 1..].to_vec());
            }
        }
    }
    finish(current.take())?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &str = "OPTIONS sip:gw.example.com SIP/2.0\r\n\
        Via: SIP/2.0/TCP 192.0.2.4:5060;branch=z9hG4bKopt1\r\n\
        From: <sip:ping@192.0.2.4>;tag=77\r\n\
        To: <sip:gw.example.com>\r\n\
        Call-ID: opt-1@192.0.2.4\r\n\
        CSeq: 1 OPTIONS\r\n\
        l: 5\r\n\r\nhello";

    fn drain(framer: &mut StreamFramer) -> Vec<Result<Framed, SipError>> {
        let mut out = Vec::new();
        loop {
            match framer.poll() {
                Ok(Some(framed)) => out.push(Ok(framed)),
                Ok(None) => return out,
                Err(error) => {
                    out.push(Err(error));
                    return out;
                }
            }
        }
    }

    #[test]
    fn messages_come_out_whole_after_byte_by_byte_pushes() {
        let mut framer = StreamFramer::default();
        let stream = format!("{OPTIONS}{OPTIONS}");
        let mut out = Vec::new();
        for byte in stream.as_bytes() {
            framer.push(std::slice::from_ref(byte));
            out.extend(drain(&mut framer));
        }
        assert_eq!(out.len(), 2);
        for framed in out {
            let Ok(Framed::Message(m)) = framed else {
                panic!("expected a message, got {framed:?}");
            };
            assert_eq!(m.body, b"hello");
        }
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn keepalive_pings_are_reported_and_pongs_skipped() {
        let mut framer = StreamFramer::default();
        framer.push(b"\r\n\r\n\r\n");
        assert_eq!(framer.poll(), Ok(Some(Framed::Ping)));
        // A lone CRLF could still be the first half of a ping: wait.
        assert_eq!(framer.poll(), Ok(None));
        framer.push(OPTIONS.as_bytes());
        assert!(matches!(framer.poll(), Ok(Some(Framed::Message(_)))));
        assert_eq!(framer.poll(), Ok(None));
    }

    #[test]
    fn truncated_input_waits_for_more() {
        let mut framer = StreamFramer::default();
        framer.push(&OPTIONS.as_bytes()[..OPTIONS.len() - 1]);
        assert_eq!(framer.poll(), Ok(None));
        framer.push(b"o");
        assert!(matches!(framer.poll(), Ok(Some(Framed::Message(_)))));
    }

    #[test]
    fn missing_content_length_on_a_stream_is_fatal() {
        let mut framer = StreamFramer::default();
        framer.push(OPTIONS.replace("l: 5\r\n", "").as_bytes());
        assert_eq!(framer.poll(), Err(SipError::Missing("Content-Length")));
        framer.push(OPTIONS.as_bytes());
        assert_eq!(framer.poll(), Err(SipError::Missing("Content-Length")));
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn oversized_frames_are_fatal_before_the_body_arrives() {
        let mut framer = StreamFramer::default();
        framer.push(OPTIONS.replace("l: 5", "Content-Length: 70000").as_bytes());
        assert_eq!(framer.poll(), Err(SipError::TooLarge));

        let mut framer = StreamFramer::new(Limits {
            max_message_len: 100,
            ..Limits::DEFAULT
        });
        framer.push(&[b'A'; 101]);
        assert_eq!(framer.poll(), Err(SipError::TooLarge));
    }

    #[test]
    fn bad_or_conflicting_content_length_is_fatal() {
        let mut framer = StreamFramer::default();
        framer.push(OPTIONS.replace("l: 5", "l: -5").as_bytes());
        assert_eq!(framer.poll(), Err(SipError::BadContentLength));
        let mut framer = StreamFramer::default();
        framer.push(
            OPTIONS
                .replace("l: 5", "l: 5\r\nContent-Length:\r\n 6")
                .as_bytes(),
        );
        assert_eq!(framer.poll(), Err(SipError::Duplicate("Content-Length")));
    }

    #[test]
    fn an_invalid_but_delimited_message_does_not_break_the_stream() {
        let mut framer = StreamFramer::default();
        framer.push(
            OPTIONS
                .replace("Call-ID: opt-1@192.0.2.4\r\n", "")
                .as_bytes(),
        );
        framer.push(OPTIONS.as_bytes());
        let out = drain(&mut framer);
        assert!(matches!(
            &out[0],
            Ok(Framed::Invalid {
                error: SipError::Missing("Call-ID"),
                ..
            })
        ));
        assert!(matches!(&out[1], Ok(Framed::Message(_))));
    }
}
