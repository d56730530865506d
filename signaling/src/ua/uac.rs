//! The client half of the agent: responses to our requests (INVITE, re-INVITE, BYE, INFO,
//! CANCEL), the ACK of every 2xx, digest answers to 401/407, CANCEL timing, and Timer B/F
//! expiry. Must not touch incoming requests (see `uas`).

use std::time::Instant;

use super::{
    body_text, Auth, CallFailure, CallHandle, EndReason, State, UaError, UaEvent, UserAgent,
};
use crate::dialog::Dialog;
use crate::digest::Challenge;
use crate::sip::{HeaderName, Message, Method};
use crate::transaction::{Peer, Transport, TxnKey};

/// How many times one request is resent with fresh credentials before the challenge counts as
/// a refusal (a right password needs one; a `stale` nonce one more).
const MAX_AUTH_TRIES: u8 = 2;

impl UserAgent {
    pub(super) fn on_response(&mut self, now: Instant, key: TxnKey, response: Message) {
        let (Some(pending), Some(status)) = (self.client.get(&key).cloned(), response.status())
        else {
            return;
        };
        let call = pending.call;
        let Some(method) = pending.request.method().cloned() else {
            return;
        };
        if matches!(status, 401 | 407)
            && method != Method::Cancel
            && self.retry_with_credentials(now, &key, &response).is_ok()
        {
            return;
        }
        let is_reinvite = self
            .calls
            .get(&call)
            .is_some_and(|c| c.reinvite.as_ref() == Some(&key));
        match method {
            Method::Invite if is_reinvite => self.on_reinvite_response(now, call, &key, &response),
            Method::Invite => self.on_invite_response(now, call, &key, &response),
            Method::Bye if status >= 200 => self.end(
                call,
                EndReason::LocalBye {
                    status: Some(status),
                },
            ),
            Method::Info if status >= 200 => {
                self.client.remove(&key);
                self.events.push_back(UaEvent::InfoAnswered {
                    call,
                    status: Some(status),
                });
                self.end_if_dialog_gone(now, call, Some(status));
            }
            _ => {}
        }
    }

    /// RFC 3261 §12.2.1.2: a 481 or 408 to a request within the dialog, or no response at all,
    /// means the far end no longer has the dialog: it ends here too (with a BYE unless the far
    /// end said it has no such dialog).
    fn end_if_dialog_gone(&mut self, now: Instant, call: CallHandle, status: Option<u16>) {
        if !matches!(status, None | Some(408 | 481)) || !self.calls.contains_key(&call) {
            return;
        }
        if status != Some(481) {
            let via = self.via();
            if let Some(dialog) = self.calls.get_mut(&call).and_then(|c| c.dialog.as_mut()) {
                let bye = dialog.request(Method::Bye, &via);
                let _ = self.send(now, call, bye, 0);
            }
        }
        self.end(call, EndReason::DialogGone { status });
    }

