//! The snapshot store: per-song, versioned recall snapshots in SQLite.
//!
//! Invariant 4 lives here: `save` returns only after its transaction is
//! durable (WAL, `synchronous=FULL`), and no API ever changes or removes a
//! revision. Triggers in the schema refuse `UPDATE` and `DELETE` on revisions,
//! so neither a bug elsewhere nor a stray `sqlite3` session can either.
//!
//! The API is blocking; the daemon calls it from one dedicated thread.

pub use rackd_protocol::api::{
    ExportedRevision, Health, ImportReport, RevisionInfo, SongExport, SongSummary, StoreHealth,
};
use rackd_protocol::param::Value;
use rackd_protocol::song::SongPath;
use rackd_protocol::state::RackState;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest note accepted, in characters, so notes stay readable in lists.
pub const MAX_NOTE_CHARS: usize = 1024;
/// Longest origin accepted, in characters (`ctl`, `osc:127.0.0.1:9000`, …).
pub const MAX_ORIGIN_CHARS: usize = 64;
/// The `format` field that marks a file as a rackd song export.
pub const EXPORT_FORMAT: &str = SongExport::FORMAT;
/// The export file version this build writes and reads.
pub const EXPORT_VERSION: u32 = SongExport::VERSION;
/// How long to wait for a lock held by another connection (e.g. a backup) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema migrations: entry `v` takes the database from `user_version` `v` to `v + 1`.
///
/// To change the schema, append a step; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: songs, immutable revisions, the autosaved live state.
    "CREATE TABLE songs (
         id   INTEGER PRIMARY KEY,
         path TEXT NOT NULL UNIQUE
     ) STRICT;
     CREATE TABLE revisions (
         song_id    INTEGER NOT NULL REFERENCES songs(id),
         rev        INTEGER NOT NULL CHECK (rev >= 1),
         saved_at   TEXT NOT NULL,
         note       TEXT NOT NULL,
         origin     TEXT NOT NULL,
         state_json TEXT NOT NULL,
         UNIQUE (song_id, rev)
     ) STRICT;
     CREATE TABLE current (
         id         INTEGER PRIMARY KEY CHECK (id = 1),
         state_json TEXT NOT NULL,
         saved_at   TEXT NOT NULL
     ) STRICT;
     CREATE TRIGGER revisions_no_update BEFORE UPDATE ON revisions
     BEGIN SELECT RAISE(ABORT, 'snapshot revisions are immutable'); END;
     CREATE TRIGGER revisions_no_delete BEFORE DELETE ON revisions
     BEGIN SELECT RAISE(ABORT, 'snapshot revisions are immutable'); END;
     CREATE TRIGGER songs_no_update BEFORE UPDATE ON songs
     BEGIN SELECT RAISE(ABORT, 'songs are immutable'); END;
     CREATE TRIGGER songs_no_delete BEFORE DELETE ON songs
     BEGIN SELECT RAISE(ABORT, 'songs are immutable'); END;",
];

/// WAL size (pages) at which SQLite checkpoints by itself, if idle checkpoints never ran.
const AUTO_CHECKPOINT_PAGES: i64 = 20_000;

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Why a store operation failed; each message tells the engineer what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The song, or the given revision of it, was never saved.
    #[error("{}", not_found_message(.song, .rev))]
    NotFound {
        /// The song asked for.
        song: SongPath,
        /// The revision asked for (`None`: any revision).
        rev: Option<u32>,
    },
    /// A stored row no longer parses (damaged file or edited by hand).
    #[error(
        "stored snapshot {song}{} is corrupt ({reason}); recall another revision or restore the database from a backup",
        rev_suffix(.rev)
    )]
    Corrupt {
        /// The song's path as stored (it may itself be the damaged part).
        song: String,
        /// The damaged revision, when known.
        rev: Option<u32>,
        /// What did not parse.
        reason: String,
    },
    /// The autosaved live state no longer parses.
    #[error(
        "the autosaved current state is corrupt ({reason}); recall a snapshot, the next autosave overwrites it"
    )]
    CorruptCurrent {
        /// What did not parse.
        reason: String,
    },
    /// A note that is too long or not a single line of text.
    #[error("{0}; nothing was saved")]
    InvalidNote(String),
    /// An origin that is too long or not a single line of text.
    #[error("{0}; nothing was saved")]
    InvalidOrigin(String),
    /// A state that cannot be stored faithfully (e.g. a NaN value).
    #[error("state refused, nothing was saved: {0}")]
    InvalidState(String),
    /// An export document that is not a valid rackd song export; nothing was stored.
    #[error("not a valid rackd song export, nothing was imported: {0}")]
    InvalidExport(String),
    /// The song has used every revision number.
    #[error(
        "song {song} has no revision numbers left; export it and import it under another song path"
    )]
    RevisionsExhausted {
        /// The full song.
        song: SongPath,
    },
    /// The database was written by a newer rackd.
    #[error(
        "snapshot database {} has schema version {found}, newer than version {supported} that this rackd understands; upgrade rackd or use another state directory",
        .path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// The database's directory could not be created.
    #[error(
        "snapshot database {}: {source}; check that the state directory exists and rackd may write to it",
        .path.display()
    )]
    Io {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The database file was removed or replaced by another file while rackd
    /// had it open: a save would go into a file nobody reads again.
    #[error(
        "snapshot database {} was {how} while rackd had it open; nothing was saved. Put the original back or restart rackd (`systemctl restart rackd`) to open the file that is there now",
        .path.display()
    )]
    Replaced {
        /// The database file.
        path: PathBuf,
        /// `removed` or `replaced by another file`.
        how: &'static str,
    },
    /// SQLite failed (permissions, full disk, damaged file, lock held too long).
    #[error(
        "snapshot database {}: {source}; check permissions and free disk space, or restore the file from a backup if it is damaged",
        .path.display()
    )]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// The store's health after this fault.
    pub fn health(&self) -> StoreHealth {
        StoreHealth {
            health: if self.is_read_only() {
                Health::ReadOnly
            } else {
                Health::Failing
            },
            error: Some(self.to_string()),
        }
    }

    /// Whether the store itself is in trouble (as opposed to a request it
    /// refused): these set the store's health.
    pub fn is_store_fault(&self) -> bool {
        matches!(
            self,
            StoreError::Io { .. } | StoreError::Sqlite { .. } | StoreError::Replaced { .. }
        )
    }

    /// Whether opening the database again may help: permissions or space
    /// that an admin can fix while rackd runs, a lock held too long.
    pub fn can_pass(&self) -> bool {
        use rusqlite::ErrorCode::*;
        match self {
            StoreError::Io { .. } => true,
            StoreError::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            } => matches!(
                e.code,
                ReadOnly
                    | CannotOpen
                    | PermissionDenied
                    | SystemIoFailure
                    | DiskFull
                    | DatabaseBusy
                    | DatabaseLocked
            ),
            _ => false,
        }
    }

    /// Whether it says the database cannot be written (permissions; a file
    /// that cannot be created in a directory rackd may not write to).
    pub fn is_read_only(&self) -> bool {
        use rusqlite::ErrorCode::*;
        match self {
            StoreError::Io { source, .. } => source.kind() == std::io::ErrorKind::PermissionDenied,
            StoreError::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, _),
                path,
            } => match e.code {
                ReadOnly | PermissionDenied => true,
                CannotOpen => path.parent().is_some_and(|dir| !writable(dir)),
                _ => false,
            },
            _ => false,
        }
    }
}

