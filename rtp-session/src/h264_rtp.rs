//! H.264 over RTP (RFC 6184): the packetiser that cuts an encoded access unit into RTP payloads
//! (single NAL unit packets when a NAL fits, FU-A fragments when it does not; mode 0 sends single
//! NAL units only) and the depacketiser that rebuilds Annex B access units from single NAL, STAP-A
//! and FU-A payloads, noticing loss so the caller can ask for a keyframe.
//!
//! Owns payload formats only; RTP headers, sockets and decoders are the caller's. Written by hand:
//! the `rtp` crate's H.264 packetiser has no depacketiser with loss detection, and both sides are
//! small. Never panics on input (fuzzed: `rtp-session/fuzz`, proptests below).

/// NAL unit types (RFC 6184 §5.4, H.264 Table 7-1) the code looks at.
const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_STAP_A: u8 = 24;
const NAL_FU_A: u8 = 28;

/// The largest access unit accepted (a 1080p IDR at high quality stays well below).
pub const MAX_ACCESS_UNIT: usize = 4 * 1024 * 1024;

/// Why a payload or access unit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum H264RtpError {
    /// An empty payload or NAL unit.
    #[error("empty payload")]
    Empty,
    /// A NAL type the payload format does not allow here (STAP-B, MTAP, FU-B, reserved).
    #[error("unsupported NAL unit type {0}")]
    Unsupported(u8),
    /// A STAP-A whose sizes run past its end.
    #[error("truncated STAP-A")]
    TruncatedStap,
    /// A FU-A shorter than its header.
    #[error("truncated FU-A")]
    TruncatedFu,
    /// The access unit grew past [`MAX_ACCESS_UNIT`].
    #[error("access unit larger than {MAX_ACCESS_UNIT} bytes")]
    TooLarge,
    /// Packetisation mode 0 cannot carry a NAL unit this large.
    #[error("NAL unit of {0} bytes does not fit one packet in packetization-mode 0")]
    TooLargeForMode0(usize),
}

/// Splits an Annex B byte stream into NAL units (without start codes).
pub fn split_annexb(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::with_capacity(starts.len());
    for (n, &start) in starts.iter().enumerate() {
        let mut end = starts.get(n + 1).map_or(stream.len(), |next| next - 3);
        // A 4-byte start code leaves one zero byte at the end of the previous NAL.
        while end > start && n + 1 < starts.len() && stream[end - 1] == 0 {
            end -= 1;
        }
        if end > start {
            nals.push(&stream[start..end]);
        }
    }
    nals
}

fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1F)
}

/// The H.264 stream one receiver can take: its picture size and, in packetization-mode 0, the
/// largest NAL unit (each NAL then travels alone in one RTP packet, so it must fit one).
///
/// This is where a call's packetization mode reaches encoding: the meeting engine and the slate
/// studio key their shared encoders by the whole format, so a mode-0 viewer only ever shares an
/// encoder that cuts size-limited slices, and mode-1 viewers keep one slice per picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VideoFormat {
    /// Picture size.
    pub size: (u32, u32),
    /// Largest NAL unit the receiver can be sent (mode 0), `None` for no limit (mode 1: large
    /// NALs go as FU-A fragments).
    pub max_nal_bytes: Option<usize>,
}

impl VideoFormat {
    /// The format of a call that negotiated `setup`: mode 0 limits NALs to one RTP payload of
    /// [`super::video::MAX_VIDEO_PAYLOAD`] bytes (what its [`Packetizer`] can send).
    #[must_use]
    pub fn of(setup: &crate::api::VideoSetup) -> Self {
        VideoFormat {
            size: setup.max_size,
            max_nal_bytes: (setup.packetization_mode == 0)
                .then_some(super::video::MAX_VIDEO_PAYLOAD),
        }
    }

    /// Unlimited NALs at `size` (mode 1).
    #[must_use]
    pub fn unlimited(size: (u32, u32)) -> Self {
        VideoFormat {
            size,
            max_nal_bytes: None,
        }
    }
}

