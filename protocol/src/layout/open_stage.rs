//! An Open Stage Control session (v1 session file): a tab per page, a
//! panel per parameter with its name and control, real units everywhere
//! (faders take `logScale` for log tapers), choices as switches or
//! dropdowns. A CONNECT button subscribes and renews every few seconds
//! (Open Stage Control sends from scripts only after a user action).

use super::{Page, Target, key, meter_range, plan, step_buttons, subscribe_patterns};
use crate::api::address as addr;
use crate::api::{Describe, DescribedMeter, DescribedParam};
use crate::param::{ParamKind, Taper};
use serde_json::{Value as Json, json};

/// The session file for `d`, sending to `target`.
pub fn open_stage_control(d: &Describe, target: &Target) -> Json {
    let t = format!("{}:{}", target.host, target.port);
    let plan = plan(d);
    let mut tabs: Vec<Json> = plan.pages.iter().map(|p| tab(p, &t, target)).collect();
    tabs.push(snapshot_tab(&plan.manual, &t, target));
    json!({
        "version": "1.26.2",
        "createdWith": "rackd",
        "type": "session",
        "content": {
            "type": "root",
            "id": "root",
            "tabs": tabs,
        }
    })
}

fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The CONNECT button: subscribes now and every few seconds after.
fn connect(page: &str, t: &str, target: &Target) -> Json {
    let mut args: Vec<String> = target
        .reply_port
        .map(|p| format!("{{type: 'i', value: {p}}}"))
        .into_iter()
        .collect();
    args.extend(subscribe_patterns().iter().map(|p| js(p)));
    let script = format!(
        "var subscribe = function () {{ send({}, {}, {}) }}\nsubscribe()\nsetInterval('rackd', subscribe, {})",
        js(t),
        js(addr::SUBSCRIBE),
        args.join(", "),
        super::RENEW_MS
    );
    json!({
        "type": "button",
        "id": format!("connect_{page}"),
        "label": "connect",
        "mode": "tap",
        "bypass": true,
        "width": 100,
        "height": 40,
        "onValue": script,
    })
}

fn tab(p: &Page, t: &str, target: &Target) -> Json {
    let mut widgets = vec![connect(&p.key, t, target)];
    widgets.extend(p.params.iter().map(|d| strip(d, t)));
    widgets.extend(p.meters.iter().map(|m| meter(m, &p.key)));
    json!({
        "type": "tab",
        "id": format!("tab_{}", p.key),
        "label": p.title,
        "layout": "grid",
        "gridTemplate": 8,
        "widgets": widgets,
    })
}

/// A parameter's panel: its name above its control.
fn strip(p: &DescribedParam, t: &str) -> Json {
    let id = key(&p.address);
    json!({
        "type": "panel",
        "id": format!("strip{id}"),
        "layout": "vertical",
        "height": 260,
        "widgets": [
            { "type": "text", "id": format!("name{id}"), "value": p.spec.name, "height": 40 },
            control(p, &id, t),
        ],
    })
}

/// The control for one parameter, in real units.
pub fn control(p: &DescribedParam, id: &str, t: &str) -> Json {
    let common = |kind: &str| {
        json!({
            "type": kind,
            "id": format!("ctl{id}"),
            "address": p.address,
            "target": t,
            "expand": true,
        })
    };
    let mut w = match &p.spec.kind {
        ParamKind::Continuous {
            min,
            max,
            taper,
            step,
        } => {
            let mut w = common("fader");
            w["range"] = json!({ "min": min, "max": max });
            w["logScale"] = json!(*taper == Taper::Log);
            w["typeTags"] = json!("f");
            w["decimals"] = json!(decimals(*step));
            w["unit"] = json!(p.spec.unit.suffix());
            w["pips"] = json!(true);
            w
        }
        ParamKind::Stepped { min, max } if step_buttons(*min, *max).is_some() => {
            let values = step_buttons(*min, *max).unwrap_or_default();
            let mut w = common(if values.len() <= 4 {
                "switch"
            } else {
                "dropdown"
            });
            w["values"] = json!(values);
            w["typeTags"] = json!("i");
            w
        }
        ParamKind::Stepped { min, max } => {
            let mut w = common("fader");
            w["range"] = json!({ "min": min, "max": max });
            w["steps"] = json!("auto");
            w["typeTags"] = json!("i");
            w["decimals"] = json!(0);
            w
        }
        ParamKind::Switch => {
            let mut w = common("button");
            w["mode"] = json!("toggle");
            w["on"] = json!(1);
            w["off"] = json!(0);
            w["typeTags"] = json!("i");
            w["label"] = json!(p.spec.name);
            w
        }
        ParamKind::Enum { labels } => {
            let mut w = common(if labels.len() <= 4 {
                "switch"
            } else {
                "dropdown"
            });
            w["values"] = json!(labels);
            w["typeTags"] = json!("s");
            w
        }
    };
    w["default"] = serde_json::to_value(&p.spec.default).unwrap_or(Json::Null);
    w
}

