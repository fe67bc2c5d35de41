//! Serial device messages: text or binary command templates, replies split
//! into frames, and replies read as acknowledgements, errors or values.

use super::{Command, DecodeError, DeviceCtx, EncodeError, Raw, from_raw, wire};
use crate::param::Value;
use crate::profile::template::{BinFill, BinTemplate, NoMatch, TextTemplate, TextValue};
use crate::profile::{ParamDef, Profile, SerialFormat, SerialTransport};

fn transport(profile: &Profile) -> SerialTransport {
    profile.serial.clone().unwrap_or_else(|| SerialTransport {
        baud: 9600,
        frame: "8N1".into(),
        format: SerialFormat::Ascii,
        terminator: "\r".into(),
        ack: None,
        error: None,
        timeout_ms: 200,
        retries: 0,
        rs485: false,
        address: 0,
        init: vec![],
        identity: None,
    })
}

fn template_err(def: &ParamDef) -> impl Fn(String) -> EncodeError + '_ {
    move |message| EncodeError::Template {
        param: def.id.clone(),
        message,
    }
}

fn render(
    profile: &Profile,
    def: &ParamDef,
    template: &str,
    raw: Option<&Raw>,
    ctx: &DeviceCtx,
) -> Result<Vec<u8>, String> {
    let m = def.serial.as_ref().ok_or("no serial mapping")?;
    match transport(profile).format {
        SerialFormat::Ascii => {
            let v = raw.map(|r| match r {
                Raw::Int(i) => TextValue::Num(*i as f64),
                Raw::Float(x) => TextValue::Num(*x),
                Raw::Text(t) => TextValue::Word(t),
            });
            TextTemplate::parse(template)?
                .render(ctx.device_id as i64, &m.code, v.as_ref())
                .map(String::into_bytes)
        }
        SerialFormat::Binary => {
            let value = raw.map(|r| match r {
                Raw::Int(i) => *i,
                Raw::Float(x) => x.round() as i64,
                Raw::Text(_) => 0,
            });
            BinTemplate::parse(template, false)?.render(&BinFill {
                dev: ctx.device_id,
                chan: 0,
                addr: &m.address,
                value,
            })
        }
    }
}

/// The bytes that set a parameter to a device value.
pub(crate) fn encode(
    profile: &Profile,
    def: &ParamDef,
    raw: &Raw,
    ctx: &DeviceCtx,
) -> Result<Vec<u8>, EncodeError> {
    let m = def.serial.as_ref().ok_or_else(|| EncodeError::NoMapping {
        param: def.id.clone(),
    })?;
    render(profile, def, &m.set, Some(raw), ctx).map_err(template_err(def))
}

/// The bytes that ask for a parameter's value.
pub(crate) fn encode_query(
    profile: &Profile,
    def: &ParamDef,
    ctx: &DeviceCtx,
) -> Result<Vec<u8>, EncodeError> {
    let m = def.serial.as_ref().ok_or_else(|| EncodeError::NoMapping {
        param: def.id.clone(),
    })?;
    let q = m.query.as_ref().ok_or_else(|| EncodeError::NoQuery {
        param: def.id.clone(),
    })?;
    render(profile, def, q, None, ctx).map_err(template_err(def))
}

/// The reply a device sends to report a value (its `reply` pattern filled in).
pub(crate) fn encode_reply(
    profile: &Profile,
    def: &ParamDef,
    raw: &Raw,
    ctx: &DeviceCtx,
) -> Result<Vec<u8>, EncodeError> {
    let m = def.serial.as_ref().ok_or_else(|| EncodeError::NoMapping {
        param: def.id.clone(),
    })?;
    let r = m.reply.as_ref().ok_or_else(|| EncodeError::NoQuery {
        param: def.id.clone(),
    })?;
    let mut bytes = render(profile, def, r, Some(raw), ctx).map_err(template_err(def))?;
    if transport(profile).format == SerialFormat::Ascii {
        bytes.extend_from_slice(transport(profile).terminator.as_bytes());
    }
    Ok(bytes)
}

