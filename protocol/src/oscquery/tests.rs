//! OSCQuery namespace nodes, queries and WebSocket commands against the proposal.

use super::*;
use crate::param::ParamSpec;

fn described(address: &str, spec: ParamSpec, value: Value, labels: &[&str]) -> DescribedParam {
    DescribedParam {
        spec,
        address: address.into(),
        value,
        detents: labels.iter().map(|s| s.to_string()).collect(),
    }
}

fn namespace() -> Namespace {
    let mut containers = BTreeMap::new();
    containers.insert("/chain/trim".to_string(), "trim slot".to_string());
    Namespace::new("rackd", namespace_leaves(), &containers)
}

fn namespace_leaves() -> Vec<Leaf> {
    vec![
        Leaf::param(&described(
            "/chain/trim/gain",
            ParamSpec::linear("gain", "Gain", Unit::Db, -24.0, 24.0, 0.0),
            Value::Float(-3.5),
            &[],
        )),
        Leaf::param(&described(
            "/chain/eq/b1_type",
            ParamSpec::choice("b1_type", "Band 1 type", &["bell", "notch"], "bell"),
            Value::Text("notch".into()),
            &[],
        )),
        Leaf::param(&described(
            "/outboard/passive/low_freq",
            ParamSpec::stepped("low_freq", "Low frequency", 0, 2, 0),
            Value::Int(1),
            &["20", "30", "60"],
        )),
        Leaf::param(&described(
            "/chain/trim/bypass",
            ParamSpec::switch("bypass", "Bypass", false),
            Value::Int(0),
            &[],
        )),
        Leaf::meter(
            "/meter/out/peak",
            &[-6.0, -7.5],
            Some("gain.db"),
            "Sample peak",
        ),
    ]
}

#[test]
fn the_tree_has_the_proposals_attributes() {
    let ns = namespace();
    let root = ns.get("/").unwrap();
    assert_eq!(root["FULL_PATH"], "/");
    assert_eq!(root["ACCESS"], 0);
    let gain = &root["CONTENTS"]["chain"]["CONTENTS"]["trim"]["CONTENTS"]["gain"];
    assert_eq!(
        *gain,
        json!({
            "FULL_PATH": "/chain/trim/gain",
            "DESCRIPTION": "Gain (dB)",
            "TYPE": "f",
            "ACCESS": 3,
            "VALUE": [-3.5],
            "RANGE": [{"MIN": -24.0, "MAX": 24.0}],
            "UNIT": ["gain.db"],
            "CLIPMODE": ["both"],
        })
    );
    assert_eq!(
        root["CONTENTS"]["chain"]["CONTENTS"]["trim"]["DESCRIPTION"],
        "trim slot"
    );
    let kind = ns.get("/chain/eq/b1_type").unwrap();
    assert_eq!(kind["TYPE"], "s");
    assert_eq!(kind["RANGE"], json!([{"VALS": ["bell", "notch"]}]));
    assert!(kind.get("CLIPMODE").is_none());
    let stepped = ns.get("/outboard/passive/low_freq").unwrap();
    assert_eq!(stepped["TYPE"], "i");
    assert_eq!(
        stepped["RANGE"],
        json!([{"MIN": 0, "MAX": 2, "VALS": [0, 1, 2]}])
    );
    assert_eq!(stepped["LABELS"], json!(["20", "30", "60"]));
    assert!(stepped.get("UNIT").is_none());
    let meter = ns.get("/meter/out/peak").unwrap();
    assert_eq!(meter["TYPE"], "ff");
    assert_eq!(meter["ACCESS"], 1);
    assert_eq!(meter["UNIT"], json!(["gain.db", "gain.db"]));
    assert!(meter.get("CONTENTS").is_none());
}

#[test]
fn the_text_is_the_tree() {
    let ns = namespace();
    for path in ["/", "/chain", "/chain/trim/gain", "/meter/out/peak"] {
        let text = ns.get_text(path).unwrap();
        let parsed: Json = serde_json::from_slice(&text).unwrap();
        assert_eq!(parsed, ns.get(path).unwrap(), "{path}");
    }
    assert_eq!(ns.get_text("/nope").unwrap_err().status(), 404);
}

#[test]
fn single_attributes_and_their_errors() {
    let ns = namespace();
    assert_eq!(
        ns.attribute("/chain/trim/gain", "VALUE").unwrap(),
        json!({"VALUE": [-3.5]})
    );
    assert_eq!(
        ns.attribute("/chain/trim/gain", "RANGE").unwrap(),
        json!({"RANGE": [{"MIN": -24.0, "MAX": 24.0}]})
    );
    assert_eq!(ns.attribute("/chain", "TYPE").unwrap(), json!({}));
    assert_eq!(ns.attribute("/chain", "VALUE").unwrap_err().status(), 204);
    assert_eq!(ns.attribute("/nothing", "TYPE").unwrap_err().status(), 404);
    assert_eq!(
        ns.attribute("/chain/trim/gain", "BOGUS")
            .unwrap_err()
            .status(),
        400
    );
    assert_eq!(ns.get("/chain/trim/gain/deeper").unwrap_err().status(), 404);
}

