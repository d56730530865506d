//! `compare compositor`: Tessera's compositor against libswscale and libyuv, each scaling
//! straight into the tiles of a canvas.
//!
//! Nine sources of one size are composed into a 3x3 1280x720 I420 canvas, every iteration
//! redrawing every tile. Tessera runs its real [`mixer::Compositor`] (the one the gateway uses;
//! labels off because the peers draw none, the 2-pixel rings drawn once like the peers'); the
//! peers scale each source with `sws_scale` or libyuv's `I420Scale` directly into the tile's
//! rectangle of a canvas (so their "copy" costs nothing: the most favourable way to use them).
//! All see the same synthetic room-camera pictures ([`crate::content`]) and the same tile
//! rectangles; Tessera's output is compared with swscale's for agreement, and every contender's
//! with a float reference ([`crate::reference`]) for quality, so the speed is for the same
//! picture at a known quality.
//!
//! Owns only the measurement; the code measured lives in `mixer`, libswscale and libyuv.

use crate::clock::{Clock, Stopwatch};
use crate::content::room_frame;
use crate::libyuv::{self, YuvFilter};
use crate::reference::Reference;
use crate::swscale::{self, crop_view, Canvas, SwsFilter, SwsScaler};
use anyhow::{ensure, Context};
use mixer::compose::{
    fill_crop, Compositor, CompositorConfig, Threading, TileContent, VideoSource,
};
use mixer::frame::Plane;
use mixer::{Backend, I420Frame, LayoutKind, ParticipantId, PlaneKind, Rect, TileGrid};
use rayon::prelude::*;

/// Canvas size of every case.
const CANVAS: (u32, u32) = (1280, 720);
/// Pictures per participant; iterations cycle through them so every frame is new.
const VARIANTS: usize = 2;
/// The swscale configurations measured; the faster one of the first two is the one reported
/// (fast-bilinear is shown for information: two taps on a 3x down-scale alias).
const PEERS: [SwsFilter; 3] = [
    SwsFilter::Bilinear,
    SwsFilter::Area,
    SwsFilter::FastBilinear,
];
/// How many of `PEERS` count for the reported ratio.
const COMPARABLE_PEERS: usize = 2;

/// Options of `compare compositor`.
#[derive(Debug, clap::Args)]
pub struct CompositorArgs {
    /// Composed frames per timed round, per contender.
    #[arg(long, default_value_t = 50)]
    pub iterations: u32,
    /// Timed rounds (contenders interleaved); each case reports its best round.
    #[arg(long, default_value_t = 5)]
    pub rounds: u32,
    /// A quick check (3 iterations, 1 round): for tests; its timings mean little.
    #[arg(long)]
    pub quick: bool,
}

/// One case's measurements.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// Source size.
    pub input: (u32, u32),
    /// Threads used (1 or rayon's pool size).
    pub threads: usize,
    /// Tessera, milliseconds per composed frame.
    pub tessera_ms: f64,
    /// Each of [`PEERS`], milliseconds per composed frame.
    pub peers_ms: Vec<(SwsFilter, f64)>,
    /// PSNR (dB) per plane (Y, U, V) of Tessera's canvas against each peer's.
    pub psnr: Vec<(SwsFilter, [f64; 3])>,
    /// Each of libyuv's filters, milliseconds per composed frame.
    pub yuv_ms: Vec<(YuvFilter, f64)>,
    /// PSNR (dB) per plane of each contender's tiles against the float reference, by name.
    pub reference_psnr: Vec<(String, [f64; 3])>,
}

impl CaseResult {
    /// The faster comparable peer and its time.
    pub fn best_peer(&self) -> (SwsFilter, f64) {
        fastest(&self.peers_ms[..COMPARABLE_PEERS])
    }

    /// How many times faster Tessera is than the faster comparable peer.
    pub fn speedup(&self) -> f64 {
        self.best_peer().1 / self.tessera_ms
    }

