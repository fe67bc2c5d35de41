//! `analysis::Scan` (what `rackd analyze` reports) against an independent
//! meter, the `ebur128` crate (a port of libebur128), on generated
//! programme-like signals at 44.1, 48 and 96 kHz.
//!
//! Tolerances: integrated loudness, max momentary and max short-term within
//! 0.01 LU, LRA within 0.01 LU (both use 3 s blocks every 1 s and the same
//! percentile rule), sample peak equal. True peak depends on each meter's
//! interpolation filter, so it is judged against the real inter-sample peak
//! (a 32× windowed-sinc reconstruction written here) within the Tech 3341
//! true-peak tolerance (+0.2/−0.4 dB); the difference to ebur128's true peak
//! is printed.

use ebur128::{EbuR128, Mode};
use rackd_dsp::analysis::Scan;
use std::f64::consts::PI;

/// An 8th-order Butterworth low pass (four RBJ cookbook sections), so the
/// noise in the programme is band-limited like a real master's content and
/// the meters' interpolation filters can follow it.
struct LowPass {
    sections: Vec<([f64; 3], [f64; 2], [f64; 2])>,
}

impl LowPass {
    fn new(fs: f64, corner: f64) -> Self {
        let w0 = 2.0 * PI * corner / fs;
        let sections = (1..=4)
            .map(|k| {
                let q = 1.0 / (2.0 * ((2 * k - 1) as f64 * PI / 16.0).sin());
                let alpha = w0.sin() / (2.0 * q);
                let a0 = 1.0 + alpha;
                let b = (1.0 - w0.cos()) / 2.0 / a0;
                (
                    [b, 2.0 * b, b],
                    [-2.0 * w0.cos() / a0, (1.0 - alpha) / a0],
                    [0.0, 0.0],
                )
            })
            .collect();
        LowPass { sections }
    }

    fn tick(&mut self, mut x: f64) -> f64 {
        for (b, a, z) in &mut self.sections {
            let y = b[0] * x + z[0];
            z[0] = b[1] * x - a[0] * y + z[1];
            z[1] = b[2] * x - a[1] * y;
            x = y;
        }
        x
    }
}

/// A deterministic programme: bass, a chord, filtered noise and hi-hat
/// transients (noise band-limited to 15 kHz), with section levels that move
/// over 18 dB, a quiet passage below the relative gate, a gap of silence
/// below the absolute gate, and a short loud ending (shorter than the
/// momentary window, so the maxima depend on the window lengths) led by a
/// tone at fs/4, 45° off the sample grid (the EBU true-peak signal), whose
/// crests fall between samples.
/// Length of the loud ending, s.
const ENDING: f64 = 0.3;

