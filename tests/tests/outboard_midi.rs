//! MIDI gear on JACK MIDI ports of a dummy jackd: a SysEx device with
//! readback and a CC device on channel 2, each played by `rackd profile
//! simulate --midi`, which prints every message it captures: the bytes are
//! the profile's encoding; the recall sets both and verifies the one that can
//! answer.
//! One test per binary: JACK servers are per test.

use rackd_protocol::device::midi::hex;
use rackd_protocol::device::{DeviceCtx, DeviceMessage, encode_set};
use rackd_protocol::param::Value;
use rackd_protocol::profile::load_profile;
use rackd_tests::*;
use rosc::OscType;
use std::time::Duration;

const SONG: &str = "client/album/03 song";

#[test]
fn midi_devices_recall_over_jack() {
    let server = unique_name("rackd-test-midi");
    let _jackd = Jackd::start(&server);
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
    // The bytes on the JACK MIDI port are the profile's encoding.
    for (sim, id, channel, value) in [
        (&rol_sim, "generic-sysex-roland", 0, -4.5),
        (&cc_sim, "generic-midi-cc-eq", 1, 3.0),
    ] {
        let path = workspace_dir().join(format!("hardware-profiles/{id}.toml"));
        let profile = load_profile(&std::fs::read_to_string(&path).unwrap(), id).unwrap();
        let mut ctx = DeviceCtx::for_profile(&profile);
        ctx.channel = channel;
        let msgs = encode_set(&profile, "low_gain", &Value::Float(value), &ctx).unwrap();
        let DeviceMessage::Midi(bytes) = &msgs[0] else {
            panic!("{msgs:?}")
        };
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
