//! Files a client may name: the print pass's source and result, and any later
//! command that reads or writes audio on the daemon's machine.
//!
//! A client on the network must not be able to read or replace what it likes
//! with the daemon's rights. So a name is resolved only under the configured
//! directories (`[files] input_dirs`, `[files] output_dir`), never through a
//! symbolic link that leads out of them, never to the snapshot database, and
//! an existing file is replaced only when the client asks for it. A result is
//! written through a temporary file in the same directory and moved into
//! place at the end, so a crash leaves no half-written file under the name.
//!
//! A missing, unreadable or non-regular input (or a link out of the
//! directories) all get the same answer, so a client cannot use the error to
//! learn what exists on the machine.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The database file and its companions, which no client may name.
const DATABASE_NAMES: [&str; 4] = [
    "rackd.db",
    "rackd.db-wal",
    "rackd.db-shm",
    "rackd.db-journal",
];

/// Why a file a client named cannot be used; each says what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Empty, with a NUL, or with `..` in it.
    #[error("{name:?}: {why}")]
    BadName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// An absolute path outside every allowed directory.
    #[error(
        "{name}: outside the directories a client may {verb} ({dirs}); put the file there or add its directory to [files] in the config"
    )]
    Outside {
        /// The name as given.
        name: String,
        /// `read` or `write to`.
        verb: &'static str,
        /// The allowed directories.
        dirs: String,
    },
    /// Missing, unreadable, not a regular file, or a link out of the directories.
    #[error("{name}: no readable audio file of that name in {dirs}")]
    NotReadable {
        /// The name as given.
        name: String,
        /// The input directories.
        dirs: String,
    },
    /// The file exists and the client did not ask to replace it.
    #[error("{name} exists; ask for overwrite to replace it")]
    Exists {
        /// The name as given.
        name: String,
    },
    /// A symbolic link, a directory or a database file is in the way.
    #[error("{name}: {why}; choose another name")]
    Refused {
        /// The name as given.
        name: String,
        /// What is in the way.
        why: &'static str,
    },
    /// The directory the result would go into does not exist (under the output directory).
    #[error("{name}: no such directory in {dir}")]
    NoDirectory {
        /// The name as given.
        name: String,
        /// The output directory.
        dir: String,
    },
    /// Writing failed (disk full, permissions of the output directory).
    #[error("cannot write {name}: {source}")]
    Write {
        /// The name as given.
        name: String,
        /// The underlying error.
        source: io::Error,
    },
}

/// The directories a client's file names resolve in.
#[derive(Debug, Clone)]
pub struct FileRoots {
    inputs: Vec<PathBuf>,
    output: PathBuf,
    state_dir: PathBuf,
}

/// A source opened for reading: its resolved path and the open file.
#[derive(Debug)]
pub struct InputFile {
    /// Where it is (for logs; the client's own name is in the request).
    pub path: PathBuf,
    /// Opened once, checked to be a regular file.
    pub file: File,
}

/// Where a result goes, checked; [`OutputFile::write`] puts it there.
#[derive(Debug, Clone)]
pub struct OutputFile {
    name: String,
    dir: PathBuf,
    file_name: OsString,
    overwrite: bool,
}

