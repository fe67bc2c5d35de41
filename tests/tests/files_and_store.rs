//! What a client may touch on the daemon's machine, and a snapshot store
//! that notices trouble and recovers from it (null backend, real SQLite files).
//!
//! - A print reads only under `[files] input_dirs` and writes only under
//!   `[files] output_dir`: the snapshot database, paths elsewhere and links
//!   leading out are refused, an existing file is replaced only when asked,
//!   a FIFO does not hang the print feature. Every acknowledged snapshot is
//!   still there after a restart.
//! - A database file replaced or removed under the running daemon makes it
//!   refuse saves (nothing acknowledged that is not durable) and say so.
//! - Started on a state directory it cannot write, the daemon runs, refuses
//!   saves with the reason, reports the store's health, and recovers by
//!   itself once the directory is writable again.

use rackd_tests::wav::{noise, write_float_wav};
use rackd_tests::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `rackd ctl ARGS` must fail with exit 2 and say `needle`.
fn refused(d: &Daemon, args: &[&str], needle: &str) -> String {
    let out = d.ctl(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "rackd ctl {args:?}: {err}");
    assert!(
        err.contains(needle),
        "rackd ctl {args:?}: {err:?} lacks {needle:?}"
    );
    err
}

fn source(d: &Daemon, name: &str) -> std::path::PathBuf {
    let path = d.state_dir.join("sources").join(name);
    let (l, r) = (noise(4_800, 0.25, 1), noise(4_800, 0.25, 2));
    write_float_wav(&path, 48_000, &l, &r);
    path
}

fn revisions(d: &Daemon, song: &str) -> usize {
    d.ctl_ok(&["history", song])
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .count()
}

#[test]
fn a_print_reaches_only_the_file_directories_and_never_the_database() {
    let mut d = Daemon::start(Setup::default());
    let song = "album/01 song";
    d.ctl_ok(&["save", song]);
    let mix = source(&d, "mix.wav");
    let db = d.state_dir.join("rackd.db");

    // The reproduction from the report: print over the daemon's own
    // database, with liblo's oscsend, as any allowed client could (its
    // answer goes to oscsend's own port; ctl below reads the same answer).
    let st = Command::new("oscsend")
        .args([
            "localhost",
            &d.port.to_string(),
            "/rackd/print",
            "sss",
            song,
            mix.to_str().unwrap(),
            db.to_str().unwrap(),
        ])
        .status()
        .expect("oscsend (apt install liblo-tools)");
    assert!(st.success());
    assert!(
        d.wait_log("outside the directories a client may write to", WAIT),
        "the daemon refused and logged it"
    );
    let err = refused(
        &d,
        &["print", song, "mix.wav", db.to_str().unwrap()],
        "outside the directories a client may write to",
    );
    assert!(
        err.contains("prints"),
        "the error names the allowed directory: {err}"
    );
    refused(
        &d,
        &["print", song, "/etc/passwd", "x.wav"],
        "outside the directories a client may read",
    );
    refused(&d, &["print", song, "../rackd.db", "x.wav"], "`..`");
    refused(&d, &["print", song, "mix.wav", "../rackd.db"], "`..`");

    // A link out of the output directory, and one from the sources.
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("stolen.wav"),
        d.state_dir.join("prints/trap.wav"),
    )
    .unwrap();
    refused(
        &d,
        &["print", song, "mix.wav", "trap.wav", "--overwrite"],
        "symbolic link",
    );
    std::os::unix::fs::symlink("/etc/hostname", d.state_dir.join("sources/host.wav")).unwrap();
    let linked = refused(
        &d,
        &["print", song, "host.wav", "x.wav"],
        "no readable audio file",
    );
    let missing = refused(
        &d,
        &["print", song, "nothing.wav", "x.wav"],
        "no readable audio file",
    );
    assert_eq!(
        linked.replace("host.wav", "NAME"),
        missing.replace("nothing.wav", "NAME"),
        "a link out and a missing file get the same answer"
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);

    // A FIFO as the source: refused at once; the print feature stays free.
    let fifo = d.state_dir.join("sources/fifo.wav");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    refused(
        &d,
        &["print", song, "fifo.wav", "x.wav"],
        "no readable audio file",
    );
    assert_eq!(d.status()["printing"], false);

    // A print works, an existing result is kept unless asked to replace it.
    let out = d.ctl_ok(&["print", song, "mix.wav", "master.wav"]);
    assert!(out.contains("master.wav"), "{out}");
    let master = d.state_dir.join("prints/master.wav");
    let first = std::fs::metadata(&master).unwrap().len();
    std::fs::write(&master, b"keep me").unwrap();
    refused(&d, &["print", song, "mix.wav", "master.wav"], "exists");
    assert_eq!(std::fs::read(&master).unwrap(), b"keep me");
    d.ctl_ok(&["print", song, "mix.wav", "master.wav", "--overwrite"]);
    assert_eq!(std::fs::metadata(&master).unwrap().len(), first);
    let leftovers: Vec<_> = std::fs::read_dir(d.state_dir.join("prints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The database was never touched by any of it: saves go on, and after
    // a restart every acknowledged revision is there.
    d.ctl_ok(&["save", song, "--note", "after the attempts"]);
    assert!(d.stop().success());
    d.restart();
    assert_eq!(revisions(&d, song), 2, "{}", d.ctl_ok(&["history", song]));
}

#[test]
fn an_output_directory_equal_to_the_state_directory_still_protects_the_database() {
    let setup = Setup {
        extra: "[files]\ninput_dirs = [\".\"]\noutput_dir = \".\"\n".into(),
        ..Setup::default()
    };
    let mut d = Daemon::start(setup);
    d.ctl_ok(&["save", "album/02"]);
    let (l, r) = (noise(4_800, 0.25, 1), noise(4_800, 0.25, 2));
    write_float_wav(&d.state_dir.join("mix.wav"), 48_000, &l, &r);
    for name in ["rackd.db", "rackd.db-wal", "rackd.db-shm"] {
        refused(
            &d,
            &["print", "album/02", "mix.wav", name, "--overwrite"],
            "snapshot database",
        );
    }
    refused(
        &d,
        &["print", "album/02", "rackd.db", "x.wav"],
        "no readable audio file",
    );
    d.ctl_ok(&["save", "album/02"]);
    assert!(d.stop().success());
    d.restart();
    assert_eq!(revisions(&d, "album/02"), 2);
}

#[test]
fn a_database_replaced_or_removed_under_the_daemon_refuses_saves() {
    let d = Daemon::start(Setup::default());
    d.ctl_ok(&["save", "album/03"]);
    assert_eq!(d.status()["store"]["health"], "ok");
    let db = d.state_dir.join("rackd.db");
    // Someone restores "a backup" over the live file.
    let copy = d.state_dir.join("copy.db");
    std::fs::copy(&db, &copy).unwrap();
    std::fs::rename(&copy, &db).unwrap();
    let err = refused_runtime(&d, &["save", "album/03"]);
    assert!(err.contains("replaced by another file"), "{err}");
    assert!(err.contains("restart rackd"), "it says what to do: {err}");
    let st = d.status();
    assert_eq!(st["store"]["health"], "failing", "{st}");
    assert!(d.wait_log("replaced by another file", WAIT));

    std::fs::remove_file(&db).unwrap();
    let err = refused_runtime(&d, &["save", "album/03"]);
    assert!(err.contains("was removed"), "{err}");
}

/// `rackd ctl ARGS` fails (the daemon's error, exit 1 or 2); returns stderr.
fn refused_runtime(d: &Daemon, args: &[&str]) -> String {
    let out = d.ctl(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "rackd ctl {args:?} succeeded: {err}");
    err
}

/// Makes `dir` unwritable for this process (root ignores permissions, so
/// as root the directory is made immutable) and back.
fn set_writable(dir: &Path, writable: bool) {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let st = if root {
        Command::new("chattr")
            .arg(if writable { "-i" } else { "+i" })
            .arg(dir)
            .status()
            .expect("chattr (e2fsprogs)")
    } else {
        Command::new("chmod")
            .arg(if writable { "755" } else { "555" })
            .arg(dir)
            .status()
            .expect("chmod")
    };
    assert!(
        st.success(),
        "cannot change whether {} is writable",
        dir.display()
    );
}

/// Puts a directory back to writable when the test ends, passed or not.
struct Writable<'a>(&'a Path);

