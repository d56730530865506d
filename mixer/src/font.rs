//! Text to pixels in any script: names on tiles, initials on cards and slate text, rasterised
//! from GNU Unifont into a one-bit [`TextMask`].
//!
//! Owns glyph lookup, advances and the mask; it must not touch frames (drawing a mask is
//! `draw`'s) nor decide sizes or layout (callers scale masks by whole pixels).
//!
//! # Why GNU Unifont, through the `unifont` crate
//! Participants are called José, Zoë, Łukasz, Σοφία, Дмитрий, 田中 and 김민준: Latin, Greek,
//! Cyrillic, CJK and Hangul in one meeting. Unifont covers the whole Basic Multilingual Plane
//! with hand-drawn bitmap glyphs (8x16 for most scripts, 16x16 for CJK and Hangul), so one font
//! draws them all, and as bitmaps scaled by whole pixels they stay sharp and survive H.264 at low
//! bit rates far better than thin anti-aliased outlines. An outline font with the same coverage
//! (Noto Sans CJK and friends) would add tens of megabytes to the binary; Unifont's glyph table
//! is about 2 MB and needs no rasteriser beyond a bit lookup. The `unifont` crate (code MIT)
//! ships Unifont 15.1.05's glyphs from crates.io, so no font file is committed here. GNU Unifont
//! itself is dual-licensed, SIL Open Font License 1.1 or GPL-2.0-or-later with the GNU font
//! embedding exception: both allow embedding it in a program, which is what we do.
//!
//! # Text model
//! One code point, one glyph: names are drawn left to right as written (no bidi reordering, no
//! shaping). Combining marks (U+0300..U+036F and the other ranges in [`is_combining`]) are
//! overlaid on the previous glyph, so a decomposed "José" (`e` + U+0301) draws like the composed
//! one. Control characters take no space. A code point Unifont has no real glyph for (none, or
//! only its hex-box placeholder) draws as U+FFFD and is counted in [`TextMask::missing`], so tests
//! can prove the names we care about need none.

use unifont::Glyph;

/// Height of every glyph cell in pixels (before scaling).
pub const LINE_HEIGHT: u32 = 16;

/// The glyph drawn for a code point Unifont lacks.
const REPLACEMENT: char = '\u{FFFD}';

/// The glyph for `c`, if Unifont has a real one.
fn lookup(c: char) -> Option<&'static Glyph> {
    unifont::get_glyph(c).filter(|g| !is_placeholder(g))
}

/// Whether `glyph` is one of Unifont's placeholders for code points it has no drawing for
/// (unassigned, private use, noncharacters): a full-width inverse box with the code point's hex
/// digits cut out of it (rows 1 and 14 solid from column 1 to 14, and those two columns set on
/// every row between). No real glyph of the BMP has that frame; these are the font's tofu.
fn is_placeholder(glyph: &Glyph) -> bool {
    glyph.is_fullwidth()
        && (1..=14).all(|x| glyph.get_pixel(x, 1) && glyph.get_pixel(x, 14))
        && (1..=14).all(|y| glyph.get_pixel(1, y) && glyph.get_pixel(14, y))
}

/// Whether `c` is a combining mark drawn on top of the previous glyph (zero advance).
pub fn is_combining(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'   // combining diacritical marks
            | '\u{1AB0}'..='\u{1AFF}' // ... extended
            | '\u{1DC0}'..='\u{1DFF}' // ... supplement
            | '\u{20D0}'..='\u{20FF}' // ... for symbols
            | '\u{FE20}'..='\u{FE2F}' // combining half marks
    )
}

