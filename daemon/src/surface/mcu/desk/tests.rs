//! The desk against bytes worked out by hand from the MCU protocol.

use super::*;
use crate::config::{MidiBackend, SlotConfig, SurfaceLink};
use rackd_dsp::SlotKind;

fn cfg(banks: SurfaceBanks) -> MidiSurfaceConfig {
    MidiSurfaceConfig {
        id: "desk".into(),
        model: Model::Mcu,
        units: vec![SurfaceLink {
            backend: MidiBackend::Jack,
            port: "s:in".into(),
            input: Some("s:out".into()),
        }],
        banks,
        master: Some("/monitor/level".into()),
        file: "rackd.toml".into(),
        line: None,
    }
}

fn desk(banks: SurfaceBanks) -> Desk {
    let tree = ParamTree::from_chain(&[
        SlotConfig::new("trim", SlotKind::Trim),
        SlotConfig::new("comp", SlotKind::Compressor),
    ]);
    let state = tree.defaults();
    Desk::new(&cfg(banks), Arc::new(tree), state)
}

fn has(out: &[(usize, Vec<u8>)], bytes: &[u8]) -> bool {
    out.iter().any(|(_, b)| b == bytes)
}

#[test]
fn auto_banks_follow_play_order_and_leave_buttons_out() {
    let d = desk(SurfaceBanks::Auto);
    assert_eq!(d.fader_addr(0), Some("/chain/trim/gain"));
    assert_eq!(d.fader_addr(1), Some("/chain/trim/invert"));
    assert_eq!(d.fader_addr(2), Some("/chain/comp/threshold"));
    assert_eq!(d.fader_addr(3), Some("/chain/comp/ratio"));
}

#[test]
fn a_fader_move_sets_its_parameter_and_shows_the_value_until_a_second_later() {
    let mut d = desk(SurfaceBanks::Auto);
    let t0 = Instant::now();
    d.flush(t0);
    let a = d.input(
        0,
        Input::Fader {
            strip: 0,
            position: 0x2000,
        },
        t0,
    );
    assert_eq!(
        a,
        vec![Action::Set {
            address: "/chain/trim/gain".into(),
            value: Value::Float(f64::from(0x2000u16) / 16383.0),
            norm: true
        }]
    );
    d.changed("/chain/trim/gain", Value::Float(-3.5));
    let out = d.flush(t0);
    // Upper line, strip 1: "-3.5dB" centred in six, then the gap, at offset 0.
    let value = [
        0xF0, 0, 0, 0x66, 0x14, 0x12, 0x00, b'-', b'3', b'.', b'5', b'd', b'B', b' ', 0xF7,
    ];
    assert!(has(&out, &value), "{out:02X?}");
    // The motor follows (no touch): -3.5 on -24..24 is (20.5/48) * 16383 = 6997 = 0x1B55.
    assert!(has(&out, &[0xE0, 0x55, 0x36]), "{out:02X?}");
    // A second later the name is back: "gain" centred: " gain  ".
    let out = d.flush(t0 + HOLD);
    let name = [
        0xF0, 0, 0, 0x66, 0x14, 0x12, 0x00, b' ', b'g', b'a', b'i', b'n', b' ', b' ', 0xF7,
    ];
    assert!(has(&out, &name), "{out:02X?}");
}

#[test]
fn a_touched_fader_gets_no_motor_feedback_until_let_go() {
    let mut d = desk(SurfaceBanks::Auto);
    let t0 = Instant::now();
    d.flush(t0);
    d.input(
        0,
        Input::Touch {
            strip: 0,
            touched: true,
        },
        t0,
    );
    d.changed("/chain/trim/gain", Value::Float(12.0));
    let out = d.flush(t0);
    assert!(!out.iter().any(|(_, b)| b[0] == 0xE0), "{out:02X?}");
    d.input(
        0,
        Input::Touch {
            strip: 0,
            touched: false,
        },
        t0,
    );
    let out = d.flush(t0);
    // 12 dB on -24..24: 36/48 * 16383 = 12287.25 → 12287 = 0x2FFF: LSB 0x7F, MSB 0x5F.
    assert!(has(&out, &[0xE0, 0x7F, 0x5F]), "{out:02X?}");
}

