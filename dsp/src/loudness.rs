//! BS.1770-4 / EBU R128 loudness: K-weighting, momentary (400 ms), short-term
//! (3 s), integrated with the absolute and relative gates, and loudness range
//! per EBU Tech 3342 (3 s blocks every second, as libebur128 measures it).
//!
//! Energies are collected in 10 ms steps so momentary and short-term can be
//! read at a fine hop (EBU Tech 3341 asks for it); gating blocks follow every
//! 100 ms exactly as BS.1770 defines them, aligned to the start of the stream.

use crate::biquad::Coeffs;
use crate::truepeak::{Isa, multiversion};

/// Most channels a loudness meter accepts (7.1).
pub const MAX_CHANNELS: usize = 8;
/// Absolute gate, LUFS.
pub const ABSOLUTE_GATE: f64 = -70.0;

/// Loudness in LUFS of a mean-square energy (−inf for silence).
#[inline]
pub fn energy_to_lufs(e: f64) -> f64 {
    if e <= 0.0 {
        f64::NEG_INFINITY
    } else {
        -0.691 + 10.0 * e.log10()
    }
}

/// Mean-square energy of a loudness in LUFS.
#[inline]
pub fn lufs_to_energy(l: f64) -> f64 {
    10f64.powf((l + 0.691) / 10.0)
}

/// The two K-weighting stages (shelf, then RLB high pass) for any sample rate,
/// derived from the analog prototype as libebur128 does.
pub fn k_weighting(sample_rate: f64) -> [Coeffs; 2] {
    let f0 = 1_681.974_450_955_533;
    let g = 3.999_843_853_973_347;
    let q = 0.707_175_236_955_419_6;
    let k = (std::f64::consts::PI * f0 / sample_rate).tan();
    let vh = 10f64.powf(g / 20.0);
    let vb = vh.powf(0.499_666_774_154_541_6);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Coeffs {
        b0: (vh + vb * k / q + k * k) / a0,
        b1: 2.0 * (k * k - vh) / a0,
        b2: (vh - vb * k / q + k * k) / a0,
        a1: 2.0 * (k * k - 1.0) / a0,
        a2: (1.0 - k / q + k * k) / a0,
    };
    let f0 = 38.135_470_876_024_44;
    let q = 0.500_327_037_323_877_3;
    let k = (std::f64::consts::PI * f0 / sample_rate).tan();
    let a0 = 1.0 + k / q + k * k;
    let highpass = Coeffs {
        b0: 1.0,
        b1: -2.0,
        b2: 1.0,
        a1: 2.0 * (k * k - 1.0) / a0,
        a2: (1.0 - k / q + k * k) / a0,
    };
    [shelf, highpass]
}

/// BS.1770 channel weight: surrounds count 1.41, LFE not at all (5.0 and 5.1 layouts).
pub fn channel_weight(index: usize, channels: usize) -> f64 {
    match (channels, index) {
        (5, 3) | (5, 4) => 1.41,
        (6, 3) => 0.0,
        (6, 4) | (6, 5) => 1.41,
        _ => 1.0,
    }
}

const HIST_MIN: f64 = -70.0;
const HIST_STEP: f64 = 0.01;
const HIST_BINS: usize = 10_000;

/// Where gating blocks are kept: every block (offline, exact) or a fine
/// histogram of counts and summed energies (live: fixed memory, no allocation).
#[derive(Debug, Clone)]
pub enum GateStore {
    /// Every block's energy; exact, grows with the programme.
    Exact(Vec<f64>),
    /// Counts and energy sums per 0.01 LU bin from −70 to +30 LUFS.
    Histogram {
        count: Box<[u64]>,
        energy: Box<[f64]>,
    },
}

impl GateStore {
    /// An exact store (offline analysis).
    pub fn exact() -> Self {
        GateStore::Exact(Vec::new())
    }

