//! Today's results, pinned: loudness (integrated, LRA, max momentary and
//! short-term) and peaks of `analysis::Scan` and of the live meter on a few
//! generated programmes, the EQ's output bits and the compressor's output
//! (against the straightforward per-sample version it was), all recorded
//! before the speed work of issue 17. The speed-ups must not move loudness
//! by more than 0.0001 LU nor the compressor by more than 0.0001 dB, and the
//! BS.1770 true and sample peaks and the EQ output not at all (the same
//! operations in the same order, only arranged to run faster).

use rackd_dsp::analysis::{Analyzer, Scan};
use rackd_dsp::loudness::Loudness;
use rackd_dsp::{Meters, SlotKind};

/// A deterministic programme: sections of noise and partials at changing
/// levels, with a transient every 250 ms, `seconds` long, L ≠ R.
fn programme(fs: f64, seconds: f64, seed: u32) -> [Vec<f32>; 2] {
    let n = (fs * seconds) as usize;
    let mut s = seed;
    let mut noise = move || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        s as f64 / u32::MAX as f64 - 0.5
    };
    let mut lp = [0f64; 2];
    let mut out = [Vec::with_capacity(n), Vec::with_capacity(n)];
    for i in 0..n {
        let t = i as f64 / fs;
        let section = (t / 1.7) as u32;
        let level = 10f64.powf((-28.0 + ((section * 7919) % 19) as f64) / 20.0);
        let tone = (2.0 * std::f64::consts::PI * 61.0 * t).sin()
            + 0.5 * (2.0 * std::f64::consts::PI * 1234.5 * t).sin()
            + 0.25 * (2.0 * std::f64::consts::PI * 9876.0 * t).sin();
        let hit = if (i % (fs as usize / 4)) < 40 {
            3.0 * noise()
        } else {
            0.0
        };
        for (ch, o) in out.iter_mut().enumerate() {
            lp[ch] += 0.3 * (noise() - lp[ch]);
            let v = level * (tone * (1.0 - 0.2 * ch as f64) + 2.0 * lp[ch] + hit);
            o.push(v as f32);
        }
    }
    out
}

struct Pinned {
    integrated: f64,
    lra: f64,
    max_momentary: f64,
    max_short_term: f64,
    sample_peak: [u32; 2],
    true_peak: [u32; 2],
}

fn check_scan(what: &str, fs: f64, x: &[Vec<f32>; 2], block: usize, want: &Pinned) {
    let mut scan = Scan::new(fs, 2);
    for (l, r) in x[0].chunks(block).zip(x[1].chunks(block)) {
        scan.push(&[l, r]);
    }
    let got = scan.result();
    println!(
        "{what}: I {:?} LRA {:?} M {:?} S {:?} sample {:?} true {:?}",
        got.integrated,
        got.lra,
        got.max_momentary,
        got.max_short_term,
        got.sample_peak
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>(),
        got.true_peak
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    );
    for (name, a, b) in [
        ("integrated", got.integrated, want.integrated),
        ("LRA", got.lra, want.lra),
        ("max momentary", got.max_momentary, want.max_momentary),
        ("max short-term", got.max_short_term, want.max_short_term),
    ] {
        assert!((a - b).abs() <= 1e-4, "{what}: {name} {a} vs pinned {b}");
    }
    for ch in 0..2 {
        assert_eq!(
            got.sample_peak[ch].to_bits(),
            want.sample_peak[ch],
            "{what}: sample peak {ch}"
        );
        assert_eq!(
            got.true_peak[ch].to_bits(),
            want.true_peak[ch],
            "{what}: true peak {ch}"
        );
    }
}

#[test]
fn scan_results_are_todays() {
    for (fs, block, seed, want) in [
        (
            44_100.0,
            1000,
            3,
            Pinned {
                integrated: -14.97628141815612,
                lra: 9.327359025302519,
                max_momentary: -10.322785453511644,
                max_short_term: -11.695699475027753,
                sample_peak: [1064592365, 1062899195],
                true_peak: [1066246677, 1064345150],
            },
        ),
        (
            48_000.0,
            4096,
            1,
            Pinned {
                integrated: -14.962135451436888,
                lra: 9.357932984952848,
                max_momentary: -10.32121865337008,
                max_short_term: -11.670830169573259,
                sample_peak: [1065417377, 1063028591],
                true_peak: [1067067825, 1065564483],
            },
        ),
        (
            96_000.0,
            1024,
            2,
            Pinned {
                integrated: -14.892715156188268,
                lra: 9.38348913870271,
                max_momentary: -10.241615898805653,
                max_short_term: -11.597626062368407,
                sample_peak: [1064561264, 1064083760],
                true_peak: [1065527628, 1064083760],
            },
        ),
    ] {
        let x = programme(fs, 20.0, seed);
        check_scan(&format!("{fs} Hz"), fs, &x, block, &want);
    }
}

