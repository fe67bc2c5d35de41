//! The identity check on connect: another model on a device's port (played
//! by `rackd profile simulate` of another profile) answers the identity
//! query with its own identity; the device is marked offline with "expected
//! …, found …: wrong device on this port?" and its recall fails, while the
//! right device next to it is recalled and verified.

use rackd_tests::*;
use std::path::Path;
use std::time::Duration;

const SONG: &str = "client/album/03 song";

/// A copy of a shipped profile under another id, with `from` replaced by `to`
/// (another model of the same protocol family).
fn other_model(dir: &Path, shipped: &str, id: &str, from: &str, to: &str) {
    let text = std::fs::read_to_string(workspace_dir().join("hardware-profiles").join(shipped))
        .unwrap()
        .replace(
            &format!("id = \"{}\"", shipped.trim_end_matches(".toml")),
            &format!("id = \"{id}\""),
        );
    assert!(text.contains(from), "{shipped} has no {from}");
    std::fs::write(dir.join(format!("{id}.toml")), text.replace(from, to)).unwrap();
}

fn device_of(d: &Daemon, id: &str) -> serde_json::Value {
    let st = d.status();
    st["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{st}"))
}

#[test]
fn another_model_on_the_port_is_reported_as_the_wrong_device() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    other_model(
        &profiles,
        "generic-serial-ascii.toml",
        "other-serial-eq",
        "ID RACKD-GENERIC-EQ",
        "ID RACKD-OTHER-EQ",
    );
    other_model(
        &profiles,
        "generic-osc-device.toml",
        "other-osc-device",
        "value = \"OSC stereo processor\"",
        "value = \"Other processor\"",
    );
    let dirs = ["--dir", profiles.to_str().unwrap()];
    let (wrong_pty, right_pty) = (
        PtyPair::start(dir.path(), "wrong"),
        PtyPair::start(dir.path(), "right"),
    );
    let _s1 = Simulator::start(
        "other-serial-eq",
        &[&dirs[..], &["--serial", wrong_pty.b.to_str().unwrap()]].concat(),
    );
    let _s2 = Simulator::start(
        "generic-serial-ascii",
        &["--serial", right_pty.b.to_str().unwrap()],
    );
    let (_s3, wrong_osc) = Simulator::start_osc("other-osc-device", &dirs);
    let serial = |id: &str, pty: &Path| {
        device_toml(
            id,
            "generic-serial-ascii",
            &format!("serial = {{ path = {:?} }}", pty.to_str().unwrap()),
        )
    };
    let d = Daemon::start(Setup {
        extra: [
            serial("wrong", &wrong_pty.a),
            serial("right", &right_pty.a),
            device_toml(
                "fx",
                "generic-osc-device",
                &format!("osc = {{ address = \"127.0.0.1:{wrong_osc}\" }}"),
            ),
        ]
        .concat(),
        ..Setup::default()
    });
    let settled = wait_for(Duration::from_secs(20), || {
        let states = ["wrong", "right", "fx"].map(|id| device_of(&d, id)["state"].clone());
        (states == ["offline", "online", "offline"]).then_some(())
    });
    assert!(settled.is_some(), "{}", d.status());

    let wrong = device_of(&d, "wrong");
    let why = wrong["error"].as_str().unwrap();
    assert!(
        why.contains("expected \"ID RACKD-GENERIC-EQ {any}\"")
            && why.contains("found \"ID RACKD-OTHER-EQ")
            && why.ends_with("wrong device on this port?"),
        "{wrong}"
    );
    let fx = device_of(&d, "fx");
    let why = fx["error"].as_str().unwrap();
    assert!(
        why.contains("expected /info \"OSC stereo processor\"")
            && why.contains("found /info \"Other processor\"")
            && why.ends_with("wrong device on this port?"),
        "{fx}"
    );

    d.ctl_ok(&["set", "/outboard/right/low_gain", "2.5"]);
    d.ctl_ok(&["save", SONG]);
    let report = d.ctl_ok(&["recall", SONG]);
    let line = |id: &str| {
        report
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(&format!("{id}:")))
            .unwrap_or_else(|| panic!("{report}"))
            .to_string()
    };
    assert_eq!(line("right"), "right: set and verified", "{report}");
    for id in ["wrong", "fx"] {
        let l = line(id);
        assert!(
            l.starts_with(&format!("{id}: failed:")) && l.contains("wrong device on this port?"),
            "{report}"
        );
    }
}
