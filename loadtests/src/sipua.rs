//! The fleet's SIP user agent over UDP, built on the `signaling` crate's message and SDP types:
//! one outgoing call (INVITE with an SDP offer, ACK of the 200, BYE). A reader thread hands
//! responses to the call and answers any request the gateway sends inside the dialog with 200 OK
//! (and re-ACKs retransmitted 200s of the INVITE). Started from the media end-to-end tests' UA
//! (`gateway/tests/media_e2e/ua.rs`), with errors instead of panics and the setup time measured.
//!
//! Owns the signalling of one call; media is the fleet's.

#![allow(clippy::disallowed_methods)] // SIP timers on real time.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use signaling::sdp::SessionDescription;
use signaling::sip::{HeaderName, Message, Method};

/// How long we wait for the final response to the INVITE (the gateway answers at once; this is
/// for a loaded machine).
const INVITE_PATIENCE: Duration = Duration::from_secs(20);
/// RFC 3261 T1: the first retransmission interval of a request over UDP.
const T1: Duration = Duration::from_millis(500);

/// What the gateway's 200 OK said about media.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Where the gateway receives audio RTP.
    pub audio: SocketAddr,
    /// Where it receives video RTP.
    pub video: SocketAddr,
    /// The H.264 payload type of the answer (what the gateway sends with).
    pub video_pt: u8,
}

/// One call from the test UA.
pub struct Ua {
    socket: UdpSocket,
    local: SocketAddr,
    gateway: SocketAddr,
    user: String,
    request_uri: String,
    call_id: String,
    from_tag: String,
    cseq: u32,
    /// The To header of the 200 (with the gateway's tag) and its Contact URI, once answered.
    dialog: Arc<Mutex<Option<DialogState>>>,
    responses: Receiver<Message>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

#[derive(Debug, Clone)]
struct DialogState {
    to: String,
    remote_target: String,
    invite_cseq: u32,
    ack: Vec<u8>,
}

impl Ua {
    /// A UA named `user` (From display name and user part) calling `dialled` at `gateway`.
    pub fn new(gateway: SocketAddr, dialled: &str, user: &str) -> std::io::Result<Ua> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        let local = socket.local_addr()?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let (tx, responses) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let dialog: Arc<Mutex<Option<DialogState>>> = Arc::new(Mutex::new(None));
        let reader = {
            let socket = socket.try_clone()?;
            let stop = stop.clone();
            let dialog = dialog.clone();
            thread::spawn(move || read_loop(&socket, gateway, &stop, &dialog, &tx))
        };
        Ok(Ua {
            socket,
            local,
            gateway,
            user: user.to_owned(),
            request_uri: format!("sip:{dialled}@{}", gateway),
            call_id: format!("{:016x}@tessera-load", rand::random::<u64>()),
            from_tag: format!("{:08x}", rand::random::<u32>()),
            cseq: 0,
            dialog,
            responses,
            stop,
            reader: Some(reader),
        })
    }

    fn branch() -> String {
        format!("z9hG4bK{:016x}", rand::random::<u64>())
    }

