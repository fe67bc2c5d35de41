//! The output safety ceiling: the last stage before the converters.
//!
//! Nothing a client sends can push the monitor path past the configured ceiling.
//! The ceiling is on samples: a peak rider with instant attack rides the gain
//! down, and a hard clamp behind it guarantees the bound even on the first
//! sample of a spike, with no latency. Samples under the ceiling can still
//! reconstruct above it between samples (a true-peak meter reads the overs),
//! so [`CeilingMode::TruePeak`] puts a lookahead true-peak limiter (the
//! chain's own, 4× and finer detection) in front, at the price of its latency.

use crate::limiter::Limiter;
use crate::{Meters, Processor, db_to_gain, sanitize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the ceiling bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CeilingMode {
    /// Sample values: no latency; inter-sample peaks may pass the ceiling.
    #[default]
    SamplePeak,
    /// The reconstructed signal (true peak), with the limiter's lookahead as latency.
    TruePeak,
}

impl CeilingMode {
    /// The name used in config files and status.
    pub fn name(self) -> &'static str {
        match self {
            CeilingMode::SamplePeak => "sample_peak",
            CeilingMode::TruePeak => "true_peak",
        }
    }
}

/// Lookahead of the true-peak stage, ms.
const TRUE_PEAK_LOOKAHEAD_MS: f32 = 1.0;
/// Ceilings the limiter takes directly; lower ones are reached by exact
/// power-of-two scaling around it (so the path stays bit-transparent below).
const LIMITER_LOWEST_DB: f32 = -12.0;

/// The true-peak stage: the limiter, with exact scaling for low ceilings.
struct TruePeakStage {
    limiter: Box<Limiter>,
    meters: Arc<Meters>,
    /// A power of two: the limiter sees the signal times this.
    boost: f32,
}

/// Brick-wall output protection; not addressable by surfaces.
pub struct SafetyCeiling {
    ceiling: f32,
    gain: f32,
    release: f32,
    engaged: Arc<AtomicU64>,
    true_peak: Option<TruePeakStage>,
}

impl SafetyCeiling {
    /// A sample-peak ceiling at `ceiling_dbfs` (e.g. −0.3) with a 100 ms release.
    pub fn new(ceiling_dbfs: f32, sample_rate: f32) -> Self {
        SafetyCeiling {
            ceiling: db_to_gain(ceiling_dbfs.min(0.0)),
            gain: 1.0,
            release: 1.0 - (-1.0 / (0.1 * sample_rate)).exp(),
            engaged: Arc::new(AtomicU64::new(0)),
            true_peak: None,
        }
    }

    /// A ceiling in `mode` (allocates the limiter's buffers for true peak).
    pub fn with_mode(ceiling_dbfs: f32, sample_rate: f32, mode: CeilingMode) -> Self {
        let mut s = Self::new(ceiling_dbfs, sample_rate);
        if mode == CeilingMode::TruePeak {
            let db = ceiling_dbfs.min(0.0);
            let mut boost = 1.0f32;
            while 20.0 * (boost * db_to_gain(db)).log10() < LIMITER_LOWEST_DB {
                boost *= 2.0;
            }
            let meters = Meters::new();
            let mut limiter = Box::new(Limiter::new(sample_rate, meters.clone()));
            limiter.set_param(Limiter::CEILING, db + 20.0 * boost.log10());
            limiter.set_param(Limiter::RELEASE, 100.0);
            limiter.set_param(Limiter::LOOKAHEAD, TRUE_PEAK_LOOKAHEAD_MS);
            limiter.reset();
            s.true_peak = Some(TruePeakStage {
                limiter,
                meters,
                boost,
            });
        }
        s
    }

