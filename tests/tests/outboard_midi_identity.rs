//! The MIDI identity check on a dummy jackd: a generic CC EQ (universal
//! identity manufacturer 7D, family 0, member 0) answers on the port where
//! the config expects the SysEx EQ (7D, family 1, member 1); the device is
//! marked offline as the wrong device and its recall fails.
//! One test per binary: JACK servers are per test.

use rackd_tests::*;
use std::time::Duration;

#[test]
fn another_midi_device_on_the_port_is_the_wrong_device() {
    // Synchronous: single MIDI messages survive a late client on a busy machine.
    let (_jackd, server) = jack_server_sync("rackd-test-midi-id");
    let env = [
        ("JACK_DEFAULT_SERVER", server.as_str()),
        ("JACK_NO_START_SERVER", "1"),
    ];
    let name = unique_name("sim-cc");
    let sim = Simulator::start_env("generic-midi-cc-eq", &["--midi", &name], &env);
    let d = Daemon::start(Setup {
        jack_server: Some(server.clone()),
        extra: device_toml(
            "rol",
            "generic-sysex-roland",
            &format!("midi = {{ port = \"{name}:in\", input = \"{name}:out\" }}"),
        ),
        ..Setup::default()
    });
    let why = wait_for(Duration::from_secs(20), || {
        let dev = d.status()["devices"][0].clone();
        (dev["state"] == "offline").then(|| dev["error"].as_str().unwrap_or("").to_string())
    })
    .unwrap_or_else(|| panic!("{}", d.status()));
    assert_eq!(
        why,
        "expected manufacturer 7D family 1 member 1, found manufacturer 7D family 0 member 0: \
         wrong device on this port?",
        "{}",
        sim.log_text()
    );
    assert!(sim.log_text().contains("identity"), "{}", sim.log_text());
    d.ctl_ok(&["save", "a/b"]);
    let out = d.ctl_ok(&["recall", "a/b"]);
    assert!(
        out.lines()
            .any(|l| l.trim().starts_with("rol: failed:") && l.contains("wrong device")),
        "{out}"
    );
}
