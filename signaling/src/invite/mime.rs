//! Internet messages (`.eml`, RFC 5322 + MIME, RFC 2045/2046): headers with folding, nested
//! multiparts, `quoted-printable` and `base64` bodies, and the common charsets. Only the text of
//! `text/plain`, `text/html` and `text/calendar` parts is returned; attachments of other types
//! are skipped.

use super::{html, ics};

/// Deepest multipart nesting followed (`mixed` > `related` > `alternative` is 3).
const MAX_DEPTH: usize = 8;
/// Most MIME parts visited in one message.
const MAX_PARTS: usize = 64;

/// Header names that mark a MIME message (at least one must be present). A header block without
/// them (prose that starts `Subject: ...`, or a pre-MIME message) is read as plain text, headers
/// included, which loses nothing.
const MESSAGE_HEADERS: &[&str] = &["content-type", "mime-version"];

/// True when `text` starts with the header block of a MIME message.
pub(super) fn looks_like_message(text: &str) -> bool {
    let first = text.lines().next().unwrap_or("");
    if !first
        .split_once(':')
        .is_some_and(|(name, _)| is_field_name(name))
    {
        return false;
    }
    let (headers, _) = split_headers(text);
    headers
        .iter()
        .any(|(name, _)| MESSAGE_HEADERS.contains(&name.as_str()))
}

fn is_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 76
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The text of every text part of the message, in order, one part per paragraph.
pub(super) fn to_text(message: &str) -> String {
    let mut out = String::new();
    let mut parts = 0;
    walk(message, 0, &mut parts, &mut out);
    out
}

fn walk(entity: &str, depth: usize, parts: &mut usize, out: &mut String) {
    if depth > MAX_DEPTH || *parts >= MAX_PARTS {
        return;
    }
    *parts += 1;
    let (headers, body) = split_headers(entity);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let (mime, params) = header("content-type")
        .map_or_else(|| ("text/plain".to_owned(), Vec::new()), parse_content_type);
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if mime.starts_with("multipart/") {
        if let Some(boundary) = param("boundary") {
            for part in split_multipart(body, boundary) {
                walk(part, depth + 1, parts, out);
            }
        }
        return;
    }
    if mime == "message/rfc822" {
        walk(body, depth + 1, parts, out);
        return;
    }
    let encoding = header("content-transfer-encoding")
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "quoted-printable" => quoted_printable(body),
        "base64" => base64(body),
        _ => body.as_bytes().to_vec(),
    };
    let text = decode_charset(&bytes, param("charset").unwrap_or("utf-8"));
    let text = match mime.as_str() {
        "text/html" => html::to_text(&text),
        "text/calendar" | "application/ics" => ics::to_text(&text),
        m if m.starts_with("text/") => text,
        _ => return,
    };
    out.push_str(&text);
    out.push('\n');
}

/// Splits a header block from the body: `(lower-case name, unfolded value)` pairs, then the body.
/// A message without a header block comes back as all body.
fn split_headers(entity: &str) -> (Vec<(String, String)>, &str) {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut offset = 0;
    for line in entity.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        if content.trim().is_empty() {
            return (headers, &entity[offset + line.len()..]);
        }
        if content.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(content.trim());
            }
        } else {
            match content.split_once(':') {
                Some((name, value)) if is_field_name(name.trim_end()) => {
                    headers.push((
                        name.trim_end().to_ascii_lowercase(),
                        value.trim().to_owned(),
                    ));
                }
                // Not a header: the part has no header block (or it ended without a blank line).
                _ if headers.is_empty() => return (headers, entity),
                _ => return (headers, &entity[offset..]),
            }
        }
        offset += line.len();
    }
    (headers, "")
}

