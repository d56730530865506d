//! Layouts: the tile rectangles of the picture a VTC receives (1 -> full screen, 2 -> side by
//! side, 3-4 -> 2x2, 5-9 -> 3x3, as the media issue specifies, and the "1 large + 7" speaker
//! layout a caller can pick with `*8`), and which participant fills which tile for one viewer
//! ([`TileAssigner`], following the viewer's [`LayoutMode`]).
//!
//! Owns rectangles and tile assignment. It must not rank speakers (that is `speakers`, whose
//! ordered list it takes as input) nor touch pixels (the compositor). Every edge is on an even
//! pixel so that I420's half-resolution chroma planes split at the same places as luma.

use std::fmt;

/// Most tiles a layout has (3x3).
pub const MAX_TILES: usize = 9;

/// A participant of a meeting, as the media plane knows it (the gateway maps its own ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub u64);

/// Why a grid cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The canvas is too small, or has odd dimensions (I420 needs even).
    #[error("canvas {width}x{height} must have even sides of at least 6x6 pixels")]
    BadCanvas {
        /// Canvas width.
        width: u32,
        /// Canvas height.
        height: u32,
    },
    /// The layout needs a larger canvas ([`LayoutKind::LargePlus7`] cuts seven tiles of at least
    /// two pixels across both sides: 28x28 or more).
    #[error("canvas {width}x{height} too small for {kind:?}")]
    TooSmall {
        /// The layout asked for.
        kind: LayoutKind,
        /// Canvas width.
        width: u32,
        /// Canvas height.
        height: u32,
    },
}

/// Smallest side [`LayoutKind::LargePlus7`] lays out on.
const MIN_LARGE_PLUS_7_SIDE: u32 = 28;

/// A rectangle in pixels, `x`/`y` its top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl Rect {
    /// Whether the two rectangles share any pixel.
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.x + other.width
            && other.x < self.x + self.width
            && self.y < other.y + other.height
            && other.y < self.y + self.height
    }

    /// Area in pixels.
    pub fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

impl fmt::Display for Rect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}+{}+{}", self.width, self.height, self.x, self.y)
    }
}

/// The shape of a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayoutKind {
    /// One tile, the whole canvas.
    Full,
    /// Two tiles, each half the width, letterboxed to the canvas's aspect ratio.
    SideBySide,
    /// Four equal tiles.
    Grid2x2,
    /// Nine equal tiles (edges on the even pixel nearest each third, so widths differ by at most
    /// two pixels: 426, 428, 426 across 1280).
    Grid3x3,
    /// "1 large + 7": the active speaker in one large tile on top, centred, and a row of seven
    /// small tiles across the bottom (the hosted services' and MCUs' "1+7" speaker layout).
    ///
    /// Geometry on a W x H canvas: the bottom row is `H/7` high (even pixel at or below) and cut
    /// into sevenths of the width like the grids (even edges), so each small tile has the
    /// canvas's aspect ratio at 1/7 of its size (182..184 x 102 on 720p). The large tile takes
    /// the height above the row and keeps the canvas's aspect ratio too (1098x618 at x = 90 on
    /// 720p), centred with background bars at its sides: a 16:9 camera fills it without the
    /// compositor's crop-to-fill taking anything off the speaker, and the small tiles' crop is
    /// at most a pixel or two. Tile 0 is the large one; 1..=7 are the small ones left to right.
    LargePlus7,
}

impl LayoutKind {
    /// The layout for `speakers` tiles to show (more than nine show nine).
    pub fn for_count(speakers: usize) -> LayoutKind {
        match speakers {
            0 | 1 => LayoutKind::Full,
            2 => LayoutKind::SideBySide,
            3 | 4 => LayoutKind::Grid2x2,
            _ => LayoutKind::Grid3x3,
        }
    }

    /// How many tiles it has.
    pub fn tiles(self) -> usize {
        match self {
            LayoutKind::Full => 1,
            LayoutKind::SideBySide => 2,
            LayoutKind::Grid2x2 => 4,
            LayoutKind::Grid3x3 => MAX_TILES,
            LayoutKind::LargePlus7 => 8,
        }
    }
}

