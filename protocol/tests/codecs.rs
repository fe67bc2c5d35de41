//! Device codecs against hand-computed bytes, and decode/encode properties.
//!
//! Expected bytes were worked out by hand (and checked with a calculator):
//! scaling to the device range, then the message layout, then checksums.

use proptest::prelude::*;
use rackd_protocol::device::midi::{self, IdentityReply, MidiDecoder};
use rackd_protocol::device::serial::{self, Framer, Reply};
use rackd_protocol::device::{
    Command, DeviceCtx, DeviceMessage, EncodeError, encode_query, encode_report, encode_set,
    has_readback, identity_query, init_messages,
};
use rackd_protocol::param::Value;
use rackd_protocol::profile::{Profile, TransportKind, load_profile};
use rosc::{OscMessage, OscType};

fn lib(id: &str) -> Profile {
    let path = format!(
        "{}/../hardware-profiles/{id}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    load_profile(&text, &path).unwrap_or_else(|e| panic!("{e:?}"))
}

fn all_profiles() -> Vec<Profile> {
    let dir = format!("{}/../hardware-profiles", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&p).unwrap();
            out.push(load_profile(&text, &p.to_string_lossy()).unwrap());
        }
    }
    out.sort_by(|a, b| a.id().cmp(b.id()));
    out
}

fn ctx(p: &Profile) -> DeviceCtx {
    DeviceCtx::for_profile(p)
}

fn midi_bytes(p: &Profile, param: &str, v: Value, c: &DeviceCtx) -> Vec<u8> {
    match encode_set(p, param, &v, c).unwrap().as_slice() {
        [DeviceMessage::Midi(b)] => b.clone(),
        other => panic!("not one MIDI message: {other:?}"),
    }
}

fn serial_bytes(p: &Profile, param: &str, v: Value) -> Vec<u8> {
    match encode_set(p, param, &v, &ctx(p)).unwrap().as_slice() {
        [DeviceMessage::Serial(b)] => b.clone(),
        other => panic!("not one serial message: {other:?}"),
    }
}

fn osc_msg(p: &Profile, param: &str, v: Value) -> OscMessage {
    match encode_set(p, param, &v, &ctx(p)).unwrap().as_slice() {
        [DeviceMessage::Osc(m)] => m.clone(),
        other => panic!("not one OSC message: {other:?}"),
    }
}

const INLINE_HEAD: &str = "[device]\nid = \"t\"\nvendor = \"Generic\"\nmodel = \"T\"\nkind = \"eq\"\ngeneric = true\nsource = { title = \"test\" }\n";

fn inline(rest: &str) -> Profile {
    let text = format!("{INLINE_HEAD}{rest}");
    load_profile(&text, "inline.toml").unwrap_or_else(|e| panic!("{e:#?}"))
}

#[test]
fn cc_7bit() {
    let p = inline(
        "[midi]\n[[param]]\nid = \"g\"\nname = \"G\"\nunit = \"db\"\nmin = -12.0\nmax = 12.0\nmidi = { cc = 20 }\n",
    );
    let ch2 = DeviceCtx {
        channel: 1,
        device_id: 0,
    };
    // 0 dB is the middle of 0..127: 63.5 rounds to 64.
    assert_eq!(midi_bytes(&p, "g", Value::Float(0.0), &ch2), [0xB1, 20, 64]);
    assert_eq!(
        midi_bytes(&p, "g", Value::Float(12.0), &ch2),
        [0xB1, 20, 127]
    );
    // Out of range is clamped before encoding.
    assert_eq!(
        midi_bytes(&p, "g", Value::Float(-99.0), &ch2),
        [0xB1, 20, 0]
    );
    // Library EQ: -12..12 dB on 16..112, +6 dB is 3/4 of the way: 16 + 72 = 88.
    let eq = lib("generic-midi-cc-eq");
    assert_eq!(
        midi_bytes(&eq, "low_gain", Value::Float(6.0), &ctx(&eq)),
        [0xB0, 20, 88]
    );
    assert_eq!(
        midi_bytes(&eq, "low_shape", Value::Text("bell".into()), &ctx(&eq)),
        [0xB0, 30, 127]
    );
    assert_eq!(
        midi_bytes(&eq, "bypass", Value::Int(1), &ctx(&eq)),
        [0xB0, 85, 127]
    );
}

#[test]
fn cc_14bit_msb_first_with_running_status() {
    let p = lib("generic-midi-14bit");
    // +5 dB on -20..20 -> 25/40 * 16000 = 10000 = 78 * 128 + 16.
    assert_eq!(
        midi_bytes(&p, "input_left", Value::Float(5.0), &ctx(&p)),
        [0xB0, 16, 78, 48, 16]
    );
    // dB curve: amplitude-linear, -6 dB on -60..+6 -> 0.25081 * 16383 = 4109 = 32 * 128 + 13.
    assert_eq!(
        midi_bytes(&p, "output_left", Value::Float(-6.0), &ctx(&p)),
        [0xB0, 18, 32, 50, 13]
    );
}

#[test]
fn cc_14bit_lsb_first_without_running_status() {
    let p = inline(
        "[midi]\ncc14_order = \"lsb-first\"\n[[param]]\nid = \"g\"\nname = \"G\"\nmin = 0.0\nmax = 16383.0\nmidi = { cc14 = 7 }\n",
    );
    assert_eq!(
        midi_bytes(&p, "g", Value::Float(10000.0), &ctx(&p)),
        [0xB0, 39, 16, 0xB0, 7, 78]
    );
}

#[test]
fn nrpn_14_and_7_bit() {
    let p = lib("generic-nrpn-compressor");
    // -10 dB on -40..0 over 0..400 -> 300 = 2 * 128 + 44; NRPN 0x0100 = 2 * 128 + 0.
    assert_eq!(
        midi_bytes(&p, "threshold", Value::Float(-10.0), &ctx(&p)),
        [0xB0, 99, 2, 0xB0, 98, 0, 0xB0, 6, 2, 0xB0, 38, 44]
    );
    // "soft" is the last of three labels spread over 0..127.
    assert_eq!(
        midi_bytes(&p, "knee", Value::Text("soft".into()), &ctx(&p)),
        [0xB0, 99, 2, 0xB0, 98, 6, 0xB0, 6, 127]
    );
    // Table taper: 300 ms is the point (8192, 300.0) -> 64 * 128 + 0.
    assert_eq!(
        midi_bytes(&p, "release", Value::Float(300.0), &ctx(&p)),
        [0xB0, 99, 2, 0xB0, 98, 3, 0xB0, 6, 64, 0xB0, 38, 0]
    );
}

