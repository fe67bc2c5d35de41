//! Feed-forward compressor: peak or RMS detection, soft knee, attack and
//! release, stereo-linked or M/S, sidechain high pass, makeup and parallel mix.

use crate::biquad::{Biquad, Shape, design};
use crate::{Meters, Processor, Smoother, db_to_gain, sanitize};
use rackd_protocol::param::{ParamSpec, Unit};
use std::sync::Arc;

/// Static gain computer: gain change in dB (≤ 0) for a level in dB, with a
/// quadratic soft knee of `knee` dB around the threshold.
pub fn gain_computer(level: f32, threshold: f32, ratio: f32, knee: f32) -> f32 {
    let over = level - threshold;
    let slope = 1.0 / ratio.max(1.0) - 1.0;
    if knee > 0.0 && 2.0 * over.abs() <= knee {
        slope * (over + 0.5 * knee).powi(2) / (2.0 * knee)
    } else if over > 0.0 {
        slope * over
    } else {
        0.0
    }
}

/// Frames worked at once.
const CHUNK: usize = 256;
/// dB per octave of amplitude: 20·log10(2).
const DB_PER_OCTAVE: f32 = 20.0 * std::f32::consts::LOG10_2;
/// Octaves of amplitude per dB.
const OCTAVES_PER_DB: f32 = 1.0 / DB_PER_OCTAVE;

/// [`gain_computer`] without branches, so it runs many samples side by side.
#[inline(always)]
fn static_curve(level: f32, threshold: f32, ratio: f32, knee: f32) -> f32 {
    let over = level - threshold;
    let slope = 1.0 / ratio.max(1.0) - 1.0;
    let in_knee = (knee > 0.0) & (2.0 * over.abs() <= knee);
    let soft = slope * (over + 0.5 * knee).powi(2) / (2.0 * knee);
    let hard = if over > 0.0 { slope * over } else { 0.0 };
    if in_knee { soft } else { hard }
}

/// log2 of a positive normal `x`, within 1e-7 of it, without a library
/// call (so it vectorizes): the exponent from the bits, and for the
/// mantissa m in [√½, √2), 2·atanh((m−1)/(m+1)) by its series.
#[inline(always)]
fn log2(x: f32) -> f32 {
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > std::f32::consts::SQRT_2;
    let (m, e) = if big { (0.5 * m, e + 1) } else { (m, e) };
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let ln = t * (2.0 + t2 * (2.0 / 3.0 + t2 * (2.0 / 5.0 + t2 * (2.0 / 7.0 + t2 * (2.0 / 9.0)))));
    e as f32 + ln * std::f32::consts::LOG2_E
}

/// 2^y for y ≤ 0 (0 below 2^-126), within 2e-7 relative, without a library
/// call: 2^trunc(y) from the bits times 2^f, f in (−1, 0], by its series.
#[inline(always)]
fn exp2(y: f32) -> f32 {
    let y = y.clamp(-126.0, 0.0);
    let i = y as i32;
    let f = (y - i as f32) * std::f32::consts::LN_2;
    // e^f for f in (−0.7, 0]: Taylor to f^9 (error under 1e-8).
    let mut p = 1.0 / 362_880.0;
    for c in [
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * f + c;
    }
    p * f32::from_bits(((i + 127) as u32) << 23)
}

/// The compressor slot.
pub struct Compressor {
    meters: Arc<Meters>,
    sample_rate: f32,
    threshold: f32,
    ratio: f32,
    knee: f32,
    attack: f32,
    release: f32,
    rms: bool,
    mid_side: bool,
    sc_hp_on: bool,
    sc_hp: [Biquad; 2],
    makeup: Smoother,
    mix: Smoother,
    /// Detector mean squares (RMS mode).
    ms: [f32; 2],
    rms_coeff: f32,
    /// Smoothed gain reduction in dB (≤ 0) per detector channel.
    env: [f32; 2],
}