    /// The faster libyuv filter and its time.
    pub fn best_yuv(&self) -> (YuvFilter, f64) {
        fastest(&self.yuv_ms)
    }

    /// How many times faster Tessera is than the faster libyuv filter.
    pub fn vs_libyuv(&self) -> f64 {
        self.best_yuv().1 / self.tessera_ms
    }
}

/// The fastest of some timed configurations (every case measures at least one of each peer).
fn fastest<T: Copy>(timed: &[(T, f64)]) -> (T, f64) {
    timed
        .iter()
        .copied()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("every peer has configurations measured")
}

/// Runs the comparison and prints its table and summary line.
pub fn run(args: &CompositorArgs) -> anyhow::Result<()> {
    let (iterations, rounds) = if args.quick {
        (3, 1)
    } else {
        (args.iterations.max(1), args.rounds.max(1))
    };
    let pool = rayon::current_num_threads();
    println!(
        "compare compositor: nine sources -> 3x3 {}x{} I420; libswscale {}; libyuv (Debian libyuv0); {} iterations x {} rounds, best round",
        CANVAS.0,
        CANVAS.1,
        swscale::version(),
        iterations,
        rounds
    );
    println!(
        "full redraw: every iteration gives each tile a new frame id and alternates between {VARIANTS} different pictures, so all 9 tiles are rescaled (checked with the compositor's counters)"
    );
    println!(
        "tessera: mixer::Compositor ({:?} backend), labels off, rings drawn once; swscale: sws_scale per tile into the canvas, one context per tile; libyuv: I420Scale per tile into the canvas; peers use rayon across tiles when threaded\n",
        Backend::detect()
    );
    let mut results = Vec::new();
    let hd: Vec<Vec<I420Frame>> = (0..9)
        .map(|p| {
            (0..VARIANTS)
                .map(|v| room_frame(1280, 720, p as u64 + 1, v as f64 * 0.8))
                .collect()
        })
        .collect();
    // The 640x360 sources are the same pictures halved, as a camera's second layer would be.
    let mut halve = mixer::TileScaler::new(1280, 720, 640, 360)?.with_backend(Backend::Scalar)?;
    let mut small = |f: &I420Frame| -> anyhow::Result<I420Frame> {
        let mut out = I420Frame::new(640, 360)?;
        halve.scale_frame(f, &mut out)?;
        Ok(out)
    };
    let sd = hd
        .iter()
        .map(|vs| vs.iter().map(&mut small).collect())
        .collect::<anyhow::Result<Vec<Vec<I420Frame>>>>()?;
    for (input, sources) in [((1280, 720), &hd), ((640, 360), &sd)] {
        for threads in [1, pool] {
            results.push(measure(input, threads, sources, iterations, rounds)?);
        }
    }
    print_table(&results);
    let headline = results
        .iter()
        .find(|r| r.input == (1280, 720) && r.threads == 1)
        .context("single-threaded 720p case")?;
    println!(
        "compositor: tessera {:.2} ms/frame, swscale {:.2} ms/frame, speedup {:.2}x, libyuv {:.2} ms/frame, vs libyuv {:.2}x",
        headline.tessera_ms,
        headline.best_peer().1,
        headline.speedup(),
        headline.best_yuv().1,
        headline.vs_libyuv()
    );
    Ok(())
}

