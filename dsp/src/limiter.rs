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
    /// The required gain's minimum over the hold window.
    hold_min: SlidingMin,
    /// Frames since a required gain below 1 last entered the window.
    since_reduction: usize,
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
        let hold = max_w + 2 * REACH;
        // The delay ring is a power of two, so wrapping is a mask.
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
            hold_min: SlidingMin::new(hold),
            since_reduction: usize::MAX,
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
            && self.since_reduction >= self.lookahead + 2 * REACH
    }

    /// The gain that brings a reading `p` to the target (1 below it).
    #[inline(always)]
    fn required(p: f32, target: f32) -> f32 {
        if p > target { target / p } else { 1.0 }
    }

    /// One frame of the gain computer: the gain for the output now, given
    /// the newest interval's required gain.
    #[inline]
    fn gain(&mut self, req: f32, w: usize, hold: usize, per_sum: f64) -> f64 {
        self.since_reduction = if req < 1.0 {
            0
        } else {
            self.since_reduction.saturating_add(1)
        };
        let h = self.hold_min.push(req, hold);
        // Down at once, up with the release, snapping the last step: when
        // close, or when a single-precision step no longer moves (a 100 ms
        // release at 48 kHz stalls about 1.4e-4 short of the target).
        let v = h + (self.held - h) * self.release;
        let v = if h - v < 1e-7 || v == self.held { h } else { v };
        self.held = if h < self.held { h } else { v };
        // Below 2^41: exact through i64.
        let q = (self.held as f64 * ONE) as i64 as u64;
        self.avg_sum = self.avg_sum - self.avg_ring[self.avg_pos] + q;
        self.avg_ring[self.avg_pos] = q;
        self.avg_pos += 1;
        if self.avg_pos == w {
            self.avg_pos = 0;
        }
        self.n += 1;
        // Below 2^53, so exact through i64.
        self.avg_sum as i64 as f64 * per_sum
    }

    /// `m` frames of [`Limiter::gain`] at rest with readings at or below the
    /// target: the gain stays exactly 1 and the window holds only 1s.
    fn rest(&mut self, m: usize, w: usize, hold: usize) {
        self.hold_min.rest(m, hold);
        self.since_reduction = self.since_reduction.saturating_add(m);
        self.avg_pos = (self.avg_pos + m) % w;
        self.n += m as u64;
    }
}

/// Minimum of the last `window` values (values before the first count as
/// 1), in blocks as long as the window (van Herk / Gil-Werman): the current
/// block's values, the previous block's suffix minima and the current
/// block's running minimum. O(1) per value and without data-dependent
/// branches; allocation-free after construction.
struct SlidingMin {
    cur: Box<[f32]>,
    suffix: Box<[f32]>,
    prefix: f32,
    /// Position in the current block.
    pos: usize,
}

impl SlidingMin {
    /// For windows up to `longest` values.
    fn new(longest: usize) -> Self {
        SlidingMin {
            cur: vec![1.0; longest].into_boxed_slice(),
            suffix: vec![1.0; longest].into_boxed_slice(),
            prefix: 1.0,
            pos: 0,
        }
    }

    /// As if only 1s had come so far.
    fn reset(&mut self) {
        self.cur.fill(1.0);
        self.suffix.fill(1.0);
        self.prefix = 1.0;
        self.pos = 0;
    }

    /// Adds `v`; returns the minimum of the last `window` values.
    #[inline]
    fn push(&mut self, v: f32, window: usize) -> f32 {
        let pos = self.pos;
        if pos == 0 {
            // The block just finished becomes the previous one.
            let mut m = 1f32;
            for (s, &c) in self.suffix[..window]
                .iter_mut()
                .zip(&self.cur[..window])
                .rev()
            {
                m = m.min(c);
                *s = m;
            }
            self.prefix = 1.0;
        }
        self.cur[pos] = v;
        self.prefix = self.prefix.min(v);
        // The window is the previous block from pos + 1 on, and this one to pos.
        let min = if pos + 1 < window {
            self.suffix[pos + 1].min(self.prefix)
        } else {
            self.prefix
        };
        self.pos = if pos + 1 == window { 0 } else { pos + 1 };
        min
    }

