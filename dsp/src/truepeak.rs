//! True peak, computed block-wise.
//!
//! [`TruePeak`] is the meter of ITU-R BS.1770-4 Annex 2: 4× oversampling with
//! the 48-tap interpolation filter the Recommendation gives, split into 4
//! phases. [`IntervalPeaks`] is what the limiter keeps under its ceiling: for
//! each interval between two samples, the largest of the sample, the four
//! Annex 2 points and 16 points of the band-limited signal, interpolated by a
//! 2 × 128-tap Kaiser-windowed sinc (β 10) — close to the ideal reconstruction
//! up to 0.485 fs, where short interpolators read broadband and near-Nyquist
//! content up to several dB low.
//!
//! Every interpolated point is a dot product with its taps in a fixed order.
//! Many points are computed side by side, so the compiler uses the vector
//! unit (AVX-512 or AVX2, with FMA, where the CPU has them, chosen at run
//! time; AVX-512 paths need Rust 1.89, see `build.rs`). The
//! BS.1770 sums are the same on every path, so meter and analysis readings
//! never depend on the machine; the limiter's readings use fused
//! multiply-adds where the CPU has them (one rounding less, 1e-7 apart).

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

/// A cheap upper bound for the Annex 2 points of a tile of
/// [`ANNEX2_LANES`] windows from the range of its samples: with every
/// sample in `lo..=hi`, a point lies between `lo·P − hi·N` and
/// `hi·P − lo·N` (P and N: the sums of a phase's positive and negative
/// taps). Programme changes little over a tile, so this is close to its
/// samples' peak, where the peak times the filter's whole gain (2.02) is
/// not.
struct TileBound {
    positive: [f32; PHASES],
    negative: [f32; PHASES],
}

const fn tile_bound() -> TileBound {
    // Rounded up a little, so the bound holds for f32 sums too.
    const UP: f32 = 1.001;
    let mut b = TileBound {
        positive: [0.0; PHASES],
        negative: [0.0; PHASES],
    };
    let mut p = 0;
    while p < PHASES {
        let mut k = 0;
        while k < TAPS {
            let h = KERNEL[k][p];
            if h > 0.0 {
                b.positive[p] += h * UP;
            } else {
                b.negative[p] -= h * UP;
            }
            k += 1;
        }
        p += 1;
    }
    b
}
const TILE_BOUND: TileBound = tile_bound();

