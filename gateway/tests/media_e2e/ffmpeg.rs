//! ffmpeg as the far-end room system: a sender (x264 720p30 constrained baseline + G.711 µ-law
//! tone over RTP) and a receiver (decodes what the relay forwards, described by an SDP file),
//! plus readers for what the receiver writes: per-frame `showinfo` lines, one PPM picture per
//! second and a WAV of the audio. Every child is bounded in time and killed when dropped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Fails (never skips) when ffmpeg is missing.
pub fn require_ffmpeg() {
    let found = Command::new("ffmpeg")
        .arg("-version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`ffmpeg` is not on PATH. The media end-to-end tests use it as the far-end room system: \
         run the README's test command, `bash .ci/test.sh`, which installs it \
         (or `sudo apt-get install ffmpeg`)."
    );
}

/// A child process killed on drop, its stderr in a file.
pub struct Proc {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &str, args: &[String], log: PathBuf) -> Proc {
        let file = fs::File::create(&log).unwrap();
        let child = Command::new("ffmpeg")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("cannot run ffmpeg");
        Proc {
            name: name.to_owned(),
            child: Some(child),
            log,
        }
    }

    /// Its stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGINT (ffmpeg then finishes its outputs and exits; a receiver only notices it when the
    /// next packet arrives, so stop receivers while media still flows), waits up to `patience`,
    /// then kills. Returns whether it exited by itself.
    pub fn interrupt(&mut self, patience: Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return true;
        }
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            sleep(Duration::from_millis(50));
        }
        eprintln!(
            "{} did not exit within {patience:?} of SIGINT: killed",
            self.name
        );
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// The far-end sender: `video` (a lavfi source, e.g. `testsrc2=size=1280x720:rate=30`) as H.264
/// constrained baseline with a keyframe every second, and a `tone_hz` sine in the call's audio codec (PCMU or G.722) in 20 ms
/// packets, for `secs` seconds, to the relay's inbound ports; the video with payload type
/// `video_pt` (what the gateway's side declared).
#[allow(clippy::too_many_arguments)]
pub fn sender(
    dir: &Path,
    name: &str,
    video: &str,
    tone_hz: u32,
    video_port: u16,
    audio_port: u16,
    video_pt: u8,
    (audio_pt, audio_rtpmap): (u8, &str),
    secs: u32,
) -> Proc {
    let video_pt = video_pt.to_string();
    let audio_pt = audio_pt.to_string();
    // The encoder of the codec the call agreed: G.722 (16 kHz in, 8000 on the RTP clock by
    // RFC 3551's convention) or G.711 mu-law.
    let (audio_encoder, audio_rate) = if audio_rtpmap.starts_with("G722") {
        ("g722", "16000")
    } else {
        ("pcm_mulaw", "8000")
    };
    let tone = format!("sine=frequency={tone_hz}:sample_rate=8000:samples_per_frame=160");
    let secs = secs.to_string();
    let video_url = format!("rtp://127.0.0.1:{video_port}?pkt_size=1200");
    let audio_url = format!("rtp://127.0.0.1:{audio_port}");
    let mut args = strings(&["-hide_banner", "-nostdin", "-loglevel", "warning", "-re"]);
    args.extend(strings(&[
        "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", &tone,
    ]));
    args.extend(strings(&[
        "-map",
        "0:v",
        "-t",
        &secs,
        "-c:v",
        "libx264",
        "-profile:v",
        "baseline",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "30",
        "-b:v",
        "1500k",
        "-bsf:v",
        "h264_mp4toannexb",
        "-payload_type",
        &video_pt,
        "-f",
        "rtp",
        &video_url,
    ]));
    args.extend(strings(&[
        "-map",
        "1:a",
        "-t",
        &secs,
        "-c:a",
        audio_encoder,
        "-ar",
        audio_rate,
        "-payload_type",
        &audio_pt,
        "-f",
        "rtp",
        &audio_url,
    ]));
    Proc::spawn(
        &format!("ffmpeg sender {name}"),
        &args,
        dir.join(format!("{name}-sender.log")),
    )
}

/// The far-end receiver and where it writes.
pub struct Receiver {
    pub proc: Proc,
    dir: PathBuf,
    name: String,
}

/// What the receiver decoded.
#[derive(Debug)]
pub struct Decoded {
    /// Per decoded picture: presentation time (s) and size.
    pub frames: Vec<FrameInfo>,
    /// The last complete picture of the one-per-second snapshots (RGB).
    pub snapshot: Option<Picture>,
    /// How many snapshots were written.
    pub snapshots: usize,
    /// The audio, mono, with its sample rate.
    pub audio: Vec<i16>,
    pub audio_rate: u32,
    /// ffmpeg's stderr (for failure messages).
    pub log: String,
}

#[derive(Debug, Clone, Copy)]
pub struct FrameInfo {
    pub pts_time: f64,
    pub width: u32,
    pub height: u32,
}

/// An RGB picture.
#[derive(Debug)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Picture {
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

