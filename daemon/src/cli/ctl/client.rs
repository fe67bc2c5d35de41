//! The connection `rackd ctl` and `rackd surface export --connect` talk
//! through: OSC over TCP with SLIP framing, pings to tell replies apart.

use super::*;

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

    /// Sends one request without waiting for anything.
    pub fn send(&mut self, request: &Request) -> Result<(), Failure> {
        let packet = OscPacket::Message(request.to_message());
        let bytes = framing::encode(Framing::Slip, &codec::encode(&packet));
        self.stream.write_all(&bytes).map_err(|e| {
            // A refused connection (no room) is closed right after the
            // daemon says why; the write can lose that race.
            Failure::Runtime(
                self.said_before_closing()
                    .unwrap_or_else(|| format!("sending to rackd failed: {e}")),
            )
        })
    }

    /// The `/rackd/error` the daemon sent before it closed this connection.
    fn said_before_closing(&mut self) -> Option<String> {
        self.stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .ok();
        while let Ok(Some(m)) = self.try_receive(true) {
            if let Ok(Reply::Error { message, .. }) = Reply::parse(&m) {
                return Some(message);
            }
        }
        None
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

    /// Sends a request and returns every reply up to the end marker (a ping
    /// we send right after; replies on one connection keep their order). A
    /// `/rackd/error` reply becomes an invalid-input failure.
    pub fn request_raw(&mut self, request: &Request) -> Result<Vec<OscMessage>, Failure> {
        self.send(request)?;
        let token = self.next_ping;
        self.next_ping += 1;
        self.send(&Request::Ping {
            args: vec![OscType::Int(token)],
        })?;
        let mut replies = Vec::new();
        let mut error = None;
        loop {
            let m = match self.receive() {
                Ok(m) => m,
                // Refused (no room, idle): the daemon said why before closing.
                Err(Failure::Runtime(closed)) => {
                    return Err(Failure::Runtime(error.unwrap_or(closed)));
                }
                Err(f) => return Err(f),
            };
            match Reply::parse(&m) {
                Ok(Reply::Pong(args)) if args.first() == Some(&OscType::Int(token)) => break,
                Ok(Reply::Error { message, .. }) => {
                    error.get_or_insert(message);
                }
                _ => replies.push(m),
            }
        }
        match error {
            Some(e) => Err(Failure::Invalid(e)),
            None => Ok(replies),
        }
    }

    /// A request whose answer is one reply at `reply_address` that `pick`
    /// takes apart.
    pub fn expect<T>(
        &mut self,
        request: &Request,
        reply_address: &str,
        pick: impl Fn(Reply) -> Option<T>,
    ) -> Result<T, Failure> {
        let replies = self.request_raw(request)?;
        let m = replies
            .iter()
            .find(|m| m.addr == reply_address)
            .ok_or_else(|| Failure::Runtime(format!("rackd sent no {reply_address} reply")))?;
        let reply = Reply::parse(m).map_err(|e| Failure::Runtime(format!("rackd: {e}")))?;
        pick(reply).ok_or_else(|| Failure::Runtime(format!("rackd sent no {reply_address} reply")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_refusal_closed_before_the_request_is_written_is_still_reported() {
        // A daemon with no room: it says why and closes at once.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let refuse = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let refusal = Reply::Error {
                address: String::new(),
                message: "too many connections: 32 open from 127.0.0.1".into(),
            };
            let packet = OscPacket::Message(refusal.to_message());
            s.write_all(&framing::encode(Framing::Slip, &codec::encode(&packet)))
                .unwrap();
        });
        let mut ctl = Ctl::connect(&addr.to_string(), Duration::from_secs(2)).unwrap();
        refuse.join().unwrap();
        // The first write reaches a closed socket (its answer is a reset);
        // writing again after it has come back fails.
        let ping = Request::Ping { args: vec![] };
        let mut sent = Ok(());
        for _ in 0..50 {
            sent = ctl.send(&ping);
            if sent.is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        match sent {
            Err(Failure::Runtime(m)) => assert!(m.contains("too many connections"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
