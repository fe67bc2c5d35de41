//! True-peak limiter with lookahead.
//!
//! The detector is the BS.1770 Annex 2 4× interpolator, so the limiter sees
//! the same inter-sample peaks a true-peak meter does. The required gain is
//! held (sliding minimum) over the lookahead plus the interpolator's reach,
//! released with a one-pole, and smoothed by a moving average as long as the
//! lookahead: the average is never above any required gain in its window,
//! so the gain is down in time and every output sample's neighbourhood is
//! covered. Gains are summed as integers so that, below the threshold, the
//! output is bit-identical to the delayed input.

use crate::truepeak::{self, FinePeak, TruePeak};
use crate::{Meters, Processor, Smoother, db_to_gain, gain_to_db, sanitize};
use rackd_protocol::param::{ParamSpec, Unit};
use std::sync::Arc;

/// Samples either side of an output sample whose interpolation it influences
/// (the fine detector's half length; it also covers the Annex 2 detector,
/// whose readings arrive `FINE_DELAY - DELAY` samples earlier).
const REACH: usize = truepeak::FINE_DELAY;
/// Longest lookahead, ms (buffers are sized for it at build time).
pub const MAX_LOOKAHEAD_MS: f32 = 5.0;
/// Safety margin under the ceiling for the gain ramps' own inter-sample error, dB.
const MARGIN_DB: f32 = 0.05;
const ONE: f64 = (1u64 << 40) as f64;

/// The limiter slot.
pub struct Limiter {
    meters: Arc<Meters>,
    sample_rate: f32,
    ceiling: f32,
    target: f32,
    drive: Smoother,
    release: f32,
    lookahead: usize,
    detect: [TruePeak; 2],
    fine: [FinePeak; 2],
    /// Sliding-minimum deque (ring) of (index, required gain).
    dq_idx: Box<[u64]>,
    dq_val: Box<[f32]>,
    dq_head: usize,
    dq_len: usize,
    n: u64,
    held: f32,
    /// Moving average of the released gain, as 2^-40 fixed point.
    avg_ring: Box<[u64]>,
    avg_pos: usize,
    avg_sum: u64,
    delay: [Box<[f32]>; 2],
    delay_pos: usize,
}

impl Limiter {
    /// Index of `ceiling` (dBTP).
    pub const CEILING: usize = 0;
    /// Index of `drive` (input gain, dB).
    pub const DRIVE: usize = 1;
    /// Index of `release` (ms).
    pub const RELEASE: usize = 2;
    /// Index of `lookahead` (ms).
    pub const LOOKAHEAD: usize = 3;

    /// The slot's parameters.
    pub fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::linear("ceiling", "Ceiling", Unit::Dbfs, -12.0, 0.0, -1.0).with_step(0.01),
            ParamSpec::linear("drive", "Drive", Unit::Db, 0.0, 24.0, 0.0).with_step(0.01),
            ParamSpec::log("release", "Release", Unit::Ms, 1.0, 2000.0, 100.0).with_step(0.1),
            ParamSpec::linear(
                "lookahead",
                "Lookahead",
                Unit::Ms,
                0.5,
                MAX_LOOKAHEAD_MS as f64,
                1.5,
            )
            .with_step(0.1),
        ]
    }

    /// A limiter at −1 dBTP, 100 ms release, 1.5 ms lookahead (allocates).
    pub fn new(sample_rate: f32, meters: Arc<Meters>) -> Self {
        let max_w = (MAX_LOOKAHEAD_MS * 0.001 * sample_rate).ceil() as usize + 1;
        let hold = max_w + 2 * REACH + 2;
        let delay_len = max_w + REACH + truepeak::FINE_DELAY + 2;
        let mut l = Limiter {
            meters,
            sample_rate,
            ceiling: 1.0,
            target: 1.0,
            drive: Smoother::new(1.0, sample_rate, 0.02),
            release: 0.0,
            lookahead: 1,
            detect: [TruePeak::new(), TruePeak::new()],
            fine: [FinePeak::new(), FinePeak::new()],
            dq_idx: vec![0; hold].into_boxed_slice(),
            dq_val: vec![1.0; hold].into_boxed_slice(),
            dq_head: 0,
            dq_len: 0,
            n: 0,
            held: 1.0,
            avg_ring: vec![0; max_w].into_boxed_slice(),
            avg_pos: 0,
            avg_sum: 0,
            delay: [
                vec![0.0; delay_len].into_boxed_slice(),
                vec![0.0; delay_len].into_boxed_slice(),
            ],
            delay_pos: 0,
        };
        l.set_param(Self::CEILING, -1.0);
        l.set_param(Self::RELEASE, 100.0);
        l.set_param(Self::LOOKAHEAD, 1.5);
        l.reset();
        l
    }

    fn latency_for(w: usize) -> usize {
        w - 1 + REACH + truepeak::FINE_DELAY
    }

    /// The ceiling as a linear amplitude.
    pub fn ceiling(&self) -> f32 {
        self.ceiling
    }
}

