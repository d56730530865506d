//! The browser's RTCP feedback about what the gateway sends it: a `webrtc` interceptor placed
//! next to the wire ([`TAP_SLOT`], before every default interceptor, so none has filtered
//! anything yet) that copies out each REMB (the browser's receive bandwidth estimate) and each
//! keyframe request (PLI, FIR) and passes every packet on unchanged.
//!
//! `webrtc` 0.21 hands inbound RTCP to the application only when an interceptor marks it; a tap
//! with its own channel is used instead because REMB names no single track (its SSRC list
//! covers them all) and the peer wants the events in one place, whichever track they name.
//!
//! Transport-wide congestion control feedback is not read: the gateway does not negotiate
//! `transport-cc` with browsers, so Chromium sends REMB.
//!
//! Owns the reading of those RTCP packets; it must not decide anything about layers or
//! keyframes (the peer driver turns them into engine inputs, the engine decides).

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::sansio::Protocol;
use tokio::sync::mpsc;

/// The tap's place in the interceptor chain: wire-most (the default chain starts at 1000).
pub const TAP_SLOT: usize = 500;

/// Feedback events kept queued for the peer; beyond that they are dropped (a browser sends a
/// REMB about once a second and keyframe requests rarely; a flood must not grow memory).
const QUEUE: usize = 64;

/// What the browser said about the gateway's streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// Its receive bandwidth estimate for all the gateway's streams, bits per second.
    Remb(u64),
    /// It needs a keyframe of the stream with this SSRC (PLI, or one FIR entry).
    Keyframe(u32),
}

/// The interceptor. See the module doc.
pub struct FeedbackTap {
    events: mpsc::Sender<Feedback>,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

/// A tap and the receiving end of what it reads.
pub fn tap() -> (FeedbackTap, mpsc::Receiver<Feedback>) {
    let (events, rx) = mpsc::channel(QUEUE);
    let tap = FeedbackTap {
        events,
        read: VecDeque::new(),
        write: VecDeque::new(),
    };
    (tap, rx)
}

/// The feedback in one RTCP packet, if it is one the gateway acts on.
pub fn read(packet: &dyn rtc::rtcp::Packet) -> Vec<Feedback> {
    let any = packet.as_any();
    if let Some(remb) = any.downcast_ref::<ReceiverEstimatedMaximumBitrate>() {
        // A float on the wire (mantissa and exponent); negative or NaN means nothing usable.
        let bps = if remb.bitrate.is_finite() && remb.bitrate > 0.0 {
            remb.bitrate as u64
        } else {
            0
        };
        return vec![Feedback::Remb(bps)];
    }
    if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
        return vec![Feedback::Keyframe(pli.media_ssrc)];
    }
    if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
        return fir.fir.iter().map(|e| Feedback::Keyframe(e.ssrc)).collect();
    }
    Vec::new()
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for FeedbackTap {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            for feedback in packets.iter().flat_map(|p| read(p.as_ref())) {
                // Full (a flood) or closed (the peer is gone): dropping is right either way.
                let _ = self.events.try_send(feedback);
            }
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
}

impl Interceptor for FeedbackTap {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp::payload_feedbacks::full_intra_request::FirEntry;

    #[test]
    fn remb_pli_and_fir_are_read_and_other_rtcp_is_not() {
        let remb = ReceiverEstimatedMaximumBitrate {
            sender_ssrc: 1,
            bitrate: 250_000.0,
            ssrcs: vec![5, 6],
        };
        assert_eq!(read(&remb), [Feedback::Remb(250_000)]);
        let bogus = ReceiverEstimatedMaximumBitrate {
            bitrate: f32::NAN,
            ..remb
        };
        assert_eq!(read(&bogus), [Feedback::Remb(0)]);
        let pli = PictureLossIndication {
            sender_ssrc: 1,
            media_ssrc: 42,
        };
        assert_eq!(read(&pli), [Feedback::Keyframe(42)]);
        let fir = FullIntraRequest {
            sender_ssrc: 1,
            media_ssrc: 0,
            fir: vec![
                FirEntry {
                    ssrc: 7,
                    sequence_number: 1,
                },
                FirEntry {
                    ssrc: 8,
                    sequence_number: 1,
                },
            ],
        };
        assert_eq!(read(&fir), [Feedback::Keyframe(7), Feedback::Keyframe(8)]);
        let rr = rtc::rtcp::receiver_report::ReceiverReport::default();
        assert!(read(&rr).is_empty());
    }
}
