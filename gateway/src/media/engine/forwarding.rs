//! WebRTC viewers in the meeting engine: no layout is composited or encoded for them. Each has
//! [`SLOTS`] receive slots; the engine fills them with the most recent speakers other than the
//! viewer (the same tile assignment a VTC's 3x3 gets, so a speaker keeps its slot while it stays
//! on screen) and forwards into each the simulcast layer of that speaker that fits the size the
//! page shows the slot at, stepped down while the viewer's bandwidth estimate (REMB) cannot carry
//! the sum. VTCs and other browsers are forwarded as received ([`super::relay`]), synthetic
//! participants as they publish. Streams switch at keyframes ([`rtp_session::forward::SlotSelect`]); the peer driver
//! rewrites SSRC, sequence numbers and timestamps.
//!
//! Owns the slot plan of each WebRTC viewer and the choice of what is forwarded; it must not
//! encode, decode or touch RTP (the driver packetizes).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mixer::codec::h264::EncodedFrame;
use mixer::layout::ParticipantId;
use rtp_session::forward::{SlotSelect, SlotVerdict};

use super::api::{CallFeed, MediaParticipant};
use super::MeetingMedia;

/// Receive slots a browser offers (transceivers 2..=10 of the contract).
pub const SLOTS: usize = 9;

/// Slot size assumed until the page reports one: the middle layer of the usual ladder.
const DEFAULT_TILE: (u32, u32) = (640, 360);

/// Rough bit rate of a forwarded layer by its pixel count (what a browser's encoder sends for it;
/// used only to step layers down under a bandwidth estimate).
fn layer_bps(size: (u32, u32)) -> u64 {
    let pixels = u64::from(size.0) * u64::from(size.1);
    // 1.2 Mbit/s at 720p, proportionally less, at least 150 kbit/s.
    (pixels * 1_200_000 / (1280 * 720)).max(150_000)
}

/// A source's simulcast ladder by layer index: the layer's size, `None` for a layer the
/// publisher does not send now (a browser drops its upper layers while its own bandwidth
/// estimate or CPU is short; a slot aimed at one would wait for a keyframe that never comes).
pub(super) type Ladder = Vec<Option<(u32, u32)>>;

/// A slot's plan: the source, its ladder, the layer picked.
type Target = (MediaParticipant, Ladder, usize);

fn area((w, h): (u32, u32)) -> u64 {
    u64::from(w) * u64::from(h)
}

/// The layer of `ladder` that fits a tile of `need`: the smallest sent that covers it, else the
/// biggest sent.
pub(super) fn pick_layer(ladder: &Ladder, need: (u32, u32)) -> Option<usize> {
    let sent = || {
        ladder
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, (*s)?)))
    };
    sent()
        .filter(|(_, (w, h))| *w >= need.0 && *h >= need.1)
        .min_by_key(|(_, size)| area(*size))
        .or_else(|| sent().max_by_key(|(_, size)| area(*size)))
        .map(|(i, _)| i)
}

/// One WebRTC viewer's slots.
#[derive(Debug)]
pub(super) struct Forwarding {
    slots: Vec<SlotSelect>,
    /// The size the page shows each slot at.
    tiles: Vec<(u32, u32)>,
    /// Who each slot showed when the viewer was last told.
    told: Option<Vec<Option<MediaParticipant>>>,
    /// The receiver's bandwidth estimate, if it sent one.
    bandwidth_bps: Option<u64>,
}

impl Forwarding {
    pub(super) fn new() -> Self {
        Forwarding {
            slots: vec![SlotSelect::new(); SLOTS],
            tiles: vec![DEFAULT_TILE; SLOTS],
            told: None,
            bandwidth_bps: None,
        }
    }

    /// The page reported its slots' sizes.
    pub(super) fn set_tiles(&mut self, sizes: &[Option<(u32, u32)>]) {
        for (tile, size) in self.tiles.iter_mut().zip(sizes) {
            *tile = size.unwrap_or(DEFAULT_TILE);
        }
    }

