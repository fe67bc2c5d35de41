//! MIDI gear on the ALSA sequencer (`midi = { backend = "alsa", ... }`).
//! Where there is a sequencer, a virtual sequencer port made by the test
//! plays the device and the bytes it gets are compared with hand-computed
//! ones. Where there is none (no /dev/snd/seq, as on this project's test
//! machines, whose kernel has no ALSA) the ALSA device is offline with a
//! clear reason and the recall fails it while an OSC device on the same rack
//! is set and verified. Each machine runs the one of the two that fits it.
//! `rackd check` takes the backend key and rejects an unknown one with its line.

use rackd_tests::*;
use rosc::OscType;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SONG: &str = "client/album/03 song";
const UNAVAILABLE: &str = "ALSA sequencer unavailable: ";
const HINT: &str = "is this a machine with MIDI hardware?";

fn alsa_device(id: &str, backend: &str) -> String {
    device_toml(
        id,
        "generic-midi-cc-eq",
        &format!("midi = {{ backend = \"{backend}\", port = \"UM-ONE\", channel = 2 }}"),
    )
}

fn result_of(report: &serde_json::Value, device: &str) -> String {
    report["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["device"] == device)
        .and_then(|d| d["result"].as_str())
        .unwrap_or("(missing)")
        .to_string()
}

#[test]
fn alsa_device_without_a_sequencer_fails_while_the_others_recall() {
    if Path::new("/dev/snd/seq").exists() {
        eprintln!(
            "skipped: this machine has an ALSA sequencer (alsa_device_on_a_sequencer_gets_its_bytes runs)"
        );
        return;
    }
    let (_fx, fx_port) = Simulator::start_osc("generic-osc-device", &[]);
    let extra = [
        alsa_device("um", "alsa"),
        device_toml(
            "fx",
            "generic-osc-device",
            &format!("osc = {{ address = \"127.0.0.1:{fx_port}\" }}"),
        ),
    ]
    .concat();
    let d = Daemon::start(Setup {
        extra,
        ..Setup::default()
    });
    let ready = wait_for(Duration::from_secs(20), || {
        let st = d.status();
        let devices = st["devices"].as_array()?.clone();
        let state = |id: &str| {
            devices
                .iter()
                .find(|x| x["id"] == id)
                .map(|x| x["state"].clone())
        };
        (state("fx")? == "online" && state("um")? == "offline").then_some(())
    });
    assert!(ready.is_some(), "{}", d.status());
    let st = d.status();
    let um = st["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "um")
        .unwrap()
        .clone();
    assert_eq!(um["port"], "alsa:UM-ONE", "{st}");
    let why = um["error"].as_str().unwrap_or("");
    assert!(why.contains(UNAVAILABLE) && why.ends_with(HINT), "{st}");

    d.ctl_ok(&["set", "/outboard/fx/input", "--", "-6"]);
    d.ctl_ok(&["set", "/outboard/um/low_gain", "--", "3"]);
    d.ctl_ok(&["save", SONG]);
    d.ctl_ok(&["set", "/outboard/fx/input", "--", "2"]);

    let c = d.udp();
    c.subscribe(&["/rackd/recall/*"]);
    let started = Instant::now();
    c.send("/rackd/snapshot/recall", vec![OscType::String(SONG.into())]);
    let report = json_arg(
        &c.recv_until(Duration::from_secs(30), |m| {
            m.addr == "/rackd/recall/report"
        })
        .expect("no recall report"),
    );
    println!(
        "recall with the ALSA device offline took {:?}",
        started.elapsed()
    );
    assert_eq!(result_of(&report, "fx"), "set and verified", "{report}");
    let um = result_of(&report, "um");
    assert!(um.starts_with("failed:"), "{report}");
    assert!(um.contains(UNAVAILABLE) && um.contains(HINT), "{report}");
    assert_eq!(d.get_f32("/outboard/fx/input"), -6.0);

    // Later (past the first retry, 1 s after the failure): still offline,
    // the daemon still serving. Not a synchronization: nothing is awaited.
    std::thread::sleep(Duration::from_millis(1500));
    let st = d.status();
    assert!(
        st["devices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == "um" && x["state"] == "offline"),
        "{st}"
    );
    assert_eq!(d.get_f32("/outboard/fx/input"), -6.0);
}

/// The working path, where the kernel has a sequencer: the test makes a
/// virtual sequencer input port (as a USB MIDI interface's output port
/// appears), the daemon finds it by name part and sends an ALTO control30's
/// control changes to it; a surface change and a recall arrive as the bytes
/// the profile documents, worked out by hand.
#[test]
fn alsa_device_on_a_sequencer_gets_its_bytes() {
    use midir::os::unix::VirtualInput;
    if !Path::new("/dev/snd/seq").exists() {
        eprintln!(
            "skipped: no ALSA sequencer (no /dev/snd/seq; alsa_device_without_a_sequencer_fails_while_the_others_recall runs)"
        );
        return;
    }
    let name = unique_name("rackd-test-seq");
    let got: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let input = midir::MidiInput::new("rackd-tests").expect("a sequencer client");
    let _port = input
        .create_virtual(
            &name,
            |_, bytes, got: &mut Arc<Mutex<Vec<Vec<u8>>>>| {
                got.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(bytes.to_vec())
            },
            got.clone(),
        )
        .expect("a virtual sequencer port");
    let d = Daemon::start(Setup {
        extra: device_toml(
            "um",
            "alto-control30",
            &format!("midi = {{ backend = \"alsa\", port = \"{name}\" }}"),
        ),
        ..Setup::default()
    });
    let online = wait_for(Duration::from_secs(20), || {
        (d.status()["devices"][0]["state"] == "online").then_some(())
    });
    assert!(online.is_some(), "{}", d.status());
    // Volume, CC 7 on channel 1 (B0 07), -15..+12 dB over 0..54:
    // -3 dB is 12 / 27 * 54 = 24 = 0x18; +6 dB is 21 / 27 * 54 = 42 = 0x2A.
    let arrives = |bytes: &[u8]| {
        wait_for(WAIT, || {
            got.lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|m| m == bytes)
                .then_some(())
        })
        .is_some()
    };
    d.ctl_ok(&["set", "/outboard/um/volume", "--", "-3"]);
    assert!(arrives(&[0xB0, 0x07, 0x18]), "{:02x?}", got.lock().unwrap());
    d.ctl_ok(&["save", SONG]);
    d.ctl_ok(&["set", "/outboard/um/volume", "--", "6"]);
    assert!(arrives(&[0xB0, 0x07, 0x2A]), "{:02x?}", got.lock().unwrap());
    got.lock().unwrap().clear();
    let report = d.ctl_ok(&["recall", SONG]);
    assert!(report.contains("um: set (no readback)"), "{report}");
    assert!(arrives(&[0xB0, 0x07, 0x18]), "{:02x?}", got.lock().unwrap());
}

/// `rackd check` on the default setup plus one MIDI device; also gives the
/// line of its `midi` key.
fn check(backend: &str) -> (Option<i32>, String, usize) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rackd.toml");
    let setup = Setup {
        extra: alsa_device("um", backend),
        ..Setup::default()
    };
    let text = setup.toml(free_port(), dir.path());
    let line = text.lines().position(|l| l.starts_with("midi = ")).unwrap() + 1;
    std::fs::write(&file, text).unwrap();
    let out = run_rackd(&["check", "--config", file.to_str().unwrap()]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        line,
    )
}

#[test]
fn check_accepts_the_midi_backends_and_rejects_others_with_lines() {
    for ok in ["alsa", "jack"] {
        let (code, err, _) = check(ok);
        assert_eq!(code, Some(0), "{ok}: {err}");
    }
    let (code, err, line) = check("coremidi");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.lines().any(
            |l| l.contains(&format!("rackd.toml:{line}: device[0].midi.backend"))
                && l.contains("choose jack or alsa")
        ),
        "{err}"
    );
}