/// How a viewer wants its picture laid out (the `*8` choices); [`TileAssigner`] turns it, and
/// the number of people to show, into a [`LayoutKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LayoutMode {
    /// Up to nine, the grid following the count (1 full, 2 side by side, 3-4 2x2, 5-9 3x3): the
    /// default.
    #[default]
    Grid,
    /// The active speaker large and up to seven others small ([`LayoutKind::LargePlus7`]); one
    /// person alone is full screen.
    LargePlus7,
    /// Up to four (1 full, 2 side by side, 3-4 2x2).
    Grid2x2,
    /// The active speaker alone, full screen.
    Speaker,
    /// What a cascade link (another conference bridge) receives: the active speaker alone, full
    /// screen, like [`Speaker`](Self::Speaker), but bare (no border, name label or highlight),
    /// so the bridge can lay the picture out as one of its own participants without a picture
    /// inside its picture.
    Cascade,
}

impl LayoutMode {
    /// The most participants the mode shows.
    pub fn max_tiles(self) -> usize {
        match self {
            LayoutMode::Grid => MAX_TILES,
            LayoutMode::LargePlus7 => 8,
            LayoutMode::Grid2x2 => 4,
            LayoutMode::Speaker | LayoutMode::Cascade => 1,
        }
    }

    /// Whether pictures in this mode are drawn bare: no tile border, name label or highlight.
    pub fn is_bare(self) -> bool {
        self == LayoutMode::Cascade
    }

    /// The layout for `shown` participants in this mode.
    pub fn kind_for(self, shown: usize) -> LayoutKind {
        match self {
            LayoutMode::LargePlus7 if shown >= 2 => LayoutKind::LargePlus7,
            _ => LayoutKind::for_count(shown),
        }
    }
}

/// The tiles of one layout on one canvas, in reading order (left to right, top to bottom).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileGrid {
    kind: LayoutKind,
    width: u32,
    height: u32,
    tiles: Vec<Rect>,
}

/// The even pixel nearest to `total * i / n` (the `i`-th of `n` cuts of `total`).
fn even_cut(total: u32, i: u32, n: u32) -> u32 {
    let exact = u64::from(total) * u64::from(i) / u64::from(n);
    // total is even, so rounding to even stays within it.
    (exact.div_ceil(2) * 2) as u32
}

impl TileGrid {
    /// Lays out `kind` on a `width` x `height` canvas.
    pub fn new(kind: LayoutKind, width: u32, height: u32) -> Result<Self, LayoutError> {
        if width < 6 || height < 6 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            return Err(LayoutError::BadCanvas { width, height });
        }
        if kind == LayoutKind::LargePlus7
            && (width < MIN_LARGE_PLUS_7_SIDE || height < MIN_LARGE_PLUS_7_SIDE)
        {
            return Err(LayoutError::TooSmall {
                kind,
                width,
                height,
            });
        }
        let grid = |n: u32| -> Vec<Rect> {
            (0..n)
                .flat_map(|row| (0..n).map(move |col| (row, col)))
                .map(|(row, col)| {
                    let (x0, x1) = (even_cut(width, col, n), even_cut(width, col + 1, n));
                    let (y0, y1) = (even_cut(height, row, n), even_cut(height, row + 1, n));
                    Rect {
                        x: x0,
                        y: y0,
                        width: x1 - x0,
                        height: y1 - y0,
                    }
                })
                .collect()
        };
        let tiles = match kind {
            LayoutKind::Full => vec![Rect {
                x: 0,
                y: 0,
                width,
                height,
            }],
            LayoutKind::SideBySide => {
                // Each half keeps the canvas's aspect ratio, centred vertically.
                let half = even_cut(width, 1, 2);
                let tile_h = even_cut(height, 1, 2);
                let y = even_cut(height - tile_h, 1, 2);
                vec![
                    Rect {
                        x: 0,
                        y,
                        width: half,
                        height: tile_h,
                    },
                    Rect {
                        x: half,
                        y,
                        width: width - half,
                        height: tile_h,
                    },
                ]
            }
            LayoutKind::Grid2x2 => grid(2),
            LayoutKind::Grid3x3 => grid(3),
            LayoutKind::LargePlus7 => large_plus_seven(width, height),
        };
        Ok(TileGrid {
            kind,
            width,
            height,
            tiles,
        })
    }

    /// The layout's shape.
    pub fn kind(&self) -> LayoutKind {
        self.kind
    }

    /// Canvas size as (width, height).
    pub fn canvas(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The tiles, in reading order.
    pub fn tiles(&self) -> &[Rect] {
        &self.tiles
    }
}

