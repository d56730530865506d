//! Client transactions (RFC 3261 §17.1, with RFC 6026's Accepted state for INVITE).

use std::time::{Duration, Instant};

use super::{Ctx, Event, Peer, Timer, TxnKey};
use crate::sip::{HeaderName, Message, Method};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Request sent, nothing heard (INVITE "Calling", non-INVITE "Trying").
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// INVITE: a 2xx arrived; retransmissions of it are passed up until Timer M.
    Accepted,
    /// A final (non-2xx for INVITE) response arrived; retransmissions are absorbed.
    Completed,
}

#[derive(Debug)]
pub(super) struct ClientTransaction {
    invite: bool,
    state: State,
    to: Peer,
    request: Message,
    ack: Option<Message>,
    timers: Vec<(Timer, Instant)>,
    interval: Duration,
}

impl ClientTransaction {
    pub(super) fn new(ctx: &mut Ctx<'_>, request: Message, to: Peer) -> Self {
        let invite = request.method() == Some(&Method::Invite);
        let t1 = ctx.config.t1;
        let mut timers = vec![(if invite { Timer::B } else { Timer::F }, ctx.now + 64 * t1)];
        if !to.transport.is_reliable() {
            timers.push((if invite { Timer::A } else { Timer::E }, ctx.now + t1));
        }
        ctx.send(to, request.clone());
        ClientTransaction {
            invite,
            state: State::Calling,
            to,
            request,
            ack: None,
            timers,
            interval: t1,
        }
    }

    pub(super) fn on_response(&mut self, ctx: &mut Ctx<'_>, key: &TxnKey, response: Message) {
        let Some(code) = response.status() else {
            return;
        };
        let pass_up = |ctx: &mut Ctx<'_>, response: Message| {
            ctx.event(Event::Response {
                key: key.clone(),
                response,
            })
        };
        match (self.state, code) {
            (State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                if self.invite {
                    // A provisional stops INVITE retransmission (§17.1.1.2).
                    self.timers.retain(|(t, _)| *t != Timer::A);
                }
                pass_up(ctx, response);
            }
            (State::Calling | State::Proceeding, 200..=299) if self.invite => {
                self.state = State::Accepted;
                self.timers.clear();
                self.timers.push((Timer::M, ctx.now + 64 * ctx.config.t1));
                pass_up(ctx, response);
            }
            (State::Accepted, 200..=299) => pass_up(ctx, response),
            (State::Calling | State::Proceeding, _) => {
                self.state = State::Completed;
                self.timers.clear();
                let reliable = self.to.transport.is_reliable();
                if self.invite {
                    let ack = self.ack_for(&response);
                    ctx.send(self.to, ack.clone());
                    self.ack = Some(ack);
                    let wait = if reliable {
                        Duration::ZERO
                    } else {
                        ctx.config.timer_d
                    };
                    self.timers.push((Timer::D, ctx.now + wait));
                } else {
                    let wait = if reliable {
                        Duration::ZERO
                    } else {
                        ctx.config.t4
                    };
                    self.timers.push((Timer::K, ctx.now + wait));
                }
                pass_up(ctx, response);
            }
            (State::Completed, 300..=699) if self.invite => {
                if let Some(ack) = &self.ack {
                    ctx.send(self.to, ack.clone());
                }
            }
            _ => {}
        }
    }

    /// The ACK for a non-2xx final response (§17.1.1.3): same Request-URI, Call-ID, From, CSeq
    /// number, top Via and Route as the INVITE; To from the response.
    fn ack_for(&self, response: &Message) -> Message {
        let uri = self.request.request_uri().unwrap_or_default().to_owned();
        let mut ack = Message::request(Method::Ack, uri);
        let headers = &self.request.headers;
        if let Some(via) = headers.get(&HeaderName::VIA) {
            let top = crate::sip::header::split_list(via)
                .first()
                .map_or(String::new(), |v| v.trim().to_owned());
            ack.headers.push(HeaderName::VIA, top);
        }
        ack.headers.push(HeaderName::MAX_FORWARDS, "70");
        for name in [HeaderName::FROM, HeaderName::CALL_ID] {
            if let Some(v) = headers.get(&name) {
                ack.headers.push(name, v);
            }
        }
        if let Some(to) = response.headers.get(&HeaderName::TO) {
            ack.headers.push(HeaderName::TO, to);
        }
        if let Ok(cseq) = self.request.cseq() {
            ack.headers
                .push(HeaderName::CSEQ, format!("{} ACK", cseq.seq));
        }
        for route in headers.get_all(&HeaderName::ROUTE) {
            ack.headers.push(HeaderName::ROUTE, route);
        }
        ack
    }

    /// Fires due timers; returns false once the transaction has ended.
    pub(super) fn on_timers(&mut self, ctx: &mut Ctx<'_>, key: &TxnKey) -> bool {
        let due: Vec<Timer> = self
            .timers
            .iter()
            .filter(|(_, at)| *at <= ctx.now)
            .map(|(t, _)| *t)
            .collect();
        for timer in due {
            self.timers.retain(|(t, _)| *t != timer);
            match timer {
                Timer::A => {
                    ctx.send(self.to, self.request.clone());
                    self.interval *= 2;
                    self.timers.push((Timer::A, ctx.now + self.interval));
                }
                Timer::E => {
                    ctx.send(self.to, self.request.clone());
                    // Trying doubles up to T2; Proceeding retransmits every T2 (§17.1.2.2).
                    self.interval = if self.state == State::Proceeding {
                        ctx.config.t2
                    } else {
                        (self.interval * 2).min(ctx.config.t2)
                    };
                    self.timers.push((Timer::E, ctx.now + self.interval));
                }
                Timer::B | Timer::F => {
                    ctx.event(Event::Timeout {
                        key: key.clone(),
                        timer,
                    });
                    return false;
                }
                Timer::D | Timer::K | Timer::M => return false,
                _ => {}
            }
        }
        true
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.timers.iter().map(|(_, at)| *at).min()
    }
}
