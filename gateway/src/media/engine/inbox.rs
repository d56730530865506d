//! The meeting engine's input queue: the bounded rule its [`Mailbox`](crate::media::pool::Mailbox)
//! applies as calls push media in, so a meeting whose engine falls behind holds a fixed amount of
//! media per participant instead of a growing backlog.
//!
//! Per participant it keeps at most:
//! - [`AUDIO_INPUTS`] audio frames: the oldest goes (the engine's own jitter queue has the same
//!   depth, so nothing older could be played anyway);
//! - one decoded picture: a newer one replaces it (a decoded picture is whole on its own);
//! - [`NATIVE_INPUTS`] access units of each encoding of a native stream: one that does not fit is dropped, and
//!   with it every later access unit of that encoding until a keyframe, so the decoder never sees
//!   a picture that refers to one it did not get; the engine learns of the loss
//!   ([`EngineQueue::take_losses`]) and asks the publisher for a keyframe.
//!
//! Control inputs (join, leave, mute, layout, keyframe requests) are never dropped: a few per
//! call, and losing one would leave the meeting wrong. Order is kept for everything queued.
//!
//! Owns the rule and its counts; it must not touch the engine's state.

use std::collections::{HashMap, HashSet, VecDeque};

use super::api::{EngineInput, MediaParticipant};
use super::ingest::is_keyframe;
use crate::media::pool::QueuePolicy;

/// Audio frames queued per participant (100 ms).
pub const AUDIO_INPUTS: usize = 5;
/// Access units queued per encoding of a native participant (about a quarter of a second).
pub const NATIVE_INPUTS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Audio,
    Picture,
    /// One encoding (layer) of a native stream: each is bounded on its own, so a browser's
    /// three simulcast layers do not share one small allowance.
    Native(usize),
}

fn kind(input: &EngineInput) -> Option<(MediaParticipant, Kind)> {
    match input {
        EngineInput::Audio { participant, .. } => Some((*participant, Kind::Audio)),
        EngineInput::Video { participant, .. } => Some((*participant, Kind::Picture)),
        EngineInput::NativeVideo {
            participant, layer, ..
        } => Some((*participant, Kind::Native(*layer))),
        _ => None,
    }
}

/// What the queue dropped since it was last asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputDrops {
    /// Audio frames (the oldest of a participant's queued ones).
    pub audio: u64,
    /// Decoded pictures replaced by a newer one before the engine took them.
    pub pictures: u64,
    /// Native access units (a full queue, then everything up to the next keyframe).
    pub native: u64,
}

/// The engine's queue rule. See the module doc.
#[derive(Debug, Default)]
pub struct EngineQueue {
    queued: HashMap<(MediaParticipant, Kind), usize>,
    /// Native encodings that lost an access unit and take nothing but a keyframe.
    awaiting_keyframe: HashSet<(MediaParticipant, usize)>,
    drops: InputDrops,
    /// Losses the engine has not heard of yet.
    losses: Vec<(MediaParticipant, usize)>,
}

impl EngineQueue {
    /// What was dropped since the last call.
    pub fn take_drops(&mut self) -> InputDrops {
        std::mem::take(&mut self.drops)
    }

    /// The native encodings (participant, layer) that lost access units since the last call.
    pub fn take_losses(&mut self) -> Vec<(MediaParticipant, usize)> {
        std::mem::take(&mut self.losses)
    }

    /// Removes the oldest queued input of `who`'s `kind`.
    fn remove_oldest(&mut self, queue: &mut VecDeque<EngineInput>, who: (MediaParticipant, Kind)) {
        if let Some(i) = queue.iter().position(|input| kind(input) == Some(who)) {
            queue.remove(i);
            if let Some(n) = self.queued.get_mut(&who) {
                *n -= 1;
            }
        }
    }
}

impl QueuePolicy<EngineInput> for EngineQueue {
    fn push(&mut self, queue: &mut VecDeque<EngineInput>, input: EngineInput) {
        if let EngineInput::Leave { participant } = &input {
            self.awaiting_keyframe.retain(|(p, _)| p != participant);
        }
        let Some(who) = kind(&input) else {
            queue.push_back(input);
            return;
        };
        let queued = self.queued.get(&who).copied().unwrap_or(0);
        match (&input, who.1) {
            (_, Kind::Audio) if queued >= AUDIO_INPUTS => {
                self.remove_oldest(queue, who);
                self.drops.audio += 1;
            }
            (_, Kind::Picture) if queued >= 1 => {
                self.remove_oldest(queue, who);
                self.drops.pictures += 1;
            }
            (
                EngineInput::NativeVideo {
                    participant,
                    layer,
                    access_unit,
                    ..
                },
                Kind::Native(_),
            ) => {
                let stream = (*participant, *layer);
                let waiting = self.awaiting_keyframe.contains(&stream);
                if queued >= NATIVE_INPUTS || (waiting && !is_keyframe(access_unit)) {
                    if !waiting {
                        self.losses.push(stream);
                    }
                    self.awaiting_keyframe.insert(stream);
                    self.drops.native += 1;
                    return;
                }
                // Not waiting, or the keyframe it waited for: the stream resumes here.
                self.awaiting_keyframe.remove(&stream);
            }
            _ => {}
        }
        *self.queued.entry(who).or_default() += 1;
        queue.push_back(input);
    }