impl Compressor {
    /// Parameter indices, in spec order.
    pub const THRESHOLD: usize = 0;
    /// Ratio index.
    pub const RATIO: usize = 1;
    /// Knee index.
    pub const KNEE: usize = 2;
    /// Attack index.
    pub const ATTACK: usize = 3;
    /// Release index.
    pub const RELEASE: usize = 4;
    /// Detector (peak/rms) index.
    pub const DETECTOR: usize = 5;
    /// Link (stereo/mid_side) index.
    pub const LINK: usize = 6;
    /// Sidechain high pass on/off index.
    pub const SC_HP_ON: usize = 7;
    /// Sidechain high-pass frequency index.
    pub const SC_HP: usize = 8;
    /// Makeup index.
    pub const MAKEUP: usize = 9;
    /// Mix index.
    pub const MIX: usize = 10;

    /// The slot's parameters.
    pub fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::linear("threshold", "Threshold", Unit::Db, -60.0, 0.0, -18.0).with_step(0.1),
            ParamSpec::log("ratio", "Ratio", Unit::Ratio, 1.0, 20.0, 2.0).with_step(0.01),
            ParamSpec::linear("knee", "Knee", Unit::Db, 0.0, 24.0, 6.0).with_step(0.1),
            ParamSpec::log("attack", "Attack", Unit::Ms, 0.1, 300.0, 10.0).with_step(0.01),
            ParamSpec::log("release", "Release", Unit::Ms, 5.0, 3000.0, 150.0).with_step(0.1),
            ParamSpec::choice("detector", "Detector", &["peak", "rms"], "peak"),
            ParamSpec::choice("link", "Link", &["stereo", "mid_side"], "stereo"),
            ParamSpec::switch("sc_hp_on", "Sidechain high pass", false),
            ParamSpec::log(
                "sc_hp",
                "Sidechain HP frequency",
                Unit::Hz,
                20.0,
                500.0,
                90.0,
            )
            .with_step(0.1),
            ParamSpec::linear("makeup", "Makeup", Unit::Db, 0.0, 24.0, 0.0).with_step(0.01),
            ParamSpec::linear("mix", "Mix", Unit::Percent, 0.0, 100.0, 100.0).with_step(0.1),
        ]
    }

    /// A compressor with default settings.
    pub fn new(sample_rate: f32, meters: Arc<Meters>) -> Self {
        let mut c = Compressor {
            meters,
            sample_rate,
            threshold: -18.0,
            ratio: 2.0,
            knee: 6.0,
            attack: 0.0,
            release: 0.0,
            rms: false,
            mid_side: false,
            sc_hp_on: false,
            sc_hp: [Biquad::default(); 2],
            makeup: Smoother::new(1.0, sample_rate, 0.02),
            mix: Smoother::new(1.0, sample_rate, 0.02),
            ms: [0.0; 2],
            rms_coeff: (-1.0 / (0.01 * sample_rate)).exp(),
            env: [0.0; 2],
        };
        c.set_param(Self::ATTACK, 10.0);
        c.set_param(Self::RELEASE, 150.0);
        c.set_param(Self::SC_HP, 90.0);
        c
    }

    fn time_coeff(&self, ms: f32) -> f32 {
        (-1.0 / (ms.max(0.01) * 0.001 * self.sample_rate)).exp()
    }
}

