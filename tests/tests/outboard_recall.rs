//! Outboard recall over real transports: serial devices on socat pty pairs
//! and OSC devices on loopback, each played by `rackd profile simulate`.
//! A rack of several devices on several ports recalls with every value
//! verified; silent and garbage-speaking devices are reported failed while
//! the others complete; an unplugged device comes back without a restart.

use rackd_tests::*;
use rosc::OscType;
use std::path::Path;
use std::time::{Duration, Instant};

const SONG: &str = "client/album/03 song";

fn serial(id: &str, profile: &str, pty: &Path, extra: &str) -> String {
    device_toml(
        id,
        profile,
        &format!(
            "serial = {{ path = {:?}{extra} }}",
            pty.display().to_string()
        ),
    )
}

fn osc(id: &str, profile: &str, port: u16) -> String {
    device_toml(
        id,
        profile,
        &format!("osc = {{ address = \"127.0.0.1:{port}\" }}"),
    )
}

/// Waits until every listed device is online in `/rackd/status`.
fn wait_online(d: &Daemon, ids: &[&str]) {
    let ok = wait_for(Duration::from_secs(20), || {
        let st = d.status();
        let devices = st["devices"].as_array()?.clone();
        ids.iter()
            .all(|id| {
                devices
                    .iter()
                    .any(|x| x["id"] == *id && x["state"] == "online")
            })
            .then_some(())
    });
    assert!(
        ok.is_some(),
        "devices not online: {}",
        d.status()["devices"]
    );
}

/// Recalls over UDP while subscribed; returns (report, progress messages).
fn recall(d: &Daemon) -> (serde_json::Value, Vec<(String, i32, i32)>) {
    let c = d.udp();
    c.subscribe(&["/rackd/recall/*"]);
    c.send("/rackd/snapshot/recall", vec![OscType::String(SONG.into())]);
    let mut progress = Vec::new();
    let report = c
        .recall_report(&mut progress)
        .expect("no /rackd/recall/report");
    // Progress goes through this subscriber's queue, the report straight back:
    // the last steps may come after it. A renewal's `/rackd/subscribed` goes
    // through the same queue, so once it is here every step queued before is.
    c.send(
        "/rackd/subscribe",
        vec![
            OscType::Int(c.port() as i32),
            OscType::String("/rackd/recall/*".into()),
        ],
    );
    c.recv_until(WAIT, |m| {
        progress.extend(progress_step(m));
        m.addr == "/rackd/subscribed"
    })
    .expect("no /rackd/subscribed after the recall");
    (report, progress)
}

/// `/rackd/recall/progress ,sii device done total` as a tuple.
fn progress_step(m: &rosc::OscMessage) -> Option<(String, i32, i32)> {
    match (m.addr.as_str(), m.args.as_slice()) {
        (
            "/rackd/recall/progress",
            [
                OscType::String(dev),
                OscType::Int(done),
                OscType::Int(total),
            ],
        ) => Some((dev.clone(), *done, *total)),
        _ => None,
    }
}

trait RecallReply {
    fn recall_report(&self, progress: &mut Vec<(String, i32, i32)>) -> Option<serde_json::Value>;
}