/// The live meter (histogram gating, as on the audio thread) in a chain's
/// `loudness` slot, fed in 64-frame periods.
#[test]
fn live_meter_results_are_todays() {
    for (fs, seed, want) in [
        (
            48_000.0f32,
            4,
            [
                -15.118549f32,
                -12.370539,
                -14.19231,
                7.495734,
                1.0228115,
                0.883032,
            ],
        ),
        (
            96_000.0,
            5,
            [
                -15.029649, -12.289571, -14.115714, 7.513726, 1.0582249, 1.0309685,
            ],
        ),
    ] {
        let x = programme(fs as f64, 12.0, seed);
        let meters = Meters::new();
        let mut m = SlotKind::Loudness.build(fs, 64, meters.clone());
        let mut tp = [0f32; 2];
        for (l, r) in x[0].chunks(64).zip(x[1].chunks(64)) {
            let (mut l, mut r) = (l.to_vec(), r.to_vec());
            m.process(&mut l, &mut r);
            let read = meters.take();
            tp = [tp[0].max(read.true_peak[0]), tp[1].max(read.true_peak[1])];
        }
        let read = meters.peek();
        let got = [
            read.lufs_m,
            read.lufs_s,
            read.lufs_i,
            read.lra,
            tp[0],
            tp[1],
        ];
        println!("{fs} Hz live: {got:?}");
        for i in 0..4 {
            assert!(
                (got[i] - want[i]).abs() <= 1e-4,
                "{fs} Hz: reading {i}: {} vs {}",
                got[i],
                want[i]
            );
        }
        assert_eq!(got[4].to_bits(), want[4].to_bits(), "{fs} Hz: true peak L");
        assert_eq!(got[5].to_bits(), want[5].to_bits(), "{fs} Hz: true peak R");
    }
    // The same meter as a plain `Loudness`, exact gating, one odd block size.
    let x = programme(44_100.0, 12.0, 6);
    let mut l = Loudness::exact(44_100.0, 2);
    for (a, b) in x[0].chunks(777).zip(x[1].chunks(777)) {
        l.process(&[a, b]);
    }
    let got = [
        l.integrated(),
        l.loudness_range(),
        l.max_momentary(),
        l.max_short_term(),
    ];
    println!("Loudness::exact 44.1 kHz: {got:?}");
    let want = [
        -14.181955145814007f64,
        7.530774264992944,
        -10.2918699404861,
        -11.663045184577776,
    ];
    for i in 0..4 {
        assert!(
            (got[i] - want[i]).abs() <= 1e-4,
            "Loudness {i}: {} vs {}",
            got[i],
            want[i]
        );
    }
}

/// Hash of output sample bits, block by block (left then right).
fn hash(h: u64, l: &[f32], r: &[f32]) -> u64 {
    l.iter().chain(r).fold(h, |h, v| {
        h.wrapping_mul(1_000_003).wrapping_add(v.to_bits() as u64)
    })
}

/// The EQ's output, bit for bit as before the speed work: shelves, bells, a
/// 48 dB/oct high pass, a mid and a left band, a glide and a band switched
/// out and back in.
#[test]
fn eq_output_is_todays() {
    let fs = 48_000.0f32;
    let mut eq = SlotKind::Eq.build(fs, 1024, Meters::new());
    let pb = rackd_dsp::eq::PARAMS_PER_BAND;
    // type, freq, gain, q, slope, channel
    let bands = [
        (1.0, 80.0, 2.0, 0.7, 0.0, 0.0),
        (0.0, 300.0, -2.0, 1.0, 0.0, 0.0),
        (4.0, 30.0, 0.0, 0.7, 3.0, 0.0),
        (0.0, 3000.0, 1.5, 1.4, 0.0, 3.0),
        (2.0, 10000.0, 2.0, 0.7, 0.0, 0.0),
        (0.0, 5000.0, 3.0, 2.0, 0.0, 1.0),
    ];
    for (b, &(t, f, g, q, sl, ch)) in bands.iter().enumerate() {
        for (i, v) in [1.0, t, f, g, q, sl, ch].into_iter().enumerate() {
            eq.set_param(b * pb + i, v);
        }
    }
    let mut s = 1u32;
    let mut h = 0u64;
    for blk in 0..2000 {
        if blk == 700 {
            eq.set_param(2, 120.0);
            eq.set_param(3 * pb, 0.0);
        }
        if blk == 1200 {
            eq.set_param(3 * pb, 1.0);
        }
        let mut l: Vec<f32> = (0..100)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                s as f32 / u32::MAX as f32 - 0.5
            })
            .collect();
        let mut r: Vec<f32> = l.iter().map(|v| v * 0.5 + 0.01).collect();
        eq.process(&mut l, &mut r);
        h = hash(h, &l, &r);
    }
    assert_eq!(h, 0xeda8_6012_206c_7d80, "{h:x}");
}

