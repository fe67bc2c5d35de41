//! The OSC surface server: UDP and TCP on one port, the address space of
//! DESIGN.md, subscriptions with leases, feedback and meters.
//!
//! Every inbound message becomes a hub command; every hub event becomes
//! feedback queued per client in an [`outbox::Outbox`], so one slow client
//! never holds up another. Bad input gets `/rackd/error` and one log line.

pub mod outbox;

use crate::config::StaticSurface;
use crate::engine::EngineControl;
use crate::hub::{Event, HubError, HubHandle, Origin};
use ipnet::IpNet;
use outbox::Outbox;
use rackd_protocol::osc::codec::{self, arg_to_value, value_to_arg};
use rackd_protocol::osc::framing::{self, FrameDecoder, Framing};
use rackd_protocol::osc::pattern::Pattern;
use rackd_protocol::param::Value;
use rosc::{OscBundle, OscMessage, OscPacket, OscType};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// How long a subscription lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(10);
/// Meter stream rate: about 25 Hz.
const METER_PERIOD: Duration = Duration::from_millis(40);
/// Most TCP connections at once.
const MAX_TCP: usize = 64;
/// Farthest a bundle may be scheduled ahead.
const MAX_SCHEDULE: Duration = Duration::from_secs(60);
/// Largest reply we send over UDP (bigger ones need TCP).
const MAX_UDP_REPLY: usize = 60_000;
/// Messages queued per UDP sender before new ones are refused.
const UDP_QUEUE: usize = 4096;
/// A UDP sender's task retires after this long without messages.
const UDP_SENDER_IDLE: Duration = Duration::from_secs(30);
/// Sender tasks kept before retired ones are swept from the map.
const MAX_UDP_SENDERS: usize = 1024;
/// Floor for meter values in dB (silence).
const METER_FLOOR_DB: f32 = -120.0;

/// What a reload (SIGHUP) can change without a restart.
#[derive(Debug, Clone)]
pub struct SurfaceSettings {
    /// Client networks allowed.
    pub allow: Vec<IpNet>,
    /// Fixed feedback destinations.
    pub statics: Vec<StaticSurface>,
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
            !address.starts_with("/meter/")
        } else {
            self.patterns.iter().any(|p| p.matches(address))
        }
    }

    /// Whether it asked for normalized feedback (`A/norm`) explicitly.
    fn wants_exactly(&self, address: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(address))
    }
}

/// Counters for `/rackd/status`.
#[derive(Debug, Default)]
struct Stats {
    messages: AtomicU64,
    bad_packets: AtomicU64,
    rejected: AtomicU64,
    tcp_connections: AtomicUsize,
}

/// The running OSC server.
pub struct Surface {
    hub: HubHandle,
    engine: Arc<EngineControl>,
    udp: Arc<UdpSocket>,
    local: SocketAddr,
    settings: RwLock<SurfaceSettings>,
    subscribers: Mutex<HashMap<Dest, Subscriber>>,
    connections: Mutex<HashMap<u64, Arc<Outbox>>>,
    next_conn: AtomicU64,
    stats: Stats,
    started: Instant,
    backend: &'static str,
    outboard: std::sync::OnceLock<Arc<crate::outboard::Outboard>>,
    printer: crate::print::Printer,
}

