//! `compare decode`: what a shown VTC costs the gateway to decode, with and without issue 17
//! item 6 (TMMBR asking a VTC shown only in small tiles for the rate that tile needs, which room
//! systems answer with a smaller picture). One VTC's stream decoded with the gateway's decoder
//! (openh264, one thread) at 1280x720 (a VTC that ignores TMMBR, or one in a big tile) and at
//! the pictures the TMMBR classes lead to (640x360 for a 2x2 tile, 480x270 for a 3x3 tile of a
//! 720p layout), on the same moving room content, encoded before timing.
//!
//! Timed with the thread's CPU time (a shared machine's other work does not count); the best of
//! the rounds. Owns only the harness.

use clap::Args;

use mixer::codec::h264::{EncoderConfig, H264Decoder, H264Encoder};
use rtp_session::bandwidth::BitrateClass;

use crate::clock::{Clock, Stopwatch};
use crate::content::room_frame;

/// Options of `compare decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Frames per clip (30 fps; an IDR every 30).
    #[arg(long, default_value_t = 90)]
    pub frames: u32,
    /// Timed rounds; each size reports its best.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
}

/// The sizes compared, with the rate each is encoded at (the class's).
const CASES: [(BitrateClass, &str); 3] = [
    (BitrateClass::Hd1500, "720p (no TMMBR, or a big tile)"),
    (BitrateClass::Sd384, "640x360 (TMMBR for a 2x2 tile)"),
    (BitrateClass::Ld192, "480x270 (TMMBR for a 3x3 tile)"),
];

/// Runs the comparison and prints the table and the summary line.
///
/// # Errors
/// The encoder or decoder failed.
pub fn run(args: &DecodeArgs) -> anyhow::Result<()> {
    let mut per_frame = Vec::new();
    for (class, what) in CASES {
        let (w, h) = class.size();
        let mut encoder = H264Encoder::new(EncoderConfig {
            width: w,
            height: h,
            bitrate_bps: class.bitrate_bps() as u32,
            ..EncoderConfig::hd720()
        })?;
        let mut clip = Vec::new();
        for i in 0..args.frames {
            let picture = room_frame(w, h, 7, f64::from(i) / 30.0);
            clip.push(encoder.encode(&picture, i % 30 == 0)?.data);
        }
        let mut best = f64::INFINITY;
        for _ in 0..args.rounds.max(1) {
            let mut decoder = H264Decoder::new()?;
            let watch = Stopwatch::start(Clock::ThreadCpu);
            for unit in &clip {
                let _ = decoder.decode(unit)?;
            }
            best = best.min(watch.seconds() * 1000.0 / f64::from(args.frames.max(1)));
        }
        println!(
            "{what:<34} {best:>6.2} ms/frame  {:>5.3} cores at 30 fps",
            best * 0.03
        );
        per_frame.push(best);
    }
    let (hd, ld) = (per_frame[0], per_frame[2]);
    println!(
        "decode: per shown VTC {:.3} cores at 720p, {:.3} at 640x360, {:.3} at 480x270; a 3x3 \
         tile costs {:.1}x less with TMMBR",
        hd * 0.03,
        per_frame[1] * 0.03,
        ld * 0.03,
        hd / ld.max(1e-9)
    );
    Ok(())
}
