//! MIDI encodings: 7-bit and 14-bit CC, NRPN/RPN, program change, SysEx
//! templates with checksums, the universal identity request, and a decoder
//! that turns what a device sends back into parameter values.

use super::{Command, DecodeError, DeviceCtx, EncodeError, Raw, from_raw};
use crate::param::Value;
use crate::profile::template::{BinFill, BinTemplate, NoMatch};
use crate::profile::{ByteOrder, MidiMap, MidiTransport, ParamDef, Profile};

/// Largest device value a mapping's encoding carries.
pub(crate) fn capacity(m: &MidiMap) -> i64 {
    if m.cc14.is_some() || ((m.nrpn.is_some() || m.rpn.is_some()) && m.bits == 14) {
        16383
    } else if let Some(t) = m
        .sysex
        .as_ref()
        .and_then(|s| BinTemplate::parse(s, true).ok())
    {
        t.value_layout().map_or(127, |l| l.max(true))
    } else {
        127
    }
}

/// Appends a control change, leaving out the status byte when running status allows.
fn push_cc(out: &mut Vec<u8>, running: bool, ch: u8, cc: u8, v: u8) {
    let status = 0xB0 | (ch & 0x0F);
    if !(running && out.first() == Some(&status)) {
        out.push(status);
    }
    out.extend([cc & 0x7F, v & 0x7F]);
}

/// The bytes that set a mapping to a device value.
pub(crate) fn encode(
    profile: &Profile,
    def: &ParamDef,
    m: &MidiMap,
    raw: &Raw,
    ctx: &DeviceCtx,
) -> Result<Vec<u8>, EncodeError> {
    let t = profile.midi.clone().unwrap_or_default();
    let v = match raw {
        Raw::Int(i) => *i,
        Raw::Float(x) => x.round() as i64,
        Raw::Text(_) => 0,
    }
    .clamp(0, capacity(m));
    let ch = ctx.channel & 0x0F;
    let mut out = Vec::new();
    if let Some(cc) = m.cc {
        push_cc(&mut out, false, ch, cc, v as u8);
    } else if let Some(cc) = m.cc14 {
        let (msb, lsb) = ((v >> 7) as u8, (v & 0x7F) as u8);
        match t.cc14_order {
            ByteOrder::MsbFirst => {
                push_cc(&mut out, t.running_status, ch, cc, msb);
                push_cc(&mut out, t.running_status, ch, cc + 32, lsb);
            }
            ByteOrder::LsbFirst => {
                push_cc(&mut out, t.running_status, ch, cc + 32, lsb);
                push_cc(&mut out, t.running_status, ch, cc, msb);
            }
        }
    } else if let Some((n, (c_msb, c_lsb))) = m
        .nrpn
        .map(|n| (n, (99, 98)))
        .or(m.rpn.map(|n| (n, (101, 100))))
    {
        push_cc(&mut out, t.running_status, ch, c_msb, (n >> 7) as u8);
        push_cc(&mut out, t.running_status, ch, c_lsb, (n & 0x7F) as u8);
        if m.bits == 7 {
            push_cc(&mut out, t.running_status, ch, 6, v as u8);
        } else {
            push_cc(&mut out, t.running_status, ch, 6, (v >> 7) as u8);
            push_cc(&mut out, t.running_status, ch, 38, (v & 0x7F) as u8);
        }
    } else if m.program {
        out.extend([0xC0 | ch, v as u8]);
    } else if let Some(s) = &m.sysex {
        out = render(s, m, Some(v), ctx).map_err(|message| EncodeError::Template {
            param: def.id.clone(),
            message,
        })?;
    } else {
        return Err(EncodeError::NoMapping {
            param: def.id.clone(),
        });
    }
    Ok(out)
}

fn render(
    template: &str,
    m: &MidiMap,
    value: Option<i64>,
    ctx: &DeviceCtx,
) -> Result<Vec<u8>, String> {
    BinTemplate::parse(template, true)?.render(&BinFill {
        dev: ctx.device_id,
        chan: ctx.channel,
        addr: &m.address,
        value,
    })
}