fn decimals(step: f64) -> u32 {
    if step <= 0.0 {
        2
    } else {
        (-step.log10()).ceil().clamp(0.0, 4.0) as u32
    }
}

/// A meter: two bars for left and right, or one gauge.
fn meter(m: &DescribedMeter, page: &str) -> Json {
    let (min, max) = meter_range(&m.quantity);
    let id = format!("meter_{page}{}", key(&m.address));
    let label = format!("{} {}", m.point, m.quantity);
    if m.channels == 2 {
        json!({
            "type": "plot",
            "id": id,
            "address": m.address,
            "bars": true,
            "rangeY": { "min": min, "max": max },
            "interaction": false,
            "comments": label,
            "height": 260,
        })
    } else {
        json!({
            "type": "fader",
            "id": id,
            "address": m.address,
            "range": { "min": min, "max": max },
            "design": "compact",
            "interaction": false,
            "comments": label,
            "height": 260,
        })
    }
}

/// Save and recall of the current song (the one last saved or recalled,
/// or typed in), undo, and a confirm button for each device set by hand.
fn snapshot_tab(manual: &[String], t: &str, target: &Target) -> Json {
    let button = |id: &str, label: &str, script: String| {
        json!({
            "type": "button",
            "id": id,
            "label": label,
            "mode": "tap",
            "bypass": true,
            "onValue": script,
        })
    };
    let send = |address: &str, arg: &str| format!("send({}, {}{arg})", js(t), js(address));
    let mut widgets = vec![
        connect("snapshots", t, target),
        json!({ "type": "input", "id": "snapshot_song", "bypass": true, "width": 400, "comments": "song: the last saved or recalled, or type one" }),
        json!({ "type": "variable", "id": "snapshot_saved", "address": addr::SNAPSHOT_SAVED, "onValue": "set('snapshot_song', value[0], {send: false})" }),
        json!({ "type": "variable", "id": "snapshot_recalled", "address": addr::SNAPSHOT_RECALLED, "onValue": "set('snapshot_song', value[0], {send: false})" }),
        button(
            "snapshot_save",
            "save",
            send(addr::SNAPSHOT_SAVE, ", get('snapshot_song')"),
        ),
        button(
            "snapshot_recall",
            "recall",
            send(addr::SNAPSHOT_RECALL, ", get('snapshot_song')"),
        ),
        button("snapshot_undo", "undo recall", send(addr::RECALL_UNDO, "")),
        json!({ "type": "text", "id": "snapshot_report", "address": addr::RECALL_REPORT, "width": 600, "height": 200, "wrap": true }),
    ];
    for dev in manual {
        widgets.push(button(
            &format!("confirm_{}", key(dev)),
            &format!("confirm {dev} (set by hand)"),
            send(addr::RECALL_CONFIRM, &format!(", {}", js(dev))),
        ));
    }
    json!({
        "type": "tab",
        "id": "tab_snapshots",
        "label": "snapshots",
        "layout": "horizontal",
        "widgets": widgets,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::rack;
    use super::*;

    #[test]
    fn every_parameter_gets_a_control_in_real_units() {
        let target = Target {
            host: "10.0.0.2".into(),
            port: 7770,
            reply_port: None,
        };
        let s = open_stage_control(&rack(), &target);
        let text = s.to_string();
        let find = |a: &str| {
            fn walk<'a>(j: &'a Json, a: &str, out: &mut Vec<&'a Json>) {
                if j["address"] == a && j["target"].is_string() {
                    out.push(j);
                }
                for k in ["tabs", "widgets"] {
                    if let Some(list) = j[k].as_array() {
                        list.iter().for_each(|c| walk(c, a, out));
                    }
                }
            }
            let mut out = Vec::new();
            walk(&s["content"], a, &mut out);
            assert_eq!(out.len(), 1, "{a}");
            out[0].clone()
        };
        let freq = find("/chain/eq/b1_freq");
        assert_eq!(freq["range"], json!({"min": 10.0, "max": 40000.0}));
        assert_eq!(freq["logScale"], true);
        assert_eq!(freq["target"], "10.0.0.2:7770");
        assert_eq!(
            find("/chain/eq/b1_type")["values"],
            json!(["bell", "low_shelf"])
        );
        assert_eq!(find("/chain/eq/bypass")["type"], "button");
        // 11 positions: a menu of them.
        let boost = find("/outboard/pultec/low_boost");
        assert_eq!(boost["type"], "dropdown");
        assert_eq!(boost["values"], json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
        // 1000 positions: a fader.
        assert_eq!(
            find("/chain/eq/position")["range"],
            json!({"min": 0, "max": 999})
        );
        assert!(text.contains("confirm_pultec"), "{text}");
        assert!(text.contains("/rackd/subscribe"), "{text}");
    }
}
