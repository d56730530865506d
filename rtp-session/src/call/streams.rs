//! A Tessera link's video, stream by stream ([`Input::Forward`](super::Input::Forward),
//! [`MediaControl::Streams`](crate::api::MediaControl::Streams)): instead of one picture each way,
//! the link's video m-line carries one RTP stream per participant forwarded, each with its own
//! SSRC ([`stream_ssrc`] of the link's base and the participant), and the far node's streams
//! arrive the same way.
//!
//! - **Send**: each source's access units are rewritten by a [`SlotRewriter`] of its own (the
//!   sequence numbers and timestamps the WebRTC slots use), so one SSRC is one continuous stream
//!   that starts at a keyframe. The SSRC depends on the participant only, not on the engine's
//!   slot: the roster names it once and it never moves to someone else.
//! - **Receive**: packets are demultiplexed by SSRC, each into a receive chain of its own
//!   ([`VideoIn`]: jitter buffer, depacketiser, keyframe gate), at most [`MAX_STREAMS_IN`] of them
//!   (the least recently heard is forgotten first).
//!
//! Owns the per-stream rewriting and reassembly; it must not decide who is forwarded (the
//! engine's slots do) nor who an SSRC stands for (the roster does, in the gateway).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use mixer::codec::h264::EncodedFrame;
use tracing::debug;

use super::{CallMedia, EngineRequest, Event};
use crate::api::VideoSetup;
use crate::forward::{stream_ssrc, ForwardError, SlotRewriter};
use crate::rtp::{self, RtpHeader};
use crate::video::{VideoIn, VideoInOutput, MAX_VIDEO_PAYLOAD};

/// Most incoming streams reassembled at once (the far node forwards at most 9; a few more let a
/// stream that has just stopped finish while its successor starts).
pub const MAX_STREAMS_IN: usize = 16;

/// One incoming stream.
#[derive(Debug)]
struct StreamIn {
    video: VideoIn,
    last_heard: Instant,
}

/// What a received packet or timeout produced: each stream's output, by SSRC.
pub(super) type StreamsOutput = Vec<(u32, VideoInOutput)>;

/// The link's video streams both ways. See the module doc.
#[derive(Debug)]
pub struct LinkStreams {
    base: u32,
    setup: VideoSetup,
    /// Outgoing streams by source participant: its SSRC and rewriter.
    out: HashMap<u64, (u32, SlotRewriter)>,
    /// Incoming streams by SSRC.
    incoming: BTreeMap<u32, StreamIn>,
    /// Seeds for the outgoing streams' first sequence numbers and timestamps (advanced per
    /// stream so two streams never start alike).
    seed: u32,
}

impl LinkStreams {
    /// A link's streams: ours get SSRCs from `base`; `seed` varies their first sequence numbers
    /// and timestamps (random, RFC 3550 §5.1).
    #[must_use]
    pub fn new(base: u32, setup: &VideoSetup, seed: u32) -> Self {
        LinkStreams {
            base,
            setup: *setup,
            out: HashMap::new(),
            incoming: BTreeMap::new(),
            seed,
        }
    }

    /// The SSRC base our streams' SSRCs derive from.
    #[must_use]
    pub fn base(&self) -> u32 {
        self.base
    }

    /// RTP packets (serialised) carrying one access unit of `source`, whose 90 kHz timestamp on
    /// the engine's clock is `timestamp`, on that source's own SSRC. A source's first unit must
    /// be a keyframe.
    pub fn send(
        &mut self,
        now: Instant,
        source: u64,
        timestamp: u32,
        access_unit: &[u8],
    ) -> Result<Vec<Vec<u8>>, ForwardError> {
        let (ssrc, rewriter) = self.out.entry(source).or_insert_with(|| {
            // Each stream's own first values: a well-mixed step of the seed.
            self.seed = self
                .seed
                .wrapping_mul(0x2C1B_3C6D)
                .wrapping_add(0x297A_2D39);
            let first_sequence = (self.seed >> 16) as u16;
            let first_timestamp = self.seed.rotate_left(7);
            (
                stream_ssrc(self.base, source),
                SlotRewriter::new(first_sequence, first_timestamp, MAX_VIDEO_PAYLOAD),
            )
        });
        let packets = rewriter.rewrite(now, source, timestamp, access_unit)?;
        Ok(packets
            .into_iter()
            .map(|p| {
                let header = RtpHeader {
                    marker: p.marker,
                    payload_type: self.setup.payload_type,
                    sequence: p.sequence,
                    timestamp: p.timestamp,
                    ssrc: *ssrc,
                };
                rtp::write(&header, &p.payload)
            })
            .collect())
    }