/// The SysEx report (`reply` pattern) carrying a device value.
pub(crate) fn encode_reply(
    def: &ParamDef,
    m: &MidiMap,
    raw: &Raw,
    ctx: &DeviceCtx,
) -> Result<Vec<u8>, EncodeError> {
    let v = match raw {
        Raw::Int(i) => *i,
        Raw::Float(x) => x.round() as i64,
        Raw::Text(_) => 0,
    };
    let r = m.reply.as_ref().ok_or_else(|| EncodeError::NoQuery {
        param: def.id.clone(),
    })?;
    render(r, m, Some(v), ctx).map_err(|message| EncodeError::Template {
        param: def.id.clone(),
        message,
    })
}

/// Renders an init message (SysEx or plain hex) that has no value.
pub(crate) fn render_plain(template: &str, ctx: &DeviceCtx) -> Result<Vec<u8>, String> {
    let sysex = template.trim_start().to_ascii_uppercase().starts_with("F0");
    BinTemplate::parse(template, sysex)?.render(&BinFill {
        dev: ctx.device_id,
        chan: ctx.channel,
        addr: &[],
        value: None,
    })
}

/// The SysEx request that asks for a parameter's value.
pub(crate) fn encode_query(def: &ParamDef, ctx: &DeviceCtx) -> Result<Vec<u8>, EncodeError> {
    let m = def.midi.as_ref().ok_or_else(|| EncodeError::NoMapping {
        param: def.id.clone(),
    })?;
    let q = m.query.as_ref().ok_or_else(|| EncodeError::NoQuery {
        param: def.id.clone(),
    })?;
    render(q, m, None, ctx).map_err(|message| EncodeError::Template {
        param: def.id.clone(),
        message,
    })
}

/// Universal non-realtime identity request: `F0 7E <dev> 06 01 F7` (7F asks every device).
pub fn identity_request(device: u8) -> [u8; 6] {
    [0xF0, 0x7E, device & 0x7F, 0x06, 0x01, 0xF7]
}

/// A device's answer to the identity request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityReply {
    /// The device id it answered from.
    pub device: u8,
    /// Manufacturer id: one byte, or three starting with 00.
    pub manufacturer: Vec<u8>,
    /// Device family code (sent LSB first).
    pub family: u16,
    /// Family member (model) code (sent LSB first).
    pub member: u16,
    /// Software revision, four bytes as sent.
    pub version: [u8; 4],
}

/// Reads `F0 7E <dev> 06 02 <mfr 1 or 3> <family 2> <member 2> <version 4> F7`.
pub fn parse_identity_reply(bytes: &[u8]) -> Option<IdentityReply> {
    let rest = bytes.strip_prefix(&[0xF0, 0x7E])?;
    let (&device, rest) = rest.split_first()?;
    let rest = rest.strip_prefix(&[0x06, 0x02])?;
    let mlen = if *rest.first()? == 0 { 3 } else { 1 };
    if rest.len() != mlen + 2 + 2 + 4 + 1
        || rest.last() != Some(&0xF7)
        || rest[..rest.len() - 1].iter().any(|&b| b > 0x7F)
    {
        return None;
    }
    let (manufacturer, rest) = rest.split_at(mlen);
    let word = |lo: u8, hi: u8| lo as u16 | (hi as u16) << 7;
    Some(IdentityReply {
        device,
        manufacturer: manufacturer.to_vec(),
        family: word(rest[0], rest[1]),
        member: word(rest[2], rest[3]),
        version: [rest[4], rest[5], rest[6], rest[7]],
    })
}

