//! A Mackie Control on ALSA sequencer ports that are not there (no
//! sequencer on this machine, or no such port): the surface is offline
//! with the reason in `/rackd/status`, and the daemon runs on.

use rackd_tests::*;
use std::time::Duration;

#[test]
fn an_alsa_surface_that_is_not_there_is_offline_with_the_reason() {
    let extra = r#"
[[midi_surface]]
id = "xtouch"
protocol = "mcu"
midi = { backend = "alsa", port = "No Such Surface 12345" }
"#;
    let d = Daemon::start(Setup {
        extra: extra.into(),
        ..Setup::default()
    });
    let state = wait_for(Duration::from_secs(10), || {
        let s = d.status()["midi_surfaces"][0]["state"]
            .as_str()?
            .to_string();
        (s != "offline: not opened yet").then_some(s)
    })
    .expect("no state");
    assert!(state.starts_with("offline: "), "{state}");
    assert!(
        state.contains("ALSA sequencer unavailable")
            || state.contains("no ALSA MIDI port matches \"No Such Surface 12345\""),
        "{state}"
    );
    d.ctl_ok(&["set", "/chain/trim/gain", "-1"]);
}
