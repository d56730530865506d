//! Drawing on top of pictures: tile border rings, name labels, the name/initials card shown for
//! a participant without video, and painting a rasterised [`TextMask`] (from `font`) at any
//! whole-pixel scale, for those and for slates.
//!
//! Owns pixel-level overlay drawing only. It must not decide what a tile shows or when to redraw
//! (that is `compose`), nor scale.

use crate::font::{self, TextMask, LINE_HEIGHT};
use crate::frame::{FrameError, I420Frame, PlaneKind, Yuv};
use crate::layout::Rect;

/// Fills the `width`-pixel ring just inside `rect`'s edges.
pub(crate) fn draw_ring(
    canvas: &mut I420Frame,
    rect: Rect,
    width: u32,
    color: Yuv,
) -> Result<(), FrameError> {
    let w = width.min(rect.width / 2).min(rect.height / 2);
    let sides = [
        Rect { height: w, ..rect },
        Rect {
            y: rect.y + rect.height - w,
            height: w,
            ..rect
        },
        Rect { width: w, ..rect },
        Rect {
            x: rect.x + rect.width - w,
            width: w,
            ..rect
        },
    ];
    for side in sides {
        canvas.fill_rect(side, color)?;
    }
    Ok(())
}

/// A stable, pleasant background colour for `name` (FNV-1a hash into a fixed palette), so the
/// same person's card looks the same in every layout and every meeting.
pub fn card_color(name: &str) -> Yuv {
    /// Muted mid-tones: light enough to tell apart, dark enough for white initials.
    const PALETTE: [(u8, u8, u8); 8] = [
        (52, 101, 164),
        (78, 154, 6),
        (173, 127, 168),
        (206, 92, 0),
        (32, 138, 138),
        (117, 80, 123),
        (164, 0, 0),
        (96, 96, 160),
    ];
    let mut hash: u32 = 0x811C_9DC5;
    for byte in name.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let (r, g, b) = PALETTE[(hash % PALETTE.len() as u32) as usize];
    Yuv::from_rgb(r, g, b)
}

/// Up to two initials: the first character of the first two words, upper-cased where the
/// script has case (the font draws every script, so 田中 gives 田 and 김민준 gives 김).
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|word| word.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
}

/// Fills `buffer` with the name's colour and draws the initials large in the centre.
pub(crate) fn draw_card(buffer: &mut I420Frame, name: &str) -> Result<(), FrameError> {
    let (w, h) = (buffer.width(), buffer.height());
    *buffer = I420Frame::solid(w, h, card_color(name))?;
    let mask = TextMask::render(&initials(name));
    // Glyphs a third of the tile high, but never wider than three quarters of it.
    let scale = (h / 3 / LINE_HEIGHT)
        .min(w * 3 / 4 / mask.width().max(1))
        .max(1);
    let (text_w, text_h) = (mask.width() * scale, LINE_HEIGHT * scale);
    let x = w.saturating_sub(text_w) / 2;
    let y = h.saturating_sub(text_h) / 2;
    paint(buffer, &mask, x, y, scale, Paint::Luma(Yuv::WHITE.y));
    Ok(())
}

/// A name label ready to draw: the name cut to what fits the tile, rasterised once, at the
/// scale the tile's height asks for. The compositor keeps one per tile and makes a new one only
/// when the name or the tile size changes, so video frames never rasterise text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Label {
    name: String,
    tile: (u32, u32),
    scale: u32,
    mask: TextMask,
}

impl Label {
    /// The label for `name` on a `width` x `height` tile. Glyphs are 16 px tall below
    /// 480-pixel tiles (a 3x3 tile of 720p: 236 px), 32 px from 480 (the large tile of 1+7).
    pub(crate) fn new(name: &str, width: u32, height: u32) -> Label {
        let scale = (height / 480).clamp(1, 2);
        let pad = 2 * scale;
        let usable = width.saturating_sub(2 * pad) / scale;
        let fits = if height < LINE_HEIGHT * scale + 2 * pad {
            ""
        } else {
            font::fit(name, usable)
        };
        Label {
            name: name.to_owned(),
            tile: (width, height),
            scale,
            mask: TextMask::render(fits),
        }
    }

    /// Whether this label is the one for `name` on a `width` x `height` tile.
    pub(crate) fn is_for(&self, name: &str, width: u32, height: u32) -> bool {
        self.name == name && self.tile == (width, height)
    }
}

/// Draws `label` bottom-left on a darkened strip (nothing when the name is empty or the tile
/// too small for one glyph).
pub(crate) fn draw_label(buffer: &mut I420Frame, label: &Label) {
    let (w, h) = (buffer.width(), buffer.height());
    if label.mask.width() == 0 || (w, h) != label.tile {
        return;
    }
    let scale = label.scale;
    let pad = 2 * scale;
    let strip_w = (label.mask.width() * scale + 2 * pad).min(w);
    let strip_h = LINE_HEIGHT * scale + 2 * pad;
    // Even edges so the darkened chroma matches the darkened luma.
    let strip = Rect {
        x: 0,
        y: (h - strip_h) & !1,
        width: (strip_w + 1).min(w) & !1,
        height: h - ((h - strip_h) & !1),
    };
    darken(buffer, strip);
    paint(
        buffer,
        &label.mask,
        pad,
        strip.y + pad,
        scale,
        Paint::Luma(Yuv::WHITE.y),
    );
}

