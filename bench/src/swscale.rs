//! The peer of `compare compositor`: libswscale (FFmpeg) through `ffmpeg-sys-next`, scaling
//! I420 pictures straight into a tile rectangle of a canvas.
//!
//! Owns the FFI (the bench crate's only `unsafe`): an owned `SwsContext` and a canvas whose
//! tile rectangles can be handed to different threads. It must not be used by Tessera's own
//! code paths; it exists only to be measured against.

#![allow(unsafe_code)]

use ffmpeg_sys_next as ff;
use mixer::frame::{plane_rect, Plane};
use mixer::{I420Frame, PlaneKind, Rect};
use std::ptr::NonNull;

/// The swscale filter configurations compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwsFilter {
    /// `SWS_BILINEAR`: on down-scales a triangle filter as wide as the scale factor.
    Bilinear,
    /// `SWS_AREA`: area averaging on down-scales (bilinear on up-scales).
    Area,
    /// `SWS_FAST_BILINEAR`: two taps whatever the factor (aliases on large down-scales).
    FastBilinear,
}

impl SwsFilter {
    fn flags(self) -> i32 {
        match self {
            SwsFilter::Bilinear => ff::SWS_BILINEAR,
            SwsFilter::Area => ff::SWS_AREA,
            SwsFilter::FastBilinear => ff::SWS_FAST_BILINEAR,
        }
    }

    /// The flag's name as FFmpeg spells it.
    pub fn name(self) -> &'static str {
        match self {
            SwsFilter::Bilinear => "SWS_BILINEAR",
            SwsFilter::Area => "SWS_AREA",
            SwsFilter::FastBilinear => "SWS_FAST_BILINEAR",
        }
    }
}

/// libswscale's version as `major.minor.micro`.
pub fn version() -> String {
    // SAFETY: a pure getter of a compiled-in constant.
    let v = unsafe { ff::swscale_version() };
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xFF, v & 0xFF)
}

/// Why a swscale context could not be made.
#[derive(Debug, thiserror::Error)]
#[error("sws_getContext refused {src_w}x{src_h} -> {dst_w}x{dst_h} ({filter:?})")]
pub struct SwsError {
    src_w: u32,
    src_h: u32,
    dst_w: u32,
    dst_h: u32,
    filter: SwsFilter,
}

/// One `SwsContext` from a fixed I420 size to a fixed I420 size.
#[derive(Debug)]
pub struct SwsScaler {
    ctx: NonNull<ff::SwsContext>,
    src: (u32, u32),
    dst: (u32, u32),
}

// SAFETY: an SwsContext holds no thread-affine state; it is used by one thread at a time
// (`scale` takes `&mut self`), which is what swscale requires.
unsafe impl Send for SwsScaler {}

