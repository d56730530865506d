//! The media a fleet VTC sends: a few seconds of 720p30 H.264, encoded once at start with the
//! mixer's openh264 encoder and replayed in a loop (so the load generator costs little), and a
//! second of PCMU audio. Each picture carries its loop index as a [`crate::stamp`] so latency can
//! be read from what other VTCs receive.
//!
//! A fleet VTC obeys TMMBR the way room systems do, by sending a smaller picture at a lower
//! rate: the clip is encoded at three sizes ([`Ladder`]) and the VTC switches between them at a
//! loop start (an IDR).
//!
//! Owns generating and encoding the clip; sending it is the fleet's.

use mixer::codec::h264::{EncoderConfig, H264Encoder};
use mixer::frame::{I420Frame, Yuv};
use mixer::layout::Rect;
use mixer::scale::TileScaler;
use rtp_session::h264_rtp::Packetizer;

use crate::stamp;

/// Frames per second of the clip.
pub const FPS: u32 = 30;
/// RTP clock of H.264.
pub const VIDEO_CLOCK: u32 = 90_000;

/// One encoded picture, cut into RTP payloads.
#[derive(Debug, Clone)]
pub struct ClipFrame {
    /// The RTP payloads, in order (marker on the last).
    pub payloads: Vec<Vec<u8>>,
    /// Annex B access unit (for the ffmpeg baseline's file).
    pub annexb: Vec<u8>,
    /// An IDR with parameter sets.
    pub keyframe: bool,
}

/// The pre-encoded loop.
#[derive(Debug, Clone)]
pub struct Clip {
    /// The pictures; the first is an IDR, so the loop restarts cleanly.
    pub frames: Vec<ClipFrame>,
    /// Whether the pictures carry stamps.
    pub stamped: bool,
    /// The picture size.
    pub size: (u32, u32),
}

impl Clip {
    /// Encodes `frames` pictures of 1280x720 at `bitrate_bps`, stamped with their index when
    /// `stamped` (the index must fit the stamp: at most 256 frames).
    pub fn encode(frames: usize, bitrate_bps: u32, stamped: bool) -> anyhow::Result<Clip> {
        Clip::encode_at(frames, bitrate_bps, stamped, stamp::SOURCE)
    }

    /// [`Clip::encode`] at `size`: the 720p pictures scaled down.
    pub fn encode_at(
        frames: usize,
        bitrate_bps: u32,
        stamped: bool,
        size: (u32, u32),
    ) -> anyhow::Result<Clip> {
        anyhow::ensure!(
            (1..=256).contains(&frames),
            "a clip has 1 to 256 frames, not {frames}"
        );
        let config = EncoderConfig {
            width: size.0,
            height: size.1,
            bitrate_bps,
            ..EncoderConfig::hd720()
        };
        let mut encoder = H264Encoder::new(config)?;
        let packetizer = Packetizer::default();
        let mut out = Vec::with_capacity(frames);
        let (w, h) = stamp::SOURCE;
        let mut scaler = (size != stamp::SOURCE)
            .then(|| TileScaler::new(w, h, size.0, size.1))
            .transpose()?;
        for i in 0..frames {
            let mut picture = picture(i, frames, stamped)?;
            if let Some(scaler) = scaler.as_mut() {
                let mut small = I420Frame::new(size.0, size.1)?;
                scaler.scale_frame(&picture, &mut small)?;
                picture = small;
            }
            let encoded = encoder.encode(&picture, i == 0)?;
            let payloads = if encoded.data.is_empty() {
                Vec::new()
            } else {
                packetizer.packetize(&encoded.data)?
            };
            out.push(ClipFrame {
                payloads,
                annexb: encoded.data,
                keyframe: encoded.keyframe,
            });
        }
        anyhow::ensure!(out[0].keyframe, "the clip's first picture is not an IDR");
        Ok(Clip {
            frames: out,
            stamped,
            size,
        })
    }

    /// The whole loop as one Annex B stream (what ffmpeg reads as `-f h264`).
    pub fn annexb(&self) -> Vec<u8> {
        self.frames
            .iter()
            .flat_map(|f| f.annexb.iter().copied())
            .collect()
    }
}

/// One clip at three sizes, as a room system sends a smaller picture when asked for less.
#[derive(Debug, Clone)]
pub struct Ladder {
    /// 1280x720 at 2 Mbit/s.
    pub full: Clip,
    /// 640x360 at 600 kbit/s and 426x240 at 250 kbit/s; `None` for a VTC that ignores TMMBR
    /// (`--vtc-ignore-tmmbr`: the fleet before issue 17 item 6, for comparison).
    pub smaller: Option<[Clip; 2]>,
}

impl Ladder {
    /// The rate below which a VTC sends [`Ladder::sd`] (the 768 kbit/s class's limit and up get
    /// 720p).
    pub const SD_BELOW_BPS: u64 = 700_000;
    /// The rate below which it sends [`Ladder::ld`] (the 192 kbit/s class's limit).
    pub const LD_BELOW_BPS: u64 = 300_000;

    /// Encodes the clips of `frames` pictures (the smaller ones only when `obeys_tmmbr`).
    pub fn encode(frames: usize, stamped: bool, obeys_tmmbr: bool) -> anyhow::Result<Ladder> {
        let smaller = obeys_tmmbr
            .then(|| -> anyhow::Result<[Clip; 2]> {
                Ok([
                    Clip::encode_at(frames, 600_000, stamped, (640, 360))?,
                    Clip::encode_at(frames, 250_000, stamped, (426, 240))?,
                ])
            })
            .transpose()?;
        Ok(Ladder {
            full: Clip::encode(frames, 2_000_000, stamped)?,
            smaller,
        })
    }

