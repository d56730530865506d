//! One call of the project's H.323 test caller (`h323::caller`, Fast Start, H.245 tunnelled) that
//! stays up: its signalling runs on a thread of its own (the gateway's H.245 must be answered
//! while the test does other things) until the gateway releases the call or the call is dropped,
//! which hangs it up. For tests that need an H.323 call to hold something (a licence) while they
//! go on; a call that only waits for its Release Complete is `tests/h323.rs`'s `call`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{sleep, JoinHandle};
use std::time::{Duration, Instant};

use h323::call::LocalMedia;
use h323::caller::{Caller, CallerConfig, CallerEvent};
use h323::h225::{AliasAddress, ReleaseCompleteReason};
use h323::q931::MessageType;

/// Where a call stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H323State {
    /// Setup sent, no Connect nor Release Complete yet.
    Calling,
    /// The gateway answered with Connect.
    Connected,
    /// The gateway released the call (its H.225.0 reason and Q.850 cause), or closed the
    /// connection (`None`, `None`).
    Released(Option<ReleaseCompleteReason>, Option<u8>),
}

/// A call to a gateway's H.323 port; hung up when dropped.
pub struct H323Call {
    state: Arc<Mutex<H323State>>,
    hang_up: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl H323Call {
    /// Calls `alias` at `gateway` (its `--h323-listen`), offering to receive media at `local`.
    pub fn place(gateway: SocketAddr, alias: &str, local: LocalMedia) -> H323Call {
        let caller = Caller::new(CallerConfig {
            destination: vec![AliasAddress::h323_id(alias).unwrap()],
            local,
            fast_start: true,
            tunnelling: true,
        })
        .unwrap();
        let stream = TcpStream::connect(gateway).unwrap();
        let state = Arc::new(Mutex::new(H323State::Calling));
        let hang_up = Arc::new(AtomicBool::new(false));
        let (s, h) = (state.clone(), hang_up.clone());
        let thread = std::thread::spawn(move || run(caller, stream, &s, &h));
        H323Call {
            state,
            hang_up,
            thread: Some(thread),
        }
    }

    /// Waits (bounded by `patience`) until the call is connected or released; where it stands.
    pub fn settled(&self, patience: Duration) -> H323State {
        let deadline = Instant::now() + patience;
        loop {
            let state = self.state.lock().unwrap().clone();
            if state != H323State::Calling || Instant::now() > deadline {
                return state;
            }
            sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for H323Call {
    fn drop(&mut self) {
        self.hang_up.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The signalling loop: writes what the caller polls, reads with a short timeout, records the
/// state, and hangs up (Release Complete) when asked.
fn run(mut caller: Caller, mut stream: TcpStream, state: &Mutex<H323State>, hang_up: &AtomicBool) {
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut buf = [0u8; 8192];
    loop {
        while let Some(bytes) = caller.poll_transmit() {
            if stream.write_all(&bytes).is_err() {
                return;
            }
        }
        while let Some(event) = caller.poll_event() {
            let mut s = state.lock().unwrap();
            match event {
                CallerEvent::Received(MessageType::Connect) => *s = H323State::Connected,
                CallerEvent::Released(reason, cause) => {
                    *s = H323State::Released(reason, cause);
                    return;
                }
                _ => {}
            }
        }
        if hang_up.load(Ordering::SeqCst) {
            if caller.hang_up().is_ok() {
                while let Some(bytes) = caller.poll_transmit() {
                    let _ = stream.write_all(&bytes);
                }
            }
            return;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if caller.handle_input(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    *state.lock().unwrap() = H323State::Released(None, None);
}
