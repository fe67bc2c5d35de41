//! Message templates: binary (SysEx, binary serial) and text (ASCII serial).
//!
//! One small language for both directions: a template renders the bytes to
//! send, and the same template read as a pattern picks the value out of a
//! reply, so a profile states each message format exactly once.

use std::fmt::Write as _;

/// How the value is laid out in a binary message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueBytes {
    /// `{value}`: one byte, 0..127 in MIDI, 0..255 on a serial line.
    Byte,
    /// `{value:14}`: two 7-bit bytes, most significant first.
    Bits14Msb,
    /// `{value:14lsb}`: two 7-bit bytes, least significant first.
    Bits14Lsb,
    /// `{value:nibN}`: N bytes of 4 bits each, most significant first (Yamaha/Roland style).
    Nibbles(u8),
    /// `{value:16be}`: two 8-bit bytes, big endian (serial only).
    Be16,
    /// `{value:16le}`: two 8-bit bytes, little endian (serial only).
    Le16,
}

impl ValueBytes {
    /// Largest value the layout can carry.
    pub fn max(self, midi: bool) -> i64 {
        match self {
            ValueBytes::Byte if midi => 127,
            ValueBytes::Byte => 255,
            ValueBytes::Bits14Msb | ValueBytes::Bits14Lsb => 16383,
            ValueBytes::Nibbles(n) => (1i64 << (4 * n as u32)) - 1,
            ValueBytes::Be16 | ValueBytes::Le16 => 65535,
        }
    }

    /// Number of bytes the value takes.
    pub fn byte_len(self) -> usize {
        match self {
            ValueBytes::Byte => 1,
            ValueBytes::Nibbles(n) => n as usize,
            _ => 2,
        }
    }

    fn write(self, v: i64, out: &mut Vec<u8>) {
        let v = v as u64;
        match self {
            ValueBytes::Byte => out.push(v as u8),
            ValueBytes::Bits14Msb => out.extend([(v >> 7) as u8 & 0x7F, v as u8 & 0x7F]),
            ValueBytes::Bits14Lsb => out.extend([v as u8 & 0x7F, (v >> 7) as u8 & 0x7F]),
            ValueBytes::Nibbles(n) => {
                for i in (0..n as u32).rev() {
                    out.push((v >> (4 * i)) as u8 & 0x0F);
                }
            }
            ValueBytes::Be16 => out.extend([(v >> 8) as u8, v as u8]),
            ValueBytes::Le16 => out.extend([v as u8, (v >> 8) as u8]),
        }
    }

    fn read(self, b: &[u8]) -> Option<i64> {
        let b = b.get(..self.byte_len())?;
        Some(match self {
            ValueBytes::Byte => b[0] as i64,
            ValueBytes::Bits14Msb => ((b[0] as i64 & 0x7F) << 7) | (b[1] as i64 & 0x7F),
            ValueBytes::Bits14Lsb => ((b[1] as i64 & 0x7F) << 7) | (b[0] as i64 & 0x7F),
            ValueBytes::Nibbles(_) => b.iter().fold(0, |acc, &x| (acc << 4) | (x as i64 & 0x0F)),
            ValueBytes::Be16 => ((b[0] as i64) << 8) | b[1] as i64,
            ValueBytes::Le16 => ((b[1] as i64) << 8) | b[0] as i64,
        })
    }
}

/// One element of a binary template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinToken {
    /// A literal byte (`F0`, `0x41`).
    Byte(u8),
    /// `{dev}`: the device id (SysEx) or bus address (RS-485).
    Dev,
    /// `{ch}`: the MIDI channel, 0..15.
    Chan,
    /// `{addr}`: the parameter's address bytes.
    Addr,
    /// The value in one of the layouts.
    Value(ValueBytes),
    /// `{roland}`: Roland checksum over the bytes since the last `|`.
    Roland,
    /// `{xor}`: XOR of the bytes since the last `|`.
    Xor,
    /// `|`: start of the checksummed bytes; renders nothing.
    Mark,
    /// `{any}`: in a pattern, one byte whose value does not matter.
    Any,
}

/// A parsed binary template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinTemplate {
    /// Tokens in order.
    pub tokens: Vec<BinToken>,
    /// SysEx template: data bytes must stay below 0x80.
    pub midi: bool,
}

/// What a binary template is filled with.
#[derive(Debug, Clone, Copy, Default)]
pub struct BinFill<'a> {
    /// Device id or bus address.
    pub dev: u8,
    /// MIDI channel 0..15.
    pub chan: u8,
    /// Parameter address bytes.
    pub addr: &'a [u8],
    /// Device integer value, if the template carries one.
    pub value: Option<i64>,
}