/// How a code point takes space: not at all, over the previous glyph, or its own cell.
#[derive(Debug, Clone, Copy)]
enum Cell {
    /// Control characters and the like: nothing drawn.
    Skip,
    /// A combining mark: drawn over the previous cell.
    Overlay(&'static Glyph),
    /// A glyph of its own, 8 or 16 pixels wide.
    Advance(&'static Glyph),
}

/// Classifies `c`; the second value says whether its glyph is missing (drawn as U+FFFD).
fn cell(c: char) -> (Cell, bool) {
    if c.is_control() {
        return (Cell::Skip, false);
    }
    let (glyph, missing) = match lookup(c) {
        Some(glyph) => (glyph, false),
        // Unifont covers U+FFFD; if even that failed there is nothing to draw.
        None => match lookup(REPLACEMENT) {
            Some(glyph) => (glyph, true),
            None => return (Cell::Skip, true),
        },
    };
    if is_combining(c) && !missing {
        (Cell::Overlay(glyph), false)
    } else {
        (Cell::Advance(glyph), missing)
    }
}

/// How far `c` moves the pen, in pixels at scale 1 (0, 8 or 16).
pub fn advance(c: char) -> u32 {
    match cell(c).0 {
        Cell::Advance(glyph) => glyph.get_width() as u32,
        Cell::Skip | Cell::Overlay(_) => 0,
    }
}

/// The width of `text` in pixels at scale 1.
pub fn text_width(text: &str) -> u32 {
    text.chars().map(advance).sum()
}

/// The longest prefix of `text` (whole code points, its combining marks kept with it) that is at
/// most `max_width` pixels wide at scale 1.
pub fn fit(text: &str, max_width: u32) -> &str {
    let mut width = 0;
    for (at, c) in text.char_indices() {
        width += advance(c);
        if width > max_width {
            return &text[..at];
        }
    }
    text
}

/// `text` rasterised at scale 1: one bit per pixel, [`LINE_HEIGHT`] rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMask {
    width: u32,
    /// Row-major, `width * LINE_HEIGHT` entries.
    ink: Vec<bool>,
    missing: usize,
}

impl TextMask {
    /// Rasterises `text` (see the module docs for the text model).
    pub fn render(text: &str) -> TextMask {
        let width = text_width(text);
        let mut mask = TextMask {
            width,
            ink: vec![false; (width * LINE_HEIGHT) as usize],
            missing: 0,
        };
        let mut pen = 0u32;
        let mut previous = None;
        for c in text.chars() {
            let (kind, missing) = cell(c);
            mask.missing += usize::from(missing);
            match kind {
                Cell::Skip => {}
                Cell::Advance(glyph) => {
                    mask.stamp(glyph, pen);
                    previous = Some(pen);
                    pen += glyph.get_width() as u32;
                }
                // A mark before any base glyph has nothing to sit on and is dropped.
                Cell::Overlay(glyph) => {
                    if let Some(at) = previous {
                        mask.stamp(glyph, at);
                    }
                }
            }
        }
        mask
    }

    /// ORs `glyph` into the mask with its left edge at `x` (clipped to the mask).
    fn stamp(&mut self, glyph: &Glyph, x: u32) {
        let w = glyph.get_width() as u32;
        for gy in 0..LINE_HEIGHT {
            for gx in 0..w.min(self.width.saturating_sub(x)) {
                if glyph.get_pixel(gx as usize, gy as usize) {
                    self.ink[(gy * self.width + x + gx) as usize] = true;
                }
            }
        }
    }

    /// Width in pixels at scale 1.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels at scale 1 (always [`LINE_HEIGHT`]).
    pub fn height(&self) -> u32 {
        LINE_HEIGHT
    }

    /// Whether pixel (`x`, `y`) is ink (false outside the mask).
    pub fn is_ink(&self, x: u32, y: u32) -> bool {
        x < self.width && y < LINE_HEIGHT && self.ink[(y * self.width + x) as usize]
    }

    /// Ink pixels in all.
    pub fn ink_count(&self) -> usize {
        self.ink.iter().filter(|&&on| on).count()
    }

    /// Code points that had no glyph and were drawn as U+FFFD.
    pub fn missing(&self) -> usize {
        self.missing
    }

