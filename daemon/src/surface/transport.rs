//! The OSC transports: UDP datagrams (each sender's messages in order, in a
//! task of its own) and TCP streams with either framing, told apart on each
//! connection's first byte: SLIP (OSC 1.1) or the int32 length prefix (OSC
//! 1.0). Replies use the framing the client used.

use super::outbox::Outbox;
use super::{Dest, Peer, Surface};
use rackd_protocol::api::Reply;
use rackd_protocol::osc::codec;
use rackd_protocol::osc::framing::{self, FrameDecoder, Framing};
use rosc::OscPacket;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Receive buffer asked for the OSC UDP socket. A burst (one client's flood,
/// a moment the runtime is busy elsewhere) waits here instead of being
/// dropped by the kernel together with other clients' messages; the kernel
/// caps it at `net.core.rmem_max`.
const UDP_RECEIVE_BUFFER: libc::c_int = 4 << 20;

/// Asks for [`UDP_RECEIVE_BUFFER`] on `sock`; returns the size the kernel
/// granted (it reports twice the usable bytes, for its bookkeeping).
pub(super) fn enlarge_receive_buffer(sock: &tokio::net::UdpSocket) -> usize {
    use std::os::fd::AsRawFd;
    let fd = sock.as_raw_fd();
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: fd is an open socket for the call; the option is a c_int.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&UDP_RECEIVE_BUFFER as *const libc::c_int).cast(),
            len,
        );
    }
    let mut granted: libc::c_int = 0;
    let mut granted_len = len;
    // SAFETY: as above; `granted` has room for the c_int the kernel writes.
    let ok = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut granted as *mut libc::c_int).cast(),
            &mut granted_len,
        )
    };
    if ok == 0 { granted.max(0) as usize } else { 0 }
}

/// Most TCP connections at once.
const MAX_TCP: usize = 64;
/// Most TCP connections from one address (loopback counts as one).
const MAX_TCP_PER_ADDRESS: usize = 32;
/// A connection idle this long (nothing sent, nothing subscribed) gives up
/// its place to a new one when the limits are reached.
const EVICT_AFTER_IDLE: Duration = Duration::from_secs(2);
/// Bytes held for unfinished messages, all TCP connections together.
const MAX_BUFFERED: usize = 32 << 20;
/// Messages queued per UDP sender before new ones are refused.
const UDP_QUEUE: usize = 4096;
/// A UDP sender's task retires after this long without messages (a new one
/// starts with its next message; hundreds of one-off senders must not hold
/// their queues for long).
const UDP_SENDER_IDLE: Duration = Duration::from_secs(5);
/// How often retired senders are swept from the map: a map entry holds its
/// queue's memory until it is removed.
const UDP_SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Sender tasks kept before retired ones are swept from the map at once.
const MAX_UDP_SENDERS: usize = 1024;