    /// A histogram store (live meters).
    pub fn histogram() -> Self {
        GateStore::Histogram {
            count: vec![0; HIST_BINS].into_boxed_slice(),
            energy: vec![0.0; HIST_BINS].into_boxed_slice(),
        }
    }

    fn bin(l: f64) -> usize {
        (((l - HIST_MIN) / HIST_STEP) as usize).min(HIST_BINS - 1)
    }

    /// Adds a block above the absolute gate.
    fn push(&mut self, e: f64) {
        if energy_to_lufs(e) < ABSOLUTE_GATE {
            return;
        }
        match self {
            GateStore::Exact(v) => v.push(e),
            GateStore::Histogram { count, energy } => {
                let b = Self::bin(energy_to_lufs(e));
                count[b] += 1;
                energy[b] += e;
            }
        }
    }

    /// Forgets every block.
    pub fn clear(&mut self) {
        match self {
            GateStore::Exact(v) => v.clear(),
            GateStore::Histogram { count, energy } => {
                count.fill(0);
                energy.fill(0.0);
            }
        }
    }

    /// Number of blocks and their summed energy at or above energy `gate`.
    fn sum_above(&self, gate: f64) -> (u64, f64) {
        match self {
            GateStore::Exact(v) => v
                .iter()
                .filter(|&&e| e >= gate)
                .fold((0, 0.0), |(n, s), &e| (n + 1, s + e)),
            GateStore::Histogram { count, energy } => {
                let first = if gate <= 0.0 {
                    0
                } else {
                    let l = energy_to_lufs(gate);
                    // Bins whose centre reaches the gate.
                    (((l - HIST_MIN) / HIST_STEP - 0.5).ceil().max(0.0)) as usize
                };
                let mut n = 0;
                let mut s = 0.0;
                for b in first.min(HIST_BINS)..HIST_BINS {
                    n += count[b];
                    s += energy[b];
                }
                (n, s)
            }
        }
    }

    /// Gated loudness: mean of blocks above `relative` LU below the
    /// absolute-gated mean (−10 for integrated loudness).
    pub fn gated_mean(&self, relative: f64) -> f64 {
        let (n, s) = self.sum_above(0.0);
        if n == 0 {
            return f64::NEG_INFINITY;
        }
        let gate = lufs_to_energy(energy_to_lufs(s / n as f64) + relative);
        let (n, s) = self.sum_above(gate);
        if n == 0 {
            f64::NEG_INFINITY
        } else {
            energy_to_lufs(s / n as f64)
        }
    }

    /// Loudness range per EBU Tech 3342: 95th minus 10th percentile of the
    /// short-term blocks above −70 LUFS and −20 LU relative.
    pub fn range(&mut self) -> f64 {
        let (n, s) = self.sum_above(0.0);
        if n == 0 {
            return 0.0;
        }
        let gate = lufs_to_energy(energy_to_lufs(s / n as f64) - 20.0);
        match self {
            GateStore::Exact(v) => {
                let mut g: Vec<f64> = v.iter().copied().filter(|&e| e >= gate).collect();
                if g.is_empty() {
                    return 0.0;
                }
                g.sort_by(f64::total_cmp);
                let at = |p: f64| g[((g.len() - 1) as f64 * p + 0.5) as usize];
                energy_to_lufs(at(0.95)) - energy_to_lufs(at(0.10))
            }
            GateStore::Histogram { count, energy } => {
                let lg = energy_to_lufs(gate);
                let first = (((lg - HIST_MIN) / HIST_STEP - 0.5).ceil().max(0.0)) as usize;
                let total: u64 = count[first.min(HIST_BINS)..].iter().sum();
                if total == 0 {
                    return 0.0;
                }
                let pick = |p: f64| {
                    let want = ((total - 1) as f64 * p + 0.5) as u64;
                    let mut seen = 0;
                    for b in first..HIST_BINS {
                        seen += count[b];
                        if seen > want {
                            return energy_to_lufs(energy[b] / count[b] as f64);
                        }
                    }
                    f64::NEG_INFINITY
                };
                pick(0.95) - pick(0.10)
            }
        }
    }
}

