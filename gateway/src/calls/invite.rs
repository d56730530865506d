//! A new INVITE: routing the dialled string, refusing what cannot be served (with the right status
//! and a reason), classifying the caller's trust, negotiating SDP, ringing and answering.

use std::sync::Arc;
use std::time::Instant;

use rand::Rng;
use signaling::dial::Scheme;
use signaling::dialog::Dialog;
use signaling::sdp::crypto::MAX_MASTER_LEN;
use signaling::sdp::{cascade, LocalMedia, LocalSrtpKeys, SdpSession, SessionDescription};
use signaling::sip::{HeaderName, Message};
use signaling::transaction::{Peer, TxnKey};
use signaling::{DialError, DialString, ResolvedDial, Route, TenantKey};

use super::auth::{challenge, DigestResponse};
use super::encryption::{self, Unencrypted};
use super::licence_leases::Pending;
use super::tessera::TesseraLink;
use super::{
    contact_uri, header, is_sips_request, Call, CallCore, CallId, CallKind, CoreOutput,
    MediaControls, Phase, Prompt, Target,
};
use crate::directory::{MediaPolicy, Tenant, TrustedDeviceRule};
use crate::lobby::ParticipantClass;

/// A refusal of an INVITE: status, reason phrase, extra headers, and what the metrics call it.
pub(super) struct Refusal {
    pub(super) code: u16,
    reason: String,
    headers: Vec<(HeaderName, String)>,
    /// `reason` label of `tessera_calls_refused_total`.
    pub(super) label: &'static str,
    /// The tenant, once routing found one (`-` before).
    tenant: Option<String>,
}

impl Refusal {
    pub(super) fn new(code: u16, reason: impl Into<String>) -> Self {
        let label = match code {
            400 | 415 | 416 | 420 => "malformed",
            422 => "session-interval",
            401 => "challenged",
            403 => "forbidden",
            404 => "not-found",
            486 => "licence",
            488 => "no-common-codec",
            503 => "capacity",
            _ => "other",
        };
        Refusal {
            code,
            reason: reason.into(),
            headers: Vec::new(),
            label,
            tenant: None,
        }
    }

    /// The 503 of a draining gateway.
    pub(super) fn draining() -> Self {
        Refusal::new(503, "Service Unavailable - gateway shutting down")
            .with(header("Retry-After"), "30".into())
            .labelled("draining")
    }

    /// The refusal in words: the Warning text when there is one (it names the limit), else the
    /// reason phrase.
    pub(super) fn reason_text(&self) -> String {
        self.headers
            .iter()
            .find(|(name, _)| name.as_str().eq_ignore_ascii_case("Warning"))
            .and_then(|(_, value)| value.split('"').nth(1))
            .map_or_else(|| self.reason.clone(), str::to_owned)
    }

    pub(super) fn labelled(mut self, label: &'static str) -> Self {
        self.label = label;
        self
    }

    pub(super) fn for_tenant(mut self, tenant: &TenantKey) -> Self {
        self.tenant = Some(tenant.to_string());
        self
    }