impl TileBound {
    /// At least the largest magnitude among the points of the windows of
    /// `tile` (`ANNEX2_LANES + TAPS - 1` samples); NaN samples are skipped.
    #[inline(always)]
    fn tile(&self, tile: &[f32]) -> f32 {
        // The first and last ANNEX2_LANES samples (they overlap) cover it.
        let (first, last) = (&tile[..ANNEX2_LANES], &tile[tile.len() - ANNEX2_LANES..]);
        let (mut hi, mut lo) = ([f32::MIN; ANNEX2_LANES], [f32::MAX; ANNEX2_LANES]);
        for j in 0..ANNEX2_LANES {
            hi[j] = larger(larger(hi[j], first[j]), last[j]);
            lo[j] = smaller(smaller(lo[j], first[j]), last[j]);
        }
        // Halving, so the lanes reduce as vectors.
        let mut n = ANNEX2_LANES;
        while n > 1 {
            n /= 2;
            for j in 0..n {
                hi[j] = larger(hi[j], hi[j + n]);
                lo[j] = smaller(lo[j], lo[j + n]);
            }
        }
        let (hi, lo) = (hi[0], lo[0]);
        if !(hi.is_finite() && lo.is_finite()) {
            return f32::INFINITY;
        }
        let mut most = 0f32;
        for p in 0..PHASES {
            let (pos, neg) = (self.positive[p], self.negative[p]);
            most = most.max(hi * pos - lo * neg).max(hi * neg - lo * pos);
        }
        most * 1.001
    }
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

/// Points computed side by side (one vector lane each).
const LANES: usize = 64;
/// Windows whose four Annex 2 points are computed side by side: two AVX2
/// registers per phase, so all four phases' sums stay in registers.
const ANNEX2_LANES: usize = 16;

/// The larger of a running maximum `m` and `a`: `f32::max` in one
/// instruction per lane (a NaN `a` compares false and is skipped, as `max`
/// would skip it; `m` is never NaN).
#[inline(always)]
fn larger(m: f32, a: f32) -> f32 {
    if a > m { a } else { m }
}

/// The smaller of a running minimum `m` and `a`, as [`larger`].
#[inline(always)]
fn smaller(m: f32, a: f32) -> f32 {
    if a < m { a } else { m }
}

/// Largest magnitude in `x` (0 for an empty slice; NaN is ignored),
/// lane by lane so the compiler can use the vector unit.
#[inline(always)]
pub fn sample_peak(x: &[f32]) -> f32 {
    let mut lanes = [0f32; 16];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for (m, v) in lanes.iter_mut().zip(c) {
            *m = larger(*m, v.abs());
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(0f32, |m, v| larger(m, v.abs()));
    lanes.iter().fold(tail, |m, &v| larger(m, v))
}

/// The instruction set the block loops run with, chosen once per detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    Base,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(all(target_arch = "x86_64", rackd_avx512))]
    Avx512,
}

impl Isa {
    pub(crate) fn detect() -> Self {
        #[cfg(all(target_arch = "x86_64", rackd_avx512))]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("fma")
        {
            return Isa::Avx512;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Isa::Avx2;
        }
        Isa::Base
    }

    /// Every instruction set this CPU can run, for tests that compare them.
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Isa> {
        let mut v = vec![Isa::Base];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                v.push(Isa::Avx2);
            }
            #[cfg(rackd_avx512)]
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("fma")
            {
                v.push(Isa::Avx512);
            }
        }
        v
    }
}

/// `a · b + c`, fused into one rounding where `FUSED` (the CPU has FMA).
#[inline(always)]
fn madd<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FUSED { a.mul_add(b, c) } else { a * b + c }
}

/// Defines `fn name(isa, args) -> ret` that runs `body` compiled for the
/// instruction set `isa` names. In `body`, `FUSED` says whether products
/// and sums may be fused (AVX2 with FMA); sums that must be the same on
/// every machine use `madd::<false>`. `WIDE` says the vector registers are
/// wide and many (AVX-512): tiles twice as long keep them busy.
macro_rules! multiversion {
    ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$m])*
        fn $name(isa: Isa, $($arg: $ty),*) -> $ret {
            #[inline(always)]
            #[allow(unused)]
            fn imp<const FUSED: bool, const WIDE: bool>($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) -> $ret {
                imp::<true, false>($($arg),*)
            }
            #[cfg(all(target_arch = "x86_64", rackd_avx512))]
            #[target_feature(enable = "avx512f,avx2,fma")]
            unsafe fn avx512($($arg: $ty),*) -> $ret {
                imp::<true, true>($($arg),*)
            }
            match isa {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `Isa::Avx2` is only chosen when the CPU reports AVX2 and FMA.
                Isa::Avx2 => unsafe { avx2($($arg),*) },
                #[cfg(all(target_arch = "x86_64", rackd_avx512))]
                // SAFETY: `Isa::Avx512` is only chosen when the CPU reports AVX-512F and FMA.
                Isa::Avx512 => unsafe { avx512($($arg),*) },
                Isa::Base => imp::<false, false>($($arg),*),
            }
        }
    };
}

pub(crate) use multiversion;