impl RecallReply for OscUdp {
    fn recall_report(&self, progress: &mut Vec<(String, i32, i32)>) -> Option<serde_json::Value> {
        let m = self.recv_until(Duration::from_secs(30), |m| {
            progress.extend(progress_step(m));
            m.addr == "/rackd/recall/report"
        })?;
        Some(json_arg(&m))
    }
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
fn rack_of_six_devices_on_five_ports_recalls_verified() {
    let dir = tempfile::tempdir().unwrap();
    let eq_pty = PtyPair::start(dir.path(), "eq");
    let bus_pty = PtyPair::start(dir.path(), "bus");
    let comp_pty = PtyPair::start(dir.path(), "comp");
    let eq = Simulator::start(
        "generic-serial-ascii",
        &["--serial", &eq_pty.b.to_string_lossy()],
    );
    let bus = Simulator::start(
        "generic-rs485-bus",
        &[
            "--serial",
            &bus_pty.b.to_string_lossy(),
            "--address",
            "1",
            "--address",
            "2",
        ],
    );
    let comp = Simulator::start(
        "generic-serial-binary-xor",
        &["--serial", &comp_pty.b.to_string_lossy()],
    );
    let (fx1, fx1_port) = Simulator::start_osc("generic-osc-device", &[]);
    let (fx2, fx2_port) = Simulator::start_osc("generic-osc-device", &[]);
    let setup = Setup {
        extra: [
            serial("eq", "generic-serial-ascii", &eq_pty.a, ""),
            serial("bus1", "generic-rs485-bus", &bus_pty.a, ", address = 1"),
            serial("bus2", "generic-rs485-bus", &bus_pty.a, ", address = 2"),
            serial("comp", "generic-serial-binary-xor", &comp_pty.a, ""),
            osc("fx1", "generic-osc-device", fx1_port),
            osc("fx2", "generic-osc-device", fx2_port),
            device_toml("pultec", "generic-passive-eq-stepped", ""),
        ]
        .concat(),
        ..Setup::default()
    };
    let d = Daemon::start(setup);
    let remote = ["eq", "bus1", "bus2", "comp", "fx1", "fx2"];
    wait_online(&d, &remote);

    let song_values = [
        ("/outboard/eq/low_gain", "-3.5"),
        ("/outboard/eq/high_shape", "BELL"),
        ("/outboard/bus1/low_gain", "2.5"),
        ("/outboard/bus2/low_gain", "-4"),
        ("/outboard/comp/threshold", "-20"),
        ("/outboard/fx1/eq_low_freq", "250"),
        ("/outboard/fx2/comp_mode", "mid-side"),
    ];
    for (a, v) in song_values {
        d.ctl_ok(&["set", a, "--", v]);
    }
    // Live changes reach the gear.
    assert!(
        eq.wait_log("set low_gain -3.5", Duration::from_secs(5)),
        "{}",
        eq.log_text()
    );
    d.ctl_ok(&["save", SONG]);
    for (a, v) in [
        ("/outboard/eq/low_gain", "6"),
        ("/outboard/bus2/low_gain", "1"),
        ("/outboard/fx2/comp_mode", "stereo"),
    ] {
        d.ctl_ok(&["set", a, "--", v]);
    }

    let started = Instant::now();
    let (report, progress) = recall(&d);
    // Speed is the recall benchmark's (benches/recall.rs); here only printed.
    println!("recall of six devices took {:?}", started.elapsed());
    for id in remote {
        assert_eq!(result_of(&report, id), "set and verified", "{report}");
    }
    assert_eq!(
        result_of(&report, "pultec"),
        "waiting for manual confirmation",
        "{report}"
    );
    for id in remote {
        let last = progress.iter().rfind(|(dev, _, _)| dev == id);
        assert!(
            matches!(last, Some((_, done, total)) if done == total && *total > 0),
            "progress of {id}: {progress:?}"
        );
        let verified = report["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["device"] == id)
            .unwrap()["verified"]
            .as_u64()
            .unwrap();
        assert!(verified > 0, "{id}: {report}");
    }
    // The gear holds the song's values.
    for (sim, line) in [
        (&eq, "set low_gain -3.5"),
        (&bus, "set low_gain -4"),
        (&fx2, "set comp_mode mid-side"),
        (&comp, "set threshold -20"),
        (&fx1, "set eq_low_freq 250"),
    ] {
        let log = sim.log_text();
        let last = log
            .lines()
            .rfind(|l| l.starts_with(&line[..line.rfind(' ').unwrap()]));
        assert!(
            last.is_some_and(|l| l.starts_with(line)),
            "expected {line:?} last:\n{log}"
        );
    }
    assert_eq!(d.get_f32("/outboard/eq/low_gain"), -3.5);
}

#[test]
fn silent_and_garbage_devices_fail_while_the_others_complete() {
    let dir = tempfile::tempdir().unwrap();
    let mute_pty = PtyPair::start(dir.path(), "mute");
    let noisy_pty = PtyPair::start(dir.path(), "noisy");
    let _mute = Simulator::start(
        "generic-serial-ascii",
        &["--serial", &mute_pty.b.to_string_lossy(), "--silent"],
    );
    let _noisy = Simulator::start(
        "generic-serial-ascii",
        &["--serial", &noisy_pty.b.to_string_lossy(), "--garbage"],
    );
    let (_fx, fx_port) = Simulator::start_osc("generic-osc-device", &[]);
    let setup = Setup {
        extra: [
            serial("mute", "generic-serial-ascii", &mute_pty.a, ""),
            serial("noisy", "generic-serial-ascii", &noisy_pty.a, ""),
            osc("fx", "generic-osc-device", fx_port),
        ]
        .concat(),
        ..Setup::default()
    };
    let d = Daemon::start(setup);
    wait_online(&d, &["fx"]);
    d.ctl_ok(&["set", "/outboard/fx/input", "--", "-6"]);
    d.ctl_ok(&["save", SONG]);

    let started = Instant::now();
    let (report, _) = recall(&d);
    println!(
        "recall with a silent and a garbage device took {:?}",
        started.elapsed()
    );
    assert_eq!(result_of(&report, "fx"), "set and verified", "{report}");
    let mute = result_of(&report, "mute");
    assert!(mute.starts_with("failed: offline"), "{report}");
    let noisy = result_of(&report, "noisy");
    assert!(noisy.starts_with("failed:"), "{report}");
    assert!(noisy.contains("unexpected reply"), "{report}");

    let st = d.status();
    let devices = st["devices"].as_array().unwrap();
    let mute = devices.iter().find(|x| x["id"] == "mute").unwrap();
    assert_eq!(mute["state"], "offline", "{st}");
    assert!(
        mute["error"].as_str().unwrap_or("").contains("identity"),
        "{st}"
    );
    // The daemon is fine and keeps serving.
    assert_eq!(d.get_f32("/outboard/fx/input"), -6.0);
}

#[test]
fn unplugged_device_comes_back_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut pty = PtyPair::start(dir.path(), "eq");
    let mut sim = Simulator::start(
        "generic-serial-ascii",
        &["--serial", &pty.b.to_string_lossy()],
    );
    let setup = Setup {
        extra: serial("eq", "generic-serial-ascii", &pty.a, ""),
        ..Setup::default()
    };
    let d = Daemon::start(setup);
    wait_online(&d, &["eq"]);
    d.ctl_ok(&["set", "/outboard/eq/mid_gain", "--", "3"]);
    d.ctl_ok(&["save", SONG]);

    sim.stop();
    pty.stop();
    let offline = wait_for(Duration::from_secs(10), || {
        (d.status()["devices"][0]["state"] == "offline").then_some(())
    });
    assert!(offline.is_some(), "{}", d.status());
    let (report, _) = recall(&d);
    assert!(result_of(&report, "eq").starts_with("failed:"), "{report}");

    let pty = PtyPair::start(dir.path(), "eq");
    let sim = Simulator::start(
        "generic-serial-ascii",
        &["--serial", &pty.b.to_string_lossy()],
    );
    wait_online(&d, &["eq"]);
    // Back online, it gets the room's current values without a recall.
    assert!(
        sim.wait_log("set mid_gain 3", Duration::from_secs(5)),
        "{}",
        sim.log_text()
    );
    let (report, _) = recall(&d);
    assert_eq!(result_of(&report, "eq"), "set and verified", "{report}");
}

#[test]
fn front_panel_moves_reach_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let pty = PtyPair::start(dir.path(), "eq");
    let _eq = Simulator::start(
        "generic-serial-ascii",
        &[
            "--serial",
            &pty.b.to_string_lossy(),
            "--report",
            "low_gain=4.5",
        ],
    );
    let (_fx, fx_port) = Simulator::start_osc("generic-osc-device", &["--report", "input=-9"]);
    let (_tcp, tcp_port) =
        Simulator::start_osc("generic-osc-device", &["--tcp", "--report", "input=-12"]);
    let tcp_addr = format!("127.0.0.1:{tcp_port}");
    let setup = Setup {
        extra: [
            serial("eq", "generic-serial-ascii", &pty.a, ""),
            osc("fx", "generic-osc-device", fx_port),
            device_toml(
                "fxtcp",
                "generic-osc-device",
                &format!("osc = {{ address = \"{tcp_addr}\", protocol = \"tcp\" }}"),
            ),
        ]
        .concat(),
        ..Setup::default()
    };
    let d = Daemon::start(setup);
    for (address, want) in [
        ("/outboard/eq/low_gain", 4.5),
        ("/outboard/fx/input", -9.0),
        ("/outboard/fxtcp/input", -12.0),
    ] {
        let got = wait_for(Duration::from_secs(10), || {
            (d.get_f32(address) == want).then_some(())
        });
        assert!(got.is_some(), "{address} never became {want}");
    }
}