/// One channel's K-weighting state: both sections in direct form I, whose
/// output depends on the previous output through one multiply and one
/// subtraction, so consecutive samples overlap more than in transposed form.
#[derive(Debug, Clone, Copy, Default)]
struct KState {
    /// Inputs x[n-1], x[n-2].
    x: [f64; 2],
    /// Shelf outputs (the high pass's inputs) y[n-1], y[n-2].
    y: [f64; 2],
    /// High-pass outputs w[n-1], w[n-2].
    w: [f64; 2],
}

impl KState {
    /// Clears tiny or non-finite state (so silence never runs on denormals
    /// and one bad sample cannot ring forever); true if it was non-finite.
    fn flush(&mut self) -> bool {
        let mut bad = false;
        for v in self.x.iter_mut().chain(&mut self.y).chain(&mut self.w) {
            bad |= !v.is_finite();
            if !v.is_finite() || v.abs() < 1e-25 {
                *v = 0.0;
            }
        }
        if bad {
            *self = KState::default();
        }
        bad
    }
}

/// Frames K-weighted per pass of [`k_weight`].
const K_PIECE: usize = 256;

/// K-weights `N` channels side by side over equally long slices and adds
/// each one's sum of squares to `acc` (non-finite samples count as 0). With
/// `FOLD` (two channels), `fold` also gets the sum of squares of
/// `gain · (left + right)`, weighted: K-weighting is linear, so that is the
/// fold-down's own weighted signal (to rounding) without filtering it again.
///
/// Piece by piece, the shelf first, then the high pass and the sums: each
/// loop keeps its few values in registers and waits on one short chain (a
/// multiply and a subtraction per sample), where one loop doing both
/// stages spilled its sums to memory. Every value is computed by the same
/// operations in the same order as sample by sample, so the readings are
/// the same to the bit.
#[inline(always)]
fn k_weight<const N: usize, const FOLD: bool>(
    k: &[Coeffs; 2],
    states: &mut [KState; N],
    input: [&[f32]; N],
    acc: &mut [f64; N],
    fold: (&mut f64, f64),
) {
    let [s, h] = k;
    let len = input.iter().map(|c| c.len()).min().unwrap_or(0);
    let mut sum = [0f64; N];
    let (fold_acc, gain) = fold;
    let mut folded = 0f64;
    let mut shelf = [[0f64; N]; K_PIECE];
    let mut start = 0;
    while start < len {
        let n = K_PIECE.min(len - start);
        // The shelf: x → y.
        let (mut x1, mut x2, mut y1, mut y2) = ([0f64; N], [0f64; N], [0f64; N], [0f64; N]);
        for c in 0..N {
            [x1[c], x2[c]] = states[c].x;
            [y1[c], y2[c]] = states[c].y;
        }
        for (i, out) in shelf[..n].iter_mut().enumerate() {
            for c in 0..N {
                let v = input[c][start + i];
                let v = if v.is_finite() { v as f64 } else { 0.0 };
                let o = (s.b0 * v + s.b1 * x1[c] + s.b2 * x2[c] - s.a2 * y2[c]) - s.a1 * y1[c];
                (x2[c], x1[c]) = (x1[c], v);
                (y2[c], y1[c]) = (y1[c], o);
                out[c] = o;
            }
        }
        // The high pass: y → w, and the sums.
        let (mut w1, mut w2) = ([0f64; N], [0f64; N]);
        let (mut p1, mut p2) = ([0f64; N], [0f64; N]);
        for c in 0..N {
            [w1[c], w2[c]] = states[c].w;
            // The high pass reads the shelf's outputs from before the piece.
            [p1[c], p2[c]] = states[c].y;
        }
        for v in &shelf[..n] {
            let mut out = [0f64; N];
            for c in 0..N {
                let o = (h.b0 * v[c] + h.b1 * p1[c] + h.b2 * p2[c] - h.a2 * w2[c]) - h.a1 * w1[c];
                (p2[c], p1[c]) = (p1[c], v[c]);
                (w2[c], w1[c]) = (w1[c], o);
                sum[c] += o * o;
                out[c] = o;
            }
            if FOLD {
                let m = gain * (out[0] + out[N - 1]);
                folded += m * m;
            }
        }
        for c in 0..N {
            states[c] = KState {
                x: [x1[c], x2[c]],
                y: [y1[c], y2[c]],
                w: [w1[c], w2[c]],
            };
        }
        start += n;
    }
    *fold_acc += folded;
    for c in 0..N {
        acc[c] += sum[c];
    }
}