/// Why a pattern did not match some bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMatch {
    /// The bytes so far fit, but more are needed.
    Incomplete,
    /// A byte differs from the pattern.
    Mismatch,
    /// Everything fits except the checksum.
    Checksum,
}

/// Roland checksum: the sum of the covered bytes, negated modulo 128.
pub fn roland_checksum(bytes: &[u8]) -> u8 {
    let sum: u32 = bytes.iter().map(|&b| b as u32).sum();
    ((128 - (sum % 128)) & 0x7F) as u8
}

/// XOR of all covered bytes.
pub fn xor_checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, &b| a ^ b)
}

impl BinTemplate {
    /// Parses whitespace-separated hex bytes and placeholders.
    pub fn parse(text: &str, midi: bool) -> Result<Self, String> {
        let mut tokens = Vec::new();
        for word in text.split_whitespace() {
            let tok = if word == "|" {
                BinToken::Mark
            } else if let Some(inner) = word.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                match inner {
                    "dev" => BinToken::Dev,
                    "ch" => BinToken::Chan,
                    "addr" => BinToken::Addr,
                    "value" => BinToken::Value(ValueBytes::Byte),
                    "value:14" => BinToken::Value(ValueBytes::Bits14Msb),
                    "value:14lsb" => BinToken::Value(ValueBytes::Bits14Lsb),
                    "value:16be" if !midi => BinToken::Value(ValueBytes::Be16),
                    "value:16le" if !midi => BinToken::Value(ValueBytes::Le16),
                    "roland" => BinToken::Roland,
                    "xor" => BinToken::Xor,
                    "any" => BinToken::Any,
                    other => match other.strip_prefix("value:nib").map(str::parse::<u8>) {
                        Some(Ok(n)) if (1..=8).contains(&n) => {
                            BinToken::Value(ValueBytes::Nibbles(n))
                        }
                        _ => return Err(format!("unknown placeholder {word}")),
                    },
                }
            } else {
                let hex = word.strip_prefix("0x").unwrap_or(word);
                match u8::from_str_radix(hex, 16) {
                    Ok(b) if hex.len() <= 2 => BinToken::Byte(b),
                    _ => return Err(format!("{word:?} is neither a hex byte nor a placeholder")),
                }
            };
            tokens.push(tok);
        }
        if tokens.is_empty() {
            return Err("template is empty".into());
        }
        let t = BinTemplate { tokens, midi };
        if midi {
            t.check_sysex()?;
        }
        let values = t
            .tokens
            .iter()
            .filter(|t| matches!(t, BinToken::Value(_)))
            .count();
        if values > 1 {
            return Err("template has more than one {value}".into());
        }
        Ok(t)
    }

    fn check_sysex(&self) -> Result<(), String> {
        let n = self.tokens.len();
        if self.tokens.first() != Some(&BinToken::Byte(0xF0))
            || self.tokens.last() != Some(&BinToken::Byte(0xF7))
        {
            return Err("a SysEx template starts with F0 and ends with F7".into());
        }
        for t in &self.tokens[1..n - 1] {
            if let BinToken::Byte(b) = t
                && *b > 0x7F
            {
                return Err(format!("SysEx data byte {b:02X} is above 7F"));
            }
        }
        Ok(())
    }

    /// The value layout, if the template carries a value.
    pub fn value_layout(&self) -> Option<ValueBytes> {
        self.tokens.iter().find_map(|t| match t {
            BinToken::Value(v) => Some(*v),
            _ => None,
        })
    }

    /// Whether a placeholder is used.
    pub fn uses(&self, tok: &BinToken) -> bool {
        self.tokens.contains(tok)
    }

    fn sum_start(&self, out: &[u8], mark: Option<usize>) -> usize {
        match mark {
            Some(m) => m,
            None if self.midi && out.first() == Some(&0xF0) => 1,
            None => 0,
        }
    }

    /// Renders the bytes to send.
    pub fn render(&self, fill: &BinFill<'_>) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut mark = None;
        for t in &self.tokens {
            match t {
                BinToken::Byte(b) => out.push(*b),
                BinToken::Dev => out.push(fill.dev),
                BinToken::Chan => out.push(fill.chan & 0x0F),
                BinToken::Addr => out.extend_from_slice(fill.addr),
                BinToken::Value(layout) => {
                    let v = fill.value.ok_or("template needs a value")?;
                    if !(0..=layout.max(self.midi)).contains(&v) {
                        return Err(format!(
                            "value {v} does not fit 0..{}",
                            layout.max(self.midi)
                        ));
                    }
                    layout.write(v, &mut out);
                }
                BinToken::Roland => {
                    let start = self.sum_start(&out, mark);
                    out.push(roland_checksum(&out[start..]));
                }
                BinToken::Xor => {
                    let start = self.sum_start(&out, mark);
                    out.push(xor_checksum(&out[start..]));
                }
                BinToken::Mark => mark = Some(out.len()),
                BinToken::Any => out.push(0),
            }
        }
        if self.midi && out[1..out.len() - 1].iter().any(|&b| b > 0x7F) {
            return Err("device id or address byte above 7F in a SysEx message".into());
        }
        Ok(out)
    }

    /// Matches the start of `bytes`; returns the value (if any) and the length matched.
    pub fn match_prefix(
        &self,
        bytes: &[u8],
        fill: &BinFill<'_>,
    ) -> Result<(Option<i64>, usize), NoMatch> {
        let mut pos = 0;
        let mut mark = None;
        let mut value = None;
        let mut checksum_bad = false;
        let expect = |pos: &mut usize, want: &[u8]| -> Result<(), NoMatch> {
            for &w in want {
                match bytes.get(*pos) {
                    None => return Err(NoMatch::Incomplete),
                    Some(&b) if b != w => return Err(NoMatch::Mismatch),
                    Some(_) => *pos += 1,
                }
            }
            Ok(())
        };
        for t in &self.tokens {
            match t {
                BinToken::Byte(b) => expect(&mut pos, &[*b])?,
                BinToken::Dev => expect(&mut pos, &[fill.dev])?,
                BinToken::Chan => expect(&mut pos, &[fill.chan & 0x0F])?,
                BinToken::Addr => expect(&mut pos, fill.addr)?,
                BinToken::Value(layout) => {
                    let v = layout
                        .read(&bytes[pos.min(bytes.len())..])
                        .ok_or(NoMatch::Incomplete)?;
                    pos += layout.byte_len();
                    value = Some(v);
                }
                BinToken::Roland | BinToken::Xor => {
                    let start = self.sum_start(&bytes[..pos], mark);
                    let want = if *t == BinToken::Roland {
                        roland_checksum(&bytes[start..pos])
                    } else {
                        xor_checksum(&bytes[start..pos])
                    };
                    match bytes.get(pos) {
                        None => return Err(NoMatch::Incomplete),
                        Some(&b) => checksum_bad |= b != want,
                    }
                    pos += 1;
                }
                BinToken::Mark => mark = Some(pos),
                BinToken::Any => {
                    if pos >= bytes.len() {
                        return Err(NoMatch::Incomplete);
                    }
                    pos += 1;
                }
            }
        }
        if checksum_bad {
            return Err(NoMatch::Checksum);
        }
        Ok((value, pos))
    }
}

