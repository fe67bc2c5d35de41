//! The codec against hand-built packets, and property tests: any bytes decode or fail, never panic.

use super::*;
use proptest::prelude::*;

fn msg(addr: &str, args: Vec<OscType>) -> OscPacket {
    OscPacket::Message(OscMessage {
        addr: addr.to_owned(),
        args,
    })
}

fn bundle(content: Vec<OscPacket>) -> OscPacket {
    OscPacket::Bundle(OscBundle {
        timetag: IMMEDIATELY,
        content,
    })
}

#[test]
fn decodes_known_bytes() {
    // As liblo's `oscsend localhost 7770 /chain/trim/gain f -3.5` sends it.
    let bytes = b"/chain/trim/gain\0\0\0\0,f\0\0\xc0\x60\0\0";
    assert_eq!(
        decode(bytes),
        Ok(msg("/chain/trim/gain", vec![OscType::Float(-3.5)]))
    );
    assert_eq!(encode(&decode(bytes).unwrap()), bytes.to_vec());
}

#[test]
fn round_trips_every_type() {
    let p = bundle(vec![
        msg(
            "/all",
            vec![
                OscType::Int(-7),
                OscType::Float(1.5),
                OscType::String("abcd".into()),
                OscType::Blob(vec![1, 2, 3, 4]),
                OscType::Blob(vec![5]),
                OscType::Blob(vec![]),
                OscType::Long(-1 << 40),
                OscType::Double(0.25),
                OscType::Time((5, 6).into()),
                OscType::Char('x'),
                OscType::Color(OscColor {
                    red: 1,
                    green: 2,
                    blue: 3,
                    alpha: 4,
                }),
                OscType::Midi(OscMidiMessage {
                    port: 0,
                    status: 0xB0,
                    data1: 7,
                    data2: 100,
                }),
                OscType::Bool(true),
                OscType::Bool(false),
                OscType::Nil,
                OscType::Inf,
                OscType::Array(OscArray {
                    content: vec![
                        OscType::Int(1),
                        OscType::Array(OscArray {
                            content: vec![OscType::String(String::new())],
                        }),
                    ],
                }),
            ],
        ),
        bundle(vec![msg("/inner", vec![])]),
    ]);
    assert_eq!(decode(&encode(&p)), Ok(p));
}

#[test]
fn message_without_type_tags_has_no_arguments() {
    assert_eq!(decode(b"/status\0"), Ok(msg("/status", vec![])));
}

#[test]
fn refuses_oversized_packets() {
    let err = decode(&vec![0; 70000]).unwrap_err();
    assert_eq!(
        err,
        OscError::TooLarge {
            size: 70000,
            limit: 65536
        }
    );
    assert_eq!(
        err.to_string(),
        "packet of 70000 bytes exceeds the 65536-byte limit"
    );
}

