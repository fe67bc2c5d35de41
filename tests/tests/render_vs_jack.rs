//! The offline render equals the real-time path, end to end: a daemon on a
//! dummy jackd runs trim > eq > compressor > limiter with non-default
//! settings, saved as a snapshot; `rackd render --block <JACK period> --bits
//! 32` renders a test signal through that snapshot, and a tap client plays
//! the same signal through the daemon's JACK ports and records what comes
//! back. After the lag (the chain's latency plus whole JACK periods) the two
//! are the same float32 samples: the real-time chain has processed silence
//! since its settings settled, the render's chain starts settled from
//! silence, and the tap starts at a period boundary as the render starts at
//! block 0, so every per-block step (filter-state flushes) lines up too.
//!
//! A dummy jackd in non-realtime mode on a busy machine runs late clients
//! twice or not at all; a take during which the daemon's or the tap's frame
//! clock broke, or an xrun was announced, is taken again ([`undisturbed`]):
//! it neither passes nor fails the test.
//! One test per binary: the JACK server is chosen through the environment.

use rackd_tests::wav::{best_lag, noise, read_float_wav, write_float_wav};
use rackd_tests::*;
use std::f32::consts::TAU;
use std::time::Instant;

const SONG: &str = "album/02 song";
/// The limiter's ceiling in the snapshot, dBTP.
const LIMITER_CEILING_DB: f32 = -1.5;
/// Where the lag search probes the signal (in the quiet first part) and how long.
const PROBE_AT: usize = 4096;
const PROBE_LEN: usize = 1024;
/// Largest lag searched: the chain latency plus a few JACK periods fit easily.
const MAX_LAG: usize = 16_384;

fn db(x: f32) -> f32 {
    10f32.powf(x / 20.0)
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0f32, |m, v| m.max(v.abs()))
}

/// A test signal for one channel: quiet noise and a low sine (the compressor
/// works gently), a loud 1 kHz burst (compressor and limiter hard at work),
/// quiet noise (release), a near-full-scale noise burst (true peaks), then a
/// quiet tail. Peaks stay under 0.95.
fn test_signal(rate: usize, seed: u32, phase: f32, tilt: f32) -> Vec<f32> {
    let n = 3 * rate;
    let base = noise(n, 1.0, seed);
    let at = |s: f32| (s * rate as f32) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let v = if i < at(1.0) {
                0.05 * base[i] + 0.1 * (TAU * 220.0 * t + phase).sin()
            } else if i < at(1.5) {
                0.05 * base[i] + 0.85 * tilt * (TAU * 1000.0 * t + phase).sin()
            } else if i < at(2.2) {
                0.02 * base[i]
            } else if i < at(2.6) {
                0.9 * tilt * base[i]
            } else {
                0.01 * base[i]
            };
            v.clamp(-0.95, 0.95)
        })
        .collect()
}

/// One take through JACK compared with the render.
struct Take {
    /// Largest difference of any sample, either channel.
    worst: f32,
    /// Recording frame of the render's frame 0.
    lag: usize,
    /// First recording frame that differs, and how many do.
    first_bad: Option<usize>,
    bad_frames: usize,
}

fn take(d: &Daemon, tap: &JackTap, input: &[Vec<f32>; 2], rendered: &[Vec<f32>; 2]) -> Take {
    let frames = input[0].len();
    let disturbances = || d.status_count("cycle_breaks") + tap.cycles().disturbances();
    let mut first = true;
    let rec = undisturbed("render vs JACK take", disturbances, || {
        if !first {
            // The take before left envelopes and filters ringing down; the
            // render starts from a settled chain. A layout change there and
            // back builds fresh, settled processors.
            d.layout_playing(&["trim", "eq", "comp"]);
            d.layout_playing(&["trim", "eq", "comp", "lim"]);
        }
        first = false;
        tap.play_and_record(&input[0], &input[1], frames + MAX_LAG)
    });
    let probe = &rendered[0][PROBE_AT..PROBE_AT + PROBE_LEN];
    let (lag, probe_err) = best_lag(probe, &rec[0][PROBE_AT..], MAX_LAG);
    eprintln!("take: lag {lag}, probe error {probe_err:e}");
    // Before the lag the chain was still playing out the silence before the
    // signal: exactly zero. From the lag on: the render.
    let mut worst = 0f32;
    let mut first_bad = None;
    let mut bad_frames = 0;
    for i in 0..lag + frames {
        let mut diff = 0f32;
        for ch in 0..2 {
            let want = if i < lag { 0.0 } else { rendered[ch][i - lag] };
            diff = diff.max((rec[ch][i] - want).abs());
        }
        if diff > 0.0 {
            bad_frames += 1;
            first_bad.get_or_insert(i);
        }
        worst = worst.max(diff);
    }
    Take {
        worst,
        lag,
        first_bad,
        bad_frames,
    }
}

