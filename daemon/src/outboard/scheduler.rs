//! One task per port: it owns the link, sends each device's messages in
//! order at the pace its profile allows (minimum gap, messages per second,
//! wire time at the baud rate), waits for acknowledgements and replies with
//! timeout and retries, and marks devices offline when they stop answering.
//! Ports run in parallel; devices sharing a port (an RS-485 bus) take turns.

use super::{DeviceStatus, Job, Progress, State};
use crate::hub::{HubHandle, Origin};
use crate::profiles::Device;
use rackd_protocol::device::Raw;
use rackd_protocol::device::{
    self, DeviceMessage, encode_query, encode_set, has_readback, identity_query, init_messages,
};
use rackd_protocol::param::Value;
use rackd_protocol::profile::{Pacing, SerialFormat, TransportKind};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Something a device sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// One serial reply frame (text without its terminator).
    Frame(Vec<u8>),
    /// One OSC message.
    Osc(rosc::OscMessage),
    /// One MIDI message.
    Midi(Vec<u8>),
    /// Bytes that are not a message of the transport.
    Junk(String),
}

/// A port the scheduler drives: a serial line or an OSC device's address.
pub trait Link: Send + 'static {
    /// Opens (or reopens) the port.
    fn open(&mut self) -> impl Future<Output = std::io::Result<()>> + Send;
    /// Whether the port is open.
    fn is_open(&self) -> bool;
    /// Closes the port (after an I/O error, so the next open starts clean).
    fn close(&mut self);
    /// Writes one message.
    fn send(&mut self, msg: &DeviceMessage) -> impl Future<Output = std::io::Result<()>> + Send;
    /// The next thing the device sends; `Ok(None)` when `until` passes first.
    fn recv(
        &mut self,
        until: Instant,
    ) -> impl Future<Output = std::io::Result<Option<Incoming>>> + Send;
    /// How long `bytes` take on the wire (zero for network links).
    fn wire_time(&self, bytes: usize) -> Duration;
}

/// The pace of one device: the gap its profile asks between two messages.
#[derive(Debug, Clone)]
pub struct Pacer {
    gap: Duration,
    next: Option<Instant>,
}

impl Pacer {
    /// A pacer for a profile's pacing: the larger of `min_interval_ms` and
    /// `1 s / max_per_second`.
    pub fn new(p: &Pacing) -> Self {
        let per_second = match p.max_per_second {
            0 => Duration::ZERO,
            n => Duration::from_secs(1) / n,
        };
        Pacer {
            gap: Duration::from_millis(p.min_interval_ms as u64).max(per_second),
            next: None,
        }
    }

    /// The earliest time the next message may start.
    pub fn ready_at(&self, now: Instant) -> Instant {
        self.next.map_or(now, |n| n.max(now))
    }

    /// Records a message that started at `at` and took `wire` on the line.
    pub fn sent(&mut self, at: Instant, wire: Duration) {
        self.next = Some(at + wire.max(self.gap));
    }
}

/// Why a transaction failed, in words: it becomes the device's line in the
/// recall report and its offline reason.
type FailReason = String;

/// What a transaction waits for after sending.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Nothing,
    Ack,
    Value(String),
    Identity,
}

/// One device on a port, with its pacing and status.
pub(super) struct PortDevice {
    pub index: usize,
    pub device: Device,
    pub status: Arc<DeviceStatus>,
    pub pacer: Pacer,
    /// What the MIDI decoder remembers between arrivals (a front-panel NRPN
    /// move comes as four messages, often in separate events).
    pub midi: std::sync::Mutex<device::midi::MidiDecodeState>,
}

/// The task that owns one port.
pub(super) struct Port<L: Link> {
    pub name: String,
    pub link: L,
    pub devices: Vec<PortDevice>,
    pub hub: Option<HubHandle>,
    /// Current reconnect backoff.
    pub retry_after: Duration,
    /// When the line has sent the last message's bytes (shared by a bus's units).
    pub line_free: Option<Instant>,
}