    /// Forgets the outgoing streams of sources no longer forwarded (a later unit of theirs
    /// starts again at a keyframe).
    pub fn retain_sources(&mut self, keep: impl Fn(u64) -> bool) {
        self.out.retain(|source, _| keep(*source));
    }

    /// One received packet of the link's video payload type.
    pub(super) fn receive(
        &mut self,
        now: Instant,
        header: &RtpHeader,
        payload: &[u8],
    ) -> (u32, VideoInOutput) {
        if !self.incoming.contains_key(&header.ssrc) && self.incoming.len() >= MAX_STREAMS_IN {
            let stalest = self
                .incoming
                .iter()
                .min_by_key(|(_, s)| s.last_heard)
                .map(|(ssrc, _)| *ssrc);
            if let Some(ssrc) = stalest {
                self.incoming.remove(&ssrc);
            }
        }
        let stream = self
            .incoming
            .entry(header.ssrc)
            .or_insert_with(|| StreamIn {
                video: VideoIn::new(&self.setup),
                last_heard: now,
            });
        stream.last_heard = now;
        (header.ssrc, stream.video.receive(now, header, payload))
    }

    /// Releases what the streams' jitter buffers have given up waiting for.
    pub(super) fn handle_timeout(&mut self, now: Instant) -> StreamsOutput {
        self.incoming
            .iter_mut()
            .filter(|(_, s)| s.video.poll_timeout().is_some_and(|at| at <= now))
            .map(|(ssrc, s)| (*ssrc, s.video.handle_timeout(now)))
            .collect()
    }

    /// When [`handle_timeout`](Self::handle_timeout) has work.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.incoming
            .values()
            .filter_map(|s| s.video.poll_timeout())
            .min()
    }

    /// How many streams flow out and in now.
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        (self.out.len(), self.incoming.len())
    }
}

impl CallMedia {
    /// Sends one forwarded access unit of `source` on its own SSRC (a Tessera link, joined).
    pub(super) fn forward(
        &mut self,
        now: Instant,
        source: u64,
        timestamp: u32,
        frame: &EncodedFrame,
    ) {
        let (Some(streams), Some(port), true) =
            (&mut self.streams, &self.video_port, self.joined.is_some())
        else {
            return;
        };
        let packets = match streams.send(now, source, timestamp, &frame.data) {
            Ok(packets) => packets,
            Err(e) => {
                debug!(cname = %self.cname, source, error = %e, "forwarded unit not sent");
                return;
            }
        };
        let target = port.rtp_target();
        self.queue_video(target, packets);
    }

    /// Acts on what one of a Tessera link's incoming streams produced: its access units go to
    /// the engine as that stream's (not decoded here: the engine decodes remote participants).
    pub(super) fn stream_output(&mut self, now: Instant, ssrc: u32, output: VideoInOutput) {
        self.counters.lost_packets += output.lost;
        self.counters.video_rx_frames += output.frames;
        let Some(participant) = self.participant() else {
            return;
        };
        // NACKs name one SSRC per request and the streams come and go: loss asks for a
        // keyframe instead (rate-limited like any).
        if !output.actions.is_empty() {
            self.request_keyframe_from_peer(now);
        }
        self.events
            .extend(output.access_units.into_iter().map(|access_unit| {
                Event::Engine(EngineRequest::LinkVideo {
                    participant,
                    ssrc,
                    access_unit,
                })
            }));
    }
}

