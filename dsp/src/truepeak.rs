//! True peak per ITU-R BS.1770-4 Annex 2: 4× oversampling with the 48-tap
//! interpolation filter the Recommendation gives, split into 4 phases.

/// Taps per phase of the Annex 2 filter.
pub const TAPS: usize = 12;
/// Oversampling factor.
pub const PHASES: usize = 4;
/// Samples between an input sample and the interpolated points derived from it.
pub const DELAY: usize = 6;

/// BS.1770-4 Annex 2 coefficients, one row per phase, tap `t` weighting `x[n - t]`.
const ANNEX2: [[f64; TAPS]; PHASES] = [
    [
        0.001_708_984_375,
        0.010_986_328_125,
        -0.019_653_320_312_5,
        0.033_203_125,
        -0.059_448_242_187_5,
        0.137_329_101_562_5,
        0.972_167_968_75,
        -0.102_294_921_875,
        0.047_607_421_875,
        -0.026_611_328_125,
        0.014_892_578_125,
        -0.008_300_781_25,
    ],
    [
        -0.029_174_804_687_5,
        0.029_296_875,
        -0.051_757_812_5,
        0.089_111_328_125,
        -0.166_503_906_25,
        0.465_087_890_625,
        0.779_785_156_25,
        -0.200_317_382_812_5,
        0.101_562_5,
        -0.058_227_539_062_5,
        0.033_081_054_687_5,
        -0.018_920_898_437_5,
    ],
    [
        -0.018_920_898_437_5,
        0.033_081_054_687_5,
        -0.058_227_539_062_5,
        0.101_562_5,
        -0.200_317_382_812_5,
        0.779_785_156_25,
        0.465_087_890_625,
        -0.166_503_906_25,
        0.089_111_328_125,
        -0.051_757_812_5,
        0.029_296_875,
        -0.029_174_804_687_5,
    ],
    [
        -0.008_300_781_25,
        0.014_892_578_125,
        -0.026_611_328_125,
        0.047_607_421_875,
        -0.102_294_921_875,
        0.972_167_968_75,
        0.137_329_101_562_5,
        -0.059_448_242_187_5,
        0.033_203_125,
        -0.019_653_320_312_5,
        0.010_986_328_125,
        0.001_708_984_375,
    ],
];

/// Coefficients laid out for a forward dot product over the oldest-first
/// window: `KERNEL[k][p]` weights `window[k]` for phase `p`.
const fn kernel() -> [[f32; PHASES]; TAPS] {
    let mut k = [[0.0; PHASES]; TAPS];
    let mut t = 0;
    while t < TAPS {
        let mut p = 0;
        while p < PHASES {
            k[TAPS - 1 - t][p] = ANNEX2[p][t] as f32;
            p += 1;
        }
        t += 1;
    }
    k
}
const KERNEL: [[f32; PHASES]; TAPS] = kernel();

/// Largest sum of absolute taps over the phases: bounds how far an
/// interpolated value can exceed the window's largest sample.
fn kernel_gain() -> f32 {
    (0..PHASES)
        .map(|p| ANNEX2[p].iter().map(|h| h.abs()).sum::<f64>())
        .fold(0.0, f64::max) as f32
}

/// The four interpolated values of an oldest-first 12-sample window.
#[inline(always)]
fn interpolate(window: &[f32]) -> [f32; PHASES] {
    let mut acc = [0f32; PHASES];
    for (x, k) in window[..TAPS].iter().zip(KERNEL.iter()) {
        for p in 0..PHASES {
            acc[p] += k[p] * x;
        }
    }
    acc
}

const CHUNK: usize = 1024;

/// One channel's true-peak detector; keeps its filter history across blocks.
#[derive(Clone)]
pub struct TruePeak {
    /// Oldest-first history (TAPS-1 samples) followed by the current chunk.
    ext: Box<[f32]>,
    /// Ring for the per-sample interface: each sample written twice so a
    /// contiguous window always exists.
    ring: [f32; 2 * TAPS],
    pos: usize,
    bound: f32,
}

impl std::fmt::Debug for TruePeak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TruePeak").finish_non_exhaustive()
    }
}

impl Default for TruePeak {
    fn default() -> Self {
        Self::new()
    }
}

