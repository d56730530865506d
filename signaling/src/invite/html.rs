//! HTML to plain text, as far as finding dial details needs: tags dropped (block tags become line
//! breaks), `<script>`/`<style>` and comments skipped, character references decoded, and the
//! `sip:`/`sips:`/`h323:` targets of links kept as text (a Join link's target is often the only
//! place the full dial string appears).

/// Elements whose start or end breaks a line when rendered.
const BLOCK_TAGS: &[&str] = &[
    "address",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// Schemes whose link targets are kept as text.
const DIAL_SCHEMES: &[&str] = &["sip:", "sips:", "h323:"];

/// The text of an HTML document or fragment.
pub(super) fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        let Some(lt) = rest.find('<') else {
            decode_entities(rest, &mut out);
            break;
        };
        decode_entities(&rest[..lt], &mut out);
        i += lt;
        let rest = &html[i..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            match comment.find("-->") {
                Some(end) => i += 4 + end + 3,
                None => break,
            }
            continue;
        }
        let after = &rest[1..];
        let starts_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'));
        if !starts_tag {
            // A lone '<' is text ("a < b").
            out.push('<');
            i += 1;
            continue;
        }
        let Some(end) = after.find('>') else {
            // No '>' anywhere after: no tag can close, so the rest is text.
            decode_entities(rest, &mut out);
            break;
        };
        let tag = &after[..end];
        i += 1 + end + 1;
        if starts_with_dial_scheme(tag) {
            // `<sip:12345678.1177958860@gw>` written into the text: an address, not a tag.
            out.push(' ');
            out.push_str(tag);
            out.push(' ');
            continue;
        }
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if !closing && (name == "script" || name == "style") {
            let close = format!("</{name}");
            i = match lower[i..].find(&close) {
                Some(at) => {
                    let from = i + at;
                    lower[from..]
                        .find('>')
                        .map_or(html.len(), |gt| from + gt + 1)
                }
                None => html.len(),
            };
            continue;
        }
        if BLOCK_TAGS.contains(&name.as_str()) {
            out.push('\n');
        }
        if !closing && name == "a" {
            if let Some(target) = attribute(tag, "href") {
                let mut decoded = String::new();
                decode_entities(target, &mut decoded);
                if starts_with_dial_scheme(&decoded) {
                    out.push(' ');
                    out.push_str(&decoded);
                    out.push(' ');
                }
            }
        }
    }
    out
}

fn starts_with_dial_scheme(text: &str) -> bool {
    DIAL_SCHEMES.iter().any(|scheme| {
        text.get(..scheme.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
    })
}

/// The value of attribute `name` inside a tag's text (quoted or not), if present.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find(name) {
        let start = from + at;
        from = start + name.len();
        let preceded_by_space = lower[..start]
            .chars()
            .next_back()
            .is_some_and(char::is_whitespace);
        let rest = lower[from..].trim_start();
        if !preceded_by_space || !rest.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let value = tag[value_start..].trim_start();
        return Some(match value.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let inner = &value[1..];
                &inner[..inner.find(q).unwrap_or(inner.len())]
            }
            _ => {
                let end = value
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(value.len());
                &value[..end]
            }
        });
    }
    None
}

/// Appends `text` to `out` with character references (`&amp;`, `&#46;`, `&#x2E;`, `&nbsp;` ...)
/// decoded; anything that is not a known reference stays as written.
pub(super) fn decode_entities(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(at, _)| at);
        match semi.and_then(|at| entity(&after[..at]).map(|c| (at, c))) {
            Some((at, decoded)) => {
                if let Some(c) = decoded {
                    out.push(c);
                }
                rest = &after[at + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

/// The character a reference stands for: `Some(None)` for one that renders as nothing (soft
/// hyphen), `None` for an unknown reference.
fn entity(name: &str) -> Option<Option<char>> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse::<u32>().ok()?,
        };
        return Some(Some(char::from_u32(code).unwrap_or('\u{FFFD}')));
    }
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
        "shy" | "zwsp" | "zwnj" | "zwj" => return Some(None),
        "ndash" => '\u{2013}',
        "mdash" => '\u{2014}',
        "lsquo" => '\u{2018}',
        "rsquo" => '\u{2019}',
        "ldquo" => '\u{201C}',
        "rdquo" => '\u{201D}',
        "hellip" => '\u{2026}',
        "bull" => '\u{2022}',
        "middot" => '\u{00B7}',
        "copy" => '\u{00A9}',
        "reg" => '\u{00AE}',
        "trade" => '\u{2122}',
        "colon" => ':',
        "period" => '.',
        "commat" => '@',
        "num" => '#',
        _ => return None,
    };
    Some(Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_dropped_and_blocks_break_lines() {
        let text =
            to_text("<div>Join<br>with a <b>video</b> device</div><p>12345678@t.plcm.vc</p>");
        assert_eq!(text, "\nJoin\nwith a video device\n\n12345678@t.plcm.vc\n");
    }

    #[test]
    fn references_are_decoded() {
        let mut out = String::new();
        decode_entities(
            "12345678&#46;1177958860&#x40;gw&period;example.com &amp;&nbsp;&bogus; &amp",
            &mut out,
        );
        assert_eq!(out, "12345678.1177958860@gw.example.com & &bogus; &amp");
    }

    #[test]
    fn scripts_styles_and_comments_are_skipped() {
        let text = to_text(
            "<style>p{x:1}</style><!-- 99999999.1111111111 --><script>var a='<b>';</script>ok",
        );
        assert_eq!(text, "ok");
    }

    #[test]
    fn dial_links_and_angle_addresses_are_kept() {
        let text = to_text(
            "<a href=\"sip:12345678.1177958860@gw.example.com\">Join</a> \
             <a href='https://x.example/'>web</a> &lt;sip:1@gw&gt; <sip:2@gw>",
        );
        assert_eq!(
            text,
            " sip:12345678.1177958860@gw.example.com Join web <sip:1@gw>  sip:2@gw "
        );
    }

    #[test]
    fn stray_angle_brackets_are_text() {
        assert_eq!(to_text("a < b <3 <"), "a < b <3 <");
        assert_eq!(to_text("<b"), "<b");
    }
}
