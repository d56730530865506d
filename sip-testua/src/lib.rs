//! A blocking SIP test user agent: one UDP socket and a clock loop around the sans-IO
//! [`signaling::ua::UserAgent`], placing one call (INVITE with an SDP offer, BYE) the way a room
//! system would. Used by the gateway's media end-to-end tests (a dev-dependency) and by the
//! load-test fleet (a dependency), which before had a copy each.
//!
//! Why a crate of its own: the driver reads the clock, owns a socket and a thread, so it cannot
//! live in `signaling` (sans-IO, even behind a feature); the gateway's tests and `loadtests` are
//! separate crates, so the only place both can share without one depending on the other's
//! internals is a small crate beside them (`publish = false`). Everything SIP is decided by the
//! agent; this crate only moves datagrams, passes the time in and waits for events. It must not
//! grow protocol logic: that belongs in `signaling::ua`, where it is tested on a virtual clock.
//!
//! The far end's in-dialog requests are handled without the caller: INFO and OPTIONS are
//! answered by the agent, a re-INVITE is accepted with the call's own SDP (the test UA's media
//! do not change). A UA made with [`Ua::new`] only calls out (an incoming call is refused 603);
//! one made with [`Ua::answering`] plays a conference bridge the gateway dials: the caller sees
//! each incoming call and answers or refuses it.
//!
//! [`link`] is a room system's constrained line and the RTCP it sends about it (policer, receiver
//! reports, TMMBR, PLI), shared the same way by the load fleet and the e2e tests' relay.

// The driver is the one place that reads the real clock (the agent takes it as input).
#![allow(clippy::disallowed_methods)]

pub mod link;
mod sdp;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use signaling::ua::{CallFailure, CallHandle, EndReason, UaConfig, UaEvent, UserAgent};

pub use sdp::{
    audio_offer, parse_answer, parse_audio_answer, vtc_answer, vtc_offer, vtc_offer_with, Answer,
};

/// How long we wait for the final response to the INVITE (the gateway answers at once; this is
/// for a loaded machine).
const INVITE_PATIENCE: Duration = Duration::from_secs(20);
/// How long we wait for the BYE's final response.
const BYE_PATIENCE: Duration = Duration::from_secs(10);
/// The longest the driver sleeps in `recv_from` before looking at the agent's timers again (a
/// command from the caller's thread may have set an earlier one; a retransmission up to this
/// late is harmless next to T1 = 500 ms, and a fleet of hundreds of UAs stays cheap).
const TICK: Duration = Duration::from_millis(100);

/// The agent and what the driver needs besides it, behind one lock.
struct Shared {
    ua: UserAgent,
    /// The offer (or answer) of the call, re-used to answer a re-INVITE.
    offer: String,
    /// Whether incoming calls go to the caller (an answering UA) or are refused 603.
    answering: bool,
}

