//! The slot layout, the print pass and insert measurement on the null
//! backend (no JACK needed): layout changes live, in snapshots and across a
//! restart; bad layout, measure and print requests get a clear error and
//! change nothing; a print of a digital chain equals the offline render of
//! the same snapshot; Ctrl-C on `rackd ctl print` cancels and writes nothing.

use rackd_tests::wav::{noise, read_float_wav, write_float_wav};
use rackd_tests::*;
use rosc::OscType;
use std::process::Command;
use std::time::Duration;

fn layout(d: &Daemon, ids: &[&str]) -> String {
    d.ctl_ok(&[&["layout"][..], ids].concat())
        .trim()
        .to_string()
}

fn fails(d: &Daemon, args: &[&str], needle: &str) {
    let out = d.ctl(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "rackd ctl {args:?}: {err}");
    assert!(
        err.contains(needle),
        "rackd ctl {args:?}: {err:?} lacks {needle:?}"
    );
}

#[test]
fn layout_print_and_measure_on_the_null_backend() {
    let mut setup = Setup {
        chain: vec![("trim".into(), "trim".into()), ("eq".into(), "eq".into())],
        ..Setup::default()
    };
    setup.extra = "[[chain]]\nid = \"limiter\"\nkind = \"limiter\"\nactive = false\n\n\
                   [[chain]]\nid = \"gear\"\nkind = \"insert\"\nactive = false\n"
        .into();
    let mut d = Daemon::start(setup);

    assert!(
        d.log_text()
            .contains("hardware inserts need the JACK or cpal backend"),
        "a null-backend insert is flagged"
    );
    // Configured inactive slots wait outside the chain.
    assert_eq!(layout(&d, &[]), "trim > eq");
    assert_eq!(
        layout(&d, &["limiter", "trim", "eq"]),
        "limiter > trim > eq"
    );
    assert_eq!(layout(&d, &["trim,eq limiter"]), "trim > eq > limiter");
    assert_eq!(d.get_f32("/chain/limiter/active"), 1.0);
    assert_eq!(
        d.status()["layout"],
        serde_json::json!(["trim", "eq", "limiter"])
    );

    // Bad layouts: a clear error, nothing changed.
    fails(&d, &["layout", "trim", "bogus"], "no chain slot \"bogus\"");
    fails(&d, &["layout", "trim", "trim"], "listed twice");
    let osc = d.udp();
    osc.send("/rackd/chain/layout", vec![OscType::Int(3)]);
    let err = osc
        .recv_until(WAIT, |m| m.addr == "/rackd/error")
        .expect("an error for a number as slot id");
    assert!(format!("{:?}", err.args).contains("slot ids"), "{err:?}");
    assert_eq!(layout(&d, &[]), "trim > eq > limiter");

    // Measurement: only inserts, only in the chain, and the null backend
    // has no ports, so nothing comes back.
    fails(&d, &["measure", "trim"], "not a hardware insert");
    fails(&d, &["measure", "nope"], "no chain slot");
    fails(&d, &["measure", "gear"], "not in the chain");
    layout(&d, &["trim", "gear"]);
    fails(&d, &["measure", "gear"], "nothing came back");
    osc.send("/chain/gear/measure", vec![OscType::Int(1)]);
    assert!(
        osc.recv_until(WAIT, |m| m.addr == "/rackd/error").is_some(),
        "measure with arguments is refused"
    );
    assert_eq!(d.get_f32("/chain/gear/latency"), 0.0, "nothing stored");

    // The layout is part of a snapshot: recall brings it back; diff shows it.
    layout(&d, &["eq", "trim", "limiter"]);
    d.ctl_ok(&["set", "/chain/trim/gain", "-4"]);
    d.ctl_ok(&["save", "album/03 song"]);
    layout(&d, &["trim"]);
    let diff = d.ctl_ok(&["diff", "album/03 song", "current"]);
    assert!(diff.contains("/chain/limiter/active"), "{diff}");
    d.ctl_ok(&["recall", "album/03 song"]);
    assert_eq!(layout(&d, &[]), "eq > trim > limiter");

    // A restart brings the live layout back (saved at SIGTERM at the latest).
    layout(&d, &["limiter", "eq"]);
    assert!(d.stop().success());
    d.restart();
    assert_eq!(layout(&d, &[]), "limiter > eq");

    // The print pass of a digital chain equals the offline render. Sources
    // and results are in the daemon's default file directories.
    let dir = tempfile::tempdir().unwrap();
    let sources = d.state_dir.join("sources");
    let prints = d.state_dir.join("prints");
    let source = sources.join("mix.wav");
    let (l, r) = (noise(24_000, 0.9, 7), noise(24_000, 0.9, 8));
    write_float_wav(&source, 48_000, &l, &r);
    let printed = prints.join("printed.wav");
    let out = d.ctl_ok(&[
        "print",
        "album/03 song",
        "mix.wav",
        "printed.wav",
        "--bits",
        "32",
    ]);
    assert!(out.contains("printed album/03 song@1"), "{out}");
    assert_eq!(
        layout(&d, &[]),
        "eq > trim > limiter",
        "print recalls the song"
    );
    let rendered = dir.path().join("rendered.wav");
    let out = run_rackd(&[
        "render",
        "--snapshot",
        "album/03 song",
        "--config",
        d.config.to_str().unwrap(),
        "--block",
        "256",
        "--bits",
        "32",
        source.to_str().unwrap(),
        rendered.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, [pl, pr]) = read_float_wav(&printed);
    let (_, [rl, rr]) = read_float_wav(&rendered);
    assert_eq!(pl.len(), l.len());
    assert_eq!(rl.len(), l.len());
    let worst = (0..l.len())
        .map(|i| (pl[i] - rl[i]).abs().max((pr[i] - rr[i]).abs()))
        .fold(0f32, f32::max);
    eprintln!("print vs render: largest difference {worst:e}");
    assert!(worst < 1e-6, "print and render differ by {worst}");
    assert!(
        pl.iter().zip(&l).any(|(p, x)| (p - x).abs() > 0.01),
        "the chain did something"
    );

    // Bad print requests: a clear error, no file.
    fails(
        &d,
        &["print", "album/03 song", "nothing-here.wav", "never.wav"],
        "no readable audio file",
    );
    fails(
        &d,
        &["print", "no/such song", "mix.wav", "never.wav"],
        "no/such song",
    );
    fails(
        &d,
        &["print", "album/03 song", "mix.wav", "../mix.wav"],
        "..",
    );
    let elsewhere = dir.path().join("never.wav");
    fails(
        &d,
        &[
            "print",
            "album/03 song",
            "mix.wav",
            elsewhere.to_str().unwrap(),
        ],
        "outside the directories",
    );
    osc.send(
        "/rackd/print",
        vec![
            OscType::String("album/03 song".into()),
            OscType::String("mix.wav".into()),
            OscType::String("out.wav".into()),
            OscType::Int(-1),
        ],
    );
    let err = osc
        .recv_until(WAIT, |m| m.addr == "/rackd/error")
        .expect("bits -1 is refused");
    assert!(
        format!("{:?}", err.args).contains("bits -1: choose 16, 24 or 32"),
        "{err:?}"
    );
    fails(
        &d,
        &["print", "album/03 song", "mix.wav", "../sources/mix.wav"],
        "..",
    );
    fails(
        &d,
        &["print", "album/03 song", "mix.wav", "printed.wav"],
        "exists",
    );
    assert!(!elsewhere.exists() && !prints.join("never.wav").exists());

    // Ctrl-C on `rackd ctl print` cancels the print; nothing is written.
    let long = sources.join("long.wav");
    let (l, r) = (noise(48_000 * 20, 0.1, 9), noise(48_000 * 20, 0.1, 10));
    write_float_wav(&long, 48_000, &l, &r);
    let cancelled = prints.join("cancelled.wav");
    let progress = d.udp();
    progress.subscribe(&["/rackd/print/*"]);
    // Owned by a guard: stopped (by PID) should the test fail before it ends.
    let mut child = Background::spawn(
        Command::new(rackd_bin())
            .args([
                "ctl",
                "--connect",
                &format!("127.0.0.1:{}", d.port),
                "print",
            ])
            .args(["album/03 song", "long.wav", "cancelled.wav"]),
    );
    // Cancel in the middle: once the take reports progress.
    let under_way = progress.recv_until(Duration::from_secs(30), |m| {
        m.addr == "/rackd/print/progress" && m.args.get(1).is_some_and(|f| as_f32(f) > 0.0)
    });
    assert!(under_way.is_some(), "the print never made progress");
    signal(child.pid(), libc::SIGINT);
    let status = child
        .wait_exit(Duration::from_secs(20))
        .expect("ctl print ends after Ctrl-C");
    let err = child.text();
    assert!(!status.success(), "{err}");
    assert!(err.contains("cancelled"), "{err}");
    assert!(!cancelled.exists(), "a cancelled print wrote a file");
    assert_eq!(d.status()["printing"], false);
    assert!(d.wait_log(
        "print of album/03 song: print cancelled",
        Duration::from_secs(5)
    ));
}