/// Renders a device-level command (init, identity) that has no value.
pub(crate) fn render_plain(
    profile: &Profile,
    template: &str,
    ctx: &DeviceCtx,
) -> Result<Vec<u8>, String> {
    match transport(profile).format {
        SerialFormat::Ascii => TextTemplate::parse(template)?
            .render(ctx.device_id as i64, "", None)
            .map(String::into_bytes),
        SerialFormat::Binary => BinTemplate::parse(template, false)?.render(&BinFill {
            dev: ctx.device_id,
            ..BinFill::default()
        }),
    }
}

/// What one reply frame from a device means.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The device took the last command.
    Ack,
    /// The device refused the last command; the text is its reply.
    Error(String),
    /// The device reports a parameter's value (readback or a front-panel move).
    Value { param: String, value: Value },
    /// The identity reply.
    Identity,
    /// Anything else: garbage, another device on the bus, an unknown report.
    Unknown,
}

fn text_of(frame: &[u8], terminator: &str) -> String {
    let s = String::from_utf8_lossy(frame);
    let s = s.strip_suffix(terminator).unwrap_or(&s);
    s.trim_end_matches(['\r', '\n']).to_string()
}

/// Matches a frame against a text or binary pattern; `Some(value text)` on a match.
fn matches(
    profile: &Profile,
    pattern: &str,
    frame: &[u8],
    ctx: &DeviceCtx,
    code: &str,
    addr: &[u8],
) -> Result<Option<Raw>, NoMatch> {
    let t = transport(profile);
    match t.format {
        SerialFormat::Ascii => {
            let tpl = TextTemplate::parse(pattern).map_err(|_| NoMatch::Mismatch)?;
            let text = text_of(frame, &t.terminator);
            match tpl.match_text(&text, ctx.device_id as i64, code) {
                None => Err(NoMatch::Mismatch),
                Some(_) if !tpl.has_value() => Ok(None),
                Some(v) => {
                    let fmt = tpl.value_format();
                    Ok(Some(match fmt.read(&v) {
                        Some(x) if fmt.hex => Raw::Int(x as i64),
                        Some(x) => Raw::Float(x),
                        None => Raw::Text(v),
                    }))
                }
            }
        }
        SerialFormat::Binary => {
            let tpl = BinTemplate::parse(pattern, false).map_err(|_| NoMatch::Mismatch)?;
            let fill = BinFill {
                dev: ctx.device_id,
                chan: 0,
                addr,
                value: None,
            };
            match tpl.match_prefix(frame, &fill)? {
                (v, n) if n == frame.len() => Ok(v.map(Raw::Int)),
                _ => Err(NoMatch::Mismatch),
            }
        }
    }
}

fn raw_for(profile: &Profile, def: &ParamDef, raw: Raw) -> Raw {
    match raw {
        Raw::Float(x) if wire(profile, def).integer => Raw::Int(x.round() as i64),
        r => r,
    }
}

/// Reads a parameter's value from a reply frame to its query.
pub fn parse_readback(
    profile: &Profile,
    param: &str,
    frame: &[u8],
    ctx: &DeviceCtx,
) -> Result<Value, DecodeError> {
    let def = profile
        .param(param)
        .ok_or_else(|| DecodeError::UnknownParam(param.to_string()))?;
    let m = def
        .serial
        .as_ref()
        .ok_or_else(|| DecodeError::NoReadback(def.id.clone()))?;
    let reply = m
        .reply
        .as_ref()
        .ok_or_else(|| DecodeError::NoReadback(def.id.clone()))?;
    match matches(profile, reply, frame, ctx, &m.code, &m.address) {
        Ok(Some(raw)) => from_raw(profile, def, &raw_for(profile, def, raw)),
        Err(NoMatch::Checksum) => Err(DecodeError::Checksum {
            param: def.id.clone(),
        }),
        _ => Err(DecodeError::NoMatch {
            param: def.id.clone(),
            reply: String::from_utf8_lossy(frame).into_owned(),
        }),
    }
}