/// G.711 mu-law as an RTP payload type and `rtpmap`, what the SIP tests' answers carry.
pub const PCMU: (u8, &str) = (0, "PCMU/8000");
/// G.722 (what the H.245 procedures agree with the H.323 test caller).
pub const G722: (u8, &str) = (9, "G722/8000");

/// Starts ffmpeg receiving `audio` (payload type, rtpmap) on `audio_port` and H.264 (payload type `video_pt`, mode 1) on
/// `video_port`: every decoded picture is logged by `showinfo`, one picture per second is saved as
/// PPM, the audio as a mono WAV. It runs until [`Receiver::finish`].
pub fn receiver(
    dir: &Path,
    name: &str,
    audio_port: u16,
    video_port: u16,
    (audio_pt, audio_rtpmap): (u8, &str),
    video_pt: u8,
) -> Receiver {
    let sdp = format!(
        "v=0\r\n\
         o=- 0 0 IN IP4 127.0.0.1\r\n\
         s=media-e2e receiver\r\n\
         c=IN IP4 127.0.0.1\r\n\
         t=0 0\r\n\
         m=audio {audio_port} RTP/AVP {audio_pt}\r\n\
         a=rtpmap:{audio_pt} {audio_rtpmap}\r\n\
         m=video {video_port} RTP/AVP {video_pt}\r\n\
         a=rtpmap:{video_pt} H264/90000\r\n\
         a=fmtp:{video_pt} packetization-mode=1\r\n"
    );
    let sdp_path = dir.join(format!("{name}-recv.sdp"));
    fs::write(&sdp_path, sdp).unwrap();
    let snapshots = dir.join(format!("{name}-snap-%03d.ppm"));
    let wav = dir.join(format!("{name}.wav"));
    let args = strings(&[
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "info",
        "-protocol_whitelist",
        "file,udp,rtp",
        "-buffer_size",
        "4000000",
        "-i",
        sdp_path.to_str().unwrap(),
        "-map",
        "0:v",
        "-vf",
        "showinfo",
        "-f",
        "null",
        "-",
        "-map",
        "0:v",
        "-vf",
        "fps=1",
        "-f",
        "image2",
        snapshots.to_str().unwrap(),
        "-map",
        "0:a",
        "-ac",
        "1",
        // 8 kHz whatever the codec (G.722 decodes at 16 kHz), as the audio checks expect.
        "-ar",
        "8000",
        "-c:a",
        "pcm_s16le",
        wav.to_str().unwrap(),
    ]);
    Receiver {
        proc: Proc::spawn(
            &format!("ffmpeg receiver {name}"),
            &args,
            dir.join(format!("{name}-receiver.log")),
        ),
        dir: dir.to_owned(),
        name: name.to_owned(),
    }
}

impl Receiver {
    /// Waits (up to 20 s) until ffmpeg has bound every UDP port of `ports`, as `/proc/net/udp`
    /// lists them. What is sent before it has arrives nowhere: under load ffmpeg took long
    /// enough to start that the gateway's first keyframe, with the only SPS and PPS until the
    /// next one is asked for, went unheard, and the receiver decoded nothing.
    pub fn wait_until_listening(&mut self, ports: &[u16]) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let table: String = ["/proc/net/udp", "/proc/net/udp6"]
                .iter()
                .filter_map(|f| fs::read_to_string(f).ok())
                .collect();
            let bound: Vec<u16> = table
                .lines()
                .skip(1)
                .filter_map(|line| line.split_whitespace().nth(1))
                .filter_map(|local| local.rsplit_once(':'))
                .filter_map(|(_, port)| u16::from_str_radix(port, 16).ok())
                .collect();
            if ports.iter().all(|p| bound.contains(p)) {
                return;
            }
            assert!(
                self.proc.is_running() && Instant::now() < deadline,
                "{}: ffmpeg did not bind {ports:?}\n{}",
                self.name,
                self.proc.log()
            );
            sleep(Duration::from_millis(50));
        }
    }

    /// Pictures decoded so far (from the live log).
    pub fn frames_so_far(&self) -> usize {
        parse_showinfo(&self.proc.log()).len()
    }

    /// The one-per-second snapshot files written so far, oldest first.
    fn snapshot_paths(&self) -> Vec<PathBuf> {
        let mut snaps: Vec<PathBuf> = fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{}-snap-", self.name)))
            })
            .collect();
        snaps.sort();
        snaps
    }

    /// The newest complete snapshot while ffmpeg still runs (the file being written is
    /// skipped), with how many snapshots there are.
    pub fn latest_snapshot(&self) -> (Option<Picture>, usize) {
        let snaps = self.snapshot_paths();
        let picture = snaps.iter().rev().find_map(|p| read_ppm(p));
        (picture, snaps.len())
    }

    /// Stops ffmpeg (SIGINT, so the files are complete) and reads what it wrote.
    pub fn finish(mut self) -> Decoded {
        self.proc.interrupt(Duration::from_secs(20));
        let log = self.proc.log();
        let frames = parse_showinfo(&log);
        let snaps = self.snapshot_paths();
        let snapshot = snaps.iter().rev().find_map(|p| read_ppm(p));
        let (audio, audio_rate) =
            read_wav(&self.dir.join(format!("{}.wav", self.name))).unwrap_or((Vec::new(), 0));
        Decoded {
            frames,
            snapshot,
            snapshots: snaps.len(),
            audio,
            audio_rate,
            log,
        }
    }
}

