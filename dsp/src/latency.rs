//! Round-trip latency of a hardware insert.
//!
//! The audio thread plays [`burst`] on the insert's send and records
//! [`CAPTURE_LEN`] samples of its return; then, off the audio thread,
//! [`find_delay`] cross-correlates the two to find where the burst came back.
//! A maximum-length sequence is used because its autocorrelation is a single
//! sharp peak, so the delay is exact to the sample and the peak stands about
//! `sqrt(BURST_LEN)` (36 dB) above uncorrelated noise.

use crate::gain_to_db;

/// Length of the maximum-length sequence used as the test burst (2^12 - 1).
pub const BURST_LEN: usize = 4095;
/// Longest round trip we look for, in samples.
pub const MAX_LATENCY: usize = 16384;
/// Samples the audio thread records for one measurement.
pub const CAPTURE_LEN: usize = BURST_LEN + MAX_LATENCY;

/// A return whose loudest sample is below this is silence, whatever it correlates with.
const SILENCE_DBFS: f32 = -90.0;
/// How far the correlation peak must stand above the noise floor to count as found.
/// Pure noise over 16k lags peaks about 12.5 dB above its RMS; 18 dB makes a
/// false detection practically impossible while keeping 18 dB of the burst's 36.
const DETECT_MARGIN_DB: f32 = 18.0;
/// A second peak within this many dB of the first makes the answer ambiguous.
const AMBIGUOUS_DB: f32 = 3.0;
/// Lags this close to the peak belong to the device's own impulse response
/// (filter ringing, transformer tails), not to a separate echo: 1 ms at 48 kHz.
const MIN_LOBE: usize = 48;
/// Fewer off-peak lags than this give too rough an RMS; the analytic floor is used alone.
const MIN_NOISE_LAGS: usize = 256;

/// The test burst: a maximum-length sequence (LFSR, order 12) scaled to `level`
/// (e.g. 0.1 = -20 dBFS), values ±level. Deterministic, so the caller can
/// regenerate the reference instead of keeping it.
pub fn burst(level: f32) -> Vec<f32> {
    // Galois LFSR for the primitive polynomial x^12 + x^11 + x^10 + x^4 + 1.
    let mut state: u16 = 1;
    (0..BURST_LEN)
        .map(|_| {
            let bit = state & 1;
            state >>= 1;
            if bit != 0 {
                state ^= 0xE08;
                level
            } else {
                -level
            }
        })
        .collect()
}

/// What came back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    /// Round trip in samples, from the first sample sent to its return.
    pub delay: usize,
    /// The return is polarity-inverted (a negative correlation peak).
    pub inverted: bool,
    /// Gain of the return relative to the send, in dB, taken at the peak of the
    /// impulse response: the device's gain for a flat device, lower for a band-limited one.
    pub gain_db: f32,
    /// How far the correlation peak stands above the next-highest peak or the
    /// noise floor, whichever is higher, in dB, so callers can say how sure it is.
    pub confidence_db: f32,
}

/// Why no delay could be given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MeasureError {
    /// Nothing (or only noise) came back: check the cabling and that the device
    /// is powered and not bypassed to nothing. `level_db` is the capture's peak level.
    #[error(
        "nothing came back (return peaks at {level_db:.1} dBFS): check the cabling, \
         and that the device is powered and passes signal"
    )]
    NothingCameBack { level_db: f32 },
    /// The capture was shorter than the burst (a caller bug, or the engine restarted mid-measurement).
    #[error("capture has {got} samples but at least {need} are needed; measure again")]
    ShortCapture { got: usize, need: usize },
    /// The reference is empty or silent (a caller bug): there is nothing to look for.
    #[error("the reference burst is empty or silent")]
    SilentReference,
    /// Two correlation peaks of near equal height (a delay or echo device):
    /// either could be the round trip, so neither is reported.
    #[error(
        "two returns of nearly equal strength, at {strongest} and {runner_up} samples \
         ({difference_db:.1} dB apart): is an echo or delay effect active in the insert?"
    )]
    Ambiguous {
        strongest: usize,
        runner_up: usize,
        difference_db: f32,
    },
}

