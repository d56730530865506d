//! The RTCP side of [`CallMedia`]: what the peer's RTCP asks for (keyframes, retransmissions),
//! the reports we send every [`REPORT_INTERVAL`](super::REPORT_INTERVAL), and our own keyframe
//! requests and NACKs with their rate limit.
//!
//! Owns no state of its own: it works on the machine's fields and queues transmits and events.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tracing::{debug, trace};

use crate::api::MediaEvent;
use crate::rtcp::{self, ReportBlock, RtcpEvent, RtcpOut};
use crate::rtp_stats::{ReceiveStats, SendStats};
use crate::video::VIDEO_CLOCK_RATE;

use super::{
    Admission, CallMedia, EngineRequest, Event, SlateRequest, Stream, Transmit,
    KEYFRAME_REQUEST_GAP,
};

impl CallMedia {
    /// One RTCP datagram from the peer, on `stream`'s RTCP socket or muxed on its RTP socket.
    pub(super) fn rtcp_datagram(
        &mut self,
        now: Instant,
        stream: Stream,
        datagram: &[u8],
        from: SocketAddr,
        muxed: bool,
    ) {
        let events = match rtcp::parse_compound(datagram) {
            Ok(events) => events,
            Err(e) => {
                trace!(cname = %self.cname, %from, error = %e, "not RTCP, ignored");
                return;
            }
        };
        let port = match stream {
            Stream::Audio => Some(&mut self.audio_port),
            Stream::Video => self.video_port.as_mut(),
        };
        if port.is_some_and(|p| p.admit_rtcp(now, from, muxed) == Admission::Foreign) {
            // A stranger's RTCP must neither keep a dead call alive nor ask for keyframes.
            self.counters.foreign_packets += 1;
            return;
        }
        self.last_heard = now;
        self.peer_sent_rtcp = true;
        for event in events {
            self.rtcp_event(now, stream, event);
        }
    }

    fn rtcp_event(&mut self, now: Instant, stream: Stream, event: RtcpEvent) {
        match event {
            RtcpEvent::SenderReport {
                ssrc,
                ntp_time,
                reports,
                ..
            } => {
                if stream == Stream::Video {
                    self.video_loss_reported(now, &reports);
                }
                let stats = match stream {
                    Stream::Audio => Some(&mut self.audio_in.stats),
                    Stream::Video => self.video_in.as_mut().map(|v| &mut v.stats),
                };
                if let Some(stats) = stats.filter(|s| s.ssrc() == Some(ssrc)) {
                    stats.on_sender_report(now, ntp_time);
                }
            }
            RtcpEvent::Pli { .. } | RtcpEvent::Fir { .. } => self.peer_wants_keyframe(),
            RtcpEvent::Nack { lost, .. } => {
                let (Some(out), Some(port)) = (&self.video_out, &self.video_port) else {
                    return;
                };
                let again = out.retransmissions(&lost);
                trace!(cname = %self.cname, asked = lost.len(), resent = again.len(), "NACK");
                let (socket, to) = port.rtp_target();
                self.counters.video_tx_packets += again.len() as u64;
                self.transmits
                    .extend(
                        again
                            .into_iter()
                            .map(|bytes| Transmit { socket, to, bytes }),
                    );
            }
            RtcpEvent::MaxBitrate {
                sender_ssrc,
                bitrate_bps,
                tmmbr_overhead,
                ..
            } => {
                if stream == Stream::Video {
                    self.bandwidth_limit(now, sender_ssrc, bitrate_bps, tmmbr_overhead);
                }
            }
            RtcpEvent::ReceiverReport { reports, .. } => {
                if stream == Stream::Video {
                    self.video_loss_reported(now, &reports);
                }
            }
            RtcpEvent::Ignored { .. } | RtcpEvent::Malformed { .. } => {}
        }
    }

    /// The peer asked for a keyframe (RTCP PLI or FIR, or its signalling): the meeting's
    /// layout encoder, or the slate studio while it watches a slate, makes one.
    pub(super) fn peer_wants_keyframe(&mut self) {
        self.counters.keyframes_requested_by_peer += 1;
        if let Some(participant) = self.participant() {
            trace!(cname = %self.cname, "peer asked for a keyframe");
            self.events
                .push_back(Event::Engine(EngineRequest::KeyframeRequest {
                    participant,
                }));
        } else if self.slate.as_ref().is_some_and(|w| w.streaming) {
            trace!(cname = %self.cname, "peer asked for a keyframe of its slate");
            self.events
                .push_back(Event::Slate(SlateRequest::KeyframeRequest));
        }
    }

    /// Passes on the loss the peer reports on our video stream.
    fn video_loss_reported(&mut self, now: Instant, reports: &[ReportBlock]) {
        let Some(ours) = self.video_out.as_ref().map(|o| o.ssrc) else {
            return;
        };
        if let Some(block) = reports.iter().find(|b| b.ssrc == ours) {
            self.peer_reports_video_loss(now, block.fraction_lost);
        }
    }

