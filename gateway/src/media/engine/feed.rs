//! The bounded feed from the meeting engine (or the slate studio) to one call: mixed audio,
//! encoded layout pictures and "shown" notices, read by the call's media task with
//! `feed.recv().await`.
//!
//! A call that reads too slowly (its task starved, its socket backed up) must not make the
//! engine's memory grow, so the feed holds at most [`AUDIO_CAPACITY`] audio frames and
//! [`VIDEO_CAPACITY`] pictures, and drops by a rule that keeps pictures whole:
//! - audio: the oldest frame goes (the newest 100 ms are what the listener should hear next);
//! - video: a picture that does not fit is dropped, and so is every picture after it until a
//!   keyframe, which the sender is told it needs ([`Sent::needs_keyframe`]); the call never gets
//!   a P-frame that refers to a picture it did not get. A keyframe always gets in: the pictures
//!   still queued before it are superseded by it and go.
//! - forwarded access units (WebRTC viewers): at most [`FORWARD_CAPACITY`]; one that does not
//!   fit is dropped and the sender told ([`Sent::forward_dropped`]), so its slot waits for a
//!   keyframe;
//! - "shown" and relay notices, keyframe requests and slot lists are a few per call and never
//!   dropped.
//!
//! Owns the queue and its drop rule; the sender counts what was dropped. It must not know about
//! meetings or RTP.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::api::CallFeed;

/// Audio frames a feed holds (20 ms each).
pub const AUDIO_CAPACITY: usize = 5;
/// Pictures a feed holds (about 270 ms at 30 fps).
pub const VIDEO_CAPACITY: usize = 8;
/// Forwarded access units a feed holds (nine slots, a few pictures each).
pub const FORWARD_CAPACITY: usize = 64;

#[derive(Default)]
struct Queue {
    items: VecDeque<CallFeed>,
    audio: usize,
    video: usize,
    forwarded: usize,
    /// A picture was dropped: nothing but a keyframe goes in until one does.
    awaiting_keyframe: bool,
    receiver_gone: bool,
    sender_gone: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    arrived: Notify,
    /// The receiver has gone.
    gone: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        crate::media::pool::lock(&self.queue)
    }
}

/// What one [`FeedSender::send`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// Audio frames dropped (the oldest queued one, to make room).
    pub audio_dropped: u32,
    /// Pictures dropped (this one, or queued ones a keyframe superseded).
    pub video_dropped: u32,
    /// The feed waits for a keyframe: the sender should make the viewer's next picture one.
    pub needs_keyframe: bool,
    /// A forwarded access unit did not fit: its slot must wait for a keyframe.
    pub forward_dropped: bool,
}

/// The receiving call has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the call's feed is closed")]
pub struct FeedClosed;

/// The engine's side of a feed. See the module doc.
#[derive(Clone)]
pub struct FeedSender {
    shared: Arc<Shared>,
    /// Counts clones, so the receiver learns when the last sender has gone.
    _alive: Arc<SenderAlive>,
}

struct SenderAlive(Arc<Shared>);

impl Drop for SenderAlive {
    fn drop(&mut self) {
        self.0.lock().sender_gone = true;
        self.0.arrived.notify_one();
    }
}

impl std::fmt::Debug for FeedSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedSender").finish_non_exhaustive()
    }
}

/// The call's side of a feed.
pub struct FeedReceiver {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FeedReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedReceiver").finish_non_exhaustive()
    }
}

/// A new, empty feed.
#[must_use]
pub fn channel() -> (FeedSender, FeedReceiver) {
    let shared = Arc::new(Shared::default());
    let alive = Arc::new(SenderAlive(shared.clone()));
    (
        FeedSender {
            shared: shared.clone(),
            _alive: alive,
        },
        FeedReceiver { shared },
    )
}

impl FeedSender {
    /// Queues `item` by the feed's drop rule.
    ///
    /// # Errors
    /// The call's task has gone (its receiver was dropped).
    pub fn send(&self, item: CallFeed) -> Result<Sent, FeedClosed> {
        let mut sent = Sent::default();
        {
            let mut q = self.shared.lock();
            if q.receiver_gone {
                return Err(FeedClosed);
            }
            match &item {
                CallFeed::Audio(_) => {
                    if q.audio >= AUDIO_CAPACITY {
                        if let Some(i) =
                            q.items.iter().position(|f| matches!(f, CallFeed::Audio(_)))
                        {
                            q.items.remove(i);
                            q.audio -= 1;
                            sent.audio_dropped += 1;
                        }
                    }
                    q.audio += 1;
                }
                CallFeed::Video { frame, .. } if frame.keyframe => {
                    if q.video >= VIDEO_CAPACITY {
                        let before = q.items.len();
                        q.items.retain(|f| !matches!(f, CallFeed::Video { .. }));
                        sent.video_dropped +=
                            u32::try_from(before - q.items.len()).unwrap_or(u32::MAX);
                        q.video = 0;
                    }
                    q.awaiting_keyframe = false;
                    q.video += 1;
                }
                CallFeed::Video { .. } => {
                    if q.awaiting_keyframe || q.video >= VIDEO_CAPACITY {
                        q.awaiting_keyframe = true;
                        sent.video_dropped += 1;
                        sent.needs_keyframe = true;
                        return Ok(sent);
                    }
                    q.video += 1;
                }
                CallFeed::Forward { .. } => {
                    if q.forwarded >= FORWARD_CAPACITY {
                        sent.forward_dropped = true;
                        sent.video_dropped += 1;
                        return Ok(sent);
                    }
                    q.forwarded += 1;
                }
                CallFeed::Shown(_)
                | CallFeed::Tile(_)
                | CallFeed::Speaker(_)
                | CallFeed::Slots(_)
                | CallFeed::PublisherKeyframe(_)
                | CallFeed::Relay(_) => {}
            }
            q.items.push_back(item);
        }
        self.shared.arrived.notify_one();
        Ok(sent)
    }

