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
use rackd_dsp::{Chain, HardwareInsert, Meters, Monitor, Processor, SafetyCeiling, SlotKind};
use rt::{NewChain, PrintTake, RtCommand, RtProcess, RtRings};
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
    /// Process cycles that did not follow on from the previous one on the
    /// backend's frame clock (JACK ran us late: twice in one period, or not
    /// at all). Each one glitches the output for a period or two.
    pub cycle_breaks: AtomicU64,
    /// Changes the audio thread has taken off its queue: a client can wait
    /// for its change to be playing instead of guessing how long it takes.
    pub changes_taken: AtomicU64,
    /// Slot-layout handovers the audio thread has finished.
    pub layout_changes: AtomicU64,
    /// DSP load in 1/1000 of the period.
    pub dsp_load_permille: AtomicU32,
    /// Whether audio is being processed now.
    pub running: AtomicBool,
    /// Parameter changes dropped because the queue was full (never expected).
    pub queue_overflows: AtomicU64,
    /// Latency of the chain now playing, in samples (written by the audio thread).
    pub latency: Arc<AtomicU32>,
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
    /// Slot layout: where it plays and whether it plays at all.
    position: i64,
    active: bool,
}

/// The control ends of the rings of the [`RtProcess`] now running.
struct RtSide {
    commands: rtrb::Producer<RtCommand>,
    chains: rtrb::Producer<NewChain>,
    retired: rtrb::Consumer<Box<Chain>>,
    takes: rtrb::Producer<Box<PrintTake>>,
    takes_done: rtrb::Consumer<Box<PrintTake>>,
    sample_rate: u32,
    max_block: usize,
    /// The layout of the newest chain sent.
    layout: Vec<usize>,
    /// Measurement recordings of each insert slot of the newest chain.
    captures: Vec<Option<rtrb::Consumer<f32>>>,
    /// Counts chains sent, so a measurement knows its chain was replaced.
    generation: u64,
}

struct ControlInner {
    values: Vec<SlotValues>,
    /// Monitor section values, by `Monitor::params` index.
    monitor: Vec<f32>,
    rt: Option<RtSide>,
}

/// Rings to the audio thread hold this many chains / takes in flight.
const CHAINS_IN_FLIGHT: usize = 4;
/// Replaced chains waiting to be dropped off the audio thread.
const RETIRED_CAPACITY: usize = 64;

/// Captures a measurement takes at most before it gives up on xruns.
pub const MEASURE_TRIES: usize = 10;