/// The identity reply a device described by `transport` sends (simulators).
pub fn identity_reply(transport: &MidiTransport, device: u8) -> Vec<u8> {
    let mut out = vec![0xF0, 0x7E, device & 0x7F, 0x06, 0x02];
    match &transport.identity {
        Some(id) => {
            out.extend(&id.manufacturer);
            for w in [id.family.unwrap_or(0), id.member.unwrap_or(0)] {
                out.extend([(w & 0x7F) as u8, (w >> 7) as u8 & 0x7F]);
            }
        }
        None => out.extend([0x7D, 0, 0, 0, 0]),
    }
    out.extend([0, 0, 0, 0, 0xF7]);
    out
}

impl IdentityReply {
    /// How a reply reads in an error: `manufacturer 7D family 1 member 1`.
    pub fn describe(&self) -> String {
        describe_identity(&self.manufacturer, Some(self.family), Some(self.member))
    }
}

/// The identity a profile expects, as an error message shows it.
pub fn expected_identity(transport: &MidiTransport) -> Option<String> {
    let id = transport.identity.as_ref()?;
    Some(describe_identity(&id.manufacturer, id.family, id.member))
}

fn describe_identity(manufacturer: &[u8], family: Option<u16>, member: Option<u16>) -> String {
    let mut out = format!("manufacturer {}", hex(manufacturer));
    if let Some(f) = family {
        out += &format!(" family {f}");
    }
    if let Some(m) = member {
        out += &format!(" member {m}");
    }
    out
}

/// Whether an identity reply is the device the profile describes.
pub fn identity_matches(transport: &MidiTransport, reply: &IdentityReply) -> bool {
    match &transport.identity {
        None => true,
        Some(id) => {
            id.manufacturer == reply.manufacturer
                && id.family.is_none_or(|f| f == reply.family)
                && id.member.is_none_or(|m| m == reply.member)
        }
    }
}

const MAX_SYSEX: usize = 64 * 1024;

/// Splits a MIDI byte stream into complete messages, resolving running status.
#[derive(Debug, Clone, Default)]
pub struct MidiParser {
    running: Option<u8>,
    current: Vec<u8>,
    in_sysex: bool,
}

fn data_len(status: u8) -> usize {
    match status & 0xF0 {
        0xC0 | 0xD0 => 1,
        0xF0 => match status {
            0xF1 | 0xF3 => 1,
            0xF2 => 2,
            _ => 0,
        },
        _ => 2,
    }
}

impl MidiParser {
    /// A parser with no state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns every message completed by them (realtime bytes dropped).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for &b in bytes {
            if b >= 0xF8 {
                continue;
            }
            if self.in_sysex {
                if b == 0xF7 {
                    self.current.push(b);
                    out.push(std::mem::take(&mut self.current));
                    self.in_sysex = false;
                    continue;
                }
                if b < 0x80 {
                    if self.current.len() < MAX_SYSEX {
                        self.current.push(b);
                    }
                    continue;
                }
                // A status byte inside SysEx ends it unfinished; drop it.
                self.in_sysex = false;
                self.current.clear();
            }
            if b == 0xF0 {
                self.in_sysex = true;
                self.running = None;
                self.current = vec![b];
            } else if b >= 0x80 {
                self.current = vec![b];
                self.running = (b < 0xF0).then_some(b);
                if data_len(b) == 0 {
                    if b != 0xF7 {
                        out.push(vec![b]);
                    }
                    self.current.clear();
                }
            } else {
                if self.current.is_empty() {
                    match self.running {
                        Some(s) => self.current.push(s),
                        None => continue,
                    }
                }
                self.current.push(b);
                if self.current.len() == 1 + data_len(self.current[0]) {
                    out.push(std::mem::take(&mut self.current));
                }
            }
        }
        out
    }
}

/// Splits wire bytes (possibly with running status) into single messages.
pub fn split_messages(bytes: &[u8]) -> Vec<Vec<u8>> {
    MidiParser::new().feed(bytes)
}

