//! The recall service without sockets: safes (the config's and a
//! snapshot's own), changed-only recalls, undo, restore and a device whose
//! port cannot open, over a real hub and store.

use super::*;
use crate::rack::test_rig::{CHAIN, MANUAL_EQ, Rig};
use rackd_protocol::param::Value;

/// A serial switcher on a port that does not exist, and a second manual EQ
/// that is recall-safe as a whole, and a third with one safe parameter.
fn rack() -> String {
    format!(
        "{CHAIN}{MANUAL_EQ}\
         [[device]]\nid = \"switcher\"\nprofile = \"generic-insert-switcher-serial\"\n\
         serial = {{ path = \"/dev/rackd-test-no-such-port\" }}\n\n\
         [[device]]\nid = \"spare\"\nprofile = \"generic-passive-eq-stepped\"\nsafe = true\n\n\
         [[device]]\nid = \"half\"\nprofile = \"generic-passive-eq-stepped\"\nsafe = [\"low_freq\"]\n\n"
    )
}

fn origin() -> Origin {
    Origin::Surface("127.0.0.1:9000".parse().unwrap())
}

async fn set(rig: &Rig, address: &str, value: Value) {
    rig.hub.set(address, value, false, origin()).await.unwrap();
}

async fn value(rig: &Rig, address: &str) -> Value {
    rig.hub.get(address).await.unwrap().remove(0).1
}

fn outcome<'a>(report: &'a RecallReport, device: &str) -> &'a DeviceOutcome {
    &report
        .devices
        .iter()
        .find(|d| d.device == device)
        .unwrap_or_else(|| panic!("{device} not in {report:?}"))
        .outcome
}

#[tokio::test]
async fn safes_are_left_alone_and_a_dead_port_fails_in_words() {
    let rig = Rig::new(&rack());
    for d in ["spare", "half", "pultec"] {
        set(&rig, &addr::outboard(d, "low_freq"), Value::Int(2)).await;
    }
    set(&rig, "/outboard/half/high_boost", Value::Int(3)).await;
    rig.hub.save("a/song", "", "test").await.unwrap();
    for d in ["spare", "half", "pultec"] {
        set(&rig, &addr::outboard(d, "low_freq"), Value::Int(0)).await;
    }
    set(&rig, "/outboard/half/high_boost", Value::Int(0)).await;

    let report = rig
        .recall
        .recall("a/song", None, RecallMode::Full)
        .await
        .unwrap();
    assert_eq!(outcome(&report, "spare"), &DeviceOutcome::Safe);
    assert_eq!(outcome(&report, "pultec"), &DeviceOutcome::Waiting);
    assert_eq!(outcome(&report, "half"), &DeviceOutcome::Waiting);
    match outcome(&report, "switcher") {
        DeviceOutcome::Failed { why } => {
            assert!(why.contains("/dev/rackd-test-no-such-port"), "{why}")
        }
        other => panic!("switcher: {other:?}"),
    }
    // The safe device and the safe parameter kept the room's values.
    assert_eq!(value(&rig, "/outboard/spare/low_freq").await, Value::Int(0));
    assert_eq!(value(&rig, "/outboard/half/low_freq").await, Value::Int(0));
    assert_eq!(
        value(&rig, "/outboard/half/high_boost").await,
        Value::Int(3)
    );
    assert_eq!(
        value(&rig, "/outboard/pultec/low_freq").await,
        Value::Int(2)
    );
}

#[tokio::test]
async fn a_snapshots_own_safes_hold_only_for_it() {
    let rig = Rig::new(&rack());
    set(&rig, "/outboard/pultec/low_freq", Value::Int(2)).await;
    rig.hub
        .save_with_safes("a/song", "", "test", vec!["pultec".into()])
        .await
        .unwrap();
    set(&rig, "/outboard/pultec/low_freq", Value::Int(1)).await;
    let report = rig
        .recall
        .recall("a/song", None, RecallMode::Full)
        .await
        .unwrap();
    assert_eq!(outcome(&report, "pultec"), &DeviceOutcome::Safe);
    assert_eq!(report.safes, ["pultec"]);
    assert_eq!(
        value(&rig, "/outboard/pultec/low_freq").await,
        Value::Int(1)
    );
}

#[tokio::test]
async fn changed_only_sends_nothing_to_gear_that_did_not_change() {
    let rig = Rig::new(&rack());
    set(&rig, "/chain/trim/gain", Value::Float(-2.0)).await;
    rig.hub.save("a/song", "", "test").await.unwrap();
    set(&rig, "/chain/trim/gain", Value::Float(0.0)).await;
    let report = rig
        .recall
        .recall("a/song", None, RecallMode::Changed)
        .await
        .unwrap();
    // The switcher's values are the song's already: its dead port is not asked.
    assert_eq!(outcome(&report, "switcher"), &DeviceOutcome::Unchanged);
    assert_eq!(report.changed, 1, "{report:?}");
    let full = rig
        .recall
        .recall("a/song", None, RecallMode::Full)
        .await
        .unwrap();
    assert!(matches!(
        outcome(&full, "switcher"),
        DeviceOutcome::Failed { .. }
    ));
}

#[tokio::test]
async fn undo_puts_back_the_state_before_the_last_recall_but_not_the_safes() {
    let rig = Rig::new(&rack());
    set(&rig, "/chain/trim/gain", Value::Float(-4.0)).await;
    set(&rig, "/outboard/pultec/low_freq", Value::Int(3)).await;
    rig.hub.save("a/song", "", "test").await.unwrap();
    set(&rig, "/chain/trim/gain", Value::Float(1.0)).await;
    set(&rig, "/outboard/pultec/low_freq", Value::Int(1)).await;
    rig.recall
        .recall("a/song", None, RecallMode::Full)
        .await
        .unwrap();
    assert_eq!(value(&rig, "/chain/trim/gain").await, Value::Float(-4.0));
    // Moved after the recall on a safe device: undo must not take it back.
    set(&rig, "/outboard/spare/low_freq", Value::Int(2)).await;
    let undo = rig.recall.undo().await.unwrap();
    assert_eq!(undo.changed, 2, "{undo:?}");
    assert_eq!(value(&rig, "/chain/trim/gain").await, Value::Float(1.0));
    assert_eq!(
        value(&rig, "/outboard/pultec/low_freq").await,
        Value::Int(1)
    );
    assert_eq!(value(&rig, "/outboard/spare/low_freq").await, Value::Int(2));
    let again = rig.recall.undo().await.unwrap_err();
    assert_eq!(again.to_string(), "no recall to undo");
}

#[tokio::test]
async fn restore_brings_the_state_back_without_asking_the_gear() {
    let rig = Rig::new(&rack());
    let mut state = rig.hub.state().await.unwrap();
    state
        .values
        .insert("/chain/trim/gain".into(), Value::Float(-5.0));
    state
        .values
        .insert("/outboard/switcher/insert_1".into(), Value::Int(1));
    state
        .values
        .insert("/chain/gone/gain".into(), Value::Float(1.0));
    let mut events = rig.hub.subscribe();
    let applied = rig.recall.restore(state).await.unwrap();
    assert_eq!(applied.skipped, ["/chain/gone/gain"]);
    assert_eq!(value(&rig, "/chain/trim/gain").await, Value::Float(-5.0));
    // Changes went out to subscribers, nothing to the gear.
    let mut changed = 0;
    while let Ok(e) = events.try_recv() {
        match e {
            Event::Changed { .. } => changed += 1,
            Event::RecallProgress { device, .. } => panic!("restore sent to {device}"),
            _ => {}
        }
    }
    assert_eq!(changed, 2);
}
