//! Building what the audio thread runs: a chain for a slot layout at the
//! current values, settled off the audio thread, and a whole [`RtProcess`]
//! when a backend (re)starts.

use super::EngineControl;
use super::control::{CHAINS_IN_FLIGHT, RETIRED_CAPACITY, RtSide, SlotValues};
use super::rt::{RtProcess, RtRings};
use rackd_dsp::{Chain, HardwareInsert, Monitor, Processor, SafetyCeiling, SlotKind};

/// Silence run through a new chain so smoothed parameters reach their values.
const SETTLE_SECONDS: f32 = 0.5;

/// Capacity of the parameter queue to the audio thread.
const QUEUE_CAPACITY: usize = 4096;

impl EngineControl {
    /// A chain playing `layout`, at the current values, settled (off the audio thread).
    pub(super) fn build_chain(
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
            SafetyCeiling::with_mode(self.audio.ceiling_dbfs, sr, self.audio.ceiling_mode)
                .with_counter(self.ceiling_engaged.clone()),
            self.status.clone(),
        )
    }
}