/// The compressor as it was before the speed work, sample by sample with
/// the library's log10 and powf: the reference for the one that now runs
/// its stages side by side with its own logarithm and exponential.
struct ReferenceCompressor {
    threshold: f32,
    ratio: f32,
    knee: f32,
    attack: f32,
    release: f32,
    rms: bool,
    mid_side: bool,
    sc_hp: Option<[rackd_dsp::biquad::Biquad; 2]>,
    makeup: f32,
    ms: [f32; 2],
    rms_coeff: f32,
    env: [f32; 2],
}

impl ReferenceCompressor {
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let (x0, x1) = (rackd_dsp::sanitize(*l), rackd_dsp::sanitize(*r));
            let (d0, d1) = if self.mid_side {
                (0.5 * (x0 + x1), 0.5 * (x0 - x1))
            } else {
                (x0, x1)
            };
            let mut det = [d0, d1];
            if let Some(hp) = &mut self.sc_hp {
                for (d, f) in det.iter_mut().zip(hp.iter_mut()) {
                    *d = f.tick(*d as f64) as f32;
                }
            }
            let mut level = [0f32; 2];
            for ch in 0..2 {
                let v = det[ch];
                level[ch] = if self.rms {
                    self.ms[ch] = v * v + (self.ms[ch] - v * v) * self.rms_coeff;
                    10.0 * self.ms[ch].max(1e-20).log10()
                } else {
                    20.0 * v.abs().max(1e-10).log10()
                };
            }
            if !self.mid_side {
                let m = level[0].max(level[1]);
                level = [m, m];
            }
            let mut g = [0f32; 2];
            for ch in 0..2 {
                let t = rackd_dsp::compressor::gain_computer(
                    level[ch],
                    self.threshold,
                    self.ratio,
                    self.knee,
                );
                let k = if t < self.env[ch] {
                    self.attack
                } else {
                    self.release
                };
                self.env[ch] = t + (self.env[ch] - t) * k;
                if self.env[ch].abs() < 1e-6 {
                    self.env[ch] = 0.0;
                }
                g[ch] = rackd_dsp::db_to_gain(self.env[ch]);
            }
            let (y0, y1) = if self.mid_side {
                let (m, s) = (d0 * g[0], d1 * g[1]);
                (m + s, m - s)
            } else {
                (x0 * g[0], x1 * g[1])
            };
            *l = y0 * self.makeup;
            *r = y1 * self.makeup;
        }
    }
}

