//! True-peak limiter with lookahead.
//!
//! The detector ([`IntervalPeaks`]) reads every interval between two samples
//! twice: at the BS.1770 Annex 2 points (what true-peak meters show) and at
//! 16 points of the band-limited signal (what a long reconstruction filter
//! makes of it), so the output passes the ceiling on neither. The required
//! gain is held (sliding minimum) over the lookahead plus [`REACH`] samples
//! either side, released with a one-pole, and smoothed by a moving average as
//! long as the lookahead: the average is never above any required gain in
//! its window, so the gain is down in time and flat within `REACH` samples of
//! every peak. Gains are summed as integers so that, below the threshold, the
//! output is bit-identical to the delayed input.
//!
//! Blocks are worked in chunks: detection runs over a whole chunk at once,
//! and a chunk in which nothing reaches the threshold while the gain is at
//! rest is only delayed.

use crate::truepeak::{IntervalPeaks, PEAK_DELAY};
use crate::{Meters, Processor, Smoother, db_to_gain, gain_to_db, sanitize};
use rackd_protocol::param::{ParamSpec, Unit};
use std::sync::Arc;

/// Samples either side of a peak over which the gain is held flat, so the
/// gain's own movement does not change the reconstructed peak (the
/// interpolation weights beyond it are small).
const REACH: usize = 12;
/// Longest lookahead, ms (buffers are sized for it at build time).
pub const MAX_LOOKAHEAD_MS: f32 = 5.0;
/// Safety margin under the ceiling for the gain ramps' own inter-sample error, dB.
const MARGIN_DB: f32 = 0.05;
const ONE: f64 = (1u64 << 40) as f64;
/// Frames worked at once.
const CHUNK: usize = 256;

/// The limiter slot.
pub struct Limiter {
    meters: Arc<Meters>,
    sample_rate: f32,
    ceiling: f32,
    target: f32,
    drive: Smoother,
    release: f32,
    lookahead: usize,
    detect: [IntervalPeaks; 2],
    /// The driven input and its readings, per channel, for one chunk.
    driven: [Box<[f32]>; 2],
    peaks: [Box<[f32]>; 2],
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
    /// Whether stretches at rest skip the gain computer (off only in tests
    /// that check the shortcut changes nothing).
    shortcuts: bool,
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
        // Rings are powers of two, so wrapping is a mask.
        let hold = (max_w + 2 * REACH + 2).next_power_of_two();
        // Room for a chunk written ahead of the oldest sample still to play.
        let delay_len = (Self::latency_for(max_w) + CHUNK + 1).next_power_of_two();
        let buf = || vec![0f32; CHUNK].into_boxed_slice();
        let detect = IntervalPeaks::new();
        let mut l = Limiter {
            meters,
            sample_rate,
            ceiling: 1.0,
            target: 1.0,
            drive: Smoother::new(1.0, sample_rate, 0.02),
            release: 0.0,
            lookahead: 1,
            detect: [detect.clone(), detect],
            driven: [buf(), buf()],
            peaks: [buf(), buf()],
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
            shortcuts: true,
        };
        l.set_param(Self::CEILING, -1.0);
        l.set_param(Self::RELEASE, 100.0);
        l.set_param(Self::LOOKAHEAD, 1.5);
        l.reset();
        l
    }

    fn latency_for(w: usize) -> usize {
        w - 1 + REACH + PEAK_DELAY
    }

    /// The ceiling as a linear amplitude.
    pub fn ceiling(&self) -> f32 {
        self.ceiling
    }

    /// A copy of the limiter's peak detection, to measure its cost apart.
    pub fn detector(&self) -> Detector {
        Detector {
            detect: self.detect.clone(),
            peaks: self.peaks.clone(),
            floor: self.target,
        }
    }

    /// Whether the gain is 1 and nothing in the hold window asks for less,
    /// so stretches below the threshold leave the state as it is.
    fn at_rest(&self) -> bool {
        self.held == 1.0
            && self.avg_sum == self.lookahead as u64 * ONE as u64
            && (self.dq_len == 0 || self.dq_val[self.dq_head] >= 1.0)
    }

    /// One frame of the gain computer: the gain for the output now, given
    /// the largest reading `p` of the newest interval.
    #[inline]
    fn gain(&mut self, p: f32, w: usize, hold: usize) -> f64 {
        let mask = self.dq_idx.len() - 1;
        let req = if p > self.target {
            self.target / p
        } else {
            1.0
        };
        // Sliding minimum over the last `hold` required gains.
        while self.dq_len > 0 {
            let back = (self.dq_head + self.dq_len - 1) & mask;
            if self.dq_val[back] >= req {
                self.dq_len -= 1;
            } else {
                break;
            }
        }
        let slot = (self.dq_head + self.dq_len) & mask;
        self.dq_idx[slot] = self.n;
        self.dq_val[slot] = req;
        self.dq_len += 1;
        while self.dq_idx[self.dq_head] + hold as u64 <= self.n {
            self.dq_head = (self.dq_head + 1) & mask;
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
        self.avg_pos += 1;
        if self.avg_pos == w {
            self.avg_pos = 0;
        }
        self.n += 1;
        // Below 2^53, so exact through i64.
        self.avg_sum as i64 as f64 / w as f64 / ONE
    }

    /// [`Limiter::gain`] for a reading at or below the target while at rest:
    /// the state it leaves is the same, and the gain is exactly 1.
    #[inline]
    fn rest(&mut self, w: usize) {
        self.dq_len = 1;
        self.dq_idx[self.dq_head] = self.n;
        self.dq_val[self.dq_head] = 1.0;
        self.avg_pos += 1;
        if self.avg_pos == w {
            self.avg_pos = 0;
        }
        self.n += 1;
    }
}

