//! RTCP (RFC 3550 §6, RFC 4585, RFC 5104): compound packets parsed into the typed events a call's
//! media state machine acts on, and the packets it sends (SR, RR, SDES CNAME, PLI, FIR, generic
//! NACK, TMMBN).
//!
//! Packet layouts are webrtc-rs's sans-IO `rtc-rtcp` crate's (0.21: the 0.17 `rtcp` crate drags
//! tokio in through `webrtc-util`, which this sans-IO crate must not have); this module
//! splits a compound datagram itself, packet by packet, so one malformed or unknown packet costs
//! only itself, and reads TMMBR (which the crate leaves raw) by hand. It owns no state and reads
//! no clock: [`ReceiveStats`](crate::rtp_stats::ReceiveStats) and the state machine keep the counters.
//! Never panics on input (fuzzed: `rtp-session/fuzz`, target `rtcp`).

use bytes::Bytes;
use rtc_rtcp::header::{FORMAT_FIR, FORMAT_PLI, FORMAT_REMB, FORMAT_TLN};
use rtc_rtcp::packet::Packet;
use rtc_rtcp::payload_feedbacks::full_intra_request::{FirEntry, FullIntraRequest};
use rtc_rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc_rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc_rtcp::receiver_report::ReceiverReport;
use rtc_rtcp::reception_report::ReceptionReport;
use rtc_rtcp::sender_report::SenderReport;
use rtc_rtcp::source_description::{
    SdesType, SourceDescription, SourceDescriptionChunk, SourceDescriptionItem,
};
use rtc_rtcp::transport_feedbacks::transport_layer_nack::{
    nack_pairs_from_sequence_numbers, TransportLayerNack,
};
use rtc_shared::marshal::Unmarshal;

/// RTCP packet types (RFC 3550 §12.1, RFC 4585 §6.1).
const PT_SR: u8 = 200;
const PT_RR: u8 = 201;
const PT_RTPFB: u8 = 205;
const PT_PSFB: u8 = 206;
/// TMMBR's feedback message type inside RTPFB (RFC 5104 §4.2.1).
const FORMAT_TMMBR: u8 = 3;
/// TMMBN's feedback message type inside RTPFB (RFC 5104 §4.2.2).
const FORMAT_TMMBN: u8 = 4;
/// Largest TMMBR/TMMBN mantissa (17 bits).
const MAX_MANTISSA: u64 = 0x1_FFFF;
/// Largest measured overhead (9 bits).
const MAX_OVERHEAD: u16 = 0x1FF;
/// The fixed RTCP header: V/P/count, packet type, length in 32-bit words minus one.
const HEADER_LEN: usize = 4;
/// At most this many report blocks fit one SR/RR (5-bit count).
pub const MAX_REPORT_BLOCKS: usize = 31;

/// Why a datagram is not RTCP we can read, or a packet could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    /// Shorter than one RTCP header.
    #[error("datagram of {len} bytes is shorter than an RTCP header")]
    TooShort {
        /// Datagram length.
        len: usize,
    },
    /// The first packet's version is not 2.
    #[error("RTCP version {version}, expected 2")]
    BadVersion {
        /// The version found.
        version: u8,
    },
    /// The first packet's type is not an RTCP packet type (192-223 per RFC 5761).
    #[error("packet type {0} is not RTCP")]
    NotRtcp(u8),
    /// The first packet's length runs past the datagram.
    #[error("RTCP packet runs past the end of the datagram")]
    Truncated,
    /// The `rtc-rtcp` crate refused to serialise a packet we built (e.g. too many report blocks).
    #[error("cannot build RTCP packet: {0}")]
    Build(String),
}

/// One RTCP report block (RFC 3550 §6.4.1), about one stream the reporter receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The stream reported on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24 bits).
    pub total_lost: u32,
    /// Extended highest sequence number received.
    pub highest_sequence: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR from this stream (0: none yet).
    pub last_sender_report: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sender_report: u32,
}

impl From<&ReceptionReport> for ReportBlock {
    fn from(r: &ReceptionReport) -> Self {
        ReportBlock {
            ssrc: r.ssrc,
            fraction_lost: r.fraction_lost,
            total_lost: r.total_lost & 0x00FF_FFFF,
            highest_sequence: r.last_sequence_number,
            jitter: r.jitter,
            last_sender_report: r.last_sender_report,
            delay_since_last_sender_report: r.delay,
        }
    }
}

impl From<&ReportBlock> for ReceptionReport {
    fn from(b: &ReportBlock) -> Self {
        ReceptionReport {
            ssrc: b.ssrc,
            fraction_lost: b.fraction_lost,
            total_lost: b.total_lost & 0x00FF_FFFF,
            last_sequence_number: b.highest_sequence,
            jitter: b.jitter,
            last_sender_report: b.last_sender_report,
            delay: b.delay_since_last_sender_report,
        }
    }
}

