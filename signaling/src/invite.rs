//! One-touch dial: the video dial details of a meeting invitation (`docs/domain.md`,
//! One-touch dial).
//!
//! Owns reading an invitation in any of the layouts calendars send (plain text, HTML, an `.eml`
//! Internet message with MIME parts, an `.ics` calendar object) down to text, and finding the
//! candidate [`DialString`]s in it, in order of appearance, without duplicates. It must not
//! decide which candidate is the meeting: that needs the directory, and the gateway resolves the
//! candidates through [`DialLookup`](crate::DialLookup). Pure and bounded: input longer than
//! [`MAX_INVITATION_LEN`] is refused, at most [`MAX_CANDIDATES`] are returned, and no input makes
//! it panic (a proptest and the `invite` fuzz target hold it to that).

mod html;
mod ics;
mod mime;
mod scan;

use crate::dial::DialString;

/// Longest invitation accepted, in bytes (a long Outlook invitation with its HTML and calendar
/// parts is well under 1 MiB).
pub const MAX_INVITATION_LEN: usize = 2 * 1024 * 1024;
/// Most candidates returned.
pub const MAX_CANDIDATES: usize = 64;

/// Why an invitation gave no dial details.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    /// The input is longer than [`MAX_INVITATION_LEN`].
    #[error("invitation of {len} bytes is longer than the {max} accepted")]
    TooLarge {
        /// Bytes given.
        len: usize,
        /// Bytes accepted.
        max: usize,
    },
    /// Nothing in the invitation looks like a video dial string, tenant key or conference ID.
    #[error("no video dial details found in the invitation")]
    NoDialDetails,
}

/// How the invitation was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Plain text.
    Text,
    /// An HTML document or fragment.
    Html,
    /// An Internet message (`.eml`) with MIME headers.
    Email,
    /// An iCalendar object (`.ics`).
    Calendar,
}

impl Layout {
    /// The layout's name in logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Text => "text",
            Layout::Html => "html",
            Layout::Email => "email",
            Layout::Calendar => "calendar",
        }
    }
}

/// What an invitation says about dialling in by video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// How it was written.
    pub layout: Layout,
    /// Candidate dial strings, in order of appearance, no two equal; never empty.
    pub candidates: Vec<DialString>,
}

/// Reads an invitation in any layout and finds its candidate dial strings.
pub fn parse(input: &str) -> Result<Invitation, InviteError> {
    let (layout, text) = to_text(input)?;
    let candidates = scan::candidates(&text, MAX_CANDIDATES);
    if candidates.is_empty() {
        return Err(InviteError::NoDialDetails);
    }
    Ok(Invitation { layout, candidates })
}

/// The layout of an invitation and its readable text (tags, MIME structure, calendar syntax and
/// escapes removed).
pub fn to_text(input: &str) -> Result<(Layout, String), InviteError> {
    if input.len() > MAX_INVITATION_LEN {
        return Err(InviteError::TooLarge {
            len: input.len(),
            max: MAX_INVITATION_LEN,
        });
    }
    Ok(if ics::looks_like_calendar(input) {
        (Layout::Calendar, ics::to_text(input))
    } else if mime::looks_like_message(input) {
        (Layout::Email, mime::to_text(input))
    } else if looks_like_html(input) {
        (Layout::Html, html::to_text(input))
    } else {
        (Layout::Text, input.to_owned())
    })
}

/// True for text with HTML markup: a document element, a common tag, or an `&nbsp;`.
fn looks_like_html(text: &str) -> bool {
    const MARKERS: &[&str] = &[
        "<!doctype html",
        "<html",
        "<body",
        "<div",
        "<p>",
        "<p ",
        "<br",
        "<span",
        "<table",
        "<a ",
        "&nbsp;",
    ];
    let head = &text[..floor_boundary(text, 64 * 1024)];
    let lower = head.to_ascii_lowercase();
    MARKERS.iter().any(|m| lower.contains(m))
}

fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn dial_strings(input: &str) -> Vec<String> {
        parse(input)
            .unwrap()
            .candidates
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn every_layout_is_recognised() {
        let cases = [
            ("Dial 12345678.1177958860@gw", Layout::Text),
            ("<p>Dial 12345678&#46;1177958860@gw</p>", Layout::Html),
            (
                "MIME-Version: 1.0\nContent-Type: text/plain\n\nDial 12345678.1177958860@gw",
                Layout::Email,
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VEVENT\nLOCATION:12345678.1177958860@gw\nEND:VEVENT\n",
                Layout::Calendar,
            ),
        ];
        for (input, layout) in cases {
            let invitation = parse(input).unwrap();
            assert_eq!(invitation.layout, layout, "{input:?}");
            assert_eq!(dial_strings(input), ["12345678.1177958860@gw"], "{input:?}");
        }
    }

    #[test]
    fn html_in_an_eml_part_is_decoded_twice() {
        let eml = "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\
                   Content-Transfer-Encoding: quoted-printable\r\n\r\n\
                   <div>VTC Conference ID: 1177958860</div><div>Tenant key=3A 12345678=\r\n\
                   @t.plcm.vc</div>\r\n";
        assert_eq!(
            dial_strings(eml),
            ["12345678@t.plcm.vc", "12345678.1177958860@t.plcm.vc"]
        );
    }

    #[test]
    fn no_details_and_oversized_input_are_errors() {
        assert_eq!(
            parse("Lunch at noon, room 4.").unwrap_err(),
            InviteError::NoDialDetails
        );
        let big = "x".repeat(MAX_INVITATION_LEN + 1);
        assert!(matches!(
            parse(&big).unwrap_err(),
            InviteError::TooLarge { .. }
        ));
    }

    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("BEGIN:VCALENDAR\r\n".to_owned()),
            Just("DESCRIPTION:".to_owned()),
            Just("X-ALT-DESC;FMTTYPE=text/html:".to_owned()),
            Just("\r\n ".to_owned()),
            Just("\\n\\,\\;\\\\\\".to_owned()),
            Just("MIME-Version: 1.0\r\n".to_owned()),
            Just("Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n".to_owned()),
            Just("Content-Type: text/html; charset=iso-8859-1\r\n".to_owned()),
            Just("Content-Transfer-Encoding: quoted-printable\r\n\r\n".to_owned()),
            Just("Content-Transfer-Encoding: base64\r\n\r\n".to_owned()),
            Just("\r\n--b\r\n".to_owned()),
            Just("--b--".to_owned()),
            Just("=3D=\r\n=".to_owned()),
            Just("<div><a href=\"sip:".to_owned()),
            Just("\">&#46;&#x40;&nbsp;&amp</a><!--".to_owned()),
            Just("<script>".to_owned()),
            Just("VTC Conference ID: 117 795 886 0".to_owned()),
            Just("Tenant key: 12345678@".to_owned()),
            Just("12345678.1177958860@gw.example.com".to_owned()),
            Just("gw##".to_owned()),
            Just("dial 61177958860".to_owned()),
            "[ -~\u{a0}\u{200b}\u{e9}\n]{0,24}",
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
            let _ = parse(&text);
        }

        #[test]
        fn invitation_shaped_text_never_panics_and_candidates_reparse(
            parts in proptest::collection::vec(fragment(), 0..24)
        ) {
            let text = parts.concat();
            if let Ok(invitation) = parse(&text) {
                prop_assert!(invitation.candidates.len() <= MAX_CANDIDATES);
                for c in &invitation.candidates {
                    prop_assert_eq!(&DialString::parse(&c.to_string()).unwrap(), c);
                }
            }
        }
    }
}