impl Processor for Compressor {
    fn set_param(&mut self, index: usize, value: f32) {
        if !value.is_finite() {
            return;
        }
        match index {
            Self::THRESHOLD => self.threshold = value.clamp(-60.0, 0.0),
            Self::RATIO => self.ratio = value.clamp(1.0, 20.0),
            Self::KNEE => self.knee = value.clamp(0.0, 24.0),
            Self::ATTACK => self.attack = self.time_coeff(value.clamp(0.1, 300.0)),
            Self::RELEASE => self.release = self.time_coeff(value.clamp(5.0, 3000.0)),
            Self::DETECTOR => self.rms = value >= 0.5,
            Self::LINK => self.mid_side = value >= 0.5,
            Self::SC_HP_ON => self.sc_hp_on = value >= 0.5,
            Self::SC_HP => {
                let c = design(
                    Shape::HighPass,
                    value.clamp(20.0, 500.0) as f64,
                    0.0,
                    0.707,
                    self.sample_rate as f64,
                );
                for f in &mut self.sc_hp {
                    f.c = c;
                }
            }
            Self::MAKEUP => self.makeup.set_target(db_to_gain(value.clamp(0.0, 24.0))),
            Self::MIX => self.mix.set_target(value.clamp(0.0, 100.0) / 100.0),
            _ => {}
        }
    }

    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let mut bad = false;
        let mut max_gr = 0f32;
        // Below this detector level (linear; mean square in RMS mode) the
        // static curve gives exactly 0 dB: a margin of 0.01 dB under the
        // knee keeps the logarithm's rounding out of the decision.
        let quiet_db = self.threshold - 0.5 * self.knee - 0.01;
        let (quiet, floor, db_per_octave) = if self.rms {
            (10f32.powf(quiet_db / 10.0), 1e-20, DB_PER_OCTAVE / 2.0)
        } else {
            (10f32.powf(quiet_db / 20.0), 1e-10, DB_PER_OCTAVE)
        };
        // Linked: the louder channel decides for both.
        let channels = if self.mid_side { 2 } else { 1 };
        let n = left.len().min(right.len());
        let mut start = 0;
        // Stage by stage over a chunk: the stages without a recurrence (the
        // logarithm, the static curve, the gain, the output) run many samples
        // side by side; the envelope runs sample by sample.
        while start < n {
            let m = CHUNK.min(n - start);
            let (l, r) = (&mut left[start..start + m], &mut right[start..start + m]);
            bad |= l.iter().chain(r.iter()).any(|x| !x.is_finite());
            let mut x = [[0f32; CHUNK]; 2];
            for i in 0..m {
                x[0][i] = sanitize(l[i]);
                x[1][i] = sanitize(r[i]);
            }
            // Detector channels: L/R (linked) or M/S (independent); M/S
            // output works on the signals before the sidechain filter.
            let mut signal = x;
            if self.mid_side {
                for i in 0..m {
                    signal[0][i] = 0.5 * (x[0][i] + x[1][i]);
                    signal[1][i] = 0.5 * (x[0][i] - x[1][i]);
                }
            }
            let mut amount = signal;
            if self.sc_hp_on {
                for (d, f) in amount.iter_mut().zip(self.sc_hp.iter_mut()) {
                    for v in &mut d[..m] {
                        *v = f.tick(*v as f64) as f32;
                    }
                }
            }
            // Detector amounts: magnitude, or the running mean square.
            for (ch, a) in amount.iter_mut().enumerate() {
                if self.rms {
                    let mut ms = self.ms[ch];
                    for v in &mut a[..m] {
                        ms = *v * *v + (ms - *v * *v) * self.rms_coeff;
                        *v = ms;
                    }
                    self.ms[ch] = ms;
                } else {
                    for v in &mut a[..m] {
                        *v = v.abs();
                    }
                }
            }
            if channels == 1 {
                let [a0, a1] = &mut amount;
                for (a, &b) in a0[..m].iter_mut().zip(&a1[..m]) {
                    *a = a.max(b);
                }
            }
            // The static curve in dB (≤ 0), exactly 0 under the knee.
            let mut target = [[0f32; CHUNK]; 2];
            for ch in 0..channels {
                for (t, &a) in target[ch][..m].iter_mut().zip(&amount[ch][..m]) {
                    let level = db_per_octave * log2(a.max(floor));
                    let curve = static_curve(level, self.threshold, self.ratio, self.knee);
                    *t = if a >= quiet { curve } else { 0.0 };
                }
            }
            // The envelope; linked channels that agree share one.
            let shared = channels == 1 && self.env[1].to_bits() == self.env[0].to_bits();
            let runs = if shared { 1 } else { 2 };
            let mut env = [[0f32; CHUNK]; 2];
            for ch in 0..runs {
                let t = &target[ch.min(channels - 1)];
                let mut e = self.env[ch];
                for (out, &t) in env[ch][..m].iter_mut().zip(&t[..m]) {
                    // More reduction follows the attack, less the release.
                    let k = if t < e { self.attack } else { self.release };
                    e = t + (e - t) * k;
                    e = if e.abs() < 1e-6 { 0.0 } else { e };
                    *out = e;
                }
                self.env[ch] = e;
            }
            if shared {
                self.env[1] = self.env[0];
                env[1] = env[0];
            }
            let mut gain = [[0f32; CHUNK]; 2];
            for ch in 0..2 {
                for (g, &e) in gain[ch][..m].iter_mut().zip(&env[ch][..m]) {
                    *g = exp2(e * OCTAVES_PER_DB);
                }
                // The envelope is never above 0 dB: its largest magnitude is
                // the largest reduction.
                max_gr = max_gr.max(crate::truepeak::sample_peak(&env[ch][..m]));
            }
            let settled = self.makeup.is_settled() && self.mix.is_settled();
            let (makeup, mix) = (self.makeup.target(), self.mix.target());
            for i in 0..m {
                let (makeup, mix) = if settled {
                    (makeup, mix)
                } else {
                    (self.makeup.next(), self.mix.next())
                };
                let (x0, x1) = (x[0][i], x[1][i]);
                let (g0, g1) = (gain[0][i], gain[1][i]);
                let (y0, y1) = if self.mid_side {
                    let (m, s) = (signal[0][i] * g0, signal[1][i] * g1);
                    (m + s, m - s)
                } else {
                    (x0 * g0, x1 * g1)
                };
                l[i] = x0 + (y0 * makeup - x0) * mix;
                r[i] = x1 + (y1 * makeup - x1) * mix;
            }
            start += m;
        }
        for ch in 0..2 {
            bad |= self.sc_hp[ch].flush();
            if !self.ms[ch].is_finite() || self.ms[ch] < 1e-30 {
                self.ms[ch] = 0.0;
            }
            if !self.env[ch].is_finite() {
                self.env[ch] = 0.0;
                bad = true;
            }
        }
        self.meters.publish_gain_reduction(max_gr);
        if bad {
            self.meters.report_nonfinite();
        }
    }

    fn reset(&mut self) {
        self.env = [0.0; 2];
        self.ms = [0.0; 2];
        for f in &mut self.sc_hp {
            f.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_and_exp2_match_the_library() {
        // Amplitudes from -200 dB to +40 dB, mean squares likewise.
        let mut x = 1e-10f32;
        while x < 1e4 {
            let (got, want) = (log2(x), (x as f64).log2());
            assert!(
                (got as f64 - want).abs() < 2e-6,
                "log2 {x}: {got} vs {want}"
            );
            x *= 1.000_7;
        }
        let mut y = 0f32;
        while y > -40.0 {
            let (got, want) = (exp2(y), 2f64.powf(y as f64));
            assert!(
                ((got as f64 - want) / want).abs() < 3e-7,
                "exp2 {y}: {got} vs {want}"
            );
            y -= 0.000_37;
        }
        assert_eq!(exp2(0.0), 1.0);
        assert_eq!(exp2(-1000.0), 2f32.powi(-126));
    }

    #[test]
    fn knee_is_continuous_and_static_curve_follows_ratio() {
        for knee in [0.0, 6.0, 12.0] {
            let mut prev = gain_computer(-40.0, -20.0, 4.0, knee);
            let mut l = -40.0;
            while l < 0.0 {
                let g = gain_computer(l, -20.0, 4.0, knee);
                assert!((g - prev).abs() < 0.05, "jump at {l}");
                prev = g;
                l += 0.01;
            }
            // Far above the knee: output rises 1 dB per `ratio` dB of input.
            let a = -10.0 + gain_computer(-10.0, -20.0, 4.0, knee);
            assert!((a - -17.5).abs() < 1e-4, "{a}");
        }
    }

    #[test]
    fn steady_tone_settles_to_static_curve_and_reports_gr() {
        let meters = Meters::new();
        let mut c = Compressor::new(48_000.0, meters.clone());
        c.set_param(Compressor::KNEE, 0.0);
        c.set_param(Compressor::THRESHOLD, -20.0);
        c.set_param(Compressor::RATIO, 4.0);
        c.set_param(Compressor::DETECTOR, 1.0);
        // 1 kHz sine with RMS −10 dBFS: 10 dB over → 7.5 dB reduction.
        let amp = db_to_gain(-10.0) * 2f32.sqrt();
        let mut l: Vec<f32> = (0..96_000)
            .map(|i| amp * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 48_000.0).sin())
            .collect();
        let mut r = l.clone();
        c.process(&mut l, &mut r);
        let tail = &l[90_000..];
        let rms = (tail.iter().map(|x| x * x).sum::<f32>() / tail.len() as f32).sqrt();
        let out_db = 20.0 * rms.log10();
        assert!((out_db - -17.5).abs() < 0.3, "{out_db}");
        let gr = meters.take().gain_reduction;
        assert!((gr - 7.5).abs() < 0.5, "{gr}");
    }
}
