//! A JACK buffer-size change while audio runs (`jack_bufsize` on a dummy
//! jackd): rackd keeps passing audio at the right level, smaller and larger
//! than the period it was built for, without rebuilding, and reports the new
//! period. One test per binary: the JACK server is chosen through the
//! environment. (The dummy driver cannot change its sample rate live, so the
//! rate-change rebuild has no test here.)

use rackd_tests::*;
use rosc::OscType;
use std::process::{Command, Stdio};
use std::time::Duration;

const GAIN: &str = "/chain/trim/gain";
/// Peak of a sine minus its RMS, in dB.
const SINE_CREST_DB: f64 = 3.0103;

fn set_buffer_size(server: &str, frames: u32) {
    let st = Command::new("jack_bufsize")
        .arg(frames.to_string())
        .env("JACK_DEFAULT_SERVER", server)
        .env("JACK_NO_START_SERVER", "1")
        .stdout(Stdio::null())
        .status()
        .expect("jack_bufsize (jackd2 example tools)");
    assert!(st.success(), "jack_bufsize {frames}: {st}");
}

/// Waits until both channels measure −18 dBFS (−12 dBFS sine, −6 dB trim).
fn assert_passes(probe: &JackProbe, when: &str) {
    let ok = wait_for(Duration::from_secs(10), || {
        let m = probe.measure(24_000);
        [0, 1]
            .iter()
            .all(|&ch| (m.rms_db(ch) + SINE_CREST_DB + 18.0).abs() <= 0.5)
            .then_some(())
    });
    let m = probe.measure(24_000);
    assert!(
        ok.is_some(),
        "{when}: want -18 dBFS, measured {:.2} / {:.2} dBFS",
        m.rms_db(0) + SINE_CREST_DB,
        m.rms_db(1) + SINE_CREST_DB
    );
}

#[test]
fn audio_keeps_passing_across_buffer_size_changes() {
    if !require_program("jack_bufsize", "jackd2") {
        return;
    }
    let server = unique_name("rackd-test-bufsize");
    let _jackd = Jackd::start(&server);
    use_jack_server(&server);
    let setup = Setup {
        backend: "jack".into(),
        jack_server: Some(server.clone()),
        ..Setup::default()
    };
    let d = Daemon::start(setup.clone());
    let probe = JackProbe::start(&setup.client_name, -12.0);
    let c = d.udp();
    c.send(GAIN, vec![OscType::Float(-6.0)]);
    c.recv_until(WAIT, |m| is_value(m, GAIN, -6.0, 0.0))
        .expect("gain not taken");
    assert_passes(&probe, "at 256 frames");

    for frames in [64, 1024] {
        set_buffer_size(&server, frames);
        let st = wait_for(Duration::from_secs(10), || {
            let st = d.status();
            (st["period"] == frames).then_some(st)
        });
        assert!(
            st.is_some(),
            "status never showed {frames} frames: {}",
            d.status()
        );
        assert_passes(&probe, &format!("after the change to {frames} frames"));
        assert!(
            d.wait_log(&format!("{frames} frames"), Duration::from_secs(5)),
            "the new period was not logged"
        );
    }
    assert!(
        !d.log_text().contains("rebuilding"),
        "a buffer-size change must not rebuild:\n{}",
        d.log_text()
    );
    assert_eq!(d.status()["running"], true);
    probe.close();
}