fn programme(fs: f64, seconds: f64, seed: u32) -> [Vec<f32>; 2] {
    let n = (fs * seconds) as usize;
    let (mut l, mut r) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut state = seed | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as f64 / u32::MAX as f64 - 0.5
    };
    let (mut lp_l, mut lp_r) = (0f64, 0f64);
    let (mut band_l, mut band_r, mut band_hat) = (
        LowPass::new(fs, 15_000.0),
        LowPass::new(fs, 15_000.0),
        LowPass::new(fs, 15_000.0),
    );
    let hat_every = (fs * 0.25) as usize;
    for i in 0..n {
        let t = i as f64 / fs;
        let section = (t / 4.0) as u32;
        let mut level_db = -30.0 + ((section.wrapping_mul(2_654_435_761) >> 16) % 18) as f64;
        if (16.0..20.0).contains(&t) {
            level_db = -52.0; // below the relative gate
        }
        if (26.0..27.5).contains(&t) {
            level_db = -120.0; // below the absolute gate
        }
        let ending = t > seconds - ENDING;
        if ending {
            level_db = -2.0; // the loudest part
        }
        let g = 10f64.powf(level_db / 20.0);
        let bass = (2.0 * PI * 55.0 * t).sin();
        let chord = (2.0 * PI * 220.0 * t).sin() * 0.5
            + (2.0 * PI * 277.2 * t).sin() * 0.4
            + (2.0 * PI * 329.6 * t).sin() * 0.3;
        // Samples at ±cos 45° of its crests.
        let (bright, rest) = if ending {
            ((PI / 2.0 * i as f64 + PI / 4.0).sin() * 0.8, 0.3)
        } else {
            (0.0, 1.0)
        };
        lp_l += 0.2 * (band_l.tick(noise()) - lp_l);
        lp_r += 0.2 * (band_r.tick(noise()) - lp_r);
        let hat = band_hat.tick(if i % hat_every < (fs * 0.006) as usize {
            noise() * 1.5
        } else {
            0.0
        });
        let s = rest * (bass * 0.8 + chord);
        l.push((g * (bright + s + rest * (lp_l * 2.0 + hat))) as f32);
        r.push((g * (bright + s * 0.9 + rest * (lp_r * 2.0 - hat * 0.7))) as f32);
    }
    [l, r]
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// Real inter-sample peak of `x[lo..hi]` by 32× band-limited reconstruction:
/// a 2×256-tap Kaiser-windowed sinc (β = 12), evaluated only where the
/// whole kernel lies inside `x`. Written here, independent of rackd-dsp.
fn reconstructed_peak(x: &[f32], lo: usize, hi: usize) -> f64 {
    const FACTOR: usize = 32;
    const HALF: usize = 256;
    let bessel_i0 = |v: f64| {
        let (mut sum, mut term) = (1.0, 1.0);
        for k in 1..50 {
            term *= (v / 2.0) * (v / 2.0) / (k as f64 * k as f64);
            sum += term;
        }
        sum
    };
    let beta = 12.0;
    let kernels: Vec<Vec<f64>> = (1..FACTOR)
        .map(|k| {
            let frac = k as f64 / FACTOR as f64;
            (0..2 * HALF)
                .map(|j| {
                    // Tap j is sample n + 1 − HALF + j; distance from the point n + frac.
                    let d = frac - (j as f64 + 1.0 - HALF as f64);
                    let sinc = (PI * d).sin() / (PI * d);
                    let r = d / HALF as f64;
                    let w = if r.abs() < 1.0 {
                        bessel_i0(beta * (1.0 - r * r).sqrt()) / bessel_i0(beta)
                    } else {
                        0.0
                    };
                    sinc * w
                })
                .collect()
        })
        .collect();
    let lo = lo.max(HALF);
    let hi = hi.min(x.len() - HALF);
    let mut best = 0f64;
    for n in lo..hi {
        best = best.max((x[n] as f64).abs());
        let window = &x[n + 1 - HALF..n + 1 + HALF];
        for k in &kernels {
            let y: f64 = k.iter().zip(window).map(|(a, &b)| a * b as f64).sum();
            best = best.max(y.abs());
        }
    }
    best
}

/// The real peak of the ending (from `from` on): reconstructed around the
/// eight 1024-sample blocks with the highest samples of each channel (the
/// crests of the ending's steady fs/4 tone stand the same height over their
/// samples everywhere, so the highest samples mark the highest crests).
fn ending_peak(x: &[Vec<f32>; 2], from: usize) -> f64 {
    const BLOCK: usize = 1024;
    let mut best = 0f64;
    for c in x {
        let mut blocks: Vec<(f32, usize)> = (from..c.len() - BLOCK)
            .step_by(BLOCK)
            .map(|s| (c[s..s + BLOCK].iter().fold(0f32, |m, v| m.max(v.abs())), s))
            .collect();
        blocks.sort_by(|a, b| b.0.total_cmp(&a.0));
        for &(_, s) in blocks.iter().take(8) {
            best = best.max(reconstructed_peak(c, s, s + BLOCK));
        }
    }
    best
}

struct Peer {
    integrated: f64,
    lra: f64,
    max_momentary: f64,
    max_short_term: f64,
    sample_peak: f64,
    true_peak: f64,
}

/// The `ebur128` crate fed 10 ms at a time (our hop), momentary and
/// short-term read after each piece.
fn ebur128_of(fs: f64, [l, r]: &[Vec<f32>; 2]) -> Peer {
    let mut e = EbuR128::new(2, fs as u32, Mode::all() - Mode::HISTOGRAM).unwrap();
    let hop = ((fs + 50.0) / 100.0) as usize;
    let (mut mm, mut ms) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for (cl, cr) in l.chunks(hop).zip(r.chunks(hop)) {
        e.add_frames_planar_f32(&[cl, cr]).unwrap();
        mm = mm.max(e.loudness_momentary().unwrap());
        ms = ms.max(e.loudness_shortterm().unwrap());
    }
    Peer {
        integrated: e.loudness_global().unwrap(),
        lra: e.loudness_range().unwrap(),
        max_momentary: mm,
        max_short_term: ms,
        sample_peak: e.sample_peak(0).unwrap().max(e.sample_peak(1).unwrap()),
        true_peak: e.true_peak(0).unwrap().max(e.true_peak(1).unwrap()),
    }
}

