//! The server half of the agent: incoming INVITEs (new calls and re-INVITEs), CANCEL, BYE, INFO
//! and OPTIONS, the ACK of our 2xx, the commands that answer them, and Timer L (no ACK).
//! Must not touch responses to our own requests (see `uac`).

use std::net::SocketAddr;
use std::time::Instant;

use super::{body_text, Call, CallHandle, EndReason, State, UaError, UaEvent, UserAgent, ALLOW};
use crate::dialog::{Dialog, DialogId};
use crate::sip::{HeaderName, Message, Method};
use crate::transaction::TxnKey;

impl UserAgent {
    pub(super) fn on_request(
        &mut self,
        now: Instant,
        key: TxnKey,
        request: Message,
        from: SocketAddr,
    ) {
        let Some(method) = request.method().cloned() else {
            return;
        };
        let in_dialog = request.to().ok().is_some_and(|to| to.tag().is_some());
        match method {
            Method::Invite if !in_dialog => self.on_new_invite(now, key, request, from),
            Method::Cancel => self.on_cancel(now, &key, &request),
            Method::Options => {
                let ok = Message::response_to(&request, 200, None)
                    .with_header(HeaderName::ALLOW, super::ALLOW);
                let _ = self.txns.respond(now, &key, ok);
            }
            Method::Ack => {}
            _ if in_dialog => self.on_in_dialog(now, key, request, method),
            Method::Bye | Method::Info => self.respond(now, &key, &request, 481),
            _ => {
                let refusal =
                    Message::response_to(&request, 405, None).with_header(HeaderName::ALLOW, ALLOW);
                let _ = self.txns.respond(now, &key, refusal);
            }
        }
        self.pump(now);
    }

    /// Answers `request` with a bare `status` (the transaction layer keeps the answer for
    /// retransmissions; a refusal of a transaction that is gone is of no consequence).
    fn respond(&mut self, now: Instant, key: &TxnKey, request: &Message, status: u16) {
        let _ = self
            .txns
            .respond(now, key, Message::response_to(request, status, None));
    }

    fn on_new_invite(&mut self, now: Instant, key: TxnKey, request: Message, from: SocketAddr) {
        let (Ok(call_id), Ok(caller)) = (request.call_id(), request.from()) else {
            return self.respond(now, &key, &request, 400);
        };
        if self.by_call_id.contains_key(call_id) {
            // Another branch of a call we already have (a merged request, RFC 3261 §8.2.2.2).
            return self.respond(now, &key, &request, 482);
        }
        let tag = self.ids.hex();
        let dialog = match Dialog::uas(&request, &tag, &self.contact_uri()) {
            Ok(d) => d,
            Err(e) => {
                let refusal = Message::response_to(&request, 400, Some(&tag))
                    .with_reason(format!("Bad Request - {e}"));
                let _ = self.txns.respond(now, &key, refusal);
                return;
            }
        };
        let handle = self.new_handle();
        let mut call = Call::new(from, State::Incoming, call_id.to_owned(), tag);
        call.dialog = Some(dialog);
        call.server_invite = Some((key, request.clone()));
        self.by_call_id.insert(call.call_id.clone(), handle);
        self.calls.insert(handle, call);
        self.events.push_back(UaEvent::Incoming {
            call: handle,
            from: caller,
            request_uri: request.request_uri().unwrap_or_default().to_owned(),
            offer: body_text(&request),
        });
    }

    fn on_cancel(&mut self, now: Instant, key: &TxnKey, request: &Message) {
        let invite_key = key.cancelled_invite();
        let call = request
            .call_id()
            .ok()
            .and_then(|id| self.by_call_id.get(id).copied());
        let pending = call.and_then(|call| {
            let c = self.calls.get(&call)?;
            let (k, invite) = c.server_invite.as_ref()?;
            (*k == invite_key && self.txns.is_pending(k)).then(|| (call, invite.clone(), c.state))
        });
        let Some((call, invite, state)) = pending else {
            return self.respond(now, key, request, 481);
        };
        self.respond(now, key, request, 200);
        let tag = self.calls.get(&call).map(|c| c.local_tag.clone());
        let terminated = Message::response_to(&invite, 487, tag.as_deref());
        let _ = self.txns.respond(now, &invite_key, terminated);
        if state == State::Incoming {
            self.end(call, EndReason::RemoteCancel);
        } else if let Some(c) = self.calls.get_mut(&call) {
            c.server_invite = None;
        }
    }