    fn on_invite_response(
        &mut self,
        now: Instant,
        call: CallHandle,
        key: &TxnKey,
        response: &Message,
    ) {
        let Some(status) = response.status() else {
            return;
        };
        match status {
            100..=199 => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.provisional = true;
                }
                if status > 100 {
                    let sdp = (!response.body().is_empty()).then(|| body_text(response));
                    self.events
                        .push_back(UaEvent::Progress { call, status, sdp });
                }
                let _ = self.send_cancel_if_due(now, call);
            }
            200..=299 => self.on_invite_2xx(now, call, key, response),
            _ => {
                // The transaction layer ACKed it already.
                let Some(c) = self.calls.get(&call) else {
                    return;
                };
                let failure = if c.cancel_wanted && status == 487 {
                    CallFailure::Cancelled
                } else if matches!(status, 401 | 407) {
                    CallFailure::Unauthorized { status }
                } else {
                    CallFailure::Rejected {
                        status,
                        reason: response.reason().unwrap_or_default().to_owned(),
                    }
                };
                self.remove_call(call);
                self.events.push_back(UaEvent::Failed { call, failure });
            }
        }
    }

    /// A 2xx to our initial INVITE: form the dialog and ACK (or ACK again on a retransmission).
    fn on_invite_2xx(&mut self, now: Instant, call: CallHandle, key: &TxnKey, response: &Message) {
        if self.resend_ack(call, key) {
            return;
        }
        let via = self.via();
        let contact = self.contact_uri();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.dialog.is_some() {
            // A 2xx from a second fork (another To tag): no forking support, so it is ignored.
            return;
        }
        let Some((_, invite)) = c.invite.clone() else {
            return;
        };
        let invite_seq = invite.cseq().map(|c| c.seq).unwrap_or(1);
        let dialog = match Dialog::uac(&invite, response, &contact) {
            Ok(d) => d,
            Err(e) => {
                // Still ACK it (to where the INVITE went) so the far end stops retransmitting.
                let peer = c.peer;
                let ack = bare_ack(&invite, response, &via.to_string());
                self.send_direct(peer, &ack);
                self.remove_call(call);
                self.events.push_back(UaEvent::Failed {
                    call,
                    failure: CallFailure::BadAnswer(e.to_string()),
                });
                return;
            }
        };
        let ack = dialog.ack(invite_seq, &via);
        let peer = c.peer;
        c.dialog = Some(dialog);
        c.acks.push((key.clone(), ack.clone()));
        c.state = State::Established;
        let cancelled = c.cancel_wanted;
        self.send_direct(peer, &ack);
        if cancelled {
            // The 2xx crossed our CANCEL: the call exists, so it is hung up at once.
            let _ = self.bye(now, call);
            return;
        }
        self.events.push_back(UaEvent::Answered {
            call,
            answer: body_text(response),
        });
    }

    fn on_reinvite_response(
        &mut self,
        now: Instant,
        call: CallHandle,
        key: &TxnKey,
        response: &Message,
    ) {
        let Some(status) = response.status() else {
            return;
        };
        if status < 200 {
            return;
        }
        if status >= 300 {
            if let Some(c) = self.calls.get_mut(&call) {
                c.reinvite = None;
            }
            self.events.push_back(UaEvent::ReinviteRefused {
                call,
                status: Some(status),
            });
            self.end_if_dialog_gone(now, call, Some(status));
            return;
        }
        if self.resend_ack(call, key) {
            return;
        }
        let via = self.via();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let (Some(dialog), Some(pending)) = (c.dialog.as_ref(), self.client.get(key)) else {
            return;
        };
        let seq = pending.request.cseq().map(|c| c.seq).unwrap_or(0);
        let ack = dialog.ack(seq, &via);
        c.acks.push((key.clone(), ack.clone()));
        c.reinvite = None;
        let peer = c.peer;
        self.send_direct(peer, &ack);
        self.events.push_back(UaEvent::ReinviteAnswered {
            call,
            answer: body_text(response),
        });
    }

    /// Resends the ACK of the 2xx of INVITE transaction `key`, if we sent one: the 2xx came
    /// again because our ACK was lost.
    fn resend_ack(&mut self, call: CallHandle, key: &TxnKey) -> bool {
        let Some(c) = self.calls.get(&call) else {
            return false;
        };
        let Some((_, ack)) = c.acks.iter().find(|(k, _)| k == key) else {
            return false;
        };
        let (peer, ack) = (c.peer, ack.clone());
        self.send_direct(peer, &ack);
        true
    }

    /// Answers a 401/407 by resending the request with credentials (new branch, next CSeq).
    /// Errs when it cannot or should not (no credentials, an unusable challenge, a second
    /// refusal of the same nonce): the response then stands as the request's failure.
    fn retry_with_credentials(
        &mut self,
        now: Instant,
        key: &TxnKey,
        response: &Message,
    ) -> Result<(), ()> {
        let pending = self.client.get(key).cloned().ok_or(())?;
        if self.config.credentials.is_none() || pending.auth_tries >= MAX_AUTH_TRIES {
            return Err(());
        }
        let (challenge_header, answer_header) = match response.status() {
            Some(401) => (HeaderName::WWW_AUTHENTICATE, HeaderName::AUTHORIZATION),
            _ => (
                HeaderName::PROXY_AUTHENTICATE,
                HeaderName::PROXY_AUTHORIZATION,
            ),
        };
        let challenge = response
            .headers
            .get_all(&challenge_header)
            .find_map(|v| Challenge::parse(v).ok())
            .ok_or(())?;
        let call = pending.call;
        let c = self.calls.get_mut(&call).ok_or(())?;
        // Our answer to this very nonce was refused: the password is wrong (unless the nonce
        // merely went stale).
        let answered_this_nonce = c.auth.as_ref().is_some_and(|a| {
            a.challenge.nonce == challenge.nonce && pending.request.headers.get(&a.header).is_some()
        });
        if answered_this_nonce && !challenge.stale {
            return Err(());
        }
        c.auth = Some(Auth {
            challenge,
            header: answer_header,
            nc: 0,
        });
        let mut request = pending.request.clone();
        let seq = match c.dialog.as_mut() {
            Some(dialog) => dialog.next_local_seq(),
            None => request
                .cseq()
                .map(|c| c.seq.wrapping_add(1))
                .map_err(|_| ())?,
        };
        let method = request.method().cloned().ok_or(())?;
        request
            .headers
            .set(HeaderName::CSEQ, format!("{seq} {method}"));
        request.headers.set(HeaderName::VIA, self.via().to_string());
        self.client.remove(key);
        let new_key = self
            .send(now, call, request.clone(), pending.auth_tries + 1)
            .map_err(|_| ())?;
        if let Some(c) = self.calls.get_mut(&call) {
            if c.invite.as_ref().is_some_and(|(k, _)| k == key) {
                c.invite = Some((new_key.clone(), request));
                // A new INVITE transaction: CANCEL waits for its own provisional response.
                c.provisional = false;
            }
            if c.reinvite.as_ref() == Some(key) {
                c.reinvite = Some(new_key);
            }
        }
        Ok(())
    }

    /// Sends the CANCEL of `call`'s INVITE once it is wanted and a provisional response came
    /// (before one, the far end may not have the INVITE yet, RFC 3261 §9.1).
    pub(super) fn send_cancel_if_due(
        &mut self,
        now: Instant,
        call: CallHandle,
    ) -> Result<(), UaError> {
        let c = self.call_mut(call)?;
        let Some((_, invite)) = c.invite.clone() else {
            return Ok(());
        };
        if !c.cancel_wanted || c.cancel_sent || !c.provisional || c.state != State::Calling {
            return Ok(());
        }
        let cancel = cancel_for(&invite);
        let peer = Peer {
            transport: Transport::Udp,
            addr: c.peer,
        };
        c.cancel_sent = true;
        // CANCEL shares the INVITE's branch, so it is a transaction of its own that no retry
        // or call index needs: responses to it carry nothing the call acts on.
        self.txns.send_request(now, cancel, peer)?;
        self.pump(now);
        Ok(())
    }

    /// Timer B/F, or H/L of a server INVITE: a request of ours got no final response, or our
    /// final response to an INVITE no ACK.
    pub(super) fn on_timeout(&mut self, now: Instant, key: &TxnKey) {
        if let Some(pending) = self.client.remove(key) {
            let call = pending.call;
            let is_reinvite = self
                .calls
                .get(&call)
                .is_some_and(|c| c.reinvite.as_ref() == Some(key));
            match pending.request.method() {
                Some(Method::Invite) if is_reinvite => {
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.reinvite = None;
                    }
                    self.events
                        .push_back(UaEvent::ReinviteRefused { call, status: None });
                    self.end_if_dialog_gone(now, call, None);
                }
                Some(Method::Invite) => {
                    self.remove_call(call);
                    self.events.push_back(UaEvent::Failed {
                        call,
                        failure: CallFailure::Timeout,
                    });
                }
                Some(Method::Bye) => self.end(call, EndReason::LocalBye { status: None }),
                Some(Method::Info) => {
                    self.events
                        .push_back(UaEvent::InfoAnswered { call, status: None });
                    self.end_if_dialog_gone(now, call, None);
                }
                _ => {}
            }
            return;
        }
        self.on_server_timeout(now, key);
    }
}

