//! Parametric EQ: up to 8 bands of bell, shelves, high/low pass (12–48 dB/oct)
//! and notch, each on both channels, one side, mid or side.
//!
//! Every section is the bilinear transform of its analog prototype with the
//! corner prewarped ([`crate::biquad`]), so the response is the analytic one
//! at the prewarped frequency. Changes glide: frequency, gain and Q are
//! smoothed and the sections redesigned every 32 samples while they move.

use crate::biquad::{
    Biquad, PairCoeffs, Shape, analytic_magnitude, butterworth_qs, design, tick_pair,
};
use crate::{Meters, Processor};
use rackd_protocol::param::{ParamSpec, Unit};
use std::sync::Arc;

/// Number of bands.
pub const BANDS: usize = 8;
/// Parameters per band, in this order: on, type, freq, gain, q, slope, channel.
pub const PARAMS_PER_BAND: usize = 7;
const TYPES: [&str; 6] = [
    "bell",
    "low_shelf",
    "high_shelf",
    "low_pass",
    "high_pass",
    "notch",
];
const SLOPES: [&str; 4] = ["12", "24", "36", "48"];
const CHANNELS: [&str; 5] = ["stereo", "left", "right", "mid", "side"];
const DEFAULT_FREQ: [f64; BANDS] = [30.0, 80.0, 200.0, 500.0, 1200.0, 3000.0, 8000.0, 16000.0];
const UPDATE: usize = 32;

/// Which signal a band works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandChannel {
    /// Left and right alike.
    Stereo,
    /// Left only.
    Left,
    /// Right only.
    Right,
    /// Mid (L+R)/2 only.
    Mid,
    /// Side (L−R)/2 only.
    Side,
}

/// One band's settings in real units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandSettings {
    /// Whether the band is in.
    pub on: bool,
    /// Filter shape (pass filters use Butterworth sections).
    pub shape: Shape,
    /// Centre or corner frequency, Hz.
    pub freq: f64,
    /// Gain for bell and shelves, dB.
    pub gain: f64,
    /// Q (bell, shelves, notch, and the 12 dB/oct pass filters).
    pub q: f64,
    /// Pass-filter order: 2, 4, 6 or 8 (12–48 dB/oct).
    pub order: usize,
    /// Where the band applies.
    pub channel: BandChannel,
}

impl BandSettings {
    /// Sections of this band as (shape, q) pairs.
    fn sections(&self) -> impl Iterator<Item = (Shape, f64)> + '_ {
        let pass = matches!(self.shape, Shape::LowPass | Shape::HighPass);
        let order = if pass { self.order } else { 2 };
        let single = !pass || order == 2;
        let q = self.q;
        butterworth_qs(order).map(move |bq| (self.shape, if single { q } else { bq }))
    }

    /// Analytic magnitude of the band at `at` Hz (linear).
    pub fn analytic(&self, at: f64, sample_rate: f64) -> f64 {
        if !self.on {
            return 1.0;
        }
        self.sections()
            .map(|(s, q)| analytic_magnitude(s, self.freq, self.gain, q, sample_rate, at))
            .product()
    }
}

/// A one-pole glide in double precision (single precision stalls short of
/// the target when smoothing log frequencies).
#[derive(Debug, Clone, Copy)]
struct Glide {
    current: f64,
    target: f64,
    coeff: f64,
}

impl Glide {
    fn new(value: f64, sample_rate: f32, time_s: f64) -> Self {
        Glide {
            current: value,
            target: value,
            coeff: (-6.9 / (time_s * sample_rate as f64)).exp(),
        }
    }
    fn set_target(&mut self, t: f64) {
        self.target = t;
    }
    fn target(&self) -> f64 {
        self.target
    }
    fn current(&self) -> f64 {
        self.current
    }
    fn is_settled(&self) -> bool {
        self.current == self.target
    }
    /// Advances `n` samples.
    fn advance(&mut self, n: usize) {
        self.current = self.target + (self.current - self.target) * self.coeff.powi(n as i32);
        if (self.current - self.target).abs() < 1e-6 {
            self.current = self.target;
        }
    }
}

