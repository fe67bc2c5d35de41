//! TPDF dither and requantization to 16 or 24 bit, with optional noise shaping.

use crate::{Meters, Processor, sanitize};
use rackd_protocol::param::ParamSpec;
use std::sync::Arc;

/// A small, fast generator (xorshift64*) for dither noise; no allocation, no locks.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (v >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Triangular (TPDF) in (−1, 1) LSB: the sum of two uniform ±½ LSB.
    #[inline]
    pub fn tpdf(&mut self) -> f64 {
        self.uniform() - self.uniform()
    }
}

/// Noise-shaping choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shaping {
    /// Flat TPDF.
    Off,
    /// First-order error feedback (+6 dB/oct tilt).
    Simple,
    /// Second-order error feedback (+12 dB/oct tilt).
    Strong,
}

/// The dither slot; place it last.
pub struct Dither {
    meters: Arc<Meters>,
    bits: u32,
    shaping: Shaping,
    rng: [Rng; 2],
    err: [[f64; 2]; 2],
}

impl Dither {
    /// Index of `bits` (16 or 24).
    pub const BITS: usize = 0;
    /// Index of `shaping`.
    pub const SHAPING: usize = 1;

    /// The slot's parameters.
    pub fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::choice("bits", "Word length", &["16", "24"], "24"),
            ParamSpec::choice(
                "shaping",
                "Noise shaping",
                &["off", "simple", "strong"],
                "off",
            ),
        ]
    }

    /// 24-bit flat TPDF dither.
    pub fn new(meters: Arc<Meters>) -> Self {
        Dither {
            meters,
            bits: 24,
            shaping: Shaping::Off,
            rng: [
                Rng::new(0x9e37_79b9_7f4a_7c15),
                Rng::new(0xd1b5_4a32_d192_ed03),
            ],
            err: [[0.0; 2]; 2],
        }
    }

    /// Word length in bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }
}

impl Processor for Dither {
    fn set_param(&mut self, index: usize, value: f32) {
        match index {
            Self::BITS => self.bits = if value >= 0.5 { 24 } else { 16 },
            Self::SHAPING => {
                self.shaping = match value.round() as i32 {
                    1 => Shaping::Simple,
                    2 => Shaping::Strong,
                    _ => Shaping::Off,
                }
            }
            _ => {}
        }
        self.err = [[0.0; 2]; 2];
    }

    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let scale = (1u64 << (self.bits - 1)) as f64;
        let max = (scale - 1.0) / scale;
        let mut bad = false;
        for (ch, buf) in [left, right].into_iter().enumerate() {
            let [e1, e2] = &mut self.err[ch];
            for x in buf.iter_mut() {
                bad |= !x.is_finite();
                let v = sanitize(*x) as f64 * scale;
                let shaped = match self.shaping {
                    Shaping::Off => v,
                    Shaping::Simple => v - *e1,
                    Shaping::Strong => v - 2.0 * *e1 + *e2,
                };
                let q = (shaped + self.rng[ch].tpdf()).round();
                let q = q.clamp(-scale, scale - 1.0);
                let e = q - shaped;
                // Keep the feedback bounded when the signal clips.
                *e2 = *e1;
                *e1 = e.clamp(-2.0, 2.0);
                *x = ((q / scale).clamp(-1.0, max)) as f32;
            }
        }
        if bad {
            self.meters.report_nonfinite();
        }
    }

    fn reset(&mut self) {
        self.err = [[0.0; 2]; 2];
    }
}
