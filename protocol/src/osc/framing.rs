//! Stream framing for OSC over TCP.
//!
//! TCP carries bytes, not packets, so OSC packets need frames. Two framings
//! are in use and rackd accepts both on one port, told apart by the first
//! byte of each connection:
//!
//! * SLIP (RFC 1055), as OSC 1.1 specifies (TouchOSC, python-osc): packets
//!   are sent as `END escaped-bytes END`.
//! * An int32 big-endian length prefix, as OSC 1.0 specifies (liblo's
//!   `osc.tcp://`).

use std::collections::VecDeque;

/// SLIP frame delimiter.
pub const END: u8 = 0xC0;
/// SLIP escape introducer.
pub const ESC: u8 = 0xDB;
/// After `ESC`: stands for a literal `END` byte.
pub const ESC_END: u8 = 0xDC;
/// After `ESC`: stands for a literal `ESC` byte.
pub const ESC_ESC: u8 = 0xDD;

/// How packets are delimited on one TCP connection; replies use the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// OSC 1.1: SLIP with an `END` byte before and after each packet.
    Slip,
    /// OSC 1.0: each packet preceded by its size as a big-endian int32.
    LengthPrefix,
}

impl Framing {
    /// Tells the framing from a connection's first byte: a SLIP sender starts
    /// with `END` (0xC0); a length prefix starts with 0x00 for any packet
    /// under 16 MiB, so it can never look like SLIP.
    pub fn detect(first_byte: u8) -> Framing {
        if first_byte == END {
            Framing::Slip
        } else {
            Framing::LengthPrefix
        }
    }
}

/// Frames one packet for sending on a stream.
///
/// Packets larger than `i32::MAX` bytes cannot be length-prefixed; rackd's
/// packets are bounded far below that by the codec's limit.
pub fn encode(framing: Framing, packet: &[u8]) -> Vec<u8> {
    match framing {
        Framing::Slip => {
            let mut out = Vec::with_capacity(packet.len() + packet.len() / 16 + 2);
            out.push(END);
            for &b in packet {
                match b {
                    END => out.extend_from_slice(&[ESC, ESC_END]),
                    ESC => out.extend_from_slice(&[ESC, ESC_ESC]),
                    _ => out.push(b),
                }
            }
            out.push(END);
            out
        }
        Framing::LengthPrefix => {
            debug_assert!(i32::try_from(packet.len()).is_ok());
            let mut out = Vec::with_capacity(packet.len() + 4);
            out.extend_from_slice(&(packet.len() as u32).to_be_bytes());
            out.extend_from_slice(packet);
            out
        }
    }
}

/// What went wrong while cutting a stream into frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A SLIP frame grew past the limit; it was dropped and the decoder
    /// skipped to the next `END`, so the connection can go on.
    #[error("SLIP frame exceeds the {limit}-byte limit; dropped up to the next frame boundary")]
    Oversized {
        /// The configured maximum frame size.
        limit: usize,
    },
    /// A SLIP `ESC` followed by something other than `ESC_END`/`ESC_ESC`; the
    /// frame is corrupt and was dropped up to the next `END`.
    #[error(
        "SLIP escape 0xDB followed by {byte:#04x} instead of 0xDC or 0xDD; frame dropped up to the next frame boundary"
    )]
    BadEscape {
        /// The byte that followed `ESC`.
        byte: u8,
    },
    /// A length prefix over the limit: the stream cannot be resynchronized,
    /// so the server must close the connection.
    #[error(
        "length prefix announces a packet of {length} bytes, over the {limit}-byte limit; the stream cannot be resynchronized, close the connection"
    )]
    LengthTooLarge {
        /// The announced length.
        length: u32,
        /// The configured maximum frame size.
        limit: usize,
    },
    /// A negative length prefix: the peer does not speak OSC 1.0 framing, so
    /// the server must close the connection.
    #[error(
        "length prefix {length} is negative; the peer is not sending OSC 1.0 stream framing, close the connection"
    )]
    NegativeLength {
        /// The announced length as a signed int32.
        length: i32,
    },
}

