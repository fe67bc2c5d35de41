//! A Mackie Control surface on JACK MIDI (a dummy jackd): a JACK client
//! plays the surface; the bytes it sends are what an MCU sends, and what
//! rackd sends back is compared with bytes worked out here by hand from the
//! protocol (pitch bend = 14-bit position, LSB first; LCD SysEx `F0 00 00
//! 66 14 12 <offset> <chars> F7`; meters as channel pressure `D0 <strip,
//! level>`; timecode digits `B0 40+i <segment code>`, rightmost first).
//! Parameters are read back with `rackd ctl get`.
//! One test per binary: JACK servers are per test.

use rackd_tests::midi_surface::{SurfaceStandIn, hex, lcd_bytes};
use rackd_tests::*;
use rosc::OscType;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn get(d: &Daemon, path: &str) -> f64 {
    let out = d.ctl_ok(&["get", path]);
    let v = out
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    v.parse().unwrap_or_else(|_| panic!("{path}: {out}"))
}

/// Waits until `ctl get PATH` is within `tol` of `want`.
fn wait_value(d: &Daemon, path: &str, want: f64, tol: f64) {
    let got = wait_for(T, || {
        let v = get(d, path);
        ((v - want).abs() <= tol).then_some(v)
    });
    assert!(
        got.is_some(),
        "{path} never became {want} (now {})",
        get(d, path)
    );
}

/// Waits for the timecode display to show "R <rev>" (one digit): B0 40
/// <0x30 + rev>, B0 41 20 (space), B0 42 12 ("R").
fn wait_revision(surface: &mut SurfaceStandIn, rev: u8) {
    let shown = surface
        .wait_collect(T, |b| b == [0xB0, 0x42, 0x12])
        .unwrap_or_else(|| panic!("no R {rev} on the timecode display"));
    let n = shown.len();
    let tail: Vec<&[u8]> = shown[n.saturating_sub(3)..]
        .iter()
        .map(|r| r.bytes.as_slice())
        .collect();
    assert_eq!(
        tail,
        [
            &[0xB0, 0x40, 0x30 + rev][..],
            &[0xB0, 0x41, 0x20],
            &[0xB0, 0x42, 0x12]
        ],
        "timecode for R {rev}"
    );
}

/// The timecode display's text from the digit messages (the last of each
/// digit wins): a segment code below 0x20 is a letter (0x40 + code), bit
/// 0x40 a dot after the character.
fn timecode_text(messages: &[&[u8]]) -> String {
    let mut digits = [b' '; 10];
    let mut dots = [false; 10];
    for m in messages {
        if m.len() == 3 && m[0] == 0xB0 && (0x40..0x4A).contains(&m[1]) {
            let i = usize::from(m[1] - 0x40);
            let code = m[2] & 0x3F;
            digits[i] = if code < 0x20 { code + 0x40 } else { code };
            dots[i] = m[2] & 0x40 != 0;
        }
    }
    let mut text = String::new();
    for i in (0..10).rev() {
        text.push(char::from(digits[i]));
        if dots[i] {
            text.push('.');
        }
    }
    text.trim().to_string()
}

fn surface_state(d: &Daemon) -> serde_json::Value {
    d.status()["midi_surfaces"][0].clone()
}

