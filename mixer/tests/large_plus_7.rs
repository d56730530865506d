//! Golden checks of the "1 large + 7" layout composited through the public API: the speaker's
//! 16:9 picture fills the large tile uncropped, the seven small tiles show the others in
//! assignment order, and the bars beside the large tile stay background.

use mixer::{
    Compositor, CompositorConfig, I420Frame, LayoutKind, LayoutMode, ParticipantId, Threading,
    TileAssigner, TileContent, TileGrid, VideoSource, Yuv,
};

const COLOURS: [(u8, u8, u8); 8] = [
    (200, 30, 30),
    (30, 200, 30),
    (30, 30, 200),
    (200, 200, 30),
    (30, 200, 200),
    (200, 30, 200),
    (120, 120, 120),
    (240, 140, 20),
];

fn close(a: Yuv, b: Yuv) -> bool {
    a.y.abs_diff(b.y) <= 2 && a.u.abs_diff(b.u) <= 2 && a.v.abs_diff(b.v) <= 2
}

#[test]
fn speaker_large_others_small_bars_background() {
    let sources: Vec<I420Frame> = COLOURS
        .iter()
        .map(|&(r, g, b)| I420Frame::solid(1280, 720, Yuv::from_rgb(r, g, b)).unwrap())
        .collect();
    let names: Vec<String> = (0..8).map(|i| format!("P{i}")).collect();
    let mut assigner = TileAssigner::with_mode(LayoutMode::LargePlus7);
    // Participant 5 spoke last, then the others in order.
    let ranked: Vec<ParticipantId> = [5u64, 0, 1, 2, 3, 4, 6, 7]
        .into_iter()
        .map(ParticipantId)
        .collect();
    let slots = assigner.assign(&ranked, None).to_vec();
    assert_eq!(assigner.kind(), LayoutKind::LargePlus7);
    let grid = TileGrid::new(assigner.kind(), 1280, 720).unwrap();
    let contents: Vec<Option<TileContent<'_>>> = slots
        .iter()
        .map(|slot| {
            let id = (*slot)?;
            let i = id.0 as usize;
            Some(TileContent {
                participant: id,
                name: &names[i],
                video: Some(VideoSource {
                    frame: &sources[i],
                    frame_id: 1,
                }),
            })
        })
        .collect();
    let mut compositor = Compositor::new(CompositorConfig {
        labels: false,
        threading: Threading::Single,
        ..CompositorConfig::default()
    })
    .unwrap();
    let canvas = compositor.compose(&grid, &contents, None).unwrap();
    for (tile, slot) in grid.tiles().iter().zip(&slots) {
        let id = slot.unwrap().0 as usize;
        let (r, g, b) = COLOURS[id];
        let centre = canvas.pixel(tile.x + tile.width / 2, tile.y + tile.height / 2);
        assert!(
            close(centre, Yuv::from_rgb(r, g, b)),
            "tile {tile} shows {centre:?}, expected participant {id}"
        );
    }
    // The large tile is the last speaker's, and its 16:9 picture reaches its edges (no crop
    // bars inside it) while the strips beside it are background.
    assert_eq!(slots[0], Some(ParticipantId(5)));
    let large = grid.tiles()[0];
    let inside = canvas.pixel(large.x + 4, large.y + large.height / 2);
    assert!(close(inside, Yuv::from_rgb(200, 30, 200)), "{inside:?}");
    assert!(close(canvas.pixel(large.x - 10, 300), Yuv::BLACK));
    assert!(close(
        canvas.pixel(large.x + large.width + 10, 300),
        Yuv::BLACK
    ));
}
