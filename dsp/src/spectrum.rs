//! Long-term average spectrum of a programme (Welch: sine-windowed frames of
//! 2 s, 50 % overlap, `realfft`), per channel and for mid and side, read
//! as the energy in a 1/6-octave band around each of a fixed set of
//! frequencies (1/24 octave apart, 20 Hz–20 kHz). Band energy makes pink
//! noise flat and lets a sine read its own level (sine-referenced dBFS: a
//! full-scale sine is 0 dB), and the fixed frequencies let files at
//! different sample rates be compared per Hz.
//!
//! Also here: loudness-matched comparison with a reference (a difference
//! curve and the largest band differences), the album's average, and the
//! highest frequency a file really carries (a brick-wall edge below
//! Nyquist gives away a lossy or lower-rate source).

use crate::truepeak::{Isa, multiversion};
use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// Width of the smoothing band, octaves.
pub const SMOOTHING_OCTAVES: f64 = 1.0 / 6.0;
/// Frequencies at which the smoothed spectrum is read, per octave.
pub const POINTS_PER_OCTAVE: usize = 24;
/// Lowest frequency read, Hz.
pub const LOWEST_HZ: f64 = 20.0;
/// Highest frequency read, Hz.
pub const HIGHEST_HZ: f64 = 20_000.0;
/// Frame length, seconds, at every sample rate (bins 0.5 Hz apart): long
/// enough that a bass note's main lobe (±0.75 Hz) stays inside its own
/// 1/6-octave band down to 40 Hz.
pub const FRAME_S: f64 = 2.0;
/// Fewest samples that still make a (zero-padded) spectrum.
const MIN_SAMPLES: usize = 2048;

/// The frequencies the smoothed spectrum is read at: 20 Hz and up in
/// 1/24-octave steps, to 20 kHz.
pub fn frequencies() -> Vec<f64> {
    let steps = (POINTS_PER_OCTAVE as f64 * (HIGHEST_HZ / LOWEST_HZ).log2()).floor() as usize;
    (0..=steps)
        .map(|k| LOWEST_HZ * 2f64.powf(k as f64 / POINTS_PER_OCTAVE as f64))
        .collect()
}

/// What [`Spectrum`] measured: mean-square energy per FFT bin, averaged over
/// the frames, for each curve (channels, then mid and side for stereo).
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumData {
    /// Hz.
    pub sample_rate: f64,
    /// FFT length, samples.
    pub fft_size: usize,
    /// Frames averaged (0: the file was too short for a spectrum).
    pub frames: u64,
    /// Curve names: `L`, `R`, `M`, `S` for stereo, `mono`, or `1`…`8`.
    pub names: Vec<String>,
    /// Mean-square energy per bin (0..=fft_size/2) for each curve; the bins
    /// of a curve sum to the signal's mean square.
    pub bins: Vec<Vec<f64>>,
}

impl SpectrumData {
    /// Width of one bin, Hz.
    pub fn bin_hz(&self) -> f64 {
        self.sample_rate / self.fft_size as f64
    }

    /// The curve of all channels together (their mean energy per bin).
    pub fn average_bins(&self) -> Vec<f64> {
        let chans = match self.names.first().map(String::as_str) {
            Some("L") => 2,
            _ => self.bins.len(),
        };
        let n = self.bins.first().map_or(0, |b| b.len());
        (0..n)
            .map(|k| self.bins[..chans].iter().map(|b| b[k]).sum::<f64>() / chans as f64)
            .collect()
    }

    /// Level in dB (sine-referenced) of the energy of `bins` between `lo`
    /// and `hi` Hz, each bin counted for the part of its width inside.
    fn band_db(&self, cumulative: &[f64], bins: &[f64], lo: f64, hi: f64) -> f64 {
        let d = self.bin_hz();
        let below = |f: f64| {
            let pos = f / d + 0.5;
            let k = (pos.floor() as usize).min(bins.len() - 1);
            cumulative[k] + bins[k] * (pos - k as f64).clamp(0.0, 1.0)
        };
        let e = below(hi) - below(lo);
        10.0 * (2.0 * e.max(0.0)).log10()
    }