/// What one packet of a compound RTCP datagram says.
#[derive(Debug, Clone, PartialEq)]
pub enum RtcpEvent {
    /// A sender report: what the peer sent, and its report blocks on what it receives.
    SenderReport {
        /// The sender.
        ssrc: u32,
        /// NTP timestamp (64-bit fixed point, seconds since 1900).
        ntp_time: u64,
        /// The RTP timestamp matching `ntp_time`.
        rtp_time: u32,
        /// Packets sent.
        packet_count: u32,
        /// Payload octets sent.
        octet_count: u32,
        /// Reception report blocks.
        reports: Vec<ReportBlock>,
    },
    /// A receiver report.
    ReceiverReport {
        /// The reporter.
        ssrc: u32,
        /// Reception report blocks.
        reports: Vec<ReportBlock>,
    },
    /// Picture Loss Indication (RFC 4585 §6.3.1): send a keyframe.
    Pli {
        /// Who asks.
        sender_ssrc: u32,
        /// The stream it is about.
        media_ssrc: u32,
    },
    /// Full Intra Request (RFC 5104 §4.3.1): send a keyframe.
    Fir {
        /// Who asks.
        sender_ssrc: u32,
        /// The streams asked for, with the request sequence numbers.
        entries: Vec<(u32, u8)>,
    },
    /// Generic NACK (RFC 4585 §6.2.1): these packets were lost; resend them.
    Nack {
        /// Who asks.
        sender_ssrc: u32,
        /// The stream they belong to.
        media_ssrc: u32,
        /// Their sequence numbers.
        lost: Vec<u16>,
    },
    /// The most the receiver wants us to send: REMB (draft-alvestrand-rmcat-remb) or TMMBR
    /// (RFC 5104 §4.2.1).
    MaxBitrate {
        /// Who asks.
        sender_ssrc: u32,
        /// The streams it applies to.
        ssrcs: Vec<u32>,
        /// Bits per second.
        bitrate_bps: u64,
        /// TMMBR only (`None` for REMB): the measured per-packet overhead of the lowest entry,
        /// which the TMMBN answering it repeats (RFC 5104 §4.2.1.2).
        tmmbr_overhead: Option<u16>,
    },
    /// A packet type we do not act on (SDES, BYE, APP, XR, other feedback).
    Ignored {
        /// Its packet type.
        packet_type: u8,
        /// Its count / feedback message type field.
        format: u8,
    },
    /// A packet the parser could not read; the rest of the datagram is still read.
    Malformed {
        /// Its packet type.
        packet_type: u8,
        /// Its count / feedback message type field.
        format: u8,
    },
}

/// Whether a datagram on a muxed socket is RTCP rather than RTP (RFC 5761 §4: packet types
/// 192-223, i.e. RTP payload types 64-95 with the marker bit either way).
#[must_use]
pub fn is_rtcp(datagram: &[u8]) -> bool {
    datagram.len() >= HEADER_LEN && datagram[0] >> 6 == 2 && (192..=223).contains(&datagram[1])
}

/// Parses a (compound) RTCP datagram into events, one per packet (SR and RR, feedback, or
/// [`RtcpEvent::Ignored`] / [`RtcpEvent::Malformed`]). Never panics, whatever the bytes.
///
/// # Errors
/// [`RtcpError`] if the first packet's header is not RTCP; later packets that fail are
/// reported as [`RtcpEvent::Malformed`] and end the walk when their length is unusable.
pub fn parse_compound(datagram: &[u8]) -> Result<Vec<RtcpEvent>, RtcpError> {
    let mut events = Vec::new();
    let mut rest = datagram;
    while !rest.is_empty() {
        let first = events.is_empty();
        let packet = match split_packet(rest) {
            Ok(packet) => packet,
            Err(e) if first => return Err(e),
            Err(_) => {
                let (packet_type, format) = (
                    rest.get(1).copied().unwrap_or(0),
                    rest.first().map_or(0, |b| b & 0x1F),
                );
                events.push(RtcpEvent::Malformed {
                    packet_type,
                    format,
                });
                break;
            }
        };
        rest = &rest[packet.len()..];
        events.push(parse_packet(packet));
    }
    if events.is_empty() {
        return Err(RtcpError::TooShort { len: 0 });
    }
    Ok(events)
}

/// The first packet of `datagram`, by its header's length.
fn split_packet(datagram: &[u8]) -> Result<&[u8], RtcpError> {
    let Some(header) = datagram.get(..HEADER_LEN) else {
        return Err(RtcpError::TooShort {
            len: datagram.len(),
        });
    };
    let version = header[0] >> 6;
    if version != 2 {
        return Err(RtcpError::BadVersion { version });
    }
    if !(192..=223).contains(&header[1]) {
        return Err(RtcpError::NotRtcp(header[1]));
    }
    let words = usize::from(u16::from_be_bytes([header[2], header[3]]));
    datagram
        .get(..HEADER_LEN + 4 * words)
        .ok_or(RtcpError::Truncated)
}

