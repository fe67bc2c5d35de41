//! Loudness + LRA + true-peak analysis of 10 minutes of stereo 48 kHz,
//! rackd-dsp against the `ebur128` crate in the same run.
//!
//! Run: `cargo bench -p rackd-dsp --bench analysis`
//!
//! Prints throughput of each, the ratio, and the agreement of integrated
//! loudness, LRA, max momentary/short-term, sample peak and true peak. True
//! peak depends on each meter's interpolation filter, so both are also
//! compared with a 16× windowed-sinc reference around the loudest blocks.

use ebur128::{EbuR128, Mode};
use rackd_dsp::analysis::Scan;
use rackd_dsp::truepeak::{TruePeak, reference_peak};
use std::time::Instant;

const FS: u32 = 48_000;
const SECONDS: usize = 600;
const BLOCK: usize = 4096;

/// A deterministic, music-like programme: tones, noise bands and transients
/// whose level moves section by section (so LRA and gating have work to do).
fn programme() -> [Vec<f32>; 2] {
    let n = FS as usize * SECONDS;
    let mut l = Vec::with_capacity(n);
    let mut r = Vec::with_capacity(n);
    let mut seed = 0x1234_5678u32;
    let mut noise = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed as f32 / u32::MAX as f32 - 0.5
    };
    let (mut lp_l, mut lp_r) = (0f32, 0f32);
    let fs = FS as f32;
    for i in 0..n {
        let t = i as f32 / fs;
        let section = (i / (FS as usize * 7)) as u32;
        let level_db = -30.0 + ((section.wrapping_mul(2_654_435_761) >> 16) % 18) as f32;
        let g = 10f32.powf(level_db / 20.0);
        let bass = (2.0 * std::f32::consts::PI * 55.0 * t).sin();
        let chord = (2.0 * std::f32::consts::PI * 220.0 * t).sin() * 0.5
            + (2.0 * std::f32::consts::PI * 277.2 * t).sin() * 0.4
            + (2.0 * std::f32::consts::PI * 329.6 * t).sin() * 0.3;
        lp_l += 0.2 * (noise() - lp_l);
        lp_r += 0.2 * (noise() - lp_r);
        let hat = if i % 12_000 < 300 { noise() * 2.0 } else { 0.0 };
        let s = bass * 0.8 + chord;
        l.push(g * (s + lp_l * 2.0 + hat));
        r.push(g * (s * 0.9 + lp_r * 2.0 - hat * 0.7));
    }
    [l, r]
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