/// Message for [`StoreError::NotFound`], pointing at the command that shows what exists.
fn not_found_message(song: &SongPath, rev: &Option<u32>) -> String {
    match rev {
        None => {
            format!("no snapshot saved for song {song}; `rackd ctl list` shows the saved songs")
        }
        Some(rev) => format!(
            "song {song} has no revision {rev}; `rackd ctl history {song}` lists its revisions"
        ),
    }
}

/// `@REV` when a revision is known, for error messages.
fn rev_suffix(rev: &Option<u32>) -> String {
    rev.map(|r| format!("@{r}")).unwrap_or_default()
}

/// A revision with its full state, for recall and diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// Number, time, note, origin.
    pub info: RevisionInfo,
    /// Every parameter value as saved.
    pub state: RackState,
    /// This snapshot's recall safes (`DEVICE` or `DEVICE/PARAM`), left
    /// alone on its recall together with the config's.
    #[serde(default)]
    pub safes: Vec<String>,
}

/// Reads and validates an export file's text; errors say what is wrong with it.
pub fn parse_export(text: &str) -> Result<SongExport, StoreError> {
    let raw: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| StoreError::InvalidExport(format!("not JSON: {e}")))?;
    // Check format and version first so a foreign or newer file gets a clear answer.
    let format = raw.get("format").and_then(|f| f.as_str());
    if format != Some(EXPORT_FORMAT) {
        return Err(StoreError::InvalidExport(format!(
            "the \"format\" field is {}, expected \"{EXPORT_FORMAT}\"",
            format.map_or("missing".to_string(), |f| format!("{f:?}"))
        )));
    }
    match raw.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(EXPORT_VERSION) => {}
        Some(v) if v > u64::from(EXPORT_VERSION) => {
            return Err(StoreError::InvalidExport(format!(
                "export version {v} is newer than version {EXPORT_VERSION} that this rackd reads; upgrade rackd"
            )));
        }
        _ => {
            return Err(StoreError::InvalidExport(format!(
                "the \"version\" field must be {EXPORT_VERSION}"
            )));
        }
    }
    // Parse the text again (not the Value) so errors carry line and column.
    let doc: SongExport =
        serde_json::from_str(text).map_err(|e| StoreError::InvalidExport(e.to_string()))?;
    validate_export(&doc)?;
    Ok(doc)
}

/// The export as pretty JSON, for a file an engineer can read and diff.
pub fn export_json(doc: &SongExport) -> Result<String, StoreError> {
    serde_json::to_string_pretty(doc).map_err(|e| StoreError::InvalidState(e.to_string()))
}

/// Checks everything `import` relies on, before anything is written.
fn validate_export(doc: &SongExport) -> Result<(), StoreError> {
    let bad = |reason: String| StoreError::InvalidExport(reason);
    if doc.format != EXPORT_FORMAT {
        return Err(bad(format!(
            "format is {:?}, expected \"{EXPORT_FORMAT}\"",
            doc.format
        )));
    }
    if doc.version != EXPORT_VERSION {
        return Err(bad(format!(
            "version is {}, this rackd reads version {EXPORT_VERSION}",
            doc.version
        )));
    }
    if doc.revisions.is_empty() {
        return Err(bad("it has no revisions".to_string()));
    }
    let mut previous = 0;
    for r in &doc.revisions {
        let at = format!("revision {}", r.rev);
        if r.rev <= previous {
            return Err(bad(format!(
                "{at}: revision numbers must be positive and increasing"
            )));
        }
        previous = r.rev;
        if !is_timestamp(&r.saved_at) {
            return Err(bad(format!(
                "{at}: saved_at {:?} is not like 2026-11-23T21:04:05.123Z",
                r.saved_at
            )));
        }
        check_text("note", &r.note, MAX_NOTE_CHARS).map_err(|e| bad(format!("{at}: {e}")))?;
        check_text("origin", &r.origin, MAX_ORIGIN_CHARS).map_err(|e| bad(format!("{at}: {e}")))?;
        check_state(&r.state).map_err(|e| bad(format!("{at}: {e}")))?;
    }
    Ok(())
}

/// The snapshot store: one SQLite file, used from one thread.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Device and inode of the file opened, to notice it being replaced.
    file_id: Option<(u64, u64)>,
    /// What the last write (or checkpoint) did.
    health: StoreHealth,
}

