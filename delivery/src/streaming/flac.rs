//! A FLAC encoder for the streaming masters (RFC 9639): fixed-size blocks of
//! 4096 samples, stereo decorrelation (left/side, side/right, mid/side, or
//! independent, whichever is smallest), the fixed predictors of order 0–4,
//! partitioned Rice coding, constant and verbatim subframes where they are
//! smaller. Lossless by construction; the stream's MD5 is of the samples
//! as the spec defines it, so `flac -t` checks every file.
//!
//! Metadata: STREAMINFO (patched at the end with the frame sizes and MD5),
//! a VORBIS_COMMENT with the tags given, and PADDING so tags can be edited
//! in place (`metaflac`).

use md5::{Digest, Md5};

/// Samples per block.
pub const BLOCK: usize = 4096;
/// Bytes of PADDING after the tags.
pub const PADDING: usize = 8192;
/// Offset of STREAMINFO's 34 bytes in the file.
pub const STREAMINFO_OFFSET: u64 = 8;
/// Offset of the tags (VORBIS_COMMENT, then PADDING), which
/// [`tags_region`] can rewrite in place.
pub const TAGS_OFFSET: u64 = STREAMINFO_OFFSET + 34;

const MAX_PARTITION_ORDER: u32 = 6;

/// Bit writer, most significant bit first.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn new(out: Vec<u8>) -> Self {
        Bits { out, acc: 0, n: 0 }
    }

    /// Writes the low `bits` (≤ 32) bits of `v`.
    #[inline]
    fn put(&mut self, v: u64, bits: u32) {
        debug_assert!(bits <= 32);
        if bits == 0 {
            return;
        }
        self.acc = (self.acc << bits) | (v & ((1u64 << bits) - 1));
        self.n += bits;
        while self.n >= 8 {
            self.n -= 8;
            self.out.push((self.acc >> self.n) as u8);
        }
    }

    fn signed(&mut self, v: i64, bits: u32) {
        self.put(v as u64, bits);
    }

    fn zeros(&mut self, mut count: u64) {
        while count >= 32 {
            self.put(0, 32);
            count -= 32;
        }
        self.put(0, count as u32);
    }

    fn align(&mut self) {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put(0, pad);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.align();
        self.out
    }
}

fn crc8(data: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in data {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn crc16_table() -> [u16; 256] {
    let mut t = [0u16; 256];
    for (i, e) in t.iter_mut().enumerate() {
        let mut c = (i as u16) << 8;
        for _ in 0..8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x8005
            } else {
                c << 1
            };
        }
        *e = c;
    }
    t
}

fn crc16(table: &[u16; 256], data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc = (crc << 8) ^ table[((crc >> 8) as u8 ^ b) as usize];
    }
    crc
}

/// The Vorbis comment block body: vendor and `KEY=value` tags (UTF-8).
pub fn vorbis_comment(vendor: &str, tags: &[(String, String)]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    b.extend_from_slice(vendor.as_bytes());
    b.extend_from_slice(&(tags.len() as u32).to_le_bytes());
    for (k, v) in tags {
        let s = format!("{}={v}", k.to_ascii_uppercase());
        b.extend_from_slice(&(s.len() as u32).to_le_bytes());
        b.extend_from_slice(s.as_bytes());
    }
    b
}

fn block_header(out: &mut Vec<u8>, last: bool, kind: u8, len: usize) {
    out.push(((last as u8) << 7) | kind);
    out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
}

/// The VORBIS_COMMENT and PADDING blocks filling exactly `len` bytes (to
/// replace the tags of a written file at [`TAGS_OFFSET`]), or `None` when
/// the tags do not fit.
pub fn tags_region(vendor: &str, tags: &[(String, String)], len: usize) -> Option<Vec<u8>> {
    let vc = vorbis_comment(vendor, tags);
    let pad = len.checked_sub(4 + vc.len() + 4)?;
    let mut out = Vec::with_capacity(len);
    block_header(&mut out, false, 4, vc.len());
    out.extend_from_slice(&vc);
    block_header(&mut out, true, 1, pad);
    out.resize(len, 0);
    Some(out)
}

