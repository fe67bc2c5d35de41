//! Time series of a whole programme at a fixed 100 ms hop: what the analyze
//! report draws over time (waveform envelope, momentary and short-term
//! loudness, true peak, correlation full band and below 120 Hz, clipped
//! samples) and the vectorscope's density image.
//!
//! [`Series`] is fed the same planar blocks as [`crate::analysis::Analyzer`]
//! and keeps its own loudness meter, read at every hop boundary; the hop is
//! ten of the meter's 10 ms steps, so the values are the ones a BS.1770 meter
//! shows at those times.

use crate::analysis::{FLAT_LEVEL, FLAT_RUN};
use crate::biquad::{PairCoeffs, Shape, butterworth_qs, design, tick_pair};
use crate::loudness::{Loudness, MAX_CHANNELS, energy_to_lufs};
use crate::truepeak::{Isa, TruePeak, multiversion};

/// Nominal hop of every series, seconds.
pub const HOP_S: f64 = 0.1;
/// The hop in the loudness meter's 10 ms steps (see [`Series::without_loudness`]).
pub const STEPS_PER_HOP: u64 = 10;
/// Upper edge of the "low end" whose correlation is followed, Hz.
pub const LOW_END_HZ: f64 = 120.0;
/// Cells per side of the stored vectorscope grid (full scale both ways).
pub const SCOPE_CELLS: usize = 256;
/// Hops each side of a window that its correlation also takes in (300 ms in all).
const CORR_SPAN: usize = 1;
/// Samples per true-peak call: the unit in which quiet stretches skip the filter.
const TP_PIECE: usize = 128;
/// Momentary window, seconds (values before it is full are not reported).
const MOMENTARY_S: f64 = 0.4;
/// Short-term window, seconds.
const SHORT_TERM_S: f64 = 3.0;

/// Clipped runs on one channel, by the same rule as the analyzer's count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClipStats {
    /// Runs of flat-topped samples.
    pub runs: u64,
    /// Samples in those runs.
    pub samples: u64,
    /// Frame where the first run starts.
    pub first: Option<u64>,
    /// Longest run, samples.
    pub longest: u32,
    /// Frame where the longest run starts.
    pub longest_at: u64,
}

#[derive(Debug, Clone, Default)]
struct ClipState {
    run: u32,
    last: f32,
    stats: ClipStats,
}

impl ClipState {
    /// One sample; returns true when it is part of a counted run.
    #[inline]
    fn push(&mut self, x: f32, at: u64) -> u32 {
        let loud = x.abs() >= FLAT_LEVEL;
        if loud && x == self.last {
            self.run += 1;
        } else {
            self.run = 1;
        }
        self.last = x;
        if !loud || self.run < FLAT_RUN {
            return 0;
        }
        let s = &mut self.stats;
        let start = at + 1 - self.run as u64;
        let counted = if self.run == FLAT_RUN {
            s.runs += 1;
            s.first.get_or_insert(start);
            FLAT_RUN
        } else {
            1
        };
        s.samples += counted as u64;
        if self.run > s.longest {
            s.longest = self.run;
            s.longest_at = start;
        }
        counted
    }
}

/// The vectorscope's density: sample counts on a grid of
/// `(R − L)/2` (across, left signal to the left) by `(L + R)/2` (up),
/// both −1..1 at full scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// Cells per side.
    pub cells: usize,
    /// Row-major counts, row 0 at the top (`(L + R)/2` = +1).
    pub counts: Vec<u32>,
}

impl Scope {
    /// The smallest power-of-two zoom (1, 2, 4, …) at which at least
    /// `share` of the points still fall inside the picture.
    pub fn zoom(&self, share: f64) -> usize {
        let total: u64 = self.counts.iter().map(|&c| c as u64).sum();
        let mut zoom = 1;
        while self.cells / (zoom * 2) >= 16 {
            let z = zoom * 2;
            let lo = self.cells / 2 - self.cells / (2 * z);
            let hi = self.cells / 2 + self.cells / (2 * z);
            let inside: u64 = (lo..hi)
                .flat_map(|r| (lo..hi).map(move |c| (r, c)))
                .map(|(r, c)| self.counts[r * self.cells + c] as u64)
                .sum();
            if (inside as f64) < share * total as f64 {
                break;
            }
            zoom = z;
        }
        zoom
    }