/// Whether this process may create files in `dir`.
fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// Device and inode of `path`, `None` when it does not exist.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Internal error: SQLite errors get the database path attached at the public boundary.
enum Fail {
    Db(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Db(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

/// Attaches the database path to SQLite errors.
fn with_path<T>(path: &Path, result: Result<T, Fail>) -> Result<T, StoreError> {
    result.map_err(|fail| match fail {
        Fail::Db(source) => StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        },
        Fail::Store(e) => e,
    })
}

impl Store {
    /// Opens (or creates) the database, sets durability pragmas and brings the schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let conn = with_path(path, open_connection(path))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            file_id: file_id(path),
            health: StoreHealth::ok(),
        })
    }

    /// What the last write did: `ok`, or the fault that stopped it.
    pub fn health(&self) -> &StoreHealth {
        &self.health
    }

    /// The file at our path must still be the one we opened.
    fn check_file(&self) -> Result<(), StoreError> {
        match file_id(&self.path) {
            Some(id) if Some(id) == self.file_id => Ok(()),
            found => Err(StoreError::Replaced {
                path: self.path.clone(),
                how: if found.is_none() {
                    "removed"
                } else {
                    "replaced by another file"
                },
            }),
        }
    }

    /// Runs a write: the file must be ours before and after it, and the
    /// outcome sets the store's health.
    fn write<T>(
        &mut self,
        op: impl FnOnce(&mut Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = self
            .check_file()
            .and_then(|()| op(self))
            .and_then(|value| self.check_file().map(|()| value));
        match &result {
            Ok(_) => self.health = StoreHealth::ok(),
            Err(e) if e.is_store_fault() => self.health = e.health(),
            Err(_) => {}
        }
        result
    }

    /// Copies the WAL back into the database file; call when idle so that
    /// saves do not pay for it.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.write(|store| {
            store
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(|source| StoreError::Sqlite {
                    path: store.path.clone(),
                    source,
                })
        })
    }

    /// The database file, for log lines.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Saves `state` as the song's next revision; when this returns, the revision is durable.
    pub fn save(
        &mut self,
        song: &SongPath,
        note: &str,
        origin: &str,
        state: &RackState,
    ) -> Result<RevisionInfo, StoreError> {
        self.save_with_safes(song, note, origin, state, &[])
    }

    /// [`Store::save`] with the snapshot's own recall safes, stored with the
    /// state in the same column (revisions without safes are stored as before).
    pub fn save_with_safes(
        &mut self,
        song: &SongPath,
        note: &str,
        origin: &str,
        state: &RackState,
        safes: &[String],
    ) -> Result<RevisionInfo, StoreError> {
        check_text("note", note, MAX_NOTE_CHARS).map_err(StoreError::InvalidNote)?;
        check_text("origin", origin, MAX_ORIGIN_CHARS).map_err(StoreError::InvalidOrigin)?;
        check_state(state).map_err(StoreError::InvalidState)?;
        let state_json = stored_json(state, safes)?;
        let saved_at = now_timestamp();
        let rev = self.write(|store| {
            let result = (|| -> Result<u32, Fail> {
                let tx = store
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                let song_id = song_id_or_insert(&tx, song)?;
                let rev = next_rev(&tx, song_id, song)?;
                insert_revision(&tx, song_id, rev, &saved_at, note, origin, &state_json)?;
                tx.commit()?;
                Ok(rev)
            })();
            with_path(&store.path, result)
        })?;
        Ok(RevisionInfo {
            song: song.clone(),
            rev,
            saved_at,
            note: note.to_string(),
            origin: origin.to_string(),
        })
    }

    /// Loads a revision of a song, the latest when `rev` is `None`.
    pub fn load(&self, song: &SongPath, rev: Option<u32>) -> Result<Revision, StoreError> {
        const SELECT: &str = "SELECT r.rev, r.saved_at, r.note, r.origin, r.state_json
             FROM revisions r JOIN songs s ON s.id = r.song_id WHERE s.path = ?1";
        let result = (|| -> Result<Revision, Fail> {
            let row = match rev {
                None => self
                    .conn
                    .prepare_cached(&format!("{SELECT} ORDER BY r.rev DESC LIMIT 1"))?
                    .query_row(params![song.as_str()], raw_row::<5>)
                    .optional()?,
                Some(rev) => self
                    .conn
                    .prepare_cached(&format!("{SELECT} AND r.rev = ?2"))?
                    .query_row(params![song.as_str(), rev], raw_row::<5>)
                    .optional()?,
            };
            let [rev_v, saved_at, note, origin, state_json] = row.ok_or(StoreError::NotFound {
                song: song.clone(),
                rev,
            })?;
            let info = decode_info(song, rev_v, saved_at, note, origin)?;
            let (state, safes) = decode_stored(song.as_str(), info.rev, state_json)?;
            Ok(Revision { info, state, safes })
        })();
        with_path(&self.path, result)
    }

    /// Every revision of a song, oldest first (without states, which can be large).
    pub fn history(&self, song: &SongPath) -> Result<Vec<RevisionInfo>, StoreError> {
        let result = (|| -> Result<Vec<RevisionInfo>, Fail> {
            let rows = self
                .conn
                .prepare_cached(
                    "SELECT r.rev, r.saved_at, r.note, r.origin
                     FROM revisions r JOIN songs s ON s.id = r.song_id
                     WHERE s.path = ?1 ORDER BY r.rev",
                )?
                .query_map(params![song.as_str()], raw_row::<4>)?
                .collect::<Result<Vec<_>, _>>()?;
            if rows.is_empty() {
                return Err(StoreError::NotFound {
                    song: song.clone(),
                    rev: None,
                }
                .into());
            }
            let mut infos = Vec::with_capacity(rows.len());
            for [rev, saved_at, note, origin] in rows {
                infos.push(decode_info(song, rev, saved_at, note, origin)?);
            }
            Ok(infos)
        })();
        with_path(&self.path, result)
    }

    /// The songs under `prefix` (whole path parts: `client/album` does not match `client/albums`).
    pub fn list(&self, prefix: &str) -> Result<Vec<SongSummary>, StoreError> {
        let prefix = prefix.trim_end_matches('/');
        let result = (|| -> Result<Vec<SongSummary>, Fail> {
            // SQL narrows by text; `has_prefix` below decides, so both agree on part boundaries.
            let rows = self
                .conn
                .prepare_cached(
                    "SELECT s.path, COUNT(*), MAX(r.rev),
                        (SELECT saved_at FROM revisions WHERE song_id = s.id ORDER BY rev DESC LIMIT 1)
                     FROM songs s JOIN revisions r ON r.song_id = s.id
                     WHERE ?1 = '' OR s.path = ?1 OR substr(s.path, 1, length(?1) + 1) = ?1 || '/'
                     GROUP BY s.id ORDER BY s.path",
                )?
                .query_map(params![prefix], raw_row::<4>)?
                .collect::<Result<Vec<_>, _>>()?;
            let mut songs = Vec::with_capacity(rows.len());
            for [path, count, latest_rev, latest_at] in rows {
                let summary = decode_summary(path, count, latest_rev, latest_at)?;
                if summary.song.has_prefix(prefix) {
                    songs.push(summary);
                }
            }
            Ok(songs)
        })();
        with_path(&self.path, result)
    }

    /// The song with all its revisions, ready for [`SongExport::to_json_pretty`].
    pub fn export(&self, song: &SongPath) -> Result<SongExport, StoreError> {
        let result = (|| -> Result<SongExport, Fail> {
            let rows = self
                .conn
                .prepare_cached(
                    "SELECT r.rev, r.saved_at, r.note, r.origin, r.state_json
                     FROM revisions r JOIN songs s ON s.id = r.song_id
                     WHERE s.path = ?1 ORDER BY r.rev",
                )?
                .query_map(params![song.as_str()], raw_row::<5>)?
                .collect::<Result<Vec<_>, _>>()?;
            if rows.is_empty() {
                return Err(StoreError::NotFound {
                    song: song.clone(),
                    rev: None,
                }
                .into());
            }
            let mut revisions = Vec::with_capacity(rows.len());
            for [rev, saved_at, note, origin, state_json] in rows {
                let info = decode_info(song, rev, saved_at, note, origin)?;
                let (state, safes) = decode_stored(song.as_str(), info.rev, state_json)?;
                revisions.push(ExportedRevision {
                    rev: info.rev,
                    saved_at: info.saved_at,
                    note: info.note,
                    origin: info.origin,
                    state,
                    safes,
                });
            }
            Ok(SongExport {
                format: EXPORT_FORMAT.to_string(),
                version: EXPORT_VERSION,
                song: song.clone(),
                exported_at: now_timestamp(),
                revisions,
            })
        })();
        with_path(&self.path, result)
    }

    /// Adds an export's revisions; never touches existing ones, and skips revisions already here.
    ///
    /// A song new to this room gets the revisions exactly as exported (numbers,
    /// origins). For a song that exists, new revisions are appended with fresh
    /// numbers and the origin `import:<origin>@<rev>`; revisions with the same
    /// state, time and note as one already stored are skipped, so importing a
    /// file twice adds nothing. All or nothing: one transaction.
    pub fn import(&mut self, doc: &SongExport) -> Result<ImportReport, StoreError> {
        validate_export(doc)?;
        let mut states = Vec::with_capacity(doc.revisions.len());
        for r in &doc.revisions {
            states.push(stored_json(&r.state, &r.safes)?);
        }
        let song = &doc.song;
        self.write(|store| {
            let result = (|| -> Result<ImportReport, Fail> {
                let tx = store
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                let existing: Option<i64> = tx
                    .prepare_cached("SELECT id FROM songs WHERE path = ?1")?
                    .query_row(params![song.as_str()], |row| row.get(0))
                    .optional()?;
                let mut report = ImportReport {
                    song: song.clone(),
                    added: Vec::new(),
                    skipped: 0,
                };
                match existing {
                    None => {
                        let song_id = song_id_or_insert(&tx, song)?;
                        for (r, state_json) in doc.revisions.iter().zip(&states) {
                            insert_revision(
                                &tx,
                                song_id,
                                r.rev,
                                &r.saved_at,
                                &r.note,
                                &r.origin,
                                state_json,
                            )?;
                            report.added.push(r.rev);
                        }
                    }
                    Some(song_id) => {
                        for (r, state_json) in doc.revisions.iter().zip(&states) {
                            let present = tx
                                .prepare_cached(
                                    "SELECT 1 FROM revisions WHERE song_id = ?1
                                 AND saved_at = ?2 AND note = ?3 AND state_json = ?4",
                                )?
                                .exists(params![song_id, r.saved_at, r.note, state_json])?;
                            if present {
                                report.skipped += 1;
                                continue;
                            }
                            let rev = next_rev(&tx, song_id, song)?;
                            let origin = import_origin(&r.origin, r.rev);
                            insert_revision(
                                &tx,
                                song_id,
                                rev,
                                &r.saved_at,
                                &r.note,
                                &origin,
                                state_json,
                            )?;
                            report.added.push(rev);
                        }
                    }
                }
                tx.commit()?;
                Ok(report)
            })();
            with_path(&store.path, result)
        })
    }

    /// Overwrites the autosaved live state; durable when it returns, so a restart restores the room.
    pub fn save_current(&mut self, state: &RackState) -> Result<(), StoreError> {
        check_state(state).map_err(StoreError::InvalidState)?;
        let state_json = state_to_json(state)?;
        self.write(|store| {
            let result = (|| -> Result<(), Fail> {
                store
                    .conn
                    .prepare_cached(
                        "INSERT INTO current (id, state_json, saved_at) VALUES (1, ?1, ?2)
                         ON CONFLICT (id) DO UPDATE
                         SET state_json = excluded.state_json, saved_at = excluded.saved_at",
                    )?
                    .execute(params![state_json, now_timestamp()])?;
                Ok(())
            })();
            with_path(&store.path, result)
        })
    }

    /// The autosaved live state, `None` on a fresh database.
    pub fn load_current(&self) -> Result<Option<RackState>, StoreError> {
        let result = (|| -> Result<Option<RackState>, Fail> {
            let raw = self
                .conn
                .prepare_cached("SELECT state_json FROM current WHERE id = 1")?
                .query_row([], |row| row.get::<_, SqlValue>(0))
                .optional()?;
            let Some(raw) = raw else {
                return Ok(None);
            };
            let text = as_text(raw).ok_or_else(|| StoreError::CorruptCurrent {
                reason: "state is not text".to_string(),
            })?;
            let state = serde_json::from_str(&text).map_err(|e| StoreError::CorruptCurrent {
                reason: e.to_string(),
            })?;
            Ok(Some(state))
        })();
        with_path(&self.path, result)
    }
}