multiversion! {
    /// Largest magnitude among the Annex 2 points of the `count` windows
    /// `ext[w..w + TAPS]`, `w < count`, leaving out tiles of windows that
    /// [`TileBound`] shows cannot reach above `floor`: in loud passages most
    /// tiles cannot beat the running maximum.
    fn annex2_max(ext: &[f32], count: usize, floor: f32) -> f32 {
        let mut lanes = [0f32; ANNEX2_LANES];
        let mut w = 0;
        while w + ANNEX2_LANES <= count {
            if TILE_BOUND.tile(&ext[w..w + ANNEX2_LANES + TAPS - 1]) <= floor {
                w += ANNEX2_LANES;
                continue;
            }
            // All four phases per tap: each window sample is loaded once.
            let mut acc = [[0f32; ANNEX2_LANES]; PHASES];
            for (k, taps) in KERNEL.iter().enumerate() {
                let xs = &ext[w + k..w + k + ANNEX2_LANES];
                for p in 0..PHASES {
                    for j in 0..ANNEX2_LANES {
                        acc[p][j] = madd::<false>(taps[p], xs[j], acc[p][j]);
                    }
                }
            }
            for a in &acc {
                for j in 0..ANNEX2_LANES {
                    lanes[j] = larger(lanes[j], a[j].abs());
                }
            }
            w += ANNEX2_LANES;
        }
        let mut best = lanes.iter().fold(0f32, |m, &v| m.max(v));
        for w in w..count {
            for y in interpolate(&ext[w..w + TAPS]) {
                best = best.max(y.abs());
            }
        }
        best
    }
}

/// Windows whose samples [`TruePeak::block_max`] tests at once before the
/// finer test of each tile.
const CHUNK: usize = 1024;

/// One channel's true-peak detector; keeps its filter history across blocks.
#[derive(Clone)]
pub struct TruePeak {
    /// The last TAPS-1 samples of the blocks so far, oldest first.
    history: [f32; TAPS - 1],
    /// Ring for the per-sample interface: each sample written twice so a
    /// contiguous window always exists.
    ring: [f32; 2 * TAPS],
    pos: usize,
    bound: f32,
    isa: Isa,
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
            history: [0.0; TAPS - 1],
            ring: [0.0; 2 * TAPS],
            pos: 0,
            // Rounded up a little: the bound must hold for f32 sums too.
            bound: kernel_gain() * 1.001,
            isa: Isa::detect(),
        }
    }

    /// Clears the history.
    pub fn reset(&mut self) {
        self.history = [0.0; TAPS - 1];
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
    /// Shares its history with [`TruePeak::push`] only through `reset`: use
    /// one interface per detector.
    pub fn block_max(&mut self, block: &[f32], floor: f32) -> f32 {
        const H: usize = TAPS - 1;
        let n = block.len();
        let mut best = sample_peak(block);
        // The first windows reach back into the history: it goes side by
        // side with the block's first samples; the other windows read the
        // block where it is (window w starts at block[w - H]).
        let lead = n.min(ANNEX2_LANES);
        let mut stitch = [0f32; ANNEX2_LANES + H];
        stitch[..H].copy_from_slice(&self.history);
        stitch[H..H + lead].copy_from_slice(&block[..lead]);
        best = best.max(self.windows_max(&stitch[..H + lead], floor.max(best)));
        let mut w = lead;
        while w < n {
            let end = (w + CHUNK).min(n);
            best = best.max(self.windows_max(&block[w - H..end], floor.max(best)));
            w = end;
        }
        if n >= H {
            self.history.copy_from_slice(&block[n - H..]);
        } else {
            self.history.copy_from_slice(&stitch[n..n + H]);
        }
        best
    }

    /// Largest Annex 2 point of the windows of `ext` (`TAPS - 1` samples
    /// more than windows) that can be above `floor`, else at most `floor`.
    fn windows_max(&self, ext: &[f32], floor: f32) -> f32 {
        if sample_peak(ext) * self.bound > floor {
            annex2_max(self.isa, ext, ext.len() + 1 - TAPS, floor)
        } else {
            0.0
        }
    }
}

