//! Slates on a real call media task: hold music under a lobby slate, none in the entry queue.

use std::time::Duration;

use tokio::time::timeout;

use super::*;
use crate::calls::api::PromptCodec;
use crate::media::rtp;

const PATIENCE: Duration = Duration::from_secs(5);

fn audio(remote: SocketAddr) -> AudioSetup {
    AudioSetup {
        local_port: 0,
        remote,
        payload_type: 0,
        codec: PromptCodec::Pcmu,
        telephone_event_pt: None,
        rtcp_mux: true,
    }
}

#[tokio::test]
async fn a_lobby_slate_brings_hold_music_and_the_entry_queue_slate_does_not() {
    let (vtc, media, _rx) = super::tests::start_beside_vtc(CallId(3), audio).await;
    // Audio only: the studio is never asked for video (nothing reads this channel).
    let (studio, studio_rx) = crate::media::slate::slate_channel();
    media.show_slate(
        studio.clone(),
        Slate::EntryQueue {
            tenant: "Acme".into(),
            retry: false,
        },
    );
    let mut buf = [0u8; 1500];
    assert!(
        timeout(Duration::from_millis(150), vtc.recv_from(&mut buf))
            .await
            .is_err(),
        "the entry queue is silent between prompts"
    );
    media.show_slate(
        studio,
        Slate::Lobby {
            meeting: "Demo Organizer's meeting".into(),
            detail: "Acme - conference 1177958860".into(),
        },
    );
    // 0.4 s of the first note (C5, 523 Hz), as PCMU.
    let mut pcm = Vec::new();
    while pcm.len() < 3200 {
        let (len, _) = timeout(PATIENCE, vtc.recv_from(&mut buf))
            .await
            .expect("hold music keeps coming")
            .expect("receive");
        let p = rtp::parse(&buf[..len]).expect("RTP");
        assert_eq!(p.header.payload_type, 0);
        pcm.extend(mixer::codec::g711::decode_ulaw(p.payload));
    }
    let level = mixer::speakers::level_db(&pcm);
    assert!(level > -35.0, "audible: {level} dBFS");
    let goertzel = |f: f64| {
        let k = std::f64::consts::TAU * f / 8000.0;
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in &pcm {
            let s = f64::from(x) + 2.0 * k.cos() * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        s1 * s1 + s2 * s2 - 2.0 * k.cos() * s1 * s2
    };
    assert!(
        goertzel(523.25) > 20.0 * goertzel(700.0),
        "the first note is C5"
    );
    assert!(
        studio_rx.try_recv().is_none(),
        "a call without video asks the studio for nothing"
    );
}
