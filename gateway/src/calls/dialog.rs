//! SIP within and around a call's dialog: parsing what arrives (and answering what is malformed),
//! the transaction layer's events, OPTIONS, CANCEL, ACK (with the SDP answer), re-INVITE/UPDATE,
//! INFO, BYE in both directions, and the Via/Contact/response helpers every SIP answer uses.
//! OPTIONS says whether the gateway takes calls (200, or 503 while draining or full), which is
//! what a dispatcher in front probes.
//!
//! Owns the SIP side of a call after its INVITE was routed (`invite` does the first INVITE); it
//! must not make meeting or lobby decisions.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use rand::Rng;
use signaling::dialog::DialogId;
use signaling::sdp::SessionDescription;
use signaling::sip::{HeaderName, Limits, Message, Method};
use signaling::transaction::{response_destination, Event, Output, Peer, Timer, Transport, TxnKey};

use super::encryption::{self, Unencrypted};
use super::{audio_setup_key, CallCore, CallId, CoreOutput};

/// Methods we answer (the `Allow` header).
pub(super) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE";

impl CallCore {
    /// Takes one SIP message (a datagram, or one framed message from a TCP stream).
    /// A banned source's bytes are dropped unread (`source_limits`).
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8], from: Peer) {
        if !self.admit_packet(now, from) {
            return;
        }
        match Message::parse(bytes) {
            Ok(message) if self.link_datagram(now, &message, bytes, from) => {}
            Ok(message) => self.txn.handle_message(now, message, from),
            Err(error) => {
                self.count_bad_message(now, from);
                self.refuse_malformed(bytes, from, &error.to_string(), error.status_code())
            }
        }
        self.pump(now);
    }

    /// Takes one already-parsed message (a frame from a TCP stream).
    pub fn handle_message(&mut self, now: Instant, message: Message, from: Peer) {
        if !self.admit_packet(now, from) {
            return;
        }
        self.txn.handle_message(now, message, from);
        self.pump(now);
    }

    /// The TLS connection from `peer` presented a client certificate with this SHA-256
    /// fingerprint (lowercase hex); calls arriving over it are matched against `cert-sha256`
    /// device rules until [`CallCore::handle_stream_closed`].
    pub fn handle_client_certificate(&mut self, peer: Peer, fingerprint: String) {
        if peer.transport == Transport::Tls {
            self.client_certs.insert(peer.addr, fingerprint);
        }
    }

    /// The TLS connection from `peer` has closed: its certificate no longer speaks for the next
    /// connection from that address.
    pub fn handle_stream_closed(&mut self, peer: Peer) {
        if peer.transport == Transport::Tls {
            self.client_certs.remove(&peer.addr);
        }
    }

    /// The client-certificate fingerprint of the TLS connection a message came from, if any.
    pub(super) fn client_certificate(&self, from: Peer) -> Option<&str> {
        (from.transport == Transport::Tls)
            .then(|| self.client_certs.get(&from.addr))
            .flatten()
            .map(String::as_str)
    }

    /// A broken request still gets an answer when its headers allow one (RFC 3261 §21.4.1).
    pub(super) fn refuse_malformed(&mut self, bytes: &[u8], from: Peer, reason: &str, code: u16) {
        let parsed = Message::parse_unvalidated(bytes, &Limits::DEFAULT)
            .or_else(|_| Message::parse_unvalidated(&headers_only(bytes), &Limits::DEFAULT));
        let Ok(request) = parsed else {
            tracing::debug!(%from, "dropping unparseable datagram");
            return;
        };
        let answerable = request.is_request()
            && request.method() != Some(&Method::Ack)
            && request.headers.get(&HeaderName::VIA).is_some();
        if !answerable {
            return;
        }
        tracing::info!(%from, reason, "refusing malformed request");
        let response = Message::response_to(&request, code, None)
            .with_reason(format!(
                "{} - {reason}",
                signaling::sip::reason_phrase(code)
            ))
            .with_header(HeaderName::SERVER, self.config.user_agent.clone());
        self.out.push_back(CoreOutput::Transmit {
            to: response_destination(&request, from),
            bytes: response.to_bytes(),
        });
    }

    /// Moves transaction-layer outputs out, acting on events.
    pub(super) fn pump(&mut self, now: Instant) {
        while let Some(output) = self.txn.poll_output() {
            match output {
                Output::Transmit { to, message } => self.out.push_back(CoreOutput::Transmit {
                    to,
                    bytes: message.to_bytes(),
                }),
                Output::Event(event) => self.on_event(now, event),
            }
        }
    }

    pub(super) fn on_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::Request { key, request, from } => self.on_request(now, key, request, from),
            Event::Ack { request, .. } => self.on_ack(now, &request),
            Event::Timeout {
                key,
                timer: Timer::L,
            } => {
                // Our 2xx was never acknowledged (RFC 3261 §13.3.1.4): end the call.
                let call = self
                    .calls
                    .iter()
                    .find(|(_, c)| c.uas.as_ref().is_some_and(|u| u.key == key))
                    .map(|(id, _)| *id);
                if let Some(call) = call {
                    self.end_call(now, call, Some((408, "No ACK received")));
                }
            }
            Event::Response { key, response } => self.on_refresh_response(now, &key, &response),
            Event::Timeout { key, timer } => self.on_refresh_timeout(now, &key, timer),
        }
    }

    pub(super) fn on_request(&mut self, now: Instant, key: TxnKey, request: Message, from: Peer) {
        let method = request.method().cloned().unwrap_or(Method::Options);
        let in_dialog = request
            .to()
            .ok()
            .and_then(|to| to.tag().map(str::to_owned))
            .is_some();
        if self.source_cap(from.addr.ip(), false).is_some() {
            let response = self
                .response(&request, 503, None)
                .with_reason("Service Unavailable - too many transactions from this source")
                .with_header(super::header("Retry-After"), "10");
            self.respond(now, &key, response);
            return;
        }
        match method {
            Method::Invite if !in_dialog => self.new_invite(now, key, request, from),
            Method::Cancel => self.on_cancel(now, &key, &request),
            Method::Options => {
                // A probe (Kamailio's dispatcher) learns whether new calls are taken here: 200,
                // or the 503 + Retry-After an INVITE would get (draining, full). Within a call
                // OPTIONS is a keep-alive, and the call is still wanted while we drain.
                let unavailable = if in_dialog { None } else { self.unavailable() };
                let response = match unavailable {
                    Some(refusal) => {
                        let response = self.response(&request, refusal.code, None);
                        refusal.apply_to(response)
                    }
                    None => self.response(&request, 200, None),
                };
                let response = response
                    .with_header(HeaderName::ALLOW, ALLOW)
                    .with_header(header("Accept"), "application/sdp")
                    .with_header(HeaderName::SUPPORTED, super::SUPPORTED);
                self.respond(now, &key, response);
            }
            Method::Invite | Method::Bye | Method::Info | Method::Update => {
                let call =
                    DialogId::of_incoming(&request).and_then(|d| self.dialogs.get(&d).copied());
                match call {
                    Some(call) => self.in_dialog(now, call, key, request, method),
                    None => {
                        let response = self.response(&request, 481, None);
                        self.respond(now, &key, response);
                    }
                }
            }
            _ => {
                let response = self
                    .response(&request, 405, None)
                    .with_header(HeaderName::ALLOW, ALLOW);
                self.respond(now, &key, response);
            }
        }
    }

    pub(super) fn in_dialog(
        &mut self,
        now: Instant,
        call_id: CallId,
        key: TxnKey,
        request: Message,
        method: Method,
    ) {
        let checked = match self.calls.get_mut(&call_id).and_then(|c| c.dialog.as_mut()) {
            Some(dialog) => dialog.on_request(&request),
            None => return,
        };
        if let Err(e) = checked {
            let response = self
                .response(&request, 500, None)
                .with_reason(format!("Server Internal Error - {e}"));
            self.respond(now, &key, response);
            return;
        }
        match method {
            Method::Bye => {
                let response = self.response(&request, 200, None);
                self.respond(now, &key, response);
                self.end_call(now, call_id, None);
            }
            Method::Info if self.is_roster_info(call_id, request.content_type()) => {
                let response = match self.roster_received(call_id, request.body()) {
                    Ok(()) => self.response(&request, 200, None),
                    Err(e) => self
                        .response(&request, 400, None)
                        .with_reason(format!("Bad Request - {e}")),
                };
                self.respond(now, &key, response);
            }
            Method::Info => {
                let content_type = request.content_type().unwrap_or_default().to_owned();
                let digit = crate::media::info_dtmf::parse_info_dtmf(&content_type, request.body());
                let response = self.response(&request, 200, None);
                self.respond(now, &key, response);
                match digit {
                    Ok(Some(digit)) => self.dtmf(now, call_id, digit),
                    Ok(None) => {}
                    Err(e) => tracing::debug!(call = %call_id, error = %e, "INFO body ignored"),
                }
            }
            Method::Invite | Method::Update => self.reoffer(now, call_id, key, request),
            _ => {}
        }
    }

    pub(super) fn on_cancel(&mut self, now: Instant, key: &TxnKey, cancel: &Message) {
        let response = self.response(cancel, 200, None);
        self.respond(now, key, response);
        let invite_key = key.cancelled_invite();
        if let Some(call) = self.ringing.get(&invite_key).copied() {
            self.refuse_ringing(now, call, 487, "Request Terminated");
        } else {
            self.cancel_waiting(now, &invite_key);
        }
    }

    /// Ends a call that was never answered with a final error response.
    pub(super) fn refuse_ringing(&mut self, now: Instant, call: CallId, code: u16, reason: &str) {
        let Some(c) = self.remove_call(now, call) else {
            return;
        };
        let label = if code == 487 { "cancelled" } else { "draining" };
        self.metrics
            .calls_refused_total
            .with_label_values(&[c.tenant.as_str(), label])
            .inc();
        // Only calls the far end placed ring here (a dialled link's INVITE is its agent's).
        let Some(uas) = &c.uas else {
            return;
        };
        let response = Message::response_to(&uas.invite, code, Some(&uas.local_tag))
            .with_reason(reason)
            .with_header(HeaderName::SERVER, self.config.user_agent.clone());
        self.respond(now, &uas.key, response);
    }

    pub(super) fn on_ack(&mut self, now: Instant, ack: &Message) {
        let Some(call_id) = DialogId::of_incoming(ack).and_then(|d| self.dialogs.get(&d).copied())
        else {
            return;
        };
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if !call.answer_in_ack {
            return;
        }
        call.answer_in_ack = false;
        let answer = std::str::from_utf8(ack.body())
            .ok()
            .and_then(|text| SessionDescription::parse(text).ok());
        let negotiated = match answer {
            Some(answer) => call.sdp.handle_answer(&answer),
            None => Err(signaling::sdp::SdpError::NoOfferPending),
        };
        let tenant = call.tenant.clone();
        match negotiated {
            Ok(session) => {
                if let Err(why) =
                    encryption::check_negotiated(&self.media_policy(&tenant), &session)
                {
                    tracing::info!(call = %call_id, reason = why.text(), "clear-text answer in ACK");
                    self.end_call(now, call_id, Some((488, why.text())));
                    return;
                }
                if let Some(call) = self.calls.get_mut(&call_id) {
                    call.negotiated = Some(session);
                }
                self.start_media(call_id);
            }
            Err(e) => {
                tracing::info!(call = %call_id, error = %e, "no usable SDP answer in ACK");
                self.end_call(now, call_id, Some((488, "No usable SDP answer in ACK")));
            }
        }
    }

    /// A re-INVITE or UPDATE within a call: hold, resume, or a media change.
    pub(super) fn reoffer(&mut self, now: Instant, call_id: CallId, key: TxnKey, request: Message) {
        let Ok(timer) = self.check_peer_refresh(now, &key, &request) else {
            return;
        };
        let Some(tenant) = self.calls.get(&call_id).map(|c| c.tenant.clone()) else {
            return;
        };
        let policy = self.media_policy(&tenant);
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let mut restart_media = false;
        let outcome: Result<Option<String>, Refused> = if request.body().is_empty() {
            if request.method() == Some(&Method::Update) {
                Ok(None)
            } else {
                // A re-INVITE without SDP asks for our offer; the answer comes in the ACK.
                call.sdp
                    .create_offer()
                    .map(|mut offer| {
                        call.answer_in_ack = true;
                        // A Tessera link stays marked in every SDP it exchanges.
                        if call.tessera.is_some() {
                            signaling::sdp::cascade::advertise(&mut offer);
                        }
                        Some(offer.to_string())
                    })
                    .map_err(Refused::Sdp)
            }
        } else {
            std::str::from_utf8(request.body())
                .map_err(|_| signaling::sdp::SdpError::Malformed {
                    line: 1,
                    reason: "SDP is not UTF-8".into(),
                })
                .and_then(SessionDescription::parse)
                .map_err(Refused::Sdp)
                .and_then(|offer| {
                    // A call to a `required` tenant may not fall back to clear RTP mid-call.
                    encryption::check_offer(&policy, &offer).map_err(Refused::Unencrypted)?;
                    call.sdp.answer(&offer).map_err(Refused::Sdp)
                })
                .map(|(mut answer, negotiated)| {
                    if call.tessera.is_some() {
                        signaling::sdp::cascade::advertise(&mut answer);
                    }
                    let before = call.negotiated.as_ref().and_then(audio_setup_key);
                    restart_media = call.media_started && before != audio_setup_key(&negotiated);
                    call.negotiated = Some(negotiated);
                    Some(answer.to_string())
                })
        };
        if restart_media {
            call.media_started = false;
            self.out.push_back(CoreOutput::MediaStop { call: call_id });
            self.start_media(call_id);
        }
        let response = match outcome {
            Ok(body) => {
                let mut response = self
                    .response(&request, 200, None)
                    .with_header(HeaderName::CONTACT, self.contact_for(call_id));
                if let Some(body) = body {
                    response = response.with_body("application/sdp", body.into_bytes());
                }
                response
            }
            Err(Refused::Sdp(e)) => {
                let code = e.sip_status();
                self.response(&request, code, None)
                    .with_reason(format!("{} - {e}", signaling::sip::reason_phrase(code)))
            }
            Err(Refused::Unencrypted(why)) => {
                tracing::info!(call = %call_id, reason = why.text(), "clear-text re-offer refused");
                self.response(&request, 488, None)
                    .with_reason(encryption::REFUSAL_REASON)
                    .with_header(header("Warning"), why.warning(self.config.sip_addr.ip()))
            }
        };
        let response = self.peer_refreshed(now, call_id, timer, response);
        self.respond(now, &key, response);
    }

    /// Ends a call: out of its meeting, media stopped, port freed, and (when `reason` is given,
    /// i.e. we hang up) a BYE with a Reason header; `None` means the peer hung up with a BYE.
    pub(super) fn end_call(&mut self, now: Instant, call_id: CallId, reason: Option<(u16, &str)>) {
        let Some(mut call) = self.remove_call(now, call_id) else {
            return;
        };
        if call.media_started {
            self.out.push_back(CoreOutput::MediaStop { call: call_id });
        }
        // Log why in words either way: an operator reading "reason=None" cannot tell a normal
        // hang-up from a lost one.
        match reason {
            Some((code, text)) => {
                tracing::info!(call = %call_id, code, reason = text, "call ended")
            }
            None => tracing::info!(call = %call_id, reason = "peer hung up (BYE)", "call ended"),
        }
        if let (super::Protocol::H323, Some((code, _))) = (call.protocol, reason) {
            // Its Release Complete is the connection task's (see `server::h323`).
            self.out.push_back(CoreOutput::H323Release {
                call: call_id,
                reason: super::h323::release_reason(code),
            });
            return;
        }
        if let (Some(link), Some((code, _))) = (call.link, reason) {
            // A dialled link's BYE is its agent's.
            self.link_call_ended(now, link, code);
            return;
        }
        let (Some((code, text)), Some(dialog)) = (reason, call.dialog.as_mut()) else {
            return;
        };
        let via = self.our_via(call.peer.transport);
        let bye = dialog
            .request(Method::Bye, &via)
            .with_header(
                header("Reason"),
                format!("SIP;cause={code};text=\"{text}\""),
            )
            .with_header(HeaderName::USER_AGENT, self.config.user_agent.clone());
        if let Err(e) = self.txn.send_request(now, bye, call.peer) {
            tracing::warn!(call = %call_id, error = %e, "could not send BYE");
        }
    }

    pub(super) fn our_via(&mut self, transport: Transport) -> signaling::sip::Via {
        let branch = format!(
            "{}{:016x}",
            signaling::transaction::BRANCH_COOKIE,
            self.rng.random::<u64>()
        );
        let sent_by = self.config.advertised(transport);
        let mut via = signaling::sip::Via::new(
            transport.as_str(),
            &sent_by.ip().to_string(),
            Some(sent_by.port()),
            &branch,
        );
        via.params.set("rport", None);
        via
    }

    pub(super) fn contact_for(&self, call_id: CallId) -> String {
        let (transport, sips) = self
            .calls
            .get(&call_id)
            .map_or((Transport::Udp, false), |c| {
                let sips = c.uas.as_ref().is_some_and(|u| is_sips_request(&u.invite));
                (c.peer.transport, sips)
            });
        contact_uri(self.config.advertised(transport), transport, sips)
    }

    /// A response to `request` with our Server header.
    pub(super) fn response(&self, request: &Message, code: u16, to_tag: Option<&str>) -> Message {
        Message::response_to(request, code, to_tag)
            .with_header(HeaderName::SERVER, self.config.user_agent.clone())
    }

    pub(super) fn respond(&mut self, now: Instant, key: &TxnKey, response: Message) {
        if let Err(e) = self.txn.respond(now, key, response) {
            tracing::debug!(error = %e, "response not sent");
        }
    }
}

