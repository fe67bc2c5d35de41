//! The monitor section against a real daemon on the null backend's −18 dBFS
//! test tone: mute, dim and level move `/meter/out/peak` as they should, the
//! safety ceiling holds at +12 dB monitor level, and a recall leaves the
//! monitor alone.

use rackd_tests::*;
use rosc::OscType;

const TONE_DB: f32 = -18.0;
const CEILING_DB: f32 = -0.3;

/// Sets `address` and waits for the value taken.
fn set(c: &OscUdp, address: &str, arg: OscType) {
    c.send(address, vec![arg.clone()]);
    c.recv_until(WAIT, |m| m.addr == address)
        .unwrap_or_else(|| panic!("no reply to setting {address} {arg:?}"));
}

/// Out peaks (dBFS, both channels) of the 12 meter messages after the
/// first one whose readings all satisfy `settled` (a change takes effect
/// after the hub, the engine queue and a 20 ms glide; how long that is on a
/// loaded machine is not this test's business).
fn out_peaks(meters: &OscUdp, settled: impl Fn(f32) -> bool) -> Vec<f32> {
    let values = |m: &rosc::OscMessage| m.args.iter().map(as_f32).collect::<Vec<_>>();
    let first = meters.recv_until(WAIT, |m| {
        m.addr == "/meter/out/peak" && values(m).into_iter().all(&settled)
    });
    assert!(first.is_some(), "the out meter never settled");
    let mut peaks = Vec::new();
    for _ in 0..12 {
        let m = meters
            .recv_until(WAIT, |m| m.addr == "/meter/out/peak")
            .expect("the out meter stopped");
        peaks.extend(values(&m));
    }
    peaks
}

/// Settled within ±1 dB of `want`.
fn near(want: f32) -> impl Fn(f32) -> bool {
    move |p| (p - want).abs() <= 1.0
}

fn assert_near(peaks: &[f32], want: f32, what: &str) {
    for &p in peaks {
        assert!(
            (p - want).abs() <= 1.0,
            "{what}: peak {p} dBFS, want {want}±1"
        );
    }
}

#[test]
fn mute_dim_level_move_the_out_meter_and_the_ceiling_holds() {
    let d = Daemon::start(Setup {
        test_tone_db: Some(TONE_DB),
        ceiling_dbfs: CEILING_DB,
        ..Setup::default()
    });
    let meters = d.udp();
    meters.subscribe(&["/meter/out/*"]);
    let c = d.udp();
    assert_near(
        &out_peaks(&meters, near(TONE_DB)),
        TONE_DB,
        "monitor at defaults",
    );

    set(&c, "/monitor/dim", OscType::Int(1));
    assert_near(
        &out_peaks(&meters, near(TONE_DB - 20.0)),
        TONE_DB - 20.0,
        "dim (default -20 dB)",
    );
    set(&c, "/monitor/dim_db", OscType::Float(-10.0));
    assert_near(
        &out_peaks(&meters, near(TONE_DB - 10.0)),
        TONE_DB - 10.0,
        "dim -10 dB",
    );
    set(&c, "/monitor/dim", OscType::Int(0));

    set(&c, "/monitor/mute", OscType::Int(1));
    let muted = out_peaks(&meters, |p| p <= -119.0);
    assert!(muted.iter().all(|&p| p <= -119.0), "mute: {muted:?}");

    // Saved muted; a recall must not unmute (nor mute) the room.
    d.ctl_ok(&["save", "c/a/01"]);
    set(&c, "/monitor/mute", OscType::Int(0));
    d.ctl_ok(&["recall", "c/a/01"]);
    assert_eq!(
        d.get_f32("/monitor/mute"),
        0.0,
        "recall changed the monitor"
    );
    assert_near(&out_peaks(&meters, near(TONE_DB)), TONE_DB, "after recall");

    set(&c, "/monitor/level", OscType::Float(-12.0));
    assert_near(
        &out_peaks(&meters, near(TONE_DB - 12.0)),
        TONE_DB - 12.0,
        "level -12 dB",
    );

    // +24 dB trim and +12 dB monitor push the tone to +18 dBFS: the ceiling holds.
    set(&c, "/chain/trim/gain", OscType::Float(24.0));
    set(&c, "/monitor/level", OscType::Float(99.0));
    assert_eq!(d.get_f32("/monitor/level"), 12.0, "level clamps at +12 dB");
    let loud = out_peaks(&meters, |p| p > CEILING_DB - 1.0);
    for &p in &loud {
        assert!(
            p <= CEILING_DB + 0.01 && p > CEILING_DB - 1.0,
            "peak {p} dBFS with the ceiling at {CEILING_DB}"
        );
    }
    assert!(d.status()["ceiling_engagements"].as_u64() > Some(0));
}
