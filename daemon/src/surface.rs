//! The OSC front end: UDP and TCP on one port, the address space of
//! DESIGN.md, subscriptions with leases, feedback and meters.
//!
//! Every inbound message is parsed into a typed request
//! (`rackd_protocol::api::Request`) and handled by the [`RackService`]
//! facade, which other front ends share; every hub event becomes feedback
//! queued per client in an [`outbox::Outbox`], so one slow client never holds
//! up another. Bad input gets `/rackd/error` and one log line.
//!
//! - `transport.rs`: the UDP and TCP loops, framing per connection.
//! - `bundle.rs`: bundles, and those held until their time tag (bounded).
//! - `feedback.rs`: hub events and meters to subscribers, lease expiry.
//! - `facade.rs`: the service behind every front end.
//! - `mcu.rs`: Mackie Control surfaces on MIDI ports, another front end.
//! - `meters.rs`: the meter feed every front end streams from.
//! - `http.rs`: the HTTP/WebSocket front end (the page, OSCQuery).

mod bundle;
mod facade;
mod feedback;
pub mod http;
mod log_limit;
pub(crate) mod mcu;
pub(crate) mod meters;
pub(crate) mod outbox;
mod transport;

pub use facade::{RackService, ReplyTo, ServiceError};

use crate::config::StaticSurface;
use ipnet::IpNet;
use outbox::Outbox;
use rackd_protocol::api::{ClientCounts, OscCounts, Reply, Request};
use rackd_protocol::osc::codec;
use rackd_protocol::osc::pattern::Pattern;
use rosc::{OscBundle, OscMessage, OscPacket};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::net::UdpSocket;

/// How long a subscription lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(10);
/// Largest reply we send over UDP (bigger ones need TCP).
const MAX_UDP_REPLY: usize = 60_000;

/// What a reload (SIGHUP) can change without a restart.
#[derive(Debug, Clone)]
pub struct SurfaceSettings {
    /// Client networks allowed.
    pub allow: Vec<IpNet>,
    /// Fixed feedback destinations.
    pub statics: Vec<StaticSurface>,
    /// A TCP connection that sends nothing and subscribes to nothing this long is closed.
    pub idle_timeout: Duration,
}

/// Where feedback for a client goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Dest {
    Udp(SocketAddr),
    Tcp(u64),
}

/// Where a message came from, so replies find their way back.
#[derive(Debug, Clone, Copy)]
struct Peer {
    addr: SocketAddr,
    conn: Option<u64>,
}

struct Subscriber {
    /// Empty: every parameter and snapshot event, no meters.
    patterns: Vec<Pattern>,
    /// None for static surfaces from the config.
    expires: Option<Instant>,
    outbox: Arc<Outbox>,
}

impl Subscriber {
    /// Whether this subscriber gets feedback for `address`.
    fn wants(&self, address: &str) -> bool {
        if self.patterns.is_empty() {
            !address.starts_with(rackd_protocol::api::address::METER_PREFIX)
        } else {
            self.patterns.iter().any(|p| p.matches(address))
        }
    }

    /// Whether it asked for normalized feedback (`A/norm`) explicitly.
    fn wants_exactly(&self, address: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(address))
    }
}

/// Counters for `/rackd/status`, and the resources clients hold.
#[derive(Debug, Default)]
struct Stats {
    messages: AtomicU64,
    bad_packets: AtomicU64,
    rejected: AtomicU64,
    tcp_connections: AtomicUsize,
    /// TCP connections refused (no room).
    refused_tcp: AtomicU64,
    /// Bytes held in TCP framing buffers, all connections together.
    buffered: AtomicUsize,
    /// Bundles waiting for their time tag, and their bytes.
    scheduled: AtomicUsize,
    scheduled_bytes: AtomicUsize,
}

/// The running OSC server.
pub struct Surface {
    service: Arc<RackService>,
    udp: Arc<UdpSocket>,
    local: SocketAddr,
    settings: RwLock<SurfaceSettings>,
    subscribers: Mutex<HashMap<Dest, Subscriber>>,
    connections: Mutex<HashMap<u64, transport::Connection>>,
    next_conn: AtomicU64,
    stats: Stats,
    /// Bundles waiting, and their bytes, per client address.
    scheduled: Mutex<HashMap<std::net::IpAddr, (usize, usize)>>,
    /// Warnings about clients, a few per kind and client at a time.
    log_limit: log_limit::LogLimit,
}

