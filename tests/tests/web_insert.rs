//! The engineer's page drives a hardware insert and the print pass, end to
//! end: a dummy jackd, a daemon with an insert slot whose send is wired back
//! to its return through a stand-in cable, and the page in
//! headless Chromium (Playwright, `python/page_insert_check.py`). The page's
//! "Measure round trip" shows its running state and then the round trip, which must be the
//! number `rackd ctl get /chain/ins/latency` reports; a print started from
//! the page shows its progress advancing and the daemon's report (frames and
//! the latency removed); the printed file is the source, to the sample.
//!
//! The print plays a WAV from the daemon's sources directory in place of the
//! inputs, so no tone is played into rackd. Dummy jackd in non-realtime mode
//! has xruns now and then: the script measures or prints again when the
//! daemon refused because of them, and nothing here asserts "no xruns".
//! One test per binary: the JACK server is chosen through the environment.

use rackd_tests::wav::{noise, read_float_wav, write_float_wav};
use rackd_tests::*;
use std::process::Command;
use std::time::Duration;

const FULL: &str = "full-token-for-the-insert-page-0123";
const SONG: &str = "client/album/01 insert";
/// The cable's own delay, in samples.
const CABLE_DELAY: usize = 64;

#[test]
fn the_page_measures_an_insert_and_prints() {
    if !require_program("python3", "python3")
        || !require_program("chromium", "chromium")
        || !require_python_module("playwright", "playwright")
    {
        return;
    }
    // Long periods: fewer cycles for a busy machine to miss during the print.
    let (_jackd, server) = jack_server_with_period("rackd-test-web-insert", 1024);
    let setup = Setup {
        chain: vec![
            ("trim".into(), "trim".into()),
            ("ins".into(), "insert".into()),
            ("meter".into(), "meter".into()),
        ],
        http: Some(format!("token = \"{FULL}\"\n")),
        ..Setup::jack(&server)
    };
    let d = Daemon::start(setup.clone());
    let rackd = &setup.client_name;
    assert_eq!(d.ctl_ok(&["layout"]).trim(), "trim > ins > meter");

    // The gear: a cable with a known delay, plugged in
    // (the send straight into its return is jack_self_loop's case).
    let cable = GearStandIn::start(&unique_name("cable"), CABLE_DELAY, 0.0, false);
    let [cable_in_l, cable_in_r] = cable.inputs();
    let [cable_out_l, cable_out_r] = cable.outputs();
    for (src, dst) in [
        (format!("{rackd}:ins_send_l"), cable_in_l),
        (format!("{rackd}:ins_send_r"), cable_in_r),
        (cable_out_l, format!("{rackd}:ins_return_l")),
        (cable_out_r, format!("{rackd}:ins_return_r")),
    ] {
        jack_connect(&src, &dst);
        assert_eq!(
            jack_connections(&src),
            std::slice::from_ref(&dst),
            "{src} -> {dst}"
        );
    }

    // A snapshot to print, and a source in the daemon's sources directory.
    d.ctl_ok(&["save", SONG]);
    let rate = 48_000;
    let (sl, sr) = (noise(2 * rate, 0.25, 11), noise(2 * rate, 0.25, 12));
    write_float_wav(&d.state_dir.join("sources/mix.wav"), rate as u32, &sl, &sr);
    let printed = d.state_dir.join("prints/master.wav");

    let out = run_with_timeout(
        Command::new("python3")
            .arg(crate_dir().join("python/page_insert_check.py"))
            .args([
                &d.http_url(),
                FULL,
                &d.port.to_string(),
                &rackd_bin().to_string_lossy(),
                "/usr/bin/chromium",
                "ins",
                SONG,
                "mix.wav",
                "master.wav",
                &sl.len().to_string(),
                &printed.to_string_lossy(),
            ]),
        Duration::from_secs(300),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    assert!(
        out.status.success(),
        "page_insert_check.py failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for check in [
        "ok: the page loads",
        "ok: measure round trip shows measuring, then the round trip ctl reports",
        "ok: a print from the page shows its progress advancing",
        "ok: the print's report on the page",
        "ok: no console errors",
    ] {
        assert!(stdout.contains(check), "{check}: {stdout}");
    }

    // What the page reported was written: the source, aligned to the sample
    // (the cable changes nothing, the chain's latency was taken out).
    let latency = d.get_f32("/chain/ins/latency") as usize;
    assert!(
        latency >= CABLE_DELAY && (latency - CABLE_DELAY) % 1024 == 0,
        "round trip {latency} is not the cable's {CABLE_DELAY} samples plus whole JACK periods"
    );
    let (prate, [pl, pr]) = read_float_wav(&printed);
    assert_eq!(prate as usize, rate);
    assert_eq!(pl.len(), sl.len(), "the print is as long as the source");
    let worst = (0..sl.len())
        .map(|i| (pl[i] - sl[i]).abs().max((pr[i] - sr[i]).abs()))
        .fold(0f32, f32::max);
    eprintln!("print through a {latency}-sample cable: largest difference {worst:e}");
    assert!(
        worst < 1e-5,
        "the print differs from its source by {worst} (round trip {latency})"
    );
}
