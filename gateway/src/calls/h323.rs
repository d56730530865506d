//! The H.323 entry into the call core: a Setup's destination aliases go through the same dial
//! plan, drain and capacity checks, licence check and trust classification (PSTN trunks and the
//! tenant's source-network rules) as a SIP INVITE, and come back as where the call would go or
//! the `h323::call::EndReason` that refuses it (Release Complete with the matching Q.850 cause).
//!
//! With cluster-wide licences (`CoreConfig::cluster_licences`) a routed Setup waits for its
//! lease first (`licence_leases`) and is admitted, or released as over licence, when the answer
//! comes.
//!
//! A routed call is then admitted as one more [`super::Call`] (protocol `h323`: the lobby,
//! licences, roster, drain and metrics are the SIP call's). It waits in `Phase::AwaitingMedia`
//! until the H.323 call machine reports media addresses for both directions, then starts its
//! media and is placed (entry queue or meeting) by the same `place_answered` step as a SIP call.
//! The agreed H.245 media are turned into the SDP offer they are equivalent to and answered by
//! the call's own `SdpSession`, so the media setups come from the one SDP-to-media translation.
//!
//! Owns these decisions only; it must not touch SIP transactions or dialogs, nor H.225.0 or
//! H.245 bytes: the driver's connection task (`server::h323`) runs the `h323` call machine,
//! feeds its events here, and sends Release Complete on [`CoreOutput::H323Release`].

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use h323::call::{EndReason, Event, LocalMedia, MediaPlan};
use h323::media::Codec as H323Codec;
use signaling::sdp::SessionDescription;
use signaling::transaction::{Peer, Transport};
use signaling::{ConferenceId, DialError, DialString, ResolvedDial, Route, TenantKey};

use super::licence_leases::Pending;
use super::media::MediaControls;
use super::{
    Call, CallCore, CallId, CallKind, CoreOutput, DtmfDigit, H323Admit, Phase, Protocol, Target,
};
use crate::directory::{MediaEncryption, TrustedDeviceRule};
use crate::lobby::ParticipantClass;

/// Where a routed H.323 call would go, and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H323Route {
    /// The tenant the alias names.
    pub tenant: TenantKey,
    /// The meeting, or `None` for the tenant's entry queue.
    pub conference: Option<ConferenceId>,
    /// The caller's trust class.
    pub class: ParticipantClass,
    /// How the alias named it (the `route` label of `tessera_calls_total`).
    pub route: Route,
}

/// The refusal for a dial-plan failure: every way of not naming a meeting is "unknown meeting"
/// (unallocated number); a directory that cannot be read is a temporary failure, which
/// `EndReason::Draining` carries (gatewayResources, Q.850 41).
fn dial_refusal(error: &DialError) -> EndReason {
    match error {
        DialError::Lookup(_) => EndReason::Draining,
        DialError::Malformed(_)
        | DialError::NotADialString(_)
        | DialError::UnknownTenant(_)
        | DialError::UnknownConference { .. } => EndReason::UnknownMeeting,
    }
}

/// How much a dial-plan error says: an alias that named a tenant or meeting (which turned out
/// unknown) says more than one that was no dial string at all.
fn specificity(error: &DialError) -> u8 {
    match error {
        DialError::Malformed(_) | DialError::NotADialString(_) => 0,
        DialError::UnknownTenant(_) | DialError::UnknownConference { .. } => 1,
        DialError::Lookup(_) => 2,
    }
}

impl CallCore {
    /// Routes an H.323 Setup from `source` dialling `destination` (its aliases as text, then
    /// the Q.931 called party number): the first alias the dial plan resolves wins. Refusals
    /// are counted in `tessera_calls_refused_total` as the SIP ones are.
    pub fn route_h323(
        &mut self,
        _now: Instant,
        source: SocketAddr,
        destination: &[String],
    ) -> Result<H323Route, EndReason> {
        let decided = self.decide_h323(source, destination);
        match &decided {
            Ok(route) => tracing::info!(%source, tenant = %route.tenant,
                conference = ?route.conference, class = ?route.class, "H.323 call routed"),
            Err((tenant, label, reason)) => {
                tracing::info!(%source, ?destination, ?reason, "H.323 call refused");
                self.metrics
                    .calls_refused_total
                    .with_label_values(&[tenant.as_deref().unwrap_or("-"), label])
                    .inc();
            }
        }
        decided.map_err(|(_, _, reason)| reason)
    }