    fn base(&mut self, method: Method, uri: &str, cseq: u32) -> Message {
        let from = format!(
            "\"{user}\" <sip:{user}@{local}>;tag={tag}",
            user = self.user,
            local = self.local,
            tag = self.from_tag
        );
        let to = self
            .dialog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|d| d.to.clone())
            .unwrap_or_else(|| format!("<{}>", self.request_uri));
        let method_name = method.as_str().to_owned();
        Message::request(method, uri)
            .with_header(
                HeaderName::VIA,
                format!("SIP/2.0/UDP {};branch={};rport", self.local, Self::branch()),
            )
            .with_header(HeaderName::MAX_FORWARDS, "70")
            .with_header(HeaderName::FROM, from)
            .with_header(HeaderName::TO, to)
            .with_header(HeaderName::CALL_ID, self.call_id.clone())
            .with_header(HeaderName::CSEQ, format!("{cseq} {method_name}"))
            .with_header(
                HeaderName::CONTACT,
                format!("<sip:{}@{}>", self.user, self.local),
            )
            .with_header(HeaderName::USER_AGENT, "tessera-load")
    }

    /// Sends the INVITE with `offer`, waits for the 200 (retransmitting until a provisional
    /// response), ACKs it and returns what its SDP says. Any other final response is an error
    /// naming it.
    pub fn invite(&mut self, offer: &str) -> Result<Answer, String> {
        self.cseq += 1;
        let cseq = self.cseq;
        let uri = self.request_uri.clone();
        let invite = self
            .base(Method::Invite, &uri, cseq)
            .with_body("application/sdp", offer.as_bytes().to_vec())
            .to_bytes();
        self.socket
            .send_to(&invite, self.gateway)
            .map_err(|e| format!("cannot send the INVITE: {e}"))?;
        let deadline = Instant::now() + INVITE_PATIENCE;
        let mut provisional = false;
        let mut next_retransmit = Instant::now() + T1;
        loop {
            let now = Instant::now();
            if now > deadline {
                return Err(format!(
                    "no final response to the INVITE within {INVITE_PATIENCE:?}"
                ));
            }
            if !provisional && now >= next_retransmit {
                let _ = self.socket.send_to(&invite, self.gateway);
                next_retransmit = now + T1;
            }
            let response = match self.responses.recv_timeout(Duration::from_millis(100)) {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Err("UA reader stopped".into()),
            };
            let Some(code) = response.status() else {
                continue;
            };
            if !response
                .cseq()
                .is_ok_and(|c| c.method == Method::Invite && c.seq == cseq)
            {
                continue;
            }
            if code < 200 {
                provisional = true;
                continue;
            }
            if code >= 300 {
                // The transaction layer of a real UA would ACK this; the gateway stops
                // retransmitting after Timer H anyway, and the call counts as failed.
                return Err(format!(
                    "INVITE answered {code} {}:\n{}",
                    response.reason().unwrap_or_default(),
                    String::from_utf8_lossy(&response.to_bytes())
                ));
            }
            return self.answered(&response, cseq);
        }
    }

    fn answered(&mut self, response: &Message, cseq: u32) -> Result<Answer, String> {
        let text = String::from_utf8_lossy(response.body()).into_owned();
        let to = response
            .headers
            .get(&HeaderName::TO)
            .ok_or("200 without To")?
            .to_owned();
        let remote_target = response
            .contact()
            .ok()
            .and_then(|c| c.first().map(|c| c.uri.to_string()))
            .unwrap_or_else(|| self.request_uri.clone());
        // The ACK of a 2xx is its own transaction: new branch, same CSeq number.
        *self.dialog.lock().unwrap_or_else(|e| e.into_inner()) = Some(DialogState {
            to: to.clone(),
            remote_target: remote_target.clone(),
            invite_cseq: cseq,
            ack: Vec::new(),
        });
        let ack = self.base(Method::Ack, &remote_target, cseq).to_bytes();
        if let Some(d) = self
            .dialog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            d.ack = ack.clone();
        }
        let _ = self.socket.send_to(&ack, self.gateway);
        parse_answer(&text).map_err(|e| format!("{e}; the 200's SDP:\n{text}"))
    }

    /// Sends BYE and waits (bounded) for its 200. Returns the final status, or `None` when none
    /// came.
    pub fn bye(&mut self) -> Option<u16> {
        let target = self
            .dialog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()?
            .remote_target
            .clone();
        self.cseq += 1;
        let cseq = self.cseq;
        let bye = self.base(Method::Bye, &target, cseq).to_bytes();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut next_send = Instant::now();
        while Instant::now() < deadline {
            if Instant::now() >= next_send {
                let _ = self.socket.send_to(&bye, self.gateway);
                next_send = Instant::now() + T1;
            }
            if let Ok(response) = self.responses.recv_timeout(Duration::from_millis(100)) {
                let ours = response
                    .cseq()
                    .is_ok_and(|c| c.method == Method::Bye && c.seq == cseq);
                if let (true, Some(code)) = (ours, response.status()) {
                    if code >= 200 {
                        return Some(code);
                    }
                }
            }
        }
        None
    }
}