/// How many samples the high pass runs behind the shelf in [`k_weight_pair`]:
/// enough that a shelf output has long been computed when the high pass
/// takes it, so only each stage's own feedback chain sets the pace.
const LAG: usize = 3;

/// One direct-form-I step on `L` lanes, each with its own coefficients and
/// history; the operations and their order are [`k_weight`]'s.
#[inline(always)]
fn df1_step<const L: usize>(c: &[[f64; L]; 5], v: [f64; L], h: &mut [[f64; L]; 4]) -> [f64; L] {
    let [b0, b1, b2, a1, a2] = c;
    let [x1, x2, y1, y2] = h;
    let mut o = [0f64; L];
    for l in 0..L {
        o[l] = (b0[l] * v[l] + b1[l] * x1[l] + b2[l] * x2[l] - a2[l] * y2[l]) - a1[l] * y1[l];
        (x2[l], x1[l]) = (x1[l], v[l]);
        (y2[l], y1[l]) = (y1[l], o[l]);
    }
    o
}

/// [`k_weight`] for a pair of channels with both stages in one loop, side
/// by side as four lanes (shelf L, shelf R, high pass L, high pass R), the
/// high pass [`LAG`] samples behind: one short feedback chain per sample
/// instead of one per stage. The same operations in the same order on
/// every value, so the readings are the same to the bit.
#[inline(always)]
fn k_weight_pair<const FOLD: bool>(
    k: &[Coeffs; 2],
    states: &mut [KState; 2],
    input: [&[f32]; 2],
    acc: &mut [f64; 2],
    fold: (&mut f64, f64),
) {
    let len = input[0].len().min(input[1].len());
    if len < 2 * LAG {
        return k_weight::<2, FOLD>(k, states, input, acc, fold);
    }
    let [s, h] = k;
    let lanes = |f: fn(&Coeffs) -> f64| [f(s), f(s), f(h), f(h)];
    let c4 = [
        lanes(|c| c.b0),
        lanes(|c| c.b1),
        lanes(|c| c.b2),
        lanes(|c| c.a1),
        lanes(|c| c.a2),
    ];
    let two = |c: &[f64; 4], at: usize| [c[at], c[at + 1]];
    let shelf_c = c4.map(|c| two(&c, 0));
    let high_c = c4.map(|c| two(&c, 2));
    let [a, b] = *states;
    let sample = |i: usize| {
        let v = |x: f32| if x.is_finite() { x as f64 } else { 0.0 };
        [v(input[0][i]), v(input[1][i])]
    };
    // The shelf alone for the first LAG samples.
    let mut shelf = [
        [a.x[0], b.x[0]],
        [a.x[1], b.x[1]],
        [a.y[0], b.y[0]],
        [a.y[1], b.y[1]],
    ];
    let mut ahead = [[0f64; 2]; LAG];
    for (i, o) in ahead.iter_mut().enumerate() {
        *o = df1_step(&shelf_c, sample(i), &mut shelf);
    }
    // Both stages: the high pass reads the shelf's inputs from before the call.
    let mut hist = [[0f64; 4]; 4];
    for l in 0..2 {
        for (j, row) in hist.iter_mut().enumerate() {
            row[l] = shelf[j][l];
        }
        let st = [a, b][l];
        hist[0][2 + l] = st.y[0];
        hist[1][2 + l] = st.y[1];
        hist[2][2 + l] = st.w[0];
        hist[3][2 + l] = st.w[1];
    }
    let (mut sum, mut folded) = ([0f64; 2], 0f64);
    let (fold_acc, gain) = fold;
    let mut add = |o: [f64; 2]| {
        for c in 0..2 {
            sum[c] += o[c] * o[c];
        }
        if FOLD {
            let m = gain * (o[0] + o[1]);
            folded += m * m;
        }
    };
    let mut oldest = 0;
    for i in LAG..len {
        let [l, r] = sample(i);
        let [p, q] = ahead[oldest];
        let o = df1_step(&c4, [l, r, p, q], &mut hist);
        ahead[oldest] = [o[0], o[1]];
        oldest = (oldest + 1) % LAG;
        add([o[2], o[3]]);
    }
    // The high pass alone for the last LAG shelf outputs.
    let mut high = [
        two(&hist[0], 2),
        two(&hist[1], 2),
        two(&hist[2], 2),
        two(&hist[3], 2),
    ];
    for j in 0..LAG {
        let o = df1_step(&high_c, ahead[(oldest + j) % LAG], &mut high);
        add(o);
    }
    for c in 0..2 {
        states[c] = KState {
            x: [hist[0][c], hist[1][c]],
            y: [hist[2][c], hist[3][c]],
            w: [high[2][c], high[3][c]],
        };
    }
    *fold_acc += folded;
    for c in 0..2 {
        acc[c] += sum[c];
    }
}