/// Opens the connection: refuses newer schemas, sets durability, runs migrations.
fn open_connection(path: &Path) -> Result<Connection, Fail> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Look before changing anything, so a newer rackd's file stays as it was.
    refuse_newer(&conn, path)?;
    // WAL keeps readers off the writer's back; FULL syncs the WAL on every
    // commit, which is what makes an acknowledged save survive power loss.
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    // Checkpoints run when the store is idle (Store::checkpoint); the automatic
    // one is only a backstop, so a save rarely pays for copying the WAL back.
    conn.pragma_update(None, "wal_autocheckpoint", AUTO_CHECKPOINT_PAGES)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = refuse_newer(&tx, path)?;
    if found < SCHEMA_VERSION {
        for step in &MIGRATIONS[found as usize..] {
            tx.execute_batch(step)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(conn)
}

/// The schema version, or `NewerSchema` when this build cannot read it.
fn refuse_newer(conn: &Connection, path: &Path) -> Result<u32, Fail> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    match u32::try_from(found) {
        Ok(v) if v <= SCHEMA_VERSION => Ok(v),
        _ => Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
            supported: SCHEMA_VERSION,
        }
        .into()),
    }
}

/// The song's row id, creating the row on its first save.
fn song_id_or_insert(tx: &Transaction, song: &SongPath) -> Result<i64, Fail> {
    tx.prepare_cached("INSERT INTO songs (path) VALUES (?1) ON CONFLICT (path) DO NOTHING")?
        .execute(params![song.as_str()])?;
    let id = tx
        .prepare_cached("SELECT id FROM songs WHERE path = ?1")?
        .query_row(params![song.as_str()], |row| row.get(0))?;
    Ok(id)
}

/// The next revision number for a song: highest so far plus one.
fn next_rev(tx: &Transaction, song_id: i64, song: &SongPath) -> Result<u32, Fail> {
    let max: SqlValue = tx
        .prepare_cached("SELECT MAX(rev) FROM revisions WHERE song_id = ?1")?
        .query_row(params![song_id], |row| row.get(0))?;
    let max = match max {
        SqlValue::Null => 0,
        other => as_rev(&other).ok_or_else(|| StoreError::Corrupt {
            song: song.to_string(),
            rev: None,
            reason: format!("highest revision number is {other:?}"),
        })?,
    };
    max.checked_add(1)
        .ok_or_else(|| StoreError::RevisionsExhausted { song: song.clone() }.into())
}

/// Inserts one revision row (the only write revisions ever get).
fn insert_revision(
    tx: &Transaction,
    song_id: i64,
    rev: u32,
    saved_at: &str,
    note: &str,
    origin: &str,
    state_json: &str,
) -> Result<(), Fail> {
    tx.prepare_cached(
        "INSERT INTO revisions (song_id, rev, saved_at, note, origin, state_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![song_id, rev, saved_at, note, origin, state_json])?;
    Ok(())
}

/// Origin of an imported revision appended to an existing song: where it came from, within the bound.
fn import_origin(origin: &str, rev: u32) -> String {
    const PREFIX: &str = "import:";
    let suffix = format!("@{rev}");
    let room = MAX_ORIGIN_CHARS - PREFIX.len() - suffix.len();
    let kept: String = origin.chars().take(room).collect();
    format!("{PREFIX}{kept}{suffix}")
}

/// Reads `N` columns as raw SQLite values, so damaged rows are judged by `decode_*`, not by a panic.
fn raw_row<const N: usize>(row: &rusqlite::Row) -> rusqlite::Result<[SqlValue; N]> {
    let mut values = [const { SqlValue::Null }; N];
    for (i, value) in values.iter_mut().enumerate() {
        *value = row.get(i)?;
    }
    Ok(values)
}

/// A text column's value, `None` if it holds anything else.
fn as_text(value: SqlValue) -> Option<String> {
    match value {
        SqlValue::Text(text) => Some(text),
        _ => None,
    }
}

/// A revision number column's value, `None` unless a positive 32-bit number.
fn as_rev(value: &SqlValue) -> Option<u32> {
    match value {
        SqlValue::Integer(i) => u32::try_from(*i).ok().filter(|r| *r > 0),
        _ => None,
    }
}

/// Builds a [`RevisionInfo`] from raw columns, reporting damage as [`StoreError::Corrupt`].
fn decode_info(
    song: &SongPath,
    rev: SqlValue,
    saved_at: SqlValue,
    note: SqlValue,
    origin: SqlValue,
) -> Result<RevisionInfo, StoreError> {
    let rev_n = as_rev(&rev).ok_or_else(|| StoreError::Corrupt {
        song: song.to_string(),
        rev: None,
        reason: format!("revision number is {rev:?}"),
    })?;
    let text = |value: SqlValue, what: &str| {
        as_text(value).ok_or_else(|| StoreError::Corrupt {
            song: song.to_string(),
            rev: Some(rev_n),
            reason: format!("{what} is not text"),
        })
    };
    Ok(RevisionInfo {
        song: song.clone(),
        rev: rev_n,
        saved_at: text(saved_at, "saved_at")?,
        note: text(note, "note")?,
        origin: text(origin, "origin")?,
    })
}

/// Parses a stored state and its recall safes (none in older revisions),
/// reporting damage as [`StoreError::Corrupt`] naming song and revision.
fn decode_stored(
    song: &str,
    rev: u32,
    state_json: SqlValue,
) -> Result<(RackState, Vec<String>), StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        song: song.to_string(),
        rev: Some(rev),
        reason,
    };
    let text = as_text(state_json).ok_or_else(|| corrupt("state is not text".to_string()))?;
    let mut raw: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| corrupt(format!("state does not parse: {e}")))?;
    let safes = match raw.as_object_mut().and_then(|o| o.remove("safes")) {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| corrupt(format!("recall safes do not parse: {e}")))?,
        None => Vec::new(),
    };
    let state =
        serde_json::from_value(raw).map_err(|e| corrupt(format!("state does not parse: {e}")))?;
    Ok((state, safes))
}

