//! `compare pipeline`: one meeting's per-frame transcoding, Tessera's engine against the naive
//! pipeline, on the same pre-encoded input in the same run.
//!
//! The meeting: `N` VTCs (each sends 1280x720 H.264 and receives a 1280x720 layout) and nine
//! native participants, each publishing simulcast 1280x720 / 640x360 / 320x180 at 30 fps
//! (with temporal layers when the encoder provides them). One participant talks at a time and the
//! talker changes every two to five seconds, mostly among a core group (four natives and up to
//! two VTCs) and sometimes anyone, so layouts change the way they do in a real meeting. The
//! natives are there first and the VTCs dial in after (who has not talked gets a tile in join
//! order).
//!
//! - **Tessera** drives the real [`gateway::media::engine::MeetingMedia`] on a virtual clock:
//!   VTC streams decoded once each while some layout shows them (as the calls' decoder threads
//!   do; a VTC shown again answers the keyframe request with its next IDR), native streams fed as
//!   encoded access units of the encodings the engine subscribes to (it decodes the one that
//!   fits the biggest tile, once, at the rate the tile needs), speaker ranking from the audio,
//!   one composite and encode per distinct layout (shared encoders).
//! - **Naive**: every stream decoded at 1280x720, every frame, once (already generous: a naive
//!   MCU port decodes per port); per VTC its own composite of its nine and its own encoder.
//!
//! Inputs are encoded before timing (a two-second clip per source, IDR every second, looped:
//! encoding them is the publishers' work, not the gateway's). A native publisher answers the
//! engine's keyframe request for a layer by jumping that layer's clip to its next IDR (a real
//! one would encode an IDR at once; the gateway's work is the same).
//! CPU time is the process's (`CLOCK_PROCESS_CPUTIME_ID`, so rayon's compositor threads
//! count), per second of media; `ports/core` = VTC ports one core serves in real time.
//!
//! Owns only the harness; it must not change what it measures.

#![allow(unsafe_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use gateway::media::engine::synthetic::Synthetic;
use gateway::media::engine::{
    CallFeed, EngineConfig, EngineInput, MeetingMedia, NativeStream, FRAME_SAMPLES,
};
use mixer::codec::h264::{EncodedFrame, EncoderConfig, H264Decoder, H264Encoder};
use mixer::compose::{Compositor, CompositorConfig, TileContent, VideoSource};
use mixer::frame::I420Frame;
use mixer::layout::{LayoutKind, ParticipantId, TileAssigner, TileGrid};
use mixer::simulcast::LADDER;
use mixer::{SpeakerRanking, VoiceActivityDetector};

/// Layout and input frame rate.
pub const FPS: u32 = 30;
/// Native participants in the meeting.
pub const NATIVES: usize = 9;
/// Frames in each pre-encoded clip (looped).
const CLIP_FRAMES: usize = 60;
/// An IDR every this many frames of a clip.
const CLIP_GOP: usize = 30;
/// Distinct VTC clips (VTCs share them round-robin; decoding costs the same).
const VTC_CLIPS: usize = 4;
/// Bit rate of a VTC's 720p stream and of a 720p layout (the engine's default).
const HD_BITRATE: u32 = 1_500_000;
/// Temporal layers the natives publish with (T0 7.5 fps, T1 15 fps, T2 30 fps).
pub const NATIVE_TEMPORAL_LAYERS: u8 = 3;

/// Options of `compare pipeline`.
#[derive(Debug, Clone, clap::Args)]
pub struct PipelineArgs {
    /// Seconds of media per case.
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// VTC counts to run (the summary line is for the first).
    #[arg(long, value_delimiter = ',', default_value = "1,5,20")]
    pub vtcs: Vec<usize>,
    /// Smoke run: one second, 1 and 3 VTCs (checks the harness, numbers mean little).
    #[arg(long)]
    pub quick: bool,
}

