//! Checks of a parsed profile that types alone cannot express: ranges the
//! encoding can carry, templates, duplicate ids, defaults, mappings.

use super::template::{BinTemplate, BinToken, TextTemplate};
use super::{Curve, PanelMark, ParamDef, ParamType, Profile, SerialFormat, TransportKind};
use crate::param::Value;
use crate::toml_tree::Node;
use std::collections::HashMap;

/// Finds the byte offset of keys so errors point at the right line.
pub(crate) struct Locator<'a> {
    pub text: &'a str,
    pub root: &'a Node,
    pub params: &'a [&'a Node],
}

impl Locator<'_> {
    /// Offset of the deepest key of `path` that exists under `node`.
    fn find(node: &Node, path: &[&str]) -> usize {
        let mut offset = node.span.start;
        let mut cur = node;
        for key in path {
            match cur.entry(key) {
                Some((span, next)) => {
                    offset = span.start;
                    cur = next;
                }
                None => break,
            }
        }
        offset
    }

    /// Offset of a key path from the document root.
    fn top(&self, path: &[&str]) -> usize {
        Self::find(self.root, path)
    }

    /// Offset of a key path inside parameter `i`.
    fn param(&self, i: usize, path: &[&str]) -> usize {
        match self.params.get(i) {
            Some(node) => Self::find(node, path),
            None => self.text.len(),
        }
    }

    /// Offset of element `j` of the array at `path` inside parameter `i`.
    fn param_item(&self, i: usize, path: &[&str], j: usize) -> usize {
        let Some(mut cur) = self.params.get(i).copied() else {
            return self.text.len();
        };
        for key in path {
            match cur.get(key) {
                Some(n) => cur = n,
                None => return self.param(i, path),
            }
        }
        cur.at(j).map_or(self.param(i, path), |n| n.span.start)
    }
}

type Errors = Vec<(usize, String)>;

/// Longest note that fits under a control on a recall sheet (two short lines).
const MAX_NOTE: usize = 60;

/// More positions than any knob or selector has; beyond it a range is a typo.
const MAX_POSITIONS: i64 = 65536;

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Runs every check; returns (offset, message) pairs. `device_ok` is false when
/// [device] did not parse (its errors are already reported).
pub(crate) fn check(p: &Profile, at: &Locator<'_>, device_ok: bool) -> Errors {
    let mut e = Errors::new();
    if device_ok {
        check_device(p, at, &mut e);
    }
    let transport = check_transports(p, at, &mut e);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, def) in p.params.iter().enumerate() {
        if !valid_id(&def.id) {
            e.push((
                at.param(i, &["id"]),
                format!(
                    "parameter id {:?} may only hold a-z, 0-9, '-' and '_'",
                    def.id
                ),
            ));
        }
        if let Some(first) = seen.insert(&def.id, i) {
            let line = super::line_of(at.text, at.param(first, &["id"]));
            e.push((
                at.param(i, &["id"]),
                format!(
                    "duplicate parameter id `{}` (first defined at line {line})",
                    def.id
                ),
            ));
        }
        check_range(def, i, at, &mut e);
        check_default(def, i, at, &mut e);
        check_panel_mark(def, i, transport, at, &mut e);
        if let Some(t) = transport {
            check_mapping(p, def, i, t, at, &mut e);
        }
    }
    check_midi_collisions(p, at, &mut e);
    if let Some(panel) = &p.manual {
        check_panel(p, panel, at, &mut e);
    }
    e
}

fn check_device(p: &Profile, at: &Locator<'_>, e: &mut Errors) {
    let d = &p.device;
    if !valid_id(&d.id) {
        e.push((
            at.top(&["device", "id"]),
            format!("device id {:?} may only hold a-z, 0-9, '-' and '_'", d.id),
        ));
    }
    if !d.generic && d.source.url.as_deref().is_none_or(str::is_empty) {
        e.push((
            at.top(&["device", "source"]),
            "a named product needs source.url: the manufacturer's published document the facts come from (or set generic = true)".into(),
        ));
    }
    if !d.generic
        && d.source
            .edition
            .as_deref()
            .is_none_or(|t| t.trim().is_empty())
    {
        e.push((
            at.top(&["device", "source"]),
            "a named product needs source.edition: the revision or date printed on the document, so readers know which version the facts come from".into(),
        ));
    }
    if d.source.title.trim().is_empty() {
        e.push((
            at.top(&["device", "source", "title"]),
            "source.title is empty".into(),
        ));
    }
}

