//! Dial-out cascade links on the virtual clock: the core dials a bridge through its SIP user
//! agent (digest answer to a 401), the answered link is one cascade participant holding a cascade
//! licence, a refusal or a drop is dialled again after a back-off, and hanging up sends BYE and
//! frees the licence for good.

use super::cascade::{cascades_active, cascades_in_use, link_call, one_cascade_licence};
use super::*;

const BRIDGE: &str = "192.0.2.50:5070";

const BRIDGE_ANSWER: &str =
    "v=0\r\no=rmx 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\nm=video 40002 RTP/AVP 109\r\n\
a=rtpmap:109 H264/90000\r\na=fmtp:109 profile-level-id=42e01f;packetization-mode=1\r\n";

fn bridge_peer() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: BRIDGE.parse().unwrap(),
    }
}

impl Harness {
    /// Asks the core to dial `uri` into the demo meeting.
    fn dial_uri(
        &mut self,
        uri: &str,
        credentials: Option<signaling::ua::Credentials>,
    ) -> Result<AdminReply, AdminError> {
        let reply = self.core.handle_admin(
            self.now,
            AdminCommand::DialCascade {
                tenant: demo::DEMO_TENANT.into(),
                conference: demo::DEMO_CONFERENCE.into(),
                request: DialRequest {
                    uri: uri.into(),
                    display_name: "Paris RMX".into(),
                    credentials,
                },
            },
        );
        self.collect();
        reply
    }

    /// Dials the bridge; the link id.
    fn dial(&mut self, credentials: Option<signaling::ua::Credentials>) -> String {
        match self
            .dial_uri(&format!("sip:meeting@{BRIDGE}"), credentials)
            .unwrap()
        {
            AdminReply::CascadeDialled(id) => id,
            other => panic!("expected a link id, got {other:?}"),
        }
    }

    fn links(&mut self) -> Vec<CascadeLinkView> {
        let reply = self.core.handle_admin(
            self.now,
            AdminCommand::ListCascades {
                tenant: demo::DEMO_TENANT.into(),
                conference: demo::DEMO_CONFERENCE.into(),
            },
        );
        match reply.unwrap() {
            AdminReply::Cascades(links) => links,
            other => panic!("expected links, got {other:?}"),
        }
    }

    fn hang_up(&mut self, id: &str) -> Result<AdminReply, AdminError> {
        let reply = self.core.handle_admin(
            self.now,
            AdminCommand::HangupCascade {
                tenant: demo::DEMO_TENANT.into(),
                conference: demo::DEMO_CONFERENCE.into(),
                id: id.into(),
            },
        );
        self.collect();
        reply
    }

    /// What the bridge says, as bytes from its address.
    fn bridge_says(&mut self, message: &Message) {
        self.core
            .handle_datagram(self.now, &message.to_bytes(), bridge_peer());
        self.collect();
    }

    /// The requests sent with `method`, taken out of `sent`.
    fn requests(&mut self, method: Method) -> Vec<Message> {
        let (wanted, rest) = self
            .take_sent()
            .into_iter()
            .partition(|m| m.method() == Some(&method));
        self.sent = rest;
        wanted
    }

    /// The bridge answers the INVITE 200 with its SDP; the ACK is checked.
    fn bridge_answers(&mut self, invite: &Message) {
        // The ACKs of earlier refusals (the transaction layer's) are not this one.
        self.requests(Method::Ack);
        let ok = Message::response_to(invite, 200, Some("rmx-tag"))
            .with_header(HeaderName::CONTACT, format!("<sip:meeting@{BRIDGE}>"))
            .with_body("application/sdp", BRIDGE_ANSWER.as_bytes().to_vec());
        self.bridge_says(&ok);
        assert_eq!(self.requests(Method::Ack).len(), 1, "the 200 is ACKed");
    }
}