/// The CANCEL of `invite` (RFC 3261 §9.1): same Request-URI, Call-ID, From, To, CSeq number and
/// top Via (so the same branch), and its Route headers.
fn cancel_for(invite: &Message) -> Message {
    let uri = invite.request_uri().unwrap_or_default().to_owned();
    let mut cancel = Message::request(Method::Cancel, uri);
    if let Ok(via) = invite.top_via() {
        cancel.headers.push(HeaderName::VIA, via.to_string());
    }
    cancel.headers.push(HeaderName::MAX_FORWARDS, "70");
    for name in [HeaderName::FROM, HeaderName::TO, HeaderName::CALL_ID] {
        if let Some(v) = invite.headers.get(&name) {
            cancel.headers.push(name, v);
        }
    }
    if let Ok(cseq) = invite.cseq() {
        cancel
            .headers
            .push(HeaderName::CSEQ, format!("{} CANCEL", cseq.seq));
    }
    for route in invite.headers.get_all(&HeaderName::ROUTE) {
        cancel.headers.push(HeaderName::ROUTE, route);
    }
    cancel
}

/// An ACK for a 2xx that formed no dialog: to the INVITE's Request-URI, with the response's To.
fn bare_ack(invite: &Message, response: &Message, via: &str) -> Message {
    let uri = invite.request_uri().unwrap_or_default().to_owned();
    let mut ack = Message::request(Method::Ack, uri)
        .with_header(HeaderName::VIA, via)
        .with_header(HeaderName::MAX_FORWARDS, "70");
    for (name, source) in [
        (HeaderName::FROM, invite),
        (HeaderName::TO, response),
        (HeaderName::CALL_ID, invite),
    ] {
        if let Some(v) = source.headers.get(&name) {
            ack.headers.push(name, v);
        }
    }
    if let Ok(cseq) = invite.cseq() {
        ack.headers
            .push(HeaderName::CSEQ, format!("{} ACK", cseq.seq));
    }
    ack
}
