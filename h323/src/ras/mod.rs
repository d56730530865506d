//! Gatekeeper registration (H.225.0 RAS) as a sans-IO state machine: what to send to the
//! gatekeeper, when to wake, and what happened. The driver owns the UDP socket and the clock:
//! it passes datagrams in with `now`, sends what [`Registration::poll_transmit`] gives it, and
//! calls [`Registration::handle_timeout`] at [`Registration::poll_timeout`].
//!
//! The flow: a full RRQ (aliases, prefixes, call signalling address, the time to live asked
//! for); on RCF the endpoint identifier and granted time to live are kept and a lightweight RRQ
//! (`keepAlive` TRUE) refreshes the registration before it expires. RAS is unreliable UDP, so
//! each request is sent up to [`ATTEMPTS`] times [`RETRY_INTERVAL`] apart (H.225.0's default
//! timeout and retry count); after that, or on RRJ/GRJ, the machine backs off
//! ([`BACKOFF_MIN`] doubling to [`BACKOFF_MAX`]) and starts over with a full RRQ. RRJ
//! `discoveryRequired` switches to GRQ/GCF discovery first; RRJ `fullRegistrationRequired` to
//! a keep-alive is answered with a full RRQ at once. A gatekeeper's URQ is confirmed and
//! followed by a new registration. [`Registration::unregister`] sends URQ (shutdown, drain).
//!
//! Owns the RAS exchange with one gatekeeper; must not open sockets, read the clock or log
//! (the driver logs the [`Event`]s). Admission (ARQ) is not used: calls reach Tessera
//! directly at the registered call signalling address and are answered without asking.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::h225::{self, *};

/// Time between sends of one request (H.225.0's default RAS timeout).
pub const RETRY_INTERVAL: Duration = Duration::from_secs(3);
/// Sends of one request before giving up on it (the first and two retries).
pub const ATTEMPTS: u32 = 3;
/// First wait after a failed or rejected registration.
pub const BACKOFF_MIN: Duration = Duration::from_secs(10);
/// Longest wait between registration attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// The keep-alive goes this long before the registration expires (or at half the time to
/// live, if that is shorter), leaving room for its retries.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(10);

/// Errors of the registration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A message could not be encoded, or a datagram is not a RAS message we model.
    #[error(transparent)]
    H225(#[from] h225::Error),
    /// A datagram came from a host other than the gatekeeper; it was ignored.
    #[error("RAS datagram from {0}, not from the gatekeeper; ignored")]
    NotFromGatekeeper(SocketAddr),
}

/// What to register, and where.
#[derive(Debug, Clone)]
pub struct RegistrationConfig {
    /// The gatekeeper's RAS address (UDP, usually port 1719).
    pub gatekeeper: SocketAddr,
    /// Our RAS address: where the gatekeeper's answers and requests reach us.
    pub ras_address: SocketAddr,
    /// Our call signalling address (where the gatekeeper sends calls, TCP 1720).
    pub call_signal_address: SocketAddr,
    /// Aliases to register (h323-ID, dialledDigits).
    pub aliases: Vec<AliasAddress>,
    /// Prefixes the gatekeeper should route to us (a gateway's `supportedPrefixes`).
    pub prefixes: Vec<AliasAddress>,
    /// The time to live to ask for, in seconds (`None`: the gatekeeper's choice).
    pub time_to_live: Option<u32>,
}

/// Where the registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// GRQ sent, waiting for GCF.
    Discovering,
    /// Full RRQ sent, waiting for RCF.
    Registering,
    /// Registered (a keep-alive may be in flight).
    Registered,
    /// The last attempt failed; waiting to try again.
    BackingOff,
    /// URQ sent, waiting for UCF.
    Unregistering,
    /// Unregistered for good (after [`Registration::unregister`]).
    Unregistered,
}

