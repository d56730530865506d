//! One SIP user agent, sans-IO: the UAC and UAS dialog usage of RFC 3261 (§12-§15) on top of
//! [`crate::transaction`], [`crate::dialog`] and [`crate::sip`], with digest answers from
//! [`crate::digest`].
//!
//! Owns calls: placing one (INVITE with an SDP offer, digest answer to 401/407, CANCEL, ACK of the
//! 2xx and again on every 2xx retransmission), answering one (100 by the transaction layer, then
//! 180/200 or a refusal, the ACK), and what happens inside an established dialog in both
//! directions (re-INVITE, INFO, BYE). It must not own sockets, a clock or randomness: the driver
//! feeds [`UserAgent::handle_datagram`] and [`UserAgent::handle_timeout`] with the current
//! `Instant`, sends what [`UserAgent::poll_transmit`] yields, acts on [`UserAgent::poll_event`],
//! and wakes at [`UserAgent::poll_timeout`]; Call-IDs, tags, branches and cnonces come from a seed
//! in [`UaConfig`]. It knows nothing about meetings or media: SDP bodies pass through as text.
//!
//! **Many calls per agent, each by handle.** One `UserAgent` is one SIP endpoint (one socket);
//! it holds any number of concurrent calls, each named by a [`CallHandle`] the commands take and
//! every event carries, in the style of quinn's connection handles. Incoming messages are routed
//! by Call-ID (ours are unique per call) and transaction key. So a gateway dials out several
//! calls through one socket, and a test fleet may equally use one agent per call.
//!
//! Limits, on purpose: UDP only (every message is a datagram to the address the call was set up
//! with; the remote target and route set go into the messages but no DNS is resolved), no
//! forking (a second 2xx with another To tag is ACKed and ignored), no PRACK/UPDATE/early media
//! beyond passing a 1xx's SDP up, and an unparsable datagram is refused with an error for the
//! driver to log (the agent does not answer it).

mod uac;
mod uas;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use crate::dialog::Dialog;
use crate::digest::Challenge;
use crate::sip::{HeaderName, Message, Method, NameAddr, SipError, Via};
use crate::transaction::{
    Event as TxnEvent, Output, Peer, TimerConfig, TransactionError, TransactionLayer, Transport,
    TxnKey, BRANCH_COOKIE,
};

/// The methods this agent handles, for `Allow`.
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, INFO, OPTIONS";

/// Credentials the agent answers digest challenges with.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Digest username.
    pub username: String,
    /// Password (never logged: `Debug` hides it).
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"..")
            .finish()
    }
}

/// How the agent presents itself.
#[derive(Debug, Clone)]
pub struct UaConfig {
    /// The address the agent's socket is reached at; it goes into Via, From and Contact.
    pub local_addr: SocketAddr,
    /// The user part of From and Contact.
    pub user: String,
    /// The display name in From, if any.
    pub display_name: Option<String>,
    /// The `User-Agent` / `Server` value.
    pub user_agent: String,
    /// What to answer 401/407 challenges with; without them a challenge fails the request.
    pub credentials: Option<Credentials>,
    /// RFC 3261 timer values.
    pub timers: TimerConfig,
    /// Seed of the identifiers the agent makes up (Call-IDs, tags, branches, cnonces). Drivers
    /// give a random value; tests a fixed one, which makes runs repeatable.
    pub seed: u64,
}

impl UaConfig {
    /// A configuration with default timers, no display name and no credentials.
    pub fn new(local_addr: SocketAddr, user: &str, seed: u64) -> UaConfig {
        UaConfig {
            local_addr,
            user: user.to_owned(),
            display_name: None,
            user_agent: "tessera".to_owned(),
            credentials: None,
            timers: TimerConfig::default(),
            seed,
        }
    }
}

/// Names one call of a [`UserAgent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle(u64);

impl fmt::Display for CallHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call#{}", self.0)
    }
}

