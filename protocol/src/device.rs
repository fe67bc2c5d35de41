//! Device message codecs: from a parameter value in real units to the bytes
//! or OSC message a device understands, and back from what it answers.
//!
//! Everything here is pure: the daemon's drivers own the ports, pacing and
//! retries; these functions only say what to send and what a reply means.

pub mod midi;
pub mod osc;
pub mod serial;

use crate::param::{ParamError, ParamSpec, Value};
use crate::profile::template::{BinTemplate, TextTemplate};
use crate::profile::{Curve, ParamDef, ParamType, Profile, SerialFormat, TransportKind};

/// Where one device instance sits, beyond what its profile says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceCtx {
    /// MIDI channel 0..15 (shown to people as 1..16).
    pub channel: u8,
    /// SysEx device id, or RS-485 bus address.
    pub device_id: u8,
}

impl DeviceCtx {
    /// The profile's defaults: channel 1, its device id or bus address.
    pub fn for_profile(profile: &Profile) -> Self {
        let device_id = match (&profile.midi, &profile.serial) {
            (Some(m), _) => m.device_id,
            (_, Some(s)) => s.address,
            _ => 0,
        };
        DeviceCtx {
            channel: 0,
            device_id,
        }
    }
}

/// One unit of output for a device's port; the scheduler paces these.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceMessage {
    /// MIDI wire bytes; one set may hold several messages (NRPN, 14-bit CC),
    /// use [`midi::split_messages`] where a backend wants them one by one.
    Midi(Vec<u8>),
    /// Bytes for the serial line, terminator included.
    Serial(Vec<u8>),
    /// A message for an OSC device.
    Osc(rosc::OscMessage),
}

/// Why a value could not be turned into a device message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    /// The parameter id is not in the profile; check the snapshot or config.
    #[error("{device}: no parameter `{param}` in the profile")]
    UnknownParam { device: String, param: String },
    /// The value is not one the parameter takes.
    #[error(transparent)]
    Value(#[from] ParamError),
    /// The parameter is set by hand; it belongs on the recall sheet.
    #[error("{param}: set by hand (manual device)")]
    Manual { param: String },
    /// The profile has no mapping for this parameter (it did not pass validation).
    #[error("{param}: no mapping for the device's transport")]
    NoMapping { param: String },
    /// The profile cannot read this parameter back.
    #[error("{param}: the profile has no readback for this parameter")]
    NoQuery { param: String },
    /// A template could not be filled (e.g. a device id above 7F in SysEx).
    #[error("{param}: {message}")]
    Template { param: String, message: String },
}

/// Why a device's reply could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The parameter id is not in the profile.
    #[error("no parameter `{0}` in the profile")]
    UnknownParam(String),
    /// The profile has no reply pattern for this parameter.
    #[error("{0}: the profile has no readback for this parameter")]
    NoReadback(String),
    /// The reply does not have the expected form.
    #[error("{param}: reply {reply:?} does not match the expected pattern")]
    NoMatch { param: String, reply: String },
    /// The reply's checksum is wrong: a garbled line.
    #[error("{param}: reply checksum is wrong")]
    Checksum { param: String },
    /// The value in the reply is not a number or label the parameter takes.
    #[error("{param}: cannot read a value from {text:?}")]
    BadValue { param: String, text: String },
}

/// What a host asked a device to do: what a device simulator acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Set a parameter (value in real units, as the device would take it).
    Set { param: String, value: Value },
    /// Report a parameter's value.
    Query { param: String },
    /// Say who you are.
    Identity,
    /// Not a command of this profile (or not for this device on a shared bus).
    Unknown,
}

/// A value as the device carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    /// An integer (MIDI data, binary fields, OSC int).
    Int(i64),
    /// A decimal (OSC float, text protocols in real units).
    Float(f64),
    /// A word (enum label in a text protocol or OSC string).
    Text(String),
}

/// What kind of number the wire carries for one parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Wire {
    /// The device takes integers.
    pub integer: bool,
    /// The device range when the profile gives none (full encoding range).
    pub default_range: Option<(f64, f64)>,
}