/// Half-width of the band-limited interpolator, samples: it reads
/// `SINC_HALF` samples either side of an interval.
pub const SINC_HALF: usize = 128;
const SINC_BETA: f64 = 10.0;
/// Taps either side of the second stage, which interpolates the 2× signal.
const STAGE2_HALF: usize = 4;
const STAGE2_BETA: f64 = 6.0;
/// Points the second stage reads inside each half interval (1/8 … 7/8).
const STAGE2_POINTS: usize = 7;
/// A reading is for the interval that starts this many samples before the
/// newest sample: its points need samples that far ahead.
pub const PEAK_DELAY: usize = SINC_HALF + 2;
/// Samples before an interval that its points need.
const PEAK_BEHIND: usize = SINC_HALF + 1;
/// Samples kept from one chunk to the next.
const PEAK_HISTORY: usize = PEAK_DELAY + PEAK_BEHIND;
/// Largest chunk [`IntervalPeaks::process`] works on at once.
const PEAK_CHUNK: usize = 256;
/// Mid points an interval's second stage needs before its own (kept from
/// one chunk to the next) and after it.
const MID_BEFORE: usize = 2;
const MID_AFTER: usize = 2;

fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term) = (1.0, 1.0);
    for k in 1..50 {
        term *= (x / (2.0 * k as f64)).powi(2);
        sum += term;
    }
    sum
}

/// A Kaiser-windowed sinc of half-width `half` at distance `d` from its centre.
fn windowed_sinc(d: f64, half: usize, beta: f64) -> f64 {
    let sinc = if d == 0.0 {
        1.0
    } else {
        (std::f64::consts::PI * d).sin() / (std::f64::consts::PI * d)
    };
    let r = d / half as f64;
    sinc * bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(beta)
}

/// The taps of [`IntervalPeaks`].
#[derive(Clone)]
struct PeakTaps {
    /// Mid-point taps: the point half way between samples `m` and `m + 1`
    /// is `Σ mid[j] · (x[m - 127 + j] + x[m + 128 - j])` (the filter is
    /// symmetric, so each tap serves two samples).
    mid: [f32; SINC_HALF],
    /// Second stage, first half of an interval (from `x[m]` to the mid
    /// point): `even[p][j]` weights the 2× sample `j` of the window
    /// `mid[m-2], x[m-1], mid[m-1], x[m], mid[m], x[m+1], mid[m+1], x[m+2]`.
    even: [[f32; 2 * STAGE2_HALF]; STAGE2_POINTS],
    /// Second stage, second half (mid point to `x[m + 1]`), over
    /// `x[m-1], mid[m-1], x[m], mid[m], x[m+1], mid[m+1], x[m+2], mid[m+2]`:
    /// the same taps, as the 2× window starts one later.
    odd: [[f32; 2 * STAGE2_HALF]; STAGE2_POINTS],
    /// Largest sum of absolute second-stage taps: no second-stage point
    /// exceeds the largest 2× sample it weighs by more.
    stage2_gain: f32,
    /// The same for the Annex 2 phases.
    annex2_gain: f32,
}

impl PeakTaps {
    fn new() -> Self {
        let mut mid = [0f32; SINC_HALF];
        for (j, m) in mid.iter_mut().enumerate() {
            // Distance from m + 1/2 to sample m - 127 + j.
            let d = SINC_HALF as f64 - 0.5 - j as f64;
            *m = windowed_sinc(d, SINC_HALF, SINC_BETA) as f32;
        }
        let mut even = [[0f32; 2 * STAGE2_HALF]; STAGE2_POINTS];
        for (p, row) in even.iter_mut().enumerate() {
            let t = (p + 1) as f64 / (STAGE2_POINTS + 1) as f64;
            for (j, v) in row.iter_mut().enumerate() {
                // Distance (in 2× samples) from the point to window sample j,
                // the window starting 3 samples before the half interval.
                let d = t - (j as f64 - (STAGE2_HALF as f64 - 1.0));
                *v = windowed_sinc(d, STAGE2_HALF, STAGE2_BETA) as f32;
            }
        }
        let stage2_gain = even
            .iter()
            .map(|row| row.iter().map(|h| h.abs() as f64).sum::<f64>())
            .fold(0.0, f64::max);
        PeakTaps {
            mid,
            odd: even,
            even,
            // Rounded up a little: the bound must hold for f32 sums too.
            stage2_gain: (stage2_gain * 1.001) as f32,
            annex2_gain: kernel_gain() * 1.001,
        }
    }
}

