//! EBU Tech 3341 (loudness meters) and Tech 3342 (loudness range) conformance,
//! with the test signals synthesized from their published descriptions at
//! 44.1, 48 and 96 kHz.
//!
//! Cases 1–6, 9 and 12 and the Tech 3342 cases follow the published signal
//! definitions. For cases 10, 11, 13 and 14 the published files shift the
//! same bursts by offsets we do not have, so we use offsets that are not
//! multiples of 10 ms (the worst case for a meter's hop). Cases 15–19 are the
//! published fs/4 sines at 0°, 45°, 60°, 67.5° phase (at half scale, and
//! √2 for +3 dBTP); for 20–23 we use
//! signals with known inter-sample peaks at 0 dBTP and judge the meter against
//! 16× oversampling, with the Tech 3341 true-peak tolerance (+0.2/−0.4 dB).

use rackd_dsp::loudness::Loudness;
use rackd_dsp::truepeak::{TruePeak, reference_peak};
use std::f64::consts::PI;

const RATES: [f64; 3] = [44_100.0, 48_000.0, 96_000.0];

/// A 1 kHz sine whose stereo loudness equals `dbfs` (each channel at that peak level).
struct Tone {
    fs: f64,
    n: u64,
}

impl Tone {
    fn new(fs: f64) -> Self {
        Tone { fs, n: 0 }
    }

    /// `frames` samples at peak level `dbfs` (None = silence).
    fn take(&mut self, frames: usize, dbfs: Option<f64>) -> Vec<f32> {
        let amp = dbfs.map_or(0.0, |d| 10f64.powf(d / 20.0));
        let v = (0..frames as u64)
            .map(|i| (amp * (2.0 * PI * 1000.0 * (self.n + i) as f64 / self.fs).sin()) as f32)
            .collect();
        self.n += frames as u64;
        v
    }
}

/// A signal as (seconds, peak level or silence) segments.
type Segments = Vec<(f64, Option<f64>)>;

fn frames(fs: f64, secs: f64) -> usize {
    (fs * secs).round() as usize
}

/// Feeds stereo segments of (seconds, level) in 10 ms blocks; calls `each`
/// after every block with the time in seconds.
fn feed(
    m: &mut Loudness,
    fs: f64,
    segs: &[(f64, Option<f64>)],
    mut each: impl FnMut(&Loudness, f64),
) {
    let mut tone = Tone::new(fs);
    let hop = frames(fs, 0.01);
    let mut t = 0usize;
    let mut pending: Vec<f32> = Vec::new();
    for &(secs, level) in segs {
        pending.extend(tone.take(frames(fs, secs), level));
        while pending.len() >= hop {
            let block: Vec<f32> = pending.drain(..hop).collect();
            m.process(&[&block, &block]);
            t += hop;
            each(m, t as f64 / fs);
        }
    }
    if !pending.is_empty() {
        m.process(&[&pending, &pending]);
    }
}

fn both(fs: f64) -> [Loudness; 2] {
    [Loudness::exact(fs, 2), Loudness::live(fs, 2)]
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:.3}, want {want} ±{tol}"
    );
}

#[test]
fn cases_1_and_2_steady_sines() {
    for fs in RATES {
        for level in [-23.0, -33.0] {
            for mut m in both(fs) {
                feed(&mut m, fs, &[(20.0, Some(level))], |_, _| {});
                let what = format!("case {} @ {fs}", if level == -23.0 { 1 } else { 2 });
                close(m.momentary(), level, 0.1, &what);
                close(m.short_term(), level, 0.1, &what);
                close(m.integrated(), level, 0.1, &what);
            }
        }
    }
}

#[test]
fn cases_3_to_5_gating() {
    let cases: [(&str, Segments); 3] = [
        (
            "3",
            vec![
                (10.0, Some(-36.0)),
                (60.0, Some(-23.0)),
                (10.0, Some(-36.0)),
            ],
        ),
        (
            "4",
            vec![
                (10.0, Some(-72.0)),
                (10.0, Some(-36.0)),
                (60.0, Some(-23.0)),
                (10.0, Some(-36.0)),
                (10.0, Some(-72.0)),
            ],
        ),
        (
            "5",
            vec![
                (20.0, Some(-26.0)),
                (20.1, Some(-20.0)),
                (20.0, Some(-26.0)),
            ],
        ),
    ];
    for fs in RATES {
        for (name, segs) in &cases {
            for mut m in both(fs) {
                feed(&mut m, fs, segs, |_, _| {});
                close(m.integrated(), -23.0, 0.1, &format!("case {name} @ {fs}"));
            }
        }
    }
}

