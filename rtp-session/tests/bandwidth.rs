//! Bandwidth adaptation of one call on a virtual clock: a room system's TMMBR is answered with a
//! TMMBN and moves the call to a lower bit-rate class at once; loss alone in its receiver
//! reports does the same; a call that joins after a limit joins in its class. The other way, a
//! room system with `ccm tmmbr` shown only in small tiles is asked (TMMBR) for a lower rate, and
//! the limit is lifted with a keyframe request when it takes a big tile.

mod common;

use std::time::Duration;

use common::{CallSetup, Pair, VTC_VIDEO_SSRC};
use rtp_session::call::{EngineRequest, Event, Input};
use rtp_session::h264_rtp::VideoFormat;
use rtp_session::rtcp::{self, RtcpEvent, RtcpOut, TmmbnEntry};
use rtp_session::tile_request::HOLD_DOWN;

/// The gateway's video SSRC in [`Pair`] (its seed).
const GW_VIDEO_SSRC: u32 = 0x0F1D_E000;

/// The formats the call gave the engine (join and every class change), in order.
fn formats(pair: &Pair) -> Vec<(u128, (u32, u32))> {
    pair.events
        .iter()
        .filter_map(|(at, e)| {
            let format = match e {
                Event::Engine(EngineRequest::Join { video_format, .. }) => (*video_format)?,
                Event::Engine(EngineRequest::VideoFormat { video_format, .. }) => *video_format,
                _ => return None,
            };
            Some((at.duration_since(pair.start).as_millis(), format.size))
        })
        .collect()
}

fn tmmbr(bitrate_bps: u64) -> RtcpOut {
    RtcpOut::Tmmbr {
        sender_ssrc: VTC_VIDEO_SSRC,
        entry: TmmbnEntry {
            ssrc: GW_VIDEO_SSRC,
            bitrate_bps,
            overhead: 40,
        },
    }
}

fn loss_report(fraction_lost: u8) -> RtcpOut {
    RtcpOut::ReceiverReport {
        ssrc: VTC_VIDEO_SSRC,
        reports: vec![rtcp::ReportBlock {
            ssrc: GW_VIDEO_SSRC,
            fraction_lost,
            ..rtcp::ReportBlock::default()
        }],
    }
}

#[test]
fn a_tmmbr_moves_the_call_to_the_class_under_it_at_once_and_is_answered_with_a_tmmbn() {
    let mut pair = Pair::new(&CallSetup::default(), 3);
    pair.join();
    pair.run_for(Duration::from_secs(1));
    pair.vtc.send_rtcp(true, &[tmmbr(512_000)]);
    pair.run_for(Duration::from_millis(100));
    // b=AS 1 Mbit/s at 720p: the call starts at its negotiated picture, then 640x360 (384k).
    let sizes: Vec<_> = formats(&pair).into_iter().map(|(_, s)| s).collect();
    assert_eq!(sizes, [(1280, 720), (640, 360)]);
    assert_eq!(pair.gateway.counters().bitrate_class_changes, 1);
    // The TMMBN (RTPFB format 4) names the VTC's request, rate and overhead.
    let expected = rtcp::build(&[RtcpOut::Tmmbn {
        sender_ssrc: GW_VIDEO_SSRC,
        entries: vec![TmmbnEntry {
            ssrc: VTC_VIDEO_SSRC,
            bitrate_bps: 512_000,
            overhead: 40,
        }],
    }])
    .expect("built");
    let answered = pair.vtc.received.iter().any(|r| {
        r.rtcp().is_some_and(|events| {
            events.contains(&RtcpEvent::Ignored {
                packet_type: 205,
                format: 4,
            })
        }) && r.datagram.bytes.ends_with(&expected)
    });
    assert!(answered, "no TMMBN reached the VTC");
    // Held: no loss, no move up while the limit stands.
    pair.run_for(Duration::from_secs(30));
    assert_eq!(formats(&pair).len(), 2);
}

#[test]
fn loss_alone_moves_the_call_down_and_a_clean_link_brings_it_back_one_class_at_a_time() {
    let mut pair = Pair::new(&CallSetup::default(), 4);
    pair.join();
    pair.run_for(Duration::from_secs(2));
    // A 512 kbit/s relay under a 768 kbit/s stream: a third lost.
    pair.vtc.send_rtcp(true, &[loss_report(85)]);
    pair.run_for(Duration::from_millis(100));
    assert_eq!(formats(&pair).last().map(|f| f.1), Some((640, 360)));
    // Reports without loss from then on: back up after the back-off and the hold.
    for _ in 0..40 {
        pair.run_for(Duration::from_secs(2));
        pair.vtc.send_rtcp(true, &[loss_report(0)]);
    }
    pair.run_for(Duration::from_secs(5));
    let sizes: Vec<_> = formats(&pair).into_iter().map(|(_, s)| s).collect();
    assert_eq!(sizes, [(1280, 720), (640, 360), (1280, 720)]);
    let moved_up = formats(&pair)[2].0;
    assert!(
        moved_up >= 2_100 + 15_000,
        "not before the 15 s back-off: {moved_up} ms"
    );
}