    pub(super) fn with(mut self, name: HeaderName, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// `response` carrying this refusal: its reason phrase and extra headers.
    pub(super) fn apply_to(self, mut response: Message) -> Message {
        response = response.with_reason(self.reason);
        for (name, value) in self.headers {
            response = response.with_header(name, value);
        }
        response
    }
}

/// The refusal for a dial-plan failure: 400 for a malformed string, 404 naming what is unknown.
fn dial_refusal(error: &DialError) -> Refusal {
    let (code, phrase) = match error {
        DialError::Malformed(_) => (400, "Bad Request - Malformed dial string"),
        DialError::NotADialString(_) => (404, "Not Found - Not a conference dial string"),
        DialError::UnknownTenant(_) => (404, "Not Found - Unknown tenant"),
        DialError::UnknownConference { .. } => (404, "Not Found - Unknown conference"),
        DialError::Lookup(_) => (500, "Server Internal Error - Directory unavailable"),
    };
    let text = error.to_string().replace('"', "'");
    Refusal::new(code, phrase).with(
        header("Reason"),
        format!("SIP;cause={code};text=\"{text}\""),
    )
}

/// How many licences of `kind` the tenant has.
pub(super) fn licences_of(record: &Tenant, kind: CallKind) -> u32 {
    match kind {
        CallKind::Endpoint => record.endpoint_licenses,
        CallKind::Cascade => record.cascade_licenses,
    }
}

/// 416 for a Request-URI whose scheme cannot dial a meeting (`xmpp:`, `tel:`, `mailto:`): RFC
/// 3261 §8.2.2.1 asks for it before any routing, whatever the To header says.
fn unsupported_scheme(uri: &str) -> Option<Refusal> {
    let (scheme, _) = uri.split_once(':')?;
    if Scheme::from_name(scheme).is_some() {
        return None;
    }
    // The scheme is a token (the message parser checked the Request-URI), so it needs no quoting.
    let text = format!("{} URIs cannot dial a meeting", scheme.to_ascii_lowercase());
    Some(
        Refusal::new(416, "Unsupported URI Scheme")
            .with(header("Reason"), format!("SIP;cause=416;text=\"{text}\"")),
    )
}

impl CallCore {
    /// Handles an INVITE that starts a call.
    pub(super) fn new_invite(&mut self, now: Instant, key: TxnKey, invite: Message, from: Peer) {
        match self.accept_invite(now, &key, &invite, from) {
            Ok(Some(call)) => {
                tracing::info!(call = %call, %from, uri = invite.request_uri().unwrap_or_default(), "call accepted");
            }
            Ok(None) => {
                tracing::debug!(%from, uri = invite.request_uri().unwrap_or_default(), "call waits for a licence lease");
            }
            Err(refusal) => self.refuse(now, &key, &invite, from, refusal),
        }
    }

    /// Answers an INVITE with a refusal, counted in `tessera_calls_refused_total`.
    pub(super) fn refuse(
        &mut self,
        now: Instant,
        key: &TxnKey,
        invite: &Message,
        from: Peer,
        refusal: Refusal,
    ) {
        tracing::info!(%from, code = refusal.code, reason = %refusal.reason,
            uri = invite.request_uri().unwrap_or_default(), "call refused");
        let tenant = refusal.tenant.as_deref().unwrap_or("-");
        self.metrics
            .calls_refused_total
            .with_label_values(&[tenant, refusal.label])
            .inc();
        let tag = format!("{:016x}", self.rng.random::<u64>());
        let response = self.response(invite, refusal.code, Some(&tag));
        let response = refusal.apply_to(response);
        self.respond(now, key, response);
    }

    /// Why the gateway as a whole takes no new call right now (draining, or full: `max-calls`
    /// reached or the encoders near the machine's capacity), if it does not. The INVITE refusal,
    /// and the 503 an OPTIONS probe gets, so that a dispatcher in front (Kamailio) stops sending
    /// calls here until it answers 200 again.
    pub(super) fn unavailable(&self) -> Option<Refusal> {
        self.unavailable_to(false)
    }

    /// [`CallCore::unavailable`] for an INVITE that claims to be another node's cluster link
    /// when `cluster_link`: a full gateway still takes it, and a draining one decides by the
    /// link's meeting once it is routed (`refuses_link_while_draining`). A cluster
    /// link carries callers its node has already admitted (each counted against that node's
    /// `max-calls` and licences); refusing it would leave them in a meeting without the rest of
    /// it, retrying the link while the home stays full. Nor does a link count towards
    /// `max-calls` at either end: it forwards the far side's streams without encoding for them,
    /// and a home counting its edges' links would fill up, refuse (and tell Kamailio it is full)
    /// while serving fewer callers than the operator set. A caller merely claiming to be a link
    /// gets no further than the digest challenge (`classify_cluster_link`).
    pub(super) fn unavailable_to(&self, cluster_link: bool) -> Option<Refusal> {
        if cluster_link {
            // Draining or not is the link's meeting's business (`refuses_link_while_draining`).
            return None;
        }
        if self.drain_deadline.is_some() {
            return Some(Refusal::draining());
        }
        let full = self.overloaded
            || self
                .config
                .max_calls
                .is_some_and(|max| self.calls.values().filter(|call| !call.cluster).count() >= max);
        // Refuse cleanly rather than degrade every call (a caller retries elsewhere).
        full.then(|| {
            Refusal::new(503, "Service Unavailable - gateway at capacity")
                .with(header("Retry-After"), "5".into())
        })
    }