impl FileRoots {
    /// Roots from the config; relative input and output directories are
    /// taken under the state directory.
    pub fn new(input_dirs: &[PathBuf], output_dir: &Path, state_dir: &Path) -> Self {
        let under_state = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                state_dir.join(p)
            }
        };
        FileRoots {
            inputs: input_dirs.iter().map(|p| under_state(p)).collect(),
            output: under_state(output_dir),
            state_dir: state_dir.to_path_buf(),
        }
    }

    /// The input directories, in search order.
    pub fn input_dirs(&self) -> &[PathBuf] {
        &self.inputs
    }

    /// The output directory.
    pub fn output_dir(&self) -> &Path {
        &self.output
    }

    /// Creates the directories that do not exist yet (at start-up; the
    /// defaults live in the state directory).
    pub fn create(&self) -> io::Result<()> {
        for dir in self.inputs.iter().chain([&self.output]) {
            std::fs::create_dir_all(dir)?;
        }
        Ok(())
    }

    fn input_list(&self) -> String {
        list(&self.inputs)
    }

    /// Opens a source the client named: a relative name is looked up in each
    /// input directory in turn, an absolute one must lie in one of them.
    pub fn open_input(&self, name: &str) -> Result<InputFile, FileError> {
        let rel = check_name(name)?;
        let candidates: Vec<PathBuf> = if rel.is_absolute() {
            if !self.inputs.iter().any(|root| under(rel, root)) {
                return Err(FileError::Outside {
                    name: name.into(),
                    verb: "read",
                    dirs: self.input_list(),
                });
            }
            vec![rel.to_path_buf()]
        } else {
            self.inputs.iter().map(|root| root.join(rel)).collect()
        };
        let not_readable = || FileError::NotReadable {
            name: name.into(),
            dirs: self.input_list(),
        };
        for path in candidates {
            // A link may lead to another input directory, never out of them.
            let Some(real) = self.inputs.iter().find_map(|root| within(&path, root)) else {
                continue;
            };
            if self.is_database(&real) {
                return Err(not_readable());
            }
            // Non-blocking, so that opening a FIFO does not hang the print.
            let Ok(file) = File::options()
                .read(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
                .open(&real)
            else {
                continue;
            };
            if file.metadata().is_ok_and(|m| m.is_file()) {
                return Ok(InputFile { path: real, file });
            }
        }
        Err(not_readable())
    }

    /// Checks where a result the client named may go: under the output
    /// directory (a relative name is taken there), in a directory that
    /// exists, not over a link, a directory or a database file, and not over
    /// an existing file unless `overwrite`.
    pub fn output(&self, name: &str, overwrite: bool) -> Result<OutputFile, FileError> {
        let rel = check_name(name)?;
        let path = if rel.is_absolute() {
            if !under(rel, &self.output) {
                return Err(FileError::Outside {
                    name: name.into(),
                    verb: "write to",
                    dirs: self.output.display().to_string(),
                });
            }
            rel.to_path_buf()
        } else {
            self.output.join(rel)
        };
        let file_name = path
            .file_name()
            .ok_or(FileError::BadName {
                name: name.into(),
                why: "names a directory, not a file",
            })?
            .to_os_string();
        let parent = path.parent().unwrap_or(&self.output);
        let dir = within(parent, &self.output).ok_or_else(|| FileError::NoDirectory {
            name: name.into(),
            dir: self.output.display().to_string(),
        })?;
        if !dir.is_dir() {
            return Err(FileError::NoDirectory {
                name: name.into(),
                dir: self.output.display().to_string(),
            });
        }
        if self.is_database(&dir.join(&file_name)) {
            return Err(FileError::Refused {
                name: name.into(),
                why: "that is the snapshot database",
            });
        }
        let out = OutputFile {
            name: name.into(),
            dir,
            file_name,
            overwrite,
        };
        out.check_target()?;
        Ok(out)
    }

    /// Whether `path` (resolved) is the snapshot database or one of its companions.
    fn is_database(&self, path: &Path) -> bool {
        let state = self
            .state_dir
            .canonicalize()
            .unwrap_or_else(|_| self.state_dir.clone());
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        path.parent() == Some(state.as_path()) && DATABASE_NAMES.contains(&name)
    }
}

