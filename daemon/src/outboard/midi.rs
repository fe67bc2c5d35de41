//! MIDI devices on JACK MIDI ports: a JACK client with one `out` and one
//! `in` port per configured device port, fed through lock-free rings so the
//! process callback never allocates or blocks. The simulator uses the same
//! client for the device's side.

use super::scheduler::{Incoming, Link};
use rackd_protocol::device::DeviceMessage;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Longest message carried (SysEx included).
pub const MAX_MESSAGE: usize = 512;
const RING: usize = 256;
/// DIN MIDI: 31 250 baud, 10 bits a byte.
const BYTE_TIME: Duration = Duration::from_micros(320);

/// Why a JACK MIDI port could not be opened or take a message.
#[derive(Debug, thiserror::Error)]
pub enum MidiLinkError {
    #[error("no JACK server answers")]
    NoServer,
    #[error(transparent)]
    Jack(#[from] jack::Error),
    #[error("cannot connect to {port}: {source}")]
    ConnectTo { port: String, source: jack::Error },
    #[error("cannot connect from {port}: {source}")]
    ConnectFrom { port: String, source: jack::Error },
    #[error("a {0} byte message is too long")]
    TooLong(usize),
    /// The process callback has not taken the messages queued before.
    #[error("the JACK MIDI queue is full")]
    QueueFull,
    #[error("the JACK server went away")]
    ServerGone,
}

/// One MIDI message in a ring (fixed size, so the rings never allocate).
#[derive(Clone, Copy)]
struct Packet {
    len: u16,
    data: [u8; MAX_MESSAGE],
}

/// The process callback's ends of the rings: all it touches besides its ports.
pub struct RtSide {
    from_host: rtrb::Consumer<Packet>,
    to_host: rtrb::Producer<Packet>,
}

/// The host's ends of the rings.
pub struct HostSide {
    to_jack: rtrb::Producer<Packet>,
    from_jack: rtrb::Consumer<Packet>,
}

/// A pair of rings between the host and a process callback.
pub fn rings() -> (HostSide, RtSide) {
    let (to_jack, from_host) = rtrb::RingBuffer::new(RING);
    let (to_host, from_jack) = rtrb::RingBuffer::new(RING);
    (
        HostSide { to_jack, from_jack },
        RtSide { from_host, to_host },
    )
}

impl RtSide {
    /// One process cycle: what the host queued goes to `write` until it
    /// says the port's buffer is full (the rest waits for the next cycle),
    /// what came in goes to the host (a message longer than
    /// [`MAX_MESSAGE`], or one that finds the ring full, is dropped).
    /// Allocates nothing.
    pub fn cycle<'a>(
        &mut self,
        incoming: impl Iterator<Item = &'a [u8]>,
        mut write: impl FnMut(&[u8]) -> bool,
    ) {
        while let Ok(p) = self.from_host.peek() {
            if !write(&p.data[..p.len as usize]) {
                break;
            }
            let _ = self.from_host.pop();
        }
        for bytes in incoming {
            if bytes.len() <= MAX_MESSAGE {
                let mut p = Packet {
                    len: bytes.len() as u16,
                    data: [0; MAX_MESSAGE],
                };
                p.data[..bytes.len()].copy_from_slice(bytes);
                let _ = self.to_host.push(p);
            }
        }
    }
}

impl HostSide {
    /// Queues one message for the next cycle.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), MidiLinkError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(MidiLinkError::TooLong(bytes.len()));
        }
        let mut p = Packet {
            len: bytes.len() as u16,
            data: [0; MAX_MESSAGE],
        };
        p.data[..bytes.len()].copy_from_slice(bytes);
        self.to_jack.push(p).map_err(|_| MidiLinkError::QueueFull)
    }

    /// The next message received, if any.
    pub fn try_recv(&mut self) -> Option<Vec<u8>> {
        self.from_jack
            .pop()
            .ok()
            .map(|p| p.data[..p.len as usize].to_vec())
    }
}

struct Process {
    out: jack::Port<jack::MidiOut>,
    input: jack::Port<jack::MidiIn>,
    rt: RtSide,
}

impl jack::ProcessHandler for Process {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        crate::engine::rt::checked(|| {
            let mut w = self.out.writer(ps);
            self.rt
                .cycle(self.input.iter(ps).map(|ev| ev.bytes), |bytes| {
                    w.write(&jack::RawMidi { time: 0, bytes }).is_ok()
                });
        });
        jack::Control::Continue
    }
}

struct Gone(Arc<AtomicBool>);