/// How an identity mismatch ends its error message.
const WRONG_DEVICE: &str = "wrong device on this port?";
const OSC_TIMEOUT: Duration = Duration::from_millis(300);
const OSC_RETRIES: u32 = 2;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl<L: Link> Port<L> {
    /// Serves jobs until every sender is gone; reconnects offline devices with backoff.
    pub async fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        self.connect_all().await;
        let mut retry_at = Instant::now() + self.retry_after;
        loop {
            let offline = self
                .devices
                .iter()
                .any(|d| d.status.state() != State::Online);
            let listening = self.link.is_open();
            tokio::select! {
                job = jobs.recv() => match job {
                    Some(job) => self.job(job).await,
                    None => return,
                },
                got = self.link.recv(Instant::now() + Duration::from_secs(3600)), if listening => {
                    match got {
                        Ok(Some(incoming)) => self.unsolicited(incoming).await,
                        Ok(None) => {}
                        Err(e) => self.lost(&format!("{}: {e}", self.name)),
                    }
                }
                _ = tokio::time::sleep_until(retry_at), if offline => {
                    let before = self.devices.iter().filter(|d| d.status.state() == State::Online).count();
                    self.connect_all().await;
                    let after = self.devices.iter().filter(|d| d.status.state() == State::Online).count();
                    self.retry_after = if after > before {
                        Duration::from_secs(1)
                    } else {
                        (self.retry_after * 2).min(MAX_BACKOFF)
                    };
                    retry_at = Instant::now() + self.retry_after;
                }
            }
        }
    }

    /// The port closed under us (unplugged): every device on it is offline.
    fn lost(&mut self, why: &str) {
        tracing::warn!("outboard port lost: {why}");
        self.link.close();
        for d in &self.devices {
            d.status.set(State::Offline, Some(why.to_string()));
        }
    }

    async fn connect_all(&mut self) {
        for i in 0..self.devices.len() {
            let was = self.devices[i].status.state();
            if was == State::Online {
                continue;
            }
            match self.connect(i).await {
                Ok(()) if was == State::Offline => self.restore(i).await,
                Ok(()) => {}
                Err(e) => {
                    let d = &self.devices[i];
                    if d.status.last_error().as_deref() != Some(e.as_str()) {
                        tracing::warn!("outboard {}: offline: {e}", d.device.id);
                    }
                    d.status.set(State::Offline, Some(e));
                }
            }
        }
    }

    /// A device back after being offline (replugged, switched on) may hold
    /// anything: send it the room's current values.
    async fn restore(&mut self, i: usize) {
        let Some(hub) = &self.hub else { return };
        let Ok(state) = hub.state().await else { return };
        let d = &self.devices[i].device;
        let values: Vec<(String, Value)> = d
            .profile
            .params
            .iter()
            .filter_map(|p| {
                let v = state.values.get(&format!("/outboard/{}/{}", d.id, p.id))?;
                Some((p.id.clone(), v.clone()))
            })
            .collect();
        for (param, value) in &values {
            if let Err(e) = self.set(i, param, value).await {
                let d = &self.devices[i];
                tracing::warn!("outboard {}: {e}", d.device.id);
                d.status.set(State::Offline, Some(e));
                return;
            }
        }
        tracing::info!(
            "outboard {}: back online; sent the {} current values",
            self.devices[i].device.id,
            values.len()
        );
    }

    /// Opens the port if needed, sends the init sequence and checks the identity.
    async fn connect(&mut self, i: usize) -> Result<(), FailReason> {
        if !self.link.is_open() {
            self.link
                .open()
                .await
                .map_err(|e| format!("cannot open {}: {e}", self.name))?;
        }
        let d = &self.devices[i].device;
        for msg in init_messages(&d.profile, &d.ctx).map_err(|e| e.to_string())? {
            // Some devices answer init commands with an error; that is not fatal.
            let _ = self.transact(i, &msg, self.ack_expected(i)).await;
        }
        let d = &self.devices[i].device;
        // MIDI devices answer the universal identity request only when their
        // profile says so.
        let asks = d.transport() != TransportKind::Midi
            || d.profile
                .midi
                .as_ref()
                .is_some_and(|m| m.identity.is_some());
        if let Some(q) = identity_query(&d.profile, &d.ctx).filter(|_| asks) {
            self.transact(i, &q, Expect::Identity)
                .await
                .map_err(|e| match e {
                    e if e.ends_with(WRONG_DEVICE) => e,
                    e => format!("no answer to the identity query ({e})"),
                })?;
        }
        let d = &self.devices[i];
        tracing::info!("outboard {}: online on {}", d.device.id, self.name);
        d.status.set(State::Online, None);
        Ok(())
    }

    fn ack_expected(&self, i: usize) -> Expect {
        let p = &self.devices[i].device.profile;
        match &p.serial {
            Some(s) if p.pacing.wait_ack && s.ack.is_some() => Expect::Ack,
            _ => Expect::Nothing,
        }
    }

    fn timing(&self, i: usize) -> (Duration, u32) {
        match &self.devices[i].device.profile.serial {
            Some(s) => (Duration::from_millis(s.timeout_ms as u64), s.retries),
            None => (OSC_TIMEOUT, OSC_RETRIES),
        }
    }

    /// Sends one message (paced) and waits for what it expects, with retries.
    async fn transact(
        &mut self,
        i: usize,
        msg: &DeviceMessage,
        expect: Expect,
    ) -> Result<Option<Value>, FailReason> {
        let (timeout, retries) = self.timing(i);
        let mut why = String::from("no reply");
        for _ in 0..=retries {
            let len = match msg {
                DeviceMessage::Midi(b) | DeviceMessage::Serial(b) => b.len(),
                DeviceMessage::Osc(_) => 0,
            };
            let now = Instant::now();
            let at = self.devices[i]
                .pacer
                .ready_at(now)
                .max(self.line_free.unwrap_or(now));
            tokio::time::sleep_until(at).await;
            let wire = self.link.wire_time(len);
            if let Err(e) = self.link.send(msg).await {
                let why = format!("{}: {e}", self.name);
                self.lost(&why);
                return Err(why);
            }
            self.devices[i].pacer.sent(at, wire);
            self.line_free = Some(at + wire);
            if expect == Expect::Nothing {
                return Ok(None);
            }
            let deadline = Instant::now() + wire + timeout;
            loop {
                let got = match self.link.recv(deadline).await {
                    Ok(Some(g)) => g,
                    Ok(None) => break,
                    Err(e) => {
                        let why = format!("{}: {e}", self.name);
                        self.lost(&why);
                        return Err(why);
                    }
                };
                match self.classify(i, &got) {
                    Reply::Ack if expect == Expect::Ack => return Ok(None),
                    Reply::Identity if expect == Expect::Identity => return Ok(None),
                    Reply::Foreign { expected, found } if expect == Expect::Identity => {
                        return Err(format!(
                            "expected {expected}, found {found}: {WRONG_DEVICE}"
                        ));
                    }
                    Reply::Value { param, value } if Expect::Value(param.clone()) == expect => {
                        return Ok(Some(value));
                    }
                    Reply::Value { param, value } => self.report(i, &param, value).await,
                    Reply::Error(text) => {
                        why = format!("refused: {text}");
                        break;
                    }
                    Reply::Other(text) | Reply::Foreign { found: text, .. } => {
                        why = format!("unexpected reply {text}")
                    }
                    _ => {}
                }
            }
        }
        Err(match expect {
            Expect::Ack if why == "no reply" => {
                format!("no acknowledgement after {} tries", retries + 1)
            }
            _ => format!("{why} after {} tries", retries + 1),
        })
    }

    /// What an incoming unit means for device `i`.
    fn classify(&self, i: usize, got: &Incoming) -> Reply {
        let d = &self.devices[i].device;
        match got {
            Incoming::Frame(f) => match device::serial::classify(&d.profile, f, &d.ctx) {
                device::serial::Reply::Ack => Reply::Ack,
                device::serial::Reply::Error(t) => Reply::Error(t),
                device::serial::Reply::Value { param, value } => Reply::Value { param, value },
                device::serial::Reply::Identity => Reply::Identity,
                device::serial::Reply::Unknown => {
                    let found = format!("{:?}", String::from_utf8_lossy(f));
                    let t = d.profile.serial.as_ref();
                    match t.and_then(|t| t.identity.as_ref()) {
                        // A text line from an ASCII device is another
                        // device's answer, not line noise.
                        Some(id)
                            if t.is_some_and(|t| t.format == SerialFormat::Ascii)
                                && printable(f) =>
                        {
                            Reply::Foreign {
                                expected: format!("{:?}", id.reply.trim_end()),
                                found,
                            }
                        }
                        _ => Reply::Other(found),
                    }
                }
            },
            Incoming::Osc(m) => {
                match device::osc::identity_answer(&d.profile, m) {
                    Some(Ok(())) => return Reply::Identity,
                    Some(Err((expected, found))) => return Reply::Foreign { expected, found },
                    None => {}
                }
                match device::osc::decode(&d.profile, m) {
                    Ok(Some((param, value))) => Reply::Value { param, value },
                    Ok(None) => Reply::Other(m.addr.clone()),
                    Err(e) => Reply::Other(e.to_string()),
                }
            }
            Incoming::Midi(bytes) => {
                if let Some(reply) = device::midi::parse_identity_reply(bytes) {
                    let midi = d.profile.midi.as_ref();
                    return match midi.and_then(device::midi::expected_identity) {
                        Some(expected)
                            if !midi.is_some_and(|m| device::midi::identity_matches(m, &reply)) =>
                        {
                            Reply::Foreign {
                                expected,
                                found: reply.describe(),
                            }
                        }
                        _ => Reply::Identity,
                    };
                }
                let mut state = self.devices[i]
                    .midi
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let mut decoder = device::midi::MidiDecoder::resume(
                    &d.profile,
                    d.ctx,
                    std::mem::take(&mut *state),
                );
                let found = decoder.feed(bytes).into_iter().next();
                *state = decoder.into_state();
                match found {
                    Some((param, value)) => Reply::Value { param, value },
                    None => Reply::Other(device::midi::hex(bytes)),
                }
            }
            Incoming::Junk(t) => Reply::Other(t.clone()),
        }
    }

    /// A value the device reported by itself goes to the hub, so surfaces follow.
    async fn report(&mut self, i: usize, param: &str, value: Value) {
        let d = &self.devices[i].device;
        if let Some(hub) = &self.hub {
            let address = format!("/outboard/{}/{param}", d.id);
            if let Err(e) = hub
                .set(&address, value, false, Origin::Device(d.id.clone()))
                .await
            {
                tracing::warn!("outboard {}: report not taken: {e}", d.id);
            }
        }
    }

    async fn unsolicited(&mut self, got: Incoming) {
        for i in 0..self.devices.len() {
            if let Reply::Value { param, value } = self.classify(i, &got) {
                self.report(i, &param, value).await;
                return;
            }
        }
        tracing::debug!("{}: ignored {got:?}", self.name);
    }

    fn find(&self, index: usize) -> Option<usize> {
        self.devices.iter().position(|d| d.index == index)
    }

    async fn job(&mut self, job: Job) {
        match job {
            Job::Set {
                device,
                param,
                value,
            } => {
                let Some(i) = self.find(device) else { return };
                if self.devices[i].status.state() != State::Online {
                    tracing::debug!(
                        "outboard {}: offline; {param} will be sent with the next recall",
                        self.devices[i].device.id
                    );
                    return;
                }
                if let Err(e) = self.set(i, &param, &value).await {
                    let d = &self.devices[i];
                    tracing::warn!("outboard {}: {e}", d.device.id);
                    // A device that refuses a value still answers; one that is silent is gone.
                    if !e.contains("refused") {
                        d.status.set(State::Offline, Some(e));
                    }
                }
            }
            Job::Recall {
                device,
                values,
                progress,
                reply,
            } => {
                let Some(i) = self.find(device) else { return };
                let result = self.recall(i, values, &progress).await;
                let _ = reply.send(result);
            }
        }
    }

    async fn set(&mut self, i: usize, param: &str, value: &Value) -> Result<(), FailReason> {
        let d = &self.devices[i].device;
        let msgs = encode_set(&d.profile, param, value, &d.ctx).map_err(|e| e.to_string())?;
        let expect = self.ack_expected(i);
        for m in &msgs {
            self.transact(i, m, expect.clone())
                .await
                .map_err(|e| format!("{param}: {e}"))?;
        }
        Ok(())
    }

    /// Sends every value, then reads back what the profile can; the result
    /// line of the recall report.
    async fn recall(
        &mut self,
        i: usize,
        values: Vec<(String, Value)>,
        progress: &Progress,
    ) -> Result<usize, FailReason> {
        if self.devices[i].status.state() != State::Online
            && let Err(e) = self.connect(i).await
        {
            self.devices[i].status.set(State::Offline, Some(e.clone()));
            return Err(format!("offline: {e}"));
        }
        let readable: Vec<&(String, Value)> = values
            .iter()
            .filter(|(p, _)| has_readback(&self.devices[i].device.profile, p))
            .collect();
        let total = values.len() + readable.len();
        let id = self.devices[i].device.id.clone();
        let mut done = 0;
        for (param, value) in &values {
            if let Err(e) = self.set(i, param, value).await {
                self.devices[i].status.set(State::Offline, Some(e.clone()));
                return Err(e);
            }
            done += 1;
            progress(&id, done, total);
        }
        let mut verified = 0;
        let mut mismatches = Vec::new();
        for (param, want) in readable {
            let d = self.devices[i].device.clone();
            let q = encode_query(&d.profile, param, &d.ctx).map_err(|e| e.to_string())?;
            let got = self
                .transact(i, &q, Expect::Value(param.clone()))
                .await
                .map_err(|e| format!("readback of {param}: {e}"))?;
            done += 1;
            progress(&id, done, total);
            match got {
                Some(v) if same(&d, param, &v, want) => verified += 1,
                Some(v) => {
                    mismatches.push(format!("{param} reads {v}, expected {want}"));
                    self.report(i, param, v).await;
                }
                None => mismatches.push(format!("{param}: no value in the reply")),
            }
        }
        if mismatches.is_empty() {
            Ok(verified)
        } else {
            Err(format!("verify: {}", mismatches.join("; ")))
        }
    }
}