#[test]
fn banks_and_channels_move_the_strips() {
    let lists = vec![
        vec!["/chain/trim/gain".to_string(), String::new()],
        vec!["/chain/comp/ratio".to_string()],
    ];
    let mut d = desk(SurfaceBanks::Lists(lists));
    let t = Instant::now();
    assert_eq!(d.fader_addr(1), None);
    d.input(
        0,
        Input::Button {
            note: note::BANK_RIGHT,
            pressed: true,
        },
        t,
    );
    assert_eq!(d.fader_addr(0), Some("/chain/comp/ratio"));
    // Past the last bank: stays.
    d.input(
        0,
        Input::Button {
            note: note::BANK_RIGHT,
            pressed: true,
        },
        t,
    );
    assert_eq!(d.fader_addr(0), Some("/chain/comp/ratio"));
    d.input(
        0,
        Input::Button {
            note: note::CHANNEL_LEFT,
            pressed: true,
        },
        t,
    );
    assert_eq!(d.fader_addr(0), None);
    assert_eq!(d.fader_addr(1), Some("/chain/comp/ratio"));
    d.input(
        0,
        Input::Button {
            note: note::BANK_LEFT,
            pressed: true,
        },
        t,
    );
    assert_eq!(d.fader_addr(0), Some("/chain/trim/gain"));
}

#[test]
fn select_puts_the_slot_on_the_vpots_and_flip_swaps() {
    let mut d = desk(SurfaceBanks::Auto);
    let t = Instant::now();
    d.input(
        0,
        Input::Button {
            note: note::SELECT + 2,
            pressed: true,
        },
        t,
    );
    assert_eq!(d.vpot_addr(0), Some("/chain/comp/threshold"));
    assert_eq!(d.vpot_addr(7), Some("/chain/comp/sc_hp_on"));
    assert_eq!(d.fader_addr(0), Some("/chain/trim/gain"));
    d.input(
        0,
        Input::Button {
            note: note::FLIP,
            pressed: true,
        },
        t,
    );
    assert_eq!(d.fader_addr(0), Some("/chain/comp/threshold"));
    assert_eq!(d.vpot_addr(0), Some("/chain/trim/gain"));
    d.input(
        0,
        Input::Button {
            note: note::FLIP,
            pressed: true,
        },
        t,
    );
    d.input(
        0,
        Input::Button {
            note: note::SELECT + 2,
            pressed: true,
        },
        t,
    );
    assert_eq!(d.vpot_addr(0), Some("/chain/trim/gain"));
}

#[test]
fn mute_toggles_the_slots_bypass_and_vpots_step_choices() {
    let mut d = desk(SurfaceBanks::Auto);
    let t = Instant::now();
    let a = d.input(
        0,
        Input::Button {
            note: note::MUTE + 2,
            pressed: true,
        },
        t,
    );
    assert_eq!(
        a,
        vec![Action::Set {
            address: "/chain/comp/bypass".into(),
            value: Value::Int(1),
            norm: false
        }]
    );
    d.changed("/chain/comp/bypass", Value::Int(1));
    let out = d.flush(t);
    assert!(has(&out, &[0x90, 0x12, 0x7F]), "{out:02X?}");
    // Strip 2 (invert, a switch): clockwise turns it on.
    let a = d.input(0, Input::Vpot { strip: 1, ticks: 1 }, t);
    assert_eq!(
        a,
        vec![Action::Set {
            address: "/chain/trim/invert".into(),
            value: Value::Int(1),
            norm: false
        }]
    );
}

#[test]
fn the_handshake_is_answered_and_the_unit_set_again() {
    let mut d = desk(SurfaceBanks::Auto);
    let t = Instant::now();
    assert!(!d.flush(t).is_empty());
    assert!(d.flush(t).is_empty());
    let a = d.input(
        0,
        Input::HostQuery {
            serial: *b"ABCDEFG",
            challenge: [1, 2, 3, 4],
        },
        t,
    );
    assert_eq!(
        a,
        vec![Action::Send(mcu::host_reply(
            Model::Mcu,
            *b"ABCDEFG",
            [1, 2, 3, 4]
        ))]
    );
    let out = d.flush(t);
    // Everything again: both LCD lines whole, all nine faders, the readout.
    assert_eq!(
        out.iter()
            .filter(|(_, b)| b[0] == 0xF0 && b[5] == 0x12)
            .count(),
        2
    );
    assert_eq!(out.iter().filter(|(_, b)| b[0] & 0xF0 == 0xE0).count(), 9);
    assert!(has(&out, &[0xB0, 0x40, b'-' & 0x3F]));
}