#[test]
fn refuses_malformed_packets() {
    assert_eq!(decode(b""), Err(OscError::Empty));
    assert_eq!(decode(b"/a\0"), Err(OscError::Misaligned { size: 3 }));
    assert_eq!(
        decode(b"xyz\0"),
        Err(OscError::NotAPacket {
            offset: 0,
            first: b'x'
        })
    );
    assert_eq!(
        decode(b"/abc"),
        Err(OscError::UnterminatedString { offset: 0 })
    );
    assert!(matches!(
        decode(b"/a\0\0xf\0\0\0\0\0\0"),
        Err(OscError::BadTypeTags { offset: 4, .. })
    ));
    assert_eq!(
        decode(b"/a\0\0,f\0\0"),
        Err(OscError::Truncated {
            what: "a float32 argument",
            offset: 8
        })
    );
    assert_eq!(
        decode(b"/a\0\0,x\0\0"),
        Err(OscError::UnknownType { tag: 'x' })
    );
    assert!(matches!(
        decode(b"/a\0\0,[i\0\0\0\0\0"),
        Err(OscError::UnbalancedArray { .. })
    ));
    assert!(matches!(
        decode(b"/a\0\0,]\0\0"),
        Err(OscError::UnbalancedArray { .. })
    ));
    assert!(matches!(
        decode(b"/a\0\0,\0\0\0\0\0\0\0"),
        Err(OscError::TrailingBytes { count: 4, .. })
    ));
    assert!(matches!(
        decode(b"/a\0\0,s\0\0\xff\0\0\0"),
        Err(OscError::BadUtf8 { offset: 8 })
    ));
    assert!(matches!(
        decode(b"/a\0\0,b\0\0\xff\xff\xff\xff"),
        Err(OscError::NegativeBlobSize { size: -1, .. })
    ));
    assert_eq!(
        decode(b"/a\0\0,c\0\0\0\0\xd8\0"),
        Err(OscError::BadChar { code: 0xd800 })
    );
    let deep_tags = format!(",{}{}", "[".repeat(9), "]".repeat(9));
    let mut bytes = b"/a\0\0".to_vec();
    bytes.extend(rosc::encoder::encode_string(deep_tags));
    assert_eq!(
        decode(&bytes),
        Err(OscError::ArrayTooDeep {
            limit: MAX_ARRAY_DEPTH
        })
    );
}

#[test]
fn refuses_broken_bundle_elements() {
    let good = encode(&bundle(vec![msg("/a", vec![OscType::Int(1)])]));
    // Element size larger than what is left.
    let mut bad = good.clone();
    bad[16..20].copy_from_slice(&100i32.to_be_bytes());
    assert!(matches!(
        decode(&bad),
        Err(OscError::BadElementSize {
            offset: 16,
            size: 100,
            ..
        })
    ));
    // A corrupt message inside a nested bundle is an error, not skipped.
    let nested = encode(&bundle(vec![bundle(vec![msg(
        "/x",
        vec![OscType::Int(1)],
    )])]));
    let mut bad = nested.clone();
    let comma = bad.len() - 8;
    assert_eq!(bad[comma], b',');
    bad[comma] = b'q';
    assert!(matches!(decode(&bad), Err(OscError::BadTypeTags { .. })));
    // Truncated bundle header.
    assert!(matches!(
        decode(b"#bundle\0\0\0\0\0"),
        Err(OscError::Truncated { .. })
    ));
}

#[test]
fn bundle_depth_is_bounded() {
    let mut p = msg("/deep", vec![]);
    for _ in 0..MAX_BUNDLE_DEPTH {
        p = bundle(vec![p]);
    }
    assert_eq!(decode(&encode(&p)), Ok(p.clone()));
    let too_deep = bundle(vec![p]);
    assert_eq!(
        decode(&encode(&too_deep)),
        Err(OscError::BundleTooDeep {
            limit: MAX_BUNDLE_DEPTH
        })
    );
    // Thousands of levels within 64 KiB are refused, not a stack overflow.
    let mut bytes = Vec::new();
    let levels = 3000;
    for i in 0..levels {
        bytes.extend_from_slice(b"#bundle\0\0\0\0\0\0\0\0\x01");
        let rest = (levels - i - 1) * 20 + 8;
        bytes.extend_from_slice(&(rest as u32).to_be_bytes());
    }
    bytes.extend_from_slice(b"/a\0\0,\0\0\0");
    assert!(bytes.len() <= MAX_PACKET);
    assert!(matches!(
        decode(&bytes),
        Err(OscError::BundleTooDeep { .. })
    ));
}