/// One packet (header and length already checked) into its event.
fn parse_packet(packet: &[u8]) -> RtcpEvent {
    let (packet_type, format) = (packet[1], packet[0] & 0x1F);
    let malformed = RtcpEvent::Malformed {
        packet_type,
        format,
    };
    if !fits_its_fields(packet) {
        return malformed;
    }
    let mut bytes = Bytes::copy_from_slice(packet);
    match (packet_type, format) {
        (PT_SR, _) => match SenderReport::unmarshal(&mut bytes) {
            Ok(sr) => RtcpEvent::SenderReport {
                ssrc: sr.ssrc,
                ntp_time: sr.ntp_time,
                rtp_time: sr.rtp_time,
                packet_count: sr.packet_count,
                octet_count: sr.octet_count,
                reports: sr.reports.iter().map(ReportBlock::from).collect(),
            },
            Err(_) => malformed,
        },
        (PT_RR, _) => match ReceiverReport::unmarshal(&mut bytes) {
            Ok(rr) => RtcpEvent::ReceiverReport {
                ssrc: rr.ssrc,
                reports: rr.reports.iter().map(ReportBlock::from).collect(),
            },
            Err(_) => malformed,
        },
        (PT_PSFB, FORMAT_PLI) => match PictureLossIndication::unmarshal(&mut bytes) {
            Ok(pli) => RtcpEvent::Pli {
                sender_ssrc: pli.sender_ssrc,
                media_ssrc: pli.media_ssrc,
            },
            Err(_) => malformed,
        },
        (PT_PSFB, FORMAT_FIR) => match FullIntraRequest::unmarshal(&mut bytes) {
            Ok(fir) => RtcpEvent::Fir {
                sender_ssrc: fir.sender_ssrc,
                entries: fir
                    .fir
                    .iter()
                    .map(|e| (e.ssrc, e.sequence_number))
                    .collect(),
            },
            Err(_) => malformed,
        },
        (PT_PSFB, FORMAT_REMB) => match ReceiverEstimatedMaximumBitrate::unmarshal(&mut bytes) {
            Ok(remb) => RtcpEvent::MaxBitrate {
                tmmbr_overhead: None,
                sender_ssrc: remb.sender_ssrc,
                ssrcs: remb.ssrcs,
                // Saturating float-to-int: a huge or NaN value cannot wrap.
                bitrate_bps: remb.bitrate.max(0.0) as u64,
            },
            // Other application-layer feedback (FMT 15 is shared): not ours to read.
            Err(_) => RtcpEvent::Ignored {
                packet_type,
                format,
            },
        },
        (PT_RTPFB, FORMAT_TLN) => match TransportLayerNack::unmarshal(&mut bytes) {
            Ok(nack) => RtcpEvent::Nack {
                sender_ssrc: nack.sender_ssrc,
                media_ssrc: nack.media_ssrc,
                lost: nack.nacks.iter().flat_map(|p| p.packet_list()).collect(),
            },
            Err(_) => malformed,
        },
        (PT_RTPFB, FORMAT_TMMBR) => parse_tmmbr(packet).unwrap_or(malformed),
        _ => RtcpEvent::Ignored {
            packet_type,
            format,
        },
    }
}

/// Whether `packet` is long enough for the fields its type and count promise. The 0.17 `rtcp`
/// crate's parsers read some fields without checking (a FIR of one word panicked it: found by
/// the `rtcp` fuzz target); the check stays in front of its `rtc-rtcp` successor, so nothing
/// reaches a parser that could make it read past the end.
fn fits_its_fields(packet: &[u8]) -> bool {
    let (packet_type, count) = (packet[1], usize::from(packet[0] & 0x1F));
    let len = packet.len();
    match (packet_type, count as u8) {
        (PT_SR, _) => len >= 28 + 24 * count,
        (PT_RR, _) => len >= 8 + 24 * count,
        (PT_PSFB, FORMAT_FIR) => len >= 12 && (len - 12).is_multiple_of(8),
        (PT_PSFB, FORMAT_REMB) => {
            len >= 20 && len >= 20 + 4 * usize::from(packet.get(16).copied().unwrap_or(u8::MAX))
        }
        (PT_RTPFB, FORMAT_TLN) => len >= 12 && (len - 12).is_multiple_of(4),
        (PT_PSFB | PT_RTPFB, _) => len >= 12,
        _ => true,
    }
}

