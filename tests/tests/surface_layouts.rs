//! `rackd surface export`: the Open Stage Control session and the TouchOSC
//! document, read back with Python's json, zlib and XML parsers
//! (`tests/scripts/check_layout.py`) and checked against `rackd ctl
//! describe`: every parameter present with its address and range. Golden
//! files for the demo rack (`tests/golden/`; `RACKD_UPDATE_GOLDEN=1`
//! writes them anew).

use rackd_tests::*;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

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

#[test]
fn layouts_carry_every_parameter_of_the_describe() {
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
    let (_demo, connect) = (0..5)
        .find_map(|_| {
            let port = free_port();
            let mut demo = Background::spawn(
                Command::new(rackd_bin())
                    .args(["demo", "--no-jack", "--osc-port", &port.to_string()])
                    .arg("--state-dir")
                    .arg(state.path())
                    .env("NO_COLOR", "1"),
            );
            let connect = format!("127.0.0.1:{port}");
            let up = wait_for(Duration::from_secs(20), || {
                if demo.exited() {
                    return Some(false);
                }
                ctl(&connect, &["status"]).status.success().then_some(true)
            });
            match up {
                Some(true) => Some((demo, connect)),
                Some(false) if demo.text().contains("cannot bind") => None,
                _ => panic!("the demo never answered:\n{}", demo.text()),
            }
        })
        .expect("the demo could not bind a free port in 5 tries");
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
