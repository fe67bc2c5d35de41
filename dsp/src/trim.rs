//! Trim: gain in dB and polarity, smoothed.

use crate::{Meters, Processor, Smoother, db_to_gain, sanitize};
use rackd_protocol::param::{ParamSpec, Unit};
use std::sync::Arc;

/// Gain stage with polarity invert; the simplest slot and the first one in most chains.
pub struct Trim {
    gain: Smoother,
    /// +1 or −1, glided so that flipping polarity never clicks.
    sign: Smoother,
    /// Where a block with NaN/Inf is counted.
    meters: Arc<Meters>,
}

impl Trim {
    /// Index of `gain` in [`Trim::params`].
    pub const GAIN: usize = 0;
    /// Index of `invert` in [`Trim::params`].
    pub const INVERT: usize = 1;

    /// A trim at 0 dB for the given sample rate.
    pub fn new(sample_rate: f32) -> Self {
        Trim {
            gain: Smoother::new(1.0, sample_rate, 0.02),
            sign: Smoother::new(1.0, sample_rate, 0.01),
            meters: Meters::new(),
        }
    }

    /// The same trim, counting blocks with NaN/Inf in `meters` (as a chain slot does).
    pub fn reporting_to(self, meters: Arc<Meters>) -> Self {
        Trim { meters, ..self }
    }

    /// The trim's parameters.
    pub fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::linear("gain", "Gain", Unit::Db, -24.0, 24.0, 0.0).with_step(0.01),
            ParamSpec::switch("invert", "Polarity invert", false),
        ]
    }
}

impl Processor for Trim {
    fn set_param(&mut self, index: usize, value: f32) {
        match index {
            Self::GAIN => self.gain.set_target(db_to_gain(value)),
            Self::INVERT => self.sign.set_target(if value >= 0.5 { -1.0 } else { 1.0 }),
            _ => {}
        }
    }

    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let mut bad = false;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            bad |= !(l.is_finite() && r.is_finite());
            let g = self.gain.next() * self.sign.next();
            *l = sanitize(*l) * g;
            *r = sanitize(*r) * g;
        }
        if bad {
            self.meters.report_nonfinite();
        }
    }
}
