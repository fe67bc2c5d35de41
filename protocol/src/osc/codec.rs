//! OSC 1.0 packet decoding and encoding, bounded and panic-free.
//!
//! Decoding is our own strict reader producing `rosc` types, because rosc
//! 0.10's decoder misreads valid input (a blob whose size is a multiple of 4
//! needs 4 extra padding bytes there), accepts malformed input silently (a
//! type tag string without ',' or a broken element inside a nested bundle is
//! skipped instead of refused) and recurses without limit on nested bundles.
//! Here every packet is either decoded completely or refused with an error
//! that says what is wrong; size and nesting are bounded.
//! Encoding uses rosc's encoder, which is correct.

use crate::param::Value;
use rosc::{
    OscArray, OscBundle, OscColor, OscMessage, OscMidiMessage, OscPacket, OscTime, OscType,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Largest packet accepted (64 KiB): far above any control message, small
/// enough that a hostile client cannot make the daemon buffer much.
pub const MAX_PACKET: usize = 64 * 1024;

/// Deepest bundle nesting accepted; real surfaces nest one or two levels.
pub const MAX_BUNDLE_DEPTH: usize = 8;

/// Deepest argument array (`[...]` in type tags) nesting accepted.
pub const MAX_ARRAY_DEPTH: usize = 8;

/// Seconds from the NTP/OSC epoch (1900-01-01) to the Unix epoch (1970-01-01).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// Why a packet was refused; the message can go back to the sender as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OscError {
    /// The packet is over [`MAX_PACKET`].
    #[error("packet of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Size of the packet.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Nothing to decode.
    #[error("packet is empty")]
    Empty,
    /// OSC packets are made of 4-byte units.
    #[error("packet of {size} bytes is not a multiple of 4 bytes long")]
    Misaligned {
        /// Size of the packet (or bundle element).
        size: usize,
    },
    /// Neither a message (starts with '/') nor a bundle (starts with "#bundle").
    #[error(
        "packet at byte {offset} starts with {first:#04x}, neither '/' (message) nor \"#bundle\""
    )]
    NotAPacket {
        /// Where the packet or bundle element starts.
        offset: usize,
        /// Its first byte.
        first: u8,
    },
    /// Bundles nested deeper than [`MAX_BUNDLE_DEPTH`].
    #[error("bundles are nested deeper than the limit of {limit} levels")]
    BundleTooDeep {
        /// The limit.
        limit: usize,
    },
    /// A bundle element whose size prefix does not fit the bundle.
    #[error(
        "bundle element at byte {offset} announces {size} bytes, but it must be positive, a multiple of 4 and at most the {remaining} bytes left"
    )]
    BadElementSize {
        /// Where the size prefix is.
        offset: usize,
        /// The announced size.
        size: i32,
        /// Bytes left in the bundle after the prefix.
        remaining: usize,
    },
    /// The data ends in the middle of something.
    #[error("packet ends inside {what} at byte {offset}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Where it started.
        offset: usize,
    },
    /// An OSC string with no NUL terminator.
    #[error("string at byte {offset} has no NUL terminator")]
    UnterminatedString {
        /// Where the string starts.
        offset: usize,
    },
    /// OSC strings here must be UTF-8 (ASCII in OSC 1.0).
    #[error("string at byte {offset} is not valid UTF-8")]
    BadUtf8 {
        /// Where the string starts.
        offset: usize,
    },
    /// The type tag string must start with ','.
    #[error("type tag string {tags:?} at byte {offset} does not start with ','")]
    BadTypeTags {
        /// The tag string as read.
        tags: String,
        /// Where it starts.
        offset: usize,
    },
    /// A type tag this decoder does not know.
    #[error("unknown type tag '{tag}'")]
    UnknownType {
        /// The tag character.
        tag: char,
    },
    /// `[` and `]` in the type tags do not pair up.
    #[error("type tags {tags:?} have unbalanced '[' and ']'")]
    UnbalancedArray {
        /// The tag string.
        tags: String,
    },
    /// Arrays nested deeper than [`MAX_ARRAY_DEPTH`].
    #[error("argument arrays are nested deeper than the limit of {limit} levels")]
    ArrayTooDeep {
        /// The limit.
        limit: usize,
    },
    /// A 'c' argument that is not a Unicode scalar value.
    #[error("char argument {code:#x} is not a valid character")]
    BadChar {
        /// The 32-bit value read.
        code: u32,
    },
    /// A blob with a negative size.
    #[error("blob at byte {offset} has negative size {size}")]
    NegativeBlobSize {
        /// Where the blob's size is.
        offset: usize,
        /// The size read.
        size: i32,
    },
    /// Bytes left over after the last argument of a message.
    #[error("message {addr:?} has {count} bytes after its last argument")]
    TrailingBytes {
        /// The message's address.
        addr: String,
        /// How many bytes are left.
        count: usize,
    },
}

