//! `truepeak::reference_peak`, the ground truth of the EBU true-peak cases
//! and the limiter tests, on signals whose inter-sample peak is known in
//! closed form.
//!
//! Tolerance: within 0.005 dB of the closed-form peak where a point of the
//! oversampled grid falls on it; where none does, between the closed-form
//! lower bound of a grid of that spacing and 0.005 dB above the peak.

use rackd_dsp::truepeak::reference_peak;
use std::f64::consts::PI;

const TOL_DB: f64 = 0.005;

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

fn signal(n: usize, f: impl Fn(f64) -> f64) -> Vec<f32> {
    (0..n).map(|i| f(i as f64) as f32).collect()
}

fn near(got: f32, want: f64, what: &str) {
    let err = db(got as f64) - db(want);
    assert!(
        err.abs() <= TOL_DB,
        "{what}: reference {got} vs closed form {want} ({err:+.5} dB)"
    );
}

#[test]
fn quarter_rate_sine_at_45_degrees_peaks_between_samples() {
    // sin(π/2·n + π/4): samples at ±A·cos 45°, the peak A at n + 1/2.
    let a = 0.5;
    let x = signal(1024, |n| a * (PI / 2.0 * n + PI / 4.0).sin());
    let sample_peak = x.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
    assert!((sample_peak - a * (PI / 4.0).cos()).abs() < 1e-6);
    for factor in [2, 4, 16] {
        near(
            reference_peak(&x, factor),
            a,
            &format!("fs/4 at 45°, {factor}×"),
        );
    }
    // Without oversampling it is the sample peak.
    near(reference_peak(&x, 1), sample_peak, "fs/4 at 45°, 1×");
}

#[test]
fn quarter_rate_sine_at_0_degrees_peaks_on_samples() {
    let a = 0.9;
    let x = signal(1024, |n| a * (PI / 2.0 * n).sin());
    for factor in [4, 16] {
        near(
            reference_peak(&x, factor),
            a,
            &format!("fs/4 at 0°, {factor}×"),
        );
    }
}

#[test]
fn two_cosines_aligned_half_a_sample_off_the_grid() {
    // cos ω1(t − t0) + cos ω2(t − t0) at fs/4 and fs/10 peaks at exactly 2A
    // at t0 = 2048.5 (and every 20 samples from there, always half-way
    // between samples); the samples reach at most A·(cos 45° + cos 18°).
    let (a, t0) = (0.4, 2048.5);
    let (w1, w2) = (2.0 * PI * 0.25, 2.0 * PI * 0.1);
    let x = signal(4096, |n| {
        a * ((w1 * (n - t0)).cos() + (w2 * (n - t0)).cos())
    });
    let sample_peak = x.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
    let bound = a * ((PI / 4.0).cos() + (PI / 10.0).cos());
    assert!(sample_peak <= bound + 1e-6, "{sample_peak} > {bound}");
    near(reference_peak(&x, 16), 2.0 * a, "two cosines, 16×");
}

#[test]
fn band_limited_pulse_between_two_samples() {
    // Samples of sinc(B·(t − t0)), band-limited to B·fs/2 = 0.45 fs, with t0
    // half-way between two samples: the pulse is 1 at t0, the samples next to
    // it are sinc(B/2) = 0.699. Its tails are tapered (Hann over ±1024
    // samples) so the buffer is finite; the taper is 1 at t0.
    let (t0, b) = (2048.5, 0.9);
    let x = signal(4097, |n| {
        let d = n - t0;
        let taper = 0.5 + 0.5 * (PI * d / 1024.0).cos();
        if d.abs() < 1024.0 {
            (PI * b * d).sin() / (PI * b * d) * taper
        } else {
            0.0
        }
    });
    let sample_peak = x.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
    let next = (PI * b / 2.0).sin() / (PI * b / 2.0);
    assert!((sample_peak - next).abs() < 1e-3, "{sample_peak} vs {next}");
    near(reference_peak(&x, 16), 1.0, "pulse at a half sample, 16×");
}

#[test]
fn sines_off_the_grid_stay_within_the_grid_bound() {
    for fs in [44_100.0, 48_000.0, 96_000.0] {
        for (f, phase) in [
            (997.0, 0.3),
            (7_000.0, 1.1),
            (15_000.0, 2.5),
            (19_500.0, 0.7),
        ] {
            let a = 0.7;
            let x = signal(1024, |n| a * (2.0 * PI * f * n / fs + phase).sin());
            for factor in [4usize, 16] {
                // The grid point nearest the crest is at most half a step
                // (1 / 2·factor samples) away from it.
                let lower = a * (PI * f / fs / factor as f64).cos();
                let got = reference_peak(&x, factor) as f64;
                assert!(
                    got >= lower * (1.0 - 1e-6) && db(got) - db(a) <= TOL_DB,
                    "{fs} Hz, {f} Hz sine, {factor}×: {got} not in [{lower}, {a}]"
                );
            }
        }
    }
}

#[test]
fn dc_reads_its_level() {
    let x = vec![0.25f32; 1024];
    near(reference_peak(&x, 16), 0.25, "DC");
}