/// Whether an Annex B access unit holds an IDR picture (decodable without earlier pictures).
#[must_use]
pub fn is_keyframe(access_unit: &[u8]) -> bool {
    split_annexb(access_unit)
        .into_iter()
        .any(|nal| nal_type(nal) == NAL_IDR)
}

/// Cuts access units into RTP payloads.
#[derive(Debug, Clone, Copy)]
pub struct Packetizer {
    /// Largest RTP payload (MTU minus IP, UDP and RTP headers; 1200 is safe on most paths).
    pub max_payload: usize,
    /// RFC 6184 packetization-mode (0 or 1).
    pub mode: u8,
}

impl Default for Packetizer {
    fn default() -> Self {
        Packetizer {
            max_payload: 1200,
            mode: 1,
        }
    }
}

impl Packetizer {
    /// The payloads for one access unit (Annex B), in order; the caller sets the RTP marker bit on
    /// the last and gives all the same timestamp.
    pub fn packetize(&self, access_unit: &[u8]) -> Result<Vec<Vec<u8>>, H264RtpError> {
        let mut payloads = Vec::new();
        let max = self.max_payload.max(3);
        for nal in split_annexb(access_unit) {
            if nal.len() <= max {
                payloads.push(nal.to_vec());
                continue;
            }
            if self.mode == 0 {
                return Err(H264RtpError::TooLargeForMode0(nal.len()));
            }
            // FU-A: indicator keeps F and NRI, type 28; header carries S/E and the NAL type.
            let indicator = (nal[0] & 0xE0) | NAL_FU_A;
            let kind = nal[0] & 0x1F;
            let body = &nal[1..];
            let chunk = max - 2;
            let count = body.len().div_ceil(chunk);
            for (i, piece) in body.chunks(chunk).enumerate() {
                let mut header = kind;
                if i == 0 {
                    header |= 0x80;
                }
                if i + 1 == count {
                    header |= 0x40;
                }
                let mut payload = Vec::with_capacity(piece.len() + 2);
                payload.extend_from_slice(&[indicator, header]);
                payload.extend_from_slice(piece);
                payloads.push(payload);
            }
        }
        Ok(payloads)
    }
}

/// A rebuilt access unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessUnit {
    /// Annex B bytes (4-byte start codes).
    pub data: Vec<u8>,
    /// The RTP timestamp (90 kHz).
    pub timestamp: u32,
    /// It holds an IDR slice.
    pub keyframe: bool,
    /// It holds SPS and PPS (so a decoder can start here).
    pub has_parameter_sets: bool,
}

/// What the depacketiser has for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Depacketized {
    /// A complete access unit, safe to decode.
    AccessUnit(AccessUnit),
    /// Packets were lost: the stream is unusable until the next keyframe. Ask the sender for one
    /// (PLI/FIR); access units are withheld until it arrives.
    KeyframeNeeded,
}

/// Rebuilds access units from RTP payloads of one stream (packets in sequence order, e.g. from
/// a jitter buffer).
#[derive(Debug, Default)]
pub struct Depacketizer {
    current: Vec<u8>,
    current_ts: Option<u32>,
    keyframe: bool,
    parameter_sets: u8,
    fragment: Option<Vec<u8>>,
    last_seq: Option<u16>,
    /// A loss happened and no keyframe has arrived since.
    waiting_for_keyframe: bool,
    /// The current access unit lost a packet.
    damaged: bool,
}

impl Depacketizer {
    /// A depacketiser that waits for a keyframe before emitting anything.
    pub fn new() -> Self {
        Depacketizer {
            waiting_for_keyframe: true,
            ..Depacketizer::default()
        }
    }

    /// Whether the stream is waiting for a keyframe (after start or a loss).
    pub fn waiting_for_keyframe(&self) -> bool {
        self.waiting_for_keyframe
    }