    /// `bins` smoothed over 1/6 octave and read at [`frequencies`], dB
    /// (NaN where the band reaches above Nyquist or there is no spectrum).
    pub fn smoothed(&self, bins: &[f64]) -> Vec<f64> {
        let at = frequencies();
        if self.frames == 0 || bins.is_empty() {
            return vec![f64::NAN; at.len()];
        }
        let mut cumulative = Vec::with_capacity(bins.len() + 1);
        let mut sum = 0.0;
        for &b in bins {
            cumulative.push(sum);
            sum += b;
        }
        let half = 2f64.powf(SMOOTHING_OCTAVES / 2.0);
        let nyquist = self.sample_rate / 2.0;
        at.iter()
            .map(|&f| {
                let (lo, hi) = (f / half, f * half);
                if hi > nyquist {
                    f64::NAN
                } else {
                    self.band_db(&cumulative, bins, lo, hi)
                }
            })
            .collect()
    }

    /// The smoothed curve of each of [`SpectrumData::names`].
    pub fn curves(&self) -> Vec<Vec<f64>> {
        self.bins.iter().map(|b| self.smoothed(b)).collect()
    }

    /// The smoothed curve of all channels together.
    pub fn average(&self) -> Vec<f64> {
        self.smoothed(&self.average_bins())
    }

    /// The highest frequency the programme carries when its spectrum ends
    /// in a brick wall well below Nyquist (a lossy encode, or audio made at
    /// a lower sample rate), Hz; None when the content runs up to Nyquist
    /// or rolls off gently.
    pub fn content_edge(&self) -> Option<f64> {
        let nyquist = self.sample_rate / 2.0;
        if self.frames == 0 || nyquist < 8_000.0 {
            return None;
        }
        // Energy in 250 Hz bands from 1 kHz to Nyquist.
        let bins = self.average_bins();
        let width = 250.0;
        let per = (width / self.bin_hz()).round().max(1.0) as usize;
        let first = (1_000.0 / self.bin_hz()) as usize;
        let bands: Vec<(f64, f64)> = bins[first..]
            .chunks_exact(per)
            .enumerate()
            .map(|(b, c)| {
                let top = (first + (b + 1) * per) as f64 * self.bin_hz();
                (top, 10.0 * c.iter().sum::<f64>().max(1e-30).log10())
            })
            .collect();
        let mut mid: Vec<f64> = bands
            .iter()
            .filter(|(top, _)| *top <= 8_000.0)
            .map(|&(_, l)| l)
            .collect();
        if mid.is_empty() {
            return None;
        }
        mid.sort_by(f64::total_cmp);
        let reference = mid[mid.len() / 2];
        // The highest band with content; a wall when everything from 500 Hz
        // above it up to Nyquist is 30 dB down.
        let k = bands.iter().rposition(|&(_, l)| l > reference - 50.0)?;
        let above = &bands[(k + 2).min(bands.len())..];
        let (top, here) = bands[k];
        let wall = above.len() >= 2 && above.iter().all(|&(_, l)| l < here - 30.0);
        (wall && top < 0.97 * nyquist).then_some(top)
    }
}