multiversion! {
    /// [`k_weight_pair`] on the vector unit `isa` picks (the same sums on all).
    fn k_weight_pair_on(
        k: &[Coeffs; 2],
        states: &mut [KState; 2],
        input: [&[f32]; 2],
        acc: &mut [f64; 2],
        fold: Option<(&mut f64, f64)>,
    ) -> () {
        match fold {
            Some(fold) => k_weight_pair::<true>(k, states, input, acc, fold),
            None => k_weight_pair::<false>(k, states, input, acc, (&mut 0.0, 0.0)),
        }
    }
}

/// Sub-blocks (10 ms each) in the short-term window.
const SUBS_S: usize = 300;
/// Sub-blocks in the momentary window.
const SUBS_M: usize = 40;
/// Sub-blocks between short-term blocks for the loudness range: 1 s, i.e.
/// 3 s windows overlapping by 2 s, as libebur128 and the `ebur128` crate do.
const LRA_HOP: u64 = 100;

/// A BS.1770 loudness meter for up to [`MAX_CHANNELS`] planar channels.
/// `process` never allocates when built with [`GateStore::histogram`].
#[derive(Debug, Clone)]
pub struct Loudness {
    channels: usize,
    weights: [f64; MAX_CHANNELS],
    k: [Coeffs; 2],
    filters: [KState; MAX_CHANNELS],
    /// The vector unit the K-weighting runs on.
    isa: Isa,
    sub_len: usize,
    sub_pos: usize,
    sub_acc: [f64; MAX_CHANNELS],
    ring: [f64; SUBS_S],
    subs: u64,
    momentary: f64,
    short_term: f64,
    max_momentary: f64,
    max_short_term: f64,
    integrated: GateStore,
    range: GateStore,
    /// Steps between recorded readings (0: none; see [`Loudness::record_every`]).
    record_every: u64,
    recorded: Vec<[f64; 2]>,
}