/// What happened, for the driver to log and show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// RCF to a full RRQ.
    Registered {
        /// The identifier the gatekeeper assigned.
        endpoint_identifier: String,
        /// The time to live granted (`None`: the registration does not expire).
        time_to_live: Option<Duration>,
    },
    /// RCF to a keep-alive.
    Refreshed,
    /// GRJ or RRJ; the next attempt is in `retry_in`.
    Rejected {
        /// The gatekeeper's reason, as the module names it.
        reason: String,
        /// Until the next attempt.
        retry_in: Duration,
    },
    /// A request went unanswered [`ATTEMPTS`] times; the next attempt is in `retry_in`.
    NoAnswer {
        /// What went unanswered (`GRQ`, `RRQ`, `keep-alive RRQ`).
        request: &'static str,
        /// Until the next attempt.
        retry_in: Duration,
    },
    /// The gatekeeper unregistered us (URQ); we confirmed and register again.
    UnregisteredByGatekeeper,
    /// Our URQ was answered (UCF or URJ) or went unanswered: no longer registered.
    Unregistered,
}

/// One datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: SocketAddr,
    /// The encoded RAS message.
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    Grq,
    Rrq { keep_alive: bool },
    Urq,
}

impl Request {
    fn name(self) -> &'static str {
        match self {
            Self::Grq => "GRQ",
            Self::Rrq { keep_alive: false } => "RRQ",
            Self::Rrq { keep_alive: true } => "keep-alive RRQ",
            Self::Urq => "URQ",
        }
    }
}

#[derive(Debug)]
struct Pending {
    request: Request,
    seq: u16,
    payload: Vec<u8>,
    sent: u32,
    retry_at: Instant,
}