    /// The picture at `zoom`, re-binned to `out` cells per side.
    pub fn view(&self, zoom: usize, out: usize) -> Vec<u32> {
        let span = self.cells / zoom.max(1);
        let lo = (self.cells - span) / 2;
        let mut v = vec![0u32; out * out];
        for r in 0..span {
            for c in 0..span {
                let n = self.counts[(lo + r) * self.cells + lo + c];
                v[(r * out / span) * out + c * out / span] += n;
            }
        }
        v
    }
}

/// What [`Series`] measured. Index `i` is the window from `i · hop` to
/// `(i + 1) · hop` samples (the last one may be shorter); loudness values
/// are those of the meter's window ending at `(i + 1) · hop`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    /// Hz.
    pub sample_rate: f64,
    /// Samples per window.
    pub hop: usize,
    /// Frames measured.
    pub frames: u64,
    /// Channels.
    pub channels: usize,
    /// Sample peak per channel and window, linear.
    pub peak: Vec<Vec<f32>>,
    /// RMS per channel and window, linear (not sine-referenced).
    pub rms: Vec<Vec<f32>>,
    /// True peak (BS.1770 Annex 2) per channel and window, linear.
    pub true_peak: Vec<Vec<f32>>,
    /// Samples in clipped runs per channel and window.
    pub clipped: Vec<Vec<u32>>,
    /// Momentary loudness, LUFS (NaN before 400 ms, −inf in silence).
    pub momentary: Vec<f64>,
    /// Short-term loudness, LUFS (NaN before 3 s, −inf in silence).
    pub short_term: Vec<f64>,
    /// L/R correlation over 300 ms centred on the window (NaN: silent or not stereo).
    pub correlation: Vec<f64>,
    /// The same below [`LOW_END_HZ`] (4th-order Butterworth low pass on both sides).
    pub low_correlation: Vec<f64>,
    /// RMS of the low end (mean of both sides' mean squares), linear.
    pub low_rms: Vec<f64>,
    /// Clipped runs per channel.
    pub clips: Vec<ClipStats>,
    /// Stereo only.
    pub scope: Option<Scope>,
}

impl SeriesData {
    /// Seconds per window.
    pub fn hop_s(&self) -> f64 {
        self.hop as f64 / self.sample_rate
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.momentary.len()
    }

    /// True when nothing was measured.
    pub fn is_empty(&self) -> bool {
        self.momentary.is_empty()
    }

    /// Start of window `i`, seconds.
    pub fn start_s(&self, i: usize) -> f64 {
        (i * self.hop) as f64 / self.sample_rate
    }

    /// Highest true peak of all channels per window, linear.
    pub fn true_peak_max(&self) -> Vec<f32> {
        (0..self.len())
            .map(|i| self.true_peak.iter().fold(0f32, |m, c| m.max(c[i])))
            .collect()
    }

    /// True peak per channel over the whole programme (the largest window's).
    pub fn true_peak_per_channel(&self) -> Vec<f32> {
        self.true_peak
            .iter()
            .map(|c| c.iter().fold(0f32, |m, &v| m.max(v)))
            .collect()
    }

    /// Windows in the short-term window (3 s).
    fn short_windows(&self) -> usize {
        ((SHORT_TERM_S / self.hop_s()).round() as usize).max(1)
    }

    /// Short-term peak-to-loudness ratio per window: the highest true peak in
    /// the 3 s that end with the window minus its short-term loudness, dB
    /// (NaN where the short-term loudness is not defined).
    pub fn short_term_plr(&self) -> Vec<f64> {
        let tp = self.true_peak_max();
        let w = self.short_windows();
        (0..self.len())
            .map(|i| {
                let s = self.short_term[i];
                if !s.is_finite() {
                    return f64::NAN;
                }
                let p = tp[(i + 1).saturating_sub(w)..=i]
                    .iter()
                    .fold(0f32, |m, &v| m.max(v));
                20.0 * (p as f64).log10() - s
            })
            .collect()
    }