impl Band {
    /// In, not fading, on both channels: runs as a plain filter.
    fn plain(&self) -> bool {
        self.settings.on && self.mix.is_settled() && self.settings.channel == BandChannel::Stereo
    }
}

struct Band {
    settings: BandSettings,
    freq: Glide,
    gain: Glide,
    q: Glide,
    sections: [[Biquad; 4]; 2],
    count: usize,
    /// Crossfade between the band's input (0) and output (1), so switching
    /// a band in or out never clicks.
    mix: Glide,
}

/// The EQ slot.
pub struct Equalizer {
    meters: Arc<Meters>,
    sample_rate: f64,
    bands: [Band; BANDS],
}

fn shape_of(i: usize) -> Shape {
    match i {
        1 => Shape::LowShelf,
        2 => Shape::HighShelf,
        3 => Shape::LowPass,
        4 => Shape::HighPass,
        5 => Shape::Notch,
        _ => Shape::Bell,
    }
}

impl Equalizer {
    /// The slot's parameters: 7 per band, bands 1..8 (`b1_on`, `b1_type`, …).
    pub fn params() -> Vec<ParamSpec> {
        let mut v = Vec::new();
        for (b, &freq) in DEFAULT_FREQ.iter().enumerate() {
            let n = b + 1;
            let id = |s: &str| format!("b{n}_{s}");
            let name = |s: &str| format!("Band {n} {s}");
            v.push(ParamSpec::switch(&id("on"), &name("on"), false));
            v.push(ParamSpec::choice(
                &id("type"),
                &name("type"),
                &TYPES,
                "bell",
            ));
            v.push(
                ParamSpec::log(
                    &id("freq"),
                    &name("frequency"),
                    Unit::Hz,
                    10.0,
                    40_000.0,
                    freq,
                )
                .with_step(0.1),
            );
            v.push(
                ParamSpec::linear(&id("gain"), &name("gain"), Unit::Db, -24.0, 24.0, 0.0)
                    .with_step(0.01),
            );
            v.push(
                ParamSpec::log(&id("q"), &name("Q"), Unit::None, 0.1, 40.0, 0.707).with_step(0.001),
            );
            v.push(ParamSpec::choice(
                &id("slope"),
                &name("slope dB/oct"),
                &SLOPES,
                "24",
            ));
            v.push(ParamSpec::choice(
                &id("channel"),
                &name("channel"),
                &CHANNELS,
                "stereo",
            ));
        }
        v
    }

    /// A flat EQ (all bands off).
    pub fn new(sample_rate: f32, meters: Arc<Meters>) -> Self {
        let sr = sample_rate as f64;
        let bands = std::array::from_fn(|b| Band {
            settings: BandSettings {
                on: false,
                shape: Shape::Bell,
                freq: DEFAULT_FREQ[b],
                gain: 0.0,
                q: 0.707,
                order: 4,
                channel: BandChannel::Stereo,
            },
            freq: Glide::new(DEFAULT_FREQ[b].ln(), sample_rate, 0.03),
            gain: Glide::new(0.0, sample_rate, 0.03),
            q: Glide::new(0.707f64.ln(), sample_rate, 0.03),
            sections: [[Biquad::default(); 4]; 2],
            count: 0,
            mix: Glide::new(0.0, sample_rate, 0.01),
        });
        let mut eq = Equalizer {
            meters,
            sample_rate: sr,
            bands,
        };
        for b in 0..BANDS {
            eq.redesign(b);
        }
        eq
    }

    /// A band's current settings (targets).
    pub fn band(&self, b: usize) -> BandSettings {
        self.bands[b].settings
    }

    /// Analytic magnitude of the whole EQ at `at` Hz in dB (targets, all bands in).
    pub fn analytic_db(&self, at: f64) -> f64 {
        let lin: f64 = self
            .bands
            .iter()
            .map(|b| b.settings.analytic(at, self.sample_rate))
            .product();
        20.0 * lin.log10()
    }

