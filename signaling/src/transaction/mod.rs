//! RFC 3261 §17 transactions, sans-IO: the four state machines (INVITE and non-INVITE, client and
//! server) with timers A-K, the RFC 6026 "Accepted" state, 2xx retransmission until the ACK
//! arrives, and automatic `100 Trying` on INVITE.
//!
//! The caller (the gateway's UDP/TCP driver) feeds [`TransactionLayer::handle_message`] with
//! parsed messages, the current `Instant` and the [`Peer`] they came from, calls
//! [`TransactionLayer::handle_timeout`] when [`TransactionLayer::poll_timeout`] says, and drains
//! [`TransactionLayer::poll_output`]: messages to transmit and events for the call logic. Nothing
//! here reads a clock, opens a socket or knows about meetings. Written by hand: the crates that
//! have transactions (`rsipstack`) own their sockets and a tokio runtime, which this layer must not.

mod client;
mod server;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::sip::{HeaderName, Message, Method, Rport, SipError, Via};
use client::ClientTransaction;
use server::ServerTransaction;

/// The RFC 3261 magic cookie that marks an RFC 3261 branch.
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// How messages reach a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Datagrams: retransmission timers run.
    Udp,
    /// A stream connection: the transport is reliable, so nothing is retransmitted.
    Tcp,
    /// TLS over a stream connection (RFC 3261 §26.3.1, `sips:`): reliable like TCP.
    Tls,
}

impl Transport {
    /// Whether the transport delivers reliably (RFC 3261 calls this "reliable").
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp | Transport::Tls)
    }

    /// Whether the transport is encrypted (SDES keys may travel in its SDP).
    pub fn is_secure(self) -> bool {
        matches!(self, Transport::Tls)
    }

    /// The name used in Via headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

/// The other end of a message: transport and socket address (for TCP, the connection's remote
/// address, which names the connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Transport.
    pub transport: Transport,
    /// Remote address.
    pub addr: SocketAddr,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.transport.as_str().to_ascii_lowercase(),
            self.addr
        )
    }
}

/// The RFC 3261 timer values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate (500 ms).
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// Longest time a message stays in the network (5 s).
    pub t4: Duration,
    /// Timer D: how long a client INVITE absorbs retransmitted final responses (>= 32 s).
    pub timer_d: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
        }
    }
}

/// The RFC 3261 / RFC 6026 timers, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Client INVITE request retransmission.
    A,
    /// Client INVITE timeout.
    B,
    /// Client INVITE: wait for response retransmissions after a final non-2xx.
    D,
    /// Client non-INVITE request retransmission.
    E,
    /// Client non-INVITE timeout.
    F,
    /// Server INVITE final response retransmission (also used for 2xx until ACK).
    G,
    /// Server INVITE: wait for ACK.
    H,
    /// Server INVITE: wait for ACK retransmissions.
    I,
    /// Server non-INVITE: wait for request retransmissions.
    J,
    /// Client non-INVITE: wait for response retransmissions.
    K,
    /// Server INVITE (RFC 6026): how long the Accepted state lasts.
    L,
    /// Client INVITE (RFC 6026): how long 2xx retransmissions are passed up.
    M,
}

/// Identifies a transaction: the top Via branch, sent-by and method (ACK folds into INVITE), per
/// RFC 3261 §17.2.3. Requests without the magic cookie (RFC 2543 peers) get a key built from
/// Call-ID, CSeq and From tag instead. The order means nothing; it lets the layer keep its timer
/// schedule in an ordered set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxnKey {
    /// Branch (or the RFC 2543 substitute).
    pub branch: String,
    /// Top Via sent-by (`host:port`); empty for client transactions.
    pub sent_by: String,
    /// The method the transaction is for (`INVITE` for an ACK to a non-2xx).
    pub method: Method,
}

