//! H.264 SDP parameters (RFC 6184 §8.1): `profile-level-id`, packetization mode, the `max-*`
//! receiver limits, and the level answer rule (§8.2.2).
//!
//! Profile recognition follows the pattern table of libwebrtc's `h264_profile_level_id.cc`
//! (profile_idc plus a constraint-flag bit pattern), level 1b is read from level_idc 11 with
//! constraint_set3 (Baseline/Main/Extended) or level_idc 9 (High and up), and the per-level limits
//! are H.264 Table A-1. Nothing here knows about m-lines; [`SdpSession`](super::SdpSession) does.

use std::fmt;

use super::SdpError;

/// An H.264 profile, as far as a gateway needs to tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum H264Profile {
    /// Constrained Baseline (the WebRTC and most-common VTC profile).
    ConstrainedBaseline,
    /// Baseline (adds FMO/ASO/redundant slices, which no VTC actually uses).
    Baseline,
    /// Main.
    Main,
    /// Constrained High (High without B-frames; Cisco and Poly use it).
    ConstrainedHigh,
    /// High.
    High,
    /// Predictive High 4:4:4.
    PredictiveHigh444,
}

impl H264Profile {
    /// The canonical first four hex digits (profile_idc, profile-iop) libwebrtc writes.
    fn canonical(self) -> (u8, u8) {
        match self {
            H264Profile::ConstrainedBaseline => (0x42, 0xe0),
            H264Profile::Baseline => (0x42, 0x00),
            H264Profile::Main => (0x4d, 0x00),
            H264Profile::ConstrainedHigh => (0x64, 0x0c),
            H264Profile::High => (0x64, 0x00),
            H264Profile::PredictiveHigh444 => (0xf4, 0x00),
        }
    }

    /// The profile's name as people say it.
    pub fn name(self) -> &'static str {
        match self {
            H264Profile::ConstrainedBaseline => "Constrained Baseline",
            H264Profile::Baseline => "Baseline",
            H264Profile::Main => "Main",
            H264Profile::ConstrainedHigh => "Constrained High",
            H264Profile::High => "High",
            H264Profile::PredictiveHigh444 => "Predictive High 4:4:4",
        }
    }
}

/// An H.264 level. Ordered: `L1 < L1b < L1_1 < ... < L6_2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)] // The variant names are the level numbers.
pub enum H264Level {
    L1,
    L1b,
    L1_1,
    L1_2,
    L1_3,
    L2,
    L2_1,
    L2_2,
    L3,
    L3_1,
    L3_2,
    L4,
    L4_1,
    L4_2,
    L5,
    L5_1,
    L5_2,
    L6,
    L6_1,
    L6_2,
}

/// The limits one level puts on a stream (H.264 Table A-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelLimits {
    /// MaxMBPS: macroblocks per second.
    pub max_mbps: u32,
    /// MaxFS: macroblocks per frame.
    pub max_fs: u32,
    /// MaxBR for Baseline/Main, in kbit/s (High allows 1.25 times this).
    pub max_br_kbps: u32,
}

impl H264Level {
    /// level_idc for every level but 1b (which depends on the profile).
    fn idc(self) -> u8 {
        use H264Level::*;
        match self {
            L1 => 10,
            L1b => 11,
            L1_1 => 11,
            L1_2 => 12,
            L1_3 => 13,
            L2 => 20,
            L2_1 => 21,
            L2_2 => 22,
            L3 => 30,
            L3_1 => 31,
            L3_2 => 32,
            L4 => 40,
            L4_1 => 41,
            L4_2 => 42,
            L5 => 50,
            L5_1 => 51,
            L5_2 => 52,
            L6 => 60,
            L6_1 => 61,
            L6_2 => 62,
        }
    }

    fn from_idc(idc: u8) -> Option<Self> {
        use H264Level::*;
        Some(match idc {
            10 => L1,
            11 => L1_1,
            12 => L1_2,
            13 => L1_3,
            20 => L2,
            21 => L2_1,
            22 => L2_2,
            30 => L3,
            31 => L3_1,
            32 => L3_2,
            40 => L4,
            41 => L4_1,
            42 => L4_2,
            50 => L5,
            51 => L5_1,
            52 => L5_2,
            60 => L6,
            61 => L6_1,
            62 => L6_2,
            _ => return None,
        })
    }