    /// What this ceiling bounds.
    pub fn mode(&self) -> CeilingMode {
        if self.true_peak.is_some() {
            CeilingMode::TruePeak
        } else {
            CeilingMode::SamplePeak
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

    fn latency(&self) -> usize {
        self.true_peak.as_ref().map_or(0, |t| t.limiter.latency())
    }

    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let c = self.ceiling;
        let mut engaged = false;
        if let Some(t) = self.true_peak.as_mut() {
            if t.boost != 1.0 {
                left.iter_mut()
                    .chain(right.iter_mut())
                    .for_each(|x| *x *= t.boost);
            }
            t.limiter.process(left, right);
            if t.boost != 1.0 {
                let back = 1.0 / t.boost;
                left.iter_mut()
                    .chain(right.iter_mut())
                    .for_each(|x| *x *= back);
            }
            // The limiter's margin keeps its output under the ceiling; it
            // reports the largest reduction in the block.
            engaged = t.meters.take().gain_reduction > 0.0;
        }
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let (x, y) = (sanitize(*l), sanitize(*r));
            let peak = x.abs().max(y.abs());
            if peak * self.gain > c {
                self.gain = c / peak;
                engaged = true;
            } else {
                // Back to exactly 1 once a single-precision step no longer
                // moves (it would stall about 1e-4 short of unity).
                let next = self.gain + (1.0 - self.gain) * self.release;
                self.gain = if next == self.gain { 1.0 } else { next };
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
        if let Some(t) = self.true_peak.as_mut() {
            t.limiter.reset();
        }
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
            true_peak in any::<bool>(),
        ) {
            let mode = if true_peak { CeilingMode::TruePeak } else { CeilingMode::SamplePeak };
            let mut s = SafetyCeiling::with_mode(ceiling, 48_000.0, mode);
            let mut l = samples.clone();
            let mut r: Vec<f32> = samples.iter().map(|x| -x * 3.0).collect();
            s.process(&mut l, &mut r);
            let c = db_to_gain(ceiling);
            for x in l.iter().chain(r.iter()) {
                prop_assert!(x.is_finite() && x.abs() <= c);
            }
        }
    }

    /// A 0 dBFS-sample sine at fs/4 with 45° phase: every sample is ±0.707
    /// of its crest, so it reconstructs 3 dB above its sample peak (the
    /// classic inter-sample over), here scaled so samples sit just under −0.3.
    fn quarter_rate_sine(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, SQRT_2};
                (0.96 * SQRT_2 * (FRAC_PI_2 * i as f64 + FRAC_PI_4).sin()) as f32
            })
            .collect()
    }

    fn run(s: &mut SafetyCeiling, x: &[f32]) -> Vec<f32> {
        let mut l = x.to_vec();
        let mut r = x.to_vec();
        for (bl, br) in l.chunks_mut(256).zip(r.chunks_mut(256)) {
            s.process(bl, br);
        }
        l
    }

    fn dbtp(x: &[f32]) -> f32 {
        crate::gain_to_db(crate::truepeak::reference_peak(x, 8))
    }

    #[test]
    fn sample_mode_bounds_samples_only() {
        let x = quarter_rate_sine(9600);
        let mut s = SafetyCeiling::new(-0.3, 48_000.0);
        assert_eq!(s.latency(), 0);
        let y = run(&mut s, &x);
        assert!(y.iter().all(|v| v.abs() <= db_to_gain(-0.3)));
        // Independent 8× windowed-sinc reconstruction: about +2.7 dBTP.
        assert!(dbtp(&y[2000..]) > 2.0, "{}", dbtp(&y[2000..]));
    }

    #[test]
    fn true_peak_mode_bounds_the_reconstruction_and_reports_its_latency() {
        for ceiling in [-0.3f32, -1.0, -20.0] {
            let mut s = SafetyCeiling::with_mode(ceiling, 48_000.0, CeilingMode::TruePeak);
            assert_eq!(s.mode(), CeilingMode::TruePeak);
            assert!(
                s.latency() >= 48,
                "1 ms lookahead at 48 kHz: {}",
                s.latency()
            );
            let engaged = s.engaged_counter();
            let y = run(&mut s, &quarter_rate_sine(9600));
            let tp = dbtp(&y[2000..]);
            assert!(tp <= ceiling + 0.01, "{ceiling}: {tp} dBTP");
            assert!(
                tp > ceiling - 0.5,
                "{ceiling}: {tp} dBTP, more reduction than needed"
            );
            assert!(engaged.load(Ordering::Relaxed) > 0);
        }
    }

    #[test]
    fn true_peak_mode_is_a_clean_delay_below_the_ceiling() {
        for ceiling in [-0.3f32, -20.0] {
            let mut s = SafetyCeiling::with_mode(ceiling, 48_000.0, CeilingMode::TruePeak);
            let lat = s.latency();
            let x: Vec<f32> = (0..4800).map(|i| 0.05 * (i as f32 * 0.01).sin()).collect();
            let y = run(&mut s, &x);
            assert_eq!(&y[lat..], &x[..x.len() - lat]);
            assert_eq!(s.engaged_counter().load(Ordering::Relaxed), 0);
        }
    }

    #[test]
    fn sample_mode_comes_back_to_unity_after_engaging() {
        let mut s = SafetyCeiling::new(-1.0, 48_000.0);
        let mut spike = vec![0.0f32; 256];
        spike[10] = 1.0;
        run(&mut s, &spike);
        // Two seconds of release (20 time constants), then quiet material.
        run(&mut s, &vec![0.0f32; 96_000]);
        let x: Vec<f32> = (0..4800).map(|i| 0.05 * (i as f32 * 0.01).sin()).collect();
        assert_eq!(run(&mut s, &x), x);
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