/// Encodes one stereo stream of `bits`-bit samples.
pub struct Encoder {
    rate: u32,
    bits: u32,
    total: u64,
    frame: u64,
    md5: Md5,
    min_frame: usize,
    max_frame: usize,
    pending: [Vec<i32>; 2],
    crc: [u16; 256],
    scratch: Scratch,
}

#[derive(Default)]
struct Scratch {
    chans: [Vec<i64>; 4],
    residual: Vec<i64>,
    best: Vec<i64>,
}

/// A subframe plan: how one channel of a block is coded, with its size.
enum Sub {
    Constant(i64),
    Verbatim,
    Fixed { order: usize, rice: Rice },
}

struct Rice {
    partition_order: u32,
    params: Vec<u32>,
    wide: bool,
}

impl Encoder {
    /// An encoder for `total` stereo frames at `rate` Hz, `bits` (16 or 24) per sample.
    pub fn new(rate: u32, bits: u32, total: u64) -> Self {
        Encoder {
            rate,
            bits,
            total,
            frame: 0,
            md5: Md5::new(),
            min_frame: usize::MAX,
            max_frame: 0,
            pending: [Vec::with_capacity(BLOCK), Vec::with_capacity(BLOCK)],
            crc: crc16_table(),
            scratch: Scratch::default(),
        }
    }

    fn streaminfo(&self, md5: [u8; 16]) -> [u8; 34] {
        let mut b = Bits::new(Vec::with_capacity(34));
        b.put(BLOCK as u64, 16);
        b.put(BLOCK as u64, 16);
        let (min, max) = if self.max_frame == 0 {
            (0, 0)
        } else {
            (self.min_frame as u64, self.max_frame as u64)
        };
        b.put(min, 24);
        b.put(max, 24);
        b.put(self.rate as u64, 20);
        b.put(1, 3);
        b.put(self.bits as u64 - 1, 5);
        b.put(self.total >> 32, 4);
        b.put(self.total & 0xffff_ffff, 32);
        let mut out = b.finish();
        out.extend_from_slice(&md5);
        out.try_into().expect("34 bytes")
    }

    /// `fLaC`, STREAMINFO (to be replaced by [`Encoder::finish`]'s), the
    /// tags and padding.
    pub fn header(&self, vendor: &str, tags: &[(String, String)]) -> Vec<u8> {
        let mut out = b"fLaC".to_vec();
        block_header(&mut out, false, 0, 34);
        out.extend_from_slice(&self.streaminfo([0; 16]));
        let len = 4 + vorbis_comment(vendor, tags).len() + 4 + PADDING;
        out.extend(tags_region(vendor, tags, len).expect("sized to fit"));
        out
    }

    /// Adds samples (integers in the `bits` range), appending whole frames to `out`.
    pub fn push(&mut self, left: &[i32], right: &[i32], out: &mut Vec<u8>) {
        let bytes = self.bits.div_ceil(8) as usize;
        let mut md = Vec::with_capacity(left.len() * 2 * bytes);
        for (&l, &r) in left.iter().zip(right) {
            md.extend_from_slice(&l.to_le_bytes()[..bytes]);
            md.extend_from_slice(&r.to_le_bytes()[..bytes]);
        }
        self.md5.update(&md);
        let mut i = 0;
        while i < left.len() {
            let k = (BLOCK - self.pending[0].len()).min(left.len() - i);
            self.pending[0].extend_from_slice(&left[i..i + k]);
            self.pending[1].extend_from_slice(&right[i..i + k]);
            i += k;
            if self.pending[0].len() == BLOCK {
                self.flush(out);
            }
        }
    }