    /// The Table A-1 limits of this level.
    pub fn limits(self) -> LevelLimits {
        use H264Level::*;
        let (max_mbps, max_fs, max_br_kbps) = match self {
            L1 => (1_485, 99, 64),
            L1b => (1_485, 99, 128),
            L1_1 => (3_000, 396, 192),
            L1_2 => (6_000, 396, 384),
            L1_3 => (11_880, 396, 768),
            L2 => (11_880, 396, 2_000),
            L2_1 => (19_800, 792, 4_000),
            L2_2 => (20_250, 1_620, 4_000),
            L3 => (40_500, 1_620, 10_000),
            L3_1 => (108_000, 3_600, 14_000),
            L3_2 => (216_000, 5_120, 20_000),
            L4 => (245_760, 8_192, 20_000),
            L4_1 => (245_760, 8_192, 50_000),
            L4_2 => (522_240, 8_704, 50_000),
            L5 => (589_824, 22_080, 135_000),
            L5_1 => (983_040, 36_864, 240_000),
            L5_2 => (2_073_600, 36_864, 240_000),
            L6 => (4_177_920, 139_264, 240_000),
            L6_1 => (8_355_840, 139_264, 480_000),
            L6_2 => (16_711_680, 139_264, 800_000),
        };
        LevelLimits {
            max_mbps,
            max_fs,
            max_br_kbps,
        }
    }
}

impl fmt::Display for H264Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            H264Level::L1b => f.write_str("1b"),
            level => {
                let idc = level.idc();
                write!(f, "{}.{}", idc / 10, idc % 10)
            }
        }
    }
}

/// constraint_set3_flag in profile-iop.
const CONSTRAINT_SET3: u8 = 0x10;

/// The libwebrtc profile table: profile_idc, constraint-flag mask, value under the mask.
const PROFILE_PATTERNS: [(u8, u8, u8, H264Profile); 9] = [
    (0x42, 0x4f, 0x40, H264Profile::ConstrainedBaseline), // x1xx0000
    (0x4d, 0x8f, 0x80, H264Profile::ConstrainedBaseline), // 1xxx0000
    (0x58, 0xcf, 0xc0, H264Profile::ConstrainedBaseline), // 11xx0000
    (0x42, 0x4f, 0x00, H264Profile::Baseline),            // x0xx0000
    (0x58, 0xcf, 0x80, H264Profile::Baseline),            // 10xx0000
    (0x4d, 0xaf, 0x00, H264Profile::Main),                // 0x0x0000
    (0x64, 0xff, 0x00, H264Profile::High),                // 00000000
    (0x64, 0xff, 0x0c, H264Profile::ConstrainedHigh),     // 00001100
    (0xf4, 0xff, 0x00, H264Profile::PredictiveHigh444),   // 00000000
];

/// The three bytes of `profile-level-id` (RFC 6184 §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProfileLevelId {
    /// profile_idc (0x42 Baseline, 0x4d Main, 0x58 Extended, 0x64 High, ...).
    pub profile_idc: u8,
    /// profile-iop: constraint_set0..5 flags and two reserved bits.
    pub profile_iop: u8,
    /// level_idc (10 × level; 11 with constraint_set3 or 9 mean 1b).
    pub level_idc: u8,
}

impl ProfileLevelId {
    /// RFC 6184 §8.1: with no `profile-level-id`, Baseline at level 1 "MUST be inferred".
    pub const DEFAULT: ProfileLevelId = ProfileLevelId {
        profile_idc: 0x42,
        profile_iop: 0x00,
        level_idc: 10,
    };