/// The registration with one gatekeeper.
#[derive(Debug)]
pub struct Registration {
    config: RegistrationConfig,
    /// Where requests go: the configured address, or the GCF's `rasAddress`.
    gatekeeper: SocketAddr,
    gatekeeper_identifier: Option<GatekeeperIdentifier>,
    endpoint_identifier: Option<EndpointIdentifier>,
    discovery_complete: bool,
    time_to_live: Option<u32>,
    state: State,
    seq: u16,
    pending: Option<Pending>,
    /// When the keep-alive is due (registered) or the next attempt starts (backing off).
    wake_at: Option<Instant>,
    backoff: Duration,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Registration {
    /// Starts registering: the first RRQ is ready in [`Self::poll_transmit`]. Errors when
    /// the configuration cannot be encoded (an alias the module does not allow).
    pub fn new(config: RegistrationConfig, now: Instant) -> Result<Self, Error> {
        let mut registration = Self {
            gatekeeper: config.gatekeeper,
            config,
            gatekeeper_identifier: None,
            endpoint_identifier: None,
            discovery_complete: false,
            time_to_live: None,
            state: State::Registering,
            seq: 0,
            pending: None,
            wake_at: None,
            backoff: BACKOFF_MIN,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        registration.request(now, Request::Rrq { keep_alive: false })?;
        Ok(registration)
    }

    /// Where the registration stands.
    #[must_use]
    pub fn state(&self) -> State {
        self.state
    }

    /// True while registered (also while a keep-alive is in flight).
    #[must_use]
    pub fn is_registered(&self) -> bool {
        self.state == State::Registered
    }

    /// The gatekeeper requests go to.
    #[must_use]
    pub fn gatekeeper(&self) -> SocketAddr {
        self.gatekeeper
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`Self::handle_timeout`] next (`None`: only input can change anything).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (&self.pending, self.wake_at) {
            (Some(p), Some(w)) => Some(p.retry_at.min(w)),
            (Some(p), None) => Some(p.retry_at),
            (None, w) => w,
        }
    }

    /// Retransmits, gives up on unanswered requests, sends keep-alives and retries.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if let Some(p) = &mut self.pending {
            if now >= p.retry_at {
                if p.sent < ATTEMPTS {
                    p.sent += 1;
                    p.retry_at = now + RETRY_INTERVAL;
                    self.transmits.push_back(Transmit {
                        destination: self.gatekeeper,
                        payload: p.payload.clone(),
                    });
                } else {
                    let request = p.request;
                    self.pending = None;
                    if request == Request::Urq {
                        self.finish_unregistering();
                    } else {
                        let retry_in = self.back_off(now);
                        self.events.push_back(Event::NoAnswer {
                            request: request.name(),
                            retry_in,
                        });
                    }
                }
            }
        }
        if self.wake_at.is_some_and(|w| now >= w) {
            self.wake_at = None;
            match self.state {
                State::Registered if self.pending.is_none() => {
                    self.request(now, Request::Rrq { keep_alive: true })?;
                }
                State::BackingOff => self.start_over(now)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Handles a datagram from `from`. Answers to requests we are not waiting for (stale
    /// sequence numbers, duplicates) are ignored; errors say why a datagram was unusable.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        octets: &[u8],
    ) -> Result<(), Error> {
        // Gatekeepers may answer from another port than the one asked, not another host.
        if from.ip() != self.gatekeeper.ip() && from.ip() != self.config.gatekeeper.ip() {
            return Err(Error::NotFromGatekeeper(from));
        }
        let message = h225::decode_ras(octets)?;
        if let RasMessage::UnregistrationRequest(urq) = &message {
            return self.unregistered_by_gatekeeper(now, urq.request_seq_num);
        }
        let Some(pending) = &self.pending else {
            return Ok(());
        };
        if message.request_seq_num() != Some(pending.seq) {
            return Ok(());
        }
        let request = pending.request;
        match (request, message) {
            (Request::Grq, RasMessage::GatekeeperConfirm(gcf)) => {
                self.pending = None;
                if let Some(ras) = gcf.ras_address.to_socket() {
                    self.gatekeeper = ras;
                }
                self.gatekeeper_identifier = gcf.gatekeeper_identifier;
                self.discovery_complete = true;
                self.request(now, Request::Rrq { keep_alive: false })?;
            }
            (Request::Grq, RasMessage::GatekeeperReject(grj)) => {
                self.pending = None;
                self.rejected(now, format!("GRJ {}", choice_name(&grj.reject_reason)));
            }
            (Request::Rrq { keep_alive }, RasMessage::RegistrationConfirm(rcf)) => {
                self.pending = None;
                self.state = State::Registered;
                self.backoff = BACKOFF_MIN;
                if rcf.gatekeeper_identifier.is_some() {
                    self.gatekeeper_identifier = rcf.gatekeeper_identifier;
                }
                self.time_to_live = rcf.time_to_live;
                self.wake_at = rcf.time_to_live.map(|ttl| now + refresh_delay(ttl));
                let time_to_live = rcf.time_to_live.map(|t| Duration::from_secs(t.into()));
                self.events.push_back(if keep_alive {
                    Event::Refreshed
                } else {
                    Event::Registered {
                        endpoint_identifier: rcf.endpoint_identifier.text(),
                        time_to_live,
                    }
                });
                self.endpoint_identifier = Some(rcf.endpoint_identifier);
            }
            (Request::Rrq { keep_alive }, RasMessage::RegistrationReject(rrj)) => {
                self.pending = None;
                match rrj.reject_reason {
                    // The gatekeeper lost (or expired) our registration: register afresh now.
                    RegistrationRejectReason::FullRegistrationRequired(()) if keep_alive => {
                        self.endpoint_identifier = None;
                        self.state = State::Registering;
                        self.request(now, Request::Rrq { keep_alive: false })?;
                    }
                    RegistrationRejectReason::DiscoveryRequired(()) if !self.discovery_complete => {
                        self.state = State::Discovering;
                        self.request(now, Request::Grq)?;
                    }
                    reason => self.rejected(now, format!("RRJ {}", choice_name(&reason))),
                }
            }
            (
                Request::Urq,
                RasMessage::UnregistrationConfirm(_) | RasMessage::UnregistrationReject(_),
            ) => {
                self.pending = None;
                self.finish_unregistering();
            }
            _ => {}
        }
        Ok(())
    }

    /// Unregisters (shutdown, drain): URQ if registered, else stops at once. Either way the
    /// machine ends in [`State::Unregistered`] with [`Event::Unregistered`] and never
    /// registers again.
    pub fn unregister(&mut self, now: Instant) -> Result<(), Error> {
        self.wake_at = None;
        match self.state {
            State::Unregistering | State::Unregistered => Ok(()),
            _ if self.endpoint_identifier.is_some() => {
                self.state = State::Unregistering;
                self.request(now, Request::Urq)
            }
            _ => {
                self.pending = None;
                self.finish_unregistering();
                Ok(())
            }
        }
    }

    fn finish_unregistering(&mut self) {
        self.state = State::Unregistered;
        self.endpoint_identifier = None;
        self.wake_at = None;
        self.events.push_back(Event::Unregistered);
    }

    fn unregistered_by_gatekeeper(&mut self, now: Instant, seq: u16) -> Result<(), Error> {
        let ucf = RasMessage::UnregistrationConfirm(UnregistrationConfirm::new(seq));
        self.transmits.push_back(Transmit {
            destination: self.gatekeeper,
            payload: h225::encode_ras(&ucf)?,
        });
        if matches!(self.state, State::Unregistering | State::Unregistered) {
            return Ok(());
        }
        self.events.push_back(Event::UnregisteredByGatekeeper);
        self.endpoint_identifier = None;
        self.wake_at = None;
        self.state = State::Registering;
        self.request(now, Request::Rrq { keep_alive: false })
    }

    fn rejected(&mut self, now: Instant, reason: String) {
        let retry_in = self.back_off(now);
        self.events.push_back(Event::Rejected { reason, retry_in });
    }

    /// Stops the current attempt; the next starts after the back-off, which doubles.
    fn back_off(&mut self, now: Instant) -> Duration {
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        self.state = State::BackingOff;
        self.endpoint_identifier = None;
        self.wake_at = Some(now + wait);
        wait
    }

    /// A new attempt after a back-off: discovery again if the gatekeeper wanted it.
    fn start_over(&mut self, now: Instant) -> Result<(), Error> {
        if self.discovery_complete {
            self.discovery_complete = false;
            self.gatekeeper = self.config.gatekeeper;
            self.state = State::Discovering;
            self.request(now, Request::Grq)
        } else {
            self.state = State::Registering;
            self.request(now, Request::Rrq { keep_alive: false })
        }
    }

    /// Sends a new request (a new sequence number) and waits for its answer.
    fn request(&mut self, now: Instant, request: Request) -> Result<(), Error> {
        self.seq = if self.seq == u16::MAX {
            1
        } else {
            self.seq + 1
        };
        let message = match request {
            Request::Grq => RasMessage::GatekeeperRequest(Box::new(self.grq())),
            Request::Rrq { keep_alive } => {
                RasMessage::RegistrationRequest(Box::new(self.rrq(keep_alive)))
            }
            Request::Urq => RasMessage::UnregistrationRequest(Box::new(self.urq())),
        };
        let payload = h225::encode_ras(&message)?;
        self.transmits.push_back(Transmit {
            destination: self.gatekeeper,
            payload: payload.clone(),
        });
        self.pending = Some(Pending {
            request,
            seq: self.seq,
            payload,
            sent: 1,
            retry_at: now + RETRY_INTERVAL,
        });
        Ok(())
    }

    fn aliases(&self) -> Option<Vec<AliasAddress>> {
        (!self.config.aliases.is_empty()).then(|| self.config.aliases.clone())
    }

    /// A gateway (reaching its meetings) with an MCU: the prefixes go in the gateway's H.323
    /// protocol entry, which is where gatekeepers look for a gateway's prefixes.
    fn endpoint_type(&self) -> EndpointType {
        let mut t = EndpointType::empty();
        t.vendor = Some(vendor());
        t.gateway = Some(GatewayInfo {
            protocol: Some(vec![SupportedProtocols::H323(ProtocolCaps {
                non_standard_data: None,
                data_rates_supported: None,
                supported_prefixes: Some(
                    self.config
                        .prefixes
                        .iter()
                        .map(|p| SupportedPrefix {
                            non_standard_data: None,
                            prefix: p.clone(),
                        })
                        .collect(),
                ),
            })]),
            non_standard_data: None,
        });
        t.mcu = Some(McuInfo::new());
        t.mc = true;
        t
    }

    fn grq(&self) -> GatekeeperRequest {
        GatekeeperRequest {
            request_seq_num: self.seq,
            protocol_identifier: h225::protocol_identifier(),
            non_standard_data: None,
            ras_address: TransportAddress::from_socket(self.config.ras_address),
            endpoint_type: self.endpoint_type(),
            gatekeeper_identifier: None,
            call_services: None,
            endpoint_alias: self.aliases(),
        }
    }

    /// A full RRQ, or the lightweight keep-alive: `keepAlive` TRUE with the endpoint
    /// identifier and granted time to live, and no aliases (H.225.0 section 7.9.1).
    fn rrq(&self, keep_alive: bool) -> RegistrationRequest {
        RegistrationRequest {
            request_seq_num: self.seq,
            protocol_identifier: h225::protocol_identifier(),
            non_standard_data: None,
            discovery_complete: self.discovery_complete,
            call_signal_address: vec![TransportAddress::from_socket(
                self.config.call_signal_address,
            )],
            ras_address: vec![TransportAddress::from_socket(self.config.ras_address)],
            terminal_type: self.endpoint_type(),
            terminal_alias: if keep_alive { None } else { self.aliases() },
            gatekeeper_identifier: self.gatekeeper_identifier.clone(),
            endpoint_vendor: vendor(),
            alternate_endpoints: None,
            time_to_live: if keep_alive {
                self.time_to_live
            } else {
                self.config.time_to_live
            },
            tokens: None,
            crypto_tokens: None,
            integrity_check_value: None,
            keep_alive: Some(keep_alive),
            endpoint_identifier: if keep_alive {
                self.endpoint_identifier.clone()
            } else {
                None
            },
            will_supply_uuies: Some(false),
            maintain_connection: Some(false),
        }
    }

    fn urq(&self) -> UnregistrationRequest {
        let mut urq = UnregistrationRequest::new(
            self.seq,
            vec![TransportAddress::from_socket(
                self.config.call_signal_address,
            )],
            self.endpoint_identifier.clone(),
        );
        urq.endpoint_alias = self.aliases();
        urq.gatekeeper_identifier = self.gatekeeper_identifier.clone();
        urq
    }
}

/// When to refresh a registration granted for `ttl` seconds.
fn refresh_delay(ttl: u32) -> Duration {
    let ttl = Duration::from_secs(ttl.into());
    ttl - REFRESH_MARGIN.min(ttl / 2)
}

/// Tessera as `endpointVendor`: no T.35 vendor code of its own (zeros), named by product.
fn vendor() -> VendorIdentifier {
    VendorIdentifier {
        vendor: H221NonStandard {
            t35_country_code: 0,
            t35_extension: 0,
            manufacturer_code: 0,
        },
        product_id: Some(rasn::types::OctetString::from_slice(b"Tessera")),
        version_id: Some(rasn::types::OctetString::from_slice(
            env!("CARGO_PKG_VERSION").as_bytes(),
        )),
        enterprise_number: None,
    }
}

/// A reject reason's name as the module spells it (`fullRegistrationRequired`), from its
/// `Debug` form (`FullRegistrationRequired(())`).
fn choice_name(reason: &impl std::fmt::Debug) -> String {
    let debug = format!("{reason:?}");
    let name = debug.split('(').next().unwrap_or(&debug);
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_lowercase().to_string() + chars.as_str()
    })
}

#[cfg(test)]
mod tests;
