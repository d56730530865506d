//! RTCP on a virtual clock: where reports go before and after the VTC's first RTCP, the SR/RR
//! schedule, NACKs answered from the sent history, the keyframe-request rate limit with its
//! pending timer (PLI, or FIR when only FIR was negotiated), keyframe nagging for a VTC that
//! never sends RTCP, and PLIs from the VTC reaching the engine or the slate studio.

mod common;

use std::time::Duration;

use common::{
    layout_frames, next_port, CallSetup, Pair, GW_AUDIO, GW_AUDIO_RTCP, VTC_AUDIO, VTC_AUDIO_SSRC,
    VTC_VIDEO, VTC_VIDEO_SSRC,
};
use rtp_session::api::{MediaEvent, Prompt, Slate};
use rtp_session::call::{
    EngineRequest, Event, Input, SlateRequest, SocketId, KEYFRAME_NAG_INTERVAL,
    KEYFRAME_REQUEST_GAP, REPORT_INTERVAL,
};
use rtp_session::rtcp::{self, RtcpEvent, RtcpOut};

/// The gateway's RTCP transmits, with when, where from and where to.
fn rtcp_sent(pair: &Pair) -> Vec<(Duration, SocketId, std::net::SocketAddr, Vec<RtcpEvent>)> {
    pair.transmits
        .iter()
        .filter(|(_, t)| rtcp::is_rtcp(&t.bytes))
        .map(|(at, t)| {
            let events = rtcp::parse_compound(&t.bytes).expect("our RTCP parses");
            (at.duration_since(pair.start), t.socket, t.to, events)
        })
        .collect()
}

fn keyframe_requests_sent(pair: &Pair) -> Vec<(Duration, RtcpEvent)> {
    rtcp_sent(pair)
        .into_iter()
        .flat_map(|(at, _, _, events)| {
            events
                .into_iter()
                .filter(|e| matches!(e, RtcpEvent::Pli { .. } | RtcpEvent::Fir { .. }))
                .map(move |e| (at, e))
        })
        .collect()
}

#[test]
fn without_rtcp_mux_reports_go_to_both_ports_until_the_vtc_sends_rtcp() {
    let setup = CallSetup {
        rtcp_mux: false,
        video: false,
        ..CallSetup::default()
    };
    let mut pair = Pair::new(&setup, 10);
    pair.input(Input::Play(Prompt::Goodbye));
    pair.run_for(REPORT_INTERVAL);
    let first: Vec<_> = rtcp_sent(&pair)
        .into_iter()
        .map(|(at, socket, to, _)| (at, socket, to))
        .collect();
    assert_eq!(
        first,
        [
            (REPORT_INTERVAL, SocketId::AudioRtp, VTC_AUDIO),
            (REPORT_INTERVAL, SocketId::AudioRtcp, next_port(VTC_AUDIO)),
        ],
        "the first SR goes to the RTP port and the port after it"
    );
    // The VTC's RTCP comes from (and so goes to) the port after RTP.
    pair.vtc.rtcp_on_next_port = true;
    pair.vtc.send_rtcp(
        false,
        &[RtcpOut::ReceiverReport {
            ssrc: VTC_AUDIO_SSRC,
            reports: Vec::new(),
        }],
    );
    pair.run_for(REPORT_INTERVAL);
    let second: Vec<_> = rtcp_sent(&pair)
        .into_iter()
        .skip(2)
        .map(|(at, socket, to, _)| (at, socket, to))
        .collect();
    assert_eq!(
        second,
        [(
            2 * REPORT_INTERVAL,
            SocketId::AudioRtcp,
            next_port(VTC_AUDIO)
        )],
        "once the VTC sent RTCP, ours goes only where its came from"
    );
    let _ = (GW_AUDIO, GW_AUDIO_RTCP);
}

#[test]
fn reports_go_every_5_seconds_rr_until_we_send_then_sr_with_the_wall_time() {
    let setup = CallSetup {
        video: false,
        ..CallSetup::default()
    };
    let mut pair = Pair::new(&setup, 11);
    pair.vtc.start_talking(pair.now);
    pair.run_for(REPORT_INTERVAL + Duration::from_secs(1));
    pair.input(Input::Play(Prompt::Goodbye));
    pair.run_until(pair.start + 4 * REPORT_INTERVAL + Duration::from_millis(1));
    let reports = rtcp_sent(&pair);
    let times: Vec<_> = reports.iter().map(|(at, ..)| *at).collect();
    assert_eq!(
        times,
        [1, 2, 3, 4].map(|n| n * REPORT_INTERVAL),
        "one compound report per 5 s"
    );
    let RtcpEvent::ReceiverReport {
        ssrc,
        reports: blocks,
    } = &reports[0].3[0]
    else {
        panic!("nothing sent yet: an RR first, {:?}", reports[0].3)
    };
    assert_eq!(*ssrc, 0xA0D1_0000);
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].ssrc, VTC_AUDIO_SSRC);
    assert_eq!(blocks[0].total_lost, 0);
    let RtcpEvent::SenderReport {
        ntp_time,
        packet_count,
        reports: blocks,
        ..
    } = &reports[1].3[0]
    else {
        panic!("prompts sent since: an SR, {:?}", reports[1].3)
    };
    let wall = common::WALL_ORIGIN + 2 * REPORT_INTERVAL;
    assert_eq!(
        *ntp_time,
        rtcp::ntp_from_unix(wall),
        "the wall time passed in"
    );
    let sent_by_then = pair
        .transmits
        .iter()
        .filter(|(at, t)| *at < pair.start + 2 * REPORT_INTERVAL && !rtcp::is_rtcp(&t.bytes))
        .count();
    assert_eq!(*packet_count as usize, sent_by_then);
    assert_eq!(blocks.len(), 1, "the SR carries the reception report too");
}