/// The tiles of [`LayoutKind::LargePlus7`] (see there for the geometry).
fn large_plus_seven(width: u32, height: u32) -> Vec<Rect> {
    let row_h = even_cut(height, 1, 7);
    let row_y = height - row_h;
    // The large tile keeps the canvas's aspect ratio: width * row_y / height, on an even pixel.
    let large_w = (u64::from(width) * u64::from(row_y) / u64::from(height)) as u32 & !1;
    let mut tiles = vec![Rect {
        x: ((width - large_w) / 2) & !1,
        y: 0,
        width: large_w,
        height: row_y,
    }];
    tiles.extend((0..7).map(|i| {
        let (x0, x1) = (even_cut(width, i, 7), even_cut(width, i + 1, 7));
        Rect {
            x: x0,
            y: row_y,
            width: x1 - x0,
            height: row_h,
        }
    }));
    tiles
}

/// Decides, for one viewer, who fills which tile, keeping tile positions stable.
///
/// Rules, applied on every [`assign`](Self::assign):
/// - the shown set is the first `max_tiles` of the ranked speakers, the viewer left out (a VTC
///   never sees itself) and duplicates ignored;
/// - the layout kind follows the mode and the shown count ([`LayoutMode::kind_for`]);
/// - a participant who stays shown keeps their tile index (reordering the ranking moves nobody);
/// - newcomers take the tiles freed by those who dropped out (the least recent speakers), in
///   reading order, most recent newcomer first.
///
/// In [`LayoutMode::LargePlus7`] the large tile (index 0) always shows the most recent speaker
/// other than the viewer. When that changes, the new speaker and the one it replaces swap
/// tiles (the former speaker drops into the small tile the new one leaves, or, for a newcomer,
/// into the small tile freed by whoever dropped out); everyone else keeps their small tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileAssigner {
    mode: LayoutMode,
    max_tiles: usize,
    kind: LayoutKind,
    slots: Vec<Option<ParticipantId>>,
}

impl TileAssigner {
    /// An assigner showing at most `max_tiles` participants (clamped to 1..=9; 1 gives the
    /// "active speaker full screen" layout).
    pub fn new(max_tiles: usize) -> Self {
        TileAssigner {
            mode: LayoutMode::Grid,
            max_tiles: max_tiles.clamp(1, MAX_TILES),
            kind: LayoutKind::Full,
            slots: vec![None],
        }
    }

    /// An assigner for `mode` (showing at most [`LayoutMode::max_tiles`]).
    pub fn with_mode(mode: LayoutMode) -> Self {
        TileAssigner {
            mode,
            ..TileAssigner::new(mode.max_tiles())
        }
    }

    /// The mode it lays out in.
    pub fn mode(&self) -> LayoutMode {
        self.mode
    }