    /// The decision, with the refusal's tenant (once known) and metric label.
    #[allow(clippy::type_complexity)]
    fn decide_h323(
        &self,
        source: SocketAddr,
        destination: &[String],
    ) -> Result<H323Route, (Option<String>, &'static str, EndReason)> {
        if self.drain_deadline.is_some() {
            return Err((None, "draining", EndReason::Draining));
        }
        if self.overloaded
            || self
                .config
                .max_calls
                .is_some_and(|max| self.calls.len() >= max)
        {
            return Err((None, "capacity", EndReason::Draining));
        }
        let resolved = self
            .resolve_aliases(destination)
            .map_err(|e| (None, "not-found", dial_refusal(&e)))?;
        let tenant = resolved.tenant.clone();
        let with_tenant = |label, reason| (Some(tenant.to_string()), label, reason);
        // Cluster-wide licences are counted by the lease the call waits for once routed
        // (`admit_h323`); this node's own are counted here.
        let licensed = if self.config.cluster_licences {
            self.licensed_record(&tenant).map(|record| record.media)
        } else {
            self.check_licence(&tenant, CallKind::Endpoint)
        };
        let media_policy = licensed.map_err(|refusal| {
            if refusal.code == 486 {
                with_tenant("licence", EndReason::OverLicence)
            } else {
                with_tenant("other", EndReason::Draining)
            }
        })?;
        // H.323 calls here carry no H.235 media security: a tenant that requires encrypted
        // media turns them away, as it does clear-text SIP.
        if media_policy.encryption == MediaEncryption::Required {
            return Err(with_tenant("encryption-required", EndReason::Rejected));
        }
        let class = self
            .h323_class(source, &tenant)
            .map_err(|reason| with_tenant("other", reason))?;
        let conference = match resolved.route {
            Route::EntryQueue => None,
            _ => resolved.conference,
        };
        Ok(H323Route {
            tenant,
            conference,
            class,
            route: resolved.route,
        })
    }

    fn resolve_aliases(&self, destination: &[String]) -> Result<ResolvedDial, DialError> {
        let mut best: Option<DialError> = None;
        for alias in destination {
            match DialString::parse(alias).and_then(|d| d.resolve(self.directory.as_ref())) {
                Ok(resolved) => return Ok(resolved),
                Err(e) => {
                    if best
                        .as_ref()
                        .is_none_or(|b| specificity(&e) > specificity(b))
                    {
                        best = Some(e);
                    }
                }
            }
        }
        Err(best.unwrap_or_else(|| DialError::NotADialString(String::new())))
    }

    /// PSTN trunk, trusted VTC by one of the tenant's source-network rules, or untrusted. URI
    /// patterns and digest credentials are SIP's (H.235 is not required): they never match.
    fn h323_class(
        &self,
        source: SocketAddr,
        tenant: &TenantKey,
    ) -> Result<ParticipantClass, EndReason> {
        if self.is_pstn_trunk(source.ip()) {
            return Ok(ParticipantClass::Pstn);
        }
        let rules = self
            .directory
            .trusted_devices(tenant)
            .map_err(|_| EndReason::Draining)?;
        let trusted = rules
            .iter()
            .any(|d| matches!(&d.rule, TrustedDeviceRule::Cidr(net) if net.contains(&source.ip())));
        Ok(if trusted {
            ParticipantClass::TrustedVtc
        } else {
            ParticipantClass::UntrustedVtc
        })
    }
}

/// How long an admitted H.323 call may take to settle its media (Fast Start answered at once;
/// the H.245 procedures take a few round trips) before it is ended.
const MEDIA_SETTLE_TIME: Duration = Duration::from_secs(30);

/// The video bit rate offered to H.323 callers (kbit/s), as the call machine's default.
const H323_VIDEO_KBPS: u32 = 1920;

/// An admitted H.323 call: its id in the core and where its media are received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H323Admission {
    /// The call.
    pub call: CallId,
    /// Where the gateway receives its audio and video RTP (RTCP one port up).
    pub local: LocalMedia,
}

/// The H.323 end reason for a hang-up the core words as a SIP status.
pub(super) fn release_reason(code: u16) -> EndReason {
    match code {
        503 => EndReason::Draining,
        403 | 603 => EndReason::Rejected,
        404 => EndReason::UnknownMeeting,
        486 => EndReason::OverLicence,
        488 => EndReason::NoCommonCodec,
        _ => EndReason::Normal,
    }
}

