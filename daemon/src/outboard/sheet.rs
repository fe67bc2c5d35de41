//! Recall sheets for gear without remote control: each manual device's front
//! panel, row by row, with the printed detent label of every control in the
//! song and what differs from the current state, so the engineer knows which
//! knobs to turn.

use crate::profiles::Device;
use rackd_protocol::api::{ControlKind, PanelMarking, Sheet, SheetControl, SheetDevice, SheetRow};
use rackd_protocol::param::Value;
use rackd_protocol::profile::{PanelMark, ParamDef, ParamType, TransportKind};
use rackd_protocol::state::RackState;
use std::fmt::Write;

/// The sheet of `song` (its state) against `current`, for `/rackd/recall/sheet`.
pub fn sheet(devices: &[Device], song: &str, wanted: &RackState, current: &RackState) -> Sheet {
    let manual = devices
        .iter()
        .filter(|d| d.transport() == TransportKind::Manual)
        .map(|d| {
            let p = &d.profile;
            let rows = p
                .manual
                .iter()
                .flat_map(|m| &m.rows)
                .map(|row| {
                    let controls = row
                        .controls
                        .iter()
                        .filter_map(|id| {
                            let def = p.param(id)?;
                            let address = format!("/outboard/{}/{id}", d.id);
                            let default = def.spec().default;
                            let want = wanted.values.get(&address).unwrap_or(&default);
                            let now = current.values.get(&address).unwrap_or(&default);
                            let spec = def.spec();
                            let kind = match def.kind {
                                ParamType::Switch => ControlKind::Switch,
                                _ => ControlKind::Knob,
                            };
                            let marks = match def.kind {
                                ParamType::Enum => def.labels.clone(),
                                _ => def.detents.clone(),
                            };
                            let panel = match def.panel_mark() {
                                PanelMark::Printed => PanelMarking::Printed,
                                PanelMark::Counted => PanelMarking::Counted,
                                PanelMark::Rotation => PanelMarking::Rotation,
                            };
                            Some(SheetControl {
                                param: id.clone(),
                                name: def.name.clone(),
                                kind,
                                panel,
                                value: want.clone(),
                                label: shown(def, want),
                                position: spec.to_norm(want),
                                current: shown(def, now),
                                current_position: spec.to_norm(now),
                                detents: marks.unwrap_or_default(),
                                ends: def.ends.clone().unwrap_or_default(),
                                note: def.note.clone().unwrap_or_default(),
                                differs: want != now,
                            })
                        })
                        .collect();
                    SheetRow {
                        label: row.label.clone(),
                        controls,
                    }
                })
                .collect();
            let src = &p.device.source;
            SheetDevice {
                device: d.id.clone(),
                vendor: p.device.vendor.clone(),
                model: p.device.model.clone(),
                source: match &src.edition {
                    Some(ed) => format!("{} ({ed})", src.title),
                    None => src.title.clone(),
                },
                rows,
            }
        })
        .collect();
    Sheet {
        song: song.into(),
        devices: manual,
    }
}

/// What the engineer reads for a value: the printed detent or label, or the
/// rotation of a pot in percent.
fn shown(def: &ParamDef, value: &Value) -> String {
    match def.label_of(value) {
        Some(l) => l,
        None if def.panel_mark() == PanelMark::Rotation => match value.as_f64() {
            Some(x) => format!("{} %", (x * 10.0).round() / 10.0),
            None => value.to_string(),
        },
        None => value.to_string(),
    }
}

/// How a control's position is found on the panel, for the text sheet.
fn how_text(c: &SheetControl) -> String {
    match (c.panel, c.ends.as_slice()) {
        (PanelMarking::Rotation, [from, to]) => format!(" (rotation, {from} .. {to})"),
        (PanelMarking::Rotation, _) => " (rotation)".into(),
        (PanelMarking::Counted, _) => " (counted from fully CCW)".into(),
        (PanelMarking::Printed, _) => String::new(),
    }
}

/// "nothing", "1 control", "3 controls".
fn controls_to_turn(n: usize) -> String {
    match n {
        0 => "nothing".to_string(),
        1 => "1 control".to_string(),
        n => format!("{n} controls"),
    }
}

