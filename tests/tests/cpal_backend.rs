//! The cpal backend on cpal's JACK host: a dummy jackd, rackd with
//! `backend = "cpal"`, `host = "jack"`, and a probe client playing a known
//! sine into rackd's cpal input client and measuring its output client.
//! One test per binary: the JACK server is chosen through the environment.

use rackd_tests::*;
use rosc::OscType;

const GAIN: &str = "/chain/trim/gain";
/// Peak of a sine minus its RMS, in dB.
const SINE_CREST_DB: f64 = 3.0103;

#[test]
fn sine_through_cpal_on_jack_is_scaled_by_trim() {
    let server = unique_name("rackd-test-cpal");
    let _jackd = Jackd::start(&server);
    use_jack_server(&server);
    let mut setup = Setup {
        backend: "cpal".into(),
        jack_server: Some(server.clone()),
        ..Setup::default()
    };
    setup.env.extend([
        ("RACKD_AUDIO__HOST".to_string(), "jack".to_string()),
        ("RACKD_AUDIO__SAMPLE_RATE".to_string(), "48000".to_string()),
        ("RACKD_AUDIO__BUFFER_SIZE".to_string(), "256".to_string()),
    ]);
    let d = Daemon::start(setup.clone());
    let st = wait_for(WAIT, || {
        let st = d.status();
        (st["running"] == true).then_some(st)
    })
    .unwrap_or_else(|| panic!("cpal backend never ran: {}", d.status()));
    assert_eq!(st["backend"], "cpal", "{st}");
    assert_eq!(st["sample_rate"], 48_000, "{st}");
    assert_eq!(st["period"], 256, "{st}");
    let audio = st["audio"].as_str().unwrap_or_default();
    assert!(audio.contains("cpal JACK"), "status: {st}");

    let (inputs, outputs) = cpal_jack_ports(&setup.client_name);
    // No auto-connection to the system ports: nothing is wired before the probe.
    for port in inputs.iter().chain(&outputs) {
        let c = jack_connections(port);
        assert!(c.is_empty(), "{port} was connected by itself to {c:?}");
    }
    let probe = JackProbe::start_ports(&inputs, &outputs, -12.0);

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
    // Only the probe is wired to rackd's ports.
    let me = probe.name();
    for port in inputs.iter().chain(&outputs) {
        let c = jack_connections(port);
        assert!(
            c.len() == 1 && c[0].starts_with(&format!("{me}:")),
            "{port} is connected to {c:?}, expected only the probe {me}"
        );
    }
    let st = d.status();
    assert_eq!(st["running"], true, "{st}");
    probe.close();
}
