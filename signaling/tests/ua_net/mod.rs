//! A simulated UDP network for [`signaling::ua::UserAgent`]s on a virtual clock, in the style of
//! str0m's `tests/common.rs`: nodes (agents, or a scripted far end built from
//! `signaling::sip` messages) exchange datagrams with a fixed latency through a link that drops
//! what a filter says; time jumps to the next delivery or timer, never sleeps.

// One arbitrary origin; after it, time moves only by what the network steps.
#![allow(clippy::disallowed_methods)]
#![allow(dead_code)] // Each test binary uses part of the harness.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use signaling::sip::Message;
use signaling::ua::{UaConfig, UaEvent, UserAgent};

/// One-way latency of the link.
pub const LATENCY: Duration = Duration::from_millis(20);

/// A datagram on the wire.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// Sender.
    pub from: SocketAddr,
    /// Receiver.
    pub to: SocketAddr,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// When it arrives.
    pub at: Instant,
}

impl Datagram {
    /// The first line, for filters and failure messages.
    pub fn start_line(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        text.lines().next().unwrap_or_default().to_owned()
    }

    /// The CSeq method of the message (`INVITE`, `BYE`...), for filters.
    pub fn cseq_method(&self) -> String {
        Message::parse(&self.bytes)
            .ok()
            .and_then(|m| m.cseq().ok())
            .map(|c| c.method.to_string())
            .unwrap_or_default()
    }
}

/// A far end written by the test: given each message it receives, the messages it answers
/// with (sent back to the sender).
pub type Script = Box<dyn FnMut(&Message) -> Vec<Message>>;

/// What sits at an address.
pub enum Node {
    /// A user agent.
    Ua(Box<UserAgent>),
    /// A scripted far end.
    Script(Script),
}

/// Decides which datagrams the link loses (true: drop).
pub type Filter = Box<dyn FnMut(&Datagram) -> bool>;

/// The network: node 0 and node 1 (and the clock).
pub struct Net {
    /// The virtual clock.
    pub now: Instant,
    /// The origin of the clock.
    pub t0: Instant,
    addrs: Vec<SocketAddr>,
    nodes: Vec<Node>,
    /// Every event each node's agent emitted, in order.
    pub events: Vec<Vec<UaEvent>>,
    wire: Vec<Datagram>,
    /// Every datagram sent (dropped or not), in order.
    pub sent: Vec<Datagram>,
    /// How many datagrams the link dropped.
    pub dropped: usize,
    drop: Filter,
}

/// Node addresses.
pub fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 10 + i as u8], 5060))
}

/// An agent at node `i`'s address.
pub fn agent(i: usize, user: &str) -> UserAgent {
    UserAgent::new(UaConfig::new(addr(i), user, 1000 + i as u64))
}

/// An agent at node `i` with a configuration changed by `f`.
pub fn agent_with(i: usize, user: &str, f: impl FnOnce(&mut UaConfig)) -> UserAgent {
    let mut config = UaConfig::new(addr(i), user, 1000 + i as u64);
    f(&mut config);
    UserAgent::new(config)
}

/// A pseudo-random loss filter: drops each datagram with probability `permille`/1000, from a
/// seeded generator (so a failing seed can be replayed).
pub fn random_loss(seed: u64, permille: u64) -> Filter {
    let mut state = seed;
    Box::new(move |_| {
        // SplitMix64: well spread even from small seeds.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % 1000 < permille
    })
}

/// Drops the first datagram whose start line starts with each of `prefixes` (once each).
pub fn drop_first(prefixes: &[&str]) -> Filter {
    let mut left: Vec<String> = prefixes.iter().map(|p| (*p).to_owned()).collect();
    Box::new(move |d| {
        let line = d.start_line();
        match left.iter().position(|p| line.starts_with(p.as_str())) {
            Some(i) => {
                left.remove(i);
                true
            }
            None => false,
        }
    })
}

impl Net {
    /// Two nodes on a perfect link.
    pub fn new(a: Node, b: Node) -> Net {
        let t0 = Instant::now();
        Net {
            now: t0,
            t0,
            addrs: vec![addr(0), addr(1)],
            nodes: vec![a, b],
            events: vec![Vec::new(), Vec::new()],
            wire: Vec::new(),
            sent: Vec::new(),
            dropped: 0,
            drop: Box::new(|_| false),
        }
    }

