//! SIP dialogs (RFC 3261 §12): the state two user agents share after an INVITE is answered,
//! and the requests sent within it (BYE, INFO, re-INVITE).
//!
//! Owns the dialog identifiers, CSeq spaces, remote target and route set. It must not own
//! transactions or timers (see [`crate::transaction`]) nor decide anything about calls.

use crate::sip::{header::split_list, HeaderName, Message, Method, NameAddr, SipError, Via};

/// Refusals of in-dialog requests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// The request that would create the dialog lacks something (From tag, Contact...).
    #[error("cannot form a dialog: {0}")]
    Incomplete(&'static str),
    /// An in-dialog request with a CSeq not above the last one (RFC 3261 §12.2.2: answer 500).
    #[error("CSeq {got} is not above {last}")]
    CSeqOutOfOrder {
        /// The last remote CSeq seen.
        last: u32,
        /// The CSeq received.
        got: u32,
    },
    /// A header failed to parse.
    #[error(transparent)]
    Sip(#[from] SipError),
}

/// Identifies a dialog: Call-ID and the two tags, from our side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: String,
    /// Our tag (To tag on requests we receive).
    pub local_tag: String,
    /// Their tag (From tag on requests we receive).
    pub remote_tag: String,
}

impl DialogId {
    /// The id a request received from the remote side names (From tag = remote, To tag = local).
    /// `None` for requests outside any dialog (no To tag).
    pub fn of_incoming(request: &Message) -> Option<DialogId> {
        Some(DialogId {
            call_id: request.call_id().ok()?.to_owned(),
            local_tag: request.to().ok()?.tag()?.to_owned(),
            remote_tag: request.from().ok()?.tag()?.to_owned(),
        })
    }
}

/// One dialog, as either side sees it: the side that answered the INVITE ([`Dialog::uas`]) or the
/// side that sent it ([`Dialog::uac`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    id: DialogId,
    local: NameAddr,
    remote: NameAddr,
    remote_target: String,
    route_set: Vec<String>,
    local_seq: u32,
    /// The last remote CSeq; `None` until the remote side sends a request (a UAC's dialog starts
    /// with an empty remote sequence number, §12.1.2).
    remote_seq: Option<u32>,
    local_contact: String,
}

impl Dialog {
    /// The dialog an answered INVITE creates at the UAS (§12.1.1): `local_tag` is the To tag of
    /// our 2xx, `local_contact` the Contact URI we put in it.
    pub fn uas(
        invite: &Message,
        local_tag: &str,
        local_contact: &str,
    ) -> Result<Dialog, DialogError> {
        let from = invite.from()?;
        let mut local = invite.to()?;
        let remote_tag = from
            .tag()
            .ok_or(DialogError::Incomplete("From has no tag"))?;
        let contact = invite
            .contact()?
            .into_iter()
            .next()
            .ok_or(DialogError::Incomplete("no Contact"))?;
        local.set_tag(local_tag);
        let route_set = invite
            .headers
            .get_all(&HeaderName::RECORD_ROUTE)
            .flat_map(split_list)
            .map(|r| r.trim().to_owned())
            .collect();
        Ok(Dialog {
            id: DialogId {
                call_id: invite.call_id()?.to_owned(),
                local_tag: local_tag.to_owned(),
                remote_tag: remote_tag.to_owned(),
            },
            local,
            remote: from,
            remote_target: contact.uri,
            route_set,
            local_seq: 0,
            remote_seq: Some(invite.cseq()?.seq),
            local_contact: local_contact.to_owned(),
        })
    }

    /// The dialog a 2xx (or tagged 1xx) to our INVITE creates at the UAC (§12.1.2): the route set
    /// is the response's Record-Route in reverse order, the remote target its Contact, the local
    /// CSeq the INVITE's. `local_contact` is the Contact URI the INVITE carried.
    pub fn uac(
        invite: &Message,
        response: &Message,
        local_contact: &str,
    ) -> Result<Dialog, DialogError> {
        let local = invite.from()?;
        let remote = response.to()?;
        let local_tag = local
            .tag()
            .ok_or(DialogError::Incomplete("From has no tag"))?
            .to_owned();
        let remote_tag = remote
            .tag()
            .ok_or(DialogError::Incomplete("To has no tag"))?
            .to_owned();
        let contact = response
            .contact()?
            .into_iter()
            .next()
            .ok_or(DialogError::Incomplete("no Contact"))?;
        let mut route_set: Vec<String> = response
            .headers
            .get_all(&HeaderName::RECORD_ROUTE)
            .flat_map(split_list)
            .map(|r| r.trim().to_owned())
            .collect();
        route_set.reverse();
        Ok(Dialog {
            id: DialogId {
                call_id: invite.call_id()?.to_owned(),
                local_tag,
                remote_tag,
            },
            local,
            remote,
            remote_target: contact.uri,
            route_set,
            local_seq: invite.cseq()?.seq,
            remote_seq: None,
            local_contact: local_contact.to_owned(),
        })
    }

