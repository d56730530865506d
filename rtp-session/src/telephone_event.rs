//! RFC 4733 telephone-events: the 4-byte payload and a detector that turns the packet stream of
//! a key press into exactly one [`DtmfDigit`].
//!
//! One key press arrives as many packets sharing the event's RTP timestamp (the start packet
//! carries the marker bit, each following one a growing duration) and ends with the E bit set,
//! normally sent three times (RFC 4733 §2.5.1.4). The next press gets a new timestamp. Any of
//! those packets may be lost, duplicated or reordered, so the detector reports an event the first
//! time it sees *any* packet of it and remembers recent events to ignore the rest.
//!
//! Sans-IO: it is fed parsed packets and keeps no clock.

use crate::api::DtmfDigit;

use crate::rtp::RtpHeader;

/// How many recent events the detector remembers to recognise late duplicates.
const REMEMBERED_EVENTS: usize = 8;

/// Events further apart than this (in RTP timestamp units: 10 s at 8 kHz) cannot be one
/// long-duration event continued in a new segment.
const MAX_SEGMENT_GAP: u32 = 80_000;

/// One RFC 4733 event block (§2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0-15 are DTMF, §3.2).
    pub event: u8,
    /// The E bit: this packet reports the end of the event.
    pub end: bool,
    /// Power level in -dBm0 (0-63).
    pub volume: u8,
    /// Duration so far, in RTP timestamp units.
    pub duration: u16,
}

/// Why a telephone-event payload cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TelephoneEventError {
    /// The payload is shorter than one 4-byte event block.
    #[error("telephone-event payload of {len} bytes, need 4")]
    TooShort {
        /// Payload length.
        len: usize,
    },
}

impl TelephoneEvent {
    /// Parses the first event block of a telephone-event payload (further blocks, which only
    /// RFC 2198 redundancy would carry, are ignored).
    ///
    /// # Errors
    /// [`TelephoneEventError::TooShort`] if the payload has fewer than 4 bytes.
    pub fn parse(payload: &[u8]) -> Result<Self, TelephoneEventError> {
        let Some(block) = payload.get(..4) else {
            return Err(TelephoneEventError::TooShort { len: payload.len() });
        };
        Ok(Self {
            event: block[0],
            end: block[1] & 0x80 != 0,
            volume: block[1] & 0x3F,
            duration: u16::from_be_bytes([block[2], block[3]]),
        })
    }

    /// Serialises the block (reserved bit zero).
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 4] {
        let [d0, d1] = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3F),
            d0,
            d1,
        ]
    }

    /// The DTMF digit for this event code, if it is one (0-9, 10 = `*`, 11 = `#`, 12-15 =
    /// `A`-`D`).
    #[must_use]
    pub fn digit(&self) -> Option<DtmfDigit> {
        digit_for_event(self.event)
    }
}

/// The RTP packets a sender sends for one key press of `event` (RFC 4733 §2.5): a start packet
/// with the marker bit, two updates 20 ms (160 ticks at 8 kHz) apart, then the end packet three
/// times (§2.5.1.4), all with the press's timestamp. `first` gives the payload type, SSRC, first
/// sequence number and the timestamp; its marker is ignored. What room systems send, and so
/// what simulated ones in tests send.
#[must_use]
pub fn key_press_packets(first: RtpHeader, event: u8) -> Vec<Vec<u8>> {
    [
        (160, false),
        (320, false),
        (480, false),
        (640, true),
        (640, true),
        (640, true),
    ]
    .iter()
    .zip(0u16..)
    .map(|(&(duration, end), i)| {
        let header = RtpHeader {
            marker: i == 0,
            sequence: first.sequence.wrapping_add(i),
            ..first
        };
        let block = TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        };
        crate::rtp::write(&header, &block.to_bytes())
    })
    .collect()
}

/// The DTMF digit for an RFC 4733 event code (0-9, 10 = `*`, 11 = `#`, 12-15 = `A`-`D`).
#[must_use]
pub fn digit_for_event(code: u8) -> Option<DtmfDigit> {
    let c = match code {
        0..=9 => char::from(b'0' + code),
        10 => '*',
        11 => '#',
        12..=15 => char::from(b'A' + (code - 12)),
        _ => return None,
    };
    Some(DtmfDigit(c))
}

/// An event the detector has already reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SeenEvent {
    ssrc: u32,
    timestamp: u32,
    event: u8,
    ended: bool,
}