#[test]
fn a_nack_from_the_vtc_is_answered_from_the_sent_history() {
    let mut pair = Pair::new(&CallSetup::default(), 12);
    pair.join();
    // The first layout picture's second packet never reaches the VTC.
    pair.to_vtc.drop_if = Some(Box::new(|d| {
        d.to == VTC_VIDEO
            && rtp_session::rtp::parse(&d.bytes).is_ok_and(|p| p.header.sequence == 201)
    }));
    for frame in layout_frames(3) {
        pair.input(Input::MixVideo {
            frame,
            timestamp: 0,
        });
        pair.run_for(Duration::from_millis(33));
    }
    let lost = pair
        .transmits
        .iter()
        .find(|(_, t)| rtp_session::rtp::parse(&t.bytes).is_ok_and(|p| p.header.sequence == 201))
        .map(|(_, t)| t.bytes.clone())
        .expect("packet 201 was sent");
    assert!(pair
        .vtc
        .rtp_to(VTC_VIDEO)
        .iter()
        .all(|(_, h)| h.sequence != 201));
    pair.to_vtc.drop_if = None;
    pair.vtc.send_rtcp(
        true,
        &[RtcpOut::Nack {
            sender_ssrc: VTC_VIDEO_SSRC,
            media_ssrc: 0x0F1D_E000,
            lost: vec![201, 60_000],
        }],
    );
    pair.run_for(Duration::from_millis(100));
    let resent: Vec<_> = pair
        .vtc
        .received
        .iter()
        .filter(|r| r.datagram.bytes == lost)
        .collect();
    assert_eq!(
        resent.len(),
        1,
        "resent once; unknown sequence numbers ignored"
    );
    assert_eq!(resent[0].datagram.from, common::GW_VIDEO);
}

#[test]
fn keyframe_requests_are_rate_limited_and_a_request_inside_the_gap_waits_for_its_end() {
    let mut pair = Pair::new(&CallSetup::default(), 13);
    pair.join();
    assert_eq!(
        keyframe_requests_sent(&pair).len(),
        1,
        "joining asks at once"
    );
    let ms = Duration::from_millis;
    pair.run_for(ms(100));
    pair.input(Input::DecoderFailed);
    pair.run_for(ms(300));
    pair.input(Input::DecoderFailed);
    pair.run_until(pair.start + ms(1600));
    pair.input(Input::DecoderFailed);
    pair.run_for(ms(10));
    let times: Vec<_> = keyframe_requests_sent(&pair)
        .iter()
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(
        times,
        [ms(0), KEYFRAME_REQUEST_GAP, ms(1600)],
        "two failures inside the gap make one request at its end"
    );
    assert!(keyframe_requests_sent(&pair)
        .iter()
        .all(|(_, e)| matches!(e, RtcpEvent::Pli { .. })));
    assert_eq!(pair.gateway.counters().keyframes_requested_by_gateway, 3);
}

#[test]
fn a_vtc_that_takes_only_fir_gets_firs_with_rising_sequence_numbers() {
    let setup = CallSetup {
        pli: false,
        fir: true,
        ..CallSetup::default()
    };
    let mut pair = Pair::new(&setup, 14);
    pair.join();
    pair.run_for(Duration::from_secs(1));
    pair.input(Input::DecoderFailed);
    let firs: Vec<_> = keyframe_requests_sent(&pair)
        .into_iter()
        .map(|(_, e)| match e {
            RtcpEvent::Fir { entries, .. } => entries,
            other => panic!("FIR only: {other:?}"),
        })
        .collect();
    assert_eq!(firs.len(), 2);
    assert_eq!(firs[0][0].1.wrapping_add(1), firs[1][0].1);
}