#[test]
fn case_6_five_channels() {
    for fs in RATES {
        let levels = [-28.0, -28.0, -24.0, -30.0, -30.0];
        let mut tone = Tone::new(fs);
        let base = tone.take(frames(fs, 20.0), Some(0.0));
        let chans: Vec<Vec<f32>> = levels
            .iter()
            .map(|&l| {
                let g = 10f64.powf(l / 20.0) as f32;
                base.iter().map(|x| x * g).collect()
            })
            .collect();
        let refs: Vec<&[f32]> = chans.iter().map(|c| c.as_slice()).collect();
        let mut m = Loudness::exact(fs, 5);
        m.process(&refs);
        close(m.integrated(), -23.0, 0.1, &format!("case 6 @ {fs}"));
    }
}

#[test]
fn case_9_short_term_constant() {
    for fs in RATES {
        let segs: Vec<_> = (0..5)
            .flat_map(|_| [(1.34, Some(-20.0)), (1.66, Some(-30.0))])
            .collect();
        let mut m = Loudness::live(fs, 2);
        let mut checked = 0;
        feed(&mut m, fs, &segs, |m, t| {
            if t >= 3.0 - 1e-9 {
                close(
                    m.short_term(),
                    -23.0,
                    0.1,
                    &format!("case 9 @ {fs} t={t:.2}"),
                );
                checked += 1;
            }
        });
        assert!(checked > 1000);
    }
}

#[test]
fn case_12_momentary_constant() {
    for fs in RATES {
        let segs: Vec<_> = (0..25)
            .flat_map(|_| [(0.18, Some(-20.0)), (0.22, Some(-30.0))])
            .collect();
        let mut m = Loudness::live(fs, 2);
        let mut checked = 0;
        feed(&mut m, fs, &segs, |m, t| {
            if t >= 1.0 - 1e-9 {
                close(
                    m.momentary(),
                    -23.0,
                    0.1,
                    &format!("case 12 @ {fs} t={t:.2}"),
                );
                checked += 1;
            }
        });
        assert!(checked > 800);
    }
}

/// Cases 10 and 13: one burst of `len` seconds at −23 after an offset; the
/// maximum of S (10) or M (13) must read −23.
fn burst_max(fs: f64, len: f64, offset: f64, short: bool) -> f64 {
    let mut m = Loudness::live(fs, 2);
    feed(
        &mut m,
        fs,
        &[(offset, None), (len, Some(-23.0)), (len, None)],
        |_, _| {},
    );
    if short {
        m.max_short_term()
    } else {
        m.max_momentary()
    }
}

#[test]
fn cases_10_and_13_burst_maxima() {
    for fs in RATES {
        for k in 0..20 {
            let offset = 0.5 + k as f64 * 0.0137;
            close(
                burst_max(fs, 3.0, offset, true),
                -23.0,
                0.1,
                &format!("case 10-{} @ {fs}", k + 1),
            );
            close(
                burst_max(fs, 0.4, offset, false),
                -23.0,
                0.1,
                &format!("case 13-{} @ {fs}", k + 1),
            );
        }
    }
}

/// Cases 11 and 14: 20 segments, segment k holds a burst at −38+k; the maximum
/// of S (11, 6 s segments, 3 s bursts) or M (14, 0.8 s segments, 0.4 s bursts)
/// within each segment must read the burst's level.
fn stepped_maxima(fs: f64, seg: f64, burst: f64, short: bool) {
    let mut segs = Vec::new();
    for k in 0..20 {
        let pre = (seg - burst) * (k as f64 + 0.5) / 21.0;
        segs.push((pre, None));
        segs.push((burst, Some(-38.0 + k as f64)));
        segs.push((seg - burst - pre, None));
    }
    let mut maxima = [f64::NEG_INFINITY; 20];
    let mut m = Loudness::live(fs, 2);
    feed(&mut m, fs, &segs, |m, t| {
        let k = ((t - 1e-9) / seg) as usize;
        if k < 20 {
            let v = if short { m.short_term() } else { m.momentary() };
            maxima[k] = maxima[k].max(v);
        }
    });
    for (k, &got) in maxima.iter().enumerate() {
        let case = if short { 11 } else { 14 };
        close(
            got,
            -38.0 + k as f64,
            0.1,
            &format!("case {case} segment {k} @ {fs}"),
        );
    }
}