    fn accept_invite(
        &mut self,
        now: Instant,
        key: &TxnKey,
        invite: &Message,
        from: Peer,
    ) -> Result<Option<CallId>, Refusal> {
        let cluster_link = self.claims_cluster_link(invite);
        if let Some(refusal) = self.unavailable_to(cluster_link) {
            return Err(refusal);
        }
        if self.source_cap(from.addr.ip(), true).is_some() {
            return Err(
                Refusal::new(503, "Service Unavailable - too many calls from this source")
                    .with(header("Retry-After"), "10".into())
                    .labelled("source-limit"),
            );
        }
        if let Some(refusal) = unsupported_scheme(invite.request_uri().unwrap_or_default()) {
            return Err(refusal);
        }
        let unsupported: Vec<&str> = invite
            .headers
            .list(&HeaderName::REQUIRE)
            .filter(|tag| !tag.eq_ignore_ascii_case(super::SUPPORTED))
            .collect();
        if !unsupported.is_empty() {
            // Session timers are the one extension a caller may require (100rel is not done).
            return Err(Refusal::new(420, "Bad Extension")
                .with(header("Unsupported"), unsupported.join(", ")));
        }
        if invite.contact().map(|c| c.is_empty()).unwrap_or(true) {
            return Err(Refusal::new(400, "Bad Request - Missing Contact"));
        }
        let resolved = self.route(invite).map_err(|e| dial_refusal(&e))?;
        let tenant = resolved.tenant.clone();
        if cluster_link {
            // Another node of the cluster linking its callers in: no licence of its own.
            let meeting = resolved.conference.clone().map(|c| (tenant.clone(), c));
            if let Some(refusal) = self.refuses_link_while_draining(meeting) {
                return Err(refusal.for_tenant(&tenant));
            }
            let classified = self
                .classify_cluster_link(now, invite)
                .map_err(|r| r.for_tenant(&tenant))?;
            let record = self.licensed_record(&tenant)?;
            return self
                .finish_accept(now, key, invite, from, resolved, classified, &record.media)
                .map(Some);
        }
        // Trust first: whether the call is a cascade link decides which licence it needs.
        let (class, kind) = self
            .classify(now, invite, from, &resolved)
            .map_err(|r| r.for_tenant(&tenant))?;
        if self.config.cluster_licences {
            // The lease store answers later (`handle_lease`), which goes on from here.
            let record = self.licensed_record(&tenant)?;
            let name = invite.call_id().unwrap_or("-").to_owned();
            let pending = Pending::Invite {
                key: key.clone(),
                invite: invite.clone(),
                from,
                resolved,
                class,
                kind,
            };
            self.ask_lease(pending, &name, kind, &record);
            return Ok(None);
        }
        let media_policy = self
            .check_licence(&tenant, kind)
            .map_err(|r| r.for_tenant(&tenant))?;
        self.finish_accept(
            now,
            key,
            invite,
            from,
            resolved,
            (class, kind),
            &media_policy,
        )
        .map(Some)
    }

    /// The rest of an INVITE's acceptance once it holds its licence: the signalling encryption
    /// check, a port pair, the call.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn finish_accept(
        &mut self,
        now: Instant,
        key: &TxnKey,
        invite: &Message,
        from: Peer,
        resolved: ResolvedDial,
        (class, kind): (ParticipantClass, CallKind),
        media_policy: &MediaPolicy,
    ) -> Result<CallId, Refusal> {
        let tenant = resolved.tenant.clone();
        encryption::check_signalling(media_policy, from.transport.is_secure())
            .map_err(|why| self.unencrypted(why).for_tenant(&tenant))?;

        let port_base = self.ports.take().ok_or_else(|| {
            Refusal::new(503, "Service Unavailable - no media ports left").for_tenant(&tenant)
        })?;
        match self.build_call(
            now,
            key,
            invite,
            from,
            resolved,
            (class, kind),
            port_base,
            media_policy,
        ) {
            Ok(call) => Ok(call),
            Err(refusal) => {
                self.ports.give_back(port_base);
                Err(refusal.for_tenant(&tenant))
            }
        }
    }

