//! The RME profiles (ADI-8 QS, OctaMic XTC, ADI-648) on a dummy jackd, each
//! played by `rackd profile simulate --midi`: live changes and a recall reach
//! the units as the SysEx bytes their manuals give, written out here by hand
//! from the manuals' tables (not computed with rackd's encoder), with a
//! non-zero device id on the ADI-8 QS; the recall sets every device and says
//! it cannot verify them (the manuals give no per-parameter readback).
//! One test per binary: JACK servers are per test.

use rackd_tests::*;
use rosc::OscType;
use std::time::Duration;

const SONG: &str = "client/album/02 rme";

#[test]
fn rme_units_get_the_bytes_of_their_manuals() {
    // Synchronous: single MIDI messages survive a late client on a busy machine.
    let (_jackd, server) = jack_server_sync("rackd-test-rme");
    let env = [
        ("JACK_DEFAULT_SERVER", server.as_str()),
        ("JACK_NO_START_SERVER", "1"),
    ];
    let (qs, xtc, madi) = (
        unique_name("sim-qs"),
        unique_name("sim-xtc"),
        unique_name("sim-648"),
    );
    let qs_sim = Simulator::start_env("rme-adi-8-qs", &["--midi", &qs, "--address", "5"], &env);
    let xtc_sim = Simulator::start_env("rme-octamic-xtc", &["--midi", &xtc], &env);
    let madi_sim = Simulator::start_env("rme-adi-648", &["--midi", &madi], &env);
    let midi = |id: &str, port: &str, more: &str| {
        device_toml(
            id,
            &format!("rme-{id}"),
            &format!("midi = {{ port = \"{port}:in\", input = \"{port}:out\"{more} }}"),
        )
    };
    let d = Daemon::start(Setup {
        jack_server: Some(server.clone()),
        extra: [
            midi("adi-8-qs", &qs, ", device_id = 5"),
            midi("octamic-xtc", &xtc, ""),
            midi("adi-648", &madi, ""),
        ]
        .concat(),
        ..Setup::default()
    });
    let online = wait_for(Duration::from_secs(20), || {
        d.status()["devices"]
            .as_array()?
            .iter()
            .all(|x| x["state"] == "online")
            .then_some(())
    });
    assert!(online.is_some(), "{}", d.status());

    // (address, value, the bytes from the manual, the simulator's reading)
    let cases = [
        // ADI-8 QS table 18.3: 01h Trim Output Ch. 1, "4 = -6dB, 16 = 0dB",
        // 0.5 dB steps: +1.5 dB is 19 = 13h; bank 0 / device 5 is 05h.
        (
            "/outboard/adi-8-qs/trim_out_1",
            "1.5",
            "F0 00 20 0D 41 05 20 01 13 F7",
            "set trim_out_1 1.5",
        ),
        // 00h Output Level, the output level table: 29 (1Dh) is -19 dB.
        (
            "/outboard/adi-8-qs/output_level",
            "29",
            "F0 00 20 0D 41 05 20 00 1D F7",
            "set output_level 29",
        ),
        // OctaMic XTC: the manual's example sets mic 2 (index 01) to 37 dB
        // with LSB 1C; only the gain's set-flag (01h) here.
        (
            "/outboard/octamic-xtc/gain_2",
            "28",
            "F0 00 20 0D 69 00 20 01 1C 00 01 F7",
            "set gain_2 28",
        ),
        // Pad: MSB bit 3 (08h, as in the example), set-flag 20h.
        (
            "/outboard/octamic-xtc/pad_2",
            "1",
            "F0 00 20 0D 69 00 20 01 00 08 20 F7",
            "set pad_2 1",
        ),
        // ADI-648 table 1: 42h matrix output 3 = input no. 5.
        (
            "/outboard/adi-648/matrix_out_3",
            "5",
            "F0 00 20 0D 64 00 20 42 05 F7",
            "set matrix_out_3 5",
        ),
        // 20h clock source: 3 = WCK.
        (
            "/outboard/adi-648/clock_source",
            "WCK",
            "F0 00 20 0D 64 00 20 20 03 F7",
            "set clock_source WCK",
        ),
    ];
    let sim_of = |address: &str| match address.split('/').nth(2) {
        Some("adi-8-qs") => &qs_sim,
        Some("octamic-xtc") => &xtc_sim,
        _ => &madi_sim,
    };
    for (address, value, bytes, reading) in cases {
        d.ctl_ok(&["set", address, "--", value]);
        let sim = sim_of(address);
        assert!(
            sim.wait_log(&format!("rx {bytes}"), Duration::from_secs(5)),
            "{address} {value}: {bytes} not captured:\n{}",
            sim.log_text()
        );
        assert!(
            sim.wait_log(reading, Duration::from_secs(5)),
            "{}",
            sim.log_text()
        );
    }
    d.ctl_ok(&["save", SONG]);
    d.ctl_ok(&["set", "/outboard/adi-8-qs/trim_out_1", "--", "-2"]);
    d.ctl_ok(&["set", "/outboard/adi-648/clock_source", "INT 48"]);
    assert!(qs_sim.wait_log("set trim_out_1 -2", Duration::from_secs(5)));

    let c = d.udp();
    c.send("/rackd/snapshot/recall", vec![OscType::String(SONG.into())]);
    let report = json_arg(
        &c.recv_until(Duration::from_secs(30), |m| {
            m.addr == "/rackd/recall/report"
        })
        .expect("no recall report"),
    );
    for id in ["adi-8-qs", "octamic-xtc", "adi-648"] {
        let result = report["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["device"] == id)
            .unwrap()["result"]
            .clone();
        assert_eq!(result, "set (no readback)", "{id}: {report}");
    }
    // The song's values are back on the units, as the same bytes.
    for (sim, reading) in [
        (&qs_sim, "set trim_out_1 1.5"),
        (&madi_sim, "set clock_source WCK"),
    ] {
        let ok = wait_for(Duration::from_secs(5), || {
            let log = sim.log_text();
            let param = &reading[..reading.rfind(' ').unwrap()];
            (log.lines().rfind(|l| l.starts_with(param)) == Some(reading)).then_some(())
        });
        assert!(ok.is_some(), "{reading}:\n{}", sim.log_text());
    }
}