/// Replies to one OSC client, notifications to the subscribers.
struct OscReplyTo {
    surface: Arc<Surface>,
    peer: Peer,
}

impl ReplyTo for OscReplyTo {
    fn reply(&self, reply: Reply) {
        self.surface.reply(self.peer, reply);
    }

    fn broadcast(&self, reply: Reply) {
        // Through the hub, so the subscribers of every front end get it.
        self.surface
            .service
            .hub()
            .notify(crate::hub::Event::Notice(reply));
    }
}

impl Surface {
    /// Binds UDP and TCP on `listen` and starts serving; returns once both are bound.
    pub async fn start(
        listen: SocketAddr,
        settings: SurfaceSettings,
        service: Arc<RackService>,
    ) -> anyhow::Result<Arc<Surface>> {
        let (udp, tcp) = transport::bind_pair(listen).await?;
        let local = udp.local_addr()?;
        let granted = transport::enlarge_receive_buffer(&udp);
        tracing::info!(
            "OSC UDP receive buffer: {} KiB (net.core.rmem_max caps it)",
            granted / 1024
        );
        let surface = Arc::new(Surface {
            service,
            udp: Arc::new(udp),
            local,
            settings: RwLock::new(SurfaceSettings {
                allow: Vec::new(),
                statics: Vec::new(),
                idle_timeout: Duration::from_secs(30),
            }),
            subscribers: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            stats: Stats::default(),
            scheduled: Mutex::new(HashMap::new()),
            log_limit: log_limit::LogLimit::default(),
        });
        surface.reload(settings);
        tokio::spawn(surface.clone().udp_loop());
        tokio::spawn(surface.clone().tcp_loop(tcp));
        tokio::spawn(surface.clone().feedback_loop());
        tokio::spawn(surface.clone().meter_loop());
        tokio::spawn(surface.clone().lease_loop());
        tracing::info!("OSC surfaces on udp+tcp {local}");
        Ok(surface)
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Applies a new allow-list and static surface list.
    pub fn reload(&self, settings: SurfaceSettings) {
        let mut subs = self.lock_subscribers();
        // Drop static surfaces that are gone; add new ones.
        subs.retain(|dest, s| {
            let keep = s.expires.is_some()
                || settings
                    .statics
                    .iter()
                    .any(|st| Dest::Udp(st.address) == *dest);
            if !keep {
                s.outbox.close();
            }
            keep
        });
        for st in &settings.statics {
            let patterns = st
                .patterns
                .iter()
                .filter_map(|p| Pattern::parse(p).ok())
                .collect();
            let dest = Dest::Udp(st.address);
            match subs.get_mut(&dest) {
                Some(s) => {
                    s.patterns = patterns;
                    s.expires = None;
                }
                None => {
                    let outbox = self.udp_writer(st.address);
                    subs.insert(
                        dest,
                        Subscriber {
                            patterns,
                            expires: None,
                            outbox,
                        },
                    );
                }
            }
        }
        drop(subs);
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
        // Whoever the new allow-list no longer admits loses what it holds.
        let mut subs = self.lock_subscribers();
        subs.retain(|dest, s| {
            let keep = match dest {
                Dest::Udp(addr) => s.expires.is_none() || self.admits(addr),
                Dest::Tcp(_) => true,
            };
            if !keep {
                tracing::info!("dropping the subscription of {dest:?}: no longer in [osc] allow");
                s.outbox.close();
            }
            keep
        });
        drop(subs);
        for c in self
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|c| !self.admits(&c.addr))
        {
            tracing::info!(
                "closing the OSC TCP connection from {}: no longer in [osc] allow",
                c.addr
            );
            c.close.notify_one();
        }
    }

    /// The idle timeout for TCP connections now.
    fn idle_timeout(&self) -> Duration {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .idle_timeout
    }

    fn lock_subscribers(&self) -> std::sync::MutexGuard<'_, HashMap<Dest, Subscriber>> {
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the allow-list admits `addr` (no counting, no logging).
    fn admits(&self, addr: &SocketAddr) -> bool {
        let ip = match addr.ip() {
            std::net::IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(std::net::IpAddr::V4)
                .unwrap_or(addr.ip()),
            ip => ip,
        };
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .allow
            .iter()
            .any(|net| net.contains(&ip))
    }

