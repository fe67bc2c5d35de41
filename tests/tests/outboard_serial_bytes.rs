//! The serial insert switcher on a socat pty pair, with the device's side
//! played by this test (not by `rackd profile simulate`, which shares the
//! daemon's codec): the lines the daemon writes are compared with ones
//! written out by hand from the profile (`INS {code} {value}\n`,
//! `INS {code} ?\n`, `ORD {value}\n`), and the test answers as the
//! profile documents (`ACK`, and `INS n ON` / `ORD X` to queries).

use rackd_tests::*;
use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SONG: &str = "client/album/05 song";

/// The switcher's side: answers every line and keeps what it got.
fn play_switcher(pty: &std::path::Path) -> Arc<Mutex<Vec<String>>> {
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let port = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(pty)
        .expect("open the device's end of the pty");
    let mut out = port.try_clone().expect("dup pty");
    let got = lines.clone();
    std::thread::spawn(move || {
        let mut relays = std::collections::HashMap::<String, String>::new();
        for line in BufReader::new(port).split(b'\n') {
            let Ok(line) = line else { return };
            let text = String::from_utf8_lossy(&line).into_owned();
            got.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(text.clone());
            let words: Vec<&str> = text.split(' ').collect();
            let reply = match words[..] {
                ["INS", n, "?"] => {
                    format!("INS {n} {}\n", relays.get(n).map_or("OFF", String::as_str))
                }
                ["ORD", "?"] => format!(
                    "ORD {}\n",
                    relays.get("ORD").map_or("NORMAL", String::as_str)
                ),
                ["INS", n, v @ ("ON" | "OFF")] => {
                    relays.insert(n.to_string(), v.to_string());
                    "ACK\n".to_string()
                }
                ["ORD", v @ ("NORMAL" | "REVERSE")] => {
                    relays.insert("ORD".into(), v.to_string());
                    "ACK\n".to_string()
                }
                _ => "NAK 1 unknown command\n".to_string(),
            };
            if out.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
    });
    lines
}

#[test]
fn serial_insert_switcher_gets_the_bytes_its_profile_documents() {
    let dir = tempfile::tempdir().unwrap();
    let pty = PtyPair::start(dir.path(), "sw");
    let lines = play_switcher(&pty.b);
    let d = Daemon::start(Setup {
        extra: device_toml(
            "sw",
            "generic-insert-switcher-serial",
            &format!("serial = {{ path = {:?} }}", pty.a.to_str().unwrap()),
        ),
        ..Setup::default()
    });
    let online = wait_for(Duration::from_secs(20), || {
        (d.status()["devices"][0]["state"] == "online").then_some(())
    });
    assert!(online.is_some(), "{}", d.status());
    let got = |line: &str| {
        wait_for(WAIT, || {
            lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l == line)
                .then_some(())
        })
        .is_some()
    };

    // A surface change: "INS {code} {value}\n" with code 3 and the label ON,
    // bytes 49 4E 53 20 33 20 4F 4E 0A (the newline is the split above).
    d.ctl_ok(&["set", "/outboard/sw/insert_3", "ON"]);
    assert!(got("INS 3 ON"), "{:?}", lines.lock().unwrap());
    d.ctl_ok(&["set", "/outboard/sw/order", "REVERSE"]);
    assert!(got("ORD REVERSE"), "{:?}", lines.lock().unwrap());
    d.ctl_ok(&["save", SONG]);
    d.ctl_ok(&["set", "/outboard/sw/insert_3", "OFF"]);
    assert!(got("INS 3 OFF"), "{:?}", lines.lock().unwrap());

    // A recall sends every relay and the order, and reads each one back
    // with "INS {code} ?\n" / "ORD ?\n"; the answers verify it.
    lines.lock().unwrap().clear();
    let report = d.ctl_ok(&["recall", SONG]);
    assert!(report.contains("sw: set and verified"), "{report}");
    let seen = lines.lock().unwrap().clone();
    for n in 1..=8 {
        let want = if n == 3 { "ON" } else { "OFF" };
        assert!(seen.contains(&format!("INS {n} {want}")), "{seen:?}");
        assert!(seen.contains(&format!("INS {n} ?")), "{seen:?}");
    }
    assert!(seen.contains(&"ORD REVERSE".to_string()), "{seen:?}");
    assert!(seen.contains(&"ORD ?".to_string()), "{seen:?}");
    assert!(
        seen.iter()
            .all(|l| l.starts_with("INS ") || l.starts_with("ORD ")),
        "{seen:?}"
    );
}