/// Why a call we placed was not established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailure {
    /// A final response of 300-699 (other than the cases below).
    Rejected {
        /// The status code.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// A 401/407 we could not answer (no credentials, an unusable challenge) or that came back
    /// again for our answer (a wrong password).
    Unauthorized {
        /// 401 or 407.
        status: u16,
    },
    /// Our CANCEL took effect (487).
    Cancelled,
    /// No final response before Timer B.
    Timeout,
    /// The 2xx could not form a dialog (no To tag or Contact); it was ACKed and the call ended
    /// with BYE.
    BadAnswer(String),
}

/// How an established (or answered) call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// We sent BYE; its final status, or `None` when none came before Timer F.
    LocalBye {
        /// The final status of our BYE.
        status: Option<u16>,
    },
    /// The far end sent BYE (answered 200).
    RemoteBye,
    /// The far end cancelled its INVITE before we answered (we answered 487).
    RemoteCancel,
    /// Our 2xx was never acknowledged (Timer L); we sent BYE.
    NoAck,
    /// A request of ours within the dialog (INFO, re-INVITE) was answered 481 or 408, or not at
    /// all (`None`): the far end lost the dialog (RFC 3261 §12.2.1.2). A BYE was sent unless it
    /// said 481.
    DialogGone {
        /// The final status of the request, or `None` when none came.
        status: Option<u16>,
    },
}

/// What the agent tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UaEvent {
    /// A new incoming call (100 Trying already sent): answer it with [`UserAgent::ringing`],
    /// [`UserAgent::answer`] or [`UserAgent::reject`].
    Incoming {
        /// The call.
        call: CallHandle,
        /// The caller as its From header names it.
        from: NameAddr,
        /// The Request-URI (what was dialled).
        request_uri: String,
        /// The SDP offer (empty when the INVITE had none).
        offer: String,
    },
    /// A provisional response (101-199) to our INVITE.
    Progress {
        /// The call.
        call: CallHandle,
        /// The status code.
        status: u16,
        /// The SDP it carried (early media), if any.
        sdp: Option<String>,
    },
    /// Our INVITE was answered 2xx and the ACK sent: the call is established.
    Answered {
        /// The call.
        call: CallHandle,
        /// The SDP answer.
        answer: String,
    },
    /// Our call was not established.
    Failed {
        /// The call.
        call: CallHandle,
        /// Why.
        failure: CallFailure,
    },
    /// The far end acknowledged our 2xx (to its INVITE or re-INVITE).
    Confirmed {
        /// The call.
        call: CallHandle,
    },
    /// The far end sent a re-INVITE: answer it with [`UserAgent::accept_reinvite`] or
    /// [`UserAgent::refuse_reinvite`].
    Reinvited {
        /// The call.
        call: CallHandle,
        /// The new offer (empty for an offerless re-INVITE).
        offer: String,
    },
    /// Our re-INVITE was answered 2xx (and ACKed).
    ReinviteAnswered {
        /// The call.
        call: CallHandle,
        /// The SDP answer.
        answer: String,
    },
    /// Our re-INVITE failed; the dialog and its previous session stay.
    ReinviteRefused {
        /// The call.
        call: CallHandle,
        /// The final status, or `None` when none came before Timer B.
        status: Option<u16>,
    },
    /// The far end sent INFO (answered 200), e.g. a DTMF digit.
    Info {
        /// The call.
        call: CallHandle,
        /// Its Content-Type.
        content_type: Option<String>,
        /// Its body.
        body: Vec<u8>,
    },
    /// Our INFO got its final response.
    InfoAnswered {
        /// The call.
        call: CallHandle,
        /// The final status, or `None` when none came before Timer F.
        status: Option<u16>,
    },
    /// The call ended; its handle is no longer valid.
    Ended {
        /// The call.
        call: CallHandle,
        /// How.
        reason: EndReason,
    },
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub to: SocketAddr,
    /// The serialised SIP message.
    pub bytes: Vec<u8>,
}

