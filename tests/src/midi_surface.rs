//! [`SurfaceStandIn`]: a JACK MIDI client that plays a control surface (a
//! Mackie Control): it sends bytes a surface would send on its `out` port
//! and records what rackd sends to its `in` port, each message stamped with
//! the JACK frame of the cycle it arrived in. Its process callback copies
//! fixed-size packets through `rtrb` rings (no allocation, no lock).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Longest message carried.
const MAX: usize = 256;
const RING: usize = 4096;

#[derive(Clone, Copy)]
struct Packet {
    len: u16,
    frame: u32,
    data: [u8; MAX],
}

struct Process {
    out: jack::Port<jack::MidiOut>,
    input: jack::Port<jack::MidiIn>,
    to_send: rtrb::Consumer<Packet>,
    received: rtrb::Producer<Packet>,
    /// First frame of the last cycle with something sent (for latency).
    sent_frame: Arc<AtomicU32>,
}

impl jack::ProcessHandler for Process {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        let frame = ps.last_frame_time();
        let mut w = self.out.writer(ps);
        let mut sent = false;
        while let Ok(p) = self.to_send.pop() {
            let _ = w.write(&jack::RawMidi {
                time: 0,
                bytes: &p.data[..p.len as usize],
            });
            sent = true;
        }
        if sent {
            self.sent_frame.store(frame, Ordering::SeqCst);
        }
        for ev in self.input.iter(ps) {
            if ev.bytes.len() <= MAX {
                let mut p = Packet {
                    len: ev.bytes.len() as u16,
                    frame,
                    data: [0; MAX],
                };
                p.data[..ev.bytes.len()].copy_from_slice(ev.bytes);
                let _ = self.received.push(p);
            }
        }
        jack::Control::Continue
    }
}

/// One message from rackd, with the first frame of the cycle it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// JACK frame time of the cycle.
    pub frame: u32,
}

/// A JACK client `name` with MIDI ports `in` (rackd sends there) and `out`.
pub struct SurfaceStandIn {
    client: Option<jack::AsyncClient<(), Process>>,
    to_send: rtrb::Producer<Packet>,
    received: rtrb::Consumer<Packet>,
    log: Vec<Received>,
    sent_frame: Arc<AtomicU32>,
    name: String,
}

impl SurfaceStandIn {
    /// Opens the client (JACK's default server, no autostart).
    pub fn start(name: &str) -> SurfaceStandIn {
        let (client, _) = jack::Client::new(name, jack::ClientOptions::NO_START_SERVER)
            .unwrap_or_else(|e| panic!("cannot open JACK client {name}: {e}"));
        let out = client
            .register_port("out", jack::MidiOut::default())
            .expect("out port");
        let input = client
            .register_port("in", jack::MidiIn::default())
            .expect("in port");
        let name = client.name().to_string();
        let (to_send, from_test) = rtrb::RingBuffer::new(RING);
        let (to_test, received) = rtrb::RingBuffer::new(RING);
        let sent_frame = Arc::new(AtomicU32::new(0));
        let client = client
            .activate_async(
                (),
                Process {
                    out,
                    input,
                    to_send: from_test,
                    received: to_test,
                    sent_frame: sent_frame.clone(),
                },
            )
            .expect("activate");
        SurfaceStandIn {
            client: Some(client),
            to_send,
            received,
            log: Vec::new(),
            sent_frame,
            name,
        }
    }

    /// The client's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends one message in the next cycle.
    pub fn send(&mut self, bytes: &[u8]) {
        assert!(bytes.len() <= MAX);
        let mut p = Packet {
            len: bytes.len() as u16,
            frame: 0,
            data: [0; MAX],
        };
        p.data[..bytes.len()].copy_from_slice(bytes);
        self.to_send.push(p).expect("stand-in send ring full");
    }

    /// First frame of the last cycle that sent something.
    pub fn sent_frame(&self) -> u32 {
        self.sent_frame.load(Ordering::SeqCst)
    }

    /// The current JACK frame time.
    pub fn frame_now(&self) -> u32 {
        self.client
            .as_ref()
            .map_or(0, |c| c.as_client().frame_time())
    }

    fn pull(&mut self) {
        while let Ok(p) = self.received.pop() {
            self.log.push(Received {
                bytes: p.data[..p.len as usize].to_vec(),
                frame: p.frame,
            });
        }
    }

    /// Everything received so far (and forgets it).
    pub fn take(&mut self) -> Vec<Received> {
        self.pull();
        std::mem::take(&mut self.log)
    }

    /// Waits until a message satisfies `pred`; returns it and drops what came before.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&[u8]) -> bool,
    ) -> Option<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            self.pull();
            if let Some(i) = self.log.iter().position(|r| pred(&r.bytes)) {
                let hit = self.log[i].clone();
                self.log.drain(..=i);
                return Some(hit);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits until a message satisfies `pred`; returns everything up to and
    /// including it.
    pub fn wait_collect(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&[u8]) -> bool,
    ) -> Option<Vec<Received>> {
        let deadline = Instant::now() + timeout;
        loop {
            self.pull();
            if let Some(i) = self.log.iter().position(|r| pred(&r.bytes)) {
                return Some(self.log.drain(..=i).collect());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// [`SurfaceStandIn::wait_for`] exact bytes.
    pub fn wait_bytes(&mut self, timeout: Duration, bytes: &[u8]) -> Option<Received> {
        self.wait_for(timeout, |b| b == bytes)
    }

    /// Closes the client (its ports go away).
    pub fn close(mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.deactivate();
        }
    }
}

impl Drop for SurfaceStandIn {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.deactivate();
        }
    }
}

/// `F0 00 00 66 14 12 <offset> <text> F7`: the LCD SysEx, built here by hand.
pub fn lcd_bytes(offset: u8, text: &str) -> Vec<u8> {
    let mut m = vec![0xF0, 0x00, 0x00, 0x66, 0x14, 0x12, offset];
    m.extend(text.bytes());
    m.push(0xF7);
    m
}

/// Bytes as upper-case hex pairs, for failure messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}