impl Decoded {
    /// The last lines of ffmpeg's log.
    pub fn log_tail(&self) -> String {
        let lines: Vec<&str> = self
            .log
            .lines()
            .filter(|l| !l.contains("Parsed_showinfo"))
            .collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Pictures per second of presentation time over the frames after the first `skip` seconds.
    pub fn frame_rate(&self, skip: f64) -> Option<(f64, usize, f64)> {
        let first = self.frames.first()?.pts_time;
        let late: Vec<f64> = self
            .frames
            .iter()
            .map(|f| f.pts_time)
            .filter(|t| *t >= first + skip)
            .collect();
        let (start, end) = (*late.first()?, *late.last()?);
        let span = end - start;
        (span > 0.5).then(|| ((late.len() - 1) as f64 / span, late.len(), span))
    }
}

/// Frames from `showinfo` lines: `n:  12 pts: ... pts_time:0.4 ... s:1280x720 ...`.
pub fn parse_showinfo(log: &str) -> Vec<FrameInfo> {
    log.lines()
        .filter(|l| l.contains("Parsed_showinfo") && l.contains(" n:"))
        .filter_map(|l| {
            let pts_time = field(l, "pts_time:")?.parse().ok()?;
            let (w, h) = field(l, " s:")?.split_once('x')?;
            Some(FrameInfo {
                pts_time,
                width: w.parse().ok()?,
                height: h.parse().ok()?,
            })
        })
        .collect()
}

/// The whitespace-delimited value after `key` (values may be padded after the colon).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(key)? + key.len();
    line[at..].split_whitespace().next()
}

/// A binary PPM (P6, maxval 255), or `None` if incomplete.
pub fn read_ppm(path: &Path) -> Option<Picture> {
    let bytes = fs::read(path).ok()?;
    // Header: "P6" width height maxval, whitespace separated, then one whitespace byte.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 && i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
    }
    if fields.first().map(String::as_str) != Some("P6") || fields.get(3)? != "255" {
        return None;
    }
    let width: u32 = fields[1].parse().ok()?;
    let height: u32 = fields[2].parse().ok()?;
    let data = bytes.get(i + 1..)?;
    let len = (width * height * 3) as usize;
    (data.len() >= len).then(|| Picture {
        width,
        height,
        rgb: data[..len].to_vec(),
    })
}

/// The samples of a 16-bit PCM WAV (first channel) and its rate. Lenient about the data chunk's
/// size (an interrupted writer may leave it unset).
pub fn read_wav(path: &Path) -> Option<(Vec<i16>, u32)> {
    let bytes = fs::read(path).ok()?;
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let mut at = 12;
    let (mut rate, mut channels) = (0u32, 1usize);
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().ok()?) as usize;
        let body = at + 8;
        if id == b"fmt " {
            channels = usize::from(u16::from_le_bytes(
                bytes[body + 2..body + 4].try_into().ok()?,
            ));
            rate = u32::from_le_bytes(bytes[body + 4..body + 8].try_into().ok()?);
        } else if id == b"data" {
            let end = if size == 0 || body + size > bytes.len() {
                bytes.len()
            } else {
                body + size
            };
            let samples = bytes[body..end]
                .chunks_exact(2 * channels.max(1))
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
            return Some((samples, rate));
        }
        at = body + size + (size & 1);
    }
    None
}

/// Level in dBFS (RMS relative to full scale) of `samples`; -inf for silence.
pub fn level_db(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return f64::NEG_INFINITY;
    }
    let ms = samples.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / samples.len() as f64;
    10.0 * (ms / (32768.0f64 * 32768.0)).log10()
}

/// The share (0..1) of the signal's power at `freq` Hz: Goertzel over 100 ms blocks (all the
/// test tones have whole cycles in 100 ms), summed over blocks, against the blocks' total power.
pub fn tone_share(samples: &[i16], rate: u32, freq: f64) -> f64 {
    let block = (rate / 10) as usize;
    let (mut tone, mut total) = (0.0f64, 0.0f64);
    for chunk in samples.chunks_exact(block) {
        let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        let mut energy = 0.0;
        for &x in chunk {
            let x = f64::from(x);
            energy += x * x;
            let s = x + coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        // |X(f)|^2 * 2 / N is the energy of a sinusoid at f over the block.
        tone += 2.0 * power / block as f64;
        total += energy;
    }
    if total == 0.0 {
        0.0
    } else {
        tone / total
    }
}
