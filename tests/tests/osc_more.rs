//! More of the OSC contract: address patterns in incoming messages, bundles
//! with time tags, unsubscribe, describe/info/status, and a slow or vanished
//! client that must not hold up anyone else.

use rackd_tests::*;
use rosc::{OscBundle, OscMessage, OscPacket, OscTime, OscType};
use std::time::{Duration, SystemTime};

/// How late a time-tagged bundle may take effect, as seen by a subscriber.
const BUNDLE_LATE: Duration = Duration::from_millis(500);

const GAIN: &str = "/chain/trim/gain";

fn bundle_bytes(time: OscTime, msgs: Vec<(&str, Vec<OscType>)>) -> Vec<u8> {
    rosc::encoder::encode(&OscPacket::Bundle(OscBundle {
        timetag: time,
        content: msgs
            .into_iter()
            .map(|(a, args)| {
                OscPacket::Message(OscMessage {
                    addr: a.to_string(),
                    args,
                })
            })
            .collect(),
    }))
    .unwrap()
}

#[test]
fn address_patterns_set_and_query_several_parameters() {
    let d = Daemon::start(Setup::default());
    // TCP: replies on one connection keep their order, so a ping ends the answers.
    let mut c = OscTcp::connect(d.port, Framing::Slip);
    c.send("/chain/*/bypass", vec![OscType::Int(1)]);
    let mut set: Vec<_> = c.sync().into_iter().map(|m| (m.addr, m.args)).collect();
    set.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        set,
        [
            ("/chain/meter/bypass".to_string(), vec![OscType::Int(1)]),
            ("/chain/trim/bypass".to_string(), vec![OscType::Int(1)]),
        ]
    );

    for (pattern, expected) in [
        (
            "/chain/trim/*",
            &[
                "/chain/trim/active",
                "/chain/trim/bypass",
                "/chain/trim/gain",
                "/chain/trim/invert",
                "/chain/trim/position",
            ][..],
        ),
        (
            "/chain/{trim,meter}/bypass",
            &["/chain/meter/bypass", "/chain/trim/bypass"][..],
        ),
        (
            "/chain/trim/[gi]*",
            &["/chain/trim/gain", "/chain/trim/invert"][..],
        ),
        ("/chain/?rim/gain", &["/chain/trim/gain"][..]),
    ] {
        c.send(pattern, vec![]);
        let mut answers: Vec<String> = c.sync().into_iter().map(|m| m.addr).collect();
        answers.sort();
        assert_eq!(answers, expected, "query {pattern}");
    }
}

#[test]
fn bundles_apply_now_or_at_their_time_tag() {
    let d = Daemon::start(Setup::default());
    let mut c = OscTcp::connect(d.port, Framing::LengthPrefix);
    let immediately = OscTime {
        seconds: 0,
        fractional: 1,
    };
    c.send_packet(&bundle_bytes(
        immediately,
        vec![
            (GAIN, vec![OscType::Float(-2.0)]),
            ("/chain/trim/invert", vec![OscType::Int(1)]),
        ],
    ));
    c.sync();
    assert_eq!(c.get_f32(GAIN), -2.0);
    assert_eq!(c.get_f32("/chain/trim/invert"), 1.0);

    // A time tag 1.5 s ahead: not applied at once, and applied at its time:
    // a subscriber sees the change no earlier than the tag and at most
    // BUNDLE_LATE after it.
    let watcher = d.udp();
    watcher.subscribe(&[GAIN]);
    let due = SystemTime::now() + Duration::from_millis(1500);
    c.send_packet(&bundle_bytes(
        OscTime::try_from(due).unwrap(),
        vec![(GAIN, vec![OscType::Float(-4.0)])],
    ));
    c.sync();
    assert_eq!(
        c.get_f32(GAIN),
        -2.0,
        "a bundle for later was applied at once"
    );
    watcher
        .recv_until(Duration::from_secs(15), |m| is_value(m, GAIN, -4.0, 0.0))
        .expect("the scheduled bundle was never applied");
    let seen = SystemTime::now();
    // The time tag's resolution is 2^-32 s; allow a millisecond of rounding.
    let early = due.duration_since(seen).unwrap_or_default();
    assert!(
        early <= Duration::from_millis(1),
        "the bundle was applied {early:?} before its time tag"
    );
    let late = seen.duration_since(due).unwrap_or_default();
    println!("time-tagged bundle seen {late:?} after its time tag");
    assert!(
        late <= BUNDLE_LATE,
        "the bundle took effect {late:?} after its time tag (tolerance {BUNDLE_LATE:?})"
    );

    // Too far ahead is refused with an error.
    let far = OscTime::try_from(SystemTime::now() + Duration::from_secs(3600)).unwrap();
    c.send_packet(&bundle_bytes(far, vec![(GAIN, vec![OscType::Float(-6.0)])]));
    c.recv_until(WAIT, |m| m.addr == "/rackd/error")
        .expect("no error for a bundle an hour ahead");
    assert_eq!(c.get_f32(GAIN), -4.0);
}