/// Refusals of the agent's commands and inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UaError {
    /// No live call has this handle (it ended, or never existed).
    #[error("no call {0}")]
    UnknownCall(CallHandle),
    /// The command does not fit the call's state (BYE before answer, answer twice...).
    #[error("{call}: cannot {action} while {state}")]
    WrongState {
        /// The call.
        call: CallHandle,
        /// What was asked.
        action: &'static str,
        /// The state it is in.
        state: &'static str,
    },
    /// A status code outside what the command allows.
    #[error("status {0} not allowed here")]
    BadStatus(u16),
    /// The Request-URI given to [`UserAgent::invite`] is not a URI.
    #[error("bad Request-URI {0:?}")]
    BadUri(String),
    /// A received datagram is not a SIP message.
    #[error("unparsable datagram: {0}")]
    Parse(#[from] SipError),
    /// The transaction layer refused.
    #[error(transparent)]
    Transaction(#[from] TransactionError),
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// UAC: INVITE sent, no final response.
    Calling,
    /// UAS: INVITE received, not answered.
    Incoming,
    /// UAS: 2xx sent, waiting for the ACK.
    Answered,
    /// Dialog established.
    Established,
    /// BYE sent, waiting for its final response.
    Terminating,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Calling => "calling",
            State::Incoming => "ringing in",
            State::Answered => "waiting for ACK",
            State::Established => "established",
            State::Terminating => "hanging up",
        }
    }
}

/// The digest state of a call after its first challenge, reused (with a rising `nc`) on every
/// later request of the call.
#[derive(Debug, Clone)]
struct Auth {
    challenge: Challenge,
    header: HeaderName,
    nc: u32,
}

/// A request of ours in flight (its client transaction), for retries and routing responses.
#[derive(Debug, Clone)]
struct Pending {
    call: CallHandle,
    request: Message,
    /// How many times this request was resent with new credentials.
    auth_tries: u8,
}

/// One call.
#[derive(Debug)]
struct Call {
    peer: SocketAddr,
    state: State,
    call_id: String,
    /// Our From tag (UAC) or To tag (UAS).
    local_tag: String,
    dialog: Option<Dialog>,
    /// UAC: the INVITE as last sent (CANCEL copies it) and its transaction.
    invite: Option<(TxnKey, Message)>,
    /// UAC: CANCEL asked for; sent as soon as a provisional response arrived (RFC 3261 §9.1).
    cancel_wanted: bool,
    cancel_sent: bool,
    /// UAC: a provisional response to the current INVITE arrived.
    provisional: bool,
    /// UAS: the INVITE (initial or re-INVITE) we have not answered yet, by server transaction.
    server_invite: Option<(TxnKey, Message)>,
    /// Our re-INVITE in flight.
    reinvite: Option<TxnKey>,
    /// UAS: the INVITE transaction whose 2xx waits for its ACK.
    awaiting_ack: Option<TxnKey>,
    /// The ACKs we sent for 2xx responses, by INVITE transaction, resent on retransmissions.
    acks: Vec<(TxnKey, Message)>,
    auth: Option<Auth>,
    /// Every client transaction of this call (dropped from the index when the call ends).
    client_keys: Vec<TxnKey>,
}

impl Call {
    fn new(peer: SocketAddr, state: State, call_id: String, local_tag: String) -> Call {
        Call {
            peer,
            state,
            call_id,
            local_tag,
            dialog: None,
            invite: None,
            cancel_wanted: false,
            cancel_sent: false,
            provisional: false,
            server_invite: None,
            reinvite: None,
            awaiting_ack: None,
            acks: Vec::new(),
            auth: None,
            client_keys: Vec::new(),
        }
    }
}

/// SplitMix64: cheap, seedable, well spread; plenty for identifiers that must be unique, not
/// secret.
#[derive(Debug)]
struct Ids(u64);

impl Ids {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn hex(&mut self) -> String {
        format!("{:016x}", self.next())
    }
}

