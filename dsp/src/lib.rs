//! Real-time mastering DSP for rackd.
//!
//! Everything here is pure and real-time safe: processors allocate only when
//! they are built (off the audio thread), never in `process`. The daemon's
//! engine hosts a [`Chain`] of [`Processor`]s; values arrive in real units.

pub mod analysis;
pub mod biquad;
pub mod chain;
pub mod compressor;
pub mod delay;
pub mod dither;
pub mod eq;
pub mod findings;
pub mod insert;
pub mod latency;
pub mod limiter;
pub mod loudness;
pub mod meter;
pub mod monitor;
pub mod processor;
pub mod program_meter;
pub mod safety;
pub mod series;
pub mod smoothing;
pub mod spectrum;
pub mod stereo;
pub mod trim;
pub mod truepeak;

pub use chain::Chain;
pub use insert::{HardwareInsert, InsertIo, InsertPorts, NoInserts};
pub use limiter::Limiter;
pub use meter::{MeterReadings, Meters};
pub use monitor::Monitor;
pub use processor::{Processor, SlotKind};
pub use safety::{CeilingMode, SafetyCeiling};
pub use smoothing::Smoother;
pub use trim::Trim;

/// Converts decibels to a linear gain factor.
#[inline]
pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Converts a linear gain factor to decibels (−inf for 0).
#[inline]
pub fn gain_to_db(gain: f32) -> f32 {
    20.0 * gain.log10()
}

/// Replaces NaN/Inf and denormals with 0 so one bad sample cannot poison filter state.
#[inline]
pub fn sanitize(x: f32) -> f32 {
    // `&` and `|`, not `&&` and `||`: no branches, so loops over it vectorize.
    if x.is_finite() & ((x == 0.0) | (x.abs() >= f32::MIN_POSITIVE)) {
        x
    } else {
        0.0
    }
}