#[test]
fn host_info_lists_what_is_served() {
    let info = HostInfo {
        name: "rackd".into(),
        osc_ip: Some("127.0.0.1".into()),
        osc_port: 7770,
        ws_port: 7771,
    }
    .to_json();
    assert_eq!(info["OSC_PORT"], 7770);
    assert_eq!(info["OSC_TRANSPORT"], "UDP");
    assert_eq!(info["WS_PORT"], 7771);
    for e in [
        "LISTEN",
        "PATH_CHANGED",
        "VALUE",
        "RANGE",
        "UNIT",
        "CLIPMODE",
    ] {
        assert_eq!(info["EXTENSIONS"][e], true, "{e}");
    }
}

#[test]
fn websocket_commands() {
    assert_eq!(
        WsCommand::parse(r#"{"COMMAND":"LISTEN","DATA":"/chain/trim/gain"}"#),
        Ok(WsCommand::Listen("/chain/trim/gain".into()))
    );
    assert_eq!(
        WsCommand::parse(r#"{"COMMAND":"IGNORE","DATA":"/a"}"#),
        Ok(WsCommand::Ignore("/a".into()))
    );
    for bad in [
        "",
        "[]",
        r#"{"COMMAND":"LISTEN"}"#,
        r#"{"COMMAND":"DANCE","DATA":"/a"}"#,
        r#"{"COMMAND":"LISTEN","DATA":"a"}"#,
    ] {
        assert!(WsCommand::parse(bad).is_err(), "{bad}");
    }
    let notice: Json = serde_json::from_str(&path_changed("/chain")).unwrap();
    assert_eq!(notice, json!({"COMMAND": "PATH_CHANGED", "DATA": "/chain"}));
}

#[test]
fn a_skeleton_filled_is_the_text() {
    let ns = namespace();
    let skeleton = ns.skeleton("/").unwrap();
    let addresses: Vec<&str> = skeleton.addresses().collect();
    assert_eq!(addresses.len(), 5);
    let values = [
        Value::Float(-3.5),
        Value::Text("notch".into()),
        Value::Int(1),
        Value::Int(0),
    ];
    let value_of = |a: &str| match a {
        "/chain/trim/gain" => &values[0],
        "/chain/eq/b1_type" => &values[1],
        "/outboard/passive/low_freq" => &values[2],
        _ => &values[3],
    };
    let filled = skeleton.fill(|i| match addresses[i] {
        "/meter/out/peak" => LeafValue::Meter(&[-6.0, -7.5]),
        a => LeafValue::Param(value_of(a)),
    });
    assert_eq!(
        String::from_utf8(filled).unwrap(),
        String::from_utf8(ns.get_text("/").unwrap()).unwrap()
    );
    // Other values: the same text as a namespace built with them.
    let filled = skeleton.fill(|i| match addresses[i] {
        "/meter/out/peak" => LeafValue::Meter(&[-0.1, f32::NAN]),
        "/chain/trim/gain" => LeafValue::Param(&Value::Float(-20.1)),
        a => LeafValue::Param(value_of(a)),
    });
    let mut leaves = namespace_leaves();
    leaves[0].value = vec![json!(-20.1)];
    leaves[4] = Leaf::meter(
        "/meter/out/peak",
        &[-0.1, f32::NAN],
        Some("gain.db"),
        "Sample peak",
    );
    let mut containers = BTreeMap::new();
    containers.insert("/chain/trim".to_string(), "trim slot".to_string());
    let fresh = Namespace::new("rackd", leaves, &containers);
    assert_eq!(
        String::from_utf8(filled).unwrap(),
        String::from_utf8(fresh.get_text("/").unwrap()).unwrap()
    );
    // A meter without readings has no VALUE, as its leaf.
    let filled = skeleton.fill(|i| match addresses[i] {
        "/meter/out/peak" => LeafValue::Meter(&[]),
        a => LeafValue::Param(value_of(a)),
    });
    let parsed: Json = serde_json::from_slice(&filled).unwrap();
    let peak = &parsed["CONTENTS"]["meter"]["CONTENTS"]["out"]["CONTENTS"]["peak"];
    assert_eq!(peak["TYPE"], "ff");
    assert!(peak.get("VALUE").is_none());
}
