//! Slates: the still pictures a caller sees while it cannot see a meeting (entry queue, lobby):
//! a plain background with a large, centred, word-wrapped title, an accent bar under it and
//! smaller lines of detail, in any script, drawn with the bitmap glyphs of [`crate::font`]
//! scaled up in whole pixels (blocky but sharp, and it survives H.264 at low bit rates far better
//! than thin anti-aliased strokes would).
//!
//! Owns the slate's look and text layout. It must not decide which slate a caller sees, nor
//! encode or time anything (the gateway does, once per distinct slate and size).
//!
//! # Layout
//! - Title glyphs are `height / 11` pixels tall rounded down to whole font pixels (64 px on
//!   720p, 32 px on 360p), detail lines half that (at least 16 px); a title too long for the
//!   width wraps at spaces, and a word too long for one line shrinks the title's scale until it
//!   fits (down to 1; beyond that it is cut).
//! - The text block is centred vertically; every line is centred horizontally, with a margin
//!   of 1/16 of the width on both sides. Glyph blocks start on even pixels when the scale is
//!   even, so the chroma of the text matches its luma exactly on the usual sizes.

use crate::draw::{paint, Paint};
use crate::font::{self, text_width, TextMask, LINE_HEIGHT};
use crate::frame::{FrameError, I420Frame, Yuv};
use crate::layout::Rect;

/// Why a slate could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlateError {
    /// The picture could not be made (size).
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// What a slate says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SlateText {
    /// The large line(s): what is happening ("Waiting for the host to let you in").
    pub title: String,
    /// Smaller lines under it (the meeting's name, what to do next); empty lines are skipped.
    pub lines: Vec<String>,
}

/// The colours of a slate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlateStyle {
    /// Everything that is not text.
    pub background: Yuv,
    /// The title.
    pub title: Yuv,
    /// The detail lines.
    pub detail: Yuv,
    /// The bar between title and details.
    pub accent: Yuv,
}

impl Default for SlateStyle {
    /// Deep navy with white and light grey text and an amber bar (the compositor's highlight).
    fn default() -> Self {
        SlateStyle {
            background: Yuv::from_rgb(16, 40, 80),
            title: Yuv::WHITE,
            detail: Yuv::from_rgb(200, 210, 225),
            accent: Yuv::from_rgb(255, 200, 0),
        }
    }
}

/// One line of text placed on the slate: where it starts, its scale, what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Placed {
    x: u32,
    y: u32,
    scale: u32,
    text: String,
    color: Yuv,
}

/// Title glyph height as a fraction of the picture height (1/11: 64 px on 720p).
const TITLE_HEIGHT_DIVISOR: u32 = 11;
/// Side margins as a fraction of the width (1/16 each side).
const MARGIN_DIVISOR: u32 = 16;

/// Draws `text` on a `width` x `height` slate in `style`.
///
/// # Errors
/// [`SlateError::Frame`] for a size no I420 frame can have (zero or huge).
pub fn render_slate(
    width: u32,
    height: u32,
    text: &SlateText,
    style: &SlateStyle,
) -> Result<I420Frame, SlateError> {
    let mut frame = I420Frame::solid(width, height, style.background)?;
    let (placed, accent) = lay_out(width, height, text, style);
    for line in &placed {
        draw_line(&mut frame, line);
    }
    if let Some(bar) = accent {
        frame.fill_rect(bar, style.accent)?;
    }
    Ok(frame)
}

/// Where each line goes, and the accent bar.
fn lay_out(
    width: u32,
    height: u32,
    text: &SlateText,
    style: &SlateStyle,
) -> (Vec<Placed>, Option<Rect>) {
    let margin = width / MARGIN_DIVISOR;
    let usable = width.saturating_sub(2 * margin).max(LINE_HEIGHT);
    let mut title_scale = (height / TITLE_HEIGHT_DIVISOR / LINE_HEIGHT).max(1);
    // The longest word must fit on one line.
    let longest = text
        .title
        .split_whitespace()
        .map(text_width)
        .max()
        .unwrap_or(0);
    while title_scale > 1 && longest * title_scale > usable {
        title_scale -= 1;
    }
    let detail_scale = (title_scale / 2).max(1);
    let title_lines = wrap(&text.title, usable / title_scale);
    let detail_lines: Vec<String> = text
        .lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|l| wrap(l, usable / detail_scale))
        .collect();

    // Line pitch: glyph height plus a quarter of it (titles) or a third (details) as leading
    // (Unifont's cells already carry some space above and below the letters).
    let title_h = LINE_HEIGHT * title_scale;
    let title_pitch = title_h + title_h / 4;
    let detail_h = LINE_HEIGHT * detail_scale;
    let detail_pitch = detail_h + detail_h / 3;
    let bar_h = even_at_least_2(title_scale);
    let bar_gap = title_h / 2;
    let has_details = !detail_lines.is_empty();
    let block_h = title_lines.len() as u32 * title_pitch
        + if has_details {
            2 * bar_gap + bar_h + detail_lines.len() as u32 * detail_pitch
        } else {
            0
        };
    let mut y = even(height.saturating_sub(block_h) / 2);
    let mut placed = Vec::with_capacity(title_lines.len() + detail_lines.len());
    let centred = |line: &str, scale: u32| {
        let w = text_width(line) * scale;
        even(width.saturating_sub(w) / 2)
    };
    for line in title_lines {
        placed.push(Placed {
            x: centred(&line, title_scale),
            y,
            scale: title_scale,
            text: line,
            color: style.title,
        });
        y += title_pitch;
    }
    let mut accent = None;
    if has_details {
        y += bar_gap;
        let bar_w = even(width / 3);
        accent = Some(Rect {
            x: even((width - bar_w) / 2),
            y: even(y),
            width: bar_w,
            height: bar_h,
        })
        .filter(|r| r.y + r.height <= height && r.width > 0);
        y = even(y + bar_h + bar_gap);
        for line in detail_lines {
            placed.push(Placed {
                x: centred(&line, detail_scale),
                y,
                scale: detail_scale,
                text: line,
                color: style.detail,
            });
            y += detail_pitch;
        }
    }
    (placed, accent)
}

