//! Rough single-thread codec speeds: H.264 encode and decode at 1280x720 and 426x240 on a
//! synthetic talking head (static background, a swaying head, a moving mouth, sensor noise),
//! and the audio codecs per 20 ms frame. Prints numbers only; nothing here is asserted. Run
//! with `cargo run --release -p mixer --example codec_speed`.
// Examples are not sans-IO library code: measuring wall time needs the clock.
#![allow(clippy::disallowed_methods)]

use mixer::codec::{
    AudioCodec, AudioDecoder, AudioEncoder, EncoderConfig, H264Decoder, H264Encoder, H264Profile,
};
use mixer::{I420Frame, Rect, Yuv};
use std::time::Instant;

/// Frame `n` of the talking head.
fn talking_head(width: u32, height: u32, n: u32) -> I420Frame {
    let mut frame = I420Frame::solid(width, height, Yuv::from_rgb(70, 90, 120)).unwrap();
    let mut seed = n.wrapping_mul(2_654_435_761).wrapping_add(1);
    {
        let [mut y, _, _] = frame.planes_mut();
        for row in 0..y.height() {
            for (x, px) in y.row_mut(row).iter_mut().enumerate() {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let wall = 60 + (x * 40 / width as usize) + (row * 30 / height as usize);
                *px = (wall as i32 + (seed >> 30) as i32 - 2).clamp(16, 235) as u8;
            }
        }
    }
    let sway = ((f64::from(n) * 0.15).sin() * f64::from(width) / 40.0) as i64;
    let head_w = width / 4;
    let head_h = height / 2;
    let head_x = (i64::from((width - head_w) / 2) + sway) as u32 & !1;
    let head_y = (height / 5) & !1;
    frame
        .fill_rect(
            Rect {
                x: head_x,
                y: head_y,
                width: head_w & !1,
                height: head_h & !1,
            },
            Yuv::from_rgb(220, 170, 140),
        )
        .unwrap();
    let mouth_h = ((head_h / 10) as f64 * (0.3 + 0.7 * (f64::from(n) * 0.9).sin().abs())) as u32;
    frame
        .fill_rect(
            Rect {
                x: (head_x + head_w / 3) & !1,
                y: (head_y + head_h * 2 / 3) & !1,
                width: (head_w / 3) & !1,
                height: mouth_h.max(2) & !1,
            },
            Yuv::from_rgb(120, 40, 50),
        )
        .unwrap();
    frame
}

/// Frame `n` of a harder case: a full-frame detailed pattern (checks and waves, like a
/// bookshelf behind someone) panning two pixels a frame, every macroblock moving.
fn busy(width: u32, height: u32, n: u32) -> I420Frame {
    let mut frame = I420Frame::new(width, height).unwrap();
    for (i, mut plane) in frame.planes_mut().into_iter().enumerate() {
        let scale = if i == 0 { 1.0 } else { 2.0 };
        for y in 0..plane.height() {
            for (x, px) in plane.row_mut(y).iter_mut().enumerate() {
                let xs = (x as f64 * scale) + 2.0 * f64::from(n);
                let ys = y as f64 * scale;
                let wave = 40.0 * (xs * 0.11).sin() * (ys * 0.07).cos();
                let checks = if ((xs / 24.0) as i64 + (ys / 24.0) as i64) % 2 == 0 {
                    50.0
                } else {
                    0.0
                };
                *px = (90.0 + wave + checks + 10.0 * i as f64) as u8;
            }
        }
    }
    frame
}

fn main() {
    for (content, width, height, bitrate) in [
        ("talking head", 1280, 720, 1_500_000),
        ("busy", 1280, 720, 1_500_000),
        ("talking head", 426, 240, 300_000),
        ("busy", 426, 240, 300_000),
    ] {
        let make = if content == "busy" {
            busy
        } else {
            talking_head
        };
        let frames: Vec<_> = (0..60).map(|n| make(width, height, n)).collect();
        let mut encoder = H264Encoder::new(EncoderConfig {
            width,
            height,
            fps: 30.0,
            bitrate_bps: bitrate,
            profile: H264Profile::ConstrainedBaseline,
            max_nal_bytes: None,
            temporal_layers: 1,
        })
        .unwrap();
        let runs = if width >= 1280 { 300 } else { 1_500 };
        let mut units = Vec::with_capacity(runs);
        let start = Instant::now();
        for i in 0..runs {
            units.push(
                encoder
                    .encode(&frames[i % frames.len()], i % 150 == 0)
                    .unwrap(),
            );
        }
        let encode_s = start.elapsed().as_secs_f64();
        let bytes: usize = units.iter().map(|u| u.data.len()).sum();
        let skipped = units.iter().filter(|u| u.data.is_empty()).count();

        let mut decoder = H264Decoder::new().unwrap();
        let start = Instant::now();
        let mut pictures = 0;
        for unit in &units {
            if let Ok(Some(_)) = decoder.decode(&unit.data) {
                pictures += 1;
            }
        }
        let decode_s = start.elapsed().as_secs_f64();
        println!(
            "h264 {content:>12} {width}x{height} @ {} kbit/s: encode {:.0} fps, decode {:.0} fps \
             ({pictures} pictures, {skipped} skipped, {:.0} kbit/s at 30 fps)",
            bitrate / 1000,
            runs as f64 / encode_s,
            pictures as f64 / decode_s,
            bytes as f64 * 8.0 * 30.0 / runs as f64 / 1000.0,
        );
    }

    let pcm: Vec<i16> = (0..960 * 50)
        .map(|n| (6_000.0 * (n as f64 * 0.07).sin() + 2_000.0 * (n as f64 * 0.31).sin()) as i16)
        .collect();
    for codec in AudioCodec::ALL {
        let mut encoder = AudioEncoder::new(codec).unwrap();
        let mut decoder = AudioDecoder::new(codec).unwrap();
        let start = Instant::now();
        let payloads: Vec<_> = pcm
            .chunks(960)
            .cycle()
            .take(2_000)
            .map(|f| encoder.encode(f).unwrap())
            .collect();
        let encode_s = start.elapsed().as_secs_f64();
        let start = Instant::now();
        for p in &payloads {
            decoder.decode(p).unwrap();
        }
        let decode_s = start.elapsed().as_secs_f64();
        println!(
            "{codec:?}: encode {:.0} frames/s, decode {:.0} frames/s (20 ms frames; 50/s is one stream)",
            2_000.0 / encode_s,
            2_000.0 / decode_s,
        );
    }
}
