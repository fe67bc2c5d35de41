//! The command line's contract: exit codes (0 ok, 1 runtime failure, 2 usage
//! or invalid input), `rackd check` listing every error as `file:line:`, and
//! the shipped systemd unit and example config passing their checkers.

use rackd_tests::*;
use std::process::Command;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_accepts_a_valid_config_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rackd.toml");
    std::fs::write(&file, Setup::default().toml(free_port(), dir.path())).unwrap();
    let out = run_rackd(&["check", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn check_lists_every_error_with_file_and_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[audio]\nbackend = \"alsa\"\nceiling_dbfs = 3.0\n\n[[chain]]\nid = \"trim\"\nkind = \"fuzz\"\n",
    )
    .unwrap();
    let out = run_rackd(&["check", "--config", file.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let f = file.display().to_string();
    let located: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with(&format!("{f}:")))
        .collect();
    assert_eq!(
        located.len(),
        3,
        "expected three file:line: lines:\n{stderr}"
    );
    for (line, key) in [
        (2, "audio.backend"),
        (3, "audio.ceiling_dbfs"),
        (7, "chain[0].kind"),
    ] {
        assert!(
            located
                .iter()
                .any(|l| l.starts_with(&format!("{f}:{line}: {key}"))),
            "no {f}:{line}: {key} line in:\n{stderr}"
        );
    }
}

#[test]
fn run_with_an_invalid_config_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[osc]\nlisten = \"nowhere\"\n").unwrap();
    let out = run_rackd(&["run", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("osc.listen"));
}

#[test]
fn ctl_without_a_daemon_exits_1() {
    let port = free_port();
    let out = ctl(&format!("127.0.0.1:{port}"), &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(!out.stderr.is_empty());
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["bogus-command"][..],
        &["ctl"][..],
        &["ctl", "set", "/chain/trim/gain"][..],
        &["run", "--no-such-flag"][..],
    ] {
        let out = run_rackd(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "rackd {args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = run_rackd(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn shipped_example_config_passes_check() {
    let file = workspace_dir().join("systemd/rackd.toml");
    let out = run_rackd(&["check", "--config", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn shipped_systemd_unit_passes_systemd_analyze_verify() {
    if !require_program("systemd-analyze", "systemd") {
        return;
    }
    let unit = std::fs::read_to_string(workspace_dir().join("systemd/rackd.service")).unwrap();
    assert!(
        unit.contains("/usr/bin/rackd"),
        "ExecStart no longer uses /usr/bin/rackd"
    );
    let unit = unit.replace("/usr/bin/rackd", rackd_bin().to_str().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rackd.service");
    std::fs::write(&path, unit).unwrap();
    let out = run_with_timeout(
        Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .current_dir(dir.path()),
        std::time::Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "systemd-analyze verify failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn client_environment_is_not_config_for_check_run_and_demo() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rackd.toml");
    let port = free_port();
    std::fs::write(&file, Setup::default().toml(port, dir.path())).unwrap();
    let with_ctl_env = |args: &[&str]| {
        let mut cmd = Command::new(rackd_bin());
        cmd.args(args).env("RACKD_CONNECT", "127.0.0.1:9");
        cmd
    };
    let out = run_with_timeout(
        &mut with_ctl_env(&["check", "--config", file.to_str().unwrap()]),
        WAIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // run and demo start and answer with it set.
    let demo_port = free_port().to_string();
    let demo_http = free_port().to_string();
    let demo_state = tempfile::tempdir().unwrap();
    for (args, port) in [
        (
            vec!["run", "--config", file.to_str().unwrap()],
            port.to_string(),
        ),
        (
            vec![
                "demo",
                "--no-jack",
                "--osc-port",
                &demo_port,
                "--http-port",
                &demo_http,
                "--state-dir",
                demo_state.path().to_str().unwrap(),
            ],
            demo_port.clone(),
        ),
    ] {
        let mut child = with_ctl_env(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let answered = wait_for(WAIT, || {
            ctl(&format!("127.0.0.1:{port}"), &["status"])
                .status
                .success()
                .then_some(())
        });
        let exited = child.try_wait().unwrap();
        stop_child(&mut child, libc::SIGTERM, WAIT);
        assert!(
            answered.is_some(),
            "rackd {args:?} with RACKD_CONNECT set did not answer (exit: {exited:?})"
        );
    }
}

#[test]
fn check_of_a_file_with_many_errors_is_quick_and_capped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.toml");
    let mut body = String::from("[osc]\n");
    for i in 0..40_000 {
        body += &format!("bogus_{i} = {i}\n");
    }
    std::fs::write(&file, body).unwrap();
    let started = std::time::Instant::now();
    let out = run_rackd(&["check", "--config", file.to_str().unwrap()]);
    let took = started.elapsed();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 201, "200 problems and a count");
    assert!(
        lines[0].ends_with(
            "many.toml:2: osc.bogus_0: unknown key; known keys here: listen, allow, idle_timeout_s"
        ),
        "{}",
        lines[0]
    );
    assert_eq!(lines[200], "… and 39800 more");
    eprintln!("rackd check of 40 000 unknown keys took {took:?}");
    // A file far larger than any config is refused without being read through.
    let huge = dir.path().join("huge.toml");
    std::fs::write(&huge, "# x\n".repeat(13 << 20)).unwrap();
    let out = run_rackd(&["check", "--config", huge.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is this the right file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_of_an_empty_file_says_what_it_assumes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("empty.toml");
    std::fs::write(&file, "").unwrap();
    let out = run_rackd(&["check", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("warning:") && err.contains("assuming backend Jack"),
        "{err}"
    );
}