    /// Asks the peer for a keyframe (PLI, or FIR when it only takes FIR), at most once per
    /// [`KEYFRAME_REQUEST_GAP`]; a request inside the gap is sent when it ends.
    pub(super) fn request_keyframe_from_peer(&mut self, now: Instant) {
        let (Some(setup), Some(video_in), Some(out)) =
            (&self.video, &self.video_in, &self.video_out)
        else {
            return;
        };
        if self
            .last_keyframe_request
            .is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_REQUEST_GAP)
        {
            self.keyframe_request_pending = true;
            return;
        }
        self.keyframe_request_pending = false;
        self.last_keyframe_request = Some(now);
        let media_ssrc = video_in.stats.ssrc().unwrap_or(0);
        let request = if setup.fir && !setup.pli {
            self.fir_sequence = self.fir_sequence.wrapping_add(1);
            RtcpOut::Fir {
                sender_ssrc: out.ssrc,
                media_ssrc,
                sequence: self.fir_sequence,
            }
        } else {
            RtcpOut::Pli {
                sender_ssrc: out.ssrc,
                media_ssrc,
            }
        };
        debug!(cname = %self.cname, ?request, "asking the peer for a keyframe");
        self.counters.keyframes_requested_by_gateway += 1;
        self.send_feedback(request);
        // Also in signalling: an H.323 peer may act on H.245 `videoFastUpdatePicture` only.
        self.events
            .push_back(Event::Media(MediaEvent::KeyframeNeeded));
    }

    /// Asks the peer to resend `lost` (generic NACK).
    pub(super) fn send_nack(&mut self, lost: Vec<u16>) {
        let (Some(video_in), Some(out)) = (&self.video_in, &self.video_out) else {
            return;
        };
        let nack = RtcpOut::Nack {
            sender_ssrc: out.ssrc,
            media_ssrc: video_in.stats.ssrc().unwrap_or(0),
            lost,
        };
        self.send_feedback(nack);
    }

    /// Sends a feedback message on the video stream's RTCP, in a compound packet after an RR
    /// (RFC 4585 §3.1).
    pub(super) fn send_feedback(&mut self, feedback: RtcpOut) {
        let (Some(port), Some(out)) = (&self.video_port, &self.video_out) else {
            return;
        };
        let packets = [
            RtcpOut::ReceiverReport {
                ssrc: out.ssrc,
                reports: Vec::new(),
            },
            RtcpOut::Cname {
                ssrc: out.ssrc,
                cname: self.cname.clone(),
            },
            feedback,
        ];
        match rtcp::build(&packets) {
            Ok(bytes) => self.transmits.extend(port.rtcp_transmits(&bytes)),
            Err(e) => debug!(cname = %self.cname, error = %e, "feedback not built"),
        }
    }

    /// SR (or RR while we have sent nothing) with SDES on each stream.
    pub(super) fn send_reports(&mut self, now: Instant, wall: SystemTime) {
        let ntp = rtcp::ntp_from_unix(wall.duration_since(UNIX_EPOCH).unwrap_or_default());
        let audio = report(
            now,
            ntp,
            self.audio_out.ssrc,
            &self.audio_out.stats,
            self.audio_out.codec.rtp_clock_rate(),
            &mut self.audio_in.stats,
            &self.cname,
        );
        if let Some(bytes) = audio {
            self.transmits
                .extend(self.audio_port.rtcp_transmits(&bytes));
        }
        if let (Some(port), Some(out), Some(video_in)) =
            (&self.video_port, &self.video_out, &mut self.video_in)
        {
            let video = report(
                now,
                ntp,
                out.ssrc,
                &out.stats,
                VIDEO_CLOCK_RATE,
                &mut video_in.stats,
                &self.cname,
            );
            if let Some(bytes) = video {
                self.transmits.extend(port.rtcp_transmits(&bytes));
            }
        }
    }
}

/// A stream's periodic compound report: SR if we have sent on it, else RR, then SDES; `None`
/// while there is nothing to report either way.
fn report(
    now: Instant,
    ntp: u64,
    ssrc: u32,
    sent: &SendStats,
    clock_rate: u32,
    received: &mut ReceiveStats,
    cname: &str,
) -> Option<Vec<u8>> {
    let reports: Vec<_> = received.report_block(now).into_iter().collect();
    let first = match sent.rtp_time_at(now, clock_rate) {
        Some(rtp_time) => RtcpOut::SenderReport {
            ssrc,
            ntp_time: ntp,
            rtp_time,
            packet_count: sent.packets,
            octet_count: sent.octets,
            reports,
        },
        None if reports.is_empty() => return None,
        None => RtcpOut::ReceiverReport { ssrc, reports },
    };
    let cname = RtcpOut::Cname {
        ssrc,
        cname: cname.to_owned(),
    };
    rtcp::build(&[first, cname]).ok()
}
