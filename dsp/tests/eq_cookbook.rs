//! The EQ slot's magnitude response against the published formulas, written
//! here and evaluated independently of `rackd_dsp::biquad`:
//!
//! - bell, shelves, notch and the 12 dB/oct pass filters: the biquad
//!   coefficients of R. Bristow-Johnson's "Cookbook formulae for audio EQ
//!   biquad filter coefficients", evaluated as H(e^jω) with complex
//!   arithmetic, and cross-checked against the cookbook's analog prototypes
//!   H(s) at the bilinear-warped frequency (so a slip in one transcription
//!   shows in the other);
//! - 24–48 dB/oct pass filters: the Butterworth magnitude
//!   |H|² = 1 / (1 + Ω^2n) (low pass) or Ω^2n / (1 + Ω^2n) (high pass) with
//!   Ω = tan(πf/fs) / tan(πf0/fs).
//!
//! The slot is measured as the audio thread runs it: parameters set through
//! `Processor::set_param`, settled, then an impulse through both channels and
//! the DFT of the response at 120 frequencies from 10 Hz to 0.45 fs, at 44.1,
//! 48 and 96 kHz. Tolerance: 0.01 dB wherever the reference is above −40 dB.

use rackd_dsp::eq::{Equalizer, PARAMS_PER_BAND};
use rackd_dsp::{Meters, Processor};
use std::f64::consts::PI;

/// A complex number, enough for evaluating transfer functions.
#[derive(Clone, Copy, Debug)]
struct C(f64, f64);

impl C {
    fn add(self, o: C) -> C {
        C(self.0 + o.0, self.1 + o.1)
    }
    fn mul(self, o: C) -> C {
        C(self.0 * o.0 - self.1 * o.1, self.0 * o.1 + self.1 * o.0)
    }
    fn scale(self, k: f64) -> C {
        C(self.0 * k, self.1 * k)
    }
    fn abs(self) -> f64 {
        self.0.hypot(self.1)
    }
}

/// The slot's band types, by their index in the `bN_type` enum.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Type {
    Bell = 0,
    LowShelf = 1,
    HighShelf = 2,
    LowPass = 3,
    HighPass = 4,
    Notch = 5,
}

/// One band: type, frequency, gain (dB), Q, slope index (0..3 = 12..48 dB/oct).
#[derive(Clone, Copy, Debug)]
struct Band(Type, f64, f64, f64, usize);

