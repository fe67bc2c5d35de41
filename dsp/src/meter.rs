//! Meter points: the audio thread writes, any other thread reads, no locks.
//!
//! Peaks are held until read (so a 25 Hz reader never misses a transient);
//! RMS is a running 300 ms average. Values are stored as f32 bits in atomics.

use crate::Processor;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Lock-free readings of one meter point, shared between audio thread and readers.
#[derive(Debug)]
pub struct Meters {
    peak: [AtomicU32; 2],
    rms: [AtomicU32; 2],
    /// Samples seen since start, so readers can tell the meter is alive.
    frames: AtomicU64,
    true_peak: [AtomicU32; 2],
    lufs_m: AtomicU32,
    lufs_s: AtomicU32,
    lufs_i: AtomicU32,
    lra: AtomicU32,
    correlation: AtomicU32,
    gain_reduction: AtomicU32,
    nonfinite: AtomicU64,
}

impl Default for Meters {
    fn default() -> Self {
        let silent = || AtomicU32::new(f32::NEG_INFINITY.to_bits());
        Meters {
            peak: Default::default(),
            rms: Default::default(),
            frames: AtomicU64::new(0),
            true_peak: Default::default(),
            lufs_m: silent(),
            lufs_s: silent(),
            lufs_i: silent(),
            lra: AtomicU32::new(0),
            correlation: AtomicU32::new(0),
            gain_reduction: AtomicU32::new(0),
            nonfinite: AtomicU64::new(0),
        }
    }
}

/// One read of a meter point, in linear amplitude.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MeterReadings {
    /// Highest absolute sample per channel since the previous read.
    pub peak: [f32; 2],
    /// Running RMS per channel.
    pub rms: [f32; 2],
    /// Frames processed since start.
    pub frames: u64,
    /// Highest true peak (BS.1770 Annex 2, 4×) per channel since the previous read, linear.
    pub true_peak: [f32; 2],
    /// Momentary loudness, LUFS (−inf when silent or not measured here).
    pub lufs_m: f32,
    /// Short-term loudness, LUFS.
    pub lufs_s: f32,
    /// Integrated loudness since the meter was reset, LUFS.
    pub lufs_i: f32,
    /// Loudness range since the meter was reset, LU.
    pub lra: f32,
    /// Phase correlation over ~300 ms, −1..1.
    pub correlation: f32,
    /// Largest gain reduction since the previous read, dB (positive).
    pub gain_reduction: f32,
    /// Blocks in which a processor met NaN/Inf input (or state) and cleared it.
    pub nonfinite: u64,
}

impl Meters {
    /// A new, silent meter point.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Reads the point and resets the held peaks (call from one reader).
    pub fn take(&self) -> MeterReadings {
        let swap = |a: &AtomicU32| f32::from_bits(a.swap(0, Ordering::Relaxed));
        MeterReadings {
            peak: [swap(&self.peak[0]), swap(&self.peak[1])],
            true_peak: [swap(&self.true_peak[0]), swap(&self.true_peak[1])],
            gain_reduction: swap(&self.gain_reduction),
            ..self.peek()
        }
    }

    /// Reads the point without resetting the held peaks.
    pub fn peek(&self) -> MeterReadings {
        let load = |a: &AtomicU32| f32::from_bits(a.load(Ordering::Relaxed));
        MeterReadings {
            peak: [load(&self.peak[0]), load(&self.peak[1])],
            rms: [load(&self.rms[0]), load(&self.rms[1])],
            frames: self.frames.load(Ordering::Relaxed),
            true_peak: [load(&self.true_peak[0]), load(&self.true_peak[1])],
            lufs_m: load(&self.lufs_m),
            lufs_s: load(&self.lufs_s),
            lufs_i: load(&self.lufs_i),
            lra: load(&self.lra),
            correlation: load(&self.correlation),
            gain_reduction: load(&self.gain_reduction),
            nonfinite: self.nonfinite.load(Ordering::Relaxed),
        }
    }

    /// Publishes true peaks (held until read; audio thread, wait-free).
    pub fn publish_true_peak(&self, tp: [f32; 2]) {
        for (a, v) in self.true_peak.iter().zip(tp) {
            a.fetch_max(v.max(0.0).to_bits(), Ordering::Relaxed);
        }
    }