fn even(v: u32) -> u32 {
    v & !1
}

fn even_at_least_2(v: u32) -> u32 {
    (v.max(2) + 1) & !1
}

/// Splits `text` into lines at most `max_width` pixels wide (at scale 1) at spaces; a word
/// wider than a line is cut (at least one character of it stays, so nothing loops or vanishes).
fn wrap(text: &str, max_width: u32) -> Vec<String> {
    let space = text_width(" ");
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut cut = font::fit(word, max_width);
        if cut.is_empty() {
            cut = word
                .char_indices()
                .nth(1)
                .map_or(word, |(at, _)| &word[..at]);
        }
        let word = cut;
        let needed =
            text_width(&current) + if current.is_empty() { 0 } else { space } + text_width(word);
        if !current.is_empty() && needed > max_width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// Draws one line: each ink pixel a `scale` x `scale` block in the line's colour (luma and
/// chroma), clipped to the frame.
fn draw_line(frame: &mut I420Frame, line: &Placed) {
    let mask = TextMask::render(&line.text);
    paint(
        frame,
        &mask,
        line.x,
        line.y,
        line.scale,
        Paint::Color(line.color),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::PlaneKind;

    fn lobby() -> SlateText {
        SlateText {
            title: "Waiting for the host to let you in".into(),
            lines: vec![
                "Demo Organizer's meeting".into(),
                "Acme - conference 1177958860".into(),
            ],
        }
    }

    /// The bounding box (x0, y0, x1, y1), exclusive ends, of luma above `threshold`.
    fn ink(frame: &I420Frame, threshold: u8) -> Option<(u32, u32, u32, u32)> {
        let plane = frame.plane(PlaneKind::Y);
        let mut bbox: Option<(u32, u32, u32, u32)> = None;
        for y in 0..frame.height() {
            for (x, &p) in plane.row(y as usize).iter().enumerate() {
                if p > threshold {
                    let x = x as u32;
                    let b = bbox.get_or_insert((x, y, x + 1, y + 1));
                    *b = (b.0.min(x), b.1.min(y), b.2.max(x + 1), b.3.max(y + 1));
                }
            }
        }
        bbox
    }

    fn fnv(data: impl IntoIterator<Item = u8>) -> u64 {
        data.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
        })
    }

    #[test]
    fn the_lobby_slate_at_720p_is_large_centred_and_wrapped() {
        let style = SlateStyle::default();
        let f = render_slate(1280, 720, &lobby(), &style).unwrap();
        let (placed, accent) = lay_out(1280, 720, &lobby(), &style);
        // Golden layout: 64 px title on one line, 32 px details, bar between.
        let summary: Vec<(u32, u32, u32, &str)> = placed
            .iter()
            .map(|p| (p.x, p.y, p.scale, p.text.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (96, 244, 4, "Waiting for the host to let you in"),
                (448, 392, 2, "Demo Organizer's meeting"),
                (416, 434, 2, "Acme - conference 1177958860"),
            ]
        );
        assert_eq!(accent.map(|r| r.to_string()), Some("426x4+426+356".into()));
        // Ink: white title pixels inside the centre band, not near the edges.
        let (x0, y0, x1, y1) = ink(&f, 200).expect("text drawn");
        assert!(x0 >= 80 && x1 <= 1200, "{x0}..{x1}");
        assert!(y0 >= 180 && y1 <= 540, "{y0}..{y1}");
        assert!(
            x0.abs_diff(1280 - x1) <= 16,
            "centred: {x0} left, {} right",
            1280 - x1
        );
        assert_eq!(f.pixel(0, 0), style.background);
        assert_eq!(f.pixel(1279, 719), style.background);
        let bar = accent.unwrap();
        assert_eq!(f.pixel(640, bar.y + 1), style.accent);
        // The first ink of each line is in its colour, luma and chroma.
        for line in &placed {
            let (x, y, _) = TextMask::render(&line.text).runs().next().unwrap();
            let at = (line.x + x * line.scale, line.y + y * line.scale);
            assert_eq!(f.pixel(at.0, at.1), line.color, "{line:?}");
        }
    }

    #[test]
    fn rendering_is_deterministic_and_pinned() {
        let style = SlateStyle::default();
        let a = render_slate(1280, 720, &lobby(), &style).unwrap();
        let b = render_slate(1280, 720, &lobby(), &style).unwrap();
        assert_eq!(a, b);
        let hash = fnv(PlaneKind::ALL.into_iter().flat_map(|k| {
            let p = a.plane(k);
            (0..p.height())
                .flat_map(move |y| p.row(y).to_vec())
                .collect::<Vec<u8>>()
        }));
        // Golden: changes only when the slate's look is changed on purpose.
        assert_eq!(hash, GOLDEN_LOBBY_720P, "{hash:#x}");
    }

    const GOLDEN_LOBBY_720P: u64 = 0x5911_f119_1548_2ec1;

    #[test]
    fn a_title_without_details_has_no_bar_and_sits_in_the_middle() {
        let text = SlateText {
            title: "Enter the conference ID followed by #".into(),
            lines: vec![],
        };
        let f = render_slate(1280, 720, &text, &SlateStyle::default()).unwrap();
        let (placed, accent) = lay_out(1280, 720, &text, &SlateStyle::default());
        assert!(accent.is_none());
        assert_eq!(placed.len(), 2, "{placed:?}");
        let (_, y0, _, y1) = ink(&f, 200).unwrap();
        let middle = (y0 + y1) / 2;
        assert!(middle.abs_diff(360) <= 40, "{y0}..{y1}");
    }

    #[test]
    fn smaller_pictures_get_smaller_text_that_still_fits() {
        for (w, h) in [(640, 360), (352, 288), (176, 144), (128, 96), (16, 16)] {
            let f = render_slate(w, h, &lobby(), &SlateStyle::default()).unwrap();
            let (placed, _) = lay_out(w, h, &lobby(), &SlateStyle::default());
            for p in &placed {
                let line_w = text_width(&p.text) * p.scale;
                assert!(
                    p.x + line_w <= w || p.scale == 1,
                    "{w}x{h}: {p:?} overflows"
                );
            }
            if h >= 96 {
                assert!(ink(&f, 200).is_some(), "{w}x{h}: no text");
            }
        }
    }

    #[test]
    fn long_words_shrink_the_title_and_non_ascii_draws() {
        let text = SlateText {
            title: "Conférence-introuvable-réessayez-svp-merci".into(),
            lines: vec!["   ".into(), "é".into()],
        };
        let (placed, _) = lay_out(1280, 720, &text, &SlateStyle::default());
        assert!(placed[0].scale < 4, "{placed:?}");
        assert!(render_slate(1280, 720, &text, &SlateStyle::default()).is_ok());
    }

    #[test]
    fn zero_sizes_are_errors_and_odd_ones_draw() {
        assert!(render_slate(1279, 721, &lobby(), &SlateStyle::default()).is_ok());
        assert!(render_slate(0, 0, &lobby(), &SlateStyle::default()).is_err());
    }

    #[test]
    fn wrap_breaks_at_spaces() {
        assert_eq!(wrap("a bb ccc dddd", 48), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("toolongword x", 32), ["tool", "x"]);
        assert_eq!(wrap("田中さん です", 40), ["田中", "です"]);
        assert_eq!(
            wrap("田", 4),
            ["田"],
            "a glyph wider than the line still shows"
        );
        assert!(wrap("   ", 80).is_empty());
    }

    #[test]
    fn meetings_named_in_any_script_get_their_name_on_the_slate() {
        let style = SlateStyle::default();
        for name in crate::font::tests::NAMES {
            let text = SlateText {
                title: "Waiting for the host to let you in".into(),
                lines: vec![format!("{name}'s meeting")],
            };
            let (placed, _) = lay_out(1280, 720, &text, &style);
            let detail = placed.last().expect("a detail line");
            assert_eq!(detail.text, format!("{name}'s meeting"));
            assert_eq!(TextMask::render(&detail.text).missing(), 0, "{name}");
            // The detail line's ink is where it was placed, in the detail colour.
            let f = render_slate(1280, 720, &text, &style).unwrap();
            let mask = TextMask::render(&detail.text);
            let (rx, ry, _) = mask.runs().next().expect("ink");
            let (x, y) = (detail.x + rx * detail.scale, detail.y + ry * detail.scale);
            assert_eq!(f.pixel(x, y), style.detail, "{name}");
        }
    }
}
