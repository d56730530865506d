//! Synthetic participants in the admin view: their media counters are the ones their engine
//! writes, as a caller's are its media task's.

use std::sync::atomic::Ordering;

use super::*;

#[test]
fn synthetic_participants_show_what_their_engine_counts() {
    let mut h = Harness::new();
    let (direct, direct_stats) = h
        .core
        .add_synthetic(h.now, &key(), &conf(), "Ada Lovelace")
        .unwrap();
    let added = h.core.handle_admin(
        h.now,
        AdminCommand::AddSynthetic {
            tenant: "12345678".into(),
            conference: "1177958860".into(),
            count: 1,
        },
    );
    assert!(matches!(added, Ok(AdminReply::Done)));
    h.collect();
    let (joined, joined_stats) = h
        .media
        .iter()
        .find_map(|o| match o {
            CoreOutput::SyntheticJoin {
                participant, stats, ..
            } => Some((*participant, stats.clone())),
            _ => None,
        })
        .expect("a SyntheticJoin for the engine");

    // What the engine would count while they publish.
    direct_stats.audio_rx_packets.store(50, Ordering::Relaxed);
    direct_stats.video_rx_frames.store(15, Ordering::Relaxed);
    joined_stats.audio_rx_packets.store(7, Ordering::Relaxed);

    let view = h.view();
    let media = |id: u64| {
        view.participants
            .iter()
            .find(|p| p.id == ParticipantId(id).to_string())
            .map(|p| p.media)
            .expect("in the view")
    };
    assert_eq!(media(direct.0).audio_rx_packets, 50);
    assert_eq!(media(direct.0).video_rx_frames, 15);
    assert_eq!(media(joined).audio_rx_packets, 7);
    assert_eq!(media(joined).video_tx_frames, 0, "they are sent nothing");
}
