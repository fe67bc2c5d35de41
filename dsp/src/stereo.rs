//! Stereo tools: polarity per side, channel swap, balance, M/S encode/decode and width.

use crate::{Meters, Processor, Smoother, sanitize};
use rackd_protocol::param::{ParamSpec, Unit};
use std::sync::Arc;

/// What the M/S stage does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsMode {
    /// Plain L/R in and out.
    Stereo,
    /// L/R in, M/S out (M on the left, S on the right) for M/S processing downstream.
    Encode,
    /// M/S in, L/R out.
    Decode,
}

/// The switched part of the stereo tool: changing it crossfades from the old
/// routing to the new one so that switches never click.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Route {
    invert: [bool; 2],
    swap: bool,
    mode: MsMode,
}

impl Route {
    #[inline]
    fn apply(&self, l: f32, r: f32, width: f32) -> (f32, f32) {
        let mut a = if self.invert[0] { -l } else { l };
        let mut b = if self.invert[1] { -r } else { r };
        if self.swap {
            std::mem::swap(&mut a, &mut b);
        }
        match self.mode {
            MsMode::Stereo => {
                if width != 1.0 {
                    let m = 0.5 * (a + b);
                    let s = 0.5 * (a - b) * width;
                    (m + s, m - s)
                } else {
                    (a, b)
                }
            }
            MsMode::Encode => (0.5 * (a + b), 0.5 * (a - b) * width),
            MsMode::Decode => (a + b * width, a - b * width),
        }
    }
}

/// The stereo utility slot.
pub struct Stereo {
    meters: Arc<Meters>,
    route: Route,
    previous: Route,
    /// Progress of the crossfade from `previous` to `route` (1 = done).
    fade: f32,
    fade_step: f32,
    balance: Smoother,
    width: Smoother,
}

impl Stereo {
    /// Index of `invert_left`.
    pub const INVERT_LEFT: usize = 0;
    /// Index of `invert_right`.
    pub const INVERT_RIGHT: usize = 1;
    /// Index of `swap`.
    pub const SWAP: usize = 2;
    /// Index of `balance` (percent, −100 = left only).
    pub const BALANCE: usize = 3;
    /// Index of `width` (percent, 0 = mono, 100 = unchanged).
    pub const WIDTH: usize = 4;
    /// Index of `ms` (stereo, encode, decode).
    pub const MS: usize = 5;

    /// The slot's parameters.
    pub fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::switch("invert_left", "Polarity left", false),
            ParamSpec::switch("invert_right", "Polarity right", false),
            ParamSpec::switch("swap", "Swap L/R", false),
            ParamSpec::linear("balance", "Balance", Unit::Percent, -100.0, 100.0, 0.0)
                .with_step(0.1),
            ParamSpec::linear("width", "Width", Unit::Percent, 0.0, 200.0, 100.0).with_step(0.1),
            ParamSpec::choice("ms", "M/S", &["stereo", "encode", "decode"], "stereo"),
        ]
    }

    /// A neutral stereo tool.
    pub fn new(sample_rate: f32, meters: Arc<Meters>) -> Self {
        let route = Route {
            invert: [false; 2],
            swap: false,
            mode: MsMode::Stereo,
        };
        Stereo {
            meters,
            route,
            previous: route,
            fade: 1.0,
            fade_step: 1.0 / (0.01 * sample_rate).max(1.0),
            balance: Smoother::new(0.0, sample_rate, 0.02),
            width: Smoother::new(1.0, sample_rate, 0.02),
        }
    }
}

impl Processor for Stereo {
    fn set_param(&mut self, index: usize, value: f32) {
        let mut next = self.route;
        match index {
            Self::INVERT_LEFT => next.invert[0] = value >= 0.5,
            Self::INVERT_RIGHT => next.invert[1] = value >= 0.5,
            Self::SWAP => next.swap = value >= 0.5,
            Self::BALANCE => self.balance.set_target(value.clamp(-100.0, 100.0) / 100.0),
            Self::WIDTH => self.width.set_target(value.clamp(0.0, 200.0) / 100.0),
            Self::MS => {
                next.mode = match value.round() as i32 {
                    1 => MsMode::Encode,
                    2 => MsMode::Decode,
                    _ => MsMode::Stereo,
                }
            }
            _ => {}
        }
        if next != self.route {
            // A switch during a fade restarts it from the routing now heard most.
            if self.fade >= 0.5 {
                self.previous = self.route;
            }
            self.route = next;
            self.fade = 0.0;
        }
    }

    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let mut bad = false;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            bad |= !(l.is_finite() && r.is_finite());
            let (x, y) = (sanitize(*l), sanitize(*r));
            let w = self.width.next();
            let bal = self.balance.next();
            let (mut a, mut b) = self.route.apply(x, y, w);
            if self.fade < 1.0 {
                self.fade = (self.fade + self.fade_step).min(1.0);
                let (pa, pb) = self.previous.apply(x, y, w);
                a = pa + (a - pa) * self.fade;
                b = pb + (b - pb) * self.fade;
            }
            if bal > 0.0 {
                a *= 1.0 - bal;
            } else if bal < 0.0 {
                b *= 1.0 + bal;
            }
            *l = a;
            *r = b;
        }
        if bad {
            self.meters.report_nonfinite();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &mut Stereo, l: f32, r: f32) -> (f32, f32) {
        let mut a = vec![l; 4800];
        let mut b = vec![r; 4800];
        p.process(&mut a, &mut b);
        (a[4799], b[4799])
    }

    #[test]
    fn polarity_flip_crossfades_instead_of_jumping() {
        let mut st = Stereo::new(48_000.0, Meters::new());
        let mut l = vec![0.5f32; 256];
        let mut r = vec![0.5f32; 256];
        st.process(&mut l, &mut r);
        st.set_param(Stereo::INVERT_LEFT, 1.0);
        let mut l = vec![0.5f32; 960];
        let mut r = vec![0.5f32; 960];
        st.process(&mut l, &mut r);
        let mut prev = 0.5f32;
        for &v in &l {
            assert!((v - prev).abs() < 0.01, "jump {prev} -> {v}");
            prev = v;
        }
        assert_eq!(l[959], -0.5);
    }

    #[test]
    fn encode_then_decode_is_identity_and_width_zero_is_mono() {
        let m = Meters::new();
        let mut enc = Stereo::new(48_000.0, m.clone());
        enc.set_param(Stereo::MS, 1.0);
        let mut dec = Stereo::new(48_000.0, m.clone());
        dec.set_param(Stereo::MS, 2.0);
        let (mid, side) = run(&mut enc, 0.8, 0.2);
        assert!((mid - 0.5).abs() < 1e-6 && (side - 0.3).abs() < 1e-6);
        let (l, r) = run(&mut dec, mid, side);
        assert!((l - 0.8).abs() < 1e-6 && (r - 0.2).abs() < 1e-6);
        let mut st = Stereo::new(48_000.0, m);
        st.set_param(Stereo::WIDTH, 0.0);
        st.set_param(Stereo::SWAP, 1.0);
        st.set_param(Stereo::INVERT_LEFT, 1.0);
        let (l, r) = run(&mut st, 0.8, 0.2);
        assert!((l - r).abs() < 1e-6 && (l - -0.3).abs() < 1e-6, "{l} {r}");
    }
}
