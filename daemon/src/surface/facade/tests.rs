//! The facade without sockets: every request a front end hands it, with
//! good and bad arguments, answered with the replies (or the error) a
//! client would read.

use super::*;
use crate::rack::test_rig::{CHAIN, MANUAL_EQ, Rig};
use rackd_protocol::api::{DeviceOutcome, RecallMode};
use std::sync::Mutex;
use std::time::Duration;

/// Collects what the facade sends, to the sender and to subscribers.
#[derive(Default)]
struct Collect {
    replies: Mutex<Vec<Reply>>,
    broadcasts: Mutex<Vec<Reply>>,
}

impl ReplyTo for Collect {
    fn reply(&self, reply: Reply) {
        self.replies.lock().unwrap().push(reply);
    }
    fn broadcast(&self, reply: Reply) {
        self.broadcasts.lock().unwrap().push(reply);
    }
}

impl Collect {
    fn take(&self) -> Vec<Reply> {
        std::mem::take(&mut *self.replies.lock().unwrap())
    }
}

fn from() -> SocketAddr {
    "127.0.0.1:9000".parse().unwrap()
}

/// Handles `request`; the replies to the sender, or the error's text.
async fn ask(rig: &Rig, request: Request) -> Result<Vec<Reply>, String> {
    let to = Arc::new(Collect::default());
    rig.service
        .handle(request, from(), to.clone())
        .await
        .map_err(|e| e.to_string())?;
    Ok(to.take())
}

/// The one reply of a request that must succeed.
async fn one(rig: &Rig, request: Request) -> Reply {
    let what = format!("{request:?}");
    let mut replies = ask(rig, request)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(replies.len(), 1, "{what}: {replies:?}");
    replies.remove(0)
}

async fn save(rig: &Rig, song: &str) -> u32 {
    let request = Request::Save {
        song: song.into(),
        note: "take".into(),
        safes: vec![],
    };
    match one(rig, request).await {
        Reply::Saved { song: s, rev } if s == song => rev,
        other => panic!("{other:?}"),
    }
}

async fn set(rig: &Rig, address: &str, value: Value) -> Vec<(String, Value)> {
    rig.service
        .set(address, value, false, from())
        .await
        .unwrap()
}

#[tokio::test]
async fn get_and_set_take_clamp_and_refuse_in_words() {
    let rig = Rig::new(CHAIN);
    let taken = set(&rig, "/chain/trim/gain", Value::Float(99.0)).await;
    assert_eq!(taken, vec![("/chain/trim/gain".into(), Value::Float(24.0))]);
    let norm = rig.service.get("/chain/trim/gain", true).await.unwrap();
    assert_eq!(
        norm,
        vec![Reply::Norm {
            address: "/chain/trim/gain".into(),
            position: 1.0
        }]
    );
    let all = rig.service.get("/chain/trim/*", false).await.unwrap();
    assert!(all.len() >= 4, "{all:?}");
    let e = rig
        .service
        .set("/chain/nope/gain", Value::Float(1.0), false, from())
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "no parameter at /chain/nope/gain");
    let e = rig
        .service
        .set(
            "/chain/trim/gain",
            Value::Text("loud".into()),
            false,
            from(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("expected a number"), "{e}");
    // Nothing the refusals named changed.
    assert_eq!(
        rig.service.get("/chain/trim/gain", false).await.unwrap(),
        vec![Reply::Value {
            address: "/chain/trim/gain".into(),
            value: Value::Float(24.0)
        }]
    );
}

