//! `compare pipeline` in quick mode: the harness runs both pipelines on the same meeting and
//! both deliver real pictures to the VTCs. Correctness only; the numbers are the binary's job.

use std::time::Duration;

use bench::pipeline::{run_case, Inputs};
use mixer::layout::{LayoutKind, TileGrid};

/// Distinct (coarsely quantised) colours sampled inside the tiles of a 3x3 picture.
fn tile_colours(picture: &mixer::I420Frame) -> usize {
    let grid = TileGrid::new(LayoutKind::Grid3x3, 1280, 720).unwrap();
    let mut colours: Vec<(u8, u8, u8)> = grid
        .tiles()
        .iter()
        .map(|t| {
            let p = picture.pixel(t.x + t.width / 6, t.y + t.height / 3);
            (p.y / 32, p.u / 32, p.v / 32)
        })
        .collect();
    colours.sort_unstable();
    colours.dedup();
    colours.len()
}

#[test]
fn both_pipelines_deliver_pictures_of_the_meeting() {
    let inputs = Inputs::encode().unwrap();
    let result = run_case(&inputs, 2, Duration::from_secs(1)).unwrap();
    for (name, run) in [("tessera", &result.tessera), ("naive", &result.naive)] {
        assert!(
            run.pictures_out >= 2 * 20,
            "{name}: {} pictures",
            run.pictures_out
        );
        assert!(run.encodes > 0 && run.decodes > 0, "{name}");
        assert!(run.cpu > Duration::ZERO, "{name}: CPU time measured");
        assert_eq!(run.decode_errors, 0, "{name}");
        let picture = run
            .last_picture
            .as_ref()
            .expect("the first VTC got a picture");
        assert_eq!((picture.width(), picture.height()), (1280, 720), "{name}");
        // Nine others in a 3x3: the natives' own colours show in their tiles.
        assert!(
            tile_colours(picture) >= 5,
            "{name}: {} colours",
            tile_colours(picture)
        );
    }
    // Tessera shares the layout of the two VTCs when neither is among the nine shown, and
    // decodes the natives' small encodings; it never runs more encodes than the naive pipeline.
    assert!(result.tessera.encodes <= result.naive.encodes);
}