    /// Writes the last (short) frame; returns the final STREAMINFO to put at
    /// [`STREAMINFO_OFFSET`].
    pub fn finish(mut self, out: &mut Vec<u8>) -> [u8; 34] {
        if !self.pending[0].is_empty() {
            self.flush(out);
        }
        let md5: [u8; 16] = self.md5.clone().finalize().into();
        self.streaminfo(md5)
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        let n = self.pending[0].len();
        let s = &mut self.scratch;
        for c in &mut s.chans {
            c.clear();
        }
        for i in 0..n {
            let l = self.pending[0][i] as i64;
            let r = self.pending[1][i] as i64;
            s.chans[0].push(l);
            s.chans[1].push(r);
            s.chans[2].push((l + r) >> 1);
            s.chans[3].push(l - r);
        }
        let bps = self.bits;
        let mut plans: Vec<(Sub, u64)> = Vec::with_capacity(4);
        for c in 0..4 {
            let w = if c == 3 { bps + 1 } else { bps };
            let (chans, residual) = (&s.chans, &mut s.residual);
            plans.push(plan(&chans[c], w, residual, &mut s.best));
        }
        // 0: L/R independent, 8: left/side, 9: side/right, 10: mid/side.
        let options = [
            (1u8, [0usize, 1], plans[0].1 + plans[1].1),
            (8, [0, 3], plans[0].1 + plans[3].1),
            (9, [3, 1], plans[3].1 + plans[1].1),
            (10, [2, 3], plans[2].1 + plans[3].1),
        ];
        let (assignment, chans, _) = options
            .iter()
            .min_by_key(|o| o.2)
            .copied()
            .expect("four options");

        let start = out.len();
        let header = frame_header(self.rate, self.bits, self.frame, n, assignment);
        let s = &mut self.scratch;
        let mut b = Bits::new(std::mem::take(out));
        for &bytes in &header {
            b.put(bytes as u64, 8);
        }
        for c in chans {
            let w = if c == 3 { bps + 1 } else { bps };
            write_sub(&mut b, &plans[c].0, &s.chans[c], w, &mut s.residual);
        }
        let mut buf = b.finish();
        let crc = crc16(&self.crc, &buf[start..]);
        buf.extend_from_slice(&crc.to_be_bytes());
        *out = buf;
        let size = out.len() - start;
        self.min_frame = self.min_frame.min(size);
        self.max_frame = self.max_frame.max(size);
        self.frame += 1;
        self.pending[0].clear();
        self.pending[1].clear();
    }
}

/// A frame's header with its CRC-8.
fn frame_header(rate: u32, bits: u32, frame: u64, n: usize, assignment: u8) -> Vec<u8> {
    let mut h = vec![0xff, 0xf8];
    let (size_code, size_extra): (u8, Vec<u8>) = if n == BLOCK {
        (12, Vec::new())
    } else if n <= 256 {
        (6, vec![(n - 1) as u8])
    } else {
        (7, ((n - 1) as u16).to_be_bytes().to_vec())
    };
    let rate_code: u8 = match rate {
        88_200 => 1,
        176_400 => 2,
        192_000 => 3,
        8_000 => 4,
        16_000 => 5,
        22_050 => 6,
        24_000 => 7,
        32_000 => 8,
        44_100 => 9,
        48_000 => 10,
        96_000 => 11,
        _ => 0,
    };
    h.push((size_code << 4) | rate_code);
    let bits_code: u8 = match bits {
        8 => 1,
        12 => 2,
        16 => 4,
        20 => 5,
        24 => 6,
        32 => 7,
        _ => 0,
    };
    h.push((assignment << 4) | (bits_code << 1));
    h.extend(utf8_number(frame));
    h.extend(size_extra);
    let c = crc8(&h);
    h.push(c);
    h
}