/// TMMBR (RFC 5104 §4.2.1.1): after the common feedback header, FCI entries of
/// SSRC (32) | MxTBR exponent (6) | mantissa (17) | measured overhead (9). The lowest request
/// wins when several are present.
fn parse_tmmbr(packet: &[u8]) -> Option<RtcpEvent> {
    let sender_ssrc = u32::from_be_bytes(packet.get(4..8)?.try_into().ok()?);
    let fci = packet.get(12..)?;
    if fci.is_empty() || !fci.len().is_multiple_of(8) {
        return None;
    }
    let mut ssrcs = Vec::new();
    let mut lowest: Option<(u64, u16)> = None;
    for entry in fci.chunks_exact(8) {
        ssrcs.push(u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]));
        let word = u32::from_be_bytes([entry[4], entry[5], entry[6], entry[7]]);
        let exponent = word >> 26;
        let mantissa = u64::from((word >> 9) & 0x1_FFFF);
        let overhead = (word & u32::from(MAX_OVERHEAD)) as u16;
        let bps = mantissa.checked_shl(exponent).unwrap_or(u64::MAX);
        if lowest.is_none_or(|(l, _)| bps < l) {
            lowest = Some((bps, overhead));
        }
    }
    let (bitrate_bps, overhead) = lowest?;
    Some(RtcpEvent::MaxBitrate {
        sender_ssrc,
        ssrcs,
        bitrate_bps,
        tmmbr_overhead: Some(overhead),
    })
}

/// MxTBR as RFC 5104 §4.2.1.1 codes it: the smallest exponent whose 17-bit mantissa holds
/// the rate (rounded down, so the notification never claims more than was asked).
fn mxtbr_word(bitrate_bps: u64, overhead: u16) -> u32 {
    let mut exponent = 0u32;
    while (bitrate_bps >> exponent) > MAX_MANTISSA {
        exponent += 1;
    }
    let mantissa = (bitrate_bps >> exponent) as u32;
    (exponent << 26) | (mantissa << 9) | u32::from(overhead.min(MAX_OVERHEAD))
}

/// TMMBR (format 3) or TMMBN (format 4), RFC 5104 §4.2.1.1 / §4.2.2.1: the common feedback
/// header (media SSRC 0), then one FCI entry per request (TMMBR) or bounding-set member (TMMBN).
fn build_tmmb(format: u8, sender_ssrc: u32, entries: &[TmmbnEntry]) -> Vec<u8> {
    let words = 2 + 2 * entries.len();
    let mut out = Vec::with_capacity(4 + 4 * words);
    out.push(0x80 | format);
    out.push(PT_RTPFB);
    out.extend_from_slice(&(words as u16).to_be_bytes());
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    for e in entries {
        out.extend_from_slice(&e.ssrc.to_be_bytes());
        out.extend_from_slice(&mxtbr_word(e.bitrate_bps, e.overhead).to_be_bytes());
    }
    out
}

/// One FCI entry of a TMMBR or TMMBN: in a TMMBN, whose request and what it asked for; in a
/// TMMBR, the media sender asked and the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TmmbnEntry {
    /// TMMBN: the SSRC of the TMMBR's sender (the request's owner); TMMBR: the media sender's.
    pub ssrc: u32,
    /// The limit it set, bit/s.
    pub bitrate_bps: u64,
    /// The overhead it measured (9 bits; larger values are capped).
    pub overhead: u16,
}

/// A packet to put in an outgoing compound datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpOut {
    /// Sender report for a stream we send (with report blocks on what we receive).
    SenderReport {
        /// Our SSRC.
        ssrc: u32,
        /// Wall clock, NTP format.
        ntp_time: u64,
        /// The RTP timestamp matching `ntp_time` on our stream's clock.
        rtp_time: u32,
        /// Packets sent.
        packet_count: u32,
        /// Payload octets sent.
        octet_count: u32,
        /// Report blocks (at most [`MAX_REPORT_BLOCKS`]).
        reports: Vec<ReportBlock>,
    },
    /// Receiver report (we send nothing on this SSRC yet).
    ReceiverReport {
        /// Our SSRC.
        ssrc: u32,
        /// Report blocks (at most [`MAX_REPORT_BLOCKS`]).
        reports: Vec<ReportBlock>,
    },
    /// SDES with our CNAME (RFC 3550 §6.5.1; required in every compound packet).
    Cname {
        /// Our SSRC.
        ssrc: u32,
        /// The canonical name.
        cname: String,
    },
    /// Picture Loss Indication.
    Pli {
        /// Our SSRC.
        sender_ssrc: u32,
        /// The peer's video SSRC.
        media_ssrc: u32,
    },
    /// Full Intra Request.
    Fir {
        /// Our SSRC.
        sender_ssrc: u32,
        /// The peer's video SSRC.
        media_ssrc: u32,
        /// Request sequence number (incremented per new request, RFC 5104 §4.3.1.1).
        sequence: u8,
    },
    /// Generic NACK for these lost packets.
    Nack {
        /// Our SSRC.
        sender_ssrc: u32,
        /// The peer's SSRC.
        media_ssrc: u32,
        /// The lost sequence numbers.
        lost: Vec<u16>,
    },
    /// TMMBN: the limits we now obey (RFC 5104 §4.2.2), answering a TMMBR. At most
    /// [`MAX_REPORT_BLOCKS`] entries.
    Tmmbn {
        /// Our SSRC.
        sender_ssrc: u32,
        /// The bounding set.
        entries: Vec<TmmbnEntry>,
    },
    /// TMMBR: asks the media sender `entry.ssrc` to stay under `entry.bitrate_bps` (what room
    /// systems send on a constrained link; the load fleet's VTCs send it too).
    Tmmbr {
        /// Our SSRC.
        sender_ssrc: u32,
        /// The request.
        entry: TmmbnEntry,
    },
}

