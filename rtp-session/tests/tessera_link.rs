//! A Tessera link's media on a virtual clock: two call machines, the video one sends fed to the
//! other. Told to go stream by stream, a link asks the engine to forward to it, sends each
//! forwarded participant on its own SSRC (`stream_ssrc` of its base) starting at a keyframe, and
//! the far machine hands each SSRC's access units to the engine whole and apart; the far node's
//! roster goes to the engine while joined and again on every join.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{layout_frames, CallSetup, Pair, VTC_VIDEO};
use rtp_session::api::MediaControl;
use rtp_session::call::{EngineRequest, Event, Input, RemoteStream, SocketId};
use rtp_session::forward::stream_ssrc;
use rtp_session::rtp;

const BASE: u32 = 0x7E55_E7A0;

fn streams(pair: &mut Pair) {
    pair.input(Input::Control(MediaControl::Streams {
        ssrc_base: BASE,
        hub: false,
    }));
}

#[test]
fn each_participant_crosses_the_link_on_its_own_ssrc_and_arrives_whole_and_apart() {
    let mut a = Pair::new(&CallSetup::default(), 1);
    let mut b = Pair::new(&CallSetup::default(), 2);
    for pair in [&mut a, &mut b] {
        pair.join();
        streams(pair);
        assert_eq!(
            pair.events_where(|e| matches!(e, Event::Engine(EngineRequest::LinkViewer { .. })))
                .len(),
            1,
            "the engine is asked to forward to the link"
        );
    }

    let frames = layout_frames(6);
    // A P-frame before a source's keyframe is not sent.
    a.input(Input::Forward {
        source: 9,
        timestamp: 0,
        frame: frames[1].clone(),
    });
    a.transmits.clear();
    for (n, frame) in frames.iter().enumerate() {
        for source in [5u64, 6] {
            a.input(Input::Forward {
                source,
                timestamp: 3000 * n as u32,
                frame: frame.clone(),
            });
        }
        a.run_for(Duration::from_millis(33));
    }
    let video: Vec<Vec<u8>> = a
        .transmits
        .iter()
        .filter(|(_, t)| t.socket == SocketId::VideoRtp)
        .map(|(_, t)| t.bytes.clone())
        .filter(|bytes| rtp::parse(bytes).is_ok_and(|p| p.header.payload_type == 96))
        .collect();
    let mut per_ssrc: BTreeMap<u32, usize> = BTreeMap::new();
    for bytes in &video {
        *per_ssrc
            .entry(rtp::parse(bytes).unwrap().header.ssrc)
            .or_default() += 1;
    }
    let ours: Vec<u32> = per_ssrc.keys().copied().collect();
    let mut expected = vec![stream_ssrc(BASE, 5), stream_ssrc(BASE, 6)];
    expected.sort_unstable();
    assert_eq!(ours, expected, "one SSRC per participant, nothing for 9");

    // B: the same datagrams, from the far node's media address.
    for bytes in &video {
        b.gateway
            .handle_datagram(b.now, SocketId::VideoRtp, VTC_VIDEO, bytes);
    }
    b.run_for(Duration::from_millis(500));
    let mut units: BTreeMap<u32, Vec<Vec<u8>>> = BTreeMap::new();
    for (_, event) in &b.events {
        if let Event::Engine(EngineRequest::LinkVideo {
            ssrc, access_unit, ..
        }) = event
        {
            units.entry(*ssrc).or_default().push(access_unit.clone());
        }
    }
    assert_eq!(units.len(), 2, "{:?}", units.keys());
    for ssrc in expected {
        let got = &units[&ssrc];
        assert_eq!(got.len(), frames.len(), "every unit of {ssrc:#x}");
        for (got, sent) in got.iter().zip(&frames) {
            assert_eq!(got, &sent.data, "whole, in order, of {ssrc:#x} only");
        }
    }
    assert!(
        b.events_where(|e| matches!(e, Event::Decode(_))).is_empty(),
        "a link's streams are not one picture to decode"
    );
}

#[test]
fn the_far_nodes_roster_reaches_the_engine_while_joined_and_on_every_join() {
    let mut pair = Pair::new(&CallSetup::default(), 3);
    let roster = vec![RemoteStream {
        ssrc: 11,
        id: "p3".into(),
        name: "Boardroom".into(),
        speaking: false,
    }];
    let rosters = |pair: &Pair| {
        pair.events_where(|e| matches!(e, Event::Engine(EngineRequest::LinkRoster { .. })))
            .len()
    };
    // Before the join it is kept, not sent.
    pair.input(Input::RemoteStreams(roster.clone()));
    assert_eq!(rosters(&pair), 0);
    pair.join();
    assert_eq!(rosters(&pair), 1, "sent with the join");
    pair.input(Input::RemoteStreams(roster));
    assert_eq!(rosters(&pair), 2, "a new roster while joined");
    pair.input(Input::Leave);
    pair.join();
    assert_eq!(rosters(&pair), 3, "again on a new join");
}
