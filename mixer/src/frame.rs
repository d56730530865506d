//! I420 (YUV 4:2:0 planar) frames and borrowed plane views: the pixel container every other
//! video module works on.
//!
//! Owns memory layout and size validation only: a `width` x `height` luma plane and two chroma
//! planes of `ceil(width/2)` x `ceil(height/2)`, each with its own stride (bytes per row, at least
//! the plane's width). It must not scale, draw text or know about layouts; those are `scale` and
//! `compose`. Colours are limited-range BT.601, what H.264 encoders expect by default.

use crate::layout::Rect;

pub mod pool;

use pool::PicturePool;

/// Largest width or height accepted (a sanity bound well above 4K; keeps `usize` maths far
/// from overflow).
pub const MAX_DIMENSION: u32 = 8192;

/// Why a frame or view cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Zero, or larger than [`MAX_DIMENSION`].
    #[error("frame size {width}x{height} is not between 1x1 and {MAX_DIMENSION}x{MAX_DIMENSION}")]
    BadSize {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// A stride is shorter than the plane's width.
    #[error("{plane:?} stride {stride} is shorter than the plane width {width}")]
    StrideTooSmall {
        /// Which plane.
        plane: PlaneKind,
        /// The stride given.
        stride: usize,
        /// The plane's width.
        width: usize,
    },
    /// A plane's buffer cannot hold `height` rows of `stride` bytes (the last row needs only
    /// `width`).
    #[error("{plane:?} plane holds {got} bytes, needs at least {needed}")]
    PlaneTooSmall {
        /// Which plane.
        plane: PlaneKind,
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// A rectangle reaches outside the frame.
    #[error("rectangle {rect} is outside the {width}x{height} frame")]
    OutOfBounds {
        /// The rectangle asked for.
        rect: Rect,
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
    },
}

/// One of the three planes of an I420 frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlaneKind {
    /// Luma, full resolution.
    Y,
    /// Blue-difference chroma, half resolution (rounded up).
    U,
    /// Red-difference chroma, half resolution (rounded up).
    V,
}

impl PlaneKind {
    /// The three planes in storage order.
    pub const ALL: [PlaneKind; 3] = [PlaneKind::Y, PlaneKind::U, PlaneKind::V];
}

/// A colour in limited-range BT.601 YUV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Yuv {
    /// Luma, 16 (black) ..= 235 (white).
    pub y: u8,
    /// Blue-difference chroma, 128 is neutral.
    pub u: u8,
    /// Red-difference chroma, 128 is neutral.
    pub v: u8,
}

impl Yuv {
    /// Video black.
    pub const BLACK: Yuv = Yuv {
        y: 16,
        u: 128,
        v: 128,
    };
    /// Video white.
    pub const WHITE: Yuv = Yuv {
        y: 235,
        u: 128,
        v: 128,
    };

    /// Converts full-range sRGB-ish 8-bit RGB to limited-range BT.601 (the usual integer
    /// approximation of ITU-R BT.601, as libyuv's `RGBToY`/`RGBToU`/`RGBToV`).
    pub fn from_rgb(r: u8, g: u8, b: u8) -> Yuv {
        let (r, g, b) = (i32::from(r), i32::from(g), i32::from(b));
        let y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
        let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
        let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
        Yuv {
            y: y.clamp(0, 255) as u8,
            u: u.clamp(0, 255) as u8,
            v: v.clamp(0, 255) as u8,
        }
    }

    /// The value of this colour in `plane`.
    pub fn component(self, plane: PlaneKind) -> u8 {
        match plane {
            PlaneKind::Y => self.y,
            PlaneKind::U => self.u,
            PlaneKind::V => self.v,
        }
    }
}

/// Size of a chroma plane for a `width` x `height` frame: each side halved, rounded up.
pub fn chroma_size(width: u32, height: u32) -> (u32, u32) {
    (width.div_ceil(2), height.div_ceil(2))
}

/// A read-only view of one plane (or of a rectangle inside one).
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    data: &'a [u8],
    stride: usize,
    width: usize,
    height: usize,
}

