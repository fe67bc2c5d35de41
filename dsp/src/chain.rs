//! The chain: slots run in order, each with a click-free bypass.
//!
//! Slots are addressed by their index in the configuration (stable for
//! parameter changes), whatever position they play at: a chain can hold a
//! subset of the configured slots in any order (the slot layout). A slot with
//! latency keeps it while bypassed (its dry path is delayed by the same
//! amount), so toggling bypass never shifts the timing of what follows.

use crate::delay::StereoDelay;
use crate::insert::{InsertIo, NoInserts};
use crate::{Processor, Smoother};

/// One slot of the chain as the audio thread sees it.
struct Slot {
    processor: Box<dyn Processor>,
    /// 1.0 = processed, 0.0 = bypassed; crossfaded over 10 ms.
    wet: Smoother,
    /// The bypass path of a slot with latency, delayed to match it.
    dry_delay: Option<StereoDelay>,
}

/// Processors in order, with per-slot bypass crossfades. Built off the audio
/// thread; `process` never allocates.
pub struct Chain {
    slots: Vec<Slot>,
    /// Position in `slots` of each configured slot (`None`: not in this layout).
    positions: Vec<Option<usize>>,
    dry: [Vec<f32>; 2],
    sample_rate: f32,
}

impl Chain {
    /// An empty chain for blocks of at most `max_block` frames.
    pub fn new(sample_rate: f32, max_block: usize) -> Self {
        Chain {
            slots: Vec::new(),
            positions: Vec::new(),
            dry: [vec![0.0; max_block], vec![0.0; max_block]],
            sample_rate,
        }
    }

    /// Appends a processor as the next configured slot (off the audio thread).
    pub fn push(&mut self, processor: Box<dyn Processor>) {
        let slot = self.positions.len();
        self.push_slot(slot, processor);
    }

    /// Appends a processor that plays configured slot `slot` (off the audio
    /// thread); parameter changes for `slot` reach it wherever it plays.
    pub fn push_slot(&mut self, slot: usize, processor: Box<dyn Processor>) {
        if self.positions.len() <= slot {
            self.positions.resize(slot + 1, None);
        }
        self.positions[slot] = Some(self.slots.len());
        let max_latency = processor.max_latency();
        self.slots.push(Slot {
            processor,
            wet: Smoother::new(1.0, self.sample_rate, 0.01),
            dry_delay: (max_latency > 0)
                .then(|| StereoDelay::with_block(max_latency, self.dry[0].len())),
        });
    }

    /// Makes room for configured slots up to `count` (so a chain that plays
    /// only some of them still ignores changes to the others without
    /// allocating).
    pub fn reserve_slots(&mut self, count: usize) {
        if self.positions.len() < count {
            self.positions.resize(count, None);
        }
    }

    /// The sample rate it was built for.
    pub fn sample_rate(&self) -> f32 {
        self.sample_rate
    }

    /// Number of slots playing.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the chain has no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Largest block `process` accepts at once (longer blocks are split).
    pub fn max_block(&self) -> usize {
        self.dry[0].len()
    }

    fn slot_mut(&mut self, slot: usize) -> Option<&mut Slot> {
        let position = (*self.positions.get(slot)?)?;
        self.slots.get_mut(position)
    }

    /// Sets a processor parameter of configured slot `slot` (audio thread, between blocks).
    pub fn set_param(&mut self, slot: usize, index: usize, value: f32) {
        if let Some(s) = self.slot_mut(slot) {
            s.processor.set_param(index, value);
        }
    }

    /// Bypasses or engages configured slot `slot` with a short crossfade.
    pub fn set_bypass(&mut self, slot: usize, bypass: bool, immediate: bool) {
        if let Some(s) = self.slot_mut(slot) {
            let target = if bypass { 0.0 } else { 1.0 };
            if immediate {
                s.wet.snap(target);
            } else {
                s.wet.set_target(target);
            }
        }
    }

    /// Starts a round-trip measurement on configured slot `slot` (an insert).
    pub fn start_measure(&mut self, slot: usize) {
        if let Some(s) = self.slot_mut(slot) {
            s.processor.start_measure();
        }
    }

    /// Lets every smoothed parameter reach its value, then clears signal state,
    /// so a freshly built chain starts at its settings instead of gliding
    /// there from the defaults. Off the audio thread, after the initial `set_param`s.
    pub fn settle(&mut self, seconds: f32) {
        let n = self.max_block().max(1);
        let mut left = vec![0f32; n];
        let mut right = vec![0f32; n];
        let mut remaining = (seconds * self.sample_rate) as usize;
        while remaining > 0 {
            let m = remaining.min(n);
            left[..m].fill(0.0);
            right[..m].fill(0.0);
            self.process(&mut left[..m], &mut right[..m]);
            remaining -= m;
        }
        for slot in &mut self.slots {
            slot.processor.reset();
            if let Some(d) = slot.dry_delay.as_mut() {
                d.clear();
            }
        }
    }

    /// Total latency in samples. Bypassed slots count too: their dry path is
    /// delayed to match, so the timing never depends on bypass.
    pub fn latency(&self) -> usize {
        self.slots.iter().map(|s| s.processor.latency()).sum()
    }