/// Finds `reference` (the burst that was sent) in `capture` (what was recorded
/// on the return, starting at the same sample the burst started): the delay in
/// samples (exact to the sample), whether the return is inverted (negative
/// correlation peak), and the gain of the return relative to the send.
///
/// Lags `0..=capture.len() - reference.len()` are searched, so a burst must
/// have come back whole. Allocates; call it off the audio thread.
pub fn find_delay(reference: &[f32], capture: &[f32]) -> Result<Found, MeasureError> {
    if capture.len() < reference.len() {
        return Err(MeasureError::ShortCapture {
            got: capture.len(),
            need: reference.len(),
        });
    }
    let reference: Vec<f64> = reference.iter().map(|&x| finite(x)).collect();
    let energy: f64 = reference.iter().map(|x| x * x).sum();
    if energy <= 0.0 {
        return Err(MeasureError::SilentReference);
    }

    let mut capture: Vec<f64> = capture.iter().map(|&x| finite(x)).collect();
    let peak_sample = capture.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let level_db = gain_to_db(peak_sample as f32);
    let nothing = MeasureError::NothingCameBack { level_db };
    if level_db < SILENCE_DBFS {
        return Err(nothing);
    }
    // An interface's DC offset correlates with a reference's own (small) DC and
    // inflates the noise floor below; neither says anything about the delay.
    let mean = capture.iter().sum::<f64>() / capture.len() as f64;
    capture.iter_mut().for_each(|x| *x -= mean);

    let corr: Vec<f64> = capture
        .windows(reference.len())
        .map(|w| dot(&reference, w))
        .collect();
    let (delay, peak) = corr
        .iter()
        .enumerate()
        .fold((0, 0.0f64), |(bi, b), (i, &c)| {
            if c.abs() > b.abs() { (i, c) } else { (bi, b) }
        });
    if peak == 0.0 {
        return Err(nothing);
    }

    // The peak's lobe: at least MIN_LOBE either side, further while |c| keeps falling
    // (a long low-pass tail is still the same return, not an echo).
    let mut lo = delay;
    while lo > 0 && corr[lo - 1].abs() <= corr[lo].abs() {
        lo -= 1;
    }
    let mut hi = delay;
    while hi + 1 < corr.len() && corr[hi + 1].abs() <= corr[hi].abs() {
        hi += 1;
    }
    let lo = lo.min(delay.saturating_sub(MIN_LOBE));
    let hi = hi.max(delay + MIN_LOBE);
    let outside = || {
        corr.iter()
            .enumerate()
            .filter(move |&(i, _)| i < lo || i > hi)
    };

    let (runner_up, second) = outside().fold((0, 0.0f64), |(bi, b), (i, &c)| {
        if c.abs() > b { (i, c.abs()) } else { (bi, b) }
    });
    // Noise floor: for a capture uncorrelated with the reference, each lag's
    // correlation has variance energy * power; measured off-peak RMS catches
    // whatever the analytic figure misses (non-stationary noise, distortion).
    let power = capture.iter().map(|x| x * x).sum::<f64>() / capture.len() as f64;
    let mut noise = (energy * power).sqrt();
    let (n, sum_sq) = outside().fold((0usize, 0.0f64), |(n, s), (_, &c)| (n + 1, s + c * c));
    if n >= MIN_NOISE_LAGS {
        noise = noise.max((sum_sq / n as f64).sqrt());
    }

    let above = |floor: f64| (20.0 * (peak.abs() / floor.max(f64::MIN_POSITIVE)).log10()) as f32;
    if above(noise) < DETECT_MARGIN_DB {
        return Err(nothing);
    }
    let over_second = above(second);
    if over_second < AMBIGUOUS_DB {
        return Err(MeasureError::Ambiguous {
            strongest: delay,
            runner_up,
            difference_db: over_second,
        });
    }
    Ok(Found {
        delay,
        inverted: peak < 0.0,
        gain_db: gain_to_db((peak.abs() / energy) as f32),
        confidence_db: over_second.min(above(noise)),
    })
}

/// NaN/Inf (a glitching interface) must not poison the whole correlation.
fn finite(x: f32) -> f64 {
    if x.is_finite() { f64::from(x) } else { 0.0 }
}

