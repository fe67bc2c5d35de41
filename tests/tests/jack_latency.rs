//! Port latency on JACK: rackd reports its chain latency on its JACK ports
//! (the latency callback), so JACK-aware programs compensate for it, and the
//! ports follow when the latency changes at run time (limiter lookahead, a
//! hardware insert's round trip).
//!
//! With nothing connected, `out_l`'s capture range and `in_l`'s playback
//! range are exactly the chain latency; the insert's send and return ports
//! pass through with nothing added (0 here).
//! One test per binary: the JACK server is chosen through the environment.

use jack::LatencyType::{Capture, Playback};
use rackd_tests::*;
use std::time::Duration;

/// How long the ports may take to follow a change (the daemon polls at 5 Hz).
const FOLLOW: Duration = Duration::from_secs(3);

/// The chain latency the daemon reports in its status.
fn chain_latency(d: &Daemon) -> u32 {
    let st = d.status();
    let l = st["latency_samples"]
        .as_u64()
        .unwrap_or_else(|| panic!("no latency_samples in status: {st}"));
    u32::try_from(l).expect("latency fits u32")
}

/// Waits until the daemon's status reports a latency other than `old`.
fn wait_latency_change(d: &Daemon, old: u32) -> u32 {
    wait_for(FOLLOW, || {
        let l = chain_latency(d);
        (l != old).then_some(l)
    })
    .unwrap_or_else(|| panic!("chain latency stayed at {old}"))
}

/// Reads ranges of other clients' ports.
struct Ports {
    client: jack::Client,
    rackd: String,
}

impl Ports {
    fn range(&self, port: &str, mode: jack::LatencyType) -> (u32, u32) {
        let name = format!("{}:{port}", self.rackd);
        let p = self
            .client
            .port_by_name(&name)
            .unwrap_or_else(|| panic!("no port {name}"));
        p.get_latency_range(mode)
    }

    /// `[out_l, out_r]` capture and `[in_l, in_r]` playback ranges.
    fn main(&self) -> [(u32, u32); 4] {
        [
            self.range("out_l", Capture),
            self.range("out_r", Capture),
            self.range("in_l", Playback),
            self.range("in_r", Playback),
        ]
    }

    /// Waits until the main ports all report exactly `latency`; the last
    /// ranges read on failure.
    fn wait_main(&self, latency: u32) -> Result<(), [(u32, u32); 4]> {
        let want = [(latency, latency); 4];
        match wait_for(FOLLOW, || (self.main() == want).then_some(())) {
            Some(()) => Ok(()),
            None => Err(self.main()),
        }
    }

    /// The insert's send (capture) and return (playback) ranges.
    fn insert(&self, slot: &str) -> [(u32, u32); 4] {
        [
            self.range(&format!("{slot}_send_l"), Capture),
            self.range(&format!("{slot}_send_r"), Capture),
            self.range(&format!("{slot}_return_l"), Playback),
            self.range(&format!("{slot}_return_r"), Playback),
        ]
    }
}

/// `jack_lsp -l` for the record (an independent reader of the same ranges).
fn jack_lsp(server: &str, rackd: &str) -> String {
    let out = std::process::Command::new("jack_lsp")
        .args(["-l", rackd])
        .env("JACK_DEFAULT_SERVER", server)
        .env("JACK_NO_START_SERVER", "1")
        .output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(e) => format!("(no jack_lsp: {e})"),
    }
}