/// Says what a reply frame is: acknowledgement, error, a value report or unknown.
pub fn classify(profile: &Profile, frame: &[u8], ctx: &DeviceCtx) -> Reply {
    let t = transport(profile);
    if let Some(p) = &t.error
        && matches(profile, p, frame, ctx, "", &[]).is_ok()
    {
        return Reply::Error(text_of(frame, &t.terminator));
    }
    if let Some(p) = &t.ack
        && matches(profile, p, frame, ctx, "", &[]).is_ok()
    {
        return Reply::Ack;
    }
    for def in &profile.params {
        let Some(m) = &def.serial else { continue };
        let Some(p) = &m.reply else { continue };
        if let Ok(Some(raw)) = matches(profile, p, frame, ctx, &m.code, &m.address)
            && let Ok(value) = from_raw(profile, def, &raw_for(profile, def, raw))
        {
            return Reply::Value {
                param: def.id.clone(),
                value,
            };
        }
    }
    if let Some(id) = &t.identity
        && matches(profile, &id.reply, frame, ctx, "", &[]).is_ok()
    {
        return Reply::Identity;
    }
    Reply::Unknown
}

/// Matches a command the host sent against a template (text: line ends ignored).
fn command_match(
    profile: &Profile,
    template: &str,
    frame: &[u8],
    ctx: &DeviceCtx,
    code: &str,
    addr: &[u8],
) -> Option<Option<Raw>> {
    match transport(profile).format {
        SerialFormat::Ascii => {
            let tpl = TextTemplate::parse(template.trim_end_matches(['\r', '\n'])).ok()?;
            let text = String::from_utf8_lossy(frame);
            let v = tpl.match_text(
                text.trim_end_matches(['\r', '\n']),
                ctx.device_id as i64,
                code,
            )?;
            if !tpl.has_value() {
                return Some(None);
            }
            let fmt = tpl.value_format();
            Some(Some(match fmt.read(&v) {
                Some(x) if fmt.hex => Raw::Int(x as i64),
                Some(x) => Raw::Float(x),
                None => Raw::Text(v),
            }))
        }
        SerialFormat::Binary => {
            let tpl = BinTemplate::parse(template, false).ok()?;
            let fill = BinFill {
                dev: ctx.device_id,
                chan: 0,
                addr,
                value: None,
            };
            match tpl.match_prefix(frame, &fill) {
                Ok((v, n)) if n == frame.len() => Some(v.map(Raw::Int)),
                _ => None,
            }
        }
    }
}

/// Reads a command frame the host sent, as the device would (simulators).
pub fn decode_command(profile: &Profile, frame: &[u8], ctx: &DeviceCtx) -> Command {
    let t = transport(profile);
    if let Some(id) = &t.identity
        && command_match(profile, &id.query, frame, ctx, "", &[]).is_some()
    {
        return Command::Identity;
    }
    for def in &profile.params {
        let Some(m) = &def.serial else { continue };
        if let Some(Some(raw)) = command_match(profile, &m.set, frame, ctx, &m.code, &m.address)
            && let Ok(value) = from_raw(profile, def, &raw_for(profile, def, raw))
        {
            return Command::Set {
                param: def.id.clone(),
                value,
            };
        }
        if let Some(q) = &m.query
            && command_match(profile, q, frame, ctx, &m.code, &m.address).is_some()
        {
            return Command::Query {
                param: def.id.clone(),
            };
        }
    }
    Command::Unknown
}

/// A device-level reply pattern rendered as the device would send it ({any} as 0).
fn render_reply(profile: &Profile, pattern: &str, ctx: &DeviceCtx) -> Option<Vec<u8>> {
    let t = transport(profile);
    let mut bytes = render_plain(profile, pattern, ctx).ok()?;
    if t.format == SerialFormat::Ascii {
        bytes.extend_from_slice(t.terminator.as_bytes());
    }
    Some(bytes)
}

/// The acknowledgement the device sends, if the profile has one (simulators).
pub fn encode_ack(profile: &Profile, ctx: &DeviceCtx) -> Option<Vec<u8>> {
    render_reply(profile, transport(profile).ack.as_deref()?, ctx)
}

/// An error reply the device sends, if the profile has one (simulators).
pub fn encode_error(profile: &Profile, ctx: &DeviceCtx) -> Option<Vec<u8>> {
    render_reply(profile, transport(profile).error.as_deref()?, ctx)
}

/// The identity reply the device sends, if the profile has one (simulators).
pub fn encode_identity_reply(profile: &Profile, ctx: &DeviceCtx) -> Option<Vec<u8>> {
    render_reply(profile, &transport(profile).identity?.reply, ctx)
}

const MAX_FRAME: usize = 4096;