    /// Crest factor per window over the same 3 s: highest sample peak over
    /// the RMS of all channels, dB (NaN before 3 s or in silence).
    pub fn short_term_crest(&self) -> Vec<f64> {
        let w = self.short_windows();
        let n = self.len();
        (0..n)
            .map(|i| {
                if i + 1 < w || self.short_term[i].is_nan() {
                    return f64::NAN;
                }
                let range = i + 1 - w..=i;
                let mut peak = 0f32;
                let mut ms = 0.0;
                for ch in 0..self.channels {
                    for j in range.clone() {
                        peak = peak.max(self.peak[ch][j]);
                        ms += (self.rms[ch][j] as f64).powi(2);
                    }
                }
                let rms = (ms / (w * self.channels) as f64).sqrt();
                if rms > 0.0 {
                    20.0 * (peak as f64 / rms).log10()
                } else {
                    f64::NAN
                }
            })
            .collect()
    }

    /// Histogram of the short-term loudness values at or above `min` LUFS in
    /// `bins` bins of 1 LU (loudness above the top bin counts in it).
    pub fn short_term_histogram(&self, min: f64, bins: usize) -> Vec<u32> {
        let mut h = vec![0u32; bins];
        for &s in &self.short_term {
            if s.is_finite() && s >= min {
                h[((s - min) as usize).min(bins - 1)] += 1;
            }
        }
        h
    }
}

/// Σ x² in f64, four sums side by side (the vector unit's order).
fn sum_of_squares(x: &[f32]) -> f64 {
    let mut lanes = [0f64; 4];
    let mut chunks = x.chunks_exact(4);
    for c in &mut chunks {
        for (s, &v) in lanes.iter_mut().zip(c) {
            *s += v as f64 * v as f64;
        }
    }
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&v| v as f64 * v as f64)
        .sum();
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail
}

/// The low end's two low-pass sections with both channels side by side.
struct LowEnd {
    c: [PairCoeffs; 2],
    /// Per section `[z1, z2]`, each per channel.
    z: [[[f64; 2]; 2]; 2],
}

/// Samples whose vectorscope cells are worked out at once.
const SCOPE_PIECE: usize = 256;

multiversion! {
    /// The vectorscope cell (`row · SCOPE_CELLS + column`) of each sample
    /// pair: side across, mid up, full scale to the edges (beyond them and
    /// NaN clamp to the border).
    fn scope_cells(at: &mut [u16], l: &[f32], r: &[f32]) -> () {
        let half = (SCOPE_CELLS / 2) as f32;
        let top = (SCOPE_CELLS - 1) as f32;
        // Clamped as floats (NaN and below zero to 0), so the casts need no
        // saturation and the loop stays on the vector unit.
        let cell = |x: f32| -> i32 {
            let x = if x > 0.0 { x } else { 0.0 };
            let x = if x < top { x } else { top };
            // SAFETY: x is in 0..=top, which i32 holds.
            unsafe { x.to_int_unchecked::<i32>() }
        };
        for ((i, &a), &b) in at.iter_mut().zip(l).zip(r) {
            let across = ((b - a) * 0.5 + 1.0) * half;
            let up = (1.0 - (a + b) * 0.5) * half;
            *i = (cell(up) * SCOPE_CELLS as i32 + cell(across)) as u16;
        }
    }
}

/// Collects [`SeriesData`] from planar blocks.
pub struct Series {
    data: SeriesData,
    /// None when the readings come from another meter of the same audio
    /// ([`Series::finish_with_loudness`]).
    loudness: Option<Loudness>,
    tp: Vec<TruePeak>,
    clip: Vec<ClipState>,
    /// Stereo only.
    low: Option<LowEnd>,
    pos: usize,
    frames: u64,
    peak: Vec<f32>,
    sum_sq: Vec<f64>,
    tp_now: Vec<f32>,
    clipped_now: Vec<u32>,
    /// Per window: Σ L·R, Σ L², Σ R², then the same for the low end.
    sums: Vec<[f64; 6]>,
    sums_now: [f64; 6],
    momentary_from: usize,
    short_from: usize,
    isa: Isa,
}