impl<'a> Plane<'a> {
    /// A view of `width` x `height` pixels at the start of `data`, rows `stride` apart.
    pub fn new(
        data: &'a [u8],
        stride: usize,
        width: usize,
        height: usize,
    ) -> Result<Self, FrameError> {
        check_plane(PlaneKind::Y, data.len(), stride, width, height)?;
        Ok(Plane {
            data,
            stride,
            width,
            height,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in rows.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Bytes from one row's start to the next.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The view's bytes from its first pixel: `height` rows `stride` apart (the last row may
    /// end right after its `width` pixels). For handing a plane to C codecs.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Row `y` (exactly `width` bytes). Panics if `y >= height`.
    pub fn row(&self, y: usize) -> &'a [u8] {
        let start = y * self.stride;
        &self.data[start..start + self.width]
    }

    /// The sub-view `x, y, width, height` (in this plane's pixels); `None` if it reaches outside.
    pub fn sub(&self, x: usize, y: usize, width: usize, height: usize) -> Option<Plane<'a>> {
        if width == 0 || height == 0 || x + width > self.width || y + height > self.height {
            return None;
        }
        let start = y * self.stride + x;
        let end = start + (height - 1) * self.stride + width;
        Some(Plane {
            data: &self.data[start..end],
            stride: self.stride,
            width,
            height,
        })
    }
}

/// A writable view of one plane (or of a rectangle inside one).
#[derive(Debug)]
pub struct PlaneMut<'a> {
    data: &'a mut [u8],
    stride: usize,
    width: usize,
    height: usize,
}

impl<'a> PlaneMut<'a> {
    /// A view of `width` x `height` pixels at the start of `data`, rows `stride` apart.
    pub fn new(
        data: &'a mut [u8],
        stride: usize,
        width: usize,
        height: usize,
    ) -> Result<Self, FrameError> {
        check_plane(PlaneKind::Y, data.len(), stride, width, height)?;
        Ok(PlaneMut {
            data,
            stride,
            width,
            height,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in rows.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Row `y` (exactly `width` bytes), writable. Panics if `y >= height`.
    pub fn row_mut(&mut self, y: usize) -> &mut [u8] {
        let start = y * self.stride;
        &mut self.data[start..start + self.width]
    }

    /// Row `y`, read-only.
    pub fn row(&self, y: usize) -> &[u8] {
        let start = y * self.stride;
        &self.data[start..start + self.width]
    }

    /// The writable sub-view `x, y, width, height`; `None` if it reaches outside.
    pub fn sub_mut(
        &mut self,
        x: usize,
        y: usize,
        width: usize,
        height: usize,
    ) -> Option<PlaneMut<'_>> {
        if width == 0 || height == 0 || x + width > self.width || y + height > self.height {
            return None;
        }
        let start = y * self.stride + x;
        let end = start + (height - 1) * self.stride + width;
        Some(PlaneMut {
            data: &mut self.data[start..end],
            stride: self.stride,
            width,
            height,
        })
    }

    /// Sets every pixel of the view to `value`.
    pub fn fill(&mut self, value: u8) {
        for y in 0..self.height {
            self.row_mut(y).fill(value);
        }
    }

    /// Copies `src` (same size) into this view.
    ///
    /// # Panics
    /// If the sizes differ.
    pub fn copy_from(&mut self, src: &Plane<'_>) {
        assert_eq!((src.width, src.height), (self.width, self.height));
        for y in 0..self.height {
            self.row_mut(y).copy_from_slice(src.row(y));
        }
    }

    /// A read-only view of the same pixels.
    pub fn as_plane(&self) -> Plane<'_> {
        Plane {
            data: self.data,
            stride: self.stride,
            width: self.width,
            height: self.height,
        }
    }
}

fn check_plane(
    plane: PlaneKind,
    len: usize,
    stride: usize,
    width: usize,
    height: usize,
) -> Result<(), FrameError> {
    if stride < width {
        return Err(FrameError::StrideTooSmall {
            plane,
            stride,
            width,
        });
    }
    let needed = if height == 0 {
        0
    } else {
        (height - 1) * stride + width
    };
    if len < needed {
        return Err(FrameError::PlaneTooSmall {
            plane,
            needed,
            got: len,
        });
    }
    Ok(())
}

/// An owned I420 frame: one luma plane and two half-size chroma planes.
///
/// Its planes come from and go back to [`PicturePool::global`] (see [`pool`]): dropping a frame
/// gives its buffers back for the next picture of that size, on whatever thread.
#[derive(Debug, PartialEq, Eq)]
pub struct I420Frame {
    width: u32,
    height: u32,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    /// Strides of the Y, U and V planes.
    strides: [usize; 3],
}

impl I420Frame {
    /// A black `width` x `height` frame with tight strides.
    pub fn new(width: u32, height: u32) -> Result<Self, FrameError> {
        Self::solid(width, height, Yuv::BLACK)
    }