    /// An endpoint call holds one of its tenant's concurrent endpoint licences from acceptance to
    /// its end, a cascade link one of its cascade licences; one beyond the licence is refused
    /// with 486 and a Warning naming the licence. Gives the tenant's media policy, read with the
    /// licence from the same record, for the checks after.
    pub(super) fn check_licence(
        &self,
        tenant: &TenantKey,
        kind: CallKind,
    ) -> Result<MediaPolicy, Refusal> {
        let record = self.licensed_record(tenant)?;
        let held = match kind {
            CallKind::Endpoint => self.calls_of(tenant),
            CallKind::Cascade => self.cascades_of(tenant),
        };
        let limit = usize::try_from(licences_of(&record, kind)).unwrap_or(usize::MAX);
        if held < limit {
            return Ok(record.media);
        }
        Err(self.licence_refusal(tenant, kind, limit))
    }

    /// The tenant's record, which a licence check reads its licences and media policy from
    /// (and publishes the licence gauges of); 500 when the directory cannot give it.
    pub(super) fn licensed_record(&self, tenant: &TenantKey) -> Result<Tenant, Refusal> {
        let record = match self.directory.tenant(tenant) {
            Ok(Some(record)) => record,
            _ => {
                return Err(
                    Refusal::new(500, "Server Internal Error - Directory unavailable")
                        .for_tenant(tenant),
                )
            }
        };
        self.publish_licences(&record);
        Ok(record)
    }

    /// 486 for a call beyond the tenant's `limit` licences of `kind`, with a Warning naming the
    /// licence.
    pub(super) fn licence_refusal(
        &self,
        tenant: &TenantKey,
        kind: CallKind,
        limit: usize,
    ) -> Refusal {
        let host = self.config.sip_addr.ip();
        let text = format!(
            "{} licence limit of {limit} reached for tenant {tenant}",
            kind.licence()
        );
        Refusal::new(486, "Busy Here - licence limit reached")
            .with(header("Warning"), format!("399 {host} \"{text}\""))
            .with(header("Reason"), format!("SIP;cause=486;text=\"{text}\""))
    }

    /// 488 for a call a `required` tenant will not take in clear text, with a `Warning` saying
    /// what to change.
    fn unencrypted(&self, why: Unencrypted) -> Refusal {
        Refusal::new(488, encryption::REFUSAL_REASON)
            .labelled("encryption-required")
            .with(header("Warning"), why.warning(self.config.sip_addr.ip()))
    }

    #[allow(clippy::too_many_arguments)]
    fn build_call(
        &mut self,
        now: Instant,
        key: &TxnKey,
        invite: &Message,
        from: Peer,
        resolved: ResolvedDial,
        (class, kind): (ParticipantClass, CallKind),
        port_base: u16,
        media_policy: &MediaPolicy,
    ) -> Result<CallId, Refusal> {
        let session_timer = self.negotiate_session_timer(invite).map_err(|r| {
            r.headers
                .into_iter()
                .fold(Refusal::new(r.code, r.reason), |refusal, (name, value)| {
                    refusal.with(name, value)
                })
        })?;
        let mut sdp = self.sdp_session(port_base);
        // SDES keys travel in the SDP, so only over signalling nobody else can read (unless the
        // tenant accepts that risk).
        if encryption::keys_may_travel(media_policy, from.transport.is_secure()) {
            sdp.set_srtp_keys(Some(draw_srtp_keys()));
        }
        let (local_sdp, negotiated, answer_in_ack) = if invite.body().is_empty() {
            let offer = sdp
                .create_offer()
                .map_err(|e| Refusal::new(500, format!("Server Internal Error - {e}")))?;
            (offer, None, true)
        } else {
            let is_sdp = invite
                .content_type()
                .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("application/sdp"));
            if !is_sdp {
                return Err(Refusal::new(415, "Unsupported Media Type")
                    .with(header("Accept"), "application/sdp".into()));
            }
            let offer = std::str::from_utf8(invite.body())
                .ok()
                .and_then(|text| SessionDescription::parse(text).ok())
                .ok_or_else(|| Refusal::new(400, "Bad Request - Malformed SDP"))?;
            let (mut answer, negotiated) = sdp.answer(&offer).map_err(|e| {
                let code = e.sip_status();
                let text = e.to_string().replace('"', "'");
                let refusal = Refusal::new(
                    code,
                    format!("{} - {text}", signaling::sip::reason_phrase(code)),
                );
                if code == 488 {
                    // 305: Incompatible media format (RFC 3261 §20.43).
                    let host = self.config.sip_addr.ip();
                    refusal.with(header("Warning"), format!("305 {host} \"{text}\""))
                } else {
                    refusal
                }
            })?;
            encryption::check_negotiated(media_policy, &negotiated)
                .map_err(|why| self.unencrypted(why))?;
            // Only a call a cascade rule classed as a link may become a Tessera link.
            if kind == CallKind::Cascade && cascade::speaks_ours(&offer) {
                cascade::advertise(&mut answer);
            }
            (answer, Some(negotiated), false)
        };