#[test]
fn render_equals_the_real_time_path_through_jack() {
    let started = Instant::now();
    // Long periods: on a busy machine a clean take is then far more likely.
    let (_jackd, server) = jack_server_with_period("rackd-test-render", 1024);
    let setup = Setup {
        chain: vec![
            ("trim".into(), "trim".into()),
            ("eq".into(), "eq".into()),
            ("comp".into(), "compressor".into()),
            ("lim".into(), "limiter".into()),
        ],
        ..Setup::jack(&server)
    };
    let d = Daemon::start(setup.clone());
    let tap = JackTap::on_rackd(&setup.client_name);
    let period = tap.period();
    let rate = tap.sample_rate();
    assert_eq!(
        d.ctl_ok(&["layout"]).trim(),
        "trim > eq > comp > lim",
        "the chain of the config"
    );

    // Settings away from every default, each taken by the audio thread, then
    // a quarter second of audio for the smoothers (the slowest, the EQ's
    // 30 ms glides, land on their targets within ~60 ms).
    for (path, value) in [
        ("/chain/trim/gain", "3.5"),
        ("/chain/eq/b2_on", "1"),
        ("/chain/eq/b2_type", "low_shelf"),
        ("/chain/eq/b2_freq", "120"),
        ("/chain/eq/b2_gain", "2.5"),
        ("/chain/eq/b5_on", "1"),
        ("/chain/eq/b5_freq", "2500"),
        ("/chain/eq/b5_gain", "-3"),
        ("/chain/eq/b5_q", "1.4"),
        ("/chain/eq/b8_on", "1"),
        ("/chain/eq/b8_type", "low_pass"),
        ("/chain/eq/b8_freq", "18000"),
        ("/chain/comp/threshold", "-20"),
        ("/chain/comp/ratio", "3"),
        ("/chain/comp/attack", "5"),
        ("/chain/comp/release", "80"),
        ("/chain/comp/makeup", "2"),
        ("/chain/comp/sc_hp_on", "1"),
        ("/chain/lim/ceiling", "-1.5"),
        ("/chain/lim/drive", "2"),
        ("/chain/lim/release", "50"),
        ("/chain/lim/lookahead", "2"),
    ] {
        d.set_playing(path, value);
    }
    tap.wait_frames(rate / 4);
    d.ctl_ok(&["save", SONG]);
    let latency = d.status()["latency_samples"]
        .as_u64()
        .expect("status latency_samples") as usize;

    // The render, in blocks of the JACK period.
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("mix.wav");
    let rendered_path = dir.path().join("rendered.wav");
    let input = [
        test_signal(rate, 11, 0.0, 1.0),
        test_signal(rate, 12, 1.0, 0.8),
    ];
    let frames = input[0].len();
    write_float_wav(&source, rate as u32, &input[0], &input[1]);
    let block = period.to_string();
    let out = run_rackd(&[
        "render",
        "--snapshot",
        SONG,
        "--config",
        d.config.to_str().unwrap(),
        "--block",
        &block,
        "--bits",
        "32",
        source.to_str().unwrap(),
        rendered_path.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "render failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", stdout.trim());
    assert!(
        stdout.contains(&format!("{latency} samples of chain latency removed")),
        "the render removes the daemon's chain latency ({latency}): {stdout}"
    );
    let (rrate, rendered) = read_float_wav(&rendered_path);
    assert_eq!(rrate as usize, rate);
    assert_eq!(
        rendered[0].len(),
        frames,
        "the render is as long as the source"
    );

    // The chain did work: the trimmed input goes well over the limiter's
    // ceiling, the render stays under it (sample peaks; true peaks are
    // under it too, so sample peaks are) and is not silent.
    let ceiling = db(LIMITER_CEILING_DB);
    let in_peak = peak(&input[0]).max(peak(&input[1])) * db(3.5);
    let out_peak = peak(&rendered[0]).max(peak(&rendered[1]));
    eprintln!(
        "input peak after trim {:.2} dBFS, render peak {:.2} dBFS (ceiling {LIMITER_CEILING_DB} dBTP)",
        20.0 * in_peak.log10(),
        20.0 * out_peak.log10()
    );
    assert!(in_peak > 1.2 * ceiling, "the test signal is too quiet");
    assert!(
        out_peak <= ceiling && out_peak > 0.5 * ceiling,
        "render peak {out_peak}"
    );

    // The same signal through JACK. The goal is float32 identity: the same
    // code, the same settings, the same block boundaries and state.
    let Take {
        worst,
        lag,
        first_bad,
        bad_frames,
    } = take(&d, &tap, &input, &rendered);
    eprintln!(
        "render vs JACK: period {period}, rate {rate}, chain latency {latency}, lag {lag} \
         ({} period(s) of JACK), largest difference {worst:e} over {frames} \
         frames, {:.1} s in all",
        lag.saturating_sub(latency) as f64 / period as f64,
        started.elapsed().as_secs_f64()
    );
    if let Some(i) = first_bad {
        eprintln!(
            "{bad_frames} frame(s) differ; the first at recording frame {i} (source frame {}, \
             {} into its period)",
            i as i64 - lag as i64,
            i % period
        );
    }
    assert!(
        lag >= latency && (lag - latency) % period == 0,
        "lag {lag} is not the chain latency {latency} plus whole periods of {period}"
    );
    assert_eq!(
        worst, 0.0,
        "the JACK path differs from the render by up to {worst:e}"
    );
}
