//! An insert's send patched straight to its own return (a loopback cable in
//! the JACK graph, no other client between): JACK then hands the return the
//! send's own buffer. rackd reads such an input before it writes any output
//! (a copy), so the return carries what the send sent one cycle earlier, as
//! through any other client: the measurement finds exactly one period.
//! One test per binary: the JACK server is chosen through the environment.

use rackd_tests::*;

const PERIOD: usize = 1024;

#[test]
fn a_send_patched_to_its_own_return_measures_one_period() {
    let (_jackd, server) = jack_server_with_period("rackd-test-self-loop", PERIOD);
    let setup = Setup {
        chain: vec![("ins".into(), "insert".into())],
        ..Setup::jack(&server)
    };
    let d = Daemon::start(setup.clone());
    let rackd = &setup.client_name;
    for side in ["l", "r"] {
        let (src, dst) = (
            format!("{rackd}:ins_send_{side}"),
            format!("{rackd}:ins_return_{side}"),
        );
        jack_connect(&src, &dst);
        assert_eq!(jack_connections(&src), std::slice::from_ref(&dst));
    }
    // rackd measures again by itself after an xrun; only when every try had
    // one (it says so) is the measurement asked for again.
    let out = loop {
        let out = d.ctl(&["measure", "ins"]);
        if !String::from_utf8_lossy(&out.stderr).contains("xruns during each of") {
            break out;
        }
    };
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "measure ins: {stdout}{stderr}");
    assert_eq!(
        d.get_f32("/chain/ins/latency") as usize,
        PERIOD,
        "measure ins said: {stdout}"
    );
    assert!(!stdout.contains("invert"), "{stdout}");
}