impl Loudness {
    /// A meter for `channels` channels at `sample_rate`, with the given stores
    /// for the integrated (`gates`) and range (`range`) blocks.
    pub fn new(sample_rate: f64, channels: usize, gates: GateStore, range: GateStore) -> Self {
        let channels = channels.clamp(1, MAX_CHANNELS);
        let k = k_weighting(sample_rate);
        let mut weights = [0.0; MAX_CHANNELS];
        for (i, w) in weights.iter_mut().enumerate().take(channels) {
            *w = channel_weight(i, channels);
        }
        Loudness {
            channels,
            weights,
            k,
            filters: [KState::default(); MAX_CHANNELS],
            isa: Isa::detect(),
            sub_len: ((sample_rate + 50.0) / 100.0) as usize,
            sub_pos: 0,
            sub_acc: [0.0; MAX_CHANNELS],
            ring: [0.0; SUBS_S],
            subs: 0,
            momentary: 0.0,
            short_term: 0.0,
            max_momentary: 0.0,
            max_short_term: 0.0,
            integrated: gates,
            range,
            record_every: 0,
            recorded: Vec::new(),
        }
    }

    /// An offline meter with exact gating.
    pub fn exact(sample_rate: f64, channels: usize) -> Self {
        Self::new(
            sample_rate,
            channels,
            GateStore::exact(),
            GateStore::exact(),
        )
    }

    /// A live meter: fixed memory, allocation-free processing.
    pub fn live(sample_rate: f64, channels: usize) -> Self {
        Self::new(
            sample_rate,
            channels,
            GateStore::histogram(),
            GateStore::histogram(),
        )
    }

    /// Number of channels measured.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Clears all state and measurements.
    pub fn reset(&mut self) {
        self.filters = [KState::default(); MAX_CHANNELS];
        self.sub_pos = 0;
        self.sub_acc = [0.0; MAX_CHANNELS];
        self.ring = [0.0; SUBS_S];
        self.subs = 0;
        self.momentary = 0.0;
        self.short_term = 0.0;
        self.max_momentary = 0.0;
        self.max_short_term = 0.0;
        self.integrated.clear();
        self.range.clear();
        self.recorded.clear();
    }

    /// Feeds planar audio: `input[ch]` are equally long channel slices.
    /// Non-finite samples count as silence. Returns true when a non-finite
    /// sample or filter state had to be cleared.
    pub fn process(&mut self, input: &[&[f32]]) -> bool {
        self.process_folding(input, None)
    }

    /// [`Loudness::process`] for a stereo meter that also feeds `fold`, a
    /// one-channel meter of the fold-down `gain · (L + R)`, from the same
    /// K-weighted samples (so the fold-down costs no filtering of its own).
    /// `fold` must have seen exactly the frames this meter has.
    pub fn process_with_fold(
        &mut self,
        input: [&[f32]; 2],
        fold: &mut Loudness,
        gain: f64,
    ) -> bool {
        self.process_folding(&input, Some((fold, gain)))
    }

    fn process_folding(
        &mut self,
        input: &[&[f32]],
        mut fold: Option<(&mut Loudness, f64)>,
    ) -> bool {
        let n = input.iter().map(|c| c.len()).min().unwrap_or(0);
        let chans = input.len().min(self.channels);
        let mut bad = false;
        // The weighted channels, taken in pairs that run side by side.
        let mut active = [0usize; MAX_CHANNELS];
        let mut count = 0;
        for ch in 0..chans {
            if self.weights[ch] != 0.0 {
                active[count] = ch;
                count += 1;
            }
        }
        let folding = fold.is_some() && count == 2;
        let mut start = 0;
        while start < n {
            let run = (self.sub_len - self.sub_pos).min(n - start);
            let piece = |ch: usize| &input[ch][start..start + run];
            let mut folded = 0f64;
            for pair in active[..count].chunks(2) {
                let mut acc = [0f64; 2];
                if let &[a, b] = pair {
                    let mut st = [self.filters[a], self.filters[b]];
                    let pieces = [piece(a), piece(b)];
                    let fold_into = match &fold {
                        Some((_, gain)) if folding => Some((&mut folded, *gain)),
                        _ => None,
                    };
                    k_weight_pair_on(self.isa, &self.k, &mut st, pieces, &mut acc, fold_into);
                    [self.filters[a], self.filters[b]] = st;
                } else {
                    let mut st = [self.filters[pair[0]]];
                    let mut one = [0f64; 1];
                    k_weight::<1, false>(
                        &self.k,
                        &mut st,
                        [piece(pair[0])],
                        &mut one,
                        (&mut folded, 0.0),
                    );
                    self.filters[pair[0]] = st[0];
                    acc[0] = one[0];
                }
                for (&ch, mut acc) in pair.iter().zip(acc) {
                    if !acc.is_finite() {
                        acc = 0.0;
                        self.filters[ch] = KState::default();
                        bad = true;
                    }
                    self.sub_acc[ch] += acc;
                }
            }
            if let Some((f, _)) = fold.as_mut() {
                if !folded.is_finite() {
                    folded = 0.0;
                    bad = true;
                }
                f.sub_acc[0] += folded;
                f.sub_pos += run;
                if f.sub_pos >= f.sub_len {
                    f.finish_sub();
                }
            }
            self.sub_pos += run;
            start += run;
            if self.sub_pos == self.sub_len {
                self.finish_sub();
            }
        }
        for ch in 0..chans {
            bad |= self.filters[ch].flush();
        }
        bad
    }

