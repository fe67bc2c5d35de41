//! The OSC transports: UDP datagrams (each sender's messages in order, in a
//! task of its own) and TCP streams with either framing, told apart on each
//! connection's first byte: SLIP (OSC 1.1) or the int32 length prefix (OSC
//! 1.0). Replies use the framing the client used.

use super::outbox::Outbox;
use super::{Dest, Peer, Surface};
use rackd_protocol::osc::codec;
use rackd_protocol::osc::framing::{self, FrameDecoder, Framing};
use rosc::OscPacket;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Most TCP connections at once.
const MAX_TCP: usize = 64;
/// Messages queued per UDP sender before new ones are refused.
const UDP_QUEUE: usize = 4096;
/// A UDP sender's task retires after this long without messages.
const UDP_SENDER_IDLE: Duration = Duration::from_secs(30);
/// Sender tasks kept before retired ones are swept from the map.
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
}