/// A BYE from the bridge within the link's dialog (answered by the gateway's agent).
fn bridge_bye(invite: &Message) -> Message {
    let from = invite.headers.get(&HeaderName::FROM).unwrap();
    let to = invite.headers.get(&HeaderName::TO).unwrap();
    let text = format!(
        "BYE sip:tessera@203.0.113.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {BRIDGE};branch=z9hG4bK-rmx-bye\r\n\
         Max-Forwards: 70\r\n\
         From: {to};tag=rmx-tag\r\n\
         To: {from}\r\n\
         Call-ID: {}\r\n\
         CSeq: 7 BYE\r\n\
         Content-Length: 0\r\n\r\n",
        invite.call_id().unwrap()
    );
    Message::parse(text.as_bytes()).unwrap()
}

#[test]
fn a_dialled_bridge_answering_a_digest_challenge_becomes_one_cascade_participant() {
    let mut h = Harness::with(one_cascade_licence, |_| {});
    let credentials = signaling::ua::Credentials {
        username: "tessera-paris".into(),
        password: "s3cret".into(),
    };
    let id = h.dial(Some(credentials));
    let invites = h.requests(Method::Invite);
    assert_eq!(invites.len(), 1);
    assert_eq!(
        invites[0].request_uri(),
        Some(format!("sip:meeting@{BRIDGE}").as_str())
    );
    assert_eq!(h.links()[0].state, "dialling");

    let challenge = Message::response_to(&invites[0], 401, Some("rmx-challenge")).with_header(
        HeaderName::new("WWW-Authenticate").unwrap(),
        "Digest realm=\"rmx\", nonce=\"abc123\", qop=\"auth\", algorithm=MD5",
    );
    h.bridge_says(&challenge);
    let answered = h.requests(Method::Invite);
    assert_eq!(
        answered.len(),
        1,
        "the challenge is answered with a new INVITE"
    );
    let authorization = answered[0]
        .headers
        .get(&HeaderName::new("Authorization").unwrap())
        .expect("an Authorization header");
    assert!(
        authorization.contains("username=\"tessera-paris\""),
        "{authorization}"
    );

    h.bridge_answers(&answered[0]);
    assert_eq!(cascades_in_use(&h), 1, "the link holds the cascade licence");
    assert_eq!(cascades_active(&h), 1);
    assert_eq!(licences_in_use(&h), 0, "not an endpoint licence");
    let callers = h.callers();
    assert_eq!(callers.len(), 1);
    assert_eq!(callers[0].kind, "cascade");
    assert_eq!(callers[0].display_name, "Paris RMX");
    let links = h.links();
    assert_eq!(links[0].id, id);
    assert_eq!(links[0].state, "up");
    assert_eq!(
        links[0].participant.as_deref(),
        Some(callers[0].id.as_str())
    );
    let started = h.media.iter().find_map(|m| match m {
        CoreOutput::MediaStart { audio, .. } => Some(audio.remote),
        _ => None,
    });
    assert_eq!(started, Some("192.0.2.50:40000".parse().unwrap()));
    let layout = h.media.iter().find_map(|m| match m {
        CoreOutput::MediaControl {
            control: MediaControl::Layout(layout),
            ..
        } => Some(*layout),
        _ => None,
    });
    assert_eq!(
        layout,
        Some(LayoutMode::Cascade),
        "the bridge sees the speaker bare"
    );
}

#[test]
fn hanging_up_a_link_sends_bye_frees_its_licence_and_never_dials_again() {
    let mut h = Harness::with(one_cascade_licence, |_| {});
    let id = h.dial(None);
    let invite = h.requests(Method::Invite).remove(0);
    h.bridge_answers(&invite);
    assert_eq!(cascades_in_use(&h), 1);

    assert_eq!(h.hang_up(&id), Ok(AdminReply::Done));
    let bye = h.requests(Method::Bye);
    assert_eq!(bye.len(), 1, "BYE to the bridge");
    assert_eq!(cascades_in_use(&h), 0, "the licence is free at once");
    assert_eq!(cascades_active(&h), 0);
    assert!(h.callers().is_empty());
    h.bridge_says(&Message::response_to(&bye[0], 200, None));
    assert!(
        h.links().is_empty(),
        "the link is gone once the BYE is answered"
    );
    h.advance(Duration::from_secs(120));
    assert!(h.requests(Method::Invite).is_empty(), "never dialled again");
    assert!(matches!(
        h.hang_up(&id),
        Err(AdminError::UnknownParticipant { .. })
    ));
}