    /// Parses six hex digits.
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        let text = text.trim();
        let bad = || SdpError::BadParameter {
            name: "profile-level-id",
            value: text.chars().take(32).collect(),
        };
        if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let byte = |i: usize| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| bad());
        Ok(ProfileLevelId {
            profile_idc: byte(0)?,
            profile_iop: byte(2)?,
            level_idc: byte(4)?,
        })
    }

    /// The canonical `profile-level-id` for a profile and level.
    pub fn new(profile: H264Profile, level: H264Level) -> Self {
        let (profile_idc, profile_iop) = profile.canonical();
        ProfileLevelId {
            profile_idc,
            profile_iop,
            level_idc: 0,
        }
        .with_level(level)
    }

    /// The profile, by the libwebrtc pattern table; `None` for profiles a gateway cannot use.
    pub fn profile(&self) -> Option<H264Profile> {
        PROFILE_PATTERNS
            .iter()
            .find(|(idc, mask, value, _)| {
                *idc == self.profile_idc && self.profile_iop & mask == *value
            })
            .map(|(_, _, _, profile)| *profile)
    }

    /// Profiles whose level 1b is written as level_idc 11 plus constraint_set3.
    fn uses_cs3_for_1b(&self) -> bool {
        matches!(self.profile_idc, 0x42 | 0x4d | 0x58)
    }

    /// The level; `None` for a level_idc H.264 does not define.
    pub fn level(&self) -> Option<H264Level> {
        match self.level_idc {
            11 if self.uses_cs3_for_1b() && self.profile_iop & CONSTRAINT_SET3 != 0 => {
                Some(H264Level::L1b)
            }
            9 if !self.uses_cs3_for_1b() => Some(H264Level::L1b),
            idc => H264Level::from_idc(idc),
        }
    }

    /// The same profile bytes at another level (handling 1b's two encodings).
    pub fn with_level(mut self, level: H264Level) -> Self {
        if self.uses_cs3_for_1b() {
            if level == H264Level::L1b {
                self.profile_iop |= CONSTRAINT_SET3;
            } else if level == H264Level::L1_1 {
                self.profile_iop &= !CONSTRAINT_SET3;
            }
            self.level_idc = level.idc();
        } else {
            self.level_idc = if level == H264Level::L1b {
                9
            } else {
                level.idc()
            };
        }
        self
    }
}

impl fmt::Display for ProfileLevelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02x}{:02x}{:02x}",
            self.profile_idc, self.profile_iop, self.level_idc
        )
    }
}

/// The H.264 `a=fmtp` parameters a gateway acts on (others, such as `sprop-parameter-sets`, are
/// ignored: the gateway's decoder reads parameter sets in-band).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H264Fmtp {
    /// `profile-level-id`, or [`ProfileLevelId::DEFAULT`] when absent.
    pub profile_level_id: ProfileLevelId,
    /// `packetization-mode`: 0 single NAL unit, 1 non-interleaved, 2 interleaved. Absent means 0.
    pub packetization_mode: u8,
    /// `level-asymmetry-allowed=1`.
    pub level_asymmetry_allowed: bool,
    /// `max-mbps` (macroblocks/s the sender of this SDP can receive, above its level's MaxMBPS).
    pub max_mbps: Option<u32>,
    /// `max-fs` (macroblocks per frame it can receive).
    pub max_fs: Option<u32>,
    /// `max-br` (VCL bit rate it can receive, in units of 1000 bit/s; 1200 for NAL HRD).
    pub max_br: Option<u32>,
}

impl H264Fmtp {
    /// Reads the parameters out of a parsed `a=fmtp` parameter list. Unknown parameters are ignored;
    /// a known one with a value that is not a number is an error, so the payload type is not used.
    pub fn from_params(params: &[(String, String)]) -> Result<Self, SdpError> {
        let mut fmtp = H264Fmtp {
            profile_level_id: ProfileLevelId::DEFAULT,
            packetization_mode: 0,
            level_asymmetry_allowed: false,
            max_mbps: None,
            max_fs: None,
            max_br: None,
        };
        for (name, value) in params {
            let number = |name: &'static str| {
                value
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| SdpError::BadParameter {
                        name,
                        value: value.chars().take(32).collect(),
                    })
            };
            match name.to_ascii_lowercase().as_str() {
                "profile-level-id" => fmtp.profile_level_id = ProfileLevelId::parse(value)?,
                "packetization-mode" => {
                    fmtp.packetization_mode =
                        u8::try_from(number("packetization-mode")?).map_err(|_| {
                            SdpError::BadParameter {
                                name: "packetization-mode",
                                value: value.clone(),
                            }
                        })?;
                }
                "level-asymmetry-allowed" => {
                    fmtp.level_asymmetry_allowed = number("level-asymmetry-allowed")? == 1;
                }
                "max-mbps" => fmtp.max_mbps = Some(number("max-mbps")?),
                "max-fs" => fmtp.max_fs = Some(number("max-fs")?),
                "max-br" => fmtp.max_br = Some(number("max-br")?),
                _ => {}
            }
        }
        Ok(fmtp)
    }

    /// The `a=fmtp` value (without the payload type).
    pub fn to_fmtp_value(&self) -> String {
        let mut out = format!("profile-level-id={}", self.profile_level_id);
        if self.packetization_mode != 0 {
            out.push_str(&format!(";packetization-mode={}", self.packetization_mode));
        }
        if self.level_asymmetry_allowed {
            out.push_str(";level-asymmetry-allowed=1");
        }
        for (name, value) in [
            ("max-mbps", self.max_mbps),
            ("max-fs", self.max_fs),
            ("max-br", self.max_br),
        ] {
            if let Some(v) = value {
                out.push_str(&format!(";{name}={v}"));
            }
        }
        out
    }

    /// What a decoder behind these parameters accepts: the level's limits, raised by `max-mbps`,
    /// `max-fs` and `max-br` (RFC 6184 §8.1 lets them only raise, never lower). `None` when the
    /// level is unknown.
    pub fn receive_limits(&self) -> Option<LevelLimits> {
        let level = self.profile_level_id.level()?.limits();
        Some(LevelLimits {
            max_mbps: level.max_mbps.max(self.max_mbps.unwrap_or(0)),
            max_fs: level.max_fs.max(self.max_fs.unwrap_or(0)),
            max_br_kbps: level.max_br_kbps.max(self.max_br.unwrap_or(0)),
        })
    }
}