/// Collects [`SpectrumData`] from planar blocks.
///
/// Frames are exactly [`FRAME_S`] long at every sample rate, so the bins
/// fall on the same frequencies (every 0.5 Hz) whatever the rate, and
/// overlap by half under a sine window, whose square adds up to exactly 1
/// at that overlap: every sample counts the same, except the first and
/// last half frame, which fade in and out (no hard edges to leak).
pub struct Spectrum {
    sample_rate: f64,
    n: usize,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    /// Per channel, the windowed frame being filled: a sample is windowed
    /// as it arrives, into this frame and, in its second half, into `next`
    /// (the frames overlap by half), so no sample is copied or read again.
    frame: Vec<Vec<f32>>,
    /// Per channel, the frame after `frame` (its first half is filled while
    /// `frame`'s second half is).
    next: Vec<Vec<f32>>,
    /// Samples of the frame being filled.
    fill: usize,
    /// Per channel, the first frame's samples as they came, while it is the
    /// only one: a programme shorter than a frame gets a window of its own
    /// length instead.
    first: Vec<Vec<f32>>,
    out: Vec<Vec<Complex<f32>>>,
    scratch: Vec<Complex<f32>>,
    /// Σ|X|² per bin and curve, before normalization.
    power: Vec<Vec<f64>>,
    frames: u64,
    names: Vec<String>,
    /// The vector unit the per-bin loops run on (the sums are the same on all).
    isa: Isa,
}

multiversion! {
    /// `out[i] = x[i] · w[i]`.
    fn windowed(out: &mut [f32], x: &[f32], w: &[f32]) -> () {
        for ((o, &x), &w) in out.iter_mut().zip(x).zip(w) {
            *o = x * w;
        }
    }
}

multiversion! {
    /// `power[k] += |bins[k]|²`.
    fn add_power(power: &mut [f64], bins: &[Complex<f32>]) -> () {
        for (p, c) in power.iter_mut().zip(bins) {
            *p += power_of(*c);
        }
    }
}

/// `|c|²`, summed in f32 as it always has been, then widened.
#[inline(always)]
fn power_of(c: Complex<f32>) -> f64 {
    (c.re * c.re + c.im * c.im) as f64
}

multiversion! {
    /// `power[0][k] += |l[k]|²`, `power[1][k] += |r[k]|²`, and mid and side:
    /// `power[2][k] += |(l + r) / 2|²`, `power[3][k] += |(l − r) / 2|²`,
    /// in one pass over the bins.
    fn add_stereo(power: [&mut [f64]; 4], l: &[Complex<f32>], r: &[Complex<f32>]) -> () {
        let [pl, pr, mid, side] = power;
        let n = l.len().min(r.len()).min(pl.len()).min(pr.len()).min(mid.len()).min(side.len());
        for k in 0..n {
            let (a, b) = (l[k], r[k]);
            pl[k] += power_of(a);
            pr[k] += power_of(b);
            let (mr, mi) = ((a.re + b.re) * 0.5, (a.im + b.im) * 0.5);
            let (sr, si) = ((a.re - b.re) * 0.5, (a.im - b.im) * 0.5);
            mid[k] += (mr * mr + mi * mi) as f64;
            side[k] += (sr * sr + si * si) as f64;
        }
    }
}

/// Sine window: its square at half overlap sums to 1.
fn sine_window(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (std::f64::consts::PI * (i as f64 + 0.5) / n as f64).sin() as f32)
        .collect()
}

impl Spectrum {
    /// A collector for `channels` planar channels at `sample_rate`.
    pub fn new(sample_rate: f64, channels: usize) -> Self {
        let channels = channels.max(1);
        let n = (((sample_rate * FRAME_S / 2.0).round() as usize) * 2).max(MIN_SAMPLES);
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
        let names: Vec<String> = match channels {
            1 => vec!["mono".into()],
            2 => ["L", "R", "M", "S"].map(String::from).to_vec(),
            c => (1..=c).map(|i| i.to_string()).collect(),
        };
        Spectrum {
            sample_rate,
            n,
            frame: (0..channels).map(|_| fft.make_input_vec()).collect(),
            next: (0..channels).map(|_| fft.make_input_vec()).collect(),
            first: vec![vec![0.0; n]; channels],
            out: (0..channels).map(|_| fft.make_output_vec()).collect(),
            scratch: fft.make_scratch_vec(),
            fft,
            window: sine_window(n),
            fill: 0,
            power: vec![vec![0.0; n / 2 + 1]; names.len()],
            frames: 0,
            names,
            isa: Isa::detect(),
        }
    }

