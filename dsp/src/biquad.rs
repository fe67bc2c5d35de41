//! Second-order sections: designs by the bilinear transform with prewarping,
//! their analytic (analog prototype) responses, and a double-precision runner.
//!
//! The designs are the bilinear transform of the classic analog prototypes,
//! prewarped so that the corner frequency lands exactly; that is what the
//! EQ promises and what the tests hold it to.

use std::f64::consts::PI;

/// Normalized biquad coefficients (`a0` = 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coeffs {
    /// Feed-forward b0.
    pub b0: f64,
    /// Feed-forward b1.
    pub b1: f64,
    /// Feed-forward b2.
    pub b2: f64,
    /// Feedback a1.
    pub a1: f64,
    /// Feedback a2.
    pub a2: f64,
}

impl Coeffs {
    /// The pass-through section.
    pub const IDENTITY: Coeffs = Coeffs {
        b0: 1.0,
        b1: 0.0,
        b2: 0.0,
        a1: 0.0,
        a2: 0.0,
    };

    fn from_raw(b: [f64; 3], a: [f64; 3]) -> Self {
        Coeffs {
            b0: b[0] / a[0],
            b1: b[1] / a[0],
            b2: b[2] / a[0],
            a1: a[1] / a[0],
            a2: a[2] / a[0],
        }
    }

    /// Magnitude of the digital response at `freq` Hz (linear).
    pub fn magnitude(&self, freq: f64, sample_rate: f64) -> f64 {
        let w = 2.0 * PI * freq / sample_rate;
        let (c1, s1) = (w.cos(), -w.sin());
        let (c2, s2) = ((2.0 * w).cos(), -(2.0 * w).sin());
        let nr = self.b0 + self.b1 * c1 + self.b2 * c2;
        let ni = self.b1 * s1 + self.b2 * s2;
        let dr = 1.0 + self.a1 * c1 + self.a2 * c2;
        let di = self.a1 * s1 + self.a2 * s2;
        ((nr * nr + ni * ni) / (dr * dr + di * di)).sqrt()
    }
}

/// The shapes a single second-order section can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Peaking bell.
    Bell,
    /// Low shelf.
    LowShelf,
    /// High shelf.
    HighShelf,
    /// Second-order low pass.
    LowPass,
    /// Second-order high pass.
    HighPass,
    /// Notch (band reject).
    Notch,
}

/// Designs one section: `freq` Hz, `gain_db` (bell and shelves), `q`.
pub fn design(shape: Shape, freq: f64, gain_db: f64, q: f64, sample_rate: f64) -> Coeffs {
    let freq = freq.clamp(1.0, sample_rate * 0.4999);
    let w0 = 2.0 * PI * freq / sample_rate;
    let (cw, sw) = (w0.cos(), w0.sin());
    let alpha = sw / (2.0 * q.max(1e-3));
    let a = 10f64.powf(gain_db / 40.0);
    match shape {
        Shape::Bell => Coeffs::from_raw(
            [1.0 + alpha * a, -2.0 * cw, 1.0 - alpha * a],
            [1.0 + alpha / a, -2.0 * cw, 1.0 - alpha / a],
        ),
        Shape::LowShelf => {
            let k = 2.0 * a.sqrt() * alpha;
            Coeffs::from_raw(
                [
                    a * ((a + 1.0) - (a - 1.0) * cw + k),
                    2.0 * a * ((a - 1.0) - (a + 1.0) * cw),
                    a * ((a + 1.0) - (a - 1.0) * cw - k),
                ],
                [
                    (a + 1.0) + (a - 1.0) * cw + k,
                    -2.0 * ((a - 1.0) + (a + 1.0) * cw),
                    (a + 1.0) + (a - 1.0) * cw - k,
                ],
            )
        }
        Shape::HighShelf => {
            let k = 2.0 * a.sqrt() * alpha;
            Coeffs::from_raw(
                [
                    a * ((a + 1.0) + (a - 1.0) * cw + k),
                    -2.0 * a * ((a - 1.0) + (a + 1.0) * cw),
                    a * ((a + 1.0) + (a - 1.0) * cw - k),
                ],
                [
                    (a + 1.0) - (a - 1.0) * cw + k,
                    2.0 * ((a - 1.0) - (a + 1.0) * cw),
                    (a + 1.0) - (a - 1.0) * cw - k,
                ],
            )
        }
        Shape::LowPass => Coeffs::from_raw(
            [(1.0 - cw) / 2.0, 1.0 - cw, (1.0 - cw) / 2.0],
            [1.0 + alpha, -2.0 * cw, 1.0 - alpha],
        ),
        Shape::HighPass => Coeffs::from_raw(
            [(1.0 + cw) / 2.0, -(1.0 + cw), (1.0 + cw) / 2.0],
            [1.0 + alpha, -2.0 * cw, 1.0 - alpha],
        ),
        Shape::Notch => {
            Coeffs::from_raw([1.0, -2.0 * cw, 1.0], [1.0 + alpha, -2.0 * cw, 1.0 - alpha])
        }
    }
}