    /// Each horizontal run of ink as (x, y, length), row by row: what a painter fills.
    pub fn runs(&self) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        (0..LINE_HEIGHT).flat_map(move |y| {
            let row = &self.ink[(y * self.width) as usize..((y + 1) * self.width) as usize];
            let mut runs = Vec::new();
            let mut x = 0usize;
            while x < row.len() {
                if row[x] {
                    let start = x;
                    while x < row.len() && row[x] {
                        x += 1;
                    }
                    runs.push((start as u32, y, (x - start) as u32));
                } else {
                    x += 1;
                }
            }
            runs
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    include!("../tests/data/names.rs");

    #[test]
    fn every_script_renders_with_ink_and_no_missing_glyphs() {
        for name in NAMES {
            let mask = TextMask::render(name);
            assert_eq!(mask.missing(), 0, "{name} needs a glyph Unifont lacks");
            assert!(mask.width() > 0, "{name} has no width");
            for (i, c) in name.chars().enumerate() {
                let alone = TextMask::render(&c.to_string());
                assert!(alone.ink_count() > 4, "{name}: char {i} ({c:?}) is blank");
            }
        }
    }

    #[test]
    fn no_glyph_is_the_replacement_box_or_a_hex_box() {
        let replacement = TextMask::render("\u{FFFD}");
        for c in NAMES.iter().flat_map(|n| n.chars()) {
            assert_ne!(
                TextMask::render(&c.to_string()),
                replacement,
                "{c:?} is tofu"
            );
            let glyph = unifont::get_glyph(c).expect("in the font");
            assert!(!is_placeholder(glyph), "{c:?} is a hex box");
        }
        // The detector does find Unifont's boxes: U+0378 and U+0379 (unassigned).
        for c in ['\u{378}', '\u{379}'] {
            assert!(unifont::get_glyph(c).is_some_and(is_placeholder), "{c:?}");
        }
    }

    #[test]
    fn names_in_different_scripts_draw_differently() {
        let masks: Vec<TextMask> = NAMES.iter().map(|n| TextMask::render(n)).collect();
        for (i, a) in masks.iter().enumerate() {
            for b in &masks[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // Accents are drawn: José is not Jose, Zoë is not Zoe.
        assert_ne!(TextMask::render("José"), TextMask::render("Jose"));
        assert_ne!(TextMask::render("Zoë"), TextMask::render("Zoe"));
    }

    #[test]
    fn cjk_and_hangul_are_full_width_and_latin_half() {
        assert_eq!(text_width("田中"), 32);
        assert_eq!(text_width("김민준"), 48);
        assert_eq!(text_width("José"), 32);
        assert_eq!(text_width("Σοφία"), 40);
    }

    #[test]
    fn a_decomposed_accent_overlays_its_letter() {
        let composed = TextMask::render("José");
        let decomposed = TextMask::render("Jose\u{301}");
        assert_eq!(decomposed.width(), composed.width());
        assert_eq!(decomposed.missing(), 0);
        assert!(decomposed.ink_count() > TextMask::render("Jose").ink_count());
    }

    #[test]
    fn unknown_code_points_are_counted_and_controls_take_no_space() {
        // U+0378 is unassigned.
        let mask = TextMask::render("a\u{378}b");
        assert_eq!(mask.missing(), 1);
        assert_eq!(mask.width(), 24);
        assert_eq!(text_width("a\nb\u{7}"), 16);
        assert_eq!(TextMask::render("").width(), 0);
        // A mark with nothing under it is dropped, not a panic.
        assert_eq!(TextMask::render("\u{301}").ink_count(), 0);
    }

    #[test]
    fn fit_cuts_at_whole_characters() {
        assert_eq!(fit("田中さん", 40), "田中");
        assert_eq!(fit("José", 24), "Jos");
        assert_eq!(fit("Jose\u{301}", 32), "Jose\u{301}");
        assert_eq!(fit("abc", 0), "");
        assert_eq!(fit("abc", 1000), "abc");
    }

    #[test]
    fn runs_cover_exactly_the_ink() {
        let mask = TextMask::render("Łukasz 김");
        let covered: usize = mask.runs().map(|(_, _, len)| len as usize).sum();
        assert_eq!(covered, mask.ink_count());
        for (x, y, len) in mask.runs() {
            assert!((x..x + len).all(|x| mask.is_ink(x, y)));
        }
    }
}