/// Pulls `rect` towards black and grey (3/8 of the original contrast) so white text reads on any
/// picture.
fn darken(buffer: &mut I420Frame, rect: Rect) {
    for (kind, mut plane) in PlaneKind::ALL.into_iter().zip(buffer.planes_mut()) {
        let (x, y, w, h) = crate::frame::plane_rect(kind, rect);
        let neutral: i32 = if kind == PlaneKind::Y { 16 } else { 128 };
        if let Some(mut view) = plane.sub_mut(x, y, w, h) {
            for row in 0..view.height() {
                for px in view.row_mut(row) {
                    *px = (neutral + (i32::from(*px) - neutral) * 3 / 8) as u8;
                }
            }
        }
    }
}

/// What painting a mask sets.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Paint {
    /// Luma only; chroma is left alone, so text drawn on a neutral strip (label) or a coloured
    /// card (initials) reads as white either way.
    Luma(u8),
    /// Luma and chroma (slates, whose text has colours of its own).
    Color(Yuv),
}

/// Paints `mask`'s ink, `scale` x `scale` pixels per mask pixel, with its top-left corner at
/// (`x`, `y`); clipped to the buffer.
pub(crate) fn paint(
    buffer: &mut I420Frame,
    mask: &TextMask,
    x: u32,
    y: u32,
    scale: u32,
    how: Paint,
) {
    let (w, h) = (buffer.width(), buffer.height());
    for (rx, ry, len) in mask.runs() {
        let (px, py) = (x + rx * scale, y + ry * scale);
        if px >= w || py >= h {
            continue;
        }
        let block = Rect {
            x: px,
            y: py,
            width: (len * scale).min(w - px),
            height: scale.min(h - py),
        };
        match how {
            Paint::Luma(luma) => {
                let [mut plane, _, _] = buffer.planes_mut();
                for row in block.y..block.y + block.height {
                    let start = block.x as usize;
                    plane.row_mut(row as usize)[start..start + block.width as usize].fill(luma);
                }
            }
            // In bounds by construction.
            Paint::Color(color) => {
                let _ = buffer.fill_rect(block, color);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_take_the_first_letter_of_two_words() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("  room  "), "R");
        assert_eq!(initials("Élodie Durand"), "ÉD");
        assert_eq!(initials("田中 太郎"), "田太");
        assert_eq!(initials("김민준"), "김");
        assert_eq!(initials("a b c"), "AB");
        assert_eq!(initials(""), "");
    }

    #[test]
    fn card_colour_is_stable_per_name() {
        assert_eq!(card_color("Room 4"), card_color("Room 4"));
        let distinct: std::collections::HashSet<_> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|n| card_color(n))
            .collect();
        assert!(distinct.len() > 1);
    }

    #[test]
    fn ring_leaves_the_inside_alone() {
        let mut f = I420Frame::new(20, 20).unwrap();
        let rect = Rect {
            x: 2,
            y: 2,
            width: 16,
            height: 16,
        };
        draw_ring(&mut f, rect, 2, Yuv::WHITE).unwrap();
        assert_eq!(f.pixel(2, 2), Yuv::WHITE);
        assert_eq!(f.pixel(17, 10), Yuv::WHITE);
        assert_eq!(f.pixel(10, 17), Yuv::WHITE);
        assert_eq!(f.pixel(4, 4), Yuv::BLACK);
        assert_eq!(f.pixel(0, 0), Yuv::BLACK);
    }

    #[test]
    fn paint_fills_scaled_ink_in_luma_only() {
        let mut f = I420Frame::new(40, 40).unwrap();
        let mask = TextMask::render("-");
        paint(&mut f, &mask, 0, 0, 2, Paint::Luma(Yuv::WHITE.y));
        let lit: Vec<(u32, u32)> = (0..40)
            .flat_map(|y| (0..40).map(move |x| (x, y)))
            .filter(|&(x, y)| f.pixel(x, y).y == Yuv::WHITE.y)
            .collect();
        assert_eq!(lit.len(), mask.ink_count() * 4);
        for (x, y) in lit {
            assert!(mask.is_ink(x / 2, y / 2));
            assert_eq!(f.pixel(x, y).u, Yuv::BLACK.u, "chroma untouched");
        }
    }

    #[test]
    fn labels_fit_their_tile_and_cut_long_names() {
        let long = "Дмитрий Александрович Соколов-Микитов";
        let label = Label::new(long, 200, 236);
        assert!(label.mask.width() * label.scale + 4 * label.scale <= 200);
        assert!(long.starts_with(font::fit(long, 1000)));
        assert!(label.mask.width() > 0);
        assert!(label.is_for(long, 200, 236));
        assert!(!label.is_for(long, 200, 240));
        // Too short a tile for a glyph: an empty label, drawn as nothing.
        let mut tiny = I420Frame::new(64, 16).unwrap();
        let before = tiny.clone();
        draw_label(&mut tiny, &Label::new("田中", 64, 16));
        assert_eq!(tiny, before);
    }
}