/// The level to write in an answer (RFC 6184 §8.2.2, as libwebrtc does it): with
/// `level-asymmetry-allowed` on both sides, the answer states what the answerer can receive (its own
/// level); otherwise both directions use the lower of the two.
pub fn answer_level(offered: H264Level, ours: H264Level, asymmetry_both_sides: bool) -> H264Level {
    if asymmetry_both_sides {
        ours
    } else {
        offered.min(ours)
    }
}

/// Picture sizes a gateway encodes, largest first (16:9 first, then the CIF family).
const RESOLUTIONS: [(u16, u16); 12] = [
    (1920, 1080),
    (1280, 720),
    (1024, 576),
    (960, 540),
    (848, 480),
    (704, 576),
    (640, 360),
    (512, 288),
    (352, 288),
    (320, 180),
    (176, 144),
    (128, 96),
];

/// The largest picture from a fixed list that fits `max_fs` macroblocks per frame and `max_mbps`
/// macroblocks per second at `fps`, and whose sides fit H.264's `sqrt(8 × MaxFS)` macroblock rule.
/// Falls back to the smallest (128×96, sub-QCIF) when nothing fits.
pub fn max_resolution(max_fs: u32, max_mbps: u32, fps: u32) -> (u16, u16) {
    let side_limit = (8.0 * f64::from(max_fs)).sqrt();
    RESOLUTIONS
        .iter()
        .copied()
        .find(|&(w, h)| {
            let (mbw, mbh) = (u32::from(w).div_ceil(16), u32::from(h).div_ceil(16));
            let frame = mbw * mbh;
            frame <= max_fs
                && u64::from(frame) * u64::from(fps.max(1)) <= u64::from(max_mbps)
                && f64::from(mbw) <= side_limit
                && f64::from(mbh) <= side_limit
        })
        .unwrap_or((128, 96))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plid(s: &str) -> ProfileLevelId {
        ProfileLevelId::parse(s).unwrap()
    }

    #[test]
    fn recognises_profiles_from_libwebrtc_table() {
        assert_eq!(
            plid("42e01f").profile(),
            Some(H264Profile::ConstrainedBaseline)
        );
        assert_eq!(
            plid("4d801f").profile(),
            Some(H264Profile::ConstrainedBaseline)
        );
        assert_eq!(plid("428016").profile(), Some(H264Profile::Baseline));
        assert_eq!(plid("42001f").profile(), Some(H264Profile::Baseline));
        assert_eq!(plid("4d0028").profile(), Some(H264Profile::Main));
        assert_eq!(plid("4d4028").profile(), Some(H264Profile::Main));
        assert_eq!(plid("640028").profile(), Some(H264Profile::High));
        assert_eq!(plid("640c1f").profile(), Some(H264Profile::ConstrainedHigh));
        assert_eq!(
            plid("f4001f").profile(),
            Some(H264Profile::PredictiveHigh444)
        );
        assert_eq!(plid("6e001f").profile(), None, "High 10 is not supported");
    }

    #[test]
    fn reads_levels_including_1b_both_ways() {
        assert_eq!(plid("42e01f").level(), Some(H264Level::L3_1));
        assert_eq!(plid("640028").level(), Some(H264Level::L4));
        assert_eq!(plid("42f00b").level(), Some(H264Level::L1b));
        assert_eq!(plid("42e00b").level(), Some(H264Level::L1_1));
        assert_eq!(plid("640009").level(), Some(H264Level::L1b));
        assert_eq!(plid("4200ff").level(), None);
    }

    #[test]
    fn with_level_writes_1b_per_profile_and_clears_it_again() {
        let cb = plid("42e01f");
        assert_eq!(cb.with_level(H264Level::L1b).to_string(), "42f00b");
        assert_eq!(
            cb.with_level(H264Level::L1b)
                .with_level(H264Level::L1_1)
                .to_string(),
            "42e00b"
        );
        assert_eq!(
            plid("640028").with_level(H264Level::L1b).to_string(),
            "640009"
        );
        assert_eq!(
            ProfileLevelId::new(H264Profile::High, H264Level::L4_1).to_string(),
            "640029"
        );
    }

    #[test]
    fn rejects_malformed_profile_level_ids() {
        for bad in ["", "42e01", "42e01f0", "zz0000", "42e0 f"] {
            assert!(ProfileLevelId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fmtp_defaults_follow_rfc_6184() {
        let fmtp = H264Fmtp::from_params(&[]).unwrap();
        assert_eq!(fmtp.profile_level_id, ProfileLevelId::DEFAULT);
        assert_eq!(fmtp.profile_level_id.profile(), Some(H264Profile::Baseline));
        assert_eq!(fmtp.profile_level_id.level(), Some(H264Level::L1));
        assert_eq!(fmtp.packetization_mode, 0);
    }

    #[test]
    fn max_parameters_raise_level_limits() {
        let params = [
            ("profile-level-id".into(), "428016".into()),
            ("max-mbps".into(), "245000".into()),
            ("max-fs".into(), "8160".into()),
            ("max-br".into(), "5000".into()),
        ];
        let fmtp = H264Fmtp::from_params(&params).unwrap();
        let limits = fmtp.receive_limits().unwrap();
        assert_eq!(limits.max_fs, 8160);
        assert_eq!(limits.max_mbps, 245_000);
        assert_eq!(limits.max_br_kbps, 5000);
        assert_eq!(
            max_resolution(limits.max_fs, limits.max_mbps, 30),
            (1920, 1080)
        );
    }

    #[test]
    fn resolution_follows_level() {
        let l = |level: H264Level| {
            let lim = level.limits();
            max_resolution(lim.max_fs, lim.max_mbps, 30)
        };
        assert_eq!(l(H264Level::L4), (1920, 1080));
        assert_eq!(l(H264Level::L3_1), (1280, 720));
        assert_eq!(l(H264Level::L3), (640, 360), "4CIF needs 25 fps at level 3");
        assert_eq!(l(H264Level::L1_3), (352, 288));
        assert_eq!(l(H264Level::L1), (128, 96));
    }

    #[test]
    fn answer_level_is_minimum_unless_both_allow_asymmetry() {
        assert_eq!(
            answer_level(H264Level::L3_1, H264Level::L4, false),
            H264Level::L3_1
        );
        assert_eq!(
            answer_level(H264Level::L5_1, H264Level::L4, false),
            H264Level::L4
        );
        assert_eq!(
            answer_level(H264Level::L3_1, H264Level::L4, true),
            H264Level::L4
        );
    }

    #[test]
    fn fmtp_value_round_trips() {
        let fmtp = H264Fmtp {
            profile_level_id: plid("64001f"),
            packetization_mode: 1,
            level_asymmetry_allowed: true,
            max_mbps: Some(108000),
            max_fs: None,
            max_br: None,
        };
        let text = fmtp.to_fmtp_value();
        assert_eq!(
            text,
            "profile-level-id=64001f;packetization-mode=1;level-asymmetry-allowed=1;max-mbps=108000"
        );
        let params = super::super::codec::parse_fmtp_params(&text);
        assert_eq!(H264Fmtp::from_params(&params).unwrap(), fmtp);
    }
}
