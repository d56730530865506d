//! The second peer of `compare compositor`: libyuv's `I420Scale` (Debian `libyuv-dev`), the
//! scaler Chromium and WebRTC ship, scaling I420 pictures straight into a tile of a canvas.
//!
//! Owns a bindgen-free `extern` block for the one function used and its filter enum; it reuses
//! swscale's [`Canvas`]/[`TileTarget`] so both peers write the same canvas layout. It must not be
//! used by Tessera's own code paths; it exists only to be measured against. libyuv is
//! single-threaded by design (no internal pool), which is what the comparison wants.

#![allow(unsafe_code)]

use crate::swscale::TileTarget;
use mixer::frame::Plane;
use std::os::raw::c_int;

// libyuv's `enum FilterMode` (libyuv/scale.h): kFilterNone 0, kFilterLinear 1,
// kFilterBilinear 2, kFilterBox 3. A C enum is an `int` on every ABI Debian builds for.
const K_FILTER_BILINEAR: c_int = 2;
const K_FILTER_BOX: c_int = 3;

#[link(name = "yuv")]
extern "C" {
    // libyuv/scale.h: returns 0 on success, -1 on bad arguments.
    fn I420Scale(
        src_y: *const u8,
        src_stride_y: c_int,
        src_u: *const u8,
        src_stride_u: c_int,
        src_v: *const u8,
        src_stride_v: c_int,
        src_width: c_int,
        src_height: c_int,
        dst_y: *mut u8,
        dst_stride_y: c_int,
        dst_u: *mut u8,
        dst_stride_u: c_int,
        dst_v: *mut u8,
        dst_stride_v: c_int,
        dst_width: c_int,
        dst_height: c_int,
        filtering: c_int,
    ) -> c_int;
}

/// The libyuv filters compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YuvFilter {
    /// `kFilterBilinear`: libyuv calls it "faster than box, but lower quality scaling down".
    Bilinear,
    /// `kFilterBox`: area averaging on down-scales, libyuv's "highest quality".
    Box,
}

impl YuvFilter {
    /// Both filters, in the order they are reported.
    pub const ALL: [YuvFilter; 2] = [YuvFilter::Bilinear, YuvFilter::Box];

    fn mode(self) -> c_int {
        match self {
            YuvFilter::Bilinear => K_FILTER_BILINEAR,
            YuvFilter::Box => K_FILTER_BOX,
        }
    }

    /// The enum value's name as libyuv spells it.
    pub fn name(self) -> &'static str {
        match self {
            YuvFilter::Bilinear => "kFilterBilinear",
            YuvFilter::Box => "kFilterBox",
        }
    }
}

/// Why libyuv refused a scale.
#[derive(Debug, thiserror::Error)]
#[error("I420Scale returned {code} for {src_w}x{src_h} -> {dst_w}x{dst_h} ({filter:?})")]
pub struct YuvError {
    code: i32,
    src_w: u32,
    src_h: u32,
    dst_w: u32,
    dst_h: u32,
    filter: YuvFilter,
}

/// Scales all of `planes` (a picture's, or a crop's: see [`crate::swscale::crop_view`]) into
/// `tile` with `filter`.
pub fn scale(
    planes: &[Plane<'_>; 3],
    tile: &mut TileTarget<'_>,
    filter: YuvFilter,
) -> Result<(), YuvError> {
    let rect = tile.rect();
    let (width, height) = (planes[0].width(), planes[0].height());
    let err = |code| YuvError {
        code,
        src_w: width as u32,
        src_h: height as u32,
        dst_w: rect.width,
        dst_h: rect.height,
        filter,
    };
    let to_int = |v: usize| c_int::try_from(v).map_err(|_| err(-1));
    let src_strides = [
        to_int(planes[0].stride())?,
        to_int(planes[1].stride())?,
        to_int(planes[2].stride())?,
    ];
    let dst = tile.pointers();
    let dst_strides = tile.strides();
    let (sw, sh) = (to_int(width)?, to_int(height)?);
    let (dw, dh) = (to_int(rect.width as usize)?, to_int(rect.height as usize)?);
    // SAFETY: the source pointers and strides describe the three plane views (chroma of
    // ceil(w/2) x ceil(h/2), as libyuv reads them; `Plane` guarantees every row is inside its
    // slice), which outlive the call. The destination
    // pointers come from `TileTarget::pointers`: each addresses the tile's rectangle inside its
    // canvas plane with the canvas's stride, and `tile` borrows that rectangle exclusively for
    // the call; libyuv writes exactly dst_w x dst_h luma and ceil(dst/2) chroma samples there.
    let code = unsafe {
        I420Scale(
            planes[0].data().as_ptr(),
            src_strides[0],
            planes[1].data().as_ptr(),
            src_strides[1],
            planes[2].data().as_ptr(),
            src_strides[2],
            sw,
            sh,
            dst[0],
            dst_strides[0],
            dst[1],
            dst_strides[1],
            dst[2],
            dst_strides[2],
            dw,
            dh,
            filter.mode(),
        )
    };
    if code == 0 {
        Ok(())
    } else {
        Err(err(code))
    }
}