/// Reads big-endian OSC units from a slice, tracking the absolute offset for errors.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Offset of `bytes[0]` within the whole packet.
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], base: usize) -> Reader<'a> {
        Reader {
            bytes,
            pos: 0,
            base,
        }
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], OscError> {
        if self.remaining() < n {
            return Err(OscError::Truncated {
                what,
                offset: self.offset(),
            });
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn four(&mut self, what: &'static str) -> Result<[u8; 4], OscError> {
        let b = self.take(4, what)?;
        Ok([b[0], b[1], b[2], b[3]])
    }

    fn eight(&mut self, what: &'static str) -> Result<[u8; 8], OscError> {
        let b = self.take(8, what)?;
        let mut out = [0; 8];
        out.copy_from_slice(b);
        Ok(out)
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, OscError> {
        self.four(what).map(i32::from_be_bytes)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, OscError> {
        self.four(what).map(u32::from_be_bytes)
    }

    fn time(&mut self) -> Result<OscTime, OscError> {
        let b = self.eight("a time tag")?;
        Ok(OscTime {
            seconds: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            fractional: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        })
    }

    /// A NUL-terminated string padded with NULs to a multiple of 4 bytes.
    fn string(&mut self) -> Result<String, OscError> {
        let start = self.offset();
        let rest = &self.bytes[self.pos..];
        let len = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(OscError::UnterminatedString { offset: start })?;
        let padded = (len / 4 + 1) * 4;
        if padded > rest.len() {
            return Err(OscError::Truncated {
                what: "string padding",
                offset: start,
            });
        }
        let text = std::str::from_utf8(&rest[..len])
            .map_err(|_| OscError::BadUtf8 { offset: start })?
            .to_owned();
        self.pos += padded;
        Ok(text)
    }

    /// An int32 size, that many bytes, then NUL padding to a multiple of 4.
    fn blob(&mut self) -> Result<Vec<u8>, OscError> {
        let at = self.offset();
        let size = self.i32("a blob size")?;
        let size =
            usize::try_from(size).map_err(|_| OscError::NegativeBlobSize { offset: at, size })?;
        let padded = size.div_ceil(4) * 4;
        let data = self.take(padded, "a blob")?;
        Ok(data[..size].to_vec())
    }
}

/// Decodes one OSC packet (message or bundle) from a UDP datagram or a
/// stream frame; refuses anything malformed, oversized or nested too deep.
pub fn decode(bytes: &[u8]) -> Result<OscPacket, OscError> {
    decode_with_limit(bytes, MAX_PACKET)
}

/// Largest packet a client accepts over a TCP stream: snapshot exports of
/// songs with many revisions travel as one reply.
pub const MAX_STREAM_PACKET: usize = 32 * 1024 * 1024;

/// Largest message the daemon accepts over a TCP stream: an import of a
/// song export is the biggest thing a client sends.
pub const MAX_REQUEST: usize = 8 * 1024 * 1024;

/// Like [`decode`] with another size limit (streams carry larger packets than datagrams).
pub fn decode_with_limit(bytes: &[u8], limit: usize) -> Result<OscPacket, OscError> {
    if bytes.len() > limit {
        return Err(OscError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    decode_packet(bytes, 0, 0)
}

/// Decodes a packet that spans exactly `bytes`, which start at `base` in the
/// whole packet; `depth` counts the bundles around it.
fn decode_packet(bytes: &[u8], base: usize, depth: usize) -> Result<OscPacket, OscError> {
    if bytes.is_empty() {
        return Err(OscError::Empty);
    }
    if bytes.len() % 4 != 0 {
        return Err(OscError::Misaligned { size: bytes.len() });
    }
    if bytes.starts_with(b"#bundle\0") {
        decode_bundle(bytes, base, depth + 1)
    } else if bytes[0] == b'/' {
        decode_message(bytes, base).map(OscPacket::Message)
    } else {
        Err(OscError::NotAPacket {
            offset: base,
            first: bytes[0],
        })
    }
}

fn decode_bundle(bytes: &[u8], base: usize, depth: usize) -> Result<OscPacket, OscError> {
    if depth > MAX_BUNDLE_DEPTH {
        return Err(OscError::BundleTooDeep {
            limit: MAX_BUNDLE_DEPTH,
        });
    }
    let mut r = Reader::new(bytes, base);
    r.take(8, "the bundle tag")?;
    let timetag = r.time()?;
    let mut content = Vec::new();
    while r.remaining() > 0 {
        let at = r.offset();
        let size = r.i32("a bundle element size")?;
        let remaining = r.remaining();
        let len = match usize::try_from(size) {
            Ok(len) if len > 0 && len % 4 == 0 && len <= remaining => len,
            _ => {
                return Err(OscError::BadElementSize {
                    offset: at,
                    size,
                    remaining,
                });
            }
        };
        let start = r.offset();
        let element = r.take(len, "a bundle element")?;
        content.push(decode_packet(element, start, depth)?);
    }
    Ok(OscPacket::Bundle(OscBundle { timetag, content }))
}

fn decode_message(bytes: &[u8], base: usize) -> Result<OscMessage, OscError> {
    let mut r = Reader::new(bytes, base);
    let addr = r.string()?;
    // OSC 1.0 allows old senders to omit the type tag string: no arguments.
    if r.remaining() == 0 {
        return Ok(OscMessage { addr, args: vec![] });
    }
    let tags_at = r.offset();
    let tags = r.string()?;
    let Some(tag_chars) = tags.strip_prefix(',') else {
        return Err(OscError::BadTypeTags {
            tags,
            offset: tags_at,
        });
    };
    let mut args = Vec::new();
    // Arrays being filled, innermost last; bounded by MAX_ARRAY_DEPTH.
    let mut open: Vec<Vec<OscType>> = Vec::new();
    for tag in tag_chars.chars() {
        match tag {
            '[' => {
                if open.len() >= MAX_ARRAY_DEPTH {
                    return Err(OscError::ArrayTooDeep {
                        limit: MAX_ARRAY_DEPTH,
                    });
                }
                open.push(Vec::new());
            }
            ']' => {
                let content = open
                    .pop()
                    .ok_or_else(|| OscError::UnbalancedArray { tags: tags.clone() })?;
                let array = OscType::Array(OscArray { content });
                open.last_mut().unwrap_or(&mut args).push(array);
            }
            _ => {
                let arg = read_arg(&mut r, tag)?;
                open.last_mut().unwrap_or(&mut args).push(arg);
            }
        }
    }
    if !open.is_empty() {
        return Err(OscError::UnbalancedArray { tags });
    }
    if r.remaining() > 0 {
        return Err(OscError::TrailingBytes {
            addr,
            count: r.remaining(),
        });
    }
    Ok(OscMessage { addr, args })
}

fn read_arg(r: &mut Reader<'_>, tag: char) -> Result<OscType, OscError> {
    Ok(match tag {
        'i' => OscType::Int(r.i32("an int32 argument")?),
        'f' => OscType::Float(f32::from_be_bytes(r.four("a float32 argument")?)),
        's' | 'S' => OscType::String(r.string()?),
        'b' => OscType::Blob(r.blob()?),
        'h' => OscType::Long(i64::from_be_bytes(r.eight("an int64 argument")?)),
        'd' => OscType::Double(f64::from_be_bytes(r.eight("a float64 argument")?)),
        't' => OscType::Time(r.time()?),
        'c' => {
            let code = r.u32("a char argument")?;
            OscType::Char(char::from_u32(code).ok_or(OscError::BadChar { code })?)
        }
        'r' => {
            let [red, green, blue, alpha] = r.four("a color argument")?;
            OscType::Color(OscColor {
                red,
                green,
                blue,
                alpha,
            })
        }
        'm' => {
            let [port, status, data1, data2] = r.four("a MIDI argument")?;
            OscType::Midi(OscMidiMessage {
                port,
                status,
                data1,
                data2,
            })
        }
        'T' => OscType::Bool(true),
        'F' => OscType::Bool(false),
        'N' => OscType::Nil,
        'I' => OscType::Inf,
        _ => return Err(OscError::UnknownType { tag }),
    })
}

/// Encodes a packet for a UDP datagram or a stream frame.
pub fn encode(packet: &OscPacket) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail (the error type is Infallible).
    match rosc::encoder::encode_into(packet, &mut out) {
        Ok(_) => out,
        Err(never) => match never {},
    }
}

/// The time tag "immediately" (seconds 0, fraction 1), per OSC 1.0.
pub const IMMEDIATELY: OscTime = OscTime {
    seconds: 0,
    fractional: 1,
};

/// How long to hold a bundle before dispatching it: `None` when it is due
/// now (the tag is "immediately", now, or in the past), else the delay.
///
/// Tags are read in NTP era 0 (1900–2036), as OSC 1.0 defines them.
pub fn due_in(tag: OscTime, now: SystemTime) -> Option<Duration> {
    if tag == IMMEDIATELY {
        return None;
    }
    let nanos = (u64::from(tag.fractional) * 1_000_000_000) >> 32;
    let tag_since_1900 = Duration::new(u64::from(tag.seconds), nanos as u32);
    let now_since_1900 = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => d + Duration::from_secs(NTP_UNIX_OFFSET),
        Err(e) => Duration::from_secs(NTP_UNIX_OFFSET).saturating_sub(e.duration()),
    };
    tag_since_1900
        .checked_sub(now_since_1900)
        .filter(|d| !d.is_zero())
}

/// Turns an OSC argument into a value in real units: numbers, text and
/// booleans (as 0/1); `None` for types a parameter cannot hold.
pub fn arg_to_value(arg: &OscType) -> Option<Value> {
    match arg {
        OscType::Float(x) => Some(Value::Float(f64::from(*x))),
        OscType::Double(x) => Some(Value::Float(*x)),
        OscType::Int(i) => Some(Value::Int(i64::from(*i))),
        OscType::Long(i) => Some(Value::Int(*i)),
        OscType::String(s) => Some(Value::Text(s.clone())),
        OscType::Bool(b) => Some(Value::Int(i64::from(*b))),
        _ => None,
    }
}

/// Turns a value into the OSC argument surfaces expect (`f`, `i`, `s`);
/// integers outside int32 saturate.
pub fn value_to_arg(v: &Value) -> OscType {
    match v {
        Value::Float(x) => OscType::Float(*x as f32),
        Value::Int(i) => OscType::Int((*i).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32),
        Value::Text(s) => OscType::String(s.clone()),
    }
}

#[cfg(test)]
mod tests {
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
}