/// One rate: measures, prints, and panics beyond the tolerances.
fn compare(fs: f64, seed: u32) {
    {
        let seconds = 50.0;
        let x = programme(fs, seconds, seed);
        // Odd block sizes, so no piece lines up with a 10 ms hop.
        let mut scan = Scan::new(fs, 2);
        for (cl, cr) in x[0].chunks(1531).zip(x[1].chunks(1531)) {
            scan.push(&[cl, cr]);
        }
        let ours = scan.result();
        let peer = ebur128_of(fs, &x);
        let our_sp = ours.sample_peak.iter().fold(0f32, |m, &v| m.max(v)) as f64;
        let our_tp = ours.true_peak.iter().fold(0f32, |m, &v| m.max(v)) as f64;

        // The real peak is in the loud ending: everything before it is more
        // than 3 dB lower (checked on the samples below) and has no content
        // near the Nyquist frequency that could peak far between samples.
        let end = x[0].len();
        let from = end - (fs * (ENDING + 0.1)) as usize;
        let real = ending_peak(&x, from);
        let before = x
            .iter()
            .flat_map(|c| &c[..from])
            .fold(0f32, |m, v| m.max(v.abs())) as f64;
        assert!(
            db(real) - db(before) > 3.0,
            "{fs} Hz: the peak is not where it is looked for: {:.2} dBFS before, {:.2} dBTP in the ending",
            db(before),
            db(real)
        );

        println!(
            "{fs} Hz: I {:.4} / {:.4} LUFS, LRA {:.4} / {:.4} LU, M max {:.4} / {:.4}, S max {:.4} / {:.4}, \
             sample peak {:.4} / {:.4} dBFS, true peak {:.4} / {:.4} dBTP, real {:.4} dBTP (rackd {:+.4} dB, ebur128 {:+.4} dB)",
            ours.integrated,
            peer.integrated,
            ours.lra,
            peer.lra,
            ours.max_momentary,
            peer.max_momentary,
            ours.max_short_term,
            peer.max_short_term,
            db(our_sp),
            db(peer.sample_peak),
            db(our_tp),
            db(peer.true_peak),
            db(real),
            db(our_tp) - db(real),
            db(peer.true_peak) - db(real),
        );
        for (what, got, want) in [
            ("integrated", ours.integrated, peer.integrated),
            ("LRA", ours.lra, peer.lra),
            ("max momentary", ours.max_momentary, peer.max_momentary),
            ("max short-term", ours.max_short_term, peer.max_short_term),
        ] {
            assert!(
                (got - want).abs() <= 0.01,
                "{fs} Hz {what}: {got:.4} vs ebur128 {want:.4}"
            );
        }
        // The signal really exercises the gates and the range.
        assert!(peer.lra > 3.0, "{fs} Hz: LRA {}", peer.lra);
        assert_eq!(our_sp, peer.sample_peak, "{fs} Hz sample peak");
        let over = db(our_tp) - db(real);
        assert!(
            (-0.4..=0.2).contains(&over),
            "{fs} Hz: true peak {:.4} dBTP vs real {:.4} dBTP ({over:+.4} dB)",
            db(our_tp),
            db(real)
        );
        assert!(
            db(real) - db(our_sp) > 0.3,
            "{fs} Hz: the test signal should have inter-sample peaks"
        );
    }
}

#[test]
fn scan_agrees_with_ebur128_and_the_real_true_peak() {
    // One thread per rate: the signals are long and the machine has cores.
    let runs: Vec<_> = [(44_100.0, 11), (48_000.0, 23), (96_000.0, 37)]
        .into_iter()
        .map(|(fs, seed)| std::thread::spawn(move || compare(fs, seed)))
        .collect();
    for r in runs {
        if let Err(e) = r.join() {
            std::panic::resume_unwind(e);
        }
    }
}
