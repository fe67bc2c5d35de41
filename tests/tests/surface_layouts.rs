//! `rackd surface export`: the Open Stage Control session and the TouchOSC
//! document, read back with Python's json, zlib and XML parsers
//! (`tests/scripts/check_layout.py`) and checked against `rackd ctl
//! describe`: every parameter present with its address and range, the
//! snapshot page's save, recall and manual-gear confirms run. Golden
//! files for the demo rack (`tests/golden/`; `RACKD_UPDATE_GOLDEN=1`
//! writes them anew).

use rackd_tests::*;
use std::path::Path;
use std::process::{Command, Output};

fn export(args: &[&str]) -> Vec<u8> {
    let out = run_rackd(&[&["surface", "export"][..], args].concat());
    assert!(
        out.status.success(),
        "rackd surface export {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn check(format: &str, layout: &Path, describe: &Path, target: Option<&str>) -> Output {
    let mut cmd = Command::new("python3");
    cmd.arg(crate_dir().join("scripts/check_layout.py"))
        .arg(format)
        .arg(layout)
        .arg(describe);
    if let Some(t) = target {
        cmd.arg(t);
    }
    cmd.output().expect("python3")
}

fn assert_checked(out: Output) {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok "));
}

/// The checker said no, with `why` among its lines.
fn assert_refused(out: Output, why: &str) {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && text.contains(why),
        "wanted {why:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The checker runs the layouts' scripts in lua5.4 and node.
fn have_interpreters() -> bool {
    require_program("lua5.4", "lua5.4") && require_program("node", "nodejs")
}

#[test]
fn layouts_carry_every_parameter_of_the_describe() {
    if !have_interpreters() {
        return;
    }
    let extra = r#"
[[chain]]
id = "eq"
kind = "eq"

[[chain]]
id = "comp"
kind = "compressor"

[[chain]]
id = "lim"
kind = "limiter"

[[chain]]
id = "lufs"
kind = "loudness"

[[chain]]
id = "ms"
kind = "stereo"

[[device]]
id = "passive"
profile = "generic-passive-eq-stepped"
"#;
    let d = Daemon::start(Setup {
        extra: extra.into(),
        ..Setup::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let describe = dir.path().join("describe.json");
    std::fs::write(&describe, d.ctl_ok(&["describe"])).unwrap();
    let connect = format!("127.0.0.1:{}", d.port);

    // From the running daemon.
    let osc = dir.path().join("rack.json");
    std::fs::write(
        &osc,
        export(&["--format", "open-stage-control", "--connect", &connect]),
    )
    .unwrap();
    assert_checked(check("open-stage-control", &osc, &describe, Some(&connect)));
    let tosc = dir.path().join("rack.tosc");
    std::fs::write(
        &tosc,
        export(&["--format", "touchosc", "--connect", &connect]),
    )
    .unwrap();
    assert_checked(check("touchosc", &tosc, &describe, None));

    // From its config file, with the tablet's view of the address.
    let config = d.config.to_string_lossy().into_owned();
    std::fs::write(
        &osc,
        export(&[
            "--format",
            "open-stage-control",
            "--config",
            &config,
            "--target",
            "192.168.1.20:7770",
        ]),
    )
    .unwrap();
    assert_checked(check(
        "open-stage-control",
        &osc,
        &describe,
        Some("192.168.1.20:7770"),
    ));
    std::fs::write(
        &tosc,
        export(&["--format", "touchosc", "--config", &config]),
    )
    .unwrap();
    assert_checked(check("touchosc", &tosc, &describe, None));

    // The checker can fail: a layout missing a parameter is refused.
    let mut session: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&osc).unwrap()).unwrap();
    session["content"]["tabs"][1]["widgets"]
        .as_array_mut()
        .unwrap()
        .truncate(3);
    std::fs::write(&osc, session.to_string()).unwrap();
    let out = check(
        "open-stage-control",
        &osc,
        &describe,
        Some("192.168.1.20:7770"),
    );
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The snapshot page's scripts are run: a confirm for the wrong device
    // and a save button that recalls are refused.
    let text = std::fs::read_to_string(&osc).unwrap();
    let wrong = r#"confirm\", \"passive\""#;
    assert!(text.contains(wrong), "{text}");
    std::fs::write(&osc, text.replace(wrong, r#"confirm\", \"pasive\""#)).unwrap();
    let out = check(
        "open-stage-control",
        &osc,
        &describe,
        Some("192.168.1.20:7770"),
    );
    assert_refused(out, "passive: 0 confirm controls");
    let xml =
        String::from_utf8(export(&["--format", "touchosc-xml", "--config", &config])).unwrap();
    let save = "sendOSC({'/rackd/snapshot/save'";
    assert!(xml.contains(save));
    let xml_file = dir.path().join("bad.xml");
    std::fs::write(
        &xml_file,
        xml.replace(save, "sendOSC({'/rackd/snapshot/recall'"),
    )
    .unwrap();
    let compressed = Command::new("python3")
        .args(["-c", "import sys, zlib; sys.stdout.buffer.write(zlib.compress(open(sys.argv[1], 'rb').read()))"])
        .arg(&xml_file)
        .output()
        .unwrap();
    std::fs::write(&tosc, compressed.stdout).unwrap();
    assert_refused(
        check("touchosc", &tosc, &describe, None),
        "snapshot_save sends [('/rackd/snapshot/recall'",
    );

    // A stepped control's buttons must say what the panel prints.
    let blunt = xml.replace(
        "<default><![CDATA[sharp]]></default>",
        "<default><![CDATA[blunt]]></default>",
    );
    assert_ne!(blunt, xml);
    std::fs::write(&xml_file, blunt).unwrap();
    let compressed = Command::new("python3")
        .args(["-c", "import sys, zlib; sys.stdout.buffer.write(zlib.compress(open(sys.argv[1], 'rb').read()))"])
        .arg(&xml_file)
        .output()
        .unwrap();
    std::fs::write(&tosc, compressed.stdout).unwrap();
    assert_refused(
        check("touchosc", &tosc, &describe, None),
        "/outboard/passive/bandwidth: the button for 0 says 'blunt', not 'sharp'",
    );

    // Bad usage: exit 2 with a reason.
    let out = run_rackd(&[
        "surface", "export", "--format", "touchosc", "--config", &config, "--target", "nowhere",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not HOST:PORT"));
}

#[test]
fn demo_rack_layouts_match_their_golden_files() {
    let state = tempfile::tempdir().unwrap();
    let (_demo, connect) = start_demo(state.path());
    let golden = crate_dir().join("golden");
    for (format, file) in [
        ("open-stage-control", "demo-open-stage-control.json"),
        ("touchosc-xml", "demo-touchosc.xml"),
    ] {
        let got = export(&[
            "--format",
            format,
            "--connect",
            &connect,
            "--target",
            "127.0.0.1:7770",
        ]);
        let path = golden.join(file);
        if std::env::var_os("RACKD_UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(&golden).unwrap();
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (RACKD_UPDATE_GOLDEN=1 writes it)", path.display())
        });
        assert!(
            got == want,
            "{format} differs from {} (RACKD_UPDATE_GOLDEN=1 writes it anew after a deliberate change)",
            path.display()
        );
    }
    // The compressed .tosc is the same document.
    let tosc = export(&[
        "--format",
        "touchosc",
        "--connect",
        &connect,
        "--target",
        "127.0.0.1:7770",
    ]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.tosc"), &tosc).unwrap();
    let out = Command::new("python3")
        .args(["-c", "import sys, zlib; sys.stdout.buffer.write(zlib.decompress(open(sys.argv[1], 'rb').read()))"])
        .arg(dir.path().join("r.tosc"))
        .output()
        .unwrap();
    assert!(out.stdout == std::fs::read(golden.join("demo-touchosc.xml")).unwrap());
}

#[test]
fn check_refuses_surface_banks_the_rack_does_not_have() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rackd.toml");
    std::fs::write(
        &file,
        "[[chain]]\nid = \"trim\"\nkind = \"trim\"\n\n[[midi_surface]]\nid = \"desk\"\nprotocol = \"mcu\"\nmidi = { port = \"a:in\", input = \"a:out\" }\nbanks = [[\"/chain/trim/gain\", \"/chain/eq/b1_gain\"]]\n",
    )
    .unwrap();
    let out = run_rackd(&["check", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "rackd.toml:9: midi_surface[0].banks[0][1]: the rack has no parameter /chain/eq/b1_gain"
        ),
        "{err}"
    );
}

/// Runs `tests/scripts/layout_feedback.py` (the layout's own scripts in
/// lua5.4 or node, their messages sent with python-osc, a set with
/// `oscsend`, the feedback awaited at the layout's receive port).
fn feedback(format: &str, layout: &Path, connect: &str, receive: u16, wait_s: &str) -> Output {
    Command::new("python3")
        .arg(crate_dir().join("scripts/layout_feedback.py"))
        .args([format, &layout.to_string_lossy(), connect])
        .arg(receive.to_string())
        .args(["/chain/trim/gain", "2.5"])
        .env("LAYOUT_FEEDBACK_WAIT_S", wait_s)
        .output()
        .expect("python3")
}

#[test]
fn layout_scripts_subscribe_and_feedback_comes_back() {
    if !have_interpreters()
        || !require_program("oscsend", "liblo-tools")
        || !require_python_module("pythonosc", "python-osc")
    {
        return;
    }
    let d = Daemon::start(Setup {
        test_tone_db: Some(-12.0),
        ..Setup::default()
    });
    let connect = format!("127.0.0.1:{}", d.port);
    let dir = tempfile::tempdir().unwrap();
    let receive = free_port();
    let tosc = dir.path().join("rack.tosc");
    let xml = export(&[
        "--format",
        "touchosc-xml",
        "--connect",
        &connect,
        "--reply-port",
        &receive.to_string(),
    ]);
    std::fs::write(
        &tosc,
        export(&[
            "--format",
            "touchosc",
            "--connect",
            &connect,
            "--reply-port",
            &receive.to_string(),
        ]),
    )
    .unwrap();
    let osc = dir.path().join("rack.json");
    let session = export(&["--format", "open-stage-control", "--connect", &connect]);
    std::fs::write(&osc, &session).unwrap();
    assert_checked(feedback("touchosc", &tosc, &connect, receive, "10"));
    assert_checked(feedback("open-stage-control", &osc, &connect, 0, "10"));

    // A layout whose subscription misses the chain gets no feedback for it.
    let plant = |text: &[u8], from: &str, to: &str, file: &str| {
        let text = String::from_utf8_lossy(text);
        assert!(text.contains(from), "{from} not in the layout");
        let path = dir.path().join(file);
        std::fs::write(&path, text.replace(from, to)).unwrap();
        path
    };
    for (format, path, port) in [
        (
            "touchosc",
            plant(&xml, "'/chain/*/*'", "'/chains/*/*'", "bad.xml"),
            receive,
        ),
        (
            "open-stage-control",
            plant(
                &session,
                r#"\"/chain/*/*\""#,
                r#"\"/chains/*/*\""#,
                "bad.json",
            ),
            0,
        ),
    ] {
        let out = feedback(format, &path, &connect, port, "2");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.status.success() && text.contains("no current value of /chain/trim/gain"),
            "{format}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