    /// Takes one packet's payload. Returns what became ready: at most one access unit (completed
    /// by the marker bit or by the next timestamp) and/or a keyframe request.
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<Vec<Depacketized>, H264RtpError> {
        let mut ready = Vec::new();
        if let Some(last) = self.last_seq {
            if seq != last.wrapping_add(1) {
                // A gap (or reorder the jitter buffer did not fix): this access unit is broken.
                self.damaged = true;
                self.fragment = None;
                if !self.waiting_for_keyframe {
                    self.waiting_for_keyframe = true;
                    ready.push(Depacketized::KeyframeNeeded);
                }
            }
        }
        self.last_seq = Some(seq);
        if self.current_ts.is_some_and(|ts| ts != timestamp) {
            // The previous access unit ended without a marker (lost or sloppy sender).
            self.finish(&mut ready);
        }
        self.current_ts = Some(timestamp);
        let result = self.add_payload(payload);
        if result.is_err() {
            self.damaged = true;
        }
        if marker {
            self.finish(&mut ready);
        }
        result.map(|()| ready)
    }

    fn add_payload(&mut self, payload: &[u8]) -> Result<(), H264RtpError> {
        let first = *payload.first().ok_or(H264RtpError::Empty)?;
        match first & 0x1F {
            1..=23 => self.add_nal(payload),
            NAL_STAP_A => {
                let mut rest = &payload[1..];
                while !rest.is_empty() {
                    if rest.len() < 2 {
                        return Err(H264RtpError::TruncatedStap);
                    }
                    let size = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                    let nal = rest.get(2..2 + size).ok_or(H264RtpError::TruncatedStap)?;
                    self.add_nal(nal)?;
                    rest = &rest[2 + size..];
                }
                Ok(())
            }
            NAL_FU_A => {
                let header = *payload.get(1).ok_or(H264RtpError::TruncatedFu)?;
                let (start, end) = (header & 0x80 != 0, header & 0x40 != 0);
                if start {
                    let nal_header = (first & 0xE0) | (header & 0x1F);
                    let mut fragment = vec![nal_header];
                    fragment.extend_from_slice(&payload[2..]);
                    self.fragment = Some(fragment);
                } else if let Some(fragment) = &mut self.fragment {
                    if fragment.len() + payload.len() > MAX_ACCESS_UNIT {
                        self.fragment = None;
                        return Err(H264RtpError::TooLarge);
                    }
                    fragment.extend_from_slice(&payload[2..]);
                } else {
                    // A middle or end fragment whose start was lost: already marked damaged.
                    return Ok(());
                }
                if end {
                    if let Some(nal) = self.fragment.take() {
                        self.add_nal(&nal)?;
                    }
                }
                Ok(())
            }
            other => Err(H264RtpError::Unsupported(other)),
        }
    }

    fn add_nal(&mut self, nal: &[u8]) -> Result<(), H264RtpError> {
        if nal.is_empty() {
            return Err(H264RtpError::Empty);
        }
        if self.current.len() + nal.len() + 4 > MAX_ACCESS_UNIT {
            return Err(H264RtpError::TooLarge);
        }
        match nal_type(nal) {
            NAL_IDR => self.keyframe = true,
            NAL_SPS => self.parameter_sets |= 1,
            NAL_PPS => self.parameter_sets |= 2,
            _ => {}
        }
        self.current.extend_from_slice(&[0, 0, 0, 1]);
        self.current.extend_from_slice(nal);
        Ok(())
    }