/// The header section of a datagram without its Content-Length (and body), so that a request
/// whose Content-Length promises more than the datagram holds can still be answered with 400
/// (RFC 3261 §18.3).
pub(super) fn headers_only(bytes: &[u8]) -> Vec<u8> {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |i| i + 2);
    let mut out = Vec::with_capacity(end + 2);
    for line in bytes[..end].split(|b| *b == b'\n') {
        let name = line.split(|b| *b == b':').next().unwrap_or_default();
        let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
        if name == "content-length" || name == "l" || line.is_empty() {
            continue;
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Whether `request` was sent to a `sips:` URI (then our Contact must be one too, RFC 3261
/// §12.1.1).
pub(super) fn is_sips_request(request: &Message) -> bool {
    request.request_uri().is_some_and(|uri| {
        uri.get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("sips:"))
    })
}

/// The Contact URI for calls over `transport`: `sips:` when the caller used one, else (TLS to a
/// `sip:` URI, as many phones do) `sip:` with `transport=tls`.
pub(super) fn contact_uri(addr: SocketAddr, transport: Transport, sips: bool) -> String {
    let host = match addr.ip() {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    match transport {
        Transport::Udp => format!("<sip:tessera@{host}:{}>", addr.port()),
        Transport::Tcp => format!("<sip:tessera@{host}:{};transport=tcp>", addr.port()),
        Transport::Tls if sips => format!("<sips:tessera@{host}:{}>", addr.port()),
        Transport::Tls => format!("<sip:tessera@{host}:{};transport=tls>", addr.port()),
    }
}

/// A header name known to be a valid token.
pub(super) fn header(name: &'static str) -> HeaderName {
    HeaderName::new(name).unwrap_or(HeaderName::SERVER)
}

/// Why a re-offer was refused: negotiation failed, or the tenant requires encryption.
enum Refused {
    Sdp(signaling::sdp::SdpError),
    Unencrypted(Unencrypted),
}
