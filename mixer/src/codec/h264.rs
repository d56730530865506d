//! H.264 encode and decode with openh264 (the bundled C source), between [`I420Frame`]s and
//! Annex B access units.
//!
//! Owns encoder settings, keyframe and bit-rate control, parameter-set bookkeeping and the
//! copy of decoded pictures into owned frames. It must not packetise (RFC 6184 is the
//! gateway's), choose bit rates or resolutions (the gateway follows SDP and RTCP), or read a
//! clock: the encoder derives its timestamps from the frame count and the configured rate.
//!
//! # What openh264 gives us, and what we set
//! - **Profile**: openh264 encodes **Constrained Baseline** only (CAVLC, no B-frames); that is
//!   [`H264Profile::ConstrainedBaseline`], and every High-profile VTC decodes it. Decoding
//!   accepts Constrained Baseline, Main and High streams (progressive; no interlace).
//! - **Rate control**: bit-rate mode ([`EncoderConfig::bitrate_bps`], changeable with
//!   [`H264Encoder::set_bitrate`] without a keyframe) with **frame skipping on**: when a frame
//!   would overshoot the budget the encoder skips it and [`EncodedFrame::data`] is empty
//!   (send nothing; the next frame's RTP timestamp still advances).
//! - **Talking-head tuning**: camera real-time usage; *background detection* on (static
//!   backgrounds of a composited meeting cost almost nothing), *adaptive quantisation* on
//!   (spends bits on faces and edges rather than flat walls), *scene-change detection* on (a
//!   layout change codes as intra instead of a huge P-frame), denoising off (the input is
//!   already decoded, clean video and the filter costs CPU), long-term references off, no
//!   periodic IDR (the gateway asks for keyframes: PLI/FIR, call start), one thread per
//!   encoder (the gateway runs encoders in parallel), *low* complexity mode (measured with
//!   `examples/codec_speed.rs`, low and medium interleaved on a loaded machine: 720p encode
//!   about 35 % faster on the synthetic talking head and about 10 % on a panning detailed
//!   scene, at the same bit rate; picture quality was not compared).
//! - **Parameter sets**: SPS and PPS precede every IDR in the same access unit (openh264 emits
//!   them; [`H264Encoder::encode`] also re-inserts the last ones if an IDR ever arrives
//!   without them), so a receiver can join at any keyframe.
//! - **Slices**: [`EncoderConfig::max_nal_bytes`] turns on size-limited slices so that every
//!   NAL fits one RTP packet (packetisation mode 0); without it, one slice per picture.
//! - **Resolution**: fixed per encoder. To change it, make a new [`H264Encoder`] (its first
//!   frame is an IDR with fresh parameter sets).
//! - **Temporal layers** ([`EncoderConfig::temporal_layers`]): the Rust crate's safe API
//!   hard-codes one temporal layer, so after openh264 has started (first frame) the encoder is
//!   re-parameterised through the raw `SetOption(ENCODER_OPTION_SVC_ENCODE_PARAM_EXT)` with
//!   dyadic temporal layers and SVC prefix NALs, which carry each picture's `temporal_id`
//!   ([`crate::simulcast::temporal_id`] reads it; plain AVC decoders ignore them). openh264
//!   restarts with an IDR. Spatial layers (simulcast) are several encoders.

use openh264::encoder::{
    BitRate, Complexity, Encoder, FrameRate, IntraFramePeriod, Profile, RateControlMode,
    SpsPpsStrategy, UsageType,
};
use openh264::formats::YUVSource;
use openh264::{OpenH264API, Timestamp};

use crate::frame::pool::PicturePool;
use crate::frame::{chroma_size, FrameError, I420Frame, PlaneKind};

/// Smallest width or height the encoder accepts (one macroblock).
pub const MIN_ENCODE_DIMENSION: u32 = 16;
/// openh264's limit: 3840 on the long side, 2160 on the short side.
pub const MAX_ENCODE_LONG_SIDE: u32 = 3840;
/// openh264's limit on the short side.
pub const MAX_ENCODE_SHORT_SIDE: u32 = 2160;
/// Smallest `max_nal_bytes` accepted: below this the per-slice overhead dominates and
/// openh264 cannot honour the limit.
pub const MIN_NAL_BYTES: usize = 200;