    fn popped(&mut self, input: &EngineInput) {
        if let Some(who) = kind(input) {
            if let Some(n) = self.queued.get_mut(&who) {
                *n -= 1;
                if *n == 0 {
                    self.queued.remove(&who);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::media::pool::{mailbox, MailboxReceiver};

    use super::*;

    fn audio(participant: MediaParticipant, n: i16) -> EngineInput {
        EngineInput::Audio {
            participant,
            pcm: vec![n; 960],
        }
    }

    /// An access unit: one NAL unit, IDR (type 5) or not (type 1), tagged with `n`.
    fn unit(participant: MediaParticipant, n: u8, keyframe: bool) -> EngineInput {
        EngineInput::NativeVideo {
            participant,
            layer: 0,
            timestamp: 0,
            access_unit: vec![0, 0, 0, 1, if keyframe { 0x65 } else { 0x41 }, n],
        }
    }

    fn drain(rx: &MailboxReceiver<EngineInput, EngineQueue>) -> Vec<String> {
        std::iter::from_fn(|| rx.try_recv())
            .map(|input| match input {
                EngineInput::Audio { participant, pcm } => format!("a{participant}:{}", pcm[0]),
                EngineInput::NativeVideo { access_unit, .. } => format!("n{}", access_unit[5]),
                EngineInput::Leave { participant } => format!("leave{participant}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn audio_keeps_each_participants_newest_frames_and_control_is_never_dropped() {
        let (tx, rx) = mailbox::<EngineInput, EngineQueue>();
        for n in 0..8 {
            tx.send(audio(1, n)).unwrap();
            if n == 2 {
                tx.send(EngineInput::Leave { participant: 9 }).unwrap();
                tx.send(audio(2, 0)).unwrap();
            }
        }
        assert_eq!(
            drain(&rx),
            ["leave9", "a2:0", "a1:3", "a1:4", "a1:5", "a1:6", "a1:7"]
        );
        let drops = rx.with_policy(EngineQueue::take_drops);
        assert_eq!(drops.audio, 3);
        // Taken out, the queue has room again.
        tx.send(audio(1, 8)).unwrap();
        assert_eq!(drain(&rx), ["a1:8"]);
        assert_eq!(
            rx.with_policy(EngineQueue::take_drops),
            InputDrops::default()
        );
    }

    #[test]
    fn a_newer_decoded_picture_replaces_the_queued_one() {
        let (tx, rx) = mailbox::<EngineInput, EngineQueue>();
        let picture = |n: u32| EngineInput::Video {
            participant: 1,
            frame: Arc::new(mixer::frame::I420Frame::new(16 * n, 16).unwrap()),
        };
        tx.send(picture(1)).unwrap();
        tx.send(picture(2)).unwrap();
        let widths: Vec<u32> = std::iter::from_fn(|| rx.try_recv())
            .map(|input| match input {
                EngineInput::Video { frame, .. } => frame.width(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(widths, [32]);
        assert_eq!(rx.with_policy(EngineQueue::take_drops).pictures, 1);
    }

    #[test]
    fn a_full_native_queue_drops_to_the_next_keyframe_and_reports_the_loss_once() {
        let (tx, rx) = mailbox::<EngineInput, EngineQueue>();
        for n in 0..12 {
            tx.send(unit(7, n, n == 0)).unwrap();
        }
        // The queue frees up, but the stream stays cut until its keyframe.
        assert_eq!(drain(&rx).len(), NATIVE_INPUTS);
        tx.send(unit(7, 12, false)).unwrap();
        tx.send(unit(7, 13, true)).unwrap();
        tx.send(unit(7, 14, false)).unwrap();
        assert_eq!(drain(&rx), ["n13", "n14"]);
        let (drops, losses) = rx.with_policy(|q| (q.take_drops(), q.take_losses()));
        assert_eq!(drops.native, 5);
        assert_eq!(losses, [(7, 0)]);
    }
}
