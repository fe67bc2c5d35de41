//! Restart recovery: the live state is autosaved (debounced) so that after a
//! clean stop, or a SIGKILL with no shutdown at all, the room comes back as it was.

use rackd_tests::*;
use rosc::OscType;
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

/// Autosave debounce used here; the tests wait well past it.
const DEBOUNCE_MS: u64 = 200;

fn setup() -> Setup {
    Setup {
        autosave_ms: DEBOUNCE_MS,
        ..Setup::default()
    }
}

#[test]
fn values_come_back_after_sigterm_and_restart() {
    let mut d = Daemon::start(setup());
    set(&d, "/chain/trim/gain", OscType::Float(-4.5));
    set(&d, "/chain/trim/invert", OscType::Int(1));
    std::thread::sleep(Duration::from_millis(DEBOUNCE_MS * 5));
    let st = d.stop();
    assert!(st.success(), "exit after SIGTERM: {st}");
    d.restart();
    assert_eq!(d.get_f32("/chain/trim/gain"), -4.5);
    assert_eq!(get_int(&d, "/chain/trim/invert"), 1);
}

#[test]
fn values_come_back_after_sigkill_once_the_debounce_passed() {
    let mut d = Daemon::start(setup());
    set(&d, "/chain/trim/gain", OscType::Float(-11.0));
    set(&d, "/chain/meter/bypass", OscType::Int(1));
    // No way to ask whether the autosave is on disk; give it ten debounces.
    std::thread::sleep(Duration::from_millis(DEBOUNCE_MS * 10));
    d.kill9();
    d.restart();
    assert_eq!(d.get_f32("/chain/trim/gain"), -11.0);
    assert_eq!(get_int(&d, "/chain/meter/bypass"), 1);
    assert!(d.log_text().contains("restored the autosaved state"));
}
