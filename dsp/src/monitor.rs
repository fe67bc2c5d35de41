//! The monitor section: level, mute, dim and mono for the speakers, after the
//! chain and before the safety ceiling.
//!
//! Every change glides (about 20 ms), so riding the level, muting or folding
//! to mono never clicks. Level, mute and dim make one gain; mono crossfades
//! between the stereo signal and (L+R)/2 on both sides.

use crate::{Processor, Smoother, db_to_gain};
use rackd_protocol::param::{ParamSpec, Unit};

/// Glide time of every monitor change, in seconds.
const GLIDE_S: f32 = 0.02;

/// Monitor controls; not part of the chain, so a snapshot's processing never
/// depends on where the speakers are turned to.
pub struct Monitor {
    level_db: f32,
    mute: bool,
    dim: bool,
    dim_db: f32,
    /// Linear gain from level, mute and dim.
    gain: Smoother,
    /// 0 = stereo, 1 = mono.
    mono: Smoother,
}

impl Monitor {
    /// Index of `level` in [`Monitor::params`].
    pub const LEVEL: usize = 0;
    /// Index of `mute` in [`Monitor::params`].
    pub const MUTE: usize = 1;
    /// Index of `dim` in [`Monitor::params`].
    pub const DIM: usize = 2;
    /// Index of `dim_db` in [`Monitor::params`].
    pub const DIM_DB: usize = 3;
    /// Index of `mono` in [`Monitor::params`].
    pub const MONO: usize = 4;

    /// A monitor at its defaults: 0 dB, not muted, not dimmed, stereo.
    pub fn new(sample_rate: f32) -> Self {
        Monitor {
            level_db: 0.0,
            mute: false,
            dim: false,
            dim_db: -20.0,
            gain: Smoother::new(1.0, sample_rate, GLIDE_S),
            mono: Smoother::new(0.0, sample_rate, GLIDE_S),
        }
    }

    /// The monitor's parameters (addresses `/monitor/<id>`), in index order.
    pub fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::linear("level", "Monitor level", Unit::Db, -60.0, 12.0, 0.0).with_step(0.1),
            ParamSpec::switch("mute", "Mute", false),
            ParamSpec::switch("dim", "Dim", false),
            ParamSpec::linear("dim_db", "Dim amount", Unit::Db, -60.0, 0.0, -20.0).with_step(0.1),
            ParamSpec::switch("mono", "Mono", false),
        ]
    }

    /// Jumps to the current settings at once (a fresh engine starts there
    /// instead of gliding from the defaults).
    pub fn settle(&mut self) {
        self.gain.snap(self.gain.target());
        self.mono.snap(self.mono.target());
    }

    fn update_gain(&mut self) {
        let gain = if self.mute {
            0.0
        } else if self.dim {
            db_to_gain(self.level_db + self.dim_db)
        } else {
            db_to_gain(self.level_db)
        };
        self.gain.set_target(gain);
    }
}