impl CallCore {
    /// Routes an H.323 Setup (as [`route_h323`](Self::route_h323)) and admits it: a call with
    /// its licence held and its RTP ports taken, waiting for its media to settle (the driver
    /// then accepts the Setup with `local`). `display` is the caller's Display element.
    ///
    /// With cluster-wide licences the routed Setup first waits for its lease
    /// (`licence_leases`): the admission then comes from [`handle_lease`](Self::handle_lease).
    pub fn admit_h323(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: &[String],
        display: Option<String>,
    ) -> Result<H323Admit, EndReason> {
        let route = self.route_h323(now, source, destination)?;
        if self.config.cluster_licences {
            let record = self
                .licensed_record(&route.tenant)
                .map_err(|_| EndReason::Draining)?;
            let name = format!("h323:{source}");
            let pending = Pending::H323 {
                source,
                route,
                display,
            };
            let ticket = self.ask_lease(pending, &name, CallKind::Endpoint, &record);
            return Ok(H323Admit::AwaitingLease(ticket));
        }
        self.place_h323(now, source, route, display)
            .map(H323Admit::Admitted)
    }

    /// Admits a routed H.323 call holding its licence: its RTP ports, the call waiting for its
    /// media.
    pub(super) fn place_h323(
        &mut self,
        now: Instant,
        source: SocketAddr,
        route: H323Route,
        display: Option<String>,
    ) -> Result<H323Admission, EndReason> {
        let Some(port_base) = self.ports.take() else {
            tracing::warn!(%source, "H.323 call refused: no RTP ports left");
            return Err(EndReason::Draining);
        };
        let id = CallId(self.next_call);
        self.next_call += 1;
        let participant = self.new_participant();
        let target = match &route.conference {
            Some(conference) => Target::Meeting((route.tenant.clone(), conference.clone())),
            None => Target::EntryQueue,
        };
        let mut sdp = self.sdp_session(port_base);
        // Its local SDP is what answers the H.245 media once they settle; until then an offer
        // of what it could receive stands in (never sent anywhere).
        let local_sdp = sdp.create_offer().map_err(|e| {
            tracing::warn!(error = %e, "H.323 call refused: no local media description");
            self.ports.give_back(port_base);
            EndReason::Draining
        })?;
        sdp.cancel_offer();
        let call = Call {
            invited_at: now,
            stats: Arc::default(),
            participant,
            peer: Peer {
                transport: Transport::Tcp,
                addr: source,
            },
            tenant: route.tenant.clone(),
            display_name: display
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| "H.323 caller".to_owned()),
            class: route.class,
            kind: CallKind::Endpoint,
            protocol: Protocol::H323,
            uas: None,
            dialog: None,
            link: None,
            sdp,
            local_sdp,
            answer_in_ack: false,
            negotiated: None,
            port_base,
            media_started: false,
            controls: MediaControls::for_kind(CallKind::Endpoint),
            phase: Phase::AwaitingMedia {
                target,
                deadline: now + MEDIA_SETTLE_TIME,
            },
            session_timer: None,
            tessera: None,
            cluster: false,
        };
        self.insert_call(id, call);
        let route_label = route.route.as_str();
        self.metrics
            .calls_active
            .with_label_values(&[route.tenant.as_str(), Protocol::H323.as_str()])
            .inc();
        self.metrics
            .calls_total
            .with_label_values(&[route.tenant.as_str(), Protocol::H323.as_str(), route_label])
            .inc();
        let ip = self.config.media_ip;
        Ok(H323Admission {
            call: id,
            local: LocalMedia {
                audio: SocketAddr::new(ip, port_base),
                video: SocketAddr::new(ip, port_base + 2),
            },
        })
    }

    /// What an admitted H.323 call's machine reported.
    pub fn handle_h323_event(&mut self, now: Instant, call: CallId, event: Event) {
        match event {
            Event::Media(plan) => self.h323_media(now, call, &plan),
            Event::Dtmf(key) => self.dtmf(now, call, DtmfDigit(key)),
            Event::Ended(reason) => {
                tracing::info!(%call, ?reason, "H.323 call released by the caller");
                self.end_call(now, call, None);
            }
            Event::KeyframeRequested => {
                if self.calls.get(&call).is_some_and(|c| c.media_started) {
                    self.out.push_back(CoreOutput::PeerKeyframeRequest { call });
                }
            }
            Event::Incoming(_) | Event::ConnectH245(_) => {}
        }
        self.pump(now);
    }

    /// The call's media plan changed: once Tessera knows where to send audio (and video, when
    /// a video channel is open), the call is answered into its target.
    fn h323_media(&mut self, now: Instant, id: CallId, plan: &MediaPlan) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Phase::AwaitingMedia { target, .. } = call.phase.clone() else {
            // Media already running are not moved (as for a SIP re-INVITE keeping its ports).
            return;
        };
        let settled = plan.audio_send.is_some_and(|a| a.rtp.is_some())
            && plan.video_send.is_none_or(|v| v.rtp.is_some());
        if !settled {
            return;
        }
        let Some(offer) = equivalent_offer(plan) else {
            return;
        };
        match call.sdp.answer(&offer) {
            Ok((answer, negotiated)) => {
                call.local_sdp = answer;
                call.negotiated = Some(negotiated);
            }
            Err(e) => {
                tracing::info!(call = %id, error = %e, "H.323 media not usable");
                self.end_call(now, id, Some((488, "No common codec")));
                return;
            }
        }
        self.metrics
            .call_setup_seconds
            .observe(now.saturating_duration_since(call.invited_at).as_secs_f64());
        tracing::info!(call = %id, ?plan, "H.323 media settled");
        self.place_answered(now, id, target);
    }
}