/// How the parameter's value travels on the profile's transport.
pub(crate) fn wire(profile: &Profile, def: &ParamDef) -> Wire {
    let full = |max: i64| Wire {
        integer: true,
        default_range: Some((0.0, max as f64)),
    };
    let real = |integer| Wire {
        integer,
        default_range: None,
    };
    match profile.transport() {
        TransportKind::Midi => full(def.midi.as_ref().map_or(127, midi::capacity)),
        TransportKind::Osc => {
            let s = def.scaling(TransportKind::Osc);
            let int = def.osc.as_ref().is_some_and(|m| m.arg == "i");
            real(
                int || (s.values.is_some()
                    && def
                        .osc
                        .as_ref()
                        .is_some_and(|m| m.arg != "f" && m.arg != "d")),
            )
        }
        TransportKind::Serial => {
            let binary = profile
                .serial
                .as_ref()
                .is_some_and(|s| s.format == SerialFormat::Binary);
            match def.serial.as_ref() {
                Some(m) if binary => {
                    let max = BinTemplate::parse(&m.set, false)
                        .ok()
                        .and_then(|t| t.value_layout())
                        .map_or(255, |l| l.max(false));
                    full(max)
                }
                Some(m) => {
                    let s = def.scaling(TransportKind::Serial);
                    let fmt = TextTemplate::parse(&m.set)
                        .map(|t| t.value_format())
                        .unwrap_or_default();
                    real(
                        s.raw_min.is_some()
                            || s.values.is_some()
                            || (fmt.hex && def.kind != ParamType::Enum),
                    )
                }
                None => real(false),
            }
        }
        TransportKind::Manual => real(false),
    }
}

/// Real value to 0..1 along the device curve.
fn curve_to_norm(curve: Curve, min: f64, max: f64, x: f64) -> f64 {
    let n = match curve {
        Curve::Log if min > 0.0 && x > 0.0 => (x / min).ln() / (max / min).ln(),
        Curve::Db => {
            let a = |db: f64| 10f64.powf(db / 20.0);
            (a(x) - a(min)) / (a(max) - a(min))
        }
        _ => (x - min) / (max - min),
    };
    if n.is_finite() {
        n.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// 0..1 along the device curve to a real value.
fn curve_from_norm(curve: Curve, min: f64, max: f64, n: f64) -> f64 {
    match curve {
        Curve::Log if min > 0.0 => min * (max / min).powf(n),
        Curve::Db => {
            let a = |db: f64| 10f64.powf(db / 20.0);
            20.0 * (a(min) + n * (a(max) - a(min))).log10()
        }
        _ => min + n * (max - min),
    }
}

/// Piecewise linear interpolation through (x, y) points sorted by x.
fn interpolate(points: impl Iterator<Item = (f64, f64)> + Clone, x: f64) -> f64 {
    let pts: Vec<(f64, f64)> = points.collect();
    if pts.is_empty() {
        return x;
    }
    let (first, last) = (pts[0], pts[pts.len() - 1]);
    if x <= first.0 {
        return first.1;
    }
    if x >= last.0 {
        return last.1;
    }
    for w in pts.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if x <= x1 {
            return y0 + (x - x0) * (y1 - y0) / (x1 - x0);
        }
    }
    last.1
}

/// The position (0-based) of a stepped, switch or enum value.
fn position(def: &ParamDef, v: &Value) -> usize {
    match (def.kind, v) {
        (ParamType::Enum, Value::Text(s)) => def
            .labels
            .as_ref()
            .and_then(|l| l.iter().position(|x| x == s))
            .unwrap_or(0),
        (ParamType::Stepped, v) => {
            let (min, _) = def.stepped_range();
            (v.as_f64().unwrap_or(0.0) as i64 - min).max(0) as usize
        }
        (_, v) => (v.as_f64().unwrap_or(0.0) != 0.0) as usize,
    }
}

/// The value at a position.
fn at_position(def: &ParamDef, pos: usize) -> Value {
    match def.kind {
        ParamType::Enum => Value::Text(
            def.labels
                .as_ref()
                .and_then(|l| l.get(pos).or(l.last()))
                .cloned()
                .unwrap_or_default(),
        ),
        ParamType::Stepped => {
            let (min, max) = def.stepped_range();
            Value::Int((min + pos as i64).min(max))
        }
        _ => Value::Int((pos != 0) as i64),
    }
}

/// Turns an accepted value (real units) into the device's value.
pub fn to_raw(profile: &Profile, def: &ParamDef, value: &Value) -> Raw {
    let w = wire(profile, def);
    let s = def.scaling(profile.transport());
    let range = s.raw_min.zip(s.raw_max).or(w.default_range);
    let num = |x: f64| {
        if w.integer {
            Raw::Int(x.round() as i64)
        } else {
            Raw::Float(x)
        }
    };
    if let Some(n) = def.positions() {
        let pos = position(def, value).min(n.saturating_sub(1));
        if let Some(vals) = &s.values {
            return Raw::Int(vals.get(pos).copied().unwrap_or(0));
        }
        if let Some((lo, hi)) = range {
            let x = if n <= 1 {
                lo
            } else {
                lo + pos as f64 * (hi - lo) / (n - 1) as f64
            };
            return num(x);
        }
        return match (def.kind, value) {
            (ParamType::Enum, Value::Text(t)) if !w.integer => Raw::Text(t.clone()),
            (ParamType::Enum, _) => Raw::Int(pos as i64),
            (_, v) => Raw::Int(v.as_f64().unwrap_or(0.0) as i64),
        };
    }
    let (min, max) = (def.min.unwrap_or(0.0), def.max.unwrap_or(1.0));
    let x = value.as_f64().unwrap_or(min);
    if def.taper == Curve::Table
        && let Some(t) = &def.table
    {
        return num(interpolate(t.iter().map(|&(r, v)| (v, r)), x));
    }
    match range {
        Some((lo, hi)) => num(lo + curve_to_norm(def.taper, min, max, x) * (hi - lo)),
        None => num(x),
    }
}

/// Turns a device value back into a value in real units (clamped, quantized).
pub fn from_raw(profile: &Profile, def: &ParamDef, raw: &Raw) -> Result<Value, DecodeError> {
    let w = wire(profile, def);
    let s = def.scaling(profile.transport());
    let range = s.raw_min.zip(s.raw_max).or(w.default_range);
    let spec: ParamSpec = def.spec();
    let bad = |text: String| DecodeError::BadValue {
        param: def.id.clone(),
        text,
    };
    let r = match raw {
        Raw::Int(i) => *i as f64,
        Raw::Float(x) if x.is_finite() => *x,
        Raw::Float(x) => return Err(bad(x.to_string())),
        Raw::Text(t) => match (def.kind, t.trim().parse::<f64>()) {
            (_, Ok(x)) if x.is_finite() => x,
            (ParamType::Enum, _) if s.values.is_none() && range.is_none() => {
                return spec
                    .accept(&Value::Text(t.trim().to_string()))
                    .map_err(|_| bad(t.clone()));
            }
            _ => return Err(bad(t.clone())),
        },
    };
    let value = if let Some(n) = def.positions() {
        let pos = if let Some(vals) = &s.values {
            vals.iter()
                .enumerate()
                .min_by_key(|(_, v)| (**v as f64 - r).abs() as i64)
                .map_or(0, |(i, _)| i)
        } else if let Some((lo, hi)) = range {
            let f = ((r - lo) / (hi - lo)).clamp(0.0, 1.0);
            (f * (n.saturating_sub(1)) as f64).round() as usize
        } else {
            match def.kind {
                ParamType::Stepped => {
                    return spec
                        .accept(&Value::Int(r.round() as i64))
                        .map_err(|_| bad(r.to_string()));
                }
                ParamType::Switch => (r != 0.0) as usize,
                _ => r.round().max(0.0) as usize,
            }
        };
        at_position(def, pos)
    } else {
        let (min, max) = (def.min.unwrap_or(0.0), def.max.unwrap_or(1.0));
        let x = match (&def.table, def.taper, range) {
            (Some(t), Curve::Table, _) => interpolate(t.iter().copied(), r),
            (_, _, Some((lo, hi))) => {
                curve_from_norm(def.taper, min, max, ((r - lo) / (hi - lo)).clamp(0.0, 1.0))
            }
            _ => r,
        };
        Value::Float(x)
    };
    spec.accept(&value).map_err(|_| bad(r.to_string()))
}

fn lookup<'a>(profile: &'a Profile, param: &str) -> Result<&'a ParamDef, EncodeError> {
    profile
        .param(param)
        .ok_or_else(|| EncodeError::UnknownParam {
            device: profile.id().to_string(),
            param: param.to_string(),
        })
}

