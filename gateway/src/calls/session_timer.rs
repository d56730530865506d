//! Session timers (RFC 4028) on calls: negotiating them on the INVITE and on the peer's refreshes,
//! sending our refreshes (UPDATE when the peer allows it, else re-INVITE, both with the SDP we
//! last sent, at half the interval), and hanging up with BYE and a `Reason` when a refresh is
//! missed, which also ends calls whose peer vanished.
//!
//! The rules (header grammar, negotiation, deadlines) are `signaling::session_timer`'s; this file
//! only wires them to calls, dialogs and transactions. It must not touch media, meetings or the
//! lobby: an expired session ends through [`CallCore::end_call`] like every other ending.

use std::time::Instant;

use signaling::session_timer::{
    negotiate_uas, Negotiated, SessionTimer, SessionTimerError, SessionTimerEvent, UasDecision,
};
use signaling::sip::{HeaderName, Message, Method};
use signaling::transaction::TxnKey;

use super::{CallCore, CallId, CoreOutput};

/// Why a call ends when its session expires (the BYE's `Reason`).
const EXPIRED: (u16, &str) = (408, "Session timer expired without a refresh");

/// A call's session timer: what was negotiated, and, once the 2xx is sent, the running timer.
#[derive(Debug)]
pub(super) struct CallTimer {
    negotiated: Negotiated,
    /// The peer's INVITE listed UPDATE in `Allow`: our refreshes are UPDATEs (no ACK, no glare
    /// with its own re-INVITEs' offers), else re-INVITEs.
    peer_allows_update: bool,
    running: Option<SessionTimer>,
    /// The SDP we sent last (in the INVITE's 2xx or a later one), which our refreshes repeat: a
    /// refresh changes nothing about the media, hold included.
    sdp: Vec<u8>,
    /// Our last refresh re-INVITE and its transaction, to ACK its 2xx (and any retransmission
    /// of it, which arrives after the transaction left [`CallCore::refreshes`]).
    reinvite: Option<(TxnKey, Message)>,
}

/// What the peer's refresh request negotiated, for [`CallCore::peer_refreshed`].
pub(super) struct PeerRefresh {
    decision: UasDecision,
    /// Whether its `Allow` lists UPDATE (`None`: it has no `Allow`, and what the peer said
    /// before stands).
    allows_update: Option<bool>,
}

/// Whether a request's `Allow` lists UPDATE; `None` without an `Allow` header.
fn allows_update(request: &Message) -> Option<bool> {
    request.headers.get(&HeaderName::ALLOW)?;
    Some(
        request
            .headers
            .list(&HeaderName::ALLOW)
            .any(|m| m.eq_ignore_ascii_case(Method::Update.as_str())),
    )
}

/// A refusal of a request on session-timer grounds: 422 with our `Min-SE`, or 400 for a header
/// that does not parse.
pub(super) struct TimerRefusal {
    pub(super) code: u16,
    pub(super) reason: String,
    pub(super) headers: Vec<(HeaderName, String)>,
}

impl TimerRefusal {
    fn from_decision(
        decision: Result<UasDecision, SessionTimerError>,
    ) -> Result<UasDecision, Self> {
        match decision {
            Ok(UasDecision::TooSmall { min_se }) => Err(TimerRefusal {
                code: 422,
                reason: "Session Interval Too Small".into(),
                headers: vec![(HeaderName::MIN_SE, min_se.to_string())],
            }),
            Ok(decision) => Ok(decision),
            Err(e) => Err(TimerRefusal {
                code: 400,
                reason: format!("Bad Request - {e}"),
                headers: Vec::new(),
            }),
        }
    }

    fn into_response(self, request: &Message, server: &str) -> Message {
        let mut response = Message::response_to(request, self.code, None)
            .with_reason(self.reason)
            .with_header(HeaderName::SERVER, server.to_owned());
        for (name, value) in self.headers {
            response = response.with_header(name, value);
        }
        response
    }
}

impl CallCore {
    /// The session timer an INVITE negotiates (`None`: the caller asked for none), or the
    /// refusal (422, 400) to answer it with.
    pub(super) fn negotiate_session_timer(
        &self,
        invite: &Message,
    ) -> Result<Option<CallTimer>, TimerRefusal> {
        let decision =
            TimerRefusal::from_decision(negotiate_uas(&self.config.session_timer, invite))?;
        let UasDecision::Timer(negotiated) = decision else {
            return Ok(None);
        };
        Ok(Some(CallTimer {
            negotiated,
            peer_allows_update: allows_update(invite).unwrap_or(false),
            running: None,
            sdp: Vec::new(),
            reinvite: None,
        }))
    }