#[test]
fn due_in_uses_the_ntp_epoch() {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let now_ntp = (1_700_000_000 + NTP_UNIX_OFFSET) as u32;
    assert_eq!(due_in(IMMEDIATELY, now), None);
    assert_eq!(due_in((now_ntp, 0).into(), now), None);
    assert_eq!(due_in((now_ntp - 5, 0).into(), now), None);
    assert_eq!(due_in((0, 0).into(), now), None);
    assert_eq!(
        due_in((now_ntp + 2, 1 << 31).into(), now),
        Some(Duration::from_millis(2500))
    );
    let later = now + Duration::from_millis(250);
    assert_eq!(
        due_in((now_ntp + 1, 0).into(), later),
        Some(Duration::from_millis(750))
    );
    // Agrees with rosc's own SystemTime conversion.
    let tag = OscTime::try_from(now + Duration::from_secs(3)).unwrap();
    let d = due_in(tag, now).unwrap();
    assert!(d.abs_diff(Duration::from_secs(3)) < Duration::from_micros(1));
}

#[test]
fn values_and_arguments_convert() {
    assert_eq!(
        arg_to_value(&OscType::Float(-3.5)),
        Some(Value::Float(-3.5))
    );
    assert_eq!(arg_to_value(&OscType::Double(0.1)), Some(Value::Float(0.1)));
    assert_eq!(arg_to_value(&OscType::Int(3)), Some(Value::Int(3)));
    assert_eq!(
        arg_to_value(&OscType::Long(1 << 40)),
        Some(Value::Int(1 << 40))
    );
    assert_eq!(
        arg_to_value(&OscType::String("Tube".into())),
        Some(Value::Text("Tube".into()))
    );
    assert_eq!(arg_to_value(&OscType::Bool(true)), Some(Value::Int(1)));
    assert_eq!(arg_to_value(&OscType::Bool(false)), Some(Value::Int(0)));
    assert_eq!(arg_to_value(&OscType::Nil), None);
    assert_eq!(arg_to_value(&OscType::Blob(vec![1])), None);

    assert_eq!(value_to_arg(&Value::Float(-3.5)), OscType::Float(-3.5));
    assert_eq!(value_to_arg(&Value::Int(4)), OscType::Int(4));
    assert_eq!(value_to_arg(&Value::Int(1 << 40)), OscType::Int(i32::MAX));
    assert_eq!(
        value_to_arg(&Value::Int(-(1 << 40))),
        OscType::Int(i32::MIN)
    );
    assert_eq!(
        value_to_arg(&Value::Text("Tube".into())),
        OscType::String("Tube".into())
    );
}

fn arb_arg() -> impl Strategy<Value = OscType> {
    prop_oneof![
        any::<i32>().prop_map(OscType::Int),
        (-1e6f32..1e6).prop_map(OscType::Float),
        "[a-z /]{0,9}".prop_map(OscType::String),
        prop::collection::vec(any::<u8>(), 0..9).prop_map(OscType::Blob),
        any::<i64>().prop_map(OscType::Long),
        any::<bool>().prop_map(OscType::Bool),
        Just(OscType::Nil),
    ]
}

fn arb_packet() -> impl Strategy<Value = OscPacket> {
    let message = (
        "/[a-z]{1,8}(/[a-z]{1,8}){0,3}",
        prop::collection::vec(arb_arg(), 0..5),
    )
        .prop_map(|(addr, args)| OscPacket::Message(OscMessage { addr, args }));
    message.prop_recursive(4, 24, 4, |inner| {
        (any::<(u32, u32)>(), prop::collection::vec(inner, 0..4)).prop_map(|(t, content)| {
            OscPacket::Bundle(OscBundle {
                timetag: t.into(),
                content,
            })
        })
    })
}

proptest! {
    #[test]
    fn encode_decode_round_trip(p in arb_packet()) {
        prop_assert_eq!(decode(&encode(&p)), Ok(p));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn mutated_packets_never_panic(
        p in arb_packet(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode(&p);
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if let Ok(decoded) = decode(&bytes) {
            // Anything accepted is well-formed: its encoding decodes again
            // to the same packet (compared as bytes, so NaN compares equal).
            let again = encode(&decoded);
            prop_assert_eq!(decode(&again).map(|p| encode(&p)), Ok(again));
        }
        let _ = decode(&bytes[..cut.index(bytes.len() + 1)]);
    }
}
