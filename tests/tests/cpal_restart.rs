//! The cpal backend's device goes away and comes back (here: the JACK server
//! behind cpal's JACK host): rackd says it is waiting, reopens by itself and
//! audio passes again. One test per binary: the JACK server is chosen through
//! the environment.

use rackd_tests::*;
use std::time::Duration;

/// `connect_outputs` is applied on every (re)open.
fn assert_wired_to_system(setup: &Setup) {
    let (_, outputs) = cpal_jack_ports(&setup.client_name);
    for (port, system) in outputs
        .iter()
        .zip(["system:playback_1", "system:playback_2"])
    {
        let ok = wait_for(Duration::from_secs(10), || {
            jack_connections(port)
                .iter()
                .any(|c| c == system)
                .then_some(())
        });
        assert!(
            ok.is_some(),
            "{port} not connected to {system}: {:?}",
            jack_connections(port)
        );
    }
}

fn assert_audio_passes(setup: &Setup) {
    assert_wired_to_system(setup);
    let (inputs, outputs) = cpal_jack_ports(&setup.client_name);
    let probe = JackProbe::start_ports(&inputs, &outputs, -12.0);
    // Trim is at 0 dB: a -12 dBFS sine comes out at -12 dBFS.
    let ok = wait_for(Duration::from_secs(10), || {
        let m = probe.measure(12_000);
        (0..2)
            .all(|ch| (m.peak_db(ch) + 12.0).abs() <= 0.5)
            .then_some(())
    });
    let m = probe.measure(12_000);
    assert!(
        ok.is_some(),
        "audio does not pass: peaks {:.2} / {:.2} dBFS, expected -12",
        m.peak_db(0),
        m.peak_db(1)
    );
    probe.close();
}

#[test]
fn cpal_backend_waits_for_its_device_and_reopens_it() {
    let server = unique_name("rackd-test-cpal");
    let mut jackd = Jackd::start(&server);
    use_jack_server(&server);
    let mut setup = Setup {
        backend: "cpal".into(),
        jack_server: Some(server.clone()),
        ..Setup::default()
    };
    setup.env.extend([
        ("RACKD_AUDIO__HOST".to_string(), "jack".to_string()),
        (
            "RACKD_AUDIO__CONNECT_OUTPUTS".to_string(),
            "system:playback_1,system:playback_2".to_string(),
        ),
    ]);
    let mut d = Daemon::start(setup.clone());
    wait_for(WAIT, || (d.status()["running"] == true).then_some(()))
        .unwrap_or_else(|| panic!("audio never ran: {}", d.status()));
    assert_audio_passes(&setup);

    jackd.kill();
    let st = wait_for(Duration::from_secs(20), || {
        let st = d.status();
        (st["running"] == false).then_some(st)
    })
    .unwrap_or_else(|| {
        panic!(
            "status still says running after the device went: {}",
            d.status()
        )
    });
    let audio = st["audio"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        audio.contains("wait") || audio.contains("reopen"),
        "status does not say it waits: {st}"
    );
    assert!(d.is_running(), "rackd died with its audio device");

    jackd.restart();
    wait_for(Duration::from_secs(30), || {
        (d.status()["running"] == true).then_some(())
    })
    .unwrap_or_else(|| panic!("rackd did not reopen the device: {}", d.status()));
    assert_audio_passes(&setup);
    assert!(d.is_running());
}
