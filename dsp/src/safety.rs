//! The output safety ceiling: the last stage before the converters.
//!
//! Nothing a client sends can push the monitor path past the configured ceiling:
//! a peak limiter with instant attack rides the gain down, and a hard clamp
//! behind it guarantees the bound even on the first sample of a spike.

use crate::{Processor, db_to_gain, sanitize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Brick-wall output protection; not addressable by surfaces.
pub struct SafetyCeiling {
    ceiling: f32,
    gain: f32,
    release: f32,
    engaged: Arc<AtomicU64>,
}

impl SafetyCeiling {
    /// A ceiling at `ceiling_dbfs` (e.g. −0.3) with a 100 ms release.
    pub fn new(ceiling_dbfs: f32, sample_rate: f32) -> Self {
        SafetyCeiling {
            ceiling: db_to_gain(ceiling_dbfs.min(0.0)),
            gain: 1.0,
            release: 1.0 - (-1.0 / (0.1 * sample_rate)).exp(),
            engaged: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Counts engagements into a counter that outlives this instance (engine rebuilds).
    pub fn with_counter(mut self, counter: Arc<AtomicU64>) -> Self {
        self.engaged = counter;
        self
    }

    /// Counter of blocks in which the ceiling reduced gain (for status).
    pub fn engaged_counter(&self) -> Arc<AtomicU64> {
        self.engaged.clone()
    }

    /// The ceiling as a linear amplitude.
    pub fn ceiling(&self) -> f32 {
        self.ceiling
    }
}

impl Processor for SafetyCeiling {
    fn set_param(&mut self, _index: usize, _value: f32) {}

    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let c = self.ceiling;
        let mut engaged = false;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let (x, y) = (sanitize(*l), sanitize(*r));
            let peak = x.abs().max(y.abs());
            if peak * self.gain > c {
                self.gain = c / peak;
                engaged = true;
            } else {
                self.gain += (1.0 - self.gain) * self.release;
            }
            *l = (x * self.gain).clamp(-c, c);
            *r = (y * self.gain).clamp(-c, c);
        }
        if engaged {
            self.engaged.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn reset(&mut self) {
        self.gain = 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn output_never_exceeds_ceiling(
            ceiling in -20.0f32..0.0,
            samples in proptest::collection::vec(proptest::num::f32::ANY, 1..512),
        ) {
            let mut s = SafetyCeiling::new(ceiling, 48_000.0);
            let mut l = samples.clone();
            let mut r: Vec<f32> = samples.iter().map(|x| -x * 3.0).collect();
            s.process(&mut l, &mut r);
            let c = db_to_gain(ceiling);
            for x in l.iter().chain(r.iter()) {
                prop_assert!(x.is_finite() && x.abs() <= c);
            }
        }
    }

    #[test]
    fn transparent_below_ceiling() {
        let mut s = SafetyCeiling::new(-0.3, 48_000.0);
        let mut l = vec![0.5f32; 64];
        let mut r = vec![-0.5f32; 64];
        s.process(&mut l, &mut r);
        assert!(l.iter().all(|&x| x == 0.5));
        assert!(r.iter().all(|&x| x == -0.5));
    }
}
