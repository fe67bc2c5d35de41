//! The chain: slots run in order, each with a click-free bypass.

use crate::{Processor, Smoother};

/// One slot of the chain as the audio thread sees it.
struct Slot {
    processor: Box<dyn Processor>,
    /// 1.0 = processed, 0.0 = bypassed; crossfaded over 10 ms.
    wet: Smoother,
}

/// Processors in order, with per-slot bypass crossfades. Built off the audio
/// thread; `process` never allocates.
pub struct Chain {
    slots: Vec<Slot>,
    dry: [Vec<f32>; 2],
    sample_rate: f32,
}

impl Chain {
    /// An empty chain for blocks of at most `max_block` frames.
    pub fn new(sample_rate: f32, max_block: usize) -> Self {
        Chain {
            slots: Vec::new(),
            dry: [vec![0.0; max_block], vec![0.0; max_block]],
            sample_rate,
        }
    }

    /// Appends a processor (off the audio thread).
    pub fn push(&mut self, processor: Box<dyn Processor>) {
        self.slots.push(Slot {
            processor,
            wet: Smoother::new(1.0, self.sample_rate, 0.01),
        });
    }

    /// Number of slots.
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

    /// Sets a processor parameter (audio thread, between blocks).
    pub fn set_param(&mut self, slot: usize, index: usize, value: f32) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.processor.set_param(index, value);
        }
    }

    /// Bypasses or engages a slot with a short crossfade.
    pub fn set_bypass(&mut self, slot: usize, bypass: bool, immediate: bool) {
        if let Some(s) = self.slots.get_mut(slot) {
            let target = if bypass { 0.0 } else { 1.0 };
            if immediate {
                s.wet.snap(target);
            } else {
                s.wet.set_target(target);
            }
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
        }
    }

    /// Total latency of the engaged slots, in samples.
    pub fn latency(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.wet.target() > 0.0)
            .map(|s| s.processor.latency())
            .sum()
    }

    /// Processes a stereo block in place (split into `max_block` pieces if longer).
    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let n = left.len().min(right.len());
        let max = self.max_block().max(1);
        let mut start = 0;
        while start < n {
            let end = (start + max).min(n);
            self.process_piece(&mut left[start..end], &mut right[start..end]);
            start = end;
        }
    }

    fn process_piece(&mut self, left: &mut [f32], right: &mut [f32]) {
        let n = left.len();
        for slot in &mut self.slots {
            if slot.wet.is_settled() {
                if slot.wet.target() > 0.0 {
                    slot.processor.process(left, right);
                }
                continue;
            }
            let [dl, dr] = &mut self.dry;
            dl[..n].copy_from_slice(left);
            dr[..n].copy_from_slice(right);
            slot.processor.process(left, right);
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
}