proptest::proptest! {
    /// Whatever a surface sends, the desk neither panics nor asks for a
    /// parameter the rack does not have, nor sends bytes that are not MIDI.
    #[test]
    fn any_bytes_from_a_surface_are_safe(
        messages in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24), 0..64)
    ) {
        let mut d = desk(SurfaceBanks::Auto);
        let t = Instant::now();
        let tree = ParamTree::from_chain(&[
            SlotConfig::new("trim", SlotKind::Trim),
            SlotConfig::new("comp", SlotKind::Compressor),
        ]);
        for (i, m) in messages.iter().enumerate() {
            let now = t + Duration::from_millis(i as u64 * 7);
            if let Ok(input) = mcu::decode(m, Model::Mcu) {
                for a in d.input(0, input, now) {
                    if let Action::Set { address, .. } = a {
                        proptest::prop_assert!(tree.get(&address).is_some(), "{address}");
                    }
                }
            }
            for (unit, bytes) in d.flush(now) {
                proptest::prop_assert_eq!(unit, 0);
                proptest::prop_assert!(bytes[0] >= 0x80, "{bytes:02X?}");
                proptest::prop_assert!(bytes[1..].iter().filter(|b| **b != 0xF7).all(|b| *b < 0x80), "{bytes:02X?}");
            }
        }
    }
}

#[test]
fn an_extender_carries_strips_nine_to_sixteen_with_its_own_header() {
    let mut c = cfg(SurfaceBanks::Lists(vec![
        (0..16)
            .map(|i| match i {
                8 => "/chain/comp/ratio".to_string(),
                _ => String::new(),
            })
            .collect(),
        vec!["/chain/trim/gain".to_string()],
    ]));
    c.units.push(c.units[0].clone());
    c.model = Model::Mcu;
    let tree = ParamTree::from_chain(&[
        SlotConfig::new("trim", SlotKind::Trim),
        SlotConfig::new("comp", SlotKind::Compressor),
    ]);
    let state = tree.defaults();
    let mut d = Desk::new(&c, Arc::new(tree), state);
    assert_eq!(d.models(), [Model::Mcu, Model::Xt]);
    let t = Instant::now();
    let out = d.flush(t);
    // The XT's LCD has its own device id (0x15) and shows strip nine:
    // "ratio" over "2.0:1", each line 56 characters from offset 0 / 0x38.
    let line = |offset: u8, text: &[u8]| {
        let mut m = vec![0xF0, 0, 0, 0x66, 0x15, 0x12, offset];
        m.extend(text);
        m.resize(7 + 56, b' ');
        m.push(0xF7);
        (1usize, m)
    };
    assert!(out.contains(&line(0x00, b"ratio")), "{out:02X?}");
    assert!(out.contains(&line(0x38, b"2.0:1")), "{out:02X?}");
    // No timecode digits (CC 0x40..0x4B) go to the XT: it has none.
    assert!(
        !out.iter()
            .any(|(u, b)| *u == 1 && b.len() == 3 && b[0] == 0xB0 && (0x40..0x4C).contains(&b[1])),
        "{out:02X?}"
    );
    // A fader on the XT's first strip moves strip nine's parameter.
    let a = d.input(
        1,
        Input::Fader {
            strip: 0,
            position: 0,
        },
        t,
    );
    assert_eq!(
        a,
        vec![Action::Set {
            address: "/chain/comp/ratio".into(),
            value: Value::Float(0.0),
            norm: true
        }]
    );
    // BANK right moves by all 16 strips.
    d.input(
        0,
        Input::Button {
            note: note::BANK_RIGHT,
            pressed: true,
        },
        t,
    );
    assert_eq!(d.fader_addr(0), Some("/chain/trim/gain"));
}