/// The text `rackd ctl sheet` prints.
pub fn render_text(sheet: &Sheet) -> String {
    let mut out = format!("Recall sheet: {}\n", sheet.song);
    if sheet.devices.is_empty() {
        out += "(no manual devices in this rack)\n";
    }
    for d in &sheet.devices {
        out += &format!("\n== {} — {} {} ==\n", d.device, d.vendor, d.model);
        if !d.source.is_empty() {
            out += &format!("  (panel from: {})\n", d.source);
        }
        for row in &d.rows {
            if !row.label.is_empty() {
                out += &format!("  {}\n", row.label);
            }
            for c in &row.controls {
                out += &format!(
                    "    {:<28} [{:>6}]{}{}\n",
                    c.name,
                    c.label,
                    how_text(c),
                    if c.differs {
                        format!("   <- set it (now {})", c.current)
                    } else {
                        String::new()
                    }
                );
                if !c.note.is_empty() {
                    out += &format!("      {}\n", c.note);
                }
            }
        }
        out += &format!(
            "  {} to change; then: rackd ctl confirm {}\n",
            controls_to_turn(d.to_turn().count()),
            d.device
        );
    }
    out
}

/// XML text and attribute escaping.
pub(crate) fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const KNOB_R: f64 = 22.0;
const CELL_W: f64 = 120.0;
const ROW_H: f64 = 180.0;
const MARGIN: f64 = 20.0;
/// More detent labels than this do not fit on one ring around a knob; they
/// are drawn on two staggered rings in a smaller font.
const ONE_RING: usize = 12;

/// A point at `radius` from (cx, cy) in the knob's sweep direction for
/// `position` 0..1: 7 o'clock (fully left) to 5 o'clock (fully right).
fn on_dial(cx: f64, cy: f64, radius: f64, position: f64) -> (f64, f64) {
    let a = (-150.0 + 300.0 * position.clamp(0.0, 1.0)).to_radians();
    (cx + radius * a.sin(), cy - radius * a.cos())
}

