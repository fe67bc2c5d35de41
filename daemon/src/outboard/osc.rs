//! OSC devices over UDP (one connected socket per device address, so only
//! that device's datagrams are read) or over TCP (one connection per device
//! address, SLIP-framed as OSC 1.1 and the profile schema's `tcp` say).

use super::scheduler::{Incoming, Link};
use rackd_protocol::device::DeviceMessage;
use rackd_protocol::osc::framing::{self, FrameDecoder, Framing};
use rosc::OscPacket;
use std::collections::VecDeque;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

/// One OSC device address.
pub struct OscLink {
    address: String,
    socket: Option<UdpSocket>,
    queue: VecDeque<rosc::OscMessage>,
}

impl OscLink {
    /// A link to `host:port`.
    pub fn new(address: String) -> Self {
        OscLink {
            address,
            socket: None,
            queue: VecDeque::new(),
        }
    }
}

fn flatten(p: OscPacket, out: &mut VecDeque<rosc::OscMessage>) {
    match p {
        OscPacket::Message(m) => out.push_back(m),
        OscPacket::Bundle(b) => b.content.into_iter().for_each(|p| flatten(p, out)),
    }
}

impl Link for OscLink {
    async fn open(&mut self) -> io::Result<()> {
        let target = tokio::net::lookup_host(&self.address)
            .await?
            .next()
            .ok_or_else(|| io::Error::other(format!("{} does not resolve", self.address)))?;
        let local = if target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(target).await?;
        self.socket = Some(socket);
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.socket.is_some()
    }

    fn close(&mut self) {
        self.socket = None;
    }

    async fn send(&mut self, msg: &DeviceMessage) -> io::Result<()> {
        let socket = self.socket.as_ref().ok_or(io::ErrorKind::NotConnected)?;
        let DeviceMessage::Osc(m) = msg else {
            return Err(io::Error::other("bytes for an OSC device"));
        };
        let bytes = rosc::encoder::encode(&OscPacket::Message(m.clone()))
            .map_err(|e| io::Error::other(e.to_string()))?;
        // A refused datagram (nobody listening yet) is a silent device, not a dead port.
        match socket.send(&bytes).await {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn recv(&mut self, until: Instant) -> io::Result<Option<Incoming>> {
        let mut buf = vec![0u8; 65536];
        loop {
            if let Some(m) = self.queue.pop_front() {
                return Ok(Some(Incoming::Osc(m)));
            }
            let socket = self.socket.as_ref().ok_or(io::ErrorKind::NotConnected)?;
            let n = match tokio::time::timeout_at(until, socket.recv(&mut buf)).await {
                Err(_) => return Ok(None),
                // ICMP port unreachable from an earlier send: keep listening.
                Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Ok(Err(e)) => return Err(e),
                Ok(Ok(n)) => n,
            };
            match rosc::decoder::decode_udp(&buf[..n]) {
                Ok((_, p)) => flatten(p, &mut self.queue),
                Err(_) => {
                    return Ok(Some(Incoming::Junk(format!("{n} bytes that are not OSC"))));
                }
            }
        }
    }

    fn wire_time(&self, _bytes: usize) -> Duration {
        Duration::ZERO
    }
}

/// Largest OSC packet a device may send over TCP.
const MAX_FRAME: usize = 65536;
/// How long connecting to a TCP device may take before it counts as absent.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One OSC device over TCP. A closed connection is a lost port: the
/// scheduler marks the device offline and reconnects with backoff.
pub struct OscTcpLink {
    address: String,
    stream: Option<TcpStream>,
    frames: FrameDecoder,
    queue: VecDeque<rosc::OscMessage>,
}

impl OscTcpLink {
    /// A link to `host:port`.
    pub fn new(address: String) -> Self {
        OscTcpLink {
            address,
            stream: None,
            frames: FrameDecoder::new(Framing::Slip, MAX_FRAME),
            queue: VecDeque::new(),
        }
    }
}

impl Link for OscTcpLink {
    async fn open(&mut self) -> io::Result<()> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.address))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        self.stream = Some(stream);
        self.frames = FrameDecoder::new(Framing::Slip, MAX_FRAME);
        self.queue.clear();
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    fn close(&mut self) {
        self.stream = None;
    }

    async fn send(&mut self, msg: &DeviceMessage) -> io::Result<()> {
        let stream = self.stream.as_mut().ok_or(io::ErrorKind::NotConnected)?;
        let DeviceMessage::Osc(m) = msg else {
            return Err(io::Error::other("bytes for an OSC device"));
        };
        let bytes = rosc::encoder::encode(&OscPacket::Message(m.clone()))
            .map_err(|e| io::Error::other(e.to_string()))?;
        stream
            .write_all(&framing::encode(Framing::Slip, &bytes))
            .await
    }

    async fn recv(&mut self, until: Instant) -> io::Result<Option<Incoming>> {
        let mut buf = vec![0u8; 4096];
        loop {
            if let Some(m) = self.queue.pop_front() {
                return Ok(Some(Incoming::Osc(m)));
            }
            match self.frames.next_frame() {
                Some(Ok(frame)) => {
                    match rosc::decoder::decode_udp(&frame) {
                        Ok((_, p)) => flatten(p, &mut self.queue),
                        Err(_) => {
                            let n = frame.len();
                            return Ok(Some(Incoming::Junk(format!("{n} bytes that are not OSC"))));
                        }
                    }
                    continue;
                }
                Some(Err(e)) => return Ok(Some(Incoming::Junk(e.to_string()))),
                None => {}
            }
            let stream = self.stream.as_mut().ok_or(io::ErrorKind::NotConnected)?;
            let n = match tokio::time::timeout_at(until, stream.read(&mut buf)).await {
                Err(_) => return Ok(None),
                Ok(r) => r?,
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the device closed the connection",
                ));
            }
            self.frames.push(&buf[..n]);
        }
    }

    fn wire_time(&self, _bytes: usize) -> Duration {
        Duration::ZERO
    }
}
