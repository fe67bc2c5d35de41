//! Trim: gain in dB and polarity, smoothed.

use crate::{Processor, Smoother, db_to_gain};
use rackd_protocol::param::{ParamSpec, Unit};

/// Gain stage with polarity invert; the simplest slot and the first one in most chains.
pub struct Trim {
    gain: Smoother,
    /// +1 or −1, glided so that flipping polarity never clicks.
    sign: Smoother,
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
        }
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
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let g = self.gain.next() * self.sign.next();
            *l *= g;
            *r *= g;
        }
    }
}