    /// Resolves once the call's receiver has gone (for one waiter at a time).
    pub async fn closed(&self) {
        loop {
            if self.shared.lock().receiver_gone {
                return;
            }
            self.shared.gone.notified().await;
        }
    }
}

impl FeedReceiver {
    /// The next item, waiting for one; `None` once every sender has gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<CallFeed> {
        loop {
            {
                let mut q = self.shared.lock();
                if let Some(item) = take(&mut q) {
                    return Some(item);
                }
                if q.sender_gone {
                    return None;
                }
            }
            // `notify_one` keeps a permit when nobody waits, so an item queued between the
            // check above and this wait is not missed.
            self.shared.arrived.notified().await;
        }
    }

    /// The next item if one is queued.
    pub fn try_recv(&mut self) -> Option<CallFeed> {
        take(&mut self.shared.lock())
    }
}

fn take(q: &mut Queue) -> Option<CallFeed> {
    let item = q.items.pop_front()?;
    match item {
        CallFeed::Audio(_) => q.audio -= 1,
        CallFeed::Video { .. } => q.video -= 1,
        CallFeed::Forward { .. } => q.forwarded -= 1,
        CallFeed::Shown(_)
        | CallFeed::Tile(_)
        | CallFeed::Speaker(_)
        | CallFeed::Slots(_)
        | CallFeed::PublisherKeyframe(_)
        | CallFeed::Relay(_) => {}
    }
    Some(item)
}

impl Drop for FeedReceiver {
    fn drop(&mut self) {
        {
            let mut q = self.shared.lock();
            q.receiver_gone = true;
            q.items.clear();
        }
        self.shared.gone.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mixer::codec::h264::EncodedFrame;

    use super::*;

    fn picture(n: u32, keyframe: bool) -> CallFeed {
        CallFeed::Video {
            frame: Arc::new(EncodedFrame {
                data: vec![0, 0, 0, 1, 0x65],
                keyframe,
            }),
            timestamp: n * 3000,
        }
    }

    fn timestamps(rx: &mut FeedReceiver) -> Vec<(u32, bool)> {
        std::iter::from_fn(|| rx.try_recv())
            .filter_map(|f| match f {
                CallFeed::Video { frame, timestamp } => Some((timestamp / 3000, frame.keyframe)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_full_feed_drops_pictures_until_the_next_keyframe() {
        let (tx, mut rx) = channel();
        let mut dropped = 0;
        let mut asked = false;
        let mut got = Vec::new();
        for n in 0..20 {
            if n == 12 {
                // The call catches up (it had stalled since picture 0).
                got.extend(timestamps(&mut rx));
            }
            let sent = tx.send(picture(n, n == 0 || n == 14)).unwrap();
            dropped += sent.video_dropped;
            asked |= sent.needs_keyframe;
        }
        assert!(asked);
        // 0..8 fit; 8..14 are dropped, even once there is room again; the keyframe 14 and
        // what follows it get in.
        got.extend(timestamps(&mut rx));
        let expected: Vec<(u32, bool)> = (0..8)
            .map(|n| (n, n == 0))
            .chain((14..20).map(|n| (n, n == 14)))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(dropped, 6);
    }

    #[test]
    fn a_keyframe_into_a_full_feed_replaces_the_queued_pictures() {
        let (tx, mut rx) = channel();
        for n in 0..8 {
            let _ = tx.send(picture(n, n == 0)).unwrap();
        }
        let sent = tx.send(picture(8, true)).unwrap();
        assert_eq!(sent.video_dropped, 8);
        assert!(!sent.needs_keyframe);
        assert_eq!(timestamps(&mut rx), vec![(8, true)]);
    }

    #[test]
    fn a_full_feed_drops_the_oldest_audio_and_keeps_notices() {
        let (tx, mut rx) = channel();
        let mut dropped = 0;
        for n in 0..8i16 {
            dropped += tx
                .send(CallFeed::Audio(vec![n; 960]))
                .unwrap()
                .audio_dropped;
        }
        let _ = tx.send(CallFeed::Shown(false)).unwrap();
        assert_eq!(dropped, 3);
        let got: Vec<i16> = std::iter::from_fn(|| rx.try_recv())
            .map(|f| match f {
                CallFeed::Audio(pcm) => pcm[0],
                CallFeed::Shown(false) => -1,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(got, vec![3, 4, 5, 6, 7, -1]);
    }

    #[tokio::test]
    async fn recv_waits_for_an_item_and_ends_when_the_senders_have_gone() {
        let (tx, mut rx) = channel();
        let sender = tokio::spawn(async move {
            let _ = tx.send(CallFeed::Shown(true)).unwrap();
        });
        assert!(matches!(rx.recv().await, Some(CallFeed::Shown(true))));
        sender.await.unwrap();
        assert!(rx.recv().await.is_none());
    }

    #[test]
    fn sending_to_a_call_that_has_gone_is_an_error() {
        let (tx, rx) = channel();
        drop(rx);
        assert_eq!(tx.send(CallFeed::Shown(true)), Err(FeedClosed));
    }
}
