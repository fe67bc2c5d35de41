//! Hardware inserts end to end, on a dummy jackd: JACK clients stand in for
//! analog gear (a known delay, gain and polarity) wired to rackd's send and
//! return ports; a tap client plays into rackd and records what comes out.
//!
//! Checked: the round-trip measurement finds the delay (the same for every
//! run, a known JACK period plus the gear's delay), flags an inverted return
//! and a silent one; at 50 % dry/wet an identical return sums back to the
//! input (no comb filtering: the dry path is aligned to the sample), also
//! after the gear's cables were plugged again in the other order and while
//! the JACK graph is reordered during playback; when the gear stalls a cycle
//! (an xrun) the output glitches for a few periods and is aligned again
//! afterwards; the print pass writes the expected transform of the source
//! aligned to it; a render refuses a chain with an insert; reordering,
//! removing and adding slots while audio plays never makes a step larger
//! than the signal's own.
//!
//! Dummy jackd in non-realtime mode runs late clients twice or not at all
//! when the machine is busy. Each recording and measurement is therefore
//! taken again until no client on the path (rackd, the tap, the gear) broke
//! its frame clock and no xrun was announced while it ran ([`undisturbed`]):
//! a disturbed take neither passes nor fails the test.
//! One test per binary: the JACK server is chosen through the environment.

use rackd_tests::wav::{best_lag, noise, read_float_wav, write_float_wav};
use rackd_tests::*;

/// The gear's own delays, in samples.
const EQ_DELAY: usize = 100;
const COMP_DELAY: usize = 37;

fn db(x: f32) -> f32 {
    10f32.powf(x / 20.0)
}

/// Everything on the JACK path of the test.
struct Path<'a> {
    d: &'a Daemon,
    tap: &'a JackTap,
    gear: [&'a GearStandIn; 2],
}

