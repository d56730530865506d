//! Compositing: draws the participants chosen for a layout into one I420 canvas, with thin
//! borders, the active speaker's tile highlighted, name labels, and a name/initials card for
//! anyone without video.
//!
//! Owns the canvas and per-tile state. It must not choose who is shown (that is
//! `layout::TileAssigner` fed by `speakers`) nor encode; scaling maths is `scale`'s.
//!
//! # Decisions
//! - **Crop to fill.** A source whose aspect ratio differs from its tile is cropped, not
//!   letterboxed: talking heads fill the tile and no bars waste pixels. Horizontal excess is
//!   cropped equally from both sides; vertical excess is taken one third from the top and two
//!   thirds from the bottom, because faces sit in the upper part of a portrait picture.
//! - **Compose only what changed.** Each tile remembers what it last drew (participant, name,
//!   frame id, source size). A tile whose inputs did not change is neither scaled nor copied; only
//!   a highlight change redraws its border ring. [`ComposeStats`] counts the work so tests can
//!   prove it.
//! - **Threads.** Changed tiles are rendered into their own buffers, in parallel with rayon when
//!   [`Threading::Rayon`] is chosen (several tiles changing per frame is the common case), then
//!   copied into the canvas. [`Threading::Single`] keeps tests and benches single-threaded.

use rayon::prelude::*;

pub use crate::draw::{card_color, initials};
use crate::draw::{draw_card, draw_label, draw_ring, Label};
use crate::frame::{FrameError, I420Frame, PlaneKind, Yuv};

use crate::layout::{ParticipantId, Rect, TileGrid};
use crate::scale::{ScaleError, TileScaler};

/// Why a frame could not be composed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    /// More tile contents were given than the grid has tiles.
    #[error("{given} tile contents for a grid of {tiles} tiles")]
    TooManyTiles {
        /// Contents given.
        given: usize,
        /// Tiles in the grid.
        tiles: usize,
    },
    /// The border width must be even (chroma is half resolution).
    #[error("border width {0} must be even")]
    OddBorder(u32),
    /// Scaling a source failed.
    #[error(transparent)]
    Scale(#[from] ScaleError),
    /// A frame could not be made or drawn into.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// Whether changed tiles are rendered on rayon's pool or on the calling thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threading {
    /// Everything on the calling thread (tests, benches, one-core deployments).
    Single,
    /// Changed tiles in parallel on rayon's global pool.
    Rayon,
}

/// Look of the composite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositorConfig {
    /// Width of the ring drawn inside each tile's edge, in pixels (even; 0 for none).
    pub border: u32,
    /// Colour of the ring around ordinary tiles.
    pub border_color: Yuv,
    /// Colour of the ring around the active speaker's tile.
    pub highlight_color: Yuv,
    /// Colour of canvas areas no tile covers, and of empty tiles.
    pub background: Yuv,
    /// Whether names are drawn on tiles.
    pub labels: bool,
    /// Where changed tiles are rendered.
    pub threading: Threading,
}

impl Default for CompositorConfig {
    fn default() -> Self {
        CompositorConfig {
            border: 2,
            border_color: Yuv::from_rgb(24, 24, 24),
            highlight_color: Yuv::from_rgb(255, 200, 0),
            background: Yuv::BLACK,
            labels: true,
            threading: Threading::Rayon,
        }
    }
}

/// A decoded picture for a tile. `frame_id` must change whenever the pixels do (a decoder's
/// output counter works); the same id means "unchanged, do not redraw".
#[derive(Debug, Clone, Copy)]
pub struct VideoSource<'a> {
    /// The picture.
    pub frame: &'a I420Frame,
    /// Identity of this picture.
    pub frame_id: u64,
}

/// What one tile shows.
#[derive(Debug, Clone, Copy)]
pub struct TileContent<'a> {
    /// Who.
    pub participant: ParticipantId,
    /// Display name (label, and initials on the card).
    pub name: &'a str,
    /// Their picture; `None` draws a card.
    pub video: Option<VideoSource<'a>>,
}