#[test]
fn a_call_that_joins_after_a_limit_joins_in_its_class() {
    let mut pair = Pair::new(&CallSetup::default(), 5);
    pair.run_for(Duration::from_millis(500));
    pair.vtc.send_rtcp(true, &[tmmbr(400_000)]);
    pair.run_for(Duration::from_millis(100));
    assert!(formats(&pair).is_empty(), "not joined: nothing told");
    pair.input(Input::Join {
        participant: 5,
        display_name: "Room 1".into(),
        video_format: Some(VideoFormat::unlimited((1280, 720))),
    });
    assert_eq!(formats(&pair).last().map(|f| f.1), Some((640, 360)));
}

/// The TMMBR limits the gateway sent the VTC about its video, and its PLIs, in order
/// (milliseconds since the start).
fn requests_to_vtc(pair: &Pair) -> (Vec<(u128, u64)>, usize) {
    let mut limits = Vec::new();
    let mut plis = 0;
    for r in &pair.vtc.received {
        let at = r.at.duration_since(pair.start).as_millis();
        for event in r.rtcp().unwrap_or_default() {
            match event {
                RtcpEvent::MaxBitrate {
                    sender_ssrc,
                    ssrcs,
                    bitrate_bps,
                    tmmbr_overhead: Some(_),
                } if sender_ssrc == GW_VIDEO_SSRC && ssrcs == [VTC_VIDEO_SSRC] => {
                    limits.push((at, bitrate_bps));
                }
                RtcpEvent::Pli { media_ssrc, .. } if media_ssrc == VTC_VIDEO_SSRC => plis += 1,
                _ => {}
            }
        }
    }
    (limits, plis)
}

#[test]
fn a_vtc_shown_only_in_small_tiles_is_asked_down_by_tmmbr_and_up_again_with_a_keyframe() {
    let setup = CallSetup {
        tmmbr: true,
        ..CallSetup::default()
    };
    let mut pair = Pair::new(&setup, 5);
    pair.join();
    let now = pair.now;
    pair.vtc.start_video(now);
    pair.vtc.start_rtcp(now);
    pair.run_for(Duration::from_secs(1));
    // Into a 3x3 tile of a 720p layout: asked for 192 kbit/s once the hold is over.
    pair.input(Input::Tile(Some((426, 240))));
    pair.run_for(HOLD_DOWN - Duration::from_millis(100));
    assert_eq!(requests_to_vtc(&pair).0, []);
    pair.run_for(Duration::from_millis(200));
    let (limits, plis_before) = requests_to_vtc(&pair);
    assert_eq!(limits.iter().map(|l| l.1).collect::<Vec<_>>(), [192_000]);
    assert_eq!(pair.gateway.counters().tmmbr_sent, 1);
    // The standing limit is repeated.
    pair.run_for(Duration::from_secs(6));
    assert_eq!(requests_to_vtc(&pair).0.len(), 2);
    // Full screen: the ceiling (b=AS 1 Mbit/s) at once, and a keyframe asked for.
    pair.input(Input::Tile(Some((1280, 720))));
    pair.run_for(Duration::from_millis(100));
    let (limits, plis) = requests_to_vtc(&pair);
    assert_eq!(limits.last().map(|l| l.1), Some(1_000_000));
    assert!(plis > plis_before, "no keyframe asked for the big tile");
    // Lifted: nothing more.
    pair.run_for(Duration::from_secs(20));
    assert_eq!(requests_to_vtc(&pair).0.len(), 3);
}

#[test]
fn a_vtc_without_ccm_tmmbr_is_never_sent_one() {
    let mut pair = Pair::new(&CallSetup::default(), 6);
    pair.join();
    let now = pair.now;
    pair.vtc.start_video(now);
    pair.run_for(Duration::from_secs(1));
    pair.input(Input::Tile(Some((426, 240))));
    pair.run_for(Duration::from_secs(10));
    assert_eq!(requests_to_vtc(&pair).0, []);
    assert_eq!(pair.gateway.counters().tmmbr_sent, 0);
}
