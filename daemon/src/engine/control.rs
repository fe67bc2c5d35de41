//! The control side of the engine: the current engine values of every slot
//! (what a rebuilt chain starts with), parameter changes to the audio thread
//! through a lock-free queue, and slot-layout changes as whole new chains.

use super::meters::{MeterPoint, MeterPoints, PROGRAM};
use super::rt::{NewChain, PrintTake, RtCommand};
use super::status::EngineStatus;
use crate::config::{AudioConfig, SlotConfig};
use crate::hub::{ParamTree, Target};
use rackd_dsp::{Chain, Meters, Monitor, SlotKind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Current engine-side values of every slot (what a rebuilt chain starts with).
#[derive(Debug, Clone)]
pub(super) struct SlotValues {
    pub(super) params: Vec<f32>,
    pub(super) bypass: bool,
    /// Slot layout: where it plays and whether it plays at all.
    pub(super) position: i64,
    pub(super) active: bool,
}

/// The control ends of the rings of the [`RtProcess`] now running.
pub(super) struct RtSide {
    pub(super) commands: rtrb::Producer<RtCommand>,
    pub(super) chains: rtrb::Producer<NewChain>,
    pub(super) retired: rtrb::Consumer<Box<Chain>>,
    pub(super) takes: rtrb::Producer<Box<PrintTake>>,
    pub(super) takes_done: rtrb::Consumer<Box<PrintTake>>,
    pub(super) sample_rate: u32,
    pub(super) max_block: usize,
    /// The layout of the newest chain sent.
    pub(super) layout: Vec<usize>,
    /// Measurement recordings of each insert slot of the newest chain.
    pub(super) captures: Vec<Option<rtrb::Consumer<f32>>>,
    /// Counts chains sent, so a measurement knows its chain was replaced.
    pub(super) generation: u64,
}

pub(super) struct ControlInner {
    pub(super) values: Vec<SlotValues>,
    /// Monitor section values, by `Monitor::params` index.
    pub(super) monitor: Vec<f32>,
    pub(super) rt: Option<RtSide>,
}

/// Rings to the audio thread hold this many chains / takes in flight.
pub(super) const CHAINS_IN_FLIGHT: usize = 4;
/// Replaced chains waiting to be dropped off the audio thread.
pub(super) const RETIRED_CAPACITY: usize = 64;

/// The control side of the engine: owned off the audio thread.
pub struct EngineControl {
    pub(super) slots: Vec<SlotConfig>,
    pub(super) audio: AudioConfig,
    pub(super) inner: Mutex<ControlInner>,
    pub(super) status: Arc<EngineStatus>,
    pub(super) meters: MeterPoints,
    /// Each slot's readings, by slot index (also those not streamed).
    pub(super) slot_meters: Vec<Arc<Meters>>,
    pub(super) ceiling_engaged: Arc<AtomicU64>,
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
            let quantities = super::meters::slot_quantities(s.kind);
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
    pub(super) fn meter(&self, name: &str) -> Arc<Meters> {
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

    pub(super) fn send(&self, inner: &mut ControlInner, cmd: RtCommand) {
        if let Some(rt) = inner.rt.as_mut()
            && rt.commands.push(cmd).is_err()
        {
            self.status.queue_overflows.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The slot layout the values ask for ([`crate::hub::play_order`]).
    pub(super) fn layout_of(values: &[SlotValues]) -> Vec<usize> {
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
}