    /// Who each slot shows, as the viewer was last told (`None` before the first plan).
    #[cfg(test)]
    pub(super) fn shown(&self) -> Option<&[Option<MediaParticipant>]> {
        self.told.as_deref()
    }

    /// How many slots forward a stream now.
    pub(super) fn current_streams(&self) -> usize {
        self.slots.iter().filter(|s| s.current().is_some()).count()
    }

    /// The receiver's bandwidth estimate (REMB).
    pub(super) fn set_bandwidth(&mut self, bps: u64) {
        self.bandwidth_bps = Some(bps);
    }

    /// The viewer cannot decode `slot` any more (it sent a PLI or FIR for it): the slot waits
    /// for its source's next keyframe, which [`MeetingMedia::forwarded_layers`] asks for.
    pub(super) fn slot_lost(&mut self, slot: usize) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.on_lost();
        }
    }

    /// The layers to forward for `assigned` (one source per slot): the one fitting each slot's
    /// size, then, while the sum exceeds the bandwidth estimate, the biggest stepped down one at
    /// a time. Returns the number of slots whose target changed layer or source.
    fn plan(
        &mut self,
        assigned: &[Option<MediaParticipant>],
        layers: &BTreeMap<MediaParticipant, Ladder>,
    ) -> u64 {
        let mut targets: Vec<Option<Target>> = (0..SLOTS)
            .map(|i| {
                let source = assigned.get(i).copied().flatten()?;
                let ladder = layers.get(&source)?;
                let layer = pick_layer(ladder, self.tiles[i])?;
                Some((source, ladder.clone(), layer))
            })
            .collect();
        if let Some(budget) = self.bandwidth_bps {
            loop {
                let total: u64 = targets
                    .iter()
                    .flatten()
                    .map(|(_, ladder, layer)| layer_bps(ladder[*layer].unwrap_or((0, 0))))
                    .sum();
                if total <= budget {
                    break;
                }
                // The biggest forwarded layer that has a smaller one steps down (of equal ones,
                // the last slot's: slots fill with the most recent speakers first).
                let biggest = targets
                    .iter_mut()
                    .flatten()
                    .filter_map(|t| {
                        let size = t.1[t.2]?;
                        let smaller = smaller_layer(&t.1, t.2)?;
                        Some((area(size), t, smaller))
                    })
                    .max_by_key(|(area, ..)| *area);
                let Some((_, target, smaller)) = biggest else {
                    break;
                };
                target.2 = smaller;
            }
        }
        let mut switches = 0;
        for (slot, target) in self.slots.iter_mut().zip(targets) {
            let target = target.map(|(source, _, layer)| (source, layer));
            if slot.target() != target {
                if slot.target().is_some() && target.is_some() {
                    switches += 1;
                }
                slot.set_target(target);
            }
        }
        switches
    }
}

/// The next smaller layer sent of `ladder` than `layer` (by area), if any.
fn smaller_layer(ladder: &Ladder, layer: usize) -> Option<usize> {
    let current = area((*ladder.get(layer)?)?);
    ladder
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, area((*s)?))))
        .filter(|(_, a)| *a < current)
        .max_by_key(|(_, a)| *a)
        .map(|(i, _)| i)
}