/// What a [`MidiDecoder`] remembers between messages: running status, the
/// selected NRPN/RPN and data MSB, 14-bit CC halves. A front-panel move sent
/// as several messages (NRPN: 99, 98, 6, 38) arrives in pieces; keeping this
/// per device between arrivals lets it be decoded whole.
#[derive(Debug, Clone)]
pub struct MidiDecodeState {
    parser: MidiParser,
    /// Selected parameter: (is NRPN, number MSB, number LSB).
    nrpn: Option<(bool, u8, u8)>,
    data_msb: Option<u8>,
    cc14: [Option<u8>; 64],
}

impl Default for MidiDecodeState {
    fn default() -> Self {
        MidiDecodeState {
            parser: MidiParser::new(),
            nrpn: None,
            data_msb: None,
            cc14: [None; 64],
        }
    }
}

/// Turns what a device sends (front-panel moves, SysEx reports) into parameter values.
#[derive(Debug, Clone)]
pub struct MidiDecoder<'a> {
    profile: &'a Profile,
    ctx: DeviceCtx,
    state: MidiDecodeState,
}

impl<'a> MidiDecoder<'a> {
    /// A decoder for one device instance.
    pub fn new(profile: &'a Profile, ctx: DeviceCtx) -> Self {
        Self::resume(profile, ctx, MidiDecodeState::default())
    }

    /// A decoder that goes on from what an earlier one remembered.
    pub fn resume(profile: &'a Profile, ctx: DeviceCtx, state: MidiDecodeState) -> Self {
        MidiDecoder {
            profile,
            ctx,
            state,
        }
    }

    /// What it remembers, to resume with later.
    pub fn into_state(self) -> MidiDecodeState {
        self.state
    }