/// The Annex B start code put before every NAL unit the encoder returns.
pub const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// NAL unit type of a coded slice of an IDR picture.
pub const NAL_IDR: u8 = 5;
/// NAL unit type of a coded slice of a non-IDR picture.
pub const NAL_SLICE: u8 = 1;
/// NAL unit type of a sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// NAL unit type of a picture parameter set.
pub const NAL_PPS: u8 = 8;

/// Why an H.264 encoder or decoder call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodecError {
    /// The encoder settings are unusable.
    #[error("invalid H.264 encoder config: {0}")]
    InvalidConfig(&'static str),
    /// A frame of another size than the encoder was made for (make a new encoder instead).
    #[error("frame is {got_width}x{got_height}, the encoder was made for {width}x{height}")]
    FrameSizeMismatch {
        /// Configured width.
        width: u32,
        /// Configured height.
        height: u32,
        /// The frame's width.
        got_width: u32,
        /// The frame's height.
        got_height: u32,
    },
    /// openh264's encoder returned an error code (`CM_RETURN` in its API).
    #[error("openh264 encoder failed with code {0}")]
    Encoder(i64),
    /// openh264's decoder reported a broken stream: a `DECODING_STATE` bit set (2: reference
    /// lost, 4: bitstream error, 8: dependent layer lost, 16: no parameter sets, ...). Wait for
    /// a keyframe (and ask for one).
    #[error("openh264 decoder failed with state {0:#x}")]
    Decoder(i64),
    /// The decoder returned a picture whose planes do not hold its size (odd cropping).
    #[error("decoded picture unusable: {0}")]
    Picture(#[from] FrameError),
    /// The decoder returned a picture whose planes are shorter than its size says.
    #[error("decoded {width}x{height} picture has truncated planes")]
    TruncatedPicture {
        /// Picture width.
        width: usize,
        /// Picture height.
        height: usize,
    },
}

/// The H.264 profile the encoder produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum H264Profile {
    /// Constrained Baseline (`profile_idc` 66 with `constraint_set1_flag`; SDP
    /// `profile-level-id=42e0xx` / `42c0xx`): the only profile openh264 encodes.
    #[default]
    ConstrainedBaseline,
}

/// Settings of an [`H264Encoder`].
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderConfig {
    /// Picture width in pixels: even, [`MIN_ENCODE_DIMENSION`] or more.
    pub width: u32,
    /// Picture height in pixels: even, [`MIN_ENCODE_DIMENSION`] or more.
    pub height: u32,
    /// Frames per second the caller will feed (drives rate control and timestamps).
    pub fps: f32,
    /// Target bit rate in bits per second (at least `fps`).
    pub bitrate_bps: u32,
    /// Profile to produce.
    pub profile: H264Profile,
    /// Largest NAL unit, in bytes, if NALs must fit one RTP packet (packetisation mode 0, or
    /// to avoid FU-A); `None` codes one slice per picture.
    pub max_nal_bytes: Option<usize>,
    /// Dyadic temporal layers (1 = none, at most 4): layer `k` and below run at
    /// `fps / 2^(layers-1-k)`, so a receiver can drop the top layers to halve the rate.
    pub temporal_layers: u8,
}

impl EncoderConfig {
    /// 1280x720 at 30 fps, 1.5 Mbit/s, no NAL size limit: the gateway's default towards a VTC.
    pub fn hd720() -> Self {
        EncoderConfig {
            width: 1280,
            height: 720,
            fps: 30.0,
            bitrate_bps: 1_500_000,
            profile: H264Profile::ConstrainedBaseline,
            max_nal_bytes: None,
            temporal_layers: 1,
        }
    }

    fn validate(&self) -> Result<(), CodecError> {
        let (w, h) = (self.width, self.height);
        if w < MIN_ENCODE_DIMENSION || h < MIN_ENCODE_DIMENSION {
            return Err(CodecError::InvalidConfig("width or height below 16"));
        }
        if w % 2 != 0 || h % 2 != 0 {
            return Err(CodecError::InvalidConfig("width and height must be even"));
        }
        if w.max(h) > MAX_ENCODE_LONG_SIDE || w.min(h) > MAX_ENCODE_SHORT_SIDE {
            return Err(CodecError::InvalidConfig("larger than 3840x2160"));
        }
        if !(self.fps.is_finite() && self.fps >= 1.0 && self.fps <= 120.0) {
            return Err(CodecError::InvalidConfig("fps must be between 1 and 120"));
        }
        check_bitrate(self.bitrate_bps, self.fps)?;
        if !(1..=4).contains(&self.temporal_layers) {
            return Err(CodecError::InvalidConfig("temporal_layers must be 1 to 4"));
        }
        if let Some(max) = self.max_nal_bytes {
            if max < MIN_NAL_BYTES || u32::try_from(max).is_err() {
                return Err(CodecError::InvalidConfig("max_nal_bytes below 200"));
            }
        }
        Ok(())
    }

