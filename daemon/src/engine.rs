//! The audio engine: one [`Backend`] trait with JACK and null implementations,
//! and the control side that feeds parameter changes to the audio thread.
//!
//! The audio thread only ever runs [`rt::RtProcess::process`]; everything it
//! needs is built here, off the audio thread, and changes reach it through a
//! lock-free queue. A backend that (re)starts asks [`EngineControl::build_rt`]
//! for a fresh processor holding the current values, so nothing is lost when
//! JACK goes away and comes back.

pub mod cpal;
pub mod jack;
pub mod null;
pub mod rt;

use crate::config::{AudioConfig, BackendKind, SlotConfig};
use crate::hub::{Event, HubHandle, ParamTree, Target};
use rackd_dsp::{Chain, Meters, Monitor, Processor, SafetyCeiling, SlotKind};
use rt::{RtCommand, RtProcess};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Silence run through a new chain so smoothed parameters reach their values.
const SETTLE_SECONDS: f32 = 0.5;

/// Capacity of the parameter queue to the audio thread.
const QUEUE_CAPACITY: usize = 4096;

/// Engine status shared with surfaces and systemd; written by backend threads.
#[derive(Debug, Default)]
pub struct EngineStatus {
    /// Sample rate in Hz (0 while not running).
    pub sample_rate: AtomicU32,
    /// Frames per period.
    pub period: AtomicU32,
    /// Xruns reported by the backend since start.
    pub xruns: AtomicU64,
    /// DSP load in 1/1000 of the period.
    pub dsp_load_permille: AtomicU32,
    /// Whether audio is being processed now.
    pub running: AtomicBool,
    /// Parameter changes dropped because the queue was full (never expected).
    pub queue_overflows: AtomicU64,
    /// One-line human state: "running: JACK 48000 Hz, 256 frames".
    pub state: Mutex<String>,
}

impl EngineStatus {
    /// Sets the human state line and logs it when it changed.
    pub fn set_state(&self, text: impl Into<String>) {
        let text = text.into();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if *state != text {
            tracing::info!("audio: {text}");
            *state = text;
        }
    }

    /// The human state line.
    pub fn state(&self) -> String {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// One quantity a meter point streams as `/meter/<point>/<quantity>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Sample peak per channel since the last read, dBFS (`,ff`).
    Peak,
    /// Running RMS per channel, dBFS (`,ff`).
    Rms,
    /// True peak (BS.1770 Annex 2) per channel since the last read, dBTP (`,ff`).
    TruePeak,
    /// Momentary loudness, LUFS (`,f`).
    LufsM,
    /// Short-term loudness, LUFS (`,f`).
    LufsS,
    /// Integrated loudness since start, LUFS (`,f`).
    LufsI,
    /// Loudness range, LU (`,f`).
    Lra,
    /// Phase correlation −1..1 (`,f`).
    Correlation,
    /// Largest gain reduction since the last read, dB (`,f`).
    GainReduction,
}

impl Quantity {
    /// The last address part.
    pub fn name(self) -> &'static str {
        match self {
            Quantity::Peak => "peak",
            Quantity::Rms => "rms",
            Quantity::TruePeak => "true_peak",
            Quantity::LufsM => "lufs_m",
            Quantity::LufsS => "lufs_s",
            Quantity::LufsI => "lufs_i",
            Quantity::Lra => "lra",
            Quantity::Correlation => "correlation",
            Quantity::GainReduction => "gain_reduction",
        }
    }
}

/// What a program meter (the `in` and `out` points, `loudness` slots) streams.
pub const PROGRAM: &[Quantity] = &[
    Quantity::Peak,
    Quantity::Rms,
    Quantity::TruePeak,
    Quantity::LufsM,
    Quantity::LufsS,
    Quantity::LufsI,
    Quantity::Lra,
    Quantity::Correlation,
];

/// One place in the signal path that publishes readings.
#[derive(Debug, Clone)]
pub struct MeterPoint {
    /// Address part: `in`, `out` or a slot id.
    pub name: String,
    /// Lock-free readings written by the audio thread.
    pub meters: Arc<Meters>,
    /// What it streams.
    pub quantities: &'static [Quantity],
}

/// The meter points the audio thread publishes: `in` (before the chain),
/// `out` (after the safety ceiling) and every slot that measures something.
#[derive(Debug, Clone)]
pub struct MeterPoints {
    /// Points in signal order.
    pub points: Vec<MeterPoint>,
}

/// Current engine-side values of every slot (what a rebuilt chain starts with).
#[derive(Debug, Clone)]
struct SlotValues {
    params: Vec<f32>,
    bypass: bool,
}

