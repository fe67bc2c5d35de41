//! Recall sheets built from shipped profiles and states: rows, marks, what differs.

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
    let controls: Vec<&SheetControl> = s.devices[0].rows.iter().flat_map(|r| &r.controls).collect();
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