/// Reports each key press of a telephone-event stream once.
#[derive(Debug, Default)]
pub struct TelephoneEventDetector {
    /// Most recent last; at most [`REMEMBERED_EVENTS`].
    recent: Vec<SeenEvent>,
}

impl TelephoneEventDetector {
    /// A detector that has seen nothing.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one telephone-event packet; returns the digit if this packet starts a key press
    /// not reported before.
    ///
    /// Non-DTMF events (flash, tones) are tracked like digits but never reported.
    ///
    /// # Errors
    /// [`TelephoneEventError`] if the payload is malformed (the detector's state is unchanged).
    pub fn handle_packet(
        &mut self,
        header: &RtpHeader,
        payload: &[u8],
    ) -> Result<Option<DtmfDigit>, TelephoneEventError> {
        let ev = TelephoneEvent::parse(payload)?;
        if let Some(seen) = self.recent.iter_mut().find(|s| {
            s.ssrc == header.ssrc && s.timestamp == header.timestamp && s.event == ev.event
        }) {
            seen.ended |= ev.end;
            return Ok(None);
        }
        if let Some(last) = self.recent.last_mut() {
            let ahead = header.timestamp.wrapping_sub(last.timestamp);
            let same_stream = last.ssrc == header.ssrc;
            // A late packet of an event older than the latest one: already handled or lost.
            if same_stream && ahead > u32::MAX / 2 {
                return Ok(None);
            }
            // RFC 4733 §2.5.2.3: a long event continues in a new segment with a new timestamp
            // and no marker bit; it is the same key press.
            if same_stream
                && !header.marker
                && !last.ended
                && last.event == ev.event
                && ahead <= MAX_SEGMENT_GAP
            {
                last.timestamp = header.timestamp;
                last.ended = ev.end;
                return Ok(None);
            }
        }
        if self.recent.len() == REMEMBERED_EVENTS {
            self.recent.remove(0);
        }
        self.recent.push(SeenEvent {
            ssrc: header.ssrc,
            timestamp: header.timestamp,
            event: ev.event,
            ended: ev.end,
        });
        Ok(ev.digit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SSRC: u32 = 0x1234_5678;

    fn header(marker: bool, timestamp: u32) -> RtpHeader {
        RtpHeader {
            marker,
            payload_type: 101,
            sequence: 0,
            timestamp,
            ssrc: SSRC,
        }
    }

    fn block(event: u8, end: bool, duration: u16) -> [u8; 4] {
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
        .to_bytes()
    }

    /// The packets a typical VTC sends for one 100 ms key press: start with marker, two
    /// updates, three end packets.
    fn key_press(event: u8, timestamp: u32) -> Vec<(RtpHeader, [u8; 4])> {
        vec![
            (header(true, timestamp), block(event, false, 160)),
            (header(false, timestamp), block(event, false, 320)),
            (header(false, timestamp), block(event, false, 480)),
            (header(false, timestamp), block(event, true, 800)),
            (header(false, timestamp), block(event, true, 800)),
            (header(false, timestamp), block(event, true, 800)),
        ]
    }

    fn feed(det: &mut TelephoneEventDetector, packets: &[(RtpHeader, [u8; 4])]) -> String {
        packets
            .iter()
            .filter_map(|(h, p)| det.handle_packet(h, p).expect("valid payload"))
            .map(|d| d.0)
            .collect()
    }

    #[test]
    fn parses_event_end_volume_and_duration() {
        // Event 11 (#), E=1, R=0, volume 10, duration 1000 (0x03E8).
        let ev = TelephoneEvent::parse(&[0x0B, 0x8A, 0x03, 0xE8]).expect("valid");
        assert_eq!(
            ev,
            TelephoneEvent {
                event: 11,
                end: true,
                volume: 10,
                duration: 1000
            }
        );
        assert_eq!(ev.to_bytes(), [0x0B, 0x8A, 0x03, 0xE8]);
    }

    #[test]
    fn reserved_bit_does_not_leak_into_volume() {
        let ev = TelephoneEvent::parse(&[0x01, 0x7F, 0, 0]).expect("valid");
        assert_eq!(ev.volume, 63);
        assert!(!ev.end);
    }

    #[test]
    fn short_payload_is_an_error() {
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(TelephoneEventError::TooShort { len: 3 })
        );
    }

    #[test]
    fn maps_the_sixteen_dtmf_codes_and_nothing_else() {
        let digits: String = (0..=15)
            .map(|c| digit_for_event(c).expect("dtmf").0)
            .collect();
        assert_eq!(digits, "0123456789*#ABCD");
        assert_eq!(digit_for_event(16), None);
        assert_eq!(digit_for_event(255), None);
    }

    #[test]
    fn one_key_press_with_three_end_packets_is_reported_once() {
        let mut det = TelephoneEventDetector::new();
        assert_eq!(feed(&mut det, &key_press(5, 1000)), "5");
    }

    #[test]
    fn repeated_key_gets_reported_again_under_a_new_timestamp() {
        let mut det = TelephoneEventDetector::new();
        let mut packets = key_press(1, 1000);
        packets.extend(key_press(1, 2600));
        packets.extend(key_press(11, 4200));
        assert_eq!(feed(&mut det, &packets), "11#");
    }

    #[test]
    fn lost_start_packets_still_report_the_key_once() {
        let mut det = TelephoneEventDetector::new();
        let packets = key_press(7, 5000);
        assert_eq!(feed(&mut det, &packets[3..]), "7");
    }

    #[test]
    fn late_end_packet_of_the_previous_key_is_not_reported_again() {
        let mut det = TelephoneEventDetector::new();
        let mut packets = key_press(2, 1000)[..2].to_vec();
        packets.extend(key_press(3, 2600));
        packets.push((header(false, 1000), block(2, true, 800)));
        assert_eq!(feed(&mut det, &packets), "23");
    }

    #[test]
    fn reordered_older_event_is_ignored() {
        let mut det = TelephoneEventDetector::new();
        let mut packets = key_press(4, 9000);
        packets.push((header(true, 7000), block(6, false, 160)));
        assert_eq!(feed(&mut det, &packets), "4");
    }

    #[test]
    fn long_event_continued_in_a_new_segment_is_one_key_press() {
        let mut det = TelephoneEventDetector::new();
        let packets = vec![
            (header(true, 0), block(9, false, 65535)),
            (header(false, 65535), block(9, false, 160)),
            (header(false, 65535), block(9, true, 320)),
        ];
        assert_eq!(feed(&mut det, &packets), "9");
    }

    #[test]
    fn timestamps_wrapping_past_zero_are_still_new_events() {
        let mut det = TelephoneEventDetector::new();
        let mut packets = key_press(1, u32::MAX - 100);
        packets.extend(key_press(2, 1500));
        assert_eq!(feed(&mut det, &packets), "12");
    }

    #[test]
    fn a_new_ssrc_starts_a_new_stream() {
        let mut det = TelephoneEventDetector::new();
        let mut packets = key_press(1, 50_000);
        let mut other = key_press(8, 10);
        for (h, _) in &mut other {
            h.ssrc = SSRC + 1;
        }
        packets.extend(other);
        assert_eq!(feed(&mut det, &packets), "18");
    }

    #[test]
    fn non_dtmf_events_are_ignored() {
        let mut det = TelephoneEventDetector::new();
        let mut packets = key_press(16, 100); // hook flash
        packets.extend(key_press(0, 1700));
        assert_eq!(feed(&mut det, &packets), "0");
    }

    #[test]
    fn malformed_payload_leaves_state_untouched() {
        let mut det = TelephoneEventDetector::new();
        assert!(det.handle_packet(&header(true, 10), &[1, 2]).is_err());
        assert_eq!(feed(&mut det, &key_press(3, 10)), "3");
    }

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(
            datagrams in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..40), 0..30),
        ) {
            let mut det = TelephoneEventDetector::new();
            for d in &datagrams {
                if let Ok(p) = crate::rtp::parse(d) {
                    let _ = det.handle_packet(&p.header, p.payload);
                }
                // Also feed the raw bytes as a payload under a fixed header.
                let _ = det.handle_packet(&header(false, 0), d);
            }
        }

        #[test]
        fn each_key_press_is_reported_exactly_once(
            events in proptest::collection::vec(0u8..16, 1..20),
            duplicate in proptest::collection::vec(any::<bool>(), 20),
        ) {
            let mut det = TelephoneEventDetector::new();
            let mut packets = Vec::new();
            for (i, ev) in events.iter().enumerate() {
                let ts = 1000 + 1600 * u32::try_from(i).unwrap_or(0);
                let mut press = key_press(*ev, ts);
                if duplicate[i] {
                    press.extend(press.clone());
                }
                packets.extend(press);
            }
            let expected: String = events
                .iter()
                .filter_map(|e| digit_for_event(*e).map(|d| d.0))
                .collect();
            prop_assert_eq!(feed(&mut det, &packets), expected);
        }
    }
}