    /// Feeds bytes from the device; returns the parameter values they carry.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for msg in self.state.parser.feed(bytes) {
            self.message(&msg, &mut out);
        }
        out
    }

    /// Feeds bytes a host sent; returns what they ask the device to do (simulators).
    pub fn feed_commands(&mut self, bytes: &[u8]) -> Vec<Command> {
        let mut out = Vec::new();
        for msg in self.state.parser.feed(bytes) {
            if msg.len() == 6 && msg[..2] == [0xF0, 0x7E] && msg[3..] == [0x06, 0x01, 0xF7] {
                if msg[2] == 0x7F || msg[2] == self.ctx.device_id {
                    out.push(Command::Identity);
                }
                continue;
            }
            if msg[0] == 0xF0
                && let Some(def) = self.profile.params.iter().find(|d| self.is_query(d, &msg))
            {
                out.push(Command::Query {
                    param: def.id.clone(),
                });
                continue;
            }
            let mut sets = Vec::new();
            self.message(&msg, &mut sets);
            out.extend(
                sets.into_iter()
                    .map(|(param, value)| Command::Set { param, value }),
            );
        }
        out
    }

    fn is_query(&self, def: &ParamDef, msg: &[u8]) -> bool {
        let Some(m) = &def.midi else { return false };
        let Some(q) = m
            .query
            .as_ref()
            .and_then(|q| BinTemplate::parse(q, true).ok())
        else {
            return false;
        };
        let fill = BinFill {
            dev: self.ctx.device_id,
            chan: self.ctx.channel,
            addr: &m.address,
            value: None,
        };
        matches!(q.match_prefix(msg, &fill), Ok((_, n)) if n == msg.len())
    }

    fn emit(&self, out: &mut Vec<(String, Value)>, pred: impl Fn(&MidiMap) -> bool, raw: i64) {
        for def in &self.profile.params {
            if def.midi.as_ref().is_some_and(&pred)
                && let Ok(v) = from_raw(self.profile, def, &Raw::Int(raw))
            {
                out.push((def.id.clone(), v));
            }
        }
    }

    fn message(&mut self, msg: &[u8], out: &mut Vec<(String, Value)>) {
        let status = msg[0];
        if status == 0xF0 {
            for def in &self.profile.params {
                if let Ok(v) = decode_sysex(self.profile, def, msg, &self.ctx) {
                    out.push((def.id.clone(), v));
                }
            }
            return;
        }
        if status & 0x0F != self.ctx.channel & 0x0F {
            return;
        }
        match status & 0xF0 {
            0xC0 => self.emit(out, |m| m.program, msg[1] as i64),
            0xB0 => {
                let (cc, v) = (msg[1], msg[2]);
                match cc {
                    99 | 101 => self.select(cc == 99, Some(v), None),
                    98 | 100 => self.select(cc == 98, None, Some(v)),
                    6 | 38 if self.state.nrpn.is_some() => {
                        let Some((is_nrpn, msb, lsb)) = self.state.nrpn else {
                            return;
                        };
                        let n = (msb as u16) << 7 | lsb as u16;
                        let matches = move |m: &MidiMap, bits: u8| {
                            m.bits == bits
                                && if is_nrpn {
                                    m.nrpn == Some(n)
                                } else {
                                    m.rpn == Some(n)
                                }
                        };
                        if cc == 6 {
                            self.state.data_msb = Some(v);
                            self.emit(out, |m| matches(m, 7), v as i64);
                        } else if let Some(msb) = self.state.data_msb {
                            self.emit(out, |m| matches(m, 14), (msb as i64) << 7 | v as i64);
                        }
                    }
                    _ => {
                        self.emit(out, |m| m.cc == Some(cc), v as i64);
                        self.cc14_part(cc, v, out);
                    }
                }
            }
            _ => {}
        }
    }

    fn select(&mut self, nrpn: bool, msb: Option<u8>, lsb: Option<u8>) {
        let (mut m, mut l) = match self.state.nrpn {
            Some((kind, m, l)) if kind == nrpn => (m, l),
            _ => (0, 0),
        };
        m = msb.unwrap_or(m);
        l = lsb.unwrap_or(l);
        self.state.nrpn = Some((nrpn, m, l));
        self.state.data_msb = None;
    }

    fn cc14_part(&mut self, cc: u8, v: u8, out: &mut Vec<(String, Value)>) {
        if cc >= 64 {
            return;
        }
        let order = self
            .profile
            .midi
            .as_ref()
            .map(|m| m.cc14_order)
            .unwrap_or_default();
        let base = cc % 32;
        let is_msb = cc < 32;
        self.state.cc14[cc as usize] = Some(v);
        let second = match order {
            ByteOrder::MsbFirst => !is_msb,
            ByteOrder::LsbFirst => is_msb,
        };
        if !second {
            return;
        }
        let (Some(msb), Some(lsb)) = (
            self.state.cc14[base as usize],
            self.state.cc14[base as usize + 32],
        ) else {
            return;
        };
        self.emit(
            out,
            |m| m.cc14 == Some(base),
            (msb as i64) << 7 | lsb as i64,
        );
    }
}

/// Reads a parameter's value from one SysEx message (its `reply` pattern, else its `sysex` template).
pub fn decode_sysex(
    profile: &Profile,
    def: &ParamDef,
    msg: &[u8],
    ctx: &DeviceCtx,
) -> Result<Value, DecodeError> {
    let m = def
        .midi
        .as_ref()
        .ok_or_else(|| DecodeError::NoReadback(def.id.clone()))?;
    let pattern = m
        .reply
        .as_ref()
        .or(m.sysex.as_ref())
        .ok_or_else(|| DecodeError::NoReadback(def.id.clone()))?;
    let t =
        BinTemplate::parse(pattern, true).map_err(|_| DecodeError::NoReadback(def.id.clone()))?;
    let fill = BinFill {
        dev: ctx.device_id,
        chan: ctx.channel,
        addr: &m.address,
        value: None,
    };
    let no_match = || DecodeError::NoMatch {
        param: def.id.clone(),
        reply: hex(msg),
    };
    match t.match_prefix(msg, &fill) {
        Ok((Some(v), n)) if n == msg.len() => from_raw(profile, def, &Raw::Int(v)),
        Err(NoMatch::Checksum) => Err(DecodeError::Checksum {
            param: def.id.clone(),
        }),
        _ => Err(no_match()),
    }
}

/// Bytes as spaced hex, for messages and logs.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}
