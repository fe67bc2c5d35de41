//! Hardware inserts end to end, on a dummy jackd: JACK clients stand in for
//! analog gear (a known delay, gain and polarity) wired to rackd's send and
//! return ports; a tap client plays into rackd and records what comes out.
//!
//! Checked: the round-trip measurement finds the delay (the same for every
//! run, a known JACK period plus the gear's delay), flags an inverted return
//! and a silent one; at 50 % dry/wet an identical return sums back to the
//! input (no comb filtering: the dry path is aligned to the sample); the
//! print pass writes the expected transform of the source aligned to it; a
//! render refuses a chain with an insert; reordering, removing and adding
//! slots while audio plays never makes a step larger than the signal's own.
//! One test per binary: the JACK server is chosen through the environment.

use rackd_tests::wav::{best_lag, noise, read_float_wav, write_float_wav};
use rackd_tests::*;
use std::time::Duration;

/// The gear's own delays, in samples.
const EQ_DELAY: usize = 100;
const COMP_DELAY: usize = 37;

fn db(x: f32) -> f32 {
    10f32.powf(x / 20.0)
}

fn set(d: &Daemon, path: &str, value: &str) {
    d.ctl_ok(&["set", path, value]);
}

/// `rackd ctl measure SLOT` → the stored latency.
fn measure(d: &Daemon, slot: &str) -> (usize, String) {
    let out = d.ctl_ok(&["measure", slot]);
    let latency = d.get_f32(&format!("/chain/{slot}/latency")) as usize;
    (latency, out)
}