impl MeetingMedia {
    /// Plans every WebRTC viewer's slots from the speaker ranking (`ranked`, most recent first),
    /// tells viewers whose slots show someone new, and counts layer switches.
    pub(super) fn plan_forwarding(&mut self, ranked: &[ParticipantId]) {
        let layers = self.forward_ladders();
        // What a Tessera link's slots may carry (`super::link`: no echo).
        let local = self.local_only(ranked);
        let hubs: BTreeMap<MediaParticipant, Vec<ParticipantId>> = self
            .hub_links()
            .into_iter()
            .map(|hub| (hub, self.hub_view(hub, ranked)))
            .collect();
        let dominant = self.ranking.dominant().map(|p| p.0);
        let mut tell = Vec::new();
        let mut switches = 0;
        for (&id, p) in &mut self.participants {
            let Some(forwarding) = &mut p.forward else {
                continue;
            };
            let ranked = match (hubs.get(&id), p.link.is_some()) {
                (Some(hub), _) => hub,
                (None, true) => &local,
                (None, false) => ranked,
            };
            // A link is told the current speaker among those its slots may carry, when that
            // changes: the far node's roster orders its speakers by it.
            if let (Some(link), Some(feed)) = (p.link.as_mut(), p.feed.as_ref()) {
                let current = dominant.filter(|d| ranked.contains(&ParticipantId(*d)));
                if link.speaker_changed(current) {
                    // Notices are never dropped; a link that has gone is left to its `Leave`.
                    let _ = feed.send(CallFeed::Speaker(current));
                }
            }
            let mut assigned: Vec<Option<MediaParticipant>> = p
                .assigner
                .assign(ranked, Some(ParticipantId(id)))
                .iter()
                .map(|s| s.map(|s| s.0))
                .collect();
            assigned.resize(SLOTS, None);
            switches += forwarding.plan(&assigned, &layers);
            if forwarding.told.as_ref() != Some(&assigned) {
                forwarding.told = Some(assigned.clone());
                tell.push((id, assigned));
            }
        }
        if let (Some(m), true) = (&self.metrics, switches > 0) {
            m.webrtc_layer_switches_total.inc_by(switches);
        }
        for (id, assigned) in tell {
            self.send_feed(id, CallFeed::Slots(assigned));
        }
    }

    /// The layers WebRTC viewers need published, by source: each slot's target and (until the
    /// switch) its current stream; and the layers that wait for a keyframe.
    pub(super) fn forwarded_layers(
        &self,
    ) -> BTreeMap<MediaParticipant, (BTreeSet<usize>, BTreeSet<usize>)> {
        let mut wanted: BTreeMap<MediaParticipant, (BTreeSet<usize>, BTreeSet<usize>)> =
            BTreeMap::new();
        for slot in self
            .participants
            .values()
            .filter_map(|p| p.forward.as_ref())
            .flat_map(|f| &f.slots)
        {
            for (source, layer) in slot.target().into_iter().chain(slot.current()) {
                wanted.entry(source).or_default().0.insert(layer);
            }
            if let (true, Some((source, layer))) = (slot.wants_keyframe(), slot.target()) {
                wanted.entry(source).or_default().1.insert(layer);
            }
        }
        wanted
    }

    /// Offers one published access unit of `source`'s `layer` to every WebRTC viewer's slots.
    pub(super) fn forward_unit(
        &mut self,
        source: MediaParticipant,
        layer: usize,
        frame: &Arc<EncodedFrame>,
        timestamp: u32,
    ) {
        let mut sends = Vec::new();
        for (&viewer, p) in &mut self.participants {
            let Some(forwarding) = &mut p.forward else {
                continue;
            };
            for (index, slot) in forwarding.slots.iter_mut().enumerate() {
                if slot.offer((source, layer), frame.keyframe) != SlotVerdict::Skip {
                    sends.push((viewer, index));
                }
            }
        }
        for (viewer, slot) in sends {
            let item = CallFeed::Forward {
                slot,
                source,
                timestamp,
                frame: frame.clone(),
            };
            let Some(Ok(sent)) = self
                .participants
                .get(&viewer)
                .and_then(|p| p.feed.as_ref())
                .map(|feed| feed.send(item))
            else {
                continue;
            };
            if !sent.forward_dropped {
                if let Some(link) = self
                    .participants
                    .get_mut(&viewer)
                    .and_then(|p| p.link.as_mut())
                {
                    link.count(frame.data.len(), 0);
                }
            }
            if sent.forward_dropped {
                self.dropped("forwarded", 1);
                if let Some(s) = self
                    .participants
                    .get_mut(&viewer)
                    .and_then(|p| p.forward.as_mut())
                    .and_then(|f| f.slots.get_mut(slot))
                {
                    s.on_lost();
                }
            }
        }
    }