/// Serialises `packets` back to back into one compound datagram (put an SR or RR first and an
/// SDES CNAME next for RFC 3550 compound packets; RFC 5506 reduced-size feedback may stand
/// alone).
///
/// # Errors
/// [`RtcpError::Build`] if a packet cannot be encoded (e.g. more than 31 report blocks).
pub fn build(packets: &[RtcpOut]) -> Result<Vec<u8>, RtcpError> {
    let mut out = Vec::new();
    for packet in packets {
        let boxed: Box<dyn Packet + Send + Sync> = match packet {
            RtcpOut::Tmmbn {
                sender_ssrc,
                entries,
            } => {
                if entries.len() > MAX_REPORT_BLOCKS {
                    return Err(RtcpError::Build(format!(
                        "TMMBN with {} entries",
                        entries.len()
                    )));
                }
                out.extend(build_tmmb(FORMAT_TMMBN, *sender_ssrc, entries));
                continue;
            }
            RtcpOut::Tmmbr { sender_ssrc, entry } => {
                out.extend(build_tmmb(FORMAT_TMMBR, *sender_ssrc, &[*entry]));
                continue;
            }
            RtcpOut::SenderReport {
                ssrc,
                ntp_time,
                rtp_time,
                packet_count,
                octet_count,
                reports,
            } => Box::new(SenderReport {
                ssrc: *ssrc,
                ntp_time: *ntp_time,
                rtp_time: *rtp_time,
                packet_count: *packet_count,
                octet_count: *octet_count,
                reports: reports.iter().map(ReceptionReport::from).collect(),
                profile_extensions: Bytes::new(),
            }),
            RtcpOut::ReceiverReport { ssrc, reports } => Box::new(ReceiverReport {
                ssrc: *ssrc,
                reports: reports.iter().map(ReceptionReport::from).collect(),
                profile_extensions: Bytes::new(),
            }),
            RtcpOut::Cname { ssrc, cname } => Box::new(SourceDescription {
                chunks: vec![SourceDescriptionChunk {
                    source: *ssrc,
                    items: vec![SourceDescriptionItem {
                        sdes_type: SdesType::SdesCname,
                        text: Bytes::copy_from_slice(cname.as_bytes()),
                    }],
                }],
            }),
            RtcpOut::Pli {
                sender_ssrc,
                media_ssrc,
            } => Box::new(PictureLossIndication {
                sender_ssrc: *sender_ssrc,
                media_ssrc: *media_ssrc,
            }),
            RtcpOut::Fir {
                sender_ssrc,
                media_ssrc,
                sequence,
            } => Box::new(FullIntraRequest {
                sender_ssrc: *sender_ssrc,
                // RFC 5104 §4.3.1.2: the media source field is unused (0); the FCI names it.
                media_ssrc: 0,
                fir: vec![FirEntry {
                    ssrc: *media_ssrc,
                    sequence_number: *sequence,
                }],
            }),
            RtcpOut::Nack {
                sender_ssrc,
                media_ssrc,
                lost,
            } => Box::new(TransportLayerNack {
                sender_ssrc: *sender_ssrc,
                media_ssrc: *media_ssrc,
                nacks: nack_pairs_from_sequence_numbers(lost),
            }),
        };
        let bytes = boxed
            .marshal()
            .map_err(|e| RtcpError::Build(e.to_string()))?;
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

/// NTP time (RFC 3550 §4: 32.32 fixed point seconds since 1900) from time since the Unix epoch.
#[must_use]
pub fn ntp_from_unix(since_epoch: std::time::Duration) -> u64 {
    /// Seconds from 1900-01-01 to 1970-01-01.
    const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
    let seconds = since_epoch.as_secs().wrapping_add(NTP_UNIX_OFFSET);
    let fraction = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    (seconds << 32) | fraction
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An SR from a VTC followed by SDES and a PLI, as Polycom and Cisco endpoints send them.
    const SR_SDES_PLI: [u8; 80] = [
        // --- SR ---
        0x81, 0xC8, 0x00, 0x0C, // V=2 P=0 RC=1, PT=200 (SR), length=12 words (52 bytes)
        0x11, 0x22, 0x33, 0x44, // sender SSRC
        0xE8, 0x00, 0x00, 0x00, // NTP seconds
        0x80, 0x00, 0x00, 0x00, // NTP fraction (0.5 s)
        0x00, 0x01, 0x5F, 0x90, // RTP timestamp 90000
        0x00, 0x00, 0x00, 0x64, // packet count 100
        0x00, 0x01, 0x86, 0xA0, // octet count 100000
        0xAA, 0xBB, 0xCC, 0xDD, // report block: SSRC of the stream we send
        0x19, 0x00, 0x00, 0x05, // fraction lost 25/256, cumulative lost 5
        0x00, 0x01, 0x00, 0x10, // extended highest seq: 1 cycle, seq 16
        0x00, 0x00, 0x00, 0x20, // jitter 32
        0x12, 0x34, 0x56, 0x78, // LSR
        0x00, 0x00, 0x80, 0x00, // DLSR 0.5 s
        // --- SDES ---
        0x81, 0xCA, 0x00, 0x03, // V=2 SC=1, PT=202 (SDES), length=3 words
        0x11, 0x22, 0x33, 0x44, // chunk SSRC
        0x01, 0x02, b'v', b't', // CNAME, length 2, "vt"
        0x00, 0x00, 0x00, 0x00, // end of items, padding to the word
        // --- PLI ---
        0x81, 0xCE, 0x00, 0x02, // V=2 FMT=1 (PLI), PT=206 (PSFB), length=2
        0x11, 0x22, 0x33, 0x44, // sender SSRC
        0xAA, 0xBB, 0xCC, 0xDD, // media SSRC
    ];

    #[test]
    fn compound_sr_sdes_pli_parses_into_typed_events() {
        let events = parse_compound(&SR_SDES_PLI).expect("valid");
        assert_eq!(
            events,
            vec![
                RtcpEvent::SenderReport {
                    ssrc: 0x1122_3344,
                    ntp_time: 0xE800_0000_8000_0000,
                    rtp_time: 90_000,
                    packet_count: 100,
                    octet_count: 100_000,
                    reports: vec![ReportBlock {
                        ssrc: 0xAABB_CCDD,
                        fraction_lost: 25,
                        total_lost: 5,
                        highest_sequence: 0x0001_0010,
                        jitter: 32,
                        last_sender_report: 0x1234_5678,
                        delay_since_last_sender_report: 0x8000,
                    }],
                },
                RtcpEvent::Ignored {
                    packet_type: 202,
                    format: 1
                },
                RtcpEvent::Pli {
                    sender_ssrc: 0x1122_3344,
                    media_ssrc: 0xAABB_CCDD
                },
            ]
        );
    }

    #[test]
    fn fir_names_the_stream_in_its_fci() {
        let fir = [
            0x84, 0xCE, 0x00, 0x04, // V=2 FMT=4 (FIR), PT=206, length=4
            0x11, 0x22, 0x33, 0x44, // sender SSRC
            0x00, 0x00, 0x00, 0x00, // media SSRC (unused)
            0xAA, 0xBB, 0xCC, 0xDD, // FCI: SSRC
            0x07, 0x00, 0x00, 0x00, // FCI: seq nr 7, reserved
        ];
        assert_eq!(
            parse_compound(&fir),
            Ok(vec![RtcpEvent::Fir {
                sender_ssrc: 0x1122_3344,
                entries: vec![(0xAABB_CCDD, 7)]
            }])
        );
    }

    #[test]
    fn generic_nack_lists_every_lost_sequence_number() {
        let nack = [
            0x81, 0xCD, 0x00, 0x03, // V=2 FMT=1 (generic NACK), PT=205 (RTPFB), length=3
            0x11, 0x22, 0x33, 0x44, // sender SSRC
            0xAA, 0xBB, 0xCC, 0xDD, // media SSRC
            0xFF, 0xFE, 0x00, 0x05, // PID 65534, BLP bits 0 and 2: 65535 and 1
        ];
        assert_eq!(
            parse_compound(&nack),
            Ok(vec![RtcpEvent::Nack {
                sender_ssrc: 0x1122_3344,
                media_ssrc: 0xAABB_CCDD,
                lost: vec![65534, 65535, 1],
            }])
        );
    }

    #[test]
    fn remb_and_tmmbr_give_a_bitrate() {
        let remb = [
            0x8F, 0xCE, 0x00, 0x05, // V=2 FMT=15 (AFB), PT=206, length=5
            0x11, 0x22, 0x33, 0x44, // sender SSRC
            0x00, 0x00, 0x00, 0x00, // media SSRC 0
            b'R', b'E', b'M', b'B', // unique identifier
            0x01, 0x0B, 0xD0, 0x90, // 1 SSRC, exponent 2, mantissa 0x3D090 (250000): 1 Mbit/s
            0xAA, 0xBB, 0xCC, 0xDD, // SSRC feedback
        ];
        assert_eq!(
            parse_compound(&remb),
            Ok(vec![RtcpEvent::MaxBitrate {
                sender_ssrc: 0x1122_3344,
                ssrcs: vec![0xAABB_CCDD],
                bitrate_bps: 1_000_000,
                tmmbr_overhead: None,
            }])
        );
        let tmmbr = [
            0x83, 0xCD, 0x00, 0x04, // V=2 FMT=3 (TMMBR), PT=205, length=4
            0x11, 0x22, 0x33, 0x44, // sender SSRC
            0x00, 0x00, 0x00, 0x00, // media SSRC 0
            0xAA, 0xBB, 0xCC, 0xDD, // FCI: SSRC
            0x0C, 0xF4, 0x24,
            0x28, // exp 3, mantissa 0x07A12 (31250): 250 kbit/s; overhead 40
        ];
        assert_eq!(
            parse_compound(&tmmbr),
            Ok(vec![RtcpEvent::MaxBitrate {
                sender_ssrc: 0x1122_3344,
                ssrcs: vec![0xAABB_CCDD],
                bitrate_bps: 250_000,
                tmmbr_overhead: Some(40),
            }])
        );
    }

    #[test]
    fn tmmbn_repeats_the_request_field_by_field() {
        let bytes = build(&[RtcpOut::Tmmbn {
            sender_ssrc: 0x5566_7788,
            entries: vec![TmmbnEntry {
                ssrc: 0x1122_3344,
                bitrate_bps: 512_000,
                overhead: 40,
            }],
        }])
        .expect("built");
        assert_eq!(
            bytes,
            [
                0x84, 0xCD, 0x00, 0x04, // V=2 FMT=4 (TMMBN), PT=205, length=4
                0x55, 0x66, 0x77, 0x88, // sender SSRC (us)
                0x00, 0x00, 0x00, 0x00, // media SSRC 0
                0x11, 0x22, 0x33, 0x44, // FCI: the requester's SSRC
                0x0B, 0xE8, 0x00, 0x28, // exp 2, mantissa 128000 (512 kbit/s), overhead 40
            ]
        );
    }

    #[test]
    fn a_built_tmmbr_parses_back_to_its_limit() {
        let bytes = build(&[RtcpOut::Tmmbr {
            sender_ssrc: 7,
            entry: TmmbnEntry {
                ssrc: 9,
                bitrate_bps: 512_000,
                overhead: 28,
            },
        }])
        .expect("built");
        assert_eq!(
            parse_compound(&bytes),
            Ok(vec![RtcpEvent::MaxBitrate {
                sender_ssrc: 7,
                ssrcs: vec![9],
                bitrate_bps: 512_000,
                tmmbr_overhead: Some(28),
            }])
        );
    }

    #[test]
    fn tmmbn_mantissa_never_rounds_the_rate_up() {
        for bps in [
            0,
            1,
            131_071,
            131_072,
            1_000_001,
            3_000_000,
            u64::from(u32::MAX),
        ] {
            let word = mxtbr_word(bps, 0);
            let (exp, mantissa) = (word >> 26, u64::from((word >> 9) & 0x1_FFFF));
            let coded = mantissa << exp;
            assert!(coded <= bps && bps - coded < (1 << exp), "{bps}: {coded}");
        }
    }

    #[test]
    fn a_bad_packet_costs_only_itself() {
        let mut datagram = vec![
            0x81, 0xCE, 0x00, 0x01, // PLI claiming one word: too short for its two SSRCs
            0x11, 0x22, 0x33, 0x44,
        ];
        datagram.extend_from_slice(&SR_SDES_PLI[68..]); // a good PLI
        datagram.extend_from_slice(&[0x81, 0xCE, 0x00, 0x09]); // runs past the end
        let events = parse_compound(&datagram).expect("first header is fine");
        assert_eq!(events.len(), 3);
        assert!(matches!(
            events[0],
            RtcpEvent::Malformed {
                packet_type: 206,
                ..
            }
        ));
        assert!(matches!(events[1], RtcpEvent::Pli { .. }));
        assert!(matches!(events[2], RtcpEvent::Malformed { .. }));
    }

    #[test]
    fn short_feedback_is_malformed_not_a_panic() {
        // Found by the `rtcp` fuzz target: the 0.17 `rtcp` crate read past the end of these.
        let cases: [&[u8]; 3] = [
            &[0x84, 0xCE, 0x00, 0x01, 0, 0, 0, 0], // FIR of one word: no media SSRC
            &[0x84, 0xCE, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // FIR, half an entry
            &[
                0x8F, 0xCE, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 0, b'R', b'E', b'M',
                b'B', // REMB
                0x05, 0x00, 0x00, 0x01, // claims 5 SSRCs, carries none
            ],
        ];
        for bytes in cases {
            let events = parse_compound(bytes).expect("header is fine");
            assert!(
                matches!(events[..], [RtcpEvent::Malformed { .. }]),
                "{events:?}"
            );
        }
    }

    #[test]
    fn rtp_and_garbage_are_not_rtcp() {
        assert_eq!(parse_compound(&[]), Err(RtcpError::TooShort { len: 0 }));
        assert_eq!(
            parse_compound(&[0x80, 0x60, 0x00, 0x00]),
            Err(RtcpError::NotRtcp(0x60))
        );
        assert_eq!(
            parse_compound(&[0x40, 0xC8, 0x00, 0x00]),
            Err(RtcpError::BadVersion { version: 1 })
        );
        assert!(!is_rtcp(&[0x80, 0x60, 0, 0]), "RTP PT 96");
        assert!(is_rtcp(&[0x80, 0xC9, 0, 1]), "RR");
        assert!(is_rtcp(&[0x81, 0xCE, 0, 2]), "PLI");
    }

    #[test]
    fn built_packets_parse_back() {
        let block = ReportBlock {
            ssrc: 9,
            fraction_lost: 3,
            total_lost: 70_000,
            highest_sequence: 0x0002_0001,
            jitter: 12,
            last_sender_report: 77,
            delay_since_last_sender_report: 88,
        };
        let bytes = build(&[
            RtcpOut::SenderReport {
                ssrc: 1,
                ntp_time: 2,
                rtp_time: 3,
                packet_count: 4,
                octet_count: 5,
                reports: vec![block],
            },
            RtcpOut::Cname {
                ssrc: 1,
                cname: "tessera".into(),
            },
            RtcpOut::Pli {
                sender_ssrc: 1,
                media_ssrc: 9,
            },
            RtcpOut::Fir {
                sender_ssrc: 1,
                media_ssrc: 9,
                sequence: 4,
            },
            RtcpOut::Nack {
                sender_ssrc: 1,
                media_ssrc: 9,
                lost: vec![100, 101, 117, 400],
            },
            RtcpOut::ReceiverReport {
                ssrc: 1,
                reports: vec![],
            },
        ])
        .expect("builds");
        let events = parse_compound(&bytes).expect("parses");
        assert_eq!(
            events,
            vec![
                RtcpEvent::SenderReport {
                    ssrc: 1,
                    ntp_time: 2,
                    rtp_time: 3,
                    packet_count: 4,
                    octet_count: 5,
                    reports: vec![block],
                },
                RtcpEvent::Ignored {
                    packet_type: 202,
                    format: 1
                },
                RtcpEvent::Pli {
                    sender_ssrc: 1,
                    media_ssrc: 9
                },
                RtcpEvent::Fir {
                    sender_ssrc: 1,
                    entries: vec![(9, 4)]
                },
                RtcpEvent::Nack {
                    sender_ssrc: 1,
                    media_ssrc: 9,
                    lost: vec![100, 101, 117, 400],
                },
                RtcpEvent::ReceiverReport {
                    ssrc: 1,
                    reports: vec![]
                },
            ]
        );
    }

    #[test]
    fn pli_is_built_byte_for_byte() {
        let bytes = build(&[RtcpOut::Pli {
            sender_ssrc: 0x0102_0304,
            media_ssrc: 0x0A0B_0C0D,
        }])
        .expect("builds");
        assert_eq!(
            bytes,
            [
                0x81, 0xCE, 0x00, 0x02, // V=2 FMT=1, PT=206, length=2
                0x01, 0x02, 0x03, 0x04, // sender SSRC
                0x0A, 0x0B, 0x0C, 0x0D, // media SSRC
            ]
        );
    }

    #[test]
    fn too_many_report_blocks_is_an_error_not_a_panic() {
        let reports = vec![ReportBlock::default(); MAX_REPORT_BLOCKS + 1];
        assert!(matches!(
            build(&[RtcpOut::ReceiverReport { ssrc: 1, reports }]),
            Err(RtcpError::Build(_))
        ));
    }

    #[test]
    fn ntp_time_of_the_unix_epoch() {
        use std::time::Duration;
        assert_eq!(ntp_from_unix(Duration::ZERO), 2_208_988_800 << 32);
        assert_eq!(
            ntp_from_unix(Duration::from_millis(1500)) & 0xFFFF_FFFF,
            1 << 31,
            "half a second is half the fraction"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_compound(&bytes);
        }

        #[test]
        fn arbitrary_rtcp_shaped_packets_never_panic(
            first in 0x80u8..=0x9F,
            pt in 192u8..=223,
            words in 0u16..12,
            body in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut bytes = vec![first, pt];
            bytes.extend_from_slice(&words.to_be_bytes());
            bytes.extend(body);
            let _ = parse_compound(&bytes);
        }
    }
}
