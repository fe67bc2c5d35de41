//! systemd integration through a real `NOTIFY_SOCKET` datagram socket:
//! READY=1 with STATUS=, WATCHDOG=1 pings, RELOADING=1 then READY=1 on
//! SIGHUP, STOPPING=1 on SIGTERM.

use rackd_tests::*;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

struct Notify {
    sock: UnixDatagram,
    seen: Vec<String>,
}

impl Notify {
    /// Waits for a datagram satisfying `pred`; every datagram is kept in `seen`.
    fn wait(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.sock.set_read_timeout(Some(left)).unwrap();
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                    self.seen.push(msg.clone());
                    if pred(&msg) {
                        return Some(msg);
                    }
                }
                Err(_) => return None,
            }
        }
    }
}

fn has(msg: &str, line: &str) -> bool {
    msg.lines().any(|l| l == line)
}

#[test]
fn notify_socket_gets_ready_watchdog_reloading_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let mut n = Notify {
        sock: UnixDatagram::bind(&path).unwrap(),
        seen: Vec::new(),
    };
    let mut d = Daemon::spawn_env(
        Setup::default(),
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "2000000"),
        ],
    );

    let ready = n
        .wait(Duration::from_secs(20), |m| has(m, "READY=1"))
        .unwrap_or_else(|| panic!("no READY=1; got {:?}", n.seen));
    assert!(
        ready
            .lines()
            .any(|l| l.starts_with("STATUS=") && l.len() > 7),
        "READY=1 without a STATUS= line: {ready:?}"
    );
    // READY means OSC listens: one ping sent now, never repeated, is
    // answered (had READY come before the bind, the datagram would be lost).
    let osc = d.udp();
    osc.send("/rackd/ping", vec![rosc::OscType::Int(1)]);
    assert!(
        osc.recv_until(WAIT, |m| m.addr == "/rackd/pong").is_some(),
        "a ping sent right after READY=1 was not answered"
    );

    n.wait(Duration::from_secs(3), |m| has(m, "WATCHDOG=1"))
        .unwrap_or_else(|| panic!("no WATCHDOG=1 within 3 s; got {:?}", n.seen));

    d.signal(libc::SIGHUP);
    n.wait(WAIT, |m| has(m, "RELOADING=1"))
        .unwrap_or_else(|| panic!("no RELOADING=1 after SIGHUP; got {:?}", n.seen));
    n.wait(WAIT, |m| has(m, "READY=1"))
        .unwrap_or_else(|| panic!("no READY=1 after reloading; got {:?}", n.seen));

    let pid = d.pid();
    signal(pid, libc::SIGTERM);
    n.wait(WAIT, |m| has(m, "STOPPING=1"))
        .unwrap_or_else(|| panic!("no STOPPING=1 after SIGTERM; got {:?}", n.seen));
    let st = d.stop();
    assert!(st.success(), "exit after SIGTERM: {st}");
}
