//! Tessera's side-by-side comparisons: each module runs Tessera's code and a peer on the same
//! input in the same process and reports the ratio (`compare <what>`).

pub mod clock;
pub mod compositor;
pub mod content;
pub mod decode;
pub mod libyuv;
pub mod pipeline;
pub mod reference;
pub mod swscale;
