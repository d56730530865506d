//! iCalendar (`.ics`, RFC 5545): content lines unfolded (section 3.1), TEXT values unescaped
//! (section 3.3.11), and the properties a meeting's dial details are written into returned as
//! text: `SUMMARY`, `LOCATION`, `DESCRIPTION`, `COMMENT`, `URL`, `CONFERENCE` (RFC 7986) and
//! Outlook's HTML `X-ALT-DESC`.

use super::html;

/// Properties whose values are plain text or URIs.
const TEXT_PROPERTIES: &[&str] = &[
    "COMMENT",
    "CONFERENCE",
    "DESCRIPTION",
    "LOCATION",
    "SUMMARY",
    "URL",
];

/// True when `text` is an iCalendar object.
pub(super) fn looks_like_calendar(text: &str) -> bool {
    let start = text.trim_start_matches(['\u{FEFF}', ' ', '\t', '\r', '\n']);
    ["BEGIN:VCALENDAR", "BEGIN:VEVENT"].iter().any(|begin| {
        start
            .get(..begin.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(begin))
    })
}

/// The text of the calendar's dial-relevant properties, one per line, in file order.
pub(super) fn to_text(calendar: &str) -> String {
    let mut out = String::new();
    for line in unfold(calendar).lines() {
        let Some((name, params, value)) = split_content_line(line) else {
            continue;
        };
        let name = name.to_ascii_uppercase();
        if TEXT_PROPERTIES.contains(&name.as_str()) {
            out.push_str(&unescape(value));
        } else if name == "X-ALT-DESC" {
            let value = unescape(value);
            let is_html = params.to_ascii_lowercase().contains("text/html");
            out.push_str(&if is_html {
                html::to_text(&value)
            } else {
                value
            });
        } else {
            continue;
        }
        out.push('\n');
    }
    out
}

/// Joins folded lines: a line break followed by one space or tab continues the previous line.
fn unfold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(nl) = rest.find('\n') {
        let line = &rest[..nl];
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        rest = &rest[nl + 1..];
        match rest.strip_prefix([' ', '\t']) {
            Some(continued) => rest = continued,
            None => out.push('\n'),
        }
    }
    out.push_str(rest);
    out
}

/// `NAME;PARAM=...;PARAM="a:b":value` into name, parameters and value; the value starts at the
/// first colon outside a quoted parameter value.
fn split_content_line(line: &str) -> Option<(&str, &str, &str)> {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => {
                let head = &line[..i];
                let (name, params) = head.split_once(';').unwrap_or((head, ""));
                return Some((name, params, &line[i + 1..]));
            }
            _ => {}
        }
    }
    None
}

/// Undoes TEXT escaping: `\n`/`\N` (line break), `\,`, `\;`, `\\`; other escapes stay as written.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(escaped @ (',' | ';' | '\\')) => out.push(escaped),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_lines_join_and_text_unescapes() {
        let ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDESCRIPTION:Dial 12345678.11779\r\n 58860@gw\\, or\\n\r\n\tcall\\; \\\\o/ \\x\r\nDTSTART:20250102T030405Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert!(looks_like_calendar(ics));
        assert_eq!(
            to_text(ics),
            "Dial 12345678.1177958860@gw, or\ncall; \\o/ \\x\n"
        );
    }

    #[test]
    fn quoted_parameters_may_hold_colons_and_html_is_stripped() {
        let ics = "X-ALT-DESC;FMTTYPE=text/html:<p>Join&#58\\; <b>now</b></p>\n\
                   LOCATION;ALTREP=\"http://x.example/a:b\":Room 1\n";
        assert_eq!(to_text(ics), "\nJoin: now\n\nRoom 1\n");
    }

    #[test]
    fn other_text_is_not_a_calendar() {
        assert!(!looks_like_calendar("Meeting\nBEGIN:VCALENDAR"));
        assert!(looks_like_calendar("\u{feff}\r\nbegin:vcalendar\r\n"));
    }
}