/// The outcome of a round-trip measurement of an insert.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Measured {
    /// Round trip in samples (send written → return read).
    pub latency: usize,
    /// The return comes back with its polarity inverted.
    pub inverted: bool,
    /// Level of the return relative to the send, dB.
    pub gain_db: f32,
    /// How far the correlation peak stands out, dB.
    pub confidence_db: f32,
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
            .enumerate()
            .map(|(i, s)| SlotValues {
                params: s
                    .kind
                    .params()
                    .iter()
                    .map(|p| p.engine_value(&p.default))
                    .collect(),
                bypass: false,
                position: i as i64,
                active: s.active,
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
                rt: None,
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
            // Layout changes take effect in `sync_layout`, once per batch.
            Target::ChainPosition { slot } => {
                if let Some(s) = inner.values.get_mut(slot) {
                    s.position = value as i64;
                }
                return;
            }
            Target::ChainActive { slot } => {
                if let Some(s) = inner.values.get_mut(slot) {
                    s.active = value >= 0.5;
                }
                return;
            }
            Target::Outboard { .. } => return,
        };
        self.send(&mut inner, cmd);
    }

    fn send(&self, inner: &mut ControlInner, cmd: RtCommand) {
        if let Some(rt) = inner.rt.as_mut()
            && rt.commands.push(cmd).is_err()
        {
            self.status.queue_overflows.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The slot layout the values ask for ([`crate::hub::play_order`]).
    fn layout_of(values: &[SlotValues]) -> Vec<usize> {
        crate::hub::play_order(values.iter().map(|v| (v.active, v.position)))
    }

    /// The configured slot indexes now playing, in order.
    pub fn layout(&self) -> Vec<usize> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match &inner.rt {
            Some(rt) => rt.layout.clone(),
            None => Self::layout_of(&inner.values),
        }
    }

    /// Sends a chain with the new layout when it differs from the one playing:
    /// built here with all its memory, warmed up and crossfaded in by the
    /// audio thread, the old one sent back to be dropped here. Called after a
    /// batch of changes, so a recall that moves several slots crossfades once.
    pub fn sync_layout(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let layout = Self::layout_of(&inner.values);
        let Some(rt) = inner.rt.as_mut() else {
            return;
        };
        while rt.retired.pop().is_ok() {}
        if rt.layout == layout {
            return;
        }
        if rt.chains.slots() == 0 {
            tracing::warn!("slot layout changes come faster than the audio thread takes them");
            return;
        }
        let (sr, max_block) = (rt.sample_rate, rt.max_block);
        let dip = self.insert_input_changes(&rt.layout, &layout);
        let (chain, captures) = self.build_chain(&inner.values, sr, max_block, &layout);
        let Some(rt) = inner.rt.as_mut() else {
            return;
        };
        if rt.chains.push(NewChain { chain, dip }).is_ok() {
            tracing::info!(
                "slot layout: {}{}",
                self.layout_names(&layout),
                if dip {
                    " (an insert's input changes: fading out and back in)"
                } else {
                    ""
                }
            );
            rt.layout = layout;
            rt.captures = captures;
            rt.generation += 1;
        }
    }

    /// Whether an insert playing in both layouts gets a different signal in
    /// the new one (other slots before it): then the chains cannot crossfade
    /// through the one piece of gear (see [`NewChain::dip`]).
    fn insert_input_changes(&self, old: &[usize], new: &[usize]) -> bool {
        new.iter().enumerate().any(|(at, &slot)| {
            self.slots[slot].kind == SlotKind::Insert
                && old
                    .iter()
                    .position(|&s| s == slot)
                    .is_some_and(|was| old[..was] != new[..at])
        })
    }

    /// `eq > comp > limiter`, for logs.
    fn layout_names(&self, layout: &[usize]) -> String {
        let names: Vec<&str> = layout.iter().map(|&i| self.slots[i].id.as_str()).collect();
        if names.is_empty() {
            "(empty)".into()
        } else {
            names.join(" > ")
        }
    }

    /// Insert number of configured slot `slot` (its ports), counted among inserts.
    pub fn insert_number(&self, slot: usize) -> usize {
        self.slots[..slot]
            .iter()
            .filter(|s| s.kind == SlotKind::Insert)
            .count()
    }

    /// The configured slots (config order).
    pub fn slots(&self) -> &[SlotConfig] {
        &self.slots
    }

    /// A chain playing `layout`, at the current values, settled (off the audio thread).
    fn build_chain(
        &self,
        values: &[SlotValues],
        sample_rate: u32,
        max_block: usize,
        layout: &[usize],
    ) -> (Box<Chain>, Vec<Option<rtrb::Consumer<f32>>>) {
        let sr = sample_rate as f32;
        let mut chain = Box::new(Chain::new(sr, max_block));
        chain.reserve_slots(self.slots.len());
        let mut captures: Vec<Option<rtrb::Consumer<f32>>> =
            (0..self.slots.len()).map(|_| None).collect();
        for &slot in layout {
            let cfg = &self.slots[slot];
            let processor: Box<dyn Processor> = if cfg.kind == SlotKind::Insert {
                let (producer, consumer) =
                    rtrb::RingBuffer::new(2 * rackd_dsp::latency::CAPTURE_LEN);
                captures[slot] = Some(consumer);
                Box::new(HardwareInsert::new(
                    sr,
                    self.insert_number(slot),
                    Some(producer),
                    self.slot_meters[slot].clone(),
                ))
            } else {
                cfg.kind
                    .build(sr, max_block, self.slot_meters[slot].clone())
            };
            chain.push_slot(slot, processor);
            let v = &values[slot];
            for (index, x) in v.params.iter().enumerate() {
                chain.set_param(slot, index, *x);
            }
            chain.set_bypass(slot, v.bypass, true);
        }
        // Start at the settings, not gliding from the defaults (a reconnect must not sweep).
        chain.settle(SETTLE_SECONDS);
        (chain, captures)
    }

    /// Measures the round trip of insert slot `slot`: sends the test burst,
    /// records the returns and finds it in them. A capture during which the
    /// backend reported an xrun or a cycle break is taken again (a dropout
    /// in the burst or its return would make the result a guess), for up to
    /// [`MEASURE_TRIES`] tries. Blocks for about half a second per try; call
    /// it off the async threads.
    pub fn measure(&self, slot: usize) -> Result<Measured, String> {
        use rackd_dsp::latency::{burst, find_delay};
        let cfg = self.slots.get(slot).ok_or("no such slot")?;
        if cfg.kind != SlotKind::Insert {
            return Err(format!(
                "{} is a {} slot, not a hardware insert",
                cfg.id,
                cfg.kind.name()
            ));
        }
        let disturbances = || {
            self.status.xruns.load(Ordering::SeqCst)
                + self.status.cycle_breaks.load(Ordering::SeqCst)
        };
        let mut tries = 0;
        let (left, right) = loop {
            tries += 1;
            let before = disturbances();
            let captured = self.capture_burst(slot, cfg)?;
            // Xruns of other clients come on JACK's notification thread,
            // shortly after the cycle they happened in.
            std::thread::sleep(std::time::Duration::from_millis(50));
            if disturbances() == before {
                break captured;
            }
            if tries == MEASURE_TRIES {
                return Err(format!(
                    "{}: xruns during each of {MEASURE_TRIES} tries; the audio cannot keep up \
                     right now (check the DSP load and other JACK clients), then measure again",
                    cfg.id
                ));
            }
            tracing::debug!(
                "insert {}: xrun during the measurement; measuring again",
                cfg.id
            );
        };
        if tries > 1 {
            tracing::info!(
                "insert {}: measured on try {tries} (xruns during the earlier ones)",
                cfg.id
            );
        }
        let reference = burst(HardwareInsert::BURST_LEVEL);
        let found = |ch: &str, x: &[f32]| {
            find_delay(&reference, x).map_err(|e| format!("{} return {ch}: {e}", cfg.id))
        };
        let (l, r) = (found("L", &left)?, found("R", &right)?);
        if l.delay != r.delay || l.inverted != r.inverted {
            return Err(format!(
                "{}: the returns differ (L {} samples{}, R {} samples{}); check the wiring",
                cfg.id,
                l.delay,
                if l.inverted { " inverted" } else { "" },
                r.delay,
                if r.inverted { " inverted" } else { "" },
            ));
        }
        Ok(Measured {
            latency: l.delay,
            inverted: l.inverted,
            gain_db: (l.gain_db + r.gain_db) / 2.0,
            confidence_db: l.confidence_db.min(r.confidence_db),
        })
    }

    /// One measurement capture: the burst out of insert `slot`'s send and
    /// [`CAPTURE_LEN`](rackd_dsp::latency::CAPTURE_LEN) frames of its returns.
    fn capture_burst(&self, slot: usize, cfg: &SlotConfig) -> Result<(Vec<f32>, Vec<f32>), String> {
        use rackd_dsp::latency::CAPTURE_LEN;
        let (mut capture, generation, sample_rate) = {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let rt = inner.rt.as_mut().ok_or("the audio engine is not running")?;
            if !rt.layout.contains(&slot) {
                return Err(format!(
                    "{} is not in the chain (its active switch is off)",
                    cfg.id
                ));
            }
            let capture = rt.captures[slot]
                .take()
                .ok_or("a measurement of this insert is already running")?;
            (capture, rt.generation, rt.sample_rate)
        };
        while capture.pop().is_ok() {}
        {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            self.send(&mut inner, RtCommand::Measure { slot: slot as u16 });
        }
        let need = 2 * CAPTURE_LEN;
        let timeout =
            std::time::Duration::from_secs_f64(CAPTURE_LEN as f64 / sample_rate as f64 + 3.0);
        let started = std::time::Instant::now();
        while capture.slots() < need && started.elapsed() < timeout {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let complete = capture.slots() >= need;
        let mut left = Vec::with_capacity(CAPTURE_LEN);
        let mut right = Vec::with_capacity(CAPTURE_LEN);
        while left.len() < CAPTURE_LEN
            && let (Ok(l), Ok(r)) = (capture.pop(), capture.pop())
        {
            left.push(l);
            right.push(r);
        }
        {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(rt) = inner.rt.as_mut()
                && rt.generation == generation
            {
                rt.captures[slot] = Some(capture);
            }
        }
        if !complete {
            return Err(
                "no audio came through the engine in time; is the audio backend running?".into(),
            );
        }
        Ok((left, right))
    }

    /// Starts playing `input` through the live chain in place of the inputs
    /// and recording the chain's output. Fails when the engine does not run
    /// at `sample_rate` or a take is already playing.
    /// `cancel` stops it early.
    pub fn start_print(
        &self,
        input: [Vec<f32>; 2],
        sample_rate: u32,
        cancel: Arc<AtomicBool>,
    ) -> Result<PrintJob, String> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let rt = inner.rt.as_mut().ok_or("the audio engine is not running")?;
        if rt.sample_rate != sample_rate {
            return Err(format!(
                "the file is at {sample_rate} Hz but the engine runs at {} Hz; convert it first",
                rt.sample_rate
            ));
        }
        while rt.takes_done.pop().is_ok() {}
        let latency = self.status.latency.load(Ordering::Relaxed) as usize;
        let take = Box::new(PrintTake::new(input, latency, cancel));
        let job = PrintJob {
            latency,
            position: take.position.clone(),
            cancel: take.cancel.clone(),
        };
        rt.takes
            .push(take)
            .map_err(|_| "a print is already waiting to start".to_string())?;
        Ok(job)
    }

    /// The take that finished (or was cancelled), if any.
    pub fn finished_print(&self) -> Option<Box<PrintTake>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.rt.as_mut()?.takes_done.pop().ok()
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
        let layout = Self::layout_of(&inner.values);
        let (chain, captures) = self.build_chain(&inner.values, sample_rate, max_block, &layout);
        let mut monitor = Monitor::new(sr);
        for (index, v) in inner.monitor.iter().enumerate() {
            monitor.set_param(index, *v);
        }
        monitor.settle();
        let (commands, commands_rx) = rtrb::RingBuffer::new(QUEUE_CAPACITY);
        let (chains, chains_rx) = rtrb::RingBuffer::new(CHAINS_IN_FLIGHT);
        let (retired_tx, retired) = rtrb::RingBuffer::new(RETIRED_CAPACITY);
        let (takes, takes_rx) = rtrb::RingBuffer::new(1);
        let (takes_done_tx, takes_done) = rtrb::RingBuffer::new(2);
        let generation = inner.rt.as_ref().map_or(0, |rt| rt.generation + 1);
        inner.rt = Some(RtSide {
            commands,
            chains,
            retired,
            takes,
            takes_done,
            sample_rate,
            max_block,
            layout,
            captures,
            generation,
        });
        RtProcess::new(
            chain,
            monitor,
            RtRings {
                commands: commands_rx,
                chains: chains_rx,
                retired: retired_tx,
                takes: takes_rx,
                takes_done: takes_done_tx,
            },
            SlotKind::Loudness.build(sr, max_block, self.meter("in")),
            SlotKind::Loudness.build(sr, max_block, self.meter("out")),
            SafetyCeiling::new(self.audio.ceiling_dbfs, sr)
                .with_counter(self.ceiling_engaged.clone()),
            self.status.clone(),
        )
    }
}