impl Processor for Monitor {
    fn set_param(&mut self, index: usize, value: f32) {
        if !value.is_finite() {
            return;
        }
        match index {
            Self::LEVEL => self.level_db = value.clamp(-60.0, 12.0),
            Self::MUTE => self.mute = value >= 0.5,
            Self::DIM => self.dim = value >= 0.5,
            Self::DIM_DB => self.dim_db = value.clamp(-60.0, 0.0),
            Self::MONO => {
                self.mono.set_target(if value >= 0.5 { 1.0 } else { 0.0 });
                return;
            }
            _ => return,
        }
        self.update_gain();
    }

    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        if self.gain.is_settled() && self.mono.is_settled() {
            // The common case: fixed settings, no per-sample smoothing.
            let g = self.gain.current();
            let m = self.mono.current();
            if g == 1.0 && m == 0.0 {
                return;
            }
            for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                let mid = (*l + *r) * 0.5;
                *l = (*l + (mid - *l) * m) * g;
                *r = (*r + (mid - *r) * m) * g;
            }
            return;
        }
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let g = self.gain.next();
            let m = self.mono.next();
            let mid = (*l + *r) * 0.5;
            *l = (*l + (mid - *l) * m) * g;
            *r = (*r + (mid - *r) * m) * g;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: f32 = 48_000.0;

    /// A settled monitor with `(index, value)` settings applied.
    fn monitor(settings: &[(usize, f32)]) -> Monitor {
        let mut m = Monitor::new(SR);
        for &(i, v) in settings {
            m.set_param(i, v);
        }
        m.settle();
        m
    }

    fn run(m: &mut Monitor, l: f32, r: f32, n: usize) -> (Vec<f32>, Vec<f32>) {
        let (mut left, mut right) = (vec![l; n], vec![r; n]);
        m.process(&mut left, &mut right);
        (left, right)
    }

    #[test]
    fn defaults_pass_audio_untouched() {
        let mut m = Monitor::new(SR);
        let (l, r) = run(&mut m, 0.3, -0.7, 64);
        assert!(l.iter().all(|&x| x == 0.3) && r.iter().all(|&x| x == -0.7));
    }

    #[test]
    fn level_mute_dim_and_clamping() {
        let (l, _) = run(&mut monitor(&[(Monitor::LEVEL, -6.0)]), 0.5, 0.5, 8);
        assert!((l[7] - 0.5 * db_to_gain(-6.0)).abs() < 1e-6);

        let (l, r) = run(&mut monitor(&[(Monitor::MUTE, 1.0)]), 0.5, -0.5, 8);
        assert!(l.iter().chain(&r).all(|&x| x == 0.0));

        let (l, _) = run(&mut monitor(&[(Monitor::DIM, 1.0)]), 1.0, 1.0, 8);
        assert!(
            (l[7] - db_to_gain(-20.0)).abs() < 1e-6,
            "default dim is -20 dB"
        );

        let settings = [
            (Monitor::LEVEL, -3.0),
            (Monitor::DIM_DB, -10.0),
            (Monitor::DIM, 1.0),
        ];
        let (l, _) = run(&mut monitor(&settings), 1.0, 1.0, 8);
        assert!(
            (l[7] - db_to_gain(-13.0)).abs() < 1e-6,
            "dim adds to the level"
        );

        let (l, _) = run(&mut monitor(&[(Monitor::LEVEL, 40.0)]), 0.1, 0.1, 8);
        assert!(
            (l[7] - 0.1 * db_to_gain(12.0)).abs() < 1e-6,
            "level stops at +12 dB"
        );

        let (l, _) = run(&mut monitor(&[(Monitor::LEVEL, f32::NAN)]), 0.1, 0.1, 8);
        assert_eq!(l[7], 0.1, "a NaN setting is ignored");
    }

    #[test]
    fn mono_sums_half_of_left_and_right() {
        let (l, r) = run(&mut monitor(&[(Monitor::MONO, 1.0)]), 0.8, 0.2, 8);
        assert!(
            l.iter().chain(&r).all(|&x| (x - 0.5).abs() < 1e-6),
            "{l:?} {r:?}"
        );
        let (l, r) = run(&mut monitor(&[(Monitor::MONO, 1.0)]), 0.5, -0.5, 8);
        assert!(l.iter().chain(&r).all(|&x| x == 0.0), "antiphase cancels");
    }

    #[test]
    fn changes_glide_in_bounded_steps_and_arrive() {
        let mut m = monitor(&[(Monitor::LEVEL, 12.0)]);
        let g = db_to_gain(12.0);
        // Muting from +12 dB and folding to mono at once: a 20 ms glide moves
        // at most 6.9/960 ≈ 0.72 % of its distance per sample; two glides
        // together stay under 1.5 %, then silence.
        m.set_param(Monitor::MUTE, 1.0);
        m.set_param(Monitor::MONO, 1.0);
        let (l, r) = run(&mut m, 1.0, 0.0, 4800);
        let mut prev = (g, 0.0);
        for (&x, &y) in l.iter().zip(&r) {
            assert!(
                (x - prev.0).abs() < g * 0.015,
                "left step {} -> {x}",
                prev.0
            );
            assert!(
                (y - prev.1).abs() < g * 0.015,
                "right step {} -> {y}",
                prev.1
            );
            prev = (x, y);
        }
        assert!(l[..480].iter().any(|&x| x > 0.1), "not instant");
        assert_eq!((l[4799], r[4799]), (0.0, 0.0), "arrives at silence");

        m.set_param(Monitor::MUTE, 0.0);
        let (l, _) = run(&mut m, 1.0, 1.0, 4800);
        assert!(l[0] < 0.1 && l[1] > l[0], "unmute fades in");
        assert!((l[4799] - g).abs() < 1e-4);
    }
}