fn print_table(results: &[CaseResult]) {
    println!(
        "{:<34} {:>7} {:>11} {:>13} {:>13} {:>10} {:>15} {:>12} {:>14} {:>11} {:>10}",
        "case",
        "threads",
        "tessera ms",
        "sws bilinear",
        "sws area",
        "speedup",
        "(fast-bilinear)",
        "PSNR Y/U/V",
        "yuv bilinear",
        "yuv box",
        "vs libyuv"
    );
    for r in results {
        let ms = |f: SwsFilter| {
            r.peers_ms
                .iter()
                .find(|(p, _)| *p == f)
                .map_or(f64::NAN, |(_, ms)| *ms)
        };
        let (best, _) = r.best_peer();
        let psnr = r
            .psnr
            .iter()
            .find(|(p, _)| *p == best)
            .map_or([f64::NAN; 3], |(_, p)| *p);
        let headline = if r.input == (1280, 720) && r.threads == 1 {
            " (summary line)"
        } else {
            ""
        };
        let yuv = |f: YuvFilter| {
            r.yuv_ms
                .iter()
                .find(|(p, _)| *p == f)
                .map_or(f64::NAN, |(_, ms)| *ms)
        };
        println!(
            "{:<34} {:>7} {:>11.2} {:>13.2} {:>13.2} {:>9.2}x {:>15.2} {:>4.1}/{:.1}/{:.1} {:>14.2} {:>11.2} {:>9.2}x",
            format!("9x {}x{} -> 3x3{headline}", r.input.0, r.input.1),
            r.threads,
            r.tessera_ms,
            ms(SwsFilter::Bilinear),
            ms(SwsFilter::Area),
            r.speedup(),
            ms(SwsFilter::FastBilinear),
            psnr[0],
            psnr[1],
            psnr[2],
            yuv(YuvFilter::Bilinear),
            yuv(YuvFilter::Box),
            r.vs_libyuv()
        );
    }
    println!(
        "\nms = milliseconds per composed 1280x720 frame, best round: {} clock with 1 thread, {} clock with more;",
        clock_for(1).name(),
        clock_for(2).name()
    );
    println!("speedup = the faster of SWS_BILINEAR and SWS_AREA / tessera; vs libyuv = the faster of kFilterBilinear and kFilterBox / tessera;");
    println!(
        "PSNR of tessera's canvas against that swscale config's; fast-bilinear is for information (aliases, not compared)."
    );
    for r in results {
        for (filter, p) in &r.psnr {
            println!(
                "agreement {}x{} threads={} {}: PSNR Y {:.1} dB, U {:.1} dB, V {:.1} dB",
                r.input.0,
                r.input.1,
                r.threads,
                filter.name(),
                p[0],
                p[1],
                p[2]
            );
        }
    }
    println!(
        "quality: PSNR of each contender's tiles against a float reference (exact area average down, linear up; no rounding):"
    );
    for r in results {
        for (name, p) in &r.reference_psnr {
            println!(
                "reference {}x{} threads={} {}: PSNR Y {:.2} dB, U {:.2} dB, V {:.2} dB",
                r.input.0, r.input.1, r.threads, name, p[0], p[1], p[2]
            );
        }
    }
}

/// Single-threaded cases count the thread's CPU time (immune to the scheduler running others
/// on a shared machine); threaded ones need the wall clock.
fn clock_for(threads: usize) -> Clock {
    if threads == 1 {
        Clock::ThreadCpu
    } else {
        Clock::Wall
    }
}

