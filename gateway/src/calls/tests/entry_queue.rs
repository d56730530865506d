//! The entry queue: conference IDs by SIP INFO and RFC 4733, retries, timeouts and the hang-up.

use super::*;

#[test]
fn entry_queue_collects_the_conference_id_by_info_and_joins() {
    let mut h = Harness::demo();
    h.send(&invite("sip:12345678@gw.example.com", "c1"));
    let ok = h.final_response();
    assert_eq!(ok.status(), Some(200));
    assert!(h.media.iter().any(|m| matches!(
        m,
        CoreOutput::PlayPrompt {
            prompt: Prompt::EnterConferenceId,
            ..
        }
    )));
    assert!(h.callers().is_empty(), "not in the meeting yet");
    for (i, d) in "1177958860#".chars().enumerate() {
        h.send(&info_digit(&ok, 2 + i as u32, d));
        assert_eq!(h.codes(), [200]);
    }
    assert_eq!(h.callers().len(), 1);
    // Same dialog: no new INVITE, the call simply moved.
    assert_eq!(h.core.active_calls(), 1);
}

#[test]
fn entry_queue_retries_then_hangs_up_with_a_reason() {
    let mut h = Harness::new();
    h.send(&invite("sip:12345678@gw.example.com", "c1"));
    let ok = h.final_response();
    let mut cseq = 2;
    for attempt in 0..3 {
        for d in "999999#".chars() {
            h.send(&info_digit(&ok, cseq, d));
            cseq += 1;
        }
        let prompt = h.media.iter().rev().find_map(|m| match m {
            CoreOutput::PlayPrompt { prompt, .. } => Some(*prompt),
            _ => None,
        });
        let want = if attempt < 2 {
            Prompt::InvalidConferenceId
        } else {
            Prompt::Goodbye
        };
        assert_eq!(prompt, Some(want));
    }
    h.take_sent();
    h.advance(Duration::from_secs(3));
    let bye = h
        .take_sent()
        .into_iter()
        .find(|m| m.method() == Some(&Method::Bye))
        .expect("BYE");
    assert!(
        bye_reason(&bye).contains("cause=404"),
        "{}",
        bye_reason(&bye)
    );
    assert_eq!(bye.request_uri(), Some("sip:board@192.0.2.10:5060"));
    assert_eq!(h.core.active_calls(), 0);
}

#[test]
fn entry_queue_timeout_counts_as_a_failure() {
    let mut h = Harness::new();
    h.send(&invite("sip:12345678@gw.example.com", "c1"));
    h.advance(Duration::from_secs(31));
    assert!(h.media.iter().any(|m| matches!(
        m,
        CoreOutput::PlayPrompt {
            prompt: Prompt::InvalidConferenceId,
            ..
        }
    )));
}

#[test]
fn rfc4733_digits_from_media_feed_the_entry_queue() {
    let mut h = Harness::demo();
    h.send(&invite("sip:12345678@gw.example.com", "c1"));
    let CoreOutput::MediaStart { call, .. } = h.media[0].clone() else {
        panic!("{:?}", h.media)
    };
    for d in "1177958860#".chars() {
        h.core
            .handle_media_event(h.now, call, MediaEvent::Dtmf(DtmfDigit(d)));
    }
    assert_eq!(h.callers().len(), 1);
}