/// Analytic magnitude of the analog prototype that [`design`] maps, evaluated
/// at the prewarped frequency — the reference the EQ is tested against.
pub fn analytic_magnitude(
    shape: Shape,
    freq: f64,
    gain_db: f64,
    q: f64,
    sample_rate: f64,
    at: f64,
) -> f64 {
    let freq = freq.clamp(1.0, sample_rate * 0.4999);
    let w = (PI * at / sample_rate).tan() / (PI * freq / sample_rate).tan();
    let a = 10f64.powf(gain_db / 40.0);
    // |H(jw)| for H(s) = (n2 s^2 + n1 s + n0) / (d2 s^2 + d1 s + d0).
    let mag = |n: [f64; 3], d: [f64; 3]| {
        let (nr, ni) = (n[0] - n[2] * w * w, n[1] * w);
        let (dr, di) = (d[0] - d[2] * w * w, d[1] * w);
        ((nr * nr + ni * ni) / (dr * dr + di * di)).sqrt()
    };
    match shape {
        Shape::Bell => mag([1.0, a / q, 1.0], [1.0, 1.0 / (a * q), 1.0]),
        Shape::LowShelf => a * mag([a, a.sqrt() / q, 1.0], [1.0, a.sqrt() / q, a]),
        Shape::HighShelf => a * mag([1.0, a.sqrt() / q, a], [a, a.sqrt() / q, 1.0]),
        Shape::LowPass => mag([1.0, 0.0, 0.0], [1.0, 1.0 / q, 1.0]),
        Shape::HighPass => mag([0.0, 0.0, 1.0], [1.0, 1.0 / q, 1.0]),
        Shape::Notch => mag([1.0, 0.0, 1.0], [1.0, 1.0 / q, 1.0]),
    }
}

/// Q of each section of an even-order Butterworth filter (`order` 2..=8).
pub fn butterworth_qs(order: usize) -> impl Iterator<Item = f64> {
    let n = order.max(2) / 2 * 2;
    (1..=n / 2).map(move |k| 1.0 / (2.0 * ((2 * k - 1) as f64 * PI / (2 * n) as f64).sin()))
}

/// Runs one section in transposed direct form II with double-precision state.
#[derive(Debug, Clone, Copy)]
pub struct Biquad {
    /// Current coefficients.
    pub c: Coeffs,
    z1: f64,
    z2: f64,
}

impl Default for Biquad {
    fn default() -> Self {
        Biquad::new(Coeffs::IDENTITY)
    }
}

impl Biquad {
    /// A section with cleared state.
    pub fn new(c: Coeffs) -> Self {
        Biquad {
            c,
            z1: 0.0,
            z2: 0.0,
        }
    }

    /// Processes one sample.
    #[inline]
    pub fn tick(&mut self, x: f64) -> f64 {
        let c = &self.c;
        let y = c.b0 * x + self.z1;
        self.z1 = c.b1 * x - c.a1 * y + self.z2;
        self.z2 = c.b2 * x - c.a2 * y;
        y
    }

    /// Clears the state.
    pub fn reset(&mut self) {
        self.z1 = 0.0;
        self.z2 = 0.0;
    }

    /// Flushes tiny or non-finite state so silence never runs on denormals
    /// and one bad sample cannot ring forever. Returns true if state was bad.
    pub fn flush(&mut self) -> bool {
        let bad = !(self.z1.is_finite() && self.z2.is_finite());
        if bad || self.z1.abs() < 1e-25 {
            self.z1 = 0.0;
        }
        if bad || self.z2.abs() < 1e-25 {
            self.z2 = 0.0;
        }
        bad
    }

    /// The state, for tests that check it stays normal.
    pub fn state(&self) -> [f64; 2] {
        [self.z1, self.z2]
    }

    /// Sets the state (for runners that keep it elsewhere while they work).
    pub(crate) fn set_state(&mut self, z: [f64; 2]) {
        [self.z1, self.z2] = z;
    }
}

/// One section's coefficients, each twice: for [`tick_pair`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairCoeffs([[f64; 2]; 5]);

impl PairCoeffs {
    pub(crate) const IDENTITY: PairCoeffs =
        PairCoeffs([[1.0; 2], [0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]]);

    pub(crate) fn new(c: &Coeffs) -> Self {
        PairCoeffs([[c.b0; 2], [c.b1; 2], [c.b2; 2], [c.a1; 2], [c.a2; 2]])
    }
}

/// Two channels through one section's coefficients, side by side: per
/// channel the same operations as [`Biquad::tick`], so the compiler can run
/// both in one vector register. `z` holds `[z1, z2]`, each per channel.
#[inline(always)]
pub(crate) fn tick_pair(c: &PairCoeffs, z: &mut [[f64; 2]; 2], x: [f64; 2]) -> [f64; 2] {
    let [b0, b1, b2, a1, a2] = &c.0;
    let mut y = [0.0; 2];
    for ch in 0..2 {
        y[ch] = b0[ch] * x[ch] + z[0][ch];
        z[0][ch] = b1[ch] * x[ch] - a1[ch] * y[ch] + z[1][ch];
        z[1][ch] = b2[ch] * x[ch] - a2[ch] * y[ch];
    }
    y
}