/// One case: `sources[participant][variant]` into the 3x3 grid on `threads` threads.
fn measure(
    input: (u32, u32),
    threads: usize,
    sources: &[Vec<I420Frame>],
    iterations: u32,
    rounds: u32,
) -> anyhow::Result<CaseResult> {
    let grid = TileGrid::new(LayoutKind::Grid3x3, CANVAS.0, CANVAS.1)?;
    let config = CompositorConfig {
        labels: false,
        threading: if threads == 1 {
            Threading::Single
        } else {
            Threading::Rayon
        },
        ..CompositorConfig::default()
    };
    let border = config.border;
    let clock = clock_for(threads);
    let mut tessera = Compositor::new(config)?;
    let names: Vec<String> = (0..9).map(|i| format!("Room {i}")).collect();
    let mut frame_id = 0u64;
    // Composes iteration `i`'s pictures (variant i % VARIANTS, a frame id never used before).
    let mut compose = |tessera: &mut Compositor, variant: usize| -> anyhow::Result<()> {
        frame_id += 1;
        let contents: Vec<Option<TileContent<'_>>> = (0..9)
            .map(|p| {
                Some(TileContent {
                    participant: ParticipantId(p as u64),
                    name: &names[p],
                    video: Some(VideoSource {
                        frame: &sources[p][variant],
                        frame_id,
                    }),
                })
            })
            .collect();
        tessera.compose(&grid, &contents, None)?;
        Ok(())
    };
    // The first compose draws the background and the rings; the peers start from that canvas
    // so that only the pictures inside the rings differ.
    compose(&mut tessera, 0)?;
    let background = tessera.canvas().context("composed")?.clone();
    let rects: Vec<Rect> = grid.tiles().iter().map(|t| inset(*t, border)).collect();
    // The compositor crops a source whose shape differs from its tile by more than 1 % (crop to
    // fill); the peers are handed the same crop so that every contender draws the same picture.
    let crops: Vec<Rect> = rects
        .iter()
        .map(|r| fill_crop(input.0, input.1, r.width, r.height))
        .collect();
    let views: Vec<Vec<[Plane<'_>; 3]>> = sources
        .iter()
        .zip(&crops)
        .map(|(variants, crop)| {
            variants
                .iter()
                .map(|f| crop_view(f, *crop).context("crop inside the source"))
                .collect()
        })
        .collect::<anyhow::Result<_>>()?;

    let mut peers: Vec<(SwsFilter, Vec<SwsScaler>, Canvas)> = Vec::new();
    for filter in PEERS {
        let scalers = rects
            .iter()
            .zip(&crops)
            .map(|(r, c)| SwsScaler::new((c.width, c.height), (r.width, r.height), filter))
            .collect::<Result<Vec<_>, _>>()?;
        peers.push((filter, scalers, Canvas::from_frame(&background)));
    }
    let mut yuv_canvases: Vec<(YuvFilter, Canvas)> = YuvFilter::ALL
        .into_iter()
        .map(|f| (f, Canvas::from_frame(&background)))
        .collect();

    let mut tessera_best = f64::INFINITY;
    let mut peer_best = vec![f64::INFINITY; peers.len()];
    let mut yuv_best = vec![f64::INFINITY; yuv_canvases.len()];
    let scaled_before = tessera.stats().tiles_scaled;
    for _ in 0..rounds {
        let start = Stopwatch::start(clock);
        for i in 0..iterations {
            compose(&mut tessera, i as usize % VARIANTS)?;
        }
        tessera_best = tessera_best.min(per_frame_ms(start, iterations));
        for ((_, scalers, canvas), best) in peers.iter_mut().zip(&mut peer_best) {
            let start = Stopwatch::start(clock);
            for i in 0..iterations {
                let variant = i as usize % VARIANTS;
                peer_compose(scalers, canvas, &rects, &views, variant, threads);
            }
            *best = best.min(per_frame_ms(start, iterations));
        }
        for ((filter, canvas), best) in yuv_canvases.iter_mut().zip(&mut yuv_best) {
            let start = Stopwatch::start(clock);
            for i in 0..iterations {
                let variant = i as usize % VARIANTS;
                yuv_compose(*filter, canvas, &rects, &views, variant, threads)?;
            }
            *best = best.min(per_frame_ms(start, iterations));
        }
    }
    let scaled = tessera.stats().tiles_scaled - scaled_before;
    ensure!(
        scaled == 9 * u64::from(iterations) * u64::from(rounds),
        "tessera skipped work: {scaled} tiles scaled in {} frames",
        iterations * rounds
    );

    // Agreement: the same pictures (variant 0) through both.
    compose(&mut tessera, 0)?;
    let ours = tessera.canvas().context("composed")?;
    let firsts: Vec<[Plane<'_>; 3]> = views.iter().map(|v| v[0]).collect();
    let reference = Reference::new(&firsts, &rects);
    let mut reference_psnr = vec![("tessera".to_string(), reference.psnr(ours))];
    let mut psnr = Vec::new();
    for (filter, scalers, canvas) in &mut peers {
        peer_compose(scalers, canvas, &rects, &views, 0, threads);
        let theirs = canvas.to_frame();
        psnr.push((*filter, plane_psnr(ours, &theirs)));
        reference_psnr.push((filter.name().to_string(), reference.psnr(&theirs)));
    }
    for (filter, canvas) in &mut yuv_canvases {
        yuv_compose(*filter, canvas, &rects, &views, 0, threads)?;
        reference_psnr.push((
            format!("libyuv {}", filter.name()),
            reference.psnr(&canvas.to_frame()),
        ));
    }
    Ok(CaseResult {
        input,
        threads,
        tessera_ms: tessera_best,
        peers_ms: peers.iter().map(|(f, ..)| *f).zip(peer_best).collect(),
        psnr,
        yuv_ms: yuv_canvases.iter().map(|(f, _)| *f).zip(yuv_best).collect(),
        reference_psnr,
    })
}

/// Scales every source's `variant` (as cropped for its tile) into its tile of `canvas`.
fn peer_compose(
    scalers: &mut [SwsScaler],
    canvas: &mut Canvas,
    rects: &[Rect],
    sources: &[Vec<[Plane<'_>; 3]>],
    variant: usize,
    threads: usize,
) {
    let mut tiles = canvas.tiles(rects);
    if threads == 1 {
        for ((scaler, tile), src) in scalers.iter_mut().zip(&mut tiles).zip(sources) {
            scaler.scale(&src[variant], tile);
        }
    } else {
        scalers
            .par_iter_mut()
            .zip(tiles.par_iter_mut())
            .zip(sources.par_iter())
            .for_each(|((scaler, tile), src)| scaler.scale(&src[variant], tile));
    }
}

/// Scales every source's `variant` (as cropped for its tile) into its tile of `canvas` with
/// libyuv.
fn yuv_compose(
    filter: YuvFilter,
    canvas: &mut Canvas,
    rects: &[Rect],
    sources: &[Vec<[Plane<'_>; 3]>],
    variant: usize,
    threads: usize,
) -> Result<(), libyuv::YuvError> {
    let mut tiles = canvas.tiles(rects);
    if threads == 1 {
        tiles
            .iter_mut()
            .zip(sources)
            .try_for_each(|(tile, src)| libyuv::scale(&src[variant], tile, filter))
    } else {
        tiles
            .par_iter_mut()
            .zip(sources.par_iter())
            .try_for_each(|(tile, src)| libyuv::scale(&src[variant], tile, filter))
    }
}

/// The picture area inside a tile's ring (the compositor's rule: no ring on tiny tiles).
fn inset(tile: Rect, border: u32) -> Rect {
    let b = if tile.width > 2 * border + 2 && tile.height > 2 * border + 2 {
        border
    } else {
        0
    };
    Rect {
        x: tile.x + b,
        y: tile.y + b,
        width: tile.width - 2 * b,
        height: tile.height - 2 * b,
    }
}

fn per_frame_ms(start: Stopwatch, iterations: u32) -> f64 {
    start.seconds() * 1e3 / f64::from(iterations)
}

/// PSNR (dB, capped at 99 for identical planes) of each plane of `b` against `a`.
pub fn plane_psnr(a: &I420Frame, b: &I420Frame) -> [f64; 3] {
    PlaneKind::ALL.map(|kind| {
        let (pa, pb) = (a.plane(kind), b.plane(kind));
        let mut sum = 0f64;
        let mut count = 0usize;
        for y in 0..pa.height() {
            for (x, y) in pa.row(y).iter().zip(pb.row(y)) {
                let d = f64::from(*x) - f64::from(*y);
                sum += d * d;
                count += 1;
            }
        }
        let mse = sum / count.max(1) as f64;
        if mse == 0.0 {
            99.0
        } else {
            (10.0 * (255.0f64 * 255.0 / mse).log10()).min(99.0)
        }
    })
}