/// Cookbook coefficients (b0, b1, b2, a0, a1, a2) of one second-order section.
fn cookbook(t: Type, f0: f64, gain_db: f64, q: f64, fs: f64) -> ([f64; 3], [f64; 3]) {
    let a = 10f64.powf(gain_db / 40.0);
    let w0 = 2.0 * PI * f0 / fs;
    let (cos, sin) = (w0.cos(), w0.sin());
    let alpha = sin / (2.0 * q);
    let sa = 2.0 * a.sqrt() * alpha;
    match t {
        Type::LowPass => (
            [(1.0 - cos) / 2.0, 1.0 - cos, (1.0 - cos) / 2.0],
            [1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        ),
        Type::HighPass => (
            [(1.0 + cos) / 2.0, -(1.0 + cos), (1.0 + cos) / 2.0],
            [1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        ),
        Type::Notch => (
            [1.0, -2.0 * cos, 1.0],
            [1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        ),
        Type::Bell => (
            [1.0 + alpha * a, -2.0 * cos, 1.0 - alpha * a],
            [1.0 + alpha / a, -2.0 * cos, 1.0 - alpha / a],
        ),
        Type::LowShelf => (
            [
                a * ((a + 1.0) - (a - 1.0) * cos + sa),
                2.0 * a * ((a - 1.0) - (a + 1.0) * cos),
                a * ((a + 1.0) - (a - 1.0) * cos - sa),
            ],
            [
                (a + 1.0) + (a - 1.0) * cos + sa,
                -2.0 * ((a - 1.0) + (a + 1.0) * cos),
                (a + 1.0) + (a - 1.0) * cos - sa,
            ],
        ),
        Type::HighShelf => (
            [
                a * ((a + 1.0) + (a - 1.0) * cos + sa),
                -2.0 * a * ((a - 1.0) + (a + 1.0) * cos),
                a * ((a + 1.0) + (a - 1.0) * cos - sa),
            ],
            [
                (a + 1.0) - (a - 1.0) * cos + sa,
                2.0 * ((a - 1.0) - (a + 1.0) * cos),
                (a + 1.0) - (a - 1.0) * cos - sa,
            ],
        ),
    }
}

/// |H(e^jω)| of cookbook coefficients, by complex evaluation in z^-1.
fn digital(b: [f64; 3], a: [f64; 3], f: f64, fs: f64) -> f64 {
    let w = 2.0 * PI * f / fs;
    let z1 = C(w.cos(), -w.sin());
    let z2 = z1.mul(z1);
    let num = C(b[0], 0.0).add(z1.scale(b[1])).add(z2.scale(b[2]));
    let den = C(a[0], 0.0).add(z1.scale(a[1])).add(z2.scale(a[2]));
    num.abs() / den.abs()
}

/// |H(s)| of the cookbook's analog prototype (normalized to f0 = 1) at the
/// frequency the bilinear transform with prewarping maps `f` to.
fn analog(t: Type, f0: f64, gain_db: f64, q: f64, fs: f64, f: f64) -> f64 {
    let a = 10f64.powf(gain_db / 40.0);
    let s = C(0.0, (PI * f / fs).tan() / (PI * f0 / fs).tan());
    let s2 = s.mul(s);
    let poly = |c2: f64, c1: f64, c0: f64| s2.scale(c2).add(s.scale(c1)).add(C(c0, 0.0));
    let (num, den) = match t {
        Type::LowPass => (C(1.0, 0.0), poly(1.0, 1.0 / q, 1.0)),
        Type::HighPass => (s2, poly(1.0, 1.0 / q, 1.0)),
        Type::Notch => (poly(1.0, 0.0, 1.0), poly(1.0, 1.0 / q, 1.0)),
        Type::Bell => (poly(1.0, a / q, 1.0), poly(1.0, 1.0 / (a * q), 1.0)),
        Type::LowShelf => (
            poly(1.0, a.sqrt() / q, a).scale(a),
            poly(a, a.sqrt() / q, 1.0),
        ),
        Type::HighShelf => (
            poly(a, a.sqrt() / q, 1.0).scale(a),
            poly(1.0, a.sqrt() / q, a),
        ),
    };
    num.abs() / den.abs()
}

/// The published response of one band at `f` (linear).
fn reference(band: Band, fs: f64, f: f64) -> f64 {
    let Band(t, f0, gain, q, slope) = band;
    let pass = matches!(t, Type::LowPass | Type::HighPass);
    if pass && slope > 0 {
        let order = 2 * (slope + 1) as i32;
        let w = (PI * f / fs).tan() / (PI * f0 / fs).tan();
        let p = w.powi(2 * order);
        return if t == Type::LowPass {
            (1.0 / (1.0 + p)).sqrt()
        } else {
            (p / (1.0 + p)).sqrt()
        };
    }
    let (b, a) = cookbook(t, f0, gain, q, fs);
    let d = digital(b, a, f, fs);
    let s = analog(t, f0, gain, q, fs, f);
    assert!(
        (d - s).abs() <= 1e-9 * d.max(s).max(1e-6),
        "the test's two transcriptions disagree for {band:?} at {f} Hz: {d} vs {s}"
    );
    d
}

/// The slot set to `bands` (the others off), its impulse response (left, right).
fn impulse_response(bands: &[Band], fs: f64) -> [Vec<f32>; 2] {
    let mut eq = Equalizer::new(fs as f32, Meters::new());
    for (b, &Band(t, f0, gain, q, slope)) in bands.iter().enumerate() {
        let p = |i: usize| b * PARAMS_PER_BAND + i;
        eq.set_param(p(0), 1.0);
        eq.set_param(p(1), t as i32 as f32);
        eq.set_param(p(2), f0 as f32);
        eq.set_param(p(3), gain as f32);
        eq.set_param(p(4), q as f32);
        eq.set_param(p(5), slope as f32);
    }
    // Silence while the parameter glides and the band fades in settle: the
    // filters stay at rest, so what follows is the settled response.
    for _ in 0..(fs as usize / 256) {
        let (mut l, mut r) = (vec![0f32; 256], vec![0f32; 256]);
        eq.process(&mut l, &mut r);
        assert!(l.iter().chain(&r).all(|&v| v == 0.0));
    }
    let n = (fs * 1.5) as usize;
    let (mut l, mut r) = (vec![0f32; n], vec![0f32; n]);
    l[0] = 1.0;
    r[0] = 1.0;
    for (cl, cr) in l.chunks_mut(256).zip(r.chunks_mut(256)) {
        eq.process(cl, cr);
    }
    [l, r]
}

/// |DFT| of `h` at `f` Hz.
fn magnitude(h: &[f32], f: f64, fs: f64) -> f64 {
    let w = 2.0 * PI * f / fs;
    let step = C(w.cos(), -w.sin());
    let mut phasor = C(1.0, 0.0);
    let mut acc = C(0.0, 0.0);
    for (i, &v) in h.iter().enumerate() {
        if i % 4096 == 0 {
            // Re-anchor the phasor so rounding cannot drift over a long response.
            let x = w * i as f64;
            phasor = C(x.cos(), -x.sin());
        }
        acc = acc.add(phasor.scale(v as f64));
        phasor = phasor.mul(step);
    }
    acc.abs()
}

fn check(name: &str, bands: &[Band]) -> usize {
    let mut checked = 0;
    for fs in [44_100.0, 48_000.0, 96_000.0] {
        let h = impulse_response(bands, fs);
        let top = fs * 0.45;
        for k in 0..120 {
            let f = 10.0 * (top / 10.0f64).powf(k as f64 / 119.0);
            let want: f64 = bands.iter().map(|&b| reference(b, fs, f)).product();
            let want_db = 20.0 * want.log10();
            if want_db < -40.0 {
                continue;
            }
            for (side, ch) in h.iter().zip(["left", "right"]) {
                let got_db = 20.0 * magnitude(side, f, fs).log10();
                assert!(
                    (got_db - want_db).abs() <= 0.01,
                    "{name} at {fs} Hz, {f:.1} Hz ({ch}): {got_db:.4} dB, cookbook {want_db:.4} dB"
                );
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn each_band_type_matches_the_cookbook() {
    use Type::*;
    let cases: &[(&str, Band)] = &[
        ("bell +6 dB Q 0.7 at 1 kHz", Band(Bell, 1000.0, 6.0, 0.7, 0)),
        ("bell -9 dB Q 4 at 100 Hz", Band(Bell, 100.0, -9.0, 4.0, 0)),
        (
            "bell +3 dB Q 1.5 at 12 kHz",
            Band(Bell, 12_000.0, 3.0, 1.5, 0),
        ),
        (
            "low shelf +4 dB at 120 Hz",
            Band(LowShelf, 120.0, 4.0, 0.7, 0),
        ),
        (
            "low shelf -6 dB Q 1 at 60 Hz",
            Band(LowShelf, 60.0, -6.0, 1.0, 0),
        ),
        (
            "high shelf -3 dB at 8 kHz",
            Band(HighShelf, 8000.0, -3.0, 0.7, 0),
        ),
        (
            "high shelf +5 dB Q 0.5 at 12 kHz",
            Band(HighShelf, 12_000.0, 5.0, 0.5, 0),
        ),
        ("notch Q 8 at 600 Hz", Band(Notch, 600.0, 0.0, 8.0, 0)),
        ("notch Q 2 at 3 kHz", Band(Notch, 3000.0, 0.0, 2.0, 0)),
        (
            "low pass 12 dB/oct Q 0.707 at 18 kHz",
            Band(LowPass, 18_000.0, 0.0, 0.707, 0),
        ),
        (
            "low pass 12 dB/oct Q 2 at 5 kHz",
            Band(LowPass, 5000.0, 0.0, 2.0, 0),
        ),
        (
            "low pass 24 dB/oct at 8 kHz",
            Band(LowPass, 8000.0, 0.0, 0.707, 1),
        ),
        (
            "low pass 36 dB/oct at 15 kHz",
            Band(LowPass, 15_000.0, 0.0, 0.707, 2),
        ),
        (
            "low pass 48 dB/oct at 3 kHz",
            Band(LowPass, 3000.0, 0.0, 0.707, 3),
        ),
        (
            "high pass 12 dB/oct Q 0.5 at 40 Hz",
            Band(HighPass, 40.0, 0.0, 0.5, 0),
        ),
        (
            "high pass 24 dB/oct at 200 Hz",
            Band(HighPass, 200.0, 0.0, 0.707, 1),
        ),
        (
            "high pass 36 dB/oct at 80 Hz",
            Band(HighPass, 80.0, 0.0, 0.707, 2),
        ),
        (
            "high pass 48 dB/oct at 25 Hz",
            Band(HighPass, 25.0, 0.0, 0.707, 3),
        ),
    ];
    for (name, band) in cases {
        let checked = check(name, &[*band]);
        assert!(checked > 150, "{name}: only {checked} points compared");
    }
}

#[test]
fn eight_bands_together_multiply() {
    use Type::*;
    let bands = [
        Band(HighPass, 25.0, 0.0, 0.707, 3),
        Band(LowShelf, 90.0, 3.0, 0.8, 0),
        Band(Bell, 250.0, -4.0, 1.5, 0),
        Band(Notch, 600.0, 0.0, 8.0, 0),
        Band(Bell, 2500.0, 2.5, 0.7, 0),
        Band(HighShelf, 9000.0, -2.0, 0.7, 0),
        Band(LowPass, 19_000.0, 0.0, 0.707, 1),
        Band(Bell, 5000.0, 6.0, 3.0, 0),
    ];
    assert!(check("eight bands", &bands) > 300);
}