    fn to_openh264(&self) -> openh264::encoder::EncoderConfig {
        let profile = match self.profile {
            H264Profile::ConstrainedBaseline => Profile::Baseline,
        };
        let config = openh264::encoder::EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .profile(profile)
            .bitrate(BitRate::from_bps(self.bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(self.fps))
            .rate_control_mode(RateControlMode::Bitrate)
            .skip_frames(true)
            .complexity(Complexity::Low)
            .background_detection(true)
            .adaptive_quantization(true)
            .scene_change_detect(true)
            .long_term_reference(false)
            .intra_frame_period(IntraFramePeriod::auto())
            .sps_pps_strategy(SpsPpsStrategy::ConstantId)
            .num_threads(1);
        match self.max_nal_bytes {
            // Validated to fit in u32.
            Some(max) => config.max_slice_len(max as u32),
            None => config,
        }
    }
}

fn check_bitrate(bps: u32, fps: f32) -> Result<(), CodecError> {
    // openh264 rejects a rate below one bit per frame; anything above i32 does not fit its API.
    if (bps as f32) < fps || i32::try_from(bps).is_err() {
        return Err(CodecError::InvalidConfig(
            "bitrate_bps must be at least fps and below 2^31",
        ));
    }
    Ok(())
}

/// One encoded picture.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncodedFrame {
    /// The access unit in Annex B form: every NAL unit preceded by a 4-byte start code
    /// ([`START_CODE`]). Empty when the encoder skipped the frame to hold the bit rate.
    pub data: Vec<u8>,
    /// The access unit holds an IDR picture (preceded by SPS and PPS).
    pub keyframe: bool,
}

impl EncodedFrame {
    /// The NAL units of [`EncodedFrame::data`], without start codes.
    pub fn nal_units(&self) -> impl Iterator<Item = &[u8]> {
        nal_units(&self.data)
    }

    /// The size of its largest NAL unit (0 for a skipped frame): what must fit one RTP packet
    /// in packetization-mode 0.
    pub fn largest_nal(&self) -> usize {
        self.nal_units().map(<[u8]>::len).max().unwrap_or(0)
    }
}

/// Encodes I420 frames of one size to H.264 Constrained Baseline with openh264.
pub struct H264Encoder {
    encoder: Encoder,
    config: EncoderConfig,
    /// Frames given to openh264 so far (openh264 initialises itself on the first one).
    frames: u64,
    keyframe_requested: bool,
    /// The latest SPS and PPS, each with its start code, for the IDR guard.
    sps: Vec<u8>,
    pps: Vec<u8>,
    /// Reused between calls to hold a padded copy of a frame whose planes are short.
    padded: Vec<u8>,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder")
            .field("config", &self.config)
            .field("frames", &self.frames)
            .field("keyframe_requested", &self.keyframe_requested)
            .finish_non_exhaustive()
    }
}

impl H264Encoder {
    /// An encoder for `config` (validated here; openh264 itself starts on the first frame,
    /// which is always an IDR).
    pub fn new(config: EncoderConfig) -> Result<Self, CodecError> {
        config.validate()?;
        Ok(H264Encoder {
            encoder: make_encoder(&config)?,
            config,
            frames: 0,
            keyframe_requested: false,
            sps: Vec::new(),
            pps: Vec::new(),
            padded: Vec::new(),
        })
    }

    /// The current settings (with the latest bit rate).
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Makes the next encoded frame an IDR (e.g. on RTCP PLI or FIR). Stays pending across
    /// skipped frames until an IDR is actually produced.
    pub fn request_keyframe(&mut self) {
        self.keyframe_requested = true;
    }

    /// Changes the target bit rate (TMMBR, REMB, `b=TIAS`) from the next frame on, without a
    /// keyframe.
    pub fn set_bitrate(&mut self, bps: u32) -> Result<(), CodecError> {
        check_bitrate(bps, self.config.fps)?;
        let old = self.config.bitrate_bps;
        self.config.bitrate_bps = bps;
        if self.frames == 0 {
            // openh264 has not started yet: a fresh encoder with the new rate costs nothing.
            self.encoder = make_encoder(&self.config)?;
            return Ok(());
        }
        apply_bitrate(&mut self.encoder, old, bps)
    }