/// `T` mid points from `u` on (see [`mid_points`]).
#[inline(always)]
fn mid_tile<const FUSED: bool, const T: usize>(
    taps: &[f32; SINC_HALF],
    ext: &[f32],
    mid: &mut [f32],
    u: usize,
) {
    // Fixed-size windows, so the tap loop needs no bounds checks.
    let a = &ext[u..u + SINC_HALF + T];
    let b = &ext[u + SINC_HALF..u + 2 * SINC_HALF + T];
    let mut acc = [0f32; T];
    for (j, &c) in taps.iter().enumerate() {
        let (a, b) = (&a[j..j + T], &b[SINC_HALF - 1 - j..SINC_HALF - 1 - j + T]);
        for l in 0..T {
            acc[l] = madd::<FUSED>(c, a[l] + b[l], acc[l]);
        }
    }
    mid[u..u + T].copy_from_slice(&acc);
}

multiversion! {
    /// Mid points `mid[u] = Σ taps[j] · (ext[u + j] + ext[u + 255 - j])` for
    /// `u < count` (rounded up to whole tiles; `mid` and `ext` leave room).
    fn mid_points(taps: &[f32; SINC_HALF], ext: &[f32], mid: &mut [f32], count: usize) -> () {
        let mut u = 0;
        if WIDE {
            while u + 2 * LANES <= count {
                mid_tile::<FUSED, { 2 * LANES }>(taps, ext, mid, u);
                u += 2 * LANES;
            }
        }
        while u < count {
            mid_tile::<FUSED, LANES>(taps, ext, mid, u);
            u += LANES;
        }
    }
}

multiversion! {
    /// Readings for intervals `i < count`: interval `i` starts at
    /// `ext[PEAK_BEHIND + i]` and its mid point is `mid[i + 2]`. A tile of
    /// intervals whose second-stage or Annex 2 points cannot exceed `floor`
    /// (by the taps' gain over the largest sample they weigh) skips them.
    fn interval_max(
        taps: &PeakTaps,
        ext: &[f32],
        mid: &[f32],
        out: &mut [f32],
        count: usize,
        floor: f32,
    ) -> () {
        let x0 = PEAK_BEHIND;
        let largest = sample_peak;
        let mut i = 0;
        while i < count {
            let mut best = [0f32; LANES];
            for l in 0..LANES {
                best[l] = larger(ext[x0 + i + l].abs(), mid[i + 2 + l].abs());
            }
            let z = largest(&ext[x0 - 1 + i..x0 + 2 + i + LANES])
                .max(largest(&mid[i..i + 4 + LANES]));
            for p in 0..STAGE2_POINTS {
                if z * taps.stage2_gain <= floor {
                    break;
                }
                let mut acc = [0f32; LANES];
                for (j, &c) in taps.even[p].iter().enumerate() {
                    // Even window slots are mid points, odd ones samples.
                    let src = if j % 2 == 0 {
                        &mid[i + j / 2..i + j / 2 + LANES]
                    } else {
                        &ext[x0 - 1 + i + j / 2..x0 - 1 + i + j / 2 + LANES]
                    };
                    for l in 0..LANES {
                        acc[l] = madd::<FUSED>(c, src[l], acc[l]);
                    }
                }
                for l in 0..LANES {
                    best[l] = larger(best[l], acc[l].abs());
                }
                let mut acc = [0f32; LANES];
                for (j, &c) in taps.odd[p].iter().enumerate() {
                    let src = if j % 2 == 0 {
                        &ext[x0 - 1 + i + j / 2..x0 - 1 + i + j / 2 + LANES]
                    } else {
                        &mid[i + 1 + j / 2..i + 1 + j / 2 + LANES]
                    };
                    for l in 0..LANES {
                        acc[l] = madd::<FUSED>(c, src[l], acc[l]);
                    }
                }
                for l in 0..LANES {
                    best[l] = larger(best[l], acc[l].abs());
                }
            }
            // The BS.1770 Annex 2 points of the same interval: window
            // x[m - 5 ..= m + 6].
            if largest(&ext[x0 - 5 + i..x0 + 6 + i + LANES]) * taps.annex2_gain > floor {
                for p in 0..PHASES {
                    let mut acc = [0f32; LANES];
                    for (k, row) in KERNEL.iter().enumerate() {
                        let c = row[p];
                        let xs = &ext[x0 - 5 + i + k..x0 - 5 + i + k + LANES];
                        for l in 0..LANES {
                            acc[l] = madd::<FUSED>(c, xs[l], acc[l]);
                        }
                    }
                    for l in 0..LANES {
                        best[l] = larger(best[l], acc[l].abs());
                    }
                }
            }
            let n = LANES.min(count - i);
            out[i..i + n].copy_from_slice(&best[..n]);
            i += LANES;
        }
    }
}