    fn redesign(&mut self, b: usize) {
        let sr = self.sample_rate;
        let band = &mut self.bands[b];
        let mut live = band.settings;
        live.freq = band.freq.current().exp();
        live.gain = band.gain.current();
        live.q = band.q.current().exp();
        let mut count = 0;
        for (i, (shape, q)) in live.sections().enumerate() {
            let c = design(shape, live.freq, live.gain, q, sr);
            for ch in 0..2 {
                band.sections[ch][i].c = c;
            }
            count = i + 1;
        }
        band.count = count;
    }

    fn run_sections(sections: &mut [Biquad], buf: &mut [f32]) {
        for s in sections {
            for x in buf.iter_mut() {
                *x = s.tick(*x as f64) as f32;
            }
        }
    }

    /// Plain bands (in, not fading, both channels) sample by sample through
    /// all their sections, left and right side by side: the same operations
    /// per section and channel as [`Equalizer::run_sections`], but the
    /// sections' recurrences overlap instead of each waiting for its own
    /// previous sample.
    fn run_plain(bands: &mut [Band], left: &mut [f32], right: &mut [f32]) {
        let mut coeffs = [PairCoeffs::IDENTITY; BANDS * 4];
        let mut state = [[[0f64; 2]; 2]; BANDS * 4];
        let mut n = 0;
        for band in bands.iter().filter(|b| b.settings.on) {
            for k in 0..band.count {
                let [l, r] = [band.sections[0][k].state(), band.sections[1][k].state()];
                coeffs[n] = PairCoeffs::new(&band.sections[0][k].c);
                state[n] = [[l[0], r[0]], [l[1], r[1]]];
                n += 1;
            }
        }
        let (coeffs, state_n) = (&coeffs[..n], &mut state[..n]);
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let mut v = [*l, *r];
            for (c, z) in coeffs.iter().zip(state_n.iter_mut()) {
                let y = tick_pair(c, z, [v[0] as f64, v[1] as f64]);
                v = [y[0] as f32, y[1] as f32];
            }
            [*l, *r] = v;
        }
        let mut n = 0;
        for band in bands.iter_mut().filter(|b| b.settings.on) {
            for k in 0..band.count {
                let z = state[n];
                band.sections[0][k].set_state([z[0][0], z[1][0]]);
                band.sections[1][k].set_state([z[0][1], z[1][1]]);
                n += 1;
            }
        }
    }
}