#[test]
fn cases_11_and_14_stepped_maxima() {
    for fs in RATES {
        stepped_maxima(fs, 6.0, 3.0, true);
        stepped_maxima(fs, 0.8, 0.4, false);
    }
}

fn meter_tp(x: &[f32]) -> f64 {
    let mut tp = TruePeak::new();
    20.0 * (tp.block_max(x, 0.0) as f64).log10()
}

fn tp_close(got: f64, want: f64, what: &str) {
    assert!(
        got - want <= 0.2 && want - got <= 0.4,
        "{what}: {got:.3} dBTP, want {want} +0.2/-0.4"
    );
}

#[test]
fn cases_15_to_19_quarter_rate_sines() {
    for fs in RATES {
        let n = frames(fs, 1.0);
        let sine = |phase_deg: f64, amp: f64| -> Vec<f32> {
            (0..n)
                .map(|i| (amp * (PI / 2.0 * i as f64 + phase_deg.to_radians()).sin()) as f32)
                .collect()
        };
        // "−6 dBFS" as test files write it: half scale.
        let half = 0.5;
        for (case, phase) in [(15, 0.0), (16, 45.0), (17, 60.0), (18, 67.5)] {
            tp_close(
                meter_tp(&sine(phase, half)),
                -6.0,
                &format!("case {case} @ {fs}"),
            );
        }
        let x = sine(45.0, 2f64.sqrt());
        tp_close(meter_tp(&x), 3.0, &format!("case 19 @ {fs}"));
    }
}

#[test]
fn cases_20_to_23_inter_sample_peaks_against_16x() {
    for fs in RATES {
        let n = frames(fs, 0.2);
        let mut signals: Vec<(u32, Vec<f32>)> = Vec::new();
        // 20: fs/8 at 22.5°: every sample misses the crest.
        signals.push((
            20,
            (0..n)
                .map(|i| (PI / 4.0 * i as f64 + PI / 8.0).sin() as f32)
                .collect(),
        ));
        // 21: fs/6 at 15°.
        signals.push((
            21,
            (0..n)
                .map(|i| (PI / 3.0 * i as f64 + PI / 12.0).sin() as f32)
                .collect(),
        ));
        // 22: a band-limited click centred half-way between two samples.
        signals.push((
            22,
            (0..n)
                .map(|i| {
                    let d = i as f64 - n as f64 / 2.0 - 0.5;
                    let w = 0.5 + 0.5 * (PI * d / 64.0).cos();
                    if d.abs() < 64.0 {
                        (0.8 * (0.8 * PI * d).sin() / (0.8 * PI * d) * w) as f32
                    } else {
                        0.0
                    }
                })
                .collect(),
        ));
        // 23: two tones whose crests coincide between samples.
        signals.push((
            23,
            (0..n)
                .map(|i| {
                    let t = i as f64 + 0.37;
                    (0.5 * (2.0 * PI * 0.11 * t).cos() + 0.5 * (2.0 * PI * 0.23 * t).cos()) as f32
                })
                .collect(),
        ));
        for (case, x) in signals {
            let reference = 20.0 * (reference_peak(&x, 16) as f64).log10();
            let sample = 20.0 * (x.iter().fold(0f32, |m, v| m.max(v.abs())) as f64).log10();
            let got = meter_tp(&x);
            assert!(
                reference - sample > 0.05,
                "case {case}: signal must have an inter-sample peak"
            );
            tp_close(
                got,
                reference,
                &format!("case {case} @ {fs} (16x reference {reference:.3})"),
            );
        }
    }
}

