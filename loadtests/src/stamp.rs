//! The frame stamp: a coarse block barcode of a frame's loop index drawn into the top of a 720p
//! picture, big enough to survive H.264 at VTC bit rates and the gateway scaling the picture into
//! a 3x3 tile (64-pixel blocks become ~21 pixels). Reading it back from the picture another VTC
//! receives tells which of the sender's frames that picture shows, hence glass-to-glass latency.
//!
//! Layout of the 18 blocks, left to right: white and black references, the 8 bits of the value
//! (most significant first, white = 1), then the same 8 bits inverted. A read is accepted only if
//! the references differ clearly and every bit disagrees with its inverse, so a solid or busy tile
//! (a synthetic participant, a name label) is not mistaken for a stamp.
//!
//! Owns drawing and reading the code; it never touches codecs or sockets.

use mixer::frame::{I420Frame, PlaneKind, Yuv};
use mixer::layout::{LayoutKind, Rect, TileGrid};

/// Block size in pixels of the stamped (sender's) picture.
pub const BLOCK: u32 = 64;
/// Top-left corner of the first block.
pub const ORIGIN: (u32, u32) = (64, 64);
/// Blocks in the code: two references, eight bits, eight inverted bits.
pub const BLOCKS: u32 = 18;
/// The picture size the stamp is drawn into.
pub const SOURCE: (u32, u32) = (1280, 720);

/// Why a stamp could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum StampError {
    /// The frame is not [`SOURCE`] sized.
    #[error("stamps are drawn into 1280x720 frames, not {0}x{1}")]
    WrongSize(u32, u32),
    /// Drawing failed.
    #[error(transparent)]
    Frame(#[from] mixer::frame::FrameError),
}

fn block_levels(value: u8) -> [bool; BLOCKS as usize] {
    let mut levels = [false; BLOCKS as usize];
    levels[0] = true;
    for bit in 0..8 {
        let one = value & (0x80 >> bit) != 0;
        levels[2 + bit] = one;
        levels[10 + bit] = !one;
    }
    levels
}

/// Draws `value`'s code into `frame` (a [`SOURCE`]-sized picture).
pub fn draw(frame: &mut I420Frame, value: u8) -> Result<(), StampError> {
    if (frame.width(), frame.height()) != SOURCE {
        return Err(StampError::WrongSize(frame.width(), frame.height()));
    }
    let (white, black) = (Yuv::from_rgb(255, 255, 255), Yuv::from_rgb(0, 0, 0));
    for (i, on) in (0u32..).zip(block_levels(value)) {
        let rect = Rect {
            x: ORIGIN.0 + i * BLOCK,
            y: ORIGIN.1,
            width: BLOCK,
            height: BLOCK,
        };
        frame.fill_rect(rect, if on { white } else { black })?;
    }
    Ok(())
}

/// Mean luma of a small window around source point `(sx, sy)` mapped into `tile`.
fn sample(frame: &I420Frame, tile: Rect, (sx, sy): (f64, f64)) -> Option<f64> {
    let scale_x = f64::from(tile.width) / f64::from(SOURCE.0);
    let scale_y = f64::from(tile.height) / f64::from(SOURCE.1);
    let cx = f64::from(tile.x) + sx * scale_x;
    let cy = f64::from(tile.y) + sy * scale_y;
    // A quarter of a block each way: tolerant of a few pixels of misplacement and of blur.
    let half = (f64::from(BLOCK) * scale_x / 4.0).max(1.0);
    let plane = frame.plane(PlaneKind::Y);
    let (x0, x1) = ((cx - half).floor() as i64, (cx + half).ceil() as i64);
    let (y0, y1) = ((cy - half).floor() as i64, (cy + half).ceil() as i64);
    if x0 < 0 || y0 < 0 || x1 > plane.width() as i64 || y1 > plane.height() as i64 {
        return None;
    }
    let (mut sum, mut n) = (0u64, 0u64);
    for y in y0..y1 {
        let row = plane.row(y as usize);
        for x in x0..x1 {
            sum += u64::from(row[x as usize]);
            n += 1;
        }
    }
    (n > 0).then(|| sum as f64 / n as f64)
}

/// Reads a stamp from the part of `frame` where a [`SOURCE`] picture was scaled into `tile`.
pub fn read_in(frame: &I420Frame, tile: Rect) -> Option<u8> {
    let centre = |i: u32| {
        (
            f64::from(ORIGIN.0 + i * BLOCK + BLOCK / 2),
            f64::from(ORIGIN.1 + BLOCK / 2),
        )
    };
    let white = sample(frame, tile, centre(0))?;
    let black = sample(frame, tile, centre(1))?;
    let contrast = white - black;
    if contrast < 80.0 {
        return None;
    }
    let threshold = (white + black) / 2.0;
    let margin = contrast / 4.0;
    let mut value = 0u8;
    for bit in 0..8 {
        let level = sample(frame, tile, centre(2 + bit))?;
        let inverse = sample(frame, tile, centre(10 + bit))?;
        if (level - threshold).abs() < margin || (inverse - threshold).abs() < margin {
            return None;
        }
        let (one, inverse_one) = (level > threshold, inverse > threshold);
        if one == inverse_one {
            return None;
        }
        value = (value << 1) | u8::from(one);
    }
    Some(value)
}