/// Builds a [`SongSummary`] from raw columns, reporting damage as [`StoreError::Corrupt`].
fn decode_summary(
    path: SqlValue,
    count: SqlValue,
    latest_rev: SqlValue,
    latest_at: SqlValue,
) -> Result<SongSummary, StoreError> {
    let raw_path = match &path {
        SqlValue::Text(text) => text.clone(),
        other => format!("{other:?}"),
    };
    let corrupt = |reason: String| StoreError::Corrupt {
        song: raw_path.clone(),
        rev: None,
        reason,
    };
    let song = SongPath::new(&raw_path).map_err(|e| corrupt(format!("bad song path: {e}")))?;
    let revisions =
        as_rev(&count).ok_or_else(|| corrupt(format!("revision count is {count:?}")))?;
    let latest_rev =
        as_rev(&latest_rev).ok_or_else(|| corrupt(format!("latest revision is {latest_rev:?}")))?;
    let latest_at =
        as_text(latest_at).ok_or_else(|| corrupt("latest saved_at is not text".to_string()))?;
    Ok(SongSummary {
        song,
        revisions,
        latest_rev,
        latest_at,
    })
}

/// Refuses text that would not read as one line in a list, or that is too long.
fn check_text(what: &str, text: &str, max_chars: usize) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(format!(
            "{what} is {chars} characters long; the limit is {max_chars}"
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(format!(
            "{what} contains a control character (newline, tab, …); use one line of plain text"
        ));
    }
    Ok(())
}

/// Refuses states JSON cannot hold faithfully: NaN and infinities would come back as `null`.
fn check_state(state: &RackState) -> Result<(), String> {
    for (address, value) in &state.values {
        if let Value::Float(f) = value {
            if !f.is_finite() {
                return Err(format!("{address} is {f}, not a finite number"));
            }
        }
    }
    Ok(())
}

/// The state as stored: compact JSON, keys in order (so equal states give equal text).
fn state_to_json(state: &RackState) -> Result<String, StoreError> {
    serde_json::to_string(state).map_err(|e| StoreError::InvalidState(e.to_string()))
}

/// A revision's stored text: the state, plus `"safes"` when it has any
/// (so a revision without safes is stored exactly as before they existed).
fn stored_json(state: &RackState, safes: &[String]) -> Result<String, StoreError> {
    if safes.is_empty() {
        return state_to_json(state);
    }
    let mut raw =
        serde_json::to_value(state).map_err(|e| StoreError::InvalidState(e.to_string()))?;
    if let Some(o) = raw.as_object_mut() {
        o.insert("safes".into(), serde_json::json!(safes));
    }
    serde_json::to_string(&raw).map_err(|e| StoreError::InvalidState(e.to_string()))
}

/// Now as RFC 3339 UTC with milliseconds, the form every stored time has.
fn now_timestamp() -> String {
    format_timestamp(SystemTime::now())
}