#[test]
fn ports_report_the_chain_latency_and_follow_changes() {
    let (_jackd, server) = jack_server("rackd-test-latency");
    let setup = Setup {
        chain: vec![
            ("trim".into(), "trim".into()),
            ("limiter".into(), "limiter".into()),
            ("gear".into(), "insert".into()),
        ],
        ..Setup::jack(&server)
    };
    let d = Daemon::start(setup.clone());
    let (client, _) = jack::Client::new(
        &unique_name("latency-probe"),
        jack::ClientOptions::NO_START_SERVER,
    )
    .expect("test JACK client");
    let ports = Ports {
        client,
        rackd: setup.client_name.clone(),
    };
    // The daemon registers its ports once JACK answers.
    let out_l = format!("{}:out_l", setup.client_name);
    wait_for(Duration::from_secs(10), || {
        ports.client.port_by_name(&out_l).map(|_| ())
    })
    .expect("rackd's JACK ports did not appear");

    // --- at start: the limiter's default lookahead
    let initial = chain_latency(&d);
    eprintln!("initial chain latency: {initial} samples");
    assert!(initial > 0, "a limiter has lookahead latency");
    if let Err(got) = ports.wait_main(initial) {
        panic!(
            "out_l/out_r capture and in_l/in_r playback should be {initial}; got {got:?}\n{}",
            jack_lsp(&server, &setup.client_name)
        );
    }
    assert_eq!(
        ports.insert("gear"),
        [(0, 0); 4],
        "insert ports pass through with nothing added"
    );
    eprintln!("{}", jack_lsp(&server, &setup.client_name));

    // --- longer lookahead: 1.5 ms -> 5 ms at 48 kHz is 168 samples more
    d.ctl_ok(&["set", "/chain/limiter/lookahead", "5"]);
    let longer = wait_latency_change(&d, initial);
    eprintln!("lookahead 5 ms: chain latency {longer} samples");
    assert_eq!(longer, initial + 168, "lookahead 1.5 -> 5 ms at 48 kHz");
    if let Err(got) = ports.wait_main(longer) {
        panic!("ports did not follow the lookahead to {longer}: {got:?}");
    }

    // --- a hardware insert's round trip adds to it
    d.ctl_ok(&["set", "/chain/gear/latency", "500"]);
    let with_gear = wait_latency_change(&d, longer);
    eprintln!("insert round trip 500: chain latency {with_gear} samples");
    assert_eq!(with_gear, longer + 500);
    if let Err(got) = ports.wait_main(with_gear) {
        panic!("ports did not follow the insert to {with_gear}: {got:?}");
    }
    assert_eq!(ports.insert("gear"), [(0, 0); 4]);
    eprintln!("{}", jack_lsp(&server, &setup.client_name));

    // --- and back down
    d.ctl_ok(&["set", "/chain/gear/latency", "0"]);
    d.ctl_ok(&["set", "/chain/limiter/lookahead", "1.5"]);
    let back = wait_for(FOLLOW, || {
        let l = chain_latency(&d);
        (l == initial).then_some(l)
    });
    assert_eq!(back, Some(initial), "latency back to the start");
    if let Err(got) = ports.wait_main(initial) {
        panic!("ports did not come back to {initial}: {got:?}");
    }

    // --- wired to the driver: its latencies are added to ours
    let rackd = |p: &str| format!("{}:{p}", setup.client_name);
    for (src, dst) in [
        ("system:capture_1".to_string(), rackd("in_l")),
        ("system:capture_2".to_string(), rackd("in_r")),
        (rackd("out_l"), "system:playback_1".to_string()),
        (rackd("out_r"), "system:playback_2".to_string()),
    ] {
        ports
            .client
            .connect_ports_by_name(&src, &dst)
            .unwrap_or_else(|e| panic!("connect {src} -> {dst}: {e}"));
    }
    let driver = |port: &str, mode| {
        ports
            .client
            .port_by_name(port)
            .unwrap_or_else(|| panic!("no port {port}"))
            .get_latency_range(mode)
    };
    let capture = driver("system:capture_1", Capture);
    let playback = driver("system:playback_1", Playback);
    eprintln!("driver: capture {capture:?}, playback {playback:?}");
    assert!(
        capture.0 > 0 && playback.0 > 0,
        "the dummy driver reports latencies"
    );
    let plus = |(min, max): (u32, u32)| (min + initial, max + initial);
    let want = [plus(capture), plus(capture), plus(playback), plus(playback)];
    let got = wait_for(FOLLOW, || {
        let got = ports.main();
        (got == want).then_some(got)
    });
    assert_eq!(
        got,
        Some(want),
        "out capture = driver capture + chain, in playback = driver playback + chain; last {:?}\n{}",
        ports.main(),
        jack_lsp(&server, &setup.client_name)
    );
    eprintln!("{}", jack_lsp(&server, &setup.client_name));
    let st = d.status();
    assert_eq!(st["running"], true, "{st}");
}
