//! Processor behaviour: EQ mid/side bands and band switching, limiter
//! ceiling on adversarial input, dither statistics, NaN/Inf recovery and
//! denormal-free silence, for every slot kind the hub can build. (The EQ's
//! magnitude response against the published formulas is `eq_cookbook.rs`.)

use rackd_dsp::dither::Rng;
use rackd_dsp::eq::Equalizer;
use rackd_dsp::limiter::Limiter;
use rackd_dsp::truepeak::TruePeak;
use rackd_dsp::{Meters, Processor, SlotKind, gain_to_db};
use rackd_protocol::param::{ParamKind, Value};
use std::f64::consts::PI;

/// Builds a slot the way the daemon does: defaults, then every param in spec order.
fn build(kind: SlotKind, fs: f32) -> (Box<dyn Processor>, std::sync::Arc<Meters>) {
    let meters = Meters::new();
    let mut p = kind.build(fs, 1024, meters.clone());
    for (i, spec) in kind.params().iter().enumerate() {
        let v = match (&spec.kind, &spec.default) {
            (ParamKind::Enum { labels }, Value::Text(t)) => {
                labels.iter().position(|l| l == t).unwrap() as f32
            }
            (_, v) => v.as_f64().unwrap() as f32,
        };
        p.set_param(i, v);
    }
    (p, meters)
}

/// Amplitude of the `freq` component of `y` by least squares on sin and cos.
fn amplitude(y: &[f32], freq: f64, fs: f64, start: usize) -> f64 {
    let (mut ss, mut cc, mut sc, mut ys, mut yc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &v) in y.iter().enumerate() {
        let w = 2.0 * PI * freq * (start + i) as f64 / fs;
        let (s, c) = (w.sin(), w.cos());
        ss += s * s;
        cc += c * c;
        sc += s * c;
        ys += v as f64 * s;
        yc += v as f64 * c;
    }
    let det = ss * cc - sc * sc;
    let a = (ys * cc - yc * sc) / det;
    let b = (yc * ss - ys * sc) / det;
    (a * a + b * b).sqrt()
}

fn eq_index(band: usize, param: usize) -> usize {
    band * rackd_dsp::eq::PARAMS_PER_BAND + param
}

#[test]
fn eq_mid_and_side_bands_touch_only_their_signal() {
    let fs = 48_000.0;
    let mut eq = Equalizer::new(fs as f32, Meters::new());
    eq.set_param(eq_index(0, 0), 1.0);
    eq.set_param(eq_index(0, 2), 1000.0);
    eq.set_param(eq_index(0, 3), 6.0);
    eq.set_param(eq_index(0, 6), 4.0); // side only
    let x: Vec<f32> = (0..48_000)
        .map(|i| (0.25 * (2.0 * PI * 1000.0 * i as f64 / fs).sin()) as f32)
        .collect();
    let (mut l, mut r) = (x.clone(), x.clone());
    eq.process(&mut l, &mut r);
    // Mono input has no side: untouched (to float rounding).
    assert!(l.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-6));
    eq.set_param(eq_index(0, 6), 3.0); // mid only
    eq.reset();
    let (mut l, mut r) = (x.clone(), x.clone());
    eq.process(&mut l, &mut r);
    let got = 20.0 * (amplitude(&l[24_000..], 1000.0, fs, 24_000) / 0.25).log10();
    assert!((got - 6.0).abs() < 0.01, "{got}");
}