impl SwsScaler {
    /// A context scaling `src` to `dst` (luma sizes) with `filter`.
    pub fn new(src: (u32, u32), dst: (u32, u32), filter: SwsFilter) -> Result<Self, SwsError> {
        let err = || SwsError {
            src_w: src.0,
            src_h: src.1,
            dst_w: dst.0,
            dst_h: dst.1,
            filter,
        };
        let to_int = |v: u32| i32::try_from(v).map_err(|_| err());
        // SAFETY: plain values in; null filters and params mean swscale's defaults.
        let raw = unsafe {
            ff::sws_getContext(
                to_int(src.0)?,
                to_int(src.1)?,
                ff::AVPixelFormat::AV_PIX_FMT_YUV420P,
                to_int(dst.0)?,
                to_int(dst.1)?,
                ff::AVPixelFormat::AV_PIX_FMT_YUV420P,
                filter.flags(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null(),
            )
        };
        let ctx = NonNull::new(raw).ok_or_else(err)?;
        Ok(SwsScaler { ctx, src, dst })
    }

    /// Scales all of `src` (a picture's planes, or a crop of them: see [`crop_view`]) into
    /// `tile`.
    ///
    /// # Panics
    /// If the sizes are not the ones the context was made for.
    pub fn scale(&mut self, planes: &[Plane<'_>; 3], tile: &mut TileTarget<'_>) {
        let size = (planes[0].width() as u32, planes[0].height() as u32);
        assert_eq!(size, self.src, "source size");
        assert_eq!((tile.rect.width, tile.rect.height), self.dst, "tile size");
        let src_ptrs = planes.map(|p| p.data().as_ptr());
        let src_strides = planes.map(|p| p.stride() as i32);
        let dst_ptrs = tile.pointers();
        // SAFETY: the source pointers and strides describe the three planes of the view, which
        // outlive the call and have the size the context expects (asserted above). The
        // destination pointers come from `TileTarget::pointers`: each addresses the tile's
        // rectangle inside its canvas plane, with the canvas's stride, and `tile` borrows that
        // rectangle exclusively for the call. swscale writes exactly dst_w x dst_h luma and
        // ceil(dst/2) chroma samples.
        let rows = unsafe {
            ff::sws_scale(
                self.ctx.as_ptr(),
                src_ptrs.as_ptr(),
                src_strides.as_ptr(),
                0,
                self.src.1 as i32,
                dst_ptrs.as_ptr(),
                tile.strides.as_ptr(),
            )
        };
        assert_eq!(rows, self.dst.1 as i32, "sws_scale output height");
    }
}

impl Drop for SwsScaler {
    fn drop(&mut self) {
        // SAFETY: made by sws_getContext, freed once.
        unsafe { ff::sws_freeContext(self.ctx.as_ptr()) };
    }
}

/// The planes of `crop` (luma pixels, even origin) inside `frame`, as views that the peers'
/// C functions read with the frame's strides; `None` if the crop reaches outside or has an
/// odd origin.
pub fn crop_view(frame: &I420Frame, crop: Rect) -> Option<[Plane<'_>; 3]> {
    if !crop.x.is_multiple_of(2) || !crop.y.is_multiple_of(2) {
        return None;
    }
    let [y, u, v] = PlaneKind::ALL.map(|kind| {
        let (x, y, w, h) = plane_rect(kind, crop);
        frame.plane(kind).sub(x, y, w, h)
    });
    Some([y?, u?, v?])
}

/// An I420 canvas owned by the bench, so that disjoint tile rectangles can be written from
/// several threads at once.
#[derive(Debug, Clone)]
pub struct Canvas {
    width: u32,
    height: u32,
    planes: [Vec<u8>; 3],
    strides: [usize; 3],
}

impl Canvas {
    /// A copy of `frame` with tight strides.
    pub fn from_frame(frame: &I420Frame) -> Canvas {
        let mut planes: [Vec<u8>; 3] = Default::default();
        let mut strides = [0; 3];
        for (i, kind) in PlaneKind::ALL.into_iter().enumerate() {
            let p = frame.plane(kind);
            strides[i] = p.width();
            planes[i] = (0..p.height()).flat_map(|y| p.row(y).to_vec()).collect();
        }
        Canvas {
            width: frame.width(),
            height: frame.height(),
            planes,
            strides,
        }
    }

    /// The picture as a frame.
    pub fn to_frame(&self) -> I420Frame {
        let [y, u, v] = self.planes.clone();
        I420Frame::from_planes(self.width, self.height, y, u, v, self.strides)
            .expect("the canvas keeps a valid layout")
    }

    /// Write access to each of `rects` (luma pixels, even origin, inside the canvas, pairwise
    /// disjoint), for handing to different threads.
    ///
    /// # Panics
    /// If a rectangle has an odd origin, reaches outside, or overlaps another.
    pub fn tiles(&mut self, rects: &[Rect]) -> Vec<TileTarget<'_>> {
        for (i, a) in rects.iter().enumerate() {
            assert!(
                a.x.is_multiple_of(2) && a.y.is_multiple_of(2),
                "tile {a} has an odd origin"
            );
            assert!(
                a.x + a.width <= self.width && a.y + a.height <= self.height,
                "tile {a} outside the canvas"
            );
            for b in &rects[..i] {
                let apart = a.x + a.width <= b.x
                    || b.x + b.width <= a.x
                    || a.y + a.height <= b.y
                    || b.y + b.height <= a.y;
                assert!(apart, "tiles {a} and {b} overlap");
            }
        }
        let bases = self.planes.each_mut().map(|p| p.as_mut_ptr());
        let strides = self.strides;
        rects
            .iter()
            .map(|&rect| TileTarget {
                rect,
                bases,
                strides: strides.map(|s| s as i32),
                _canvas: std::marker::PhantomData,
            })
            .collect()
    }
}

/// Exclusive write access to one tile rectangle of a [`Canvas`].
#[derive(Debug)]
pub struct TileTarget<'a> {
    rect: Rect,
    bases: [*mut u8; 3],
    strides: [i32; 3],
    _canvas: std::marker::PhantomData<&'a mut Canvas>,
}

// SAFETY: every TileTarget of one `Canvas::tiles` call covers a rectangle disjoint from the
// others (checked there; chroma rectangles of even-origin disjoint luma rectangles are disjoint
// too), and the canvas stays mutably borrowed while any exists, so writes through different
// targets never alias.
unsafe impl Send for TileTarget<'_> {}

impl TileTarget<'_> {
    /// The tile's rectangle in luma pixels.
    pub fn rect(&self) -> Rect {
        self.rect
    }

    /// The canvas's stride per plane (Y, U, V), as C `int`s.
    pub(crate) fn strides(&self) -> [i32; 3] {
        self.strides
    }

    /// Where the tile's rectangle starts in each plane (Y, U, V) of the canvas.
    pub(crate) fn pointers(&self) -> [*mut u8; 3] {
        let mut out = [std::ptr::null_mut(); 3];
        for (i, kind) in PlaneKind::ALL.into_iter().enumerate() {
            let (x, y, _, _) = plane_rect(kind, self.rect);
            // SAFETY: (x, y) is inside the plane (`Canvas::tiles` checked the rectangle).
            out[i] = unsafe { self.bases[i].add(y * self.strides[i] as usize + x) };
        }
        out
    }
}
