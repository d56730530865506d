//! Names in any script on the composed picture: the seven participants of issue 18 (Latin with
//! accents, Greek, Cyrillic, CJK, Hangul) each get a readable, distinct label that fits their
//! tile, and labels are rasterised once per name, not once per frame.

use mixer::font::{text_width, TextMask, LINE_HEIGHT};
use mixer::layout::{LayoutKind, ParticipantId, Rect, TileGrid};
use mixer::{
    Compositor, CompositorConfig, I420Frame, PlaneKind, Threading, TileContent, VideoSource, Yuv,
};

include!("data/names.rs");

/// A mid-grey picture: label text (white) stands out from it and from the darkened strip.
fn grey() -> I420Frame {
    I420Frame::solid(640, 360, Yuv::from_rgb(120, 120, 120)).unwrap()
}

fn contents<'a>(
    names: &'a [&'a str],
    frame: &'a I420Frame,
    frame_id: u64,
) -> Vec<Option<TileContent<'a>>> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            Some(TileContent {
                participant: ParticipantId(i as u64),
                name,
                video: Some(VideoSource { frame, frame_id }),
            })
        })
        .collect()
}

/// The default look, on the calling thread (counters and pictures are then deterministic).
fn single_threaded() -> Compositor {
    Compositor::new(CompositorConfig {
        threading: Threading::Single,
        ..CompositorConfig::default()
    })
    .unwrap()
}

/// The luma of `rect` of `frame`, row by row, thresholded at near-white: the label's ink.
fn white_ink(frame: &I420Frame, rect: Rect) -> Vec<Vec<bool>> {
    let y = frame.plane(PlaneKind::Y);
    (rect.y..rect.y + rect.height)
        .map(|row| {
            y.row(row as usize)[rect.x as usize..(rect.x + rect.width) as usize]
                .iter()
                .map(|&p| p >= 230)
                .collect()
        })
        .collect()
}

/// The bottom-left strip of a tile where its label goes (a little taller than one line), the
/// same size on every tile of a 3x3 at 720p so labels compare pixel for pixel.
fn label_area(tile: Rect) -> Rect {
    let h = LINE_HEIGHT + 12;
    Rect {
        x: tile.x,
        y: tile.y + tile.height - h,
        width: 400,
        height: h,
    }
}

#[test]
fn every_name_gets_a_distinct_label_that_fits_its_tile() {
    let frame = grey();
    let grid = TileGrid::new(LayoutKind::Grid3x3, 1280, 720).unwrap();
    let mut compositor = single_threaded();
    let canvas = compositor
        .compose(&grid, &contents(&NAMES, &frame, 1), None)
        .unwrap();
    let mut seen: Vec<Vec<Vec<bool>>> = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let tile = grid.tiles()[i];
        let ink = white_ink(canvas, label_area(tile));
        let lit: usize = ink.iter().flatten().filter(|&&on| on).count();
        // The label's ink is the name's glyphs, every pixel of them, at scale 1 on a 3x3 tile.
        let mask = TextMask::render(name);
        assert_eq!(mask.missing(), 0, "{name}");
        assert_eq!(lit, mask.ink_count(), "{name}: label ink vs glyph ink");
        // Nothing white above the label area (a grey picture).
        let above = Rect {
            height: tile.height - label_area(tile).height,
            ..tile
        };
        let beside = Rect {
            x: tile.x + 400,
            width: tile.width - 400,
            ..label_area(tile)
        };
        assert!(
            white_ink(canvas, beside).iter().flatten().all(|&on| !on),
            "{name}: ink right of the label area"
        );
        assert!(
            white_ink(canvas, above).iter().flatten().all(|&on| !on),
            "{name}: ink above the label"
        );
        // It fits: the rightmost ink is inside the tile, with room to spare.
        let right = ink
            .iter()
            .filter_map(|row| row.iter().rposition(|&on| on))
            .max()
            .unwrap();
        assert!(right < tile.width as usize - 8, "{name}: ink up to {right}");
        assert!(right < 400 - 8, "{name}: the label area holds it all");
        assert!(text_width(name) < tile.width);
        assert!(!seen.contains(&ink), "{name}: same label as another name");
        seen.push(ink);
    }
}

#[test]
fn non_latin_names_are_not_question_marks() {
    // The ASCII-only font drew every other character as `?`: 田中 and ?? looked the same.
    let frame = grey();
    let grid = TileGrid::new(LayoutKind::Grid3x3, 1280, 720).unwrap();
    let mut compositor = single_threaded();
    let names = ["田中", "??", "Zoë", "Zo?"];
    let canvas = compositor
        .compose(&grid, &contents(&names, &frame, 1), None)
        .unwrap();
    let ink = |i: usize| white_ink(canvas, label_area(grid.tiles()[i]));
    assert_ne!(ink(0), ink(1));
    assert_ne!(ink(2), ink(3));
}

#[test]
fn labels_are_rasterised_once_per_name_not_per_frame() {
    let frame = grey();
    let grid = TileGrid::new(LayoutKind::Grid3x3, 1280, 720).unwrap();
    let mut compositor = single_threaded();
    for frame_id in 1..=30 {
        compositor
            .compose(&grid, &contents(&NAMES, &frame, frame_id), None)
            .unwrap();
    }
    let stats = compositor.stats();
    assert_eq!(
        stats.tiles_scaled,
        30 * NAMES.len() as u64,
        "every frame scaled"
    );
    assert_eq!(stats.labels_rasterised, NAMES.len() as u64);
    // A rename rasterises that one label again, and only it.
    let mut renamed = NAMES;
    renamed[5] = "田中 太郎";
    compositor
        .compose(&grid, &contents(&renamed, &frame, 31), None)
        .unwrap();
    assert_eq!(compositor.stats().labels_rasterised, NAMES.len() as u64 + 1);
}

/// "Zoë" at scale 1: the stored golden of one rendered name (Unifont 15.1's glyphs), so a
/// change of font data or of rasterising shows up here, pixel for pixel.
#[test]
fn a_rendered_name_matches_its_golden() {
    let mask = TextMask::render("Zoë");
    let art: Vec<String> = (0..mask.height())
        .map(|y| {
            (0..mask.width())
                .map(|x| if mask.is_ink(x, y) { '#' } else { '.' })
                .collect()
        })
        .collect();
    assert_eq!(art, GOLDEN_ZOE, "\n{}", art.join("\n"));
}

const GOLDEN_ZOE: [&str; 16] = [
    "........................",
    "........................",
    "..................#..#..",
    "..................#..#..",
    ".######.................",
    "......#.................",
    "......#...####....####..",
    ".....#...#....#..#....#.",
    "....#....#....#..#....#.",
    "...#.....#....#..######.",
    "..#......#....#..#......",
    ".#.......#....#..#......",
    ".#.......#....#..#....#.",
    ".######...####....####..",
    "........................",
    "........................",
];