    fn on_in_dialog(&mut self, now: Instant, key: TxnKey, request: Message, method: Method) {
        let incoming = DialogId::of_incoming(&request);
        let found = request
            .call_id()
            .ok()
            .and_then(|id| self.by_call_id.get(id).copied())
            .filter(|call| {
                self.calls.get(call).is_some_and(|c| {
                    c.dialog.as_ref().map(Dialog::id) == incoming.as_ref()
                        // The far end cannot use the dialog before our 2xx.
                        && c.state != State::Incoming
                })
            });
        let Some(call) = found else {
            return self.respond(now, &key, &request, 481);
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let in_order = c
            .dialog
            .as_mut()
            .is_some_and(|d| d.on_request(&request).is_ok());
        if !in_order {
            return self.respond(now, &key, &request, 500);
        }
        let (state, our_reinvite, their_reinvite) =
            (c.state, c.reinvite.is_some(), c.server_invite.is_some());
        match method {
            Method::Bye => {
                if let Some((k, invite)) = c.server_invite.take() {
                    let _ = self
                        .txns
                        .respond(now, &k, Message::response_to(&invite, 487, None));
                }
                self.respond(now, &key, &request, 200);
                self.end(call, EndReason::RemoteBye);
            }
            Method::Info => {
                self.respond(now, &key, &request, 200);
                self.events.push_back(UaEvent::Info {
                    call,
                    content_type: request.content_type().map(str::to_owned),
                    body: request.body().to_vec(),
                });
            }
            // Glare: both sides re-INVITEd (RFC 3261 §14.2).
            Method::Invite if our_reinvite => self.respond(now, &key, &request, 491),
            Method::Invite if their_reinvite || state != State::Established => {
                let busy = Message::response_to(&request, 500, None)
                    .with_header(HeaderName::RETRY_AFTER, "1");
                let _ = self.txns.respond(now, &key, busy);
            }
            Method::Invite => {
                let offer = body_text(&request);
                c.server_invite = Some((key, request));
                self.events.push_back(UaEvent::Reinvited { call, offer });
            }
            _ => self.respond(now, &key, &request, 501),
        }
    }

    /// An ACK outside a transaction: the one for our 2xx (initial INVITE or re-INVITE).
    pub(super) fn on_ack(&mut self, ack: &Message) {
        let incoming = DialogId::of_incoming(ack);
        let Some(call) = ack
            .call_id()
            .ok()
            .and_then(|id| self.by_call_id.get(id).copied())
        else {
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let ours = c
            .dialog
            .as_ref()
            .is_some_and(|d| Some(d.id()) == incoming.as_ref());
        if !ours || c.awaiting_ack.is_none() {
            // Not for us, or a retransmitted ACK: the first one counted.
            return;
        }
        c.awaiting_ack = None;
        if c.state == State::Answered {
            c.state = State::Established;
        }
        self.events.push_back(UaEvent::Confirmed { call });
    }

    /// Timer L (our 2xx never acknowledged) or H (our refusal never acknowledged): the first
    /// ends the call with BYE, as RFC 3261 §13.3.1.4 asks; the second needs nothing (the call
    /// ended when it was refused).
    pub(super) fn on_server_timeout(&mut self, now: Instant, key: &TxnKey) {
        let Some(call) = self
            .calls
            .iter()
            .find(|(_, c)| c.awaiting_ack.as_ref() == Some(key))
            .map(|(h, _)| *h)
        else {
            return;
        };
        let via = self.via();
        if let Some(dialog) = self.calls.get_mut(&call).and_then(|c| c.dialog.as_mut()) {
            let bye = dialog.request(Method::Bye, &via);
            let _ = self.send(now, call, bye, 0);
        }
        self.end(call, EndReason::NoAck);
    }

    /// The INVITE `call` has not answered yet, if it is in a state where `action` fits.
    fn unanswered(
        &self,
        call: CallHandle,
        action: &'static str,
        reinvite: bool,
    ) -> Result<(TxnKey, Message), UaError> {
        let c = self.call(call)?;
        let expected = if reinvite {
            State::Established
        } else {
            State::Incoming
        };
        match &c.server_invite {
            Some(pending) if c.state == expected => Ok(pending.clone()),
            _ => Err(self.wrong_state(call, action)),
        }
    }

    /// Our final 2xx with `sdp` to the pending INVITE of `call` (initial or re-INVITE).
    fn send_2xx(&mut self, now: Instant, call: CallHandle, sdp: &str) -> Result<(), UaError> {
        let contact = self.contact_uri();
        let server = self.config.user_agent.clone();
        let c = self.call_mut(call)?;
        let Some((key, invite)) = c.server_invite.take() else {
            return Err(self.wrong_state(call, "answer"));
        };
        let ok = Message::response_to(&invite, 200, Some(&c.local_tag))
            .with_header(HeaderName::CONTACT, format!("<{contact}>"))
            .with_header(HeaderName::ALLOW, ALLOW)
            .with_header(HeaderName::SERVER, server)
            .with_body("application/sdp", sdp.as_bytes().to_vec());
        c.awaiting_ack = Some(key.clone());
        self.txns.respond(now, &key, ok)?;
        self.pump(now);
        Ok(())
    }

    /// Sends `180 Ringing` for an incoming call.
    pub fn ringing(&mut self, now: Instant, call: CallHandle) -> Result<(), UaError> {
        let (key, invite) = self.unanswered(call, "ring", false)?;
        let c = self.call(call)?;
        let ringing = Message::response_to(&invite, 180, Some(&c.local_tag))
            .with_header(HeaderName::CONTACT, format!("<{}>", self.contact_uri()));
        self.txns.respond(now, &key, ringing)?;
        self.pump(now);
        Ok(())
    }

    /// Answers an incoming call `200 OK` with the SDP `answer`; [`UaEvent::Confirmed`] follows
    /// with the ACK (or, without one, [`EndReason::NoAck`]).
    pub fn answer(&mut self, now: Instant, call: CallHandle, answer: &str) -> Result<(), UaError> {
        self.unanswered(call, "answer", false)?;
        self.send_2xx(now, call, answer)?;
        if let Some(c) = self.calls.get_mut(&call) {
            c.state = State::Answered;
        }
        Ok(())
    }

    /// Refuses an incoming call with a final `status` (300-699); the call is gone at once.
    pub fn reject(&mut self, now: Instant, call: CallHandle, status: u16) -> Result<(), UaError> {
        if !(300..=699).contains(&status) {
            return Err(UaError::BadStatus(status));
        }
        let (key, invite) = self.unanswered(call, "reject", false)?;
        let tag = self.call(call)?.local_tag.clone();
        self.txns
            .respond(now, &key, Message::response_to(&invite, status, Some(&tag)))?;
        self.remove_call(call);
        self.pump(now);
        Ok(())
    }

    /// Accepts the far end's re-INVITE with the SDP `answer`.
    pub fn accept_reinvite(
        &mut self,
        now: Instant,
        call: CallHandle,
        answer: &str,
    ) -> Result<(), UaError> {
        self.unanswered(call, "accept a re-INVITE", true)?;
        self.send_2xx(now, call, answer)
    }

    /// Refuses the far end's re-INVITE with `status` (300-699, typically 488); the dialog and its
    /// session stay as they were.
    pub fn refuse_reinvite(
        &mut self,
        now: Instant,
        call: CallHandle,
        status: u16,
    ) -> Result<(), UaError> {
        if !(300..=699).contains(&status) {
            return Err(UaError::BadStatus(status));
        }
        let (key, invite) = self.unanswered(call, "refuse a re-INVITE", true)?;
        self.txns
            .respond(now, &key, Message::response_to(&invite, status, None))?;
        if let Some(c) = self.calls.get_mut(&call) {
            c.server_invite = None;
        }
        self.pump(now);
        Ok(())
    }
}