#[test]
fn rpn_with_running_status() {
    let p = inline(
        "[midi]\nrunning_status = true\n[[param]]\nid = \"bend\"\nname = \"Bend range\"\ntype = \"stepped\"\nmin = 0\nmax = 24\nmidi = { rpn = 0, raw_min = 0, raw_max = 3072 }\n",
    );
    // 12 of 24 -> 1536 = 12 * 128 + 0: semitones in the MSB, as RPN 0 wants.
    assert_eq!(
        midi_bytes(&p, "bend", Value::Int(12), &ctx(&p)),
        [0xB0, 101, 0, 100, 0, 6, 12, 38, 0]
    );
}

#[test]
fn program_change() {
    let p = lib("generic-insert-switcher-midi");
    let ch3 = DeviceCtx {
        channel: 2,
        device_id: 0,
    };
    // Preset 5 of 1..16 maps to program 4 of 0..15.
    assert_eq!(midi_bytes(&p, "preset", Value::Int(5), &ch3), [0xC2, 4]);
}

#[test]
fn sysex_roland_checksum_set_query_and_reply() {
    let p = lib("generic-sysex-roland");
    let c = ctx(&p);
    assert_eq!(c.device_id, 0x10);
    // +3 dB on -12..12 over 0..240 -> 150 = 0x96 -> nibbles 09 06.
    // Checksum: 10 + 00 + 00 + 09 + 06 = 31; 128 - 31 = 97 = 0x61.
    let set = midi_bytes(&p, "low_gain", Value::Float(3.0), &c);
    assert_eq!(
        set,
        [
            0xF0, 0x7D, 0x10, 0x12, 0x10, 0x00, 0x00, 0x09, 0x06, 0x61, 0xF7
        ]
    );
    // 1 kHz on log 200..8000: ln 5 / ln 40 * 16383 = 7148 = 0x37 0x6C; sum 0x10+0x04+0x37+0x6C = 0xB7 -> 0x49.
    let freq = midi_bytes(&p, "mid_freq", Value::Float(1000.0), &c);
    assert_eq!(
        freq,
        [
            0xF0, 0x7D, 0x10, 0x12, 0x10, 0x00, 0x04, 0x37, 0x6C, 0x49, 0xF7
        ]
    );
    // RQ1: address + size 00 00 02: sum 0x12 -> 0x6E.
    assert_eq!(
        encode_query(&p, "low_gain", &c).unwrap(),
        DeviceMessage::Midi(vec![
            0xF0, 0x7D, 0x10, 0x11, 0x10, 0x00, 0x00, 0x00, 0x00, 0x02, 0x6E, 0xF7
        ])
    );
    // The device answers with the same DT1 layout; decode it back.
    let mut dec = MidiDecoder::new(&p, c);
    assert_eq!(
        dec.feed(&set),
        vec![("low_gain".to_string(), Value::Float(3.0))]
    );
    // A corrupted checksum is refused.
    let mut bad = set.clone();
    bad[9] = 0x62;
    assert!(dec.feed(&bad).is_empty());
    assert!(matches!(
        midi::decode_sysex(&p, p.param("low_gain").unwrap(), &bad, &c),
        Err(rackd_protocol::device::DecodeError::Checksum { .. })
    ));
    // Init message: address 00 00 00, data 7F 01: sum 0x80 -> 0x00.
    assert_eq!(
        init_messages(&p, &c).unwrap(),
        vec![DeviceMessage::Midi(vec![
            0xF0, 0x7D, 0x10, 0x12, 0x00, 0x00, 0x00, 0x7F, 0x01, 0x00, 0xF7
        ])]
    );
}

#[test]
fn sysex_device_id_above_7f_is_refused() {
    let p = lib("generic-sysex-roland");
    let c = DeviceCtx {
        channel: 0,
        device_id: 0x80,
    };
    assert!(matches!(
        encode_set(&p, "bypass", &Value::Int(1), &c),
        Err(EncodeError::Template { .. })
    ));
}

#[test]
fn identity_request_and_reply() {
    assert_eq!(
        midi::identity_request(0x7F),
        [0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7]
    );
    let p = lib("generic-sysex-roland");
    assert_eq!(
        identity_query(&p, &ctx(&p)),
        Some(DeviceMessage::Midi(vec![
            0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7
        ]))
    );
    let reply = [
        0xF0, 0x7E, 0x10, 0x06, 0x02, 0x7D, 0x01, 0x00, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0xF7,
    ];
    let id = midi::parse_identity_reply(&reply).unwrap();
    assert_eq!(
        id,
        IdentityReply {
            device: 0x10,
            manufacturer: vec![0x7D],
            family: 1,
            member: 1,
            version: [1, 2, 3, 4],
        }
    );
    assert!(midi::identity_matches(p.midi.as_ref().unwrap(), &id));
    // Three-byte manufacturer id; family 0x0102 is sent LSB first: 02 02.
    let long = [
        0xF0, 0x7E, 0x00, 0x06, 0x02, 0x00, 0x20, 0x33, 0x02, 0x02, 0x05, 0x00, 0, 0, 0, 1, 0xF7,
    ];
    let id = midi::parse_identity_reply(&long).unwrap();
    assert_eq!(id.manufacturer, [0x00, 0x20, 0x33]);
    assert_eq!(id.family, 0x0102);
    assert_eq!(id.member, 5);
    assert!(!midi::identity_matches(p.midi.as_ref().unwrap(), &id));
    assert_eq!(midi::parse_identity_reply(&long[..10]), None);
    assert_eq!(
        midi::parse_identity_reply(&[0xF0, 0x7E, 0x00, 0x06, 0x01, 0xF7]),
        None
    );
}