#[test]
fn changed_only_recall_and_undo() {
    let dir = tempfile::tempdir().unwrap();
    let pty = PtyPair::start(dir.path(), "eq");
    let sim = Simulator::start(
        "generic-serial-ascii",
        &["--serial", &pty.b.to_string_lossy()],
    );
    let d = Daemon::start(Setup {
        extra: serial("eq", "generic-serial-ascii", &pty.a, ""),
        ..Setup::default()
    });
    wait_online(&d, &["eq"]);
    d.ctl_ok(&["set", "/outboard/eq/low_gain", "--", "-3.5"]);
    d.ctl_ok(&["save", SONG]);
    d.ctl_ok(&["set", "/outboard/eq/low_gain", "--", "2"]);
    d.ctl_ok(&["set", "/outboard/eq/mid_gain", "--", "1"]);
    assert!(sim.wait_log("set mid_gain 1", Duration::from_secs(5)));
    let sets_before = sim
        .log_text()
        .lines()
        .filter(|l| l.starts_with("set "))
        .count();

    let out = d.ctl_ok(&["recall", SONG, "--changed-only"]);
    assert!(out.contains("eq: set and verified"), "{out}");
    let log = sim.log_text();
    let sent: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("set "))
        .skip(sets_before)
        .collect();
    assert_eq!(sent, ["set low_gain -3.5", "set mid_gain 0"], "{log}");

    let out = d.ctl_ok(&["undo"]);
    assert!(out.contains("2 values changed back"), "{out}");
    assert!(out.contains("eq: set and verified"), "{out}");
    assert_eq!(d.get_f32("/outboard/eq/low_gain"), 2.0);
    assert!(
        sim.log_text()
            .lines()
            .rev()
            .take(20)
            .any(|l| l == "set mid_gain 1"),
        "{}",
        sim.log_text()
    );
    let again = d.ctl(&["undo"]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn recall_safes_leave_devices_and_parameters_alone() {
    let dir = tempfile::tempdir().unwrap();
    let pty = PtyPair::start(dir.path(), "eq");
    let sim = Simulator::start(
        "generic-serial-ascii",
        &["--serial", &pty.b.to_string_lossy()],
    );
    let (_fx, fx_port) = Simulator::start_osc("generic-osc-device", &[]);
    let d = Daemon::start(Setup {
        extra: [
            serial("eq", "generic-serial-ascii", &pty.a, "")
                .replace("\n\n", "\nsafe = [\"mid_gain\"]\n\n"),
            osc("fx", "generic-osc-device", fx_port).replace("\n\n", "\nsafe = true\n\n"),
        ]
        .concat(),
        ..Setup::default()
    });
    wait_online(&d, &["eq", "fx"]);
    for (a, v) in [
        ("/outboard/eq/low_gain", "-3.5"),
        ("/outboard/eq/mid_gain", "1"),
        ("/outboard/fx/input", "-6"),
    ] {
        d.ctl_ok(&["set", a, "--", v]);
    }
    d.ctl_ok(&["save", SONG]);
    for (a, v) in [
        ("/outboard/eq/low_gain", "0"),
        ("/outboard/eq/mid_gain", "5"),
        ("/outboard/fx/input", "3"),
    ] {
        d.ctl_ok(&["set", a, "--", v]);
    }
    assert!(sim.wait_log("set mid_gain 5", Duration::from_secs(5)));
    let (report, _) = recall(&d);
    assert_eq!(result_of(&report, "eq"), "set and verified", "{report}");
    assert_eq!(result_of(&report, "fx"), "safe (left alone)", "{report}");
    assert_eq!(d.get_f32("/outboard/eq/low_gain"), -3.5);
    assert_eq!(d.get_f32("/outboard/eq/mid_gain"), 5.0);
    assert_eq!(d.get_f32("/outboard/fx/input"), 3.0);
    let log = sim.log_text();
    let after = &log[log.rfind("set mid_gain 5").unwrap() + "set mid_gain 5".len()..];
    assert!(!after.contains("set mid_gain"), "{log}");
}

/// Recall safes saved with a snapshot (`ctl save --safe`): honoured on that
/// snapshot's recall together with the config's, kept through export and
/// import, and not applied to other revisions.
#[test]
fn snapshot_safes_are_stored_with_the_revision_and_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let pty = PtyPair::start(dir.path(), "eq");
    let sim = Simulator::start(
        "generic-serial-ascii",
        &["--serial", &pty.b.to_string_lossy()],
    );
    let (_fx, fx_port) = Simulator::start_osc("generic-osc-device", &[]);
    let (_dyn, dyn_port) = Simulator::start_osc("generic-osc-device", &[]);
    let d = Daemon::start(Setup {
        extra: [
            serial("eq", "generic-serial-ascii", &pty.a, ""),
            osc("fx", "generic-osc-device", fx_port),
            // The config's safe still counts next to the snapshot's.
            osc("dyn", "generic-osc-device", dyn_port).replace("\n\n", "\nsafe = true\n\n"),
        ]
        .concat(),
        ..Setup::default()
    });
    wait_online(&d, &["eq", "fx", "dyn"]);
    let set = |pairs: &[(&str, &str)]| {
        for (a, v) in pairs {
            d.ctl_ok(&["set", a, "--", v]);
        }
    };
    set(&[
        ("/outboard/eq/low_gain", "-3.5"),
        ("/outboard/eq/mid_gain", "1"),
        ("/outboard/fx/input", "-6"),
        ("/outboard/dyn/input", "-1"),
    ]);
    d.ctl_ok(&["save", SONG, "--note", "plain"]);
    d.ctl_ok(&["save", SONG, "--safe", "fx", "--safe", "eq/mid_gain"]);
    let bad = d.ctl(&["save", SONG, "--safe", "nosuch"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nosuch"));
    let bad = d.ctl(&["save", SONG, "--safe", "eq/nosuch"]);
    assert_eq!(bad.status.code(), Some(2));
    let changed = [
        ("/outboard/eq/low_gain", "0"),
        ("/outboard/eq/mid_gain", "5"),
        ("/outboard/fx/input", "3"),
        ("/outboard/dyn/input", "2"),
    ];
    set(&changed);
    assert!(sim.wait_log("set mid_gain 5", Duration::from_secs(5)));

    // Revision 2 (the latest) carries the safes.
    let (report, _) = recall(&d);
    assert_eq!(result_of(&report, "eq"), "set and verified", "{report}");
    assert_eq!(result_of(&report, "fx"), "safe (left alone)", "{report}");
    assert_eq!(result_of(&report, "dyn"), "safe (left alone)", "{report}");
    assert_eq!(report["safes"], serde_json::json!(["fx", "eq/mid_gain"]));
    assert_eq!(d.get_f32("/outboard/eq/low_gain"), -3.5);
    assert_eq!(d.get_f32("/outboard/eq/mid_gain"), 5.0);
    assert_eq!(d.get_f32("/outboard/fx/input"), 3.0);
    assert_eq!(d.get_f32("/outboard/dyn/input"), 2.0);
    let log = sim.log_text();
    let after = &log[log.rfind("set mid_gain 5").unwrap() + "set mid_gain 5".len()..];
    assert!(after.contains("set low_gain -3.5"), "{log}");
    assert!(!after.contains("set mid_gain"), "{log}");

    // Revision 1 has none: only the config's safe holds.
    let out = d.ctl_ok(&["recall", SONG, "--rev", "1"]);
    assert!(out.contains("fx: set and verified"), "{out}");
    assert!(out.contains("dyn: safe (left alone)"), "{out}");
    assert_eq!(d.get_f32("/outboard/eq/mid_gain"), 1.0);
    assert_eq!(d.get_f32("/outboard/fx/input"), -6.0);

    // Export and import into another room keep them.
    let file = dir.path().join("song.json");
    d.ctl_ok(&["export", SONG, file.to_str().unwrap()]);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(doc["revisions"][0].get("safes").is_none(), "{doc}");
    assert_eq!(
        doc["revisions"][1]["safes"],
        serde_json::json!(["fx", "eq/mid_gain"])
    );
    drop(d);
    let other = Daemon::start(Setup {
        extra: [
            serial("eq", "generic-serial-ascii", &pty.a, ""),
            osc("fx", "generic-osc-device", fx_port),
            osc("dyn", "generic-osc-device", dyn_port),
        ]
        .concat(),
        ..Setup::default()
    });
    wait_online(&other, &["eq", "fx", "dyn"]);
    other.ctl_ok(&["import", file.to_str().unwrap()]);
    other.ctl_ok(&["set", "/outboard/fx/input", "--", "4"]);
    let out = other.ctl_ok(&["recall", SONG]);
    assert!(out.contains("fx: safe (left alone)"), "{out}");
    assert_eq!(other.get_f32("/outboard/fx/input"), 4.0);
}

/// An OSC device over TCP (SLIP frames): recalled and verified; when it goes
/// away it is marked offline, and it comes back when it listens again.
#[test]
fn osc_device_over_tcp_recalls_and_reconnects() {
    let (mut sim, port) = Simulator::start_osc("generic-osc-device", &["--tcp"]);
    let addr = format!("127.0.0.1:{port}");
    assert!(sim.log_text().contains("on tcp"), "{}", sim.log_text());
    let d = Daemon::start(Setup {
        extra: device_toml(
            "fx",
            "generic-osc-device",
            &format!("osc = {{ address = \"{addr}\", protocol = \"tcp\" }}"),
        ),
        ..Setup::default()
    });
    wait_online(&d, &["fx"]);
    d.ctl_ok(&["set", "/outboard/fx/input", "--", "-6"]);
    d.ctl_ok(&["set", "/outboard/fx/comp_mode", "mid-side"]);
    d.ctl_ok(&["save", SONG]);
    d.ctl_ok(&["set", "/outboard/fx/input", "--", "2"]);
    assert!(
        sim.wait_log("set input 2", Duration::from_secs(5)),
        "{}",
        sim.log_text()
    );
    let (report, _) = recall(&d);
    assert_eq!(result_of(&report, "fx"), "set and verified", "{report}");
    assert!(
        sim.log_text().contains("query input -> -6"),
        "{}",
        sim.log_text()
    );

    sim.stop();
    let gone = wait_for(Duration::from_secs(15), || {
        d.ctl_ok(&["set", "/outboard/fx/input", "--", "1"]);
        (d.status()["devices"][0]["state"] == "offline").then_some(())
    });
    assert!(gone.is_some(), "{}", d.status());
    // The same address again (the daemon's config names it); should another
    // process have taken the port meanwhile, try until it is free.
    let sim = wait_for(WAIT, || {
        Simulator::try_start("generic-osc-device", &["--osc", &addr, "--tcp"], &[]).ok()
    })
    .expect("the simulator could not listen on its port again");
    wait_online(&d, &["fx"]);
    assert!(
        sim.wait_log("set input 1", Duration::from_secs(10)),
        "{}",
        sim.log_text()
    );
}