impl Series {
    /// A collector for `channels` planar channels at `sample_rate`.
    pub fn new(sample_rate: f64, channels: usize) -> Self {
        let channels = channels.clamp(1, MAX_CHANNELS);
        // The loudness meter's 10 ms step, as it computes it.
        let step = ((sample_rate + 50.0) / 100.0) as usize;
        let hop = 10 * step;
        let hop_s = hop as f64 / sample_rate;
        let qs: Vec<f64> = butterworth_qs(4).collect();
        let lp = |q: f64| PairCoeffs::new(&design(Shape::LowPass, LOW_END_HZ, 0.0, q, sample_rate));
        let stereo = channels == 2;
        Series {
            data: SeriesData {
                sample_rate,
                hop,
                frames: 0,
                channels,
                peak: vec![Vec::new(); channels],
                rms: vec![Vec::new(); channels],
                true_peak: vec![Vec::new(); channels],
                clipped: vec![Vec::new(); channels],
                momentary: Vec::new(),
                short_term: Vec::new(),
                correlation: Vec::new(),
                low_correlation: Vec::new(),
                low_rms: Vec::new(),
                clips: Vec::new(),
                scope: stereo.then(|| Scope {
                    cells: SCOPE_CELLS,
                    counts: vec![0; SCOPE_CELLS * SCOPE_CELLS],
                }),
            },
            loudness: Some(Loudness::exact(sample_rate, channels)),
            tp: (0..channels).map(|_| TruePeak::new()).collect(),
            clip: vec![ClipState::default(); channels],
            low: stereo.then(|| LowEnd {
                c: [lp(qs[0]), lp(qs[1])],
                z: [[[0.0; 2]; 2]; 2],
            }),
            pos: 0,
            frames: 0,
            peak: vec![0.0; channels],
            sum_sq: vec![0.0; channels],
            tp_now: vec![0.0; channels],
            clipped_now: vec![0; channels],
            sums: Vec::new(),
            sums_now: [0.0; 6],
            momentary_from: (MOMENTARY_S / hop_s).round() as usize,
            short_from: (SHORT_TERM_S / hop_s).round() as usize,
            isa: Isa::detect(),
        }
    }

    /// A collector that leaves the momentary and short-term loudness to a
    /// meter fed the same audio elsewhere (the analyzer's, recording every
    /// [`STEPS_PER_HOP`] steps), so the audio is K-weighted once; finish it
    /// with [`Series::finish_with_loudness`].
    pub fn without_loudness(sample_rate: f64, channels: usize) -> Self {
        Series {
            loudness: None,
            ..Series::new(sample_rate, channels)
        }
    }

    /// Feeds planar audio (one slice per channel, equally long).
    pub fn push(&mut self, input: &[&[f32]]) {
        let n = input.iter().map(|c| c.len()).min().unwrap_or(0);
        let chans = input.len().min(self.data.channels);
        let mut start = 0;
        while start < n {
            let run = (self.data.hop - self.pos).min(n - start);
            let seg: Vec<&[f32]> = input[..chans]
                .iter()
                .map(|c| &c[start..start + run])
                .collect();
            self.segment(&seg);
            self.pos += run;
            start += run;
            if self.pos == self.data.hop {
                self.close_window(true);
            }
        }
    }

