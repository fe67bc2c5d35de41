//! The WebSocket's refusals and PATH_CHANGED for a device, from the Python
//! `websockets` package: a read-only token cannot set, an upgrade without a
//! token beyond loopback is refused, a serial device whose cable is pulled
//! is announced.

use super::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// A WebSocket upgrade request, with `auth` as its Authorization header;
/// returns the status line's code (read up to the end of the head only: a
/// 101 keeps the connection open).
fn upgrade(port: u16, auth: Option<&str>) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to HTTP");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = auth.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Connection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && s.read_exact(&mut byte).is_ok() {
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {head:?}"))
}

#[test]
fn websocket_upgrade_without_a_token_beyond_loopback_is_refused() {
    let mut setup = web_setup(true);
    setup.http_host = "0.0.0.0".into();
    let d = Daemon::start(setup);
    let port = d.setup.http_port;
    let unauthorized = |d: &Daemon| d.status()["http"]["unauthorized"].as_u64().unwrap();
    let before = unauthorized(&d);
    assert_eq!(upgrade(port, None), 401, "no token");
    assert_eq!(upgrade(port, Some("not-the-token-at-all-0000")), 401);
    assert_eq!(unauthorized(&d), before + 2);
    assert_eq!(
        upgrade(port, Some(LOOK)),
        101,
        "the read-only token may connect"
    );
    assert_eq!(upgrade(port, Some(FULL)), 101);
}

#[test]
fn a_read_only_token_cannot_set_over_the_websocket() {
    if !tools() {
        return;
    }
    let d = Daemon::start(web_setup(true));
    let surface = d.udp();
    surface.subscribe(&[GAIN]);
    surface
        .recv_until(Duration::from_secs(5), |m| m.addr == GAIN)
        .expect("a new subscriber gets the current value");
    let out = python("ws_more.py", &["read-only", &d.http_url(), LOOK]);
    assert!(
        out.contains("ok: a read-only set over the WebSocket gets /rackd/error"),
        "{out}"
    );
    assert!(
        out.contains("ok: a read-only client may still ask"),
        "{out}"
    );
    let seen = surface.until_marker(&d.udp());
    assert!(
        !seen.iter().any(|m| m.addr == GAIN),
        "a read-only WebSocket set made a hub event: {seen:?}"
    );
    assert_eq!(d.get_f32(GAIN), 0.0);
    assert!(
        !d.ctl(&["history", "ro/album/01 song"]).status.success(),
        "a read-only save was stored"
    );
    assert!(d.status()["http"]["read_only_refused"].as_u64() >= Some(2));
}

#[test]
fn a_device_going_offline_sends_path_changed() {
    if !tools() || !require_program("socat", "socat") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut pty = PtyPair::start(dir.path(), "eq");
    let mut sim = Simulator::start(
        "generic-serial-ascii",
        &["--serial", &pty.b.to_string_lossy()],
    );
    let mut setup = web_setup(true);
    setup.extra += &device_toml(
        "eq",
        "generic-serial-ascii",
        &format!("serial = {{ path = {:?} }}", pty.a.display().to_string()),
    );
    let d = Daemon::start(setup);
    let state = |d: &Daemon| {
        d.status()["devices"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["id"] == "eq").cloned())
            .map(|x| x["state"].as_str().unwrap_or_default().to_string())
    };
    let online = wait_for(Duration::from_secs(20), || {
        (state(&d).as_deref() == Some("online")).then_some(())
    });
    assert!(online.is_some(), "{}", d.status());

    let mut client = Command::new("python3")
        .arg(crate_dir().join("python").join("ws_more.py"))
        .args(["device", &d.http_url(), FULL, "eq"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert_eq!(first, "ready", "the client did not connect");
    // Pull the cable.
    sim.stop();
    pty.stop();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = wait_child(&mut client, Duration::from_secs(30)).expect("the client ends");
    assert!(status.success(), "{rest:?}");
    assert_eq!(rest, ["ok: PATH_CHANGED /outboard/eq"]);
    let offline = wait_for(Duration::from_secs(10), || {
        (state(&d).as_deref() == Some("offline")).then_some(())
    });
    assert!(offline.is_some(), "{}", d.status());
}