/// What one pipeline did in one case.
#[derive(Debug, Clone)]
pub struct PipelineRun {
    /// Process CPU time spent.
    pub cpu: Duration,
    /// Media time covered.
    pub media: Duration,
    /// Encoded pictures sent to VTCs (counting each receiver).
    pub pictures_out: u64,
    /// Encodes run.
    pub encodes: u64,
    /// Decodes run.
    pub decodes: u64,
    /// Decoder failures (Tessera's native ingest; must stay 0).
    pub decode_errors: u64,
    /// Keyframes asked of VTCs whose picture came back into a layout (Tessera only).
    pub vtc_keyframes: u64,
    /// The last picture the first VTC would see (decoded from its stream after timing).
    pub last_picture: Option<I420Frame>,
}

impl PipelineRun {
    /// CPU seconds per second of media.
    pub fn load(&self) -> f64 {
        self.cpu.as_secs_f64() / self.media.as_secs_f64().max(1e-9)
    }

    /// VTC ports one core serves in real time.
    pub fn ports_per_core(&self, vtcs: usize) -> f64 {
        vtcs as f64 / self.load().max(1e-9)
    }
}

/// Both pipelines on one meeting.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// VTCs in the meeting.
    pub vtcs: usize,
    /// Tessera's engine.
    pub tessera: PipelineRun,
    /// The naive pipeline.
    pub naive: PipelineRun,
}

/// Pre-encoded input of one meeting.
pub struct Inputs {
    /// Per native: per ladder layer, the clip's access units.
    natives: Vec<Vec<Vec<Vec<u8>>>>,
    /// Per VTC clip: 720p access units.
    vtc_clips: Vec<Vec<Vec<u8>>>,
}

impl Inputs {
    /// Encodes every source's clip (not timed).
    pub fn encode() -> anyhow::Result<Inputs> {
        let sources: Vec<Synthetic> = (0..NATIVES as u32)
            .map(|i| Synthetic::new(i, NATIVES as u32))
            .collect();
        let mut natives = Vec::new();
        for s in &sources {
            let mut layers = Vec::new();
            for &size in &LADDER {
                layers.push(encode_clip(s, size, NATIVE_TEMPORAL_LAYERS)?);
            }
            natives.push(layers);
        }
        let vtc_clips = (0..VTC_CLIPS as u32)
            .map(|i| encode_clip(&Synthetic::new(i + 3, VTC_CLIPS as u32 + 3), (1280, 720), 1))
            .collect::<anyhow::Result<_>>()?;
        Ok(Inputs { natives, vtc_clips })
    }
}

fn encode_clip(
    source: &Synthetic,
    (width, height): (u32, u32),
    temporal_layers: u8,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let pixels = f64::from(width * height) / f64::from(1280 * 720);
    let mut enc = H264Encoder::new(EncoderConfig {
        width,
        height,
        fps: FPS as f32,
        bitrate_bps: ((f64::from(HD_BITRATE) * pixels) as u32).max(150_000),
        temporal_layers,
        ..EncoderConfig::hd720()
    })?;
    let mut clip = Vec::with_capacity(CLIP_FRAMES);
    for n in 0..CLIP_FRAMES {
        let t = Duration::from_secs(1) * n as u32 / FPS;
        let picture = source.video_at(t, (width, height))?;
        let mut au = enc.encode(&picture, n % CLIP_GOP == 0)?;
        // A skipped frame would break the loop's IDR pattern: encode again rather than send none.
        while au.data.is_empty() {
            au = enc.encode(&picture, n % CLIP_GOP == 0)?;
        }
        clip.push(au.data);
    }
    Ok(clip)
}

/// Media ids: VTCs 1..=N, natives 101..=109.
fn vtc_id(i: usize) -> u64 {
    1 + i as u64
}

fn native_id(i: usize) -> u64 {
    101 + i as u64
}

/// Who talks when: a deterministic sequence of turns of 2-5 s.
fn speaker_schedule(vtcs: usize, media: Duration) -> Vec<(Duration, u64)> {
    let mut core: Vec<u64> = (0..4).map(native_id).collect();
    core.extend((0..vtcs.min(2)).map(vtc_id));
    let everyone: Vec<u64> = (0..vtcs)
        .map(vtc_id)
        .chain((0..NATIVES).map(native_id))
        .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let mut turns = Vec::new();
    let mut at = Duration::ZERO;
    let mut last = None;
    while at < media {
        let pool = if next() % 10 < 7 { &core } else { &everyone };
        let mut who = pool[next() % pool.len()];
        if Some(who) == last {
            who = everyone[next() % everyone.len()];
        }
        turns.push((at, who));
        last = Some(who);
        at += Duration::from_millis(2_000 + (next() % 3_000) as u64);
    }
    turns
}

