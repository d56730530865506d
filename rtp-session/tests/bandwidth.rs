//! Bandwidth adaptation of one call on a virtual clock: a room system's TMMBR is answered with a
//! TMMBN and moves the call to a lower bit-rate class at once; loss alone in its receiver
//! reports does the same; a call that joins after a limit joins in its class.

mod common;

use std::time::Duration;

use common::{CallSetup, Pair, VTC_VIDEO_SSRC};
use rtp_session::call::{EngineRequest, Event, Input};
use rtp_session::h264_rtp::VideoFormat;
use rtp_session::rtcp::{self, RtcpEvent, RtcpOut, TmmbnEntry};

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
