//! MIDI gear on JACK MIDI ports of a dummy jackd: a SysEx device with
//! readback and a CC device on channel 2, each played by `rackd profile
//! simulate --midi`, which prints every message it captures: the bytes are
//! compared with ones worked out by hand from the profiles; the recall sets
//! both and verifies the one that can answer, with the readback request's
//! bytes also worked out by hand.
//! One test per binary: JACK servers are per test.

use rackd_tests::*;
use rosc::OscType;
use std::time::Duration;

const SONG: &str = "client/album/03 song";

/// Bytes as the simulator prints them: upper-case hex pairs, space-separated.
fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn midi_devices_recall_over_jack() {
    // Synchronous: single MIDI messages survive a late client on a busy machine.
    let (_jackd, server) = jack_server_sync("rackd-test-midi");
    let env = [
        ("JACK_DEFAULT_SERVER", server.as_str()),
        ("JACK_NO_START_SERVER", "1"),
    ];
    let (rol, cc) = (unique_name("sim-rol"), unique_name("sim-cc"));
    let rol_sim = Simulator::start_env("generic-sysex-roland", &["--midi", &rol], &env);
    let cc_sim = Simulator::start_env(
        "generic-midi-cc-eq",
        &["--midi", &cc, "--channel", "2"],
        &env,
    );
    let extra = [
        device_toml(
            "rol",
            "generic-sysex-roland",
            &format!("midi = {{ port = \"{rol}:in\", input = \"{rol}:out\" }}"),
        ),
        device_toml(
            "cc",
            "generic-midi-cc-eq",
            &format!("midi = {{ port = \"{cc}:in\", input = \"{cc}:out\", channel = 2 }}"),
        ),
    ]
    .concat();
    let d = Daemon::start(Setup {
        jack_server: Some(server.clone()),
        extra,
        ..Setup::default()
    });
    let online = wait_for(Duration::from_secs(20), || {
        let st = d.status();
        st["devices"]
            .as_array()?
            .iter()
            .all(|x| x["state"] == "online")
            .then_some(())
    });
    assert!(online.is_some(), "{}", d.status());

    d.ctl_ok(&["set", "/outboard/rol/low_gain", "--", "-4.5"]);
    d.ctl_ok(&["set", "/outboard/cc/low_gain", "--", "3"]);
    assert!(
        rol_sim.wait_log("set low_gain -4.5", Duration::from_secs(5)),
        "{}",
        rol_sim.log_text()
    );
    // The bytes on the JACK MIDI ports, worked out by hand from the profiles'
    // documented encodings (not with the daemon's encoder):
    // - generic-sysex-roland, device id 0x10, DT1 "F0 7D {dev} 12 | {addr}
    //   {value:nib2} {roland} F7" at address 10 00 00: -4.5 dB on -12..12
    //   over 0..240 is 7.5 / 24 * 240 = 75 = 0x4B, nibbles 04 0B; Roland
    //   checksum 128 - (0x10 + 0 + 0 + 0x04 + 0x0B) = 128 - 31 = 0x61.
    // - generic-midi-cc-eq on channel 2: control change B1, CC 20 = 0x14;
    //   +3 dB on -12..12 over 16..112 is 16 + 15 / 24 * 96 = 76 = 0x4C.
    // - Both were first asked who they are: the MIDI identity request to
    //   every device, F0 7E 7F 06 01 F7.
    for (sim, bytes) in [
        (
            &rol_sim,
            [
                0xF0, 0x7D, 0x10, 0x12, 0x10, 0x00, 0x00, 0x04, 0x0B, 0x61, 0xF7,
            ]
            .as_slice(),
        ),
        (&cc_sim, [0xB1, 0x14, 0x4C].as_slice()),
        (&rol_sim, [0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7].as_slice()),
        (&cc_sim, [0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7].as_slice()),
    ] {
        let want = format!("rx {}", hex(bytes));
        assert!(
            sim.wait_log(&want, Duration::from_secs(5)),
            "{want} not captured:\n{}",
            sim.log_text()
        );
    }
    d.ctl_ok(&["save", SONG]);
    d.ctl_ok(&["set", "/outboard/rol/low_gain", "--", "2"]);

    let c = d.udp();
    c.send("/rackd/snapshot/recall", vec![OscType::String(SONG.into())]);
    let report = json_arg(
        &c.recv_until(Duration::from_secs(30), |m| {
            m.addr == "/rackd/recall/report"
        })
        .expect("no recall report"),
    );
    let result = |id: &str| {
        report["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["device"] == id)
            .unwrap()["result"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(result("rol"), "set and verified", "{report}");
    // The readback: RQ1 "F0 7D {dev} 11 | {addr} 00 00 02 {roland} F7" for
    // two bytes at 10 00 00; checksum 128 - (0x10 + 0x02) = 128 - 18 = 0x6E.
    let rq1 = format!(
        "rx {}",
        hex(&[
            0xF0, 0x7D, 0x10, 0x11, 0x10, 0x00, 0x00, 0x00, 0x00, 0x02, 0x6E, 0xF7
        ])
    );
    assert!(
        rol_sim.log_text().contains(&rq1),
        "{rq1} not captured:\n{}",
        rol_sim.log_text()
    );
    assert_eq!(result("cc"), "set (no readback)", "{report}");
    let log = rol_sim.log_text();
    assert_eq!(
        log.lines().rfind(|l| l.starts_with("set low_gain")),
        Some("set low_gain -4.5"),
        "{log}"
    );
    assert!(
        cc_sim.wait_log("set low_gain 3", Duration::from_secs(5)),
        "{}",
        cc_sim.log_text()
    );
}