/// How a number is printed in a text template (`{value:+06.1}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NumFormat {
    /// Always print a sign.
    pub sign: bool,
    /// Pad with zeros instead of spaces.
    pub zero: bool,
    /// Minimum width.
    pub width: usize,
    /// Digits after the point; `None` prints integers as integers.
    pub precision: Option<usize>,
    /// Print integers in hex (`{value:02X}`).
    pub hex: bool,
}

impl NumFormat {
    fn parse(spec: &str) -> Option<NumFormat> {
        let mut f = NumFormat::default();
        let mut s = spec;
        if let Some(rest) = s.strip_prefix('+') {
            f.sign = true;
            s = rest;
        }
        if let Some(rest) = s.strip_suffix('X') {
            f.hex = true;
            s = rest;
        }
        let (w, p) = match s.split_once('.') {
            Some((w, p)) => (w, Some(p)),
            None => (s, None),
        };
        if w.starts_with('0') && w.len() > 1 {
            f.zero = true;
        }
        if !w.is_empty() {
            f.width = w.parse().ok()?;
        }
        if let Some(p) = p {
            f.precision = Some(p.parse().ok()?);
        }
        if f.hex && (f.precision.is_some() || f.sign)
            || f.width > 64
            || f.precision.is_some_and(|p| p > 17)
        {
            return None;
        }
        Some(f)
    }

    /// Prints a number.
    pub fn format(&self, x: f64) -> String {
        let body = if self.hex {
            format!("{:X}", x.round().max(0.0) as i64)
        } else {
            match self.precision {
                Some(p) => format!("{:.*}", p, x.abs()),
                None if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x.abs() as i64),
                None => format!("{}", x.abs()),
            }
        };
        let sign = if x < 0.0 && !self.hex {
            "-"
        } else if self.sign {
            "+"
        } else {
            ""
        };
        let len = sign.len() + body.len();
        let pad = self.width.saturating_sub(len);
        let mut out = String::new();
        if self.zero {
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', pad));
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(sign);
        }
        out.push_str(&body);
        out
    }

    /// Reads a number printed this way.
    pub fn read(&self, s: &str) -> Option<f64> {
        let s = s.trim();
        if self.hex {
            return i64::from_str_radix(s, 16).ok().map(|v| v as f64);
        }
        s.strip_prefix('+')
            .unwrap_or(s)
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
    }
}