    /// Encodes `frame` (of the configured size). `force_keyframe` (or an earlier
    /// [`request_keyframe`](Self::request_keyframe)) makes it an IDR with SPS and PPS in
    /// front. An empty [`EncodedFrame::data`] means rate control skipped the frame.
    pub fn encode(
        &mut self,
        frame: &I420Frame,
        force_keyframe: bool,
    ) -> Result<EncodedFrame, CodecError> {
        if (frame.width(), frame.height()) != (self.config.width, self.config.height) {
            return Err(CodecError::FrameSizeMismatch {
                width: self.config.width,
                height: self.config.height,
                got_width: frame.width(),
                got_height: frame.height(),
            });
        }
        let want_idr = force_keyframe || self.keyframe_requested;
        if want_idr && self.frames > 0 {
            self.encoder.force_intra_frame();
        }
        // Milliseconds from the frame count: openh264's rate control only needs them to
        // advance steadily, and mixer never reads a clock.
        let timestamp = Timestamp::from_millis(
            (self.frames as f64 * 1000.0 / f64::from(self.config.fps)) as u64,
        );
        self.frames += 1;

        let source = FrameSource::new(frame, &mut self.padded);
        let stream = self
            .encoder
            .encode_at(&source, timestamp)
            .map_err(|e| CodecError::Encoder(e.native_code()))?;

        let mut out = EncodedFrame::default();
        let (mut have_sps, mut have_pps) = (false, false);
        for l in 0..stream.num_layers() {
            let Some(layer) = stream.layer(l) else {
                continue;
            };
            for n in 0..layer.nal_count() {
                let Some(unit) = layer.nal_unit(n) else {
                    continue;
                };
                // openh264 writes its own start codes; normalise to exactly four bytes.
                for nal in nal_units(unit) {
                    match nal_unit_type(nal) {
                        Some(NAL_SPS) => {
                            have_sps = true;
                            self.sps.clear();
                            push_nal(&mut self.sps, nal);
                        }
                        Some(NAL_PPS) => {
                            have_pps = true;
                            self.pps.clear();
                            push_nal(&mut self.pps, nal);
                        }
                        Some(NAL_IDR) if !out.keyframe => {
                            out.keyframe = true;
                            if !have_sps {
                                out.data.extend_from_slice(&self.sps);
                            }
                            if !have_pps {
                                out.data.extend_from_slice(&self.pps);
                            }
                        }
                        _ => {}
                    }
                    push_nal(&mut out.data, nal);
                }
            }
        }
        if self.frames == 1 && self.config.temporal_layers > 1 {
            // openh264 is running now: switch it to temporal layers (it restarts with an IDR).
            apply_temporal_layers(&mut self.encoder, self.config.temporal_layers)?;
        }
        if out.keyframe {
            self.keyframe_requested = false;
        } else if want_idr {
            // Skipped (or, unexpectedly, not an IDR): keep asking.
            self.keyframe_requested = true;
        }
        Ok(out)
    }
}

fn make_encoder(config: &EncoderConfig) -> Result<Encoder, CodecError> {
    Encoder::with_api_config(OpenH264API::from_source(), config.to_openh264())
        .map_err(|e| CodecError::Encoder(e.native_code()))
}