fn check_transports(p: &Profile, at: &Locator<'_>, e: &mut Errors) -> Option<TransportKind> {
    let present: Vec<(&str, TransportKind)> = [
        ("midi", p.midi.is_some(), TransportKind::Midi),
        ("osc", p.osc.is_some(), TransportKind::Osc),
        ("serial", p.serial.is_some(), TransportKind::Serial),
        ("manual", p.manual.is_some(), TransportKind::Manual),
    ]
    .into_iter()
    .filter(|(k, there, _)| *there || at.root.get(k).is_some())
    .map(|(k, _, t)| (k, t))
    .collect();
    match present.as_slice() {
        [] => {
            e.push((
                at.top(&["device"]),
                "no transport: add one of [midi], [osc], [serial] or [manual]".into(),
            ));
            None
        }
        [(_, t)] => {
            check_transport_settings(p, at, e);
            Some(*t)
        }
        [_, rest @ ..] => {
            for (k, _) in rest {
                e.push((
                    at.top(&[k]),
                    format!("a profile has one transport; [{k}] comes after [{}] (write one profile per port)", present[0].0),
                ));
            }
            None
        }
    }
}

fn check_transport_settings(p: &Profile, at: &Locator<'_>, e: &mut Errors) {
    if let Some(m) = &p.midi {
        for (j, t) in m.init.iter().enumerate() {
            let sysex = t.trim_start().starts_with("F0") || t.trim_start().starts_with("f0");
            if let Err(msg) = BinTemplate::parse(t, sysex) {
                e.push((
                    item(at, &["midi", "init"], j),
                    format!("midi.init[{j}]: {msg}"),
                ));
            }
        }
        if let Some(id) = &m.identity {
            let ok = match id.manufacturer.as_slice() {
                [b] => *b != 0 && *b < 0x7E,
                [0, b, c] => *b < 0x80 && *c < 0x80,
                _ => false,
            };
            if !ok {
                e.push((
                    at.top(&["midi", "identity", "manufacturer"]),
                    "manufacturer id is one byte 01..7D or three bytes 00 xx xx".into(),
                ));
            }
            for (k, v) in [("family", id.family), ("member", id.member)] {
                if v.is_some_and(|v| v > 0x3FFF) {
                    e.push((
                        at.top(&["midi", "identity", k]),
                        format!("{k} code is 14-bit (0..16383)"),
                    ));
                }
            }
        }
    }
    if let Some(o) = &p.osc {
        for (j, a) in o.init.iter().enumerate() {
            if let Err(msg) = osc_address(a) {
                e.push((
                    item(at, &["osc", "init"], j),
                    format!("osc.init[{j}]: {msg}"),
                ));
            }
        }
        if let Some(id) = &o.identity {
            for (k, a) in [("query", Some(&id.query)), ("reply", id.reply.as_ref())] {
                if let Some(Err(msg)) = a.map(|a| osc_address(a)) {
                    e.push((at.top(&["osc", "identity", k]), msg));
                }
            }
        }
    }
    if p.pacing.wait_ack && p.serial.as_ref().is_none_or(|s| s.ack.is_none()) {
        e.push((
            at.top(&["pacing", "wait_ack"]),
            "wait_ack needs an acknowledgement to wait for: an `ack` pattern in [serial]".into(),
        ));
    }
    if let Some(s) = &p.serial {
        let f = s.frame.as_bytes();
        if !(f.len() == 3
            && (b'5'..=b'8').contains(&f[0])
            && b"NEOMS".contains(&f[1])
            && (f[2] == b'1' || f[2] == b'2'))
        {
            e.push((
                at.top(&["serial", "frame"]),
                format!(
                    "frame {:?} is not data bits, parity, stop bits like \"8N1\" or \"7E1\"",
                    s.frame
                ),
            ));
        }
        if s.baud == 0 {
            e.push((at.top(&["serial", "baud"]), "baud must be above 0".into()));
        }
        if s.format == SerialFormat::Ascii && s.terminator.is_empty() {
            e.push((
                at.top(&["serial", "terminator"]),
                "a text protocol needs a reply terminator".into(),
            ));
        }
        let parse = |t: &str| -> Result<(), String> {
            match s.format {
                SerialFormat::Ascii => TextTemplate::parse(t).map(|_| ()),
                SerialFormat::Binary => BinTemplate::parse(t, false).map(|_| ()),
            }
        };
        for (k, t) in [("ack", &s.ack), ("error", &s.error)] {
            if let Some(Err(msg)) = t.as_deref().map(parse) {
                e.push((at.top(&["serial", k]), format!("serial.{k}: {msg}")));
            }
        }
        for (j, t) in s.init.iter().enumerate() {
            if let Err(msg) = parse(t) {
                e.push((
                    item(at, &["serial", "init"], j),
                    format!("serial.init[{j}]: {msg}"),
                ));
            }
        }
        if let Some(id) = &s.identity {
            for (k, t) in [("query", &id.query), ("reply", &id.reply)] {
                if let Err(msg) = parse(t) {
                    e.push((
                        at.top(&["serial", "identity", k]),
                        format!("serial.identity.{k}: {msg}"),
                    ));
                }
            }
        }
    }
}