impl Drop for Writable<'_> {
    fn drop(&mut self) {
        set_writable(self.0, true);
    }
}

#[test]
fn a_store_on_a_read_only_state_directory_recovers_once_it_is_writable() {
    let state = tempfile::tempdir().unwrap();
    set_writable(state.path(), false);
    let guard = Writable(state.path());
    let mut d = Daemon::spawn_in(Setup::default(), state.path(), &[]);
    d.wait_ready();
    let st = d.status();
    assert_eq!(st["store"]["health"], "read-only", "{st}");
    assert!(
        st["store"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("rackd.db")),
        "{st}"
    );
    let err = refused_runtime(&d, &["save", "album/04", "--note", "while read-only"]);
    assert!(err.contains("rackd.db"), "{err}");
    d.ctl_ok(&["set", "/chain/trim/gain", "-4.5"]);

    drop(guard);
    // The store opens the database again by itself (the autosave retries).
    let ok = wait_for(Duration::from_secs(60), || {
        (d.status()["store"]["health"] == "ok").then_some(())
    });
    assert!(ok.is_some(), "the store did not recover: {}", d.status());
    d.ctl_ok(&["save", "album/04", "--note", "after the fix"]);
    // The file directories are made once the state directory takes them.
    assert!(d.wait_log("created the file directories", WAIT));
    source(&d, "mix.wav");
    d.ctl_ok(&["print", "album/04", "mix.wav", "master.wav"]);
    assert!(d.wait_log("snapshot store: ok again", WAIT));
    assert!(d.stop().success());
    d.restart();
    assert_eq!(revisions(&d, "album/04"), 1);
    assert!(
        (d.get_f32("/chain/trim/gain") + 4.5).abs() < 1e-6,
        "the live state came back"
    );
    let log = d.log_text();
    let warnings = log.matches("checkpoint").count();
    assert!(
        warnings <= 3,
        "the failing store flooded the log ({warnings} checkpoint lines):\n{log}"
    );
}
