//! The HTTP front end from outside: the OSCQuery namespace checked against
//! `rackd ctl describe` by a Python client, the WebSocket from the Python
//! `websockets` package with liblo's `oscsend`, the page in a real headless
//! Chromium (Playwright), and the refusals: tokens, read-only, sizes, paths,
//! clients that do not read.

use rackd_tests::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

#[path = "web/page_files.rs"]
mod page_files;
#[path = "web/websocket_more.rs"]
mod websocket_more;

const FULL: &str = "full-token-for-the-tests-0123";
const LOOK: &str = "look-token-for-the-tests-4567";
const GAIN: &str = "/chain/trim/gain";

/// The default rack plus a hand-set device, with the page on a free port.
fn web_setup(tokens: bool) -> Setup {
    Setup {
        http: Some(if tokens {
            format!("token = \"{FULL}\"\nread_only_token = \"{LOOK}\"\n")
        } else {
            String::new()
        }),
        extra: device_toml("passive", "generic-passive-eq-stepped", ""),
        test_tone_db: Some(-18.0),
        ..Setup::default()
    }
}

/// Runs a script of `tests/python/`; asserts it succeeded and returns its output.
fn python(script: &str, args: &[&str]) -> String {
    let out = run_with_timeout(
        Command::new("python3")
            .arg(crate_dir().join("python").join(script))
            .args(args),
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// One raw HTTP/1.1 request; returns the status code and the body.
fn http(port: u16, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to HTTP");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut text = Vec::new();
    let _ = s.read_to_end(&mut text);
    let text = String::from_utf8_lossy(&text).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

fn get(port: u16, path: &str, auth: Option<&str>) -> (u16, String) {
    let auth = auth.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    http(
        port,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Connection: close\r\n\r\n"
        ),
    )
}

fn post(port: u16, path: &str, auth: Option<&str>, body: &str) -> (u16, String) {
    let auth = auth.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    http(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn tools() -> bool {
    require_program("python3", "python3")
        && require_program("oscsend", "liblo-tools")
        && require_python_module("websockets", "websockets")
}

#[test]
fn oscquery_namespace_is_what_ctl_describe_says() {
    if !require_program("python3", "python3") {
        return;
    }
    let d = Daemon::start(web_setup(false));
    d.ctl_ok(&["set", GAIN, "-2.5"]);
    d.ctl_ok(&["set", "/outboard/passive/low_freq", "2"]);
    let out = python(
        "oscquery_check.py",
        &[
            &d.http_url(),
            &rackd_bin().to_string_lossy(),
            &format!("127.0.0.1:{}", d.port),
        ],
    );
    assert!(out.contains("checked "), "{out}");
}

#[test]
fn websocket_streams_and_takes_binary_osc() {
    if !tools() {
        return;
    }
    let d = Daemon::start(web_setup(true));
    // An OSC surface sees the WebSocket client's move: the same hub event.
    let surface = d.udp();
    surface.subscribe(&[GAIN]);
    let out = python(
        "ws_check.py",
        &[
            &d.http_url(),
            &d.port.to_string(),
            &rackd_bin().to_string_lossy(),
            FULL,
        ],
    );
    for check in [
        "an oscsend set arrives as a binary OSC frame",
        "a WebSocket set reaches rackd ctl get",
        "PATH_CHANGED /chain",
        "meters stream",
        "IGNORE stops",
        "bad commands",
        "/rackd/* requests over the WebSocket",
    ] {
        assert!(out.contains(check), "{check}: {out}");
    }
    surface
        .recv_until(Duration::from_secs(5), |m| is_value(m, GAIN, 3.5, 1e-4))
        .expect("the OSC subscriber saw the WebSocket's set of 3.5");
}

#[test]
fn the_page_in_headless_chromium() {
    if !tools()
        || !require_program("chromium", "chromium")
        || !require_python_module("playwright", "playwright")
    {
        return;
    }
    let mut setup = web_setup(true);
    // A serial device whose port is not there: offline, and the card says why.
    setup.extra += &device_toml(
        "gone",
        "generic-serial-ascii",
        "serial = { path = \"/nonexistent/rackd-test-tty\" }",
    );
    let d = Daemon::start(setup);
    // A report in the reports directory, for the page's list.
    let reports = d.state_dir.join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    let wav = d.dir.path().join("mix.wav");
    rackd_tests::wav::write_float_wav(&wav, 48_000, &[0.1; 4800], &[0.1; 4800]);
    let analyze = run_rackd(&[
        "analyze",
        &wav.to_string_lossy(),
        "--report",
        &reports.join("mix.html").to_string_lossy(),
    ]);
    assert!(
        analyze.status.success(),
        "{}",
        String::from_utf8_lossy(&analyze.stderr)
    );
    let out = python(
        "page_check.py",
        &[
            &d.http_url(),
            FULL,
            LOOK,
            &d.port.to_string(),
            &rackd_bin().to_string_lossy(),
            "/usr/bin/chromium",
        ],
    );
    println!("{out}");
    for check in [
        "ok: dragging a slot reorders the chain",
        "ok: the song tree nests client/album/song",
        "ok: the diff of two revisions shows what changed",
        "ok: a changed-only recall and its undo from the page",
        "ok: meters update at",
        "ok: an offline device's card says why",
        "ok: the reports directory is listed and a report opens",
        "ok: no console errors",
    ] {
        assert!(out.contains(check), "{check}: {out}");
    }
}

#[test]
fn tokens_and_read_only_are_enforced() {
    let mut setup = web_setup(true);
    // Reachable beyond this machine (it is allowed only with a token); the
    // test still talks to it over loopback only.
    setup.http_host = "0.0.0.0".into();
    let d = Daemon::start(setup);
    let port = d.setup.http_port;
    assert_eq!(get(port, "/", None).0, 401, "no token");
    let wrong_before = d.log_text().matches("wrong token").count();
    assert_eq!(get(port, "/", Some("not-the-token-at-all-0000")).0, 401);
    assert!(
        d.wait_log("wrong token", Duration::from_secs(5)),
        "a wrong token is logged"
    );
    assert_eq!(
        d.log_text().matches("wrong token").count(),
        wrong_before + 1,
        "one line per wrong token:\n{}",
        d.log_text()
    );
    let (status, body) = get(port, "/?HOST_INFO", Some(LOOK));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"OSC_PORT\""), "{body}");

    // Read-only: 403 and no hub event (an OSC subscriber sees nothing before a marker).
    let surface = d.udp();
    surface.subscribe(&[GAIN]);
    surface
        .recv_until(Duration::from_secs(5), |m| m.addr == GAIN)
        .expect("a new subscriber gets the current value");
    let (status, body) = post(port, GAIN, Some(LOOK), "[5.0]");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("read-only"), "{body}");
    assert_eq!(
        post(port, "/rackd/snapshot/save", Some(LOOK), "[\"a/b\"]").0,
        403
    );
    assert_eq!(post(port, "/rackd/snapshot/list", Some(LOOK), "[]").0, 200);
    let seen = surface.until_marker(&d.udp());
    assert!(
        !seen.iter().any(|m| m.addr == GAIN),
        "a read-only POST made a hub event: {seen:?}"
    );
    assert_eq!(d.get_f32(GAIN), 0.0);
    let st = d.status();
    assert!(st["http"]["read_only_refused"].as_u64() >= Some(2), "{st}");
    assert!(st["http"]["unauthorized"].as_u64() >= Some(2), "{st}");

    // The full token changes things, with the same event an OSC set makes.
    surface.subscribe(&[GAIN]);
    let (status, body) = post(port, GAIN, Some(FULL), "[-6.5]");
    assert_eq!(status, 200, "{body}");
    surface
        .recv_until(Duration::from_secs(5), |m| is_value(m, GAIN, -6.5, 1e-4))
        .expect("the OSC subscriber saw the POST's set");
    // A page of another origin cannot change anything, token or not.
    let (status, _) = http(
        port,
        &format!(
            "POST {GAIN} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {FULL}\r\n\
             Origin: http://evil.example\r\nContent-Length: 5\r\nConnection: close\r\n\r\n[1.0]"
        ),
    );
    assert_eq!(status, 403);
    assert_eq!(d.get_f32(GAIN), -6.5);
}

#[test]
fn refusals_of_bad_requests() {
    let d = Daemon::start(web_setup(false));
    let port = d.setup.http_port;
    // Bodies past the limit are refused before they are read whole.
    let big = format!("[\"{}\"]", "x".repeat(5 << 20));
    let (status, _) = post(port, "/rackd/snapshot/import", None, &big);
    assert_eq!(status, 413);
    // Static assets: nothing outside the page's own files.
    for path in [
        "/ui/../Cargo.toml",
        "/ui/..%2f..%2fetc%2fpasswd",
        "/ui/%2e%2e/%2e%2e/etc/passwd",
        "/ui/rackd.db",
    ] {
        let (status, body) = get(port, path, None);
        assert!(status == 400 || status == 404, "{path}: {status}");
        assert!(
            !body.contains("root:") && !body.contains("[workspace]"),
            "{path}: {body}"
        );
    }
    assert!(
        d.log_text().contains("tries to leave /ui/"),
        "{}",
        d.log_text()
    );
    // A Host that is not loopback (DNS rebinding) is refused without tokens.
    let (status, _) = http(
        port,
        &format!("GET / HTTP/1.1\r\nHost: rebind.example:{port}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(status, 403);
    // Bad JSON and bad requests get their words back.
    let (status, body) = post(port, GAIN, None, "{not json");
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(port, "/chain/nothing/here", None, "[1]");
    assert_eq!(status, 404, "{body}");
    let (status, body) = post(port, GAIN, None, "[\"loud\"]");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("expected"), "{body}");
    // A confirmation for a device the rack does not have: 404, with why.
    let (status, body) = post(port, "/rackd/recall/confirm", None, "[\"nope\"]");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no device \\\"nope\\\""), "{body}");
    // The daemon is fine.
    assert_eq!(get(port, "/chain/trim/gain?VALUE", None).0, 200);
    d.ctl_ok(&["status"]);
}