impl Surface {
    /// Binds UDP and TCP on `listen` and starts serving; returns once both are bound.
    pub async fn start(
        listen: SocketAddr,
        settings: SurfaceSettings,
        hub: HubHandle,
        engine: Arc<EngineControl>,
        backend: &'static str,
        files: crate::files::FileRoots,
    ) -> anyhow::Result<Arc<Surface>> {
        use anyhow::Context as _;
        let udp = UdpSocket::bind(listen)
            .await
            .with_context(|| format!("cannot bind OSC UDP on {listen}"))?;
        let local = udp.local_addr()?;
        let tcp = TcpListener::bind(local)
            .await
            .with_context(|| format!("cannot bind OSC TCP on {local}"))?;
        let surface = Arc::new(Surface {
            hub,
            engine,
            udp: Arc::new(udp),
            local,
            settings: RwLock::new(SurfaceSettings {
                allow: Vec::new(),
                statics: Vec::new(),
            }),
            subscribers: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            stats: Stats::default(),
            started: Instant::now(),
            backend,
            outboard: std::sync::OnceLock::new(),
            printer: crate::print::Printer::new(files),
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

    /// Hands recalls and device status to the outboard drivers.
    pub fn set_outboard(&self, outboard: Arc<crate::outboard::Outboard>) {
        let _ = self.outboard.set(outboard);
    }

    /// The bound address (useful when listening on port 0).
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
    }

    fn lock_subscribers(&self) -> std::sync::MutexGuard<'_, HashMap<Dest, Subscriber>> {
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn allowed(&self, addr: &SocketAddr) -> bool {
        let ip = match addr.ip() {
            std::net::IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(std::net::IpAddr::V4)
                .unwrap_or(addr.ip()),
            ip => ip,
        };
        let ok = self
            .settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .allow
            .iter()
            .any(|net| net.contains(&ip));
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

    /// A queue plus writer task that sends to a UDP destination.
    fn udp_writer(&self, to: SocketAddr) -> Arc<Outbox> {
        let outbox = Arc::new(Outbox::default());
        let (udp, queue) = (self.udp.clone(), outbox.clone());
        tokio::spawn(async move {
            while let Some(packet) = queue.next().await {
                if let Err(e) = udp.send_to(&codec::encode(&packet), to).await {
                    tracing::debug!("OSC send to {to} failed: {e}");
                }
            }
        });
        outbox
    }

    /// Receives datagrams; each sender's messages are handled in the order
    /// they arrived (a fader sweep must end on its last value), different
    /// senders concurrently.
    async fn udp_loop(self: Arc<Self>) {
        let mut buf = vec![0u8; 65_536];
        let mut senders: HashMap<SocketAddr, mpsc::Sender<OscPacket>> = HashMap::new();
        loop {
            let (len, from) = match self.udp.recv_from(&mut buf).await {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!("OSC UDP receive error: {e}");
                    continue;
                }
            };
            if !self.allowed(&from) {
                continue;
            }
            let peer = Peer {
                addr: from,
                conn: None,
            };
            let packet = match codec::decode(&buf[..len]) {
                Ok(packet) => packet,
                Err(e) => {
                    self.bad_packet(peer, &e.to_string());
                    continue;
                }
            };
            if senders.len() > MAX_UDP_SENDERS {
                senders.retain(|_, tx| !tx.is_closed());
            }
            let mut packet = Some(packet);
            // At most two tries: the sender's task may have just retired.
            for _ in 0..2 {
                let tx = senders
                    .entry(from)
                    .or_insert_with(|| self.clone().udp_sender(peer));
                match tx.try_send(packet.take().expect("packet present")) {
                    Ok(()) => break,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        self.bad_packet(
                            peer,
                            "too many messages queued from this client; message dropped",
                        );
                        break;
                    }
                    Err(mpsc::error::TrySendError::Closed(p)) => {
                        senders.remove(&from);
                        packet = Some(p);
                    }
                }
            }
        }
    }

    /// A task that handles one UDP sender's packets in order; retires when idle.
    fn udp_sender(self: Arc<Self>, peer: Peer) -> mpsc::Sender<OscPacket> {
        let (tx, mut rx) = mpsc::channel::<OscPacket>(UDP_QUEUE);
        tokio::spawn(async move {
            loop {
                match tokio::time::timeout(UDP_SENDER_IDLE, rx.recv()).await {
                    Ok(Some(packet)) => self.clone().handle_packet(peer, packet).await,
                    Ok(None) => return,
                    Err(_) => {
                        // Refuse new packets, then finish what already arrived.
                        rx.close();
                        while let Ok(packet) = rx.try_recv() {
                            self.clone().handle_packet(peer, packet).await;
                        }
                        return;
                    }
                }
            }
        });
        tx
    }

    async fn tcp_loop(self: Arc<Self>, listener: TcpListener) {
        loop {
            let (stream, from) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("OSC TCP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if !self.allowed(&from) {
                continue;
            }
            if self.stats.tcp_connections.load(Ordering::Relaxed) >= MAX_TCP {
                tracing::warn!(
                    "refusing OSC TCP connection from {from}: {MAX_TCP} connections already open"
                );
                continue;
            }
            let _ = stream.set_nodelay(true);
            tokio::spawn(self.clone().tcp_connection(stream, from));
        }
    }

    async fn tcp_connection(self: Arc<Self>, stream: TcpStream, from: SocketAddr) {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        self.stats.tcp_connections.fetch_add(1, Ordering::Relaxed);
        let (mut reader, mut writer) = stream.into_split();
        let mut buf = vec![0u8; 16_384];
        let outbox = Arc::new(Outbox::default());
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, outbox.clone());
        let peer = Peer {
            addr: from,
            conn: Some(id),
        };
        let mut n: usize = reader.read(&mut buf).await.unwrap_or_default();
        // The first byte tells SLIP (OSC 1.1) from length prefix (OSC 1.0).
        let framing = Framing::detect(buf[0]);
        let queue = outbox.clone();
        let writer_task = tokio::spawn(async move {
            while let Some(packet) = queue.next().await {
                let bytes = framing::encode(framing, &codec::encode(&packet));
                if writer.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            let _ = writer.shutdown().await;
        });
        let mut decoder = FrameDecoder::new(framing, codec::MAX_STREAM_PACKET);
        'read: while n > 0 {
            decoder.push(&buf[..n]);
            while let Some(frame) = decoder.next_frame() {
                match frame {
                    Ok(bytes) => match codec::decode_with_limit(&bytes, codec::MAX_STREAM_PACKET) {
                        Ok(packet) => self.clone().handle_packet(peer, packet).await,
                        Err(e) => self.bad_packet(peer, &e.to_string()),
                    },
                    Err(e) => {
                        self.bad_packet(peer, &e.to_string());
                        if e.is_fatal() {
                            break 'read;
                        }
                    }
                }
            }
            n = reader.read(&mut buf).await.unwrap_or_default();
        }
        // Give queued replies (an error before a fatal close) a moment to go out.
        tokio::time::sleep(Duration::from_millis(50)).await;
        outbox.close();
        let _ = writer_task.await;
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if let Some(s) = self.lock_subscribers().remove(&Dest::Tcp(id)) {
            s.outbox.close();
        }
        self.stats.tcp_connections.fetch_sub(1, Ordering::Relaxed);
    }

