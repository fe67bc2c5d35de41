//! The programme meter slot: sample and true peak, RMS, BS.1770 loudness
//! (M, S, I, LRA) and correlation, published lock-free through [`Meters`].

use crate::loudness::Loudness;
use crate::meter::MeterProcessor;
use crate::truepeak::TruePeak;
use crate::{Meters, Processor};
use std::sync::Arc;

/// Full programme metering on one chain point; passes audio through untouched
/// (NaN/Inf samples go on as silence).
pub struct ProgramMeter {
    meters: Arc<Meters>,
    basic: MeterProcessor,
    tp: [TruePeak; 2],
    loudness: Loudness,
    steps_published: u64,
    /// Range blocks the published LRA includes.
    range_published: u64,
    /// Running means of L·R, L² and R² over ~300 ms.
    corr: [f64; 3],
    corr_coeff: f64,
    lra: f32,
    integrated: f32,
}

impl ProgramMeter {
    /// A meter writing into `meters` (allocates its gating histograms here).
    pub fn new(meters: Arc<Meters>, sample_rate: f32) -> Self {
        ProgramMeter {
            basic: MeterProcessor::new(meters.clone(), sample_rate),
            meters,
            tp: [TruePeak::new(), TruePeak::new()],
            loudness: Loudness::live(sample_rate as f64, 2),
            steps_published: 0,
            range_published: 0,
            corr: [0.0; 3],
            corr_coeff: (-1.0 / (0.3 * sample_rate as f64)).exp(),
            lra: 0.0,
            integrated: f32::NEG_INFINITY,
        }
    }

    /// The loudness meter, for tests and offline use.
    pub fn loudness(&self) -> &Loudness {
        &self.loudness
    }
}

impl Processor for ProgramMeter {
    fn set_param(&mut self, _index: usize, _value: f32) {}

    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let bad_in = left.iter().chain(right.iter()).any(|x| !x.is_finite());
        self.basic.measure(left, right);
        let mut tp = [0f32; 2];
        for (ch, buf) in [&*left, &*right].into_iter().enumerate() {
            if buf
                .iter()
                .any(|&x| crate::sanitize(x).to_bits() != x.to_bits())
            {
                // NaN/Inf and denormals never reach the detector: clean a copy.
                let mut clean = [0f32; 256];
                for piece in buf.chunks(clean.len()) {
                    for (c, &x) in clean.iter_mut().zip(piece) {
                        *c = crate::sanitize(x);
                    }
                    tp[ch] = tp[ch].max(self.tp[ch].block_max(&clean[..piece.len()], 0.0));
                }
            } else {
                tp[ch] = self.tp[ch].block_max(buf, 0.0);
            }
        }
        self.meters.publish_true_peak(tp);
        let bad_state = self.loudness.process(&[left, right]);
        let [mut lr, mut ll, mut rr] = self.corr;
        let k = self.corr_coeff;
        for (&l, &r) in left.iter().zip(right.iter()) {
            let (l, r) = (crate::sanitize(l) as f64, crate::sanitize(r) as f64);
            lr = l * r + (lr - l * r) * k;
            ll = l * l + (ll - l * l) * k;
            rr = r * r + (rr - r * r) * k;
        }
        let fix = |v: f64| {
            if v.is_finite() && v.abs() > 1e-30 {
                v
            } else {
                0.0
            }
        };
        self.corr = [fix(lr), fix(ll), fix(rr)];
        let denom = (self.corr[1] * self.corr[2]).sqrt();
        let corr = if denom > 1e-12 {
            self.corr[0] / denom
        } else {
            0.0
        };
        self.meters
            .publish_correlation(corr.clamp(-1.0, 1.0) as f32);
        let steps = self.loudness.steps();
        if steps / 10 != self.steps_published / 10 {
            // Integrated loudness changes only with a new 100 ms block,
            self.integrated = self.loudness.integrated() as f32;
        }
        self.steps_published = steps;
        let range = self.loudness.range_blocks();
        if range != self.range_published {
            // and the range only with a new short-term block, once a second.
            self.lra = self.loudness.loudness_range() as f32;
            self.range_published = range;
        }
        self.meters.publish_loudness(
            self.loudness.momentary() as f32,
            self.loudness.short_term() as f32,
            self.integrated,
            self.lra,
        );
        if bad_in {
            // Measured as silence above; passed on as silence, not as NaN/Inf.
            for x in left.iter_mut().chain(right.iter_mut()) {
                if !x.is_finite() {
                    *x = 0.0;
                }
            }
        }
        if bad_in || bad_state {
            self.meters.report_nonfinite();
        }
    }

    fn reset(&mut self) {
        self.basic.reset();
        for t in &mut self.tp {
            t.reset();
        }
        self.loudness.reset();
        self.corr = [0.0; 3];
        self.steps_published = 0;
        self.range_published = 0;
        self.lra = 0.0;
        self.integrated = f32::NEG_INFINITY;
    }
}