#[test]
fn websocket_limits_and_clients_that_do_not_read() {
    if !tools() {
        return;
    }
    let d = Daemon::start(web_setup(false));
    let out = python("ws_limits.py", &[&d.http_url(), &d.port.to_string()]);
    assert!(
        out.contains("ok: an oversized frame closes the connection"),
        "{out}"
    );
    assert!(
        out.contains("ok: a client that does not read does not hold the others"),
        "{out}"
    );
    let st = d.status();
    assert!(st["http"]["feedback_dropped"].as_u64() > Some(0), "{st}");
    assert!(
        d.log_text().contains("Space limit exceeded")
            || d.log_text().contains("too long")
            || d.log_text().contains("Message too big"),
        "the oversized frame is logged:\n{}",
        d.log_text()
    );
    d.ctl_ok(&["status"]);
}

#[test]
fn http_beyond_loopback_without_a_token_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        http: Some(String::new()),
        http_host: "0.0.0.0".into(),
        http_port: free_port(),
        ..Setup::default()
    };
    let file = dir.path().join("rackd.toml");
    std::fs::write(&file, setup.toml(free_port(), dir.path())).unwrap();
    let check = run_rackd(&["check", "--config", &file.to_string_lossy()]);
    let text = String::from_utf8_lossy(&check.stderr).into_owned()
        + &String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(2), "{text}");
    assert!(
        text.contains("http.listen: 0.0.0.0:") && text.contains("token"),
        "{text}"
    );
    let run = run_rackd(&["run", "--config", &file.to_string_lossy()]);
    assert_eq!(run.status.code(), Some(2));
}

