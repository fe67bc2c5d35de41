//! Requests parsed from OSC messages, good and bad, and built back into the same messages.

use super::*;

fn msg(address: &str, args: Vec<OscType>) -> OscMessage {
    OscMessage {
        addr: address.into(),
        args,
    }
}

fn s(x: &str) -> OscType {
    OscType::String(x.into())
}

#[test]
fn only_requests_that_change_something_are_changes() {
    let changes =
        |address: &str, args: Vec<OscType>| Request::parse(&msg(address, args)).unwrap().changes();
    assert!(changes("/chain/trim/gain", vec![OscType::Float(1.0)]));
    assert!(!changes("/chain/trim/gain", vec![]));
    assert!(changes("/rackd/chain/layout", vec![s("trim")]));
    assert!(!changes("/rackd/chain/layout", vec![]));
    assert!(changes("/rackd/snapshot/save", vec![s("a/b")]));
    assert!(changes("/rackd/snapshot/recall", vec![s("a/b")]));
    assert!(changes("/rackd/recall/undo", vec![]));
    assert!(changes("/rackd/recall/confirm", vec![s("eq")]));
    assert!(changes("/chain/gear/measure", vec![]));
    assert!(changes("/rackd/print/cancel", vec![]));
    for (address, args) in [
        ("/rackd/snapshot/history", vec![s("a/b")]),
        ("/rackd/snapshot/diff", vec![s("a/b"), s("current")]),
        ("/rackd/snapshot/list", vec![]),
        ("/rackd/recall/sheet", vec![s("a/b")]),
        ("/rackd/describe", vec![]),
        ("/rackd/status", vec![]),
        ("/rackd/ping", vec![]),
        ("/rackd/subscribe", vec![s("/chain/*/gain")]),
    ] {
        assert!(!changes(address, args), "{address}");
    }
}

#[test]
fn every_request_survives_its_own_message() {
    let requests = [
        Request::Param {
            address: "/chain/trim/gain".into(),
            norm: false,
            value: Some(Value::Float(-3.5)),
        },
        Request::Param {
            address: "/chain/*/bypass".into(),
            norm: false,
            value: None,
        },
        Request::Param {
            address: "/chain/trim/gain".into(),
            norm: true,
            value: Some(Value::Float(0.25)),
        },
        Request::Measure {
            slot: "gear".into(),
        },
        Request::Subscribe {
            reply_port: Some(9000),
            patterns: vec!["/meter/out/*".into()],
        },
        Request::Unsubscribe { reply_port: None },
        Request::Save {
            song: "a/b".into(),
            note: "n".into(),
            safes: vec!["eq".into()],
        },
        Request::Recall {
            song: "a/b".into(),
            rev: Some(3),
            mode: RecallMode::Changed,
        },
        Request::Undo,
        Request::Confirm { device: "p".into() },
        Request::Sheet {
            song: "current".into(),
        },
        Request::List { prefix: "a".into() },
        Request::History { song: "a/b".into() },
        Request::Diff {
            a: "a/b@1".into(),
            b: "current".into(),
        },
        Request::Export { song: "a/b".into() },
        Request::Import {
            document: "{}".into(),
        },
        Request::Describe,
        Request::Info,
        Request::Status,
        Request::Ping {
            args: vec![OscType::Int(7)],
        },
        Request::Layout {
            slots: Some(vec!["eq".into(), "trim".into()]),
        },
        Request::Layout { slots: None },
        Request::Print(PrintRequest {
            song: "a/b".into(),
            input: "mix.wav".into(),
            output: "master.wav".into(),
            bits: 16,
            overwrite: true,
        }),
        Request::PrintCancel,
    ];
    for r in requests {
        let m = r.to_message();
        assert_eq!(Request::parse(&m), Ok(r.clone()), "{m:?}");
    }
}

#[test]
fn bad_arguments_say_what_is_wrong() {
    for (address, args, expected) in [
        (
            "/rackd/snapshot/save",
            vec![],
            "argument 1 must be a string: song",
        ),
        (
            "/rackd/snapshot/recall",
            vec![s("a"), OscType::Int(0)],
            "revision must be a positive integer",
        ),
        (
            "/rackd/snapshot/recall",
            vec![s("a"), s("some")],
            "expected a revision number",
        ),
        (
            "/rackd/subscribe",
            vec![OscType::Int(70_000)],
            "reply port 70000",
        ),
        (
            "/rackd/subscribe",
            vec![OscType::Float(1.0)],
            "patterns must be strings",
        ),
        (
            "/rackd/subscribe",
            vec![s("/chain/[")],
            "pattern \"/chain/[\"",
        ),
        (
            "/rackd/print",
            vec![s("a"), s("b"), s("c"), OscType::Int(-1)],
            "bits -1: choose 16, 24 or 32",
        ),
        (
            "/rackd/print",
            vec![s("a"), s("b"), s("c"), OscType::Int(24), OscType::Int(2)],
            "argument 5",
        ),
        (
            "/rackd/chain/layout",
            vec![OscType::Int(1)],
            "argument 0: expected slot ids",
        ),
        ("/rackd/bogus", vec![], "unknown command /rackd/bogus"),
        (
            "/chain/gear/measure",
            vec![OscType::Int(1)],
            "measure takes no arguments",
        ),
        (
            "/chain/trim/gain",
            vec![OscType::Float(1.0), OscType::Float(2.0)],
            "expected one value, got 2 arguments",
        ),
        (
            "/chain/trim/gain",
            vec![OscType::Nil],
            "unsupported argument type",
        ),
    ] {
        let e = Request::parse(&msg(address, args)).unwrap_err();
        assert!(e.message.contains(expected), "{address}: {e}");
    }
}

#[test]
fn layout_takes_ids_in_one_string_or_several() {
    let one = Request::parse(&msg("/rackd/chain/layout", vec![s("eq, trim meter")]));
    let many = Request::parse(&msg(
        "/rackd/chain/layout",
        vec![s("eq"), s("trim"), s("meter")],
    ));
    assert_eq!(one, many);
}
