//! The monitor path's true-peak ceiling on JACK (`audio.ceiling_mode =
//! "true_peak"`): a signal whose samples sit under the ceiling but whose
//! reconstruction goes 3 dB over it (a quarter-rate sine at 45°, the classic
//! inter-sample over) leaves rackd at or under the ceiling as ffmpeg's
//! `ebur128` true-peak meter reads it, and the lookahead the ceiling adds is
//! what the status and the JACK ports report, and what the recording shows.
//! One test per binary: the JACK server is chosen through the environment.

use jack::LatencyType::Capture;
use rackd_tests::wav::{best_lag, noise, write_float_wav};
use rackd_tests::*;
use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, SQRT_2};
use std::process::Command;
use std::time::Duration;

const CEILING_DB: f32 = -1.0;

/// ffmpeg's `ebur128=peak=true` summary: the true peak in dBTP.
fn ffmpeg_true_peak(path: &std::path::Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-nostats", "-hide_banner", "-i"])
        .arg(path)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .expect("run ffmpeg (scripts/install-deps --test installs it)");
    assert!(out.status.success(), "ffmpeg failed");
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = text.rsplit("True peak:").next().unwrap_or_default();
    summary
        .split("Peak:")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no true peak in ffmpeg's summary: {text}"))
}

#[test]
fn true_peak_ceiling_holds_the_reconstruction_and_reports_its_latency() {
    assert!(
        have_program("ffmpeg"),
        "ffmpeg is not installed: run scripts/install-deps --test"
    );
    let (_jackd, server) = jack_server_with_period("rackd-test-tp", 1024);
    let setup = Setup {
        chain: vec![("trim".into(), "trim".into())],
        ceiling_dbfs: CEILING_DB,
        ceiling_mode: Some("true_peak".into()),
        ..Setup::jack(&server)
    };
    let d = Daemon::start(setup.clone());
    let st = d.status();
    assert_eq!(st["ceiling_mode"], "true_peak", "{st}");
    let monitor = st["monitor_latency_samples"].as_u64().unwrap_or(0) as usize;
    assert!(monitor >= 48, "1 ms lookahead or more at 48 kHz: {st}");
    assert_eq!(st["latency_samples"].as_u64(), Some(0), "a trim adds none");

    let tap = JackTap::on_rackd(&setup.client_name);
    // Nothing upstream of the tap: rackd's outputs report its own latency.
    let out_l = format!("{}:out_l", setup.client_name);
    let reported = wait_for(Duration::from_secs(5), || {
        let (client, _) = jack::Client::new(
            &unique_name("tp-probe"),
            jack::ClientOptions::NO_START_SERVER,
        )
        .ok()?;
        let range = client.port_by_name(&out_l)?.get_latency_range(Capture);
        (range.0 as usize >= monitor).then_some(range)
    });
    assert!(reported.is_some(), "out_l never reported {monitor} samples");

    // Half a second of quiet noise (to find the lag), then two seconds of
    // the over: samples at −1.5 dBFS, reconstruction at +1.5 dBTP.
    let rate = tap.sample_rate();
    let quiet = noise(rate / 2, 0.05, 7);
    let mut input = quiet.clone();
    let amp = 10f64.powf(-1.5 / 20.0) * SQRT_2;
    input.extend((0..2 * rate).map(|i| (amp * (FRAC_PI_2 * i as f64 + FRAC_PI_4).sin()) as f32));
    let disturbances = || d.status_count("cycle_breaks") + tap.cycles().disturbances();
    // A take again after a disturbed one starts while the ceiling still
    // releases from that take's over (100 ms one-pole): a second and a half
    // of silence first brings its gain back to exactly 1.
    let rest = vec![0f32; 3 * rate / 2];
    let mut again = false;
    let rec = undisturbed("true-peak take", disturbances, || {
        if std::mem::replace(&mut again, true) {
            tap.play_and_record(&rest, &rest, 0);
        }
        tap.play_and_record(&input, &input, input.len() + 8192)
    });

    let (lag, err) = best_lag(&quiet[1024..3072], &rec[0][1024..], 8192);
    assert!(
        err < 1e-6,
        "the quiet part did not come back unchanged: {err}"
    );
    // The tap both feeds rackd and records it: a loop, so JACK adds a period.
    assert_eq!(
        lag,
        tap.period() + monitor,
        "the recording's lag is a period and the reported latency"
    );

    // Whole streams, so that no edge is cut into them here: the input with
    // silence after it, and everything rackd played for it.
    let dir = tempfile::tempdir().unwrap();
    let over = dir.path().join("input.wav");
    let mut padded = input.clone();
    padded.resize(input.len() + 4096, 0.0);
    write_float_wav(&over, rate as u32, &padded, &padded);
    let input_tp = ffmpeg_true_peak(&over);
    assert!(input_tp > 1.0, "the input's over: {input_tp} dBTP");
    let out = dir.path().join("output.wav");
    let (from, to) = (lag, lag + padded.len());
    write_float_wav(&out, rate as u32, &rec[0][from..to], &rec[1][from..to]);
    let tp = ffmpeg_true_peak(&out);
    eprintln!("input {input_tp:.2} dBTP, rackd's output {tp:.2} dBTP, ceiling {CEILING_DB}");
    assert!(
        tp <= f64::from(CEILING_DB) + 0.1,
        "output {tp} dBTP over the {CEILING_DB} dBTP ceiling"
    );
    assert!(d.status_count("ceiling_engagements") > 0);
}