    /// Recomputes the tiles from `ranked` (most recent active speaker first) for `viewer`, and
    /// returns them: one entry per tile of [`kind`](Self::kind), `None` for an empty tile.
    pub fn assign(
        &mut self,
        ranked: &[ParticipantId],
        viewer: Option<ParticipantId>,
    ) -> &[Option<ParticipantId>] {
        let mut shown: Vec<ParticipantId> = Vec::with_capacity(self.max_tiles);
        for &p in ranked {
            if shown.len() == self.max_tiles {
                break;
            }
            if Some(p) != viewer && !shown.contains(&p) {
                shown.push(p);
            }
        }
        let kind = self.mode.kind_for(shown.len());
        let mut slots: Vec<Option<ParticipantId>> = vec![None; kind.tiles()];
        if kind == LayoutKind::LargePlus7 {
            self.place_speaker(&shown, &mut slots);
        }
        for (i, old) in self.slots.iter().enumerate() {
            if kind == LayoutKind::LargePlus7 && (i == 0 || slots[i].is_some()) {
                // The large tile is the speaker's alone; a swap may already have filled this one.
                continue;
            }
            if let Some(p) = old {
                if i < slots.len() && shown.contains(p) && !slots.contains(&Some(*p)) {
                    slots[i] = Some(*p);
                }
            }
        }
        for p in shown {
            if !slots.contains(&Some(p)) {
                let free = slots
                    .iter()
                    .position(Option::is_none)
                    .expect("the layout has a tile for everyone shown");
                slots[free] = Some(p);
            }
        }
        self.kind = kind;
        self.slots = slots;
        &self.slots
    }

    /// Puts the most recent speaker in the large tile and, when that changes who is there, moves
    /// the former occupant into the small tile the new speaker leaves (a swap), if they are
    /// still shown.
    fn place_speaker(&self, shown: &[ParticipantId], slots: &mut [Option<ParticipantId>]) {
        let Some(&speaker) = shown.first() else {
            return;
        };
        slots[0] = Some(speaker);
        if self.kind != LayoutKind::LargePlus7 {
            return;
        }
        let Some(&Some(former)) = self.slots.first() else {
            return;
        };
        if former == speaker || !shown.contains(&former) {
            return;
        }
        let left = self
            .slots
            .iter()
            .skip(1)
            .position(|s| *s == Some(speaker))
            .map(|j| j + 1);
        if let Some(j) = left {
            slots[j] = Some(former);
        }
    }

    /// The layout kind of the last assignment.
    pub fn kind(&self) -> LayoutKind {
        self.kind
    }