/// A print take under way, seen from the control side.
#[derive(Debug, Clone)]
pub struct PrintJob {
    /// Chain latency when it was queued.
    pub latency: usize,
    /// Frames played so far.
    pub position: Arc<AtomicU64>,
    /// Set to stop it.
    pub cancel: Arc<AtomicBool>,
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
    // A backend that started before the restored values arrived plays the
    // default layout until told.
    let mut layout = true;
    loop {
        if layout {
            let control = control.clone();
            let _ = tokio::task::spawn_blocking(move || control.sync_layout()).await;
        }
        let mut event = events.recv().await;
        // Whether the batch touched the slot layout (building a chain is for then only).
        layout = false;
        loop {
            match event {
                Ok(Event::Changed { address, value, .. }) => {
                    if let Some(entry) = hub.tree().get(&address) {
                        layout |= matches!(
                            entry.target,
                            Target::ChainPosition { .. } | Target::ChainActive { .. }
                        );
                        control.apply(entry.target, entry.spec.engine_value(&value));
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("engine missed {n} changes; resyncing from the hub");
                    if let Ok(state) = hub.state().await {
                        control.apply_state(hub.tree(), &state);
                    }
                    layout = true;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
            // Take the rest of a batch (a recall, a layout command) before
            // building a chain for the new layout.
            match events.try_recv() {
                Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
                Err(tokio::sync::broadcast::error::TryRecvError::Closed) => return,
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                    event = Err(tokio::sync::broadcast::error::RecvError::Lagged(n))
                }
                Ok(e) => event = Ok(e),
            }
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
