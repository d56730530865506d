//! What one slate stream costs (the gateway's slate studio runs one per distinct slate and
//! size, shared by every caller waiting on it): drawing time, IDR and P-frame sizes, the
//! resulting bit rate at 5 fps with an IDR every 2 s, encoding time, and the picture quality
//! after a decode (PSNR of the luma against the drawn slate). Prints a table; asserts nothing.
//! Run with `cargo run --release -p mixer --example slate_cost`.
#![allow(clippy::disallowed_methods)] // an example that measures wall time reads the clock

use std::time::Instant;

use mixer::codec::h264::{EncoderConfig, H264Decoder, H264Encoder};
use mixer::frame::PlaneKind;
use mixer::slate::{render_slate, SlateStyle, SlateText};

const FPS: u32 = 5;
const IDR_EVERY: u32 = 10; // frames: 2 s at 5 fps
const FRAMES: u32 = 50; // 10 s

fn psnr(a: &mixer::I420Frame, b: &mixer::I420Frame) -> f64 {
    let (pa, pb) = (a.plane(PlaneKind::Y), b.plane(PlaneKind::Y));
    let mut sum = 0.0f64;
    let mut n = 0.0f64;
    for y in 0..pa.height() {
        for (x, y_) in pa.row(y).iter().zip(pb.row(y)) {
            let d = f64::from(*x) - f64::from(*y_);
            sum += d * d;
            n += 1.0;
        }
    }
    10.0 * (255.0 * 255.0 / (sum / n).max(1e-9)).log10()
}

fn main() {
    let text = SlateText {
        title: "Waiting for the host to let you in".into(),
        lines: vec![
            "Demo Organizer's meeting".into(),
            "Acme - conference 1177958860".into(),
        ],
    };
    println!(
        "{:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>8}",
        "size", "kbit/s", "draw ms", "IDR B", "P B", "kbit/s", "IDR ms", "P ms", "PSNR dB"
    );
    for (w, h) in [(1280, 720), (640, 360), (352, 288)] {
        for target in [300_000u32, 600_000, 1_200_000] {
            let t = Instant::now();
            let picture = render_slate(w, h, &text, &SlateStyle::default()).unwrap();
            let draw_ms = t.elapsed().as_secs_f64() * 1000.0;
            let mut encoder = H264Encoder::new(EncoderConfig {
                width: w,
                height: h,
                fps: FPS as f32,
                bitrate_bps: target,
                ..EncoderConfig::hd720()
            })
            .unwrap();
            let mut decoder = H264Decoder::new().unwrap();
            let (mut idr_bytes, mut idr_n, mut p_bytes, mut p_n) = (0usize, 0u32, 0usize, 0u32);
            let (mut idr_s, mut p_s) = (0.0f64, 0.0f64);
            let mut total = 0usize;
            let mut quality = None;
            for i in 0..FRAMES {
                let t = Instant::now();
                let f = encoder.encode(&picture, i % IDR_EVERY == 0).unwrap();
                let spent = t.elapsed().as_secs_f64();
                total += f.data.len();
                if f.keyframe {
                    idr_bytes += f.data.len();
                    idr_n += 1;
                    idr_s += spent;
                } else {
                    p_bytes += f.data.len();
                    p_n += 1;
                    p_s += spent;
                }
                if !f.data.is_empty() {
                    if let Ok(Some(decoded)) = decoder.decode(&f.data) {
                        if f.keyframe && quality.is_none() {
                            quality = Some(psnr(&picture, &decoded));
                        }
                    }
                }
            }
            let seconds = f64::from(FRAMES) / f64::from(FPS);
            println!(
                "{:>9} {:>9} {:>9.2} {:>9} {:>9} {:>10.0} {:>10.2} {:>10.3} {:>8.1}",
                format!("{w}x{h}"),
                target / 1000,
                draw_ms,
                idr_bytes / idr_n.max(1) as usize,
                p_bytes / p_n.max(1) as usize,
                total as f64 * 8.0 / seconds / 1000.0,
                idr_s * 1000.0 / f64::from(idr_n.max(1)),
                p_s * 1000.0 / f64::from(p_n.max(1)),
                quality.unwrap_or(f64::NAN)
            );
        }
    }
}