impl Surface {
    /// A queue plus writer task that sends to a UDP destination.
    pub(super) fn udp_writer(&self, to: SocketAddr) -> Arc<Outbox> {
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
    pub(super) async fn udp_loop(self: Arc<Self>) {
        let mut buf = vec![0u8; 65_536];
        let mut senders: HashMap<SocketAddr, mpsc::Sender<OscPacket>> = HashMap::new();
        let mut sweep = tokio::time::interval(UDP_SWEEP_EVERY);
        loop {
            let received = tokio::select! {
                r = self.udp.recv_from(&mut buf) => r,
                _ = sweep.tick() => {
                    senders.retain(|_, tx| !tx.is_closed());
                    if senders.capacity() > 4 * senders.len() + 64 {
                        senders.shrink_to_fit();
                    }
                    continue;
                }
            };
            let (len, from) = match received {
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

    pub(super) async fn tcp_loop(self: Arc<Self>, listener: TcpListener) {
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
            let _ = stream.set_nodelay(true);
            match self.make_room(from) {
                Ok(id) => {
                    tokio::spawn(self.clone().tcp_connection(stream, from, id));
                }
                Err(why) => {
                    self.stats.refused_tcp.fetch_add(1, Ordering::Relaxed);
                    self.log_limited(from, "refused", || {
                        format!("refusing OSC TCP connection: {why}")
                    });
                    tokio::spawn(refuse(stream, why));
                }
            }
        }
    }

    /// Makes room for a connection from `from` within the per-address and
    /// the global limits: a connection that has been idle (nothing sent,
    /// nothing subscribed) long enough is closed for it; else the newcomer
    /// is refused, saying why.
    /// Registers the connection (its id) when there is room.
    fn make_room(&self, from: SocketAddr) -> Result<u64, String> {
        let mut conns = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        let mine = conns.values().filter(|c| c.addr.ip() == from.ip()).count();
        let over_mine = mine >= MAX_TCP_PER_ADDRESS;
        let over_all = conns.len() >= MAX_TCP;
        let register = |conns: &mut std::collections::HashMap<u64, Connection>| {
            let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
            conns.insert(
                id,
                Connection {
                    outbox: Arc::new(Outbox::default()),
                    addr: from,
                    close: Arc::new(tokio::sync::Notify::new()),
                    last_active: Arc::new(std::sync::Mutex::new(Instant::now())),
                },
            );
            id
        };
        if !over_mine && !over_all {
            return Ok(register(&mut conns));
        }
        let subs = self.lock_subscribers();
        let victim = conns
            .iter()
            .filter(|(id, c)| {
                (!over_mine || c.addr.ip() == from.ip())
                    && !subs.contains_key(&Dest::Tcp(**id))
                    && c.idle() >= EVICT_AFTER_IDLE
            })
            .max_by_key(|(_, c)| c.idle());
        match victim {
            Some((&id, c)) => {
                tracing::info!(
                    "closing the OSC TCP connection from {} (idle {:.1} s) to make room for {from}",
                    c.addr,
                    c.idle().as_secs_f64()
                );
                c.close.notify_one();
                drop(subs);
                // It leaves the table now; its task closes it.
                conns.remove(&id);
                Ok(register(&mut conns))
            }
            None if over_mine => Err(format!(
                "too many connections: {mine} open from {} (the limit per address is \
                 {MAX_TCP_PER_ADDRESS}); close some",
                from.ip()
            )),
            None => Err(format!(
                "too many connections: {} open (the limit is {MAX_TCP}); close some",
                conns.len()
            )),
        }
    }

    async fn tcp_connection(self: Arc<Self>, stream: TcpStream, from: SocketAddr, id: u64) {
        self.stats.tcp_connections.fetch_add(1, Ordering::Relaxed);
        let (mut reader, mut writer) = stream.into_split();
        let mut buf = vec![0u8; 16_384];
        let Some((outbox, close, last_active)) = self
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .map(|c| (c.outbox.clone(), c.close.clone(), c.last_active.clone()))
        else {
            self.stats.tcp_connections.fetch_sub(1, Ordering::Relaxed);
            return;
        };
        let peer = Peer {
            addr: from,
            conn: Some(id),
        };
        let idle_limit = self.idle_timeout();
        let subscribed = |s: &Surface| s.lock_subscribers().contains_key(&Dest::Tcp(id));
        let mut first = next_read(&mut reader, &mut buf, idle_limit, &close).await;
        // The first byte tells SLIP (OSC 1.1) from length prefix (OSC 1.0).
        let framing = match first {
            Read::Data(n) if n > 0 => Framing::detect(buf[0]),
            _ => Framing::Slip,
        };
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
        let mut decoder = FrameDecoder::new(framing, codec::MAX_REQUEST);
        let mut held = 0usize;
        'read: loop {
            let n = match first {
                Read::Data(0) => break,
                Read::Data(n) => n,
                Read::Closed => {
                    // Evicted or revoked: it may have left the table already.
                    outbox.reply(OscPacket::Message(
                        closing("closed by the daemon (idle while another connection needed the room, or no longer allowed)")
                            .to_message(),
                    ));
                    break;
                }
                Read::Idle if subscribed(&self) => {
                    first = next_read(&mut reader, &mut buf, idle_limit, &close).await;
                    continue;
                }
                Read::Idle => {
                    self.reply(
                        peer,
                        closing(&format!(
                            "nothing sent for {} s and nothing subscribed; closing",
                            idle_limit.as_secs()
                        )),
                    );
                    break;
                }
            };
            *last_active.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            decoder.push(&buf[..n]);
            while let Some(frame) = decoder.next_frame() {
                match frame {
                    Ok(bytes) => match codec::decode_with_limit(&bytes, codec::MAX_REQUEST) {
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
            // What this connection holds counts against the daemon's budget.
            let now = decoder.buffered();
            let total = if now >= held {
                self.stats.buffered.fetch_add(now - held, Ordering::Relaxed) + (now - held)
            } else {
                self.stats.buffered.fetch_sub(held - now, Ordering::Relaxed) - (held - now)
            };
            held = now;
            if total > MAX_BUFFERED && now > 0 {
                self.bad_packet(
                    peer,
                    &format!(
                        "the daemon's input buffers are full ({total} bytes held for unfinished \
                         messages); closing this connection, which holds {now}"
                    ),
                );
                break;
            }
            first = next_read(&mut reader, &mut buf, idle_limit, &close).await;
        }
        self.stats.buffered.fetch_sub(held, Ordering::Relaxed);
        // Give queued replies (an error before a close) a moment to go out.
        tokio::time::sleep(Duration::from_millis(50)).await;
        outbox.close();
        let _ = writer_task.await;
        let mut conns = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        // Only our own entry (an evicted one was replaced by its successor's id).
        if conns
            .get(&id)
            .is_some_and(|c| Arc::ptr_eq(&c.outbox, &outbox))
        {
            conns.remove(&id);
        }
        drop(conns);
        if let Some(s) = self.lock_subscribers().remove(&Dest::Tcp(id)) {
            s.outbox.close();
        }
        self.stats.tcp_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One open TCP connection, as the surface sees it.
pub(crate) struct Connection {
    /// Its replies and feedback.
    pub(super) outbox: Arc<Outbox>,
    /// Where it comes from.
    pub(super) addr: SocketAddr,
    /// Tells its task to close it (room needed, address revoked).
    pub(super) close: Arc<tokio::sync::Notify>,
    /// When it last sent something.
    last_active: Arc<std::sync::Mutex<Instant>>,
}

impl Connection {
    fn idle(&self) -> Duration {
        self.last_active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }
}

/// Waits for a connection's next bytes, the idle timeout, or the surface
/// telling it to close.
async fn next_read(
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    buf: &mut [u8],
    idle: Duration,
    close: &tokio::sync::Notify,
) -> Read {
    tokio::select! {
        r = tokio::time::timeout(idle, reader.read(buf)) => match r {
            Ok(Ok(n)) => Read::Data(n),
            Ok(Err(_)) => Read::Data(0),
            Err(_) => Read::Idle,
        },
        _ = close.notified() => Read::Closed,
    }
}

/// What waiting for a connection's next bytes gave.
enum Read {
    /// `n` bytes (0: the client closed).
    Data(usize),
    /// Nothing for the idle timeout.
    Idle,
    /// The surface told it to close.
    Closed,
}

fn closing(why: &str) -> Reply {
    Reply::Error {
        address: String::new(),
        message: why.into(),
    }
}

/// Answers a connection there is no room for with `/rackd/error` in its
/// framing (SLIP when it says nothing within a second), then closes it.
async fn refuse(stream: TcpStream, why: String) {
    let (mut reader, mut writer) = stream.into_split();
    let mut first = [0u8; 1];
    let framing = match tokio::time::timeout(Duration::from_secs(1), reader.read(&mut first)).await
    {
        Ok(Ok(1)) => Framing::detect(first[0]),
        _ => Framing::Slip,
    };
    let packet = OscPacket::Message(closing(&why).to_message());
    let _ = writer
        .write_all(&framing::encode(framing, &codec::encode(&packet)))
        .await;
    let _ = writer.shutdown().await;
}

/// UDP and TCP bound to the same port of `listen`. With port 0 the system
/// picks a free UDP port, whose TCP twin may be taken by another program:
/// then another port is tried (a few times), not a start-up failure.
pub(super) async fn bind_pair(
    listen: SocketAddr,
) -> anyhow::Result<(tokio::net::UdpSocket, tokio::net::TcpListener)> {
    use anyhow::Context as _;
    let mut tries = 0;
    loop {
        let udp = tokio::net::UdpSocket::bind(listen)
            .await
            .with_context(|| format!("cannot bind OSC UDP on {listen}"))?;
        let local = udp.local_addr()?;
        match tokio::net::TcpListener::bind(local).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if listen.port() == 0 && tries < 16 => {
                tracing::debug!("OSC TCP on {local} is taken ({e}); trying another port");
                tries += 1;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot bind OSC TCP on {local}"));
            }
        }
    }
}

#[cfg(test)]
mod bind_tests {
    use super::bind_pair;

    #[tokio::test]
    async fn udp_and_tcp_share_a_port_and_a_named_port_taken_is_an_error() {
        let (udp, tcp) = bind_pair("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let port = udp.local_addr().unwrap().port();
        assert_eq!(tcp.local_addr().unwrap().port(), port);
        // A TCP port another program holds, its UDP twin free.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err = bind_pair(taken.local_addr().unwrap()).await.unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot bind OSC TCP"),
            "{err:#}"
        );
    }
}
