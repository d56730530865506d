//! Finding dial details in plain text.
//!
//! Three kinds of finding, each remembered with where it starts:
//! - **addresses**: words that parse as a [`DialString`] of a meeting-dialling shape (`sip:` /
//!   `sips:` / `h323:` URIs, `key.conf@host`, `conf.key`, `gw##key.conf`, `digits@host`);
//! - **labelled identifiers**: `VTC Conference ID: 117 795 886 0` (digit groups joined) and
//!   `Tenant key: 12345678` (optionally `@host`); a tenant key and a conference ID found this way
//!   are combined into `key.conf` (at the key's host, if it has one), placed where the later of
//!   the two appears;
//! - **prefix-style numbers**: a lone run of 7-20 digits on a line that talks about dialling from
//!   a video system (`Dial 61177958860 from a room system`), as a bare alias.
//!
//! Phone dial-in details (`Phone Conference ID: 838 024 513#`, `+1 555 0100`) are not video dial
//! details and are left out.

use crate::dial::{DialString, DialUser, Scheme};
use crate::ids::{ConferenceId, TenantKey};

/// Most labelled tenant keys or conference IDs combined with each other.
const MAX_LABELLED: usize = 16;
/// Bytes on either side of a lone number searched for video or phone words.
const CONTEXT: usize = 120;
/// Most bytes between a label and its value (`, which for this meeting is `).
const MAX_FILLER: usize = 40;

/// Labels a conference ID follows (matched in lower case; the longer VTC forms contain these).
const CONFERENCE_LABELS: &[&str] = &["conference id", "vtc id", "video id"];
/// Labels a tenant key follows.
const TENANT_LABELS: &[&str] = &["tenant key"];
/// Words just before a conference label that make it a phone (audio) conference ID.
const PHONE_WORDS: &[&str] = &["phone", "audio", "pstn", "dial-in", "telephone"];
/// Words on a line that make a lone digit run a video dial string.
const VIDEO_WORDS: &[&str] = &[
    "dial", "vtc", "video", "room", "sip", "h.323", "h323", "prefix", "codec",
];

/// A finding: where it starts in the text, and the dial string.
type Found = (usize, DialString);

/// Every candidate in `text`, in order of appearance, duplicates removed, at most `max`.
pub(super) fn candidates(text: &str, max: usize) -> Vec<DialString> {
    let text = normalise(text);
    let lower = text.to_ascii_lowercase();
    let mut found: Vec<Found> = Vec::new();
    let mut claimed: Vec<(usize, usize)> = Vec::new();

    let conferences = labelled(&text, &lower, CONFERENCE_LABELS, true, &mut claimed);
    let keys = labelled(&text, &lower, TENANT_LABELS, false, &mut claimed);
    let mut key_sources: Vec<(usize, TenantKey, Option<String>)> = Vec::new();
    for (at, digits, host) in &keys {
        if let Ok(key) = TenantKey::new(digits) {
            let written = match host {
                Some(h) => format!("{digits}@{h}"),
                None => digits.clone(),
            };
            if let Ok(dial) = DialString::parse(&written) {
                found.push((*at, dial));
            }
            key_sources.push((*at, key, host.clone()));
        }
    }

    // Words come in order, so once `max` distinct ones are found no later word can make the
    // cut; stopping there bounds the work on long inputs.
    let newlines: Vec<usize> = text.match_indices('\n').map(|(at, _)| at).collect();
    let mut distinct_words: Vec<DialString> = Vec::new();
    for (start, word) in words(&text) {
        if distinct_words.len() >= max {
            break;
        }
        let dial = match address(word) {
            Some(dial) => Some(dial),
            None if is_prefix_number(&text, &lower, &newlines, start, word, &claimed) => {
                DialString::parse(word).ok()
            }
            None => None,
        };
        // A repeat comes after the first occurrence, which already holds its place.
        let Some(dial) = dial.filter(|d| !distinct_words.contains(d)) else {
            continue;
        };
        distinct_words.push(dial.clone());
        if let (DialUser::Digits(digits), Some(host)) = (&dial.user, &dial.host) {
            let is_conference = conferences.iter().any(|(_, c, _)| c == digits);
            if let (Ok(key), false) = (TenantKey::new(digits), is_conference) {
                key_sources.push((start, key, Some(host.clone())));
            }
        }
        found.push((start, dial));
    }

    key_sources.truncate(MAX_LABELLED);
    for (conf_at, conference, _) in conferences.iter().take(MAX_LABELLED) {
        if ConferenceId::new(conference).is_err() {
            continue;
        }
        for (key_at, key, host) in &key_sources {
            if key.as_str() == conference {
                continue;
            }
            let written = match host {
                Some(h) => format!("{key}.{conference}@{h}"),
                None => format!("{key}.{conference}"),
            };
            if let Ok(dial) = DialString::parse(&written) {
                found.push(((*conf_at).max(*key_at), dial));
            }
        }
    }

    found.sort_by_key(|(at, _)| *at);
    let mut out: Vec<DialString> = Vec::new();
    for (_, dial) in found {
        if out.len() >= max {
            break;
        }
        if !out.contains(&dial) {
            out.push(dial);
        }
    }
    out
}