#[test]
fn the_demo_prints_and_serves_its_page() {
    let state = tempfile::tempdir().unwrap();
    let (osc, web) = (free_port(), free_port());
    let mut demo = Background::spawn(
        Command::new(rackd_bin())
            .args(["demo", "--no-jack", "--osc-port", &osc.to_string()])
            .args(["--http-port", &web.to_string()])
            .arg("--state-dir")
            .arg(state.path())
            .env("NO_COLOR", "1"),
    );
    let up = wait_for(Duration::from_secs(20), || {
        if demo.exited() {
            return Some(false);
        }
        ctl(&format!("127.0.0.1:{osc}"), &["status"])
            .status
            .success()
            .then_some(true)
    });
    if up != Some(true) && demo.text().contains("cannot bind") {
        eprintln!("skipped: a port was taken meanwhile:\n{}", demo.text());
        return;
    }
    assert_eq!(up, Some(true), "{}", demo.text());
    assert!(
        demo.text().contains(&format!("http://127.0.0.1:{web}/ui/")),
        "{}",
        demo.text()
    );
    let (status, body) = get(web, "/ui/", None);
    assert_eq!(status, 200);
    assert!(body.contains("app.js"), "{body}");
    let (status, body) = get(web, "/outboard/passive?DESCRIPTION", None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("manual"), "{body}");
}

#[test]
fn mdns_advertises_both_services_in_a_private_network() {
    if !require_program("unshare", "util-linux")
        || !require_program("ip", "iproute2")
        || !require_python_module("zeroconf", "zeroconf")
        || !require_python_module("pythonoscquery", "python-oscquery")
    {
        return;
    }
    // A network namespace of its own with only loopback: the daemon's and
    // the browser's multicast never leave it.
    let probe = Command::new("unshare").args(["-rn", "true"]).status();
    if !probe.is_ok_and(|s| s.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "unshare -rn is refused here; the mDNS test needs a network namespace"
        );
        eprintln!("skipped: no network namespace (unshare -rn refused)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rackd.toml");
    let setup = Setup {
        http: Some("name = \"rackd mdns test\"\nmdns = true\nmdns_interfaces = [\"lo\"]\n".into()),
        http_port: 7771,
        ..Setup::default()
    };
    std::fs::write(&config, setup.toml(7770, &dir.path().join("state"))).unwrap();
    let script = format!(
        "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo || exit 3\n\
         {rackd} run --config {config} > {log} 2>&1 &\n\
         pid=$!\n\
         python3 {browse} 'rackd mdns test' 20; rc=$?\n\
         kill $pid; wait $pid\n\
         exit $rc",
        rackd = rackd_bin().display(),
        config = config.display(),
        log = dir.path().join("rackd.log").display(),
        browse = crate_dir().join("python/mdns_browse.py").display(),
    );
    let out = run_with_timeout(
        without_rackd_env(Command::new("unshare").args(["-rn", "sh", "-c", &script])),
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let log = std::fs::read_to_string(dir.path().join("rackd.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{log}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("_oscjson._tcp.local. rackd mdns test 7771"),
        "{stdout}"
    );
    assert!(
        stdout.contains("_osc._udp.local. rackd mdns test 7770"),
        "{stdout}"
    );
    // A third-party OSCQuery client (python-oscquery) found and read it.
    assert!(
        stdout.contains("python-oscquery host rackd mdns test osc port 7770 UDP"),
        "{stdout}"
    );
    assert!(
        stdout.contains("python-oscquery node /chain/trim/gain value [0.0]"),
        "{stdout}"
    );
}