    /// A piece of one window.
    fn segment(&mut self, seg: &[&[f32]]) {
        if let Some(l) = self.loudness.as_mut() {
            l.process(seg);
        }
        let at = self.frames;
        for (ch, data) in seg.iter().enumerate() {
            let piece_peak = crate::truepeak::sample_peak(data);
            let peak = self.peak[ch].max(piece_peak);
            self.peak[ch] = peak;
            self.sum_sq[ch] += sum_of_squares(data);
            let clip = &mut self.clip[ch];
            if piece_peak < FLAT_LEVEL {
                // No loud sample: each one ends a run, as `push` has it.
                if let Some(&x) = data.last() {
                    clip.run = 1;
                    clip.last = x;
                }
            } else {
                let mut clipped = 0;
                for (i, &x) in data.iter().enumerate() {
                    clipped += clip.push(x, at + i as u64);
                }
                self.clipped_now[ch] += clipped;
            }
            // The window's true peak is at least its sample peak, so pieces
            // whose samples cannot interpolate above it skip the filter
            // (`block_max` decides per call): same result, less work.
            let mut best = self.tp_now[ch].max(peak);
            for piece in data.chunks(TP_PIECE) {
                best = best.max(self.tp[ch].block_max(piece, best));
            }
            self.tp_now[ch] = best;
        }
        if let ([l, r], Some(LowEnd { c, z })) = (seg, self.low.as_mut()) {
            let s = &mut self.sums_now;
            let scope = self.data.scope.as_mut().expect("stereo has a scope");
            let cells: &mut [u32; SCOPE_CELLS * SCOPE_CELLS] = scope
                .counts
                .as_mut_slice()
                .try_into()
                .expect("the scope has its cells");
            let mut at = [0u16; SCOPE_PIECE];
            for (l, r) in l.chunks(SCOPE_PIECE).zip(r.chunks(SCOPE_PIECE)) {
                let at = &mut at[..l.len()];
                scope_cells(self.isa, at, l, r);
                // Neighbouring samples often share a cell (low frequencies,
                // high rates): count runs, one memory update per run.
                let (mut cell, mut run) = (at[0], 0);
                for &i in at.iter() {
                    if i != cell {
                        cells[usize::from(cell)] += run;
                        (cell, run) = (i, 0);
                    }
                    run += 1;
                }
                cells[usize::from(cell)] += run;
            }
            // On copies, so the filter state and the sums need not go
            // through memory at every sample.
            let (mut zs, mut sums) = (*z, *s);
            for (&a, &b) in l.iter().zip(r.iter()) {
                let (x, y) = (a as f64, b as f64);
                sums[0] += x * y;
                sums[1] += x * x;
                sums[2] += y * y;
                let low = tick_pair(&c[0], &mut zs[0], [x, y]);
                let [lx, ly] = tick_pair(&c[1], &mut zs[1], low);
                sums[3] += lx * ly;
                sums[4] += lx * lx;
                sums[5] += ly * ly;
            }
            (*z, *s) = (zs, sums);
            // As `Biquad::flush`: silence never runs on denormals, and a bad
            // sample does not ring forever.
            for [z1, z2] in z.iter_mut() {
                for ch in 0..2 {
                    let bad = !(z1[ch].is_finite() && z2[ch].is_finite());
                    for v in [&mut z1[ch], &mut z2[ch]] {
                        if bad || v.abs() < 1e-25 {
                            *v = 0.0;
                        }
                    }
                }
            }
        }
        self.frames += seg.first().map_or(0, |c| c.len()) as u64;
    }

    /// Ends the current window; `full` when it has its whole length.
    fn close_window(&mut self, full: bool) {
        let i = self.data.momentary.len();
        let len = self.pos.max(1) as f64;
        for ch in 0..self.data.channels {
            self.data.peak[ch].push(self.peak[ch]);
            self.data.rms[ch].push((self.sum_sq[ch] / len).sqrt() as f32);
            self.data.true_peak[ch].push(self.tp_now[ch]);
            self.data.clipped[ch].push(self.clipped_now[ch]);
        }
        let reading = self
            .loudness
            .as_ref()
            .map(|l| [l.momentary(), l.short_term()]);
        let [m, s] = self.loudness_at(i, full, reading);
        self.data.momentary.push(m);
        self.data.short_term.push(s);
        let mut sums = self.sums_now;
        for v in sums.iter_mut().skip(3) {
            // Low-end energies per sample, so short last windows compare.
            *v /= len;
        }
        self.sums.push(sums);
        self.peak.fill(0.0);
        self.sum_sq.fill(0.0);
        self.tp_now.fill(0.0);
        self.clipped_now.fill(0);
        self.sums_now = [0.0; 6];
        self.pos = 0;
    }