impl TruePeak {
    /// A detector with silent history (allocates; build off the audio thread).
    pub fn new() -> Self {
        TruePeak {
            ext: vec![0.0; CHUNK + TAPS - 1].into_boxed_slice(),
            ring: [0.0; 2 * TAPS],
            pos: 0,
            bound: kernel_gain(),
        }
    }

    /// Clears the history.
    pub fn reset(&mut self) {
        self.ext.fill(0.0);
        self.ring = [0.0; 2 * TAPS];
        self.pos = 0;
    }

    /// Feeds one sample; returns the largest magnitude among it and the four
    /// interpolated points between the samples `DELAY` and `DELAY - 1` back.
    /// The sample itself is compared too so the result is never below sample peak.
    #[inline]
    pub fn push(&mut self, x: f32) -> f32 {
        self.ring[self.pos] = x;
        self.ring[self.pos + TAPS] = x;
        self.pos = (self.pos + 1) % TAPS;
        let window = &self.ring[self.pos..self.pos + TAPS];
        let v = interpolate(window);
        let mut m = window[TAPS - 1 - DELAY].abs();
        for y in v {
            m = m.max(y.abs());
        }
        m
    }

    /// Largest true-peak magnitude in a block (including its samples).
    /// Chunks whose largest sample cannot produce anything above `floor`
    /// (given the filter's gain) skip the interpolation: the result is the
    /// same whenever the caller only needs a running maximum above `floor`.
    pub fn block_max(&mut self, block: &[f32], floor: f32) -> f32 {
        let mut best = 0f32;
        for chunk in block.chunks(CHUNK) {
            let n = chunk.len();
            let h = TAPS - 1;
            self.ext[h..h + n].copy_from_slice(chunk);
            let ext = &self.ext[..h + n];
            let peak = ext.iter().fold(0f32, |m, x| m.max(x.abs()));
            if peak * self.bound > floor.max(best) {
                for w in ext.windows(TAPS) {
                    let v = interpolate(w);
                    for y in v {
                        best = best.max(y.abs());
                    }
                }
            }
            best = best.max(chunk.iter().fold(0f32, |m, x| m.max(x.abs())));
            self.ext.copy_within(n..n + h, 0);
        }
        best
    }
}

/// Phases of the fine interpolator.
pub const FINE_PHASES: usize = 8;
/// Taps per phase of the fine interpolator.
pub const FINE_TAPS: usize = 24;
/// Samples between an input sample and the fine interpolator's points.
pub const FINE_DELAY: usize = FINE_TAPS / 2;

/// A finer peak detector than Annex 2 (8×, Kaiser-windowed sinc, 24 taps per
/// phase): it reads high-frequency content the short Annex 2 filter
/// under-reads, so the limiter can hold real inter-sample peaks closer to
/// the ceiling. Per-sample, allocation-free after construction.
#[derive(Clone)]
pub struct FinePeak {
    kernel: Box<[[f32; FINE_PHASES]; FINE_TAPS]>,
    ring: [f32; 2 * FINE_TAPS],
    pos: usize,
}

impl std::fmt::Debug for FinePeak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FinePeak").finish_non_exhaustive()
    }
}

impl Default for FinePeak {
    fn default() -> Self {
        Self::new()
    }
}

fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term) = (1.0, 1.0);
    for k in 1..50 {
        term *= (x / (2.0 * k as f64)).powi(2);
        sum += term;
    }
    sum
}

impl FinePeak {
    /// Designs the interpolator (allocates; build off the audio thread).
    pub fn new() -> Self {
        let len = FINE_PHASES * FINE_TAPS;
        let centre = (len - 1) as f64 / 2.0;
        let beta = 8.0;
        let mut kernel = Box::new([[0f32; FINE_PHASES]; FINE_TAPS]);
        for p in 0..FINE_PHASES {
            for t in 0..FINE_TAPS {
                let n = (t * FINE_PHASES + p) as f64;
                let d = (n - centre) / FINE_PHASES as f64;
                let sinc = if d == 0.0 {
                    1.0
                } else {
                    (std::f64::consts::PI * d).sin() / (std::f64::consts::PI * d)
                };
                let r = (n - centre) / (centre + 1.0);
                let w = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(beta);
                // Tap t weights x[n - t]; store oldest-first.
                kernel[FINE_TAPS - 1 - t][p] = (sinc * w) as f32;
            }
        }
        FinePeak {
            kernel,
            ring: [0.0; 2 * FINE_TAPS],
            pos: 0,
        }
    }