    /// Two agents on a perfect link.
    pub fn pair(a: UserAgent, b: UserAgent) -> Net {
        Net::new(Node::Ua(Box::new(a)), Node::Ua(Box::new(b)))
    }

    /// Replaces the loss filter.
    pub fn set_filter(&mut self, filter: Filter) {
        self.drop = filter;
    }

    /// The agent at node `i` (panics for a scripted node: a test bug).
    pub fn ua(&mut self, i: usize) -> &mut UserAgent {
        match &mut self.nodes[i] {
            Node::Ua(ua) => ua,
            Node::Script(_) => panic!("node {i} is scripted"),
        }
    }

    fn put(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        let d = Datagram {
            from,
            to,
            bytes,
            at: self.now + LATENCY,
        };
        self.sent.push(d.clone());
        if (self.drop)(&d) {
            self.dropped += 1;
        } else {
            self.wire.push(d);
        }
    }

    /// Moves every agent's transmissions onto the wire and its events into [`Net::events`].
    pub fn flush(&mut self) {
        for i in 0..self.nodes.len() {
            let from = self.addrs[i];
            let mut out = Vec::new();
            if let Node::Ua(ua) = &mut self.nodes[i] {
                while let Some(t) = ua.poll_transmit() {
                    out.push((t.to, t.bytes));
                }
                while let Some(e) = ua.poll_event() {
                    self.events[i].push(e);
                }
            }
            for (to, bytes) in out {
                self.put(from, to, bytes);
            }
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        let deliveries = self.wire.iter().map(|d| d.at);
        let timers = self.nodes.iter().filter_map(|n| match n {
            Node::Ua(ua) => ua.poll_timeout(),
            Node::Script(_) => None,
        });
        deliveries.chain(timers).min()
    }

    /// Jumps to the next delivery or timer and runs it. False when nothing is left to happen.
    pub fn step(&mut self) -> bool {
        self.flush();
        let Some(at) = self.next_wake() else {
            return false;
        };
        self.now = self.now.max(at);
        let now = self.now;
        let (due, later): (Vec<_>, Vec<_>) = self.wire.drain(..).partition(|d| d.at <= now);
        self.wire = later;
        for d in due {
            let Some(i) = self.addrs.iter().position(|a| *a == d.to) else {
                continue;
            };
            let mut replies = Vec::new();
            match &mut self.nodes[i] {
                Node::Ua(ua) => {
                    ua.handle_datagram(now, d.from, &d.bytes)
                        .expect("the harness only carries SIP");
                }
                Node::Script(script) => {
                    let message = Message::parse(&d.bytes).expect("the agent sends valid SIP");
                    replies = script(&message);
                }
            }
            for reply in replies {
                self.put(d.to, d.from, reply.to_bytes());
            }
        }
        for node in &mut self.nodes {
            if let Node::Ua(ua) = node {
                if ua.poll_timeout().is_some_and(|t| t <= now) {
                    ua.handle_timeout(now);
                }
            }
        }
        self.flush();
        true
    }

    /// Runs until virtual time `d` from now has passed (or nothing is left to happen).
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.next_wake().is_some_and(|t| t <= end) {
            self.step();
        }
        self.now = self.now.max(end);
    }

    /// Runs until node `i` emits an event matching `pred` (returned; events from before the call
    /// do not count), failing the test after `limit` of virtual time.
    pub fn run_until(
        &mut self,
        i: usize,
        limit: Duration,
        pred: impl Fn(&UaEvent) -> bool,
    ) -> UaEvent {
        let end = self.now + limit;
        self.flush();
        let from = self.events[i].len();
        let seen = |net: &Net| net.events[i][from..].iter().find(|e| pred(e)).cloned();
        loop {
            if let Some(e) = seen(self) {
                return e;
            }
            if self.next_wake().is_none_or(|t| t > end) {
                panic!(
                    "node {i}: no matching event within {limit:?}; events: {:#?}\nwire: {:#?}",
                    self.events,
                    self.sent
                        .iter()
                        .map(Datagram::start_line)
                        .collect::<Vec<_>>()
                );
            }
            self.step();
        }
    }

    /// How many datagrams were sent whose start line starts with `prefix`.
    pub fn count_sent(&self, prefix: &str) -> usize {
        self.sent
            .iter()
            .filter(|d| d.start_line().starts_with(prefix))
            .count()
    }
}
