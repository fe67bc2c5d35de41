//! The JACK server goes away and comes back: rackd says it is waiting, then
//! reconnects by itself and audio passes again. One test per binary: the
//! JACK server is chosen through the environment.

use rackd_tests::*;
use std::time::Duration;

fn assert_audio_passes(setup: &Setup) {
    let probe = JackProbe::start(&setup.client_name, -12.0);
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
fn daemon_waits_for_a_stopped_jack_server_and_reconnects() {
    let server = unique_name("rackd-test-jack");
    let mut jackd = Jackd::start(&server);
    use_jack_server(&server);
    let setup = Setup {
        backend: "jack".into(),
        jack_server: Some(server.clone()),
        ..Setup::default()
    };
    let mut d = Daemon::start(setup.clone());
    wait_for(WAIT, || (d.status()["running"] == true).then_some(()))
        .unwrap_or_else(|| panic!("audio never ran: {}", d.status()));
    assert_audio_passes(&setup);

    jackd.kill();
    let st = wait_for(Duration::from_secs(20), || {
        let st = d.status();
        (st["running"] == false).then_some(st)
    })
    .unwrap_or_else(|| panic!("status still says running after jackd died: {}", d.status()));
    let audio = st["audio"].as_str().unwrap_or_default().to_lowercase();
    assert!(audio.contains("wait"), "status does not say it waits: {st}");
    assert!(d.is_running(), "rackd died with the JACK server");

    jackd.restart();
    wait_for(Duration::from_secs(30), || {
        (d.status()["running"] == true).then_some(())
    })
    .unwrap_or_else(|| panic!("rackd did not reconnect to JACK: {}", d.status()));
    assert_audio_passes(&setup);
    assert!(d.is_running());
}