/// Spaces of every width become plain spaces; invisible characters (zero-width spaces, soft
/// hyphens, byte-order marks) that mail clients put inside numbers are removed.
fn normalise(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => {
                Some(' ')
            }
            '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => None,
            c => Some(c),
        })
        .collect()
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._-@#%:;=[]+".contains(c)
}

/// The words of `text` that contain a digit, with their start, trimmed of sentence punctuation.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest_start = 0;
    std::iter::from_fn(move || loop {
        let rest = &text[rest_start..];
        let begin = rest.find(is_word_char)?;
        let len = rest[begin..]
            .find(|c: char| !is_word_char(c))
            .unwrap_or(rest.len() - begin);
        let start = rest_start + begin;
        rest_start = start + len;
        let raw = &text[start..start + len];
        let trimmed_front = raw.trim_start_matches(|c: char| ".:;-_=+".contains(c));
        let word = trimmed_front.trim_end_matches(|c: char| ".:;-_=+#,".contains(c));
        if word.bytes().any(|b| b.is_ascii_digit()) && word.len() <= 512 {
            return Some((start + (raw.len() - trimmed_front.len()), word));
        }
    })
}

/// A word that dials a meeting, tenant or prefix, as a [`DialString`].
fn address(word: &str) -> Option<DialString> {
    let dial = DialString::parse(word).ok()?;
    let shaped = match &dial.user {
        DialUser::Pair(a, b) => {
            let pair = |k: &str, c: &str| TenantKey::new(k).is_ok() && ConferenceId::new(c).is_ok();
            pair(a, b) || pair(b, a)
        }
        DialUser::Digits(d) => {
            (4..=20).contains(&d.len()) && (dial.host.is_some() || dial.scheme != Scheme::Bare)
        }
    };
    shaped.then_some(dial)
}

/// A lone digit run of 7-20 digits on a line about video dialling, not part of a phone number
/// and not already read as a labelled identifier.
fn is_prefix_number(
    text: &str,
    lower: &str,
    newlines: &[usize],
    start: usize,
    word: &str,
    claimed: &[(usize, usize)],
) -> bool {
    if !(7..=20).contains(&word.len()) || !word.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let end = start + word.len();
    if claimed.iter().any(|&(s, e)| start < e && s < end) {
        return false;
    }
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    if before.is_some_and(|c| "+#(".contains(c) || c.is_ascii_alphanumeric())
        || after.is_some_and(|c| "#)".contains(c) || c.is_ascii_alphanumeric())
    {
        return false;
    }
    // The words around it on its line (within [`CONTEXT`] bytes, so a huge one-line input
    // costs no more per number than a short one).
    let line = newlines.partition_point(|&nl| nl < start);
    let line_start = line.checked_sub(1).map_or(0, |i| newlines[i] + 1);
    let line_end = newlines.get(line).copied().unwrap_or(lower.len());
    let from = floor_char_boundary(lower, line_start.max(start.saturating_sub(CONTEXT)));
    let mut to = line_end.min(end + CONTEXT);
    while !lower.is_char_boundary(to) {
        to += 1;
    }
    let line = &lower[from..to];
    VIDEO_WORDS.iter().any(|w| line.contains(w)) && !PHONE_WORDS.iter().any(|w| line.contains(w))
}

/// Identifiers after one of `labels`: `(where the label starts, digits, host after '@')`.
/// Digit groups (`117 795 886 0`) are joined when `groups` is set. Conference labels preceded
/// by a phone word are skipped. The digits read are added to `claimed`.
fn labelled(
    text: &str,
    lower: &str,
    labels: &[&str],
    groups: bool,
    claimed: &mut Vec<(usize, usize)>,
) -> Vec<(usize, String, Option<String>)> {
    let mut out = Vec::new();
    let mut hits: Vec<(usize, usize)> = labels
        .iter()
        .flat_map(|label| lower.match_indices(label).map(|(at, l)| (at, at + l.len())))
        .collect();
    hits.sort_unstable();
    for (at, label_end) in hits {
        if out.len() >= MAX_LABELLED {
            break;
        }
        let window = &lower[floor_char_boundary(lower, at.saturating_sub(16))..at];
        let context = window.rsplit('\n').next().unwrap_or(window);
        if groups && PHONE_WORDS.iter().any(|w| context.contains(w)) {
            continue;
        }
        let Some((value_start, value_end, digits)) = read_value(text, label_end, groups) else {
            continue;
        };
        let host = text[value_end..].strip_prefix('@').and_then(|rest| {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                .unwrap_or(rest.len());
            let host = rest[..len].trim_end_matches('.');
            (!host.is_empty()).then(|| host.to_owned())
        });
        claimed.push((value_start, value_end));
        out.push((at, digits, host));
    }
    out
}