/// A SIP user agent: see the module documentation.
#[derive(Debug)]
pub struct UserAgent {
    config: UaConfig,
    txns: TransactionLayer,
    ids: Ids,
    next_handle: u64,
    calls: HashMap<CallHandle, Call>,
    by_call_id: HashMap<String, CallHandle>,
    /// Our client transactions, to the call and request they belong to.
    client: HashMap<TxnKey, Pending>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<UaEvent>,
}

impl UserAgent {
    /// An agent with no calls.
    pub fn new(config: UaConfig) -> UserAgent {
        UserAgent {
            txns: TransactionLayer::new(config.timers),
            ids: Ids(config.seed),
            config,
            next_handle: 1,
            calls: HashMap::new(),
            by_call_id: HashMap::new(),
            client: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &UaConfig {
        &self.config
    }

    /// Live calls.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Whether `message` belongs to one of this agent's calls (by Call-ID), so a driver that
    /// shares one socket between this agent and other SIP handling knows where it goes.
    pub fn owns(&self, message: &Message) -> bool {
        message
            .call_id()
            .is_ok_and(|id| self.by_call_id.contains_key(id))
    }

    /// Takes a datagram that arrived from `from` at `now`. Bytes that are not a SIP message are
    /// refused with [`UaError::Parse`] and change nothing.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), UaError> {
        let message = Message::parse(bytes)?;
        let peer = Peer {
            transport: Transport::Udp,
            addr: from,
        };
        self.txns.handle_message(now, message, peer);
        self.pump(now);
        Ok(())
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.txns.handle_timeout(now);
        self.pump(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.txns.poll_timeout()
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    /// Drains the transaction layer: its transmissions go out, its events drive the calls (which
    /// may start or answer more transactions, whose output this loop picks up too).
    fn pump(&mut self, now: Instant) {
        while let Some(output) = self.txns.poll_output() {
            match output {
                Output::Transmit { to, message } => self.transmits.push_back(Transmit {
                    to: to.addr,
                    bytes: message.to_bytes(),
                }),
                Output::Event(event) => self.on_txn_event(now, event),
            }
        }
    }

    fn on_txn_event(&mut self, now: Instant, event: TxnEvent) {
        match event {
            TxnEvent::Request { key, request, from } => {
                self.on_request(now, key, request, from.addr)
            }
            TxnEvent::Ack { request, .. } => self.on_ack(&request),
            TxnEvent::Response { key, response } => self.on_response(now, key, response),
            TxnEvent::Timeout { key, .. } => self.on_timeout(now, &key),
        }
    }

    fn call(&self, call: CallHandle) -> Result<&Call, UaError> {
        self.calls.get(&call).ok_or(UaError::UnknownCall(call))
    }

    fn call_mut(&mut self, call: CallHandle) -> Result<&mut Call, UaError> {
        self.calls.get_mut(&call).ok_or(UaError::UnknownCall(call))
    }

    fn wrong_state(&self, call: CallHandle, action: &'static str) -> UaError {
        match self.calls.get(&call) {
            Some(c) => UaError::WrongState {
                call,
                action,
                state: c.state.name(),
            },
            None => UaError::UnknownCall(call),
        }
    }

    fn new_handle(&mut self) -> CallHandle {
        let handle = CallHandle(self.next_handle);
        self.next_handle += 1;
        handle
    }

    /// Removes a call and everything that routes to it.
    fn remove_call(&mut self, call: CallHandle) {
        if let Some(c) = self.calls.remove(&call) {
            self.by_call_id.remove(&c.call_id);
            for key in &c.client_keys {
                self.client.remove(key);
            }
        }
    }

    fn end(&mut self, call: CallHandle, reason: EndReason) {
        self.remove_call(call);
        self.events.push_back(UaEvent::Ended { call, reason });
    }

    /// A fresh top Via for a request of ours.
    fn via(&mut self) -> Via {
        let branch = format!("{BRANCH_COOKIE}{}", self.ids.hex());
        let local = self.config.local_addr;
        let mut via = Via::new("UDP", &local.ip().to_string(), Some(local.port()), &branch);
        if local.is_ipv6() {
            via.host = format!("[{}]", local.ip());
        }
        via.params.set("rport", None);
        via
    }

    /// Our Contact URI.
    fn contact_uri(&self) -> String {
        format!("sip:{}@{}", self.config.user, self.config.local_addr)
    }

    /// Sends `request` in a new client transaction of `call` (adding credentials when the call
    /// was challenged before), recording it for its responses.
    fn send(
        &mut self,
        now: Instant,
        call: CallHandle,
        mut request: Message,
        auth_tries: u8,
    ) -> Result<TxnKey, UaError> {
        let cnonce = self.ids.hex();
        let c = self
            .calls
            .get_mut(&call)
            .ok_or(UaError::UnknownCall(call))?;
        if let Some(auth) = &mut c.auth {
            if let (Some(method), Some(uri), Some(creds)) = (
                request.method().cloned(),
                request.request_uri().map(str::to_owned),
                self.config.credentials.as_ref(),
            ) {
                auth.nc += 1;
                let answer = auth.challenge.answer(
                    &creds.username,
                    &creds.password,
                    method.as_str(),
                    &uri,
                    auth.nc,
                    &cnonce,
                );
                request.headers.set(auth.header.clone(), answer.to_string());
            }
        }
        let peer = Peer {
            transport: Transport::Udp,
            addr: c.peer,
        };
        let key = self.txns.send_request(now, request.clone(), peer)?;
        let c = self.call_mut(call)?;
        c.client_keys.push(key.clone());
        self.client.insert(
            key.clone(),
            Pending {
                call,
                request,
                auth_tries,
            },
        );
        self.pump(now);
        Ok(key)
    }

    /// Sends a message outside any transaction (the ACK of a 2xx).
    fn send_direct(&mut self, to: SocketAddr, message: &Message) {
        self.transmits.push_back(Transmit {
            to,
            bytes: message.to_bytes(),
        });
    }

    /// Places a call: an INVITE for `request_uri` with `offer` (SDP) to `to`. Events about it
    /// carry the returned handle.
    pub fn invite(
        &mut self,
        now: Instant,
        to: SocketAddr,
        request_uri: &str,
        offer: &str,
    ) -> Result<CallHandle, UaError> {
        let to_addr = NameAddr::parse(request_uri)
            .filter(|n| n.uri == request_uri)
            .ok_or_else(|| UaError::BadUri(request_uri.to_owned()))?;
        let handle = self.new_handle();
        let call_id = format!("{}@{}", self.ids.hex(), self.config.local_addr.ip());
        let tag = self.ids.hex();
        let mut from = NameAddr::new(format!(
            "sip:{}@{}",
            self.config.user, self.config.local_addr
        ));
        from.display_name = self.config.display_name.clone();
        from.set_tag(&tag);
        let via = self.via();
        let invite = Message::request(Method::Invite, request_uri)
            .with_header(HeaderName::VIA, via.to_string())
            .with_header(HeaderName::MAX_FORWARDS, "70")
            .with_header(HeaderName::FROM, from.to_string())
            .with_header(HeaderName::TO, to_addr.to_string())
            .with_header(HeaderName::CALL_ID, call_id.clone())
            .with_header(HeaderName::CSEQ, "1 INVITE")
            .with_header(HeaderName::CONTACT, format!("<{}>", self.contact_uri()))
            .with_header(HeaderName::ALLOW, ALLOW)
            .with_header(HeaderName::USER_AGENT, self.config.user_agent.clone())
            .with_body("application/sdp", offer.as_bytes().to_vec());
        self.calls
            .insert(handle, Call::new(to, State::Calling, call_id.clone(), tag));
        self.by_call_id.insert(call_id, handle);
        match self.send(now, handle, invite.clone(), 0) {
            Ok(key) => {
                if let Some(c) = self.calls.get_mut(&handle) {
                    c.invite = Some((key, invite));
                }
                Ok(handle)
            }
            Err(e) => {
                self.remove_call(handle);
                Err(e)
            }
        }
    }

    /// Cancels our INVITE that has no final response yet. The CANCEL goes out once a provisional
    /// response arrived (RFC 3261 §9.1); the call then fails with [`CallFailure::Cancelled`] (or,
    /// when a 2xx crossed the CANCEL, is ACKed, hung up with BYE and ends with
    /// [`EndReason::LocalBye`]).
    pub fn cancel(&mut self, now: Instant, call: CallHandle) -> Result<(), UaError> {
        let c = self.call_mut(call)?;
        if c.state != State::Calling {
            return Err(self.wrong_state(call, "cancel"));
        }
        c.cancel_wanted = true;
        self.send_cancel_if_due(now, call)
    }

    /// Hangs up an established call with BYE; it ends ([`UaEvent::Ended`]) when the BYE is
    /// answered or times out.
    pub fn bye(&mut self, now: Instant, call: CallHandle) -> Result<(), UaError> {
        let via = self.via();
        let c = self.call_mut(call)?;
        let (State::Established | State::Answered, Some(dialog)) = (c.state, c.dialog.as_mut())
        else {
            return Err(self.wrong_state(call, "send BYE"));
        };
        let bye = dialog.request(Method::Bye, &via);
        c.state = State::Terminating;
        // An unanswered re-INVITE of the far end is closed before the dialog goes.
        if let Some((key, invite)) = c.server_invite.take() {
            let response = Message::response_to(&invite, 487, None);
            let _ = self.txns.respond(now, &key, response);
        }
        self.send(now, call, bye, 0)?;
        Ok(())
    }

    /// Sends a new offer in an established call (re-INVITE). The result comes as
    /// [`UaEvent::ReinviteAnswered`] or [`UaEvent::ReinviteRefused`].
    pub fn reinvite(&mut self, now: Instant, call: CallHandle, offer: &str) -> Result<(), UaError> {
        let via = self.via();
        let user_agent = self.config.user_agent.clone();
        let c = self.call_mut(call)?;
        let busy = c.reinvite.is_some() || c.server_invite.is_some();
        let (State::Established, Some(dialog), false) = (c.state, c.dialog.as_mut(), busy) else {
            return Err(self.wrong_state(call, "re-INVITE"));
        };
        let request = dialog
            .request(Method::Invite, &via)
            .with_header(HeaderName::ALLOW, ALLOW)
            .with_header(HeaderName::USER_AGENT, user_agent)
            .with_body("application/sdp", offer.as_bytes().to_vec());
        let key = self.send(now, call, request, 0)?;
        if let Some(c) = self.calls.get_mut(&call) {
            c.reinvite = Some(key);
        }
        Ok(())
    }

    /// Sends INFO in an established call, e.g. a DTMF digit as `application/dtmf-relay`
    /// (`Signal=5\r\nDuration=160\r\n`). Its final status comes as [`UaEvent::InfoAnswered`].
    pub fn info(
        &mut self,
        now: Instant,
        call: CallHandle,
        content_type: &str,
        body: &[u8],
    ) -> Result<(), UaError> {
        let via = self.via();
        let c = self.call_mut(call)?;
        let (State::Established, Some(dialog)) = (c.state, c.dialog.as_mut()) else {
            return Err(self.wrong_state(call, "send INFO"));
        };
        let request = dialog
            .request(Method::Info, &via)
            .with_body(content_type, body.to_vec());
        self.send(now, call, request, 0)?;
        Ok(())
    }
}

/// The body of a message as text (SDP is ASCII; anything else is taken lossily).
fn body_text(message: &Message) -> String {
    String::from_utf8_lossy(message.body()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_from_one_seed_repeat_and_differ_from_another_seed() {
        let mut a = Ids(7);
        let mut b = Ids(7);
        let mut c = Ids(8);
        let first = a.hex();
        assert_eq!(first, b.hex());
        assert_ne!(first, c.hex());
        assert_ne!(first, a.hex());
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials {
            username: "room".into(),
            password: "hunter22".into(),
        };
        assert!(!format!("{c:?}").contains("hunter22"));
    }
}