#[test]
fn midi_decoder_reads_front_panel_moves() {
    let p = lib("generic-nrpn-compressor");
    let mut dec = MidiDecoder::new(&p, ctx(&p));
    // Running status, a clock byte in the middle, and the LSB arriving in a later read.
    let got = dec.feed(&[0xB0, 99, 2, 98, 0, 0xF8, 6, 2]);
    assert!(got.is_empty(), "{got:?}");
    assert_eq!(
        dec.feed(&[38, 44]),
        vec![("threshold".to_string(), Value::Float(-10.0))]
    );
    // 7-bit NRPN: knee.
    assert_eq!(
        dec.feed(&[0xB0, 99, 2, 98, 6, 6, 64]),
        vec![("knee".to_string(), Value::Text("medium".into()))]
    );
    // Other channels are someone else's.
    assert!(dec.feed(&[0xB5, 99, 2, 98, 6, 6, 0]).is_empty());

    let p = lib("generic-midi-14bit");
    let mut dec = MidiDecoder::new(&p, ctx(&p));
    assert_eq!(
        dec.feed(&[0xB0, 16, 78, 48, 16]),
        vec![("input_left".to_string(), Value::Float(5.0))]
    );
    let p = lib("generic-insert-switcher-midi");
    let mut dec = MidiDecoder::new(&p, ctx(&p));
    assert_eq!(
        dec.feed(&[0xC0, 4, 0xB0, 102, 127]),
        vec![
            ("preset".to_string(), Value::Int(5)),
            ("insert_1".to_string(), Value::Int(1))
        ]
    );
}

#[test]
fn midi_split_resolves_running_status() {
    // Running status repeats B0 and C1; the clock byte F8 is dropped; SysEx stays whole.
    assert_eq!(
        midi::split_messages(&[0xB0, 1, 2, 3, 4, 0xF8, 0xC1, 5, 6, 0xF0, 1, 2, 0xF7]),
        vec![
            vec![0xB0, 1, 2],
            vec![0xB0, 3, 4],
            vec![0xC1, 5],
            vec![0xC1, 6],
            vec![0xF0, 1, 2, 0xF7]
        ]
    );
    // A status byte inside SysEx drops the unfinished SysEx; data without status is ignored.
    assert_eq!(
        midi::split_messages(&[0x10, 0xF0, 1, 0x90, 60, 100]),
        vec![vec![0x90, 60, 100]]
    );
}

#[test]
fn alto_control30_volume() {
    let p = lib("alto-control30");
    // 0 dB on -15..+12 over 0..54 (0.5 dB per step): 15 / 27 * 54 = 30.
    assert_eq!(
        midi_bytes(&p, "volume", Value::Float(0.0), &ctx(&p)),
        [0xB0, 0x07, 30]
    );
    assert_eq!(
        midi_bytes(&p, "mode", Value::Text("bypass".into()), &ctx(&p)),
        [0xB0, 0x10, 1]
    );
    assert_eq!(p.pacing.max_per_second, 2);
}

/// RME ADI-8 QS, user's guide table 18.3: trims "4..28, 0.5dB steps, 4 = -6dB,
/// 16 = 0dB, 28 = +6dB"; Output Level 0..48 on the output level table.
#[test]
fn rme_adi_8_qs_sysex_from_the_manual() {
    let p = lib("rme-adi-8-qs");
    let mut c = ctx(&p);
    let head = [0xF0, 0x00, 0x20, 0x0D, 0x41];
    let msg = |dev: u8, nn: u8, oo: u8| [&head[..], &[dev, 0x20, nn, oo, 0xF7]].concat();
    assert_eq!(
        midi_bytes(&p, "trim_out_1", Value::Float(-6.0), &c),
        msg(0, 0x01, 4)
    );
    assert_eq!(
        midi_bytes(&p, "trim_out_8", Value::Float(0.0), &c),
        msg(0, 0x08, 16)
    );
    assert_eq!(
        midi_bytes(&p, "trim_in_1", Value::Float(6.0), &c),
        msg(0, 0x09, 28)
    );
    assert_eq!(
        midi_bytes(&p, "trim_in_8", Value::Float(-0.4), &c),
        msg(0, 0x10, 15),
        "quantized to 0.5 dB"
    );
    // Bank 2, device 5 is 25h (the manual's example).
    c.device_id = 0x25;
    assert_eq!(
        midi_bytes(&p, "output_level", Value::Int(0), &c),
        msg(0x25, 0x00, 0)
    );
    assert_eq!(
        midi_bytes(&p, "reference_level", Value::Int(48), &c),
        msg(0x25, 0x1A, 48)
    );
    let out = p.param("output_level").unwrap();
    for (pos, label) in [
        (0, "-∞"),
        (1, "-98"),
        (13, "-50"),
        (14, "-48"),
        (28, "-20"),
        (29, "-19"),
        (47, "-1"),
        (48, "0"),
    ] {
        assert_eq!(
            out.label_of(&Value::Int(pos)).as_deref(),
            Some(label),
            "position {pos}"
        );
    }
    assert!(!has_readback(&p, "trim_out_1"));
}