    /// [`Surface::admits`], counting and (now and then) logging refusals.
    fn allowed(&self, addr: &SocketAddr) -> bool {
        let ok = self.admits(addr);
        if !ok {
            let n = self.stats.rejected.fetch_add(1, Ordering::Relaxed);
            // One line for the first and then every 1000th, not one per packet.
            if n % 1000 == 0 {
                tracing::warn!(
                    "ignoring OSC from {addr}: not in [osc] allow ({} so far)",
                    n + 1
                );
            }
        }
        ok
    }

    /// Logs a warning about a client, at most a few per kind and client in
    /// [`log_limit::WINDOW`], with a count of the rest.
    fn log_limited(&self, from: SocketAddr, kind: &'static str, line: impl FnOnce() -> String) {
        self.log_limit.warn(from.ip(), kind, line);
    }

    fn bad_packet(&self, peer: Peer, message: &str) {
        self.stats.bad_packets.fetch_add(1, Ordering::Relaxed);
        self.log_limited(peer.addr, "bad packet", || {
            format!(
                "bad OSC packet from {}: {}",
                peer.addr,
                log_limit::clip(message, 200)
            )
        });
        self.reply(
            peer,
            Reply::Error {
                address: String::new(),
                message: message.into(),
            },
        );
    }

    /// Sends a reply to whoever sent a message.
    fn reply(&self, peer: Peer, reply: Reply) {
        let packet = OscPacket::Message(reply.to_message());
        match peer.conn {
            Some(id) => {
                if let Some(c) = self
                    .connections
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&id)
                {
                    c.outbox.reply(packet);
                }
            }
            None => {
                let bytes = codec::encode(&packet);
                let bytes = if bytes.len() > MAX_UDP_REPLY {
                    let address = match &packet {
                        OscPacket::Message(m) => m.addr.clone(),
                        OscPacket::Bundle(_) => String::new(),
                    };
                    codec::encode(&OscPacket::Message(
                        Reply::Error {
                            address,
                            message:
                                "the reply is too large for UDP; ask over TCP (rackd ctl does)"
                                    .into(),
                        }
                        .to_message(),
                    ))
                } else {
                    bytes
                };
                if let Err(e) = self.udp.try_send_to(&bytes, peer.addr) {
                    tracing::debug!("OSC reply to {} failed: {e}", peer.addr);
                }
            }
        }
    }

    fn handle_packet(
        self: Arc<Self>,
        peer: Peer,
        packet: OscPacket,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            match packet {
                OscPacket::Message(msg) => self.dispatch(peer, msg).await,
                OscPacket::Bundle(bundle) => self.bundle(peer, bundle).await,
            }
        })
    }

    /// One message: parsed, handled, and on failure answered with
    /// `/rackd/error` and logged once.
    async fn dispatch(self: Arc<Self>, peer: Peer, msg: OscMessage) {
        self.stats.messages.fetch_add(1, Ordering::Relaxed);
        let result = match Request::parse(&msg) {
            Ok(request) => self
                .clone()
                .request(peer, request)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.message),
        };
        if let Err(message) = result {
            self.log_limited(peer.addr, "failed message", || {
                format!(
                    "OSC from {}: {}: {}",
                    peer.addr,
                    log_limit::clip(&msg.addr, 80),
                    log_limit::clip(&message, 200)
                )
            });
            self.reply(
                peer,
                Reply::Error {
                    address: msg.addr,
                    message,
                },
            );
        }
    }

    async fn request(self: Arc<Self>, peer: Peer, request: Request) -> Result<(), ServiceError> {
        match request {
            Request::Param {
                address,
                norm,
                value: None,
            } => {
                for reply in self.service.get(&address, norm).await? {
                    self.reply(peer, reply);
                }
                Ok(())
            }
            Request::Param {
                address,
                norm,
                value: Some(value),
            } => {
                let taken = self.service.set(&address, value, norm, peer.addr).await?;
                // The sender learns the value taken: through its feedback if
                // it is subscribed to it, else directly.
                let dest = peer.conn.map(Dest::Tcp).unwrap_or(Dest::Udp(peer.addr));
                for (address, value) in taken {
                    let subscribed = self
                        .lock_subscribers()
                        .get(&dest)
                        .is_some_and(|s| s.wants(&address));
                    if !subscribed {
                        self.reply(peer, Reply::Value { address, value });
                    }
                }
                Ok(())
            }
            Request::Subscribe {
                reply_port,
                patterns,
            } => self.subscribe(peer, reply_port, &patterns).await,
            Request::Unsubscribe { reply_port } => {
                let dest = match (peer.conn, reply_port) {
                    (_, Some(p)) => Dest::Udp(SocketAddr::new(peer.addr.ip(), p)),
                    (Some(id), None) => Dest::Tcp(id),
                    (None, None) => Dest::Udp(peer.addr),
                };
                let mut subs = self.lock_subscribers();
                if subs.get(&dest).is_some_and(|s| s.expires.is_some())
                    && let Some(s) = subs.remove(&dest)
                {
                    s.outbox.close();
                }
                drop(subs);
                self.reply(peer, Reply::Unsubscribed);
                Ok(())
            }
            Request::Ping { args } => {
                self.reply(peer, Reply::Pong(args));
                Ok(())
            }
            Request::Info => {
                let info = self.service.info(&self.local.to_string());
                self.reply(peer, Reply::Info(info));
                Ok(())
            }
            Request::Status => {
                let (clients, osc) = self.counts();
                let status = self.service.status(clients, osc);
                self.reply(peer, Reply::Status(Box::new(status)));
                Ok(())
            }
            other => {
                let to = Arc::new(OscReplyTo {
                    surface: self.clone(),
                    peer,
                });
                self.service.handle(other, peer.addr, to).await
            }
        }
    }

    /// This front end's counters for `/rackd/status`.
    pub(crate) fn counts(&self) -> (ClientCounts, OscCounts) {
        let subs = self.lock_subscribers();
        let clients = ClientCounts {
            subscribers: subs.len(),
            statics: subs.values().filter(|s| s.expires.is_none()).count(),
            tcp_connections: self.stats.tcp_connections.load(Ordering::Relaxed),
        };
        let osc = OscCounts {
            messages: self.stats.messages.load(Ordering::Relaxed),
            bad_packets: self.stats.bad_packets.load(Ordering::Relaxed),
            rejected_not_allowed: self.stats.rejected.load(Ordering::Relaxed),
            feedback_dropped: subs
                .values()
                .map(|s| s.outbox.dropped.load(Ordering::Relaxed))
                .sum(),
            refused_connections: self.stats.refused_tcp.load(Ordering::Relaxed),
            scheduled_bundles: self.stats.scheduled.load(Ordering::Relaxed),
        };
        (clients, osc)
    }

    async fn subscribe(
        &self,
        peer: Peer,
        reply_port: Option<u16>,
        patterns: &[String],
    ) -> Result<(), ServiceError> {
        let patterns: Vec<Pattern> = patterns
            .iter()
            .map(|p| Pattern::parse(p).map_err(|e| format!("pattern {p:?}: {e}")))
            .collect::<Result<_, _>>()?;
        let (dest, outbox) = match (reply_port, peer.conn) {
            (Some(p), _) => (Dest::Udp(SocketAddr::new(peer.addr.ip(), p)), None),
            (None, Some(id)) => (
                Dest::Tcp(id),
                self.connections
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&id)
                    .map(|c| c.outbox.clone()),
            ),
            (None, None) => (Dest::Udp(peer.addr), None),
        };
        let expires = Some(Instant::now() + LEASE);
        let (is_new, outbox) = {
            let mut subs = self.lock_subscribers();
            match subs.get_mut(&dest) {
                Some(s) => {
                    if s.expires.is_some() {
                        s.expires = expires;
                    }
                    if !patterns.is_empty() || s.expires.is_some() {
                        s.patterns = patterns;
                    }
                    (false, s.outbox.clone())
                }
                None => {
                    let outbox = match (dest, outbox) {
                        (Dest::Udp(to), _) => self.udp_writer(to),
                        (Dest::Tcp(_), Some(o)) => o,
                        (Dest::Tcp(_), None) => return Err("connection closed".into()),
                    };
                    subs.insert(
                        dest,
                        Subscriber {
                            patterns,
                            expires,
                            outbox: outbox.clone(),
                        },
                    );
                    (true, outbox)
                }
            }
        };
        let lease_s = LEASE.as_secs() as u32;
        outbox.reply(OscPacket::Message(
            Reply::Subscribed { lease_s }.to_message(),
        ));
        if is_new {
            // A new surface gets the current values it asked for, so its faders match.
            let state = self.service.hub().state().await?;
            let subs = self.lock_subscribers();
            if let Some(s) = subs.get(&dest) {
                for (address, value) in &state.values {
                    if s.wants(address) {
                        let reply = Reply::Value {
                            address: address.clone(),
                            value: value.clone(),
                        };
                        s.outbox
                            .feedback(address, OscPacket::Message(reply.to_message()));
                    }
                }
            }
        }
        Ok(())
    }
}