/// `type/subtype; name=value; name="quoted; value"`: the lower-case type and its parameters
/// (lower-case names, unquoted values).
fn parse_content_type(value: &str) -> (String, Vec<(String, String)>) {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => pieces.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    pieces.push(current);
    let mut pieces = pieces.into_iter();
    let mime = pieces
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let params = pieces
        .filter_map(|p| {
            let (name, value) = p.split_once('=')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect();
    (mime, params)
}

/// The parts between `--boundary` delimiter lines, up to the closing `--boundary--`.
fn split_multipart<'a>(body: &'a str, boundary: &str) -> Vec<&'a str> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let content = line.trim_end();
        if let Some(after) = content.strip_prefix(delimiter.as_str()) {
            if after.is_empty() || after == "--" {
                if let Some(s) = start {
                    parts.push(&body[s..offset]);
                }
                if after == "--" || parts.len() >= MAX_PARTS {
                    return parts;
                }
                start = Some(offset + line.len());
            }
        }
        offset += line.len();
    }
    if let Some(s) = start {
        parts.push(&body[s..]);
    }
    parts
}

/// Decodes a `quoted-printable` body (RFC 2045 section 6.7); malformed escapes stay as written.
fn quoted_printable(body: &str) -> Vec<u8> {
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'=' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let rest = &bytes[i + 1..];
        // Soft line break: '=' then optional trailing white space, then the line end.
        let spaces = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        match &rest[spaces..] {
            [b'\r', b'\n', ..] => i += 1 + spaces + 2,
            [b'\n', ..] => i += 1 + spaces + 1,
            [] => i += 1 + spaces,
            [h, l, ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                let hex = [*h, *l];
                let text = std::str::from_utf8(&hex).unwrap_or("3D");
                out.push(u8::from_str_radix(text, 16).unwrap_or(b'='));
                i += 3;
            }
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

/// Decodes a `base64` body, skipping line breaks and anything outside the alphabet.
fn base64(body: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in body.bytes() {
        let value = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Bytes in `charset` to text: UTF-8 (and ASCII, and anything unknown) leniently, the Latin
/// family byte for byte.
fn decode_charset(bytes: &[u8], charset: &str) -> String {
    let charset = charset.trim().to_ascii_lowercase();
    let latin = charset.starts_with("iso-8859")
        || charset.starts_with("windows-125")
        || charset == "latin1"
        || charset == "cp1252";
    if latin {
        bytes.iter().map(|&b| char::from(b)).collect()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_soft_breaks_and_escapes() {
        let decoded = quoted_printable("12345678=2E117795=\r\n8860=40gw =3D =\nend=ZZ=");
        assert_eq!(decoded, b"12345678.1177958860@gw = end=ZZ");
    }

    #[test]
    fn base64_ignores_line_breaks() {
        assert_eq!(
            base64("MTIzNDU2\r\nNzguMTE3Nzk1ODg2MA=="),
            b"12345678.1177958860"
        );
        assert_eq!(base64("!!"), b"");
    }

    #[test]
    fn headers_unfold_and_content_type_parameters_unquote() {
        let (headers, body) = split_headers(
            "Content-Type: multipart/alternative;\r\n\tboundary=\"b;1\"\r\nSubject: x\r\n\r\nbody",
        );
        assert_eq!(body, "body");
        assert_eq!(headers[0].1, "multipart/alternative; boundary=\"b;1\"");
        let (mime, params) = parse_content_type(&headers[0].1);
        assert_eq!(mime, "multipart/alternative");
        assert_eq!(params, vec![("boundary".to_owned(), "b;1".to_owned())]);
    }

    #[test]
    fn nested_multipart_text_parts_in_order() {
        let message = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n\
            preamble\r\n--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n\
            --inner\r\nContent-Type: text/plain\r\n\r\nplain part\r\n\
            --inner\r\nContent-Type: text/html; charset=iso-8859-1\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>caf=E9</p>\r\n--inner--\r\n\
            --outer\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n\
            MTIzNDU2Nzg=\r\n--outer--\r\nepilogue\r\n";
        assert!(looks_like_message(message));
        assert_eq!(to_text(message), "plain part\r\n\n\ncaf\u{e9}\n\r\n\n");
    }

    #[test]
    fn prose_is_not_a_message() {
        assert!(!looks_like_message(
            "Hello team,\nJoin: 12345678.1177958860@gw"
        ));
        assert!(!looks_like_message("Note: call in at 10\n"));
    }
}
