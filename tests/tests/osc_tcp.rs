//! OSC over TCP in both framings, from three independent clients: python-osc
//! (SLIP "1.1" and length-prefix "1.0"), liblo's `oscsend osc.tcp://`, and
//! this harness's own framing code; replies come back in the client's framing.

use rackd_tests::*;
use rosc::OscType;
use std::process::Command;

const GAIN: &str = "/chain/trim/gain";

fn python_client(port: u16, mode: &str, value: f32) -> Vec<String> {
    let script = crate_dir().join("python/osc_tcp_client.py");
    let out = run_with_timeout(
        Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(mode)
            .arg(value.to_string()),
        std::time::Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python-osc client (mode {mode}) failed ({}); is python-osc installed (pip install python-osc)?\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(String::from).collect()
}

fn has_line(lines: &[String], address: &str, value: f32) -> bool {
    lines.iter().any(|l| {
        let mut parts = l.split_whitespace();
        parts.next() == Some(address)
            && parts
                .next()
                .and_then(|v| v.parse::<f32>().ok())
                .is_some_and(|v| (v - value).abs() < 1e-4)
    })
}

#[test]
fn python_osc_sets_and_queries_over_tcp_in_both_framings() {
    let d = Daemon::start(Setup::default());
    for (mode, value, norm) in [("1.1", -6.0, 0.375), ("1.0", 12.0, 0.75)] {
        let lines = python_client(d.port, mode, value);
        assert!(
            has_line(&lines, GAIN, value),
            "mode {mode}: no {GAIN} {value} reply in {lines:?}"
        );
        assert!(
            has_line(&lines, &format!("{GAIN}/norm"), norm),
            "mode {mode}: no {GAIN}/norm {norm} reply in {lines:?}"
        );
        assert_eq!(d.get_f32(GAIN), value, "mode {mode}: value not stored");
    }
}

#[test]
fn liblo_oscsend_over_tcp_sets_a_value() {
    let d = Daemon::start(Setup::default());
    let c = d.udp();
    c.send(GAIN, vec![OscType::Float(-1.0)]);
    c.recv_until(WAIT, |m| m.addr == GAIN).expect("reply");
    let url = format!("osc.tcp://localhost:{}", d.port);
    let out = run_with_timeout(Command::new("oscsend").args([&url, GAIN, "f", "-6"]), WAIT);
    assert!(out.status.success(), "oscsend {url}: {out:?}");
    let v = wait_for(WAIT, || {
        let v = d.get_f32(GAIN);
        (v == -6.0).then_some(v)
    });
    assert_eq!(v, Some(-6.0), "oscsend over TCP did not set the gain");
}

#[test]
fn own_tcp_client_gets_replies_in_its_own_framing() {
    let d = Daemon::start(Setup::default());
    for (framing, value) in [(Framing::Slip, -9.0f32), (Framing::LengthPrefix, 3.0)] {
        let mut t = OscTcp::connect(d.port, framing);
        t.send(GAIN, vec![OscType::Float(value)]);
        let m = t
            .recv_until(WAIT, |m| m.addr == GAIN)
            .unwrap_or_else(|| panic!("{framing:?}: no reply to set"));
        assert!(is_value(&m, GAIN, value, 0.0), "{framing:?}: {m:?}");
        t.send(GAIN, vec![]);
        let m = t
            .recv_until(WAIT, |m| m.addr == GAIN)
            .unwrap_or_else(|| panic!("{framing:?}: no reply to query"));
        assert!(is_value(&m, GAIN, value, 0.0), "{framing:?}: {m:?}");
        // Subscribed over TCP: feedback of another client's change comes back framed alike.
        t.send("/rackd/subscribe", vec![]);
        t.recv_until(WAIT, |m| m.addr == "/rackd/subscribed")
            .unwrap_or_else(|| panic!("{framing:?}: no /rackd/subscribed"));
        let other = d.udp();
        other.send(GAIN, vec![OscType::Float(value - 1.0)]);
        let m = t.recv_until(WAIT, |m| is_value(m, GAIN, value - 1.0, 0.0));
        assert!(m.is_some(), "{framing:?}: no feedback over TCP");
    }
}
