//! Fuzz-style properties for the OSC input path of a TCP connection:
//! bytes → `FrameDecoder` (either framing) → `codec::decode`.
//!
//! Whatever a client sends, the path must not panic, must not produce more
//! than it was given, must respect the frame limit, and must recover at the
//! next frame boundary where the framing allows it.

use proptest::prelude::*;
use rackd_protocol::osc::codec::{self, MAX_PACKET};
use rackd_protocol::osc::framing::{self, END, FrameDecoder, FrameError, Framing};
use rosc::{OscBundle, OscMessage, OscPacket, OscType};

/// What one run of the input path produced.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    frames: Vec<Result<Vec<u8>, FrameError>>,
    packets: Vec<Result<OscPacket, codec::OscError>>,
    /// Size of the frame each entry of `packets` came from.
    packet_sizes: Vec<usize>,
}

/// Feeds `bytes` in chunks of the given sizes and drains after each chunk,
/// as the server does after each `read`.
fn run(framing: Framing, max: usize, bytes: &[u8], chunks: &[usize]) -> Outcome {
    let mut dec = FrameDecoder::new(framing, max);
    let mut out = Outcome::default();
    let mut rest = bytes;
    let mut sizes = chunks.iter().copied().filter(|&n| n > 0).cycle();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).min(rest.len());
        dec.push(&rest[..n]);
        rest = &rest[n..];
        while let Some(frame) = dec.next_frame() {
            if let Ok(bytes) = &frame {
                out.packets.push(codec::decode(bytes));
                out.packet_sizes.push(bytes.len());
            }
            out.frames.push(frame);
        }
    }
    out
}

/// Checks the bounds every outcome must satisfy.
fn check_bounds(out: &Outcome, input_len: usize, max: usize) -> Result<(), TestCaseError> {
    let mut total = 0;
    let mut fatal_seen = false;
    for frame in &out.frames {
        prop_assert!(!fatal_seen, "nothing may follow a fatal error");
        match frame {
            Ok(bytes) => {
                prop_assert!(!bytes.is_empty());
                prop_assert!(bytes.len() <= max);
                total += bytes.len();
            }
            Err(e) => fatal_seen = e.is_fatal(),
        }
    }
    prop_assert!(total <= input_len);
    prop_assert!(out.frames.len() <= input_len);
    for (packet, &size) in out.packets.iter().zip(&out.packet_sizes) {
        if let Ok(packet) = packet {
            // A decoded packet never holds more than its bytes could describe.
            let items = count_items(packet);
            prop_assert!(items <= size);
            prop_assert!(codec::encode(packet).len() <= size + 4 * items);
        }
    }
    Ok(())
}

/// Messages, bundles and arguments in a packet; each costs at least one byte
/// on the wire (an argument at least its type tag).
fn count_items(packet: &OscPacket) -> usize {
    match packet {
        OscPacket::Message(m) => 1 + m.args.len(),
        OscPacket::Bundle(b) => 1 + b.content.iter().map(count_items).sum::<usize>(),
    }
}

fn any_framing() -> impl Strategy<Value = Framing> {
    prop_oneof![Just(Framing::Slip), Just(Framing::LengthPrefix)]
}

/// Bytes biased towards what the framings and the codec treat specially.
///
/// Built from a seed with a small PRNG rather than element by element: a
/// proptest value tree per byte makes thousands of cases very slow.
fn spicy_bytes(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    (any::<u64>(), 0..max_len).prop_map(|(seed, len)| {
        const SPECIAL: [u8; 8] = [END, framing::ESC, framing::ESC_END, 0, 0, b'/', b',', b'#'];
        let mut state = seed;
        (0..len)
            .map(|_| {
                // splitmix64
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                if z % 3 == 0 {
                    SPECIAL[(z >> 8) as usize % SPECIAL.len()]
                } else {
                    (z >> 16) as u8
                }
            })
            .collect()
    })
}