/// RME OctaMic XTC, user's guide 24.1-24.3: index, LSB, MSB, set-flags; the
/// manual's example sets mic 2 to 37 dB with LSB 1C and Pad with MSB 08.
#[test]
fn rme_octamic_xtc_sysex_from_the_manual() {
    let p = lib("rme-octamic-xtc");
    let c = ctx(&p);
    let msg = |idx: u8, lsb: u8, msb: u8, flags: u8| {
        vec![
            0xF0, 0x00, 0x20, 0x0D, 0x69, 0x00, 0x20, idx, lsb, msb, flags, 0xF7,
        ]
    };
    // "0: 0dB, 1: 10dB...56:65dB": 37 dB is 28 = 1Ch, the 29th position.
    let gain = p.param("gain_2").unwrap();
    assert_eq!(gain.label_of(&Value::Int(28)).as_deref(), Some("37"));
    assert_eq!(
        midi_bytes(&p, "gain_2", Value::Int(28), &c),
        msg(0x01, 0x1C, 0x00, 0x01)
    );
    assert_eq!(
        midi_bytes(&p, "gain_8", Value::Int(56), &c),
        msg(0x07, 0x38, 0x00, 0x01)
    );
    assert_eq!(
        midi_bytes(&p, "phase_1", Value::Int(1), &c),
        msg(0x00, 0x40, 0x00, 0x02)
    );
    assert_eq!(
        midi_bytes(&p, "mute_3", Value::Int(1), &c),
        msg(0x02, 0x00, 0x01, 0x04)
    );
    assert_eq!(
        midi_bytes(&p, "autoset_4", Value::Int(1), &c),
        msg(0x03, 0x00, 0x02, 0x08)
    );
    assert_eq!(
        midi_bytes(&p, "phantom_5", Value::Int(1), &c),
        msg(0x04, 0x00, 0x04, 0x10)
    );
    assert_eq!(
        midi_bytes(&p, "pad_2", Value::Int(1), &c),
        msg(0x01, 0x00, 0x08, 0x20)
    );
    assert_eq!(
        midi_bytes(&p, "instrument_6", Value::Int(0), &c),
        msg(0x05, 0x00, 0x00, 0x20)
    );
    assert!(p.param("pad_5").is_none() && p.param("instrument_4").is_none());
}

/// RME ADI-648, user's guide table 1: 20h clock source, 4xh matrix outputs.
#[test]
fn rme_adi_648_sysex_from_the_manual() {
    let p = lib("rme-adi-648");
    let c = ctx(&p);
    let msg = |nn: u8, oo: u8| vec![0xF0, 0x00, 0x20, 0x0D, 0x64, 0x00, 0x20, nn, oo, 0xF7];
    assert_eq!(
        midi_bytes(&p, "clock_source", Value::Text("MADI".into()), &c),
        msg(0x20, 4)
    );
    assert_eq!(
        midi_bytes(&p, "madi_input", Value::Text("optical".into()), &c),
        msg(0x00, 1)
    );
    assert_eq!(
        midi_bytes(&p, "matrix_out_1", Value::Text("none".into()), &c),
        msg(0x40, 16)
    );
    assert_eq!(
        midi_bytes(&p, "matrix_out_13", Value::Text("15".into()), &c),
        msg(0x4C, 15)
    );
}

#[test]
fn serial_ascii_set_query_and_replies() {
    let p = lib("generic-serial-ascii");
    let c = ctx(&p);
    assert_eq!(
        serial_bytes(&p, "low_gain", Value::Float(3.5)),
        b"SET LG +3.5\r"
    );
    assert_eq!(
        serial_bytes(&p, "low_gain", Value::Float(3.3)),
        b"SET LG +3.5\r",
        "quantized to 0.5 dB"
    );
    assert_eq!(
        serial_bytes(&p, "low_freq", Value::Float(80.0)),
        b"SET LF 80\r"
    );
    assert_eq!(
        serial_bytes(&p, "high_shape", Value::Text("bell".into())),
        b"SET HS BELL\r"
    );
    assert_eq!(serial_bytes(&p, "bypass", Value::Int(1)), b"SET BY 1\r");
    assert_eq!(
        encode_query(&p, "mid_freq", &c).unwrap(),
        DeviceMessage::Serial(b"GET MF\r".to_vec())
    );
    assert_eq!(
        serial::parse_readback(&p, "low_gain", b"VAL LG -2.5\r\n", &c),
        Ok(Value::Float(-2.5))
    );
    assert!(serial::parse_readback(&p, "low_gain", b"VAL LF 80", &c).is_err());
    assert!(serial::parse_readback(&p, "low_gain", b"VAL LG loud", &c).is_err());
    assert_eq!(serial::classify(&p, b"OK", &c), Reply::Ack);
    assert_eq!(
        serial::classify(&p, b"ERR 3 out of range", &c),
        Reply::Error("ERR 3 out of range".into())
    );
    assert_eq!(
        serial::classify(&p, b"VAL MF 1000", &c),
        Reply::Value {
            param: "mid_freq".into(),
            value: Value::Float(1000.0)
        }
    );
    assert_eq!(
        serial::classify(&p, b"ID RACKD-GENERIC-EQ v1.2", &c),
        Reply::Identity
    );
    assert_eq!(serial::classify(&p, b"\xff\x00garbage", &c), Reply::Unknown);
    assert_eq!(
        identity_query(&p, &c),
        Some(DeviceMessage::Serial(b"ID?\r".to_vec()))
    );
    assert_eq!(
        init_messages(&p, &c).unwrap(),
        vec![DeviceMessage::Serial(b"ECHO 0\r".to_vec())]
    );
    let mut f = Framer::new(&p, &c);
    assert_eq!(f.push(b"OK\r\nVAL L"), vec![b"OK".to_vec()]);
    assert_eq!(f.push(b"G 1.0\r\n\r\n"), vec![b"VAL LG 1.0".to_vec()]);
}

