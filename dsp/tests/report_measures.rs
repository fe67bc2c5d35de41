//! Property tests for the report's measurements: any samples (NaN and
//! infinities included, any block sizes, any rate and channel count) give
//! series, a spectrum and findings without a panic, and the result does not
//! depend on how the audio was cut into blocks.

use proptest::prelude::*;
use rackd_dsp::analysis::Analyzer;
use rackd_dsp::findings::{FileFacts, detect};
use rackd_dsp::series::Series;
use rackd_dsp::spectrum::Spectrum;

fn sample() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => -1.5f32..1.5,
        1 => Just(1.0f32),
        1 => Just(0.0f32),
        1 => prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY)],
    ]
}

/// Feeds `chans` in blocks of the given sizes (cycled).
fn run(rate: f64, chans: &[Vec<f32>], blocks: &[usize]) -> (Analyzer, Series, Spectrum) {
    let mut a = Analyzer::new(rate, chans.len());
    let mut s = Series::new(rate, chans.len());
    let mut f = Spectrum::new(rate, chans.len());
    let n = chans[0].len();
    let (mut at, mut k) = (0, 0);
    while at < n {
        let end = (at + blocks[k % blocks.len()]).min(n);
        let planes: Vec<&[f32]> = chans.iter().map(|c| &c[at..end]).collect();
        a.push(&planes);
        s.push(&planes);
        f.push(&planes);
        at = end;
        k += 1;
    }
    (a, s, f)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_samples_give_findings_without_a_panic(
        rate in prop_oneof![Just(8_000.0), Just(44_100.0), Just(48_000.0)],
        chans in 1usize..=3,
        len in 1usize..20_000,
        seed in proptest::collection::vec(sample(), 64),
        blocks in proptest::collection::vec(1usize..5000, 1..4),
    ) {
        let data: Vec<Vec<f32>> = (0..chans)
            .map(|c| (0..len).map(|i| seed[(i * 7 + c * 13 + i / 97) % seed.len()]).collect())
            .collect();
        let (mut a, mut s, mut f) = run(rate, &data, &blocks);
        let report = a.finish();
        let series = s.finish();
        let spectrum = f.finish();
        prop_assert_eq!(series.peak[0].len(), len.div_ceil(series.hop));
        let facts = FileFacts { sample_rate: rate as u32, stored_bits: Some(24), float: true };
        for finding in detect(&report, &series, &spectrum, &facts) {
            prop_assert!(!finding.text.is_empty());
            prop_assert!(finding.start_s.is_none_or(|t| t.is_finite() && t >= 0.0));
        }
        let _ = (spectrum.curves(), spectrum.content_edge(), series.short_term_plr());
    }

    #[test]
    fn block_sizes_do_not_change_the_series_or_the_spectrum(
        len in 5_000usize..40_000,
        blocks in proptest::collection::vec(1usize..7000, 1..4),
        seed in any::<u32>(),
    ) {
        let mut x = seed.max(1);
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as f32 / u32::MAX as f32 - 0.5
        };
        let data: Vec<Vec<f32>> = (0..2).map(|_| (0..len).map(|_| next()).collect()).collect();
        let (_, mut s1, mut f1) = run(48_000.0, &data, &[4096]);
        let (_, mut s2, mut f2) = run(48_000.0, &data, &blocks);
        let (a, b) = (s1.finish(), s2.finish());
        prop_assert_eq!(&a.peak, &b.peak);
        prop_assert_eq!(&a.true_peak, &b.true_peak);
        prop_assert_eq!(&a.clips, &b.clips);
        prop_assert_eq!(&a.scope, &b.scope);
        for (p, q) in a.momentary.iter().zip(&b.momentary) {
            prop_assert!(p.is_nan() && q.is_nan() || (p - q).abs() < 1e-9);
        }
        prop_assert_eq!(f1.finish(), f2.finish());
    }
}
