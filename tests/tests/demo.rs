//! `rackd demo` as a user meets it: the banner, and its simulated outboard
//! (an OSC device on loopback, a serial EQ on a pty, a hand-set EQ) recalled
//! and verified over real transports inside the demo process.

use rackd_tests::*;

const SONG: &str = "client/album/01 intro";

#[test]
fn demo_recalls_its_simulated_outboard() {
    let state = tempfile::tempdir().unwrap();
    let (demo, connect) = start_demo(state.path());
    let ok = |args: &[&str]| {
        let out = ctl(&connect, args);
        assert!(
            out.status.success(),
            "rackd ctl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let banner = demo.text();
    for line in [
        "generic-osc-device",
        "generic-serial-ascii",
        "generic-passive-eq-stepped",
    ] {
        assert!(banner.contains(line), "{banner}");
    }

    ok(&["set", "/outboard/eq/low_gain", "4.5"]);
    ok(&["set", "/outboard/dyn/comp_threshold", "-20"]);
    ok(&["set", "/outboard/passive/low_boost", "4"]);
    ok(&["save", SONG]);
    ok(&["set", "/outboard/eq/low_gain", "-3"]);
    ok(&["set", "/outboard/dyn/comp_threshold", "-6"]);
    ok(&["set", "/outboard/passive/low_boost", "1"]);

    let report = ok(&["recall", SONG]);
    let line = |dev: &str| {
        report
            .lines()
            .find(|l| l.trim().starts_with(&format!("{dev}:")))
            .unwrap_or_else(|| panic!("no {dev} in {report}"))
            .trim()
            .to_string()
    };
    assert_eq!(line("eq"), "eq: set and verified", "{report}");
    assert_eq!(line("dyn"), "dyn: set and verified", "{report}");
    assert_eq!(
        line("passive"),
        "passive: waiting for manual confirmation",
        "{report}"
    );
    let got = ok(&["get", "/outboard/eq/low_gain"]);
    assert!(got.contains("4.5"), "{got}");

    let sheet = ok(&["sheet", SONG]);
    let boost = sheet
        .lines()
        .find(|l| l.contains("Low boost"))
        .unwrap_or_else(|| panic!("{sheet}"));
    assert!(boost.contains("4"), "{sheet}");
    assert_eq!(ok(&["confirm", "passive"]).trim(), "confirmed passive");
}