    /// The local CSeq number of the last request built by [`request`](Self::request) (for a UAC,
    /// the INVITE's until then).
    pub fn local_seq(&self) -> u32 {
        self.local_seq
    }

    /// The dialog's id.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// The remote party as it named itself (From of the INVITE), with its tag.
    pub fn remote(&self) -> &NameAddr {
        &self.remote
    }

    /// Where in-dialog requests are addressed (the remote Contact).
    pub fn remote_target(&self) -> &str {
        &self.remote_target
    }

    /// Accepts an in-dialog request from the remote side: its CSeq must rise (ACK and CANCEL
    /// reuse the INVITE's). A target refresh (re-INVITE, UPDATE) updates the remote target.
    pub fn on_request(&mut self, request: &Message) -> Result<(), DialogError> {
        let cseq = request.cseq()?;
        if matches!(cseq.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        if let Some(last) = self.remote_seq.filter(|last| cseq.seq <= *last) {
            return Err(DialogError::CSeqOutOfOrder {
                last,
                got: cseq.seq,
            });
        }
        self.remote_seq = Some(cseq.seq);
        if matches!(cseq.method, Method::Invite | Method::Update) {
            if let Some(contact) = request.contact()?.into_iter().next() {
                self.remote_target = contact.uri;
            }
        }
        Ok(())
    }

    /// A new request within the dialog (BYE, INFO, re-INVITE) with the next local CSeq and the
    /// given top Via (whose branch starts a new client transaction).
    pub fn request(&mut self, method: Method, via: &Via) -> Message {
        let seq = self.next_local_seq();
        self.build(method, seq, via)
    }

    /// Takes the next local CSeq number (for a request resent with credentials, which needs a
    /// new one, RFC 3261 §22.2).
    pub fn next_local_seq(&mut self) -> u32 {
        self.local_seq = self.local_seq.wrapping_add(1);
        self.local_seq
    }

    /// The ACK of a 2xx to the INVITE with CSeq number `invite_seq` (§13.2.2.4): an in-dialog
    /// request of its own (new branch) that reuses the INVITE's CSeq number.
    pub fn ack(&self, invite_seq: u32, via: &Via) -> Message {
        self.build(Method::Ack, invite_seq, via)
    }

    fn build(&self, method: Method, seq: u32, via: &Via) -> Message {
        let mut request = Message::request(method.clone(), self.remote_target.clone())
            .with_header(HeaderName::VIA, via.to_string())
            .with_header(HeaderName::MAX_FORWARDS, "70");
        for route in &self.route_set {
            request.headers.push(HeaderName::ROUTE, route.clone());
        }
        request = request
            .with_header(HeaderName::FROM, self.local.to_string())
            .with_header(HeaderName::TO, self.remote.to_string())
            .with_header(HeaderName::CALL_ID, self.id.call_id.clone())
            .with_header(HeaderName::CSEQ, format!("{seq} {method}"))
            .with_header(HeaderName::CONTACT, format!("<{}>", self.local_contact));
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> Message {
        Message::parse(
            b"INVITE sip:1177958860@video.acme.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n\
Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\n\
From: \"Board Room\" <sip:board@acme.example>;tag=r1\r\n\
To: <sip:1177958860@video.acme.example>\r\n\
Call-ID: c1\r\n\
CSeq: 10 INVITE\r\n\
Contact: <sip:board@192.0.2.10:5060>\r\n\
Content-Length: 0\r\n\r\n",
        )
        .unwrap()
    }

    #[test]
    fn uas_dialog_sends_bye_to_the_contact_through_the_route_set() {
        let mut d = Dialog::uas(&invite(), "gw1", "sip:gw@203.0.113.1:5060").unwrap();
        let via = Via::new("UDP", "203.0.113.1", Some(5060), "z9hG4bKbye");
        let bye = d.request(Method::Bye, &via);
        assert_eq!(bye.request_uri(), Some("sip:board@192.0.2.10:5060"));
        assert_eq!(bye.from().unwrap().tag(), Some("gw1"));
        assert_eq!(bye.to().unwrap().tag(), Some("r1"));
        assert_eq!(bye.cseq().unwrap().seq, 1);
        let routes: Vec<_> = bye.headers.get_all(&HeaderName::ROUTE).collect();
        assert_eq!(routes, ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]);
        let again = Message::parse(&bye.to_bytes()).unwrap();
        assert_eq!(again, bye);
        assert_eq!(d.request(Method::Info, &via).cseq().unwrap().seq, 2);
    }

    #[test]
    fn in_dialog_cseq_must_rise_and_reinvite_refreshes_target() {
        let mut d = Dialog::uas(&invite(), "gw1", "sip:gw@203.0.113.1").unwrap();
        let mut reinvite = invite();
        reinvite.headers.set(HeaderName::CSEQ, "11 INVITE");
        reinvite
            .headers
            .set(HeaderName::CONTACT, "<sip:board@192.0.2.99:5060>");
        d.on_request(&reinvite).unwrap();
        assert_eq!(d.remote_target(), "sip:board@192.0.2.99:5060");
        assert_eq!(
            d.on_request(&reinvite),
            Err(DialogError::CSeqOutOfOrder { last: 11, got: 11 })
        );
        let mut ack = invite();
        ack.start = crate::sip::StartLine::Request {
            method: Method::Ack,
            uri: "sip:gw".into(),
        };
        ack.headers.set(HeaderName::CSEQ, "10 ACK");
        assert!(d.on_request(&ack).is_ok());
    }

    /// The 200 to [`invite`] back through the same two proxies: the UAS copies the
    /// Record-Route as it received it (p1 nearest the UAS).
    fn answer_200() -> Message {
        Message::response_to(&invite(), 200, Some("gw9"))
            .with_header(
                HeaderName::RECORD_ROUTE,
                "<sip:p1.example;lr>, <sip:p2.example;lr>",
            )
            .with_header(HeaderName::CONTACT, "<sip:gw@203.0.113.1:5060>")
    }

    #[test]
    fn uac_dialog_reverses_record_route_and_acks_with_the_invite_cseq() {
        let mut d = Dialog::uac(&invite(), &answer_200(), "sip:board@192.0.2.10:5060").unwrap();
        assert_eq!(
            (d.id().local_tag.as_str(), d.id().remote_tag.as_str()),
            ("r1", "gw9")
        );
        let via = Via::new("UDP", "192.0.2.10", Some(5060), "z9hG4bKack");
        let ack = d.ack(10, &via);
        assert_eq!(ack.request_uri(), Some("sip:gw@203.0.113.1:5060"));
        assert_eq!(ack.cseq().unwrap().seq, 10);
        assert_eq!(ack.method(), Some(&Method::Ack));
        // The UAC's route set starts at the proxy nearest to it.
        let routes: Vec<_> = ack.headers.get_all(&HeaderName::ROUTE).collect();
        assert_eq!(routes, ["<sip:p2.example;lr>", "<sip:p1.example;lr>"]);
        let bye = d.request(Method::Bye, &via);
        assert_eq!(bye.cseq().unwrap().seq, 11);
        assert_eq!(bye.to().unwrap().tag(), Some("gw9"));
        assert_eq!(bye.from().unwrap().tag(), Some("r1"));
    }

    #[test]
    fn uac_dialog_accepts_any_first_remote_cseq() {
        let mut d = Dialog::uac(&invite(), &answer_200(), "sip:board@192.0.2.10").unwrap();
        let mut bye = invite();
        bye.start = crate::sip::StartLine::Request {
            method: Method::Bye,
            uri: "sip:board@192.0.2.10".into(),
        };
        bye.headers.set(HeaderName::CSEQ, "1 BYE");
        assert!(d.on_request(&bye).is_ok());
        assert!(d.on_request(&bye).is_err());
    }

    #[test]
    fn uac_dialog_needs_a_to_tag_and_contact() {
        let mut untagged = answer_200();
        untagged
            .headers
            .set(HeaderName::TO, "<sip:1177958860@video.acme.example>");
        assert_eq!(
            Dialog::uac(&invite(), &untagged, "sip:a@b"),
            Err(DialogError::Incomplete("To has no tag"))
        );
        let mut no_contact = answer_200();
        no_contact.headers.remove(&HeaderName::CONTACT);
        assert_eq!(
            Dialog::uac(&invite(), &no_contact, "sip:a@b"),
            Err(DialogError::Incomplete("no Contact"))
        );
    }

    #[test]
    fn dialog_id_of_incoming_request_needs_both_tags() {
        let mut bye = invite();
        assert_eq!(DialogId::of_incoming(&bye), None);
        bye.headers.set(
            HeaderName::TO,
            "<sip:1177958860@video.acme.example>;tag=gw1",
        );
        let id = DialogId::of_incoming(&bye).unwrap();
        assert_eq!(
            (id.local_tag.as_str(), id.remote_tag.as_str()),
            ("gw1", "r1")
        );
    }
}