    /// Window `i`'s momentary and short-term loudness from a meter's
    /// `reading` (LUFS) at its end: NaN until the window is full and the
    /// meter's window has filled.
    fn loudness_at(&self, i: usize, full: bool, reading: Option<[f64; 2]>) -> [f64; 2] {
        let [m, s] = reading.unwrap_or([f64::NAN; 2]);
        [
            if full && i + 1 >= self.momentary_from {
                m
            } else {
                f64::NAN
            },
            if full && i + 1 >= self.short_from {
                s
            } else {
                f64::NAN
            },
        ]
    }

    /// [`Series::finish`] for a series built [`Series::without_loudness`]:
    /// `recorded` are the energies of a meter fed the same audio, recording
    /// every [`STEPS_PER_HOP`] steps ([`Loudness::record_every`]).
    pub fn finish_with_loudness(&mut self, recorded: &[[f64; 2]]) -> SeriesData {
        let mut data = self.finish();
        // Every window but a partial last one ended on a reading.
        let full = (data.frames / data.hop as u64) as usize;
        for i in 0..data.momentary.len() {
            let reading = recorded
                .get(i)
                .map(|&[m, s]| [energy_to_lufs(m), energy_to_lufs(s)]);
            [data.momentary[i], data.short_term[i]] = self.loudness_at(i, i < full, reading);
        }
        data
    }

    /// The series so far (a partial last window included).
    pub fn finish(&mut self) -> SeriesData {
        if self.pos > 0 {
            self.close_window(false);
        }
        let mut data = self.data.clone();
        data.frames = self.frames;
        data.clips = self.clip.iter().map(|c| c.stats.clone()).collect();
        if data.channels == 2 {
            let corr = |s: [f64; 3]| {
                let d = (s[1] * s[2]).sqrt();
                if d > 1e-20 { s[0] / d } else { f64::NAN }
            };
            let n = self.sums.len();
            for i in 0..n {
                let span = i.saturating_sub(CORR_SPAN)..(i + CORR_SPAN + 1).min(n);
                let mut full = [0.0; 3];
                let mut low = [0.0; 3];
                for s in &self.sums[span] {
                    for k in 0..3 {
                        full[k] += s[k];
                        low[k] += s[k + 3];
                    }
                }
                data.correlation.push(corr(full));
                data.low_correlation.push(corr(low));
                data.low_rms
                    .push(((self.sums[i][4] + self.sums[i][5]) / 2.0).sqrt());
            }
        } else {
            let n = self.sums.len();
            data.correlation = vec![f64::NAN; n];
            data.low_correlation = vec![f64::NAN; n];
            data.low_rms = vec![f64::NAN; n];
        }
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Analyzer;

    fn sine(fs: f64, f: f64, amp: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (amp * (2.0 * std::f64::consts::PI * f * i as f64 / fs).sin()) as f32)
            .collect()
    }

    fn run(fs: f64, chans: &[Vec<f32>], block: usize) -> SeriesData {
        let mut s = Series::new(fs, chans.len());
        let n = chans[0].len();
        let mut at = 0;
        while at < n {
            let end = (at + block).min(n);
            let planes: Vec<&[f32]> = chans.iter().map(|c| &c[at..end]).collect();
            s.push(&planes);
            at = end;
        }
        s.finish()
    }

