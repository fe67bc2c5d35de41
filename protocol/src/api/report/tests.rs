//! Reports keep their wire field names.

use super::*;

#[test]
fn a_device_report_keeps_its_line_and_its_outcome_on_the_wire() {
    let reports = [
        DeviceOutcome::Verified { verified: 3 },
        DeviceOutcome::Sent,
        DeviceOutcome::Waiting,
        DeviceOutcome::Safe,
        DeviceOutcome::Unchanged,
        DeviceOutcome::Failed {
            why: "no reply".into(),
        },
    ]
    .map(|outcome| DeviceReport {
        device: "eq".into(),
        outcome,
    });
    for r in reports {
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["result"], r.outcome.to_string(), "{json}");
        let back: DeviceReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }
    let failed = serde_json::to_value(DeviceReport {
        device: "eq".into(),
        outcome: DeviceOutcome::Failed {
            why: "offline".into(),
        },
    })
    .unwrap();
    assert_eq!(failed["result"], "failed: offline");
    assert_eq!(failed["outcome"], "failed");
}

#[test]
fn described_params_survive_their_json() {
    use crate::param::ParamSpec;
    for (spec, value, detents) in [
        (
            ParamSpec::choice("kind", "Kind", &["bell", "shelf"], "bell"),
            Value::Text("shelf".into()),
            vec![],
        ),
        (
            ParamSpec::stepped("freq", "Frequency", 0, 2, 0),
            Value::Int(1),
            vec!["20".to_string(), "30".into(), "60".into()],
        ),
    ] {
        let p = DescribedParam {
            spec,
            address: "/outboard/eq/x".into(),
            value,
            detents,
        };
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(
            serde_json::from_str::<DescribedParam>(&text).unwrap(),
            p,
            "{text}"
        );
    }
}

#[test]
fn health_words_are_the_status_words() {
    for (h, word) in [
        (Health::Ok, "ok"),
        (Health::ReadOnly, "read-only"),
        (Health::Failing, "failing"),
    ] {
        assert_eq!(serde_json::to_value(h).unwrap(), word);
        assert_eq!(h.to_string(), word);
    }
}