impl FrameError {
    /// Whether the connection must be closed (no later frame can be trusted).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            FrameError::LengthTooLarge { .. } | FrameError::NegativeLength { .. }
        )
    }
}

/// Cuts a TCP byte stream into packets, bounded by a maximum frame size.
///
/// Feed it whatever `read` returned with [`push`](Self::push), then drain it
/// with [`next_frame`](Self::next_frame) until `None`. Memory is bounded by
/// the bytes pushed and not yet drained plus one frame.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    framing: Framing,
    max_frame: usize,
    input: VecDeque<u8>,
    /// SLIP: the frame being assembled.
    frame: Vec<u8>,
    /// SLIP: the previous byte was `ESC`.
    escaped: bool,
    /// SLIP: dropping bytes until the next `END` after an error.
    skipping: bool,
    /// Length prefix: a fatal error was reported; nothing more comes out.
    dead: bool,
}

impl FrameDecoder {
    /// A decoder for one connection; frames over `max_frame` bytes are refused.
    pub fn new(framing: Framing, max_frame: usize) -> FrameDecoder {
        FrameDecoder {
            framing,
            max_frame,
            input: VecDeque::new(),
            frame: Vec::new(),
            escaped: false,
            skipping: false,
            dead: false,
        }
    }

    /// The framing this decoder cuts (and replies should use).
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Bytes held: pushed and not yet cut, plus the frame being assembled.
    pub fn buffered(&self) -> usize {
        self.input.len() + self.frame.len()
    }