    /// Test picture `n` of a moving pattern with texture (8x8 checks over a gradient, shifted by
    /// `n`): successive pictures differ and each codes to a few kilobytes, like camera video
    /// rather than a flat card. For tests and simulated peers.
    pub fn test_pattern(width: u32, height: u32, n: u32) -> Result<Self, FrameError> {
        let mut frame = Self::new(width, height)?;
        for (p, mut plane) in frame.planes_mut().into_iter().enumerate() {
            for y in 0..plane.height() {
                for (x, px) in plane.row_mut(y).iter_mut().enumerate() {
                    let check = ((x / 8 + y / 8 + n as usize + p) % 2) as u8;
                    *px = (check * 96).wrapping_add((x / 2 + y) as u8);
                }
            }
        }
        Ok(frame)
    }

    /// A `width` x `height` frame filled with `color`, tight strides.
    pub fn solid(width: u32, height: u32, color: Yuv) -> Result<Self, FrameError> {
        check_size(width, height)?;
        let (cw, ch) = chroma_size(width, height);
        let (w, h, cw, ch) = (width as usize, height as usize, cw as usize, ch as usize);
        let pool = PicturePool::global();
        Ok(I420Frame {
            width,
            height,
            y: pool.filled(w * h, color.y),
            u: pool.filled(cw * ch, color.u),
            v: pool.filled(cw * ch, color.v),
            strides: [w, cw, cw],
        })
    }