#[test]
fn a_refused_link_is_dialled_again_after_a_doubling_back_off() {
    let mut h = Harness::with(one_cascade_licence, |_| {});
    h.dial(None);
    let invite = h.requests(Method::Invite).remove(0);
    h.bridge_says(&Message::response_to(&invite, 486, Some("busy")));
    let links = h.links();
    assert_eq!(links[0].state, "retrying");
    assert_eq!(links[0].last_error.as_deref(), Some("486 Busy Here"));
    assert_eq!(cascades_in_use(&h), 0, "a refused link holds no licence");

    h.advance(Duration::from_millis(900));
    assert!(
        h.requests(Method::Invite).is_empty(),
        "not before the first second"
    );
    h.advance(Duration::from_millis(200));
    let second = h.requests(Method::Invite);
    assert_eq!(second.len(), 1, "dialled again after 1 s");
    h.bridge_says(&Message::response_to(&second[0], 503, Some("busy")));
    h.advance(Duration::from_millis(1900));
    assert!(
        h.requests(Method::Invite).is_empty(),
        "the second wait is 2 s"
    );
    h.advance(Duration::from_millis(200));
    let third = h.requests(Method::Invite);
    assert_eq!(third.len(), 1);
    h.bridge_answers(&third[0]);
    assert_eq!(h.links()[0].state, "up");
    assert_eq!(
        h.links()[0].failures,
        0,
        "an answered link starts its back-off over"
    );
    assert_eq!(cascades_in_use(&h), 1);
}

#[test]
fn a_link_the_bridge_drops_frees_its_licence_and_is_dialled_again() {
    let mut h = Harness::with(one_cascade_licence, |_| {});
    h.dial(None);
    let invite = h.requests(Method::Invite).remove(0);
    h.bridge_answers(&invite);
    h.bridge_says(&bridge_bye(&invite));
    let ok = h.take_sent();
    assert!(
        ok.iter().any(|m| m.status() == Some(200)),
        "the BYE is answered"
    );
    assert_eq!(cascades_in_use(&h), 0);
    assert!(h.callers().is_empty());
    assert_eq!(h.links()[0].state, "retrying");
    h.advance(Duration::from_millis(1100));
    assert_eq!(h.requests(Method::Invite).len(), 1, "dialled again");
}

#[test]
fn a_link_beyond_the_cascade_licences_is_refused_before_dialling() {
    let mut h = Harness::with(one_cascade_licence, |_| {});
    h.dial(None);
    let invite = h.requests(Method::Invite).remove(0);
    h.bridge_answers(&invite);
    let refused = h.dial_uri("sip:meeting@192.0.2.51", None);
    let Err(AdminError::CascadeLicence(text)) = refused else {
        panic!("expected a licence refusal, got {refused:?}");
    };
    assert_eq!(
        text,
        "cascade licence limit of 1 reached for tenant 12345678"
    );
    assert!(h.requests(Method::Invite).is_empty());
}

#[test]
fn a_bridge_uri_without_an_ip_host_is_refused() {
    let mut h = Harness::with(one_cascade_licence, |_| {});
    let refused = h.dial_uri("sip:meeting@mcu.example.com", None);
    assert!(
        matches!(refused, Err(AdminError::BadCascade(_))),
        "{refused:?}"
    );
}