impl Processor for Limiter {
    fn set_param(&mut self, index: usize, value: f32) {
        if !value.is_finite() {
            return;
        }
        match index {
            Self::CEILING => {
                self.ceiling = db_to_gain(value.clamp(-12.0, 0.0));
                self.target = self.ceiling * db_to_gain(-MARGIN_DB);
            }
            Self::DRIVE => self.drive.set_target(db_to_gain(value.clamp(0.0, 24.0))),
            Self::RELEASE => {
                self.release = (-1.0 / (value.clamp(1.0, 2000.0) * 0.001 * self.sample_rate)).exp()
            }
            Self::LOOKAHEAD => {
                let w = ((value.clamp(0.5, MAX_LOOKAHEAD_MS) * 0.001 * self.sample_rate).round()
                    as usize)
                    .clamp(1, self.avg_ring.len());
                if w != self.lookahead {
                    self.lookahead = w;
                    self.reset();
                }
            }
            _ => {}
        }
    }

    fn latency(&self) -> usize {
        Self::latency_for(self.lookahead)
    }

    /// The latency at the longest lookahead, so a chain's bypass delay fits it.
    fn max_latency(&self) -> usize {
        Self::latency_for(self.avg_ring.len())
    }

    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let w = self.lookahead;
        let hold = w + 2 * REACH;
        let cap = self.dq_idx.len();
        let dlen = self.delay[0].len();
        let lat = self.latency();
        let mut bad = false;
        let mut min_gain = 1f64;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            bad |= !(l.is_finite() && r.is_finite());
            let d = self.drive.next();
            let x = [sanitize(*l) * d, sanitize(*r) * d];
            self.delay[0][self.delay_pos] = x[0];
            self.delay[1][self.delay_pos] = x[1];
            // The Annex 2 reading is what true-peak meters show; the fine
            // one catches what Annex 2 under-reads near Nyquist.
            let p = self.detect[0]
                .push(x[0])
                .max(self.detect[1].push(x[1]))
                .max(self.fine[0].push(x[0]))
                .max(self.fine[1].push(x[1]));
            let req = if p > self.target {
                self.target / p
            } else {
                1.0
            };
            // Sliding minimum over the last `hold` required gains.
            while self.dq_len > 0 {
                let back = (self.dq_head + self.dq_len - 1) % cap;
                if self.dq_val[back] >= req {
                    self.dq_len -= 1;
                } else {
                    break;
                }
            }
            let slot = (self.dq_head + self.dq_len) % cap;
            self.dq_idx[slot] = self.n;
            self.dq_val[slot] = req;
            self.dq_len += 1;
            while self.dq_idx[self.dq_head] + hold as u64 <= self.n {
                self.dq_head = (self.dq_head + 1) % cap;
                self.dq_len -= 1;
            }
            let h = self.dq_val[self.dq_head];
            self.held = if h < self.held {
                h
            } else {
                let v = h + (self.held - h) * self.release;
                if h - v < 1e-7 { h } else { v }
            };
            let q = (self.held as f64 * ONE) as u64;
            self.avg_sum = self.avg_sum - self.avg_ring[self.avg_pos] + q;
            self.avg_ring[self.avg_pos] = q;
            self.avg_pos = (self.avg_pos + 1) % w;
            let g = self.avg_sum as f64 / w as f64 / ONE;
            min_gain = min_gain.min(g);
            let out = (self.delay_pos + dlen - lat) % dlen;
            *l = (self.delay[0][out] as f64 * g) as f32;
            *r = (self.delay[1][out] as f64 * g) as f32;
            self.delay_pos = (self.delay_pos + 1) % dlen;
            self.n += 1;
        }
        self.meters
            .publish_gain_reduction(-gain_to_db(min_gain as f32));
        if bad {
            self.meters.report_nonfinite();
        }
    }

    fn reset(&mut self) {
        for d in &mut self.detect {
            d.reset();
        }
        for d in &mut self.fine {
            d.reset();
        }
        self.dq_head = 0;
        self.dq_len = 0;
        self.n = 0;
        self.held = 1.0;
        let w = self.lookahead;
        for v in self.avg_ring[..w].iter_mut() {
            *v = ONE as u64;
        }
        self.avg_sum = w as u64 * ONE as u64;
        self.avg_pos = 0;
        for d in &mut self.delay {
            d.fill(0.0);
        }
        self.delay_pos = 0;
    }
}
