//! Restart recovery: the live state is autosaved (debounced) so that after a
//! clean stop, or a SIGKILL with no shutdown at all, the room comes back as it
//! was. What is on disk is read from the state directory's SQLite file
//! itself, not asked of the daemon.

use rackd_tests::*;
use rosc::OscType;
use std::path::Path;
use std::time::Duration;

fn set(d: &Daemon, address: &str, arg: OscType) {
    let c = d.udp();
    c.send(address, vec![arg]);
    c.recv_until(WAIT, |m| m.addr == address)
        .unwrap_or_else(|| panic!("no reply to setting {address}"));
}

fn get_int(d: &Daemon, address: &str) -> i32 {
    let c = d.udp();
    c.send(address, vec![]);
    let m = c.recv_until(WAIT, |m| m.addr == address).expect("reply");
    match m.args[0] {
        OscType::Int(i) => i,
        ref other => panic!("{address}: {other:?}"),
    }
}

/// The autosaved live state in `state_dir`'s database, as stored
/// (`{"values": {address: value}}`), or None before the first autosave.
fn on_disk(state_dir: &Path) -> Option<serde_json::Value> {
    let db = state_dir.join("rackd.db");
    if !db.exists() {
        return None;
    }
    let conn = rusqlite::Connection::open_with_flags(
        &db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    conn.busy_timeout(Duration::from_secs(5)).ok()?;
    let text: String = conn
        .query_row("SELECT state_json FROM current WHERE id = 1", [], |r| {
            r.get(0)
        })
        .ok()?;
    Some(serde_json::from_str(&text).expect("the autosaved state is JSON"))
}

/// Waits until the autosave on disk holds `value` at `address`.
fn wait_on_disk(state_dir: &Path, address: &str, value: serde_json::Value) {
    let found = wait_for(WAIT, || {
        (on_disk(state_dir)?["values"][address] == value).then_some(())
    });
    assert!(
        found.is_some(),
        "{address} = {value} never reached the disk; on disk: {:?}",
        on_disk(state_dir)
    );
}

#[test]
fn sigterm_saves_the_live_state_before_stopping() {
    // An autosave debounce far longer than the test: whatever is on disk
    // after SIGTERM was written by the shutdown, not by the autosave.
    let mut d = Daemon::start(Setup {
        autosave_ms: 60_000,
        ..Setup::default()
    });
    set(&d, "/chain/trim/gain", OscType::Float(-4.5));
    set(&d, "/chain/trim/invert", OscType::Int(1));
    let before = on_disk(&d.state_dir);
    assert!(
        before
            .as_ref()
            .is_none_or(|s| s["values"]["/chain/trim/gain"] != -4.5),
        "the change was on disk before SIGTERM: {before:?}"
    );
    let st = d.stop();
    assert!(st.success(), "exit after SIGTERM: {st}");
    let after = on_disk(&d.state_dir).expect("nothing autosaved at SIGTERM");
    assert_eq!(after["values"]["/chain/trim/gain"], -4.5, "{after}");
    assert_eq!(after["values"]["/chain/trim/invert"], 1, "{after}");
    d.restart();
    assert_eq!(d.get_f32("/chain/trim/gain"), -4.5);
    assert_eq!(get_int(&d, "/chain/trim/invert"), 1);
}

#[test]
fn values_come_back_after_sigkill_once_autosaved() {
    let mut d = Daemon::start(Setup {
        autosave_ms: 200,
        ..Setup::default()
    });
    set(&d, "/chain/trim/gain", OscType::Float(-11.0));
    set(&d, "/chain/meter/bypass", OscType::Int(1));
    // Both changes are in one debounced autosave: wait until it is on disk.
    wait_on_disk(&d.state_dir, "/chain/meter/bypass", 1.into());
    wait_on_disk(&d.state_dir, "/chain/trim/gain", (-11.0).into());
    d.kill9();
    d.restart();
    assert_eq!(d.get_f32("/chain/trim/gain"), -11.0);
    assert_eq!(get_int(&d, "/chain/meter/bypass"), 1);
    assert!(d.log_text().contains("restored the autosaved state"));
}
