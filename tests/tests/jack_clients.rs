//! The harness's own JACK clients, checked against each other on a dummy
//! jackd: a `JackTap` plays a noise burst through a `GearStandIn` (100 samples,
//! -6 dB, inverted) and must record exactly that, delayed by 100 samples plus
//! whatever the JACK graph adds (none or whole periods).
//! One test per binary: the JACK server is chosen through the environment.

use rackd_tests::*;
use std::time::Instant;

const DELAY: usize = 100;
const GAIN: f32 = -0.501_187; // -6 dB, inverted
const TOL: f32 = 1e-6;

/// Deterministic noise in [-0.5, 0.5) (xorshift32).
fn noise(seed: u32, n: usize) -> Vec<f32> {
    let mut s = seed.max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f32 / u32::MAX as f32) - 0.5
        })
        .collect()
}

/// Largest |rec[lag + i] - GAIN * x[i]| over the burst.
fn error_at(rec: &[f32], x: &[f32], lag: usize) -> f32 {
    x.iter()
        .zip(&rec[lag..])
        .map(|(&x, &y)| (y - GAIN * x).abs())
        .fold(0.0, f32::max)
}

/// The lag at which `rec` best matches GAIN * `x`, and its error.
fn best_lag(rec: &[f32], x: &[f32]) -> (usize, f32) {
    (0..=rec.len() - x.len())
        .map(|lag| (lag, error_at(rec, x, lag)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("some lag")
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0, |m, &v| m.max(v.abs()))
}

#[test]
fn tap_records_the_stand_in_exactly_delayed_scaled_and_inverted() {
    let t0 = Instant::now();
    let server = unique_name("rackd-test-clients");
    let jackd = Jackd::start(&server);
    use_jack_server(&server);

    let gear = GearStandIn::start(&unique_name("gear"), DELAY, -6.0, true);
    assert!(!gear.name().is_empty());
    let tap = JackTap::start(&unique_name("tap"), &gear.inputs(), &gear.outputs());
    let rate = tap.sample_rate();
    let period = tap.period();
    assert_eq!(
        (rate, period),
        (48_000, 256),
        "the harness's jackd settings"
    );

    // A noise burst, different per channel (catches swapped channels).
    let burst = 4_800;
    let left = noise(1, burst);
    let right = noise(2, burst);
    let record = burst + DELAY + 8 * period;
    // Dummy jackd on a busy machine runs late clients twice or not at all;
    // a recording during which either client's frame clock broke (or an xrun
    // was announced) is taken again.
    let disturbances = || tap.cycles().disturbances() + gear.cycles().breaks();
    let take = |what: &str, l: &[f32], r: &[f32], frames: usize| {
        undisturbed(what, disturbances, || tap.play_and_record(l, r, frames))
    };
    let [rec_l, rec_r] = take("burst", &left, &right, record);
    assert_eq!((rec_l.len(), rec_r.len()), (record, record));

    let (lag, err) = best_lag(&rec_l, &left);
    assert!(
        err <= TOL,
        "left: no alignment reproduces -0.501187 * input; best lag {lag} has error {err:e} (recorded peak {})",
        peak(&rec_l)
    );
    assert!(
        lag >= DELAY,
        "lag {lag} shorter than the stand-in's own delay"
    );
    let k = lag - DELAY;
    println!("JACK graph latency tap -> stand-in -> tap: K = {k} frames (period {period})");
    assert!(
        k % period == 0,
        "K = {k} is neither 0 nor a multiple of the period {period}"
    );
    let err_r = error_at(&rec_r, &right, lag);
    assert!(
        err_r <= TOL,
        "right channel differs at lag {lag}: error {err_r:e}"
    );
    // Everything outside the burst is silence.
    for (ch, rec) in [&rec_l, &rec_r].into_iter().enumerate() {
        let before = peak(&rec[..lag]);
        let after = peak(&rec[lag + burst..]);
        assert!(
            before <= TOL && after <= TOL,
            "channel {ch}: not silent outside the burst (before {before:e}, after {after:e})"
        );
    }

    // Same alignment a second time (the delay line and the graph are steady).
    let [again_l, again_r] = take("second burst", &right, &left, record);
    let e2 = error_at(&again_l, &right, lag).max(error_at(&again_r, &left, lag));
    assert!(
        e2 <= TOL,
        "second run misaligned at lag {lag}: error {e2:e}"
    );

    // Nothing comes back while the stand-in is silent.
    gear.set_silent(true);
    let [sil_l, sil_r] = take("silent stand-in", &left, &right, record);
    assert_eq!(
        (peak(&sil_l), peak(&sil_r)),
        (0.0, 0.0),
        "silent stand-in returned audio"
    );
    gear.set_silent(false);
    let [back_l, _] = take("stand-in back", &left, &right, record);
    let e3 = error_at(&back_l, &left, lag);
    assert!(e3 <= TOL, "after un-silencing: error {e3:e} at lag {lag}");

    // A loop, recorded continuously: seamless and with the same alignment.
    let loop_len = 1_000; // not a multiple of the period
    let loop_l = noise(3, loop_len);
    let loop_r = noise(4, loop_len);
    let capacity = rate / 2;
    let [lrec_l, lrec_r] = undisturbed("loop", disturbances, || {
        // A loop stopped by a disturbed take before is still in the stand-in.
        tap.wait_frames(4 * period + DELAY);
        tap.start_loop(&loop_l, &loop_r, capacity);
        tap.wait_recorded(capacity);
        tap.stop_loop()
    });
    assert_eq!(lrec_l.len(), capacity, "the loop recorded too little");
    assert!(peak(&lrec_l[..lag]) <= TOL, "loop: sound before the lag");
    for (ch, (rec, src)) in [(&lrec_l, &loop_l), (&lrec_r, &loop_r)]
        .into_iter()
        .enumerate()
    {
        let worst = rec[lag..]
            .iter()
            .enumerate()
            .map(|(i, &y)| (y - GAIN * src[i % loop_len]).abs())
            .fold(0.0, f32::max);
        assert!(worst <= TOL, "loop channel {ch}: error {worst:e}");
    }
    // After stop_loop the tap is silent again.
    let [quiet, _] = take("after the loop", &[], &[], 4 * period + DELAY);
    assert!(
        peak(&quiet[lag..]) <= TOL,
        "tap still playing after stop_loop"
    );

    drop(tap);
    drop(gear);
    drop(jackd);
    println!("jack_clients test took {:.2} s", t0.elapsed().as_secs_f64());
}