#[test]
fn a_dialled_bridge_that_sends_no_media_is_hung_up_and_dialled_again() {
    let mut h = Harness::with(one_cascade_licence, |_| {});
    h.dial(None);
    let invite = h.requests(Method::Invite).remove(0);
    h.bridge_answers(&invite);
    let call = link_call(&h);
    h.core.handle_media_event(h.now, call, MediaEvent::Inactive);
    h.collect();
    let bye = h.requests(Method::Bye);
    assert_eq!(bye.len(), 1, "BYE to the vanished bridge");
    assert_eq!(cascades_in_use(&h), 0, "its licence is free");
    // Nobody answers the BYE (the bridge is gone): after Timer F the link waits and dials again.
    h.advance(Duration::from_secs(40));
    assert!(
        !h.requests(Method::Invite).is_empty(),
        "dialled again: {:?}",
        h.links()
    );
}

#[test]
fn removing_a_dialled_links_participant_hangs_the_link_up_for_good() {
    let mut h = Harness::with(one_cascade_licence, |_| {});
    h.dial(None);
    let invite = h.requests(Method::Invite).remove(0);
    h.bridge_answers(&invite);
    let participant = h.callers()[0].id.clone();
    h.core
        .handle_admin(
            h.now,
            AdminCommand::Remove {
                tenant: demo::DEMO_TENANT.into(),
                conference: demo::DEMO_CONFERENCE.into(),
                id: participant,
            },
        )
        .unwrap();
    h.collect();
    let bye = h.requests(Method::Bye);
    assert_eq!(bye.len(), 1);
    assert_eq!(cascades_in_use(&h), 0);
    h.bridge_says(&Message::response_to(&bye[0], 200, None));
    assert!(h.links().is_empty());
    h.advance(Duration::from_secs(120));
    assert!(h.requests(Method::Invite).is_empty(), "never dialled again");
}

// ---------------------------------------------------------------------------------------------
// Cluster-wide licences: a dial-out waits for its cascade licence lease.

use super::cluster_licences::{lease_outcome, leases_asked, released};
use crate::calls::{LeaseAnswer, LeaseOutcome, LeaseTicket};

/// The demo meeting live, one cascade licence, counted cluster-wide.
fn cluster_licensed() -> Harness {
    let mut h = Harness::with(one_cascade_licence, |c| c.cluster_licences = true);
    h.core
        .add_synthetic(h.now, &key(), &conf(), "Ada Lovelace")
        .unwrap();
    h.collect();
    h
}

/// Asks to dial the bridge; it must wait for its lease, with nothing sent yet.
fn dial_waiting(h: &mut Harness) -> (LeaseTicket, String) {
    let reply = h.dial_uri(&format!("sip:meeting@{BRIDGE}"), None);
    let Ok(AdminReply::AwaitingLease(ticket)) = reply else {
        panic!("expected the dial-out to wait for its lease, got {reply:?}");
    };
    assert!(
        h.requests(Method::Invite).is_empty(),
        "no INVITE before the lease"
    );
    let asked = leases_asked(h, CallKind::Cascade);
    assert_eq!(asked.len(), 1);
    assert_eq!((asked[0].0, asked[0].1), (ticket, 1));
    (ticket, asked[0].2.clone())
}

fn dial_answer(
    h: &mut Harness,
    ticket: LeaseTicket,
    answer: LeaseAnswer,
) -> Result<AdminReply, AdminError> {
    match lease_outcome(h, ticket, answer) {
        Some(LeaseOutcome::DialOut(result)) => result,
        other => panic!("expected a dial-out decision, got {other:?}"),
    }
}