/// Per-interval peaks of one channel for the limiter: for the interval
/// starting [`PEAK_DELAY`] samples before each new sample, the largest of
/// that sample, the four BS.1770 Annex 2 points and 16 band-limited points
/// (a 256-tap windowed sinc to the 2× mid point, then 8 points per half
/// interval from the 2× signal). Allocation-free after construction.
#[derive(Clone)]
pub struct IntervalPeaks {
    taps: Box<PeakTaps>,
    /// Oldest-first: `PEAK_HISTORY` samples, then the current chunk, then room
    /// for whole tiles.
    ext: Box<[f32]>,
    mid: Box<[f32]>,
    isa: Isa,
}

impl std::fmt::Debug for IntervalPeaks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntervalPeaks").finish_non_exhaustive()
    }
}

impl Default for IntervalPeaks {
    fn default() -> Self {
        Self::new()
    }
}

impl IntervalPeaks {
    /// A detector with silent history (allocates; build off the audio thread).
    pub fn new() -> Self {
        let tiles = PEAK_CHUNK.div_ceil(LANES) + 1;
        IntervalPeaks {
            taps: Box::new(PeakTaps::new()),
            ext: vec![0.0; PEAK_HISTORY + tiles * LANES + 2 * SINC_HALF].into_boxed_slice(),
            mid: vec![0.0; (tiles + 1) * LANES].into_boxed_slice(),
            isa: Isa::detect(),
        }
    }

    /// Clears the history.
    pub fn reset(&mut self) {
        self.ext.fill(0.0);
        self.mid.fill(0.0);
    }