/// The limiter's peak detection on its own (for benchmarks).
pub struct Detector {
    detect: [IntervalPeaks; 2],
    peaks: [Box<[f32]>; 2],
    floor: f32,
}

impl Detector {
    /// Runs the detection over a block as the limiter does (readings at or
    /// below its target are not refined); returns the largest reading.
    pub fn run(&mut self, left: &[f32], right: &[f32]) -> f32 {
        let mut m = 0f32;
        for (l, r) in left.chunks(CHUNK).zip(right.chunks(CHUNK)) {
            let n = l.len();
            self.detect[0].process(l, &mut self.peaks[0][..n], self.floor);
            self.detect[1].process(r, &mut self.peaks[1][..n], self.floor);
            for p in self.peaks.iter().flat_map(|p| p[..n].iter()) {
                m = m.max(*p);
            }
        }
        m
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
        let dlen = self.delay[0].len();
        let dmask = dlen - 1;
        let lat = self.latency();
        let mut bad = false;
        let mut min_gain = 1f64;
        let n = left.len().min(right.len());
        let mut start = 0;
        while start < n {
            let m = CHUNK.min(n - start);
            let (l, r) = (&mut left[start..start + m], &mut right[start..start + m]);
            let [dl, dr] = &mut self.driven;
            bad |= l.iter().chain(r.iter()).any(|x| !x.is_finite());
            if self.drive.is_settled() {
                let d = self.drive.target();
                for i in 0..m {
                    dl[i] = sanitize(l[i]) * d;
                    dr[i] = sanitize(r[i]) * d;
                }
            } else {
                for i in 0..m {
                    let d = self.drive.next();
                    dl[i] = sanitize(l[i]) * d;
                    dr[i] = sanitize(r[i]) * d;
                }
            }
            let [pl, pr] = &mut self.peaks;
            // Readings at or below the target only say "no reduction".
            self.detect[0].process(&dl[..m], &mut pl[..m], self.target);
            self.detect[1].process(&dr[..m], &mut pr[..m], self.target);
            // Into the delay line, then read it `lat` behind each new frame.
            let p0 = self.delay_pos;
            for (line, x) in self.delay.iter_mut().zip([&dl[..m], &dr[..m]]) {
                let first = m.min(dlen - p0);
                line[p0..p0 + first].copy_from_slice(&x[..first]);
                line[..m - first].copy_from_slice(&x[first..]);
            }
            self.delay_pos = (p0 + m) & dmask;
            let read = (p0 + dlen - lat) & dmask;
            let target = self.target;
            let quiet = pl[..m].iter().chain(&pr[..m]).all(|&p| p <= target);
            if self.shortcuts && quiet && self.at_rest() {
                // The gain stays exactly 1: the output is the delayed input.
                for (line, out) in self.delay.iter().zip([&mut *l, &mut *r]) {
                    let first = m.min(dlen - read);
                    out[..first].copy_from_slice(&line[read..read + first]);
                    out[first..].copy_from_slice(&line[..m - first]);
                }
                // What the per-frame path leaves: the newest required gain only.
                self.n += m as u64 - 1;
                self.avg_pos = (self.avg_pos + m - 1) % w;
                self.rest(w);
            } else {
                for i in 0..m {
                    let p = self.peaks[0][i].max(self.peaks[1][i]);
                    let at = (read + i) & dmask;
                    if self.shortcuts && p <= target && self.at_rest() {
                        self.rest(w);
                        l[i] = self.delay[0][at];
                        r[i] = self.delay[1][at];
                        continue;
                    }
                    let g = self.gain(p, w, hold);
                    min_gain = min_gain.min(g);
                    l[i] = (self.delay[0][at] as f64 * g) as f32;
                    r[i] = (self.delay[1][at] as f64 * g) as f32;
                }
            }
            start += m;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_at_rest_change_nothing() {
        // Bursts well over the ceiling, releases, and quiet stretches long
        // enough for the gain to come back to rest (the release ends only
        // when the gain is within 1e-7 of 1).
        let x: Vec<f32> = (0..240_000u32)
            .map(|i| {
                let level = [0.2f32, 3.0, 0.0, 0.5, 1.5, 0.1][(i / 20_000) as usize % 6];
                let v = ((i.wrapping_mul(2_654_435_761) >> 8) as f32 / (1 << 24) as f32) - 0.5;
                level * v * (1.0 + (i as f32 * 0.01).sin())
            })
            .collect();
        let run = |shortcuts: bool, block: usize| {
            let mut lim = Limiter::new(48_000.0, Meters::new());
            lim.shortcuts = shortcuts;
            lim.set_param(Limiter::RELEASE, 20.0);
            // The right channel is loud at other times than the left.
            let right = x[70_000..].iter().chain(&x[..70_000]);
            let (mut l, mut r) = (x.clone(), right.map(|v| -1.3 * v).collect::<Vec<_>>());
            for (a, b) in l.chunks_mut(block).zip(r.chunks_mut(block)) {
                lim.process(a, b);
            }
            (l, r)
        };
        let want = run(false, 64);
        for block in [64, 300, 1024] {
            assert!(run(true, block) == want, "block {block}");
        }
        assert!(want.0 != x, "the limiter worked");
    }
}