        // Our answer carries the marker only when the offer did and a cascade rule matched.
        let ssrc_base = self.rng.random::<u32>();
        let tessera = cascade::speaks_ours(&local_sdp).then(|| TesseraLink::new(now, ssrc_base));
        let id = CallId(self.next_call);
        self.next_call += 1;
        let participant = self.new_participant();
        let local_tag = format!("{:016x}", self.rng.random::<u64>());
        let from_addr = invite.from().ok();
        let display_name = from_addr
            .as_ref()
            .and_then(|f| f.display_name.clone().filter(|n| !n.trim().is_empty()))
            .or_else(|| from_addr.as_ref().and_then(|f| uri_user(&f.uri)))
            .unwrap_or_else(|| "Unknown caller".to_owned());
        let target = match (resolved.route, resolved.conference) {
            (Route::EntryQueue, _) | (_, None) => Target::EntryQueue,
            (_, Some(conference)) => Target::Meeting((resolved.tenant.clone(), conference)),
        };
        let ring = self.config.ring_time;
        let call = Call {
            invited_at: now,
            stats: Arc::default(),
            participant,
            peer: from,
            tenant: resolved.tenant,
            display_name,
            class,
            kind,
            protocol: super::Protocol::Sip,
            uas: Some(super::UasInvite {
                key: key.clone(),
                invite: invite.clone(),
                local_tag: local_tag.clone(),
            }),
            dialog: None,
            link: None,
            sdp,
            local_sdp,
            answer_in_ack,
            negotiated,
            port_base,
            media_started: false,
            controls: MediaControls::for_kind(kind),
            phase: Phase::Ringing {
                target: target.clone(),
                answer_at: now + ring,
            },
            session_timer,
            tessera,
            // Only a verified one gets this far (`classify_cluster_link`).
            cluster: self.claims_cluster_link(invite),
        };
        let tenant_label = call.tenant.to_string();
        // Another node's link into a meeting homed here is no caller of the tenant's.
        let route_label = if call.cluster {
            "cluster-link"
        } else {
            resolved.route.as_str()
        };
        self.insert_call(id, call);
        self.metrics
            .calls_active
            .with_label_values(&[&tenant_label, "sip"])
            .inc();
        self.metrics
            .calls_total
            .with_label_values(&[&tenant_label, "sip", route_label])
            .inc();
        if ring.is_zero() {
            self.answer(now, id, target);
        } else {
            self.ringing.insert(key.clone(), id);
            let ringing = self.response(invite, 180, Some(&local_tag)).with_header(
                HeaderName::CONTACT,
                contact_uri(
                    self.config.advertised(from.transport),
                    from.transport,
                    is_sips_request(invite),
                ),
            );
            self.respond(now, key, ringing);
        }
        Ok(id)
    }

    /// A fresh SDP session for a call whose media use the port pair at `port_base` (audio, then
    /// video two ports up).
    pub(super) fn sdp_session(&mut self, port_base: u16) -> SdpSession {
        let local = LocalMedia {
            address: self.config.media_ip,
            audio_port: port_base,
            video_port: port_base + 2,
        };
        SdpSession::new(
            self.rng.random::<u32>().into(),
            self.config.capabilities.clone(),
            local,
        )
    }

    /// Resolves the Request-URI, falling back to the To URI (some endpoints put the dial string
    /// only there).
    fn route(&self, invite: &Message) -> Result<ResolvedDial, DialError> {
        let by_uri = DialString::parse(invite.request_uri().unwrap_or_default())
            .and_then(|d| d.resolve(self.directory.as_ref()));
        let Err(uri_error) = by_uri else {
            return by_uri;
        };
        let by_to = invite
            .to()
            .map_err(|e| DialError::Malformed(e.to_string()))
            .and_then(|to| DialString::parse(&to.uri))
            .and_then(|d| d.resolve(self.directory.as_ref()));
        match (&uri_error, by_to) {
            (_, Ok(found)) => Ok(found),
            // The To header says more than a Request-URI that was no dial string at all.
            (DialError::NotADialString(_) | DialError::Malformed(_), Err(to_error))
                if !matches!(
                    to_error,
                    DialError::NotADialString(_) | DialError::Malformed(_)
                ) =>
            {
                Err(to_error)
            }
            _ => Err(uri_error),
        }
    }

    /// The caller's trust class: PSTN trunk, trusted VTC (source network, From URI pattern, or
    /// digest credentials), or untrusted VTC; and whether it is a cascade link (the rule it
    /// matched names a conference bridge; a bridge is trusted like a room system). A caller whose
    /// From user names one of the tenant's digest credentials is challenged (401); so is one that
    /// answers with a stale nonce.
    fn classify(
        &mut self,
        now: Instant,
        invite: &Message,
        from: Peer,
        resolved: &ResolvedDial,
    ) -> Result<(ParticipantClass, CallKind), Refusal> {
        if self.is_pstn_trunk(from.addr.ip()) {
            return Ok((ParticipantClass::Pstn, CallKind::Endpoint));
        }
        let rules = self
            .directory
            .trusted_devices(&resolved.tenant)
            .map_err(|_| Refusal::new(500, "Server Internal Error - Directory unavailable"))?;
        let from_uri = invite.from().map(|f| f.uri).unwrap_or_default();
        let client_cert = self.client_certificate(from);
        let matched: Vec<_> = rules
            .iter()
            .filter(|d| {
                d.rule
                    .matches_unauthenticated(from.addr.ip(), &from_uri, client_cert)
            })
            .collect();
        if !matched.is_empty() {
            return Ok((ParticipantClass::TrustedVtc, CallKind::of(matched)));
        }
        let realm = crate::directory::realm_of(&resolved.tenant);
        let credentials = invite
            .headers
            .get(&header("Authorization"))
            .and_then(DigestResponse::parse);
        if let Some(answer) = credentials {
            let rule = rules.iter().find_map(|d| match &d.rule {
                TrustedDeviceRule::Digest {
                    username,
                    realm: r,
                    ha1_md5,
                    ha1_sha256,
                } if *username == answer.username && *r == answer.realm => {
                    Some((ha1_md5, ha1_sha256, d))
                }
                _ => None,
            });
            let Some((md5, sha, device)) = rule else {
                return Err(Refusal::new(403, "Forbidden - Unknown credentials"));
            };
            return match self.check_digest(now, &answer, &realm, (md5, sha)) {
                Err(stale) => {
                    tracing::info!(source = %from, username = %answer.username, "digest nonce stale or replayed; challenging again");
                    Err(stale.labelled("digest-stale"))
                }
                Ok(true) => Ok((ParticipantClass::TrustedVtc, CallKind::of([device]))),
                Ok(false) => Err(Refusal::new(403, "Forbidden - Bad credentials")),
            };
        }
        let claims_credential = uri_user(&from_uri).is_some_and(|user| {
            rules
                .iter()
                .any(|d| matches!(&d.rule, TrustedDeviceRule::Digest { username, .. } if *username == user))
        });
        if claims_credential {
            return Err(self.challenge(now, &realm, false));
        }
        Ok((ParticipantClass::UntrustedVtc, CallKind::Endpoint))
    }

    /// Whether `source` is in one of the PSTN trunk networks (its calls are class `pstn`, over
    /// SIP or H.323).
    pub(super) fn is_pstn_trunk(&self, source: std::net::IpAddr) -> bool {
        self.config
            .pstn_trunks
            .iter()
            .any(|net| net.contains(&source))
    }

    /// Checks a digest answer to one of our challenges in `realm` against the HA1s (MD5,
    /// SHA-256) of the credential it names: a nonce expired, unknown or replayed (a captured
    /// INVITE sent again) gets a fresh challenge (`Err`), which only the holder of the password
    /// can answer; otherwise whether the answer is right, a right one spending its nonce count.
    pub(super) fn check_digest(
        &mut self,
        now: Instant,
        answer: &DigestResponse,
        realm: &str,
        (md5, sha): (&str, &str),
    ) -> Result<bool, Refusal> {
        if !self.nonces.is_usable(now, answer) {
            return Err(self.challenge(now, realm, true));
        }
        let right = answer.verify("INVITE", md5, sha);
        if right {
            self.nonces.accepted(answer);
        }
        Ok(right)
    }

    pub(super) fn challenge(&mut self, now: Instant, realm: &str, stale: bool) -> Refusal {
        let nonce = format!("{:032x}", self.rng.random::<u128>());
        let nonce = self.nonces.issue(now, nonce);
        Refusal::new(401, "Unauthorized")
            .with(header("WWW-Authenticate"), challenge(realm, &nonce, stale))
    }

    /// Sends the 200 (with our answer, or our offer when the INVITE had none), starts media and
    /// moves the call to its target.
    pub(super) fn answer(&mut self, now: Instant, id: CallId, target: Target) {
        let contact = self.contact_for(id);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(uas) = &call.uas else {
            return;
        };
        self.ringing.remove(&uas.key);
        let contact_uri_text = contact
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned();
        let dialog = match Dialog::uas(&uas.invite, &uas.local_tag, &contact_uri_text) {
            Ok(d) => d,
            Err(e) => {
                tracing::info!(call = %id, error = %e, "cannot form a dialog");
                let (invite_key, invite, tag) =
                    (uas.key.clone(), uas.invite.clone(), uas.local_tag.clone());
                self.remove_call(now, id);
                let response = self
                    .response(&invite, 400, Some(&tag))
                    .with_reason(format!("Bad Request - {e}"));
                self.respond(now, &invite_key, response);
                return;
            }
        };
        self.dialogs.insert(dialog.id().clone(), id);
        call.dialog = Some(dialog);
        self.metrics
            .call_setup_seconds
            .observe(now.saturating_duration_since(call.invited_at).as_secs_f64());
        let mut ok = Message::response_to(&uas.invite, 200, Some(&uas.local_tag));
        // A UAS copies Record-Route into the 2xx (RFC 3261 §12.1.1) so proxies stay on the path.
        for route in uas.invite.headers.get_all(&HeaderName::RECORD_ROUTE) {
            ok.headers.push(HeaderName::RECORD_ROUTE, route);
        }
        let ok = ok
            .with_header(HeaderName::CONTACT, contact)
            .with_header(HeaderName::ALLOW, super::ALLOW)
            .with_header(HeaderName::SUPPORTED, super::SUPPORTED)
            .with_header(HeaderName::SERVER, self.config.user_agent.clone())
            .with_body("application/sdp", call.local_sdp.to_string().into_bytes());
        let key = uas.key.clone();
        let ok = self.arm_session_timer(now, id, ok);
        self.respond(now, &key, ok);
        self.place_answered(now, id, target);
    }

    /// An answered call (SIP 200 sent, or H.323 media settled): its media start and it moves to
    /// the entry queue or into its meeting (through the lobby).
    pub(super) fn place_answered(&mut self, now: Instant, id: CallId, target: Target) {
        self.start_media(id);
        match target {
            Target::EntryQueue => {
                if let Some(call) = self.calls.get_mut(&id) {
                    call.phase = Phase::EntryQueue {
                        digits: String::new(),
                        failures: 0,
                        deadline: now + self.config.entry_queue_timeout,
                    };
                }
                self.out.push_back(CoreOutput::PlayPrompt {
                    call: id,
                    prompt: Prompt::EnterConferenceId,
                });
                self.show_slate(id);
            }
            Target::Meeting(key) => self.enter_meeting(now, id, key),
        }
    }
}

/// The user part of a SIP URI (`sip:board@acme.example` -> `board`).
pub(super) fn uri_user(uri: &str) -> Option<String> {
    let rest = uri.split_once(':')?.1;
    let (user, _) = rest.split_once('@')?;
    let user = user.split(';').next().unwrap_or(user);
    (!user.is_empty()).then(|| user.to_owned())
}

/// Fresh SRTP master keys from the thread's cryptographically secure generator, seeded by the
/// operating system (never the core's seeded generator, which tests make predictable).
fn draw_srtp_keys() -> LocalSrtpKeys {
    let mut keys = LocalSrtpKeys {
        audio: [0; MAX_MASTER_LEN],
        video: [0; MAX_MASTER_LEN],
    };
    let mut rng = rand::rng();
    rng.fill(&mut keys.audio);
    rng.fill(&mut keys.video);
    keys
}