fn item(at: &Locator<'_>, path: &[&str], j: usize) -> usize {
    let mut cur = at.root;
    for k in path {
        match cur.get(k) {
            Some(n) => cur = n,
            None => return at.top(path),
        }
    }
    cur.at(j).map_or(at.top(path), |n| n.span.start)
}

/// Checks an OSC address a device can be sent to.
pub(crate) fn osc_address(a: &str) -> Result<(), String> {
    if !a.starts_with('/') || a.len() < 2 {
        return Err(format!("OSC address {a:?} must start with '/'"));
    }
    if let Some(c) = a
        .chars()
        .find(|c| c.is_whitespace() || "#*?,[]{}".contains(*c))
    {
        return Err(format!(
            "OSC address {a:?} holds {c:?}, which a device address may not"
        ));
    }
    Ok(())
}

fn check_range(def: &ParamDef, i: usize, at: &Locator<'_>, e: &mut Errors) {
    let name = &def.id;
    let misplaced = |e: &mut Errors, key: &str, there: bool, why: &str| {
        if there {
            e.push((at.param(i, &[key]), format!("`{name}`: `{key}` {why}")));
        }
    };
    match def.kind {
        ParamType::Continuous => {
            misplaced(
                e,
                "detents",
                def.detents.is_some(),
                "belongs to stepped parameters",
            );
            misplaced(
                e,
                "labels",
                def.labels.is_some(),
                "belongs to enum parameters",
            );
            let (Some(min), Some(max)) = (def.min, def.max) else {
                e.push((
                    at.param(i, &["id"]),
                    format!("`{name}`: a continuous parameter needs min and max"),
                ));
                return;
            };
            if !(min.is_finite() && max.is_finite() && min < max) {
                e.push((
                    at.param(i, &["max"]),
                    format!("`{name}`: min {min} must be below max {max}"),
                ));
                return;
            }
            if !(def.step >= 0.0 && def.step < max - min) {
                e.push((
                    at.param(i, &["step"]),
                    format!(
                        "`{name}`: step {} must be 0 (none) or below the range",
                        def.step
                    ),
                ));
            }
            match def.taper {
                Curve::Log if min <= 0.0 => e.push((
                    at.param(i, &["taper"]),
                    format!("`{name}`: a log taper needs min > 0 (min is {min})"),
                )),
                Curve::Table => check_table(def, i, min, max, at, e),
                _ => misplaced(e, "table", def.table.is_some(), "needs taper = \"table\""),
            }
        }
        ParamType::Stepped => {
            misplaced(
                e,
                "labels",
                def.labels.is_some(),
                "belongs to enum parameters (stepped knobs use `detents`)",
            );
            for (k, v) in [("min", def.min), ("max", def.max)] {
                if v.is_some_and(|v| v.fract() != 0.0 || !v.is_finite()) {
                    e.push((
                        at.param(i, &[k]),
                        format!("`{name}`: a stepped {k} is a whole position number"),
                    ));
                }
            }
            if def.detents.is_none() && (def.min.is_none() || def.max.is_none()) {
                e.push((
                    at.param(i, &["id"]),
                    format!("`{name}`: a stepped parameter needs min and max, or detents"),
                ));
                return;
            }
            let (min, max) = def.stepped_range();
            if max < min {
                e.push((
                    at.param(i, &["max"]),
                    format!("`{name}`: max {max} is below min {min}"),
                ));
                return;
            }
            if max as i128 - min as i128 >= MAX_POSITIONS as i128 {
                e.push((
                    at.param(i, &["max"]),
                    format!("`{name}`: {min}..{max} has more than {MAX_POSITIONS} positions"),
                ));
                return;
            }
            if let Some(d) = &def.detents {
                let n = (max - min + 1) as usize;
                if d.len() != n {
                    e.push((
                        at.param(i, &["detents"]),
                        format!(
                            "`{name}`: {} detent labels for {n} positions ({min}..{max})",
                            d.len()
                        ),
                    ));
                }
            }
        }
        ParamType::Switch => {
            for k in ["min", "max", "detents", "labels", "table"] {
                let there = match k {
                    "min" => def.min.is_some(),
                    "max" => def.max.is_some(),
                    "detents" => def.detents.is_some(),
                    "labels" => def.labels.is_some(),
                    _ => def.table.is_some(),
                };
                misplaced(
                    e,
                    k,
                    there,
                    "does not apply to a switch (it is 0 = off, 1 = on)",
                );
            }
        }
        ParamType::Enum => {
            misplaced(
                e,
                "detents",
                def.detents.is_some(),
                "belongs to stepped parameters (enums use `labels`)",
            );
            match &def.labels {
                None => e.push((
                    at.param(i, &["id"]),
                    format!("`{name}`: an enum needs labels"),
                )),
                Some(l) if l.is_empty() => e.push((
                    at.param(i, &["labels"]),
                    format!("`{name}`: labels is empty"),
                )),
                Some(l) => {
                    for (j, a) in l.iter().enumerate() {
                        if l[..j].iter().any(|b| b.eq_ignore_ascii_case(a)) {
                            e.push((
                                at.param_item(i, &["labels"], j),
                                format!("`{name}`: label {a:?} appears twice"),
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// `panel` and `ends` describe a hand-set front panel: only manual devices
/// have them, and each fits only some kinds of control.
fn check_panel_mark(
    def: &ParamDef,
    i: usize,
    transport: Option<TransportKind>,
    at: &Locator<'_>,
    e: &mut Errors,
) {
    let name = &def.id;
    if let Some(n) = &def.note
        && (n.trim().is_empty() || n.chars().count() > MAX_NOTE)
    {
        e.push((
            at.param(i, &["note"]),
            format!(
                "`{name}`: a note is 1..{MAX_NOTE} characters, to fit under the control on a sheet"
            ),
        ));
    }
    if def.panel.is_none() && def.ends.is_none() {
        return;
    }
    if transport.is_some_and(|t| t != TransportKind::Manual) {
        let k = if def.panel.is_some() { "panel" } else { "ends" };
        e.push((
            at.param(i, &[k]),
            format!("`{name}`: `{k}` describes a hand-set front panel; this device is remote"),
        ));
        return;
    }
    match (def.panel, def.kind) {
        (Some(PanelMark::Rotation), k) if k != ParamType::Continuous => e.push((
            at.param(i, &["panel"]),
            format!("`{name}`: panel = \"rotation\" is for a continuous control (pot); this one has positions"),
        )),
        (Some(PanelMark::Counted), k) if k != ParamType::Stepped => e.push((
            at.param(i, &["panel"]),
            format!("`{name}`: panel = \"counted\" is for a stepped control whose positions have no printed legend"),
        )),
        _ => {}
    }
    if let Some(ends) = &def.ends {
        if def.kind != ParamType::Continuous {
            e.push((
                at.param(i, &["ends"]),
                format!("`{name}`: `ends` is for a continuous control; a stepped one names its positions in `detents`"),
            ));
        } else if ends.len() != 2 || ends.iter().any(|s| s.trim().is_empty()) {
            e.push((
                at.param(i, &["ends"]),
                format!("`{name}`: `ends` is [fully counter-clockwise, fully clockwise], two non-empty labels"),
            ));
        }
    }
}

fn check_table(def: &ParamDef, i: usize, min: f64, max: f64, at: &Locator<'_>, e: &mut Errors) {
    let name = &def.id;
    let Some(t) = &def.table else {
        e.push((
            at.param(i, &["taper"]),
            format!("`{name}`: taper = \"table\" needs table = [[device, real], …]"),
        ));
        return;
    };
    if t.len() < 2 {
        e.push((
            at.param(i, &["table"]),
            format!("`{name}`: a table needs at least two points"),
        ));
        return;
    }
    for (j, w) in t.windows(2).enumerate() {
        if !(w[1].0 > w[0].0 && w[1].1 > w[0].1) {
            e.push((
                at.param_item(i, &["table"], j + 1),
                format!("`{name}`: table points must rise in both device and real value"),
            ));
        }
    }
    if t[0].1 != min || t[t.len() - 1].1 != max {
        e.push((
            at.param(i, &["table"]),
            format!("`{name}`: the table must run from min {min} to max {max}"),
        ));
    }
}

fn check_default(def: &ParamDef, i: usize, at: &Locator<'_>, e: &mut Errors) {
    let Some(v) = &def.default else { return };
    let name = &def.id;
    let off = at.param(i, &["default"]);
    let msg = match (def.kind, v) {
        (ParamType::Enum, Value::Text(s)) => match &def.labels {
            Some(l) if !l.contains(s) => {
                Some(format!("`{name}`: default {s:?} is not one of the labels"))
            }
            _ => None,
        },
        (ParamType::Enum, _) => Some(format!(
            "`{name}`: the default of an enum is one of its labels"
        )),
        (_, Value::Text(s)) => Some(format!("`{name}`: default {s:?} is not a number")),
        (ParamType::Continuous, v) => {
            let x = v.as_f64().unwrap_or(f64::NAN);
            match (def.min, def.max) {
                (Some(min), Some(max)) if !(min..=max).contains(&x) => {
                    Some(format!("`{name}`: default {x} is outside {min}..{max}"))
                }
                _ => None,
            }
        }
        (ParamType::Stepped, v) => {
            let (min, max) = def.stepped_range();
            let x = v.as_f64().unwrap_or(f64::NAN);
            (x.fract() != 0.0 || !(min as f64..=max as f64).contains(&x))
                .then(|| format!("`{name}`: default {x} is not a position in {min}..{max}"))
        }
        (ParamType::Switch, v) => {
            let x = v.as_f64().unwrap_or(f64::NAN);
            (x != 0.0 && x != 1.0)
                .then(|| format!("`{name}`: default of a switch is 0 or 1, not {x}"))
        }
    };
    if let Some(m) = msg {
        e.push((off, m));
    }
}

fn check_mapping(
    p: &Profile,
    def: &ParamDef,
    i: usize,
    t: TransportKind,
    at: &Locator<'_>,
    e: &mut Errors,
) {
    let name = &def.id;
    let maps = [
        ("midi", def.midi.is_some(), TransportKind::Midi),
        ("osc", def.osc.is_some(), TransportKind::Osc),
        ("serial", def.serial.is_some(), TransportKind::Serial),
    ];
    for (k, there, kind) in maps {
        if there && kind != t {
            e.push((
                at.param(i, &[k]),
                format!(
                    "`{name}` has a [param.{k}] mapping but the device's transport is {}",
                    transport_name(t)
                ),
            ));
        }
    }
    let capacity = match t {
        TransportKind::Manual => return,
        TransportKind::Midi => match &def.midi {
            Some(m) => check_midi_map(def, m, i, at, e),
            None => None,
        },
        TransportKind::Osc => match &def.osc {
            Some(m) => check_osc_map(def, m, i, at, e),
            None => None,
        },
        TransportKind::Serial => match &def.serial {
            Some(m) => check_serial_map(p, def, m, i, at, e),
            None => None,
        },
    };
    let key = match t {
        TransportKind::Midi => "midi",
        TransportKind::Osc => "osc",
        _ => "serial",
    };
    let present = maps.iter().any(|(k, there, _)| *k == key && *there);
    if !present {
        e.push((
            at.param(i, &["id"]),
            format!(
                "`{name}` has no [param.{key}] mapping; every parameter of a {} device needs one",
                transport_name(t)
            ),
        ));
        return;
    }
    check_scaling(def, i, key, capacity, at, e);
}

fn transport_name(t: TransportKind) -> &'static str {
    match t {
        TransportKind::Midi => "MIDI",
        TransportKind::Osc => "OSC",
        TransportKind::Serial => "serial",
        TransportKind::Manual => "manual",
    }
}

/// The device integer range an encoding carries, and how to name it in errors.
pub(crate) struct Capacity {
    pub max: i64,
    pub what: String,
}

fn check_midi_map(
    def: &ParamDef,
    m: &super::MidiMap,
    i: usize,
    at: &Locator<'_>,
    e: &mut Errors,
) -> Option<Capacity> {
    let name = &def.id;
    let kinds = [
        ("cc", m.cc.is_some()),
        ("cc14", m.cc14.is_some()),
        ("nrpn", m.nrpn.is_some()),
        ("rpn", m.rpn.is_some()),
        ("program", m.program),
        ("sysex", m.sysex.is_some()),
    ];
    let chosen: Vec<&str> = kinds.iter().filter(|(_, b)| *b).map(|(k, _)| *k).collect();
    if chosen.len() != 1 {
        e.push((
            at.param(i, &["midi"]),
            format!(
                "`{name}`: [param.midi] needs exactly one of cc, cc14, nrpn, rpn, program, sysex (has {})",
                if chosen.is_empty() { "none".to_string() } else { chosen.join(", ") }
            ),
        ));
        return None;
    }
    let off = |k: &str| at.param(i, &["midi", k]);
    let cap = |max: i64, what: &str| {
        Some(Capacity {
            max,
            what: what.into(),
        })
    };
    if m.nrpn.is_none()
        && m.rpn.is_none()
        && at.params[i]
            .get("midi")
            .and_then(|n| n.get("bits"))
            .is_some()
    {
        e.push((
            off("bits"),
            format!("`{name}`: bits applies to nrpn/rpn only"),
        ));
    }
    let addr_used = |t: &BinTemplate| t.uses(&BinToken::Addr);
    if chosen[0] != "sysex" {
        for (k, there) in [
            ("query", m.query.is_some()),
            ("reply", m.reply.is_some()),
            ("address", !m.address.is_empty()),
        ] {
            if there {
                e.push((
                    off(k),
                    format!("`{name}`: midi.{k} belongs to SysEx mappings"),
                ));
            }
        }
    }
    match chosen[0] {
        "cc" => {
            let cc = m.cc.unwrap_or(0);
            if cc > 119 {
                e.push((off("cc"), format!("`{name}`: CC {cc} is not a controller (0..119; 120..127 are channel mode messages)")));
            }
            cap(127, "a 7-bit CC")
        }
        "cc14" => {
            let cc = m.cc14.unwrap_or(0);
            if cc > 31 {
                e.push((
                    off("cc14"),
                    format!("`{name}`: a 14-bit CC pair has its MSB on controller 0..31, not {cc}"),
                ));
            }
            cap(16383, "a 14-bit CC")
        }
        "nrpn" | "rpn" => {
            let k = chosen[0];
            let n = m.nrpn.or(m.rpn).unwrap_or(0);
            if n > 16383 {
                e.push((off(k), format!("`{name}`: {k} number {n} is above 16383")));
            }
            match m.bits {
                7 => cap(127, &format!("a 7-bit {}", k.to_uppercase())),
                14 => cap(16383, &format!("a 14-bit {}", k.to_uppercase())),
                b => {
                    e.push((off("bits"), format!("`{name}`: bits is 7 or 14, not {b}")));
                    None
                }
            }
        }
        "program" => cap(127, "a program change"),
        _ => {
            let mut capacity = None;
            for k in ["sysex", "query", "reply"] {
                let text = match k {
                    "sysex" => m.sysex.as_ref(),
                    "query" => m.query.as_ref(),
                    _ => m.reply.as_ref(),
                };
                let Some(text) = text else { continue };
                match BinTemplate::parse(text, true) {
                    Err(msg) => e.push((off(k), format!("`{name}`: midi.{k}: {msg}"))),
                    Ok(t) => {
                        if addr_used(&t) && m.address.is_empty() {
                            e.push((off(k), format!("`{name}`: midi.{k} uses {{addr}} but the mapping has no address")));
                        }
                        if k != "query" && t.value_layout().is_none() {
                            e.push((off(k), format!("`{name}`: midi.{k} has no {{value}}")));
                        }
                        if k == "sysex" {
                            capacity = t.value_layout().map(|l| Capacity {
                                max: l.max(true),
                                what: format!("the SysEx value ({} values)", l.max(true) + 1),
                            });
                        }
                    }
                }
            }
            if let Some(b) = m.address.iter().find(|&&b| b > 0x7F) {
                e.push((
                    off("address"),
                    format!("`{name}`: SysEx address byte {b:#04X} is above 7F"),
                ));
            }
            capacity
        }
    }
}

fn check_osc_map(
    def: &ParamDef,
    m: &super::OscMap,
    i: usize,
    at: &Locator<'_>,
    e: &mut Errors,
) -> Option<Capacity> {
    let name = &def.id;
    let off = |k: &str| at.param(i, &["osc", k]);
    for (k, a) in [
        ("address", Some(&m.address)),
        ("query", m.query.as_ref()),
        ("reply", m.reply.as_ref()),
    ] {
        if let Some(Err(msg)) = a.map(|a| osc_address(a)) {
            e.push((off(k), format!("`{name}`: {msg}")));
        }
    }
    match m.arg.as_str() {
        "i" => Some(Capacity {
            max: i32::MAX as i64,
            what: "an OSC int32".into(),
        }),
        "f" | "d" | "s" => None,
        other => {
            e.push((
                off("arg"),
                format!("`{name}`: OSC argument type {other:?} is not one of f, i, d, s"),
            ));
            None
        }
    }
}

fn check_serial_map(
    p: &Profile,
    def: &ParamDef,
    m: &super::SerialMap,
    i: usize,
    at: &Locator<'_>,
    e: &mut Errors,
) -> Option<Capacity> {
    let name = &def.id;
    let off = |k: &str| at.param(i, &["serial", k]);
    let format = p.serial.as_ref().map(|s| s.format).unwrap_or_default();
    if m.query.is_some() && m.reply.is_none() {
        e.push((
            off("query"),
            format!("`{name}`: a query needs a reply pattern to read the value from"),
        ));
    }
    let mut capacity = None;
    for k in ["set", "query", "reply"] {
        let text = match k {
            "set" => Some(&m.set),
            "query" => m.query.as_ref(),
            _ => m.reply.as_ref(),
        };
        let Some(text) = text else { continue };
        match format {
            SerialFormat::Ascii => match TextTemplate::parse(text) {
                Err(msg) => e.push((off(k), format!("`{name}`: serial.{k}: {msg}"))),
                Ok(t) => {
                    if t.has_code() && m.code.is_empty() {
                        e.push((
                            off(k),
                            format!(
                                "`{name}`: serial.{k} uses {{code}} but the mapping has no code"
                            ),
                        ));
                    }
                    if k != "query" && !t.has_value() {
                        e.push((off(k), format!("`{name}`: serial.{k} has no {{value}}")));
                    }
                    if k == "set" && t.tokens.contains(&super::template::TextToken::Any) {
                        e.push((
                            off(k),
                            format!("`{name}`: {{any}} only belongs in reply patterns"),
                        ));
                    }
                }
            },
            SerialFormat::Binary => {
                match BinTemplate::parse(text, false) {
                    Err(msg) => e.push((off(k), format!("`{name}`: serial.{k}: {msg}"))),
                    Ok(t) => {
                        if t.uses(&BinToken::Addr) && m.address.is_empty() {
                            e.push((off(k), format!("`{name}`: serial.{k} uses {{addr}} but the mapping has no address")));
                        }
                        if k != "query" && t.value_layout().is_none() {
                            e.push((off(k), format!("`{name}`: serial.{k} has no {{value}}")));
                        }
                        if k == "set" {
                            capacity = t.value_layout().map(|l| Capacity {
                                max: l.max(false),
                                what: format!("the binary value ({} values)", l.max(false) + 1),
                            });
                        }
                    }
                }
            }
        }
    }
    capacity
}

fn check_scaling(
    def: &ParamDef,
    i: usize,
    key: &str,
    cap: Option<Capacity>,
    at: &Locator<'_>,
    e: &mut Errors,
) {
    let name = &def.id;
    let s = def.scaling(match key {
        "midi" => TransportKind::Midi,
        "osc" => TransportKind::Osc,
        _ => TransportKind::Serial,
    });
    let off = |k: &str| at.param(i, &[key, k]);
    if s.raw_min.is_some() != s.raw_max.is_some() {
        e.push((
            off(if s.raw_min.is_some() {
                "raw_min"
            } else {
                "raw_max"
            }),
            format!("`{name}`: give both raw_min and raw_max"),
        ));
    }
    if let (Some(lo), Some(hi)) = (s.raw_min, s.raw_max) {
        if lo == hi || !lo.is_finite() || !hi.is_finite() {
            e.push((
                off("raw_max"),
                format!("`{name}`: raw_min and raw_max must differ"),
            ));
        }
        if let Some(c) = &cap {
            for (k, v) in [("raw_min", lo), ("raw_max", hi)] {
                if v.fract() != 0.0 || !(0.0..=c.max as f64).contains(&v) {
                    e.push((
                        off(k),
                        format!(
                            "`{name}`: {k} {v} is not in 0..{} that {} carries",
                            c.max, c.what
                        ),
                    ));
                }
            }
        }
    }
    if def.kind == ParamType::Continuous && def.taper == Curve::Table {
        if s.raw_min.is_some() {
            e.push((
                off("raw_min"),
                format!("`{name}`: a table taper takes its device range from the table"),
            ));
        }
        if let (Some(c), Some(t)) = (&cap, &def.table) {
            for (j, (raw, _)) in t.iter().enumerate() {
                if raw.fract() != 0.0 || !(0.0..=c.max as f64).contains(raw) {
                    e.push((
                        at.param_item(i, &["table"], j),
                        format!(
                            "`{name}`: table device value {raw} is not in 0..{} that {} carries",
                            c.max, c.what
                        ),
                    ));
                }
            }
        }
    }
    match (def.positions(), &s.values) {
        (None, Some(_)) => e.push((
            off("values"),
            format!("`{name}`: values are for stepped, switch and enum parameters"),
        )),
        (Some(n), Some(v)) => {
            if v.len() != n {
                e.push((
                    off("values"),
                    format!("`{name}`: {} device values for {n} positions", v.len()),
                ));
            }
            if let Some(c) = &cap
                && let Some(bad) = v.iter().find(|x| !(0..=c.max).contains(*x))
            {
                e.push((
                    off("values"),
                    format!(
                        "`{name}`: device value {bad} is not in 0..{} that {} carries",
                        c.max, c.what
                    ),
                ));
            }
            if s.raw_min.is_some() {
                e.push((
                    off("values"),
                    format!("`{name}`: give values or raw_min/raw_max, not both"),
                ));
            }
        }
        (Some(n), None) => {
            if let Some(c) = &cap {
                if n as i64 > c.max + 1 {
                    e.push((
                        at.param(i, &[key]),
                        format!(
                            "`{name}`: {n} steps do not fit {} ({} values)",
                            c.what,
                            c.max + 1
                        ),
                    ));
                }
                if let (Some(lo), Some(hi)) = (s.raw_min, s.raw_max)
                    && n as f64 > (hi - lo).abs() + 1.0
                {
                    e.push((
                        off("raw_max"),
                        format!("`{name}`: {n} steps do not fit device values {lo}..{hi}"),
                    ));
                }
            }
        }
        (None, None) => {}
    }
}

fn check_midi_collisions(p: &Profile, at: &Locator<'_>, e: &mut Errors) {
    if p.midi.is_none() {
        return;
    }
    let mut used: HashMap<(u8, u16), &str> = HashMap::new();
    for (i, def) in p.params.iter().enumerate() {
        let Some(m) = &def.midi else { continue };
        // Keys: (0, cc) controllers, (1, n) NRPN, (2, n) RPN, (3, 0) program change.
        let (keys, k): (Vec<(u8, u16)>, &str) = if let Some(cc) = m.cc {
            (vec![(0, cc as u16)], "cc")
        } else if let Some(cc) = m.cc14 {
            (vec![(0, cc as u16), (0, cc as u16 + 32)], "cc14")
        } else if let Some(n) = m.nrpn {
            (vec![(1, n)], "nrpn")
        } else if let Some(n) = m.rpn {
            (vec![(2, n)], "rpn")
        } else if m.program {
            (vec![(3, 0)], "program")
        } else {
            continue;
        };
        for key in keys {
            let reserved = key.0 == 0 && [6, 38, 96, 97, 98, 99, 100, 101].contains(&key.1);
            let any_nrpn = p.params.iter().any(|d| {
                d.midi
                    .as_ref()
                    .is_some_and(|m| m.nrpn.is_some() || m.rpn.is_some())
            });
            if reserved && any_nrpn {
                e.push((
                    at.param(i, &["midi", k]),
                    format!(
                        "`{}`: CC {} carries NRPN/RPN data in this profile",
                        def.id, key.1
                    ),
                ));
            }
            if let Some(other) = used.insert(key, &def.id) {
                let what = match key.0 {
                    0 => format!("CC {}", key.1),
                    1 => format!("NRPN {}", key.1),
                    2 => format!("RPN {}", key.1),
                    _ => "program change".to_string(),
                };
                e.push((
                    at.param(i, &["midi", k]),
                    format!("`{}`: {what} is already used by `{other}`", def.id),
                ));
            }
        }
    }
}

fn check_panel(p: &Profile, panel: &super::ManualPanel, at: &Locator<'_>, e: &mut Errors) {
    let mut placed: HashMap<&str, usize> = HashMap::new();
    let row_off = |r: usize| -> usize {
        at.root
            .get("manual")
            .and_then(|m| m.get("row"))
            .and_then(|rows| rows.at(r))
            .map_or(at.top(&["manual"]), |n| Locator::find(n, &["controls"]))
    };
    for (r, row) in panel.rows.iter().enumerate() {
        for c in &row.controls {
            if p.param(c).is_none() {
                e.push((
                    row_off(r),
                    format!("front panel row {} names unknown parameter `{c}`", r + 1),
                ));
            } else if placed.insert(c, r).is_some() {
                e.push((
                    row_off(r),
                    format!("parameter `{c}` is placed on the front panel twice"),
                ));
            }
        }
    }
    for (i, def) in p.params.iter().enumerate() {
        if !placed.contains_key(def.id.as_str()) {
            e.push((
                at.param(i, &["id"]),
                format!(
                    "`{}` is not placed on the front panel ([[manual.row]] controls)",
                    def.id
                ),
            ));
        }
    }
}
