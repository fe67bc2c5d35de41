//! The hub over a real store in a temp dir.

use super::*;
use crate::config::SlotConfig;
use rackd_dsp::SlotKind;

fn test_hub(dir: &Path) -> HubHandle {
    let tree = ParamTree::from_chain(&[
        SlotConfig::new("trim", SlotKind::Trim),
        SlotConfig::new("out", SlotKind::Meter),
    ]);
    start(tree, StoreWorker::start(&dir.join("rackd.db")).unwrap())
}

fn origin() -> Origin {
    Origin::Surface("127.0.0.1:1".parse().unwrap())
}

#[tokio::test]
async fn set_clamps_and_every_observer_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let hub = test_hub(dir.path());
    let mut a = hub.subscribe();
    let mut b = hub.subscribe();
    let taken = hub
        .set("/chain/trim/gain", Value::Float(99.0), false, origin())
        .await
        .unwrap();
    assert_eq!(taken, vec![("/chain/trim/gain".into(), Value::Float(24.0))]);
    for rx in [&mut a, &mut b] {
        match rx.recv().await.unwrap() {
            Event::Changed { address, value, .. } => {
                assert_eq!(&*address, "/chain/trim/gain");
                assert_eq!(value, Value::Float(24.0));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn errors_are_readable_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hub = test_hub(dir.path());
    let before = hub.state().await.unwrap();
    let e = hub
        .set("/chain/nope/gain", Value::Float(1.0), false, origin())
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "no parameter at /chain/nope/gain");
    let e = hub
        .set(
            "/chain/trim/gain",
            Value::Text("loud".into()),
            false,
            origin(),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("expected a number"), "{e}");
    assert!(
        hub.set("/chain/trim/gain", Value::Float(2.0), true, origin())
            .await
            .is_err()
    );
    assert_eq!(hub.state().await.unwrap(), before);
}

#[tokio::test]
async fn patterns_and_norm() {
    let dir = tempfile::tempdir().unwrap();
    let hub = test_hub(dir.path());
    let taken = hub
        .set("/chain/*/bypass", Value::Int(1), false, origin())
        .await
        .unwrap();
    assert_eq!(taken.len(), 2);
    let taken = hub
        .set("/chain/trim/gain", Value::Float(0.25), true, origin())
        .await
        .unwrap();
    assert_eq!(taken[0].1, Value::Float(-12.0));
}

#[tokio::test]
async fn save_recall_diff() {
    let dir = tempfile::tempdir().unwrap();
    let hub = test_hub(dir.path());
    hub.set("/chain/trim/gain", Value::Float(-3.5), false, origin())
        .await
        .unwrap();
    let info = hub
        .save("client/album/01 intro", "first", "test")
        .await
        .unwrap();
    assert_eq!(info.rev, 1);
    hub.set("/chain/trim/gain", Value::Float(2.0), false, origin())
        .await
        .unwrap();
    let diff = hub.diff("client/album/01 intro", "current").await.unwrap();
    assert_eq!(diff.len(), 1);
    let mut rx = hub.subscribe();
    let report = hub.recall("client/album/01 intro", None).await.unwrap();
    assert_eq!((report.rev, report.changed), (1, 1));
    match rx.recv().await.unwrap() {
        Event::Changed { value, .. } => assert_eq!(value, Value::Float(-3.5)),
        other => panic!("{other:?}"),
    }
    assert!(hub.recall("client/album/01 intro", Some(7)).await.is_err());
}

#[tokio::test]
async fn recall_leaves_the_monitor_alone_and_restore_brings_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let hub = test_hub(dir.path());
    hub.set("/monitor/level", Value::Float(-10.0), false, origin())
        .await
        .unwrap();
    hub.set("/monitor/mute", Value::Int(1), false, origin())
        .await
        .unwrap();
    hub.save("s", "", "test").await.unwrap();
    let stored = hub.resolve("s").await.unwrap();
    assert_eq!(
        stored.values.get("/monitor/level"),
        Some(&Value::Float(-10.0)),
        "snapshots hold the monitor values"
    );
    hub.set("/monitor/level", Value::Float(-30.0), false, origin())
        .await
        .unwrap();
    hub.set("/monitor/mute", Value::Int(0), false, origin())
        .await
        .unwrap();
    hub.set("/chain/trim/gain", Value::Float(5.0), false, origin())
        .await
        .unwrap();
    let report = hub.recall("s", None).await.unwrap();
    assert_eq!(report.changed, 1, "only the trim gain");
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(
        hub.get("/monitor/level").await.unwrap()[0].1,
        Value::Float(-30.0)
    );
    assert_eq!(hub.get("/monitor/mute").await.unwrap()[0].1, Value::Int(0));
    hub.apply(stored, Origin::Restore).await.unwrap();
    assert_eq!(
        hub.get("/monitor/level").await.unwrap()[0].1,
        Value::Float(-10.0)
    );
}