fn adversarial(fs: f64) -> Vec<(&'static str, Vec<f32>)> {
    let n = (fs * 0.15) as usize;
    let db = |d: f64| 10f64.powf(d / 20.0);
    let mut v: Vec<(&'static str, Vec<f32>)> = Vec::new();
    v.push((
        "fs/4 at 45°, +6 dBTP",
        (0..n)
            .map(|i| (db(6.0) * (PI / 2.0 * i as f64 + PI / 4.0).sin()) as f32)
            .collect(),
    ));
    v.push((
        "near fs/4 (0.243 fs) at 45°, +6 dBTP",
        (0..n)
            .map(|i| (db(6.0) * (2.0 * PI * 0.243 * i as f64 + PI / 4.0).sin()) as f32)
            .collect(),
    ));
    v.push((
        "bursts",
        (0..n)
            .map(|i| {
                let on = (i / (fs as usize / 20)) % 2 == 1;
                if on {
                    (db(12.0) * (2.0 * PI * 3000.0 * i as f64 / fs).sin()) as f32
                } else {
                    0.0
                }
            })
            .collect(),
    ));
    v.push((
        "square 1 kHz, 0 dBFS",
        (0..n)
            .map(|i| {
                if (i as f64 * 1000.0 / fs).fract() < 0.5 {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect(),
    ));
    v.push((
        "square fs/6, +6 dB",
        (0..n)
            .map(|i| if (i / 3) % 2 == 0 { 2.0 } else { -2.0 })
            .collect(),
    ));
    v.push((
        "clipped master +8 dB",
        (0..n)
            .map(|i| {
                let t = i as f64 / fs;
                let s = 3.0 * ((2.0 * PI * 110.0 * t).sin() + 0.5 * (2.0 * PI * 7_919.0 * t).sin());
                (s.clamp(-1.0, 1.0) * db(8.0)) as f32
            })
            .collect(),
    ));
    let mut rng = Rng::new(7);
    v.push((
        "white noise +10 dB",
        (0..n).map(|_| (db(10.0) * rng.tpdf()) as f32).collect(),
    ));
    // Pink noise (Paul Kellet's filter), about −8 dBFS RMS before the drive.
    let mut b = [0f64; 7];
    v.push((
        "pink noise (limiter drive +12 dB)",
        (0..n)
            .map(|_| {
                let w = rng.tpdf();
                b[0] = 0.99886 * b[0] + w * 0.0555179;
                b[1] = 0.99332 * b[1] + w * 0.0750759;
                b[2] = 0.96900 * b[2] + w * 0.1538520;
                b[3] = 0.86650 * b[3] + w * 0.3104856;
                b[4] = 0.55000 * b[4] + w * 0.5329522;
                b[5] = -0.7616 * b[5] - w * 0.0168980;
                let pink = b.iter().sum::<f64>() + w * 0.5362;
                b[6] = w * 0.115926;
                (pink * 0.35) as f32
            })
            .collect(),
    ));
    // White noise through a 4th-order high pass at 0.3 fs: most of its
    // energy is near Nyquist, where short interpolators under-read.
    let mut hp = [(0f64, 0f64); 2];
    let c = rackd_dsp::biquad::design(rackd_dsp::biquad::Shape::HighPass, 0.3 * fs, 0.0, 0.707, fs);
    v.push((
        "high-passed noise (0.3 fs), +6 dB",
        (0..n)
            .map(|_| {
                let mut x = db(6.0) * 2.0 * rng.tpdf();
                for (z1, z2) in hp.iter_mut() {
                    let y = c.b0 * x + *z1;
                    *z1 = c.b1 * x - c.a1 * y + *z2;
                    *z2 = c.b2 * x - c.a2 * y;
                    x = y;
                }
                x as f32
            })
            .collect(),
    ));
    v.push((
        "isolated impulses",
        (0..n)
            .map(|i| {
                if i % 997 == 500 {
                    if i % 2 == 0 { 4.0 } else { -4.0 }
                } else {
                    0.0
                }
            })
            .collect(),
    ));
    v
}

/// An independent true-peak reference for the limiter tests: 16× band-limited
/// interpolation by a Kaiser-windowed sinc (β 10, 2 × 128 taps), in f64.
/// It shares no code with `truepeak.rs` or the limiter.
struct SincReference {
    /// `phases[k - 1][j]` weights `x[n + j - HALF + 1]` for the point `n + k/16`.
    phases: Vec<Vec<f64>>,
    /// Largest sum of absolute weights of a phase: no interpolated point
    /// exceeds the window's largest sample by more than this factor.
    gain: f64,
}

impl SincReference {
    const FACTOR: usize = 16;
    const HALF: usize = 128;

    fn new() -> Self {
        let beta = 10.0;
        let i0 = |x: f64| {
            let (mut sum, mut term) = (1.0f64, 1.0f64);
            for k in 1..60 {
                term *= (x / (2.0 * k as f64)).powi(2);
                sum += term;
            }
            sum
        };
        let half = Self::HALF as f64;
        let phases: Vec<Vec<f64>> = (1..Self::FACTOR)
            .map(|k| {
                let t = k as f64 / Self::FACTOR as f64;
                (0..2 * Self::HALF)
                    .map(|j| {
                        // Distance from the point n + t to sample n + j - HALF + 1.
                        let d = t - (j as f64 - half + 1.0);
                        let sinc = (PI * d).sin() / (PI * d);
                        let r = d / half;
                        sinc * i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0(beta)
                    })
                    .collect()
            })
            .collect();
        let gain = phases
            .iter()
            .map(|p| p.iter().map(|h| h.abs()).sum::<f64>())
            .fold(0.0, f64::max);
        SincReference { phases, gain }
    }

    /// Largest magnitude of the band-limited signal through `x`, which is
    /// taken as silent outside its ends (so `x` must hold the whole signal,
    /// with silence or a fade at both ends).
    fn true_peak(&self, x: &[f32]) -> f64 {
        let h = Self::HALF;
        let mut padded = vec![0f64; x.len() + 2 * h];
        for (p, &v) in padded[h..].iter_mut().zip(x) {
            *p = v as f64;
        }
        let mut best = x.iter().fold(0f64, |m, &v| m.max(v.abs() as f64));
        for n in 0..x.len() {
            // Window for the points between samples n and n + 1 of x.
            let window = &padded[n + 1..n + 1 + 2 * h];
            let local = window.iter().fold(0f64, |m, v| m.max(v.abs()));
            // Nothing here can reach the best so far: skip (exact, by the bound).
            if local * self.gain <= best {
                continue;
            }
            for phase in &self.phases {
                let y: f64 = window.iter().zip(phase).map(|(a, b)| a * b).sum();
                best = best.max(y.abs());
            }
        }
        best
    }
}

#[test]
fn sinc_reference_reads_known_inter_sample_peaks() {
    let reference = SincReference::new();
    // A sine at fs/4 with phase 45°: samples at ±A·cos 45°, peak A.
    let x: Vec<f32> = (0..4000)
        .map(|i| (0.5 * (PI / 2.0 * i as f64 + PI / 4.0).sin()) as f32)
        .collect();
    // Fade in and out over 1000 samples so the cut ends add no overshoot.
    let fade = |i: usize| (i.min(3999 - i) as f64 / 1000.0).min(1.0);
    let x: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| (v as f64 * fade(i)) as f32)
        .collect();
    let tp = reference.true_peak(&x);
    assert!((tp - 0.5).abs() < 0.5 * 1e-4, "{tp}");
    let sp = x.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
    assert!((sp - 0.5 * (PI / 4.0).cos()).abs() < 1e-3, "{sp}");
    // The fs/6 square wave ±1: band-limited, (4/3)·cos u − (1/3)·cos 3u,
    // whose peak is at cos u = √(7/12): (14/9)·√(7/12) = 1.18807. Its third
    // harmonic sits exactly at Nyquist, where any windowed sinc is only
    // close to the ideal response: within 0.05 dB.
    let x: Vec<f32> = (0..6000)
        .map(|i| {
            let s = if (i / 3) % 2 == 0 { 1.0 } else { -1.0 };
            (s * fade(i * 4000 / 6000)) as f32
        })
        .collect();
    let want = 14.0 / 9.0 * (7.0f64 / 12.0).sqrt();
    let tp = reference.true_peak(&x);
    assert!((20.0 * (tp / want).log10()).abs() < 0.05, "{tp} vs {want}");
}

#[test]
fn limiter_holds_the_ceiling_at_16x_on_an_independent_reference() {
    /// How far over the ceiling the 16× reference may read, dB.
    const TOLERANCE_DB: f64 = 0.05;
    let reference = SincReference::new();
    let mut worst = f64::NEG_INFINITY;
    let mut failures = Vec::new();
    for fs in [44_100.0, 48_000.0, 96_000.0] {
        for ceiling in [-1.0f32, -0.1] {
            for (name, x) in adversarial(fs) {
                let (mut lim, _) = build(SlotKind::Limiter, fs as f32);
                lim.set_param(Limiter::CEILING, ceiling);
                if name.contains("drive") {
                    lim.set_param(Limiter::DRIVE, 12.0);
                }
                let lat = lim.latency();
                // Silence before and after, so the whole output (the onset and
                // the tail included) is in the buffer the reference reads.
                let pad = 300;
                let mut l = vec![0f32; pad];
                l.extend_from_slice(&x);
                l.resize(l.len() + pad + lat, 0.0);
                let mut r: Vec<f32> = l.iter().map(|v| -0.7 * v).collect();
                for (cl, cr) in l.chunks_mut(64).zip(r.chunks_mut(64)) {
                    lim.process(cl, cr);
                }
                let tp16 = 20.0 * reference.true_peak(&l).max(reference.true_peak(&r)).log10();
                let tp4 = gain_to_db(
                    TruePeak::new()
                        .block_max(&l, 0.0)
                        .max(TruePeak::new().block_max(&r, 0.0)),
                );
                let over = tp16 - ceiling as f64;
                worst = worst.max(over);
                println!(
                    "limiter {fs} Hz ceiling {ceiling} dBTP, {name}: 16x {tp16:.3} dBTP \
                     ({over:+.3} dB), BS.1770 4x {tp4:.3} dBTP, latency {lat}"
                );
                if over > TOLERANCE_DB {
                    failures.push(format!(
                        "{name} @ {fs} Hz: 16x true peak {tp16:.3} dBTP, {over:+.3} dB over the \
                         ceiling {ceiling} (tolerance {TOLERANCE_DB} dB)"
                    ));
                }
                if tp4 > ceiling + 1e-4 {
                    failures.push(format!(
                        "{name} @ {fs} Hz: BS.1770 4x true peak {tp4} over the ceiling {ceiling}"
                    ));
                }
            }
        }
    }
    println!("largest reading over the ceiling at 16x: {worst:+.3} dB");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn limiter_is_transparent_below_threshold() {
    let fs = 48_000.0;
    let (mut lim, _) = build(SlotKind::Limiter, fs);
    let lat = lim.latency();
    let x: Vec<f32> = (0..48_000)
        .map(|i| (0.5 * (2.0 * PI * 997.0 * i as f64 / fs as f64).sin()) as f32)
        .collect();
    let mut l = x.clone();
    let mut r = x.clone();
    for (cl, cr) in l.chunks_mut(64).zip(r.chunks_mut(64)) {
        lim.process(cl, cr);
    }
    assert!(l[..lat].iter().all(|&v| v == 0.0));
    assert_eq!(
        &l[lat..],
        &x[..x.len() - lat],
        "output must equal the input delayed by {lat}"
    );
}

#[test]
fn tpdf_is_triangular() {
    let mut rng = Rng::new(12345);
    let n = 2_000_000;
    let mut bins = [0u32; 20];
    let mut sum = 0.0;
    for _ in 0..n {
        let v = rng.tpdf();
        assert!(v > -1.0 && v < 1.0);
        sum += v;
        bins[(((v + 1.0) / 2.0 * 20.0) as usize).min(19)] += 1;
    }
    assert!((sum / n as f64).abs() < 2e-3, "mean {}", sum / n as f64);
    for (b, &count) in bins.iter().enumerate() {
        let (lo, hi) = (-1.0 + b as f64 * 0.1, -1.0 + (b + 1) as f64 * 0.1);
        // Integral of 1 − |x| over the bin.
        let cdf = |x: f64| {
            if x < 0.0 {
                0.5 * (1.0 + x).powi(2)
            } else {
                1.0 - 0.5 * (1.0 - x).powi(2)
            }
        };
        let want = (cdf(hi) - cdf(lo)) * n as f64;
        assert!(
            (count as f64 - want).abs() < 0.02 * want + 200.0,
            "bin {b}: {count} vs {want}"
        );
    }
}

#[test]
fn dither_error_has_no_dc_and_input_independent_power() {
    for shaping in [0.0f32, 1.0, 2.0] {
        for lsb in [0.0f64, 0.3, 0.5, -0.25, 1000.7] {
            let (mut d, _) = build(SlotKind::Dither, 48_000.0);
            d.set_param(0, 0.0); // 16 bit
            d.set_param(1, shaping);
            let scale = 32768.0;
            let x = (lsb / scale) as f32;
            let exact = x as f64 * scale;
            let n = 400_000;
            let mut l = vec![x; n];
            let mut r = vec![x; n];
            for (cl, cr) in l.chunks_mut(512).zip(r.chunks_mut(512)) {
                d.process(cl, cr);
            }
            let e: Vec<f64> = l.iter().map(|&y| y as f64 * scale - exact).collect();
            assert!(
                l.iter().all(|&y| (y as f64 * scale).fract() == 0.0),
                "output on the 16-bit grid"
            );
            let mean = e.iter().sum::<f64>() / n as f64;
            let var = e.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            assert!(
                mean.abs() < 0.01,
                "shaping {shaping} input {lsb}: DC {mean}"
            );
            if shaping == 0.0 {
                // TPDF (1/6) plus rounding (1/12) = 1/4 LSB², whatever the input.
                assert!((var - 0.25).abs() < 0.01, "input {lsb}: error power {var}");
            } else {
                // Shaped: the error moves up in frequency (negative lag-1 correlation).
                let lag1 = e
                    .windows(2)
                    .map(|w| (w[0] - mean) * (w[1] - mean))
                    .sum::<f64>()
                    / n as f64;
                assert!(
                    lag1 / var < -0.3,
                    "shaping {shaping}: lag-1 correlation {}",
                    lag1 / var
                );
            }
        }
    }
}

/// A slot built as the daemon builds it, with every EQ band in (so the EQ has state to poison).
fn build_for_bad_input(kind: SlotKind) -> (Box<dyn Processor>, std::sync::Arc<Meters>) {
    let (mut p, meters) = build(kind, 48_000.0);
    if kind == SlotKind::Eq {
        for b in 0..8 {
            p.set_param(eq_index(b, 0), 1.0);
            p.set_param(eq_index(b, 3), 6.0);
        }
    }
    (p, meters)
}

/// README: "NaN/Inf met by any processor is cleared within the block and
/// counted". Every slot kind gets a block with a NaN and two infinities:
/// that block's own output is finite everywhere, equal to a clean run's up
/// to the first bad sample (nothing travels back in time), the block is
/// counted, and the blocks after it are finite too.
#[test]
fn every_slot_clears_nan_and_inf_within_the_block_and_reports_it() {
    let block = || -> Vec<f32> { (0..256).map(|i| (i as f32 * 0.1).sin() * 0.5).collect() };
    for kind in SlotKind::ALL {
        let name = kind.name();
        let (mut p, meters) = build_for_bad_input(kind);
        let (mut clean, _) = build_for_bad_input(kind);
        let (mut cl, mut cr) = (block(), block());
        clean.process(&mut cl, &mut cr);

        let (mut l, mut r) = (block(), block());
        l[100] = f32::NAN;
        r[130] = f32::INFINITY;
        l[131] = f32::NEG_INFINITY;
        p.process(&mut l, &mut r);
        if let Some(i) = l.iter().chain(&r).position(|v| !v.is_finite()) {
            panic!("{name}: the bad block's output is not finite at {i}");
        }
        assert_eq!(
            (&l[..100], &r[..100]),
            (&cl[..100], &cr[..100]),
            "{name}: output before the first bad sample changed"
        );
        assert!(meters.peek().nonfinite >= 1, "{name}: NaN/Inf not reported");
        for n in 0..3 {
            let (mut l, mut r) = (block(), block());
            p.process(&mut l, &mut r);
            assert!(
                l.iter().chain(&r).all(|v| v.is_finite()),
                "{name}: block {n} after the bad one is not finite"
            );
        }
    }
}

#[test]
fn silence_after_signal_never_produces_denormals() {
    for &name in SlotKind::NAMES {
        let kind = SlotKind::from_name(name).unwrap();
        let (mut p, _) = build(kind, 48_000.0);
        if kind == SlotKind::Eq {
            for b in 0..8 {
                p.set_param(eq_index(b, 0), 1.0);
                p.set_param(eq_index(b, 3), 9.0);
                p.set_param(eq_index(b, 4), 8.0);
            }
        }
        let mut rng = Rng::new(3);
        let mut l: Vec<f32> = (0..4800).map(|_| (0.5 * rng.tpdf()) as f32).collect();
        let mut r = l.clone();
        p.process(&mut l, &mut r);
        for _ in 0..300 {
            let mut l = vec![0.0f32; 1024];
            let mut r = vec![0.0f32; 1024];
            p.process(&mut l, &mut r);
            for v in l.iter().chain(&r) {
                assert!(
                    *v == 0.0 || v.abs() >= f32::MIN_POSITIVE,
                    "{name}: denormal {v:e}"
                );
            }
        }
    }
}

#[test]
fn eq_band_switches_in_and_out_without_a_click() {
    let fs = 48_000.0;
    let mut eq = Equalizer::new(fs as f32, Meters::new());
    eq.set_param(eq_index(0, 2), 100.0);
    eq.set_param(eq_index(0, 3), 12.0);
    let x: Vec<f32> = (0..96_000)
        .map(|i| (0.25 * (2.0 * PI * 100.0 * i as f64 / fs).sin()) as f32)
        .collect();
    let (mut l, mut r) = (x.clone(), x.clone());
    let mut at = 0;
    for (n, (cl, cr)) in l.chunks_mut(64).zip(r.chunks_mut(64)).enumerate() {
        if n == 300 || n == 1000 {
            eq.set_param(eq_index(0, 0), if n == 300 { 1.0 } else { 0.0 });
            at = n * 64;
        }
        eq.process(cl, cr);
    }
    // Largest sample-to-sample step stays that of a 100 Hz sine at most +12 dB.
    let max_step = 0.25 * 3.99 * 2.0 * PI * 100.0 / fs;
    for i in 1..l.len() {
        let step = (l[i] - l[i - 1]).abs() as f64;
        assert!(
            step < max_step * 1.2,
            "click at {i} (last switch at {at}): {step}"
        );
    }
    // Switched back out: the tail is the dry signal again.
    assert!((l[90_000] - x[90_000]).abs() < 1e-4);
}