    fn finish(&mut self, ready: &mut Vec<Depacketized>) {
        let data = std::mem::take(&mut self.current);
        let keyframe = std::mem::take(&mut self.keyframe);
        let parameter_sets = std::mem::take(&mut self.parameter_sets) == 3;
        let damaged = std::mem::take(&mut self.damaged);
        let Some(timestamp) = self.current_ts.take() else {
            return;
        };
        if data.is_empty() || damaged {
            return;
        }
        if self.waiting_for_keyframe {
            if !keyframe {
                return;
            }
            self.waiting_for_keyframe = false;
        }
        ready.push(Depacketized::AccessUnit(AccessUnit {
            data,
            timestamp,
            keyframe,
            has_parameter_sets: parameter_sets,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn annexb(nals: &[&[u8]]) -> Vec<u8> {
        nals.iter()
            .flat_map(|n| [&[0u8, 0, 0, 1][..], n].concat())
            .collect()
    }

    fn idr_au(idr_len: usize) -> Vec<u8> {
        let sps = [0x67, 0x42, 0xC0, 0x1F, 0x8C];
        let pps = [0x68, 0xCE, 0x3C, 0x80];
        let mut idr = vec![0x65];
        idr.extend((0..idr_len).map(|i| (i % 251) as u8 | 1));
        annexb(&[&sps, &pps, &idr])
    }

    /// Feeds payloads as consecutive packets of one access unit.
    fn feed(
        d: &mut Depacketizer,
        first_seq: u16,
        ts: u32,
        payloads: &[Vec<u8>],
    ) -> Vec<Depacketized> {
        let mut out = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            let last = i + 1 == payloads.len();
            out.extend(
                d.push(first_seq.wrapping_add(i as u16), ts, last, p)
                    .unwrap(),
            );
        }
        out
    }

    #[test]
    fn annexb_splits_on_3_and_4_byte_start_codes() {
        let stream = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5,
        ];
        let nals = split_annexb(&stream);
        assert_eq!(
            nals,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4, 5][..]]
        );
        assert!(split_annexb(&[1, 2, 3]).is_empty());
    }

    #[test]
    fn small_nals_go_as_single_nal_packets_and_large_ones_as_fu_a() {
        let au = idr_au(3000);
        let payloads = Packetizer::default().packetize(&au).unwrap();
        assert_eq!(payloads[0][0], 0x67, "SPS alone");
        assert_eq!(payloads[1][0], 0x68, "PPS alone");
        let fus = &payloads[2..];
        assert_eq!(
            fus.len(),
            3000usize.div_ceil(1198),
            "3000 bytes of IDR body in 1198-byte pieces"
        );
        assert!(fus.iter().all(|p| p[0] & 0x1F == 28 && p.len() <= 1200));
        assert_eq!(fus[0][1] & 0xC0, 0x80, "start bit on the first");
        assert_eq!(fus.last().unwrap()[1] & 0xC0, 0x40, "end bit on the last");
        assert_eq!(fus[1][1] & 0xC0, 0, "neither in the middle");
    }

    #[test]
    fn mode_0_refuses_nals_that_do_not_fit() {
        let p = Packetizer {
            mode: 0,
            ..Packetizer::default()
        };
        assert_eq!(
            p.packetize(&idr_au(3000)),
            Err(H264RtpError::TooLargeForMode0(3001))
        );
        assert!(p.packetize(&idr_au(100)).is_ok());
    }

    #[test]
    fn round_trip_rebuilds_the_access_unit() {
        let au = idr_au(5000);
        let payloads = Packetizer::default().packetize(&au).unwrap();
        let mut d = Depacketizer::new();
        let out = feed(&mut d, 100, 9000, &payloads);
        let [Depacketized::AccessUnit(got)] = &out[..] else {
            panic!("{out:?}")
        };
        assert_eq!(got.data, au);
        assert!(got.keyframe && got.has_parameter_sets);
        assert_eq!(got.timestamp, 9000);
    }

    #[test]
    fn stap_a_is_unpacked() {
        let sps = [0x67, 0x42, 0xC0, 0x1F];
        let pps = [0x68, 0xCE];
        let mut stap = vec![0x78];
        for nal in [&sps[..], &pps[..]] {
            stap.extend_from_slice(&(nal.len() as u16).to_be_bytes());
            stap.extend_from_slice(nal);
        }
        let mut d = Depacketizer::new();
        assert!(d.push(1, 0, false, &stap).unwrap().is_empty());
        let out = d.push(2, 0, true, &[0x65, 0x88, 0x84]).unwrap();
        let [Depacketized::AccessUnit(au)] = &out[..] else {
            panic!("{out:?}")
        };
        assert_eq!(au.data, annexb(&[&sps, &pps, &[0x65, 0x88, 0x84]]));
        assert!(
            d.push(3, 1, false, &[0x78, 0, 9, 0x67]).is_err(),
            "truncated STAP-A"
        );
    }