    /// Feeds planar audio (one slice per channel, equally long).
    pub fn push(&mut self, input: &[&[f32]]) {
        let len = input.iter().map(|c| c.len()).min().unwrap_or(0);
        let half = self.n / 2;
        let mut at = 0;
        while at < len {
            // Up to the middle of the frame, or to its end.
            let end = if self.fill < half { half } else { self.n };
            let take = (end - self.fill).min(len - at);
            let (from, to) = (self.fill, self.fill + take);
            for (ch, data) in input.iter().enumerate().take(self.frame.len()) {
                let x = &data[at..at + take];
                if self.frames == 0 {
                    self.first[ch][from..to].copy_from_slice(x);
                }
                windowed(
                    self.isa,
                    &mut self.frame[ch][from..to],
                    x,
                    &self.window[from..to],
                );
                if from >= half {
                    let (f, t) = (from - half, to - half);
                    windowed(self.isa, &mut self.next[ch][f..t], x, &self.window[f..t]);
                }
            }
            self.fill = to;
            at += take;
            if self.fill == self.n {
                self.transform_frame();
                if self.frames == 1 {
                    // A whole frame came: no window of the programme's own length.
                    self.first = Vec::new();
                }
                // The next frame's first half is whole; the transformed
                // buffers (scratch now) take the one after.
                std::mem::swap(&mut self.frame, &mut self.next);
                self.fill = half;
            }
        }
    }

    /// Transforms the windowed frames and adds their power.
    fn transform_frame(&mut self) {
        for (frame, out) in self.frame.iter_mut().zip(self.out.iter_mut()) {
            self.fft
                .process_with_scratch(frame, out, &mut self.scratch)
                .expect("buffers come from the plan");
        }
        if let ([l, r], [pl, pr, mid, side]) = (&self.out[..], &mut self.power[..]) {
            add_stereo(self.isa, [pl, pr, mid, side], l, r);
        } else {
            for (power, out) in self.power.iter_mut().zip(&self.out) {
                add_power(self.isa, power, out);
            }
        }
        self.frames += 1;
    }

    /// The spectrum of everything fed so far.
    pub fn finish(&mut self) -> SpectrumData {
        let mut window_sq: f64 = self.window.iter().map(|&w| (w as f64).powi(2)).sum();
        if self.frames == 0 && self.fill >= MIN_SAMPLES {
            // Shorter than a frame: one zero-padded frame of what there is.
            let w = sine_window(self.fill);
            window_sq = w.iter().map(|&w| (w as f64).powi(2)).sum();
            for (frame, first) in self.frame.iter_mut().zip(&self.first) {
                windowed(self.isa, &mut frame[..w.len()], &first[..w.len()], &w);
                frame[w.len()..].fill(0.0);
            }
            self.transform_frame();
        }
        let frames = self.frames;
        let scale = 1.0 / (frames.max(1) as f64 * self.n as f64 * window_sq);
        let last = self.n / 2;
        let bins = self
            .power
            .iter()
            .map(|p| {
                p.iter()
                    .enumerate()
                    .map(|(k, &v)| {
                        let one_sided = if k == 0 || k == last { 1.0 } else { 2.0 };
                        v * one_sided * scale
                    })
                    .collect()
            })
            .collect();
        SpectrumData {
            sample_rate: self.sample_rate,
            fft_size: self.n,
            frames,
            names: self.names.clone(),
            bins,
        }
    }
}

/// Bands in which differences are named (Hz).
pub const BANDS: [(f64, f64); 10] = [
    (20.0, 60.0),
    (60.0, 120.0),
    (120.0, 250.0),
    (250.0, 500.0),
    (500.0, 1_000.0),
    (1_000.0, 2_000.0),
    (2_000.0, 4_000.0),
    (4_000.0, 8_000.0),
    (8_000.0, 12_000.0),
    (12_000.0, 20_000.0),
];