    fn finish_sub(&mut self) {
        let mut e = 0.0;
        for ch in 0..self.channels {
            e += self.weights[ch] * self.sub_acc[ch];
        }
        self.sub_acc = [0.0; MAX_CHANNELS];
        self.sub_pos = 0;
        self.ring[(self.subs % SUBS_S as u64) as usize] = e;
        self.subs += 1;
        // Newest first, as the ring wraps: the same sums in the same order
        // as indexing modulo the ring, without a division per step.
        let newest = ((self.subs - 1) % SUBS_S as u64) as usize;
        let (recent, older) = self.ring.split_at(newest + 1);
        let sum = |count: usize| -> f64 {
            recent
                .iter()
                .rev()
                .chain(older.iter().rev())
                .take(count)
                .sum::<f64>()
        };
        let len = self.sub_len as f64;
        let m_count = SUBS_M.min(self.subs as usize);
        let s_count = SUBS_S.min(self.subs as usize);
        // Windows are zero-padded before the start, as BS.1770 meters do.
        self.momentary = sum(m_count) / (SUBS_M as f64 * len);
        self.short_term = sum(s_count) / (SUBS_S as f64 * len);
        self.max_momentary = self.max_momentary.max(self.momentary);
        self.max_short_term = self.max_short_term.max(self.short_term);
        if self.subs % 10 == 0 && self.subs >= SUBS_M as u64 {
            self.integrated.push(self.momentary);
        }
        if self.subs >= SUBS_S as u64 && (self.subs - SUBS_S as u64) % LRA_HOP == 0 {
            self.range.push(self.short_term);
        }
        if self.record_every != 0 && self.subs % self.record_every == 0 {
            self.recorded.push([self.momentary, self.short_term]);
        }
    }

    /// From now on, keeps the momentary and short-term energies after every
    /// `steps`-th 10 ms step (0 stops it), so a series at that hop can take
    /// them instead of K-weighting the same audio again. Allocates as it
    /// records: for offline meters only.
    pub fn record_every(&mut self, steps: u64) {
        self.record_every = steps;
    }

    /// The energies kept by [`Loudness::record_every`], `[momentary,
    /// short-term]` per reading (LUFS by [`energy_to_lufs`]).
    pub fn recorded(&self) -> &[[f64; 2]] {
        &self.recorded
    }

    /// Momentary loudness (last 400 ms), LUFS.
    pub fn momentary(&self) -> f64 {
        energy_to_lufs(self.momentary)
    }

    /// Short-term loudness (last 3 s), LUFS.
    pub fn short_term(&self) -> f64 {
        energy_to_lufs(self.short_term)
    }

    /// Highest momentary loudness so far (10 ms hop), LUFS.
    pub fn max_momentary(&self) -> f64 {
        energy_to_lufs(self.max_momentary)
    }