#[test]
fn a_vtc_that_never_sends_rtcp_gets_a_keyframe_from_the_engine_every_3_seconds() {
    let mut pair = Pair::new(&CallSetup::default(), 15);
    pair.join();
    pair.vtc.start_video(pair.now);
    pair.run_for(Duration::from_secs(10));
    let nags = |pair: &Pair| -> Vec<Duration> {
        pair.events_where(|e| matches!(e, Event::Engine(EngineRequest::KeyframeRequest { .. })))
            .into_iter()
            .map(|(at, _)| at.duration_since(pair.start))
            .collect()
    };
    assert_eq!(
        nags(&pair),
        [1, 2, 3].map(|n| n * KEYFRAME_NAG_INTERVAL),
        "the VTC never asks, so the engine is asked for it"
    );
    // A VTC that sends RTCP can ask itself: the nagging stops.
    pair.vtc.start_rtcp(pair.now);
    pair.run_for(Duration::from_secs(10));
    assert_eq!(nags(&pair).len(), 3);
}

#[test]
fn a_pli_from_the_vtc_asks_the_slate_studio_then_once_joined_the_engine() {
    let mut pair = Pair::new(&CallSetup::default(), 16);
    pair.input(Input::ShowSlate(Slate::EntryQueue {
        tenant: "Acme".into(),
        retry: false,
    }));
    let pli = RtcpOut::Pli {
        sender_ssrc: VTC_VIDEO_SSRC,
        media_ssrc: 0x0F1D_E000,
    };
    pair.vtc.send_rtcp(true, std::slice::from_ref(&pli));
    pair.run_for(Duration::from_millis(100));
    pair.join();
    pair.vtc.send_rtcp(true, &[pli]);
    pair.run_for(Duration::from_millis(100));
    let asked: Vec<_> = pair
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Slate(SlateRequest::KeyframeRequest)
            | Event::Engine(EngineRequest::KeyframeRequest { .. }) => Some(e.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        asked,
        [
            Event::Slate(SlateRequest::KeyframeRequest),
            Event::Engine(EngineRequest::KeyframeRequest { participant: 5 }),
        ]
    );
    assert_eq!(pair.gateway.counters().keyframes_requested_by_peer, 2);
}

#[test]
fn a_vtc_without_pli_or_fir_keeps_getting_keyframes_after_its_first_rtcp_and_one_on_loss() {
    let setup = CallSetup {
        pli: false,
        fir: false,
        ..CallSetup::default()
    };
    let mut pair = Pair::new(&setup, 17);
    pair.join();
    pair.vtc.start_video(pair.now);
    // The VTC sends receiver reports (so it has sent RTCP) but can never ask for a keyframe.
    pair.vtc.start_rtcp(pair.now);
    pair.run_for(Duration::from_secs(30));
    let asked = |pair: &Pair| -> Vec<Duration> {
        pair.events_where(|e| matches!(e, Event::Engine(EngineRequest::KeyframeRequest { .. })))
            .into_iter()
            .map(|(at, _)| at.duration_since(pair.start))
            .collect()
    };
    let s = Duration::from_secs;
    assert_eq!(
        asked(&pair),
        [s(3), s(13), s(23)],
        "the first nag, then a slow refresh"
    );
    // Its next report shows a fifth of our video lost: a keyframe now, not at the next refresh.
    pair.run_until(pair.start + s(30) + Duration::from_millis(500));
    pair.vtc.send_rtcp(
        true,
        &[RtcpOut::ReceiverReport {
            ssrc: VTC_VIDEO_SSRC,
            reports: vec![rtcp::ReportBlock {
                ssrc: 0x0F1D_E000,
                fraction_lost: 51,
                total_lost: 40,
                ..rtcp::ReportBlock::default()
            }],
        }],
    );
    pair.run_for(Duration::from_millis(100));
    let after_loss = asked(&pair);
    assert_eq!(after_loss.len(), 4);
    assert_eq!(
        after_loss[3],
        s(30) + Duration::from_millis(510),
        "one link delay later"
    );
    // The refresh counts from there.
    pair.run_until(pair.start + s(41));
    assert_eq!(
        asked(&pair).last(),
        Some(&(s(40) + Duration::from_millis(520)))
    );
}

/// H.323 carries keyframe requests in H.245 as well as RTCP: a signalled request is handled
/// as a PLI, and every PLI the call sends is reported for the signalling to repeat.
#[test]
fn a_signalled_keyframe_request_is_a_pli_and_every_pli_sent_is_reported_for_signalling() {
    let mut pair = Pair::new(&CallSetup::default(), 17);
    pair.join();
    pair.run_for(Duration::from_millis(100));
    pair.input(Input::PeerKeyframeRequest);
    pair.run_for(Duration::from_millis(100));
    assert!(pair.events.iter().any(|(_, e)| matches!(
        e,
        Event::Engine(EngineRequest::KeyframeRequest { participant: 5 })
    )));
    assert_eq!(pair.gateway.counters().keyframes_requested_by_peer, 1);
    let reported = pair
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Media(MediaEvent::KeyframeNeeded)))
        .count();
    assert_eq!(reported, keyframe_requests_sent(&pair).len());
    assert!(reported >= 1, "joining asks at once");
}