#[cfg(test)]
// One arbitrary origin; after it, time moves only by what each test adds.
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn setup() -> VideoSetup {
        VideoSetup {
            local_port: 0,
            remote: "127.0.0.1:5000".parse().unwrap(),
            payload_type: 97,
            packetization_mode: 1,
            max_size: (1280, 720),
            bitrate_bps: 2_000_000,
            nack: false,
            pli: true,
            fir: false,
            rtcp_mux: true,
            tmmbr: false,
        }
    }

    use crate::forward::tests::unit;

    #[test]
    fn each_source_goes_out_on_its_own_ssrc_and_comes_back_apart() {
        let t0 = Instant::now();
        let mut a = LinkStreams::new(0x1000_0000, &setup(), 7);
        let mut b = LinkStreams::new(0x2000_0000, &setup(), 9);
        // Nothing before a keyframe of a source.
        assert_eq!(
            a.send(t0, 5, 0, &unit(false, 100)),
            Err(ForwardError::NotAtKeyframe)
        );
        let mut wire = Vec::new();
        for i in 0..4u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 40);
            // Interleaved, each big enough for several packets.
            wire.extend(a.send(now, 5, i * 3600, &unit(i == 0, 3000)).unwrap());
            wire.extend(a.send(now, 6, i * 3600, &unit(i == 0, 2000)).unwrap());
        }
        let ssrcs: std::collections::BTreeSet<u32> = wire
            .iter()
            .map(|p| rtp::parse(p).unwrap().header.ssrc)
            .collect();
        let expected: std::collections::BTreeSet<u32> =
            [stream_ssrc(0x1000_0000, 5), stream_ssrc(0x1000_0000, 6)].into();
        assert_eq!(ssrcs, expected);
        assert_eq!(a.counts(), (2, 0));

        let mut units: BTreeMap<u32, Vec<Vec<u8>>> = BTreeMap::new();
        let later = t0 + Duration::from_secs(1);
        for p in &wire {
            let packet = rtp::parse(p).unwrap();
            let (ssrc, out) = b.receive(t0, &packet.header, packet.payload);
            units.entry(ssrc).or_default().extend(out.access_units);
        }
        for (ssrc, out) in b.handle_timeout(later) {
            units.entry(ssrc).or_default().extend(out.access_units);
        }
        assert_eq!(units.len(), 2);
        let five = &units[&stream_ssrc(0x1000_0000, 5)];
        let six = &units[&stream_ssrc(0x1000_0000, 6)];
        assert_eq!(five.len(), 4, "every unit of source 5, whole");
        assert_eq!(six.len(), 4);
        // Each stream's units are its source's own (by their sizes).
        let sizes = |units: &[Vec<u8>]| units.iter().map(Vec::len).collect::<Vec<_>>();
        assert!(
            five.iter().all(|u| (3000..3040).contains(&u.len())),
            "{:?}",
            sizes(five)
        );
        assert!(
            six.iter().all(|u| (2000..2040).contains(&u.len())),
            "{:?}",
            sizes(six)
        );
        assert_eq!(b.counts(), (0, 2));
    }

    #[test]
    fn a_source_forgotten_starts_again_at_a_keyframe_and_incoming_streams_are_bounded() {
        let t0 = Instant::now();
        let mut a = LinkStreams::new(1, &setup(), 1);
        a.send(t0, 5, 0, &unit(true, 10)).unwrap();
        a.send(t0, 5, 3000, &unit(false, 10)).unwrap();
        a.retain_sources(|s| s != 5);
        assert_eq!(
            a.send(t0, 5, 6000, &unit(false, 10)),
            Err(ForwardError::NotAtKeyframe)
        );

        let mut b = LinkStreams::new(2, &setup(), 2);
        for ssrc in 0..(MAX_STREAMS_IN as u32 + 4) {
            let header = RtpHeader {
                marker: true,
                payload_type: 97,
                sequence: 1,
                timestamp: 0,
                ssrc,
            };
            let now = t0 + Duration::from_millis(u64::from(ssrc));
            b.receive(now, &header, &[0x65, 1, 2, 3]);
        }
        assert_eq!(b.counts().1, MAX_STREAMS_IN);
        // The first ones heard were forgotten.
        assert!(!b.incoming.contains_key(&0));
        assert!(b.incoming.contains_key(&(MAX_STREAMS_IN as u32 + 3)));
    }
}
