//! The in-call DTMF controls: `*6` mute, `*8` layout, by RFC 4733 or SIP INFO, and not in the
//! entry queue.

use super::*;

/// The in-call DTMF controls the core asked for, in order.
fn controls(h: &Harness) -> Vec<MediaControl> {
    h.media
        .iter()
        .filter_map(|m| match m {
            CoreOutput::MediaControl { control, .. } => Some(*control),
            _ => None,
        })
        .collect()
}

fn direct_dial(h: &mut Harness) -> CallId {
    h.send(&invite("sip:12345678.1177958860@gw.example.com", "c1"));
    let CoreOutput::MediaStart { call, .. } = h.media[0].clone() else {
        panic!("{:?}", h.media)
    };
    assert_eq!(h.callers().len(), 1);
    call
}

#[test]
fn star_six_toggles_the_callers_mute() {
    let mut h = Harness::demo();
    let call = direct_dial(&mut h);
    press(&mut h, call, "*6");
    assert_eq!(controls(&h), [MediaControl::Mute(true)]);
    press(&mut h, call, "*6");
    assert_eq!(
        controls(&h),
        [MediaControl::Mute(true), MediaControl::Mute(false)]
    );
    assert!(h.media.iter().all(|m| match m {
        CoreOutput::MediaControl { call: c, .. } => *c == call,
        _ => true,
    }));
}

#[test]
fn star_eight_cycles_the_layout() {
    let mut h = Harness::demo();
    let call = direct_dial(&mut h);
    press(&mut h, call, "*8*8*8*8");
    assert_eq!(
        controls(&h),
        [
            MediaControl::Layout(LayoutMode::LargePlus7),
            MediaControl::Layout(LayoutMode::Grid2x2),
            MediaControl::Layout(LayoutMode::Speaker),
            MediaControl::Layout(LayoutMode::Grid),
        ]
    );
}

#[test]
fn meeting_digits_without_star_do_nothing() {
    let mut h = Harness::demo();
    let call = direct_dial(&mut h);
    press(&mut h, call, "68#6 8");
    // A star followed by another digit is dropped, and the star does not linger.
    press(&mut h, call, "*56");
    assert_eq!(controls(&h), []);
    // `**6`: the second star starts over, so this is still `*6`.
    press(&mut h, call, "**6");
    assert_eq!(controls(&h), [MediaControl::Mute(true)]);
}

#[test]
fn sip_info_digits_drive_the_in_call_controls() {
    let mut h = Harness::demo();
    h.send(&invite("sip:12345678.1177958860@gw.example.com", "c1"));
    let ok = h.final_response();
    for (i, d) in "*8".chars().enumerate() {
        h.send(&info_digit(&ok, 2 + i as u32, d));
        assert_eq!(h.codes(), [200]);
    }
    assert_eq!(controls(&h), [MediaControl::Layout(LayoutMode::LargePlus7)]);
}

#[test]
fn entry_queue_digits_are_not_in_call_controls() {
    let mut h = Harness::demo();
    h.send(&invite("sip:12345678@gw.example.com", "c1"));
    let CoreOutput::MediaStart { call, .. } = h.media[0].clone() else {
        panic!("{:?}", h.media)
    };
    // In the entry queue `*` still clears what was typed, and `*6`/`*8` are no controls.
    press(&mut h, call, "*6*8");
    press(&mut h, call, "99*1177958860#");
    assert_eq!(h.callers().len(), 1);
    assert_eq!(controls(&h), []);
    press(&mut h, call, "*6");
    assert_eq!(controls(&h), [MediaControl::Mute(true)]);
}
