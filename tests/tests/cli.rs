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