/// Whether a read-back value is the one sent, compared as the device holds
/// it (its integer steps, or the precision of its float).
fn same(d: &Device, param: &str, got: &Value, want: &Value) -> bool {
    let Some(def) = d.profile.param(param) else {
        return got == want;
    };
    let near = |a: f64, b: f64| (a - b).abs() <= 1e-4 * a.abs().max(b.abs()).max(1.0);
    match (
        device::to_raw(&d.profile, def, got),
        device::to_raw(&d.profile, def, want),
    ) {
        (Raw::Int(a), Raw::Int(b)) => a == b,
        (Raw::Float(a), Raw::Float(b)) => near(a, b),
        (a, b) => a == b,
    }
}

/// A reply as the scheduler sees it.
#[derive(Debug)]
enum Reply {
    Ack,
    Error(String),
    Value {
        param: String,
        value: Value,
    },
    Identity,
    /// A well-formed answer that is not this profile's: another device
    /// (its identity, when it answered the identity query).
    Foreign {
        expected: String,
        found: String,
    },
    Other(String),
}

/// Whether a serial frame is a line of text (not noise).
fn printable(frame: &[u8]) -> bool {
    let end = frame
        .iter()
        .rposition(|c| *c != b'\r' && *c != b'\n')
        .map_or(0, |i| i + 1);
    end > 0 && frame[..end].iter().all(|c| (0x20..0x7F).contains(c))
}

#[cfg(test)]
mod tests;