fn valid_packet() -> impl Strategy<Value = OscPacket> {
    let message = (
        "/[a-z]{1,6}(/[a-z]{1,6}){0,2}",
        prop::collection::vec(
            prop_oneof![
                any::<i32>().prop_map(OscType::Int),
                any::<f32>().prop_map(OscType::Float),
                "[a-z]{0,6}".prop_map(OscType::String),
            ],
            0..4,
        ),
    )
        .prop_map(|(addr, args)| OscPacket::Message(OscMessage { addr, args }));
    message.prop_recursive(3, 12, 3, |inner| {
        prop::collection::vec(inner, 0..3).prop_map(|content| {
            OscPacket::Bundle(OscBundle {
                timetag: codec::IMMEDIATELY,
                content,
            })
        })
    })
}

/// Encoded packets compared as bytes (NaN floats compare equal that way).
fn encoded(packets: &[Result<OscPacket, codec::OscError>]) -> Vec<Vec<u8>> {
    packets
        .iter()
        .map(|p| codec::encode(p.as_ref().expect("valid packet")))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        framing in any_framing(),
        bytes in spicy_bytes(4096),
        max in prop_oneof![Just(MAX_PACKET), 0usize..128],
        chunks in prop::collection::vec(0usize..300, 0..16),
    ) {
        let out = run(framing, max, &bytes, &chunks);
        check_bounds(&out, bytes.len(), max)?;
    }

    #[test]
    fn chunking_does_not_change_the_result(
        framing in any_framing(),
        bytes in spicy_bytes(2048),
        chunks in prop::collection::vec(1usize..100, 1..16),
    ) {
        let whole = run(framing, 256, &bytes, &[]);
        let chunked = run(framing, 256, &bytes, &chunks);
        prop_assert_eq!(whole.frames, chunked.frames);
    }

    #[test]
    fn arbitrary_bytes_decode_without_panic(bytes in spicy_bytes(2048)) {
        let _ = codec::decode(&bytes);
    }

    #[test]
    fn valid_streams_decode_to_the_sent_packets(
        framing in any_framing(),
        packets in prop::collection::vec(valid_packet(), 1..6),
        chunks in prop::collection::vec(1usize..64, 0..16),
    ) {
        let sent: Vec<Vec<u8>> = packets.iter().map(codec::encode).collect();
        let stream: Vec<u8> = sent.iter().flat_map(|p| framing::encode(framing, p)).collect();
        let out = run(framing, MAX_PACKET, &stream, &chunks);
        prop_assert!(out.frames.iter().all(Result::is_ok));
        prop_assert_eq!(encoded(&out.packets), sent);
    }

    #[test]
    fn slip_recovers_after_garbage(
        garbage in spicy_bytes(512),
        packets in prop::collection::vec(valid_packet(), 1..4),
        chunks in prop::collection::vec(1usize..64, 0..16),
    ) {
        // Garbage, then the double-END frames a well-behaved client sends:
        // every packet after the garbage comes through intact.
        let sent: Vec<Vec<u8>> = packets.iter().map(codec::encode).collect();
        let mut stream = garbage.clone();
        for p in &sent {
            stream.extend(framing::encode(Framing::Slip, p));
        }
        let out = run(Framing::Slip, MAX_PACKET, &stream, &chunks);
        check_bounds(&out, stream.len(), MAX_PACKET)?;
        let tail = &out.packets[out.packets.len().saturating_sub(sent.len())..];
        prop_assert_eq!(tail.len(), sent.len());
        prop_assert_eq!(encoded(tail), sent);
    }

    #[test]
    fn oversized_length_prefix_closes_the_connection(
        length in (MAX_PACKET as u32 + 1)..=u32::MAX,
        after in spicy_bytes(256),
    ) {
        let mut stream = length.to_be_bytes().to_vec();
        stream.extend(after);
        let out = run(Framing::LengthPrefix, MAX_PACKET, &stream, &[]);
        prop_assert_eq!(out.frames.len(), 1);
        let err = out.frames[0].clone().unwrap_err();
        prop_assert!(err.is_fatal());
        prop_assert!(out.packets.is_empty());
    }
}
