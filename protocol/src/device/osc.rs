//! OSC device messages: a value sent to an address with one typed argument,
//! and the device's reports read back into parameter values.

use super::{Command, DecodeError, Raw, from_raw};
use crate::param::Value;
use crate::profile::{OscMap, ParamDef, Profile};
use rosc::{OscMessage, OscType};

/// The message that sets a mapping to a device value.
pub(crate) fn encode(m: &OscMap, raw: &Raw) -> OscMessage {
    let num = match raw {
        Raw::Int(i) => *i as f64,
        Raw::Float(x) => *x,
        Raw::Text(_) => 0.0,
    };
    let arg = match (m.arg.as_str(), raw) {
        ("s", Raw::Text(t)) => OscType::String(t.clone()),
        ("s", Raw::Int(i)) => OscType::String(i.to_string()),
        ("s", _) => OscType::String(num.to_string()),
        ("i", _) => OscType::Int(num.round().clamp(i32::MIN as f64, i32::MAX as f64) as i32),
        ("d", _) => OscType::Double(num),
        _ => OscType::Float(num as f32),
    };
    OscMessage {
        addr: m.address.clone(),
        args: vec![arg],
    }
}

fn raw_of(arg: &OscType) -> Option<Raw> {
    Some(match arg {
        OscType::Int(i) => Raw::Int(*i as i64),
        OscType::Long(i) => Raw::Int(*i),
        OscType::Float(x) => Raw::Float(*x as f64),
        OscType::Double(x) => Raw::Float(*x),
        OscType::String(s) => Raw::Text(s.clone()),
        OscType::Bool(b) => Raw::Int(*b as i64),
        _ => return None,
    })
}

fn reply_address(m: &OscMap) -> &str {
    m.reply.as_deref().unwrap_or(&m.address)
}

/// Reads a device report: `Ok(None)` when the address is not a parameter's.
pub fn decode(profile: &Profile, msg: &OscMessage) -> Result<Option<(String, Value)>, DecodeError> {
    let Some((def, m)) = profile.params.iter().find_map(|d| {
        d.osc
            .as_ref()
            .filter(|m| reply_address(m) == msg.addr)
            .map(|m| (d, m))
    }) else {
        return Ok(None);
    };
    decode_param(profile, def, m, msg).map(|v| Some((def.id.clone(), v)))
}

fn decode_param(
    profile: &Profile,
    def: &ParamDef,
    m: &OscMap,
    msg: &OscMessage,
) -> Result<Value, DecodeError> {
    let arg = msg
        .args
        .get(m.reply_arg)
        .ok_or_else(|| DecodeError::NoMatch {
            param: def.id.clone(),
            reply: format!("{} with {} arguments", msg.addr, msg.args.len()),
        })?;
    let raw = raw_of(arg).ok_or_else(|| DecodeError::BadValue {
        param: def.id.clone(),
        text: format!("{arg:?}"),
    })?;
    let raw = match (raw, m.arg.as_str()) {
        (Raw::Text(t), "f" | "d" | "i") => Raw::Text(t),
        (Raw::Float(x), "i") => Raw::Int(x.round() as i64),
        (r, _) => r,
    };
    from_raw(profile, def, &raw)
}

/// Whether a message is the reply to the profile's identity query (with
/// the expected model, when the profile names one).
pub fn is_identity_reply(profile: &Profile, msg: &OscMessage) -> bool {
    identity_answer(profile, msg).is_some_and(|found| found.is_ok())
}

/// For a reply on the identity address: `Ok` when it is the expected
/// device, else `Err((expected, found))` — another model on this address.
pub fn identity_answer(
    profile: &Profile,
    msg: &OscMessage,
) -> Option<Result<(), (String, String)>> {
    let i = profile.osc.as_ref()?.identity.as_ref()?;
    if msg.addr != *i.reply.as_ref().unwrap_or(&i.query) {
        return None;
    }
    let Some(want) = &i.value else {
        return Some(Ok(()));
    };
    let found = match msg.args.first() {
        Some(OscType::String(s)) => s.clone(),
        Some(other) => format!("{other:?}"),
        None => "no argument".to_string(),
    };
    Some(if found == *want {
        Ok(())
    } else {
        Err((
            format!("{} {want:?}", msg.addr),
            format!("{} {found:?}", msg.addr),
        ))
    })
}

/// Reads a message the host sent, as the device would (simulators): a value
/// for a parameter's address, or a query (its query address without arguments).
pub fn decode_command(profile: &Profile, msg: &OscMessage) -> Command {
    if msg.args.is_empty() {
        if profile
            .osc
            .as_ref()
            .and_then(|o| o.identity.as_ref())
            .is_some_and(|i| i.query == msg.addr)
        {
            return Command::Identity;
        }
        return profile
            .params
            .iter()
            .find(|d| {
                d.osc
                    .as_ref()
                    .is_some_and(|m| m.query.as_deref() == Some(msg.addr.as_str()))
            })
            .map_or(Command::Unknown, |d| Command::Query {
                param: d.id.clone(),
            });
    }
    for def in &profile.params {
        let Some(m) = def.osc.as_ref().filter(|m| m.address == msg.addr) else {
            continue;
        };
        let as_set = OscMap {
            reply_arg: 0,
            ..m.clone()
        };
        if let Ok(value) = decode_param(profile, def, &as_set, msg) {
            return Command::Set {
                param: def.id.clone(),
                value,
            };
        }
    }
    Command::Unknown
}

/// The identity reply a device sends: the reply address with the model name.
pub fn identity_reply(profile: &Profile) -> Option<OscMessage> {
    let i = profile.osc.as_ref()?.identity.as_ref()?;
    Some(OscMessage {
        addr: i.reply.clone().unwrap_or_else(|| i.query.clone()),
        args: vec![OscType::String(
            i.value
                .clone()
                .unwrap_or_else(|| profile.device.model.clone()),
        )],
    })
}