impl TxnKey {
    /// The key of the server transaction a request belongs to.
    pub fn for_request(request: &Message) -> Result<TxnKey, SipError> {
        let via = request.top_via()?;
        let method = match request.method() {
            Some(Method::Ack) => Method::Invite,
            Some(m) => m.clone(),
            None => return Err(SipError::BadStartLine),
        };
        let sent_by = match via.port {
            Some(p) => format!("{}:{p}", via.host.to_ascii_lowercase()),
            None => via.host.to_ascii_lowercase(),
        };
        let branch = match via.branch() {
            Some(b) if b.starts_with(BRANCH_COOKIE) => b.to_owned(),
            _ => {
                let from_tag = request.from()?.tag().unwrap_or_default().to_owned();
                format!(
                    "2543|{}|{}|{from_tag}",
                    request.call_id()?,
                    request.cseq()?.seq
                )
            }
        };
        Ok(TxnKey {
            branch,
            sent_by,
            method,
        })
    }

    /// The INVITE server transaction a CANCEL (with this key) cancels.
    pub fn cancelled_invite(&self) -> TxnKey {
        TxnKey {
            method: Method::Invite,
            ..self.clone()
        }
    }

    fn for_client(request: &Message) -> Result<TxnKey, TransactionError> {
        let via = request.top_via()?;
        let branch = via
            .branch()
            .filter(|b| b.starts_with(BRANCH_COOKIE))
            .ok_or(TransactionError::NoBranch)?;
        Ok(TxnKey {
            branch: branch.to_owned(),
            sent_by: String::new(),
            method: request.cseq()?.method,
        })
    }

    fn for_response(response: &Message) -> Result<TxnKey, SipError> {
        let via = response.top_via()?;
        Ok(TxnKey {
            branch: via.branch().unwrap_or_default().to_owned(),
            sent_by: String::new(),
            method: response.cseq()?.method,
        })
    }
}

impl fmt::Display for TxnKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.branch)
    }
}

/// What the layer tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new request (not a retransmission). Answer it with [`TransactionLayer::respond`]; an
    /// INVITE has already been sent `100 Trying`. A CANCEL's INVITE is at
    /// [`TxnKey::cancelled_invite`].
    Request {
        /// The server transaction.
        key: TxnKey,
        /// The request, its top Via stamped with `received`/`rport`.
        request: Message,
        /// Where it came from.
        from: Peer,
    },
    /// An ACK to a 2xx (it travels outside the INVITE transaction). `key` is the INVITE
    /// transaction whose 2xx it acknowledged, when one was still retransmitting.
    Ack {
        /// The acknowledged INVITE transaction, if matched.
        key: Option<TxnKey>,
        /// The ACK.
        request: Message,
        /// Where it came from.
        from: Peer,
    },
    /// A response to one of our requests (each provisional, the final, and for INVITE any 2xx
    /// retransmission, which the owner must ACK again).
    Response {
        /// The client transaction.
        key: TxnKey,
        /// The response.
        response: Message,
    },
    /// A transaction gave up: B/F (no response to our request), H (no ACK for our non-2xx) or
    /// L (no ACK for our 2xx: the owner should end the dialog with BYE).
    Timeout {
        /// The transaction.
        key: TxnKey,
        /// Which timer fired.
        timer: Timer,
    },
}

/// What to do next: send something, or act on an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send `message` to `to`.
    Transmit {
        /// Destination.
        to: Peer,
        /// The message.
        message: Message,
    },
    /// Something happened.
    Event(Event),
}

/// Refusals of [`TransactionLayer`] calls.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// No server transaction has this key (it ended, or never existed).
    #[error("no transaction {0}")]
    Unknown(TxnKey),
    /// The transaction already sent its final response.
    #[error("transaction {0} already has a final response")]
    AlreadyFinal(TxnKey),
    /// `respond` was given a request, or `send_request` a response.
    #[error("wrong kind of message for this call")]
    WrongKind,
    /// Our request's top Via lacks an RFC 3261 branch.
    #[error("request has no z9hG4bK branch in its top Via")]
    NoBranch,
    /// ACKs are not sent through a client transaction (2xx ACKs are sent directly).
    #[error("ACK is not sent through a transaction")]
    AckNotTransaction,
    /// A transaction with this key exists already.
    #[error("transaction {0} exists already")]
    Duplicate(TxnKey),
    /// The message lacks a header the layer needs.
    #[error(transparent)]
    Sip(#[from] SipError),
}