struct ControlInner {
    values: Vec<SlotValues>,
    /// Monitor section values, by `Monitor::params` index.
    monitor: Vec<f32>,
    producer: Option<rtrb::Producer<RtCommand>>,
}

/// The control side of the engine: owned off the audio thread.
pub struct EngineControl {
    slots: Vec<SlotConfig>,
    audio: AudioConfig,
    inner: Mutex<ControlInner>,
    status: Arc<EngineStatus>,
    meters: MeterPoints,
    /// Each slot's readings, by slot index (also those not streamed).
    slot_meters: Vec<Arc<Meters>>,
    ceiling_engaged: Arc<AtomicU64>,
}

impl EngineControl {
    /// Control for a chain of `slots` with default values.
    pub fn new(slots: &[SlotConfig], audio: &AudioConfig) -> Arc<Self> {
        let values = slots
            .iter()
            .map(|s| SlotValues {
                params: s
                    .kind
                    .params()
                    .iter()
                    .map(|p| p.engine_value(&p.default))
                    .collect(),
                bypass: false,
            })
            .collect();
        let point = |name: &str, quantities| MeterPoint {
            name: name.to_string(),
            meters: Meters::new(),
            quantities,
        };
        let mut points = vec![point("in", PROGRAM)];
        let mut slot_meters = Vec::with_capacity(slots.len());
        for s in slots {
            let quantities: &'static [Quantity] = match s.kind {
                SlotKind::Meter => &[Quantity::Peak, Quantity::Rms],
                SlotKind::Loudness => PROGRAM,
                SlotKind::Compressor | SlotKind::Limiter => &[Quantity::GainReduction],
                _ => &[],
            };
            let p = point(&s.id, quantities);
            slot_meters.push(p.meters.clone());
            if !quantities.is_empty() {
                points.push(p);
            }
        }
        points.push(point("out", PROGRAM));
        Arc::new(EngineControl {
            slots: slots.to_vec(),
            audio: audio.clone(),
            inner: Mutex::new(ControlInner {
                values,
                monitor: Monitor::params()
                    .iter()
                    .map(|p| p.engine_value(&p.default))
                    .collect(),
                producer: None,
            }),
            status: Arc::new(EngineStatus {
                state: Mutex::new("starting".into()),
                ..EngineStatus::default()
            }),
            meters: MeterPoints { points },
            slot_meters,
            ceiling_engaged: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Status for `/rackd/status` and systemd.
    pub fn status(&self) -> &Arc<EngineStatus> {
        &self.status
    }

    /// The readings of a fixed meter point (`in`, `out`).
    fn meter(&self, name: &str) -> Arc<Meters> {
        self.meters
            .points
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.meters.clone())
            .unwrap_or_else(Meters::new)
    }

    /// Meter points for `/meter/...`.
    pub fn meters(&self) -> &MeterPoints {
        &self.meters
    }

    /// How many blocks the safety ceiling had to reduce gain in.
    pub fn ceiling_engagements(&self) -> u64 {
        self.ceiling_engaged.load(Ordering::Relaxed)
    }

    /// The audio config the backends read.
    pub fn audio(&self) -> &AudioConfig {
        &self.audio
    }

    /// Sends a changed value towards the audio thread (and remembers it for rebuilds).
    pub fn apply(&self, target: Target, value: f32) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let cmd = match target {
            Target::ChainParam { slot, index } => {
                if let Some(v) = inner
                    .values
                    .get_mut(slot)
                    .and_then(|s| s.params.get_mut(index))
                {
                    *v = value;
                }
                RtCommand::Param {
                    slot: slot as u16,
                    index: index as u16,
                    value,
                }
            }
            Target::ChainBypass { slot } => {
                if let Some(s) = inner.values.get_mut(slot) {
                    s.bypass = value >= 0.5;
                }
                RtCommand::Bypass {
                    slot: slot as u16,
                    bypass: value >= 0.5,
                }
            }
            Target::Monitor { index } => {
                if let Some(v) = inner.monitor.get_mut(index) {
                    *v = value;
                }
                RtCommand::Monitor {
                    index: index as u16,
                    value,
                }
            }
            Target::Outboard { .. } => return,
        };
        if let Some(p) = inner.producer.as_mut()
            && p.push(cmd).is_err()
        {
            self.status.queue_overflows.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends every chain value of a state (values the tree does not know, or
    /// that its specs refuse, are left out).
    pub fn apply_state(&self, tree: &ParamTree, state: &rackd_protocol::state::RackState) {
        for (address, value) in &state.values {
            if let Some(entry) = tree.get(address)
                && let Ok(value) = entry.spec.accept(value)
            {
                self.apply(entry.target, entry.spec.engine_value(&value));
            }
        }
    }

    /// Builds a fresh real-time processor with the current values and makes it
    /// the receiver of future changes. Called by backends off the audio thread.
    pub fn build_rt(&self, sample_rate: u32, max_block: usize) -> RtProcess {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let sr = sample_rate as f32;
        let mut chain = Chain::new(sr, max_block);
        for (slot, cfg) in self.slots.iter().enumerate() {
            chain.push(
                cfg.kind
                    .build(sr, max_block, self.slot_meters[slot].clone()),
            );
            let values = &inner.values[slot];
            for (index, v) in values.params.iter().enumerate() {
                chain.set_param(slot, index, *v);
            }
            chain.set_bypass(slot, values.bypass, true);
        }
        // Start at the settings, not gliding from the defaults (a reconnect must not sweep).
        chain.settle(SETTLE_SECONDS);
        let mut monitor = Monitor::new(sr);
        for (index, v) in inner.monitor.iter().enumerate() {
            monitor.set_param(index, *v);
        }
        monitor.settle();
        let (producer, consumer) = rtrb::RingBuffer::new(QUEUE_CAPACITY);
        inner.producer = Some(producer);
        RtProcess::new(
            chain,
            monitor,
            consumer,
            SlotKind::Loudness.build(sr, max_block, self.meter("in")),
            SlotKind::Loudness.build(sr, max_block, self.meter("out")),
            SafetyCeiling::new(self.audio.ceiling_dbfs, sr)
                .with_counter(self.ceiling_engaged.clone()),
        )
    }
}

/// Something that runs the chain on an audio thread: JACK, null (and later cpal).
pub trait Backend: Send {
    /// Short name for status (`jack`, `null`).
    fn name(&self) -> &'static str;
    /// Starts processing on threads of its own; the returned handle stops it.
    fn start(self: Box<Self>, control: Arc<EngineControl>) -> anyhow::Result<Running>;
}

/// A started backend; dropping it without [`Running::stop`] leaves it running.
pub struct Running {
    name: &'static str,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Wraps a backend's manager thread and its stop flag.
    pub fn new(name: &'static str, stop: Arc<AtomicBool>, thread: JoinHandle<()>) -> Self {
        Running {
            name,
            stop,
            thread: Some(thread),
        }
    }

    /// Backend name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Stops processing and waits for the backend's threads.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The backend the config asks for.
pub fn backend_for(audio: &AudioConfig) -> Box<dyn Backend> {
    match audio.backend {
        BackendKind::Jack => Box::new(jack::JackBackend::new(audio)),
        BackendKind::Null => Box::new(null::NullBackend::new(audio)),
        BackendKind::Cpal => Box::new(cpal::CpalBackend::new(audio)),
    }
}

/// Forwards every hub change that concerns the chain to the engine. Runs until the hub stops.
pub async fn follow_hub(hub: HubHandle, control: Arc<EngineControl>) {
    let mut events = hub.subscribe();
    // Start from the hub's state: it may have been restored before we subscribed.
    if let Ok(state) = hub.state().await {
        control.apply_state(hub.tree(), &state);
    }
    loop {
        match events.recv().await {
            Ok(Event::Changed { address, value, .. }) => {
                if let Some(entry) = hub.tree().get(&address) {
                    control.apply(entry.target, entry.spec.engine_value(&value));
                }
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!("engine missed {n} changes; resyncing from the hub");
                if let Ok(state) = hub.state().await {
                    control.apply_state(hub.tree(), &state);
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Sleeps up to `total` on a backend's manager thread, waking early when stopped.
pub(crate) fn sleep_unless_stopped(total: std::time::Duration, stop: &AtomicBool) {
    let until = std::time::Instant::now() + total;
    while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A backend manager thread's life: run `session` (one client or stream
/// lifetime) again and again until stopped; when it fails, say why in the
/// status (and in the log once, then every 30 s) and retry after `retry`.
pub(crate) fn run_until_stopped(
    status: &EngineStatus,
    stop: &AtomicBool,
    retry: std::time::Duration,
    mut session: impl FnMut() -> anyhow::Result<()>,
    waiting: impl Fn(&anyhow::Error) -> String,
) {
    let mut last_complaint: Option<std::time::Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = session() {
            status.running.store(false, Ordering::Relaxed);
            let text = format!("{}; retrying every {}s", waiting(&e), retry.as_secs());
            if last_complaint.is_none_or(|t| t.elapsed() > std::time::Duration::from_secs(30)) {
                tracing::warn!("{text}");
                last_complaint = Some(std::time::Instant::now());
            }
            status.set_state(text);
            sleep_unless_stopped(retry, stop);
        }
    }
    status.running.store(false, Ordering::Relaxed);
    status.set_state("stopped");
}
