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
        // knee keeps log10's rounding out of the decision.
        let quiet_db = self.threshold - 0.5 * self.knee - 0.01;
        let quiet = if self.rms {
            10f32.powf(quiet_db / 10.0)
        } else {
            10f32.powf(quiet_db / 20.0)
        };
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            bad |= !(l.is_finite() && r.is_finite());
            let (x0, x1) = (sanitize(*l), sanitize(*r));
            // Detector channels: L/R (linked) or M/S (independent).
            let (d0, d1) = if self.mid_side {
                (0.5 * (x0 + x1), 0.5 * (x0 - x1))
            } else {
                (x0, x1)
            };
            let mut det = [d0, d1];
            if self.sc_hp_on {
                for (d, f) in det.iter_mut().zip(self.sc_hp.iter_mut()) {
                    *d = f.tick(*d as f64) as f32;
                }
            }
            let mut amount = [0f32; 2];
            for ch in 0..2 {
                let v = det[ch];
                amount[ch] = if self.rms {
                    self.ms[ch] = v * v + (self.ms[ch] - v * v) * self.rms_coeff;
                    self.ms[ch]
                } else {
                    v.abs()
                };
            }
            // Linked: the louder channel decides for both; log10 is monotonic,
            // so taking the larger level before it is the same as after.
            let channels = if self.mid_side { 2 } else { 1 };
            if !self.mid_side {
                amount[0] = amount[0].max(amount[1]);
            }
            let mut level = [0f32; 2];
            let mut target = [0f32; 2];
            for ch in 0..channels {
                if amount[ch] < quiet {
                    continue;
                }
                level[ch] = if self.rms {
                    10.0 * amount[ch].max(1e-20).log10()
                } else {
                    20.0 * amount[ch].max(1e-10).log10()
                };
                target[ch] = gain_computer(level[ch], self.threshold, self.ratio, self.knee);
            }
            if channels == 1 {
                target[1] = target[0];
            }
            // Linked channels share one envelope whenever they agree.
            let shared = channels == 1 && self.env[1].to_bits() == self.env[0].to_bits();
            let mut g = [1f32; 2];
            for ch in 0..2 {
                if ch == 1 && shared {
                    self.env[1] = self.env[0];
                    g[1] = g[0];
                    continue;
                }
                let target = target[ch];
                // More reduction follows the attack, less follows the release.
                let k = if target < self.env[ch] {
                    self.attack
                } else {
                    self.release
                };
                self.env[ch] = target + (self.env[ch] - target) * k;
                if self.env[ch].abs() < 1e-6 {
                    self.env[ch] = 0.0;
                }
                g[ch] = if self.env[ch] == 0.0 {
                    1.0
                } else {
                    db_to_gain(self.env[ch])
                };
                max_gr = max_gr.max(-self.env[ch]);
            }
            let makeup = self.makeup.next();
            let mix = self.mix.next();
            let (y0, y1) = if self.mid_side {
                let (m, s) = (d0 * g[0], d1 * g[1]);
                (m + s, m - s)
            } else {
                (x0 * g[0], x1 * g[1])
            };
            *l = x0 + (y0 * makeup - x0) * mix;
            *r = x1 + (y1 * makeup - x1) * mix;
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
