//! The recall sheet of every shipped hand-set profile, drawn by a running
//! daemon (`rackd ctl sheet SONG --format svg`) and read back by outside
//! tools (`tests/scripts/sheet_panels.py`: Python's XML parser, and
//! rsvg-convert rendering each panel to a PNG): every control renders with
//! ink in its cell, and shows the profile's name for it, the position the
//! song wants, every printed position of a detented control, and the ends and
//! note the profile gives a pot.

use rackd_protocol::param::Value;
use rackd_protocol::profile::{
    PanelMark, ParamDef, ParamType, Profile, TransportKind, load_profile,
};
use rackd_tests::*;

const SONG: &str = "client/album/01 sheet";

fn manual_profiles() -> Vec<Profile> {
    let dir = workspace_dir().join("hardware-profiles");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            load_profile(&text, &f.display().to_string()).unwrap()
        })
        .filter(|p| p.transport() == TransportKind::Manual)
        .collect()
}

/// The song's value for a control: its last position, or 75 % of a pot, so
/// the sheet shows something other than the default.
fn song_value(def: &ParamDef) -> Value {
    match def.kind {
        ParamType::Stepped => Value::Int(def.stepped_range().1),
        ParamType::Enum => Value::Text(def.labels.as_ref().unwrap().last().unwrap().clone()),
        ParamType::Switch => Value::Int(1),
        ParamType::Continuous => Value::Float(75.0),
    }
}

/// What the sheet must print as the value: the profile's printed label, or
/// the rotation in percent.
fn expected_label(def: &ParamDef, v: &Value) -> String {
    match def.label_of(v) {
        Some(l) => l,
        None => format!("{} %", v.as_f64().unwrap()),
    }
}

fn osc_arg(v: &Value) -> rosc::OscType {
    match v {
        Value::Int(i) => rosc::OscType::Int(*i as i32),
        Value::Float(x) => rosc::OscType::Float(*x as f32),
        Value::Text(t) => rosc::OscType::String(t.clone()),
    }
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_manual_profile_draws_each_control_with_its_positions() {
    assert!(
        have_program("rsvg-convert"),
        "rsvg-convert is missing: scripts/install-deps installs librsvg2-bin"
    );
    let profiles = manual_profiles();
    assert!(
        profiles.len() >= 15,
        "only {} manual profiles",
        profiles.len()
    );
    let extra: String = profiles
        .iter()
        .map(|p| device_toml(p.id(), p.id(), ""))
        .collect();
    let d = Daemon::start(Setup {
        extra,
        ..Setup::default()
    });
    // One TCP connection: its messages are handled in order, and `sync`
    // waits until all have been.
    let mut osc = OscTcp::connect(d.port, Framing::Slip);
    for p in &profiles {
        for def in &p.params {
            let address = format!("/outboard/{}/{}", p.id(), def.id);
            osc.send(&address, vec![osc_arg(&song_value(def))]);
        }
    }
    osc.sync();
    d.ctl_ok(&["save", SONG]);
    // Back to the default on one control each, so the sheet also marks a change.
    for p in &profiles {
        let def = &p.params[0];
        let address = format!("/outboard/{}/{}", p.id(), def.id);
        osc.send(&address, vec![osc_arg(&def.spec().default)]);
    }
    osc.sync();
    let svg = d.ctl_ok(&["sheet", SONG, "--format", "svg"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sheet.svg");
    std::fs::write(&file, &svg).unwrap();
    if let Some(keep) = std::env::var_os("RACKD_KEEP_SHEET") {
        std::fs::write(keep, &svg).unwrap();
    }
    let out = run_with_timeout(
        std::process::Command::new("python3")
            .arg(crate_dir().join("scripts/sheet_panels.py"))
            .arg(&file)
            .arg(dir.path()),
        std::time::Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let panels: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    for p in &profiles {
        let id = p.id();
        let panel = &panels[id];
        assert!(panel.is_object(), "{id}: no panel on the sheet");
        // Rendered at half size.
        let png = &panel["png"];
        assert!(
            png["width"].as_u64().unwrap() >= 150 && png["height"].as_u64().unwrap() >= 100,
            "{id}: {png}"
        );
        assert!(
            strings(&panel["title"])[0].contains(&p.device.model),
            "{id}: {panel}"
        );
        assert!(
            strings(&panel["source"])[0].contains(&p.device.source.title),
            "{id}: {panel}"
        );
        let rows = strings(&panel["rows"]);
        for row in &p.manual.as_ref().unwrap().rows {
            assert!(
                row.label.is_empty() || rows.contains(&row.label),
                "{id}: row {} missing from {rows:?}",
                row.label
            );
        }
        let controls = panel["controls"].as_object().unwrap();
        assert_eq!(controls.len(), p.params.len(), "{id}");
        for def in &p.params {
            let c = &controls[&def.id];
            let what = format!("{id}/{}", def.id);
            // Its knob or switch, marks and texts leave dark pixels in its cell
            // of the rendered panel (about 50 at least); a control drawn
            // invisibly leaves none.
            let ink = c["ink"].as_u64().unwrap();
            assert!(ink >= 20, "{what}: only {ink} dark pixels in its cell");
            assert_eq!(
                strings(&c["name"]),
                std::slice::from_ref(&def.name),
                "{what}"
            );
            let want = expected_label(def, &song_value(def));
            let value = strings(&c["value"]);
            assert_eq!(value.len(), 1, "{what}");
            assert!(value[0].starts_with(&want), "{what}: {value:?} for {want}");
            assert_eq!(c["label"], want, "{what}");
            let panel_mark = match def.panel_mark() {
                PanelMark::Printed => "printed",
                PanelMark::Counted => "counted",
                PanelMark::Rotation => "rotation",
            };
            assert_eq!(c["panel"], panel_mark, "{what}");
            let positions = match def.kind {
                ParamType::Stepped => def.detents.clone().unwrap(),
                ParamType::Enum => def.labels.clone().unwrap(),
                _ => Vec::new(),
            };
            assert_eq!(strings(&c["detents"]), positions, "{what}");
            assert_eq!(
                strings(&c["ends"]),
                def.ends.clone().unwrap_or_default(),
                "{what}"
            );
            let notes = strings(&c["notes"]).join(" ");
            if let Some(n) = &def.note {
                assert!(notes.ends_with(n.as_str()), "{what}: {notes:?}");
            }
            if def.panel_mark() == PanelMark::Rotation {
                assert!(notes.starts_with("rotation"), "{what}: {notes:?}");
            }
        }
    }
}