    fn bad_packet(&self, peer: Peer, message: &str) {
        self.stats.bad_packets.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("bad OSC packet from {}: {message}", peer.addr);
        self.reply(peer, error_message("", message));
    }

    /// Sends a reply to whoever sent a message.
    fn reply(&self, peer: Peer, packet: OscPacket) {
        match peer.conn {
            Some(id) => {
                if let Some(o) = self
                    .connections
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&id)
                {
                    o.reply(packet);
                }
            }
            None => {
                let bytes = codec::encode(&packet);
                let bytes = if bytes.len() > MAX_UDP_REPLY {
                    codec::encode(&error_message(
                        &packet_address(&packet),
                        "the reply is too large for UDP; ask over TCP (rackd ctl does)",
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

    async fn bundle(self: Arc<Self>, peer: Peer, bundle: OscBundle) {
        match codec::due_in(bundle.timetag, SystemTime::now()) {
            None => {
                for p in bundle.content {
                    self.clone().handle_packet(peer, p).await;
                }
            }
            Some(delay) if delay > MAX_SCHEDULE => {
                self.bad_packet(
                    peer,
                    &format!(
                        "bundle time tag is {}s ahead; the limit is {}s",
                        delay.as_secs(),
                        MAX_SCHEDULE.as_secs()
                    ),
                );
            }
            Some(delay) => {
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    for p in bundle.content {
                        self.clone().handle_packet(peer, p).await;
                    }
                });
            }
        }
    }

    async fn dispatch(self: Arc<Self>, peer: Peer, msg: OscMessage) {
        self.stats.messages.fetch_add(1, Ordering::Relaxed);
        let addr = msg.addr.clone();
        let result = if addr == "/rackd/print" {
            self.clone().start_print(peer, &msg.args)
        } else if let Some(cmd) = addr.strip_prefix("/rackd/") {
            self.command(peer, cmd, &msg.args).await
        } else if let Some(slot) = addr
            .strip_prefix("/chain/")
            .and_then(|a| a.strip_suffix("/measure"))
        {
            self.measure(peer, slot, &msg.args).await
        } else {
            self.parameter(peer, &addr, &msg.args).await
        };
        if let Err(message) = result {
            tracing::warn!("OSC from {}: {addr}: {message}", peer.addr);
            self.reply(peer, error_message(&addr, &message));
        }
    }

    /// `/chain/<slot>/measure`: the round trip of an insert, measured, stored
    /// in `/chain/<slot>/latency` (so compensation uses it) and reported as
    /// `/chain/<slot>/measured ,iiff samples inverted gain_db confidence_db`.
    async fn measure(&self, peer: Peer, slot: &str, args: &[OscType]) -> Result<(), String> {
        if !args.is_empty() {
            return Err("measure takes no arguments".into());
        }
        let tree = self.hub.tree().clone();
        let index = tree
            .slot_index(slot)
            .ok_or_else(|| format!("no chain slot {slot:?}"))?;
        let engine = self.engine.clone();
        let measured = tokio::task::spawn_blocking(move || engine.measure(index))
            .await
            .map_err(|e| e.to_string())??;
        let latency_address = format!("/chain/{slot}/latency");
        self.hub
            .set(
                &latency_address,
                Value::Int(measured.latency as i64),
                false,
                Origin::Surface(peer.addr),
            )
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(
            "insert {slot}: round trip {} samples{}, return {:+.1} dB",
            measured.latency,
            if measured.inverted { ", inverted" } else { "" },
            measured.gain_db
        );
        let packet = message(
            &format!("/chain/{slot}/measured"),
            vec![
                OscType::Int(measured.latency as i32),
                OscType::Int(measured.inverted as i32),
                OscType::Float(measured.gain_db),
                OscType::Float(measured.confidence_db),
            ],
        );
        self.reply(peer, packet.clone());
        if let OscPacket::Message(m) = packet {
            self.broadcast(&m.addr, m.args);
        }
        Ok(())
    }

    /// `/rackd/print ,sss[i] song input output [bits]`: starts the print pass
    /// and answers at once with `/rackd/print/started`; progress
    /// (`/rackd/print/progress ,sf`) and the end (`/rackd/print/done ,s json`
    /// or `/rackd/error`) follow, to the sender and to subscribers.
    fn start_print(self: Arc<Self>, peer: Peer, args: &[OscType]) -> Result<(), String> {
        let song = str_arg(args, 0, "song")?;
        let input = str_arg(args, 1, "input file")?;
        let output = str_arg(args, 2, "output file")?;
        let mut bits = 24;
        let mut overwrite = false;
        for (i, arg) in args.iter().enumerate().skip(3) {
            match arg {
                OscType::Bool(b) => overwrite = *b,
                OscType::String(s) if s == "overwrite" => overwrite = true,
                a if i == 3 && int_arg(a).is_some() => {
                    bits = int_arg(a).unwrap_or(0);
                    if ![16, 24, 32].contains(&bits) {
                        return Err(format!("bits {bits}: choose 16, 24 or 32"));
                    }
                }
                other => {
                    return Err(format!(
                        "argument {} ({other:?}): after song, input and output come bits \
                         (16, 24 or 32) and \"overwrite\"",
                        i + 1
                    ));
                }
            }
        }
        if self.printer.busy() {
            return Err("a print is already running; cancel it with /rackd/print/cancel".into());
        }
        let req = crate::print::PrintRequest {
            song: song.clone(),
            input,
            output,
            bits: bits as u32,
            overwrite,
        };
        self.reply(
            peer,
            message("/rackd/print/started", vec![OscType::String(song.clone())]),
        );
        tokio::spawn(async move {
            let outboard = self.outboard.get().cloned();
            let progress = |fraction: f32| {
                let args = vec![OscType::String(song.clone()), OscType::Float(fraction)];
                self.reply(peer, message("/rackd/print/progress", args.clone()));
                self.broadcast("/rackd/print/progress", args);
            };
            let result = self
                .printer
                .print(&self.hub, outboard.as_ref(), &self.engine, &req, progress)
                .await;
            match result {
                Ok(report) => {
                    let done = json_reply("/rackd/print/done", &report);
                    self.reply(peer, done.clone());
                    if let OscPacket::Message(m) = done {
                        self.broadcast(&m.addr, m.args);
                    }
                }
                Err(e) => {
                    tracing::warn!("print of {song}: {e}");
                    self.reply(peer, error_message("/rackd/print", &e));
                }
            }
        });
        Ok(())
    }

    /// `/rackd/chain/layout [,s ids...]`: with no argument, the slots now
    /// playing; with slot ids (several strings, or one with spaces or
    /// commas), those slots play in that order and every other slot leaves
    /// the chain. Answers `/rackd/chain/layout ,s...` either way.
    async fn layout(&self, peer: Peer, args: &[OscType]) -> Result<(), String> {
        let tree = self.hub.tree().clone();
        if !args.is_empty() {
            let mut ids: Vec<String> = Vec::new();
            for (i, a) in args.iter().enumerate() {
                let text = text_arg(a).ok_or_else(|| format!("argument {i}: expected slot ids"))?;
                ids.extend(
                    text.split([',', ' '])
                        .filter(|t| !t.is_empty())
                        .map(str::to_string),
                );
            }
            let mut order = Vec::new();
            for id in &ids {
                let slot = tree.slot_index(id).ok_or_else(|| {
                    let known: Vec<&str> = tree.slots().iter().map(|s| s.id.as_str()).collect();
                    format!("no chain slot {id:?}; slots are {}", known.join(", "))
                })?;
                if order.contains(&slot) {
                    return Err(format!("slot {id:?} is listed twice"));
                }
                order.push(slot);
            }
            let mut state = rackd_protocol::state::RackState::default();
            for (slot, cfg) in tree.slots().iter().enumerate() {
                let position = order.iter().position(|&s| s == slot);
                state.values.insert(
                    format!("/chain/{}/active", cfg.id),
                    Value::Int(position.is_some() as i64),
                );
                if let Some(p) = position {
                    state
                        .values
                        .insert(format!("/chain/{}/position", cfg.id), Value::Int(p as i64));
                }
            }
            self.hub
                .apply(state, Origin::Surface(peer.addr))
                .await
                .map_err(|e| e.to_string())?;
        }
        let state = self.hub.state().await.map_err(|e| e.to_string())?;
        let playing = tree
            .layout(&state)
            .into_iter()
            .map(|i| OscType::String(tree.slots()[i].id.clone()))
            .collect();
        self.reply(peer, message("/rackd/chain/layout", playing));
        Ok(())
    }

    /// Set or query `A` or `A/norm`.
    async fn parameter(&self, peer: Peer, addr: &str, args: &[OscType]) -> Result<(), String> {
        let (base, norm) = match addr.strip_suffix("/norm") {
            Some(base) if !base.is_empty() => (base, true),
            _ => (addr, false),
        };
        let tree = self.hub.tree().clone();
        let spec_of = |a: &str| tree.get(a).map(|e| e.spec.clone());
        if args.is_empty() {
            let values = self.hub.get(base).await.map_err(|e| e.to_string())?;
            for (a, v) in values {
                let packet = match (norm, spec_of(&a)) {
                    (true, Some(spec)) => message(
                        &format!("{a}/norm"),
                        vec![OscType::Float(spec.to_norm(&v) as f32)],
                    ),
                    _ => message(&a, vec![value_to_arg(&v)]),
                };
                self.reply(peer, packet);
            }
            return Ok(());
        }
        if args.len() > 1 {
            return Err(format!("expected one value, got {} arguments", args.len()));
        }
        let value = arg_to_value(&args[0])
            .ok_or_else(|| format!("unsupported argument type {:?}", args[0]))?;
        let taken = self
            .hub
            .set(base, value, norm, Origin::Surface(peer.addr))
            .await
            .map_err(|e| e.to_string())?;
        // The sender learns the value taken: through its feedback if it is
        // subscribed to it, else directly.
        let dest = peer.conn.map(Dest::Tcp).unwrap_or(Dest::Udp(peer.addr));
        for (a, v) in taken {
            let subscribed = self
                .lock_subscribers()
                .get(&dest)
                .is_some_and(|s| s.wants(&a));
            if !subscribed {
                self.reply(peer, message(&a, vec![value_to_arg(&v)]));
            }
        }
        Ok(())
    }

    /// `/rackd/...` commands.
    async fn command(&self, peer: Peer, cmd: &str, args: &[OscType]) -> Result<(), String> {
        let hub_err = |e: HubError| e.to_string();
        match cmd {
            "subscribe" => self.subscribe(peer, args).await,
            "chain/layout" => self.layout(peer, args).await,
            "print/cancel" => {
                if !self.printer.cancel() {
                    return Err("no print is running".into());
                }
                self.reply(peer, message("/rackd/print/cancelled", vec![]));
                Ok(())
            }
            "unsubscribe" => {
                let port = args.first().and_then(int_arg);
                let dest = match (peer.conn, port) {
                    (_, Some(p)) => Dest::Udp(SocketAddr::new(peer.addr.ip(), port_of(p)?)),
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
                self.reply(peer, message("/rackd/unsubscribed", vec![]));
                Ok(())
            }
            "snapshot/save" => {
                let song = str_arg(args, 0, "song")?;
                let note = args.get(1).and_then(text_arg).unwrap_or_default();
                // Further strings: this snapshot's recall safes.
                let safes = (2..args.len())
                    .map(|i| str_arg(args, i, "recall safe"))
                    .collect::<Result<Vec<_>, _>>()?;
                let info = self
                    .hub
                    .save_with_safes(&song, &note, &format!("osc:{}", peer.addr), safes)
                    .await
                    .map_err(hub_err)?;
                self.reply(
                    peer,
                    message(
                        "/rackd/snapshot/saved",
                        vec![
                            OscType::String(info.song.to_string()),
                            OscType::Int(info.rev as i32),
                        ],
                    ),
                );
                Ok(())
            }
            "snapshot/recall" => {
                use crate::outboard::recall::{self, Mode};
                let song = str_arg(args, 0, "song")?;
                let (mut rev, mut mode) = (None, Mode::Full);
                for a in &args[1..] {
                    match (int_arg(a), text_arg(a).as_deref()) {
                        (Some(r), _) => {
                            rev = Some(
                                u32::try_from(r)
                                    .ok()
                                    .filter(|r| *r > 0)
                                    .ok_or("revision must be a positive integer")?,
                            )
                        }
                        (_, Some("full")) => mode = Mode::Full,
                        (_, Some("changed")) => mode = Mode::Changed,
                        _ => {
                            return Err(
                                "expected a revision number, \"full\" or \"changed\"".into()
                            );
                        }
                    }
                }
                let report = match self.outboard.get() {
                    Some(o) => recall::recall(&self.hub, o, &song, rev, mode).await,
                    None => self.hub.recall(&song, rev).await,
                }
                .map_err(hub_err)?;
                self.reply(peer, json_reply("/rackd/recall/report", &report));
                Ok(())
            }
            "recall/undo" => {
                let o = self.outboard.get().ok_or("no recall to undo")?;
                let report = crate::outboard::recall::undo(&self.hub, o)
                    .await
                    .map_err(hub_err)?;
                self.reply(peer, json_reply("/rackd/recall/report", &report));
                Ok(())
            }
            "recall/confirm" => {
                let device = str_arg(args, 0, "device")?;
                let o = self.outboard.get().ok_or("no outboard devices")?;
                o.confirm(&device)?;
                let confirmed = message("/rackd/recall/confirmed", vec![OscType::String(device)]);
                self.reply(peer, confirmed.clone());
                if let OscPacket::Message(m) = confirmed {
                    self.broadcast(&m.addr, m.args);
                }
                Ok(())
            }
            "recall/sheet" => {
                let song = str_arg(args, 0, "song (SONG, SONG@REV or current)")?;
                let wanted = self.hub.resolve(&song).await.map_err(hub_err)?;
                let current = self.hub.state().await.map_err(hub_err)?;
                let sheet = crate::outboard::sheet::sheet(
                    self.hub.tree().devices(),
                    &song,
                    &wanted,
                    &current,
                );
                self.reply(peer, json_reply("/rackd/recall/sheet", &sheet));
                Ok(())
            }
            "snapshot/list" => {
                let prefix = args.first().and_then(text_arg).unwrap_or_default();
                let songs = self.hub.list(&prefix).await.map_err(hub_err)?;
                self.reply(peer, json_reply("/rackd/snapshot/list", &songs));
                Ok(())
            }
            "snapshot/history" => {
                let song = str_arg(args, 0, "song")?;
                let history = self.hub.history(&song).await.map_err(hub_err)?;
                self.reply(peer, json_reply("/rackd/snapshot/history", &history));
                Ok(())
            }
            "snapshot/diff" => {
                let a = str_arg(args, 0, "first snapshot (SONG, SONG@REV or current)")?;
                let b = str_arg(args, 1, "second snapshot (SONG, SONG@REV or current)")?;
                let diff = self.hub.diff(&a, &b).await.map_err(hub_err)?;
                self.reply(peer, json_reply("/rackd/snapshot/diff", &diff));
                Ok(())
            }
            "snapshot/export" => {
                let song = str_arg(args, 0, "song")?;
                let doc = self.hub.export(&song).await.map_err(hub_err)?;
                self.reply(peer, json_reply("/rackd/snapshot/export", &doc));
                Ok(())
            }
            "snapshot/import" => {
                let text = str_arg(args, 0, "export document (JSON)")?;
                let doc = crate::store::SongExport::from_json(&text).map_err(|e| e.to_string())?;
                let report = self.hub.import(doc).await.map_err(hub_err)?;
                self.reply(peer, json_reply("/rackd/snapshot/imported", &report));
                Ok(())
            }
            "describe" => {
                let state = self.hub.state().await.map_err(hub_err)?;
                let tree = self.hub.tree().describe(&state);
                self.reply(peer, json_reply("/rackd/describe", &tree));
                Ok(())
            }
            "ping" => {
                self.reply(peer, message("/rackd/pong", args.to_vec()));
                Ok(())
            }
            "info" => {
                self.reply(peer, json_reply("/rackd/info", &self.info()));
                Ok(())
            }
            "status" => {
                self.reply(peer, json_reply("/rackd/status", &self.status()));
                Ok(())
            }
            _ => Err(format!("unknown command /rackd/{cmd}")),
        }
    }

    async fn subscribe(&self, peer: Peer, args: &[OscType]) -> Result<(), String> {
        let mut rest = args;
        let port = match rest.first() {
            Some(a) if int_arg(a).is_some() => {
                rest = &rest[1..];
                int_arg(a)
            }
            _ => None,
        };
        let mut patterns = Vec::new();
        for a in rest {
            let text = text_arg(a).ok_or("patterns must be strings")?;
            patterns.push(Pattern::parse(&text).map_err(|e| format!("pattern {text:?}: {e}"))?);
        }
        let (dest, outbox) = match (port, peer.conn) {
            (Some(p), _) => {
                let to = SocketAddr::new(peer.addr.ip(), port_of(p)?);
                (Dest::Udp(to), None)
            }
            (None, Some(id)) => (
                Dest::Tcp(id),
                self.connections
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&id)
                    .cloned(),
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
        outbox.reply(message(
            "/rackd/subscribed",
            vec![OscType::Int(LEASE.as_secs() as i32)],
        ));
        if is_new {
            // A new surface gets the current values it asked for, so its faders match.
            let state = self.hub.state().await.map_err(|e| e.to_string())?;
            let subs = self.lock_subscribers();
            if let Some(s) = subs.get(&dest) {
                for (a, v) in &state.values {
                    if s.wants(a) {
                        s.outbox.feedback(a, message(a, vec![value_to_arg(v)]));
                    }
                }
            }
        }
        Ok(())
    }

    async fn feedback_loop(self: Arc<Self>) {
        let mut events = self.hub.subscribe();
        loop {
            match events.recv().await {
                Ok(Event::Changed { address, value, .. }) => self.send_value(&address, &value),
                Ok(Event::Saved(info)) => self.broadcast(
                    "/rackd/snapshot/saved",
                    vec![
                        OscType::String(info.song.to_string()),
                        OscType::Int(info.rev as i32),
                    ],
                ),
                Ok(Event::Recalled(report)) => self.broadcast(
                    "/rackd/snapshot/recalled",
                    vec![
                        OscType::String(report.song.clone()),
                        OscType::Int(report.rev as i32),
                    ],
                ),
                Ok(Event::RecallProgress {
                    device,
                    done,
                    total,
                }) => self.broadcast(
                    "/rackd/recall/progress",
                    vec![
                        OscType::String(device),
                        OscType::Int(done as i32),
                        OscType::Int(total as i32),
                    ],
                ),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("surfaces missed {n} changes; resending the state");
                    if let Ok(state) = self.hub.state().await {
                        for (a, v) in &state.values {
                            self.send_value(a, v);
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    fn send_value(&self, address: &str, value: &Value) {
        let packet = message(address, vec![value_to_arg(value)]);
        let norm_address = format!("{address}/norm");
        let subs = self.lock_subscribers();
        for s in subs.values() {
            if s.wants(address) {
                s.outbox.feedback(address, packet.clone());
            }
            if s.wants_exactly(&norm_address)
                && let Some(entry) = self.hub.tree().get(address)
            {
                let n = entry.spec.to_norm(value) as f32;
                s.outbox.feedback(
                    &norm_address,
                    message(&norm_address, vec![OscType::Float(n)]),
                );
            }
        }
    }

    fn broadcast(&self, address: &str, args: Vec<OscType>) {
        let packet = message(address, args);
        for s in self.lock_subscribers().values() {
            if s.wants(address) {
                s.outbox.reply(packet.clone());
            }
        }
    }

    async fn meter_loop(self: Arc<Self>) {
        use crate::engine::Quantity;
        let mut tick = tokio::time::interval(METER_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let db = |x: f32| {
            if x > 0.0 {
                rackd_dsp::gain_to_db(x).max(METER_FLOOR_DB)
            } else {
                METER_FLOOR_DB
            }
        };
        // Loudness is −inf in silence; surfaces get the floor instead.
        let finite = |x: f32| {
            if x.is_finite() {
                x.max(METER_FLOOR_DB)
            } else {
                METER_FLOOR_DB
            }
        };
        let points = self.engine.meters().points.clone();
        let addresses: Vec<String> = points
            .iter()
            .flat_map(|p| {
                p.quantities
                    .iter()
                    .map(|q| format!("/meter/{}/{}", p.name, q.name()))
            })
            .collect();
        loop {
            tick.tick().await;
            let wanted = self
                .lock_subscribers()
                .values()
                .any(|s| addresses.iter().any(|a| s.wants_exactly(a)));
            for point in &points {
                // Read every tick, so held peaks never go stale while nobody listens.
                let r = point.meters.take();
                if !wanted {
                    continue;
                }
                for q in point.quantities {
                    let pair =
                        |v: [f32; 2]| vec![OscType::Float(db(v[0])), OscType::Float(db(v[1]))];
                    let args = match q {
                        Quantity::Peak => pair(r.peak),
                        Quantity::Rms => pair(r.rms),
                        Quantity::TruePeak => pair(r.true_peak),
                        Quantity::LufsM => vec![OscType::Float(finite(r.lufs_m))],
                        Quantity::LufsS => vec![OscType::Float(finite(r.lufs_s))],
                        Quantity::LufsI => vec![OscType::Float(finite(r.lufs_i))],
                        Quantity::Lra => {
                            vec![OscType::Float(if r.lra.is_finite() { r.lra } else { 0.0 })]
                        }
                        Quantity::Correlation => vec![OscType::Float(r.correlation)],
                        Quantity::GainReduction => vec![OscType::Float(r.gain_reduction)],
                    };
                    let address = format!("/meter/{}/{}", point.name, q.name());
                    let packet = message(&address, args);
                    for s in self.lock_subscribers().values() {
                        if s.wants_exactly(&address) {
                            s.outbox.feedback(&address, packet.clone());
                        }
                    }
                }
            }
        }
    }

    async fn lease_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            let now = Instant::now();
            self.lock_subscribers().retain(|dest, s| {
                let alive = s.expires.is_none_or(|t| t > now);
                if !alive {
                    tracing::info!("subscription of {dest:?} expired");
                    // TCP outboxes belong to the connection, which may go on.
                    if matches!(dest, Dest::Udp(_)) {
                        s.outbox.close();
                    }
                }
                alive
            });
        }
    }

    /// `/rackd/info`: what this daemon is.
    pub fn info(&self) -> serde_json::Value {
        json!({
            "name": "rackd",
            "version": env!("CARGO_PKG_VERSION"),
            "osc": self.local.to_string(),
            "backend": self.backend,
            "params": self.hub.tree().len(),
            "chain": self.hub.tree().slots().iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        })
    }

    /// `/rackd/status`: how this daemon is doing.
    pub fn status(&self) -> serde_json::Value {
        let st = self.engine.status();
        let subs = self.lock_subscribers();
        json!({
            "uptime_s": self.started.elapsed().as_secs(),
            "backend": self.backend,
            "audio": st.state(),
            "running": st.running.load(Ordering::Relaxed),
            "sample_rate": st.sample_rate.load(Ordering::Relaxed),
            "period": st.period.load(Ordering::Relaxed),
            "latency_samples": st.latency.load(Ordering::Relaxed),
            "layout": self.engine.layout().iter().map(|&i| self.engine.slots()[i].id.clone()).collect::<Vec<_>>(),
            "printing": self.printer.busy(),
            "store": self.hub.store().health(),
            "xruns": st.xruns.load(Ordering::Relaxed),
            "cycle_breaks": st.cycle_breaks.load(Ordering::Relaxed),
            "changes_taken": st.changes_taken.load(Ordering::Relaxed),
            "layout_changes": st.layout_changes.load(Ordering::Relaxed),
            "dsp_load_percent": st.dsp_load_permille.load(Ordering::Relaxed) as f64 / 10.0,
            "ceiling_engagements": self.engine.ceiling_engagements(),
            "clients": {
                "subscribers": subs.len(),
                "static": subs.values().filter(|s| s.expires.is_none()).count(),
                "tcp_connections": self.stats.tcp_connections.load(Ordering::Relaxed),
            },
            "osc": {
                "messages": self.stats.messages.load(Ordering::Relaxed),
                "bad_packets": self.stats.bad_packets.load(Ordering::Relaxed),
                "rejected_not_allowed": self.stats.rejected.load(Ordering::Relaxed),
                "feedback_dropped": subs.values().map(|s| s.outbox.dropped.load(Ordering::Relaxed)).sum::<u64>(),
            },
            "devices": self.outboard.get().map_or_else(|| json!([]), |o| o.status_json()),
        })
    }
}

/// Builds an OSC message packet.
pub fn message(address: &str, args: Vec<OscType>) -> OscPacket {
    OscPacket::Message(OscMessage {
        addr: address.to_string(),
        args,
    })
}

/// `/rackd/error ,ss address message`.
fn error_message(address: &str, text: &str) -> OscPacket {
    message(
        "/rackd/error",
        vec![
            OscType::String(address.to_string()),
            OscType::String(text.to_string()),
        ],
    )
}

fn json_reply(address: &str, body: &impl serde::Serialize) -> OscPacket {
    let text =
        serde_json::to_string(body).unwrap_or_else(|e| json!({"error": e.to_string()}).to_string());
    message(address, vec![OscType::String(text)])
}

fn packet_address(p: &OscPacket) -> String {
    match p {
        OscPacket::Message(m) => m.addr.clone(),
        OscPacket::Bundle(_) => String::new(),
    }
}

fn int_arg(a: &OscType) -> Option<i64> {
    match a {
        OscType::Int(i) => Some(i64::from(*i)),
        OscType::Long(i) => Some(*i),
        _ => None,
    }
}

fn text_arg(a: &OscType) -> Option<String> {
    match a {
        OscType::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn str_arg(args: &[OscType], i: usize, what: &str) -> Result<String, String> {
    args.get(i)
        .and_then(text_arg)
        .ok_or_else(|| format!("argument {} must be a string: {what}", i + 1))
}

fn port_of(p: i64) -> Result<u16, String> {
    u16::try_from(p)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("reply port {p} is not 1..65535"))
}