/// Smallest band difference worth naming, dB.
pub const NAMED_DIFFERENCE_DB: f64 = 1.0;

/// A band where two loudness-matched spectra differ.
#[derive(Debug, Clone, PartialEq)]
pub struct BandDifference {
    /// Lower edge, Hz.
    pub from_hz: f64,
    /// Upper edge, Hz.
    pub to_hz: f64,
    /// Mean difference over the band, dB (positive: more than the other).
    pub difference_db: f64,
}

impl BandDifference {
    /// "2.8 dB less 60–120 Hz than `other`".
    pub fn describe(&self, other: &str) -> String {
        let d = self.difference_db;
        let word = if d < 0.0 { "less" } else { "more" };
        format!(
            "{:.1} dB {word} {} than {other}",
            d.abs(),
            band_name(self.from_hz, self.to_hz)
        )
    }
}

/// "60–120 Hz", "500 Hz–1 kHz", "2–4 kHz".
pub fn band_name(lo: f64, hi: f64) -> String {
    let k = |f: f64| {
        let v = f / 1000.0;
        if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    match (lo >= 1000.0, hi >= 1000.0) {
        (true, _) => format!("{}–{} kHz", k(lo), k(hi)),
        (false, true) => format!("{lo:.0} Hz–{} kHz", k(hi)),
        (false, false) => format!("{lo:.0}–{hi:.0} Hz"),
    }
}

/// A spectrum set against another one.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Gain given to the other curve to match loudness, dB.
    pub offset_db: f64,
    /// This curve minus the matched other, per [`frequencies`] point, dB
    /// (NaN where either is missing).
    pub difference: Vec<f64>,
    /// Bands whose mean difference is at least [`NAMED_DIFFERENCE_DB`],
    /// largest first (at most three).
    pub largest: Vec<BandDifference>,
}

/// Compares `curve` with `other` after giving `other` `offset_db` of gain
/// (the loudness difference, so tonal balance is compared, not level).
pub fn compare(curve: &[f64], other: &[f64], offset_db: f64) -> Comparison {
    let freqs = frequencies();
    let difference: Vec<f64> = curve
        .iter()
        .zip(other)
        .map(|(a, b)| {
            let d = a - (b + offset_db);
            if d.is_finite() { d } else { f64::NAN }
        })
        .collect();
    let mut bands: Vec<BandDifference> = BANDS
        .iter()
        .filter_map(|&(lo, hi)| {
            let v: Vec<f64> = freqs
                .iter()
                .zip(&difference)
                .filter(|(f, d)| **f >= lo && **f < hi && d.is_finite())
                .map(|(_, d)| *d)
                .collect();
            (!v.is_empty()).then(|| BandDifference {
                from_hz: lo,
                to_hz: hi,
                difference_db: v.iter().sum::<f64>() / v.len() as f64,
            })
        })
        .filter(|b| b.difference_db.abs() >= NAMED_DIFFERENCE_DB)
        .collect();
    bands.sort_by(|a, b| b.difference_db.abs().total_cmp(&a.difference_db.abs()));
    bands.truncate(3);
    Comparison {
        offset_db,
        difference,
        largest: bands,
    }
}