/// Finds a stamp anywhere a participant's picture can sit in a gateway layout of `frame`'s size
/// (full screen, side by side, 2x2, 3x3), trying each tile. The first valid read wins.
pub fn find(frame: &I420Frame) -> Option<u8> {
    let kinds = [
        LayoutKind::Full,
        LayoutKind::SideBySide,
        LayoutKind::Grid2x2,
        LayoutKind::Grid3x3,
    ];
    kinds
        .into_iter()
        .filter_map(|kind| TileGrid::new(kind, frame.width(), frame.height()).ok())
        .find_map(|grid| grid.tiles().iter().find_map(|tile| read_in(frame, *tile)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mixer::codec::h264::{EncoderConfig, H264Decoder, H264Encoder};
    use mixer::scale::TileScaler;

    /// Copies `src` into `dst` with its top-left corner at the even point `(x, y)`.
    fn blit(dst: &mut I420Frame, src: &I420Frame, x: u32, y: u32) {
        let kinds = [PlaneKind::Y, PlaneKind::U, PlaneKind::V];
        let sources: Vec<_> = kinds.iter().map(|k| src.plane(*k)).collect();
        for (i, mut plane) in dst.planes_mut().into_iter().enumerate() {
            let shift = usize::from(i > 0);
            let (px, py) = ((x as usize) >> shift, (y as usize) >> shift);
            let from = &sources[i];
            for row in 0..from.height() {
                let line = from.row(row);
                plane.row_mut(py + row)[px..px + from.width()]
                    .copy_from_slice(&line[..from.width()]);
            }
        }
    }

    fn stamped(value: u8) -> I420Frame {
        let mut frame = I420Frame::solid(1280, 720, Yuv::from_rgb(60, 90, 200)).unwrap();
        draw(&mut frame, value).unwrap();
        frame
    }

    #[test]
    fn every_value_reads_back_from_the_full_picture() {
        for value in 0..=255u8 {
            assert_eq!(find(&stamped(value)), Some(value));
        }
    }

    #[test]
    fn a_picture_without_a_stamp_reads_as_none() {
        let plain = I420Frame::solid(1280, 720, Yuv::from_rgb(240, 240, 240)).unwrap();
        assert_eq!(find(&plain), None);
        let synthetic = gateway::media::engine::synthetic::Synthetic::new(0, 3)
            .video(std::time::Duration::from_secs(2))
            .unwrap();
        assert_eq!(find(&synthetic), None);
    }

    #[test]
    fn wrong_size_is_refused() {
        let mut small = I420Frame::new(640, 360).unwrap();
        assert!(matches!(
            draw(&mut small, 1),
            Err(StampError::WrongSize(640, 360))
        ));
    }

    /// The real path: encode, scale into the middle-right tile of a 3x3 720p layout, encode that
    /// layout, decode it, find the stamp.
    #[test]
    fn a_stamp_survives_coding_and_scaling_into_a_3x3_tile() {
        let grid = TileGrid::new(LayoutKind::Grid3x3, 1280, 720).unwrap();
        let tile = grid.tiles()[5];
        let mut encoder = H264Encoder::new(EncoderConfig::hd720()).unwrap();
        let mut decoder = H264Decoder::new().unwrap();
        let mut layout_encoder = H264Encoder::new(EncoderConfig::hd720()).unwrap();
        let mut layout_decoder = H264Decoder::new().unwrap();
        let mut scaler = TileScaler::new(1280, 720, tile.width, tile.height).unwrap();
        let mut small = I420Frame::new(tile.width, tile.height).unwrap();
        let mut found = Vec::new();
        for (i, value) in [7u8, 200, 93, 255, 0, 128].into_iter().enumerate() {
            let encoded = encoder.encode(&stamped(value), i == 0).unwrap();
            let Some(decoded) = decoder.decode(&encoded.data).unwrap() else {
                continue;
            };
            let mut layout = I420Frame::solid(1280, 720, Yuv::from_rgb(30, 30, 30)).unwrap();
            scaler.scale_frame(&decoded, &mut small).unwrap();
            blit(&mut layout, &small, tile.x, tile.y);
            let encoded = layout_encoder.encode(&layout, i == 0).unwrap();
            if let Some(picture) = layout_decoder.decode(&encoded.data).unwrap() {
                found.push((value, find(&picture)));
            }
        }
        assert!(found.len() >= 4, "{found:?}");
        assert!(found.iter().all(|(v, f)| Some(*v) == *f), "{found:?}");
    }
}