/// Timers and outputs shared by every transaction's step functions.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub config: &'a TimerConfig,
    pub out: &'a mut VecDeque<Output>,
}

impl Ctx<'_> {
    fn send(&mut self, to: Peer, message: Message) {
        self.out.push_back(Output::Transmit { to, message });
    }
    fn event(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }
}

/// Which of the layer's two maps a scheduled transaction lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Server,
    Client,
}

/// One entry of the timer schedule: a transaction's next deadline.
type Scheduled = (Instant, Side, TxnKey);

/// All of one endpoint's transactions.
///
/// Besides the transactions, the layer keeps a schedule: every live transaction's next
/// deadline, soonest first. A gateway under load holds tens of thousands of transactions (a
/// finished UDP transaction lingers 32 s for retransmissions), and its driver asks
/// [`poll_timeout`](Self::poll_timeout) after every message: a scan of every transaction there
/// would make each message cost O(n). With the schedule, polling is O(1) and firing a timer
/// O(log n). Invariant: the schedule holds `(t.next_deadline(), side, key)` for exactly the
/// transactions whose next deadline is `Some`; every method that touches a transaction
/// re-establishes it through [`reschedule`].
#[derive(Debug, Default)]
pub struct TransactionLayer {
    config: TimerConfig,
    server: HashMap<TxnKey, ServerTransaction>,
    client: HashMap<TxnKey, ClientTransaction>,
    schedule: BTreeSet<Scheduled>,
    /// INVITE server transactions retransmitting a 2xx, by (Call-ID, CSeq number), so the ACK
    /// (which has a branch of its own) finds them.
    awaiting_ack: HashMap<(String, u32), TxnKey>,
    out: VecDeque<Output>,
}

/// Moves `key`'s schedule entry from `before` to `after` (either may be `None`: not scheduled).
fn reschedule(
    schedule: &mut BTreeSet<Scheduled>,
    side: Side,
    key: &TxnKey,
    before: Option<Instant>,
    after: Option<Instant>,
) {
    if before == after {
        return;
    }
    if let Some(at) = before {
        schedule.remove(&(at, side, key.clone()));
    }
    if let Some(at) = after {
        schedule.insert((at, side, key.clone()));
    }
}

impl TransactionLayer {
    /// An empty layer with the given timers.
    pub fn new(config: TimerConfig) -> Self {
        TransactionLayer {
            config,
            ..TransactionLayer::default()
        }
    }

    /// Live transactions (server, client).
    pub fn len(&self) -> (usize, usize) {
        (self.server.len(), self.client.len())
    }

    /// Server transactions from `ip` still waiting for their final response (what a
    /// per-source cap counts: answered ones only linger for retransmissions, and the per-source
    /// rate limit bounds those). A scan of every server transaction: asked once per new
    /// request, which that rate limit bounds too.
    pub fn pending_server_transactions_for(&self, ip: IpAddr) -> usize {
        self.server
            .values()
            .filter(|t| t.is_pending() && t.peer().addr.ip() == ip)
            .count()
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.server.is_empty() && self.client.is_empty()
    }

