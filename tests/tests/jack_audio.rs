//! Audio through JACK: a dummy jackd, rackd as a JACK client, and a probe
//! client playing a known sine into rackd and measuring what comes out.
//! One test per binary: the JACK server is chosen through the environment.

use rackd_tests::*;
use rosc::OscType;

const GAIN: &str = "/chain/trim/gain";
/// Peak of a sine minus its RMS, in dB.
const SINE_CREST_DB: f64 = 3.0103;

#[test]
fn sine_through_jack_is_scaled_by_trim_and_held_under_the_ceiling() {
    let server = unique_name("rackd-test-jack");
    let _jackd = Jackd::start(&server);
    use_jack_server(&server);
    let setup = Setup {
        backend: "jack".into(),
        jack_server: Some(server.clone()),
        ceiling_dbfs: -6.0,
        ..Setup::default()
    };
    let d = Daemon::start(setup.clone());
    let probe = JackProbe::start(&setup.client_name, -12.0);

    let c = d.udp();
    c.send(GAIN, vec![OscType::Float(-6.0)]);
    c.recv_until(WAIT, |m| is_value(m, GAIN, -6.0, 0.0))
        .expect("gain not taken");

    // Let the gain smoothing settle, then measure half a second.
    let level = wait_for(std::time::Duration::from_secs(10), || {
        let m = probe.measure(24_000);
        let levels = [0, 1].map(|ch| m.rms_db(ch) + SINE_CREST_DB);
        levels
            .iter()
            .all(|l| (l + 18.0).abs() <= 0.5)
            .then_some(levels)
    });
    let last = probe.measure(24_000);
    assert!(
        level.is_some(),
        "-12 dBFS sine with -6 dB trim should measure -18 dBFS (RMS+3.01 dB); measured {:.2} / {:.2} dBFS (peak {:.2})",
        last.rms_db(0) + SINE_CREST_DB,
        last.rms_db(1) + SINE_CREST_DB,
        last.peak_db(0)
    );

    // +24 dB trim on a -12 dBFS input wants +12 dBFS: the ceiling holds it at -6.
    probe.reset();
    c.send(GAIN, vec![OscType::Float(24.0)]);
    c.recv_until(WAIT, |m| is_value(m, GAIN, 24.0, 0.0))
        .expect("gain not taken");
    let ceiling = 10f32.powf(-6.0 / 20.0);
    // Measured from before the change on: no sample of the transition may pass either.
    let m = probe.wait_frames(48_000 * 2);
    for ch in 0..2 {
        assert!(
            m.peak[ch] <= ceiling * 1.0001,
            "channel {ch} peaked at {:.3} dBFS, above the -6 dBFS ceiling",
            m.peak_db(ch)
        );
        assert!(
            m.peak_db(ch) > -7.0,
            "channel {ch} peak {:.2} dBFS: the signal should reach the ceiling",
            m.peak_db(ch)
        );
    }
    let st = d.status();
    assert_eq!(st["running"], true, "{st}");
    probe.close();
}