/// Sets a running encoder's target and maximum bit rate through openh264's `SetOption`, the
/// one setting the crate's safe API cannot change after start.
#[allow(unsafe_code)]
fn apply_bitrate(encoder: &mut Encoder, old: u32, new: u32) -> Result<(), CodecError> {
    use openh264_sys2::{
        SBitrateInfo, ENCODER_OPTION, ENCODER_OPTION_BITRATE, ENCODER_OPTION_MAX_BITRATE,
        SPATIAL_LAYER_0, SPATIAL_LAYER_ALL,
    };
    let set = |encoder: &mut Encoder, option: ENCODER_OPTION, layer, bps: u32| {
        let mut info = SBitrateInfo {
            iLayer: layer,
            // check_bitrate keeps it below 2^31.
            iBitrate: i32::try_from(bps).unwrap_or(i32::MAX),
        };
        // SAFETY: the encoder was initialised by its first encode (callers check), so the
        // vtable and context behind `raw_api` are live; ENCODER_OPTION_BITRATE and
        // ENCODER_OPTION_MAX_BITRATE read exactly one `SBitrateInfo` through the pointer,
        // which points at a live, properly aligned local for the duration of the call, and
        // openh264 keeps no reference to it. Neither option changes a parameter the safe
        // wrapper caches (it only tracks the picture size).
        let code = unsafe { encoder.raw_api().set_option(option, (&raw mut info).cast()) };
        if code == 0 {
            Ok(())
        } else {
            Err(CodecError::Encoder(i64::from(code)))
        }
    };
    // openh264 rejects a target above the layer's maximum (the crate sets max = target), so
    // raise the maximum first when going up, and lower it last when going down.
    if new > old {
        set(encoder, ENCODER_OPTION_MAX_BITRATE, SPATIAL_LAYER_0, new)?;
        set(encoder, ENCODER_OPTION_BITRATE, SPATIAL_LAYER_ALL, new)
    } else {
        set(encoder, ENCODER_OPTION_BITRATE, SPATIAL_LAYER_ALL, new)?;
        set(encoder, ENCODER_OPTION_MAX_BITRATE, SPATIAL_LAYER_0, new)
    }
}

/// Re-parameterises a running encoder to `layers` dyadic temporal layers with SVC prefix NALs.
#[allow(unsafe_code)]
fn apply_temporal_layers(encoder: &mut Encoder, layers: u8) -> Result<(), CodecError> {
    use openh264_sys2::{SEncParamExt, ENCODER_OPTION_SVC_ENCODE_PARAM_EXT};
    let mut params = SEncParamExt::default();
    // SAFETY: the encoder was initialised by its first encode (the caller checks), so the vtable
    // and context behind `raw_api` are live. GET/SET of ENCODER_OPTION_SVC_ENCODE_PARAM_EXT
    // copy exactly one `SEncParamExt` from/to the pointer, which points at a live, aligned local
    // for the duration of each call; openh264 keeps no reference to it. The picture size, the
    // one parameter the safe wrapper caches, is left as read.
    let code = unsafe {
        let api = encoder.raw_api();
        let got = api.get_option(
            ENCODER_OPTION_SVC_ENCODE_PARAM_EXT,
            (&raw mut params).cast(),
        );
        if got != 0 {
            got
        } else {
            params.iTemporalLayerNum = i32::from(layers);
            params.bPrefixNalAddingCtrl = true;
            api.set_option(
                ENCODER_OPTION_SVC_ENCODE_PARAM_EXT,
                (&raw mut params).cast(),
            )
        }
    };
    if code == 0 {
        Ok(())
    } else {
        Err(CodecError::Encoder(i64::from(code)))
    }
}

/// An [`I420Frame`] seen through openh264's `YUVSource`: full planes at their strides.
struct FrameSource<'a> {
    width: usize,
    height: usize,
    strides: [usize; 3],
    planes: [&'a [u8]; 3],
}

impl<'a> FrameSource<'a> {
    /// openh264 reads `rows * stride` bytes per plane; a frame whose last row is short (legal
    /// for [`I420Frame::from_planes`]) is copied into `scratch` first.
    fn new(frame: &'a I420Frame, scratch: &'a mut Vec<u8>) -> Self {
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        let (cw, ch) = chroma_size(frame.width(), frame.height());
        let rows = [h, ch as usize, ch as usize];
        let full = PlaneKind::ALL
            .iter()
            .zip(rows)
            .all(|(&p, r)| frame.plane(p).data().len() >= r * frame.plane(p).stride());
        if full {
            let planes = PlaneKind::ALL.map(|p| frame.plane(p).data());
            return FrameSource {
                width: w,
                height: h,
                strides: frame.strides(),
                planes,
            };
        }
        // Tight copy: Y then U then V.
        scratch.clear();
        for (p, r) in PlaneKind::ALL.into_iter().zip(rows) {
            let plane = frame.plane(p);
            for y in 0..r {
                scratch.extend_from_slice(plane.row(y));
            }
        }
        let cw = cw as usize;
        let (y, rest) = scratch.split_at(w * h);
        let (u, v) = rest.split_at(cw * rows[1]);
        FrameSource {
            width: w,
            height: h,
            strides: [w, cw, cw],
            planes: [y, u, v],
        }
    }
}