    /// Takes a message that arrived from `from` at `now`. Messages missing the headers a
    /// transaction needs are dropped (the driver answers unparseable requests with 400 itself).
    pub fn handle_message(&mut self, now: Instant, mut message: Message, from: Peer) {
        let mut ctx = Ctx {
            now,
            config: &self.config,
            out: &mut self.out,
        };
        let schedule = &mut self.schedule;
        if !message.is_request() {
            let Ok(key) = TxnKey::for_response(&message) else {
                return;
            };
            if let Some(txn) = self.client.get_mut(&key) {
                let before = txn.next_deadline();
                txn.on_response(&mut ctx, &key, message);
                reschedule(schedule, Side::Client, &key, before, txn.next_deadline());
            }
            // Stray responses (no transaction) are dropped, as RFC 3261 §18.1.2 says.
            return;
        }
        stamp_top_via(&mut message, from);
        let Ok(key) = TxnKey::for_request(&message) else {
            return;
        };
        if message.method() == Some(&Method::Ack) {
            if let Some(txn) = self.server.get_mut(&key) {
                // ACK to a non-2xx: part of the INVITE transaction.
                let before = txn.next_deadline();
                let absorbed = txn.on_ack(&mut ctx);
                reschedule(schedule, Side::Server, &key, before, txn.next_deadline());
                if absorbed {
                    return;
                }
            }
            let acked = match (message.call_id(), message.cseq()) {
                (Ok(call_id), Ok(cseq)) => {
                    self.awaiting_ack.remove(&(call_id.to_owned(), cseq.seq))
                }
                _ => None,
            };
            if let Some(invite) = &acked {
                if let Some(txn) = self.server.get_mut(invite) {
                    let before = txn.next_deadline();
                    txn.on_2xx_ack();
                    reschedule(schedule, Side::Server, invite, before, txn.next_deadline());
                }
            }
            ctx.event(Event::Ack {
                key: acked,
                request: message,
                from,
            });
            return;
        }
        if let Some(txn) = self.server.get_mut(&key) {
            let before = txn.next_deadline();
            txn.on_retransmission(&mut ctx);
            reschedule(schedule, Side::Server, &key, before, txn.next_deadline());
            return;
        }
        let txn = ServerTransaction::new(&mut ctx, &message, from);
        reschedule(schedule, Side::Server, &key, None, txn.next_deadline());
        self.server.insert(key.clone(), txn);
        ctx.event(Event::Request {
            key,
            request: message,
            from,
        });
    }

    /// Sends a response in server transaction `key`.
    pub fn respond(
        &mut self,
        now: Instant,
        key: &TxnKey,
        response: Message,
    ) -> Result<(), TransactionError> {
        let Some(code) = response.status() else {
            return Err(TransactionError::WrongKind);
        };
        let txn = self
            .server
            .get_mut(key)
            .ok_or_else(|| TransactionError::Unknown(key.clone()))?;
        let mut ctx = Ctx {
            now,
            config: &self.config,
            out: &mut self.out,
        };
        // Taken before the response moves into the transaction; recorded only if it is sent.
        let ack_match = if (200..300).contains(&code) && key.method == Method::Invite {
            match (response.call_id(), response.cseq()) {
                (Ok(call_id), Ok(cseq)) => Some((call_id.to_owned(), cseq.seq)),
                _ => None,
            }
        } else {
            None
        };
        let before = txn.next_deadline();
        let sent = txn.respond(&mut ctx, key, response);
        reschedule(
            &mut self.schedule,
            Side::Server,
            key,
            before,
            txn.next_deadline(),
        );
        sent?;
        if let Some(ack_match) = ack_match {
            self.awaiting_ack.insert(ack_match, key.clone());
        }
        Ok(())
    }

    /// Whether server transaction `key` has not yet sent a final response (what CANCEL needs).
    pub fn is_pending(&self, key: &TxnKey) -> bool {
        self.server
            .get(key)
            .is_some_and(ServerTransaction::is_pending)
    }