impl Shared {
    /// Sends what the agent has to send and deals with its events: the caller's through
    /// `events`, the far end's in-dialog offers here.
    fn flush(&mut self, now: Instant, socket: &UdpSocket, events: &Sender<UaEvent>) {
        loop {
            while let Some(t) = self.ua.poll_transmit() {
                // UDP: a failed send is a lost datagram, which the agent's timers cover.
                let _ = socket.send_to(&t.bytes, t.to);
            }
            let Some(event) = self.ua.poll_event() else {
                return;
            };
            match event {
                UaEvent::Reinvited { call, .. } => {
                    let offer = self.offer.clone();
                    let _ = self.ua.accept_reinvite(now, call, &offer);
                }
                UaEvent::Incoming { call, .. } if !self.answering => {
                    let _ = self.ua.reject(now, call, 603);
                }
                other => {
                    let _ = events.send(other);
                }
            }
        }
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// One call from the test UA.
pub struct Ua {
    socket: UdpSocket,
    gateway: SocketAddr,
    request_uri: String,
    shared: Arc<Mutex<Shared>>,
    events: Receiver<UaEvent>,
    /// The sending end of `events`, for what a command itself produces.
    events_tx: Sender<UaEvent>,
    call: Option<CallHandle>,
    stop: Arc<AtomicBool>,
    driver: Option<JoinHandle<()>>,
}

impl Ua {
    /// A UA named `user` (From display name and user part) calling `dialled` at `gateway`, on a
    /// fresh loopback socket.
    pub fn new(gateway: SocketAddr, dialled: &str, user: &str) -> std::io::Result<Ua> {
        Ua::bind(gateway, format!("sip:{dialled}@{gateway}"), user, false)
    }

    /// A UA named `user` that answers (a conference bridge the gateway dials), on a fresh
    /// loopback socket ([`local_addr`](Self::local_addr)); it places no calls. Take each call
    /// with [`next_incoming`](Self::next_incoming), then [`accept`](Self::accept) or
    /// [`refuse`](Self::refuse) it.
    pub fn answering(user: &str) -> std::io::Result<Ua> {
        let unused = SocketAddr::from(([127, 0, 0, 1], 0));
        Ua::bind(unused, String::new(), user, true)
    }

    fn bind(
        gateway: SocketAddr,
        request_uri: String,
        user: &str,
        answering: bool,
    ) -> std::io::Result<Ua> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        let mut config = UaConfig::new(socket.local_addr()?, user, rand::random());
        config.display_name = Some(user.to_owned());
        config.user_agent = "tessera-testua".to_owned();
        let shared = Arc::new(Mutex::new(Shared {
            ua: UserAgent::new(config),
            offer: String::new(),
            answering,
        }));
        let (tx, events) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let driver = {
            let (socket, shared, stop, tx) = (
                socket.try_clone()?,
                shared.clone(),
                stop.clone(),
                tx.clone(),
            );
            thread::Builder::new()
                .name(format!("sipua-{user}"))
                .spawn(move || drive(&socket, &shared, &tx, &stop))?
        };
        Ok(Ua {
            socket,
            gateway,
            request_uri,
            shared,
            events,
            events_tx: tx,
            call: None,
            stop,
            driver: Some(driver),
        })
    }

    /// Runs a command on the agent at the current time and sends what it produced.
    fn command<T>(&self, f: impl FnOnce(&mut UserAgent, Instant) -> T) -> T {
        let mut shared = lock(&self.shared);
        let now = Instant::now();
        let result = f(&mut shared.ua, now);
        shared.flush(now, &self.socket, &self.events_tx);
        result
    }

    /// Waits until `pick` accepts an event (its value), or `None` after `patience`.
    fn wait<T>(&self, patience: Duration, pick: impl Fn(UaEvent) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    if let Some(value) = pick(event) {
                        return Some(value);
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Sends the INVITE with `offer`, waits for the 200 (the agent retransmits and ACKs), and
    /// returns what its SDP says. Any other outcome is an error naming it.
    pub fn invite(&mut self, offer: &str) -> Result<Answer, String> {
        let sdp = self.invite_for_sdp(offer)?;
        parse_answer(&sdp).map_err(|e| format!("{e}; the 200's SDP:\n{sdp}"))
    }

    /// [`invite`](Self::invite) giving the 200's SDP as it came (an offer without video, say
    /// [`audio_offer`], gets an answer [`parse_answer`] would refuse).
    pub fn invite_for_sdp(&mut self, offer: &str) -> Result<String, String> {
        if lock(&self.shared).answering {
            return Err("an answering UA places no calls".to_owned());
        }
        lock(&self.shared).offer = offer.to_owned();
        let (gateway, uri) = (self.gateway, self.request_uri.clone());
        let call = self
            .command(|ua, now| ua.invite(now, gateway, &uri, offer))
            .map_err(|e| format!("cannot send the INVITE: {e}"))?;
        self.call = Some(call);
        let outcome = self.wait(INVITE_PATIENCE, |event| match event {
            UaEvent::Answered { call: c, answer } if c == call => Some(Ok(answer)),
            UaEvent::Failed { call: c, failure } if c == call => Some(Err(describe(&failure))),
            UaEvent::Ended { call: c, reason } if c == call => {
                Some(Err(format!("the call ended before the answer: {reason:?}")))
            }
            _ => None,
        });
        match outcome {
            Some(Ok(sdp)) => Ok(sdp),
            Some(Err(e)) => {
                self.call = None;
                Err(e)
            }
            None => {
                let _ = self.command(|ua, now| ua.cancel(now, call));
                self.call = None;
                Err(format!(
                    "no final response to the INVITE within {INVITE_PATIENCE:?}"
                ))
            }
        }
    }

    /// Sends BYE and waits (bounded) for its final response. Returns its status, or `None` when
    /// none came (or there was no call to hang up).
    pub fn bye(&mut self) -> Option<u16> {
        let call = self.call.take()?;
        self.command(|ua, now| ua.bye(now, call)).ok()?;
        self.wait(BYE_PATIENCE, |event| match event {
            UaEvent::Ended {
                call: c,
                reason: EndReason::LocalBye { status },
            } if c == call => Some(status),
            UaEvent::Ended { call: c, .. } if c == call => Some(None),
            _ => None,
        })
        .flatten()
    }
}

/// The answering side.
impl Ua {
    /// Where the UA receives SIP.
    pub fn local_addr(&self) -> SocketAddr {
        lock(&self.shared).ua.config().local_addr
    }

    /// Waits (up to `patience`) for the next incoming call and returns its SDP offer; the call
    /// is then the one [`accept`](Self::accept), [`refuse`](Self::refuse) and
    /// [`wait_ended`](Self::wait_ended) act on.
    pub fn next_incoming(&mut self, patience: Duration) -> Result<String, String> {
        let (call, offer) = self
            .wait(patience, |event| match event {
                UaEvent::Incoming { call, offer, .. } => Some((call, offer)),
                _ => None,
            })
            .ok_or_else(|| format!("no incoming call within {patience:?}"))?;
        self.call = Some(call);
        Ok(offer)
    }

    /// Answers the incoming call 200 with `answer` and waits for the caller's ACK.
    pub fn accept(&mut self, answer: &str) -> Result<(), String> {
        let call = self.call.ok_or("no incoming call to accept")?;
        lock(&self.shared).offer = answer.to_owned();
        self.command(|ua, now| ua.answer(now, call, answer))
            .map_err(|e| format!("cannot answer: {e}"))?;
        self.wait(INVITE_PATIENCE, |event| match event {
            UaEvent::Confirmed { call: c } if c == call => Some(Ok(())),
            UaEvent::Ended { call: c, reason } if c == call => {
                Some(Err(format!("ended before the ACK: {reason:?}")))
            }
            _ => None,
        })
        .unwrap_or_else(|| Err(format!("no ACK within {INVITE_PATIENCE:?}")))
    }

    /// Refuses the incoming call with `status` (300-699).
    pub fn refuse(&mut self, status: u16) -> Result<(), String> {
        let call = self.call.take().ok_or("no incoming call to refuse")?;
        self.command(|ua, now| ua.reject(now, call, status))
            .map_err(|e| format!("cannot refuse: {e}"))
    }

    /// Waits (up to `patience`) for the current call to end and says how.
    pub fn wait_ended(&mut self, patience: Duration) -> Option<EndReason> {
        let call = self.call?;
        let reason = self.wait(patience, |event| match event {
            UaEvent::Ended { call: c, reason } if c == call => Some(reason),
            _ => None,
        })?;
        self.call = None;
        Some(reason)
    }
}

impl Drop for Ua {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(driver) = self.driver.take() {
            let _ = driver.join();
        }
    }
}

/// A failure in the words a test failure message needs.
fn describe(failure: &CallFailure) -> String {
    match failure {
        CallFailure::Rejected { status, reason } => format!("INVITE answered {status} {reason}"),
        CallFailure::Unauthorized { status } => {
            format!("INVITE answered {status}: credentials missing or refused")
        }
        CallFailure::Cancelled => "INVITE cancelled".to_owned(),
        CallFailure::Timeout => "no final response to the INVITE (Timer B)".to_owned(),
        CallFailure::BadAnswer(e) => format!("unusable 2xx to the INVITE: {e}"),
    }
}

/// The driver loop: datagrams in, timers fired, datagrams out, until told to stop.
fn drive(socket: &UdpSocket, shared: &Mutex<Shared>, events: &Sender<UaEvent>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::SeqCst) {
        let wait = lock(shared).ua.poll_timeout().map_or(TICK, |at| {
            at.saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), TICK)
        });
        // Only fails for a zero duration, which the clamp rules out.
        let _ = socket.set_read_timeout(Some(wait));
        let received = socket.recv_from(&mut buf);
        let mut shared = lock(shared);
        let now = Instant::now();
        if let Ok((len, from)) = received {
            // Bytes that are not SIP are dropped, as a phone would.
            let _ = shared.ua.handle_datagram(now, from, &buf[..len]);
        }
        if shared.ua.poll_timeout().is_some_and(|at| at <= now) {
            shared.ua.handle_timeout(now);
        }
        shared.flush(now, socket, events);
    }
}