/// The SDP offer equivalent to what H.245 agreed: each direction's codec and the caller's RTP
/// address, H.264 as its H.241 profile and level say (single NAL unit packetisation, H.241's
/// default). `None` when Tessera has nowhere to send audio.
fn equivalent_offer(plan: &MediaPlan) -> Option<SessionDescription> {
    let audio = plan.audio_send?;
    let audio_rtp = audio.rtp?;
    let family = |a: SocketAddr| if a.is_ipv4() { "IP4" } else { "IP6" };
    let mut text = format!(
        "v=0\r\no=h323 1 1 IN {} {}\r\ns=-\r\nt=0 0\r\n",
        family(audio_rtp),
        audio_rtp.ip()
    );
    let (pt, rtpmap) = match audio.codec {
        H323Codec::Pcma => (8, "PCMA/8000"),
        H323Codec::G722 => (9, "G722/8000"),
        _ => (0, "PCMU/8000"),
    };
    let _ = write!(
        text,
        "m=audio {} RTP/AVP {pt}\r\nc=IN {} {}\r\na=rtpmap:{pt} {rtpmap}\r\na=sendrecv\r\n",
        audio_rtp.port(),
        family(audio_rtp),
        audio_rtp.ip()
    );
    if let Some((H323Codec::H264 { profile, level }, Some(rtp))) =
        plan.video_send.map(|v| (v.codec, v.rtp))
    {
        let pt = h323::media::H264_PAYLOAD_TYPE;
        let _ = write!(
            text,
            "m=video {} RTP/AVP {pt}\r\nc=IN {} {}\r\nb=AS:{H323_VIDEO_KBPS}\r\n\
             a=rtpmap:{pt} H264/90000\r\n\
             a=fmtp:{pt} profile-level-id={:02x}e0{:02x};packetization-mode=0\r\na=sendrecv\r\n",
            rtp.port(),
            family(rtp),
            rtp.ip(),
            h264_profile_idc(profile),
            h264_level_idc(level),
        );
    }
    SessionDescription::parse(&text).ok()
}

/// The `profile_idc` of an H.241 profile bit array (the bits are 64 Baseline, 32 Main,
/// 16 Extended, 8 High; Baseline when none Tessera knows is set).
fn h264_profile_idc(profile: u8) -> u8 {
    if profile & 8 != 0 {
        100
    } else if profile & 32 != 0 {
        77
    } else {
        66
    }
}

/// The `level_idc` of an H.241 level number (H.241 Table 8-?, 15 for level 1 to 113 for 5.1).
fn h264_level_idc(level: u16) -> u8 {
    const LEVELS: [(u16, u8); 16] = [
        (15, 10),
        (19, 9),
        (22, 11),
        (29, 12),
        (36, 13),
        (43, 20),
        (50, 21),
        (57, 22),
        (64, 30),
        (71, 31),
        (78, 32),
        (85, 40),
        (92, 41),
        (99, 42),
        (106, 50),
        (113, 51),
    ];
    LEVELS
        .iter()
        .rev()
        .find(|(h241, _)| level >= *h241)
        .map_or(10, |(_, idc)| *idc)
}