fn speaker_at(schedule: &[(Duration, u64)], t: Duration) -> Option<u64> {
    schedule
        .iter()
        .rev()
        .find(|(at, _)| *at <= t)
        .map(|(_, w)| *w)
}

/// 20 ms of a talker's voice-like buzz (or silence).
fn voice(talking: bool, frame: u64, pitch: f32) -> Vec<i16> {
    if !talking {
        return vec![0; FRAME_SAMPLES];
    }
    (0..FRAME_SAMPLES)
        .map(|i| {
            let t = (frame as usize * FRAME_SAMPLES + i) as f32 / 48_000.0;
            let p = std::f32::consts::TAU * pitch * t;
            let env = 0.55 + 0.45 * (std::f32::consts::TAU * 4.0 * t).sin();
            ((p.sin() + 0.5 * (2.0 * p).sin()) * env * 6_000.0) as i16
        })
        .collect()
}

fn pitch(id: u64) -> f32 {
    110.0 + 17.0 * (id % 13) as f32
}

/// Process CPU time.
fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer to a live local.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &raw mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// When input frame `n` is due: the engine's own cadence (whole nanoseconds per frame), so each
/// frame arrives just before the layout tick it belongs to.
fn frame_time(n: u64) -> Duration {
    (Duration::from_secs(1) / FPS) * n as u32
}