/// Dot product with eight independent f64 accumulators so it vectorizes.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for ((s, x), y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    acc.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db_to_gain;
    use proptest::prelude::*;

    const LEVEL: f32 = 0.1;

    /// Deterministic uniform noise with the given RMS (xorshift64*).
    fn noise(len: usize, rms: f32, seed: u64) -> Vec<f32> {
        let mut s = seed.max(1);
        let amp = rms * 3f32.sqrt();
        (0..len)
            .map(|_| {
                s ^= s >> 12;
                s ^= s << 25;
                s ^= s >> 27;
                let u = (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32;
                (2.0 * u - 1.0) * amp
            })
            .collect()
    }

    /// The burst as returned by an ideal device: `delay` samples late, scaled.
    fn returned(reference: &[f32], delay: usize, gain: f32, len: usize) -> Vec<f32> {
        let mut out = vec![0.0; len];
        for (o, x) in out[delay..].iter_mut().zip(reference) {
            *o = x * gain;
        }
        out
    }

    #[test]
    fn burst_is_plus_minus_level_deterministic_and_balanced() {
        let b = burst(LEVEL);
        assert_eq!(b.len(), BURST_LEN);
        assert!(b.iter().all(|&x| x == LEVEL || x == -LEVEL));
        assert_eq!(b, burst(LEVEL));
        // An MLS of order 12 has 2048 ones and 2047 zeros.
        assert_eq!(b.iter().filter(|&&x| x > 0.0).count(), 2048);
        // The level scales the same sequence.
        let louder = burst(0.5);
        assert!(
            louder
                .iter()
                .zip(&b)
                .all(|(l, x)| l.abs() == 0.5 && (*l > 0.0) == (*x > 0.0))
        );
    }

    #[test]
    fn burst_has_flat_periodic_autocorrelation() {
        // Periodic autocorrelation of an MLS of ±1: N at shift 0, exactly -1 elsewhere.
        // Only a maximal-length LFSR has this, so it also proves the period is 4095.
        let b: Vec<i32> = burst(1.0).iter().map(|&x| x as i32).collect();
        for shift in 0..BURST_LEN {
            let r: i32 = (0..BURST_LEN)
                .map(|i| b[i] * b[(i + shift) % BURST_LEN])
                .sum();
            assert_eq!(
                r,
                if shift == 0 { BURST_LEN as i32 } else { -1 },
                "shift {shift}"
            );
        }
    }

    #[test]
    fn finds_exact_delay_gain_and_polarity() {
        let reference = burst(LEVEL);
        for delay in [0, 1, 37, 1000, MAX_LATENCY] {
            for gain_db in [0.0f32, -6.0, 6.0] {
                for inverted in [false, true] {
                    let sign = if inverted { -1.0 } else { 1.0 };
                    let capture =
                        returned(&reference, delay, sign * db_to_gain(gain_db), CAPTURE_LEN);
                    let found = find_delay(&reference, &capture).unwrap();
                    assert_eq!(found.delay, delay, "{gain_db} dB, inverted {inverted}");
                    assert_eq!(found.inverted, inverted);
                    assert!((found.gain_db - gain_db).abs() < 0.01, "{found:?}");
                    assert!(found.confidence_db > 25.0, "{found:?}");
                }
            }
        }
    }

    #[test]
    fn exact_with_noise_40_db_below_the_return() {
        let reference = burst(LEVEL);
        for (seed, delay) in [(1, 0), (2, 513), (3, 9001), (4, MAX_LATENCY)] {
            let mut capture = returned(&reference, delay, -0.5, CAPTURE_LEN);
            let rms = 0.5 * LEVEL * db_to_gain(-40.0);
            for (c, n) in capture.iter_mut().zip(noise(CAPTURE_LEN, rms, seed)) {
                *c += n;
            }
            let found = find_delay(&reference, &capture).unwrap();
            assert_eq!(found.delay, delay);
            assert!(found.inverted);
            assert!((found.gain_db - gain_to_db(0.5)).abs() < 0.1, "{found:?}");
            assert!(found.confidence_db > 25.0, "{found:?}");
        }
    }

    /// One-pole low-pass at `fc` Hz, 48 kHz: unity DC gain, impulse response peaks at 0.
    fn lowpass(x: &[f32], fc: f32) -> Vec<f32> {
        let a = (-2.0 * std::f32::consts::PI * fc / 48_000.0).exp();
        let mut y = 0.0;
        x.iter()
            .map(|&x| {
                y = (1.0 - a) * x + a * y;
                y
            })
            .collect()
    }

    /// One-pole high-pass at `fc` Hz, 48 kHz: impulse response `a` at 0, then a small negative tail.
    fn highpass(x: &[f32], fc: f32) -> Vec<f32> {
        let a = (-2.0 * std::f32::consts::PI * fc / 48_000.0).exp();
        let (mut y, mut prev) = (0.0, 0.0);
        x.iter()
            .map(|&x| {
                y = a * (y + x - prev);
                prev = x;
                y
            })
            .collect()
    }

    #[test]
    fn exact_through_a_low_pass() {
        let reference = burst(LEVEL);
        for fc in [5_000.0, 1_000.0] {
            for delay in [0, 250, 12_345] {
                let capture = lowpass(&returned(&reference, delay, 1.0, CAPTURE_LEN), fc);
                let found = find_delay(&reference, &capture).unwrap();
                assert_eq!(found.delay, delay, "{fc} Hz");
                assert!(!found.inverted);
                // The impulse response peaks at 1 - a: -6.4 dB at 5 kHz.
                let a = (-2.0 * std::f32::consts::PI * fc / 48_000.0).exp();
                assert!(
                    (found.gain_db - gain_to_db(1.0 - a)).abs() < 0.2,
                    "{fc} Hz: {found:?}"
                );
            }
        }
    }

    #[test]
    fn exact_through_a_high_pass() {
        let reference = burst(LEVEL);
        for fc in [20.0, 300.0] {
            for delay in [0, 777, MAX_LATENCY] {
                let capture = highpass(&returned(&reference, delay, -1.0, CAPTURE_LEN), fc);
                let found = find_delay(&reference, &capture).unwrap();
                assert_eq!(found.delay, delay, "{fc} Hz");
                assert!(found.inverted);
                assert!(found.gain_db.abs() < 0.5, "{fc} Hz: {found:?}");
            }
        }
    }

    #[test]
    fn dc_offset_and_a_nan_do_not_matter() {
        let reference = burst(LEVEL);
        let mut capture = returned(&reference, 4321, 0.3, CAPTURE_LEN);
        capture.iter_mut().for_each(|x| *x += 0.05);
        capture[100] = f32::NAN;
        capture[20_000] = f32::INFINITY;
        let found = find_delay(&reference, &capture).unwrap();
        assert_eq!(found.delay, 4321);
        assert!((found.gain_db - gain_to_db(0.3)).abs() < 0.1, "{found:?}");
    }

    #[test]
    fn silence_is_nothing_came_back() {
        let reference = burst(LEVEL);
        let err = find_delay(&reference, &vec![0.0; CAPTURE_LEN]).unwrap_err();
        assert_eq!(
            err,
            MeasureError::NothingCameBack {
                level_db: f32::NEG_INFINITY
            }
        );
        // The burst itself, but below -90 dBFS, is silence too.
        let faint = returned(&reference, 10, db_to_gain(-80.0), CAPTURE_LEN);
        assert!(matches!(
            find_delay(&reference, &faint),
            Err(MeasureError::NothingCameBack { level_db }) if level_db < -90.0
        ));
    }

    #[test]
    fn noise_without_the_burst_is_nothing_came_back() {
        let reference = burst(LEVEL);
        for seed in 1..=8 {
            let capture = noise(CAPTURE_LEN, LEVEL, seed);
            match find_delay(&reference, &capture) {
                Err(MeasureError::NothingCameBack { level_db }) => {
                    assert!((level_db - gain_to_db(LEVEL * 3f32.sqrt())).abs() < 0.5);
                }
                other => panic!("seed {seed}: {other:?}"),
            }
        }
        // A DC level alone is not a return either.
        let dc = vec![0.25; CAPTURE_LEN];
        assert!(matches!(
            find_delay(&reference, &dc),
            Err(MeasureError::NothingCameBack { .. })
        ));
    }

    #[test]
    fn burst_buried_in_noise_is_nothing_came_back() {
        // 30 dB under the noise the burst's 36 dB of correlation gain is not enough.
        let reference = burst(LEVEL);
        let mut capture = returned(&reference, 500, db_to_gain(-30.0), CAPTURE_LEN);
        for (c, n) in capture.iter_mut().zip(noise(CAPTURE_LEN, LEVEL, 9)) {
            *c += n;
        }
        assert!(matches!(
            find_delay(&reference, &capture),
            Err(MeasureError::NothingCameBack { .. })
        ));
    }

    #[test]
    fn short_capture_and_silent_reference_are_errors() {
        let reference = burst(LEVEL);
        assert_eq!(
            find_delay(&reference, &vec![0.0; BURST_LEN - 1]),
            Err(MeasureError::ShortCapture {
                got: BURST_LEN - 1,
                need: BURST_LEN
            })
        );
        assert_eq!(
            find_delay(&reference, &[]),
            Err(MeasureError::ShortCapture {
                got: 0,
                need: BURST_LEN
            })
        );
        assert_eq!(
            find_delay(&[], &[0.1; 16]),
            Err(MeasureError::SilentReference)
        );
        assert_eq!(
            find_delay(&[0.0; 8], &[0.1; 16]),
            Err(MeasureError::SilentReference)
        );
        // Exactly as long as the burst: only lag 0 is possible, and it is found.
        let found = find_delay(&reference, &reference).unwrap();
        assert_eq!((found.delay, found.inverted), (0, false));
    }

    #[test]
    fn echo_of_equal_height_is_ambiguous_and_a_weaker_one_is_not() {
        let reference = burst(LEVEL);
        let mut capture = returned(&reference, 300, 1.0, CAPTURE_LEN);
        for (c, e) in capture
            .iter_mut()
            .zip(returned(&reference, 5_100, 0.9, CAPTURE_LEN))
        {
            *c += e;
        }
        match find_delay(&reference, &capture) {
            Err(MeasureError::Ambiguous {
                strongest,
                runner_up,
                difference_db,
            }) => {
                assert_eq!((strongest, runner_up), (300, 5_100));
                assert!((difference_db - gain_to_db(1.0 / 0.9)).abs() < 0.2);
            }
            other => panic!("{other:?}"),
        }

        let mut capture = returned(&reference, 300, 1.0, CAPTURE_LEN);
        for (c, e) in capture
            .iter_mut()
            .zip(returned(&reference, 5_100, 0.3, CAPTURE_LEN))
        {
            *c += e;
        }
        let found = find_delay(&reference, &capture).unwrap();
        assert_eq!(found.delay, 300);
        // Confidence is the margin over the echo.
        assert!(
            (found.confidence_db - gain_to_db(1.0 / 0.3)).abs() < 0.5,
            "{found:?}"
        );
    }

    #[test]
    fn error_messages_say_what_to_check() {
        let msg = MeasureError::NothingCameBack { level_db: -97.25 }.to_string();
        assert!(
            msg.contains("-97.2 dBFS") && msg.contains("cabling"),
            "{msg}"
        );
        let msg = MeasureError::ShortCapture { got: 3, need: 4095 }.to_string();
        assert!(msg.contains('3') && msg.contains("4095"), "{msg}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn finds_any_delay_gain_and_polarity(
            delay in 0..=MAX_LATENCY,
            gain_db in -20.0f32..12.0,
            inverted: bool,
            seed in 1u64..u64::MAX,
        ) {
            let reference = burst(LEVEL);
            let sign = if inverted { -1.0 } else { 1.0 };
            let mut capture = returned(&reference, delay, sign * db_to_gain(gain_db), CAPTURE_LEN);
            // A realistic converter floor at -100 dBFS.
            for (c, n) in capture.iter_mut().zip(noise(CAPTURE_LEN, db_to_gain(-100.0), seed)) {
                *c += n;
            }
            let found = find_delay(&reference, &capture).unwrap();
            prop_assert_eq!(found.delay, delay);
            prop_assert_eq!(found.inverted, inverted);
            prop_assert!((found.gain_db - gain_db).abs() < 0.05, "{:?}", found);
        }
    }
}