/// The mean of several curves, each first moved by its own offset (minus
/// its integrated loudness, so every track counts at the same loudness);
/// NaN where no curve has a value.
pub fn mean_curve(curves: &[(&[f64], f64)]) -> Vec<f64> {
    let n = curves.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    (0..n)
        .map(|k| {
            let v: Vec<f64> = curves
                .iter()
                .filter_map(|(c, off)| c.get(k).map(|x| x + off))
                .filter(|x| x.is_finite())
                .collect();
            if v.is_empty() {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(fs: f64, chans: &[Vec<f32>]) -> SpectrumData {
        let mut s = Spectrum::new(fs, chans.len());
        for k in (0..chans[0].len()).step_by(4096) {
            let end = (k + 4096).min(chans[0].len());
            let planes: Vec<&[f32]> = chans.iter().map(|c| &c[k..end]).collect();
            s.push(&planes);
        }
        s.finish()
    }

    fn sine(fs: f64, f: f64, amp: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (amp * (2.0 * std::f64::consts::PI * f * i as f64 / fs).sin()) as f32)
            .collect()
    }

    fn at(freq: f64) -> usize {
        frequencies()
            .iter()
            .position(|&f| f >= freq * 0.999)
            .unwrap()
    }

    #[test]
    fn a_sine_reads_its_level_and_bins_sum_to_the_mean_square() {
        let fs = 48_000.0;
        let x = sine(fs, 1000.0, 0.25, 48_000 * 3);
        let s = run(fs, &[x.clone(), vec![0.0; x.len()]]);
        assert_eq!(s.fft_size, 96_000);
        assert_eq!(s.bin_hz(), 0.5);
        assert_eq!(s.names, ["L", "R", "M", "S"]);
        let total: f64 = s.bins[0].iter().sum();
        assert!((total - 0.25f64.powi(2) / 2.0).abs() < 1e-4, "{total}");
        let l = s.smoothed(&s.bins[0]);
        let want = 20.0 * 0.25f64.log10();
        assert!((l[at(1000.0)] - want).abs() < 0.05, "{}", l[at(1000.0)]);
        // Mid and side of a left-only signal are each half of it: −6 dB.
        let m = s.smoothed(&s.bins[2]);
        let side = s.smoothed(&s.bins[3]);
        assert!((m[at(1000.0)] - (want - 6.02)).abs() < 0.05);
        assert!((side[at(1000.0)] - (want - 6.02)).abs() < 0.05);
        // Far from the tone there is (almost) nothing.
        assert!(l[at(100.0)] < want - 80.0);
        assert!(s.content_edge().is_none());
    }

    /// Welch's method as written down: every frame cut from the whole
    /// signal, windowed, transformed, its power added (the same f32
    /// products and sums as the collector, so the same bits).
    fn plain_welch(n: usize, chans: &[Vec<f32>]) -> Vec<Vec<f64>> {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
        let w = sine_window(n);
        let len = chans[0].len();
        let mut power = vec![vec![0f64; n / 2 + 1]; if chans.len() == 2 { 4 } else { chans.len() }];
        let mut start = 0;
        while start + n <= len {
            let spectra: Vec<Vec<Complex<f32>>> = chans
                .iter()
                .map(|c| {
                    let mut input: Vec<f32> = c[start..start + n]
                        .iter()
                        .zip(&w)
                        .map(|(x, w)| x * w)
                        .collect();
                    let mut out = fft.make_output_vec();
                    fft.process(&mut input, &mut out).unwrap();
                    out
                })
                .collect();
            for (k, bins) in spectra.iter().enumerate() {
                for (p, c) in power[k].iter_mut().zip(bins) {
                    *p += (c.re * c.re + c.im * c.im) as f64;
                }
            }
            if let [l, r] = &spectra[..] {
                for (i, (a, b)) in l.iter().zip(r).enumerate() {
                    let (mr, mi) = ((a.re + b.re) * 0.5, (a.im + b.im) * 0.5);
                    let (sr, si) = ((a.re - b.re) * 0.5, (a.im - b.im) * 0.5);
                    power[2][i] += (mr * mr + mi * mi) as f64;
                    power[3][i] += (sr * sr + si * si) as f64;
                }
            }
            start += n / 2;
        }
        power
    }

    #[test]
    fn frames_are_welchs_to_the_bit_whatever_the_blocks() {
        let fs = 1500.0; // 3000-sample frames
        let noise = |seed: u32| -> Vec<f32> {
            let mut s = seed;
            (0..3000 * 5 + 777)
                .map(|_| {
                    s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (s >> 8) as f32 / (1 << 24) as f32 - 0.5
                })
                .collect()
        };
        for chans in [
            vec![noise(1)],
            vec![noise(2), noise(3)],
            vec![noise(4), noise(5), noise(6)],
        ] {
            let want = plain_welch(3000, &chans);
            for block in [1, 7, 1499, 1500, 1501, 4096, 20_000] {
                let mut s = Spectrum::new(fs, chans.len());
                let mut at = 0;
                while at < chans[0].len() {
                    let end = (at + block).min(chans[0].len());
                    let planes: Vec<&[f32]> = chans.iter().map(|c| &c[at..end]).collect();
                    s.push(&planes);
                    at = end;
                }
                assert_eq!(s.frames, 9, "block {block}");
                assert_eq!(s.power, want, "{} channels, block {block}", chans.len());
            }
        }
    }

    #[test]
    fn short_input_makes_one_padded_frame_and_tiny_input_none() {
        let fs = 44_100.0;
        let s = run(fs, &[sine(fs, 2000.0, 0.5, 8000)]);
        assert_eq!(s.frames, 1);
        let l = s.smoothed(&s.bins[0]);
        assert!(
            (l[at(2000.0)] - 20.0 * 0.5f64.log10()).abs() < 0.2,
            "{}",
            l[at(2000.0)]
        );
        let none = run(fs, &[sine(fs, 2000.0, 0.5, 1000)]);
        assert_eq!(none.frames, 0);
        assert!(none.smoothed(&none.bins[0]).iter().all(|v| v.is_nan()));
    }

    #[test]
    fn bands_above_nyquist_are_missing() {
        let fs = 32_000.0;
        let s = run(fs, &[sine(fs, 1000.0, 0.5, 64_000)]);
        let l = s.smoothed(&s.bins[0]);
        let f = frequencies();
        for (freq, v) in f.iter().zip(&l) {
            assert_eq!(
                v.is_nan(),
                freq * 2f64.powf(1.0 / 12.0) > 16_000.0,
                "{freq}"
            );
        }
    }

    #[test]
    fn comparison_names_the_largest_band_differences() {
        let f = frequencies();
        let a: Vec<f64> = f
            .iter()
            .map(|&x| {
                if (60.0..120.0).contains(&x) {
                    -22.8
                } else {
                    -20.0
                }
            })
            .collect();
        let b = vec![-26.0; f.len()];
        let c = compare(&a, &b, 6.0);
        assert_eq!(c.largest.len(), 1);
        assert_eq!(
            c.largest[0].describe("the reference"),
            "2.8 dB less 60–120 Hz than the reference"
        );
        assert!(c.difference[at(1000.0)].abs() < 1e-9);
        assert_eq!(band_name(500.0, 1000.0), "500 Hz–1 kHz");
        assert_eq!(band_name(8000.0, 12000.0), "8–12 kHz");
    }

    #[test]
    fn a_brick_wall_below_nyquist_is_found() {
        let fs = 48_000.0;
        // White noise, then low-passed hard at 16 kHz in the frequency domain
        // by summing sines up to 16 kHz only.
        let mut seed = 1u32;
        let mut noise = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as f64 / u32::MAX as f64 - 0.5
        };
        let n = 48_000;
        let mut x = vec![0f32; n];
        for k in 0..400 {
            let f = 50.0 + k as f64 * 40.0;
            let ph = noise() * std::f64::consts::TAU;
            for (i, v) in x.iter_mut().enumerate() {
                *v += (0.01 * (2.0 * std::f64::consts::PI * f * i as f64 / fs + ph).sin()) as f32;
            }
        }
        let s = run(fs, &[x]);
        let edge = s.content_edge().expect("an edge");
        assert!((15_500.0..17_000.0).contains(&edge), "{edge}");
    }
}
