//! `rackd ctl`: talks to a running daemon over OSC/TCP (SLIP framing), like
//! any other surface, and prints answers for people.

use crate::cli::Failure;
use rackd_protocol::osc::codec;
use rackd_protocol::osc::framing::{self, FrameDecoder, Framing};
use rosc::{OscMessage, OscPacket, OscType};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A TCP connection to the daemon.
pub struct Ctl {
    stream: TcpStream,
    decoder: FrameDecoder,
    next_ping: i32,
}

impl Ctl {
    /// Connects to `addr` (`HOST:PORT`).
    pub fn connect(addr: &str, timeout: Duration) -> Result<Ctl, Failure> {
        use std::net::ToSocketAddrs;
        let target = addr
            .to_socket_addrs()
            .map_err(|e| Failure::Usage(format!("--connect {addr}: {e}")))?
            .next()
            .ok_or_else(|| Failure::Usage(format!("--connect {addr}: no address")))?;
        let stream = TcpStream::connect_timeout(&target, Duration::from_secs(3)).map_err(|e| {
            Failure::Runtime(format!(
                "cannot reach rackd at {addr}: {e} (is the daemon running?)"
            ))
        })?;
        stream.set_read_timeout(Some(timeout)).ok();
        stream.set_nodelay(true).ok();
        Ok(Ctl {
            stream,
            decoder: FrameDecoder::new(Framing::Slip, codec::MAX_STREAM_PACKET),
            next_ping: 1,
        })
    }

    /// Sends one message without waiting for anything.
    pub fn send(&mut self, address: &str, args: Vec<OscType>) -> Result<(), Failure> {
        let packet = OscPacket::Message(OscMessage {
            addr: address.to_string(),
            args,
        });
        let bytes = framing::encode(Framing::Slip, &codec::encode(&packet));
        self.stream
            .write_all(&bytes)
            .map_err(|e| Failure::Runtime(format!("sending to rackd failed: {e}")))
    }

    fn receive(&mut self) -> Result<OscMessage, Failure> {
        loop {
            if let Some(m) = self.try_receive(false)? {
                return Ok(m);
            }
        }
    }

    /// One message; `None` when a signal (Ctrl-C) interrupted the read, or,
    /// if `quiet_timeout`, when the read timed out.
    fn try_receive(&mut self, quiet_timeout: bool) -> Result<Option<OscMessage>, Failure> {
        use std::io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
        let mut buf = [0u8; 16_384];
        loop {
            if let Some(frame) = self.decoder.next_frame() {
                let frame =
                    frame.map_err(|e| Failure::Runtime(format!("bad reply from rackd: {e}")))?;
                match codec::decode_with_limit(&frame, codec::MAX_STREAM_PACKET) {
                    Ok(OscPacket::Message(m)) => return Ok(Some(m)),
                    Ok(OscPacket::Bundle(_)) => continue,
                    Err(e) => return Err(Failure::Runtime(format!("bad reply from rackd: {e}"))),
                }
            }
            let n = match self.stream.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == Interrupted => return Ok(None),
                Err(e) if quiet_timeout && matches!(e.kind(), TimedOut | WouldBlock) => {
                    return Ok(None);
                }
                Err(e) => return Err(Failure::Runtime(format!("no answer from rackd: {e}"))),
            };
            if n == 0 {
                return Err(Failure::Runtime("rackd closed the connection".into()));
            }
            self.decoder.push(&buf[..n]);
        }
    }

    /// The next message from the daemon, or `None` when nothing came within
    /// `wait` or a signal interrupted the wait.
    pub fn next_message(&mut self, wait: Duration) -> Result<Option<OscMessage>, Failure> {
        self.stream.set_read_timeout(Some(wait)).ok();
        let result = self.try_receive(true);
        self.stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .ok();
        result
    }

    /// Sends a message and returns every reply up to the end marker (a ping we
    /// send right after; replies on one connection keep their order).
    /// A `/rackd/error` reply becomes an invalid-input failure.
    pub fn request(
        &mut self,
        address: &str,
        args: Vec<OscType>,
    ) -> Result<Vec<OscMessage>, Failure> {
        self.send(address, args)?;
        let token = self.next_ping;
        self.next_ping += 1;
        self.send("/rackd/ping", vec![OscType::Int(token)])?;
        let mut replies = Vec::new();
        let mut error = None;
        loop {
            let m = self.receive()?;
            if m.addr == "/rackd/pong" && m.args.first() == Some(&OscType::Int(token)) {
                break;
            }
            if m.addr == "/rackd/error" {
                let text = match m.args.get(1) {
                    Some(OscType::String(s)) => s.clone(),
                    _ => format!("{:?}", m.args),
                };
                error.get_or_insert(text);
                continue;
            }
            replies.push(m);
        }
        match error {
            Some(e) => Err(Failure::Invalid(e)),
            None => Ok(replies),
        }
    }

    /// A request whose answer is one JSON string at `reply_address`.
    pub fn request_json(
        &mut self,
        address: &str,
        args: Vec<OscType>,
        reply_address: &str,
    ) -> Result<serde_json::Value, Failure> {
        let replies = self.request(address, args)?;
        let text = replies
            .iter()
            .find(|m| m.addr == reply_address)
            .and_then(|m| match m.args.first() {
                Some(OscType::String(s)) => Some(s.clone()),
                _ => None,
            })
            .ok_or_else(|| Failure::Runtime(format!("rackd sent no {reply_address} reply")))?;
        serde_json::from_str(&text)
            .map_err(|e| Failure::Runtime(format!("bad JSON from rackd: {e}")))
    }
}

/// Formats one OSC argument for people.
pub fn show_arg(a: &OscType) -> String {
    match a {
        OscType::Float(x) => format!("{x}"),
        OscType::Double(x) => format!("{x}"),
        OscType::Int(i) => format!("{i}"),
        OscType::Long(i) => format!("{i}"),
        OscType::String(s) => s.clone(),
        other => format!("{other:?}"),
    }
}
