//! A hardware insert on the cpal backend (cpal's JACK host, four channels):
//! the insert's sends go out on device channels 3/4 to a JACK client standing
//! in for the gear, its returns come back on input channels 3/4. The
//! measurement finds the gear's delay plus whole periods, and 50 % dry/wet of
//! an identical return gives the input back to the sample.
//! One test per binary: the JACK server is chosen through the environment.

use rackd_tests::wav::{best_lag, noise};
use rackd_tests::*;

const DELAY: usize = 64;

#[test]
fn insert_on_extra_cpal_channels_is_measured_and_aligned() {
    // Long periods: on a busy machine a clean take is then far more likely.
    let (_jackd, server) = jack_server_with_period("rackd-test-cpal-insert", 1024);
    let gear = GearStandIn::start(&unique_name("gear"), DELAY, 0.0, false);
    let mut setup = Setup {
        backend: "cpal".into(),
        jack_server: Some(server.clone()),
        chain: vec![("trim".into(), "trim".into())],
        ..Setup::default()
    };
    setup.extra = "[[chain]]\nid = \"gear\"\nkind = \"insert\"\n\
                   send_channels = [3, 4]\nreturn_channels = [3, 4]\n"
        .into();
    setup.env.extend(
        [
            ("RACKD_AUDIO__HOST", "jack"),
            ("RACKD_AUDIO__SAMPLE_RATE", "48000"),
            ("RACKD_AUDIO__BUFFER_SIZE", "1024"),
            ("RACKD_AUDIO__CHANNELS", "4"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let d = Daemon::start(setup.clone());
    wait_for(WAIT, || (d.status()["running"] == true).then_some(()))
        .unwrap_or_else(|| panic!("cpal backend never ran: {}", d.status()));

    // Wire the gear between output channels 3/4 and input channels 3/4.
    let name = &setup.client_name;
    let (patch, _) = jack::Client::new(&unique_name("patch"), jack::ClientOptions::NO_START_SERVER)
        .expect("JACK client");
    let [gin_l, gin_r] = gear.inputs();
    let [gout_l, gout_r] = gear.outputs();
    for (src, dst) in [
        (format!("{name}_out:out_2"), gin_l),
        (format!("{name}_out:out_3"), gin_r),
        (gout_l, format!("{name}_in:in_2")),
        (gout_r, format!("{name}_in:in_3")),
    ] {
        let ok = wait_for(WAIT, || patch.connect_ports_by_name(&src, &dst).ok());
        assert!(ok.is_some(), "cannot connect {src} -> {dst}");
    }

    // The tap that plays and records the main pair; wired before measuring,
    // since the round trip depends on the JACK graph's order (re-measure
    // after re-patching, as in a real room).
    let tap = JackTap::start(
        &unique_name("tap"),
        &[format!("{name}_in:in_0"), format!("{name}_in:in_1")],
        &[format!("{name}_out:out_0"), format!("{name}_out:out_1")],
    );
    let period = 1024;
    let rate = tap.sample_rate();
    let x = noise(rate, 0.1, 5);
    let xr = noise(rate, 0.1, 6);
    d.set_playing("/chain/gear/mix", "50");
    // An xrun can move the cpal input→output hop by a period, and with it
    // the round trip through the insert (re-measure after xruns, as the
    // README says). Dummy jackd on a busy machine runs late clients twice or
    // not at all, so the measurement and the recording are taken again
    // together until no xrun and no break of a frame clock came between them.
    let disturbances =
        || d.status_count("xruns") + tap.cycles().disturbances() + gear.cycles().breaks();
    let (latency, [yl, yr]) = undisturbed("measure and play through", disturbances, || {
        d.ctl_ok(&["measure", "gear"]);
        let latency = d.get_f32("/chain/gear/latency") as usize;
        (latency, tap.play_and_record(&x, &xr, rate + 8 * 8192))
    });
    eprintln!("cpal insert: round trip {latency} samples (gear {DELAY})");
    assert!(
        latency >= DELAY && (latency - DELAY) % period == 0,
        "round trip {latency} is not the gear's {DELAY} plus whole periods of {period}"
    );
    let (lag, _) = best_lag(&x[4096..5120], &yl[4096..], 8 * 8192);
    let worst = (0..rate)
        .map(|i| (yl[i + lag] - x[i]).abs().max((yr[i + lag] - xr[i]).abs()))
        .fold(0f32, f32::max);
    eprintln!("cpal insert: lag {lag}, largest difference {worst:e}");
    assert!(
        worst < 1e-5,
        "50 % dry/wet through the cpal insert is off by {worst}"
    );
}