impl YUVSource for FrameSource<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn strides(&self) -> (usize, usize, usize) {
        (self.strides[0], self.strides[1], self.strides[2])
    }

    fn y(&self) -> &[u8] {
        self.planes[0]
    }

    fn u(&self) -> &[u8] {
        self.planes[1]
    }

    fn v(&self) -> &[u8] {
        self.planes[2]
    }
}

/// Decodes H.264 access units to I420 frames with openh264.
pub struct H264Decoder {
    decoder: openh264::decoder::Decoder,
}

impl std::fmt::Debug for H264Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Decoder").finish_non_exhaustive()
    }
}

impl H264Decoder {
    /// A decoder (openh264 without error concealment: a broken picture is an error, not a
    /// smeared frame).
    pub fn new() -> Result<Self, CodecError> {
        let decoder =
            openh264::decoder::Decoder::new().map_err(|e| CodecError::Decoder(e.native_code()))?;
        Ok(H264Decoder { decoder })
    }

    /// Decodes one access unit (Annex B, any start-code length; parameter sets may come in
    /// their own call). `Ok(None)` means no picture yet (parameter sets only, or the decoder
    /// needs more data). An error means the stream is broken from here: keep feeding, but
    /// show nothing new until the next keyframe (and request one). Never panics on garbage.
    pub fn decode(&mut self, annexb_access_unit: &[u8]) -> Result<Option<I420Frame>, CodecError> {
        if annexb_access_unit.is_empty() {
            return Ok(None);
        }
        let picture = match self.decoder.decode(annexb_access_unit) {
            Ok(Some(picture)) => picture,
            Ok(None) => return Ok(None),
            Err(e) => return Err(CodecError::Decoder(e.native_code())),
        };
        let (w, h) = picture.dimensions();
        let (sy, su, sv) = picture.strides();
        let width = u32::try_from(w).map_err(|_| CodecError::TruncatedPicture {
            width: w,
            height: h,
        })?;
        let height = u32::try_from(h).map_err(|_| CodecError::TruncatedPicture {
            width: w,
            height: h,
        })?;
        let (cw, ch) = chroma_size(width, height);
        let (cw, ch) = (cw as usize, ch as usize);
        // Into recycled buffers: the picture is dropped on another thread (the engine's), and
        // fresh 1.4 MB allocations freed there fragmented glibc's arenas.
        let pool = PicturePool::global();
        let copy = |src: &[u8], stride: usize, pw: usize, ph: usize| {
            let mut dst = pool.take(pw * ph);
            for row in 0..ph {
                let start = row * stride;
                dst.extend_from_slice(src.get(start..start + pw)?);
            }
            Some(dst)
        };
        let truncated = CodecError::TruncatedPicture {
            width: w,
            height: h,
        };
        let y = copy(picture.y(), sy, w, h).ok_or(truncated.clone())?;
        let u = copy(picture.u(), su, cw, ch).ok_or(truncated.clone())?;
        let v = copy(picture.v(), sv, cw, ch).ok_or(truncated)?;
        Ok(Some(I420Frame::from_planes(
            width,
            height,
            y,
            u,
            v,
            [w, cw, cw],
        )?))
    }
}

/// The NAL units of an Annex B byte stream (3- or 4-byte start codes), without their start
/// codes or trailing zero bytes. Bytes before the first start code are ignored.
pub fn nal_units(annexb: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = match find_start_code(annexb) {
        Some((_, after)) => &annexb[after..],
        None => &annexb[annexb.len()..],
    };
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (nal, next) = match find_start_code(rest) {
            Some((at, after)) => (&rest[..at], &rest[after..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let end = nal.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        Some(&nal[..end])
    })
    .filter(|nal| !nal.is_empty())
}

/// Position of the first `00 00 01` in `data` and the index just after it.
fn find_start_code(data: &[u8]) -> Option<(usize, usize)> {
    data.windows(3)
        .position(|w| w == [0, 0, 1])
        .map(|at| (at, at + 3))
}

/// The `nal_unit_type` (low 5 bits of the first byte) of a NAL unit without start code.
pub fn nal_unit_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| b & 0x1F)
}

fn push_nal(out: &mut Vec<u8>, nal: &[u8]) {
    out.extend_from_slice(&START_CODE);
    out.extend_from_slice(nal);
}

#[cfg(test)]
mod tests;