/// FLAC's "UTF-8" coding of a frame number.
fn utf8_number(v: u64) -> Vec<u8> {
    if v < 0x80 {
        return vec![v as u8];
    }
    let extra = match v {
        0x80..0x800 => 1,
        0x800..0x1_0000 => 2,
        0x1_0000..0x20_0000 => 3,
        0x20_0000..0x400_0000 => 4,
        0x400_0000..0x8000_0000 => 5,
        _ => 6,
    };
    let mut out = Vec::with_capacity(extra + 1);
    let lead_bits = 6 - extra as u32;
    let lead_mark: u8 = !(0xffu8 >> (extra + 1));
    out.push(lead_mark | ((v >> (6 * extra)) as u8 & ((1u8 << lead_bits) - 1)));
    for k in (0..extra).rev() {
        out.push(0x80 | ((v >> (6 * k)) & 0x3f) as u8);
    }
    out
}

/// Residual of fixed predictor `order` for samples `order..`.
fn fixed_residual(x: &[i64], order: usize, out: &mut Vec<i64>) {
    out.clear();
    let n = x.len();
    if n <= order {
        return;
    }
    match order {
        0 => out.extend_from_slice(x),
        1 => out.extend((1..n).map(|i| x[i] - x[i - 1])),
        2 => out.extend((2..n).map(|i| x[i] - 2 * x[i - 1] + x[i - 2])),
        3 => out.extend((3..n).map(|i| x[i] - 3 * x[i - 1] + 3 * x[i - 2] - x[i - 3])),
        _ => {
            out.extend((4..n).map(|i| x[i] - 4 * x[i - 1] + 6 * x[i - 2] - 4 * x[i - 3] + x[i - 4]))
        }
    }
}

#[inline]
fn zigzag(r: i64) -> u64 {
    ((r << 1) ^ (r >> 63)) as u64
}

/// Best Rice parameter for `count` values summing (zigzagged) to `sum`, and its bit cost.
fn rice_param(sum: u64, count: u64, max: u32) -> (u32, u64) {
    if count == 0 {
        return (0, 0);
    }
    let mean = sum / count;
    let guess = if mean == 0 {
        0
    } else {
        63 - mean.leading_zeros()
    };
    let mut best = (0, u64::MAX);
    for k in guess.saturating_sub(1)..=(guess + 1).min(max) {
        let bits = count * (k as u64 + 1) + (sum >> k);
        if bits < best.1 {
            best = (k, bits);
        }
    }
    best
}

/// The partitioned Rice coding of `residual` (for a block of `n` samples
/// with a predictor of `order`), and its size in bits.
fn rice(residual: &[i64], n: usize, order: usize) -> (Rice, u64) {
    // Sums per finest partition, merged upwards.
    let mut max_order = 0;
    while max_order < MAX_PARTITION_ORDER
        && n % (1 << (max_order + 1)) == 0
        && (n >> (max_order + 1)) > order
    {
        max_order += 1;
    }
    let parts = 1usize << max_order;
    let len = n >> max_order;
    let mut sums = vec![0u64; parts];
    let mut counts = vec![0u64; parts];
    for (i, &r) in residual.iter().enumerate() {
        let p = (i + order) / len;
        sums[p] += zigzag(r);
        counts[p] += 1;
    }
    let mut best: Option<(Rice, u64)> = None;
    let mut po = max_order;
    loop {
        let mut params = Vec::with_capacity(sums.len());
        let mut bits = 0u64;
        for (s, c) in sums.iter().zip(&counts) {
            let (k, b) = rice_param(*s, *c, 30);
            params.push(k);
            bits += b;
        }
        let wide = params.iter().any(|&k| k > 14);
        bits += 2 + 4 + params.len() as u64 * if wide { 5 } else { 4 };
        if best.as_ref().is_none_or(|b| bits < b.1) {
            best = Some((
                Rice {
                    partition_order: po,
                    params,
                    wide,
                },
                bits,
            ));
        }
        if po == 0 {
            break;
        }
        po -= 1;
        sums = sums.chunks(2).map(|c| c[0] + c[1]).collect();
        counts = counts.chunks(2).map(|c| c[0] + c[1]).collect();
    }
    best.expect("at least one partition order")
}