    /// Highest short-term loudness so far (10 ms hop), LUFS.
    pub fn max_short_term(&self) -> f64 {
        energy_to_lufs(self.max_short_term)
    }

    /// Integrated (gated) loudness so far, LUFS (−inf before the first block).
    pub fn integrated(&self) -> f64 {
        self.integrated.gated_mean(-10.0)
    }

    /// Loudness range so far, LU.
    pub fn loudness_range(&mut self) -> f64 {
        self.range.range()
    }

    /// The integrated-loudness blocks (for album loudness across files).
    pub fn gate_blocks(&self) -> &GateStore {
        &self.integrated
    }

    /// 10 ms steps completed.
    pub fn steps(&self) -> u64 {
        self.subs
    }

    /// Short-term blocks offered to the loudness range so far (one a second
    /// after the first 3 s): the range can only change when this does.
    pub fn range_blocks(&self) -> u64 {
        match self.subs.checked_sub(SUBS_S as u64) {
            Some(after) => after / LRA_HOP + 1,
            None => 0,
        }
    }
}

/// Integrated loudness over several programmes together (an album):
/// all their gating blocks gated as one.
pub fn combined_integrated(stores: &[&GateStore]) -> f64 {
    let mut all = Vec::new();
    for s in stores {
        if let GateStore::Exact(v) = s {
            all.extend_from_slice(v);
        }
    }
    GateStore::Exact(all).gated_mean(-10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Noise with the odd NaN, infinity and denormal, from a seed.
    fn signal(seed: u32, n: usize) -> Vec<f32> {
        let mut state = seed | 1;
        (0..n)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let x = (state >> 8) as f32 / (1 << 24) as f32 - 0.5;
                match i % 397 {
                    17 => f32::NAN,
                    101 => f32::INFINITY,
                    211 => 1e-40,
                    _ => x,
                }
            })
            .collect()
    }

    fn bits(states: &[KState; 2], acc: [f64; 2], folded: f64) -> Vec<u64> {
        let mut v: Vec<u64> = states
            .iter()
            .flat_map(|s| s.x.iter().chain(&s.y).chain(&s.w).map(|v| v.to_bits()))
            .collect();
        v.extend(acc.map(f64::to_bits));
        v.push(folded.to_bits());
        v
    }

    #[test]
    fn both_stages_in_one_loop_give_the_bits_of_one_stage_at_a_time() {
        let k = k_weighting(96_000.0);
        for len in [0, 1, 5, 6, 7, 100, 960, 1000] {
            let (l, r) = (signal(7, len + 2000), signal(11, len + 2000));
            // A state from earlier audio, so the history matters too.
            let mut warm = [KState::default(); 2];
            k_weight::<2, false>(
                &k,
                &mut warm,
                [&l[..2000], &r[..2000]],
                &mut [0.0; 2],
                (&mut 0.0, 0.0),
            );
            let input = [&l[2000..], &r[2000..]];
            for fold in [false, true] {
                let (mut want_st, mut want_acc, mut want_fold) = (warm, [0.5; 2], 0.25);
                let one_stage_at_a_time = if fold {
                    k_weight::<2, true>
                } else {
                    k_weight::<2, false>
                };
                one_stage_at_a_time(
                    &k,
                    &mut want_st,
                    input,
                    &mut want_acc,
                    (&mut want_fold, 0.7),
                );
                for isa in Isa::available() {
                    let (mut st, mut acc, mut folded) = (warm, [0.5; 2], 0.25);
                    let f = fold.then_some((&mut folded, 0.7));
                    k_weight_pair_on(isa, &k, &mut st, input, &mut acc, f);
                    assert_eq!(
                        bits(&st, acc, folded),
                        bits(&want_st, want_acc, want_fold),
                        "{isa:?}, {len} frames, fold {fold}"
                    );
                }
            }
        }
    }
}