impl Drop for Ua {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn read_loop(
    socket: &UdpSocket,
    gateway: SocketAddr,
    stop: &AtomicBool,
    dialog: &Mutex<Option<DialogState>>,
    responses: &mpsc::Sender<Message>,
) {
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::SeqCst) {
        let Ok((len, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Ok(message) = Message::parse(&buf[..len]) else {
            continue;
        };
        if message.is_request() {
            // In-dialog requests (OPTIONS, a BYE from the gateway...): accept. ACK gets nothing.
            if message.method() != Some(&Method::Ack) {
                let ok = Message::response_to(&message, 200, None).to_bytes();
                let _ = socket.send_to(&ok, from);
            }
            continue;
        }
        // A retransmitted 200 to our INVITE means our ACK was lost: send it again.
        let reack = dialog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|d| {
                let is_invite_200 = message.status() == Some(200)
                    && message
                        .cseq()
                        .is_ok_and(|c| c.method == Method::Invite && c.seq == d.invite_cseq);
                (is_invite_200 && !d.ack.is_empty()).then(|| d.ack.clone())
            });
        if let Some(ack) = reack {
            let _ = socket.send_to(&ack, gateway);
        }
        if responses.send(message).is_err() {
            return;
        }
    }
}

/// The media addresses and the H.264 payload type of an SDP answer.
pub fn parse_answer(text: &str) -> Result<Answer, String> {
    let sdp = SessionDescription::parse(text).map_err(|e| format!("unparsable SDP: {e}"))?;
    let session_ip = sdp.connection.as_ref().and_then(|c| c.ip());
    let address = |kind: &str| -> Result<(SocketAddr, Option<u8>), String> {
        let m = sdp
            .media
            .iter()
            .find(|m| m.media == kind)
            .ok_or_else(|| format!("no {kind} m-line in the answer"))?;
        if m.port == 0 {
            return Err(format!("the answer rejected {kind} (port 0)"));
        }
        let ip: IpAddr = m
            .connection
            .as_ref()
            .and_then(|c| c.ip())
            .or(session_ip)
            .ok_or_else(|| format!("no c= address for {kind}"))?;
        let pt = m.formats.first().and_then(|f| f.parse().ok());
        Ok((SocketAddr::new(ip, m.port), pt))
    };
    let (audio, _) = address("audio")?;
    let (video, video_pt) = address("video")?;
    Ok(Answer {
        audio,
        video,
        video_pt: video_pt.ok_or("no payload type on the video m-line")?,
    })
}

/// The offer of a VTC with PCMU + telephone-event and H.264 constrained baseline level 3.1
/// (`42e01f`, mode 1) with NACK and PLI, rtcp-mux, its media at the given ports.
pub fn vtc_offer(audio_port: u16, video_port: u16) -> String {
    format!(
        "v=0\r\n\
         o=tessera-load 1 1 IN IP4 127.0.0.1\r\n\
         s=tessera-load\r\n\
         c=IN IP4 127.0.0.1\r\n\
         t=0 0\r\n\
         m=audio {audio_port} RTP/AVP 0 101\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-15\r\n\
         a=rtcp-mux\r\n\
         a=sendrecv\r\n\
         m=video {video_port} RTP/AVP 96\r\n\
         b=AS:2000\r\n\
         a=rtpmap:96 H264/90000\r\n\
         a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\n\
         a=rtcp-fb:96 nack\r\n\
         a=rtcp-fb:96 nack pli\r\n\
         a=rtcp-mux\r\n\
         a=sendrecv\r\n"
    )
}