    #[test]
    fn loss_withholds_frames_until_the_next_keyframe() {
        let mut d = Depacketizer::new();
        let key = Packetizer::default().packetize(&idr_au(3000)).unwrap();
        assert_eq!(feed(&mut d, 10, 0, &key).len(), 1);
        let next = 10 + key.len() as u16;
        let delta = vec![vec![0x41, 0x9A, 0x02]];
        assert!(matches!(
            feed(&mut d, next, 3000, &delta)[..],
            [Depacketized::AccessUnit(_)]
        ));
        // Packet next+1 is lost.
        let out = feed(&mut d, next + 2, 6000, &delta);
        assert_eq!(out, [Depacketized::KeyframeNeeded]);
        assert!(d.waiting_for_keyframe());
        assert!(
            feed(&mut d, next + 3, 9000, &delta).is_empty(),
            "delta frames withheld"
        );
        let out = feed(&mut d, next + 4, 12000, &key);
        assert!(matches!(&out[..], [Depacketized::AccessUnit(au)] if au.keyframe));
        assert!(!d.waiting_for_keyframe());
    }

    #[test]
    fn a_lost_fu_a_middle_drops_that_access_unit() {
        let key = Packetizer::default().packetize(&idr_au(5000)).unwrap();
        let mut d = Depacketizer::new();
        assert_eq!(feed(&mut d, 0, 0, &key).len(), 1, "a good keyframe first");
        let mut out = Vec::new();
        let base = key.len() as u16;
        for (i, p) in key.iter().enumerate() {
            if i == 3 {
                continue;
            }
            out.extend(
                d.push(base + i as u16, 3000, i + 1 == key.len(), p)
                    .unwrap(),
            );
        }
        assert_eq!(
            out,
            [Depacketized::KeyframeNeeded],
            "nothing broken is emitted"
        );
    }

    #[test]
    fn sequence_numbers_wrap() {
        let payloads = Packetizer::default().packetize(&idr_au(3000)).unwrap();
        let mut d = Depacketizer::new();
        assert_eq!(feed(&mut d, 65534, 0, &payloads).len(), 1);
    }

    proptest! {
        #[test]
        fn depacketizer_never_panics(packets in proptest::collection::vec(
            (any::<u16>(), any::<u32>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..40)
        ) {
            let mut d = Depacketizer::new();
            for (seq, ts, marker, payload) in packets {
                let _ = d.push(seq, ts, marker, &payload);
            }
        }

        #[test]
        fn any_access_unit_round_trips(nals in proptest::collection::vec(
            proptest::collection::vec(1u8..=255, 1..4000), 1..5), max_payload in 50usize..1500
        ) {
            // NAL bodies without zero bytes cannot contain start codes; each is a non-IDR slice.
            let nals: Vec<Vec<u8>> = nals.into_iter().map(|mut n| { n[0] = 0x41; n }).collect();
            let refs: Vec<&[u8]> = nals.iter().map(Vec::as_slice).collect();
            let mut au = annexb(&refs);
            // Make it a keyframe so the depacketiser emits it.
            au.extend_from_slice(&[0, 0, 0, 1, 0x65, 7]);
            let payloads = Packetizer { max_payload, mode: 1 }.packetize(&au).unwrap();
            prop_assert!(payloads.iter().all(|p| p.len() <= max_payload.max(3)));
            let mut d = Depacketizer::new();
            let out = feed(&mut d, 0, 0, &payloads);
            prop_assert_eq!(out, vec![Depacketized::AccessUnit(AccessUnit {
                data: au, timestamp: 0, keyframe: true, has_parameter_sets: false,
            })]);
        }
    }
}