#[tokio::test]
async fn snapshots_save_list_history_diff_export_and_import() {
    let rig = Rig::new(CHAIN);
    set(&rig, "/chain/trim/gain", Value::Float(-3.0)).await;
    assert_eq!(save(&rig, "album/01 intro").await, 1);
    set(&rig, "/chain/trim/gain", Value::Float(-6.0)).await;
    assert_eq!(save(&rig, "album/01 intro").await, 2);

    match one(
        &rig,
        Request::List {
            prefix: "album/".into(),
        },
    )
    .await
    {
        Reply::List(songs) => {
            assert_eq!(songs.len(), 1);
            assert_eq!(songs[0].song.to_string(), "album/01 intro");
        }
        other => panic!("{other:?}"),
    }
    match one(
        &rig,
        Request::History {
            song: "album/01 intro".into(),
        },
    )
    .await
    {
        Reply::History(revs) => assert_eq!(revs.iter().map(|r| r.rev).collect::<Vec<_>>(), [1, 2]),
        other => panic!("{other:?}"),
    }
    let diff = Request::Diff {
        a: "album/01 intro@1".into(),
        b: "album/01 intro@2".into(),
    };
    match one(&rig, diff).await {
        Reply::Diff(changes) => {
            assert_eq!(changes.len(), 1, "{changes:?}");
            assert_eq!(changes[0].address, "/chain/trim/gain");
        }
        other => panic!("{other:?}"),
    }
    let doc = match one(
        &rig,
        Request::Export {
            song: "album/01 intro".into(),
        },
    )
    .await
    {
        Reply::Export(doc) => doc,
        other => panic!("{other:?}"),
    };
    assert_eq!(doc.revisions.len(), 2);
    let mut text = serde_json::to_value(&*doc).unwrap();
    text["song"] = "elsewhere/01 intro".into();
    match one(
        &rig,
        Request::Import {
            document: text.to_string(),
        },
    )
    .await
    {
        Reply::Imported(report) => assert_eq!(report.song.to_string(), "elsewhere/01 intro"),
        other => panic!("{other:?}"),
    }

    // Bad arguments: an answer in words, nothing stored changes.
    for (request, says) in [
        (
            Request::History {
                song: "nobody".into(),
            },
            "nobody",
        ),
        (
            Request::Export {
                song: "nobody".into(),
            },
            "nobody",
        ),
        (
            Request::Diff {
                a: "album/01 intro@9".into(),
                b: "current".into(),
            },
            "9",
        ),
        (
            Request::Import {
                document: "{not json".into(),
            },
            "export",
        ),
        (
            Request::Save {
                song: String::new(),
                note: String::new(),
                safes: vec![],
            },
            "song",
        ),
    ] {
        let what = format!("{request:?}");
        let e = ask(&rig, request).await.unwrap_err();
        assert!(e.to_lowercase().contains(says), "{what}: {e}");
    }
    match one(
        &rig,
        Request::List {
            prefix: String::new(),
        },
    )
    .await
    {
        Reply::List(songs) => assert_eq!(songs.len(), 2, "{songs:?}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn recall_undo_sheet_and_confirm_go_through_one_recall_service() {
    let rig = Rig::new(&format!("{CHAIN}{MANUAL_EQ}"));
    set(&rig, "/outboard/pultec/low_freq", Value::Int(2)).await;
    set(&rig, "/chain/trim/gain", Value::Float(-3.0)).await;
    save(&rig, "a/song").await;
    set(&rig, "/outboard/pultec/low_freq", Value::Int(0)).await;
    set(&rig, "/chain/trim/gain", Value::Float(0.0)).await;

    // The sheet says what to turn by hand before the recall.
    match one(
        &rig,
        Request::Sheet {
            song: "a/song".into(),
        },
    )
    .await
    {
        Reply::Sheet(sheet) => {
            let d = &sheet.devices[0];
            assert_eq!(d.device, "pultec");
            let turn: Vec<_> = d.to_turn().map(|c| c.param.as_str()).collect();
            assert_eq!(turn, ["low_freq"]);
        }
        other => panic!("{other:?}"),
    }
    let recall = Request::Recall {
        song: "a/song".into(),
        rev: None,
        mode: RecallMode::Full,
    };
    match one(&rig, recall).await {
        Reply::RecallReport(r) => {
            assert_eq!((r.song.as_str(), r.rev), ("a/song", 1));
            assert_eq!(r.changed, 2, "{r:?}");
            assert_eq!(r.devices[0].outcome, DeviceOutcome::Waiting);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        rig.service.get("/chain/trim/gain", false).await.unwrap(),
        vec![Reply::Value {
            address: "/chain/trim/gain".into(),
            value: Value::Float(-3.0)
        }]
    );
    // Confirming answers the sender and tells every subscriber.
    let to = Arc::new(Collect::default());
    let confirm = Request::Confirm {
        device: "pultec".into(),
    };
    rig.service
        .handle(confirm, from(), to.clone())
        .await
        .unwrap();
    let confirmed = Reply::Confirmed {
        device: "pultec".into(),
    };
    assert_eq!(to.take(), vec![confirmed.clone()]);
    assert_eq!(*to.broadcasts.lock().unwrap(), vec![confirmed]);

    match one(&rig, Request::Undo).await {
        Reply::RecallReport(r) => assert_eq!(r.changed, 2, "{r:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        rig.service.get("/chain/trim/gain", false).await.unwrap(),
        vec![Reply::Value {
            address: "/chain/trim/gain".into(),
            value: Value::Float(0.0)
        }]
    );
    for (request, says) in [
        (Request::Undo, "no recall to undo"),
        (
            Request::Recall {
                song: "a/none".into(),
                rev: None,
                mode: RecallMode::Full,
            },
            "a/none",
        ),
        (
            Request::Recall {
                song: "a/song".into(),
                rev: Some(7),
                mode: RecallMode::Changed,
            },
            "7",
        ),
        (
            Request::Confirm {
                device: "la2a".into(),
            },
            "la2a",
        ),
        (
            Request::Sheet {
                song: "a/none".into(),
            },
            "a/none",
        ),
    ] {
        let what = format!("{request:?}");
        let e = ask(&rig, request).await.unwrap_err();
        assert!(e.contains(says), "{what}: {e}");
    }
}

#[tokio::test]
async fn describe_and_layout() {
    let rig = Rig::new(CHAIN);
    match one(&rig, Request::Describe).await {
        Reply::Describe(d) => {
            let ids: Vec<_> = d.chain.iter().map(|s| s.id.as_str()).collect();
            assert_eq!(ids, ["trim", "meter", "gear"]);
        }
        other => panic!("{other:?}"),
    }
    let layout = |slots: Option<&[&str]>| Request::Layout {
        slots: slots.map(|s| s.iter().map(|x| x.to_string()).collect()),
    };
    assert_eq!(
        one(&rig, layout(None)).await,
        Reply::Layout(vec!["trim".into(), "meter".into(), "gear".into()])
    );
    assert_eq!(
        one(&rig, layout(Some(&["meter", "trim"]))).await,
        Reply::Layout(vec!["meter".into(), "trim".into()])
    );
    let e = ask(&rig, layout(Some(&["trim", "fuzz"])))
        .await
        .unwrap_err();
    assert_eq!(e, "no chain slot \"fuzz\"; slots are trim, meter, gear");
    let e = ask(&rig, layout(Some(&["trim", "trim"])))
        .await
        .unwrap_err();
    assert_eq!(e, "slot \"trim\" is listed twice");
    // The refused layouts changed nothing.
    assert_eq!(
        one(&rig, layout(None)).await,
        Reply::Layout(vec!["meter".into(), "trim".into()])
    );
}

#[tokio::test]
async fn measure_and_print_refuse_what_they_cannot_do() {
    let rig = Rig::new(CHAIN);
    let e = ask(
        &rig,
        Request::Measure {
            slot: "nope".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e, "no chain slot \"nope\"");
    let e = ask(
        &rig,
        Request::Measure {
            slot: "trim".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(e.contains("insert"), "{e}");
    let e = ask(&rig, Request::PrintCancel).await.unwrap_err();
    assert_eq!(e, "no print is running");

    // A print starts at once and fails in words, to the sender, when its
    // input is outside the allowed directories; the file is not written.
    save(&rig, "a/song").await;
    let to = Arc::new(Collect::default());
    let print = Request::Print(PrintRequest {
        song: "a/song".into(),
        input: "/etc/passwd".into(),
        output: "out.wav".into(),
        bits: 24,
        overwrite: false,
    });
    rig.service.handle(print, from(), to.clone()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let error = loop {
        let replies = to.replies.lock().unwrap().clone();
        if let Some(Reply::Error { address, message }) = replies.last() {
            break (address.clone(), message.clone());
        }
        assert!(Instant::now() < deadline, "no error reply: {replies:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        to.replies.lock().unwrap()[0],
        Reply::PrintStarted {
            song: "a/song".into()
        }
    );
    assert_eq!(error.0, addr::PRINT);
    assert!(error.1.contains("sources"), "{}", error.1);
    assert!(!rig.dir.path().join("prints/out.wav").exists());
}

#[tokio::test]
async fn front_end_requests_are_not_the_facades() {
    let rig = Rig::new(CHAIN);
    for request in [
        Request::Info,
        Request::Status,
        Request::Ping { args: vec![] },
        Request::Unsubscribe { reply_port: None },
        Request::Subscribe {
            reply_port: None,
            patterns: vec![],
        },
    ] {
        assert_eq!(
            ask(&rig, request).await.unwrap_err(),
            "handled by the front end"
        );
    }
    let info = rig.service.info("127.0.0.1:7770");
    assert_eq!((info.params, info.chain.len()), (rig.hub.tree().len(), 3));
    let st = rig.service.status(
        ClientCounts {
            subscribers: 1,
            statics: 0,
            tcp_connections: 2,
        },
        OscCounts {
            messages: 5,
            bad_packets: 1,
            rejected_not_allowed: 0,
            feedback_dropped: 0,
            refused_connections: 0,
            scheduled_bundles: 0,
        },
    );
    assert_eq!(st.layout, ["trim", "meter", "gear"]);
    assert_eq!(st.ceiling_mode, "sample_peak");
    assert_eq!((st.clients.tcp_connections, st.osc.messages), (2, 5));
    assert!(!st.printing);
}