fn main() {
    let [l, r] = programme();
    let secs = SECONDS as f64;

    // Best of three runs each, interleaved, so a busy machine hurts both alike.
    let run_ours = || {
        let t0 = Instant::now();
        let mut scan = Scan::new(FS as f64, 2);
        for (cl, cr) in l.chunks(BLOCK).zip(r.chunks(BLOCK)) {
            scan.push(&[cl, cr]);
        }
        let res = scan.result();
        (t0.elapsed().as_secs_f64(), res)
    };

    let run_ebur = |mode: Mode| {
        let t0 = Instant::now();
        let mut e = EbuR128::new(2, FS, mode).unwrap();
        for (cl, cr) in l.chunks(BLOCK).zip(r.chunks(BLOCK)) {
            e.add_frames_planar_f32(&[cl, cr]).unwrap();
        }
        let i = e.loudness_global().unwrap();
        let lra = e.loudness_range().unwrap();
        let sp = e.sample_peak(0).unwrap().max(e.sample_peak(1).unwrap());
        let tp = e.true_peak(0).unwrap().max(e.true_peak(1).unwrap());
        (t0.elapsed().as_secs_f64(), i, lra, sp, tp)
    };
    let all = Mode::all();
    let exact = Mode::all() - Mode::HISTOGRAM;
    let (mut t_ours, ours) = run_ours();
    let (mut t_all, i_all, lra_all, sp_all, tp_all) = run_ebur(all);
    let (mut t_ex, i_ex, lra_ex, sp_ex, tp_ex) = run_ebur(exact);
    for _ in 0..2 {
        t_ours = t_ours.min(run_ours().0);
        t_all = t_all.min(run_ebur(all).0);
        t_ex = t_ex.min(run_ebur(exact).0);
    }

    let our_sp = ours.sample_peak.iter().fold(0f32, |m, &v| m.max(v)) as f64;
    let our_tp = ours.true_peak.iter().fold(0f32, |m, &v| m.max(v)) as f64;

    // 16x reference around the 16 blocks with the highest 4x reading.
    let mut blocks: Vec<(f32, usize)> = Vec::new();
    for (b, (cl, cr)) in l.chunks(BLOCK).zip(r.chunks(BLOCK)).enumerate() {
        let m = TruePeak::new()
            .block_max(cl, 0.0)
            .max(TruePeak::new().block_max(cr, 0.0));
        blocks.push((m, b));
    }
    blocks.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut reference = 0f32;
    for &(_, b) in blocks.iter().take(16) {
        let lo = (b * BLOCK).saturating_sub(128);
        let hi = ((b + 1) * BLOCK + 128).min(l.len());
        reference = reference
            .max(reference_peak(&l[lo..hi], 16))
            .max(reference_peak(&r[lo..hi], 16));
    }
    let reference = reference as f64;

    println!("programme: {SECONDS} s stereo {FS} Hz (synthetic, deterministic); best of 3 runs");
    println!(
        "rackd-dsp Scan           : {:7.3} s  ({:6.1}x real time)",
        t_ours,
        secs / t_ours
    );
    println!(
        "ebur128 Mode::all()      : {:7.3} s  ({:6.1}x real time)  -> rackd-dsp is {:.2}x faster",
        t_all,
        secs / t_all,
        t_all / t_ours
    );
    println!(
        "ebur128 all but HISTOGRAM: {:7.3} s  ({:6.1}x real time)  -> rackd-dsp is {:.2}x faster",
        t_ex,
        secs / t_ex,
        t_ex / t_ours
    );
    println!();
    println!("                      rackd-dsp   ebur128(exact)  ebur128(all)   |diff exact|");
    println!(
        "integrated LUFS      {:10.4}  {:12.4}  {:12.4}   {:.4} LU",
        ours.integrated,
        i_ex,
        i_all,
        (ours.integrated - i_ex).abs()
    );
    println!(
        "LRA LU               {:10.4}  {:12.4}  {:12.4}   {:.4} LU",
        ours.lra,
        lra_ex,
        lra_all,
        (ours.lra - lra_ex).abs()
    );
    println!(
        "sample peak dBFS     {:10.4}  {:12.4}  {:12.4}   {:.4} dB",
        db(our_sp),
        db(sp_ex),
        db(sp_all),
        (db(our_sp) - db(sp_ex)).abs()
    );
    println!(
        "true peak dBTP       {:10.4}  {:12.4}  {:12.4}   {:.4} dB",
        db(our_tp),
        db(tp_ex),
        db(tp_all),
        (db(our_tp) - db(tp_ex)).abs()
    );
    println!(
        "true peak vs 16x reference ({:.4} dBTP): rackd-dsp {:+.4} dB, ebur128 {:+.4} dB",
        db(reference),
        db(our_tp) - db(reference),
        db(tp_ex) - db(reference)
    );
    println!(
        "max momentary {:.3} LUFS, max short-term {:.3} LUFS (rackd-dsp, 10 ms hop)",
        ours.max_momentary, ours.max_short_term
    );
    let ok = (ours.integrated - i_ex).abs() <= 0.01
        && (ours.lra - lra_ex).abs() <= 0.01
        && (db(our_sp) - db(sp_ex)).abs() <= 0.05
        && (-0.4..=0.2).contains(&(db(our_tp) - db(reference)));
    println!(
        "agreement (I and LRA within 0.01 LU, sample peak within 0.05 dB, true peak within +0.2/-0.4 dB of 16x (Tech 3341)): {}",
        if ok { "yes" } else { "NO" }
    );
}