/// The digits after a label: skips up to [`MAX_FILLER`] bytes of punctuation and words (`: `,
/// ` is `, `, which for this meeting is `; words may wrap onto the next line, but not across a
/// blank line; punctuation alone may span lines, as table cells do), then reads one run of digits (or,
/// with `groups`, runs separated by single spaces or hyphens). A `.` or `@` before any digit
/// ends the search (the sentence or the address ended). Returns the byte span and the digits.
fn read_value(text: &str, from: usize, groups: bool) -> Option<(usize, usize, String)> {
    let rest = &text[from..];
    let filler = rest
        .char_indices()
        .take_while(|&(at, _)| at <= MAX_FILLER)
        .find(|&(_, c)| c.is_ascii_digit() || matches!(c, '.' | '@'))
        .map_or(rest.len(), |(at, _)| at);
    let fill = &rest[..filler];
    let punctuation_only = fill
        .chars()
        .all(|c| c.is_whitespace() || ":#=-\u{2013}\u{2014}".contains(c));
    if filler > MAX_FILLER || (!punctuation_only && fill.matches('\n').count() > 1) {
        return None;
    }
    let start = from + filler;
    let bytes = text.as_bytes();
    let mut end = start;
    let mut digits = String::new();
    loop {
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            digits.push(char::from(bytes[end]));
            end += 1;
        }
        let more = groups
            && end + 1 < bytes.len()
            && matches!(bytes[end], b' ' | b'-')
            && bytes[end + 1].is_ascii_digit()
            && !digits.is_empty();
        if !more || digits.len() > ConferenceId::MAX_DIGITS {
            break;
        }
        end += 1;
    }
    let followed_by_word = text[end..]
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if digits.is_empty() || followed_by_word || digits.len() > ConferenceId::MAX_DIGITS {
        return None;
    }
    Some((start, end, digits))
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<String> {
        candidates(text, 64)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn addresses_in_prose_keep_their_order() {
        assert_eq!(
            found(
                "Dial 12345678.1177958860@gw.example.com. Or <sip:1177958860@video.acme.example>, \
                 or h323:gw##12345678.1177958860 (H.323)."
            ),
            [
                "12345678.1177958860@gw.example.com",
                "sip:1177958860@video.acme.example",
                "h323:gw##12345678.1177958860",
            ]
        );
    }

    #[test]
    fn emails_phone_numbers_dates_and_addresses_are_not_candidates() {
        assert!(found(
            "Mail ada@acme.example or 12@x.example; call +1 555 0100 or +44 20 7946 0958; \
             on 2025.01.02 at 10:30, server 192.0.2.10:5060, version 1.2.3, 1.1177958860"
        )
        .is_empty());
    }

    #[test]
    fn labelled_key_and_spaced_conference_id_combine() {
        let text = "Join with a video conferencing device\n12345678@t.plcm.vc\n\
                    Video Conference ID: 117 795 886 0\nAlternate VTC instructions";
        assert_eq!(
            found(text),
            ["12345678@t.plcm.vc", "12345678.1177958860@t.plcm.vc"]
        );
        let text = "Tenant key: 12345678. The VTC conference ID is 1177958860.";
        assert_eq!(found(text), ["12345678", "12345678.1177958860"]);
    }

    #[test]
    fn phone_conference_ids_are_not_video_details() {
        let text = "Phone Conference ID: 838 024 513#\nTenant key: 12345678";
        assert_eq!(found(text), ["12345678"]);
    }

    #[test]
    fn prefix_numbers_need_video_context() {
        assert_eq!(
            found("From a room system, dial 61177958860."),
            ["61177958860"]
        );
        assert!(found("Invoice 61177958860 is due.").is_empty());
        assert!(found("Dial-in by phone: 61177958860").is_empty());
    }

    #[test]
    fn invisible_characters_inside_numbers_are_ignored() {
        assert_eq!(
            found("12345678.1177\u{200B}958860@gw\u{00A0}"),
            ["12345678.1177958860@gw"]
        );
    }

    #[test]
    fn long_adversarial_inputs_stay_linear() {
        // Each would be quadratic with a per-word line search or an unbounded label look-ahead.
        for unit in [
            "dial 1234567 ",
            "conference id ",
            "<a",
            "12345678.1177958860@gw ",
        ] {
            let text = unit.repeat(512 * 1024 / unit.len());
            let _ = candidates(&text, 64);
            let _ = super::super::parse(&text);
        }
    }

    #[test]
    fn duplicates_are_removed_and_the_count_is_bounded() {
        assert_eq!(found("12345678.1177958860 12345678.1177958860").len(), 1);
        let many: String = (0..100).map(|i| format!("12345678.{:010} ", i)).collect();
        assert_eq!(candidates(&many, 64).len(), 64);
    }
}
