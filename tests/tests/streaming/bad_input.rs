//! Bad input gets a clear error and leaves no output.

use super::*;

fn nothing_left(dir: &Path, out: &str) {
    assert!(!dir.join(out).exists(), "{out} was written");
    assert!(
        !dir.join(format!("{out}.partial")).exists(),
        "{out}.partial was left"
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_leaves_no_output() {
    need(&["sox"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    synth(dir, "t.wav", 44_100, 16, "5 pinknoise gain -12");
    let refused = |toml: &str, args: &[&str], code: i32, says: &[&str]| {
        std::fs::write(dir.join("a.toml"), toml).unwrap();
        let mut a = vec!["album", "build", "a.toml", "--out", "out"];
        a.extend_from_slice(args);
        let o = rackd(dir, &a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        for s in says {
            assert!(err.contains(s), "wanted {s:?} in {err}");
        }
        nothing_left(dir, "out");
    };
    let ok = "[[track]]\nsource = \"t.wav\"\n";
    refused(
        "[[track]]\nsource = \"t.wav\"\nisrc = \"US-S1Z-2-00001\"\n",
        &["--streaming"],
        2,
        &["a.toml:3:", "ISRC"],
    );
    refused(
        "[[track]]\nsource = \"t.wav\"\nfade_out = 8.0\n",
        &["--streaming"],
        2,
        &["fade_out of 8.00 s is longer than its audio (5.000 s"],
    );
    refused(
        ok,
        &["--streaming", "--rate", "96000"],
        2,
        &["never upsampled"],
    );
    refused(
        ok,
        &["--streaming", "--bits", "16"],
        2,
        &["24-bit PCM (24) or 32-bit float (32)"],
    );
    refused(
        ok,
        &["--streaming", "--bits", "32", "--flac"],
        2,
        &["--flac holds integer samples"],
    );
    refused(ok, &["--flac"], 2, &["add --streaming"]);
    refused(
        ok,
        &["--previews", "aac,wma"],
        2,
        &["unknown codec \"wma\""],
    );

    // A path that cannot be written (a file where a folder must go).
    std::fs::write(dir.join("a.toml"), ok).unwrap();
    std::fs::write(dir.join("file"), "x").unwrap();
    let o = rackd(
        dir,
        &[
            "album",
            "build",
            "a.toml",
            "--out",
            "file/deliver",
            "--streaming",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot create") && err.contains("file/deliver.partial"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.join("file")).unwrap(), b"x");

    // ffmpeg missing: said before anything is written, with the package to install.
    let o = run(Command::new(rackd_bin())
        .args([
            "album",
            "build",
            "a.toml",
            "--out",
            "out",
            "--previews",
            "aac",
        ])
        .env("PATH", dir.join("no-such-dir"))
        .current_dir(dir));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("need ffmpeg") && err.contains("apt-get install ffmpeg"),
        "{err}"
    );
    nothing_left(dir, "out");

    // An ffmpeg that fails half-way (after the masters started): the whole
    // build is undone.
    let bin: PathBuf = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("ffmpeg");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$*\" in *-encoders*) echo ' A..... aac  AAC'; exit 0;; esac\ncat >/dev/null\necho 'encoder exploded' >&2\nexit 1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = run(Command::new(rackd_bin())
        .args([
            "album",
            "build",
            "a.toml",
            "--out",
            "out",
            "--previews",
            "aac",
        ])
        .env("PATH", path)
        .current_dir(dir));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("AAC preview of track 1") && err.contains("encoder exploded"),
        "{err}"
    );
    nothing_left(dir, "out");
}
