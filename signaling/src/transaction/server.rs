//! Server transactions (RFC 3261 §17.2, with RFC 6026's Accepted state for INVITE).

use std::time::{Duration, Instant};

use super::{response_destination, Ctx, Event, Peer, Timer, TransactionError, TxnKey};
use crate::sip::{Message, Method};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// INVITE: no final response yet (non-INVITE "Trying" is folded in: it behaves alike).
    Proceeding,
    /// INVITE: 2xx sent, retransmitted until the ACK (RFC 6026).
    Accepted,
    /// Final non-2xx sent (INVITE) or any final sent (non-INVITE).
    Completed,
    /// INVITE: ACK received for the non-2xx.
    Confirmed,
}

#[derive(Debug)]
pub(super) struct ServerTransaction {
    invite: bool,
    state: State,
    to: Peer,
    last_response: Option<Message>,
    /// `(timer, when)`; the retransmit timer's current interval rides along.
    timers: Vec<(Timer, Instant)>,
    interval: Duration,
    acked: bool,
}

impl ServerTransaction {
    /// Where its responses go (the request's source, by its Via).
    pub(super) fn peer(&self) -> Peer {
        self.to
    }

    /// A new transaction for `request`; an INVITE is answered `100 Trying` at once.
    pub(super) fn new(ctx: &mut Ctx<'_>, request: &Message, from: Peer) -> Self {
        let invite = request.method() == Some(&Method::Invite);
        let mut txn = ServerTransaction {
            invite,
            state: State::Proceeding,
            to: response_destination(request, from),
            last_response: None,
            timers: Vec::new(),
            interval: ctx.config.t1,
            acked: false,
        };
        if invite {
            let trying = Message::response_to(request, 100, None);
            txn.last_response = Some(trying.clone());
            ctx.send(txn.to, trying);
        }
        txn
    }

    pub(super) fn is_pending(&self) -> bool {
        self.state == State::Proceeding
    }

    /// The request came again: resend the last response (an INVITE in Accepted absorbs it, RFC
    /// 6026 §7.1, since the 2xx retransmission timer covers it).
    pub(super) fn on_retransmission(&mut self, ctx: &mut Ctx<'_>) {
        if self.state == State::Accepted || self.state == State::Confirmed {
            return;
        }
        if let Some(response) = &self.last_response {
            ctx.send(self.to, response.clone());
        }
    }

    /// An ACK with this transaction's key: the ACK to our non-2xx. Returns false when the ACK is
    /// not for this transaction's state (then it is a 2xx ACK that reuses the branch).
    pub(super) fn on_ack(&mut self, ctx: &mut Ctx<'_>) -> bool {
        match self.state {
            State::Completed if self.invite => {
                self.state = State::Confirmed;
                self.timers.clear();
                let wait = if self.to.transport.is_reliable() {
                    Duration::ZERO
                } else {
                    ctx.config.t4
                };
                self.timers.push((Timer::I, ctx.now + wait));
                true
            }
            State::Confirmed => true,
            _ => false,
        }
    }

    /// The 2xx was acknowledged: stop retransmitting it (Timer L still runs to absorb stragglers).
    pub(super) fn on_2xx_ack(&mut self) {
        self.acked = true;
        self.timers.retain(|(t, _)| *t != Timer::G);
    }

    pub(super) fn respond(
        &mut self,
        ctx: &mut Ctx<'_>,
        key: &TxnKey,
        response: Message,
    ) -> Result<(), TransactionError> {
        let code = response.status().ok_or(TransactionError::WrongKind)?;
        if self.state != State::Proceeding {
            return Err(TransactionError::AlreadyFinal(key.clone()));
        }
        ctx.send(self.to, response.clone());
        self.last_response = Some(response);
        if code < 200 {
            return Ok(());
        }
        let reliable = self.to.transport.is_reliable();
        let t1 = ctx.config.t1;
        self.timers.clear();
        self.interval = t1;
        match (self.invite, code < 300) {
            (true, true) => {
                // RFC 6026 Accepted: over UDP the 2xx is retransmitted until the ACK
                // (§13.3.1.4); a stream delivers it once.
                self.state = State::Accepted;
                if !reliable {
                    self.timers.push((Timer::G, ctx.now + t1));
                }
                self.timers.push((Timer::L, ctx.now + 64 * t1));
            }
            (true, false) => {
                self.state = State::Completed;
                if !reliable {
                    self.timers.push((Timer::G, ctx.now + t1));
                }
                self.timers.push((Timer::H, ctx.now + 64 * t1));
            }
            (false, _) => {
                self.state = State::Completed;
                let wait = if reliable { Duration::ZERO } else { 64 * t1 };
                self.timers.push((Timer::J, ctx.now + wait));
            }
        }
        Ok(())
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
                Timer::G => {
                    if let Some(response) = &self.last_response {
                        ctx.send(self.to, response.clone());
                    }
                    // 2xx and non-2xx alike back off to T2 (RFC 3261 §13.3.1.4, §17.2.1).
                    self.interval = (self.interval * 2).min(ctx.config.t2);
                    self.timers.push((Timer::G, ctx.now + self.interval));
                }
                Timer::H => {
                    ctx.event(Event::Timeout {
                        key: key.clone(),
                        timer: Timer::H,
                    });
                    return false;
                }
                Timer::L => {
                    if !self.acked {
                        ctx.event(Event::Timeout {
                            key: key.clone(),
                            timer: Timer::L,
                        });
                    }
                    return false;
                }
                Timer::I | Timer::J => return false,
                _ => {}
            }
        }
        true
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.timers.iter().map(|(_, at)| *at).min()
    }

    /// `(Call-ID, CSeq number)` of the 2xx this INVITE transaction sent, which its ACK carries.
    pub(super) fn ack_match(&self) -> Option<(String, u32)> {
        let response = self.last_response.as_ref()?;
        let code = response.status()?;
        if !self.invite || !(200..300).contains(&code) {
            return None;
        }
        Some((
            response.call_id().ok()?.to_owned(),
            response.cseq().ok()?.seq,
        ))
    }
}