/// Work counters, cumulative since the compositor was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ComposeStats {
    /// Calls to [`Compositor::compose`].
    pub frames: u64,
    /// Tiles whose video was scaled.
    pub tiles_scaled: u64,
    /// Tiles drawn as a name card.
    pub cards_drawn: u64,
    /// Tiles cleared because nobody fills them.
    pub tiles_cleared: u64,
    /// Tiles left as they were (nothing changed).
    pub tiles_unchanged: u64,
    /// Border rings drawn.
    pub borders_drawn: u64,
    /// Name labels rasterised (once per name and tile size, not per frame).
    pub labels_rasterised: u64,
}

/// What a tile last drew; equal keys mean nothing to redraw.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TileKey {
    Empty,
    Video {
        participant: ParticipantId,
        name: String,
        frame_id: u64,
        size: (u32, u32),
    },
    Card {
        participant: ParticipantId,
        name: String,
    },
}

impl TileKey {
    fn matches(&self, content: Option<&TileContent<'_>>) -> bool {
        match (self, content) {
            (TileKey::Empty, None) => true,
            (
                TileKey::Video {
                    participant,
                    name,
                    frame_id,
                    size,
                },
                Some(TileContent {
                    participant: p,
                    name: n,
                    video: Some(v),
                }),
            ) => {
                participant == p
                    && name == n
                    && *frame_id == v.frame_id
                    && *size == (v.frame.width(), v.frame.height())
            }
            (
                TileKey::Card { participant, name },
                Some(TileContent {
                    participant: p,
                    name: n,
                    video: None,
                }),
            ) => participant == p && name == n,
            _ => false,
        }
    }

    fn of(content: Option<&TileContent<'_>>) -> TileKey {
        match content {
            None => TileKey::Empty,
            Some(c) => match c.video {
                Some(v) => TileKey::Video {
                    participant: c.participant,
                    name: c.name.to_owned(),
                    frame_id: v.frame_id,
                    size: (v.frame.width(), v.frame.height()),
                },
                None => TileKey::Card {
                    participant: c.participant,
                    name: c.name.to_owned(),
                },
            },
        }
    }
}

/// What rendering one tile did (for the counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rendered {
    Scaled,
    Card,
    Cleared,
}

#[derive(Debug)]
struct TileState {
    /// The whole tile, border included.
    rect: Rect,
    /// The picture area inside the border.
    content: Rect,
    /// What was last drawn; `None` forces a redraw.
    key: Option<TileKey>,
    /// Whether the ring currently shows the highlight (`None`: not drawn yet).
    highlighted: Option<bool>,
    /// The content pixels, `content`-sized.
    buffer: I420Frame,
    /// Kept while the crop size stays the same.
    scaler: Option<TileScaler>,
    /// The name label last drawn, rasterised; redrawn on every new frame, remade only when the
    /// name changes.
    label: Option<Label>,
}

/// Draws layouts into a canvas, redrawing only tiles whose inputs changed.
#[derive(Debug)]
pub struct Compositor {
    config: CompositorConfig,
    canvas: Option<I420Frame>,
    grid: Option<TileGrid>,
    tiles: Vec<TileState>,
    stats: ComposeStats,
}

impl Compositor {
    /// A compositor with `config`.
    pub fn new(config: CompositorConfig) -> Result<Self, ComposeError> {
        if !config.border.is_multiple_of(2) {
            return Err(ComposeError::OddBorder(config.border));
        }
        Ok(Compositor {
            config,
            canvas: None,
            grid: None,
            tiles: Vec::new(),
            stats: ComposeStats::default(),
        })
    }

    /// Work counters so far.
    pub fn stats(&self) -> ComposeStats {
        self.stats
    }

    /// The last composed picture, if any.
    pub fn canvas(&self) -> Option<&I420Frame> {
        self.canvas.as_ref()
    }

    /// Forgets what every tile shows, so the next [`compose`](Self::compose) redraws all
    /// (e.g. after the encoder was reset and the caller wants a clean picture).
    pub fn invalidate(&mut self) {
        for tile in &mut self.tiles {
            tile.key = None;
            tile.highlighted = None;
        }
    }