    /// `m` 1s, when the last `window` values were 1s already.
    fn rest(&mut self, m: usize, window: usize) {
        self.cur[..window].fill(1.0);
        self.suffix[..window].fill(1.0);
        self.prefix = 1.0;
        self.pos = (self.pos + m) % window;
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
                self.rest(m, w, hold);
            } else {
                // Required gains side by side, the gain computer frame by
                // frame, then the output side by side again.
                let [pl, pr] = &mut self.peaks;
                for (a, &b) in pl[..m].iter_mut().zip(&pr[..m]) {
                    *a = Self::required(a.max(b), target);
                }
                // The average's scale: 1 when every gain in it is 1 (to within
                // an f64 rounding, which no f32 output sample can show).
                let per_sum = 1.0 / (w as f64 * ONE);
                let mut gains = [0f64; CHUNK];
                for (i, g) in gains[..m].iter_mut().enumerate() {
                    *g = self.gain(self.peaks[0][i], w, hold, per_sum);
                }
                min_gain = gains[..m].iter().fold(min_gain, |a, &g| a.min(g));
                let first = m.min(dlen - read);
                for (line, out) in self.delay.iter().zip([&mut *l, &mut *r]) {
                    let parts = [(&line[read..read + first], 0), (&line[..m - first], first)];
                    for (src, at) in parts {
                        for ((o, &x), &g) in out[at..].iter_mut().zip(src).zip(&gains[at..m]) {
                            *o = (x as f64 * g) as f32;
                        }
                    }
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
        self.hold_min.reset();
        self.since_reduction = usize::MAX;
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
    fn sliding_min_is_the_minimum_of_the_window() {
        let mut seed = 5u32;
        let values: Vec<f32> = (0..5000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                // Mostly 1, with dips of every depth.
                if seed % 3 == 0 {
                    (seed >> 8) as f32 / (1 << 24) as f32
                } else {
                    1.0
                }
            })
            .collect();
        for window in [1, 2, 3, 7, 64, 97] {
            let mut s = SlidingMin::new(100);
            for (i, &v) in values.iter().enumerate() {
                let got = s.push(v, window);
                let want = values[i.saturating_sub(window - 1)..=i]
                    .iter()
                    .fold(1f32, |m, &x| m.min(x));
                assert_eq!(got, want, "window {window} at {i}");
            }
        }
    }

    #[test]
    fn shortcuts_at_rest_change_nothing() {
        // Bursts well over the ceiling, releases, and quiet stretches long
        // enough for the gain to come back to rest (the release ends only
        // when the gain is within 1e-7 of 1 or a step no longer moves it).
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

    #[test]
    fn release_comes_back_to_unity() {
        // An over, then 1.5 s of silence (15 time constants of the default
        // 100 ms release): quiet material comes out as the delayed input.
        let mut lim = Limiter::new(48_000.0, Meters::new());
        let lat = lim.latency();
        let mut x: Vec<f32> = (0..4800).map(|i| 1.5 * (i as f32 * 0.05).sin()).collect();
        x.resize(4800 + 72_000, 0.0);
        let quiet: Vec<f32> = (0..4800).map(|i| 0.05 * (i as f32 * 0.01).sin()).collect();
        x.extend(&quiet);
        let mut r = x.clone();
        let mut l = x.clone();
        for (a, b) in l.chunks_mut(1024).zip(r.chunks_mut(1024)) {
            lim.process(a, b);
        }
        let at = 4800 + 72_000 + lat;
        assert_eq!(&l[at..], &quiet[..quiet.len() - lat]);
    }
}