    /// Adds the negotiated timer's headers to the INVITE's 2xx and starts the timer: from now
    /// on the session must be refreshed.
    pub(super) fn arm_session_timer(&mut self, now: Instant, id: CallId, ok: Message) -> Message {
        let Some(timer) = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.session_timer.as_mut())
        else {
            return ok;
        };
        timer.running = Some(SessionTimer::new(now, timer.negotiated));
        timer.sdp = ok.body().to_vec();
        timer
            .negotiated
            .response_headers()
            .into_iter()
            .fold(ok, |ok, (name, value)| ok.with_header(name, value))
    }

    /// The peer's re-INVITE or UPDATE is also a session refresh (§9): negotiated like the
    /// INVITE. `Err` when it was answered here (422, 400) and must go no further.
    pub(super) fn check_peer_refresh(
        &mut self,
        now: Instant,
        key: &TxnKey,
        request: &Message,
    ) -> Result<PeerRefresh, ()> {
        match TimerRefusal::from_decision(negotiate_uas(&self.config.session_timer, request)) {
            Ok(decision) => Ok(PeerRefresh {
                decision,
                allows_update: allows_update(request),
            }),
            Err(refusal) => {
                let response = refusal.into_response(request, &self.config.user_agent);
                self.respond(now, key, response);
                Err(())
            }
        }
    }

    /// Our answer to the peer's refresh: a 2xx restarts (or starts, or stops) the timer with
    /// what the refresh negotiated and carries its headers.
    pub(super) fn peer_refreshed(
        &mut self,
        now: Instant,
        id: CallId,
        refresh: PeerRefresh,
        response: Message,
    ) -> Message {
        if !response.status().is_some_and(|c| (200..300).contains(&c)) {
            return response;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return response;
        };
        let UasDecision::Timer(negotiated) = refresh.decision else {
            // RFC 4028 §9: a refresh that neither supports nor names a timer turns it off.
            call.session_timer = None;
            return response;
        };
        let timer = call.session_timer.get_or_insert_with(|| CallTimer {
            negotiated,
            peer_allows_update: false,
            running: None,
            sdp: call.local_sdp.to_string().into_bytes(),
            reinvite: None,
        });
        timer.negotiated = negotiated;
        if let Some(allows) = refresh.allows_update {
            timer.peer_allows_update = allows;
        }
        if !response.body().is_empty() {
            timer.sdp = response.body().to_vec();
        }
        match &mut timer.running {
            Some(running) => running.handle_peer_refresh(now, negotiated),
            None => timer.running = Some(SessionTimer::new(now, negotiated)),
        }
        negotiated
            .response_headers()
            .into_iter()
            .fold(response, |r, (name, value)| r.with_header(name, value))
    }

    /// The soonest deadline of any call's session timer.
    pub(super) fn session_timer_deadline(&self) -> Option<Instant> {
        self.calls
            .values()
            .filter_map(|c| c.session_timer.as_ref()?.running.as_ref()?.poll_timeout())
            .min()
    }

    /// Fires the session timers due at `now`.
    pub(super) fn fire_session_timers(&mut self, now: Instant) {
        let due: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| {
                c.session_timer
                    .as_ref()
                    .and_then(|t| t.running.as_ref()?.poll_timeout())
                    .is_some_and(|at| at <= now)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(running) = self.running_timer(id) {
                running.handle_timeout(now);
            }
            self.drive_session_timer(now, id);
        }
    }

    fn call_timer(&mut self, id: CallId) -> Option<&mut CallTimer> {
        self.calls.get_mut(&id)?.session_timer.as_mut()
    }

    fn running_timer(&mut self, id: CallId) -> Option<&mut SessionTimer> {
        self.call_timer(id)?.running.as_mut()
    }

    /// Acts on what a call's timer asks for.
    fn drive_session_timer(&mut self, now: Instant, id: CallId) {
        while let Some(event) = self.running_timer(id).and_then(SessionTimer::poll_event) {
            match event {
                SessionTimerEvent::SendRefresh => self.send_refresh(now, id),
                SessionTimerEvent::Expired => {
                    tracing::info!(call = %id, "session timer expired");
                    self.end_call(now, id, Some(EXPIRED));
                    return;
                }
            }
        }
    }

    /// Sends our refresh: UPDATE or re-INVITE, with the SDP we last sent (an unchanged session:
    /// same origin version) and our session-timer headers.
    fn send_refresh(&mut self, now: Instant, id: CallId) {
        let Some(transport) = self.calls.get(&id).map(|c| c.peer.transport) else {
            return;
        };
        let via = self.our_via(transport);
        let policy = self.config.session_timer;
        let user_agent = self.config.user_agent.clone();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let (Some(dialog), Some(timer)) = (call.dialog.as_mut(), call.session_timer.as_mut())
        else {
            return;
        };
        let method = if timer.peer_allows_update {
            Method::Update
        } else {
            Method::Invite
        };
        let mut request = dialog.request(method.clone(), &via);
        for (name, value) in timer.negotiated.refresh_headers(&policy) {
            request = request.with_header(name, value);
        }
        let request = request
            .with_header(HeaderName::ALLOW, super::ALLOW)
            .with_header(HeaderName::USER_AGENT, user_agent)
            .with_body("application/sdp", timer.sdp.clone());
        let reinvite = (method == Method::Invite).then(|| request.clone());
        let peer = call.peer;
        tracing::debug!(call = %id, %method, "sending session refresh");
        match self.txn.send_request(now, request, peer) {
            Ok(key) => {
                if let Some(timer) = self.call_timer(id) {
                    timer.reinvite = reinvite.map(|r| (key.clone(), r));
                }
                self.refreshes.insert(key, id);
            }
            Err(e) => {
                tracing::warn!(call = %id, error = %e, "could not send session refresh");
                if let Some(running) = self.running_timer(id) {
                    running.handle_refresh_failed(500, None);
                }
            }
        }
    }

    /// A response to one of our client transactions; handled if it answers a refresh.
    pub(super) fn on_refresh_response(&mut self, now: Instant, key: &TxnKey, response: &Message) {
        let Some(code) = response.status() else {
            return;
        };
        if code < 200 {
            return;
        }
        let ok = (200..300).contains(&code);
        let Some(id) = self.refreshes.remove(key) else {
            if ok && key.method == Method::Invite {
                // A retransmitted 2xx to a refresh already answered: ACK it again.
                let call = self.calls.iter().find_map(|(id, c)| {
                    let (sent, _) = c.session_timer.as_ref()?.reinvite.as_ref()?;
                    (sent == key).then_some(*id)
                });
                if let Some(id) = call {
                    self.ack_refresh(id);
                }
            }
            return;
        };
        if ok && key.method == Method::Invite {
            self.ack_refresh(id);
        }
        let Some(timer) = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.session_timer.as_mut())
        else {
            return;
        };
        let Some(running) = timer.running.as_mut() else {
            return;
        };
        if ok {
            if let Err(e) = running.handle_refresh_response(now, response) {
                tracing::info!(call = %id, error = %e, "refresh answered with a bad Session-Expires");
            }
            timer.negotiated = *running.negotiated();
        } else {
            tracing::info!(call = %id, code, "session refresh refused");
            running.handle_refresh_failed(code, Some(response));
        }
        self.drive_session_timer(now, id);
    }

    /// One of our client transactions gave up (B, F): a refresh that got no answer at all counts
    /// as a 408 (§10).
    pub(super) fn on_refresh_timeout(
        &mut self,
        now: Instant,
        key: &TxnKey,
        timer: signaling::transaction::Timer,
    ) {
        use signaling::transaction::Timer;
        let Some(id) = self.refreshes.remove(key) else {
            return;
        };
        if matches!(timer, Timer::B | Timer::F) {
            tracing::info!(call = %id, "session refresh got no answer");
            if let Some(running) = self.running_timer(id) {
                running.handle_refresh_failed(408, None);
            }
            self.drive_session_timer(now, id);
        }
    }

    /// ACKs a 2xx to our refresh re-INVITE.
    fn ack_refresh(&mut self, id: CallId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some((_, invite)) = call.session_timer.as_ref().and_then(|t| t.reinvite.clone()) else {
            return;
        };
        let (Some(dialog), Ok(cseq)) = (call.dialog.clone(), invite.cseq()) else {
            return;
        };
        let peer = call.peer;
        let via = self.our_via(peer.transport);
        // The ACK of a 2xx is a request of the dialog with the re-INVITE's CSeq number (§13.2.2.4).
        let ack = dialog.ack(cseq.seq, &via);
        self.out.push_back(CoreOutput::Transmit {
            to: peer,
            bytes: ack.to_bytes(),
        });
    }
}