/// Tessera: the real engine on a virtual clock.
// The engine runs on a virtual clock that starts at one real instant.
#[allow(clippy::disallowed_methods)]
pub fn run_tessera(inputs: &Inputs, vtcs: usize, media: Duration) -> anyhow::Result<PipelineRun> {
    let t0 = Instant::now();
    let config = EngineConfig {
        fps: FPS,
        ..EngineConfig::default()
    };
    let mut engine = MeetingMedia::new(config, t0, None);
    // The native side is in the meeting first; the VTCs dial in after.
    for n in 0..NATIVES {
        engine.handle_input(EngineInput::JoinNative {
            participant: native_id(n),
            display_name: format!("Native {}", n + 1),
            stream: NativeStream {
                layers: LADDER.to_vec(),
                fps: FPS,
                temporal_layers: NATIVE_TEMPORAL_LAYERS,
            },
        });
    }
    let mut feeds = Vec::new();
    for v in 0..vtcs {
        let (tx, rx) = gateway::media::engine::feed::channel();
        engine.handle_input(EngineInput::Join {
            participant: vtc_id(v),
            display_name: format!("VTC {}", v + 1),
            feed: Some(tx),
            video_format: Some(gateway::media::h264_rtp::VideoFormat::unlimited((
                1280, 720,
            ))),
        });
        feeds.push(rx);
    }
    // Per VTC, as its call does: decode only while the engine shows its picture somewhere; when
    // shown again the call asks for a keyframe, which the VTC answers by jumping its clip to the
    // next IDR (`vtc_shift`), and decoding resumes there.
    let mut vtc_shown = vec![true; vtcs];
    let mut vtc_shift = vec![0usize; vtcs];
    let schedule = speaker_schedule(vtcs, media);
    let mut vtc_decoders = (0..vtcs)
        .map(|_| H264Decoder::new())
        .collect::<Result<Vec<_>, _>>()?;
    let mut subscribed: HashMap<u64, Vec<usize>> = HashMap::new();
    // Per native and layer: how far its clip is shifted (keyframe requests jump to an IDR).
    let mut shift: HashMap<(u64, usize), usize> = HashMap::new();
    let mut first_vtc_stream: Vec<Arc<EncodedFrame>> = Vec::new();
    let (mut next_audio, mut next_video) = (0u64, 0u64);
    let audio_tick = Duration::from_millis(20);
    let mut run = PipelineRun {
        cpu: Duration::ZERO,
        media,
        pictures_out: 0,
        encodes: 0,
        decodes: 0,
        decode_errors: 0,
        vtc_keyframes: 0,
        last_picture: None,
    };
    // As many layout frames as the naive pipeline runs.
    let end = frame_time((media.as_secs_f64() * f64::from(FPS)).round() as u64);
    let cpu_start = cpu_now();
    loop {
        let now = engine.poll_timeout();
        let t = now.saturating_duration_since(t0);
        if t >= end {
            break;
        }
        while audio_tick * next_audio as u32 <= t {
            let speaker = speaker_at(&schedule, audio_tick * next_audio as u32);
            for id in (0..vtcs).map(vtc_id).chain((0..NATIVES).map(native_id)) {
                engine.handle_input(EngineInput::Audio {
                    participant: id,
                    pcm: voice(speaker == Some(id), next_audio, pitch(id)),
                });
            }
            next_audio += 1;
        }
        while frame_time(next_video) <= t {
            let k = next_video as usize;
            for (v, dec) in vtc_decoders.iter_mut().enumerate() {
                if !vtc_shown[v] {
                    continue;
                }
                let clip = &inputs.vtc_clips[v % VTC_CLIPS];
                if let Some(frame) = dec.decode(&clip[(k + vtc_shift[v]) % CLIP_FRAMES])? {
                    run.decodes += 1;
                    engine.handle_input(EngineInput::Video {
                        participant: vtc_id(v),
                        frame: Arc::new(frame),
                    });
                }
            }
            for n in 0..NATIVES {
                for &layer in subscribed.get(&native_id(n)).into_iter().flatten() {
                    let at =
                        (k + shift.get(&(native_id(n), layer)).copied().unwrap_or(0)) % CLIP_FRAMES;
                    engine.handle_input(EngineInput::NativeVideo {
                        participant: native_id(n),
                        layer,
                        timestamp: 0,
                        access_unit: inputs.natives[n][layer][at].clone(),
                    });
                }
            }
            next_video += 1;
        }
        engine.handle_timeout(now);
        while let Some(request) = engine.poll_publisher_request() {
            if let Some(layer) = request.keyframe {
                // The next frame sent (number `next_video`) lands on the clip's next IDR.
                let k = next_video as usize;
                let s = shift.entry((request.participant, layer)).or_insert(0);
                let at = (k + *s) % CLIP_FRAMES;
                *s = (*s + (CLIP_GOP - at % CLIP_GOP) % CLIP_GOP) % CLIP_FRAMES;
            }
            subscribed.insert(request.participant, request.layers);
        }
        let mut distinct = std::collections::HashSet::new();
        for (v, feed) in feeds.iter_mut().enumerate() {
            while let Some(item) = feed.try_recv() {
                match item {
                    CallFeed::Video { frame, .. } => {
                        run.pictures_out += 1;
                        distinct.insert(Arc::as_ptr(&frame));
                        if v == 0 {
                            first_vtc_stream.push(frame);
                        }
                    }
                    CallFeed::Shown(shown) => {
                        if shown && !vtc_shown[v] {
                            // The keyframe request: the next frame sent is the clip's next IDR.
                            let at = (next_video as usize + vtc_shift[v]) % CLIP_FRAMES;
                            vtc_shift[v] = (vtc_shift[v] + (CLIP_GOP - at % CLIP_GOP) % CLIP_GOP)
                                % CLIP_FRAMES;
                            run.vtc_keyframes += 1;
                        }
                        vtc_shown[v] = shown;
                    }
                    // The bench's viewers are VTCs: no WebRTC slots, nothing forwarded. Its
                    // VTCs ignore TMMBR (`compare decode` shows what obeying it saves).
                    CallFeed::Audio(_)
                    | CallFeed::Tile(_)
                    | CallFeed::Speaker(_)
                    | CallFeed::Forward { .. }
                    | CallFeed::Slots(_)
                    | CallFeed::PublisherKeyframe(_)
                    | CallFeed::Relay(_) => {}
                }
            }
        }
        run.encodes += distinct.len() as u64;
    }
    run.cpu = cpu_now().saturating_sub(cpu_start);
    for n in 0..NATIVES {
        if let Some(stats) = engine.ingest_stats(native_id(n)) {
            run.decodes += stats.decoded;
            run.decode_errors += stats.errors;
        }
    }
    run.last_picture = decode_last(&first_vtc_stream)?;
    Ok(run)
}