    /// Starts a client transaction for `request` (its top Via must carry a `z9hG4bK` branch) and
    /// sends it to `to`.
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Message,
        to: Peer,
    ) -> Result<TxnKey, TransactionError> {
        match request.method() {
            None => return Err(TransactionError::WrongKind),
            Some(Method::Ack) => return Err(TransactionError::AckNotTransaction),
            Some(_) => {}
        }
        let key = TxnKey::for_client(&request)?;
        if self.client.contains_key(&key) {
            return Err(TransactionError::Duplicate(key));
        }
        let mut ctx = Ctx {
            now,
            config: &self.config,
            out: &mut self.out,
        };
        let txn = ClientTransaction::new(&mut ctx, request, to);
        reschedule(
            &mut self.schedule,
            Side::Client,
            &key,
            None,
            txn.next_deadline(),
        );
        self.client.insert(key.clone(), txn);
        Ok(key)
    }

    /// Fires every timer due at `now` and drops finished transactions.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut ctx = Ctx {
            now,
            config: &self.config,
            out: &mut self.out,
        };
        // Everything due is taken off first, so each transaction fires once per call (as when
        // every transaction was swept), whatever its timers are rescheduled to.
        let mut due = Vec::new();
        while self.schedule.first().is_some_and(|(at, _, _)| *at <= now) {
            if let Some((_, side, key)) = self.schedule.pop_first() {
                due.push((side, key));
            }
        }
        for (side, key) in due {
            let (alive, next) = match side {
                Side::Server => match self.server.get_mut(&key) {
                    Some(txn) => (txn.on_timers(&mut ctx, &key), txn.next_deadline()),
                    None => continue,
                },
                Side::Client => match self.client.get_mut(&key) {
                    Some(txn) => (txn.on_timers(&mut ctx, &key), txn.next_deadline()),
                    None => continue,
                },
            };
            if alive {
                reschedule(&mut self.schedule, side, &key, None, next);
                continue;
            }
            match side {
                Side::Server => {
                    let ended = self.server.remove(&key);
                    // A 2xx that was never acknowledged leaves its ACK index entry behind.
                    if let Some(ack_match) = ended.as_ref().and_then(ServerTransaction::ack_match) {
                        if self.awaiting_ack.get(&ack_match) == Some(&key) {
                            self.awaiting_ack.remove(&ack_match);
                        }
                    }
                }
                Side::Client => {
                    self.client.remove(&key);
                }
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.schedule.first().map(|(at, _, _)| *at)
    }

    /// The next message to send or event to act on.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
}

/// RFC 3261 §18.2.1 and RFC 3581: record where the request really came from in its top Via.
fn stamp_top_via(request: &mut Message, from: Peer) {
    let Some(first) = request.headers.get(&HeaderName::VIA) else {
        return;
    };
    let elements = crate::sip::header::split_list(first);
    let Some(mut via) = elements.first().and_then(|v| Via::parse(v)) else {
        return;
    };
    via.stamp_source(from.addr.ip(), from.addr.port());
    let mut rebuilt = vec![via.to_string()];
    rebuilt.extend(elements[1..].iter().map(|s| s.trim().to_owned()));
    replace_first(request, &HeaderName::VIA, rebuilt.join(", "));
}

fn replace_first(message: &mut Message, name: &HeaderName, value: String) {
    let mut headers = crate::sip::Headers::new();
    let mut done = false;
    for h in message.headers.iter() {
        if !done && h.name == *name {
            headers.push(h.name.clone(), value.clone());
            done = true;
        } else {
            headers.push(h.name.clone(), h.value.clone());
        }
    }
    message.headers = headers;
}

/// Where the responses to a request from `from` go (RFC 3261 §18.2.2, RFC 3581 §4): back over
/// the connection for TCP; over UDP to the source address, at the source port when the client
/// asked for `rport`, else at its Via sent-by port (5060 by default).
pub fn response_destination(request: &Message, from: Peer) -> Peer {
    if from.transport.is_reliable() {
        return from;
    }
    let port = match request.top_via() {
        Ok(via) => match via.rport() {
            Rport::Port(_) | Rport::Requested => from.addr.port(),
            Rport::Absent => via.port.unwrap_or(5060),
        },
        Err(_) => from.addr.port(),
    };
    Peer {
        transport: from.transport,
        addr: SocketAddr::new(from.addr.ip(), port),
    }
}

#[cfg(test)]
mod tests;