/// One element of a text template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextToken {
    /// Literal text.
    Lit(String),
    /// `{dev}` / `{dev:02}`: the bus address.
    Dev(NumFormat),
    /// `{code}`: the parameter's command code.
    Code,
    /// `{value}` / `{value:03}` / `{value:.1}`: the value (a label for enums without numbers).
    Value(NumFormat),
    /// `{any}`: in a pattern, any text.
    Any,
}

/// A parsed text template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextTemplate {
    /// Tokens in order.
    pub tokens: Vec<TextToken>,
}

/// A value as the device writes it: an integer, a decimal or a word.
#[derive(Debug, Clone, PartialEq)]
pub enum TextValue<'a> {
    /// A number, printed with the placeholder's format.
    Num(f64),
    /// A word (enum label), printed as is.
    Word(&'a str),
}

impl TextTemplate {
    /// Parses literal text with `{…}` placeholders; `{{` and `}}` are braces.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut tokens = Vec::new();
        let mut lit = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    lit.push('}');
                }
                '}' => return Err("unmatched '}' (write '}}' for a brace)".into()),
                '{' => {
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => inner.push(c),
                            None => return Err("unclosed '{'".into()),
                        }
                    }
                    if !lit.is_empty() {
                        tokens.push(TextToken::Lit(std::mem::take(&mut lit)));
                    }
                    let (name, spec) = match inner.split_once(':') {
                        Some((n, s)) => (n, Some(s)),
                        None => (inner.as_str(), None),
                    };
                    let fmt = || match spec {
                        None => Ok(NumFormat::default()),
                        Some(s) => NumFormat::parse(s)
                            .ok_or_else(|| format!("bad number format {{{inner}}}")),
                    };
                    tokens.push(match name {
                        "dev" => TextToken::Dev(fmt()?),
                        "value" => TextToken::Value(fmt()?),
                        "code" if spec.is_none() => TextToken::Code,
                        "any" if spec.is_none() => TextToken::Any,
                        _ => return Err(format!("unknown placeholder {{{inner}}}")),
                    });
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            tokens.push(TextToken::Lit(lit));
        }
        if tokens.is_empty() {
            return Err("template is empty".into());
        }
        for pair in tokens.windows(2) {
            let capture = |t: &TextToken| {
                matches!(t, TextToken::Dev(_) | TextToken::Value(_) | TextToken::Any)
            };
            if capture(&pair[0]) && capture(&pair[1]) {
                return Err("two placeholders need text between them to be read back".into());
            }
        }
        Ok(TextTemplate { tokens })
    }

    /// Whether the template has a `{value}`.
    pub fn has_value(&self) -> bool {
        self.tokens.iter().any(|t| matches!(t, TextToken::Value(_)))
    }

    /// Whether the template has a `{code}`.
    pub fn has_code(&self) -> bool {
        self.tokens.contains(&TextToken::Code)
    }

    /// Renders the text to send.
    pub fn render(
        &self,
        dev: i64,
        code: &str,
        value: Option<&TextValue<'_>>,
    ) -> Result<String, String> {
        let mut out = String::new();
        for t in &self.tokens {
            match t {
                TextToken::Lit(s) => out.push_str(s),
                TextToken::Dev(f) => out.push_str(&f.format(dev as f64)),
                TextToken::Code => out.push_str(code),
                TextToken::Value(f) => match value {
                    Some(TextValue::Num(x)) => out.push_str(&f.format(*x)),
                    Some(TextValue::Word(w)) => {
                        let _ = write!(out, "{w:>width$}", width = f.width);
                    }
                    None => return Err("template needs a value".into()),
                },
                // Patterns rendered as a device's report (simulator) fill {any} with a digit.
                TextToken::Any => out.push('0'),
            }
        }
        Ok(out)
    }

    /// Matches a whole reply; returns the text of `{value}` (empty if none).
    pub fn match_text(&self, s: &str, dev: i64, code: &str) -> Option<String> {
        let mut pos = 0;
        let mut captured = String::new();
        for (i, t) in self.tokens.iter().enumerate() {
            let fixed = |t: &TextToken| match t {
                TextToken::Lit(l) => Some(l.clone()),
                TextToken::Code => Some(code.to_string()),
                _ => None,
            };
            if let Some(l) = fixed(t) {
                if !s[pos..].starts_with(&l) {
                    return None;
                }
                pos += l.len();
                continue;
            }
            let end = match self.tokens.get(i + 1).and_then(fixed) {
                Some(next) if !next.is_empty() => pos + s[pos..].find(&next)?,
                _ => s.len(),
            };
            let text = &s[pos..end];
            match t {
                TextToken::Dev(f) if f.read(text)? != dev as f64 => {
                    return None;
                }
                TextToken::Value(_) => captured = text.trim().to_string(),
                _ => {}
            }
            pos = end;
        }
        (pos == s.len()).then_some(captured)
    }

    /// The number format of `{value}`.
    pub fn value_format(&self) -> NumFormat {
        self.tokens
            .iter()
            .find_map(|t| match t {
                TextToken::Value(f) => Some(*f),
                _ => None,
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roland_checksum_matches_hand_computed() {
        // 40 00 7F 00 (GS reset address + data): sum 0xBF = 191; 191 % 128 = 63; 128 - 63 = 65 = 0x41.
        assert_eq!(roland_checksum(&[0x40, 0x00, 0x7F, 0x00]), 0x41);
        // Sum a multiple of 128 gives 0, not 128.
        assert_eq!(roland_checksum(&[0x40, 0x40]), 0x00);
        assert_eq!(
            xor_checksum(&[0x01, 0x10, 0x22, 0x03]),
            0x01 ^ 0x10 ^ 0x22 ^ 0x03
        );
    }

    #[test]
    fn sysex_render_and_match() {
        let t = BinTemplate::parse("F0 41 {dev} 42 12 | {addr} {value} {roland} F7", true).unwrap();
        let fill = BinFill {
            dev: 0x10,
            chan: 0,
            addr: &[0x40, 0x00, 0x7F],
            value: Some(0),
        };
        let bytes = t.render(&fill).unwrap();
        assert_eq!(
            bytes,
            [
                0xF0, 0x41, 0x10, 0x42, 0x12, 0x40, 0x00, 0x7F, 0x00, 0x41, 0xF7
            ]
        );
        assert_eq!(t.match_prefix(&bytes, &fill), Ok((Some(0), 11)));
        let mut bad = bytes.clone();
        bad[9] = 0x42;
        assert_eq!(t.match_prefix(&bad, &fill), Err(NoMatch::Checksum));
        assert_eq!(t.match_prefix(&bytes[..5], &fill), Err(NoMatch::Incomplete));
        assert!(BinTemplate::parse("F0 41 {device} F7", true).is_err());
        assert!(BinTemplate::parse("F0 41 90 F7", true).is_err());
        assert!(BinTemplate::parse("41 {value} F7", true).is_err());
    }

    #[test]
    fn value_layouts() {
        let mut out = Vec::new();
        ValueBytes::Nibbles(4).write(0x1234, &mut out);
        assert_eq!(out, [1, 2, 3, 4]);
        assert_eq!(ValueBytes::Nibbles(4).read(&out), Some(0x1234));
        out.clear();
        ValueBytes::Bits14Msb.write(8192, &mut out);
        assert_eq!(out, [0x40, 0x00]);
        out.clear();
        ValueBytes::Bits14Lsb.write(8193, &mut out);
        assert_eq!(out, [0x01, 0x40]);
        out.clear();
        ValueBytes::Le16.write(0x1234, &mut out);
        assert_eq!(out, [0x34, 0x12]);
    }

    #[test]
    fn text_render_and_match() {
        let t = TextTemplate::parse("SET {dev:02} {code} {value:+06.1}\r").unwrap();
        let s = t.render(3, "G1", Some(&TextValue::Num(-3.5))).unwrap();
        assert_eq!(s, "SET 03 G1 -003.5\r");
        let r = TextTemplate::parse("VAL {dev:02} {code} {value}").unwrap();
        assert_eq!(
            r.match_text("VAL 03 G1 -3.5", 3, "G1").as_deref(),
            Some("-3.5")
        );
        assert_eq!(r.match_text("VAL 04 G1 -3.5", 3, "G1"), None);
        assert_eq!(r.match_text("VAL 03 G2 -3.5", 3, "G1"), None);
        assert!(TextTemplate::parse("SET {vlaue}").is_err());
        assert!(TextTemplate::parse("SET {value}{dev}").is_err());
        let hex = TextTemplate::parse("L{value:02X}").unwrap();
        assert_eq!(
            hex.render(0, "", Some(&TextValue::Num(10.0))).unwrap(),
            "L0A"
        );
    }
}