/// The naive pipeline: everything decoded at 720p, one composite and one encode per VTC.
pub fn run_naive(inputs: &Inputs, vtcs: usize, media: Duration) -> anyhow::Result<PipelineRun> {
    // Natives first (join order: the ranking places who never talked in the order it meets them).
    let ids: Vec<u64> = (0..NATIVES)
        .map(native_id)
        .chain((0..vtcs).map(vtc_id))
        .collect();
    let names: HashMap<u64, String> = ids
        .iter()
        .map(|&id| {
            let name = if id > 100 {
                format!("Native {}", id - 100)
            } else {
                format!("VTC {id}")
            };
            (id, name)
        })
        .collect();
    let mut decoders = ids
        .iter()
        .map(|_| H264Decoder::new())
        .collect::<Result<Vec<_>, _>>()?;
    let mut pictures: Vec<Option<(Arc<I420Frame>, u64)>> = vec![None; ids.len()];
    let mut vads: Vec<VoiceActivityDetector> =
        ids.iter().map(|_| VoiceActivityDetector::new()).collect();
    let mut ranking = SpeakerRanking::new();
    let mut ports = (0..vtcs)
        .map(|_| -> anyhow::Result<_> {
            Ok((
                TileAssigner::new(9),
                Compositor::new(CompositorConfig::default())?,
                H264Encoder::new(EncoderConfig {
                    bitrate_bps: HD_BITRATE,
                    fps: FPS as f32,
                    ..EncoderConfig::hd720()
                })?,
                false,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let schedule = speaker_schedule(vtcs, media);
    let mut first_vtc_stream = Vec::new();
    let mut run = PipelineRun {
        cpu: Duration::ZERO,
        media,
        pictures_out: 0,
        encodes: 0,
        decodes: 0,
        decode_errors: 0,
        vtc_keyframes: 0,
        last_picture: None,
    };
    let mut frame_id = 0u64;
    let mut next_audio = 0u64;
    let audio_tick = Duration::from_millis(20);
    let frames = (media.as_secs_f64() * f64::from(FPS)).round() as u64;
    let cpu_start = cpu_now();
    for k in 0..frames {
        let t = frame_time(k);
        while audio_tick * next_audio as u32 <= t {
            let speaker = speaker_at(&schedule, audio_tick * next_audio as u32);
            let activity: Vec<_> = ids
                .iter()
                .zip(&mut vads)
                .map(|(&id, vad)| {
                    let pcm = voice(speaker == Some(id), next_audio, pitch(id));
                    (ParticipantId(id), vad.process(&pcm))
                })
                .collect();
            ranking.update(&activity);
            next_audio += 1;
        }
        let k = k as usize;
        for (i, &id) in ids.iter().enumerate() {
            let au = if id > 100 {
                &inputs.natives[(id - 101) as usize][LADDER.len() - 1][k % CLIP_FRAMES]
            } else {
                &inputs.vtc_clips[(id - 1) as usize % VTC_CLIPS][k % CLIP_FRAMES]
            };
            if let Some(frame) = decoders[i].decode(au)? {
                run.decodes += 1;
                frame_id += 1;
                pictures[i] = Some((Arc::new(frame), frame_id));
            }
        }
        let mut ranked = ranking.ranked().to_vec();
        for &id in &ids {
            if !ranked.contains(&ParticipantId(id)) {
                ranked.push(ParticipantId(id));
            }
        }
        let dominant = ranking.dominant();
        for (v, (assigner, compositor, encoder, started)) in ports.iter_mut().enumerate() {
            let tiles: Vec<Option<ParticipantId>> = assigner
                .assign(&ranked, Some(ParticipantId(vtc_id(v))))
                .to_vec();
            let kind = LayoutKind::for_count(tiles.iter().filter(|t| t.is_some()).count());
            let grid = TileGrid::new(kind, 1280, 720)?;
            let contents: Vec<Option<TileContent<'_>>> = tiles
                .iter()
                .map(|slot| {
                    let id = (*slot)?;
                    let i = ids.iter().position(|&x| x == id.0)?;
                    Some(TileContent {
                        participant: id,
                        name: &names[&id.0],
                        video: pictures[i].as_ref().map(|(frame, frame_id)| VideoSource {
                            frame,
                            frame_id: *frame_id,
                        }),
                    })
                })
                .collect();
            let highlight = dominant.filter(|d| tiles.contains(&Some(*d)));
            let canvas = compositor.compose(&grid, &contents, highlight)?;
            let encoded = encoder.encode(canvas, !*started)?;
            *started = true;
            run.encodes += 1;
            if !encoded.data.is_empty() {
                run.pictures_out += 1;
                if v == 0 {
                    first_vtc_stream.push(Arc::new(encoded));
                }
            }
        }
    }
    run.cpu = cpu_now().saturating_sub(cpu_start);
    run.last_picture = decode_last(&first_vtc_stream)?;
    Ok(run)
}

/// Decodes a VTC's whole received stream (after timing) and keeps the last picture.
fn decode_last(stream: &[Arc<EncodedFrame>]) -> anyhow::Result<Option<I420Frame>> {
    let mut dec = H264Decoder::new()?;
    let mut last = None;
    for au in stream {
        if let Some(frame) = dec
            .decode(&au.data)
            .context("decoding a VTC's layout stream")?
        {
            last = Some(frame);
        }
    }
    Ok(last)
}

/// Runs both pipelines on a meeting of `vtcs` VTCs and nine natives.
pub fn run_case(inputs: &Inputs, vtcs: usize, media: Duration) -> anyhow::Result<CaseResult> {
    let tessera = run_tessera(inputs, vtcs, media)?;
    let naive = run_naive(inputs, vtcs, media)?;
    Ok(CaseResult {
        vtcs,
        tessera,
        naive,
    })
}

/// Runs the comparison and prints its table and summary line.
pub fn run(args: &PipelineArgs) -> anyhow::Result<()> {
    let (seconds, vtcs) = if args.quick {
        (1, vec![1, 3])
    } else {
        (args.seconds.max(1), args.vtcs.clone())
    };
    anyhow::ensure!(!vtcs.is_empty(), "--vtcs needs at least one count");
    let media = Duration::from_secs(u64::from(seconds));
    eprintln!("encoding the inputs (not timed)...");
    let inputs = Inputs::encode()?;
    let mut results = Vec::new();
    for &n in &vtcs {
        anyhow::ensure!(n >= 1, "a meeting needs at least one VTC");
        eprintln!("meeting of {n} VTC(s) + {NATIVES} native, {seconds} s of media...");
        results.push(run_case(&inputs, n, media)?);
    }
    println!(
        "{:>5} {:>7} | {:>9} {:>8} {:>8} {:>6} {:>5} {:>10} | {:>9} {:>8} {:>8} {:>10} | {:>6}",
        "VTCs",
        "natives",
        "T cpu/s",
        "T enc",
        "T dec",
        "T err",
        "T kf",
        "T port/cpu",
        "N cpu/s",
        "N enc",
        "N dec",
        "N port/cpu",
        "ratio"
    );
    for r in &results {
        let (t, n) = (&r.tessera, &r.naive);
        println!(
            "{:>5} {:>7} | {:>9.3} {:>8} {:>8} {:>6} {:>5} {:>10.2} | {:>9.3} {:>8} {:>8} {:>10.2} | {:>5.2}x",
            r.vtcs,
            NATIVES,
            t.load(),
            t.encodes,
            t.decodes,
            t.decode_errors,
            t.vtc_keyframes,
            t.ports_per_core(r.vtcs),
            n.load(),
            n.encodes,
            n.decodes,
            n.ports_per_core(r.vtcs),
            n.load() / t.load().max(1e-9),
        );
    }
    println!(
        "(T = Tessera, N = naive; cpu/s = CPU seconds per second of media; enc/dec = encodes / \
         decodes run; err = native decoder failures; kf = keyframes asked of VTCs shown again; port/cpu = VTC ports per core at 30 fps; \
         the summary below is for {} VTC(s) + {NATIVES} native)",
        results[0].vtcs
    );
    let first = &results[0];
    println!(
        "pipeline: tessera {:.2} ports/core, naive {:.2} ports/core, ratio {:.2}x",
        first.tessera.ports_per_core(first.vtcs),
        first.naive.ports_per_core(first.vtcs),
        first.naive.load() / first.tessera.load().max(1e-9),
    );
    Ok(())
}