    /// Clears the history.
    pub fn reset(&mut self) {
        self.ring = [0.0; 2 * FINE_TAPS];
        self.pos = 0;
    }

    /// Feeds one sample; returns the largest interpolated magnitude between
    /// the samples `FINE_DELAY` and `FINE_DELAY - 1` back (and that sample).
    #[inline]
    pub fn push(&mut self, x: f32) -> f32 {
        self.ring[self.pos] = x;
        self.ring[self.pos + FINE_TAPS] = x;
        self.pos = (self.pos + 1) % FINE_TAPS;
        let window = &self.ring[self.pos..self.pos + FINE_TAPS];
        let mut acc = [0f32; FINE_PHASES];
        for (x, k) in window.iter().zip(self.kernel.iter()) {
            for p in 0..FINE_PHASES {
                acc[p] += k[p] * x;
            }
        }
        let mut m = window[FINE_TAPS - 1 - FINE_DELAY].abs();
        for y in acc {
            m = m.max(y.abs());
        }
        m
    }
}

/// Reference true peak by `factor`× band-limited (windowed-sinc, 128 taps)
/// oversampling, for tests that judge meters and the limiter against the real
/// signal. Only points whose whole reconstruction window lies inside `x` are
/// evaluated, so cutting a block out of a stream does not add false overs.
pub fn reference_peak(x: &[f32], factor: usize) -> f32 {
    let half = 64usize;
    let mut best = 0f32;
    if x.len() <= 2 * half {
        return best;
    }
    for n in half..x.len() - half {
        best = best.max(x[n].abs());
        for k in 1..factor {
            let t = n as f64 + k as f64 / factor as f64;
            let mut acc = 0.0f64;
            for (m, &v) in x.iter().enumerate().take(n + half + 1).skip(n + 1 - half) {
                let d = t - m as f64;
                let sinc = (std::f64::consts::PI * d).sin() / (std::f64::consts::PI * d);
                let win = 0.5 + 0.5 * (std::f64::consts::PI * d / half as f64).cos();
                acc += v as f64 * sinc * win;
            }
            best = best.max(acc.abs() as f32);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(fs: f32, f: f32, phase_deg: f32, amp: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                amp * (2.0 * std::f32::consts::PI * f * i as f32 / fs + phase_deg.to_radians())
                    .sin()
            })
            .collect()
    }

    #[test]
    fn block_and_sample_interfaces_agree() {
        let x = sine(48_000.0, 11_025.0, 45.0, 0.9, 5000);
        let mut a = TruePeak::new();
        let mut b = TruePeak::new();
        let block = a.block_max(&x, 0.0);
        let per_sample = x.iter().fold(0f32, |m, &v| m.max(b.push(v)));
        assert!((block - per_sample).abs() < 1e-6);
    }

    #[test]
    fn fine_detector_reads_sines_up_to_17_khz_within_005_db() {
        for f in [1000.0, 11_025.0, 17_000.0] {
            let x = sine(48_000.0, f, 33.0, 0.7, 4000);
            let mut fine = FinePeak::new();
            // Skip the abrupt start: a cut-off sine really overshoots there.
            let got = x
                .iter()
                .enumerate()
                .map(|(i, &v)| (i, fine.push(v)))
                .filter(|&(i, _)| i > 100)
                .fold(0f32, |m, (_, v)| m.max(v));
            let err = 20.0 * (got / 0.7).log10();
            assert!(err.abs() < 0.05, "{f} Hz: {err} dB");
        }
    }

    #[test]
    fn floor_skip_does_not_change_the_running_max() {
        let mut x = sine(48_000.0, 997.0, 0.0, 0.9, 48_000);
        x.extend(sine(48_000.0, 12_000.0, 45.0, 0.1, 48_000));
        let mut a = TruePeak::new();
        let mut b = TruePeak::new();
        let mut ra = 0f32;
        let mut rb = 0f32;
        for c in x.chunks(4800) {
            ra = ra.max(a.block_max(c, ra));
            rb = rb.max(b.block_max(c, 0.0));
        }
        assert_eq!(ra, rb);
    }
}