#[test]
fn a_dial_out_waits_for_its_cascade_lease_holds_it_while_redialling_and_gives_it_back_when_hung_up()
{
    let mut h = cluster_licensed();
    let (ticket, lease) = dial_waiting(&mut h);
    assert!(
        lease.starts_with("dial-out:12345678/1177958860;"),
        "{lease}"
    );
    let Ok(AdminReply::CascadeDialled(id)) = dial_answer(&mut h, ticket, LeaseAnswer::Admitted)
    else {
        panic!("expected the link dialled");
    };
    let invite = h.requests(Method::Invite).remove(0);
    h.bridge_answers(&invite);
    assert_eq!(h.links()[0].state, "up");
    assert_eq!(cascades_in_use(&h), 1);

    // A drop is dialled again; the link keeps its licence meanwhile.
    h.bridge_says(&bridge_bye(&invite));
    assert_eq!(h.links()[0].state, "retrying");
    h.advance(Duration::from_millis(1100));
    let again = h.requests(Method::Invite);
    assert_eq!(again.len(), 1, "dialled again");
    assert!(
        leases_asked(&mut h, CallKind::Cascade).is_empty(),
        "no second lease"
    );
    h.bridge_answers(&again[0]);
    assert!(released(&h).is_empty());

    assert_eq!(h.hang_up(&id), Ok(AdminReply::Done));
    assert_eq!(released(&h), vec![lease], "given back at once");
    let bye = h.requests(Method::Bye);
    h.bridge_says(&Message::response_to(&bye[0], 200, None));
    assert!(h.links().is_empty());
    assert_eq!(released(&h).len(), 1, "given back once");
}

#[test]
fn a_dial_out_hung_up_while_dialling_gives_its_lease_back_at_once_and_never_joins() {
    let mut h = cluster_licensed();
    let (ticket, lease) = dial_waiting(&mut h);
    let Ok(AdminReply::CascadeDialled(id)) = dial_answer(&mut h, ticket, LeaseAnswer::Admitted)
    else {
        panic!("expected the link dialled");
    };
    let invite = h.requests(Method::Invite).remove(0);
    assert_eq!(h.hang_up(&id), Ok(AdminReply::Done));
    assert_eq!(released(&h), vec![lease]);
    // The bridge answers before it heard of the hang-up: the link hangs up instead of joining.
    h.bridge_answers(&invite);
    assert_eq!(h.requests(Method::Bye).len(), 1);
    assert_eq!(cascades_in_use(&h), 0);
    assert!(h.callers().is_empty());
}

#[test]
fn a_dial_out_the_cluster_finds_full_gets_the_cascade_licence_error_and_is_never_dialled() {
    let mut h = cluster_licensed();
    let (ticket, _) = dial_waiting(&mut h);
    let full = dial_answer(&mut h, ticket, LeaseAnswer::Full);
    assert_eq!(
        full,
        Err(AdminError::CascadeLicence(
            "cascade licence limit of 1 reached for tenant 12345678".into()
        ))
    );
    let (ticket, _) = dial_waiting(&mut h);
    let unavailable = dial_answer(&mut h, ticket, LeaseAnswer::Unavailable);
    assert!(
        matches!(unavailable, Err(AdminError::CascadeLicence(ref why)) if why.contains("unavailable")),
        "{unavailable:?}"
    );
    assert!(h.requests(Method::Invite).is_empty());
    assert!(h.links().is_empty());
    assert!(released(&h).is_empty());
    // What needs no licence is refused at once, without a lease.
    assert!(matches!(
        h.dial_uri("sip:rmx@mcu.example.com", None),
        Err(AdminError::BadCascade(_))
    ));
    assert!(leases_asked(&mut h, CallKind::Cascade).is_empty());
}

#[test]
fn a_dial_out_whose_lease_comes_after_the_drain_began_is_refused_and_gives_it_back() {
    let mut h = cluster_licensed();
    let (ticket, lease) = dial_waiting(&mut h);
    h.core.begin_drain(h.now);
    h.collect();
    let refused = dial_answer(&mut h, ticket, LeaseAnswer::Admitted);
    assert!(
        matches!(refused, Err(AdminError::BadCascade(_))),
        "{refused:?}"
    );
    assert_eq!(released(&h), vec![lease]);
    assert!(h.requests(Method::Invite).is_empty());
}