#[test]
fn tech_3342_cases_1_to_4() {
    let cases: [(f64, Vec<f64>); 4] = [
        (10.0, vec![-20.0, -30.0]),
        (5.0, vec![-20.0, -15.0]),
        (20.0, vec![-40.0, -20.0]),
        (15.0, vec![-50.0, -35.0, -20.0, -35.0, -50.0]),
    ];
    for fs in RATES {
        for (i, (want, levels)) in cases.iter().enumerate() {
            let segs: Vec<_> = levels.iter().map(|&l| (20.0, Some(l))).collect();
            for mut m in both(fs) {
                feed(&mut m, fs, &segs, |_, _| {});
                close(
                    m.loudness_range(),
                    *want,
                    1.0,
                    &format!("3342 case {} @ {fs}", i + 1),
                );
            }
        }
    }
}

#[test]
fn live_histogram_agrees_with_exact_gating() {
    let fs = 48_000.0;
    let segs: Vec<_> = (0..30)
        .map(|k| (1.7, Some(-40.0 + (k * 7 % 23) as f64)))
        .collect();
    let [mut exact, mut live] = both(fs);
    feed(&mut exact, fs, &segs, |_, _| {});
    feed(&mut live, fs, &segs, |_, _| {});
    close(live.integrated(), exact.integrated(), 0.01, "integrated");
    close(live.loudness_range(), exact.loudness_range(), 0.02, "lra");
}

/// The chain's `loudness` slot publishes the same conformant numbers through
/// the lock-free `Meters`, read from another thread while audio runs.
#[test]
fn loudness_slot_publishes_conformant_readings_across_threads() {
    use rackd_dsp::{Meters, SlotKind};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let fs = 48_000.0;
    let meters = Meters::new();
    let mut slot = SlotKind::Loudness.build(fs as f32, 1024, meters.clone());
    let running = Arc::new(AtomicBool::new(true));
    let reader = {
        let (m, running) = (meters.clone(), running.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while running.load(Ordering::Relaxed) {
                let r = m.take();
                assert!(!r.lufs_m.is_nan() && r.correlation <= 1.0);
                reads += 1;
            }
            reads
        })
    };
    // Tech 3342 case 1 (20 s at −20, 20 s at −30), then a −23 tone for case 1's M/S.
    let mut tone = Tone::new(fs);
    for (secs, level) in [(20.0, -20.0), (20.0, -30.0)] {
        let x = tone.take(frames(fs, secs), Some(level));
        for chunk in x.chunks(480) {
            let (mut l, mut r) = (chunk.to_vec(), chunk.to_vec());
            slot.process(&mut l, &mut r);
        }
    }
    running.store(false, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    let r = meters.peek();
    close(r.lra as f64, 10.0, 1.0, "slot LRA (3342 case 1)");
    close(r.lufs_s as f64, -30.0, 0.1, "slot short-term");
    close(r.lufs_m as f64, -30.0, 0.1, "slot momentary");
    // Integrated: equal halves at −20 and −30 (both above the −32.6 relative gate).
    let want = 10.0 * ((10f64.powf(-2.0) + 10f64.powf(-3.0)) / 2.0).log10();
    close(r.lufs_i as f64, want, 0.1, "slot integrated");
    assert!(
        (r.correlation - 1.0).abs() < 1e-3,
        "identical channels correlate 1"
    );
    let tp = 20.0 * (meters.take().true_peak[0] as f64).log10();
    // The peak since the reader's last take(): the −30 dBFS tone.
    assert!(tp <= -20.0 + 0.01, "{tp}");
}

/// Why the live meter reads at a 10 ms hop: reading momentary loudness only
/// every 100 ms misses a 0.4 s burst's maximum by more than Tech 3341 allows.
#[test]
fn case_13_needs_the_fine_hop() {
    let fs = 48_000.0;
    let mut worst_coarse = 0f64;
    for k in 0..20 {
        let offset = 0.5 + k as f64 * 0.0137;
        let mut m = Loudness::live(fs, 2);
        let mut coarse = f64::NEG_INFINITY;
        let mut step = 0u32;
        feed(
            &mut m,
            fs,
            &[(offset, None), (0.4, Some(-23.0)), (0.4, None)],
            |m, _| {
                step += 1;
                if step % 10 == 0 {
                    coarse = coarse.max(m.momentary());
                }
            },
        );
        close(m.max_momentary(), -23.0, 0.1, "fine hop");
        worst_coarse = worst_coarse.max(-23.0 - coarse);
    }
    assert!(
        worst_coarse > 0.1,
        "a 100 ms hop would miss by {worst_coarse:.2} LU"
    );
}