    /// An access unit of `source`'s `layer` was lost before the engine got it: every slot
    /// forwarding that stream waits for its next keyframe.
    pub(super) fn forward_lost(&mut self, source: MediaParticipant, layer: usize) {
        for slot in self
            .participants
            .values_mut()
            .filter_map(|p| p.forward.as_mut())
            .flat_map(|f| &mut f.slots)
            .filter(|s| s.current() == Some((source, layer)))
        {
            slot.on_lost();
        }
    }

    /// How many streams are forwarded now (slots with a current stream), for the gauge.
    pub(super) fn forwarded_streams(&self) -> usize {
        self.participants
            .values()
            .filter_map(|p| p.forward.as_ref())
            .flat_map(|f| &f.slots)
            .filter(|s| s.current().is_some())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LADDER: [(u32, u32); 3] = [(320, 180), (640, 360), (1280, 720)];

    fn layers(ids: &[MediaParticipant]) -> BTreeMap<MediaParticipant, Ladder> {
        ids.iter()
            .map(|id| (*id, LADDER.iter().copied().map(Some).collect()))
            .collect()
    }

    #[test]
    fn a_layer_the_publisher_does_not_send_is_not_picked() {
        let mut f = Forwarding::new();
        f.set_tiles(&[Some((640, 360)), Some((1280, 720))]);
        // Only the smallest layer flows (the browser is short of bandwidth).
        let only_q: BTreeMap<MediaParticipant, Ladder> =
            [(1, vec![Some((320, 180)), None, None])].into();
        f.plan(&[Some(1), Some(1)], &only_q);
        assert_eq!(f.slots[0].target(), Some((1, 0)));
        assert_eq!(f.slots[1].target(), Some((1, 0)));
        // The middle one comes back: the slot that fits it takes it.
        let q_and_h: BTreeMap<MediaParticipant, Ladder> =
            [(1, vec![Some((320, 180)), Some((640, 360)), None])].into();
        f.plan(&[Some(1), Some(1)], &q_and_h);
        assert_eq!(f.slots[0].target(), Some((1, 1)));
        assert_eq!(f.slots[1].target(), Some((1, 1)));
    }

    #[test]
    fn each_slot_gets_the_layer_that_fits_the_size_the_page_shows_it_at() {
        let mut f = Forwarding::new();
        f.set_tiles(&[Some((1280, 720)), Some((320, 180)), None]);
        let assigned = vec![Some(1), Some(2), Some(3)];
        f.plan(&assigned, &layers(&[1, 2, 3]));
        let targets: Vec<_> = f.slots.iter().map(SlotSelect::target).collect();
        assert_eq!(
            targets[..4],
            [Some((1, 2)), Some((2, 0)), Some((3, 1)), None]
        );
    }

    #[test]
    fn a_low_bandwidth_estimate_steps_the_biggest_layers_down_first() {
        let mut f = Forwarding::new();
        f.set_tiles(&[Some((1280, 720)), Some((1280, 720))]);
        let assigned = vec![Some(1), Some(2)];
        f.set_bandwidth(1_900_000);
        f.plan(&assigned, &layers(&[1, 2]));
        let targets: Vec<_> = f.slots.iter().take(2).map(SlotSelect::target).collect();
        // 2 x 1.2 Mbit/s does not fit; one steps down to 640x360 (300 kbit/s) and it does: of
        // equal layers, the later slot's (the less recent speaker's).
        assert_eq!(targets, [Some((1, 2)), Some((2, 1))]);
        // More room: both back up (one switch).
        f.set_bandwidth(5_000_000);
        assert_eq!(f.plan(&assigned, &layers(&[1, 2])), 1);
        assert_eq!(f.slots[1].target(), Some((2, 2)));
        // Very little: everything at the bottom.
        f.set_bandwidth(100_000);
        f.plan(&assigned, &layers(&[1, 2]));
        assert_eq!(f.slots[0].target(), Some((1, 0)));
        assert_eq!(f.slots[1].target(), Some((2, 0)));
    }

    #[test]
    fn a_source_that_publishes_no_layers_leaves_its_slot_empty() {
        let mut f = Forwarding::new();
        f.plan(&[Some(9)], &layers(&[1]));
        assert_eq!(f.slots[0].target(), None);
    }
}