/// Cuts the byte stream from a device into reply frames.
///
/// Text protocols end each reply with the terminator. Binary protocols have
/// no terminator that data cannot contain, so frames are found by matching
/// the profile's reply patterns; bytes that fit none are skipped one by one.
#[derive(Debug, Clone)]
pub struct Framer {
    buf: Vec<u8>,
    format: SerialFormat,
    terminator: Vec<u8>,
    patterns: Vec<(BinTemplate, Vec<u8>)>,
    dev: u8,
}

impl Framer {
    /// A framer for one device instance.
    pub fn new(profile: &Profile, ctx: &DeviceCtx) -> Self {
        let t = transport(profile);
        let mut patterns = Vec::new();
        if t.format == SerialFormat::Binary {
            let fixed = [
                &t.ack,
                &t.error,
                &t.identity.as_ref().map(|i| i.reply.clone()),
            ];
            for p in fixed.into_iter().flatten() {
                if let Ok(b) = BinTemplate::parse(p, false) {
                    patterns.push((b, vec![]));
                }
            }
            for def in &profile.params {
                if let Some(m) = &def.serial
                    && let Some(Ok(b)) = m.reply.as_ref().map(|r| BinTemplate::parse(r, false))
                {
                    patterns.push((b, m.address.clone()));
                }
            }
        }
        Framer {
            buf: Vec::new(),
            format: t.format,
            terminator: t.terminator.into_bytes(),
            patterns,
            dev: ctx.device_id,
        }
    }

    /// A framer for the device's side: cuts what the host sends into commands.
    pub fn commands(profile: &Profile, ctx: &DeviceCtx) -> Self {
        let t = transport(profile);
        let mut patterns = Vec::new();
        let mut terminator = "\r".to_string();
        if let Some(last) = profile
            .params
            .iter()
            .filter_map(|d| d.serial.as_ref())
            .find_map(|m| m.set.chars().last())
            .filter(|c| *c == '\r' || *c == '\n')
        {
            terminator = last.to_string();
        }
        if t.format == SerialFormat::Binary {
            let mut add = |p: &str, addr: &[u8]| {
                if let Ok(b) = BinTemplate::parse(p, false) {
                    patterns.push((b, addr.to_vec()));
                }
            };
            for p in t.init.iter().chain(t.identity.as_ref().map(|i| &i.query)) {
                add(p, &[]);
            }
            for m in profile.params.iter().filter_map(|d| d.serial.as_ref()) {
                add(&m.set, &m.address);
                if let Some(q) = &m.query {
                    add(q, &m.address);
                }
            }
        }
        Framer {
            buf: Vec::new(),
            format: t.format,
            terminator: terminator.into_bytes(),
            patterns,
            dev: ctx.device_id,
        }
    }

    /// Feeds bytes; returns the complete frames (text frames without the terminator).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        match self.format {
            SerialFormat::Ascii => {
                let term = if self.terminator.is_empty() {
                    b"\r".to_vec()
                } else {
                    self.terminator.clone()
                };
                while let Some(i) = self
                    .buf
                    .windows(term.len())
                    .position(|w| w == term.as_slice())
                {
                    let frame: Vec<u8> = self.buf.drain(..i + term.len()).take(i).collect();
                    if !frame.iter().all(|b| b.is_ascii_whitespace()) {
                        out.push(frame);
                    }
                }
                if self.buf.len() > MAX_FRAME {
                    self.buf.clear();
                }
            }
            SerialFormat::Binary => loop {
                if self.buf.is_empty() {
                    break;
                }
                let mut waiting = false;
                let mut found = None;
                for (p, addr) in &self.patterns {
                    let fill = BinFill {
                        dev: self.dev,
                        chan: 0,
                        addr,
                        value: None,
                    };
                    match p.match_prefix(&self.buf, &fill) {
                        Ok((_, n)) => {
                            found = Some(n);
                            break;
                        }
                        Err(NoMatch::Incomplete) => waiting = true,
                        Err(_) => {}
                    }
                }
                match found {
                    Some(n) => out.push(self.buf.drain(..n).collect()),
                    None if waiting && self.buf.len() < MAX_FRAME => break,
                    None => {
                        self.buf.remove(0);
                    }
                }
            },
        }
        out
    }
}