/// Formats a time as `2026-11-23T21:04:05.123Z` (times before 1970 read as 1970).
fn format_timestamp(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let in_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60,
        since_epoch.subsec_millis()
    )
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Whether `text` has the stored time form `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn is_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    let shape = b.len() == 24
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            23 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    // Only evaluated once the shape says these are two ASCII digits.
    let num = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    shape
        && (1..=12).contains(&num(5))
        && (1..=31).contains(&num(8))
        && num(11) < 24
        && num(14) < 60
        && num(17) < 61
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::Instant;

    fn song(path: &str) -> SongPath {
        SongPath::new(path).expect("valid test song path")
    }

    fn state(pairs: &[(&str, Value)]) -> RackState {
        RackState {
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    fn gain(db: f64) -> RackState {
        state(&[
            ("/chain/trim/gain", Value::Float(db)),
            ("/chain/trim/bypass", Value::Int(0)),
            ("/outboard/eq/mode", Value::Text("ms".into())),
        ])
    }

    fn fresh() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("state/rackd.db")).expect("open store");
        (dir, store)
    }

    #[test]
    fn snapshot_safes_are_stored_with_their_revision_only() {
        let (_dir, mut store) = fresh();
        let s = song("a/b");
        let safes = vec!["eq".to_string(), "fx/input".to_string()];
        store.save(&s, "", "t", &gain(-1.0)).unwrap();
        store
            .save_with_safes(&s, "", "t", &gain(-2.0), &safes)
            .unwrap();
        // A revision without safes is stored exactly as before safes existed.
        let plain: String = store
            .conn
            .query_row("SELECT state_json FROM revisions WHERE rev = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(plain, state_to_json(&gain(-1.0)).unwrap());
        assert!(store.load(&s, Some(1)).unwrap().safes.is_empty());
        let second = store.load(&s, None).unwrap();
        assert_eq!(second.safes, safes);
        assert_eq!(second.state, gain(-2.0));
        let export = store.export(&s).unwrap();
        assert_eq!(export.revisions[1].safes, safes);
        let (_dir2, mut other) = fresh();
        other.import(&export).unwrap();
        assert_eq!(other.load(&s, Some(2)).unwrap().safes, safes);
    }

    /// A second, raw connection to the same file, as a stray `sqlite3` session would have.
    fn raw(store: &Store) -> Connection {
        Connection::open(store.path()).expect("raw connection")
    }

    #[test]
    fn store_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Store>();
    }

    #[test]
    fn save_load_history_number_revisions_per_song() {
        let (_dir, mut store) = fresh();
        let a = song("client/album/01 intro");
        let b = song("client/album/02 outro");
        for (i, db) in [-1.0, -2.5, -3.5].into_iter().enumerate() {
            let info = store
                .save(&a, &format!("take {i}"), "ctl", &gain(db))
                .unwrap();
            assert_eq!(info.rev, i as u32 + 1);
            assert!(is_timestamp(&info.saved_at), "{}", info.saved_at);
        }
        assert_eq!(
            store
                .save(&b, "", "osc:127.0.0.1:9000", &gain(0.0))
                .unwrap()
                .rev,
            1
        );

        let latest = store.load(&a, None).unwrap();
        assert_eq!(latest.info.rev, 3);
        assert_eq!(latest.state, gain(-3.5));
        let second = store.load(&a, Some(2)).unwrap();
        assert_eq!(second.state, gain(-2.5));
        assert_eq!(second.info.note, "take 1");

        let history = store.history(&a).unwrap();
        assert_eq!(history.iter().map(|i| i.rev).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(history[0].note, "take 0");
        assert_eq!(history[2], latest.info);
        assert_eq!(store.history(&b).unwrap()[0].origin, "osc:127.0.0.1:9000");
    }

    #[test]
    fn not_found_names_song_and_revision() {
        let (_dir, mut store) = fresh();
        let a = song("client/album/01 intro");
        match store.load(&a, None) {
            Err(e @ StoreError::NotFound { rev: None, .. }) => {
                assert!(e.to_string().contains("client/album/01 intro"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        store.save(&a, "", "ctl", &gain(0.0)).unwrap();
        match store.load(&a, Some(9)) {
            Err(e @ StoreError::NotFound { rev: Some(9), .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("client/album/01 intro") && msg.contains("revision 9"),
                    "{msg}"
                );
            }
            other => panic!("{other:?}"),
        }
        let other = song("nobody/else");
        assert!(matches!(
            store.history(&other),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.export(&other),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn list_respects_part_boundaries() {
        let (_dir, mut store) = fresh();
        for path in [
            "client/album/01",
            "client/album/02",
            "client/albumx/01",
            "other/x",
        ] {
            store.save(&song(path), "", "ctl", &gain(0.0)).unwrap();
        }
        store
            .save(&song("client/album/02"), "", "ctl", &gain(1.0))
            .unwrap();
        let names = |prefix: &str| -> Vec<String> {
            store
                .list(prefix)
                .unwrap()
                .into_iter()
                .map(|s| s.song.to_string())
                .collect()
        };
        assert_eq!(
            names("client/album"),
            ["client/album/01", "client/album/02"]
        );
        assert_eq!(
            names("client/album/"),
            ["client/album/01", "client/album/02"]
        );
        assert_eq!(names("client/album/01"), ["client/album/01"]);
        assert!(names("client/alb").is_empty());
        assert!(names("nothing").is_empty());
        assert_eq!(names("").len(), 4);
        let second = &store.list("client/album/02").unwrap()[0];
        assert_eq!((second.revisions, second.latest_rev), (2, 2));
        assert_eq!(
            second.latest_at,
            store
                .load(&song("client/album/02"), None)
                .unwrap()
                .info
                .saved_at
        );
    }

    #[test]
    fn revisions_are_immutable_even_to_raw_sql() {
        let (_dir, mut store) = fresh();
        let a = song("a/b");
        store.save(&a, "keep me", "ctl", &gain(-1.0)).unwrap();
        let conn = raw(&store);
        for sql in [
            "UPDATE revisions SET note = 'changed'",
            "UPDATE revisions SET state_json = '{}'",
            "DELETE FROM revisions",
            "UPDATE songs SET path = 'x/y'",
            "DELETE FROM songs",
        ] {
            let err = conn.execute(sql, []).expect_err(sql);
            assert!(err.to_string().contains("immutable"), "{sql}: {err}");
        }
        let r = store.load(&a, None).unwrap();
        assert_eq!((r.info.note.as_str(), r.state), ("keep me", gain(-1.0)));
    }

    #[test]
    fn bad_note_origin_or_state_is_refused_and_nothing_stored() {
        let (_dir, mut store) = fresh();
        let a = song("a/b");
        let long_note = "n".repeat(MAX_NOTE_CHARS + 1);
        assert!(matches!(
            store.save(&a, &long_note, "ctl", &gain(0.0)),
            Err(StoreError::InvalidNote(_))
        ));
        assert!(matches!(
            store.save(&a, "two\nlines", "ctl", &gain(0.0)),
            Err(StoreError::InvalidNote(_))
        ));
        assert!(matches!(
            store.save(&a, "tab\there", "ctl", &gain(0.0)),
            Err(StoreError::InvalidNote(_))
        ));
        let long_origin = "o".repeat(MAX_ORIGIN_CHARS + 1);
        assert!(matches!(
            store.save(&a, "", &long_origin, &gain(0.0)),
            Err(StoreError::InvalidOrigin(_))
        ));
        assert!(matches!(
            store.save(&a, "", "ctl", &gain(f64::NAN)),
            Err(StoreError::InvalidState(_))
        ));
        assert!(matches!(
            store.save_current(&gain(f64::INFINITY)),
            Err(StoreError::InvalidState(_))
        ));
        assert!(matches!(
            store.history(&a),
            Err(StoreError::NotFound { .. })
        ));
        // The limits themselves are fine, counted in characters, not bytes.
        let max_note = "é".repeat(MAX_NOTE_CHARS);
        assert_eq!(
            store
                .save(&a, &max_note, &"o".repeat(MAX_ORIGIN_CHARS), &gain(0.0))
                .unwrap()
                .rev,
            1
        );
    }

    #[test]
    fn floats_come_back_bit_exact() {
        let (_dir, mut store) = fresh();
        let a = song("floats");
        let values = [
            -3.5,
            0.1 + 0.2,
            -0.0,
            1e-300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            19_999.99,
        ];
        let s = RackState {
            values: values
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("/p{i}"), Value::Float(*v)))
                .collect(),
        };
        store.save(&a, "", "ctl", &s).unwrap();
        let back = store.load(&a, None).unwrap().state;
        for (i, v) in values.iter().enumerate() {
            match back.values.get(&format!("/p{i}")) {
                Some(Value::Float(f)) => assert_eq!(f.to_bits(), v.to_bits(), "{v}"),
                other => panic!("{v}: {other:?}"),
            }
        }
    }

    #[test]
    fn export_import_round_trip_into_fresh_database() {
        let (_dir, mut source) = fresh();
        let a = song("client/album/03 song");
        source.save(&a, "first", "ctl", &gain(-1.0)).unwrap();
        source
            .save(&a, "second — ü", "osc:10.0.0.2:9000", &gain(-2.0))
            .unwrap();
        let doc = source.export(&a).unwrap();
        assert_eq!(
            (doc.format.as_str(), doc.version),
            (EXPORT_FORMAT, EXPORT_VERSION)
        );
        let text = export_json(&doc).unwrap();
        assert!(
            text.contains("\n  \"revisions\": ["),
            "pretty JSON:\n{text}"
        );
        let parsed = parse_export(&text).unwrap();
        assert_eq!(parsed, doc);

        let (_dir2, mut target) = fresh();
        let report = target.import(&parsed).unwrap();
        assert_eq!(
            report,
            ImportReport {
                song: a.clone(),
                added: vec![1, 2],
                skipped: 0
            }
        );
        let again = target.export(&a).unwrap();
        assert_eq!(
            again.revisions, doc.revisions,
            "a new song is copied exactly"
        );
    }

    #[test]
    fn import_twice_adds_nothing_and_appends_only_new_revisions() {
        let (_dir, mut room1) = fresh();
        let a = song("client/album/03 song");
        room1.save(&a, "first", "ctl", &gain(-1.0)).unwrap();
        room1.save(&a, "second", "ctl", &gain(-2.0)).unwrap();
        let doc = room1.export(&a).unwrap();

        // Back into the room it came from: everything is already there.
        let report = room1.import(&doc).unwrap();
        assert_eq!((report.added.len(), report.skipped), (0, 2));

        let (_dir2, mut room2) = fresh();
        room2.import(&doc).unwrap();
        let report = room2.import(&doc).unwrap();
        assert_eq!((report.added.len(), report.skipped), (0, 2));
        assert_eq!(room2.history(&a).unwrap().len(), 2);

        // Both rooms move on; room 1's new work arrives in room 2 as new revisions.
        room2.save(&a, "room 2 tweak", "ctl", &gain(-2.2)).unwrap();
        let room2_before = room2.export(&a).unwrap().revisions;
        let r3 = room1.save(&a, "third", "osc:mixer", &gain(-3.0)).unwrap();
        let report = room2.import(&room1.export(&a).unwrap()).unwrap();
        assert_eq!((report.added, report.skipped), (vec![4], 2));
        let after = room2.export(&a).unwrap().revisions;
        assert_eq!(after[..3], room2_before[..], "existing revisions untouched");
        let imported = &after[3];
        assert_eq!(imported.rev, 4);
        assert_eq!(imported.origin, "import:osc:mixer@3");
        assert_eq!(
            (imported.saved_at.as_str(), imported.note.as_str()),
            (r3.saved_at.as_str(), "third")
        );
        assert_eq!(imported.state, gain(-3.0));
    }

    #[test]
    fn import_origin_stays_within_bound() {
        let long = "x".repeat(MAX_ORIGIN_CHARS);
        let origin = import_origin(&long, u32::MAX);
        assert_eq!(origin.chars().count(), MAX_ORIGIN_CHARS);
        assert!(origin.starts_with("import:xx") && origin.ends_with("@4294967295"));
        assert_eq!(import_origin("ctl", 2), "import:ctl@2");
    }

    #[test]
    fn bad_exports_are_refused_and_nothing_stored_is_touched() {
        let (_dir, mut store) = fresh();
        let a = song("client/album/03 song");
        store.save(&a, "first", "ctl", &gain(-1.0)).unwrap();
        let good = store.export(&a).unwrap();
        let good_json: serde_json::Value =
            serde_json::from_str(&export_json(&good).unwrap()).unwrap();
        let before = (store.export(&a).unwrap().revisions, store.list("").unwrap());

        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good_json.clone();
            f(&mut v);
            v.to_string()
        };
        let cases: Vec<(&str, String)> = vec![
            ("not JSON", "{ nope".to_string()),
            ("format", edit(&|v| v["format"] = "something-else".into())),
            (
                "format",
                edit(&|v| {
                    v.as_object_mut()
                        .unwrap()
                        .remove("format")
                        .map(drop)
                        .unwrap_or(())
                }),
            ),
            ("newer", edit(&|v| v["version"] = 2.into())),
            ("version", edit(&|v| v["version"] = 0.into())),
            ("..", edit(&|v| v["song"] = "../etc/passwd".into())),
            (
                "no revisions",
                edit(&|v| v["revisions"] = serde_json::json!([])),
            ),
            (
                "note",
                edit(&|v| v["revisions"][0]["note"] = "n".repeat(MAX_NOTE_CHARS + 1).into()),
            ),
            (
                "control",
                edit(&|v| v["revisions"][0]["note"] = "a\u{7}b".into()),
            ),
            (
                "origin",
                edit(&|v| v["revisions"][0]["origin"] = "o".repeat(MAX_ORIGIN_CHARS + 1).into()),
            ),
            (
                "saved_at",
                edit(&|v| v["revisions"][0]["saved_at"] = "yesterday".into()),
            ),
            ("increasing", edit(&|v| v["revisions"][0]["rev"] = 0.into())),
            (
                "increasing",
                edit(&|v| {
                    let first = v["revisions"][0].clone();
                    v["revisions"].as_array_mut().unwrap().push(first);
                }),
            ),
            (
                "values",
                edit(&|v| v["revisions"][0]["state"]["values"] = serde_json::json!([1, 2])),
            ),
        ];
        for (what, text) in &cases {
            match parse_export(text) {
                Err(StoreError::InvalidExport(reason)) => {
                    let lower = reason.to_lowercase();
                    let hint = match *what {
                        "newer" => "newer",
                        "no revisions" => "no revisions",
                        "control" => "control",
                        "values" => "line",
                        other => other,
                    };
                    assert!(lower.contains(&hint.to_lowercase()), "{what}: {reason}");
                }
                other => panic!("{what}: accepted or wrong error: {other:?}"),
            }
        }

        // A document built in memory is checked by import itself.
        let mut bad = good.clone();
        bad.revisions[0]
            .state
            .values
            .insert("/x".into(), Value::Float(f64::NAN));
        bad.revisions.insert(0, good.revisions[0].clone());
        bad.revisions[0].note = "fresh".into();
        assert!(matches!(
            store.import(&bad),
            Err(StoreError::InvalidExport(_))
        ));
        let mut other_song = bad.clone();
        other_song.song = song("new/song");
        assert!(matches!(
            store.import(&other_song),
            Err(StoreError::InvalidExport(_))
        ));

        assert_eq!(
            (store.export(&a).unwrap().revisions, store.list("").unwrap()),
            before
        );
    }

    #[test]
    fn current_state_round_trips_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rackd.db");
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.load_current().unwrap(), None);
        store.save_current(&gain(-1.0)).unwrap();
        store.save_current(&gain(-4.5)).unwrap();
        assert_eq!(store.load_current().unwrap(), Some(gain(-4.5)));
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.load_current().unwrap(), Some(gain(-4.5)));
    }

    #[test]
    fn reopen_keeps_everything_with_durable_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rackd.db");
        let a = song("x/y");
        let mut store = Store::open(&path).unwrap();
        store.save(&a, "one", "ctl", &gain(1.0)).unwrap();
        store.save(&a, "two", "ctl", &gain(2.0)).unwrap();
        let history = store.history(&a).unwrap();
        drop(store);

        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.history(&a).unwrap(), history);
        assert_eq!(store.save(&a, "three", "ctl", &gain(3.0)).unwrap().rev, 3);
        let pragma = |name: &str| -> String {
            store
                .conn
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, SqlValue>(0))
                .map(|v| format!("{v:?}"))
                .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
        assert_eq!(pragma("synchronous"), "Integer(2)", "FULL");
        assert_eq!(pragma("foreign_keys"), "Integer(1)");
        assert_eq!(pragma("user_version"), format!("Integer({SCHEMA_VERSION})"));
    }

    #[test]
    fn newer_schema_is_refused_without_touching_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rackd.db");
        drop(Store::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        match Store::open(&path) {
            Err(e @ StoreError::NewerSchema { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("upgrade rackd") && msg.contains("rackd.db"),
                    "{msg}"
                );
            }
            other => panic!("{other:?}"),
        }
        let version: u32 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION + 1);
    }

    #[test]
    fn a_file_that_is_not_a_database_gives_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.db");
        std::fs::write(
            &path,
            "this is not SQLite, just some text that is long enough ".repeat(20),
        )
        .unwrap();
        match Store::open(&path) {
            Err(e @ StoreError::Sqlite { .. }) => {
                assert!(e.to_string().contains("notes.db"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn damaged_rows_are_reported_as_corrupt() {
        let (_dir, mut store) = fresh();
        let a = song("a/b");
        store.save(&a, "good", "ctl", &gain(0.0)).unwrap();
        let conn = raw(&store);
        conn.execute(
            "INSERT INTO revisions (song_id, rev, saved_at, note, origin, state_json)
             SELECT id, 2, '2026-01-01T00:00:00.000Z', '', 'hand', '{not json' FROM songs",
            [],
        )
        .unwrap();
        match store.load(&a, None) {
            Err(e @ StoreError::Corrupt { rev: Some(2), .. }) => {
                assert!(e.to_string().contains("a/b@2"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(store.load(&a, Some(1)).unwrap().info.note, "good");
        assert_eq!(store.history(&a).unwrap().len(), 2);
        assert!(matches!(store.export(&a), Err(StoreError::Corrupt { .. })));

        store.save_current(&gain(0.0)).unwrap();
        conn.execute("UPDATE current SET state_json = '[1]'", [])
            .unwrap();
        assert!(matches!(
            store.load_current(),
            Err(StoreError::CorruptCurrent { .. })
        ));
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        let at = |secs: u64, ms: u64| {
            format_timestamp(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(1_795_467_845, 123), "2026-11-23T21:04:05.123Z");
        assert_eq!(at(1_709_251_199, 999), "2024-02-29T23:59:59.999Z");
        assert_eq!(at(951_868_800, 0), "2000-03-01T00:00:00.000Z");
        assert_eq!(at(951_868_799, 0), "2000-02-29T23:59:59.000Z");
        assert!(is_timestamp(&now_timestamp()));
        for bad in [
            "",
            "2026-11-23T21:04:05Z",
            "2026-13-23T21:04:05.123Z",
            "2026-11-23 21:04:05.123Z",
            "2026-11-23T21:04:05.123+00:00",
        ] {
            assert!(!is_timestamp(bad), "{bad}");
        }
    }

    // ---- The crash test: a loop of saves killed with SIGKILL at random moments ----

    /// Names the database the child half of the crash test saves into; unset, the child does nothing.
    const CRASH_CHILD_ENV: &str = "RACKD_STORE_CRASH_CHILD";
    /// Songs the crash child saves to (one with a space, as real song paths have).
    const CRASH_SONGS: [&str; 3] = ["crash/a", "crash/b/01 intro", "crash/c"];

    /// Small xorshift generator, so the crash test needs no `rand`.
    struct XorShift(u64);

    impl XorShift {
        fn seeded() -> Self {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos() as u64;
            XorShift((nanos ^ (u64::from(std::process::id()) << 32)) | 1)
        }

        fn below(&mut self, n: u64) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x % n
        }
    }

    /// A state of 10..2000 parameters, with floats such as knobs hold (two decimals).
    fn random_state(rng: &mut XorShift) -> RackState {
        let n = 10 + rng.below(1991);
        let values = (0..n)
            .map(|i| {
                let value = match rng.below(3) {
                    0 => Value::Int(rng.below(100) as i64 - 50),
                    1 => Value::Float((rng.below(400_001) as f64 - 200_000.0) / 100.0),
                    _ => Value::Text(format!("label {}", rng.below(8))),
                };
                (format!("/chain/slot{}/p{i}", i / 16), value)
            })
            .collect();
        RackState { values }
    }

    /// FNV-1a of a state's stored JSON: what the child acknowledged, compared after each kill.
    fn state_hash(state: &RackState) -> u64 {
        fnv1a(&state_to_json(state).expect("state serializes"))
    }

    /// FNV-1a, 64 bits: enough to tell states apart in the crash test.
    fn fnv1a(text: &str) -> u64 {
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }

    /// One line to the parent, in a single write (atomic on a pipe), so a kill never cuts it.
    fn tell_parent(line: &str) {
        let mut err = std::io::stderr().lock();
        err.write_all(format!("{line}\n").as_bytes())
            .expect("write to parent");
        err.flush().expect("flush to parent");
    }

    /// Child half of `kill9_during_saves_never_loses_an_acknowledged_revision`:
    /// the parent runs that same test again in a child process with
    /// `CRASH_CHILD_ENV` naming the database (so this is not a test of its
    /// own). It saves random states until killed (at most a minute, so an
    /// orphan cannot run forever), and after each save returns tells the
    /// parent `ack <song> <rev> <hash>` on stderr.
    fn crash_child(db: &std::ffi::OsStr) {
        let mut store = Store::open(Path::new(db)).expect("child opens the store");
        let mut rng = XorShift::seeded();
        tell_parent("ready");
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let path = CRASH_SONGS[rng.below(CRASH_SONGS.len() as u64) as usize];
            let state = random_state(&mut rng);
            let info = store
                .save(&song(path), "crash test", "crash-child", &state)
                .expect("save");
            tell_parent(&format!(
                "ack {path} {} {:016x}",
                info.rev,
                state_hash(&state)
            ));
        }
    }

    #[test]
    fn kill9_during_saves_never_loses_an_acknowledged_revision() {
        if let Some(db) = std::env::var_os(CRASH_CHILD_ENV) {
            crash_child(&db);
            return;
        }
        const ROUNDS: usize = 30;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crash.db");
        let exe = std::env::current_exe().unwrap();
        // Test names are module paths without the crate name.
        let module = module_path!()
            .split_once("::")
            .map_or(module_path!(), |(_, rest)| rest);
        let child_test =
            format!("{module}::kill9_during_saves_never_loses_an_acknowledged_revision");
        let mut rng = XorShift::seeded();
        let mut acked: BTreeMap<(String, u32), u64> = BTreeMap::new();

        for round in 0..ROUNDS {
            let mut child = Command::new(&exe)
                .args([
                    child_test.as_str(),
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CRASH_CHILD_ENV, &db)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let stderr = child.stderr.take().unwrap();
            let (tx, rx) = mpsc::channel();
            let reader = std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });

            let mut lines = Vec::new();
            loop {
                match rx.recv_timeout(Duration::from_secs(30)) {
                    Ok(line) => {
                        let ready = line == "ready";
                        lines.push(line);
                        if ready {
                            break;
                        }
                    }
                    Err(_) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        panic!("round {round}: child never got ready: {lines:?}");
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(1 + rng.below(200)));
            // Child::kill sends SIGKILL to exactly this child; it is not reaped
            // until the wait below, so its pid cannot belong to anything else.
            child.kill().unwrap();
            let status = child.wait().unwrap();
            reader.join().unwrap();
            lines.extend(rx.try_iter());
            assert_eq!(
                status.signal(),
                Some(libc::SIGKILL),
                "round {round}: the child stopped by itself ({status}): {lines:?}"
            );

            for line in &lines {
                let Some(rest) = line.strip_prefix("ack ") else {
                    continue;
                };
                let mut fields = rest.rsplitn(3, ' ');
                let (Some(hash), Some(rev), Some(path)) =
                    (fields.next(), fields.next(), fields.next())
                else {
                    panic!("bad ack line {line:?}");
                };
                let key = (path.to_string(), rev.parse::<u32>().unwrap());
                let hash = u64::from_str_radix(hash, 16).unwrap();
                assert!(
                    acked.insert(key, hash).is_none(),
                    "revision acknowledged twice: {line}"
                );
            }

            let check = Connection::open(&db).unwrap();
            let integrity: String = check
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(integrity, "ok", "round {round}");
            // Each round compares the stored bytes (cheap); the end of the test goes through `load`.
            let stored: BTreeMap<(String, u32), u64> = check
                .prepare(
                    "SELECT s.path, r.rev, r.state_json
                     FROM revisions r JOIN songs s ON s.id = r.song_id",
                )
                .unwrap()
                .query_map([], |r| {
                    Ok(((r.get(0)?, r.get(1)?), fnv1a(&r.get::<_, String>(2)?)))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            drop(check);
            for (key, hash) in &acked {
                assert_eq!(
                    stored.get(key),
                    Some(hash),
                    "round {round}: acknowledged {key:?} lost or changed"
                );
            }
            for path in CRASH_SONGS {
                let revs: Vec<u32> = stored
                    .keys()
                    .filter(|(p, _)| p == path)
                    .map(|(_, r)| *r)
                    .collect();
                let expected: Vec<u32> = (1..=revs.len() as u32).collect();
                assert_eq!(revs, expected, "round {round}: {path}");
            }
            // Opening runs recovery and the schema check, as the restarted daemon would.
            drop(Store::open(&db).unwrap());
        }

        let store = Store::open(&db).unwrap();
        for ((path, rev), hash) in &acked {
            let r = store
                .load(&song(path), Some(*rev))
                .unwrap_or_else(|e| panic!("acknowledged {path}@{rev} does not load: {e}"));
            assert_eq!(state_hash(&r.state), *hash, "{path}@{rev} changed");
        }
        assert!(
            acked.len() >= ROUNDS,
            "only {} saves acknowledged; the test did not exercise the store",
            acked.len()
        );
    }
}