impl Path<'_> {
    /// Frame-clock breaks and xruns of every client on the path.
    fn disturbances(&self) -> u64 {
        self.d.status_count("cycle_breaks")
            + self.tap.cycles().disturbances()
            + self.gear.iter().map(|g| g.cycles().breaks()).sum::<u64>()
    }

    fn undisturbed<T>(&self, what: &str, take: impl FnMut() -> T) -> T {
        undisturbed(what, || self.disturbances(), take)
    }

    /// `rackd ctl measure SLOT` → ctl's output and the stored latency. rackd
    /// measures again by itself when an xrun disturbs a try; only when every
    /// try had one (it says so) is the whole measurement asked for again.
    fn measure(&self, slot: &str) -> (usize, String) {
        let out = loop {
            let out = self.d.ctl(&["measure", slot]);
            let err = String::from_utf8_lossy(&out.stderr);
            if !err.contains("xruns during each of") {
                break out;
            }
            eprintln!("measure {slot}: {err}");
        };
        assert!(
            out.status.success(),
            "measure {slot}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let latency = self.d.get_f32(&format!("/chain/{slot}/latency")) as usize;
        (latency, String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Plays `x`/`xr` and records, undisturbed; returns the lag of the
    /// output behind the input and the largest difference between them.
    fn play_through(&self, what: &str, x: &[f32], xr: &[f32]) -> (usize, f32) {
        let [yl, yr] =
            self.undisturbed(what, || self.tap.play_and_record(x, xr, x.len() + 4 * 8192));
        let (lag, _) = best_lag(&x[4096..4096 + 1024], &yl[4096..], 4 * 8192);
        let worst = (0..x.len())
            .map(|i| (yl[i + lag] - x[i]).abs().max((yr[i + lag] - xr[i]).abs()))
            .fold(0f32, f32::max);
        eprintln!("{what}: lag {lag}, largest difference from the input {worst:e}");
        (lag, worst)
    }
}

#[test]
fn inserts_are_measured_compensated_printed_and_reordered() {
    // Long periods: on a busy machine a clean take is then far more likely.
    let (_jackd, server) = jack_server_with_period("rackd-test-insert", 1024);
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
    let path = Path {
        d: &d,
        tap: &tap,
        gear: [&eq, &comp],
    };
    let period = tap.period();
    let rate = tap.sample_rate();
    assert_eq!(d.ctl_ok(&["layout"]).trim(), "trim > eq > meter");

    // --- measurement: exact, repeatable, inversion and silence reported
    let (eq_latency, text) = path.measure("eq");
    eprintln!("eq: {text}");
    assert!(
        eq_latency >= EQ_DELAY && (eq_latency - EQ_DELAY) % period == 0,
        "round trip {eq_latency} is not the gear's {EQ_DELAY} samples plus whole JACK periods of {period}"
    );
    let jack_part = eq_latency - EQ_DELAY;
    assert_eq!(
        path.measure("eq").0,
        eq_latency,
        "a second measurement agrees"
    );
    assert!(!text.contains("INVERTED"), "{text}");

    assert_eq!(
        d.layout_playing(&["trim", "eq", "comp", "meter"]),
        "trim > eq > comp > meter"
    );
    let (comp_latency, text) = path.measure("comp");
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
    let (out, err) = loop {
        let out = d.ctl(&["measure", "comp"]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if !err.contains("xruns during each of") {
            break (out, err);
        }
    };
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

    // --- 50 % dry/wet of an identical return: the input again, to the sample.
    // (Any mix of an identical, aligned return gives the input back, so the
    // mix's own glide does not matter here.)
    d.layout_playing(&["trim", "eq", "meter"]);
    d.set_playing("/chain/eq/mix", "50");
    let x = noise(rate, 0.1, 1);
    let xr = noise(rate, 0.1, 2);
    let (_, worst) = path.play_through("dry/wet 50 %", &x, &xr);
    assert!(
        worst < 1e-5,
        "50 % of dry plus 50 % of an identical return must give back the input: off by {worst}"
    );
    // Without compensation the same mix combs.
    d.set_playing("/chain/eq/latency", &(eq_latency + 5).to_string());
    let [yl, _] = path.undisturbed("dry/wet with a wrong latency", || {
        tap.play_and_record(&x, &xr, rate + 4 * 8192)
    });
    let (_, combed) = best_lag(&x[4096..4096 + 1024], &yl[4096..], 4 * 8192);
    assert!(combed > 0.01, "a wrong latency must show ({combed})");
    d.set_playing("/chain/eq/latency", &eq_latency.to_string());

    // --- the JACK graph changes: the round trip stays what was measured.
    // The gear's cables plugged again, return before send (JACK decides
    // anew where it breaks the send → gear → return cycle).
    let rackd = &setup.client_name;
    let [eq_in_l, eq_in_r] = eq.inputs();
    let [eq_out_l, eq_out_r] = eq.outputs();
    let cables = [
        (format!("{rackd}:eq_send_l"), eq_in_l),
        (format!("{rackd}:eq_send_r"), eq_in_r),
        (eq_out_l, format!("{rackd}:eq_return_l")),
        (eq_out_r, format!("{rackd}:eq_return_r")),
    ];
    for (src, dst) in &cables {
        tap.disconnect(src, dst);
    }
    for (src, dst) in cables.iter().rev() {
        tap.connect(src, dst);
    }
    let (_, worst) = path.play_through("dry/wet after replugging the gear", &x, &xr);
    assert!(worst < 1e-5, "after replugging, dry/wet is off by {worst}");
    assert_eq!(
        path.measure("eq").0,
        eq_latency,
        "replugging the gear in another order left the round trip as it was"
    );
    // Connections made and broken elsewhere while the audio plays.
    let bystander = JackTap::start(
        &unique_name("bystander"),
        &[format!("{}:in_l", eq.name()), format!("{}:in_r", eq.name())],
        &[format!("{rackd}:out_l"), format!("{rackd}:out_r")],
    );
    // It plays silence into the gear's inputs (JACK mixes it in: adds 0).
    let long_x = noise(3 * rate / 2, 0.1, 5);
    let long_xr = noise(3 * rate / 2, 0.1, 6);
    let reorders_before = tap.cycles().reorders();
    let [yl, yr] = path.undisturbed("dry/wet while the graph is reordered", || {
        tap.start_take(&long_x, &long_xr, long_x.len() + 4 * 8192);
        for k in 1..=4 {
            tap.wait_recorded(k * rate / 4);
            let (src, dst) = (
                format!("{rackd}:out_l"),
                format!("{}:in_l", bystander.name()),
            );
            if k % 2 == 1 {
                tap.disconnect(&src, &dst);
            } else {
                tap.connect(&src, &dst);
            }
        }
        tap.finish_take()
    });
    let reorders = tap.cycles().reorders() - reorders_before;
    let (lag, _) = best_lag(&long_x[4096..4096 + 1024], &yl[4096..], 4 * 8192);
    let worst = (0..long_x.len())
        .map(|i| {
            (yl[i + lag] - long_x[i])
                .abs()
                .max((yr[i + lag] - long_xr[i]).abs())
        })
        .fold(0f32, f32::max);
    eprintln!("dry/wet during {reorders} graph reorders: largest difference {worst:e}");
    // JACK announces reorders as it sees fit (it may fold several into one).
    assert!(
        reorders >= 1,
        "the graph was not reordered during the recording"
    );
    assert!(
        worst < 1e-5,
        "a graph reorder moved the return: off by {worst}"
    );
    drop(bystander);

    // --- the gear stalls one cycle (an xrun): a glitch, then aligned again.
    // Taken again until the stall was the only disturbance: nothing broke
    // before it, nor after the glitch it makes.
    let stall_ms = 60;
    let glitch = (stall_ms * rate / 1000) + 8 * period;
    let (stalled_at, xruns, [yl, yr]) = loop {
        let xruns_before = tap.cycles().xruns();
        let before = path.disturbances();
        tap.start_take(&long_x, &long_xr, long_x.len() + 4 * 8192);
        tap.wait_recorded(rate / 2);
        let quiet_before = path.disturbances() == before;
        let stalled_at = tap.recorded();
        eq.stall(stall_ms as u32);
        tap.wait_recorded(stalled_at + glitch);
        let settled = path.disturbances();
        let rec = tap.finish_take();
        let clean = quiet_before && path.disturbances() == settled;
        if clean {
            break (stalled_at, tap.cycles().xruns() - xruns_before, rec);
        }
        eprintln!("stall: other disturbances before or after it; again");
    };
    assert!(
        xruns > 0,
        "a {stall_ms} ms stall of a client must show as an xrun"
    );
    let (lag, _) = best_lag(&long_x[4096..4096 + 1024], &yl[4096..], 4 * 8192);
    let bad: Vec<usize> = (0..long_x.len())
        .filter(|&i| {
            (yl[i + lag] - long_x[i])
                .abs()
                .max((yr[i + lag] - long_xr[i]).abs())
                > 1e-5
        })
        .collect();
    let (first, last) = (bad.first().copied(), bad.last().copied());
    eprintln!(
        "stall at recording frame {stalled_at}: {xruns} xrun(s), {} samples off, \
         from {first:?} to {last:?} (input frames)",
        bad.len()
    );
    // The glitch starts no earlier than the stall (in the input's frames:
    // the recording's minus the lag), lasts while the graph catches up, and
    // then everything lines up to the sample again for the rest of the
    // recording (at least half a second).
    let stall_input = stalled_at.saturating_sub(lag);
    let recovered = long_x.len() - rate / 2;
    if let (Some(first), Some(last)) = (first, last) {
        eprintln!(
            "stall: glitch of {} ms, aligned again after it",
            (last - first) * 1000 / rate
        );
        assert!(
            first + 2 * period >= stall_input,
            "samples were off at {first}, before the stall at {stall_input}"
        );
        assert!(
            last < recovered,
            "after a stalled cycle the output stays misaligned: samples {first}..{last} off"
        );
    }
    assert_eq!(
        path.measure("eq").0,
        eq_latency,
        "the round trip after the stall is the one measured"
    );
    d.set_playing("/chain/eq/mix", "100");

    // --- print pass: recall, play through the gear, write aligned
    d.layout_playing(&["trim", "comp", "meter"]);
    d.set_playing("/chain/trim/gain", "-3");
    d.set_playing("/chain/comp/invert", "1");
    d.ctl_ok(&["save", "album/01 song"]);
    d.set_playing("/chain/trim/gain", "0");
    d.layout_playing(&["trim", "meter"]);
    // Print sources and results live in the daemon's default file
    // directories (`[files]`: <state>/sources, <state>/prints).
    let dir = tempfile::tempdir().unwrap();
    let source = d.state_dir.join("sources/mix.wav");
    let printed = d.state_dir.join("prints/master.wav");
    let (sl, sr) = (noise(rate / 2, 0.25, 3), noise(rate / 2, 0.25, 4));
    write_float_wav(&source, rate as u32, &sl, &sr);
    // The daemon refuses a print with an xrun in it (the return may have a
    // dropout); dummy jackd has xruns now and then, so print until one is clean.
    let mut attempts = 0;
    let out = loop {
        attempts += 1;
        let out = d.ctl(&[
            "print",
            "album/01 song",
            "mix.wav",
            "master.wav",
            "--bits",
            "32",
        ]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).to_string();
        }
        assert!(
            err.contains("xrun") && attempts < 100,
            "print failed: {err}"
        );
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
    let missing = dir.path().join("missing.wav");
    let never = dir.path().join("never.wav");
    let out = d.ctl(&[
        "print",
        "album/01 song",
        missing.to_str().unwrap(),
        never.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("missing.wav"),
        "the error names the input: {err}"
    );
    assert!(!never.exists(), "a refused print wrote its output");

    // --- reorder, remove and add slots while a sine plays: no step larger
    // than the sine's own largest step (plus a small margin).
    d.layout_playing(&["trim", "eq", "meter"]);
    d.set_playing("/chain/trim/gain", "-3");
    let cycle = 48; // 1 kHz at 48 kHz
    let sine: Vec<f32> = (0..cycle * 100)
        .map(|i| 0.2 * (std::f32::consts::TAU * i as f32 / cycle as f32).sin())
        .collect();
    let layouts = [
        ["eq", "trim", "meter"].as_slice(),
        &["trim", "eq", "meter"],
        &["trim", "eq"],
        &["meter", "eq", "trim"],
        &["trim", "eq", "meter"],
    ];
    // The recording starts after the trim's glide (20 ms) has ended.
    let start = 8192;
    let yl = path.undisturbed("layout changes", || {
        tap.start_loop(&sine, &sine, rate * 60);
        tap.wait_recorded(start + 4096);
        for layout in layouts {
            d.layout_playing(layout);
        }
        let end = tap.recorded();
        tap.wait_recorded(end + 4096);
        let [yl, _] = tap.stop_loop();
        yl
    });
    let expected_step = 0.2 * db(-3.0) * (std::f32::consts::TAU / cycle as f32);
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