    /// A frame from decoded planes (e.g. a decoder's output), `strides` for Y, U and V.
    /// Each plane must hold its rows at the given stride (the last row may be short). Take
    /// the planes from [`PicturePool::global`] so that the memory is recycled; they go back to
    /// it when the frame is dropped either way.
    pub fn from_planes(
        width: u32,
        height: u32,
        y: Vec<u8>,
        u: Vec<u8>,
        v: Vec<u8>,
        strides: [usize; 3],
    ) -> Result<Self, FrameError> {
        check_size(width, height)?;
        let (cw, ch) = chroma_size(width, height);
        check_plane(
            PlaneKind::Y,
            y.len(),
            strides[0],
            width as usize,
            height as usize,
        )?;
        check_plane(PlaneKind::U, u.len(), strides[1], cw as usize, ch as usize)?;
        check_plane(PlaneKind::V, v.len(), strides[2], cw as usize, ch as usize)?;
        Ok(I420Frame {
            width,
            height,
            y,
            u,
            v,
            strides,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The strides of Y, U and V.
    pub fn strides(&self) -> [usize; 3] {
        self.strides
    }

    /// Width and height of `plane` in its own pixels.
    pub fn plane_size(&self, plane: PlaneKind) -> (usize, usize) {
        match plane {
            PlaneKind::Y => (self.width as usize, self.height as usize),
            PlaneKind::U | PlaneKind::V => {
                let (w, h) = chroma_size(self.width, self.height);
                (w as usize, h as usize)
            }
        }
    }

    /// A read-only view of `plane`.
    pub fn plane(&self, plane: PlaneKind) -> Plane<'_> {
        let (width, height) = self.plane_size(plane);
        let (data, stride) = match plane {
            PlaneKind::Y => (&self.y, self.strides[0]),
            PlaneKind::U => (&self.u, self.strides[1]),
            PlaneKind::V => (&self.v, self.strides[2]),
        };
        Plane {
            data,
            stride,
            width,
            height,
        }
    }

    /// Writable views of all three planes at once (Y, U, V).
    pub fn planes_mut(&mut self) -> [PlaneMut<'_>; 3] {
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = chroma_size(self.width, self.height);
        let (cw, ch) = (cw as usize, ch as usize);
        [
            PlaneMut {
                data: &mut self.y,
                stride: self.strides[0],
                width: w,
                height: h,
            },
            PlaneMut {
                data: &mut self.u,
                stride: self.strides[1],
                width: cw,
                height: ch,
            },
            PlaneMut {
                data: &mut self.v,
                stride: self.strides[2],
                width: cw,
                height: ch,
            },
        ]
    }

    /// The colour at luma pixel (`x`, `y`): its luma and the chroma sample covering it.
    ///
    /// # Panics
    /// If the pixel is outside the frame.
    pub fn pixel(&self, x: u32, y: u32) -> Yuv {
        assert!(x < self.width && y < self.height, "pixel outside frame");
        let (x, y) = (x as usize, y as usize);
        Yuv {
            y: self.y[y * self.strides[0] + x],
            u: self.u[(y / 2) * self.strides[1] + x / 2],
            v: self.v[(y / 2) * self.strides[2] + x / 2],
        }
    }

    /// Fills `rect` (luma pixels) with `color`. Chroma covers the rectangle's half-resolution
    /// footprint, so a rectangle on even edges touches only its own chroma samples.
    pub fn fill_rect(&mut self, rect: Rect, color: Yuv) -> Result<(), FrameError> {
        if rect.width == 0 || rect.height == 0 {
            return Ok(());
        }
        if rect.x + rect.width > self.width || rect.y + rect.height > self.height {
            return Err(FrameError::OutOfBounds {
                rect,
                width: self.width,
                height: self.height,
            });
        }
        for (kind, mut plane) in PlaneKind::ALL.into_iter().zip(self.planes_mut()) {
            let (x, y, w, h) = plane_rect(kind, rect);
            if let Some(mut view) = plane.sub_mut(x, y, w, h) {
                view.fill(color.component(kind));
            }
        }
        Ok(())
    }
}

impl Clone for I420Frame {
    /// A copy whose planes come from the pool, like every frame's.
    fn clone(&self) -> Self {
        let pool = PicturePool::global();
        let copy = |plane: &Vec<u8>| {
            let mut buf = pool.take(plane.len());
            buf.extend_from_slice(plane);
            buf
        };
        I420Frame {
            width: self.width,
            height: self.height,
            y: copy(&self.y),
            u: copy(&self.u),
            v: copy(&self.v),
            strides: self.strides,
        }
    }
}

impl Drop for I420Frame {
    fn drop(&mut self) {
        let pool = PicturePool::global();
        for plane in [&mut self.y, &mut self.u, &mut self.v] {
            pool.give(std::mem::take(plane));
        }
    }
}

/// `rect` (in luma pixels) in `plane`'s own pixels as (x, y, width, height); chroma rounds the
/// start down and the end up so odd rectangles stay covered.
pub fn plane_rect(plane: PlaneKind, rect: Rect) -> (usize, usize, usize, usize) {
    match plane {
        PlaneKind::Y => (
            rect.x as usize,
            rect.y as usize,
            rect.width as usize,
            rect.height as usize,
        ),
        PlaneKind::U | PlaneKind::V => {
            let (x0, y0) = (rect.x / 2, rect.y / 2);
            let x1 = (rect.x + rect.width).div_ceil(2);
            let y1 = (rect.y + rect.height).div_ceil(2);
            (
                x0 as usize,
                y0 as usize,
                (x1 - x0) as usize,
                (y1 - y0) as usize,
            )
        }
    }
}

fn check_size(width: u32, height: u32) -> Result<(), FrameError> {
    if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(FrameError::BadSize { width, height });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_sizes_round_chroma_up() {
        let f = I420Frame::new(5, 3).unwrap();
        assert_eq!(f.plane_size(PlaneKind::Y), (5, 3));
        assert_eq!(f.plane_size(PlaneKind::U), (3, 2));
        assert_eq!(f.plane_size(PlaneKind::V), (3, 2));
        assert_eq!(f.strides(), [5, 3, 3]);
    }

    #[test]
    fn solid_frame_has_its_colour_everywhere() {
        let red = Yuv::from_rgb(255, 0, 0);
        let f = I420Frame::solid(7, 9, red).unwrap();
        for y in 0..9 {
            for x in 0..7 {
                assert_eq!(f.pixel(x, y), red);
            }
        }
    }

    #[test]
    fn bt601_primaries_match_the_textbook_values() {
        assert_eq!(Yuv::from_rgb(0, 0, 0), Yuv::BLACK);
        assert_eq!(Yuv::from_rgb(255, 255, 255), Yuv::WHITE);
        let red = Yuv::from_rgb(255, 0, 0);
        assert_eq!((red.y, red.u, red.v), (82, 90, 240));
    }

    #[test]
    fn zero_or_huge_sizes_are_refused() {
        assert!(matches!(
            I420Frame::new(0, 10),
            Err(FrameError::BadSize { .. })
        ));
        assert!(I420Frame::new(MAX_DIMENSION + 1, 2).is_err());
    }

    #[test]
    fn from_planes_checks_strides_and_lengths() {
        // 4x2 with padded strides of 8 (luma) and 4 (chroma): last rows may be short.
        let ok = I420Frame::from_planes(4, 2, vec![0; 12], vec![0; 2], vec![0; 2], [8, 4, 4]);
        assert!(ok.is_ok());
        let short = I420Frame::from_planes(4, 2, vec![0; 11], vec![0; 2], vec![0; 2], [8, 4, 4]);
        assert!(matches!(
            short,
            Err(FrameError::PlaneTooSmall {
                plane: PlaneKind::Y,
                ..
            })
        ));
        let narrow = I420Frame::from_planes(4, 2, vec![0; 8], vec![0; 2], vec![0; 2], [4, 1, 2]);
        assert!(matches!(
            narrow,
            Err(FrameError::StrideTooSmall {
                plane: PlaneKind::U,
                ..
            })
        ));
    }

    #[test]
    fn fill_rect_touches_only_the_rectangle() {
        let mut f = I420Frame::new(8, 8).unwrap();
        let blue = Yuv::from_rgb(0, 0, 255);
        f.fill_rect(
            Rect {
                x: 2,
                y: 2,
                width: 4,
                height: 2,
            },
            blue,
        )
        .unwrap();
        assert_eq!(f.pixel(2, 2), blue);
        assert_eq!(f.pixel(5, 3), blue);
        assert_eq!(f.pixel(1, 2), Yuv::BLACK);
        assert_eq!(f.pixel(6, 3), Yuv::BLACK);
        assert_eq!(f.pixel(2, 4), Yuv::BLACK);
        let outside = Rect {
            x: 6,
            y: 0,
            width: 4,
            height: 2,
        };
        assert!(f.fill_rect(outside, blue).is_err());
    }

    #[test]
    fn sub_views_address_the_right_pixels() {
        let mut f = I420Frame::new(6, 4).unwrap();
        {
            let [mut y, _, _] = f.planes_mut();
            let mut sub = y.sub_mut(2, 1, 3, 2).unwrap();
            sub.fill(200);
            assert!(y.sub_mut(4, 0, 3, 1).is_none());
        }
        let y = f.plane(PlaneKind::Y);
        assert_eq!(y.row(0), &[16; 6]);
        assert_eq!(y.row(1), &[16, 16, 200, 200, 200, 16]);
        assert_eq!(y.row(2), &[16, 16, 200, 200, 200, 16]);
        assert_eq!(y.sub(2, 1, 3, 2).unwrap().row(1), &[200; 3]);
    }

    #[test]
    fn dropped_frames_give_their_planes_to_the_next_frame_of_that_size() {
        // A size no other test uses: the global pool is shared by the test threads.
        let (w, h) = (211, 67);
        let pool = PicturePool::global();
        let luma = (w * h) as usize;
        let before = pool.idle_buffers(luma);
        let first = I420Frame::test_pattern(w, h, 3).unwrap();
        let address = first.plane(PlaneKind::Y).data().as_ptr();
        drop(first);
        assert_eq!(pool.idle_buffers(luma), before + 1);
        // Reused, and the old pattern does not show through the new colour.
        let white = I420Frame::solid(w, h, Yuv::WHITE).unwrap();
        assert_eq!(white.plane(PlaneKind::Y).data().as_ptr(), address);
        assert_eq!(white, I420Frame::solid(w, h, Yuv::WHITE).unwrap());
        for (x, y) in [(0, 0), (w - 1, h - 1), (100, 33)] {
            assert_eq!(white.pixel(x, y), Yuv::WHITE);
        }
        // A clone is equal, in buffers of its own.
        let copy = white.clone();
        assert_eq!(copy, white);
        assert_ne!(copy.plane(PlaneKind::Y).data().as_ptr(), address);
    }
}