#[test]
fn inserts_are_measured_compensated_printed_and_reordered() {
    let (_jackd, server) = jack_server("rackd-test-insert");
    let eq = GearStandIn::start(&unique_name("eq"), EQ_DELAY, 0.0, false);
    let comp = GearStandIn::start(&unique_name("comp"), COMP_DELAY, -6.0, true);
    let mut setup = Setup {
        chain: vec![("trim".into(), "trim".into())],
        ..Setup::jack(&server)
    };
    let insert = |id: &str, gear: &GearStandIn, active: bool| {
        let [il, ir] = gear.inputs();
        let [ol, or] = gear.outputs();
        format!(
            "[[chain]]\nid = \"{id}\"\nkind = \"insert\"\nsend = [\"{il}\", \"{ir}\"]\n\
             return = [\"{ol}\", \"{or}\"]\nactive = {active}\n\n"
        )
    };
    setup.extra = insert("eq", &eq, true) + &insert("comp", &comp, false);
    setup.extra += "[[chain]]\nid = \"meter\"\nkind = \"meter\"\n\n";
    let d = Daemon::start(setup.clone());
    let tap = JackTap::on_rackd(&setup.client_name);
    let period = tap.period();
    let rate = tap.sample_rate();
    assert_eq!(d.ctl_ok(&["layout"]).trim(), "trim > eq > meter");

    // --- measurement: exact, repeatable, inversion and silence reported
    let (eq_latency, text) = measure(&d, "eq");
    eprintln!("eq: {text}");
    assert!(
        eq_latency >= EQ_DELAY && (eq_latency - EQ_DELAY) % period == 0,
        "round trip {eq_latency} is not the gear's {EQ_DELAY} samples plus whole JACK periods of {period}"
    );
    let jack_part = eq_latency - EQ_DELAY;
    assert_eq!(
        measure(&d, "eq").0,
        eq_latency,
        "a second measurement agrees"
    );
    assert!(!text.contains("INVERTED"), "{text}");

    assert_eq!(
        d.ctl_ok(&["layout", "trim", "eq", "comp", "meter"]).trim(),
        "trim > eq > comp > meter"
    );
    let (comp_latency, text) = measure(&d, "comp");
    eprintln!("comp: {text}");
    assert_eq!(
        comp_latency,
        COMP_DELAY + jack_part,
        "the second insert's gear delay comes out exactly"
    );
    assert!(text.contains("INVERTED"), "inversion not reported: {text}");
    assert!(
        text.contains("return -6"),
        "return gain not reported: {text}"
    );

    comp.set_silent(true);
    let out = d.ctl(&["measure", "comp"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("nothing came back"), "{err}");
    assert_eq!(
        d.get_f32("/chain/comp/latency") as usize,
        comp_latency,
        "a failed measurement keeps the stored value"
    );
    comp.set_silent(false);
    let st = d.status();
    assert_eq!(
        st["latency_samples"].as_u64(),
        Some((eq_latency + comp_latency) as u64),
        "{st}"
    );

    // --- 50 % dry/wet of an identical return: the input again, to the sample
    d.ctl_ok(&["layout", "trim", "eq", "meter"]);
    set(&d, "/chain/eq/mix", "50");
    std::thread::sleep(Duration::from_millis(300));
    let x = noise(rate, 0.1, 1);
    let xr = noise(rate, 0.1, 2);
    let [yl, yr] = tap.play_and_record(&x, &xr, rate + 4 * 8192);
    let probe = &x[4096..4096 + 1024];
    let (lag, _) = best_lag(probe, &yl[4096..], 4 * 8192);
    let worst = (0..rate)
        .map(|i| (yl[i + lag] - x[i]).abs().max((yr[i + lag] - xr[i]).abs()))
        .fold(0f32, f32::max);
    eprintln!("dry/wet 50 %: lag {lag}, largest difference from the input {worst:e}");
    assert!(
        worst < 1e-5,
        "50 % of dry plus 50 % of an identical return must give back the input: off by {worst}"
    );
    // Without compensation the same mix combs.
    set(&d, "/chain/eq/latency", &(eq_latency + 5).to_string());
    std::thread::sleep(Duration::from_millis(300));
    let [yl, _] = tap.play_and_record(&x, &xr, rate + 4 * 8192);
    let (_, combed) = best_lag(probe, &yl[4096..], 4 * 8192);
    assert!(combed > 0.01, "a wrong latency must show ({combed})");
    set(&d, "/chain/eq/latency", &eq_latency.to_string());
    set(&d, "/chain/eq/mix", "100");

    // --- print pass: recall, play through the gear, write aligned
    d.ctl_ok(&["layout", "trim", "comp", "meter"]);
    set(&d, "/chain/trim/gain", "-3");
    set(&d, "/chain/comp/invert", "1");
    d.ctl_ok(&["save", "album/01 song"]);
    set(&d, "/chain/trim/gain", "0");
    d.ctl_ok(&["layout", "trim", "meter"]);
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("mix.wav");
    let printed = dir.path().join("master.wav");
    let (sl, sr) = (noise(rate / 2, 0.25, 3), noise(rate / 2, 0.25, 4));
    write_float_wav(&source, rate as u32, &sl, &sr);
    // Dummy jackd has xruns now and then in non-realtime mode; the daemon
    // refuses a print with an xrun in it (the return may be misaligned), so
    // try a few times.
    let mut attempts = 0;
    let out = loop {
        attempts += 1;
        let out = d.ctl(&[
            "print",
            "album/01 song",
            source.to_str().unwrap(),
            printed.to_str().unwrap(),
            "--bits",
            "32",
        ]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).to_string();
        }
        assert!(err.contains("xrun") && attempts < 8, "print failed: {err}");
        assert!(!printed.exists(), "a refused print wrote a file");
        eprintln!("print attempt {attempts}: {err}");
    };
    eprintln!("{out}");
    assert_eq!(
        d.ctl_ok(&["layout"]).trim(),
        "trim > comp > meter",
        "the print recalled the song"
    );
    let (prate, [pl, pr]) = read_float_wav(&printed);
    assert_eq!(prate as usize, rate);
    assert_eq!(pl.len(), sl.len(), "the print is as long as the source");
    // trim -3 dB, gear -6 dB inverted, corrected by the insert's invert.
    let g = db(-3.0) * db(-6.0);
    let worst = (0..sl.len())
        .map(|i| (pl[i] - g * sl[i]).abs().max((pr[i] - g * sr[i]).abs()))
        .fold(0f32, f32::max);
    eprintln!("print: largest difference from the expected transform {worst:e}");
    if let Some(i) = (0..sl.len()).find(|&i| (pl[i] - g * sl[i]).abs() > 1e-5) {
        let last = (0..sl.len())
            .rev()
            .find(|&i| (pl[i] - g * sl[i]).abs() > 1e-5)
            .unwrap();
        eprintln!(
            "print: first bad sample {i}, last {last}: {} vs {}",
            pl[i],
            g * sl[i]
        );
    }
    assert!(
        worst < 1e-5,
        "print differs from the expected transform by {worst}"
    );

    // The offline render refuses the insert and says what to do instead.
    let out = run_rackd(&[
        "render",
        "--snapshot",
        "album/01 song",
        "--config",
        d.config.to_str().unwrap(),
        source.to_str().unwrap(),
        dir.path().join("render.wav").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("hardware insert") && err.contains("ctl print"),
        "{err}"
    );

    // A bad print request changes nothing and says why.
    let out = d.ctl(&["print", "album/01 song", "/nonexistent.wav", "/tmp/x.wav"]);
    assert_eq!(out.status.code(), Some(2));

    // --- reorder, remove and add slots while a sine plays: no step larger
    // than the sine's own largest step (plus a small margin).
    d.ctl_ok(&["layout", "trim", "eq", "meter"]);
    set(&d, "/chain/trim/gain", "-3");
    std::thread::sleep(Duration::from_millis(300));
    let cycle = 48; // 1 kHz at 48 kHz
    let sine: Vec<f32> = (0..cycle * 100)
        .map(|i| 0.2 * (std::f32::consts::TAU * i as f32 / cycle as f32).sin())
        .collect();
    tap.start_loop(&sine, &sine, rate * 4);
    std::thread::sleep(Duration::from_millis(500));
    for layout in [
        ["eq", "trim", "meter"].as_slice(),
        &["trim", "eq", "meter"],
        &["trim", "eq"],
        &["meter", "eq", "trim"],
        &["trim", "eq", "meter"],
    ] {
        d.ctl_ok(&[&["layout"][..], layout].concat());
        std::thread::sleep(Duration::from_millis(400));
    }
    let [yl, _] = tap.stop_loop();
    let expected_step = 0.2 * db(-3.0) * (std::f32::consts::TAU / cycle as f32);
    let start = 8192;
    let worst = yl[start..]
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0f32, f32::max);
    let level = yl[start..].iter().fold(0f32, |m, v| m.max(v.abs()));
    eprintln!("reorder: largest step {worst:.5} (sine's own {expected_step:.5}), peak {level:.4}");
    assert!(
        (level - 0.2 * db(-3.0)).abs() < 0.01,
        "signal level {level}"
    );
    assert!(
        worst <= expected_step * 1.05,
        "a layout change made a step of {worst}, more than the sine's {expected_step}"
    );
    let log = d.log_text();
    assert!(log.contains("slot layout: meter > eq > trim"), "{log}");
}
