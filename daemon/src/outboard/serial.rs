//! Serial links (RS-232, RS-485) through tokio-serial: line settings from the
//! profile (baud overridable in the config), replies cut into frames by the
//! protocol crate's `Framer`.

use super::scheduler::{Incoming, Link};
use rackd_protocol::device::serial::Framer;
use rackd_protocol::device::{DeviceCtx, DeviceMessage};
use rackd_protocol::profile::Profile;
use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_serial::{DataBits, Parity, SerialPortBuilderExt, SerialStream, StopBits};

/// One serial port.
pub struct SerialLink {
    path: PathBuf,
    baud: u32,
    frame: String,
    framer: Framer,
    stream: Option<SerialStream>,
    frames: VecDeque<Vec<u8>>,
}

impl SerialLink {
    /// A link for `path` speaking the protocol of `profile` (first device on the port).
    pub fn new(path: PathBuf, baud: Option<u32>, profile: &Profile, ctx: &DeviceCtx) -> Self {
        let t = profile.serial.as_ref();
        SerialLink {
            path,
            baud: baud.or(t.map(|t| t.baud)).unwrap_or(9600),
            frame: t.map_or_else(|| "8N1".into(), |t| t.frame.clone()),
            framer: Framer::new(profile, ctx),
            stream: None,
            frames: VecDeque::new(),
        }
    }

    /// Bits on the wire per byte: start + data + parity + stop.
    fn bits_per_byte(&self) -> u32 {
        let b = self.frame.as_bytes();
        let data = b.first().map_or(8, |c| (c - b'0') as u32);
        let parity = (b.get(1).is_some_and(|c| *c != b'N')) as u32;
        let stop = b.get(2).map_or(1, |c| (c - b'0') as u32);
        1 + data + parity + stop
    }
}

impl Link for SerialLink {
    async fn open(&mut self) -> io::Result<()> {
        let b = self.frame.as_bytes();
        let data = match b.first() {
            Some(b'5') => DataBits::Five,
            Some(b'6') => DataBits::Six,
            Some(b'7') => DataBits::Seven,
            _ => DataBits::Eight,
        };
        let parity = match b.get(1) {
            Some(b'E') => Parity::Even,
            Some(b'O') => Parity::Odd,
            _ => Parity::None,
        };
        let stop = match b.get(2) {
            Some(b'2') => StopBits::Two,
            _ => StopBits::One,
        };
        let stream = tokio_serial::new(self.path.to_string_lossy(), self.baud)
            .data_bits(data)
            .parity(parity)
            .stop_bits(stop)
            .timeout(Duration::from_millis(100))
            .open_native_async()
            .map_err(io::Error::from)?;
        self.stream = Some(stream);
        self.frames.clear();
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
        match msg {
            DeviceMessage::Serial(b) | DeviceMessage::Midi(b) => stream.write_all(b).await,
            DeviceMessage::Osc(_) => Err(io::Error::other("an OSC message on a serial line")),
        }
    }

    async fn recv(&mut self, until: Instant) -> io::Result<Option<Incoming>> {
        let mut buf = [0u8; 512];
        loop {
            if let Some(f) = self.frames.pop_front() {
                return Ok(Some(Incoming::Frame(f)));
            }
            let stream = self.stream.as_mut().ok_or(io::ErrorKind::NotConnected)?;
            let n = match tokio::time::timeout_at(until, stream.read(&mut buf)).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed")),
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(e),
            };
            self.frames.extend(self.framer.push(&buf[..n]));
        }
    }

    fn wire_time(&self, bytes: usize) -> Duration {
        Duration::from_secs_f64(
            bytes as f64 * self.bits_per_byte() as f64 / self.baud.max(1) as f64,
        )
    }
}