    /// Draws `contents` (in the grid's tile order; missing or `None` entries are empty tiles)
    /// into the canvas for `grid`, highlighting `active`'s tile, and returns the canvas.
    pub fn compose(
        &mut self,
        grid: &TileGrid,
        contents: &[Option<TileContent<'_>>],
        active: Option<ParticipantId>,
    ) -> Result<&I420Frame, ComposeError> {
        if contents.len() > grid.tiles().len() {
            return Err(ComposeError::TooManyTiles {
                given: contents.len(),
                tiles: grid.tiles().len(),
            });
        }
        if self.grid.as_ref() != Some(grid) {
            self.reset(grid)?;
        }
        self.stats.frames += 1;

        let config = &self.config;
        let content_of = |i: usize| contents.get(i).and_then(Option::as_ref);
        let dirty: Vec<usize> = (0..self.tiles.len())
            .filter(|&i| {
                !self.tiles[i]
                    .key
                    .as_ref()
                    .is_some_and(|k| k.matches(content_of(i)))
            })
            .collect();
        self.stats.tiles_unchanged += (self.tiles.len() - dirty.len()) as u64;

        let render = |(i, tile): (usize, &mut TileState)| -> RenderResult {
            if !dirty.contains(&i) {
                return Ok(None);
            }
            render_tile(tile, content_of(i), config).map(Some)
        };
        let results: Vec<RenderResult> = match config.threading {
            Threading::Single => self.tiles.iter_mut().enumerate().map(render).collect(),
            Threading::Rayon => self.tiles.par_iter_mut().enumerate().map(render).collect(),
        };
        for result in results {
            let Some((rendered, rasterised)) = result? else {
                continue;
            };
            match rendered {
                Rendered::Scaled => self.stats.tiles_scaled += 1,
                Rendered::Card => self.stats.cards_drawn += 1,
                Rendered::Cleared => self.stats.tiles_cleared += 1,
            }
            self.stats.labels_rasterised += u64::from(rasterised);
        }

        let canvas = self.canvas.as_mut().expect("reset made the canvas");
        for (i, tile) in self.tiles.iter_mut().enumerate() {
            let is_dirty = dirty.contains(&i);
            if is_dirty {
                blit(canvas, &tile.buffer, tile.content);
                tile.key = Some(TileKey::of(content_of(i)));
            }
            let highlight =
                active.is_some_and(|a| content_of(i).is_some_and(|c| c.participant == a));
            if tile.highlighted != Some(highlight) && self.config.border > 0 {
                let color = if highlight {
                    self.config.highlight_color
                } else {
                    self.config.border_color
                };
                draw_ring(canvas, tile.rect, self.config.border, color)?;
                tile.highlighted = Some(highlight);
                self.stats.borders_drawn += 1;
            }
        }
        Ok(canvas)
    }

    /// New grid: new canvas if the size changed, background everywhere, every tile dirty.
    fn reset(&mut self, grid: &TileGrid) -> Result<(), ComposeError> {
        let (w, h) = grid.canvas();
        let canvas = I420Frame::solid(w, h, self.config.background)?;
        let b = self.config.border;
        let mut tiles = Vec::with_capacity(grid.tiles().len());
        for &rect in grid.tiles() {
            let inset = if rect.width > 2 * b + 2 && rect.height > 2 * b + 2 {
                b
            } else {
                0
            };
            let content = Rect {
                x: rect.x + inset,
                y: rect.y + inset,
                width: rect.width - 2 * inset,
                height: rect.height - 2 * inset,
            };
            tiles.push(TileState {
                rect,
                content,
                key: None,
                highlighted: None,
                buffer: I420Frame::solid(content.width, content.height, self.config.background)?,
                scaler: None,
                label: None,
            });
        }
        self.canvas = Some(canvas);
        self.grid = Some(grid.clone());
        self.tiles = tiles;
        Ok(())
    }
}

/// The crop of a `src_w` x `src_h` source that fills a `dst_w` x `dst_h` tile (crop to fill,
/// even origin; see the module docs for where the excess goes). Shapes within 1 % of each other
/// are not cropped.
pub fn fill_crop(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Rect {
    let (sw, sh, dw, dh) = (
        u64::from(src_w),
        u64::from(src_h),
        u64::from(dst_w),
        u64::from(dst_h),
    );
    let (wide, tall) = (sw * dh, dw * sh);
    if wide.abs_diff(tall) * 100 <= wide.max(tall) {
        // Within 1 % of the tile's shape (e.g. 16:9 into a 426x240 tile): a stretch nobody
        // sees beats cutting a column or two off.
        return Rect {
            x: 0,
            y: 0,
            width: src_w,
            height: src_h,
        };
    }
    if wide > tall {
        // Source is wider: keep full height, crop the sides.
        let width = ((sh * dw + dh / 2) / dh).clamp(1, sw);
        let x = ((sw - width) / 2) & !1;
        Rect {
            x: x as u32,
            y: 0,
            width: width as u32,
            height: src_h,
        }
    } else {
        // Source is taller (or the same shape): keep full width, crop top and bottom.
        let height = ((sw * dh + dw / 2) / dw).clamp(1, sh);
        let y = ((sh - height) / 3) & !1;
        Rect {
            x: 0,
            y: y as u32,
            width: src_w,
            height: height as u32,
        }
    }
}

/// What rendering a dirty tile did, and whether its label had to be rasterised.
type RenderResult = Result<Option<(Rendered, bool)>, ComposeError>;

/// Renders one tile's content into its buffer; the flag says whether a label was rasterised.
fn render_tile(
    tile: &mut TileState,
    content: Option<&TileContent<'_>>,
    config: &CompositorConfig,
) -> Result<(Rendered, bool), ComposeError> {
    let (cw, ch) = (tile.content.width, tile.content.height);
    let rendered = match content {
        None => {
            tile.buffer = I420Frame::solid(cw, ch, config.background)?;
            return Ok((Rendered::Cleared, false));
        }
        Some(TileContent {
            video: Some(video), ..
        }) => {
            let crop = fill_crop(video.frame.width(), video.frame.height(), cw, ch);
            let reusable = tile
                .scaler
                .as_ref()
                .is_some_and(|s| s.src_size() == (crop.width as usize, crop.height as usize));
            if !reusable {
                tile.scaler = Some(TileScaler::new(crop.width, crop.height, cw, ch)?);
            }
            let scaler = tile.scaler.as_mut().expect("just made");
            scaler.scale_crop(video.frame, crop, tile.buffer.planes_mut())?;
            Rendered::Scaled
        }
        Some(TileContent {
            name, video: None, ..
        }) => {
            draw_card(&mut tile.buffer, name)?;
            Rendered::Card
        }
    };
    let mut rasterised = false;
    if let Some(c) = content.filter(|_| config.labels) {
        let label = match tile.label.take() {
            Some(label) if label.is_for(c.name, cw, ch) => label,
            _ => {
                rasterised = true;
                Label::new(c.name, cw, ch)
            }
        };
        draw_label(&mut tile.buffer, &label);
        tile.label = Some(label);
    }
    Ok((rendered, rasterised))
}

/// Copies `src` into `canvas` at `at` (same size).
fn blit(canvas: &mut I420Frame, src: &I420Frame, at: Rect) {
    for ((kind, mut dst), src_kind) in PlaneKind::ALL
        .into_iter()
        .zip(canvas.planes_mut())
        .zip(PlaneKind::ALL)
    {
        let (x, y, w, h) = crate::frame::plane_rect(kind, at);
        let src_plane = src.plane(src_kind);
        if let Some(mut view) = dst.sub_mut(x, y, w, h) {
            view.copy_from(&src_plane);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::LayoutKind;

    fn single(config: CompositorConfig) -> Compositor {
        Compositor::new(CompositorConfig {
            threading: Threading::Single,
            ..config
        })
        .unwrap()
    }

    fn nine_colours() -> Vec<Yuv> {
        [
            (255, 0, 0),
            (0, 255, 0),
            (0, 0, 255),
            (255, 255, 0),
            (0, 255, 255),
            (255, 0, 255),
            (255, 128, 0),
            (128, 0, 255),
            (128, 128, 128),
        ]
        .into_iter()
        .map(|(r, g, b)| Yuv::from_rgb(r, g, b))
        .collect()
    }

    fn centre(r: Rect) -> (u32, u32) {
        (r.x + r.width / 2, r.y + r.height / 2)
    }

    #[test]
    fn nine_solid_sources_land_in_their_tiles_with_borders_between() {
        let colours = nine_colours();
        let frames: Vec<I420Frame> = colours
            .iter()
            .map(|&c| I420Frame::solid(1280, 720, c).unwrap())
            .collect();
        let names: Vec<String> = (0..9).map(|i| format!("P{i}")).collect();
        let contents: Vec<Option<TileContent<'_>>> = (0..9)
            .map(|i| {
                Some(TileContent {
                    participant: ParticipantId(i as u64),
                    name: &names[i],
                    video: Some(VideoSource {
                        frame: &frames[i],
                        frame_id: 1,
                    }),
                })
            })
            .collect();
        let grid = TileGrid::new(LayoutKind::Grid3x3, 1280, 720).unwrap();
        let config = CompositorConfig::default();
        let mut compositor = single(config.clone());
        let canvas = compositor
            .compose(&grid, &contents, Some(ParticipantId(4)))
            .unwrap();
        for (i, rect) in grid.tiles().iter().enumerate() {
            let (cx, cy) = centre(*rect);
            assert_eq!(canvas.pixel(cx, cy), colours[i], "tile {i} centre");
            // The ring: top-left corner pixel and the middle of the top edge.
            let ring = if i == 4 {
                config.highlight_color
            } else {
                config.border_color
            };
            assert_eq!(canvas.pixel(rect.x, rect.y), ring, "tile {i} corner");
            assert_eq!(canvas.pixel(cx, rect.y + 1), ring, "tile {i} top edge");
            // Just inside the ring is picture again.
            assert_eq!(canvas.pixel(cx, rect.y + 2), colours[i]);
        }
    }

    #[test]
    fn label_puts_white_text_in_the_bottom_left_only() {
        let grey = Yuv::from_rgb(128, 128, 128);
        let frame = I420Frame::solid(640, 360, grey).unwrap();
        let contents = [Some(TileContent {
            participant: ParticipantId(1),
            name: "Boardroom",
            video: Some(VideoSource {
                frame: &frame,
                frame_id: 7,
            }),
        })];
        let grid = TileGrid::new(LayoutKind::Full, 640, 360).unwrap();
        let mut compositor = single(CompositorConfig::default());
        let canvas = compositor.compose(&grid, &contents, None).unwrap();
        let y = canvas.plane(PlaneKind::Y);
        let white_in = |x0: usize, x1: usize, y0: usize, y1: usize| {
            (y0..y1)
                .flat_map(|r| y.row(r)[x0..x1].to_vec())
                .filter(|&p| p == Yuv::WHITE.y)
                .count()
        };
        // 360 px tall -> 24 px glyphs: the label strip is in the bottom ~40 rows.
        assert!(white_in(0, 320, 320, 358) > 100, "label has ink");
        assert_eq!(white_in(0, 640, 2, 300), 0, "no ink above the label");
        assert_eq!(white_in(400, 638, 300, 358), 0, "no ink right of the label");
        // The picture away from the label is untouched.
        assert_eq!(canvas.pixel(500, 100), grey);
    }

    #[test]
    fn speaker_without_video_gets_a_coloured_card_with_initials() {
        let contents = [Some(TileContent {
            participant: ParticipantId(3),
            name: "Ada Lovelace",
            video: None,
        })];
        let grid = TileGrid::new(LayoutKind::Full, 320, 180).unwrap();
        let mut compositor = single(CompositorConfig {
            labels: false,
            ..CompositorConfig::default()
        });
        let canvas = compositor.compose(&grid, &contents, None).unwrap();
        let bg = card_color("Ada Lovelace");
        assert_eq!(canvas.pixel(10, 10), bg);
        let y = canvas.plane(PlaneKind::Y);
        let ink = (60..120)
            .flat_map(|r| y.row(r)[100..220].to_vec())
            .filter(|&p| p == Yuv::WHITE.y)
            .count();
        assert!(ink > 200, "initials drawn large in the middle ({ink} px)");
        assert_eq!(compositor.stats().cards_drawn, 1);
    }

    #[test]
    fn unchanged_tiles_are_not_rescaled() {
        let frames: Vec<I420Frame> = nine_colours()
            .iter()
            .map(|&c| I420Frame::solid(640, 360, c).unwrap())
            .collect();
        let grid = TileGrid::new(LayoutKind::Grid3x3, 1280, 720).unwrap();
        let mut compositor = single(CompositorConfig::default());
        let contents = |ids: &[u64]| -> Vec<Option<TileContent<'_>>> {
            (0..9)
                .map(|i| {
                    Some(TileContent {
                        participant: ParticipantId(i as u64),
                        name: "x",
                        video: Some(VideoSource {
                            frame: &frames[i],
                            frame_id: ids[i],
                        }),
                    })
                })
                .collect()
        };
        let ids = [1u64; 9];
        compositor
            .compose(&grid, &contents(&ids), Some(ParticipantId(0)))
            .unwrap();
        assert_eq!(compositor.stats().tiles_scaled, 9);
        assert_eq!(compositor.stats().borders_drawn, 9);

        // Same frames again: nothing scaled, nothing redrawn.
        compositor
            .compose(&grid, &contents(&ids), Some(ParticipantId(0)))
            .unwrap();
        assert_eq!(compositor.stats().tiles_scaled, 9);
        assert_eq!(compositor.stats().tiles_unchanged, 9);
        assert_eq!(compositor.stats().borders_drawn, 9);

        // Two new frames and a new active speaker: two scaled, two rings redrawn.
        let mut ids2 = ids;
        ids2[3] = 2;
        ids2[7] = 2;
        compositor
            .compose(&grid, &contents(&ids2), Some(ParticipantId(5)))
            .unwrap();
        let s = compositor.stats();
        assert_eq!(s.tiles_scaled, 11);
        assert_eq!(s.tiles_unchanged, 16);
        assert_eq!(s.borders_drawn, 11);
        assert_eq!(s.frames, 3);
    }

    #[test]
    fn rayon_and_single_thread_draw_the_same_picture() {
        let frames: Vec<I420Frame> = nine_colours()
            .iter()
            .enumerate()
            .map(|(i, &c)| I420Frame::solid(320 + 2 * i as u32, 240 - 2 * i as u32, c).unwrap())
            .collect();
        let contents: Vec<Option<TileContent<'_>>> = (0..9)
            .map(|i| {
                Some(TileContent {
                    participant: ParticipantId(i as u64),
                    name: "Someone",
                    video: (i % 3 != 0).then(|| VideoSource {
                        frame: &frames[i],
                        frame_id: 1,
                    }),
                })
            })
            .collect();
        let grid = TileGrid::new(LayoutKind::Grid3x3, 640, 360).unwrap();
        let mut a = single(CompositorConfig::default());
        let mut b = Compositor::new(CompositorConfig {
            threading: Threading::Rayon,
            ..CompositorConfig::default()
        })
        .unwrap();
        let pa = a.compose(&grid, &contents, None).unwrap().clone();
        let pb = b.compose(&grid, &contents, None).unwrap();
        assert_eq!(&pa, pb);
    }

    #[test]
    fn crop_to_fill_keeps_the_tile_aspect() {
        // 16:9 source into a 4:3 tile: crop the sides, centred.
        assert_eq!(
            fill_crop(1280, 720, 400, 300),
            Rect {
                x: 160,
                y: 0,
                width: 960,
                height: 720
            }
        );
        // Portrait source into a 16:9 tile: crop top and bottom, keeping more of the top.
        let c = fill_crop(720, 1280, 1280, 720);
        assert_eq!((c.width, c.height), (720, 405));
        assert_eq!(c.y, ((1280 - 405) / 3) & !1);
        // Same shape: the whole picture.
        assert_eq!(
            fill_crop(640, 360, 426, 240),
            Rect {
                x: 0,
                y: 0,
                width: 640,
                height: 360
            }
        );
    }

    #[test]
    fn empty_tiles_and_a_grid_change_redraw_everything() {
        let grid4 = TileGrid::new(LayoutKind::Grid2x2, 320, 180).unwrap();
        let mut compositor = single(CompositorConfig::default());
        let frame = I420Frame::solid(64, 36, Yuv::WHITE).unwrap();
        let one = [Some(TileContent {
            participant: ParticipantId(1),
            name: "",
            video: Some(VideoSource {
                frame: &frame,
                frame_id: 1,
            }),
        })];
        compositor.compose(&grid4, &one, None).unwrap();
        assert_eq!(compositor.stats().tiles_cleared, 3);
        let full = TileGrid::new(LayoutKind::Full, 320, 180).unwrap();
        let canvas = compositor.compose(&full, &one, None).unwrap();
        assert_eq!(canvas.pixel(160, 90), Yuv::WHITE);
        assert_eq!(compositor.stats().tiles_scaled, 2);
        assert!(matches!(
            compositor.compose(&full, &[None, None], None),
            Err(ComposeError::TooManyTiles { .. })
        ));
    }
}