impl Processor for Equalizer {
    fn set_param(&mut self, index: usize, value: f32) {
        let (b, p) = (index / PARAMS_PER_BAND, index % PARAMS_PER_BAND);
        let Some(band) = self.bands.get_mut(b) else {
            return;
        };
        if !value.is_finite() {
            return;
        }
        let s = &mut band.settings;
        let old = *s;
        match p {
            0 => {
                s.on = value >= 0.5;
                band.mix.set_target(if s.on { 1.0 } else { 0.0 });
            }
            1 => s.shape = shape_of(value.round() as usize),
            2 => band
                .freq
                .set_target((value.clamp(10.0, 40_000.0) as f64).ln()),
            3 => band.gain.set_target(value.clamp(-24.0, 24.0) as f64),
            4 => band.q.set_target((value.clamp(0.1, 40.0) as f64).ln()),
            5 => s.order = 2 * (value.round().clamp(0.0, 3.0) as usize + 1),
            _ => {
                s.channel = match value.round() as i32 {
                    1 => BandChannel::Left,
                    2 => BandChannel::Right,
                    3 => BandChannel::Mid,
                    4 => BandChannel::Side,
                    _ => BandChannel::Stereo,
                }
            }
        }
        s.freq = band.freq.target().exp();
        s.gain = band.gain.target();
        s.q = band.q.target().exp();
        // A band switched in from silence-of-its-own starts from clean state.
        let fresh = s.on && !old.on && band.mix.current() == 0.0;
        if s.shape != old.shape || s.order != old.order || s.channel != old.channel || fresh {
            for ch in &mut band.sections {
                for f in ch.iter_mut() {
                    f.reset();
                }
            }
        }
        self.redesign(b);
    }

    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let n = left.len().min(right.len());
        let mut bad = false;
        for i in 0..n {
            if !(left[i].is_finite() && right[i].is_finite()) {
                bad = true;
                left[i] = crate::sanitize(left[i]);
                right[i] = crate::sanitize(right[i]);
            }
        }
        // Redesigns and fades go in steps of UPDATE; with nothing moving the
        // block is one step (the same sums either way).
        let moving = self.bands.iter().any(|b| {
            !(b.freq.is_settled() && b.gain.is_settled() && b.q.is_settled() && b.mix.is_settled())
        });
        let step = if moving { UPDATE } else { n.max(1) };
        let mut start = 0;
        while start < n {
            let end = (start + step).min(n);
            for b in 0..BANDS {
                let band = &mut self.bands[b];
                if !band.freq.is_settled() || !band.gain.is_settled() || !band.q.is_settled() {
                    band.freq.advance(end - start);
                    band.gain.advance(end - start);
                    band.q.advance(end - start);
                    self.redesign(b);
                }
            }
            let mut b = 0;
            while b < BANDS {
                let band = &self.bands[b];
                if !band.settings.on && band.mix.is_settled() {
                    b += 1;
                    continue;
                }
                if band.plain() {
                    // A run of plain bands (off ones in between play no part).
                    let mut e = b + 1;
                    while e < BANDS
                        && (self.bands[e].plain()
                            || (!self.bands[e].settings.on && self.bands[e].mix.is_settled()))
                    {
                        e += 1;
                    }
                    Self::run_plain(
                        &mut self.bands[b..e],
                        &mut left[start..end],
                        &mut right[start..end],
                    );
                    b = e;
                    continue;
                }
                let band = &mut self.bands[b];
                b += 1;
                let (l, r) = (&mut left[start..end], &mut right[start..end]);
                let fading = !band.mix.is_settled();
                let mut dry = [[0f32; UPDATE]; 2];
                if fading {
                    dry[0][..l.len()].copy_from_slice(l);
                    dry[1][..r.len()].copy_from_slice(r);
                }
                let cnt = band.count;
                let [sl, sr] = &mut band.sections;
                match band.settings.channel {
                    BandChannel::Stereo => {
                        Self::run_sections(&mut sl[..cnt], l);
                        Self::run_sections(&mut sr[..cnt], r);
                    }
                    BandChannel::Left => Self::run_sections(&mut sl[..cnt], l),
                    BandChannel::Right => Self::run_sections(&mut sr[..cnt], r),
                    BandChannel::Mid | BandChannel::Side => {
                        for (a, b) in l.iter_mut().zip(r.iter_mut()) {
                            let (m, s) = (0.5 * (*a + *b), 0.5 * (*a - *b));
                            *a = m;
                            *b = s;
                        }
                        if band.settings.channel == BandChannel::Mid {
                            Self::run_sections(&mut sl[..cnt], l);
                        } else {
                            Self::run_sections(&mut sl[..cnt], r);
                        }
                        for (a, b) in l.iter_mut().zip(r.iter_mut()) {
                            let (m, s) = (*a, *b);
                            *a = m + s;
                            *b = m - s;
                        }
                    }
                }
                if fading {
                    let len = l.len();
                    let m0 = band.mix.current() as f32;
                    band.mix.advance(len);
                    let m1 = band.mix.current() as f32;
                    for i in 0..len {
                        let w = m0 + (m1 - m0) * (i + 1) as f32 / len as f32;
                        l[i] = dry[0][i] + (l[i] - dry[0][i]) * w;
                        r[i] = dry[1][i] + (r[i] - dry[1][i]) * w;
                    }
                }
            }
            start = end;
        }
        for band in &mut self.bands {
            for f in band.sections.iter_mut().flatten() {
                bad |= f.flush();
            }
        }
        if bad {
            self.meters.report_nonfinite();
        }
    }

    fn reset(&mut self) {
        for band in &mut self.bands {
            for f in band.sections.iter_mut().flatten() {
                f.reset();
            }
        }
    }
}