    /// Feeds `input`; `out[i]` becomes the reading of the interval starting
    /// [`PEAK_DELAY`] samples before `input[i]`. `out` is as long as `input`.
    /// Readings above `floor` are exact; the others are only known to be at
    /// most `floor` (0 reads everything exactly).
    pub fn process(&mut self, input: &[f32], out: &mut [f32], floor: f32) {
        let taps = &*self.taps;
        let kept = MID_BEFORE + MID_AFTER;
        for (x, o) in input.chunks(PEAK_CHUNK).zip(out.chunks_mut(PEAK_CHUNK)) {
            let n = x.len();
            self.ext[PEAK_HISTORY..PEAK_HISTORY + n].copy_from_slice(x);
            // Interval i needs the mid points i .. i + 4; the first four are
            // the previous chunk's last.
            mid_points(
                self.isa,
                &taps.mid,
                &self.ext[kept..],
                &mut self.mid[kept..],
                n,
            );
            interval_max(self.isa, taps, &self.ext, &self.mid, o, n, floor);
            self.ext.copy_within(n..n + PEAK_HISTORY, 0);
            self.mid.copy_within(n..n + kept, 0);
        }
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

    fn readings(d: &mut IntervalPeaks, x: &[f32], piece: usize) -> Vec<f32> {
        let mut out = vec![0f32; x.len()];
        for (xi, o) in x.chunks(piece).zip(out.chunks_mut(piece)) {
            d.process(xi, o, 0.0);
        }
        out
    }

    #[test]
    fn interval_peaks_read_sines_up_to_045_fs_within_001_db() {
        // Peaks in closed form: a sine's amplitude, whatever its phase.
        for f in [0.02, 0.23, 0.25, 0.31, 0.4, 0.45] {
            let x: Vec<f32> = (0..6000)
                .map(|i| (0.7 * (2.0 * std::f64::consts::PI * f * i as f64 + 0.6).sin()) as f32)
                .collect();
            let out = readings(&mut IntervalPeaks::new(), &x, 100);
            // Skip the cut-off start, where the sine really overshoots.
            let got = out[1000..].iter().fold(0f32, |m, &v| m.max(v));
            // The Annex 2 points are in the reading too, and that filter
            // reads some frequencies a little high.
            let mut annex2 = TruePeak::new();
            annex2.block_max(&x[..1000 - PEAK_DELAY], 0.0);
            let want = annex2.block_max(&x[1000 - PEAK_DELAY..], 0.0).max(0.7);
            let err = 20.0 * (got / want).log10();
            assert!(err.abs() < 0.01, "{f} fs: {err} dB");
        }
    }

    #[test]
    fn interval_peaks_are_aligned_and_block_size_free() {
        let mut x = vec![0f32; 3000];
        x[1000] = 0.5;
        let out = readings(&mut IntervalPeaks::new(), &x, 64);
        // The interval starting at the impulse is read PEAK_DELAY later.
        assert_eq!(out[1000 + PEAK_DELAY], 0.5);
        assert!(out[999 + PEAK_DELAY] < 0.5);
        let noise: Vec<f32> = (0..5000u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) >> 8) as f32 / (1 << 24) as f32) - 0.5)
            .collect();
        let a = readings(&mut IntervalPeaks::new(), &noise, 256);
        for piece in [1, 7, 64, 100, 255, 1000] {
            assert_eq!(
                readings(&mut IntervalPeaks::new(), &noise, piece),
                a,
                "{piece}"
            );
        }
    }

    #[test]
    fn readings_above_the_floor_are_exact_and_the_rest_stay_below_it() {
        // Sections at levels around the floor, so some tiles skip and others not.
        let x: Vec<f32> = (0..20_000u32)
            .map(|i| {
                let level = [0.05, 0.9, 0.3, 0.6, 0.02][(i / 1500) as usize % 5];
                let v = ((i.wrapping_mul(2_654_435_761) >> 8) as f32 / (1 << 24) as f32) - 0.5;
                level * 2.0 * v
            })
            .collect();
        let exact = readings(&mut IntervalPeaks::new(), &x, 256);
        let floor = 0.5;
        let mut d = IntervalPeaks::new();
        let mut skipped = vec![0f32; x.len()];
        for (xi, o) in x.chunks(200).zip(skipped.chunks_mut(200)) {
            d.process(xi, o, floor);
        }
        let mut differ = 0;
        for (i, (&e, &s)) in exact.iter().zip(&skipped).enumerate() {
            if e > floor {
                assert_eq!(e, s, "interval {i}");
            } else {
                assert!(s <= floor, "interval {i}: {s}");
                differ += (e != s) as usize;
            }
        }
        assert!(differ > 1000, "the floor skipped work: {differ}");
    }

    #[test]
    fn instruction_sets_agree() {
        let noise: Vec<f32> = (0..3000u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) >> 8) as f32 / (1 << 24) as f32) - 0.5)
            .collect();
        let isas = Isa::available();
        // BS.1770 readings: the same sums, bit for bit, on every path.
        for &isa in &isas {
            let want = annex2_max(Isa::Base, &noise, noise.len() - TAPS, 0.0);
            let got = annex2_max(isa, &noise, noise.len() - TAPS, 0.0);
            assert_eq!(got.to_bits(), want.to_bits(), "{isa:?}");
        }
        // The limiter's readings: fused multiply-adds round once less.
        let read = |isa| {
            let mut d = IntervalPeaks::new();
            d.isa = isa;
            readings(&mut d, &noise, 256)
        };
        let want = read(Isa::Base);
        for &isa in &isas {
            for (a, b) in read(isa).iter().zip(&want) {
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs().max(1e-3),
                    "{isa:?}: {a} vs {b}"
                );
            }
        }
    }

    /// Programme-like and adversarial signals from a seed: noise at a
    /// random level over a slow sine, spikes, and runs whose signs follow a
    /// phase's taps (the largest overshoot the filter can make).
    fn awkward(seed: u64, n: usize) -> Vec<f32> {
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        let level = next();
        let mut x: Vec<f32> = (0..n)
            .map(|i| 0.5 * (i as f32 * 0.01).sin() + level * (next() - 0.5))
            .collect();
        for _ in 0..n / 200 {
            let at = (next() * n as f32) as usize % n;
            match (next() * 3.0) as u32 {
                0 => x[at] = 2.0 * next() - 1.0,
                1 => {
                    let p = (next() * PHASES as f32) as usize % PHASES;
                    for (k, taps) in KERNEL.iter().enumerate() {
                        if let Some(v) = x.get_mut(at + k) {
                            *v = taps[p].signum() * 0.9;
                        }
                    }
                }
                _ => {
                    for v in x.iter_mut().skip(at).take(40) {
                        *v = 1.0;
                    }
                }
            }
        }
        x
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn tile_bound_holds_for_every_point(seed in 1u64..u64::MAX) {
            let x = awkward(seed, 4000);
            for tile in x.windows(ANNEX2_LANES + TAPS - 1).step_by(3) {
                let bound = TILE_BOUND.tile(tile);
                for w in 0..ANNEX2_LANES {
                    for y in interpolate(&tile[w..w + TAPS]) {
                        proptest::prop_assert!(y.abs() <= bound, "{} > {}", y.abs(), bound);
                    }
                }
            }
        }

        #[test]
        fn block_max_is_the_per_sample_max_whatever_the_blocks_and_floor(
            seed in 1u64..u64::MAX,
            sizes in proptest::collection::vec(
                proptest::prop_oneof![1usize..20, 1usize..1500], 1..12),
        ) {
            let x = awkward(seed, 6000);
            let mut per_sample = TruePeak::new();
            let want = x.iter().fold(sample_peak(&x), |m, &v| m.max(per_sample.push(v)));
            // The last DELAY samples' points need samples after the end.
            let mut tail = TruePeak::new();
            for &v in &x {
                tail.push(v);
            }
            let mut flush = 0f32;
            for _ in 0..TAPS {
                flush = flush.max(tail.push(0.0));
            }
            let (mut running, mut unfloored) = (TruePeak::new(), TruePeak::new());
            let (mut a, mut b) = (0f32, 0f32);
            let mut at = 0;
            for &size in sizes.iter().cycle() {
                if at == x.len() {
                    break;
                }
                let block = &x[at..(at + size).min(x.len())];
                a = a.max(running.block_max(block, a));
                b = b.max(unfloored.block_max(block, 0.0));
                at += block.len();
            }
            let (a_end, b_end) = (a.max(running.block_max(&[0.0; TAPS], a)), b.max(unfloored.block_max(&[0.0; TAPS], 0.0)));
            proptest::prop_assert_eq!(a.to_bits(), b.to_bits());
            proptest::prop_assert_eq!(a.to_bits(), want.to_bits());
            proptest::prop_assert_eq!(a_end.to_bits(), want.max(flush).to_bits());
            proptest::prop_assert_eq!(b_end.to_bits(), a_end.to_bits());
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