/// The compressor against that reference: peak and RMS, linked and M/S
/// (switched half way), soft and hard knee, sidechain high pass, NaN
/// input, loud and quiet sections; every output sample within what a gain error of 0.0001 dB
/// makes (1.2e-5 of the input, −98 dB).
#[test]
fn compressor_output_is_todays_within_0_0001_db() {
    use rackd_dsp::biquad::{Biquad, Shape, design};
    use rackd_dsp::compressor::Compressor as C;
    let fs = 48_000.0f32;
    let coeff = |ms: f32| (-1.0 / (ms * 0.001 * fs)).exp();
    for (rms, ms, knee, hp) in [
        (false, false, 6.0, false),
        (true, false, 0.0, true),
        (false, true, 3.0, false),
        (true, true, 12.0, true),
        (false, false, 0.0, false),
    ] {
        let mut c = SlotKind::Compressor.build(fs, 1024, Meters::new());
        for (i, v) in [
            (C::THRESHOLD, -24.0),
            (C::RATIO, 3.0),
            (C::KNEE, knee),
            (C::DETECTOR, rms as i32 as f32),
            (C::LINK, ms as i32 as f32),
            (C::SC_HP_ON, hp as i32 as f32),
            (C::SC_HP, 90.0),
            (C::ATTACK, 10.0),
            (C::RELEASE, 150.0),
        ] {
            c.set_param(i, v);
        }
        let sc = design(Shape::HighPass, 90.0, 0.0, 0.707, fs as f64);
        let mut reference = ReferenceCompressor {
            threshold: -24.0,
            ratio: 3.0,
            knee,
            attack: coeff(10.0),
            release: coeff(150.0),
            rms,
            mid_side: ms,
            sc_hp: hp.then(|| [Biquad::new(sc), Biquad::new(sc)]),
            makeup: 1.0,
            ms: [0.0; 2],
            rms_coeff: (-1.0 / (0.01 * fs)).exp(),
            env: [0.0; 2],
        };
        let mut s = 7u32;
        let mut worst = 0f64;
        for blk in 0..3000 {
            if blk == 1500 {
                // Linked to M/S or back: the envelopes part or join.
                c.set_param(C::LINK, !ms as i32 as f32);
                reference.mid_side = !ms;
            }
            let lvl = [0.01f32, 0.3, 0.05, 0.8, 0.0][(blk / 200) % 5];
            let mut l: Vec<f32> = (0..64)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 17;
                    s ^= s << 5;
                    (s as f32 / u32::MAX as f32 - 0.5) * 2.0 * lvl
                })
                .collect();
            let mut r: Vec<f32> = l.iter().map(|v| v * 0.6 - 0.001).collect();
            if blk == 100 {
                l[3] = f32::NAN;
            }
            let (mut rl, mut rr) = (l.clone(), r.clone());
            let scale: Vec<f64> = l
                .iter()
                .zip(&r)
                .map(|(a, b)| rackd_dsp::sanitize(*a).abs() as f64 + b.abs() as f64)
                .collect();
            c.process(&mut l, &mut r);
            reference.process(&mut rl, &mut rr);
            for (i, &scale) in scale.iter().enumerate() {
                for (a, b) in [(l[i], rl[i]), (r[i], rr[i])] {
                    // Against the input's size: a gain error shows as a
                    // proportional error of each of the (M/S) parts summed.
                    if scale > 0.0 {
                        worst = worst.max((a as f64 - b as f64).abs() / scale);
                    } else {
                        assert_eq!(a, b);
                    }
                }
            }
        }
        let worst_db = 20.0 * worst.log10();
        println!(
            "rms {rms} m/s {ms} knee {knee} hp {hp}: largest difference {worst_db:.1} dB \
             under the input"
        );
        // 0.0001 dB of gain is 1.2e-5 of the signal: -98 dB.
        assert!(worst_db < -98.0, "{rms} {ms} {knee} {hp}: {worst_db} dB");
    }
}

/// The mix checks of `rackd analyze`, as before the speed work: DC, RMS,
/// balance and correlation bit for bit, clipping, silence and bits exactly,
/// mono loss and PLR within 0.0001 dB.
#[test]
fn analyzer_report_is_todays() {
    let [mut l, mut r] = programme(44_100.0, 12.0, 9);
    // Silence at both ends, a clipped stretch on the left, 24-bit steps.
    for v in l[..4410].iter_mut().chain(r[..4410].iter_mut()) {
        *v = 0.0;
    }
    let n = l.len();
    for v in l[n - 2205..].iter_mut().chain(r[n - 2205..].iter_mut()) {
        *v = 0.0;
    }
    for x in l.iter_mut().chain(r.iter_mut()) {
        *x *= 0.5;
    }
    for x in &mut l[100_000..100_050] {
        *x = (*x * 80.0).clamp(-0.9, 0.9);
    }
    for x in l.iter_mut().chain(r.iter_mut()) {
        *x = (*x * 8_388_608.0).round() / 8_388_608.0;
    }
    let mut a = Analyzer::new(44_100.0, 2);
    for (cl, cr) in l.chunks(3000).zip(r.chunks(3000)) {
        a.push(&[cl, cr]);
    }
    let rep = a.finish();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&rep.dc_offset),
        [4542178324992415195, 13766508918876696603]
    );
    assert_eq!(
        bits(&rep.rms_dbfs),
        [13849522870164976965, 13850032381351218493]
    );
    assert_eq!(rep.clipped_runs, [2, 0]);
    assert_eq!(rep.clipped_samples, [45, 0]);
    assert_eq!(rep.longest_clip_run, 31);
    assert_eq!(rep.correlation.map(f64::to_bits), Some(4606219051004594958));
    assert_eq!(rep.balance_db.map(f64::to_bits), Some(4610830998152511376));
    assert_eq!((rep.head_silence, rep.tail_silence), (0.1, 0.05));
    assert_eq!(rep.effective_bits, Some(24));
    let mono = rep.mono_loss.unwrap();
    assert!((mono - 0.543142284922709).abs() < 1e-4, "{mono}");
    assert!((rep.plr - 21.999185768092797).abs() < 1e-4, "{}", rep.plr);
}
