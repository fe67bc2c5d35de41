//! Recall sheets for gear without remote control: each manual device's front
//! panel, row by row, with the printed detent label of every control in the
//! song and what differs from the current state, so the engineer knows which
//! knobs to turn.

use crate::profiles::Device;
use rackd_protocol::param::Value;
use rackd_protocol::profile::TransportKind;
use rackd_protocol::state::RackState;
use serde_json::json;

/// The sheet of `song` (its state) against `current`, as JSON for `/rackd/recall/sheet`.
pub fn sheet(
    devices: &[Device],
    song: &str,
    wanted: &RackState,
    current: &RackState,
) -> serde_json::Value {
    let manual: Vec<serde_json::Value> = devices
        .iter()
        .filter(|d| d.transport() == TransportKind::Manual)
        .map(|d| {
            let p = &d.profile;
            let rows: Vec<serde_json::Value> = p
                .manual
                .iter()
                .flat_map(|m| &m.rows)
                .map(|row| {
                    let controls: Vec<serde_json::Value> = row
                        .controls
                        .iter()
                        .filter_map(|id| {
                            let def = p.param(id)?;
                            let address = format!("/outboard/{}/{id}", d.id);
                            let default = def.spec().default;
                            let want = wanted.values.get(&address).unwrap_or(&default);
                            let now = current.values.get(&address).unwrap_or(&default);
                            Some(json!({
                                "param": id,
                                "name": def.name,
                                "value": want,
                                "label": shown(def.label_of(want), want),
                                "current": shown(def.label_of(now), now),
                                "differs": want != now,
                            }))
                        })
                        .collect();
                    json!({ "label": row.label, "controls": controls })
                })
                .collect();
            json!({
                "device": d.id,
                "vendor": p.device.vendor,
                "model": p.device.model,
                "rows": rows,
            })
        })
        .collect();
    json!({ "song": song, "devices": manual })
}

fn shown(label: Option<String>, value: &Value) -> String {
    label.unwrap_or_else(|| value.to_string())
}

/// The text `rackd ctl sheet` prints.
pub fn render_text(sheet: &serde_json::Value) -> String {
    let mut out = format!("Recall sheet: {}\n", sheet["song"].as_str().unwrap_or("?"));
    let devices = sheet["devices"].as_array().cloned().unwrap_or_default();
    if devices.is_empty() {
        out += "(no manual devices in this rack)\n";
    }
    for d in devices {
        out += &format!(
            "\n== {} — {} {} ==\n",
            d["device"].as_str().unwrap_or("?"),
            d["vendor"].as_str().unwrap_or(""),
            d["model"].as_str().unwrap_or("")
        );
        let mut to_turn = 0;
        for row in d["rows"].as_array().into_iter().flatten() {
            if let Some(label) = row["label"].as_str().filter(|l| !l.is_empty()) {
                out += &format!("  {label}\n");
            }
            for c in row["controls"].as_array().into_iter().flatten() {
                let differs = c["differs"].as_bool().unwrap_or(false);
                to_turn += differs as usize;
                out += &format!(
                    "    {:<28} [{:>6}]{}\n",
                    c["name"].as_str().unwrap_or("?"),
                    c["label"].as_str().unwrap_or("?"),
                    if differs {
                        format!(
                            "   <- set it (now {})",
                            c["current"].as_str().unwrap_or("?")
                        )
                    } else {
                        String::new()
                    }
                );
            }
        }
        out += &format!(
            "  {} to change; then: rackd ctl confirm {}\n",
            match to_turn {
                0 => "nothing".to_string(),
                1 => "1 control".to_string(),
                n => format!("{n} controls"),
            },
            d["device"].as_str().unwrap_or("?")
        );
    }
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
        let low = &s["devices"][0]["rows"][0]["controls"][0];
        assert_eq!(low["label"], "60");
        assert_eq!(low["current"], "20");
        assert_eq!(low["differs"], true);
        let text = render_text(&s);
        assert!(text.contains("LOW FREQUENCY"), "{text}");
        assert!(
            text.lines()
                .any(|l| l.contains("[    60]") && l.contains("<- set it (now 20)")),
            "{text}"
        );
        assert!(text.contains("1 control to change"), "{text}");
    }
}