impl jack::NotificationHandler for Gone {
    unsafe fn shutdown(&mut self, _: jack::ClientStatus, _: &str) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// An active JACK client with a MIDI `out` and `in` port.
pub struct JackMidi {
    client: jack::AsyncClient<Gone, Process>,
    host: HostSide,
    gone: Arc<AtomicBool>,
}

impl JackMidi {
    /// Opens client `name` (JACK adds a suffix if taken) and connects `out`
    /// to `send_to` and `receive_from` to `in`, when given.
    pub fn open(
        name: &str,
        send_to: Option<&str>,
        receive_from: Option<&str>,
    ) -> Result<JackMidi, MidiLinkError> {
        let (client, _) =
            jack::Client::new(name, jack::ClientOptions::NO_START_SERVER).map_err(|e| match e {
                jack::Error::ClientError(_) => MidiLinkError::NoServer,
                other => other.into(),
            })?;
        let out = client.register_port("out", jack::MidiOut::default())?;
        let input = client.register_port("in", jack::MidiIn::default())?;
        let (host, rt) = rings();
        let gone = Arc::new(AtomicBool::new(false));
        let client = client.activate_async(Gone(gone.clone()), Process { out, input, rt })?;
        let jm = JackMidi { client, host, gone };
        jm.connect(send_to, receive_from)?;
        Ok(jm)
    }

    /// (Re)makes the connections to the device's ports: a device whose JACK
    /// client went away and came back has lost them.
    pub fn connect(
        &self,
        send_to: Option<&str>,
        receive_from: Option<&str>,
    ) -> Result<(), MidiLinkError> {
        let c = self.client.as_client();
        let me = c.name().to_string();
        let (out, input) = (format!("{me}:out"), format!("{me}:in"));
        let linked = |ours: &str, theirs: &str| {
            c.port_by_name(ours)
                .is_some_and(|p| p.is_connected_to(theirs).unwrap_or(false))
        };
        if let Some(dst) = send_to
            && !linked(&out, dst)
        {
            c.connect_ports_by_name(&out, dst)
                .map_err(|source| MidiLinkError::ConnectTo {
                    port: dst.to_string(),
                    source,
                })?;
        }
        if let Some(src) = receive_from
            && !linked(&input, src)
        {
            c.connect_ports_by_name(src, &input)
                .map_err(|source| MidiLinkError::ConnectFrom {
                    port: src.to_string(),
                    source,
                })?;
        }
        Ok(())
    }

    /// How long a new connection takes to carry messages: JACK switches
    /// to a changed graph at a cycle boundary, so a message queued in the
    /// cycle under way could still go the old way. Three periods.
    pub fn settle_time(&self) -> Duration {
        let c = self.client.as_client();
        let rate = c.sample_rate().max(1) as u64;
        Duration::from_micros(3 * u64::from(c.buffer_size()) * 1_000_000 / rate)
            .min(Duration::from_millis(200))
    }

    /// The client's name, as JACK made it.
    pub fn name(&self) -> String {
        self.client.as_client().name().to_string()
    }

    /// Queues one message for the next process cycle.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), MidiLinkError> {
        if self.gone.load(Ordering::SeqCst) {
            return Err(MidiLinkError::ServerGone);
        }
        self.host.send(bytes)
    }

    /// The next message received, if any.
    pub fn try_recv(&mut self) -> Option<Vec<u8>> {
        self.host.try_recv()
    }

    /// Whether the server has shut the client down.
    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }
}

/// A device's MIDI port over JACK.
pub struct MidiLink {
    port: String,
    input: Option<String>,
    jack: Option<JackMidi>,
}

impl MidiLink {
    /// A link that sends to JACK port `port` and reads replies from `input`.
    pub fn new(port: String, input: Option<String>) -> Self {
        MidiLink {
            port,
            input,
            jack: None,
        }
    }
}

impl Link for MidiLink {
    async fn open(&mut self) -> io::Result<()> {
        let jm = JackMidi::open("rackd-midi", Some(&self.port), self.input.as_deref())
            .map_err(io::Error::other)?;
        self.jack = Some(jm);
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.jack.as_ref().is_some_and(|j| !j.is_gone())
    }

    fn close(&mut self) {
        self.jack = None;
    }

    async fn send(&mut self, msg: &DeviceMessage) -> io::Result<()> {
        let jack = self.jack.as_mut().ok_or(io::ErrorKind::NotConnected)?;
        jack.connect(Some(&self.port), self.input.as_deref())
            .map_err(io::Error::other)?;
        match msg {
            // A JACK MIDI event holds one message: NRPN and 14-bit sets go as several.
            DeviceMessage::Midi(b) => rackd_protocol::device::midi::split_messages(b)
                .iter()
                .try_for_each(|m| jack.send(m))
                .map_err(io::Error::other),
            _ => Err(io::Error::other("not a MIDI message")),
        }
    }

    async fn recv(&mut self, until: Instant) -> io::Result<Option<Incoming>> {
        loop {
            let jack = self.jack.as_mut().ok_or(io::ErrorKind::NotConnected)?;
            if jack.is_gone() {
                return Err(io::Error::other(MidiLinkError::ServerGone));
            }
            if let Some(m) = jack.try_recv() {
                return Ok(Some(Incoming::Midi(m)));
            }
            if Instant::now() >= until {
                return Ok(None);
            }
            let tick = Instant::now() + Duration::from_millis(2);
            tokio::time::sleep_until(tick.min(until)).await;
        }
    }

    fn wire_time(&self, bytes: usize) -> Duration {
        BYTE_TIME * bytes as u32
    }
}