#[test]
fn a_mackie_control_on_jack_midi_drives_the_rack() {
    let (_jackd, server) = jack_server_sync("rackd-test-mcu");
    let stand_in_name = unique_name("mcu");
    let mut surface = SurfaceStandIn::start(&stand_in_name);
    let extra = format!(
        r#"
[[chain]]
id = "eq"
kind = "eq"

[[midi_surface]]
id = "desk"
protocol = "mcu"
midi = {{ port = "{n}:in", input = "{n}:out" }}
banks = [["/chain/trim/gain", "/chain/eq/b1_freq", "/chain/eq/b1_type"], ["/chain/eq/b2_gain"]]
"#,
        n = surface.name()
    );
    let d = Daemon::start(Setup {
        jack_server: Some(server.clone()),
        test_tone_db: Some(-18.0),
        extra,
        ..Setup::default()
    });

    // Connected: rackd asks who it is (device query) and sends its state,
    // both LCD lines whole. Strip 1 shows trim gain: "gain" centred, 0.0 dB.
    assert!(
        surface
            .wait_bytes(T, &[0xF0, 0x00, 0x00, 0x66, 0x14, 0x00, 0xF7])
            .is_some()
    );
    let upper = format!(" gain  b1Freq b1Type {}", " ".repeat(35));
    assert!(
        surface.wait_bytes(T, &lcd_bytes(0x00, &upper)).is_some(),
        "no upper line {upper:?}"
    );

    // The handshake: host connection query with challenge 01 02 03 04; the
    // reply's response worked out by hand in protocol/src/mcu.rs's test
    // from the Logic Control formulas: 05 05 7B 2F.
    surface.send(&[
        0xF0, 0, 0, 0x66, 0x14, 0x01, b'R', b'K', b'D', b'T', b'E', b'S', b'T', 1, 2, 3, 4, 0xF7,
    ]);
    let reply = [
        0xF0, 0, 0, 0x66, 0x14, 0x02, b'R', b'K', b'D', b'T', b'E', b'S', b'T', 0x05, 0x05, 0x7B,
        0x2F, 0xF7,
    ];
    assert!(surface.wait_bytes(T, &reply).is_some(), "no host reply");
    let online = wait_for(T, || (surface_state(&d)["state"] == "online").then_some(()));
    assert!(online.is_some(), "{}", surface_state(&d));

    // The timecode display shows the revision saved or recalled, "R 1",
    // right-aligned over digits CC 0x40 (rightmost) to 0x49, each a 7-bit
    // segment code (ASCII & 0x3F): B0 40 31 ("1"), B0 41 20, B0 42 12 ("R").
    let rev = |out: String| -> u8 {
        let n = out
            .split_whitespace()
            .rev()
            .find_map(|w| w.parse::<u8>().ok());
        n.unwrap_or_else(|| panic!("no revision in {out:?}"))
    };
    let first = rev(d.ctl_ok(&["save", "tc"]));
    assert!(first < 9, "revision {first}");
    wait_revision(&mut surface, first);
    let second = rev(d.ctl_ok(&["save", "tc"]));
    assert_eq!(second, first + 1);
    wait_revision(&mut surface, second);
    d.ctl_ok(&["recall", "tc", "--rev", &first.to_string()]);
    wait_revision(&mut surface, first);
    // SMPTE/BEATS (90 35) switches to the DSP load, "DSP 4.5": the BEATS
    // LED on (90 72 7F), SMPTE off (90 71 00), "D" = 0x04, "S" = 0x13,
    // "P" = 0x10 left of a number with one decimal (its dot: bit 0x40).
    surface.send(&[0x90, 0x35, 0x7F]);
    surface.send(&[0x90, 0x35, 0x00]);
    let shown = surface
        .wait_collect(T, |b| {
            b.len() == 3 && b[0] == 0xB0 && (0x45..=0x47).contains(&b[1]) && b[2] == 0x04
        })
        .expect("no DSP on the timecode display");
    let bytes: Vec<&[u8]> = shown.iter().map(|r| r.bytes.as_slice()).collect();
    assert!(bytes.contains(&&[0x90, 0x72, 0x7F][..]), "{bytes:x?}");
    assert!(bytes.contains(&&[0x90, 0x71, 0x00][..]), "{bytes:x?}");
    let text = timecode_text(&bytes);
    let load = text
        .strip_prefix("DSP ")
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("timecode shows {text:?}"));
    assert!(
        text.ends_with(|c: char| c.is_ascii_digit()) && text.as_bytes()[text.len() - 2] == b'.'
    );
    assert!((0.0..=100.0).contains(&load), "{text}");
    // And back to the revision.
    surface.send(&[0x90, 0x35, 0x7F]);
    surface.send(&[0x90, 0x35, 0x00]);
    assert!(surface.wait_bytes(T, &[0x90, 0x71, 0x7F]).is_some());
    wait_revision(&mut surface, first);

    // Fader 1 (pitch bend, channel 1) to 0x3000: 12288 / 16383 of -24..24 dB
    // = 12.0029 dB, taken as 12.0 (0.01 dB steps).
    surface.send(&[0xE0, 0x00, 0x60]);
    wait_value(&d, "/chain/trim/gain", 12.0, 0.005);
    // While it moves, the upper cell shows the value: "12.0dB" then the gap.
    assert!(
        surface.wait_bytes(T, &lcd_bytes(0x00, "12.0dB ")).is_some(),
        "no value on the LCD"
    );
    // The lower line (offset 0x38) shows the V-pot's value, the same
    // parameter on strip 1: "12.0dB" and the gap.
    assert!(
        surface.wait_bytes(T, &lcd_bytes(0x38, "12.0dB ")).is_some(),
        "no value on the lower LCD line"
    );
    // A second later the name again.
    assert!(surface.wait_bytes(T, &lcd_bytes(0x00, " gain  ")).is_some());

    // V-pot 1 on trim gain (-24..24 dB): a slow tick (B0 10 01, the first
    // on this V-pot) moves 1/200 of the travel, 0.24 dB; four ticks in one
    // message (B0 10 04, a fast turn) move 4 * sqrt(4) / 200 of it, 1.92
    // dB, twice what four slow ticks would.
    surface.send(&[0xB0, 0x10, 0x01]);
    wait_value(&d, "/chain/trim/gain", 12.24, 0.005);
    // Slower than a brisk turn (60 ms) from the tick before.
    std::thread::sleep(Duration::from_millis(100));
    surface.send(&[0xB0, 0x10, 0x04]);
    wait_value(&d, "/chain/trim/gain", 14.16, 0.005);
    // Its value on the upper line, then (a second on) the name again.
    assert!(surface.wait_bytes(T, &lcd_bytes(0x00, "14.2dB ")).is_some());
    assert!(surface.wait_bytes(T, &lcd_bytes(0x00, " gain  ")).is_some());

    // V-pot 2 (CC 0x11) one tick clockwise on b1_freq at 1000 Hz: a slow
    // tick moves 1/200 of the log travel of 10..40000 Hz: 1000 * 4000^(1/200).
    d.ctl_ok(&["set", "/chain/eq/b1_freq", "1000"]);
    surface.send(&[0xB0, 0x11, 0x01]);
    let want = 1000.0 * 4000f64.powf(1.0 / 200.0);
    wait_value(&d, "/chain/eq/b1_freq", want, 0.06);
    // V-pot 3 on b1_type (a choice): one step clockwise from "bell" is the
    // label after it.
    let types: serde_json::Value = serde_json::from_str(&d.ctl_ok(&["describe"])).unwrap();
    let labels: Vec<String> = types["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["address"] == "/chain/eq/b1_type")
        .unwrap()["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let bell = labels.iter().position(|l| l == "bell").unwrap();
    surface.send(&[0xB0, 0x12, 0x01]);
    let next = &labels[bell + 1];
    let taken = wait_for(T, || {
        let out = d.ctl_ok(&["get", "/chain/eq/b1_type"]);
        out.trim().ends_with(next.as_str()).then_some(out)
    });
    assert!(taken.is_some(), "b1_type did not step to {next}");

    // Fader 2 on b1_freq, a log taper over 10..40000 Hz: 0x3000 (E1 00 60)
    // is 12288/16383 of the travel, 10 * 4000^(12288/16383) Hz, to 0.1 Hz.
    surface.send(&[0xE1, 0x00, 0x60]);
    let want = 10.0 * 4000f64.powf(12288.0 / 16383.0);
    wait_value(&d, "/chain/eq/b1_freq", want, 0.051);

    // A set over OSC moves the motor: -6 dB is 18/48 of the travel,
    // 0.375 * 16383 = 6143.6 → 6144 = 0x1800: E0 00 30.
    let osc = d.udp();
    osc.send("/chain/trim/gain", vec![OscType::Float(-6.0)]);
    assert!(
        surface.wait_bytes(T, &[0xE0, 0x00, 0x30]).is_some(),
        "no motor move"
    );

    // Touched, the fader gets no motor feedback: touch (90 68 7F), set -3
    // dB over OSC, then a change on strip 2 as a marker (its LED ring).
    surface.send(&[0x90, 0x68, 0x7F]);
    // The touch is taken when the upper cell shows the value held.
    assert!(surface.wait_bytes(T, &lcd_bytes(0x00, "-6.0dB ")).is_some());
    osc.send("/chain/trim/gain", vec![OscType::Float(-3.0)]);
    wait_value(&d, "/chain/trim/gain", -3.0, 0.005);
    osc.send("/chain/eq/b1_freq", vec![OscType::Float(20.0)]);
    // 20 Hz on the dot ring: 1 + round(10 * ln(2)/ln(4000)) = 1 + 1 = 2 → B0 31 02.
    let held = surface
        .wait_collect(T, |b| b == [0xB0, 0x31, 0x02])
        .expect("no ring marker");
    assert!(
        !held.iter().any(|r| r.bytes[0] == 0xE0),
        "motor feedback while touched: {:?}",
        held.iter().map(|r| hex(&r.bytes)).collect::<Vec<_>>()
    );
    // Released: the motor goes to -3 dB: 21/48 * 16383 = 7167.6 → 7168 =
    // 0x1C00: E0 00 38.
    surface.send(&[0x90, 0x68, 0x00]);
    let released = surface.wait_bytes(T, &[0xE0, 0x00, 0x38]);
    assert!(released.is_some(), "no motor after release");

    // Banking: BANK ▶ (90 2F 7F) puts the second bank on the strips: strip 1
    // is b2_gain, strips 2 and 3 empty (cells sent one by one).
    surface.send(&[0x90, 0x2F, 0x7F]);
    assert!(
        surface.wait_bytes(T, &lcd_bytes(0x00, "b2Gain ")).is_some(),
        "no bank 2 on the LCD"
    );
    assert!(surface.wait_bytes(T, &lcd_bytes(0x07, "       ")).is_some());
    surface.send(&[0xE0, 0x7F, 0x7F]);
    wait_value(&d, "/chain/eq/b2_gain", 24.0, 0.005);
    // MUTE 1 bypasses that strip's slot.
    surface.send(&[0x90, 0x10, 0x7F]);
    wait_value(&d, "/chain/eq/bypass", 1.0, 0.0);
    assert!(
        surface.wait_bytes(T, &[0x90, 0x10, 0x7F]).is_some(),
        "no mute LED"
    );

    // Meters: strip 1 is on eq, after the last meter slot, so it shows
    // `out`: the test tone at -18 dBFS through trim at -3 dB (eq bands are
    // off) peaks at -21 dBFS: at or over -30, under -20: four segments,
    // D0 04. Resent every ~100 ms, faster than the MCU's own decay (~300 ms
    // a segment).
    surface.take();
    let mut meters = Vec::new();
    let strip1 = |b: &[u8]| b.len() == 2 && b[0] == 0xD0 && b[1] >> 4 == 0;
    while meters.len() < 10 {
        let got = surface
            .wait_collect(T, strip1)
            .expect("no meter messages for strip 1");
        meters.extend(got.into_iter().filter(|r| strip1(&r.bytes)));
    }
    let gaps: Vec<u32> = meters
        .windows(2)
        .map(|w| w[1].frame.wrapping_sub(w[0].frame))
        .collect();
    let mut sorted = gaps.clone();
    sorted.sort();
    // Median gap under 300 ms at 48 kHz.
    assert!(
        sorted[sorted.len() / 2] < 14_400,
        "meter gaps (frames): {gaps:?}"
    );

    // Garbage is ignored and counted; the surface goes on working.
    for junk in [
        &[0x40, 0x12][..],
        &[0xC0, 0x05],
        &[0xF0, 0x41, 0x10, 0xF7],
        &[0xE0, 0x01],
    ] {
        surface.send(junk);
    }
    let counted = wait_for(T, || (surface_state(&d)["garbage"] == 4).then_some(()));
    assert!(counted.is_some(), "{}", surface_state(&d));
    surface.send(&[0x90, 0x2E, 0x7F]);
    surface.send(&[0xE0, 0x00, 0x40]);
    wait_value(&d, "/chain/trim/gain", 0.0, 0.005);
    assert!(
        d.log_text().contains("surface desk: ignoring"),
        "{}",
        d.log_text()
    );
    // (The moved fader's value leaves the LCD a second later.)
    assert!(surface.wait_bytes(T, &lcd_bytes(0x00, " gain  ")).is_some());

    // The surface goes away and comes back: it is set to the current state
    // at once (whole LCD lines, the motor at trim gain 0 dB = 0x2000: E0 00 40).
    surface.close();
    let gone = wait_for(T, || {
        surface_state(&d)["state"]
            .as_str()
            .is_some_and(|s| s.starts_with("offline"))
            .then_some(())
    });
    assert!(gone.is_some(), "{}", surface_state(&d));
    let mut back = SurfaceStandIn::start(&stand_in_name);
    assert_eq!(back.name(), stand_in_name);
    let upper = format!(" gain  b1Freq b1Type {}", " ".repeat(35));
    let state = back
        .wait_collect(T, |b| b == lcd_bytes(0x00, &upper))
        .expect("no state after return");
    assert!(
        state.iter().any(|r| r.bytes == [0xE0, 0x00, 0x40]),
        "no motor position after return: {:?}",
        state.iter().map(|r| hex(&r.bytes)).collect::<Vec<_>>()
    );
}