/// The messages that set one parameter to `value` (clamped to its range first).
pub fn encode_set(
    profile: &Profile,
    param: &str,
    value: &Value,
    ctx: &DeviceCtx,
) -> Result<Vec<DeviceMessage>, EncodeError> {
    let def = lookup(profile, param)?;
    let value = def.spec().accept(value)?;
    let raw = to_raw(profile, def, &value);
    let no_map = || EncodeError::NoMapping {
        param: def.id.clone(),
    };
    let msg = match profile.transport() {
        TransportKind::Manual => {
            return Err(EncodeError::Manual {
                param: def.id.clone(),
            });
        }
        TransportKind::Midi => DeviceMessage::Midi(midi::encode(
            profile,
            def,
            def.midi.as_ref().ok_or_else(no_map)?,
            &raw,
            ctx,
        )?),
        TransportKind::Osc => {
            DeviceMessage::Osc(osc::encode(def.osc.as_ref().ok_or_else(no_map)?, &raw))
        }
        TransportKind::Serial => DeviceMessage::Serial(serial::encode(profile, def, &raw, ctx)?),
    };
    Ok(vec![msg])
}

/// The message that asks the device for a parameter's current value.
pub fn encode_query(
    profile: &Profile,
    param: &str,
    ctx: &DeviceCtx,
) -> Result<DeviceMessage, EncodeError> {
    let def = lookup(profile, param)?;
    let none = || EncodeError::NoQuery {
        param: def.id.clone(),
    };
    match profile.transport() {
        TransportKind::Midi => midi::encode_query(def, ctx).map(DeviceMessage::Midi),
        TransportKind::Osc => {
            let q = def
                .osc
                .as_ref()
                .and_then(|m| m.query.clone())
                .ok_or_else(none)?;
            Ok(DeviceMessage::Osc(rosc::OscMessage {
                addr: q,
                args: vec![],
            }))
        }
        TransportKind::Serial => serial::encode_query(profile, def, ctx).map(DeviceMessage::Serial),
        TransportKind::Manual => Err(EncodeError::Manual {
            param: def.id.clone(),
        }),
    }
}