    /// Publishes loudness readings (audio thread, wait-free).
    pub fn publish_loudness(&self, m: f32, s: f32, i: f32, lra: f32) {
        self.lufs_m.store(m.to_bits(), Ordering::Relaxed);
        self.lufs_s.store(s.to_bits(), Ordering::Relaxed);
        self.lufs_i.store(i.to_bits(), Ordering::Relaxed);
        self.lra.store(lra.to_bits(), Ordering::Relaxed);
    }

    /// Publishes the phase correlation (audio thread).
    pub fn publish_correlation(&self, c: f32) {
        self.correlation.store(c.to_bits(), Ordering::Relaxed);
    }

    /// Publishes a gain reduction in dB, held at its largest until read.
    pub fn publish_gain_reduction(&self, db: f32) {
        let db = if db.is_finite() { db.max(0.0) } else { 0.0 };
        self.gain_reduction
            .fetch_max(db.to_bits(), Ordering::Relaxed);
    }

    /// Counts a block in which NaN/Inf met a processor (it was cleared).
    pub fn report_nonfinite(&self) {
        self.nonfinite.fetch_add(1, Ordering::Relaxed);
    }

    /// Publishes one block's results (audio thread; wait-free).
    pub(crate) fn publish(&self, peak: [f32; 2], rms: [f32; 2], frames: usize) {
        for ch in 0..2 {
            // Non-negative f32 bit patterns order like the integers they are.
            self.peak[ch].fetch_max(peak[ch].to_bits(), Ordering::Relaxed);
            self.rms[ch].store(rms[ch].to_bits(), Ordering::Relaxed);
        }
        self.frames.fetch_add(frames as u64, Ordering::Relaxed);
    }
}

/// A chain slot that measures and passes audio through untouched (NaN/Inf
/// samples go on as silence).
pub struct MeterProcessor {
    meters: Arc<Meters>,
    mean_square: [f32; 2],
    coeff: f32,
}

impl MeterProcessor {
    /// A meter writing into `meters`, RMS window 300 ms at `sample_rate`.
    pub fn new(meters: Arc<Meters>, sample_rate: f32) -> Self {
        MeterProcessor {
            meters,
            mean_square: [0.0; 2],
            coeff: (-1.0 / (0.3 * sample_rate)).exp(),
        }
    }

    /// Measures a block without changing it (also used for fixed meter points).
    pub fn measure(&mut self, left: &[f32], right: &[f32]) {
        let mut peak = [0f32; 2];
        for (ch, buf) in [left, right].into_iter().enumerate() {
            let mut ms = self.mean_square[ch];
            for &x in buf {
                let x = crate::sanitize(x);
                peak[ch] = peak[ch].max(x.abs());
                ms = x * x + (ms - x * x) * self.coeff;
            }
            self.mean_square[ch] = crate::sanitize(ms);
        }
        let rms = [self.mean_square[0].sqrt(), self.mean_square[1].sqrt()];
        self.meters.publish(peak, rms, left.len());
    }
}

impl Processor for MeterProcessor {
    fn set_param(&mut self, _index: usize, _value: f32) {}

    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        self.measure(left, right);
        // Measured as silence above; passed on as silence, not as NaN/Inf.
        let mut bad = false;
        for x in left.iter_mut().chain(right.iter_mut()) {
            if !x.is_finite() {
                *x = 0.0;
                bad = true;
            }
        }
        if bad {
            self.meters.report_nonfinite();
        }
    }

    fn reset(&mut self) {
        self.mean_square = [0.0; 2];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scale_sine_reads_expected_peak_and_rms() {
        let meters = Meters::new();
        let mut m = MeterProcessor::new(meters.clone(), 48_000.0);
        let mut l: Vec<f32> = (0..96_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 48_000.0).sin() * 0.5)
            .collect();
        let mut r = l.clone();
        m.process(&mut l, &mut r);
        let read = meters.take();
        assert!((read.peak[0] - 0.5).abs() < 1e-3);
        assert!((read.rms[0] - 0.5 / 2f32.sqrt()).abs() < 5e-3);
        assert_eq!(meters.take().peak, [0.0, 0.0], "peak resets on read");
    }
}
