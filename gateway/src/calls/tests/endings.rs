//! What the log says when a call ends: why, in words, whoever hung up.

use std::io;
use std::sync::{Arc, Mutex};

use super::*;

/// A log sink the test can read back (the subscriber is installed for this thread only, so
/// tests running in parallel do not mix their lines).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Runs `body` with the core's log going to a buffer; returns the "call ended" lines.
fn call_ended_lines(body: impl FnOnce()) -> Vec<String> {
    let log = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        // Other test threads may have registered the core's log callsites while no subscriber
        // of theirs was interested, and tracing caches that: recompute it now that ours exists.
        tracing::callsite::rebuild_interest_cache();
        body();
    });
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    text.lines()
        .filter(|l| l.contains("call ended"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_peer_hang_up_is_logged_with_a_reason_in_words() {
    let lines = call_ended_lines(|| {
        let mut h = Harness::demo();
        h.send(&invite("sip:12345678.1177958860@gw.example.com", "c1"));
        let ok = h.final_response();
        h.send(&ack(&ok, ""));
        h.send(&in_dialog("BYE", &ok, 2, "", ""));
        assert_eq!(h.codes(), [200]);
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("peer hung up (BYE)"), "{}", lines[0]);
    assert!(!lines[0].contains("None"), "{}", lines[0]);
}

#[test]
fn our_hang_up_is_logged_with_its_code_and_text() {
    let lines = call_ended_lines(|| {
        let mut h = Harness::demo();
        h.send(&invite("sip:12345678.1177958860@gw.example.com", "c1"));
        let _ = h.final_response();
        // No ACK ever comes: we end the call.
        h.advance(Duration::from_secs(64));
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("code=408"), "{}", lines[0]);
    assert!(lines[0].contains("No ACK received"), "{}", lines[0]);
}