impl OutputFile {
    /// The resolved path it will have.
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.file_name)
    }

    /// What is there now must not be in the way.
    fn check_target(&self) -> Result<(), FileError> {
        let refused = |why| FileError::Refused {
            name: self.name.clone(),
            why,
        };
        match std::fs::symlink_metadata(self.path()) {
            Err(_) => Ok(()),
            Ok(m) if m.file_type().is_symlink() => Err(refused(
                "a symbolic link is there; rackd does not write through links",
            )),
            Ok(m) if m.is_dir() => Err(refused("a directory is there")),
            Ok(_) if !self.overwrite => Err(FileError::Exists {
                name: self.name.clone(),
            }),
            Ok(_) => Ok(()),
        }
    }

    /// Writes the file with `write` (given a temporary path in the same
    /// directory), syncs it and moves it into place: linked, so that an
    /// existing file is never replaced unless asked for, or renamed over
    /// it when it is. Nothing is left behind on failure.
    pub fn write(&self, write: impl FnOnce(&Path) -> io::Result<()>) -> Result<(), FileError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let failed = |source| FileError::Write {
            name: self.name.clone(),
            source,
        };
        self.check_target()?;
        let mut tmp_name = OsString::from(".");
        tmp_name.push(&self.file_name);
        tmp_name.push(format!(
            ".{}-{}.partial",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let tmp = self.dir.join(tmp_name);
        // Claim the name: fails rather than following anything already there.
        File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(failed)?;
        let result = (|| {
            write(&tmp)?;
            File::open(&tmp)?.sync_all()?;
            let target = self.path();
            if self.overwrite {
                std::fs::rename(&tmp, &target)
            } else {
                // A link fails when the name was taken meanwhile: never a replace.
                std::fs::hard_link(&tmp, &target).and_then(|()| std::fs::remove_file(&tmp))
            }?;
            File::open(&self.dir)?.sync_all()
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            if e.kind() == io::ErrorKind::AlreadyExists {
                return Err(FileError::Exists {
                    name: self.name.clone(),
                });
            }
            return Err(failed(e));
        }
        Ok(())
    }
}

/// Writes a file the local user named (a CLI's output) through a temporary
/// file next to it, renamed at the end, so a crash never leaves half a file
/// under the final name; the temporary file is removed when `write` fails.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    if let Err(e) = write(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path)
}

/// A name's path, refused when empty, with a NUL or with `..` in it.
fn check_name(name: &str) -> Result<&Path, FileError> {
    let bad = |why| FileError::BadName {
        name: name.into(),
        why,
    };
    if name.is_empty() {
        return Err(bad("empty file name"));
    }
    if name.contains('\0') {
        return Err(bad("a NUL character in the file name"));
    }
    let path = Path::new(name);
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(bad("`..` is not allowed in file names"));
    }
    Ok(path)
}

/// Whether an absolute `path` is spelled under `root`, as configured or resolved.
fn under(path: &Path, root: &Path) -> bool {
    path.starts_with(root) || root.canonicalize().is_ok_and(|r| path.starts_with(r))
}

/// `path` with every link resolved, when it lies within `root` (also resolved).
fn within(path: &Path, root: &Path) -> Option<PathBuf> {
    let root = root.canonicalize().ok()?;
    let real = path.canonicalize().ok()?;
    real.starts_with(&root).then_some(real)
}