    /// The tiles of the last assignment.
    pub fn slots(&self) -> &[Option<ParticipantId>] {
        &self.slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tile_count_follows_speaker_count() {
        let kinds: Vec<_> = (0..=10).map(LayoutKind::for_count).collect();
        use LayoutKind::*;
        assert_eq!(
            kinds,
            [
                Full, Full, SideBySide, Grid2x2, Grid2x2, Grid3x3, Grid3x3, Grid3x3, Grid3x3,
                Grid3x3, Grid3x3
            ]
        );
    }

    #[test]
    fn grid_3x3_of_720p() {
        let g = TileGrid::new(LayoutKind::Grid3x3, 1280, 720).unwrap();
        let text: Vec<String> = g.tiles().iter().map(Rect::to_string).collect();
        assert_eq!(
            text,
            [
                "426x240+0+0",
                "428x240+426+0",
                "426x240+854+0",
                "426x240+0+240",
                "428x240+426+240",
                "426x240+854+240",
                "426x240+0+480",
                "428x240+426+480",
                "426x240+854+480",
            ]
        );
    }

    #[test]
    fn side_by_side_is_letterboxed() {
        let g = TileGrid::new(LayoutKind::SideBySide, 1280, 720).unwrap();
        assert_eq!(g.tiles()[0].to_string(), "640x360+0+180");
        assert_eq!(g.tiles()[1].to_string(), "640x360+640+180");
    }

    #[test]
    fn large_plus_7_of_720p() {
        let g = TileGrid::new(LayoutKind::LargePlus7, 1280, 720).unwrap();
        let text: Vec<String> = g.tiles().iter().map(Rect::to_string).collect();
        assert_eq!(
            text,
            [
                "1098x618+90+0",
                "182x102+0+618",
                "184x102+182+618",
                "182x102+366+618",
                "184x102+548+618",
                "182x102+732+618",
                "184x102+914+618",
                "182x102+1098+618",
            ]
        );
    }

    #[test]
    fn large_plus_7_needs_room_for_seven_small_tiles() {
        assert!(matches!(
            TileGrid::new(LayoutKind::LargePlus7, 26, 720),
            Err(LayoutError::TooSmall { .. })
        ));
        assert!(TileGrid::new(LayoutKind::LargePlus7, 28, 28).is_ok());
    }

    #[test]
    fn odd_or_tiny_canvases_are_refused() {
        assert!(TileGrid::new(LayoutKind::Full, 1279, 720).is_err());
        assert!(TileGrid::new(LayoutKind::Full, 4, 4).is_err());
    }

    fn any_kind() -> impl Strategy<Value = LayoutKind> {
        prop_oneof![
            Just(LayoutKind::Full),
            Just(LayoutKind::SideBySide),
            Just(LayoutKind::Grid2x2),
            Just(LayoutKind::Grid3x3),
            Just(LayoutKind::LargePlus7),
        ]
    }

    proptest! {
        #[test]
        fn tiles_never_overlap_and_stay_inside_on_even_pixels(
            kind in any_kind(), w in 3u32..2000, h in 3u32..2000
        ) {
            let (w, h) = (w * 2, h * 2);
            if kind == LayoutKind::LargePlus7 && (w < 28 || h < 28) {
                prop_assert!(TileGrid::new(kind, w, h).is_err());
                return Ok(());
            }
            let g = TileGrid::new(kind, w, h).unwrap();
            prop_assert_eq!(g.tiles().len(), kind.tiles());
            for (i, a) in g.tiles().iter().enumerate() {
                prop_assert!(a.width > 0 && a.height > 0);
                prop_assert!(a.x + a.width <= w && a.y + a.height <= h);
                prop_assert!(a.x % 2 == 0 && a.y % 2 == 0 && a.width % 2 == 0 && a.height % 2 == 0);
                for b in &g.tiles()[i + 1..] {
                    prop_assert!(!a.overlaps(b), "{} overlaps {}", a, b);
                }
            }
            if kind == LayoutKind::LargePlus7 {
                // The large tile is the biggest, and small tiles span the canvas's width.
                let small: u32 = g.tiles()[1..].iter().map(|t| t.width).sum();
                prop_assert_eq!(small, w);
                prop_assert!(g.tiles()[1..].iter().all(|t| t.area() <= g.tiles()[0].area()));
            } else if kind != LayoutKind::SideBySide {
                let covered: u64 = g.tiles().iter().map(Rect::area).sum();
                prop_assert_eq!(covered, u64::from(w) * u64::from(h));
            }
        }
    }

    fn ids(v: &[u64]) -> Vec<ParticipantId> {
        v.iter().copied().map(ParticipantId).collect()
    }

    #[test]
    fn viewer_is_left_out_and_layout_follows_the_count() {
        let mut a = TileAssigner::new(9);
        let slots = a.assign(&ids(&[1, 2, 3]), Some(ParticipantId(2))).to_vec();
        assert_eq!(a.kind(), LayoutKind::SideBySide);
        assert_eq!(slots, [Some(ParticipantId(1)), Some(ParticipantId(3))]);
        a.assign(&ids(&[]), Some(ParticipantId(2)));
        assert_eq!(a.slots(), [None]);
    }

    #[test]
    fn newcomer_takes_the_tile_of_the_least_recent_speaker() {
        let mut a = TileAssigner::new(4);
        a.assign(&ids(&[1, 2, 3, 4]), None);
        assert_eq!(
            a.slots().to_vec(),
            ids(&[1, 2, 3, 4]).into_iter().map(Some).collect::<Vec<_>>()
        );
        // 5 speaks: 4 (least recent) drops out and 5 takes its tile; nobody else moves.
        let slots = a.assign(&ids(&[5, 1, 2, 3, 4]), None).to_vec();
        assert_eq!(
            slots,
            ids(&[1, 2, 3, 5]).into_iter().map(Some).collect::<Vec<_>>()
        );
    }

    #[test]
    fn active_speaker_full_screen_shows_only_the_first() {
        let mut a = TileAssigner::new(1);
        assert_eq!(
            a.assign(&ids(&[7, 8]), Some(ParticipantId(7))),
            [Some(ParticipantId(8))]
        );
    }

    fn some(v: &[u64]) -> Vec<Option<ParticipantId>> {
        v.iter()
            .map(|&id| (id != 0).then_some(ParticipantId(id)))
            .collect()
    }

    #[test]
    fn large_plus_7_puts_the_speaker_large_and_swaps_on_a_change() {
        let mut a = TileAssigner::with_mode(LayoutMode::LargePlus7);
        // Alone: full screen.
        a.assign(&ids(&[1]), Some(ParticipantId(9)));
        assert_eq!(a.kind(), LayoutKind::Full);
        let slots = a.assign(&ids(&[1, 2, 3]), Some(ParticipantId(9))).to_vec();
        assert_eq!(a.kind(), LayoutKind::LargePlus7);
        assert_eq!(slots, some(&[1, 2, 3, 0, 0, 0, 0, 0]));
        // 3 speaks: 3 goes large, 1 takes 3's small tile, 2 stays.
        let slots = a.assign(&ids(&[3, 1, 2]), Some(ParticipantId(9))).to_vec();
        assert_eq!(slots, some(&[3, 2, 1, 0, 0, 0, 0, 0]));
        // A newcomer speaks: large; the former speaker takes the first free small tile.
        let slots = a
            .assign(&ids(&[4, 3, 1, 2]), Some(ParticipantId(9)))
            .to_vec();
        assert_eq!(slots, some(&[4, 2, 1, 3, 0, 0, 0, 0]));
        // The viewer itself speaking changes nothing.
        let slots = a
            .assign(&ids(&[9, 4, 3, 1, 2]), Some(ParticipantId(9)))
            .to_vec();
        assert_eq!(slots, some(&[4, 2, 1, 3, 0, 0, 0, 0]));
    }

    #[test]
    fn large_plus_7_shows_eight_and_the_newest_replaces_the_least_recent() {
        let mut a = TileAssigner::with_mode(LayoutMode::LargePlus7);
        a.assign(&ids(&[1, 2, 3, 4, 5, 6, 7, 8, 9]), None);
        assert_eq!(a.slots(), some(&[1, 2, 3, 4, 5, 6, 7, 8]));
        // 10 speaks: 9 was never shown; 8 (least recent) drops; 1 swaps down into... 8's tile.
        let slots = a.assign(&ids(&[10, 1, 2, 3, 4, 5, 6, 7, 8]), None).to_vec();
        assert_eq!(slots, some(&[10, 2, 3, 4, 5, 6, 7, 1]));
    }

    #[test]
    fn modes_cap_what_they_show() {
        let ranked = ids(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        for (mode, kind, shown) in [
            (LayoutMode::Grid, LayoutKind::Grid3x3, 9),
            (LayoutMode::LargePlus7, LayoutKind::LargePlus7, 8),
            (LayoutMode::Grid2x2, LayoutKind::Grid2x2, 4),
            (LayoutMode::Speaker, LayoutKind::Full, 1),
            (LayoutMode::Cascade, LayoutKind::Full, 1),
        ] {
            let mut a = TileAssigner::with_mode(mode);
            let slots = a.assign(&ranked, None).to_vec();
            assert_eq!(a.kind(), kind, "{mode:?}");
            assert_eq!(slots.iter().flatten().count(), shown, "{mode:?}");
            assert_eq!(slots[0], Some(ParticipantId(1)), "{mode:?}");
        }
    }

    proptest! {
        #[test]
        fn large_plus_7_keeps_the_speaker_large_and_the_others_in_place(
            rankings in proptest::collection::vec(proptest::collection::vec(0u64..12, 0..12), 1..12),
        ) {
            let viewer = ParticipantId(0);
            let mut a = TileAssigner::with_mode(LayoutMode::LargePlus7);
            let mut previous: Vec<Option<ParticipantId>> = a.slots().to_vec();
            let mut previous_kind = a.kind();
            for ranked in rankings {
                let ranked = ids(&ranked);
                let slots = a.assign(&ranked, Some(viewer)).to_vec();
                let first = ranked.iter().copied().find(|p| *p != viewer);
                prop_assert_eq!(slots.first().copied().flatten(), first);
                let shown: Vec<_> = slots.iter().flatten().collect();
                let unique: std::collections::HashSet<_> = shown.iter().collect();
                prop_assert_eq!(unique.len(), shown.len());
                if a.kind() == LayoutKind::LargePlus7 && previous_kind == LayoutKind::LargePlus7 {
                    // Only the new speaker and the one it replaced may move.
                    for (i, p) in previous.iter().enumerate().skip(1) {
                        let Some(p) = p else { continue };
                        if Some(*p) == slots[0] || Some(*p) == previous[0] {
                            continue;
                        }
                        if let Some(j) = slots.iter().position(|s| s == &Some(*p)) {
                            prop_assert_eq!(i, j, "{:?} moved", p);
                        }
                    }
                }
                previous = slots;
                previous_kind = a.kind();
            }
        }

        #[test]
        fn layouts_never_show_the_viewer_or_anyone_twice(
            ranked in proptest::collection::vec(0u64..15, 0..20),
            viewer in 0u64..15,
            max in 1usize..=9,
        ) {
            let ranked = ids(&ranked);
            let viewer = ParticipantId(viewer);
            let mut a = TileAssigner::new(max);
            let slots = a.assign(&ranked, Some(viewer)).to_vec();
            prop_assert_eq!(slots.len(), a.kind().tiles());
            let shown: Vec<_> = slots.iter().flatten().copied().collect();
            prop_assert!(!shown.contains(&viewer));
            let unique: std::collections::HashSet<_> = shown.iter().collect();
            prop_assert_eq!(unique.len(), shown.len());
            // Exactly the first `max` distinct non-viewer speakers are shown.
            let mut expected = Vec::new();
            for p in &ranked {
                if *p != viewer && !expected.contains(p) && expected.len() < max {
                    expected.push(*p);
                }
            }
            let mut got = shown.clone();
            got.sort();
            expected.sort();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn reordering_shown_speakers_moves_nobody(
            set in proptest::collection::hash_set(0u64..40, 1..=9),
            order in any::<u64>(),
        ) {
            let mut first = ids(&set.into_iter().collect::<Vec<_>>());
            let mut a = TileAssigner::new(9);
            let before = a.assign(&first, None).to_vec();
            // A deterministic shuffle of the same speakers.
            let n = first.len();
            for i in (1..n).rev() {
                let j = (order.rotate_left(i as u32) as usize) % (i + 1);
                first.swap(i, j);
            }
            prop_assert_eq!(a.assign(&first, None), &before[..]);
        }

        #[test]
        fn a_speaker_keeps_its_tile_while_shown(
            rankings in proptest::collection::vec(proptest::collection::vec(0u64..14, 0..14), 1..12),
        ) {
            let mut a = TileAssigner::new(9);
            let mut previous: Vec<Option<ParticipantId>> = a.slots().to_vec();
            let mut previous_kind = a.kind();
            for ranked in rankings {
                let slots = a.assign(&ids(&ranked), Some(ParticipantId(0))).to_vec();
                if a.kind() == previous_kind {
                    for (i, p) in previous.iter().enumerate() {
                        if let Some(p) = p {
                            if let Some(j) = slots.iter().position(|s| s == &Some(*p)) {
                                prop_assert_eq!(i, j, "{:?} moved", p);
                            }
                        }
                    }
                }
                previous = slots;
                previous_kind = a.kind();
            }
        }
    }
}
