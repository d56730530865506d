//! Rough timing of the scaler backends: 1280x720 -> 426x240 (a 3x3 tile) and 640x360 -> 426x240.
//! Prints numbers only; nothing here is asserted. Run with
//! `cargo run --release -p mixer --example scale_speed`.
#![allow(clippy::disallowed_methods)] // an example that measures wall time reads the clock

use mixer::compose::{Compositor, CompositorConfig, Threading, TileContent, VideoSource};
use mixer::{Backend, I420Frame, LayoutKind, ParticipantId, TileGrid, TileScaler, Yuv};
use std::time::Instant;

fn main() {
    let mut src = I420Frame::solid(1280, 720, Yuv::from_rgb(40, 90, 200)).unwrap();
    for (i, mut plane) in src.planes_mut().into_iter().enumerate() {
        for y in 0..plane.height() {
            for (x, px) in plane.row_mut(y).iter_mut().enumerate() {
                *px = ((x * 7 + y * 13 + i * 31) % 251) as u8;
            }
        }
    }
    let small = {
        let mut f = I420Frame::new(640, 360).unwrap();
        TileScaler::new(1280, 720, 640, 360)
            .unwrap()
            .scale_frame(&src, &mut f)
            .unwrap();
        f
    };
    for (name, input) in [("1280x720", &src), ("640x360", &small)] {
        for backend in [
            Backend::Scalar,
            Backend::Sse2,
            Backend::Ssse3,
            Backend::Avx2,
        ] {
            let only = std::env::args().nth(1);
            if !backend.is_available() || only.is_some_and(|o| o != format!("{backend:?}")) {
                continue;
            }
            let mut scaler = TileScaler::new(input.width(), input.height(), 426, 240)
                .unwrap()
                .with_backend(backend)
                .unwrap();
            let mut dst = I420Frame::new(426, 240).unwrap();
            let runs = 300;
            let start = Instant::now();
            for _ in 0..runs {
                scaler.scale_frame(input, &mut dst).unwrap();
            }
            let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(runs);
            println!("{name} -> 426x240 {backend:?}: {per:.0} us/frame");
        }
    }
    compose_nine(&src);
}

/// Nine 1280x720 sources into a 3x3 1280x720 canvas, every tile changed every frame.
fn compose_nine(src: &I420Frame) {
    let grid = TileGrid::new(LayoutKind::Grid3x3, 1280, 720).unwrap();
    let names: Vec<String> = (0..9).map(|i| format!("Room {i}")).collect();
    for threading in [Threading::Single, Threading::Rayon] {
        let mut compositor = Compositor::new(CompositorConfig {
            threading,
            ..CompositorConfig::default()
        })
        .unwrap();
        let runs = 100u64;
        let start = Instant::now();
        for frame_id in 0..runs {
            let contents: Vec<_> = (0..9)
                .map(|i| {
                    Some(TileContent {
                        participant: ParticipantId(i),
                        name: &names[i as usize],
                        video: Some(VideoSource {
                            frame: src,
                            frame_id,
                        }),
                    })
                })
                .collect();
            compositor
                .compose(&grid, &contents, Some(ParticipantId(0)))
                .unwrap();
        }
        let per = start.elapsed().as_secs_f64() * 1e3 / runs as f64;
        println!("compose 9 x 1280x720 -> 3x3 1280x720 {threading:?}: {per:.2} ms/frame");
    }
}