    /// The clip to send under a TMMBR limit of `limit_bps` (`None`: no limit).
    pub fn for_limit(&self, limit_bps: Option<u64>) -> &Clip {
        match (&self.smaller, limit_bps) {
            (Some([_, ld]), Some(bps)) if bps < Self::LD_BELOW_BPS => ld,
            (Some([sd, _]), Some(bps)) if bps < Self::SD_BELOW_BPS => sd,
            _ => &self.full,
        }
    }
}

/// Picture `i` of `n`: a slowly shifting background, a bar sweeping across and a block moving
/// down (motion for the encoder), and the stamp (or an unstamped grey band in its place).
fn picture(i: usize, n: usize, stamped: bool) -> anyhow::Result<I420Frame> {
    let (w, h) = stamp::SOURCE;
    let phase = i as f32 / n as f32;
    let shade = (40.0 + 60.0 * phase) as u8;
    let mut frame = I420Frame::solid(w, h, Yuv::from_rgb(shade, 120, 200 - shade))?;
    let bar_x = ((phase * (w - 80) as f32) as u32) & !1;
    frame.fill_rect(
        Rect {
            x: bar_x,
            y: 200,
            width: 80,
            height: h - 200,
        },
        Yuv::from_rgb(240, 220, 60),
    )?;
    let block_y = (200 + ((phase * (h - 300) as f32) as u32)) & !1;
    frame.fill_rect(
        Rect {
            x: 900,
            y: block_y,
            width: 100,
            height: 100,
        },
        Yuv::from_rgb(20, 20, 20),
    )?;
    if stamped {
        stamp::draw(&mut frame, i as u8)?;
    } else {
        frame.fill_rect(
            Rect {
                x: stamp::ORIGIN.0,
                y: stamp::ORIGIN.1,
                width: stamp::BLOCK * stamp::BLOCKS,
                height: stamp::BLOCK,
            },
            Yuv::from_rgb(128, 128, 128),
        )?;
    }
    Ok(frame)
}

/// 50 packets (one second) of 20 ms PCMU: a 220 Hz buzz with a syllable-rate envelope, loud
/// enough that the gateway counts the VTC as talking.
pub fn pcmu_second() -> Vec<Vec<u8>> {
    let rate = 8_000.0f32;
    (0..50)
        .map(|p| {
            let samples: Vec<i16> = (0..160)
                .map(|s| {
                    let t = (p * 160 + s) as f32 / rate;
                    let envelope = 0.6 + 0.4 * (std::f32::consts::TAU * 4.0 * t).sin();
                    let x = std::f32::consts::TAU * 220.0 * t;
                    ((x.sin() + 0.4 * (2.0 * x).sin()) * envelope * 6_000.0) as i16
                })
                .collect();
            let mut out = Vec::with_capacity(160);
            mixer::codec::g711::encode_ulaw(&samples, &mut out);
            out
        })
        .collect()
}

/// 50 packets (one second) of PCMU silence: a receive-only watcher's audio keeps its call alive
/// without making it a talker.
pub fn pcmu_silence() -> Vec<Vec<u8>> {
    vec![vec![0xFF; 160]; 50]
}

#[cfg(test)]
mod tests {
    use super::*;
    use mixer::codec::h264::H264Decoder;

    #[test]
    fn a_stamped_clip_decodes_and_reads_back_its_indices() {
        let clip = Clip::encode(6, 2_000_000, true).unwrap();
        assert!(clip.frames[0].keyframe);
        let mut decoder = H264Decoder::new().unwrap();
        let mut read = Vec::new();
        for frame in &clip.frames {
            if let Some(picture) = decoder.decode(&frame.annexb).unwrap() {
                read.push(stamp::find(&picture));
            }
        }
        assert_eq!(read, (0..6u8).map(Some).collect::<Vec<_>>());
        assert!(clip
            .frames
            .iter()
            .all(|f| f.payloads.iter().all(|p| p.len() <= 1200)));
    }

    #[test]
    fn the_ladder_gives_smaller_pictures_under_lower_limits() {
        let ladder = Ladder::encode(2, false, true).unwrap();
        let size = |clip: &Clip| {
            let picture = H264Decoder::new()
                .unwrap()
                .decode(&clip.frames[0].annexb)
                .unwrap()
                .unwrap();
            (picture.width(), picture.height())
        };
        assert_eq!(size(ladder.for_limit(None)), (1280, 720));
        assert_eq!(size(ladder.for_limit(Some(1_500_000))), (1280, 720));
        assert_eq!(size(ladder.for_limit(Some(384_000))), (640, 360));
        assert_eq!(size(ladder.for_limit(Some(192_000))), (426, 240));
        let deaf = Ladder::encode(1, false, false).unwrap();
        assert_eq!(size(deaf.for_limit(Some(192_000))), (1280, 720));
    }

    #[test]
    fn an_unstamped_clip_has_no_stamp() {
        let clip = Clip::encode(1, 2_000_000, false).unwrap();
        let picture = H264Decoder::new()
            .unwrap()
            .decode(&clip.frames[0].annexb)
            .unwrap()
            .unwrap();
        assert_eq!(stamp::find(&picture), None);
        assert_eq!(pcmu_second().len(), 50);
    }
}