    /// Processes a stereo block in place (split into `max_block` pieces if longer).
    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        self.process_io(left, right, &mut NoInserts);
    }

    /// [`Chain::process`] with the period's insert ports: `left`/`right` are
    /// the whole period, the buffers `io` gives line up with them.
    pub fn process_io(&mut self, left: &mut [f32], right: &mut [f32], io: &mut dyn InsertIo) {
        let n = left.len().min(right.len());
        let max = self.max_block().max(1);
        let mut start = 0;
        while start < n {
            let end = (start + max).min(n);
            self.process_piece(&mut left[start..end], &mut right[start..end], io, start);
            start = end;
        }
    }

    fn process_piece(
        &mut self,
        left: &mut [f32],
        right: &mut [f32],
        io: &mut dyn InsertIo,
        offset: usize,
    ) {
        let n = left.len();
        for slot in &mut self.slots {
            if slot.wet.is_settled() && slot.wet.target() > 0.0 {
                // Engaged: the bypass path only needs to stay full.
                if let Some(d) = slot.dry_delay.as_mut() {
                    d.push(left, right);
                }
                slot.processor.process_io(left, right, io, offset);
                continue;
            }
            if slot.wet.is_settled() && slot.dry_delay.is_none() {
                continue;
            }
            let [dl, dr] = &mut self.dry;
            dl[..n].copy_from_slice(left);
            dr[..n].copy_from_slice(right);
            if let Some(d) = slot.dry_delay.as_mut() {
                d.delay_block(&mut dl[..n], &mut dr[..n], slot.processor.latency());
            }
            let run = slot.wet.target() > 0.0 || !slot.wet.is_settled();
            if run || slot.processor.always_run() {
                slot.processor.process_io(left, right, io, offset);
            }
            if slot.wet.is_settled() {
                if slot.wet.target() <= 0.0 {
                    left.copy_from_slice(&dl[..n]);
                    right.copy_from_slice(&dr[..n]);
                }
                continue;
            }
            for i in 0..n {
                let w = slot.wet.next();
                left[i] = dl[i] + (left[i] - dl[i]) * w;
                right[i] = dr[i] + (right[i] - dr[i]) * w;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Trim;

    #[test]
    fn settle_starts_at_the_settings() {
        let mut chain = Chain::new(48_000.0, 64);
        chain.push(Box::new(Trim::new(48_000.0)));
        chain.set_param(0, Trim::GAIN, -6.0);
        chain.settle(0.5);
        let mut l = vec![1.0f32; 64];
        let mut r = l.clone();
        chain.process(&mut l, &mut r);
        let g = crate::db_to_gain(-6.0);
        assert!(l.iter().all(|x| (x - g).abs() < 1e-5), "{:?}", &l[..4]);
    }

    #[test]
    fn bypass_crossfades_without_jump() {
        let mut chain = Chain::new(48_000.0, 64);
        let mut trim = Trim::new(48_000.0);
        trim.set_param(Trim::GAIN, -20.0);
        chain.push(Box::new(trim));
        let mut l = vec![1.0f32; 4800];
        let mut r = l.clone();
        chain.process(&mut l, &mut r);
        chain.set_bypass(0, true, false);
        let mut l2 = vec![1.0f32; 4800];
        let mut r2 = l2.clone();
        chain.process(&mut l2, &mut r2);
        let mut prev = l[l.len() - 1];
        for &x in &l2 {
            assert!((x - prev).abs() < 0.02, "step {prev} -> {x}");
            prev = x;
        }
        assert!((l2[l2.len() - 1] - 1.0).abs() < 1e-3);
    }

    #[test]
    fn slots_play_in_layout_order_and_keep_their_addresses() {
        // Configured slot 0 is a trim at -6 dB, slot 1 a limiter; play only the trim.
        let mut chain = Chain::new(48_000.0, 64);
        chain.reserve_slots(2);
        chain.push_slot(0, Box::new(Trim::new(48_000.0)));
        chain.set_param(0, Trim::GAIN, -6.0);
        chain.set_param(1, 0, 3.0); // not playing: ignored, no panic
        chain.settle(0.2);
        let mut l = vec![1.0f32; 64];
        let mut r = l.clone();
        chain.process(&mut l, &mut r);
        assert!((l[63] - crate::db_to_gain(-6.0)).abs() < 1e-5);
    }

    #[test]
    fn bypassing_a_slot_with_latency_keeps_the_timing() {
        use crate::SlotKind;
        let meters = crate::Meters::new();
        let mut chain = Chain::new(48_000.0, 64);
        chain.push(SlotKind::Limiter.build(48_000.0, 64, meters));
        let latency = chain.latency();
        assert!(latency > 0);
        chain.set_bypass(0, true, true);
        assert_eq!(chain.latency(), latency, "bypass keeps the latency");
        let mut l = vec![0.0f32; 4096];
        l[100] = 0.5;
        let mut r = l.clone();
        chain.process(&mut l, &mut r);
        assert_eq!(
            l[100 + latency],
            0.5,
            "the bypassed impulse arrives on time"
        );
        assert_eq!(l.iter().filter(|&&x| x != 0.0).count(), 1);

        // A longer lookahead set later still fits the bypass delay.
        chain.set_param(0, crate::limiter::Limiter::LOOKAHEAD, 5.0);
        let longer = chain.latency();
        assert!(longer > latency);
        let mut l = vec![0.0f32; 4096];
        l[100] = 0.5;
        let mut r = l.clone();
        chain.process(&mut l, &mut r);
        assert_eq!(l[100 + longer], 0.5, "on time after the lookahead grew");
    }
}