/// What the device itself would send to report `value`: the readback reply or,
/// for MIDI/OSC devices without one, the set message echoed. Device simulators
/// use it; tests use it to check that decoding inverts encoding.
pub fn encode_report(
    profile: &Profile,
    param: &str,
    value: &Value,
    ctx: &DeviceCtx,
) -> Result<DeviceMessage, EncodeError> {
    let def = lookup(profile, param)?;
    let value = def.spec().accept(value)?;
    let raw = to_raw(profile, def, &value);
    let no_map = || EncodeError::NoMapping {
        param: def.id.clone(),
    };
    match profile.transport() {
        TransportKind::Midi => {
            let m = def.midi.as_ref().ok_or_else(no_map)?;
            match &m.reply {
                Some(_) => midi::encode_reply(def, m, &raw, ctx).map(DeviceMessage::Midi),
                None => midi::encode(profile, def, m, &raw, ctx).map(DeviceMessage::Midi),
            }
        }
        TransportKind::Osc => {
            let m = def.osc.as_ref().ok_or_else(no_map)?;
            let mut msg = osc::encode(m, &raw);
            let arg = msg.args.remove(0);
            msg.addr = m.reply.clone().unwrap_or_else(|| m.address.clone());
            msg.args = vec![rosc::OscType::Int(0); m.reply_arg];
            msg.args.push(arg);
            Ok(DeviceMessage::Osc(msg))
        }
        TransportKind::Serial => {
            serial::encode_reply(profile, def, &raw, ctx).map(DeviceMessage::Serial)
        }
        TransportKind::Manual => Err(EncodeError::Manual {
            param: def.id.clone(),
        }),
    }
}

/// Whether a parameter can be read back and verified after a recall.
pub fn has_readback(profile: &Profile, param: &str) -> bool {
    let Some(def) = profile.param(param) else {
        return false;
    };
    match profile.transport() {
        TransportKind::Midi => def.midi.as_ref().is_some_and(|m| m.query.is_some()),
        TransportKind::Osc => def.osc.as_ref().is_some_and(|m| m.query.is_some()),
        TransportKind::Serial => def
            .serial
            .as_ref()
            .is_some_and(|m| m.query.is_some() && m.reply.is_some()),
        TransportKind::Manual => false,
    }
}

/// Messages sent when the device connects, in order.
pub fn init_messages(
    profile: &Profile,
    ctx: &DeviceCtx,
) -> Result<Vec<DeviceMessage>, EncodeError> {
    let tpl = |message: String| EncodeError::Template {
        param: "init".into(),
        message,
    };
    match profile.transport() {
        TransportKind::Midi => profile
            .midi
            .iter()
            .flat_map(|m| &m.init)
            .map(|t| {
                midi::render_plain(t, ctx)
                    .map(DeviceMessage::Midi)
                    .map_err(tpl)
            })
            .collect(),
        TransportKind::Osc => Ok(profile
            .osc
            .iter()
            .flat_map(|o| &o.init)
            .map(|a| {
                DeviceMessage::Osc(rosc::OscMessage {
                    addr: a.clone(),
                    args: vec![],
                })
            })
            .collect()),
        TransportKind::Serial => profile
            .serial
            .iter()
            .flat_map(|s| &s.init)
            .map(|t| {
                serial::render_plain(profile, t, ctx)
                    .map(DeviceMessage::Serial)
                    .map_err(tpl)
            })
            .collect(),
        TransportKind::Manual => Ok(vec![]),
    }
}

/// The message that asks a device who it is, if the transport or profile has one.
pub fn identity_query(profile: &Profile, ctx: &DeviceCtx) -> Option<DeviceMessage> {
    match profile.transport() {
        TransportKind::Midi => Some(DeviceMessage::Midi(midi::identity_request(0x7F).to_vec())),
        TransportKind::Osc => profile.osc.as_ref()?.identity.as_ref().map(|i| {
            DeviceMessage::Osc(rosc::OscMessage {
                addr: i.query.clone(),
                args: vec![],
            })
        }),
        TransportKind::Serial => {
            let q = &profile.serial.as_ref()?.identity.as_ref()?.query;
            serial::render_plain(profile, q, ctx)
                .ok()
                .map(DeviceMessage::Serial)
        }
        TransportKind::Manual => None,
    }
}