/// An XML id made from free text (device ids may hold any character).
fn xml_id(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A note split into lines that fit under a control (about 26 characters).
fn note_lines(note: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in note.split_whitespace() {
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + word.chars().count() <= 26 => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// The marks around a knob: detent ticks with their labels (printed in grey,
/// counted ones in italics), or for a pot the ends of its sweep.
fn dial_marks_svg(out: &mut String, c: &SheetControl, cx: f64, cy: f64) {
    let counted = c.panel == PanelMarking::Counted;
    let marks = &c.detents;
    let n = marks.len();
    let style = if counted {
        r#" font-style="italic""#
    } else {
        ""
    };
    for (i, m) in marks.iter().enumerate() {
        let p = if n > 1 {
            i as f64 / (n - 1) as f64
        } else {
            0.0
        };
        let (x1, y1) = on_dial(cx, cy, KNOB_R + 2.0, p);
        let (x2, y2) = on_dial(cx, cy, KNOB_R + 6.0, p);
        let _ = write!(
            out,
            r##"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="#606060"/>"##
        );
        // One ring while they fit, else two staggered rings in a smaller font.
        let (ring, size) = match (n <= ONE_RING, i % 2) {
            (true, _) => (KNOB_R + 14.0, 8),
            (false, 0) => (KNOB_R + 12.0, 6),
            (false, _) => (KNOB_R + 21.0, 6),
        };
        let (tx, ty) = on_dial(cx, cy, ring, p);
        let _ = write!(
            out,
            r##"<text class="detent" x="{tx:.1}" y="{:.1}" font-size="{size}" text-anchor="middle" fill="#606060"{style}>{}</text>"##,
            ty + 2.5,
            esc(m)
        );
    }
    if c.kind == ControlKind::Knob && n == 0 {
        // A pot: the sweep as an arc, and its ends where the document names them.
        let (x0, y0) = on_dial(cx, cy, KNOB_R + 4.0, 0.0);
        let (x1, y1) = on_dial(cx, cy, KNOB_R + 4.0, 1.0);
        let _ = write!(
            out,
            r##"<path d="M {x0:.1} {y0:.1} A {r} {r} 0 1 1 {x1:.1} {y1:.1}" fill="none" stroke="#909090" stroke-dasharray="2 3"/>"##,
            r = KNOB_R + 4.0
        );
        if let [from, to] = c.ends.as_slice() {
            for (e, p, anchor) in [(from, 0.0, "end"), (to, 1.0, "start")] {
                let (tx, ty) = on_dial(cx, cy, KNOB_R + 8.0, p);
                let _ = write!(
                    out,
                    r##"<text class="end" x="{tx:.1}" y="{:.1}" font-size="8" text-anchor="{anchor}" fill="#606060">{}</text>"##,
                    ty + 8.0,
                    esc(e)
                );
            }
        }
    }
}

/// One knob or switch, centred at (cx, cy); red where the song differs
/// from the current state, with the current position dashed.
fn control_svg(out: &mut String, device: &str, c: &SheetControl, cx: f64, cy: f64) {
    let differs = c.differs;
    let ink = if differs { "#c00000" } else { "#202020" };
    let (pos, now) = (c.position, c.current_position);
    let (label, param) = (c.label.as_str(), c.param.as_str());
    let kind = match c.kind {
        ControlKind::Knob => "knob",
        ControlKind::Switch => "switch",
    };
    let panel = match c.panel {
        PanelMarking::Printed => "printed",
        PanelMarking::Counted => "counted",
        PanelMarking::Rotation => "rotation",
    };
    let _ = write!(
        out,
        r#"<g class="{} {}" data-param="{}" data-label="{}" data-position="{:.3}" data-panel="{}" data-cx="{cx:.0}" data-cy="{cy:.0}" id="control-{}-{}">"#,
        kind,
        if differs { "differs" } else { "same" },
        esc(param),
        esc(label),
        pos,
        panel,
        xml_id(device),
        xml_id(param)
    );
    if c.kind == ControlKind::Switch {
        let _ = write!(
            out,
            r##"<rect x="{:.1}" y="{:.1}" width="20" height="36" rx="4" fill="#f4f4f4" stroke="{ink}" stroke-width="2"/>"##,
            cx - 10.0,
            cy - 18.0
        );
        let lever_y = if pos >= 0.5 { cy - 16.0 } else { cy + 2.0 };
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{lever_y:.1}" width="14" height="14" fill="{ink}"/>"#,
            cx - 7.0
        );
    } else {
        let _ = write!(
            out,
            r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="{KNOB_R}" fill="#f4f4f4" stroke="{ink}" stroke-width="2"/>"##
        );
        dial_marks_svg(out, c, cx, cy);
        if differs {
            let (x, y) = on_dial(cx, cy, KNOB_R - 4.0, now);
            let _ = write!(
                out,
                r##"<line class="now" x1="{cx:.1}" y1="{cy:.1}" x2="{x:.1}" y2="{y:.1}" stroke="#909090" stroke-width="2" stroke-dasharray="3 2"/>"##
            );
        }
        let (x, y) = on_dial(cx, cy, KNOB_R - 2.0, pos);
        let _ = write!(
            out,
            r#"<line class="pointer" x1="{cx:.1}" y1="{cy:.1}" x2="{x:.1}" y2="{y:.1}" stroke="{ink}" stroke-width="3" stroke-linecap="round"/>"#
        );
    }
    let mut y = cy + KNOB_R + 36.0;
    let _ = write!(
        out,
        r#"<text class="name" x="{cx:.1}" y="{y:.1}" font-size="10" text-anchor="middle">{}</text>"#,
        esc(&c.name)
    );
    y += 14.0;
    let _ = write!(
        out,
        r#"<text class="value" x="{cx:.1}" y="{y:.1}" font-size="11" font-weight="bold" text-anchor="middle" fill="{ink}">{}</text>"#,
        esc(&if differs {
            format!("{label} (now {})", c.current)
        } else {
            label.to_string()
        })
    );
    let how = match c.panel {
        PanelMarking::Rotation if c.kind == ControlKind::Knob => "rotation: % from full CCW",
        PanelMarking::Counted => "count clicks from full CCW",
        _ => "",
    };
    for line in note_lines(how).into_iter().chain(note_lines(&c.note)) {
        y += 10.0;
        let _ = write!(
            out,
            r##"<text class="note" x="{cx:.1}" y="{y:.1}" font-size="7" text-anchor="middle" fill="#505050">{}</text>"##,
            esc(&line)
        );
    }
    out.push_str("</g>");
}

/// One device's front panel as a standalone SVG document.
fn device_svg(d: &SheetDevice) -> String {
    let rows = &d.rows;
    let widest = rows
        .iter()
        .map(|r| r.controls.len())
        .max()
        .unwrap_or(0)
        .max(3);
    let width = MARGIN * 2.0 + CELL_W * widest as f64;
    let height = MARGIN * 2.0 + 30.0 + ROW_H * rows.len() as f64;
    let device = d.device.as_str();
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" id="device-{}" data-device="{}">"#,
        xml_id(device),
        esc(device)
    );
    let _ = write!(
        out,
        r##"<rect x="1" y="1" width="{:.0}" height="{:.0}" rx="6" fill="#dcdcd6" stroke="#404040" stroke-width="2"/>"##,
        width - 2.0,
        height - 2.0
    );
    let _ = write!(
        out,
        r#"<text class="title" x="{MARGIN}" y="{:.0}" font-size="14" font-weight="bold">{} — {} {}</text>"#,
        MARGIN + 6.0,
        esc(device),
        esc(&d.vendor),
        esc(&d.model)
    );
    if !d.source.is_empty() {
        let _ = write!(
            out,
            r##"<text class="source" x="{MARGIN}" y="{:.0}" font-size="8" fill="#505050">panel from: {}</text>"##,
            MARGIN + 20.0,
            esc(&d.source)
        );
    }
    for (r, row) in rows.iter().enumerate() {
        let top = MARGIN + 30.0 + ROW_H * r as f64;
        if !row.label.is_empty() {
            let _ = write!(
                out,
                r#"<text class="row" x="{MARGIN}" y="{:.0}" font-size="11" letter-spacing="1">{}</text>"#,
                top + 14.0,
                esc(&row.label)
            );
        }
        for (i, c) in row.controls.iter().enumerate() {
            let cx = MARGIN + CELL_W * (i as f64 + 0.5);
            control_svg(&mut out, device, c, cx, top + 62.0);
        }
    }
    out.push_str("</svg>");
    out
}

/// `rackd ctl sheet --format svg`: every manual device's front panel drawn
/// with knob pointers at the song's detents, stacked in one SVG document.
pub fn render_svg(sheet: &Sheet) -> String {
    let panels: Vec<String> = sheet.devices.iter().map(device_svg).collect();
    let size = |svg: &str, attr: &str| -> f64 {
        svg.split_once(&format!("{attr}=\""))
            .and_then(|(_, rest)| rest.split('"').next()?.parse().ok())
            .unwrap_or(0.0)
    };
    let width = panels
        .iter()
        .map(|p| size(p, "width"))
        .fold(400.0, f64::max);
    let height: f64 = 40.0 + panels.iter().map(|p| size(p, "height") + 10.0).sum::<f64>();
    let mut out = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif">"#
    );
    let _ = write!(
        out,
        r#"<text x="10" y="24" font-size="16">Recall sheet: {}</text>"#,
        esc(&sheet.song)
    );
    let mut y = 40.0;
    for p in &panels {
        let _ = write!(out, r#"<g transform="translate(0 {y:.0})">{p}</g>"#);
        y += size(p, "height") + 10.0;
    }
    if panels.is_empty() {
        out.push_str(
            r#"<text x="10" y="60" font-size="12">(no manual devices in this rack)</text>"#,
        );
    }
    out.push_str("</svg>\n");
    out
}

/// `rackd ctl sheet --format html`: a printable page with each device's
/// panel (inline SVG) and a list of the controls to turn.
pub fn render_html(sheet: &Sheet) -> String {
    let song = esc(&sheet.song);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>Recall sheet: {song}</title>\
         <style>body{{font-family:sans-serif}} .differs{{color:#c00000}}</style></head><body>\
         <h1>Recall sheet: {song}</h1>"
    );
    if sheet.devices.is_empty() {
        out.push_str("<p>No manual devices in this rack.</p>");
    }
    for d in &sheet.devices {
        let id = esc(&d.device);
        let _ = write!(
            out,
            "<section><h2>{id} — {} {}</h2>{}<ul>",
            esc(&d.vendor),
            esc(&d.model),
            device_svg(d)
        );
        let mut to_turn = 0;
        for c in d.to_turn() {
            to_turn += 1;
            let _ = write!(
                out,
                "<li class=\"differs\">{}: set <b>{}</b> (now {})</li>",
                esc(&c.name),
                esc(&c.label),
                esc(&c.current)
            );
        }
        if to_turn == 0 {
            out.push_str("<li>Nothing to change.</li>");
        }
        let _ = write!(
            out,
            "</ul><p>Then: <code>rackd ctl confirm {id}</code></p></section>"
        );
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DeviceLink;
    use crate::profiles::Library;

    #[test]
    fn sheet_prints_detent_labels_and_marks_differences() {
        let lib = Library::load_from(&[]);
        let profile = lib
            .get("generic-passive-eq-stepped")
            .unwrap()
            .profile
            .clone();
        let devices = vec![Device {
            id: "pultec".into(),
            ctx: rackd_protocol::device::DeviceCtx::for_profile(&profile),
            profile,
            link: DeviceLink::None,
            safe: false,
            safe_params: Vec::new(),
        }];
        let mut wanted = RackState::default();
        wanted
            .values
            .insert("/outboard/pultec/low_freq".into(), Value::Int(2));
        let mut current = RackState::default();
        current
            .values
            .insert("/outboard/pultec/low_freq".into(), Value::Int(0));
        let s = sheet(&devices, "a/b", &wanted, &current);
        let low = &s.devices[0].rows[0].controls[0];
        assert_eq!(low.label, "60");
        assert_eq!(low.current, "20");
        assert!(low.differs);
        // The wire keeps the field names the web page and scripts read.
        let wire = serde_json::to_value(&s).unwrap();
        let c = &wire["devices"][0]["rows"][0]["controls"][0];
        assert_eq!(
            (&c["label"], &c["kind"], &c["panel"]),
            (&"60".into(), &"knob".into(), &"printed".into())
        );
        let text = render_text(&s);
        assert!(text.contains("LOW FREQUENCY"), "{text}");
        assert!(
            text.lines()
                .any(|l| l.contains("[    60]") && l.contains("<- set it (now 20)")),
            "{text}"
        );
        assert!(text.contains("1 control to change"), "{text}");
    }

    /// Checks that every tag is closed in order (a well-formedness check
    /// without an XML crate); returns the names of the elements opened.
    fn balanced(doc: &str) -> Vec<String> {
        let mut open: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        let mut rest = doc;
        while let Some(i) = rest.find('<') {
            let end = rest[i..].find('>').expect("unclosed <") + i;
            let tag = &rest[i + 1..end];
            rest = &rest[end + 1..];
            assert!(!rest[..rest.find('<').unwrap_or(rest.len())].contains('>'));
            if tag.starts_with('?') || tag.starts_with('!') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop().as_deref(), Some(name), "misnested </{name}>");
                continue;
            }
            assert_eq!(tag.matches('"').count() % 2, 0, "bad attributes in <{tag}>");
            let name = tag.split_whitespace().next().unwrap().trim_end_matches('/');
            seen.push(name.to_string());
            if !tag.ends_with('/') {
                open.push(name.to_string());
            }
        }
        assert!(open.is_empty(), "unclosed {open:?}");
        seen
    }

    #[test]
    fn svg_and_html_draw_every_control_at_its_detent() {
        let lib = Library::load_from(&[]);
        let profile = lib
            .get("generic-passive-eq-stepped")
            .unwrap()
            .profile
            .clone();
        let devices = vec![Device {
            id: "p&q".into(),
            ctx: rackd_protocol::device::DeviceCtx::for_profile(&profile),
            profile,
            link: DeviceLink::None,
            safe: false,
            safe_params: Vec::new(),
        }];
        let mut wanted = RackState::default();
        let set = |s: &mut RackState, p: &str, v: i64| {
            s.values.insert(format!("/outboard/p&q/{p}"), Value::Int(v));
        };
        set(&mut wanted, "low_freq", 2);
        set(&mut wanted, "eq_in", 0);
        let mut current = RackState::default();
        set(&mut current, "low_freq", 0);
        set(&mut current, "eq_in", 1);
        let s = sheet(&devices, "a/<b>", &wanted, &current);
        let svg = render_svg(&s);
        let elements = balanced(&svg);
        assert!(elements.contains(&"circle".to_string()));
        assert!(svg.contains("a/&lt;b&gt;") && svg.contains("data-device=\"p&amp;q\""));
        let controls: Vec<&SheetControl> =
            s.devices[0].rows.iter().flat_map(|r| &r.controls).collect();
        assert_eq!(controls.len(), 9);
        for c in &controls {
            let head = format!(
                "data-param=\"{}\" data-label=\"{}\" data-position=\"{:.3}\"",
                c.param, c.label, c.position
            );
            assert!(svg.contains(&head), "{head} not in {svg}");
            assert!(svg.contains(&format!(">{}<", c.name)));
        }
        // Low frequency: detent 60 of 20/30/60/100, drawn at 2/3 of the sweep
        // (+50° from 12 o'clock), red, with "now 20" and the current pointer dashed.
        let low = svg.split("data-param=\"low_freq\"").nth(1).unwrap();
        let low = &low[..low.find("</g>").unwrap()];
        assert!(svg.contains("class=\"knob differs\" data-param=\"low_freq\""));
        let (x, y) = on_dial(80.0, 112.0, KNOB_R - 2.0, 2.0 / 3.0);
        assert!((x - 95.3).abs() < 0.1 && (y - 99.1).abs() < 0.1, "{x} {y}");
        assert!(
            low.contains(&format!("x2=\"{x:.1}\" y2=\"{y:.1}\" stroke=\"#c00000\"")),
            "{low}"
        );
        assert!(
            low.contains("class=\"now\"") && low.contains("60 (now 20)"),
            "{low}"
        );
        for detent in ["20", "30", "60", "100"] {
            assert!(low.contains(&format!(">{detent}</text>")), "{low}");
        }
        assert!(svg.contains("class=\"switch differs\" data-param=\"eq_in\" data-label=\"off\""));
        assert!(svg.contains("class=\"knob same\" data-param=\"low_boost\""));

        let html = render_html(&s);
        balanced(&html);
        assert!(
            html.contains("Low frequency (CPS): set <b>60</b> (now 20)"),
            "{html}"
        );
        assert!(html.contains("EQ in: set <b>off</b> (now on)"), "{html}");
        assert!(html.contains("<svg") && html.contains("rackd ctl confirm p&amp;q"));
    }

    #[test]
    fn sheets_say_how_each_control_is_found_on_the_panel() {
        let lib = Library::load_from(&[]);
        let profile = lib.get("generic-manual-ms-matrix").unwrap().profile.clone();
        let devices = vec![Device {
            id: "ms".into(),
            ctx: rackd_protocol::device::DeviceCtx::for_profile(&profile),
            profile,
            link: DeviceLink::None,
            safe: false,
            safe_params: Vec::new(),
        }];
        let mut wanted = RackState::default();
        wanted
            .values
            .insert("/outboard/ms/balance".into(), Value::Float(62.5));
        wanted
            .values
            .insert("/outboard/ms/side_level".into(), Value::Int(8));
        let s = sheet(&devices, "a", &wanted, &RackState::default());
        let text = render_text(&s);
        let line = |needle: &str| {
            text.lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("{needle}: {text}"))
                .to_string()
        };
        assert!(
            line("BALANCE").contains("[62.5 %] (rotation, L .. R)"),
            "{text}"
        );
        assert!(
            line("SIDE LEVEL").contains("[     8] (counted from fully CCW)"),
            "{text}"
        );
        assert!(
            text.contains("      11 clicks, no legend; 6 is unity"),
            "{text}"
        );
        assert!(
            text.contains("(panel from: rackd generic profile"),
            "{text}"
        );
        let svg = render_svg(&s);
        balanced(&svg);
        let group = |param: &str| {
            let g = svg
                .split(&format!("data-param=\"{param}\""))
                .nth(1)
                .unwrap();
            g[..g.find("</g>").unwrap()].to_string()
        };
        let balance = group("balance");
        assert!(balance.contains(r#"data-panel="rotation""#), "{balance}");
        assert!(
            balance.contains(">L</text>") && balance.contains(">R</text>"),
            "{balance}"
        );
        assert!(
            balance.contains(">rotation: % from full CCW</text>"),
            "{balance}"
        );
        let side = group("side_level");
        assert!(side.contains(r#"data-panel="counted""#), "{side}");
        assert_eq!(side.matches(r#"font-style="italic""#).count(), 11, "{side}");
        assert!(
            side.contains(">count clicks from full CCW</text>"),
            "{side}"
        );
        assert_eq!(
            note_lines("0 dB to +24 dB; active in MANUAL only"),
            ["0 dB to +24 dB; active in", "MANUAL only"]
        );
    }
}
