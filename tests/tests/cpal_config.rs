//! The cpal backend's `[audio]` keys through `rackd check`, and the backend
//! on cpal's ALSA host: a device that does not exist is waited for with a
//! message naming it, and ALSA's `null` PCM opens by name.

use rackd_tests::*;
use std::time::Duration;

/// `rackd check` on the default setup with `audio` put first in `[audio]`;
/// also gives the line of `[audio]`.
fn check(audio: &str) -> (Option<i32>, String, usize) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rackd.toml");
    let text = Setup::default()
        .toml(free_port(), dir.path())
        .replace("[audio]\n", &format!("[audio]\n{audio}"));
    let line = text.lines().position(|l| l == "[audio]").unwrap() + 1;
    std::fs::write(&file, text).unwrap();
    let out = run_rackd(&["check", "--config", file.to_str().unwrap()]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        line,
    )
}

#[test]
fn check_accepts_cpal_keys_and_rejects_bad_ones_with_lines() {
    let (code, err, _) = check("host = \"jack\"\ndevice = \"hw:1,0\"\nbuffer_size = 128\n");
    assert_eq!(code, Some(0), "{err}");
    let (code, err, audio) = check("host = \"pulse\"\nbuffer_size = 4\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains(&format!(":{}: audio.host", audio + 1))
                && l.contains("alsa or jack")),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.contains(&format!(":{}: audio.buffer_size", audio + 2))),
        "{err}"
    );
}

fn alsa_daemon(device: &str) -> Daemon {
    let setup = Setup {
        backend: "cpal".into(),
        env: vec![
            ("RACKD_AUDIO__HOST".into(), "alsa".into()),
            ("RACKD_AUDIO__DEVICE".into(), device.into()),
        ],
        ..Setup::default()
    };
    Daemon::start(setup)
}

#[test]
fn alsa_device_is_opened_by_name_or_waited_for() {
    let d = alsa_daemon("rackd-no-such-device");
    let st = wait_for(WAIT, || {
        let st = d.status();
        st["audio"]
            .as_str()
            .is_some_and(|a| a.contains("waiting"))
            .then_some(st)
    })
    .unwrap_or_else(|| panic!("no waiting message: {}", d.status()));
    let audio = st["audio"].as_str().unwrap_or_default();
    assert!(
        audio.contains("rackd-no-such-device") && audio.contains("ALSA"),
        "{st}"
    );
    assert_eq!(st["running"], false, "{st}");
    drop(d);

    // ALSA's `null` PCM exists wherever alsa-lib is installed (it is unclocked:
    // stop soon, it keeps a core busy).
    let d = alsa_daemon("null");
    let st = wait_for(Duration::from_secs(10), || {
        let st = d.status();
        (st["running"] == true).then_some(st)
    })
    .unwrap_or_else(|| panic!("ALSA null device did not run: {}", d.status()));
    assert_eq!(st["backend"], "cpal", "{st}");
    assert!(
        st["audio"]
            .as_str()
            .is_some_and(|a| a.contains("cpal ALSA device \"null\"")),
        "{st}"
    );
}