    /// Whether a fatal error was reported and the connection should be closed.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Adds bytes read from the stream; ignored once the decoder is dead.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.dead {
            self.input.extend(bytes);
        }
    }

    /// The next complete frame, an error for a bad one, or `None` when more
    /// bytes are needed. After a fatal error it returns `None` forever.
    pub fn next_frame(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        if self.dead {
            return None;
        }
        match self.framing {
            Framing::Slip => self.next_slip(),
            Framing::LengthPrefix => self.next_prefixed(),
        }
    }

    fn next_slip(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        while let Some(b) = self.input.pop_front() {
            if self.skipping {
                if b == END {
                    self.skipping = false;
                }
                continue;
            }
            if self.escaped {
                self.escaped = false;
                let literal = match b {
                    ESC_END => END,
                    ESC_ESC => ESC,
                    // `ESC END` still ends the frame: resume right after it.
                    _ => {
                        return Some(Err(
                            self.drop_frame(b != END, FrameError::BadEscape { byte: b })
                        ));
                    }
                };
                if let Some(err) = self.append(literal) {
                    return Some(Err(err));
                }
                continue;
            }
            match b {
                // Empty frames come from the double-END encoding: skip them.
                END if self.frame.is_empty() => {}
                END => return Some(Ok(std::mem::take(&mut self.frame))),
                ESC => self.escaped = true,
                _ => {
                    if let Some(err) = self.append(b) {
                        return Some(Err(err));
                    }
                }
            }
        }
        None
    }

    /// Appends a decoded byte, dropping the frame if it grows past the limit.
    fn append(&mut self, b: u8) -> Option<FrameError> {
        if self.frame.len() >= self.max_frame {
            let limit = self.max_frame;
            return Some(self.drop_frame(true, FrameError::Oversized { limit }));
        }
        self.frame.push(b);
        None
    }

    /// Discards the current SLIP frame; with `skip`, also the bytes up to
    /// the next `END`, so decoding resumes at a frame boundary.
    fn drop_frame(&mut self, skip: bool, err: FrameError) -> FrameError {
        self.frame = Vec::new();
        self.skipping = skip;
        err
    }

    fn next_prefixed(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        loop {
            if self.input.len() < 4 {
                return None;
            }
            let header = [self.input[0], self.input[1], self.input[2], self.input[3]];
            let length = i32::from_be_bytes(header);
            if length < 0 {
                return Some(Err(self.die(FrameError::NegativeLength { length })));
            }
            let length = length as usize;
            if length > self.max_frame {
                return Some(Err(self.die(FrameError::LengthTooLarge {
                    length: length as u32,
                    limit: self.max_frame,
                })));
            }
            if self.input.len() < 4 + length {
                return None;
            }
            self.input.drain(..4);
            // A zero-length frame carries no packet: skip it like SLIP's empty frames.
            if length > 0 {
                return Some(Ok(self.input.drain(..length).collect()));
            }
        }
    }

    fn die(&mut self, err: FrameError) -> FrameError {
        self.dead = true;
        self.input = VecDeque::new();
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain(dec: &mut FrameDecoder) -> Vec<Result<Vec<u8>, FrameError>> {
        std::iter::from_fn(|| dec.next_frame()).collect()
    }

    #[test]
    fn detect_by_first_byte() {
        assert_eq!(Framing::detect(0xC0), Framing::Slip);
        assert_eq!(Framing::detect(0x00), Framing::LengthPrefix);
        assert_eq!(Framing::detect(b'/'), Framing::LengthPrefix);
    }

    #[test]
    fn slip_encoding_escapes_and_double_ends() {
        assert_eq!(
            encode(Framing::Slip, &[1, END, 2, ESC, 3]),
            vec![END, 1, ESC, ESC_END, 2, ESC, ESC_ESC, 3, END]
        );
        assert_eq!(encode(Framing::Slip, &[]), vec![END, END]);
    }

    #[test]
    fn length_prefix_encoding() {
        assert_eq!(
            encode(Framing::LengthPrefix, b"/a\0\0,\0\0\0"),
            b"\0\0\0\x08/a\0\0,\0\0\0".to_vec()
        );
    }

    #[test]
    fn slip_decodes_back_to_back_frames_and_single_end_style() {
        let mut dec = FrameDecoder::new(Framing::Slip, 100);
        dec.push(&[END, 1, 2, END, END, 3, ESC, ESC_END, END, 4, 5, END]);
        assert_eq!(
            drain(&mut dec),
            vec![Ok(vec![1, 2]), Ok(vec![3, END]), Ok(vec![4, 5])]
        );
    }

    #[test]
    fn slip_partial_frame_waits_for_end() {
        let mut dec = FrameDecoder::new(Framing::Slip, 100);
        dec.push(&[END, 1, ESC]);
        assert_eq!(dec.next_frame(), None);
        dec.push(&[ESC_ESC, 2]);
        assert_eq!(dec.next_frame(), None);
        dec.push(&[END]);
        assert_eq!(dec.next_frame(), Some(Ok(vec![1, ESC, 2])));
        assert_eq!(dec.next_frame(), None);
    }

    #[test]
    fn slip_oversized_frame_is_dropped_and_decoder_resyncs() {
        let mut dec = FrameDecoder::new(Framing::Slip, 4);
        dec.push(&[END, 1, 2, 3, 4, 5, 6, 7, END, 8, 9, END]);
        assert_eq!(
            drain(&mut dec),
            vec![Err(FrameError::Oversized { limit: 4 }), Ok(vec![8, 9])]
        );
        // An escaped END that overflows does not count as a frame boundary.
        let mut dec = FrameDecoder::new(Framing::Slip, 2);
        dec.push(&[END, 1, 2, ESC, ESC_END, 9, END, 5, END]);
        assert_eq!(
            drain(&mut dec),
            vec![Err(FrameError::Oversized { limit: 2 }), Ok(vec![5])]
        );
        let mut exact = FrameDecoder::new(Framing::Slip, 4);
        exact.push(&[END, 1, 2, 3, 4, END]);
        assert_eq!(drain(&mut exact), vec![Ok(vec![1, 2, 3, 4])]);
    }

    #[test]
    fn slip_bad_escape_drops_the_frame() {
        let mut dec = FrameDecoder::new(Framing::Slip, 100);
        dec.push(&[END, 1, ESC, 7, 2, END, 3, END]);
        assert_eq!(
            drain(&mut dec),
            vec![Err(FrameError::BadEscape { byte: 7 }), Ok(vec![3])]
        );
        // ESC END: the END still closes the frame, the next one is intact.
        let mut dec = FrameDecoder::new(Framing::Slip, 100);
        dec.push(&[END, 1, ESC, END, 3, END]);
        assert_eq!(
            drain(&mut dec),
            vec![Err(FrameError::BadEscape { byte: END }), Ok(vec![3])]
        );
    }

    #[test]
    fn length_prefix_decodes_split_input() {
        let mut dec = FrameDecoder::new(Framing::LengthPrefix, 100);
        dec.push(&[0, 0]);
        assert_eq!(dec.next_frame(), None);
        dec.push(&[0, 3, 7, 8]);
        assert_eq!(dec.next_frame(), None);
        dec.push(&[9, 0, 0, 0, 0, 0, 0, 0, 1, 5]);
        assert_eq!(drain(&mut dec), vec![Ok(vec![7, 8, 9]), Ok(vec![5])]);
    }

    #[test]
    fn length_prefix_over_limit_is_fatal() {
        let mut dec = FrameDecoder::new(Framing::LengthPrefix, 8);
        dec.push(&[0, 0, 0, 9]);
        let err = dec.next_frame().unwrap().unwrap_err();
        assert_eq!(
            err,
            FrameError::LengthTooLarge {
                length: 9,
                limit: 8
            }
        );
        assert!(err.is_fatal());
        assert!(dec.is_dead());
        dec.push(&[0, 0, 0, 1, 1]);
        assert_eq!(dec.next_frame(), None);
    }

    #[test]
    fn length_prefix_negative_is_fatal() {
        let mut dec = FrameDecoder::new(Framing::LengthPrefix, 8);
        dec.push(&[0xFF, 0xFF, 0xFF, 0xFE]);
        let err = dec.next_frame().unwrap().unwrap_err();
        assert_eq!(err, FrameError::NegativeLength { length: -2 });
        assert!(err.is_fatal());
        assert!(!FrameError::Oversized { limit: 1 }.is_fatal());
        assert_eq!(
            err.to_string(),
            "length prefix -2 is negative; the peer is not sending OSC 1.0 stream framing, close the connection"
        );
    }

    fn framing() -> impl Strategy<Value = Framing> {
        prop_oneof![Just(Framing::Slip), Just(Framing::LengthPrefix)]
    }

    proptest! {
        #[test]
        fn round_trip_with_arbitrary_chunking(
            framing in framing(),
            packets in prop::collection::vec(
                prop::collection::vec(prop_oneof![Just(END), Just(ESC), any::<u8>()], 1..200),
                0..8,
            ),
            cuts in prop::collection::vec(1usize..64, 0..64),
        ) {
            let stream: Vec<u8> = packets.iter().flat_map(|p| encode(framing, p)).collect();
            let mut dec = FrameDecoder::new(framing, 200);
            let mut got = Vec::new();
            let mut rest = &stream[..];
            let mut cuts = cuts.into_iter().cycle();
            while !rest.is_empty() {
                let n = cuts.next().unwrap_or(rest.len()).min(rest.len());
                dec.push(&rest[..n]);
                rest = &rest[n..];
                while let Some(frame) = dec.next_frame() {
                    got.push(frame.expect("valid frame"));
                }
            }
            prop_assert_eq!(got, packets);
        }

        #[test]
        fn arbitrary_bytes_never_panic(framing in framing(), bytes in prop::collection::vec(any::<u8>(), 0..2000), max in 0usize..64) {
            let mut dec = FrameDecoder::new(framing, max);
            dec.push(&bytes);
            let mut total = 0;
            while let Some(frame) = dec.next_frame() {
                if let Ok(frame) = frame {
                    prop_assert!(!frame.is_empty() && frame.len() <= max);
                    total += frame.len();
                }
            }
            prop_assert!(total <= bytes.len());
        }
    }
}