/// How to code one channel, and the subframe's size in bits.
fn plan(x: &[i64], bps: u32, residual: &mut Vec<i64>, best_res: &mut Vec<i64>) -> (Sub, u64) {
    let n = x.len();
    if x.iter().all(|&v| v == x[0]) {
        return (Sub::Constant(x[0]), 8 + bps as u64);
    }
    let verbatim = 8 + n as u64 * bps as u64;
    // The order whose residual is smallest (sum of magnitudes, after 4 samples).
    let mut best_order = 0;
    let mut best_sum = u64::MAX;
    for order in 0..=4.min(n.saturating_sub(1)) {
        fixed_residual(x, order, residual);
        let skip = 4usize.saturating_sub(order).min(residual.len());
        let s: u64 = residual[skip..].iter().map(|r| r.unsigned_abs()).sum();
        if s < best_sum {
            best_sum = s;
            best_order = order;
            std::mem::swap(residual, best_res);
        }
    }
    let (r, bits) = rice(best_res, n, best_order);
    let fixed = 8 + best_order as u64 * bps as u64 + bits;
    if fixed < verbatim {
        (
            Sub::Fixed {
                order: best_order,
                rice: r,
            },
            fixed,
        )
    } else {
        (Sub::Verbatim, verbatim)
    }
}

fn write_sub(b: &mut Bits, sub: &Sub, x: &[i64], bps: u32, residual: &mut Vec<i64>) {
    match sub {
        Sub::Constant(v) => {
            b.put(0, 8);
            b.signed(*v, bps);
        }
        Sub::Verbatim => {
            b.put(0b0000_0010, 8);
            for &v in x {
                b.signed(v, bps);
            }
        }
        Sub::Fixed { order, rice } => {
            b.put((0b0000_1000 | *order as u64) << 1, 8);
            for &v in &x[..*order] {
                b.signed(v, bps);
            }
            fixed_residual(x, *order, residual);
            b.put(rice.wide as u64, 2);
            b.put(rice.partition_order as u64, 4);
            let len = x.len() >> rice.partition_order;
            let mut at = 0;
            for (p, &k) in rice.params.iter().enumerate() {
                let count = if p == 0 { len - order } else { len };
                b.put(k as u64, if rice.wide { 5 } else { 4 });
                for &r in &residual[at..at + count] {
                    let u = zigzag(r);
                    b.zeros(u >> k);
                    b.put(1, 1);
                    b.put(u, k);
                }
                at += count;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crcs_match_the_check_values() {
        // CRC-8 (poly 0x07) and CRC-16/UMTS-style (poly 0x8005, init 0) of "123456789".
        assert_eq!(crc8(b"123456789"), 0xf4);
        assert_eq!(crc16(&crc16_table(), b"123456789"), 0xfee8);
    }

    #[test]
    fn frame_numbers_in_flacs_utf8() {
        assert_eq!(utf8_number(0x7f), [0x7f]);
        assert_eq!(utf8_number(0x80), [0xc2, 0x80]);
        assert_eq!(utf8_number(0x7ff), [0xdf, 0xbf]);
        assert_eq!(utf8_number(0x800), [0xe0, 0xa0, 0x80]);
        assert_eq!(utf8_number(0x1_0000), [0xf0, 0x90, 0x80, 0x80]);
    }

    #[test]
    fn vorbis_comment_layout() {
        let b = vorbis_comment("v", &[("isrc".into(), "USS1Z2600001".into())]);
        assert_eq!(&b[..4], &1u32.to_le_bytes());
        assert_eq!(b[4], b'v');
        assert_eq!(&b[5..9], &1u32.to_le_bytes());
        assert_eq!(&b[9..13], &17u32.to_le_bytes());
        assert_eq!(&b[13..], b"ISRC=USS1Z2600001");
    }
}