    #[test]
    fn loudness_and_true_peak_shared_with_the_analyzer_are_their_own() {
        // A level step and a partial last window; stereo and mono.
        let fs = 48_000.0;
        let mut x = sine(fs, 440.0, 0.05, 48_000 * 3);
        x.extend(sine(fs, 1000.0, 0.7, 48_000 * 2 + 1234));
        let y: Vec<f32> = x.iter().map(|v| v * 0.5).collect();
        for chans in [vec![x.clone(), y], vec![x.clone()]] {
            // The same blocks: a meter sums each block on its own.
            let own = run(fs, &chans, 3000);
            let mut series = Series::without_loudness(fs, chans.len());
            let mut analyzer = Analyzer::new(fs, chans.len());
            analyzer.record_loudness_every(STEPS_PER_HOP);
            for at in (0..x.len()).step_by(3000) {
                let end = (at + 3000).min(x.len());
                let planes: Vec<&[f32]> = chans.iter().map(|c| &c[at..end]).collect();
                series.push(&planes);
                analyzer.push(&planes);
            }
            let shared = series.finish_with_loudness(analyzer.recorded_loudness());
            // And the analyzer's true peak from the series, as its own.
            let mut whole = Analyzer::new(fs, chans.len());
            let mut no_tp = Analyzer::without_true_peak(fs, chans.len());
            for at in (0..x.len()).step_by(4096) {
                let end = (at + 4096).min(x.len());
                let planes: Vec<&[f32]> = chans.iter().map(|c| &c[at..end]).collect();
                whole.push(&planes);
                no_tp.push(&planes);
            }
            let tp = shared.true_peak_per_channel();
            assert!(tp[0] > 0.7, "{tp:?}");
            let (theirs, alone) = (no_tp.finish_with_true_peak(&tp), whole.finish());
            assert_eq!(theirs.scan.true_peak, alone.scan.true_peak);
            assert_eq!(theirs.plr.to_bits(), alone.plr.to_bits());
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&shared.momentary), bits(&own.momentary));
            assert_eq!(bits(&shared.short_term), bits(&own.short_term));
            assert!(
                own.momentary.last().unwrap().is_nan(),
                "partial last window"
            );
            assert!(own.short_term[40].is_finite());
        }
    }

    #[test]
    fn hop_is_ten_loudness_steps_and_block_size_does_not_matter() {
        let fs = 44_100.0;
        let x = sine(fs, 997.0, 0.5, 44_100 * 4 + 1000);
        let a = run(fs, &[x.clone(), x.clone()], 4096);
        let b = run(fs, &[x.clone(), x], 777);
        assert_eq!(a.hop, 4410);
        assert_eq!((a.peak.clone(), a.true_peak.clone()), (b.peak, b.true_peak));
        let close = |x: &[f64], y: &[f64]| {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| p.is_nan() && q.is_nan() || (p - q).abs() < 1e-9)
        };
        assert!(close(&a.momentary, &b.momentary) && close(&a.short_term, &b.short_term));
        assert!(close(&a.correlation, &b.correlation) && close(&a.low_rms, &b.low_rms));
        // 40 full windows and a short one.
        assert_eq!(a.len(), 41);
        assert!(a.momentary[2].is_nan() && a.momentary[3].is_finite());
        assert!(a.short_term[28].is_nan() && a.short_term[29].is_finite());
        assert!(
            a.short_term[40].is_nan(),
            "short last window has no loudness"
        );
        // A −6 dBFS 1 kHz sine on both channels: −6.02 − 3.01 + 3.01 (two channels) LUFS.
        assert!(
            (a.momentary[20] - -6.02).abs() < 0.05,
            "{}",
            a.momentary[20]
        );
        assert!((a.peak[0][20] - 0.5).abs() < 1e-3);
        assert!((a.rms[1][20] as f64 - 0.5 / 2f64.sqrt()).abs() < 1e-3);
        assert!((a.correlation[20] - 1.0).abs() < 1e-9);
    }

    #[test]
    fn clip_counts_match_the_analyzer() {
        let fs = 48_000.0;
        let mut l = sine(fs, 440.0, 0.9, 96_000);
        let r = sine(fs, 220.0, 0.3, 96_000);
        for i in 0..7 {
            l[50_000 + i] = 1.0;
        }
        for i in 0..3 {
            l[70_000 + i] = -0.8;
        }
        let mut a = Analyzer::new(fs, 2);
        a.push(&[&l, &r]);
        let rep = a.finish();
        let s = run(fs, &[l, r], 1000);
        assert_eq!(s.clips[0].runs, rep.clipped_runs[0]);
        assert_eq!(s.clips[0].samples, rep.clipped_samples[0]);
        assert_eq!(s.clips[0].longest, rep.longest_clip_run);
        assert_eq!(s.clips[0].first, Some(50_000));
        assert_eq!(s.clips[0].longest_at, 50_000);
        assert_eq!(s.clipped[0][50_000 / 4800], 7);
        assert_eq!(s.clipped[0][70_000 / 4800], 3);
        assert_eq!(s.clips[1].runs, 0);
    }

    #[test]
    fn scope_cells_clamp_as_saturating_casts_would() {
        let odd = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            2.0,
            -2.0,
            1.0,
            -1.0,
            0.0,
            -0.0,
            1e-30,
            -1e-30,
            0.999_99,
            -0.999_99,
            0.5,
            -0.25,
            0.0039,
            -0.0039,
        ];
        let (mut l, mut r) = (Vec::new(), Vec::new());
        for &a in &odd {
            for &b in &odd {
                l.push(a);
                r.push(b);
            }
        }
        // The plain formula: saturating casts (NaN and below zero give 0), then clamps.
        let half = (SCOPE_CELLS / 2) as f32;
        let top = (SCOPE_CELLS - 1) as i32;
        let want: Vec<u16> = l
            .iter()
            .zip(&r)
            .map(|(&a, &b)| {
                let c = ((((b - a) * 0.5 + 1.0) * half) as i32).clamp(0, top);
                let row = (((1.0 - (a + b) * 0.5) * half) as i32).clamp(0, top);
                (row * SCOPE_CELLS as i32 + c) as u16
            })
            .collect();
        for isa in Isa::available() {
            let mut got = vec![0u16; l.len()];
            scope_cells(isa, &mut got, &l, &r);
            assert_eq!(got, want, "{isa:?}");
        }
    }

    #[test]
    fn vectorscope_puts_left_up_left_and_mono_straight_up() {
        let fs = 48_000.0;
        let l = vec![0.5f32; 1000];
        let s = run(fs, &[l.clone(), vec![0.0; 1000]], 512);
        let scope = s.scope.unwrap();
        let cell = scope.counts.iter().position(|&c| c == 1000).unwrap();
        let (row, col) = (cell / SCOPE_CELLS, cell % SCOPE_CELLS);
        // (R − L)/2 = −0.25 → left of centre; (L + R)/2 = 0.25 → above centre.
        assert_eq!(col, (0.75 * 128.0) as usize);
        assert_eq!(row, (0.75 * 128.0) as usize);
        let m = run(fs, &[l.clone(), l], 512).scope.unwrap();
        let cell = m.counts.iter().position(|&c| c == 1000).unwrap();
        assert_eq!(cell % SCOPE_CELLS, 128);
        assert_eq!(cell / SCOPE_CELLS, 64);
        // Everything is within the middle quarter: zoom 2 keeps it all, zoom 4 not.
        assert_eq!(m.zoom(0.99), 2);
        assert_eq!(m.view(2, 64).iter().sum::<u32>(), 1000);
    }

    #[test]
    fn low_end_correlation_sees_a_flipped_bass_under_a_correlated_top() {
        let fs = 48_000.0;
        let n = 48_000 * 2;
        let bass = sine(fs, 60.0, 0.4, n);
        let top = sine(fs, 2000.0, 0.4, n);
        let l: Vec<f32> = bass.iter().zip(&top).map(|(b, t)| b + t).collect();
        let r: Vec<f32> = bass.iter().zip(&top).map(|(b, t)| -b + t).collect();
        let s = run(fs, &[l, r], 4096);
        assert!(s.low_correlation[10] < -0.99, "{}", s.low_correlation[10]);
        assert!(s.correlation[10].abs() < 0.05, "{}", s.correlation[10]);
        assert!(s.low_rms[10] > 0.2);
    }
}
