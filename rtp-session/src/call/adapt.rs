//! The bandwidth side of [`CallMedia`]: TMMBR and REMB from the peer, and the loss its receiver
//! reports show on our video, fed to the call's [`BandwidthEstimator`]; a TMMBR is answered with
//! a TMMBN, and a change of bit-rate class goes to the engine as the call's new video format
//! ([`EngineRequest::VideoFormat`]), which moves it to that class's shared encoder at a keyframe.
//!
//! The other direction too: the biggest tile the engine shows the peer's picture in goes to the
//! call's [`crate::tile_request::TileRequest`], whose TMMBRs (and keyframe requests) go out here.
//!
//! Owns no state of its own beyond the estimator: it works on the machine's fields and queues
//! transmits and events. The class arithmetic lives in [`crate::bandwidth`].

use std::time::Instant;

use tracing::debug;

use crate::bandwidth::{BandwidthEstimator, BitrateClass, LimitSource};
use crate::h264_rtp::VideoFormat;
use crate::rtcp::{RtcpOut, TmmbnEntry};
use crate::tile_request::TileRequestOut;

use super::{CallMedia, EngineRequest, Event};

/// A call's estimator and the class the engine was last told.
#[derive(Debug)]
pub(super) struct Adaptation {
    estimator: BandwidthEstimator,
    /// The class of the format the engine has now (`None` until joined).
    announced: Option<BitrateClass>,
}

impl Adaptation {
    /// For a call whose far end takes `ceiling_bps` and pictures up to `max_size`.
    pub(super) fn new(ceiling_bps: u64, max_size: (u32, u32)) -> Self {
        Adaptation {
            estimator: BandwidthEstimator::new(ceiling_bps, max_size),
            announced: None,
        }
    }

    /// When the estimator next has a pending move up to make.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.estimator.poll_timeout()
    }
}

impl CallMedia {
    /// `format` (what the call negotiated) at the size of the call's current class; remembers
    /// that the engine is about to get it.
    pub(super) fn adapted_format(&mut self, format: Option<VideoFormat>) -> Option<VideoFormat> {
        let (Some(mut format), Some(a)) = (format, &mut self.bandwidth) else {
            return format;
        };
        let class = a.estimator.class();
        a.announced = Some(class);
        format.size = a.estimator.size_of(class);
        Some(format)
    }

    /// The peer set a limit: TMMBR (answered with a TMMBN naming it) or REMB.
    pub(super) fn bandwidth_limit(
        &mut self,
        now: Instant,
        requester: u32,
        bitrate_bps: u64,
        tmmbr_overhead: Option<u16>,
    ) {
        let Some(a) = &mut self.bandwidth else {
            return;
        };
        let source = if tmmbr_overhead.is_some() {
            LimitSource::Tmmbr
        } else {
            LimitSource::Remb
        };
        debug!(cname = %self.cname, bitrate_bps, ?source, "peer set a bit-rate limit");
        a.estimator.handle_limit(now, source, bitrate_bps);
        if let (Some(overhead), Some(out)) = (tmmbr_overhead, &self.video_out) {
            // RFC 5104 §4.2.1.2: the media sender answers every TMMBR with the bounding set;
            // with one requester that is the request itself.
            let tmmbn = RtcpOut::Tmmbn {
                sender_ssrc: out.ssrc,
                entries: vec![TmmbnEntry {
                    ssrc: requester,
                    bitrate_bps,
                    overhead,
                }],
            };
            self.send_feedback(tmmbn);
        }
        self.announce_class();
    }

    /// The peer's receiver report shows `fraction_lost` (of 256) on our video.
    pub(super) fn bandwidth_loss(&mut self, now: Instant, fraction_lost: u8) {
        if let Some(a) = &mut self.bandwidth {
            a.estimator.handle_loss(now, fraction_lost);
            self.announce_class();
        }
    }

    /// Lets a pending move up happen.
    pub(super) fn bandwidth_timeout(&mut self, now: Instant) {
        if let Some(a) = &mut self.bandwidth {
            a.estimator.handle_timeout(now);
            self.announce_class();
        }
    }

    /// The engine shows the peer's picture at most at `tile` now.
    pub(super) fn tile_changed(&mut self, now: Instant, tile: Option<(u32, u32)>) {
        if let Some(r) = &mut self.tile_request {
            debug!(cname = %self.cname, ?tile, "biggest tile of the peer's picture");
            r.handle_tile(now, tile);
            self.send_tile_requests(now);
        }
    }

    /// Lets a pending request down, or a repeat, go out.
    pub(super) fn tile_timeout(&mut self, now: Instant) {
        if let Some(r) = &mut self.tile_request {
            r.handle_timeout(now);
            self.send_tile_requests(now);
        }
    }

    /// Sends what the tile request decided: TMMBR to the peer's video sender, keyframe requests.
    fn send_tile_requests(&mut self, now: Instant) {
        while let Some(out) = self.tile_request.as_mut().and_then(|r| r.poll_output()) {
            match out {
                TileRequestOut::Tmmbr(bitrate_bps) => {
                    let (Some(video_in), Some(video_out)) = (&self.video_in, &self.video_out)
                    else {
                        return;
                    };
                    // Before the peer's first packet its SSRC is unknown; the request is
                    // repeated later.
                    let Some(media_ssrc) = video_in.stats.ssrc() else {
                        continue;
                    };
                    debug!(cname = %self.cname, bitrate_bps, "asking the peer for a rate (TMMBR)");
                    self.counters.tmmbr_sent += 1;
                    let tmmbr = RtcpOut::Tmmbr {
                        sender_ssrc: video_out.ssrc,
                        entry: TmmbnEntry {
                            ssrc: media_ssrc,
                            bitrate_bps,
                            // IPv4 + UDP + RTP headers (RFC 5104 §4.2.1.2's overhead).
                            overhead: 40,
                        },
                    };
                    self.send_feedback(tmmbr);
                }
                TileRequestOut::Keyframe => self.request_keyframe_from_peer(now),
            }
        }
    }

    /// Tells the engine the call's new format when its class changed while joined.
    fn announce_class(&mut self) {
        let (Some(a), Some(participant), Some(setup)) = (
            &mut self.bandwidth,
            self.joined.as_ref().map(|j| j.participant),
            &self.video,
        ) else {
            return;
        };
        let class = a.estimator.class();
        if a.announced == Some(class) {
            return;
        }
        a.announced = Some(class);
        let mut video_format = VideoFormat::of(setup);
        video_format.size = a.estimator.size_of(class);
        debug!(
            cname = %self.cname,
            ?class,
            target_bps = a.estimator.target_bps(),
            "bit-rate class changed"
        );
        self.counters.bitrate_class_changes += 1;
        self.events
            .push_back(Event::Engine(EngineRequest::VideoFormat {
                participant,
                video_format,
            }));
    }
}