#[test]
fn serial_rs485_addresses() {
    let p = lib("generic-rs485-bus");
    let c = DeviceCtx {
        channel: 0,
        device_id: 7,
    };
    // +3 dB on -12..12 over 0..240 = 150 = 0x096.
    match encode_set(&p, "level", &Value::Float(3.0), &c)
        .unwrap()
        .as_slice()
    {
        [DeviceMessage::Serial(b)] => assert_eq!(b, b"#07:LV=096\r"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        serial::parse_readback(&p, "level", b"!07:LV=096\r", &c),
        Ok(Value::Float(3.0))
    );
    // Another unit on the bus answering is not our reply.
    assert!(serial::parse_readback(&p, "level", b"!08:LV=096\r", &c).is_err());
    assert_eq!(serial::classify(&p, b"!07:OK", &c), Reply::Ack);
    assert_eq!(serial::classify(&p, b"!08:OK", &c), Reply::Unknown);
    assert_eq!(
        serial::classify(&p, b"!07:E12", &c),
        Reply::Error("!07:E12".into())
    );
    match encode_set(&p, "low_freq", &Value::Int(3), &c)
        .unwrap()
        .as_slice()
    {
        [DeviceMessage::Serial(b)] => assert_eq!(b, b"#07:LF=3\r"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn serial_binary_xor_checksum() {
    let p = lib("generic-serial-binary-xor");
    let c = ctx(&p);
    // -20 dB on -50..10 over 0..600 = 300 = 0x012C; XOR of 01 53 01 01 2C = 0x7E.
    assert_eq!(
        serial_bytes(&p, "threshold", Value::Float(-20.0)),
        [0x02, 0x01, 0x53, 0x01, 0x01, 0x2C, 0x7E, 0x03]
    );
    // Query: XOR of 01 51 01 = 0x51.
    assert_eq!(
        encode_query(&p, "threshold", &c).unwrap(),
        DeviceMessage::Serial(vec![0x02, 0x01, 0x51, 0x01, 0x51, 0x03])
    );
    // Reply: XOR of 01 56 01 01 2C = 0x7B.
    let reply = [0x02, 0x01, 0x56, 0x01, 0x01, 0x2C, 0x7B, 0x03];
    assert_eq!(
        serial::parse_readback(&p, "threshold", &reply, &c),
        Ok(Value::Float(-20.0))
    );
    let mut bad = reply;
    bad[6] = 0x7C;
    assert!(matches!(
        serial::parse_readback(&p, "threshold", &bad, &c),
        Err(rackd_protocol::device::DecodeError::Checksum { .. })
    ));
    assert_eq!(serial::classify(&p, &[0x06], &c), Reply::Ack);
    assert_eq!(
        serial::classify(&p, &[0x15, 0x02], &c),
        Reply::Error("\u{15}\u{2}".into())
    );
    // Framing without a terminator: garbage skipped, ACK and a split reply found.
    let mut f = Framer::new(&p, &c);
    let mut frames = f.push(&[0xAA, 0x06, 0x02, 0x01, 0x56]);
    frames.extend(f.push(&reply[3..]));
    assert_eq!(frames, vec![vec![0x06], reply.to_vec()]);
}

#[test]
fn osc_device_messages() {
    let p = lib("generic-osc-device");
    let c = ctx(&p);
    assert_eq!(
        osc_msg(&p, "input", Value::Float(-3.5)),
        OscMessage {
            addr: "/input/gain".into(),
            args: vec![OscType::Float(-3.5)]
        }
    );
    // 1 kHz on log 20..20k normalized: ln 50 / ln 1000 = 0.566323.
    match osc_msg(&p, "eq_low_freq", Value::Float(1000.0)).args[0] {
        OscType::Float(x) => assert!((x - 0.566_323).abs() < 1e-5, "{x}"),
        ref other => panic!("{other:?}"),
    }
    assert_eq!(
        osc_msg(&p, "comp_mode", Value::Text("mid-side".into())).args,
        vec![OscType::String("mid-side".into())]
    );
    assert_eq!(
        osc_msg(&p, "comp_ratio", Value::Int(3)).args,
        vec![OscType::Int(3)]
    );
    assert_eq!(
        encode_query(&p, "eq_low_freq", &c).unwrap(),
        DeviceMessage::Osc(OscMessage {
            addr: "/eq/1/freq".into(),
            args: vec![]
        })
    );
    // A reply of 0.5 is the geometric middle of 20..20000 Hz.
    let reply = OscMessage {
        addr: "/eq/1/freq".into(),
        args: vec![OscType::Float(0.5)],
    };
    match rackd_protocol::device::osc::decode(&p, &reply).unwrap() {
        Some((id, Value::Float(f))) => {
            assert_eq!(id, "eq_low_freq");
            assert!((f - 632.455_5).abs() < 0.01, "{f}");
        }
        other => panic!("{other:?}"),
    }
    let unknown = OscMessage {
        addr: "/meters".into(),
        args: vec![],
    };
    assert_eq!(rackd_protocol::device::osc::decode(&p, &unknown), Ok(None));
    let empty = OscMessage {
        addr: "/bypass".into(),
        args: vec![],
    };
    assert!(rackd_protocol::device::osc::decode(&p, &empty).is_err());
    assert_eq!(
        init_messages(&p, &c).unwrap(),
        vec![DeviceMessage::Osc(OscMessage {
            addr: "/remote/subscribe".into(),
            args: vec![]
        })]
    );
}

#[test]
fn serial_insert_switcher_set_query_and_replies() {
    let p = lib("generic-insert-switcher-serial");
    let c = ctx(&p);
    // Enum values are their labels; the set template "INS {code} {value}\n"
    // with code "3" and label "ON" is the nine bytes
    // 49 4E 53 20 33 20 4F 4E 0A.
    assert_eq!(
        serial_bytes(&p, "insert_3", Value::Text("ON".into())),
        [0x49, 0x4E, 0x53, 0x20, 0x33, 0x20, 0x4F, 0x4E, 0x0A]
    );
    assert_eq!(
        serial_bytes(&p, "insert_8", Value::Text("OFF".into())),
        b"INS 8 OFF\n"
    );
    // "ORD {value}\n" with the second label.
    assert_eq!(
        serial_bytes(&p, "order", Value::Text("REVERSE".into())),
        b"ORD REVERSE\n"
    );
    assert_eq!(
        encode_query(&p, "insert_3", &c).unwrap(),
        DeviceMessage::Serial(b"INS 3 ?\n".to_vec())
    );
    assert_eq!(
        serial::parse_readback(&p, "insert_3", b"INS 3 ON", &c),
        Ok(Value::Text("ON".into()))
    );
    // Insert 4's reply is not insert 3's readback.
    assert!(serial::parse_readback(&p, "insert_3", b"INS 4 ON", &c).is_err());
    assert_eq!(serial::classify(&p, b"ACK", &c), Reply::Ack);
    assert_eq!(
        serial::classify(&p, b"NAK 2 relay fault", &c),
        Reply::Error("NAK 2 relay fault".into())
    );
}

/// One hand-computed set message per shipped profile with a remote
/// transport, derived from the profile's documented encoding (not from the
/// encoder): a new remote profile without a line here fails the test.
#[test]
fn every_shipped_remote_profile_has_a_hand_computed_vector() {
    let osc = |bytes: &[u8]| bytes.to_vec();
    let vectors: &[(&str, &str, Value, u8, Vec<u8>)] = &[
        // 0 dB on -15..+12 over CC values 0..54: 15/27 * 54 = 30; CC 7, channel 1.
        (
            "alto-control30",
            "volume",
            Value::Float(0.0),
            0,
            vec![0xB0, 0x07, 30],
        ),
        // A switch on a CC uses the full range: on = 127; CC 102 = 0x66.
        (
            "generic-insert-switcher-midi",
            "insert_1",
            Value::Int(1),
            0,
            vec![0xB0, 0x66, 0x7F],
        ),
        // "INS {code} {value}\n", code 2, label ON.
        (
            "generic-insert-switcher-serial",
            "insert_2",
            Value::Text("ON".into()),
            0,
            b"INS 2 ON\n".to_vec(),
        ),
        // +5 dB on -20..20 -> 25/40 * 16000 = 10000 = 78 * 128 + 16: CC 16 MSB, CC 48 LSB (running status).
        (
            "generic-midi-14bit",
            "input_left",
            Value::Float(5.0),
            0,
            vec![0xB0, 16, 78, 48, 16],
        ),
        // -12..12 dB on 16..112: -6 dB is 1/4 of the way: 16 + 24 = 40; CC 20 on channel 3.
        (
            "generic-midi-cc-eq",
            "low_gain",
            Value::Float(-6.0),
            2,
            vec![0xB2, 20, 40],
        ),
        // -10 dB on -40..0 over 0..400 -> 300 = 2 * 128 + 44; NRPN 0x0100 -> 99 = 2, 98 = 0.
        (
            "generic-nrpn-compressor",
            "threshold",
            Value::Float(-10.0),
            0,
            vec![0xB0, 99, 2, 0xB0, 98, 0, 0xB0, 6, 2, 0xB0, 38, 44],
        ),
        // "/input/gain" + NUL (12 bytes), ",f" + 2 NULs, -3.5 as IEEE 754 big-endian C0 60 00 00.
        (
            "generic-osc-device",
            "input",
            Value::Float(-3.5),
            0,
            osc(&[
                0x2F, 0x69, 0x6E, 0x70, 0x75, 0x74, 0x2F, 0x67, 0x61, 0x69, 0x6E, 0x00, 0x2C, 0x66,
                0x00, 0x00, 0xC0, 0x60, 0x00, 0x00,
            ]),
        ),
        // Unit 7 (device id below): "#{dev:02}:LV={value:03X}\r", +3 dB on -12..12 over 0..240 = 150 = 0x096.
        (
            "generic-rs485-bus",
            "level",
            Value::Float(3.0),
            0,
            b"#07:LV=096\r".to_vec(),
        ),
        // "SET LG {value:+.1}\r".
        (
            "generic-serial-ascii",
            "low_gain",
            Value::Float(-2.5),
            0,
            b"SET LG -2.5\r".to_vec(),
        ),
        // "02 | {dev} 53 {addr} {value:16be} {xor} 03": device 01, address 01, -20 dB on
        // -50..10 over 0..600 = 300 = 01 2C, XOR 01^53^01^01^2C = 7E.
        (
            "generic-serial-binary-xor",
            "threshold",
            Value::Float(-20.0),
            0,
            vec![0x02, 0x01, 0x53, 0x01, 0x01, 0x2C, 0x7E, 0x03],
        ),
        // -12..12 over 0..240: -4.5 dB -> 75 = 0x4B -> nibbles 04 0B; address 10 00 00;
        // Roland checksum 128 - (0x10 + 0 + 0 + 0x04 + 0x0B) % 128 = 128 - 31 = 0x61.
        (
            "generic-sysex-roland",
            "low_gain",
            Value::Float(-4.5),
            0,
            vec![
                0xF0, 0x7D, 0x10, 0x12, 0x10, 0x00, 0x00, 0x04, 0x0B, 0x61, 0xF7,
            ],
        ),
        // RME ADI-8 QS (user's guide table 18.3): F0 00 20 0D 41 <dev> 20 <nn> <oo> F7;
        // trim_out_1 is nn 01, 0 dB is oo 16 = 0x10.
        (
            "rme-adi-8-qs",
            "trim_out_1",
            Value::Float(0.0),
            0,
            vec![0xF0, 0x00, 0x20, 0x0D, 0x41, 0x00, 0x20, 0x01, 0x10, 0xF7],
        ),
        // RME ADI-648 (user's guide table 1): clock source nn 20, MADI is oo 4.
        (
            "rme-adi-648",
            "clock_source",
            Value::Text("MADI".into()),
            0,
            vec![0xF0, 0x00, 0x20, 0x0D, 0x64, 0x00, 0x20, 0x20, 0x04, 0xF7],
        ),
        // RME OctaMic XTC (user's guide 24.1-24.3): index 01 for mic 2, gain LSB 1C
        // (37 dB), MSB 00, set-flag 01 for gain: the manual's own example message.
        (
            "rme-octamic-xtc",
            "gain_2",
            Value::Int(28),
            0,
            vec![
                0xF0, 0x00, 0x20, 0x0D, 0x69, 0x00, 0x20, 0x01, 0x1C, 0x00, 0x01, 0xF7,
            ],
        ),
    ];
    let mut covered = Vec::new();
    for (id, param, value, channel, want) in vectors {
        let p = lib(id);
        let mut c = ctx(&p);
        c.channel = *channel;
        if *id == "generic-rs485-bus" {
            c.device_id = 7;
        }
        let got = match encode_set(&p, param, value, &c).unwrap().as_slice() {
            [DeviceMessage::Midi(b)] | [DeviceMessage::Serial(b)] => b.clone(),
            [DeviceMessage::Osc(m)] => {
                rosc::encoder::encode(&rosc::OscPacket::Message(m.clone())).unwrap()
            }
            other => panic!("{id}: not one message: {other:?}"),
        };
        assert_eq!(&got, want, "{id} {param} = {value:?}");
        covered.push(id.to_string());
    }
    for p in all_profiles() {
        if p.transport() == TransportKind::Manual {
            assert!(
                matches!(
                    encode_set(&p, &p.params[0].id, &Value::Int(1), &ctx(&p)),
                    Err(EncodeError::Manual { .. })
                ),
                "{}",
                p.id()
            );
        } else {
            assert!(
                covered.iter().any(|c| c == p.id()),
                "{} has no hand-computed vector in this test",
                p.id()
            );
        }
    }
}

#[test]
fn manual_devices_are_not_encoded() {
    let p = lib("generic-passive-eq-stepped");
    assert!(matches!(
        encode_set(&p, "low_freq", &Value::Int(1), &ctx(&p)),
        Err(EncodeError::Manual { .. })
    ));
    assert!(matches!(
        encode_set(&p, "nope", &Value::Int(1), &ctx(&p)),
        Err(EncodeError::UnknownParam { .. })
    ));
    assert_eq!(identity_query(&p, &ctx(&p)), None);
}

#[test]
fn device_side_reads_host_commands() {
    let p = lib("generic-serial-ascii");
    let c = ctx(&p);
    assert_eq!(
        serial::decode_command(&p, b"SET LG +3.5\r", &c),
        Command::Set {
            param: "low_gain".into(),
            value: Value::Float(3.5)
        }
    );
    assert_eq!(
        serial::decode_command(&p, b"GET LG\r", &c),
        Command::Query {
            param: "low_gain".into()
        }
    );
    assert_eq!(serial::decode_command(&p, b"ID?", &c), Command::Identity);
    assert_eq!(
        serial::decode_command(&p, b"SET ZZ 1\r", &c),
        Command::Unknown
    );
    assert_eq!(serial::encode_ack(&p, &c).unwrap(), b"OK\r\n");
    assert_eq!(serial::encode_error(&p, &c).unwrap(), b"ERR 0\r\n");
    let mut f = Framer::commands(&p, &c);
    assert_eq!(f.push(b"SET LG +1.0\rGET L"), vec![b"SET LG +1.0".to_vec()]);
    assert_eq!(f.push(b"G\r"), vec![b"GET LG".to_vec()]);

    let p = lib("generic-rs485-bus");
    let unit3 = DeviceCtx {
        channel: 0,
        device_id: 3,
    };
    assert_eq!(
        serial::decode_command(&p, b"#03:BY=1\r", &unit3),
        Command::Set {
            param: "bypass".into(),
            value: Value::Int(1)
        }
    );
    assert_eq!(
        serial::decode_command(&p, b"#04:BY=1\r", &unit3),
        Command::Unknown,
        "another unit's command"
    );
    assert_eq!(serial::encode_ack(&p, &unit3).unwrap(), b"!03:OK\r");

    let p = lib("generic-serial-binary-xor");
    let c = ctx(&p);
    let set = serial_bytes(&p, "threshold", Value::Float(-20.0));
    assert_eq!(
        serial::decode_command(&p, &set, &c),
        Command::Set {
            param: "threshold".into(),
            value: Value::Float(-20.0)
        }
    );
    assert_eq!(
        serial::decode_command(&p, &[0x02, 0x01, 0x51, 0x01, 0x51, 0x03], &c),
        Command::Query {
            param: "threshold".into()
        }
    );
    // Identity reply with {any} bytes as 0: XOR of 01 49 00 00 = 0x48.
    assert_eq!(
        serial::encode_identity_reply(&p, &c).unwrap(),
        [0x02, 0x01, 0x49, 0x00, 0x00, 0x48, 0x03]
    );
    let mut f = Framer::commands(&p, &c);
    let mut stream = vec![0xEE];
    stream.extend(&set);
    stream.extend([0x02, 0x01, 0x51, 0x01, 0x51, 0x03]);
    assert_eq!(
        f.push(&stream),
        vec![set.clone(), vec![0x02, 0x01, 0x51, 0x01, 0x51, 0x03]]
    );

    let p = lib("generic-sysex-roland");
    let c = ctx(&p);
    let reply = midi::identity_reply(p.midi.as_ref().unwrap(), 0x10);
    assert_eq!(
        reply,
        [
            0xF0, 0x7E, 0x10, 0x06, 0x02, 0x7D, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
            0xF7
        ]
    );
    assert!(midi::identity_matches(
        p.midi.as_ref().unwrap(),
        &midi::parse_identity_reply(&reply).unwrap()
    ));
    let mut d = MidiDecoder::new(&p, c);
    let mut bytes = midi::identity_request(0x7F).to_vec();
    bytes.extend([
        0xF0, 0x7D, 0x10, 0x11, 0x10, 0x00, 0x00, 0x00, 0x00, 0x02, 0x6E, 0xF7,
    ]);
    bytes.extend(midi_bytes(&p, "bypass", Value::Int(1), &c));
    assert_eq!(
        d.feed_commands(&bytes),
        vec![
            Command::Identity,
            Command::Query {
                param: "low_gain".into()
            },
            Command::Set {
                param: "bypass".into(),
                value: Value::Int(1)
            }
        ]
    );

    let p = lib("generic-osc-device");
    let set = OscMessage {
        addr: "/eq/1/gain".into(),
        args: vec![OscType::Float(3.0)],
    };
    assert_eq!(
        rackd_protocol::device::osc::decode_command(&p, &set),
        Command::Set {
            param: "eq_low_gain".into(),
            value: Value::Float(3.0)
        }
    );
    let q = OscMessage {
        addr: "/eq/1/gain".into(),
        args: vec![],
    };
    assert_eq!(
        rackd_protocol::device::osc::decode_command(&p, &q),
        Command::Query {
            param: "eq_low_gain".into()
        }
    );
    let id = OscMessage {
        addr: "/info".into(),
        args: vec![],
    };
    assert_eq!(
        rackd_protocol::device::osc::decode_command(&p, &id),
        Command::Identity
    );
    let reply = rackd_protocol::device::osc::identity_reply(&p).unwrap();
    assert!(rackd_protocol::device::osc::is_identity_reply(&p, &reply));
}

/// Reads a set message as the device would.
fn decode_command(p: &Profile, msg: &DeviceMessage, c: &DeviceCtx) -> Vec<Command> {
    match msg {
        DeviceMessage::Midi(b) => MidiDecoder::new(p, *c).feed_commands(b),
        DeviceMessage::Serial(b) => vec![serial::decode_command(p, b, c)],
        DeviceMessage::Osc(m) => vec![rackd_protocol::device::osc::decode_command(p, m)],
    }
}

/// Decodes what a device would report and returns the value, for any transport.
fn decode_report(p: &Profile, param: &str, msg: &DeviceMessage, c: &DeviceCtx) -> Option<Value> {
    match msg {
        DeviceMessage::Midi(b) => {
            let mut d = MidiDecoder::new(p, *c);
            d.feed(b)
                .into_iter()
                .find(|(id, _)| id == param)
                .map(|(_, v)| v)
        }
        DeviceMessage::Serial(b) => serial::parse_readback(p, param, b, c).ok(),
        DeviceMessage::Osc(m) => rackd_protocol::device::osc::decode(p, m)
            .ok()
            .flatten()
            .map(|(_, v)| v),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// What the device reports decodes to a value that encodes to the same message.
    #[test]
    fn report_decode_round_trips(norm in 0.0f64..=1.0) {
        for p in all_profiles() {
            if p.transport() == TransportKind::Manual {
                continue;
            }
            let c = ctx(&p);
            for spec in p.params() {
                let report_possible = p.transport() != TransportKind::Serial || has_readback(&p, &spec.id);
                if !report_possible {
                    continue;
                }
                let v = spec.from_norm(norm).unwrap();
                let report = encode_report(&p, &spec.id, &v, &c).unwrap();
                let back = decode_report(&p, &spec.id, &report, &c);
                prop_assert!(back.is_some(), "{}/{}: {report:?} did not decode", p.id(), spec.id);
                let back = back.unwrap();
                prop_assert_eq!(
                    encode_set(&p, &spec.id, &back, &c).unwrap(),
                    encode_set(&p, &spec.id, &v, &c).unwrap(),
                    "{}/{}: {:?} came back as {:?}", p.id(), spec.id, v, back
                );
            }
        }
    }

    /// A device (simulator) reads each set message back as the same setting.
    #[test]
    fn set_command_round_trips(norm in 0.0f64..=1.0) {
        for p in all_profiles().iter().filter(|p| p.transport() != TransportKind::Manual) {
            let c = ctx(p);
            for spec in p.params() {
                let v = spec.from_norm(norm).unwrap();
                let sent = encode_set(p, &spec.id, &v, &c).unwrap();
                let cmds = decode_command(p, &sent[0], &c);
                let got = cmds.iter().find_map(|cmd| match cmd {
                    Command::Set { param, value } if *param == spec.id => Some(value.clone()),
                    _ => None,
                });
                prop_assert!(got.is_some(), "{}/{}: {:?} read as {:?}", p.id(), spec.id, sent, cmds);
                prop_assert_eq!(encode_set(p, &spec.id, &got.unwrap(), &c).unwrap(), sent);
            }
        }
    }

    /// Arbitrary bytes from a MIDI port never panic the decoder.
    #[test]
    fn midi_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for p in all_profiles().iter().filter(|p| p.transport() == TransportKind::Midi) {
            let mut d = MidiDecoder::new(p, ctx(p));
            let _ = MidiDecoder::new(p, ctx(p)).feed_commands(&bytes);
            for chunk in bytes.chunks(7) {
                for (id, v) in d.feed(chunk) {
                    let spec = p.param(&id).unwrap().spec();
                    prop_assert_eq!(spec.accept(&v), Ok(v.clone()));
                }
            }
            let _ = midi::parse_identity_reply(&bytes);
        }
    }

    /// Arbitrary bytes from a serial port never panic framing or reply parsing.
    #[test]
    fn serial_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for p in all_profiles().iter().filter(|p| p.transport() == TransportKind::Serial) {
            let c = ctx(p);
            let mut f = Framer::new(p, &c);
            for chunk in bytes.chunks(5) {
                for frame in f.push(chunk) {
                    let _ = serial::classify(p, &frame, &c);
                }
            }
            let _ = serial::classify(p, &bytes, &c);
            let _ = serial::decode_command(p, &bytes, &c);
            for frame in Framer::commands(p, &c).push(&bytes) {
                let _ = serial::decode_command(p, &frame, &c);
            }
            for def in &p.params {
                let _ = serial::parse_readback(p, &def.id, &bytes, &c);
            }
        }
    }

    /// Arbitrary text replies (the likely garbage on a text line) never panic either.
    #[test]
    fn serial_text_never_panics(s in "\\PC{0,40}") {
        for p in all_profiles().iter().filter(|p| p.transport() == TransportKind::Serial) {
            let c = ctx(p);
            let _ = serial::classify(p, s.as_bytes(), &c);
            for def in &p.params {
                let _ = serial::parse_readback(p, &def.id, s.as_bytes(), &c);
            }
        }
    }

    /// OSC replies with any argument never panic.
    #[test]
    fn osc_decode_never_panics(x in any::<f32>(), i in any::<i32>(), s in "\\PC{0,12}", which in 0usize..9) {
        let p = lib("generic-osc-device");
        let def = &p.params[which % p.params.len()];
        let addr = def.osc.as_ref().unwrap().address.clone();
        for arg in [OscType::Float(x), OscType::Int(i), OscType::String(s.clone()), OscType::Nil] {
            let msg = OscMessage { addr: addr.clone(), args: vec![arg] };
            if let Ok(Some((id, v))) = rackd_protocol::device::osc::decode(&p, &msg) {
                let spec = p.param(&id).unwrap().spec();
                prop_assert_eq!(spec.accept(&v), Ok(v.clone()));
            }
        }
    }
}