/// A fader sweep over UDP from one client: each sender's datagrams are
/// handled in order, so the gain always ends on the burst's last value.
#[test]
fn latest_value_wins_in_a_udp_burst() {
    let d = Daemon::start(Setup::default());
    let c = d.udp();
    for round in 0..20 {
        let values: Vec<f32> = (0..50)
            .map(|i| -20.0 + i as f32 * 0.25 + round as f32 * 0.01)
            .collect();
        for v in &values {
            c.send(GAIN, vec![OscType::Float(*v)]);
        }
        let last = *values.last().unwrap();
        let settled = wait_for(Duration::from_secs(3), || {
            (d.get_f32(GAIN) == last).then_some(())
        });
        assert!(
            settled.is_some(),
            "round {round}: after a burst ending on {last}, the gain is {}",
            d.get_f32(GAIN)
        );
    }
}

#[test]
fn unsubscribe_stops_feedback() {
    let d = Daemon::start(Setup::default());
    let s = d.udp();
    s.subscribe(&[]);
    let setter = d.udp();
    setter.send(GAIN, vec![OscType::Float(-1.0)]);
    s.recv_until(WAIT, |m| is_value(m, GAIN, -1.0, 0.0))
        .expect("no feedback while subscribed");
    s.send("/rackd/unsubscribe", vec![OscType::Int(s.port() as i32)]);
    s.recv_until(WAIT, |m| m.addr == "/rackd/unsubscribed")
        .expect("no /rackd/unsubscribed");
    // A witness still subscribed: once it has -2, the feedback of -2 has been
    // queued for every subscriber; a marker to `s` now must not come after it.
    let witness = d.udp();
    witness.subscribe(&[GAIN]);
    setter.send(GAIN, vec![OscType::Float(-2.0)]);
    witness
        .recv_until(WAIT, |m| is_value(m, GAIN, -2.0, 0.0))
        .expect("the witness got no feedback");
    for m in s.until_marker(&setter) {
        assert!(
            !is_value(&m, GAIN, -2.0, 0.0),
            "feedback after unsubscribe: {m:?}"
        );
    }
}

#[test]
fn ctl_get_describe_status_and_osc_info_answer() {
    let d = Daemon::start(Setup::default());
    let out = d.ctl_ok(&["get", "/chain/trim/*"]);
    // gain, invert, bypass, and the slot's place in the layout: active, position.
    assert_eq!(out.lines().count(), 5, "{out}");
    let describe: serde_json::Value = serde_json::from_str(&d.ctl_ok(&["describe"])).unwrap();
    let gain = describe["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["address"] == GAIN)
        .unwrap_or_else(|| panic!("no {GAIN} in describe: {describe}"));
    assert_eq!(gain["min"], -24.0, "{gain}");
    assert_eq!(gain["max"], 24.0, "{gain}");
    assert!(gain["unit"].is_string(), "{gain}");
    let status: serde_json::Value = serde_json::from_str(&d.ctl_ok(&["status"])).unwrap();
    for key in [
        "uptime_s",
        "backend",
        "sample_rate",
        "xruns",
        "dsp_load_percent",
        "clients",
    ] {
        assert!(!status[key].is_null(), "status has no {key}: {status}");
    }
    let c = d.udp();
    c.send("/rackd/info", vec![]);
    let info = json_arg(
        &c.recv_until(WAIT, |m| m.addr == "/rackd/info")
            .expect("info"),
    );
    assert_eq!(info["backend"], "null", "{info}");
}

#[test]
fn slow_and_vanished_clients_do_not_hold_up_the_others() {
    let d = Daemon::start(Setup::default());
    // A TCP subscriber that never reads.
    let mut stuck = OscTcp::connect(d.port, Framing::Slip);
    stuck.send("/rackd/subscribe", vec![]);
    // A UDP subscriber that goes away (its port is closed).
    {
        let gone = d.udp();
        gone.subscribe(&[]);
    }
    let live = d.udp();
    live.subscribe(&[]);

    // Many changes in a burst, over TCP so none is lost on the way in; the
    // live subscriber reads meanwhile (so its own socket buffer does not overflow).
    let port = d.port;
    let burst = std::thread::spawn(move || {
        let mut setter = OscTcp::connect(port, Framing::LengthPrefix);
        let n = 5000;
        for i in 0..n {
            let v = -24.0 + 48.0 * (i as f32) / (n as f32);
            setter.send(GAIN, vec![OscType::Float(v)]);
            setter.send("/chain/trim/invert", vec![OscType::Int(i % 2)]);
        }
        setter.send(GAIN, vec![OscType::Float(7.25)]);
        setter.send("/rackd/ping", vec![OscType::Int(5)]);
        setter
            .recv_until(Duration::from_secs(60), |m| m.addr == "/rackd/pong")
            .is_some()
    });
    let seen = live.recv_until(Duration::from_secs(60), |m| is_value(m, GAIN, 7.25, 0.0));
    assert!(burst.join().unwrap(), "setter got no pong after the burst");
    assert!(seen.is_some(), "live subscriber never saw the last value");
    assert_eq!(d.get_f32(GAIN), 7.25);
    let mut d = d;
    assert!(d.is_running());
    drop(stuck);
}