fn list(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Room {
        _dir: tempfile::TempDir,
        state: PathBuf,
        roots: FileRoots,
    }

    fn room() -> Room {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(state.join("rackd.db"), b"db").unwrap();
        let roots = FileRoots::new(
            &[PathBuf::from("sources"), PathBuf::from("prints")],
            Path::new("prints"),
            &state,
        );
        roots.create().unwrap();
        std::fs::write(state.join("sources/mix.wav"), b"RIFF").unwrap();
        Room {
            _dir: dir,
            state,
            roots,
        }
    }

    #[test]
    fn inputs_resolve_only_inside_the_input_directories() {
        let r = room();
        let found = r.roots.open_input("mix.wav").unwrap();
        assert_eq!(
            found.path,
            r.state.join("sources/mix.wav").canonicalize().unwrap()
        );
        let abs = r.state.join("sources/mix.wav");
        assert!(r.roots.open_input(abs.to_str().unwrap()).is_ok());
        for outside in ["/etc/passwd", "/tmp/mix.wav"] {
            let e = r.roots.open_input(outside).unwrap_err();
            assert!(matches!(e, FileError::Outside { .. }), "{outside}: {e}");
            assert!(e.to_string().contains("sources"), "{e}");
        }
        let e = r.roots.open_input("../rackd.db").unwrap_err();
        assert!(matches!(e, FileError::BadName { .. }), "{e}");
    }

    #[test]
    fn missing_unreadable_odd_and_linked_out_inputs_get_the_same_answer() {
        let r = room();
        let sources = r.state.join("sources");
        symlink("/etc/hostname", sources.join("link-out.wav")).unwrap();
        symlink(r.state.join("rackd.db"), sources.join("db.wav")).unwrap();
        std::fs::create_dir(sources.join("dir.wav")).unwrap();
        let fifo = sources.join("fifo.wav");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let answers: Vec<String> = [
            "missing.wav",
            "link-out.wav",
            "db.wav",
            "dir.wav",
            "fifo.wav",
        ]
        .iter()
        .map(|n| {
            let e = r.roots.open_input(n).unwrap_err();
            assert!(matches!(e, FileError::NotReadable { .. }), "{n}: {e}");
            e.to_string().replacen(n, "NAME", 1)
        })
        .collect();
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    }

    #[test]
    fn a_link_inside_the_directories_is_followed() {
        let r = room();
        symlink(
            r.state.join("sources/mix.wav"),
            r.state.join("prints/mix-link.wav"),
        )
        .unwrap();
        assert!(r.roots.open_input("mix-link.wav").is_ok());
    }

    #[test]
    fn outputs_go_only_under_the_output_directory_and_never_replace_unasked() {
        let r = room();
        let out = r.roots.output("master.wav", false).unwrap();
        out.write(|p| std::fs::write(p, b"one")).unwrap();
        let path = r.state.join("prints/master.wav");
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        let e = r.roots.output("master.wav", false).unwrap_err();
        assert!(matches!(e, FileError::Exists { .. }), "{e}");
        let again = r.roots.output("master.wav", true).unwrap();
        again.write(|p| std::fs::write(p, b"two")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        // Nothing else was left in the directory.
        let names: Vec<_> = std::fs::read_dir(r.state.join("prints"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![OsString::from("master.wav")]);

        let db = r.state.join("rackd.db");
        for name in [db.to_str().unwrap(), "/tmp/x.wav", "/etc/passwd"] {
            let e = r.roots.output(name, true).unwrap_err();
            assert!(matches!(e, FileError::Outside { .. }), "{name}: {e}");
        }
        assert_eq!(
            std::fs::read(&db).unwrap(),
            b"db",
            "the database is untouched"
        );
        let e = r.roots.output("nodir/x.wav", false).unwrap_err();
        assert!(matches!(e, FileError::NoDirectory { .. }), "{e}");
    }

    #[test]
    fn an_output_directory_equal_to_the_state_directory_still_protects_the_database() {
        let r = room();
        let roots = FileRoots::new(&[], Path::new("."), &r.state);
        for name in ["rackd.db", "rackd.db-wal"] {
            let e = roots.output(name, true).unwrap_err();
            assert!(matches!(e, FileError::Refused { .. }), "{name}: {e}");
        }
        assert_eq!(std::fs::read(r.state.join("rackd.db")).unwrap(), b"db");
    }

    #[test]
    fn links_in_the_way_or_out_are_refused() {
        let r = room();
        let prints = r.state.join("prints");
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path().join("target.wav"), prints.join("trap.wav")).unwrap();
        let e = r.roots.output("trap.wav", true).unwrap_err();
        assert!(matches!(e, FileError::Refused { .. }), "{e}");
        symlink(outside.path(), prints.join("away")).unwrap();
        let e = r.roots.output("away/x.wav", true).unwrap_err();
        assert!(matches!(e, FileError::NoDirectory { .. }), "{e}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let r = room();
        let out = r.roots.output("broken.wav", false).unwrap();
        let e = out
            .write(|_| Err(io::Error::other("encoder failed")))
            .unwrap_err();
        assert!(e.to_string().contains("encoder failed"), "{e}");
        assert_eq!(
            std::fs::read_dir(r.state.join("prints")).unwrap().count(),
            0
        );
    }
}
