//! Drawing on top of pictures: tile border rings, name labels, and the name/initials card shown
//! for a participant without video, using the 8x8 font in `font`.
//!
//! Owns pixel-level overlay drawing only. It must not decide what a tile shows or when to redraw
//! (that is `compose`), nor scale.

use crate::font::{glyph, GLYPH_SIZE};
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

/// Up to two initials: the first character of the first two words, upper-cased (non-ASCII
/// letters draw as `?`, as the font has only ASCII).
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
    let text = initials(name);
    let chars = text.chars().count().max(1) as u32;
    // Glyphs a third of the tile high, but never wider than the tile.
    let scale = (h / 3 / GLYPH_SIZE)
        .min(w * 3 / 4 / (chars * GLYPH_SIZE))
        .max(1);
    let (text_w, text_h) = (chars * GLYPH_SIZE * scale, GLYPH_SIZE * scale);
    let x = w.saturating_sub(text_w) / 2;
    let y = h.saturating_sub(text_h) / 2;
    draw_text(buffer, x, y, scale, &text, Yuv::WHITE.y);
    Ok(())
}

/// Draws `name` bottom-left on a darkened strip. Glyphs are 8 px tall up to 239-pixel tiles,
/// 16 px on 240..359 (a 3x3 tile of 720p), 24 px from 360 (2x2 and larger).
pub(crate) fn draw_label(buffer: &mut I420Frame, name: &str) -> Result<(), FrameError> {
    let (w, h) = (buffer.width(), buffer.height());
    let scale = (h / 120).clamp(1, 3);
    let pad = 2 * scale;
    let glyph = GLYPH_SIZE * scale;
    if h < glyph + 2 * pad || w < glyph + 2 * pad {
        return Ok(());
    }
    let fits = ((w - 2 * pad) / glyph) as usize;
    let text: String = name.chars().take(fits).collect();
    if text.is_empty() {
        return Ok(());
    }
    let strip_w = (text.chars().count() as u32 * glyph + 2 * pad).min(w);
    let strip_h = glyph + 2 * pad;
    // Even edges so the darkened chroma matches the darkened luma.
    let strip = Rect {
        x: 0,
        y: (h - strip_h) & !1,
        width: (strip_w + 1).min(w) & !1,
        height: h - ((h - strip_h) & !1),
    };
    darken(buffer, strip);
    draw_text(buffer, pad, strip.y + pad, scale, &text, Yuv::WHITE.y);
    Ok(())
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

/// Sets the luma of `text`'s glyph pixels, `scale` x `scale` blocks per font pixel, with its
/// top-left corner at (`x`, `y`); clipped to the buffer. Chroma is left alone, so text is drawn
/// on neutral backgrounds (label strip) or keeps the card's hue (initials) — both read as white.
fn draw_text(buffer: &mut I420Frame, x: u32, y: u32, scale: u32, text: &str, luma: u8) {
    let [mut plane, _, _] = buffer.planes_mut();
    let (w, h) = (plane.width(), plane.height());
    let step = (GLYPH_SIZE * scale) as usize;
    for (i, c) in text.chars().enumerate() {
        let gx = x as usize + i * step;
        for (gy, bits) in glyph(c).iter().enumerate() {
            for bit in 0..GLYPH_SIZE as usize {
                if bits & (1 << bit) == 0 {
                    continue;
                }
                let (px, py) = (gx + bit * scale as usize, y as usize + gy * scale as usize);
                for yy in py..(py + scale as usize).min(h) {
                    let row = plane.row_mut(yy);
                    for px in &mut row[px.min(w)..(px + scale as usize).min(w)] {
                        *px = luma;
                    }
                }
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
    fn text_draws_glyph_bits_left_to_right() {
        let mut f = I420Frame::new(16, 8).unwrap();
        draw_text(&mut f, 0, 0, 1, "-", Yuv::WHITE.y);
        // '-' is row 3 = 0x3F: the six leftmost pixels.
        let row = f.plane(PlaneKind::Y).row(3).to_vec();
        assert_eq!(&row[..8], &[235, 235, 235, 235, 235, 235, 16, 16]);
        assert!(f.plane(PlaneKind::Y).row(2).iter().all(|&p| p == 16));
    }
}
